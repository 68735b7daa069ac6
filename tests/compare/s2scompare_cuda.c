/* s2scompare on CUDA memory (GPU suite): the same reference and distorted
 * frames, once in system memory with device=cpu and once uploaded to CUDA
 * memory on both pads with device=cuda (read in place), must give the same
 * results: MSE exactly, SSIM within 1e-5 relative (the CPU/CUDA tolerance
 * of the other elements), and every distorted buffer its result.
 * Exits 77 (skip) where GStreamer's nvcodec (cudaupload) is not available,
 * i.e. on machines without an NVIDIA GPU and driver. */
#include <gst/gst.h>

#include <math.h>
#include <stdio.h>

#define N 24
#define CAPS "video/x-raw, format=NV12, width=320, height=240, framerate=30/1"

/* Runs one pipeline; fills mse[], ssim[] by frame; returns the number of
 * results, -1 on error. */
static int
run (const char *device, gboolean cuda, double *mse, double *ssim)
{
  const char *up = cuda ? " ! cudaupload ! video/x-raw(memory:CUDAMemory)" : "";
  gchar *desc = g_strdup_printf ("s2scompare name=c device=%s metrics=mse+inv-ssim batch-size=4 "
      "! fakesink videotestsrc pattern=ball num-buffers=%d ! " CAPS "%s ! c.reference "
      "videotestsrc pattern=zone-plate kt=1 num-buffers=%d ! " CAPS "%s ! c.distorted",
      device, N, up, N, up);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!p || err) {
    fprintf (stderr, "pipeline: %s\n", err ? err->message : "?");
    return -1;
  }
  GstBus *bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);
  int n = 0, failed = 0;
  for (;;) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND, (GstMessageType)
        (GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT));
    if (!m) {
      fprintf (stderr, "%s: timeout\n", device);
      failed = 1;
      break;
    }
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      GError *e;
      gchar *dbg;
      gst_message_parse_error (m, &e, &dbg);
      fprintf (stderr, "%s: %s (%s)\n", device, e->message, dbg);
      g_error_free (e);
      g_free (dbg);
      failed = 1;
    }
    const GstStructure *s = gst_message_get_structure (m);
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT && gst_structure_has_name (s, "s2scompare")) {
      guint64 f;
      double inv;
      gst_structure_get_uint64 (s, "frame", &f);
      if (f < N) {
        gst_structure_get_double (s, "mse", &mse[f]);
        gst_structure_get_double (s, "inv-ssim", &inv);
        ssim[f] = 1.0 - inv;
        n++;
      }
    }
    const gboolean done = GST_MESSAGE_TYPE (m) != GST_MESSAGE_ELEMENT;
    gst_message_unref (m);
    if (done)
      break;
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  return failed ? -1 : n;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  GstElementFactory *f = gst_element_factory_find ("cudaupload");
  if (!f) {
    printf ("SKIP: no cudaupload (GStreamer nvcodec needs an NVIDIA GPU and driver)\n");
    return 77;
  }
  gst_object_unref (f);
  double mse_cpu[N], ssim_cpu[N], mse_gpu[N], ssim_gpu[N];
  if (run ("cpu", FALSE, mse_cpu, ssim_cpu) != N || run ("cuda", TRUE, mse_gpu, ssim_gpu) != N) {
    fprintf (stderr, "FAIL: a run did not give %d results\n", N);
    return 1;
  }
  for (int i = 0; i < N; i++) {
    if (mse_cpu[i] != mse_gpu[i]
        || fabs (ssim_cpu[i] - ssim_gpu[i]) > 1e-5 * fmax (fabs (ssim_cpu[i]), 1e-3)) {
      fprintf (stderr, "FAIL: frame %d: CPU mse %.17g ssim %.17g, CUDA memory mse %.17g ssim %.17g\n",
          i, mse_cpu[i], ssim_cpu[i], mse_gpu[i], ssim_gpu[i]);
      return 1;
    }
  }
  printf ("%d frames: CUDA memory on both pads gives the CPU's results\n", N);
  return 0;
}
