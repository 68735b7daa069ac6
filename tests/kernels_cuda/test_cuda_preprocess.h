// Suites of test_cuda_preprocess.cpp, run by test_cuda_kernels.cpp's main()
// with its own suites (one binary per runtime: real CUDA and the emulation).
#pragma once

#include <cstdint>

struct Suite;  // check.h's; it is included last (it defines a fail() macro)

// Needs no device: the CPU twins' shared math and the argument checks of the
// launchers (which fail before touching CUDA).
Suite *preprocess_cpu_suite();

// CUDA against the CPU twins, bit for bit; frames of more than max_pixels
// pixels are left out (S2S_CUDA_TEST_MAX_PIXELS, for the emulation).
Suite *preprocess_gpu_suite(int64_t max_pixels);
