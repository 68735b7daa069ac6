/* The raw video caps the analysis elements take (the formats the kernels
 * read), in system memory and, in builds with GStreamer's CUDA library, in
 * CUDA memory (listed first, so upstream CUDA elements keep frames on the
 * device wherever downstream takes them too). */
#pragma once

#include <gst/video/video.h>
#if S2S_HAVE_GST_CUDA
#include <gst/cuda/gstcudamemory.h>
#endif

#define S2S_FORMATS "{ GRAY8, RGB, BGR, RGBA, BGRA, RGBx, BGRx, ARGB, ABGR, xRGB, xBGR, " \
    "I420, YV12, Y42B, Y444, NV12, NV21, NV16, NV24 }"

#if S2S_HAVE_GST_CUDA
#define S2S_CAPS GST_VIDEO_CAPS_MAKE_WITH_FEATURES (GST_CAPS_FEATURE_MEMORY_CUDA_MEMORY, \
    S2S_FORMATS) "; " GST_VIDEO_CAPS_MAKE (S2S_FORMATS)
#else
#define S2S_CAPS GST_VIDEO_CAPS_MAKE (S2S_FORMATS)
#endif
