/*
 * A partition's log on disk (Kafka's UnifiedLog + LogLoader): a directory
 * `<topic>-<partition>` of segments named by their 20-digit base offset,
 * checkpoints for the log start offset, the recovery point and leader
 * epochs, and a clean-shutdown marker.
 *
 * States:
 *
 *                 st_log_open (recover segments past the recovery point,
 *                        |     and any segment found damaged)
 *                        v
 *   +------------->  WRITABLE  --write fails, ENOSPC/EDQUOT-->  FAILED (space)
 *   | append, roll,    |  ^  ^                                   |  |
 *   | retention,       |  |  +---- tail re-checked from disk ----+  | fsync error,
 *   | compact, trunc.  |  |   (st_log_append, st_log_maybe_flush,    | EIO, tail
 *   +------------------+  |    st_log_enforce_retention,             | not as written
 *                      |  |    st_log_compact; at most every 100 ms) v
 *                      |  +--- any other I/O failure ---------->  FAILED (for good)
 *                      | st_log_close (flush, marker)                |
 *                      v                                             | st_log_close
 *                   CLOSED  <----------------------------------------+
 *
 * FAILED is sticky (SQLite pager style): writes return
 * ST_ERR_KAFKA_STORAGE_ERROR, reads still work. It is left only through a
 * re-check of the active segment's tail from disk, and only when the
 * failure was a lack of space on a write (nothing the disk holds differs
 * from what memory says, once the failed write's partial bytes are cut);
 * after anything else (an fsync error, after which the page cache cannot
 * be trusted) only a reopen, which recovers from disk, ends it. Each
 * failure is logged once at ERROR with its errno, its end at INFO.
 * Checkpoints that only save recovery work (recovery point, leader epochs)
 * do not fail the log when they cannot be written: the older value on disk
 * is safe, and they are retried.
 *
 * Invariants:
 *  1. At least one segment exists; the last one is active, the others are
 *     inactive. The active one's indexes are writable from its first
 *     change on; after a clean open they stay read-only until then.
 *  2. Segment base offsets strictly increase; each segment's offsets lie
 *     below the next segment's base offset.
 *  3. segments[0].base_offset <= start_offset <= end_offset.
 *  4. recovery_point <= end_offset; everything below it has been fsynced.
 *  6. While the clean-shutdown marker exists, every segment file is whole
 *     and fsynced: it is removed, and the directory fsynced, before the
 *     first change to a segment after open (not at open: a log opened and
 *     closed without changes stays clean, and its close writes nothing).
 *  7. A checkpoint file is rewritten only when its value changed since it
 *     was last read (after a clean shutdown) or written.
 *  5. Leader epochs increase strictly, start offsets never decrease, and all
 *     start offsets are < end_offset or equal to it for the latest epoch.
 *
 * Not thread-safe: callers serialise access to one log (the server keeps a
 * partition on one thread; compaction is called from there too).
 */
#ifndef ST_STORAGE_LOG_H
#define ST_STORAGE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/file_ref.h"
#include "storage/txn_index.h"

typedef struct st_log st_log_t;

typedef struct st_log_config {
    int64_t segment_bytes;          /* log.segment.bytes (ST_CONFIG_DEFAULT_LOG_SEGMENT_BYTES) */
    int64_t segment_ms;             /* log.roll.ms, default 604800000 */
    int32_t index_interval_bytes;   /* log.index.interval.bytes, default 4096 */
    int32_t index_bytes_max;        /* log.index.size.max.bytes, default 10485760 */
    int64_t retention_ms;           /* retention.ms, -1 unlimited, default 604800000 */
    int64_t retention_bytes;        /* retention.bytes, -1 unlimited */
    bool cleanup_delete;            /* cleanup.policy contains delete */
    bool cleanup_compact;           /* cleanup.policy contains compact */
    int64_t delete_retention_ms;    /* delete.retention.ms, default 86400000 */
    int64_t min_compaction_lag_ms;  /* min.compaction.lag.ms, default 0 */
    int64_t max_compaction_lag_ms;  /* max.compaction.lag.ms, default INT64_MAX */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio, default 0.5 */
    int64_t flush_messages;         /* flush.messages, default INT64_MAX: fsync after this many records */
    int64_t flush_ms;               /* flush.ms, default INT64_MAX */
    size_t decompressed_bytes_max;  /* bound when reading records (compaction) */
    int64_t drop_behind_bytes;      /* strata.log.drop.behind.bytes: page cache kept behind the end of
                                     * the active segment (storage/drop_behind.h); -1: the kernel decides */
    /* Called after a new segment is rolled, with its base offset (the server
     * snapshots producer state there). May be NULL. */
    void (*on_roll)(void *ctx, int64_t new_segment_base_offset);
    void *on_roll_ctx;
} st_log_config_t;

#define ST_LOG_DROP_BEHIND_BYTES_DEFAULT (256LL * 1024 * 1024)

/* Smallest values a log accepts. The segment floor is not the user-facing
 * minimum (ST_CONFIG_MIN_LOG_SEGMENT_BYTES in common/limits.h, which config
 * validation applies): it is what a segment needs to hold at all, one legacy
 * record's overhead (Kafka's LegacyRecord.RECORD_OVERHEAD_V0, the old
 * segment.bytes validator), and lets unit tests roll tiny segments. */
#define ST_LOG_SEGMENT_BYTES_FLOOR 14
#define ST_LOG_INDEX_BYTES_MIN 4
/* Name of the marker st_log_close leaves in the partition directory. */
#define ST_LOG_CLEAN_SHUTDOWN_FILE ".clean-shutdown"

/* Kafka's defaults; segment_bytes is log.segment.bytes's, from common/limits.h.
 * The broker overwrites every field from the topic's settings. */
void st_log_config_default(st_log_config_t *cfg);

/* Opens or creates the partition log in `dir` (created if missing).
 * Recovery (Kafka's LogLoader): segments after the recovery point (after an
 * unclean shutdown, detected by the missing clean-shutdown marker that
 * st_log_close writes), the active segment, segments whose indexes fail the
 * load checks and sealed segments whose .log was written after their
 * indexes are scanned batch by batch (header sane, magic 2, CRC valid,
 * offsets increasing and below the next segment's base). In each, the first
 * bad or torn batch and everything after it is truncated away (one WARN
 * line: file, position, bytes cut and kept, why); later segments are kept,
 * so the offsets lost leave a gap that reads step over. Missing, corrupt or
 * inconsistent indexes are rebuilt (INFO; after a clean shutdown, indexes
 * that agree with the scan are kept untouched); after an unclean shutdown
 * (INFO) everything is fsynced so the recovery point can move to the end.
 * Opening an intact, cleanly closed log writes nothing; leftovers of an
 * interrupted compaction are finished or removed. On success the caller
 * owns *out and releases it with st_log_close or st_log_delete. The
 * aborted-transaction indexes of the segments from the first one recovered
 * on are rebuilt from their batches (storage/txn_rebuild.h), when they may
 * hold entries. Returns 0, ST_ERR_INVALID_CONFIG or an I/O error. */
int st_log_open(const char *dir, const st_log_config_t *cfg, int64_t now_ms, st_log_t **out);
/* Flushes, writes the clean-shutdown marker, frees; each step only when the
 * disk does not hold it yet (no fsync for a log unchanged since a clean
 * open). NULL is a no-op. */
void st_log_close(st_log_t *log);
/* AlterConfigs at run time; index sizes apply from the next roll.
 * ST_ERR_INVALID_CONFIG on values outside Kafka's ranges. */
int st_log_set_config(st_log_t *log, const st_log_config_t *cfg);

typedef struct st_log_append_result {
    int64_t base_offset;
    int64_t last_offset;
    int64_t log_append_time_ms; /* -1 unless log_append_time */
    int64_t log_start_offset;
} st_log_append_result_t;

/* Appends already-validated batches (one or more whole v2 batches,
 * contiguous in `batches`). Assigns offsets from the log end offset,
 * rewriting each batch's baseOffset and partitionLeaderEpoch in place (and
 * LogAppendTime when log_append_time); rolls first when the active segment is
 * non-empty and would exceed segment_bytes, is older than segment_ms, or has
 * a full index; writes with one write(2); fsyncs per flush.messages. A
 * leader_epoch above the latest known one is recorded (as Kafka does on
 * append). The data is in the page cache on return (survives kill -9).
 * Errors: ST_ERR_CORRUPT_MESSAGE (framing), ST_ERR_KAFKA_STORAGE_ERROR (I/O,
 * now or earlier: the log is FAILED, and nothing of this call is in it). A
 * log FAILED for lack of space re-checks its tail first (see States). */
int st_log_append(st_log_t *log, uint8_t *batches, size_t len, int32_t leader_epoch, int64_t now_ms,
                  bool log_append_time, st_log_append_result_t *res);

int64_t st_log_start_offset(const st_log_t *log);
int64_t st_log_end_offset(const st_log_t *log); /* next offset to be assigned */
int64_t st_log_size_bytes(const st_log_t *log);
int32_t st_log_segment_count(const st_log_t *log);
/* Offset below which everything is fsynced. */
int64_t st_log_recovery_point(const st_log_t *log);
/* Base offset of the active (last) segment. */
int64_t st_log_active_segment_base(const st_log_t *log);
/* True while an I/O error holds the log in its failed state. */
bool st_log_failed(const st_log_t *log);

typedef struct st_log_read_result {
    int fd; /* dup()ed, caller closes; -1 when len == 0 */
    int64_t file_pos;
    int32_t len;
} st_log_read_result_t;

/* Whole batches of ONE segment starting with the batch that contains
 * `offset` (an offset inside a batch returns that whole batch), at most
 * max_bytes, except that when min_one_batch the first batch is returned even
 * if larger (KIP-74). offset == end offset -> len 0. offset < start or > end
 * -> ST_ERR_OFFSET_OUT_OF_RANGE. When no batch of the segment reaches
 * `offset` (a gap: compaction removed those offsets, or recovery cut them
 * from a damaged segment), the next segment's first batch is returned, as
 * Kafka's read moves on to the next segment. */
int st_log_read(st_log_t *log, int64_t offset, int32_t max_bytes, bool min_one_batch, st_log_read_result_t *res);

typedef struct st_log_shared_read {
    st_file_ref_t *file; /* a reference the caller releases; NULL when len == 0 */
    int64_t file_pos;
    int32_t len;
} st_log_shared_read_t;

/* st_log_read for a reader that keeps the range past this call (a response
 * sent later): the segment's descriptor is shared by reference count instead
 * of dup()ed, so it costs no descriptor while the segment is open and keeps
 * the file readable if the segment goes first (storage/file_ref.h). */
int st_log_read_shared(st_log_t *log, int64_t offset, int32_t max_bytes, bool min_one_batch,
                       st_log_shared_read_t *res);

/* Calls fn for each whole batch from the one containing from_offset (raised
 * to the log start offset) to the end, or until fn returns non-zero (which
 * is returned). The batch memory is only valid during the call. */
int st_log_for_each_batch(st_log_t *log, int64_t from_offset,
                          int (*fn)(void *ctx, const uint8_t *batch, size_t len), void *ctx);

/* KIP-79: first offset >= log start whose record timestamp >= ts (time
 * index, then records); ST_ERR_NOT_FOUND if none. Also returns that
 * record's timestamp. */
int st_log_offset_for_timestamp(st_log_t *log, int64_t ts, int64_t *offset, int64_t *timestamp);
/* KIP-734: offset and timestamp of the first record with the largest
 * timestamp; ST_ERR_NOT_FOUND when no record has a timestamp. */
int st_log_max_timestamp(st_log_t *log, int64_t *offset, int64_t *timestamp);

/* DeleteRecords: moves the log start offset forward (persisted first),
 * then deletes segments entirely below it. offset > end ->
 * ST_ERR_OFFSET_OUT_OF_RANGE; offset <= start is a no-op. */
int st_log_delete_records(st_log_t *log, int64_t offset);
/* Deletes whole segments by retention.ms (largest timestamp older than
 * now - retention) and retention.bytes (oldest first while size - segment >=
 * retention), both only with cleanup.policy=delete, and segments below the
 * log start offset; never leaves zero segments (rolls an empty active
 * segment first when the active one must go). Returns the number of deleted
 * segments or an error. */
int st_log_enforce_retention(st_log_t *log, int64_t now_ms);
/* Compaction for cleanup.policy=compact over the inactive segments older
 * than min.compaction.lag.ms: keeps the latest record per key (batches
 * rebuilt keep their base/last offsets, producer fields and record
 * timestamps), drops tombstones in segments whose largest timestamp is older
 * than now - delete.retention.ms, keeps an emptied batch when it is its
 * producer's last one, never touches the active segment. Each changed
 * segment is replaced atomically (<base>.log.cleaned -> .log.swap -> .log);
 * emptied segments other than the first are deleted. A no-op without
 * cleanup_compact. Returns 0 or an error (ST_ERR_LIMIT when even one
 * segment's keys do not fit the cleaner's map). */
int st_log_compact(st_log_t *log, int64_t now_ms);

/* Compaction that leaves alone everything at or past uncleanable_offset
 * (Kafka's firstUncleanableDirtyOffset includes the partition's first
 * unstable offset: no open transaction's data, nor anything after it, is
 * cleaned; pass INT64_MAX when nothing is open). On top of st_log_compact:
 * the data of aborted transactions (found through the transaction indexes)
 * is removed and never enters the key map, and a transaction's marker goes
 * once no batch of it is left, in segments older than delete.retention.ms
 * (Kafka's LogCleaner with CleanedTransactionMetadata); the cleaned
 * segment's .txnindex keeps the entries whose marker stays. st_log_compact
 * is this with INT64_MAX. */
int st_log_compact_below(st_log_t *log, int64_t now_ms, int64_t uncleanable_offset);

/* After the ABORT marker at entry->last_offset was appended (it is in the
 * active segment): records the aborted transaction in that segment's
 * .txnindex (written now, fsynced with the segment). A failure fails the log
 * for good (ST_ERR_KAFKA_STORAGE_ERROR): the recovery at the next open
 * rebuilds the entry, as the recovery point has not passed the marker. */
int st_log_append_aborted_txn(st_log_t *log, const st_aborted_txn_t *entry);

/* Fetch's aborted_transactions (Kafka's collectAbortedTransactions): the
 * entries of the segments from the one holding from_offset on, whose
 * transactions overlap [from_offset, upper_bound_offset), in marker order,
 * appended to *out (the caller frees it). Stops at the first segment whose
 * index says nothing later overlaps. 0 or ST_ERR_NO_MEMORY. */
int st_log_collect_aborted_txns(const st_log_t *log, int64_t from_offset, int64_t upper_bound_offset,
                                st_aborted_txns_t *out);

/* fsync log + indexes up to end, advance recovery point; no I/O when nothing
 * changed since the last flush. 0 means everything below the end offset is
 * durable, even when the recovery-point checkpoint could not be written
 * (it is retried; see States). */
int st_log_flush(st_log_t *log);
int st_log_maybe_flush(st_log_t *log, int64_t now_ms); /* fsync if flush.ms elapsed since last flush */
/* Drops everything >= offset (replication). Whole batches go: a batch that
 * holds `offset` is removed entirely and the end offset becomes `offset`.
 * Truncating below the first segment empties the log and restarts it at
 * `offset`. */
int st_log_truncate_to(st_log_t *log, int64_t offset);

/* Leader epochs (KIP-101/279): remember that `epoch` starts at
 * start_offset; persisted in leader-epoch-checkpoint. Kafka's rules: a
 * repeat of the latest epoch is ignored; entries with a larger-or-equal
 * epoch or start offset are replaced. */
int st_log_assign_epoch(st_log_t *log, int32_t epoch, int64_t start_offset);
/* OffsetForLeaderEpoch (Kafka's endOffsetFor): for the latest epoch, the log
 * end; otherwise the start offset of the next larger epoch together with
 * the largest known epoch <= requested (the requested epoch itself when it is
 * below every known one); -1/-1 when unknown or above every known epoch. */
void st_log_end_offset_for_epoch(const st_log_t *log, int32_t epoch, int32_t *epoch_out, int64_t *end_offset_out);
/* Latest epoch, -1 when none. */
int32_t st_log_latest_epoch(const st_log_t *log);
int st_log_delete(st_log_t *log); /* closes and removes the directory (DeleteTopics) */

#endif
