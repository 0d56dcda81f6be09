# cortex-m55: compiler flags and the QEMU board it runs on (QEMU mps3-an547 in the Secure state: code in the 512 KB ITCM, data in the 512 KB DTCM).
CPU_FLAGS = -mcpu=cortex-m55 -mthumb -mfloat-abi=hard
QEMU_BOARD = -M mps3-an547 -cpu cortex-m55
