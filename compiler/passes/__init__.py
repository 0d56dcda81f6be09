"""dnnc.passes"""
