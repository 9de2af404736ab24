/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78).
 *
 * Three paths that must agree bit for bit (tests compare them on random
 * buffers): 512-bit carry-less folding for buffers of 256 bytes and more
 * when the CPU has VPCLMULQDQ and AVX-512, the SSE4.2 crc32 instruction,
 * and a slicing-by-8 table for everything else.
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
/* The fastest implementation this build and CPU run; each one implies the
 * ones before it in st_crc32c_impl_t. */
static st_crc32c_impl_t crc32c_best = ST_CRC32C_TABLE;

#if defined(ST_HAVE_SSE42_TARGET) && defined(__x86_64__)
#define CRC32C_HW 1

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

#if defined(CRC32C_HW) && defined(ST_HAVE_VPCLMUL_TARGET)
#define CRC32C_WIDE 1
#include <immintrin.h>

/*
 * Folding (Intel, "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ"): a 16-byte lane whose first and second 8 bytes are a and b
 * is worth, D bytes further on, a * x^(8D+32) + b * x^(8D-32) mod P; two
 * carry-less multiplies and an XOR move it onto the data there. Sixteen
 * lanes in four 512-bit registers run at once, so the multiplies overlap;
 * at the end they fold into one lane, whose CRC the crc32 instruction
 * finishes. Constants are x^n mod P bit-reflected and shifted left once
 * (the product of two reflected operands comes out one bit short).
 */
#define CRC32C_WIDE_MIN 256

/* {x^(8D+32), x^(8D-32)} for the fold distances D used below. */
static uint64_t crc32c_fold_256[2], crc32c_fold_64[2], crc32c_fold_48[2], crc32c_fold_32[2],
    crc32c_fold_16[2];

static uint64_t crc32c_xpow_reflected(unsigned n) {
    uint64_t r = 1;
    for (unsigned i = 0; i < n; i++) {
        r <<= 1;
        if (r & (1ull << 32)) r ^= 0x11edc6f41ull; /* the polynomial, unreflected */
    }
    uint32_t reflected = 0;
    for (int bit = 0; bit < 32; bit++)
        if ((r >> bit) & 1) reflected |= 1u << (31 - bit);
    return (uint64_t)reflected << 1;
}

static void crc32c_fold_constants(uint64_t k[2], unsigned distance_bytes) {
    k[0] = crc32c_xpow_reflected(8 * distance_bytes + 32);
    k[1] = crc32c_xpow_reflected(8 * distance_bytes - 32);
}

#define CRC32C_WIDE_TARGET __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.2")))

CRC32C_WIDE_TARGET static inline __m512i crc32c_fold512(__m512i lanes, __m512i k, __m512i onto) {
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(lanes, k, 0x00),
                                     _mm512_clmulepi64_epi128(lanes, k, 0x11), onto, 0x96);
}

CRC32C_WIDE_TARGET static inline __m128i crc32c_fold_k128(const uint64_t k[2]) {
    return _mm_set_epi64x((long long)k[1], (long long)k[0]);
}

/* The same pair of constants in each of the four lanes. */
CRC32C_WIDE_TARGET static inline __m512i crc32c_fold_k512(const uint64_t k[2]) {
    return _mm512_broadcast_i32x4(crc32c_fold_k128(k));
}

CRC32C_WIDE_TARGET static inline __m128i crc32c_fold128(__m128i lane, const uint64_t k[2]) {
    __m128i kv = crc32c_fold_k128(k);
    return _mm_xor_si128(_mm_clmulepi64_si128(lane, kv, 0x00), _mm_clmulepi64_si128(lane, kv, 0x11));
}

/* Raw register in and out, like crc32c_hw; len >= CRC32C_WIDE_MIN. */
CRC32C_WIDE_TARGET static uint32_t crc32c_wide(uint32_t crc, const uint8_t *p, size_t len) {
    __m512i x0 = _mm512_loadu_si512(p);
    __m512i x1 = _mm512_loadu_si512(p + 64);
    __m512i x2 = _mm512_loadu_si512(p + 128);
    __m512i x3 = _mm512_loadu_si512(p + 192);
    /* The running CRC enters as if XORed into the first four bytes. */
    x0 = _mm512_xor_si512(x0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)crc)));
    p += 256;
    len -= 256;
    const __m512i k256 = crc32c_fold_k512(crc32c_fold_256);
    while (len >= 256) {
        x0 = crc32c_fold512(x0, k256, _mm512_loadu_si512(p));
        x1 = crc32c_fold512(x1, k256, _mm512_loadu_si512(p + 64));
        x2 = crc32c_fold512(x2, k256, _mm512_loadu_si512(p + 128));
        x3 = crc32c_fold512(x3, k256, _mm512_loadu_si512(p + 192));
        p += 256;
        len -= 256;
    }
    const __m512i k64 = crc32c_fold_k512(crc32c_fold_64);
    x1 = crc32c_fold512(x0, k64, x1);
    x2 = crc32c_fold512(x1, k64, x2);
    x3 = crc32c_fold512(x2, k64, x3);
    __m128i last = _mm512_extracti32x4_epi32(x3, 3);
    last = _mm_xor_si128(last, crc32c_fold128(_mm512_extracti32x4_epi32(x3, 0), crc32c_fold_48));
    last = _mm_xor_si128(last, crc32c_fold128(_mm512_extracti32x4_epi32(x3, 1), crc32c_fold_32));
    last = _mm_xor_si128(last, crc32c_fold128(_mm512_extracti32x4_epi32(x3, 2), crc32c_fold_16));
    uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(last));
    c = _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(last, 1));
    return crc32c_hw((uint32_t)c, p, len);
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
    if (__builtin_cpu_supports("sse4.2")) crc32c_best = ST_CRC32C_SSE42;
    crc32c_zeros(crc32c_long_shift, CRC32C_LONG_BLOCK);
    crc32c_zeros(crc32c_short_shift, CRC32C_SHORT_BLOCK);
#endif
#ifdef CRC32C_WIDE
    if (crc32c_best == ST_CRC32C_SSE42 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul"))
        crc32c_best = ST_CRC32C_VPCLMUL;
    crc32c_fold_constants(crc32c_fold_256, 256);
    crc32c_fold_constants(crc32c_fold_64, 64);
    crc32c_fold_constants(crc32c_fold_48, 48);
    crc32c_fold_constants(crc32c_fold_32, 32);
    crc32c_fold_constants(crc32c_fold_16, 16);
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
    return st_crc32c_with(crc32c_best, crc, data, len);
}

int st_crc32c_impl_available(st_crc32c_impl_t impl) {
    return impl >= ST_CRC32C_TABLE && impl <= crc32c_best;
}

uint32_t st_crc32c_with(st_crc32c_impl_t impl, uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    switch (impl) {
#ifdef CRC32C_WIDE
    case ST_CRC32C_VPCLMUL:
        if (len >= CRC32C_WIDE_MIN) return ~crc32c_wide(~crc, p, len);
        return ~crc32c_hw(~crc, p, len);
#endif
#ifdef CRC32C_HW
    case ST_CRC32C_SSE42: return ~crc32c_hw(~crc, p, len);
#endif
    default: return st_crc32c_portable(crc, p, len);
    }
}
