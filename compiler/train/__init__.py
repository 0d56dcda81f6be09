"""dnnc.train"""
