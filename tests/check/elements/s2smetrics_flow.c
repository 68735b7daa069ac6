/* Data-flow tests of s2smetrics (and so of the GstS2sAnalyzer base class):
 * batching, events kept in place, draining, chain resets, the batch timeout
 * and LATENCY, negotiation, state changes, downstream flow errors, buffers
 * without timestamps, gap buffers and shared input buffers; and how held
 * frames meet upstream buffer pools (DRAIN and ALLOCATION queries).
 *
 * Every test runs the real element on the CPU (device=cpu,
 * metrics=mse+inv-ssim: no warnings expected) through a GstHarness, with a
 * private bus whose sync handler records every message, and a probe on the
 * harness sink pad that records every buffer and event in arrival order.
 * Buffers are tagged by GST_BUFFER_OFFSET (= the frame's push index), so the
 * recorded order reads "B0 M1 B1 ..." (B = buffer at the sink, M = per-frame
 * message with its frame index, S = summary with its frames count,
 * E:<name> = event at the sink).
 *
 * Leak checks: the GstMemory of every frame the tests create carries a weak
 * ref, and each test ends by checking that all of them were freed and that
 * the element itself was finalized. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <math.h>
#include <string.h>

#include "s2s-meta.h"
#include "s2s_check.h"

#define W 64
#define H 48
#define W2 32
#define H2 24
#define CAPS_64 "video/x-raw, format=GRAY8, width=64, height=48, framerate=30/1"
#define CAPS_32 "video/x-raw, format=GRAY8, width=32, height=24, framerate=30/1"
#define CAPS_NOFPS "video/x-raw, format=GRAY8, width=64, height=48, framerate=0/1"
#define START_SEQ "E:stream-start E:caps E:segment"
#define MS (GST_MSECOND)

/* One frame at 30/1, as the element computes it. */
static GstClockTime
frame_duration (void)
{
  return gst_util_uint64_scale_int (GST_SECOND, 1, 30);
}

/* ------------------------------------------------------------------------ */
/* Frames                                                                   */
/* ------------------------------------------------------------------------ */

static gint live_memories = 0;  /* memories of test frames not yet freed */

static void
memory_freed (gpointer data, GstMiniObject * obj)
{
  (void) data;
  (void) obj;
  g_atomic_int_add (&live_memories, -1);
}

/* Deterministic content of frame `seed`: noise with a range that depends on
 * the seed over a gradient, so every pair of frames has its own MSE. */
static guint8 *
frame_pixels (guint seed, gint w, gint h)
{
  guint8 *p = g_malloc (w * h);
  guint32 state = seed * 2654435761u + 0x9e3779b9u;
  const guint range = 24 + (seed * 53u) % 232u;
  for (gint y = 0; y < h; y++) {
    for (gint x = 0; x < w; x++) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      p[y * w + x] = (guint8) (((x + y) * 2 + (state >> 8) % range) & 0xff);
    }
  }
  return p;
}

/* MSE of two frames exactly as defined (integer sum / pixels). */
static gdouble
expected_mse (guint seed_a, guint seed_b, gint w, gint h)
{
  guint8 *a = frame_pixels (seed_a, w, h);
  guint8 *b = frame_pixels (seed_b, w, h);
  guint64 sum = 0;
  for (gint i = 0; i < w * h; i++) {
    gint d = (gint) a[i] - (gint) b[i];
    sum += (guint64) (d * d);
  }
  g_free (a);
  g_free (b);
  return (gdouble) sum / ((gdouble) w * h);
}

/* A GRAY8 frame with the content of `seed`, OFFSET = `offset` (its identity
 * at the sink), and a weak ref on its memory. */
static GstBuffer *
make_frame_full (guint seed, gint w, gint h, GstClockTime pts, GstClockTime dur,
    guint64 offset, GstBufferFlags flags)
{
  GstVideoInfo info;
  GstMapInfo map;
  GstBuffer *buf;
  guint8 *pixels;

  fail_unless (gst_video_info_set_format (&info, GST_VIDEO_FORMAT_GRAY8, w, h));
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  fail_unless (buf != NULL);
  pixels = frame_pixels (seed, w, h);
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  memset (map.data, 0, map.size);
  for (gint y = 0; y < h; y++)
    memcpy (map.data + y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0), pixels + y * w, w);
  gst_buffer_unmap (buf, &map);
  g_free (pixels);

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = dur;
  GST_BUFFER_OFFSET (buf) = offset;
  if (flags)
    GST_BUFFER_FLAG_SET (buf, flags);

  g_atomic_int_add (&live_memories, 1);
  gst_mini_object_weak_ref (GST_MINI_OBJECT (gst_buffer_peek_memory (buf, 0)),
      memory_freed, NULL);
  return buf;
}

/* Frame i of a 64x48 30/1 stream: content seed i, PTS i frames. */
static GstBuffer *
make_frame (guint i)
{
  return make_frame_full (i, W, H, i * frame_duration (), frame_duration (), i, 0);
}

/* ------------------------------------------------------------------------ */
/* Test context: harness, private bus, recorders                            */
/* ------------------------------------------------------------------------ */

typedef struct
{
  GstHarness *h;
  GstElement *element;          /* owned by the harness */
  gpointer element_alive;       /* weak pointer: NULL once finalized */
  GstBus *bus;

  GMutex lock;                  /* everything below */
  GString *seq;                 /* messages and sink items, in order */
  GString *sink_seq;            /* sink items only */
  GPtrArray *metrics;           /* GstStructure copies of s2smetrics messages */
  GPtrArray *summaries;         /* ... of s2smetrics-summary messages */
  guint warnings, errors, latency_msgs;
  GString *problems;            /* text of warnings and errors */
  gboolean expect_warnings, expect_errors;
} Ctx;

static void
record (Ctx * c, const gchar * tok, gboolean at_sink)
{
  g_mutex_lock (&c->lock);
  g_string_append_printf (c->seq, "%s%s", c->seq->len ? " " : "", tok);
  if (at_sink)
    g_string_append_printf (c->sink_seq, "%s%s", c->sink_seq->len ? " " : "", tok);
  g_mutex_unlock (&c->lock);
}

static GstBusSyncReply
bus_sync_handler (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Ctx *c = user_data;
  (void) bus;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);
      guint64 n = G_MAXUINT64;
      gchar *tok;
      if (gst_structure_has_name (s, "s2smetrics")) {
        gst_structure_get_uint64 (s, "frame", &n);
        tok = g_strdup_printf ("M%" G_GUINT64_FORMAT, n);
        g_mutex_lock (&c->lock);
        g_ptr_array_add (c->metrics, gst_structure_copy (s));
        g_mutex_unlock (&c->lock);
      } else if (gst_structure_has_name (s, "s2smetrics-summary")) {
        gst_structure_get_uint64 (s, "frames", &n);
        tok = g_strdup_printf ("S%" G_GUINT64_FORMAT, n);
        g_mutex_lock (&c->lock);
        g_ptr_array_add (c->summaries, gst_structure_copy (s));
        g_mutex_unlock (&c->lock);
      } else {
        tok = g_strdup_printf ("?%s", gst_structure_get_name (s));
      }
      record (c, tok, FALSE);
      g_free (tok);
      break;
    }
    case GST_MESSAGE_WARNING:
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *dbg = NULL;
      const gboolean is_error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;
      if (is_error)
        gst_message_parse_error (msg, &err, &dbg);
      else
        gst_message_parse_warning (msg, &err, &dbg);
      g_mutex_lock (&c->lock);
      if (is_error)
        c->errors++;
      else
        c->warnings++;
      g_string_append_printf (c->problems, "%s: %s (%s)\n", is_error ? "ERROR" : "WARNING",
          err ? err->message : "?", dbg ? dbg : "");
      g_mutex_unlock (&c->lock);
      record (c, is_error ? "X" : "W", FALSE);
      g_clear_error (&err);
      g_free (dbg);
      break;
    }
    case GST_MESSAGE_LATENCY:
      g_mutex_lock (&c->lock);
      c->latency_msgs++;
      g_mutex_unlock (&c->lock);
      break;
    default:
      break;
  }
  return GST_BUS_PASS;
}

static GstPadProbeReturn
sink_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Ctx *c = user_data;
  gchar *tok = NULL;
  (void) pad;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    tok = g_strdup_printf ("B%" G_GUINT64_FORMAT,
        GST_BUFFER_OFFSET (GST_PAD_PROBE_INFO_BUFFER (info)));
  } else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_BOTH) {
    tok = g_strdup_printf ("E:%s", GST_EVENT_TYPE_NAME (GST_PAD_PROBE_INFO_EVENT (info)));
  }
  if (tok) {
    record (c, tok, TRUE);
    g_free (tok);
  }
  return GST_PAD_PROBE_OK;
}

/* s2smetrics on the CPU, with batch-size and batch-timeout, in a harness;
 * caps (and a TIME segment) set when given. */
static Ctx *
ctx_new_with (guint batch_size, guint64 batch_timeout, const gchar * caps,
    const gchar * extra_prop, const gchar * extra_value)
{
  Ctx *c = g_new0 (Ctx, 1);
  GstElement *e;

  g_atomic_int_set (&live_memories, 0);
  g_mutex_init (&c->lock);
  c->seq = g_string_new (NULL);
  c->sink_seq = g_string_new (NULL);
  c->problems = g_string_new (NULL);
  c->metrics = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  c->summaries = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);

  e = gst_element_factory_make ("s2smetrics", NULL);
  fail_unless (e != NULL, "could not create s2smetrics");
  gst_object_ref_sink (e);
  gst_util_set_object_arg (G_OBJECT (e), "device", "cpu");
  gst_util_set_object_arg (G_OBJECT (e), "metrics", "mse+inv-ssim");
  g_object_set (e, "batch-size", batch_size, "batch-timeout", batch_timeout, NULL);
  if (extra_prop)
    gst_util_set_object_arg (G_OBJECT (e), extra_prop, extra_value);

  c->bus = gst_bus_new ();
  gst_bus_set_sync_handler (c->bus, bus_sync_handler, c, NULL);
  gst_element_set_bus (e, c->bus);

  c->element = e;
  c->element_alive = e;
  g_object_add_weak_pointer (G_OBJECT (e), &c->element_alive);

  c->h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_pad_add_probe (c->h->sinkpad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_EVENT_FLUSH,
      sink_probe, c, NULL);

  if (caps)
    gst_harness_set_src_caps_str (c->h, caps);
  return c;
}

static Ctx *
ctx_new (guint batch_size, guint64 batch_timeout, const gchar * caps)
{
  return ctx_new_with (batch_size, batch_timeout, caps, NULL, NULL);
}

/* Tears everything down and checks for leaks: every test frame freed, the
 * element finalized, no unexpected warnings or errors. The test must have
 * unreffed the buffers it pulled. */
static void
ctx_free (Ctx * c)
{
  gst_harness_teardown (c->h);
  /* Queued messages hold refs to the element, which holds the bus. */
  gst_bus_set_flushing (c->bus, TRUE);
  fail_unless (c->element_alive == NULL, "the element was not finalized (leaked refs)");
  gst_bus_set_sync_handler (c->bus, NULL, NULL, NULL);
  gst_object_unref (c->bus);

  fail_unless_equals_int (g_atomic_int_get (&live_memories), 0);
  if (!c->expect_warnings)
    fail_unless (c->warnings == 0, "unexpected warnings:\n%s", c->problems->str);
  if (!c->expect_errors)
    fail_unless (c->errors == 0, "unexpected errors:\n%s", c->problems->str);

  g_ptr_array_unref (c->metrics);
  g_ptr_array_unref (c->summaries);
  g_string_free (c->seq, TRUE);
  g_string_free (c->sink_seq, TRUE);
  g_string_free (c->problems, TRUE);
  g_mutex_clear (&c->lock);
  g_free (c);
}

static gchar *
get_seq (Ctx * c)
{
  gchar *s;
  g_mutex_lock (&c->lock);
  s = g_strdup (c->seq->str);
  g_mutex_unlock (&c->lock);
  return s;
}

static gchar *
get_sink_seq (Ctx * c)
{
  gchar *s;
  g_mutex_lock (&c->lock);
  s = g_strdup (c->sink_seq->str);
  g_mutex_unlock (&c->lock);
  return s;
}

#define assert_seq(c, expected) G_STMT_START {                               \
  gchar *_s = get_seq (c);                                                  \
  fail_unless_equals_string (_s, expected);                                 \
  g_free (_s);                                                              \
} G_STMT_END

#define assert_sink_seq(c, expected) G_STMT_START {                          \
  gchar *_s = get_sink_seq (c);                                             \
  fail_unless_equals_string (_s, expected);                                 \
  g_free (_s);                                                              \
} G_STMT_END

static guint
n_metrics (Ctx * c)
{
  guint n;
  g_mutex_lock (&c->lock);
  n = c->metrics->len;
  g_mutex_unlock (&c->lock);
  return n;
}

/* The message structure for frame `index`, or NULL (owned by the context). */
static const GstStructure *
metrics_for (Ctx * c, guint64 index)
{
  const GstStructure *found = NULL;
  g_mutex_lock (&c->lock);
  for (guint i = 0; i < c->metrics->len; i++) {
    const GstStructure *s = g_ptr_array_index (c->metrics, i);
    guint64 f;
    if (gst_structure_get_uint64 (s, "frame", &f) && f == index) {
      fail_unless (found == NULL, "two messages for frame %" G_GUINT64_FORMAT, index);
      found = s;
    }
  }
  g_mutex_unlock (&c->lock);
  return found;
}

static const GstStructure *
only_summary (Ctx * c)
{
  fail_unless_equals_int (c->summaries->len, 1);
  return g_ptr_array_index (c->summaries, 0);
}

static gdouble
get_double (const GstStructure * s, const gchar * field)
{
  gdouble v = -12345.0;
  fail_unless (gst_structure_get_double (s, field, &v), "no double field %s in %"
      GST_PTR_FORMAT, field, s);
  return v;
}

static guint64
get_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v = 0;
  fail_unless (gst_structure_get_uint64 (s, field, &v), "no guint64 field %s in %"
      GST_PTR_FORMAT, field, s);
  return v;
}

static gboolean
same_double (gdouble a, gdouble b)
{
  return memcmp (&a, &b, sizeof (gdouble)) == 0;
}

/* An "ok" result for frame `index` comparing frames seed_prev and seed_cur
 * (w x h), with the given times. */
static void
check_ok_result (const GstStructure * s, guint64 index, guint seed_prev, guint seed_cur,
    gint w, gint h, GstClockTime pts, GstClockTime dur, GstClockTime running_time)
{
  gdouble mse, inv, want;

  fail_unless (s != NULL, "no message for frame %" G_GUINT64_FORMAT, index);
  mse = get_double (s, "mse");
  inv = get_double (s, "inv-ssim");
  want = expected_mse (seed_prev, seed_cur, w, h);
  fail_unless_equals_uint64 (get_u64 (s, "frame"), index);
  fail_unless (same_double (mse, want), "frame %" G_GUINT64_FORMAT ": mse %.17g, expected "
      "%.17g (frames %u vs %u)", index, mse, want, seed_prev, seed_cur);
  fail_unless (isfinite (inv) && inv >= 0.0 && inv <= 2.0, "inv-ssim %g", inv);
  fail_unless (isnan (get_double (s, "lpips")));
  fail_unless (fabs (get_double (s, "weighted") - (0.5 * mse + 0.3 * inv)) <=
      1e-9 * (1.0 + fabs (mse)));
  fail_unless_equals_string (gst_structure_get_string (s, "status"), S2S_STATUS_OK);
  fail_if (gst_structure_has_field (s, "reason"));
  fail_unless_equals_uint64 (get_u64 (s, "timestamp"), pts);
  fail_unless_equals_uint64 (get_u64 (s, "duration"), dur);
  fail_unless_equals_uint64 (get_u64 (s, "running-time"), running_time);
}

typedef struct
{
  const GstStructure *other;
  gboolean equal;
} CompareData;

static gboolean
compare_field (GQuark field, const GValue * value, gpointer user_data)
{
  CompareData *d = user_data;
  const GValue *o = gst_structure_id_get_value (d->other, field);
  if (!o || G_VALUE_TYPE (o) != G_VALUE_TYPE (value)) {
    d->equal = FALSE;
  } else if (G_VALUE_TYPE (value) == G_TYPE_DOUBLE) {
    d->equal &= same_double (g_value_get_double (value), g_value_get_double (o));
  } else {
    d->equal &= gst_value_compare (value, o) == GST_VALUE_EQUAL;
  }
  return TRUE;
}

/* The buffer's S2SMetricsMeta holds exactly the message's fields. */
static void
check_meta_matches (GstBuffer * buf, const GstStructure * msg)
{
  const GstStructure *meta = s2s_buffer_get_metrics (buf);
  CompareData d = { meta, TRUE };
  fail_unless (meta != NULL, "buffer %" G_GUINT64_FORMAT " has no S2SMetricsMeta",
      GST_BUFFER_OFFSET (buf));
  gst_structure_foreach (msg, compare_field, &d);
  fail_unless (d.equal && gst_structure_n_fields (meta) == gst_structure_n_fields (msg),
      "meta %" GST_PTR_FORMAT " differs from message %" GST_PTR_FORMAT, meta, msg);
}

/* Pulls all buffers waiting at the sink; checks their OFFSETs are `first_offset`,
 * `first_offset`+1, ... and that each carries the meta iff it had a message. */
static guint
pull_and_check_buffers (Ctx * c, guint64 first_offset)
{
  GstBuffer *buf;
  guint n = 0;
  while ((buf = gst_harness_try_pull (c->h))) {
    const GstStructure *msg;
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), first_offset + n);
    msg = metrics_for (c, first_offset + n);
    if (msg)
      check_meta_matches (buf, msg);
    else
      fail_unless (s2s_buffer_get_metrics (buf) == NULL,
          "buffer %u has meta but no message", (guint) (first_offset + n));
    gst_buffer_unref (buf);
    n++;
  }
  return n;
}

static GstEvent *
caps_event (const gchar * str)
{
  GstCaps *caps = gst_caps_from_string (str);
  GstEvent *ev = gst_event_new_caps (caps);
  gst_caps_unref (caps);
  return ev;
}

static void
push_ok (Ctx * c, GstBuffer * buf)
{
  fail_unless_equals_int (gst_harness_push (c->h, buf), GST_FLOW_OK);
}

static void
push_eos (Ctx * c)
{
  fail_unless (gst_harness_push_event (c->h, gst_event_new_eos ()));
}

/* Waits (up to `timeout_ms`) until `cond` holds; returns whether it did. */
#define WAIT_UNTIL(cond, timeout_ms) ({                                      \
  gint64 _end = g_get_monotonic_time () + (timeout_ms) * 1000;              \
  while (!(cond) && g_get_monotonic_time () < _end)                         \
    g_usleep (1000);                                                        \
  (cond);                                                                   \
})

/* ------------------------------------------------------------------------ */
/* 1. Batching                                                              */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_batch_holds_until_full)
{
  Ctx *c = ctx_new (4, 0, CAPS_64);

  for (guint i = 0; i < 3; i++)
    push_ok (c, make_frame (i));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
  fail_unless_equals_int (n_metrics (c), 0);
  assert_seq (c, START_SEQ);

  push_ok (c, make_frame (3));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 4);
  /* Each message right before its buffer; frame 0 has no predecessor. */
  assert_seq (c, START_SEQ " B0 M1 B1 M2 B2 M3 B3");
  fail_unless_equals_int (n_metrics (c), 3);
  for (guint i = 1; i < 4; i++)
    check_ok_result (metrics_for (c, i), i, i - 1, i, W, H, i * frame_duration (),
        frame_duration (), i * frame_duration ());
  fail_unless_equals_uint64 (get_u64 (metrics_for (c, 2), "stream-time"), 2 * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 4);

  ctx_free (c);
}

GST_END_TEST;

#define N_EQUIV 40

/* mse and inv-ssim of frames 0..N_EQUIV-1 (NaN where no message) with the
 * given batch size, checking each buffer's meta against its message. */
static void
run_sequence (guint batch_size, gdouble * mse, gdouble * inv)
{
  Ctx *c = ctx_new (batch_size, 0, CAPS_64);

  for (guint i = 0; i < N_EQUIV; i++)
    push_ok (c, make_frame (i));
  push_eos (c);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), N_EQUIV);
  fail_unless_equals_int (n_metrics (c), N_EQUIV - 1);
  for (guint i = 0; i < N_EQUIV; i++) {
    const GstStructure *s = metrics_for (c, i);
    mse[i] = s ? get_double (s, "mse") : NAN;
    inv[i] = s ? get_double (s, "inv-ssim") : NAN;
    if (i > 0)
      check_ok_result (s, i, i - 1, i, W, H, i * frame_duration (), frame_duration (),
          i * frame_duration ());
  }
  fail_unless_equals_int (pull_and_check_buffers (c, 0), N_EQUIV);
  fail_unless_equals_uint64 (get_u64 (only_summary (c), "frames"), N_EQUIV - 1);
  ctx_free (c);
}

GST_START_TEST (test_batch_size_equivalence)
{
  gdouble ref_mse[N_EQUIV], ref_inv[N_EQUIV];
  const guint sizes[] = { 2, 3, 16 };

  run_sequence (1, ref_mse, ref_inv);
  fail_unless (isnan (ref_mse[0]));
  for (guint i = 2; i < N_EQUIV; i++)
    fail_if (same_double (ref_mse[i], ref_mse[i - 1]), "test frames too alike");

  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++) {
    gdouble mse[N_EQUIV], inv[N_EQUIV];
    run_sequence (sizes[k], mse, inv);
    for (guint i = 0; i < N_EQUIV; i++) {
      fail_unless (same_double (mse[i], ref_mse[i]), "batch-size=%u frame %u: mse %.17g != %.17g",
          sizes[k], i, mse[i], ref_mse[i]);
      fail_unless (same_double (inv[i], ref_inv[i]),
          "batch-size=%u frame %u: inv-ssim %.17g != %.17g", sizes[k], i, inv[i], ref_inv[i]);
    }
  }
}

GST_END_TEST;

/* batch-size changed while frames are held and while streaming. */
GST_START_TEST (test_batch_size_change_while_streaming)
{
  Ctx *c = ctx_new (4, 0, CAPS_64);
  guint latency_msgs;

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);

  latency_msgs = c->latency_msgs;
  g_object_set (c->element, "batch-size", 2, NULL);
  fail_unless (c->latency_msgs > latency_msgs, "no LATENCY message on a batch-size change");
  push_ok (c, make_frame (2));  /* 3 held >= 2: all out */
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 3);

  g_object_set (c->element, "batch-size", 1, NULL);
  push_ok (c, make_frame (3));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 4);

  g_object_set (c->element, "batch-size", 8, NULL);
  push_ok (c, make_frame (4));
  push_ok (c, make_frame (5));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 4);
  g_object_set (c->element, "batch-size", 3, NULL);
  push_ok (c, make_frame (6));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 7);

  push_ok (c, make_frame (7));
  push_eos (c);
  assert_sink_seq (c, START_SEQ " B0 B1 B2 B3 B4 B5 B6 B7 E:eos");
  fail_unless_equals_int (n_metrics (c), 7);
  for (guint i = 1; i < 8; i++)
    check_ok_result (metrics_for (c, i), i, i - 1, i, W, H, i * frame_duration (),
        frame_duration (), i * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 8);
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 2. Serialized events keep their place                                    */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_events_kept_in_place)
{
  Ctx *c = ctx_new (4, 0, CAPS_64);
  GstEvent *ev;
  const guint startup_events = gst_harness_events_received (c->h);

  fail_unless_equals_int (startup_events, 3);
  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless (gst_harness_push_event (c->h,
          gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
              gst_structure_new ("s2s-test-marker", "n", G_TYPE_INT, 1, NULL))));
  push_ok (c, make_frame (2));
  fail_unless (gst_harness_push_event (c->h,
          gst_event_new_gap (3 * frame_duration (), frame_duration ())));
  /* Nothing left yet: the events wait with the frames. */
  fail_unless_equals_int (gst_harness_events_received (c->h), startup_events);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
  assert_sink_seq (c, START_SEQ);

  push_ok (c, make_frame (3));
  assert_sink_seq (c, START_SEQ " B0 B1 E:custom-downstream B2 E:gap B3");
  fail_unless_equals_int (gst_harness_events_received (c->h), startup_events + 2);

  /* The harness queues agree: events in order, buffers in order. */
  for (guint i = 0; i < 3; i++)
    gst_event_unref (gst_harness_pull_event (c->h));
  ev = gst_harness_try_pull_event (c->h);
  fail_unless (ev && GST_EVENT_TYPE (ev) == GST_EVENT_CUSTOM_DOWNSTREAM);
  fail_unless (gst_event_has_name (ev, "s2s-test-marker"));
  gst_event_unref (ev);
  ev = gst_harness_try_pull_event (c->h);
  fail_unless (ev && GST_EVENT_TYPE (ev) == GST_EVENT_GAP);
  gst_event_unref (ev);
  fail_unless (gst_harness_try_pull_event (c->h) == NULL);

  /* With nothing held, an event goes straight through. */
  fail_unless (gst_harness_push_event (c->h,
          gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
              gst_structure_new_empty ("s2s-test-marker-2"))));
  assert_sink_seq (c, START_SEQ " B0 B1 E:custom-downstream B2 E:gap B3 E:custom-downstream");
  ev = gst_harness_try_pull_event (c->h);
  fail_unless (ev && gst_event_has_name (ev, "s2s-test-marker-2"));
  gst_event_unref (ev);

  fail_unless_equals_int (pull_and_check_buffers (c, 0), 4);
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 3. Draining                                                              */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_eos_drains_partial_batch)
{
  Ctx *c = ctx_new (8, 0, CAPS_64);
  const GstStructure *sum;
  GstEvent *ev;
  GstMessage *msg;
  gdouble mean = 0, lo = G_MAXDOUBLE, hi = -1;
  guint element_msgs = 0;
  gboolean summary_on_bus = FALSE;

  for (guint i = 0; i < 5; i++)
    push_ok (c, make_frame (i));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
  push_eos (c);

  /* Everything out, then the summary, then EOS. */
  assert_seq (c, START_SEQ " B0 M1 B1 M2 B2 M3 B3 M4 B4 S4 E:eos");

  /* By the time EOS is pulled, the summary is on the bus. */
  do {
    ev = gst_harness_pull_event (c->h);
    fail_unless (ev != NULL);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
      gst_event_unref (ev);
      break;
    }
    gst_event_unref (ev);
  } while (TRUE);
  while ((msg = gst_bus_pop_filtered (c->bus, GST_MESSAGE_ELEMENT))) {
    element_msgs++;
    if (gst_message_has_name (msg, "s2smetrics-summary"))
      summary_on_bus = TRUE;
    gst_message_unref (msg);
  }
  fail_unless (summary_on_bus);
  fail_unless_equals_int (element_msgs, 5);

  for (guint i = 1; i < 5; i++) {
    const gdouble m = get_double (metrics_for (c, i), "mse");
    mean += m / 4;
    lo = MIN (lo, m);
    hi = MAX (hi, m);
  }
  sum = only_summary (c);
  fail_unless_equals_uint64 (get_u64 (sum, "frames"), 4);
  fail_unless (fabs (get_double (sum, "mse-mean") - mean) <= 1e-9 * mean);
  fail_unless (same_double (get_double (sum, "mse-min"), lo));
  fail_unless (same_double (get_double (sum, "mse-max"), hi));
  fail_unless (isfinite (get_double (sum, "mse-p95")));
  fail_unless (isfinite (get_double (sum, "inv-ssim-mean")));
  fail_unless (isfinite (get_double (sum, "weighted-mean")));
  fail_unless (isnan (get_double (sum, "lpips-mean")));

  fail_unless_equals_int (pull_and_check_buffers (c, 0), 5);
  ctx_free (c);
}

GST_END_TEST;

static void
check_empty_summary (Ctx * c)
{
  const GstStructure *sum = only_summary (c);
  fail_unless_equals_uint64 (get_u64 (sum, "frames"), 0);
  fail_unless (isnan (get_double (sum, "mse-mean")));
  fail_unless (isnan (get_double (sum, "inv-ssim-p95")));
}

GST_START_TEST (test_eos_without_buffers)
{
  /* With caps and segment. */
  Ctx *c = ctx_new (4, 0, CAPS_64);
  push_eos (c);
  assert_seq (c, START_SEQ " S0 E:eos");
  check_empty_summary (c);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
  ctx_free (c);

  /* Without caps at all. */
  c = ctx_new (4, 50 * MS, NULL);
  push_eos (c);
  assert_seq (c, "E:stream-start S0 E:eos");
  check_empty_summary (c);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_eos_right_after_caps)
{
  Ctx *c = ctx_new (8, 0, CAPS_64);

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless (gst_harness_push_event (c->h, caps_event (CAPS_32)));
  push_eos (c);
  assert_seq (c, START_SEQ " B0 M1 B1 E:caps S1 E:eos");
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 2);
  ctx_free (c);

  /* Caps then EOS at once, no buffer ever. */
  c = ctx_new (8, 0, NULL);
  fail_unless (gst_harness_push_event (c->h, caps_event (CAPS_32)));
  push_eos (c);
  assert_seq (c, "E:stream-start E:caps S0 E:eos");
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_caps_change_drains)
{
  Ctx *c = ctx_new (8, 0, CAPS_64);
  GstEvent *ev;
  GstCaps *caps;
  GstStructure *s;
  gint width = 0;

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
  /* Caps alone (no new segment), so only the caps change resets the chain. */
  fail_unless (gst_harness_push_event (c->h, caps_event (CAPS_32)));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 2);
  assert_seq (c, START_SEQ " B0 M1 B1 E:caps");

  push_ok (c, make_frame_full (2, W2, H2, 2 * frame_duration (), frame_duration (), 2, 0));
  push_ok (c, make_frame_full (3, W2, H2, 3 * frame_duration (), frame_duration (), 3, 0));
  push_eos (c);
  /* Frame 2 starts a new chain; the index goes on. */
  assert_seq (c, START_SEQ " B0 M1 B1 E:caps B2 M3 B3 S2 E:eos");
  check_ok_result (metrics_for (c, 1), 1, 0, 1, W, H, frame_duration (), frame_duration (),
      frame_duration ());
  check_ok_result (metrics_for (c, 3), 3, 2, 3, W2, H2, 3 * frame_duration (),
      frame_duration (), 3 * frame_duration ());

  for (guint i = 0; i < 3; i++)
    gst_event_unref (gst_harness_pull_event (c->h));
  ev = gst_harness_pull_event (c->h);
  fail_unless (ev && GST_EVENT_TYPE (ev) == GST_EVENT_CAPS);
  gst_event_parse_caps (ev, &caps);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_get_int (s, "width", &width));
  fail_unless_equals_int (width, W2);
  gst_event_unref (ev);

  fail_unless_equals_int (pull_and_check_buffers (c, 0), 4);
  ctx_free (c);
}

GST_END_TEST;

/* The same caps sent again do not break the chain (nor lose frames). */
GST_START_TEST (test_same_caps_keep_chain)
{
  Ctx *c = ctx_new (8, 0, CAPS_64);

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless (gst_harness_push_event (c->h, caps_event (CAPS_64)));
  push_ok (c, make_frame (2));
  push_eos (c);
  fail_unless_equals_int (n_metrics (c), 2);
  check_ok_result (metrics_for (c, 2), 2, 1, 2, W, H, 2 * frame_duration (),
      frame_duration (), 2 * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 3);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_ready_drains)
{
  Ctx *c = ctx_new (8, 0, CAPS_64);

  for (guint i = 0; i < 3; i++)
    push_ok (c, make_frame (i));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
  fail_unless_equals_int (gst_element_set_state (c->element, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 3);
  assert_seq (c, START_SEQ " B0 M1 B1 M2 B2");
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 3);
  ctx_free (c);

  /* Teardown with frames held: no hang, nothing leaked (checked by ctx_free). */
  c = ctx_new (8, 0, CAPS_64);
  for (guint i = 0; i < 3; i++)
    push_ok (c, make_frame (i));
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 4. Chain resets and the frame index                                      */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_reset_on_discont)
{
  Ctx *c = ctx_new (3, 0, CAPS_64);

  for (guint i = 0; i < 7; i++) {
    GstBuffer *b = make_frame (i);
    if (i == 3)
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
    push_ok (c, b);
  }
  push_eos (c);
  assert_seq (c, START_SEQ " B0 M1 B1 M2 B2 B3 M4 B4 M5 B5 M6 B6 S5 E:eos");
  check_ok_result (metrics_for (c, 4), 4, 3, 4, W, H, 4 * frame_duration (),
      frame_duration (), 4 * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 7);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_reset_on_segment)
{
  Ctx *c = ctx_new (3, 0, CAPS_64);
  GstSegment seg;

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  /* A new segment while frames are held: it stays in place, frames before it
   * keep the times of their own segment. */
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.base = 10 * GST_SECOND;
  fail_unless (gst_harness_push_event (c->h, gst_event_new_segment (&seg)));
  push_ok (c, make_frame (2));
  push_ok (c, make_frame (3));
  push_ok (c, make_frame (4));
  push_eos (c);
  assert_seq (c, START_SEQ " B0 M1 B1 E:segment B2 M3 B3 M4 B4 S3 E:eos");
  check_ok_result (metrics_for (c, 1), 1, 0, 1, W, H, frame_duration (), frame_duration (),
      frame_duration ());
  check_ok_result (metrics_for (c, 3), 3, 2, 3, W, H, 3 * frame_duration (),
      frame_duration (), 10 * GST_SECOND + 3 * frame_duration ());
  fail_unless_equals_uint64 (get_u64 (metrics_for (c, 3), "stream-time"), 3 * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 5);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_reset_on_flush)
{
  Ctx *c = ctx_new (1, 0, CAPS_64);
  GstSegment seg;

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless (gst_harness_push_event (c->h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (c->h, gst_event_new_flush_stop (FALSE)));
  /* A flush removes the sticky segment: data needs a new one (GStreamer
   * warns otherwise), so flush and segment come together here, as after a
   * flushing seek. */
  gst_segment_init (&seg, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (c->h, gst_event_new_segment (&seg)));
  push_ok (c, make_frame (2));
  push_ok (c, make_frame (3));
  assert_seq (c, START_SEQ " B0 M1 B1 E:flush-start E:flush-stop E:segment B2 M3 B3");
  check_ok_result (metrics_for (c, 3), 3, 2, 3, W, H, 3 * frame_duration (),
      frame_duration (), 3 * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 4);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_flush_drops_held)
{
  Ctx *c = ctx_new (4, 0, CAPS_64);
  GstSegment seg;

  for (guint i = 0; i < 3; i++)
    push_ok (c, make_frame (i));
  fail_unless_equals_int (g_atomic_int_get (&live_memories), 3);
  fail_unless (gst_harness_push_event (c->h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (c->h, gst_event_new_flush_stop (TRUE)));
  /* Dropped and freed, never pushed, never reported. */
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
  fail_unless_equals_int (g_atomic_int_get (&live_memories), 0);
  fail_unless_equals_int (n_metrics (c), 0);

  /* As after a flushing seek: a new segment. */
  gst_segment_init (&seg, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (c->h, gst_event_new_segment (&seg)));
  for (guint i = 3; i < 7; i++)
    push_ok (c, make_frame (i));
  push_eos (c);
  /* Frame 3 starts a new chain; indices count the dropped frames too. */
  assert_seq (c, START_SEQ " E:flush-start E:flush-stop E:segment B3 M4 B4 M5 B5 M6 B6 S3 E:eos");
  for (guint i = 0; i < 4; i++)
    fail_unless (metrics_for (c, i) == NULL);
  for (guint i = 4; i < 7; i++)
    check_ok_result (metrics_for (c, i), i, i - 1, i, W, H, i * frame_duration (),
        frame_duration (), i * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 3), 4);
  ctx_free (c);
}

GST_END_TEST;

/* FLUSH_START alone goes through at once, even with frames held. */
GST_START_TEST (test_flush_start_not_held)
{
  Ctx *c = ctx_new (4, 0, CAPS_64);

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless (gst_harness_push_event (c->h, gst_event_new_flush_start ()));
  assert_sink_seq (c, START_SEQ " E:flush-start");
  fail_unless (gst_harness_push_event (c->h, gst_event_new_flush_stop (TRUE)));
  assert_sink_seq (c, START_SEQ " E:flush-start E:flush-stop");
  fail_unless_equals_int (g_atomic_int_get (&live_memories), 0);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_reset_on_stream_start)
{
  Ctx *c = ctx_new (2, 0, CAPS_64);

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  push_ok (c, make_frame (2));  /* held */
  fail_unless (gst_harness_push_event (c->h, gst_event_new_stream_start ("second-stream")));
  for (guint i = 3; i < 6; i++)
    push_ok (c, make_frame (i));
  push_eos (c);
  /* Frame 2 leaves before the new stream; the index restarts at 0 and the
   * summary only counts the new stream. */
  assert_seq (c, START_SEQ " B0 M1 B1 M2 B2 E:stream-start B3 M1 B4 M2 B5 S2 E:eos");
  fail_unless_equals_int (n_metrics (c), 4);
  check_ok_result (g_ptr_array_index (c->metrics, 2), 1, 3, 4, W, H, 4 * frame_duration (),
      frame_duration (), 4 * frame_duration ());
  check_ok_result (g_ptr_array_index (c->metrics, 3), 2, 4, 5, W, H, 5 * frame_duration (),
      frame_duration (), 5 * frame_duration ());
  while (gst_harness_buffers_in_queue (c->h))
    gst_buffer_unref (gst_harness_pull (c->h));
  ctx_free (c);
}

GST_END_TEST;

/* The frame field counts every buffer since stream start, messages or not. */
GST_START_TEST (test_frame_index_counts_all)
{
  Ctx *c = ctx_new (2, 0, CAPS_64);
  GstBuffer *buf;
  guint n = 0;

  for (guint i = 0; i < 8; i++) {
    GstBuffer *b = make_frame (i);
    if (i == 0 || i == 4)
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
    if (i == 2)
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_GAP);
    if (i == 6) {
      GstSegment seg;
      gst_segment_init (&seg, GST_FORMAT_TIME);
      fail_unless (gst_harness_push_event (c->h, gst_event_new_segment (&seg)));
    }
    push_ok (c, b);
  }
  push_eos (c);
  /* 1 ok, 2 skipped (gap), 3 after the gap, 4 discont, 5 ok, 6 after the
   * segment, 7 ok. */
  assert_seq (c, START_SEQ " B0 M1 B1 M2 B2 B3 B4 M5 B5 E:segment B6 M7 B7 S3 E:eos");
  for (guint i = 0; i < c->metrics->len; i++) {
    const GstStructure *s = g_ptr_array_index (c->metrics, i);
    guint64 f = get_u64 (s, "frame");
    fail_unless_equals_uint64 (get_u64 (s, "timestamp"), f * frame_duration ());
  }
  while ((buf = gst_harness_try_pull (c->h))) {
    const GstStructure *meta = s2s_buffer_get_metrics (buf);
    if (meta)
      fail_unless_equals_uint64 (get_u64 (meta, "frame"), GST_BUFFER_OFFSET (buf));
    gst_buffer_unref (buf);
    n++;
  }
  fail_unless_equals_int (n, 8);
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 5. Live: batch timeout and LATENCY                                        */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_live_batch_timeout)
{
  Ctx *c = ctx_new (8, 50 * MS, CAPS_64);
  gint64 t0, elapsed_us;

  gst_harness_set_live (c->h, TRUE);
  t0 = g_get_monotonic_time ();
  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless (WAIT_UNTIL (gst_harness_buffers_received (c->h) == 2, 2000),
      "a partial batch was not released by the timeout");
  elapsed_us = g_get_monotonic_time () - t0;
  fail_unless (elapsed_us >= 45000, "released after %" G_GINT64_FORMAT " us, before the "
      "50 ms timeout", elapsed_us);
  assert_seq (c, START_SEQ " B0 M1 B1");

  /* A single frame too; it pairs with the last frame of the previous batch. */
  push_ok (c, make_frame (2));
  fail_unless (WAIT_UNTIL (gst_harness_buffers_received (c->h) == 3, 2000));
  assert_seq (c, START_SEQ " B0 M1 B1 M2 B2");
  check_ok_result (metrics_for (c, 2), 2, 1, 2, W, H, 2 * frame_duration (),
      frame_duration (), 2 * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 3);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_latency_query)
{
  Ctx *c = ctx_new (8, 0, CAPS_64);
  const GstClockTime fd = frame_duration ();

  gst_harness_set_live (c->h, TRUE);
  fail_unless_equals_uint64 (gst_harness_query_latency (c->h), 7 * fd);
  g_object_set (c->element, "batch-timeout", (guint64) (50 * MS), NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (c->h), 50 * MS);
  g_object_set (c->element, "batch-timeout", (guint64) GST_SECOND, NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (c->h), 7 * fd);
  g_object_set (c->element, "batch-size", 1, NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (c->h), 0);
  g_object_set (c->element, "batch-timeout", (guint64) 0, NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (c->h), 0);

  /* Added to upstream's latency. */
  g_object_set (c->element, "batch-size", 4, NULL);
  gst_harness_set_upstream_latency (c->h, 10 * MS);
  fail_unless_equals_uint64 (gst_harness_query_latency (c->h), 10 * MS + 3 * fd);
  ctx_free (c);

  /* No framerate: the timeout bounds it... */
  c = ctx_new (4, 20 * MS, CAPS_NOFPS);
  gst_harness_set_live (c->h, TRUE);
  fail_unless_equals_uint64 (gst_harness_query_latency (c->h), 20 * MS);
  /* ... and without one it is unknown: a WARNING and nothing added. */
  g_object_set (c->element, "batch-timeout", (guint64) 0, NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (c->h), 0);
  fail_unless (c->warnings >= 1);
  c->expect_warnings = TRUE;
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 6. Negotiation                                                           */
/* ------------------------------------------------------------------------ */

static const gchar *refused_caps[] = {
  "video/x-raw, format=UYVY, width=64, height=48, framerate=30/1",
  "video/x-raw, format=P010_10LE, width=64, height=48, framerate=30/1",
  "video/x-raw(memory:GLMemory), format=RGBA, width=64, height=48, framerate=30/1",
#if !S2S_HAVE_GST_CUDA
  "video/x-raw(memory:CUDAMemory), format=GRAY8, width=64, height=48, framerate=30/1",
#endif
  "video/x-raw, format=GRAY8, width=64, height=48, framerate=30/1, interlace-mode=alternate",
  "video/x-raw(format:Interlaced), format=GRAY8, width=64, height=48, framerate=30/1, "
      "interlace-mode=alternate",
  "image/jpeg, width=64, height=48, framerate=30/1",
};

GST_START_TEST (test_refuse_unsupported_caps)
{
  for (guint k = 0; k < G_N_ELEMENTS (refused_caps); k++) {
    Ctx *c = ctx_new (1, 0, NULL);
    GstPad *sinkpad = gst_element_get_static_pad (c->element, "sink");
    GstCaps *caps = gst_caps_from_string (refused_caps[k]);
    GstCaps *allowed = gst_pad_query_caps (sinkpad, NULL);

    fail_unless (caps != NULL);
    fail_if (gst_pad_query_accept_caps (sinkpad, caps), "accepts %s", refused_caps[k]);
    /* The caps query can not express interlace-mode; the others must not
     * even intersect. */
    if (!strstr (refused_caps[k], "interlace-mode"))
      fail_if (gst_caps_can_intersect (allowed, caps), "caps query allows %s",
          refused_caps[k]);
    gst_caps_unref (allowed);
    gst_caps_unref (caps);

    gst_harness_set_src_caps_str (c->h, refused_caps[k]);
    fail_unless_equals_int (gst_harness_push (c->h, make_frame (0)), GST_FLOW_NOT_NEGOTIATED);
    fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
    fail_unless_equals_int (n_metrics (c), 0);
    gst_object_unref (sinkpad);
    ctx_free (c);
  }
}

GST_END_TEST;

GST_START_TEST (test_accept_supported_caps)
{
  const gchar *ok_caps[] = {
    CAPS_64, CAPS_NOFPS,
    "video/x-raw, format=I420, width=64, height=48, framerate=30/1",
    "video/x-raw, format=NV12, width=1, height=1, framerate=30/1",
    "video/x-raw, format=BGRx, width=64, height=48, framerate=30/1, interlace-mode=interleaved",
  };
  Ctx *c = ctx_new (1, 0, NULL);
  GstPad *sinkpad = gst_element_get_static_pad (c->element, "sink");
  GstCaps *allowed = gst_pad_query_caps (sinkpad, NULL);

  for (guint k = 0; k < G_N_ELEMENTS (ok_caps); k++) {
    GstCaps *caps = gst_caps_from_string (ok_caps[k]);
    fail_unless (gst_pad_query_accept_caps (sinkpad, caps), "refuses %s", ok_caps[k]);
    fail_unless (gst_caps_can_intersect (allowed, caps));
    gst_caps_unref (caps);
  }
  gst_caps_unref (allowed);
  gst_object_unref (sinkpad);
  ctx_free (c);
}

GST_END_TEST;

/* Builds with GStreamer's CUDA library take CUDA memory caps (the template
 * lists them first). Buffers that are not CUDA memory under such caps (an
 * upstream that changed allocator, or a CPU engine) are read through host
 * maps and scored as usual. */
#define CAPS_64_CUDA "video/x-raw(memory:CUDAMemory), format=GRAY8, width=64, height=48, " \
    "framerate=30/1"

GST_START_TEST (test_cuda_memory_caps)
{
  Ctx *c = ctx_new (3, 0, CAPS_64_CUDA);
  GstPad *sinkpad = gst_element_get_static_pad (c->element, "sink");
  GstCaps *cuda = gst_caps_from_string (CAPS_64_CUDA);
  GstCaps *templ = gst_pad_get_pad_template_caps (sinkpad);
#if S2S_HAVE_GST_CUDA
  fail_unless (gst_caps_can_intersect (templ, cuda), "template lacks CUDA memory: %"
      GST_PTR_FORMAT, templ);
  GstCapsFeatures *first = gst_caps_get_features (templ, 0);
  fail_unless (gst_caps_features_contains (first, "memory:CUDAMemory"),
      "CUDA memory should come first, so CUDA producers keep frames on the device");

  for (guint i = 0; i < 7; i++)
    push_ok (c, make_frame (i));
  push_eos (c);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 7);
  fail_unless_equals_int (n_metrics (c), 6);
  for (guint i = 1; i < 7; i++)
    check_ok_result (metrics_for (c, i), i, i - 1, i, W, H, i * frame_duration (),
        frame_duration (), i * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 7);
#else
  fail_if (gst_caps_can_intersect (templ, cuda), "CUDA memory without gst-cuda support");
#endif
  gst_caps_unref (templ);
  gst_caps_unref (cuda);
  gst_object_unref (sinkpad);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_buffer_before_caps)
{
  Ctx *c = ctx_new (1, 0, NULL);
  GstSegment seg;

  gst_segment_init (&seg, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (c->h, gst_event_new_segment (&seg)));
  fail_unless_equals_int (gst_harness_push (c->h, make_frame (0)), GST_FLOW_NOT_NEGOTIATED);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
  fail_unless_equals_int (c->errors, 1);
  c->expect_errors = TRUE;
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 7. State changes                                                         */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_state_cycles)
{
  Ctx *c = ctx_new (2, 0, CAPS_64);
  guint expected_buffers = 0;
  GstBuffer *buf;

  for (guint i = 0; i < 100; i++) {
    fail_unless_equals_int (gst_element_set_state (c->element, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (gst_harness_buffers_received (c->h), expected_buffers);
    fail_unless_equals_int (gst_element_set_state (c->element, GST_STATE_PLAYING),
        GST_STATE_CHANGE_SUCCESS);
    if (i % 10 == 0) {
      gchar *id = g_strdup_printf ("cycle-%u", i);
      fail_unless (gst_harness_push_event (c->h, gst_event_new_stream_start (id)));
      g_free (id);
      gst_harness_set_src_caps_str (c->h, CAPS_64);
      for (guint k = 0; k < 3; k++)
        push_ok (c, make_frame (k));
      /* Frames 0 and 1 out, frame 2 held until the next NULL. */
      expected_buffers += 3;
      fail_unless_equals_int (gst_harness_buffers_received (c->h), expected_buffers - 1);
    }
  }
  fail_unless_equals_int (gst_element_set_state (c->element, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 30);
  fail_unless_equals_int (n_metrics (c), 20);
  for (guint i = 0; i < c->metrics->len; i++) {
    const GstStructure *s = g_ptr_array_index (c->metrics, i);
    const guint64 f = get_u64 (s, "frame");
    fail_unless_equals_uint64 (f, 1 + i % 2);
    fail_unless (same_double (get_double (s, "mse"), expected_mse (f - 1, f, W, H)));
  }
  while ((buf = gst_harness_try_pull (c->h)))
    gst_buffer_unref (buf);
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 8. Downstream flow errors                                                */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_downstream_flushing)
{
  Ctx *c = ctx_new (4, 0, CAPS_64);

  for (guint i = 0; i < 3; i++)
    push_ok (c, make_frame (i));
  fail_unless (gst_pad_set_active (c->h->sinkpad, FALSE));
  fail_unless_equals_int (gst_harness_push (c->h, make_frame (3)), GST_FLOW_FLUSHING);
  /* The whole batch is freed. */
  fail_unless_equals_int (g_atomic_int_get (&live_memories), 0);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);

  /* Downstream back: streaming goes on. */
  fail_unless (gst_pad_set_active (c->h->sinkpad, TRUE));
  for (guint i = 4; i < 8; i++)
    push_ok (c, make_frame (i));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 4);
  for (guint i = 5; i < 8; i++)
    check_ok_result (metrics_for (c, i), i, i - 1, i, W, H, i * frame_duration (),
        frame_duration (), i * frame_duration ());
  fail_unless_equals_int (pull_and_check_buffers (c, 4), 4);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_downstream_not_linked)
{
  Ctx *c = ctx_new (4, 0, CAPS_64);
  GstPad *srcpad = gst_element_get_static_pad (c->element, "src");

  for (guint i = 0; i < 3; i++)
    push_ok (c, make_frame (i));
  fail_unless (gst_pad_unlink (srcpad, c->h->sinkpad));
  fail_unless_equals_int (gst_harness_push (c->h, make_frame (3)), GST_FLOW_NOT_LINKED);
  fail_unless_equals_int (g_atomic_int_get (&live_memories), 0);
  fail_unless_equals_int (gst_pad_link (srcpad, c->h->sinkpad), GST_PAD_LINK_OK);
  gst_object_unref (srcpad);
  ctx_free (c);
}

GST_END_TEST;

static GstPadProbeReturn
fail_buffer_1 (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  (void) pad;
  (void) user_data;
  if (GST_BUFFER_OFFSET (buf) != 1)
    return GST_PAD_PROBE_OK;
  gst_buffer_unref (buf);
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = GST_FLOW_ERROR;
  return GST_PAD_PROBE_HANDLED;
}

/* ERROR on the second buffer of a batch: the first is out, the rest dropped
 * and freed, ERROR goes upstream. */
GST_START_TEST (test_downstream_error_mid_batch)
{
  Ctx *c = ctx_new (4, 0, CAPS_64);
  GstBuffer *buf;

  gst_pad_add_probe (c->h->sinkpad, GST_PAD_PROBE_TYPE_BUFFER, fail_buffer_1, NULL, NULL);
  for (guint i = 0; i < 3; i++)
    push_ok (c, make_frame (i));
  fail_unless_equals_int (gst_harness_push (c->h, make_frame (3)), GST_FLOW_ERROR);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 1);
  buf = gst_harness_pull (c->h);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), 0);
  gst_buffer_unref (buf);
  fail_unless_equals_int (g_atomic_int_get (&live_memories), 0);
  ctx_free (c);
}

GST_END_TEST;

/* A failed push from the timeout thread is returned on the next chain. */
GST_START_TEST (test_downstream_flushing_from_timeout)
{
  Ctx *c = ctx_new (8, 20 * MS, CAPS_64);
  GstBuffer *buf;

  gst_harness_set_live (c->h, TRUE);
  fail_unless (gst_pad_set_active (c->h->sinkpad, FALSE));
  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless (WAIT_UNTIL (g_atomic_int_get (&live_memories) == 0, 2000),
      "the timeout did not release (and drop) the held frames");
  fail_unless_equals_int (gst_harness_push (c->h, make_frame (2)), GST_FLOW_FLUSHING);
  fail_unless_equals_int (g_atomic_int_get (&live_memories), 0);

  fail_unless (gst_pad_set_active (c->h->sinkpad, TRUE));
  push_ok (c, make_frame (3));
  fail_unless (WAIT_UNTIL (gst_harness_buffers_received (c->h) == 1, 2000));
  buf = gst_harness_pull (c->h);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), 3);
  gst_buffer_unref (buf);
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 9. Buffers without timestamps, gap buffers, unreadable buffers           */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_no_timestamps)
{
  Ctx *c = ctx_new (3, 0, CAPS_NOFPS);

  for (guint i = 0; i < 5; i++)
    push_ok (c, make_frame_full (i, W, H, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, i, 0));
  push_eos (c);
  assert_seq (c, START_SEQ " B0 M1 B1 M2 B2 M3 B3 M4 B4 S4 E:eos");
  for (guint i = 1; i < 5; i++) {
    const GstStructure *s = metrics_for (c, i);
    check_ok_result (s, i, i - 1, i, W, H, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE,
        GST_CLOCK_TIME_NONE);
    fail_unless_equals_uint64 (get_u64 (s, "stream-time"), GST_CLOCK_TIME_NONE);
  }
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 5);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_gap_buffers)
{
  Ctx *c = ctx_new (2, 0, CAPS_64);
  const GstStructure *s;
  GstBuffer *buf;

  for (guint i = 0; i < 5; i++)
    push_ok (c, make_frame_full (i, W, H, i * frame_duration (), frame_duration (), i,
            i == 2 ? GST_BUFFER_FLAG_GAP : 0));
  push_eos (c);
  assert_seq (c, START_SEQ " B0 M1 B1 M2 B2 B3 M4 B4 S2 E:eos");
  s = metrics_for (c, 2);
  fail_unless_equals_string (gst_structure_get_string (s, "status"), S2S_STATUS_SKIPPED);
  fail_unless (gst_structure_get_string (s, "reason") != NULL);
  fail_unless (isnan (get_double (s, "mse")));
  fail_unless (isnan (get_double (s, "inv-ssim")));
  fail_unless (isnan (get_double (s, "weighted")));
  fail_unless_equals_uint64 (get_u64 (s, "timestamp"), 2 * frame_duration ());
  check_ok_result (metrics_for (c, 4), 4, 3, 4, W, H, 4 * frame_duration (),
      frame_duration (), 4 * frame_duration ());
  for (guint i = 0; i < 5; i++) {
    buf = gst_harness_pull (c->h);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), i);
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_GAP), i == 2);
    if (metrics_for (c, i))
      check_meta_matches (buf, metrics_for (c, i));
    gst_buffer_unref (buf);
  }
  ctx_free (c);
}

GST_END_TEST;

/* A buffer too small for its caps: forwarded, status=error, a WARNING. */
GST_START_TEST (test_short_buffer)
{
  Ctx *c = ctx_new (2, 0, CAPS_64);
  GstBuffer *small = gst_buffer_new_allocate (NULL, 100, NULL);
  const GstStructure *s;

  gst_buffer_memset (small, 0, 7, 100);
  GST_BUFFER_PTS (small) = frame_duration ();
  GST_BUFFER_DURATION (small) = frame_duration ();
  GST_BUFFER_OFFSET (small) = 1;
  push_ok (c, make_frame (0));
  push_ok (c, small);
  push_ok (c, make_frame (2));
  push_ok (c, make_frame (3));
  push_eos (c);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 4);
  s = metrics_for (c, 1);
  fail_unless (s != NULL);
  fail_unless_equals_string (gst_structure_get_string (s, "status"), S2S_STATUS_ERROR);
  fail_unless (gst_structure_get_string (s, "reason") != NULL);
  fail_unless (isnan (get_double (s, "mse")));
  /* Frame 2 has no readable predecessor and says so; 3 pairs with 2. */
  s = metrics_for (c, 2);
  fail_unless (s != NULL);
  fail_unless_equals_string (gst_structure_get_string (s, "status"), S2S_STATUS_ERROR);
  fail_unless (strstr (gst_structure_get_string (s, "reason"), "previous frame") != NULL);
  check_ok_result (metrics_for (c, 3), 3, 2, 3, W, H, 3 * frame_duration (),
      frame_duration (), 3 * frame_duration ());
  fail_unless (c->warnings >= 1);
  c->expect_warnings = TRUE;
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 4);
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 10. Shared (non-writable) input, message and meta switches               */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_shared_input_buffer)
{
  Ctx *c = ctx_new (1, 0, CAPS_64);
  GstBuffer *orig, *out;
  GstMapInfo map;
  guint8 *before;
  gsize size;

  push_ok (c, make_frame (0));
  orig = make_frame (1);
  gst_buffer_ref (orig);        /* the test keeps a ref: not writable */
  fail_unless (gst_buffer_map (orig, &map, GST_MAP_READ));
  before = g_memdup2 (map.data, map.size);
  size = map.size;
  gst_buffer_unmap (orig, &map);

  push_ok (c, orig);
  out = gst_harness_pull (c->h);
  fail_unless (out != NULL && GST_BUFFER_OFFSET (out) == 0);
  fail_unless (s2s_buffer_get_metrics (out) == NULL);
  gst_buffer_unref (out);
  out = gst_harness_pull (c->h);
  fail_unless (out != NULL);
  fail_unless (out != orig, "the element attached its meta to a buffer it did not own");
  fail_unless (s2s_buffer_get_metrics (out) != NULL);
  check_meta_matches (out, metrics_for (c, 1));
  fail_unless (s2s_buffer_get_metrics (orig) == NULL);
  fail_unless (gst_buffer_get_n_meta (orig, gst_meta_get_info (S2S_METRICS_META_NAME)->api) == 0);
  fail_unless (gst_buffer_memcmp (orig, 0, before, size) == 0);
  fail_unless (gst_buffer_memcmp (out, 0, before, size) == 0);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), GST_BUFFER_PTS (orig));
  /* Pixels are not copied. */
  fail_unless (gst_buffer_peek_memory (out, 0) == gst_buffer_peek_memory (orig, 0));
  g_free (before);
  gst_buffer_unref (out);
  gst_buffer_unref (orig);
  ctx_free (c);
}

GST_END_TEST;

GST_START_TEST (test_message_and_meta_switches)
{
  Ctx *c = ctx_new_with (1, 0, CAPS_64, "post-messages", "false");
  GstBuffer *buf;

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless_equals_int (n_metrics (c), 0);
  gst_buffer_unref (gst_harness_pull (c->h));
  buf = gst_harness_pull (c->h);
  fail_unless (s2s_buffer_get_metrics (buf) != NULL);
  gst_buffer_unref (buf);
  ctx_free (c);

  c = ctx_new_with (1, 0, CAPS_64, "attach-meta", "false");
  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless_equals_int (n_metrics (c), 1);
  gst_buffer_unref (gst_harness_pull (c->h));
  buf = gst_harness_pull (c->h);
  fail_unless (s2s_buffer_get_metrics (buf) == NULL);
  gst_buffer_unref (buf);
  ctx_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Upstream buffers: an element that holds frames must give them back on a  */
/* DRAIN query and account for them in the ALLOCATION query                 */
/* ------------------------------------------------------------------------ */

/* A DRAIN query (serialized) from upstream, e.g. a decoder about to
 * reconfigure its pool, releases the held frames before it is answered. */
GST_START_TEST (test_drain_query_releases_held)
{
  Ctx *c = ctx_new (4, 0, CAPS_64);
  GstQuery *q;

  push_ok (c, make_frame (0));
  push_ok (c, make_frame (1));
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 0);
  q = gst_query_new_drain ();
  gst_pad_peer_query (c->h->srcpad, q);
  gst_query_unref (q);
  fail_unless_equals_int (gst_harness_buffers_received (c->h), 2);
  fail_unless_equals_int (pull_and_check_buffers (c, 0), 2);
  ctx_free (c);
}

GST_END_TEST;

#define DOWNSTREAM_MIN_BUFFERS 2

static GstPadProbeReturn
answer_allocation (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstQuery *q = GST_PAD_PROBE_INFO_QUERY (info);
  GstBufferPool *pool;
  (void) pad;
  (void) user_data;
  if (GST_QUERY_TYPE (q) != GST_QUERY_ALLOCATION)
    return GST_PAD_PROBE_OK;
  pool = gst_buffer_pool_new ();
  gst_query_add_allocation_pool (q, pool, W * H, DOWNSTREAM_MIN_BUFFERS, 0);
  gst_object_unref (pool);
  return GST_PAD_PROBE_HANDLED;
}

/* Up to batch-size frames are held besides what downstream holds: a
 * bounded upstream pool sized from the proxied answer alone runs dry and
 * blocks (for ever with batch-timeout=0). */
GST_START_TEST (test_allocation_counts_held_frames)
{
  const guint batch = 8;
  Ctx *c = ctx_new (batch, 0, CAPS_64);
  GstCaps *caps = gst_caps_from_string (CAPS_64);
  GstQuery *q = gst_query_new_allocation (caps, TRUE);
  GstBufferPool *pool = NULL;
  guint size = 0, min = 0, max = 0;

  gst_pad_add_probe (c->h->sinkpad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM, answer_allocation,
      NULL, NULL);
  fail_unless (gst_pad_peer_query (c->h->srcpad, q));
  fail_unless_equals_int (gst_query_get_n_allocation_pools (q), 1);
  gst_query_parse_nth_allocation_pool (q, 0, &pool, &size, &min, &max);
  fail_unless (min >= DOWNSTREAM_MIN_BUFFERS + batch - 1, "allocation answer min-buffers %u: "
      "downstream needs %u and the element holds up to %u more", min,
      DOWNSTREAM_MIN_BUFFERS, batch - 1);
  fail_unless (max == 0 || max >= min);
  if (pool)
    gst_object_unref (pool);
  gst_query_unref (q);
  gst_caps_unref (caps);
  ctx_free (c);
}

GST_END_TEST;

static Suite *
s2smetrics_flow_suite (void)
{
  Suite *s = suite_create ("s2smetrics_flow");
  s2s_check_preload (FALSE);
  TCase *tc;

  tc = tcase_create ("batching");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_batch_holds_until_full);
  tcase_add_test (tc, test_batch_size_equivalence);
  tcase_add_test (tc, test_batch_size_change_while_streaming);

  tc = tcase_create ("events");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_events_kept_in_place);

  tc = tcase_create ("drain");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_eos_drains_partial_batch);
  tcase_add_test (tc, test_eos_without_buffers);
  tcase_add_test (tc, test_eos_right_after_caps);
  tcase_add_test (tc, test_caps_change_drains);
  tcase_add_test (tc, test_same_caps_keep_chain);
  tcase_add_test (tc, test_ready_drains);

  tc = tcase_create ("chain");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_reset_on_discont);
  tcase_add_test (tc, test_reset_on_segment);
  tcase_add_test (tc, test_reset_on_flush);
  tcase_add_test (tc, test_flush_drops_held);
  tcase_add_test (tc, test_flush_start_not_held);
  tcase_add_test (tc, test_reset_on_stream_start);
  tcase_add_test (tc, test_frame_index_counts_all);

  tc = tcase_create ("live");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_live_batch_timeout);
  tcase_add_test (tc, test_latency_query);

  tc = tcase_create ("negotiation");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_refuse_unsupported_caps);
  tcase_add_test (tc, test_accept_supported_caps);
  tcase_add_test (tc, test_cuda_memory_caps);
  tcase_add_test (tc, test_buffer_before_caps);

  tc = tcase_create ("state");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_state_cycles);

  tc = tcase_create ("downstream");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_downstream_flushing);
  tcase_add_test (tc, test_downstream_not_linked);
  tcase_add_test (tc, test_downstream_error_mid_batch);
  tcase_add_test (tc, test_downstream_flushing_from_timeout);

  tc = tcase_create ("buffers");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_no_timestamps);
  tcase_add_test (tc, test_gap_buffers);
  tcase_add_test (tc, test_short_buffer);
  tcase_add_test (tc, test_shared_input_buffer);
  tcase_add_test (tc, test_message_and_meta_switches);

  tc = tcase_create ("upstream");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_drain_query_releases_held);
  tcase_add_test (tc, test_allocation_counts_held_frames);

  return s;
}

GST_CHECK_MAIN (s2smetrics_flow);
