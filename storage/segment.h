/*
 * One log segment (Kafka's LogSegment): `<base>.log` holding record batches
 * exactly as on the wire, plus its sparse `.index` and `.timeindex`, and the
 * `.txnindex` of the transactions aborted in it (storage/txn_index.h).
 * The segment owns its file descriptor and the indexes; the log owns the
 * list of segments and decides when they roll, recover or go away, and
 * when the transaction index is appended to, reset and rebuilt.
 *
 * States:
 *
 *   create/open --> inactive (indexes trimmed, read-only)
 *                     |   ^
 *       make_active   |   | make_inactive (final time-index entry + trim)
 *                     v   |
 *                   active (indexes preallocated and writable; appends)
 *
 *   recover: any state; rescans the .log, truncates the first bad batch and
 *   all after it, rebuilds both indexes (leaves them writable).
 *   recheck_tail: active, after a failed write; cuts what the write left
 *   past size_bytes and checks that the tail is as memory says.
 *
 * Invariants:
 *  1. Bytes [0, size_bytes) of the .log are whole batches with increasing
 *     offsets starting at >= base_offset (established by recover or append,
 *     trusted after a clean load of an inactive segment).
 *  2. next_offset is one past the last offset stored (an upper bound taken
 *     from the next segment for segments not rescanned).
 *  3. max_timestamp / offset_of_max_timestamp describe the batch with the
 *     largest maxTimestamp (first one on ties), -1 when none is known.
 *
 * Not thread-safe: the owning log serialises calls.
 */
#ifndef ST_STORAGE_SEGMENT_H
#define ST_STORAGE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/record_batch.h"
#include "storage/drop_behind.h"
#include "storage/file_ref.h"
#include "storage/offset_index.h"
#include "storage/time_index.h"
#include "storage/txn_index.h"

typedef struct st_segment {
    const char *dir; /* borrowed from the owning log */
    int64_t base_offset;
    int fd;
    st_file_ref_t *fd_ref; /* owns fd once shared (st_segment_share_fd); NULL before */
    int64_t size_bytes;
    int64_t next_offset;
    int64_t max_timestamp;
    int64_t offset_of_max_timestamp; /* last offset of the batch holding it */
    int64_t first_batch_timestamp;   /* roll-by-time basis (Kafka's rollingBasedTimestamp) */
    int64_t created_ms;
    int64_t bytes_since_index_entry;
    bool indexes_loaded_sane;        /* set by st_segment_open */
    /* Why they are not (a static string), NULL when they are. */
    const char *index_problem;
    /* The .log's mtime is later than its indexes': something wrote it after
     * they were last written (a sealed segment's indexes are trimmed after
     * its last append), so it is checked before it is trusted. */
    bool modified_after_indexes;
    st_drop_behind_t drop_behind;    /* of the .log, while it is appended to */
    st_offset_index_t offset_index;
    st_time_index_t time_index;
    st_txn_index_t txn_index;
} st_segment_t;

/* "<dir>/<20-digit base><suffix>" into `out` (ST_FS_PATH_MAX bytes). */
int st_segment_path(char *out, const char *dir, int64_t base_offset, const char *suffix);

/* Creates an empty active segment (truncating stale files of that name).
 * The caller owns *out and releases it with st_segment_close/delete. */
int st_segment_create(const char *dir, int64_t base_offset, int32_t index_bytes_max, int64_t now_ms,
                      st_segment_t **out);
/* Opens an existing segment, inactive. next_offset is set to
 * `next_offset_bound` and the timestamp fields from the time index;
 * indexes_loaded_sane says whether the indexes passed the load checks
 * (missing index files count as not sane) and index_problem why not;
 * modified_after_indexes compares the files' mtimes (no extra syscall: both
 * are fstat()ed to open them). The transaction index is loaded too; one
 * that fails its checks makes the indexes not sane (the segment is then
 * recovered and the log rebuilds it). */
int st_segment_open(const char *dir, int64_t base_offset, int64_t next_offset_bound, int64_t now_ms,
                    st_segment_t **out);
/*
 * Rescans the .log from the start: every batch must have a sane header
 * (magic 2), a valid CRC, offsets increasing from >= base_offset and below
 * offset_limit, and fit in the file. The file is truncated before the first
 * batch that does not; both indexes are rebuilt. *out says what was kept,
 * what was cut and why (Kafka's LogSegment.recover and its "Found invalid
 * messages" line). `on_batch` (may be NULL) sees each batch kept, in
 * order, during the same scan; a nonzero return stops the recovery, with
 * nothing cut, and is returned. The transaction index is left alone: it
 * needs producer state to rebuild, which the log has (st_txn_rebuild).
 * Returns 0 or ST_ERR_IO.
 */
typedef struct st_segment_recovery {
    int64_t valid_bytes;     /* whole valid batches from the start, kept */
    int64_t truncated_bytes; /* cut after them */
    const char *reason;      /* why the scan stopped short (static), NULL when nothing was cut */
} st_segment_recovery_t;
typedef int (*st_segment_batch_fn)(void *ctx, const st_batch_header_t *h);
int st_segment_recover(st_segment_t *seg, int32_t index_interval_bytes, int32_t index_bytes_max,
                       int64_t offset_limit, st_segment_batch_fn on_batch, void *ctx, st_segment_recovery_t *out);
/*
 * For the active segment after a clean shutdown, and a sealed segment whose
 * .log was modified after its indexes: checks the .log as
 * st_segment_recover does (every batch whole with a sane header and a valid
 * CRC, offsets increasing and below offset_limit, nothing after the last
 * batch) and that the loaded indexes agree with it (each offset-index entry
 * names a batch start and that batch's last offset; each time-index entry
 * the largest timestamp so far and the batch carrying it), without writing
 * anything. *verified true: next_offset, the timestamps and the index
 * bookkeeping are set as a rebuild would set them, and the indexes stay
 * read-only (st_segment_make_active before appending). false: call
 * st_segment_recover. Returns 0 or ST_ERR_IO / ST_ERR_NO_MEMORY.
 */
int st_segment_verify(st_segment_t *seg, int64_t offset_limit, bool *verified);
int st_segment_make_active(st_segment_t *seg, int32_t index_bytes_max);
int st_segment_make_inactive(st_segment_t *seg);
/* Marks both indexes as written after the .log (their mtime becomes now),
 * once a check found them in agreement with it. */
int st_segment_touch_indexes(st_segment_t *seg);
/*
 * After a write to this (active) segment failed: what the .log holds must be
 * what memory says it holds. Cuts the bytes a failed write left past
 * size_bytes, then checks that the header chain from the last offset-index
 * entry ends exactly at size_bytes with the batch holding next_offset - 1,
 * and the CRC of that last batch. 0 when it does; ST_ERR_CORRUPT when the
 * file is shorter or disagrees (only a full recovery can say what is left);
 * ST_ERR_IO.
 */
int st_segment_recheck_tail(st_segment_t *seg);

/* Writes `len` bytes of whole batches (offsets already assigned, above
 * next_offset) with one pwrite(2), then indexes them; bytes more than
 * drop_behind_bytes behind the end leave the page cache (storage/
 * drop_behind.h; < 0: never). ST_ERR_IO on failure, errno set: the
 * segment's state is unchanged and what a short write left past the end is
 * cut again (best effort; st_segment_recheck_tail makes sure). */
int st_segment_append(st_segment_t *seg, const uint8_t *batches, size_t len, int32_t index_interval_bytes,
                      int64_t drop_behind_bytes);

/* Reads and checks the header of the batch at `position` (it must fit in the
 * segment). Returns 0, ST_ERR_CORRUPT or ST_ERR_IO. */
int st_segment_read_header(const st_segment_t *seg, int64_t position, st_batch_header_t *h);
/* Finds the first batch whose last offset is >= target. 0, ST_ERR_NOT_FOUND
 * when no batch of this segment reaches target, or an error. */
int st_segment_find_batch(const st_segment_t *seg, int64_t target, int64_t *position, st_batch_header_t *h);
/* First record with timestamp >= target and offset >= min_offset in this
 * segment. ST_ERR_NOT_FOUND when none. */
int st_segment_find_timestamp(const st_segment_t *seg, int64_t target, int64_t min_offset,
                              size_t decompressed_bytes_max, int64_t *offset, int64_t *timestamp);
/* Offset and timestamp of the first record carrying the segment's largest
 * timestamp (KIP-734). ST_ERR_NOT_FOUND when the segment has none. */
int st_segment_max_timestamp_record(const st_segment_t *seg, size_t decompressed_bytes_max, int64_t *offset,
                                    int64_t *timestamp);
/* Removes every batch whose last offset is >= offset; indexes and
 * timestamps are rebuilt by a rescan, the transaction index drops the
 * entries of markers at or past offset. */
int st_segment_truncate_to(st_segment_t *seg, int64_t offset, int32_t index_interval_bytes,
                           int32_t index_bytes_max);
/* Largest timestamp for retention: max_timestamp, or the .log's mtime
 * when no record carries a timestamp. */
int64_t st_segment_largest_timestamp(const st_segment_t *seg);
/* fsyncs the .log and every index. */
int st_segment_flush(st_segment_t *seg);
/* A new reference to the .log's descriptor for a reader that outlives this
 * call (a response sent later with sendfile): the fd stays open until that
 * reference is released, even if the segment is closed or deleted first.
 * NULL when out of memory. */
st_file_ref_t *st_segment_share_fd(st_segment_t *seg);
/* Closes the segment; its .log descriptor stays open while shared
 * references to it remain. */
void st_segment_close(st_segment_t *seg);
/* Unlinks the .log, then the indexes, and frees. */
int st_segment_delete(st_segment_t *seg);

/* Calls fn with every batch header from `position` to the end (headers
 * only: cheap). Stops early when fn returns non-zero (returned). */
int st_segment_scan_headers(const st_segment_t *seg, int64_t position,
                            int (*fn)(void *ctx, const st_batch_header_t *h, int64_t position), void *ctx);

/* Iterates whole batches of a segment from a position (tools, compaction,
 * for_each_batch): reads each batch into a buffer grown as needed. */
typedef struct st_segment_reader {
    const st_segment_t *seg;
    int64_t position;
    uint8_t *buf;
    size_t cap;
} st_segment_reader_t;
void st_segment_reader_init(st_segment_reader_t *r, const st_segment_t *seg, int64_t position);
/* Returns 1 with the batch in *batch and *len (valid until the next call), 0
 * at the end, or an error. */
int st_segment_reader_next(st_segment_reader_t *r, const uint8_t **batch, size_t *len, st_batch_header_t *h);
void st_segment_reader_free(st_segment_reader_t *r);

#endif
