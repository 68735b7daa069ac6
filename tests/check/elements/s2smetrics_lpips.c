/* s2smetrics with LPIPS: the element's lpips values against the `lpips`
 * package on identical random weights and frames (tests/lpips), the
 * weighted sum with gamma, batch-size invariance, and the model errors of
 * docs/interface.md: a missing model is a WARNING (the other metrics still
 * run), a corrupt one an ERROR naming the file and tensor.
 *
 * Env: S2S_LPIPS_DIR (lpips-cases.txt and frames), S2S_LPIPS_WEIGHTS. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2s_check.h"

#define MAX_FRAMES 8

typedef struct
{
  gchar name[64], format[16];
  guint width, height, size, n;
  gchar files[MAX_FRAMES][128];
  gdouble expected[MAX_FRAMES];
} LpipsCase;

static LpipsCase cases[16];
static guint n_cases;

/* Called from the tests (Check's assertions only work inside one). */
static void
load_cases (void)
{
  if (n_cases > 0)
    return;
  const gchar *dir = g_getenv ("S2S_LPIPS_DIR");
  fail_unless (dir != NULL, "S2S_LPIPS_DIR not set");
  gchar *path = g_build_filename (dir, "lpips-cases.txt", NULL);
  FILE *f = fopen (path, "r");
  fail_unless (f != NULL, "cannot open %s", path);
  g_free (path);
  gchar line[512];
  n_cases = 0;
  while (fgets (line, sizeof line, f)) {
    LpipsCase *c = n_cases ? &cases[n_cases - 1] : NULL;
    guint i;
    gchar word[256];
    if (sscanf (line, "case %63s %15s %u %u %u %u", cases[n_cases].name, cases[n_cases].format,
            &cases[n_cases].width, &cases[n_cases].height, &cases[n_cases].size,
            &cases[n_cases].n) == 6) {
      for (i = 0; i < MAX_FRAMES; i++)
        cases[n_cases].expected[i] = NAN;
      n_cases++;
    } else if (c && sscanf (line, "frame %u %127s", &i, word) == 2 && i < MAX_FRAMES) {
      g_strlcpy (c->files[i], word, sizeof c->files[i]);
    } else if (c && sscanf (line, "pair %u %255s", &i, word) == 2 && i < MAX_FRAMES) {
      c->expected[i] = g_ascii_strtod (word, NULL);
    }
  }
  fclose (f);
  fail_unless (n_cases > 0);
}

static GstBuffer *
frame_buffer (const LpipsCase * c, guint i, const GstVideoInfo * info)
{
  return s2s_check_buffer_from_rows ("S2S_LPIPS_DIR", c->files[i], info, i * GST_SECOND / 30,
      GST_SECOND / 30);
}

/* Runs one case through the element; fills lpips[] and weighted[] per frame
 * (NaN where there is no message). */
static void
run_case (const LpipsCase * c, guint batch, const gchar * extra, gdouble * lpips,
    gdouble * weighted, gdouble * mse, gdouble * inv_ssim)
{
  gchar *launch = g_strdup_printf ("s2smetrics device=cpu batch-size=%u lpips-size=%u "
      "lpips-model=\"%s\" %s", batch, c->size, g_getenv ("S2S_LPIPS_WEIGHTS"), extra);
  GstHarness *h = gst_harness_new_parse (launch);
  g_free (launch);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  GstVideoInfo info;
  gst_video_info_set_format (&info, gst_video_format_from_string (c->format), c->width,
      c->height);
  GstCaps *caps = gst_video_info_to_caps (&info);
  gst_harness_set_src_caps (h, caps);
  for (guint i = 0; i < c->n; i++) {
    lpips[i] = weighted[i] = mse[i] = inv_ssim[i] = NAN;
    fail_unless_equals_int (gst_harness_push (h, frame_buffer (c, i, &info)), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (gst_harness_buffers_received (h), c->n);

  GstMessage *msg;
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR))) {
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "unexpected error");
    const GstStructure *s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, "s2smetrics")) {
      guint64 frame;
      fail_unless (gst_structure_get_uint64 (s, "frame", &frame));
      fail_unless (frame < c->n);
      gst_structure_get_double (s, "lpips", &lpips[frame]);
      gst_structure_get_double (s, "weighted", &weighted[frame]);
      gst_structure_get_double (s, "mse", &mse[frame]);
      gst_structure_get_double (s, "inv-ssim", &inv_ssim[frame]);
      fail_unless_equals_string (gst_structure_get_string (s, "status"), "ok");
    }
    gst_message_unref (msg);
  }
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_START_TEST (test_lpips_matches_reference)
{
  gdouble worst = 0;
  load_cases ();
  for (guint k = 0; k < n_cases; k++) {
    const LpipsCase *c = &cases[k];
    gdouble l1[MAX_FRAMES], w1[MAX_FRAMES], m1[MAX_FRAMES], s1[MAX_FRAMES];
    gdouble l16[MAX_FRAMES], w16[MAX_FRAMES], m16[MAX_FRAMES], s16[MAX_FRAMES];
    run_case (c, 1, "", l1, w1, m1, s1);
    run_case (c, 16, "alpha=0.5 beta=0.3 gamma=0.2", l16, w16, m16, s16);
    fail_unless (isnan (l1[0]) && isnan (l16[0]), "%s: first frame has a result", c->name);
    for (guint i = 1; i < c->n; i++) {
      const gdouble diff = fabs (l16[i] - c->expected[i]);
      worst = MAX (worst, diff);
      fail_unless (diff <= 1e-4, "%s frame %u: lpips %.9g, lpips package %.9g", c->name, i,
          l16[i], c->expected[i]);
      fail_unless (fabs (l1[i] - l16[i]) <= 1e-6, "%s frame %u: batch 1 %.9g, batch 16 %.9g",
          c->name, i, l1[i], l16[i]);
      /* weighted = (alpha*mse + beta*inv_ssim) + gamma*lpips, in double */
      const gdouble w = (0.5 * m16[i] + 0.3 * s16[i]) + 0.2 * l16[i];
      fail_unless (w == w16[i], "%s frame %u: weighted %.17g, expected %.17g", c->name, i,
          w16[i], w);
    }
  }
  GST_INFO ("worst |lpips - lpips package| %g", worst);
}

GST_END_TEST;

/* Collects the first message of a type from a pipeline-less start. */
static GstMessage *
start_and_collect (const gchar * model, GstStateChangeReturn * ret, GstMessageType type)
{
  GstElement *e = gst_element_factory_make ("s2smetrics", NULL);
  g_object_set (e, "device", 2 /* cpu */ , "lpips-model", model, NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  *ret = gst_element_set_state (e, GST_STATE_PAUSED);
  GstMessage *msg = gst_bus_pop_filtered (bus, type);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  return msg;
}

GST_START_TEST (test_missing_model_warns)
{
  GstStateChangeReturn ret;
  GstMessage *msg = start_and_collect ("/nonexistent/lpips.safetensors", &ret,
      GST_MESSAGE_WARNING);
  fail_unless (ret != GST_STATE_CHANGE_FAILURE, "a missing model must not fail the start");
  fail_unless (msg != NULL, "no WARNING for a missing model");
  GError *err;
  gchar *debug;
  gst_message_parse_warning (msg, &err, &debug);
  fail_unless (strstr (err->message, "/nonexistent/lpips.safetensors") != NULL, "%s",
      err->message);
  fail_unless (strstr (debug, "docs/models.md") != NULL, "%s", debug);
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
}

GST_END_TEST;

GST_START_TEST (test_corrupt_model_errors)
{
  /* Truncate a valid file: the data of the last tensors is missing. */
  gchar *data;
  gsize len;
  fail_unless (g_file_get_contents (g_getenv ("S2S_LPIPS_WEIGHTS"), &data, &len, NULL));
  gchar *path = g_build_filename (g_get_tmp_dir (), "s2s-truncated-lpips.safetensors", NULL);
  fail_unless (g_file_set_contents (path, data, len / 2, NULL));
  g_free (data);

  GstStateChangeReturn ret;
  GstMessage *msg = start_and_collect (path, &ret, GST_MESSAGE_ERROR);
  fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  fail_unless (msg != NULL, "no ERROR for a corrupt model");
  GError *err;
  gchar *debug;
  gst_message_parse_error (msg, &err, &debug);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ), "%s",
      err->message);
  fail_unless (strstr (err->message, path) != NULL, "%s", err->message);
  fail_unless (strstr (debug, "tensor") != NULL, "debug should name the tensor: %s", debug);
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
  g_unlink (path);
  g_free (path);
}

GST_END_TEST;

static Suite *
s2smetrics_lpips_suite (void)
{
  Suite *s = suite_create ("s2smetrics-lpips");
  TCase *tc = tcase_create ("lpips");
  tcase_set_timeout (tc, 600);
  s2s_check_preload (TRUE);
  tcase_add_test (tc, test_lpips_matches_reference);
  tcase_add_test (tc, test_missing_model_warns);
  tcase_add_test (tc, test_corrupt_model_errors);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (s2smetrics_lpips);
