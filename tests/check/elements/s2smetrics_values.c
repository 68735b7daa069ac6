/* s2smetrics: values against the golden reference, padded layouts,
 * passthrough, the EOS summary, and the default / device settings.
 *
 * The reference values (MSE, SSIM with the scikit-image defaults and with
 * the 11x11 Gaussian window) come from tests/reference/make_golden.py, which
 * computes them with NumPy / scikit-image / SciPy only; the frames are read
 * from $S2S_GOLDEN_DIR (cases.txt and the .raw / .gray / .amb files).
 *
 * YUV cases: the reference converts YUV to RGB in float64 and rounds; the
 * element uses 20-bit fixed point, which may round the other way where the
 * real value lies within ~2e-4 of a .5 boundary (make_golden.py docstring).
 * For every YUV pixel the test computes, from the reference formula itself,
 * the set of gray values a conversion within 1e-3 (the reference's
 * AMBIGUITY_MARGIN) may produce, and checks that this agrees with the
 * reference's own ambiguity flags / maps. Cases without ambiguous pixels
 * (all but a few) must give the reference MSE exactly; in the others the
 * MSE must lie inside the exact integer bounds the ambiguous pixels allow,
 * and SSIM gets a tolerance derived from the number of ambiguous pixels.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "s2s-meta.h"
#include "s2s_check.h"

/* ------------------------------------------------------------------------ */
/* Golden cases                                                             */
/* ------------------------------------------------------------------------ */

#define MAX_FRAMES 8
#define MAX_PLANES 3

typedef struct
{
  guint offset, stride, rows;
} GoldenPlane;

typedef struct
{
  guint first, second;
  gdouble mse, ssim7, ssim11;   /* NaN where the reference has null */
} GoldenPair;

typedef struct
{
  gchar *name;
  gchar *format;
  guint width, height;
  gchar *content;
  gchar *colorimetry;           /* NULL for RGB / GRAY */
  gdouble kr, kb;
  gboolean full_range;
  gboolean unambiguous;         /* no YUV pixel near a rounding boundary */
  guint n_frames;
  gsize frame_size;
  guint n_planes;
  GoldenPlane planes[MAX_PLANES];
  gchar *frame_file[MAX_FRAMES];
  gchar *gray_file[MAX_FRAMES];
  gchar *amb_file[MAX_FRAMES];  /* ambiguous-pixel map, or NULL */
  guint n_pairs;
  GoldenPair pairs[MAX_FRAMES];
} GoldenCase;

static GPtrArray *golden_cases;  /* GoldenCase*, read before the tests fork */
static const gchar *golden_dir;

static gdouble
parse_double (const gchar * s)
{
  gchar *end = NULL;
  gdouble v;
  if (g_strcmp0 (s, "nan") == 0)
    return NAN;
  v = g_ascii_strtod (s, &end);
  if (end == s || *end != '\0')
    g_error ("golden: bad number '%s'", s);
  return v;
}

static guint64
parse_uint (const gchar * s)
{
  gchar *end = NULL;
  guint64 v = g_ascii_strtoull (s, &end, 10);
  if (end == s || *end != '\0')
    g_error ("golden: bad integer '%s'", s);
  return v;
}

static gchar *
dash_to_null (const gchar * s)
{
  return g_strcmp0 (s, "-") == 0 ? NULL : g_strdup (s);
}

static void
load_golden (void)
{
  gchar *path, *text = NULL;
  gchar **lines;
  GError *err = NULL;
  GoldenCase *c = NULL;

  golden_dir = g_getenv ("S2S_GOLDEN_DIR");
  if (!golden_dir)
    g_error ("S2S_GOLDEN_DIR is not set (run through meson test)");
  path = g_build_filename (golden_dir, "cases.txt", NULL);
  if (!g_file_get_contents (path, &text, NULL, &err))
    g_error ("cannot read %s: %s", path, err->message);
  g_free (path);

  golden_cases = g_ptr_array_new ();
  lines = g_strsplit (text, "\n", -1);
  for (gchar ** l = lines; *l; ++l) {
    gchar **f;
    guint n;
    if (**l == '\0' || **l == '#')
      continue;
    f = g_strsplit (*l, " ", -1);
    n = g_strv_length (f);
    if (g_str_equal (f[0], "taps")) {
      /* not needed here */
    } else if (g_str_equal (f[0], "case")) {
      /* UNAMBIGUOUS was added later: optional */
      if (n != 12 && n != 13)
        g_error ("golden: bad case line '%s'", *l);
      c = g_new0 (GoldenCase, 1);
      c->name = g_strdup (f[1]);
      c->format = g_strdup (f[2]);
      c->width = parse_uint (f[3]);
      c->height = parse_uint (f[4]);
      c->content = g_strdup (f[5]);
      c->colorimetry = dash_to_null (f[6]);
      c->kr = c->colorimetry ? parse_double (f[7]) : NAN;
      c->kb = c->colorimetry ? parse_double (f[8]) : NAN;
      c->full_range = c->colorimetry ? parse_uint (f[9]) != 0 : FALSE;
      c->n_frames = parse_uint (f[10]);
      c->frame_size = parse_uint (f[11]);
      c->unambiguous = n > 12 ? parse_uint (f[12]) != 0 : FALSE;
      if (c->n_frames > MAX_FRAMES || c->n_frames < 2)
        g_error ("golden: %s has %u frames", c->name, c->n_frames);
    } else if (g_str_equal (f[0], "plane")) {
      guint i = parse_uint (f[1]);
      if (!c || n != 5 || i != c->n_planes || i >= MAX_PLANES)
        g_error ("golden: bad plane line '%s'", *l);
      c->planes[i].offset = parse_uint (f[2]);
      c->planes[i].stride = parse_uint (f[3]);
      c->planes[i].rows = parse_uint (f[4]);
      c->n_planes++;
    } else if (g_str_equal (f[0], "frame")) {
      guint i = parse_uint (f[1]);
      if (!c || (n != 5 && n != 6) || i >= c->n_frames)
        g_error ("golden: bad frame line '%s'", *l);
      c->frame_file[i] = g_strdup (f[2]);
      c->gray_file[i] = g_strdup (f[3]);
      c->amb_file[i] = n > 5 ? dash_to_null (f[5]) : NULL;
    } else if (g_str_equal (f[0], "pair")) {
      GoldenPair *p;
      if (!c || n != 6 || c->n_pairs >= MAX_FRAMES)
        g_error ("golden: bad pair line '%s'", *l);
      p = &c->pairs[c->n_pairs++];
      p->first = parse_uint (f[1]);
      p->second = parse_uint (f[2]);
      p->mse = parse_double (f[3]);
      p->ssim7 = parse_double (f[4]);
      p->ssim11 = parse_double (f[5]);
      if (p->second != p->first + 1 || p->second >= c->n_frames)
        g_error ("golden: %s: pair %u %u is not consecutive", c->name, p->first, p->second);
    } else if (g_str_equal (f[0], "end")) {
      if (!c || c->n_pairs != c->n_frames - 1 || c->n_planes == 0)
        g_error ("golden: incomplete case before '%s'", *l);
      for (guint i = 0; i < c->n_frames; ++i)
        if (!c->frame_file[i] || !c->gray_file[i])
          g_error ("golden: %s: frame %u missing", c->name, i);
      g_ptr_array_add (golden_cases, c);
      c = NULL;
    } else {
      g_error ("golden: unknown line '%s'", *l);
    }
    g_strfreev (f);
  }
  g_strfreev (lines);
  g_free (text);
  if (c || golden_cases->len == 0)
    g_error ("golden: truncated cases.txt");
}

static const GoldenCase *
golden_case (guint i)
{
  fail_unless (golden_cases && i < golden_cases->len);
  return g_ptr_array_index (golden_cases, i);
}

static const GoldenCase *
golden_case_by_name (const gchar * name)
{
  for (guint i = 0; i < golden_cases->len; ++i) {
    const GoldenCase *c = g_ptr_array_index (golden_cases, i);
    if (g_str_equal (c->name, name))
      return c;
  }
  fail ("golden case %s not found", name);
  return NULL;
}

static guint8 *
read_golden_file (const gchar * file, gsize expected_size)
{
  gchar *path = g_build_filename (golden_dir, file, NULL);
  gchar *data = NULL;
  gsize size = 0;
  GError *err = NULL;
  gboolean ok = g_file_get_contents (path, &data, &size, &err);
  fail_unless (ok, "cannot read %s: %s", path, ok ? "" : err->message);
  fail_unless (size == expected_size, "%s: %" G_GSIZE_FORMAT " bytes, expected %"
      G_GSIZE_FORMAT, path, size, expected_size);
  g_free (path);
  return (guint8 *) data;
}

/* The frames of a case (tightly packed planes) and their reference gray. */
typedef struct
{
  const GoldenCase *c;
  guint8 *raw[MAX_FRAMES];
  guint8 *gray[MAX_FRAMES];
  guint8 *amb[MAX_FRAMES];      /* the reference's ambiguous-pixel maps, or NULL */
} CaseData;

static void
case_data_load (CaseData * d, const GoldenCase * c)
{
  memset (d, 0, sizeof (*d));
  d->c = c;
  for (guint i = 0; i < c->n_frames; ++i) {
    d->raw[i] = read_golden_file (c->frame_file[i], c->frame_size);
    d->gray[i] = read_golden_file (c->gray_file[i], (gsize) c->width * c->height);
    if (c->amb_file[i])
      d->amb[i] = read_golden_file (c->amb_file[i], (gsize) c->width * c->height);
  }
}

static void
case_data_clear (CaseData * d)
{
  for (guint i = 0; i < MAX_FRAMES; ++i) {
    g_free (d->raw[i]);
    g_free (d->gray[i]);
    g_free (d->amb[i]);
  }
  memset (d, 0, sizeof (*d));
}

/* ------------------------------------------------------------------------ */
/* Caps and buffers                                                         */
/* ------------------------------------------------------------------------ */

static GstVideoFormat
case_format (const GoldenCase * c)
{
  GstVideoFormat fmt = gst_video_format_from_string (c->format);
  fail_unless (fmt != GST_VIDEO_FORMAT_UNKNOWN, "%s: unknown format %s", c->name, c->format);
  return fmt;
}

/* Video info of a case: GStreamer's default layout and the case's
 * colorimetry, checked against its Kr / Kb / range. */
static void
case_video_info (const GoldenCase * c, GstVideoInfo * info)
{
  const GstVideoFormat fmt = case_format (c);
  fail_unless (gst_video_info_set_format (info, fmt, c->width, c->height));
  GST_VIDEO_INFO_FPS_N (info) = 25;
  GST_VIDEO_INFO_FPS_D (info) = 1;

  if (c->colorimetry) {
    GstVideoColorimetry cm;
    gdouble kr = 0, kb = 0;
    fail_unless (GST_VIDEO_INFO_IS_YUV (info), "%s: colorimetry on a non-YUV format", c->name);
    fail_unless (gst_video_colorimetry_from_string (&cm, c->colorimetry),
        "%s: bad colorimetry %s", c->name, c->colorimetry);
    /* The range and matrix are what the reference used; build them
     * explicitly so the caps say exactly that. */
    cm.range = c->full_range ? GST_VIDEO_COLOR_RANGE_0_255 : GST_VIDEO_COLOR_RANGE_16_235;
    if (c->kr == 0.299 && c->kb == 0.114)
      cm.matrix = GST_VIDEO_COLOR_MATRIX_BT601;
    else if (c->kr == 0.2126 && c->kb == 0.0722)
      cm.matrix = GST_VIDEO_COLOR_MATRIX_BT709;
    else if (c->kr == 0.2627 && c->kb == 0.0593)
      cm.matrix = GST_VIDEO_COLOR_MATRIX_BT2020;
    else
      fail ("%s: no GStreamer matrix for Kr %g Kb %g", c->name, c->kr, c->kb);
    fail_unless (gst_video_color_matrix_get_Kr_Kb (cm.matrix, &kr, &kb));
    fail_unless (kr == c->kr && kb == c->kb, "%s: matrix Kr/Kb mismatch", c->name);
    info->colorimetry = cm;
  } else {
    fail_if (GST_VIDEO_INFO_IS_YUV (info), "%s: YUV case without colorimetry", c->name);
  }

  /* The golden planes must be GStreamer's planes, tightly packed. */
  fail_unless_equals_int (c->n_planes, GST_VIDEO_INFO_N_PLANES (info));
  for (guint p = 0; p < c->n_planes; ++p) {
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    gst_video_format_info_component (info->finfo, p, comp);
    fail_unless (comp[0] >= 0);
    fail_unless_equals_int (c->planes[p].rows, GST_VIDEO_INFO_COMP_HEIGHT (info, comp[0]));
    fail_unless (c->planes[p].stride <= (guint) GST_VIDEO_INFO_PLANE_STRIDE (info, p),
        "%s: plane %u: golden stride %u > GStreamer's %d", c->name, p, c->planes[p].stride,
        GST_VIDEO_INFO_PLANE_STRIDE (info, p));
  }
}

static GstCaps *
case_caps (const GoldenCase * c)
{
  GstVideoInfo info;
  GstCaps *caps;
  case_video_info (c, &info);
  caps = gst_video_info_to_caps (&info);
  fail_unless (caps != NULL);
  if (c->colorimetry) {
    /* The caps carry the colorimetry string the brief asks for. */
    gchar *s = gst_video_colorimetry_to_string (&info.colorimetry);
    fail_unless (s != NULL);
    gst_caps_set_simple (caps, "colorimetry", G_TYPE_STRING, s, NULL);
    g_free (s);
  }
  return caps;
}

typedef enum
{
  LAYOUT_DEFAULT,               /* GStreamer's default offsets / strides, no meta */
  LAYOUT_PADDED,                /* GstVideoMeta: larger strides, odd offsets, sentinel */
} Layout;

/* Fills `size` bytes with a sentinel pattern: 0xAB and pseudo-random bytes. */
static void
fill_sentinel (guint8 * data, gsize size, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < size; ++i)
    data[i] = (i & 1) ? 0xAB : (guint8) g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);
}

static GstBuffer *
make_case_buffer (const GoldenCase * c, const guint8 * raw, Layout layout, guint32 seed)
{
  GstVideoInfo info;
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0, };
  gint stride[GST_VIDEO_MAX_PLANES] = { 0, };
  gsize size;
  GstBuffer *buf;
  GstMapInfo map;

  case_video_info (c, &info);
  if (layout == LAYOUT_DEFAULT) {
    for (guint p = 0; p < c->n_planes; ++p) {
      offset[p] = GST_VIDEO_INFO_PLANE_OFFSET (&info, p);
      stride[p] = GST_VIDEO_INFO_PLANE_STRIDE (&info, p);
    }
    size = GST_VIDEO_INFO_SIZE (&info);
  } else {
    gsize off = 37;
    for (guint p = 0; p < c->n_planes; ++p) {
      offset[p] = off;
      stride[p] = GST_VIDEO_INFO_PLANE_STRIDE (&info, p) + 13 + 8 * p;
      off += (gsize) stride[p] * c->planes[p].rows + 29;
      fail_unless (offset[p] != GST_VIDEO_INFO_PLANE_OFFSET (&info, p));
      fail_unless (stride[p] > GST_VIDEO_INFO_PLANE_STRIDE (&info, p));
    }
    size = off + 31;
  }

  buf = gst_buffer_new_allocate (NULL, size, NULL);
  fail_unless (buf != NULL);
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  if (layout == LAYOUT_DEFAULT)
    memset (map.data, 0, size);
  else
    fill_sentinel (map.data, size, seed);
  for (guint p = 0; p < c->n_planes; ++p) {
    const GoldenPlane *gp = &c->planes[p];
    for (guint r = 0; r < gp->rows; ++r)
      memcpy (map.data + offset[p] + (gsize) r * stride[p], raw + gp->offset + (gsize) r * gp->stride,
          gp->stride);
  }
  gst_buffer_unmap (buf, &map);

  if (layout == LAYOUT_PADDED)
    fail_unless (gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
            GST_VIDEO_INFO_FORMAT (&info), c->width, c->height, c->n_planes, offset,
            stride) != NULL);
  return buf;
}

/* ------------------------------------------------------------------------ */
/* Running the element                                                      */
/* ------------------------------------------------------------------------ */

#define FRAME_DURATION ((GstClockTime) 40 * GST_MSECOND)
#define FIRST_PTS (GST_SECOND)

typedef struct
{
  guint batch_size;
  const gchar *device;          /* NULL: leave the default */
  const gchar *metrics;         /* NULL: leave the default */
  const gchar *window;          /* NULL: leave the default */
  const gchar *lpips_model;     /* NULL: leave the default */
  gboolean set_weights;
  gdouble alpha, beta, gamma;
} RunOpts;

static RunOpts
default_opts (guint batch_size)
{
  RunOpts o = { 0, };
  o.batch_size = batch_size;
  o.device = "cpu";
  o.metrics = "mse+inv-ssim";
  return o;
}

typedef struct
{
  guint n_out;                  /* buffers that came out */
  GstStructure *msg[MAX_FRAMES * 8];    /* per-frame message by frame index */
  GstStructure *meta[MAX_FRAMES * 8];   /* meta of output buffer i, or NULL */
  guint n_msgs;
  GstStructure *summary;
  guint n_warnings;
  guint n_warnings_at_start;    /* of those, posted before the first buffer */
  gchar *warnings;              /* all warning texts, "; " separated */
} RunResult;

static GstElement *
make_element (const RunOpts * o)
{
  GstElement *e = gst_element_factory_make ("s2smetrics", NULL);
  fail_unless (e != NULL, "s2smetrics not found (S2S_PLUGIN_DIR=%s)",
      g_getenv ("S2S_PLUGIN_DIR"));
  /* The golden YUV cases convert by the caps' colorimetry (make_golden.py);
   * the default, service conversion has its own test (tests/service). */
  gst_util_set_object_arg (G_OBJECT (e), "conversion", "colorimetry");
  if (o->device)
    gst_util_set_object_arg (G_OBJECT (e), "device", o->device);
  if (o->metrics)
    gst_util_set_object_arg (G_OBJECT (e), "metrics", o->metrics);
  if (o->window)
    gst_util_set_object_arg (G_OBJECT (e), "ssim-window", o->window);
  if (o->lpips_model)
    g_object_set (e, "lpips-model", o->lpips_model, NULL);
  if (o->batch_size)
    g_object_set (e, "batch-size", o->batch_size, NULL);
  if (o->set_weights)
    g_object_set (e, "alpha", o->alpha, "beta", o->beta, "gamma", o->gamma, NULL);
  return e;
}

/* Takes every element, warning and error message off the bus (popping one
 * type alone would discard the others: gst_bus_pop_filtered drops
 * non-matching messages posted before a matching one). */
static void
drain_bus (GstBus * bus, GstElement * element, guint n, RunResult * r)
{
  GstMessage *m;
  GString *w = g_string_new (r->warnings);

  while ((m = gst_bus_pop_filtered (bus,
              GST_MESSAGE_ELEMENT | GST_MESSAGE_WARNING | GST_MESSAGE_ERROR))) {
    fail_unless (GST_MESSAGE_SRC (m) == GST_OBJECT (element));
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT) {
      const GstStructure *s = gst_message_get_structure (m);
      if (gst_structure_has_name (s, "s2smetrics")) {
        guint64 frame = G_MAXUINT64;
        fail_unless (gst_structure_get_uint64 (s, "frame", &frame));
        fail_unless (frame < n, "message for frame %" G_GUINT64_FORMAT " of %u", frame, n);
        fail_unless (r->msg[frame] == NULL, "two messages for frame %" G_GUINT64_FORMAT, frame);
        fail_unless (r->summary == NULL, "frame message after the summary");
        r->msg[frame] = gst_structure_copy (s);
        r->n_msgs++;
      } else if (gst_structure_has_name (s, "s2smetrics-summary")) {
        fail_unless (r->summary == NULL, "two summaries");
        r->summary = gst_structure_copy (s);
      } else {
        fail ("unexpected element message %" GST_PTR_FORMAT, s);
      }
    } else {
      GError *err = NULL;
      gchar *dbg = NULL;
      if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
        gst_message_parse_error (m, &err, &dbg);
        fail ("unexpected ERROR: %s [%s]", err->message, dbg ? dbg : "");
      }
      gst_message_parse_warning (m, &err, &dbg);
      if (w->len)
        g_string_append (w, "; ");
      g_string_append_printf (w, "%s [%s]", err->message, dbg ? dbg : "");
      r->n_warnings++;
      g_clear_error (&err);
      g_free (dbg);
    }
    gst_message_unref (m);
  }
  g_free (r->warnings);
  r->warnings = g_string_free (w, FALSE);
}

/* Pushes the frames (bufs, taken) through a fresh element, then EOS, and
 * collects what came out. The element messages are sorted by frame index. */
static void
run_buffers (const RunOpts * o, GstCaps * caps, GstBuffer ** bufs, guint n, RunResult * r)
{
  GstElement *e = make_element (o);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstBuffer *out;

  fail_unless (n <= G_N_ELEMENTS (r->meta));
  memset (r, 0, sizeof (*r));
  gst_element_set_bus (e, bus);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps (h, caps);
  drain_bus (bus, h->element, n, r);
  r->n_warnings_at_start = r->n_warnings;

  for (guint i = 0; i < n; ++i)
    fail_unless_equals_int (gst_harness_push (h, bufs[i]), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  while ((out = gst_harness_try_pull (h))) {
    const GstStructure *meta = s2s_buffer_get_metrics (out);
    fail_unless (r->n_out < n, "more buffers out than in");
    r->meta[r->n_out++] = meta ? gst_structure_copy (meta) : NULL;
    gst_buffer_unref (out);
  }
  drain_bus (bus, h->element, n, r);

  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

static void
run_result_clear (RunResult * r)
{
  for (guint i = 0; i < G_N_ELEMENTS (r->msg); ++i) {
    if (r->msg[i])
      gst_structure_free (r->msg[i]);
    if (r->meta[i])
      gst_structure_free (r->meta[i]);
  }
  if (r->summary)
    gst_structure_free (r->summary);
  g_free (r->warnings);
  memset (r, 0, sizeof (*r));
}

/* Runs frames order[0 .. n) of a case (default layout unless `layout`). */
static void
run_case_frames (const CaseData * d, const RunOpts * o, Layout layout, const guint * order,
    guint n, RunResult * r)
{
  GstBuffer *bufs[MAX_FRAMES * 8];
  fail_unless (n <= G_N_ELEMENTS (bufs));
  for (guint i = 0; i < n; ++i) {
    bufs[i] = make_case_buffer (d->c, d->raw[order[i]], layout, 1000 + i);
    GST_BUFFER_PTS (bufs[i]) = FIRST_PTS + i * FRAME_DURATION;
    GST_BUFFER_DTS (bufs[i]) = GST_BUFFER_PTS (bufs[i]);
    GST_BUFFER_DURATION (bufs[i]) = FRAME_DURATION;
  }
  run_buffers (o, case_caps (d->c), bufs, n, r);
}

static void
run_case (const CaseData * d, const RunOpts * o, Layout layout, RunResult * r)
{
  guint order[MAX_FRAMES];
  for (guint i = 0; i < d->c->n_frames; ++i)
    order[i] = i;
  run_case_frames (d, o, layout, order, d->c->n_frames, r);
}

/* ------------------------------------------------------------------------ */
/* Reading results                                                          */
/* ------------------------------------------------------------------------ */

static gdouble
get_double (const GstStructure * s, const gchar * field)
{
  gdouble v = 0;
  fail_unless (gst_structure_get_double (s, field, &v), "no double '%s' in %" GST_PTR_FORMAT,
      field, s);
  return v;
}

static guint64
get_uint64 (const GstStructure * s, const gchar * field)
{
  guint64 v = 0;
  fail_unless (gst_structure_get_uint64 (s, field, &v), "no guint64 '%s' in %" GST_PTR_FORMAT,
      field, s);
  return v;
}

static const gchar *
get_string (const GstStructure * s, const gchar * field)
{
  const gchar *v = gst_structure_get_string (s, field);
  fail_unless (v != NULL, "no string '%s' in %" GST_PTR_FORMAT, field, s);
  return v;
}

static gboolean
same_bits (gdouble a, gdouble b)
{
  return memcmp (&a, &b, sizeof (a)) == 0;
}

/* |a - b| <= rel * max(|a|, |b|) + abs_floor; NaN only matches NaN. */
static gboolean
close_to (gdouble a, gdouble b, gdouble rel, gdouble abs_floor)
{
  if (isnan (a) || isnan (b))
    return isnan (a) && isnan (b);
  if (a == b)
    return TRUE;
  return fabs (a - b) <= rel * fmax (fabs (a), fabs (b)) + abs_floor;
}

static gboolean
strcasestr_bool (const gchar * haystack, const gchar * needle)
{
  gchar *h = g_ascii_strdown (haystack, -1);
  gchar *n = g_ascii_strdown (needle, -1);
  gboolean found = strstr (h, n) != NULL;
  g_free (h);
  g_free (n);
  return found;
}

/* The meta holds exactly the message's fields, doubles bit for bit. */
static void
check_meta_equals_message (const gchar * what, const GstStructure * meta, const GstStructure * msg)
{
  const gint n = gst_structure_n_fields (msg);
  fail_unless (meta != NULL, "%s: buffer has no S2SMetricsMeta", what);
  fail_unless_equals_int (gst_structure_n_fields (meta), n);
  for (gint i = 0; i < n; ++i) {
    const gchar *field = gst_structure_nth_field_name (msg, i);
    const GValue *a = gst_structure_get_value (msg, field);
    const GValue *b = gst_structure_get_value (meta, field);
    fail_unless (b != NULL, "%s: meta lacks field %s", what, field);
    fail_unless (G_VALUE_TYPE (a) == G_VALUE_TYPE (b), "%s: field %s: types differ", what, field);
    if (G_VALUE_TYPE (a) == G_TYPE_DOUBLE)
      fail_unless (same_bits (g_value_get_double (a), g_value_get_double (b)),
          "%s: field %s: message %.17g, meta %.17g", what, field, g_value_get_double (a),
          g_value_get_double (b));
    else
      fail_unless (gst_value_compare (a, b) == GST_VALUE_EQUAL, "%s: field %s differs", what,
          field);
  }
}

/* ------------------------------------------------------------------------ */
/* Gray ambiguity of YUV pixels (see the comment at the top)                */
/* ------------------------------------------------------------------------ */

/* Real values within this distance (in code values) of a .5 boundary may be
 * rounded either way by a fixed-point implementation; the element's error
 * is < 2e-4, this is make_golden.py's AMBIGUITY_MARGIN (it only widens the
 * bounds). */
#define ROUNDING_MARGIN 1e-3

static guint8
ref_gray (gint r, gint g, gint b)
{
  return (guint8) ((3735 * b + 19235 * g + 9798 * r + 16384) >> 15);
}

/* Possible 8-bit values of one channel from its real value v (in 0..1). */
static guint
channel_candidates (gdouble v, gint out[2])
{
  const gdouble t = 255.0 * v + 0.5;
  const gdouble f = floor (t);
  guint n = 0;
  out[n++] = (gint) CLAMP (f, 0, 255);
  if (t - f < ROUNDING_MARGIN)
    out[n++] = (gint) CLAMP (f - 1, 0, 255);
  else if (f + 1 - t < ROUNDING_MARGIN)
    out[n++] = (gint) CLAMP (f + 1, 0, 255);
  if (n == 2 && out[0] == out[1])
    n = 1;
  return n;
}

/* lo/hi: the smallest and largest gray any correct implementation may give
 * for each pixel of a frame. Also checks the reference gray lies inside and
 * equals the float64 rule where that is unambiguous (so the layout read
 * here is the one the reference used). Returns the number of ambiguous
 * pixels. */
static guint
gray_bounds (const GoldenCase * c, const guint8 * raw, const guint8 * gray, const guint8 * amb,
    guint8 * lo, guint8 * hi)
{
  const gsize npix = (gsize) c->width * c->height;
  GstVideoInfo info;
  const GstVideoFormatInfo *fi;
  guint ambiguous = 0;

  case_video_info (c, &info);
  fi = info.finfo;
  if (!GST_VIDEO_FORMAT_INFO_IS_YUV (fi)) {
    memcpy (lo, gray, npix);
    memcpy (hi, gray, npix);
    return 0;
  }

  for (guint y = 0; y < c->height; ++y) {
    for (guint x = 0; x < c->width; ++x) {
      gint val[3];
      for (gint k = 0; k < 3; ++k) {
        const guint p = GST_VIDEO_FORMAT_INFO_PLANE (fi, k);
        const guint sx = GST_VIDEO_FORMAT_INFO_W_SUB (fi, k);
        const guint sy = GST_VIDEO_FORMAT_INFO_H_SUB (fi, k);
        const gsize off = c->planes[p].offset + (gsize) (y >> sy) * c->planes[p].stride +
            (gsize) (x >> sx) * GST_VIDEO_FORMAT_INFO_PSTRIDE (fi, k) +
            GST_VIDEO_FORMAT_INFO_POFFSET (fi, k);
        val[k] = raw[off];
      }
      /* make_golden.py's rgb_from_yuv, same operation order */
      gdouble yn, pb, pr;
      if (c->full_range) {
        yn = val[0] / 255.0;
        pb = (val[1] - 128.0) / 255.0;
        pr = (val[2] - 128.0) / 255.0;
      } else {
        yn = (val[0] - 16.0) / 219.0;
        pb = (val[1] - 128.0) / 224.0;
        pr = (val[2] - 128.0) / 224.0;
      }
      const gdouble kr = c->kr, kb = c->kb, kg = 1.0 - kr - kb;
      const gdouble rv = yn + 2.0 * (1.0 - kr) * pr;
      const gdouble gv = yn - 2.0 * kb * (1.0 - kb) / kg * pb - 2.0 * kr * (1.0 - kr) / kg * pr;
      const gdouble bv = yn + 2.0 * (1.0 - kb) * pb;
      gint rc[2], gc[2], bc[2];
      const guint nr = channel_candidates (rv, rc);
      const guint ng = channel_candidates (gv, gc);
      const guint nb = channel_candidates (bv, bc);
      guint8 l = 255, u = 0;
      for (guint i = 0; i < nr; ++i)
        for (guint j = 0; j < ng; ++j)
          for (guint k = 0; k < nb; ++k) {
            const guint8 v = ref_gray (rc[i], gc[j], bc[k]);
            l = MIN (l, v);
            u = MAX (u, v);
          }
      const gsize idx = (gsize) y * c->width + x;
      const gboolean channel_amb = nr > 1 || ng > 1 || nb > 1;
      /* Same definition as the reference's: none in an unambiguous case,
       * and exactly the pixels its map marks otherwise. */
      /* (plain ifs: every Check assertion costs a write to the parent) */
      if (c->unambiguous && channel_amb)
        fail ("%s: pixel (%u,%u) is near a rounding boundary in an unambiguous case", c->name,
            x, y);
      if (amb && (amb[idx] != 0) != channel_amb)
        fail ("%s: pixel (%u,%u): reference says ambiguous=%u, test computes %d", c->name, x, y,
            amb[idx], channel_amb);
      if (gray[idx] < l || gray[idx] > u)
        fail ("%s: reference gray %u at (%u,%u) outside [%u,%u]: test reads the frame wrong",
            c->name, gray[idx], x, y, l, u);
      lo[idx] = l;
      hi[idx] = u;
      if (l != u)
        ambiguous++;
    }
  }
  return ambiguous;
}

/* What a pair's values may be, from the reference. */
typedef struct
{
  gdouble mse;                  /* reference MSE */
  gboolean mse_exact;           /* no ambiguous pixel: MSE must be == mse */
  gdouble mse_lo, mse_hi;       /* else bounds (exact integer sums / N) */
  gdouble ssim7, ssim11;        /* reference SSIM, NaN where undefined */
  gdouble ssim7_tol, ssim11_tol;        /* extra absolute tolerance from ambiguity */
  guint ambiguous;
} PairExpect;

typedef struct
{
  PairExpect pair[MAX_FRAMES];  /* pair[t] compares frames t-1, t */
} CaseExpect;

/* Largest change of one SSIM window's value when one of its pixels moves by
 * one code value, with a safety factor (analytic worst case ~0.02). */
#define SSIM_WINDOW_SENSITIVITY 0.05

static void
case_expect (const CaseData * d, CaseExpect * e)
{
  const GoldenCase *c = d->c;
  const gsize npix = (gsize) c->width * c->height;
  guint8 *lo[MAX_FRAMES], *hi[MAX_FRAMES];
  guint amb[MAX_FRAMES];

  memset (e, 0, sizeof (*e));
  for (guint t = 0; t < c->n_frames; ++t) {
    lo[t] = g_malloc (npix);
    hi[t] = g_malloc (npix);
    amb[t] = gray_bounds (c, d->raw[t], d->gray[t], d->amb[t], lo[t], hi[t]);
  }
  for (guint k = 0; k < c->n_pairs; ++k) {
    const GoldenPair *gp = &c->pairs[k];
    PairExpect *p = &e->pair[gp->second];
    const guint8 *alo = lo[gp->first], *ahi = hi[gp->first];
    const guint8 *blo = lo[gp->second], *bhi = hi[gp->second];
    guint64 s_lo = 0, s_hi = 0, s_ref = 0;
    for (gsize i = 0; i < npix; ++i) {
      const gint dmin = MAX (0, MAX ((gint) alo[i] - bhi[i], (gint) blo[i] - ahi[i]));
      const gint dmax = MAX (ABS ((gint) ahi[i] - blo[i]), ABS ((gint) bhi[i] - alo[i]));
      const gint dref = (gint) d->gray[gp->first][i] - d->gray[gp->second][i];
      s_lo += (guint64) (dmin * dmin);
      s_hi += (guint64) (dmax * dmax);
      s_ref += (guint64) (dref * dref);
    }
    p->mse = gp->mse;
    p->ssim7 = gp->ssim7;
    p->ssim11 = gp->ssim11;
    p->mse_lo = (gdouble) s_lo / (gdouble) npix;
    p->mse_hi = (gdouble) s_hi / (gdouble) npix;
    p->mse_exact = s_lo == s_hi;
    /* Self-check: the reference MSE is the exact mean of its gray frames. */
    fail_unless (gp->mse == (gdouble) s_ref / (gdouble) npix,
        "%s: golden mse %.17g != mean of its gray frames %.17g", c->name, gp->mse,
        (gdouble) s_ref / (gdouble) npix);
    p->ambiguous = amb[gp->first] + amb[gp->second];
    if (p->ambiguous) {
      const gdouble n7 = (gdouble) (c->width - 6) * (c->height - 6);
      const gdouble n11 = (gdouble) (c->width - 10) * (c->height - 10);
      if (!isnan (gp->ssim7))
        p->ssim7_tol = p->ambiguous * 49 * SSIM_WINDOW_SENSITIVITY / n7;
      if (!isnan (gp->ssim11))
        p->ssim11_tol = p->ambiguous * 121 * SSIM_WINDOW_SENSITIVITY / n11;
    }
  }
  for (guint t = 0; t < c->n_frames; ++t) {
    g_free (lo[t]);
    g_free (hi[t]);
  }
}

/* ------------------------------------------------------------------------ */
/* Checking one run against the reference                                   */
/* ------------------------------------------------------------------------ */

#define INV_SSIM_REL 1e-9
#define INV_SSIM_ABS 1e-15     /* a few ulp of 1.0: inv-ssim = 1 - ssim */
#define WEIGHTED_REL 1e-12

static void
check_run_against_golden (const CaseData * d, const CaseExpect * e, const RunOpts * o,
    const RunResult * r, gboolean gaussian, const gchar * label)
{
  const GoldenCase *c = d->c;
  const gdouble alpha = o->set_weights ? o->alpha : 0.5;
  const gdouble beta = o->set_weights ? o->beta : 0.3;

  fail_unless_equals_int (r->n_out, c->n_frames);
  fail_unless (r->msg[0] == NULL, "%s %s: message for the first frame", c->name, label);
  fail_unless (r->meta[0] == NULL, "%s %s: meta on the first frame", c->name, label);
  fail_unless_equals_int (r->n_msgs, c->n_frames - 1);

  for (guint t = 1; t < c->n_frames; ++t) {
    const GstStructure *m = r->msg[t];
    const PairExpect *p = &e->pair[t];
    const gdouble ref_ssim = gaussian ? p->ssim11 : p->ssim7;
    const gdouble ssim_tol = gaussian ? p->ssim11_tol : p->ssim7_tol;
    const GstClockTime pts = FIRST_PTS + t * FRAME_DURATION;
    gdouble mse, inv, lpips, weighted, expect_w, w_tol;
    const gchar *status;

    fail_unless (m != NULL, "%s %s: no message for frame %u", c->name, label, t);
    fail_unless_equals_uint64 (get_uint64 (m, "frame"), t);
    fail_unless_equals_uint64 (get_uint64 (m, "timestamp"), pts);
    fail_unless_equals_uint64 (get_uint64 (m, "stream-time"), pts);
    fail_unless_equals_uint64 (get_uint64 (m, "running-time"), pts);
    fail_unless_equals_uint64 (get_uint64 (m, "duration"), FRAME_DURATION);

    mse = get_double (m, "mse");
    inv = get_double (m, "inv-ssim");
    lpips = get_double (m, "lpips");
    weighted = get_double (m, "weighted");
    status = get_string (m, "status");

    /* MSE, and PSNR from it: 10 log10 (255^2 / NumPy's MSE), inf at 0 */
    if (p->mse_exact) {
      fail_unless (mse == p->mse, "%s %s frame %u: mse %.17g != reference %.17g", c->name,
          label, t, mse, p->mse);
      const gdouble psnr = get_double (m, "psnr");
      const gdouble ref_psnr = p->mse == 0 ? INFINITY : 10 * log10 (65025.0 / p->mse);
      fail_unless (isinf (ref_psnr) ? psnr == ref_psnr : fabs (psnr - ref_psnr) <= 1e-12 *
          ref_psnr, "%s %s frame %u: psnr %.17g != %.17g", c->name, label, t, psnr, ref_psnr);
    }
    else
      fail_unless (mse >= p->mse_lo && mse <= p->mse_hi,
          "%s %s frame %u: mse %.17g outside [%.17g, %.17g] (reference %.17g, %u ambiguous "
          "YUV pixels)", c->name, label, t, mse, p->mse_lo, p->mse_hi, p->mse, p->ambiguous);

    /* inverse SSIM */
    if (isnan (ref_ssim)) {
      fail_unless (isnan (inv), "%s %s frame %u: inv-ssim %.17g, reference SSIM undefined",
          c->name, label, t, inv);
      fail_unless_equals_string (status, S2S_STATUS_PARTIAL);
      fail_unless (strcasestr_bool (get_string (m, "reason"), "ssim"),
          "%s %s frame %u: reason '%s' does not mention SSIM", c->name, label, t,
          get_string (m, "reason"));
    } else {
      const gdouble expect_inv = 1.0 - ref_ssim;
      fail_unless (close_to (inv, expect_inv, INV_SSIM_REL, INV_SSIM_ABS + ssim_tol),
          "%s %s frame %u: inv-ssim %.17g, reference 1 - %.17g = %.17g (diff %.3g, "
          "allowed %.3g rel + %.3g)", c->name, label, t, inv, ref_ssim, expect_inv,
          inv - expect_inv, INV_SSIM_REL, INV_SSIM_ABS + ssim_tol);
      fail_unless_equals_string (status, S2S_STATUS_OK);
      fail_if (gst_structure_has_field (m, "reason"), "%s %s frame %u: reason with status ok",
          c->name, label, t);
    }

    fail_unless (isnan (lpips), "%s %s frame %u: lpips %.17g, not computed", c->name, label, t,
        lpips);

    /* weighted, from the reference values in the element's order */
    if (isnan (ref_ssim)) {
      expect_w = alpha * p->mse;
      w_tol = 0;
    } else {
      expect_w = alpha * p->mse + beta * (1.0 - ref_ssim);
      w_tol = fabs (beta) * (ssim_tol + INV_SSIM_REL * fabs (1.0 - ref_ssim) + INV_SSIM_ABS);
    }
    if (!p->mse_exact)
      w_tol += fabs (alpha) * (p->mse_hi - p->mse_lo);
    fail_unless (close_to (weighted, expect_w, WEIGHTED_REL, w_tol),
        "%s %s frame %u: weighted %.17g, expected %g*%.17g + %g*(1-%.17g) = %.17g", c->name,
        label, t, weighted, alpha, p->mse, beta, ref_ssim, expect_w);

    /* The buffer carries the same result. */
    {
      gchar *what = g_strdup_printf ("%s %s frame %u", c->name, label, t);
      check_meta_equals_message (what, r->meta[t], m);
      g_free (what);
    }
  }
}

/* Two runs gave the same results, bit for bit. */
static void
check_runs_identical (const gchar * what, const RunResult * a, const RunResult * b, guint n)
{
  static const gchar *fields[] = { "mse", "psnr", "inv-ssim", "lpips", "weighted" };
  fail_unless_equals_int (a->n_msgs, b->n_msgs);
  for (guint t = 0; t < n; ++t) {
    fail_unless ((a->msg[t] == NULL) == (b->msg[t] == NULL), "%s: frame %u", what, t);
    if (!a->msg[t])
      continue;
    for (guint k = 0; k < G_N_ELEMENTS (fields); ++k) {
      const gdouble x = get_double (a->msg[t], fields[k]);
      const gdouble y = get_double (b->msg[t], fields[k]);
      fail_unless (same_bits (x, y), "%s: frame %u %s: %.17g vs %.17g", what, t, fields[k], x, y);
    }
    fail_unless_equals_string (get_string (a->msg[t], "status"), get_string (b->msg[t], "status"));
  }
}

/* ------------------------------------------------------------------------ */
/* 1. Golden values                                                         */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_golden_values)
{
  const GoldenCase *c = golden_case (__i__);
  CaseData d;
  CaseExpect e;
  RunResult r1, r16, rg;
  RunOpts o1 = default_opts (1), o16 = default_opts (16), og = default_opts (16);
  gboolean too_small7 = FALSE, too_small11 = FALSE;

  case_data_load (&d, c);
  case_expect (&d, &e);

  run_case (&d, &o1, LAYOUT_DEFAULT, &r1);
  check_run_against_golden (&d, &e, &o1, &r1, FALSE, "uniform7 batch-size=1");
  run_case (&d, &o16, LAYOUT_DEFAULT, &r16);
  check_run_against_golden (&d, &e, &o16, &r16, FALSE, "uniform7 batch-size=16");
  check_runs_identical (c->name, &r1, &r16, c->n_frames);

  og.window = "gaussian11";
  run_case (&d, &og, LAYOUT_DEFAULT, &rg);
  check_run_against_golden (&d, &e, &og, &rg, TRUE, "gaussian11 batch-size=16");

  /* Frames smaller than a window: exactly one warning per run about it;
   * otherwise no warning at all (device=cpu, no lpips requested). */
  for (guint k = 0; k < c->n_pairs; ++k) {
    too_small7 |= isnan (c->pairs[k].ssim7);
    too_small11 |= isnan (c->pairs[k].ssim11);
  }
  fail_unless_equals_int (r1.n_warnings, too_small7 ? 1 : 0);
  fail_unless_equals_int (r16.n_warnings, too_small7 ? 1 : 0);
  fail_unless_equals_int (rg.n_warnings, too_small11 ? 1 : 0);
  if (too_small7)
    fail_unless (strcasestr_bool (r1.warnings, "ssim"), "warning: %s", r1.warnings);

  run_result_clear (&r1);
  run_result_clear (&r16);
  run_result_clear (&rg);
  case_data_clear (&d);
}

GST_END_TEST;

/* alpha / beta / gamma change weighted as alpha*mse + beta*inv-ssim. */
GST_START_TEST (test_golden_weights)
{
  static const gchar *cases[] = {
    "gray8_64x65_noise", "rgb_641x359_natural", "i420_7x7_bt601_noise", "bgrx_3x5_gradient",
  };
  static const gdouble weights[][3] = {
    {2.5, -4.0, 1000.0},
    {0.0, 0.0, 0.0},
    {1e-3, 17.0, -3.0},
    {-1.0, 0.0, 0.2},
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); ++i) {
    CaseData d;
    CaseExpect e;
    case_data_load (&d, golden_case_by_name (cases[i]));
    case_expect (&d, &e);
    for (guint w = 0; w < G_N_ELEMENTS (weights); ++w) {
      RunOpts o = default_opts (1 + w * 5);
      RunResult r;
      gchar *label;
      o.set_weights = TRUE;
      o.alpha = weights[w][0];
      o.beta = weights[w][1];
      o.gamma = weights[w][2];
      run_case (&d, &o, LAYOUT_DEFAULT, &r);
      label = g_strdup_printf ("alpha=%g beta=%g gamma=%g", o.alpha, o.beta, o.gamma);
      check_run_against_golden (&d, &e, &o, &r, FALSE, label);
      g_free (label);
      run_result_clear (&r);
    }
    case_data_clear (&d);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 2. Padded strides                                                        */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_padded_strides)
{
  const GoldenCase *c = golden_case (__i__);
  CaseData d;
  CaseExpect e;
  RunResult packed, padded, packed_g, padded_g;
  RunOpts o = default_opts (16), og = default_opts (1);

  case_data_load (&d, c);
  case_expect (&d, &e);

  run_case (&d, &o, LAYOUT_DEFAULT, &packed);
  run_case (&d, &o, LAYOUT_PADDED, &padded);
  check_run_against_golden (&d, &e, &o, &padded, FALSE, "padded uniform7");
  check_runs_identical (c->name, &packed, &padded, c->n_frames);

  og.window = "gaussian11";
  run_case (&d, &og, LAYOUT_DEFAULT, &packed_g);
  run_case (&d, &og, LAYOUT_PADDED, &padded_g);
  check_runs_identical (c->name, &packed_g, &padded_g, c->n_frames);

  run_result_clear (&packed);
  run_result_clear (&padded);
  run_result_clear (&packed_g);
  run_result_clear (&padded_g);
  case_data_clear (&d);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 3. Passthrough                                                           */
/* ------------------------------------------------------------------------ */

static const gchar *pass_formats[] = { "NV12", "I420", "RGBA", "BGRx", "RGB", "GRAY8" };
static const guint pass_sizes[][2] = { {1, 1}, {3, 5}, {641, 359}, {1921, 1081} };

#define PASS_MAX_FRAMES 20
#define PASS_DURATION ((GstClockTime) 33 * GST_MSECOND)

typedef struct
{
  GstBuffer *in;                /* a ref kept on the input buffer */
  guint8 *bytes;                /* copy of its bytes when pushed */
  gsize size;
  GstClockTime pts, dts, duration;
  guint64 offset, offset_end;
  GstBufferFlags flags;
} PassFrame;

static const GstBufferFlags pass_flags[] = {
  0,
  GST_BUFFER_FLAG_DELTA_UNIT,
  GST_BUFFER_FLAG_MARKER | GST_BUFFER_FLAG_DROPPABLE,
  GST_BUFFER_FLAG_DISCONT | GST_BUFFER_FLAG_DELTA_UNIT,
  GST_BUFFER_FLAG_GAP,
  GST_BUFFER_FLAG_CORRUPTED | GST_BUFFER_FLAG_NON_DROPPABLE,
  GST_BUFFER_FLAG_LIVE | GST_BUFFER_FLAG_DECODE_ONLY,
};

/* Results that are not pairs (gap buffers: status skipped). */
static guint
n_skipped (const RunResult * r, guint n)
{
  guint k = 0;
  for (guint i = 0; i < n; ++i)
    if (r->msg[i] && !g_str_equal (get_string (r->msg[i], "status"), S2S_STATUS_OK)
        && !g_str_equal (get_string (r->msg[i], "status"), S2S_STATUS_PARTIAL))
      k++;
  return k;
}

static void
run_passthrough (const gchar * format, guint w, guint h, guint batch_size)
{
  const guint n = (w * h > 1000000) ? 5 : PASS_MAX_FRAMES;
  GstVideoInfo info;
  GstElement *e;
  GstHarness *hn;
  GstBus *bus;
  PassFrame f[PASS_MAX_FRAMES];
  GRand *rand = g_rand_new_with_seed (w * 7919 + h * 31 + batch_size);
  RunOpts o = default_opts (batch_size);
  GstBuffer *out;
  guint n_out = 0;
  GstStructure *metas[PASS_MAX_FRAMES] = { NULL, };
  RunResult r;

  fail_unless (gst_video_info_set_format (&info, gst_video_format_from_string (format), w, h));
  GST_VIDEO_INFO_FPS_N (&info) = 30;
  GST_VIDEO_INFO_FPS_D (&info) = 1;

  memset (&r, 0, sizeof (r));
  e = make_element (&o);
  bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  hn = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps (hn, gst_video_info_to_caps (&info));

  for (guint i = 0; i < n; ++i) {
    GstBuffer *b = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
    GstMapInfo map;
    fail_unless (gst_buffer_map (b, &map, GST_MAP_WRITE));
    for (gsize k = 0; k < map.size; k += 4) {
      const guint32 v = g_rand_int (rand);
      memcpy (map.data + k, &v, MIN (4, map.size - k));
    }
    f[i].size = map.size;
    f[i].bytes = g_memdup2 (map.data, map.size);
    gst_buffer_unmap (b, &map);

    f[i].pts = (i % 7 == 3) ? GST_CLOCK_TIME_NONE : i * PASS_DURATION;
    f[i].dts = (i % 5 == 2) ? GST_CLOCK_TIME_NONE : i * PASS_DURATION + 7;
    f[i].duration = (i % 4 == 1) ? GST_CLOCK_TIME_NONE : PASS_DURATION;
    f[i].offset = (i % 6 == 4) ? GST_BUFFER_OFFSET_NONE : 1000 + i;
    f[i].offset_end = (i % 6 == 4) ? GST_BUFFER_OFFSET_NONE : 1001 + i;
    f[i].flags = pass_flags[i % G_N_ELEMENTS (pass_flags)];
    GST_BUFFER_PTS (b) = f[i].pts;
    GST_BUFFER_DTS (b) = f[i].dts;
    GST_BUFFER_DURATION (b) = f[i].duration;
    GST_BUFFER_OFFSET (b) = f[i].offset;
    GST_BUFFER_OFFSET_END (b) = f[i].offset_end;
    GST_BUFFER_FLAGS (b) = f[i].flags;
    f[i].in = gst_buffer_ref (b);
    fail_unless_equals_int (gst_harness_push (hn, b), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (hn, gst_event_new_eos ()));

  while ((out = gst_harness_try_pull (hn))) {
    const gchar *what = format;
    fail_unless (n_out < n, "%s %ux%u batch %u: more buffers out than in", what, w, h, batch_size);
    PassFrame *p = &f[n_out];
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), p->pts);
    fail_unless_equals_uint64 (GST_BUFFER_DTS (out), p->dts);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), p->duration);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), p->offset);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (out), p->offset_end);
    fail_unless_equals_int (GST_BUFFER_FLAGS (out) & ~GST_BUFFER_FLAG_TAG_MEMORY, p->flags);
    fail_unless_equals_uint64 (gst_buffer_get_size (out), p->size);
    fail_unless (gst_buffer_memcmp (out, 0, p->bytes, p->size) == 0,
        "%s %ux%u batch %u: output buffer %u differs from the input", what, w, h, batch_size,
        n_out);
    if (s2s_buffer_get_metrics (out))
      metas[n_out] = gst_structure_copy (s2s_buffer_get_metrics (out));
    gst_buffer_unref (out);
    n_out++;
  }
  fail_unless_equals_int (n_out, n);

  /* The input buffers are untouched. */
  for (guint i = 0; i < n; ++i) {
    fail_unless_equals_uint64 (gst_buffer_get_size (f[i].in), f[i].size);
    fail_unless (gst_buffer_memcmp (f[i].in, 0, f[i].bytes, f[i].size) == 0,
        "%s %ux%u batch %u: input buffer %u was modified", format, w, h, batch_size, i);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (f[i].in), f[i].pts);
    fail_unless_equals_int (GST_BUFFER_FLAGS (f[i].in) & ~GST_BUFFER_FLAG_TAG_MEMORY, f[i].flags);
    fail_unless (s2s_buffer_get_metrics (f[i].in) == NULL,
        "%s %ux%u: meta added to the shared input buffer %u", format, w, h, i);
    gst_buffer_unref (f[i].in);
    g_free (f[i].bytes);
  }

  /* Results: one message per analysed frame, the same as the meta of the
   * buffer that came out. */
  drain_bus (bus, hn->element, n, &r);
  fail_unless (r.n_msgs > 0, "no results at all");
  for (guint i = 0; i < n; ++i) {
    gchar *what = g_strdup_printf ("%s %ux%u batch %u buffer %u", format, w, h, batch_size, i);
    if (r.msg[i])
      check_meta_equals_message (what, metas[i], r.msg[i]);
    else
      fail_unless (metas[i] == NULL, "%s: meta without a message", what);
    if (metas[i])
      gst_structure_free (metas[i]);
    g_free (what);
  }
  fail_unless (r.summary != NULL);
  fail_unless_equals_uint64 (get_uint64 (r.summary, "frames"), r.n_msgs - n_skipped (&r, n));
  run_result_clear (&r);

  gst_harness_teardown (hn);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  g_rand_free (rand);
}

GST_START_TEST (test_passthrough)
{
  static const guint batch_sizes[] = { 1, 3, 16 };
  const gchar *format = pass_formats[__i__ / G_N_ELEMENTS (pass_sizes)];
  const guint *size = pass_sizes[__i__ % G_N_ELEMENTS (pass_sizes)];
  for (guint b = 0; b < G_N_ELEMENTS (batch_sizes); ++b)
    run_passthrough (format, size[0], size[1], batch_sizes[b]);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 4. Summary                                                               */
/* ------------------------------------------------------------------------ */

static int
cmp_double (const void *a, const void *b)
{
  const gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

/* numpy.percentile(v, q), default method "linear" (numpy's _lerp). */
static gdouble
np_percentile (const gdouble * values, guint n, gdouble q)
{
  gdouble *v = g_memdup2 (values, n * sizeof (gdouble));
  const gdouble vi = (n - 1) * (q / 100.0);
  const gdouble below = floor (vi);
  const guint lo = (guint) below, hi = MIN (lo + 1, n - 1);
  const gdouble t = vi - below;
  gdouble a, b, r;
  qsort (v, n, sizeof (gdouble), cmp_double);
  a = v[lo];
  b = v[hi];
  r = (t >= 0.5) ? b - (b - a) * (1 - t) : a + (b - a) * t;
  g_free (v);
  return r;
}

static void
check_summary_series (const GstStructure * summary, const gchar * name, const gdouble * v,
    guint n)
{
  gchar *f_mean = g_strconcat (name, "-mean", NULL), *f_min = g_strconcat (name, "-min", NULL);
  gchar *f_max = g_strconcat (name, "-max", NULL), *f_p95 = g_strconcat (name, "-p95", NULL);
  gdouble vals[MAX_FRAMES * 8];
  guint k = 0;
  for (guint i = 0; i < n; ++i)
    if (!isnan (v[i]))
      vals[k++] = v[i];

  if (k == 0) {
    fail_unless (isnan (get_double (summary, f_mean)), "%s not NaN", f_mean);
    fail_unless (isnan (get_double (summary, f_min)), "%s not NaN", f_min);
    fail_unless (isnan (get_double (summary, f_max)), "%s not NaN", f_max);
    fail_unless (isnan (get_double (summary, f_p95)), "%s not NaN", f_p95);
  } else {
    gdouble sum = 0, mn = INFINITY, mx = -INFINITY, mean, p95;
    for (guint i = 0; i < k; ++i) {
      sum += vals[i];
      mn = MIN (mn, vals[i]);
      mx = MAX (mx, vals[i]);
    }
    mean = sum / k;
    p95 = np_percentile (vals, k, 95);
    fail_unless (close_to (get_double (summary, f_mean), mean, 1e-12, 0),
        "%s %.17g, expected %.17g", f_mean, get_double (summary, f_mean), mean);
    fail_unless (get_double (summary, f_min) == mn, "%s %.17g, expected %.17g", f_min,
        get_double (summary, f_min), mn);
    fail_unless (get_double (summary, f_max) == mx, "%s %.17g, expected %.17g", f_max,
        get_double (summary, f_max), mx);
    /* The percentile is a closed formula on the sorted values: it must be
     * numpy's result exactly (numpy interpolates b - (b-a)*(1-t) when
     * t >= 0.5, a + (b-a)*t below). The mean depends on the summation order
     * (numpy sums pairwise), so it gets a few ulp. */
    fail_unless (same_bits (get_double (summary, f_p95), p95),
        "%s %.17g, numpy.percentile gives %.17g", f_p95, get_double (summary, f_p95), p95);
  }
  g_free (f_mean);
  g_free (f_min);
  g_free (f_max);
  g_free (f_p95);
}

/* The summary equals the statistics of the per-frame messages. */
static void
check_summary (const gchar * what, const RunResult * r, guint n)
{
  static const gchar *series[] = { "mse", "psnr", "inv-ssim", "lpips", "weighted" };
  gdouble v[MAX_FRAMES * 8];

  fail_unless_equals_int (r->n_out, n);
  fail_unless (r->summary != NULL, "%s: no s2smetrics-summary at EOS", what);
  fail_unless_equals_int (r->n_msgs, n - 1);
  fail_unless_equals_uint64 (get_uint64 (r->summary, "frames"), n - 1);
  for (guint s = 0; s < G_N_ELEMENTS (series); ++s) {
    for (guint t = 1; t < n; ++t) {
      fail_unless (r->msg[t] != NULL, "%s: no message for frame %u", what, t);
      v[t - 1] = get_double (r->msg[t], series[s]);
    }
    check_summary_series (r->summary, series[s], v, n - 1);
  }
}

static void
run_summary_case (const gchar * name, guint batch_size, const guint * order, guint n)
{
  CaseData d;
  RunResult r;
  RunOpts o = default_opts (batch_size);

  case_data_load (&d, golden_case_by_name (name));
  run_case_frames (&d, &o, LAYOUT_DEFAULT, order, n, &r);
  check_summary (name, &r, n);
  run_result_clear (&r);
  case_data_clear (&d);
}

/* Synthetic GRAY8 frames whose pairs all differ: every value distinct, so
 * the percentile interpolates between different neighbours. */
static void
run_summary_synthetic (guint batch_size, guint n)
{
  GstVideoInfo info;
  GstBuffer *bufs[MAX_FRAMES * 8];
  GRand *rand = g_rand_new_with_seed (4242 + batch_size);
  RunResult r;
  RunOpts o = default_opts (batch_size);
  guint8 *base;

  fail_unless (n <= G_N_ELEMENTS (bufs));
  fail_unless (gst_video_info_set_format (&info, GST_VIDEO_FORMAT_GRAY8, 64, 48));
  base = g_malloc (GST_VIDEO_INFO_SIZE (&info));
  for (gsize k = 0; k < GST_VIDEO_INFO_SIZE (&info); ++k)
    base[k] = (guint8) g_rand_int_range (rand, 40, 216);
  for (guint i = 0; i < n; ++i) {
    GstMapInfo map;
    const gint amp = 1 + (gint) ((i * 7) % n) * 3;
    bufs[i] = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
    fail_unless (gst_buffer_map (bufs[i], &map, GST_MAP_WRITE));
    for (gsize k = 0; k < map.size; ++k)
      map.data[k] = (guint8) CLAMP (base[k] + g_rand_int_range (rand, -amp, amp + 1), 0, 255);
    gst_buffer_unmap (bufs[i], &map);
    GST_BUFFER_PTS (bufs[i]) = i * FRAME_DURATION;
    GST_BUFFER_DURATION (bufs[i]) = FRAME_DURATION;
  }
  run_buffers (&o, gst_video_info_to_caps (&info), bufs, n, &r);
  check_summary ("synthetic", &r, n);
  run_result_clear (&r);
  g_free (base);
  g_rand_free (rand);
}

GST_START_TEST (test_summary)
{
  /* 25 frames from 3 distinct ones: repeats give MSE 0 / SSIM 1, the rest
   * the three pairs in both orders; crosses a batch boundary at 16. */
  static const guint order[] = { 0, 1, 2, 0, 2, 2, 1, 0, 0, 1, 2, 1, 0, 2, 0, 1, 1, 2, 0, 0,
    2, 1, 2, 0, 1
  };
  run_summary_case ("rgba_161x99_natural", 16, order, G_N_ELEMENTS (order));
  run_summary_case ("rgba_161x99_natural", 1, order, G_N_ELEMENTS (order));
  run_summary_case ("nv12_641x359_bt601_shift", 3, order, 7);
  /* SSIM undefined everywhere: its series is all NaN. */
  run_summary_case ("i420_3x5_bt709_noise", 4, order, G_N_ELEMENTS (order));
  /* One pair only. */
  run_summary_case ("gray8_7x7_noise", 16, order, 2);
  /* Distinct values; 2 to 41 pairs. */
  run_summary_synthetic (16, 42);
  run_summary_synthetic (5, 23);
  run_summary_synthetic (1, 3);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 5. Defaults and devices                                                  */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_default_metrics_lpips)
{
  const GoldenCase *c = golden_case_by_name ("rgb_641x359_natural");
  CaseData d;
  CaseExpect e;
  RunResult r;
  RunOpts o = default_opts (0);        /* batch-size default too */
  GstElement *el;
  guint flags = 0;

  /* The default metrics include lpips. */
  el = gst_element_factory_make ("s2smetrics", NULL);
  fail_unless (el != NULL);
  g_object_get (el, "metrics", &flags, NULL);
  fail_unless_equals_int (flags, 7);
  /* The default conversion is the service's (cv2.VideoCapture's swscale);
   * make_element sets colorimetry for the golden cases. */
  {
    gint conversion = -1;
    g_object_get (el, "conversion", &conversion, NULL);
    fail_unless_equals_int (conversion, 0);
  }
  gst_object_unref (el);

  o.metrics = NULL;
  /* Without its model (the build's default may have the real weights,
   * which s2smetrics_lpips_real tests): the rest is computed. */
  o.lpips_model = "/nonexistent/lpips-alex-v0.1.safetensors";
  case_data_load (&d, c);
  case_expect (&d, &e);
  run_case (&d, &o, LAYOUT_DEFAULT, &r);

  fail_unless_equals_int (r.n_warnings_at_start, 1);
  fail_unless_equals_int (r.n_warnings, 1);
  fail_unless (strstr (r.warnings, "LPIPS") != NULL, "warning: %s", r.warnings);
  fail_unless_equals_int (r.n_msgs, c->n_frames - 1);
  for (guint t = 1; t < c->n_frames; ++t) {
    const GstStructure *m = r.msg[t];
    const PairExpect *p = &e.pair[t];
    const gdouble expect_w = 0.5 * p->mse + 0.3 * (1.0 - p->ssim7);
    fail_unless (m != NULL);
    fail_unless_equals_string (get_string (m, "status"), S2S_STATUS_PARTIAL);
    fail_unless (strcasestr_bool (get_string (m, "reason"), "lpips"), "reason: %s",
        get_string (m, "reason"));
    fail_unless (isnan (get_double (m, "lpips")));
    fail_unless (get_double (m, "mse") == p->mse, "mse %.17g != %.17g", get_double (m, "mse"),
        p->mse);
    fail_unless (close_to (get_double (m, "inv-ssim"), 1.0 - p->ssim7, INV_SSIM_REL,
            INV_SSIM_ABS));
    fail_unless (close_to (get_double (m, "weighted"), expect_w, WEIGHTED_REL, 0),
        "weighted %.17g, expected %.17g (lpips left out)", get_double (m, "weighted"), expect_w);
    check_meta_equals_message ("default metrics", r.meta[t], m);
  }
  run_result_clear (&r);
  case_data_clear (&d);
}

GST_END_TEST;

GST_START_TEST (test_device_auto)
{
  const GoldenCase *c = golden_case_by_name ("nv12_99x101_bt709_repeat");
  CaseData d;
  CaseExpect e;
  RunResult r;
  RunOpts o = default_opts (2);

  o.device = "auto";
  case_data_load (&d, c);
  case_expect (&d, &e);
  run_case (&d, &o, LAYOUT_DEFAULT, &r);
  fail_unless_equals_int (r.n_warnings_at_start, 1);
  fail_unless_equals_int (r.n_warnings, 1);
  fail_unless (strstr (r.warnings, "CUDA") != NULL, "warning: %s", r.warnings);
  check_run_against_golden (&d, &e, &o, &r, FALSE, "device=auto");
  run_result_clear (&r);

  /* device is the default too */
  o.device = NULL;
  run_case (&d, &o, LAYOUT_DEFAULT, &r);
  fail_unless_equals_int (r.n_warnings_at_start, 1);
  fail_unless_equals_int (r.n_warnings, 1);
  fail_unless (strstr (r.warnings, "CUDA") != NULL, "warning: %s", r.warnings);
  check_run_against_golden (&d, &e, &o, &r, FALSE, "device default");
  run_result_clear (&r);
  case_data_clear (&d);
}

GST_END_TEST;

GST_START_TEST (test_device_cuda)
{
  RunOpts o = default_opts (1);
  GstElement *e;
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  GError *err = NULL;
  guint n_errors = 0;

  o.device = "cuda";
  e = make_element (&o);
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR))) {
    gst_message_parse_error (m, &err, NULL);
    fail_unless (err->domain == GST_RESOURCE_ERROR, "error domain %s: %s",
        g_quark_to_string (err->domain), err->message);
    g_clear_error (&err);
    n_errors++;
    gst_message_unref (m);
  }
  fail_unless_equals_int (n_errors, 1);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_element_set_bus (e, NULL);
  gst_object_unref (e);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */

static Suite *
s2smetrics_values_suite (void)
{
  Suite *s = suite_create ("s2smetrics_values");
  s2s_check_preload (FALSE);
  TCase *tc;

  load_golden ();

  tc = tcase_create ("golden");
  tcase_add_loop_test (tc, test_golden_values, 0, golden_cases->len);
  tcase_add_test (tc, test_golden_weights);
  suite_add_tcase (s, tc);

  tc = tcase_create ("padded");
  tcase_add_loop_test (tc, test_padded_strides, 0, golden_cases->len);
  suite_add_tcase (s, tc);

  tc = tcase_create ("passthrough");
  tcase_add_loop_test (tc, test_passthrough, 0,
      G_N_ELEMENTS (pass_formats) * G_N_ELEMENTS (pass_sizes));
  suite_add_tcase (s, tc);

  tc = tcase_create ("summary");
  tcase_add_test (tc, test_summary);
  suite_add_tcase (s, tc);

  tc = tcase_create ("settings");
  tcase_add_test (tc, test_default_metrics_lpips);
  tcase_add_test (tc, test_device_auto);
  tcase_add_test (tc, test_device_cuda);
  suite_add_tcase (s, tc);

  return s;
}

GST_CHECK_MAIN (s2smetrics_values);
