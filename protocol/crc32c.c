/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78).
 *
 * Two paths that must agree bit for bit: the SSE4.2 crc32 instruction, used
 * when the build can target it and the CPU reports it, and a slicing-by-8
 * table for everything else (tests compare them on random buffers).
 *
 * The tables and the CPU check are set up once by a constructor so the hot
 * path reads plain constants: no lazy-init flag that two threads could race
 * on.
 */
#include "protocol/crc32c.h"

#include <stdbool.h>
#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82f63b78u

static uint32_t crc32c_table[8][256];

#if defined(ST_HAVE_SSE42_TARGET) && defined(__x86_64__)
#define CRC32C_HW 1

static bool crc32c_use_hw;

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
                                                            size_t len) {
    uint64_t c = crc;
    /* Align to 8 so the 64-bit loads are cheap on every x86 generation. */
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p);
        p++;
        len--;
    }
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p);
        p++;
        len--;
    }
    return (uint32_t)c;
}
#endif

__attribute__((constructor)) static void crc32c_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        crc32c_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = crc32c_table[0][n];
        for (int t = 1; t < 8; t++) {
            c = crc32c_table[0][c & 0xff] ^ (c >> 8);
            crc32c_table[t][n] = c;
        }
    }
#ifdef CRC32C_HW
    __builtin_cpu_init();
    crc32c_use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* Works on the pre/post-inverted register value, like crc32c_hw. */
static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t len) {
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = crc32c_table[0][(c ^ *p) & 0xff] ^ (c >> 8);
        p++;
        len--;
    }
    while (len >= 8) {
        /* Byte-wise assembly keeps this endian-independent. */
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                      (uint32_t)p[7] << 24;
        c = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
            crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
            crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
            crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = crc32c_table[0][(c ^ *p) & 0xff] ^ (c >> 8);
        p++;
        len--;
    }
    return c;
}

uint32_t st_crc32c_portable(uint32_t crc, const void *data, size_t len) {
    return ~crc32c_sw(~crc, (const uint8_t *)data, len);
}

uint32_t st_crc32c(uint32_t crc, const void *data, size_t len) {
#ifdef CRC32C_HW
    if (crc32c_use_hw) return ~crc32c_hw(~crc, (const uint8_t *)data, len);
#endif
    return st_crc32c_portable(crc, data, len);
}
