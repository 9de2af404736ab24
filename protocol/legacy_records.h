/*
 * Message format v0 and v1 ("message sets", magic 0 and 1): what Produce
 * v0-2 carries and Fetch v0-3 returns. Strata stores record batch v2 only,
 * so an old producer's set becomes one v2 batch on write and v2 batches
 * become v0/v1 messages on read for an old fetcher, as Kafka 3.x did
 * (message.format.version 3.0: KIP-724).
 *
 * A message set is a sequence of entries, all big-endian:
 *
 *   offset int64 | message_size int32 | crc uint32 | magic int8 |
 *   attributes int8 | timestamp int64 (v1 only) | key_length int32 | key |
 *   value_length int32 | value
 *
 * message_size counts from crc to the end; crc is CRC-32 (IEEE, zlib's)
 * from magic to the end; a length of -1 is null. attributes: the low three
 * bits are the codec (0 none, 1 gzip, 2 snappy, 3 lz4; zstd needs v2), bit 3
 * is LogAppendTime (v1). A compressed message ("wrapper") has a null key and
 * as value the compressed form of an inner set of uncompressed messages of
 * the same magic. v0 inner offsets are absolute; v1 inner offsets are
 * relative (0..n-1) and the wrapper carries the absolute offset of the last.
 * Uncompressed messages are each their own "batch" (one message each).
 */
#ifndef ST_PROTOCOL_LEGACY_RECORDS_H
#define ST_PROTOCOL_LEGACY_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/buf.h"
#include "protocol/record_batch.h"

#define ST_LEGACY_LOG_OVERHEAD 12       /* offset + message_size */
#define ST_LEGACY_RECORD_OVERHEAD_V0 14 /* crc, magic, attributes, key and value lengths */
#define ST_LEGACY_RECORD_OVERHEAD_V1 22 /* ... and the timestamp */
#define ST_LEGACY_ATTR_CODEC_MASK 0x07
#define ST_LEGACY_ATTR_LOG_APPEND_TIME 0x08

/* The magic byte of the first entry of a message set (0-255), or -1 when
 * the set is too short to have one. Produce v0-2 may carry a v2 batch too
 * (Kafka does not check the magic below v3): a handler sends 0 and 1 to
 * st_legacy_up_convert and anything else down the v2 path, which refuses
 * what is not 2. */
int st_legacy_first_magic(const uint8_t *set, size_t len);

/*
 * Validates a v0/v1 message set from a Produce request and converts it into
 * one v2 batch appended to `out`, as Kafka's LogValidator does for a topic
 * on message format v2:
 *
 * - framing: every entry whole, message_size >= 14 and its fields ending
 *   exactly at its end, magic 0 or 1, CRC valid (CORRUPT_MESSAGE); an entry
 *   bigger than `message_bytes_max` (max.message.bytes, counted with its 12
 *   byte log overhead as Kafka does) is MESSAGE_TOO_LARGE;
 * - every entry has the first one's magic; a compressed wrapper is the
 *   set's only entry, has a value, and holds at least one inner message,
 *   none of them compressed; zstd (codec 4) in a v0/v1 wrapper, and a v1
 *   wrapper whose non-zero offset is below its last inner offset, are
 *   INVALID_RECORD; codecs 5-7 UNSUPPORTED_COMPRESSION_TYPE;
 * - the wrapper's value decompresses within limits->decompressed_bytes_max
 *   (else MESSAGE_TOO_LARGE, like st_batch_validate) and to well-formed
 *   inner messages with valid CRCs (CORRUPT_MESSAGE); a v0 LZ4 frame's
 *   header checksum is not checked (Kafka 0.8/0.9 computed it over the
 *   frame's magic too, so Kafka ignores it for v0);
 * - per record (KIP-467 record errors, batch_index = the record's position
 *   in the set): an inner magic other than the wrapper's and a missing key
 *   on a compacted topic (`require_keys`) are INVALID_RECORD; with
 *   limits->check_timestamps (CreateTime topics) a v1 timestamp other than
 *   -1 outside [timestamp_min, timestamp_max] is INVALID_TIMESTAMP, and so is
 *   a producer's LogAppendTime attribute where that check does not apply;
 * - more than limits->records_max records is MESSAGE_TOO_LARGE.
 *
 * Stricter than Kafka, which trims a trailing partial entry and answers an
 * empty set with success and no offset: here both are errors
 * (CORRUPT_MESSAGE, INVALID_RECORD), as for v2 batches.
 *
 * The batch: base offset 0, no producer id, CreateTime, the wrapper's codec
 * (none for uncompressed sets; the caller applies compression.type), one
 * record per message with its key and value, no headers, and as timestamp
 * -1 for v0, the message's for v1 (the wrapper's when the wrapper says
 * LogAppendTime, as Kafka reads inner v1 messages). On error `out` is left
 * as it was. Scratch memory and record errors come from `arena`. Returns
 * check->error.
 */
int st_legacy_up_convert(const uint8_t *set, size_t len, const st_batch_limits_t *limits,
                         int32_t message_bytes_max, bool require_keys, st_arena_t *arena, st_writer_t *out,
                         st_batch_check_t *check);

/*
 * Converts v2 batches read from a partition for a Fetch v0-3 into message
 * format `magic` (0 for Fetch v0-1, 1 for v2-3), appending to `out`, as
 * Kafka's RecordsUtil.downConvert / LazyDownConversionRecords do:
 *
 * - a partial batch at the end of `log` (a read cut at the fetch size) is
 *   ignored; control batches are skipped, as are empty ones;
 * - an uncompressed batch becomes one message per record at or after
 *   `fetch_offset` (earlier ones are dropped: some librdkafka versions rely
 *   on it); a compressed batch becomes one wrapper with every record, in
 *   the batch's codec (gzip; snappy in the xerial framing of Kafka's Java
 *   client; lz4, with the v0 header checksum Kafka 0.8/0.9 clients check);
 * - offsets are the records' absolute offsets (v1 wrappers: relative inner
 *   offsets, the wrapper at the last); headers are dropped; v1 keeps the
 *   timestamps (the batch's LogAppendTime, with the attribute, when it has
 *   one); v0 has none.
 *
 * Output stops at whole messages (uncompressed) or wrappers once more
 * would pass `max_out_bytes`, but the first one is always whole, so a
 * client always makes progress (KIP-74). A zstd batch cannot be expressed
 * in v0/v1: first, it is ST_ERR_UNSUPPORTED_COMPRESSION_TYPE (Kafka answers
 * the partition UNSUPPORTED_COMPRESSION_TYPE); later, output stops before
 * it. A batch that does not parse or decompress (within
 * `decompressed_bytes_max`) is ST_ERR_CORRUPT_MESSAGE. On error `out` is
 * left as it was. `*last_offset_out` (may be NULL) gets the offset of the
 * last record converted, -1 if none. Scratch memory comes from `arena`.
 */
int st_legacy_down_convert(const uint8_t *log, size_t len, int8_t magic, int64_t fetch_offset,
                           size_t max_out_bytes, size_t decompressed_bytes_max, st_arena_t *arena,
                           st_writer_t *out, int64_t *last_offset_out);

#endif
