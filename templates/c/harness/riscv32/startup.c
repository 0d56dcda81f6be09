/* Minimal RV32 machine-mode startup for bare-metal dnnc builds (QEMU virt with -bios none, which jumps to the
 * start of RAM, or a real part): stack pointer, trap vector, .data copy, .bss clear, main(), then semihosting
 * exit with main's status. */
#include <stdint.h>

#include "dnnc_io.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);

void dnnc_reset_handler(void);
void dnnc_fault_handler(void);

/* The first instructions of the image: the stack at the top of RAM, global pointer unused (no linker
 * relaxation against it), traps to dnnc_fault_handler. */
__asm__(".section .text.init, \"ax\", @progbits\n"
        ".globl _start\n"
        "_start:\n"
        "    la sp, _estack\n"
        "    la t0, dnnc_trap_entry\n"
        ".option push\n"
        ".option arch, +zicsr\n"
        "    csrw mtvec, t0\n"
        ".option pop\n"
        "    j dnnc_reset_handler\n"
        ".balign 4\n"
        "dnnc_trap_entry:\n"
        "    j dnnc_fault_handler\n"
        ".text\n");

void dnnc_reset_handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    dnnc_exit(main());
}

void dnnc_fault_handler(void)
{
    dnnc_puts("dnnc: fault\n");
    dnnc_exit(1);
}
