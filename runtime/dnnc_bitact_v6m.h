/* dnnc runtime: Armv6-M (Cortex-M0/M0+, Thumb-1) assembly kernels for the packed bit counts. Included by
 * dnnc_bitact.h when compiling for Thumb-1 (define DNNC_NO_ASM to use the portable C instead). Conventions and
 * the meaning of the counts: dnnc_bitact.h.
 *
 * The portable C's Harley-Seal tree, written for Thumb-1's 2-operand ALU and 8 low registers: 8 words per
 * block into the carry-save state (ones, twos in low registers, fours in the stack frame) and one SWAR count of
 * the eights carry into per-byte counters. Each carry-save adder is 5 two-operand instructions: with
 * u = lo ^ b, the majority is (u & c) | (lo & ~u) and u & c = u & ~(u ^ c), so
 *     eors b, lo; bics lo, b; eors c, b; bics b, c; orrs b, lo      (sum in c, carry in b, lo free)
 * and the state moves between registers from step to step. Per 8-word block with the loop: binary 79
 * instructions, ternary 94 (gcc -O2 compiles the portable C's ternary block to 135). fours, the byte
 * counters, the SWAR masks and the end pointer live in the asm's own stack frame, with a slot where a block
 * parks one carry: no high register is clobbered, so the compiler keeps its loop state in r8-r12 around the
 * asm (with them in r8-r12 and lr the block was 3 instructions shorter, but a pooled conv spilled around every
 * count: more instructions in all, docs/targets/cortex-m0plus.md). r7 (the Thumb frame pointer at -O0, with
 * -fno-omit-frame-pointer and by default with clang) is never declared clobbered: the asm pushes and pops it.
 * At most 255 words per asm: a bit position takes at most 31 eights carries, a byte counter 248. */
#ifndef DNNC_BITACT_V6M_H
#define DNNC_BITACT_V6M_H

#include <stdint.h>

#include "dnnc_popcount.h"

/* Carry-save adder: lo + b + c == 2 b' + c' (b' the carry, c' the sum; lo is free afterwards). */
#define DNNC_T1_CSA(lo, b, c)                                                                      \
    "eors " b ", " lo "\n\t"                                                                      \
    "bics " lo ", " b "\n\t"                                                                      \
    "eors " c ", " b "\n\t"                                                                       \
    "bics " b ", " c "\n\t"                                                                       \
    "orrs " b ", " lo "\n\t"

/* Two disagreement words into registers a, b (t scratch; 3 registers): binary s ^ x, ternary (s ^ x) & m. */
#define DNNC_T1_D2_BINARY(a, b, t)                                                                 \
    "ldmia r1!, {" a ", " b "}\n\t"                                                               \
    "ldmia r0!, {" t "}\n\t"                                                                      \
    "eors " a ", " t "\n\t"                                                                       \
    "ldmia r0!, {" t "}\n\t"                                                                      \
    "eors " b ", " t "\n\t"
#define DNNC_T1_D2_TERNARY(a, b, t)                                                                \
    "ldmia r1!, {" a ", " b "}\n\t"                                                               \
    "ldmia r0!, {" t "}\n\t"                                                                      \
    "eors " a ", " t "\n\t"                                                                       \
    "ldmia r0!, {" t "}\n\t"                                                                      \
    "ands " a ", " t "\n\t"                                                                       \
    "ldmia r0!, {" t "}\n\t"                                                                      \
    "eors " b ", " t "\n\t"                                                                       \
    "ldmia r0!, {" t "}\n\t"                                                                      \
    "ands " b ", " t "\n\t"
/* The same with a fourth scratch register u (one LDM for a word's planes). */
#define DNNC_T1_D2_BINARY4(a, b, t, u)                                                             \
    "ldmia r1!, {" a ", " b "}\n\t"                                                               \
    "ldmia r0!, {" t ", " u "}\n\t"                                                               \
    "eors " a ", " t "\n\t"                                                                       \
    "eors " b ", " u "\n\t"
#define DNNC_T1_D2_TERNARY4(a, b, t, u)                                                            \
    "ldmia r1!, {" a ", " b "}\n\t"                                                               \
    "ldmia r0!, {" t ", " u "}\n\t"                                                               \
    "eors " a ", " t "\n\t"                                                                       \
    "ands " a ", " u "\n\t"                                                                       \
    "ldmia r0!, {" t ", " u "}\n\t"                                                               \
    "eors " b ", " t "\n\t"                                                                       \
    "ands " b ", " u "\n\t"

/* The planes of wider words, with LDR offsets where one scratch register is free: quaternary's sign plane alone
 * (words (s, b1): D = s ^ x), quinary's sign with b0 or with b1 (words (s, b0, b1): D = (s ^ x) & b). */
#define DNNC_T1_D2_SIGN2(a, b, t)                                                                  \
    "ldmia r1!, {" a ", " b "}\n\t"                                                               \
    "ldr " t ", [r0]\n\t"                                                                         \
    "eors " a ", " t "\n\t"                                                                       \
    "ldr " t ", [r0, #8]\n\t"                                                                     \
    "eors " b ", " t "\n\t"                                                                       \
    "adds r0, #16\n\t"
#define DNNC_T1_D2_SIGN2_4(a, b, t, u)                                                             \
    "ldmia r1!, {" a ", " b "}\n\t"                                                               \
    "ldmia r0!, {" t ", " u "}\n\t"                                                               \
    "eors " a ", " t "\n\t"                                                                       \
    "ldmia r0!, {" t ", " u "}\n\t"                                                               \
    "eors " b ", " t "\n\t"
#define DNNC_T1_D2_QUINARY(a, b, t, m0, m1)                                                        \
    "ldmia r1!, {" a ", " b "}\n\t"                                                               \
    "ldr " t ", [r0]\n\t"                                                                         \
    "eors " a ", " t "\n\t"                                                                       \
    "ldr " t ", [r0, #" m0 "]\n\t"                                                                \
    "ands " a ", " t "\n\t"                                                                       \
    "ldr " t ", [r0, #12]\n\t"                                                                    \
    "eors " b ", " t "\n\t"                                                                       \
    "ldr " t ", [r0, #" m1 "]\n\t"                                                                \
    "ands " b ", " t "\n\t"                                                                       \
    "adds r0, #24\n\t"
#define DNNC_T1_D2_QB0(a, b, t) DNNC_T1_D2_QUINARY(a, b, t, "4", "16")
#define DNNC_T1_D2_QB1(a, b, t) DNNC_T1_D2_QUINARY(a, b, t, "8", "20")
#define DNNC_T1_D2_QB0_4(a, b, t, u) DNNC_T1_D2_QB0(a, b, t)
#define DNNC_T1_D2_QB1_4(a, b, t, u) DNNC_T1_D2_QB1(a, b, t)

/* One 8-word block (r0 = w, r1 = x advance): ones r2 and twos r3 in and out; [sp] the park slot, [sp, #4..12]
 * the masks, [sp, #16] fours, [sp, #20] the byte counters.
 * Register use after each step in the comments (o ones, t twos, c/f carries). */
#define DNNC_T1_BLOCK(D2, D4)                                                                      \
    D4("r4", "r5", "r6", "r7")                                                                     \
    DNNC_T1_CSA("r2", "r4", "r5")          /* o r5, c0 r4 */                                       \
    D2("r2", "r6", "r7")                                                                           \
    DNNC_T1_CSA("r5", "r2", "r6")          /* o r6, c1 r2 */                                       \
    DNNC_T1_CSA("r3", "r4", "r2")          /* t r2, f0 r4 */                                       \
    D2("r3", "r5", "r7")                                                                           \
    DNNC_T1_CSA("r6", "r3", "r5")          /* o r5, c2 r3 */                                       \
    "str r4, [sp]\n\t"                     /* park f0 */                                           \
    D2("r4", "r6", "r7")                                                                           \
    DNNC_T1_CSA("r5", "r4", "r6")          /* o r6, c3 r4 */                                       \
    DNNC_T1_CSA("r2", "r3", "r4")          /* t r4, f1 r3 */                                       \
    "ldr r5, [sp]\n\t"                                                                             \
    "ldr r7, [sp, #16]\n\t"                                                                        \
    DNNC_T1_CSA("r7", "r5", "r3")          /* fours r3, eights carry r5 */                        \
    "str r3, [sp, #16]\n\t"                                                                        \
    "lsrs r2, r5, #1\n\t"                  /* per-byte popcount of r5, to the counters */              \
    "ldr r7, [sp, #4]\n\t"                                                                         \
    "ands r2, r7\n\t"                                                                              \
    "subs r5, r5, r2\n\t"                                                                          \
    "lsrs r2, r5, #2\n\t"                                                                          \
    "ldr r7, [sp, #8]\n\t"                                                                         \
    "ands r2, r7\n\t"                                                                              \
    "ands r5, r7\n\t"                                                                              \
    "adds r5, r5, r2\n\t"                                                                          \
    "lsrs r2, r5, #4\n\t"                                                                          \
    "adds r5, r5, r2\n\t"                                                                          \
    "ldr r7, [sp, #12]\n\t"                                                                        \
    "ands r5, r7\n\t"                                                                              \
    "ldr r7, [sp, #20]\n\t"                                                                        \
    "adds r7, r7, r5\n\t"                                                                          \
    "str r7, [sp, #20]\n\t"                                                                        \
    "movs r2, r6\n\t"                                                                              \
    "movs r3, r4\n\t"

/* Per-byte popcount of register x in place (t scratch; masks 0x55555555 m1, 0x33333333 m2, 0x0F0F0F0F m4). */
#define DNNC_T1_POPBYTES(x, t, m1, m2, m4)                                                         \
    "lsrs " t ", " x ", #1\n\t"                                                                   \
    "ands " t ", " m1 "\n\t"                                                                      \
    "subs " x ", " x ", " t "\n\t"                                                                \
    "lsrs " t ", " x ", #2\n\t"                                                                   \
    "ands " t ", " m2 "\n\t"                                                                      \
    "ands " x ", " m2 "\n\t"                                                                      \
    "adds " x ", " x ", " t "\n\t"                                                                \
    "lsrs " t ", " x ", #4\n\t"                                                                   \
    "adds " x ", " x ", " t "\n\t"                                                                \
    "ands " x ", " m4 "\n\t"

/* One 4-word block after the 8-word ones (when n % 8 >= 4): its fours carry f0 meets the fours state in a half
 * adder; the eights carry (fours & f0) is counted into the byte counters. */
#define DNNC_T1_HALF(D2, D4)                                                                       \
    D4("r4", "r5", "r6", "r7")                                                                     \
    DNNC_T1_CSA("r2", "r4", "r5")          /* o r5, c0 r4 */                                       \
    D2("r2", "r6", "r7")                                                                           \
    DNNC_T1_CSA("r5", "r2", "r6")          /* o r6, c1 r2 */                                       \
    DNNC_T1_CSA("r3", "r4", "r2")          /* t r2, f0 r4 */                                       \
    "ldr r7, [sp, #16]\n\t"                                                                        \
    "movs r5, r7\n\t"                                                                              \
    "ands r5, r4\n\t"                                                                              \
    "eors r7, r4\n\t"                                                                              \
    "str r7, [sp, #16]\n\t"                                                                        \
    "movs r3, r2\n\t"                                                                              \
    "movs r2, r6\n\t"                                                                              \
    "add r4, sp, #4\n\t"                                                                           \
    "ldmia r4, {r4, r6, r7}\n\t"                                                                   \
    DNNC_T1_POPBYTES("r5", "r1", "r4", "r6", "r7") /* r1 is free: x is not read again */           \
    "ldr r7, [sp, #20]\n\t"                                                                        \
    "adds r7, r7, r5\n\t"                                                                          \
    "str r7, [sp, #20]\n\t"

/* The count of nb <= 31 8-word blocks, then one 4-word block if `half`, from the state (ones, twos, 0), final
 * sums included: cnt = pc(ones) + 2 pc(twos) + 4 pc(fours) + 8 (sum of the byte counters). w and x advance. */
#define DNNC_T1_ROW(D2, D4)                                                                        \
    static const uint32_t masks[3] = {0x55555555u, 0x33333333u, 0x0F0F0F0Fu};                      \
    register const uint32_t *rw __asm__("r0") = *w;                                                \
    register const uint32_t *rx __asm__("r1") = *x;                                                \
    register uint32_t ro __asm__("r2") = ones;                                                     \
    register uint32_t rt __asm__("r3") = twos;                                                     \
    register uint32_t rn __asm__("r4") = (uint32_t)nb;                                             \
    register uint32_t rh __asm__("r5") = (uint32_t)half;                                           \
    register const uint32_t *rm __asm__("r6") = masks;                                             \
    *x += 8 * nb + 4 * half;                                                                       \
    __asm__ volatile(                                                                              \
        DNNC_T1_UNIFIED                                                                            \
        "push {r5, r7}\n\t"                                                                        \
        "lsls r7, r4, #5\n\t"                                                                      \
        "adds r7, r7, r1\n\t"                                                                      \
        "movs r4, #0\n\t"                                                                          \
        "movs r5, #0\n\t"                                                                          \
        "push {r4, r5, r7}\n\t" /* fours = 0, byte counters = 0, the end of the 8-word blocks */   \
        "ldmia r6!, {r4, r5, r7}\n\t"                                                              \
        "push {r4, r5, r7}\n\t" /* the masks */                                                    \
        "sub sp, #4\n\t" /* the park slot */                                                       \
        "ldr r4, [sp, #24]\n\t"                                                                    \
        "cmp r1, r4\n\t"                                                                           \
        "beq 2f\n\t"                                                                               \
        "1:\n\t"                                                                                   \
        DNNC_T1_BLOCK(D2, D4)                                                                      \
        "ldr r7, [sp, #24]\n\t"                                                                    \
        "cmp r1, r7\n\t"                                                                          \
        "bne 1b\n\t"                                                                               \
        "2:\n\t"                                                                                   \
        "ldr r4, [sp, #28]\n\t"                                                                    \
        "cmp r4, #0\n\t"                                                                           \
        "beq 3f\n\t"                                                                               \
        DNNC_T1_HALF(D2, D4)                                                                       \
        "3:\n\t"                                                                                   \
        "add r4, sp, #4\n\t"                                                                       \
        "ldmia r4, {r4, r5, r6}\n\t"                                                               \
        DNNC_T1_POPBYTES("r2", "r7", "r4", "r5", "r6")                                             \
        DNNC_T1_POPBYTES("r3", "r7", "r4", "r5", "r6")                                             \
        "lsls r3, r3, #1\n\t"                                                                      \
        "adds r2, r2, r3\n\t"                                                                      \
        "ldr r3, [sp, #16]\n\t"                                                                    \
        DNNC_T1_POPBYTES("r3", "r7", "r4", "r5", "r6")                                             \
        "lsls r3, r3, #2\n\t"                                                                      \
        "adds r2, r2, r3\n\t" /* bytes <= 56, their sum <= 224: one multiply */                   \
        "lsrs r7, r6, #3\n\t"                                                                      \
        "ands r7, r6\n\t" /* 0x01010101 */                                                        \
        "muls r2, r7\n\t"                                                                          \
        "lsrs r2, r2, #24\n\t"                                                                     \
        "ldr r3, [sp, #20]\n\t" /* bytes <= 248: to halfwords, then their sum */                   \
        "movs r5, #255\n\t"                                                                        \
        "lsls r6, r5, #16\n\t"                                                                     \
        "orrs r5, r6\n\t"                                                                          \
        "lsrs r4, r3, #8\n\t"                                                                      \
        "ands r3, r5\n\t"                                                                          \
        "ands r4, r5\n\t"                                                                          \
        "adds r3, r3, r4\n\t"                                                                      \
        "lsrs r4, r3, #16\n\t"                                                                     \
        "uxth r3, r3\n\t"                                                                          \
        "adds r3, r3, r4\n\t"                                                                      \
        "lsls r3, r3, #3\n\t"                                                                      \
        "adds r2, r2, r3\n\t"                                                                      \
        "add sp, #28\n\t"                                                                          \
        "pop {r5, r7}\n\t"                                                                         \
        DNNC_T1_DIVIDED                                                                            \
        : "+r"(rw), "+r"(rx), "+r"(ro), "+r"(rt), "+r"(rn), "+r"(rh), "+r"(rm)                     \
        :                                                                                          \
        : "cc", "memory");                                                                         \
    *w = rw;                                                                                       \
    return ro;

/* One row kernel per weight kind: DNNC_T1_ROW with its 8-word and 4-word disagreement blocks. */
#define DNNC_T1_ROW_FN(name, D8, D4)                                                               \
    static inline __attribute__((always_inline)) uint32_t name(const uint32_t **w, const uint32_t **x, int32_t nb, \
                                                               int32_t half, uint32_t ones, uint32_t twos) \
    {                                                                                              \
        DNNC_T1_ROW(D8, D4)                                                                        \
    }
DNNC_T1_ROW_FN(dnnc_t1_row_binary, DNNC_T1_D2_BINARY, DNNC_T1_D2_BINARY4)
DNNC_T1_ROW_FN(dnnc_t1_row_ternary, DNNC_T1_D2_TERNARY, DNNC_T1_D2_TERNARY4)
DNNC_T1_ROW_FN(dnnc_t1_row_sign2, DNNC_T1_D2_SIGN2, DNNC_T1_D2_SIGN2_4)
DNNC_T1_ROW_FN(dnnc_t1_row_qb0, DNNC_T1_D2_QB0, DNNC_T1_D2_QB0_4)
DNNC_T1_ROW_FN(dnnc_t1_row_qb1, DNNC_T1_D2_QB1, DNNC_T1_D2_QB1_4)

/* Any n >= 6: the first n % 4 words seed the carry-save state (d1 + d2 + d3 = ones + 2 twos: one CSA in C),
 * then rows of up to 31 8-word blocks (and a last 4-word block) in assembly. `used` (a constant: the kind is in
 * DNNC_KINDS) keeps the assembly out of the kinds a library does not use (dnnc_count names all four). */
#define DNNC_T1_COUNT(ROW, D, planes, used)                                                        \
    uint32_t r = 0, ones = 0, twos = 0;                                                            \
    const int32_t t = n & 3;                                                                       \
    int32_t j;                                                                                     \
    if (n < 6 || !(used)) { /* rows this short: fewer instructions one SWAR count a word (measured) */ \
        for (j = 0; j < n; j++) r += dnnc_popcount32(D(j));                                        \
        return r;                                                                                  \
    }                                                                                              \
    if (t) {                                                                                       \
        const uint32_t d1 = D(0), d2 = t > 1 ? D(1) : 0u, d3 = t > 2 ? D(2) : 0u;                  \
        DNNC_CSA(twos, ones, d1, d2, d3);                                                          \
        w += (planes) * t;                                                                         \
        x += t;                                                                                    \
        n -= t;                                                                                    \
    }                                                                                              \
    for (; n > 252; n -= 248) { /* <= 255 words a call: <= 31 eights carries a bit, 248 a byte */  \
        r += ROW(&w, &x, 31, 0, ones, twos);                                                       \
        ones = twos = 0;                                                                           \
    }                                                                                              \
    return r + ROW(&w, &x, n >> 3, (n >> 2) & 1, ones, twos);

static inline __attribute__((always_inline)) uint32_t dnnc_t1_count_binary(const uint32_t *w, const uint32_t *x,
                                                                           int32_t n, int32_t used)
{
#define DNNC_D_(j) (w[(j)] ^ x[(j)])
    DNNC_T1_COUNT(dnnc_t1_row_binary, DNNC_D_, 1, used)
#undef DNNC_D_
}

static inline __attribute__((always_inline)) uint32_t dnnc_t1_count_ternary(const uint32_t *w, const uint32_t *x,
                                                                            int32_t n, int32_t used)
{
#define DNNC_D_(j) ((w[2 * (j)] ^ x[(j)]) & w[2 * (j) + 1])
    DNNC_T1_COUNT(dnnc_t1_row_ternary, DNNC_D_, 2, used)
#undef DNNC_D_
}

static inline __attribute__((always_inline)) uint32_t dnnc_t1_count_sign2(const uint32_t *w, const uint32_t *x,
                                                                          int32_t n, int32_t used)
{
#define DNNC_D_(j) (w[2 * (j)] ^ x[(j)])
    DNNC_T1_COUNT(dnnc_t1_row_sign2, DNNC_D_, 2, used)
#undef DNNC_D_
}

static inline __attribute__((always_inline)) uint32_t dnnc_t1_count_qb0(const uint32_t *w, const uint32_t *x,
                                                                        int32_t n, int32_t used)
{
#define DNNC_D_(j) ((w[3 * (j)] ^ x[(j)]) & w[3 * (j) + 1])
    DNNC_T1_COUNT(dnnc_t1_row_qb0, DNNC_D_, 3, used)
#undef DNNC_D_
}

static inline __attribute__((always_inline)) uint32_t dnnc_t1_count_qb1(const uint32_t *w, const uint32_t *x,
                                                                        int32_t n, int32_t used)
{
#define DNNC_D_(j) ((w[3 * (j)] ^ x[(j)]) & w[3 * (j) + 2])
    DNNC_T1_COUNT(dnnc_t1_row_qb1, DNNC_D_, 3, used)
#undef DNNC_D_
}

static inline __attribute__((always_inline)) uint32_t dnnc_count_binary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    return dnnc_t1_count_binary(w, x, n, DNNC_HAS_KIND(DNNC_W_BINARY));
}

static inline __attribute__((always_inline)) uint32_t dnnc_count_ternary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    return dnnc_t1_count_ternary(w, x, n, DNNC_HAS_KIND(DNNC_W_TERNARY));
}

/* Quaternary (|w| = 1 + 2 b1) and quinary (|w| = b0 + 2 b1): two passes of the same tree, one a plane. */
static inline uint32_t dnnc_count_quater(const uint32_t *w, const uint32_t *x, int32_t n)
{
    return dnnc_t1_count_sign2(w, x, n, DNNC_HAS_KIND(DNNC_W_QUATER))
           + 2u * dnnc_t1_count_ternary(w, x, n, DNNC_HAS_KIND(DNNC_W_QUATER));
}

static inline uint32_t dnnc_count_quinary(const uint32_t *w, const uint32_t *x, int32_t n)
{
    return dnnc_t1_count_qb0(w, x, n, DNNC_HAS_KIND(DNNC_W_QUINARY))
           + 2u * dnnc_t1_count_qb1(w, x, n, DNNC_HAS_KIND(DNNC_W_QUINARY));
}

#endif /* DNNC_BITACT_V6M_H */
