# cortex-m7: compiler flags and the QEMU board it runs on (QEMU mps2-an500).
CPU_FLAGS = -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16
QEMU_BOARD = -M mps2-an500 -cpu cortex-m7
