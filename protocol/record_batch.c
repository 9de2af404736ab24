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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/crc32c.h"
#include "common/errors.h"

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

/* Decompressed records are parsed from a window this large, whatever the
 * batch inflates to: records that fit are parsed whole, larger ones field by
 * field as they stream past (their keys and values are only skipped), so
 * validating a batch costs this much memory and its bytes are parsed while
 * still in cache. Growing a buffer to a 64 MiB record instead cost 0.4 s of
 * page faults per batch on this VM, most of it in one realloc. */
#define VALIDATION_WINDOW_BYTES (256 * 1024)
/* The longest varint a record holds (timestampDelta). */
#define VARINT_MAX_BYTES 10
_Static_assert(VALIDATION_WINDOW_BYTES > VARINT_MAX_BYTES, "a varint must fit in the window");
/* Decompressed bytes asked for at a time (a step may overrun its budget by
 * this much). */
#define VALIDATION_CHUNK_BYTES (64 * 1024)

enum {
    VALIDATION_HEADER,  /* framing */
    VALIDATION_CRC,     /* the CRC, a chunk at a time */
    VALIDATION_RULES,   /* batch-level rules */
    VALIDATION_RECORDS, /* decompress and walk the records */
    VALIDATION_DONE,
};

static bool check_fail(st_batch_validation_t *v, int error, const char *message) {
    v->check.error = error;
    v->check.error_message = message;
    v->stage = VALIDATION_DONE;
    return true;
}

static void check_record_error(st_batch_validation_t *v, int32_t index, const char *message) {
    st_batch_check_t *check = &v->check;
    /* One error per record (the first found), as Kafka reports them. */
    if (check->record_error_count > 0 && check->record_errors[check->record_error_count - 1].batch_index == index)
        return;
    if (check->record_error_count == v->record_error_cap) {
        /* Grown with the errors found, never sized by the record count the
         * batch claims. */
        int32_t cap = v->record_error_cap ? v->record_error_cap * 2 : 16;
        st_record_error_t *grown = st_arena_alloc(v->arena, (size_t)cap * sizeof *grown);
        if (check->record_error_count)
            memcpy(grown, check->record_errors, (size_t)check->record_error_count * sizeof *grown);
        check->record_errors = grown;
        v->record_error_cap = cap;
    }
    check->record_errors[check->record_error_count++] = (st_record_error_t){.batch_index = index, .message = message};
}

void st_batch_validation_begin(st_batch_validation_t *v, const uint8_t *batch, size_t len,
                               const st_batch_limits_t *limits, bool require_keys, st_arena_t *arena) {
    memset(v, 0, sizeof *v);
    v->batch = batch;
    v->len = len;
    v->limits = *limits;
    v->require_keys = require_keys;
    v->arena = arena;
    v->stage = VALIDATION_HEADER;
}

/* Framing and integrity first: nothing else can be trusted until the size
 * and CRC hold (UnifiedLog.analyzeAndValidateRecords). */
static bool validate_header(st_batch_validation_t *v) {
    if (v->len < ST_BATCH_HEADER_BYTES) return check_fail(v, ST_ERR_CORRUPT_MESSAGE, "record batch shorter than its header");
    int rc = st_batch_header_parse(v->batch, v->len, &v->header);
    if (rc == ST_ERR_UNSUPPORTED_VERSION)
        /* Produce v3+ may only carry magic v2 (ProduceRequest.validateRecords). */
        return check_fail(v, ST_ERR_INVALID_RECORD, "record batch magic must be 2");
    if (rc != 0) return check_fail(v, ST_ERR_CORRUPT_MESSAGE, "record batch length too small");
    if ((uint64_t)st_batch_total_bytes(&v->header) != (uint64_t)v->len)
        return check_fail(v, ST_ERR_CORRUPT_MESSAGE, "record batch length does not match its size");
    v->done_bytes = ST_BATCH_ATTRIBUTES_OFFSET;
    v->stage = VALIDATION_CRC;
    return false;
}

static bool validate_crc(st_batch_validation_t *v, size_t budget, size_t *work) {
    size_t n = v->len - v->done_bytes;
    if (n > budget) n = budget;
    v->crc = st_crc32c(v->crc, v->batch + v->done_bytes, n);
    v->done_bytes += n;
    *work += n;
    if (v->done_bytes < v->len) return false;
    if (v->crc != (uint32_t)st_get_i32be(v->batch + ST_BATCH_CRC_OFFSET))
        return check_fail(v, ST_ERR_CORRUPT_MESSAGE, "record batch CRC mismatch");
    v->stage = VALIDATION_RULES;
    return false;
}

/* Batch-level rules for client writes (LogValidator.validateBatch), then
 * the records' source: the payload itself, or a decompressor. */
static bool validate_rules(st_batch_validation_t *v) {
    const st_batch_header_t *h = &v->header;
    if (h->base_offset != 0) return check_fail(v, ST_ERR_INVALID_RECORD, "record batch base offset must be 0");
    int codec = h->attributes & ST_BATCH_ATTR_CODEC_MASK;
    if (codec > ST_CODEC_ZSTD) return check_fail(v, ST_ERR_UNSUPPORTED_COMPRESSION_TYPE, "unknown compression codec");
    if (h->last_offset_delta < 0) return check_fail(v, ST_ERR_INVALID_RECORD, "record batch has an invalid offset range");
    if (h->record_count <= 0) return check_fail(v, ST_ERR_INVALID_RECORD, "invalid record count in record batch");
    if ((int64_t)h->last_offset_delta + 1 != h->record_count)
        return check_fail(v, ST_ERR_INVALID_RECORD, "record batch offset range does not match its record count");
    if (h->attributes & ST_BATCH_ATTR_CONTROL)
        return check_fail(v, ST_ERR_INVALID_RECORD, "clients may not write control records");
    if (h->producer_id >= 0 && h->base_sequence < 0)
        return check_fail(v, ST_ERR_INVALID_RECORD, "invalid sequence number for idempotent batch");
    /* Our own limits: MESSAGE_TOO_LARGE makes the Java producer split the
     * batch and retry, where CORRUPT_MESSAGE would only retry it as is. */
    if (h->record_count > v->limits.records_max)
        return check_fail(v, ST_ERR_MESSAGE_TOO_LARGE, "record batch has too many records");

    const uint8_t *payload = v->batch + ST_BATCH_HEADER_BYTES;
    size_t payload_len = v->len - ST_BATCH_HEADER_BYTES;
    if (codec == ST_CODEC_NONE) {
        if (payload_len > v->limits.decompressed_bytes_max)
            return check_fail(v, ST_ERR_MESSAGE_TOO_LARGE, "record batch is larger than the limit");
        if ((size_t)h->record_count > payload_len / RECORD_MIN_BYTES)
            return check_fail(v, ST_ERR_INVALID_RECORD, "record count exceeds the records present");
        v->window = (uint8_t *)(uintptr_t)payload; /* read only: not owned */
        v->window_len = payload_len;
        v->window_cap = payload_len;
        v->source_finished = true;
    } else {
        int rc = st_decompressor_init(&v->decompressor, (st_codec_t)codec, payload, payload_len,
                                      v->limits.decompressed_bytes_max);
        if (rc != 0) return check_fail(v, ST_ERR_CORRUPT_MESSAGE, "record batch payload does not decompress");
        v->compressed = true;
    }
    v->stage = VALIDATION_RECORDS;
    return false;
}

static bool decompress_failed(st_batch_validation_t *v, int rc) {
    if (rc == ST_ERR_LIMIT) return check_fail(v, ST_ERR_MESSAGE_TOO_LARGE, "record batch decompresses beyond the limit");
    return check_fail(v, ST_ERR_CORRUPT_MESSAGE, "record batch payload does not decompress");
}

/* More decompressed bytes into the window, VALIDATION_CHUNK_BYTES or what
 * fits; the unparsed tail (part of a record) moves to the front first.
 * Always the same piece, whatever the step's budget: the decompressor is
 * then called the same way for every budget, so the verdict cannot depend
 * on how far ahead it read (libraries differ in what they hand out before
 * a fault). False when done (an error, already recorded). */
static bool refill(st_batch_validation_t *v, size_t *work) {
    size_t want = VALIDATION_CHUNK_BYTES;
    size_t keep = v->window_len - v->window_pos;
    if (v->window_pos > 0) {
        memmove(v->window, v->window + v->window_pos, keep);
        v->window_len = keep;
        v->window_pos = 0;
    }
    if (!v->window) {
        v->window = malloc(VALIDATION_WINDOW_BYTES);
        if (!v->window) {
            check_fail(v, ST_ERR_CORRUPT_MESSAGE, "out of memory decompressing the record batch");
            return false;
        }
        v->window_cap = VALIDATION_WINDOW_BYTES;
    }
    size_t room = v->window_cap - v->window_len;
    /* Room always remains: a record that fits the window is only waited
     * for from its start, and a larger one is consumed as it comes. */
    assert(room > 0);
    if (want > room) want = room;
    size_t got = 0;
    int rc = st_decompressor_read(&v->decompressor, v->window + v->window_len, want, &got);
    v->window_len += got;
    *work += got;
    /* The bytes before a fault in the stream are parsed first: a record
     * that goes wrong earlier is the verdict, as when reading the stream
     * record by record (and the same whatever the pieces' sizes). */
    if (rc != 0) v->source_error = rc;
    v->source_finished = v->decompressor.finished || rc != 0;
    return true;
}

/* The records ran out: the stream's fault if it had one, else `error`. */
static bool records_ended(st_batch_validation_t *v, int error, const char *message) {
    if (v->source_error) return decompress_failed(v, v->source_error);
    return check_fail(v, error, message);
}

/* Where the record at the window's position ends: 1 with *total (length
 * prefix and body) set when the whole record is in the window, 0 when more
 * bytes are needed (*total set once the prefix is), -1 when its length is
 * malformed. *prefix: the length prefix's bytes. */
static int record_extent(const st_batch_validation_t *v, size_t *total, size_t *prefix) {
    const uint8_t *p = v->window + v->window_pos;
    size_t avail = v->window_len - v->window_pos;
    uint64_t u = 0;
    size_t i = 0;
    for (;; i++) {
        if (i >= 5) return -1;
        if (i >= avail) return 0;
        u |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (p[i] < 0x80) break;
    }
    int32_t body_len = (int32_t)((u >> 1) ^ (~(u & 1) + 1));
    if (body_len < RECORD_MIN_BYTES - 1) return -1;
    *prefix = i + 1;
    *total = i + 1 + (size_t)body_len;
    return *total <= avail ? 1 : 0;
}

/* Record-level rules, reported per record (KIP-467). Structural damage
 * stops the walk: what follows cannot be located. */
static void check_record(st_batch_validation_t *v, const st_record_t *rec) {
    const st_batch_header_t *h = &v->header;
    int32_t i = v->record_index;
    if (rec->offset_delta != i)
        check_record_error(v, i, "record offset delta does not match its position in the batch");
    if (v->require_keys && rec->key_len < 0)
        check_record_error(v, i, "compacted topic cannot accept a record without a key");
    if (v->limits.check_timestamps) {
        /* Wrapping, not undefined, for a hostile delta. */
        int64_t ts = (int64_t)((uint64_t)h->base_timestamp + (uint64_t)rec->timestamp_delta);
        if (ts != -1 && (ts < v->limits.timestamp_min || ts > v->limits.timestamp_max)) {
            v->timestamp_error = true;
            check_record_error(v, i, "timestamp out of range (message.timestamp.before.max.ms / after.max.ms)");
        }
    }
}

/* ---- a record larger than the window ----
 * Parsed field by field as the bytes stream past, with record_parse's rules:
 * attributes, timestampDelta, offsetDelta, key and value (nullable, only
 * skipped), headerCount (at most what the bytes left can hold), headers
 * (key not null), and the declared length used exactly. */
enum {
    BIG_ATTRIBUTES,
    BIG_TIMESTAMP,
    BIG_OFFSET,
    BIG_KEY_LENGTH,
    BIG_VALUE_LENGTH,
    BIG_HEADER_COUNT,
    BIG_HEADER_KEY_LENGTH,
    BIG_HEADER_VALUE_LENGTH,
    BIG_SKIP, /* key or value bytes, then back to `after_skip` */
    BIG_END,
};

/* One varint field of the big record: 1 read, 0 more bytes needed, -1
 * malformed (too long, or running past the record). */
static int big_varint(st_batch_validation_t *v, int max_bytes, int64_t *out) {
    st_big_record_t *big = &v->big;
    size_t avail = v->window_len - v->window_pos;
    size_t limit = avail < big->body_left ? avail : big->body_left;
    cursor_t c = {v->window + v->window_pos, v->window + v->window_pos + limit};
    if (read_zigzag(&c, max_bytes, out)) {
        size_t n = (size_t)(c.p - (v->window + v->window_pos));
        v->window_pos += n;
        big->body_left -= n;
        return 1;
    }
    /* Out of bytes: wait for more, or for the caller to see the stream's end. */
    if (avail < big->body_left && avail < (size_t)max_bytes && (!v->source_finished || v->source_error)) return 0;
    return -1;
}

static void big_skip_then(st_big_record_t *big, int64_t bytes, int next) {
    big->skip = (size_t)bytes;
    big->after_skip = next;
    big->field = bytes > 0 ? BIG_SKIP : next;
}

/* Moves the big record on as far as the window allows: 1 when it is done
 * (v->big.rec filled), 0 when the window must be refilled, -1 malformed. */
static int big_record_advance(st_batch_validation_t *v, size_t *work) {
    st_big_record_t *big = &v->big;
    for (;;) {
        int64_t n = 0;
        int rc = 1;
        size_t pos_before = v->window_pos;
        switch (big->field) {
        case BIG_ATTRIBUTES:
            if (v->window_pos == v->window_len) return 0;
            big->rec.attributes = (int8_t)v->window[v->window_pos++];
            big->body_left--;
            big->field = BIG_TIMESTAMP;
            break;
        case BIG_TIMESTAMP:
            if ((rc = big_varint(v, VARINT_MAX_BYTES, &big->rec.timestamp_delta)) == 1) big->field = BIG_OFFSET;
            break;
        case BIG_OFFSET:
            if ((rc = big_varint(v, 5, &n)) == 1) {
                big->rec.offset_delta = (int32_t)n;
                big->field = BIG_KEY_LENGTH;
            }
            break;
        case BIG_KEY_LENGTH:
        case BIG_VALUE_LENGTH:
        case BIG_HEADER_VALUE_LENGTH:
            if ((rc = big_varint(v, 5, &n)) != 1) break;
            n = (int32_t)n;
            if (n < -1 || (n > 0 && (uint64_t)n > big->body_left)) return -1;
            if (big->field == BIG_KEY_LENGTH) {
                big->rec.key_len = (int32_t)n;
                big_skip_then(big, n, BIG_VALUE_LENGTH);
            } else if (big->field == BIG_VALUE_LENGTH) {
                big->rec.value_len = (int32_t)n;
                big_skip_then(big, n, BIG_HEADER_COUNT);
            } else {
                big->headers_left--;
                big_skip_then(big, n, big->headers_left > 0 ? BIG_HEADER_KEY_LENGTH : BIG_END);
            }
            break;
        case BIG_HEADER_COUNT:
            if ((rc = big_varint(v, 5, &n)) != 1) break;
            n = (int32_t)n;
            if (n < 0 || (uint64_t)n > big->body_left / RECORD_HEADER_MIN_BYTES) return -1;
            big->rec.header_count = (int32_t)n;
            big->headers_left = (int32_t)n;
            big->field = n > 0 ? BIG_HEADER_KEY_LENGTH : BIG_END;
            break;
        case BIG_HEADER_KEY_LENGTH:
            /* Header keys are strings and may not be null. */
            if ((rc = big_varint(v, 5, &n)) != 1) break;
            n = (int32_t)n;
            if (n < 0 || (uint64_t)n > big->body_left) return -1;
            big_skip_then(big, n, BIG_HEADER_VALUE_LENGTH);
            break;
        case BIG_SKIP: {
            size_t avail = v->window_len - v->window_pos;
            if (avail == 0) return 0;
            size_t take = avail < big->skip ? avail : big->skip;
            v->window_pos += take;
            big->body_left -= take;
            big->skip -= take;
            if (big->skip == 0) big->field = big->after_skip;
            break;
        }
        case BIG_END:
        default:
            return big->body_left == 0 ? 1 : -1;
        }
        *work += v->window_pos - pos_before;
        if (rc <= 0) return rc;
    }
}

static bool finish_records(st_batch_validation_t *v) {
    if (v->timestamp_error)
        return check_fail(v, ST_ERR_INVALID_TIMESTAMP, "one or more records have been rejected due to invalid timestamp");
    if (v->check.record_error_count > 0)
        return check_fail(v, ST_ERR_INVALID_RECORD, "one or more records have been rejected");
    return check_fail(v, 0, NULL);
}

static void record_done(st_batch_validation_t *v, const st_record_t *rec, size_t total) {
    check_record(v, rec);
    v->records_bytes += total;
    v->record_index++;
}

static bool validate_records(st_batch_validation_t *v, size_t budget, size_t *work) {
    const st_batch_header_t *h = &v->header;
    while (*work < budget) {
        if (v->big_active) {
            int rc = big_record_advance(v, work);
            if (rc < 0) return check_fail(v, ST_ERR_INVALID_RECORD, record_malformed);
            if (rc > 0) {
                v->big_active = false;
                record_done(v, &v->big.rec, v->big.total);
                continue;
            }
            if (v->source_finished) return records_ended(v, ST_ERR_INVALID_RECORD, record_malformed);
            if (!refill(v, work)) return true;
            continue;
        }
        if (v->record_index == h->record_count) {
            /* All records seen: nothing may follow, and a compressed stream
             * must end cleanly (its trailer is checked). */
            if (v->window_pos < v->window_len)
                return check_fail(v, ST_ERR_INVALID_RECORD, "more records than the batch declares");
            if (v->source_finished) return v->source_error ? records_ended(v, 0, NULL) : finish_records(v);
            if (!refill(v, work)) return true;
            continue;
        }
        size_t total = 0, prefix = 0;
        int extent = record_extent(v, &total, &prefix);
        if (extent < 0) return check_fail(v, ST_ERR_INVALID_RECORD, record_malformed);
        /* A record whose declared end lies past the limit: no need to
         * decompress up to it to know the batch is too large. */
        if (v->compressed && total > 0 && v->records_bytes + total > v->limits.decompressed_bytes_max)
            return check_fail(v, ST_ERR_MESSAGE_TOO_LARGE, "record batch decompresses beyond the limit");
        if (extent == 0 && total > v->window_cap) {
            /* Larger than the window: parse it as it streams past. */
            memset(&v->big, 0, sizeof v->big);
            v->big.total = total;
            v->big.body_left = total - prefix;
            v->big.field = BIG_ATTRIBUTES;
            v->window_pos += prefix;
            *work += prefix;
            v->big_active = true;
            continue;
        }
        if (extent == 0) {
            if (v->source_finished) {
                if (v->window_pos == v->window_len)
                    return records_ended(v, ST_ERR_INVALID_RECORD, "fewer records than the batch declares");
                return records_ended(v, ST_ERR_INVALID_RECORD, record_malformed);
            }
            if (!refill(v, work)) return true;
            continue;
        }
        st_reader_t r;
        st_reader_init(&r, v->window + v->window_pos, total);
        st_record_t rec;
        if (record_parse(&r, &rec, NULL) != 0) return check_fail(v, ST_ERR_INVALID_RECORD, record_malformed);
        v->window_pos += total;
        *work += total;
        record_done(v, &rec, total);
    }
    return false;
}

bool st_batch_validation_step(st_batch_validation_t *v, size_t work_bytes) {
    size_t work = 0;
    if (work_bytes == 0) work_bytes = 1;
    while (v->stage != VALIDATION_DONE && work < work_bytes) {
        switch (v->stage) {
        case VALIDATION_HEADER: validate_header(v); break;
        case VALIDATION_CRC: validate_crc(v, work_bytes - work, &work); break;
        case VALIDATION_RULES: validate_rules(v); break;
        case VALIDATION_RECORDS: validate_records(v, work_bytes, &work); break;
        default: break;
        }
    }
    return v->stage == VALIDATION_DONE;
}

int st_batch_validation_end(st_batch_validation_t *v, st_batch_check_t *check) {
    if (v->compressed) {
        st_decompressor_free(&v->decompressor);
        free(v->window);
    }
    v->compressed = false;
    v->window = NULL;
    if (check) *check = v->check;
    return v->check.error;
}

int st_batch_validate(const uint8_t *batch, size_t len, const st_batch_limits_t *limits,
                      bool require_keys, st_arena_t *arena, st_batch_check_t *check) {
    st_batch_validation_t v;
    st_batch_validation_begin(&v, batch, len, limits, require_keys, arena);
    while (!st_batch_validation_step(&v, SIZE_MAX)) {
    }
    return st_batch_validation_end(&v, check);
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
