/*
 * The records of __transaction_state (Kafka's TransactionLog): the key is
 * TransactionLogKey (the transactional id), the value TransactionLogValue
 * (the transaction's metadata after a transition), each prefixed with its
 * version as an int16 (protocol/defs/txn_records.def). A null value is a
 * tombstone: the transactional id expired. Pure bytes <-> struct, no state.
 */
#ifndef ST_COORDINATOR_TXN_RECORD_H
#define ST_COORDINATOR_TXN_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/buf.h"
#include "protocol/codec.h"

/* Key version 0; value version 0, or 1 (flexible, with the tagged
 * previous/next producer ids and client transaction version) when the
 * cluster's transaction.version is 2 or more (Kafka's
 * TransactionVersion.transactionLogValueVersion). */
#define ST_TXN_RECORD_KEY_VERSION 0
#define ST_TXN_RECORD_VALUE_VERSION_MAX 1

/* A transaction's state, with Kafka's ids (TransactionState.id(), the
 * TransactionStatus byte of the value). Dead and PrepareEpochFence are never
 * written: an expired id is a tombstone, and a fence is written as the
 * PrepareAbort it leads to. */
typedef enum st_txn_status {
    ST_TXN_EMPTY = 0,
    ST_TXN_ONGOING = 1,
    ST_TXN_PREPARE_COMMIT = 2,
    ST_TXN_PREPARE_ABORT = 3,
    ST_TXN_COMPLETE_COMMIT = 4,
    ST_TXN_COMPLETE_ABORT = 5,
    ST_TXN_DEAD = 6,
    ST_TXN_PREPARE_EPOCH_FENCE = 7,
} st_txn_status_t;
#define ST_TXN_STATUS_COUNT 8

/* "Empty", "Ongoing", ... as DescribeTransactions and ListTransactions name
 * them; "Unknown" outside the range. */
const char *st_txn_status_name(int status);
/* The status with that name, -1 when none (ListTransactions' unknown state
 * filters). */
int st_txn_status_from_name(st_str_t name);

/* One partition of a transaction; `topic` is not owned. */
typedef struct st_txn_partition {
    st_str_t topic;
    int32_t partition;
} st_txn_partition_t;

typedef struct st_txn_record {
    st_str_t transactional_id;
    bool tombstone; /* a null value: the id expired (the fields below are unset) */
    int64_t producer_id;
    int64_t previous_producer_id; /* -1 in value v0 */
    int64_t next_producer_id;     /* -1 in value v0 */
    int16_t producer_epoch;
    int32_t transaction_timeout_ms;
    int8_t status; /* st_txn_status_t */
    /* Sorted by topic, then partition, no repeats. */
    const st_txn_partition_t *partitions;
    int32_t partition_count;
    int64_t last_update_ms;
    int64_t start_ms; /* -1 when no transaction started */
    int16_t client_transaction_version; /* 0 in value v0 */
} st_txn_record_t;

/* Appends the key's bytes (version first) to w. */
void st_txn_record_encode_key(st_writer_t *w, st_str_t transactional_id);
/* Appends the value's bytes at value_version (0 or 1) to w. An Empty
 * transaction is written with null partitions, as Kafka writes it. */
void st_txn_record_encode_value(st_writer_t *w, const st_txn_record_t *r, int16_t value_version);

/*
 * Decodes one record (value NULL / value_len < 0: a tombstone). Strings
 * and partitions are allocated in `arena`. Returns 0;
 * ST_ERR_NOT_FOUND when the key or value has a version this code does not
 * know (Kafka skips those records with a warning: a leftover of an
 * aborted upgrade); ST_ERR_CORRUPT when the bytes do not decode, or break
 * what Kafka ever writes (a status outside Empty..CompleteAbort, a negative
 * producer id, epoch or partition, a timeout <= 0, partitions in an Empty
 * or Complete transaction). Partitions come back sorted, without repeats.
 */
int st_txn_record_decode(const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len,
                         st_arena_t *arena, st_txn_record_t *out);

/* Orders partitions by topic bytes, then index. */
int st_txn_partition_compare(const st_txn_partition_t *a, const st_txn_partition_t *b);

#endif
