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
 * gathers its receptive field (c, ky, kx order, even length) and takes int16 dot products with the
 * layer's (small) int16 weights: SMLAD, two multiply-accumulates per instruction, on cores with DSP.
 */
#ifndef DNNC_INTIN_H
#define DNNC_INTIN_H

#include <stdint.h>
#include <string.h>

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

/* Tables for groups g0 .. g0+ng-1: tab[k*vg + code] = sum_e values[digit_e(code)] * u[(g0+k)*group + e]. */
static inline void dnnc_lut_build(const int32_t *u, int32_t group, int32_t levels, int32_t vg, const int8_t *values,
                                  int32_t g0, int32_t ng, int32_t *tab)
{
    int32_t k, e, d, r;
    for (k = 0; k < ng; k++) {
        int32_t *t = tab + k * vg;
        const int32_t *ug = u + (g0 + k) * group;
        int32_t size = 1;
        t[0] = 0;
        for (e = 0; e < group; e++) {
            for (d = levels - 1; d >= 0; d--) {
                const int32_t add = (int32_t)values[d] * ug[e];
                int32_t *dst = t + d * size;
                for (r = 0; r < size; r++) dst[r] = t[r] + add;
            }
            size *= levels;
        }
    }
}

/* Sum of ng table lookups: one byte code per group, tables vg entries apart. */
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

/* Four outputs at once: acc[j] = sum_k w[o=j][k] * u[k] with w stored as [pair][4 outputs][2] int16 (the
 * input pair is loaded once for four outputs). */
static inline void dnnc_dot16x4(const int16_t *w, const int16_t *u, int32_t npairs, int32_t *acc)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, k;
#if defined(__ARM_FEATURE_DSP)
    for (k = 0; k + 2 <= npairs; k += 2) {
        int32_t up, vp, w0, w1, w2, w3;
        memcpy(&up, u + 2 * k, sizeof up);
        memcpy(&vp, u + 2 * k + 2, sizeof vp);
        memcpy(&w0, w + 8 * k, sizeof w0);
        memcpy(&w1, w + 8 * k + 2, sizeof w1);
        memcpy(&w2, w + 8 * k + 4, sizeof w2);
        memcpy(&w3, w + 8 * k + 6, sizeof w3);
        a0 = __smlad(w0, up, a0);
        a1 = __smlad(w1, up, a1);
        a2 = __smlad(w2, up, a2);
        a3 = __smlad(w3, up, a3);
        memcpy(&w0, w + 8 * k + 8, sizeof w0);
        memcpy(&w1, w + 8 * k + 10, sizeof w1);
        memcpy(&w2, w + 8 * k + 12, sizeof w2);
        memcpy(&w3, w + 8 * k + 14, sizeof w3);
        a0 = __smlad(w0, vp, a0);
        a1 = __smlad(w1, vp, a1);
        a2 = __smlad(w2, vp, a2);
        a3 = __smlad(w3, vp, a3);
    }
    for (; k < npairs; k++) {
        int32_t up, w0, w1, w2, w3;
        memcpy(&up, u + 2 * k, sizeof up);
        memcpy(&w0, w + 8 * k, sizeof w0);
        memcpy(&w1, w + 8 * k + 2, sizeof w1);
        memcpy(&w2, w + 8 * k + 4, sizeof w2);
        memcpy(&w3, w + 8 * k + 6, sizeof w3);
        a0 = __smlad(w0, up, a0);
        a1 = __smlad(w1, up, a1);
        a2 = __smlad(w2, up, a2);
        a3 = __smlad(w3, up, a3);
    }
#else
    for (k = 0; k < npairs; k++) {
        const int32_t u0 = u[2 * k], u1 = u[2 * k + 1];
        const int16_t *q = w + 8 * k;
        a0 += q[0] * u0 + q[1] * u1;
        a1 += q[2] * u0 + q[3] * u1;
        a2 += q[4] * u0 + q[5] * u1;
        a3 += q[6] * u0 + q[7] * u1;
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* sum_k a[k] * b[k] over 2*npairs int16 elements (both arrays 4-byte aligned). */
static inline int32_t dnnc_dot16(const int16_t *a, const int16_t *b, int32_t npairs)
{
    int32_t acc = 0, k;
#if defined(__ARM_FEATURE_DSP)
    for (k = 0; k < npairs; k++) {
        int32_t pa, pb;
        memcpy(&pa, a + 2 * k, sizeof pa);
        memcpy(&pb, b + 2 * k, sizeof pb);
        acc = __smlad(pa, pb, acc);
    }
#else
    for (k = 0; k < 2 * npairs; k++) acc += (int32_t)a[k] * (int32_t)b[k];
#endif
    return acc;
}

#endif /* DNNC_INTIN_H */
