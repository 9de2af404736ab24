/*
 * The aborted-transaction index of one segment (Kafka's TransactionIndex):
 * `<base>.txnindex`, one entry per transaction whose ABORT marker lies in
 * the segment, in marker order. Fetch with isolation_level=1 answers its
 * aborted_transactions list from these entries, so a read_committed
 * consumer can drop the aborted producers' batches it receives.
 *
 * Entry layout, big-endian, 34 bytes (Kafka's AbortedTxn):
 *   version int16 (0) | producerId int64 | firstOffset int64 |
 *   lastOffset int64 (the marker) | lastStableOffset int64
 * lastStableOffset is the partition's LSO just after the marker was written
 * (the first offset of the oldest other transaction still open, else the
 * marker's offset + 1): a collection stops at the first entry whose LSO
 * reaches the fetch's upper bound, as nothing later can overlap it.
 *
 * The file is created at the first entry (a missing file is an empty index)
 * and holds exactly the entries in memory. The segment owns the index; the
 * log decides when entries are appended, the index is reset and rebuilt
 * (recovery, storage/txn_rebuild.h) or replaced (compaction).
 *
 * Invariants:
 *  1. Entries are whole and version 0; their last offsets strictly
 *     increase and lie in [base_offset, next segment's base); first_offset <=
 *     last_offset; producer ids are >= 0.
 *  2. on_disk: the file exists and holds the entries, byte for byte (its
 *     length is count * ST_TXN_INDEX_ENTRY_BYTES); !on_disk: count == 0 and
 *     no file.
 *  3. !unsynced: the file's bytes (and its directory entry) are durable.
 *
 * Not thread-safe: the owning segment's log serialises calls.
 */
#ifndef ST_STORAGE_TXN_INDEX_H
#define ST_STORAGE_TXN_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#define ST_TXN_INDEX_ENTRY_BYTES 34
#define ST_TXN_INDEX_SUFFIX ".txnindex"

typedef struct st_aborted_txn {
    int64_t producer_id;
    int64_t first_offset;       /* the transaction's first batch */
    int64_t last_offset;        /* its ABORT marker */
    int64_t last_stable_offset; /* the partition's LSO right after the marker */
} st_aborted_txn_t;

/* A growable list of entries (a fetch's answer, the cleaner's input). */
typedef struct st_aborted_txns {
    st_aborted_txn_t *items;
    int32_t count;
    int32_t cap;
} st_aborted_txns_t;

/* 0 or ST_ERR_NO_MEMORY. The caller frees with st_aborted_txns_free. */
int st_aborted_txns_push(st_aborted_txns_t *l, const st_aborted_txn_t *e);
void st_aborted_txns_free(st_aborted_txns_t *l);

typedef struct st_txn_index {
    const char *dir; /* borrowed from the segment's log */
    int64_t base_offset;
    st_aborted_txn_t *entries;
    int32_t count;
    int32_t cap;
    bool on_disk;
    bool unsynced;
    bool created_unsynced; /* the file is new since the last flush: fsync its directory too */
} st_txn_index_t;

/* An empty index, no file touched. */
void st_txn_index_init(st_txn_index_t *ix, const char *dir, int64_t base_offset);
void st_txn_index_free(st_txn_index_t *ix);

/* Reads `<dir>/<base>.txnindex` when it exists. next_offset_bound bounds
 * the last offsets (the next segment's base); log_bytes (the .log's size)
 * bounds the entry count, since each entry needs a marker batch in it.
 * Returns 0 (a missing file is an empty index), ST_ERR_CORRUPT with
 * *problem (static text) when the file breaks invariant 1 or is not whole
 * entries (the index is then empty and the file left for a reset), or
 * ST_ERR_IO. */
int st_txn_index_load(st_txn_index_t *ix, int64_t next_offset_bound, int64_t log_bytes, const char **problem);

/* Appends one entry (creating the file). Its last offset must exceed every
 * entry's (asserted: the log appends markers in offset order). Written, not
 * fsynced: st_txn_index_flush. Returns 0, ST_ERR_IO (nothing changed in
 * memory; bytes a short write left are cut) or ST_ERR_NO_MEMORY. */
int st_txn_index_append(st_txn_index_t *ix, const st_aborted_txn_t *e);
/* fsyncs the file (and the directory when the file is new); no I/O when
 * nothing changed. 0 or ST_ERR_IO. */
int st_txn_index_flush(st_txn_index_t *ix);
/* Drops the entries whose marker is at or past `offset` (the log was
 * truncated). 0 or ST_ERR_IO. */
int st_txn_index_truncate_to(st_txn_index_t *ix, int64_t offset);
/* Drops every entry and removes the file (before a rebuild; the segment is
 * deleted). 0 or ST_ERR_IO. */
int st_txn_index_reset(st_txn_index_t *ix);

/* Kafka's collectAbortedTxns: appends to `out` every entry whose
 * transaction overlaps [fetch_offset, upper_bound) (last_offset >=
 * fetch_offset and first_offset < upper_bound). Returns 1 when the search
 * is complete (an entry's last_stable_offset >= upper_bound: later segments
 * cannot hold an overlapping transaction), 0 when later segments must be
 * searched too, or ST_ERR_NO_MEMORY. */
int st_txn_index_collect(const st_txn_index_t *ix, int64_t fetch_offset, int64_t upper_bound,
                         st_aborted_txns_t *out);

int32_t st_txn_index_count(const st_txn_index_t *ix);
/* The i-th entry, 0 <= i < count. */
const st_aborted_txn_t *st_txn_index_entry(const st_txn_index_t *ix, int32_t i);

/* Writes `count` entries to a new file at `path` (created or truncated) and
 * fsyncs it: the compacted copy of a segment's index. 0 or ST_ERR_IO (the
 * file is removed). */
int st_txn_index_write_file(const char *path, const st_aborted_txn_t *entries, int32_t count);

#endif
