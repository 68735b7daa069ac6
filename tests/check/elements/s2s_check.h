/* Small helpers the element suites share (header-only: each suite is one
 * executable). */
#pragma once

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

#include <dlfcn.h>
#include <string.h>

/* Loads the plugin once before Check forks each test, so the children
 * inherit it. With `libtorch`, also maps the networks' module and LibTorch
 * (models/torch_backend.h; the plugin itself loads them only when a network
 * starts), so the children do not load them again test after test. Only
 * mapped, never run: a LibTorch that has started its thread pools does not
 * survive fork(). The plugin's own lookup then finds the module loaded. */
static inline void
s2s_check_preload (gboolean libtorch)
{
  GstPlugin *plugin = gst_plugin_load_by_name ("s2s");
  if (plugin)
    gst_object_unref (plugin);
  if (!libtorch)
    return;
  gchar *module = g_build_filename (g_getenv ("S2S_PLUGIN_DIR"), "..", "models",
      "libs2s-torch.so", NULL);
  if (!dlopen (module, RTLD_NOW | RTLD_LOCAL))
    GST_WARNING ("cannot preload %s: %s", module, dlerror ());
  g_free (module);
}

/* A buffer for `info` (first plane only: GRAY8 or a packed RGB format) from
 * a file of packed rows, `dir_env`/`file`; GStreamer's stride may be padded. */
static inline GstBuffer *
s2s_check_buffer_from_rows (const gchar * dir_env, const gchar * file, const GstVideoInfo * info,
    GstClockTime pts, GstClockTime duration)
{
  gchar *path = g_build_filename (g_getenv (dir_env), file, NULL);
  gchar *data;
  gsize len;
  fail_unless (g_file_get_contents (path, &data, &len, NULL), "cannot read %s", path);
  g_free (path);
  const guint height = GST_VIDEO_INFO_HEIGHT (info);
  const gsize row = len / height;
  fail_unless (row <= (gsize) GST_VIDEO_INFO_PLANE_STRIDE (info, 0), "%s: %" G_GSIZE_FORMAT
      " bytes per row, more than the stride", file, row);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (guint y = 0; y < height; y++)
    memcpy (map.data + y * GST_VIDEO_INFO_PLANE_STRIDE (info, 0), data + y * row, row);
  gst_buffer_unmap (buf, &map);
  g_free (data);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  return buf;
}
