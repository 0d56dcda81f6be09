copy of runtime/dnnc_intin.h
