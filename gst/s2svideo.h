/* Glue between GStreamer video types and the GStreamer-free kernels. */
#pragma once

#include <gst/video/video.h>

#include <string>

#include "frame.h"
#include "gsts2sanalyzer.h"
#include "net_precision.h"
#include "pair_engine.h"

namespace s2s {

/* FALSE for formats the kernels do not read (refused at negotiation). */
bool pixel_format_from_gst (GstVideoFormat format, PixelFormat * out);

/* Format, size and YUV conversion of a stream. With the service conversion
 * (the default) YUV becomes RGB as the replaced service's cv2.VideoCapture
 * did: libswscale's BT.601 integer conversion whatever the caps' matrix, the
 * caps' range (make_service_yuv_to_rgb). With the colorimetry conversion the
 * matrix comes from the caps' colorimetry; where it is unknown or RGB on a
 * YUV stream, GStreamer's default for the size is used (BT.709 above 576
 * lines, else BT.601). Elements pass gst_s2s_analyzer_get_conversion(). */
bool stream_format_from_info (const GstVideoInfo * info, StreamFormat * out,
    GstS2sConversion conversion = GST_S2S_CONVERSION_SERVICE);

/* A view of a mapped frame: plane pointers and strides as mapped, so
 * GstVideoMeta strides and plane offsets are honoured. */
FrameView frame_view_from_video_frame (const GstVideoFrame * frame, PixelFormat format);

/* A model path that names a regular file we may read. Elements tell this
 * case (missing: a warning or NOT_FOUND) from a file that is there but bad
 * (READ). */
bool model_file_readable (const std::string & path);

/* The engines' network precision for the element's precision property. */
NetPrecision net_precision_from (GstS2sPrecision precision);

}  // namespace s2s
