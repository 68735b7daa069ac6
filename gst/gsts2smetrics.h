#pragma once

#include "gsts2sanalyzer.h"

G_BEGIN_DECLS

#define GST_TYPE_S2S_METRICS (gst_s2s_metrics_get_type ())
G_DECLARE_FINAL_TYPE (GstS2sMetrics, gst_s2s_metrics, GST, S2S_METRICS, GstS2sAnalyzer)

GST_ELEMENT_REGISTER_DECLARE (s2smetrics);

G_END_DECLS
