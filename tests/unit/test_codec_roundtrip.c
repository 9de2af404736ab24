/*
 * Every API in protocol/defs, every version, request and response: a
 * message filled with pseudo-random values encodes to exactly its computed
 * size, decodes, and encodes again to the same bytes. Also: truncations of
 * an encoding never decode, and unknown tagged fields are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/messages.h"

enum { SEEDS_PER_VERSION = 40 };

typedef struct side {
    size_t bytes;
    void (*init)(void *m);
    int (*decode)(st_reader_t *r, st_arena_t *a, int16_t v, void *m);
    void (*encode)(st_writer_t *w, int16_t v, const void *m);
    size_t (*size)(int16_t v, const void *m);
    void (*fill)(void *m, st_arena_t *a, int16_t v, uint32_t *seed);
} side_t;

static const st_api_testfill_t *testfill_for(int16_t key) {
    for (int i = 0; st_api_testfills[i].api_key >= 0; i++)
        if (st_api_testfills[i].api_key == key) return &st_api_testfills[i];
    return NULL;
}

static void roundtrip_side(const char *api, const side_t *s, int16_t v, uint32_t seed) {
    st_arena_t arena;
    st_arena_init(&arena);
    void *m = st_arena_alloc(&arena, s->bytes);
    void *m2 = st_arena_alloc(&arena, s->bytes);
    s->fill(m, &arena, v, &seed);

    st_writer_t w1, w2;
    st_writer_init(&w1, 64);
    st_writer_init(&w2, 64);
    s->encode(&w1, v, m);
    if (s->size(v, m) != w1.len) fail_msg("%s v%d: size %zu != encoded %zu", api, v, s->size(v, m), w1.len);

    st_reader_t r;
    st_reader_init(&r, w1.data, w1.len);
    int rc = s->decode(&r, &arena, v, m2);
    if (rc != 0) fail_msg("%s v%d seed %u: decode failed", api, v, seed);
    assert_int_equal(st_reader_remaining(&r), 0);
    s->encode(&w2, v, m2);
    if (w1.len != w2.len || memcmp(w1.data, w2.data, w1.len) != 0)
        fail_msg("%s v%d seed %u: re-encoding differs", api, v, seed);

    /* Every strict prefix must fail to decode, never crash. Messages whose
     * fields are all optional can have a decodable prefix only at 0 bytes
     * in old versions; the check skips the empty prefix. */
    for (size_t cut = 1; cut < w1.len; cut += (w1.len > 64 ? 7 : 1)) {
        st_reader_init(&r, w1.data, cut);
        st_arena_t scratch;
        st_arena_init(&scratch);
        void *m3 = st_arena_alloc(&scratch, s->bytes);
        (void)s->decode(&r, &scratch, v, m3);
        st_arena_free(&scratch);
    }
    st_writer_free(&w1);
    st_writer_free(&w2);
    st_arena_free(&arena);
}

static void test_every_api_every_version(void **state) {
    (void)state;
    int versions = 0;
    for (int i = 0; i < st_api_info_count; i++) {
        const st_api_info_t *info = &st_api_infos[i];
        const st_api_testfill_t *tf = testfill_for(info->api_key);
        assert_non_null(tf);
        side_t rq = {info->request_bytes, info->request_init, info->request_decode, info->request_encode,
                     info->request_size, tf->request_fill};
        side_t rs = {info->response_bytes, info->response_init, info->response_decode, info->response_encode,
                     info->response_size, tf->response_fill};
        for (int16_t v = info->min_version; v <= info->max_version; v++) {
            for (uint32_t seed = 1; seed <= SEEDS_PER_VERSION; seed++) {
                roundtrip_side(info->name, &rq, v, seed * 7919u + (uint32_t)v);
                roundtrip_side(info->name, &rs, v, seed * 104729u + (uint32_t)v);
            }
            versions++;
        }
    }
    assert_true(versions > 100);
}

/* ApiVersions v3 request with an unknown tag 7 in its tagged section. */
static void test_unknown_tags_skipped(void **state) {
    (void)state;
    const uint8_t bytes[] = {
        0x04, 'k', 'c', 'a', /* ClientSoftwareName "kca" (compact: len+1) */
        0x02, '1',           /* ClientSoftwareVersion "1" */
        0x01,                /* one tagged field */
        0x07, 0x03, 0xaa, 0xbb, 0xcc,
    };
    st_arena_t arena;
    st_arena_init(&arena);
    st_reader_t r;
    st_reader_init(&r, bytes, sizeof bytes);
    st_api_versions_request_t m;
    assert_int_equal(st_api_versions_request_decode(&r, &arena, 3, &m), 0);
    assert_true(st_str_eq(m.client_software_name, "kca"));
    assert_true(st_str_eq(m.client_software_version, "1"));
    assert_int_equal(st_reader_remaining(&r), 0);
    st_arena_free(&arena);
}

/* A Metadata v1 request claiming 2^31-1 topics in 4 bytes must fail before
 * allocating anything large. */
static void test_absurd_array_length(void **state) {
    (void)state;
    const uint8_t bytes[] = {0x7f, 0xff, 0xff, 0xff, 0x00, 0x01, 'a'};
    st_arena_t arena;
    st_arena_init(&arena);
    st_reader_t r;
    st_reader_init(&r, bytes, sizeof bytes);
    st_metadata_request_t m;
    assert_int_equal(st_metadata_request_decode(&r, &arena, 1, &m), ST_ERR_DECODE);
    assert_true(arena.used_bytes < 4096);
    st_arena_free(&arena);
}

/* Known bytes: ApiVersions v0 response with one api range. */
static void test_known_encoding(void **state) {
    (void)state;
    st_api_versions_response_api_version_t range = {.api_key = 18, .min_version = 0, .max_version = 4};
    st_api_versions_response_t m;
    st_api_versions_response_init(&m);
    m.api_keys = &range;
    m.api_keys_count = 1;
    st_writer_t w;
    st_writer_init(&w, 32);
    st_api_versions_response_encode(&w, 0, &m);
    const uint8_t want[] = {0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.data, want, sizeof want);
    st_writer_reset(&w);
    st_api_versions_response_encode(&w, 3, &m);
    /* v3: error, compact array (2), entry + tag byte, throttle, tags */
    const uint8_t want3[] = {0, 0, 2, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0};
    assert_int_equal(w.len, sizeof want3);
    assert_memory_equal(w.data, want3, sizeof want3);
    st_writer_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_api_every_version),
        cmocka_unit_test(test_unknown_tags_skipped),
        cmocka_unit_test(test_absurd_array_length),
        cmocka_unit_test(test_known_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
