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

/* Format, size and YUV conversion of a stream, for an element's set_info()
 * (pass the element: its conversion property and the caps' own colorimetry
 * are read from it; without one, the service conversion with the info's
 * colorimetry).
 * service (the default): YUV becomes RGB as the replaced service's
 *   cv2.VideoCapture did, libswscale's integer conversion with the matrix
 *   of the stream's tag (BT.601 when untagged, whatever the size) and the
 *   tagged range (make_service_yuv_to_rgb).
 * colorimetry: the exact conversion by the caps' colorimetry; where the
 *   matrix is unknown or RGB on a YUV stream, GStreamer's default for the
 *   size (BT.709 above 576 lines, else BT.601). */
bool stream_format_from_info (const GstVideoInfo * info, StreamFormat * out,
    GstS2sAnalyzer * analyzer = nullptr);

/* The same for elements that are not analyzers (s2scompare): the
 * conversion and the caps' own colorimetry (caps_colorimetry()) given. */
bool stream_format_from_info (const GstVideoInfo * info, StreamFormat * out,
    GstS2sConversion conversion, const GstVideoColorimetry & tagged);

/* The colorimetry string of the caps as written, field by field, UNKNOWN
 * where they say nothing (no colorimetry field: all UNKNOWN). GstVideoInfo
 * fills unknown fields with defaults for the size and drops a full range
 * whose matrix is unknown ("1:0:0:0"); the service conversion needs the
 * stream's own tags, as FFmpeg saw them. */
GstVideoColorimetry caps_colorimetry (GstCaps * caps);

/* Caps the pad templates let through but the analysis elements do not
 * take: one field per buffer (interlace-mode=alternate;
 * gst_video_info_from_caps accepts it even without the format:Interlaced
 * feature). FALSE for those and for caps that are not video. */
bool video_info_from_supported_caps (GstCaps * caps, GstVideoInfo * info);

/* Whether the caps are in memory:CUDAMemory (always false in builds
 * without GStreamer's CUDA library). */
bool caps_in_cuda_memory (GstCaps * caps);

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
