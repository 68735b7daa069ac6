/* gst-s2s public header: read the analysis results attached to buffers.
 *
 * The results are custom metas (gst_meta_register_custom), so any language
 * can read them by name without this header: the meta's GstStructure holds
 * the same fields as the element's per-frame message. These inline helpers
 * only need GStreamer itself; nothing to link.
 *
 *   const GstStructure *r = s2s_buffer_get_metrics (buffer);
 *   gdouble mse;
 *   if (r && gst_structure_get_double (r, "mse", &mse)) ...
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Custom meta names (also the names of the metas' structures). */
#define S2S_METRICS_META_NAME "S2SMetricsMeta"
#define S2S_MUSIQ_SCORE_META_NAME "MusiqScoreMeta"
#define S2S_COMPARE_META_NAME "S2SCompareMeta"

/* Status field values of a result. */
#define S2S_STATUS_OK "ok"             /* every requested metric has a value */
#define S2S_STATUS_PARTIAL "partial"   /* some are NaN; "reason" says why */
#define S2S_STATUS_SKIPPED "skipped"   /* frame not analysed (e.g. gap); "reason" */
#define S2S_STATUS_ERROR "error"       /* analysis failed; "reason" */

static inline const GstStructure *
s2s_buffer_get_result (GstBuffer * buffer, const gchar * meta_name)
{
  GstCustomMeta *meta;
  if (gst_meta_get_info (meta_name) == NULL)
    return NULL;                /* plugin not loaded: no buffer can have it */
  meta = gst_buffer_get_custom_meta (buffer, meta_name);
  return meta ? gst_custom_meta_get_structure (meta) : NULL;
}

/* s2smetrics results of a buffer (frame, timestamp, mse, inv-ssim, lpips,
 * weighted, status, ...), or NULL. Owned by the buffer. */
static inline const GstStructure *
s2s_buffer_get_metrics (GstBuffer * buffer)
{
  return s2s_buffer_get_result (buffer, S2S_METRICS_META_NAME);
}

/* musiqscore results of a buffer (frame, timestamp, score, model, ...). */
static inline const GstStructure *
s2s_buffer_get_musiq_score (GstBuffer * buffer)
{
  return s2s_buffer_get_result (buffer, S2S_MUSIQ_SCORE_META_NAME);
}

/* s2scompare results of a distorted buffer (frame, timestamp,
 * reference-timestamp, mse, psnr, ssim, inv-ssim, lpips, weighted, ...). */
static inline const GstStructure *
s2s_buffer_get_compare (GstBuffer * buffer)
{
  return s2s_buffer_get_result (buffer, S2S_COMPARE_META_NAME);
}

G_END_DECLS
