"""dnnc.interchange"""
