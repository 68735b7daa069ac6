/* s2s-serve: the replaced metrics service's WebSocket API, computed by the
 * s2s elements.
 *
 *   GET /                    {"service": "Skip2Smooth Metrics API", "status": "running",
 *                             "device": "cuda" | "cpu"}
 *   ws /ws/compute-metrics   the client sends the whole video as one binary message; the
 *                            server answers {"queued": true, "position": k} while it waits,
 *                            {"progress": p, "message": "Computing metrics: i/N"} after
 *                            every pair, then {"done": true, "metrics": [[mse, inv_ssim,
 *                            lpips, weighted], ...]} (s2s-analyze --json's document) and
 *                            closes (1000); or {"error": "..."} and closes with 1011 (bad
 *                            input, queue full, shutting down) or 1009 (over --max-upload).
 *   GET /healthz, /readyz, /metrics (Prometheus text).
 *
 * Threads: libsoup and every WebSocket live on the main loop; each job runs
 * s2s-analyze's pipeline (analyze-pipeline.h) on a worker thread with a
 * GMainContext of its own for its bus, and talks to the main loop only
 * through g_main_context_invoke (progress, the end). A client that leaves
 * sets the job's cancel flag, which the worker polls every 50 ms: the
 * pipeline stops, its temporary file and the elements' memory are freed and
 * the next job starts.
 *
 * Uploads go to a temporary file that is unlinked at once and read back
 * through /proc/self/fd/N (filesrc can seek it, e.g. an MP4 with its index
 * at the end): it disappears with the job, or with the process, whatever
 * happens.
 *
 * docs/serve.md has the options, the messages and the deployment notes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <linux/tcp.h>      /* struct tcp_info with tcpi_bytes_received */
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "analyze-output.h"
#include "analyze-pipeline.h"
#include "analyze-results.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

namespace {

using namespace s2sa;

constexpr const char *kProgram = "s2s-serve";
constexpr const char *kServiceName = "Skip2Smooth Metrics API";
constexpr const char *kWsPath = "/ws/compute-metrics";

enum ExitCode
{
  kExitOk = 0,
  kExitFailed = 1,              /* could not listen, or the warm-up failed */
  kExitUsage = 2,               /* bad command line or option value */
};

/* How often a worker looks at its job's cancel flag. */
constexpr guint kCancelPollMs = 50;
/* The largest --max-upload: libsoup holds a message in a GByteArray. */
constexpr guint64 kMaxUploadLimit = 4095ull * 1024 * 1024;
/* How long decodebin may take to show the upload's first stream. */
constexpr gint64 kStreamTimeoutS = 10;
/* How often the received byte count of an upload is checked. */
constexpr guint kUploadPollMs = 100;
/* Bytes on the wire beyond the payload that an upload may use: the HTTP
 * upgrade request, frame headers of a fragmented message, pings. */
constexpr guint64 kWireSlack = 256 * 1024;
/* After our close frame, how long a peer that keeps sending has before the
 * connection is cut. */
constexpr guint kCloseGraceMs = 2000;

/* The warm-up's input: a few small frames, enough to start every element. */
constexpr const char *kWarmupLaunch =
    "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,width=64,height=48,framerate=30/1";

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

struct ServeOptions : ElementOptionValues
{
  gchar *listen = nullptr;
  gint jobs = 1;
  gint queue = 16;
  gchar *max_upload = nullptr;
  gchar *token_file = nullptr;
  gdouble drain_timeout = 30;
  gint keepalive = 30;
  gchar *nvdec = nullptr;
  gboolean verbose = FALSE;
  gboolean version = FALSE;
};

ServeOptions opt;

const GOptionEntry kEntries[] = {
  {"listen", 'l', 0, G_OPTION_ARG_STRING, &opt.listen,
      "Address and port to listen on (default 127.0.0.1:8000; port 0 = any free one)",
      "ADDR:PORT"},
  {"jobs", 'J', 0, G_OPTION_ARG_INT, &opt.jobs, "Jobs computed at once, 1..64 (default 1)", "N"},
  {"queue", 'Q', 0, G_OPTION_ARG_INT, &opt.queue,
      "Jobs that may wait for a worker, 0..4096 (default 16); more are refused", "N"},
  {"max-upload", 0, 0, G_OPTION_ARG_STRING, &opt.max_upload,
      "Largest upload, bytes with an optional K, M or G (default 2G)", "SIZE"},
  {"token-file", 0, 0, G_OPTION_ARG_FILENAME, &opt.token_file,
      "Require 'Authorization: Bearer TOKEN' (the file's first line) on the WebSocket and "
      "/metrics", "FILE"},
  {"drain-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt.drain_timeout,
      "On SIGTERM, seconds running jobs may take to finish (default 30)", "S"},
  {"keepalive", 0, 0, G_OPTION_ARG_INT, &opt.keepalive,
      "Seconds between WebSocket pings, 1..3600 (default 30)", "S"},
  {"nvdec", 0, 0, G_OPTION_ARG_STRING, &opt.nvdec,
      "NVDEC decoders: auto (prefer when present) or off", "MODE"},
  {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opt.verbose,
      "Log every connection and the debug details of errors", nullptr},
  {"version", 0, 0, G_OPTION_ARG_NONE, &opt.version, "Print the version and exit", nullptr},
  {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
};


void
log_line (const char *format, ...) G_GNUC_PRINTF (1, 2);

void
log_line (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  gchar *text = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "%s: %s\n", kProgram, text);
  fflush (stderr);
  g_free (text);
}

/* A JSON string literal. */
std::string
json_string (const std::string & s)
{
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += (char) c;
    } else if (c < 0x20) {
      char esc[8];
      g_snprintf (esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += (char) c;
    }
  }
  return out + "\"";
}

/* "2G", "512M", "100K", "1000": bytes; 0 on a bad value. */
guint64
parse_size (const char *text)
{
  gchar *end = nullptr;
  errno = 0;
  const guint64 v = g_ascii_strtoull (text, &end, 10);
  if (errno || end == text)
    return 0;
  guint64 unit = 1;
  if (*end == 'K' || *end == 'k')
    unit = 1024;
  else if (*end == 'M' || *end == 'm')
    unit = 1024 * 1024;
  else if (*end == 'G' || *end == 'g')
    unit = 1024ull * 1024 * 1024;
  else if (*end != '\0')
    return 0;
  if (unit > 1 && end[1] != '\0')
    return 0;
  if (v > G_MAXUINT64 / unit)
    return 0;
  return v * unit;
}

/* ------------------------------------------------------------------------ */
/* State                                                                    */
/* ------------------------------------------------------------------------ */

enum class Outcome
{
  kOk,                          /* metrics sent */
  kFailed,                      /* the upload could not be analysed */
  kCancelled,                   /* the client left, or the drain ran out */
  kRejected,                    /* refused before running: limits, protocol, queue, shutdown */
  kCount
};

const char *const kOutcomeNames[] = { "ok", "failed", "cancelled", "rejected" };

struct Job
{
  guint64 id = 0;

  /* Main thread only. */
  SoupWebsocketConnection *conn = nullptr;  /* null once closed */
  GSocket *socket = nullptr;    /* for the received byte count */
  enum class State
  { kUpload, kWriting, kQueued, kRunning, kEnded } state = State::kUpload;
  guint upload_timer = 0;
  guint cut_timer = 0;
  int last_position = 0;        /* last "position" sent */
  bool counted = false;         /* its outcome is in the statistics */

  /* The upload: written by the writer thread, then read by the worker. */
  int fd = -1;

  /* Set by the main thread, read by the worker. */
  std::atomic<bool> cancel {false};
  std::atomic<bool> drain_cancel {false};
};

using JobPtr = std::shared_ptr<Job>;

struct Server
{
  GMainContext *main_context = nullptr;
  GMainLoop *loop = nullptr;
  SoupServer *soup = nullptr;
  std::string token;
  guint64 max_upload = 2ull * 1024 * 1024 * 1024;
  std::string device = "cpu";
  std::atomic<bool> ready {false};
  bool draining = false;
  guint drain_timer = 0;
  int exit_code = kExitOk;

  /* Main thread only: every open WebSocket. */
  std::map<guint64, JobPtr> connections;
  guint64 next_id = 1;

  /* Shared with the workers. */
  std::mutex lock;
  std::condition_variable wake;
  std::deque<JobPtr> queue;
  int running = 0;
  int idle = 0;
  bool stopping = false;
  bool workers_open = false;    /* the warm-up is done: jobs may start */
  std::vector<std::thread> workers;
  std::atomic<int> writers {0};

  /* Statistics for /metrics. */
  std::atomic<guint64> outcomes[(int) Outcome::kCount] {};
  std::atomic<guint64> bytes_received {0};
  std::atomic<guint64> frames_analysed {0};
  std::mutex stats_lock;
  double job_seconds = 0;
  guint64 job_count = 0;
};

Server srv;

/* ------------------------------------------------------------------------ */
/* Messages to clients (main thread)                                        */
/* ------------------------------------------------------------------------ */

bool
is_open (const Job & job)
{
  return job.conn
      && soup_websocket_connection_get_state (job.conn) == SOUP_WEBSOCKET_STATE_OPEN;
}

void
send_text (Job * job, const std::string & text)
{
  if (is_open (*job))
    soup_websocket_connection_send_text (job->conn, text.c_str ());
}

void
count_outcome (Job * job, Outcome outcome)
{
  if (job->counted)
    return;
  job->counted = true;
  ++srv.outcomes[(int) outcome];
}

gboolean
on_cut (gpointer user_data)
{
  Job *job = static_cast<Job *> (user_data);
  job->cut_timer = 0;
  if (job->conn)
    g_io_stream_close (soup_websocket_connection_get_io_stream (job->conn), nullptr, nullptr);
  return G_SOURCE_REMOVE;
}

/* {"error": ...} then the close frame; a peer still sending is cut off
 * kCloseGraceMs later. */
void
send_error_and_close (Job * job, const std::string & message, gushort code, Outcome outcome)
{
  count_outcome (job, outcome);
  if (opt.verbose)
    log_line ("connection %" G_GUINT64_FORMAT ": %s (close %u)", job->id, message.c_str (), code);
  if (!is_open (*job))
    return;
  send_text (job, "{\"error\": " + json_string (message) + "}");
  soup_websocket_connection_close (job->conn, code, nullptr);
  if (!job->cut_timer)
    job->cut_timer = g_timeout_add (kCloseGraceMs, on_cut, job);
}

/* The queued jobs' positions (1 = next to start), to those whose position
 * changed. A job that an idle worker is about to take has none. */
void
send_positions ()
{
  std::vector<std::pair<JobPtr, int>> positions;
  {
    std::lock_guard<std::mutex> g (srv.lock);
    int free_workers = srv.workers_open ? srv.idle : 0;
    int k = 0;
    for (const JobPtr & job : srv.queue) {
      if (free_workers > 0) {
        --free_workers;
        continue;
      }
      positions.emplace_back (job, ++k);
    }
  }
  for (auto &p : positions) {
    Job *job = p.first.get ();
    if (job->last_position == p.second)
      continue;
    job->last_position = p.second;
    send_text (job, "{\"queued\": true, \"position\": " + std::to_string (p.second) + "}");
  }
}

/* Takes a waiting job out of the queue; false if it was not there. */
bool
remove_from_queue (Job * job)
{
  std::lock_guard<std::mutex> g (srv.lock);
  for (auto it = srv.queue.begin (); it != srv.queue.end (); ++it)
    if (it->get () == job) {
      srv.queue.erase (it);
      return true;
    }
  return false;
}

void
close_upload (Job * job)
{
  if (job->fd >= 0)
    close (job->fd);
  job->fd = -1;
}

void maybe_finish_drain ();

/* The job leaves the server's books (its connection closed, or the server
 * is done with it). The Job itself lives on while a thread holds it. */
void
forget (Job * job)
{
  if (job->upload_timer)
    g_source_remove (job->upload_timer);
  job->upload_timer = 0;
  if (job->cut_timer)
    g_source_remove (job->cut_timer);
  job->cut_timer = 0;
  if (job->conn) {
    g_signal_handlers_disconnect_by_data (job->conn, job);
    g_object_unref (job->conn);
    job->conn = nullptr;
  }
  if (job->socket)
    g_object_unref (job->socket);
  job->socket = nullptr;
  srv.connections.erase (job->id);
  maybe_finish_drain ();
}

/* ------------------------------------------------------------------------ */
/* Jobs (worker threads)                                                    */
/* ------------------------------------------------------------------------ */

/* What a worker hands back to the main loop. */
struct Invocation
{
  JobPtr job;
  std::string text;             /* a progress message, the result or the error */
  bool ok = false;
  guint64 frames = 0;
  double seconds = 0;
};

gboolean on_progress (gpointer data);
gboolean on_job_done (gpointer data);
gboolean on_queue_changed (gpointer data);

void
invoke_main (GSourceFunc func, Invocation * inv)
{
  g_main_context_invoke_full (srv.main_context, G_PRIORITY_DEFAULT, func, inv,
      [](gpointer p) {
        delete static_cast<Invocation *> (p);
      });
}

struct Run
{
  App *app;
  JobPtr job;                   /* null for the warm-up */
  size_t sent = 0;              /* progress messages sent */
};

void
send_progress (Run * run)
{
  App *app = run->app;
  const Results & r = app->results;
  const size_t done = r.ran_metrics ? r.rows.size () : r.musiq.size ();
  if (!run->job || done == run->sent)
    return;
  if (app->total == 0)
    query_total (app);
  for (size_t i = run->sent + 1; i <= done; ++i) {
    /* The service's N: the pairs (frames - 1) of the whole file, here from
     * its duration and frame rate; never below the count reached. */
    guint64 n = app->total > 0 ? app->total - (r.ran_metrics ? 1 : 0) : 0;
    if (n < i)
      n = i;
    char buf[160];
    g_snprintf (buf, sizeof buf, "{\"progress\": %s, \"message\": \"Computing metrics: %zu/%"
        G_GUINT64_FORMAT "\"}", json_number ((double) i / n).c_str (), i, n);
    Invocation *inv = new Invocation;
    inv->job = run->job;
    inv->text = buf;
    invoke_main (on_progress, inv);
  }
  run->sent = done;
}

gboolean
on_run_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Run *run = static_cast<Run *> (user_data);
  const gboolean keep = on_bus_message (bus, msg, run->app);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT)
    send_progress (run);
  return keep;
}

gboolean
on_run_tick (gpointer user_data)
{
  Run *run = static_cast<Run *> (user_data);
  App *app = run->app;
  if (run->job && run->job->cancel)
    fail (app, "cancelled");
  /* decodebin drops the errors a demuxer posts while decodebin is still
   * starting it (GStreamer 1.22's decodebin2 keeps them for a failed state
   * change only): for a file with no playable stream the pipeline would
   * then wait forever. A demuxer exposes its streams in well under a
   * second; none after kStreamTimeoutS means that error was lost. */
  bool found;
  {
    std::lock_guard<std::mutex> g (app->lock);
    found = app->video_linked || !app->other_streams.empty ();
  }
  if (run->job && !found && app->start_us > 0
      && g_get_monotonic_time () - app->start_us > kStreamTimeoutS * G_USEC_PER_SEC)
    fail (app, app->input + ": cannot decode it: no stream found in " +
        std::to_string (kStreamTimeoutS) + " s (a damaged or truncated file?)");
  return G_SOURCE_CONTINUE;
}

/* The one line a client gets: the file's temporary name is "upload". */
std::string
client_error (const App & app)
{
  std::string e = app.error;
  if (!app.input.empty () && g_str_has_prefix (e.c_str (), app.input.c_str ()))
    e = "upload" + e.substr (app.input.size ());
  return e;
}

/* One pipeline on this thread, on a main context of its own: `launch` for
 * the warm-up, else the job's upload. Fills `app`; false with app->error
 * set when it could not be built or configured (`config_error`). */
bool
run_pipeline (App * app, const JobPtr & job, const std::string & launch, bool *config_error)
{
  *config_error = false;
  const bool with_metrics = !(opt.metrics && strcmp (opt.metrics, "none") == 0);
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  app->loop = g_main_loop_new (ctx, FALSE);
  app->program = kProgram;
  app->launch = launch;
  /* Warnings: the warm-up's once (model missing, no GPU); a job's with -v. */
  app->quiet = job && !opt.verbose;
  app->verbose = opt.verbose;
  app->name = job ? "upload" : "warm-up";
  if (job)
    app->input = "/proc/self/fd/" + std::to_string (job->fd);
  app->results.input_name = app->name;
  app->results.ran_metrics = with_metrics;
  app->results.ran_musiq = opt.musiq;
  app->progress.reset (new Progress (Progress::Mode::kNone, 1.0));

  std::string error;
  bool built = build_pipeline (app, with_metrics, opt.musiq, &error);
  if (built && !configure (app, element_options (opt), &error)) {
    *config_error = true;
    built = false;
  }
  if (built) {
    Run run { app, job };
    GstBus *bus = gst_element_get_bus (app->pipeline);
    gst_bus_add_watch (bus, on_run_bus, &run);
    GSource *tick = g_timeout_source_new (kCancelPollMs);
    g_source_set_callback (tick, on_run_tick, &run, nullptr);
    g_source_attach (tick, ctx);

    app->start_us = g_get_monotonic_time ();
    if (gst_element_set_state (app->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      /* The error is on the bus; this runs after it. */
      GSource *idle = g_idle_source_new ();
      g_source_set_callback (idle, [](gpointer data)->gboolean {
            fail (static_cast<App *> (data), "could not start the pipeline");
            return G_SOURCE_REMOVE;
          }, app, nullptr);
      g_source_attach (idle, ctx);
      g_source_unref (idle);
    }
    g_main_loop_run (app->loop);

    app->results.elapsed_s = (g_get_monotonic_time () - app->start_us) / 1e6;
    read_stream_info (app);
    gst_element_set_state (app->pipeline, GST_STATE_NULL);
    g_source_destroy (tick);
    g_source_unref (tick);
    gst_bus_remove_watch (bus);
    while (GstMessage * msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) {
      on_element_message (app, msg);
      gst_message_unref (msg);
    }
    gst_object_unref (bus);
    if (!app->failed)
      send_progress (&run);
    app->results.done = app->eos && !app->failed;
    app->results.frames_seen = app->frames;
    std::lock_guard<std::mutex> g (app->lock);
    app->results.decoder = app->decoder;
  } else {
    app->failed = true;
    app->error = error;
  }

  for (GstElement * e : { app->source, app->convert, app->metrics, app->musiq, app->sink })
    if (e)
      gst_object_unref (e);
  app->source = app->convert = app->metrics = app->musiq = app->sink = app->first = nullptr;
  if (app->pipeline)
    gst_object_unref (app->pipeline);
  app->pipeline = nullptr;
  g_main_loop_unref (app->loop);
  app->loop = nullptr;
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  return built;
}

/* The job's pipeline; the end for the main loop. */
Invocation *
run_job (const JobPtr & job)
{
  Invocation *inv = new Invocation;
  inv->job = job;
  if (job->cancel) {
    close_upload (job.get ());
    return inv;
  }
  const gint64 start = g_get_monotonic_time ();
  App app;
  bool config_error;
  run_pipeline (&app, job, "", &config_error);
  /* The upload is no longer needed: its disk space goes now. */
  close_upload (job.get ());
  inv->seconds = (g_get_monotonic_time () - start) / 1e6;
  inv->frames = app.results.rows.size ();
  if (!app.failed && app.results.done) {
    inv->ok = true;
    inv->text = json_text (app.results);
  } else {
    inv->text = client_error (app);
    if (opt.verbose && !app.error_debug.empty ())
      log_line ("job %" G_GUINT64_FORMAT ": debug: %s", job->id, app.error_debug.c_str ());
  }
  return inv;
}

void
worker_main ()
{
  std::unique_lock<std::mutex> g (srv.lock);
  for (;;) {
    ++srv.idle;
    srv.wake.wait (g, [] {
          return srv.stopping || (srv.workers_open && !srv.queue.empty ());
        });
    --srv.idle;
    if (srv.stopping)
      break;
    JobPtr job = srv.queue.front ();
    srv.queue.pop_front ();
    ++srv.running;
    g.unlock ();
    invoke_main (on_queue_changed, new Invocation);
    Invocation *done = run_job (job);
    g.lock ();
    /* Not running any more when the main loop hears of the end (the drain
     * counts on it). */
    --srv.running;
    g.unlock ();
    invoke_main (on_job_done, done);
    g.lock ();
  }
}

/* ------------------------------------------------------------------------ */
/* Jobs (main thread)                                                       */
/* ------------------------------------------------------------------------ */

gboolean
on_progress (gpointer data)
{
  Invocation *inv = static_cast<Invocation *> (data);
  Job *job = inv->job.get ();
  if (job->state == Job::State::kQueued)
    job->state = Job::State::kRunning;
  if (!job->cancel)
    send_text (job, inv->text);
  return G_SOURCE_REMOVE;
}

gboolean
on_queue_changed (gpointer)
{
  send_positions ();
  return G_SOURCE_REMOVE;
}

gboolean
on_job_done (gpointer data)
{
  Invocation *inv = static_cast<Invocation *> (data);
  Job *job = inv->job.get ();
  job->state = Job::State::kEnded;
  {
    std::lock_guard<std::mutex> g (srv.stats_lock);
    srv.job_seconds += inv->seconds;
    ++srv.job_count;
  }
  if (inv->ok) {
    if (job->cancel) {
      count_outcome (job, Outcome::kCancelled);
      log_line ("job %" G_GUINT64_FORMAT ": finished, but the client had left", job->id);
    } else {
      srv.frames_analysed += inv->frames;
      count_outcome (job, Outcome::kOk);
      send_text (job, inv->text);
      if (is_open (*job)) {
        soup_websocket_connection_close (job->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, nullptr);
        job->cut_timer = g_timeout_add (kCloseGraceMs, on_cut, job);
      }
      log_line ("job %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " pairs in %.2f s", job->id,
          inv->frames, inv->seconds);
    }
  } else if (job->drain_cancel) {
    send_error_and_close (job, "server shutting down: the job was cancelled after the "
        "drain timeout", SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, Outcome::kCancelled);
  } else if (job->counted) {
    /* Already answered (a second message ended it). */
  } else if (job->cancel) {
    count_outcome (job, Outcome::kCancelled);
    log_line ("job %" G_GUINT64_FORMAT ": cancelled (the client left): pipeline stopped",
        job->id);
  } else {
    log_line ("job %" G_GUINT64_FORMAT ": failed: %s", job->id, inv->text.c_str ());
    send_error_and_close (job, inv->text, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, Outcome::kFailed);
  }
  if (!job->conn)
    forget (job);
  maybe_finish_drain ();
  return G_SOURCE_REMOVE;
}

/* The upload is on disk: into the queue, or refused. */
gboolean
on_written (gpointer data)
{
  Invocation *inv = static_cast<Invocation *> (data);
  const JobPtr & job = inv->job;
  if (job->cancel || !job->conn || srv.draining) {
    close_upload (job.get ());
    if (srv.draining)
      send_error_and_close (job.get (), "server shutting down", SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
          Outcome::kRejected);
    else
      count_outcome (job.get (), Outcome::kCancelled);
    job->state = Job::State::kEnded;
    maybe_finish_drain ();
    return G_SOURCE_REMOVE;
  }
  if (job->fd < 0) {
    job->state = Job::State::kEnded;
    send_error_and_close (job.get (), "cannot store the upload: " + inv->text,
        SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, Outcome::kRejected);
    return G_SOURCE_REMOVE;
  }
  size_t waiting;
  bool full;
  {
    std::lock_guard<std::mutex> g (srv.lock);
    waiting = srv.queue.size ();
    /* Those an idle worker takes at once do not count as waiting. */
    const int free_workers = srv.workers_open ? srv.idle : 0;
    full = (long) waiting - free_workers >= (long) opt.queue;
    if (!full) {
      job->state = Job::State::kQueued;
      srv.queue.push_back (job);
    }
  }
  if (full) {
    close_upload (job.get ());
    job->state = Job::State::kEnded;
    send_error_and_close (job.get (), "queue full (" + std::to_string (waiting) +
        " jobs waiting): try again later", SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, Outcome::kRejected);
    return G_SOURCE_REMOVE;
  }
  srv.wake.notify_one ();
  send_positions ();
  return G_SOURCE_REMOVE;
}

/* Writer thread: the upload into a private temporary file, unlinked at
 * once (it lives as long as the descriptor). */
void
write_upload (JobPtr job, GBytes * bytes)
{
  Invocation *inv = new Invocation;
  inv->job = job;
  gchar *path = nullptr;
  GError *err = nullptr;
  int fd = g_file_open_tmp ("s2s-serve-XXXXXX.upload", &path, &err);
  if (fd < 0) {
    inv->text = err->message;
    g_clear_error (&err);
  } else {
    g_unlink (path);
    gsize size = 0;
    const guint8 *p = static_cast<const guint8 *> (g_bytes_get_data (bytes, &size));
    while (size > 0 && !job->cancel) {
      const ssize_t n = write (fd, p, MIN (size, (gsize) (8 << 20)));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        inv->text = g_strerror (errno ? errno : EIO);
        break;
      }
      p += n;
      size -= n;
    }
    if (size > 0 && inv->text.empty ())
      inv->text = "cancelled";
    if (size > 0) {
      close (fd);
      fd = -1;
    }
  }
  g_free (path);
  g_bytes_unref (bytes);
  job->fd = fd;
  invoke_main (on_written, inv);
  --srv.writers;
}

/* ------------------------------------------------------------------------ */
/* WebSocket (main thread)                                                  */
/* ------------------------------------------------------------------------ */

void
on_ws_message (SoupWebsocketConnection *, gint type, GBytes * message, gpointer user_data)
{
  Job *job = static_cast<Job *> (user_data);
  const JobPtr ptr = srv.connections.at (job->id);
  const gsize size = g_bytes_get_size (message);
  srv.bytes_received += size;
  if (job->state != Job::State::kUpload) {
    /* The service takes exactly one message; anything more ends the job. */
    job->cancel = true;
    if (job->state == Job::State::kQueued && remove_from_queue (job)) {
      close_upload (job);
      job->state = Job::State::kEnded;
      send_positions ();
    }
    send_error_and_close (job, "one binary message per connection: the video was already "
        "received", SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, Outcome::kRejected);
    return;
  }
  if (job->upload_timer)
    g_source_remove (job->upload_timer);
  job->upload_timer = 0;
  if (type != SOUP_WEBSOCKET_DATA_BINARY) {
    job->state = Job::State::kEnded;
    send_error_and_close (job, "send the video file as one binary message, not text",
        SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, Outcome::kRejected);
    return;
  }
  if (size == 0) {
    job->state = Job::State::kEnded;
    send_error_and_close (job, "empty upload: send the video file as one binary message",
        SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, Outcome::kRejected);
    return;
  }
  if (size > srv.max_upload) {
    job->state = Job::State::kEnded;
    send_error_and_close (job, "upload of " + std::to_string (size) + " bytes is over the "
        "limit of " + std::to_string (srv.max_upload) + " bytes", SOUP_WEBSOCKET_CLOSE_TOO_BIG,
        Outcome::kRejected);
    return;
  }
  if (srv.draining) {
    job->state = Job::State::kEnded;
    send_error_and_close (job, "server shutting down", SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
        Outcome::kRejected);
    return;
  }
  job->state = Job::State::kWriting;
  ++srv.writers;
  std::thread (write_upload, ptr, g_bytes_ref (message)).detach ();
}

void
on_ws_error (SoupWebsocketConnection *, GError * error, gpointer user_data)
{
  Job *job = static_cast<Job *> (user_data);
  /* A frame over max-incoming-payload-size: libsoup cuts the connection
   * right after this signal; the error and our close frame go first. */
  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG)) {
    job->state = Job::State::kEnded;
    send_error_and_close (job, "upload over the limit of " + std::to_string (srv.max_upload) +
        " bytes", SOUP_WEBSOCKET_CLOSE_TOO_BIG, Outcome::kRejected);
    return;
  }
  if (opt.verbose)
    log_line ("connection %" G_GUINT64_FORMAT ": %s", job->id, error->message);
}

void
on_ws_closed (SoupWebsocketConnection *, gpointer user_data)
{
  Job *job = static_cast<Job *> (user_data);
  const JobPtr keep = srv.connections.at (job->id);
  if (opt.verbose)
    log_line ("connection %" G_GUINT64_FORMAT ": closed", job->id);
  switch (job->state) {
    case Job::State::kQueued:
      job->cancel = true;
      if (remove_from_queue (job)) {
        close_upload (job);
        job->state = Job::State::kEnded;
        count_outcome (job, Outcome::kCancelled);
        send_positions ();
      }
      break;
    case Job::State::kWriting:
    case Job::State::kRunning:
      /* The worker (or writer) sees the flag and ends the job. */
      job->cancel = true;
      break;
    default:
      break;
  }
  forget (job);
}

/* The bytes received on an upload's socket (the kernel's count), so that a
 * message cut into many frames, each under the frame limit, is stopped as
 * it crosses --max-upload rather than when libsoup has assembled it. */
gboolean
on_upload_poll (gpointer user_data)
{
  Job *job = static_cast<Job *> (user_data);
  struct tcp_info info;
  socklen_t len = sizeof info;
  memset (&info, 0, sizeof info);
  if (job->state != Job::State::kUpload || !job->socket) {
    job->upload_timer = 0;
    return G_SOURCE_REMOVE;
  }
  if (getsockopt (g_socket_get_fd (job->socket), IPPROTO_TCP, TCP_INFO, &info, &len) == 0
      && len >= offsetof (struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received
      && info.tcpi_bytes_received > srv.max_upload + kWireSlack) {
    job->upload_timer = 0;
    job->state = Job::State::kEnded;
    send_error_and_close (job, "upload over the limit of " + std::to_string (srv.max_upload) +
        " bytes", SOUP_WEBSOCKET_CLOSE_TOO_BIG, Outcome::kRejected);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

void
on_websocket (SoupServer *, SoupServerMessage * msg, const char *, SoupWebsocketConnection * conn,
    gpointer)
{
  JobPtr job = std::make_shared<Job> ();
  job->id = srv.next_id++;
  job->conn = SOUP_WEBSOCKET_CONNECTION (g_object_ref (conn));
  GSocket *socket = soup_server_message_get_socket (msg);
  job->socket = socket ? G_SOCKET (g_object_ref (socket)) : nullptr;
  srv.connections[job->id] = job;
  if (opt.verbose) {
    GSocketAddress *remote = soup_server_message_get_remote_address (msg);
    gchar *who = remote ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote)) :
        g_strdup ("?");
    log_line ("connection %" G_GUINT64_FORMAT ": from %s", job->id, who);
    g_free (who);
  }

  /* Finite limits: a frame over --max-upload is refused as its header
   * arrives (libsoup), a message made of several frames by on_upload_poll. */
  soup_websocket_connection_set_max_incoming_payload_size (conn, srv.max_upload);
  soup_websocket_connection_set_keepalive_interval (conn, opt.keepalive);
  g_signal_connect (conn, "message", G_CALLBACK (on_ws_message), job.get ());
  g_signal_connect (conn, "error", G_CALLBACK (on_ws_error), job.get ());
  g_signal_connect (conn, "closed", G_CALLBACK (on_ws_closed), job.get ());

  if (srv.draining) {
    job->state = Job::State::kEnded;
    send_error_and_close (job.get (), "server shutting down", SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
        Outcome::kRejected);
    return;
  }
  job->upload_timer = g_timeout_add (kUploadPollMs, on_upload_poll, job.get ());
}

/* ------------------------------------------------------------------------ */
/* HTTP (main thread)                                                       */
/* ------------------------------------------------------------------------ */

bool
authorized (SoupServerMessage * msg)
{
  if (srv.token.empty ())
    return true;
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
      "Authorization");
  if (!auth || g_ascii_strncasecmp (auth, "Bearer ", 7) != 0)
    return false;
  const std::string given (auth + 7);
  /* Compared in constant time for tokens of the right length. */
  if (given.size () != srv.token.size ())
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size (); ++i)
    diff |= (unsigned char) (given[i] ^ srv.token[i]);
  return diff == 0;
}

void
respond (SoupServerMessage * msg, guint status, const char *type, const std::string & body)
{
  soup_server_message_set_status (msg, status, nullptr);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, body.data (), body.size ());
}

/* Before the body and before the upgrade: a missing or wrong token is
 * refused with 401 and never becomes a WebSocket. */
void
on_early (SoupServer *, SoupServerMessage * msg, const char *, GHashTable *, gpointer)
{
  if (authorized (msg))
    return;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "WWW-Authenticate", "Bearer");
  respond (msg, SOUP_STATUS_UNAUTHORIZED, "application/json",
      "{\"error\": \"missing or wrong bearer token\"}\n");
}

std::string
prometheus_text ()
{
  std::string out;
  char buf[256];
  out += "# HELP s2s_serve_jobs_total Connections by outcome: ok (metrics sent), failed (the "
      "upload could not be analysed), cancelled (the client left or the drain ran out), "
      "rejected (limits, protocol, queue full, shutting down).\n"
      "# TYPE s2s_serve_jobs_total counter\n";
  for (int i = 0; i < (int) Outcome::kCount; ++i) {
    g_snprintf (buf, sizeof buf, "s2s_serve_jobs_total{outcome=\"%s\"} %" G_GUINT64_FORMAT "\n",
        kOutcomeNames[i], srv.outcomes[i].load ());
    out += buf;
  }
  int queued, running;
  {
    std::lock_guard<std::mutex> g (srv.lock);
    queued = srv.queue.size ();
    running = srv.running;
  }
  double seconds;
  guint64 count;
  {
    std::lock_guard<std::mutex> g (srv.stats_lock);
    seconds = srv.job_seconds;
    count = srv.job_count;
  }
  g_snprintf (buf, sizeof buf,
      "# HELP s2s_serve_queue_depth Uploads waiting for a worker.\n"
      "# TYPE s2s_serve_queue_depth gauge\ns2s_serve_queue_depth %d\n"
      "# HELP s2s_serve_jobs_running Jobs being computed.\n"
      "# TYPE s2s_serve_jobs_running gauge\ns2s_serve_jobs_running %d\n", queued, running);
  out += buf;
  g_snprintf (buf, sizeof buf,
      "# HELP s2s_serve_received_bytes_total Bytes of WebSocket messages received.\n"
      "# TYPE s2s_serve_received_bytes_total counter\ns2s_serve_received_bytes_total %"
      G_GUINT64_FORMAT "\n", srv.bytes_received.load ());
  out += buf;
  g_snprintf (buf, sizeof buf,
      "# HELP s2s_serve_frames_analysed_total Frame pairs sent to clients.\n"
      "# TYPE s2s_serve_frames_analysed_total counter\ns2s_serve_frames_analysed_total %"
      G_GUINT64_FORMAT "\n", srv.frames_analysed.load ());
  out += buf;
  out += "# HELP s2s_serve_job_seconds Time of the jobs that ran, start to end.\n"
      "# TYPE s2s_serve_job_seconds summary\n";
  out += "s2s_serve_job_seconds_sum " + json_number (seconds) + "\n";
  out += "s2s_serve_job_seconds_count " + std::to_string (count) + "\n";
  g_snprintf (buf, sizeof buf,
      "# HELP s2s_serve_ready 1 once the analysers have started once and until a drain.\n"
      "# TYPE s2s_serve_ready gauge\ns2s_serve_ready %d\n",
      srv.ready && !srv.draining ? 1 : 0);
  out += buf;
  return out;
}

void
on_http (SoupServer *, SoupServerMessage * msg, const char *path, GHashTable *, gpointer)
{
  const char *method = soup_server_message_get_method (msg);
  const bool get = method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD;
  if (strcmp (path, kWsPath) == 0)
    return;                     /* the WebSocket handshake answers */
  if (strcmp (path, "/") != 0 && strcmp (path, "/healthz") != 0 && strcmp (path, "/readyz") != 0
      && strcmp (path, "/metrics") != 0) {
    respond (msg, SOUP_STATUS_NOT_FOUND, "application/json", "{\"error\": \"not found\"}\n");
    return;
  }
  if (!get) {
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
        "GET, HEAD");
    respond (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "application/json",
        "{\"error\": \"method not allowed\"}\n");
    return;
  }
  if (strcmp (path, "/") == 0) {
    respond (msg, SOUP_STATUS_OK, "application/json", std::string ("{\"service\": ") +
        json_string (kServiceName) + ", \"status\": \"running\", \"device\": " +
        json_string (srv.device) + "}");
  } else if (strcmp (path, "/healthz") == 0) {
    respond (msg, SOUP_STATUS_OK, "text/plain", "ok\n");
  } else if (strcmp (path, "/readyz") == 0) {
    if (srv.draining)
      respond (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "text/plain", "draining\n");
    else if (!srv.ready)
      respond (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "text/plain", "starting\n");
    else
      respond (msg, SOUP_STATUS_OK, "text/plain", "ready\n");
  } else {
    if (!authorized (msg)) {
      on_early (nullptr, msg, path, nullptr, nullptr);
      return;
    }
    respond (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4", prometheus_text ());
  }
}

/* ------------------------------------------------------------------------ */
/* Start and drain                                                          */
/* ------------------------------------------------------------------------ */

struct Warmup
{
  bool ok = false;
  bool config_error = false;
  std::string error;
  bool cpu_fallback = false;
};

gboolean
on_warmup_done (gpointer data)
{
  Warmup *w = static_cast<Warmup *> (data);
  if (!w->ok) {
    log_line ("error: %s", w->error.c_str ());
    srv.exit_code = w->config_error ? kExitUsage : kExitFailed;
    g_main_loop_quit (srv.loop);
    return G_SOURCE_REMOVE;
  }
  const std::string dev = opt.device ? opt.device : "auto";
  srv.device = dev == "cpu" || (dev == "auto" && w->cpu_fallback) ? "cpu" : "cuda";
  srv.ready = true;
  {
    std::lock_guard<std::mutex> g (srv.lock);
    srv.workers_open = true;
  }
  srv.wake.notify_all ();
  log_line ("ready (device %s, %d job%s at once, queue %d)", srv.device.c_str (), opt.jobs,
      opt.jobs == 1 ? "" : "s", opt.queue);
  send_positions ();
  return G_SOURCE_REMOVE;
}

/* The configured analysers run once on a few generated frames: LibTorch,
 * the models and the device are loaded (and bad options found) before the
 * first client waits for them. /readyz says ready after this. */
void
warm_up ()
{
  Warmup *w = new Warmup;
  App app;
  run_pipeline (&app, nullptr, kWarmupLaunch, &w->config_error);
  w->ok = !app.failed && app.results.done;
  w->error = app.error;
  for (const std::string & s : app.seen_warnings)
    if (s.find ("No usable CUDA device") != std::string::npos)
      w->cpu_fallback = true;
  g_main_context_invoke_full (srv.main_context, G_PRIORITY_DEFAULT, on_warmup_done, w,
      [](gpointer p) {
        delete static_cast<Warmup *> (p);
      });
}

/* Quits once nothing runs, waits or is connected. */
void
maybe_finish_drain ()
{
  if (!srv.draining)
    return;
  {
    std::lock_guard<std::mutex> g (srv.lock);
    if (srv.running > 0 || !srv.queue.empty ())
      return;
  }
  if (!srv.connections.empty () || srv.writers > 0)
    return;
  g_main_loop_quit (srv.loop);
}

gboolean
on_drain_timeout (gpointer)
{
  srv.drain_timer = 0;
  log_line ("drain timeout: cancelling the running jobs");
  for (auto &c : srv.connections) {
    Job *job = c.second.get ();
    if (job->state == Job::State::kRunning || job->state == Job::State::kQueued) {
      job->drain_cancel = true;
      job->cancel = true;
    }
  }
  /* Whatever is still connected after the workers stopped: cut. */
  g_timeout_add (kCloseGraceMs + 1000, [](gpointer)->gboolean {
        g_main_loop_quit (srv.loop);
        return G_SOURCE_REMOVE;
      }, nullptr);
  return G_SOURCE_REMOVE;
}

gboolean
on_terminate (gpointer)
{
  if (srv.draining) {
    log_line ("second signal: stopping now");
    g_main_loop_quit (srv.loop);
    return G_SOURCE_CONTINUE;
  }
  srv.draining = true;
  log_line ("draining: no new connections; running jobs have %.0f s to finish",
      opt.drain_timeout);
  soup_server_disconnect (srv.soup);
  /* Everyone not yet computing is told and closed. */
  std::vector<JobPtr> jobs;
  for (auto &c : srv.connections)
    jobs.push_back (c.second);
  for (const JobPtr & job : jobs) {
    switch (job->state) {
      case Job::State::kQueued:
        if (!remove_from_queue (job.get ()))
          break;                /* a worker has it: it runs */
        close_upload (job.get ());
        /* fall through */
      case Job::State::kUpload:
        job->cancel = true;
        job->state = Job::State::kEnded;
        send_error_and_close (job.get (), "server shutting down",
            SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, Outcome::kRejected);
        break;
      default:
        break;                  /* writing: refused when written; running: finishes */
    }
  }
  srv.drain_timer = g_timeout_add ((guint) (opt.drain_timeout * 1000), on_drain_timeout,
      nullptr);
  maybe_finish_drain ();
  return G_SOURCE_CONTINUE;
}

bool
parse_listen (const std::string & text, GSocketAddress ** address, std::string * error)
{
  std::string host = text, port = "8000";
  const size_t colon = text.rfind (':');
  if (!text.empty () && text[0] == '[') {
    const size_t close = text.find (']');
    if (close == std::string::npos) {
      *error = "invalid --listen '" + text + "': expected ADDR:PORT";
      return false;
    }
    host = text.substr (1, close - 1);
    if (close + 1 < text.size ()) {
      if (text[close + 1] != ':') {
        *error = "invalid --listen '" + text + "': expected [ADDR]:PORT";
        return false;
      }
      port = text.substr (close + 2);
    }
  } else if (colon != std::string::npos && text.find (':') == colon) {
    host = text.substr (0, colon);
    port = text.substr (colon + 1);
  }
  if (host.empty ())
    host = "127.0.0.1";
  gchar *end = nullptr;
  const guint64 p = g_ascii_strtoull (port.c_str (), &end, 10);
  if (port.empty () || *end || p > 65535) {
    *error = "invalid --listen port '" + port + "': expected 0..65535";
    return false;
  }
  GInetAddress *addr = g_inet_address_new_from_string (host.c_str ());
  if (!addr) {
    *error = "invalid --listen address '" + host + "': expected an IP address";
    return false;
  }
  *address = g_inet_socket_address_new (addr, (guint16) p);
  g_object_unref (addr);
  return true;
}

bool
read_token (const char *path, std::string * token, std::string * error)
{
  gchar *text = nullptr;
  GError *err = nullptr;
  if (!g_file_get_contents (path, &text, nullptr, &err)) {
    *error = std::string ("--token-file: ") + err->message;
    g_clear_error (&err);
    return false;
  }
  std::string t (text);
  g_free (text);
  t = t.substr (0, t.find ('\n'));
  while (!t.empty () && (t.back () == '\r' || t.back () == ' ' || t.back () == '\t'))
    t.pop_back ();
  if (t.empty ()) {
    *error = std::string ("--token-file ") + path + ": the first line is empty";
    return false;
  }
  for (char c : t)
    if ((unsigned char) c < 0x21 || (unsigned char) c > 0x7e) {
      *error = std::string ("--token-file ") + path +
          ": the token must be printable ASCII without spaces";
      return false;
    }
  *token = t;
  return true;
}

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

int
run (int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new ("- the metrics service's WebSocket API");
  g_option_context_set_summary (ctx,
      "Serves ws://ADDR:PORT/ws/compute-metrics as the replaced Skip2Smooth Metrics API did:\n"
      "the client sends a video file as one binary message and gets progress messages, then\n"
      "{\"done\": true, \"metrics\": [[mse, inv_ssim, lpips, weighted], ...]}, the numbers of\n"
      "s2s-analyze --json with the same options. Also GET /, /healthz, /readyz, /metrics.\n"
      "Listens on 127.0.0.1 unless told otherwise; put a reverse proxy (TLS, limits) in\n"
      "front of it beyond this host. See docs/serve.md.");
  g_option_context_add_main_entries (ctx, kEntries, nullptr);
  const std::vector<GOptionEntry> element_entries = element_option_entries (opt,
      "s2smetrics metrics: mse,inv-ssim,lpips (default: all three)",
      "Also score every frame with musiqscore (\"musiq\" in the final message)");
  g_option_context_add_main_entries (ctx, element_entries.data (), nullptr);
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
    printf ("%s %s (%s, libsoup %u.%u.%u)\n", kProgram, VERSION, gst, soup_get_major_version (),
        soup_get_minor_version (), soup_get_micro_version ());
    g_free (gst);
    return kExitOk;
  }
  if (argc > 1)
    return usage_error (std::string ("unexpected argument '") + argv[1] + "'");
  if (opt.jobs < 1 || opt.jobs > 64)
    return usage_error ("--jobs must be 1..64");
  if (opt.queue < 0 || opt.queue > 4096)
    return usage_error ("--queue must be 0..4096");
  if (!(opt.drain_timeout >= 0 && opt.drain_timeout <= 86400))
    return usage_error ("--drain-timeout must be 0..86400 seconds");
  if (opt.keepalive < 1 || opt.keepalive > 3600)
    return usage_error ("--keepalive must be 1..3600 seconds");
  if (opt.max_upload) {
    srv.max_upload = parse_size (opt.max_upload);
    /* libsoup assembles a message in a GByteArray (at most 4 GiB). */
    if (srv.max_upload == 0 || srv.max_upload > kMaxUploadLimit)
      return usage_error (std::string ("invalid --max-upload '") + opt.max_upload +
          "': expected a size in bytes from 1 to 4095M, with an optional K, M or G");
  }
  if (opt.musiq_model || opt.musiq_interval)
    opt.musiq = TRUE;
  const bool with_metrics = !(opt.metrics && strcmp (opt.metrics, "none") == 0);
  if (!with_metrics && !opt.musiq)
    return usage_error ("--metrics none leaves nothing to compute (add --musiq)");
  const std::string nvdec = opt.nvdec ? opt.nvdec : "auto";
  if (nvdec != "auto" && nvdec != "off")
    return usage_error ("invalid --nvdec '" + nvdec + "': expected auto or off");
  std::string error;
  if (opt.token_file && !read_token (opt.token_file, &srv.token, &error))
    return usage_error (error);
  GSocketAddress *address = nullptr;
  if (!parse_listen (opt.listen ? opt.listen : "127.0.0.1:8000", &address, &error))
    return usage_error (error);

  if (with_metrics && !has_element ("s2smetrics")) {
    g_object_unref (address);
    log_line ("error: s2smetrics element not found: install the s2s plugin or point "
        "GST_PLUGIN_PATH at its folder");
    return kExitFailed;
  }
  if (opt.musiq && !has_element ("musiqscore")) {
    g_object_unref (address);
    log_line ("error: musiqscore element not available in this build");
    return kExitFailed;
  }
  apply_nvdec_preference (nvdec);

  srv.main_context = g_main_context_default ();
  srv.loop = g_main_loop_new (srv.main_context, FALSE);
  srv.soup = soup_server_new ("server-header", "s2s-serve ", nullptr);
  /* permessage-deflate off: libsoup 3.2 inflates a message without a bound. */
  soup_server_remove_websocket_extension (srv.soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_early_handler (srv.soup, kWsPath, on_early, nullptr, nullptr);
  soup_server_add_handler (srv.soup, nullptr, on_http, nullptr, nullptr);
  soup_server_add_websocket_handler (srv.soup, kWsPath, nullptr, nullptr, on_websocket, nullptr,
      nullptr);
  if (!soup_server_listen (srv.soup, address, (SoupServerListenOptions) 0, &err)) {
    gchar *where = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
    log_line ("error: cannot listen on %s: %s", where, err->message);
    g_free (where);
    g_clear_error (&err);
    g_object_unref (address);
    g_object_unref (srv.soup);
    return kExitFailed;
  }
  g_object_unref (address);
  GSList *uris = soup_server_get_uris (srv.soup);
  for (GSList * l = uris; l; l = l->next) {
    gchar *uri = g_uri_to_string ((GUri *) l->data);
    /* Tests and scripts read this line (port 0 picks a free port). */
    const std::string http (uri);
    const std::string ws = "ws" + http.substr (strlen ("http")) + (kWsPath + 1);
    printf ("%s: listening on %s (WebSocket %s)\n", kProgram, uri, ws.c_str ());
    fflush (stdout);
    g_free (uri);
  }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  const guint sigterm = g_unix_signal_add (SIGTERM, on_terminate, nullptr);
  const guint sigint = g_unix_signal_add (SIGINT, on_terminate, nullptr);
  for (int i = 0; i < opt.jobs; ++i)
    srv.workers.emplace_back (worker_main);
  std::thread warmup (warm_up);

  g_main_loop_run (srv.loop);

  /* Stop: the workers finish their job (cancelled if any remains). */
  {
    std::lock_guard<std::mutex> g (srv.lock);
    srv.stopping = true;
    for (const JobPtr & job : srv.queue)
      close_upload (job.get ());
    srv.queue.clear ();
  }
  for (auto &c : srv.connections)
    c.second->cancel = true;
  srv.wake.notify_all ();
  warmup.join ();
  for (std::thread & t : srv.workers)
    t.join ();
  while (srv.writers > 0)
    g_usleep (10000);
  /* Results and errors the workers handed over last. */
  while (g_main_context_iteration (srv.main_context, FALSE)) {
  }
  std::vector<JobPtr> left;
  for (auto &c : srv.connections)
    left.push_back (c.second);
  for (const JobPtr & job : left)
    forget (job.get ());
  g_source_remove (sigterm);
  g_source_remove (sigint);
  if (srv.drain_timer)
    g_source_remove (srv.drain_timer);
  soup_server_disconnect (srv.soup);
  g_object_unref (srv.soup);
  g_main_loop_unref (srv.loop);
  if (srv.exit_code == kExitOk)
    log_line ("stopped");
  return srv.exit_code;
}

}  // namespace

int
main (int argc, char **argv)
{
  const int rc = run (argc, argv);
  gst_deinit ();
  return rc;
}
