copy of runtime/hls/dnnc_hls.h
