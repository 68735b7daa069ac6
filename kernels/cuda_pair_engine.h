// The CUDA pair engine: MSE and SSIM of consecutive frames on one GPU, with
// the same results as the CPU engine (MSE bitwise, SSIM to rounding).
//
// Only built when meson found CUDA (S2S_HAVE_CUDA in config.h); link
// s2s_kernels_cuda_dep.
#pragma once

#include <memory>
#include <string>

#include "pair_engine.h"

namespace s2s {

// An engine on CUDA device `device_id`, or nullptr with *error saying why
// (no device or driver, id out of range with the device count, no kernel
// image for the device, out of memory).
std::unique_ptr<PairEngine> make_cuda_pair_engine(int device_id, std::string *error);

}  // namespace s2s
