/* dnnc runtime: Armv6-M (Cortex-M0/M0+, Thumb-1) assembly kernels for the binary and ternary bit counts.
 * Included by dnnc_bitact.h when compiling for Thumb-1 (define DNNC_NO_ASM to use the portable C instead).
 * Conventions and the meaning of the counts: dnnc_bitact.h.
 *
 * The portable C's Harley-Seal tree, written for Thumb-1's 2-operand ALU and 8 low registers: 8 words per
 * block into the carry-save state (ones, twos in low registers, fours in r8) and one SWAR count of the eights
 * carry into per-byte counters (r9); the SWAR masks wait in r10, r11 and lr, the end pointer in r12. Each
 * carry-save adder is 5 two-operand instructions: with u = lo ^ b, the majority is (u & c) | (lo & ~u) and
 * u & c = u & ~(u ^ c), so
 *     eors b, lo; bics lo, b; eors c, b; bics b, c; orrs b, lo      (sum in c, carry in b, lo free)
 * and the state moves between registers from step to step. Per 8-word block: binary 76 instructions, ternary
 * 91 (gcc -O2 compiles the portable C's ternary block to 135). At most 31 blocks per call (byte counters <=
 * 248). r7 (the Thumb frame pointer at -O0, with -fno-omit-frame-pointer and by default with clang) is
 * never declared clobbered: the asm saves it with PUSH and restores it with POP; the pushed word below it is
 * the slot where the block parks one carry. */
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

/* One 8-word block (r0 = w, r1 = x advance): ones r2 and twos r3 in and out, fours in r8, byte counters r9.
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
    "mov r7, r8\n\t"                                                                               \
    DNNC_T1_CSA("r7", "r5", "r3")          /* fours r3, eights carry r5 */                        \
    "mov r8, r3\n\t"                                                                               \
    "lsrs r2, r5, #1\n\t"                  /* per-byte popcount of r5, added to r9 */              \
    "mov r7, r10\n\t"                                                                              \
    "ands r2, r7\n\t"                                                                              \
    "subs r5, r5, r2\n\t"                                                                          \
    "lsrs r2, r5, #2\n\t"                                                                          \
    "mov r7, r11\n\t"                                                                              \
    "ands r2, r7\n\t"                                                                              \
    "ands r5, r7\n\t"                                                                              \
    "adds r5, r5, r2\n\t"                                                                          \
    "lsrs r2, r5, #4\n\t"                                                                          \
    "adds r5, r5, r2\n\t"                                                                          \
    "mov r7, lr\n\t"                                                                               \
    "ands r5, r7\n\t"                                                                              \
    "add r9, r5\n\t"                                                                               \
    "movs r2, r6\n\t"                                                                              \
    "movs r3, r4\n\t"

/* nb >= 1 blocks from the state (*ones, *twos, *fours); returns the byte counters of the eights carries. */
#define DNNC_T1_BLOCKS(D2, D4)                                                             \
    static const uint32_t masks[3] = {0x55555555u, 0x33333333u, 0x0F0F0F0Fu};                      \
    register const uint32_t *rw __asm__("r0") = *w;                                                \
    register const uint32_t *rx __asm__("r1") = *x;                                                \
    register uint32_t ro __asm__("r2") = s[0];                                                     \
    register uint32_t rt __asm__("r3") = s[1];                                                     \
    register uint32_t rf __asm__("r4") = s[2];                                                     \
    register uint32_t ra __asm__("r5") = (uint32_t)(uintptr_t)(*x + 8 * nb);                       \
    register const uint32_t *rm __asm__("r6") = masks;                                             \
    __asm__ volatile(                                                                              \
        DNNC_T1_UNIFIED                                                                            \
        "push {r6, r7}\n\t" /* r7 saved; [sp] is the park slot */                                  \
        "mov r8, r4\n\t"                                                                           \
        "mov r12, r5\n\t"                                                                          \
        "ldmia r6!, {r4, r5, r7}\n\t"                                                              \
        "mov r10, r4\n\t"                                                                          \
        "mov r11, r5\n\t"                                                                          \
        "mov lr, r7\n\t"                                                                           \
        "movs r4, #0\n\t"                                                                          \
        "mov r9, r4\n\t"                                                                           \
        "1:\n\t"                                                                                   \
        DNNC_T1_BLOCK(D2, D4)                                                                      \
        "cmp r1, r12\n\t"                                                                          \
        "bne 1b\n\t"                                                                               \
        "mov r4, r8\n\t"                                                                           \
        "mov r5, r9\n\t"                                                                           \
        "pop {r6, r7}\n\t"                                                                         \
        DNNC_T1_DIVIDED                                                                            \
        : "+r"(rw), "+r"(rx), "+r"(ro), "+r"(rt), "+r"(rf), "+r"(ra), "+r"(rm)                     \
        :                                                                                          \
        : "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");                                  \
    *w = rw;                                                                                       \
    *x = rx;                                                                                       \
    s[0] = ro;                                                                                     \
    s[1] = rt;                                                                                     \
    s[2] = rf;                                                                                     \
    return ra;

static inline uint32_t dnnc_t1_blocks_binary(const uint32_t **w, const uint32_t **x, int32_t nb, uint32_t *s)
{
    DNNC_T1_BLOCKS(DNNC_T1_D2_BINARY, DNNC_T1_D2_BINARY4)
}

static inline uint32_t dnnc_t1_blocks_ternary(const uint32_t **w, const uint32_t **x, int32_t nb, uint32_t *s)
{
    DNNC_T1_BLOCKS(DNNC_T1_D2_TERNARY, DNNC_T1_D2_TERNARY4)
}

/* The count of n words (planes 1: binary, 2: ternary; D(j) the disagreement word j): the 8-word blocks in
 * assembly, a remaining 4-word block through the same tree in C, the last n % 4 words one SWAR count each. */
#define DNNC_T1_COUNT(BLOCKS, D, planes)                                                           \
    uint32_t s[3] = {0, 0, 0}, eights = 0, tail = 0;                                               \
    int32_t left = n >> 3, j;                                                                      \
    while (left > 0) {                                                                             \
        const int32_t nb = left < 31 ? left : 31;                                                  \
        left -= nb;                                                                                \
        eights += dnnc_bytesum(BLOCKS(&w, &x, nb, s));                                             \
    }                                                                                              \
    if (n & 4) {                                                                                   \
        uint32_t ta, tb, fa;                                                                       \
        DNNC_CSA(ta, s[0], s[0], D(0), D(1));                                                      \
        DNNC_CSA(tb, s[0], s[0], D(2), D(3));                                                      \
        DNNC_CSA(fa, s[1], s[1], ta, tb);                                                          \
        eights += dnnc_popcount32(s[2] & fa); /* fours + fa = 2 (fours & fa) + (fours ^ fa) */     \
        s[2] ^= fa;                                                                                \
        w += 4 * (planes);                                                                         \
        x += 4;                                                                                    \
    }                                                                                              \
    for (j = 0; j < (n & 3); j++) tail += dnnc_popcount32(D(j));                                   \
    return 8u * eights + tail + dnnc_pc_124(s[0], s[1], s[2]);

static inline uint32_t dnnc_count_binary(const uint32_t *w, const uint32_t *x, int32_t n)
{
#define DNNC_D_(j) (w[(j)] ^ x[(j)])
    DNNC_T1_COUNT(dnnc_t1_blocks_binary, DNNC_D_, 1)
#undef DNNC_D_
}

static inline uint32_t dnnc_count_ternary(const uint32_t *w, const uint32_t *x, int32_t n)
{
#define DNNC_D_(j) ((w[2 * (j)] ^ x[(j)]) & w[2 * (j) + 1])
    DNNC_T1_COUNT(dnnc_t1_blocks_ternary, DNNC_D_, 2)
#undef DNNC_D_
}

#endif /* DNNC_BITACT_V6M_H */
