/* s2s-analyze: what a run collects from the elements' bus messages, and the
 * numbers derived from it (summaries). Shared by the writers and the plot. */
#pragma once

#include <gst/gst.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "series_stats.h"

namespace s2sa {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN ();

/* One `s2smetrics` message (frame t compared with frame t-1) or, with
 * --reference, one `s2scompare` message (frame t against its reference). */
struct MetricRow
{
  guint64 frame = 0;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  double mse = kNaN;
  double inv_ssim = kNaN;
  double lpips = kNaN;
  double weighted = kNaN;
  double psnr = kNaN;           /* dB, +inf for identical frames */
  double ssim = kNaN;
  std::string status;
  std::string reason;           /* why a frame was skipped or failed */
};

/* One `musiqscore` message: the no-reference score of frame t. */
struct MusiqRow
{
  guint64 frame = 0;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  double score = kNaN;
  std::string status;
};

/* The series a run can produce, in the order of the service's rows. */
enum Metric
{
  kMse,
  kInvSsim,
  kLpips,
  kWeighted,
  kPsnr,
  kSsim,
  kMusiq,
  kMetricCount
};

struct MetricInfo
{
  const char *key;              /* JSONL/CSV key */
  const char *field;            /* element message field / summary prefix */
  const char *title;            /* plot panel title */
  const char *unit;             /* plot panel unit */
};

const MetricInfo & metric_info (Metric m);

/* count, mean, min, max and 95th percentile (NumPy's default linear
 * interpolation) over the non-NaN values; NaN statistics when count is 0.
 * The elements' summaries use the same definition (kernels/series_stats.h). */
using Stats = s2s::SeriesStats;

Stats compute_stats (const std::vector<double> & values);

/* A frame as written to JSONL and CSV: the s2smetrics row and/or the MUSIQ
 * row of the same frame. */
struct Record
{
  guint64 frame = 0;
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  const MetricRow *metrics = nullptr;
  const MusiqRow *musiq = nullptr;
};

struct Results
{
  std::string input_name;       /* file name, or "pipeline" */
  bool ran_metrics = false;     /* s2smetrics was in the pipeline */
  bool ran_musiq = false;       /* musiqscore was in the pipeline */
  bool done = false;            /* the stream ended normally (EOS) */

  std::vector<MetricRow> rows;  /* in the order the element posted them */
  std::vector<MusiqRow> musiq;

  /* The elements' own EOS summaries, when they arrived. */
  bool have_summary = false;
  guint64 summary_pairs = 0;
  Stats summary[kMusiq];        /* mse, inv-ssim, lpips, weighted, psnr, ssim */
  bool have_musiq_summary = false;
  Stats musiq_summary;

  /* Stream facts for the summary line and the plot. */
  int width = 0;
  int height = 0;
  int fps_n = 0;
  int fps_d = 1;
  std::string decoder;
  guint64 frames_seen = 0;      /* frames that went through the analysers */
  double elapsed_s = 0;

  /* Value of metric m in a row (NaN when absent). */
  static double value (const MetricRow & r, Metric m);

  /* Every value of metric m, in row order. */
  std::vector<double> series (Metric m) const;

  /* Summary of metric m: the element's own when it posted one, else
   * computed from the rows (e.g. after an interruption). */
  Stats stats (Metric m) const;

  /* True if some row has a value for m. */
  bool has_values (Metric m) const;

  /* s2smetrics and musiqscore rows merged by frame, in frame order. */
  std::vector<Record> records () const;
};

/* Seconds of a clock time, NaN for GST_CLOCK_TIME_NONE. */
inline double
seconds (GstClockTime t)
{
  return GST_CLOCK_TIME_IS_VALID (t) ? (double) t / GST_SECOND : kNaN;
}

}  // namespace s2sa
