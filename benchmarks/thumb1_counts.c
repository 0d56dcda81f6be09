/* Row-count timing driver for benchmarks/bench_thumb1.py: for each row length n in DNNC_ROWS, the SysTick ticks of
 * DNNC_REPS calls of dnnc_count_binary and of dnnc_count_ternary (and of an empty loop), written to
 * DNNC_OUT_PATH. Built with and without -DDNNC_NO_ASM, so the same calls run the Armv6-M assembly or the C. */
#include <stdint.h>

#include "dnnc_cycles.h"
#include "dnnc_io.h"
#include "dnnc_runtime.h"

static const int32_t rows[] = {DNNC_ROWS};
static uint32_t w[3 * 256], x[256];
volatile uint32_t dnnc_sink;

/* One call per kind (noinline: the loop around it is the same for every build). */
__attribute__((noinline)) static uint32_t count(int32_t kind, const uint32_t *ww, const uint32_t *xx, int32_t n)
{
    return kind == 4 ? 0u : dnnc_count(kind, ww, xx, n);
}

int main(void)
{
    dnnc_file fout = dnnc_open(DNNC_OUT_PATH, 1);
    int32_t i, r, kind;
    if (!dnnc_file_ok(fout)) return 1;
    for (i = 0; i < 3 * 256; i++) w[i] = 0x9E3779B9u * (uint32_t)(i + 1);
    for (i = 0; i < 256; i++) x[i] = 0x7F4A7C15u * (uint32_t)(i + 3);
    for (r = 0; r < (int32_t)(sizeof rows / sizeof rows[0]); r++) {
        for (kind = 0; kind < 5; kind++) { /* binary, ternary, quaternary, quinary, the empty call */
            uint32_t t0, t1;
            dnnc_cycles_start();
            t0 = dnnc_cycles_now();
            for (i = 0; i < DNNC_REPS; i++) dnnc_sink = count(kind, w, x, rows[r]);
            t1 = dnnc_cycles_now();
            t0 = dnnc_cycles_wrapped() ? 0xFFFFFFFFu : dnnc_cycles_between(t0, t1);
            dnnc_write(fout, &t0, 4);
        }
    }
    dnnc_close(fout);
    return 0;
}
