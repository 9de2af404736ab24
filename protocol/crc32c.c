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

/*
 * One crc32 instruction has a latency of three cycles but a throughput of
 * one per cycle, so three independent streams over three blocks run three
 * times faster; the three partial CRCs are then combined by "shifting" the
 * earlier ones over the later blocks' length with precomputed tables (the
 * CRC of a block of zeros is a linear operator over GF(2); method as in
 * Mark Adler's crc32c.c).
 */
#define CRC32C_LONG_BLOCK 8192
#define CRC32C_SHORT_BLOCK 256

static uint32_t crc32c_long_shift[4][256];
static uint32_t crc32c_short_shift[4][256];

static uint32_t gf2_matrix_times(const uint32_t *mat, uint32_t vec) {
    uint32_t sum = 0;
    while (vec) {
        if (vec & 1) sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

static void gf2_matrix_square(uint32_t *square, const uint32_t *mat) {
    for (int n = 0; n < 32; n++) square[n] = gf2_matrix_times(mat, mat[n]);
}

/* The operator that appends `len` zero bytes to a CRC register. */
static void crc32c_zeros_op(uint32_t *even, size_t len) {
    uint32_t odd[32];
    uint32_t row = 1;
    odd[0] = CRC32C_POLY_REFLECTED; /* one zero bit */
    for (int n = 1; n < 32; n++) {
        odd[n] = row;
        row <<= 1;
    }
    gf2_matrix_square(even, odd); /* two zero bits */
    gf2_matrix_square(odd, even); /* four zero bits */
    /* Square for each bit of len (in bytes: start from one zero byte). */
    for (;;) {
        gf2_matrix_square(even, odd);
        len >>= 1;
        if (len == 0) return;
        gf2_matrix_square(odd, even);
        len >>= 1;
        if (len == 0) break;
    }
    for (int n = 0; n < 32; n++) even[n] = odd[n];
}

static void crc32c_zeros(uint32_t zeros[][256], size_t len) {
    uint32_t op[32];
    crc32c_zeros_op(op, len);
    for (uint32_t n = 0; n < 256; n++) {
        zeros[0][n] = gf2_matrix_times(op, n);
        zeros[1][n] = gf2_matrix_times(op, n << 8);
        zeros[2][n] = gf2_matrix_times(op, n << 16);
        zeros[3][n] = gf2_matrix_times(op, n << 24);
    }
}

static uint32_t crc32c_shift(uint32_t zeros[][256], uint32_t crc) {
    return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len) {
    uint64_t c0 = crc;
    /* Align to 8 so the 64-bit loads are cheap on every x86 generation. */
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c0 = __builtin_ia32_crc32qi((uint32_t)c0, *p);
        p++;
        len--;
    }
    static const size_t blocks[2] = {CRC32C_LONG_BLOCK, CRC32C_SHORT_BLOCK};
    for (int b = 0; b < 2; b++) {
        size_t block = blocks[b];
        while (len >= 3 * block) {
            uint64_t c1 = 0, c2 = 0;
            const uint8_t *end = p + block;
            do {
                uint64_t w0, w1, w2;
                memcpy(&w0, p, 8);
                memcpy(&w1, p + block, 8);
                memcpy(&w2, p + 2 * block, 8);
                c0 = __builtin_ia32_crc32di(c0, w0);
                c1 = __builtin_ia32_crc32di(c1, w1);
                c2 = __builtin_ia32_crc32di(c2, w2);
                p += 8;
            } while (p < end);
            uint32_t (*shift)[256] = b == 0 ? crc32c_long_shift : crc32c_short_shift;
            c0 = crc32c_shift(shift, (uint32_t)c0) ^ c1;
            c0 = crc32c_shift(shift, (uint32_t)c0) ^ c2;
            p += 2 * block;
            len -= 3 * block;
        }
    }
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        c0 = __builtin_ia32_crc32di(c0, word);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c0 = __builtin_ia32_crc32qi((uint32_t)c0, *p);
        p++;
        len--;
    }
    return (uint32_t)c0;
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
    crc32c_zeros(crc32c_long_shift, CRC32C_LONG_BLOCK);
    crc32c_zeros(crc32c_short_shift, CRC32C_SHORT_BLOCK);
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
