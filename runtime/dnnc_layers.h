/* dnnc runtime: layer drivers that generated code calls (descriptor structs + one call per layer).
 * C99, header only, no allocation: every buffer is a pointer into the caller's arena. */
#ifndef DNNC_LAYERS_H
#define DNNC_LAYERS_H

#include <stdint.h>
#include <string.h>

#include "dnnc_bitact.h"
#include "dnnc_intin.h"
#if defined(DNNC_LANES_LAYOUT) /* model.c defines it when its weights use the output-lane layout */
#include "dnnc_lanes.h"
#endif

/* First layer, dense, on the raw input (table lookup, see dnnc_intin.h). */
typedef struct {
    int32_t nin, nout;         /* inputs (C*H*W of the raw input), outputs */
    int32_t group, levels, vg; /* inputs per code byte, weight levels, levels^group table entries */
    int32_t ngroups, chunk;    /* code bytes per output (row length), groups per table chunk */
    int32_t in_mul, in_add;    /* u = in_mul * p + in_add */
    const int8_t *values;      /* [levels] sorted weight codes */
    const uint8_t *codes;      /* [nout][ngroups] */
} dnnc_dense_u8_t;

/* u: int32[ceil(nin/group)*group], tab: int32[chunk*vg], acc: int32[nout]. */
static inline void dnnc_dense_u8(const dnnc_dense_u8_t *L, const uint8_t *raw, int32_t *u, int32_t *tab, int32_t *acc)
{
    const int32_t greal = (L->nin + L->group - 1) / L->group; /* groups past it: padding, code 0, sum 0 */
    int32_t c0, k;
    dnnc_input_u(raw, L->nin, greal * L->group, L->in_mul, L->in_add, u);
    for (c0 = 0; c0 < L->ngroups; c0 += L->chunk) {
        const int32_t nc = L->ngroups - c0 < L->chunk ? L->ngroups - c0 : L->chunk;
        const int32_t nb = greal - c0 < nc ? (greal > c0 ? greal - c0 : 0) : nc;
        dnnc_lut_build(u, L->group, L->levels, L->vg, L->values, c0, nb, tab);
        for (k = nb; k < nc; k++) tab[k * L->vg] = 0;
        dnnc_lut_sum_all(tab, L->codes + c0, L->ngroups, nc, L->vg, L->nout, acc, c0 == 0);
    }
}

/* First layer, dense, on the raw input with plain int8 weights [nout][nin] (hosts: vectorized by the
 * compiler): acc[o] = mul * sum_i w[o][i] p[i] + add * rowsum[o]. */
static inline void dnnc_dense_u8_direct(const int8_t *w, const int32_t *rowsum, int32_t nin, int32_t nout,
                                        int32_t mul, int32_t add, const uint8_t *raw, int32_t *acc)
{
    int32_t o, i;
#if defined(DNNC_MVE)
    dnnc_mve_dense_u8_direct(w, rowsum, nin, nout, mul, add, raw, acc);
    return;
#endif
    for (o = 0; o < nout; o++) {
        const int8_t *r = w + o * nin;
        int32_t s = 0;
        for (i = 0; i < nin; i++) s += (int32_t)r[i] * (int32_t)raw[i];
        acc[o] = mul * s + add * rowsum[o];
    }
}

/* Conv (+ optional max-pool on accumulators) + threshold-and-pack, on the raw input or packed bits.
 * Packed activations are HWC: pixel (y, x) owns words [(y*W + x)*wpp, +wpp), wpp = ceil(C/32). */
typedef struct {
    int32_t in_c, in_h, in_w, out_c, kh, kw, stride, pad;
    int32_t conv_h, conv_w;    /* conv output size */
    int32_t pool_k, pool_s;    /* max-pool window and stride (1, 1 = no pool) */
    int32_t out_h, out_w;      /* output size after pooling */
    int32_t in_u8;             /* 1: first layer on the raw input */
    int32_t in_mul, in_add;    /* raw input: u = in_mul * p + in_add */
    int32_t kpad;              /* raw input: receptive field length c*kh*kw rounded up to even */
    const uint32_t *w32;       /* raw input: [ceil(out_c/4)][kpad/2][4] int16 pairs of (c, ky, kx), 4 outputs */
    int32_t u8_wide;           /* raw input: 1 = w16 layout instead (targets without SMLAD); Helium: 2 = w8
                                  [out_c][kpad] int8, kpad a multiple of 16 (corr: constants per border pattern),
                                  3 = w8 [ceil(out_c/16)][c][kh][kw][16] int8, w16 the thresholds */
    const int16_t *w16;        /* raw input, u8_wide 1: [c*kh*kw][out_c], all outputs per input element;
                                  u8_wide 3: int16 thresholds on the sums [border pattern][ceil(out_c/16)*16] */
    int32_t kind, in_wpp;      /* packed input: weight kind (dnnc_bitact.h), words per input pixel */
    int32_t ncol;              /* packed input: kh*kw*in_wpp rounded up to a multiple of 4 (zero words) */
    const uint32_t *w;         /* packed input: [out_c][ncol][planes], taps (ky, kx) */
    const int32_t *tot;        /* packed input: [out_c] sum of |w| over the whole window */
    const uint8_t *rowpat;     /* packed input: [conv_h] border pattern of each output row */
    const uint8_t *colpat;     /* packed input: [conv_w] border pattern of each output column */
    int32_t ncolpat, interior; /* packed input: column patterns; the all-valid pattern (-1: none) */
    const int32_t *corr;       /* packed input: [row pattern][col pattern][out_c] padded-tap corrections */
    int32_t lanes;             /* 1: output-lane layout (dnnc_lanes.h): w8 / w, tot, corr per 16 outputs */
    int32_t kq;                /* raw input, lanes: tap quads per kernel row, ceil(kw/4) */
    const int8_t *w8;          /* raw input, lanes: [blk][c][ky][kq][16][4]; corr then holds the border-pattern
                                  constants in_add * (sum of the valid taps' weights) */
    const int32_t *thr;        /* [out_c] thresholds (see dnnc_threshold_pack) */
    const uint32_t *flip;      /* [out_wpp] flip bits, the same for every pixel */
    int32_t pix;               /* 1: pixel-lane layout (dnnc_pixconv.h) for this layer */
    const int8_t *ptab;        /* packed input, pix: [out_c2][kh][kw][8*in_wpp][16] nibble products */
    int32_t pchunk;            /* packed input, pix: lookups an int8 sum takes before widening */
    const uint32_t *pw2;       /* raw input, pix: [out_c2][ceil(in_c*kh*kw/2)] tap pairs (int8 x 2, twice) */
    const int16_t *pthr;       /* pix: [out_c][conv pixels rounded up to 32] bit = sum > pthr (dnnc_pixconv.h) */
} dnnc_conv_t;

#if defined(DNNC_PIX_CONV) /* model.c defines it when a conv layer uses the pixel-lane layout */
#include "dnnc_pixconv.h"
#endif

/* Gather the receptive field of conv pixel (oy, ox) from packed input x into col (kh*kw*wpp words, taps
 * (ky, kx)); padded taps are gathered as all-zero words (i.e. computed as -1 activations, contributing
 * -sum_c w). Returns the pixel's correction row (+sum of the padded taps' weights, precomputed by the
 * compiler for every border pattern = row pattern x column pattern), or NULL for interior pixels. */
static inline const int32_t *dnnc_conv_bits_gather(const dnnc_conv_t *L, const uint32_t *x, int32_t oy, int32_t ox,
                                                   uint32_t *col)
{
    const int32_t wpp = L->in_wpp;
    const int32_t y0 = oy * L->stride - L->pad, x0 = ox * L->stride - L->pad;
    const int32_t pat = L->rowpat[oy] * L->ncolpat + L->colpat[ox];
    int32_t ky, kx, j;
    for (ky = 0; ky < L->kh; ky++) {
        const int32_t iy = y0 + ky;
        if (iy >= 0 && iy < L->in_h && x0 >= 0 && x0 + L->kw <= L->in_w) {
            /* the whole kernel row is inside: kw*wpp contiguous words (HWC) */
            const uint32_t *src = x + (iy * L->in_w + x0) * wpp;
            uint32_t *dst = col + ky * L->kw * wpp;
            for (j = 0; j < L->kw * wpp; j++) dst[j] = src[j];
            continue;
        }
        for (kx = 0; kx < L->kw; kx++) {
            const int32_t ix = x0 + kx;
            uint32_t *dst = col + (ky * L->kw + kx) * wpp;
            if (iy < 0 || iy >= L->in_h || ix < 0 || ix >= L->in_w) {
                for (j = 0; j < wpp; j++) dst[j] = 0;
            } else {
                const uint32_t *src = x + (iy * L->in_w + ix) * wpp;
                for (j = 0; j < wpp; j++) dst[j] = src[j];
            }
        }
    }
    return pat != L->interior ? L->corr + pat * L->out_c : NULL;
}

/* Accumulators of all outputs at conv pixel (oy, ox) from packed input x. */
static inline void dnnc_conv_bits_pixel(const dnnc_conv_t *L, const uint32_t *x, int32_t oy, int32_t ox,
                                        uint32_t *col, int32_t *acc)
{
    const int32_t *c = dnnc_conv_bits_gather(L, x, oy, ox, col);
    int32_t o;
    dnnc_dense_bits(L->kind, L->w, L->tot, col, L->ncol, L->out_c, acc);
    if (c)
        for (o = 0; o < L->out_c; o++) acc[o] += c[o];
}

/* Max-pool then threshold on packed input, with early exit: the output bit is (max_q acc_q >= thr) XOR
 * flip, and max_q acc_q >= thr holds iff some acc_q >= thr, so per output channel the window's pixels are
 * counted only until one reaches the threshold (exact; the cost now depends on the data). Constant
 * channels (thr = INT32_MIN) are not counted at all. col holds the pool_k^2 gathered receptive fields, n
 * words each. COUNT(w, x, n) is the kind's count, so the loop is compiled once per kind. */
#define DNNC_POOL_CHANNELS(COUNT)                                                                  \
    for (o = 0; o < out_c; o++) {                                                                  \
        const uint32_t *wo = W + o * stride;                                                       \
        const int32_t t = thr[o], to = tot[o];                                                     \
        uint32_t hit = t == INT32_MIN;                                                             \
        for (q = 0; q < nq && !hit; q++) {                                                         \
            const int32_t a = to - 2 * (int32_t)COUNT(wo, col + q * n, n) + (corr[q] ? corr[q][o] : 0); \
            hit = a >= t;                                                                          \
        }                                                                                          \
        o32[o >> 5] |= hit << (o & 31);                                                            \
    }

#if defined(DNNC_V7EM_ASM)
#define DNNC_COUNT_T0(w, x, n) dnnc_count_ternary_seeded(w, x, nb, 0)
#define DNNC_COUNT_T1(w, x, n) dnnc_count_ternary_seeded(w, x, nb, 1)
#define DNNC_COUNT_T2(w, x, n) dnnc_count_ternary_seeded(w, x, nb, 2)
#define DNNC_COUNT_T3(w, x, n) dnnc_count_ternary_seeded(w, x, nb, 3)
#define DNNC_COUNT_B0(w, x, n) dnnc_count_binary_seeded(w, x, nb, 0)
#define DNNC_COUNT_B1(w, x, n) dnnc_count_binary_seeded(w, x, nb, 1)
#define DNNC_COUNT_B2(w, x, n) dnnc_count_binary_seeded(w, x, nb, 2)
#define DNNC_COUNT_B3(w, x, n) dnnc_count_binary_seeded(w, x, nb, 3)
#define DNNC_COUNT_Q0(w, x, n) dnnc_count_hs12_seeded(w, x, nb, 0, planes)
#define DNNC_COUNT_Q1(w, x, n) dnnc_count_hs12_seeded(w, x, nb, 1, planes)
#define DNNC_COUNT_Q2(w, x, n) dnnc_count_hs12_seeded(w, x, nb, 2, planes)
#endif

static inline void dnnc_conv_bits_pool(const dnnc_conv_t *L, const uint32_t *x, uint32_t *out, uint32_t *col)
{
    const int32_t out_wpp = (L->out_c + 31) / 32, nq = L->pool_k * L->pool_k, n = L->ncol, out_c = L->out_c;
    const int32_t stride = n * dnnc_planes(L->kind), kind = L->kind;
    const uint32_t *W = L->w;
    const int32_t *tot = L->tot, *thr = L->thr;
    const int32_t *corr[16];
    int32_t py, px, q, o, wi;
    /* packed input only; the test also keeps gcc -O3 from warning (-Warray-bounds) in a specialized copy of
     * this function for a raw-input layer (tot = NULL) that no call reaches */
    if (L->in_u8) return;
#if defined(DNNC_MVE_KERNELS) /* rows padded to 4 words (Helium): zero the tails the gathers leave */
    for (q = 0; q < nq; q++) dnnc_zero_words(col + q * n + L->kh * L->kw * L->in_wpp, n - L->kh * L->kw * L->in_wpp);
#endif
    for (py = 0; py < L->out_h; py++) {
        for (px = 0; px < L->out_w; px++) {
            uint32_t *o32 = out + (py * L->out_w + px) * out_wpp;
            for (q = 0; q < nq; q++)
                corr[q] = dnnc_conv_bits_gather(L, x, py * L->pool_s + q / L->pool_k, px * L->pool_s + q % L->pool_k,
                                                col + q * n);
            for (wi = 0; wi < out_wpp; wi++) o32[wi] = 0;
            if (DNNC_HAS_KIND(DNNC_W_TERNARY) && kind == DNNC_W_TERNARY) {
#if defined(DNNC_MVE)
                if (n % 4 == 0) {
                    dnnc_mve_pool_ternary(W, tot, thr, col, corr, nq, n, out_c, o32);
                } else
#endif
#if defined(DNNC_V7EM_ASM)
                if (n >= 4 && n <= 127) { /* one copy of the loop per n % 4: straight-line seed */
                    const int32_t nb = n >> 2;
                    switch (n & 3) {
                    case 0: DNNC_POOL_CHANNELS(DNNC_COUNT_T0) break;
                    case 1: DNNC_POOL_CHANNELS(DNNC_COUNT_T1) break;
                    case 2: DNNC_POOL_CHANNELS(DNNC_COUNT_T2) break;
                    default: DNNC_POOL_CHANNELS(DNNC_COUNT_T3) break;
                    }
                } else if (n <= 127) {
                    DNNC_POOL_CHANNELS(dnnc_count_ternary_short)
                } else
#endif
                {
                    DNNC_POOL_CHANNELS(dnnc_count_ternary)
                }
            } else if (DNNC_HAS_KIND(DNNC_W_BINARY) && kind == DNNC_W_BINARY) {
#if defined(DNNC_MVE)
                if (n % 4 == 0) {
                    dnnc_mve_pool_binary(W, tot, thr, col, corr, nq, n, out_c, o32);
                } else
#endif
#if defined(DNNC_V7EM_ASM)
                if (n >= 8 && n <= 255 && (n & 7) < 4) { /* one copy of the loop per n % 8 < 4 */
                    const int32_t nb = n >> 3;
                    switch (n & 7) {
                    case 0: DNNC_POOL_CHANNELS(DNNC_COUNT_B0) break;
                    case 1: DNNC_POOL_CHANNELS(DNNC_COUNT_B1) break;
                    case 2: DNNC_POOL_CHANNELS(DNNC_COUNT_B2) break;
                    default: DNNC_POOL_CHANNELS(DNNC_COUNT_B3) break;
                    }
                } else if (n <= 255) {
                    DNNC_POOL_CHANNELS(dnnc_count_binary_short)
                } else
#endif
                {
                    DNNC_POOL_CHANNELS(dnnc_count_binary)
                }
#if defined(DNNC_MVE)
            } else if ((DNNC_HAS_KIND(DNNC_W_QUATER) || DNNC_HAS_KIND(DNNC_W_QUINARY)) && n % 4 == 0) {
                if (kind == DNNC_W_QUATER)
                    dnnc_mve_pool_quater(W, tot, thr, col, corr, nq, n, out_c, o32);
                else
                    dnnc_mve_pool_quinary(W, tot, thr, col, corr, nq, n, out_c, o32);
#endif
            } else if (DNNC_HAS_KIND(DNNC_W_QUATER) || DNNC_HAS_KIND(DNNC_W_QUINARY)) {
#if defined(DNNC_V7EM_ASM)
                const int32_t planes = kind == DNNC_W_QUATER ? 2 : 3;
                if (n >= 4 && (n & 3) < 3) { /* one copy of the loop per n % 4 < 3 */
                    const int32_t nb = n >> 2;
                    if (planes == 2) {
                        switch (n & 3) {
                        case 0: DNNC_POOL_CHANNELS(DNNC_COUNT_Q0) break;
                        case 1: DNNC_POOL_CHANNELS(DNNC_COUNT_Q1) break;
                        default: DNNC_POOL_CHANNELS(DNNC_COUNT_Q2) break;
                        }
                    } else {
                        switch (n & 3) {
                        case 0: DNNC_POOL_CHANNELS(DNNC_COUNT_Q0) break;
                        case 1: DNNC_POOL_CHANNELS(DNNC_COUNT_Q1) break;
                        default: DNNC_POOL_CHANNELS(DNNC_COUNT_Q2) break;
                        }
                    }
                } else
#endif
                if (kind == DNNC_W_QUATER) {
                    DNNC_POOL_CHANNELS(dnnc_count_quater)
                } else {
                    DNNC_POOL_CHANNELS(dnnc_count_quinary)
                }
            }
            for (wi = 0; wi < out_wpp; wi++) o32[wi] ^= L->flip[wi];
        }
    }
}

#if defined(DNNC_MVE_KERNELS) /* the layout is planned for Helium targets only */
/* First conv layer on the raw input, int16 sums of 16 outputs a vector (u8_wide == 3, Helium; the compiler
 * chose it because 255 * sum |w| fits int16): the input once into a zero-padded u8 image img, then per pooled
 * pixel its pool window's windows and border patterns into dnnc_mve_conv_s16, whose thresholds w16 [pattern]
 * [o16] already hold the input affine and border constants. Exact max-pool: a bit is set when any window's
 * sum reaches its threshold. */
static inline void dnnc_conv_u8_s16(const dnnc_conv_t *L, const uint8_t *raw, uint32_t *out, uint8_t *img)
{
    const int32_t nq = L->pool_k * L->pool_k, out_wpp = (L->out_c + 31) / 32, o16 = (L->out_c + 15) / 16 * 16;
    const int32_t in_h = L->in_h, in_w = L->in_w, hp = in_h + 2 * L->pad, wp = in_w + 2 * L->pad;
    const uint8_t *win[64];
    const int16_t *tq[64];
    int32_t c, y, py, px, q, wi;
    memset(img, 0, (size_t)(L->in_c * hp * wp));
    for (c = 0; c < L->in_c; c++)
        for (y = 0; y < in_h; y++)
            memcpy(img + (c * hp + y + L->pad) * wp + L->pad, raw + (c * in_h + y) * in_w, (size_t)in_w);
    for (py = 0; py < L->out_h; py++) {
        for (px = 0; px < L->out_w; px++) {
            uint32_t *o32 = out + (py * L->out_w + px) * out_wpp;
            for (q = 0; q < nq; q++) {
                const int32_t oy = py * L->pool_s + q / L->pool_k, ox = px * L->pool_s + q % L->pool_k;
                win[q] = img + oy * L->stride * wp + ox * L->stride;
                tq[q] = L->w16 + (L->rowpat[oy] * L->ncolpat + L->colpat[ox]) * o16;
            }
#if defined(DNNC_MVE)
            dnnc_mve_conv_s16(L->w8, win, tq, nq, L->in_c, L->kh, L->kw, wp, hp * wp, o16, o32);
#else
            {
                const int32_t ntap = L->in_c * L->kh * L->kw;
                int32_t o, k;
                for (wi = 0; wi < out_wpp; wi++) o32[wi] = 0;
                for (o = 0; o < L->out_c; o++) {
                    const int8_t *wo = L->w8 + (o / 16) * 16 * ntap + o % 16;
                    uint32_t hit = 0;
                    for (q = 0; q < nq && !hit; q++) {
                        int32_t s = 0;
                        for (k = 0; k < ntap; k++)
                            s += wo[16 * k] * win[q][(k / (L->kh * L->kw)) * hp * wp + (k / L->kw % L->kh) * wp + k % L->kw];
                        hit = s >= tq[q][o];
                    }
                    o32[o >> 5] |= hit << (o & 31);
                }
            }
#endif
            for (wi = 0; wi < out_wpp; wi++) o32[wi] ^= L->flip[wi];
        }
    }
}

/* First conv layer on the raw input with int8 weights w8 [out_c][kpad] (u8_wide == 2: Helium targets, when the
 * int16 sums of dnnc_conv_u8_s16 could overflow; VMLADAV, portable C without it). The input once into an int8
 * image of p - 128 whose padding is p = 0 (-128); the receptive fields of a pool window's pixels gathered as
 * int8 rows of kpad bytes (zero past c*kh*kw, where the weights are 0);
 * acc_q = in_mul * (w . col_q) + corr[pattern][o], the compiler's constant per border pattern (128 * in_mul *
 * sum w, plus in_add * the valid taps' weight sum). Pooling with the early exit of dnnc_conv_bits_pool: an
 * output's pixels are computed only until one reaches the threshold (exact). col: nq * kpad bytes, the image. */
static inline void dnnc_conv_u8_i8(const dnnc_conv_t *L, const uint8_t *raw, uint32_t *out, int8_t *col)
{
    const int32_t nq = L->pool_k * L->pool_k, kpad = L->kpad, out_c = L->out_c, out_wpp = (out_c + 31) / 32;
    const int32_t in_c = L->in_c, in_h = L->in_h, in_w = L->in_w, kh = L->kh, kw = L->kw, mul = L->in_mul;
    const int32_t hp = in_h + 2 * L->pad, wp = in_w + 2 * L->pad, k = in_c * kh * kw;
    const int32_t *thr = L->thr;
    int8_t *img = col + nq * kpad;
    const int32_t *cst[16];
    int32_t c, y, x, py, px, q, wi, ky, kx;
    memset(img, 0x80, (size_t)(in_c * hp * wp));
    for (c = 0; c < in_c; c++)
        for (y = 0; y < in_h; y++) {
            const uint8_t *src = raw + (c * in_h + y) * in_w;
            int8_t *dst = img + (c * hp + y + L->pad) * wp + L->pad;
            for (x = 0; x < in_w; x++) dst[x] = (int8_t)(src[x] ^ 0x80u);
        }
    for (q = 0; q < nq; q++) memset(col + q * kpad + k, 0, (size_t)(kpad - k));
    for (py = 0; py < L->out_h; py++) {
        for (px = 0; px < L->out_w; px++) {
            uint32_t *o32 = out + (py * L->out_w + px) * out_wpp;
            for (q = 0; q < nq; q++) {
                const int32_t oy = py * L->pool_s + q / L->pool_k, ox = px * L->pool_s + q % L->pool_k;
                const int8_t *src = img + oy * L->stride * wp + ox * L->stride;
                int8_t *dst = col + q * kpad;
                for (c = 0; c < in_c; c++, src += hp * wp) {
                    for (ky = 0; ky < kh; ky++, dst += kw) {
                        if (kw == 5) /* the common 5x5 kernel: one fixed-size copy */
                            memcpy(dst, src + ky * wp, 5);
                        else
                            for (kx = 0; kx < kw; kx++) dst[kx] = src[ky * wp + kx];
                    }
                }
                cst[q] = L->corr + (L->rowpat[oy] * L->ncolpat + L->colpat[ox]) * out_c;
            }
#if defined(DNNC_MVE)
            dnnc_mve_pool_s8(L->w8, kpad, thr, col, cst, nq, mul, out_c, o32);
#else
            int32_t o;
            for (wi = 0; wi < out_wpp; wi++) o32[wi] = 0;
            for (o = 0; o < out_c; o++) {
                const int8_t *wo = L->w8 + o * kpad;
                uint32_t hit = thr[o] == INT32_MIN;
                for (q = 0; q < nq && !hit; q++) {
                    int32_t s = 0, i;
                    for (i = 0; i < kpad; i++) s += (int32_t)wo[i] * (int32_t)col[q * kpad + i];
                    hit = mul * s + cst[q][o] >= thr[o];
                }
                o32[o >> 5] |= hit << (o & 31);
            }
#endif
            for (wi = 0; wi < out_wpp; wi++) o32[wi] ^= L->flip[wi];
        }
    }
}
#endif

/* Accumulators of all outputs at conv pixel (oy, ox) from the padded u image. col: int16[kpad] gathered
 * receptive field followed by uint32[kpad/2] packed pairs. */
static inline void dnnc_conv_u8_pixel(const dnnc_conv_t *L, const int16_t *uimg, int32_t oy, int32_t ox, int16_t *col,
                                      int32_t *acc, int32_t maxin)
{
    uint32_t *col32 = (uint32_t *)(void *)(col + L->kpad);
    const int32_t hp = L->in_h + 2 * L->pad, wp = L->in_w + 2 * L->pad;
    /* layer fields in locals: the copies below may alias *L for the compiler, which would reload them */
    const int32_t in_c = L->in_c, kh = L->kh, kw = L->kw;
    const int16_t *plane = uimg + oy * L->stride * wp + ox * L->stride;
    int32_t c, ky, kx, o, k = 0;
    for (c = 0; c < in_c; c++, plane += hp * wp) {
        const int16_t *row = plane;
        for (ky = 0; ky < kh; ky++, row += wp) {
            if (kw == 5) { /* the common 5x5 kernel: one fixed-size copy (unaligned word moves) */
                memcpy(col + k, row, 5 * sizeof(int16_t));
                k += 5;
            } else {
                for (kx = 0; kx < kw; kx++) col[k++] = row[kx];
            }
        }
    }
    if (k < L->kpad) col[k] = 0; /* kpad = k rounded up to even: at most one zero (a loop became a memset call) */
    if (L->u8_wide) {
        /* acc[o] += w[k][o] * u[k] over all outputs at once: contiguous, vectorizable */
        const int32_t n = L->in_c * L->kh * L->kw, oc = L->out_c;
        for (o = 0; o < oc; o++) acc[o] = 0;
        for (k = 0; k < n; k++) {
            const int16_t *wk = L->w16 + k * oc;
            const int32_t u = col[k];
            for (o = 0; o < oc; o++) acc[o] += (int32_t)wk[o] * u;
        }
        return;
    }
#if defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && !defined(DNNC_NO_ASM) && defined(__ARMEL__)
    /* little-endian int16 pairs already are the packed words; only the (opaque) assembly reads them */
    col32 = (uint32_t *)(void *)col;
#else
    for (k = 0; k < L->kpad / 2; k++) col32[k] = (uint32_t)(uint16_t)col[2 * k] | (uint32_t)(uint16_t)col[2 * k + 1] << 16;
#endif
    for (o = 0; o < L->out_c; o += 4) dnnc_dot32x4_max(L->w32 + o * (L->kpad / 2), col32, L->kpad / 2, acc + o, maxin);
}

#if defined(DNNC_LANES_LAYOUT) /* model.c defines it when its weights use the output-lane layout */
/* The conv drivers are inlined at every call: the layer descriptor is a constant there, so the compiler
 * specializes the kernels to the layer's kind, kernel size and pool window (gcc otherwise shares one copy of the
 * driver between layers: mnist-cnn host 63k -> 96k cycles per inference). Only where the AVX-512 kernels are
 * used; other targets keep their measured code size and instruction counts. */
#if defined(__GNUC__) && (defined(DNNC_AVX512) || defined(DNNC_AVX2) || defined(DNNC_NEON))
#define DNNC_LAYER_INLINE static inline __attribute__((always_inline))
#else
#define DNNC_LAYER_INLINE static inline
#endif

/* Largest max-pool window of the output-lane conv (the compiler checks) */
#define DNNC_POOL_MAX 8

/* The whole conv layer in the output-lane layout: the input is copied once into a zero-bordered image (raw
 * bytes, or packed words whose zero words are corrected per border pattern), so every conv pixel reads its
 * window as kh contiguous rows; all outputs are computed 16 per vector, the pool window's maximum is kept per
 * output, then one threshold-and-pack per output pixel. img: the padded image (+ 3 bytes), acc, mx: nout. */
DNNC_LAYER_INLINE void dnnc_conv_lanes(const dnnc_conv_t *L, const void *in, uint32_t *out, void *img, int32_t *acc,
                                   int32_t *mx)
{
    const int32_t out_wpp = (L->out_c + 31) / 32, nout = (L->out_c + 15) / 16 * 16;
    const int32_t hp = L->in_h + 2 * L->pad, wp = L->in_w + 2 * L->pad, wpp = L->in_u8 ? 1 : L->in_wpp;
    const int32_t esize = L->in_u8 ? 1 : 4; /* bytes per image element (per word of a pixel) */
    const int32_t planes = L->in_u8 ? L->in_c : 1; /* raw input: CHW planes; packed: one HWC image */
    const int32_t wsmall = L->in_u8 ? dnnc_lanes_i8_quads(L->w8, nout * L->in_c * L->kh * L->kq * 4) : 0;
    int32_t c, y, py, px, wy, wx;
    memset(img, 0, (size_t)planes * hp * wp * wpp * esize + 4);
    for (c = 0; c < planes; c++)
        for (y = 0; y < L->in_h; y++)
            memcpy((uint8_t *)img + (((size_t)c * hp + y + L->pad) * wp + L->pad) * wpp * esize,
                   (const uint8_t *)in + ((size_t)c * L->in_h + y) * L->in_w * wpp * esize,
                   (size_t)(L->in_w * wpp * esize));
    for (py = 0; py < L->out_h; py++) {
        for (px = 0; px < L->out_w; px++) {
            const uint8_t *win[DNNC_POOL_MAX * DNNC_POOL_MAX]; /* window start of each pixel in the image */
            const int32_t *pcs[DNNC_POOL_MAX * DNNC_POOL_MAX];
            int32_t k = 0;
            for (wy = 0; wy < L->pool_k; wy++) {
                for (wx = 0; wx < L->pool_k; wx++, k++) {
                    const int32_t oy = py * L->pool_s + wy, ox = px * L->pool_s + wx;
                    const int32_t pat = L->rowpat[oy] * L->ncolpat + L->colpat[ox];
                    const size_t at = ((size_t)oy * L->stride * wp + (size_t)ox * L->stride) * wpp;
                    win[k] = (const uint8_t *)img + at * esize;
                    /* raw input: every pattern has a constant; packed: the interior needs no correction */
                    pcs[k] = L->in_u8 || pat != L->interior ? L->corr + pat * nout : NULL;
                }
            }
            if (L->in_u8) {
                dnnc_lanes_conv_u8(L->w8, win, pcs, k, L->in_c, L->kh, L->kq, wp, hp * wp, L->in_mul, nout, wsmall,
                                   mx);
            } else {
                /* packed input, one pixel at a time (a 4-pixel kernel saved no time: VPTERNLOGD overwrites an
                 * input, so reusing a loaded weight costs a register copy per use) */
                int32_t q;
                for (q = 0; q < k; q++) {
                    dnnc_lanes_rows(L->kind, dnnc_planes(L->kind), L->w, L->tot, pcs[q],
                                    (const uint32_t *)(const void *)win[q], L->kw * wpp, wp * wpp,
                                    L->kh, nout, acc);
                    dnnc_lanes_max(acc, mx, nout, q == 0);
                }
            }
            dnnc_threshold_pack(mx, L->out_c, L->thr, L->flip, out + (py * L->out_w + px) * out_wpp);
        }
    }
}
#else
#define DNNC_LAYER_INLINE static inline
#endif

/* The whole conv layer. in: raw uint8 (in_u8) or packed bits; out: packed bits, HWC.
 * Scratch: col (int16[kpad] + uint32[kpad/2], or uint32[ncol], x pool_k^2 when pooling packed input), uimg (int16, raw input only), acc, mx (int32[ceil(out_c/4)*4]). */
DNNC_LAYER_INLINE void dnnc_conv(const dnnc_conv_t *L, const void *in, uint32_t *out, void *col, int16_t *uimg,
                             int32_t *acc, int32_t *mx)
{
    const int32_t out_wpp = (L->out_c + 31) / 32;
    int32_t py, px, wy, wx, o;
#if defined(DNNC_PIX_CONV)
    if (L->pix) {
        dnnc_conv_pix(L, in, out, col);
        return;
    }
#endif
#if defined(DNNC_LANES_LAYOUT)
    if (L->lanes) {
        dnnc_conv_lanes(L, in, out, col, acc, mx);
        return;
    }
#endif
#if defined(DNNC_MVE_KERNELS)
    if (L->in_u8 && L->u8_wide == 3) {
        dnnc_conv_u8_s16(L, (const uint8_t *)in, out, (uint8_t *)col);
        return;
    }
    if (L->in_u8 && L->u8_wide == 2) {
        dnnc_conv_u8_i8(L, (const uint8_t *)in, out, (int8_t *)col);
        return;
    }
#endif
    if (!L->in_u8 && L->pool_k > 1 && L->pool_k <= 4) {
        dnnc_conv_bits_pool(L, (const uint32_t *)in, out, (uint32_t *)col);
        return;
    }
    if (L->in_u8)
        dnnc_input_uimg((const uint8_t *)in, L->in_c, L->in_h, L->in_w, L->pad, L->in_mul, L->in_add, uimg);
    else
        dnnc_zero_words((uint32_t *)col + L->kh * L->kw * L->in_wpp, L->ncol - L->kh * L->kw * L->in_wpp);
    for (py = 0; py < L->out_h; py++) {
        for (px = 0; px < L->out_w; px++) {
            for (wy = 0; wy < L->pool_k; wy++) {
                for (wx = 0; wx < L->pool_k; wx++) {
                    const int32_t oy = py * L->pool_s + wy, ox = px * L->pool_s + wx;
                    if (L->in_u8 && !L->u8_wide) { /* max-pool fused into the dot products (mx: ceil(out_c/4)*4) */
                        dnnc_conv_u8_pixel(L, uimg, oy, ox, (int16_t *)col, mx, wy != 0 || wx != 0);
                        continue;
                    }
                    if (L->in_u8)
                        dnnc_conv_u8_pixel(L, uimg, oy, ox, (int16_t *)col, acc, 0);
                    else
                        dnnc_conv_bits_pixel(L, (const uint32_t *)in, oy, ox, (uint32_t *)col, acc);
                    if (wy == 0 && wx == 0)
                        for (o = 0; o < L->out_c; o++) mx[o] = acc[o];
                    else
                        for (o = 0; o < L->out_c; o++) mx[o] = acc[o] > mx[o] ? acc[o] : mx[o];
                }
            }
            dnnc_threshold_pack(mx, L->out_c, L->thr, L->flip, out + (py * L->out_w + px) * out_wpp);
        }
    }
}

/* Output layer: logits[k] = float32(float32(float32(acc[k]) * scale[k]) + bias[k]) (two roundings; build
 * with -ffp-contract=off), returns the lowest index of the maximum logit. */
static inline int32_t dnnc_output(const int32_t *acc, int32_t k, const float *scale, const float *bias, float *logits)
{
    int32_t i, best = 0;
    for (i = 0; i < k; i++) {
        const float prod = (float)acc[i] * scale[i];
        const float sum = prod + bias[i];
        logits[i] = sum;
        if (sum > logits[best]) best = i;
    }
    return best;
}

/* Index of the maximum logit, the lowest one on a tie (as onnxruntime's ArgMax/TopK). */
static inline int32_t dnnc_argmax(const float *logits, int32_t k)
{
    int32_t i, best = 0;
    for (i = 1; i < k; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

/* Raw code of one float32 input element: how many of the ascending thresholds t[0..n-1] x is >= (binary
 * search; NaN compares false everywhere and gets code 0), exactly the graph's own float quantizer. */
static inline uint8_t dnnc_quantize(float x, const float *t, int32_t n)
{
    int32_t lo = 0, hi = n;
    while (lo < hi) {
        const int32_t mid = (lo + hi + 1) / 2;
        if (x >= t[mid - 1]) lo = mid;
        else hi = mid - 1;
    }
    return (uint8_t)lo;
}

#endif /* DNNC_LAYERS_H */
