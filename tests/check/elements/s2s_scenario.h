/* A harness scenario for either analysis element that checks the
 * invariants of docs/reliability.md, whatever the scenario does:
 *
 *   I1  every buffer accepted with GST_FLOW_OK comes out exactly once, in
 *       order (s2s_scenario_check with S2S_EXPECT_ALL), or, where a flush or
 *       a downstream error may drop some, what comes out is an in-order
 *       subsequence of what went in, with nothing invented or duplicated
 *       (S2S_EXPECT_SUBSEQUENCE);
 *   I2  PTS, DTS, duration, offsets, flags and other metas of each buffer
 *       come out unchanged;
 *   I3  serialized events keep their place among the buffers; nothing comes
 *       after EOS; the summary message comes before EOS;
 *   I4  exactly the expected number of WARNING and ERROR messages, each from
 *       the element, with a debug text saying more (set expect_warnings /
 *       expect_errors); g_critical is fatal in gstcheck already;
 *   I5  after teardown the element is finalized, and once the last open
 *       scenario is freed the leaks tracer (when GST_TRACERS=leaks) sees no
 *       object or mini object created since the first one opened still alive;
 *   I6  every result (meta and message) carries a status, and a reason when
 *       the status is not "ok"; meta and message agree.
 *
 * Buffers are identified at the sink by a GstReferenceTimestampMeta the
 * scenario adds (caps "timestamp/x-s2s-test-seq"), which also shows that
 * metas survive the element. */
#pragma once

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

typedef struct
{
  const gchar *factory;         /* "s2smetrics" or "musiqscore" */
  const gchar *meta_name;       /* its custom meta */
  const gchar *summary_name;    /* its EOS summary message */
  gboolean pairs;               /* results compare frame t with t-1 */
  gchar *base_props;            /* properties every scenario sets */
} S2sElementDesc;

/* The elements this build can test: s2smetrics always, musiqscore when
 * registered and S2S_MUSIQ_WEIGHTS names its test weights. */
guint s2s_n_elements (void);
const S2sElementDesc *s2s_element (guint i);

typedef enum
{
  S2S_EXPECT_ALL,
  S2S_EXPECT_SUBSEQUENCE,
} S2sExpect;

typedef struct _S2sScenario S2sScenario;

struct _S2sScenario
{
  const S2sElementDesc *desc;
  GstHarness *h;
  GstElement *element;          /* owned by the harness */
  GstBus *bus;
  /* Exact counts of WARNING / ERROR messages checked at free; -1: any. */
  gint expect_warnings;
  gint expect_errors;
  /* Private: see s2s_scenario.c. */
  gpointer priv;
};

/* Sets "name=value name=value" properties (NULL: none). No Check
 * assertions, so it also serves before Check forks. */
void s2s_set_properties (GstElement * e, const gchar * props);

/* A harness around desc's element with its base properties and `props`
 * ("name=value name=value", may be NULL). */
S2sScenario *s2s_scenario_new (const S2sElementDesc * desc, const gchar * props);

/* A caps event; returns what the element returned. */
gboolean s2s_scenario_push_caps (S2sScenario * sc, const gchar * caps);
/* stream-start, caps, a TIME segment. */
void s2s_scenario_start (S2sScenario * sc, const gchar * caps);

/* Tags a buffer with the next sequence number (so a test can keep a ref to
 * the exact buffer it pushes); s2s_scenario_push tags untagged ones. */
GstBuffer *s2s_scenario_tag (S2sScenario * sc, GstBuffer * buffer);
/* Pushes (and records) a buffer; returns the flow. */
GstFlowReturn s2s_scenario_push (S2sScenario * sc, GstBuffer * buffer);
/* Pushes (and records) an event; returns what the element returned. */
gboolean s2s_scenario_push_event (S2sScenario * sc, GstEvent * event);

/* A frame of `caps` (format, width, height) with deterministic content of
 * `seed`, PTS/duration of frame `i` at 30/1 and OFFSET i. */
GstBuffer *s2s_make_frame (const gchar * caps, guint seed, guint i);
/* The same, with every plane's stride padded by `pad` bytes and the padding
 * filled with `sentinel` (with a GstVideoMeta giving the strides). */
GstBuffer *s2s_make_padded_frame (const gchar * caps, guint seed, guint i, guint pad,
    guint8 sentinel);

/* Pushes frames i = first .. first + n - 1 with seed i; each must be
 * accepted with GST_FLOW_OK. */
void s2s_scenario_push_frames (S2sScenario * sc, const gchar * caps, guint first, guint n);

/* Downstream returns `flow` for every buffer from output buffer index
 * `from_out` on (-1: accept again). */
void s2s_scenario_fail_downstream (S2sScenario * sc, gint from_out, GstFlowReturn flow);

/* Checks I1-I3 and I6 on everything so far. */
void s2s_scenario_check (S2sScenario * sc, S2sExpect expect);

/* Buffers / results seen at the sink so far. */
guint s2s_scenario_n_out (S2sScenario * sc);
/* The result meta of the k-th output buffer (a copy to free), or NULL. */
GstStructure *s2s_scenario_out_result (S2sScenario * sc, guint k);
/* Per-frame result messages so far (borrowed) and summaries. */
GPtrArray *s2s_scenario_messages (S2sScenario * sc);
guint s2s_scenario_n_summaries (S2sScenario * sc);
/* The text of the warnings and errors so far. */
const gchar *s2s_scenario_problems (S2sScenario * sc);

/* Tears down and checks I4 and I5. */
void s2s_scenario_free (S2sScenario * sc);

G_END_DECLS
