// rft's hand-written x86-64 kernels: compiled for AVX2 + FMA (and, for the `_avx512` forms,
// AVX-512F) behind per-function target attributes and chosen at run time, so the package still
// builds and runs for baseline x86-64. An AVX-512 form of an AVX2 kernel gives that kernel's bits.
#ifndef RFT_CKERNELS_H
#define RFT_CKERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// A spin-wait hint for a loop that polls memory another thread will write (x86's `pause`).
static inline void rft_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

/// 1 when this CPU runs the AVX2 + FMA kernels below, else 0 (callers then use OpenBLAS).
int rft_has_avx2_fma(void);

/// Floats `rft_pack_linear` writes for an (n, k) weight: n rounded up to 16, times k.
long rft_packed_linear_floats(int n, int k);

/// Packs a row-major weight W (n, k) — nn.Linear's (out, in) — into panels of 16 output
/// features, k-major within a panel: packed[(j/16)·k·16 + p·16 + j%16] = W[j, p], zero past n.
void rft_pack_linear(int n, int k, const float *w, float *packed);

/// y (m, n) = (accumulate ? y : 0) + bias + x (m, k) · Wᵀ, W given packed by `rft_pack_linear`;
/// bias may be NULL. Rows of x are ldx floats apart, rows of y ldy. Each row of y is summed in the
/// same order whatever m is (the same bits alone or in a batch). Needs rft_has_avx2_fma().
void rft_linear_packed(int m, int n, int k, const float *x, int ldx, const float *packed,
                       const float *bias, float *y, int ldy, int accumulate);

/// 1 when this CPU (and its OS) runs the AVX-512 kernels below as well, else 0.
int rft_has_avx512f(void);

/// `rft_linear_packed` with 16-wide AVX-512 registers: the same arguments, the same packing and
/// the same bits (each feature summed in the same order). Needs rft_has_avx512f().
void rft_linear_packed_avx512(int m, int n, int k, const float *x, int ldx, const float *packed,
                              const float *bias, float *y, int ldy, int accumulate);

/// One decoding query of one head over n cached positions: o (hs) = softmax(scale · K q) · V.
/// kt is the head's keys in transposed 16-position tiles (⌈n/16⌉, hs, 16), 32-byte aligned;
/// vt its values (n, hs); s is scratch for n rounded up to 16 floats. Needs rft_has_avx2_fma().
void rft_attend_one(const float *q, const float *kt, const float *vt, int n, int hs, float scale,
                    float *s, float *o);

/// C (m, n) = alpha · op(A) · op(B) + beta · C, row-major (cblas_sgemm's arguments, CblasRowMajor):
/// op(A) (m, k) is A, or A stored (k, m) when transA; op(B) (k, n) is B, or B stored (n, k) when
/// transB; C is not read when beta is 0. Packs op(B), and op(A) unless it is row-major with rows
/// not a multiple of 1 KB apart, per call (a buffer per calling thread);
/// each element of C is summed in the same order whatever m, n and the other rows and columns
/// are. Needs rft_has_avx512f().
void rft_sgemm_avx512(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc);

/// One AdamW step over n parameters p with gradients g and moments m, v (updated in place):
/// m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g·g; p = p·decay − stepSize·(m / (√v / bc2Sqrt + eps)),
/// each operation rounded on its own as Swift's `AdamW.step` does (the same bits).
/// Needs rft_has_avx512f().
void rft_adamw_avx512(long n, float *p, const float *g, float *m, float *v, float b1, float b2, float bc2Sqrt, float eps,
                      float decay, float stepSize);

/// `rft_attend_one` with 16-wide AVX-512 registers: the same arguments and the same bits.
/// Needs rft_has_avx512f().
void rft_attend_one_avx512(const float *q, const float *kt, const float *vt, int n, int hs, float scale,
                           float *s, float *o);

/// One head of a short attention span (see `packedSelfAttention`): n queries that see m prefix
/// rows and their own rows causally. q, prefix and own point at the head's q columns of their
/// first row (k at +c, v at +2c, rows c3 apart); o at the head's first output row (rows c apart).
/// p receives the (n, m + n) probabilities. Needs rft_has_avx2_fma().
void rft_span_attention_forward(int n, int m, int hs, int c3, int c, float scale, const float *q,
                                const float *prefix, const float *own, float *o, float *p);

/// The backward of `rft_span_attention_forward`: accumulates into dq, dPrefix and dOwn (laid
/// out as q, prefix and own); go is the output gradient (rows c apart); dp holds m + n floats.
void rft_span_attention_backward(int n, int m, int hs, int c3, int c, float scale, const float *q, float *dq,
                                 const float *prefix, float *dPrefix, const float *own, float *dOwn,
                                 const float *go, const float *p, float *dp);

/// y = GELU(tanh)(x) over n floats (y may be x); tanhs, if not NULL, receives the tanh of each
/// (for the backward). The arithmetic of the Swift `gelu`, with FMA. Needs rft_has_avx2_fma().
void rft_gelu(long n, const float *x, float *y, float *tanhs);

/// gx += g · GELU'(x), with the tanhs `rft_gelu` saved. Needs rft_has_avx2_fma().
void rft_gelu_backward(long n, const float *x, const float *tanhs, const float *g, float *gx);

/// `rft_gelu` with 16-wide AVX-512 registers: the same bits. Needs rft_has_avx512f().
void rft_gelu_avx512(long n, const float *x, float *y, float *tanhs);

/// `rft_gelu_backward` with 16-wide AVX-512 registers: the same bits. Needs rft_has_avx512f().
void rft_gelu_backward_avx512(long n, const float *x, const float *tanhs, const float *g, float *gx);

#ifdef __cplusplus
}
#endif

#endif
