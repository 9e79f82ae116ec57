// The AdamW step with AVX-512 (the Swift loop's bits).
#include "common.h"

#if defined(__x86_64__)

// One AdamW step over n parameters with 16-wide registers: the arithmetic of the Swift loop in
// AdamW.step, operation for operation (no fused multiply-adds), so the same bits.
AVX512 void rft_adamw_avx512(long n, float *p, const float *g, float *m, float *v, float b1, float b2,
                             float bc2Sqrt, float eps, float decay, float stepSize) {
    const __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2), nb1 = _mm512_set1_ps(1 - b1);
    const __m512 nb2 = _mm512_set1_ps(1 - b2), vbc = _mm512_set1_ps(bc2Sqrt), veps = _mm512_set1_ps(eps);
    const __m512 vdecay = _mm512_set1_ps(decay), vstep = _mm512_set1_ps(stepSize);
    for (long j = 0; j < n; j += 16) {
        __mmask16 k = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 gj = _mm512_maskz_loadu_ps(k, g + j);
        __m512 mj = _mm512_add_ps(_mm512_mul_ps(vb1, _mm512_maskz_loadu_ps(k, m + j)), _mm512_mul_ps(nb1, gj));
        __m512 vj = _mm512_add_ps(_mm512_mul_ps(vb2, _mm512_maskz_loadu_ps(k, v + j)), _mm512_mul_ps(_mm512_mul_ps(nb2, gj), gj));
        _mm512_mask_storeu_ps(m + j, k, mj);
        _mm512_mask_storeu_ps(v + j, k, vj);
        __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vj), vbc), veps);
        __m512 pj = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + j), vdecay), _mm512_mul_ps(vstep, _mm512_div_ps(mj, denom)));
        _mm512_mask_storeu_ps(p + j, k, pj);
    }
}

#else  // not x86-64: no kernels; callers use OpenBLAS and the Swift kernels

void rft_adamw_avx512(long n, float *p, const float *g, float *m, float *v, float b1, float b2, float bc2Sqrt, float eps,
                      float decay, float stepSize) {
    (void)n; (void)p; (void)g; (void)m; (void)v; (void)b1; (void)b2; (void)bc2Sqrt; (void)eps; (void)decay; (void)stepSize;
}

#endif
