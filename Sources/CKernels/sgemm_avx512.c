// cblas_sgemm (row-major) with AVX-512, on the blocks of blocks_avx512.c.
#include "common.h"

#if defined(__x86_64__)
#include <stdlib.h>

// ---- sgemm with AVX-512: op(B) packed per call into 16-column panels, op(A) into 16-row ones
// (p-major, so a block's broadcasts read consecutive floats: rows of A 2^k floats apart would
// otherwise fall in one L1 set; 2048² on 1 thread: 123 GFLOP/s unpacked, 203 packed) ----

// op(B) in blocks of GNC columns (a block's packed slice, 256 × 512 floats = 512 KB, stays in L2).
enum { GNC = 512 };

// This thread's buffer for packed panels, grown when a call needs more (kept for the thread's
// life: one per thread that multiplies).
static _Thread_local float *gemmScratch;
static _Thread_local long gemmScratchFloats;

static float *gemmBuffer(long floats) {
    if (floats > gemmScratchFloats) {
        free(gemmScratch);
        gemmScratch = aligned_alloc(64, (size_t)((floats + 15) / 16 * 16) * sizeof(float));
        gemmScratchFloats = gemmScratch ? floats : 0;
    }
    return gemmScratch;
}

// Transposes the 16 × 16 block r (r[i] lane j ← r[j] lane i): 4 × 4 blocks within each 128-bit
// lane (unpack of floats, then of float pairs), then the 4 × 4 grid of 128-bit lanes.
AVX512 static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) {  // r[4g + q], lane l: rows 4g ..< 4g+4 of column 4l + q
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
        __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
        r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int q = 0; q < 4; q++) {  // column 4l + q gathers lane l of r[q], r[4 + q], r[8 + q], r[12 + q]
        __m512 u0 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x44), u1 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xEE);
        __m512 u2 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x44), u3 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xEE);
        t[q] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        t[4 + q] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
        t[8 + q] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        t[12 + q] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

// Packs op(B) rows p0 ..< p0+kc, columns j0 ..< j0+nc into panels of 16 columns, (kc, 16) each,
// zero past nc. op(B)[p][j] is b[p·ldb + j], or b[j·ldb + p] when transB.
AVX512 static void packPanels(int transB, int kc, int nc, const float *b, int ldb, int p0, int j0, float *dst) {
    for (int t = 0; 16 * t < nc; t++) {
        float *panel = dst + (long)t * kc * 16;
        int cols = nc - 16 * t < 16 ? nc - 16 * t : 16;
        __mmask16 mask = (__mmask16)((1u << cols) - 1);
        if (!transB) {
            for (int p = 0; p < kc; p++)
                _mm512_store_ps(panel + 16 * p, _mm512_maskz_loadu_ps(mask, b + (long)(p0 + p) * ldb + j0 + 16 * t));
            continue;
        }
        // transposed: 16 × 16 tiles (16 rows of B, 16 of its columns) turned in registers
        for (int q = 0; q < kc; q += 16) {
            int depth = kc - q < 16 ? kc - q : 16;
            __mmask16 dmask = (__mmask16)((1u << depth) - 1);
            __m512 r[16];
            for (int j = 0; j < 16; j++)
                r[j] = j < cols ? _mm512_maskz_loadu_ps(dmask, b + (long)(j0 + 16 * t + j) * ldb + p0 + q) : _mm512_setzero_ps();
            transpose16(r);
            for (int p = 0; p < depth; p++) _mm512_store_ps(panel + 16 * (q + p), r[p]);
        }
    }
}

AVX512 void rft_sgemm_avx512(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                             const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {  // C = beta · C (C not read when beta is 0)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(long)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(long)i * ldc + j];
        return;
    }
    int ncMax = n < GNC ? n : GNC, kcMax = k < KC ? k : KC, mcMax = m < MC ? m : MC;
    long bFloats = (long)(ncMax + 15) / 16 * 16 * kcMax;
    float *packedB = gemmBuffer(bFloats + (long)(mcMax + 15) / 16 * 16 * kcMax);
    if (!packedB) abort();
    float *packedA = packedB + bFloats;
    // op(A) is packed unless it is row-major with rows not a multiple of 1 KB apart: 16 such rows
    // spread over the L1's sets, while rows 2^k KB apart share a few of them and thrash
    int inPlace = !transA && lda % 256 != 0;
    for (int j0 = 0; j0 < n; j0 += GNC) {
        int nc = n - j0 < GNC ? n - j0 : GNC;
        for (int p0 = 0; p0 < k; p0 += KC) {
            int kc = k - p0 < KC ? k - p0 : KC;
            Finish f = {0, alpha, p0 > 0 ? 1.0f : beta};  // later slices add to the first one's result
            packPanels(transB, kc, nc, b, ldb, p0, j0, packedB);
            for (int i0 = 0; i0 < m; i0 += MC) {
                int mc = m - i0 < MC ? m - i0 : MC;
                // op(A)'s rows i0 ..< i0+mc read where they are (row-major), or packed in groups of 16,
                // each (kc, 16) p-major: the panels of op(A)ᵀ
                if (!inPlace) packPanels(!transA, kc, mc, a, lda, p0, i0, packedA);
                for (int g = 0; 16 * g < mc; g++) {  // a group of rows against every panel: it stays in L1
                    int rows = mc - 16 * g < 16 ? mc - 16 * g : 16;
                    const float *xs = inPlace ? a + (long)(i0 + 16 * g) * lda + p0 : packedA + (long)g * kc * 16;
                    WideBlock *block = (inPlace ? rft_row_blocks : rft_column_blocks)[rows];
                    float *out = c + (long)(i0 + 16 * g) * ldc + j0;
                    for (int t = 0; 16 * t < nc; t++) {
                        int width = nc - 16 * t < 16 ? nc - 16 * t : 16;
                        block(kc, xs, inPlace ? lda : 16, packedB + (long)t * kc * 16, f, out + 16 * t, ldc,
                              (__mmask16)((1u << width) - 1));
                    }
                }
            }
        }
    }
}

#else  // not x86-64: no kernels; callers use OpenBLAS and the Swift kernels

void rft_sgemm_avx512(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc) {
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb;
    (void)beta; (void)c; (void)ldc;
}

#endif
