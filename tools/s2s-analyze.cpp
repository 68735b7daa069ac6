/* s2s-analyze: analyse a video file with the s2s elements in one command.
 *
 *   s2s-analyze INPUT [options]
 *   s2s-analyze --pipeline 'videotestsrc num-buffers=100' [options]
 *   s2s-analyze DISTORTED --reference REFERENCE [options]
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

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "analyze-images.h"
#include "analyze-output.h"
#include "analyze-pipeline.h"
#include "analyze-plot.h"
#include "analyze-progress.h"
#include "analyze-reference.h"
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

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

struct Options : ElementOptionValues
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
  gboolean quiet = FALSE;
  gboolean verbose = FALSE;
  gboolean version = FALSE;
  gchar *reference = nullptr;   /* full-reference mode (analyze-reference.h) */
  gboolean allow_length_mismatch = FALSE;
};

Options opt;

const GOptionEntry kEntries[] = {
  {"pipeline", 0, 0, G_OPTION_ARG_STRING, &opt.pipeline,
      "Analyse the raw video of a gst-launch description instead of a file", "DESCRIPTION"},
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
  {"reference", 'r', 0, G_OPTION_ARG_FILENAME, &opt.reference,
      "Compare INPUT frame by frame with this reference video (s2scompare)", "FILE"},
  {"allow-length-mismatch", 0, 0, G_OPTION_ARG_NONE, &opt.allow_length_mismatch,
      "With --reference: compare the common part when the frame counts differ", nullptr},
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
  /* The average FFmpeg's psnr filter reports, finite where some frames are
   * identical. */
  const double mean_mse = r.stats (kMse).mean;
  if (std::find (app->plotted.begin (), app->plotted.end (), kPsnr) != app->plotted.end ()
      && mean_mse > 0)
    fprintf (out, "  psnr of the mean mse: %s dB\n", fmt (10 * std::log10 (65025.0 / mean_mse)).c_str ());
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
    po.title = (opt.reference ? "Full-reference quality \xe2\x80\x94 " :
        "Frame-to-frame quality \xe2\x80\x94 ") + app->name;
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
  const std::vector<GOptionEntry> element_entries = element_option_entries (opt,
      "s2smetrics metrics: mse,inv-ssim,lpips (default: all three) or none",
      "Also score every frame with musiqscore");
  g_option_context_add_main_entries (ctx, element_entries.data (), nullptr);
  g_option_context_add_main_entries (ctx, image_option_entries (), nullptr);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  join_target_size_args (&argc, &argv);
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

  /* --model, --list-models and still images: analyze-images.cpp. */
  const SharedOptions shared = { opt.inputs, opt.pipeline, &opt.musiq_model, &opt.musiq,
    opt.device, opt.cuda_device_id, opt.batch_size, opt.precision, opt.json, opt.jsonl, opt.csv,
    opt.plot, (bool) opt.quiet, (bool) opt.verbose
  };
  int images_rc;
  if (handle_image_mode (shared, &images_rc))
    return images_rc;

  /* The command line. */
  const guint n_inputs = opt.inputs ? g_strv_length (opt.inputs) : 0;
  if (opt.pipeline && n_inputs)
    return usage_error ("give either INPUT or --pipeline, not both");
  if (!opt.pipeline && n_inputs == 0)
    return usage_error ("no INPUT file");
  if (n_inputs > 1)
    return usage_error ("one INPUT at a time");
  if (opt.reference && (opt.pipeline || (opt.metrics && strcmp (opt.metrics, "none") == 0)))
    return usage_error ("--reference compares INPUT with it: it needs an INPUT file and metrics");
  if (opt.allow_length_mismatch && !opt.reference)
    return usage_error ("--allow-length-mismatch goes with --reference");
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
  app.program = kProgram;
  app.launch = opt.pipeline ? opt.pipeline : "";
  app.reference_path = opt.reference ? opt.reference : "";
  app.quiet = opt.quiet;
  app.verbose = opt.verbose;
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
  if (opt.reference && !has_element ("s2scompare")) {
    print_error ("s2scompare element not found: install the s2s plugin or point "
        "GST_PLUGIN_PATH at its folder");
    return kExitFailed;
  }
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
  if (opt.reference && !ReferenceInput::check_file (opt.reference, &error)) {
    print_error (error);
    return kExitFailed;
  }
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
  if (!configure (&app, element_options (opt), &error)) {
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
        tail_description (with_metrics, opt.musiq, opt.reference != nullptr).c_str ());
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
  if (opt.reference && app.results.done) {
    /* Frame for frame: both files must have as many frames, unless the
     * common part is what the user wants. */
    const std::string why = app.reference.length_mismatch (app.results.rows.size (), app.name);
    if (!why.empty () && opt.allow_length_mismatch) {
      app.results.rows.resize (app.reference.common_frames (app.results.rows.size ()));
      app.results.have_summary = false; /* the element's covered the rest too */
      if (!opt.quiet)
        app.progress->print (std::string (kProgram) + ": warning: " + why.substr (0,
                why.find (": the lengths")) + ": compared the first " +
            std::to_string (app.results.rows.size ()) + " frames");
    } else if (!why.empty ()) {
      app.failed = true;
      app.error = why;
    }
  }
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
