#include "config.h"

#include "s2svideo.h"

#if S2S_HAVE_GST_CUDA
#include <gst/cuda/gstcudamemory.h>
#endif

#include <glib/gstdio.h>
#include <unistd.h>

#include "convert.h"
#include "net_precision.h"

namespace s2s {

bool
pixel_format_from_gst (GstVideoFormat format, PixelFormat * out)
{
  switch (format) {
    case GST_VIDEO_FORMAT_GRAY8: *out = PixelFormat::kGray8; return true;
    case GST_VIDEO_FORMAT_RGB: *out = PixelFormat::kRgb; return true;
    case GST_VIDEO_FORMAT_BGR: *out = PixelFormat::kBgr; return true;
    case GST_VIDEO_FORMAT_RGBA: *out = PixelFormat::kRgba; return true;
    case GST_VIDEO_FORMAT_BGRA: *out = PixelFormat::kBgra; return true;
    case GST_VIDEO_FORMAT_RGBx: *out = PixelFormat::kRgbx; return true;
    case GST_VIDEO_FORMAT_BGRx: *out = PixelFormat::kBgrx; return true;
    case GST_VIDEO_FORMAT_ARGB: *out = PixelFormat::kArgb; return true;
    case GST_VIDEO_FORMAT_ABGR: *out = PixelFormat::kAbgr; return true;
    case GST_VIDEO_FORMAT_xRGB: *out = PixelFormat::kXrgb; return true;
    case GST_VIDEO_FORMAT_xBGR: *out = PixelFormat::kXbgr; return true;
    case GST_VIDEO_FORMAT_I420: *out = PixelFormat::kI420; return true;
    case GST_VIDEO_FORMAT_YV12: *out = PixelFormat::kYv12; return true;
    case GST_VIDEO_FORMAT_Y42B: *out = PixelFormat::kY42b; return true;
    case GST_VIDEO_FORMAT_Y444: *out = PixelFormat::kY444; return true;
    case GST_VIDEO_FORMAT_NV12: *out = PixelFormat::kNv12; return true;
    case GST_VIDEO_FORMAT_NV21: *out = PixelFormat::kNv21; return true;
    case GST_VIDEO_FORMAT_NV16: *out = PixelFormat::kNv16; return true;
    case GST_VIDEO_FORMAT_NV24: *out = PixelFormat::kNv24; return true;
    default: return false;
  }
}

/* swscale's table entry for a matrix tag (sws_getCoefficients): unknown
 * and RGB fall back to its default, BT.601. */
static SwscaleMatrix
swscale_matrix (GstVideoColorMatrix m)
{
  switch (m) {
    case GST_VIDEO_COLOR_MATRIX_BT709: return SwscaleMatrix::kBt709;
    case GST_VIDEO_COLOR_MATRIX_FCC: return SwscaleMatrix::kFcc;
    case GST_VIDEO_COLOR_MATRIX_SMPTE240M: return SwscaleMatrix::kSmpte240m;
    case GST_VIDEO_COLOR_MATRIX_BT2020: return SwscaleMatrix::kBt2020;
    default: return SwscaleMatrix::kBt601;
  }
}

bool
stream_format_from_info (const GstVideoInfo * info, StreamFormat * out,
    GstS2sAnalyzer * analyzer)
{
  if (!analyzer)
    return stream_format_from_info (info, out, GST_S2S_CONVERSION_SERVICE, info->colorimetry);
  GstVideoColorimetry tagged;
  gst_s2s_analyzer_get_caps_colorimetry (analyzer, &tagged);
  return stream_format_from_info (info, out, gst_s2s_analyzer_get_conversion (analyzer), tagged);
}

GstVideoColorimetry
caps_colorimetry (GstCaps * caps)
{
  GstVideoColorimetry c = { };
  const gchar *s = gst_structure_get_string (gst_caps_get_structure (caps, 0), "colorimetry");
  if (!s || !gst_video_colorimetry_from_string (&c, s))
    c = GstVideoColorimetry { };
  return c;
}

bool
stream_format_from_info (const GstVideoInfo * info, StreamFormat * out,
    GstS2sConversion conversion, const GstVideoColorimetry & tagged)
{
  if (!pixel_format_from_gst (GST_VIDEO_INFO_FORMAT (info), &out->format))
    return false;
  out->width = GST_VIDEO_INFO_WIDTH (info);
  out->height = GST_VIDEO_INFO_HEIGHT (info);
  if (conversion == GST_S2S_CONVERSION_SERVICE) {
    const bool full = tagged.range == GST_VIDEO_COLOR_RANGE_0_255;
    out->yuv = format_layout (out->format).is_yuv
        ? make_service_yuv_to_rgb (out->format, out->height, full, swscale_matrix (tagged.matrix))
        : YuvToRgb {};
    return true;
  }

  GstVideoColorMatrix matrix = info->colorimetry.matrix;
  if (matrix == GST_VIDEO_COLOR_MATRIX_UNKNOWN || matrix == GST_VIDEO_COLOR_MATRIX_RGB)
    matrix = out->height > 576 ? GST_VIDEO_COLOR_MATRIX_BT709 : GST_VIDEO_COLOR_MATRIX_BT601;
  gdouble kr = 0.299, kb = 0.114;
  if (!gst_video_color_matrix_get_Kr_Kb (matrix, &kr, &kb)) {
    kr = 0.299;
    kb = 0.114;
  }
  const bool full = info->colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
  out->yuv = make_yuv_to_rgb (kr, kb, full);
  return true;
}

bool
video_info_from_supported_caps (GstCaps * caps, GstVideoInfo * info)
{
  return gst_video_info_from_caps (info, caps)
      && GST_VIDEO_INFO_INTERLACE_MODE (info) != GST_VIDEO_INTERLACE_MODE_ALTERNATE;
}

bool
caps_in_cuda_memory (GstCaps * caps)
{
#if S2S_HAVE_GST_CUDA
  GstCapsFeatures *features = gst_caps_get_features (caps, 0);
  return features && gst_caps_features_contains (features, GST_CAPS_FEATURE_MEMORY_CUDA_MEMORY);
#else
  (void) caps;
  return false;
#endif
}

FrameView
frame_view_from_video_frame (const GstVideoFrame * frame, PixelFormat format)
{
  FrameView v;
  v.format = format;
  v.width = GST_VIDEO_FRAME_WIDTH (frame);
  v.height = GST_VIDEO_FRAME_HEIGHT (frame);
  for (guint i = 0; i < GST_VIDEO_FRAME_N_PLANES (frame) && i < 3; ++i) {
    v.planes[i] = static_cast<const uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA (frame, i));
    v.strides[i] = GST_VIDEO_FRAME_PLANE_STRIDE (frame, i);
  }
  return v;
}

bool
model_file_readable (const std::string & path)
{
  return !path.empty () && g_file_test (path.c_str (), G_FILE_TEST_IS_REGULAR)
      && g_access (path.c_str (), R_OK) == 0;
}

NetPrecision
net_precision_from (GstS2sPrecision precision)
{
  switch (precision) {
    case GST_S2S_PRECISION_FP16:
      return NetPrecision::kFp16;
    case GST_S2S_PRECISION_BF16:
      return NetPrecision::kBf16;
    default:
      return NetPrecision::kFp32;
  }
}

}  // namespace s2s
