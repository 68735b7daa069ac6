/* The networks' module (models/torch_backend.h): LibTorch is loaded by the
 * first element that starts a network, never by the plugin itself, and
 * where it cannot be loaded the elements say so and lose nothing.
 *
 * Each test needs a process of its own (the module loads once per process,
 * and S2S_TORCH_MODULE is read then): Check's default fork mode gives that,
 * so this suite refuses CK_FORK=no.
 *
 * Env: S2S_LPIPS_WEIGHTS, S2S_MUSIQ_WEIGHTS (random-weight test models). */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <math.h>
#include <string.h>

#define WIDTH 64
#define HEIGHT 48
#define N_FRAMES 6

/* Whether a shared object whose file name contains `name` is mapped into
 * this process (read from the kernel, not from the plugin). */
static gboolean
mapped (const gchar * name)
{
  gchar *maps = NULL;
  fail_unless (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  const gboolean found = strstr (maps, name) != NULL;
  g_free (maps);
  return found;
}

/* Frame i: seeded noise, so consecutive frames differ everywhere. */
static void
fill_frame (guint8 * data, guint i)
{
  GRand *rand = g_rand_new_with_seed (1000 + i);
  for (guint k = 0; k < WIDTH * HEIGHT; k++)
    data[k] = (guint8) g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);
}

static gdouble
reference_mse (guint i)
{
  guint8 a[WIDTH * HEIGHT], b[WIDTH * HEIGHT];
  fill_frame (a, i - 1);
  fill_frame (b, i);
  gdouble sum = 0;
  for (guint k = 0; k < WIDTH * HEIGHT; k++)
    sum += ((gdouble) a[k] - b[k]) * ((gdouble) a[k] - b[k]);
  return sum / (WIDTH * HEIGHT);
}

typedef struct
{
  guint buffers;                /* received downstream, in order, timestamps intact */
  guint results;                /* per-frame messages */
  guint warnings, errors;
  gdouble mse[N_FRAMES];
  gchar *status[N_FRAMES];
  GstMessage *first_warning;
  GstMessage *first_error;
} Run;

/* Pushes N_FRAMES GRAY8 frames through `launch`, checks every buffer comes
 * out with its timestamps, and collects the messages. */
static void
run_frames (const gchar * launch, const gchar * message_name, Run * run)
{
  memset (run, 0, sizeof *run);
  /* The bus goes on before the harness starts the element. */
  GstElement *element = gst_parse_launch (launch, NULL);
  fail_unless (element != NULL, "cannot make %s", launch);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (element, bus);
  GstHarness *h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=GRAY8,width=64,height=48,framerate=25/1");
  for (guint i = 0; i < N_FRAMES; i++) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, WIDTH * HEIGHT, NULL);
    GstMapInfo map;
    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    fill_frame (map.data, i);
    gst_buffer_unmap (buf, &map);
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 25;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 25;
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
    run->mse[i] = NAN;
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  for (guint i = 0; i < N_FRAMES; i++) {
    GstBuffer *out = gst_harness_pull (h);
    fail_unless (out != NULL, "frame %u lost", i);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND / 25);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND / 25);
    gst_buffer_unref (out);
    run->buffers++;
  }

  GstMessage *msg;
  while ((msg = gst_bus_pop (bus))) {
    const GstStructure *s = gst_message_get_structure (msg);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING && run->warnings++ == 0) {
      run->first_warning = msg;
      continue;
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && run->errors++ == 0) {
      run->first_error = msg;
      continue;
    }
    guint64 frame;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && gst_structure_has_name (s, message_name)
        && gst_structure_get_uint64 (s, "frame", &frame) && frame < N_FRAMES) {
      run->results++;
      gst_structure_get_double (s, "mse", &run->mse[frame]);
      run->status[frame] = g_strdup (gst_structure_get_string (s, "status"));
    }
    gst_message_unref (msg);
  }
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

static void
run_clear (Run * run)
{
  for (guint i = 0; i < N_FRAMES; i++)
    g_free (run->status[i]);
  if (run->first_warning)
    gst_message_unref (run->first_warning);
  if (run->first_error)
    gst_message_unref (run->first_error);
}

/* Asserts `msg` is a WARNING or ERROR of RESOURCE/NOT_FOUND whose texts
 * contain each of the given strings (NULL-terminated). */
static void
assert_not_found (GstMessage * msg, ...)
{
  fail_unless (msg != NULL, "expected a WARNING or ERROR");
  GError *err = NULL;
  gchar *debug = NULL;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    gst_message_parse_error (msg, &err, &debug);
  else
    gst_message_parse_warning (msg, &err, &debug);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND),
      "expected RESOURCE/NOT_FOUND, got %s", err->message);
  gchar *text = g_strdup_printf ("%s\n%s", err->message, debug ? debug : "");
  va_list args;
  va_start (args, msg);
  for (const gchar * want; (want = va_arg (args, const gchar *));)
    fail_unless (strstr (text, want) != NULL, "'%s' not in: %s", want, text);
  va_end (args);
  g_free (text);
  g_free (debug);
  g_error_free (err);
}

GST_START_TEST (test_mse_ssim_never_load_libtorch)
{
  Run run;
  /* Without LPIPS, and with LPIPS asked for but no model: no network. */
  run_frames ("s2smetrics device=cpu metrics=mse+inv-ssim", "s2smetrics", &run);
  fail_unless_equals_int (run.results, N_FRAMES - 1);
  run_clear (&run);
  run_frames ("s2smetrics device=cpu lpips-model=/nonexistent/lpips.safetensors", "s2smetrics",
      &run);
  fail_unless_equals_int (run.results, N_FRAMES - 1);
  run_clear (&run);
  fail_if (mapped ("libs2s-torch.so"), "the networks' module was loaded for MSE and SSIM");
  fail_if (mapped ("libtorch_cpu.so"), "LibTorch was loaded for MSE and SSIM");

  /* The first element that starts a network loads it. */
  gchar *launch = g_strdup_printf ("s2smetrics device=cpu lpips-model=\"%s\"",
      g_getenv ("S2S_LPIPS_WEIGHTS"));
  run_frames (launch, "s2smetrics", &run);
  g_free (launch);
  fail_unless (run.first_warning == NULL, "unexpected WARNING with a valid model");
  for (guint i = 1; i < N_FRAMES; i++)
    fail_unless_equals_string (run.status[i], "ok");
  run_clear (&run);
  fail_unless (mapped ("libs2s-torch.so"), "LPIPS ran without the networks' module?");
  fail_unless (mapped ("libtorch_cpu.so"), "LPIPS ran without LibTorch?");
}

GST_END_TEST;

GST_START_TEST (test_lpips_without_libtorch_keeps_other_metrics)
{
  g_setenv ("S2S_TORCH_MODULE", "/nonexistent/libs2s-torch.so", TRUE);
  gchar *launch = g_strdup_printf ("s2smetrics device=cpu lpips-model=\"%s\"",
      g_getenv ("S2S_LPIPS_WEIGHTS"));
  Run run;
  run_frames (launch, "s2smetrics", &run);
  g_free (launch);
  fail_unless (run.first_error == NULL, "a missing LibTorch must not stop the pipeline");
  assert_not_found (run.first_warning, "LibTorch", "/nonexistent/libs2s-torch.so",
      "docs/models.md", NULL);
  fail_unless_equals_int (run.warnings, 1);
  fail_unless_equals_int (run.buffers, N_FRAMES);
  fail_unless_equals_int (run.results, N_FRAMES - 1);
  for (guint i = 1; i < N_FRAMES; i++) {
    const gdouble want = reference_mse (i);
    fail_unless (fabs (run.mse[i] - want) <= 1e-9 * want, "frame %u: mse %.12g, expected %.12g", i,
        run.mse[i], want);
    fail_unless_equals_string (run.status[i], "partial");
  }
  run_clear (&run);
}

GST_END_TEST;

GST_START_TEST (test_musiq_without_libtorch)
{
  g_setenv ("S2S_TORCH_MODULE", "/nonexistent/libs2s-torch.so", TRUE);
  const gchar *model = g_getenv ("S2S_MUSIQ_WEIGHTS");

  /* A setup fault: the state change fails with a clear error... */
  GstElement *e = gst_element_factory_make ("musiqscore", NULL);
  g_object_set (e, "device", 2 /* cpu */ , "model", model, NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  assert_not_found (msg, "LibTorch", "/nonexistent/libs2s-torch.so", NULL);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);

  /* ...or, with on-error=passthrough, a WARNING and every frame forwarded. */
  gchar *launch = g_strdup_printf ("musiqscore device=cpu on-error=passthrough model=\"%s\"",
      model);
  Run run;
  run_frames (launch, "musiqscore", &run);
  g_free (launch);
  fail_unless (run.first_error == NULL);
  assert_not_found (run.first_warning, "LibTorch", NULL);
  fail_unless_equals_int (run.warnings, 1);
  fail_unless_equals_int (run.buffers, N_FRAMES);
  run_clear (&run);
}

GST_END_TEST;

GST_START_TEST (test_foreign_module_refused)
{
  /* A shared object that is not our module (here: the plugin itself) is
   * refused before anything in it is called. */
  gchar *plugin = g_build_filename (g_getenv ("S2S_PLUGIN_DIR"), "libgsts2s.so", NULL);
  g_setenv ("S2S_TORCH_MODULE", plugin, TRUE);
  gchar *launch = g_strdup_printf ("s2smetrics device=cpu lpips-model=\"%s\"",
      g_getenv ("S2S_LPIPS_WEIGHTS"));
  Run run;
  run_frames (launch, "s2smetrics", &run);
  g_free (launch);
  assert_not_found (run.first_warning, plugin, "s2s_torch_backend", NULL);
  fail_unless_equals_int (run.results, N_FRAMES - 1);
  run_clear (&run);
  g_free (plugin);
}

GST_END_TEST;

static Suite *
s2s_torch_module_suite (void)
{
  Suite *s = suite_create ("s2s-torch-module");
  TCase *tc = tcase_create ("module");
  if (g_strcmp0 (g_getenv ("CK_FORK"), "no") == 0)
    g_error ("this suite needs a process per test: run it without CK_FORK=no");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_mse_ssim_never_load_libtorch);
  tcase_add_test (tc, test_lpips_without_libtorch_keeps_other_metrics);
  tcase_add_test (tc, test_musiq_without_libtorch);
  tcase_add_test (tc, test_foreign_module_refused);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (s2s_torch_module);
