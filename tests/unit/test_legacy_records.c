/*
 * Message format v0/v1: up-conversion of sets written by kafka-python (an
 * independent encoder) and of hand-built sets for every codec Kafka allowed
 * in v0/v1 (gzip, snappy in the xerial framing, lz4 with the v0 header
 * checksum bug), every framing, wrapper and record rule with its Kafka error
 * code, and down-conversion of v2 batches: byte-exact against kafka-python
 * for uncompressed sets, offsets, timestamps, attributes and codec framing
 * for wrappers, the fetch offset, control and partial batches, zstd, the
 * output limit, and v2 -> v0/v1 -> v2 round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "protocol/compression.h"
#include "common/errors.h"
#include "protocol/legacy_records.h"
#include "protocol/record_batch.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TS INT64_C(1700000000000)

static const st_batch_limits_t limits = {.decompressed_bytes_max = 8u * 1024 * 1024, .records_max = 100000};

/* kafka-python 2.0.2: LegacyRecordBatchBuilder(magic=0, none) */
static const uint8_t kp_v0_none[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15, 0x9e, 0x2d, 0x3c, 0x4e,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x30, 0x00, 0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c,
    0x6f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0e, 0x79, 0x57, 0x48,
    0xe0, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x11, 0x0d, 0x10, 0x92, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x6b, 0x00, 0x32, 0xff, 0xff, 0xff, 0xff,
};
/* kafka-python 2.0.2: LegacyRecordBatchBuilder(magic=0, gzip) */
static const uint8_t kp_v0_gzip[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x57, 0xc6, 0x2f, 0xcd, 0x80,
    0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x49, 0x1f, 0x8b, 0x08, 0x00, 0x48, 0x1e,
    0x12, 0x6b, 0x02, 0xff, 0x63, 0x60, 0x80, 0x03, 0xd1, 0x79, 0xba, 0x36, 0x7e, 0x60, 0x16, 0x53,
    0xb6, 0x01, 0x90, 0x64, 0xcd, 0x48, 0xcd, 0xc9, 0xc9, 0x87, 0x4a, 0x32, 0x02, 0x31, 0x5f, 0x65,
    0xb8, 0xc7, 0x03, 0x06, 0x86, 0xff, 0x40, 0x80, 0xd0, 0xc5, 0xc0, 0x04, 0xc4, 0x82, 0xbc, 0x02,
    0x93, 0xaa, 0xc1, 0x3c, 0xe6, 0x6c, 0x06, 0x23, 0x90, 0x02, 0x00, 0x4e, 0xc5, 0xb2, 0x86, 0x58,
    0x00, 0x00, 0x00,
};
/* kafka-python 2.0.2: LegacyRecordBatchBuilder(magic=0, snappy) */
static const uint8_t kp_v0_snappy[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6b, 0x78, 0xb1, 0xd2, 0x7b,
    0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x5d, 0x82, 0x53, 0x4e, 0x41, 0x50, 0x50,
    0x59, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x49, 0x58, 0x00,
    0x00, 0x19, 0x01, 0x10, 0x15, 0x9e, 0x2d, 0x3c, 0x4e, 0x05, 0x0f, 0x2c, 0x02, 0x6b, 0x30, 0x00,
    0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x05, 0x11, 0x40, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x0e, 0x79, 0x57, 0x48, 0xe0, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0d, 0x16, 0x01, 0x01,
    0x54, 0x02, 0x00, 0x00, 0x00, 0x11, 0x0d, 0x10, 0x92, 0x7b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
    0x6b, 0x00, 0x32, 0xff, 0xff, 0xff, 0xff,
};
/* kafka-python 2.0.2: LegacyRecordBatchBuilder(magic=0, lz4) */
static const uint8_t kp_v0_lz4[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x65, 0xfe, 0x30, 0xe3, 0x42,
    0x00, 0x03, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x57, 0x04, 0x22, 0x4d, 0x18, 0x60, 0x40,
    0x1a, 0x48, 0x00, 0x00, 0x00, 0x16, 0x00, 0x01, 0x00, 0x51, 0x15, 0x9e, 0x2d, 0x3c, 0x4e, 0x0f,
    0x00, 0xc1, 0x02, 0x6b, 0x30, 0x00, 0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x11, 0x00,
    0xf0, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0e, 0x79, 0x57, 0x48, 0xe0, 0x00, 0x00, 0xff,
    0xff, 0xff, 0xff, 0x13, 0x00, 0x03, 0x02, 0x00, 0x91, 0x02, 0x00, 0x00, 0x00, 0x11, 0x0d, 0x10,
    0x92, 0x7b, 0x10, 0x00, 0x80, 0x03, 0x6b, 0x00, 0x32, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
    0x00,
};
/* kafka-python 2.0.2: LegacyRecordBatchBuilder(magic=1, none) */
static const uint8_t kp_v1_none[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x71, 0xf6, 0xfe, 0xa8,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x30,
    0x00, 0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x16, 0x69, 0x21, 0x3a, 0xbb, 0x01, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf,
    0xe5, 0x68, 0x01, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x19, 0xbe, 0x08, 0x4e, 0xb7, 0x01, 0x00, 0x00, 0x00, 0x01,
    0x8b, 0xcf, 0xe5, 0x68, 0x02, 0x00, 0x00, 0x00, 0x03, 0x6b, 0x00, 0x32, 0xff, 0xff, 0xff, 0xff,
};
/* kafka-python 2.0.2: LegacyRecordBatchBuilder(magic=1, gzip) */
static const uint8_t kp_v1_gzip[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6a, 0x1a, 0x05, 0x8c, 0x29,
    0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x54, 0x1f, 0x8b, 0x08, 0x00, 0x48, 0x1e, 0x12, 0x6b, 0x02, 0xff, 0x63, 0x60, 0x80, 0x03,
    0xd9, 0xc2, 0x6f, 0xff, 0x56, 0x30, 0x02, 0x19, 0x8c, 0xdd, 0xe7, 0x9f, 0x66, 0x80, 0x44, 0x98,
    0xb2, 0x0d, 0x80, 0x24, 0x6b, 0x46, 0x6a, 0x4e, 0x4e, 0x3e, 0x54, 0x11, 0x48, 0x5e, 0x2c, 0x53,
    0xd1, 0x6a, 0x37, 0x5c, 0x21, 0xe3, 0x7f, 0x20, 0x40, 0x98, 0xc2, 0xc0, 0x04, 0xc4, 0x92, 0xfb,
    0x38, 0xfc, 0xb6, 0xc3, 0x55, 0x80, 0x44, 0x98, 0xb3, 0x19, 0x8c, 0x40, 0x0a, 0x01, 0xc6, 0x26,
    0xe4, 0xdb, 0x70, 0x00, 0x00, 0x00,
};
/* kafka-python 2.0.2: LegacyRecordBatchBuilder(magic=1, snappy) */
static const uint8_t kp_v1_snappy[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x82, 0x54, 0xae, 0x89, 0x03,
    0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x6c, 0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x58, 0x70, 0x00, 0x00, 0x19, 0x01, 0x34, 0x1d, 0x71, 0xf6, 0xfe,
    0xa8, 0x01, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x01, 0x18, 0x2c, 0x02, 0x6b, 0x30,
    0x00, 0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x01, 0x10, 0x08, 0x00, 0x00, 0x00, 0x01,
    0x20, 0x10, 0x16, 0x69, 0x21, 0x3a, 0xbb, 0x01, 0x09, 0x05, 0x29, 0x10, 0x01, 0xff, 0xff, 0xff,
    0xff, 0x01, 0x1b, 0x0d, 0x01, 0x20, 0x02, 0x00, 0x00, 0x00, 0x19, 0xbe, 0x08, 0x4e, 0xb7, 0x15,
    0x22, 0x2c, 0x02, 0x00, 0x00, 0x00, 0x03, 0x6b, 0x00, 0x32, 0xff, 0xff, 0xff, 0xff,
};
/* kafka-python 2.0.2: LegacyRecordBatchBuilder(magic=1, lz4) */
static const uint8_t kp_v1_lz4[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x82, 0xa4, 0x30, 0xce, 0x97,
    0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x6c, 0x04, 0x22, 0x4d, 0x18, 0x68, 0x40, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xd6, 0x55, 0x00, 0x00, 0x00, 0x16, 0x00, 0x01, 0x00, 0xe0, 0x1d, 0x71, 0xf6, 0xfe, 0xa8, 0x01,
    0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x18, 0x00, 0xc0, 0x02, 0x6b, 0x30, 0x00, 0x00,
    0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x10, 0x00, 0x00, 0x1c, 0x00, 0x85, 0x00, 0x00, 0x00,
    0x16, 0x69, 0x21, 0x3a, 0xbb, 0x29, 0x00, 0x51, 0x01, 0xff, 0xff, 0xff, 0xff, 0x1c, 0x00, 0x02,
    0x02, 0x00, 0x95, 0x02, 0x00, 0x00, 0x00, 0x19, 0xbe, 0x08, 0x4e, 0xb7, 0x22, 0x00, 0x00, 0x12,
    0x00, 0x80, 0x03, 0x6b, 0x00, 0x32, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
};

/* What kafka-python was given for every fixture: offsets 0..2, timestamps
 * TS+i (v1 only). */
typedef struct expect_record {
    const char *key;   /* NULL: null */
    int32_t key_len;
    const char *value; /* NULL: null */
    int32_t value_len;
} expect_record_t;

static const expect_record_t kp_records[] = {
    {"k0", 2, "hello", 5},
    {NULL, -1, "", 0},
    {"k\0" "2", 3, NULL, -1},
};

/* ---- a test-side writer and reader of v0/v1 messages, from the layout ---- */

/* Appends one message: offset, size, CRC-32 over magic.., magic, attributes,
 * timestamp (v1), key, value. */
static void put_message(st_writer_t *w, int64_t offset, int8_t magic, int8_t attributes, int64_t ts,
                        const void *key, int32_t key_len, const void *value, int32_t value_len) {
    uint8_t head[12 + 4 + 2 + 8];
    size_t head_len = magic ? sizeof head : sizeof head - 8;
    int32_t size = (int32_t)(head_len - 12 + 8 + (key_len > 0 ? key_len : 0) + (value_len > 0 ? value_len : 0));
    st_put_i64be(head, offset);
    st_put_i32be(head + 8, size);
    head[16] = (uint8_t)magic;
    head[17] = (uint8_t)attributes;
    if (magic) st_put_i64be(head + 18, ts);
    size_t start = w->len;
    st_write_raw(w, head, head_len);
    st_write_i32(w, key_len);
    if (key_len > 0) st_write_raw(w, key, (size_t)key_len);
    st_write_i32(w, value_len);
    if (value_len > 0) st_write_raw(w, value, (size_t)value_len);
    uint32_t crc = (uint32_t)crc32(0, w->data + start + 16, (uInt)(w->len - start - 16));
    st_put_i32be(w->data + start + 12, (int32_t)crc);
}

static void put_text(st_writer_t *w, int64_t offset, int8_t magic, int8_t attributes, int64_t ts, const char *key,
                     const char *value) {
    put_message(w, offset, magic, attributes, ts, key, key ? (int32_t)strlen(key) : -1, value,
                value ? (int32_t)strlen(value) : -1);
}

typedef struct parsed_message {
    int64_t offset;
    int8_t magic;
    int8_t attributes;
    int64_t timestamp;
    const uint8_t *key;
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
} parsed_message_t;

/* Parses a whole set the converter wrote; every entry must be well formed
 * and its CRC right. Returns the count. */
static int parse_set(const uint8_t *p, size_t len, parsed_message_t *out, int max) {
    int n = 0;
    size_t pos = 0;
    while (pos < len) {
        assert_true(len - pos >= 12 + 14);
        assert_true(n < max);
        parsed_message_t *m = &out[n++];
        m->offset = st_get_i64be(p + pos);
        int32_t size = st_get_i32be(p + pos + 8);
        assert_true(size >= 14 && (size_t)size <= len - pos - 12);
        const uint8_t *body = p + pos + 12;
        assert_int_equal((uint32_t)st_get_i32be(body), (uint32_t)crc32(0, body + 4, (uInt)(size - 4)));
        m->magic = (int8_t)body[4];
        m->attributes = (int8_t)body[5];
        size_t at = 6;
        m->timestamp = -1;
        if (m->magic == 1) {
            m->timestamp = st_get_i64be(body + at);
            at += 8;
        }
        m->key_len = st_get_i32be(body + at);
        at += 4;
        m->key = body + at;
        at += m->key_len > 0 ? (size_t)m->key_len : 0;
        m->value_len = st_get_i32be(body + at);
        at += 4;
        m->value = body + at;
        at += m->value_len > 0 ? (size_t)m->value_len : 0;
        assert_int_equal(at, (size_t)size);
        pos += 12 + (size_t)size;
    }
    return n;
}

static void check_field(const uint8_t *p, int32_t len, const char *want, int32_t want_len) {
    assert_int_equal(len, want_len);
    if (want_len > 0) assert_memory_equal(p, want, (size_t)want_len);
}

/* Records of a v2 batch. */
static int batch_records(const uint8_t *batch, size_t len, st_record_t *out, int max, st_arena_t *arena) {
    st_record_iter_t it;
    assert_int_equal(st_record_iter_init(&it, batch, len, limits.decompressed_bytes_max, arena), 0);
    int n = 0;
    int rc;
    while ((rc = st_record_iter_next(&it, &out[n])) == 1) {
        n++;
        assert_true(n <= max);
    }
    assert_int_equal(rc, 0);
    return n;
}

static int64_t batch_timestamp(const uint8_t *batch, const st_record_t *rec) {
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(batch, ST_BATCH_HEADER_BYTES, &h), 0);
    return h.base_timestamp + rec->timestamp_delta;
}

/* Up-converts and expects success: one valid v2 batch in `out`. */
static void up_ok(const uint8_t *set, size_t len, st_arena_t *arena, st_writer_t *out) {
    st_batch_check_t check;
    int rc = st_legacy_up_convert(set, len, &limits, INT32_MAX, false, arena, out, &check);
    if (rc != 0) fail_msg("up-convert: %s (%s)", st_err_name(rc), check.error_message);
    st_batch_check_t again;
    assert_int_equal(st_batch_validate(out->data, out->len, &limits, false, arena, &again), 0);
}

/* Up-converts and expects `error`, with `out` untouched. */
static const st_batch_check_t *up_fails(const uint8_t *set, size_t len, const st_batch_limits_t *l,
                                        int32_t message_bytes_max, bool require_keys, int error, st_arena_t *arena) {
    st_batch_check_t *check = st_arena_alloc(arena, sizeof *check);
    st_writer_t out;
    st_writer_init(&out, 0);
    st_write_raw(&out, "xy", 2);
    int rc = st_legacy_up_convert(set, len, l, message_bytes_max, require_keys, arena, &out, check);
    if (rc != error)
        fail_msg("want %s, got %s (%s)", st_err_name(error), st_err_name(rc),
                 check->error_message ? check->error_message : "");
    assert_int_equal(check->error, error);
    assert_non_null(check->error_message);
    assert_int_equal(out.len, 2);
    st_writer_free(&out);
    return check;
}

/* The v2 batch holds kp_records, with their v1 timestamps or none (v0). */
static void check_kp_batch(const uint8_t *batch, size_t len, int8_t magic, st_arena_t *arena) {
    st_record_t recs[4];
    assert_int_equal(batch_records(batch, len, recs, 4, arena), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(recs[i].offset_delta, i);
        assert_int_equal(recs[i].header_count, 0);
        check_field(recs[i].key, recs[i].key_len, kp_records[i].key, kp_records[i].key_len);
        check_field(recs[i].value, recs[i].value_len, kp_records[i].value, kp_records[i].value_len);
        assert_int_equal(batch_timestamp(batch, &recs[i]), magic ? TS + i : -1);
    }
}

/* ---- up-conversion --------------------------------------------------------- */

static void test_kafka_python_sets(void **state) {
    (void)state;
    const struct {
        const uint8_t *set;
        size_t len;
        int8_t magic;
        st_codec_t codec;
    } sets[] = {
        {kp_v0_none, sizeof kp_v0_none, 0, ST_CODEC_NONE},     {kp_v0_gzip, sizeof kp_v0_gzip, 0, ST_CODEC_GZIP},
        {kp_v0_snappy, sizeof kp_v0_snappy, 0, ST_CODEC_SNAPPY}, {kp_v0_lz4, sizeof kp_v0_lz4, 0, ST_CODEC_LZ4},
        {kp_v1_none, sizeof kp_v1_none, 1, ST_CODEC_NONE},     {kp_v1_gzip, sizeof kp_v1_gzip, 1, ST_CODEC_GZIP},
        {kp_v1_snappy, sizeof kp_v1_snappy, 1, ST_CODEC_SNAPPY}, {kp_v1_lz4, sizeof kp_v1_lz4, 1, ST_CODEC_LZ4},
    };
    for (size_t s = 0; s < COUNT(sets); s++) {
        st_arena_t arena;
        st_arena_init(&arena);
        assert_int_equal(st_legacy_first_magic(sets[s].set, sets[s].len), sets[s].magic);
        st_writer_t out;
        st_writer_init(&out, 0);
        up_ok(sets[s].set, sets[s].len, &arena, &out);
        st_batch_header_t h;
        assert_int_equal(st_batch_header_parse(out.data, out.len, &h), 0);
        assert_int_equal(h.attributes & ST_BATCH_ATTR_CODEC_MASK, sets[s].codec);
        assert_int_equal(h.base_offset, 0);
        assert_int_equal(h.producer_id, -1);
        check_kp_batch(out.data, out.len, sets[s].magic, &arena);
        st_writer_free(&out);
        st_arena_free(&arena);
    }
}

/* A wrapper: one message whose value is `inner` compressed; snappy in the
 * xerial framing (32 KiB blocks) as the Java client wrote it. */
static void put_wrapper(st_writer_t *w, int64_t offset, int8_t magic, st_codec_t codec, int8_t extra_attributes,
                        int64_t ts, const st_writer_t *inner) {
    st_writer_t z;
    st_writer_init(&z, 0);
    if (codec == ST_CODEC_SNAPPY) {
        const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
        st_write_raw(&z, header, sizeof header);
        for (size_t at = 0; at < inner->len; at += 32768) {
            size_t n = inner->len - at < 32768 ? inner->len - at : 32768;
            st_writer_t block;
            st_writer_init(&block, 0);
            assert_int_equal(st_compress(ST_CODEC_SNAPPY, inner->data + at, n, &block), 0);
            st_write_i32(&z, (int32_t)block.len);
            st_write_raw(&z, block.data, block.len);
            st_writer_free(&block);
        }
    } else {
        assert_int_equal(st_compress(codec, inner->data, inner->len, &z), 0);
    }
    put_message(w, offset, magic, (int8_t)(codec | extra_attributes), ts, NULL, -1, z.data, (int32_t)z.len);
    st_writer_free(&z);
}

/* Three inner messages, one of them 100 KB (several snappy blocks). */
static void put_inner(st_writer_t *inner, int8_t magic, uint8_t *big, size_t big_len) {
    for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)(i * 31 + (i >> 9));
    put_text(inner, 0, magic, 0, TS, "a", "first");
    put_message(inner, 1, magic, 0, TS + 1, "b", 1, big, (int32_t)big_len);
    put_text(inner, 2, magic, 0, TS + 2, NULL, NULL);
}

static void test_hand_built_wrappers(void **state) {
    (void)state;
    static uint8_t big[100000];
    const st_codec_t codecs[] = {ST_CODEC_GZIP, ST_CODEC_SNAPPY, ST_CODEC_LZ4};
    for (int8_t magic = 0; magic <= 1; magic++) {
        for (size_t c = 0; c < COUNT(codecs); c++) {
            st_arena_t arena;
            st_arena_init(&arena);
            st_writer_t inner, set, out;
            st_writer_init(&inner, 0);
            st_writer_init(&set, 0);
            st_writer_init(&out, 0);
            put_inner(&inner, magic, big, sizeof big);
            /* v1: the wrapper holds the last inner offset (absolute). */
            put_wrapper(&set, magic ? 2 : 0, magic, codecs[c], 0, TS + 2, &inner);
            up_ok(set.data, set.len, &arena, &out);
            st_record_t recs[4];
            assert_int_equal(batch_records(out.data, out.len, recs, 4, &arena), 3);
            check_field(recs[0].value, recs[0].value_len, "first", 5);
            check_field(recs[1].value, recs[1].value_len, (const char *)big, (int32_t)sizeof big);
            assert_int_equal(recs[2].key_len, -1);
            assert_int_equal(recs[2].value_len, -1);
            assert_int_equal(batch_timestamp(out.data, &recs[1]), magic ? TS + 1 : -1);
            st_batch_header_t h;
            assert_int_equal(st_batch_header_parse(out.data, out.len, &h), 0);
            assert_int_equal(h.attributes & ST_BATCH_ATTR_CODEC_MASK, codecs[c]);
            st_writer_free(&inner);
            st_writer_free(&set);
            st_writer_free(&out);
            st_arena_free(&arena);
        }
    }
}

/* LZ4's frame header checksum (byte 6 of a frame without content size):
 * Kafka ignores it in v0 sets, whose 0.8/0.9 writers got it wrong, and
 * checks it in v1. */
static void test_lz4_header_checksum(void **state) {
    (void)state;
    for (int8_t magic = 0; magic <= 1; magic++) {
        st_arena_t arena;
        st_arena_init(&arena);
        st_writer_t inner, set, out;
        st_writer_init(&inner, 0);
        st_writer_init(&set, 0);
        st_writer_init(&out, 0);
        put_text(&inner, 0, magic, 0, TS, "k", "v");
        put_wrapper(&set, 0, magic, ST_CODEC_LZ4, 0, TS, &inner);
        /* The value starts after the wrapper's header and value length. */
        size_t value_at = 12 + (magic ? 22 : 14);
        uint8_t *frame = set.data + value_at;
        assert_memory_equal(frame, "\x04\x22\x4d\x18\x60\x40\x82", 7); /* liblz4 writes the right one */
        frame[6] ^= 0x5a;
        uint32_t crc = (uint32_t)crc32(0, set.data + 16, (uInt)(set.len - 16));
        st_put_i32be(set.data + 12, (int32_t)crc);
        if (magic == 0)
            up_ok(set.data, set.len, &arena, &out);
        else
            up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_CORRUPT_MESSAGE, &arena);
        st_writer_free(&inner);
        st_writer_free(&set);
        st_writer_free(&out);
        st_arena_free(&arena);
    }
}

static void test_uncompressed_sets(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    /* Producers send offsets 0..n-1, or all 0s: neither matters. */
    st_writer_t set, out;
    st_writer_init(&set, 0);
    st_writer_init(&out, 0);
    put_text(&set, 0, 1, 0, TS + 5, "a", "1");
    put_text(&set, 0, 1, 0, -1, "b", "2");
    put_text(&set, 7, 1, 0, TS - 5, "c", "3");
    up_ok(set.data, set.len, &arena, &out);
    st_record_t recs[4];
    assert_int_equal(batch_records(out.data, out.len, recs, 4, &arena), 3);
    assert_int_equal(batch_timestamp(out.data, &recs[0]), TS + 5);
    assert_int_equal(batch_timestamp(out.data, &recs[1]), -1);
    assert_int_equal(batch_timestamp(out.data, &recs[2]), TS - 5);
    check_field(recs[2].key, recs[2].key_len, "c", 1);
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(out.data, out.len, &h), 0);
    assert_int_equal(h.max_timestamp, TS + 5);
    assert_int_equal(h.last_offset_delta, 2);
    st_writer_free(&set);
    st_writer_free(&out);
    st_arena_free(&arena);
}

/* Framing damage in a two-message v1 set, each with Kafka's error. */
static void test_corrupt_framing(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_writer_t good;
    st_writer_init(&good, 0);
    put_text(&good, 0, 1, 0, TS, "key", "value");
    put_text(&good, 1, 1, 0, TS, "key2", "value2");
    size_t first_len = 12 + (size_t)st_get_i32be(good.data + 8);
    uint8_t *buf = malloc(good.len + 8);

    /* Bit flips in the CRC-covered bytes. */
    for (size_t at = 16; at < first_len; at++) {
        memcpy(buf, good.data, good.len);
        buf[at] ^= 0x01;
        up_fails(buf, good.len, &limits, INT32_MAX, false, ST_ERR_CORRUPT_MESSAGE, &arena);
    }
    /* Every truncation but the one between the messages. */
    for (size_t cut = 1; cut < good.len; cut++)
        if (cut != first_len) up_fails(good.data, cut, &limits, INT32_MAX, false, ST_ERR_CORRUPT_MESSAGE, &arena);
    /* Size below the minimum overhead, negative, past the end. */
    const int32_t sizes[] = {13, 0, -1, INT32_MIN, (int32_t)good.len};
    for (size_t i = 0; i < COUNT(sizes); i++) {
        memcpy(buf, good.data, good.len);
        st_put_i32be(buf + 8, sizes[i]);
        up_fails(buf, good.len, &limits, INT32_MAX, false, ST_ERR_CORRUPT_MESSAGE, &arena);
    }
    /* Key and value lengths that lie (CRC recomputed so only the lie is
     * wrong). */
    const struct {
        size_t at;
        int32_t len;
    } lies[] = {{26, 4}, {26, 100}, {26, -2}, {26, INT32_MAX}, {33, 4}, {33, 6}, {33, -5}};
    for (size_t i = 0; i < COUNT(lies); i++) {
        memcpy(buf, good.data, good.len);
        st_put_i32be(buf + lies[i].at, lies[i].len);
        st_put_i32be(buf + 12, (int32_t)crc32(0, buf + 16, (uInt)(first_len - 16)));
        up_fails(buf, good.len, &limits, INT32_MAX, false, ST_ERR_CORRUPT_MESSAGE, &arena);
    }
    /* Magic beyond 2, and negative. */
    const int8_t magics[] = {3, 127, -1};
    for (size_t i = 0; i < COUNT(magics); i++) {
        memcpy(buf, good.data, good.len);
        buf[16] = (uint8_t)magics[i];
        st_put_i32be(buf + 12, (int32_t)crc32(0, buf + 16, (uInt)(first_len - 16)));
        up_fails(buf, good.len, &limits, INT32_MAX, false, ST_ERR_CORRUPT_MESSAGE, &arena);
    }
    /* Nothing at all. */
    up_fails(good.data, 0, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD, &arena);
    free(buf);
    st_writer_free(&good);
    st_arena_free(&arena);
}

/* The wrapper rules of LogValidator and the legacy deep iterator. */
static void test_wrapper_rules(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_writer_t inner, set;
    st_writer_init(&inner, 0);
    st_writer_init(&set, 0);
    put_text(&inner, 0, 1, 0, TS, "a", "1");
    put_text(&inner, 1, 1, 0, TS, "b", "2");

    /* Two wrappers, or a wrapper and a plain message, in one set. */
    put_wrapper(&set, 1, 1, ST_CODEC_GZIP, 0, TS, &inner);
    put_wrapper(&set, 1, 1, ST_CODEC_GZIP, 0, TS, &inner);
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD, &arena);
    st_writer_reset(&set);
    put_text(&set, 0, 1, 0, TS, "plain", "x");
    put_wrapper(&set, 1, 1, ST_CODEC_GZIP, 0, TS, &inner);
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD, &arena);

    /* A compressed inner message. */
    st_writer_t nested;
    st_writer_init(&nested, 0);
    put_wrapper(&nested, 0, 1, ST_CODEC_GZIP, 0, TS, &inner);
    st_writer_reset(&set);
    put_wrapper(&set, 0, 1, ST_CODEC_GZIP, 0, TS, &nested);
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD, &arena);

    /* A v0 inner message in a v1 wrapper: a record error at its index. */
    st_writer_t mixed;
    st_writer_init(&mixed, 0);
    put_text(&mixed, 0, 1, 0, TS, "a", "1");
    put_text(&mixed, 1, 0, 0, -1, "b", "2");
    st_writer_reset(&set);
    put_wrapper(&set, 1, 1, ST_CODEC_SNAPPY, 0, TS, &mixed);
    const st_batch_check_t *check = up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD,
                                             &arena);
    assert_int_equal(check->record_error_count, 1);
    assert_int_equal(check->record_errors[0].batch_index, 1);

    /* A null value, an empty inner set, a garbage payload. */
    st_writer_reset(&set);
    put_message(&set, 0, 1, ST_CODEC_GZIP, TS, NULL, -1, NULL, -1);
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD, &arena);
    st_writer_t empty;
    st_writer_init(&empty, 0);
    st_writer_reset(&set);
    put_wrapper(&set, 0, 1, ST_CODEC_GZIP, 0, TS, &empty);
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD, &arena);
    for (st_codec_t codec = ST_CODEC_GZIP; codec <= ST_CODEC_LZ4; codec++) {
        st_writer_reset(&set);
        put_message(&set, 0, 1, (int8_t)codec, TS, NULL, -1, "not compressed at all", 21);
        up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_CORRUPT_MESSAGE, &arena);
    }
    /* Inner bytes that are not whole messages. */
    st_writer_t torn;
    st_writer_init(&torn, 0);
    st_write_raw(&torn, inner.data, inner.len - 1);
    st_writer_reset(&set);
    put_wrapper(&set, 1, 1, ST_CODEC_GZIP, 0, TS, &torn);
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_CORRUPT_MESSAGE, &arena);

    /* zstd needs v2; codecs past zstd do not exist. */
    st_writer_reset(&set);
    put_message(&set, 0, 1, ST_CODEC_ZSTD, TS, NULL, -1, "zz", 2);
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD, &arena);
    st_writer_reset(&set);
    put_message(&set, 0, 1, 5, TS, NULL, -1, "zz", 2);
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_UNSUPPORTED_COMPRESSION_TYPE, &arena);

    /* v1 wrapper offset: 0 (librdkafka) or at least the last inner offset. */
    const struct {
        int64_t offset;
        int error;
    } wrapper_offsets[] = {{0, 0}, {1, 0}, {500, 0}, {-7, ST_ERR_INVALID_RECORD}};
    for (size_t i = 0; i < COUNT(wrapper_offsets); i++) {
        st_writer_reset(&set);
        put_wrapper(&set, wrapper_offsets[i].offset, 1, ST_CODEC_LZ4, 0, TS, &inner);
        if (wrapper_offsets[i].error) {
            up_fails(set.data, set.len, &limits, INT32_MAX, false, wrapper_offsets[i].error, &arena);
        } else {
            st_writer_t out;
            st_writer_init(&out, 0);
            up_ok(set.data, set.len, &arena, &out);
            st_writer_free(&out);
        }
    }
    /* The decompressed-bytes limit and a small bomb. */
    uint8_t *zeros = calloc(1, 4u << 20);
    st_writer_t bomb;
    st_writer_init(&bomb, 0);
    put_message(&bomb, 0, 1, 0, TS, NULL, -1, zeros, 4 << 20);
    st_writer_reset(&set);
    put_wrapper(&set, 0, 1, ST_CODEC_GZIP, 0, TS, &bomb);
    assert_true(set.len < 64 * 1024);
    st_batch_limits_t small = limits;
    small.decompressed_bytes_max = 1u << 20;
    up_fails(set.data, set.len, &small, INT32_MAX, false, ST_ERR_MESSAGE_TOO_LARGE, &arena);
    free(zeros);

    st_writer_free(&bomb);
    st_writer_free(&torn);
    st_writer_free(&empty);
    st_writer_free(&mixed);
    st_writer_free(&nested);
    st_writer_free(&inner);
    st_writer_free(&set);
    st_arena_free(&arena);
}

/* Record and set rules: keys on compacted topics, timestamps, LogAppendTime
 * from a producer, magic mixes, size and count limits. */
static void test_record_rules(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_writer_t set, inner, out;
    st_writer_init(&set, 0);
    st_writer_init(&inner, 0);
    st_writer_init(&out, 0);

    put_text(&set, 0, 1, 0, TS, "a", "1");
    put_text(&set, 1, 1, 0, TS, NULL, "2");
    put_text(&set, 2, 1, 0, TS, NULL, "3");
    const st_batch_check_t *check = up_fails(set.data, set.len, &limits, INT32_MAX, true, ST_ERR_INVALID_RECORD,
                                             &arena);
    assert_int_equal(check->record_error_count, 2);
    assert_int_equal(check->record_errors[0].batch_index, 1);
    assert_int_equal(check->record_errors[1].batch_index, 2);

    st_batch_limits_t create_time = limits;
    create_time.check_timestamps = true;
    create_time.timestamp_min = TS - 1000;
    create_time.timestamp_max = TS + 1000;
    st_writer_reset(&set);
    put_text(&set, 0, 1, 0, TS, "a", "1");
    put_text(&set, 0, 1, 0, -1, "b", "no timestamp: not checked");
    put_text(&set, 0, 1, 0, TS + 5000, "c", "too new");
    check = up_fails(set.data, set.len, &create_time, INT32_MAX, false, ST_ERR_INVALID_TIMESTAMP, &arena);
    assert_int_equal(check->record_error_count, 1);
    assert_int_equal(check->record_errors[0].batch_index, 2);
    /* In a wrapper, against inner timestamps. */
    put_text(&inner, 0, 1, 0, TS, "a", "1");
    put_text(&inner, 1, 1, 0, TS - 5000, "b", "too old");
    st_writer_reset(&set);
    put_wrapper(&set, 1, 1, ST_CODEC_GZIP, 0, TS, &inner);
    up_fails(set.data, set.len, &create_time, INT32_MAX, false, ST_ERR_INVALID_TIMESTAMP, &arena);
    /* v0 has no timestamps: nothing to check. */
    st_writer_reset(&set);
    put_text(&set, 0, 0, 0, 0, "a", "1");
    st_batch_check_t ok;
    assert_int_equal(st_legacy_up_convert(set.data, set.len, &create_time, INT32_MAX, false, &arena, &out, &ok), 0);

    /* A producer's LogAppendTime: refused on a LogAppendTime topic (no
     * timestamp check) and for a -1 timestamp; a CreateTime topic checks the
     * timestamp instead. A wrapper's time stands for its inner messages. */
    st_writer_reset(&set);
    put_text(&set, 0, 1, ST_LEGACY_ATTR_LOG_APPEND_TIME, TS, "a", "1");
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_TIMESTAMP, &arena);
    st_writer_reset(&out);
    assert_int_equal(st_legacy_up_convert(set.data, set.len, &create_time, INT32_MAX, false, &arena, &out, &ok), 0);
    st_writer_reset(&set);
    put_text(&set, 0, 1, ST_LEGACY_ATTR_LOG_APPEND_TIME, -1, "a", "1");
    up_fails(set.data, set.len, &create_time, INT32_MAX, false, ST_ERR_INVALID_TIMESTAMP, &arena);
    st_writer_reset(&set);
    put_wrapper(&set, 1, 1, ST_CODEC_GZIP, ST_LEGACY_ATTR_LOG_APPEND_TIME, TS + 1, &inner);
    st_writer_reset(&out);
    assert_int_equal(st_legacy_up_convert(set.data, set.len, &create_time, INT32_MAX, false, &arena, &out, &ok), 0);
    st_record_t recs[4];
    assert_int_equal(batch_records(out.data, out.len, recs, 4, &arena), 2);
    assert_int_equal(batch_timestamp(out.data, &recs[1]), TS + 1); /* the wrapper's, not TS - 5000 */

    /* Magic mixes: v0 then v1, v1 then a v2 batch. */
    st_writer_reset(&set);
    put_text(&set, 0, 0, 0, 0, "a", "1");
    put_text(&set, 1, 1, 0, TS, "b", "2");
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD, &arena);
    st_writer_reset(&set);
    put_text(&set, 0, 1, 0, TS, "a", "1");
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    st_batch_builder_add(&b, 0, TS, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL, 0);
    assert_int_equal(st_batch_builder_finish(&b, &set), 0);
    st_batch_builder_free(&b);
    up_fails(set.data, set.len, &limits, INT32_MAX, false, ST_ERR_INVALID_RECORD, &arena);
    size_t first_len = 12 + (size_t)st_get_i32be(set.data + 8);
    assert_int_equal(st_legacy_first_magic(set.data + first_len, set.len - first_len), 2);
    assert_int_equal(st_legacy_first_magic(set.data, 16), -1);
    set.data[16] = 0xff;
    assert_int_equal(st_legacy_first_magic(set.data, set.len), 255);

    /* max.message.bytes counts an entry with its 12-byte overhead. */
    st_writer_reset(&set);
    put_text(&set, 0, 1, 0, TS, "key", "value");
    up_fails(set.data, set.len, &limits, (int32_t)set.len - 1, false, ST_ERR_MESSAGE_TOO_LARGE, &arena);
    st_writer_reset(&out);
    assert_int_equal(st_legacy_up_convert(set.data, set.len, &limits, (int32_t)set.len, false, &arena, &out, &ok), 0);
    /* The record count limit, for plain sets and wrappers. */
    st_batch_limits_t few = limits;
    few.records_max = 1;
    put_text(&set, 1, 1, 0, TS, "key", "value");
    up_fails(set.data, set.len, &few, INT32_MAX, false, ST_ERR_MESSAGE_TOO_LARGE, &arena);
    st_writer_reset(&set);
    put_wrapper(&set, 1, 1, ST_CODEC_GZIP, 0, TS, &inner);
    up_fails(set.data, set.len, &few, INT32_MAX, false, ST_ERR_MESSAGE_TOO_LARGE, &arena);

    st_writer_free(&set);
    st_writer_free(&inner);
    st_writer_free(&out);
    st_arena_free(&arena);
}

/* ---- down-conversion ------------------------------------------------------- */

typedef struct down_result {
    int rc;
    st_writer_t out;
    int64_t last_offset;
    parsed_message_t messages[64];
    int count;
} down_result_t;

static void down(const st_writer_t *log, int8_t magic, int64_t fetch_offset, size_t max_out_bytes,
                 st_arena_t *arena, down_result_t *r) {
    st_writer_init(&r->out, 0);
    r->rc = st_legacy_down_convert(log->data, log->len, magic, fetch_offset, max_out_bytes,
                                   limits.decompressed_bytes_max, arena, &r->out, &r->last_offset);
    r->count = r->rc == 0 ? parse_set(r->out.data, r->out.len, r->messages, 64) : 0;
}

/* Appends a v2 batch with the kafka-python fixture's records. */
static void put_kp_batch(st_writer_t *log, st_codec_t codec, int64_t base_offset, int16_t extra_attributes) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, codec, base_offset);
    b.attributes_extra = extra_attributes;
    const st_record_header_t header = {(const uint8_t *)"h", 1, (const uint8_t *)"dropped", 7};
    for (int i = 0; i < 3; i++)
        st_batch_builder_add(&b, i, TS + i, (const uint8_t *)kp_records[i].key, kp_records[i].key_len,
                             (const uint8_t *)kp_records[i].value, kp_records[i].value_len, &header, 1);
    assert_int_equal(st_batch_builder_finish(&b, log), 0);
    st_batch_builder_free(&b);
}

/* Uncompressed batches down-convert to exactly what kafka-python writes for
 * the same records (its builder is an independent implementation). */
static void test_down_convert_exact(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_writer_t log;
    st_writer_init(&log, 0);
    put_kp_batch(&log, ST_CODEC_NONE, 0, 0);
    down_result_t r;
    down(&log, 1, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.len, sizeof kp_v1_none);
    assert_memory_equal(r.out.data, kp_v1_none, sizeof kp_v1_none);
    assert_int_equal(r.last_offset, 2);
    st_writer_free(&r.out);
    down(&log, 0, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.len, sizeof kp_v0_none);
    assert_memory_equal(r.out.data, kp_v0_none, sizeof kp_v0_none);
    st_writer_free(&r.out);
    st_writer_free(&log);
    st_arena_free(&arena);
}

/* Compressed batches become one wrapper each, in their codec's v0/v1
 * framing, and convert back to the same records. */
static void test_down_convert_wrappers(void **state) {
    (void)state;
    const st_codec_t codecs[] = {ST_CODEC_GZIP, ST_CODEC_SNAPPY, ST_CODEC_LZ4};
    for (int8_t magic = 0; magic <= 1; magic++) {
        for (size_t c = 0; c < COUNT(codecs); c++) {
            st_arena_t arena;
            st_arena_init(&arena);
            st_writer_t log;
            st_writer_init(&log, 0);
            put_kp_batch(&log, codecs[c], 1000, 0);
            down_result_t r;
            down(&log, magic, 1001, SIZE_MAX, &arena, &r);
            assert_int_equal(r.rc, 0);
            assert_int_equal(r.count, 1); /* a wrapper goes whole, fetch offset or not */
            const parsed_message_t *w = &r.messages[0];
            assert_int_equal(w->offset, 1002);
            assert_int_equal(w->magic, magic);
            assert_int_equal(w->attributes, codecs[c]);
            assert_int_equal(w->key_len, -1);
            assert_int_equal(w->timestamp, magic ? TS + 2 : -1);
            if (codecs[c] == ST_CODEC_SNAPPY)
                assert_memory_equal(w->value, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16);
            if (codecs[c] == ST_CODEC_LZ4) /* 0x1a: hashed from the magic on, as Kafka 0.8/0.9 did */
                assert_memory_equal(w->value, magic ? "\x04\x22\x4d\x18\x60\x40\x82" : "\x04\x22\x4d\x18\x60\x40\x1a", 7);

            /* Inner messages: v1 offsets relative, v0 absolute. */
            st_writer_t inner;
            st_writer_init(&inner, 0);
            assert_int_equal(st_decompress(codecs[c], w->value, (size_t)w->value_len, 1 << 20, &inner),
                             codecs[c] == ST_CODEC_LZ4 && magic == 0 ? ST_ERR_CORRUPT_MESSAGE : 0);
            if (inner.len) {
                parsed_message_t in[4];
                assert_int_equal(parse_set(inner.data, inner.len, in, 4), 3);
                for (int i = 0; i < 3; i++) {
                    assert_int_equal(in[i].offset, magic ? i : 1000 + i);
                    assert_int_equal(in[i].magic, magic);
                    assert_int_equal(in[i].attributes, 0);
                    assert_int_equal(in[i].timestamp, magic ? TS + i : -1);
                    check_field(in[i].key, in[i].key_len, kp_records[i].key, kp_records[i].key_len);
                    check_field(in[i].value, in[i].value_len, kp_records[i].value, kp_records[i].value_len);
                }
            }
            st_writer_free(&inner);

            /* And back to v2. */
            st_writer_t again;
            st_writer_init(&again, 0);
            up_ok(r.out.data, r.out.len, &arena, &again);
            check_kp_batch(again.data, again.len, magic, &arena);
            st_writer_free(&again);
            st_writer_free(&r.out);
            st_writer_free(&log);
            st_arena_free(&arena);
        }
    }
}

static void test_down_convert_selection(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_writer_t log;
    st_writer_init(&log, 0);
    down_result_t r;

    /* Records before the fetch offset leave an uncompressed batch. */
    put_kp_batch(&log, ST_CODEC_NONE, 10, 0);
    down(&log, 1, 11, SIZE_MAX, &arena, &r);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.messages[0].offset, 11);
    assert_int_equal(r.messages[1].offset, 12);
    st_writer_free(&r.out);

    /* A control batch is skipped; LogAppendTime is the batch's time, with
     * the attribute in v1. */
    st_writer_reset(&log);
    put_kp_batch(&log, ST_CODEC_NONE, 0, ST_BATCH_ATTR_CONTROL | ST_BATCH_ATTR_TRANSACTIONAL);
    size_t lat_at = log.len;
    put_kp_batch(&log, ST_CODEC_NONE, 3, 0);
    st_batch_set_log_append_time(log.data + lat_at, log.len - lat_at, TS + 777);
    down(&log, 1, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.count, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.messages[i].offset, 3 + i);
        assert_int_equal(r.messages[i].timestamp, TS + 777);
        assert_int_equal(r.messages[i].attributes, ST_LEGACY_ATTR_LOG_APPEND_TIME);
    }
    st_writer_free(&r.out);
    down(&log, 0, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.messages[0].attributes, 0);
    st_writer_free(&r.out);

    /* A partial batch at the end (a read cut at the fetch size) is left
     * out; so are the bytes of an incomplete log overhead. */
    st_writer_reset(&log);
    put_kp_batch(&log, ST_CODEC_GZIP, 0, 0);
    size_t whole = log.len;
    put_kp_batch(&log, ST_CODEC_GZIP, 3, 0);
    for (size_t cut = whole; cut < log.len; cut += 5) {
        st_writer_t part = {.data = log.data, .len = cut};
        down(&part, 1, 0, SIZE_MAX, &arena, &r);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.count, 1);
        assert_int_equal(r.last_offset, 2);
        st_writer_free(&r.out);
    }

    /* Nothing to convert: an empty read. */
    st_writer_t none = {0};
    down(&none, 1, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.out.len, 0);
    assert_int_equal(r.last_offset, -1);
    st_writer_free(&r.out);
    st_writer_free(&log);
    st_arena_free(&arena);
}

static void test_down_convert_limits_and_errors(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_writer_t log;
    st_writer_init(&log, 0);
    down_result_t r;
    put_kp_batch(&log, ST_CODEC_NONE, 0, 0);
    put_kp_batch(&log, ST_CODEC_NONE, 3, 0);
    put_kp_batch(&log, ST_CODEC_SNAPPY, 6, 0);

    /* The first batch goes whole however small the limit; later ones stop
     * at the last whole message or wrapper that fits. */
    down(&log, 1, 0, 1, &arena, &r);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.last_offset, 2);
    size_t first_batch = r.out.len;
    st_writer_free(&r.out);
    size_t one_more = 12 + 22 + 2 + 5; /* offset 3: "k0", "hello" in v1 */
    down(&log, 1, 0, first_batch + one_more, &arena, &r);
    assert_int_equal(r.count, 4);
    assert_int_equal(r.last_offset, 3);
    assert_int_equal(r.out.len, first_batch + one_more);
    st_writer_free(&r.out);
    down(&log, 1, 0, first_batch + one_more - 1, &arena, &r);
    assert_int_equal(r.count, 3);
    st_writer_free(&r.out);
    down(&log, 1, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.count, 7);
    assert_int_equal(r.last_offset, 8);
    st_writer_free(&r.out);

    /* zstd: an error when it comes first, the end of the output later. */
    st_writer_t z;
    st_writer_init(&z, 0);
    put_kp_batch(&z, ST_CODEC_ZSTD, 0, 0);
    st_writer_init(&r.out, 0);
    st_write_raw(&r.out, "ab", 2);
    assert_int_equal(st_legacy_down_convert(z.data, z.len, 1, 0, SIZE_MAX, 1 << 20, &arena, &r.out, &r.last_offset),
                     ST_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    assert_int_equal(r.out.len, 2);
    assert_int_equal(r.last_offset, -1);
    st_writer_free(&r.out);
    st_writer_reset(&z);
    put_kp_batch(&z, ST_CODEC_LZ4, 0, 0);
    put_kp_batch(&z, ST_CODEC_ZSTD, 3, 0);
    put_kp_batch(&z, ST_CODEC_NONE, 6, 0);
    down(&z, 0, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.last_offset, 2);
    st_writer_free(&r.out);

    /* Damaged log bytes: an error, nothing written. */
    st_writer_t bad;
    st_writer_init(&bad, 0);
    st_write_raw(&bad, log.data, log.len);
    st_put_i32be(bad.data + 8, 10); /* batch length below the header */
    down(&bad, 1, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.rc, ST_ERR_CORRUPT_MESSAGE);
    assert_int_equal(r.out.len, 0);
    st_writer_free(&r.out);
    st_writer_reset(&bad);
    st_write_raw(&bad, log.data, log.len);
    bad.data[16] = 1; /* magic */
    down(&bad, 1, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.rc, ST_ERR_CORRUPT_MESSAGE);
    st_writer_free(&r.out);
    st_writer_reset(&bad);
    put_kp_batch(&bad, ST_CODEC_GZIP, 0, 0);
    bad.data[ST_BATCH_HEADER_BYTES + 10] ^= 0xff; /* inside the compressed records */
    down(&bad, 1, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.rc, ST_ERR_CORRUPT_MESSAGE);
    st_writer_free(&r.out);
    /* Only v0 and v1 are targets. */
    down(&log, 2, 0, SIZE_MAX, &arena, &r);
    assert_int_equal(r.rc, ST_ERR_UNSUPPORTED_VERSION);
    st_writer_free(&r.out);

    st_writer_free(&bad);
    st_writer_free(&z);
    st_writer_free(&log);
    st_arena_free(&arena);
}

/* v2 -> v0/v1 -> v2 keeps every key, value and (v1) timestamp, for random
 * records in every codec v0/v1 can carry. */
static void test_round_trips(void **state) {
    (void)state;
    uint32_t seed = 12345;
    const st_codec_t codecs[] = {ST_CODEC_NONE, ST_CODEC_GZIP, ST_CODEC_SNAPPY, ST_CODEC_LZ4};
    for (int round = 0; round < 40; round++) {
        st_arena_t arena;
        st_arena_init(&arena);
        int8_t magic = (int8_t)(round & 1);
        st_codec_t codec = codecs[(round / 2) % COUNT(codecs)];
        int n = 1 + round % 9;
        uint8_t *keys[9], *values[9];
        int32_t key_lens[9], value_lens[9];
        st_batch_builder_t b;
        st_batch_builder_init(&b, codec, 0);
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            key_lens[i] = (int32_t)(seed >> 20) % 40 - 2;
            value_lens[i] = (int32_t)(seed >> 8) % 3000 - 2;
            if (key_lens[i] < -1) key_lens[i] = -1;
            if (value_lens[i] < -1) value_lens[i] = -1;
            keys[i] = st_arena_alloc(&arena, 64);
            values[i] = st_arena_alloc(&arena, 4096);
            for (int j = 0; j < key_lens[i]; j++) keys[i][j] = (uint8_t)(seed >> (j % 24));
            for (int j = 0; j < value_lens[i]; j++) values[i][j] = (uint8_t)(j * seed);
            st_batch_builder_add(&b, i, TS + i * 3, keys[i], key_lens[i], values[i], value_lens[i], NULL, 0);
        }
        st_writer_t log;
        st_writer_init(&log, 0);
        assert_int_equal(st_batch_builder_finish(&b, &log), 0);
        st_batch_builder_free(&b);
        down_result_t r;
        down(&log, magic, 0, SIZE_MAX, &arena, &r);
        assert_int_equal(r.rc, 0);
        /* An uncompressed v0/v1 set is a message per record, and converts
         * back to one batch of them all. */
        st_writer_t again;
        st_writer_init(&again, 0);
        up_ok(r.out.data, r.out.len, &arena, &again);
        st_record_t recs[9];
        assert_int_equal(batch_records(again.data, again.len, recs, 9, &arena), n);
        for (int i = 0; i < n; i++) {
            check_field(recs[i].key, recs[i].key_len, (const char *)keys[i], key_lens[i]);
            check_field(recs[i].value, recs[i].value_len, (const char *)values[i], value_lens[i]);
            assert_int_equal(batch_timestamp(again.data, &recs[i]), magic ? TS + i * 3 : -1);
        }
        st_writer_free(&again);
        st_writer_free(&r.out);
        st_writer_free(&log);
        st_arena_free(&arena);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_python_sets),
        cmocka_unit_test(test_hand_built_wrappers),
        cmocka_unit_test(test_lz4_header_checksum),
        cmocka_unit_test(test_uncompressed_sets),
        cmocka_unit_test(test_corrupt_framing),
        cmocka_unit_test(test_wrapper_rules),
        cmocka_unit_test(test_record_rules),
        cmocka_unit_test(test_down_convert_exact),
        cmocka_unit_test(test_down_convert_wrappers),
        cmocka_unit_test(test_down_convert_selection),
        cmocka_unit_test(test_down_convert_limits_and_errors),
        cmocka_unit_test(test_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
