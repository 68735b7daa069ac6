#include "s2scuda.h"

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <gst/cuda/gstcudacontext.h>
#include <gst/cuda/gstcudaloader.h>
#include <gst/cuda/gstcudamemory.h>
#include <gst/cuda/gstcudautils.h>

#include <mutex>
#include <vector>

GST_DEBUG_CATEGORY_STATIC (s2s_cuda_debug);
#define GST_CAT_DEFAULT s2s_cuda_debug

namespace s2s {

namespace {

/* Driver calls that GStreamer's CUDA loader does not wrap, through the
 * runtime's entry-point lookup: linking libcuda itself would keep the
 * plugin from loading on machines without an NVIDIA driver. The ABI asked
 * for is CUDA 12.0's (cuDevicePrimaryCtxRelease is its _v2). */
struct DriverCalls
{
  CUresult (CUDAAPI * device_get) (CUdevice *, int) = nullptr;
  CUresult (CUDAAPI * primary_retain) (CUcontext *, CUdevice) = nullptr;
  CUresult (CUDAAPI * primary_release) (CUdevice) = nullptr;
  CUresult (CUDAAPI * memcpy_peer_async) (CUdeviceptr, CUcontext, CUdeviceptr, CUcontext, size_t,
      CUstream) = nullptr;
  std::string error;            /* non-empty: a lookup failed */
};

template < typename Fn > void
lookup (const char *name, Fn * fn, std::string * error)
{
  void *p = nullptr;
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  const cudaError_t e = cudaGetDriverEntryPointByVersion (name, &p, 12000, cudaEnableDefault, &found);
  if (e != cudaSuccess || found != cudaDriverEntryPointSuccess || !p) {
    if (error->empty ())
      *error = std::string ("the CUDA driver has no ") + name + " (" + cudaGetErrorName (e) + ")";
    return;
  }
  *fn = reinterpret_cast < Fn > (p);
}

const DriverCalls &
driver ()
{
  static const DriverCalls calls =[]{
    DriverCalls c;
    lookup ("cuDeviceGet", &c.device_get, &c.error);
    lookup ("cuDevicePrimaryCtxRetain", &c.primary_retain, &c.error);
    lookup ("cuDevicePrimaryCtxRelease", &c.primary_release, &c.error);
    lookup ("cuMemcpyPeerAsync", &c.memcpy_peer_async, &c.error);
    return c;
  }
  ();
  return calls;
}

std::string
runtime_error (const char *what, cudaError_t e)
{
  return std::string (what) + " failed (" + cudaGetErrorName (e) + ": " + cudaGetErrorString (e) + ")";
}

std::string
driver_error (const char *what, CUresult r)
{
  const char *name = nullptr;
  if (CuGetErrorName (r, &name) != CUDA_SUCCESS || !name)
    name = "unknown CUDA error";
  return std::string (what) + " failed (" + name + ")";
}

struct PeerQuery
{
  GstQuery *query;
  gboolean answered;
};

gboolean
query_peer (GstElement *, GstPad * pad, gpointer data)
{
  PeerQuery *q = static_cast < PeerQuery * >(data);
  q->answered = gst_pad_peer_query (pad, q->query);
  return !q->answered;          /* stop at the first answer */
}

/* A neighbour's context for the device, as gst_cuda_ensure_element_context
 * finds one (downstream first, then upstream), without its last resort of
 * making a new context. */
GstCudaContext *
context_from_neighbours (GstElement * element, int device_id)
{
  GstCudaContext *found = nullptr;
  PeerQuery q { gst_query_new_context (GST_CUDA_CONTEXT_TYPE), FALSE };
  gst_element_foreach_src_pad (element, query_peer, &q);
  if (!q.answered)
    gst_element_foreach_sink_pad (element, query_peer, &q);
  if (q.answered) {
    GstContext *context = nullptr;
    gst_query_parse_context (q.query, &context);
    if (context)
      gst_cuda_handle_set_context (element, context, device_id, &found);
  }
  gst_query_unref (q.query);
  return found;
}

int
context_device (GstCudaContext * context)
{
  guint id = 0;
  g_object_get (context, "cuda-device-id", &id, NULL);
  return static_cast < int >(id);
}

}  // namespace

struct CudaLink::Impl
{
  std::mutex lock;              /* context: set_context comes from any thread */
  GstCudaContext *context = nullptr;

  /* Set by ensure(), used by the streaming thread afterwards. */
  int device = -1;
  CUdevice cu_device = 0;
  CUcontext primary = nullptr;  /* retained */
  cudaStream_t stream = nullptr;

  /* Device copies of frames from other contexts, reused batch after batch
   * (the engines have finished reading a batch when score() returns). */
  struct Staging
  {
    void *ptr = nullptr;
    size_t bytes = 0;
  };
  std::vector < Staging > staging;
  size_t next_staging = 0;
  bool queued = false;

  GstCudaContext *context_ref ()
  {
    std::lock_guard < std::mutex > g (lock);
    return context ? static_cast < GstCudaContext * >(gst_object_ref (context)) : nullptr;
  }
};

CudaLink::CudaLink ():impl_ (new Impl)
{
  static gsize debug_once = 0;
  if (g_once_init_enter (&debug_once)) {
    GST_DEBUG_CATEGORY_INIT (s2s_cuda_debug, "s2scuda", 0, "s2s CUDA memory and contexts");
    g_once_init_leave (&debug_once, 1);
  }
}

CudaLink::~CudaLink ()
{
  reset ();
}

void
CudaLink::set_context (GstElement * element, GstContext * context, int device_id)
{
  GstCudaContext *incoming = nullptr;
  if (!gst_cuda_handle_set_context (element, context, device_id, &incoming) || !incoming)
    return;
  std::lock_guard < std::mutex > g (impl_->lock);
  if (impl_->context)
    gst_object_unref (impl_->context);
  impl_->context = incoming;
}

bool
CudaLink::answer_query (GstElement * element, GstQuery * query)
{
  GstCudaContext *context = impl_->context_ref ();
  if (!context)
    return false;
  const bool answered = gst_cuda_handle_context_query (element, query, context);
  gst_object_unref (context);
  return answered;
}

bool
CudaLink::ensure (GstElement * element, int device_id, std::string * why)
{
  release_device ();          /* but keep a context the application set */
  if (!gst_cuda_load_library ()) {
    *why = "the CUDA driver library (libcuda.so.1) could not be loaded";
    return false;
  }
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount (&count);
  if (e != cudaSuccess) {
    *why = runtime_error ("cudaGetDeviceCount", e);
    return false;
  }
  const DriverCalls & d = driver ();
  if (!d.error.empty ()) {
    *why = d.error;
    return false;
  }

  /* One set on us (by the application, or by our bin from an earlier
   * have-context), a neighbour's, or one the application hands us when
   * asked; never a context of the wrong device. */
  GstCudaContext *context = impl_->context_ref ();
  if (!context) {
    context = context_from_neighbours (element, device_id);
  }
  if (!context) {
    gst_element_post_message (element, gst_message_new_need_context (GST_OBJECT (element),
            GST_CUDA_CONTEXT_TYPE));
    context = impl_->context_ref ();
  }
  const int device = context ? context_device (context) : (device_id < 0 ? 0 : device_id);
  if (device >= count) {
    *why = "CUDA device " + std::to_string (device) + " does not exist (" +
        std::to_string (count) + " devices)";
    if (context)
      gst_object_unref (context);
    return false;
  }

  CUdevice cu_device = 0;
  CUcontext primary = nullptr;
  CUresult r = d.device_get (&cu_device, device);
  if (r == CUDA_SUCCESS)
    r = d.primary_retain (&primary, cu_device);
  if (r != CUDA_SUCCESS) {
    *why = driver_error ("retaining the primary context", r);
    if (context)
      gst_object_unref (context);
    return false;
  }

  if (!context) {
    /* Ours, wrapping the primary context, for the whole pipeline: upstream
     * CUDA elements starting after us adopt it, and the bin hands it to
     * elements that ask later. */
    context = gst_cuda_context_new_wrapped (primary, cu_device);
    if (!context) {
      d.primary_release (cu_device);
      *why = "wrapping the primary CUDA context failed";
      return false;
    }
    GST_INFO_OBJECT (element, "offering the primary context of CUDA device %d", device);
    GstContext *announced = gst_context_new_cuda_context (context);
    gst_element_post_message (element, gst_message_new_have_context (GST_OBJECT (element),
            announced));
  } else {
    GST_INFO_OBJECT (element, "using the pipeline's CUDA context on device %d%s", device,
        gst_cuda_context_get_handle (context) == primary ? " (the primary context)" :
        "; its frames are copied into the primary context");
  }

  cudaStream_t stream = nullptr;
  cudaError_t se = cudaSetDevice (device);
  if (se == cudaSuccess)
    se = cudaStreamCreateWithFlags (&stream, cudaStreamNonBlocking);
  if (se != cudaSuccess) {
    *why = runtime_error ("creating a CUDA stream", se);
    d.primary_release (cu_device);
    gst_object_unref (context);
    return false;
  }

  std::lock_guard < std::mutex > g (impl_->lock);
  if (impl_->context)
    gst_object_unref (impl_->context);
  impl_->context = context;
  impl_->device = device;
  impl_->cu_device = cu_device;
  impl_->primary = primary;
  impl_->stream = stream;
  return true;
}

void
CudaLink::reset ()
{
  release_device ();
  GstCudaContext *context;
  {
    std::lock_guard < std::mutex > g (impl_->lock);
    context = impl_->context;
    impl_->context = nullptr;
  }
  if (context)
    gst_object_unref (context);
}

void
CudaLink::release_device ()
{
  Impl & m = *impl_;
  if (m.device >= 0) {
    cudaSetDevice (m.device);
    if (m.stream) {
      cudaStreamSynchronize (m.stream);
      cudaStreamDestroy (m.stream);
    }
    for (Impl::Staging & s:m.staging)
      cudaFree (s.ptr);
    if (m.primary)
      driver ().primary_release (m.cu_device);
  }
  m.staging.clear ();
  m.stream = nullptr;
  m.primary = nullptr;
  m.device = -1;
  m.next_staging = 0;
  m.queued = false;
}

int
CudaLink::device_id () const
{
  return impl_->device;
}

bool
CudaLink::is_cuda_buffer (GstBuffer * buffer)
{
  return gst_buffer_n_memory (buffer) > 0 && gst_is_cuda_memory (gst_buffer_peek_memory (buffer, 0));
}

void
CudaLink::begin_batch ()
{
  impl_->next_staging = 0;
  impl_->queued = false;
}

bool
CudaLink::make_readable (GstVideoFrame * frame, std::string * error)
{
  Impl & m = *impl_;
  if (m.device < 0) {
    *error = "no CUDA context";
    return false;
  }

  /* Where each plane is, and whether all of it is already ours. */
  const guint planes = GST_VIDEO_FRAME_N_PLANES (frame);
  CUcontext source[GST_VIDEO_MAX_PLANES] = { };
  size_t bytes[GST_VIDEO_MAX_PLANES] = { };
  size_t total = 0;
  bool foreign = false;
  for (guint i = 0; i < planes; ++i) {
    const GstMapInfo & map = frame->map[i].memory ? frame->map[i] : frame->map[0];
    if (!map.memory || !gst_is_cuda_memory (map.memory)) {
      *error = "plane " + std::to_string (i) + " is not in CUDA memory";
      return false;
    }
    GstCudaMemory *cmem = GST_CUDA_MEMORY_CAST (map.memory);
    source[i] = static_cast < CUcontext > (gst_cuda_context_get_handle (cmem->context));
    foreign = foreign || source[i] != m.primary;

    gint comps[GST_VIDEO_MAX_COMPONENTS];
    gst_video_format_info_component (frame->info.finfo, i, comps);
    const size_t rows = GST_VIDEO_FRAME_COMP_HEIGHT (frame, comps[0]);
    const size_t stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, i);
    const guint8 *begin = static_cast < const guint8 *>(frame->data[i]);
    const guint8 *end = map.data + map.size;
    if (begin < map.data || begin >= end) {
      *error = "plane " + std::to_string (i) + " lies outside its memory";
      return false;
    }
    /* A whole number of rows, but never past the memory (the last row's
     * padding may be missing). */
    bytes[i] = std::min (stride * rows, static_cast < size_t > (end - begin));
    total += (bytes[i] + 255) & ~static_cast < size_t > (255);
  }
  if (!foreign)
    return true;

  cudaError_t e = cudaSetDevice (m.device);
  if (m.next_staging == m.staging.size ())
    m.staging.emplace_back ();
  Impl::Staging & s = m.staging[m.next_staging];
  if (e == cudaSuccess && s.bytes < total) {
    cudaFree (s.ptr);
    s.ptr = nullptr;
    s.bytes = 0;
    e = cudaMalloc (&s.ptr, total);
    if (e == cudaSuccess)
      s.bytes = total;
  }
  if (e != cudaSuccess) {
    *error = runtime_error ("allocating a device copy of a frame from another CUDA context", e);
    return false;
  }
  m.next_staging++;

  size_t offset = 0;
  for (guint i = 0; i < planes; ++i) {
    guint8 *dst = static_cast < guint8 * >(s.ptr) + offset;
    const CUresult r = driver ().memcpy_peer_async (reinterpret_cast < CUdeviceptr > (dst), m.primary,
        reinterpret_cast < CUdeviceptr > (frame->data[i]), source[i], bytes[i],
        reinterpret_cast < CUstream > (m.stream));
    if (r != CUDA_SUCCESS) {
      *error = driver_error ("copying a frame between CUDA contexts (cuMemcpyPeerAsync)", r);
      return false;
    }
    frame->data[i] = dst;
    offset += (bytes[i] + 255) & ~static_cast < size_t > (255);
  }
  m.queued = true;
  return true;
}

void *
CudaLink::ready_stream () const
{
  return impl_->queued ? impl_->stream : nullptr;
}

}  // namespace s2s
