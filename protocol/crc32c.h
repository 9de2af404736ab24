/* CRC-32C (Castagnoli), as used by record batch v2. Uses the SSE4.2 crc32
 * instruction when the CPU has it (checked once at run time), a table
 * otherwise. */
#ifndef ST_PROTOCOL_CRC32C_H
#define ST_PROTOCOL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over `len` bytes; st_crc32c(0, "123456789", 9)
 * is 0xe3069283. */
uint32_t st_crc32c(uint32_t crc, const void *data, size_t len);
/* Same result, always through the table: for tests that compare both. */
uint32_t st_crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif
