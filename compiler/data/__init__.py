"""dnnc.data"""
