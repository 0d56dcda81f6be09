"""The C backend: bit-packed C99 for microcontrollers (cortex-m4) and the host.

  compile(model, target, outdir)  writes model.h/.c, runtime/, Makefile, CMakeLists.txt, report.md
  run(model, target, raw)         builds the library with a harness and executes it (host: natively;
                                  bare metal: arm-none-eabi-gcc + QEMU with semihosting) -> Outputs
  bench(model, target)            instructions per inference (emulator) or latency (host) and sizes
"""

from __future__ import annotations

from dnnc.backends.c.api import bench, compile, run

__all__ = ["bench", "compile", "run"]
