/**
 * SECTION:element-s2scompare
 * @title: s2scompare
 *
 * Full-reference comparison: each frame of the `distorted` stream against
 * the frame of the `reference` stream in force at its running time (the
 * latest reference frame that started at or before it and has not ended),
 * as `vmaf` and `compositor` pair their inputs. MSE, PSNR, SSIM and
 * 1 - SSIM of the gray frames, LPIPS and the weighted sum, with the same
 * engines and definitions as s2smetrics. The distorted buffers leave on the
 * src pad untouched, with the results as element messages and custom meta.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=source.mp4 ! decodebin ! videoconvert ! c.reference \
 *     filesrc location=encoded.mp4 ! decodebin ! videoconvert ! c.distorted \
 *     s2scompare name=c metrics=mse+inv-ssim ! fakesink
 * ]|
 *
 * ## Per-frame element message `s2scompare` (and meta `S2SCompareMeta`)
 * - `frame` (guint64): index of the distorted frame since the start
 * - `timestamp`, `stream-time`, `running-time`, `duration`: the distorted
 *   frame's; `reference-timestamp`: PTS of the reference frame compared
 * - `mse`, `psnr` (dB, +inf when identical), `ssim`, `inv-ssim`, `lpips`,
 *   `weighted` (gdouble, NaN when not computed)
 * - `status` ok, partial, skipped (no reference frame, gap) or error;
 *   `reason` when not ok
 *
 * At EOS of the distorted stream: `s2scompare-summary` with `frames`
 * (pairs compared), `skipped`, `<metric>-mean/-min/-max/-p95` and
 * `psnr-of-mean-mse` (FFmpeg's "average").
 *
 * Threads: GstAggregator calls aggregate(), the serialized sink events and
 * the queries it queues from its src pad task, one at a time; flush() and
 * start()/stop() while that task is stopped. So the state below needs no
 * lock of its own; settings are read under the object lock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsts2scompare.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gsts2sanalyzer.h"
#include "gsts2smetrics.h"
#include "pair_engine.h"
#if S2S_HAVE_CUDA
#include "cuda_pair_engine.h"
#endif
#if S2S_HAVE_TORCH
#include "torch_backend.h"
#endif
#if S2S_HAVE_GST_CUDA
#include "s2scuda.h"
#endif
#include "s2s-meta.h"
#include "s2scaps.h"
#include "s2sstats.h"
#include "s2svideo.h"

GST_DEBUG_CATEGORY_STATIC (gst_s2s_compare_debug);
#define GST_CAT_DEFAULT gst_s2s_compare_debug

#define DEFAULT_METRICS (GST_S2S_METRIC_MSE | GST_S2S_METRIC_INV_SSIM | GST_S2S_METRIC_LPIPS)
#define DEFAULT_LPIPS_MODEL S2S_MODELS_DIR "/lpips-alex-v0.1.safetensors"
#define DEFAULT_LPIPS_SIZE 256
#define DEFAULT_SSIM_WINDOW GST_S2S_SSIM_WINDOW_UNIFORM7
#define DEFAULT_ALPHA 0.5
#define DEFAULT_BETA 0.3
#define DEFAULT_GAMMA 0.2
#define DEFAULT_BATCH_SIZE 8
#define MAX_BATCH_SIZE 256
#define DEFAULT_DEVICE GST_S2S_DEVICE_AUTO
#define DEFAULT_CUDA_DEVICE_ID -1
#define DEFAULT_PRECISION GST_S2S_PRECISION_FP32

/* Containers round timestamps (an MP4 at 30 fps and a Y4M of the same
 * frames may disagree by a nanosecond or so): a reference frame that starts
 * within this much after a distorted frame still counts as in force. */
#define MATCH_TOLERANCE (GST_MSECOND / 2)

enum
{
  PROP_0,
  PROP_METRICS,
  PROP_LPIPS_MODEL,
  PROP_LPIPS_SIZE,
  PROP_SSIM_WINDOW,
  PROP_ALPHA,
  PROP_BETA,
  PROP_GAMMA,
  PROP_DEVICE,
  PROP_CUDA_DEVICE_ID,
  PROP_BATCH_SIZE,
  PROP_PRECISION,
  PROP_CONVERSION,
  PROP_POST_MESSAGES,
  PROP_ATTACH_META,
};

static GstStaticPadTemplate reference_template = GST_STATIC_PAD_TEMPLATE ("reference",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (S2S_CAPS));
static GstStaticPadTemplate distorted_template = GST_STATIC_PAD_TEMPLATE ("distorted",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (S2S_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (S2S_CAPS));

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN ();

struct Settings
{
  guint metrics = DEFAULT_METRICS;
  std::string lpips_model = DEFAULT_LPIPS_MODEL;
  guint lpips_size = DEFAULT_LPIPS_SIZE;
  GstS2sSsimWindow ssim_window = DEFAULT_SSIM_WINDOW;
  double alpha = DEFAULT_ALPHA;
  double beta = DEFAULT_BETA;
  double gamma = DEFAULT_GAMMA;
  GstS2sDevice device = DEFAULT_DEVICE;
  gint cuda_device_id = DEFAULT_CUDA_DEVICE_ID;
  guint batch_size = DEFAULT_BATCH_SIZE;
  GstS2sPrecision precision = DEFAULT_PRECISION;
  GstS2sConversion conversion = GST_S2S_CONVERSION_SERVICE;
  gboolean post_messages = TRUE;
  gboolean attach_meta = TRUE;
};

/* What a sink pad's caps say. */
struct PadFormat
{
  bool have = false;
  GstVideoInfo info;
  GstVideoColorimetry tagged = { };     /* the caps' own (s2s::caps_colorimetry) */
  bool cuda = false;            /* memory:CUDAMemory */
  GstCaps *caps = nullptr;
};

/* A reference frame, as long as it may be in force. */
struct RefFrame
{
  GstBuffer *buffer = nullptr;
  GstVideoInfo info;
  GstVideoColorimetry tagged = { };
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  GstClockTime end = GST_CLOCK_TIME_NONE;       /* running time it ends, if known */
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  bool gap = false;
};

/* A distorted frame waiting for its batch, with the reference it meets. */
struct HeldPair
{
  GstBuffer *dist = nullptr;
  GstBuffer *ref = nullptr;     /* NULL: not compared, skip_reason says why */
  std::string skip_reason;
  guint64 index = 0;
  GstClockTime pts = GST_CLOCK_TIME_NONE, duration = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE, running_time = GST_CLOCK_TIME_NONE;
  GstClockTime ref_pts = GST_CLOCK_TIME_NONE;
};

struct State
{
  std::unique_ptr<s2s::PairEngine> engine;
#if S2S_HAVE_TORCH
  std::unique_ptr<s2s::LpipsEngine> lpips_engine;
#endif
  std::string lpips_missing;
  bool device_reads = false;    /* every engine reads CUDA memory in place */

  PadFormat ref_format, dist_format;
  RefFrame ref;                 /* the reference frame in force, if any */

  std::vector<HeldPair> held;
  GstVideoInfo held_info;       /* format of the held pairs (both pads) */
  GstVideoColorimetry held_tagged = { };
  bool configured = false;
  s2s::StreamFormat engine_format;      /* what the engines are configured for */

  guint64 next_index = 0;
  GstFlowReturn deferred_flow = GST_FLOW_OK;    /* of a push from an event */
  bool summary_posted = false;

  bool warned_small = false, warned_failure = false, warned_lpips = false;
  bool warned_unreadable = false, warned_no_ref = false;

  guint64 pairs = 0, skipped = 0;
  s2s::MetricSeries mse, psnr, ssim, inv_ssim, lpips, weighted;
};

}  // namespace

struct _GstS2sCompare
{
  GstAggregator parent;
  GstAggregatorPad *ref_pad;
  GstAggregatorPad *dist_pad;
  Settings *settings;           /* under the object lock */
  State *state;
#if S2S_HAVE_GST_CUDA
  s2s::CudaLink *cuda;          /* the pipeline's CUDA context; own locking */
#endif
};

G_DEFINE_TYPE_WITH_CODE (GstS2sCompare, gst_s2s_compare, GST_TYPE_AGGREGATOR,
    GST_DEBUG_CATEGORY_INIT (gst_s2s_compare_debug, "s2scompare", 0,
        "full-reference video quality metrics"));
GST_ELEMENT_REGISTER_DEFINE (s2scompare, "s2scompare", GST_RANK_NONE, GST_TYPE_S2S_COMPARE);

static Settings
read_settings (GstS2sCompare * self)
{
  GST_OBJECT_LOCK (self);
  Settings s = *self->settings;
  GST_OBJECT_UNLOCK (self);
  return s;
}

static gint
cuda_device (GstS2sCompare * self, const Settings & s)
{
  if (s.cuda_device_id >= 0)
    return s.cuda_device_id;
#if S2S_HAVE_GST_CUDA
  const int linked = self->cuda->device_id ();
  if (linked >= 0)
    return linked;
#else
  (void) self;
#endif
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Engines                                                                  */
/* ------------------------------------------------------------------------ */

/* The device policy of the analysis elements (docs/interface.md) for a
 * device that is not usable for `why`: device=cuda fails the start, auto
 * warns once and computes on the CPU. */
static gboolean
no_cuda_device (GstS2sCompare * self, const Settings & s, const std::string & why)
{
  if (s.device == GST_S2S_DEVICE_CUDA) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No usable CUDA device"),
        ("device=cuda: %s; use device=auto or device=cpu", why.c_str ()));
    return FALSE;
  }
  if (s.device == GST_S2S_DEVICE_AUTO)
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("No usable CUDA device: computing on the CPU"), ("device=auto: %s", why.c_str ()));
  return TRUE;
}

static gboolean
make_pair_engine (GstS2sCompare * self, const Settings & s)
{
  State *st = self->state;
#if S2S_HAVE_CUDA
  if (s.device != GST_S2S_DEVICE_CPU) {
    std::string error;
    st->engine = s2s::make_cuda_pair_engine (cuda_device (self, s), &error);
    if (!st->engine && !no_cuda_device (self, s, error))
      return FALSE;
  }
#else
  if (s.device != GST_S2S_DEVICE_CPU
      && !no_cuda_device (self, s, "this build of gst-s2s has no CUDA engine"))
    return FALSE;
#endif
  try {
    if (!st->engine)
      st->engine = s2s::make_cpu_pair_engine (0);
  } catch (const std::exception & e) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Could not start the metrics engine"),
        ("%s", e.what ()));
    return FALSE;
  }
  return TRUE;
}

/* LPIPS as on s2smetrics: a missing model or LibTorch is a WARNING and the
 * other metrics go on; a model that is there but corrupt is an ERROR. */
static gboolean
start_lpips (GstS2sCompare * self, const Settings & s)
{
  State *st = self->state;
  const char *path = s.lpips_model.c_str ();
#if S2S_HAVE_TORCH
  if (!s2s::model_file_readable (s.lpips_model)) {
    st->lpips_missing = "lpips: no model file";
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("LPIPS model '%s' not found or not readable: computing the other metrics only", path),
        ("set lpips-model to the LPIPS weights (docs/models.md tells how to make them), "
            "or metrics=mse+inv-ssim"));
    return TRUE;
  }
  std::string error;
  const s2s::TorchBackend *torch = s2s::torch_backend (&error);
  if (!torch) {
    st->lpips_missing = "lpips: LibTorch could not be loaded";
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("LPIPS is not available (LibTorch could not be loaded): computing the other metrics only"),
        ("%s; see docs/models.md. Set metrics=mse+inv-ssim to silence this warning.",
            error.c_str ()));
    return TRUE;
  }
  s2s::LpipsConfig config;
  config.model_path = s.lpips_model;
  config.precision = s2s::net_precision_from (s.precision);
  /* On the device of the MSE/SSIM engine; where LibTorch alone cannot use
   * it, the device policy applies to LPIPS. */
  if (g_str_equal (st->engine->name (), "cuda")) {
    config.cuda_device = cuda_device (self, s);
    std::string why;
    config.cuda = torch->cuda_usable (config.cuda_device, &why);
    if (!config.cuda && !no_cuda_device (self, s, "LPIPS: " + why))
      return FALSE;
  }
  st->lpips_engine = torch->make_lpips (config, &error);
  if (!st->lpips_engine) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Could not load the LPIPS model '%s'", path),
        ("%s", error.c_str ()));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "LPIPS model %s on %s", path, st->lpips_engine->device_name ().c_str ());
  return TRUE;
#else
  st->lpips_missing = "lpips: not available in this build";
  GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
      ("LPIPS is not available: computing the other metrics only"),
      ("this build of gst-s2s has no LibTorch (model path %s); see docs/models.md. "
          "Set metrics=mse+inv-ssim to silence this warning.", path));
  return TRUE;
#endif
}

/* The engines' view of frames of `info` whose caps said `tagged`, by the
 * conversion property (as on s2smetrics). */
static bool
stream_format (GstS2sCompare * self, const GstVideoInfo * info,
    const GstVideoColorimetry & tagged, s2s::StreamFormat * out)
{
  return s2s::stream_format_from_info (info, out, read_settings (self).conversion, tagged);
}

static bool
same_stream_format (const s2s::StreamFormat & a, const s2s::StreamFormat & b)
{
  return a.format == b.format && a.width == b.width && a.height == b.height
      && std::memcmp (&a.yuv, &b.yuv, sizeof a.yuv) == 0;
}

/* Engines are configured for the format of the batch about to be scored. */
static bool
configure_engines (GstS2sCompare * self, const GstVideoInfo * info,
    const GstVideoColorimetry & tagged, std::string * error)
{
  State *st = self->state;
  s2s::StreamFormat format;
  if (!stream_format (self, info, tagged, &format)) {
    *error = std::string ("unsupported format ") + GST_VIDEO_INFO_NAME (info);
    return false;
  }
  if (st->configured && same_stream_format (format, st->engine_format))
    return true;
  if (!st->engine->configure (format, error))
    return false;
#if S2S_HAVE_TORCH
  if (st->lpips_engine && !st->lpips_engine->configure (format,
          (int) read_settings (self).lpips_size, error))
    return false;
#endif
  st->engine_format = format;
  st->configured = true;
  st->warned_small = false;
  return true;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                  */
/* ------------------------------------------------------------------------ */

static GstStructure *
new_result (const HeldPair & p)
{
  return gst_structure_new ("s2scompare",
      "frame", G_TYPE_UINT64, p.index,
      "timestamp", G_TYPE_UINT64, p.pts,
      "stream-time", G_TYPE_UINT64, p.stream_time,
      "running-time", G_TYPE_UINT64, p.running_time,
      "duration", G_TYPE_UINT64, p.duration,
      "reference-timestamp", G_TYPE_UINT64, p.ref_pts, NULL);
}

static GstStructure *
unscored_result (const HeldPair & p, const char *status, const std::string & reason)
{
  GstStructure *r = new_result (p);
  gst_structure_set (r, "mse", G_TYPE_DOUBLE, kNaN, "psnr", G_TYPE_DOUBLE, kNaN,
      "ssim", G_TYPE_DOUBLE, kNaN, "inv-ssim", G_TYPE_DOUBLE, kNaN,
      "lpips", G_TYPE_DOUBLE, kNaN, "weighted", G_TYPE_DOUBLE, kNaN,
      "status", G_TYPE_STRING, status, "reason", G_TYPE_STRING, reason.c_str (), NULL);
  return r;
}

static gboolean
copy_field (GQuark field, const GValue * value, gpointer user_data)
{
  gst_structure_id_set_value ((GstStructure *) user_data, field, value);
  return TRUE;
}

/* Attaches the result to the buffer as meta and posts it, as the other
 * elements do; takes the result. */
static void
publish (GstS2sCompare * self, GstBuffer ** buffer, GstStructure * result, const Settings & s)
{
  if (s.attach_meta) {
    /* A new GstBuffer around the same memory where it is shared: the
     * pixels are never copied or changed. */
    *buffer = gst_buffer_make_writable (*buffer);
    GstCustomMeta *meta = gst_buffer_add_custom_meta (*buffer, S2S_COMPARE_META_NAME);
    if (meta)
      gst_structure_foreach (result, copy_field, gst_custom_meta_get_structure (meta));
  }
  if (s.post_messages)
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
            result));
  else
    gst_structure_free (result);
}

/* ------------------------------------------------------------------------ */
/* Scoring a batch                                                          */
/* ------------------------------------------------------------------------ */

/* One mapped frame of a batch. */
struct Mapped
{
  GstVideoFrame vframe;
  bool mapped = false;
};

static bool
is_cuda_buffer (GstBuffer * buffer)
{
#if S2S_HAVE_GST_CUDA
  return s2s::CudaLink::is_cuda_buffer (buffer);
#else
  (void) buffer;
  return false;
#endif
}

/* Computes the results of the held pairs (index k: results[k]); pairs with
 * a reference are interleaved as (reference, distorted) for the pair
 * engines, so each distorted frame is measured against its own reference
 * with the consecutive-pair kernels and networks. */
static std::vector<GstStructure *>
score_held (GstS2sCompare * self, const Settings & s)
{
  State *st = self->state;
  const size_t n = st->held.size ();
  std::vector<GstStructure *> results (n, nullptr);
  const gint64 t0 = g_get_monotonic_time ();

  std::vector<size_t> owners;
  for (size_t k = 0; k < n; ++k) {
    if (st->held[k].ref)
      owners.push_back (k);
    else
      results[k] = unscored_result (st->held[k], S2S_STATUS_SKIPPED, st->held[k].skip_reason);
  }
  if (owners.empty ())
    return results;

  std::string error;
  if (!configure_engines (self, &st->held_info, st->held_tagged, &error)) {
    for (size_t k:owners)
      results[k] = unscored_result (st->held[k], S2S_STATUS_ERROR,
          "the engines could not be configured: " + error);
    if (!st->warned_failure) {
      st->warned_failure = true;
      GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Frames could not be compared"), ("%s",
              error.c_str ()));
    }
    return results;
  }

  /* Read in place on the device where every engine reads CUDA memory and
   * every frame of the batch, on both pads, is in it; otherwise through
   * host maps (a download). */
  bool on_device = st->device_reads;
  for (size_t k:owners)
    on_device = on_device && is_cuda_buffer (st->held[k].ref) && is_cuda_buffer (st->held[k].dist);
  GstMapFlags flags = GST_MAP_READ;
  void *stream = nullptr;
#if S2S_HAVE_GST_CUDA
  if (on_device) {
    self->cuda->begin_batch ();
    flags = (GstMapFlags) (GST_MAP_READ | GST_MAP_CUDA);
  }
#endif

  std::vector<Mapped> maps (2 * owners.size ());
  std::vector<s2s::FrameView> views;
  std::vector<uint8_t> paired;
  std::vector<size_t> scored;   /* held index of each view pair */
  s2s::StreamFormat format;
  stream_format (self, &st->held_info, st->held_tagged, &format);
  for (size_t j = 0; j < owners.size (); ++j) {
    HeldPair & p = st->held[owners[j]];
    Mapped & mr = maps[2 * j];
    Mapped & md = maps[2 * j + 1];
    mr.mapped = gst_video_frame_map (&mr.vframe, &st->held_info, p.ref, flags);
    md.mapped = gst_video_frame_map (&md.vframe, &st->held_info, p.dist, flags);
    bool ok = mr.mapped && md.mapped;
    std::string why = "a buffer is smaller than its caps or not mappable";
#if S2S_HAVE_GST_CUDA
    if (ok && on_device) {
      ok = self->cuda->make_readable (&mr.vframe, &why)
          && self->cuda->make_readable (&md.vframe, &why);
    }
#endif
    if (!ok) {
      results[owners[j]] = unscored_result (p, S2S_STATUS_ERROR, why);
      if (!st->warned_unreadable) {
        st->warned_unreadable = true;
        GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("A frame could not be read"),
            ("%s (%dx%d %s); such frames are forwarded unscored", why.c_str (),
                GST_VIDEO_INFO_WIDTH (&st->held_info), GST_VIDEO_INFO_HEIGHT (&st->held_info),
                GST_VIDEO_INFO_NAME (&st->held_info)));
      }
      continue;
    }
    views.push_back (s2s::frame_view_from_video_frame (&mr.vframe, format.format));
    views.push_back (s2s::frame_view_from_video_frame (&md.vframe, format.format));
    paired.push_back (0);
    paired.push_back (1);
    scored.push_back (owners[j]);
  }
#if S2S_HAVE_GST_CUDA
  if (on_device)
    stream = self->cuda->ready_stream ();
#endif

  s2s::PairOptions options;
  options.mse = (s.metrics & GST_S2S_METRIC_MSE) != 0;
  options.ssim = (s.metrics & GST_S2S_METRIC_INV_SSIM) != 0;
  options.window = s.ssim_window == GST_S2S_SSIM_WINDOW_GAUSSIAN11 ?
      s2s::SsimWindow::kGaussian11 : s2s::SsimWindow::kUniform7;

  std::vector<s2s::PairResult> pr (views.size ());
  std::vector<double> lp (views.size (), kNaN);
  bool ok = true;
  std::string missing;
  if (!views.empty ()) {
    try {
      ok = on_device ?
          st->engine->score_device (views.data (), paired.data (), views.size (), options, stream,
          pr.data (), &error) :
          st->engine->score (views.data (), paired.data (), views.size (), options, pr.data (),
          &error);
    } catch (const std::bad_alloc &) {
      ok = false;
      error = "out of memory in the metrics engine";
    } catch (const std::exception & e) {
      ok = false;
      error = e.what ();
    }
    if (!ok && !st->warned_failure) {
      st->warned_failure = true;
      GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Frames could not be compared"),
          ("%s engine failed: %s; frames are forwarded unscored", st->engine->name (),
              error.c_str ()));
    }
    if (ok && (s.metrics & GST_S2S_METRIC_LPIPS)) {
#if S2S_HAVE_TORCH
      if (st->lpips_engine) {
        std::string lerr;
        bool lok;
        try {
          lok = on_device ?
              st->lpips_engine->score_device (views.data (), paired.data (), views.size (), stream,
              lp.data (), &lerr) :
              st->lpips_engine->score (views.data (), paired.data (), views.size (), lp.data (),
              &lerr);
        } catch (const std::exception & e) {
          lok = false;
          lerr = e.what ();
        }
        if (!lok) {
          std::fill (lp.begin (), lp.end (), kNaN);
          missing = "lpips: " + lerr;
          if (!st->warned_lpips) {
            st->warned_lpips = true;
            GST_ELEMENT_WARNING (self, STREAM, FAILED, ("LPIPS could not be computed"),
                ("%s: %s; lpips is NaN for these frames",
                    st->lpips_engine->device_name ().c_str (), lerr.c_str ()));
          }
        }
      } else
#endif
        missing = st->lpips_missing.empty () ?
            "lpips: enabled after start (the model loads at start)" : st->lpips_missing;
    }
  }
  for (Mapped & m:maps) {
    if (m.mapped)
      gst_video_frame_unmap (&m.vframe);
  }

  if (options.ssim && !s2s::ssim_defined_for (options.window, format.width, format.height)) {
    const int side = 2 * s2s::ssim_window_radius (options.window) + 1;
    if (!missing.empty ())
      missing += "; ";
    missing += "inv-ssim: frame smaller than the " + std::to_string (side) + "x" +
        std::to_string (side) + " SSIM window";
    if (!st->warned_small) {
      st->warned_small = true;
      GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("Frames too small for SSIM"),
          ("%dx%d frames are smaller than the %dx%d window: ssim is NaN",
              format.width, format.height, side, side));
    }
  }

  for (size_t j = 0; j < scored.size (); ++j) {
    HeldPair & p = st->held[scored[j]];
    if (!ok) {
      results[scored[j]] = unscored_result (p, S2S_STATUS_ERROR, error);
      continue;
    }
    const s2s::PairResult & r = pr[2 * j + 1];
    const double mse = r.mse, ssim = r.ssim, inv_ssim = 1.0 - r.ssim, lpips = lp[2 * j + 1];
    const double psnr = s2s::psnr_from_mse (mse);
    double weighted = 0;
    bool any = false;
    const double terms[3][2] = { {s.alpha, mse}, {s.beta, inv_ssim}, {s.gamma, lpips} };
    for (const auto & t:terms) {
      if (!std::isnan (t[1])) {
        weighted += t[0] * t[1];
        any = true;
      }
    }
    if (!any)
      weighted = kNaN;
    GstStructure *res = new_result (p);
    gst_structure_set (res, "mse", G_TYPE_DOUBLE, mse, "psnr", G_TYPE_DOUBLE, psnr,
        "ssim", G_TYPE_DOUBLE, ssim, "inv-ssim", G_TYPE_DOUBLE, inv_ssim,
        "lpips", G_TYPE_DOUBLE, lpips, "weighted", G_TYPE_DOUBLE, weighted,
        "status", G_TYPE_STRING, missing.empty () ? S2S_STATUS_OK : S2S_STATUS_PARTIAL, NULL);
    if (!missing.empty ())
      gst_structure_set (res, "reason", G_TYPE_STRING, missing.c_str (), NULL);
    results[scored[j]] = res;
  }
  GST_DEBUG_OBJECT (self, "batch of %" G_GSIZE_FORMAT " pairs (%" G_GSIZE_FORMAT
      " compared) on %s in %.3f ms", n, scored.size (), st->engine->name (),
      (g_get_monotonic_time () - t0) / 1000.0);
  return results;
}

/* The summary covers the results that were posted (a flush or a failed
 * push drops the rest of a batch unreported). */
static void
account (State * st, const GstStructure * r)
{
  const gchar *status = gst_structure_get_string (r, "status");
  if (g_strcmp0 (status, S2S_STATUS_OK) != 0 && g_strcmp0 (status, S2S_STATUS_PARTIAL) != 0) {
    st->skipped += g_strcmp0 (status, S2S_STATUS_SKIPPED) == 0;
    return;
  }
  const struct
  {
    const char *field;
    s2s::MetricSeries *series;
  } fields[] = {
    {"mse", &st->mse}, {"psnr", &st->psnr}, {"ssim", &st->ssim}, {"inv-ssim", &st->inv_ssim},
    {"lpips", &st->lpips}, {"weighted", &st->weighted},
  };
  for (const auto & f:fields) {
    double v;
    if (gst_structure_get_double (r, f.field, &v))
      f.series->add (v);
  }
  st->pairs++;
}

static void
clear_pair (HeldPair & p)
{
  gst_clear_buffer (&p.dist);
  gst_clear_buffer (&p.ref);
}

static void
drop_held (State * st)
{
  for (HeldPair & p:st->held)
    clear_pair (p);
  st->held.clear ();
}

/* Scores the held pairs and pushes their distorted buffers in order, each
 * right after its message. After a failed push the rest are dropped and
 * the flow goes upstream. */
static GstFlowReturn
release_held (GstS2sCompare * self)
{
  State *st = self->state;
  if (st->held.empty ())
    return GST_FLOW_OK;
  const Settings s = read_settings (self);
  std::vector<GstStructure *> results = score_held (self, s);
  GstFlowReturn flow = GST_FLOW_OK;
  for (size_t k = 0; k < st->held.size (); ++k) {
    HeldPair & p = st->held[k];
    if (flow == GST_FLOW_OK) {
      account (st, results[k]);
      publish (self, &p.dist, results[k], s);
      flow = gst_aggregator_finish_buffer (GST_AGGREGATOR (self), p.dist);
      p.dist = nullptr;
      if (flow != GST_FLOW_OK)
        GST_DEBUG_OBJECT (self, "push returned %s, dropping the rest of the batch",
            gst_flow_get_name (flow));
    } else {
      gst_structure_free (results[k]);
    }
    clear_pair (p);
  }
  st->held.clear ();
  return flow;
}

static void
post_summary (GstS2sCompare * self)
{
  State *st = self->state;
  if (st->summary_posted)
    return;
  st->summary_posted = true;
  GstStructure *s = gst_structure_new ("s2scompare-summary",
      "frames", G_TYPE_UINT64, st->pairs, "skipped", G_TYPE_UINT64, st->skipped, NULL);
  st->mse.write (s, "mse");
  st->psnr.write (s, "psnr");
  /* As FFmpeg's psnr filter reports its average: from the mean MSE. */
  gst_structure_set (s, "psnr-of-mean-mse", G_TYPE_DOUBLE, s2s::psnr_from_mse (st->mse.mean ()),
      NULL);
  st->ssim.write (s, "ssim");
  st->inv_ssim.write (s, "inv-ssim");
  st->lpips.write (s, "lpips");
  st->weighted.write (s, "weighted");
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

static void
reset_stream (State * st)
{
  st->pairs = st->skipped = 0;
  st->mse.clear ();
  st->psnr.clear ();
  st->ssim.clear ();
  st->inv_ssim.clear ();
  st->lpips.clear ();
  st->weighted.clear ();
  st->next_index = 0;
  st->summary_posted = false;
  st->warned_failure = st->warned_lpips = st->warned_unreadable = st->warned_no_ref = false;
}

static void
clear_ref (State * st)
{
  gst_clear_buffer (&st->ref.buffer);
  st->ref = RefFrame ();
}

/* ------------------------------------------------------------------------ */
/* Matching                                                                 */
/* ------------------------------------------------------------------------ */

static GstClockTime
running_time_of (GstAggregatorPad * pad, GstClockTime ts)
{
  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (pad);
  GstClockTime rt = pad->segment.format == GST_FORMAT_TIME ?
      gst_segment_to_running_time (&pad->segment, GST_FORMAT_TIME, ts) : GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (pad);
  return rt;
}

static GstClockTime
stream_time_of (GstAggregatorPad * pad, GstClockTime ts)
{
  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (pad);
  GstClockTime t = pad->segment.format == GST_FORMAT_TIME ?
      gst_segment_to_stream_time (&pad->segment, GST_FORMAT_TIME, ts) : GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (pad);
  return t;
}

/* Different formats cannot be compared pixel for pixel (no silent
 * scaling or conversion): sizes, formats and, for YUV, the colorimetry the
 * gray conversion uses must agree. */
static bool
same_frames (GstS2sCompare * self, const GstVideoInfo * a, const GstVideoColorimetry & ta,
    const GstVideoInfo * b, const GstVideoColorimetry & tb)
{
  if (GST_VIDEO_INFO_FORMAT (a) != GST_VIDEO_INFO_FORMAT (b)
      || GST_VIDEO_INFO_WIDTH (a) != GST_VIDEO_INFO_WIDTH (b)
      || GST_VIDEO_INFO_HEIGHT (a) != GST_VIDEO_INFO_HEIGHT (b))
    return false;
  if (!GST_VIDEO_INFO_IS_YUV (a))
    return true;
  s2s::StreamFormat fa, fb;
  return stream_format (self, a, ta, &fa) && stream_format (self, b, tb, &fb)
      && std::memcmp (&fa.yuv, &fb.yuv, sizeof fa.yuv) == 0;
}

static GstFlowReturn
gst_s2s_compare_aggregate (GstAggregator * agg, gboolean timeout)
{
  GstS2sCompare *self = GST_S2S_COMPARE (agg);
  State *st = self->state;

  if (st->deferred_flow != GST_FLOW_OK) {
    const GstFlowReturn flow = st->deferred_flow;
    st->deferred_flow = GST_FLOW_OK;
    return flow;
  }

  GstBuffer *dist = gst_aggregator_pad_peek_buffer (self->dist_pad);
  if (!dist) {
    if (gst_aggregator_pad_is_eos (self->dist_pad)) {
      /* The distorted stream ended: so does the comparison (whatever the
       * reference still has is not needed). */
      const GstFlowReturn flow = release_held (self);
      post_summary (self);
      return flow == GST_FLOW_OK ? GST_FLOW_EOS : flow;
    }
    return GST_AGGREGATOR_FLOW_NEED_DATA;       /* live: timed out without a frame */
  }
  gst_buffer_unref (dist);

  const GstClockTime pts = GST_BUFFER_PTS (dist);
  const GstClockTime t = running_time_of (self->dist_pad, pts);

  /* Advance the reference: each reference frame that starts at or before
   * t is in force from then on. Without a queued reference frame the next
   * one could still start before t: wait for it unless the reference
   * ended or (live) the deadline passed. A frame without a running time
   * has nothing to be matched by (and waiting would read the whole
   * reference): it is skipped. */
  while (GST_CLOCK_TIME_IS_VALID (t)) {
    GstBuffer *ref = gst_aggregator_pad_peek_buffer (self->ref_pad);
    if (!ref) {
      if (!gst_aggregator_pad_is_eos (self->ref_pad) && !timeout)
        return GST_AGGREGATOR_FLOW_NEED_DATA;
      break;
    }
    const GstClockTime rpts = GST_BUFFER_PTS (ref);
    const GstClockTime rt = running_time_of (self->ref_pad, rpts);
    if (GST_CLOCK_TIME_IS_VALID (rt) && rt > t + MATCH_TOLERANCE) {
      gst_buffer_unref (ref);
      break;
    }
    clear_ref (st);
    st->ref.buffer = ref;
    /* Its own format: the reference pad's caps may change before the
     * distorted frames it serves have been compared. */
    st->ref.info = st->ref_format.info;
    st->ref.tagged = st->ref_format.tagged;
    st->ref.running_time = rt;
    st->ref.pts = rpts;
    st->ref.gap = GST_BUFFER_FLAG_IS_SET (ref, GST_BUFFER_FLAG_GAP)
        || gst_buffer_get_size (ref) == 0;
    const GstClockTime dur = GST_BUFFER_DURATION (ref);
    st->ref.end = GST_CLOCK_TIME_IS_VALID (rpts) && GST_CLOCK_TIME_IS_VALID (dur) ?
        running_time_of (self->ref_pad, rpts + dur) : GST_CLOCK_TIME_NONE;
    gst_aggregator_pad_drop_buffer (self->ref_pad);
  }

  dist = gst_aggregator_pad_pop_buffer (self->dist_pad);
  if (!dist)
    return GST_FLOW_OK;         /* flushed meanwhile */

  HeldPair p;
  p.dist = dist;
  p.index = st->next_index++;
  p.pts = pts;
  p.duration = GST_BUFFER_DURATION (dist);
  p.running_time = t;
  p.stream_time = stream_time_of (self->dist_pad, pts);

  const bool ref_ended = gst_aggregator_pad_is_eos (self->ref_pad)
      && !gst_aggregator_pad_has_buffer (self->ref_pad);
  if (GST_BUFFER_FLAG_IS_SET (dist, GST_BUFFER_FLAG_GAP) || gst_buffer_get_size (dist) == 0) {
    p.skip_reason = "gap in the distorted stream";
  } else if (!st->dist_format.have) {
    p.skip_reason = "the distorted stream has no caps";
  } else if (!GST_CLOCK_TIME_IS_VALID (t)) {
    p.skip_reason = "the distorted frame has no timestamp to match a reference frame by";
  } else if (!st->ref.buffer) {
    p.skip_reason = ref_ended ? "the reference stream ended before this frame" :
        "no reference frame at or before this running time";
  } else if (st->ref.gap) {
    p.skip_reason = "gap in the reference stream";
  } else if (GST_CLOCK_TIME_IS_VALID (st->ref.end) && GST_CLOCK_TIME_IS_VALID (t)
      && t + MATCH_TOLERANCE >= st->ref.end) {
    p.skip_reason = ref_ended ? "the reference stream ended before this frame" :
        "no reference frame at this running time (the last one ended before it)";
  } else if (!same_frames (self, &st->ref.info, st->ref.tagged, &st->dist_format.info,
          st->dist_format.tagged)) {
    GstCaps *ref_caps = gst_video_info_to_caps (&st->ref.info);
    gchar *rc = gst_caps_to_string (ref_caps);
    gchar *dc = gst_caps_to_string (st->dist_format.caps);
    gst_caps_unref (ref_caps);
    const GstVideoInfo *ri = &st->ref.info, *di = &st->dist_format.info;
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("The reference (%dx%d %s) and distorted (%dx%d %s) frames differ in size or format",
            GST_VIDEO_INFO_WIDTH (ri), GST_VIDEO_INFO_HEIGHT (ri), GST_VIDEO_INFO_NAME (ri),
            GST_VIDEO_INFO_WIDTH (di), GST_VIDEO_INFO_HEIGHT (di), GST_VIDEO_INFO_NAME (di)),
        ("reference caps %s, distorted caps %s: s2scompare compares frames pixel for pixel "
            "and does not scale or convert; put videoscale/videoconvert before one pad",
            rc, dc));
    g_free (rc);
    g_free (dc);
    gst_buffer_unref (dist);
    return GST_FLOW_NOT_NEGOTIATED;
  } else {
    p.ref = gst_buffer_ref (st->ref.buffer);
    p.ref_pts = st->ref.pts;
  }
  if (!p.ref && !st->warned_no_ref && p.skip_reason.rfind ("gap", 0) != 0) {
    st->warned_no_ref = true;
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Distorted frames without a reference frame"),
        ("frame %" G_GUINT64_FORMAT " at running time %" GST_TIME_FORMAT ": %s; such frames "
            "pass with status=skipped (one warning per stream)", p.index, GST_TIME_ARGS (t),
            p.skip_reason.c_str ()));
  }

  /* A batch has one format (the engines are configured per batch). */
  GstFlowReturn flow = GST_FLOW_OK;
  if (!st->held.empty () && (!gst_video_info_is_equal (&st->held_info, &st->dist_format.info)
          || !gst_video_colorimetry_is_equal (&st->held_tagged, &st->dist_format.tagged)))
    flow = release_held (self);
  if (flow != GST_FLOW_OK) {
    clear_pair (p);
    return flow;
  }
  st->held_info = st->dist_format.info;
  st->held_tagged = st->dist_format.tagged;
  st->held.push_back (p);
  if (st->held.size () >= read_settings (self).batch_size)
    flow = release_held (self);
  return flow;
}

/* ------------------------------------------------------------------------ */
/* Events, queries, negotiation                                             */
/* ------------------------------------------------------------------------ */

/* The holding time of a batch: batch-size - 1 distorted frame durations. */
static void
update_latency (GstS2sCompare * self)
{
  const GstVideoInfo *info = &self->state->dist_format.info;
  const guint batch = read_settings (self).batch_size;
  GstClockTime hold = 0;
  if (batch > 1 && GST_VIDEO_INFO_FPS_N (info) > 0)
    hold = gst_util_uint64_scale_int ((batch - 1) * GST_SECOND, GST_VIDEO_INFO_FPS_D (info),
        GST_VIDEO_INFO_FPS_N (info));
  gst_aggregator_set_latency (GST_AGGREGATOR (self), hold, hold);
}

static gboolean
gst_s2s_compare_sink_event (GstAggregator * agg, GstAggregatorPad * pad, GstEvent * event)
{
  GstS2sCompare *self = GST_S2S_COMPARE (agg);
  State *st = self->state;
  const bool is_dist = pad == self->dist_pad;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      GstVideoInfo info;
      if (!s2s::video_info_from_supported_caps (caps, &info)) {
        GST_WARNING_OBJECT (pad, "unsupported caps %" GST_PTR_FORMAT, caps);
        gst_event_unref (event);
        return FALSE;
      }
      PadFormat & f = is_dist ? st->dist_format : st->ref_format;
      const bool cuda = s2s::caps_in_cuda_memory (caps);
      const GstVideoColorimetry tagged = s2s::caps_colorimetry (caps);
      if (f.have && cuda == f.cuda && gst_video_info_is_equal (&info, &f.info)
          && gst_video_colorimetry_is_equal (&tagged, &f.tagged)) {
        gst_event_unref (event);
        return TRUE;            /* re-sent unchanged */
      }
      /* Held pairs were taken with the old caps: they leave first. */
      const GstFlowReturn flow = release_held (self);
      if (flow != GST_FLOW_OK && st->deferred_flow == GST_FLOW_OK)
        st->deferred_flow = flow;
      f.have = true;
      f.info = info;
      f.tagged = tagged;
      f.cuda = cuda;
      gst_caps_replace (&f.caps, caps);
      if (is_dist) {
        gst_pad_mark_reconfigure (GST_AGGREGATOR_SRC_PAD (agg));
        update_latency (self);
      }
      GST_DEBUG_OBJECT (pad, "caps %" GST_PTR_FORMAT, caps);
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_SEGMENT:
      if (is_dist) {
        /* The distorted buffers leave with their own timestamps: the
         * output segment is theirs. */
        const GstSegment *segment;
        gst_event_parse_segment (event, &segment);
        if (segment->format == GST_FORMAT_TIME)
          gst_aggregator_update_segment (agg, segment);
      }
      break;
    case GST_EVENT_STREAM_START:
      if (is_dist) {
        const GstFlowReturn flow = release_held (self);
        if (flow != GST_FLOW_OK && st->deferred_flow == GST_FLOW_OK)
          st->deferred_flow = flow;
        reset_stream (st);
      }
      break;
    default:
      break;
  }
  return GST_AGGREGATOR_CLASS (gst_s2s_compare_parent_class)->sink_event (agg, pad, event);
}

static GstCaps *
template_caps (GstPad * pad)
{
  return gst_pad_get_pad_template_caps (pad);
}

static gboolean
gst_s2s_compare_sink_query (GstAggregator * agg, GstAggregatorPad * pad, GstQuery * query)
{
  GstS2sCompare *self = GST_S2S_COMPARE (agg);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:{
      GstCaps *filter;
      gst_query_parse_caps (query, &filter);
      GstCaps *templ = template_caps (GST_PAD (pad));
      GstCaps *result;
      if (pad == self->dist_pad) {
        /* The distorted frames go downstream as they are. */
        GstCaps *peer = gst_pad_peer_query_caps (GST_AGGREGATOR_SRC_PAD (agg), filter);
        result = gst_caps_intersect_full (peer, templ, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (peer);
      } else if (filter) {
        result = gst_caps_intersect_full (filter, templ, GST_CAPS_INTERSECT_FIRST);
      } else {
        result = gst_caps_ref (templ);
      }
      gst_caps_unref (templ);
      gst_query_set_caps_result (query, result);
      gst_caps_unref (result);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS:{
      GstCaps *caps;
      gst_query_parse_accept_caps (query, &caps);
      GstCaps *templ = template_caps (GST_PAD (pad));
      GstVideoInfo info;
      gboolean ok = gst_caps_can_intersect (caps, templ)
          && s2s::video_info_from_supported_caps (caps, &info);
      if (ok && pad == self->dist_pad)
        ok = gst_pad_peer_query_accept_caps (GST_AGGREGATOR_SRC_PAD (agg), caps);
      gst_caps_unref (templ);
      gst_query_set_accept_caps_result (query, ok);
      return TRUE;
    }
    case GST_QUERY_CONTEXT:
#if S2S_HAVE_GST_CUDA
      if (self->cuda->answer_query (GST_ELEMENT (self), query))
        return TRUE;
#endif
      break;
    default:
      break;
  }
  return GST_AGGREGATOR_CLASS (gst_s2s_compare_parent_class)->sink_query (agg, pad, query);
}

static gboolean
gst_s2s_compare_src_query (GstAggregator * agg, GstQuery * query)
{
  GstS2sCompare *self = GST_S2S_COMPARE (agg);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:{
      GstCaps *filter;
      gst_query_parse_caps (query, &filter);
      GstCaps *templ = template_caps (GST_AGGREGATOR_SRC_PAD (agg));
      GstCaps *peer = gst_pad_peer_query_caps (GST_PAD (self->dist_pad), filter);
      GstCaps *result = gst_caps_intersect_full (peer, templ, GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref (peer);
      gst_caps_unref (templ);
      gst_query_set_caps_result (query, result);
      gst_caps_unref (result);
      return TRUE;
    }
    case GST_QUERY_CONTEXT:
#if S2S_HAVE_GST_CUDA
      if (self->cuda->answer_query (GST_ELEMENT (self), query))
        return TRUE;
#endif
      break;
    default:
      break;
  }
  return GST_AGGREGATOR_CLASS (gst_s2s_compare_parent_class)->src_query (agg, query);
}

/* The output caps are the distorted stream's: its buffers pass untouched. */
static GstFlowReturn
gst_s2s_compare_update_src_caps (GstAggregator * agg, GstCaps * downstream, GstCaps ** ret)
{
  GstS2sCompare *self = GST_S2S_COMPARE (agg);
  GstCaps *caps = self->state->dist_format.caps;
  if (!caps)
    return GST_AGGREGATOR_FLOW_NEED_DATA;
  if (downstream && !gst_caps_can_intersect (caps, downstream)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Downstream does not accept the distorted caps"),
        ("distorted caps %" GST_PTR_FORMAT ", downstream accepts %" GST_PTR_FORMAT, caps,
            downstream));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  *ret = gst_caps_ref (caps);
  return GST_FLOW_OK;
}

/* The distorted buffers are upstream's: no pool of ours to decide. */
static gboolean
gst_s2s_compare_decide_allocation (GstAggregator *, GstQuery *)
{
  return TRUE;
}

static GstFlowReturn
gst_s2s_compare_flush (GstAggregator * agg)
{
  GstS2sCompare *self = GST_S2S_COMPARE (agg);
  State *st = self->state;
  /* As a queue: held frames are dropped (downstream refuses them while
   * flushing); nothing from before the flush is reported after it. */
  drop_held (st);
  clear_ref (st);
  st->deferred_flow = GST_FLOW_OK;
  return GST_FLOW_OK;
}

static gboolean
gst_s2s_compare_start (GstAggregator * agg)
{
  GstS2sCompare *self = GST_S2S_COMPARE (agg);
  State *st = self->state;
  const Settings s = read_settings (self);

  reset_stream (st);
  st->configured = false;
  st->deferred_flow = GST_FLOW_OK;
  st->lpips_missing.clear ();
  if (!make_pair_engine (self, s))
    return FALSE;
  if ((s.metrics & GST_S2S_METRIC_LPIPS) && !start_lpips (self, s)) {
    st->engine.reset ();
    return FALSE;
  }
  bool reads = g_str_equal (st->engine->name (), "cuda");
#if S2S_HAVE_TORCH
  if (st->lpips_engine)
    reads = reads && st->lpips_engine->device_name ().rfind ("cuda", 0) == 0;
#endif
#if S2S_HAVE_GST_CUDA
  reads = reads && self->cuda->device_id () >= 0;
#else
  reads = false;
#endif
  st->device_reads = reads;
  GST_INFO_OBJECT (self, "started on %s", st->engine->name ());
  return TRUE;
}

static gboolean
gst_s2s_compare_stop (GstAggregator * agg)
{
  GstS2sCompare *self = GST_S2S_COMPARE (agg);
  State *st = self->state;
  drop_held (st);
  clear_ref (st);
  for (PadFormat * f : {&st->ref_format, &st->dist_format}) {
    gst_clear_caps (&f->caps);
    f->have = false;
  }
  st->engine.reset ();
#if S2S_HAVE_TORCH
  st->lpips_engine.reset ();
#endif
  st->configured = false;
  return TRUE;
}

static void
gst_s2s_compare_set_context (GstElement * element, GstContext * context)
{
#if S2S_HAVE_GST_CUDA
  GstS2sCompare *self = GST_S2S_COMPARE (element);
  self->cuda->set_context (element, context, read_settings (self).cuda_device_id);
#endif
  GST_ELEMENT_CLASS (gst_s2s_compare_parent_class)->set_context (element, context);
}

static GstStateChangeReturn
gst_s2s_compare_change_state (GstElement * element, GstStateChange transition)
{
#if S2S_HAVE_GST_CUDA
  GstS2sCompare *self = GST_S2S_COMPARE (element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    /* Before upstream CUDA elements start, as s2smetrics: decoders then
     * allocate in the context our engines read. */
    const Settings s = read_settings (self);
    std::string why;
    if (s.device != GST_S2S_DEVICE_CPU && !self->cuda->ensure (element, s.cuda_device_id, &why))
      GST_INFO_OBJECT (self, "no CUDA context: %s", why.c_str ());
  }
#endif
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (gst_s2s_compare_parent_class)->change_state (element, transition);
#if S2S_HAVE_GST_CUDA
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    self->cuda->reset ();
#endif
  return ret;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */
/* ------------------------------------------------------------------------ */

static void
gst_s2s_compare_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstS2sCompare *self = GST_S2S_COMPARE (object);
  GST_OBJECT_LOCK (self);
  Settings *s = self->settings;
  switch (prop_id) {
    case PROP_METRICS:
      s->metrics = g_value_get_flags (value);
      break;
    case PROP_LPIPS_MODEL:
      s->lpips_model = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_LPIPS_SIZE:
      s->lpips_size = g_value_get_uint (value);
      break;
    case PROP_SSIM_WINDOW:
      s->ssim_window = (GstS2sSsimWindow) g_value_get_enum (value);
      break;
    case PROP_ALPHA:
      s->alpha = g_value_get_double (value);
      break;
    case PROP_BETA:
      s->beta = g_value_get_double (value);
      break;
    case PROP_GAMMA:
      s->gamma = g_value_get_double (value);
      break;
    case PROP_DEVICE:
      s->device = (GstS2sDevice) g_value_get_enum (value);
      break;
    case PROP_CUDA_DEVICE_ID:
      s->cuda_device_id = g_value_get_int (value);
      break;
    case PROP_BATCH_SIZE:
      s->batch_size = g_value_get_uint (value);
      break;
    case PROP_PRECISION:
      s->precision = (GstS2sPrecision) g_value_get_enum (value);
      break;
    case PROP_CONVERSION:
      s->conversion = (GstS2sConversion) g_value_get_enum (value);
      break;
    case PROP_POST_MESSAGES:
      s->post_messages = g_value_get_boolean (value);
      break;
    case PROP_ATTACH_META:
      s->attach_meta = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_s2s_compare_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstS2sCompare *self = GST_S2S_COMPARE (object);
  GST_OBJECT_LOCK (self);
  const Settings *s = self->settings;
  switch (prop_id) {
    case PROP_METRICS:
      g_value_set_flags (value, s->metrics);
      break;
    case PROP_LPIPS_MODEL:
      g_value_set_string (value, s->lpips_model.c_str ());
      break;
    case PROP_LPIPS_SIZE:
      g_value_set_uint (value, s->lpips_size);
      break;
    case PROP_SSIM_WINDOW:
      g_value_set_enum (value, s->ssim_window);
      break;
    case PROP_ALPHA:
      g_value_set_double (value, s->alpha);
      break;
    case PROP_BETA:
      g_value_set_double (value, s->beta);
      break;
    case PROP_GAMMA:
      g_value_set_double (value, s->gamma);
      break;
    case PROP_DEVICE:
      g_value_set_enum (value, s->device);
      break;
    case PROP_CUDA_DEVICE_ID:
      g_value_set_int (value, s->cuda_device_id);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, s->batch_size);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, s->precision);
      break;
    case PROP_CONVERSION:
      g_value_set_enum (value, s->conversion);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, s->post_messages);
      break;
    case PROP_ATTACH_META:
      g_value_set_boolean (value, s->attach_meta);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_s2s_compare_finalize (GObject * object)
{
  GstS2sCompare *self = GST_S2S_COMPARE (object);
  drop_held (self->state);
  clear_ref (self->state);
  gst_clear_caps (&self->state->ref_format.caps);
  gst_clear_caps (&self->state->dist_format.caps);
  delete self->state;
  delete self->settings;
#if S2S_HAVE_GST_CUDA
  delete self->cuda;
#endif
  G_OBJECT_CLASS (gst_s2s_compare_parent_class)->finalize (object);
}

static void
gst_s2s_compare_class_init (GstS2sCompareClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstAggregatorClass *agg_class = GST_AGGREGATOR_CLASS (klass);
  const GParamFlags rw = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags rw_playing = (GParamFlags) (rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags rw_ready = (GParamFlags) (rw | GST_PARAM_MUTABLE_READY);

  gobject_class->set_property = gst_s2s_compare_set_property;
  gobject_class->get_property = gst_s2s_compare_get_property;
  gobject_class->finalize = gst_s2s_compare_finalize;

  g_object_class_install_property (gobject_class, PROP_METRICS,
      g_param_spec_flags ("metrics", "Metrics",
          "Metrics to compute (mse also gives psnr, inv-ssim also ssim)",
          gst_s2s_metric_flags_get_type (), DEFAULT_METRICS, rw_playing));
  g_object_class_install_property (gobject_class, PROP_LPIPS_MODEL,
      g_param_spec_string ("lpips-model", "LPIPS model",
          "LPIPS weights file (safetensors), see docs/models.md", DEFAULT_LPIPS_MODEL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_LPIPS_SIZE,
      g_param_spec_uint ("lpips-size", "LPIPS size",
          "Square size frames are resized to for LPIPS (0 = native resolution)", 0, 8192,
          DEFAULT_LPIPS_SIZE, rw_ready));
  g_object_class_install_property (gobject_class, PROP_SSIM_WINDOW,
      g_param_spec_enum ("ssim-window", "SSIM window", "SSIM window",
          gst_s2s_ssim_window_get_type (), DEFAULT_SSIM_WINDOW, rw_playing));
  g_object_class_install_property (gobject_class, PROP_ALPHA,
      g_param_spec_double ("alpha", "Alpha", "Weight of mse in the weighted difference",
          -G_MAXDOUBLE, G_MAXDOUBLE, DEFAULT_ALPHA, rw_playing));
  g_object_class_install_property (gobject_class, PROP_BETA,
      g_param_spec_double ("beta", "Beta", "Weight of inv-ssim in the weighted difference",
          -G_MAXDOUBLE, G_MAXDOUBLE, DEFAULT_BETA, rw_playing));
  g_object_class_install_property (gobject_class, PROP_GAMMA,
      g_param_spec_double ("gamma", "Gamma", "Weight of lpips in the weighted difference",
          -G_MAXDOUBLE, G_MAXDOUBLE, DEFAULT_GAMMA, rw_playing));
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_enum ("device", "Device",
          "Where to compute: auto (CUDA if usable, else CPU with a warning), cuda or cpu",
          GST_TYPE_S2S_DEVICE, DEFAULT_DEVICE, rw_ready));
  g_object_class_install_property (gobject_class, PROP_CUDA_DEVICE_ID,
      g_param_spec_int ("cuda-device-id", "CUDA device id",
          "CUDA device (-1: the pipeline's CUDA context's, else 0)", -1, G_MAXINT,
          DEFAULT_CUDA_DEVICE_ID, rw_ready));
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_uint ("batch-size", "Batch size",
          "Pairs held and computed together (1 = no holding)", 1, MAX_BATCH_SIZE,
          DEFAULT_BATCH_SIZE, rw_playing));
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Network precision (MSE and SSIM are always computed in double)",
          GST_TYPE_S2S_PRECISION, DEFAULT_PRECISION, rw_ready));
  g_object_class_install_property (gobject_class, PROP_CONVERSION,
      g_param_spec_enum ("conversion", "Conversion",
          "How YUV frames become RGB and gray, as on s2smetrics: service = as the replaced "
          "service's cv2.VideoCapture (libswscale's integer conversion with the stream's tagged "
          "matrix, BT.601 when untagged, and its range); colorimetry = the caps' colorimetry, "
          "exact", GST_TYPE_S2S_CONVERSION, GST_S2S_CONVERSION_SERVICE, rw_ready));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an element message per distorted frame", TRUE, rw_playing));
  g_object_class_install_property (gobject_class, PROP_ATTACH_META,
      g_param_spec_boolean ("attach-meta", "Attach meta",
          "Attach the results to the distorted buffers as custom meta", TRUE, rw_playing));

  gst_element_class_add_static_pad_template_with_gtype (element_class, &reference_template,
      GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (element_class, &distorted_template,
      GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (element_class, &src_template,
      GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_set_static_metadata (element_class, "Full-reference video metrics",
      "Filter/Analyzer/Video",
      "Compares each distorted frame with its reference frame: MSE, PSNR, SSIM, LPIPS, "
      "weighted sum", "gst-s2s developers");

  element_class->set_context = gst_s2s_compare_set_context;
  element_class->change_state = gst_s2s_compare_change_state;

  agg_class->aggregate = gst_s2s_compare_aggregate;
  agg_class->sink_event = gst_s2s_compare_sink_event;
  agg_class->sink_query = gst_s2s_compare_sink_query;
  agg_class->src_query = gst_s2s_compare_src_query;
  agg_class->update_src_caps = gst_s2s_compare_update_src_caps;
  agg_class->decide_allocation = gst_s2s_compare_decide_allocation;
  agg_class->flush = gst_s2s_compare_flush;
  agg_class->start = gst_s2s_compare_start;
  agg_class->stop = gst_s2s_compare_stop;
}

static void
gst_s2s_compare_init (GstS2sCompare * self)
{
  self->settings = new Settings ();
  self->state = new State ();
#if S2S_HAVE_GST_CUDA
  self->cuda = new s2s::CudaLink ();
#endif
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  self->ref_pad = GST_AGGREGATOR_PAD (g_object_new (GST_TYPE_AGGREGATOR_PAD, "name", "reference",
          "direction", GST_PAD_SINK,
          "template", gst_element_class_get_pad_template (klass, "reference"), NULL));
  self->dist_pad = GST_AGGREGATOR_PAD (g_object_new (GST_TYPE_AGGREGATOR_PAD, "name", "distorted",
          "direction", GST_PAD_SINK,
          "template", gst_element_class_get_pad_template (klass, "distorted"), NULL));
  gst_element_add_pad (GST_ELEMENT (self), GST_PAD (self->ref_pad));
  gst_element_add_pad (GST_ELEMENT (self), GST_PAD (self->dist_pad));
}
