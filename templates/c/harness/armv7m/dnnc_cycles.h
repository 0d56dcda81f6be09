/* Armv7-M cycle counter for ../bench.c.j2: SysTick, a 24-bit down counter on the processor clock (the target's
 * emulator.timer_hz). Under QEMU -icount shift=0 one instruction advances virtual time by 1 ns. */
#ifndef DNNC_CYCLES_H
#define DNNC_CYCLES_H

#include <stdint.h>

#define DNNC_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define DNNC_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define DNNC_SYST_CVR (*(volatile uint32_t *)0xE000E018u)

/* Start counting from the top, no interrupt; reading CSR clears COUNTFLAG. */
static inline void dnnc_cycles_start(void)
{
    DNNC_SYST_RVR = 0x00FFFFFFu;
    DNNC_SYST_CVR = 0;
    DNNC_SYST_CSR = 5u; /* enable, processor clock, no interrupt */
    (void)DNNC_SYST_CSR;
}

static inline uint32_t dnnc_cycles_now(void) { return DNNC_SYST_CVR; }

/* Ticks from reading t0 to reading t1 (valid while the counter has not wrapped). */
static inline uint32_t dnnc_cycles_between(uint32_t t0, uint32_t t1) { return (t0 - t1) & 0x00FFFFFFu; }

/* 1 if the counter wrapped since dnnc_cycles_start (too long a run for 24 bits). */
static inline int dnnc_cycles_wrapped(void) { return (DNNC_SYST_CSR & 0x10000u) != 0; }

#endif /* DNNC_CYCLES_H */
