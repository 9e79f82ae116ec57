// GELU(tanh) forward and backward, AVX2 and AVX-512 (the same bits).
#include "common.h"

#if defined(__x86_64__)

// GELU(tanh); *t receives the tanh.
#define DEFINE_GELU(ATTR, NAME, TANH, P, V)                                                           \
    ATTR static inline V NAME(V v, V *t) {                                                            \
        V u = P##_mul_ps(P##_set1_ps(0.7978845608028654f),                                             \
                         P##_fmadd_ps(P##_mul_ps(P##_set1_ps(0.044715f), v), P##_mul_ps(v, v), v));    \
        *t = TANH(u);                                                                                  \
        return P##_mul_ps(P##_mul_ps(P##_set1_ps(0.5f), v), P##_add_ps(P##_set1_ps(1.0f), *t));        \
    }
DEFINE_GELU(AVX2, gelu8, tanh8, _mm256, __m256)
DEFINE_GELU(AVX512, gelu16, tanh16, _mm512, __m512)

// d GELU/dx at v given its tanh t: 0.5·(1 + t) + 0.5·v·(1 − t²)·√(2/π)·(1 + 3·0.044715·v²).
#define DEFINE_GELU_SLOPE(ATTR, NAME, P, V)                                                           \
    ATTR static inline V NAME(V v, V t) {                                                             \
        V one = P##_set1_ps(1.0f), half = P##_set1_ps(0.5f);                                           \
        V du = P##_mul_ps(P##_set1_ps(0.7978845608028654f), P##_fmadd_ps(P##_set1_ps(0.134145f), P##_mul_ps(v, v), one)); \
        V a = P##_mul_ps(half, P##_add_ps(one, t));                                                    \
        return P##_fmadd_ps(P##_mul_ps(P##_mul_ps(half, v), P##_fnmadd_ps(t, t, one)), du, a);         \
    }
DEFINE_GELU_SLOPE(AVX2, geluSlope8, _mm256, __m256)
DEFINE_GELU_SLOPE(AVX512, geluSlope16, _mm512, __m512)

// y = GELU(x) from index i on, 8 at a time, the last n − i mod 8 through a zero-padded block.
AVX2 static inline void geluFrom(long i, long n, const float *x, float *y, float *tanhs) {
    __m256 t;
    for (; i + 8 <= n; i += 8) {
        __m256 g = gelu8(_mm256_loadu_ps(x + i), &t);
        _mm256_storeu_ps(y + i, g);
        if (tanhs) _mm256_storeu_ps(tanhs + i, t);
    }
    if (i < n) {
        float in[8] = {0}, out[8], ts[8];
        for (long j = i; j < n; j++) in[j - i] = x[j];
        _mm256_storeu_ps(out, gelu8(_mm256_loadu_ps(in), &t));
        _mm256_storeu_ps(ts, t);
        for (long j = i; j < n; j++) { y[j] = out[j - i]; if (tanhs) tanhs[j] = ts[j - i]; }
    }
}

AVX2 void rft_gelu(long n, const float *x, float *y, float *tanhs) { geluFrom(0, n, x, y, tanhs); }

AVX512 void rft_gelu_avx512(long n, const float *x, float *y, float *tanhs) {
    long i = 0;
    __m512 t;
    for (; i + 16 <= n; i += 16) {
        __m512 g = gelu16(_mm512_loadu_ps(x + i), &t);
        _mm512_storeu_ps(y + i, g);
        if (tanhs) _mm512_storeu_ps(tanhs + i, t);
    }
    geluFrom(i, n, x, y, tanhs);  // the rest as the AVX2 kernel does it (the same bits)
}

// gx += g · GELU'(x) from index i on, 8 at a time, the rest through a zero-padded block.
AVX2 static inline void geluBackwardFrom(long i, long n, const float *x, const float *tanhs, const float *g, float *gx) {
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_mul_ps(_mm256_loadu_ps(g + i), geluSlope8(_mm256_loadu_ps(x + i), _mm256_loadu_ps(tanhs + i)));
        _mm256_storeu_ps(gx + i, _mm256_add_ps(_mm256_loadu_ps(gx + i), d));
    }
    if (i < n) {
        float xv[8] = {0}, tv[8] = {0}, out[8];
        for (long j = i; j < n; j++) { xv[j - i] = x[j]; tv[j - i] = tanhs[j]; }
        _mm256_storeu_ps(out, geluSlope8(_mm256_loadu_ps(xv), _mm256_loadu_ps(tv)));
        for (long j = i; j < n; j++) gx[j] += g[j] * out[j - i];
    }
}

AVX2 void rft_gelu_backward(long n, const float *x, const float *tanhs, const float *g, float *gx) {
    geluBackwardFrom(0, n, x, tanhs, g, gx);
}

AVX512 void rft_gelu_backward_avx512(long n, const float *x, const float *tanhs, const float *g, float *gx) {
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_mul_ps(_mm512_loadu_ps(g + i), geluSlope16(_mm512_loadu_ps(x + i), _mm512_loadu_ps(tanhs + i)));
        _mm512_storeu_ps(gx + i, _mm512_add_ps(_mm512_loadu_ps(gx + i), d));
    }
    geluBackwardFrom(i, n, x, tanhs, g, gx);
}

#else  // not x86-64: no kernels; callers use OpenBLAS and the Swift kernels

void rft_gelu(long n, const float *x, float *y, float *tanhs) { (void)n; (void)x; (void)y; (void)tanhs; }
void rft_gelu_backward(long n, const float *x, const float *tanhs, const float *g, float *gx) {
    (void)n; (void)x; (void)tanhs; (void)g; (void)gx;
}

void rft_gelu_avx512(long n, const float *x, float *y, float *tanhs) { (void)n; (void)x; (void)y; (void)tanhs; }
void rft_gelu_backward_avx512(long n, const float *x, const float *tanhs, const float *g, float *gx) {
    (void)n; (void)x; (void)tanhs; (void)g; (void)gx;
}

#endif
