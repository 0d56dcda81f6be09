/* dnnc HLS kernels: FINN-style streaming dataflow stages in Vitis HLS C++ with plain <cstdint> types.
 *
 * Stream beats:
 *   Bits<N>    N bipolar lanes packed in 64-bit words: lane i is bit (i % 64) of w[i / 64]; bit 1 means
 *              +1, bit 0 means -1 (FINN's convention); unused high bits of the last word are ignored.
 *   Vec<T, N>  N integer lanes (raw pixels, u = in_mul * x + in_add, padded bipolar windows, accumulators).
 * lane()/set_lane() give every beat the same value semantics, so the generic kernels (window generator,
 * max-pool, width converter) work on either.
 * Integer semantics are those of dnnc.ir.interpreter: exact int32 accumulators (range analysis proves
 * they fit), thresholds with a per-channel direction (+1: acc >= t, -1: acc <= t, 0: constant); a
 * negative BN slope never negates stored weights. The output affine is two float32 roundings, so the
 * file must be compiled without FMA contraction (-ffp-contract=off).
 * C-simulation with g++: define DNNC_OWN_STREAM to use dnnc_hls_stream.h.
 */
#ifndef DNNC_HLS_H
#define DNNC_HLS_H

#include <cstddef>
#include <cstdint>

#ifdef DNNC_OWN_STREAM
#include "dnnc_hls_stream.h"
#else
#include <hls_stream.h>
#endif

namespace dnnc {

template <unsigned N>
struct Bits {
  uint64_t w[(N + 63) / 64];
};

template <typename T, unsigned N>
struct Vec {
  T v[N];
};

template <unsigned N>
inline int lane(const Bits<N> &b, unsigned i) {
  return ((b.w[i / 64] >> (i % 64)) & 1u) ? 1 : -1;
}

template <unsigned N>
inline void set_lane(Bits<N> &b, unsigned i, int v) {
  const uint64_t m = uint64_t(1) << (i % 64);
  b.w[i / 64] = v > 0 ? (b.w[i / 64] | m) : (b.w[i / 64] & ~m);
}

template <typename T, unsigned N>
inline T lane(const Vec<T, N> &b, unsigned i) {
  return b.v[i];
}

template <typename T, unsigned N, typename V>
inline void set_lane(Vec<T, N> &b, unsigned i, V v) {
  b.v[i] = static_cast<T>(v);
}

template <typename B>
struct is_bits {
  static const bool value = false;
};
template <unsigned N>
struct is_bits<Bits<N> > {
  static const bool value = true;
};

/* Population count of a 64-bit word, SWAR form: no compiler builtin, so it synthesizes as plain logic. */
inline int32_t popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return int32_t((x * 0x0101010101010101ull) >> 56);
}

/* XNOR-popcount: bipolar activations x binary weights; sum = 2 * matches - N. */
template <unsigned N>
inline int32_t dot(const Bits<N> &a, const Bits<N> &w) {
  int32_t matches = 0;
  for (unsigned k = 0; k < (N + 63) / 64; ++k) {
#pragma HLS UNROLL
    uint64_t m = ~(a.w[k] ^ w.w[k]);
    const unsigned valid = (k + 1) * 64 <= N ? 64u : N % 64;
    if (valid < 64) m &= (uint64_t(1) << valid) - 1;
    matches += popcount64(m);
  }
  return 2 * matches - int32_t(N);
}

/* Bipolar activations x multi-bit weight codes: +w where the lane is +1, -w where it is -1. */
template <unsigned N>
inline int32_t dot(const Bits<N> &a, const Vec<int8_t, N> &w) {
  int32_t s = 0;
  for (unsigned i = 0; i < N; ++i) {
#pragma HLS UNROLL
    s += lane(a, i) > 0 ? int32_t(w.v[i]) : -int32_t(w.v[i]);
  }
  return s;
}

/* Integer activations (pixels, u values, padded windows) x weight codes. */
template <typename T, unsigned N>
inline int32_t dot(const Vec<T, N> &a, const Vec<int8_t, N> &w) {
  int32_t s = 0;
  for (unsigned i = 0; i < N; ++i) {
#pragma HLS UNROLL
    s += int32_t(a.v[i]) * int32_t(w.v[i]);
  }
  return s;
}

/* Activations: a functor (pe, neuron fold, acc) -> lane value. */
struct NoActivation {
  int32_t operator()(unsigned, unsigned, int32_t acc) const { return acc; }
};

template <unsigned PE, unsigned TMEM, typename TT>
struct ThresholdActivation {
  const TT (&thr)[PE][TMEM];
  const int8_t (&dir)[PE][TMEM];
  const int8_t (&cst)[PE][TMEM];
  int operator()(unsigned pe, unsigned nf, int32_t acc) const {
    const int8_t d = dir[pe][nf];
    const bool plus = d > 0 ? acc >= thr[pe][nf] : (d < 0 ? acc <= thr[pe][nf] : cst[pe][nf] > 0);
    return plus ? 1 : -1;
  }
};

/* Matrix-vector-activation unit (FINN MVAU): NV input vectors of MW elements in SIMD-lane beats, MH
 * outputs in PE-lane beats; channel nf * PE + pe is computed by PE pe from weights w[pe][nf * SF + sf].
 * Cycles per vector: (MH / PE) * (MW / SIMD). */
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned NV, typename InBeat, typename WRow,
          typename OutBeat, typename Act>
void mvau(hls::stream<InBeat> &in, hls::stream<OutBeat> &out, const WRow (&w)[PE][(MH / PE) * (MW / SIMD)],
          const Act &act) {
  static_assert(MH % PE == 0, "MH % PE must be 0");
  static_assert(MW % SIMD == 0, "MW % SIMD must be 0");
  const unsigned SF = MW / SIMD;
  const unsigned NF = MH / PE;
  static InBeat buf[MW / SIMD];
  for (unsigned v = 0; v < NV; ++v) {
    for (unsigned nf = 0; nf < NF; ++nf) {
      int32_t acc[PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
      for (unsigned pe = 0; pe < PE; ++pe) acc[pe] = 0;
      for (unsigned sf = 0; sf < SF; ++sf) {
#pragma HLS PIPELINE II = 1
        if (nf == 0) buf[sf] = in.read();
        for (unsigned pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
          acc[pe] += dot(buf[sf], w[pe][nf * SF + sf]);
        }
      }
      OutBeat o = OutBeat();
      for (unsigned pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
        set_lane(o, pe, act(pe, nf, acc[pe]));
      }
      out.write(o);
    }
  }
}

/* Standalone thresholding (after max-pool): C channels in PE-lane beats, NV pixels. */
template <unsigned C, unsigned PE, unsigned NV, typename InBeat, typename Act>
void thresholding(hls::stream<InBeat> &in, hls::stream<Bits<PE> > &out, const Act &act) {
  static_assert(C % PE == 0, "NumChannels % PE must be 0");
  for (unsigned v = 0; v < NV; ++v) {
    for (unsigned nf = 0; nf < C / PE; ++nf) {
#pragma HLS PIPELINE II = 1
      const InBeat b = in.read();
      Bits<PE> o = Bits<PE>();
      for (unsigned pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
        set_lane(o, pe, act(pe, nf, int32_t(lane(b, pe))));
      }
      out.write(o);
    }
  }
}

/* Sliding-window generator (FINN ConvolutionInputGenerator) with symmetric zero padding and stride.
 * Input: IH x IW pixels of C channels in SIMD-lane beats; output per output pixel the window in
 * (kh, kw, c) order. Padded positions are 0, which a Bits beat cannot hold: OutBeat must then be a Vec.
 * A ring of KH input rows: rows are read in order just before the first output row that needs them,
 * rows no window uses are read and dropped. */
template <unsigned KH, unsigned KW, unsigned IH, unsigned IW, unsigned C, unsigned SIMD, unsigned STRIDE,
          unsigned PAD, typename InBeat, typename OutBeat>
void swg(hls::stream<InBeat> &in, hls::stream<OutBeat> &out) {
  static_assert(C % SIMD == 0, "IFMChannels % SIMD must be 0");
  static_assert(PAD == 0 || !is_bits<OutBeat>::value, "zero padding needs an integer output stream");
  const unsigned CF = C / SIMD;
  const unsigned OH = (IH + 2 * PAD - KH) / STRIDE + 1;
  const unsigned OW = (IW + 2 * PAD - KW) / STRIDE + 1;
  static InBeat ring[KH][IW][C / SIMD];
  unsigned next_row = 0;
  for (unsigned oy = 0; oy < OH; ++oy) {
    const int last = int(oy * STRIDE + KH) - 1 - int(PAD);  // last input row of this window row
    for (; int(next_row) <= last && next_row < IH; ++next_row)
      for (unsigned x = 0; x < IW; ++x)
        for (unsigned cf = 0; cf < CF; ++cf) {
#pragma HLS PIPELINE II = 1
          ring[next_row % KH][x][cf] = in.read();
        }
    for (unsigned ox = 0; ox < OW; ++ox)
      for (unsigned ky = 0; ky < KH; ++ky)
        for (unsigned kx = 0; kx < KW; ++kx)
          for (unsigned cf = 0; cf < CF; ++cf) {
#pragma HLS PIPELINE II = 1
            const int iy = int(oy * STRIDE + ky) - int(PAD);
            const int ix = int(ox * STRIDE + kx) - int(PAD);
            const bool inside = iy >= 0 && iy < int(IH) && ix >= 0 && ix < int(IW);
            const unsigned ry = inside ? unsigned(iy) % KH : 0;
            const unsigned rx = inside ? unsigned(ix) : 0;
            OutBeat o = OutBeat();
            for (unsigned s = 0; s < SIMD; ++s) {
#pragma HLS UNROLL
              set_lane(o, s, inside ? int32_t(lane(ring[ry][rx][cf], s)) : 0);
            }
            out.write(o);
          }
  }
  for (; next_row < IH; ++next_row)  // rows below the last window
    for (unsigned x = 0; x < IW; ++x)
      for (unsigned cf = 0; cf < CF; ++cf) {
#pragma HLS PIPELINE II = 1
        (void)in.read();
      }
}

/* Streaming max-pool on accumulators (K x K windows, stride K, floor mode), C channels in PE lanes.
 * One output row of running maxima; rows and columns beyond the last full window are read and dropped. */
template <unsigned K, unsigned IH, unsigned IW, unsigned C, unsigned PE, typename Beat>
void maxpool(hls::stream<Beat> &in, hls::stream<Beat> &out) {
  static_assert(C % PE == 0, "NumChannels % PE must be 0");
  const unsigned CF = C / PE;
  const unsigned OH = IH / K;
  const unsigned OW = IW / K;
  static Beat row[IW / K][C / PE];
  for (unsigned y = 0; y < IH; ++y)
    for (unsigned x = 0; x < IW; ++x)
      for (unsigned cf = 0; cf < CF; ++cf) {
#pragma HLS PIPELINE II = 1
        const Beat b = in.read();
        const unsigned ox = x / K;
        if (y / K >= OH || ox >= OW) continue;
        if (y % K == 0 && x % K == 0) {
          row[ox][cf] = b;
        } else {
          for (unsigned p = 0; p < PE; ++p) {
#pragma HLS UNROLL
            if (lane(b, p) > lane(row[ox][cf], p)) set_lane(row[ox][cf], p, lane(b, p));
          }
        }
        if (y % K == K - 1 && x % K == K - 1) out.write(row[ox][cf]);
      }
}

/* Stream width converter: NE elements per frame from INW-lane beats to OUTW-lane beats. */
template <unsigned NE, unsigned INW, unsigned OUTW, typename InBeat, typename OutBeat>
void dwc(hls::stream<InBeat> &in, hls::stream<OutBeat> &out) {
  static_assert(NE % INW == 0 && NE % OUTW == 0, "width converter: NE must divide both widths");
  OutBeat o = OutBeat();
  unsigned k = 0;
  for (unsigned i = 0; i < NE / INW; ++i) {
#pragma HLS PIPELINE II = 1
    const InBeat b = in.read();
    for (unsigned l = 0; l < INW; ++l) {
      set_lane(o, k, lane(b, l));
      if (++k == OUTW) {
        out.write(o);
        o = OutBeat();
        k = 0;
      }
    }
  }
}

/* Input conversion: u = MUL * x + ADD for every raw pixel (the first layer's normalization). */
template <unsigned NE, unsigned W, int MUL, int ADD, typename OutT>
void input_convert(hls::stream<Vec<uint8_t, W> > &in, hls::stream<Vec<OutT, W> > &out) {
  for (unsigned i = 0; i < NE / W; ++i) {
#pragma HLS PIPELINE II = 1
    const Vec<uint8_t, W> b = in.read();
    Vec<OutT, W> o;
    for (unsigned l = 0; l < W; ++l) {
#pragma HLS UNROLL
      o.v[l] = static_cast<OutT>(MUL * int32_t(b.v[l]) + ADD);
    }
    out.write(o);
  }
}

/* No further float32 steps after the output affine. */
struct NoPost {
  static float apply(unsigned, float y) { return y; }
};

/* Output affine (float32: one multiply, one add, two roundings), then Post's float32 steps (an imported
 * graph's TensorNorm), and label select (ties -> lowest). */
template <unsigned K, unsigned PE, typename InBeat, typename Post = NoPost>
void label_select(hls::stream<InBeat> &in, const float (&scale)[K], const float (&bias)[K],
                  hls::stream<int32_t> &acc_out, hls::stream<float> &logit_out,
                  hls::stream<uint32_t> &class_out) {
  static_assert(K % PE == 0, "Labels % PE must be 0");
  float best = 0.0f;
  uint32_t cls = 0;
  for (unsigned nf = 0; nf < K / PE; ++nf) {
#pragma HLS PIPELINE II = 1
    const InBeat b = in.read();
    for (unsigned p = 0; p < PE; ++p) {
      const unsigned k = nf * PE + p;
      const int32_t a = int32_t(lane(b, p));
      const float prod = static_cast<float>(a) * scale[k];
      const float logit = Post::apply(k, prod + bias[k]);
      acc_out.write(a);
      logit_out.write(logit);
      if (k == 0 || logit > best) {
        best = logit;
        cls = k;
      }
    }
  }
  class_out.write(cls);
}

}  // namespace dnnc

#endif
