/*
 * The transaction coordinator of one __transaction_state partition, as a
 * pure state machine (Kafka's TransactionCoordinator, TransactionStateManager
 * and TransactionMetadata, KIP-98/360/588/664/890/994): no I/O, no clock
 * reads (time comes in as now_ms), no broker structs. The caller (the
 * coordinator runtime over the partition, and the handlers) feeds it
 * records at load, requests, append and marker results and timer ticks;
 * it answers with actions to carry out, in order:
 *
 *   APPEND         append this record (key, value or tombstone) to the
 *                  partition, then report st_txn_state_appended(id, append_id,
 *                  error) once it is durable (committed) or has failed;
 *   RESPOND        answer the request the caller tagged request_id with;
 *   WRITE_MARKERS  write a COMMIT/ABORT marker for the producer to each
 *                  listed partition (WriteTxnMarkers; in-process on one
 *                  node), then report each with st_txn_state_marker_written.
 *
 * A response that changes state goes out only after its record is durable
 * (Kafka's pendingState): the transition is held pending until the append
 * is reported; a failed append rolls it back and answers the append's
 * error as Kafka maps it (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, ...).
 *
 * A transactional id's states (Kafka's TransactionState) and the inputs
 * that move it. Each edge is a record appended; the state changes when the
 * append is reported durable (st_txn_state_appended).
 *
 *               init_producer_id
 *   (none) ----------------------------> Empty <-----------------------+
 *                                          |                           |
 *                    add_partitions,       |                           |
 *                    add_offsets           v                           |
 *        +----------------------------> Ongoing                        |
 *        | add_partitions,               |    |                        |
 *        | add_offsets       end_txn     |    | end_txn abort, or a    |
 *        | (from Empty,      commit      |    | fence: init_producer_id|
 *        |  Complete*)                   |    | or abort_timed_out     |
 *        |                               |    | (PrepareEpochFence,    |
 *        |                               |    |  pending only)         |
 *        |                               v    v                        |
 *        |                    PrepareCommit  PrepareAbort <-- end_txn  |
 *        |                               |    |         abort (TV2,    |
 *        |           every marker written|    |every    from Empty,    |
 *        |           (marker_written)    v    v marker  Complete*)     |
 *        +-------------------- CompleteCommit  CompleteAbort ----------+
 *                                        init_producer_id: to Empty
 *
 *   Empty, CompleteCommit, CompleteAbort --expire_ids (transactional.id.
 *   expiration.ms untouched)--> Dead (pending only: a tombstone) --> removed.
 *   TV2 (KIP-890 part 2): every end_txn bumps the producer epoch.
 *
 * Invariants (st_txn_state_check verifies them all):
 *  1. Every transactional id has at most one transition pending; an id
 *     whose first record is not yet durable is pending InitProducerId and
 *     invisible to describe/list.
 *  2. A durable state is Empty, Ongoing, PrepareCommit, PrepareAbort,
 *     CompleteCommit or CompleteAbort (Dead and PrepareEpochFence exist only
 *     as pending targets); its producer id and epoch are >= 0.
 *  3. Empty and Complete* hold no partitions; Empty has no start time.
 *     Partitions are sorted and unique, at most partitions_max.
 *  4. After loading, PrepareCommit/PrepareAbort is always pending its
 *     Complete* (markers outstanding, or the Complete record appending),
 *     and its partitions are those still without a marker.
 *  5. A pending target is a valid next state of the current one (Kafka's
 *     validPreviousStates).
 *  6. At most ids_max transactional ids.
 *
 * Not thread-safe: one partition's state is driven by one thread.
 */
#ifndef ST_COORDINATOR_TXN_STATE_H
#define ST_COORDINATOR_TXN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator/txn/txn_errors.h" /* st_txn_error_for_version, for the handlers */
#include "coordinator/txn/txn_record.h"
#include "protocol/arena.h"
#include "protocol/codec.h"

/* Transactional ids one partition holds; beyond it InitProducerId for a new
 * id answers COORDINATOR_NOT_AVAILABLE (Kafka has no cap; expiration frees
 * ids). */
#define ST_TXN_IDS_MAX_DEFAULT (1 << 20)
/* Partitions in one transaction: a memory bound (Kafka's bound is the
 * record size, max.message.bytes of __transaction_state). Beyond it
 * AddPartitionsToTxn answers UNKNOWN_SERVER_ERROR, as Kafka does for a record
 * too large. */
#define ST_TXN_PARTITIONS_MAX_DEFAULT 16384
/* Kafka's defaults. */
#define ST_TXN_MAX_TIMEOUT_MS_DEFAULT 900000                      /* transaction.max.timeout.ms */
#define ST_TXN_ID_EXPIRATION_MS_DEFAULT 604800000LL               /* transactional.id.expiration.ms */
#define ST_TXN_ABORT_TIMED_OUT_INTERVAL_MS_DEFAULT 10000          /* transaction.abort.timed.out.transaction.cleanup.interval.ms */
#define ST_TXN_REMOVE_EXPIRED_INTERVAL_MS_DEFAULT 3600000         /* transaction.remove.expired.transaction.cleanup.interval.ms */
#define ST_TXN_STATE_LOG_PARTITIONS_DEFAULT 50                    /* transaction.state.log.num.partitions */
#define ST_TXN_CONSUMER_OFFSETS_TOPIC "__consumer_offsets"
#define ST_TXN_NO_REQUEST 0 /* request_id of internal work: no RESPOND */

typedef struct st_txn_config {
    int32_t transaction_max_timeout_ms;
    int64_t transactional_id_expiration_ms;
    /* The cluster's transaction.version feature level (0..2): 2 writes value
     * records v1 and aborts timed-out transactions the TV2 way. */
    int16_t transaction_version;
    int32_t ids_max;
    int32_t partitions_max;
    /* A new producer id (the broker's block from the controller): 0, or an
     * error to answer (e.g. COORDINATOR_NOT_AVAILABLE). */
    int (*allocate_producer_id)(void *ctx, int64_t *producer_id);
    void *allocate_ctx;
} st_txn_config_t;

/* Kafka's defaults; allocate_producer_id must be set by the caller. */
void st_txn_config_default(st_txn_config_t *cfg);

typedef enum st_txn_action_kind {
    ST_TXN_APPEND = 1,
    ST_TXN_RESPOND = 2,
    ST_TXN_WRITE_MARKERS = 3,
} st_txn_action_kind_t;

typedef struct st_txn_action {
    st_txn_action_kind_t kind;
    st_str_t transactional_id;
    union {
        struct {
            uint64_t append_id;
            const uint8_t *key;
            int32_t key_len;
            const uint8_t *value;
            int32_t value_len; /* -1: a tombstone */
            bool retry;        /* a retry after a failed append: back off first */
        } append;
        struct {
            uint64_t request_id;
            int16_t error;
            /* InitProducerId, and EndTxn v5 (TV2): the producer to use next;
             * -1 otherwise or on error. */
            int64_t producer_id;
            int16_t producer_epoch;
        } respond;
        struct {
            int64_t producer_id;
            int16_t producer_epoch;
            bool commit;
            int32_t coordinator_epoch;
            int16_t transaction_version; /* for st_producer_state_check_marker */
            const st_txn_partition_t *partitions;
            int32_t partition_count;
            bool retry; /* some of them failed with a retriable error: back off first */
        } markers;
    };
} st_txn_action_t;

/* Actions and their memory (an arena), owned by the caller: init once,
 * reset after carrying the actions out, free at the end. */
typedef struct st_txn_output {
    st_arena_t arena;
    st_txn_action_t *actions;
    int32_t count;
    int32_t cap;
} st_txn_output_t;

void st_txn_output_init(st_txn_output_t *o);
void st_txn_output_reset(st_txn_output_t *o);
void st_txn_output_free(st_txn_output_t *o);

typedef struct st_txn_state st_txn_state_t;

/* A partition's state, LOADING until st_txn_state_load_complete. The caller
 * owns it; st_txn_state_free. cfg is copied. 0 or ST_ERR_NO_MEMORY. */
int st_txn_state_new(const st_txn_config_t *cfg, int32_t partition, int32_t coordinator_epoch, st_txn_state_t **out);
void st_txn_state_free(st_txn_state_t *s);

/* ---- loading --------------------------------------------------------- */

/* One record of the partition, in offset order, while LOADING (value NULL:
 * a tombstone). Returns 0; ST_ERR_NOT_FOUND (a version this code does not
 * know) or ST_ERR_CORRUPT (bytes that do not decode): the record is skipped
 * and the caller logs it, as Kafka does; ST_ERR_LIMIT at ids_max;
 * ST_ERR_INVALID_TXN_STATE after loading (the runtime never replays the
 * state's own appends into it). */
int st_txn_state_replay(st_txn_state_t *s, const uint8_t *key, int32_t key_len, const uint8_t *value,
                        int32_t value_len);
/* Ends LOADING. Transactions found in PrepareCommit/PrepareAbort are
 * completed (WRITE_MARKERS to their partitions); Ongoing ones are left to
 * time out. */
void st_txn_state_load_complete(st_txn_state_t *s, int64_t now_ms, st_txn_output_t *out);
bool st_txn_state_loading(const st_txn_state_t *s);

/* ---- requests: each answers with one RESPOND for request_id, now or
 * after its APPEND is reported ---------------------------------------- */

/* InitProducerId with a transactional id (the null id is the broker's, not
 * the coordinator's). expected_producer_id/epoch are -1/-1 unless the
 * client sends them (v3+, KIP-360: re-initialising after an abortable
 * error). Answers the producer id and epoch to use, or INVALID_REQUEST (empty
 * id, only one of the expected pair), INVALID_TRANSACTION_TIMEOUT,
 * PRODUCER_FENCED, CONCURRENT_TRANSACTIONS (a transition or a previous
 * transaction is completing: an open one is aborted first, with the epoch
 * bumped), COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, or the
 * allocator's error. */
void st_txn_state_init_producer_id(st_txn_state_t *s, uint64_t request_id, st_str_t transactional_id,
                                   int32_t transaction_timeout_ms, int64_t expected_producer_id,
                                   int16_t expected_producer_epoch, int64_t now_ms, st_txn_output_t *out);

/* AddPartitionsToTxn v0-3, and v4+ without VerifyOnly (client_transaction_
 * version 2 when a broker adds a partition for a TV2 producer). Answers
 * NONE (also when all are in already), INVALID_REQUEST,
 * INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS, or
 * UNKNOWN_SERVER_ERROR beyond partitions_max. Partitions of unknown topics
 * are the handler's to refuse before calling. */
void st_txn_state_add_partitions(st_txn_state_t *s, uint64_t request_id, st_str_t transactional_id,
                                 int64_t producer_id, int16_t producer_epoch, const st_txn_partition_t *partitions,
                                 int32_t partition_count, int16_t client_transaction_version, int64_t now_ms,
                                 st_txn_output_t *out);

/* AddOffsetsToTxn: adds __consumer_offsets-<offsets_partition> (the group's
 * partition) as add_partitions does. */
void st_txn_state_add_offsets(st_txn_state_t *s, uint64_t request_id, st_str_t transactional_id, int64_t producer_id,
                              int16_t producer_epoch, int32_t offsets_partition, int16_t client_transaction_version,
                              int64_t now_ms, st_txn_output_t *out);

/* AddPartitionsToTxn v4+ with VerifyOnly (KIP-890 part 1, a partition
 * leader asking before a transactional produce): no state change, no
 * action; errors[i] for partitions[i]: NONE when it is in the transaction,
 * TRANSACTION_ABORTABLE when not, or the transaction's error for all
 * (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS,
 * INVALID_REQUEST, COORDINATOR_LOAD_IN_PROGRESS). */
void st_txn_state_verify_partitions(const st_txn_state_t *s, st_str_t transactional_id, int64_t producer_id,
                                    int16_t producer_epoch, const st_txn_partition_t *partitions,
                                    int32_t partition_count, int16_t *errors);

/* EndTxn (client_transaction_version 2 for v5 on a TV2 cluster: the epoch
 * is bumped at every end and the answer names the producer to use next).
 * Answers NONE (also for a retry of a completed end), INVALID_REQUEST,
 * INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS
 * (the end is in progress), INVALID_TXN_STATE (no transaction, or the other
 * end of one), COORDINATOR_LOAD_IN_PROGRESS. Markers follow the answer. */
void st_txn_state_end_txn(st_txn_state_t *s, uint64_t request_id, st_str_t transactional_id, int64_t producer_id,
                          int16_t producer_epoch, bool commit, int16_t client_transaction_version, int64_t now_ms,
                          st_txn_output_t *out);

/* ---- results the caller reports ------------------------------------- */

/* The APPEND append_id of transactional_id is durable (error 0) or failed
 * (the partition's error: NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR,
 * REQUEST_TIMED_OUT, ...). Reports for an unknown or older append are
 * ignored. */
void st_txn_state_appended(st_txn_state_t *s, st_str_t transactional_id, uint64_t append_id, int error,
                           int64_t now_ms, st_txn_output_t *out);

/* A marker of WRITE_MARKERS for (producer_id, partition) was written (error
 * 0) or failed. Retriable errors come back as WRITE_MARKERS with retry;
 * INVALID_PRODUCER_EPOCH and TRANSACTION_COORDINATOR_FENCED (a newer
 * coordinator or producer owns it: Kafka stops sending) and other
 * non-retriable errors stop the sending until the partition is loaded
 * again. The delivery layer reports a partition whose topic no longer
 * exists as written (Kafka skips partitions without a leader). When every
 * partition has its marker, the Complete record is APPENDed. */
void st_txn_state_marker_written(st_txn_state_t *s, st_str_t transactional_id, int64_t producer_id,
                                 const st_txn_partition_t *partition, int error, int64_t now_ms,
                                 st_txn_output_t *out);

/* ---- timers ------------------------------------------------------------ */

/* Kafka's abortTimedOutTransactions (every transaction.abort.timed.out.
 * transaction.cleanup.interval.ms): each Ongoing transaction older than its
 * timeout is aborted with the epoch bumped, fencing its producer. */
void st_txn_state_abort_timed_out(st_txn_state_t *s, int64_t now_ms, st_txn_output_t *out);
/* Kafka's removeExpiredTransactionalIds (every transaction.remove.expired.
 * transaction.cleanup.interval.ms): ids in Empty/Complete* untouched for
 * transactional.id.expiration.ms get a tombstone, and go once it is
 * durable. */
void st_txn_state_expire_ids(st_txn_state_t *s, int64_t now_ms, st_txn_output_t *out);

/* ---- views -------------------------------------------------------------- */

typedef struct st_txn_description {
    st_str_t transactional_id;
    st_txn_status_t state;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t timeout_ms;
    int64_t start_ms; /* -1 when no transaction started */
    int64_t last_update_ms;
    /* In Prepare*: those still without a marker. Valid until the next call
     * that changes the state. */
    const st_txn_partition_t *partitions;
    int32_t partition_count;
} st_txn_description_t;

/* DescribeTransactions for one id: 0, TRANSACTIONAL_ID_NOT_FOUND,
 * INVALID_REQUEST (empty id) or COORDINATOR_LOAD_IN_PROGRESS. */
int st_txn_state_describe(const st_txn_state_t *s, st_str_t transactional_id, st_txn_description_t *out);

/* ListTransactions filters: empty arrays match all; duration_ms < 0 matches
 * all, else only transactions running longer than it (KIP-994: now_ms -
 * start > duration_ms). */
typedef struct st_txn_list_filter {
    const st_txn_status_t *states;
    int32_t state_count;
    const int64_t *producer_ids;
    int32_t producer_id_count;
    int64_t duration_ms;
} st_txn_list_filter_t;

/* Calls fn for each matching transactional id (Dead and not yet durable ones
 * are left out, as Kafka does). 0, or COORDINATOR_LOAD_IN_PROGRESS. */
int st_txn_state_list(const st_txn_state_t *s, const st_txn_list_filter_t *filter, int64_t now_ms,
                      void (*fn)(void *ctx, const st_txn_description_t *d), void *ctx);
int32_t st_txn_state_count(const st_txn_state_t *s);
int32_t st_txn_state_partition(const st_txn_state_t *s);
int32_t st_txn_state_coordinator_epoch(const st_txn_state_t *s);

/* ---- checks --------------------------------------------------------------- */

/* Verifies every invariant; false with the first broken one in why. */
bool st_txn_state_check(const st_txn_state_t *s, char *why, size_t why_len);
/* Tests only: forces an id's durable state, to see the check fail. */
void st_txn_state_test_force_status(st_txn_state_t *s, st_str_t transactional_id, st_txn_status_t status);

#endif
