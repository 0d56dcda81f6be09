copy of runtime/dnnc_bitact.h
