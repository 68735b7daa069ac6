/* Registration of the plugin's custom metas (names in s2s-meta.h). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Registers S2SMetricsMeta and MusiqScoreMeta once per process. */
void s2s_register_metas (void);

G_END_DECLS
