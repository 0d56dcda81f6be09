/* dnnc runtime: k-bit activations (1 to 4 bits, FINN MultiThreshold semantics). C99, header only.
 *
 * K-BIT PACKING (beside the 1-bit convention of dnnc_runtime.h): a k-bit activation y = bias + c holds its
 * code c in [0, 2^P) as P bit planes; plane p is a packed vector of bit p of every code, in the 1-bit
 * convention (element i at bit i % 32 of word i / 32, LSB first, padding bits 0). The planes of one vector
 * follow each other at a fixed stride of `pw` words (plane p starts at word p * pw; words past the vector
 * are 0), plane 0 (the least significant bit) first.
 *
 * Dot products are bit-serial over the planes with the 1-bit kernels: read as +-1 (bit 1 = +1), plane p
 * gives S_p = sum_i w_i (2 b_pi - 1) = tot - 2 cnt, so sum_i w_i b_pi = (S_p + W) / 2 with W = sum_i w_i,
 * and   acc = bias * W + sum_p 2^p (S_p + W) / 2   (exact: S_p + W is even).
 */
#ifndef DNNC_KBIT_H
#define DNNC_KBIT_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* Each plane runs the 1-bit kernel with tot + W in place of tot, giving X_p = S_p + W = 2 sum_i w_i b_pi, so
 *   acc = kb + (sum_p 2^p X_p) / 2,   kb = bias * W   (the sum is even: the halving is exact).
 * dnnc_kbit_add folds plane p (1 <= p < P - 1) into acc; dnnc_kbit_last folds the last plane (part = NULL
 * when P = 1) and finishes. One pass over the outputs for 2-bit activations. */
static inline void dnnc_kbit_add(int32_t *acc, const int32_t *part, int32_t p, int32_t nout)
{
    int32_t o;
    for (o = 0; o < nout; o++) acc[o] += part[o] * (1 << p);
}

static inline void dnnc_kbit_last(int32_t *acc, const int32_t *part, int32_t p, const int32_t *kb, int32_t nout)
{
    int32_t o;
    if (part == NULL) {
        for (o = 0; o < nout; o++) acc[o] = kb[o] + acc[o] / 2;
        return;
    }
    for (o = 0; o < nout; o++) acc[o] = kb[o] + (acc[o] + part[o] * (1 << p)) / 2;
}

/* Fused multi-threshold-and-pack: code c[o] = #{j : acc[o] >= thr[o][j]} (T = nthr thresholds per output),
 * or nthr minus that where bit o of flip is set (a direction -1 channel, `acc <= t` stored as t + 1), written
 * as `planes` bit planes of `pw` words each (words past n are zeroed). */
static inline int32_t dnnc_count_thresholds(int32_t a, const int32_t *t, int32_t nthr)
{
    int32_t j, c;
    switch (nthr) { /* the usual 2-bit cases unrolled */
    case 2: return (a >= t[0]) + (a >= t[1]);
    case 3: return (a >= t[0]) + (a >= t[1]) + (a >= t[2]);
    default:
        for (c = 0, j = 0; j < nthr; j++) c += a >= t[j];
        return c;
    }
}

static inline void dnnc_multi_threshold_pack(const int32_t *acc, int32_t n, int32_t nthr, const int32_t *thr,
                                             const uint32_t *flip, int32_t planes, int32_t pw, uint32_t *out)
{
    int32_t wi, p;
    for (wi = 0; wi < pw; wi++) {
        uint32_t b0 = 0, b1 = 0, b2 = 0, b3 = 0, f = 0;
        int32_t b, lim = n - 32 * wi < 32 ? n - 32 * wi : 32;
        if (lim > 0) f = flip[wi];
        for (b = 0; b < lim; b++) {
            const int32_t o = 32 * wi + b;
            int32_t c = dnnc_count_thresholds(acc[o], thr + o * nthr, nthr);
            if ((f >> b) & 1u) c = nthr - c;
            b0 |= (uint32_t)(c & 1) << b;
            b1 |= (uint32_t)((c >> 1) & 1) << b;
            b2 |= (uint32_t)((c >> 2) & 1) << b;
            b3 |= (uint32_t)((c >> 3) & 1) << b;
        }
        out[wi] = b0;
        for (p = 1; p < planes; p++) out[p * pw + wi] = p == 1 ? b1 : p == 2 ? b2 : b3;
    }
}

/* BYTE PATH: a network with k-bit conv layers, or with weights outside the packed sets (INT3/INT4), keeps its
 * activations as int8 levels y = bias + step * c (step 1; sign activations: bias -1, step 2), one byte per
 * element, HWC (pixel (y, x) owns bytes [(y*W + x)*C, +C)); its first layer reads the raw uint8 input in the
 * model's own (C, H, W) order as u = in_mul * p + in_add (a first dense layer is a conv whose window is the
 * whole input). Padded conv positions contribute 0. Plain loops: the layer computes acc, max-pools it, and
 * writes each output's level (multi-threshold count c). */
/* FOUR-ROW BLOCKS: the weights of a k-bit-input layer come in blocks of four output rows, byte
 * w[(i / 4) * 16 + r * 4 + i % 4] for row r and input i of a 4-aligned run (pad rows and columns 0), so one
 * pointer walks them and each input word is loaded and sign-extended once for four rows (Armv7E-M: 16
 * products per ~25 instructions, SXTB16 with ROR #8 for the odd bytes). */
#if defined(__ARM_FEATURE_DSP)
static inline uint32_t dnnc_sxtb16_ror8(uint32_t v)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
#define DNNC_MACW_(k)                                                  \
    do {                                                               \
        uint32_t wv_;                                                  \
        memcpy(&wv_, w + 4 * (k), 4);                                  \
        s##k = __smlad(xe, __sxtb16(wv_), s##k);                       \
        s##k = __smlad(xo, dnnc_sxtb16_ror8(wv_), s##k);               \
    } while (0)
#endif

/* s[r] += sum_{i < n} x[i] * row r, n a multiple of 4, w in four-row blocks (n * 4 bytes). */
static inline void dnnc_dot4_blocks(const int8_t *x, const int8_t *w, int32_t n, int32_t *s)
{
    int32_t i, s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
#if defined(__ARM_FEATURE_DSP)
    for (i = 0; i < n; i += 4, w += 16) {
        uint32_t xv, xe, xo;
        memcpy(&xv, x + i, 4);
        xe = __sxtb16(xv);
        xo = dnnc_sxtb16_ror8(xv);
        DNNC_MACW_(0);
        DNNC_MACW_(1);
        DNNC_MACW_(2);
        DNNC_MACW_(3);
    }
#else
    int32_t k;
    for (i = 0; i < n; i += 4, w += 16)
        for (k = 0; k < 4; k++) {
            const int32_t v = x[i + k];
            s0 += v * w[k];
            s1 += v * w[4 + k];
            s2 += v * w[8 + k];
            s3 += v * w[12 + k];
        }
#endif
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
}

typedef struct {
    int32_t in_c, in_h, in_w, out_c, kh, kw, stride, pad;
    int32_t pool_k, pool_s, out_h, out_w; /* max-pool window/stride (1, 1: none), output size after it */
    int32_t in_u8, in_mul, in_add;        /* 1: the raw input (C, H, W), u = in_mul * p + in_add */
    const int8_t *w; /* raw input: [out_c][kh][kw][in_c]; else four-row blocks [out_c / 4][kh][kw][c4 / 4][4][4] */
    int32_t nthr, out_bias, out_step;     /* multi-threshold: thr [out_c][nthr], flip bits, y = bias + step c */
    const int32_t *thr;
    const uint32_t *flip;
} dnnc_convb_t;

/* Output o at conv position (cy, cx) of a first layer on the raw uint8 input (C, H, W). */
static inline int32_t dnnc_convb_acc(const dnnc_convb_t *L, const uint8_t *in, int32_t o, int32_t cy, int32_t cx)
{
    int32_t a, b, ci, s = 0;
    const int8_t *wo = L->w + o * L->kh * L->kw * L->in_c;
    for (a = 0; a < L->kh; a++) {
        const int32_t y = cy * L->stride + a - L->pad;
        if (y < 0 || y >= L->in_h) continue;
        for (b = 0; b < L->kw; b++) {
            const int32_t x = cx * L->stride + b - L->pad;
            const int8_t *wt = wo + (a * L->kw + b) * L->in_c;
            const uint8_t *p = in + y * L->in_w + x;
            int32_t t = 0;
            if (x < 0 || x >= L->in_w) continue;
            for (ci = 0; ci < L->in_c; ci++) t += wt[ci] * (int32_t)p[ci * L->in_h * L->in_w];
            s += L->in_mul * t;
            for (ci = 0; ci < L->in_c; ci++) s += L->in_add * wt[ci];
        }
    }
    return s;
}

static inline int8_t dnnc_level(int32_t a, const int32_t *t, int32_t nthr, int32_t flip, int32_t bias, int32_t step)
{
    int32_t c = dnnc_count_thresholds(a, t, nthr);
    return (int8_t)(bias + step * (flip ? nthr - c : c));
}

/* Four outputs o0..o0+3 (block o0 / 4) at conv position (cy, cx), int8 input; c4 = in_c rounded up to 4 (the
 * last in_c % 4 channels of a pixel one at a time: reading past them could leave the buffer). */
static inline void dnnc_convb_acc4(const dnnc_convb_t *L, const int8_t *in, int32_t o0, int32_t cy, int32_t cx,
                                   int32_t *s)
{
    const int32_t c4 = (L->in_c + 3) & ~3, cw = L->in_c & ~3;
    const int8_t *wb = L->w + o0 * L->kh * L->kw * c4;
    int32_t a, b, e;
    s[0] = s[1] = s[2] = s[3] = 0;
    for (a = 0; a < L->kh; a++) {
        const int32_t y = cy * L->stride + a - L->pad;
        if (y < 0 || y >= L->in_h) continue;
        for (b = 0; b < L->kw; b++) {
            const int32_t x = cx * L->stride + b - L->pad;
            const int8_t *w = wb + (a * L->kw + b) * c4 * 4, *xp = in + (y * L->in_w + x) * L->in_c;
            if (x < 0 || x >= L->in_w) continue;
            dnnc_dot4_blocks(xp, w, cw, s);
            for (e = 0; e < L->in_c - cw; e++) {
                const int32_t v = xp[cw + e];
                s[0] += v * w[cw * 4 + e];
                s[1] += v * w[cw * 4 + 4 + e];
                s[2] += v * w[cw * 4 + 8 + e];
                s[3] += v * w[cw * 4 + 12 + e];
            }
        }
    }
}

static inline void dnnc_convb(const dnnc_convb_t *L, const void *in, int8_t *out)
{
    int32_t oy, ox, o, py, px, k;
    if (!L->in_u8) { /* k-bit input: four outputs per loaded input word */
        for (oy = 0; oy < L->out_h; oy++)
            for (ox = 0; ox < L->out_w; ox++)
                for (o = 0; o < L->out_c; o += 4) {
                    int32_t m[4] = {0, 0, 0, 0}, s[4] = {0, 0, 0, 0};
                    for (py = 0; py < L->pool_k; py++)
                        for (px = 0; px < L->pool_k; px++) {
                            dnnc_convb_acc4(L, (const int8_t *)in, o, oy * L->pool_s + py, ox * L->pool_s + px, s);
                            for (k = 0; k < 4; k++) m[k] = (py == 0 && px == 0) || s[k] > m[k] ? s[k] : m[k];
                        }
                    for (k = 0; k < 4 && o + k < L->out_c; k++)
                        out[(oy * L->out_w + ox) * L->out_c + o + k] =
                            dnnc_level(m[k], L->thr + (o + k) * L->nthr, L->nthr,
                                       (int32_t)((L->flip[(o + k) / 32] >> ((o + k) % 32)) & 1u), L->out_bias,
                                       L->out_step);
                }
        return;
    }
    for (oy = 0; oy < L->out_h; oy++)
        for (ox = 0; ox < L->out_w; ox++)
            for (o = 0; o < L->out_c; o++) {
                int32_t m = 0;
                for (py = 0; py < L->pool_k; py++)
                    for (px = 0; px < L->pool_k; px++) {
                        const int32_t a = dnnc_convb_acc(L, (const uint8_t *)in, o, oy * L->pool_s + py, ox * L->pool_s + px);
                        m = (py == 0 && px == 0) || a > m ? a : m;
                    }
                out[(oy * L->out_w + ox) * L->out_c + o] =
                    dnnc_level(m, L->thr + o * L->nthr, L->nthr, (int32_t)((L->flip[o / 32] >> (o % 32)) & 1u), L->out_bias,
                           L->out_step);
            }
}

/* Dense on int8 levels: acc[o] = sum_i w[o][i] x[i], columns in the producer's HWC order, w in four-row blocks
 * over n4 = fan-in rounded up to 4 (x holds n4 readable bytes: its buffer is whole words; pad weights 0). */
static inline void dnnc_dense_bytes(const int8_t *w, const int8_t *x, int32_t n4, int32_t nout, int32_t *acc)
{
    int32_t o, k;
    for (o = 0; o < nout; o += 4, w += 4 * n4) {
        int32_t s[4] = {0, 0, 0, 0};
        dnnc_dot4_blocks(x, w, n4, s);
        for (k = 0; k < 4 && o + k < nout; k++) acc[o + k] = s[k];
    }
}

static inline void dnnc_multi_threshold_bytes(const int32_t *acc, int32_t n, int32_t nthr, const int32_t *thr,
                                              const uint32_t *flip, int32_t bias, int32_t step, int8_t *out)
{
    int32_t o;
    for (o = 0; o < n; o++)
        out[o] = dnnc_level(acc[o], thr + o * nthr, nthr, (int32_t)((flip[o / 32] >> (o % 32)) & 1u), bias, step);
}

#endif /* DNNC_KBIT_H */
