#!/usr/bin/env bash
# Install everything dnnc and its tests need on a bare Debian machine: the cross compilers and emulators
# for the Arm Cortex-M and RISC-V targets (gcc-arm-none-eabi + newlib, qemu-system-arm; gcc-riscv64-unknown-elf
# + picolibc, qemu-system-misc for qemu-system-riscv32), clang and cppcheck for the generated-code checks,
# Verilator, iverilog, yosys, nextpnr-ice40 and icestorm (one generation, Debian's) for the rtl targets, and the Python package.
set -euo pipefail
APT_PACKAGES="gcc g++ make cmake gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc gcc-aarch64-linux-gnu qemu-user clang cppcheck verilator iverilog yosys nextpnr-ice40 fpga-icestorm"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
# torch first and pinned: 2.13.0 is the CPU wheel available locally; other pins download gigabytes.
python -m pip install -q torch==2.13.0 "setuptools>=68,<81" wheel
python -m pip install -q -e '.[test]'
