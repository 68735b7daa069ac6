// Precision a network runs in (the elements' `precision` property). No
// LibTorch here, so GStreamer-side code can use it in any build.
#pragma once

namespace s2s {

// kFp32 is true fp32 (no TF32); kFp16/kBf16 run the network body in that
// type, with normalisations and heads in fp32 where the model says so.
enum class NetPrecision { kFp32, kFp16, kBf16 };

}  // namespace s2s
