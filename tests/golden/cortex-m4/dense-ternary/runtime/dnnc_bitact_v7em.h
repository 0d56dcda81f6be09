copy of runtime/dnnc_bitact_v7em.h
