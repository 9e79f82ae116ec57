// Attention: one decoding query over a KV cache (AVX2 and AVX-512, the same bits), and the
// forward and backward of a short causal span (AVX2).
#include "common.h"

#if defined(__x86_64__)

// One row of x (k floats) times a (k, 16) panel → the 16 results as two halves: two chains per
// half. The score tile of decode attention uses it.
AVX2 static inline void rowTimesPanel(int k, const float *x, const float *panel, __m256 *lo, __m256 *hi) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, d0 = c0, d1 = c0;
    int p = 0;
    for (; p + 2 <= k; p += 2) {
        __m256 a = _mm256_broadcast_ss(x + p), e = _mm256_broadcast_ss(x + p + 1);
        c0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(panel + 16 * p), c0);
        c1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(panel + 16 * p + 8), c1);
        d0 = _mm256_fmadd_ps(e, _mm256_loadu_ps(panel + 16 * p + 16), d0);
        d1 = _mm256_fmadd_ps(e, _mm256_loadu_ps(panel + 16 * p + 24), d1);
    }
    if (p < k) {
        __m256 a = _mm256_broadcast_ss(x + p);
        c0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(panel + 16 * p), c0);
        c1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(panel + 16 * p + 8), c1);
    }
    *lo = _mm256_add_ps(c0, d0);
    *hi = _mm256_add_ps(c1, d1);
}

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 void rft_attend_one(const float *q, const float *kt, const float *vt, int n, int hs, float scale,
                         float *s, float *o) {
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 ninf = _mm256_set1_ps(-__builtin_inff()), vscale = _mm256_set1_ps(scale);
    // s = scale · K q, 16 positions per tile, lanes ≥ n set to −∞; running max
    __m256 mx = ninf;
    for (int j0 = 0; j0 < n; j0 += 16) {
        __m256 lo, hi;
        rowTimesPanel(hs, q, kt + (long)j0 * hs, &lo, &hi);  // tile (hs, 16)
        lo = _mm256_mul_ps(lo, vscale);
        hi = _mm256_mul_ps(hi, vscale);
        __m256 left = _mm256_set1_ps((float)(n - j0));
        lo = _mm256_blendv_ps(ninf, lo, _mm256_cmp_ps(lane, left, _CMP_LT_OQ));
        hi = _mm256_blendv_ps(ninf, hi, _mm256_cmp_ps(_mm256_add_ps(lane, _mm256_set1_ps(8)), left, _CMP_LT_OQ));
        _mm256_storeu_ps(s + j0, lo);
        _mm256_storeu_ps(s + j0 + 8, hi);
        mx = _mm256_max_ps(mx, _mm256_max_ps(lo, hi));
    }
    // s = exp(s − max) (0 past n); Σ e
    __m256 m = _mm256_set1_ps(hmax8(mx)), total = _mm256_setzero_ps();
    for (int j0 = 0; j0 < n; j0 += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j0), m));
        e = _mm256_blendv_ps(_mm256_setzero_ps(), e, _mm256_cmp_ps(lane, _mm256_set1_ps((float)(n - j0)), _CMP_LT_OQ));
        _mm256_storeu_ps(s + j0, e);
        total = _mm256_add_ps(total, e);
    }
    __m256 inv = _mm256_set1_ps(1.0f / hsum8(total));
    // o = Σ_j e_j · V[j] / Σ e: 32 features per pass over the positions, then 8, then one
    int d0 = 0;
    for (; d0 + 32 <= hs; d0 += 32) {
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        for (int j = 0; j < n; j++) {
            const float *row = vt + (long)j * hs + d0;
            __m256 w = _mm256_broadcast_ss(s + j);
            c0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(row), c0);
            c1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + 8), c1);
            c2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + 16), c2);
            c3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + 24), c3);
        }
        _mm256_storeu_ps(o + d0, _mm256_mul_ps(c0, inv));
        _mm256_storeu_ps(o + d0 + 8, _mm256_mul_ps(c1, inv));
        _mm256_storeu_ps(o + d0 + 16, _mm256_mul_ps(c2, inv));
        _mm256_storeu_ps(o + d0 + 24, _mm256_mul_ps(c3, inv));
    }
    for (; d0 + 8 <= hs; d0 += 8) {
        __m256 c0 = _mm256_setzero_ps();
        for (int j = 0; j < n; j++) c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(s + j), _mm256_loadu_ps(vt + (long)j * hs + d0), c0);
        _mm256_storeu_ps(o + d0, _mm256_mul_ps(c0, inv));
    }
    float invs = 1.0f / hsum8(total);
    for (; d0 < hs; d0++) {
        float acc = 0;
        for (int j = 0; j < n; j++) acc += s[j] * vt[(long)j * hs + d0];
        o[d0] = acc * invs;
    }
}

// rft_attend_one with 16-wide registers and the same bits: the score tile as two chains (even
// and odd features), Σ e added 8 lanes at a time in the AVX2 order, each output feature one chain
// over the positions.
AVX512 void rft_attend_one_avx512(const float *q, const float *kt, const float *vt, int n, int hs, float scale,
                                  float *s, float *o) {
    const __m512 ninf = _mm512_set1_ps(-__builtin_inff()), vscale = _mm512_set1_ps(scale);
    __m512 mx = ninf;
    for (int j0 = 0; j0 < n; j0 += 16) {
        const float *tile = kt + (long)j0 * hs;  // (hs, 16)
        __m512 c = _mm512_setzero_ps(), d = c;
        int p = 0;
        for (; p + 2 <= hs; p += 2) {
            c = _mm512_fmadd_ps(_mm512_set1_ps(q[p]), _mm512_loadu_ps(tile + 16 * p), c);
            d = _mm512_fmadd_ps(_mm512_set1_ps(q[p + 1]), _mm512_loadu_ps(tile + 16 * p + 16), d);
        }
        if (p < hs) c = _mm512_fmadd_ps(_mm512_set1_ps(q[p]), _mm512_loadu_ps(tile + 16 * p), c);
        __m512 sc = _mm512_mul_ps(_mm512_add_ps(c, d), vscale);
        if (n - j0 < 16) sc = _mm512_mask_blend_ps((__mmask16)((1u << (n - j0)) - 1), ninf, sc);
        _mm512_storeu_ps(s + j0, sc);
        mx = _mm512_max_ps(mx, sc);
    }
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m256 total = _mm256_setzero_ps();
    for (int j0 = 0; j0 < n; j0 += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j0), m));
        if (n - j0 < 16) e = _mm512_maskz_mov_ps((__mmask16)((1u << (n - j0)) - 1), e);
        _mm512_storeu_ps(s + j0, e);
        total = _mm256_add_ps(total, _mm512_castps512_ps256(e));
        if (j0 + 8 < n) total = _mm256_add_ps(total, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1)));
    }
    float invs = 1.0f / hsum8(total);
    __m512 inv = _mm512_set1_ps(invs);
    int d0 = 0;
    for (; d0 + 32 <= hs; d0 += 32) {
        __m512 c0 = _mm512_setzero_ps(), c1 = c0;
        for (int j = 0; j < n; j++) {
            const float *row = vt + (long)j * hs + d0;
            __m512 w = _mm512_set1_ps(s[j]);
            c0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(row), c0);
            c1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(row + 16), c1);
        }
        _mm512_storeu_ps(o + d0, _mm512_mul_ps(c0, inv));
        _mm512_storeu_ps(o + d0 + 16, _mm512_mul_ps(c1, inv));
    }
    for (; d0 + 16 <= hs; d0 += 16) {
        __m512 c0 = _mm512_setzero_ps();
        for (int j = 0; j < n; j++) c0 = _mm512_fmadd_ps(_mm512_set1_ps(s[j]), _mm512_loadu_ps(vt + (long)j * hs + d0), c0);
        _mm512_storeu_ps(o + d0, _mm512_mul_ps(c0, inv));
    }
    for (; d0 + 8 <= hs; d0 += 8) {
        __m256 c0 = _mm256_setzero_ps();
        for (int j = 0; j < n; j++) c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(s + j), _mm256_loadu_ps(vt + (long)j * hs + d0), c0);
        _mm256_storeu_ps(o + d0, _mm256_mul_ps(c0, _mm512_castps512_ps256(inv)));
    }
    for (; d0 < hs; d0++) {
        float acc = 0;
        for (int j = 0; j < n; j++) acc += s[j] * vt[(long)j * hs + d0];
        o[d0] = acc * invs;
    }
}

// Σ a[i]·b[i] over n floats (8 lanes, then one at a time).
AVX2 static inline float dotN(int n, const float *a, const float *b) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float s = hsum8(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// y[i] += a·x[i] over n floats.
AVX2 static inline void axpyN(int n, float a, const float *x, float *y) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

// In-place softmax of n floats (n ≥ 1), the rest of the row untouched.
AVX2 static inline void softmaxN(int n, float *x) {
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 mx = _mm256_set1_ps(-__builtin_inff());
    int i = 0;
    for (; i + 8 <= n; i += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + i));
    float m = hmax8(mx);
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    __m256 vm = _mm256_set1_ps(m), total = _mm256_setzero_ps();
    float tail[8];
    for (i = 0; i < n; i += 8) {
        int left = n - i;
        __m256 v;
        if (left >= 8) {
            v = _mm256_loadu_ps(x + i);
        } else {
            for (int j = 0; j < 8; j++) tail[j] = j < left ? x[i + j] : m;
            v = _mm256_loadu_ps(tail);
        }
        __m256 e = exp8(_mm256_sub_ps(v, vm));
        e = _mm256_blendv_ps(_mm256_setzero_ps(), e, _mm256_cmp_ps(lane, _mm256_set1_ps((float)left), _CMP_LT_OQ));
        total = _mm256_add_ps(total, e);
        if (left >= 8) {
            _mm256_storeu_ps(x + i, e);
        } else {
            _mm256_storeu_ps(tail, e);
            for (int j = 0; j < left; j++) x[i + j] = tail[j];
        }
    }
    __m256 inv = _mm256_set1_ps(1.0f / hsum8(total));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    float invs = 1.0f / hsum8(total);
    for (; i < n; i++) x[i] *= invs;
}

// Key/value row j of a span: prefix row j for j < m, else own row j − m (rows c3 floats apart).
#define SPAN_ROW(j) ((j) < m ? prefix + (long)(j) * c3 : own + (long)((j) - m) * c3)
#define SPAN_GRAD_ROW(j) ((j) < m ? dPrefix + (long)(j) * c3 : dOwn + (long)((j) - m) * c3)

AVX2 void rft_span_attention_forward(int n, int m, int hs, int c3, int c, float scale, const float *q,
                                     const float *prefix, const float *own, float *o, float *p) {
    int ld = m + n;
    for (int i = 0; i < n; i++) {
        const float *qi = q + (long)i * c3;
        float *row = p + (long)i * ld, *oi = o + (long)i * c;
        int visible = m + i + 1;
        for (int j = 0; j < visible; j++) row[j] = dotN(hs, qi, SPAN_ROW(j) + c) * scale;
        softmaxN(visible, row);
        for (int j = visible; j < ld; j++) row[j] = 0;
        for (int d = 0; d < hs; d++) oi[d] = 0;
        for (int j = 0; j < visible; j++) axpyN(hs, row[j], SPAN_ROW(j) + 2 * c, oi);
    }
}

AVX2 void rft_span_attention_backward(int n, int m, int hs, int c3, int c, float scale, const float *q, float *dq,
                                      const float *prefix, float *dPrefix, const float *own, float *dOwn,
                                      const float *go, const float *p, float *dp) {
    int ld = m + n;
    for (int i = 0; i < n; i++) {
        const float *qi = q + (long)i * c3, *pr = p + (long)i * ld, *gi = go + (long)i * c;
        float *dqi = dq + (long)i * c3;
        int visible = m + i + 1;
        // dP_j = dO_i · v_j ;  dV_j += P_ij · dO_i
        for (int j = 0; j < visible; j++) {
            dp[j] = dotN(hs, gi, SPAN_ROW(j) + 2 * c);
            axpyN(hs, pr[j], gi, SPAN_GRAD_ROW(j) + 2 * c);
        }
        // dS_j = P_ij (dP_j − Σ dP·P) · scale ;  dQ_i += dS_j k_j ;  dK_j += dS_j q_i
        float dot = dotN(visible, dp, pr);
        for (int j = 0; j < visible; j++) {
            float ds = pr[j] * (dp[j] - dot) * scale;
            axpyN(hs, ds, SPAN_ROW(j) + c, dqi);
            axpyN(hs, ds, qi, SPAN_GRAD_ROW(j) + c);
        }
    }
}

#undef SPAN_ROW
#undef SPAN_GRAD_ROW

#else  // not x86-64: no kernels; callers use OpenBLAS and the Swift kernels

void rft_span_attention_forward(int n, int m, int hs, int c3, int c, float scale, const float *q,
                                const float *prefix, const float *own, float *o, float *p) {
    (void)n; (void)m; (void)hs; (void)c3; (void)c; (void)scale; (void)q; (void)prefix; (void)own; (void)o; (void)p;
}

void rft_span_attention_backward(int n, int m, int hs, int c3, int c, float scale, const float *q, float *dq,
                                 const float *prefix, float *dPrefix, const float *own, float *dOwn,
                                 const float *go, const float *p, float *dp) {
    (void)n; (void)m; (void)hs; (void)c3; (void)c; (void)scale; (void)q; (void)dq; (void)prefix; (void)dPrefix;
    (void)own; (void)dOwn; (void)go; (void)p; (void)dp;
}

void rft_attend_one(const float *q, const float *kt, const float *vt, int n, int hs, float scale, float *s, float *o) {
    (void)q; (void)kt; (void)vt; (void)n; (void)hs; (void)scale; (void)s; (void)o;
}

void rft_attend_one_avx512(const float *q, const float *kt, const float *vt, int n, int hs, float scale, float *s, float *o) {
    (void)q; (void)kt; (void)vt; (void)n; (void)hs; (void)scale; (void)s; (void)o;
}

#endif
