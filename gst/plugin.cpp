#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gsts2smetrics.h"
#include "s2smeta.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  s2s_register_metas ();
  return GST_ELEMENT_REGISTER (s2smetrics, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, s2s,
    "Video quality metrics on the GPU: consecutive-frame MSE, SSIM, LPIPS and MUSIQ",
    plugin_init, VERSION, "LGPL", PACKAGE, "gst-s2s")
