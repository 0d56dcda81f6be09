copy of runtime/dnnc_runtime.h
