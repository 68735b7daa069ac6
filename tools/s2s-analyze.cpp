/* s2s-analyze: analyse a video file with the s2s elements in one command.
 *
 *   s2s-analyze INPUT [options]
 *   s2s-analyze --pipeline 'videotestsrc num-buffers=100' [options]
 *
 * Builds
 *   filesrc ! decodebin ! videoconvert ! s2smetrics [! musiqscore] ! fakesink
 * (or `DESCRIPTION ! videoconvert ! ...` for --pipeline), sets the
 * elements' properties from the options, reads their per-frame messages and
 * EOS summaries from the bus, draws a progress bar, and at the end writes
 * the service-compatible JSON, JSONL, CSV and a plot, and prints a summary.
 *
 * Decoder: decodebin picks by rank. NVDEC decoders (nvcodec's nvh264dec and
 * friends, registered only where a GPU can decode) are raised above the
 * software ones (--nvdec=auto), required (on) or never used (off); decodebin
 * falls back to the next decoder by itself when one fails to start. A
 * decoded pad in CUDA memory goes straight to the first analyser if that
 * accepts CUDA memory; otherwise through videoconvert, which makes the
 * decoder output system memory (the case in this build).
 *
 * Ctrl-C sends EOS, so the analysers compute the frames they hold and post
 * their summaries; if the pipeline has not finished 2 s later (or on a
 * second Ctrl-C) it is stopped. The partial results are written either way
 * ("done": false) and the exit status is 128 + the signal.
 *
 * docs/analyze.md has the options, output formats and exit codes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>
#include <gst/video/video.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "analyze-output.h"
#include "analyze-plot.h"
#include "analyze-progress.h"
#include "analyze-results.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

namespace {

using namespace s2sa;

constexpr const char *kProgram = "s2s-analyze";

enum ExitCode
{
  kExitOk = 0,
  kExitFailed = 1,              /* input, decoding or pipeline error */
  kExitUsage = 2,               /* bad command line or option value */
  kExitOutput = 3,              /* an output could not be written */
};

/* decodebin's GstAutoplugSelectResult (not in a public header). */
constexpr int kAutoplugTry = 0;
constexpr int kAutoplugSkip = 2;

/* Names of our elements, unlikely to clash with a --pipeline's own. */
constexpr const char *kSourceName = "s2s-analyze-source";
constexpr const char *kDecoderName = "s2s-analyze-decodebin";
constexpr const char *kConvertName = "s2s-analyze-convert";
constexpr const char *kMetricsName = "s2s-analyze-metrics";
constexpr const char *kMusiqName = "s2s-analyze-musiq";
constexpr const char *kSinkName = "s2s-analyze-sink";
constexpr const char *kNoVideoMessage = "s2s-analyze-no-video";

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

struct Options
{
  gchar **inputs = nullptr;
  gchar *pipeline = nullptr;
  gchar *json = nullptr;
  gchar *jsonl = nullptr;
  gchar *csv = nullptr;
  gchar *plot = nullptr;
  gchar *plot_size = nullptr;
  gchar *progress = nullptr;
  gdouble progress_interval = 1.0;
  gchar *nvdec = nullptr;
  gchar *metrics = nullptr;
  /* Element properties, passed as text and checked against the element. */
  gchar *device = nullptr;
  gchar *cuda_device_id = nullptr;
  gchar *batch_size = nullptr;
  gchar *precision = nullptr;
  gchar *conversion = nullptr;
  gchar *lpips_model = nullptr;
  gchar *lpips_size = nullptr;
  gchar *ssim_window = nullptr;
  gchar *alpha = nullptr;
  gchar *beta = nullptr;
  gchar *gamma = nullptr;
  gboolean musiq = FALSE;
  gchar *musiq_model = nullptr;
  gchar *musiq_interval = nullptr;
  gboolean quiet = FALSE;
  gboolean verbose = FALSE;
  gboolean version = FALSE;
};

Options opt;

const GOptionEntry kEntries[] = {
  {"pipeline", 0, 0, G_OPTION_ARG_STRING, &opt.pipeline,
      "Analyse the raw video of a gst-launch description instead of a file", "DESCRIPTION"},
  {"metrics", 'm', 0, G_OPTION_ARG_STRING, &opt.metrics,
      "s2smetrics metrics: mse,inv-ssim,lpips (default: all three) or none", "LIST"},
  {"batch-size", 'b', 0, G_OPTION_ARG_STRING, &opt.batch_size,
      "Frames computed together, 1..256 (default 16)", "N"},
  {"device", 'd', 0, G_OPTION_ARG_STRING, &opt.device,
      "auto, cuda or cpu (default auto)", "DEVICE"},
  {"cuda-device-id", 0, 0, G_OPTION_ARG_STRING, &opt.cuda_device_id,
      "CUDA device, -1 = upstream's or 0 (default -1)", "ID"},
  {"precision", 0, 0, G_OPTION_ARG_STRING, &opt.precision,
      "Network precision: fp32, fp16 or bf16 (default fp32)", "P"},
  {"conversion", 0, 0, G_OPTION_ARG_STRING, &opt.conversion,
      "YUV to RGB/gray: service (as cv2.VideoCapture, default) or colorimetry (the caps')",
      "C"},
  {"lpips-model", 0, 0, G_OPTION_ARG_FILENAME, &opt.lpips_model,
      "LPIPS weights (.safetensors)", "FILE"},
  {"lpips-size", 0, 0, G_OPTION_ARG_STRING, &opt.lpips_size,
      "LPIPS input size, 0 = native (default 256)", "N"},
  {"ssim-window", 0, 0, G_OPTION_ARG_STRING, &opt.ssim_window,
      "uniform7 or gaussian11 (default uniform7)", "W"},
  {"alpha", 0, 0, G_OPTION_ARG_STRING, &opt.alpha, "Weight of MSE in weighted (0.5)", "A"},
  {"beta", 0, 0, G_OPTION_ARG_STRING, &opt.beta, "Weight of InvSSIM in weighted (0.3)", "B"},
  {"gamma", 0, 0, G_OPTION_ARG_STRING, &opt.gamma, "Weight of LPIPS in weighted (0.2)", "G"},
  {"musiq", 0, 0, G_OPTION_ARG_NONE, &opt.musiq, "Also score every frame with musiqscore",
      nullptr},
  {"musiq-model", 0, 0, G_OPTION_ARG_FILENAME, &opt.musiq_model,
      "MUSIQ weights (implies --musiq)", "FILE"},
  {"musiq-interval", 0, 0, G_OPTION_ARG_STRING, &opt.musiq_interval,
      "Score every Nth frame with MUSIQ (implies --musiq)", "N"},
  {"nvdec", 0, 0, G_OPTION_ARG_STRING, &opt.nvdec,
      "NVDEC decoders: auto (prefer when present), on (require) or off", "MODE"},
  {"json", 'j', 0, G_OPTION_ARG_FILENAME, &opt.json,
      "Write {\"done\", \"metrics\"} as the service did (- = stdout)", "FILE"},
  {"jsonl", 0, 0, G_OPTION_ARG_FILENAME, &opt.jsonl,
      "Write one JSON object per frame (- = stdout)", "FILE"},
  {"csv", 'c', 0, G_OPTION_ARG_FILENAME, &opt.csv, "Write one CSV row per frame (- = stdout)",
      "FILE"},
  {"plot", 'p', 0, G_OPTION_ARG_FILENAME, &opt.plot, "Draw the metrics over time as a PNG",
      "FILE.png"},
  {"plot-size", 0, 0, G_OPTION_ARG_STRING, &opt.plot_size,
      "Size of the plot in pixels (default 1200x800)", "WxH"},
  {"progress", 0, 0, G_OPTION_ARG_STRING, &opt.progress,
      "auto (bar on a terminal, else lines), bar, lines or none", "MODE"},
  {"progress-interval", 0, 0, G_OPTION_ARG_DOUBLE, &opt.progress_interval,
      "Seconds between progress lines (default 1; 0 = every change)", "S"},
  {"quiet", 'q', 0, G_OPTION_ARG_NONE, &opt.quiet, "No progress, warnings or summary",
      nullptr},
  {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opt.verbose,
      "Print the pipeline, the decoder and debug details of errors", nullptr},
  {"version", 0, 0, G_OPTION_ARG_NONE, &opt.version, "Print the version and exit", nullptr},
  {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt.inputs, nullptr, "INPUT"},
  {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
};

/* The one line an error ends with. */
void
print_error (const std::string & message)
{
  fprintf (stderr, "%s: error: %s\n", kProgram, message.c_str ());
}

std::string
basename_of (const std::string & path)
{
  gchar *b = g_path_get_basename (path.c_str ());
  std::string out (b);
  g_free (b);
  return out;
}

/* ------------------------------------------------------------------------ */
/* Element properties from text                                            */
/* ------------------------------------------------------------------------ */

/* What a property accepts, for error messages. */
std::string
expected_values (GParamSpec * ps)
{
  std::string out;
  char buf[128];
  if (G_IS_PARAM_SPEC_ENUM (ps)) {
    GEnumClass *ec = G_PARAM_SPEC_ENUM (ps)->enum_class;
    for (guint i = 0; i < ec->n_values; ++i)
      out += (i ? ", " : "") + std::string (ec->values[i].value_nick);
    return "one of " + out;
  }
  if (G_IS_PARAM_SPEC_FLAGS (ps)) {
    GFlagsClass *fc = G_PARAM_SPEC_FLAGS (ps)->flags_class;
    for (guint i = 0; i < fc->n_values; ++i)
      out += (i ? ", " : "") + std::string (fc->values[i].value_nick);
    return "a comma-separated list of " + out;
  }
  if (G_IS_PARAM_SPEC_UINT (ps)) {
    g_snprintf (buf, sizeof buf, "an integer from %u to %u", G_PARAM_SPEC_UINT (ps)->minimum,
        G_PARAM_SPEC_UINT (ps)->maximum);
    return buf;
  }
  if (G_IS_PARAM_SPEC_INT (ps)) {
    g_snprintf (buf, sizeof buf, "an integer from %d to %d", G_PARAM_SPEC_INT (ps)->minimum,
        G_PARAM_SPEC_INT (ps)->maximum);
    return buf;
  }
  if (G_IS_PARAM_SPEC_DOUBLE (ps)) {
    if (G_PARAM_SPEC_DOUBLE (ps)->minimum <= -G_MAXDOUBLE
        && G_PARAM_SPEC_DOUBLE (ps)->maximum >= G_MAXDOUBLE)
      return "a number";
    g_snprintf (buf, sizeof buf, "a number from %g to %g", G_PARAM_SPEC_DOUBLE (ps)->minimum,
        G_PARAM_SPEC_DOUBLE (ps)->maximum);
    return buf;
  }
  return std::string ("a ") + g_type_name (ps->value_type);
}

/* Sets `prop` of `element` from the text of --`option`; false with a
 * message naming the option and what it accepts. */
bool
set_from_text (GstElement * element, const char *prop, const char *text, const char *option,
    std::string * error)
{
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (element), prop);
  if (!ps) {
    *error = std::string ("--") + option + ": " +
        GST_OBJECT_NAME (gst_element_get_factory (element)) + " has no property '" + prop + "'";
    return false;
  }
  GValue v = G_VALUE_INIT;
  g_value_init (&v, ps->value_type);
  bool ok;
  if (ps->value_type == G_TYPE_STRING) {
    g_value_set_string (&v, text);
    ok = true;
  } else {
    std::string t (text);
    if (G_IS_PARAM_SPEC_FLAGS (ps))
      for (char &c : t)
        if (c == ',')
          c = '+';
    ok = !t.empty () && gst_value_deserialize (&v, t.c_str ());
    if (ok && g_param_value_validate (ps, &v))
      ok = false;               /* out of range: validation changed it */
  }
  if (ok)
    g_object_set_property (G_OBJECT (element), prop, &v);
  else
    *error = std::string ("invalid --") + option + " '" + text + "': expected " +
        expected_values (ps);
  g_value_unset (&v);
  return ok;
}

/* Whether flag `nick` is set in the flags property `prop`. */
bool
has_flag (GstElement * element, const char *prop, const char *nick)
{
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (element), prop);
  if (!ps || !G_IS_PARAM_SPEC_FLAGS (ps))
    return false;
  guint flags = 0;
  g_object_get (element, prop, &flags, NULL);
  GFlagsValue *fv = g_flags_get_value_by_nick (G_PARAM_SPEC_FLAGS (ps)->flags_class, nick);
  return fv && (flags & fv->value);
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */
/* ------------------------------------------------------------------------ */

struct App
{
  std::string input;            /* the file, or empty with --pipeline */
  std::string name;             /* for messages: file name or "pipeline" */
  GMainLoop *loop = nullptr;
  GstElement *pipeline = nullptr;
  GstElement *source = nullptr;  /* filesrc, for INPUT */
  GstElement *convert = nullptr;
  GstElement *metrics = nullptr;
  GstElement *musiq = nullptr;
  GstElement *sink = nullptr;
  GstElement *first = nullptr;  /* the first analyser */
  bool nvdec_only = false;

  std::unique_ptr < Progress > progress;
  Results results;
  std::vector<Metric> plotted;

  std::atomic<guint64> frames {0};
  std::atomic<guint64> position {GST_CLOCK_TIME_NONE};
  guint64 total = 0;
  GstClockTime duration = GST_CLOCK_TIME_NONE;

  /* Filled from decodebin's streaming threads. */
  std::mutex lock;
  bool video_linked = false;
  std::vector<std::string> other_streams;
  std::vector<std::string> missing;
  std::string decoder;

  bool eos = false;
  bool failed = false;
  int signal = 0;
  guint stop_timer = 0;
  std::string error;
  std::string error_debug;

  std::vector<std::string> pending_warnings;
  std::set<std::string> seen_warnings;
  bool warnings_released = false;
  gint64 start_us = 0;
};

void
release_warnings (App * app)
{
  if (app->warnings_released)
    return;
  app->warnings_released = true;
  for (const std::string & w : app->pending_warnings)
    app->progress->print (w);
  app->pending_warnings.clear ();
}

void
fail (App * app, const std::string & message, const std::string & debug = "")
{
  if (app->failed)
    return;
  app->failed = true;
  app->error = message;
  app->error_debug = debug;
  g_main_loop_quit (app->loop);
}

/* Frames at the sink, for the progress. */
GstPadProbeReturn
count_frames (GstPad *, GstPadProbeInfo * info, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  guint n = 1;
  GstBuffer *last = nullptr;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    n = gst_buffer_list_length (list);
    last = n ? gst_buffer_list_get (list, n - 1) : nullptr;
  } else {
    last = GST_PAD_PROBE_INFO_BUFFER (info);
  }
  app->frames += n;
  if (last && GST_BUFFER_PTS_IS_VALID (last))
    app->position = GST_BUFFER_PTS (last);
  return GST_PAD_PROBE_OK;
}

/* Size and frame rate from the caps at the first analyser. */
void
read_stream_info (App * app)
{
  if (app->results.width > 0 || !app->first)
    return;
  GstPad *pad = gst_element_get_static_pad (app->first, "sink");
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gst_object_unref (pad);
  if (!caps)
    return;
  GstVideoInfo info;
  if (gst_video_info_from_caps (&info, caps)) {
    app->results.width = GST_VIDEO_INFO_WIDTH (&info);
    app->results.height = GST_VIDEO_INFO_HEIGHT (&info);
    app->results.fps_n = GST_VIDEO_INFO_FPS_N (&info);
    app->results.fps_d = GST_VIDEO_INFO_FPS_D (&info);
  }
  gst_caps_unref (caps);
}

/* Frames expected: the duration times the frame rate (0: unknown). */
void
query_total (App * app)
{
  read_stream_info (app);
  gint64 dur = -1;
  if (!gst_element_query_duration (app->pipeline, GST_FORMAT_TIME, &dur) || dur <= 0)
    return;
  app->duration = dur;
  const Results & r = app->results;
  if (r.fps_n > 0 && r.fps_d > 0)
    app->total = gst_util_uint64_scale_round (dur, r.fps_n, (guint64) r.fps_d * GST_SECOND);
  app->progress->set_total (app->total, app->duration);
}

gboolean
on_tick (gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  if (app->frames > 0 && (app->total == 0 || app->results.width == 0))
    query_total (app);
  if (app->frames > 0 && !app->failed)
    release_warnings (app);
  app->progress->update (app->frames, app->position);
  return G_SOURCE_CONTINUE;
}

gboolean
on_stop_timeout (gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  app->stop_timer = 0;
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

gboolean
on_signal (gpointer user_data, int signum)
{
  App *app = static_cast<App *> (user_data);
  if (app->signal) {
    /* Second time: stop now. */
    g_main_loop_quit (app->loop);
    return G_SOURCE_CONTINUE;
  }
  app->signal = signum;
  if (!opt.quiet)
    app->progress->print (std::string (kProgram) +
        ": interrupted: finishing the frames in flight (again to stop at once)");
  /* EOS from the sources: the analysers score what they hold and post their
   * summaries. A pipeline that does not get there in 2 s is stopped. */
  gst_element_send_event (app->pipeline, gst_event_new_eos ());
  app->stop_timer = g_timeout_add (2000, on_stop_timeout, app);
  return G_SOURCE_CONTINUE;
}

gboolean
on_sigint (gpointer user_data)
{
  return on_signal (user_data, SIGINT);
}

gboolean
on_sigterm (gpointer user_data)
{
  return on_signal (user_data, SIGTERM);
}

GstClockTime
get_time (const GstStructure * s, const char *field)
{
  guint64 t = GST_CLOCK_TIME_NONE;
  if (!gst_structure_get_uint64 (s, field, &t))
    return GST_CLOCK_TIME_NONE;
  return t;
}

double
get_double (const GstStructure * s, const char *field)
{
  double v = kNaN;
  if (!gst_structure_get_double (s, field, &v))
    return kNaN;
  return v;
}

std::string
get_string (const GstStructure * s, const char *field)
{
  const gchar *v = gst_structure_get_string (s, field);
  return v ? v : "";
}

Stats
get_stats (const GstStructure * s, const char *prefix, guint64 count)
{
  Stats st;
  const std::string p (prefix);
  st.count = count;
  st.mean = get_double (s, (p + "-mean").c_str ());
  st.min = get_double (s, (p + "-min").c_str ());
  st.max = get_double (s, (p + "-max").c_str ());
  st.p95 = get_double (s, (p + "-p95").c_str ());
  return st;
}

void
on_element_message (App * app, GstMessage * msg)
{
  const GstStructure *s = gst_message_get_structure (msg);
  GstObject *src = GST_MESSAGE_SRC (msg);

  if (gst_is_missing_plugin_message (msg)) {
    gchar *desc = gst_missing_plugin_message_get_description (msg);
    std::lock_guard < std::mutex > g (app->lock);
    app->missing.push_back (desc ? desc : "a plugin");
    g_free (desc);
    return;
  }

  if (app->metrics && src == GST_OBJECT (app->metrics)) {
    if (gst_structure_has_name (s, "s2smetrics")) {
      MetricRow r;
      gst_structure_get_uint64 (s, "frame", &r.frame);
      r.pts = get_time (s, "timestamp");
      r.stream_time = get_time (s, "stream-time");
      r.mse = get_double (s, "mse");
      r.inv_ssim = get_double (s, "inv-ssim");
      r.lpips = get_double (s, "lpips");
      r.weighted = get_double (s, "weighted");
      r.status = get_string (s, "status");
      app->results.rows.push_back (std::move (r));
      release_warnings (app);
      app->progress->update (app->frames, app->position);
    } else if (gst_structure_has_name (s, "s2smetrics-summary")) {
      guint64 pairs = 0;
      gst_structure_get_uint64 (s, "frames", &pairs);
      app->results.have_summary = true;
      app->results.summary_pairs = pairs;
      for (int m = kMse; m <= kWeighted; ++m) {
        const Metric metric = (Metric) m;
        app->results.summary[m] = get_stats (s, metric_info (metric).field, 0);
        app->results.summary[m].count = compute_stats (app->results.series (metric)).count;
      }
    }
  } else if (app->musiq && src == GST_OBJECT (app->musiq)) {
    if (gst_structure_has_name (s, "musiqscore")) {
      MusiqRow r;
      gst_structure_get_uint64 (s, "frame", &r.frame);
      r.pts = get_time (s, "timestamp");
      r.stream_time = get_time (s, "stream-time");
      r.score = get_double (s, "score");
      r.status = get_string (s, "status");
      app->results.musiq.push_back (std::move (r));
      release_warnings (app);
    } else if (gst_structure_has_name (s, "musiqscore-summary")) {
      app->results.have_musiq_summary = true;
      app->results.musiq_summary = get_stats (s, "score", 0);
      app->results.musiq_summary.count = compute_stats (app->results.series (kMusiq)).count;
    }
  }
}

/* The one line for a pipeline error, in the user's terms where we can. */
std::string
describe_error (App * app, GstMessage * msg, GError * err, const gchar * debug)
{
  std::string where = app->input.empty ()? std::string ("pipeline") : app->input;
  std::string missing;
  {
    std::lock_guard < std::mutex > g (app->lock);
    for (const std::string & m : app->missing)
      missing += (missing.empty ()? "" : ", ") + m;
  }
  if (g_error_matches (err, GST_STREAM_ERROR, GST_STREAM_ERROR_TYPE_NOT_FOUND))
    return where + ": not a media file GStreamer can read (could not determine its type)";
  if (!missing.empty () &&
      (g_error_matches (err, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN) ||
          g_error_matches (err, GST_STREAM_ERROR, GST_STREAM_ERROR_CODEC_NOT_FOUND)))
    return where + ": cannot decode it: no GStreamer plugin for " + missing;
  if (err->domain == GST_RESOURCE_ERROR && app->source
      && GST_MESSAGE_SRC (msg) == GST_OBJECT (app->source)
      && (err->code == GST_RESOURCE_ERROR_NOT_FOUND || err->code == GST_RESOURCE_ERROR_OPEN_READ
          || err->code == GST_RESOURCE_ERROR_READ))
    return where + ": cannot read it: " + err->message;
  GstObject *src = GST_MESSAGE_SRC (msg);
  if (src && ((app->metrics && src == GST_OBJECT (app->metrics))
          || (app->musiq && src == GST_OBJECT (app->musiq))))
    return std::string (GST_OBJECT_NAME (gst_element_get_factory (GST_ELEMENT (src)))) + ": "
        + err->message;
  std::string element = src ? GST_OBJECT_NAME (src) : "?";
  if (debug && strstr (debug, "not-negotiated"))
    return where + ": the video could not be negotiated with the analysers (is it raw video "
        "in a format videoconvert can convert?) (" + element + ")";
  if (err->domain == GST_STREAM_ERROR && !app->input.empty ()
      && (err->code == GST_STREAM_ERROR_DEMUX || err->code == GST_STREAM_ERROR_DECODE
          || err->code == GST_STREAM_ERROR_WRONG_TYPE))
    return where + ": cannot decode it: " + err->message + " (" + element + ")";
  return where + ": " + err->message + " (" + element + ")";
}

gboolean
on_bus_message (GstBus *, GstMessage * msg, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      on_element_message (app, msg);
      break;
    case GST_MESSAGE_ERROR:{
      GError *err = nullptr;
      gchar *debug = nullptr;
      gst_message_parse_error (msg, &err, &debug);
      fail (app, describe_error (app, msg, err, debug), debug ? debug : "");
      g_clear_error (&err);
      g_free (debug);
      break;
    }
    case GST_MESSAGE_WARNING:{
      GError *err = nullptr;
      gchar *debug = nullptr;
      gst_message_parse_warning (msg, &err, &debug);
      std::string line = std::string (kProgram) + ": warning: " + err->message;
      if (opt.verbose && debug)
        line += std::string ("\n  ") + debug;
      gchar *path = gst_object_get_path_string (GST_MESSAGE_SRC (msg));
      /* Each warning once, however often it is posted. */
      if (app->seen_warnings.insert (std::string (path) + "\n" + err->message).second
          && !opt.quiet) {
        if (app->warnings_released)
          app->progress->print (line);
        else
          app->pending_warnings.push_back (line);
      }
      g_free (path);
      g_clear_error (&err);
      g_free (debug);
      break;
    }
    case GST_MESSAGE_APPLICATION:
      if (gst_message_has_name (msg, kNoVideoMessage)) {
        std::string what = app->input + ": no video stream";
        {
          std::lock_guard < std::mutex > g (app->lock);
          std::string found, missing;
          for (const std::string & s : app->other_streams)
            found += (found.empty ()? "" : ", ") + s;
          for (const std::string & m : app->missing)
            missing += (missing.empty ()? "" : ", ") + m;
          if (!missing.empty ())
            what = app->input + ": cannot decode its video: no GStreamer plugin for " + missing;
          else if (!found.empty ())
            what += " (found: " + found + ")";
        }
        fail (app, what);
      }
      break;
    case GST_MESSAGE_ASYNC_DONE:
    case GST_MESSAGE_DURATION_CHANGED:
      query_total (app);
      break;
    case GST_MESSAGE_EOS:
      app->eos = true;
      g_main_loop_quit (app->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* decodebin                                                                */
/* ------------------------------------------------------------------------ */

bool
is_nvdec (GstElementFactory * f)
{
  const gchar *plugin = gst_plugin_feature_get_plugin_name (GST_PLUGIN_FEATURE (f));
  return plugin && strcmp (plugin, "nvcodec") == 0;
}

bool
is_video_decoder (GstElementFactory * f)
{
  const gchar *klass = gst_element_factory_get_metadata (f, GST_ELEMENT_METADATA_KLASS);
  return klass && strstr (klass, "Decoder") && strstr (klass, "Video");
}

/* Raises (auto, on) or hides (off) the NVDEC decoders; returns how many
 * there are. Affects this process only. */
guint
apply_nvdec_preference (const std::string & mode)
{
  GList *decoders = gst_element_factory_list_get_elements (GST_ELEMENT_FACTORY_TYPE_DECODER |
      GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO, GST_RANK_NONE);
  guint n = 0;
  for (GList * l = decoders; l; l = l->next) {
    GstElementFactory *f = GST_ELEMENT_FACTORY (l->data);
    if (!is_nvdec (f))
      continue;
    ++n;
    GstPluginFeature *feature = GST_PLUGIN_FEATURE (f);
    if (mode == "off")
      gst_plugin_feature_set_rank (feature, GST_RANK_NONE);
    else if (gst_plugin_feature_get_rank (feature) < GST_RANK_PRIMARY + 10)
      gst_plugin_feature_set_rank (feature, GST_RANK_PRIMARY + 10);
  }
  gst_plugin_feature_list_free (decoders);
  return n;
}

/* Decode video only: other streams are exposed as they are and dropped. */
gboolean
on_autoplug_continue (GstElement *, GstPad *, GstCaps * caps, gpointer)
{
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *name = gst_structure_get_name (s);
  static const char *const skip[] = { "audio/", "text/", "subpicture/", "closedcaption/",
    "application/x-subtitle", "application/x-ssa", "application/x-ass", "application/x-teletext",
  };
  for (const char *prefix : skip)
    if (g_str_has_prefix (name, prefix))
      return FALSE;
  return TRUE;
}

gint
on_autoplug_select (GstElement *, GstPad *, GstCaps *, GstElementFactory * factory,
    gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  if (app->nvdec_only && is_video_decoder (factory) && !is_nvdec (factory))
    return kAutoplugSkip;
  return kAutoplugTry;
}

void
drop_stream (App * app, GstPad * pad)
{
  GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (app->pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  GstPad *sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_link (pad, sinkpad);
  gst_object_unref (sinkpad);
}

bool
caps_in_cuda_memory (GstCaps * caps)
{
  for (guint i = 0; i < gst_caps_get_size (caps); ++i) {
    GstCapsFeatures *f = gst_caps_get_features (caps, i);
    if (f && gst_caps_features_contains (f, "memory:CUDAMemory"))
      return true;
  }
  return false;
}

void
on_pad_added (GstElement *, GstPad * pad, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const gchar *name = gst_caps_is_empty (caps) ? "unknown" :
      gst_structure_get_name (gst_caps_get_structure (caps, 0));

  std::unique_lock < std::mutex > g (app->lock);
  if (g_str_has_prefix (name, "video/x-raw") && !app->video_linked) {
    app->video_linked = true;
    g.unlock ();
    /* CUDA memory goes straight to an analyser that takes it; anything
     * else is converted to a format the analysers accept. */
    GstPad *target = nullptr;
    GstPad *first_sink = gst_element_get_static_pad (app->first, "sink");
    if (caps_in_cuda_memory (caps) && gst_pad_query_accept_caps (first_sink, caps)) {
      GstPad *peer = gst_pad_get_peer (first_sink);
      if (peer) {
        gst_pad_unlink (peer, first_sink);
        gst_object_unref (peer);
      }
      target = GST_PAD (gst_object_ref (first_sink));
    } else
      target = gst_element_get_static_pad (app->convert, "sink");
    gst_object_unref (first_sink);
    const GstPadLinkReturn ret = gst_pad_link (pad, target);
    gst_object_unref (target);
    if (GST_PAD_LINK_FAILED (ret))
      GST_ELEMENT_ERROR (app->pipeline, CORE, NEGOTIATION,
          ("could not link the decoded video to the analysers (%s)",
              gst_pad_link_get_name (ret)), (nullptr));
  } else {
    app->other_streams.push_back (name);
    g.unlock ();
    drop_stream (app, pad);
  }
  gst_caps_unref (caps);
}

void
on_no_more_pads (GstElement *, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  bool linked;
  {
    std::lock_guard < std::mutex > g (app->lock);
    linked = app->video_linked;
  }
  if (!linked)
    gst_element_post_message (app->pipeline, gst_message_new_application (GST_OBJECT
            (app->pipeline), gst_structure_new_empty (kNoVideoMessage)));
}

void
on_element_added (GstBin *, GstBin *, GstElement * element, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  GstElementFactory *f = gst_element_get_factory (element);
  if (f && is_video_decoder (f)) {
    std::lock_guard < std::mutex > g (app->lock);
    if (app->decoder.empty ())
      app->decoder = GST_OBJECT_NAME (f);
  }
}

/* ------------------------------------------------------------------------ */
/* Building                                                                 */
/* ------------------------------------------------------------------------ */

/* videoconvert ! [s2smetrics] ! [musiqscore] ! fakesink. No queue: the
 * decoders have threads of their own, and frames held in a queue on top of
 * a batch could starve a decoder with a bounded pool. */
std::string
tail_description (bool with_metrics, bool with_musiq)
{
  std::string d = std::string ("videoconvert name=") + kConvertName;
  if (with_metrics)
    d += std::string (" ! s2smetrics name=") + kMetricsName;
  if (with_musiq)
    d += std::string (" ! musiqscore name=") + kMusiqName;
  d += std::string (" ! fakesink name=") + kSinkName + " sync=false";
  return d;
}

bool
build_pipeline (App * app, bool with_metrics, bool with_musiq, std::string * error)
{
  const std::string tail = tail_description (with_metrics, with_musiq);
  GError *err = nullptr;
  if (opt.pipeline) {
    const std::string desc = std::string (opt.pipeline) + " ! " + tail;
    GstElement *p = gst_parse_launch_full (desc.c_str (), nullptr, GST_PARSE_FLAG_FATAL_ERRORS,
        &err);
    if (!p || err) {
      *error = std::string ("invalid --pipeline: ") + (err ? err->message : "cannot parse it");
      g_clear_error (&err);
      if (p)
        gst_object_unref (p);
      return false;
    }
    if (!GST_IS_PIPELINE (p)) {
      GstElement *wrapper = gst_pipeline_new (nullptr);
      gst_bin_add (GST_BIN (wrapper), p);
      p = wrapper;
    }
    app->pipeline = p;
  } else {
    /* The tail is a chain of its own, linked when decodebin shows its
     * video pad. The location is set as a property: no quoting. */
    const std::string desc = std::string ("filesrc name=") + kSourceName + " ! decodebin name="
        + kDecoderName + " " + tail;
    app->pipeline = gst_parse_launch_full (desc.c_str (), nullptr, GST_PARSE_FLAG_FATAL_ERRORS,
        &err);
    if (!app->pipeline || err) {
      *error = std::string ("cannot build the pipeline: ") + (err ? err->message : "?");
      g_clear_error (&err);
      return false;
    }
    app->source = gst_bin_get_by_name (GST_BIN (app->pipeline), kSourceName);
    GstElement *dec = gst_bin_get_by_name (GST_BIN (app->pipeline), kDecoderName);
    g_object_set (app->source, "location", app->input.c_str (), NULL);
    g_signal_connect (dec, "autoplug-continue", G_CALLBACK (on_autoplug_continue), app);
    g_signal_connect (dec, "autoplug-select", G_CALLBACK (on_autoplug_select), app);
    g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), app);
    g_signal_connect (dec, "no-more-pads", G_CALLBACK (on_no_more_pads), app);
    gst_object_unref (dec);
  }
  g_signal_connect (app->pipeline, "deep-element-added", G_CALLBACK (on_element_added), app);

  GstBin *bin = GST_BIN (app->pipeline);
  app->convert = gst_bin_get_by_name (bin, kConvertName);
  app->metrics = with_metrics ? gst_bin_get_by_name (bin, kMetricsName) : nullptr;
  app->musiq = with_musiq ? gst_bin_get_by_name (bin, kMusiqName) : nullptr;
  app->sink = gst_bin_get_by_name (bin, kSinkName);
  app->first = app->metrics ? app->metrics : app->musiq;

  GstPad *pad = gst_element_get_static_pad (app->sink, "sink");
  gst_pad_add_probe (pad, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
          GST_PAD_PROBE_TYPE_BUFFER_LIST), count_frames, app, nullptr);
  gst_object_unref (pad);
  return true;
}

/* Element options onto the analysers. */
bool
configure (App * app, std::string * error)
{
  struct Prop
  {
    const char *option;
    const char *prop;
    const gchar *value;
    bool metrics, musiq;        /* applies to s2smetrics, musiqscore */
  };
  const Prop props[] = {
    {"device", "device", opt.device, true, true},
    {"cuda-device-id", "cuda-device-id", opt.cuda_device_id, true, true},
    {"batch-size", "batch-size", opt.batch_size, true, true},
    {"precision", "precision", opt.precision, true, true},
    {"conversion", "conversion", opt.conversion, true, true},
    {"metrics", "metrics", opt.metrics, true, false},
    {"lpips-model", "lpips-model", opt.lpips_model, true, false},
    {"lpips-size", "lpips-size", opt.lpips_size, true, false},
    {"ssim-window", "ssim-window", opt.ssim_window, true, false},
    {"alpha", "alpha", opt.alpha, true, false},
    {"beta", "beta", opt.beta, true, false},
    {"gamma", "gamma", opt.gamma, true, false},
    {"musiq-model", "model", opt.musiq_model, false, true},
    {"musiq-interval", "interval", opt.musiq_interval, false, true},
  };
  for (const Prop & p : props) {
    if (!p.value)
      continue;
    if (p.metrics && app->metrics && !set_from_text (app->metrics, p.prop, p.value, p.option,
            error))
      return false;
    if (p.musiq && app->musiq && !set_from_text (app->musiq, p.prop, p.value, p.option, error))
      return false;
  }

  if (app->metrics) {
    if (has_flag (app->metrics, "metrics", "mse"))
      app->plotted.push_back (kMse);
    if (has_flag (app->metrics, "metrics", "inv-ssim"))
      app->plotted.push_back (kInvSsim);
    if (has_flag (app->metrics, "metrics", "lpips"))
      app->plotted.push_back (kLpips);
    app->plotted.push_back (kWeighted);
  }
  if (app->musiq)
    app->plotted.push_back (kMusiq);
  return true;
}

/* ------------------------------------------------------------------------ */
/* Reporting                                                                */
/* ------------------------------------------------------------------------ */

std::string
fmt (double v)
{
  if (std::isnan (v))
    return "n/a";
  char buf[48];
  g_snprintf (buf, sizeof buf, "%.6g", v);
  return buf;
}

void
print_summary (App * app, FILE * out)
{
  const Results & r = app->results;
  std::string facts;
  char buf[160];
  g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT " frames", r.frames_seen);
  facts = buf;
  if (r.width > 0) {
    g_snprintf (buf, sizeof buf, ", %dx%d", r.width, r.height);
    facts += buf;
  }
  if (r.fps_n > 0 && r.fps_d > 0) {
    g_snprintf (buf, sizeof buf, ", %.4g fps", (double) r.fps_n / r.fps_d);
    facts += buf;
  }
  if (!r.decoder.empty ())
    facts += ", decoder " + r.decoder;
  g_snprintf (buf, sizeof buf, "; analysed in %.2f s (%.1f frames/s)", r.elapsed_s,
      r.elapsed_s > 0 ? r.frames_seen / r.elapsed_s : 0.0);
  facts += buf;

  const char *state = r.done ? "" : app->failed ? " (failed: partial results)" :
      " (interrupted: partial results)";
  if (r.ran_metrics)
    fprintf (out, "%s: %zu frame pairs%s\n  %s\n", app->name.c_str (), r.rows.size (), state,
        facts.c_str ());
  else
    fprintf (out, "%s: %zu MUSIQ scores%s\n  %s\n", app->name.c_str (), r.musiq.size (), state,
        facts.c_str ());

  fprintf (out, "  %-10s %12s %12s %12s %12s %8s\n", "metric", "mean", "min", "max", "p95",
      "values");
  /* The metrics asked for (a requested one without values shows n/a). */
  for (Metric m : app->plotted) {
    const Stats s = r.stats (m);
    const size_t count = compute_stats (r.series (m)).count;
    fprintf (out, "  %-10s %12s %12s %12s %12s %8zu\n",
        m == kMusiq ? "musiq" : metric_info (m).field, fmt (s.mean).c_str (),
        fmt (s.min).c_str (), fmt (s.max).c_str (), fmt (s.p95).c_str (), count);
  }
  fflush (out);
}

/* Writes every requested output; false if one failed (reported). */
bool
write_outputs (App * app, FILE * info)
{
  bool ok = true;
  std::string error;
  const Results & r = app->results;
  auto report =[&](const gchar * path, bool written, const char *what) {
    if (!written) {
      print_error (error);
      ok = false;
    } else if (info && strcmp (path, "-") != 0) {
      fprintf (info, "wrote %s (%s)\n", path, what);
    }
  };
  char rows[64];
  g_snprintf (rows, sizeof rows, "%zu rows", r.ran_metrics ? r.rows.size () : r.musiq.size ());
  if (opt.json)
    report (opt.json, write_json (r, opt.json, &error), rows);
  if (opt.jsonl)
    report (opt.jsonl, write_jsonl (r, opt.jsonl, &error), rows);
  if (opt.csv)
    report (opt.csv, write_csv (r, opt.csv, &error), rows);
  if (opt.plot) {
    PlotOptions po;
    if (opt.plot_size)
      sscanf (opt.plot_size, "%dx%d", &po.width, &po.height);
    po.title = "Frame-to-frame quality \xe2\x80\x94 " + app->name;
    char buf[200];
    std::string sub;
    g_snprintf (buf, sizeof buf, "%zu frame pairs", r.rows.size ());
    sub = r.ran_metrics ? buf : "";
    if (r.ran_musiq) {
      g_snprintf (buf, sizeof buf, "%zu MUSIQ scores", r.musiq.size ());
      sub += (sub.empty ()? "" : "  \xc2\xb7  ") + std::string (buf);
    }
    if (r.width > 0) {
      g_snprintf (buf, sizeof buf, "  \xc2\xb7  %d\xc3\x97%d", r.width, r.height);
      sub += buf;
    }
    if (r.fps_n > 0 && r.fps_d > 0) {
      g_snprintf (buf, sizeof buf, "  \xc2\xb7  %.4g fps", (double) r.fps_n / r.fps_d);
      sub += buf;
    }
    if (!r.decoder.empty ())
      sub += "  \xc2\xb7  decoder " + r.decoder;
    if (!r.done)
      sub += app->failed ? "  \xc2\xb7  FAILED: partial" : "  \xc2\xb7  INTERRUPTED: partial";
    po.subtitle = sub;
    po.metrics = app->plotted;
    report (opt.plot, write_plot (r, po, opt.plot, &error), "plot");
  }
  return ok;
}

/* ------------------------------------------------------------------------ */
/* main                                                                     */
/* ------------------------------------------------------------------------ */

int
usage_error (const std::string & message)
{
  fprintf (stderr, "%s: error: %s (see %s --help)\n", kProgram, message.c_str (), kProgram);
  return kExitUsage;
}

bool
has_element (const char *name)
{
  GstElementFactory *f = gst_element_factory_find (name);
  if (f)
    gst_object_unref (f);
  return f != nullptr;
}

bool
is_stdout (const gchar * path)
{
  return path && strcmp (path, "-") == 0;
}

int
run (int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new ("- analyse a video with the s2s elements");
  g_option_context_set_summary (ctx,
      "Decodes INPUT (or the raw video of --pipeline), runs s2smetrics (and musiqscore with\n"
      "--musiq) on every frame, shows the progress, prints a summary and writes the results.\n"
      "See docs/analyze.md.");
  g_option_context_add_main_entries (ctx, kEntries, nullptr);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  GError *err = nullptr;
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    const int rc = usage_error (err->message);
    g_clear_error (&err);
    g_option_context_free (ctx);
    return rc;
  }
  g_option_context_free (ctx);

  if (opt.version) {
    gchar *gst = gst_version_string ();
    printf ("%s %s (%s)\n", kProgram, VERSION, gst);
    g_free (gst);
    return kExitOk;
  }

  /* The command line. */
  const guint n_inputs = opt.inputs ? g_strv_length (opt.inputs) : 0;
  if (opt.pipeline && n_inputs)
    return usage_error ("give either INPUT or --pipeline, not both");
  if (!opt.pipeline && n_inputs == 0)
    return usage_error ("no INPUT file");
  if (n_inputs > 1)
    return usage_error ("one INPUT at a time");
  if (opt.musiq_model || opt.musiq_interval)
    opt.musiq = TRUE;
  const bool with_metrics = !(opt.metrics && strcmp (opt.metrics, "none") == 0);
  if (!with_metrics && !opt.musiq)
    return usage_error ("--metrics none leaves nothing to compute (add --musiq)");
  const std::string progress_mode = opt.progress ? opt.progress : "auto";
  if (progress_mode != "auto" && progress_mode != "bar" && progress_mode != "lines"
      && progress_mode != "none")
    return usage_error ("invalid --progress '" + progress_mode +
        "': expected auto, bar, lines or none");
  if (!(opt.progress_interval >= 0))
    return usage_error ("--progress-interval must be 0 or more seconds");
  const std::string nvdec = opt.nvdec ? opt.nvdec : "auto";
  if (nvdec != "auto" && nvdec != "on" && nvdec != "off")
    return usage_error ("invalid --nvdec '" + nvdec + "': expected auto, on or off");
  if (opt.plot_size) {
    int w = 0, h = 0;
    char extra = 0;
    if (sscanf (opt.plot_size, "%dx%d%c", &w, &h, &extra) != 2 || w < 320 || h < 200
        || w > 10000 || h > 10000)
      return usage_error (std::string ("invalid --plot-size '") + opt.plot_size +
          "': expected WIDTHxHEIGHT from 320x200 to 10000x10000");
  }
  if (is_stdout (opt.plot))
    return usage_error ("--plot needs a file name");
  const int to_stdout = is_stdout (opt.json) + is_stdout (opt.jsonl) + is_stdout (opt.csv);
  if (to_stdout > 1)
    return usage_error ("only one output can go to stdout (-)");
  /* The summary moves to stderr when stdout carries data. */
  FILE *info = opt.quiet ? nullptr : to_stdout ? stderr : stdout;

  App app;
  app.loop = g_main_loop_new (nullptr, FALSE);
  if (!opt.pipeline) {
    app.input = opt.inputs[0];
    app.name = basename_of (app.input);
  } else {
    app.name = "pipeline";
  }
  app.results.input_name = app.name;
  app.results.ran_metrics = with_metrics;
  app.results.ran_musiq = opt.musiq;
  app.nvdec_only = nvdec == "on";

  /* The elements this build has. */
  if (with_metrics && !has_element ("s2smetrics")) {
    print_error ("s2smetrics element not found: install the s2s plugin or point "
        "GST_PLUGIN_PATH at its folder");
    return kExitFailed;
  }
  if (opt.musiq && !has_element ("musiqscore")) {
    print_error ("musiqscore element not available in this build");
    return kExitFailed;
  }

  /* The input, before anything starts. */
  if (!app.input.empty ()) {
    if (!g_file_test (app.input.c_str (), G_FILE_TEST_EXISTS)) {
      print_error (app.input + ": no such file");
      return kExitFailed;
    }
    if (g_file_test (app.input.c_str (), G_FILE_TEST_IS_DIR)) {
      print_error (app.input + ": is a directory");
      return kExitFailed;
    }
    FILE *f = fopen (app.input.c_str (), "rb");
    if (!f) {
      print_error (app.input + ": cannot read it: " + g_strerror (errno));
      return kExitFailed;
    }
    fclose (f);
  }

  /* The outputs, before hours of work. */
  std::string error;
  for (const gchar *path : { opt.json, opt.jsonl, opt.csv, opt.plot }) {
    if (path && !check_writable (path, &error)) {
      print_error (error);
      return kExitOutput;
    }
  }

  if (apply_nvdec_preference (nvdec) == 0 && nvdec == "on") {
    print_error ("--nvdec=on: no NVDEC decoder (nvh264dec) in this GStreamer installation");
    return kExitFailed;
  }

  if (!build_pipeline (&app, with_metrics, opt.musiq, &error)) {
    print_error (error);
    return kExitFailed;
  }
  if (!configure (&app, &error)) {
    gst_object_unref (app.pipeline);
    return usage_error (error);
  }

  const Progress::Mode mode = opt.quiet || progress_mode == "none" ? Progress::Mode::kNone :
      progress_mode == "bar" ? Progress::Mode::kBar :
      progress_mode == "lines" ? Progress::Mode::kLines :
      isatty (STDERR_FILENO) ? Progress::Mode::kBar : Progress::Mode::kLines;
  app.progress.reset (new Progress (mode, opt.progress_interval));

  if (opt.verbose) {
    fprintf (stderr, "%s: %s ! %s\n", kProgram,
        opt.pipeline ? opt.pipeline : ("filesrc location=" + app.input + " ! decodebin").c_str (),
        tail_description (with_metrics, opt.musiq).c_str ());
  }

  GstBus *bus = gst_element_get_bus (app.pipeline);
  gst_bus_add_watch (bus, on_bus_message, &app);
  const guint sigint = g_unix_signal_add (SIGINT, on_sigint, &app);
  const guint sigterm = g_unix_signal_add (SIGTERM, on_sigterm, &app);
  const guint tick = g_timeout_add (100, on_tick, &app);

  app.start_us = g_get_monotonic_time ();
  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* The error is on the bus; the idle runs after it. */
    g_idle_add ([](gpointer data)->gboolean {
          fail (static_cast<App *> (data), "could not start the pipeline");
          return G_SOURCE_REMOVE;
        }, &app);
  }
  g_main_loop_run (app.loop);

  app.results.elapsed_s = (g_get_monotonic_time () - app.start_us) / 1e6;
  read_stream_info (&app);
  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  g_source_remove (tick);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (app.stop_timer)
    g_source_remove (app.stop_timer);
  gst_bus_remove_watch (bus);

  /* Results posted before the stop that the loop had not read yet. */
  while (GstMessage * msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) {
    on_element_message (&app, msg);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);

  app.results.done = app.eos && !app.signal && !app.failed;
  app.results.frames_seen = app.frames;
  {
    std::lock_guard < std::mutex > g (app.lock);
    app.results.decoder = app.decoder;
  }

  /* A run that failed before any frame ends with its error line alone. */
  const char *how = app.failed ? "failed" : app.signal ? "interrupted" : "done";
  if (!app.failed || app.frames > 0)
    app.progress->finish (app.frames, app.position, how);

  int rc = kExitOk;
  if (app.failed) {
    if (opt.verbose) {
      release_warnings (&app);
      if (!app.error_debug.empty ())
        fprintf (stderr, "%s: debug: %s\n", kProgram, app.error_debug.c_str ());
    }
    print_error (app.error);
    /* An error while stopping after Ctrl-C still counts as interrupted. */
    rc = app.signal ? 128 + app.signal : kExitFailed;
  } else {
    release_warnings (&app);
    if (app.signal)
      rc = 128 + app.signal;
  }
  if (opt.verbose && !app.results.decoder.empty ())
    fprintf (stderr, "%s: decoder %s\n", kProgram, app.results.decoder.c_str ());

  /* Results: always after a run that produced some, even a failed one. */
  const bool have_any = !app.results.rows.empty () || !app.results.musiq.empty ();
  if (!app.failed || have_any) {
    if (info && !(app.failed && !have_any))
      print_summary (&app, info);
    if (!write_outputs (&app, info) && rc == kExitOk)
      rc = kExitOutput;
  }

  if (app.source)
    gst_object_unref (app.source);
  if (app.convert)
    gst_object_unref (app.convert);
  if (app.metrics)
    gst_object_unref (app.metrics);
  if (app.musiq)
    gst_object_unref (app.musiq);
  if (app.sink)
    gst_object_unref (app.sink);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  return rc;
}

}  // namespace

int
main (int argc, char **argv)
{
  const int rc = run (argc, argv);
  gst_deinit ();
  return rc;
}
