// Which of the kernels this CPU runs: callers ask once and choose a path.
#include "ckernels.h"

#if defined(__x86_64__)

int rft_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int rft_has_avx512f(void) {
    __builtin_cpu_init();
    return rft_has_avx2_fma() && __builtin_cpu_supports("avx512f");
}

#else  // not x86-64: no kernels; callers use OpenBLAS and the Swift kernels

int rft_has_avx2_fma(void) { return 0; }
int rft_has_avx512f(void) { return 0; }

#endif
