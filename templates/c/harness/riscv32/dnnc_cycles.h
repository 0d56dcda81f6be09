/* RV32 counter for ../bench.c.j2: minstret, the retired-instruction counter (the target's emulator.timer_hz is
 * 1e9: under QEMU -icount shift=0 an instruction is 1 ns, so one tick = one instruction). */
#ifndef DNNC_CYCLES_H
#define DNNC_CYCLES_H

#include <stdint.h>

/* Read a CSR. `.option arch, +zicsr` because GNU as 2.38+ wants Zicsr named, while gcc 12's multilib
 * selection (rv32imac/ilp32 for picolibc and libgcc) does not match -march=rv32imac_zicsr. */
#define DNNC_CSRR(name, out) \
    __asm__ volatile(".option push\n\t.option arch, +zicsr\n\tcsrr %0, " name "\n\t.option pop" : "=r"(out))

static uint64_t dnnc_cycles_t0;

/* The 64-bit count (high word read twice: a carry between the reads is retried). */
static inline uint64_t dnnc_instret64(void)
{
    uint32_t hi, lo, hi2;
    do {
        DNNC_CSRR("minstreth", hi);
        DNNC_CSRR("minstret", lo);
        DNNC_CSRR("minstreth", hi2);
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

static inline void dnnc_cycles_start(void) { dnnc_cycles_t0 = dnnc_instret64(); }

static inline uint32_t dnnc_cycles_now(void)
{
    uint32_t lo;
    DNNC_CSRR("minstret", lo);
    return lo;
}

/* Ticks from reading t0 to reading t1 (valid while fewer than 2^32 have passed). */
static inline uint32_t dnnc_cycles_between(uint32_t t0, uint32_t t1) { return t1 - t0; }

/* 1 if 2^32 or more ticks passed since dnnc_cycles_start (too long a run for 32 bits). */
static inline int dnnc_cycles_wrapped(void) { return (dnnc_instret64() - dnnc_cycles_t0) >> 32 != 0; }

#endif /* DNNC_CYCLES_H */
