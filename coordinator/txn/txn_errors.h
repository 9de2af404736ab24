/*
 * The error translations of Kafka's transaction coordinator, in one place:
 * what a client is told when the coordinator's own append fails, which
 * marker errors are worth a retry, and what older request versions hear.
 */
#ifndef ST_COORDINATOR_TXN_ERRORS_H
#define ST_COORDINATOR_TXN_ERRORS_H

#include <stdbool.h>
#include <stdint.h>

/* Kafka's appendTransactionToLog: the partition's append error as the
 * client is told it (UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS*,
 * REQUEST_TIMED_OUT -> COORDINATOR_NOT_AVAILABLE; NOT_LEADER_OR_FOLLOWER,
 * KAFKA_STORAGE_ERROR -> NOT_COORDINATOR; MESSAGE_TOO_LARGE,
 * RECORD_LIST_TOO_LARGE -> UNKNOWN_SERVER_ERROR; internal errors ->
 * UNKNOWN_SERVER_ERROR; others as they are). */
int st_txn_error_for_append(int error);

/* Whether a WriteTxnMarkers partition error is retried (Kafka's
 * TransactionMarkerRequestCompletionHandler): the retriable codes and
 * internal errors are; INVALID_PRODUCER_EPOCH and
 * TRANSACTION_COORDINATOR_FENCED (a newer producer or coordinator owns the
 * transaction) and other codes stop the sending. */
bool st_txn_marker_error_retriable(int error);

/* What Kafka's handlers answer older versions (KIP-588): PRODUCER_FENCED is
 * INVALID_PRODUCER_EPOCH before InitProducerId v4, AddPartitionsToTxn v2,
 * AddOffsetsToTxn v2 and EndTxn v2. */
int16_t st_txn_error_for_version(int16_t api_key, int16_t api_version, int16_t error);

#endif
