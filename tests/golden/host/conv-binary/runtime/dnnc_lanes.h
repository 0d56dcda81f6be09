copy of runtime/dnnc_lanes.h
