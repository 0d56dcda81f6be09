/* dnnc runtime: dot products of discrete weights with bit-packed ±1 activations. C99, header only.
 *
 * Activations follow the packing convention of dnnc_runtime.h (bit 1 = +1, LSB first, zero padding).
 * Weights of one output are stored word by word, the planes of a word adjacent ("interleaved"):
 *
 *   kind            planes per word      weight = sign * magnitude
 *   DNNC_W_BINARY   s                    s: 1 = +1, 0 = -1                     |w| = 1
 *   DNNC_W_TERNARY  s, m                 m: 1 = nonzero                        |w| = m
 *   DNNC_W_QUATER   s, b1                codes {-3,-1,1,3}                      |w| = 1 + 2*b1
 *   DNNC_W_QUINARY  s, b0, b1            codes {-2,-1,0,1,2}                    |w| = b0 + 2*b1
 *
 * Every plane holds 0 in padding positions (and s = 0 where w = 0). With d = s XOR x (1 where the
 * product w*x is negative) the functions return the weighted disagreement count
 *     cnt = sum_i |w_i| * d_i,      so that      sum_i w_i x_i = tot - 2 * cnt,
 * where tot = sum_i |w_i| over the real inputs is a compile-time constant per output. Padding bits
 * give d = 0 (binary/quaternary) or are masked (ternary/quinary), so padding never changes a sum.
 */
#ifndef DNNC_BITACT_H
#define DNNC_BITACT_H

#include <stdint.h>
#include <string.h>

#include "dnnc_popcount.h"

#define DNNC_W_BINARY 0
#define DNNC_W_TERNARY 1
#define DNNC_W_QUATER 2
#define DNNC_W_QUINARY 3

/* The kinds a library uses, bit k for kind k (model.c defines DNNC_KINDS): the layer drivers compile the
 * kernels of those kinds only (flash: every kind's specialized copies of the conv loop would ship otherwise). */
#ifndef DNNC_KINDS
#define DNNC_KINDS 15
#endif
#define DNNC_HAS_KIND(k) ((DNNC_KINDS >> (k)) & 1)

static inline int32_t dnnc_planes(int32_t kind)
{
    return kind == DNNC_W_BINARY ? 1 : (kind == DNNC_W_QUINARY ? 3 : 2);
}

/* Harley-Seal: 8 words per step through a carry-save tree, one popcount per 8 words. `D(j)` is the
 * disagreement word j. Used by the binary and ternary kernels, the hot loops of hidden layers. */
#define DNNC_HS_COUNT(n, D, result)                                                                \
    do {                                                                                           \
        uint32_t ones_ = 0, twos_ = 0, fours_ = 0, tot8_ = 0;                                      \
        const int32_t n8_ = (n) / 8 * 8;                                                           \
        int32_t j_;                                                                                \
        for (j_ = 0; j_ < n8_; j_ += 8) {                                                          \
            uint32_t d0_ = D(j_), d1_ = D(j_ + 1), d2_ = D(j_ + 2), d3_ = D(j_ + 3);               \
            uint32_t ta_, tb_, fa_, fb_, e_;                                                       \
            DNNC_CSA(ta_, ones_, ones_, d0_, d1_);                                                 \
            DNNC_CSA(tb_, ones_, ones_, d2_, d3_);                                                 \
            DNNC_CSA(fa_, twos_, twos_, ta_, tb_);                                                 \
            d0_ = D(j_ + 4); d1_ = D(j_ + 5); d2_ = D(j_ + 6); d3_ = D(j_ + 7);                    \
            DNNC_CSA(ta_, ones_, ones_, d0_, d1_);                                                 \
            DNNC_CSA(tb_, ones_, ones_, d2_, d3_);                                                 \
            DNNC_CSA(fb_, twos_, twos_, ta_, tb_);                                                 \
            DNNC_CSA(e_, fours_, fours_, fa_, fb_);                                                \
            tot8_ += dnnc_popcount32(e_);                                                          \
        }                                                                                          \
        (result) = 8u * tot8_ + 4u * dnnc_popcount32(fours_) + 2u * dnnc_popcount32(twos_)         \
                   + dnnc_popcount32(ones_);                                                       \
        for (j_ = n8_; j_ < (n); j_++) (result) += dnnc_popcount32(D(j_));                         \
    } while (0)

/* The Armv7E-M assembly kernels: in a library that ships them (model.c of a target with `dsp = true` defines
 * DNNC_V7EM_KERNELS), when the compiler targets Thumb-2 with the DSP extension (Armv7E-M, and Armv8-M
 * Mainline with DSP: Cortex-M33, M55). */
#if defined(DNNC_V7EM_KERNELS) && defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && !defined(DNNC_NO_ASM)
#define DNNC_V7EM_ASM 1
#endif

/* The Armv6-M assembly kernels (model.c of a target with `thumb1 = true` defines DNNC_V6M_KERNELS), when the
 * compiler targets Thumb-1 only (Cortex-M0, M0+, M1; Armv8-M Baseline's M23). */
#if defined(DNNC_V6M_KERNELS) && defined(__thumb__) && !defined(__thumb2__) && !defined(DNNC_NO_ASM)
#define DNNC_V6M_ASM 1
#endif

#if defined(DNNC_MVE_KERNELS)
#include "dnnc_mve.h"
#endif

#if defined(DNNC_V7EM_ASM)
#include "dnnc_bitact_v7em.h"
#elif defined(DNNC_V6M_ASM)
#include "dnnc_bitact_v6m.h"
#elif defined(DNNC_POPCOUNT_BUILTIN)
/* Hosts with a popcount instruction. */
/* Plain loops: the compiler vectorizes them where the host has a vector popcount, and they keep register
 * pressure low where they are inlined into the pooled conv loops (unrolled 4-accumulator versions made gcc
 * spill there: mnist-cnn host 630 -> 150 us ternary, 170 -> 110 us binary). */
static inline uint32_t dnnc_count_binary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t a0 = 0;
    int32_t j;
    for (j = 0; j < n; j++) a0 += dnnc_popcount32(w[j] ^ x[j]);
    return a0;
}

static inline uint32_t dnnc_count_ternary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t a0 = 0;
    int32_t j;
    for (j = 0; j < n; j++) a0 += dnnc_popcount32((w[2 * j] ^ x[j]) & w[2 * j + 1]);
    return a0;
}

#else /* portable C */

static inline uint32_t dnnc_count_binary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t r;
#define DNNC_D_(j) (w[(j)] ^ x[(j)])
    DNNC_HS_COUNT(n, DNNC_D_, r);
#undef DNNC_D_
    return r;
}

static inline uint32_t dnnc_count_ternary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t r;
#define DNNC_D_(j) ((w[2 * (j)] ^ x[(j)]) & w[2 * (j) + 1])
    DNNC_HS_COUNT(n, DNNC_D_, r);
#undef DNNC_D_
    return r;
}

#endif

#if defined(DNNC_V7EM_ASM) || defined(DNNC_V6M_ASM)
/* dnnc_count_quater, dnnc_count_quinary: dnnc_bitact_v7em.h, dnnc_bitact_v6m.h */
#elif defined(DNNC_POPCOUNT_BUILTIN)
static inline uint32_t dnnc_count_quater(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t c1 = 0, c2 = 0;
    int32_t j;
    for (j = 0; j < n; j++) {
        uint32_t d = w[2 * j] ^ x[j];
        c1 += dnnc_popcount32(d);
        c2 += dnnc_popcount32(d & w[2 * j + 1]);
    }
    return c1 + 2u * c2;
}

static inline uint32_t dnnc_count_quinary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t c1 = 0, c2 = 0;
    int32_t j;
    for (j = 0; j < n; j++) {
        uint32_t d = w[3 * j] ^ x[j];
        c1 += dnnc_popcount32(d & w[3 * j + 1]);
        c2 += dnnc_popcount32(d & w[3 * j + 2]);
    }
    return c1 + 2u * c2;
}
#else
/* SWAR, one carry-save tree for both weights: 4 words a block, the weight-1 words D(j) enter the ones level,
 * the weight-2 words E(j) the twos level (4 + 2 carries: 3 CSAs), the fours level takes two of the three
 * carries; the eights carry and the third fours carry are counted per byte (in units of 4: <= 24 a block,
 * 10 blocks per byte sum). 6 CSAs and 2 SWAR counts per 4 words instead of 8 SWAR counts. */
#define DNNC_HS12_COUNT(n, D, E, result)                                                           \
    do {                                                                                           \
        uint32_t ones_ = 0, twos_ = 0, fours_ = 0, total_ = 0;                                     \
        const int32_t n4_ = (n) / 4 * 4;                                                           \
        int32_t j_ = 0;                                                                            \
        while (j_ < n4_) {                                                                         \
            const int32_t lim_ = n4_ - j_ < 40 ? n4_ : j_ + 40;                                    \
            uint32_t acc_ = 0;                                                                     \
            for (; j_ < lim_; j_ += 4) {                                                           \
                uint32_t c0_, c1_, f0_, f1_, f2_, g_;                                              \
                DNNC_CSA(c0_, ones_, ones_, D(j_), D(j_ + 1));                                     \
                DNNC_CSA(c1_, ones_, ones_, D(j_ + 2), D(j_ + 3));                                 \
                DNNC_CSA(f0_, twos_, twos_, c0_, c1_);                                             \
                DNNC_CSA(f1_, twos_, twos_, E(j_), E(j_ + 1));                                     \
                DNNC_CSA(f2_, twos_, twos_, E(j_ + 2), E(j_ + 3));                                 \
                DNNC_CSA(g_, fours_, fours_, f0_, f1_);                                            \
                acc_ += (dnnc_popbytes(g_) << 1) + dnnc_popbytes(f2_);                             \
            }                                                                                      \
            total_ += dnnc_bytesum(acc_);                                                          \
        }                                                                                          \
        (result) = 4u * total_ + dnnc_pc_124(ones_, twos_, fours_);                                \
        for (; j_ < (n); j_++) (result) += dnnc_popcount32(D(j_)) + 2u * dnnc_popcount32(E(j_));   \
    } while (0)

/* |w| = 1 + 2 b1: d = s XOR x with weight 1, d AND b1 with weight 2. */
static inline uint32_t dnnc_count_quater(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t r;
#define DNNC_D_(j) (w[2 * (j)] ^ x[(j)])
#define DNNC_E_(j) ((w[2 * (j)] ^ x[(j)]) & w[2 * (j) + 1])
    DNNC_HS12_COUNT(n, DNNC_D_, DNNC_E_, r);
#undef DNNC_E_
#undef DNNC_D_
    return r;
}

/* |w| = b0 + 2 b1: d AND b0 with weight 1, d AND b1 with weight 2. */
static inline uint32_t dnnc_count_quinary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t r;
#define DNNC_D_(j) ((w[3 * (j)] ^ x[(j)]) & w[3 * (j) + 1])
#define DNNC_E_(j) ((w[3 * (j)] ^ x[(j)]) & w[3 * (j) + 2])
    DNNC_HS12_COUNT(n, DNNC_D_, DNNC_E_, r);
#undef DNNC_E_
#undef DNNC_D_
    return r;
}
#endif

static inline void dnnc_zero_words(uint32_t *p, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) p[i] = 0;
}

/* Weighted disagreement count of one output's weights `w` (n words, planes interleaved) with x. */
static inline uint32_t dnnc_count(int32_t kind, const uint32_t *w, const uint32_t *x, int32_t n)
{
    switch (kind) {
    case DNNC_W_BINARY: return dnnc_count_binary(w, x, n);
    case DNNC_W_TERNARY: return dnnc_count_ternary(w, x, n);
    case DNNC_W_QUATER: return dnnc_count_quater(w, x, n);
    default: return dnnc_count_quinary(w, x, n);
    }
}

/* acc[o] = sum_i w[o][i] x[i] for nout outputs; x has n words, w is [nout][n][planes]. */

static inline void dnnc_dense_bits(int32_t kind, const uint32_t *w, const int32_t *tot, const uint32_t *x,
                                   int32_t n, int32_t nout, int32_t *acc)
{
    const int32_t stride = n * dnnc_planes(kind);
    int32_t o;
#if defined(DNNC_MVE)
    if (n % 4 == 0) { /* the plan pads to 4 words */
        dnnc_mve_dense_bits(kind, w, tot, x, n, nout, acc);
        return;
    }
#endif
#if defined(DNNC_V7EM_ASM)
    if (nout > 0 && n > 0 && kind == DNNC_W_BINARY && n % 8 == 0 && n <= 248) {
        dnnc_dense_binary_asm(w, tot, x, n, nout, acc);
        return;
    }
    if (nout > 0 && n > 0 && kind == DNNC_W_TERNARY && n % 4 == 0 && n <= 124) {
        dnnc_dense_ternary_asm(w, tot, x, n, nout, acc);
        return;
    }
    if (DNNC_HAS_KIND(DNNC_W_QUATER) && n > 0 && n % 4 == 0 && kind == DNNC_W_QUATER) { /* the count inlined: no call, no tail per output */
        for (o = 0; o < nout; o++) acc[o] = tot[o] - 2 * (int32_t)dnnc_count_hs12_seeded(w + o * stride, x, n >> 2, 0, 2);
        return;
    }
    if (DNNC_HAS_KIND(DNNC_W_QUINARY) && n > 0 && n % 4 == 0 && kind == DNNC_W_QUINARY) {
        for (o = 0; o < nout; o++) acc[o] = tot[o] - 2 * (int32_t)dnnc_count_hs12_seeded(w + o * stride, x, n >> 2, 0, 3);
        return;
    }
#endif
    for (o = 0; o < nout; o++) acc[o] = tot[o] - 2 * (int32_t)dnnc_count(kind, w + o * stride, x, n);
}

/* Fused threshold-and-pack: bit o of out = (acc[o] >= thr[o]) XOR flip bit o, padding bits 0.
 * A channel with direction -1 (out = +1 iff acc <= t) is stored as thr = t + 1 with its flip bit set;
 * a constant channel as thr = INT32_MIN with flip = 0 (+1) or 1 (-1). */
static inline void dnnc_threshold_pack(const int32_t *acc, int32_t n, const int32_t *thr, const uint32_t *flip,
                                       uint32_t *out)
{
    int32_t wi, nw = (n + 31) / 32;
    for (wi = 0; wi < nw; wi++) {
        uint32_t bits = 0;
        int32_t b, lim = n - 32 * wi < 32 ? n - 32 * wi : 32;
        const int32_t *a = acc + 32 * wi, *t = thr + 32 * wi;
        if (lim == 32) { /* a whole word, unrolled: each bit a compare and a conditional OR of a constant */
#define DNNC_TP_BIT(k) if (a[k] >= t[k]) bits |= 1u << (k);
#define DNNC_TP_BIT8(k) DNNC_TP_BIT(k) DNNC_TP_BIT(k + 1) DNNC_TP_BIT(k + 2) DNNC_TP_BIT(k + 3) \
    DNNC_TP_BIT(k + 4) DNNC_TP_BIT(k + 5) DNNC_TP_BIT(k + 6) DNNC_TP_BIT(k + 7)
            DNNC_TP_BIT8(0) DNNC_TP_BIT8(8) DNNC_TP_BIT8(16) DNNC_TP_BIT8(24)
#undef DNNC_TP_BIT8
#undef DNNC_TP_BIT
        } else {
            for (b = 0; b < lim; b++) bits |= (uint32_t)(a[b] >= t[b]) << b;
        }
        out[wi] = bits ^ flip[wi];
    }
}

#endif /* DNNC_BITACT_H */
