/* GstS2sAnalyzer: abstract base of the plugin's analysis elements.
 *
 * It owns everything that is the same for s2smetrics and musiqscore: the
 * always sink/src pads in passthrough, caps and allocation proxying, holding
 * frames for a batch (with events kept in place), the batch timeout, the
 * LATENCY answer, draining on EOS / caps / READY, flushing, the common
 * properties, and posting each frame's result as an element message and a
 * custom meta. Subclasses only turn a batch of mapped frames into result
 * structures. */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_S2S_ANALYZER (gst_s2s_analyzer_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstS2sAnalyzer, gst_s2s_analyzer, GST, S2S_ANALYZER, GstElement)

typedef enum
{
  GST_S2S_DEVICE_AUTO,
  GST_S2S_DEVICE_CUDA,
  GST_S2S_DEVICE_CPU,
} GstS2sDevice;

typedef enum
{
  GST_S2S_PRECISION_FP32,
  GST_S2S_PRECISION_FP16,
  GST_S2S_PRECISION_BF16,
} GstS2sPrecision;

#define GST_TYPE_S2S_DEVICE (gst_s2s_device_get_type ())
GType gst_s2s_device_get_type (void);
#define GST_TYPE_S2S_PRECISION (gst_s2s_precision_get_type ())
GType gst_s2s_precision_get_type (void);

/* One held frame, as the subclass sees it when scoring a batch. */
typedef struct
{
  GstVideoFrame vframe;         /* mapped for reading; valid only if mapped */
  gboolean mapped;
  /* The pair chain continues from the frame before (the previous frame of
   * this batch, or the last frame of the previous batch). FALSE after a
   * flush, new segment, caps change, stream start, DISCONT or gap. */
  gboolean has_previous;
  gboolean scorable;            /* FALSE for GAP buffers and unmappable ones */
  const gchar *unscored_status; /* when not scorable: "skipped" (gap) or "error" */
  const gchar *unscored_reason; /* and why */
  guint64 index;                /* frame index since the stream started */
  GstClockTime pts, duration, stream_time, running_time;
  /* Set by the subclass: the result to post and attach, or NULL for none.
   * Create it with gst_s2s_analyzer_new_result(). */
  GstStructure *result;
} GstS2sFrame;

/* Common property ids; subclasses number theirs from
 * GST_S2S_ANALYZER_PROP_LAST and pass lower ids to the common handlers. */
enum
{
  GST_S2S_ANALYZER_PROP_0,
  GST_S2S_ANALYZER_PROP_DEVICE,
  GST_S2S_ANALYZER_PROP_CUDA_DEVICE_ID,
  GST_S2S_ANALYZER_PROP_BATCH_SIZE,
  GST_S2S_ANALYZER_PROP_BATCH_TIMEOUT,
  GST_S2S_ANALYZER_PROP_POST_MESSAGES,
  GST_S2S_ANALYZER_PROP_ATTACH_META,
  GST_S2S_ANALYZER_PROP_PRECISION,
  GST_S2S_ANALYZER_PROP_LAST
};

struct _GstS2sAnalyzerClass
{
  GstElementClass parent_class;

  /* Structure name of per-frame messages and custom meta name (registered
   * with gst_meta_register_custom). Set in class_init. */
  const gchar *message_name;
  const gchar *meta_name;

  /* READY->PAUSED: build engines and models. On failure post an ERROR with
   * GST_ELEMENT_ERROR and return FALSE. */
  gboolean (*start) (GstS2sAnalyzer * self);
  /* PAUSED->READY, after the last batch: drop engines. */
  void (*stop) (GstS2sAnalyzer * self);
  /* New caps (all earlier frames have been scored). FALSE refuses the caps. */
  gboolean (*set_info) (GstS2sAnalyzer * self, const GstVideoInfo * info);
  /* A new stream starts: clear accumulated statistics. */
  void (*reset_stream) (GstS2sAnalyzer * self);
  /* Score frames[0 .. n) in stream order and set frames[i].result.
   * Must not throw and must not post messages itself while holding locks. */
  void (*score) (GstS2sAnalyzer * self, GstS2sFrame * frames, guint n);
  /* EOS: the summary structure to post, or NULL. */
  GstStructure *(*make_summary) (GstS2sAnalyzer * self);
};

/* Installs the common properties on a subclass (so that each element shows
 * its own batch-size default). */
void gst_s2s_analyzer_class_install_properties (GObjectClass * klass, guint default_batch_size);
void gst_s2s_analyzer_set_common_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec);
void gst_s2s_analyzer_get_common_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec);

/* Settings, read under the object lock. */
GstS2sDevice gst_s2s_analyzer_get_device (GstS2sAnalyzer * self);
GstS2sPrecision gst_s2s_analyzer_get_precision (GstS2sAnalyzer * self);

/* Applies the device policy for an element whose engines run on the CPU in
 * this build: device=cuda fails with GST_RESOURCE_ERROR_NOT_FOUND, auto
 * falls back with one WARNING. Returns FALSE when the start must fail. */
gboolean gst_s2s_analyzer_use_cpu (GstS2sAnalyzer * self);

/* A result structure with the fields every message carries: frame,
 * timestamp, stream-time, running-time, duration. */
GstStructure *gst_s2s_analyzer_new_result (GstS2sAnalyzer * self, const GstS2sFrame * frame);

G_END_DECLS
