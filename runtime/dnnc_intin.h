/* dnnc runtime: the first layer, on the raw integer input. C99, header only.
 *
 * The layer sums weight * u with u = in_mul * p + in_add for every raw element p (uint8); padded conv
 * positions contribute u = 0 (padding lives in the u domain).
 *
 * Dense: table lookup. The weight codes of `group` consecutive inputs are packed base-`levels` into one
 * byte (code = sum_e digit_e * levels^e, digit = index of the weight in the sorted value list; inputs past
 * the end have u = 0). For every group a table of all levels^group partial sums is built once per
 * inference and shared by all outputs, so each output costs one byte load + one table load + one add per
 * group (5 ternary weights per byte: 1.6 bits per weight). Tables are built in chunks of groups to bound RAM.
 *
 * Conv: the padded u image is materialized once as int16 (zeros in the border), then every output pixel
 * gathers its receptive field (c, ky, kx order, even length, packed as int16 pairs) and takes dot products
 * with the layer's (small) int16 weights, four outputs per loaded input pair: SMLAD, two multiply-accumulates
 * per instruction, on cores with DSP.
 */
#ifndef DNNC_INTIN_H
#define DNNC_INTIN_H

#include <stdint.h>
#include <string.h>

#include "dnnc_popcount.h" /* DNNC_T1_UNIFIED */

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* u[i] = mul * raw[i] + add for i < n; u[i] = 0 for n <= i < n_pad. */
static inline void dnnc_input_u(const uint8_t *raw, int32_t n, int32_t n_pad, int32_t mul, int32_t add, int32_t *u)
{
    int32_t i;
    for (i = 0; i < n; i++) u[i] = mul * (int32_t)raw[i] + add;
    for (; i < n_pad; i++) u[i] = 0;
}

/* dst[r] = src[r] + add for the first n & ~7 entries, eight a step (Thumb-2: one LDM, eight adds, one STM,
 * 1.5 instructions an entry); returns how many it did (0 elsewhere: the caller's C loop does them). */
static inline int32_t dnnc_add_rows8(int32_t *dst, const int32_t *src, int32_t n, int32_t add)
{
#if defined(__thumb2__) && !defined(DNNC_NO_ASM)
    if (n >= 8) {
        register int32_t *rd __asm__("r0") = dst;
        register const int32_t *rs __asm__("r1") = src;
        register int32_t rn __asm__("r2") = n >> 3;
        register int32_t ra __asm__("r3") = add;
        __asm__ volatile(
            "1:\n\t"
            "ldmia %[s]!, {r4, r5, r6, r8, r9, r10, r11, r12}\n\t"
            "add r4, r4, %[a]\n\t"
            "add r5, r5, %[a]\n\t"
            "add r6, r6, %[a]\n\t"
            "add r8, r8, %[a]\n\t"
            "add r9, r9, %[a]\n\t"
            "add r10, r10, %[a]\n\t"
            "add r11, r11, %[a]\n\t"
            "add r12, r12, %[a]\n\t"
            "stmia %[d]!, {r4, r5, r6, r8, r9, r10, r11, r12}\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b"
            : [d] "+r"(rd), [s] "+r"(rs), [n] "+r"(rn)
            : [a] "r"(ra)
            : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
        return n & ~7;
    }
#else
    (void)dst;
    (void)src;
    (void)add;
#endif
    (void)n;
    return 0;
}

/* Tables for groups g0 .. g0+ng-1: tab[k*vg + code] = sum_e values[digit_e(code)] * u[(g0+k)*group + e].
 * Entry 0 (every digit 0) first, then each input e extends the table from its first levels^e entries by
 * (values[d] - values[0]) * u: levels^group - 1 writes a table, each one load, add and store. */
static inline void dnnc_lut_build(const int32_t *u, int32_t group, int32_t levels, int32_t vg, const int8_t *values,
                                  int32_t g0, int32_t ng, int32_t *tab)
{
    int32_t k, e, d, r;
    for (k = 0; k < ng; k++) {
        int32_t *t = tab + k * vg;
        const int32_t *ug = u + (g0 + k) * group;
        int32_t size = 1, base = 0;
        for (e = 0; e < group; e++) base += (int32_t)values[0] * ug[e];
        t[0] = base;
        for (e = 0; e < group; e++) {
            for (d = 1; d < levels; d++) {
                const int32_t add = ((int32_t)values[d] - (int32_t)values[0]) * ug[e];
                int32_t *dst = t + d * size;
                r = dnnc_add_rows8(dst, t, size, add);
                for (; r + 4 <= size; r += 4) {
                    dst[r] = t[r] + add;
                    dst[r + 1] = t[r + 1] + add;
                    dst[r + 2] = t[r + 2] + add;
                    dst[r + 3] = t[r + 3] + add;
                }
                for (; r < size; r++) dst[r] = t[r] + add;
            }
            size *= levels;
        }
    }
}

/* Sum of ng table lookups: one byte code per group, tables vg entries apart (the C loop that
 * dnnc_lut_sum_all falls back to when a chunk is not whole blocks of four groups). */
static inline int32_t dnnc_lut_sum(const int32_t *t, const uint8_t *p, int32_t ng, int32_t vg)
{
    int32_t a = 0, k = 0;
    for (; k + 4 <= ng; k += 4) {
        a += t[p[k]] + t[vg + p[k + 1]] + t[2 * vg + p[k + 2]] + t[3 * vg + p[k + 3]];
        t += 4 * vg;
    }
    for (; k < ng; k++) {
        a += t[p[k]];
        t += vg;
    }
    return a;
}

/* One output's lookups of the all-outputs loop below: nb blocks of four codes (r3 counts them down), the sum
 * in r0, tables from r1 (entries vg = r9, 2 vg = r10, 3 vg = r11 apart), codes from r2. */
#define DNNC_LUT_BLOCKS_ASM                  \
    "1:\n\t"                                 \
    "ldr r4, [r2], #4\n\t"                   \
    "uxtb r5, r4\n\t"                        \
    "uxtab r6, r9, r4, ror #8\n\t"           \
    "uxtab r8, r10, r4, ror #16\n\t"         \
    "add r4, r11, r4, lsr #24\n\t"           \
    "ldr r5, [r1, r5, lsl #2]\n\t"           \
    "ldr r6, [r1, r6, lsl #2]\n\t"           \
    "ldr r8, [r1, r8, lsl #2]\n\t"           \
    "ldr r4, [r1, r4, lsl #2]\n\t"           \
    "add r0, r0, r5\n\t"                     \
    "add r0, r0, r6\n\t"                     \
    "add r0, r0, r8\n\t"                     \
    "add r0, r0, r4\n\t"                     \
    "add r1, r1, r9, lsl #4\n\t"             \
    "subs r3, r3, #1\n\t"                    \
    "bne 1b\n\t"

/* The all-outputs loop: for each of nout outputs, r0 = init (a string: "mov r0, #0" or the output's
 * accumulator), the lookups, acc[o] = r0; per-output state (table base, blocks, code stride) at [r7]. r7 is
 * saved and restored around the loop (the Thumb frame pointer of debug builds, see dnnc_bitact_v7em.h). */
#define DNNC_LUT_ALL_ASM(init)               \
    "push {r7}\n\t"                          \
    "mov r7, %[args]\n\t"                    \
    "ldmia r7, {r1, r2, r3, r9, r12, lr}\n\t" \
    "add r10, r9, r9\n\t"                    \
    "add r11, r10, r9\n\t"                   \
    "2:\n\t"                                 \
    init "\n\t"                              \
    "ldr r1, [r7]\n\t"                       \
    "ldr r3, [r7, #8]\n\t"                   \
    DNNC_LUT_BLOCKS_ASM                      \
    "ldr r4, [r7, #24]\n\t"                  \
    "add r2, r2, r4\n\t"                     \
    "str r0, [r12], #4\n\t"                  \
    "subs lr, lr, #1\n\t"                    \
    "bne 2b\n\t"                             \
    "pop {r7}\n\t"                           \
    DNNC_T1_DIVIDED

/* One Armv6-M lookup: code byte k of r2, times 4, the entry of table r1 into r0; r1 to the next table (r6 bytes
 * on). */
#define DNNC_LUT_T1_ONE(k)                   \
    "ldrb r4, [r2, #" k "]\n\t"              \
    "lsls r4, r4, #2\n\t"                    \
    "ldr r5, [r1, r4]\n\t"                   \
    "adds r0, r0, r5\n\t"                    \
    "adds r1, r1, r6\n\t"

/* The Armv6-M all-outputs loop (as DNNC_LUT_ALL_ASM; args at r7: table, codes, blocks, table bytes, acc,
 * outputs, code stride; the acc pointer in r8, the outputs left in r9). */
#define DNNC_LUT_ALL_T1_ASM(init)            \
    DNNC_T1_UNIFIED                          \
    "push {r7}\n\t"                          \
    "mov r7, %[args]\n\t"                    \
    "ldr r2, [r7, #4]\n\t"                   \
    "ldr r6, [r7, #12]\n\t"                  \
    "ldr r4, [r7, #16]\n\t"                  \
    "mov r8, r4\n\t"                         \
    "ldr r4, [r7, #20]\n\t"                  \
    "mov r9, r4\n\t"                         \
    "2:\n\t"                                 \
    init                                     \
    "ldr r1, [r7]\n\t"                       \
    "ldr r3, [r7, #8]\n\t"                   \
    "1:\n\t"                                 \
    DNNC_LUT_T1_ONE("0")                     \
    DNNC_LUT_T1_ONE("1")                     \
    DNNC_LUT_T1_ONE("2")                     \
    DNNC_LUT_T1_ONE("3")                     \
    "adds r2, #4\n\t"                        \
    "subs r3, #1\n\t"                        \
    "bne 1b\n\t"                             \
    "ldr r4, [r7, #24]\n\t"                  \
    "adds r2, r2, r4\n\t"                    \
    "mov r4, r8\n\t"                         \
    "stmia r4!, {r0}\n\t"                    \
    "mov r8, r4\n\t"                         \
    "mov r4, r9\n\t"                         \
    "subs r4, #1\n\t"                        \
    "mov r9, r4\n\t"                         \
    "bne 2b\n\t"                             \
    "pop {r7}\n\t"                           \
    DNNC_T1_DIVIDED

/* Lookups of all nout outputs for one chunk of nc tables (nc a multiple of 4): acc[o] (first chunk: =,
 * later: +=) the sum over the chunk's groups of tab[k][codes[o * stride + k]]. One assembly loop on cores
 * with DSP (no call and no spill per output: 8 instructions per output beside the 4 per lookup), and on
 * Armv6-M (5 instructions a lookup). */
static inline void dnnc_lut_sum_all(const int32_t *tab, const uint8_t *codes, int32_t stride, int32_t nc, int32_t vg,
                                    int32_t nout, int32_t *acc, int32_t first)
{
#if defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && defined(__ARMEL__) && !defined(DNNC_NO_ASM)
    if ((nc & 3) == 0 && nc > 0 && nout > 0) {
        /* ldmia order: tab, codes, blocks, vg, acc, outputs; then the code stride left after a row's nc */
        const int32_t args[7] = {(int32_t)(intptr_t)tab, (int32_t)(intptr_t)codes, nc / 4, vg,
                                 (int32_t)(intptr_t)acc, nout, stride - nc};
        register const int32_t *ra __asm__("r0") = args;
        if (first)
            __asm__ volatile(DNNC_LUT_ALL_ASM("mov r0, #0")
                             : [args] "+r"(ra)
                             :
                             : "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "lr", "cc",
                               "memory");
        else
            __asm__ volatile(DNNC_LUT_ALL_ASM("ldr r0, [r12]")
                             : [args] "+r"(ra)
                             :
                             : "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "lr", "cc",
                               "memory");
        return;
    }
#elif defined(__thumb__) && !defined(__thumb2__) && defined(__ARMEL__) && !defined(DNNC_NO_ASM)
    /* Armv6-M (Cortex-M0/M0+: no UXTAB, low registers only): per lookup one byte load, a shift, the table load,
     * the add and the step to the next table (5 instructions), codes read at immediate offsets */
    if ((nc & 3) == 0 && nc > 0 && nout > 0) {
        const int32_t args[7] = {(int32_t)(intptr_t)tab, (int32_t)(intptr_t)codes, nc / 4, 4 * vg,
                                 (int32_t)(intptr_t)acc, nout, stride - nc};
        register const int32_t *ra __asm__("r0") = args;
        if (first)
            __asm__ volatile(DNNC_LUT_ALL_T1_ASM("movs r0, #0\n\t")
                             : [args] "+r"(ra)
                             :
                             : "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "cc", "memory");
        else
            __asm__ volatile(DNNC_LUT_ALL_T1_ASM("mov r4, r8\n\tldr r0, [r4]\n\t")
                             : [args] "+r"(ra)
                             :
                             : "r1", "r2", "r3", "r4", "r5", "r6", "r8", "r9", "cc", "memory");
        return;
    }
#endif
    {
        int32_t o;
        for (o = 0; o < nout; o++) {
            const int32_t s = dnnc_lut_sum(tab, codes + o * stride, nc, vg);
            acc[o] = first ? s : acc[o] + s;
        }
    }
}

/* The padded u image uimg[c][y][x] of size c x (h+2*pad) x (w+2*pad), zero in the border. */
static inline void dnnc_input_uimg(const uint8_t *raw, int32_t c, int32_t h, int32_t w, int32_t pad, int32_t mul,
                                   int32_t add, int16_t *uimg)
{
    const int32_t hp = h + 2 * pad, wp = w + 2 * pad;
    int32_t ci, y, x;
    memset(uimg, 0, sizeof(int16_t) * (size_t)(c * hp * wp));
    for (ci = 0; ci < c; ci++)
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++)
                uimg[(ci * hp + y + pad) * wp + x + pad] = (int16_t)(mul * (int32_t)raw[(ci * h + y) * w + x] + add);
}

/* One input pair (two int16 u values in r4) times 4 outputs' packed int16 weight pairs: a0..a3 += SMLAD.
 * Not r7: the Thumb frame pointer of debug builds (see dnnc_bitact_v7em.h). */
#define DNNC_SMLAD_PAIR4_ASM                 \
    "ldr r4, [%[u]], #4\n\t"             \
    "ldmia %[w]!, {r5, r6, r8, r9}\n\t"  \
    "smlad %[a0], r5, r4, %[a0]\n\t"     \
    "smlad %[a1], r6, r4, %[a1]\n\t"     \
    "smlad %[a2], r8, r4, %[a2]\n\t"     \
    "smlad %[a3], r9, r4, %[a3]\n\t"

/* Operand registers of the SMLAD asm: the compiler's choice when optimizing (pinned registers cost 0.4-0.6 %
 * more instructions on mnist-cnn), pinned at -O0, where gcc finds no registers for seven free operands beside
 * five scratch registers ("impossible constraints"). */
#if defined(__OPTIMIZE__)
#define DNNC_SMLAD_REG(r)
#else
#define DNNC_SMLAD_REG(r) __asm__(r)
#endif

/* Four outputs at once: acc[j] = sum over pairs p of the int16 pairs w[p][j] . u[p] (each uint32 holds two
 * int16, low half first), with u[p] loaded once for the four outputs; maxin: acc[j] = max(acc[j], sum) instead. */
static inline void dnnc_dot32x4_max(const uint32_t *w, const uint32_t *u, int32_t npairs, int32_t *acc, int32_t maxin)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#if defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && !defined(DNNC_NO_ASM)
    /* one input pair load + one LDM of four weight pairs + four SMLAD per pair; npairs % 4 first, then a loop
     * unrolled over four pairs (fewer loop instructions: 90 instead of 104 for 13 pairs) */
    if (npairs > 0) {
        register const uint32_t *rw DNNC_SMLAD_REG("r0") = w;
        register const uint32_t *ru DNNC_SMLAD_REG("r1") = u;
        register int32_t rk DNNC_SMLAD_REG("r2") = npairs;
        register int32_t ra0 DNNC_SMLAD_REG("r3") = 0;
        register int32_t ra1 DNNC_SMLAD_REG("r10") = 0;
        register int32_t ra2 DNNC_SMLAD_REG("r11") = 0;
        register int32_t ra3 DNNC_SMLAD_REG("r12") = 0;
        __asm__ volatile(
            "tst %[k], #1\n\t"
            "beq 2f\n\t"
            DNNC_SMLAD_PAIR4_ASM
            "2:\n\t"
            "tst %[k], #2\n\t"
            "beq 3f\n\t"
            DNNC_SMLAD_PAIR4_ASM
            DNNC_SMLAD_PAIR4_ASM
            "3:\n\t"
            "lsrs %[k], %[k], #2\n\t"
            "beq 4f\n\t"
            "1:\n\t"
            DNNC_SMLAD_PAIR4_ASM
            DNNC_SMLAD_PAIR4_ASM
            DNNC_SMLAD_PAIR4_ASM
            DNNC_SMLAD_PAIR4_ASM
            "subs %[k], %[k], #1\n\t"
            "bne 1b\n\t"
            "4:\n\t"
            : [w] "+r"(rw), [u] "+r"(ru), [k] "+r"(rk), [a0] "+r"(ra0), [a1] "+r"(ra1), [a2] "+r"(ra2), [a3] "+r"(ra3)
            :
            : "r4", "r5", "r6", "r8", "r9", "cc", "memory");
        a0 = ra0;
        a1 = ra1;
        a2 = ra2;
        a3 = ra3;
    }
#else
    int32_t k;
    for (k = 0; k < npairs; k++) {
        const int32_t u0 = (int16_t)(u[k] & 0xFFFFu), u1 = (int16_t)(u[k] >> 16);
        const uint32_t *q = w + 4 * k;
        a0 += (int16_t)(q[0] & 0xFFFFu) * u0 + (int16_t)(q[0] >> 16) * u1;
        a1 += (int16_t)(q[1] & 0xFFFFu) * u0 + (int16_t)(q[1] >> 16) * u1;
        a2 += (int16_t)(q[2] & 0xFFFFu) * u0 + (int16_t)(q[2] >> 16) * u1;
        a3 += (int16_t)(q[3] & 0xFFFFu) * u0 + (int16_t)(q[3] >> 16) * u1;
    }
#endif
    if (maxin) { /* fused max-pool: keep the larger of acc[j] and the new sum */
        a0 = a0 > acc[0] ? a0 : acc[0];
        a1 = a1 > acc[1] ? a1 : acc[1];
        a2 = a2 > acc[2] ? a2 : acc[2];
        a3 = a3 > acc[3] ? a3 : acc[3];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static inline void dnnc_dot32x4(const uint32_t *w, const uint32_t *u, int32_t npairs, int32_t *acc)
{
    dnnc_dot32x4_max(w, u, npairs, acc, 0);
}

#endif /* DNNC_INTIN_H */
