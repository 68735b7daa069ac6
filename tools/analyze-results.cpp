#include "analyze-results.h"

#include <algorithm>

namespace s2sa {

const MetricInfo &
metric_info (Metric m)
{
  static const MetricInfo infos[kMetricCount] = {
    {"mse", "mse", "MSE", "8-bit gray levels\xc2\xb2"},
    {"inv_ssim", "inv-ssim", "Inverse SSIM", "1 \xe2\x88\x92 SSIM, unitless"},
    {"lpips", "lpips", "LPIPS", "perceptual distance, AlexNet"},
    {"weighted", "weighted", "Weighted",
        "\xce\xb1\xc2\xb7MSE + \xce\xb2\xc2\xb7InvSSIM + \xce\xb3\xc2\xb7LPIPS"},
    {"psnr", "psnr", "PSNR", "dB, higher is better (identical frames not drawn)"},
    {"ssim", "ssim", "SSIM", "unitless, 1 = identical"},
    {"musiq", "score", "MUSIQ", "no-reference quality score, higher is better"},
  };
  return infos[m];
}

Stats
compute_stats (const std::vector<double> & values)
{
  return s2s::series_stats (values);
}

double
Results::value (const MetricRow & r, Metric m)
{
  switch (m) {
    case kMse:
      return r.mse;
    case kInvSsim:
      return r.inv_ssim;
    case kLpips:
      return r.lpips;
    case kWeighted:
      return r.weighted;
    case kPsnr:
      return r.psnr;
    case kSsim:
      return r.ssim;
    default:
      return kNaN;
  }
}

std::vector<double>
Results::series (Metric m) const
{
  std::vector<double> out;
  if (m == kMusiq) {
    out.reserve (musiq.size ());
    for (const MusiqRow & r : musiq)
      out.push_back (r.score);
  } else {
    out.reserve (rows.size ());
    for (const MetricRow & r : rows)
      out.push_back (value (r, m));
  }
  return out;
}

Stats
Results::stats (Metric m) const
{
  if (m == kMusiq)
    return have_musiq_summary ? musiq_summary : compute_stats (series (m));
  return have_summary ? summary[m] : compute_stats (series (m));
}

bool
Results::has_values (Metric m) const
{
  for (double v : series (m))
    if (!std::isnan (v))
      return true;
  return false;
}

std::vector<Record>
Results::records () const
{
  std::vector<Record> out;
  out.reserve (std::max (rows.size (), musiq.size ()));
  size_t i = 0, j = 0;
  /* Both lists are in frame order; a frame may be in either or both. */
  while (i < rows.size () || j < musiq.size ()) {
    Record r;
    const bool take_row = i < rows.size () &&
        (j >= musiq.size () || rows[i].frame <= musiq[j].frame);
    const bool take_musiq = j < musiq.size () &&
        (i >= rows.size () || musiq[j].frame <= rows[i].frame);
    if (take_row) {
      r.metrics = &rows[i++];
      r.frame = r.metrics->frame;
      r.pts = r.metrics->pts;
      r.stream_time = r.metrics->stream_time;
    }
    if (take_musiq) {
      r.musiq = &musiq[j++];
      if (!r.metrics) {
        r.frame = r.musiq->frame;
        r.pts = r.musiq->pts;
        r.stream_time = r.musiq->stream_time;
      }
    }
    out.push_back (r);
  }
  return out;
}

}  // namespace s2sa
