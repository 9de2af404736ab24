/*
 * Message format v0/v1 <-> record batch v2 (see legacy_records.h for the
 * layout and the rules). Every length and count in a message set comes
 * from a client or a file: each is checked against the bytes that remain
 * before it is used (STYLE 3). The calls into protocol/compression.h are the
 * two functions under "codecs" below and nowhere else.
 */
#include "protocol/legacy_records.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "protocol/compression.h"
#include "common/errors.h"

#define LEGACY_MAGIC_V0 0
#define LEGACY_MAGIC_V1 1
#define LEGACY_MAGIC_V2 2
/* Where the magic byte sits in an entry: after offset, size and crc. */
#define LEGACY_MAGIC_AT (ST_LEGACY_LOG_OVERHEAD + 4)

/* snappy-java's SnappyOutputStream, which Kafka's Java client uses: a 16
 * byte header (magic, then version 1 and compatible version 1 as int32s),
 * then blocks of int32 length + raw snappy, each from 32 KiB of input. */
static const uint8_t xerial_header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
#define XERIAL_BLOCK_BYTES (32 * 1024)

/* LZ4 frame: magic (little-endian), FLG, BD, optional content size (FLG
 * bit 3) and dictionary id (FLG bit 0), then the header checksum byte. */
static const uint8_t lz4_frame_magic[4] = {0x04, 0x22, 0x4d, 0x18};
#define LZ4_FLG_AT 4
#define LZ4_FLG_CONTENT_SIZE 0x08
#define LZ4_FLG_DICT_ID 0x01

/* One message (entry) of a set, pointing into the set's bytes. */
typedef struct legacy_message {
    int64_t offset;
    int8_t magic;
    int8_t attributes;
    int64_t timestamp; /* -1 in v0 */
    const uint8_t *key;
    int32_t key_len;   /* -1 for null */
    const uint8_t *value;
    int32_t value_len; /* -1 for null */
} legacy_message_t;

static st_codec_t message_codec(const legacy_message_t *m) {
    return (st_codec_t)(m->attributes & ST_LEGACY_ATTR_CODEC_MASK);
}

static bool message_log_append_time(const legacy_message_t *m) {
    return m->magic >= LEGACY_MAGIC_V1 && (m->attributes & ST_LEGACY_ATTR_LOG_APPEND_TIME);
}

/* ---- XXH32, for LZ4 frame header checksums ------------------------------- */

#define XXH_PRIME1 2654435761u
#define XXH_PRIME2 2246822519u
#define XXH_PRIME3 3266489917u
#define XXH_PRIME4 668265263u
#define XXH_PRIME5 374761393u

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t read_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t xxh32_round(uint32_t acc, uint32_t input) {
    return rotl32(acc + input * XXH_PRIME2, 13) * XXH_PRIME1;
}

/* XXH32 with seed 0 (the LZ4 frame format's checksum). */
static uint32_t xxh32(const uint8_t *p, size_t len) {
    const uint8_t *end = p + len;
    uint32_t h;
    if (len >= 16) {
        uint32_t v1 = XXH_PRIME1 + XXH_PRIME2, v2 = XXH_PRIME2, v3 = 0, v4 = 0u - XXH_PRIME1;
        for (; end - p >= 16; p += 16) {
            v1 = xxh32_round(v1, read_u32le(p));
            v2 = xxh32_round(v2, read_u32le(p + 4));
            v3 = xxh32_round(v3, read_u32le(p + 8));
            v4 = xxh32_round(v4, read_u32le(p + 12));
        }
        h = rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18);
    } else {
        h = XXH_PRIME5;
    }
    h += (uint32_t)len;
    for (; end - p >= 4; p += 4) h = rotl32(h + read_u32le(p) * XXH_PRIME3, 17) * XXH_PRIME4;
    for (; p < end; p++) h = rotl32(h + *p * XXH_PRIME5, 11) * XXH_PRIME1;
    h ^= h >> 15;
    h *= XXH_PRIME2;
    h ^= h >> 13;
    h *= XXH_PRIME3;
    h ^= h >> 16;
    return h;
}

/* Position of an LZ4 frame's header checksum byte, or 0 when `frame` does
 * not start with a frame header. */
static size_t lz4_header_checksum_at(const uint8_t *frame, size_t len) {
    if (len < LZ4_FLG_AT + 3 || memcmp(frame, lz4_frame_magic, sizeof lz4_frame_magic) != 0) return 0;
    uint8_t flg = frame[LZ4_FLG_AT];
    size_t at = LZ4_FLG_AT + 2 + ((flg & LZ4_FLG_CONTENT_SIZE) ? 8 : 0) + ((flg & LZ4_FLG_DICT_ID) ? 4 : 0);
    return at < len ? at : 0;
}

/* The checksum the frame format defines: over the descriptor, FLG to the
 * byte before the checksum. */
static uint8_t lz4_header_checksum(const uint8_t *frame, size_t at) {
    return (uint8_t)(xxh32(frame + LZ4_FLG_AT, at - LZ4_FLG_AT) >> 8);
}

/* What Kafka 0.8/0.9 wrote, and what their clients check in v0 sets: the
 * same hash taken from the frame's first byte, magic included. */
static uint8_t lz4_header_checksum_v0(const uint8_t *frame, size_t at) {
    return (uint8_t)(xxh32(frame, at) >> 8);
}

/* ---- codecs: the only calls into protocol/compression.h ------------------ */

/* Decompresses a wrapper's value into `out`, bounded by `max_out_bytes`. */
static int legacy_decompress(st_codec_t codec, int8_t magic, const uint8_t *in, size_t in_len,
                             size_t max_out_bytes, st_arena_t *arena, st_writer_t *out) {
    if (codec == ST_CODEC_LZ4 && magic == LEGACY_MAGIC_V0) {
        /* Kafka ignores a v0 frame's header checksum (its old clients
         * computed it wrongly); liblz4 checks it, so it gets the right one. */
        size_t at = lz4_header_checksum_at(in, in_len);
        if (at != 0) {
            uint8_t *fixed = st_arena_memdup(arena, in, in_len);
            fixed[at] = lz4_header_checksum(fixed, at);
            in = fixed;
        }
    }
    return st_decompress(codec, in, in_len, max_out_bytes, out);
}

/* Appends the compressed form of an inner message set to `out`, framed as
 * Kafka's Java client writes it for this magic. */
static int legacy_compress(st_codec_t codec, int8_t magic, const uint8_t *in, size_t in_len, st_writer_t *out) {
    size_t start = out->len;
    if (codec == ST_CODEC_SNAPPY) {
        st_write_raw(out, xerial_header, sizeof xerial_header);
        for (size_t done = 0; done < in_len; done += XERIAL_BLOCK_BYTES) {
            size_t n = in_len - done < XERIAL_BLOCK_BYTES ? in_len - done : XERIAL_BLOCK_BYTES;
            size_t length_at = out->len;
            st_write_i32(out, 0);
            int rc = st_compress(ST_CODEC_SNAPPY, in + done, n, out);
            if (rc != 0) return rc;
            st_writer_patch_i32(out, length_at, (int32_t)(out->len - length_at - 4));
        }
        return 0;
    }
    int rc = st_compress(codec, in, in_len, out);
    if (rc != 0) return rc;
    if (codec == ST_CODEC_LZ4 && magic == LEGACY_MAGIC_V0) {
        size_t at = lz4_header_checksum_at(out->data + start, out->len - start);
        if (at == 0) return ST_ERR_IO;
        out->data[start + at] = lz4_header_checksum_v0(out->data + start, at);
    }
    return 0;
}

/* ---- reading and writing messages ----------------------------------------- */

/* Why an entry did not read; static strings for logs and error messages. */
typedef struct read_failure {
    int error;
    const char *why;
} read_failure_t;

static int read_fail(read_failure_t *f, int error, const char *why) {
    f->error = error;
    f->why = why;
    return error;
}

static int read_nullable(st_reader_t *r, const uint8_t **p, int32_t *len) {
    *len = st_read_i32(r);
    *p = NULL;
    if (r->failed || *len < -1) return -1;
    if (*len > 0) {
        *p = st_read_bytes(r, (size_t)*len);
        if (!*p) return -1;
    }
    return 0;
}

/* Reads the entry at the cursor: framing, magic, CRC, fields. Magic 2 is
 * INVALID_RECORD (a v2 batch among v0/v1 messages). */
static int message_read(st_reader_t *set, int32_t message_bytes_max, legacy_message_t *m, read_failure_t *f) {
    if (st_reader_remaining(set) < ST_LEGACY_LOG_OVERHEAD)
        return read_fail(f, ST_ERR_CORRUPT_MESSAGE, "message set ends inside an entry's offset and size");
    const uint8_t *entry = set->pos;
    m->offset = st_read_i64(set);
    int32_t size = st_read_i32(set);
    if (size < ST_LEGACY_RECORD_OVERHEAD_V0)
        return read_fail(f, ST_ERR_CORRUPT_MESSAGE, "message size is less than the minimum message overhead");
    if ((int64_t)size + ST_LEGACY_LOG_OVERHEAD > message_bytes_max)
        return read_fail(f, ST_ERR_MESSAGE_TOO_LARGE, "message is larger than max.message.bytes");
    const uint8_t *body = st_read_bytes(set, (size_t)size);
    if (!body) return read_fail(f, ST_ERR_CORRUPT_MESSAGE, "message set ends inside a message");
    m->magic = (int8_t)entry[LEGACY_MAGIC_AT];
    if (m->magic < 0 || m->magic > LEGACY_MAGIC_V2)
        return read_fail(f, ST_ERR_CORRUPT_MESSAGE, "invalid magic in message");
    if (m->magic == LEGACY_MAGIC_V2)
        return read_fail(f, ST_ERR_INVALID_RECORD, "record batch v2 among v0/v1 messages");
    uint32_t stored = (uint32_t)st_get_i32be(body);
    if ((uint32_t)crc32(0, body + 4, (uInt)(size - 4)) != stored)
        return read_fail(f, ST_ERR_CORRUPT_MESSAGE, "message CRC mismatch");

    st_reader_t r;
    st_reader_init(&r, body + 5, (size_t)size - 5);
    m->attributes = st_read_i8(&r);
    m->timestamp = m->magic >= LEGACY_MAGIC_V1 ? st_read_i64(&r) : -1;
    if (read_nullable(&r, &m->key, &m->key_len) != 0 || read_nullable(&r, &m->value, &m->value_len) != 0)
        return read_fail(f, ST_ERR_CORRUPT_MESSAGE, "message key or value runs past the message");
    if (st_reader_remaining(&r) != 0) return read_fail(f, ST_ERR_CORRUPT_MESSAGE, "bytes after a message's value");
    return 0;
}

static size_t nonnull_len(int32_t len) { return len > 0 ? (size_t)len : 0; }

/* Appends one message; its size and CRC are filled in after the body. */
static void message_write(st_writer_t *w, int64_t offset, int8_t magic, int8_t attributes, int64_t timestamp,
                          const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len) {
    st_write_i64(w, offset);
    size_t size_at = w->len;
    st_write_i32(w, 0);
    st_write_u32(w, 0);
    size_t magic_at = w->len;
    st_write_i8(w, magic);
    st_write_i8(w, attributes);
    if (magic >= LEGACY_MAGIC_V1) st_write_i64(w, timestamp);
    st_write_i32(w, key_len < 0 ? -1 : key_len);
    if (key_len > 0) st_write_raw(w, key, (size_t)key_len);
    st_write_i32(w, value_len < 0 ? -1 : value_len);
    if (value_len > 0) st_write_raw(w, value, (size_t)value_len);
    st_writer_patch_i32(w, size_at, (int32_t)(w->len - size_at - 4));
    st_writer_patch_i32(w, size_at + 4, (int32_t)crc32(0, w->data + magic_at, (uInt)(w->len - magic_at)));
}

static size_t message_bytes(int8_t magic, int32_t key_len, int32_t value_len) {
    return ST_LEGACY_LOG_OVERHEAD + (magic >= LEGACY_MAGIC_V1 ? ST_LEGACY_RECORD_OVERHEAD_V1 : ST_LEGACY_RECORD_OVERHEAD_V0) +
           nonnull_len(key_len) + nonnull_len(value_len);
}

int st_legacy_first_magic(const uint8_t *set, size_t len) {
    return len > LEGACY_MAGIC_AT ? set[LEGACY_MAGIC_AT] : -1;
}

/* ---- up-conversion --------------------------------------------------------- */

static int check_fail(st_batch_check_t *check, int error, const char *why) {
    check->error = error;
    check->error_message = why;
    return error;
}

static void check_record_error(st_batch_check_t *check, st_arena_t *arena, int32_t capacity, int32_t index,
                               const char *why) {
    if (!check->record_errors)
        check->record_errors = st_arena_alloc(arena, (size_t)capacity * sizeof *check->record_errors);
    if (check->record_error_count >= capacity) return;
    check->record_errors[check->record_error_count].batch_index = index;
    check->record_errors[check->record_error_count].message = why;
    check->record_error_count++;
}

/* The per-record rules of LogValidator.validateRecord for one message read
 * out of `outer` (itself, or the wrapper it came in). Returns true when the
 * record may be written. */
static bool validate_record(const legacy_message_t *outer, const legacy_message_t *m, int64_t timestamp,
                            const st_batch_limits_t *limits, bool require_keys, int32_t index, int32_t count,
                            st_arena_t *arena, st_batch_check_t *check, bool *timestamp_error) {
    if (m->magic != outer->magic) {
        check_record_error(check, arena, count, index, "inner message magic does not match the wrapper's");
        return false;
    }
    if (require_keys && m->key_len < 0) {
        check_record_error(check, arena, count, index, "compacted topic cannot accept a message without a key");
        return false;
    }
    if (limits->check_timestamps && timestamp != -1) {
        if (timestamp < limits->timestamp_min || timestamp > limits->timestamp_max) {
            *timestamp_error = true;
            check_record_error(check, arena, count, index,
                               "timestamp out of range (message.timestamp.before.max.ms / after.max.ms)");
            return false;
        }
    } else if (message_log_append_time(outer)) {
        *timestamp_error = true;
        check_record_error(check, arena, count, index, "producer should not set timestamp type to LogAppendTime");
        return false;
    }
    return true;
}

/* Framing pass over a set: counts entries and checks each one reads; with
 * `same_magic`, that all have the first one's magic. Inner sets do not ask
 * for it: there a magic other than the wrapper's is a record error, as
 * Kafka's deep iterator leaves it to LogValidator.validateRecord. */
static int set_scan(const uint8_t *set, size_t len, int32_t message_bytes_max, bool same_magic, int32_t *count,
                    legacy_message_t *first, legacy_message_t *last, bool *any_compressed, st_batch_check_t *check) {
    st_reader_t r;
    st_reader_init(&r, set, len);
    *count = 0;
    *any_compressed = false;
    while (st_reader_remaining(&r) > 0) {
        legacy_message_t m;
        read_failure_t f;
        if (message_read(&r, message_bytes_max, &m, &f) != 0) return check_fail(check, f.error, f.why);
        if (*count == 0) *first = m;
        /* LogValidator.validateBatch: every batch has the first's magic. */
        if (same_magic && m.magic != first->magic)
            return check_fail(check, ST_ERR_INVALID_RECORD, "messages of different magic in one set");
        *last = m;
        st_codec_t codec = message_codec(&m);
        if (codec > ST_CODEC_ZSTD)
            return check_fail(check, ST_ERR_UNSUPPORTED_COMPRESSION_TYPE, "unknown compression codec");
        if (codec == ST_CODEC_ZSTD)
            return check_fail(check, ST_ERR_INVALID_RECORD, "zstd needs message format v2");
        if (codec != ST_CODEC_NONE) *any_compressed = true;
        if (*count == INT32_MAX) return check_fail(check, ST_ERR_MESSAGE_TOO_LARGE, "too many messages");
        (*count)++;
    }
    if (*count == 0) return check_fail(check, ST_ERR_INVALID_RECORD, "message set has no messages");
    return 0;
}

/* Finishes the conversion: record errors decide, else the batch goes out. */
static int up_convert_finish(st_batch_builder_t *b, bool timestamp_error, st_writer_t *out,
                             st_batch_check_t *check) {
    if (check->record_error_count > 0)
        return timestamp_error
                   ? check_fail(check, ST_ERR_INVALID_TIMESTAMP,
                                "one or more records have been rejected due to invalid timestamp")
                   : check_fail(check, ST_ERR_INVALID_RECORD, "one or more records have been rejected");
    size_t start = out->len;
    if (st_batch_builder_finish(b, out) != 0) {
        out->len = start;
        return check_fail(check, ST_ERR_UNKNOWN_SERVER_ERROR, "could not build the converted record batch");
    }
    return 0;
}

static int up_convert_uncompressed(const uint8_t *set, size_t len, int32_t count, const st_batch_limits_t *limits,
                                   int32_t message_bytes_max, bool require_keys, st_arena_t *arena,
                                   st_writer_t *out, st_batch_check_t *check) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    bool timestamp_error = false;
    st_reader_t r;
    st_reader_init(&r, set, len);
    for (int32_t i = 0; i < count; i++) {
        legacy_message_t m;
        read_failure_t f;
        /* Read once already by set_scan: cannot fail now. */
        if (message_read(&r, message_bytes_max, &m, &f) != 0) {
            check_fail(check, f.error, f.why);
            goto out_free_builder;
        }
        if (validate_record(&m, &m, m.timestamp, limits, require_keys, i, count, arena, check, &timestamp_error))
            st_batch_builder_add(&b, i, m.timestamp, m.key, m.key_len, m.value, m.value_len, NULL, 0);
    }
    up_convert_finish(&b, timestamp_error, out, check);
out_free_builder:
    st_batch_builder_free(&b);
    return check->error;
}

static int up_convert_wrapper(const legacy_message_t *wrapper, const st_batch_limits_t *limits, bool require_keys,
                              st_arena_t *arena, st_writer_t *out, st_batch_check_t *check) {
    if (wrapper->value_len < 0) return check_fail(check, ST_ERR_INVALID_RECORD, "compressed message has a null value");
    st_writer_t inner;
    st_writer_init(&inner, 0);
    st_batch_builder_t b;
    st_batch_builder_init(&b, message_codec(wrapper), 0);
    int rc = legacy_decompress(message_codec(wrapper), wrapper->magic, wrapper->value, (size_t)wrapper->value_len,
                               limits->decompressed_bytes_max, arena, &inner);
    if (rc == ST_ERR_LIMIT) {
        check_fail(check, ST_ERR_MESSAGE_TOO_LARGE, "compressed message decompresses beyond the limit");
        goto out_free;
    }
    if (rc != 0) {
        check_fail(check, ST_ERR_CORRUPT_MESSAGE, "compressed message does not decompress");
        goto out_free;
    }

    if (inner.len == 0) {
        check_fail(check, ST_ERR_INVALID_RECORD, "compressed message holds no messages");
        goto out_free;
    }
    int32_t count;
    legacy_message_t first, last;
    bool any_compressed;
    if (set_scan(inner.data, inner.len, INT32_MAX, false, &count, &first, &last, &any_compressed, check) != 0)
        goto out_free;
    if (any_compressed) {
        check_fail(check, ST_ERR_INVALID_RECORD, "inner messages must not be compressed");
        goto out_free;
    }
    /* v1 inner offsets are relative to the wrapper's, which is the last
     * one's absolute offset; 0 is what some librdkafka versions send. */
    if (wrapper->magic == LEGACY_MAGIC_V1 && wrapper->offset != 0 && wrapper->offset < last.offset) {
        check_fail(check, ST_ERR_INVALID_RECORD, "wrapper offset is less than the last inner message offset");
        goto out_free;
    }
    if (count > limits->records_max) {
        check_fail(check, ST_ERR_MESSAGE_TOO_LARGE, "compressed message has too many records");
        goto out_free;
    }

    bool timestamp_error = false;
    st_reader_t r;
    st_reader_init(&r, inner.data, inner.len);
    for (int32_t i = 0; i < count; i++) {
        legacy_message_t m;
        read_failure_t f;
        if (message_read(&r, INT32_MAX, &m, &f) != 0) {
            check_fail(check, f.error, f.why);
            goto out_free;
        }
        /* Inner v1 messages take the wrapper's time when it is LogAppendTime
         * (LegacyRecord with the wrapper's timestamp type). */
        int64_t timestamp = m.magic == LEGACY_MAGIC_V1 && message_log_append_time(wrapper) ? wrapper->timestamp
                                                                                           : m.timestamp;
        if (validate_record(wrapper, &m, timestamp, limits, require_keys, i, count, arena, check, &timestamp_error))
            st_batch_builder_add(&b, i, timestamp, m.key, m.key_len, m.value, m.value_len, NULL, 0);
    }
    up_convert_finish(&b, timestamp_error, out, check);
out_free:
    st_batch_builder_free(&b);
    st_writer_free(&inner);
    return check->error;
}

int st_legacy_up_convert(const uint8_t *set, size_t len, const st_batch_limits_t *limits,
                         int32_t message_bytes_max, bool require_keys, st_arena_t *arena, st_writer_t *out,
                         st_batch_check_t *check) {
    memset(check, 0, sizeof *check);
    int32_t count;
    legacy_message_t first, last;
    bool any_compressed;
    if (set_scan(set, len, message_bytes_max, true, &count, &first, &last, &any_compressed, check) != 0)
        return check->error;
    /* Uncompressed messages may come many to a set, a compressed one alone
     * (LogValidator: "Compressed outer record has more than one batch"). */
    if (any_compressed && count > 1)
        return check_fail(check, ST_ERR_INVALID_RECORD, "a compressed message must be the only one in its set");
    if (!any_compressed) {
        if (count > limits->records_max)
            return check_fail(check, ST_ERR_MESSAGE_TOO_LARGE, "message set has too many records");
        return up_convert_uncompressed(set, len, count, limits, message_bytes_max, require_keys, arena, out, check);
    }
    return up_convert_wrapper(&first, limits, require_keys, arena, out, check);
}

/* ---- down-conversion ------------------------------------------------------- */

typedef struct down_state {
    int8_t magic;
    size_t start;          /* out->len on entry */
    size_t max_out_bytes;
    bool in_first_batch;   /* converting the first batch that gives output */
    bool wrote_any;
    int64_t last_offset;
} down_state_t;

/* Called after a unit (message or wrapper) was appended at `unit_start`:
 * false, and the unit taken back, when it went past the limit. The first
 * batch converted always goes whole, as Kafka sizes a down-converted
 * response to hold at least it (LazyDownConversionRecords). */
static bool unit_fits(down_state_t *s, st_writer_t *out, size_t unit_start) {
    if (!s->in_first_batch && out->len - s->start > s->max_out_bytes) {
        out->len = unit_start;
        return false;
    }
    s->wrote_any = true;
    return true;
}

static int64_t record_timestamp(const st_batch_header_t *h, const st_record_t *rec) {
    if (h->attributes & ST_BATCH_ATTR_LOG_APPEND_TIME) return h->max_timestamp;
    return (int64_t)((uint64_t)h->base_timestamp + (uint64_t)rec->timestamp_delta);
}

/* Messages of one uncompressed batch; *full when output reached its limit. */
static int down_convert_plain(down_state_t *s, const st_batch_header_t *h, st_record_iter_t *it,
                              int64_t fetch_offset, st_writer_t *out, bool *full) {
    int8_t attributes = s->magic >= LEGACY_MAGIC_V1 && (h->attributes & ST_BATCH_ATTR_LOG_APPEND_TIME)
                            ? ST_LEGACY_ATTR_LOG_APPEND_TIME
                            : 0;
    st_record_t rec;
    int rc;
    while ((rc = st_record_iter_next(it, &rec)) == 1) {
        int64_t offset = h->base_offset + rec.offset_delta;
        if (offset < fetch_offset) continue;
        if (message_bytes(s->magic, rec.key_len, rec.value_len) > INT32_MAX) return ST_ERR_CORRUPT_MESSAGE;
        size_t unit_start = out->len;
        message_write(out, offset, s->magic, attributes, record_timestamp(h, &rec), rec.key, rec.key_len,
                      rec.value, rec.value_len);
        if (!unit_fits(s, out, unit_start)) {
            *full = true;
            return 0;
        }
        s->last_offset = offset;
    }
    return rc == 0 ? 0 : ST_ERR_CORRUPT_MESSAGE;
}

/* One wrapper for a compressed batch; *full when output reached its limit. */
static int down_convert_wrapper(down_state_t *s, const st_batch_header_t *h, st_record_iter_t *it,
                                st_writer_t *out, bool *full) {
    bool log_append_time = h->attributes & ST_BATCH_ATTR_LOG_APPEND_TIME;
    int8_t time_attribute = s->magic >= LEGACY_MAGIC_V1 && log_append_time ? ST_LEGACY_ATTR_LOG_APPEND_TIME : 0;
    st_codec_t codec = (st_codec_t)(h->attributes & ST_BATCH_ATTR_CODEC_MASK);
    st_writer_t inner, compressed;
    st_writer_init(&inner, 0);
    st_writer_init(&compressed, 0);
    int64_t first_offset = -1, last_offset = -1, max_timestamp = -1;
    st_record_t rec;
    int rc;
    while ((rc = st_record_iter_next(it, &rec)) == 1) {
        int64_t offset = h->base_offset + rec.offset_delta;
        if (first_offset < 0) first_offset = offset;
        int64_t timestamp = record_timestamp(h, &rec);
        if (timestamp > max_timestamp) max_timestamp = timestamp;
        if (message_bytes(s->magic, rec.key_len, rec.value_len) > INT32_MAX) {
            rc = ST_ERR_CORRUPT_MESSAGE;
            break;
        }
        /* v1: offsets relative to the wrapper's first record; v0: absolute. */
        message_write(&inner, s->magic >= LEGACY_MAGIC_V1 ? offset - first_offset : offset, s->magic,
                      time_attribute, timestamp, rec.key, rec.key_len, rec.value, rec.value_len);
        last_offset = offset;
    }
    if (rc != 0) {
        rc = ST_ERR_CORRUPT_MESSAGE;
        goto out_free;
    }
    if (last_offset < 0) goto out_free; /* no records after all */
    rc = legacy_compress(codec, s->magic, inner.data, inner.len, &compressed);
    if (rc != 0) goto out_free;
    if (compressed.len > INT32_MAX - ST_LEGACY_LOG_OVERHEAD - ST_LEGACY_RECORD_OVERHEAD_V1) {
        rc = ST_ERR_CORRUPT_MESSAGE;
        goto out_free;
    }
    size_t unit_start = out->len;
    int64_t wrapper_timestamp = log_append_time ? h->max_timestamp : max_timestamp;
    message_write(out, last_offset, s->magic, (int8_t)(codec | time_attribute), wrapper_timestamp, NULL, -1,
                  compressed.data, (int32_t)compressed.len);
    if (!unit_fits(s, out, unit_start))
        *full = true;
    else
        s->last_offset = last_offset;
out_free:
    st_writer_free(&compressed);
    st_writer_free(&inner);
    return rc;
}

int st_legacy_down_convert(const uint8_t *log, size_t len, int8_t magic, int64_t fetch_offset,
                           size_t max_out_bytes, size_t decompressed_bytes_max, st_arena_t *arena,
                           st_writer_t *out, int64_t *last_offset_out) {
    down_state_t s = {.magic = magic, .start = out->len, .max_out_bytes = max_out_bytes, .in_first_batch = true,
                      .last_offset = -1};
    int rc = 0;
    if (magic != LEGACY_MAGIC_V0 && magic != LEGACY_MAGIC_V1) {
        rc = ST_ERR_UNSUPPORTED_VERSION;
        goto out;
    }
    size_t pos = 0;
    bool full = false;
    while (!full && len - pos >= ST_BATCH_LOG_OVERHEAD) {
        int32_t batch_length = st_get_i32be(log + pos + 8);
        if (batch_length < ST_BATCH_HEADER_BYTES - ST_BATCH_LOG_OVERHEAD) {
            rc = ST_ERR_CORRUPT_MESSAGE;
            goto out;
        }
        size_t total = (size_t)batch_length + ST_BATCH_LOG_OVERHEAD;
        if (total > len - pos) break; /* a read cut inside the last batch */
        const uint8_t *batch = log + pos;
        pos += total;
        st_batch_header_t h;
        if (st_batch_header_parse(batch, total, &h) != 0) {
            rc = ST_ERR_CORRUPT_MESSAGE;
            goto out;
        }
        if ((h.attributes & ST_BATCH_ATTR_CONTROL) || h.record_count == 0) continue;
        st_codec_t codec = (st_codec_t)(h.attributes & ST_BATCH_ATTR_CODEC_MASK);
        if (codec == ST_CODEC_ZSTD) {
            if (!s.wrote_any) rc = ST_ERR_UNSUPPORTED_COMPRESSION_TYPE;
            goto out;
        }
        if (codec > ST_CODEC_ZSTD) {
            rc = ST_ERR_CORRUPT_MESSAGE;
            goto out;
        }
        st_record_iter_t it;
        if (st_record_iter_init(&it, batch, total, decompressed_bytes_max, arena) != 0) {
            rc = ST_ERR_CORRUPT_MESSAGE;
            goto out;
        }
        /* Kafka drops records before the fetch offset from uncompressed
         * batches only: a wrapper is sent whole. */
        rc = codec == ST_CODEC_NONE ? down_convert_plain(&s, &h, &it, fetch_offset, out, &full)
                                    : down_convert_wrapper(&s, &h, &it, out, &full);
        if (rc != 0) goto out;
        if (s.wrote_any) s.in_first_batch = false;
    }
out:
    if (rc != 0) {
        out->len = s.start;
        s.last_offset = -1;
    }
    if (last_offset_out) *last_offset_out = s.last_offset;
    return rc;
}
