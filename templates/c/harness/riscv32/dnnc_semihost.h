/* RISC-V semihosting call and exit, used by ../dnnc_io.h in bare-metal builds (DNNC_SEMIHOSTING). */
#ifndef DNNC_SEMIHOST_H
#define DNNC_SEMIHOST_H

#include <stdint.h>

/* One semihosting operation: the operation in a0, its argument block in a1, and the trap sequence
 * `slli x0, x0, 0x1f; ebreak; srai x0, x0, 7` (uncompressed, in one 16-byte-aligned block so that the three
 * instructions share a page, as the RISC-V semihosting specification requires). */
static inline int32_t dnnc_semihost(int32_t op, const void *arg)
{
    register int32_t a0 __asm__("a0") = op;
    register const void *a1 __asm__("a1") = arg;
    __asm__ volatile(".option push\n\t.balign 16\n\t.option norvc\n\t" /* aligned before norvc: the padding
                      * may then start with a 2-byte c.nop (after norvc the linker's relaxation can come up short) */
                     "slli x0, x0, 0x1f\n\tebreak\n\tsrai x0, x0, 7\n\t.option pop"
                     : "+r"(a0) : "r"(a1) : "memory");
    return a0;
}

/* Stop the emulator: SYS_EXIT (0x18) takes the reason code itself on RV32. Status 0 ->
 * ADP_Stopped_ApplicationExit, else ADP_Stopped_RunTimeErrorUnknown (QEMU exits with 1). */
static inline void dnnc_exit(int status)
{
    dnnc_semihost(0x18, (const void *)(uintptr_t)(status == 0 ? 0x20026u : 0x20023u));
    for (;;) {
    }
}

#endif /* DNNC_SEMIHOST_H */
