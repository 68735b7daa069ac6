#include "analyze-progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace s2sa {

namespace {

constexpr gint64 kBarPeriodUs = 100 * 1000;     /* at most 10 redraws a second */
constexpr gint64 kRateWindowUs = 3 * 1000 * 1000;       /* fps over the last 3 s */

}  // namespace

std::string
format_duration (double seconds)
{
  if (!std::isfinite (seconds) || seconds < 0)
    return "?";
  const long s = std::lround (seconds);
  char buf[32];
  if (s >= 3600)
    g_snprintf (buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    g_snprintf (buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

Progress::Progress (Mode mode, double interval_s)
  : mode_ (mode), interval_us_ ((gint64) (std::max (0.0, interval_s) * 1e6)),
    start_us_ (g_get_monotonic_time ())
{
}

void
Progress::set_total (guint64 frames, GstClockTime duration)
{
  total_ = frames;
  duration_ = duration;
}

double
Progress::rate () const
{
  if (samples_.size () < 2)
    return NAN;
  const Sample & a = samples_.front ();
  const Sample & b = samples_.back ();
  if (b.t <= a.t)
    return NAN;
  return (double) (b.done - a.done) * 1e6 / (double) (b.t - a.t);
}

int
Progress::columns () const
{
  struct winsize ws;
  if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  const char *env = g_getenv ("COLUMNS");
  const int c = env ? atoi (env) : 0;
  return c > 0 ? c : 80;
}

/* "67/150 frames (44.7%), 123.4 fps, ETA 0:02" and its variants. */
std::string
Progress::status (guint64 done, GstClockTime position, bool final_line) const
{
  char buf[160];
  std::string out;
  const guint64 total = total_ ? std::max (total_, done) : 0;
  if (done == 0 && !final_line) {
    return "starting";
  } else if (total) {
    g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " frames (%.1f%%)",
        done, total, 100.0 * done / total);
  } else if (GST_CLOCK_TIME_IS_VALID (duration_) && duration_ > 0
      && GST_CLOCK_TIME_IS_VALID (position)) {
    g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT " frames (%.1f%%)", done,
        std::min (100.0, 100.0 * position / duration_));
  } else {
    g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT " frames", done);
  }
  out = buf;

  const double elapsed = (g_get_monotonic_time () - start_us_) / 1e6;
  /* The recent rate (none until two counts were seen), or at the end the
   * average over the run. */
  const double fps = final_line ? (elapsed > 0 ? done / elapsed : NAN) : rate ();
  if (std::isfinite (fps)) {
    g_snprintf (buf, sizeof buf, ", %.1f fps", fps);
    out += buf;
  }
  if (final_line) {
    out += ", in " + format_duration (elapsed);
  } else if (total && std::isfinite (fps) && fps > 0) {
    out += ", ETA " + format_duration ((total - done) / fps);
  } else if (GST_CLOCK_TIME_IS_VALID (position)) {
    g_snprintf (buf, sizeof buf, ", at %.1f s", (double) position / GST_SECOND);
    out += buf;
  }
  return out;
}

void
Progress::draw_bar (guint64 done, GstClockTime position, const char *how)
{
  std::string text = "  " + status (done, position, how != nullptr);
  if (how)
    text += std::string (", ") + how;
  /* A bar of constant width, whatever the length of the text after it. */
  const int cols = columns ();
  const int bar_width = std::min (30, cols - 2 - 58);
  std::string line;
  if (bar_width >= 10) {
    const guint64 total = total_ ? std::max (total_, done) : 0;
    double fraction = -1;
    if (total)
      fraction = (double) done / total;
    else if (GST_CLOCK_TIME_IS_VALID (duration_) && duration_ > 0
        && GST_CLOCK_TIME_IS_VALID (position))
      fraction = std::min (1.0, (double) position / duration_);
    if (how && std::string (how) == "done")
      fraction = 1.0;
    std::string bar (bar_width, ' ');
    if (fraction >= 0) {
      const int full = (int) std::floor (fraction * bar_width);
      for (int i = 0; i < full; ++i)
        bar[i] = '=';
      if (full < bar_width)
        bar[full] = '>';
    } else {
      /* Unknown length: a block bouncing along the bar. */
      const int span = bar_width - 3;
      const int period = 2 * span;
      const int step = (int) (spin_ % (unsigned) period);
      const int pos = step < span ? step : period - step;
      for (int i = 0; i < 3; ++i)
        bar[pos + i] = '=';
    }
    line = "[" + bar + "]" + text;
  } else {
    line = text.substr (2);
  }
  if ((int) line.size () >= cols)
    line.resize (cols - 1);
  fprintf (stderr, "\r%s\x1b[K", line.c_str ());
  fflush (stderr);
  bar_visible_ = true;
  last_bar_ = line;
}

void
Progress::update (guint64 done, GstClockTime position, bool force)
{
  if (mode_ == Mode::kNone)
    return;
  const gint64 now = g_get_monotonic_time ();
  if (samples_.empty () || samples_.back ().done != done) {
    samples_.push_back ({now, done});
    while (samples_.size () > 2 && now - samples_.front ().t > kRateWindowUs)
      samples_.pop_front ();
  }

  if (mode_ == Mode::kBar) {
    if (!force && now - last_draw_us_ < kBarPeriodUs)
      return;
    last_draw_us_ = now;
    ++spin_;
    draw_bar (done, position, nullptr);
    return;
  }

  /* Lines: every interval, only when something moved, and from the moment
   * a rate can be given. */
  if (done == last_done_ && !force)
    return;
  if (samples_.size () < 2 && !force)
    return;
  if (!force && last_draw_us_ != 0 && now - last_draw_us_ < interval_us_)
    return;
  if (done == 0 && !force)
    return;
  last_draw_us_ = now;
  last_done_ = done;
  fprintf (stderr, "progress: %s\n", status (done, position, false).c_str ());
  fflush (stderr);
}

void
Progress::print (const std::string & line)
{
  if (bar_visible_)
    fputs ("\r\x1b[K", stderr);
  fprintf (stderr, "%s\n", line.c_str ());
  if (bar_visible_)
    fprintf (stderr, "%s", last_bar_.c_str ());
  fflush (stderr);
}

void
Progress::finish (guint64 done, GstClockTime position, const char *how)
{
  switch (mode_) {
    case Mode::kNone:
      return;
    case Mode::kBar:
      draw_bar (done, position, how);
      fputs ("\n", stderr);
      bar_visible_ = false;
      break;
    case Mode::kLines:
      fprintf (stderr, "progress: %s, %s\n", status (done, position, true).c_str (), how);
      break;
  }
  fflush (stderr);
}

}  // namespace s2sa
