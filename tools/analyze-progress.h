/* s2s-analyze: progress on stderr.
 *
 * kBar: one line redrawn in place (at most 10 times a second) with a bar,
 * frames done / total, frames per second and the ETA; used when stderr is a
 * terminal. kLines: a plain line every `interval` seconds (0: whenever the
 * count changes), for logs and pipes. kNone: nothing. Other messages
 * (warnings) go through print() so they never land in the middle of the bar. */
#pragma once

#include <gst/gst.h>

#include <deque>
#include <string>

namespace s2sa {

class Progress
{
public:
  enum class Mode
  {
    kBar,
    kLines,
    kNone
  };

  Progress (Mode mode, double interval_s);

  /* Frames expected (0: unknown) and the media duration (NONE: unknown). */
  void set_total (guint64 frames, GstClockTime duration);

  /* `done` frames went through; `position` is the media time reached
   * (NONE: unknown). Draws when it is time to (or `force`). */
  void update (guint64 done, GstClockTime position, bool force = false);

  /* A whole line on stderr, above the bar. */
  void print (const std::string & line);

  /* The last state: `how` is e.g. "done", "interrupted", "failed". */
  void finish (guint64 done, GstClockTime position, const char *how);

  Mode mode () const { return mode_; }

private:
  struct Sample
  {
    gint64 t;
    guint64 done;
  };

  double rate () const;
  std::string status (guint64 done, GstClockTime position, bool final_line) const;
  void draw_bar (guint64 done, GstClockTime position, const char *how);
  int columns () const;

  Mode mode_;
  gint64 interval_us_;
  guint64 total_ = 0;
  GstClockTime duration_ = GST_CLOCK_TIME_NONE;
  gint64 start_us_;
  gint64 last_draw_us_ = 0;
  guint64 last_done_ = G_MAXUINT64;
  bool bar_visible_ = false;
  std::string last_bar_;
  unsigned spin_ = 0;
  std::deque<Sample> samples_;
};

/* "1:02" or "1:02:03". */
std::string format_duration (double seconds);

}  // namespace s2sa
