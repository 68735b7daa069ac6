#include "analyze-plot.h"

#include <cairo.h>
#include <glib.h>
#include <glib/gstdio.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>

namespace s2sa {

namespace {

struct Rgb
{
  double r, g, b;
};

/* One colour per metric, far apart and readable on white. */
const Rgb kColors[kMetricCount] = {
  {0.12, 0.40, 0.70},           /* mse: blue */
  {0.90, 0.45, 0.05},           /* inv-ssim: orange */
  {0.15, 0.58, 0.20},           /* lpips: green */
  {0.80, 0.15, 0.18},           /* weighted: red */
  {0.50, 0.30, 0.70},           /* musiq: purple */
};
const Rgb kText = {0.10, 0.10, 0.12};
const Rgb kMuted = {0.42, 0.42, 0.46};
const Rgb kGrid = {0.89, 0.89, 0.91};
const Rgb kFrame = {0.55, 0.55, 0.58};
const Rgb kMean = {0.15, 0.15, 0.18};

enum class HAlign
{
  kLeft,
  kCenter,
  kRight
};

enum class XMode
{
  kSeconds,                     /* x in seconds, labels "12.5" */
  kClock,                       /* x in seconds, labels "m:ss" */
  kFrames                       /* x is the frame index */
};

struct Axis
{
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  double step = 1;
};

void
set_color (cairo_t * cr, const Rgb & c, double alpha = 1.0)
{
  cairo_set_source_rgba (cr, c.r, c.g, c.b, alpha);
}

void
set_font (cairo_t * cr, double size, bool bold)
{
  cairo_select_font_face (cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, size);
}

double
text_width (cairo_t * cr, const std::string & s, double size, bool bold = false)
{
  set_font (cr, size, bold);
  cairo_text_extents_t e;
  cairo_text_extents (cr, s.c_str (), &e);
  return e.x_advance;
}

/* Draws `s` with its baseline at y, or vertically centred on y. */
double
draw_text (cairo_t * cr, double x, double y, const std::string & s, double size,
    HAlign align, const Rgb & color, bool bold = false, bool v_center = false)
{
  set_font (cr, size, bold);
  cairo_text_extents_t e;
  cairo_text_extents (cr, s.c_str (), &e);
  if (align == HAlign::kCenter)
    x -= e.x_advance / 2;
  else if (align == HAlign::kRight)
    x -= e.x_advance;
  if (v_center) {
    cairo_font_extents_t fe;
    cairo_font_extents (cr, &fe);
    y += (fe.ascent - fe.descent) / 2;
  }
  set_color (cr, color);
  cairo_move_to (cr, x, y);
  cairo_show_text (cr, s.c_str ());
  return e.x_advance;
}

double
nice_step (double range, int target)
{
  const double raw = range / std::max (1, target);
  const double mag = std::pow (10.0, std::floor (std::log10 (raw)));
  const double f = raw / mag;
  const double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nice * mag;
}

/* Ticks on "nice" numbers around [lo, hi]; `from_zero` keeps 0 as the
 * lower end of positive data, `room` leaves a margin so no point sits on
 * the frame. */
Axis
make_axis (double lo, double hi, int target, bool from_zero, bool room = true)
{
  Axis a;
  if (!std::isfinite (lo) || !std::isfinite (hi)) {
    lo = 0;
    hi = 1;
  }
  if (from_zero && lo > 0)
    lo = 0;
  if (room) {
    const double margin = (hi - lo) * 0.04;
    hi += margin;
    if (!from_zero)
      lo -= margin;
  }
  if (hi - lo <= std::max (std::fabs (hi), std::fabs (lo)) * 1e-9) {
    /* A flat series: give it some room around its value. */
    const double pad = hi != 0 ? std::fabs (hi) * 0.5 : 1.0;
    hi += pad;
    if (!(from_zero && lo >= 0))
      lo -= pad;
  }
  a.step = nice_step (hi - lo, target);
  a.lo = std::floor (lo / a.step + 1e-9) * a.step;
  a.hi = std::ceil (hi / a.step - 1e-9) * a.step;
  for (int i = 0;; ++i) {
    const double v = a.lo + i * a.step;
    if (v > a.hi + a.step * 1e-6)
      break;
    a.ticks.push_back (std::fabs (v) < a.step * 1e-9 ? 0.0 : v);
  }
  return a;
}

/* Time axis in m:ss: steps that fall on whole seconds and minutes. */
Axis
make_clock_axis (double lo, double hi, int target)
{
  static const double steps[] = { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
    7200, 14400, 28800, 86400
  };
  Axis a;
  const double want = (hi - lo) / std::max (1, target);
  a.step = steps[G_N_ELEMENTS (steps) - 1];
  for (double s : steps)
    if (s >= want) {
      a.step = s;
      break;
    }
  a.lo = std::floor (lo / a.step) * a.step;
  a.hi = std::ceil (hi / a.step) * a.step;
  for (double v = a.lo; v <= a.hi + 1e-9; v += a.step)
    a.ticks.push_back (v);
  return a;
}

std::string
tick_label (double v, double step)
{
  char buf[48];
  if (v == 0)
    return "0";
  const double mag = std::max (std::fabs (v), step);
  if (mag >= 1e6 || step < 1e-6) {
    g_snprintf (buf, sizeof buf, "%.3g", v);
    return buf;
  }
  const int decimals = step >= 1 ? 0 : (int) std::ceil (-std::log10 (step) - 1e-9);
  g_snprintf (buf, sizeof buf, "%.*f", std::min (decimals, 6), v);
  return buf;
}

std::string
clock_label (double seconds)
{
  const long s = std::lround (seconds);
  char buf[32];
  if (s >= 3600)
    g_snprintf (buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    g_snprintf (buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string
value_label (double v)
{
  if (!std::isfinite (v))
    return "n/a";
  char buf[48];
  g_snprintf (buf, sizeof buf, "%.4g", v);
  return buf;
}

struct Series
{
  Metric metric;
  std::vector<double> x, y;
  Stats stats;
};

/* The plotted x of a frame: stream time, else PTS, else its index. */
double
x_of (XMode mode, bool use_stream_time, guint64 frame, GstClockTime pts, GstClockTime st)
{
  if (mode == XMode::kFrames)
    return (double) frame;
  return seconds (use_stream_time ? st : pts);
}

class Plotter
{
public:
  Plotter (const Results & r, const PlotOptions & o) : results_ (r), options_ (o) {}

  void draw (cairo_t * cr);

private:
  void collect ();
  void draw_panel (cairo_t * cr, const Series & s, double left, double top, double width,
      double height, double header, bool last);
  void draw_series (cairo_t * cr, const Series & s, double left, double top, double width,
      double height, const Axis & y);
  double px (double x, double left, double width) const
  {
    return left + (x - xaxis_.lo) / (xaxis_.hi - xaxis_.lo) * width;
  }

  const Results & results_;
  const PlotOptions & options_;
  std::vector<Series> series_;
  std::vector<std::string> empty_;      /* requested metrics without values */
  XMode xmode_ = XMode::kSeconds;
  Axis xaxis_;
  double scale_ = 1;
  double tick_size_ = 11;
  double label_size_ = 13;
};

void
Plotter::collect ()
{
  /* Times for every point, or indexes for all when some have no time. */
  bool all_st = true, all_pts = true;
  for (const MetricRow & r : results_.rows) {
    all_st &= GST_CLOCK_TIME_IS_VALID (r.stream_time);
    all_pts &= GST_CLOCK_TIME_IS_VALID (r.pts);
  }
  for (const MusiqRow & r : results_.musiq) {
    all_st &= GST_CLOCK_TIME_IS_VALID (r.stream_time);
    all_pts &= GST_CLOCK_TIME_IS_VALID (r.pts);
  }
  xmode_ = (all_st || all_pts) ? XMode::kSeconds : XMode::kFrames;
  const bool use_st = all_st;

  double xmin = INFINITY, xmax = -INFINITY;
  for (Metric m : options_.metrics) {
    if (!results_.has_values (m)) {
      empty_.push_back (metric_info (m).title);
      continue;
    }
    Series s;
    s.metric = m;
    s.stats = results_.stats (m);
    if (m == kMusiq) {
      for (const MusiqRow & r : results_.musiq) {
        s.x.push_back (x_of (xmode_, use_st, r.frame, r.pts, r.stream_time));
        s.y.push_back (r.score);
      }
    } else {
      for (const MetricRow & r : results_.rows) {
        s.x.push_back (x_of (xmode_, use_st, r.frame, r.pts, r.stream_time));
        /* An infinite PSNR (identical frames) has no place on the axis. */
        const double v = Results::value (r, m);
        s.y.push_back (std::isfinite (v) ? v : kNaN);
      }
    }
    for (size_t i = 0; i < s.x.size (); ++i) {
      if (std::isnan (s.y[i]))
        continue;
      xmin = std::min (xmin, s.x[i]);
      xmax = std::max (xmax, s.x[i]);
    }
    series_.push_back (std::move (s));
  }

  if (!std::isfinite (xmin)) {
    xmin = 0;
    xmax = 1;
  }
  if (xmax - xmin < 1e-9) {
    xmin -= xmode_ == XMode::kFrames ? 1 : 0.5;
    xmax += xmode_ == XMode::kFrames ? 1 : 0.5;
    if (xmin < 0 && xmax > 0 && xmode_ != XMode::kFrames)
      xmin = std::max (xmin, 0.0);
  }
  if (xmode_ == XMode::kSeconds && xmax > 120) {
    xmode_ = XMode::kClock;
    xaxis_ = make_clock_axis (xmin, xmax, std::max (3, (int) (options_.width / 110)));
  } else {
    xaxis_ = make_axis (xmin, xmax, std::max (3, (int) (options_.width / 110)), false, false);
  }
}

void
Plotter::draw_series (cairo_t * cr, const Series & s, double left, double top, double width,
    double height, const Axis & y)
{
  auto py =[&](double v) {
    return top + height - (v - y.lo) / (y.hi - y.lo) * height;
  };
  const Rgb & color = kColors[s.metric];
  const size_t n = s.x.size ();

  cairo_save (cr);
  cairo_rectangle (cr, left, top, width, height);
  cairo_clip (cr);

  /* The mean (dashed) and the 95th percentile (dotted) across the panel. */
  const double dash_mean[] = { 7 * scale_, 4 * scale_ };
  const double dash_p95[] = { 1.5 * scale_, 3 * scale_ };
  if (std::isfinite (s.stats.p95)) {
    cairo_set_dash (cr, dash_p95, 2, 0);
    cairo_set_line_width (cr, 1.6 * scale_);
    set_color (cr, kMean, 0.8);
    cairo_move_to (cr, left, py (s.stats.p95));
    cairo_line_to (cr, left + width, py (s.stats.p95));
    cairo_stroke (cr);
  }
  if (std::isfinite (s.stats.mean)) {
    cairo_set_dash (cr, dash_mean, 2, 0);
    cairo_set_line_width (cr, 1.4 * scale_);
    set_color (cr, kMean, 0.8);
    cairo_move_to (cr, left, py (s.stats.mean));
    cairo_line_to (cr, left + width, py (s.stats.mean));
    cairo_stroke (cr);
  }
  cairo_set_dash (cr, nullptr, 0, 0);

  /* The values. More points than pixels: per pixel column, the first, the
   * extremes and the last value, so no spike disappears. */
  cairo_set_line_width (cr, 1.5 * scale_);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  set_color (cr, color);
  cairo_new_path (cr);
  if (n <= (size_t) (2 * width)) {
    bool pen = false;
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan (s.y[i])) {
        pen = false;
        continue;
      }
      const double X = px (s.x[i], left, width), Y = py (s.y[i]);
      if (pen)
        cairo_line_to (cr, X, Y);
      else
        cairo_move_to (cr, X, Y);
      pen = true;
    }
  } else {
    long column = LONG_MIN;
    double first = 0, lo = 0, hi = 0, last = 0, cx = 0;
    bool pen = false;
    auto flush =[&]() {
      if (column == LONG_MIN)
        return;
      if (pen)
        cairo_line_to (cr, cx, py (first));
      else
        cairo_move_to (cr, cx, py (first));
      cairo_line_to (cr, cx, py (lo));
      cairo_line_to (cr, cx, py (hi));
      cairo_line_to (cr, cx, py (last));
      pen = true;
    };
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan (s.y[i]))
        continue;
      const double X = px (s.x[i], left, width);
      const long c = (long) std::floor (X);
      if (c != column) {
        flush ();
        column = c;
        cx = c + 0.5;
        first = lo = hi = last = s.y[i];
      } else {
        lo = std::min (lo, s.y[i]);
        hi = std::max (hi, s.y[i]);
        last = s.y[i];
      }
    }
    flush ();
  }
  cairo_stroke (cr);

  /* Few points: mark each one. */
  if (n > 0 && n <= (size_t) (width / 8)) {
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan (s.y[i]))
        continue;
      cairo_new_sub_path (cr);
      cairo_arc (cr, px (s.x[i], left, width), py (s.y[i]), 2.4 * scale_, 0, 2 * G_PI);
    }
    cairo_fill (cr);
  }
  cairo_restore (cr);
}

void
Plotter::draw_panel (cairo_t * cr, const Series & s, double left, double top, double width,
    double height, double header, bool last)
{
  const MetricInfo & info = metric_info (s.metric);
  const Rgb & color = kColors[s.metric];

  /* Header: the metric and its unit on the left, the legend on the right;
   * on a narrow plot the unit, then the legend's first entries give way. */
  struct Item
  {
    std::string text;
    int kind;                   /* 0 values, 1 mean, 2 p95 */
  };
  std::vector<Item> items = {
    {"per frame", 0},
    {"mean " + value_label (s.stats.mean), 1},
    {"p95 " + value_label (s.stats.p95), 2},
  };
  const double sample = 26 * scale_, gap = 6 * scale_, spacing = 18 * scale_;
  auto legend_width =[&]() {
    double total = 0;
    for (const Item & it : items)
      total += sample + gap + text_width (cr, it.text, tick_size_) + spacing;
    return items.empty ()? 0.0 : total - spacing;
  };
  const std::string unit = std::string ("(") + info.unit + ")";
  const double title_w = text_width (cr, info.title, label_size_, true);
  const double unit_w = 8 * scale_ + text_width (cr, unit, label_size_ * 0.92);
  while (!items.empty () && title_w + spacing + legend_width () > width)
    items.erase (items.begin ());
  const bool show_unit = title_w + unit_w + spacing + legend_width () <= width;

  const double base = top + header * 0.68;
  double x = left;
  x += draw_text (cr, x, base, info.title, label_size_, HAlign::kLeft, kText, true);
  if (show_unit)
    draw_text (cr, x + 8 * scale_, base, unit, label_size_ * 0.92, HAlign::kLeft, kMuted);

  double lx = left + width - legend_width ();
  const double ly = base - tick_size_ * 0.35;
  for (const Item & it : items) {
    cairo_save (cr);
    if (it.kind == 0) {
      cairo_set_line_width (cr, 2 * scale_);
      set_color (cr, color);
    } else {
      const double dash_mean[] = { 7 * scale_, 4 * scale_ };
      const double dash_p95[] = { 1.5 * scale_, 3 * scale_ };
      cairo_set_dash (cr, it.kind == 1 ? dash_mean : dash_p95, 2, 0);
      cairo_set_line_width (cr, (it.kind == 1 ? 1.4 : 1.6) * scale_);
      set_color (cr, kMean, 0.8);
    }
    cairo_move_to (cr, lx, ly);
    cairo_line_to (cr, lx + sample, ly);
    cairo_stroke (cr);
    cairo_restore (cr);
    lx += sample + gap;
    lx += draw_text (cr, lx, base, it.text, tick_size_, HAlign::kLeft, kText) + spacing;
  }

  /* Plot area, grid and y ticks. */
  const double area_top = top + header;
  double ymin = INFINITY, ymax = -INFINITY;
  for (double v : s.y)
    if (!std::isnan (v)) {
      ymin = std::min (ymin, v);
      ymax = std::max (ymax, v);
    }
  const int y_target = std::max (2, (int) (height / (tick_size_ * 3.2)));
  const Axis y = make_axis (ymin, ymax, std::min (y_target, 5), s.metric != kMusiq);
  auto py =[&](double v) {
    return area_top + height - (v - y.lo) / (y.hi - y.lo) * height;
  };

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_rectangle (cr, left, area_top, width, height);
  cairo_fill (cr);
  cairo_set_line_width (cr, 1);
  set_color (cr, kGrid);
  for (double v : y.ticks) {
    const double Y = std::round (py (v)) + 0.5;
    cairo_move_to (cr, left, Y);
    cairo_line_to (cr, left + width, Y);
  }
  for (double v : xaxis_.ticks) {
    const double X = std::round (px (v, left, width)) + 0.5;
    cairo_move_to (cr, X, area_top);
    cairo_line_to (cr, X, area_top + height);
  }
  cairo_stroke (cr);

  for (double v : y.ticks) {
    const double Y = py (v);
    set_color (cr, kFrame);
    cairo_move_to (cr, left - 5 * scale_, std::round (Y) + 0.5);
    cairo_line_to (cr, left, std::round (Y) + 0.5);
    cairo_stroke (cr);
    draw_text (cr, left - 8 * scale_, Y, tick_label (v, y.step), tick_size_, HAlign::kRight,
        kText, false, true);
  }

  draw_series (cr, s, left, area_top, width, height, y);

  cairo_set_line_width (cr, 1);
  set_color (cr, kFrame);
  cairo_rectangle (cr, std::round (left) + 0.5, std::round (area_top) + 0.5,
      std::round (width) - 1, std::round (height) - 1);
  cairo_stroke (cr);

  if (last) {
    for (double v : xaxis_.ticks) {
      const double X = px (v, left, width);
      set_color (cr, kFrame);
      cairo_move_to (cr, std::round (X) + 0.5, area_top + height);
      cairo_line_to (cr, std::round (X) + 0.5, area_top + height + 5 * scale_);
      cairo_stroke (cr);
      const std::string label = xmode_ == XMode::kClock ? clock_label (v) :
          tick_label (v, xaxis_.step);
      draw_text (cr, X, area_top + height + 8 * scale_ + tick_size_, label, tick_size_,
          HAlign::kCenter, kText);
    }
  }
}

void
Plotter::draw (cairo_t * cr)
{
  const double W = options_.width, H = options_.height;
  scale_ = std::max (0.5, std::min (W / 1200.0, H / 800.0));
  const double title_size = std::max (11.0, 19 * scale_);
  const double sub_size = std::max (9.0, 12.5 * scale_);
  label_size_ = std::max (9.0, 13.5 * scale_);
  tick_size_ = std::max (8.0, 12 * scale_);
  const double pad = 16 * scale_;

  collect ();

  cairo_set_source_rgb (cr, 0.965, 0.965, 0.972);
  cairo_paint (cr);

  /* Title and the facts of the run. */
  double y = pad + title_size;
  draw_text (cr, pad, y, options_.title, title_size, HAlign::kLeft, kText, true);
  y += sub_size * 1.6;
  std::string sub = options_.subtitle;
  if (!empty_.empty () && !series_.empty ()) {
    std::string names;
    for (const std::string & n : empty_)
      names += (names.empty ()? "" : ", ") + n;
    sub += (sub.empty ()? "" : "  \xc2\xb7  ") + std::string ("not computed: ") + names;
  }
  draw_text (cr, pad, y, sub, sub_size, HAlign::kLeft, kMuted);
  const double top = y + pad;

  /* Left margin: the widest y tick label of any panel. */
  double label_w = text_width (cr, "0.0000", tick_size_);
  for (const Series & s : series_) {
    double lo = INFINITY, hi = -INFINITY;
    for (double v : s.y)
      if (!std::isnan (v)) {
        lo = std::min (lo, v);
        hi = std::max (hi, v);
      }
    const Axis a = make_axis (lo, hi, 5, s.metric != kMusiq);
    for (double v : a.ticks)
      label_w = std::max (label_w, text_width (cr, tick_label (v, a.step), tick_size_));
  }
  const double left = pad + label_w + 12 * scale_;
  const double right = W - pad * 1.5;
  const double bottom = H - (tick_size_ * 1.4 + label_size_ * 1.6 + pad);
  const double header = label_size_ * 2.0;
  const double gap = 10 * scale_;

  if (series_.empty ()) {
    set_color (cr, kFrame);
    cairo_set_line_width (cr, 1);
    cairo_rectangle (cr, left + 0.5, top + 0.5, right - left, bottom - top);
    cairo_stroke (cr);
    draw_text (cr, (left + right) / 2, (top + bottom) / 2, "no frame pairs analysed",
        label_size_, HAlign::kCenter, kMuted, false, true);
    return;
  }

  const size_t n = series_.size ();
  const double panel_h = std::max (10.0, (bottom - top - n * header - (n - 1) * gap) / n);
  for (size_t i = 0; i < n; ++i) {
    const double panel_top = top + i * (header + panel_h + gap);
    draw_panel (cr, series_[i], left, panel_top, right - left, panel_h, header, i + 1 == n);
  }

  const char *xlabel = xmode_ == XMode::kFrames ? "frame index" :
      xmode_ == XMode::kClock ? "stream time (m:ss)" : "stream time (s)";
  draw_text (cr, (left + right) / 2, H - pad * 0.8, xlabel, label_size_, HAlign::kCenter,
      kText);
}

}  // namespace

bool
write_plot (const Results & results, const PlotOptions & options, const std::string & path,
    std::string * error)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, options.width,
      options.height);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS) {
    *error = path + ": cannot draw: " + cairo_status_to_string (cairo_surface_status (surface));
    cairo_surface_destroy (surface);
    return false;
  }
  cairo_t *cr = cairo_create (surface);
  cairo_set_antialias (cr, CAIRO_ANTIALIAS_BEST);
  Plotter (results, options).draw (cr);
  cairo_status_t status = cairo_status (cr);
  cairo_destroy (cr);

  const std::string part = path + ".part";
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_write_to_png (surface, part.c_str ());
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS) {
    *error = path + ": cannot write the plot: " + cairo_status_to_string (status);
    g_unlink (part.c_str ());
    return false;
  }
  if (g_rename (part.c_str (), path.c_str ()) != 0) {
    *error = path + ": cannot write the plot: " + g_strerror (errno);
    g_unlink (part.c_str ());
    return false;
  }
  return true;
}

}  // namespace s2sa
