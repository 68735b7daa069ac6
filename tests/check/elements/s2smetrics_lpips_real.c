/* s2smetrics with the real LPIPS weights, found where it looks by default
 * (no lpips-model set): its lpips values against the `lpips` package given
 * the same weights and the same cv2.resize input, on natural images
 * (tests/lpips/lpips_real_reference.py: scikit-image's data images in pairs,
 * blurred, with noise, after JPEG, shifted), within 1e-5.
 *
 * SKIP (77) when the weights are absent: scripts/setup.sh downloads their
 * source, and a machine without network has none.
 *
 * Env: S2S_LPIPS_REAL_DIR (lpips-real-cases.txt and frames),
 * S2S_LPIPS_DEFAULT_WEIGHTS (where this build puts them). */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2s_check.h"

#define MAX_FRAMES 64
#define MAX_CASES 8
#define TOLERANCE 1e-5

typedef struct
{
  gchar name[64], format[16];
  guint width, height, size, n;
  gchar files[MAX_FRAMES][128];
  gchar what[MAX_FRAMES][128];
  gdouble expected[MAX_FRAMES];
} RealCase;

static RealCase cases[MAX_CASES];
static guint n_cases;

static void
load_cases (void)
{
  if (n_cases > 0)
    return;
  gchar *path = g_build_filename (g_getenv ("S2S_LPIPS_REAL_DIR"), "lpips-real-cases.txt", NULL);
  FILE *f = fopen (path, "r");
  fail_unless (f != NULL, "cannot open %s", path);
  g_free (path);
  gchar line[512];
  while (fgets (line, sizeof line, f)) {
    RealCase *c = n_cases ? &cases[n_cases - 1] : NULL;
    guint i;
    gchar word[256], what[128];
    if (n_cases < MAX_CASES && sscanf (line, "case %63s %15s %u %u %u %u", cases[n_cases].name,
            cases[n_cases].format, &cases[n_cases].width, &cases[n_cases].height,
            &cases[n_cases].size, &cases[n_cases].n) == 6) {
      fail_unless (cases[n_cases].n <= MAX_FRAMES);
      for (i = 0; i < MAX_FRAMES; i++)
        cases[n_cases].expected[i] = NAN;
      n_cases++;
    } else if (c && sscanf (line, "frame %u %127s", &i, word) == 2 && i < MAX_FRAMES) {
      g_strlcpy (c->files[i], word, sizeof c->files[i]);
    } else if (c && sscanf (line, "pair %u %255s %127s", &i, word, what) == 3 && i < MAX_FRAMES) {
      c->expected[i] = g_ascii_strtod (word, NULL);
      g_strlcpy (c->what[i], what, sizeof c->what[i]);
    }
  }
  fclose (f);
  fail_unless (n_cases > 0, "no cases");
}

/* The element's default lpips-model (what gst-inspect-1.0 shows). */
static gchar *
default_model (void)
{
  GstElement *e = gst_element_factory_make ("s2smetrics", NULL);
  if (!e)
    return NULL;
  GParamSpec *spec = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "lpips-model");
  gchar *path = g_strdup (G_PARAM_SPEC_STRING (spec)->default_value);
  gst_object_unref (e);
  return path;
}

GST_START_TEST (test_default_is_the_build_trees_weights)
{
  /* The plugin runs from its build directory here: its default is the copy
   * meson made in the build tree, and a new element starts with it. */
  gchar *path = default_model ();
  fail_unless (path != NULL);
  fail_unless_equals_string (path, g_getenv ("S2S_LPIPS_DEFAULT_WEIGHTS"));
  GstElement *e = gst_element_factory_make ("s2smetrics", NULL);
  gchar *value;
  g_object_get (e, "lpips-model", &value, NULL);
  fail_unless_equals_string (value, path);
  g_free (value);
  gst_object_unref (e);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_default_weights_match_lpips_package)
{
  gdouble worst = 0;
  guint pairs = 0;
  load_cases ();
  for (guint k = 0; k < n_cases; k++) {
    const RealCase *c = &cases[k];
    gdouble lpips[MAX_FRAMES];
    /* The defaults, as a user's pipeline: all three metrics, batch 16, the
     * default model; only the device is pinned (this suite tests the CPU). */
    GstHarness *h = gst_harness_new_parse ("s2smetrics device=cpu");
    GstBus *bus = gst_bus_new ();
    gst_element_set_bus (h->element, bus);
    GstVideoInfo info;
    gst_video_info_set_format (&info, gst_video_format_from_string (c->format), c->width,
        c->height);
    gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
    for (guint i = 0; i < c->n; i++) {
      lpips[i] = NAN;
      fail_unless_equals_int (gst_harness_push (h, s2s_check_buffer_from_rows
              ("S2S_LPIPS_REAL_DIR", c->files[i], &info, i * GST_SECOND / 30, GST_SECOND / 30)),
          GST_FLOW_OK);
    }
    fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
    fail_unless_equals_int (gst_harness_buffers_received (h), c->n);
    GstMessage *msg;
    while ((msg = gst_bus_pop (bus))) {
      fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "unexpected error");
      fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING, "unexpected warning");
      const GstStructure *s = gst_message_get_structure (msg);
      guint64 frame;
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && gst_structure_has_name (s, "s2smetrics")) {
        fail_unless (gst_structure_get_uint64 (s, "frame", &frame) && frame < c->n);
        fail_unless (gst_structure_get_double (s, "lpips", &lpips[frame]));
        fail_unless_equals_string (gst_structure_get_string (s, "status"), "ok");
      }
      gst_message_unref (msg);
    }
    gst_element_set_bus (h->element, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);

    fail_unless (isnan (lpips[0]), "%s: the first frame has a result", c->name);
    for (guint i = 1; i < c->n; i++) {
      const gdouble diff = fabs (lpips[i] - c->expected[i]);
      fail_unless (diff <= TOLERANCE, "%s pair %u (%s): lpips %.9g, lpips package %.9g, "
          "|diff| %.3g > %g", c->name, i, c->what[i], lpips[i], c->expected[i], diff, TOLERANCE);
      worst = MAX (worst, diff);
      pairs++;
    }
  }
  /* Printed for docs/metrics.md. */
  printf ("lpips, real weights: %u pairs, worst |ours - lpips package| = %.3g\n", pairs, worst);
}

GST_END_TEST;

static Suite *
s2smetrics_lpips_real_suite (void)
{
  Suite *s = suite_create ("s2smetrics-lpips-real");
  TCase *tc = tcase_create ("lpips-real");
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, test_default_is_the_build_trees_weights);
  tcase_add_test (tc, test_default_weights_match_lpips_package);
  suite_add_tcase (s, tc);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  const gchar *weights = g_getenv ("S2S_LPIPS_DEFAULT_WEIGHTS");
  if (!g_getenv ("S2S_LPIPS_REAL_DIR") || !weights || !g_file_test (weights, G_FILE_TEST_IS_REGULAR)) {
    printf ("SKIP: no real LPIPS weights in this build (%s); scripts/setup.sh downloads their "
        "source (docs/models.md)\n", weights && *weights ? weights : "none at configure time");
    return 77;
  }
  s2s_check_preload (TRUE);
  return gst_check_run_suite (s2smetrics_lpips_real_suite (), "s2smetrics_lpips_real", __FILE__);
}
