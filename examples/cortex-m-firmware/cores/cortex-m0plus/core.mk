# cortex-m0plus: compiler flags and the QEMU board it runs on (QEMU 7.2's only Cortex-M0 board, its flash and RAM enlarged to 4 MB (the cortex-m0 CPU model)).
CPU_FLAGS = -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft
QEMU_BOARD = -M microbit -cpu cortex-m0 -global nrf51-soc.flash-size=0x400000 -global nrf51-soc.sram-size=0x400000
