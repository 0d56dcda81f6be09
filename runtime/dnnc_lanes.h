/* dnnc runtime: kernels in the output-lane layout, for targets with wide vectors (targets/host.toml,
 * `lanes`; docs/targets/host.md). C99, header only.
 *
 * The weights of 16 consecutive outputs ("a block") are interleaved word by word, so one 512-bit register
 * holds word j of 16 outputs and one broadcast input word serves all of them: no horizontal sums. Output counts
 * are padded to a multiple of 16 with all-zero weights (tot = 0); padded lanes are never read.
 *
 *   packed input   w[blk][j][plane][16]      uint32, planes as in dnnc_bitact.h (s, then m / b1 / b0 b1)
 *   raw, dense     codes[blk][g][16][4]      bytes of 2- or 4-bit weight codes (dnnc_lanes_u8)
 *   raw, conv      w8[blk][c][ky][q][16][4]  int8, taps kx = 4q..4q+3 (past kw: 0) of 16 outputs
 *
 * With AVX-512 (F, BW, VNNI, VPOPCNTDQ) and GFNI (-march=native on such a host) the loops use intrinsics:
 * VPTERNLOGD + VPOPCNTD per packed word, VGF2P8AFFINEQB + VPDPBUSD (4 u8 x s8 products) for the raw input.
 * Elsewhere the same layout runs as plain C, one output at a time. Both compute the same integers.
 */
#ifndef DNNC_LANES_H
#define DNNC_LANES_H

#include <stdint.h>
#include <string.h>

#include "dnnc_popcount.h"

#define DNNC_LANES 16

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VPOPCNTDQ__) \
    && defined(__GFNI__) && !defined(DNNC_NO_SIMD)
#define DNNC_AVX512 1
#include <immintrin.h>
#elif defined(__AVX2__) && !defined(DNNC_NO_SIMD)
#define DNNC_AVX2 1 /* x86-64-v3: each block of 16 lanes is two 256-bit registers */
#include <immintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__) && !defined(DNNC_NO_SIMD)
#define DNNC_NEON 1 /* AArch64: each block of 16 lanes is four 128-bit registers */
#include <arm_neon.h>
#endif

static inline uint32_t dnnc_load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Weighted disagreement count of lane l of block wb (n words, `planes` planes) with x; see dnnc_bitact.h. */
static inline uint32_t dnnc_lane_count(int32_t kind, const uint32_t *wb, int32_t planes, const uint32_t *x, int32_t n,
                                       int32_t l)
{
    uint32_t c1 = 0, c2 = 0;
    int32_t j;
    for (j = 0; j < n; j++) {
        const uint32_t *w = wb + j * planes * DNNC_LANES + l;
        const uint32_t d = w[0] ^ x[j];
        switch (kind) {
        case 0: c1 += dnnc_popcount32(d); break; /* binary */
        case 1: c1 += dnnc_popcount32(d & w[DNNC_LANES]); break; /* ternary */
        case 2: c1 += dnnc_popcount32(d); c2 += dnnc_popcount32(d & w[DNNC_LANES]); break; /* quaternary */
        default: c1 += dnnc_popcount32(d & w[DNNC_LANES]); c2 += dnnc_popcount32(d & w[2 * DNNC_LANES]); break;
        }
    }
    return c1 + 2u * c2;
}

#if defined(DNNC_AVX512)
/* Counts of one block as a vector: c1 + 2*c2 over n words. */
#define DNNC_LANES_STEP(wb, xj, j, planes, kind, c1, c2)                                                       \
    do {                                                                                                       \
        const uint32_t *w_ = (wb) + (j) * (planes) * DNNC_LANES;                                               \
        const __m512i s_ = _mm512_loadu_si512(w_);                                                             \
        if ((kind) == 0) {                                                                                     \
            c1 = _mm512_add_epi32(c1, _mm512_popcnt_epi32(_mm512_xor_si512(s_, xj)));                          \
        } else if ((kind) == 1) { /* (s ^ x) & m */                                                            \
            c1 = _mm512_add_epi32(c1, _mm512_popcnt_epi32(                                                     \
                                          _mm512_ternarylogic_epi32(s_, xj, _mm512_loadu_si512(w_ + 16), 0x28))); \
        } else if ((kind) == 2) {                                                                              \
            c1 = _mm512_add_epi32(c1, _mm512_popcnt_epi32(_mm512_xor_si512(s_, xj)));                          \
            c2 = _mm512_add_epi32(c2, _mm512_popcnt_epi32(                                                     \
                                          _mm512_ternarylogic_epi32(s_, xj, _mm512_loadu_si512(w_ + 16), 0x28))); \
        } else {                                                                                               \
            c1 = _mm512_add_epi32(c1, _mm512_popcnt_epi32(                                                     \
                                          _mm512_ternarylogic_epi32(s_, xj, _mm512_loadu_si512(w_ + 16), 0x28))); \
            c2 = _mm512_add_epi32(c2, _mm512_popcnt_epi32(                                                     \
                                          _mm512_ternarylogic_epi32(s_, xj, _mm512_loadu_si512(w_ + 32), 0x28))); \
        }                                                                                                      \
    } while (0)

/* acc = tot - 2 * (c1 + 2*c2) (+ corr) for the 16 lanes at acc. */
static inline void dnnc_lanes_store(__m512i c1, __m512i c2, const int32_t *tot, const int32_t *corr, int32_t *acc)
{
    __m512i a = _mm512_sub_epi32(_mm512_loadu_si512(tot), _mm512_slli_epi32(_mm512_add_epi32(c1, _mm512_slli_epi32(c2, 1)), 1));
    if (corr) a = _mm512_add_epi32(a, _mm512_loadu_si512(corr));
    _mm512_storeu_si512(acc, a);
}

/* One kernel per weight kind (the kind is a compile-time constant inside, so the step has no branches): four
 * blocks (64 outputs) per pass over x, one broadcast per word serving four registers, then single blocks. */
#define DNNC_LANES_KERNEL(fname, kind, planes)                                                                   \
    static inline void fname(const uint32_t *w, const int32_t *tot, const int32_t *corr, const uint32_t *x,       \
                             int32_t rowlen, int32_t rowstride, int32_t nrows, int32_t nout, int32_t *acc)        \
    {                                                                                                             \
        const int32_t bstride = rowlen * nrows * (planes) * DNNC_LANES;                                           \
        int32_t b = 0, j, ky;                                                                                     \
        for (; b + 4 * DNNC_LANES <= nout; b += 4 * DNNC_LANES) {                                                 \
            const uint32_t *w0 = w + (b / DNNC_LANES) * bstride;                                                  \
            __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;   \
            for (ky = 0; ky < nrows; ky++) {                                                                      \
                const uint32_t *xr = x + ky * rowstride, *wr = w0 + ky * rowlen * (planes) * DNNC_LANES;          \
                for (j = 0; j < rowlen; j++) {                                                                    \
                    const __m512i xj = _mm512_set1_epi32((int)xr[j]);                                             \
                    DNNC_LANES_STEP(wr, xj, j, planes, kind, a0, b0);                                             \
                    DNNC_LANES_STEP(wr + bstride, xj, j, planes, kind, a1, b1);                                   \
                    DNNC_LANES_STEP(wr + 2 * bstride, xj, j, planes, kind, a2, b2);                               \
                    DNNC_LANES_STEP(wr + 3 * bstride, xj, j, planes, kind, a3, b3);                               \
                }                                                                                                 \
            }                                                                                                     \
            dnnc_lanes_store(a0, b0, tot + b, corr ? corr + b : NULL, acc + b);                                   \
            dnnc_lanes_store(a1, b1, tot + b + 16, corr ? corr + b + 16 : NULL, acc + b + 16);                    \
            dnnc_lanes_store(a2, b2, tot + b + 32, corr ? corr + b + 32 : NULL, acc + b + 32);                    \
            dnnc_lanes_store(a3, b3, tot + b + 48, corr ? corr + b + 48 : NULL, acc + b + 48);                    \
        }                                                                                                         \
        for (; b < nout; b += DNNC_LANES) {                                                                       \
            const uint32_t *w0 = w + (b / DNNC_LANES) * bstride;                                                  \
            __m512i a0 = _mm512_setzero_si512(), b0 = a0;                                                         \
            for (ky = 0; ky < nrows; ky++) {                                                                      \
                const uint32_t *xr = x + ky * rowstride, *wr = w0 + ky * rowlen * (planes) * DNNC_LANES;          \
                for (j = 0; j < rowlen; j++) {                                                                    \
                    const __m512i xj = _mm512_set1_epi32((int)xr[j]);                                             \
                    DNNC_LANES_STEP(wr, xj, j, planes, kind, a0, b0);                                             \
                }                                                                                                 \
            }                                                                                                     \
            dnnc_lanes_store(a0, b0, tot + b, corr ? corr + b : NULL, acc + b);                                   \
        }                                                                                                         \
    }
DNNC_LANES_KERNEL(dnnc_lanes_binary, 0, 1)
DNNC_LANES_KERNEL(dnnc_lanes_ternary, 1, 2)
DNNC_LANES_KERNEL(dnnc_lanes_quater, 2, 2)
DNNC_LANES_KERNEL(dnnc_lanes_quinary, 3, 3)
#elif defined(DNNC_AVX2)
/* Popcount of every byte: the nibble table with VPSHUFB. */
static inline __m256i dnnc_pop8(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2,
                                         3, 2, 3, 3, 4);
    const __m256i lo = _mm256_set1_epi8(0x0f);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(v, lo)),
                           _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), lo)));
}

/* Byte counts c1 + 2*c2 of one word of 8 lanes (at most 8, or 24 with c2). */
#define DNNC_AVX2_COUNT(w_, xj, kind)                                                                          \
    ((kind) == 0   ? dnnc_pop8(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w_)), xj))                 \
     : (kind) == 1 ? dnnc_pop8(_mm256_and_si256(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w_)), xj), \
                                                _mm256_loadu_si256((const __m256i *)((w_) + 16))))              \
     : (kind) == 2 ? dnnc_avx2_count2(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w_)), xj),        \
                                      _mm256_loadu_si256((const __m256i *)((w_) + 16)))                         \
                   : dnnc_avx2_count3(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w_)), xj),        \
                                      _mm256_loadu_si256((const __m256i *)((w_) + 16)),                         \
                                      _mm256_loadu_si256((const __m256i *)((w_) + 32))))

static inline __m256i dnnc_avx2_count2(__m256i d, __m256i m)
{
    const __m256i c2 = dnnc_pop8(_mm256_and_si256(d, m));
    return _mm256_add_epi8(dnnc_pop8(d), _mm256_add_epi8(c2, c2));
}

static inline __m256i dnnc_avx2_count3(__m256i d, __m256i m1, __m256i m2)
{
    const __m256i c2 = dnnc_pop8(_mm256_and_si256(d, m2));
    return _mm256_add_epi8(dnnc_pop8(_mm256_and_si256(d, m1)), _mm256_add_epi8(c2, c2));
}

/* Sum of the 4 byte counts of each 32-bit lane. */
static inline __m256i dnnc_sum8(__m256i b)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(b, _mm256_set1_epi8(1)), _mm256_set1_epi16(1));
}

/* NB blocks (16 * NB outputs) per pass over x: per-byte counts for up to 31 words (10 with c2: the byte
 * counters must not wrap), then summed into 32-bit lanes with VPMADDUBSW + VPMADDWD. */
#define DNNC_AVX2_PASS(kind, planes, NB)                                                                         \
    do {                                                                                                          \
        const int32_t chunk = (kind) < 2 ? 31 : 10;                                                               \
        const uint32_t *w0 = w + (b / DNNC_LANES) * bstride;                                                      \
        __m256i s_[2 * (NB)], c_[2 * (NB)];                                                                       \
        int32_t k_, left = chunk;                                                                                 \
        for (k_ = 0; k_ < 2 * (NB); k_++) s_[k_] = c_[k_] = _mm256_setzero_si256();                              \
        for (ky = 0; ky < nrows; ky++) {                                                                          \
            const uint32_t *xr = x + ky * rowstride, *wr = w0 + ky * rowlen * (planes) * DNNC_LANES;              \
            for (j = 0; j < rowlen; j++) {                                                                        \
                const __m256i xj = _mm256_set1_epi32((int)xr[j]);                                                 \
                const uint32_t *wj = wr + j * (planes) * DNNC_LANES;                                              \
                for (k_ = 0; k_ < (NB); k_++) {                                                                   \
                    c_[2 * k_] = _mm256_add_epi8(c_[2 * k_], DNNC_AVX2_COUNT(wj + k_ * bstride, xj, kind));        \
                    c_[2 * k_ + 1] = _mm256_add_epi8(c_[2 * k_ + 1], DNNC_AVX2_COUNT(wj + k_ * bstride + 8, xj, kind)); \
                }                                                                                                 \
                if (--left == 0) {                                                                                \
                    for (k_ = 0; k_ < 2 * (NB); k_++) {                                                           \
                        s_[k_] = _mm256_add_epi32(s_[k_], dnnc_sum8(c_[k_]));                                     \
                        c_[k_] = _mm256_setzero_si256();                                                          \
                    }                                                                                             \
                    left = chunk;                                                                                 \
                }                                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
        for (k_ = 0; k_ < 2 * (NB); k_++) {                                                                       \
            const int32_t o_ = b + 8 * k_;                                                                        \
            __m256i a_ = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(tot + o_)),                       \
                                          _mm256_slli_epi32(_mm256_add_epi32(s_[k_], dnnc_sum8(c_[k_])), 1));     \
            if (corr) a_ = _mm256_add_epi32(a_, _mm256_loadu_si256((const __m256i *)(corr + o_)));              \
            _mm256_storeu_si256((__m256i *)(acc + o_), a_);                                                       \
        }                                                                                                         \
    } while (0)

#define DNNC_LANES_KERNEL(fname, kind, planes)                                                                   \
    static inline void fname(const uint32_t *w, const int32_t *tot, const int32_t *corr, const uint32_t *x,       \
                             int32_t rowlen, int32_t rowstride, int32_t nrows, int32_t nout, int32_t *acc)        \
    {                                                                                                             \
        const int32_t bstride = rowlen * nrows * (planes) * DNNC_LANES;                                           \
        int32_t b = 0, j, ky;                                                                                     \
        for (; b + DNNC_AVX2_NB * DNNC_LANES <= nout; b += DNNC_AVX2_NB * DNNC_LANES)                             \
            DNNC_AVX2_PASS(kind, planes, DNNC_AVX2_NB);                                                           \
        for (; b < nout; b += DNNC_LANES) DNNC_AVX2_PASS(kind, planes, 1);                                        \
    }
#ifndef DNNC_AVX2_NB
#define DNNC_AVX2_NB 2 /* blocks per pass */
#endif
DNNC_LANES_KERNEL(dnnc_lanes_binary, 0, 1)
DNNC_LANES_KERNEL(dnnc_lanes_ternary, 1, 2)
DNNC_LANES_KERNEL(dnnc_lanes_quater, 2, 2)
DNNC_LANES_KERNEL(dnnc_lanes_quinary, 3, 3)
#elif defined(DNNC_NEON)
/* Byte counts c1 + 2*c2 of one word of 4 lanes (VCNT per byte; at most 8, or 24 with c2). */
static inline uint8x16_t dnnc_neon_count(const uint32_t *w_, uint8x16_t xj, int32_t kind)
{
    const uint8x16_t d = veorq_u8(vreinterpretq_u8_u32(vld1q_u32(w_)), xj);
    if (kind == 0) return vcntq_u8(d);
    if (kind == 1) return vcntq_u8(vandq_u8(d, vreinterpretq_u8_u32(vld1q_u32(w_ + 16))));
    if (kind == 2) {
        const uint8x16_t c2 = vcntq_u8(vandq_u8(d, vreinterpretq_u8_u32(vld1q_u32(w_ + 16))));
        return vaddq_u8(vcntq_u8(d), vaddq_u8(c2, c2));
    }
    {
        const uint8x16_t c2 = vcntq_u8(vandq_u8(d, vreinterpretq_u8_u32(vld1q_u32(w_ + 32))));
        return vaddq_u8(vcntq_u8(vandq_u8(d, vreinterpretq_u8_u32(vld1q_u32(w_ + 16)))), vaddq_u8(c2, c2));
    }
}

/* One block (16 lanes, four registers) per pass: byte counts for up to 31 words (10 with c2), then widened
 * into 32-bit lanes with UADDLP / UADALP. */
#define DNNC_LANES_KERNEL(fname, kind, planes)                                                                   \
    static inline void fname(const uint32_t *w, const int32_t *tot, const int32_t *corr, const uint32_t *x,       \
                             int32_t rowlen, int32_t rowstride, int32_t nrows, int32_t nout, int32_t *acc)        \
    {                                                                                                             \
        const int32_t bstride = rowlen * nrows * (planes) * DNNC_LANES, chunk = (kind) < 2 ? 31 : 10;             \
        int32_t b, j, ky, k;                                                                                      \
        for (b = 0; b < nout; b += DNNC_LANES) {                                                                  \
            const uint32_t *w0 = w + (b / DNNC_LANES) * bstride;                                                  \
            uint32x4_t s[4];                                                                                      \
            uint8x16_t c[4];                                                                                      \
            int32_t left = chunk;                                                                                 \
            for (k = 0; k < 4; k++) {                                                                             \
                s[k] = vdupq_n_u32(0);                                                                            \
                c[k] = vdupq_n_u8(0);                                                                             \
            }                                                                                                     \
            for (ky = 0; ky < nrows; ky++) {                                                                      \
                const uint32_t *xr = x + ky * rowstride, *wr = w0 + ky * rowlen * (planes) * DNNC_LANES;          \
                for (j = 0; j < rowlen; j++) {                                                                    \
                    const uint8x16_t xj = vreinterpretq_u8_u32(vdupq_n_u32(xr[j]));                               \
                    const uint32_t *wj = wr + j * (planes) * DNNC_LANES;                                          \
                    for (k = 0; k < 4; k++) c[k] = vaddq_u8(c[k], dnnc_neon_count(wj + 4 * k, xj, kind));         \
                    if (--left == 0) {                                                                            \
                        for (k = 0; k < 4; k++) {                                                                 \
                            s[k] = vpadalq_u16(s[k], vpaddlq_u8(c[k]));                                           \
                            c[k] = vdupq_n_u8(0);                                                                 \
                        }                                                                                         \
                        left = chunk;                                                                             \
                    }                                                                                             \
                }                                                                                                 \
            }                                                                                                     \
            for (k = 0; k < 4; k++) {                                                                             \
                const int32_t o = b + 4 * k;                                                                      \
                const uint32x4_t cnt = vpadalq_u16(s[k], vpaddlq_u8(c[k]));                                       \
                int32x4_t a = vsubq_s32(vld1q_s32(tot + o), vreinterpretq_s32_u32(vshlq_n_u32(cnt, 1)));          \
                if (corr) a = vaddq_s32(a, vld1q_s32(corr + o));                                                  \
                vst1q_s32(acc + o, a);                                                                            \
            }                                                                                                     \
        }                                                                                                         \
    }
DNNC_LANES_KERNEL(dnnc_lanes_binary, 0, 1)
DNNC_LANES_KERNEL(dnnc_lanes_ternary, 1, 2)
DNNC_LANES_KERNEL(dnnc_lanes_quater, 2, 2)
DNNC_LANES_KERNEL(dnnc_lanes_quinary, 3, 3)
#endif

/* acc[o] = sum_i w[o][i] x[i] (+ corr[o]) for nout outputs (a multiple of 16). x: nrows rows of rowlen words,
 * rowstride words apart (a conv window in a padded image; a dense layer is one row); w in the same word order. */
static inline void dnnc_lanes_rows(int32_t kind, int32_t planes, const uint32_t *w, const int32_t *tot,
                                   const int32_t *corr, const uint32_t *x, int32_t rowlen, int32_t rowstride,
                                   int32_t nrows, int32_t nout, int32_t *acc)
{
#if defined(DNNC_AVX512) || defined(DNNC_AVX2) || defined(DNNC_NEON)
    (void)planes;
    switch (kind) {
    case 0: dnnc_lanes_binary(w, tot, corr, x, rowlen, rowstride, nrows, nout, acc); break;
    case 1: dnnc_lanes_ternary(w, tot, corr, x, rowlen, rowstride, nrows, nout, acc); break;
    case 2: dnnc_lanes_quater(w, tot, corr, x, rowlen, rowstride, nrows, nout, acc); break;
    default: dnnc_lanes_quinary(w, tot, corr, x, rowlen, rowstride, nrows, nout, acc); break;
    }
#else
    const int32_t bstride = rowlen * nrows * planes * DNNC_LANES, rstride = rowlen * planes * DNNC_LANES;
    int32_t b, ky;
    for (b = 0; b < nout; b++) {
        const uint32_t *wb = w + (b / DNNC_LANES) * bstride;
        uint32_t cnt = 0;
        for (ky = 0; ky < nrows; ky++)
            cnt += dnnc_lane_count(kind, wb + ky * rstride, planes, x + ky * rowstride, rowlen, b % DNNC_LANES);
        acc[b] = tot[b] - 2 * (int32_t)cnt + (corr ? corr[b] : 0);
    }
#endif
}

/* Dense layer on packed x of n words. */
static inline void dnnc_lanes_bits(int32_t kind, int32_t planes, const uint32_t *w, const int32_t *tot,
                                   const uint32_t *x, int32_t n, int32_t nout, int32_t *acc)
{
    dnnc_lanes_rows(kind, planes, w, tot, NULL, x, n, n, 1, nout, acc);
}

/* First dense layer on the raw input, weights as bit-packed codes d (weight = a * d + b; every dnnc weight set
 * is affine in its sorted index: binary 2d-1, ternary d-1, quaternary 2d-3, quinary d-2), `bits` = 1, 2, 4 or 8
 * bits per code, R = 8 / bits codes per byte. Layout [blk][g][16][4] bytes: bits [bits*r, bits*(r+1)) of byte
 * (l, e) hold the code of input 4 * (R*g + r) + e for output lane l (codes past nin are 0). Fewer bytes than
 * int8 weights (a quarter for ternary) keep the layer in the L2 cache; VGF2P8AFFINEQB extracts one code plane.
 *
 * With p' = p - 128 (signed bytes) and D = sum_i d_i p'_i (VPDPBUSD: unsigned codes times signed inputs):
 *     acc[o] = amul * D[o] + bmul * P + kconst[o],   P = sum_i p_i,
 * amul = mul * a, bmul = mul * b, kconst[o] = mul * a * 128 * sum_i d_i + add * rowsum[o] (compile time). */
static inline int32_t dnnc_code_at(const uint8_t *wb, int32_t bits, int32_t i)
{
    const int32_t r_per = 8 / bits, q = i / 4, e = i % 4;
    return (wb[(q / r_per) * 4 * DNNC_LANES + e] >> (bits * (q % r_per))) & ((1 << bits) - 1);
}

#if defined(DNNC_AVX512)
/* The GF(2) affine matrix moving bits [bits*r, bits*(r+1)) of every byte to its low bits (others 0). */
static inline __m512i dnnc_code_plane(int32_t bits, int32_t r)
{
    uint64_t m = 0;
    int32_t i;
    for (i = 0; i < bits; i++) m |= (uint64_t)(1u << (bits * r + i)) << (8 * (7 - i));
    return _mm512_set1_epi64((long long)m);
}

#define DNNC_CODES_DECODE(V, r, R, mats) ((R) == 1 ? (V) : _mm512_gf2p8affine_epi64_epi8((V), mats[r], 0))

#define DNNC_LANES_U8_KERNEL(fname, BITS)                                                                        \
    static inline void fname(const uint8_t *w, const uint8_t *raw, int32_t nin, int32_t nout, int32_t *d_out)     \
    {                                                                                                             \
        enum { R = 8 / (BITS), GIN = 4 * (8 / (BITS)) }; /* codes per byte, inputs per group */                   \
        const int32_t ng = (nin + GIN - 1) / GIN, bstride = ng * 64;                                              \
        const __m512i flip = _mm512_set1_epi32((int)0x80808080u);                                                 \
        __m512i mats[R], x[R];                                                                                    \
        uint8_t tail[GIN];                                                                                        \
        int32_t b, g, r;                                                                                          \
        for (r = 0; r < R; r++) mats[r] = dnnc_code_plane(BITS, r);                                               \
        memset(tail, 0, sizeof tail);                                                                             \
        memcpy(tail, raw + (ng - 1) * GIN, (size_t)(nin - (ng - 1) * GIN));                                       \
        for (b = 0; b < nout; b += 4 * DNNC_LANES) {                                                              \
            const uint8_t *w0 = w + (b / DNNC_LANES) * bstride;                                                   \
            const int32_t nb = nout - b < 4 * DNNC_LANES ? (nout - b) / DNNC_LANES : 4;                           \
            __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;                                       \
            for (g = 0; g < ng; g++) {                                                                            \
                const uint8_t *src = g == ng - 1 ? tail : raw + g * GIN;                                          \
                for (r = 0; r < R; r++)                                                                           \
                    x[r] = _mm512_xor_si512(_mm512_set1_epi32((int)dnnc_load_u32(src + 4 * r)), flip);            \
                {                                                                                                 \
                    const uint8_t *wg = w0 + g * 64;                                                              \
                    const __m512i v0 = _mm512_loadu_si512(wg);                                                    \
                    const __m512i v1 = nb > 1 ? _mm512_loadu_si512(wg + bstride) : v0;                           \
                    const __m512i v2 = nb > 2 ? _mm512_loadu_si512(wg + 2 * bstride) : v0;                       \
                    const __m512i v3 = nb > 3 ? _mm512_loadu_si512(wg + 3 * bstride) : v0;                       \
                    for (r = 0; r < R; r++) {                                                                     \
                        a0 = _mm512_dpbusd_epi32(a0, DNNC_CODES_DECODE(v0, r, R, mats), x[r]);                    \
                        if (nb > 1) a1 = _mm512_dpbusd_epi32(a1, DNNC_CODES_DECODE(v1, r, R, mats), x[r]);        \
                        if (nb > 2) a2 = _mm512_dpbusd_epi32(a2, DNNC_CODES_DECODE(v2, r, R, mats), x[r]);        \
                        if (nb > 3) a3 = _mm512_dpbusd_epi32(a3, DNNC_CODES_DECODE(v3, r, R, mats), x[r]);        \
                    }                                                                                             \
                }                                                                                                 \
            }                                                                                                     \
            _mm512_storeu_si512(d_out + b, a0);                                                                   \
            if (nb > 1) _mm512_storeu_si512(d_out + b + 16, a1);                                                  \
            if (nb > 2) _mm512_storeu_si512(d_out + b + 32, a2);                                                  \
            if (nb > 3) _mm512_storeu_si512(d_out + b + 48, a3);                                                  \
        }                                                                                                         \
    }
DNNC_LANES_U8_KERNEL(dnnc_lanes_codes1, 1)
DNNC_LANES_U8_KERNEL(dnnc_lanes_codes2, 2)
DNNC_LANES_U8_KERNEL(dnnc_lanes_codes4, 4)
DNNC_LANES_U8_KERNEL(dnnc_lanes_codes8, 8)
#elif defined(DNNC_AVX2)
/* Codes of 1, 2 or 4 bits (VPMADDUBSW: unsigned codes times signed p - 128, at most 15 * 128 * 2 per int16, so
 * the R code planes of a group sum in int16 before one VPMADDWD); 8-bit codes would saturate VPMADDUBSW and
 * take the plain C loop. Two blocks (four registers) per pass. */
/* Groups whose int16 sums can be added before VPMADDWD: a group's pair sums are at most R * 2 * (2^BITS - 1) * 128
 * (8 * 256, 4 * 768 or 2 * 3840) */
#define DNNC_U8_GROUPS(BITS) ((BITS) == 1 ? 15 : (BITS) == 2 ? 10 : 4)
#define DNNC_LANES_U8_KERNEL(fname, BITS)                                                                        \
    static inline void fname(const uint8_t *w, const uint8_t *raw, int32_t nin, int32_t nout, int32_t *d_out)     \
    {                                                                                                             \
        enum { R = 8 / (BITS), GIN = 4 * (8 / (BITS)) };                                                          \
        const int32_t ng = (nin + GIN - 1) / GIN, bstride = ng * 64;                                              \
        const __m256i flip = _mm256_set1_epi32((int)0x80808080u), ones = _mm256_set1_epi16(1);                   \
        const __m256i mask = _mm256_set1_epi8((char)((1 << (BITS)) - 1));                                         \
        __m256i x[R];                                                                                             \
        uint8_t tail[GIN];                                                                                        \
        int32_t b, g, r, k;                                                                                       \
        memset(tail, 0, sizeof tail);                                                                             \
        memcpy(tail, raw + (ng - 1) * GIN, (size_t)(nin - (ng - 1) * GIN));                                       \
        for (b = 0; b < nout; b += 2 * DNNC_LANES) {                                                              \
            const uint8_t *w0 = w + (b / DNNC_LANES) * bstride;                                                   \
            const int32_t nv = nout - b >= 2 * DNNC_LANES ? 4 : 2; /* registers of 8 lanes */                     \
            __m256i a[4], h[4];                                                                                   \
            int32_t left = DNNC_U8_GROUPS(BITS);                                                                  \
            for (k = 0; k < 4; k++) a[k] = h[k] = _mm256_setzero_si256();                                         \
            for (g = 0; g < ng; g++) {                                                                            \
                const uint8_t *src = g == ng - 1 ? tail : raw + g * GIN;                                          \
                for (r = 0; r < R; r++)                                                                           \
                    x[r] = _mm256_xor_si256(_mm256_set1_epi32((int)dnnc_load_u32(src + 4 * r)), flip);            \
                for (k = 0; k < nv; k++) {                                                                        \
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(w0 + (k / 2) * bstride + g * 64 + (k % 2) * 32)); \
                    __m256i t = _mm256_maddubs_epi16(_mm256_and_si256(v, mask), x[0]);                            \
                    for (r = 1; r < R; r++)                                                                       \
                        t = _mm256_add_epi16(                                                                     \
                            t, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, (BITS) * r), mask), x[r])); \
                    h[k] = _mm256_add_epi16(h[k], t);                                                             \
                }                                                                                                 \
                if (--left == 0 || g == ng - 1) { /* int16 sums of up to DNNC_U8_GROUPS groups, then int32 */     \
                    for (k = 0; k < nv; k++) {                                                                    \
                        a[k] = _mm256_add_epi32(a[k], _mm256_madd_epi16(h[k], ones));                             \
                        h[k] = _mm256_setzero_si256();                                                            \
                    }                                                                                             \
                    left = DNNC_U8_GROUPS(BITS);                                                                  \
                }                                                                                                 \
            }                                                                                                     \
            for (k = 0; k < nv; k++) _mm256_storeu_si256((__m256i *)(d_out + b + 8 * k), a[k]);                  \
        }                                                                                                         \
    }
DNNC_LANES_U8_KERNEL(dnnc_lanes_codes1, 1)
DNNC_LANES_U8_KERNEL(dnnc_lanes_codes2, 2)
DNNC_LANES_U8_KERNEL(dnnc_lanes_codes4, 4)
#elif defined(DNNC_NEON)
/* Codes of 1, 2 or 4 bits times p - 128 with SMLAL (codes are below 16, so also valid signed bytes), the R code
 * planes of a group summed in int16 (at most 8 * 128 or 2 * 15 * 128), then SADALP into int32 pairs that one
 * ADDP per four lanes completes. One block (four registers of 4 lanes) per pass; 8-bit codes take plain C. */
static inline void dnnc_lanes_codes_neon(const uint8_t *w, int32_t bits, const uint8_t *raw, int32_t nin,
                                         int32_t nout, int32_t *d_out)
{
    const int32_t R = 8 / bits, gin = 4 * R, ng = (nin + gin - 1) / gin, bstride = ng * 64;
    const uint8x16_t mask = vdupq_n_u8((uint8_t)((1 << bits) - 1));
    const int8x16_t flip = vreinterpretq_s8_u32(vdupq_n_u32(0x80808080u));
    int8x16_t x[8];
    uint8_t tail[32];
    int32_t b, g, r, k;
    memset(tail, 0, sizeof tail);
    memcpy(tail, raw + (ng - 1) * gin, (size_t)(nin - (ng - 1) * gin));
    for (b = 0; b < nout; b += DNNC_LANES) {
        const uint8_t *w0 = w + (b / DNNC_LANES) * bstride;
        int32x4_t lo[4], hi[4];
        for (k = 0; k < 4; k++) lo[k] = hi[k] = vdupq_n_s32(0);
        for (g = 0; g < ng; g++) {
            const uint8_t *src = g == ng - 1 ? tail : raw + g * gin;
            for (r = 0; r < R; r++)
                x[r] = veorq_s8(vreinterpretq_s8_u32(vdupq_n_u32(dnnc_load_u32(src + 4 * r))), flip);
            for (k = 0; k < 4; k++) {
                const uint8x16_t v = vld1q_u8(w0 + g * 64 + 16 * k);
                int16x8_t tl = vdupq_n_s16(0), th = tl;
                for (r = 0; r < R; r++) {
                    const int8x16_t code = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(v, vdupq_n_s8((int8_t)(-bits * r))), mask));
                    tl = vmlal_s8(tl, vget_low_s8(code), vget_low_s8(x[r]));
                    th = vmlal_high_s8(th, code, x[r]);
                }
                lo[k] = vpadalq_s16(lo[k], tl);
                hi[k] = vpadalq_s16(hi[k], th);
            }
        }
        for (k = 0; k < 4; k++) vst1q_s32(d_out + b + 4 * k, vpaddq_s32(lo[k], hi[k]));
    }
}
#endif

/* The portable loop of dnnc_lanes_u8: D[o] for nout outputs. */
static inline void dnnc_lanes_u8_c(const uint8_t *w, int32_t bits, int32_t nin, int32_t nout, const uint8_t *raw,
                                   int32_t *acc)
{
    const int32_t gin = 4 * (8 / bits), bstride = (nin + gin - 1) / gin * 64;
    int32_t o, i;
    for (o = 0; o < nout; o++) {
        const uint8_t *wb = w + (o / DNNC_LANES) * bstride + (o % DNNC_LANES) * 4;
        int32_t d = 0;
        for (i = 0; i < nin; i++) d += dnnc_code_at(wb, bits, i) * ((int32_t)raw[i] - 128);
        acc[o] = d;
    }
}

/* acc[o] for nout outputs (a multiple of 16); see above. */
static inline void dnnc_lanes_u8(const uint8_t *w, int32_t bits, const int32_t *kconst, int32_t amul, int32_t bmul,
                                 int32_t nin, int32_t nout, const uint8_t *raw, int32_t *acc)
{
    int32_t psum = 0, i, o;
    for (i = 0; i < nin; i++) psum += raw[i];
#if defined(DNNC_AVX512)
    switch (bits) {
    case 1: dnnc_lanes_codes1(w, raw, nin, nout, acc); break;
    case 2: dnnc_lanes_codes2(w, raw, nin, nout, acc); break;
    case 4: dnnc_lanes_codes4(w, raw, nin, nout, acc); break;
    default: dnnc_lanes_codes8(w, raw, nin, nout, acc); break;
    }
#elif defined(DNNC_AVX2)
    switch (bits) {
    case 1: dnnc_lanes_codes1(w, raw, nin, nout, acc); break;
    case 2: dnnc_lanes_codes2(w, raw, nin, nout, acc); break;
    case 4: dnnc_lanes_codes4(w, raw, nin, nout, acc); break;
    default: dnnc_lanes_u8_c(w, bits, nin, nout, raw, acc); break;
    }
#elif defined(DNNC_NEON)
    if (bits < 8)
        dnnc_lanes_codes_neon(w, bits, raw, nin, nout, acc);
    else
        dnnc_lanes_u8_c(w, bits, nin, nout, raw, acc);
#else
    dnnc_lanes_u8_c(w, bits, nin, nout, raw, acc);
#endif
    for (o = 0; o < nout; o++) acc[o] = amul * acc[o] + bmul * psum + kconst[o];
}

/* First conv layer, one pool window of npix conv pixels: mx[o] = max over the pixels k of
 *     mul * (sum over (c, ky, kx) of w * p at the window starting at base[k]) + pc[k][o],
 * base[k] pointing into the zero-padded raw image (row pitch wp, plane pitch plane, 3 readable bytes past
 * the end), pc[k] the pixel's border-pattern constant (in_add * the sum of the weights of its valid taps:
 * padding is u = 0, not p = 0). Taps in quads of 4 per kernel row (taps past kw have weight 0), weights
 * [blk][c][ky][kq][16][4] int8. Up to 4 pixels x 2 blocks are summed at once: independent VPDPBUSD chains. */
/* How many VPMADDUBSW results (a pair of u8 x s8 products each) of the taps w (n bytes) an int16 can sum
 * without overflow: 32767 / (2 * 255 * max |w|), 0 when one pair alone could saturate (max |w| > 64). The
 * conv driver asks once per layer call; only AVX2 builds use it. */
static inline int32_t dnnc_lanes_i8_quads(const int8_t *w, int32_t n)
{
    int32_t i, m = 1;
    for (i = 0; i < n; i++) m = w[i] > m ? w[i] : -w[i] > m ? -w[i] : m;
    return m > 64 ? 0 : 32767 / (510 * m);
}

static inline void dnnc_lanes_conv_u8(const int8_t *w, const uint8_t *const *base, const int32_t *const *pc,
                                      int32_t npix, int32_t in_c, int32_t kh, int32_t kq, int32_t wp, int32_t plane,
                                      int32_t mul, int32_t nout, int32_t wsmall, int32_t *mx)
{
    const int32_t bstride = in_c * kh * kq * 4 * DNNC_LANES;
    int32_t b, c, ky, q, k0;
#if defined(DNNC_AVX512)
    const __m512i vm = _mm512_set1_epi32(mul);
    for (b = 0; b < nout; b += 2 * DNNC_LANES) {
        const int two = nout - b >= 2 * DNNC_LANES;
        __m512i m0 = _mm512_setzero_si512(), m1 = m0;
        for (k0 = 0; k0 < npix; k0 += 4) {
            const int32_t np = npix - k0 < 4 ? npix - k0 : 4;
            const uint8_t *p0 = base[k0], *p1 = base[k0 + (np > 1)], *p2 = base[k0 + 2 * (np > 2)],
                          *p3 = base[k0 + 3 * (np > 3)];
            const int8_t *wb = w + (b / DNNC_LANES) * bstride;
            __m512i a[8];
            int32_t k;
            for (k = 0; k < 8; k++) a[k] = _mm512_setzero_si512();
            for (c = 0; c < in_c; c++)
                for (ky = 0; ky < kh; ky++) {
                    const int32_t off = c * plane + ky * wp;
                    for (q = 0; q < kq; q++, wb += 4 * DNNC_LANES) {
                        const __m512i w0 = _mm512_loadu_si512(wb);
                        const __m512i w1 = two ? _mm512_loadu_si512(wb + bstride) : w0;
                        const __m512i x0 = _mm512_set1_epi32((int)dnnc_load_u32(p0 + off + 4 * q));
                        const __m512i x1 = _mm512_set1_epi32((int)dnnc_load_u32(p1 + off + 4 * q));
                        const __m512i x2 = _mm512_set1_epi32((int)dnnc_load_u32(p2 + off + 4 * q));
                        const __m512i x3 = _mm512_set1_epi32((int)dnnc_load_u32(p3 + off + 4 * q));
                        a[0] = _mm512_dpbusd_epi32(a[0], x0, w0);
                        a[1] = _mm512_dpbusd_epi32(a[1], x1, w0);
                        a[2] = _mm512_dpbusd_epi32(a[2], x2, w0);
                        a[3] = _mm512_dpbusd_epi32(a[3], x3, w0);
                        if (two) {
                            a[4] = _mm512_dpbusd_epi32(a[4], x0, w1);
                            a[5] = _mm512_dpbusd_epi32(a[5], x1, w1);
                            a[6] = _mm512_dpbusd_epi32(a[6], x2, w1);
                            a[7] = _mm512_dpbusd_epi32(a[7], x3, w1);
                        }
                    }
                }
            for (k = 0; k < np; k++) {
                const __m512i r0 = _mm512_add_epi32(_mm512_mullo_epi32(a[k], vm), _mm512_loadu_si512(pc[k0 + k] + b));
                m0 = k0 + k == 0 ? r0 : _mm512_max_epi32(m0, r0);
                if (two) {
                    const __m512i r1 = _mm512_add_epi32(_mm512_mullo_epi32(a[4 + k], vm),
                                                        _mm512_loadu_si512(pc[k0 + k] + b + DNNC_LANES));
                    m1 = k0 + k == 0 ? r1 : _mm512_max_epi32(m1, r1);
                }
            }
        }
        _mm512_storeu_si512(mx + b, m0);
        if (two) _mm512_storeu_si512(mx + b + DNNC_LANES, m1);
    }
    (void)wsmall;
#else
#if defined(DNNC_AVX2)
    /* VPMADDUBSW (pixels u8 x taps s8, pairs in int16), summed in int16 for up to wsmall quads, then VPMADDWD
     * into int32: one block (two registers) x 4 pixels */
    if (wsmall) {
        const __m256i vm = _mm256_set1_epi32(mul), ones = _mm256_set1_epi16(1);
        for (b = 0; b < nout; b += DNNC_LANES) {
            __m256i m0 = _mm256_setzero_si256(), m1 = m0;
            for (k0 = 0; k0 < npix; k0 += 4) {
                const int32_t np = npix - k0 < 4 ? npix - k0 : 4;
                const uint8_t *p0 = base[k0], *p1 = base[k0 + (np > 1)], *p2 = base[k0 + 2 * (np > 2)],
                              *p3 = base[k0 + 3 * (np > 3)];
                const int8_t *wb = w + (b / DNNC_LANES) * bstride;
                __m256i a[8], t[8];
                int32_t k, used = 0;
                for (k = 0; k < 8; k++) a[k] = t[k] = _mm256_setzero_si256();
                for (c = 0; c < in_c; c++)
                    for (ky = 0; ky < kh; ky++) {
                        const int32_t off = c * plane + ky * wp;
                        if (used + kq > wsmall) {
                            for (k = 0; k < 8; k++) {
                                a[k] = _mm256_add_epi32(a[k], _mm256_madd_epi16(t[k], ones));
                                t[k] = _mm256_setzero_si256();
                            }
                            used = 0;
                        }
                        used += kq;
                        for (q = 0; q < kq; q++, wb += 4 * DNNC_LANES) {
                            const __m256i w0 = _mm256_loadu_si256((const __m256i *)wb);
                            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wb + 32));
                            const __m256i x0 = _mm256_set1_epi32((int)dnnc_load_u32(p0 + off + 4 * q));
                            const __m256i x1 = _mm256_set1_epi32((int)dnnc_load_u32(p1 + off + 4 * q));
                            const __m256i x2 = _mm256_set1_epi32((int)dnnc_load_u32(p2 + off + 4 * q));
                            const __m256i x3 = _mm256_set1_epi32((int)dnnc_load_u32(p3 + off + 4 * q));
                            t[0] = _mm256_add_epi16(t[0], _mm256_maddubs_epi16(x0, w0));
                            t[1] = _mm256_add_epi16(t[1], _mm256_maddubs_epi16(x0, w1));
                            t[2] = _mm256_add_epi16(t[2], _mm256_maddubs_epi16(x1, w0));
                            t[3] = _mm256_add_epi16(t[3], _mm256_maddubs_epi16(x1, w1));
                            t[4] = _mm256_add_epi16(t[4], _mm256_maddubs_epi16(x2, w0));
                            t[5] = _mm256_add_epi16(t[5], _mm256_maddubs_epi16(x2, w1));
                            t[6] = _mm256_add_epi16(t[6], _mm256_maddubs_epi16(x3, w0));
                            t[7] = _mm256_add_epi16(t[7], _mm256_maddubs_epi16(x3, w1));
                        }
                    }
                for (k = 0; k < 8; k++) a[k] = _mm256_add_epi32(a[k], _mm256_madd_epi16(t[k], ones));
                for (k = 0; k < np; k++) {
                    const int32_t *pk = pc[k0 + k] + b;
                    const __m256i r0 = _mm256_add_epi32(_mm256_mullo_epi32(a[2 * k], vm),
                                                        _mm256_loadu_si256((const __m256i *)pk));
                    const __m256i r1 = _mm256_add_epi32(_mm256_mullo_epi32(a[2 * k + 1], vm),
                                                        _mm256_loadu_si256((const __m256i *)(pk + 8)));
                    m0 = k0 + k == 0 ? r0 : _mm256_max_epi32(m0, r0);
                    m1 = k0 + k == 0 ? r1 : _mm256_max_epi32(m1, r1);
                }
            }
            _mm256_storeu_si256((__m256i *)(mx + b), m0);
            _mm256_storeu_si256((__m256i *)(mx + b + 8), m1);
        }
        return;
    }
#elif defined(DNNC_NEON)
    /* Products in int16 (255 * 128 fits), SADALP into int32 pairs, ADDP per four lanes; one pixel at a time */
    (void)wsmall;
    for (b = 0; b < nout; b += DNNC_LANES) {
        int32x4_t m[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
        for (k0 = 0; k0 < npix; k0++) {
            const int8_t *wb = w + (b / DNNC_LANES) * bstride;
            int32x4_t a[8];
            int32_t k;
            for (k = 0; k < 8; k++) a[k] = vdupq_n_s32(0);
            for (c = 0; c < in_c; c++)
                for (ky = 0; ky < kh; ky++) {
                    const uint8_t *row = base[k0] + c * plane + ky * wp;
                    for (q = 0; q < kq; q++, wb += 4 * DNNC_LANES) {
                        const int16x8_t p = vreinterpretq_s16_u16(
                            vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(dnnc_load_u32(row + 4 * q)))));
                        for (k = 0; k < 4; k++) {
                            const int8x16_t wv = vld1q_s8(wb + 16 * k);
                            a[2 * k] = vpadalq_s16(a[2 * k], vmulq_s16(vmovl_s8(vget_low_s8(wv)), p));
                            a[2 * k + 1] = vpadalq_s16(a[2 * k + 1], vmulq_s16(vmovl_high_s8(wv), p));
                        }
                    }
                }
            for (k = 0; k < 4; k++) {
                const int32x4_t r = vaddq_s32(vmulq_n_s32(vpaddq_s32(a[2 * k], a[2 * k + 1]), mul),
                                              vld1q_s32(pc[k0] + b + 4 * k));
                m[k] = k0 == 0 ? r : vmaxq_s32(m[k], r);
            }
        }
        for (k0 = 0; k0 < 4; k0++) vst1q_s32(mx + b + 4 * k0, m[k0]);
    }
    return;
#else
    (void)wsmall;
#endif
    for (b = 0; b < nout; b++) {
        for (k0 = 0; k0 < npix; k0++) {
            const int8_t *wb = w + (b / DNNC_LANES) * bstride + (b % DNNC_LANES) * 4;
            int32_t sum = 0, e, r;
            for (c = 0; c < in_c; c++)
                for (ky = 0; ky < kh; ky++) {
                    const uint8_t *row = base[k0] + c * plane + ky * wp;
                    for (q = 0; q < kq; q++, wb += 4 * DNNC_LANES)
                        for (e = 0; e < 4; e++) sum += (int32_t)wb[e] * (int32_t)row[4 * q + e];
                }
            r = mul * sum + pc[k0][b];
            mx[b] = k0 == 0 || r > mx[b] ? r : mx[b];
        }
    }
#endif
}

/* mx[o] = acc[o] (first pixel of a pool window) or max(mx[o], acc[o]), n a multiple of 16. */
static inline void dnnc_lanes_max(const int32_t *acc, int32_t *mx, int32_t n, int32_t first)
{
    int32_t o;
    if (first) {
        memcpy(mx, acc, sizeof(int32_t) * (size_t)n);
        return;
    }
    for (o = 0; o < n; o++) mx[o] = acc[o] > mx[o] ? acc[o] : mx[o];
}

#endif /* DNNC_LANES_H */
