/*
 * Per-partition producer state for idempotent and transactional producers
 * (KIP-98), as Kafka's ProducerStateManager / ProducerAppendInfo /
 * ProducerStateEntry keep it: for each producer id its epoch, the metadata
 * of its last five appended batches (so a retried batch is answered with
 * its original offsets instead of being written twice), the coordinator
 * epoch of the last transaction marker, and the first offset of its open
 * transaction. The open transactions, ordered by first offset, give the
 * first unstable offset, and with it the partition's last stable offset
 * (LSO): read_committed consumers read below it only.
 *
 * The module is pure bookkeeping plus snapshot files: it never reads the
 * clock (time comes in as now_ms) and never touches the log.
 *
 * Flow for one client batch (producer_id >= 0):
 *
 *   st_producer_state_check ──APPEND──> caller appends ──> st_producer_state_update
 *            │                                               (a transactional batch
 *            ├──DUPLICATE──> caller acknowledges              opens the producer's
 *            │               with the cached offsets          transaction)
 *            └──error──────> caller returns the error for the partition
 *
 * For a transaction marker (WriteTxnMarkers):
 *
 *   st_producer_state_check_marker ──0──> caller appends the marker batch
 *        │                                  ──> st_producer_state_complete_marker
 *        └──error──> the marker's error        (ends the transaction: an aborted one
 *                                               goes into the segment's .txnindex)
 *
 * A producer's transaction:
 *
 *   none ──transactional data batch (update)──> open(first offset)
 *     ^                                            │
 *     └──── marker batch (complete_marker, or ─────┘
 *           update/replay of a control header)
 *
 * At load: st_producer_state_load (newest snapshot <= log end), then
 * st_producer_state_replay_batch for every batch from *snapshot_offset to
 * the end of the log, then st_producer_state_expire.
 *
 * Not thread-safe: one partition's state is used by one thread.
 */
#ifndef ST_STORAGE_PRODUCER_STATE_H
#define ST_STORAGE_PRODUCER_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/record_batch.h"

/* Batches remembered per producer for duplicate detection; Kafka's
 * ProducerStateEntry.NUM_BATCHES_TO_RETAIN, and the reason a producer may
 * have at most 5 requests in flight per connection with idempotence on. */
#define ST_PRODUCER_BATCHES_RETAINED 5
/* Producer ids tracked per partition. Kafka has no per-partition cap; this
 * bounds memory (about 190 bytes each plus the index) against a client that
 * churns producer ids. At the cap a new producer gets ST_ERR_LIMIT from
 * st_producer_state_check. */
#define ST_PRODUCER_STATE_PRODUCERS_MAX (1 << 18)
/* producer.id.expiration.ms default (one day). */
#define ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT 86400000LL

typedef struct st_producer_state st_producer_state_t;

/* Empty state; aborts on out-of-memory like the rest of long-lived state.
 * The caller owns it and frees it with st_producer_state_free. */
st_producer_state_t *st_producer_state_new(void);
void st_producer_state_free(st_producer_state_t *s);
/* Forgets every producer (the log was truncated fully). Memory shrinks back
 * to the initial size. */
void st_producer_state_clear(st_producer_state_t *s);

typedef enum { ST_PRODUCER_APPEND = 0, ST_PRODUCER_DUPLICATE = 1 } st_producer_verdict_t;

typedef struct st_producer_check {
    int verdict; /* st_producer_verdict_t */
    int64_t duplicate_base_offset;
    int64_t duplicate_last_offset;
    int64_t duplicate_timestamp; /* max timestamp the original batch was stored with */
} st_producer_check_t;

/*
 * Before appending a client batch with producer_id >= 0 (its base_offset is
 * not assigned yet). Does not change state. Returns (checked in this order,
 * as Kafka's ProducerAppendInfo does):
 *   0 and APPEND     new and in sequence, or the producer is unknown here
 *                    (any sequence is accepted, as Kafka does since KIP-360)
 *   0 and DUPLICATE  same epoch and exactly the sequence range of one of the
 *                    last five batches: out carries its original offsets
 *   ST_ERR_INVALID_PRODUCER_EPOCH       epoch older than the known one
 *   ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER gap; a sequence that is neither the
 *                    next one nor a cached duplicate (including a retry of a
 *                    batch older than the last five); a newer epoch that does
 *                    not start at sequence 0
 *   ST_ERR_INVALID_TXN_STATE            a non-transactional batch while the
 *                    producer has a transaction open
 *   ST_ERR_INVALID_RECORD               negative last_offset_delta
 *   ST_ERR_LIMIT     unknown producer and ST_PRODUCER_STATE_PRODUCERS_MAX
 *                    producers already tracked
 */
int st_producer_state_check(const st_producer_state_t *s, const st_batch_header_t *h,
                            st_producer_check_t *out);

/*
 * After the batch was appended at [first_offset, last_offset]: records it at
 * time now_ms (a newer epoch empties the cached batches first). h's
 * max_timestamp must be the stored one (after a LogAppendTime rewrite), as
 * duplicates are answered with it. A transactional batch of a producer
 * without an open transaction opens one at first_offset. A control batch
 * (transaction marker) moves the epoch and ends the producer's transaction,
 * as Kafka's appendEndTxnMarker does; only st_producer_state_complete_marker
 * (which has the marker's type and coordinator epoch) says whether it was
 * aborted. At the producer cap a new producer replaces the least recently
 * updated one without an open transaction (any, when all have one).
 */
void st_producer_state_update(st_producer_state_t *s, const st_batch_header_t *h,
                              int64_t first_offset, int64_t last_offset, int64_t now_ms);

/* Replay from the log at load: the batch already has its offsets. Same as
 * update with [h->base_offset, h->base_offset + h->last_offset_delta]; no
 * validation, as Kafka does for AppendOrigin.REPLICATION. Ignores batches
 * without a producer id. Prefer st_producer_state_replay_batch, which reads
 * markers: this one cannot tell an abort from a commit. */
void st_producer_state_replay(st_producer_state_t *s, const st_batch_header_t *h, int64_t now_ms);

/* A transaction a marker ended (Kafka's CompletedTxn), with the LSO right
 * after the marker: the first offset of the oldest transaction of another
 * producer still open, else last_offset + 1 (Kafka's lastStableOffset). */
typedef struct st_completed_txn {
    int64_t producer_id;
    int64_t first_offset;       /* its first batch */
    int64_t last_offset;        /* the marker */
    int64_t last_stable_offset;
    bool aborted;
} st_completed_txn_t;

/*
 * Before appending a marker batch for producer_id (Kafka's
 * appendEndTxnMarker checks, origin COORDINATOR). Does not change state.
 * transaction_version is the coordinator's for this transaction (KIP-890:
 * 2 when every end bumps the epoch; 0 when unknown, as WriteTxnMarkers v0-1
 * do not carry it). Returns:
 *   0                                  the marker may be written (an unknown
 *                                      producer is accepted)
 *   ST_ERR_INVALID_PRODUCER_EPOCH      epoch older than the producer's (TV2:
 *                                      not newer, unless it repeats the
 *                                      current epoch's marker after the
 *                                      transaction ended: a retry)
 *   ST_ERR_TRANSACTION_COORDINATOR_FENCED  coordinator epoch older than the
 *                                      last marker's: a zombie coordinator
 */
int st_producer_state_check_marker(const st_producer_state_t *s, int64_t producer_id, int16_t producer_epoch,
                                   const st_txn_marker_t *marker, int16_t transaction_version);

/*
 * After the marker batch `h` (control, with producer id, epoch and its
 * offset in h->base_offset) was appended or is replayed: moves the
 * producer's epoch and coordinator epoch, and ends its open transaction.
 * Returns true and fills *out when a transaction with data ended (Kafka
 * reports none for a marker without one: it changes neither the LSO nor the
 * index). No validation (replay trusts the log).
 */
bool st_producer_state_complete_marker(st_producer_state_t *s, const st_batch_header_t *h,
                                       const st_txn_marker_t *marker, int64_t now_ms, st_completed_txn_t *out);

/*
 * Replays one whole batch from the log (`len` its total size): a marker
 * batch through st_producer_state_complete_marker (filling *completed and
 * returning 1 when it ended a transaction with data), any other batch
 * through st_producer_state_replay. A control batch emptied by the cleaner,
 * or of another control type, only moves the epoch. Returns 0, 1, or
 * ST_ERR_CORRUPT (negative) for bytes that are not a batch or a marker that
 * does not parse.
 */
int st_producer_state_replay_batch(st_producer_state_t *s, const uint8_t *batch, size_t len, int64_t now_ms,
                                   st_completed_txn_t *completed);

/* First offset of the oldest open transaction (Kafka's
 * firstUndecidedOffset), -1 when none is open. */
int64_t st_producer_state_first_unstable_offset(const st_producer_state_t *s);
/* The partition's LSO: the first unstable offset (raised to
 * log_start_offset: data below it is gone) when it is below the high
 * watermark, else the high watermark. Kafka also holds back transactions
 * whose marker is not yet replicated (unreplicatedTxns); with one replica
 * the high watermark is the log end and there are none. Replication must
 * add them. */
int64_t st_producer_state_last_stable_offset(const st_producer_state_t *s, int64_t log_start_offset,
                                             int64_t high_watermark);
/* Open transactions. */
int32_t st_producer_state_ongoing_count(const st_producer_state_t *s);

/* Drops producers with now_ms - last update >= expiration_ms and no open
 * transaction (Kafka's isProducerExpired, which uses >=). Shrinks memory
 * when few remain. */
void st_producer_state_expire(st_producer_state_t *s, int64_t now_ms, int64_t expiration_ms);

int32_t st_producer_state_count(const st_producer_state_t *s);

/* Snapshot bookkeeping, so an unchanged state is not written again (the
 * broker's shutdown skips the snapshot when it would repeat the last one):
 * st_producer_state_snapshot_offset is the offset of the last snapshot this
 * state was written to (successfully, in any directory) or loaded from, -1
 * when none; st_producer_state_dirty is true when the state changed since
 * then: by update, replay, or an expire or clear that dropped producers.
 * Both are reset by st_producer_state_load (dirty false, offset -1 when no
 * snapshot was found). A new state is clean with offset -1. */
bool st_producer_state_dirty(const st_producer_state_t *s);
int64_t st_producer_state_snapshot_offset(const st_producer_state_t *s);

/* What DescribeProducers reports for one producer. */
typedef struct st_producer_info {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t last_sequence;   /* -1 when no batch is cached */
    int64_t last_offset;     /* -1 when no batch is cached */
    int64_t last_timestamp;  /* max timestamp of the last batch, -1 when none */
    int64_t last_update_ms;
    int32_t batch_count;     /* cached batches, 0..ST_PRODUCER_BATCHES_RETAINED */
    int32_t coordinator_epoch;         /* of the last marker, -1 when none */
    int64_t current_txn_first_offset;  /* the open transaction's first offset, -1 when none */
} st_producer_info_t;

/* True and fills out when the producer is known. */
bool st_producer_state_get(const st_producer_state_t *s, int64_t producer_id, st_producer_info_t *out);
/* Iteration: index in [0, count); order is unspecified and changes when
 * producers are added or removed. False when index is out of range. */
bool st_producer_state_at(const st_producer_state_t *s, int32_t index, st_producer_info_t *out);

/*
 * Snapshot files: <dir>/<offset as 20 digits>.snapshot, as Kafka names
 * them; `offset` is the log offset the state is valid up to (exclusive):
 * every recorded batch must lie below it (asserted).
 * Written to <name>.tmp, fsynced, renamed, then the directory fsynced.
 * On success the state is no longer dirty and remembers `offset` (see
 * st_producer_state_dirty). Returns 0 or ST_ERR_IO (the temporary file is
 * removed).
 */
int st_producer_state_write_snapshot(st_producer_state_t *s, const char *dir, int64_t offset);

/*
 * Replaces s with the newest valid snapshot whose offset <= max_offset and
 * sets *snapshot_offset to it; with none, s is empty and *snapshot_offset is
 * 0. Versions 1 (before transactions: no open transaction, coordinator
 * epoch -1) and 2 are read; version 2 is written. Snapshots that fail a check (version, length, CRC, contents) are
 * deleted and the next older one is tried, as Kafka's loadFromSnapshot does.
 * Leftover *.snapshot.tmp files are deleted. A missing dir counts as empty.
 * Returns 0, or ST_ERR_IO when the directory or a file cannot be read (s is
 * then empty). Expired producers are not dropped: call expire afterwards.
 */
int st_producer_state_load(st_producer_state_t *s, const char *dir, int64_t max_offset,
                           int64_t *snapshot_offset);

/* Deletes snapshots with offset < below (the log start moved) and offset >
 * above (the log was truncated). Returns 0 or ST_ERR_IO. */
int st_producer_state_delete_snapshots(const char *dir, int64_t below, int64_t above);

/* Keeps the `keep` (>= 0) newest snapshots, deletes the rest. Returns 0 or
 * ST_ERR_IO. */
int st_producer_state_prune_snapshots(const char *dir, int keep);

#endif
