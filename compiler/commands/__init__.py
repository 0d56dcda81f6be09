"""dnnc.commands"""
