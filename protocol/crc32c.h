/* CRC-32C (Castagnoli), as used by record batch v2. Uses carry-less
 * multiplication on 512-bit registers (VPCLMULQDQ) for long buffers and the
 * SSE4.2 crc32 instruction for the rest when the CPU has them (checked once
 * at run time), a table otherwise. */
#ifndef ST_PROTOCOL_CRC32C_H
#define ST_PROTOCOL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over `len` bytes; st_crc32c(0, "123456789", 9)
 * is 0xe3069283. */
uint32_t st_crc32c(uint32_t crc, const void *data, size_t len);
/* Same result, always through the table: for tests that compare both. */
uint32_t st_crc32c_portable(uint32_t crc, const void *data, size_t len);

/* The implementations, each callable on its own so tests can compare every
 * one this CPU runs with the table. */
typedef enum {
    ST_CRC32C_TABLE,
    ST_CRC32C_SSE42,    /* crc32 instruction, three streams */
    ST_CRC32C_VPCLMUL,  /* 512-bit carry-less folding, then SSE4.2 */
    ST_CRC32C_IMPL_COUNT
} st_crc32c_impl_t;

/* Whether this build and CPU can run `impl`. */
int st_crc32c_impl_available(st_crc32c_impl_t impl);
/* st_crc32c through `impl`, which must be available. */
uint32_t st_crc32c_with(st_crc32c_impl_t impl, uint32_t crc, const void *data, size_t len);

#endif
