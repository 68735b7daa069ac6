/* The GPU suite, GStreamer part: s2smetrics and musiqscore on a real CUDA
 * device, with GStreamer's CUDA elements (nvcodec) upstream.
 *
 * Every result on the device is compared with the same element on the CPU
 * in the same pipeline (a tee feeds both the same frames):
 * - every format cudaupload produces, odd sizes included: CUDA memory read
 *   in place, and system memory uploaded by the engine;
 * - nvh264dec's CUDA memory (where the driver offers NVDEC): the decoder
 *   adopts the primary context we offer, so frames are read in place;
 * - a foreign context (cuCtxCreate, set on cudaupload by the application):
 *   frames are copied device-to-device, results unchanged;
 * - LPIPS and MUSIQ on CUDA against the CPU, with the test weights;
 * - 200 start/stop cycles with the device's free memory sampled.
 *
 * Without a GPU (or without nvcodec's elements) it prints why and exits 77,
 * which meson reports as SKIP. docs/gpu.md tells how to run it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/cuda/gstcudacontext.h>
#include <gst/cuda/gstcudaloader.h>
#include <gst/cuda/gstcudamemory.h>
#include <gst/cuda/gstcudautils.h>
#include <gst/video/video.h>

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_FRAMES 9

/* Our formats, in the template's order. */
static const gchar *const our_formats[] = {
  "GRAY8", "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "ARGB", "ABGR", "xRGB", "xBGR",
  "I420", "YV12", "Y42B", "Y444", "NV12", "NV21", "NV16", "NV24",
};

/* Results of one run: per element name, the structures posted, by frame. */
typedef struct
{
  GHashTable *by_element;       /* name -> GPtrArray of GstStructure, index = frame */
  gchar *error;                 /* first ERROR, or NULL */
  guint warnings;
  GstCaps *cuda_caps_seen;      /* caps on gpu's sink pad while playing */
} RunResult;

static void
run_result_clear (RunResult * r)
{
  g_hash_table_unref (r->by_element);
  g_free (r->error);
  if (r->cuda_caps_seen)
    gst_caps_unref (r->cuda_caps_seen);
}

static void
store_result (RunResult * r, GstMessage * msg)
{
  const GstStructure *s = gst_message_get_structure (msg);
  const gchar *name = GST_OBJECT_NAME (GST_MESSAGE_SRC (msg));
  guint64 frame;
  if (!s || !gst_structure_get_uint64 (s, "frame", &frame))
    return;                     /* summaries */
  GPtrArray *list = g_hash_table_lookup (r->by_element, name);
  if (!list) {
    list = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
    g_hash_table_insert (r->by_element, g_strdup (name), list);
  }
  while (list->len <= frame)
    g_ptr_array_add (list, NULL);
  if (g_ptr_array_index (list, frame))
    gst_structure_free (g_ptr_array_index (list, frame));
  g_ptr_array_index (list, frame) = gst_structure_copy (s);
}

/* Runs a pipeline to EOS (or an ERROR), collecting every element message. */
static void
run_pipeline (GstElement * pipeline, RunResult * r)
{
  memset (r, 0, sizeof (*r));
  r->by_element = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_ptr_array_unref);
  GstBus *bus = gst_element_get_bus (pipeline);
  /* A failing start posts an ERROR, collected below. */
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop (bus, 120 * GST_SECOND);
    fail_unless (msg != NULL, "no EOS within 120 s");
    gboolean done = FALSE;
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ELEMENT:
        store_result (r, msg);
        break;
      case GST_MESSAGE_WARNING:{
        GError *err;
        gchar *dbg;
        gst_message_parse_warning (msg, &err, &dbg);
        g_printerr ("WARNING from %s: %s (%s)\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
            err->message, dbg ? dbg : "");
        r->warnings++;
        g_error_free (err);
        g_free (dbg);
        break;
      }
      case GST_MESSAGE_ERROR:{
        GError *err;
        gchar *dbg;
        gst_message_parse_error (msg, &err, &dbg);
        r->error = g_strdup_printf ("%s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
            err->message, dbg ? dbg : "");
        g_error_free (err);
        g_free (dbg);
        done = TRUE;
        break;
      }
      case GST_MESSAGE_EOS:
        done = TRUE;
        break;
      default:
        break;
    }
    if (!r->cuda_caps_seen) {
      GstElement *gpu = gst_bin_get_by_name (GST_BIN (pipeline), "gpu");
      if (gpu) {
        GstPad *pad = gst_element_get_static_pad (gpu, "sink");
        r->cuda_caps_seen = gst_pad_get_current_caps (pad);
        gst_object_unref (pad);
        gst_object_unref (gpu);
      }
    }
    gst_message_unref (msg);
    if (done)
      break;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
}

static GstElement *
parse (const gchar * description)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (description, &err);
  fail_unless (p != NULL && err == NULL, "could not build '%s': %s", description,
      err ? err->message : "?");
  return p;
}

static gboolean
have_elements (const gchar * const *names, gchar ** missing)
{
  for (guint i = 0; names[i]; i++) {
    GstElementFactory *f = gst_element_factory_find (names[i]);
    if (!f) {
      *missing = g_strdup (names[i]);
      return FALSE;
    }
    gst_object_unref (f);
  }
  return TRUE;
}

static gdouble
field (const GstStructure * s, const gchar * name)
{
  gdouble v = NAN;
  if (s)
    gst_structure_get_double (s, name, &v);
  return v;
}

/* The device's results equal the CPU's: MSE exactly (integer sums), the
 * others within `rel` relative (SSIM: 1e-5 as issue 3 asks; networks: their
 * own bound). NaN where the CPU has NaN. */
static void
compare_runs (const RunResult * r, const gchar * cpu, const gchar * gpu,
    const gchar * const *fields, const gdouble * rel, guint expect_frames, const gchar * what)
{
  GPtrArray *a = g_hash_table_lookup (r->by_element, cpu);
  GPtrArray *b = g_hash_table_lookup (r->by_element, gpu);
  fail_unless (a && b, "%s: no results from %s or %s", what, cpu, gpu);
  fail_unless (a->len == b->len, "%s: %u results on the CPU, %u on the device", what, a->len,
      b->len);
  guint compared = 0;
  for (guint i = 0; i < a->len; i++) {
    const GstStructure *sa = g_ptr_array_index (a, i);
    const GstStructure *sb = g_ptr_array_index (b, i);
    fail_unless ((sa == NULL) == (sb == NULL), "%s: frame %u reported by one side only", what, i);
    if (!sa)
      continue;
    const gchar *status_a = gst_structure_get_string (sa, "status");
    const gchar *status_b = gst_structure_get_string (sb, "status");
    fail_unless (g_strcmp0 (status_a, status_b) == 0, "%s: frame %u status %s on the CPU, %s "
        "on the device (%s)", what, i, status_a, status_b,
        gst_structure_get_string (sb, "reason"));
    for (guint k = 0; fields[k]; k++) {
      const gdouble x = field (sa, fields[k]), y = field (sb, fields[k]);
      if (isnan (x)) {
        fail_unless (isnan (y), "%s: frame %u %s NaN on the CPU, %.17g on the device", what, i,
            fields[k], y);
        continue;
      }
      const gdouble tol = rel[k] * fmax (fabs (x), 1e-3);
      fail_unless (fabs (x - y) <= tol, "%s: frame %u %s CPU %.17g device %.17g (|d| %.3g > %.3g)",
          what, i, fields[k], x, y, fabs (x - y), tol);
    }
    compared++;
  }
  fail_unless (compared >= expect_frames, "%s: only %u frames compared", what, compared);
}

static const gchar *const pair_fields[] = { "mse", "inv-ssim", NULL };
static const gdouble pair_tolerance[] = { 0.0, 1e-5 };

/* Runs a pipeline whose analysers are named cpu and gpu to EOS and
 * compares their results (compare_runs). */
static void
run_and_compare (const gchar * description, const gchar * const *fields, const gdouble * rel,
    guint expect_frames, const gchar * what)
{
  GstElement *p = parse (description);
  RunResult r;
  run_pipeline (p, &r);
  fail_unless (r.error == NULL, "%s: %s", what, r.error);
  compare_runs (&r, "cpu", "gpu", fields, rel, expect_frames, what);
  run_result_clear (&r);
  gst_object_unref (p);
}

/* Formats cudaupload makes CUDA memory of, among ours. */
static GPtrArray *
cuda_upload_formats (void)
{
  GPtrArray *out = g_ptr_array_new ();
  GstElement *up = gst_element_factory_make ("cudaupload", NULL);
  GstPad *src = gst_element_get_static_pad (up, "src");
  GstCaps *templ = gst_pad_get_pad_template_caps (src);
  for (guint i = 0; i < G_N_ELEMENTS (our_formats); i++) {
    gchar *str = g_strdup_printf ("video/x-raw(memory:CUDAMemory), format=%s", our_formats[i]);
    GstCaps *c = gst_caps_from_string (str);
    if (gst_caps_can_intersect (c, templ))
      g_ptr_array_add (out, (gpointer) our_formats[i]);
    gst_caps_unref (c);
    g_free (str);
  }
  gst_caps_unref (templ);
  gst_object_unref (src);
  gst_object_unref (up);
  return out;
}

/* One tee, three analysers: the CPU, CUDA memory read in place (cudaupload)
 * and system memory uploaded by the engine. */
static void
check_format (const gchar * format, gint w, gint h, gboolean cuda_memory)
{
  gchar *caps = g_strdup_printf ("video/x-raw, format=%s, width=%d, height=%d, framerate=30/1",
      format, w, h);
  gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! %s ! tee name=t "
      "t. ! queue ! s2smetrics name=cpu device=cpu metrics=mse+inv-ssim batch-size=4 ! fakesink "
      "t. ! queue ! s2smetrics name=sys device=cuda metrics=mse+inv-ssim batch-size=4 ! fakesink "
      "%s", N_FRAMES, caps, cuda_memory ?
      "t. ! queue ! cudaupload ! video/x-raw(memory:CUDAMemory) ! "
      "s2smetrics name=gpu device=cuda metrics=mse+inv-ssim batch-size=4 ! fakesink" : "");
  GstElement *p = parse (desc);
  RunResult r;
  run_pipeline (p, &r);
  gchar *what = g_strdup_printf ("%s %dx%d", format, w, h);
  fail_unless (r.error == NULL, "%s: %s", what, r.error);
  /* Frames smaller than the 7x7 window: one warning from each analyser. */
  const guint analysers = cuda_memory ? 3 : 2;
  fail_unless_equals_int (r.warnings, (w < 7 || h < 7) ? analysers : 0);
  compare_runs (&r, "cpu", "sys", pair_fields, pair_tolerance, N_FRAMES - 1, what);
  if (cuda_memory) {
    fail_unless (r.cuda_caps_seen && gst_caps_features_contains (gst_caps_get_features
            (r.cuda_caps_seen, 0), GST_CAPS_FEATURE_MEMORY_CUDA_MEMORY),
        "%s: gpu did not negotiate CUDA memory", what);
    compare_runs (&r, "cpu", "gpu", pair_fields, pair_tolerance, N_FRAMES - 1, what);
  }
  run_result_clear (&r);
  gst_object_unref (p);
  g_free (what);
  g_free (desc);
  g_free (caps);
}

GST_START_TEST (test_every_format_cuda_equals_cpu)
{
  static const gint sizes[][2] = { {64, 48}, {33, 17}, {7, 7}, {5, 3}, {641, 361} };
  GPtrArray *uploadable = cuda_upload_formats ();
  fail_unless (uploadable->len >= 6, "cudaupload offers only %u of our formats", uploadable->len);
  for (guint i = 0; i < G_N_ELEMENTS (our_formats); i++) {
    gboolean cuda_memory = FALSE;
    for (guint k = 0; k < uploadable->len; k++)
      cuda_memory = cuda_memory || g_str_equal (g_ptr_array_index (uploadable, k), our_formats[i]);
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
      /* 4:2:x subsampled formats need no even size in GStreamer, but keep
       * the 1-pixel chroma edge in the odd sizes: that is the point. */
      check_format (our_formats[i], sizes[s][0], sizes[s][1], cuda_memory);
    }
  }
  g_ptr_array_unref (uploadable);
}

GST_END_TEST;

/* A 1080p NV12 batch of 64 on the device equals the CPU (sizes where the
 * kernels' partial sums are many). */
GST_START_TEST (test_large_batches)
{
  run_and_compare ("videotestsrc num-buffers=70 pattern=ball ! "
      "video/x-raw, format=NV12, width=1920, height=1080, framerate=30/1 ! tee name=t "
      "t. ! queue max-size-buffers=0 max-size-bytes=0 ! s2smetrics name=cpu device=cpu "
      "metrics=mse+inv-ssim batch-size=64 ! fakesink "
      "t. ! queue max-size-buffers=0 max-size-bytes=0 ! cudaupload ! "
      "video/x-raw(memory:CUDAMemory) ! s2smetrics name=gpu device=cuda metrics=mse+inv-ssim "
      "batch-size=64 ! fakesink", pair_fields, pair_tolerance, 69, "NV12 1080p batch 64");
}

GST_END_TEST;

/* The context the pipeline's bin holds (ours, announced at NULL->READY). */
static GstCudaContext *
bin_cuda_context (GstElement * pipeline)
{
  GstContext *c = gst_element_get_context (pipeline, GST_CUDA_CONTEXT_TYPE);
  GstCudaContext *ctx = NULL;
  if (c) {
    gst_structure_get (gst_context_get_structure (c), GST_CUDA_CONTEXT_TYPE,
        GST_TYPE_CUDA_CONTEXT, &ctx, NULL);
    gst_context_unref (c);
  }
  return ctx;
}

typedef struct
{
  GstCudaContext *seen;         /* context of the first CUDA buffer at gpu */
  guint cuda_buffers;
} MemoryProbe;

static GstPadProbeReturn
memory_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  (void) pad;
  MemoryProbe *m = data;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMemory *mem = gst_buffer_peek_memory (b, 0);
  if (gst_is_cuda_memory (mem)) {
    m->cuda_buffers++;
    if (!m->seen)
      m->seen = gst_object_ref (GST_CUDA_MEMORY_CAST (mem)->context);
  }
  return GST_PAD_PROBE_OK;
}

/* Runs the pipeline with memory_probe on the sink pad of its element "gpu". */
static void
run_probing_gpu_input (GstElement * p, MemoryProbe * m, RunResult * r)
{
  GstElement *gpu = gst_bin_get_by_name (GST_BIN (p), "gpu");
  GstPad *pad = gst_element_get_static_pad (gpu, "sink");
  m->seen = NULL;
  m->cuda_buffers = 0;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, memory_probe, m, NULL);
  run_pipeline (p, r);
  gst_object_unref (pad);
  gst_object_unref (gpu);
}

/* Registered only where these exist (s2s_cuda_memory_suite). */
static const gchar *const nvdec_elements[] =
    { "nvh264dec", "x264enc", "h264parse", "cudadownload", NULL };

GST_START_TEST (test_nvh264dec_zero_copy)
{
  GstElement *p = parse ("videotestsrc num-buffers=40 pattern=ball ! "
      "video/x-raw, format=I420, width=640, height=360, framerate=30/1 ! "
      "x264enc speed-preset=ultrafast key-int-max=10 ! h264parse ! nvh264dec ! tee name=t "
      "t. ! queue ! video/x-raw(memory:CUDAMemory) ! s2smetrics name=gpu device=cuda "
      "metrics=mse+inv-ssim ! fakesink "
      "t. ! queue ! cudadownload ! video/x-raw ! s2smetrics name=cpu device=cpu "
      "metrics=mse+inv-ssim ! fakesink");
  MemoryProbe m;
  RunResult r;
  run_probing_gpu_input (p, &m, &r);
  fail_unless (r.error == NULL, "%s", r.error);
  compare_runs (&r, "cpu", "gpu", pair_fields, pair_tolerance, 39, "nvh264dec");
  fail_unless (m.cuda_buffers == 40, "%u of 40 frames reached s2smetrics in CUDA memory",
      m.cuda_buffers);
  /* Zero copy: the decoder adopted the context we announced (the primary
   * context), so its frames are read in place. */
  GstCudaContext *ours = bin_cuda_context (p);
  fail_unless (ours != NULL, "no gst.cuda.context announced in the pipeline");
  fail_unless (m.seen != NULL);
  fail_unless (gst_cuda_context_get_handle (m.seen) == gst_cuda_context_get_handle (ours),
      "the decoder allocated in a context of its own");
  gst_object_unref (ours);
  gst_object_unref (m.seen);
  run_result_clear (&r);
  gst_object_unref (p);
}

GST_END_TEST;

/* Upstream in a context of its own (the application's): frames are copied
 * device-to-device into the primary context; the results do not change. */
GST_START_TEST (test_foreign_context)
{
  GstCudaContext *other = gst_cuda_context_new (0);
  fail_unless (other != NULL);
  GstElement *p = parse ("videotestsrc num-buffers=12 pattern=ball ! "
      "video/x-raw, format=NV12, width=320, height=240, framerate=30/1 ! tee name=t "
      "t. ! queue ! s2smetrics name=cpu device=cpu metrics=mse+inv-ssim batch-size=5 ! fakesink "
      "t. ! queue ! cudaupload name=up ! video/x-raw(memory:CUDAMemory) ! "
      "s2smetrics name=gpu device=cuda metrics=mse+inv-ssim batch-size=5 ! fakesink");
  GstElement *up = gst_bin_get_by_name (GST_BIN (p), "up");
  GstContext *c = gst_context_new_cuda_context (other);
  gst_element_set_context (up, c);
  gst_context_unref (c);

  MemoryProbe m;
  RunResult r;
  run_probing_gpu_input (p, &m, &r);
  fail_unless (r.error == NULL, "%s", r.error);
  fail_unless_equals_int (r.warnings, 0);
  fail_unless (m.seen != NULL && gst_cuda_context_get_handle (m.seen) ==
      gst_cuda_context_get_handle (other), "cudaupload did not use the application's context");
  compare_runs (&r, "cpu", "gpu", pair_fields, pair_tolerance, 11, "foreign context");
  gst_object_unref (m.seen);
  run_result_clear (&r);
  gst_object_unref (up);
  gst_object_unref (p);
  gst_object_unref (other);
}

GST_END_TEST;

/* LPIPS and MUSIQ on CUDA against the CPU, with the test weights. fp32 on
 * both sides (TF32 off); cuDNN's algorithms sum in other orders. */
GST_START_TEST (test_networks_cuda_equal_cpu)
{
  /* Registered only with one of them at least (s2s_cuda_memory_suite). */
  const gchar *lpips = g_getenv ("S2S_LPIPS_WEIGHTS");
  const gchar *musiq = g_getenv ("S2S_MUSIQ_WEIGHTS");
  if (lpips) {
    gchar *desc = g_strdup_printf ("videotestsrc num-buffers=10 pattern=ball ! "
        "video/x-raw, format=NV12, width=320, height=240, framerate=30/1 ! tee name=t "
        "t. ! queue ! s2smetrics name=cpu device=cpu metrics=mse+inv-ssim+lpips lpips-model=\"%s\" ! fakesink "
        "t. ! queue ! cudaupload ! video/x-raw(memory:CUDAMemory) ! s2smetrics name=gpu "
        "device=cuda metrics=mse+inv-ssim+lpips lpips-model=\"%s\" ! fakesink", lpips, lpips);
    static const gchar *const f[] = { "mse", "inv-ssim", "lpips", "weighted", NULL };
    static const gdouble tol[] = { 0.0, 1e-5, 1e-4, 1e-4 };
    run_and_compare (desc, f, tol, 9, "LPIPS");
    g_free (desc);
  }
  if (musiq) {
    gchar *desc = g_strdup_printf ("videotestsrc num-buffers=4 pattern=ball ! "
        "video/x-raw, format=NV12, width=512, height=384, framerate=30/1 ! tee name=t "
        "t. ! queue ! musiqscore name=cpu device=cpu model=\"%s\" ! fakesink "
        "t. ! queue ! cudaupload ! video/x-raw(memory:CUDAMemory) ! musiqscore name=gpu "
        "device=cuda model=\"%s\" ! fakesink", musiq, musiq);
    static const gchar *const f[] = { "score", NULL };
    static const gdouble tol[] = { 1e-4 };
    run_and_compare (desc, f, tol, 4, "MUSIQ");
    g_free (desc);
  }
}

GST_END_TEST;

static size_t
free_device_memory (void)
{
  size_t free_bytes = 0, total = 0;
  fail_unless (cudaSetDevice (0) == cudaSuccess);
  fail_unless (cudaMemGetInfo (&free_bytes, &total) == cudaSuccess);
  return free_bytes;
}

/* reliability.md row 21 (G): start/stop cycles leak no device memory. The
 * first cycles warm up (CUDA module loading, LibTorch's caching allocator);
 * after that, free memory must not drift. */
GST_START_TEST (test_start_stop_cycles)
{
  const guint cycles = 200, warm = 10;
  size_t after_warm = 0, lowest = (size_t) - 1;
  for (guint i = 0; i < cycles; i++) {
    GstElement *p = parse ("videotestsrc num-buffers=3 pattern=ball ! "
        "video/x-raw, format=NV12, width=320, height=240, framerate=30/1 ! cudaupload ! "
        "video/x-raw(memory:CUDAMemory) ! s2smetrics device=cuda metrics=mse+inv-ssim ! "
        "fakesink");
    RunResult r;
    run_pipeline (p, &r);
    fail_unless (r.error == NULL, "cycle %u: %s", i, r.error);
    run_result_clear (&r);
    gst_object_unref (p);
    const size_t now = free_device_memory ();
    if (i + 1 == warm)
      after_warm = now;
    if (i + 1 >= warm && now < lowest)
      lowest = now;
    if ((i + 1) % 50 == 0)
      g_print ("start/stop cycle %u: %.1f MiB free on device 0\n", i + 1, now / 1048576.0);
  }
  const double drift = ((double) after_warm - (double) lowest) / 1048576.0;
  g_print ("start/stop cycles: %u, device memory drift after warm-up %.1f MiB\n", cycles, drift);
  fail_unless (drift < 16.0, "device memory dropped by %.1f MiB over %u cycles", drift, cycles);
}

GST_END_TEST;

static gboolean
gpu_available (gchar ** why)
{
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount (&count);
  if (e != cudaSuccess || count == 0) {
    *why = g_strdup_printf ("no CUDA device (%s)", cudaGetErrorName (e));
    return FALSE;
  }
  const gchar *const needed[] = { "s2smetrics", "cudaupload", "cudadownload", NULL };
  gchar *missing = NULL;
  if (!have_elements (needed, &missing)) {
    *why = g_strdup_printf ("no %s element (GStreamer's nvcodec plugin missing or without CUDA)",
        missing);
    g_free (missing);
    return FALSE;
  }
  return TRUE;
}

static Suite *
s2s_cuda_memory_suite (void)
{
  Suite *s = suite_create ("s2s_cuda_memory");
  TCase *tc = tcase_create ("gpu");
  tcase_set_timeout (tc, 1200);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_every_format_cuda_equals_cpu);
  tcase_add_test (tc, test_large_batches);
  /* A case that cannot run here is not registered: it says SKIP instead
   * of passing without testing. */
  gchar *missing = NULL;
  if (have_elements (nvdec_elements, &missing))
    tcase_add_test (tc, test_nvh264dec_zero_copy);
  else
    g_print ("SKIP: nvh264dec case not run: no %s (NVDEC missing from the driver, or plugin "
        "absent)\n", missing);
  g_free (missing);
  tcase_add_test (tc, test_foreign_context);
  if (g_getenv ("S2S_LPIPS_WEIGHTS") || g_getenv ("S2S_MUSIQ_WEIGHTS"))
    tcase_add_test (tc, test_networks_cuda_equal_cpu);
  else
    g_print ("SKIP: network case not run: no test weights (build without LibTorch)\n");
  tcase_add_test (tc, test_start_stop_cycles);
  return s;
}

int
main (int argc, char **argv)
{
  gst_check_init (&argc, &argv);
  gchar *why = NULL;
  if (!gpu_available (&why)) {
    g_print ("SKIP: the GPU suite needs a CUDA device and nvcodec: %s\n", why);
    g_free (why);
    return 77;
  }
  Suite *s = s2s_cuda_memory_suite ();
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
