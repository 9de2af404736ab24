/*
 * Produce: each partition's batch is validated
 * and appended by st_partition_produce; acks=0 gets no response, as in
 * Kafka. With one replica, acks=1 and acks=all mean the same: the batch is
 * in the log (page cache, or fsynced per flush.messages) when we answer.
 *
 * Validation, the costly part (CRC, decompression, the record walk), runs in
 * bounded steps until the request's work deadline (a slice of
 * ST_REQUEST_SLICE_US, within the turn's ST_TURN_WORK_US); a batch that
 * needs more, one inflating towards the decompression limit, is finished
 * over later turns (st_request_defer) while other connections are served,
 * and its partition is appended to only once its verdict is in. Partitions
 * of one request are done in order. Produce v0-2 may carry message format
 * v0/v1 instead: that set is converted into one v2 batch first, in one step
 * (bounded by the same decompression limit), and takes the v2 path after.
 *
 *   handle --> [next partition: begin validation] --step..--> verdict --> append --+
 *                ^     |                             |                          |
 *                |     +--(no batch to validate)-----|--------------------------+
 *                |                                   | turn's budget used:      |
 *                |                                   v st_request_defer         |
 *                |                             DEFERRED --(resume: next turn)-->|
 *                +------------------------------------------------------------+
 *   all partitions done --> respond (or finish silently for acks=0)
 */
#include <string.h>

#include "broker/broker.h"
#include "protocol/legacy_records.h"

/* Work between looks at the clock: about 0.2 ms of inflating gzip (the
 * slowest codec here), less of anything else. */
#define PRODUCE_STEP_BYTES (64 * 1024)

typedef struct produce_progress {
    st_produce_request_t rq;
    st_produce_response_t *resp;
    bool acks_valid;
    int32_t topic_index;     /* the partition being worked on */
    int32_t partition_index;
    /* The current partition's batch: the request's, or its v0/v1 set
     * converted into the request arena. */
    uint8_t *records;
    int32_t records_len;
    bool validating;         /* `validation` holds a started validation */
    int64_t slice_started_us; /* when this stretch of work began */
    st_batch_validation_t validation;
} produce_progress_t;

static void produce_run(st_broker_t *b, st_request_t *req);

/* The connection closed while the request was deferred. */
static void produce_cancel(st_request_t *req) {
    produce_progress_t *pp = req->pending;
    if (pp->validating) st_batch_validation_end(&pp->validation, NULL);
    pp->validating = false;
    req->pending = NULL;
}

static st_partition_t *produce_partition(st_broker_t *b, const produce_progress_t *pp) {
    const st_produce_request_topic_produce_data_t *td = &pp->rq.topic_data[pp->topic_index];
    const st_produce_request_partition_produce_data_t *pd = &td->partition_data[pp->partition_index];
    st_topic_t *t = st_broker_topic(b, td->name.ptr ? td->name.ptr : "");
    return t && pd->index >= 0 && pd->index < t->partition_count ? t->partitions[pd->index] : NULL;
}

static void produce_record_errors(st_request_t *req, st_produce_response_partition_produce_response_t *pr,
                                  const st_record_error_t *errors, int32_t count) {
    if (count <= 0) return;
    pr->record_errors = st_arena_alloc(&req->arena, (size_t)count * sizeof *pr->record_errors);
    pr->record_errors_count = count;
    for (int32_t k = 0; k < count; k++) {
        pr->record_errors[k].batch_index = errors[k].batch_index;
        pr->record_errors[k].batch_index_error_message = st_str(errors[k].message);
    }
}

/* A Produce v0-2 message set of magic 0 or 1 becomes one v2 batch in the
 * request arena (pp->records). Returns 0, or the error answered. */
static int produce_up_convert(st_broker_t *b, st_request_t *req, produce_progress_t *pp, st_partition_t *p,
                              st_produce_response_partition_produce_response_t *pr) {
    st_batch_limits_t limits;
    bool require_keys;
    st_partition_batch_limits(b, p, st_wall_ms(), &limits, &require_keys);
    st_writer_t out;
    st_writer_init(&out, (size_t)pp->records_len + 128);
    st_batch_check_t check;
    int err = st_legacy_up_convert(pp->records, (size_t)pp->records_len, &limits,
                                   p->topic->settings.max_message_bytes, require_keys, &req->arena, &out, &check);
    if (err == 0 && out.len > INT32_MAX) err = ST_ERR_MESSAGE_TOO_LARGE;
    if (err != 0) {
        st_writer_free(&out);
        ST_WARN("produce v%d to %s-%d: message set refused: %s (%s)", req->api_version, p->topic->name,
                p->index, st_err_name(err), check.error_message ? check.error_message : "");
        pr->error_code = (int16_t)err;
        if (check.error_message) pr->error_message = st_str(check.error_message);
        produce_record_errors(req, pr, check.record_errors, check.record_error_count);
        return err;
    }
    pp->records = st_arena_memdup(&req->arena, out.data, out.len);
    pp->records_len = (int32_t)out.len;
    st_writer_free(&out);
    return 0;
}

/* Works on the current partition until it is done (true) or the turn's
 * budget is used (false: the validation goes on later). */
static bool produce_partition_step(st_broker_t *b, st_request_t *req, produce_progress_t *pp) {
    const st_produce_request_topic_produce_data_t *td = &pp->rq.topic_data[pp->topic_index];
    const st_produce_request_partition_produce_data_t *pd = &td->partition_data[pp->partition_index];
    st_produce_response_partition_produce_response_t *pr =
        &pp->resp->responses[pp->topic_index].partition_responses[pp->partition_index];
    /* Looked up again after every pause: the topic may be gone by then. */
    st_partition_t *p = pp->acks_valid ? produce_partition(b, pp) : NULL;
    if (!pp->validating) {
        pp->records = (uint8_t *)pd->records.ptr;
        pp->records_len = pd->records.len;
        pr->index = pd->index;
        pr->base_offset = -1;
        pr->log_append_time_ms = -1;
        pr->log_start_offset = -1;
        pr->error_message = st_str_null();
        pr->current_leader.leader_id = -1;
        pr->current_leader.leader_epoch = -1;
        if (!pp->acks_valid) {
            pr->error_code = ST_ERR_INVALID_REQUIRED_ACKS;
            return true;
        }
        if (!p) {
            pr->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            return true;
        }
        /* Below v3 Kafka does not check the magic: a v2 batch may come too. */
        if (req->api_version < 3 && pp->records) {
            int magic = st_legacy_first_magic(pp->records, (size_t)(pp->records_len > 0 ? pp->records_len : 0));
            if ((magic == 0 || magic == 1) && produce_up_convert(b, req, pp, p, pr) != 0) return true;
        }
        uint8_t *records = pp->records;
        /* Batches partition.c refuses before validating (no batch, larger
         * than max.message.bytes) go straight to it. */
        if (records && pp->records_len >= ST_BATCH_HEADER_BYTES &&
            pp->records_len <= p->topic->settings.max_message_bytes) {
            st_batch_limits_t limits;
            bool require_keys;
            st_partition_batch_limits(b, p, st_wall_ms(), &limits, &require_keys);
            st_batch_validation_begin(&pp->validation, records, (size_t)pp->records_len, &limits, require_keys,
                                      &req->arena);
            pp->validating = true;
        }
    }
    st_batch_check_t check;
    const st_batch_check_t *validated = NULL;
    if (pp->validating) {
        int64_t deadline = st_request_work_deadline_us(req, pp->slice_started_us);
        while (!st_batch_validation_step(&pp->validation, PRODUCE_STEP_BYTES))
            if (st_monotonic_us() >= deadline) return false;
        st_batch_validation_end(&pp->validation, &check);
        pp->validating = false;
        validated = &check;
    }
    if (!p) {
        pr->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return true;
    }
    st_produce_result_t res;
    /* The records live in the request arena; the log rewrites offsets in
     * place before writing them. */
    st_partition_produce(b, p, &req->arena, pp->records, pp->records_len, validated, &res);
    pr->error_code = (int16_t)res.error;
    pr->base_offset = res.base_offset;
    pr->log_append_time_ms = res.log_append_time_ms;
    pr->log_start_offset = res.log_start_offset;
    if (res.error && res.error_message) pr->error_message = st_str(res.error_message);
    produce_record_errors(req, pr, res.record_errors, res.record_error_count);
    return true;
}

static void produce_run(st_broker_t *b, st_request_t *req) {
    produce_progress_t *pp = req->pending;
    pp->slice_started_us = st_monotonic_us();
    for (; pp->topic_index < pp->rq.topic_data_count; pp->topic_index++, pp->partition_index = 0) {
        int32_t n = pp->resp->responses[pp->topic_index].partition_responses_count;
        for (; pp->partition_index < n; pp->partition_index++) {
            if (!produce_partition_step(b, req, pp)) {
                st_request_defer(req, produce_run);
                return;
            }
        }
    }
    req->pending = NULL;
    req->cancel_pending = NULL;
    if (pp->rq.acks == 0) {
        st_request_finish_silently(req);
        return;
    }
    st_request_respond(req, pp->resp);
}

int st_handle_produce(st_broker_t *b, st_request_t *req) {
    produce_progress_t *pp = st_arena_alloc(&req->arena, sizeof *pp);
    memset(pp, 0, sizeof *pp);
    if (st_request_decode(req, &pp->rq) != 0) return ST_ERR_DECODE;
    st_produce_request_t *rq = &pp->rq;
    st_produce_response_t *resp = st_request_alloc_response(req);
    pp->resp = resp;
    pp->acks_valid = rq->acks == -1 || rq->acks == 0 || rq->acks == 1;
    resp->responses = st_arena_alloc(&req->arena, (size_t)(rq->topic_data_count > 0 ? rq->topic_data_count : 1) *
                                                      sizeof *resp->responses);
    resp->responses_count = rq->topic_data_count > 0 ? rq->topic_data_count : 0;
    for (int32_t ti = 0; ti < resp->responses_count; ti++) {
        const st_produce_request_topic_produce_data_t *td = &rq->topic_data[ti];
        st_produce_response_topic_produce_response_t *tr = &resp->responses[ti];
        tr->name = td->name;
        int32_t n = td->partition_data_count > 0 ? td->partition_data_count : 0;
        tr->partition_responses = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *tr->partition_responses);
        tr->partition_responses_count = n;
    }
    pp->topic_index = 0;
    req->pending = pp;
    req->cancel_pending = produce_cancel;
    produce_run(b, req);
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
    st_request_respond(req, resp);
    return 0;
}
