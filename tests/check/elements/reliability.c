/* The fault and bad-input matrix of docs/reliability.md, one test (or a
 * few) per row, for each analysis element (loop tests: __i__ = 0 s2smetrics,
 * 1 musiqscore where this build has it). Every scenario runs through
 * s2s_scenario.h, which checks the invariants I1-I6 whatever the row does;
 * the tests add what the row itself expects. Rows 5, 6 and 16 use the
 * test-only fault injection of gst/s2sfault.h (S2S_FAULT_INJECT). The meson
 * test runs with GST_TRACERS=leaks, so every scenario also ends with the
 * leaks tracer's live objects compared with those before it.
 *
 * Env: S2S_MUSIQ_WEIGHTS, S2S_LPIPS_WEIGHTS (model rows; tests that need a
 * missing one say so and pass vacuously only for that file). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "s2s_scenario.h"
#include "s2s-meta.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define CAPS_I420 "video/x-raw, format=I420, width=64, height=48, framerate=30/1"
#define CAPS_I420_SMALL "video/x-raw, format=I420, width=32, height=24, framerate=30/1"

static const S2sElementDesc *
el (gint i)
{
  return s2s_element ((guint) i);
}

static gboolean
is_metrics (gint i)
{
  return el (i)->pairs;
}

static const gchar *
out_status (S2sScenario * sc, guint k, gchar ** reason)
{
  static gchar status[32];
  GstStructure *r = s2s_scenario_out_result (sc, k);
  if (!r) {
    if (reason)
      *reason = NULL;
    return NULL;
  }
  g_strlcpy (status, gst_structure_get_string (r, "status"), sizeof status);
  if (reason)
    *reason = g_strdup (gst_structure_get_string (r, "reason"));
  gst_structure_free (r);
  return status;
}

/* Every output buffer from `from` on has status `want`, with a reason
 * containing `needle` when given. The first frame of s2smetrics has no
 * result unless `first_too`. */
static void
expect_statuses (S2sScenario * sc, guint from, guint to, const gchar * want, const gchar * needle)
{
  for (guint k = from; k < to; k++) {
    gchar *reason = NULL;
    const gchar *status = out_status (sc, k, &reason);
    fail_unless (status != NULL, "output %u has no result", k);
    fail_unless (g_str_equal (status, want), "output %u: status %s, expected %s (%s)", k, status,
        want, reason ? reason : "");
    if (needle)
      fail_unless (reason && strstr (reason, needle), "output %u: reason '%s' lacks '%s'", k,
          reason ? reason : "", needle);
    g_free (reason);
  }
}

static gboolean
same_double (gdouble a, gdouble b, gdouble rel)
{
  return (isnan (a) && isnan (b)) || a == b || fabs (a - b) <= rel * fabs (a);
}

/* Outputs of two runs over the same frames carry the same results: MSE and
 * SSIM exactly (integer sums, fixed order); network outputs to 1e-5, as
 * LibTorch's matrix products round differently for different batch
 * shapes. */
static void
expect_same_results (S2sScenario * a, S2sScenario * b)
{
  static const gchar *fields[] = { "mse", "inv-ssim", "lpips", "weighted", "score" };
  const guint n = s2s_scenario_n_out (a);
  fail_unless_equals_int (s2s_scenario_n_out (b), n);
  for (guint k = 0; k < n; k++) {
    GstStructure *ra = s2s_scenario_out_result (a, k);
    GstStructure *rb = s2s_scenario_out_result (b, k);
    fail_unless ((ra == NULL) == (rb == NULL), "output %u: result in one run only", k);
    if (ra) {
      fail_unless (g_str_equal (gst_structure_get_string (ra, "status"),
              gst_structure_get_string (rb, "status")), "output %u: %" GST_PTR_FORMAT " vs %"
          GST_PTR_FORMAT, k, ra, rb);
      for (guint f = 0; f < G_N_ELEMENTS (fields); f++) {
        gdouble va, vb;
        if (!gst_structure_get_double (ra, fields[f], &va))
          continue;
        fail_unless (gst_structure_get_double (rb, fields[f], &vb));
        const gboolean network = g_str_equal (fields[f], "lpips")
            || g_str_equal (fields[f], "score") || g_str_equal (fields[f], "weighted");
        fail_unless (same_double (va, vb, network ? 1e-5 : 0.0), "output %u %s: %.17g vs %.17g",
            k, fields[f], va, vb);
      }
      gst_structure_free (ra);
      gst_structure_free (rb);
    }
  }
}

/* A whole stream: start, n frames, EOS; checks I1-I3 and I6 (ALL). The
 * expected WARNING/ERROR counts may be set on the result: they are checked
 * when it is freed. */
static S2sScenario *
run_stream (gint i, const gchar * props, const gchar * caps, guint n)
{
  S2sScenario *sc = s2s_scenario_new (el (i), props);
  s2s_scenario_start (sc, caps);
  s2s_scenario_push_frames (sc, caps, 0, n);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  return sc;
}

/* READY->PAUSED must fail with one ERROR of `domain`/`code` whose text or
 * debug contains `needle`; afterwards NULL<->READY still works and the
 * element is finalized. */
static void
expect_start_error (gint i, const gchar * props, GQuark domain, gint code, const gchar * needle)
{
  S2sElementDesc d = *el (i);
  GstElement *e = gst_element_factory_make (d.factory, NULL);
  gpointer alive = e;
  g_object_add_weak_pointer (G_OBJECT (e), &alive);
  gst_object_ref_sink (e);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  s2s_set_properties (e, d.base_props);
  s2s_set_properties (e, props);

  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  guint errors = 0, others = 0;
  GstMessage *msg;
  while ((msg = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error (msg, &err, &dbg);
      fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (e));
      fail_unless (err->domain == domain && err->code == code, "error %s %d: %s (%s)",
          g_quark_to_string (err->domain), err->code, err->message, dbg);
      gchar *text = g_strdup_printf ("%s %s", err->message, dbg ? dbg : "");
      fail_unless (needle == NULL || strstr (text, needle), "'%s' does not mention '%s'", text,
          needle);
      fail_unless (dbg && *dbg, "no debug text");
      g_free (text);
      g_clear_error (&err);
      g_free (dbg);
      errors++;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING)
      others++;
    gst_message_unref (msg);
  }
  fail_unless_equals_int (errors, 1);
  fail_unless_equals_int (others, 0);

  /* Still usable: NULL <-> READY. */
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_bus_set_flushing (bus, TRUE);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  fail_unless (alive == NULL, "element leaked after a failed start");
}

static gchar *
scratch_path (const gchar * name)
{
  gchar *dir = g_build_filename (g_get_tmp_dir (), "s2s-reliability-XXXXXX", NULL);
  fail_unless (g_mkdtemp (dir) != NULL);
  gchar *path = g_build_filename (dir, name, NULL);
  g_free (dir);
  return path;
}

static void
remove_scratch (gchar * path)
{
  gchar *dir = g_path_get_dirname (path);
  g_remove (path);
  g_rmdir (dir);
  g_free (dir);
  g_free (path);
}

/* The model property of element i and the real test weights for it. */
static const gchar *
model_prop (gint i)
{
  return is_metrics (i) ? "lpips-model" : "model";
}

static const gchar *
model_weights (gint i)
{
  return g_getenv (is_metrics (i) ? "S2S_LPIPS_WEIGHTS" : "S2S_MUSIQ_WEIGHTS");
}

/* Properties that make element i load the model at `path`. */
static gchar *
model_props (gint i, const gchar * path, const gchar * more)
{
  return g_strdup_printf ("%s%s=%s %s", is_metrics (i) ? "metrics=mse+inv-ssim+lpips " : "",
      model_prop (i), path, more ? more : "");
}

/* ------------------------------------------------------------------------ */
/* 1, 2: no GPU, device choice                                              */
/* ------------------------------------------------------------------------ */

GST_START_TEST (row01_plugin_registers_and_auto_falls_back)
{
  GstPlugin *plugin = gst_registry_find_plugin (gst_registry_get (), "s2s");
  fail_unless (plugin != NULL, "plugin s2s not registered");
  gst_object_unref (plugin);

  S2sScenario *sc = s2s_scenario_new (el (__i__), "device=auto");
  sc->expect_warnings = 1;      /* "computing on the CPU" */
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 4);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  expect_statuses (sc, is_metrics (__i__) ? 1 : 0, 4, S2S_STATUS_OK, NULL);
  fail_unless (strstr (s2s_scenario_problems (sc), "CPU") != NULL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

GST_START_TEST (row01_device_cuda_fails_start)
{
  expect_start_error (__i__, "device=cuda", GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "CUDA");
}

GST_END_TEST;

GST_START_TEST (row01_device_cuda_passthrough)
{
  S2sScenario *sc = run_stream (__i__, "device=cuda on-error=passthrough", CAPS_I420, 5);
  sc->expect_warnings = 1;
  /* Every frame, the first included, says it was not scored and why. */
  expect_statuses (sc, 0, 5, S2S_STATUS_ERROR, "CUDA");
  s2s_scenario_free (sc);
}

GST_END_TEST;

GST_START_TEST (row02_cuda_device_id_out_of_range)
{
  expect_start_error (__i__, "device=cuda cuda-device-id=7", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_FOUND, "CUDA");
  /* auto: still the CPU, with the one warning. */
  S2sScenario *sc = run_stream (__i__, "device=auto cuda-device-id=7", CAPS_I420, 3);
  sc->expect_warnings = 1;
  s2s_scenario_free (sc);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 3, 4: model files                                                        */
/* ------------------------------------------------------------------------ */

/* A missing model: s2smetrics computes the rest (WARNING, status partial);
 * musiqscore cannot start (ERROR) unless on-error=passthrough. */
static void
check_missing_model (gint i, const gchar * path)
{
  gchar *props = model_props (i, path, NULL);
  if (is_metrics (i)) {
    S2sScenario *sc = run_stream (i, props, CAPS_I420, 3);
    sc->expect_warnings = 1;
    expect_statuses (sc, 1, 3, S2S_STATUS_PARTIAL, "lpips");
    s2s_scenario_free (sc);
  } else {
    expect_start_error (i, props, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        *path ? path : "model");
    gchar *pass = model_props (i, path, "on-error=passthrough");
    S2sScenario *sc = run_stream (i, pass, CAPS_I420, 3);
    sc->expect_warnings = 1;
    expect_statuses (sc, 0, 3, S2S_STATUS_ERROR, "model");
    s2s_scenario_free (sc);
    g_free (pass);
  }
  g_free (props);
}

GST_START_TEST (row03_model_missing_directory_empty)
{
  gchar *missing = scratch_path ("no-such-model.safetensors");
  check_missing_model (__i__, missing);
  gchar *dir = g_path_get_dirname (missing);
  check_missing_model (__i__, dir);        /* a directory */
  g_free (dir);
  remove_scratch (missing);
  check_missing_model (__i__, "");         /* empty path */
}

GST_END_TEST;

/* Registered only for other users than root, who reads a mode-000 file
 * anyway. */
GST_START_TEST (row03_model_unreadable)
{
  gchar *path = scratch_path ("unreadable.safetensors");
  fail_unless (g_file_set_contents (path, "x", 1, NULL));
  fail_unless (g_chmod (path, 0) == 0);
  check_missing_model (__i__, path);
  remove_scratch (path);
}

GST_END_TEST;

static void
write_bytes (const gchar * path, const void *data, gsize len)
{
  fail_unless (g_file_set_contents (path, data, (gssize) len, NULL), "cannot write %s", path);
}

/* A safetensors file: 8-byte little-endian header length, JSON, data. */
static void
write_safetensors (const gchar * path, const gchar * json, gsize data_len, guint64 declared)
{
  const gsize hl = strlen (json);
  const guint64 header_len = declared ? declared : hl;
  guint8 *buf = g_malloc0 (8 + hl + data_len);
  for (guint b = 0; b < 8; b++)
    buf[b] = (guint8) (header_len >> (8 * b));
  memcpy (buf + 8, json, hl);
  write_bytes (path, buf, 8 + hl + data_len);
  g_free (buf);
}

GST_START_TEST (row04_corrupt_models)
{
  const gchar *weights = model_weights (__i__);
  gchar *path = scratch_path ("corrupt.safetensors");
  gchar *props = model_props (__i__, path, NULL);
  const GQuark res = GST_RESOURCE_ERROR;
  const gint read = GST_RESOURCE_ERROR_READ;

  write_bytes (path, "", 0);    /* 0 bytes */
  expect_start_error (__i__, props, res, read, path);

  guint8 junk[4096];            /* random bytes */
  guint32 state = 12345;
  for (guint k = 0; k < sizeof junk; k++) {
    state = state * 1664525u + 1013904223u;
    junk[k] = (guint8) (state >> 24);
  }
  write_bytes (path, junk, sizeof junk);
  expect_start_error (__i__, props, res, read, path);

  write_safetensors (path, "{\"a\": {\"dtype\": \"F32\", ", 16, 0);     /* bad JSON */
  expect_start_error (__i__, props, res, read, path);

  write_safetensors (path, "{}", 0, G_GUINT64_CONSTANT (1) << 62);       /* huge header */
  expect_start_error (__i__, props, res, read, path);

  write_safetensors (path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], "   /* outside */
      "\"data_offsets\": [0, 4096]}}", 16, 0);
  expect_start_error (__i__, props, res, read, path);

  write_safetensors (path, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], "   /* overlapping */
      "\"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], "
      "\"data_offsets\": [4, 12]}}", 12, 0);
  expect_start_error (__i__, props, res, read, path);

  /* A well-formed file without the network's tensors: names a tensor. */
  write_safetensors (path, "{\"bogus.weight\": {\"dtype\": \"F64\", \"shape\": [1, 1], "
      "\"data_offsets\": [0, 8]}}", 8, 0);
  expect_start_error (__i__, props, res, read, "tensor");

  if (weights) {
    /* The real test weights, truncated. */
    gchar *data;
    gsize len;
    fail_unless (g_file_get_contents (weights, &data, &len, NULL));
    write_bytes (path, data, len / 2);
    g_free (data);
    expect_start_error (__i__, props, res, read, path);
  } else {
    g_print ("row04: no test weights for %s: truncated case not run\n", el (__i__)->factory);
  }

  /* on-error=passthrough: a WARNING instead, frames still flow. */
  write_bytes (path, "", 0);
  gchar *pass = model_props (__i__, path, "on-error=passthrough");
  S2sScenario *sc = run_stream (__i__, pass, CAPS_I420, 3);
  sc->expect_warnings = 1;
  if (is_metrics (__i__))
    expect_statuses (sc, 1, 3, S2S_STATUS_PARTIAL, "lpips");
  else
    expect_statuses (sc, 0, 3, S2S_STATUS_ERROR, "model");
  s2s_scenario_free (sc);
  g_free (pass);
  g_free (props);
  remove_scratch (path);
}

GST_END_TEST;

GST_START_TEST (row04_model_load_fault_injected)
{
  const gchar *weights = model_weights (__i__);
  if (!weights) {
    g_print ("row04_model_load_fault_injected: no test weights for %s\n", el (__i__)->factory);
    return;
  }
  g_setenv ("S2S_FAULT_INJECT", "model-load=fail", TRUE);
  gchar *props = model_props (__i__, weights, NULL);
  expect_start_error (__i__, props, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "injected");
  g_free (props);
  g_unsetenv ("S2S_FAULT_INJECT");
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 5, 6: out of memory, a lost device (injected)                            */
/* ------------------------------------------------------------------------ */

GST_START_TEST (row05_oom_retry_smaller_batches)
{
  /* Reference: no fault. */
  S2sScenario *ref = run_stream (__i__, "batch-size=8", CAPS_I420, 16);

  /* More than 3 frames at once runs out of memory: 8 -> 4 -> 2 succeed,
   * silently, with the same numbers. */
  g_setenv ("S2S_FAULT_INJECT", "oom-above=3", TRUE);
  S2sScenario *sc = run_stream (__i__, "batch-size=8", CAPS_I420, 16);
  g_unsetenv ("S2S_FAULT_INJECT");
  expect_same_results (ref, sc);
  expect_statuses (sc, is_metrics (__i__) ? 1 : 0, 16, S2S_STATUS_OK, NULL);
  s2s_scenario_free (sc);
  s2s_scenario_free (ref);
}

GST_END_TEST;

GST_START_TEST (row05_oom_persistent_passes_through)
{
  /* Batch 1 (frames 4-7) runs out of memory at every size. */
  g_setenv ("S2S_FAULT_INJECT", "oom-batch=1", TRUE);
  S2sScenario *sc = run_stream (__i__, "batch-size=4", CAPS_I420, 12);
  g_unsetenv ("S2S_FAULT_INJECT");
  sc->expect_warnings = 1;
  expect_statuses (sc, is_metrics (__i__) ? 1 : 0, 4, S2S_STATUS_OK, NULL);
  expect_statuses (sc, 4, 8, S2S_STATUS_ERROR, "out of memory");
  if (is_metrics (__i__)) {
    /* Frame 8's predecessor was not analysed: it says so; then on. */
    expect_statuses (sc, 8, 9, S2S_STATUS_ERROR, "previous frame");
    expect_statuses (sc, 9, 12, S2S_STATUS_OK, NULL);
  } else {
    expect_statuses (sc, 8, 12, S2S_STATUS_OK, NULL);
  }
  s2s_scenario_free (sc);
}

GST_END_TEST;

GST_START_TEST (row06_sticky_device_error)
{
  g_setenv ("S2S_FAULT_INJECT", "device-error-frame=5", TRUE);
  S2sScenario *sc = run_stream (__i__, "batch-size=4", CAPS_I420, 12);
  g_unsetenv ("S2S_FAULT_INJECT");
  sc->expect_warnings = 1;
  expect_statuses (sc, is_metrics (__i__) ? 1 : 0, 4, S2S_STATUS_OK, NULL);
  /* From the failed batch on, the device is no longer used. */
  expect_statuses (sc, 4, 12, S2S_STATUS_ERROR, "device failed");
  fail_unless (strstr (s2s_scenario_problems (sc), "device failed") != NULL
      || strstr (s2s_scenario_problems (sc), "The device failed") != NULL);

  /* A restart uses the device again (the plan is read at start). */
  fail_unless_equals_int (gst_element_set_state (sc->element, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (sc->element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_SUCCESS);
  const guint before = s2s_scenario_n_out (sc);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_flush_stop (TRUE)));
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 4);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  expect_statuses (sc, before + (is_metrics (__i__) ? 1 : 0), before + 4, S2S_STATUS_OK, NULL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 7, 13: negotiation                                                       */
/* ------------------------------------------------------------------------ */

static void
expect_caps_refused (gint i, const gchar * caps_str)
{
  S2sScenario *sc = s2s_scenario_new (el (i), NULL);
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstPad *sink = gst_element_get_static_pad (sc->element, "sink");
  fail_if (gst_pad_query_accept_caps (sink, caps), "%s accepted", caps_str);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_stream_start ("refused")));
  /* A sticky event's push reports success once stored upstream: look at
   * what the element took, and at what the next buffer meets. */
  s2s_scenario_push_event (sc, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  GstCaps *taken = gst_pad_get_current_caps (sink);
  fail_unless (taken == NULL, "caps %s taken", caps_str);
  gst_object_unref (sink);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  s2s_scenario_push_event (sc, gst_event_new_segment (&segment));
  if (g_str_has_prefix (caps_str, "video/x-raw,") || g_str_has_prefix (caps_str, "video/x-raw "))
    fail_unless_equals_int (s2s_scenario_push (sc, s2s_make_frame (
                "video/x-raw, format=I420, width=64, height=48", 0, 0)), GST_FLOW_NOT_NEGOTIATED);
  s2s_scenario_check (sc, S2S_EXPECT_SUBSEQUENCE);
  s2s_scenario_free (sc);
}

GST_START_TEST (row07_unsupported_formats_refused)
{
  expect_caps_refused (__i__, "video/x-raw, format=I420_10LE, width=64, height=48, framerate=30/1");
  expect_caps_refused (__i__, "video/x-raw, format=UYVY, width=64, height=48, framerate=30/1");
  expect_caps_refused (__i__, "video/x-raw(memory:GLMemory), format=RGBA, width=64, height=48, "
      "framerate=30/1");
  expect_caps_refused (__i__, "audio/x-raw, format=S16LE, rate=48000, channels=2");
}

GST_END_TEST;

GST_START_TEST (row13_interlaced)
{
  expect_caps_refused (__i__, "video/x-raw, format=I420, width=64, height=48, framerate=30/1, "
      "interlace-mode=alternate");

  /* Interleaved: scored as frames, field flags kept (I2 compares flags). */
  const gchar *caps = "video/x-raw, format=I420, width=64, height=48, framerate=30/1, "
      "interlace-mode=interleaved";
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=2");
  s2s_scenario_start (sc, caps);
  for (guint k = 0; k < 4; k++) {
    GstBuffer *b = s2s_make_frame (caps, k, k);
    GST_BUFFER_FLAG_SET (b, GST_VIDEO_BUFFER_FLAG_INTERLACED);
    if (k % 2)
      GST_BUFFER_FLAG_SET (b, GST_VIDEO_BUFFER_FLAG_TFF);
    fail_unless_equals_int (s2s_scenario_push (sc, b), GST_FLOW_OK);
  }
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  expect_statuses (sc, is_metrics (__i__) ? 1 : 0, 4, S2S_STATUS_OK, NULL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 8, 9, 10, 12: sizes and layouts                                          */
/* ------------------------------------------------------------------------ */

GST_START_TEST (row08_odd_sizes)
{
  static const gchar *formats[] = { "I420", "NV12" };
  /* MUSIQ's native scale makes 1919x1079 slow on a CPU: s2smetrics only. */
  const guint n_sizes = is_metrics (__i__) ? 2 : 1;
  static const guint sizes[][2] = { {641, 359}, {1919, 1079} };
  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    for (guint s = 0; s < n_sizes; s++) {
      gchar *caps = g_strdup_printf ("video/x-raw, format=%s, width=%u, height=%u, "
          "framerate=30/1", formats[f], sizes[s][0], sizes[s][1]);
      S2sScenario *sc = run_stream (__i__, "batch-size=2", caps, 3);
      expect_statuses (sc, is_metrics (__i__) ? 1 : 0, 3, S2S_STATUS_OK, NULL);
      s2s_scenario_free (sc);
      g_free (caps);
    }
  }
}

GST_END_TEST;

GST_START_TEST (row09_tiny_frames)
{
  static const guint sides[][2] = { {1, 1}, {2, 3}, {6, 6}, {7, 7}, {16, 16} };
  for (guint s = 0; s < G_N_ELEMENTS (sides); s++) {
    gchar *caps = g_strdup_printf ("video/x-raw, format=I420, width=%u, height=%u, "
        "framerate=30/1", sides[s][0], sides[s][1]);
    const gboolean below_window = sides[s][0] < 7 || sides[s][1] < 7;
    S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=2");
    /* s2smetrics: one WARNING per stream when SSIM is undefined. */
    sc->expect_warnings = is_metrics (__i__) && below_window ? 1 : 0;
    s2s_scenario_start (sc, caps);
    s2s_scenario_push_frames (sc, caps, 0, 5);
    fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
    s2s_scenario_check (sc, S2S_EXPECT_ALL);
    if (is_metrics (__i__)) {
      expect_statuses (sc, 1, 5, below_window ? S2S_STATUS_PARTIAL : S2S_STATUS_OK,
          below_window ? "SSIM window" : NULL);
      for (guint k = 1; k < 5; k++) {
        GstStructure *r = s2s_scenario_out_result (sc, k);
        gdouble mse;
        fail_unless (gst_structure_get_double (r, "mse", &mse) && isfinite (mse) && mse >= 0);
        gst_structure_free (r);
      }
    } else {
      /* MUSIQ resizes every frame to its scales: a defined score. */
      for (guint k = 0; k < 5; k++) {
        GstStructure *r = s2s_scenario_out_result (sc, k);
        gdouble score;
        fail_unless (r && gst_structure_get_double (r, "score", &score));
        const gchar *status = gst_structure_get_string (r, "status");
        fail_unless ((g_str_equal (status, S2S_STATUS_OK) && isfinite (score))
            || g_str_equal (status, S2S_STATUS_SKIPPED), "%" GST_PTR_FORMAT, r);
        gst_structure_free (r);
      }
    }
    s2s_scenario_free (sc);
    g_free (caps);
  }
}

GST_END_TEST;

GST_START_TEST (row10_8k_frames)
{
  const gchar *caps = "video/x-raw, format=GRAY8, width=7680, height=4320, framerate=30/1";
  /* MUSIQ: the native scale cut to a few tokens keeps it quick. */
  S2sScenario *sc = run_stream (__i__, is_metrics (__i__) ? "batch-size=2" : "max-seq-len=16",
      caps, 3);
  expect_statuses (sc, is_metrics (__i__) ? 1 : 0, 3, S2S_STATUS_OK, NULL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

/* Padded strides (GstVideoMeta) with sentinel bytes in the padding give
 * exactly the results of tightly packed frames. */
GST_START_TEST (row12_strides_and_padding)
{
  static const gchar *formats[] = { "I420", "NV12", "RGBA", "GRAY8", "Y444" };
  /* musiqscore (slower on a CPU): the first three. */
  const guint n_formats = is_metrics (__i__) ? G_N_ELEMENTS (formats) : 3;
  for (guint f = 0; f < n_formats; f++) {
    gchar *caps = g_strdup_printf ("video/x-raw, format=%s, width=37, height=29, framerate=30/1",
        formats[f]);
    S2sScenario *tight = run_stream (__i__, "batch-size=3", caps, 5);
    for (guint8 sentinel = 0; sentinel < 2; sentinel++) {
      S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=3");
      s2s_scenario_start (sc, caps);
      for (guint k = 0; k < 5; k++)
        fail_unless_equals_int (s2s_scenario_push (sc, s2s_make_padded_frame (caps, k, k, 40,
                    sentinel ? 0xff : 0x00)), GST_FLOW_OK);
      fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
      s2s_scenario_check (sc, S2S_EXPECT_ALL);
      expect_same_results (tight, sc);
      s2s_scenario_free (sc);
    }
    s2s_scenario_free (tight);
    g_free (caps);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 11, 14, 15: stream changes, timestamps, gaps                             */
/* ------------------------------------------------------------------------ */

GST_START_TEST (row11_caps_change_with_pending_batch)
{
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=4");
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 2);
  fail_unless_equals_int (s2s_scenario_n_out (sc), 0);  /* held */
  fail_unless (s2s_scenario_push_caps (sc, CAPS_I420_SMALL));
  /* The pending batch went out with the old caps, before the new ones. */
  fail_unless_equals_int (s2s_scenario_n_out (sc), 2);
  s2s_scenario_push_frames (sc, CAPS_I420_SMALL, 2, 3);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  if (is_metrics (__i__)) {
    expect_statuses (sc, 1, 2, S2S_STATUS_OK, NULL);
    gchar *reason = NULL;
    fail_unless (out_status (sc, 2, &reason) == NULL, "a pair across caps: %s", reason);
    expect_statuses (sc, 3, 5, S2S_STATUS_OK, NULL);
  } else {
    expect_statuses (sc, 0, 5, S2S_STATUS_OK, NULL);
  }
  s2s_scenario_free (sc);
}

GST_END_TEST;

static gboolean
wait_for_out (S2sScenario * sc, guint n)
{
  for (guint t = 0; t < 1000 && s2s_scenario_n_out (sc) < n; t++)
    g_usleep (10 * 1000);
    /* 10 s at most: a hang, not a timing */
  return s2s_scenario_n_out (sc) >= n;
}

GST_START_TEST (row14_no_timestamps_no_framerate)
{
  const gchar *caps = "video/x-raw, format=I420, width=64, height=48, framerate=0/1";
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=4 batch-timeout=30000000");
  s2s_scenario_start (sc, caps);
  for (guint k = 0; k < 2; k++) {
    GstBuffer *b = s2s_make_frame (caps, k, k);
    GST_BUFFER_PTS (b) = GST_BUFFER_DTS (b) = GST_BUFFER_DURATION (b) = GST_CLOCK_TIME_NONE;
    fail_unless_equals_int (s2s_scenario_push (sc, b), GST_FLOW_OK);
  }
  /* The timeout runs on the monotonic clock: the partial batch comes out. */
  fail_unless (wait_for_out (sc, 2), "partial batch never released");
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  expect_statuses (sc, is_metrics (__i__) ? 1 : 0, 2, S2S_STATUS_OK, NULL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

GST_START_TEST (row15_gaps_discont_backwards_bytes)
{
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=8");
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 2);
  /* A GAP event among held buffers keeps its place (I3). */
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_gap (2 * GST_SECOND / 30,
              GST_SECOND / 30)));
  GstBuffer *gap = s2s_make_frame (CAPS_I420, 2, 2);
  GST_BUFFER_FLAG_SET (gap, GST_BUFFER_FLAG_GAP);
  fail_unless_equals_int (s2s_scenario_push (sc, gap), GST_FLOW_OK);
  s2s_scenario_push_frames (sc, CAPS_I420, 3, 2);
  GstBuffer *discont = s2s_make_frame (CAPS_I420, 5, 5);
  GST_BUFFER_FLAG_SET (discont, GST_BUFFER_FLAG_DISCONT);
  fail_unless_equals_int (s2s_scenario_push (sc, discont), GST_FLOW_OK);
  GstBuffer *backwards = s2s_make_frame (CAPS_I420, 6, 6);
  GST_BUFFER_PTS (backwards) = GST_SECOND / 30;
  fail_unless_equals_int (s2s_scenario_push (sc, backwards), GST_FLOW_OK);
  /* A BYTES segment: no stream/running time, still forwarded in place. */
  GstSegment bytes;
  gst_segment_init (&bytes, GST_FORMAT_BYTES);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_segment (&bytes)));
  s2s_scenario_push_frames (sc, CAPS_I420, 7, 2);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);

  expect_statuses (sc, 2, 3, S2S_STATUS_SKIPPED, "gap");
  if (is_metrics (__i__)) {
    expect_statuses (sc, 1, 2, S2S_STATUS_OK, NULL);
    fail_unless (out_status (sc, 3, NULL) == NULL, "a pair across a gap");
    expect_statuses (sc, 4, 5, S2S_STATUS_OK, NULL);
    fail_unless (out_status (sc, 5, NULL) == NULL, "a pair across a DISCONT");
    expect_statuses (sc, 6, 7, S2S_STATUS_OK, NULL);
    fail_unless (out_status (sc, 7, NULL) == NULL, "a pair across a new segment");
    expect_statuses (sc, 8, 9, S2S_STATUS_OK, NULL);
  } else {
    expect_statuses (sc, 0, 2, S2S_STATUS_OK, NULL);
    expect_statuses (sc, 3, 9, S2S_STATUS_OK, NULL);
  }
  s2s_scenario_free (sc);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 16, 17: flushing, EOS                                                    */
/* ------------------------------------------------------------------------ */

typedef struct
{
  S2sScenario *sc;
  GstFlowReturn flow;
  volatile gint done;
} PushJob;

static gpointer
push_fourth (gpointer data)
{
  PushJob *job = data;
  job->flow = s2s_scenario_push (job->sc, s2s_make_frame (CAPS_I420, 3, 3));
  g_atomic_int_set (&job->done, 1);
  return NULL;
}

GST_START_TEST (row16_flush_while_the_device_works)
{
  /* Every batch takes 20 s on this "device"; a flush must not wait. */
  g_setenv ("S2S_FAULT_INJECT", "slow-ms=20000", TRUE);
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=4");
  g_unsetenv ("S2S_FAULT_INJECT");
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 3);
  PushJob job = { sc, GST_FLOW_OK, 0 };
  GThread *t = g_thread_new ("push", push_fourth, &job);
  g_usleep (300 * 1000);        /* the batch is being scored */
  fail_if (g_atomic_int_get (&job.done), "the slow device was not slow");

  const gint64 t0 = g_get_monotonic_time ();
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_flush_start ()));
  for (guint k = 0; k < 1000 && !g_atomic_int_get (&job.done); k++)
    g_usleep (10 * 1000);
  /* A hang check (10 s against the 20 s of work), not a timing. */
  fail_unless (g_atomic_int_get (&job.done), "FLUSH_START did not unblock the streaming thread");
  g_thread_join (t);
  fail_unless (g_get_monotonic_time () - t0 < 15 * G_USEC_PER_SEC);
  fail_unless_equals_int (job.flow, GST_FLOW_FLUSHING);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_flush_stop (TRUE)));

  /* Nothing from before the flush was reported or pushed after it. */
  fail_unless_equals_int (s2s_scenario_n_out (sc), 0);
  fail_unless_equals_int (s2s_scenario_messages (sc)->len, 0);
  s2s_scenario_check (sc, S2S_EXPECT_SUBSEQUENCE);
  s2s_scenario_free (sc);
}

GST_END_TEST;

GST_START_TEST (row17_eos_partial_empty_after_caps)
{
  /* A partial batch: everything out, the summary before EOS. */
  S2sScenario *sc = run_stream (__i__, "batch-size=8", CAPS_I420, 5);
  fail_unless_equals_int (s2s_scenario_n_out (sc), 5);
  fail_unless_equals_int (s2s_scenario_n_summaries (sc), 1);
  s2s_scenario_free (sc);

  /* No buffers at all. */
  sc = run_stream (__i__, "batch-size=8", CAPS_I420, 0);
  fail_unless_equals_int (s2s_scenario_n_summaries (sc), 1);
  s2s_scenario_free (sc);

  /* EOS right after a caps change with frames held. */
  sc = s2s_scenario_new (el (__i__), "batch-size=8");
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 3);
  fail_unless (s2s_scenario_push_caps (sc, CAPS_I420_SMALL));
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  fail_unless_equals_int (s2s_scenario_n_out (sc), 3);
  s2s_scenario_free (sc);
}

GST_END_TEST;

GST_START_TEST (row17_batch_n_equals_batch_1)
{
  S2sScenario *one = run_stream (__i__, "batch-size=1", CAPS_I420, 10);
  S2sScenario *four = run_stream (__i__, "batch-size=4", CAPS_I420, 10);
  S2sScenario *many = run_stream (__i__, "batch-size=64", CAPS_I420, 10);
  expect_same_results (one, four);
  expect_same_results (one, many);
  s2s_scenario_free (many);
  s2s_scenario_free (four);
  s2s_scenario_free (one);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 18: state changes                                                        */
/* ------------------------------------------------------------------------ */

GST_START_TEST (row18_state_cycles)
{
  /* musiqscore loads its model at every start: fewer cycles. */
  const guint cycles = is_metrics (__i__) ? 1000 : 50;
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=4");
  for (guint c = 0; c < cycles; c++) {
    fail_unless_equals_int (gst_element_set_state (sc->element, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (gst_element_set_state (sc->element, GST_STATE_PLAYING),
        GST_STATE_CHANGE_SUCCESS);
  }
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 3);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

GST_START_TEST (row18_ready_mid_batch_and_failed_start)
{
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=8");
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 3);
  /* PLAYING -> READY with 3 frames held: they go out first. */
  fail_unless_equals_int (gst_element_set_state (sc->element, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (s2s_scenario_n_out (sc), 3);

  /* A failed start, then a good one, on the same instance. */
  gst_util_set_object_arg (G_OBJECT (sc->element), "device", "cuda");
  sc->expect_errors = 1;
  fail_unless_equals_int (gst_element_set_state (sc->element, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  gst_util_set_object_arg (G_OBJECT (sc->element), "device", "cpu");
  fail_unless_equals_int (gst_element_set_state (sc->element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_flush_stop (TRUE)));
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 3);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  expect_statuses (sc, 3 + (is_metrics (__i__) ? 1 : 0), 6, S2S_STATUS_OK, NULL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 19, 20: downstream flows, live                                           */
/* ------------------------------------------------------------------------ */

GST_START_TEST (row19_downstream_flow_mid_batch)
{
  static const GstFlowReturn flows[] = { GST_FLOW_FLUSHING, GST_FLOW_NOT_LINKED, GST_FLOW_ERROR };
  for (guint f = 0; f < G_N_ELEMENTS (flows); f++) {
    S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=4");
    s2s_scenario_start (sc, CAPS_I420);
    s2s_scenario_fail_downstream (sc, 2, flows[f]);
    s2s_scenario_push_frames (sc, CAPS_I420, 0, 3);
    /* The 4th frame releases the batch; the third push downstream fails. */
    fail_unless_equals_int (s2s_scenario_push (sc, s2s_make_frame (CAPS_I420, 3, 3)), flows[f]);
    fail_unless_equals_int (s2s_scenario_n_out (sc), 2);
    s2s_scenario_check (sc, S2S_EXPECT_SUBSEQUENCE);
    s2s_scenario_free (sc);     /* the leaks check sees the held frames freed */
  }
}

GST_END_TEST;

GST_START_TEST (row20_live_latency_and_timeout)
{
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=4 batch-timeout=50000000");
  gst_harness_set_live (sc->h, TRUE);
  s2s_scenario_start (sc, CAPS_I420);
  /* Held for at most min(3 frames, 50 ms) = 50 ms. */
  fail_unless_equals_uint64 (gst_harness_query_latency (sc->h), 50 * GST_MSECOND);
  g_object_set (sc->element, "batch-timeout", (guint64) 0, NULL);
  fail_unless_equals_uint64 (gst_harness_query_latency (sc->h),
      3 * gst_util_uint64_scale_int (GST_SECOND, 1, 30));
  g_object_set (sc->element, "batch-timeout", (guint64) 20 * GST_MSECOND, NULL);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 1);
  fail_unless (wait_for_out (sc, 1), "the batch timeout did not release the frame");
  s2s_scenario_push_frames (sc, CAPS_I420, 1, 5);
  fail_unless (wait_for_out (sc, 6), "frames dropped or stuck");
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 22, 23, 24: concurrency, shared buffers, properties                      */
/* ------------------------------------------------------------------------ */

static gpointer
run_stream_thread (gpointer data)
{
  gint i = GPOINTER_TO_INT (data);
  S2sScenario *sc = run_stream (i, "batch-size=3", CAPS_I420, 12);
  return sc;
}

typedef struct
{
  GstElement *element;
  volatile gint stop;
} Toggler;

/* Sets batch-size 1..8 and batch-timeout 0..3 ms in turn, as an app
 * reacting to load might. */
static gpointer
toggle_properties (gpointer data)
{
  Toggler *t = data;
  for (guint k = 0; !g_atomic_int_get (&t->stop); k++) {
    g_object_set (t->element, "batch-size", 1 + k % 8, "batch-timeout",
        (guint64) (k % 4) * GST_MSECOND, NULL);
    g_usleep (200);
  }
  return NULL;
}

GST_START_TEST (row22_instances_and_property_stress)
{
  /* Two instances streaming at once in one process give what one does. */
  S2sScenario *ref = run_stream (__i__, "batch-size=3", CAPS_I420, 12);
  GThread *a = g_thread_new ("a", run_stream_thread, GINT_TO_POINTER (__i__));
  GThread *b = g_thread_new ("b", run_stream_thread, GINT_TO_POINTER (__i__));
  S2sScenario *ra = g_thread_join (a);
  S2sScenario *rb = g_thread_join (b);
  expect_same_results (ref, ra);
  expect_same_results (ref, rb);
  s2s_scenario_free (ra);
  s2s_scenario_free (rb);
  s2s_scenario_free (ref);

  /* Batching properties changed all the time while frames flow. */
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=4");
  s2s_scenario_start (sc, CAPS_I420);
  Toggler tog = { sc->element, 0 };
  GThread *t = g_thread_new ("toggle", toggle_properties, &tog);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 60);
  g_atomic_int_set (&tog.stop, 1);
  g_thread_join (t);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

GST_START_TEST (row23_shared_buffers_untouched)
{
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=2");
  s2s_scenario_start (sc, CAPS_I420);
  GstBuffer *kept[4];
  GstMapInfo map;
  guint8 *copies[4];
  for (guint k = 0; k < 4; k++) {
    GstBuffer *b = s2s_scenario_tag (sc, s2s_make_frame (CAPS_I420, k, k));
    fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
    copies[k] = g_memdup2 (map.data, map.size);
    gst_buffer_unmap (b, &map);
    kept[k] = gst_buffer_ref (b);       /* as a tee would */
    fail_unless_equals_int (s2s_scenario_push (sc, b), GST_FLOW_OK);
  }
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  for (guint k = 0; k < 4; k++) {
    /* Our reference never got the meta; its pixels never changed. */
    fail_unless (s2s_buffer_get_result (kept[k], el (__i__)->meta_name) == NULL);
    fail_unless (gst_buffer_map (kept[k], &map, GST_MAP_READ));
    fail_unless (memcmp (map.data, copies[k], map.size) == 0, "pixels of frame %u changed", k);
    gst_buffer_unmap (kept[k], &map);
    gst_buffer_unref (kept[k]);
    g_free (copies[k]);
  }
  /* The output copies carry it. */
  expect_statuses (sc, is_metrics (__i__) ? 1 : 0, 4, S2S_STATUS_OK, NULL);
  s2s_scenario_free (sc);
}

GST_END_TEST;

GST_START_TEST (row24_extreme_properties)
{
  /* batch-size 1: no batching, every frame out before its push returns. */
  S2sScenario *sc = s2s_scenario_new (el (__i__), "batch-size=1");
  s2s_scenario_start (sc, CAPS_I420);
  for (guint k = 0; k < 4; k++) {
    s2s_scenario_push_frames (sc, CAPS_I420, k, 1);
    fail_unless_equals_int (s2s_scenario_n_out (sc), k + 1);
  }
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  s2s_scenario_free (sc);

  /* The largest batch and the longest timeout: held until EOS. */
  sc = s2s_scenario_new (el (__i__), "batch-size=256 batch-timeout=18446744073709551615");
  s2s_scenario_start (sc, CAPS_I420);
  s2s_scenario_push_frames (sc, CAPS_I420, 0, 5);
  fail_unless_equals_int (s2s_scenario_n_out (sc), 0);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_eos ()));
  s2s_scenario_check (sc, S2S_EXPECT_ALL);
  fail_unless_equals_int (s2s_scenario_n_out (sc), 5);
  s2s_scenario_free (sc);

  /* Ranges are validated at set time; a bad enum string changes nothing. */
  GstElement *e = gst_object_ref_sink (gst_element_factory_make (el (__i__)->factory, NULL));
  GParamSpecUInt *bs = G_PARAM_SPEC_UINT (g_object_class_find_property (G_OBJECT_GET_CLASS (e),
          "batch-size"));
  fail_unless_equals_int (bs->minimum, 1);
  fail_unless_equals_int (bs->maximum, 256);
  gst_util_set_object_arg (G_OBJECT (e), "device", "bogus");
  gst_util_set_object_arg (G_OBJECT (e), "on-error", "sometimes");
  gint device, on_error;
  g_object_get (e, "device", &device, "on-error", &on_error, NULL);
  fail_unless_equals_int (device, 0);   /* auto */
  fail_unless_equals_int (on_error, 0); /* error */
  gst_object_unref (e);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */

/* Creates what lives for the whole process (plugin, types, metas) before
 * Check forks, so that each test's leak check sees only what the test
 * itself made. No Check assertions here. */
static void
warm_up (void)
{
  for (guint i = 0; i < s2s_n_elements (); i++) {
    const S2sElementDesc *d = s2s_element (i);
    GstElement *e = gst_element_factory_make (d->factory, NULL);
    if (!e)
      continue;
    if (!d->pairs) {
      /* No LibTorch work in the parent: its OpenMP pool does not survive
       * Check's fork (the children would hang in libgomp). */
      gst_object_unref (gst_object_ref_sink (e));
      continue;
    }
    s2s_set_properties (e, d->base_props);
    gst_object_ref_sink (e);
    GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
    gst_object_unref (e);
    gst_harness_set_src_caps_str (h, CAPS_I420);
    GstCaps *tag = gst_caps_new_empty_simple ("timestamp/x-s2s-warm-up");
    for (guint k = 0; k < 2; k++) {
      GstBuffer *b = gst_harness_create_buffer (h, 64 * 48 * 3 / 2);
      gst_buffer_memset (b, 0, (guint8) (k * 50), 64 * 48 * 3 / 2);
      gst_buffer_add_reference_timestamp_meta (b, tag, k, GST_CLOCK_TIME_NONE);
      gst_harness_push (h, b);
    }
    gst_caps_unref (tag);
    gst_harness_push_event (h, gst_event_new_eos ());
    gst_harness_teardown (h);
  }
}

static Suite *
reliability_suite (void)
{
  Suite *s = suite_create ("reliability");
  const guint n = s2s_n_elements ();
  warm_up ();
  g_print ("reliability: testing %u element(s)%s\n", n,
      n < 2 ? " (musiqscore not built or no S2S_MUSIQ_WEIGHTS)" : "");

  /* One test case per row, each test run for every element. */
#define ROW(t) G_STMT_START { \
    TCase *tc = tcase_create (#t); \
    tcase_set_timeout (tc, 300); \
    tcase_add_loop_test (tc, t, 0, (gint) n); \
    suite_add_tcase (s, tc); \
  } G_STMT_END
  ROW (row01_plugin_registers_and_auto_falls_back);
  ROW (row01_device_cuda_fails_start);
  ROW (row01_device_cuda_passthrough);
  ROW (row02_cuda_device_id_out_of_range);
  ROW (row03_model_missing_directory_empty);
  if (geteuid () != 0)
    ROW (row03_model_unreadable);
  else
    g_print ("SKIP: row03_model_unreadable (running as root, who reads a mode-000 file)\n");
  ROW (row04_corrupt_models);
  ROW (row04_model_load_fault_injected);
  ROW (row05_oom_retry_smaller_batches);
  ROW (row05_oom_persistent_passes_through);
  ROW (row06_sticky_device_error);
  ROW (row07_unsupported_formats_refused);
  ROW (row08_odd_sizes);
  ROW (row09_tiny_frames);
  ROW (row10_8k_frames);
  ROW (row11_caps_change_with_pending_batch);
  ROW (row12_strides_and_padding);
  ROW (row13_interlaced);
  ROW (row14_no_timestamps_no_framerate);
  ROW (row15_gaps_discont_backwards_bytes);
  ROW (row16_flush_while_the_device_works);
  ROW (row17_eos_partial_empty_after_caps);
  ROW (row17_batch_n_equals_batch_1);
  ROW (row18_state_cycles);
  ROW (row18_ready_mid_batch_and_failed_start);
  ROW (row19_downstream_flow_mid_batch);
  ROW (row20_live_latency_and_timeout);
  ROW (row22_instances_and_property_stress);
  ROW (row23_shared_buffers_untouched);
  ROW (row24_extreme_properties);
#undef ROW
  return s;
}

GST_CHECK_MAIN (reliability);
