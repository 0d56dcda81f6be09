/* Runtime kernel unit test driver: reads operations from DNNC_IN_PATH, writes results to DNNC_OUT_PATH.
 * Built for the host (under ASan/UBSan) and for the Cortex-M4 (QEMU) by tests/test_runtime.py, which
 * generates random cases and checks every result against numpy. */
#include <stdint.h>
#include <string.h>

#include "dnnc_io.h"
#include "dnnc_runtime.h"

#define MAXW 4096

static uint32_t wbuf[3 * MAXW], xbuf[MAXW], obuf[MAXW];
static int32_t ibuf[MAXW], tbuf[MAXW], ubuf[MAXW];
static uint32_t hw[4 * MAXW], hu[MAXW];
static int32_t tab[MAXW * 64];
static uint8_t codes[MAXW];
static int8_t values[8];

static dnnc_file fin, fout;

static int rd(void *p, int32_t n) { return dnnc_read(fin, p, n) == n; }
static int32_t rd32(void)
{
    int32_t v = 0;
    return rd(&v, 4) ? v : -1;
}

int main(void)
{
    int32_t op;
    fin = dnnc_open(DNNC_IN_PATH, 0);
    fout = dnnc_open(DNNC_OUT_PATH, 1);
    if (!dnnc_file_ok(fin) || !dnnc_file_ok(fout)) return 1;
    while ((op = rd32()) > 0) {
        if (op == 1) { /* weighted disagreement count */
            const int32_t kind = rd32(), n = rd32();
            uint32_t cnt;
            if (!rd(wbuf, 4 * n * dnnc_planes(kind)) || !rd(xbuf, 4 * n)) return 2;
            cnt = dnnc_count(kind, wbuf, xbuf, n);
            dnnc_write(fout, &cnt, 4);
        } else if (op == 2) { /* threshold-and-pack */
            const int32_t n = rd32(), nw = (n + 31) / 32;
            if (!rd(ibuf, 4 * n) || !rd(tbuf, 4 * n) || !rd(xbuf, 4 * nw)) return 2;
            dnnc_threshold_pack(ibuf, n, tbuf, xbuf, obuf);
            dnnc_write(fout, obuf, 4 * nw);
        } else if (op == 3) { /* int16-pair dot products, four outputs */
            const int32_t np = rd32();
            if (!rd(hw, 16 * np) || !rd(hu, 4 * np)) return 2;
            dnnc_dot32x4(hw, hu, np, ibuf);
            dnnc_write(fout, ibuf, 16);
        } else if (op == 4) { /* first-layer lookup tables over all groups */
            const int32_t ng = rd32(), group = rd32(), levels = rd32(), vg = rd32();
            int32_t s;
            if (!rd(values, 8) || !rd(ubuf, 4 * ng * group) || !rd(codes, ng)) return 2;
            dnnc_lut_build(ubuf, group, levels, vg, values, 0, ng, tab);
            s = dnnc_lut_sum(tab, codes, ng, vg);
            dnnc_write(fout, &s, 4);
        } else if (op == 5) { /* which count kernels this build uses: 1 = the Armv7E-M, 2 = the Armv6-M assembly */
#if defined(DNNC_V7EM_ASM)
            const int32_t v7em = 1;
#elif defined(DNNC_V6M_ASM)
            const int32_t v7em = 2;
#else
            const int32_t v7em = 0;
#endif
            dnnc_write(fout, &v7em, 4);
        } else {
            return 3;
        }
    }
    dnnc_close(fin);
    dnnc_close(fout);
    return 0;
}
