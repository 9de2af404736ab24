/*
 * Produce (v3+, record batch v2 only): each partition's batch is validated
 * and appended by st_partition_produce; acks=0 gets no response, as in
 * Kafka. With one replica, acks=1 and acks=all mean the same: the batch is
 * in the log (page cache, or fsynced per flush.messages) when we answer.
 */
#include <string.h>

#include "server/server.h"

int st_handle_produce(st_broker_t *b, st_request_t *req) {
    st_produce_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_produce_response_t *resp = st_request_alloc_response(req);
    bool acks_valid = rq.acks == -1 || rq.acks == 0 || rq.acks == 1;
    resp->responses = st_arena_alloc(&req->arena, (size_t)(rq.topic_data_count > 0 ? rq.topic_data_count : 1) *
                                                      sizeof *resp->responses);
    resp->responses_count = rq.topic_data_count > 0 ? rq.topic_data_count : 0;
    for (int32_t ti = 0; ti < rq.topic_data_count; ti++) {
        const st_produce_request_topic_produce_data_t *td = &rq.topic_data[ti];
        st_produce_response_topic_produce_response_t *tr = &resp->responses[ti];
        tr->name = td->name;
        int32_t n = td->partition_data_count > 0 ? td->partition_data_count : 0;
        tr->partition_responses = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *tr->partition_responses);
        tr->partition_responses_count = n;
        st_topic_t *t = st_broker_topic(b, td->name.ptr ? td->name.ptr : "");
        for (int32_t pi = 0; pi < n; pi++) {
            const st_produce_request_partition_produce_data_t *pd = &td->partition_data[pi];
            st_produce_response_partition_produce_response_t *pr = &tr->partition_responses[pi];
            pr->index = pd->index;
            pr->base_offset = -1;
            pr->log_append_time_ms = -1;
            pr->log_start_offset = -1;
            pr->error_message = st_str_null();
            pr->current_leader.leader_id = -1;
            pr->current_leader.leader_epoch = -1;
            if (!acks_valid) {
                pr->error_code = ST_ERR_INVALID_REQUIRED_ACKS;
                continue;
            }
            st_partition_t *p = t && pd->index >= 0 && pd->index < t->partition_count ? t->partitions[pd->index] : NULL;
            if (!p) {
                pr->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            st_produce_result_t res;
            /* The records live in the request arena; the log rewrites
             * offsets in place before writing them. */
            st_partition_produce(b, p, &req->arena, (uint8_t *)pd->records.ptr, pd->records.len, &res);
            pr->error_code = (int16_t)res.error;
            pr->base_offset = res.base_offset;
            pr->log_append_time_ms = res.log_append_time_ms;
            pr->log_start_offset = res.log_start_offset;
            if (res.error && res.error_message) pr->error_message = st_str(res.error_message);
            if (res.record_error_count > 0) {
                pr->record_errors = st_arena_alloc(&req->arena, (size_t)res.record_error_count * sizeof *pr->record_errors);
                pr->record_errors_count = res.record_error_count;
                for (int32_t k = 0; k < res.record_error_count; k++) {
                    pr->record_errors[k].batch_index = res.record_errors[k].batch_index;
                    pr->record_errors[k].batch_index_error_message = st_str(res.record_errors[k].message);
                }
            }
        }
    }
    if (rq.acks == 0) {
        st_request_finish_silently(b, req);
        return 0;
    }
    st_request_respond(b, req, resp);
    return 0;
}

/*
 * InitProducerId for idempotent producers (no transactional id): a fresh
 * producer id from the block reserved in the metadata log, epoch 0. Kafka
 * also hands out a new id when an idempotent producer passes its old one
 * (KIP-360), so the request's id and epoch are not needed here.
 */
int st_handle_init_producer_id(st_broker_t *b, st_request_t *req) {
    st_init_producer_id_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_init_producer_id_response_t *resp = st_request_alloc_response(req);
    resp->producer_id = -1;
    resp->producer_epoch = -1;
    if (rq.transactional_id.len >= 0) {
        /* No transaction coordinator yet: the client looks for another. */
        resp->error_code = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        int64_t id = st_broker_allocate_producer_id(b);
        if (id < 0) {
            resp->error_code = ST_ERR_KAFKA_STORAGE_ERROR;
        } else {
            resp->producer_id = id;
            resp->producer_epoch = 0;
        }
    }
    st_request_respond(b, req, resp);
    return 0;
}
