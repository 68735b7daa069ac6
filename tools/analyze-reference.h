/* s2s-analyze DIST --reference REF: the reference side of a full-reference
 * comparison (docs/analyze.md).
 *
 * The distorted file goes through the program's usual decoding into
 * s2scompare's distorted pad; this adds the reference file's own
 * filesrc ! decodebin ! videoconvert into its reference pad, counts the
 * reference frames that reach it, and after the run tells whether the two
 * files had the same number of frames. */
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <string>

namespace s2sa {

class ReferenceInput
{
public:
  ReferenceInput () = default;
  ReferenceInput (const ReferenceInput &) = delete;
  ReferenceInput & operator= (const ReferenceInput &) = delete;
  ~ReferenceInput ();

  /* FALSE with *error when `path` is not a readable file. */
  static bool check_file (const std::string & path, std::string * error);

  /* Adds the reference branch to `pipeline`, into `compare`'s reference
   * pad. FALSE with *error when an element is missing. */
  bool add (GstBin * pipeline, GstElement * compare, const std::string & path,
      std::string * error);

  /* The filesrc, to name it in errors. */
  GstElement *source () const { return source_; }

  /* After the run: empty when both files had the same number of frames,
   * else what differs. `distorted` is the number of distorted frames (one
   * result each). The reference frames counted are those that reached the
   * comparison: after the distorted stream ends, at most one more. */
  std::string length_mismatch (guint64 distorted, const std::string & dist_name) const;

  /* The frames both files have (to keep with --allow-length-mismatch). */
  guint64 common_frames (guint64 distorted) const;

private:
  static void on_pad_added (GstElement * decodebin, GstPad * pad, gpointer self);
  static void on_no_more_pads (GstElement * decodebin, gpointer self);
  static GstPadProbeReturn count (GstPad * pad, GstPadProbeInfo * info, gpointer self);

  std::string path_;
  std::string name_;
  GstBin *pipeline_ = nullptr;
  GstElement *source_ = nullptr;
  GstElement *convert_ = nullptr;
  std::atomic<bool> linked_ {false};
  std::atomic<guint64> frames_ {0};
};

}  // namespace s2sa
