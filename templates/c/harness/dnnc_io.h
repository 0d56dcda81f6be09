/* dnnc harness I/O: whole-file reads and writes on the host (stdio) or, on a bare-metal core, via
 * semihosting (the debugger or QEMU performs the file operation). Test and benchmark builds only.
 * Bare metal (DNNC_SEMIHOSTING): the arch's dnnc_semihost.h (templates/c/harness/<arch>/) provides the
 * trap dnnc_semihost(op, arg) and dnnc_exit(status); the operations below are the same on every arch. */
#ifndef DNNC_IO_H
#define DNNC_IO_H

#include <stdint.h>

#if defined(DNNC_SEMIHOSTING)

#include "dnnc_semihost.h"

#define DNNC_SYS_OPEN 0x01
#define DNNC_SYS_CLOSE 0x02
#define DNNC_SYS_WRITE0 0x04
#define DNNC_SYS_WRITE 0x05
#define DNNC_SYS_READ 0x06

static inline int32_t dnnc_strlen(const char *s)
{
    int32_t n = 0;
    while (s[n]) n++;
    return n;
}

typedef int32_t dnnc_file;

/* mode: 0 = read ("rb"), 1 = write ("wb"). Returns -1 on error. */
static inline dnnc_file dnnc_open(const char *path, int mode)
{
    uint32_t args[3];
    args[0] = (uint32_t)(uintptr_t)path;
    args[1] = mode ? 5u : 1u;
    args[2] = (uint32_t)dnnc_strlen(path);
    return dnnc_semihost(DNNC_SYS_OPEN, args);
}

/* Bytes read (a short count at end of file). */
static inline int32_t dnnc_read(dnnc_file f, void *buf, int32_t n)
{
    uint32_t args[3];
    args[0] = (uint32_t)f;
    args[1] = (uint32_t)(uintptr_t)buf;
    args[2] = (uint32_t)n;
    return n - dnnc_semihost(DNNC_SYS_READ, args);
}

static inline int32_t dnnc_write(dnnc_file f, const void *buf, int32_t n)
{
    uint32_t args[3];
    args[0] = (uint32_t)f;
    args[1] = (uint32_t)(uintptr_t)buf;
    args[2] = (uint32_t)n;
    return n - dnnc_semihost(DNNC_SYS_WRITE, args);
}

static inline void dnnc_close(dnnc_file f)
{
    uint32_t arg = (uint32_t)f;
    dnnc_semihost(DNNC_SYS_CLOSE, &arg);
}

static inline int dnnc_file_ok(dnnc_file f) { return f >= 0; }
static inline void dnnc_puts(const char *s) { dnnc_semihost(DNNC_SYS_WRITE0, s); }

#else /* host */

#include <stdio.h>
#include <stdlib.h>

typedef FILE *dnnc_file;

static inline dnnc_file dnnc_open(const char *path, int mode) { return fopen(path, mode ? "wb" : "rb"); }
static inline int32_t dnnc_read(dnnc_file f, void *buf, int32_t n) { return (int32_t)fread(buf, 1, (size_t)n, f); }
static inline int32_t dnnc_write(dnnc_file f, const void *buf, int32_t n)
{
    return (int32_t)fwrite(buf, 1, (size_t)n, f);
}
static inline void dnnc_close(dnnc_file f) { fclose(f); }
static inline int dnnc_file_ok(dnnc_file f) { return f != NULL; }
static inline void dnnc_puts(const char *s) { fputs(s, stdout); }
static inline void dnnc_exit(int status) { exit(status); }

#endif

#endif /* DNNC_IO_H */
