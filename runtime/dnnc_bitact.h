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

#if defined(__ARM_ARCH_7EM__) && defined(__thumb2__) && !defined(DNNC_NO_ASM)
#define DNNC_V7EM_ASM 1
#endif

#if defined(DNNC_V7EM_ASM)
#include <arm_acle.h>

/* Cortex-M4/M7 (Armv7E-M): 4 words per iteration, LDM loads, a two-level carry-save tree (ones, twos) and
 * one SWAR count of the carry-out ("fours") per block into per-byte counters: 33 instructions per 4 binary
 * words, 38 per 4 ternary words. Blocks are processed at most 31 at a time (byte counters stay < 256).
 * n must be a multiple of 4 (the compiler pads rows with zero words). */
#define DNNC_POP_BYTES_ASM(f)                                                                      \
    "lsr r4, " f ", #1\n\t"                                                                       \
    "and r4, r4, #0x55555555\n\t"                                                                 \
    "sub " f ", " f ", r4\n\t"                                                                    \
    "and r4, " f ", #0x33333333\n\t"                                                              \
    "lsr " f ", " f ", #2\n\t"                                                                    \
    "and " f ", " f ", #0x33333333\n\t"                                                           \
    "add " f ", " f ", r4\n\t"                                                                    \
    "add " f ", " f ", " f ", lsr #4\n\t"                                                         \
    "and " f ", " f ", #0x0F0F0F0F\n\t"

static inline uint32_t dnnc_bytesum(uint32_t v)
{
    return __usada8(v, 0u, 0u); /* sum of the four bytes, one instruction */
}

/* Per-byte popcounts of v (each byte <= 8). */
static inline uint32_t dnnc_popbytes(uint32_t v)
{
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    return (v + (v >> 4)) & 0x0F0F0F0Fu;
}

/* pc(ones) + 2 pc(twos) + 4 pc(fours) with one byte sum (bytes stay <= 56). */
static inline uint32_t dnnc_pc_124(uint32_t ones, uint32_t twos, uint32_t fours)
{
    return dnnc_bytesum(dnnc_popbytes(ones) + (dnnc_popbytes(twos) << 1) + (dnnc_popbytes(fours) << 2));
}

/* Binary: 8 words per iteration through a three-level carry-save tree (ones, twos, fours) and one SWAR
 * count of the carry-out ("eights") into per-byte counters: 61 instructions per 8 words. A remaining block of
 * 4 words goes through the same tree in C. */
static inline uint32_t dnnc_count_binary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t ones = 0, twos = 0, fours = 0, eights = 0;
    int32_t left = n >> 3;
    while (left > 0) {
        const int32_t nb = left < 31 ? left : 31;
        /* explicit registers: the only six the asm leaves free (r4-r11 are its scratch) */
        register const uint32_t *rw __asm__("r0") = w;
        register const uint32_t *rx __asm__("r1") = x;
        register uint32_t ro __asm__("r2") = ones;
        register uint32_t rt __asm__("r3") = twos;
        register uint32_t rf __asm__("r12") = fours;
        register uint32_t acc __asm__("lr") = (uint32_t)nb;
        left -= nb;
        __asm__ volatile(
            "add r4, %[x], %[a], lsl #5\n\t"
            "push {r4}\n\t"
            "mov %[a], #0\n\t"
            "1:\n\t"
            "ldmia %[x]!, {r8, r9, r10, r11}\n\t"
            "ldmia %[w]!, {r4, r5, r6, r7}\n\t"
            "eor r4, r4, r8\n\t"
            "eor r5, r5, r9\n\t"
            "eor r6, r6, r10\n\t"
            "eor r7, r7, r11\n\t"
            "eor r8, %[o], r4\n\t"
            "and r9, %[o], r4\n\t"
            "and r10, r8, r5\n\t"
            "orr r9, r9, r10\n\t"
            "eor %[o], r8, r5\n\t"
            "eor r8, %[o], r6\n\t"
            "and r10, %[o], r6\n\t"
            "and r11, r8, r7\n\t"
            "orr r10, r10, r11\n\t"
            "eor %[o], r8, r7\n\t"
            "eor r8, %[t], r9\n\t"
            "and r11, %[t], r9\n\t"
            "and r4, r8, r10\n\t"
            "orr r11, r11, r4\n\t"
            "eor %[t], r8, r10\n\t"
            "ldmia %[x]!, {r4, r5, r6, r7}\n\t"
            "ldmia %[w]!, {r8, r9, r10}\n\t"
            "eor r4, r4, r8\n\t"
            "eor r5, r5, r9\n\t"
            "eor r6, r6, r10\n\t"
            "ldr r8, [%[w]], #4\n\t"
            "eor r7, r7, r8\n\t"
            "eor r8, %[o], r4\n\t"
            "and r9, %[o], r4\n\t"
            "and r10, r8, r5\n\t"
            "orr r9, r9, r10\n\t"
            "eor %[o], r8, r5\n\t"
            "eor r8, %[o], r6\n\t"
            "and r10, %[o], r6\n\t"
            "and r4, r8, r7\n\t"
            "orr r10, r10, r4\n\t"
            "eor %[o], r8, r7\n\t"
            "eor r8, %[t], r9\n\t"
            "and r4, %[t], r9\n\t"
            "and r5, r8, r10\n\t"
            "orr r4, r4, r5\n\t"
            "eor %[t], r8, r10\n\t"
            "eor r8, %[f], r11\n\t"
            "and r5, %[f], r11\n\t"
            "and r6, r8, r4\n\t"
            "orr r5, r5, r6\n\t"
            "eor %[f], r8, r4\n\t"
            DNNC_POP_BYTES_ASM("r5")
            "add %[a], %[a], r5\n\t"
            "ldr r4, [sp]\n\t"
            "cmp %[x], r4\n\t"
            "bne 1b\n\t"
            "add sp, sp, #4\n\t"
            : [w] "+r"(rw), [x] "+r"(rx), [o] "+r"(ro), [t] "+r"(rt), [f] "+r"(rf), [a] "+r"(acc)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
        w = rw;
        x = rx;
        ones = ro;
        twos = rt;
        fours = rf;
        eights += dnnc_bytesum(acc);
    }
    if (n & 4) {
        uint32_t ta, tb, fa;
        DNNC_CSA(ta, ones, ones, w[0] ^ x[0], w[1] ^ x[1]);
        DNNC_CSA(tb, ones, ones, w[2] ^ x[2], w[3] ^ x[3]);
        DNNC_CSA(fa, twos, twos, ta, tb);
        eights += dnnc_popcount32(fours & fa); /* fours + fa = 2 (fours & fa) + (fours ^ fa) */
        fours ^= fa;
    }
    return 8u * eights + dnnc_pc_124(ones, twos, fours);
}

static inline uint32_t dnnc_count_ternary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t ones = 0, twos = 0, fours = 0;
    int32_t left = n >> 2;
    while (left > 0) {
        /* explicit registers: the only six the asm leaves free (r4-r11 are its scratch) */
        register const uint32_t *rw __asm__("r0") = w;
        register const uint32_t *rx __asm__("r1") = x;
        register int32_t nb __asm__("r2") = left < 31 ? left : 31;
        register uint32_t ro __asm__("r3") = ones;
        register uint32_t rt __asm__("r12") = twos;
        register uint32_t acc __asm__("lr") = 0;
        left -= nb;
        __asm__ volatile(
            "1:\n\t"
            "ldmia %[x]!, {r8, r9, r10, r11}\n\t"
            "ldmia %[w]!, {r4, r5, r6, r7}\n\t"
            "eor r4, r4, r8\n\t"
            "and r4, r4, r5\n\t"
            "eor r6, r6, r9\n\t"
            "and r6, r6, r7\n\t"
            "ldmia %[w]!, {r5, r7, r8, r9}\n\t"
            "eor r5, r5, r10\n\t"
            "and r5, r5, r7\n\t"
            "eor r8, r8, r11\n\t"
            "and r8, r8, r9\n\t"
            "eor r7, %[o], r4\n\t"
            "and r9, %[o], r4\n\t"
            "and r10, r7, r6\n\t"
            "orr r9, r9, r10\n\t"
            "eor %[o], r7, r6\n\t"
            "eor r7, %[o], r5\n\t"
            "and r10, %[o], r5\n\t"
            "and r11, r7, r8\n\t"
            "orr r10, r10, r11\n\t"
            "eor %[o], r7, r8\n\t"
            "eor r7, %[t], r9\n\t"
            "and r11, %[t], r9\n\t"
            "and r4, r7, r10\n\t"
            "orr r11, r11, r4\n\t"
            "eor %[t], r7, r10\n\t"
            DNNC_POP_BYTES_ASM("r11")
            "add %[a], %[a], r11\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b\n\t"
            : [w] "+r"(rw), [x] "+r"(rx), [n] "+r"(nb), [o] "+r"(ro), [t] "+r"(rt), [a] "+r"(acc)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
        w = rw;
        x = rx;
        ones = ro;
        twos = rt;
        fours += dnnc_bytesum(acc);
    }
    return 4u * fours + dnnc_pc_124(ones, twos, 0u);
}

#elif defined(DNNC_POPCOUNT_BUILTIN)
/* Hosts with a popcount instruction: count 64 bits at a time (two packed words; popcount ignores order). */
static inline uint32_t dnnc_count_binary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint64_t a0 = 0, a1 = 0;
    const int32_t n4 = n / 4 * 4;
    int32_t j;
    for (j = 0; j < n4; j += 4) {
        uint64_t w0, w1, x0, x1;
        memcpy(&w0, w + j, 8);
        memcpy(&w1, w + j + 2, 8);
        memcpy(&x0, x + j, 8);
        memcpy(&x1, x + j + 2, 8);
        a0 += (uint64_t)__builtin_popcountll(w0 ^ x0);
        a1 += (uint64_t)__builtin_popcountll(w1 ^ x1);
    }
    for (j = n4; j < n; j++) a0 += dnnc_popcount32(w[j] ^ x[j]);
    return (uint32_t)(a0 + a1);
}

static inline uint32_t dnnc_count_ternary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int32_t n4 = n / 4 * 4;
    int32_t j;
    for (j = 0; j < n4; j += 4) {
        a0 += dnnc_popcount32((w[2 * j] ^ x[j]) & w[2 * j + 1]);
        a1 += dnnc_popcount32((w[2 * j + 2] ^ x[j + 1]) & w[2 * j + 3]);
        a2 += dnnc_popcount32((w[2 * j + 4] ^ x[j + 2]) & w[2 * j + 5]);
        a3 += dnnc_popcount32((w[2 * j + 6] ^ x[j + 3]) & w[2 * j + 7]);
    }
    for (j = n4; j < n; j++) a0 += dnnc_popcount32((w[2 * j] ^ x[j]) & w[2 * j + 1]);
    return a0 + a1 + a2 + a3;
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
#if defined(DNNC_V7EM_ASM)
/* All outputs of a binary layer in one assembly loop (rows contiguous, n a multiple of 8, n <= 248): the
 * per-output state (x base, end, tot and acc pointers, outputs left) lives on the stack, so nothing spills
 * between outputs. Same 8-word carry-save body as dnnc_count_binary. */
static inline void dnnc_dense_binary_asm(const uint32_t *w, const int32_t *tot, const uint32_t *x, int32_t n,
                                         int32_t nout, int32_t *acc)
{
    /* explicit registers: the only six the asm leaves free (r4-r11 are its scratch) */
    register const uint32_t *rw __asm__("r0") = w;
    register const uint32_t *rx __asm__("r1") = x;
    register int32_t nb __asm__("r2") = n >> 3;
    register const int32_t *rtot __asm__("r3") = tot;
    register int32_t *racc __asm__("r12") = acc;
    register int32_t rn __asm__("lr") = nout;
    __asm__ volatile(
        "sub sp, sp, #24\n\t"
        "str %[x], [sp]\n\t"
        "add %[nb], %[x], %[nb], lsl #5\n\t"
        "str %[nb], [sp, #4]\n\t"
        "str %[tot], [sp, #8]\n\t"
        "str %[acc], [sp, #12]\n\t"
        "str %[nout], [sp, #16]\n\t"
        "2:\n\t"
        "ldr %[x], [sp]\n\t"
        "mov %[nb], #0\n\t"
        "mov %[tot], #0\n\t"
        "mov %[acc], #0\n\t"
        "mov %[nout], #0\n\t"
        "1:\n\t"
        "ldmia %[x]!, {r8, r9, r10, r11}\n\t"
        "ldmia %[w]!, {r4, r5, r6, r7}\n\t"
        "eor r4, r4, r8\n\t"
        "eor r5, r5, r9\n\t"
        "eor r6, r6, r10\n\t"
        "eor r7, r7, r11\n\t"
        "eor r8, %[nb], r4\n\t"
        "and r9, %[nb], r4\n\t"
        "and r10, r8, r5\n\t"
        "orr r9, r9, r10\n\t"
        "eor %[nb], r8, r5\n\t"
        "eor r8, %[nb], r6\n\t"
        "and r10, %[nb], r6\n\t"
        "and r11, r8, r7\n\t"
        "orr r10, r10, r11\n\t"
        "eor %[nb], r8, r7\n\t"
        "eor r8, %[tot], r9\n\t"
        "and r11, %[tot], r9\n\t"
        "and r4, r8, r10\n\t"
        "orr r11, r11, r4\n\t"
        "eor %[tot], r8, r10\n\t"
        "ldmia %[x]!, {r4, r5, r6, r7}\n\t"
        "ldmia %[w]!, {r8, r9, r10}\n\t"
        "eor r4, r4, r8\n\t"
        "eor r5, r5, r9\n\t"
        "eor r6, r6, r10\n\t"
        "ldr r8, [%[w]], #4\n\t"
        "eor r7, r7, r8\n\t"
        "eor r8, %[nb], r4\n\t"
        "and r9, %[nb], r4\n\t"
        "and r10, r8, r5\n\t"
        "orr r9, r9, r10\n\t"
        "eor %[nb], r8, r5\n\t"
        "eor r8, %[nb], r6\n\t"
        "and r10, %[nb], r6\n\t"
        "and r4, r8, r7\n\t"
        "orr r10, r10, r4\n\t"
        "eor %[nb], r8, r7\n\t"
        "eor r8, %[tot], r9\n\t"
        "and r4, %[tot], r9\n\t"
        "and r5, r8, r10\n\t"
        "orr r4, r4, r5\n\t"
        "eor %[tot], r8, r10\n\t"
        "eor r8, %[acc], r11\n\t"
        "and r5, %[acc], r11\n\t"
        "and r6, r8, r4\n\t"
        "orr r5, r5, r6\n\t"
        "eor %[acc], r8, r4\n\t"
        DNNC_POP_BYTES_ASM("r5")
        "add %[nout], %[nout], r5\n\t"
        "ldr r4, [sp, #4]\n\t"
        "cmp %[x], r4\n\t"
        "bne 1b\n\t"
        /* cnt = 8 sum(bytes of eights) + pc(ones) + 2 pc(twos) + 4 pc(fours) */
        DNNC_POP_BYTES_ASM("%[nb]")
        DNNC_POP_BYTES_ASM("%[tot]")
        DNNC_POP_BYTES_ASM("%[acc]")
        "add %[nb], %[nb], %[tot], lsl #1\n\t"
        "add %[nb], %[nb], %[acc], lsl #2\n\t"
        "mov r4, #0\n\t"
        "usada8 r5, %[nb], r4, r4\n\t"
        "usada8 r6, %[nout], r4, r4\n\t"
        "add r5, r5, r6, lsl #3\n\t"
        "ldr r7, [sp, #8]\n\t"
        "ldr r6, [r7], #4\n\t"
        "str r7, [sp, #8]\n\t"
        "sub r6, r6, r5, lsl #1\n\t"
        "ldr r7, [sp, #12]\n\t"
        "str r6, [r7], #4\n\t"
        "str r7, [sp, #12]\n\t"
        "ldr r7, [sp, #16]\n\t"
        "subs r7, r7, #1\n\t"
        "str r7, [sp, #16]\n\t"
        "bne 2b\n\t"
        "add sp, sp, #24\n\t"
        : [w] "+r"(rw), [x] "+r"(rx), [nb] "+r"(nb), [tot] "+r"(rtot), [acc] "+r"(racc), [nout] "+r"(rn)
        :
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
}

/* All outputs of a ternary layer in one assembly loop (n a multiple of 4, n <= 124); 4-word body of
 * dnnc_count_ternary, per-output state on the stack. */
static inline void dnnc_dense_ternary_asm(const uint32_t *w, const int32_t *tot, const uint32_t *x, int32_t n,
                                          int32_t nout, int32_t *acc)
{
    /* explicit registers: the only six the asm leaves free (r4-r11 are its scratch) */
    register const uint32_t *rw __asm__("r0") = w;
    register const uint32_t *rx __asm__("r1") = x;
    register int32_t nb __asm__("r2") = n >> 2;
    register const int32_t *rtot __asm__("r3") = tot;
    register int32_t *racc __asm__("r12") = acc;
    register int32_t rn __asm__("lr") = nout;
    __asm__ volatile(
        "sub sp, sp, #24\n\t"
        "str %[x], [sp]\n\t"
        "str %[nb], [sp, #4]\n\t"
        "str %[tot], [sp, #8]\n\t"
        "str %[acc], [sp, #12]\n\t"
        "str %[nout], [sp, #16]\n\t"
        "2:\n\t"
        "ldr %[x], [sp]\n\t"
        "ldr %[nb], [sp, #4]\n\t"
        "mov %[tot], #0\n\t"
        "mov %[acc], #0\n\t"
        "mov %[nout], #0\n\t"
        "1:\n\t"
        "ldmia %[x]!, {r8, r9, r10, r11}\n\t"
        "ldmia %[w]!, {r4, r5, r6, r7}\n\t"
        "eor r4, r4, r8\n\t"
        "and r4, r4, r5\n\t"
        "eor r6, r6, r9\n\t"
        "and r6, r6, r7\n\t"
        "ldmia %[w]!, {r5, r7, r8, r9}\n\t"
        "eor r5, r5, r10\n\t"
        "and r5, r5, r7\n\t"
        "eor r8, r8, r11\n\t"
        "and r8, r8, r9\n\t"
        "eor r7, %[tot], r4\n\t"
        "and r9, %[tot], r4\n\t"
        "and r10, r7, r6\n\t"
        "orr r9, r9, r10\n\t"
        "eor %[tot], r7, r6\n\t"
        "eor r7, %[tot], r5\n\t"
        "and r10, %[tot], r5\n\t"
        "and r11, r7, r8\n\t"
        "orr r10, r10, r11\n\t"
        "eor %[tot], r7, r8\n\t"
        "eor r7, %[acc], r9\n\t"
        "and r11, %[acc], r9\n\t"
        "and r4, r7, r10\n\t"
        "orr r11, r11, r4\n\t"
        "eor %[acc], r7, r10\n\t"
        DNNC_POP_BYTES_ASM("r11")
        "add %[nout], %[nout], r11\n\t"
        "subs %[nb], %[nb], #1\n\t"
        "bne 1b\n\t"
        /* cnt = 4 sum(bytes of fours) + pc(ones) + 2 pc(twos) */
        DNNC_POP_BYTES_ASM("%[tot]")
        DNNC_POP_BYTES_ASM("%[acc]")
        "add %[tot], %[tot], %[acc], lsl #1\n\t"
        "mov r4, #0\n\t"
        "usada8 r5, %[tot], r4, r4\n\t"
        "usada8 r6, %[nout], r4, r4\n\t"
        "add r5, r5, r6, lsl #2\n\t"
        "ldr r7, [sp, #8]\n\t"
        "ldr r6, [r7], #4\n\t"
        "str r7, [sp, #8]\n\t"
        "sub r6, r6, r5, lsl #1\n\t"
        "ldr r7, [sp, #12]\n\t"
        "str r6, [r7], #4\n\t"
        "str r7, [sp, #12]\n\t"
        "ldr r7, [sp, #16]\n\t"
        "subs r7, r7, #1\n\t"
        "str r7, [sp, #16]\n\t"
        "bne 2b\n\t"
        "add sp, sp, #24\n\t"
        : [w] "+r"(rw), [x] "+r"(rx), [nb] "+r"(nb), [tot] "+r"(rtot), [acc] "+r"(racc), [nout] "+r"(rn)
        :
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
}
#endif

static inline void dnnc_dense_bits(int32_t kind, const uint32_t *w, const int32_t *tot, const uint32_t *x,
                                   int32_t n, int32_t nout, int32_t *acc)
{
    const int32_t stride = n * dnnc_planes(kind);
    int32_t o;
#if defined(DNNC_V7EM_ASM)
    if (nout > 0 && n > 0 && kind == DNNC_W_BINARY && n % 8 == 0 && n <= 248) {
        dnnc_dense_binary_asm(w, tot, x, n, nout, acc);
        return;
    }
    if (nout > 0 && n > 0 && kind == DNNC_W_TERNARY && n % 4 == 0 && n <= 124) {
        dnnc_dense_ternary_asm(w, tot, x, n, nout, acc);
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
        for (b = 0; b < lim; b++) bits |= (uint32_t)(a[b] >= t[b]) << b;
        out[wi] = bits ^ flip[wi];
    }
}

#endif /* DNNC_BITACT_H */
