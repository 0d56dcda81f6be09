/* dnnc runtime: Helium (Armv8.1-M MVE) kernels, for cores such as the Cortex-M55. C99 + ACLE arm_mve.h intrinsics
 * and a little inline assembly. Included by dnnc_bitact.h in a library whose model.c defines DNNC_MVE_KERNELS (a
 * target with `mve = true`); active when the compiler targets MVE (__ARM_FEATURE_MVE).
 *
 * Packed layers (every weight set; dense, and conv with early-exit max-pooling): four 32-bit words per 128-bit
 * vector (VLD2 splits two interleaved planes, word gathers three), XOR/AND, then per-byte bit counts. MVE has
 * no vector popcount: the counts are a byte gather from a 256-entry table (VLDRB with the 16 bytes as offsets)
 * summed with VADDVA, or with -DDNNC_MVE_SWAR per-byte SWAR shifts and masks (10 instructions a vector instead
 * of 1). First layers on the raw input: dense with int8 weights and VMLADAV (pixels as p - 128); conv with
 * int16 sums of 16 outputs a vector (VMLA by each pixel) where they cannot overflow, else VMLADAV.
 */
#ifndef DNNC_MVE_H
#define DNNC_MVE_H

#include <stdint.h>

#if defined(DNNC_MVE_KERNELS) && defined(__ARM_FEATURE_MVE) && !defined(DNNC_NO_ASM)
#define DNNC_MVE 1
#include <arm_mve.h>

#if defined(DNNC_MVE_SWAR)
/* Per-byte popcounts of the 16 bytes of v (each <= 8). */
static inline uint8x16_t dnnc_mve_popbytes(uint8x16_t v)
{
    v = vsubq_u8(v, vandq_u8(vshrq_n_u8(v, 1), vdupq_n_u8(0x55)));
    v = vaddq_u8(vandq_u8(v, vdupq_n_u8(0x33)), vandq_u8(vshrq_n_u8(v, 2), vdupq_n_u8(0x33)));
    return vandq_u8(vaddq_u8(v, vshrq_n_u8(v, 4)), vdupq_n_u8(0x0F));
}
#else
/* Popcount (k = 1) or twice the popcount (k = 2) of every byte value (functions, so that a library without
 * packed layers has no unused table). */
#define DNNC_P2_(n, k) n, n + k, n + k, n + 2 * k
#define DNNC_P4_(n, k) DNNC_P2_(n, k), DNNC_P2_(n + k, k), DNNC_P2_(n + k, k), DNNC_P2_(n + 2 * k, k)
#define DNNC_P6_(n, k) DNNC_P4_(n, k), DNNC_P4_(n + k, k), DNNC_P4_(n + k, k), DNNC_P4_(n + 2 * k, k)
#define DNNC_P8_(k) DNNC_P6_(0, k), DNNC_P6_(k, k), DNNC_P6_(k, k), DNNC_P6_(2 * k, k)
static inline const uint8_t *dnnc_mve_pop8(void)
{
    static const uint8_t pop8[256] = {DNNC_P8_(1)};
    return pop8;
}

static inline const uint8_t *dnnc_mve_pop8x2(void)
{
    static const uint8_t pop8x2[256] = {DNNC_P8_(2)};
    return pop8x2;
}
#undef DNNC_P8_
#undef DNNC_P6_
#undef DNNC_P4_
#undef DNNC_P2_
#endif

/* Disagreement count of one output: binary popcount(w ^ x) over n words, n a multiple of 4 (the plan pads
 * packed vectors to 4 words); ternary popcount((w0 ^ x) & w1) with the planes interleaved (w0 = w[2j],
 * w1 = w[2j + 1]). Gather: each vector's byte counts summed at once. SWAR: byte counts in runs of at most
 * 31 vectors. */
/* The next 4 words' disagreement bits (s ^ x, & m for ternary), advancing w and x past them. */
static inline uint32x4_t dnnc_mve_disagree(const uint32_t **w, const uint32_t **x, int ternary)
{
    uint32x4_t d;
    if (ternary) {
        const uint32x4x2_t wv = vld2q_u32(*w);
        d = vandq_u32(veorq_u32(wv.val[0], vld1q_u32(*x)), wv.val[1]);
        *w += 8;
    } else {
        d = veorq_u32(vld1q_u32(*w), vld1q_u32(*x));
        *w += 4;
    }
    *x += 4;
    return d;
}

static inline uint32_t dnnc_mve_count(int ternary, const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t total = 0;
#if defined(DNNC_MVE_SWAR)
    int32_t nfull = n / 4, v;
    while (nfull > 0) {
        const int32_t k = nfull < 31 ? nfull : 31;
        uint8x16_t bytes = vdupq_n_u8(0);
        nfull -= k;
        for (v = 0; v < k; v++) {
            const uint32x4_t d = dnnc_mve_disagree(&w, &x, ternary);
            bytes = vaddq_u8(bytes, dnnc_mve_popbytes(vreinterpretq_u8_u32(d)));
        }
        total = vaddvaq_u8(total, bytes);
    }
#else
    const uint8_t *pop8 = dnnc_mve_pop8();
    int32_t v;
    __asm__("" : "+r"(pop8)); /* the table address in a register (gcc reloaded it from the literal pool per vector) */
    for (v = n >> 2; v > 0; v--) {
        const uint32x4_t d = dnnc_mve_disagree(&w, &x, ternary);
        total = vaddvaq_u8(total, vldrbq_gather_offset_u8(pop8, vreinterpretq_u8_u32(d)));
    }
#endif
    return total;
}

/* Weighted count of a quaternary row (planes s, b1 interleaved: |w| = 1 + 2 b1, d = s ^ x counted once and
 * d & b1 twice) or quinary row (planes s, b0, b1: |w| = b0 + 2 b1, d & b0 once and d & b1 twice), n % 4 == 0.
 * Gather: the weight-2 bytes from a table of doubled counts. Quinary has three planes and MVE no VLD3: each
 * plane's four words are one word gather (offsets 0, 3, 6, 9 words). */
static inline uint32_t dnnc_mve_count_12(int planes, const uint32_t *w, const uint32_t *x, int32_t n)
{
    uint32_t total = 0;
    int32_t v;
#if defined(DNNC_MVE_SWAR)
#define DNNC_MVE_ADD1(t, d) vaddvaq_u8(t, dnnc_mve_popbytes(vreinterpretq_u8_u32(d)))
#define DNNC_MVE_ADD2(t, d) vaddvaq_u8(t, vshlq_n_u8(dnnc_mve_popbytes(vreinterpretq_u8_u32(d)), 1))
#else
    const uint8_t *pop8 = dnnc_mve_pop8(), *pop8x2 = dnnc_mve_pop8x2();
    __asm__("" : "+r"(pop8), "+r"(pop8x2));
#define DNNC_MVE_ADD1(t, d) vaddvaq_u8(t, vldrbq_gather_offset_u8(pop8, vreinterpretq_u8_u32(d)))
#define DNNC_MVE_ADD2(t, d) vaddvaq_u8(t, vldrbq_gather_offset_u8(pop8x2, vreinterpretq_u8_u32(d)))
#endif
    if (planes == 2) {
        for (v = n >> 2; v > 0; v--, w += 8, x += 4) {
            const uint32x4x2_t wv = vld2q_u32(w);
            const uint32x4_t d = veorq_u32(wv.val[0], vld1q_u32(x));
            total = DNNC_MVE_ADD1(total, d);
            total = DNNC_MVE_ADD2(total, vandq_u32(d, wv.val[1]));
        }
    } else {
        const uint32x4_t off = vmulq_n_u32(vidupq_n_u32(0, 1), 3);
        for (v = n >> 2; v > 0; v--, w += 12, x += 4) {
            const uint32x4_t d = veorq_u32(vldrwq_gather_shifted_offset_u32(w, off), vld1q_u32(x));
            total = DNNC_MVE_ADD1(total, vandq_u32(d, vldrwq_gather_shifted_offset_u32(w + 1, off)));
            total = DNNC_MVE_ADD2(total, vandq_u32(d, vldrwq_gather_shifted_offset_u32(w + 2, off)));
        }
    }
#undef DNNC_MVE_ADD2
#undef DNNC_MVE_ADD1
    return total;
}

/* One pooled output pixel of a conv on packed bits, with the early exit of dnnc_conv_bits_pool: bit o of
 * o32[o / 32] is set when tot[o] - 2 count + corr[q][o] >= thr[o] for some of the nq receptive fields in col
 * (n words each, n % 4 == 0; corr[q] NULL: no correction). COUNT(wo, xq, cnt) sets cnt. A function per kind
 * and row length: inlined into the conv driver, gcc spilled the count loop's registers. */
#define DNNC_MVE_POOL_BODY(PLANES, COUNT)                                                          \
    do {                                                                                           \
        uint32_t bits = 0;                                                                         \
        int32_t o, q;                                                                              \
        for (o = 0; o < nout; o++, w += (PLANES) * n) {                                            \
            const int32_t t = thr[o], to = tot[o];                                                 \
            uint32_t hit = t == INT32_MIN, cnt;                                                    \
            for (q = 0; q < nq && !hit; q++) {                                                     \
                COUNT(w, col + q * n, cnt);                                                        \
                hit = to - 2 * (int32_t)cnt + (corr[q] ? corr[q][o] : 0) >= t;                     \
            }                                                                                      \
            bits |= hit << (o & 31);                                                               \
            if ((o & 31) == 31 || o == nout - 1) {                                                 \
                o32[o >> 5] = bits;                                                                \
                bits = 0;                                                                          \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#if !defined(DNNC_MVE_SWAR)
/* Rows of NV <= 7 vectors with the window's first min(NV, 5) x vectors held in q3..q7 across outputs (the
 * asm's x operands; q0..q2 scratch, vectors 6 and 7 loaded into q2): the windows outer, the outputs still
 * counting inner (their bits in o32: the early exit of DNNC_MVE_POOL_BODY, the same bits). 4 (binary) or 6
 * (ternary) instructions a vector held in a register, straight-line (gcc spilled an unrolled C loop's
 * registers; repetitions written out, not .rept, because gcc sizes an asm by its lines and a short branch over
 * a .rept block it had sized too small did not assemble at -Og). */
#define DNNC_MVE_TER_VECR(X)                                                                       \
    "vld20.32 {q0, q1}, [%[w]]\n\t"                                                               \
    "vld21.32 {q0, q1}, [%[w]]!\n\t"                                                              \
    "veor q0, q0, " X "\n\t"                                                                      \
    "vand q0, q0, q1\n\t"                                                                         \
    "vldrb.u8 q1, [%[t], q0]\n\t"                                                                 \
    "vaddva.u8 %[a], q1\n\t"
#define DNNC_MVE_BIN_VECR(X)                                                                       \
    "vldrw.32 q0, [%[w]], #16\n\t"                                                                \
    "veor q0, q0, " X "\n\t"                                                                      \
    "vldrb.u8 q1, [%[t], q0]\n\t"                                                                 \
    "vaddva.u8 %[a], q1\n\t"
#define DNNC_MVE_XR3(V) V("%q[x0]") V("%q[x1]") V("%q[x2]")
#define DNNC_MVE_XR5(V) V("%q[x0]") V("%q[x1]") V("%q[x2]") V("%q[x3]") V("%q[x4]")
#define DNNC_MVE_XR7(V)                                                                            \
    DNNC_MVE_XR5(V) "vldrw.32 q2, [%[xm]]\n\t" V("q2") "vldrw.32 q2, [%[xm], #16]\n\t" V("q2")
#define DNNC_MVE_POOL_XREG(PLANES, NV, VECR)                                                       \
    do {                                                                                           \
        const int32_t nw = (nout + 31) / 32;                                                       \
        int32_t wi, q, o;                                                                          \
        for (wi = 0; wi < nw; wi++) { /* constant channels (thr = INT32_MIN) hit before counting */ \
            uint32_t b = 0;                                                                        \
            for (o = 32 * wi; o < nout && o < 32 * wi + 32; o++) b |= (uint32_t)(thr[o] == INT32_MIN) << (o & 31); \
            o32[wi] = b;                                                                           \
        }                                                                                          \
        for (q = 0; q < nq; q++) {                                                                 \
            const uint32_t *xq = col + q * n;                                                      \
            const int32_t *cq = corr[q];                                                           \
            const uint32x4_t x0 = vld1q_u32(xq), x1 = vld1q_u32(xq + 4), x2 = vld1q_u32(xq + 8);   \
            const uint32x4_t x3 = (NV) > 3 ? vld1q_u32(xq + 12) : x0;                              \
            const uint32x4_t x4 = (NV) > 3 ? vld1q_u32(xq + 16) : x0;                              \
            for (wi = 0; wi < nw; wi++) {                                                          \
                const int32_t left = nout - 32 * wi;                                               \
                uint32_t pend = ~o32[wi] & (left >= 32 ? ~0u : (1u << left) - 1u), hits = 0;       \
                while (pend) {                                                                     \
                    const int32_t b = (int32_t)__builtin_ctz(pend);                                \
                    const uint32_t *w_ = w + (32 * wi + b) * (PLANES) * n;                         \
                    register uint32_t a_ __asm__("r12") = 0; /* VADDVA: an even register */       \
                    o = 32 * wi + b;                                                               \
                    pend &= pend - 1u;                                                             \
                    __asm__(DNNC_MVE_XR##NV(VECR)                                                  \
                            : [w] "+r"(w_), [a] "+r"(a_)                                           \
                            : [t] "r"(pop8), [xm] "r"(xq + 20), [x0] "w"(x0), [x1] "w"(x1),        \
                              [x2] "w"(x2), [x3] "w"(x3), [x4] "w"(x4)                             \
                            : "memory", "d0", "d1", "d2", "d3", "d4", "d5");                       \
                    if (tot[o] - 2 * (int32_t)a_ + (cq ? cq[o] : 0) >= thr[o]) hits |= 1u << b;    \
                }                                                                                  \
                o32[wi] |= hits;                                                                   \
            }                                                                                      \
        }                                                                                          \
    } while (0)
#endif

#define DNNC_MVE_CNT_T(W, X, CNT) ((CNT) = dnnc_mve_count(1, W, X, n))
#define DNNC_MVE_CNT_B(W, X, CNT) ((CNT) = dnnc_mve_count(0, W, X, n))

static __attribute__((noinline, unused)) void dnnc_mve_pool_ternary(const uint32_t *w, const int32_t *tot,
                                                                   const int32_t *thr, const uint32_t *col,
                                                                   const int32_t *const *corr, int32_t nq,
                                                                   int32_t n, int32_t nout, uint32_t *o32)
{
#if !defined(DNNC_MVE_SWAR)
    const uint8_t *pop8 = dnnc_mve_pop8();
    switch (n) { /* the rows of common kernels: 3x3 and 5x5 on up to 32 channels, 3x3 on 64 */
    case 12: DNNC_MVE_POOL_XREG(2, 3, DNNC_MVE_TER_VECR); return;
    case 20: DNNC_MVE_POOL_XREG(2, 5, DNNC_MVE_TER_VECR); return;
    case 28: DNNC_MVE_POOL_XREG(2, 7, DNNC_MVE_TER_VECR); return;
    default: break;
    }
#endif
    DNNC_MVE_POOL_BODY(2, DNNC_MVE_CNT_T);
}

static __attribute__((noinline, unused)) void dnnc_mve_pool_binary(const uint32_t *w, const int32_t *tot,
                                                                  const int32_t *thr, const uint32_t *col,
                                                                  const int32_t *const *corr, int32_t nq,
                                                                  int32_t n, int32_t nout, uint32_t *o32)
{
#if !defined(DNNC_MVE_SWAR)
    const uint8_t *pop8 = dnnc_mve_pop8();
    switch (n) {
    case 12: DNNC_MVE_POOL_XREG(1, 3, DNNC_MVE_BIN_VECR); return;
    case 20: DNNC_MVE_POOL_XREG(1, 5, DNNC_MVE_BIN_VECR); return;
    case 28: DNNC_MVE_POOL_XREG(1, 7, DNNC_MVE_BIN_VECR); return;
    default: break;
    }
#endif
    DNNC_MVE_POOL_BODY(1, DNNC_MVE_CNT_B);
}

#define DNNC_MVE_CNT_Q(W, X, CNT) ((CNT) = dnnc_mve_count_12(2, W, X, n))
#define DNNC_MVE_CNT_5(W, X, CNT) ((CNT) = dnnc_mve_count_12(3, W, X, n))

static __attribute__((noinline, unused)) void dnnc_mve_pool_quater(const uint32_t *w, const int32_t *tot,
                                                                  const int32_t *thr, const uint32_t *col,
                                                                  const int32_t *const *corr, int32_t nq,
                                                                  int32_t n, int32_t nout, uint32_t *o32)
{
    DNNC_MVE_POOL_BODY(2, DNNC_MVE_CNT_Q);
}

static __attribute__((noinline, unused)) void dnnc_mve_pool_quinary(const uint32_t *w, const int32_t *tot,
                                                                   const int32_t *thr, const uint32_t *col,
                                                                   const int32_t *const *corr, int32_t nq,
                                                                   int32_t n, int32_t nout, uint32_t *o32)
{
    DNNC_MVE_POOL_BODY(3, DNNC_MVE_CNT_5);
}

/* acc[o] = tot[o] - 2 * count for a packed layer of kind (DNNC_W_*: 0 binary .. 3 quinary) and n words
 * (n % 4 == 0), one loop per kind (the count specialized). */
static inline void dnnc_mve_dense_bits(int kind, const uint32_t *w, const int32_t *tot, const uint32_t *x,
                                      int32_t n, int32_t nout, int32_t *acc)
{
    int32_t o;
    if (kind == 1)
        for (o = 0; o < nout; o++) acc[o] = tot[o] - 2 * (int32_t)dnnc_mve_count(1, w + o * 2 * n, x, n);
    else if (kind == 0)
        for (o = 0; o < nout; o++) acc[o] = tot[o] - 2 * (int32_t)dnnc_mve_count(0, w + o * n, x, n);
    else if (kind == 2)
        for (o = 0; o < nout; o++) acc[o] = tot[o] - 2 * (int32_t)dnnc_mve_count_12(2, w + o * 2 * n, x, n);
    else
        for (o = 0; o < nout; o++) acc[o] = tot[o] - 2 * (int32_t)dnnc_mve_count_12(3, w + o * 3 * n, x, n);
}

/* First dense layer with int8 weights w [nout][nin]: acc[o] = mul * sum_i w[o][i] p[i] + add * rowsum[o].
 * Whole 16-byte chunks unpredicated, the last nin % 16 bytes predicated (inactive lanes load 0 weights). */
static inline void dnnc_mve_dense_u8_direct(const int8_t *w, const int32_t *rowsum, int32_t nin, int32_t nout,
                                            int32_t mul, int32_t add, const uint8_t *raw, int32_t *acc)
{
    const uint8x16_t bias = vdupq_n_u8(0x80);
    const int32_t nout4 = nout - nout % 4, nfull = nin / 16, rest = nin % 16;
    const mve_pred16_t pr = vctp8q((uint32_t)rest);
    int32_t o, i;
    for (o = 0; o < nout4; o += 4) {
        const int8_t *r0 = w + o * nin, *r1 = r0 + nin, *r2 = r1 + nin, *r3 = r2 + nin;
        const uint8_t *q = raw;
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        __asm__("" : "+r"(r1), "+r"(r2), "+r"(r3)); /* four pointers, post-incremented (gcc added offsets) */
        for (i = 0; i < nfull; i++) {
            const int8x16_t p = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(q), bias));
            s0 = vmladavaq_s8(s0, vld1q_s8(r0), p);
            s1 = vmladavaq_s8(s1, vld1q_s8(r1), p);
            s2 = vmladavaq_s8(s2, vld1q_s8(r2), p);
            s3 = vmladavaq_s8(s3, vld1q_s8(r3), p);
            q += 16, r0 += 16, r1 += 16, r2 += 16, r3 += 16;
        }
        if (rest) {
            const int8x16_t p = vreinterpretq_s8_u8(veorq_u8(vldrbq_z_u8(q, pr), bias));
            s0 = vmladavaq_s8(s0, vldrbq_z_s8(r0, pr), p);
            s1 = vmladavaq_s8(s1, vldrbq_z_s8(r1, pr), p);
            s2 = vmladavaq_s8(s2, vldrbq_z_s8(r2, pr), p);
            s3 = vmladavaq_s8(s3, vldrbq_z_s8(r3, pr), p);
        }
        acc[o] = mul * (s0 + 128 * rowsum[o]) + add * rowsum[o];
        acc[o + 1] = mul * (s1 + 128 * rowsum[o + 1]) + add * rowsum[o + 1];
        acc[o + 2] = mul * (s2 + 128 * rowsum[o + 2]) + add * rowsum[o + 2];
        acc[o + 3] = mul * (s3 + 128 * rowsum[o + 3]) + add * rowsum[o + 3];
    }
    for (o = nout4; o < nout; o++) {
        const int8_t *r = w + o * nin;
        int32_t s = 0;
        for (i = 0; i < nfull; i++) s = vmladavaq_s8(s, vld1q_s8(r + 16 * i), vreinterpretq_s8_u8(veorq_u8(vld1q_u8(raw + 16 * i), bias)));
        if (rest)
            s = vmladavaq_s8(s, vldrbq_z_s8(r + 16 * nfull, pr),
                             vreinterpretq_s8_u8(veorq_u8(vldrbq_z_u8(raw + 16 * nfull, pr), bias)));
        acc[o] = mul * (s + 128 * rowsum[o]) + add * rowsum[o];
    }
}


/* One pooled output pixel of a first conv layer on the raw input (int8 weights w [nout][kpad], the nq
 * receptive fields col [nq][kpad] as int8, kpad % 16 == 0): bit o of o32[o / 32] is set when
 * mul * (w_o . col_q) + cst[q][o] >= thr[o] for some q, with the early exit of dnnc_mve_pool_bits. VMLADAV. */
static __attribute__((noinline, unused)) void dnnc_mve_pool_s8(const int8_t *w, int32_t kpad, const int32_t *thr,
                                                              const int8_t *col, const int32_t *const *cst,
                                                              int32_t nq, int32_t mul, int32_t nout, uint32_t *o32)
{
    uint32_t bits = 0;
    int32_t o, q, i;
    for (o = 0; o < nout; o++, w += kpad) {
        const int32_t t = thr[o];
        uint32_t hit = t == INT32_MIN;
        for (q = 0; q < nq && !hit; q++) {
            int32_t s = 0;
            for (i = 0; i < kpad; i += 16) s = vmladavaq_s8(s, vld1q_s8(w + i), vld1q_s8(col + q * kpad + i));
            hit = mul * s + cst[q][o] >= t;
        }
        bits |= hit << (o & 31);
        if ((o & 31) == 31 || o == nout - 1) {
            o32[o >> 5] = bits;
            bits = 0;
        }
    }
}

/* The output bits of one pooled pixel of a first conv layer on the raw input, sixteen outputs at a time in two
 * int16 vectors (dnnc_conv_u8_s16): for each of the nq windows win[q] (a c x kh x kw window of the zero-padded
 * u8 image, rows wp bytes apart, channel planes `plane` bytes apart), s = sum of p times the tap's weights
 * (w [o16/16][c][kh][kw][16] int8: VLDRB widening loads, VMLA by the scalar p), then d = s - tq[q] saturated
 * (VQSUB: the sign of s - T is kept), the maximum over the windows; bit o = (max d >= 0). o32 [o16 / 32]. */
static __attribute__((noinline, unused)) void dnnc_mve_conv_s16(const int8_t *w, const uint8_t *const *win,
                                                               const int16_t *const *tq, int32_t nq, int32_t in_c,
                                                               int32_t kh, int32_t kw, int32_t wp, int32_t plane,
                                                               int32_t o16, uint32_t *o32)
{
    const uint16x8_t lo = vshlq_u16(vdupq_n_u16(1), vreinterpretq_s16_u16(vidupq_n_u16(0, 1)));
    const uint16x8_t hi = vshlq_n_u16(lo, 8);
    const int32_t ntap = in_c * kh * kw;
    int32_t g, q, c, ky, kx;
    g = 0;
    if (kw == 5) /* 5x5 kernels: 32 outputs a pass, each kernel row in assembly (gcc spilled the C) */
        for (; g + 32 <= o16; g += 32, w += 32 * ntap) {
            int16_t mx[32];
            for (q = 0; q < nq; q++) {
                int16x8_t a0 = vdupq_n_s16(0), a1 = a0, a2 = a0, a3 = a0, t0;
                const int8_t *wt = w, *wu = w + 16 * ntap; /* the two 16-output blocks */
                const uint8_t *pl = win[q];
                uint32_t p;
                for (c = 0; c < in_c; c++, pl += plane) {
                    const uint8_t *row = pl;
                    for (ky = 0; ky < kh; ky++, row += wp, wt += 80, wu += 80) {
#define DNNC_S16_TAP32(j, o0, o1)                                                                  \
    "ldrb %[p], [%[r], #" #j "]\n\t"                                                                \
    "vldrb.s16 %q[t], [%[wt], #" #o0 "]\n\t"                                                        \
    "vmla.s16 %q[a0], %q[t], %[p]\n\t"                                                             \
    "vldrb.s16 %q[t], [%[wt], #" #o1 "]\n\t"                                                        \
    "vmla.s16 %q[a1], %q[t], %[p]\n\t"                                                             \
    "vldrb.s16 %q[t], [%[wu], #" #o0 "]\n\t"                                                        \
    "vmla.s16 %q[a2], %q[t], %[p]\n\t"                                                             \
    "vldrb.s16 %q[t], [%[wu], #" #o1 "]\n\t"                                                        \
    "vmla.s16 %q[a3], %q[t], %[p]\n\t"
                        __asm__(DNNC_S16_TAP32(0, 0, 8) DNNC_S16_TAP32(1, 16, 24) DNNC_S16_TAP32(2, 32, 40)
                                DNNC_S16_TAP32(3, 48, 56) DNNC_S16_TAP32(4, 64, 72)
                                : [a0] "+w"(a0), [a1] "+w"(a1), [a2] "+w"(a2), [a3] "+w"(a3), [t] "=&w"(t0),
                                  [p] "=&r"(p)
                                : [wt] "l"(wt), [wu] "l"(wu), [r] "r"(row) /* VLDRB.S16: low base registers */
                                : "memory");
#undef DNNC_S16_TAP32
                    }
                }
                {
                    const int16_t *tg = tq[q] + g;
#define DNNC_S16_MAX(A, V)                                                                         \
    {                                                                                              \
        const int16x8_t d_ = vqsubq_s16(A, vld1q_s16(tg + 8 * (V)));                               \
        vst1q_s16(mx + 8 * (V), q == 0 ? d_ : vmaxq_s16(vld1q_s16(mx + 8 * (V)), d_));             \
    }
                    DNNC_S16_MAX(a0, 0) DNNC_S16_MAX(a1, 1) DNNC_S16_MAX(a2, 2) DNNC_S16_MAX(a3, 3)
#undef DNNC_S16_MAX
                }
            }
            /* lanes with max d >= 0: bit k (VSHR makes the negative ones all-ones, VBIC clears them) */
            o32[g >> 5] = vaddvq_u16(vbicq_u16(lo, vreinterpretq_u16_s16(vshrq_n_s16(vld1q_s16(mx), 15))))
                          + vaddvq_u16(vbicq_u16(hi, vreinterpretq_u16_s16(vshrq_n_s16(vld1q_s16(mx + 8), 15))))
                          + ((uint32_t)vaddvq_u16(vbicq_u16(lo, vreinterpretq_u16_s16(vshrq_n_s16(vld1q_s16(mx + 16), 15))))
                             << 16)
                          + ((uint32_t)vaddvq_u16(vbicq_u16(hi, vreinterpretq_u16_s16(vshrq_n_s16(vld1q_s16(mx + 24), 15))))
                             << 16);
        }
    for (; g < o16; g += 16, w += 16 * ntap) {
        int16x8_t m0 = vdupq_n_s16(0), m1 = m0;
        uint32_t bits;
        for (q = 0; q < nq; q++) {
            int16x8_t a0 = vdupq_n_s16(0), a1 = a0, d0, d1;
            const int8_t *wt = w;
            const uint8_t *pl = win[q];
            for (c = 0; c < in_c; c++, pl += plane) {
                const uint8_t *row = pl;
                for (ky = 0; ky < kh; ky++, row += wp) {
#define DNNC_S16_TAP(j)                                                                            \
    a0 = vmlaq_n_s16(a0, vldrbq_s16(wt + 16 * (j)), (int16_t)row[j]);                               \
    a1 = vmlaq_n_s16(a1, vldrbq_s16(wt + 16 * (j) + 8), (int16_t)row[j]);
                    if (kw == 5) { /* the common 5x5 kernel row unrolled: immediate offsets, no loop */
                        DNNC_S16_TAP(0) DNNC_S16_TAP(1) DNNC_S16_TAP(2) DNNC_S16_TAP(3) DNNC_S16_TAP(4)
                        wt += 80;
                    } else if (kw == 3) {
                        DNNC_S16_TAP(0) DNNC_S16_TAP(1) DNNC_S16_TAP(2)
                        wt += 48;
                    } else {
                        for (kx = 0; kx < kw; kx++, wt += 16) {
                            DNNC_S16_TAP(0)
                            row++;
                        }
                        row -= kw;
                    }
#undef DNNC_S16_TAP
                }
            }
            d0 = vqsubq_s16(a0, vld1q_s16(tq[q] + g));
            d1 = vqsubq_s16(a1, vld1q_s16(tq[q] + g + 8));
            m0 = q == 0 ? d0 : vmaxq_s16(m0, d0);
            m1 = q == 0 ? d1 : vmaxq_s16(m1, d1);
        }
        /* lanes with max d >= 0: bit k of the group's 16 (VSHR makes the negative ones all-ones, VBIC clears them) */
        bits = vaddvq_u16(vbicq_u16(lo, vreinterpretq_u16_s16(vshrq_n_s16(m0, 15))))
               + vaddvq_u16(vbicq_u16(hi, vreinterpretq_u16_s16(vshrq_n_s16(m1, 15))));
        if (g & 16)
            o32[g >> 5] |= bits << 16;
        else
            o32[g >> 5] = bits;
    }
}

#endif
#endif /* DNNC_MVE_H */
