/* dnnc runtime: Armv7E-M (Cortex-M4/M7) assembly kernels for packed dot products. Included by
 * dnnc_bitact.h when compiling for Thumb-2 with DSP (define DNNC_NO_ASM to use the portable C instead).
 * Conventions and the meaning of the counts: dnnc_bitact.h. */
#ifndef DNNC_BITACT_V7EM_H
#define DNNC_BITACT_V7EM_H

#include <arm_acle.h>
#include <stdint.h>

#include "dnnc_popcount.h"

/* LDM loads, a carry-save adder tree and one SWAR count of the tree's carry-out per block into per-byte
 * counters (summed with USADA8): binary 8 words per block (61 instructions), ternary 4 words per block (38
 * instructions). At most 31 blocks between byte sums (counters stay < 256). Any n: the last n % 4 words
 * get one SWAR count each (the all-outputs loops below need n a multiple of 8 / 4: padded rows). */
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

/* The 8-word binary block loop shared by dnnc_count_binary and dnnc_count_binary_short: XOR of LDM-loaded
 * words into the carry-save tree (ones %[o], twos %[t], fours %[f]), one SWAR count of the eights carry
 * into the byte counters %[a] per block, until %[x] reaches the end pushed on the stack. */
#define DNNC_CSA8_LOOP_ASM                 \
    "add r4, %[x], %[a], lsl #5\n\t"       \
    "push {r4}\n\t"                        \
    "mov %[a], #0\n\t"                     \
    "1:\n\t"                               \
    "ldmia %[x]!, {r8, r9, r10, r11}\n\t"  \
    "ldmia %[w]!, {r4, r5, r6, r7}\n\t"    \
    "eor r4, r4, r8\n\t"                   \
    "eor r5, r5, r9\n\t"                   \
    "eor r6, r6, r10\n\t"                  \
    "eor r7, r7, r11\n\t"                  \
    "eor r8, %[o], r4\n\t"                 \
    "and r9, %[o], r4\n\t"                 \
    "and r10, r8, r5\n\t"                  \
    "orr r9, r9, r10\n\t"                  \
    "eor %[o], r8, r5\n\t"                 \
    "eor r8, %[o], r6\n\t"                 \
    "and r10, %[o], r6\n\t"                \
    "and r11, r8, r7\n\t"                  \
    "orr r10, r10, r11\n\t"                \
    "eor %[o], r8, r7\n\t"                 \
    "eor r8, %[t], r9\n\t"                 \
    "and r11, %[t], r9\n\t"                \
    "and r4, r8, r10\n\t"                  \
    "orr r11, r11, r4\n\t"                 \
    "eor %[t], r8, r10\n\t"                \
    "ldmia %[x]!, {r4, r5, r6, r7}\n\t"    \
    "ldmia %[w]!, {r8, r9, r10}\n\t"       \
    "eor r4, r4, r8\n\t"                   \
    "eor r5, r5, r9\n\t"                   \
    "eor r6, r6, r10\n\t"                  \
    "ldr r8, [%[w]], #4\n\t"               \
    "eor r7, r7, r8\n\t"                   \
    "eor r8, %[o], r4\n\t"                 \
    "and r9, %[o], r4\n\t"                 \
    "and r10, r8, r5\n\t"                  \
    "orr r9, r9, r10\n\t"                  \
    "eor %[o], r8, r5\n\t"                 \
    "eor r8, %[o], r6\n\t"                 \
    "and r10, %[o], r6\n\t"                \
    "and r4, r8, r7\n\t"                   \
    "orr r10, r10, r4\n\t"                 \
    "eor %[o], r8, r7\n\t"                 \
    "eor r8, %[t], r9\n\t"                 \
    "and r4, %[t], r9\n\t"                 \
    "and r5, r8, r10\n\t"                  \
    "orr r4, r4, r5\n\t"                   \
    "eor %[t], r8, r10\n\t"                \
    "eor r8, %[f], r11\n\t"                \
    "and r5, %[f], r11\n\t"                \
    "and r6, r8, r4\n\t"                   \
    "orr r5, r5, r6\n\t"                   \
    "eor %[f], r8, r4\n\t"                 \
    DNNC_POP_BYTES_ASM("r5")               \
    "add %[a], %[a], r5\n\t"               \
    "ldr r4, [sp]\n\t"                     \
    "cmp %[x], r4\n\t"                     \
    "bne 1b\n\t"                           \
    "add sp, sp, #4\n\t"

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
            DNNC_CSA8_LOOP_ASM
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
        w += 4;
        x += 4;
    }
    {
        uint32_t tail = 0;
        for (left = 0; left < (n & 3); left++) tail += dnnc_popcount32(w[left] ^ x[left]);
        return 8u * eights + tail + dnnc_pc_124(ones, twos, fours);
    }
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
    /* the last n % 4 words (unpadded rows): one SWAR count each */
    {
        uint32_t tail = 0;
        for (left = 0; left < (n & 3); left++) tail += dnnc_popcount32((w[2 * left] ^ x[left]) & w[2 * left + 1]);
        return 4u * fours + tail + dnnc_pc_124(ones, twos, 0u);
    }
}


/* The 4-word ternary block loop of dnnc_count_ternary_short and dnnc_count_ternary_seeded (%[n] blocks into
 * ones %[o], twos %[t] and the byte counters %[a]), then cnt = 4 sum(bytes of %[a]) + pc(ones) + 2 pc(twos). */
#define DNNC_TERNARY4_COUNT_ASM            \
    "1:\n\t"                               \
    "ldmia %[x]!, {r8, r9, r10, r11}\n\t"  \
    "ldmia %[w]!, {r4, r5, r6, r7}\n\t"    \
    "eor r4, r4, r8\n\t"                   \
    "and r4, r4, r5\n\t"                   \
    "eor r6, r6, r9\n\t"                   \
    "and r6, r6, r7\n\t"                   \
    "ldmia %[w]!, {r5, r7, r8, r9}\n\t"    \
    "eor r5, r5, r10\n\t"                  \
    "and r5, r5, r7\n\t"                   \
    "eor r8, r8, r11\n\t"                  \
    "and r8, r8, r9\n\t"                   \
    "eor r7, %[o], r4\n\t"                 \
    "and r9, %[o], r4\n\t"                 \
    "and r10, r7, r6\n\t"                  \
    "orr r9, r9, r10\n\t"                  \
    "eor %[o], r7, r6\n\t"                 \
    "eor r7, %[o], r5\n\t"                 \
    "and r10, %[o], r5\n\t"                \
    "and r11, r7, r8\n\t"                  \
    "orr r10, r10, r11\n\t"                \
    "eor %[o], r7, r8\n\t"                 \
    "eor r7, %[t], r9\n\t"                 \
    "and r11, %[t], r9\n\t"                \
    "and r4, r7, r10\n\t"                  \
    "orr r11, r11, r4\n\t"                 \
    "eor %[t], r7, r10\n\t"                \
    DNNC_POP_BYTES_ASM("r11")              \
    "add %[a], %[a], r11\n\t"              \
    "subs %[n], %[n], #1\n\t"              \
    "bne 1b\n\t"                           \
    DNNC_POP_BYTES_ASM("%[o]")             \
    DNNC_POP_BYTES_ASM("%[t]")             \
    "add %[o], %[o], %[t], lsl #1\n\t"     \
    "mov r4, #0\n\t"                       \
    "usada8 %[o], %[o], r4, r4\n\t"        \
    "usada8 %[a], %[a], r4, r4\n\t"        \
    "add %[a], %[o], %[a], lsl #2\n\t"

/* Ternary count of one short row (n <= 127 words, any length) in one assembly block, forced inline so
 * that a caller's loop over rows pays no call, no register save and no second byte-sum loop: the 4-word
 * body of dnnc_count_ternary, the final counts in the same block; the last n % 4 words enter as the
 * initial carry-save state (ones, twos). */
static inline __attribute__((always_inline)) uint32_t dnnc_count_ternary_short(const uint32_t *w, const uint32_t *x,
                                                                               int32_t n)
{
    uint32_t ones = 0, twos = 0;
    int32_t j;
    if (n < 4) {
        for (j = 0; j < n; j++) ones += dnnc_popcount32((w[2 * j] ^ x[j]) & w[2 * j + 1]);
        return ones;
    }
    j = n & ~3;
    if (n & 3) { /* the last 1-3 words seed the carry-save state: d1 + d2 + d3 = ones + 2 twos */
        const uint32_t d1 = (w[2 * j] ^ x[j]) & w[2 * j + 1];
        const uint32_t d2 = (n & 3) > 1 ? (w[2 * j + 2] ^ x[j + 1]) & w[2 * j + 3] : 0u;
        const uint32_t d3 = (n & 3) > 2 ? (w[2 * j + 4] ^ x[j + 2]) & w[2 * j + 5] : 0u;
        DNNC_CSA(twos, ones, d1, d2, d3);
    }
    {
        register const uint32_t *rw __asm__("r0") = w;
        register const uint32_t *rx __asm__("r1") = x;
        register int32_t nb __asm__("r2") = n >> 2;
        register uint32_t ro __asm__("r3") = ones;
        register uint32_t rt __asm__("r12") = twos;
        register uint32_t acc __asm__("lr") = 0;
        __asm__ volatile(
            DNNC_TERNARY4_COUNT_ASM
            : [w] "+r"(rw), [x] "+r"(rx), [n] "+r"(nb), [o] "+r"(ro), [t] "+r"(rt), [a] "+r"(acc)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
        return acc;
    }
}

/* Ternary count of n = 4 nb + tail words (nb >= 1, tail 0..3 a compile-time constant at the call site, so
 * that the seed is straight-line code): the FIRST tail words seed the carry-save state (the count is a sum
 * over words, any order), then nb 4-word blocks, all in one forced-inline assembly block. */
static inline __attribute__((always_inline)) uint32_t dnnc_count_ternary_seeded(const uint32_t *w, const uint32_t *x,
                                                                                int32_t nb, int32_t tail)
{
    uint32_t ones = 0, twos = 0;
    if (tail > 0) {
        const uint32_t d1 = (w[0] ^ x[0]) & w[1];
        const uint32_t d2 = tail > 1 ? (w[2] ^ x[1]) & w[3] : 0u;
        const uint32_t d3 = tail > 2 ? (w[4] ^ x[2]) & w[5] : 0u;
        DNNC_CSA(twos, ones, d1, d2, d3);
        w += 2 * tail;
        x += tail;
    }
    {
        register const uint32_t *rw __asm__("r0") = w;
        register const uint32_t *rx __asm__("r1") = x;
        register int32_t rn __asm__("r2") = nb;
        register uint32_t ro __asm__("r3") = ones;
        register uint32_t rt __asm__("r12") = twos;
        register uint32_t acc __asm__("lr") = 0;
        __asm__ volatile(
            DNNC_TERNARY4_COUNT_ASM
            : [w] "+r"(rw), [x] "+r"(rx), [n] "+r"(rn), [o] "+r"(ro), [t] "+r"(rt), [a] "+r"(acc)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
        return acc;
    }
}

/* Binary count of one short row (n <= 255 words, any length) in one assembly block, forced inline (see
 * dnnc_count_ternary_short): the 8-word body of dnnc_count_binary, final counts in the same block. */
static inline __attribute__((always_inline)) uint32_t dnnc_count_binary_short(const uint32_t *w, const uint32_t *x,
                                                                              int32_t n)
{
    uint32_t tail = 0, ones = 0, twos = 0;
    int32_t j;
    if (n < 8) {
        for (j = 0; j < n; j++) tail += dnnc_popcount32(w[j] ^ x[j]);
        return tail;
    }
    j = n & ~7;
    if (n & 7) { /* up to 3 of the last words seed the carry-save state, the rest one SWAR count each */
        const uint32_t d1 = w[j] ^ x[j];
        const uint32_t d2 = (n & 7) > 1 ? w[j + 1] ^ x[j + 1] : 0u;
        const uint32_t d3 = (n & 7) > 2 ? w[j + 2] ^ x[j + 2] : 0u;
        DNNC_CSA(twos, ones, d1, d2, d3);
        for (j += 3; j < n; j++) tail += dnnc_popcount32(w[j] ^ x[j]);
    }
    {
        register const uint32_t *rw __asm__("r0") = w;
        register const uint32_t *rx __asm__("r1") = x;
        register uint32_t ro __asm__("r2") = ones;
        register uint32_t rt __asm__("r3") = twos;
        register uint32_t rf __asm__("r12") = 0;
        register uint32_t acc __asm__("lr") = (uint32_t)(n >> 3);
        __asm__ volatile(
            DNNC_CSA8_LOOP_ASM
            /* cnt = 8 sum(bytes of eights) + pc(ones) + 2 pc(twos) + 4 pc(fours) */
            DNNC_POP_BYTES_ASM("%[o]")
            DNNC_POP_BYTES_ASM("%[t]")
            DNNC_POP_BYTES_ASM("%[f]")
            "add %[o], %[o], %[t], lsl #1\n\t"
            "add %[o], %[o], %[f], lsl #2\n\t"
            "mov r4, #0\n\t"
            "usada8 %[o], %[o], r4, r4\n\t"
            "usada8 %[a], %[a], r4, r4\n\t"
            "add %[a], %[o], %[a], lsl #3\n\t"
            : [w] "+r"(rw), [x] "+r"(rx), [o] "+r"(ro), [t] "+r"(rt), [f] "+r"(rf), [a] "+r"(acc)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
        return acc + tail;
    }
}

/* Binary count of n = 8 nb + tail words (nb >= 1, tail 0..3 a compile-time constant at the call site): the
 * FIRST tail words seed the carry-save state, then nb 8-word blocks (DNNC_CSA8_LOOP_ASM), forced inline. */
static inline __attribute__((always_inline)) uint32_t dnnc_count_binary_seeded(const uint32_t *w, const uint32_t *x,
                                                                               int32_t nb, int32_t tail)
{
    uint32_t ones = 0, twos = 0;
    if (tail > 0) {
        const uint32_t d1 = w[0] ^ x[0];
        const uint32_t d2 = tail > 1 ? w[1] ^ x[1] : 0u;
        const uint32_t d3 = tail > 2 ? w[2] ^ x[2] : 0u;
        DNNC_CSA(twos, ones, d1, d2, d3);
        w += tail;
        x += tail;
    }
    {
        register const uint32_t *rw __asm__("r0") = w;
        register const uint32_t *rx __asm__("r1") = x;
        register uint32_t ro __asm__("r2") = ones;
        register uint32_t rt __asm__("r3") = twos;
        register uint32_t rf __asm__("r12") = 0;
        register uint32_t acc __asm__("lr") = (uint32_t)nb;
        __asm__ volatile(
            DNNC_CSA8_LOOP_ASM
            /* cnt = 8 sum(bytes of eights) + pc(ones) + 2 pc(twos) + 4 pc(fours) */
            DNNC_POP_BYTES_ASM("%[o]")
            DNNC_POP_BYTES_ASM("%[t]")
            DNNC_POP_BYTES_ASM("%[f]")
            "add %[o], %[o], %[t], lsl #1\n\t"
            "add %[o], %[o], %[f], lsl #2\n\t"
            "mov r4, #0\n\t"
            "usada8 %[o], %[o], r4, r4\n\t"
            "usada8 %[a], %[a], r4, r4\n\t"
            "add %[a], %[o], %[a], lsl #3\n\t"
            : [w] "+r"(rw), [x] "+r"(rx), [o] "+r"(ro), [t] "+r"(rt), [f] "+r"(rf), [a] "+r"(acc)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
        return acc;
    }
}

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

#endif /* DNNC_BITACT_V7EM_H */
