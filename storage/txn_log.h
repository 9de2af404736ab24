/*
 * Transactions in a partition log: the sequences that span the log and its
 * producer state, kept in one place so the partition runs them in the order
 * durability needs (Kafka's UnifiedLog.append with its ProducerAppendInfo
 * and TransactionIndex, and LogLoader's producer-state load).
 *
 * Writing a marker (WriteTxnMarkers, one partition):
 *
 *   st_producer_state_check_marker ──error──> nothing written, the error
 *        │ 0
 *        v
 *   st_log_append(marker batch) ──> st_producer_state_complete_marker
 *        (the LSO after it is computed here, before the transaction leaves
 *         the open list) ──aborted──> st_log_append_aborted_txn
 *
 * A crash anywhere in between is repaired at open: the marker is past the
 * recovery point, so its segment is recovered and its index rebuilt.
 */
#ifndef ST_STORAGE_TXN_LOG_H
#define ST_STORAGE_TXN_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/record_batch.h"
#include "storage/log.h"
#include "storage/producer_state.h"

typedef struct st_txn_marker_result {
    int64_t offset;         /* the marker's offset */
    bool completed;         /* it ended a transaction with data */
    st_completed_txn_t txn; /* then: which one, and the LSO after it */
} st_txn_marker_result_t;

/*
 * Writes one transaction marker for producer_id at leader_epoch (the log's
 * append, AppendOrigin.COORDINATOR): checks it against the producer state,
 * appends the marker batch, completes the producer's transaction and, for an
 * aborted one with data, records it in the active segment's .txnindex.
 * transaction_version as st_producer_state_check_marker takes it. Returns 0,
 * the check's error (ST_ERR_INVALID_PRODUCER_EPOCH,
 * ST_ERR_TRANSACTION_COORDINATOR_FENCED: nothing was written), or the log's
 * (ST_ERR_KAFKA_STORAGE_ERROR: the log is failed and refuses writes until it
 * is reopened, which recovers the marker's segment and its index).
 */
int st_txn_log_write_marker(st_log_t *log, st_producer_state_t *ps, int64_t producer_id, int16_t producer_epoch,
                            const st_txn_marker_t *marker, int16_t transaction_version, int32_t leader_epoch,
                            int64_t now_ms, st_txn_marker_result_t *out);

/*
 * Loads a partition's producer state at open, after st_log_open (what
 * server/partition.c does today, with markers read): deletes snapshots past
 * the log end, loads the newest one at or below it, replays every batch
 * after it (open transactions and coordinator epochs come back), then drops
 * producers idle for expiration_ms. `dir` is the log's directory. Returns 0
 * or ST_ERR_IO.
 */
int st_txn_log_load_producer_state(st_log_t *log, st_producer_state_t *ps, const char *dir, int64_t now_ms,
                                   int64_t expiration_ms);

#endif
