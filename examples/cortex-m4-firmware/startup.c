/* Minimal Cortex-M4F startup (QEMU mps2-an386 or a real part): vector table,
 * FPU enable in CPACR, .data copy, .bss clear, main(), then semihosting exit with main's status. */
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
    volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
    uint32_t *src = &_sidata, *dst = &_sdata;
    *cpacr |= 0xFu << 20; /* CP10, CP11: full access to the FPU */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
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
