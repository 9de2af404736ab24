/*
 * Offset APIs: ListOffsets, OffsetForLeaderEpoch and DeleteRecords.
 *
 * They answer as a Kafka 4 partition leader does (KafkaApis, ReplicaManager,
 * Partition.fetchOffsetForTimestamp / lastOffsetForLeaderEpoch /
 * deleteRecordsOnLeader, UnifiedLog.fetchOffsetByTimestamp). With one
 * replica the high watermark is the log end offset, and with no
 * transactions the last stable offset is the high watermark.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"

/* ListOffsetsRequest's special timestamps. */
#define LIST_OFFSETS_LATEST (-1)
#define LIST_OFFSETS_EARLIEST (-2)
#define LIST_OFFSETS_MAX_TIMESTAMP (-3)     /* KIP-734, v7+ */
#define LIST_OFFSETS_EARLIEST_LOCAL (-4)    /* KIP-405, v8+ */
#define LIST_OFFSETS_LATEST_TIERED (-5)     /* KIP-1005, v9+ */
/* DeleteRecordsRequest.HIGH_WATERMARK */
#define DELETE_RECORDS_HIGH_WATERMARK (-1)
/* RecordBatch.NO_PARTITION_LEADER_EPOCH: "no epoch given / known". */
#define NO_LEADER_EPOCH (-1)

/* Partition.checkCurrentLeaderEpoch: a client that knows a newer epoch than
 * ours is ahead of us (UNKNOWN_LEADER_EPOCH, retriable), one that knows an
 * older epoch is behind (FENCED_LEADER_EPOCH). -1 skips the check. */
static int check_leader_epoch(const st_partition_t *p, int32_t current_leader_epoch) {
    if (current_leader_epoch == NO_LEADER_EPOCH) return 0;
    if (current_leader_epoch > p->leader_epoch) return ST_ERR_UNKNOWN_LEADER_EPOCH;
    if (current_leader_epoch < p->leader_epoch) return ST_ERR_FENCED_LEADER_EPOCH;
    return 0;
}

/* ---- ListOffsets ----------------------------------------------------------------- */

typedef st_list_offsets_response_list_offsets_partition_response_t list_offsets_result_t;

typedef struct tp_ref {
    const char *topic;
    int32_t partition;
    int32_t topic_index;
    int32_t partition_index; /* position in the request */
} tp_ref_t;

static int tp_ref_cmp(const void *a, const void *b) {
    const tp_ref_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c != 0) return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

static void list_offsets_one(st_broker_t *b, const char *topic,
                             const st_list_offsets_request_list_offsets_partition_t *pr, list_offsets_result_t *out) {
    st_partition_t *p = topic ? st_broker_partition(b, topic, pr->partition_index) : NULL;
    if (!p || !p->log) {
        out->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    int err = check_leader_epoch(p, pr->current_leader_epoch);
    if (err != 0) {
        out->error_code = (int16_t)err;
        return;
    }
    /* Consumers see up to the high watermark (read_uncommitted) or the last
     * stable offset (read_committed); both are the log end here, as is what
     * a follower or a debugging client (replica_id != -1) would see. */
    int64_t last_fetchable = st_partition_high_watermark(p);
    int64_t offset = -1, timestamp = -1;
    int32_t epoch = NO_LEADER_EPOCH;
    switch (pr->timestamp) {
    case LIST_OFFSETS_LATEST:
        offset = last_fetchable;
        epoch = p->leader_epoch;
        break;
    case LIST_OFFSETS_EARLIEST:
    case LIST_OFFSETS_EARLIEST_LOCAL: /* no tiered storage: the local log is all of it */
        offset = st_partition_log_start_offset(p);
        epoch = st_partition_epoch_for_offset(p, offset);
        break;
    case LIST_OFFSETS_LATEST_TIERED:
        /* Remote storage disabled: Kafka answers -1 with epoch -1. */
        break;
    case LIST_OFFSETS_MAX_TIMESTAMP:
        if (st_partition_max_timestamp(p, &offset, &timestamp) != 0 || offset >= last_fetchable) {
            offset = -1;
            timestamp = -1;
        } else {
            epoch = st_partition_epoch_for_offset(p, offset);
        }
        break;
    default:
        /* A timestamp (KIP-79). Kafka treats any other negative value as a
         * timestamp too, which finds the first record. */
        if (st_partition_offset_for_timestamp(p, pr->timestamp, &offset, &timestamp) != 0 || offset >= last_fetchable) {
            offset = -1;
            timestamp = -1;
        } else {
            epoch = st_partition_epoch_for_offset(p, offset);
        }
        break;
    }
    out->offset = offset;
    out->timestamp = timestamp;
    out->leader_epoch = epoch;
}

int st_handle_list_offsets(st_broker_t *b, st_request_t *req) {
    st_list_offsets_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_list_offsets_response_t *resp = st_request_alloc_response(req);
    int32_t n = ST_RESPONSE_ARRAY(req, resp->topics, rq.topics_count);

    /* Kafka answers every copy of a partition listed twice with
     * INVALID_REQUEST (ListOffsetsRequest.duplicatePartitions). */
    int64_t total = 0;
    for (int32_t i = 0; i < n; i++) total += rq.topics[i].partitions_count > 0 ? rq.topics[i].partitions_count : 0;
    tp_ref_t *refs = st_arena_alloc(&req->arena, (size_t)(total > 0 ? total : 1) * sizeof *refs);
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++) {
        resp->topics[i].name = rq.topics[i].name;
        int32_t np = rq.topics[i].partitions_count > 0 ? rq.topics[i].partitions_count : 0;
        resp->topics[i].partitions = st_arena_alloc(&req->arena, (size_t)(np > 0 ? np : 1) * sizeof(list_offsets_result_t));
        resp->topics[i].partitions_count = np;
        for (int32_t k = 0; k < np; k++) {
            list_offsets_result_t *out = &resp->topics[i].partitions[k];
            out->partition_index = rq.topics[i].partitions[k].partition_index;
            out->old_style_offsets_count = 0;
            out->timestamp = -1;
            out->offset = -1;
            out->leader_epoch = NO_LEADER_EPOCH;
            if (rq.topics[i].name.len >= 0)
                refs[m++] = (tp_ref_t){rq.topics[i].name.ptr, out->partition_index, i, k};
        }
    }
    qsort(refs, (size_t)m, sizeof *refs, tp_ref_cmp);
    for (int32_t i = 0; i < m;) {
        int32_t j = i + 1;
        while (j < m && tp_ref_cmp(&refs[j], &refs[i]) == 0) j++;
        if (j - i > 1)
            for (int32_t k = i; k < j; k++)
                resp->topics[refs[k].topic_index].partitions[refs[k].partition_index].error_code = ST_ERR_INVALID_REQUEST;
        i = j;
    }

    for (int32_t i = 0; i < n; i++) {
        const char *topic = rq.topics[i].name.len >= 0 ? rq.topics[i].name.ptr : NULL;
        for (int32_t k = 0; k < resp->topics[i].partitions_count; k++) {
            list_offsets_result_t *out = &resp->topics[i].partitions[k];
            if (out->error_code != 0) continue;
            list_offsets_one(b, topic, &rq.topics[i].partitions[k], out);
            /* v0 (still sent by older tools such as Burrow 1.2) answers with a
             * list of offsets; only its first entry is ever used, so Strata
             * returns the one offset the newer versions return. */
            if (req->api_version == 0 && out->error_code == 0 && out->offset >= 0 &&
                rq.topics[i].partitions[k].max_num_offsets > 0) {
                out->old_style_offsets = st_arena_alloc(&req->arena, sizeof *out->old_style_offsets);
                out->old_style_offsets[0] = out->offset;
                out->old_style_offsets_count = 1;
            }
        }
    }
    st_request_respond(req, resp);
    return 0;
}

/* ---- OffsetForLeaderEpoch ---------------------------------------------------------- */

int st_handle_offset_for_leader_epoch(st_broker_t *b, st_request_t *req) {
    st_offset_for_leader_epoch_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_offset_for_leader_epoch_response_t *resp = st_request_alloc_response(req);
    int32_t n = ST_RESPONSE_ARRAY(req, resp->topics, rq.topics_count);
    for (int32_t i = 0; i < n; i++) {
        const st_offset_for_leader_epoch_request_offset_for_leader_topic_t *tr = &rq.topics[i];
        st_offset_for_leader_epoch_response_offset_for_leader_topic_result_t *to = &resp->topics[i];
        to->topic = tr->topic;
        int32_t np = ST_RESPONSE_ARRAY(req, to->partitions, tr->partitions_count);
        for (int32_t k = 0; k < np; k++) {
            const st_offset_for_leader_epoch_request_offset_for_leader_partition_t *pr = &tr->partitions[k];
            st_offset_for_leader_epoch_response_epoch_end_offset_t *out = &to->partitions[k];
            out->partition = pr->partition;
            out->leader_epoch = NO_LEADER_EPOCH;
            out->end_offset = -1;
            st_partition_t *p = tr->topic.len >= 0 ? st_broker_partition(b, tr->topic.ptr, pr->partition) : NULL;
            if (!p || !p->log) {
                out->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            int err = check_leader_epoch(p, pr->current_leader_epoch);
            if (err != 0) {
                out->error_code = (int16_t)err;
                continue;
            }
            /* Unknown epochs come back as -1/-1 with no error, as Kafka's
             * endOffsetForEpoch returning None does. */
            st_partition_end_offset_for_epoch(p, pr->leader_epoch, &out->leader_epoch, &out->end_offset);
        }
    }
    st_request_respond(req, resp);
    return 0;
}

/* ---- DeleteRecords ------------------------------------------------------------------ */

static int delete_records_one(st_partition_t *p, int64_t requested, int64_t *low_watermark) {
    if (p->topic->internal) return ST_ERR_INVALID_TOPIC_EXCEPTION; /* "Cannot delete records of internal topic" */
    /* Partition.deleteRecordsOnLeader: only a topic whose cleanup.policy
     * includes delete may lose records this way. */
    if (!p->topic->settings.cleanup_delete) return ST_ERR_POLICY_VIOLATION;
    int64_t hw = st_partition_high_watermark(p);
    int64_t offset = requested == DELETE_RECORDS_HIGH_WATERMARK ? hw : requested;
    if (offset < 0 || offset > hw) return ST_ERR_OFFSET_OUT_OF_RANGE;
    int err = st_partition_delete_records(p, offset);
    if (err == ST_ERR_OFFSET_OUT_OF_RANGE) return err;
    if (err != 0) {
        ST_ERROR("%s-%d: delete records to %lld failed: %s", p->topic->name, p->index, (long long)offset,
                 st_err_name(err));
        return ST_ERR_KAFKA_STORAGE_ERROR;
    }
    /* The low watermark: the log start offset after the move (a request at
     * or below it changes nothing and answers the current start). */
    *low_watermark = st_partition_log_start_offset(p);
    return 0;
}

int st_handle_delete_records(st_broker_t *b, st_request_t *req) {
    st_delete_records_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_delete_records_response_t *resp = st_request_alloc_response(req);
    int32_t n = ST_RESPONSE_ARRAY(req, resp->topics, rq.topics_count);
    for (int32_t i = 0; i < n; i++) {
        const st_delete_records_request_delete_records_topic_t *tr = &rq.topics[i];
        st_delete_records_response_delete_records_topic_result_t *to = &resp->topics[i];
        to->name = tr->name;
        int32_t np = ST_RESPONSE_ARRAY(req, to->partitions, tr->partitions_count);
        for (int32_t k = 0; k < np; k++) {
            st_delete_records_response_delete_records_partition_result_t *out = &to->partitions[k];
            out->partition_index = tr->partitions[k].partition_index;
            out->low_watermark = -1;
            st_partition_t *p = tr->name.len >= 0 ? st_broker_partition(b, tr->name.ptr, out->partition_index) : NULL;
            if (!p || !p->log) {
                out->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            out->error_code = (int16_t)delete_records_one(p, tr->partitions[k].offset, &out->low_watermark);
            if (out->error_code != 0) out->low_watermark = -1;
        }
    }
    st_request_respond(req, resp);
    return 0;
}
