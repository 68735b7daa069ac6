#include "s2smeta.h"

#include "s2s-meta.h"

void
s2s_register_metas (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    /* No tags: the results describe the whole frame and stay valid through
     * any element that keeps the frame's content. The default transform
     * copies the structure when a buffer is copied. */
    static const gchar *tags[] = { NULL };
    gst_meta_register_custom (S2S_METRICS_META_NAME, tags, NULL, NULL, NULL);
    gst_meta_register_custom (S2S_MUSIQ_SCORE_META_NAME, tags, NULL, NULL, NULL);
    gst_meta_register_custom (S2S_COMPARE_META_NAME, tags, NULL, NULL, NULL);
    g_once_init_leave (&done, 1);
  }
}
