"""FPGA backend (target family "hls"): FINN-style streaming dataflow design as HLS C++.

compile(model, target, outdir) writes the HLS project, dataflow description and report;
run(model, target, raw) executes the emitted C++ as C-simulation (g++) and returns its Outputs.
"""
