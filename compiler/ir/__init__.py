"""dnnc.ir"""
