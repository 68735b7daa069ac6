// Hot CPU loops get an AVX2 clone picked at run time (about 2x on the SSIM
// and conversion loops), and the binary still runs on any x86-64.
// -ffp-contract=off (kernels/meson.build) keeps both clones' rounding
// identical, so results do not depend on the machine.
#pragma once

// Not under ThreadSanitizer: the clones' ifunc resolvers run while the
// dynamic loader relocates, before TSan's runtime exists, and crash there.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define S2S_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#define S2S_INLINE inline __attribute__((always_inline))
#else
#define S2S_SIMD_CLONES
#define S2S_INLINE inline
#endif
