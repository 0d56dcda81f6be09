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

/* Each plane runs the 1-bit kernel with tot + W in place of tot, giving X_p = S_p + W = 2 sum_i w_i b_pi, so
 *   acc = kb + (sum_p 2^p X_p) / 2,   kb = bias * W   (the sum is even: the halving is exact).
 * dnnc_kbit_add folds plane p (1 <= p < P - 1) into acc; dnnc_kbit_last folds the last plane (part = NULL
 * when P = 1) and finishes. One pass over the outputs for 2-bit activations. */
static inline void dnnc_kbit_add(int32_t *acc, const int32_t *part, int32_t p, int32_t nout)
{
    int32_t o;
    for (o = 0; o < nout; o++) acc[o] += part[o] * (1 << p);
}

static inline void dnnc_kbit_last(int32_t *acc, const int32_t *part, int32_t p, const int32_t *kb, int32_t nout)
{
    int32_t o;
    if (part == NULL) {
        for (o = 0; o < nout; o++) acc[o] = kb[o] + acc[o] / 2;
        return;
    }
    for (o = 0; o < nout; o++) acc[o] = kb[o] + (acc[o] + part[o] * (1 << p)) / 2;
}

/* Fused multi-threshold-and-pack: code c[o] = #{j : acc[o] >= thr[o][j]} (T = nthr thresholds per output),
 * or nthr minus that where bit o of flip is set (a direction -1 channel, `acc <= t` stored as t + 1), written
 * as `planes` bit planes of `pw` words each (words past n are zeroed). */
static inline int32_t dnnc_count_thresholds(int32_t a, const int32_t *t, int32_t nthr)
{
    int32_t j, c;
    switch (nthr) { /* the usual 2-bit cases unrolled */
    case 2: return (a >= t[0]) + (a >= t[1]);
    case 3: return (a >= t[0]) + (a >= t[1]) + (a >= t[2]);
    default:
        for (c = 0, j = 0; j < nthr; j++) c += a >= t[j];
        return c;
    }
}

static inline void dnnc_multi_threshold_pack(const int32_t *acc, int32_t n, int32_t nthr, const int32_t *thr,
                                             const uint32_t *flip, int32_t planes, int32_t pw, uint32_t *out)
{
    int32_t wi, p;
    for (wi = 0; wi < pw; wi++) {
        uint32_t b0 = 0, b1 = 0, b2 = 0, b3 = 0, f = 0;
        int32_t b, lim = n - 32 * wi < 32 ? n - 32 * wi : 32;
        if (lim > 0) f = flip[wi];
        for (b = 0; b < lim; b++) {
            const int32_t o = 32 * wi + b;
            int32_t c = dnnc_count_thresholds(acc[o], thr + o * nthr, nthr);
            if ((f >> b) & 1u) c = nthr - c;
            b0 |= (uint32_t)(c & 1) << b;
            b1 |= (uint32_t)((c >> 1) & 1) << b;
            b2 |= (uint32_t)((c >> 2) & 1) << b;
            b3 |= (uint32_t)((c >> 3) & 1) << b;
        }
        out[wi] = b0;
        for (p = 1; p < planes; p++) out[p * pw + wi] = p == 1 ? b1 : p == 2 ? b2 : b3;
    }
}

#endif /* DNNC_KBIT_H */
