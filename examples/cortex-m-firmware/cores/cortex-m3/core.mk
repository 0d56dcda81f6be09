# cortex-m3: compiler flags and the QEMU board it runs on (QEMU mps2-an385).
CPU_FLAGS = -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
QEMU_BOARD = -M mps2-an385 -cpu cortex-m3
