copy of runtime/hls/dnnc_hls_stream.h
