/* dnnc runtime: conv layers in the pixel-lane layout, chosen by the compiler for AVX2 hosts (docs/targets/host.md,
 * "Pixel lanes"). C99, header only; the AVX2 code needs GNU C (inline assembly), the portable loops compute the
 * same integers anywhere.
 *
 * Why: without AVX-512's VPOPCNTD, the output-lane kernels of dnnc_lanes.h count bits with a nibble table, 8 µops
 * per 256 products. Here the vector lanes are conv pixels: one VPSHUFB looks up, for 32 pixels at once, the dot
 * product of 4 input channels with the 4 weights of one output and tap (a 16-entry table per weight nibble, made
 * by the compiler), and one VPADDB sums it: 2 µops per 128 products, for every weight set. The first conv on the
 * raw image sums tap pairs of 16 pixels with VPMADDUBSW the same way. Padding is exact (a padded nibble reads 0;
 * the raw image is zero-padded and the input affine's offset goes into the thresholds). Each conv pixel is compared
 * with its own int16 threshold as soon as it is summed; max-pool is then an OR of those bits (the maximum is >= t
 * exactly when one pixel is), and 32 x 32 bit transposes turn them into the HWC words of dnnc_bitact.h.
 *
 *   packed input  ptab [out_c2][kh][kw][8*in_wpp][16] int8  entry v: h = (e - parity) / 2, e the sum over the 4
 *                                                           channels of nibble g of w * (bit of v ? +1 : -1) (its
 *                                                           parity does not depend on v; halved, the int8 sums run
 *                                                           twice as long); channels past in_c weigh 0;
 *                                                           out_c2 = out_c rounded up to even (zero tables)
 *                 pthr [out_c][words][2][16] int16           per register of 32 pixels, even then odd pixels: the
 *                                                           bit is sum(h) > pthr (the valid taps' parities folded
 *                                                           in by the compiler)
 *   raw input     pw2  [out_c2][ceil(in_c*kh*kw/2)] uint32    taps 2j, 2j+1 of (c, ky, kx) order as int8, twice;
 *                                                           negated when in_mul < 0
 *                 pthr [out_c][conv pixels, to 32] int16      the pixel's bit is sum > pthr (the compiler folds
 *                                                           in_mul, the border pattern's offset and thr into it)
 *
 * Only stride 1 and conv_w <= 32 (one row of bits fits a word); the compiler checks the int16 sums cannot wrap.
 */
#ifndef DNNC_PIXCONV_H
#define DNNC_PIXCONV_H

#include <stdint.h>
#include <string.h>

#if defined(__AVX2__) && defined(__GNUC__) && !defined(DNNC_NO_SIMD)
#define DNNC_PIX_AVX2 1
#include <immintrin.h>
#endif

/* Byte index that reads 0 from every table (VPSHUFB zeroes a lane whose index has bit 7 set): zero padding. */
#define DNNC_PIX_PAD 0x80

/* Packed input: the row pitch of the planes in pixels. conv_w rounded up to 16 where that adds no register of 32
 * pixels: the loads of a pixel register then start 16-byte aligned and fewer cross a cache line. */
static inline int32_t dnnc_pix_pitch(const dnnc_conv_t *L)
{
    const int32_t p16 = (L->conv_w + 15) / 16 * 16;
    return (L->conv_h * p16 + 31) / 32 == (L->conv_h * L->conv_w + 31) / 32 ? p16 : L->conv_w;
}

/* Words of conv-pixel bits per output: the rows back to back (raw input) or at the pitch (packed input). */
static inline int32_t dnnc_pix_row_words(const dnnc_conv_t *L)
{
    return L->in_u8 ? (L->conv_h * L->conv_w + 31) / 32 : (L->conv_h * dnnc_pix_pitch(L) + 31) / 32;
}

/* Bits [pos, pos + n) of a bit string whose words are `stride` apart (n <= 32, LSB first); reads the word after
 * them (no branch: a branch on where the bits fall is mispredicted half the time). */
static inline uint32_t dnnc_pix_bits(const uint32_t *m, int32_t stride, int32_t pos, int32_t n)
{
    const int32_t w = pos / 32, s = pos % 32;
    return (uint32_t)(((uint64_t)m[(w + 1) * stride] << 32 | m[w * stride]) >> s) & (n == 32 ? 0xFFFFFFFFu : (1u << n) - 1u);
}

/* In place: bit j of a[i] <-> bit i of a[j]. */
static inline void dnnc_transpose32(uint32_t *a)
{
#if defined(DNNC_PIX_AVX2)
    /* bytes k of the 32 words gathered into one register in word order (VPSHUFB per lane, a 4 x 4 dword transpose,
     * VPERMD); then VPMOVMSKB reads bit 7 of every byte: row 8k + 7 of the result, and doubling the bytes moves the
     * next bit up */
    const __m256i by = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 0, 4, 8, 12, 1, 5, 9,
                                        13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i r0 = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(const void *)a), by);
    const __m256i r1 = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(a + 8)), by);
    const __m256i r2 = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(a + 16)), by);
    const __m256i r3 = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(a + 24)), by);
    const __m256i t0 = _mm256_unpacklo_epi32(r0, r1), t1 = _mm256_unpackhi_epi32(r0, r1);
    const __m256i t2 = _mm256_unpacklo_epi32(r2, r3), t3 = _mm256_unpackhi_epi32(r2, r3);
    __m256i v[4];
    int32_t k, j;
    v[0] = _mm256_permutevar8x32_epi32(_mm256_unpacklo_epi64(t0, t2), order);
    v[1] = _mm256_permutevar8x32_epi32(_mm256_unpackhi_epi64(t0, t2), order);
    v[2] = _mm256_permutevar8x32_epi32(_mm256_unpacklo_epi64(t1, t3), order);
    v[3] = _mm256_permutevar8x32_epi32(_mm256_unpackhi_epi64(t1, t3), order);
    for (k = 0; k < 4; k++) {
        for (j = 7; j >= 0; j--) {
            a[8 * k + j] = (uint32_t)_mm256_movemask_epi8(v[k]);
            v[k] = _mm256_add_epi8(v[k], v[k]);
        }
    }
#else
    uint32_t m = 0x0000FFFFu;
    int32_t j, k;
    for (j = 16; j != 0; j >>= 1, m ^= m << j) {
        for (k = 0; k < 32; k = ((k | j) + 1) & ~j) {
            const uint32_t t = ((a[k] >> j) ^ a[k | j]) & m;
            a[k] ^= t << j;
            a[k | j] ^= t;
        }
    }
#endif
}

/* Pixel bits of every output -> max-pool (an OR over each window), flip, HWC words. bits: [words + 2][oc] (word w
 * of output o at w * oc + o, oc = 32 * out_wpp; rows `pitch` bits apart); pooled: [npw][oc], the same for the pooled
 * pixels; both o-minor, so 8 outputs are one vector and 32 are a block of the bit transpose. */
static inline void dnnc_pix_pool_pack(const dnnc_conv_t *L, const uint32_t *bits, int32_t pitch, uint32_t *pooled,
                                      uint32_t *out)
{
    const int32_t out_c = L->out_c, out_h = L->out_h, out_w = L->out_w, pk = L->pool_k, ps = L->pool_s, cw = L->conv_w;
    const int32_t npool = out_h * out_w, npw = (npool + 31) / 32, out_wpp = (out_c + 31) / 32, oc = 32 * out_wpp;
    const uint32_t rowmask = out_w == 32 ? 0xFFFFFFFFu : (1u << out_w) - 1u;
    uint32_t sel = 0, blk[32];
    int32_t o, py, px, wy, wx, q0, i;
    for (px = 0; px < out_w; px++) sel |= 1u << (px * ps);
    memset(pooled, 0, sizeof(uint32_t) * (size_t)npw * oc);
#if defined(DNNC_PIX_AVX2)
    if (ps <= 2) { /* 8 outputs a vector: shifts by the same count, strides 1 and 2 compressed by shifts and masks */
        const uint32_t cwmask = cw == 32 ? 0xFFFFFFFFu : (1u << cw) - 1u;
        for (o = 0; o < oc; o += 8) {
            const __m256i lane = _mm256_add_epi32(_mm256_set1_epi32(o), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32(out_c), lane);
            const __m256i fw = _mm256_set1_epi32((int)L->flip[o / 32]);
            const __m256i fbit = _mm256_sllv_epi32(_mm256_set1_epi32(1), _mm256_and_si256(lane, _mm256_set1_epi32(31)));
            const __m256i flip = _mm256_and_si256(_mm256_cmpeq_epi32(_mm256_and_si256(fw, fbit), fbit),
                                                  _mm256_set1_epi32((int)rowmask));
            for (py = 0; py < out_h; py++) {
                __m256i r = _mm256_setzero_si256(), t, v;
                int32_t qpos, qw, qs;
                for (wy = 0; wy < pk; wy++) {
                    const int32_t pos = (py * ps + wy) * pitch, w = pos / 32, sh = pos % 32;
                    const __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)(bits + w * oc + o));
                    const __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)(bits + (w + 1) * oc + o));
                    r = _mm256_or_si256(r, _mm256_or_si256(_mm256_srl_epi32(lo, _mm_cvtsi32_si128(sh)),
                                                           _mm256_sll_epi32(hi, _mm_cvtsi32_si128(32 - sh))));
                }
                r = _mm256_and_si256(r, _mm256_set1_epi32((int)cwmask));
                t = r;
                for (wx = 1; wx < pk; wx++) t = _mm256_or_si256(t, _mm256_srl_epi32(r, _mm_cvtsi32_si128(wx)));
                if (ps == 2) { /* bit 2k -> bit k */
                    t = _mm256_and_si256(t, _mm256_set1_epi32(0x55555555));
                    t = _mm256_and_si256(_mm256_or_si256(t, _mm256_srli_epi32(t, 1)), _mm256_set1_epi32(0x33333333));
                    t = _mm256_and_si256(_mm256_or_si256(t, _mm256_srli_epi32(t, 2)), _mm256_set1_epi32(0x0F0F0F0F));
                    t = _mm256_and_si256(_mm256_or_si256(t, _mm256_srli_epi32(t, 4)), _mm256_set1_epi32(0x00FF00FF));
                    t = _mm256_and_si256(_mm256_or_si256(t, _mm256_srli_epi32(t, 8)), _mm256_set1_epi32(0x0000FFFF));
                }
                v = _mm256_and_si256(_mm256_xor_si256(_mm256_and_si256(t, _mm256_set1_epi32((int)rowmask)), flip), valid);
                qpos = py * out_w, qw = qpos / 32, qs = qpos % 32;
                {
                    __m256i *d = (__m256i *)(void *)(pooled + qw * oc + o);
                    _mm256_storeu_si256(d, _mm256_or_si256(_mm256_loadu_si256(d), _mm256_sll_epi32(v, _mm_cvtsi32_si128(qs))));
                }
                if (qs + out_w > 32) {
                    __m256i *d = (__m256i *)(void *)(pooled + (qw + 1) * oc + o);
                    _mm256_storeu_si256(d, _mm256_or_si256(_mm256_loadu_si256(d),
                                                           _mm256_srl_epi32(v, _mm_cvtsi32_si128(32 - qs))));
                }
            }
        }
    } else
#endif
    {
        for (o = 0; o < out_c; o++) {
            const uint32_t flip = (L->flip[o / 32] >> (o % 32)) & 1u ? rowmask : 0u;
            for (py = 0; py < out_h; py++) {
                const int32_t qpos = py * out_w, qw = qpos / 32, qs = qpos % 32;
                uint32_t r = 0, t = 0, v = 0;
                for (wy = 0; wy < pk; wy++) r |= dnnc_pix_bits(bits + o, oc, (py * ps + wy) * pitch, cw);
                for (wx = 0; wx < pk; wx++) t |= r >> wx;
#if defined(__BMI2__) && defined(DNNC_PIX_AVX2)
                v = _pext_u32(t, sel);
#else
                for (px = 0; px < out_w; px++) v |= ((t >> (px * ps)) & 1u) << px;
                (void)sel;
#endif
                v ^= flip;
                pooled[qw * oc + o] |= v << qs;
                if (qs + out_w > 32) pooled[(qw + 1) * oc + o] |= v >> (32 - qs);
            }
        }
    }
    for (o = 0; o < out_wpp; o++) {
        for (q0 = 0; q0 < npool; q0 += 32) {
            const int32_t nq = npool - q0 < 32 ? npool - q0 : 32;
            memcpy(blk, pooled + (q0 / 32) * oc + 32 * o, sizeof blk);
            dnnc_transpose32(blk);
            for (i = 0; i < nq; i++) out[(q0 + i) * out_wpp + o] = blk[i];
        }
    }
}

/* Packed input: the nibble planes. Plane (kx, g) holds, for every padded row yy and conv column x, nibble g of
 * input pixel (yy - pad, x + kx - pad), or DNNC_PIX_PAD outside the image (rows `pitch` bytes apart; what lies past
 * conv_w is read only by pixels past conv_w, whose bits nobody reads); conv pixel p = y * pitch + x then reads tap
 * (ky, kx) at p + ky * pitch of plane (kx, g): 32 consecutive pixels are one load. Each image row is split into its
 * 8 nibble rows once per input word (`row`: 8 x rl bytes, DNNC_PIX_PAD 32 before and 64 after the pixels), whose kw
 * shifted windows are copied 32 bytes at a time, rows in increasing order: what a copy writes past its row, the
 * next row's copy overwrites (plen leaves 64 bytes after the last row). */
static inline void dnnc_pix_planes(const dnnc_conv_t *L, const uint32_t *x, uint8_t *planes, int32_t plen, uint8_t *row)
{
    const int32_t G = 8 * L->in_wpp, hp = L->in_h + 2 * L->pad, pw = dnnc_pix_pitch(L), rl = (L->in_w + 96 + 31) / 32 * 32;
    uint8_t pads[32];
    int32_t kx, n, yy, c, wj;
    memset(pads, DNNC_PIX_PAD, sizeof pads);
    memset(row, DNNC_PIX_PAD, (size_t)8 * rl); /* 8 rows of nibbles n = 0..7, pixels from byte 32 */
    for (yy = 0; yy < hp; yy++) {
        const int32_t iy = yy - L->pad, inside = iy >= 0 && iy < L->in_h;
        for (wj = 0; wj < L->in_wpp; wj++) {
            const uint32_t *src = x + iy * L->in_w * L->in_wpp + wj;
            c = 0;
            if (!inside) c = L->in_w;
#if defined(DNNC_PIX_AVX2)
            if (L->in_wpp == 1) { /* 8 pixels at a time: their 8 nibbles, one 8-byte row piece each */
                const __m256i by = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 0, 4, 8, 12,
                                                    1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
                const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), lo4 = _mm256_set1_epi8(15);
                for (; c + 8 <= L->in_w; c += 8) {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(src + c));
                    uint64_t q[8]; /* q[b]: nibble 2b of the 8 pixels; q[4 + b]: nibble 2b + 1 */
                    _mm256_storeu_si256((__m256i *)(void *)q, _mm256_permutevar8x32_epi32(
                                                                  _mm256_shuffle_epi8(_mm256_and_si256(v, lo4), by), order));
                    _mm256_storeu_si256((__m256i *)(void *)(q + 4),
                                        _mm256_permutevar8x32_epi32(
                                            _mm256_shuffle_epi8(_mm256_and_si256(_mm256_srli_epi32(v, 4), lo4), by), order));
                    for (n = 0; n < 4; n++) {
                        memcpy(row + (2 * n) * rl + 32 + c, q + n, 8);
                        memcpy(row + (2 * n + 1) * rl + 32 + c, q + 4 + n, 8);
                    }
                }
            }
#endif
            for (; c < L->in_w; c++) {
                const uint32_t w = src[c * L->in_wpp];
                for (n = 0; n < 8; n++) row[n * rl + 32 + c] = (uint8_t)((w >> (4 * n)) & 15u);
            }
            for (n = 0; n < 8; n++) {
                for (kx = 0; kx < L->kw; kx++) {
                    uint8_t *dst = planes + (kx * G + 8 * wj + n) * plen + yy * pw;
                    const uint8_t *from = inside ? row + n * rl + 32 + kx - L->pad : pads;
                    /* (columns past conv_w are read only by pixels past conv_w, whose bits nobody reads) */
                    for (c = 0; c < pw; c += 32) memcpy(dst + c, from + c, 32);
                }
            }
        }
    }
    for (c = 0; c < L->kw * G; c++) memset(planes + c * plen + hp * pw, DNNC_PIX_PAD, (size_t)(plen - hp * pw));
}

#if defined(DNNC_PIX_AVX2)
/* The kernel's step, written out (compilers spill an accumulator of this loop: a store a step): four nibbles of the
 * input words (tables at TAB bytes from pa, pb; pixel nibbles at src, src + plen, src + 2 plen, src3 = src + 3 plen)
 * for two outputs and 4 (or 3) registers of 32 pixels. */
#define DNNC_PIX_ASM_R(OFF, ADDR, A, B)                                                                         \
    "vmovdqu " OFF ADDR ", %[x]\n\t"                                                                            \
    "vpshufb %[x], %[u], %[t]\n\t"                                                                              \
    "vpaddb %[t], %[" A "], %[" A "]\n\t"                                                                       \
    "vpshufb %[x], %[v], %[t]\n\t"                                                                              \
    "vpaddb %[t], %[" B "], %[" B "]\n\t"
#define DNNC_PIX_ASM_T(TAB) "vbroadcasti128 " TAB "(%[pa]), %[u]\n\tvbroadcasti128 " TAB "(%[pb]), %[v]\n\t"
#define DNNC_PIX_ASM_NIB3(TAB, ADDR)                                                                            \
    DNNC_PIX_ASM_T(TAB) DNNC_PIX_ASM_R("0", ADDR, "a0", "b0") DNNC_PIX_ASM_R("32", ADDR, "a1", "b1")              \
    DNNC_PIX_ASM_R("64", ADDR, "a2", "b2")
#define DNNC_PIX_ASM_NIB4(TAB, ADDR) DNNC_PIX_ASM_NIB3(TAB, ADDR) DNNC_PIX_ASM_R("96", ADDR, "a3", "b3")
#define DNNC_PIX_ASM_STEP(NIB)                                                                                  \
    NIB("0", "(%[s])") NIB("16", "(%[s],%[pl])") NIB("32", "(%[s],%[pl],2)") NIB("48", "(%[s3])")

/* The kernels' step for fewer than 4 registers (a layer's last ones), in C: nr (1..3) registers of pixels at src
 * times u (output o, into a0..a2) and v (output o + 1, into b0..b2), PROD(pixels, weights) summed with ADD. */
#define DNNC_PIX_FEW(src_, nr_, PROD, ADD)                                                                      \
    do {                                                                                                         \
        x = _mm256_loadu_si256((const __m256i *)(const void *)(src_));                                           \
        a0 = ADD(a0, PROD(x, u));                                                                                \
        b0 = ADD(b0, PROD(x, v));                                                                                \
        if ((nr_) > 1) {                                                                                         \
            x = _mm256_loadu_si256((const __m256i *)(const void *)((src_) + 32));                                \
            a1 = ADD(a1, PROD(x, u));                                                                            \
            b1 = ADD(b1, PROD(x, v));                                                                            \
        }                                                                                                        \
        if ((nr_) > 2) {                                                                                         \
            x = _mm256_loadu_si256((const __m256i *)(const void *)((src_) + 64));                                \
            a2 = ADD(a2, PROD(x, u));                                                                            \
            b2 = ADD(b2, PROD(x, v));                                                                            \
        }                                                                                                        \
    } while (0)
#define DNNC_PIX_LOOKUP(x, table) _mm256_shuffle_epi8((table), (x))

/* The int16 sums of the even and odd pixels of an int8 register of 32 pixels. */
#define DNNC_PIX_WIDEN(a, s)                                                                                     \
    do {                                                                                                         \
        (s)[0] = _mm256_add_epi16((s)[0], _mm256_srai_epi16(_mm256_slli_epi16((a), 8), 8));                       \
        (s)[1] = _mm256_add_epi16((s)[1], _mm256_srai_epi16((a), 8));                                             \
        (a) = _mm256_setzero_si256();                                                                            \
    } while (0)

/* All eight int8 accumulators of dnnc_pix_packed_block into its int16 sums s. */
#define DNNC_PIX_WIDEN_ALL()                                                                                     \
    do {                                                                                                         \
        DNNC_PIX_WIDEN(a0, s + 0);                                                                               \
        DNNC_PIX_WIDEN(a1, s + 2);                                                                               \
        DNNC_PIX_WIDEN(a2, s + 4);                                                                               \
        DNNC_PIX_WIDEN(a3, s + 6);                                                                               \
        DNNC_PIX_WIDEN(b0, s + 8);                                                                               \
        DNNC_PIX_WIDEN(b1, s + 10);                                                                              \
        DNNC_PIX_WIDEN(b2, s + 12);                                                                              \
        DNNC_PIX_WIDEN(b3, s + 14);                                                                              \
    } while (0)

/* 32 pixel bits (sum > t) from the even / odd int16 sums of a register and their thresholds t[0..15], t[16..31]. */
static inline uint32_t dnnc_pix_mask8(const __m256i *s, const int16_t *t)
{
    const __m256i lo = _mm256_set1_epi16(0x00FF);
    const __m256i ce = _mm256_cmpgt_epi16(s[0], _mm256_loadu_si256((const __m256i *)(const void *)t));
    const __m256i co = _mm256_cmpgt_epi16(s[1], _mm256_loadu_si256((const __m256i *)(const void *)(t + 16)));
    return (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(_mm256_and_si256(ce, lo), _mm256_andnot_si256(lo, co)));
}

/* Outputs o, o + 1 over the pixel registers r0 .. r0 + nr - 1 (nr <= 4): table lookups summed in int8 for pchunk
 * lookups at a time, then in int16; the bits go to bits[r][o] (o-minor, see dnnc_pix_pool_pack). */
static inline void dnnc_pix_packed_block(const dnnc_conv_t *L, const uint8_t *planes, int32_t plen, int32_t o,
                                         int32_t r0, int32_t nr, uint32_t *bits)
{
    const int32_t G = 8 * L->in_wpp, pw = dnnc_pix_pitch(L), oc = (L->out_c + 31) / 32 * 32;
    const int32_t words = dnnc_pix_row_words(L);
    const int8_t *ta = L->ptab + (size_t)o * L->kh * L->kw * G * 16, *tb = ta + L->kh * L->kw * G * 16;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    __m256i s[16];
    int32_t ky, kx, g, k, left = L->pchunk;
    for (k = 0; k < 16; k++) s[k] = a0;
    for (ky = 0; ky < L->kh; ky++) {
        for (kx = 0; kx < L->kw; kx++) {
            const uint8_t *src = planes + kx * G * plen + ky * pw + 32 * r0;
            for (g = 0; g < G; g += 4, src += 4 * plen, ta += 64, tb += 64) {
                __m256i u, v, x, t;
                const uint8_t *src3 = src + 3 * plen;
                if (nr == 4) {
                    __asm__(DNNC_PIX_ASM_STEP(DNNC_PIX_ASM_NIB4)
                            : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [b0] "+x"(b0),
                              [b1] "+x"(b1), [b2] "+x"(b2), [b3] "+x"(b3), [u] "=&x"(u), [v] "=&x"(v), [x] "=&x"(x),
                              [t] "=&x"(t)
                            : [pa] "r"(ta), [pb] "r"(tb), [s] "r"(src), [s3] "r"(src3), [pl] "r"((intptr_t)plen)
                            : "memory");
                } else if (nr == 3) {
                    __asm__(DNNC_PIX_ASM_STEP(DNNC_PIX_ASM_NIB3)
                            : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [b0] "+x"(b0), [b1] "+x"(b1),
                              [b2] "+x"(b2), [u] "=&x"(u), [v] "=&x"(v), [x] "=&x"(x), [t] "=&x"(t)
                            : [pa] "r"(ta), [pb] "r"(tb), [s] "r"(src), [s3] "r"(src3), [pl] "r"((intptr_t)plen)
                            : "memory");
                } else {
                    int32_t h;
                    for (h = 0; h < 4; h++) {
                        u = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(ta + 16 * h)));
                        v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(tb + 16 * h)));
                        DNNC_PIX_FEW(src + h * plen, nr, DNNC_PIX_LOOKUP, _mm256_add_epi8);
                    }
                    (void)t;
                    (void)src3;
                }
                left -= 4;
                if (left == 0) {
                    DNNC_PIX_WIDEN_ALL();
                    left = L->pchunk;
                }
            }
        }
    }
    DNNC_PIX_WIDEN_ALL();
    for (k = 0; k < nr; k++) {
        const int16_t *t = L->pthr + ((size_t)o * words + r0 + k) * 32;
        bits[(r0 + k) * oc + o] = dnnc_pix_mask8(s + 2 * k, t);
        if (o + 1 < L->out_c) bits[(r0 + k) * oc + o + 1] = dnnc_pix_mask8(s + 8 + 2 * k, t + words * 32);
    }
}
#endif

/* Packed input: bit p of bits[o] = (sum over taps and nibbles of ptab[o][tap][g][nibble]) > pthr[o][p]. */
static inline void dnnc_pix_packed(const dnnc_conv_t *L, const uint32_t *x, uint8_t *scratch, int32_t plen,
                                   uint8_t *row, uint32_t *bits)
{
    const int32_t pw = dnnc_pix_pitch(L), words = dnnc_pix_row_words(L), G = 8 * L->in_wpp;
    const int32_t oc = (L->out_c + 31) / 32 * 32;
    int32_t o;
    dnnc_pix_planes(L, x, scratch, plen, row);
#if defined(DNNC_PIX_AVX2)
    for (o = 0; o < L->out_c; o += 2) {
        int32_t r0;
        for (r0 = 0; r0 < words; r0 += 4)
            dnnc_pix_packed_block(L, scratch, plen, o, r0, words - r0 < 4 ? words - r0 : 4, bits);
    }
    (void)G;
    (void)pw;
    (void)oc;
#else
    memset(bits, 0, sizeof(uint32_t) * (size_t)oc * words);
    for (o = 0; o < L->out_c; o++) {
        int32_t p;
        for (p = 0; p < L->conv_h * pw; p++) {
            const int8_t *tab = L->ptab + (size_t)o * L->kh * L->kw * G * 16;
            int32_t ky, kx, g, sum = 0;
            for (ky = 0; ky < L->kh; ky++)
                for (kx = 0; kx < L->kw; kx++)
                    for (g = 0; g < G; g++, tab += 16) {
                        const uint8_t v = scratch[(kx * G + g) * plen + p + ky * pw];
                        sum += v & DNNC_PIX_PAD ? 0 : tab[v];
                    }
            if (sum > L->pthr[((size_t)o * words + p / 32) * 32 + p % 32 % 2 * 16 + p % 32 / 2])
                bits[p / 32 * oc + o] |= 1u << (p % 32);
        }
    }
#endif
}

/* Raw input: the pair planes. The taps (c, ky, kx) in that order are taken two at a time; plane j holds, for every
 * conv pixel p = y * conv_w + x (rounded up to registers of 16), the two raw bytes of taps 2j and 2j + 1 of that
 * pixel in the zero-padded image (a missing last tap reads 0). One 32-byte load is then 16 pixels x one tap pair,
 * VPMADDUBSW's operand. `img` holds the padded image: in_c planes of hp rows of wq = in_w + 2 pad + 32 bytes. */
static inline int32_t dnnc_pix_raw_regs(const dnnc_conv_t *L)
{
    return (L->conv_h * L->conv_w + 15) / 16;
}

static inline void dnnc_pix_pairs(const dnnc_conv_t *L, const uint8_t *in, uint8_t *img, uint8_t *planes, int32_t plen)
{
    const int32_t hp = L->in_h + 2 * L->pad, wq = L->in_w + 2 * L->pad + 32, cw = L->conv_w;
    const int32_t ntap = L->in_c * L->kh * L->kw, npair = (ntap + 1) / 2;
    int32_t c, y, j, x;
    memset(img, 0, (size_t)L->in_c * hp * wq);
    for (c = 0; c < L->in_c; c++)
        for (y = 0; y < L->in_h; y++)
            memcpy(img + ((size_t)c * hp + y + L->pad) * wq + L->pad, in + ((size_t)c * L->in_h + y) * L->in_w,
                   (size_t)L->in_w);
    for (j = 0; j < npair; j++) {
        const int32_t ta = 2 * j, tb = 2 * j + 1 < ntap ? 2 * j + 1 : -1;
        const uint8_t *pa = img + ((size_t)(ta / (L->kh * L->kw)) * hp + ta / L->kw % L->kh) * wq + ta % L->kw;
        const uint8_t *pb = tb < 0 ? NULL
                                   : img + ((size_t)(tb / (L->kh * L->kw)) * hp + tb / L->kw % L->kh) * wq + tb % L->kw;
        uint8_t *dst = planes + (size_t)j * plen;
        for (y = 0; y < L->conv_h; y++, pa += wq, pb = pb ? pb + wq : NULL, dst += 2 * cw) {
            /* 16 pixels at a time, rows in increasing order: what a row writes past its end, the next overwrites
             * (plen leaves 32 bytes after the last row) */
#if defined(DNNC_PIX_AVX2)
            for (x = 0; x < cw; x += 16) {
                const __m128i va = _mm_loadu_si128((const __m128i *)(const void *)(pa + x));
                const __m128i vb = pb ? _mm_loadu_si128((const __m128i *)(const void *)(pb + x)) : _mm_setzero_si128();
                _mm_storeu_si128((__m128i *)(void *)(dst + 2 * x), _mm_unpacklo_epi8(va, vb));
                _mm_storeu_si128((__m128i *)(void *)(dst + 2 * x + 16), _mm_unpackhi_epi8(va, vb));
            }
#else
            for (x = 0; x < cw; x++) {
                dst[2 * x] = pa[x];
                dst[2 * x + 1] = pb ? pb[x] : 0;
            }
#endif
        }
        memset(planes + (size_t)j * plen + 2 * L->conv_h * cw, 0, (size_t)(plen - 2 * L->conv_h * cw));
    }
}

#if defined(DNNC_PIX_AVX2)
/* One register (16 pixels, byte offset OFF from src) of both outputs: VPMADDUBSW (pixel pairs x weight pairs). */
#define DNNC_PIX_ASM_PAIR(OFF, A, B)                                                                            \
    "vmovdqu " OFF "(%[s]), %[x]\n\t"                                                                           \
    "vpmaddubsw %[u], %[x], %[t]\n\t"                                                                           \
    "vpaddw %[t], %[" A "], %[" A "]\n\t"                                                                       \
    "vpmaddubsw %[v], %[x], %[t]\n\t"                                                                           \
    "vpaddw %[t], %[" B "], %[" B "]\n\t"

/* 16 pixel bits (sum > t) of each of two registers: bits of a, then of b. */
static inline uint32_t dnnc_pix_mask16(__m256i a, __m256i b, const int16_t *t)
{
    const __m256i ca = _mm256_cmpgt_epi16(a, _mm256_loadu_si256((const __m256i *)(const void *)t));
    const __m256i cb = _mm256_cmpgt_epi16(b, _mm256_loadu_si256((const __m256i *)(const void *)(t + 16)));
    return (uint32_t)_mm256_movemask_epi8(_mm256_permute4x64_epi64(_mm256_packs_epi16(ca, cb), 0xD8));
}

/* Outputs o, o + 1 over the registers r0 .. r0 + nr - 1 (nr <= 4, r0 even) of 16 pixels; bits to bits[word][o]. */
static inline void dnnc_pix_raw_block(const dnnc_conv_t *L, const uint8_t *planes, int32_t plen, int32_t o, int32_t r0,
                                      int32_t nr, uint32_t *bits, int32_t words)
{
    const int32_t npair = (L->in_c * L->kh * L->kw + 1) / 2;
    const uint32_t *wa = L->pw2 + (size_t)o * npair, *wb = wa + npair;
    const uint8_t *src = planes + 32 * r0;
    const int16_t *ta = L->pthr + (size_t)o * words * 32 + r0 * 16, *tb = ta + words * 32;
    const int32_t oc = (L->out_c + 31) / 32 * 32;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int32_t j;
    for (j = 0; j < npair; j++, wa++, wb++, src += plen) {
        __m256i u, v, x, t;
        if (nr == 4) {
            __asm__("vpbroadcastd (%[pa]), %[u]\n\t"
                    "vpbroadcastd (%[pb]), %[v]\n\t"
                    DNNC_PIX_ASM_PAIR("0", "a0", "b0") DNNC_PIX_ASM_PAIR("32", "a1", "b1")
                    DNNC_PIX_ASM_PAIR("64", "a2", "b2") DNNC_PIX_ASM_PAIR("96", "a3", "b3")
                    : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [b0] "+x"(b0), [b1] "+x"(b1),
                      [b2] "+x"(b2), [b3] "+x"(b3), [u] "=&x"(u), [v] "=&x"(v), [x] "=&x"(x), [t] "=&x"(t)
                    : [pa] "r"(wa), [pb] "r"(wb), [s] "r"(src)
                    : "memory");
        } else {
            u = _mm256_set1_epi32((int)*wa);
            v = _mm256_set1_epi32((int)*wb);
            DNNC_PIX_FEW(src, nr, _mm256_maddubs_epi16, _mm256_add_epi16);
            (void)t;
        }
    }
    /* registers r0 + 2i, r0 + 2i + 1 are word r0 / 2 + i; a lone last register is the low half of its word */
    bits[r0 / 2 * oc + o] = dnnc_pix_mask16(a0, a1, ta);
    if (nr > 2) bits[(r0 / 2 + 1) * oc + o] = dnnc_pix_mask16(a2, a3, ta + 32);
    if (o + 1 < L->out_c) {
        bits[r0 / 2 * oc + o + 1] = dnnc_pix_mask16(b0, b1, tb);
        if (nr > 2) bits[(r0 / 2 + 1) * oc + o + 1] = dnnc_pix_mask16(b2, b3, tb + 32);
    }
}
#endif

/* Raw input: bit p of bits[o] = (sum over taps of w * p) > pthr[o][p], p the zero-padded image's pixels. */
static inline void dnnc_pix_raw(const dnnc_conv_t *L, const uint8_t *in, uint8_t *img, uint8_t *planes, int32_t plen,
                                uint32_t *bits, int32_t words)
{
    const int32_t npair = (L->in_c * L->kh * L->kw + 1) / 2, oc = (L->out_c + 31) / 32 * 32;
    int32_t o;
    dnnc_pix_pairs(L, in, img, planes, plen);
#if defined(DNNC_PIX_AVX2)
    for (o = 0; o < L->out_c; o += 2) {
        const int32_t nreg = dnnc_pix_raw_regs(L);
        int32_t r0;
        for (r0 = 0; r0 < nreg; r0 += 4) dnnc_pix_raw_block(L, planes, plen, o, r0, nreg - r0 < 4 ? nreg - r0 : 4, bits, words);
    }
    (void)npair;
    (void)oc;
#else
    memset(bits, 0, sizeof(uint32_t) * (size_t)oc * words);
    for (o = 0; o < L->out_c; o++) {
        int32_t p;
        for (p = 0; p < L->conv_h * L->conv_w; p++) {
            const uint32_t *w = L->pw2 + (size_t)o * npair;
            int32_t j, sum = 0;
            for (j = 0; j < npair; j++, w++) {
                const uint8_t *q = planes + (size_t)j * plen + 2 * p;
                sum += (int32_t)q[0] * (int8_t)(*w & 0xFFu) + (int32_t)q[1] * (int8_t)((*w >> 8) & 0xFFu);
            }
            if (sum > L->pthr[(size_t)o * words * 32 + p]) bits[p / 32 * oc + o] |= 1u << (p % 32);
        }
    }
#endif
}

/* The whole conv layer in the pixel-lane layout (in: packed bits HWC, or the raw image; out: packed HWC).
 * col (plan.py sizes it, `_pix_packed` / `_pix_raw`): the nibble planes (64-byte aligned) and 8 nibble rows, or the
 * padded image and the pair planes; then the conv pixels' bits [words + 2][oc] and the pooled bits [npw][oc]. */
static inline void dnnc_conv_pix(const dnnc_conv_t *L, const void *in, uint32_t *out, void *col)
{
    uint8_t *scratch = (uint8_t *)col;
    const int32_t words = dnnc_pix_row_words(L), oc = (L->out_c + 31) / 32 * 32;
    uint32_t *bits, *pooled;
    if (L->in_u8) {
        const int32_t hp = L->in_h + 2 * L->pad, wq = L->in_w + 2 * L->pad + 32;
        const int32_t plen = 32 * dnnc_pix_raw_regs(L) + 32;
        uint8_t *planes = scratch + ((size_t)L->in_c * hp * wq + 31) / 32 * 32;
        bits = (uint32_t *)(void *)(planes + (size_t)(L->in_c * L->kh * L->kw + 1) / 2 * plen);
        pooled = bits + (words + 2) * oc; /* (the pooling reads up to 2 words past a row) */
        dnnc_pix_raw(L, (const uint8_t *)in, scratch, planes, plen, bits, words);
        dnnc_pix_pool_pack(L, bits, L->conv_w, pooled, out);
    } else {
        const int32_t plen = ((L->in_h + 2 * L->pad) * dnnc_pix_pitch(L) + 64 + 63) / 64 * 64, G = 8 * L->in_wpp;
        uint8_t *planes = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* loads 16-byte aligned */
        uint8_t *row = planes + (size_t)L->kw * G * plen;
        bits = (uint32_t *)(void *)(row + 8 * ((L->in_w + 96 + 31) / 32 * 32));
        pooled = bits + (words + 2) * oc;
        dnnc_pix_packed(L, (const uint32_t *)in, planes, plen, row, bits);
        dnnc_pix_pool_pack(L, bits, dnnc_pix_pitch(L), pooled, out);
    }
}

#endif /* DNNC_PIXCONV_H */
