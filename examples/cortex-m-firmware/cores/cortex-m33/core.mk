# cortex-m33: compiler flags and the QEMU board it runs on (QEMU mps2-an505 in the Secure state).
CPU_FLAGS = -mcpu=cortex-m33 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16
QEMU_BOARD = -M mps2-an505 -cpu cortex-m33
