/* CUDA memory from GStreamer's CUDA elements (nvh264dec, cudaupload,
 * cudaconvert), read in place by the engines.
 *
 * Built only where meson found the CUDA toolkit and gstreamer-cuda-1.0
 * (S2S_HAVE_GST_CUDA in config.h).
 *
 * Contexts (docs/reliability.md, "CUDA contexts"): GStreamer's CUDA elements
 * share a GstCudaContext through the GstContext "gst.cuda.context"; in 1.22
 * a context they make themselves comes from cuCtxCreate, while our engines
 * and LibTorch work in the device's primary context, and memory of one
 * context cannot be handed to a kernel of another. So the element offers a
 * GstCudaContext that wraps the primary context before upstream makes its
 * own (we change state first, being downstream): decoders adopt it and their
 * frames are read in place. When upstream brings another context anyway (the
 * application set one, or upstream started first), each frame is copied
 * device-to-device into the primary context (cuMemcpyPeerAsync), never
 * through the host.
 *
 * Streams: GStreamer 1.22's CUDA memory carries no stream; its producers
 * synchronise before pushing, so a frame is ready when it arrives. Our own
 * copies are queued on the link's stream, which the engines wait for on the
 * device (PairEngine::score_device's producer_stream). */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <memory>
#include <string>

namespace s2s {

class CudaLink {
 public:
  CudaLink ();
  ~CudaLink ();
  CudaLink (const CudaLink &) = delete;
  CudaLink & operator= (const CudaLink &) = delete;

  /* GstElement::set_context: keeps a "gst.cuda.context" for the device
   * (device_id -1: any device). */
  void set_context (GstElement * element, GstContext * context, int device_id);

  /* Answers a neighbour's context query with our context. */
  bool answer_query (GstElement * element, GstQuery * query);

  /* NULL->READY: the pipeline's context (set on us, or a neighbour's), else
   * a new one wrapping the primary context of device_id (-1: device 0),
   * announced with a have-context message. FALSE with *why where CUDA is not
   * usable; frames in CUDA memory are then read through host maps. */
  bool ensure (GstElement * element, int device_id, std::string * why);

  /* READY->NULL: drops the context and every device buffer. */
  void reset ();

  /* Device of the pipeline's context, -1 without one. */
  int device_id () const;

  /* Whether the buffer's memory is CUDA memory. */
  static bool is_cuda_buffer (GstBuffer * buffer);

  /* A batch starts: copies of the previous one may be overwritten. */
  void begin_batch ();

  /* For a frame mapped with GST_MAP_READ | GST_MAP_CUDA: leaves the plane
   * pointers as they are when the memory belongs to the primary context of
   * our device, else copies the planes device-to-device into a staging
   * buffer of ours and points frame->data[] at it (the maps themselves are
   * untouched, so gst_video_frame_unmap still releases them). FALSE with
   * *error when that fails. */
  bool make_readable (GstVideoFrame * frame, std::string * error);

  /* What the engines wait for before reading the frames of this batch: a
   * cudaStream_t, or NULL when nothing was queued. */
  void *ready_stream () const;

 private:
  /* Frees the stream, the staging buffers and the primary context. */
  void release_device ();

  struct Impl;
  std::unique_ptr < Impl > impl_;
};

}  // namespace s2s
