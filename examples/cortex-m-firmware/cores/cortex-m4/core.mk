# cortex-m4: compiler flags and the QEMU board it runs on (QEMU mps2-an386).
CPU_FLAGS = -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
QEMU_BOARD = -M mps2-an386 -cpu cortex-m4
