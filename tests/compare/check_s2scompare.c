/* s2scompare: values against NumPy, scikit-image, FFmpeg's psnr filter and
 * the lpips package (compare_reference.py), matching by running time with
 * pads at different rates and with gaps, either pad ending first, caps
 * changes, a size mismatch, flushing seeks and state changes mid-stream;
 * every distorted buffer must leave, in order, and the leaks tracer must
 * see nothing alive after each run.
 *
 * Pipelines of appsrc (each pad needs its own streaming thread: an
 * aggregator pad takes one buffer at a time) or videotestsrc, and fakesink.
 *
 * Env: S2S_COMPARE_DIR (compare-cases.txt and frames), S2S_LPIPS_WEIGHTS
 * (optional: the test weights the reference used). */
#include <gst/app/gstappsrc.h>
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "s2s-meta.h"

#define MAX_FRAMES 8
#define FPS 30

/* ------------------------------------------------------------------------ */
/* Reference cases                                                          */
/* ------------------------------------------------------------------------ */

typedef struct
{
  gchar name[32], format[16];
  guint width, height, n;
  gchar ref_files[MAX_FRAMES][64], dist_files[MAX_FRAMES][64];
  gdouble mse[MAX_FRAMES], psnr[MAX_FRAMES], ssim[MAX_FRAMES], lpips[MAX_FRAMES];
  gdouble ff_mse[MAX_FRAMES], ff_psnr[MAX_FRAMES];
  gdouble psnr_of_mean_mse, ff_average;
} CompareCase;

static CompareCase cases[4];
static guint n_cases;

static gdouble
parse_double (const gchar * word)
{
  if (g_str_equal (word, "nan"))
    return NAN;
  if (g_str_equal (word, "inf"))
    return INFINITY;
  return g_ascii_strtod (word, NULL);
}

static void
load_cases (void)
{
  if (n_cases > 0)
    return;
  const gchar *dir = g_getenv ("S2S_COMPARE_DIR");
  fail_unless (dir != NULL, "S2S_COMPARE_DIR not set");
  gchar *path = g_build_filename (dir, "compare-cases.txt", NULL);
  FILE *f = fopen (path, "r");
  fail_unless (f != NULL, "cannot open %s", path);
  g_free (path);
  gchar line[512];
  while (fgets (line, sizeof line, f)) {
    CompareCase *c = n_cases ? &cases[n_cases - 1] : NULL;
    guint i;
    gchar w[6][64];
    if (n_cases < G_N_ELEMENTS (cases) && sscanf (line, "case %31s %15s %u %u %u",
            cases[n_cases].name, cases[n_cases].format, &cases[n_cases].width,
            &cases[n_cases].height, &cases[n_cases].n) == 5) {
      fail_unless (cases[n_cases].n <= MAX_FRAMES);
      n_cases++;
    } else if (c && sscanf (line, "frame %u %63s %63s", &i, w[0], w[1]) == 3 && i < MAX_FRAMES) {
      g_strlcpy (c->ref_files[i], w[0], sizeof c->ref_files[i]);
      g_strlcpy (c->dist_files[i], w[1], sizeof c->dist_files[i]);
    } else if (c && sscanf (line, "pair %u %63s %63s %63s %63s %63s %63s", &i, w[0], w[1], w[2],
            w[3], w[4], w[5]) == 7 && i < MAX_FRAMES) {
      c->mse[i] = parse_double (w[0]);
      c->psnr[i] = parse_double (w[1]);
      c->ssim[i] = parse_double (w[2]);
      c->lpips[i] = parse_double (w[3]);
      c->ff_mse[i] = parse_double (w[4]);
      c->ff_psnr[i] = parse_double (w[5]);
    } else if (c && sscanf (line, "summary %63s %63s", w[0], w[1]) == 2) {
      c->psnr_of_mean_mse = parse_double (w[0]);
      c->ff_average = parse_double (w[1]);
    }
  }
  fclose (f);
  fail_unless (n_cases > 0, "no cases in compare-cases.txt");
}

/* A buffer for `info` from a file of packed rows (strides may be padded). */
static GstBuffer *
buffer_from_file (const gchar * file, const GstVideoInfo * info)
{
  gchar *path = g_build_filename (g_getenv ("S2S_COMPARE_DIR"), file, NULL);
  gchar *data;
  gsize len;
  fail_unless (g_file_get_contents (path, &data, &len, NULL), "cannot read %s", path);
  g_free (path);
  const guint height = GST_VIDEO_INFO_HEIGHT (info);
  const gsize row = len / height;
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (guint y = 0; y < height; y++)
    memcpy (map.data + y * GST_VIDEO_INFO_PLANE_STRIDE (info, 0), data + y * row, row);
  gst_buffer_unmap (buf, &map);
  g_free (data);
  return buf;
}

/* ------------------------------------------------------------------------ */
/* Leaks                                                                    */
/* ------------------------------------------------------------------------ */

static GstTracer *
leaks_tracer (void)
{
  GstTracer *found = NULL;
  GList *tracers = gst_tracing_get_active_tracers ();
  for (GList * l = tracers; l; l = l->next) {
    if (!found && g_str_equal (G_OBJECT_TYPE_NAME (l->data), "GstLeaksTracer"))
      found = gst_object_ref (l->data);
  }
  g_list_free_full (tracers, gst_object_unref);
  return found;
}

static void
leaks_start (void)
{
  GstTracer *tracer = leaks_tracer ();
  if (tracer) {
    g_signal_emit_by_name (tracer, "activity-start-tracking");
    gst_object_unref (tracer);
  }
}

/* Objects created since leaks_start() and still alive (created minus
 * removed per address), as text; NULL when none or without the tracer. */
static gchar *
leaks_stop (void)
{
  GstTracer *tracer = leaks_tracer ();
  if (!tracer)
    return NULL;
  /* Task threads drop their last references after the pads stopped them. */
  gst_task_cleanup_all ();
  GstStructure *cp = NULL;
  g_signal_emit_by_name (tracer, "activity-get-checkpoint", &cp);
  g_signal_emit_by_name (tracer, "activity-stop-tracking");
  gst_object_unref (tracer);
  GHashTable *net = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const gchar *fields[2] = { "objects-created-list", "objects-removed-list" };
  for (guint l = 0; l < 2; l++) {
    const GValue *v = cp ? gst_structure_get_value (cp, fields[l]) : NULL;
    for (guint i = 0; v && i < gst_value_list_get_size (v); i++) {
      const GstStructure *o = gst_value_get_structure (gst_value_list_get_value (v, i));
      gchar *key = g_strdup_printf ("%s@%s", gst_structure_get_string (o, "type-name"),
          gst_structure_get_string (o, "address"));
      gint count = GPOINTER_TO_INT (g_hash_table_lookup (net, key)) + (l == 0 ? 1 : -1);
      g_hash_table_insert (net, key, GINT_TO_POINTER (count));
    }
  }
  GString *list = g_string_new (NULL);
  GHashTableIter iter;
  gpointer key, count;
  g_hash_table_iter_init (&iter, net);
  while (g_hash_table_iter_next (&iter, &key, &count)) {
    if (GPOINTER_TO_INT (count) > 0)
      g_string_append_printf (list, " %s", (const gchar *) key);
  }
  g_hash_table_unref (net);
  if (cp)
    gst_structure_free (cp);
  return g_string_free (list, list->len == 0);
}

/* ------------------------------------------------------------------------ */
/* Runs                                                                     */
/* ------------------------------------------------------------------------ */

/* What left the element: distorted buffers at the sink and its messages. */
typedef struct
{
  GstElement *pipeline;
  GstAppSrc *ref, *dist;
  GMutex lock;
  GArray *out_pts;              /* GstClockTime of each buffer at the sink */
  guint out_with_meta;
  GPtrArray *results;           /* GstStructure copies of s2scompare messages */
  GstStructure *summary;
  GError *error;
  gchar *error_debug;
  gboolean eos;
} Run;

static GstPadProbeReturn
on_output (GstPad *, GstPadProbeInfo * info, gpointer user_data)
{
  Run *r = (Run *) user_data;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    g_mutex_lock (&r->lock);
    GstClockTime pts = GST_BUFFER_PTS (buf);
    g_array_append_val (r->out_pts, pts);
    if (s2s_buffer_get_compare (buf))
      r->out_with_meta++;
    g_mutex_unlock (&r->lock);
  }
  return GST_PAD_PROBE_OK;
}

/* A pipeline with appsrc `ref` and `dist` (sources NULL), or the given
 * source descriptions, into s2scompare `props`. */
static Run *
run_new (const gchar * props, const gchar * ref_source, const gchar * dist_source)
{
  Run *r = g_new0 (Run, 1);
  g_mutex_init (&r->lock);
  r->out_pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  r->results = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  gchar *desc = g_strdup_printf ("s2scompare name=c device=cpu %s ! fakesink name=out sync=%s "
      "%s ! c.reference %s ! c.distorted", props, ref_source ? "true" : "false",
      ref_source ? ref_source : "appsrc name=ref format=time max-bytes=1000000000",
      dist_source ? dist_source : "appsrc name=dist format=time max-bytes=1000000000");
  GError *err = NULL;
  r->pipeline = gst_parse_launch (desc, &err);
  fail_unless (r->pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  g_free (desc);
  if (!ref_source) {
    r->ref = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (r->pipeline), "ref"));
    r->dist = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (r->pipeline), "dist"));
  }
  GstElement *sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "out");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_output, r, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  return r;
}

static void
run_set_caps (Run * r, const gchar * ref_caps, const gchar * dist_caps)
{
  GstCaps *rc = gst_caps_from_string (ref_caps), *dc = gst_caps_from_string (dist_caps);
  gst_app_src_set_caps (r->ref, rc);
  gst_app_src_set_caps (r->dist, dc);
  gst_caps_unref (rc);
  gst_caps_unref (dc);
}

/* Takes the messages on the bus; TRUE once EOS or ERROR came. */
static gboolean
run_collect (Run * r, GstClockTime timeout)
{
  GstBus *bus = gst_element_get_bus (r->pipeline);
  GstMessage *msg;
  gboolean done = FALSE;
  while (!done && (msg = gst_bus_timed_pop (bus, timeout))) {
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        r->eos = TRUE;
        done = TRUE;
        break;
      case GST_MESSAGE_ERROR:
        if (!r->error)
          gst_message_parse_error (msg, &r->error, &r->error_debug);
        done = TRUE;
        break;
      case GST_MESSAGE_ELEMENT:{
        const GstStructure *s = gst_message_get_structure (msg);
        if (gst_structure_has_name (s, "s2scompare"))
          g_ptr_array_add (r->results, gst_structure_copy (s));
        else if (gst_structure_has_name (s, "s2scompare-summary")) {
          fail_unless (r->summary == NULL, "two summaries");
          r->summary = gst_structure_copy (s);
        }
        break;
      }
      default:
        break;
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  return done;
}

static void
run_wait (Run * r)
{
  fail_unless (run_collect (r, 120 * GST_SECOND), "no EOS or ERROR within 120 s");
}

static void
run_free (Run * r)
{
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  run_collect (r, 0);
  if (r->ref) {
    gst_object_unref (r->ref);
    gst_object_unref (r->dist);
  }
  gst_object_unref (r->pipeline);
  g_array_unref (r->out_pts);
  g_ptr_array_unref (r->results);
  if (r->summary)
    gst_structure_free (r->summary);
  g_clear_error (&r->error);
  g_free (r->error_debug);
  g_mutex_clear (&r->lock);
  g_free (r);
}

static void
push (GstAppSrc * src, GstBuffer * buf, GstClockTime pts, GstClockTime duration)
{
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  fail_unless_equals_int (gst_app_src_push_buffer (src, buf), GST_FLOW_OK);
}

/* A GRAY8 frame of one value. */
static GstBuffer *
flat (guint width, guint height, guint8 value)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_GRAY8, width, height);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_memset (buf, 0, value, GST_VIDEO_INFO_SIZE (&info));
  return buf;
}

static const GstStructure *
result (Run * r, guint i)
{
  fail_unless (i < r->results->len, "no result %u (%u results)", i, r->results->len);
  return (const GstStructure *) g_ptr_array_index (r->results, i);
}

static gdouble
field (const GstStructure * s, const gchar * name)
{
  gdouble v;
  fail_unless (gst_structure_get_double (s, name, &v), "no %s in %" GST_PTR_FORMAT, name, s);
  return v;
}

/* Every distorted buffer left, in order, with its result; one result per
 * frame; EOS and no error. */
static void
check_all_out (Run * r, guint n)
{
  fail_unless (r->error == NULL, "error: %s (%s)", r->error ? r->error->message : "",
      r->error_debug ? r->error_debug : "");
  fail_unless (r->eos);
  fail_unless_equals_int (r->out_pts->len, n);
  fail_unless_equals_int (r->out_with_meta, n);
  fail_unless_equals_int (r->results->len, n);
  for (guint i = 0; i < n; i++) {
    guint64 frame;
    fail_unless (gst_structure_get_uint64 (result (r, i), "frame", &frame));
    fail_unless_equals_uint64 (frame, i);
    if (i > 0)
      fail_unless (g_array_index (r->out_pts, GstClockTime, i) >
          g_array_index (r->out_pts, GstClockTime, i - 1), "buffers out of order");
  }
  fail_unless (r->summary != NULL, "no summary");
}

static const gchar *
status (Run * r, guint i)
{
  return gst_structure_get_string (result (r, i), "status");
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

static void
check_case (const CompareCase * c, guint batch, gboolean with_lpips)
{
  gchar *props = with_lpips ?
      g_strdup_printf ("batch-size=%u lpips-model=\"%s\"", batch, g_getenv ("S2S_LPIPS_WEIGHTS")) :
      g_strdup_printf ("batch-size=%u metrics=mse+inv-ssim", batch);
  leaks_start ();
  Run *r = run_new (props, NULL, NULL);
  g_free (props);
  GstVideoInfo info;
  gst_video_info_set_format (&info, gst_video_format_from_string (c->format), c->width,
      c->height);
  GstCaps *caps = gst_video_info_to_caps (&info);
  gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION, FPS, 1, NULL);
  gchar *cs = gst_caps_to_string (caps);
  gst_caps_unref (caps);
  run_set_caps (r, cs, cs);
  g_free (cs);
  gst_element_set_state (r->pipeline, GST_STATE_PLAYING);
  const GstClockTime d = GST_SECOND / FPS;
  for (guint i = 0; i < c->n; i++) {
    push (r->ref, buffer_from_file (c->ref_files[i], &info), i * d, d);
    push (r->dist, buffer_from_file (c->dist_files[i], &info), i * d, d);
  }
  gst_app_src_end_of_stream (r->ref);
  gst_app_src_end_of_stream (r->dist);
  run_wait (r);
  check_all_out (r, c->n);

  gdouble worst_lpips = 0;
  for (guint i = 0; i < c->n; i++) {
    const GstStructure *s = result (r, i);
    fail_unless_equals_string (gst_structure_get_string (s, "status"), "ok");
    const gdouble mse = field (s, "mse"), psnr = field (s, "psnr"), ssim = field (s, "ssim");
    fail_unless (fabs (mse - c->mse[i]) <= 1e-9 * MAX (1.0, c->mse[i]),
        "%s %u: mse %.12g, NumPy %.12g", c->name, i, mse, c->mse[i]);
    if (isinf (c->psnr[i]))
      fail_unless (isinf (psnr) && psnr > 0, "%s %u: psnr %g, expected inf", c->name, i, psnr);
    else
      fail_unless (fabs (psnr - c->psnr[i]) <= 1e-9, "%s %u: psnr %.12g, NumPy %.12g", c->name,
          i, psnr, c->psnr[i]);
    fail_unless (fabs (ssim - c->ssim[i]) <= 1e-9, "%s %u: ssim %.12g, scikit-image %.12g",
        c->name, i, ssim, c->ssim[i]);
    fail_unless (fabs (field (s, "inv-ssim") - (1.0 - c->ssim[i])) <= 1e-9);
    /* FFmpeg's stats file has two decimals. */
    if (!isnan (c->ff_psnr[i])) {
      fail_unless (fabs (mse - c->ff_mse[i]) <= 0.0051, "%s %u: mse %.4f, FFmpeg mse_y %.2f",
          c->name, i, mse, c->ff_mse[i]);
      if (isinf (c->ff_psnr[i]))
        fail_unless (isinf (psnr), "%s %u: psnr %g, FFmpeg inf", c->name, i, psnr);
      else
        fail_unless (fabs (psnr - c->ff_psnr[i]) <= 0.0051, "%s %u: psnr %.4f, FFmpeg %.2f",
            c->name, i, psnr, c->ff_psnr[i]);
    }
    if (with_lpips) {
      const gdouble lp = field (s, "lpips");
      worst_lpips = MAX (worst_lpips, fabs (lp - c->lpips[i]));
      fail_unless (fabs (lp - c->lpips[i]) <= 1e-4, "%s %u: lpips %.9g, lpips package %.9g",
          c->name, i, lp, c->lpips[i]);
    }
    guint64 ref_ts;
    fail_unless (gst_structure_get_uint64 (s, "reference-timestamp", &ref_ts));
    fail_unless_equals_uint64 (ref_ts, i * d);
  }
  guint64 frames;
  fail_unless (gst_structure_get_uint64 (r->summary, "frames", &frames));
  fail_unless_equals_uint64 (frames, c->n);
  const gdouble pm = field (r->summary, "psnr-of-mean-mse");
  fail_unless (fabs (pm - c->psnr_of_mean_mse) <= 1e-9, "%s: psnr-of-mean-mse %.12g, NumPy %.12g",
      c->name, pm, c->psnr_of_mean_mse);
  if (!isnan (c->ff_average))
    fail_unless (fabs (pm - c->ff_average) <= 1e-5, "%s: psnr-of-mean-mse %.8f, FFmpeg %.6f",
        c->name, pm, c->ff_average);
  /* Mean of the per-frame values, as NumPy (inf where a frame is identical). */
  gdouble mse_sum = 0;
  for (guint i = 0; i < c->n; i++)
    mse_sum += c->mse[i];
  fail_unless (fabs (field (r->summary, "mse-mean") - mse_sum / c->n) <= 1e-9 * mse_sum);
  if (with_lpips)
    g_print ("%s batch %u: lpips within %.2g of the lpips package\n", c->name, batch,
        worst_lpips);
  run_free (r);
  gchar *leaked = leaks_stop ();
  fail_unless (leaked == NULL, "alive after the run:%s", leaked);
}

GST_START_TEST (test_values_match_references)
{
  load_cases ();
  for (guint k = 0; k < n_cases; k++) {
    check_case (&cases[k], 1, FALSE);
    check_case (&cases[k], 3, FALSE);
  }
}

GST_END_TEST;

/* Registered only with the test weights (s2scompare_suite); with them,
 * compare_reference.py must have had the lpips package. */
GST_START_TEST (test_lpips_matches_lpips_package)
{
  load_cases ();
  fail_if (isnan (cases[n_cases - 1].lpips[0]),
      "no lpips package reference in compare-cases.txt (could compare_reference.py import "
      "lpips and torch?)");
  for (guint k = 0; k < n_cases; k++)
    check_case (&cases[k], 4, TRUE);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Matching                                                                 */
/* ------------------------------------------------------------------------ */

#define SMALL "video/x-raw, format=GRAY8, width=32, height=24"

/* Reference at ref_fps, distorted at dist_fps: each distorted frame meets
 * the reference frame in force at its time. Flat frames whose values encode
 * the reference index, so the MSE says which frame was compared. */
static void
check_rates (guint ref_fps, guint dist_fps, guint n_dist, guint batch)
{
  gchar *props = g_strdup_printf ("metrics=mse batch-size=%u", batch);
  leaks_start ();
  Run *r = run_new (props, NULL, NULL);
  g_free (props);
  gchar *rc = g_strdup_printf (SMALL ", framerate=%u/1", ref_fps);
  gchar *dc = g_strdup_printf (SMALL ", framerate=%u/1", dist_fps);
  run_set_caps (r, rc, dc);
  g_free (rc);
  g_free (dc);
  gst_element_set_state (r->pipeline, GST_STATE_PLAYING);
  const GstClockTime rd = GST_SECOND / ref_fps, dd = GST_SECOND / dist_fps;
  const guint n_ref = (guint) gst_util_uint64_scale (n_dist, ref_fps, dist_fps) + 1;
  for (guint k = 0; k < n_ref; k++)
    push (r->ref, flat (32, 24, (guint8) (10 * k)), gst_util_uint64_scale (k, GST_SECOND,
            ref_fps), rd);
  for (guint i = 0; i < n_dist; i++) {
    /* the reference frame in force: the last that started at or before */
    const guint k = (guint) gst_util_uint64_scale (i, ref_fps, dist_fps);
    push (r->dist, flat (32, 24, (guint8) (10 * k + 3)), gst_util_uint64_scale (i, GST_SECOND,
            dist_fps), dd);
  }
  gst_app_src_end_of_stream (r->ref);
  gst_app_src_end_of_stream (r->dist);
  run_wait (r);
  check_all_out (r, n_dist);
  for (guint i = 0; i < n_dist; i++) {
    const guint k = (guint) gst_util_uint64_scale (i, ref_fps, dist_fps);
    fail_unless_equals_string (status (r, i), "ok");
    fail_unless (field (result (r, i), "mse") == 9.0, "frame %u: mse %g (not its reference %u)",
        i, field (result (r, i), "mse"), k);
    fail_unless (fabs (field (result (r, i), "psnr") - 10 * log10 (65025.0 / 9)) < 1e-12);
    guint64 ts;
    gst_structure_get_uint64 (result (r, i), "reference-timestamp", &ts);
    fail_unless_equals_uint64 (ts, gst_util_uint64_scale (k, GST_SECOND, ref_fps));
  }
  run_free (r);
  gchar *leaked = leaks_stop ();
  fail_unless (leaked == NULL, "alive after the run:%s", leaked);
}

GST_START_TEST (test_different_rates)
{
  check_rates (15, 30, 8, 1);   /* each reference frame serves two */
  check_rates (60, 30, 6, 4);   /* every other reference frame is skipped over */
  check_rates (25, 30, 9, 2);   /* no common multiple within the clip */
}

GST_END_TEST;

/* A missing reference frame, a GAP on either pad, and a reference that
 * starts late: status=skipped with the reason, the buffer still leaves. */
GST_START_TEST (test_gaps_and_missing_reference)
{
  leaks_start ();
  Run *r = run_new ("metrics=mse batch-size=3", NULL, NULL);
  run_set_caps (r, SMALL ", framerate=30/1", SMALL ", framerate=30/1");
  gst_element_set_state (r->pipeline, GST_STATE_PLAYING);
  const GstClockTime d = GST_SECOND / 30;
  for (guint k = 1; k < 9; k++) {
    if (k == 3)
      continue;                 /* no reference frame for distorted frame 3 */
    if (k == 5) {
      GstBuffer *gap = gst_buffer_new ();
      GST_BUFFER_FLAG_SET (gap, GST_BUFFER_FLAG_GAP);
      push (r->ref, gap, k * d, d);
      continue;
    }
    push (r->ref, flat (32, 24, (guint8) (10 * k)), k * d, d);
  }
  for (guint i = 0; i < 9; i++) {
    if (i == 7) {
      GstBuffer *gap = gst_buffer_new ();
      GST_BUFFER_FLAG_SET (gap, GST_BUFFER_FLAG_GAP);
      push (r->dist, gap, i * d, d);
      continue;
    }
    push (r->dist, flat (32, 24, (guint8) (10 * i + 2)), i * d, d);
  }
  gst_app_src_end_of_stream (r->ref);
  gst_app_src_end_of_stream (r->dist);
  run_wait (r);
  check_all_out (r, 9);
  static const struct
  {
    const gchar *status, *reason;
  } expect[9] = {
    {"skipped", "no reference frame at or before this running time"},
    {"ok", NULL}, {"ok", NULL},
    {"skipped", "no reference frame at this running time (the last one ended before it)"},
    {"ok", NULL},
    {"skipped", "gap in the reference stream"},
    {"ok", NULL},
    {"skipped", "gap in the distorted stream"},
    {"ok", NULL},
  };
  for (guint i = 0; i < 9; i++) {
    fail_unless_equals_string (status (r, i), expect[i].status);
    if (expect[i].reason) {
      fail_unless_equals_string (gst_structure_get_string (result (r, i), "reason"),
          expect[i].reason);
    } else {
      fail_unless (field (result (r, i), "mse") == 4.0, "frame %u: mse %g", i,
          field (result (r, i), "mse"));
    }
  }
  guint64 frames, skipped;
  gst_structure_get_uint64 (r->summary, "frames", &frames);
  gst_structure_get_uint64 (r->summary, "skipped", &skipped);
  fail_unless_equals_uint64 (frames, 5);
  fail_unless_equals_uint64 (skipped, 4);
  run_free (r);
  gchar *leaked = leaks_stop ();
  fail_unless (leaked == NULL, "alive after the run:%s", leaked);
}

GST_END_TEST;

/* The reference ends first: the rest of the distorted frames pass,
 * skipped; the distorted stream ends first: EOS at once. */
GST_START_TEST (test_either_pad_ends_first)
{
  const GstClockTime d = GST_SECOND / 30;
  for (guint which = 0; which < 2; which++) {
    leaks_start ();
    Run *r = run_new ("metrics=mse+inv-ssim batch-size=2", NULL, NULL);
    run_set_caps (r, SMALL ", framerate=30/1", SMALL ", framerate=30/1");
    gst_element_set_state (r->pipeline, GST_STATE_PLAYING);
    const guint n_ref = which == 0 ? 3 : 8, n_dist = which == 0 ? 7 : 2;
    for (guint k = 0; k < n_ref; k++)
      push (r->ref, flat (32, 24, 50), k * d, d);
    gst_app_src_end_of_stream (r->ref);
    for (guint i = 0; i < n_dist; i++)
      push (r->dist, flat (32, 24, 50), i * d, d);
    gst_app_src_end_of_stream (r->dist);
    run_wait (r);
    check_all_out (r, n_dist);
    for (guint i = 0; i < n_dist; i++) {
      if (i < n_ref) {
        fail_unless_equals_string (status (r, i), "ok");
        fail_unless (isinf (field (result (r, i), "psnr")));
        fail_unless (field (result (r, i), "ssim") == 1.0);
      } else {
        fail_unless_equals_string (status (r, i), "skipped");
        fail_unless_equals_string (gst_structure_get_string (result (r, i), "reason"),
            "the reference stream ended before this frame");
      }
    }
    run_free (r);
    gchar *leaked = leaks_stop ();
    fail_unless (leaked == NULL, "alive after the run:%s", leaked);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Caps                                                                     */
/* ------------------------------------------------------------------------ */

GST_START_TEST (test_size_mismatch_is_not_negotiated)
{
  leaks_start ();
  Run *r = run_new ("metrics=mse", NULL, NULL);
  run_set_caps (r, "video/x-raw, format=GRAY8, width=32, height=24, framerate=30/1",
      "video/x-raw, format=GRAY8, width=48, height=24, framerate=30/1");
  gst_element_set_state (r->pipeline, GST_STATE_PLAYING);
  push (r->ref, flat (32, 24, 1), 0, GST_SECOND / 30);
  push (r->dist, flat (48, 24, 1), 0, GST_SECOND / 30);
  gst_app_src_end_of_stream (r->ref);
  gst_app_src_end_of_stream (r->dist);
  run_wait (r);
  fail_unless (r->error != NULL, "no error for different sizes");
  fail_unless (g_error_matches (r->error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION),
      "%s", r->error->message);
  fail_unless (strstr (r->error_debug, "width=(int)32") && strstr (r->error_debug,
          "width=(int)48"), "the error does not name both caps: %s", r->error_debug);
  run_free (r);
  gchar *leaked = leaks_stop ();
  fail_unless (leaked == NULL, "alive after the run:%s", leaked);
}

GST_END_TEST;

/* Both pads change size midway (each in its own stream order): the pairs
 * before and after compare frames of their own size. */
GST_START_TEST (test_caps_change_on_both_pads)
{
  leaks_start ();
  Run *r = run_new ("metrics=mse+inv-ssim batch-size=4", NULL, NULL);
  run_set_caps (r, SMALL ", framerate=30/1", SMALL ", framerate=30/1");
  gst_element_set_state (r->pipeline, GST_STATE_PLAYING);
  const GstClockTime d = GST_SECOND / 30;
  GstCaps *big = gst_caps_from_string ("video/x-raw, format=GRAY8, width=40, height=30, "
      "framerate=30/1");
  for (guint k = 0; k < 6; k++) {
    GstAppSrc *srcs[2] = { r->ref, r->dist };
    for (guint p = 0; p < 2; p++) {
      const gboolean large = k >= 3;
      GstBuffer *b = flat (large ? 40 : 32, large ? 30 : 24, (guint8) (p == 0 ? 100 : 100 + k));
      GST_BUFFER_PTS (b) = k * d;
      GST_BUFFER_DURATION (b) = d;
      if (large) {
        GstSample *sample = gst_sample_new (b, big, NULL, NULL);
        fail_unless_equals_int (gst_app_src_push_sample (srcs[p], sample), GST_FLOW_OK);
        gst_sample_unref (sample);
        gst_buffer_unref (b);
      } else {
        push (srcs[p], b, k * d, d);
      }
    }
  }
  gst_caps_unref (big);
  gst_app_src_end_of_stream (r->ref);
  gst_app_src_end_of_stream (r->dist);
  run_wait (r);
  check_all_out (r, 6);
  for (guint i = 0; i < 6; i++) {
    fail_unless_equals_string (status (r, i), "ok");
    fail_unless (field (result (r, i), "mse") == (gdouble) (i * i), "frame %u: mse %g", i,
        field (result (r, i), "mse"));
  }
  run_free (r);
  gchar *leaked = leaks_stop ();
  fail_unless (leaked == NULL, "alive after the run:%s", leaked);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Flushes and state changes                                                */
/* ------------------------------------------------------------------------ */

#define TESTSRC(pattern) "videotestsrc pattern=" pattern " num-buffers=45 ! " \
    "video/x-raw, format=GRAY8, width=64, height=48, framerate=30/1"

/* Flushing seeks while playing (held frames are dropped, as a queue does):
 * the comparison goes on after each, every buffer at the sink has its
 * result, nothing stays alive. */
GST_START_TEST (test_flushing_seeks)
{
  leaks_start ();
  Run *r = run_new ("metrics=mse+inv-ssim batch-size=4", TESTSRC ("ball"), TESTSRC ("snow"));
  gst_element_set_state (r->pipeline, GST_STATE_PLAYING);
  fail_unless_equals_int (gst_element_get_state (r->pipeline, NULL, NULL, 10 * GST_SECOND),
      GST_STATE_CHANGE_SUCCESS);
  for (guint k = 0; k < 2; k++) {
    g_usleep (200 * 1000);
    fail_unless (gst_element_seek_simple (r->pipeline, GST_FORMAT_TIME,
            (GstSeekFlags) (GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE), GST_SECOND / 2));
  }
  run_wait (r);
  fail_unless (r->error == NULL, "error: %s", r->error ? r->error->message : "");
  fail_unless (r->eos);
  fail_unless (r->out_pts->len > 0);
  fail_unless_equals_int (r->out_with_meta, r->out_pts->len);
  /* The last stretch (after the last seek) is complete and in order. */
  guint64 frames;
  fail_unless (gst_structure_get_uint64 (r->summary, "frames", &frames));
  guint ok = 0;
  for (guint i = 0; i < r->results->len; i++)
    ok += g_str_equal (status (r, i), "ok");
  fail_unless_equals_uint64 (frames, ok);
  run_free (r);
  gchar *leaked = leaks_stop ();
  fail_unless (leaked == NULL, "alive after the run:%s", leaked);
}

GST_END_TEST;

/* Stopping mid-stream with frames held, and starting again. */
GST_START_TEST (test_state_changes_mid_stream)
{
  leaks_start ();
  for (guint k = 0; k < 3; k++) {
    Run *r = run_new ("metrics=mse batch-size=16", NULL, NULL);
    run_set_caps (r, SMALL ", framerate=30/1", SMALL ", framerate=30/1");
    gst_element_set_state (r->pipeline, GST_STATE_PLAYING);
    for (guint i = 0; i < 5; i++) {
      push (r->ref, flat (32, 24, 1), i * GST_SECOND / 30, GST_SECOND / 30);
      push (r->dist, flat (32, 24, 2), i * GST_SECOND / 30, GST_SECOND / 30);
    }
    g_usleep (100 * 1000);
    gst_element_set_state (r->pipeline, k == 1 ? GST_STATE_READY : GST_STATE_NULL);
    run_free (r);
  }
  gchar *leaked = leaks_stop ();
  fail_unless (leaked == NULL, "alive after the runs:%s", leaked);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */

/* What lives for the whole process (plugin, types, metas, the elements'
 * classes) is made before Check forks, so each test's leak check sees only
 * its own objects. No Check assertions here (they need a running test). */
static void
warm_up (void)
{
  gst_object_unref (gst_system_clock_obtain ());
  GstElement *app = gst_element_factory_make ("appsrc", NULL);
  if (app)
    gst_object_unref (gst_object_ref_sink (app));
  GstElement *p = gst_parse_launch ("s2scompare name=c device=cpu metrics=mse ! fakesink "
      TESTSRC ("ball") " ! c.reference " TESTSRC ("snow") " ! c.distorted", NULL);
  if (!p)
    return;
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      (GstMessageType) (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (msg)
    gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  /* Threads do not survive Check's fork: no task pool and no idle GLib
   * pool threads may be left for a test to hand its tasks to. */
  gst_task_cleanup_all ();
  g_thread_pool_set_max_unused_threads (0);
  g_thread_pool_stop_unused_threads ();
  while (g_thread_pool_get_num_unused_threads () > 0)
    g_usleep (1000);
}

static Suite *
s2scompare_suite (void)
{
  Suite *s = suite_create ("s2scompare");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 300);
  warm_up ();
  tcase_add_test (tc, test_values_match_references);
  if (g_getenv ("S2S_LPIPS_WEIGHTS"))
    tcase_add_test (tc, test_lpips_matches_lpips_package);
  else
    g_print ("SKIP: test_lpips_matches_lpips_package: no LPIPS test weights in this build\n");
  tcase_add_test (tc, test_different_rates);
  tcase_add_test (tc, test_gaps_and_missing_reference);
  tcase_add_test (tc, test_either_pad_ends_first);
  tcase_add_test (tc, test_size_mismatch_is_not_negotiated);
  tcase_add_test (tc, test_caps_change_on_both_pads);
  tcase_add_test (tc, test_flushing_seeks);
  tcase_add_test (tc, test_state_changes_mid_stream);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (s2scompare);
