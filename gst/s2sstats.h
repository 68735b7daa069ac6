/* Per-metric series for the EOS summaries: mean, min, max and 95th
 * percentile (NumPy's default linear interpolation) of the values seen. */
#pragma once

#include <gst/gst.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "series_stats.h"

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
    const SeriesStats st = series_stats (values_);
    const std::string n (name);
    gst_structure_set (s, (n + "-mean").c_str (), G_TYPE_DOUBLE, st.mean,
        (n + "-min").c_str (), G_TYPE_DOUBLE, st.min,
        (n + "-max").c_str (), G_TYPE_DOUBLE, st.max,
        (n + "-p95").c_str (), G_TYPE_DOUBLE, st.p95, NULL);
  }

private:
  std::vector<double> values_;
};

}  // namespace s2s
