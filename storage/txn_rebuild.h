/*
 * Rebuilding segments' aborted-transaction indexes when the log opens, as
 * Kafka's LogLoader does when it recovers a segment with a producer state
 * rebuilt up to it: the .txnindex entries are re-derived from the batches,
 * because an entry needs what only replay knows (where the aborted
 * transaction began, and the LSO right after its marker).
 *
 * The log resets the transaction indexes of every segment from the first
 * one it recovered to the end, then calls this: a producer state is loaded
 * from the newest snapshot at or below that segment's base (or the log
 * start when there is none), the batches from there on are replayed, and
 * each ABORT marker that ends a transaction with data, in a reset segment,
 * becomes an entry of that segment's index. The indexes are fsynced. The
 * partition's own producer state is loaded separately, later.
 */
#ifndef ST_STORAGE_TXN_REBUILD_H
#define ST_STORAGE_TXN_REBUILD_H

#include <stdint.h>

#include "storage/segment.h"

/* segments[0, count) are the log's segments, oldest first; the indexes of
 * segments[first, count) were reset and are refilled. *entries_out counts
 * the entries written. Returns 0, ST_ERR_IO or ST_ERR_NO_MEMORY. */
int st_txn_rebuild_indexes(st_segment_t *const *segments, int32_t count, int32_t first, const char *dir,
                           int64_t log_start_offset, int64_t now_ms, int64_t *entries_out);

#endif
