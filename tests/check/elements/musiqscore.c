/* musiqscore: scores against pyiqa's own MUSIQ on identical random weights
 * and frames (tests/musiq), batch-size invariance, interval, the summary,
 * and the model errors of docs/interface.md (missing: NOT_FOUND, corrupt:
 * READ, both at READY->PAUSED, naming the path).
 *
 * Env: S2S_MUSIQ_DIR (frames, musiq-koniq10k-seed1.txt), S2S_MUSIQ_WEIGHTS. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "s2s_check.h"

#define MAX_FRAMES 4
#define MAX_CASES 8

typedef struct
{
  gchar name[64], format[16];
  guint width, height, n;
  gchar files[MAX_FRAMES][128];
  gdouble expected[MAX_FRAMES];
} MusiqCase;

static MusiqCase cases[MAX_CASES];
static guint n_cases;

/* Called inside tests: Check's assertions need a running test. */
static void
load_cases (void)
{
  if (n_cases > 0)
    return;
  const gchar *dir = g_getenv ("S2S_MUSIQ_DIR");
  fail_unless (dir != NULL, "S2S_MUSIQ_DIR not set");
  gchar *path = g_build_filename (dir, "musiq-koniq10k-seed1.txt", NULL);
  FILE *f = fopen (path, "r");
  fail_unless (f != NULL, "cannot open %s", path);
  g_free (path);
  gchar line[512], file[128], score[64];
  guint i;
  while (fgets (line, sizeof line, f) && n_cases < MAX_CASES) {
    MusiqCase *c = &cases[n_cases];
    if (sscanf (line, "case %63s %15s %u %u %u", c->name, c->format, &c->width, &c->height,
            &c->n) == 5) {
      n_cases++;
    } else if (n_cases > 0 && sscanf (line, "frame %u %127s %63s", &i, file, score) == 3
        && i < MAX_FRAMES) {
      MusiqCase *prev = &cases[n_cases - 1];
      g_strlcpy (prev->files[i], file, sizeof prev->files[i]);
      prev->expected[i] = g_ascii_strtod (score, NULL);
    }
  }
  fclose (f);
  fail_unless (n_cases > 0, "no cases");
}

static GstBuffer *
frame_buffer (const MusiqCase * c, guint i, const GstVideoInfo * info)
{
  return s2s_check_buffer_from_rows ("S2S_MUSIQ_DIR", c->files[i], info, i * GST_SECOND / 25,
      GST_SECOND / 25);
}

/* Pushes a case (repeated `loops` times) and returns the score of each
 * frame index in scores[] (NaN where no message); *summary_frames from the
 * summary. */
static void
run_case (const MusiqCase * c, const gchar * props, guint loops, gdouble * scores,
    guint64 * summary_frames)
{
  gchar *launch = g_strdup_printf ("musiqscore device=cpu model=\"%s\" %s",
      g_getenv ("S2S_MUSIQ_WEIGHTS"), props);
  GstHarness *h = gst_harness_new_parse (launch);
  g_free (launch);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  GstVideoInfo info;
  gst_video_info_set_format (&info, gst_video_format_from_string (c->format), c->width,
      c->height);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  const guint total = c->n * loops;
  for (guint k = 0; k < total; k++) {
    scores[k] = NAN;
    fail_unless_equals_int (gst_harness_push (h, frame_buffer (c, k % c->n, &info)),
        GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (gst_harness_buffers_received (h), total);

  /* Output buffers in order; a meta on exactly the scored frames. */
  gboolean has_meta[MAX_FRAMES * 2];
  for (guint k = 0; k < total; k++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), (k % c->n) * GST_SECOND / 25);
    GstCustomMeta *meta = gst_buffer_get_custom_meta (out, "MusiqScoreMeta");
    has_meta[k] = meta != NULL;
    if (meta) {
      gdouble meta_score;
      fail_unless (gst_structure_get_double (gst_custom_meta_get_structure (meta), "score",
              &meta_score));
      scores[k] = meta_score;   /* checked against the message below */
    }
    gst_buffer_unref (out);
  }

  GstMessage *msg;
  gboolean has_message[MAX_FRAMES * 2] = { FALSE };
  *summary_frames = G_MAXUINT64;
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR))) {
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "unexpected error");
    const GstStructure *s = gst_message_get_structure (msg);
    if (gst_structure_has_name (s, "musiqscore")) {
      guint64 frame;
      fail_unless (gst_structure_get_uint64 (s, "frame", &frame));
      fail_unless (frame < total);
      gdouble score;
      fail_unless (gst_structure_get_double (s, "score", &score));
      fail_unless (has_meta[frame], "frame %" G_GUINT64_FORMAT " has a message but no meta", frame);
      fail_unless (score == scores[frame], "meta %.17g != message %.17g", scores[frame], score);
      has_message[frame] = TRUE;
      fail_unless_equals_string (gst_structure_get_string (s, "model"), "koniq10k");
      fail_unless_equals_string (gst_structure_get_string (s, "status"), "ok");
    } else if (gst_structure_has_name (s, "musiqscore-summary")) {
      fail_unless (gst_structure_get_uint64 (s, "frames", summary_frames));
    }
    gst_message_unref (msg);
  }
  for (guint k = 0; k < total; k++)
    fail_unless (has_meta[k] == has_message[k], "frame %u: meta %d, message %d", k, has_meta[k],
        has_message[k]);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_START_TEST (test_scores_match_pyiqa)
{
  load_cases ();
  gdouble worst = 0;
  for (guint k = 0; k < n_cases; k++) {
    const MusiqCase *c = &cases[k];
    if (c->width * c->height > 700 * 400)
      continue;                 /* the 720p case is the engine test's (time) */
    gdouble one[MAX_FRAMES], batch[MAX_FRAMES];
    guint64 frames_one, frames_batch;
    run_case (c, "batch-size=1", 1, one, &frames_one);
    run_case (c, "batch-size=8", 1, batch, &frames_batch);
    fail_unless_equals_uint64 (frames_one, c->n);
    fail_unless_equals_uint64 (frames_batch, c->n);
    for (guint i = 0; i < c->n; i++) {
      const gdouble rel = fabs (batch[i] - c->expected[i]) / fabs (c->expected[i]);
      worst = MAX (worst, rel);
      fail_unless (rel <= 1e-4, "%s frame %u: score %.9g, pyiqa %.9g", c->name, i, batch[i],
          c->expected[i]);
      fail_unless (fabs (one[i] - batch[i]) <= 1e-5 * fabs (batch[i]),
          "%s frame %u: batch 1 %.9g, batch 8 %.9g", c->name, i, one[i], batch[i]);
    }
  }
  GST_INFO ("worst relative difference to pyiqa: %g", worst);
}

GST_END_TEST;

GST_START_TEST (test_interval)
{
  load_cases ();
  const MusiqCase *c = &cases[0];
  gdouble scores[MAX_FRAMES * 2];
  guint64 frames;
  run_case (c, "interval=2", 2, scores, &frames);
  const guint total = c->n * 2;
  guint scored = 0;
  for (guint k = 0; k < total; k++) {
    if (k % 2 == 0) {
      fail_if (isnan (scores[k]), "frame %u should be scored", k);
      fail_unless (fabs (scores[k] - c->expected[k % c->n]) <= 1e-4 * fabs (c->expected[k % c->n]));
      scored++;
    } else {
      fail_unless (isnan (scores[k]), "frame %u should pass unscored", k);
    }
  }
  fail_unless_equals_uint64 (frames, scored);
}

GST_END_TEST;

/* READY->PAUSED with `model`; returns the ERROR message (or NULL). */
static GstMessage *
start_error (const gchar * model, GstStateChangeReturn * ret)
{
  GstElement *e = gst_element_factory_make ("musiqscore", NULL);
  fail_unless (e != NULL);
  g_object_set (e, "device", 2 /* cpu */ , "model", model, NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  *ret = gst_element_set_state (e, GST_STATE_PAUSED);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  return msg;
}

static void
check_error (GstMessage * msg, GstResourceError code, const gchar * path, const gchar * debug_has)
{
  fail_unless (msg != NULL, "no ERROR");
  GError *err;
  gchar *debug;
  gst_message_parse_error (msg, &err, &debug);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, code), "%s", err->message);
  fail_unless (strstr (err->message, path) != NULL, "%s", err->message);
  if (debug_has)
    fail_unless (debug && strstr (debug, debug_has) != NULL, "%s", debug);
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
}

GST_START_TEST (test_missing_model)
{
  GstStateChangeReturn ret;
  GstMessage *msg = start_error ("/nonexistent/musiq.safetensors", &ret);
  fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  check_error (msg, GST_RESOURCE_ERROR_NOT_FOUND, "/nonexistent/musiq.safetensors", NULL);
}

GST_END_TEST;

GST_START_TEST (test_corrupt_model)
{
  gchar *data;
  gsize len;
  fail_unless (g_file_get_contents (g_getenv ("S2S_MUSIQ_WEIGHTS"), &data, &len, NULL));
  gchar *path = g_build_filename (g_get_tmp_dir (), "s2s-truncated-musiq.safetensors", NULL);
  fail_unless (g_file_set_contents (path, data, len / 3, NULL));
  g_free (data);
  GstStateChangeReturn ret;
  GstMessage *msg = start_error (path, &ret);
  fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  check_error (msg, GST_RESOURCE_ERROR_READ, path, "tensor");
  g_unlink (path);
  g_free (path);
}

GST_END_TEST;

static Suite *
musiqscore_suite (void)
{
  Suite *s = suite_create ("musiqscore");
  s2s_check_preload (TRUE);
  TCase *tc = tcase_create ("musiq");
  tcase_set_timeout (tc, 900);
  tcase_add_test (tc, test_scores_match_pyiqa);
  tcase_add_test (tc, test_interval);
  tcase_add_test (tc, test_missing_model);
  tcase_add_test (tc, test_corrupt_model);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (musiqscore);
