"""dnnc.backends"""
