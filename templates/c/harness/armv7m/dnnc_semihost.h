/* Armv7-M semihosting call and exit, used by ../dnnc_io.h in bare-metal builds (DNNC_SEMIHOSTING). */
#ifndef DNNC_SEMIHOST_H
#define DNNC_SEMIHOST_H

#include <stdint.h>

/* One semihosting operation: BKPT 0xAB with the operation in r0 and its argument block in r1. */
static inline int32_t dnnc_semihost(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* Stop the emulator: SYS_EXIT (0x18) takes the reason code itself on 32-bit Arm. Status 0 ->
 * ADP_Stopped_ApplicationExit, else ADP_Stopped_RunTimeErrorUnknown (QEMU exits with 1). */
static inline void dnnc_exit(int status)
{
    dnnc_semihost(0x18, (const void *)(uintptr_t)(status == 0 ? 0x20026u : 0x20023u));
    for (;;) {
    }
}

#endif /* DNNC_SEMIHOST_H */
