// AVX2 + FMA kernels, some also in an AVX-512 form (see ckernels.h). Every function that uses the
// instructions carries its own target attribute; nothing here runs unless rft_has_avx2_fma() (and
// for the AVX-512 forms rft_has_avx512f()) said yes.
#include "ckernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

int rft_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// (functions start on a 64-byte boundary, so their hot loops sit the same way in every build)
#define AVX2 __attribute__((target("avx2,fma"), aligned(64)))
#define AVX512 __attribute__((target("avx512f,avx2,fma"), aligned(64)))

// The elementwise functions below come in an 8-wide AVX2 and a 16-wide AVX-512 form written
// once: P is the intrinsics' prefix (_mm256, _mm512), V and VI the float and int vector types.
// The same operations lane for lane, so the two forms give the same bits.
#define ROUND_mm256(v) _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define ROUND_mm512(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define ASFLOAT_mm256(v) _mm256_castsi256_ps(v)
#define ASFLOAT_mm512(v) _mm512_castsi512_ps(v)

// Adds bias (may be NULL) and, when accumulate, the 16 floats already at y to one row's two
// accumulators, then stores them to y (full 16-wide panels only).
AVX2 static inline void finish16(__m256 lo, __m256 hi, const float *bias, float *y, int accumulate) {
    if (bias) { lo = _mm256_add_ps(lo, _mm256_loadu_ps(bias)); hi = _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8)); }
    if (accumulate) { lo = _mm256_add_ps(lo, _mm256_loadu_ps(y)); hi = _mm256_add_ps(hi, _mm256_loadu_ps(y + 8)); }
    _mm256_storeu_ps(y, lo);
    _mm256_storeu_ps(y + 8, hi);
}

// Four rows of x against one 16-feature panel: 8 accumulators, two 8-wide loads of the panel and
// four broadcasts per step of k (11 of the 16 vector registers: nothing spills).
// Writes the (4, 16) block to out (rows ldo apart), finished as finish16 says.
AVX2 static inline void block4(int k, const float *x, int ldx, const float *panel, const float *bias,
                               float *out, int ldo, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    for (int p = 0; p < k; p++) {
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
AVX2 static inline void block6(int k, const float *x, int ldx, const float *panel, const float *bias,
                               float *out, int ldo, int accumulate) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int p = 0; p < k; p++) {
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

// One row of x against one panel (rows left over by block4), summed in the same order as block4
// and block6 (one chain per 8 features): a row's result does not depend on which tile ran it, so
// it does not depend on the other rows in the call.
AVX2 static inline void block1(int k, const float *x, const float *panel, const float *bias, float *out, int accumulate) {
    __m256 lo = _mm256_setzero_ps(), hi = lo;
    for (int p = 0; p < k; p++) {
        __m256 a = _mm256_broadcast_ss(x + p);
        lo = _mm256_fmadd_ps(a, _mm256_load_ps(panel + 16 * p), lo);
        hi = _mm256_fmadd_ps(a, _mm256_load_ps(panel + 16 * p + 8), hi);
    }
    finish16(lo, hi, bias, out, accumulate);
}

// The rows of x (m of them) against one panel, written to out (rows ldo apart) 16 wide.
AVX2 static void panelRows(int m, int k, const float *x, int ldx, const float *panel, const float *bias,
                           float *out, int ldo, int accumulate) {
    // six-row blocks, as many as leave a multiple of four rows (32 = 4·6 + 2·4), then fours, then ones
    int sixes = m / 6;
    for (int fewer = sixes; fewer >= 0 && fewer >= m / 6 - 2; fewer--) {
        if ((m - 6 * fewer) % 4 == 0) { sixes = fewer; break; }
    }
    int i = 0;
    for (; i < 6 * sixes; i += 6) block6(k, x + (long)i * ldx, ldx, panel, bias, out + (long)i * ldo, ldo, accumulate);
    for (; i + 4 <= m; i += 4) block4(k, x + (long)i * ldx, ldx, panel, bias, out + (long)i * ldo, ldo, accumulate);
    for (; i < m; i++) block1(k, x + (long)i * ldx, panel, bias, out + (long)i * ldo, accumulate);
}

// Columns of k per pass (a panel's slice, 16 KB, stays in L1) and rows per block (their x
// slice, 64 KB, stays in L2).
enum { KC = 256, MC = 64 };

// The rows of x (m of them) against one panel whose first `width` (1…16) features are real,
// written to out (rows ldo apart): the one step that differs between instruction sets.
typedef void PanelRows(int m, int k, const float *x, int ldx, const float *panel, const float *bias,
                       float *out, int ldo, int accumulate, int width);

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
                rows(mc, kc, xs, ldx, panel, b ? b + j0 : 0, y + (long)i0 * ldy + j0, ldy, acc, n - j0 < 16 ? n - j0 : 16);
            }
        }
    }
}

// AVX2: full panels as panelRows says; the last, partial one as 16-wide rows into a scratch
// block (the packing zero-filled the missing features), then its valid columns added or copied
// out, four rows at a time.
AVX2 static void panelRowsAVX2(int m, int k, const float *x, int ldx, const float *panel, const float *bias,
                               float *out, int ldo, int accumulate, int width) {
    if (width == 16) { panelRows(m, k, x, ldx, panel, bias, out, ldo, accumulate); return; }
    float block[4 * 16];
    for (int r0 = 0; r0 < m; r0 += 4) {
        int rows = m - r0 < 4 ? m - r0 : 4;
        panelRows(rows, k, x + (long)r0 * ldx, ldx, panel, 0, block, 16, 0);
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

int rft_has_avx512f(void) {
    __builtin_cpu_init();
    return rft_has_avx2_fma() && __builtin_cpu_supports("avx512f");
}

// How a block's sums reach out: v = alpha·sum (+ bias) (+ beta·out, out read only when beta ≠ 0).
typedef struct { const float *bias; float alpha, beta; } Finish;

// R rows of x against one panel with AVX-512: one 16-wide accumulator per row, one load of the
// panel and R broadcast FMAs per step of k. Each feature of a row is the same single chain as in
// the AVX2 tiles, and with alpha = 1 and beta ∈ {0, 1} the bias and out adds come in the same
// order, so the two paths give the same bits. Features past `width` (mask) are neither read from
// bias or out nor written. X_AT(r, p) is where row r's element p sits: x row-major (rows ldx
// apart) or column-major (op(A) of a transposed A: columns ldx apart).
#define WIDE_BLOCK(NAME, R, X_AT)                                                                        \
    AVX512 static void NAME##R(int k, const float *x, int ldx, const float *panel, Finish f, float *out,  \
                               int ldo, __mmask16 mask) {                                                \
        __m512 c[R];                                                                                     \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) c[r] = _mm512_setzero_ps();       \
        for (int p = 0; p < k; p++) {                                                                    \
            __m512 b = _mm512_load_ps(panel + 16 * p);                                                   \
            _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++)                               \
                c[r] = _mm512_fmadd_ps(_mm512_set1_ps(X_AT(r, p)), b, c[r]);                             \
        }                                                                                                \
        __m512 vb = f.bias ? _mm512_maskz_loadu_ps(mask, f.bias) : _mm512_setzero_ps();                  \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {                                 \
            __m512 v = f.alpha != 1.0f ? _mm512_mul_ps(_mm512_set1_ps(f.alpha), c[r]) : c[r];            \
            if (f.bias) v = _mm512_add_ps(v, vb);                                                        \
            float *o = out + (long)r * ldo;                                                              \
            if (f.beta != 0.0f) {                                                                        \
                __m512 y = _mm512_maskz_loadu_ps(mask, o);                                               \
                v = _mm512_add_ps(v, f.beta == 1.0f ? y : _mm512_mul_ps(_mm512_set1_ps(f.beta), y));     \
            }                                                                                            \
            _mm512_mask_storeu_ps(o, mask, v);                                                           \
        }                                                                                                \
    }
#define ROW_MAJOR(r, p) x[(long)(r) * ldx + (p)]
#define COLUMN_MAJOR(r, p) x[(long)(p) * ldx + (r)]
#define WIDE_BLOCKS(NAME, X_AT)                                                                          \
    WIDE_BLOCK(NAME, 1, X_AT) WIDE_BLOCK(NAME, 2, X_AT) WIDE_BLOCK(NAME, 3, X_AT) WIDE_BLOCK(NAME, 4, X_AT) \
    WIDE_BLOCK(NAME, 5, X_AT) WIDE_BLOCK(NAME, 6, X_AT) WIDE_BLOCK(NAME, 7, X_AT) WIDE_BLOCK(NAME, 8, X_AT) \
    WIDE_BLOCK(NAME, 9, X_AT) WIDE_BLOCK(NAME, 10, X_AT) WIDE_BLOCK(NAME, 11, X_AT) WIDE_BLOCK(NAME, 12, X_AT) \
    WIDE_BLOCK(NAME, 13, X_AT) WIDE_BLOCK(NAME, 14, X_AT) WIDE_BLOCK(NAME, 15, X_AT) WIDE_BLOCK(NAME, 16, X_AT) \
    static WideBlock *const NAME##s[17] = {                                                              \
        0, NAME##1, NAME##2, NAME##3, NAME##4, NAME##5, NAME##6, NAME##7, NAME##8,                       \
        NAME##9, NAME##10, NAME##11, NAME##12, NAME##13, NAME##14, NAME##15, NAME##16,                   \
    };

typedef void WideBlock(int k, const float *x, int ldx, const float *panel, Finish f, float *out, int ldo,
                       __mmask16 mask);
// rowBlocks[r] (x row-major) and columnBlocks[r] (x column-major): the block of r rows (a block
// of fewer than 16 rows keeps r chains in flight, where smaller blocks one after another would
// wait on the FMA latency).
WIDE_BLOCKS(rowBlock, ROW_MAJOR)
WIDE_BLOCKS(columnBlock, COLUMN_MAJOR)
#undef WIDE_BLOCKS
#undef WIDE_BLOCK
#undef ROW_MAJOR
#undef COLUMN_MAJOR

// The m rows of x against one panel: sixteen at a time, then the rest as one block.
AVX512 static void panelRowsAVX512(int m, int k, const float *x, int ldx, const float *panel, const float *bias,
                                   float *out, int ldo, int accumulate, int width) {
    Finish f = {bias, 1.0f, accumulate ? 1.0f : 0.0f};
    __mmask16 mask = (__mmask16)((1u << width) - 1);
    int i = 0;
    for (; i + 16 <= m; i += 16) rowBlock16(k, x + (long)i * ldx, ldx, panel, f, out + (long)i * ldo, ldo, mask);
    if (i < m) rowBlocks[m - i](k, x + (long)i * ldx, ldx, panel, f, out + (long)i * ldo, ldo, mask);
}

AVX512 void rft_linear_packed_avx512(int m, int n, int k, const float *x, int ldx, const float *packed,
                                     const float *bias, float *y, int ldy, int accumulate) {
    linearPacked(panelRowsAVX512, m, n, k, x, ldx, packed, bias, y, ldy, accumulate);
}

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
                    WideBlock *block = (inPlace ? rowBlocks : columnBlocks)[rows];
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

int rft_has_avx2_fma(void) { return 0; }
int rft_has_avx512f(void) { return 0; }

void rft_adamw_avx512(long n, float *p, const float *g, float *m, float *v, float b1, float b2, float bc2Sqrt, float eps,
                      float decay, float stepSize) {
    (void)n; (void)p; (void)g; (void)m; (void)v; (void)b1; (void)b2; (void)bc2Sqrt; (void)eps; (void)decay; (void)stepSize;
}

void rft_sgemm_avx512(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc) {
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb;
    (void)beta; (void)c; (void)ldc;
}

void rft_gelu_avx512(long n, const float *x, float *y, float *tanhs) { (void)n; (void)x; (void)y; (void)tanhs; }
void rft_gelu_backward_avx512(long n, const float *x, const float *tanhs, const float *g, float *gx) {
    (void)n; (void)x; (void)tanhs; (void)g; (void)gx;
}

void rft_attend_one_avx512(const float *q, const float *kt, const float *vt, int n, int hs, float scale, float *s, float *o) {
    (void)q; (void)kt; (void)vt; (void)n; (void)hs; (void)scale; (void)s; (void)o;
}

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
