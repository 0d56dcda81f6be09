/* dnnc runtime: C99 kernels for discrete-weight sign networks (Roth et al. 2019). Header only: no
 * allocation, no recursion, no globals; every buffer lives in an arena the caller owns.
 *
 * BIT-PACKING CONVENTION (the one convention of dnnc: C runtime, HLS and docs/targets/cortex-m4.md)
 *   - A ±1 activation is one bit: bit value 1 means +1, bit value 0 means -1.
 *   - Element i of a packed vector is bit (i % 32) of 32-bit word i / 32: LSB first, words uint32_t.
 *   - Conv activations are stored HWC: pixel (y, x) owns wpp = ceil(C/32) words starting at
 *     (y*W + x)*wpp, channel c in bit c % 32 of word c / 32. A dense layer after a conv reads that
 *     buffer as one vector; the compiler permutes its weight columns from the IR's (C, H, W) order.
 *   - Padding bits (past the last element of a vector, or past channel C-1 of a pixel) are 0 in the
 *     activations and in every weight plane; sums use the true fan-in, so padding never changes a sum.
 *
 * Headers: dnnc_popcount.h (popcount, carry-save adders), dnnc_bitact.h (packed dot products,
 * threshold-and-pack), dnnc_intin.h (first layer on the raw uint8 input), dnnc_layers.h (layer drivers,
 * output affine + argmax); where model.c defines their feature macro (and the library ships them):
 * dnnc_bitact_v7em.h (DNNC_V7EM_KERNELS, Armv7E-M assembly), dnnc_lanes.h (DNNC_LANES_LAYOUT, output lanes),
 * dnnc_mve.h (DNNC_MVE_KERNELS, Helium).
 */
#ifndef DNNC_RUNTIME_H
#define DNNC_RUNTIME_H

#include "dnnc_layers.h"

#endif /* DNNC_RUNTIME_H */
