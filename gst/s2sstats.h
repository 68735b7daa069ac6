/* Per-metric series for the EOS summaries: mean, min, max and 95th
 * percentile (NumPy's default linear interpolation) of the values seen. */
#pragma once

#include <gst/gst.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace s2s {

/* PSNR in dB of 8-bit samples from their MSE: 10 log10 (255^2 / MSE), +inf
 * for identical frames (MSE 0), NaN where the MSE is NaN. Derived, so it
 * costs nothing beyond the MSE. */
inline double
psnr_from_mse (double mse)
{
  if (std::isnan (mse))
    return mse;
  if (mse <= 0)
    return std::numeric_limits<double>::infinity ();
  return 10.0 * std::log10 (255.0 * 255.0 / mse);
}

class MetricSeries
{
public:
  void add (double v)
  {
    if (!std::isnan (v))
      values_.push_back (v);
  }
  void clear () { values_.clear (); }
  size_t size () const { return values_.size (); }

  /* Mean of the values, NaN when there are none. */
  double mean () const
  {
    if (values_.empty ())
      return std::numeric_limits<double>::quiet_NaN ();
    double sum = 0;
    for (double x : values_)
      sum += x;
    return sum / values_.size ();
  }

  /* Sets <name>-mean, -min, -max, -p95 (NaN when there were no values). */
  void write (GstStructure * s, const char *name) const
  {
    const double nan = std::numeric_limits<double>::quiet_NaN ();
    double mean = nan, lo = nan, hi = nan, p95 = nan;
    if (!values_.empty ()) {
      std::vector<double> v (values_);
      std::sort (v.begin (), v.end ());
      double sum = 0;
      for (double x : v)
        sum += x;
      mean = sum / v.size ();
      lo = v.front ();
      hi = v.back ();
      const double pos = 0.95 * (v.size () - 1);
      const size_t below = static_cast<size_t> (std::floor (pos));
      const size_t above = std::min (below + 1, v.size () - 1);
      /* numpy's _lerp: from the nearer end, so the result is exact at
       * t = 0 and t = 1 and matches NumPy to the last bit. */
      const double t = pos - below, a = v[below], b = v[above];
      p95 = t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
    }
    const std::string n (name);
    gst_structure_set (s, (n + "-mean").c_str (), G_TYPE_DOUBLE, mean,
        (n + "-min").c_str (), G_TYPE_DOUBLE, lo,
        (n + "-max").c_str (), G_TYPE_DOUBLE, hi,
        (n + "-p95").c_str (), G_TYPE_DOUBLE, p95, NULL);
  }

private:
  std::vector<double> values_;
};

}  // namespace s2s
