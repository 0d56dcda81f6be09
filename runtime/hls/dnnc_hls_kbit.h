/* dnnc HLS kernels for k-bit activations (FINN MultiThreshold): included by designs that have them.
 * A k-bit activation streams its integer level y = bias + count as an int8 lane, where count is the number
 * of a channel's T thresholds the accumulator passes (acc >= t for direction +1, acc <= t for -1). */
#ifndef DNNC_HLS_KBIT_H
#define DNNC_HLS_KBIT_H

#include "dnnc_hls.h"

namespace dnnc {

template <unsigned PE, unsigned TMEM, unsigned T, typename TT>
struct MultiThresholdActivation {
  const TT (&thr)[PE][TMEM][T];
  const int8_t (&dir)[PE][TMEM];
  int bias;
  int operator()(unsigned pe, unsigned nf, int32_t acc) const {
    int count = 0;
    for (unsigned j = 0; j < T; ++j) {
#pragma HLS UNROLL
      count += dir[pe][nf] > 0 ? acc >= thr[pe][nf][j] : acc <= thr[pe][nf][j];
    }
    return bias + count;
  }
};

/* Standalone multi-thresholding (after max-pool): C channels in PE-lane beats, NV pixels, int8 levels out. */
template <unsigned C, unsigned PE, unsigned NV, typename InBeat, typename Act>
void multithresholding(hls::stream<InBeat> &in, hls::stream<Vec<int8_t, PE> > &out, const Act &act) {
  static_assert(C % PE == 0, "NumChannels % PE must be 0");
  for (unsigned v = 0; v < NV; ++v) {
    for (unsigned nf = 0; nf < C / PE; ++nf) {
#pragma HLS PIPELINE II = 1
      const InBeat b = in.read();
      Vec<int8_t, PE> o = Vec<int8_t, PE>();
      for (unsigned pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
        set_lane(o, pe, act(pe, nf, int32_t(lane(b, pe))));
      }
      out.write(o);
    }
  }
}

}  // namespace dnnc

#endif
