#pragma once

#include "gsts2sanalyzer.h"

G_BEGIN_DECLS

#define GST_TYPE_MUSIQ_SCORE (gst_musiq_score_get_type ())
G_DECLARE_FINAL_TYPE (GstMusiqScore, gst_musiq_score, GST, MUSIQ_SCORE, GstS2sAnalyzer)

GST_ELEMENT_REGISTER_DECLARE (musiqscore);

G_END_DECLS
