copy of runtime/dnnc_popcount.h
