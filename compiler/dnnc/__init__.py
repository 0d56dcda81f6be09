"""dnnc: train discrete-weight, sign-activation networks and compile them to bit-exact C and HLS."""

__version__ = "0.1.0"
