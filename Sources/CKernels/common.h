// What the kernel files share, private to CKernels (the module's interface is include/ckernels.h):
// the target attributes, the SIMD exp and tanh written once for both widths, the blocking of the
// products and the AVX-512 blocks both products run. Every function that uses the instructions
// carries its own target attribute; nothing runs unless rft_has_avx2_fma() (and for the AVX-512
// forms rft_has_avx512f()) said yes, so the build stays baseline x86-64.
#ifndef RFT_CKERNELS_COMMON_H
#define RFT_CKERNELS_COMMON_H

#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

// (functions start on a 64-byte boundary, so their hot loops sit the same way in every build)
#define AVX2 __attribute__((target("avx2,fma"), aligned(64)))
#define AVX512 __attribute__((target("avx512f,avx2,fma"), aligned(64)))

// Shared between the kernel files, not exported from the library.
#define INTERNAL __attribute__((visibility("hidden")))

// exp and tanh (below) and GELU (gelu.c) come in an 8-wide AVX2 and a 16-wide AVX-512 form written
// once: P is the intrinsics' prefix (_mm256, _mm512), V and VI the float and int vector types.
// The same operations lane for lane, so the two forms give the same bits.
#define ROUND_mm256(v) _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define ROUND_mm512(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define ASFLOAT_mm256(v) _mm256_castsi256_ps(v)
#define ASFLOAT_mm512(v) _mm512_castsi512_ps(v)

// exp: Cephes' expf (range reduction by ln 2 in two parts, degree-5 polynomial), about 1 ulp;
// inputs are clamped to [−87.3, 88.3] (−∞ gives a tiny positive number).
#define DEFINE_EXP(ATTR, NAME, P, V, VI)                                                              \
    ATTR static inline V NAME(V x) {                                                                  \
        x = P##_min_ps(P##_max_ps(x, P##_set1_ps(-87.3f)), P##_set1_ps(88.3f));                        \
        V fx = ROUND##P(P##_mul_ps(x, P##_set1_ps(1.44269504088896341f)));                             \
        V r = P##_fnmadd_ps(fx, P##_set1_ps(0.693359375f), x);                                         \
        r = P##_fnmadd_ps(fx, P##_set1_ps(-2.12194440e-4f), r);                                        \
        V y = P##_set1_ps(1.9875691500e-4f);                                                           \
        y = P##_fmadd_ps(y, r, P##_set1_ps(1.3981999507e-3f));                                         \
        y = P##_fmadd_ps(y, r, P##_set1_ps(8.3334519073e-3f));                                         \
        y = P##_fmadd_ps(y, r, P##_set1_ps(4.1665795894e-2f));                                         \
        y = P##_fmadd_ps(y, r, P##_set1_ps(1.6666665459e-1f));                                         \
        y = P##_fmadd_ps(y, r, P##_set1_ps(5.0000001201e-1f));                                         \
        y = P##_fmadd_ps(y, P##_mul_ps(r, r), P##_add_ps(r, P##_set1_ps(1.0f)));                       \
        VI e = P##_slli_epi32(P##_add_epi32(P##_cvtps_epi32(fx), P##_set1_epi32(127)), 23);           \
        return P##_mul_ps(y, ASFLOAT##P(e));                                                           \
    }
DEFINE_EXP(AVX2, exp8, _mm256, __m256, __m256i)
DEFINE_EXP(AVX512, exp16, _mm512, __m512, __m512i)

// tanh: the 13/6-degree rational approximation of the Swift kernel (`vtanh`).
#define DEFINE_TANH(ATTR, NAME, P, V)                                                                 \
    ATTR static inline V NAME(V x) {                                                                  \
        const V lim = P##_set1_ps(7.90531110763549805f);                                               \
        x = P##_min_ps(P##_max_ps(x, P##_sub_ps(P##_setzero_ps(), lim)), lim);                         \
        V x2 = P##_mul_ps(x, x);                                                                       \
        V p = P##_set1_ps(-2.76076847742355e-16f);                                                     \
        p = P##_fmadd_ps(p, x2, P##_set1_ps(2.00018790482477e-13f));                                   \
        p = P##_fmadd_ps(p, x2, P##_set1_ps(-8.60467152213735e-11f));                                  \
        p = P##_fmadd_ps(p, x2, P##_set1_ps(5.12229709037114e-08f));                                   \
        p = P##_fmadd_ps(p, x2, P##_set1_ps(1.48572235717979e-05f));                                   \
        p = P##_fmadd_ps(p, x2, P##_set1_ps(6.37261928875436e-04f));                                   \
        p = P##_fmadd_ps(p, x2, P##_set1_ps(4.89352455891786e-03f));                                   \
        V q = P##_set1_ps(1.19825839466702e-06f);                                                      \
        q = P##_fmadd_ps(q, x2, P##_set1_ps(1.18534705686654e-04f));                                   \
        q = P##_fmadd_ps(q, x2, P##_set1_ps(2.26843463243900e-03f));                                   \
        q = P##_fmadd_ps(q, x2, P##_set1_ps(4.89352518554385e-03f));                                   \
        return P##_div_ps(P##_mul_ps(x, p), q);                                                        \
    }
DEFINE_TANH(AVX2, tanh8, _mm256, __m256)
DEFINE_TANH(AVX512, tanh16, _mm512, __m512)

// Columns of k per pass (a panel's slice, 16 KB, stays in L1) and rows per block (their x
// slice, 64 KB, stays in L2).
enum { KC = 256, MC = 64 };

// How a block's sums reach out: v = alpha·sum (+ bias) (+ beta·out, out read only when beta ≠ 0);
// prefetch: the panel slice the next block will read (k lines of 16 floats), fetched into L1 one
// line per step of k while this block runs, or NULL.
typedef struct { const float *bias; float alpha, beta; const float *prefetch; } Finish;

// R rows of x (1…16) against one packed panel, finished as f says (blocks_avx512.c).
typedef void WideBlock(int k, const float *x, int ldx, const float *panel, Finish f, float *out, int ldo,
                       __mmask16 mask);
// The blocks by row count (entry 0 is NULL), for x row-major and for x column-major.
INTERNAL extern WideBlock *const rft_row_blocks[17];
INTERNAL extern WideBlock *const rft_column_blocks[17];

#endif

#endif
