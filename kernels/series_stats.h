/* Mean, min, max and 95th percentile of a series of metric values: the one
 * definition behind the elements' EOS summaries (gst/s2sstats.h) and
 * s2s-analyze's own (tools/analyze-results.cpp), so the two always agree.
 * Header-only and GStreamer-free. */
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace s2s {

struct SeriesStats
{
  size_t count = 0;             /* values that are not NaN */
  double mean = std::numeric_limits<double>::quiet_NaN ();
  double min = std::numeric_limits<double>::quiet_NaN ();
  double max = std::numeric_limits<double>::quiet_NaN ();
  double p95 = std::numeric_limits<double>::quiet_NaN ();
};

/* NaNs are left out (a frame without that metric); all NaN when nothing is
 * left. The percentile is NumPy's default (linear interpolation between the
 * two closest ranks), evaluated from the nearer end as numpy's _lerp does,
 * so it matches NumPy to the last bit (and gives NaN, as NumPy does, where
 * it interpolates between two infinities, e.g. PSNRs of identical frames). */
inline SeriesStats
series_stats (const std::vector<double> & values)
{
  std::vector<double> v;
  v.reserve (values.size ());
  for (double x : values)
    if (!std::isnan (x))
      v.push_back (x);

  SeriesStats s;
  s.count = v.size ();
  if (v.empty ())
    return s;
  std::sort (v.begin (), v.end ());
  double sum = 0;
  for (double x : v)
    sum += x;
  s.mean = sum / v.size ();
  s.min = v.front ();
  s.max = v.back ();
  const double pos = 0.95 * (v.size () - 1);
  const size_t lo = static_cast<size_t> (std::floor (pos));
  const size_t hi = std::min (lo + 1, v.size () - 1);
  const double t = pos - lo, a = v[lo], b = v[hi];
  s.p95 = t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
  return s;
}

}  // namespace s2s
