/* s2scompare: full-reference comparison of a distorted stream with its
 * reference (see gsts2scompare.cpp). */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstaggregator.h>

G_BEGIN_DECLS

#define GST_TYPE_S2S_COMPARE (gst_s2s_compare_get_type ())
G_DECLARE_FINAL_TYPE (GstS2sCompare, gst_s2s_compare, GST, S2S_COMPARE, GstAggregator)

GST_ELEMENT_REGISTER_DECLARE (s2scompare);

G_END_DECLS
