#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gsts2scompare.h"
#include "gsts2smetrics.h"
#if S2S_HAVE_TORCH
#include "gstmusiqscore.h"
#endif
#include "s2smeta.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  s2s_register_metas ();
  gboolean ok = GST_ELEMENT_REGISTER (s2smetrics, plugin);
  ok &= GST_ELEMENT_REGISTER (s2scompare, plugin);
#if S2S_HAVE_TORCH
  /* MUSIQ is a network: without LibTorch there is nothing it could do. */
  ok &= GST_ELEMENT_REGISTER (musiqscore, plugin);
#endif
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, s2s,
    "Video quality metrics on the GPU: consecutive-frame MSE, SSIM, LPIPS and MUSIQ",
    plugin_init, VERSION, "LGPL", PACKAGE, "gst-s2s")
