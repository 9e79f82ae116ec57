// The AVX-512 blocks under both AVX-512 products (packed_linear.c, sgemm_avx512.c): R rows of x
// against one 16-wide packed panel, for x row-major and column-major. x86-64 only (nothing calls
// them elsewhere).
#include "common.h"

#if defined(__x86_64__)

// R rows of x against one panel with AVX-512: one 16-wide accumulator per row, one load of the
// panel and R broadcast FMAs per step of k, and a prefetch of line p of f.prefetch (the slice the
// next block reads; the panel itself when NULL): a decode product's weights stream from DRAM,
// and without it the hardware prefetcher leaves the kernel at ~40% of its cache-hot speed.
// Each feature of a row is the same single chain as in the AVX2 tiles, and with alpha = 1 and
// beta ∈ {0, 1} the bias and out adds come in the same order, so the two paths give the same
// bits. Features past `width` (mask) are neither read from bias or out nor written. X_AT(r, p)
// is where row r's element p sits: x row-major (rows ldx apart) or column-major (op(A) of a
// transposed A: columns ldx apart).
#define WIDE_BLOCK(NAME, R, X_AT)                                                                        \
    AVX512 static void NAME##R(int k, const float *x, int ldx, const float *panel, Finish f, float *out,  \
                               int ldo, __mmask16 mask) {                                                \
        __m512 c[R];                                                                                     \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) c[r] = _mm512_setzero_ps();       \
        const float *ahead = f.prefetch ? f.prefetch : panel;                                            \
        for (int p = 0; p < k; p++) {                                                                    \
            _mm_prefetch((const char *)(ahead + 16 * p), _MM_HINT_T0);                                   \
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
#define WIDE_BLOCKS(NAME, TABLE, X_AT)                                                                   \
    WIDE_BLOCK(NAME, 1, X_AT) WIDE_BLOCK(NAME, 2, X_AT) WIDE_BLOCK(NAME, 3, X_AT) WIDE_BLOCK(NAME, 4, X_AT) \
    WIDE_BLOCK(NAME, 5, X_AT) WIDE_BLOCK(NAME, 6, X_AT) WIDE_BLOCK(NAME, 7, X_AT) WIDE_BLOCK(NAME, 8, X_AT) \
    WIDE_BLOCK(NAME, 9, X_AT) WIDE_BLOCK(NAME, 10, X_AT) WIDE_BLOCK(NAME, 11, X_AT) WIDE_BLOCK(NAME, 12, X_AT) \
    WIDE_BLOCK(NAME, 13, X_AT) WIDE_BLOCK(NAME, 14, X_AT) WIDE_BLOCK(NAME, 15, X_AT) WIDE_BLOCK(NAME, 16, X_AT) \
    WideBlock *const TABLE[17] = {                                                                       \
        0, NAME##1, NAME##2, NAME##3, NAME##4, NAME##5, NAME##6, NAME##7, NAME##8,                       \
        NAME##9, NAME##10, NAME##11, NAME##12, NAME##13, NAME##14, NAME##15, NAME##16,                   \
    };

// rft_row_blocks[r] (x row-major) and rft_column_blocks[r] (x column-major): the block of r rows
// (a block of fewer than 16 rows keeps r chains in flight, where smaller blocks one after another
// would wait on the FMA latency).
WIDE_BLOCKS(rowBlock, rft_row_blocks, ROW_MAJOR)
WIDE_BLOCKS(columnBlock, rft_column_blocks, COLUMN_MAJOR)
#undef WIDE_BLOCKS
#undef WIDE_BLOCK
#undef ROW_MAJOR
#undef COLUMN_MAJOR

#endif
