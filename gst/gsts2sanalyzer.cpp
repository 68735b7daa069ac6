/* GstS2sAnalyzer: see gsts2sanalyzer.h.
 *
 * Threads and locks
 * - The streaming thread calls chain() and serialized events with the sink
 *   pad's STREAM_LOCK held. The batch-timeout thread takes the same lock
 *   before it scores and pushes, so batches, buffers and events leave in
 *   order whoever releases them.
 * - priv->lock guards the held queue and the stream state; it is never held
 *   while pushing, posting or scoring.
 * - Settings are guarded by the object lock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsts2sanalyzer.h"
#include "s2s-meta.h"
#include "s2scaps.h"
#include "s2sfault.h"
#include "s2svideo.h"
#if S2S_HAVE_GST_CUDA
#include <gst/cuda/gstcudamemory.h>
#include "s2scuda.h"
#endif

#include <algorithm>
#include <cmath>
#include <deque>
#include <exception>
#include <new>
#include <string>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (gst_s2s_analyzer_debug);
#define GST_CAT_DEFAULT gst_s2s_analyzer_debug

#define DEFAULT_DEVICE GST_S2S_DEVICE_AUTO
#define DEFAULT_CUDA_DEVICE_ID -1
#define DEFAULT_BATCH_TIMEOUT 0
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_ATTACH_META TRUE
#define DEFAULT_PRECISION GST_S2S_PRECISION_FP32
#define DEFAULT_ON_ERROR GST_S2S_ON_ERROR_ERROR
#define DEFAULT_CONVERSION GST_S2S_CONVERSION_SERVICE
#define MAX_BATCH_SIZE 256

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (S2S_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (S2S_CAPS));

namespace {

/* A buffer or a serialized event waiting in the held queue. */
struct HeldItem
{
  GstBuffer *buffer = nullptr;
  GstEvent *event = nullptr;
  GstS2sFrame frame {};
};

struct Settings
{
  GstS2sDevice device = DEFAULT_DEVICE;
  gint cuda_device_id = DEFAULT_CUDA_DEVICE_ID;
  guint batch_size = 16;
  guint64 batch_timeout = DEFAULT_BATCH_TIMEOUT;
  gboolean post_messages = DEFAULT_POST_MESSAGES;
  gboolean attach_meta = DEFAULT_ATTACH_META;
  GstS2sPrecision precision = DEFAULT_PRECISION;
  GstS2sOnError on_error = DEFAULT_ON_ERROR;
  GstS2sConversion conversion = DEFAULT_CONVERSION;
};

struct Private
{
  Private ()
  {
    g_mutex_init (&lock);
    g_cond_init (&cond);
    gst_video_info_init (&info);
    gst_segment_init (&segment, GST_FORMAT_UNDEFINED);
  }
  ~Private ()
  {
    g_mutex_clear (&lock);
    g_cond_clear (&cond);
  }

  Settings settings;            /* under the object lock */

  GMutex lock;                  /* everything below */
  GCond cond;                   /* wakes the timeout thread */
  std::deque<HeldItem> held;
  guint held_frames = 0;
  gint64 oldest_arrival = 0;    /* monotonic us of the oldest held frame */
  gboolean have_info = FALSE;
  GstVideoInfo info;
  /* The caps' own colorimetry fields (gst_s2s_analyzer_get_caps_colorimetry);
   * written by the streaming thread before set_info. */
  GstVideoColorimetry caps_colorimetry = { };
  GstSegment segment;
  gboolean chain_open = FALSE;  /* the next frame pairs with the previous one */
  guint64 next_index = 0;
  gboolean flushing = FALSE;
  GstFlowReturn deferred_flow = GST_FLOW_OK;    /* from a timeout push */
  GThread *timer = nullptr;
  gboolean timer_running = FALSE;
  gboolean started = FALSE;

  /* Fault handling (docs/reliability.md), reset at each start. */
  s2s::FaultPlan faults;        /* test builds only; empty otherwise */
  guint64 batches = 0;          /* batches released since the start */
  guint max_frames_per_call = 0;        /* lowered after out of memory; 0 = any */
  std::string unscored_reason;  /* non-empty: pass everything through unscored */
  gboolean warned_oom = FALSE;

  /* CUDA memory: the caps say so, and the subclass's engines read device
   * memory (set at start). Streaming thread only, after the start. */
  gboolean cuda_caps = FALSE;
  gboolean reads_cuda_memory = FALSE;
  void *frames_stream = nullptr;        /* of the batch being scored */
  gboolean warned_cuda_read = FALSE;
#if S2S_HAVE_GST_CUDA
  s2s::CudaLink cuda;           /* the pipeline's CUDA context; own locking */
#endif
};

}  // namespace

typedef struct
{
  GstPad *sinkpad;
  GstPad *srcpad;
  Private *p;
} GstS2sAnalyzerPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (GstS2sAnalyzer, gst_s2s_analyzer, GST_TYPE_ELEMENT,
    G_ADD_PRIVATE (GstS2sAnalyzer);
    GST_DEBUG_CATEGORY_INIT (gst_s2s_analyzer_debug, "s2sanalyzer", 0, "s2s analysis base"));

#define PRIV(self) ((GstS2sAnalyzerPrivate *) gst_s2s_analyzer_get_instance_private (self))

GType
gst_s2s_device_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_S2S_DEVICE_AUTO, "CUDA if a usable device exists, else the CPU", "auto"},
    {GST_S2S_DEVICE_CUDA, "CUDA GPU (fail if there is none)", "cuda"},
    {GST_S2S_DEVICE_CPU, "CPU", "cpu"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstS2sDevice", values));
  return type;
}

GType
gst_s2s_on_error_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_S2S_ON_ERROR_ERROR, "Post an ERROR and fail the state change", "error"},
    {GST_S2S_ON_ERROR_PASSTHROUGH, "Post a WARNING and pass frames through unscored",
        "passthrough"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstS2sOnError", values));
  return type;
}

GType
gst_s2s_conversion_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_S2S_CONVERSION_SERVICE,
        "As the replaced service's cv2.VideoCapture: libswscale's integer conversion, bit-exact",
        "service"},
    {GST_S2S_CONVERSION_COLORIMETRY, "The caps' colorimetry, exact real-valued conversion",
        "colorimetry"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstS2sConversion", values));
  return type;
}

GType
gst_s2s_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_S2S_PRECISION_FP32, "32-bit float (true fp32, no TF32)", "fp32"},
    {GST_S2S_PRECISION_FP16, "16-bit float", "fp16"},
    {GST_S2S_PRECISION_BF16, "bfloat16", "bf16"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstS2sPrecision", values));
  return type;
}

/* ------------------------------------------------------------------------ */
/* Properties                                                               */
/* ------------------------------------------------------------------------ */

void
gst_s2s_analyzer_class_install_properties (GObjectClass * klass, guint default_batch_size)
{
  const GParamFlags rw = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags rw_playing = (GParamFlags) (rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags rw_ready = (GParamFlags) (rw | GST_PARAM_MUTABLE_READY);

  g_object_class_install_property (klass, GST_S2S_ANALYZER_PROP_DEVICE,
      g_param_spec_enum ("device", "Device",
          "Where to compute: auto = CUDA if a usable device exists, else the CPU (with a warning)",
          GST_TYPE_S2S_DEVICE, DEFAULT_DEVICE, rw_ready));
  g_object_class_install_property (klass, GST_S2S_ANALYZER_PROP_CUDA_DEVICE_ID,
      g_param_spec_int ("cuda-device-id", "CUDA device id",
          "CUDA device to use; -1: the upstream CUDA context's device, or device 0",
          -1, G_MAXINT, DEFAULT_CUDA_DEVICE_ID, rw_ready));
  g_object_class_install_property (klass, GST_S2S_ANALYZER_PROP_BATCH_SIZE,
      g_param_spec_uint ("batch-size", "Batch size",
          "Frames held and computed together (1 = no batching, no added latency)",
          1, MAX_BATCH_SIZE, default_batch_size, rw_playing));
  g_object_class_install_property (klass, GST_S2S_ANALYZER_PROP_BATCH_TIMEOUT,
      g_param_spec_uint64 ("batch-timeout", "Batch timeout",
          "Nanoseconds the oldest held frame may wait before a partial batch is computed "
          "(0 = wait for a full batch or EOS; set it for live sources)",
          0, G_MAXUINT64, DEFAULT_BATCH_TIMEOUT, rw_playing));
  g_object_class_install_property (klass, GST_S2S_ANALYZER_PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an element message with the results of each analysed frame",
          DEFAULT_POST_MESSAGES, rw_playing));
  g_object_class_install_property (klass, GST_S2S_ANALYZER_PROP_ATTACH_META,
      g_param_spec_boolean ("attach-meta", "Attach meta",
          "Attach the results to each analysed buffer as a custom meta",
          DEFAULT_ATTACH_META, rw_playing));
  g_object_class_install_property (klass, GST_S2S_ANALYZER_PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Network precision (MSE/SSIM always accumulate in fp32 or better)",
          GST_TYPE_S2S_PRECISION, DEFAULT_PRECISION, rw_ready));
  g_object_class_install_property (klass, GST_S2S_ANALYZER_PROP_ON_ERROR,
      g_param_spec_enum ("on-error", "On error",
          "What a setup fault (model missing or corrupt, no device) does: error = ERROR and "
          "the state change fails; passthrough = WARNING and frames pass through unscored. "
          "Faults while streaming always give a WARNING and pass frames through",
          GST_TYPE_S2S_ON_ERROR, DEFAULT_ON_ERROR, rw_ready));
  g_object_class_install_property (klass, GST_S2S_ANALYZER_PROP_CONVERSION,
      g_param_spec_enum ("conversion", "Conversion",
          "How YUV frames become RGB and gray: service = as the replaced service's "
          "cv2.VideoCapture (libswscale's integer conversion with the stream's tagged matrix, "
          "BT.601 when untagged, and its range); colorimetry = the caps' colorimetry, exact. "
          "Applies from the next caps",
          GST_TYPE_S2S_CONVERSION, DEFAULT_CONVERSION, rw_ready));
}

static void post_latency_message (GstS2sAnalyzer * self);
static void wake_timer (GstS2sAnalyzer * self);

void
gst_s2s_analyzer_set_common_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (object);
  Settings & s = PRIV (self)->p->settings;
  gboolean latency_changed = FALSE;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case GST_S2S_ANALYZER_PROP_DEVICE:
      s.device = (GstS2sDevice) g_value_get_enum (value);
      break;
    case GST_S2S_ANALYZER_PROP_CUDA_DEVICE_ID:
      s.cuda_device_id = g_value_get_int (value);
      break;
    case GST_S2S_ANALYZER_PROP_BATCH_SIZE:
      latency_changed = s.batch_size != g_value_get_uint (value);
      s.batch_size = g_value_get_uint (value);
      break;
    case GST_S2S_ANALYZER_PROP_BATCH_TIMEOUT:
      latency_changed = s.batch_timeout != g_value_get_uint64 (value);
      s.batch_timeout = g_value_get_uint64 (value);
      break;
    case GST_S2S_ANALYZER_PROP_POST_MESSAGES:
      s.post_messages = g_value_get_boolean (value);
      break;
    case GST_S2S_ANALYZER_PROP_ATTACH_META:
      s.attach_meta = g_value_get_boolean (value);
      break;
    case GST_S2S_ANALYZER_PROP_PRECISION:
      s.precision = (GstS2sPrecision) g_value_get_enum (value);
      break;
    case GST_S2S_ANALYZER_PROP_ON_ERROR:
      s.on_error = (GstS2sOnError) g_value_get_enum (value);
      break;
    case GST_S2S_ANALYZER_PROP_CONVERSION:
      s.conversion = (GstS2sConversion) g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);

  if (latency_changed) {
    wake_timer (self);
    post_latency_message (self);
  }
}

void
gst_s2s_analyzer_get_common_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (object);
  const Settings & s = PRIV (self)->p->settings;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case GST_S2S_ANALYZER_PROP_DEVICE:
      g_value_set_enum (value, s.device);
      break;
    case GST_S2S_ANALYZER_PROP_CUDA_DEVICE_ID:
      g_value_set_int (value, s.cuda_device_id);
      break;
    case GST_S2S_ANALYZER_PROP_BATCH_SIZE:
      g_value_set_uint (value, s.batch_size);
      break;
    case GST_S2S_ANALYZER_PROP_BATCH_TIMEOUT:
      g_value_set_uint64 (value, s.batch_timeout);
      break;
    case GST_S2S_ANALYZER_PROP_POST_MESSAGES:
      g_value_set_boolean (value, s.post_messages);
      break;
    case GST_S2S_ANALYZER_PROP_ATTACH_META:
      g_value_set_boolean (value, s.attach_meta);
      break;
    case GST_S2S_ANALYZER_PROP_PRECISION:
      g_value_set_enum (value, s.precision);
      break;
    case GST_S2S_ANALYZER_PROP_ON_ERROR:
      g_value_set_enum (value, s.on_error);
      break;
    case GST_S2S_ANALYZER_PROP_CONVERSION:
      g_value_set_enum (value, s.conversion);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static Settings
read_settings (GstS2sAnalyzer * self)
{
  GST_OBJECT_LOCK (self);
  Settings s = PRIV (self)->p->settings;
  GST_OBJECT_UNLOCK (self);
  return s;
}

GstS2sDevice
gst_s2s_analyzer_get_device (GstS2sAnalyzer * self)
{
  return read_settings (self).device;
}

GstS2sPrecision
gst_s2s_analyzer_get_precision (GstS2sAnalyzer * self)
{
  return read_settings (self).precision;
}

GstS2sConversion
gst_s2s_analyzer_get_conversion (GstS2sAnalyzer * self)
{
  return read_settings (self).conversion;
}

void
gst_s2s_analyzer_get_caps_colorimetry (GstS2sAnalyzer * self, GstVideoColorimetry * out)
{
  Private *p = PRIV (self)->p;
  g_mutex_lock (&p->lock);
  *out = p->caps_colorimetry;
  g_mutex_unlock (&p->lock);
}

gint
gst_s2s_analyzer_get_cuda_device (GstS2sAnalyzer * self)
{
  const gint id = read_settings (self).cuda_device_id;
  if (id >= 0)
    return id;
#if S2S_HAVE_GST_CUDA
  const int linked = PRIV (self)->p->cuda.device_id ();
  if (linked >= 0)
    return linked;
#endif
  return 0;
}

void
gst_s2s_analyzer_set_reads_cuda_memory (GstS2sAnalyzer * self, gboolean reads)
{
  PRIV (self)->p->reads_cuda_memory = reads;
}

gpointer
gst_s2s_analyzer_get_frames_stream (GstS2sAnalyzer * self)
{
  return PRIV (self)->p->frames_stream;
}

gboolean
gst_s2s_analyzer_setup_fault (GstS2sAnalyzer * self, GQuark domain, gint code, gchar * text,
    gchar * debug, const gchar * file, const gchar * function, gint line)
{
  const gboolean pass = read_settings (self).on_error == GST_S2S_ON_ERROR_PASSTHROUGH;
  if (pass) {
    /* Say what the frames will be missing, and how to get the ERROR. */
    gchar *more = g_strdup_printf ("%s; on-error=passthrough: frames pass through unscored "
        "where this fault matters", debug ? debug : "");
    g_free (debug);
    debug = more;
  }
  gst_element_message_full (GST_ELEMENT (self),
      pass ? GST_MESSAGE_WARNING : GST_MESSAGE_ERROR, domain, code, text, debug, file, function,
      line);
  return pass;
}

void
gst_s2s_analyzer_pass_through_unscored (GstS2sAnalyzer * self, const gchar * reason)
{
  Private *p = PRIV (self)->p;
  g_mutex_lock (&p->lock);
  p->unscored_reason = reason ? reason : "not scored";
  g_mutex_unlock (&p->lock);
}

gboolean
gst_s2s_analyzer_passes_through_unscored (GstS2sAnalyzer * self)
{
  Private *p = PRIV (self)->p;
  g_mutex_lock (&p->lock);
  const gboolean pass = !p->unscored_reason.empty ();
  g_mutex_unlock (&p->lock);
  return pass;
}

gboolean
gst_s2s_analyzer_inject_model_load_fault (GstS2sAnalyzer * self)
{
  return PRIV (self)->p->faults.model_load_fails;
}

gboolean
gst_s2s_analyzer_no_cuda_device (GstS2sAnalyzer * self, const gchar * why)
{
  switch (gst_s2s_analyzer_get_device (self)) {
    case GST_S2S_DEVICE_CUDA:
      if (!GST_S2S_ANALYZER_SETUP_FAULT (self, RESOURCE, NOT_FOUND, ("No usable CUDA device"),
              ("device=cuda: %s; use device=auto or device=cpu", why)))
        return FALSE;
      gst_s2s_analyzer_pass_through_unscored (self, "device=cuda and no usable CUDA device");
      return TRUE;
    case GST_S2S_DEVICE_AUTO:
      GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
          ("No usable CUDA device: computing on the CPU"), ("device=auto: %s", why));
      return TRUE;
    default:
      return TRUE;
  }
}

gboolean
gst_s2s_analyzer_use_cpu (GstS2sAnalyzer * self)
{
  GstElementFactory *factory = gst_element_get_factory (GST_ELEMENT (self));
  gchar *why = g_strdup_printf ("this build of gst-s2s has no CUDA engine for %s",
      factory ? GST_OBJECT_NAME (factory) : G_OBJECT_TYPE_NAME (self));
  const gboolean go_on = gst_s2s_analyzer_no_cuda_device (self, why);
  g_free (why);
  return go_on;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                  */
/* ------------------------------------------------------------------------ */

GstStructure *
gst_s2s_analyzer_new_result (GstS2sAnalyzer * self, const GstS2sFrame * frame)
{
  GstS2sAnalyzerClass *klass = GST_S2S_ANALYZER_GET_CLASS (self);
  return gst_structure_new (klass->message_name,
      "frame", G_TYPE_UINT64, frame->index,
      "timestamp", G_TYPE_UINT64, frame->pts,
      "stream-time", G_TYPE_UINT64, frame->stream_time,
      "running-time", G_TYPE_UINT64, frame->running_time,
      "duration", G_TYPE_UINT64, frame->duration, NULL);
}

static gboolean
copy_field (GQuark field, const GValue * value, gpointer user_data)
{
  gst_structure_id_set_value ((GstStructure *) user_data, field, value);
  return TRUE;
}

/* Attaches the result as meta and returns the message to post, or NULL. */
static GstMessage *
publish_result (GstS2sAnalyzer * self, GstBuffer ** buffer, GstStructure * result,
    const Settings & s)
{
  GstS2sAnalyzerClass *klass = GST_S2S_ANALYZER_GET_CLASS (self);

  if (s.attach_meta) {
    /* A shared buffer gets a new GstBuffer around the same memory: the
     * pixels are never copied or changed, and other holders never see our
     * meta appear. */
    *buffer = gst_buffer_make_writable (*buffer);
    GstCustomMeta *meta = gst_buffer_add_custom_meta (*buffer, klass->meta_name);
    if (meta)
      gst_structure_foreach (result, copy_field, gst_custom_meta_get_structure (meta));
    else
      GST_WARNING_OBJECT (self, "custom meta %s is not registered", klass->meta_name);
  }
  if (s.post_messages)
    return gst_message_new_element (GST_OBJECT (self), gst_structure_copy (result));
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */
/* ------------------------------------------------------------------------ */

static void
clear_item (HeldItem & item)
{
  if (item.frame.result)
    gst_structure_free (item.frame.result);
  item.frame.result = nullptr;
  gst_clear_buffer (&item.buffer);
  gst_clear_event (&item.event);
}

static void
discard_held_locked (Private * p)
{
  for (HeldItem & item:p->held)
    clear_item (item);
  p->held.clear ();
  p->held_frames = 0;
}

/* ------------------------------------------------------------------------ */
/* Scoring, with the fault policy of docs/reliability.md                    */
/* ------------------------------------------------------------------------ */

/* Frames that could have been scored but will not be say why (I6). */
static void
mark_failed (GstS2sFrame * frames, guint n, const gchar * reason)
{
  for (guint i = 0; i < n; ++i) {
    if (!frames[i].scorable)
      continue;
    frames[i].scorable = FALSE;
    frames[i].unscored_status = S2S_STATUS_ERROR;
    frames[i].unscored_reason = reason;
  }
}

/* Calls the subclass's score(), which must not throw; a C++ exception that
 * escapes anyway stops here and never reaches GStreamer. */
static GstS2sScoreStatus
call_subclass_score (GstS2sAnalyzer * self, GstS2sFrame * frames, guint n, std::string * reason)
{
  GstS2sAnalyzerClass *klass = GST_S2S_ANALYZER_GET_CLASS (self);
  gchar *text = NULL;
  GstS2sScoreStatus status;
  try {
    status = klass->score (self, frames, n, &text);
  } catch (const std::bad_alloc &) {
    status = GST_S2S_SCORE_OUT_OF_MEMORY;
    text = g_strdup ("out of host memory");
  } catch (const std::exception & e) {
    status = GST_S2S_SCORE_DEVICE_LOST;
    text = g_strdup_printf ("unexpected exception: %s", e.what ());
  } catch (...) {
    status = GST_S2S_SCORE_DEVICE_LOST;
    text = g_strdup ("unexpected exception");
  }
  if (status != GST_S2S_SCORE_OK)
    *reason = text ? text : "no reason given";
  g_free (text);
  return status;
}

/* Results for frames none of which will be scored: the subclass writes the
 * "not scored" results in its own shape. */
static void
report_unscored (GstS2sAnalyzer * self, GstS2sFrame * frames, guint n, const gchar * reason)
{
  mark_failed (frames, n, reason);
  std::string ignored;
  call_subclass_score (self, frames, n, &ignored);
}

/* A slow device, for fault injection: waits, but not through a flush. */
static void
wait_like_a_slow_device (GstS2sAnalyzer * self, guint ms)
{
  Private *p = PRIV (self)->p;
  const gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;
  g_mutex_lock (&p->lock);
  while (!p->flushing && g_get_monotonic_time () < until)
    g_cond_wait_until (&p->cond, &p->lock, until);
  g_mutex_unlock (&p->lock);
}

/* One call into the subclass, with the faults a test build injects. */
static GstS2sScoreStatus
score_once (GstS2sAnalyzer * self, GstS2sFrame * frames, guint n, guint64 batch,
    std::string * reason)
{
  const s2s::FaultPlan & faults = PRIV (self)->p->faults;
  guint scorable = 0;
  for (guint i = 0; i < n; ++i)
    scorable += frames[i].scorable ? 1 : 0;

  if (scorable > 0) {
    if (faults.slow_ms > 0)
      wait_like_a_slow_device (self, faults.slow_ms);
    if (faults.oom_batch >= 0 && batch == (guint64) faults.oom_batch) {
      *reason = "out of device memory (injected at batch " + std::to_string (batch) + ")";
      return GST_S2S_SCORE_OUT_OF_MEMORY;
    }
    if (faults.oom_above > 0 && scorable > faults.oom_above) {
      *reason = "out of device memory (injected above " + std::to_string (faults.oom_above) +
          " frames)";
      return GST_S2S_SCORE_OUT_OF_MEMORY;
    }
    for (guint i = 0; i < n && faults.device_error_frame >= 0; ++i) {
      if (frames[i].scorable && frames[i].index == (guint64) faults.device_error_frame) {
        *reason = "sticky device error (injected at frame " + std::to_string (frames[i].index) +
            ")";
        return GST_S2S_SCORE_DEVICE_LOST;
      }
    }
  }
  return call_subclass_score (self, frames, n, reason);
}

/* Scores frames[0 .. n) of batch `batch`. Out of memory: retry in halves
 * (and remember the size that fits), down to single frames, which then pass
 * through unscored with one WARNING per stream. A lost device: one WARNING,
 * and every frame until the next start passes through unscored. */
static void
score_frames (GstS2sAnalyzer * self, GstS2sFrame * frames, guint n, guint64 batch)
{
  Private *p = PRIV (self)->p;

  g_mutex_lock (&p->lock);
  const std::string unscored = p->unscored_reason;
  const guint limit = p->max_frames_per_call;
  g_mutex_unlock (&p->lock);

  if (!unscored.empty ()) {
    report_unscored (self, frames, n, unscored.c_str ());
    return;
  }
  if (limit > 0 && n > limit) {
    for (guint i = 0; i < n; i += limit)
      score_frames (self, frames + i, MIN (limit, n - i), batch);
    return;
  }

  std::string reason;
  switch (score_once (self, frames, n, batch, &reason)) {
    case GST_S2S_SCORE_OK:
      return;
    case GST_S2S_SCORE_OUT_OF_MEMORY:{
      if (n > 1) {
        const guint half = (n + 1) / 2;
        GST_WARNING_OBJECT (self, "%s with %u frames: retrying %u at a time", reason.c_str (), n,
            half);
        g_mutex_lock (&p->lock);
        if (p->max_frames_per_call == 0 || half < p->max_frames_per_call)
          p->max_frames_per_call = half;
        g_mutex_unlock (&p->lock);
        score_frames (self, frames, half, batch);
        score_frames (self, frames + half, n - half, batch);
        return;
      }
      g_mutex_lock (&p->lock);
      const gboolean warn = !p->warned_oom;
      p->warned_oom = TRUE;
      g_mutex_unlock (&p->lock);
      if (warn)
        GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
            ("Out of memory: frames pass through unscored"),
            ("%s even one frame at a time; these frames carry status=error. Lower batch-size, "
                "free device memory or use device=cpu", reason.c_str ()));
      const std::string why = "out of memory: " + reason;
      report_unscored (self, frames, n, why.c_str ());
      return;
    }
    case GST_S2S_SCORE_DEVICE_LOST:{
      const std::string why = "device failed: " + reason;
      g_mutex_lock (&p->lock);
      p->unscored_reason = why;
      g_mutex_unlock (&p->lock);
      GST_ELEMENT_WARNING (self, RESOURCE, FAILED,
          ("The device failed: frames pass through unscored until the element restarts"),
          ("%s; the device is no longer used. Set the pipeline to READY and back to retry, "
              "or use device=cpu", reason.c_str ()));
      report_unscored (self, frames, n, why.c_str ());
      return;
    }
  }
}

/* Whether the scorable frames of a batch are read on the device: CUDA caps,
 * engines that read device memory, and every such buffer in CUDA memory. */
static gboolean
batch_on_device (GstS2sAnalyzer * self, const std::deque<HeldItem> & items)
{
#if S2S_HAVE_GST_CUDA
  Private *p = PRIV (self)->p;
  if (!p->cuda_caps || !p->reads_cuda_memory || p->cuda.device_id () < 0)
    return FALSE;
  for (const HeldItem & item:items) {
    if (item.buffer && item.frame.scorable && !s2s::CudaLink::is_cuda_buffer (item.buffer))
      return FALSE;
  }
  return TRUE;
#else
  (void) self, (void) items;
  return FALSE;
#endif
}

/* A frame mapped on the device becomes readable by the engines (copied
 * from a foreign CUDA context if need be). On failure it is unmapped, so
 * it passes through unscored; one WARNING per stream. */
static gboolean
make_device_readable (GstS2sAnalyzer * self, GstS2sFrame * f)
{
#if S2S_HAVE_GST_CUDA
  Private *p = PRIV (self)->p;
  std::string error;
  if (p->cuda.make_readable (&f->vframe, &error))
    return TRUE;
  gst_video_frame_unmap (&f->vframe);
  f->mapped = FALSE;
  if (!p->warned_cuda_read) {
    p->warned_cuda_read = TRUE;
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("A frame in CUDA memory could not be read"),
        ("%s; such frames are forwarded unscored", error.c_str ()));
  }
#else
  (void) self, (void) f;
#endif
  return FALSE;
}

/* Scores and pushes everything held. Called with the sink STREAM_LOCK and
 * p->lock held; releases p->lock while it works and takes it back. */
static GstFlowReturn
release_held_locked (GstS2sAnalyzer * self)
{
  GstS2sAnalyzerPrivate *priv = PRIV (self);
  Private *p = priv->p;

  if (p->held.empty ())
    return GST_FLOW_OK;

  std::deque<HeldItem> items;
  items.swap (p->held);
  p->held_frames = 0;
  GstVideoInfo info = p->info;
  const guint64 batch = p->batches++;
  g_mutex_unlock (&p->lock);

  const Settings s = read_settings (self);

  /* Frames in CUDA memory stay on the device when the engines read device
   * memory; a batch that mixes memory types (rare: upstream changed its
   * allocator without new caps) is read through host maps instead. */
  const gboolean device_batch = batch_on_device (self, items);
  GstMapFlags map_flags = GST_MAP_READ;
#if S2S_HAVE_GST_CUDA
  if (device_batch) {
    p->cuda.begin_batch ();
    map_flags = (GstMapFlags) (GST_MAP_READ | GST_MAP_CUDA);
  }
#endif

  /* Map the scorable frames and hand them to the subclass in order. */
  std::vector<GstS2sFrame> frames;
  std::vector<HeldItem *> owners;
  frames.reserve (items.size ());
  for (HeldItem & item:items) {
    if (!item.buffer)
      continue;
    frames.push_back (item.frame);
    owners.push_back (&item);
    GstS2sFrame & f = frames.back ();
    if (f.scorable) {
      f.mapped = gst_video_frame_map (&f.vframe, &info, item.buffer, map_flags);
      if (f.mapped && device_batch && !(f.on_device = make_device_readable (self, &f))) {
        f.scorable = FALSE;
        f.unscored_status = S2S_STATUS_ERROR;
        f.unscored_reason = "the frame could not be read from CUDA memory";
      } else if (!f.mapped) {
        f.scorable = FALSE;
        f.unscored_status = S2S_STATUS_ERROR;
        f.unscored_reason = "buffer too small for its caps or not mappable";
        GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("A buffer could not be read"),
            ("buffer %" GST_PTR_FORMAT " does not match caps %dx%d %s; forwarded unscored",
                item.buffer, GST_VIDEO_INFO_WIDTH (&info), GST_VIDEO_INFO_HEIGHT (&info),
                GST_VIDEO_INFO_NAME (&info)));
      }
    }
  }

#if S2S_HAVE_GST_CUDA
  p->frames_stream = device_batch ? p->cuda.ready_stream () : nullptr;
#endif
  if (!frames.empty ())
    score_frames (self, frames.data (), (guint) frames.size (), batch);
  p->frames_stream = nullptr;

  for (size_t i = 0; i < frames.size (); ++i) {
    if (frames[i].mapped)
      gst_video_frame_unmap (&frames[i].vframe);
    owners[i]->frame.result = frames[i].result;
  }

  /* Push in arrival order; messages right before their buffer. After a
   * failed push the remaining buffers are dropped (the flow goes upstream)
   * but events still go out so sticky state stays right. A flush that
   * started while we scored drops the rest unreported: nothing from before
   * a flush is reported after it. */
  GstFlowReturn flow = GST_FLOW_OK;
  for (HeldItem & item:items) {
    if (item.event) {
      gst_pad_push_event (priv->srcpad, item.event);
      item.event = nullptr;
      continue;
    }
    if (flow == GST_FLOW_OK) {
      g_mutex_lock (&p->lock);
      if (p->flushing)
        flow = GST_FLOW_FLUSHING;
      g_mutex_unlock (&p->lock);
    }
    if (flow == GST_FLOW_OK) {
      if (item.frame.result) {
        GstMessage *msg = publish_result (self, &item.buffer, item.frame.result, s);
        if (msg)
          gst_element_post_message (GST_ELEMENT (self), msg);
      }
      flow = gst_pad_push (priv->srcpad, item.buffer);
      item.buffer = nullptr;
      if (flow != GST_FLOW_OK)
        GST_DEBUG_OBJECT (self, "push returned %s, dropping the rest of the batch",
            gst_flow_get_name (flow));
    }
    clear_item (item);
  }

  g_mutex_lock (&p->lock);
  return flow;
}

/* Scores and pushes what is held; takes p->lock. Caller holds STREAM_LOCK. */
static GstFlowReturn
drain (GstS2sAnalyzer * self)
{
  Private *p = PRIV (self)->p;
  g_mutex_lock (&p->lock);
  GstFlowReturn flow = release_held_locked (self);
  g_mutex_unlock (&p->lock);
  return flow;
}

static void
reset_chain_locked (GstS2sAnalyzer * self)
{
  PRIV (self)->p->chain_open = FALSE;
}

/* ------------------------------------------------------------------------ */
/* Batch timeout                                                            */
/* ------------------------------------------------------------------------ */

static void
wake_timer (GstS2sAnalyzer * self)
{
  Private *p = PRIV (self)->p;
  g_mutex_lock (&p->lock);
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

/* Releases a partial batch when its oldest frame has waited batch-timeout.
 * Runs on the monotonic clock, so it works without timestamps and while the
 * pipeline clock is paused. */
static gpointer
timer_loop (gpointer data)
{
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (data);
  GstS2sAnalyzerPrivate *priv = PRIV (self);
  Private *p = priv->p;

  g_mutex_lock (&p->lock);
  while (p->timer_running) {
    const guint64 timeout_ns = read_settings (self).batch_timeout;
    if (timeout_ns == 0 || p->held_frames == 0 || p->flushing) {
      g_cond_wait (&p->cond, &p->lock);
      continue;
    }
    const gint64 deadline = p->oldest_arrival + (gint64) (timeout_ns / 1000);
    if (g_get_monotonic_time () < deadline) {
      g_cond_wait_until (&p->cond, &p->lock, deadline);
      continue;
    }
    /* Lock order is STREAM_LOCK then p->lock, as in chain(). */
    g_mutex_unlock (&p->lock);
    GST_PAD_STREAM_LOCK (priv->sinkpad);
    g_mutex_lock (&p->lock);
    if (p->timer_running && !p->flushing && p->held_frames > 0
        && g_get_monotonic_time () >= p->oldest_arrival + (gint64) (timeout_ns / 1000)) {
      GST_DEBUG_OBJECT (self, "batch timeout: releasing %u held frames", p->held_frames);
      GstFlowReturn flow = release_held_locked (self);
      if (flow != GST_FLOW_OK && p->deferred_flow == GST_FLOW_OK)
        p->deferred_flow = flow;
    }
    g_mutex_unlock (&p->lock);
    GST_PAD_STREAM_UNLOCK (priv->sinkpad);
    g_mutex_lock (&p->lock);
  }
  g_mutex_unlock (&p->lock);
  return NULL;
}

static void
start_timer (GstS2sAnalyzer * self)
{
  Private *p = PRIV (self)->p;
  g_mutex_lock (&p->lock);
  p->timer_running = TRUE;
  g_mutex_unlock (&p->lock);
  p->timer = g_thread_new ("s2s-batch-timeout", timer_loop, self);
}

static void
stop_timer (GstS2sAnalyzer * self)
{
  Private *p = PRIV (self)->p;
  if (!p->timer)
    return;
  g_mutex_lock (&p->lock);
  p->timer_running = FALSE;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  g_thread_join (p->timer);
  p->timer = nullptr;
}

/* ------------------------------------------------------------------------ */
/* Pads                                                                     */
/* ------------------------------------------------------------------------ */

static GstClockTime
to_time (const GstSegment & segment, GstClockTime ts, gboolean running)
{
  if (segment.format != GST_FORMAT_TIME || !GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  return running ? gst_segment_to_running_time (&segment, GST_FORMAT_TIME, ts)
      : gst_segment_to_stream_time (&segment, GST_FORMAT_TIME, ts);
}

static GstFlowReturn
gst_s2s_analyzer_chain (GstPad *, GstObject * parent, GstBuffer * buffer)
{
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (parent);
  Private *p = PRIV (self)->p;
  const Settings s = read_settings (self);

  g_mutex_lock (&p->lock);
  if (!p->have_info) {
    g_mutex_unlock (&p->lock);
    gst_buffer_unref (buffer);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("buffer before caps"));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (p->deferred_flow != GST_FLOW_OK) {
    /* A push from the timeout thread failed: tell upstream now. */
    GstFlowReturn flow = p->deferred_flow;
    p->deferred_flow = GST_FLOW_OK;
    p->next_index++;            /* it was still a frame of the stream */
    p->chain_open = FALSE;      /* and the next one does not follow it */
    g_mutex_unlock (&p->lock);
    gst_buffer_unref (buffer);
    return flow;
  }

  HeldItem item;
  item.buffer = buffer;
  GstS2sFrame & f = item.frame;
  f.index = p->next_index++;
  f.pts = GST_BUFFER_PTS (buffer);
  f.duration = GST_BUFFER_DURATION (buffer);
  f.stream_time = to_time (p->segment, f.pts, FALSE);
  f.running_time = to_time (p->segment, f.pts, TRUE);
  f.scorable = !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_GAP);
  if (!f.scorable) {
    f.unscored_status = S2S_STATUS_SKIPPED;
    f.unscored_reason = "gap buffer";
  }
  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT))
    p->chain_open = FALSE;
  f.has_previous = p->chain_open && f.scorable;
  /* A gap breaks the chain: the next real frame has no predecessor. */
  p->chain_open = f.scorable;

  if (p->held_frames == 0)
    p->oldest_arrival = g_get_monotonic_time ();
  p->held.push_back (item);
  p->held_frames++;

  GstFlowReturn flow = GST_FLOW_OK;
  if (p->held_frames >= s.batch_size)
    flow = release_held_locked (self);
  else if (p->held_frames == 1)
    g_cond_broadcast (&p->cond);        /* a new oldest frame for the timer */
  g_mutex_unlock (&p->lock);
  return flow;
}

/* Serialized events keep their place among held buffers. */
static gboolean
hold_or_push_event (GstS2sAnalyzer * self, GstEvent * event)
{
  Private *p = PRIV (self)->p;
  g_mutex_lock (&p->lock);
  if (!p->held.empty ()) {
    HeldItem item;
    item.event = event;
    p->held.push_back (item);
    g_mutex_unlock (&p->lock);
    return TRUE;
  }
  g_mutex_unlock (&p->lock);
  return gst_pad_push_event (PRIV (self)->srcpad, event);
}

static gboolean
set_caps (GstS2sAnalyzer * self, GstCaps * caps)
{
  GstS2sAnalyzerClass *klass = GST_S2S_ANALYZER_GET_CLASS (self);
  Private *p = PRIV (self)->p;
  GstVideoInfo info;

  if (!s2s::video_info_from_supported_caps (caps, &info)) {
    GST_WARNING_OBJECT (self, "unsupported caps %" GST_PTR_FORMAT, caps);
    return FALSE;
  }
  const GstVideoColorimetry tagged = s2s::caps_colorimetry (caps);
  /* Held frames were drained before: the next batch is read as these caps
   * say, even where only the memory type changed. */
  p->cuda_caps = s2s::caps_in_cuda_memory (caps);

  g_mutex_lock (&p->lock);
  const gboolean same = p->have_info && gst_video_info_is_equal (&info, &p->info)
      && gst_video_colorimetry_is_equal (&tagged, &p->caps_colorimetry);
  g_mutex_unlock (&p->lock);
  if (same)
    return TRUE;                /* caps re-sent unchanged: the chain goes on */

  g_mutex_lock (&p->lock);
  p->caps_colorimetry = tagged;
  g_mutex_unlock (&p->lock);
  if (!klass->set_info (self, &info))
    return FALSE;

  g_mutex_lock (&p->lock);
  p->info = info;
  p->have_info = TRUE;
  reset_chain_locked (self);
  g_mutex_unlock (&p->lock);
  return TRUE;
}

static void
post_summary (GstS2sAnalyzer * self)
{
  GstS2sAnalyzerClass *klass = GST_S2S_ANALYZER_GET_CLASS (self);
  GstStructure *summary = klass->make_summary ? klass->make_summary (self) : NULL;
  if (summary)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self), summary));
}

static gboolean
gst_s2s_analyzer_sink_event (GstPad *, GstObject * parent, GstEvent * event)
{
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (parent);
  GstS2sAnalyzerClass *klass = GST_S2S_ANALYZER_GET_CLASS (self);
  GstS2sAnalyzerPrivate *priv = PRIV (self);
  Private *p = priv->p;

  GST_LOG_OBJECT (self, "event %" GST_PTR_FORMAT, event);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      /* Not serialized: unblock at once. Held frames are dropped at
       * FLUSH_STOP, as a queue does: downstream is flushing and would refuse
       * them, and nothing from before a flush is reported after it. */
      g_mutex_lock (&p->lock);
      p->flushing = TRUE;
      g_cond_broadcast (&p->cond);
      g_mutex_unlock (&p->lock);
      return gst_pad_push_event (priv->srcpad, event);

    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&p->lock);
      discard_held_locked (p);
      reset_chain_locked (self);
      p->flushing = FALSE;
      p->deferred_flow = GST_FLOW_OK;
      g_mutex_unlock (&p->lock);
      return gst_pad_push_event (priv->srcpad, event);

    case GST_EVENT_CAPS:{
      /* Frames held so far are scored with the caps they came with. */
      drain (self);
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      if (!set_caps (self, caps)) {
        gst_event_unref (event);
        return FALSE;
      }
      return gst_pad_push_event (priv->srcpad, event);
    }

    case GST_EVENT_SEGMENT:{
      const GstSegment *segment;
      gst_event_parse_segment (event, &segment);
      g_mutex_lock (&p->lock);
      gst_segment_copy_into (segment, &p->segment);
      reset_chain_locked (self);
      g_mutex_unlock (&p->lock);
      return hold_or_push_event (self, event);
    }

    case GST_EVENT_STREAM_START:
      drain (self);
      g_mutex_lock (&p->lock);
      reset_chain_locked (self);
      p->next_index = 0;
      g_mutex_unlock (&p->lock);
      if (klass->reset_stream)
        klass->reset_stream (self);
      return gst_pad_push_event (priv->srcpad, event);

    case GST_EVENT_EOS:
      /* Everything out, then the summary, then EOS. */
      drain (self);
      post_summary (self);
      return gst_pad_push_event (priv->srcpad, event);

    default:
      if (GST_EVENT_IS_SERIALIZED (event))
        return hold_or_push_event (self, event);
      return gst_pad_push_event (priv->srcpad, event);
  }
}

/* Time frames may wait in a batch: batch-size - 1 frame durations, or the
 * batch timeout if that is shorter. */
static GstClockTime
holding_latency (GstS2sAnalyzer * self)
{
  Private *p = PRIV (self)->p;
  const Settings s = read_settings (self);
  if (s.batch_size <= 1)
    return 0;

  GstClockTime frame_duration = GST_CLOCK_TIME_NONE;
  g_mutex_lock (&p->lock);
  if (p->have_info && GST_VIDEO_INFO_FPS_N (&p->info) > 0)
    frame_duration = gst_util_uint64_scale_int (GST_SECOND, GST_VIDEO_INFO_FPS_D (&p->info),
        GST_VIDEO_INFO_FPS_N (&p->info));
  g_mutex_unlock (&p->lock);

  GstClockTime latency = GST_CLOCK_TIME_NONE;
  if (GST_CLOCK_TIME_IS_VALID (frame_duration))
    latency = frame_duration * (s.batch_size - 1);
  if (s.batch_timeout > 0 && (!GST_CLOCK_TIME_IS_VALID (latency) || s.batch_timeout < latency))
    latency = s.batch_timeout;
  return latency;
}

static void
post_latency_message (GstS2sAnalyzer * self)
{
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
}

/* ------------------------------------------------------------------------ */
/* CUDA context                                                             */
/* ------------------------------------------------------------------------ */

/* NULL->READY, before upstream CUDA elements start (they are after us in
 * state order): join the pipeline's CUDA context or offer one wrapping the
 * primary context, so that decoders allocate where our engines read. Not a
 * fault when it fails: start() applies the device policy. */
static void
join_cuda_context (GstS2sAnalyzer * self)
{
#if S2S_HAVE_GST_CUDA
  const Settings s = read_settings (self);
  if (s.device == GST_S2S_DEVICE_CPU)
    return;
  std::string why;
  if (!PRIV (self)->p->cuda.ensure (GST_ELEMENT (self), s.cuda_device_id, &why))
    GST_INFO_OBJECT (self, "no CUDA context: %s", why.c_str ());
#else
  (void) self;
#endif
}

static void
gst_s2s_analyzer_set_context (GstElement * element, GstContext * context)
{
#if S2S_HAVE_GST_CUDA
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (element);
  PRIV (self)->p->cuda.set_context (element, context, read_settings (self).cuda_device_id);
#endif
  GST_ELEMENT_CLASS (gst_s2s_analyzer_parent_class)->set_context (element, context);
}

/* Neighbours asking for the pipeline's CUDA context get ours. */
static gboolean
answer_context_query (GstS2sAnalyzer * self, GstQuery * query)
{
#if S2S_HAVE_GST_CUDA
  return PRIV (self)->p->cuda.answer_query (GST_ELEMENT (self), query);
#else
  (void) self, (void) query;
  return FALSE;
#endif
}

static gboolean
gst_s2s_analyzer_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CONTEXT && answer_context_query (self, query))
    return TRUE;
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    if (!gst_pad_peer_query (PRIV (self)->sinkpad, query))
      return FALSE;
    gboolean live;
    GstClockTime min, max;
    gst_query_parse_latency (query, &live, &min, &max);
    GstClockTime ours = holding_latency (self);
    if (!GST_CLOCK_TIME_IS_VALID (ours)) {
      GST_ELEMENT_WARNING (self, CORE, CLOCK, ("Unknown batching latency"),
          ("the stream has no framerate and batch-timeout is 0: frames may wait for a full "
              "batch indefinitely; set batch-timeout for live sources"));
      ours = 0;
    }
    GST_DEBUG_OBJECT (self, "adding %" GST_TIME_FORMAT " of batching latency",
        GST_TIME_ARGS (ours));
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += ours;
    gst_query_set_latency (query, live, min, max);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

/* Upstream's buffers stay with us while a batch fills: ask for that many
 * more in every pool, so that a bounded pool (a decoder's) cannot run dry
 * while we wait for it to fill our batch. */
static void
reserve_held_buffers (GstS2sAnalyzer * self, GstQuery * query)
{
  const guint extra = read_settings (self).batch_size;
  const guint n = gst_query_get_n_allocation_pools (query);
  if (n == 0) {
    GstCaps *caps;
    GstVideoInfo info;
    gst_query_parse_allocation (query, &caps, NULL);
    if (caps && gst_video_info_from_caps (&info, caps))
      gst_query_add_allocation_pool (query, NULL, (guint) GST_VIDEO_INFO_SIZE (&info), extra, 0);
    return;
  }
  for (guint i = 0; i < n; ++i) {
    GstBufferPool *pool;
    guint size, min, max;
    gst_query_parse_nth_allocation_pool (query, i, &pool, &size, &min, &max);
    gst_query_set_nth_allocation_pool (query, i, pool, size, min + extra, max ? max + extra : 0);
    if (pool)
      gst_object_unref (pool);
  }
}

static gboolean
gst_s2s_analyzer_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_ACCEPT_CAPS:{
      GstCaps *caps;
      GstVideoInfo info;
      gst_query_parse_accept_caps (query, &caps);
      if (!s2s::video_info_from_supported_caps (caps, &info)) {
        gst_query_set_accept_caps_result (query, FALSE);
        return TRUE;
      }
      /* and whatever downstream and our template say */
      return gst_pad_query_default (pad, parent, query);
    }
    case GST_QUERY_DRAIN:
      /* Serialized: upstream (a decoder reconfiguring its pool) wants every
       * buffer it gave us back. */
      drain (self);
      return gst_pad_query_default (pad, parent, query);
    case GST_QUERY_CONTEXT:
      if (answer_context_query (self, query))
        return TRUE;
      return gst_pad_query_default (pad, parent, query);
    case GST_QUERY_ALLOCATION:
      if (!gst_pad_query_default (pad, parent, query))
        return FALSE;
      reserve_held_buffers (self, query);
      return TRUE;
    default:
      /* Caps queries are proxied downstream (passthrough) and intersected
       * with our template, which refuses formats the kernels do not read
       * and other memory types. */
      return gst_pad_query_default (pad, parent, query);
  }
}

/* ------------------------------------------------------------------------ */
/* State                                                                    */
/* ------------------------------------------------------------------------ */

static void
reset_stream_state (GstS2sAnalyzer * self)
{
  Private *p = PRIV (self)->p;
  g_mutex_lock (&p->lock);
  discard_held_locked (p);
  p->have_info = FALSE;
  gst_video_info_init (&p->info);
  gst_segment_init (&p->segment, GST_FORMAT_UNDEFINED);
  p->chain_open = FALSE;
  p->next_index = 0;
  p->flushing = FALSE;
  p->deferred_flow = GST_FLOW_OK;
  g_mutex_unlock (&p->lock);
}

static GstStateChangeReturn
gst_s2s_analyzer_change_state (GstElement * element, GstStateChange transition)
{
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (element);
  GstS2sAnalyzerClass *klass = GST_S2S_ANALYZER_GET_CLASS (self);
  GstS2sAnalyzerPrivate *priv = PRIV (self);
  Private *p = priv->p;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      join_cuda_context (self);
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:{
      reset_stream_state (self);
      std::string fault_error;
      g_mutex_lock (&p->lock);
      p->faults = s2s::FaultPlan::from_environment (&fault_error);
      p->batches = 0;
      p->max_frames_per_call = 0;
      p->unscored_reason.clear ();
      p->warned_oom = FALSE;
      p->warned_cuda_read = FALSE;
      p->reads_cuda_memory = FALSE;
      g_mutex_unlock (&p->lock);
      if (!fault_error.empty ())
        GST_WARNING_OBJECT (self, "%s: no faults injected", fault_error.c_str ());
      if (klass->reset_stream)
        klass->reset_stream (self);
      gboolean started;
      try {
        started = klass->start (self);
      } catch (const std::exception & e) {
        GST_ELEMENT_ERROR (self, LIBRARY, INIT, ("Could not start"), ("%s", e.what ()));
        started = FALSE;
      }
      if (!started)
        return GST_STATE_CHANGE_FAILURE;
      p->started = TRUE;
      start_timer (self);
      break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* Score and push what is held while downstream may still take it.
       * Where it no longer does (it went to READY first), the first push
       * fails and the rest of the held frames are dropped unreported. */
      stop_timer (self);
      GST_PAD_STREAM_LOCK (priv->sinkpad);
      drain (self);
      GST_PAD_STREAM_UNLOCK (priv->sinkpad);
      break;
    default:
      break;
  }

  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (gst_s2s_analyzer_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    reset_stream_state (self);
    if (p->started && klass->stop)
      klass->stop (self);
    p->started = FALSE;
  }
#if S2S_HAVE_GST_CUDA
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    p->cuda.reset ();
#endif
  return ret;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */
/* ------------------------------------------------------------------------ */

static void
gst_s2s_analyzer_finalize (GObject * object)
{
  GstS2sAnalyzer *self = GST_S2S_ANALYZER (object);
  GstS2sAnalyzerPrivate *priv = PRIV (self);
  stop_timer (self);
  g_mutex_lock (&priv->p->lock);
  discard_held_locked (priv->p);
  g_mutex_unlock (&priv->p->lock);
  delete priv->p;
  G_OBJECT_CLASS (gst_s2s_analyzer_parent_class)->finalize (object);
}

static void
gst_s2s_analyzer_class_init (GstS2sAnalyzerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_s2s_analyzer_finalize;
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_s2s_analyzer_change_state);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_s2s_analyzer_set_context);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  gst_type_mark_as_plugin_api (GST_TYPE_S2S_ANALYZER, (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (GST_TYPE_S2S_DEVICE, (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (GST_TYPE_S2S_PRECISION, (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (GST_TYPE_S2S_ON_ERROR, (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (GST_TYPE_S2S_CONVERSION, (GstPluginAPIFlags) 0);
}

static void
gst_s2s_analyzer_init (GstS2sAnalyzer * self)
{
  GstS2sAnalyzerPrivate *priv = PRIV (self);
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);

  priv->p = new Private ();

  priv->sinkpad = gst_pad_new_from_template (gst_element_class_get_pad_template (klass, "sink"),
      "sink");
  gst_pad_set_chain_function (priv->sinkpad, GST_DEBUG_FUNCPTR (gst_s2s_analyzer_chain));
  gst_pad_set_event_function (priv->sinkpad, GST_DEBUG_FUNCPTR (gst_s2s_analyzer_sink_event));
  gst_pad_set_query_function (priv->sinkpad, GST_DEBUG_FUNCPTR (gst_s2s_analyzer_sink_query));
  GST_PAD_SET_PROXY_CAPS (priv->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (priv->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), priv->sinkpad);

  priv->srcpad = gst_pad_new_from_template (gst_element_class_get_pad_template (klass, "src"),
      "src");
  gst_pad_set_query_function (priv->srcpad, GST_DEBUG_FUNCPTR (gst_s2s_analyzer_src_query));
  GST_PAD_SET_PROXY_CAPS (priv->srcpad);
  GST_PAD_SET_PROXY_ALLOCATION (priv->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), priv->srcpad);
}
