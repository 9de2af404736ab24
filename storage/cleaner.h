/*
 * Log compaction (Kafka's LogCleaner, design.html "Log Compaction"), as
 * pure functions over segments the log hands in: the log owns the segment
 * list and does the swapping.
 *
 * 1. An offset map: key -> latest offset over the cleanable segments, keyed
 *    by a 128-bit hash of the key (Kafka uses MD5's 128 bits: a collision is
 *    as unlikely), bounded to ST_CLEANER_MAP_SLOTS_MAX slots. When it fills,
 *    only the segments that were mapped completely are cleaned this round.
 * 2. A producer map: producer id -> base offset of its last batch in the
 *    whole log, so an emptied batch that is a producer's last one is kept
 *    (its sequence numbers restore producer state, implementation.html).
 * 3. Cleaning a segment writes the records to keep into a new file; batches
 *    left whole are copied byte for byte, others rebuilt with the batch
 *    builder keeping base offset, lastOffsetDelta, producer fields, leader
 *    epoch and record timestamps.
 * 4. Transactions (Kafka's CleanedTransactionMetadata): the aborted
 *    transactions of the range (from the transaction indexes) are followed
 *    in offset order; a batch of an aborted transaction loses all its
 *    records and never enters the key map; a marker may go once no batch of
 *    its transaction was met in this pass, and only in a segment past
 *    delete.retention.ms (the horizon tombstones use); an ABORT marker that
 *    stays keeps its index entry while batches of its transaction were met.
 *    The producer map keeps each producer's last data batch (its sequence)
 *    and a last marker after it (its epoch), emptied when their records go.
 */
#ifndef ST_STORAGE_CLEANER_H
#define ST_STORAGE_CLEANER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/segment.h"
#include "storage/txn_index.h"

/* 24 bytes a slot: 1M slots is 24 MiB, at most 75% used. */
#define ST_CLEANER_MAP_SLOTS_MAX (1 << 20)
#define ST_CLEANER_MAP_SLOTS_MIN 256
#define ST_CLEANER_PRODUCER_SLOTS_MAX (1 << 16)

typedef struct st_cleaner_map st_cleaner_map_t;

/* Sizes the map for about `keys_estimate` keys (capped). Caller frees. */
int st_cleaner_map_create(int64_t keys_estimate, st_cleaner_map_t **out);
void st_cleaner_map_free(st_cleaner_map_t *m);
/* The aborted transactions overlapping the range to clean
 * (st_log_collect_aborted_txns over it); copied. Call before adding
 * segments. 0 or ST_ERR_NO_MEMORY. */
int st_cleaner_map_set_aborted(st_cleaner_map_t *m, const st_aborted_txns_t *aborted);
/* Records each producer's last batch (headers of a segment, oldest segment
 * first; pass every segment including the active one). */
int st_cleaner_map_add_producers(st_cleaner_map_t *m, const st_segment_t *seg);
/* Adds every keyed record of the segment. 0 when all fit, ST_ERR_LIMIT
 * when the map filled part way (the entries added stay valid: each points
 * at a real, later record). */
int st_cleaner_map_add_segment(st_cleaner_map_t *m, const st_segment_t *seg, size_t decompressed_bytes_max);

typedef struct st_cleaner_result {
    bool changed;         /* something was dropped or rebuilt, or the transaction index changes */
    bool kept_tombstones; /* a tombstone or a removable marker stayed (not yet droppable) */
    int64_t kept_bytes;   /* size of the cleaned file */
    /* The cleaned segment's transaction index: valid until the next call
     * with this map. */
    const st_aborted_txn_t *txn_entries;
    int32_t txn_entry_count;
} st_cleaner_result_t;

/* Writes the cleaned copy of `seg` to out_path (created, fsynced). When
 * drop_tombstones (the segment is past delete.retention.ms), a tombstone
 * that is the latest for its key goes too, and so do markers whose
 * transactions have no batch left. Segments are cleaned oldest first, each
 * once a pass: the map follows the transactions from one to the next. */
int st_cleaner_clean_segment(st_cleaner_map_t *m, const st_segment_t *seg, bool drop_tombstones,
                             size_t decompressed_bytes_max, const char *out_path, st_cleaner_result_t *res);

#endif
