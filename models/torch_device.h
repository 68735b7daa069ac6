// Whether LibTorch can run on a CUDA device, asked before loading a network
// there (the elements' device policy needs the answer, not an exception in
// the middle of loading). Header-only, so the elements need no LibTorch
// library of their own beyond the models'.
#pragma once

#include <torch/cuda.h>

#include <exception>
#include <string>

namespace s2s {

inline bool torch_cuda_usable(int device, std::string *why) {
  try {
    if (!torch::cuda::is_available()) {
      *why = "LibTorch finds no usable CUDA device (no driver, no device, or CUDA_VISIBLE_DEVICES hides them)";
      return false;
    }
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (device < 0 || device >= count) {
      *why = "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " devices)";
      return false;
    }
    return true;
  } catch (const std::exception &e) {
    *why = std::string("LibTorch could not query CUDA: ") + e.what();
    return false;
  }
}

}  // namespace s2s
