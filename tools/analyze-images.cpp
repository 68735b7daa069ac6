/* s2s-analyze on still images (docs/analyze.md, "Still images").
 *
 * Each input (files, the images of a folder, glob matches) is recognised by
 * GStreamer's typefinders (image/jpeg, image/png, image/webp, image/bmp,
 * image/tiff, ...: content, not the extension), decoded by decodebin to 8-bit
 * RGB, optionally resized (--target-size, as the seed tool's preprocessing
 * did) and pushed into one `appsrc ! musiqscore ! fakesink` pipeline, so the
 * real element scores every image. Images of the same size are pushed one
 * after the other, so they share caps and musiqscore scores them together,
 * batch-size at a time (on the GPU, one network call per batch); a new size
 * is a caps change, which makes the element score what it holds first. Up to
 * kPoolBytes of decoded images wait in per-size pools to fill batches.
 *
 * The results come back as musiqscore's element messages, matched to the
 * images by the PTS we gave them, and are printed as one JSON line per image
 * in input order, with the seed tool's keys:
 *   {"path": ..., "score": ..., "model": ..., "device": ..., "gpu_available": ...}
 * or {"path": ..., "error": ...} for an image that could not be read or
 * scored (exit status 1; the others are still scored). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "analyze-images.h"

#include <glib/gstdio.h>
#include <glob.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/base/gsttypefindhelper.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "analyze-models.h"
#include "analyze-output.h"

namespace s2sa {

namespace {

constexpr const char *kProgram = "s2s-analyze";
constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitOutput = 3;
/* Decoded images waiting for same-size companions, at most this many bytes. */
constexpr size_t kPoolBytes = 256u << 20;
/* Decoded frames queued in appsrc, at most (about) this many bytes. */
constexpr guint64 kQueuedBytes = 64u << 20;
/* Bytes read to recognise a file's type (typefinders look at the start). */
constexpr gsize kTypefindBytes = 1u << 20;
/* How long one image may take to decode. */
constexpr gint64 kDecodeTimeoutUs = 60 * G_USEC_PER_SEC;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN ();

struct ImageOptions
{
  gchar *model = nullptr;
  gboolean list_models = FALSE;
  gchar *target_size = nullptr;
  gboolean benchmark = FALSE;
  gint runs = 10;
};

ImageOptions iopt;

const GOptionEntry kImageEntries[] = {
  {"model", 0, 0, G_OPTION_ARG_STRING, &iopt.model,
      "MUSIQ variant: koniq, spaq, ava, paq2piq (or pyiqa's musiq, musiq-spaq, ...), "
      "from the installed weights (implies --musiq)", "NAME"},
  {"list-models", 0, 0, G_OPTION_ARG_NONE, &iopt.list_models,
      "List the MUSIQ models and where their weights are", nullptr},
  {"target-size", 0, 0, G_OPTION_ARG_STRING, &iopt.target_size,
      "Images: resize to W x H first (bilinear, as the seed tool)", "W H"},
  {"benchmark", 0, 0, G_OPTION_ARG_NONE, &iopt.benchmark,
      "Images: time MUSIQ on the first image and print the seed's benchmark object", nullptr},
  {"runs", 0, 0, G_OPTION_ARG_INT, &iopt.runs, "Timed runs of --benchmark (default 10)", "N"},
  {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
};

void
print_error (const std::string & message)
{
  fprintf (stderr, "%s: error: %s\n", kProgram, message.c_str ());
}

int
usage_error (const std::string & message)
{
  fprintf (stderr, "%s: error: %s (see %s --help)\n", kProgram, message.c_str (), kProgram);
  return kExitUsage;
}

/* ------------------------------------------------------------------------ */
/* Inputs                                                                   */
/* ------------------------------------------------------------------------ */

struct Input
{
  std::string path;
  bool listed = false;          /* found in a folder: skipped if not an image */
};

bool
has_glob_chars (const std::string & s)
{
  return s.find_first_of ("*?[") != std::string::npos;
}

/* The caps GStreamer's typefinders give the start of `path`; an error for
 * an unreadable or empty file. */
bool
typefind_file (const std::string & path, std::string * type, std::string * error)
{
  FILE *f = fopen (path.c_str (), "rb");
  if (!f) {
    *error = std::string ("cannot read it: ") + g_strerror (errno);
    return false;
  }
  std::vector<guint8> head (kTypefindBytes);
  const size_t n = fread (head.data (), 1, head.size (), f);
  const bool read_error = ferror (f);
  fclose (f);
  if (read_error) {
    *error = "cannot read it";
    return false;
  }
  if (n == 0) {
    *error = "empty file";
    return false;
  }
  gchar *base = g_path_get_basename (path.c_str ());
  const gchar *dot = strrchr (base, '.');
  GstTypeFindProbability prob;
  GstCaps *caps = gst_type_find_helper_for_data_with_extension (nullptr, head.data (), n,
      dot ? dot + 1 : nullptr, &prob);
  g_free (base);
  if (!caps) {
    *type = "";
    return true;
  }
  *type = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  gst_caps_unref (caps);
  return true;
}

bool
is_image_type (const std::string & type)
{
  return g_str_has_prefix (type.c_str (), "image/");
}

/* Files, a folder's files (sorted, not recursive, hidden ones left out) and
 * glob matches (sorted), in the order given. */
std::vector<Input>
expand_inputs (gchar ** args)
{
  std::vector<Input> out;
  for (gchar ** a = args; a && *a; ++a) {
    const std::string arg (*a);
    if (g_file_test (arg.c_str (), G_FILE_TEST_IS_DIR)) {
      GDir *d = g_dir_open (arg.c_str (), 0, nullptr);
      std::vector<std::string> names;
      while (const gchar *name = d ? g_dir_read_name (d) : nullptr)
        if (name[0] != '.')
          names.push_back (name);
      if (d)
        g_dir_close (d);
      std::sort (names.begin (), names.end ());
      for (const std::string & name : names) {
        gchar *p = g_build_filename (arg.c_str (), name.c_str (), NULL);
        if (!g_file_test (p, G_FILE_TEST_IS_DIR))
          out.push_back ({p, true});
        g_free (p);
      }
      continue;
    }
    if (!g_file_test (arg.c_str (), G_FILE_TEST_EXISTS) && has_glob_chars (arg)) {
      glob_t g;
      if (glob (arg.c_str (), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i)
          if (!g_file_test (g.gl_pathv[i], G_FILE_TEST_IS_DIR))
            out.push_back ({g.gl_pathv[i], false});
        globfree (&g);
        continue;
      }
      globfree (&g);
    }
    out.push_back ({arg, false});
  }
  return out;
}

/* Image mode: several inputs, a folder, an unmatched glob or a file whose
 * content is an image. One other file is a video (the video mode). */
bool
wants_image_mode (const SharedOptions & opt)
{
  const guint n = opt.inputs ? g_strv_length (opt.inputs) : 0;
  if (opt.pipeline || n == 0)
    return false;
  if (n > 1)
    return true;
  const std::string arg (opt.inputs[0]);
  if (g_file_test (arg.c_str (), G_FILE_TEST_IS_DIR))
    return true;
  if (!g_file_test (arg.c_str (), G_FILE_TEST_EXISTS))
    return has_glob_chars (arg);
  std::string type, error;
  return typefind_file (arg, &type, &error) && is_image_type (type);
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

/* 8-bit RGB, width * 3 bytes per row. */
struct Picture
{
  int width = 0, height = 0;
  std::vector<guint8> rgb;
};

/* libjpeg's accurate integer IDCT, as PIL (and so the seed and pyiqa) decode
 * JPEG; jpegdec defaults to the fast one, a few levels off. */
void
on_decode_element_added (GstBin *, GstBin *, GstElement * element, gpointer)
{
  GstElementFactory *f = gst_element_get_factory (element);
  if (f && strcmp (GST_OBJECT_NAME (f), "jpegdec") == 0
      && g_object_class_find_property (G_OBJECT_GET_CLASS (element), "idct-method"))
    gst_util_set_object_arg (G_OBJECT (element), "idct-method", "islow");
}

/* JPEG's 4:2:0 planes (jpegdec's I420: libjpeg's raw output) to RGB as
 * libjpeg itself finishes decoding, and so PIL: "fancy" h2v2 upsampling of
 * the chroma (a triangle filter, 3/4 of the nearer sample and 1/4 of the
 * farther, vertically then horizontally, edge rows and columns repeated,
 * libjpeg's rounding biases), then the JFIF full-range YCbCr -> RGB with
 * libjpeg's 16-bit fixed-point tables (jdsample.c, jdcolor.c). */
void
jpeg_i420_to_rgb (const GstVideoFrame * frame, Picture * out)
{
  const int w = GST_VIDEO_FRAME_WIDTH (frame), h = GST_VIDEO_FRAME_HEIGHT (frame);
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  const guint8 *yp = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  const guint8 *up = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 1);
  const guint8 *vp = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 2);
  const int ys = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  const int us = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 1);
  const int vs = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 2);
  constexpr int kScale = 16;
  constexpr gint64 kHalf = (gint64) 1 << (kScale - 1);
  auto fix =[](double x) {
    return (gint64) (x * (1 << kScale) + 0.5);
  };
  /* Arithmetic shifts (floor), as libjpeg's RIGHT_SHIFT. */
  auto shift =[](gint64 v) {
    return (int) (v >= 0 ? v >> kScale : -((-v + ((1 << kScale) - 1)) >> kScale));
  };
  int cr_r[256], cb_b[256];
  gint64 cr_g[256], cb_g[256];
  for (int i = 0; i < 256; ++i) {
    const gint64 x = i - 128;
    cr_r[i] = shift (fix (1.40200) * x + kHalf);
    cb_b[i] = shift (fix (1.77200) * x + kHalf);
    cr_g[i] = -fix (0.71414) * x;
    cb_g[i] = -fix (0.34414) * x + kHalf;
  }
  /* One upsampled chroma row: output row y of plane p. */
  std::vector<int> colsum (cw);
  std::vector<guint8> cu (w), cv (w);
  auto upsample_row =[&](const guint8 * plane, int stride, int y, guint8 * dst) {
    const int row = y / 2;
    const int other = y % 2 == 0 ? std::max (row - 1, 0) : std::min (row + 1, ch - 1);
    const guint8 *a = plane + (size_t) row * stride, *b = plane + (size_t) other * stride;
    for (int x = 0; x < cw; ++x)
      colsum[x] = a[x] * 3 + b[x];
    for (int x = 0; x < cw; ++x) {
      const int left = x > 0 ? colsum[x - 1] : colsum[x];
      const int right = x + 1 < cw ? colsum[x + 1] : colsum[x];
      /* The first and last columns use their own sum for the missing one. */
      const int l = x > 0 ? (colsum[x] * 3 + left + 8) >> 4 : (colsum[x] * 4 + 8) >> 4;
      const int r = x + 1 < cw ? (colsum[x] * 3 + right + 7) >> 4 : (colsum[x] * 4 + 7) >> 4;
      dst[2 * x] = (guint8) l;
      if (2 * x + 1 < w)
        dst[2 * x + 1] = (guint8) r;
    }
  };
  auto clamp8 =[](int v) {
    return (guint8) std::min (255, std::max (0, v));
  };
  out->width = w;
  out->height = h;
  out->rgb.resize ((size_t) w * h * 3);
  for (int y = 0; y < h; ++y) {
    upsample_row (up, us, y, cu.data ());
    upsample_row (vp, vs, y, cv.data ());
    const guint8 *Y = yp + (size_t) y * ys;
    guint8 *d = out->rgb.data () + (size_t) y * w * 3;
    for (int x = 0; x < w; ++x, d += 3) {
      const int cb = cu[x], cr = cv[x];
      d[0] = clamp8 (Y[x] + cr_r[cr]);
      d[1] = clamp8 (Y[x] + shift (cb_g[cb] + cr_g[cr]));
      d[2] = clamp8 (Y[x] + cb_b[cb]);
    }
  }
}

/* The decoded frame as packed RGB: RGB copied, RGBA without its alpha,
 * GRAY8 in all three channels (what PIL's convert('RGB') does), I420 from
 * jpegdec as libjpeg converts it. */
bool
picture_from_sample (GstSample * sample, Picture * out, std::string * error)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample))
      || !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ)) {
    *error = "the decoder gave an unreadable frame";
    return false;
  }
  const int w = GST_VIDEO_INFO_WIDTH (&info), h = GST_VIDEO_INFO_HEIGHT (&info);
  const GstVideoFormat format = GST_VIDEO_INFO_FORMAT (&info);
  if (format == GST_VIDEO_FORMAT_I420) {
    jpeg_i420_to_rgb (&frame, out);
    gst_video_frame_unmap (&frame);
    return true;
  }
  const int in_px = format == GST_VIDEO_FORMAT_RGBA ? 4 : format == GST_VIDEO_FORMAT_GRAY8 ? 1 : 3;
  out->width = w;
  out->height = h;
  out->rgb.resize ((size_t) w * h * 3);
  const guint8 *src = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
  for (int y = 0; y < h; ++y) {
    const guint8 *s = src + (size_t) y * stride;
    guint8 *d = out->rgb.data () + (size_t) y * w * 3;
    for (int x = 0; x < w; ++x, s += in_px, d += 3) {
      d[0] = s[0];
      d[1] = in_px == 1 ? s[0] : s[1];
      d[2] = in_px == 1 ? s[0] : s[2];
    }
  }
  gst_video_frame_unmap (&frame);
  return true;
}

/* The first frame of `path` (an animated image's first), decoded by
 * decodebin; the decoder's or the pipeline's error otherwise. */
bool
decode_with (const char *description, const std::string & path, Picture * out,
    std::string * error, bool *not_negotiated = nullptr)
{
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch (description, &err);
  if (!pipeline) {
    *error = std::string ("cannot build the decoding pipeline: ") + (err ? err->message : "?");
    g_clear_error (&err);
    return false;
  }
  g_clear_error (&err);
  g_signal_connect (pipeline, "deep-element-added", G_CALLBACK (on_decode_element_added),
      nullptr);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (src, "location", path.c_str (), NULL);
  /* The whole file in one buffer: decoders without a parser in front
   * (avdec_bmp, avdec_tiff) take one buffer as one image. (The queue
   * before decodebin keeps filesrc pushing: in pull mode decodebin's
   * typefind would read it 4 KiB at a time.) */
  GStatBuf st;
  if (g_stat (path.c_str (), &st) == 0 && st.st_size > 0 && (guint64) st.st_size < G_MAXUINT)
    g_object_set (src, "blocksize", (guint) st.st_size, NULL);
  GstBus *bus = gst_element_get_bus (pipeline);

  bool ok = false;
  *error = "no image could be decoded from it (corrupt or truncated?)";
  if (gst_element_set_state (pipeline, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE) {
    /* appsink prerolls on the first frame; PLAYING lets it be pulled. */
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
    const gint64 deadline = g_get_monotonic_time () + kDecodeTimeoutUs;
    for (;;) {
      GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 20 * GST_MSECOND);
      if (sample) {
        ok = picture_from_sample (sample, out, error);
        gst_sample_unref (sample);
        break;
      }
      GstMessage *msg = gst_bus_pop_filtered (bus, (GstMessageType) (GST_MESSAGE_ERROR |
              GST_MESSAGE_EOS));
      if (msg) {
        if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
          gchar *debug = nullptr;
          gst_message_parse_error (msg, &err, &debug);
          *error = std::string ("cannot decode it: ") + err->message;
          if (debug && strstr (debug, "not-negotiated")) {
            *error += " (no conversion of its decoded format to RGB)";
            if (not_negotiated)
              *not_negotiated = true;
          }
          g_clear_error (&err);
          g_free (debug);
        }
        gst_message_unref (msg);
        break;
      }
      if (g_get_monotonic_time () > deadline) {
        *error = "decoding took too long";
        break;
      }
    }
  }
  if (!ok) {
    /* The first error on the bus names the cause best. */
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (msg) {
      gst_message_parse_error (msg, &err, nullptr);
      *error = std::string ("cannot decode it: ") + err->message;
      g_clear_error (&err);
      gst_message_unref (msg);
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  if (ok)
    error->clear ();
  return ok;
}

/* JPEG goes to jpegdec's own planes, which jpeg_i420_to_rgb() finishes as
 * libjpeg would (videoconvert's chroma upsampling differs from libjpeg's);
 * everything else, and a JPEG in a format that path does not take (CMYK,
 * ...), through decodebin and videoconvert. A truncated or corrupt JPEG is
 * an error, as for PIL ("image file is truncated"): decodebin would hand
 * jpegdec the partial data, which it fills with gray. */
bool
decode_image (const std::string & path, const std::string & type, Picture * out,
    std::string * error)
{
  if (type == "image/jpeg") {
    bool not_negotiated = false;
    if (decode_with ("filesrc name=src ! jpegparse ! jpegdec idct-method=islow ! "
            "video/x-raw,format={I420,GRAY8,RGB} ! appsink name=sink sync=false max-buffers=1",
            path, out, error, &not_negotiated))
      return true;
    if (!not_negotiated)
      return false;
  }
  return decode_with ("filesrc name=src ! queue ! decodebin ! videoconvert ! "
      "video/x-raw,format={RGB,RGBA,GRAY8} ! appsink name=sink sync=false max-buffers=1", path,
      out, error);
}

/* The seed tool's --target-size: tf.image.resize's default, bilinear with
 * half-pixel centres and no antialiasing (clamped at the edges), computed in
 * float as TensorFlow does; rounded to 8 bits (half up) for musiqscore. */
Picture
resize_bilinear (const Picture & in, int out_w, int out_h)
{
  Picture out;
  out.width = out_w;
  out.height = out_h;
  out.rgb.resize ((size_t) out_w * out_h * 3);
  const float sx = (float) in.width / out_w, sy = (float) in.height / out_h;
  struct Tap
  {
    int lo, hi;
    float t;
  };
  auto taps =[](int n_out, int n_in, float scale) {
    std::vector<Tap> v (n_out);
    for (int i = 0; i < n_out; ++i) {
      const float pos = ((float) i + 0.5f) * scale - 0.5f;
      const float fl = std::floor (pos);
      v[i].lo = std::max ((int) fl, 0);
      v[i].hi = std::min ((int) std::ceil (pos), n_in - 1);
      v[i].lo = std::min (v[i].lo, n_in - 1);
      v[i].hi = std::max (v[i].hi, 0);
      v[i].t = pos - fl;
    }
    return v;
  };
  const std::vector<Tap> xs = taps (out_w, in.width, sx), ys = taps (out_h, in.height, sy);
  const guint8 *p = in.rgb.data ();
  const size_t row = (size_t) in.width * 3;
  for (int y = 0; y < out_h; ++y) {
    const Tap & ty = ys[y];
    for (int x = 0; x < out_w; ++x) {
      const Tap & tx = xs[x];
      for (int c = 0; c < 3; ++c) {
        const float tl = p[ty.lo * row + tx.lo * 3 + c], tr = p[ty.lo * row + tx.hi * 3 + c];
        const float bl = p[ty.hi * row + tx.lo * 3 + c], br = p[ty.hi * row + tx.hi * 3 + c];
        const float top = tl + (tr - tl) * tx.t, bottom = bl + (br - bl) * tx.t;
        const float v = top + (bottom - top) * ty.t;
        out.rgb[((size_t) y * out_w + x) * 3 + c] =
            (guint8) std::min (255.0f, std::max (0.0f, std::floor (v + 0.5f)));
      }
    }
  }
  return out;
}

/* ------------------------------------------------------------------------ */
/* Element properties from text (as the video mode checks them)            */
/* ------------------------------------------------------------------------ */

bool
set_property_text (GstElement * element, const char *prop, const char *text, const char *option,
    std::string * error)
{
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (element), prop);
  if (!ps) {
    *error = std::string ("--") + option + ": musiqscore has no property '" + prop + "'";
    return false;
  }
  GValue v = G_VALUE_INIT;
  g_value_init (&v, ps->value_type);
  bool ok = *text && gst_value_deserialize (&v, text) && !g_param_value_validate (ps, &v);
  if (ok) {
    g_object_set_property (G_OBJECT (element), prop, &v);
  } else {
    std::string expected;
    if (G_IS_PARAM_SPEC_ENUM (ps)) {
      GEnumClass *ec = G_PARAM_SPEC_ENUM (ps)->enum_class;
      for (guint i = 0; i < ec->n_values; ++i)
        expected += (i ? ", " : "one of ") + std::string (ec->values[i].value_nick);
    } else if (G_IS_PARAM_SPEC_UINT (ps)) {
      expected = "an integer from " + std::to_string (G_PARAM_SPEC_UINT (ps)->minimum) + " to " +
          std::to_string (G_PARAM_SPEC_UINT (ps)->maximum);
    } else if (G_IS_PARAM_SPEC_INT (ps)) {
      expected = "an integer from " + std::to_string (G_PARAM_SPEC_INT (ps)->minimum) + " to " +
          std::to_string (G_PARAM_SPEC_INT (ps)->maximum);
    } else {
      expected = std::string ("a ") + g_type_name (ps->value_type);
    }
    *error = std::string ("invalid --") + option + " '" + text + "': expected " + expected;
  }
  g_value_unset (&v);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Scoring: appsrc ! musiqscore ! fakesink                                  */
/* ------------------------------------------------------------------------ */

struct Result
{
  bool known = false;
  double score = kNaN;
  std::string variant;
  std::string error;
};

struct Scorer
{
  GstElement *pipeline = nullptr;
  GstElement *src = nullptr;
  GstElement *musiq = nullptr;
  GstBus *bus = nullptr;
  bool on_gpu = false;
  bool eos = false;
  std::string fatal;            /* a pipeline error: nothing more is scored */
  std::map<guint64, Result> results;    /* by the PTS we gave the frame */
  GstCaps *caps = nullptr;      /* of the frames pushed last */

  ~Scorer ()
  {
    if (pipeline)
      gst_element_set_state (pipeline, GST_STATE_NULL);
    if (caps)
      gst_caps_unref (caps);
    if (bus)
      gst_object_unref (bus);
    if (src)
      gst_object_unref (src);
    if (musiq)
      gst_object_unref (musiq);
    if (pipeline)
      gst_object_unref (pipeline);
  }
};

std::string
error_text (GstMessage * msg)
{
  GError *err = nullptr;
  gchar *debug = nullptr;
  gst_message_parse_error (msg, &err, &debug);
  GstObject *src = GST_MESSAGE_SRC (msg);
  GstElementFactory *f = src && GST_IS_ELEMENT (src) ? gst_element_get_factory (GST_ELEMENT
      (src)) : nullptr;
  std::string text = std::string (f ? GST_OBJECT_NAME (f) : "pipeline") + ": " + err->message;
  /* musiqscore's debug text ends with the advice (after the code location). */
  if (debug && *debug && f && strcmp (GST_OBJECT_NAME (f), "musiqscore") == 0) {
    const char *advice = strrchr (debug, '\n');
    text += std::string (" (") + (advice ? advice + 1 : debug) + ")";
  }
  g_clear_error (&err);
  g_free (debug);
  return text;
}

void
handle_message (Scorer * s, GstMessage * msg)
{
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *st = gst_message_get_structure (msg);
      if (GST_MESSAGE_SRC (msg) != GST_OBJECT (s->musiq) || !gst_structure_has_name (st,
              "musiqscore"))
        break;
      guint64 pts = GST_CLOCK_TIME_NONE;
      gst_structure_get_uint64 (st, "timestamp", &pts);
      Result & r = s->results[pts];
      r.known = true;
      gst_structure_get_double (st, "score", &r.score);
      const gchar *model = gst_structure_get_string (st, "model");
      const gchar *status = gst_structure_get_string (st, "status");
      const gchar *reason = gst_structure_get_string (st, "reason");
      r.variant = model ? model : "";
      if (!status || strcmp (status, "ok") != 0 || std::isnan (r.score))
        r.error = std::string ("not scored: ") + (reason ? reason : status ? status : "?");
      break;
    }
    case GST_MESSAGE_ERROR:
      if (s->fatal.empty ())
        s->fatal = error_text (msg);
      break;
    case GST_MESSAGE_EOS:
      s->eos = true;
      break;
    default:
      break;
  }
}

/* Reads the messages posted so far (timeout 0) or until `until` is true. */
template < typename Pred > void
pump (Scorer * s, GstClockTime timeout, Pred until)
{
  const GstMessageType types = (GstMessageType) (GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR |
      GST_MESSAGE_EOS);
  for (;;) {
    if (until ())
      return;
    GstMessage *msg = gst_bus_timed_pop_filtered (s->bus, timeout, types);
    if (!msg)
      return;
    handle_message (s, msg);
    gst_message_unref (msg);
    if (!s->fatal.empty ())
      return;
  }
}

void
pump_now (Scorer * s)
{
  pump (s, 0,[]() {
        return false;
      });
}

/* Whether musiqscore can use a CUDA device: a second, unlinked musiqscore
 * with device=cuda starts (READY->PAUSED) or fails. Only asked with
 * --device cpu; otherwise the scoring element's own start tells. */
bool
probe_gpu (const SharedOptions & opt, const char *model)
{
  GstElement *probe = gst_element_factory_make ("musiqscore", nullptr);
  if (!probe)
    return false;
  gst_util_set_object_arg (G_OBJECT (probe), "device", "cuda");
  if (opt.cuda_device_id)
    gst_util_set_object_arg (G_OBJECT (probe), "cuda-device-id", opt.cuda_device_id);
  if (model)
    g_object_set (probe, "model", model, NULL);
  const bool ok = gst_element_set_state (probe, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE;
  gst_element_set_state (probe, GST_STATE_NULL);
  gst_object_unref (probe);
  return ok;
}

/* Builds and starts the pipeline; false with a usage error (*usage) or a
 * failure to start (the element's error: model missing, no CUDA, ...). */
bool
start_scorer (Scorer * s, const SharedOptions & opt, const char *model, bool *usage,
    std::string * error)
{
  *usage = false;
  GError *err = nullptr;
  s->pipeline = gst_parse_launch ("appsrc name=src format=time ! musiqscore name=musiq ! "
      "fakesink sync=false async=false", &err);
  if (!s->pipeline) {
    *error = std::string ("cannot build the scoring pipeline: ") + (err ? err->message : "?");
    g_clear_error (&err);
    return false;
  }
  g_clear_error (&err);
  s->src = gst_bin_get_by_name (GST_BIN (s->pipeline), "src");
  s->musiq = gst_bin_get_by_name (GST_BIN (s->pipeline), "musiq");
  s->bus = gst_element_get_bus (s->pipeline);
  /* No blocking push: push_picture() waits for room itself, reading the
   * bus meanwhile, so a pipeline error cannot leave it stuck. */
  g_object_set (s->src, "block", FALSE, "max-bytes", (guint64) 0, NULL);

  const struct
  {
    const char *option, *prop;
    const gchar *value;
  } props[] = {
    {"device", "device", opt.device},
    {"cuda-device-id", "cuda-device-id", opt.cuda_device_id},
    {"batch-size", "batch-size", opt.batch_size},
    {"precision", "precision", opt.precision},
  };
  for (const auto & p : props)
    if (p.value && !set_property_text (s->musiq, p.prop, p.value, p.option, error)) {
      *usage = true;
      return false;
    }
  if (model)
    g_object_set (s->musiq, "model", model, NULL);

  if (gst_element_set_state (s->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    GstMessage *msg = gst_bus_pop_filtered (s->bus, GST_MESSAGE_ERROR);
    *error = msg ? error_text (msg) : "could not start musiqscore";
    if (msg)
      gst_message_unref (msg);
    return false;
  }
  /* device=auto without a usable GPU: musiqscore's one RESOURCE/NOT_FOUND
   * WARNING at start (docs/interface.md), and the CPU. */
  GEnumValue *ev = nullptr;
  {
    gint d = 0;
    g_object_get (s->musiq, "device", &d, NULL);
    GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (s->musiq), "device");
    ev = g_enum_get_value (G_PARAM_SPEC_ENUM (ps)->enum_class, d);
  }
  const std::string nick = ev ? ev->value_nick : "auto";
  s->on_gpu = nick != "cpu";
  while (GstMessage * msg = gst_bus_pop_filtered (s->bus, GST_MESSAGE_WARNING)) {
    GError *w = nullptr;
    gst_message_parse_warning (msg, &w, nullptr);
    if (GST_MESSAGE_SRC (msg) == GST_OBJECT (s->musiq)
        && g_error_matches (w, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND))
      s->on_gpu = false;
    else if (GST_MESSAGE_SRC (msg) == GST_OBJECT (s->musiq)
        && g_error_matches (w, GST_CORE_ERROR, GST_CORE_ERROR_CLOCK)) {
      /* "Unknown batching latency": stills have no frame rate, but a held
       * batch never waits here, a caps change or EOS releases it. */
    }
    else if (!opt.quiet)
      fprintf (stderr, "%s: warning: %s\n", kProgram, w->message);
    g_clear_error (&w);
    gst_message_unref (msg);
  }
  return true;
}

GstClockTime
pts_of (size_t index)
{
  return (GstClockTime) index * GST_MSECOND;
}

void
push_picture (Scorer * s, size_t index, const Picture & pic)
{
  /* Back-pressure: at most kQueuedBytes of frames queued in appsrc. */
  for (;;) {
    guint64 queued = 0;
    g_object_get (s->src, "current-level-bytes", &queued, NULL);
    if (queued < kQueuedBytes || !s->fatal.empty ())
      break;
    pump (s, 10 * GST_MSECOND,[]() {
          return false;
        });
  }
  if (!s->fatal.empty ())
    return;
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, pic.width, pic.height);
  GST_VIDEO_INFO_FPS_N (&info) = 0;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  GstBuffer *buf = gst_buffer_new_allocate (nullptr, GST_VIDEO_INFO_SIZE (&info), nullptr);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  const int stride = GST_VIDEO_INFO_PLANE_STRIDE (&info, 0);
  for (int y = 0; y < pic.height; ++y)
    memcpy (map.data + (size_t) y * stride, pic.rgb.data () + (size_t) y * pic.width * 3,
        (size_t) pic.width * 3);
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = pts_of (index);
  GST_BUFFER_DURATION (buf) = GST_MSECOND;

  GstCaps *caps = gst_video_info_to_caps (&info);
  if (!s->caps || !gst_caps_is_equal (caps, s->caps)) {
    gst_app_src_set_caps (GST_APP_SRC (s->src), caps);
    gst_caps_replace (&s->caps, caps);
  }
  gst_caps_unref (caps);
  gst_app_src_push_buffer (GST_APP_SRC (s->src), buf);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
std::string
json_string (const std::string & text)
{
  gchar *valid = g_utf8_make_valid (text.c_str (), text.size ());
  std::string out = "\"";
  for (const char *p = valid; *p; ++p) {
    const unsigned char c = (unsigned char) *p;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += (char) c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      g_snprintf (buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += (char) c;
    }
  }
  g_free (valid);
  return out + "\"";
}

/* The shortest decimal that reads back to `v`, with ".0" on whole numbers,
 * as Python's json writes floats. */
std::string
python_float (double v)
{
  char buf[40];
  for (int digits = 1; digits <= 17; ++digits) {
    g_snprintf (buf, sizeof buf, "%.*g", digits, v);
    if (g_ascii_strtod (buf, nullptr) == v)
      break;
  }
  std::string s (buf);
  if (s.find_first_of (".eE") == std::string::npos)
    s += ".0";
  return s;
}

std::string
csv_field (const std::string & text)
{
  if (text.find_first_of (",\"\n\r") == std::string::npos)
    return text;
  std::string out = "\"";
  for (char c : text)
    out += c == '"' ? std::string ("\"\"") : std::string (1, c);
  return out + "\"";
}

struct Line
{
  std::string path;
  std::string error;            /* empty: scored */
  double score = kNaN;
  std::string model;
};

struct Output
{
  bool gpu = false;
  bool gpu_available = false;
  FILE *stdout_json = nullptr;  /* JSON lines to stdout (not with --csv -) */
  std::vector<std::string> json_lines;
  std::vector<std::string> csv_rows;
};

void
emit (Output * out, const Line & l)
{
  std::string json = "{\"path\": " + json_string (l.path);
  std::string csv = csv_field (l.path) + ",";
  if (l.error.empty ()) {
    json += ", \"score\": " + python_float (l.score) + ", \"model\": " + json_string (l.model) +
        ", \"device\": " + (out->gpu ? "\"GPU\"" : "\"CPU\"") + ", \"gpu_available\": " +
        (out->gpu_available ? "true" : "false") + "}";
    csv += python_float (l.score) + "," + csv_field (l.model) + "," + (out->gpu ? "GPU" : "CPU") +
        "," + (out->gpu_available ? "true" : "false") + ",";
  } else {
    json += ", \"error\": " + json_string (l.error) + "}";
    csv += ",,,," + csv_field (l.error);
  }
  if (out->stdout_json) {
    fprintf (out->stdout_json, "%s\n", json.c_str ());
    fflush (out->stdout_json);
  }
  out->json_lines.push_back (json);
  out->csv_rows.push_back (csv);
}

bool
write_lines (const std::string & path, const std::string & header,
    const std::vector<std::string> &lines, std::string * error)
{
  std::string text = header.empty ()? "" : header + "\n";
  for (const std::string & l : lines)
    text += l + "\n";
  if (path == "-") {
    fwrite (text.data (), 1, text.size (), stdout);
    fflush (stdout);
    return true;
  }
  const std::string part = path + ".part";
  GError *err = nullptr;
  if (!g_file_set_contents (part.c_str (), text.data (), text.size (), &err)
      || g_rename (part.c_str (), path.c_str ()) != 0) {
    *error = path + ": cannot write it: " + (err ? err->message : g_strerror (errno));
    g_clear_error (&err);
    g_unlink (part.c_str ());
    return false;
  }
  return true;
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */
/* ------------------------------------------------------------------------ */

bool
parse_target_size (const char *text, int *w, int *h)
{
  char extra = 0;
  return sscanf (text, "%dx%d%c", w, h, &extra) == 2 && *w >= 1 && *h >= 1 && *w <= 16384
      && *h <= 16384;
}

/* --benchmark: the first image, warm-up excluded, `runs` times alone
 * (batch-size 1). The clock is read before the push and after the image's
 * message: musiqscore posts it once the score is on the host, which waits
 * for the device. */
bool
run_benchmark (Scorer * s, const Picture & pic, int runs, const Output & out, std::string * json)
{
  guint batch = 1;
  g_object_get (s->musiq, "batch-size", &batch, NULL);
  g_object_set (s->musiq, "batch-size", 1u, NULL);
  std::vector<double> ms;
  /* Frames pushed here get PTS from the top of the range, never an image's. */
  const size_t base = (size_t) 1 << 40;
  for (int i = 0; i <= runs; ++i) {
    const GstClockTime pts = pts_of (base + i);
    const gint64 t0 = g_get_monotonic_time ();
    push_picture (s, base + i, pic);
    pump (s, GST_CLOCK_TIME_NONE,[&]() {
          auto it = s->results.find (pts);
          return it != s->results.end () && it->second.known;
        });
    const gint64 t1 = g_get_monotonic_time ();
    if (!s->fatal.empty ())
      return false;
    s->results.erase (pts);
    if (i > 0)                  /* run 0 warms up */
      ms.push_back ((t1 - t0) / 1000.0);
  }
  g_object_set (s->musiq, "batch-size", batch, NULL);
  double mean = 0, var = 0;
  for (double v : ms)
    mean += v;
  mean /= ms.size ();
  for (double v : ms)
    var += (v - mean) * (v - mean);
  const double sd = std::sqrt (var / ms.size ());      /* NumPy's np.std */
  const int id = 0;
  char device[32];
  g_snprintf (device, sizeof device, "/%s:%d", out.gpu ? "GPU" : "CPU", id);
  *json = std::string ("{\"device\": ") + json_string (device) + ", \"gpu_available\": " +
      (out.gpu_available ? "true" : "false") + ", \"average_time_ms\": " + python_float (mean) +
      ", \"std_time_ms\": " + python_float (sd) + ", \"runs\": " + std::to_string (runs) + "}";
  return true;
}

int
run_images (const SharedOptions & opt, const std::string & model)
{
  if (opt.json || opt.plot)
    return usage_error (std::string (opt.json ? "--json" : "--plot") +
        " is for videos; still images give one JSON line each (and --csv, --jsonl)");
  int tw = 0, th = 0;
  if (iopt.target_size && !parse_target_size (iopt.target_size, &tw, &th))
    return usage_error (std::string ("invalid --target-size '") + iopt.target_size +
        "': expected two sizes, W H (1 to 16384)");
  if (iopt.runs < 1 || iopt.runs > 100000)
    return usage_error ("--runs must be from 1 to 100000");
  const bool csv_stdout = opt.csv && strcmp (opt.csv, "-") == 0;
  if (csv_stdout && opt.jsonl && strcmp (opt.jsonl, "-") == 0)
    return usage_error ("only one output can go to stdout (-)");
  std::string error;
  for (const gchar *path : { opt.csv, opt.jsonl })
    if (path && !check_writable (path, &error)) {
      print_error (error);
      return kExitOutput;
    }

  GstElementFactory *f = gst_element_factory_find ("musiqscore");
  if (!f) {
    print_error ("musiqscore element not available in this build");
    return kExitFailed;
  }
  gst_object_unref (f);

  Scorer scorer;
  bool usage = false;
  if (!start_scorer (&scorer, opt, model.empty ()? nullptr : model.c_str (), &usage, &error)) {
    if (usage)
      return usage_error (error);
    print_error (error);
    return kExitFailed;
  }
  Output out;
  out.gpu = scorer.on_gpu;
  out.gpu_available = scorer.on_gpu || (opt.device && strcmp (opt.device, "cpu") == 0
      && probe_gpu (opt, model.empty ()? nullptr : model.c_str ()));
  out.stdout_json = csv_stdout ? nullptr : stdout;
  if (opt.verbose)
    fprintf (stderr, "%s: MUSIQ on the %s%s\n", kProgram, out.gpu ? "GPU" : "CPU",
        out.gpu_available && !out.gpu ? " (a GPU is available)" : "");

  const std::vector<Input> inputs = expand_inputs (opt.inputs);
  std::vector<Line> lines;
  std::vector<bool> pending;    /* pushed, result not in yet */
  size_t printed = 0;
  std::map<std::pair<int, int>, std::vector<std::pair<size_t, Picture>>> pools;
  size_t pooled = 0;
  guint batch = 8;
  g_object_get (scorer.musiq, "batch-size", &batch, NULL);
  bool benchmarked = !iopt.benchmark;

  auto settle =[&]() {
    for (size_t i = printed; i < lines.size (); ++i) {
      if (!pending[i])
        continue;
      auto it = scorer.results.find (pts_of (i));
      if (it != scorer.results.end () && it->second.known) {
        pending[i] = false;
        lines[i].error = it->second.error;
        lines[i].score = it->second.score;
        lines[i].model = seed_model_name (it->second.variant);
        scorer.results.erase (it);
      } else if (!scorer.fatal.empty () || scorer.eos) {
        pending[i] = false;
        lines[i].error = scorer.fatal.empty ()? "not scored" : scorer.fatal;
      }
    }
    /* In input order, as soon as the lines before are known. */
    while (printed < lines.size () && !pending[printed])
      emit (&out, lines[printed++]);
  };
  auto push_pool =[&](std::pair<int, int> key) {
    for (auto & entry : pools[key]) {
      if (scorer.fatal.empty ())
        push_picture (&scorer, entry.first, entry.second);
      pooled -= entry.second.rgb.size ();
    }
    pools.erase (key);
  };

  size_t images = 0;
  for (const Input & in : inputs) {
    std::string type;
    Line line;
    line.path = in.path;
    if (!g_file_test (in.path.c_str (), G_FILE_TEST_EXISTS)) {
      line.error = "no such file";
    } else if (!typefind_file (in.path, &type, &line.error)) {
      /* unreadable or empty */
    } else if (!is_image_type (type)) {
      if (in.listed) {
        if (opt.verbose)
          fprintf (stderr, "%s: %s: skipped, not an image (%s)\n", kProgram, in.path.c_str (),
              type.empty ()? "unknown type" : type.c_str ());
        continue;
      }
      line.error = type.empty ()? "not an image GStreamer recognises" :
          "not a still image (" + type + ")";
    }
    ++images;
    const size_t index = lines.size ();
    Picture pic;
    if (line.error.empty () && decode_image (in.path, type, &pic, &line.error) && tw > 0)
      pic = resize_bilinear (pic, tw, th);
    lines.push_back (line);
    pending.push_back (line.error.empty ());
    if (!line.error.empty ()) {
      settle ();
      continue;
    }
    if (!benchmarked) {
      benchmarked = true;
      std::string json;
      if (run_benchmark (&scorer, pic, iopt.runs, out, &json)) {
        if (out.stdout_json) {
          fprintf (stdout, "%s\n", json.c_str ());
          fflush (stdout);
        }
      }
    }
    const std::pair<int, int> key (pic.width, pic.height);
    pooled += pic.rgb.size ();
    pools[key].emplace_back (index, std::move (pic));
    if (pools[key].size () >= batch)
      push_pool (key);
    while (pooled > kPoolBytes) {
      auto largest = pools.begin ();
      for (auto it = pools.begin (); it != pools.end (); ++it)
        if (it->second.size () * it->first.first * it->first.second >
            largest->second.size () * largest->first.first * largest->first.second)
          largest = it;
      push_pool (largest->first);
    }
    pump_now (&scorer);
    settle ();
  }

  /* The rest, each size's images together, in the order they came. */
  while (!pools.empty ()) {
    auto first = pools.begin ();
    for (auto it = pools.begin (); it != pools.end (); ++it)
      if (it->second.front ().first < first->second.front ().first)
        first = it;
    push_pool (first->first);
  }
  if (scorer.fatal.empty ())
    gst_app_src_end_of_stream (GST_APP_SRC (scorer.src));
  pump (&scorer, GST_CLOCK_TIME_NONE,[&]() {
        return scorer.eos || !scorer.fatal.empty ();
      });
  settle ();

  int rc = kExitOk;
  if (images == 0) {
    print_error ("no still images in the inputs");
    rc = kExitFailed;
  }
  for (const Line & l : lines)
    if (!l.error.empty ())
      rc = kExitFailed;
  if (!scorer.fatal.empty ())
    print_error (scorer.fatal);
  if (opt.csv && !write_lines (opt.csv, "path,score,model,device,gpu_available,error",
          out.csv_rows, &error)) {
    print_error (error);
    rc = rc == kExitOk ? kExitOutput : rc;
  }
  if (opt.jsonl && strcmp (opt.jsonl, "-") != 0
      && !write_lines (opt.jsonl, "", out.json_lines, &error)) {
    print_error (error);
    rc = rc == kExitOk ? kExitOutput : rc;
  }
  return rc;
}

}  // namespace

const GOptionEntry *
image_option_entries ()
{
  return kImageEntries;
}

void
join_target_size_args (int *argc, char ***argv)
{
  static std::vector<std::string> storage;
  static std::vector<char *> joined;
  bool changed = false;
  std::vector<std::string> args;
  for (int i = 0; i < *argc; ++i) {
    const char *a = (*argv)[i];
    if (strcmp (a, "--target-size") == 0 && i + 2 < *argc) {
      char *end1, *end2;
      strtol ((*argv)[i + 1], &end1, 10);
      strtol ((*argv)[i + 2], &end2, 10);
      if (*end1 == '\0' && *end2 == '\0' && end1 != (*argv)[i + 1] && end2 != (*argv)[i + 2]) {
        args.push_back (std::string ("--target-size=") + (*argv)[i + 1] + "x" + (*argv)[i + 2]);
        i += 2;
        changed = true;
        continue;
      }
    }
    args.push_back (a);
  }
  if (!changed)
    return;
  storage = args;
  joined.clear ();
  for (std::string & s : storage)
    joined.push_back (&s[0]);
  joined.push_back (nullptr);
  *argc = (int) storage.size ();
  *argv = joined.data ();
}

bool
handle_image_mode (const SharedOptions & opt, int *rc)
{
  if (iopt.list_models) {
    list_musiq_models (stdout);
    *rc = kExitOk;
    return true;
  }
  std::string model = *opt.musiq_model ? *opt.musiq_model : "";
  if (iopt.model) {
    if (*opt.musiq_model) {
      *rc = usage_error ("give either --model or --musiq-model, not both");
      return true;
    }
    std::string error;
    bool unknown = false;
    if (!resolve_musiq_model (iopt.model, &model, &error, &unknown)) {
      if (unknown)
        *rc = usage_error (error);
      else {
        print_error (error);
        *rc = kExitFailed;
      }
      return true;
    }
    /* The video mode runs musiqscore with it. */
    g_free (*opt.musiq_model);
    *opt.musiq_model = g_strdup (model.c_str ());
    *opt.musiq = TRUE;
  }
  if (wants_image_mode (opt)) {
    *rc = run_images (opt, model);
    return true;
  }
  if (iopt.target_size || iopt.benchmark) {
    *rc = usage_error (std::string (iopt.target_size ? "--target-size" : "--benchmark") +
        " is for still images");
    return true;
  }
  return false;
}

}  // namespace s2sa
