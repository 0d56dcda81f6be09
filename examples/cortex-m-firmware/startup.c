/* Minimal Cortex-M startup (QEMU boards of cores/ or a real part; Armv6-M, Armv7-M and Armv8-M alike): vector
 * table, FPU (and Helium) enable in CPACR when built for an FPU, .data copy, .bss clear, main(), then
 * semihosting exit with main's status. */
#include <stdint.h>

static void semihost_exit(int status)
{
    register int32_t r0 __asm__("r0") = 0x18; /* SYS_EXIT */
    register uint32_t r1 __asm__("r1") = status == 0 ? 0x20026u : 0x20023u;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void fw_reset_handler(void);
void fw_fault_handler(void);

void fw_reset_handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
#if defined(__ARM_FP)
    volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
    *cpacr |= 0xFu << 20; /* CP10, CP11: full access to the FPU */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    semihost_exit(main());
}

void fw_fault_handler(void)
{
    semihost_exit(1);
}

__attribute__((section(".isr_vector"), used)) static void (*const fw_vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack, fw_reset_handler, fw_fault_handler, fw_fault_handler,
    fw_fault_handler, fw_fault_handler, fw_fault_handler, 0, 0, 0, 0, fw_fault_handler,
    fw_fault_handler, 0, fw_fault_handler, fw_fault_handler,
};
