/* CRC-32C: the standard check vectors (RFC 3720 appendix B.4 and the
 * "123456789" check value), hardware path == table path, and incremental
 * == one-shot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/crc32c.h"

static void test_crc32c_check_value(void **state) {
    (void)state;
    assert_int_equal(st_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(st_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(st_crc32c(0, "", 0), 0);
    assert_int_equal(st_crc32c(0, NULL, 0), 0);
}

static void test_crc32c_rfc3720_vectors(void **state) {
    (void)state;
    uint8_t buf[32];

    memset(buf, 0, sizeof buf);
    assert_int_equal(st_crc32c(0, buf, sizeof buf), 0x8a9136aau);
    assert_int_equal(st_crc32c_portable(0, buf, sizeof buf), 0x8a9136aau);

    memset(buf, 0xff, sizeof buf);
    assert_int_equal(st_crc32c(0, buf, sizeof buf), 0x62a8ab43u);
    assert_int_equal(st_crc32c_portable(0, buf, sizeof buf), 0x62a8ab43u);

    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    assert_int_equal(st_crc32c(0, buf, sizeof buf), 0x46dd794eu);
    assert_int_equal(st_crc32c_portable(0, buf, sizeof buf), 0x46dd794eu);

    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    assert_int_equal(st_crc32c(0, buf, sizeof buf), 0x113fdb5cu);
    assert_int_equal(st_crc32c_portable(0, buf, sizeof buf), 0x113fdb5cu);
}

/* Deterministic bytes so a failure reproduces. */
static void fill_random(uint8_t *p, size_t n, uint64_t *seed) {
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(*seed >> 56);
    }
}

static void test_crc32c_hardware_matches_portable(void **state) {
    (void)state;
    enum { MAX_LEN = 100003, PAD = 16 }; /* past 3 x 8192: the three-stream path */
    static const char *const names[ST_CRC32C_IMPL_COUNT] = {"table", "sse4.2", "vpclmulqdq"};
    uint8_t *buf = malloc(MAX_LEN + PAD);
    assert_non_null(buf);
    uint64_t seed = 42;
    fill_random(buf, MAX_LEN + PAD, &seed);
    for (int impl = ST_CRC32C_SSE42; impl < ST_CRC32C_IMPL_COUNT; impl++) {
        if (!st_crc32c_impl_available((st_crc32c_impl_t)impl)) {
            print_message("crc32c: %s not available on this CPU or build, not compared\n", names[impl]);
            continue;
        }
        /* Every length up to 600 (the folding path starts at 256 and
         * works in 256-byte steps) and a spread of larger ones, at every
         * alignment of an 8-byte word, with and without a starting CRC. */
        for (size_t len = 0; len <= MAX_LEN; len = len < 600 ? len + 1 : len * 2 + 7) {
            for (size_t align = 0; align < 9; align++) {
                const uint8_t *p = buf + align;
                assert_int_equal(st_crc32c_with((st_crc32c_impl_t)impl, 0, p, len), st_crc32c_portable(0, p, len));
                assert_int_equal(st_crc32c_with((st_crc32c_impl_t)impl, 0xdeadbeef, p, len),
                                 st_crc32c_portable(0xdeadbeef, p, len));
            }
        }
    }
    /* And the dispatcher, whichever it picks. */
    for (size_t len = 0; len <= MAX_LEN; len = len < 600 ? len + 1 : len * 2 + 7)
        assert_int_equal(st_crc32c(0x12345678, buf + 3, len), st_crc32c_portable(0x12345678, buf + 3, len));
    free(buf);
}

static void test_crc32c_incremental(void **state) {
    (void)state;
    enum { LEN = 1000 };
    uint8_t buf[LEN];
    uint64_t seed = 7;
    fill_random(buf, LEN, &seed);
    uint32_t whole = st_crc32c(0, buf, LEN);
    for (size_t split = 0; split <= LEN; split += 37) {
        uint32_t c = st_crc32c(0, buf, split);
        c = st_crc32c(c, buf + split, LEN - split);
        assert_int_equal(c, whole);
        uint32_t p = st_crc32c_portable(0, buf, split);
        p = st_crc32c_portable(p, buf + split, LEN - split);
        assert_int_equal(p, whole);
    }
    /* Byte at a time. */
    uint32_t c = 0;
    for (size_t i = 0; i < LEN; i++) c = st_crc32c(c, buf + i, 1);
    assert_int_equal(c, whole);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_value),
        cmocka_unit_test(test_crc32c_rfc3720_vectors),
        cmocka_unit_test(test_crc32c_hardware_matches_portable),
        cmocka_unit_test(test_crc32c_incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
