#pragma once

#include "gsts2sanalyzer.h"

G_BEGIN_DECLS

#define GST_TYPE_S2S_METRICS (gst_s2s_metrics_get_type ())
G_DECLARE_FINAL_TYPE (GstS2sMetrics, gst_s2s_metrics, GST, S2S_METRICS, GstS2sAnalyzer)

GST_ELEMENT_REGISTER_DECLARE (s2smetrics);

/* The metrics flags (mse, inv-ssim, lpips) and SSIM window enum of
 * s2smetrics; s2scompare's properties take the same values. */
typedef enum
{
  GST_S2S_METRIC_MSE = 1 << 0,
  GST_S2S_METRIC_INV_SSIM = 1 << 1,
  GST_S2S_METRIC_LPIPS = 1 << 2,
} GstS2sMetricFlags;

typedef enum
{
  GST_S2S_SSIM_WINDOW_UNIFORM7,
  GST_S2S_SSIM_WINDOW_GAUSSIAN11,
} GstS2sSsimWindow;

GType gst_s2s_metric_flags_get_type (void);
GType gst_s2s_ssim_window_get_type (void);

G_END_DECLS
