/* s2s-analyze's pipeline, shared with s2s-serve:
 *
 *   filesrc ! decodebin ! videoconvert ! s2smetrics [! musiqscore] ! fakesink
 *
 * (or `DESCRIPTION ! videoconvert ! ...` for a launch description), the
 * element properties set from option text, and the bus handling that
 * collects the elements' per-frame messages and EOS summaries into Results
 * and turns errors into one line. The program runs `loop` and owns the
 * pipeline's states. */
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "analyze-progress.h"
#include "analyze-reference.h"
#include "analyze-results.h"

namespace s2sa {

/* One run of the pipeline and what it collected. */
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
  const char *first_sink = "sink";      /* its pad for the (distorted) video */
  ReferenceInput reference;     /* --reference */
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

  /* Set by the program before the run. */
  std::string program;          /* prefix of warning lines */
  std::string launch;           /* --pipeline's description, or empty */
  std::string reference_path;   /* --reference: s2scompare against it, or empty */
  bool quiet = false;           /* no warnings */
  bool verbose = false;         /* warnings with their debug details */
};

/* An element option given as text: --`option` sets `prop` on s2smetrics
 * and/or musiqscore; nullptr `value` keeps the element's default. */
struct ElementOption
{
  const char *option;
  const char *prop;
  const gchar *value;
  bool metrics, musiq;          /* applies to s2smetrics, musiqscore */
};

/* The analysers' options that s2s-analyze and s2s-serve share, as given on
 * the command line (nullptr: the element's default). A program's options
 * derive from it, so both take the same names with the same meanings. */
struct ElementOptionValues
{
  gchar *metrics = nullptr;
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
};

/* Their GOptionEntry lines, null-terminated, pointing into `v`; the two
 * texts are the program's words for --metrics and --musiq. */
std::vector<GOptionEntry> element_option_entries (ElementOptionValues & v,
    const char *metrics_help, const char *musiq_help);

/* What configure() sets on the elements from them. */
std::vector<ElementOption> element_options (const ElementOptionValues & v);

/* What a property accepts, for error messages. */
std::string expected_values (GParamSpec * ps);

/* Sets `prop` of `element` from the text of --`option`; false with a
 * message naming the option and what it accepts. */
bool set_from_text (GstElement * element, const char *prop, const char *text, const char *option,
    std::string * error);

/* Whether flag `nick` is set in the flags property `prop`. */
bool has_flag (GstElement * element, const char *prop, const char *nick);

void release_warnings (App * app);
void fail (App * app, const std::string & message, const std::string & debug = "");

/* Size and frame rate from the caps at the first analyser. */
void read_stream_info (App * app);

/* Frames expected: the duration times the frame rate (0: unknown). */
void query_total (App * app);

/* A per-frame result or summary of our elements into app->results. */
void on_element_message (App * app, GstMessage * msg);

/* The bus watch: results, errors (fail), warnings, EOS (quits the loop). */
gboolean on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data);

/* Raises (auto, on) or hides (off) the NVDEC decoders; returns how many
 * there are. Affects this process only. */
guint apply_nvdec_preference (const std::string & mode);

/* videoconvert ! [s2smetrics] ! [musiqscore] ! fakesink, or with
 * `reference` s2scompare in place of s2smetrics (its reference branch is
 * added by build_pipeline). */
std::string tail_description (bool with_metrics, bool with_musiq, bool reference = false);

bool build_pipeline (App * app, bool with_metrics, bool with_musiq, std::string * error);

/* Element options onto the analysers. */
bool configure (App * app, const std::vector<ElementOption> & props, std::string * error);

}  // namespace s2sa
