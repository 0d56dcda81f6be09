/* dnnc runtime: k-bit activations (1 to 4 bits, FINN MultiThreshold semantics). C99, header only.
 *
 * K-BIT PACKING (beside the 1-bit convention of dnnc_runtime.h): a k-bit activation y = bias + c holds its
 * code c in [0, 2^P) as P bit planes; plane p is a packed vector of bit p of every code, in the 1-bit
 * convention (element i at bit i % 32 of word i / 32, LSB first, padding bits 0). The planes of one vector
 * follow each other at a fixed stride of `pw` words (plane p starts at word p * pw; words past the vector
 * are 0), plane 0 (the least significant bit) first.
 *
 * Dot products are bit-serial over the planes with the 1-bit kernels: read as +-1 (bit 1 = +1), plane p
 * gives S_p = sum_i w_i (2 b_pi - 1) = tot - 2 cnt, so sum_i w_i b_pi = (S_p + W) / 2 with W = sum_i w_i,
 * and   acc = bias * W + sum_p 2^p (S_p + W) / 2   (exact: S_p + W is even).
 */
#ifndef DNNC_KBIT_H
#define DNNC_KBIT_H

#include <stdint.h>

/* acc[o] = kb[o] + (s0[o] + wsum[o]) / 2 with kb = bias * W: plane 0 of a k-bit input. */
static inline void dnnc_kbit_first(int32_t *acc, const int32_t *wsum, const int32_t *kb, int32_t nout)
{
    int32_t o;
    for (o = 0; o < nout; o++) acc[o] = kb[o] + (acc[o] + wsum[o]) / 2;
}

/* acc[o] += 2^p (sp[o] + wsum[o]) / 2: plane p >= 1 of a k-bit input. */
static inline void dnnc_kbit_add(int32_t *acc, const int32_t *sp, const int32_t *wsum, int32_t p, int32_t nout)
{
    int32_t o;
    for (o = 0; o < nout; o++) acc[o] += ((sp[o] + wsum[o]) / 2) * (1 << p);
}

/* Fused multi-threshold-and-pack: code c[o] = #{j : acc[o] >= thr[o][j]} (T = nthr thresholds per output),
 * or nthr minus that where bit o of flip is set (a direction -1 channel, `acc <= t` stored as t + 1), written
 * as `planes` bit planes of `pw` words each (words past n are zeroed). */
static inline void dnnc_multi_threshold_pack(const int32_t *acc, int32_t n, int32_t nthr, const int32_t *thr,
                                             const uint32_t *flip, int32_t planes, int32_t pw, uint32_t *out)
{
    int32_t wi, p;
    for (wi = 0; wi < pw; wi++) {
        uint32_t bits[4] = {0, 0, 0, 0};
        int32_t b, j, lim = n - 32 * wi < 32 ? n - 32 * wi : 32;
        for (b = 0; b < lim; b++) {
            const int32_t o = 32 * wi + b, a = acc[o];
            const int32_t *t = thr + o * nthr;
            int32_t c = 0;
            for (j = 0; j < nthr; j++) c += a >= t[j];
            if ((flip[wi] >> b) & 1u) c = nthr - c;
            for (p = 0; p < planes; p++) bits[p] |= (uint32_t)((c >> p) & 1) << b;
        }
        for (p = 0; p < planes; p++) out[p * pw + wi] = bits[p];
    }
}

#endif /* DNNC_KBIT_H */
