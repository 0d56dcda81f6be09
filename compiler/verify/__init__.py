"""dnnc.verify"""
