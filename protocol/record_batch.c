/*
 * Record batch v2: header parse, CRC, in-place rewrites, producer-side
 * validation (Kafka's LogValidator and the checks UnifiedLog makes before
 * it), record iteration and the builder.
 *
 * Record layout inside the (decompressed) records section, all varints
 * zig-zag:
 *   length varint | attributes int8 | timestampDelta varlong |
 *   offsetDelta varint | keyLength varint (-1 null) | key |
 *   valueLength varint (-1 null) | value | headerCount varint |
 *   headers: keyLength varint | key | valueLength varint (-1 null) | value
 * `length` counts the bytes after itself and must match what the fields use.
 */
#include "protocol/record_batch.h"

#include <assert.h>
#include <string.h>

#include "protocol/crc32c.h"
#include "protocol/errors.h"

/* Byte offsets of the fixed header fields (see the layout in the header). */
#define BATCH_BASE_OFFSET_AT 0
#define BATCH_LENGTH_AT 8
#define BATCH_LEADER_EPOCH_AT 12
#define BATCH_MAGIC_AT 16
#define BATCH_LAST_OFFSET_DELTA_AT 23
#define BATCH_BASE_TIMESTAMP_AT 27
#define BATCH_MAX_TIMESTAMP_AT 35
#define BATCH_PRODUCER_ID_AT 43
#define BATCH_PRODUCER_EPOCH_AT 51
#define BATCH_BASE_SEQUENCE_AT 53
#define BATCH_RECORD_COUNT_AT 57
#define BATCH_MAGIC_V2 2

_Static_assert(BATCH_RECORD_COUNT_AT + 4 == ST_BATCH_HEADER_BYTES, "header layout");
_Static_assert(BATCH_MAGIC_AT + 1 == ST_BATCH_CRC_OFFSET, "crc follows magic");
_Static_assert(ST_BATCH_CRC_OFFSET + 4 == ST_BATCH_ATTRIBUTES_OFFSET, "attributes follow crc");

/* Smallest encodings: a record is length + attributes + timestampDelta +
 * offsetDelta + keyLength + valueLength + headerCount, one byte each; a
 * header is keyLength + valueLength. Used to reject counts that the bytes
 * present cannot hold before allocating for them. */
#define RECORD_MIN_BYTES 7
#define RECORD_HEADER_MIN_BYTES 2

/* ---- header, CRC, rewrites ---------------------------------------------- */

int st_batch_header_parse(const uint8_t *p, size_t len, st_batch_header_t *h) {
    if (len < ST_BATCH_HEADER_BYTES) return ST_ERR_CORRUPT_MESSAGE;
    st_reader_t r;
    st_reader_init(&r, p, ST_BATCH_HEADER_BYTES);
    h->base_offset = st_read_i64(&r);
    h->batch_length = st_read_i32(&r);
    h->partition_leader_epoch = st_read_i32(&r);
    h->magic = st_read_i8(&r);
    h->crc = st_read_u32(&r);
    h->attributes = st_read_i16(&r);
    h->last_offset_delta = st_read_i32(&r);
    h->base_timestamp = st_read_i64(&r);
    h->max_timestamp = st_read_i64(&r);
    h->producer_id = st_read_i64(&r);
    h->producer_epoch = st_read_i16(&r);
    h->base_sequence = st_read_i32(&r);
    h->record_count = st_read_i32(&r);
    /* magic sits at the same offset in v0/v1 messages, so an old format is
     * reported as such rather than as corruption. */
    if (h->magic != BATCH_MAGIC_V2) return ST_ERR_UNSUPPORTED_VERSION;
    if (h->batch_length < ST_BATCH_HEADER_BYTES - ST_BATCH_LOG_OVERHEAD) return ST_ERR_CORRUPT_MESSAGE;
    return 0;
}

bool st_batch_crc_valid(const uint8_t *batch, size_t len) {
    if (len < ST_BATCH_HEADER_BYTES) return false;
    uint32_t stored = (uint32_t)st_get_i32be(batch + ST_BATCH_CRC_OFFSET);
    return st_crc32c(0, batch + ST_BATCH_ATTRIBUTES_OFFSET, len - ST_BATCH_ATTRIBUTES_OFFSET) == stored;
}

void st_batch_set_base_offset(uint8_t *batch, int64_t base_offset) {
    st_put_i64be(batch + BATCH_BASE_OFFSET_AT, base_offset);
}

void st_batch_set_partition_leader_epoch(uint8_t *batch, int32_t epoch) {
    st_put_i32be(batch + BATCH_LEADER_EPOCH_AT, epoch);
}

void st_batch_set_log_append_time(uint8_t *batch, size_t len, int64_t timestamp_ms) {
    int16_t attributes = st_get_i16be(batch + ST_BATCH_ATTRIBUTES_OFFSET);
    st_put_i16be(batch + ST_BATCH_ATTRIBUTES_OFFSET,
                 (int16_t)(attributes | ST_BATCH_ATTR_LOG_APPEND_TIME));
    st_put_i64be(batch + BATCH_MAX_TIMESTAMP_AT, timestamp_ms);
    uint32_t crc = st_crc32c(0, batch + ST_BATCH_ATTRIBUTES_OFFSET, len - ST_BATCH_ATTRIBUTES_OFFSET);
    st_put_i32be(batch + ST_BATCH_CRC_OFFSET, (int32_t)crc);
}

/* ---- records ------------------------------------------------------------- */

/* Why a record did not parse; static strings for logs and error messages. */
static const char *const record_malformed = "malformed record";

/* Cursor over one record's bytes. Records are parsed for every produced
 * batch, so this works on a local pointer the compiler keeps in a register
 * instead of going through st_reader_t. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} cursor_t;

/* Zig-zag LEB128 of at most max_bytes, as Kafka's ByteUtils reads it (bits
 * beyond the field's width are dropped). false: truncated or too long. */
static inline bool read_zigzag(cursor_t *c, int max_bytes, int64_t *out) {
    const uint8_t *q = c->p;
    uint64_t u = 0;
    for (int i = 0;; i++) {
        if (q >= c->end || i >= max_bytes) return false;
        uint8_t byte = *q++;
        u |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (byte < 0x80) break;
    }
    c->p = q;
    *out = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return true;
}

static inline bool read_varint32(cursor_t *c, int32_t *out) {
    int64_t v;
    if (!read_zigzag(c, 5, &v)) return false;
    *out = (int32_t)v;
    return true;
}

/* Key, value or header bytes: length -1 is null, other negatives are
 * malformed. */
static inline bool read_nullable_bytes(cursor_t *c, const uint8_t **p, int32_t *len) {
    int32_t n;
    if (!read_varint32(c, &n) || n < -1) return false;
    *len = n;
    *p = NULL;
    if (n >= 0) {
        if (n > c->end - c->p) return false;
        /* For n == 0 this is the cursor position: non-NULL, so an empty
         * value is told from null by the pointer as well as the length. */
        *p = c->p;
        c->p += n;
    }
    return true;
}

/*
 * Parses one record from `r`. With an arena the headers are collected into
 * rec->headers; without one they are only checked (validation should not
 * allocate per header). Returns 0 or ST_ERR_CORRUPT_MESSAGE; `r` is left
 * after the record.
 */
static int record_parse(st_reader_t *r, st_record_t *rec, st_arena_t *arena) {
    if (r->failed) return ST_ERR_CORRUPT_MESSAGE;
    cursor_t outer = {r->pos, r->end};
    int32_t body_len;
    if (!read_varint32(&outer, &body_len) || body_len < RECORD_MIN_BYTES - 1 || body_len > outer.end - outer.p)
        return ST_ERR_CORRUPT_MESSAGE;
    cursor_t c = {outer.p, outer.p + body_len};
    r->pos = c.end;

    memset(rec, 0, sizeof *rec);
    rec->attributes = (int8_t)*c.p++; /* body_len >= 6 */
    if (!read_zigzag(&c, 10, &rec->timestamp_delta) || !read_varint32(&c, &rec->offset_delta) ||
        !read_nullable_bytes(&c, &rec->key, &rec->key_len) || !read_nullable_bytes(&c, &rec->value, &rec->value_len))
        return ST_ERR_CORRUPT_MESSAGE;
    int32_t header_count;
    if (!read_varint32(&c, &header_count) || header_count < 0 ||
        header_count > (c.end - c.p) / RECORD_HEADER_MIN_BYTES)
        return ST_ERR_CORRUPT_MESSAGE;
    rec->header_count = header_count;
    if (arena && header_count > 0)
        rec->headers = st_arena_alloc(arena, (size_t)header_count * sizeof *rec->headers);
    for (int32_t i = 0; i < header_count; i++) {
        st_record_header_t h;
        /* Header keys are strings and may not be null (Kafka rejects a
         * negative header key size). */
        if (!read_nullable_bytes(&c, &h.key, &h.key_len) || h.key_len < 0) return ST_ERR_CORRUPT_MESSAGE;
        if (!read_nullable_bytes(&c, &h.value, &h.value_len)) return ST_ERR_CORRUPT_MESSAGE;
        if (rec->headers) rec->headers[i] = h;
    }
    /* The declared length must be used exactly. */
    return c.p == c.end ? 0 : ST_ERR_CORRUPT_MESSAGE;
}

/* Locates (and, when compressed, decompresses into `out`) the records
 * section of a batch whose header is already parsed and whose size is
 * known to fit `len`. */
static int batch_records(const uint8_t *batch, const st_batch_header_t *h, size_t max_out_bytes,
                         st_writer_t *out, const uint8_t **records, size_t *records_len) {
    const uint8_t *payload = batch + ST_BATCH_HEADER_BYTES;
    size_t payload_len = (size_t)st_batch_total_bytes(h) - ST_BATCH_HEADER_BYTES;
    int codec = h->attributes & ST_BATCH_ATTR_CODEC_MASK;
    if (codec > ST_CODEC_ZSTD) return ST_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    if (codec == ST_CODEC_NONE) {
        *records = payload;
        *records_len = payload_len;
        return 0;
    }
    int rc = st_decompress((st_codec_t)codec, payload, payload_len, max_out_bytes, out);
    if (rc != 0) return rc;
    *records = out->data;
    *records_len = out->len;
    return 0;
}

/* ---- validation ---------------------------------------------------------- */

static int check_fail(st_batch_check_t *check, int error, const char *message) {
    check->error = error;
    check->error_message = message;
    return error;
}

static void check_record_error(st_batch_check_t *check, st_arena_t *arena, int32_t capacity,
                               int32_t index, const char *message) {
    if (!check->record_errors)
        check->record_errors = st_arena_alloc(arena, (size_t)capacity * sizeof *check->record_errors);
    /* One error per record (the first found), as Kafka reports them. */
    if (check->record_error_count > 0 &&
        check->record_errors[check->record_error_count - 1].batch_index == index)
        return;
    check->record_errors[check->record_error_count++] =
        (st_record_error_t){.batch_index = index, .message = message};
}

int st_batch_validate(const uint8_t *batch, size_t len, const st_batch_limits_t *limits,
                      bool require_keys, st_arena_t *arena, st_batch_check_t *check) {
    memset(check, 0, sizeof *check);
    st_batch_header_t h;

    /* Framing and integrity first: nothing else can be trusted until the
     * size and CRC hold (UnifiedLog.analyzeAndValidateRecords). */
    if (len < ST_BATCH_HEADER_BYTES)
        return check_fail(check, ST_ERR_CORRUPT_MESSAGE, "record batch shorter than its header");
    int rc = st_batch_header_parse(batch, len, &h);
    if (rc == ST_ERR_UNSUPPORTED_VERSION)
        /* Produce v3+ may only carry magic v2 (ProduceRequest.validateRecords). */
        return check_fail(check, ST_ERR_INVALID_RECORD, "record batch magic must be 2");
    if (rc != 0) return check_fail(check, ST_ERR_CORRUPT_MESSAGE, "record batch length too small");
    if ((uint64_t)st_batch_total_bytes(&h) != (uint64_t)len)
        return check_fail(check, ST_ERR_CORRUPT_MESSAGE, "record batch length does not match its size");
    if (!st_batch_crc_valid(batch, len))
        return check_fail(check, ST_ERR_CORRUPT_MESSAGE, "record batch CRC mismatch");

    /* Batch-level rules for client writes (LogValidator.validateBatch). */
    if (h.base_offset != 0)
        return check_fail(check, ST_ERR_INVALID_RECORD, "record batch base offset must be 0");
    if ((h.attributes & ST_BATCH_ATTR_CODEC_MASK) > ST_CODEC_ZSTD)
        return check_fail(check, ST_ERR_UNSUPPORTED_COMPRESSION_TYPE, "unknown compression codec");
    if (h.last_offset_delta < 0)
        return check_fail(check, ST_ERR_INVALID_RECORD, "record batch has an invalid offset range");
    if (h.record_count <= 0)
        return check_fail(check, ST_ERR_INVALID_RECORD, "invalid record count in record batch");
    if ((int64_t)h.last_offset_delta + 1 != h.record_count)
        return check_fail(check, ST_ERR_INVALID_RECORD,
                          "record batch offset range does not match its record count");
    if (h.attributes & ST_BATCH_ATTR_CONTROL)
        return check_fail(check, ST_ERR_INVALID_RECORD, "clients may not write control records");
    if (h.producer_id >= 0 && h.base_sequence < 0)
        return check_fail(check, ST_ERR_INVALID_RECORD, "invalid sequence number for idempotent batch");
    /* Our own limits: MESSAGE_TOO_LARGE makes the Java producer split the
     * batch and retry, where CORRUPT_MESSAGE would only retry it as is. */
    if (h.record_count > limits->records_max)
        return check_fail(check, ST_ERR_MESSAGE_TOO_LARGE, "record batch has too many records");

    st_writer_t scratch;
    st_writer_init(&scratch, 0);
    const uint8_t *records = NULL;
    size_t records_len = 0;
    rc = batch_records(batch, &h, limits->decompressed_bytes_max, &scratch, &records, &records_len);
    if (rc == ST_ERR_LIMIT) {
        check_fail(check, ST_ERR_MESSAGE_TOO_LARGE, "record batch decompresses beyond the limit");
        goto out_free_scratch;
    }
    if (rc == ST_ERR_UNSUPPORTED_COMPRESSION_TYPE) {
        check_fail(check, rc, "unknown compression codec");
        goto out_free_scratch;
    }
    if (rc != 0) {
        check_fail(check, ST_ERR_CORRUPT_MESSAGE, "record batch payload does not decompress");
        goto out_free_scratch;
    }
    if (records_len > limits->decompressed_bytes_max) {
        check_fail(check, ST_ERR_MESSAGE_TOO_LARGE, "record batch is larger than the limit");
        goto out_free_scratch;
    }
    if ((size_t)h.record_count > records_len / RECORD_MIN_BYTES) {
        check_fail(check, ST_ERR_INVALID_RECORD, "record count exceeds the records present");
        goto out_free_scratch;
    }

    /* Record-level rules, reported per record (KIP-467). Structural damage
     * stops the walk: what follows cannot be located. */
    st_reader_t r;
    st_reader_init(&r, records, records_len);
    bool timestamp_error = false;
    for (int32_t i = 0; i < h.record_count; i++) {
        st_record_t rec;
        if (st_reader_remaining(&r) == 0) {
            check_fail(check, ST_ERR_INVALID_RECORD, "fewer records than the batch declares");
            goto out_free_scratch;
        }
        if (record_parse(&r, &rec, NULL) != 0) {
            check_fail(check, ST_ERR_INVALID_RECORD, record_malformed);
            goto out_free_scratch;
        }
        if (rec.offset_delta != i)
            check_record_error(check, arena, h.record_count, i,
                               "record offset delta does not match its position in the batch");
        if (require_keys && rec.key_len < 0)
            check_record_error(check, arena, h.record_count, i,
                               "compacted topic cannot accept a record without a key");
        if (limits->check_timestamps) {
            /* Wrapping, not undefined, for a hostile delta. */
            int64_t ts = (int64_t)((uint64_t)h.base_timestamp + (uint64_t)rec.timestamp_delta);
            if (ts != -1 && (ts < limits->timestamp_min || ts > limits->timestamp_max)) {
                timestamp_error = true;
                check_record_error(check, arena, h.record_count, i,
                                   "timestamp out of range (message.timestamp.before.max.ms / after.max.ms)");
            }
        }
    }
    if (st_reader_remaining(&r) != 0) {
        check_fail(check, ST_ERR_INVALID_RECORD, "more records than the batch declares");
        goto out_free_scratch;
    }
    if (timestamp_error)
        check_fail(check, ST_ERR_INVALID_TIMESTAMP, "one or more records have been rejected due to invalid timestamp");
    else if (check->record_error_count > 0)
        check_fail(check, ST_ERR_INVALID_RECORD, "one or more records have been rejected");

out_free_scratch:
    st_writer_free(&scratch);
    return check->error;
}

/* ---- iteration ----------------------------------------------------------- */

int st_record_iter_init(st_record_iter_t *it, const uint8_t *batch, size_t len,
                        size_t decompressed_bytes_max, st_arena_t *arena) {
    memset(it, 0, sizeof *it);
    it->arena = arena;
    /* An empty reader until the records are found (not NULL + 0, which C
     * leaves undefined). */
    static const uint8_t no_records[1];
    st_reader_init(&it->reader, no_records, 0);
    st_batch_header_t h;
    int rc = st_batch_header_parse(batch, len, &h);
    if (rc != 0) return rc;
    if ((uint64_t)st_batch_total_bytes(&h) > (uint64_t)len) return ST_ERR_CORRUPT_MESSAGE;
    if (h.record_count < 0) return ST_ERR_CORRUPT_MESSAGE;

    st_writer_t scratch;
    st_writer_init(&scratch, 0);
    const uint8_t *records = NULL;
    size_t records_len = 0;
    rc = batch_records(batch, &h, decompressed_bytes_max, &scratch, &records, &records_len);
    if (rc == 0 && records != batch + ST_BATCH_HEADER_BYTES) {
        /* Decompressed: the records must outlive this call, so they move
         * into the caller's arena. */
        records = st_arena_memdup(arena, records, records_len);
    }
    st_writer_free(&scratch);
    if (rc != 0) return rc;
    st_reader_init(&it->reader, records, records_len);
    it->remaining = h.record_count;
    return 0;
}

int st_record_iter_next(st_record_iter_t *it, st_record_t *rec) {
    if (it->reader.failed) return ST_ERR_CORRUPT_MESSAGE;
    if (it->remaining <= 0) return 0;
    if (record_parse(&it->reader, rec, it->arena) != 0) {
        /* Sticky, so a caller that keeps calling keeps getting the error. */
        it->reader.failed = true;
        return ST_ERR_CORRUPT_MESSAGE;
    }
    it->remaining--;
    return 1;
}

/* ---- builder ------------------------------------------------------------- */

void st_batch_builder_init(st_batch_builder_t *b, st_codec_t codec, int64_t base_offset) {
    memset(b, 0, sizeof *b);
    st_writer_init(&b->records, 0);
    b->codec = codec;
    b->base_offset = base_offset;
    b->base_timestamp = -1;
    b->max_timestamp = -1;
    b->producer_id = -1;
    b->producer_epoch = -1;
    b->base_sequence = -1;
    b->partition_leader_epoch = -1;
    b->record_count = 0;
    b->last_offset_delta = 0;
}

void st_batch_builder_free(st_batch_builder_t *b) { st_writer_free(&b->records); }

static size_t nullable_size(int32_t len) {
    return st_varint_size(len < 0 ? -1 : len) + (len > 0 ? (size_t)len : 0);
}

static void write_nullable(st_writer_t *w, const uint8_t *p, int32_t len) {
    if (len < 0) {
        st_write_varint(w, -1);
        return;
    }
    st_write_varint(w, len);
    st_write_raw(w, p, (size_t)len);
}

void st_batch_builder_add(st_batch_builder_t *b, int32_t offset_delta, int64_t timestamp_ms,
                          const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len,
                          const st_record_header_t *headers, int32_t header_count) {
    /* A base timestamp the caller set explicitly is kept. */
    if (b->record_count == 0 && b->base_timestamp == -1) b->base_timestamp = timestamp_ms;
    if (timestamp_ms > b->max_timestamp) b->max_timestamp = timestamp_ms;
    int64_t timestamp_delta = timestamp_ms - b->base_timestamp;
    /* Null is a negative length (as in st_record_t); bytes must back any
     * positive one. */
    assert(key_len <= 0 || key);
    assert(value_len <= 0 || value);
    assert(header_count <= 0 || headers);
    if (header_count < 0) header_count = 0;

    size_t body = 1 + st_varlong_size(timestamp_delta) + st_varint_size(offset_delta) +
                  nullable_size(key_len) + nullable_size(value_len) + st_varint_size(header_count);
    for (int32_t i = 0; i < header_count; i++) {
        assert(headers[i].key_len <= 0 || headers[i].key);
        assert(headers[i].value_len <= 0 || headers[i].value);
        body += nullable_size(headers[i].key_len < 0 ? 0 : headers[i].key_len) +
                nullable_size(headers[i].value_len);
    }

    st_writer_t *w = &b->records;
    st_write_varint(w, (int32_t)body);
    st_write_i8(w, 0); /* record attributes: unused */
    st_write_varlong(w, timestamp_delta);
    st_write_varint(w, offset_delta);
    write_nullable(w, key, key_len);
    write_nullable(w, value, value_len);
    st_write_varint(w, header_count);
    for (int32_t i = 0; i < header_count; i++) {
        const st_record_header_t *hd = &headers[i];
        /* Header keys cannot be null on the wire: write an empty one. */
        write_nullable(w, hd->key, hd->key_len < 0 ? 0 : hd->key_len);
        write_nullable(w, hd->value, hd->value_len);
    }
    b->record_count++;
    if (offset_delta > b->last_offset_delta) b->last_offset_delta = offset_delta;
}

int st_batch_builder_finish(st_batch_builder_t *b, st_writer_t *out) {
    size_t start = out->len;
    uint8_t *hdr = st_writer_reserve(out, ST_BATCH_HEADER_BYTES);
    memset(hdr, 0, ST_BATCH_HEADER_BYTES);
    out->len += ST_BATCH_HEADER_BYTES;
    int rc = st_compress(b->codec, b->records.data, b->records.len, out);
    if (rc != 0) {
        out->len = start; /* leave `out` as it was */
        return rc;
    }
    size_t total = out->len - start;
    int16_t attributes =
        (int16_t)((b->attributes_extra & ~ST_BATCH_ATTR_CODEC_MASK) | (b->codec & ST_BATCH_ATTR_CODEC_MASK));
    /* Re-read the pointer: compression may have moved the buffer. */
    hdr = out->data + start;
    st_put_i64be(hdr + BATCH_BASE_OFFSET_AT, b->base_offset);
    st_put_i32be(hdr + BATCH_LENGTH_AT, (int32_t)(total - ST_BATCH_LOG_OVERHEAD));
    st_put_i32be(hdr + BATCH_LEADER_EPOCH_AT, b->partition_leader_epoch);
    hdr[BATCH_MAGIC_AT] = BATCH_MAGIC_V2;
    st_put_i16be(hdr + ST_BATCH_ATTRIBUTES_OFFSET, attributes);
    st_put_i32be(hdr + BATCH_LAST_OFFSET_DELTA_AT, b->last_offset_delta);
    st_put_i64be(hdr + BATCH_BASE_TIMESTAMP_AT, b->base_timestamp);
    st_put_i64be(hdr + BATCH_MAX_TIMESTAMP_AT, b->max_timestamp);
    st_put_i64be(hdr + BATCH_PRODUCER_ID_AT, b->producer_id);
    st_put_i16be(hdr + BATCH_PRODUCER_EPOCH_AT, b->producer_epoch);
    st_put_i32be(hdr + BATCH_BASE_SEQUENCE_AT, b->base_sequence);
    st_put_i32be(hdr + BATCH_RECORD_COUNT_AT, b->record_count);
    uint32_t crc = st_crc32c(0, hdr + ST_BATCH_ATTRIBUTES_OFFSET, total - ST_BATCH_ATTRIBUTES_OFFSET);
    st_put_i32be(hdr + ST_BATCH_CRC_OFFSET, (int32_t)crc);
    return 0;
}

/* ---- control batches ----------------------------------------------------- */

/* Markers are a few dozen bytes; this only bounds what a damaged batch can
 * make the reader allocate. */
#define CONTROL_BATCH_DECOMPRESSED_MAX 4096
#define END_TXN_MARKER_VERSION 0
#define CONTROL_KEY_VERSION 0

void st_txn_marker_batch_build(st_writer_t *out, int64_t producer_id, int16_t producer_epoch,
                               const st_txn_marker_t *marker, int64_t timestamp_ms) {
    uint8_t key[ST_CONTROL_KEY_BYTES], value[ST_TXN_MARKER_VALUE_BYTES];
    st_put_i16be(key, CONTROL_KEY_VERSION);
    st_put_i16be(key + 2, marker->commit ? ST_CONTROL_TYPE_COMMIT : ST_CONTROL_TYPE_ABORT);
    st_put_i16be(value, END_TXN_MARKER_VERSION);
    st_put_i32be(value + 2, marker->coordinator_epoch);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    b.attributes_extra = ST_BATCH_ATTR_CONTROL | ST_BATCH_ATTR_TRANSACTIONAL;
    b.producer_id = producer_id;
    b.producer_epoch = producer_epoch;
    b.base_sequence = -1;
    st_batch_builder_add(&b, 0, timestamp_ms, key, sizeof key, value, sizeof value, NULL, 0);
    /* Uncompressed: finishing cannot fail. */
    int rc = st_batch_builder_finish(&b, out);
    assert(rc == 0);
    (void)rc;
    st_batch_builder_free(&b);
}

int st_txn_marker_batch_parse(const uint8_t *batch, size_t len, st_txn_marker_t *out) {
    st_batch_header_t h;
    int rc = st_batch_header_parse(batch, len, &h);
    if (rc != 0) return ST_ERR_CORRUPT_MESSAGE;
    if (!(h.attributes & ST_BATCH_ATTR_CONTROL)) return ST_ERR_CORRUPT_MESSAGE;
    st_arena_t arena;
    st_arena_init(&arena);
    st_record_iter_t it;
    rc = st_record_iter_init(&it, batch, len, CONTROL_BATCH_DECOMPRESSED_MAX, &arena);
    st_record_t rec;
    /* Kafka's codes are positive: any failure of the iterator is one. */
    int more = rc == 0 ? st_record_iter_next(&it, &rec) : -1;
    if (more < 0 || more > 1) {
        rc = ST_ERR_CORRUPT_MESSAGE;
    } else if (more == 0) {
        rc = ST_ERR_NOT_FOUND; /* emptied by the cleaner */
    } else if (rec.key_len < ST_CONTROL_KEY_BYTES || st_get_i16be(rec.key) < 0) {
        rc = ST_ERR_CORRUPT_MESSAGE;
    } else {
        int16_t type = st_get_i16be(rec.key + 2);
        if (type != ST_CONTROL_TYPE_ABORT && type != ST_CONTROL_TYPE_COMMIT) {
            rc = ST_ERR_NOT_FOUND;
        } else if (rec.value_len < ST_TXN_MARKER_VALUE_BYTES || st_get_i16be(rec.value) < 0) {
            rc = ST_ERR_CORRUPT_MESSAGE;
        } else {
            out->commit = type == ST_CONTROL_TYPE_COMMIT;
            out->coordinator_epoch = st_get_i32be(rec.value + 2);
            rc = 0;
        }
    }
    st_arena_free(&arena);
    return rc;
}
