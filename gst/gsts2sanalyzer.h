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

/* What a setup fault (model missing or corrupt, no device) does. */
typedef enum
{
  GST_S2S_ON_ERROR_ERROR,       /* ERROR message, the state change fails */
  GST_S2S_ON_ERROR_PASSTHROUGH, /* WARNING, frames pass through unscored */
} GstS2sOnError;

/* How a batch went, as the subclass's score() reports it. Failures of
 * single frames are reported in their results instead; these two concern
 * the device and are the base class's to handle (docs/reliability.md). */
typedef enum
{
  GST_S2S_SCORE_OK,
  /* Nothing was scored and no engine state changed: the base class retries
   * with smaller batches, then passes the frames through unscored. */
  GST_S2S_SCORE_OUT_OF_MEMORY,
  /* The device is unusable (sticky CUDA error): the base class stops
   * calling score() until the next start and passes frames through. */
  GST_S2S_SCORE_DEVICE_LOST,
} GstS2sScoreStatus;

typedef enum
{
  GST_S2S_PRECISION_FP32,
  GST_S2S_PRECISION_FP16,
  GST_S2S_PRECISION_BF16,
} GstS2sPrecision;

/* How YUV frames become the RGB and gray the metrics read. */
typedef enum
{
  /* As the replaced service's cv2.VideoCapture did: libswscale's integer
   * conversion with the stream's tagged matrix (BT.601 when untagged) and
   * range, bit-exact (docs/metrics.md). */
  GST_S2S_CONVERSION_SERVICE,
  /* The caps' colorimetry, exact real-valued conversion. */
  GST_S2S_CONVERSION_COLORIMETRY,
} GstS2sConversion;

#define GST_TYPE_S2S_DEVICE (gst_s2s_device_get_type ())
GType gst_s2s_device_get_type (void);
#define GST_TYPE_S2S_PRECISION (gst_s2s_precision_get_type ())
GType gst_s2s_precision_get_type (void);
#define GST_TYPE_S2S_ON_ERROR (gst_s2s_on_error_get_type ())
GType gst_s2s_on_error_get_type (void);
#define GST_TYPE_S2S_CONVERSION (gst_s2s_conversion_get_type ())
GType gst_s2s_conversion_get_type (void);

/* One held frame, as the subclass sees it when scoring a batch. */
typedef struct
{
  GstVideoFrame vframe;         /* mapped for reading; valid only if mapped */
  gboolean mapped;
  /* The planes are device memory of the engines' CUDA device (zero-copy
   * CUDA input; see gst_s2s_analyzer_set_reads_cuda_memory). The same for
   * every frame of a batch. */
  gboolean on_device;
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
  GST_S2S_ANALYZER_PROP_ON_ERROR,
  GST_S2S_ANALYZER_PROP_CONVERSION,
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
  /* Score frames[0 .. n) in stream order and set frames[i].result; frames
   * that are not scorable get a result saying why (their unscored_status
   * and unscored_reason). Must not throw and must not post messages itself
   * while holding locks. On OUT_OF_MEMORY or DEVICE_LOST, *reason says what
   * happened (g_free'd by the caller) and no result is set. */
  GstS2sScoreStatus (*score) (GstS2sAnalyzer * self, GstS2sFrame * frames, guint n,
      gchar ** reason);
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
/* The conversion property: read it in set_info() and pass it on to
 * s2s::stream_format_from_info(). */
GstS2sConversion gst_s2s_analyzer_get_conversion (GstS2sAnalyzer * self);
/* In set_info(): the colorimetry the caps state, field by field, UNKNOWN
 * where they say nothing (no colorimetry field: all UNKNOWN). GstVideoInfo
 * fills unknown fields with defaults for the size and drops a full range
 * whose matrix is unknown ("1:0:0:0"); the service conversion needs the
 * stream's own tags, as FFmpeg saw them. */
void gst_s2s_analyzer_get_caps_colorimetry (GstS2sAnalyzer * self, GstVideoColorimetry * out);
/* The device the engines should use: cuda-device-id, else the device of the
 * pipeline's CUDA context, else 0. */
gint gst_s2s_analyzer_get_cuda_device (GstS2sAnalyzer * self);

/* Called from start(): the engines read frames in device memory of
 * gst_s2s_analyzer_get_cuda_device(), so frames in CUDA memory are handed
 * over on the device (GstS2sFrame.on_device) instead of mapped to the host. */
void gst_s2s_analyzer_set_reads_cuda_memory (GstS2sAnalyzer * self, gboolean reads);
/* While scoring a batch of frames on the device: the cudaStream_t whose
 * queued work the engines must wait for before reading them (copies from
 * another CUDA context), or NULL. */
gpointer gst_s2s_analyzer_get_frames_stream (GstS2sAnalyzer * self);

/* Applies the device policy for an element whose engines run on the CPU in
 * this build: device=cuda is a setup fault (GST_RESOURCE_ERROR_NOT_FOUND;
 * with on-error=passthrough frames then pass unscored), auto falls back with
 * one WARNING. Returns FALSE when the start must fail. */
gboolean gst_s2s_analyzer_use_cpu (GstS2sAnalyzer * self);

/* The same policy where no CUDA device is usable for the reason `why`
 * (named in the message): device=cuda is the setup fault, auto falls back
 * to the CPU with one WARNING, cpu needs nothing. FALSE: the start must
 * fail. */
gboolean gst_s2s_analyzer_no_cuda_device (GstS2sAnalyzer * self, const gchar * why);

/* A fault while starting (model missing or corrupt, no device), posted
 * according to on-error: an ERROR, returning FALSE (the start must fail), or
 * with on-error=passthrough a WARNING, returning TRUE (the subclass goes on,
 * degraded, or calls gst_s2s_analyzer_pass_through_unscored). Use the macro,
 * which takes GST_ELEMENT_ERROR's arguments. */
gboolean gst_s2s_analyzer_setup_fault (GstS2sAnalyzer * self, GQuark domain, gint code,
    gchar * text, gchar * debug, const gchar * file, const gchar * function, gint line);
#define GST_S2S_ANALYZER_SETUP_FAULT(self, domain, code, text, debug) \
  gst_s2s_analyzer_setup_fault (GST_S2S_ANALYZER (self), GST_ ## domain ## _ERROR, \
      GST_ ## domain ## _ERROR_ ## code, _gst_element_error_printf text, \
      _gst_element_error_printf debug, __FILE__, GST_FUNCTION, __LINE__)

/* Until the next start, every frame passes through unscored with status
 * error and this reason; score() is not called for scorable frames. */
void gst_s2s_analyzer_pass_through_unscored (GstS2sAnalyzer * self, const gchar * reason);
/* Whether it does (subclasses then need no engine). */
gboolean gst_s2s_analyzer_passes_through_unscored (GstS2sAnalyzer * self);

/* Test builds: TRUE when the fault-injection plan says that loading a model
 * fails (see s2sfault.h). Always FALSE elsewhere. */
gboolean gst_s2s_analyzer_inject_model_load_fault (GstS2sAnalyzer * self);

/* A result structure with the fields every message carries: frame,
 * timestamp, stream-time, running-time, duration. */
GstStructure *gst_s2s_analyzer_new_result (GstS2sAnalyzer * self, const GstS2sFrame * frame);

G_END_DECLS
