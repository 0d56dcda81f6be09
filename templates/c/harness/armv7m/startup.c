/* Minimal M-profile startup for bare-metal dnnc builds (QEMU mps2/mps3/microbit boards or a real part; Armv6-M,
 * Armv7-M and Armv8-M alike): vector table, FPU (and MVE) enable in CPACR when the build targets an FPU, .data
 * copy, .bss clear, main(), then semihosting exit with main's status. */
#include <stdint.h>

#include "dnnc_io.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void dnnc_reset_handler(void);
void dnnc_fault_handler(void);

void dnnc_reset_handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
#if defined(__ARM_FP)
    volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
    *cpacr |= 0xFu << 20; /* CP10, CP11: full access to the FPU */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    dnnc_exit(main());
}

void dnnc_fault_handler(void)
{
    dnnc_puts("dnnc: fault\n");
    dnnc_exit(1);
}

__attribute__((section(".isr_vector"), used)) static void (*const dnnc_vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack, dnnc_reset_handler, dnnc_fault_handler, dnnc_fault_handler,
    dnnc_fault_handler, dnnc_fault_handler, dnnc_fault_handler, 0, 0, 0, 0, dnnc_fault_handler,
    dnnc_fault_handler, 0, dnnc_fault_handler, dnnc_fault_handler,
};
