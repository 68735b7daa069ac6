/**
 * SECTION:element-musiqscore
 * @title: musiqscore
 *
 * Scores each frame with MUSIQ (multi-scale image quality transformer, Ke et
 * al. 2021) as the pyiqa toolbox computes it, from converted pyiqa weights:
 * koniq10k, spaq, paq2piq (scores ~0-100, higher is better) or ava (1-10).
 * Frames pass through untouched.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m filesrc location=clip.mp4 ! decodebin ! videoconvert ! \
 *     musiqscore model=musiq-koniq10k.safetensors interval=5 ! fakesink
 * ]|
 *
 * ## Per-scored-frame element message `musiqscore`
 * - `frame` (guint64), `timestamp`, `stream-time`, `running-time`,
 *   `duration` (GstClockTime)
 * - `score` (gdouble): in the variant's MOS scale; NaN if not scored
 * - `model` (string): the variant, e.g. koniq10k
 * - `status` (string): ok, skipped or error; `reason` when not ok
 * The same fields are attached as the custom meta `MusiqScoreMeta`.
 * At EOS: `musiqscore-summary` with `frames`, `score-mean`, `-min`, `-max`,
 * `-p95`.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmusiqscore.h"

#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "torch_backend.h"
#include "s2s-meta.h"
#include "s2sstats.h"
#include "s2svideo.h"

GST_DEBUG_CATEGORY_STATIC (gst_musiq_score_debug);
#define GST_CAT_DEFAULT gst_musiq_score_debug

#define DEFAULT_MODEL S2S_MODELS_DIR "/musiq-koniq10k.safetensors"
#define DEFAULT_INTERVAL 1
#define DEFAULT_LONGER_SIDES "224,384"
#define DEFAULT_MAX_SEQ_LEN -1
#define DEFAULT_BATCH_SIZE 8

enum
{
  PROP_MODEL = GST_S2S_ANALYZER_PROP_LAST,
  PROP_INTERVAL,
  PROP_LONGER_SIDES,
  PROP_MAX_SEQ_LEN,
};

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN ();

struct Settings
{
  std::string model = DEFAULT_MODEL;
  guint interval = DEFAULT_INTERVAL;
  std::string longer_sides = DEFAULT_LONGER_SIDES;
  gint max_seq_len = DEFAULT_MAX_SEQ_LEN;
};

struct State
{
  std::unique_ptr<s2s::MusiqEngine> engine;
  s2s::PixelFormat format = s2s::PixelFormat::kRgb;
  bool warned_failure = false;
  s2s::MetricSeries scores;
};

/* "224,384" -> {224, 384}; false on anything else. */
bool
parse_sides (const std::string & text, std::vector<int> *out)
{
  out->clear ();
  gchar **parts = g_strsplit (text.c_str (), ",", -1);
  bool ok = parts[0] != NULL;
  for (gchar ** p = parts; *p && ok; ++p) {
    gchar *end;
    const gint64 v = g_ascii_strtoll (g_strstrip (*p), &end, 10);
    ok = end != *p && *end == '\0' && v >= 32 && v <= 4096;
    out->push_back ((int) v);
  }
  g_strfreev (parts);
  return ok;
}

}  // namespace

struct _GstMusiqScore
{
  GstS2sAnalyzer parent;
  Settings *settings;           /* under the object lock */
  State *state;
};

G_DEFINE_TYPE (GstMusiqScore, gst_musiq_score, GST_TYPE_S2S_ANALYZER);
GST_ELEMENT_REGISTER_DEFINE (musiqscore, "musiqscore", GST_RANK_NONE, GST_TYPE_MUSIQ_SCORE);

static Settings
read_settings (GstMusiqScore * self)
{
  GST_OBJECT_LOCK (self);
  Settings s = *self->settings;
  GST_OBJECT_UNLOCK (self);
  return s;
}

static gboolean
gst_musiq_score_start (GstS2sAnalyzer * analyzer)
{
  GstMusiqScore *self = GST_MUSIQ_SCORE (analyzer);
  const Settings s = read_settings (self);
  const char *path = s.model.c_str ();

  /* LibTorch loads here, when the element starts. */
  std::string error;
  const s2s::TorchBackend *torch = s2s::torch_backend (&error);
  if (!torch) {
    if (!GST_S2S_ANALYZER_SETUP_FAULT (self, RESOURCE, NOT_FOUND,
            ("MUSIQ needs LibTorch, which could not be loaded"),
            ("%s; see docs/models.md", error.c_str ())))
      return FALSE;
    gst_s2s_analyzer_pass_through_unscored (analyzer, "LibTorch could not be loaded");
    return TRUE;
  }

  /* The device policy: LibTorch on CUDA where it finds the device. */
  s2s::MusiqConfig config;
  if (gst_s2s_analyzer_get_device (analyzer) != GST_S2S_DEVICE_CPU) {
    std::string why;
    config.cuda_device = gst_s2s_analyzer_get_cuda_device (analyzer);
    config.cuda = torch->cuda_usable (config.cuda_device, &why);
    if (!config.cuda && !gst_s2s_analyzer_no_cuda_device (analyzer, why.c_str ()))
      return FALSE;
  }
  if (gst_s2s_analyzer_passes_through_unscored (analyzer))
    return TRUE;                /* on-error=passthrough after a setup fault */

  config.model_path = s.model;
  if (!parse_sides (s.longer_sides, &config.patches.longer_sides)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid longer-side-lengths '%s'",
            s.longer_sides.c_str ()), ("expected comma-separated sizes from 32 to 4096"));
    return FALSE;
  }
  config.patches.max_seq_len = s.max_seq_len;
  config.precision = s2s::net_precision_from (gst_s2s_analyzer_get_precision (analyzer));

  if (!s2s::model_file_readable (s.model)) {
    if (!GST_S2S_ANALYZER_SETUP_FAULT (self, RESOURCE, NOT_FOUND,
            ("MUSIQ model '%s' not found or not readable", path),
            ("set model to converted MUSIQ weights; docs/models.md tells how to make them")))
      return FALSE;
    gst_s2s_analyzer_pass_through_unscored (analyzer, "no MUSIQ model");
    return TRUE;
  }
  if (gst_s2s_analyzer_inject_model_load_fault (analyzer))
    error = "injected fault: the model failed to load";
  else
    self->state->engine = torch->make_musiq (config, &error);
  if (!self->state->engine) {
    if (!GST_S2S_ANALYZER_SETUP_FAULT (self, RESOURCE, READ,
            ("Could not load the MUSIQ model '%s'", path), ("%s", error.c_str ())))
      return FALSE;
    gst_s2s_analyzer_pass_through_unscored (analyzer, "the MUSIQ model failed to load");
    return TRUE;
  }
  GST_INFO_OBJECT (self, "MUSIQ %s from %s on %s", self->state->engine->variant ().c_str (), path,
      self->state->engine->device_name ().c_str ());
  /* On CUDA the engine patches frames on the device: CUDA memory stays there. */
  gst_s2s_analyzer_set_reads_cuda_memory (analyzer, config.cuda && S2S_HAVE_CUDA);
  return TRUE;
}

static void
gst_musiq_score_stop (GstS2sAnalyzer * analyzer)
{
  GST_MUSIQ_SCORE (analyzer)->state->engine.reset ();
}

static gboolean
gst_musiq_score_set_info (GstS2sAnalyzer * analyzer, const GstVideoInfo * info)
{
  GstMusiqScore *self = GST_MUSIQ_SCORE (analyzer);
  s2s::StreamFormat format;
  if (!s2s::stream_format_from_info (info, &format, analyzer))
    return FALSE;
  std::string error;
  if (!self->state->engine && gst_s2s_analyzer_passes_through_unscored (analyzer)) {
    self->state->format = format.format;        /* frames pass unscored */
    return TRUE;
  }
  if (!self->state->engine || !self->state->engine->configure (format, &error)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Could not configure MUSIQ"), ("%s",
            error.c_str ()));
    return FALSE;
  }
  self->state->format = format.format;
  return TRUE;
}

static void
gst_musiq_score_reset_stream (GstS2sAnalyzer * analyzer)
{
  State *st = GST_MUSIQ_SCORE (analyzer)->state;
  st->scores.clear ();
  st->warned_failure = false;
}

static void
set_result (GstS2sAnalyzer * analyzer, GstS2sFrame * f, double score, const std::string & variant,
    const char *status, const char *reason)
{
  f->result = gst_s2s_analyzer_new_result (analyzer, f);
  gst_structure_set (f->result, "score", G_TYPE_DOUBLE, score, "model", G_TYPE_STRING,
      variant.c_str (), "status", G_TYPE_STRING, status, NULL);
  if (reason)
    gst_structure_set (f->result, "reason", G_TYPE_STRING, reason, NULL);
}

static GstS2sScoreStatus
gst_musiq_score_score (GstS2sAnalyzer * analyzer, GstS2sFrame * frames, guint n, gchar ** reason)
{
  GstMusiqScore *self = GST_MUSIQ_SCORE (analyzer);
  State *st = self->state;
  const guint interval = read_settings (self).interval;
  /* No engine when frames pass through unscored after a setup fault. */
  const std::string variant = st->engine ? st->engine->variant () : "none";
  const gint64 t0 = g_get_monotonic_time ();

  /* Frames due for a score (every interval-th since the stream started). */
  std::vector<s2s::FrameView> views;
  std::vector<guint> owner;
  bool on_device = false;
  for (guint i = 0; i < n; ++i) {
    GstS2sFrame & f = frames[i];
    on_device = on_device || (f.scorable && f.on_device);
    if (f.index % interval != 0)
      continue;                 /* passes untouched */
    if (!f.scorable) {
      set_result (analyzer, &f, kNaN, variant, f.unscored_status, f.unscored_reason);
      continue;
    }
    views.push_back (s2s::frame_view_from_video_frame (&f.vframe, st->format));
    owner.push_back (i);
  }
  if (views.empty ())
    return GST_S2S_SCORE_OK;

  std::vector<double> scores (views.size (), kNaN);
  std::string error;
  bool ok;
  try {
    ok = on_device ?
        st->engine->score_device (views.data (), views.size (),
        gst_s2s_analyzer_get_frames_stream (analyzer), scores.data (), &error) :
        st->engine->score (views.data (), views.size (), scores.data (), &error);
  } catch (const std::bad_alloc &) {
    /* Nothing kept between frames: the base class's retry is exact. */
    *reason = g_strdup ("out of memory in MUSIQ");
    return GST_S2S_SCORE_OUT_OF_MEMORY;
  } catch (const std::exception & e) {
    ok = false;
    error = e.what ();
  }
  if (!ok && !st->warned_failure) {
    st->warned_failure = true;
    GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Frames could not be scored"),
        ("MUSIQ on %s failed: %s; frames are forwarded unscored",
            st->engine->device_name ().c_str (), error.c_str ()));
  }
  for (size_t k = 0; k < owner.size (); ++k) {
    if (ok) {
      set_result (analyzer, &frames[owner[k]], scores[k], variant, S2S_STATUS_OK, NULL);
      st->scores.add (scores[k]);
    } else {
      set_result (analyzer, &frames[owner[k]], kNaN, variant, S2S_STATUS_ERROR, error.c_str ());
    }
  }
  GST_DEBUG_OBJECT (self, "batch of %u frames: %zu scored on %s in %.3f ms", n, owner.size (),
      st->engine->device_name ().c_str (), (g_get_monotonic_time () - t0) / 1000.0);
  return GST_S2S_SCORE_OK;
}

static GstStructure *
gst_musiq_score_make_summary (GstS2sAnalyzer * analyzer)
{
  State *st = GST_MUSIQ_SCORE (analyzer)->state;
  GstStructure *s = gst_structure_new ("musiqscore-summary",
      "frames", G_TYPE_UINT64, (guint64) st->scores.size (), NULL);
  st->scores.write (s, "score");
  return s;
}

static void
gst_musiq_score_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstMusiqScore *self = GST_MUSIQ_SCORE (object);
  if (prop_id < GST_S2S_ANALYZER_PROP_LAST) {
    gst_s2s_analyzer_set_common_property (object, prop_id, value, pspec);
    return;
  }
  GST_OBJECT_LOCK (self);
  Settings *s = self->settings;
  switch (prop_id) {
    case PROP_MODEL:
      s->model = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_INTERVAL:
      s->interval = g_value_get_uint (value);
      break;
    case PROP_LONGER_SIDES:
      s->longer_sides = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_MAX_SEQ_LEN:
      s->max_seq_len = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_musiq_score_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstMusiqScore *self = GST_MUSIQ_SCORE (object);
  if (prop_id < GST_S2S_ANALYZER_PROP_LAST) {
    gst_s2s_analyzer_get_common_property (object, prop_id, value, pspec);
    return;
  }
  GST_OBJECT_LOCK (self);
  const Settings *s = self->settings;
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, s->model.c_str ());
      break;
    case PROP_INTERVAL:
      g_value_set_uint (value, s->interval);
      break;
    case PROP_LONGER_SIDES:
      g_value_set_string (value, s->longer_sides.c_str ());
      break;
    case PROP_MAX_SEQ_LEN:
      g_value_set_int (value, s->max_seq_len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_musiq_score_finalize (GObject * object)
{
  GstMusiqScore *self = GST_MUSIQ_SCORE (object);
  delete self->state;
  delete self->settings;
  G_OBJECT_CLASS (gst_musiq_score_parent_class)->finalize (object);
}

static void
gst_musiq_score_class_init (GstMusiqScoreClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstS2sAnalyzerClass *analyzer_class = GST_S2S_ANALYZER_CLASS (klass);
  const GParamFlags rw = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const GParamFlags rw_playing = (GParamFlags) (rw | GST_PARAM_MUTABLE_PLAYING);
  const GParamFlags rw_ready = (GParamFlags) (rw | GST_PARAM_MUTABLE_READY);

  GST_DEBUG_CATEGORY_INIT (gst_musiq_score_debug, "musiqscore", 0, "MUSIQ quality score");

  gobject_class->set_property = gst_musiq_score_set_property;
  gobject_class->get_property = gst_musiq_score_get_property;
  gobject_class->finalize = gst_musiq_score_finalize;

  gst_s2s_analyzer_class_install_properties (gobject_class, DEFAULT_BATCH_SIZE);
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "MUSIQ weights file (safetensors, variant in its metadata), see docs/models.md",
          DEFAULT_MODEL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval",
          "Score every Nth frame (the others pass untouched)", 1, G_MAXUINT, DEFAULT_INTERVAL,
          rw_playing));
  g_object_class_install_property (gobject_class, PROP_LONGER_SIDES,
      g_param_spec_string ("longer-side-lengths", "Longer side lengths",
          "Longer sides of the rescaled scales besides the native one (comma-separated)",
          DEFAULT_LONGER_SIDES, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MAX_SEQ_LEN,
      g_param_spec_int ("max-seq-len", "Max sequence length",
          "Native-resolution tokens: -1 all of them, N exactly N (cut, or padded with masked zero tokens, as pyiqa)", -1, G_MAXINT, DEFAULT_MAX_SEQ_LEN,
          rw_ready));

  gst_element_class_set_static_metadata (element_class, "MUSIQ quality score",
      "Filter/Analyzer/Video", "No-reference MUSIQ quality score of each frame",
      "gst-s2s developers");

  analyzer_class->message_name = "musiqscore";
  analyzer_class->meta_name = S2S_MUSIQ_SCORE_META_NAME;
  analyzer_class->start = gst_musiq_score_start;
  analyzer_class->stop = gst_musiq_score_stop;
  analyzer_class->set_info = gst_musiq_score_set_info;
  analyzer_class->reset_stream = gst_musiq_score_reset_stream;
  analyzer_class->score = gst_musiq_score_score;
  analyzer_class->make_summary = gst_musiq_score_make_summary;
}

static void
gst_musiq_score_init (GstMusiqScore * self)
{
  self->settings = new Settings ();
  self->state = new State ();
}
