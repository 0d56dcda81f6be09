copy of runtime/dnnc_layers.h
