#include "coordinator/txn/txn_errors.h"

#include "common/errors.h"
#include "protocol/messages.h"

int st_txn_error_for_append(int error) {
    switch (error) {
    case ST_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case ST_ERR_NOT_ENOUGH_REPLICAS:
    case ST_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ST_ERR_REQUEST_TIMED_OUT:
        return ST_ERR_COORDINATOR_NOT_AVAILABLE;
    case ST_ERR_NOT_LEADER_OR_FOLLOWER:
    case ST_ERR_KAFKA_STORAGE_ERROR:
        return ST_ERR_NOT_COORDINATOR;
    case ST_ERR_MESSAGE_TOO_LARGE:
    case ST_ERR_RECORD_LIST_TOO_LARGE:
        return ST_ERR_UNKNOWN_SERVER_ERROR;
    default:
        return error > 0 ? error : ST_ERR_UNKNOWN_SERVER_ERROR;
    }
}

bool st_txn_marker_error_retriable(int error) {
    if (error == ST_ERR_INVALID_PRODUCER_EPOCH || error == ST_ERR_TRANSACTION_COORDINATOR_FENCED) return false;
    return error < 0 || st_err_retriable(error);
}

int16_t st_txn_error_for_version(int16_t api_key, int16_t api_version, int16_t error) {
    if (error != ST_ERR_PRODUCER_FENCED) return error;
    bool old = (api_key == ST_API_INIT_PRODUCER_ID && api_version < 4) ||
               (api_key == ST_API_ADD_PARTITIONS_TO_TXN && api_version < 2) ||
               (api_key == ST_API_ADD_OFFSETS_TO_TXN && api_version < 2) ||
               (api_key == ST_API_END_TXN && api_version < 2);
    return old ? (int16_t)ST_ERR_INVALID_PRODUCER_EPOCH : error;
}
