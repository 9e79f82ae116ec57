// The decode product y = x·Wᵀ + b with W packed once into 16-feature panels: AVX2 tiles of 6, 4
// and 1 rows, and the same loops with the AVX-512 blocks (the same bits); the packing itself is
// portable C.
#include "common.h"

#if defined(__x86_64__)

// Adds bias (may be NULL) and, when accumulate, the 16 floats already at y to one row's two
// accumulators, then stores them to y (full 16-wide panels only).
AVX2 static inline void finish16(__m256 lo, __m256 hi, const float *bias, float *y, int accumulate) {
    if (bias) { lo = _mm256_add_ps(lo, _mm256_loadu_ps(bias)); hi = _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8)); }
    if (accumulate) { lo = _mm256_add_ps(lo, _mm256_loadu_ps(y)); hi = _mm256_add_ps(hi, _mm256_loadu_ps(y + 8)); }
    _mm256_storeu_ps(y, lo);
    _mm256_storeu_ps(y + 8, hi);
}

// Four rows of x against one 16-feature panel: 8 accumulators, two 8-wide loads of the panel and
// four broadcasts per step of k (11 of the 16 vector registers: nothing spills). Each step also
// prefetches line p of `ahead` (the next panel's slice, or this one), as the AVX-512 blocks do.
// Writes the (4, 16) block to out (rows ldo apart), finished as finish16 says.
AVX2 static inline void block4(int k, const float *x, int ldx, const float *panel, const float *ahead, const float *bias,
                               float *out, int ldo, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    for (int p = 0; p < k; p++) {
        _mm_prefetch((const char *)(ahead + 16 * p), _MM_HINT_T0);
        __m256 b0 = _mm256_load_ps(panel + 16 * p), b1 = _mm256_load_ps(panel + 16 * p + 8);
        __m256 a;
        a = _mm256_broadcast_ss(x0 + p); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(x1 + p); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(x2 + p); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(x3 + p); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
    }
    finish16(c00, c01, bias, out, accumulate);
    finish16(c10, c11, bias, out + ldo, accumulate);
    finish16(c20, c21, bias, out + 2 * ldo, accumulate);
    finish16(c30, c31, bias, out + 3 * ldo, accumulate);
}

// Six rows against one panel: 12 accumulators, two panel loads and six broadcasts per step of
// k (15 of the 16 vector registers; ~15% faster than block4 where it fits, measured).
AVX2 static inline void block6(int k, const float *x, int ldx, const float *panel, const float *ahead, const float *bias,
                               float *out, int ldo, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int p = 0; p < k; p++) {
        _mm_prefetch((const char *)(ahead + 16 * p), _MM_HINT_T0);
        __m256 b0 = _mm256_load_ps(panel + 16 * p), b1 = _mm256_load_ps(panel + 16 * p + 8);
        __m256 a;
        a = _mm256_broadcast_ss(x + p); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(x + ldx + p); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(x + 2 * ldx + p); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(x + 3 * ldx + p); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(x + 4 * ldx + p); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(x + 5 * ldx + p); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
    }
    finish16(c00, c01, bias, out, accumulate);
    finish16(c10, c11, bias, out + ldo, accumulate);
    finish16(c20, c21, bias, out + 2 * ldo, accumulate);
    finish16(c30, c31, bias, out + 3 * ldo, accumulate);
    finish16(c40, c41, bias, out + 4 * ldo, accumulate);
    finish16(c50, c51, bias, out + 5 * ldo, accumulate);
}

// One row of x against one panel (rows left over by block4), summed in the same order as block4
// and block6 (one chain per 8 features): a row's result does not depend on which tile ran it, so
// it does not depend on the other rows in the call.
AVX2 static inline void block1(int k, const float *x, const float *panel, const float *ahead, const float *bias,
                               float *out, int accumulate) {
    __m256 lo = _mm256_setzero_ps(), hi = lo;
    for (int p = 0; p < k; p++) {
        _mm_prefetch((const char *)(ahead + 16 * p), _MM_HINT_T0);
        __m256 a = _mm256_broadcast_ss(x + p);
        lo = _mm256_fmadd_ps(a, _mm256_load_ps(panel + 16 * p), lo);
        hi = _mm256_fmadd_ps(a, _mm256_load_ps(panel + 16 * p + 8), hi);
    }
    finish16(lo, hi, bias, out, accumulate);
}

// The rows of x (m of them) against one panel, written to out (rows ldo apart) 16 wide; the first
// block prefetches `next` (NULL: none), the others this panel again (a hit).
AVX2 static void panelRows(int m, int k, const float *x, int ldx, const float *panel, const float *next,
                           const float *bias, float *out, int ldo, int accumulate) {
    const float *ahead = next ? next : panel;
    // six-row blocks, as many as leave a multiple of four rows (32 = 4·6 + 2·4), then fours, then ones
    int sixes = m / 6;
    for (int fewer = sixes; fewer >= 0 && fewer >= m / 6 - 2; fewer--) {
        if ((m - 6 * fewer) % 4 == 0) { sixes = fewer; break; }
    }
    int i = 0;
    for (; i < 6 * sixes; i += 6, ahead = panel) block6(k, x + (long)i * ldx, ldx, panel, ahead, bias, out + (long)i * ldo, ldo, accumulate);
    for (; i + 4 <= m; i += 4, ahead = panel) block4(k, x + (long)i * ldx, ldx, panel, ahead, bias, out + (long)i * ldo, ldo, accumulate);
    for (; i < m; i++, ahead = panel) block1(k, x + (long)i * ldx, panel, ahead, bias, out + (long)i * ldo, accumulate);
}

// The rows of x (m of them) against one panel whose first `width` (1…16) features are real,
// written to out (rows ldo apart): the one step that differs between instruction sets. `next` is
// the slice of the panel that comes after (NULL for the last), to prefetch while this one runs.
typedef void PanelRows(int m, int k, const float *x, int ldx, const float *panel, const float *next,
                       const float *bias, float *out, int ldo, int accumulate, int width);

// The product's loops, shared by every instruction set: k in slices of KC (later slices add to
// the first one's result, so each feature of a row is one chain per slice, in the same order on
// every path), rows in blocks of MC, then each panel of 16 output features.
static void linearPacked(PanelRows *rows, int m, int n, int k, const float *x, int ldx, const float *packed,
                         const float *bias, float *y, int ldy, int accumulate) {
    for (int k0 = 0; k0 < k; k0 += KC) {
        int kc = k - k0 < KC ? k - k0 : KC;
        int acc = k0 > 0 ? 1 : accumulate;
        const float *b = k0 > 0 ? 0 : bias;
        for (int i0 = 0; i0 < m; i0 += MC) {
            int mc = m - i0 < MC ? m - i0 : MC;
            const float *xs = x + (long)i0 * ldx + k0;
            for (int j0 = 0; j0 < n; j0 += 16) {
                const float *panel = packed + (long)j0 * k + 16L * k0;
                const float *next = j0 + 16 < n ? panel + 16L * k : 0;
                rows(mc, kc, xs, ldx, panel, next, b ? b + j0 : 0, y + (long)i0 * ldy + j0, ldy, acc, n - j0 < 16 ? n - j0 : 16);
            }
        }
    }
}

// AVX2: full panels as panelRows says; the last, partial one as 16-wide rows into a scratch
// block (the packing zero-filled the missing features), then its valid columns added or copied
// out, four rows at a time.
AVX2 static void panelRowsAVX2(int m, int k, const float *x, int ldx, const float *panel, const float *next,
                               const float *bias, float *out, int ldo, int accumulate, int width) {
    if (width == 16) { panelRows(m, k, x, ldx, panel, next, bias, out, ldo, accumulate); return; }
    float block[4 * 16];
    for (int r0 = 0; r0 < m; r0 += 4) {
        int rows = m - r0 < 4 ? m - r0 : 4;
        panelRows(rows, k, x + (long)r0 * ldx, ldx, panel, 0, 0, block, 16, 0);
        for (int r = 0; r < rows; r++) {
            float *yr = out + (long)(r0 + r) * ldo;
            for (int j = 0; j < width; j++) {
                float v = block[16 * r + j] + (bias ? bias[j] : 0.0f);
                yr[j] = accumulate ? yr[j] + v : v;
            }
        }
    }
}

AVX2 void rft_linear_packed(int m, int n, int k, const float *x, int ldx, const float *packed,
                            const float *bias, float *y, int ldy, int accumulate) {
    linearPacked(panelRowsAVX2, m, n, k, x, ldx, packed, bias, y, ldy, accumulate);
}

// The m rows of x against one panel: sixteen at a time, then the rest as one block.
AVX512 static void panelRowsAVX512(int m, int k, const float *x, int ldx, const float *panel, const float *next,
                                   const float *bias, float *out, int ldo, int accumulate, int width) {
    Finish f = {bias, 1.0f, accumulate ? 1.0f : 0.0f, next};  // the first block fetches the next panel
    __mmask16 mask = (__mmask16)((1u << width) - 1);
    int i = 0;
    for (; i + 16 <= m; i += 16, f.prefetch = 0) rft_row_blocks[16](k, x + (long)i * ldx, ldx, panel, f, out + (long)i * ldo, ldo, mask);
    if (i < m) rft_row_blocks[m - i](k, x + (long)i * ldx, ldx, panel, f, out + (long)i * ldo, ldo, mask);
}

AVX512 void rft_linear_packed_avx512(int m, int n, int k, const float *x, int ldx, const float *packed,
                                     const float *bias, float *y, int ldy, int accumulate) {
    linearPacked(panelRowsAVX512, m, n, k, x, ldx, packed, bias, y, ldy, accumulate);
}

#else  // not x86-64: no kernels; callers use OpenBLAS and the Swift kernels

void rft_linear_packed_avx512(int m, int n, int k, const float *x, int ldx, const float *packed,
                              const float *bias, float *y, int ldy, int accumulate) {
    (void)m; (void)n; (void)k; (void)x; (void)ldx; (void)packed; (void)bias; (void)y; (void)ldy; (void)accumulate;
}

void rft_linear_packed(int m, int n, int k, const float *x, int ldx, const float *packed,
                       const float *bias, float *y, int ldy, int accumulate) {
    (void)m; (void)n; (void)k; (void)x; (void)ldx; (void)packed; (void)bias; (void)y; (void)ldy; (void)accumulate;
}

#endif

long rft_packed_linear_floats(int n, int k) { return (long)((n + 15) / 16 * 16) * k; }

void rft_pack_linear(int n, int k, const float *w, float *packed) {
    int panels = (n + 15) / 16;
    for (int t = 0; t < panels; t++) {
        float *panel = packed + (long)t * k * 16;
        for (int p = 0; p < k; p++) {
            for (int j = 0; j < 16; j++) {
                int row = 16 * t + j;
                panel[16 * p + j] = row < n ? w[(long)row * k + p] : 0.0f;
            }
        }
    }
}
