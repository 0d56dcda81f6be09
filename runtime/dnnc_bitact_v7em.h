/* dnnc runtime: Armv7E-M (Cortex-M4/M7) assembly kernels for packed dot products. Included by
 * dnnc_bitact.h when compiling for Thumb-2 with DSP (define DNNC_NO_ASM to use the portable C instead).
 * Conventions and the meaning of the counts: dnnc_bitact.h.
 *
 * LDM loads, a carry-save adder tree and one SWAR count of the tree's carry-out per block into per-byte
 * counters (summed with USADA8): binary 8 words per block (61 instructions), ternary 4 words per block (38
 * instructions). At most 31 blocks between byte sums (counters stay < 256). Any n: the last n % 4 words
 * get one SWAR count each (the all-outputs loops below need n a multiple of 8 / 4: padded rows).
 *
 * Registers: operands are pinned to r0-r3, r12 and lr (explicit register variables); r4-r6 and r8-r11 are
 * declared clobbered. r7 never is: it is the Thumb frame pointer at -O0, with -fno-omit-frame-pointer and by
 * default with clang, where a clobber of it does not compile (and no macro tells whether it is one). The
 * bodies need eight scratch registers, so each asm saves r7 on the stack and restores it before it ends: in
 * the same PUSH/POP as the loop's end pointer or per-output state (binary counts, all-outputs loops), or one
 * PUSH and POP of its own (ternary counts). The compiler keeps r7 for itself around the asm, which more than
 * pays for that (fewer instructions on mnist-cnn, docs/targets/cortex-m4.md). Each block body is written once
 * below and parameterised by the registers that hold the carry-save state. */
#ifndef DNNC_BITACT_V7EM_H
#define DNNC_BITACT_V7EM_H

#include <arm_acle.h>
#include <stdint.h>

#include "dnnc_popcount.h"

/* Per-byte popcounts of register f in place (r4 scratch). */
#define DNNC_ASM_POPBYTES(f)                                                                       \
    "lsr r4, " f ", #1\n\t"                                                                       \
    "and r4, r4, #0x55555555\n\t"                                                                 \
    "sub " f ", " f ", r4\n\t"                                                                    \
    "and r4, " f ", #0x33333333\n\t"                                                              \
    "lsr " f ", " f ", #2\n\t"                                                                    \
    "and " f ", " f ", #0x33333333\n\t"                                                           \
    "add " f ", " f ", r4\n\t"                                                                    \
    "add " f ", " f ", " f ", lsr #4\n\t"                                                         \
    "and " f ", " f ", #0x0F0F0F0F\n\t"

/* Carry-save adder, as DNNC_CSA: lo + b + c == 2 hi + lo' in every bit (u, t scratch). */
#define DNNC_ASM_CSA(hi, lo, b, c, u, t)                                                           \
    "eor " u ", " lo ", " b "\n\t"                                                                \
    "and " hi ", " lo ", " b "\n\t"                                                               \
    "and " t ", " u ", " c "\n\t"                                                                 \
    "orr " hi ", " hi ", " t "\n\t"                                                               \
    "eor " lo ", " u ", " c "\n\t"

/* One binary block: 8 words of w XOR x (LDM, %[w] and %[x] advance) into the carry-save state (ones o,
 * twos t, fours f); the SWAR count of the eights carry is added to the byte counters a. */
#define DNNC_ASM_BINARY8(o, t, f, a)                                                               \
    "ldmia %[x]!, {r8, r9, r10, r11}\n\t"                                                          \
    "ldmia %[w]!, {r4, r5, r6, r7}\n\t"                                                            \
    "eor r4, r4, r8\n\t"                                                                           \
    "eor r5, r5, r9\n\t"                                                                           \
    "eor r6, r6, r10\n\t"                                                                          \
    "eor r7, r7, r11\n\t"                                                                          \
    DNNC_ASM_CSA("r9", o, "r4", "r5", "r8", "r10")                                                 \
    DNNC_ASM_CSA("r10", o, "r6", "r7", "r8", "r11")                                                \
    DNNC_ASM_CSA("r11", t, "r9", "r10", "r8", "r4")                                                \
    "ldmia %[x]!, {r4, r5, r6, r7}\n\t"                                                            \
    "ldmia %[w]!, {r8, r9, r10}\n\t"                                                               \
    "eor r4, r4, r8\n\t"                                                                           \
    "eor r5, r5, r9\n\t"                                                                           \
    "eor r6, r6, r10\n\t"                                                                          \
    "ldr r8, [%[w]], #4\n\t"                                                                       \
    "eor r7, r7, r8\n\t"                                                                           \
    DNNC_ASM_CSA("r9", o, "r4", "r5", "r8", "r10")                                                 \
    DNNC_ASM_CSA("r10", o, "r6", "r7", "r8", "r4")                                                 \
    DNNC_ASM_CSA("r4", t, "r9", "r10", "r8", "r5")                                                 \
    DNNC_ASM_CSA("r5", f, "r11", "r4", "r8", "r6")                                                 \
    DNNC_ASM_POPBYTES("r5")                                                                        \
    "add " a ", " a ", r5\n\t"

/* One ternary block: 4 words, d = (s XOR x) AND m (weight planes s, m interleaved), into the carry-save
 * state (ones o, twos t); the SWAR count of the fours carry is added to the byte counters a. */
#define DNNC_ASM_TERNARY4(o, t, a)                                                                 \
    "ldmia %[x]!, {r8, r9, r10, r11}\n\t"                                                          \
    "ldmia %[w]!, {r4, r5, r6, r7}\n\t"                                                            \
    "eor r4, r4, r8\n\t"                                                                           \
    "and r4, r4, r5\n\t"                                                                           \
    "eor r6, r6, r9\n\t"                                                                           \
    "and r6, r6, r7\n\t"                                                                           \
    "ldmia %[w]!, {r5, r7, r8, r9}\n\t"                                                            \
    "eor r5, r5, r10\n\t"                                                                          \
    "and r5, r5, r7\n\t"                                                                           \
    "eor r8, r8, r11\n\t"                                                                          \
    "and r8, r8, r9\n\t"                                                                           \
    DNNC_ASM_CSA("r9", o, "r4", "r6", "r7", "r10")                                                 \
    DNNC_ASM_CSA("r10", o, "r5", "r8", "r7", "r11")                                                \
    DNNC_ASM_CSA("r11", t, "r9", "r10", "r7", "r4")                                                \
    DNNC_ASM_POPBYTES("r11")                                                                       \
    "add " a ", " a ", r11\n\t"

/* The tail of a quaternary/quinary block: the fours carries f0, f1, f2 -> the fours level takes f0 and f1;
 * the eights carry g (r10) and f2 are counted per byte into a, in units of 4: both SWAR-counted to 4-bit
 * fields, then 2 g + f2 (<= 12 a field) to bytes (<= 24) in one step (r4, r6 scratch). */
#define DNNC_ASM_HS12_TAIL(f, a, f0, f1, f2)                                                       \
    DNNC_ASM_CSA("r10", f, f0, f1, "r4", "r6")                                                     \
    "lsr r4, r10, #1\n\t"                                                                          \
    "and r4, r4, #0x55555555\n\t"                                                                  \
    "sub r10, r10, r4\n\t"                                                                         \
    "lsr r4, " f2 ", #1\n\t"                                                                       \
    "and r4, r4, #0x55555555\n\t"                                                                  \
    "sub " f2 ", " f2 ", r4\n\t"                                                                   \
    "and r4, r10, #0x33333333\n\t"                                                                 \
    "lsr r10, r10, #2\n\t"                                                                         \
    "and r10, r10, #0x33333333\n\t"                                                                \
    "add r10, r10, r4\n\t"                                                                         \
    "and r4, " f2 ", #0x33333333\n\t"                                                              \
    "lsr " f2 ", " f2 ", #2\n\t"                                                                   \
    "and " f2 ", " f2 ", #0x33333333\n\t"                                                          \
    "add " f2 ", " f2 ", r4\n\t"                                                                   \
    "add " f2 ", " f2 ", r10, lsl #1\n\t"                                                          \
    "and r4, " f2 ", #0x0F0F0F0F\n\t"                                                              \
    "and " f2 ", " f2 ", #0xF0F0F0F0\n\t"                                                          \
    "add r4, r4, " f2 ", lsr #4\n\t"                                                               \
    "add " a ", " a ", r4\n\t"

/* One quaternary block: 4 words, d = s XOR x (weight 1) into the ones level, e = d AND b1 (weight 2) into the
 * twos level of the carry-save state (o, t, f); counts into a as DNNC_ASM_HS12_TAIL. */
#define DNNC_ASM_QUATER4(o, t, f, a)                                                               \
    "ldmia %[x]!, {r8, r9, r10, r11}\n\t"                                                          \
    "ldmia %[w]!, {r4, r5, r6, r7}\n\t"                                                            \
    "eor r4, r4, r8\n\t"                                                                           \
    "and r5, r5, r4\n\t"                                                                           \
    "eor r6, r6, r9\n\t"                                                                           \
    "and r7, r7, r6\n\t"                                                                           \
    DNNC_ASM_CSA("r8", o, "r4", "r6", "r9", "r4")                                                  \
    DNNC_ASM_CSA("r9", t, "r5", "r7", "r4", "r6")                                                  \
    "ldmia %[w]!, {r4, r5, r6, r7}\n\t"                                                            \
    "eor r4, r4, r10\n\t"                                                                          \
    "and r5, r5, r4\n\t"                                                                           \
    "eor r6, r6, r11\n\t"                                                                          \
    "and r7, r7, r6\n\t"                                                                           \
    DNNC_ASM_CSA("r10", o, "r4", "r6", "r11", "r4")                                                \
    DNNC_ASM_CSA("r11", t, "r8", "r10", "r4", "r6")                                                \
    DNNC_ASM_CSA("r8", t, "r5", "r7", "r4", "r6")                                                  \
    DNNC_ASM_HS12_TAIL(f, a, "r11", "r9", "r8")

/* One quinary block: 4 words, d = s XOR x, d AND b0 (weight 1) into the ones level, d AND b1 (weight 2) into
 * the twos level. */
#define DNNC_ASM_QUINARY4(o, t, f, a)                                                              \
    "ldmia %[x]!, {r10, r11}\n\t"                                                                  \
    "ldmia %[w]!, {r4, r5, r6, r7, r8, r9}\n\t"                                                    \
    "eor r4, r4, r10\n\t"                                                                          \
    "and r5, r5, r4\n\t"                                                                           \
    "and r6, r6, r4\n\t"                                                                           \
    "eor r7, r7, r11\n\t"                                                                          \
    "and r8, r8, r7\n\t"                                                                           \
    "and r9, r9, r7\n\t"                                                                           \
    DNNC_ASM_CSA("r10", o, "r5", "r8", "r11", "r4")                                                \
    DNNC_ASM_CSA("r11", t, "r6", "r9", "r4", "r5")                                                 \
    "ldmia %[x]!, {r8, r9}\n\t"                                                                    \
    "ldmia %[w]!, {r4, r5, r6}\n\t"                                                                \
    "eor r4, r4, r8\n\t"                                                                           \
    "and r5, r5, r4\n\t"                                                                           \
    "and r6, r6, r4\n\t"                                                                           \
    "ldmia %[w]!, {r4, r7, r8}\n\t"                                                                \
    "eor r4, r4, r9\n\t"                                                                           \
    "and r7, r7, r4\n\t"                                                                           \
    "and r8, r8, r4\n\t"                                                                           \
    DNNC_ASM_CSA("r9", o, "r5", "r7", "r4", "r5")                                                  \
    DNNC_ASM_CSA("r5", t, "r10", "r9", "r4", "r7")                                                 \
    DNNC_ASM_CSA("r9", t, "r6", "r8", "r4", "r7")                                                  \
    DNNC_ASM_HS12_TAIL(f, a, "r5", "r11", "r9")

/* Binary blocks until %[x] reaches the end pointer at [sp, #end] (a string: "" or ", #4"). */
#define DNNC_ASM_BINARY8_LOOP(o, t, f, a, end)                                                     \
    "1:\n\t"                                                                                       \
    DNNC_ASM_BINARY8(o, t, f, a)                                                                   \
    "ldr r4, [sp" end "]\n\t"                                                                      \
    "cmp %[x], r4\n\t"                                                                             \
    "bne 1b\n\t"

/* Ternary blocks, register n counting them down (n >= 1). */
#define DNNC_ASM_TERNARY4_LOOP(o, t, a, n)                                                         \
    "1:\n\t"                                                                                       \
    DNNC_ASM_TERNARY4(o, t, a)                                                                     \
    "subs " n ", " n ", #1\n\t"                                                                    \
    "bne 1b\n\t"

/* a = o + (a's byte sum << shift) with o's byte sum (r4 scratch). */
#define DNNC_ASM_BYTESUMS(o, a, shift)                                                             \
    "mov r4, #0\n\t"                                                                               \
    "usada8 " o ", " o ", r4, r4\n\t"                                                              \
    "usada8 " a ", " a ", r4, r4\n\t"                                                              \
    "add " a ", " o ", " a ", lsl #" shift "\n\t"

/* a = cnt = 8 sum(bytes of a) + pc(o) + 2 pc(t) + 4 pc(f) (binary state after the blocks; o, t, f clobbered). */
#define DNNC_ASM_SUM_BINARY(o, t, f, a)                                                            \
    DNNC_ASM_POPBYTES(o)                                                                           \
    DNNC_ASM_POPBYTES(t)                                                                           \
    DNNC_ASM_POPBYTES(f)                                                                           \
    "add " o ", " o ", " t ", lsl #1\n\t"                                                          \
    "add " o ", " o ", " f ", lsl #2\n\t"                                                          \
    DNNC_ASM_BYTESUMS(o, a, "3")

/* a = cnt = 4 sum(bytes of a) + pc(o) + 2 pc(t) (ternary state after the blocks; o, t clobbered). */
#define DNNC_ASM_SUM_TERNARY(o, t, a)                                                              \
    DNNC_ASM_POPBYTES(o)                                                                           \
    DNNC_ASM_POPBYTES(t)                                                                           \
    "add " o ", " o ", " t ", lsl #1\n\t"                                                          \
    DNNC_ASM_BYTESUMS(o, a, "2")

/* After a per-output count in a (all-outputs loops): acc[o] = tot[o] - 2 cnt, the tot and acc pointers at
 * [sp, #8] and [sp, #16] advance; the outputs left at [sp, #20] count down, looping to 2b. */
#define DNNC_ASM_STORE_NEXT(a)                                                                     \
    "ldr r7, [sp, #8]\n\t"                                                                         \
    "ldr r6, [r7], #4\n\t"                                                                         \
    "str r7, [sp, #8]\n\t"                                                                         \
    "sub r6, r6, " a ", lsl #1\n\t"                                                                \
    "ldr r7, [sp, #16]\n\t"                                                                        \
    "str r6, [r7], #4\n\t"                                                                         \
    "str r7, [sp, #16]\n\t"                                                                        \
    "ldr r7, [sp, #20]\n\t"                                                                        \
    "subs r7, r7, #1\n\t"                                                                          \
    "str r7, [sp, #20]\n\t"                                                                        \
    "bne 2b\n\t"

#define DNNC_ASM_CLOBBERS "r4", "r5", "r6", "r8", "r9", "r10", "r11", "cc", "memory"

/* Binary: 8 words per iteration through a three-level carry-save tree (ones, twos, fours) and one SWAR
 * count of the carry-out ("eights") into per-byte counters: 61 instructions per 8 words. A remaining block of
 * 4 words goes through the same tree in C. */
static inline uint32_t dnnc_count_binary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t ones = 0, twos = 0, fours = 0, eights = 0;
    int32_t left = n >> 3;
    while (left > 0) {
        const int32_t nb = left < 31 ? left : 31;
        register const uint32_t *rw __asm__("r0") = w;
        register const uint32_t *rx __asm__("r1") = x;
        register uint32_t ro __asm__("r2") = ones;
        register uint32_t rt __asm__("r3") = twos;
        register uint32_t rf __asm__("r12") = fours;
        register uint32_t acc __asm__("lr") = (uint32_t)nb;
        left -= nb;
        __asm__ volatile(
            "add r4, %[x], %[a], lsl #5\n\t"
            "push {r4, r7}\n\t" /* the end pointer at [sp], r7 saved */
            "mov %[a], #0\n\t"
            DNNC_ASM_BINARY8_LOOP("%[o]", "%[t]", "%[f]", "%[a]", "")
            "pop {r4, r7}\n\t"
            : [w] "+r"(rw), [x] "+r"(rx), [o] "+r"(ro), [t] "+r"(rt), [f] "+r"(rf), [a] "+r"(acc)
            :
            : DNNC_ASM_CLOBBERS);
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
        register const uint32_t *rw __asm__("r0") = w;
        register const uint32_t *rx __asm__("r1") = x;
        register int32_t nb __asm__("r2") = left < 31 ? left : 31;
        register uint32_t ro __asm__("r3") = ones;
        register uint32_t rt __asm__("r12") = twos;
        register uint32_t acc __asm__("lr") = 0;
        left -= nb;
        __asm__ volatile(
            "push {r7}\n\t"
            DNNC_ASM_TERNARY4_LOOP("%[o]", "%[t]", "%[a]", "%[n]")
            "pop {r7}\n\t"
            : [w] "+r"(rw), [x] "+r"(rx), [n] "+r"(nb), [o] "+r"(ro), [t] "+r"(rt), [a] "+r"(acc)
            :
            : DNNC_ASM_CLOBBERS);
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

/* Quaternary and quinary counts: `left` 4-word blocks (DNNC_ASM_QUATER4 / DNNC_ASM_QUINARY4: 60 / 64
 * instructions, 3 of loop per two blocks) from the carry-save state (ones, twos, fours), at most 10 blocks between byte
 * sums (bytes <= 24 a block, in units of 4), added to total (units of 4); w and x advance. */
#define DNNC_HS12_ASM_LOOP(BLOCK, w, x, left, ones, twos, fours, total)                            \
    while ((left) > 0) {                                                                           \
        register const uint32_t *rw_ __asm__("r1") = (w);                                          \
        register const uint32_t *rx_ __asm__("r0") = (x);                                          \
        register uint32_t ro_ __asm__("r2") = (ones);                                              \
        register uint32_t rt_ __asm__("r3") = (twos);                                              \
        register uint32_t rf_ __asm__("r12") = (fours);                                            \
        register uint32_t acc_ __asm__("lr") = (uint32_t)((left) < 10 ? (left) : 10);              \
        (left) -= (int32_t)acc_;                                                                   \
        __asm__ volatile(                                                                          \
            "tst %[a], #1\n\t"                                                                     \
            "add r4, %[x], %[a], lsl #4\n\t"                                                       \
            "push {r4, r7}\n\t" /* the end pointer at [sp], r7 saved */                            \
            "mov %[a], #0\n\t"                                                                     \
            "beq 1f\n\t" /* an even count */                                                       \
            BLOCK("%[o]", "%[t]", "%[f]", "%[a]")                                                  \
            "ldr r4, [sp]\n\t"                                                                     \
            "cmp %[x], r4\n\t"                                                                     \
            "beq 2f\n\t"                                                                           \
            "1:\n\t" /* two blocks a step: half the loop instructions */                          \
            BLOCK("%[o]", "%[t]", "%[f]", "%[a]")                                                  \
            BLOCK("%[o]", "%[t]", "%[f]", "%[a]")                                                  \
            "ldr r4, [sp]\n\t"                                                                     \
            "cmp %[x], r4\n\t"                                                                     \
            "bne 1b\n\t"                                                                           \
            "2:\n\t"                                                                               \
            "pop {r4, r7}\n\t"                                                                     \
            : [w] "+r"(rw_), [x] "+r"(rx_), [o] "+r"(ro_), [t] "+r"(rt_), [f] "+r"(rf_), [a] "+r"(acc_) \
            :                                                                                      \
            : DNNC_ASM_CLOBBERS);                                                                  \
        (w) = rw_;                                                                                 \
        (x) = rx_;                                                                                 \
        (ones) = ro_;                                                                              \
        (twos) = rt_;                                                                              \
        (fours) = rf_;                                                                             \
        (total) += dnnc_bytesum(acc_);                                                             \
    }

/* Weighted count (weight-1 word D, weight-2 word E) of n = 4 nb + tail words of a quaternary (planes 2: D = s
 * XOR x, E = D AND b1) or quinary row (planes 3: d = s XOR x, D = d AND b0, E = d AND b1), forced inline:
 * the FIRST tail words (0..2, a compile-time constant at the call site) seed the carry-save state, then the
 * blocks. */
static inline __attribute__((always_inline)) uint32_t dnnc_count_hs12_seeded(const uint32_t *w, const uint32_t *x,
                                                                             int32_t nb, int32_t tail,
                                                                             int32_t planes)
{
    uint32_t ones = 0, twos = 0, fours = 0, total = 0;
    int32_t j;
    for (j = 0; j < tail; j++) { /* ones + D, then twos + E + the carry (one CSA): fours takes its carry */
        const uint32_t d = w[planes * j] ^ x[j];
        const uint32_t dd = planes == 2 ? d : d & w[3 * j + 1], e = d & w[planes * j + planes - 1];
        const uint32_t c = ones & dd;
        ones ^= dd;
        DNNC_CSA(fours, twos, twos, e, c); /* fours is 0 before the second of at most 2 seed words */
    }
    w += planes * tail;
    x += tail;
    if (planes == 2)
        DNNC_HS12_ASM_LOOP(DNNC_ASM_QUATER4, w, x, nb, ones, twos, fours, total)
    else
        DNNC_HS12_ASM_LOOP(DNNC_ASM_QUINARY4, w, x, nb, ones, twos, fours, total)
    return 4u * total + dnnc_pc_124(ones, twos, fours);
}

/* Any n: the first n % 4 words (at most 3) counted one by one, then the blocks. */
static inline uint32_t dnnc_count_hs12(const uint32_t *w, const uint32_t *x, int32_t n, int32_t planes)
{
    uint32_t r = 0;
    int32_t j;
    for (j = 0; j < (n & 3); j++) {
        const uint32_t d = w[planes * j] ^ x[j];
        r += dnnc_popcount32(planes == 2 ? d : d & w[3 * j + 1]) + 2u * dnnc_popcount32(d & w[planes * j + planes - 1]);
    }
    return r + dnnc_count_hs12_seeded(w + planes * (n & 3), x + (n & 3), n >> 2, 0, planes);
}

static inline uint32_t dnnc_count_quater(const uint32_t *w, const uint32_t *x, int32_t n)
{
    return dnnc_count_hs12(w, x, n, 2);
}

static inline uint32_t dnnc_count_quinary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    return dnnc_count_hs12(w, x, n, 3);
}

/* Ternary count of nb >= 1 4-word blocks from the carry-save state (ones, twos), final counts included, in
 * one forced-inline assembly block: a caller's loop over rows pays no call, no register save and no second
 * byte-sum loop. */
static inline __attribute__((always_inline)) uint32_t dnnc_ternary4_sum(const uint32_t *w, const uint32_t *x,
                                                                        int32_t nb, uint32_t ones, uint32_t twos)
{
    register const uint32_t *rw __asm__("r0") = w;
    register const uint32_t *rx __asm__("r1") = x;
    register int32_t rn __asm__("r2") = nb;
    register uint32_t ro __asm__("r3") = ones;
    register uint32_t rt __asm__("r12") = twos;
    register uint32_t acc __asm__("lr") = 0;
    __asm__ volatile(
        "push {r7}\n\t"
        DNNC_ASM_TERNARY4_LOOP("%[o]", "%[t]", "%[a]", "%[n]")
        "pop {r7}\n\t"
        DNNC_ASM_SUM_TERNARY("%[o]", "%[t]", "%[a]")
        : [w] "+r"(rw), [x] "+r"(rx), [n] "+r"(rn), [o] "+r"(ro), [t] "+r"(rt), [a] "+r"(acc)
        :
        : DNNC_ASM_CLOBBERS);
    return acc;
}

/* Binary count of nb >= 1 8-word blocks from the carry-save state (ones, twos), final counts included, in
 * one forced-inline assembly block (see dnnc_ternary4_sum). */
static inline __attribute__((always_inline)) uint32_t dnnc_binary8_sum(const uint32_t *w, const uint32_t *x,
                                                                       int32_t nb, uint32_t ones, uint32_t twos)
{
    register const uint32_t *rw __asm__("r0") = w;
    register const uint32_t *rx __asm__("r1") = x;
    register uint32_t ro __asm__("r2") = ones;
    register uint32_t rt __asm__("r3") = twos;
    register uint32_t rf __asm__("r12") = 0;
    register uint32_t acc __asm__("lr") = (uint32_t)nb;
    __asm__ volatile(
        "add r4, %[x], %[a], lsl #5\n\t"
        "push {r4, r7}\n\t" /* the end pointer at [sp], r7 saved */
        "mov %[a], #0\n\t"
        DNNC_ASM_BINARY8_LOOP("%[o]", "%[t]", "%[f]", "%[a]", "")
        "pop {r4, r7}\n\t"
        DNNC_ASM_SUM_BINARY("%[o]", "%[t]", "%[f]", "%[a]")
        : [w] "+r"(rw), [x] "+r"(rx), [o] "+r"(ro), [t] "+r"(rt), [f] "+r"(rf), [a] "+r"(acc)
        :
        : DNNC_ASM_CLOBBERS);
    return acc;
}

/* Ternary count of one short row (n <= 127 words, any length): the last n % 4 words enter as the initial
 * carry-save state, then dnnc_ternary4_sum. */
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
    return dnnc_ternary4_sum(w, x, n >> 2, ones, twos);
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
    return dnnc_ternary4_sum(w, x, nb, ones, twos);
}

/* Binary count of one short row (n <= 255 words, any length): up to 3 of the last n % 8 words seed the
 * carry-save state, the rest get one SWAR count each, then dnnc_binary8_sum. */
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
    if (n & 7) {
        const uint32_t d1 = w[j] ^ x[j];
        const uint32_t d2 = (n & 7) > 1 ? w[j + 1] ^ x[j + 1] : 0u;
        const uint32_t d3 = (n & 7) > 2 ? w[j + 2] ^ x[j + 2] : 0u;
        DNNC_CSA(twos, ones, d1, d2, d3);
        for (j += 3; j < n; j++) tail += dnnc_popcount32(w[j] ^ x[j]);
    }
    return dnnc_binary8_sum(w, x, n >> 3, ones, twos) + tail;
}

/* Binary count of n = 8 nb + tail words (nb >= 1, tail 0..3 a compile-time constant at the call site): the
 * FIRST tail words seed the carry-save state, then nb 8-word blocks, forced inline. */
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
    return dnnc_binary8_sum(w, x, nb, ones, twos);
}

/* All outputs of a binary layer in one assembly loop (rows contiguous, n a multiple of 8, n <= 248): the
 * per-output state lives on the stack (one PUSH: x base, end, tot pointer, saved r7, acc pointer, outputs
 * left), so nothing spills between outputs. In the loop o, t, f, a hold ones, twos, fours, eights. */
static inline void dnnc_dense_binary_asm(const uint32_t *w, const int32_t *tot, const uint32_t *x, int32_t n,
                                         int32_t nout, int32_t *acc)
{
    register const uint32_t *rw __asm__("r0") = w;
    register const uint32_t *rx __asm__("r1") = x;
    register int32_t nb __asm__("r2") = n >> 3;
    register const int32_t *rtot __asm__("r3") = tot;
    register int32_t *racc __asm__("r12") = acc;
    register int32_t rn __asm__("lr") = nout;
    __asm__ volatile(
        "add %[o], %[x], %[o], lsl #5\n\t" /* end of x */
        "push {%[x], %[o], %[t], r7, %[f], %[a]}\n\t" /* ascending: r1, r2, r3, r7, r12, lr */
        "2:\n\t"
        "ldr %[x], [sp]\n\t"
        "mov %[o], #0\n\t"
        "mov %[t], #0\n\t"
        "mov %[f], #0\n\t"
        "mov %[a], #0\n\t"
        DNNC_ASM_BINARY8_LOOP("%[o]", "%[t]", "%[f]", "%[a]", ", #4")
        DNNC_ASM_SUM_BINARY("%[o]", "%[t]", "%[f]", "%[a]")
        DNNC_ASM_STORE_NEXT("%[a]")
        "pop {%[x], %[o], %[t], r7, %[f], %[a]}\n\t"
        : [w] "+r"(rw), [x] "+r"(rx), [o] "+r"(nb), [t] "+r"(rtot), [f] "+r"(racc), [a] "+r"(rn)
        :
        : DNNC_ASM_CLOBBERS);
}

/* All outputs of a ternary layer in one assembly loop (n a multiple of 4, n <= 124); per-output state on the
 * stack as in dnnc_dense_binary_asm (the block count in place of the end). */
static inline void dnnc_dense_ternary_asm(const uint32_t *w, const int32_t *tot, const uint32_t *x, int32_t n,
                                          int32_t nout, int32_t *acc)
{
    register const uint32_t *rw __asm__("r0") = w;
    register const uint32_t *rx __asm__("r1") = x;
    register int32_t nb __asm__("r2") = n >> 2;
    register const int32_t *rtot __asm__("r3") = tot;
    register int32_t *racc __asm__("r12") = acc;
    register int32_t rn __asm__("lr") = nout;
    __asm__ volatile(
        "push {%[x], %[n], %[o], r7, %[t], %[a]}\n\t" /* ascending: r1, r2, r3, r7, r12, lr */
        "2:\n\t"
        "ldr %[x], [sp]\n\t"
        "ldr %[n], [sp, #4]\n\t"
        "mov %[o], #0\n\t"
        "mov %[t], #0\n\t"
        "mov %[a], #0\n\t"
        DNNC_ASM_TERNARY4_LOOP("%[o]", "%[t]", "%[a]", "%[n]")
        DNNC_ASM_SUM_TERNARY("%[o]", "%[t]", "%[a]")
        DNNC_ASM_STORE_NEXT("%[a]")
        "pop {%[x], %[n], %[o], r7, %[t], %[a]}\n\t"
        : [w] "+r"(rw), [x] "+r"(rx), [n] "+r"(nb), [o] "+r"(rtot), [t] "+r"(racc), [a] "+r"(rn)
        :
        : DNNC_ASM_CLOBBERS);
}

#endif /* DNNC_BITACT_V7EM_H */
