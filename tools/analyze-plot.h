/* s2s-analyze: --plot, a PNG chart of the per-frame metrics (cairo).
 *
 * One panel per metric (stacked, sharing the time axis): the per-frame
 * values as a line, their mean (dashed) and 95th percentile (dotted), y ticks
 * in the metric's unit, a title with the unit and a legend with the values of
 * the mean and p95. The x axis is the frame's stream time in seconds (m:ss
 * past two minutes), or the frame index when the frames have no times. */
#pragma once

#include <string>
#include <vector>

#include "analyze-results.h"

namespace s2sa {

struct PlotOptions
{
  int width = 1200;
  int height = 800;
  std::string title;
  std::string subtitle;
  /* Panels to draw, in order; a metric without any value is left out and
   * named in a note instead. */
  std::vector<Metric> metrics;
};

bool write_plot (const Results & results, const PlotOptions & options,
    const std::string & path, std::string * error);

}  // namespace s2sa
