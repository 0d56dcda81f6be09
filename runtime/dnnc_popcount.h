/* dnnc runtime: population count and carry-save accumulation of 32-bit words. C99, header only.
 *
 * Strategy is chosen per target (targets/<t>.toml, key `popcount`, passed as a -D flag):
 *   DNNC_POPCOUNT_BUILTIN  __builtin_popcount (one instruction on hosts that have one);
 *   DNNC_POPCOUNT_ZBB      the RISC-V Zbb `cpop` instruction, encoded with `.insn` so that any RV32 toolchain
 *                          and C library multilib builds it (gcc 12 has no rv32imac_zbb multilib); it takes
 *                          the one-instruction paths of DNNC_POPCOUNT_BUILTIN;
 *   default (SWAR)         branch-free shifts and masks, for cores without a popcount instruction such
 *                          as the Cortex-M4 (there the builtin is a libgcc call of ~14 instructions).
 * Long runs of words are counted with a Harley-Seal carry-save adder tree (dnnc_bitact.h), so the SWAR
 * count runs once per 8 words instead of once per word.
 */
#ifndef DNNC_POPCOUNT_H
#define DNNC_POPCOUNT_H

#include <stdint.h>

#if defined(DNNC_POPCOUNT_ZBB) && !defined(DNNC_POPCOUNT_BUILTIN)
#define DNNC_POPCOUNT_BUILTIN 1
#endif

#if defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#endif

/* gcc reads Thumb-1 inline assembly in divided syntax (clang: unified); the Thumb-1 kernels' bodies
 * (dnnc_intin.h, dnnc_bitact_v6m.h) are unified. */
#if defined(__clang__)
#define DNNC_T1_UNIFIED
#define DNNC_T1_DIVIDED
#else
#define DNNC_T1_UNIFIED ".syntax unified\n\t"
#define DNNC_T1_DIVIDED ".syntax divided\n\t"
#endif

static inline uint32_t dnnc_popcount32(uint32_t x)
{
#if defined(DNNC_POPCOUNT_ZBB)
    uint32_t r;
    __asm__(".insn r 0x13, 1, 0x30, %0, %1, x2" : "=r"(r) : "r"(x)); /* cpop r, x */
    return r;
#elif defined(DNNC_POPCOUNT_BUILTIN)
    return (uint32_t)__builtin_popcount(x);
#else
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
#endif
}

/* Per-byte popcounts of x (each byte <= 8), to be accumulated before one byte sum. */
static inline uint32_t dnnc_popbytes(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (x + (x >> 4)) & 0x0F0F0F0Fu;
}

/* Sum of the four bytes of v (USADA8, one instruction, on cores with the SIMD32 extension). */
static inline uint32_t dnnc_bytesum(uint32_t v)
{
#if defined(__ARM_FEATURE_SIMD32)
    return __usada8(v, 0u, 0u);
#else
    v = (v & 0x00FF00FFu) + ((v >> 8) & 0x00FF00FFu);
    return (v & 0xFFFFu) + (v >> 16);
#endif
}

/* Carry-save adder on bit vectors: a + b + c == 2*hi + lo in every bit position.
 * `hi` must not alias a, b or c; `lo` may alias a. */
#define DNNC_CSA(hi, lo, a, b, c)                                                                  \
    do {                                                                                           \
        uint32_t dnnc_u_ = (a) ^ (b);                                                              \
        (hi) = ((a) & (b)) | (dnnc_u_ & (c));                                                      \
        (lo) = dnnc_u_ ^ (c);                                                                      \
    } while (0)

/* pc(ones) + 2 pc(twos) + 4 pc(fours) with one byte sum (bytes stay <= 56). */
static inline uint32_t dnnc_pc_124(uint32_t ones, uint32_t twos, uint32_t fours)
{
    return dnnc_bytesum(dnnc_popbytes(ones) + (dnnc_popbytes(twos) << 1) + (dnnc_popbytes(fours) << 2));
}

#endif /* DNNC_POPCOUNT_H */
