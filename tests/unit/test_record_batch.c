/* Record batch v2: builder -> parse -> iterate for every codec, CRC checks
 * and in-place rewrites, each validation error class, a byte-exact known
 * batch, and malformed records during iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/crc32c.h"
#include "common/errors.h"
#include "protocol/record_batch.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const st_codec_t all_codecs[] = {ST_CODEC_NONE, ST_CODEC_GZIP, ST_CODEC_SNAPPY, ST_CODEC_LZ4,
                                        ST_CODEC_ZSTD};

static const st_batch_limits_t default_limits = {.decompressed_bytes_max = 8u * 1024 * 1024,
                                                 .records_max = 100000};

/* Recomputes the CRC after a test edits CRC-covered bytes. */
static void fix_crc(uint8_t *batch, size_t len) {
    uint32_t crc = st_crc32c(0, batch + ST_BATCH_ATTRIBUTES_OFFSET, len - ST_BATCH_ATTRIBUTES_OFFSET);
    st_put_i32be(batch + ST_BATCH_CRC_OFFSET, (int32_t)crc);
}

/* One record's expected contents. */
typedef struct expect_record {
    const char *key;   /* NULL: null key */
    const char *value; /* NULL: null value */
    int32_t header_count;
    st_record_header_t headers[2];
} expect_record_t;

static int32_t slen(const char *s) { return s ? (int32_t)strlen(s) : -1; }

static void add_expected(st_batch_builder_t *b, int32_t offset_delta, int64_t ts, const expect_record_t *e) {
    st_batch_builder_add(b, offset_delta, ts, (const uint8_t *)e->key, slen(e->key),
                         (const uint8_t *)e->value, slen(e->value), e->headers, e->header_count);
}

static void check_bytes(const uint8_t *p, int32_t len, const char *want) {
    if (!want) {
        assert_int_equal(len, -1);
        return;
    }
    assert_int_equal(len, (int32_t)strlen(want));
    assert_non_null(p);
    if (len) assert_memory_equal(p, want, (size_t)len);
}

static const expect_record_t sample_records[] = {
    {.key = "key-0", .value = "value-0", .header_count = 0},
    {.key = NULL, .value = "value with null key", .header_count = 0},
    {.key = "tombstone", .value = NULL, .header_count = 0},
    {.key = "", .value = "", .header_count = 0},
    {.key = "with-headers",
     .value = "v",
     .header_count = 2,
     .headers = {{.key = (const uint8_t *)"h1", .key_len = 2, .value = (const uint8_t *)"one", .value_len = 3},
                 {.key = (const uint8_t *)"h2", .key_len = 2, .value = NULL, .value_len = -1}}},
};

/* Builds the sample batch for `codec` into `out` (base offset 0). */
static void build_sample(st_codec_t codec, st_writer_t *out) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, codec, 0);
    for (size_t i = 0; i < COUNT(sample_records); i++)
        add_expected(&b, (int32_t)i, 1700000000000 + (int64_t)i * 10, &sample_records[i]);
    assert_int_equal(st_batch_builder_finish(&b, out), 0);
    st_batch_builder_free(&b);
}

static void test_round_trip_every_codec(void **state) {
    (void)state;
    for (size_t c = 0; c < COUNT(all_codecs); c++) {
        st_codec_t codec = all_codecs[c];
        st_writer_t out;
        st_writer_init(&out, 0);
        build_sample(codec, &out);

        st_batch_header_t h;
        assert_int_equal(st_batch_header_parse(out.data, out.len, &h), 0);
        assert_int_equal(st_batch_total_bytes(&h), (int64_t)out.len);
        assert_int_equal(h.magic, 2);
        assert_int_equal(h.attributes & ST_BATCH_ATTR_CODEC_MASK, codec);
        assert_int_equal(h.record_count, (int32_t)COUNT(sample_records));
        assert_int_equal(h.last_offset_delta, (int32_t)COUNT(sample_records) - 1);
        assert_true(h.base_timestamp == 1700000000000);
        assert_true(h.max_timestamp == 1700000000000 + 10 * ((int64_t)COUNT(sample_records) - 1));
        assert_true(h.producer_id == -1);
        assert_int_equal(h.producer_epoch, -1);
        assert_int_equal(h.base_sequence, -1);
        assert_int_equal(h.partition_leader_epoch, -1);
        assert_true(st_batch_crc_valid(out.data, out.len));
        assert_int_equal(h.crc, (uint32_t)st_get_i32be(out.data + ST_BATCH_CRC_OFFSET));

        st_arena_t arena;
        st_arena_init(&arena);
        st_batch_check_t check;
        assert_int_equal(st_batch_validate(out.data, out.len, &default_limits, false, &arena, &check), 0);
        assert_int_equal(check.record_error_count, 0);

        st_record_iter_t it;
        assert_int_equal(st_record_iter_init(&it, out.data, out.len, 1024 * 1024, &arena), 0);
        st_record_t rec;
        for (size_t i = 0; i < COUNT(sample_records); i++) {
            const expect_record_t *e = &sample_records[i];
            assert_int_equal(st_record_iter_next(&it, &rec), 1);
            assert_int_equal(rec.offset_delta, (int32_t)i);
            assert_true(rec.timestamp_delta == (int64_t)i * 10);
            check_bytes(rec.key, rec.key_len, e->key);
            check_bytes(rec.value, rec.value_len, e->value);
            assert_int_equal(rec.header_count, e->header_count);
            for (int32_t k = 0; k < e->header_count; k++) {
                assert_int_equal(rec.headers[k].key_len, e->headers[k].key_len);
                assert_memory_equal(rec.headers[k].key, e->headers[k].key, (size_t)e->headers[k].key_len);
                assert_int_equal(rec.headers[k].value_len, e->headers[k].value_len);
                if (e->headers[k].value_len > 0)
                    assert_memory_equal(rec.headers[k].value, e->headers[k].value,
                                        (size_t)e->headers[k].value_len);
            }
        }
        assert_int_equal(st_record_iter_next(&it, &rec), 0);
        assert_int_equal(st_record_iter_next(&it, &rec), 0);
        st_arena_free(&arena);
        st_writer_free(&out);
    }
}

/* Many records through each codec; the builder output is appended to what
 * the writer already holds. */
static void test_large_batch_every_codec(void **state) {
    (void)state;
    enum { N = 3000 };
    for (size_t c = 0; c < COUNT(all_codecs); c++) {
        st_writer_t out;
        st_writer_init(&out, 0);
        st_write_raw(&out, "prefix", 6);
        st_batch_builder_t b;
        st_batch_builder_init(&b, all_codecs[c], 0);
        char key[32], value[64];
        for (int i = 0; i < N; i++) {
            int kl = snprintf(key, sizeof key, "key-%d", i);
            int vl = snprintf(value, sizeof value, "value-%d-%d", i, i * 31);
            st_batch_builder_add(&b, i, 1000 + i, (const uint8_t *)key, kl, (const uint8_t *)value, vl, NULL,
                                 0);
        }
        assert_int_equal(st_batch_builder_finish(&b, &out), 0);
        st_batch_builder_free(&b);
        assert_memory_equal(out.data, "prefix", 6);
        const uint8_t *batch = out.data + 6;
        size_t len = out.len - 6;

        st_arena_t arena;
        st_arena_init(&arena);
        st_batch_check_t check;
        assert_int_equal(st_batch_validate(batch, len, &default_limits, true, &arena, &check), 0);
        st_record_iter_t it;
        assert_int_equal(st_record_iter_init(&it, batch, len, 1024 * 1024, &arena), 0);
        st_record_t rec;
        int n = 0;
        int rc;
        while ((rc = st_record_iter_next(&it, &rec)) == 1) {
            int kl = snprintf(key, sizeof key, "key-%d", n);
            assert_int_equal(rec.key_len, kl);
            assert_memory_equal(rec.key, key, (size_t)kl);
            assert_int_equal(rec.offset_delta, n);
            n++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(n, N);

        /* The same batch, decompressed under a cap it does not fit. */
        if (all_codecs[c] != ST_CODEC_NONE) {
            assert_int_equal(st_record_iter_init(&it, batch, len, 1000, &arena), ST_ERR_LIMIT);
            st_batch_limits_t tight = {.decompressed_bytes_max = 1000, .records_max = N};
            assert_int_equal(st_batch_validate(batch, len, &tight, false, &arena, &check),
                             ST_ERR_MESSAGE_TOO_LARGE);
        }
        st_batch_limits_t few = {.decompressed_bytes_max = 1024 * 1024, .records_max = N - 1};
        assert_int_equal(st_batch_validate(batch, len, &few, false, &arena, &check), ST_ERR_MESSAGE_TOO_LARGE);
        st_arena_free(&arena);
        st_writer_free(&out);
    }
}

static void test_crc_flip_detected(void **state) {
    (void)state;
    st_writer_t out;
    st_writer_init(&out, 0);
    build_sample(ST_CODEC_NONE, &out);
    st_arena_t arena;
    st_arena_init(&arena);
    for (size_t pos = ST_BATCH_ATTRIBUTES_OFFSET; pos < out.len; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            out.data[pos] ^= (uint8_t)(1u << bit);
            assert_false(st_batch_crc_valid(out.data, out.len));
            st_batch_check_t check;
            assert_int_equal(st_batch_validate(out.data, out.len, &default_limits, false, &arena, &check),
                             ST_ERR_CORRUPT_MESSAGE);
            assert_non_null(check.error_message);
            out.data[pos] ^= (uint8_t)(1u << bit);
        }
    }
    /* The stored CRC itself damaged. */
    out.data[ST_BATCH_CRC_OFFSET] ^= 1;
    assert_false(st_batch_crc_valid(out.data, out.len));
    out.data[ST_BATCH_CRC_OFFSET] ^= 1;
    assert_true(st_batch_crc_valid(out.data, out.len));
    st_arena_free(&arena);
    st_writer_free(&out);
}

static int validate(const st_writer_t *w, bool require_keys, st_arena_t *arena, st_batch_check_t *check) {
    return st_batch_validate(w->data, w->len, &default_limits, require_keys, arena, check);
}

static void test_validate_bad_offset_delta(void **state) {
    (void)state;
    st_writer_t out;
    st_writer_init(&out, 0);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_LZ4, 0);
    /* Deltas 0, 2, 2, 3: count 4 and lastOffsetDelta 3 agree, but records
     * 1 and 2 are not at their positions. */
    const int32_t deltas[] = {0, 2, 2, 3};
    for (size_t i = 0; i < COUNT(deltas); i++)
        st_batch_builder_add(&b, deltas[i], 5, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL, 0);
    assert_int_equal(st_batch_builder_finish(&b, &out), 0);
    st_batch_builder_free(&b);

    st_arena_t arena;
    st_arena_init(&arena);
    st_batch_check_t check;
    assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
    assert_int_equal(check.error, ST_ERR_INVALID_RECORD);
    assert_int_equal(check.record_error_count, 1);
    assert_int_equal(check.record_errors[0].batch_index, 1);
    assert_non_null(check.record_errors[0].message);
    st_arena_free(&arena);
    st_writer_free(&out);
}

/* Rewrites record count and lastOffsetDelta of a 3-record batch. */
static void set_counts(st_writer_t *w, int32_t count, int32_t last_offset_delta) {
    st_put_i32be(w->data + 57, count);
    st_put_i32be(w->data + 23, last_offset_delta);
    fix_crc(w->data, w->len);
}

static void build_three(st_codec_t codec, st_writer_t *out) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, codec, 0);
    for (int i = 0; i < 3; i++)
        st_batch_builder_add(&b, i, 5, (const uint8_t *)"key", 3, (const uint8_t *)"value", 5, NULL, 0);
    assert_int_equal(st_batch_builder_finish(&b, out), 0);
    st_batch_builder_free(&b);
}

static void test_validate_count_mismatch(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_batch_check_t check;
    for (size_t c = 0; c < COUNT(all_codecs); c++) {
        st_writer_t out;
        st_writer_init(&out, 0);
        build_three(all_codecs[c], &out);
        assert_int_equal(validate(&out, false, &arena, &check), 0);

        set_counts(&out, 4, 2); /* count disagrees with the offset range */
        assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
        set_counts(&out, 4, 3); /* claims one record more than present */
        assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
        set_counts(&out, 2, 1); /* claims one record fewer */
        assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
        set_counts(&out, 0, -1);
        assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
        set_counts(&out, 3, 2);
        assert_int_equal(validate(&out, false, &arena, &check), 0);
        st_writer_free(&out);
    }
    st_arena_free(&arena);
}

static void test_validate_control_batch(void **state) {
    (void)state;
    st_writer_t out;
    st_writer_init(&out, 0);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    b.attributes_extra = ST_BATCH_ATTR_CONTROL | ST_BATCH_ATTR_TRANSACTIONAL;
    b.producer_id = 7;
    b.producer_epoch = 0;
    b.base_sequence = 0;
    /* An end-transaction marker: key version 0, type 1 (commit). */
    const uint8_t key[] = {0, 0, 0, 1};
    const uint8_t value[] = {0, 0, 0, 0, 0, 0};
    st_batch_builder_add(&b, 0, 5, key, sizeof key, value, sizeof value, NULL, 0);
    assert_int_equal(st_batch_builder_finish(&b, &out), 0);
    st_batch_builder_free(&b);

    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(out.data, out.len, &h), 0);
    assert_int_equal(h.attributes, ST_BATCH_ATTR_CONTROL | ST_BATCH_ATTR_TRANSACTIONAL);
    assert_true(h.producer_id == 7);

    st_arena_t arena;
    st_arena_init(&arena);
    st_batch_check_t check;
    assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
    assert_non_null(check.error_message);
    assert_int_equal(check.record_error_count, 0);
    st_arena_free(&arena);
    st_writer_free(&out);
}

/* A marker batch as Kafka's EndTransactionMarker lays it out: control and
 * transactional bits, one record, base sequence -1, key version 0 and type
 * (0 abort, 1 commit), value version 0 and the coordinator epoch. */
static void test_txn_marker_build_and_parse(void **state) {
    (void)state;
    for (int commit = 0; commit <= 1; commit++) {
        st_writer_t out;
        st_writer_init(&out, 0);
        st_txn_marker_t m = {.commit = commit == 1, .coordinator_epoch = 0x01020304};
        st_txn_marker_batch_build(&out, 42, 3, &m, 1700000000000LL);
        st_batch_header_t h;
        assert_int_equal(st_batch_header_parse(out.data, out.len, &h), 0);
        assert_int_equal(st_batch_total_bytes(&h), (int64_t)out.len);
        assert_true(st_batch_crc_valid(out.data, out.len));
        assert_int_equal(h.attributes, ST_BATCH_ATTR_CONTROL | ST_BATCH_ATTR_TRANSACTIONAL);
        assert_true(h.producer_id == 42);
        assert_int_equal(h.producer_epoch, 3);
        assert_int_equal(h.base_sequence, -1);
        assert_int_equal(h.record_count, 1);
        assert_int_equal(h.last_offset_delta, 0);
        assert_true(h.max_timestamp == 1700000000000LL);

        st_arena_t arena;
        st_arena_init(&arena);
        st_record_iter_t it;
        assert_int_equal(st_record_iter_init(&it, out.data, out.len, 1024, &arena), 0);
        st_record_t r;
        assert_int_equal(st_record_iter_next(&it, &r), 1);
        const uint8_t key[] = {0, 0, 0, (uint8_t)commit};
        const uint8_t value[] = {0, 0, 1, 2, 3, 4};
        assert_int_equal(r.key_len, 4);
        assert_memory_equal(r.key, key, 4);
        assert_int_equal(r.value_len, 6);
        assert_memory_equal(r.value, value, 6);
        st_arena_free(&arena);

        st_txn_marker_t back;
        assert_int_equal(st_txn_marker_batch_parse(out.data, out.len, &back), 0);
        assert_int_equal(back.commit, commit == 1);
        assert_int_equal(back.coordinator_epoch, 0x01020304);
        /* Clients may not write it. */
        st_arena_init(&arena);
        st_batch_check_t check;
        assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
        st_arena_free(&arena);
        st_writer_free(&out);
    }
}

/* Builds a control batch with the given record (NULL key: no record). */
static void control_batch(st_writer_t *out, const uint8_t *key, int32_t key_len, const uint8_t *value,
                          int32_t value_len, bool control) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    b.attributes_extra = control ? ST_BATCH_ATTR_CONTROL | ST_BATCH_ATTR_TRANSACTIONAL : 0;
    b.producer_id = 1;
    b.producer_epoch = 0;
    if (key) st_batch_builder_add(&b, 0, 1, key, key_len, value, value_len, NULL, 0);
    assert_int_equal(st_batch_builder_finish(&b, out), 0);
    st_batch_builder_free(&b);
}

static void test_txn_marker_parse_rejects(void **state) {
    (void)state;
    st_txn_marker_t m;
    st_writer_t out;
    const uint8_t commit_key[] = {0, 0, 0, 1}, value[] = {0, 0, 0, 0, 0, 9};
    /* Newer versions are read as version 0 (extra bytes ignored). */
    const uint8_t key_v1[] = {0, 1, 0, 0, 7}, value_v1[] = {0, 1, 0, 0, 0, 5, 1, 1};
    st_writer_init(&out, 0);
    control_batch(&out, key_v1, sizeof key_v1, value_v1, sizeof value_v1, true);
    assert_int_equal(st_txn_marker_batch_parse(out.data, out.len, &m), 0);
    assert_false(m.commit);
    assert_int_equal(m.coordinator_epoch, 5);
    st_writer_free(&out);
    /* Not a control batch. */
    st_writer_init(&out, 0);
    control_batch(&out, commit_key, 4, value, 6, false);
    assert_int_equal(st_txn_marker_batch_parse(out.data, out.len, &m), ST_ERR_CORRUPT_MESSAGE);
    st_writer_free(&out);
    /* Emptied by compaction. */
    st_writer_init(&out, 0);
    control_batch(&out, NULL, 0, NULL, 0, true);
    assert_int_equal(st_txn_marker_batch_parse(out.data, out.len, &m), ST_ERR_NOT_FOUND);
    st_writer_free(&out);
    /* Another control type (LEADER_CHANGE). */
    const uint8_t leader_key[] = {0, 0, 0, 2};
    st_writer_init(&out, 0);
    control_batch(&out, leader_key, 4, value, 6, true);
    assert_int_equal(st_txn_marker_batch_parse(out.data, out.len, &m), ST_ERR_NOT_FOUND);
    st_writer_free(&out);
    /* Short key, short value, negative versions, null value. */
    const uint8_t short_key[] = {0, 0, 0}, negative_key[] = {0xff, 0xff, 0, 1};
    const uint8_t short_value[] = {0, 0, 0, 0, 1}, negative_value[] = {0x80, 0, 0, 0, 0, 1};
    struct {
        const uint8_t *key;
        int32_t key_len;
        const uint8_t *value;
        int32_t value_len;
    } bad[] = {{short_key, 3, value, 6},        {negative_key, 4, value, 6}, {commit_key, 4, short_value, 5},
               {commit_key, 4, negative_value, 6}, {commit_key, 4, NULL, -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_writer_init(&out, 0);
        control_batch(&out, bad[i].key, bad[i].key_len, bad[i].value, bad[i].value_len, true);
        assert_int_equal(st_txn_marker_batch_parse(out.data, out.len, &m), ST_ERR_CORRUPT_MESSAGE);
        st_writer_free(&out);
    }
    /* Truncated bytes. */
    st_writer_init(&out, 0);
    control_batch(&out, commit_key, 4, value, 6, true);
    for (size_t cut = 0; cut < out.len; cut++)
        assert_int_not_equal(st_txn_marker_batch_parse(out.data, cut, &m), 0);
    st_writer_free(&out);
}

static void test_validate_null_key_on_compacted(void **state) {
    (void)state;
    st_writer_t out;
    st_writer_init(&out, 0);
    build_sample(ST_CODEC_ZSTD, &out); /* record 1 has a null key */
    st_arena_t arena;
    st_arena_init(&arena);
    st_batch_check_t check;
    assert_int_equal(validate(&out, false, &arena, &check), 0);
    assert_int_equal(validate(&out, true, &arena, &check), ST_ERR_INVALID_RECORD);
    assert_int_equal(check.record_error_count, 1);
    assert_int_equal(check.record_errors[0].batch_index, 1);
    st_arena_free(&arena);
    st_writer_free(&out);
}

/* Every record's timestamp is checked, not only the batch's base and max:
 * the middle record is out of range here and is the one reported. */
static void test_validate_record_timestamps(void **state) {
    (void)state;
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_LZ4, 0);
    const int64_t ts[] = {1000, 5000, -1, 1200};
    for (int32_t i = 0; i < (int32_t)COUNT(ts); i++)
        st_batch_builder_add(&b, i, ts[i], (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL, 0);
    st_writer_t out;
    st_writer_init(&out, 0);
    assert_int_equal(st_batch_builder_finish(&b, &out), 0);
    st_batch_builder_free(&b);
    st_arena_t arena;
    st_arena_init(&arena);
    st_batch_check_t check;
    st_batch_limits_t limits = default_limits;
    limits.check_timestamps = true;
    limits.timestamp_min = 900;
    limits.timestamp_max = 5000;
    assert_int_equal(st_batch_validate(out.data, out.len, &limits, false, &arena, &check), 0);
    limits.timestamp_max = 4999;
    assert_int_equal(st_batch_validate(out.data, out.len, &limits, false, &arena, &check), ST_ERR_INVALID_TIMESTAMP);
    assert_int_equal(check.record_error_count, 1);
    assert_int_equal(check.record_errors[0].batch_index, 1);
    limits.timestamp_min = 1100; /* now the first record too; -1 ("no timestamp") never */
    assert_int_equal(st_batch_validate(out.data, out.len, &limits, false, &arena, &check), ST_ERR_INVALID_TIMESTAMP);
    assert_int_equal(check.record_error_count, 2);
    assert_int_equal(check.record_errors[0].batch_index, 0);
    assert_int_equal(check.record_errors[1].batch_index, 1);
    limits.check_timestamps = false;
    assert_int_equal(st_batch_validate(out.data, out.len, &limits, false, &arena, &check), 0);
    st_arena_free(&arena);
    st_writer_free(&out);
}

static void test_validate_corrupt_compressed_payload(void **state) {
    (void)state;
    const st_codec_t codecs[] = {ST_CODEC_GZIP, ST_CODEC_SNAPPY, ST_CODEC_LZ4, ST_CODEC_ZSTD};
    st_arena_t arena;
    st_arena_init(&arena);
    for (size_t c = 0; c < COUNT(codecs); c++) {
        st_writer_t out;
        st_writer_init(&out, 0);
        build_sample(codecs[c], &out);
        /* Garbage over the start of the compressed payload, CRC made to
         * match so only the codec can notice. */
        memset(out.data + ST_BATCH_HEADER_BYTES, 0xee, 8);
        fix_crc(out.data, out.len);
        st_batch_check_t check;
        assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_CORRUPT_MESSAGE);
        st_record_iter_t it;
        assert_int_equal(st_record_iter_init(&it, out.data, out.len, 1 << 20, &arena), ST_ERR_CORRUPT_MESSAGE);
        st_writer_free(&out);
    }
    st_arena_free(&arena);
}

static void test_validate_unknown_codec(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    for (int codec = 5; codec <= 7; codec++) {
        st_writer_t out;
        st_writer_init(&out, 0);
        build_sample(ST_CODEC_NONE, &out);
        st_put_i16be(out.data + ST_BATCH_ATTRIBUTES_OFFSET, (int16_t)codec);
        fix_crc(out.data, out.len);
        st_batch_check_t check;
        assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_UNSUPPORTED_COMPRESSION_TYPE);
        st_record_iter_t it;
        assert_int_equal(st_record_iter_init(&it, out.data, out.len, 1 << 20, &arena),
                         ST_ERR_UNSUPPORTED_COMPRESSION_TYPE);
        st_writer_free(&out);
    }
    st_arena_free(&arena);
}

static void test_validate_framing(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_writer_t out;
    st_writer_init(&out, 0);
    build_sample(ST_CODEC_NONE, &out);
    st_batch_check_t check;

    /* Shorter than a header, shorter than batchLength says, longer. */
    assert_int_equal(st_batch_validate(out.data, 60, &default_limits, false, &arena, &check),
                     ST_ERR_CORRUPT_MESSAGE);
    assert_int_equal(st_batch_validate(out.data, out.len - 1, &default_limits, false, &arena, &check),
                     ST_ERR_CORRUPT_MESSAGE);
    st_write_i8(&out, 0);
    assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_CORRUPT_MESSAGE);
    out.len--;
    assert_int_equal(validate(&out, false, &arena, &check), 0);

    /* A producer must send base offset 0; the broker assigns offsets. */
    st_batch_set_base_offset(out.data, 42);
    assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
    st_batch_set_base_offset(out.data, 0);

    /* Idempotent batch without a sequence. */
    st_put_i64be(out.data + 43, 99);
    fix_crc(out.data, out.len);
    assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
    st_put_i64be(out.data + 43, -1);
    fix_crc(out.data, out.len);

    /* Old message format. */
    out.data[16] = 1;
    assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
    out.data[16] = 2;
    assert_int_equal(validate(&out, false, &arena, &check), 0);

    st_writer_free(&out);
    st_arena_free(&arena);
}

static void test_header_parse_errors(void **state) {
    (void)state;
    st_writer_t out;
    st_writer_init(&out, 0);
    build_sample(ST_CODEC_NONE, &out);
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(out.data, 60, &h), ST_ERR_CORRUPT_MESSAGE);
    assert_int_equal(st_batch_header_parse(out.data, 61, &h), 0);
    out.data[16] = 0;
    assert_int_equal(st_batch_header_parse(out.data, out.len, &h), ST_ERR_UNSUPPORTED_VERSION);
    out.data[16] = 2;
    st_put_i32be(out.data + 8, 48);
    assert_int_equal(st_batch_header_parse(out.data, out.len, &h), ST_ERR_CORRUPT_MESSAGE);
    st_put_i32be(out.data + 8, 49);
    assert_int_equal(st_batch_header_parse(out.data, out.len, &h), 0);
    st_writer_free(&out);
}

static void test_set_base_offset_keeps_crc(void **state) {
    (void)state;
    st_writer_t out;
    st_writer_init(&out, 0);
    build_sample(ST_CODEC_SNAPPY, &out);
    uint32_t crc_before = (uint32_t)st_get_i32be(out.data + ST_BATCH_CRC_OFFSET);
    st_batch_set_base_offset(out.data, 123456789012345);
    st_batch_set_partition_leader_epoch(out.data, 17);
    assert_true(st_batch_crc_valid(out.data, out.len));
    assert_int_equal((uint32_t)st_get_i32be(out.data + ST_BATCH_CRC_OFFSET), crc_before);
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(out.data, out.len, &h), 0);
    assert_true(h.base_offset == 123456789012345);
    assert_int_equal(h.partition_leader_epoch, 17);
    assert_true(st_batch_last_offset(&h) == 123456789012345 + 4);
    st_writer_free(&out);
}

static void test_set_log_append_time(void **state) {
    (void)state;
    st_writer_t out;
    st_writer_init(&out, 0);
    build_sample(ST_CODEC_GZIP, &out);
    st_batch_header_t before, after;
    assert_int_equal(st_batch_header_parse(out.data, out.len, &before), 0);
    st_batch_set_log_append_time(out.data, out.len, 1800000000000);
    assert_true(st_batch_crc_valid(out.data, out.len));
    assert_int_equal(st_batch_header_parse(out.data, out.len, &after), 0);
    assert_true(after.max_timestamp == 1800000000000);
    assert_true(after.base_timestamp == before.base_timestamp);
    assert_int_equal(after.attributes, before.attributes | ST_BATCH_ATTR_LOG_APPEND_TIME);
    assert_int_equal(after.attributes & ST_BATCH_ATTR_CODEC_MASK, ST_CODEC_GZIP);
    assert_int_not_equal(after.crc, before.crc);
    st_arena_t arena;
    st_arena_init(&arena);
    st_batch_check_t check;
    assert_int_equal(validate(&out, false, &arena, &check), 0);
    st_arena_free(&arena);
    st_writer_free(&out);
}

/* One record, key "k", value "v", timestamp 1000, no producer: every
 * byte checked, including a CRC computed by an independent bitwise
 * implementation. */
static void test_known_batch_layout(void **state) {
    (void)state;
    static const uint8_t expected[70] = {
        0, 0, 0, 0, 0, 0, 0, 0,                          /* baseOffset 0 */
        0, 0, 0, 58,                                     /* batchLength */
        0xff, 0xff, 0xff, 0xff,                          /* partitionLeaderEpoch -1 */
        2,                                               /* magic */
        0x71, 0x6a, 0x61, 0x89,                          /* crc */
        0, 0,                                            /* attributes */
        0, 0, 0, 0,                                      /* lastOffsetDelta */
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,                    /* baseTimestamp 1000 */
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,                    /* maxTimestamp 1000 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  /* producerId -1 */
        0xff, 0xff,                                      /* producerEpoch -1 */
        0xff, 0xff, 0xff, 0xff,                          /* baseSequence -1 */
        0, 0, 0, 1,                                      /* records count */
        0x10,                                            /* record length 8 */
        0,                                               /* attributes */
        0,                                               /* timestampDelta 0 */
        0,                                               /* offsetDelta 0 */
        0x02, 'k',                                       /* key length 1, key */
        0x02, 'v',                                       /* value length 1, value */
        0,                                               /* header count */
    };
    st_writer_t out;
    st_writer_init(&out, 0);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    st_batch_builder_add(&b, 0, 1000, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL, 0);
    assert_int_equal(st_batch_builder_finish(&b, &out), 0);
    st_batch_builder_free(&b);
    assert_int_equal(out.len, sizeof expected);
    assert_memory_equal(out.data, expected, sizeof expected);

    /* And the hand-written bytes parse back. */
    st_arena_t arena;
    st_arena_init(&arena);
    st_record_iter_t it;
    st_record_t rec;
    assert_int_equal(st_record_iter_init(&it, expected, sizeof expected, 1024, &arena), 0);
    assert_int_equal(st_record_iter_next(&it, &rec), 1);
    check_bytes(rec.key, rec.key_len, "k");
    check_bytes(rec.value, rec.value_len, "v");
    assert_int_equal(st_record_iter_next(&it, &rec), 0);
    st_arena_free(&arena);
    st_writer_free(&out);
}

/* Damaged record bytes (CRC fixed up) are reported, not read past. */
static void test_iter_malformed_records(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_writer_t out;
    st_writer_init(&out, 0);
    build_three(ST_CODEC_NONE, &out);
    size_t first_record = ST_BATCH_HEADER_BYTES;
    st_record_iter_t it;
    st_record_t rec;
    st_batch_check_t check;

    /* Record length longer than what remains. */
    uint8_t saved = out.data[first_record];
    out.data[first_record] = 0x7e; /* 63 */
    fix_crc(out.data, out.len);
    assert_int_equal(st_record_iter_init(&it, out.data, out.len, 1024, &arena), 0);
    assert_int_equal(st_record_iter_next(&it, &rec), ST_ERR_CORRUPT_MESSAGE);
    assert_int_equal(st_record_iter_next(&it, &rec), ST_ERR_CORRUPT_MESSAGE); /* sticky */
    assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);

    /* Record length shorter than its fields. */
    out.data[first_record] = (uint8_t)(saved - 2);
    fix_crc(out.data, out.len);
    assert_int_equal(st_record_iter_init(&it, out.data, out.len, 1024, &arena), 0);
    assert_int_equal(st_record_iter_next(&it, &rec), ST_ERR_CORRUPT_MESSAGE);
    assert_int_equal(validate(&out, false, &arena, &check), ST_ERR_INVALID_RECORD);
    out.data[first_record] = saved;

    /* Key length below -1. */
    size_t key_len_at = first_record + 4;
    uint8_t saved_key = out.data[key_len_at];
    out.data[key_len_at] = 0x03; /* -2 */
    fix_crc(out.data, out.len);
    assert_int_equal(st_record_iter_init(&it, out.data, out.len, 1024, &arena), 0);
    assert_int_equal(st_record_iter_next(&it, &rec), ST_ERR_CORRUPT_MESSAGE);
    out.data[key_len_at] = saved_key;
    fix_crc(out.data, out.len);

    /* Iteration with a short buffer stops at the header check. */
    assert_int_equal(st_record_iter_init(&it, out.data, out.len - 1, 1024, &arena), ST_ERR_CORRUPT_MESSAGE);
    assert_int_equal(st_record_iter_init(&it, out.data, 10, 1024, &arena), ST_ERR_CORRUPT_MESSAGE);

    /* Intact again. */
    assert_int_equal(st_record_iter_init(&it, out.data, out.len, 1024, &arena), 0);
    for (int i = 0; i < 3; i++) assert_int_equal(st_record_iter_next(&it, &rec), 1);
    assert_int_equal(st_record_iter_next(&it, &rec), 0);
    st_writer_free(&out);
    st_arena_free(&arena);
}

/* Offsets kept by compaction: deltas with gaps, timestamps out of order. */
static void test_builder_gaps_and_timestamps(void **state) {
    (void)state;
    st_writer_t out;
    st_writer_init(&out, 0);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 1000);
    st_batch_builder_add(&b, 3, 500, (const uint8_t *)"a", 1, NULL, -1, NULL, 0);
    st_batch_builder_add(&b, 9, 400, (const uint8_t *)"b", 1, NULL, -1, NULL, 0);
    st_batch_builder_add(&b, 12, 700, (const uint8_t *)"c", 1, NULL, -1, NULL, 0);
    assert_int_equal(st_batch_builder_finish(&b, &out), 0);
    st_batch_builder_free(&b);
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(out.data, out.len, &h), 0);
    assert_true(h.base_offset == 1000);
    assert_int_equal(h.last_offset_delta, 12);
    assert_int_equal(h.record_count, 3);
    assert_true(h.base_timestamp == 500);
    assert_true(h.max_timestamp == 700);
    st_arena_t arena;
    st_arena_init(&arena);
    st_record_iter_t it;
    st_record_t rec;
    assert_int_equal(st_record_iter_init(&it, out.data, out.len, 1024, &arena), 0);
    assert_int_equal(st_record_iter_next(&it, &rec), 1);
    assert_int_equal(rec.offset_delta, 3);
    assert_int_equal(st_record_iter_next(&it, &rec), 1);
    assert_int_equal(rec.offset_delta, 9);
    assert_true(rec.timestamp_delta == -100);
    assert_int_equal(rec.value_len, -1);
    assert_null(rec.value);
    st_arena_free(&arena);
    st_writer_free(&out);
}

/* ---- validation in steps ------------------------------------------------ */

/* Steps of any size give st_batch_validate's verdict. */
static void validate_in_steps_agrees(const uint8_t *batch, size_t len, const st_batch_limits_t *limits,
                                     bool require_keys) {
    static const size_t budgets[] = {1, 13, 4096, 1 << 20};
    st_arena_t arena;
    st_arena_init(&arena);
    st_batch_check_t whole;
    int want = st_batch_validate(batch, len, limits, require_keys, &arena, &whole);
    for (size_t k = 0; k < COUNT(budgets); k++) {
        st_batch_validation_t v;
        st_batch_validation_begin(&v, batch, len, limits, require_keys, &arena);
        int steps = 0;
        while (!st_batch_validation_step(&v, budgets[k])) steps++;
        st_batch_check_t check;
        assert_int_equal(st_batch_validation_end(&v, &check), want);
        assert_ptr_equal(check.error_message, whole.error_message);
        assert_int_equal(check.record_error_count, whole.record_error_count);
        for (int32_t i = 0; i < check.record_error_count; i++) {
            assert_int_equal(check.record_errors[i].batch_index, whole.record_errors[i].batch_index);
            assert_ptr_equal(check.record_errors[i].message, whole.record_errors[i].message);
        }
        if (budgets[k] == 1 && len > 200) assert_true(steps > 10);
    }
    st_arena_free(&arena);
}

static void test_validation_steps_agree(void **state) {
    (void)state;
    for (size_t c = 0; c < COUNT(all_codecs); c++) {
        st_writer_t out;
        st_writer_init(&out, 0);
        build_sample(all_codecs[c], &out);
        validate_in_steps_agrees(out.data, out.len, &default_limits, false);
        validate_in_steps_agrees(out.data, out.len, &default_limits, true); /* a null key: per-record error */
        st_batch_limits_t ts = default_limits;
        ts.check_timestamps = true;
        ts.timestamp_min = 1700000000015;
        ts.timestamp_max = INT64_MAX;
        validate_in_steps_agrees(out.data, out.len, &ts, false);
        st_batch_limits_t tight = default_limits;
        tight.decompressed_bytes_max = 40;
        validate_in_steps_agrees(out.data, out.len, &tight, false);
        validate_in_steps_agrees(out.data, out.len - 3, &default_limits, false); /* framing */
        out.data[out.len - 2] ^= 0x11;
        validate_in_steps_agrees(out.data, out.len, &default_limits, false); /* CRC */
        fix_crc(out.data, out.len);
        validate_in_steps_agrees(out.data, out.len, &default_limits, false); /* damaged records */
        st_writer_free(&out);
    }
}

/* A batch of `count` records whose (uncompressed) records section is `raw`,
 * compressed with `codec` (snappy in xerial blocks of 64 KiB, as the Java
 * producer frames it). */
static void batch_with_records(st_codec_t codec, const uint8_t *raw, size_t raw_len, int32_t count,
                               st_writer_t *out) {
    st_writer_t tmpl;
    st_writer_init(&tmpl, 0);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    st_batch_builder_add(&b, 0, 1000, NULL, -1, (const uint8_t *)"v", 1, NULL, 0);
    assert_int_equal(st_batch_builder_finish(&b, &tmpl), 0);
    st_batch_builder_free(&b);
    st_write_raw(out, tmpl.data, ST_BATCH_HEADER_BYTES);
    st_writer_free(&tmpl);
    if (codec == ST_CODEC_SNAPPY) {
        static const uint8_t magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
        st_write_raw(out, magic, sizeof magic);
        st_write_i32(out, 1);
        st_write_i32(out, 1);
        for (size_t pos = 0; pos < raw_len; pos += 65536) {
            size_t n = raw_len - pos < 65536 ? raw_len - pos : 65536;
            st_writer_t blk;
            st_writer_init(&blk, 0);
            assert_int_equal(st_compress(ST_CODEC_SNAPPY, raw + pos, n, &blk), 0);
            st_write_i32(out, (int32_t)blk.len);
            st_write_raw(out, blk.data, blk.len);
            st_writer_free(&blk);
        }
    } else {
        assert_int_equal(st_compress(codec, raw, raw_len, out), 0);
    }
    st_put_i32be(out->data + 8, (int32_t)(out->len - ST_BATCH_LOG_OVERHEAD));
    st_put_i16be(out->data + ST_BATCH_ATTRIBUTES_OFFSET, (int16_t)codec);
    st_put_i32be(out->data + 23, count - 1); /* lastOffsetDelta */
    st_put_i32be(out->data + 57, count);     /* records count */
    fix_crc(out->data, out->len);
}

/* One record with no key and a value of `value_len` zero bytes. */
static size_t zero_value_record(uint8_t *p, int32_t value_len) {
    st_writer_t w;
    st_writer_init(&w, 0);
    int32_t body = 1 + 1 + 1 + 1 + (int32_t)st_varint_size(value_len) + value_len + 1;
    st_write_varint(&w, body);
    st_write_i8(&w, 0);       /* attributes */
    st_write_varint(&w, 0);   /* timestampDelta */
    st_write_varint(&w, 0);   /* offsetDelta */
    st_write_varint(&w, -1);  /* null key */
    st_write_varint(&w, value_len);
    size_t head = w.len;
    memcpy(p, w.data, head);
    memset(p + head, 0, (size_t)value_len);
    p[head + (size_t)value_len] = 0; /* header count */
    st_writer_free(&w);
    return head + (size_t)value_len + 1;
}

/* Bombs for every codec: the verdict comes after little work when the
 * records go wrong early, and a step never does much more than asked even
 * when a valid-looking record inflates to the limit. */
static void test_validation_bomb_work_bounded(void **state) {
    (void)state;
    const size_t limit = 8u * 1024 * 1024;
    const size_t raw_len = 32u * 1024 * 1024;
    uint8_t *raw = calloc(1, raw_len);
    assert_non_null(raw);
    st_batch_limits_t limits = {.decompressed_bytes_max = limit, .records_max = INT32_MAX};
    static const st_codec_t codecs[] = {ST_CODEC_GZIP, ST_CODEC_SNAPPY, ST_CODEC_LZ4, ST_CODEC_ZSTD};
    for (size_t c = 0; c < COUNT(codecs); c++) {
        st_arena_t arena;
        st_arena_init(&arena);
        st_writer_t out;
        st_batch_validation_t v;
        st_batch_check_t check;

        /* 1. One small record, then zeros: "more records" after one refill. */
        size_t first = zero_value_record(raw, 10);
        memset(raw + first, 0, 64);
        st_writer_init(&out, 0);
        batch_with_records(codecs[c], raw, raw_len, 1, &out);
        st_batch_validation_begin(&v, out.data, out.len, &limits, false, &arena);
        while (!st_batch_validation_step(&v, 64 * 1024)) {
        }
        assert_true(v.decompressor.produced <= 512 * 1024);
        assert_int_equal(st_batch_validation_end(&v, &check), ST_ERR_INVALID_RECORD);
        assert_string_equal(check.error_message, "more records than the batch declares");
        st_writer_free(&out);

        /* 2. Zeros from the first byte: a record length of 0 is malformed. */
        memset(raw, 0, first);
        st_writer_init(&out, 0);
        batch_with_records(codecs[c], raw, raw_len, 1, &out);
        assert_int_equal(st_batch_validate(out.data, out.len, &limits, false, &arena, &check), ST_ERR_INVALID_RECORD);
        st_writer_free(&out);

        /* 3. A record declaring more than the limit: refused unread. */
        zero_value_record(raw, (int32_t)limit);
        st_writer_init(&out, 0);
        batch_with_records(codecs[c], raw, limit + 1024, 1, &out);
        st_batch_validation_begin(&v, out.data, out.len, &limits, false, &arena);
        while (!st_batch_validation_step(&v, 64 * 1024)) {
        }
        assert_true(v.decompressor.produced <= 512 * 1024);
        assert_int_equal(st_batch_validation_end(&v, &check), ST_ERR_MESSAGE_TOO_LARGE);
        st_writer_free(&out);

        /* 4. A valid record just under the limit, then zeros: the whole
         * limit must be inflated, and each step does about its budget. */
        memset(raw, 0, raw_len);
        zero_value_record(raw, (int32_t)(limit - 100));
        st_writer_init(&out, 0);
        batch_with_records(codecs[c], raw, raw_len, 1, &out);
        st_batch_validation_begin(&v, out.data, out.len, &limits, false, &arena);
        const size_t budget = 256 * 1024;
        size_t before = 0;
        int steps = 0;
        bool done = false;
        while (!done) {
            done = st_batch_validation_step(&v, budget);
            size_t step_bytes = v.decompressor.produced - before;
            before = v.decompressor.produced;
            /* Snappy decodes a whole 64 KiB block at a time. */
            assert_true(step_bytes <= budget + 128 * 1024);
            steps++;
        }
        assert_true(steps >= (int)(limit / budget) / 2);
        assert_int_equal(st_batch_validation_end(&v, &check), ST_ERR_INVALID_RECORD);
        assert_string_equal(check.error_message, "more records than the batch declares");
        st_writer_free(&out);

        /* 5. The same record alone is a valid batch. */
        size_t one = zero_value_record(raw, (int32_t)(limit - 100));
        st_writer_init(&out, 0);
        batch_with_records(codecs[c], raw, one, 1, &out);
        assert_int_equal(st_batch_validate(out.data, out.len, &limits, false, &arena, &check), 0);
        st_writer_free(&out);
        st_arena_free(&arena);
    }
    free(raw);
}

/* Appends one record with explicit fields; body_delta adds to the declared
 * body length (a lie), the others as written. */
static void raw_record(st_writer_t *w, int32_t offset_delta, int32_t key_len, size_t key_bytes, int32_t value_len,
                       size_t value_bytes, const int32_t *header_lens, int32_t header_count_field,
                       int32_t header_pairs, int32_t body_delta) {
    st_writer_t body;
    st_writer_init(&body, 0);
    st_write_i8(&body, 0);
    st_write_varint(&body, 0); /* timestampDelta (a varlong, same bytes for 0) */
    st_write_varint(&body, offset_delta);
    st_write_varint(&body, key_len);
    for (size_t i = 0; i < key_bytes; i++) st_write_i8(&body, 'k');
    st_write_varint(&body, value_len);
    for (size_t i = 0; i < value_bytes; i++) st_write_i8(&body, 'v');
    st_write_varint(&body, header_count_field);
    for (int32_t hd = 0; hd < header_pairs; hd++) {
        st_write_varint(&body, header_lens[2 * hd]);
        for (int32_t i = 0; i < header_lens[2 * hd]; i++) st_write_i8(&body, 'h');
        st_write_varint(&body, header_lens[2 * hd + 1]);
        for (int32_t i = 0; i < header_lens[2 * hd + 1]; i++) st_write_i8(&body, 'x');
    }
    st_write_varint(w, (int32_t)body.len + body_delta);
    st_write_raw(w, body.data, body.len);
    st_writer_free(&body);
}

/* Records larger than the validation window are parsed field by field as
 * they stream; every verdict must be the one the same records get when
 * parsed whole (uncompressed, the payload is the window). */
static void test_big_records_same_verdict(void **state) {
    (void)state;
    const size_t big = 400 * 1024; /* beyond the 256 KiB window */
    const int32_t two_headers[] = {2, 3, 2, -1};
    const int32_t null_header_key[] = {-1, 3};
    st_batch_limits_t limits = {.decompressed_bytes_max = 8u * 1024 * 1024, .records_max = 1000};
    for (int variant = 0; variant < 12; variant++) {
        st_writer_t raw;
        st_writer_init(&raw, 0);
        int32_t count = 1;
        bool keys = false;
        switch (variant) {
        case 0: raw_record(&raw, 0, -1, 0, (int32_t)big, big, two_headers, 2, 2, 0); break;
        case 1: raw_record(&raw, 0, -1, 0, (int32_t)big, big, null_header_key, 1, 1, 0); break;
        case 2: raw_record(&raw, 0, -1, 0, (int32_t)big, big, NULL, 1000000, 0, 0); break;
        case 3: raw_record(&raw, 0, -1, 0, (int32_t)big, big, NULL, 0, 0, 3); st_write_raw(&raw, "abc", 3); break;
        case 4: raw_record(&raw, 0, -1, 0, (int32_t)big, big, two_headers, 2, 2, -4); break;
        case 5: raw_record(&raw, 0, -1, 0, -2, big, NULL, 0, 0, 0); break;
        case 6: raw_record(&raw, 0, (int32_t)big, big, 1, 1, NULL, 0, 0, 0); break;
        case 7: raw_record(&raw, 1, 1, 1, (int32_t)big, big, NULL, 0, 0, 0); break;
        case 8: raw_record(&raw, 0, -1, 0, (int32_t)big, big, NULL, 0, 0, 0); keys = true; break;
        case 9: /* small, big, small */
            raw_record(&raw, 0, 1, 1, 5, 5, NULL, 0, 0, 0);
            raw_record(&raw, 1, 1, 1, (int32_t)big, big, two_headers, 2, 2, 0);
            raw_record(&raw, 2, 1, 1, 5, 5, NULL, 0, 0, 0);
            count = 3;
            break;
        case 10: raw_record(&raw, 0, -1, 0, (int32_t)(big * 2), big, NULL, 0, 0, 0); break; /* value runs past */
        case 11: /* the big record is cut off by the end of the records */
            raw_record(&raw, 0, -1, 0, (int32_t)big, big, NULL, 0, 0, 0);
            raw.len -= 1000;
            break;
        }
        st_writer_t plain, packed;
        st_writer_init(&plain, 0);
        st_writer_init(&packed, 0);
        batch_with_records(ST_CODEC_NONE, raw.data, raw.len, count, &plain);
        st_arena_t arena;
        st_arena_init(&arena);
        st_batch_check_t want;
        st_batch_validate(plain.data, plain.len, &limits, keys, &arena, &want);
        for (size_t c = 1; c < COUNT(all_codecs); c++) {
            st_writer_reset(&packed);
            batch_with_records(all_codecs[c], raw.data, raw.len, count, &packed);
            st_batch_check_t got;
            st_batch_validate(packed.data, packed.len, &limits, keys, &arena, &got);
            if (got.error != want.error || got.record_error_count != want.record_error_count)
                fail_msg("variant %d codec %d: %d (%s) where whole records give %d (%s)", variant,
                         (int)all_codecs[c], got.error, got.error_message ? got.error_message : "",
                         want.error, want.error_message ? want.error_message : "");
            validate_in_steps_agrees(packed.data, packed.len, &limits, keys);
        }
        if (variant == 0 || variant == 6 || variant == 9) assert_int_equal(want.error, 0);
        else assert_true(want.error != 0);
        st_arena_free(&arena);
        st_writer_free(&plain);
        st_writer_free(&packed);
        st_writer_free(&raw);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_codec),
        cmocka_unit_test(test_large_batch_every_codec),
        cmocka_unit_test(test_crc_flip_detected),
        cmocka_unit_test(test_validate_bad_offset_delta),
        cmocka_unit_test(test_validate_count_mismatch),
        cmocka_unit_test(test_validate_control_batch),
        cmocka_unit_test(test_validate_null_key_on_compacted),
        cmocka_unit_test(test_validate_record_timestamps),
        cmocka_unit_test(test_validate_corrupt_compressed_payload),
        cmocka_unit_test(test_validate_unknown_codec),
        cmocka_unit_test(test_validate_framing),
        cmocka_unit_test(test_header_parse_errors),
        cmocka_unit_test(test_set_base_offset_keeps_crc),
        cmocka_unit_test(test_set_log_append_time),
        cmocka_unit_test(test_known_batch_layout),
        cmocka_unit_test(test_iter_malformed_records),
        cmocka_unit_test(test_builder_gaps_and_timestamps),
        cmocka_unit_test(test_validation_steps_agree),
        cmocka_unit_test(test_validation_bomb_work_bounded),
        cmocka_unit_test(test_big_records_same_verdict),
        cmocka_unit_test(test_txn_marker_build_and_parse),
        cmocka_unit_test(test_txn_marker_parse_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
