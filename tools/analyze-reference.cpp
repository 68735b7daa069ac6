#include "analyze-reference.h"

#include <glib/gstdio.h>

#include <cerrno>
#include <cstdio>

namespace s2sa {

namespace {

/* Video only: audio, subtitles and the like are exposed as they are (and
 * dropped) instead of decoded. */
gboolean
video_only (GstElement *, GstPad *, GstCaps * caps, gpointer)
{
  const gchar *name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  return !(g_str_has_prefix (name, "audio/") || g_str_has_prefix (name, "text/")
      || g_str_has_prefix (name, "subpicture/") || g_str_has_prefix (name, "closedcaption/")
      || g_str_has_prefix (name, "application/x-subtitle"));
}

void
drop (GstBin * pipeline, GstPad * pad)
{
  GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (pipeline, sink);
  gst_element_sync_state_with_parent (sink);
  GstPad *sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_link (pad, sinkpad);
  gst_object_unref (sinkpad);
}

std::string
basename_of (const std::string & path)
{
  gchar *b = g_path_get_basename (path.c_str ());
  std::string out (b);
  g_free (b);
  return out;
}

}  // namespace

ReferenceInput::~ReferenceInput ()
{
  if (source_)
    gst_object_unref (source_);
  if (convert_)
    gst_object_unref (convert_);
}

bool
ReferenceInput::check_file (const std::string & path, std::string * error)
{
  if (!g_file_test (path.c_str (), G_FILE_TEST_EXISTS)) {
    *error = path + ": no such file (--reference)";
    return false;
  }
  if (g_file_test (path.c_str (), G_FILE_TEST_IS_DIR)) {
    *error = path + ": is a directory (--reference)";
    return false;
  }
  FILE *f = g_fopen (path.c_str (), "rb");
  if (!f) {
    *error = path + ": cannot read it: " + g_strerror (errno) + " (--reference)";
    return false;
  }
  fclose (f);
  return true;
}

bool
ReferenceInput::add (GstBin * pipeline, GstElement * compare, const std::string & path,
    std::string * error)
{
  path_ = path;
  name_ = basename_of (path);
  pipeline_ = pipeline;
  source_ = gst_element_factory_make ("filesrc", "s2s-analyze-reference-source");
  GstElement *decoder = gst_element_factory_make ("decodebin", "s2s-analyze-reference-decodebin");
  convert_ = gst_element_factory_make ("videoconvert", "s2s-analyze-reference-convert");
  if (!source_ || !decoder || !convert_) {
    *error = "cannot decode the reference: filesrc, decodebin or videoconvert is missing";
    if (decoder)
      gst_object_unref (gst_object_ref_sink (decoder));
    return false;
  }
  gst_object_ref (source_);
  gst_object_ref (convert_);
  g_object_set (source_, "location", path.c_str (), NULL);
  gst_bin_add_many (pipeline, source_, decoder, convert_, NULL);
  GstPad *ref_pad = gst_element_get_static_pad (compare, "reference");
  GstPad *convert_src = gst_element_get_static_pad (convert_, "src");
  const bool linked = gst_element_link (source_, decoder)
      && ref_pad && GST_PAD_LINK_SUCCESSFUL (gst_pad_link (convert_src, ref_pad));
  gst_object_unref (convert_src);
  if (ref_pad) {
    gst_pad_add_probe (ref_pad, GST_PAD_PROBE_TYPE_BUFFER, count, this, nullptr);
    gst_object_unref (ref_pad);
  }
  if (!linked) {
    *error = "cannot link the reference branch to s2scompare";
    return false;
  }
  g_signal_connect (decoder, "autoplug-continue", G_CALLBACK (video_only), nullptr);
  g_signal_connect (decoder, "pad-added", G_CALLBACK (on_pad_added), this);
  g_signal_connect (decoder, "no-more-pads", G_CALLBACK (on_no_more_pads), this);
  return true;
}

void
ReferenceInput::on_pad_added (GstElement * decoder, GstPad * pad, gpointer data)
{
  ReferenceInput *self = static_cast<ReferenceInput *> (data);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const bool video = !gst_caps_is_empty (caps)
      && g_str_has_prefix (gst_structure_get_name (gst_caps_get_structure (caps, 0)),
      "video/x-raw");
  gst_caps_unref (caps);
  bool expected = false;
  if (!video || !self->linked_.compare_exchange_strong (expected, true)) {
    drop (self->pipeline_, pad);        /* not video, or a second video stream */
    return;
  }
  GstPad *target = gst_element_get_static_pad (self->convert_, "sink");
  const GstPadLinkReturn ret = gst_pad_link (pad, target);
  gst_object_unref (target);
  if (GST_PAD_LINK_FAILED (ret))
    GST_ELEMENT_ERROR (decoder, CORE, NEGOTIATION,
        ("%s: could not link the decoded reference video (%s)", self->name_.c_str (),
            gst_pad_link_get_name (ret)), (nullptr));
}

void
ReferenceInput::on_no_more_pads (GstElement * decoder, gpointer data)
{
  ReferenceInput *self = static_cast<ReferenceInput *> (data);
  if (!self->linked_)
    GST_ELEMENT_ERROR (decoder, STREAM, WRONG_TYPE,
        ("the reference %s has no video stream GStreamer can decode", self->name_.c_str ()),
        (nullptr));
}

GstPadProbeReturn
ReferenceInput::count (GstPad *, GstPadProbeInfo *, gpointer data)
{
  static_cast<ReferenceInput *> (data)->frames_++;
  return GST_PAD_PROBE_OK;
}

std::string
ReferenceInput::length_mismatch (guint64 distorted, const std::string & dist_name) const
{
  const guint64 ref = frames_;
  char buf[512];
  if (ref < distorted)
    g_snprintf (buf, sizeof buf, "the reference %s has %" G_GUINT64_FORMAT " frames, %s has %"
        G_GUINT64_FORMAT, name_.c_str (), ref, dist_name.c_str (), distorted);
  else if (ref > distorted)
    g_snprintf (buf, sizeof buf, "the reference %s has more frames than %s (%" G_GUINT64_FORMAT
        ")", name_.c_str (), dist_name.c_str (), distorted);
  else
    return "";
  return std::string (buf) + ": the lengths differ (--allow-length-mismatch compares the "
      "common part)";
}

guint64
ReferenceInput::common_frames (guint64 distorted) const
{
  return std::min<guint64> (frames_, distorted);
}

}  // namespace s2sa
