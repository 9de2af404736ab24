/*
 * Record batch v2 (magic 2), the unit Strata receives, stores and serves.
 * Layout (docs/implementation.html of Kafka):
 *
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 |
 *   magic int8 | crc uint32 | attributes int16 | lastOffsetDelta int32 |
 *   baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
 *   producerEpoch int16 | baseSequence int32 | records count int32 | records
 *
 * batchLength counts the bytes after itself; the CRC-32C covers from
 * attributes to the end. The broker rewrites baseOffset and
 * partitionLeaderEpoch (not covered by the CRC) and, for LogAppendTime,
 * maxTimestamp (covered: the CRC is recomputed).
 */
#ifndef ST_PROTOCOL_RECORD_BATCH_H
#define ST_PROTOCOL_RECORD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/buf.h"
#include "protocol/compression.h"

#define ST_BATCH_HEADER_BYTES 61
#define ST_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
#define ST_BATCH_CRC_OFFSET 17
#define ST_BATCH_ATTRIBUTES_OFFSET 21

#define ST_BATCH_ATTR_CODEC_MASK 0x07
#define ST_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define ST_BATCH_ATTR_TRANSACTIONAL 0x10
#define ST_BATCH_ATTR_CONTROL 0x20
#define ST_BATCH_ATTR_DELETE_HORIZON 0x40

typedef struct st_batch_header {
    int64_t base_offset;
    int32_t batch_length; /* bytes after this field */
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} st_batch_header_t;

static inline int64_t st_batch_total_bytes(const st_batch_header_t *h) {
    return (int64_t)h->batch_length + ST_BATCH_LOG_OVERHEAD;
}
static inline int64_t st_batch_last_offset(const st_batch_header_t *h) {
    return h->base_offset + h->last_offset_delta;
}

/* Parses the fixed 61-byte header at `p` (needs len >= 61). Returns 0, or
 * ST_ERR_CORRUPT_MESSAGE when len is short or batch_length < 49, or
 * ST_ERR_UNSUPPORTED_VERSION (magic != 2). Does not check the CRC. */
int st_batch_header_parse(const uint8_t *p, size_t len, st_batch_header_t *h);

/* True when the CRC stored in the batch matches its bytes; `len` must be
 * the batch's total size. */
bool st_batch_crc_valid(const uint8_t *batch, size_t len);

/* In-place rewrites for the append path. */
void st_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void st_batch_set_partition_leader_epoch(uint8_t *batch, int32_t epoch);
/* Sets maxTimestamp and the LogAppendTime attribute bit, then recomputes
 * the CRC (both are covered by it). `len` is the batch's total size. */
void st_batch_set_log_append_time(uint8_t *batch, size_t len, int64_t timestamp_ms);

typedef struct st_record_header {
    const uint8_t *key;
    int32_t key_len;   /* -1 for null */
    const uint8_t *value;
    int32_t value_len; /* -1 for null */
} st_record_header_t;

/* One record, pointing into the (decompressed) records buffer. */
typedef struct st_record {
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    const uint8_t *key;
    int32_t key_len;   /* -1 for null */
    const uint8_t *value;
    int32_t value_len; /* -1 for null */
    int32_t header_count;
    st_record_header_t *headers; /* arena-allocated, header_count long */
} st_record_t;

/* Limits applied while validating a batch from a client. */
typedef struct st_batch_limits {
    size_t decompressed_bytes_max; /* cap on one batch's decompressed records */
    int32_t records_max;           /* cap on records in one batch */
    /* CreateTime topics: every record's timestamp (but -1, "none") must lie
     * in [timestamp_min, timestamp_max], else INVALID_TIMESTAMP. */
    bool check_timestamps;
    int64_t timestamp_min;
    int64_t timestamp_max;
} st_batch_limits_t;

/* A per-record error for Produce's RecordErrors (KIP-467). */
typedef struct st_record_error {
    int32_t batch_index; /* index of the record inside its batch */
    const char *message; /* static string */
} st_record_error_t;

typedef struct st_batch_check {
    int error;                  /* 0 or a Kafka error code */
    const char *error_message;  /* static string or NULL */
    st_record_error_t *record_errors; /* arena-allocated */
    int32_t record_error_count;
} st_batch_check_t;

/*
 * Full validation of one batch sent by a producer, as Kafka's
 * LogValidator does: header sane, CRC valid (CORRUPT_MESSAGE), codec known
 * and payload decompresses within limits (CORRUPT_MESSAGE /
 * UNSUPPORTED_COMPRESSION_TYPE), records count matches and offset deltas
 * run 0..n-1 with lastOffsetDelta = n-1 (INVALID_RECORD with per-record
 * errors), no control batch (INVALID_RECORD), keys present when
 * `require_keys` (compacted topics: INVALID_RECORD). `batch`/`len` is one
 * whole batch. Returns check->error. Scratch memory comes from `arena`.
 * Also, as Kafka does: baseOffset must be 0 and an idempotent batch needs a
 * baseSequence (INVALID_RECORD); magic other than 2 is INVALID_RECORD. A
 * batch beyond `limits` (decompressed bytes or record count) gets
 * MESSAGE_TOO_LARGE, which makes the Java producer split it and retry.
 * Record timestamps outside the limits are per-record errors, and then the
 * batch's error is INVALID_TIMESTAMP rather than INVALID_RECORD (Kafka's
 * LogValidator.processRecordErrors).
 */
int st_batch_validate(const uint8_t *batch, size_t len, const st_batch_limits_t *limits,
                      bool require_keys, st_arena_t *arena, st_batch_check_t *check);

/*
 * st_batch_validate in steps: each st_batch_validation_step does about
 * `work_bytes` of work (bytes checksummed, decompressed or parsed; at least
 * a little) and says whether the verdict is in, so a caller can spread a
 * batch that inflates to the decompression limit over several turns of an
 * event loop. Decompressed records are parsed from a 256 KiB window as they
 * come (a larger record field by field, its key and value skipped: memory
 * does not grow with the batch or its records), and validation stops
 * at the first fault, so a payload that turns bad early is never inflated
 * further. The verdict equals st_batch_validate's for the same input.
 *
 * `batch` and `arena` are borrowed until st_batch_validation_end, which
 * frees the validation's buffers and returns (and copies) the verdict.
 * Record errors are allocated in `arena`, as the number found requires.
 */
/* A record larger than the validation window, parsed as it streams past. */
typedef struct st_big_record {
    size_t total;     /* length prefix and body */
    size_t body_left; /* body bytes not yet parsed */
    int field;        /* the next field (record_batch.c) */
    int after_skip;
    size_t skip;      /* key or value bytes still to pass over */
    int32_t headers_left;
    st_record_t rec;  /* its fields, for the record-level rules */
} st_big_record_t;

typedef struct st_batch_validation {
    const uint8_t *batch;
    size_t len;
    st_batch_limits_t limits;
    bool require_keys;
    st_arena_t *arena;
    int stage;
    st_batch_header_t header;
    size_t done_bytes; /* of the batch, checksummed */
    uint32_t crc;
    bool compressed;
    st_decompressor_t decompressor;
    uint8_t *window; /* records being parsed: decompressed (owned) or the payload */
    size_t window_cap;
    size_t window_len;
    size_t window_pos;
    bool source_finished; /* no record bytes beyond the window */
    int source_error;     /* why the decompressed stream ended early (0: it did not) */
    size_t records_bytes; /* of the records parsed so far */
    bool big_active;      /* `big` is the record being parsed */
    st_big_record_t big;
    int32_t record_index;
    int32_t record_error_cap;
    bool timestamp_error;
    st_batch_check_t check;
} st_batch_validation_t;

void st_batch_validation_begin(st_batch_validation_t *v, const uint8_t *batch, size_t len,
                               const st_batch_limits_t *limits, bool require_keys, st_arena_t *arena);
/* True once the verdict is in (then only st_batch_validation_end). */
bool st_batch_validation_step(st_batch_validation_t *v, size_t work_bytes);
/* Releases the buffers; copies the verdict to `check` (may be NULL) and
 * returns its error. */
int st_batch_validation_end(st_batch_validation_t *v, st_batch_check_t *check);

/*
 * Iterates records of one batch. st_record_iter_init decompresses into
 * arena memory when needed (bounded by decompressed_bytes_max). Returns 0
 * or an error code.
 */
typedef struct st_record_iter {
    st_reader_t reader;
    int32_t remaining;
    st_arena_t *arena;
} st_record_iter_t;

int st_record_iter_init(st_record_iter_t *it, const uint8_t *batch, size_t len,
                        size_t decompressed_bytes_max, st_arena_t *arena);
/* Returns 1 and fills `rec`, 0 at the end, or a negative/Kafka error code
 * on malformed data. */
int st_record_iter_next(st_record_iter_t *it, st_record_t *rec);

/*
 * Builds a v2 batch (tools, tests, the metadata log, compaction rewrites,
 * __consumer_offsets). Records are appended with explicit offset deltas so
 * compaction can keep the original offsets.
 */
typedef struct st_batch_builder {
    st_writer_t records; /* uncompressed record bytes */
    st_codec_t codec;
    int16_t attributes_extra; /* e.g. ST_BATCH_ATTR_CONTROL | TRANSACTIONAL */
    int64_t base_offset;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t partition_leader_epoch;
    int32_t record_count;
    int32_t last_offset_delta;
} st_batch_builder_t;

/* Producer fields default to -1 (no producer), timestamps to the first
 * record's. */
void st_batch_builder_init(st_batch_builder_t *b, st_codec_t codec, int64_t base_offset);
void st_batch_builder_free(st_batch_builder_t *b);
void st_batch_builder_add(st_batch_builder_t *b, int32_t offset_delta, int64_t timestamp_ms,
                          const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len,
                          const st_record_header_t *headers, int32_t header_count);
/* Appends the finished batch (header, CRC, compressed records) to `out`.
 * Returns 0 or an error from the codec. */
int st_batch_builder_finish(st_batch_builder_t *b, st_writer_t *out);

/*
 * Control batches (Kafka's ControlRecordType and EndTransactionMarker). A
 * control batch has ST_BATCH_ATTR_CONTROL; each record's key is
 * version int16 (0) | type int16. A transaction marker is a control batch
 * that is also transactional, written by a partition leader for one
 * producer (its id and epoch, base sequence -1) when the transaction
 * coordinator ends the producer's transaction: one record, at offset delta
 * 0, of type ABORT or COMMIT, whose value is
 * version int16 (0) | coordinatorEpoch int32.
 */
#define ST_CONTROL_TYPE_ABORT 0
#define ST_CONTROL_TYPE_COMMIT 1
#define ST_CONTROL_TYPE_LEADER_CHANGE 2 /* KIP-595 (raft/) */
#define ST_CONTROL_KEY_BYTES 4
#define ST_TXN_MARKER_VALUE_BYTES 6

typedef struct st_txn_marker {
    bool commit;               /* COMMIT, else ABORT */
    int32_t coordinator_epoch; /* epoch of the coordinator's __transaction_state partition */
} st_txn_marker_t;

/* Appends a marker batch for the producer to `out`: magic 2, control and
 * transactional, uncompressed, base offset 0 (the log assigns it), leader
 * epoch -1 (the log sets it), timestamp_ms as the record's time. */
void st_txn_marker_batch_build(st_writer_t *out, int64_t producer_id, int16_t producer_epoch,
                               const st_txn_marker_t *marker, int64_t timestamp_ms);

/* Reads the marker of one whole control batch (`len` its total size). 0 and
 * *out; ST_ERR_NOT_FOUND when the batch is a control batch without a
 * COMMIT/ABORT record (emptied by compaction, or another control type such
 * as LEADER_CHANGE); ST_ERR_CORRUPT_MESSAGE when it is not a control batch or
 * its record does not parse (a key or value shorter than its version, a
 * negative version). Newer versions of the key or value are read as version
 * 0, as Kafka does. Does not check the CRC. */
int st_txn_marker_batch_parse(const uint8_t *batch, size_t len, st_txn_marker_t *out);

#endif
