/**
 * SECTION:element-s2smetrics
 * @title: s2smetrics
 *
 * Compares every frame with the frame before it and reports MSE, inverse
 * SSIM (1 - SSIM), LPIPS and their weighted sum, as the Python service it
 * replaces computed them (OpenCV gray, scikit-image SSIM defaults). The
 * frames pass through untouched.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=clip.mp4 ! decodebin ! videoconvert ! \
 *     s2smetrics device=cpu metrics=mse+inv-ssim ! fakesink
 * ]|
 *
 * ## Per-frame element message `s2smetrics` (frame t, compared with t-1)
 * - `frame` (guint64): index of t since the stream started
 * - `timestamp`, `stream-time`, `running-time`, `duration` (GstClockTime)
 * - `mse`, `inv-ssim`, `lpips`, `weighted` (gdouble): NaN when not computed;
 *   `psnr` (gdouble, dB): 10 log10 (255^2 / mse), +inf for identical frames;
 *   `weighted` = alpha*mse + beta*inv-ssim + gamma*lpips over the present ones
 * - `status` (string): ok, partial, skipped or error; `reason` (string) when
 *   not ok
 * The first frame after a reset (flush, new segment, caps change, DISCONT,
 * gap) has no predecessor: no message and no meta. The same fields are
 * attached to the buffer as the custom meta `S2SMetricsMeta` (s2s-meta.h).
 *
 * At EOS: `s2smetrics-summary` with `frames` (pairs measured) and for each
 * metric `<name>-mean`, `-min`, `-max`, `-p95`, and `psnr-of-mean-mse`.
 *
 * Gray is OpenCV's COLOR_RGB2GRAY 15-bit rule. YUV input is first converted
 * to 8-bit RGB with the caps' colorimetry (matrix and range), rounded to
 * nearest, chroma taken from the covering sample (docs/metrics.md).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsts2smetrics.h"

#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "pair_engine.h"
#if S2S_HAVE_CUDA
#include "cuda_pair_engine.h"
#endif
#if S2S_HAVE_TORCH
#include "torch_backend.h"
#endif
#include "s2s-meta.h"
#include "s2smodelpath.h"
#include "s2sstats.h"
#include "s2svideo.h"

GST_DEBUG_CATEGORY_STATIC (gst_s2s_metrics_debug);
#define GST_CAT_DEFAULT gst_s2s_metrics_debug

#define DEFAULT_METRICS (GST_S2S_METRIC_MSE | GST_S2S_METRIC_INV_SSIM | GST_S2S_METRIC_LPIPS)
/* Where scripts/setup.sh installs the real weights (s2smodelpath.h). */
#define DEFAULT_LPIPS_MODEL_FILE "lpips-alex-v0.1.safetensors"
#define DEFAULT_LPIPS_MODEL (s2s::default_model_path (DEFAULT_LPIPS_MODEL_FILE))
#define DEFAULT_LPIPS_SIZE 256
#define DEFAULT_SSIM_WINDOW GST_S2S_SSIM_WINDOW_UNIFORM7
#define DEFAULT_ALPHA 0.5
#define DEFAULT_BETA 0.3
#define DEFAULT_GAMMA 0.2
#define DEFAULT_BATCH_SIZE 16

enum
{
  PROP_METRICS = GST_S2S_ANALYZER_PROP_LAST,
  PROP_LPIPS_MODEL,
  PROP_LPIPS_SIZE,
  PROP_SSIM_WINDOW,
  PROP_ALPHA,
  PROP_BETA,
  PROP_GAMMA,
};

GType
gst_s2s_metric_flags_get_type (void)
{
  static GType type = 0;
  static const GFlagsValue values[] = {
    {GST_S2S_METRIC_MSE, "Mean squared error of the gray frames (0..65025)", "mse"},
    {GST_S2S_METRIC_INV_SSIM, "1 - SSIM of the gray frames", "inv-ssim"},
    {GST_S2S_METRIC_LPIPS, "LPIPS v0.1 (AlexNet)", "lpips"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_flags_register_static ("GstS2sMetricFlags", values));
  return type;
}

GType
gst_s2s_ssim_window_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_S2S_SSIM_WINDOW_UNIFORM7, "7x7 uniform, sample covariance (scikit-image default)",
        "uniform7"},
    {GST_S2S_SSIM_WINDOW_GAUSSIAN11, "11x11 Gaussian sigma 1.5 (Wang et al. 2004)", "gaussian11"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstS2sSsimWindow", values));
  return type;
}

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
};

/* Built in start/set_info, used by the streaming thread only. */
struct State
{
  std::unique_ptr<s2s::PairEngine> engine;
#if S2S_HAVE_TORCH
  std::unique_ptr<s2s::LpipsEngine> lpips_engine;
#endif
  s2s::StreamFormat format;
  std::string lpips_missing;    /* why LPIPS is not computed, if requested */
  bool kept_valid = false;      /* the engine holds the previous frame */
  bool warned_small = false;
  bool warned_failure = false;
  bool warned_lpips = false;
  guint64 pairs = 0;
  s2s::MetricSeries mse, psnr, inv_ssim, lpips, weighted;
};

}  // namespace

struct _GstS2sMetrics
{
  GstS2sAnalyzer parent;
  Settings *settings;           /* under the object lock */
  State *state;
};

G_DEFINE_TYPE (GstS2sMetrics, gst_s2s_metrics, GST_TYPE_S2S_ANALYZER);
GST_ELEMENT_REGISTER_DEFINE (s2smetrics, "s2smetrics", GST_RANK_NONE, GST_TYPE_S2S_METRICS);

static Settings
read_settings (GstS2sMetrics * self)
{
  GST_OBJECT_LOCK (self);
  Settings s = *self->settings;
  GST_OBJECT_UNLOCK (self);
  return s;
}

/* ------------------------------------------------------------------------ */

#if S2S_HAVE_TORCH
/* The device policy for LPIPS: LibTorch on the device of the MSE/SSIM
 * engine. Where that engine already fell back to the CPU (one WARNING said
 * so) LPIPS follows quietly; where LibTorch alone cannot use the device,
 * the policy applies to it. FALSE: the start must fail. */
static gboolean
lpips_device (GstS2sMetrics * self, const s2s::TorchBackend * torch, s2s::LpipsConfig * config)
{
  GstS2sAnalyzer *analyzer = GST_S2S_ANALYZER (self);
  /* device=cpu, or the MSE/SSIM engine is on the CPU (this build has no
   * CUDA kernels, or none was usable and the policy already spoke). */
  const bool pair_on_cuda = self->state->engine && g_str_equal (self->state->engine->name (), "cuda");
  if (!pair_on_cuda)
    return TRUE;
  config->cuda_device = gst_s2s_analyzer_get_cuda_device (analyzer);
  std::string why;
  config->cuda = torch->cuda_usable (config->cuda_device, &why);
  if (config->cuda)
    return TRUE;
  return gst_s2s_analyzer_no_cuda_device (analyzer, ("LPIPS: " + why).c_str ());
}
#endif

/* LPIPS needs its model. A missing or unreadable file is not fatal: the
 * other metrics run and one WARNING says what to do. A file that is there
 * but wrong (corrupt, truncated, other model) is a setup fault: ERROR, or
 * with on-error=passthrough a WARNING and the other metrics only. */
static gboolean
start_lpips (GstS2sMetrics * self, const Settings & s)
{
  State *st = self->state;
  const char *path = s.lpips_model.c_str ();

#if S2S_HAVE_TORCH
  if (!s2s::model_file_readable (s.lpips_model)) {
    st->lpips_missing = "lpips: no model file";
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("LPIPS model '%s' not found or not readable: computing the other metrics only", path),
        ("scripts/setup.sh installs the real LPIPS weights at the default path; or set "
            "lpips-model to a weights file (docs/models.md tells how to make one), "
            "or metrics=mse+inv-ssim"));
    return TRUE;
  }
  /* LibTorch loads here, the first time a network is wanted. */
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
  if (!lpips_device (self, torch, &config))
    return FALSE;
  config.precision = s2s::net_precision_from (gst_s2s_analyzer_get_precision (GST_S2S_ANALYZER (self)));
  if (gst_s2s_analyzer_inject_model_load_fault (GST_S2S_ANALYZER (self)))
    error = "injected fault: the model failed to load";
  else
    st->lpips_engine = torch->make_lpips (config, &error);
  if (!st->lpips_engine) {
    if (!GST_S2S_ANALYZER_SETUP_FAULT (self, RESOURCE, READ,
            ("Could not load the LPIPS model '%s'", path), ("%s", error.c_str ())))
      return FALSE;
    st->lpips_missing = "lpips: the model failed to load: " + error;
    return TRUE;
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

/* The device policy for MSE and SSIM: the CUDA engine where this build has
 * one and a device is usable; device=auto falls back to the CPU with one
 * WARNING; device=cuda without a usable device is a setup fault. Leaves
 * st->engine NULL for the CPU. FALSE: the start must fail. */
static gboolean
make_cuda_engine (GstS2sMetrics * self)
{
  GstS2sAnalyzer *analyzer = GST_S2S_ANALYZER (self);
#if S2S_HAVE_CUDA
  const GstS2sDevice device = gst_s2s_analyzer_get_device (analyzer);
  if (device == GST_S2S_DEVICE_CPU)
    return TRUE;
  const gint id = gst_s2s_analyzer_get_cuda_device (analyzer);
  std::string error;
  self->state->engine = s2s::make_cuda_pair_engine (id, &error);
  if (self->state->engine)
    return TRUE;
  return gst_s2s_analyzer_no_cuda_device (analyzer, error.c_str ());
#else
  return gst_s2s_analyzer_use_cpu (analyzer);
#endif
}

static gboolean
gst_s2s_metrics_start (GstS2sAnalyzer * analyzer)
{
  GstS2sMetrics *self = GST_S2S_METRICS (analyzer);
  const Settings s = read_settings (self);
  State *st = self->state;

  if (!make_cuda_engine (self))
    return FALSE;
  if (gst_s2s_analyzer_passes_through_unscored (analyzer))
    return TRUE;                /* on-error=passthrough after a setup fault */

  try {
    if (!st->engine)
      st->engine = s2s::make_cpu_pair_engine (0);
  } catch (const std::exception & e) {
    if (!GST_S2S_ANALYZER_SETUP_FAULT (self, RESOURCE, FAILED,
            ("Could not start the metrics engine"), ("%s", e.what ())))
      return FALSE;
    gst_s2s_analyzer_pass_through_unscored (analyzer, "the metrics engine could not start");
    return TRUE;
  }

  st->lpips_missing.clear ();
  if ((s.metrics & GST_S2S_METRIC_LPIPS) && !start_lpips (self, s))
    return FALSE;

  /* CUDA memory stays on the device where every engine reads it there. */
  bool device_reads = g_str_equal (st->engine->name (), "cuda");
#if S2S_HAVE_TORCH
  if (st->lpips_engine)
    device_reads = device_reads && st->lpips_engine->device_name ().rfind ("cuda", 0) == 0;
#endif
  gst_s2s_analyzer_set_reads_cuda_memory (analyzer, device_reads);

  GST_INFO_OBJECT (self, "started on %s", st->engine->name ());
  return TRUE;
}

static void
gst_s2s_metrics_stop (GstS2sAnalyzer * analyzer)
{
  GstS2sMetrics *self = GST_S2S_METRICS (analyzer);
  self->state->engine.reset ();
#if S2S_HAVE_TORCH
  self->state->lpips_engine.reset ();
#endif
  self->state->kept_valid = false;
}

static gboolean
gst_s2s_metrics_set_info (GstS2sAnalyzer * analyzer, const GstVideoInfo * info)
{
  GstS2sMetrics *self = GST_S2S_METRICS (analyzer);
  State *st = self->state;
  s2s::StreamFormat format;

  if (!s2s::stream_format_from_info (info, &format, analyzer)) {
    GST_WARNING_OBJECT (self, "unsupported format %s", GST_VIDEO_INFO_NAME (info));
    return FALSE;
  }
  std::string error;
  if (!st->engine && gst_s2s_analyzer_passes_through_unscored (analyzer)) {
    st->format = format;        /* nothing to configure: frames pass unscored */
    return TRUE;
  }
  if (!st->engine || !st->engine->configure (format, &error)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Could not configure the metrics engine"),
        ("%s", error.c_str ()));
    return FALSE;
  }
#if S2S_HAVE_TORCH
  if (st->lpips_engine) {
    GST_OBJECT_LOCK (self);
    const int lpips_size = (int) self->settings->lpips_size;
    GST_OBJECT_UNLOCK (self);
    if (!st->lpips_engine->configure (format, lpips_size, &error)) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Could not configure LPIPS"), ("%s",
              error.c_str ()));
      return FALSE;
    }
  }
#endif
  st->format = format;
  st->kept_valid = false;
  st->warned_small = false;
  GST_DEBUG_OBJECT (self, "configured for %dx%d %s", format.width, format.height,
      s2s::format_name (format.format));
  return TRUE;
}

static void
gst_s2s_metrics_reset_stream (GstS2sAnalyzer * analyzer)
{
  State *st = GST_S2S_METRICS (analyzer)->state;
  st->pairs = 0;
  st->mse.clear ();
  st->psnr.clear ();
  st->inv_ssim.clear ();
  st->lpips.clear ();
  st->weighted.clear ();
  st->warned_failure = false;
  st->warned_lpips = false;
}

/* Adds the metric fields, weighted sum and status to a result; returns the
 * weighted sum. */
static double
fill_result (GstStructure * r, const Settings & s, double mse, double inv_ssim, double lpips,
    const std::string & missing)
{
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
  gst_structure_set (r, "mse", G_TYPE_DOUBLE, mse, "psnr", G_TYPE_DOUBLE,
      s2s::psnr_from_mse (mse), "inv-ssim", G_TYPE_DOUBLE, inv_ssim,
      "lpips", G_TYPE_DOUBLE, lpips, "weighted", G_TYPE_DOUBLE, weighted,
      "status", G_TYPE_STRING, missing.empty () ? S2S_STATUS_OK : S2S_STATUS_PARTIAL, NULL);
  if (!missing.empty ())
    gst_structure_set (r, "reason", G_TYPE_STRING, missing.c_str (), NULL);
  return weighted;
}

static void
mark_unscored (GstS2sAnalyzer * analyzer, GstS2sFrame * f, const char *status, const char *reason)
{
  f->result = gst_s2s_analyzer_new_result (analyzer, f);
  gst_structure_set (f->result, "mse", G_TYPE_DOUBLE, kNaN, "psnr", G_TYPE_DOUBLE, kNaN,
      "inv-ssim", G_TYPE_DOUBLE, kNaN,
      "lpips", G_TYPE_DOUBLE, kNaN, "weighted", G_TYPE_DOUBLE, kNaN,
      "status", G_TYPE_STRING, status, "reason", G_TYPE_STRING, reason, NULL);
}

static GstS2sScoreStatus
gst_s2s_metrics_score (GstS2sAnalyzer * analyzer, GstS2sFrame * frames, guint n, gchar ** reason)
{
  GstS2sMetrics *self = GST_S2S_METRICS (analyzer);
  State *st = self->state;
  const Settings s = read_settings (self);
  const gint64 t0 = g_get_monotonic_time ();

  s2s::PairOptions options;
  options.mse = (s.metrics & GST_S2S_METRIC_MSE) != 0;
  options.ssim = (s.metrics & GST_S2S_METRIC_INV_SSIM) != 0;
  options.window = s.ssim_window == GST_S2S_SSIM_WINDOW_GAUSSIAN11 ?
      s2s::SsimWindow::kGaussian11 : s2s::SsimWindow::kUniform7;

  /* The engine sees the scorable frames in order; a frame pairs with the
   * one before it only if that one was scored too. */
  std::vector<s2s::FrameView> views;
  std::vector<uint8_t> paired;
  std::vector<guint> owner;
  bool previous_ok = st->kept_valid;
  bool on_device = false;       /* the same for the whole batch */
  for (guint i = 0; i < n; ++i) {
    GstS2sFrame & f = frames[i];
    if (!f.scorable) {
      previous_ok = false;
      continue;
    }
    on_device = f.on_device;
    views.push_back (s2s::frame_view_from_video_frame (&f.vframe, st->format.format));
    paired.push_back (f.has_previous && previous_ok);
    owner.push_back (i);
    previous_ok = true;
  }

  std::vector<s2s::PairResult> results (views.size ());
  std::string error;
  bool ok = true;
  if (!views.empty ()) {
    try {
      ok = on_device ?
          st->engine->score_device (views.data (), paired.data (), views.size (), options,
          gst_s2s_analyzer_get_frames_stream (analyzer), results.data (), &error) :
          st->engine->score (views.data (), paired.data (), views.size (), options,
          results.data (), &error);
    } catch (const std::bad_alloc &) {
      /* The base class retries with fewer frames; the engine may have lost
       * the frame it kept, so the retry starts a new chain. */
      st->engine->reset_chain ();
      st->kept_valid = false;
      *reason = g_strdup ("out of memory in the metrics engine");
      return GST_S2S_SCORE_OUT_OF_MEMORY;
    } catch (const std::exception & e) {
      ok = false;
      error = e.what ();
    }
  }
  if (!ok) {
    /* Device faults are the base class's to handle (retry, stop using). */
    const s2s::EngineErrorKind kind = st->engine->last_error_kind ();
    if (kind == s2s::EngineErrorKind::kOutOfMemory || kind == s2s::EngineErrorKind::kDeviceLost) {
      st->engine->reset_chain ();
      st->kept_valid = false;
      *reason = g_strdup (error.c_str ());
      return kind == s2s::EngineErrorKind::kOutOfMemory ? GST_S2S_SCORE_OUT_OF_MEMORY :
          GST_S2S_SCORE_DEVICE_LOST;
    }
  }
  st->kept_valid = ok && n > 0 && frames[n - 1].scorable;

  if (!ok && !st->warned_failure) {
    st->warned_failure = true;
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Frames could not be analysed"),
        ("%s engine failed: %s; frames are forwarded unscored", st->engine->name (),
            error.c_str ()));
  }

  /* LPIPS on the same frames and pairs; each frame goes through the
   * network once, its features are kept for the next pair. */
  std::vector<double> lpips (views.size (), kNaN);
  std::string missing;
  if (s.metrics & GST_S2S_METRIC_LPIPS) {
#if S2S_HAVE_TORCH
    if (st->lpips_engine && ok && !views.empty ()) {
      std::string lerr;
      bool lok;
      try {
        lok = on_device ?
            st->lpips_engine->score_device (views.data (), paired.data (), views.size (),
            gst_s2s_analyzer_get_frames_stream (analyzer), lpips.data (), &lerr) :
            st->lpips_engine->score (views.data (), paired.data (), views.size (), lpips.data (),
            &lerr);
      } catch (const std::exception & e) {
        lok = false;
        lerr = e.what ();
      }
      if (!lok) {
        missing = "lpips: " + lerr;
        if (!st->warned_lpips) {
          st->warned_lpips = true;
          GST_ELEMENT_WARNING (self, STREAM, FAILED, ("LPIPS could not be computed"),
              ("%s: %s; lpips is NaN for these frames", st->lpips_engine->device_name ().c_str (),
                  lerr.c_str ()));
        }
      }
    } else if (!st->lpips_engine)
#endif
      missing = st->lpips_missing.empty () ?
          "lpips: enabled after start (the model loads at start)" : st->lpips_missing;
  }
  if (options.ssim && !s2s::ssim_defined_for (options.window, st->format.width,
          st->format.height)) {
    const int side = 2 * s2s::ssim_window_radius (options.window) + 1;
    if (!missing.empty ())
      missing += "; ";
    missing += "inv-ssim: frame smaller than the " + std::to_string (side) + "x" +
        std::to_string (side) + " SSIM window";
    if (!st->warned_small) {
      st->warned_small = true;
      GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("Frames too small for SSIM"),
          ("%dx%d frames are smaller than the %dx%d window: inv-ssim is NaN",
              st->format.width, st->format.height, side, side));
    }
  }

  guint scored = 0;
  for (size_t k = 0; k < owner.size (); ++k) {
    GstS2sFrame & f = frames[owner[k]];
    if (!ok) {
      if (f.has_previous)
        mark_unscored (analyzer, &f, S2S_STATUS_ERROR, error.c_str ());
      continue;
    }
    if (!paired[k]) {
      /* The first frame after a reset has no pair and nothing to report;
       * one whose predecessor could not be analysed says so. */
      if (f.has_previous)
        mark_unscored (analyzer, &f, S2S_STATUS_ERROR, "the previous frame could not be analysed");
      continue;
    }
    const double mse = results[k].mse;
    const double inv_ssim = 1.0 - results[k].ssim;      /* NaN stays NaN */
    f.result = gst_s2s_analyzer_new_result (analyzer, &f);
    const double weighted = fill_result (f.result, s, mse, inv_ssim, lpips[k], missing);
    st->mse.add (mse);
    st->psnr.add (s2s::psnr_from_mse (mse));
    st->inv_ssim.add (inv_ssim);
    st->lpips.add (lpips[k]);
    st->weighted.add (weighted);
    st->pairs++;
    scored++;
  }
  /* Frames that could not be analysed say so (gap buffers, unreadable ones). */
  for (guint i = 0; i < n; ++i) {
    if (!frames[i].scorable)
      mark_unscored (analyzer, &frames[i], frames[i].unscored_status, frames[i].unscored_reason);
  }

  GST_DEBUG_OBJECT (self, "batch of %u frames: %u pairs on %s in %.3f ms", n, scored,
      st->engine ? st->engine->name () : "none", (g_get_monotonic_time () - t0) / 1000.0);
  return GST_S2S_SCORE_OK;
}

static GstStructure *
gst_s2s_metrics_make_summary (GstS2sAnalyzer * analyzer)
{
  State *st = GST_S2S_METRICS (analyzer)->state;
  GstStructure *s = gst_structure_new ("s2smetrics-summary",
      "frames", G_TYPE_UINT64, st->pairs, NULL);
  st->mse.write (s, "mse");
  st->psnr.write (s, "psnr");
  /* As FFmpeg's psnr filter reports its average: from the mean MSE. */
  gst_structure_set (s, "psnr-of-mean-mse", G_TYPE_DOUBLE, s2s::psnr_from_mse (st->mse.mean ()),
      NULL);
  st->inv_ssim.write (s, "inv-ssim");
  st->lpips.write (s, "lpips");
  st->weighted.write (s, "weighted");
  return s;
}

/* ------------------------------------------------------------------------ */

static void
gst_s2s_metrics_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstS2sMetrics *self = GST_S2S_METRICS (object);
  if (prop_id < GST_S2S_ANALYZER_PROP_LAST) {
    gst_s2s_analyzer_set_common_property (object, prop_id, value, pspec);
    return;
  }
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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_s2s_metrics_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstS2sMetrics *self = GST_S2S_METRICS (object);
  if (prop_id < GST_S2S_ANALYZER_PROP_LAST) {
    gst_s2s_analyzer_get_common_property (object, prop_id, value, pspec);
    return;
  }
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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_s2s_metrics_finalize (GObject * object)
{
  GstS2sMetrics *self = GST_S2S_METRICS (object);
  delete self->state;
  delete self->settings;
  G_OBJECT_CLASS (gst_s2s_metrics_parent_class)->finalize (object);
}

static void
gst_s2s_metrics_class_init (GstS2sMetricsClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstS2sAnalyzerClass *analyzer_class = GST_S2S_ANALYZER_CLASS (klass);
  const GParamFlags rw = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags rw_playing = (GParamFlags) (rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags rw_ready = (GParamFlags) (rw | GST_PARAM_MUTABLE_READY);

  GST_DEBUG_CATEGORY_INIT (gst_s2s_metrics_debug, "s2smetrics", 0,
      "consecutive-frame video quality metrics");

  gobject_class->set_property = gst_s2s_metrics_set_property;
  gobject_class->get_property = gst_s2s_metrics_get_property;
  gobject_class->finalize = gst_s2s_metrics_finalize;

  gst_s2s_analyzer_class_install_properties (gobject_class, DEFAULT_BATCH_SIZE);
  g_object_class_install_property (gobject_class, PROP_METRICS,
      g_param_spec_flags ("metrics", "Metrics",
          "Metrics to compute (weighted uses those present, the others count as 0)",
          gst_s2s_metric_flags_get_type (), DEFAULT_METRICS, rw_playing));
  g_object_class_install_property (gobject_class, PROP_LPIPS_MODEL,
      g_param_spec_string ("lpips-model", "LPIPS model",
          "LPIPS weights file (safetensors), see docs/models.md", DEFAULT_LPIPS_MODEL.c_str (), rw_ready));
  g_object_class_install_property (gobject_class, PROP_LPIPS_SIZE,
      g_param_spec_uint ("lpips-size", "LPIPS size",
          "Square size frames are resized to for LPIPS, as the replaced service "
          "(0 = native resolution)", 0, 8192, DEFAULT_LPIPS_SIZE, rw_ready));
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

  gst_element_class_set_static_metadata (element_class, "Consecutive-frame video metrics",
      "Filter/Analyzer/Video",
      "Compares each frame with the one before: MSE, inverse SSIM, LPIPS, weighted sum",
      "gst-s2s developers");

  analyzer_class->message_name = "s2smetrics";
  analyzer_class->meta_name = S2S_METRICS_META_NAME;
  analyzer_class->start = gst_s2s_metrics_start;
  analyzer_class->stop = gst_s2s_metrics_stop;
  analyzer_class->set_info = gst_s2s_metrics_set_info;
  analyzer_class->reset_stream = gst_s2s_metrics_reset_stream;
  analyzer_class->score = gst_s2s_metrics_score;
  analyzer_class->make_summary = gst_s2s_metrics_make_summary;

  gst_type_mark_as_plugin_api (gst_s2s_metric_flags_get_type (), (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (gst_s2s_ssim_window_get_type (), (GstPluginAPIFlags) 0);
}

static void
gst_s2s_metrics_init (GstS2sMetrics * self)
{
  self->settings = new Settings ();
  self->state = new State ();
}
