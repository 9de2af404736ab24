/* Core messages <-> wire structs for the KRaft RPCs (raft/quorum_wire.h). */
#include "raft/quorum_wire.h"

#include <string.h>

#include "common/errors.h"
#include "protocol/record_batch.h"

const st_uuid_t st_quorum_topic_id = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

static st_str_t cluster_id_of(const st_quorum_wire_context_t *ctx) {
    return ctx && ctx->cluster_id ? st_str(ctx->cluster_id) : st_str_null();
}

static bool is_metadata_topic(st_str_t name) { return st_str_eq(name, ST_QUORUM_TOPIC_NAME); }

/* KafkaRaftClient.hasValidClusterId: a request without one is accepted. */
static bool cluster_id_ok(st_str_t requested, const st_quorum_wire_context_t *ctx) {
    if (st_str_is_null(requested) || !ctx || !ctx->cluster_id) return true;
    return st_str_eq(requested, ctx->cluster_id);
}

static bool voter_id_ok(int32_t voter_id, int16_t version, const st_quorum_wire_context_t *ctx) {
    return version < 1 || voter_id < 0 || !ctx || voter_id == ctx->local_id;
}

#define ALLOC_ONE(arena, ptr) ((ptr) = st_arena_alloc((arena), sizeof *(ptr)))

/* ------------------------------------------------------------------- Vote */

int st_quorum_wire_vote_request_out(const st_raft_message_t *m, int32_t to, const st_quorum_wire_context_t *ctx,
                                    int16_t version, st_arena_t *arena, st_vote_request_t *out) {
    const st_raft_vote_request_t *r = &m->vote_request;
    if (r->pre_vote && version < 2) return ST_ERR_UNSUPPORTED_VERSION;
    st_vote_request_init(out);
    out->cluster_id = cluster_id_of(ctx);
    out->voter_id = to;
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->topic_name = st_str(ST_QUORUM_TOPIC_NAME);
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    st_vote_request_partition_data_t *p = out->topics->partitions;
    p->partition_index = 0;
    p->candidate_epoch = r->candidate_epoch;
    p->candidate_id = r->candidate_id;
    p->last_offset_epoch = r->last_offset_epoch;
    p->last_offset = r->last_offset;
    p->pre_vote = r->pre_vote;
    return 0;
}

int st_quorum_wire_vote_request_in(const st_vote_request_t *w, int16_t version, int32_t correlation_id,
                                   const st_quorum_wire_context_t *ctx, st_raft_message_t *out) {
    if (!cluster_id_ok(w->cluster_id, ctx)) return ST_ERR_INCONSISTENT_CLUSTER_ID;
    if (w->topics_count != 1 || !is_metadata_topic(w->topics[0].topic_name) || w->topics[0].partitions_count != 1 ||
        w->topics[0].partitions[0].partition_index != 0)
        return ST_ERR_INVALID_REQUEST;
    if (!voter_id_ok(w->voter_id, version, ctx)) return ST_ERR_INVALID_VOTER_KEY;
    const st_vote_request_partition_data_t *p = &w->topics[0].partitions[0];
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_VOTE_REQUEST;
    out->correlation_id = correlation_id;
    out->vote_request = (st_raft_vote_request_t){p->candidate_epoch, p->candidate_id, p->last_offset_epoch,
                                                 p->last_offset, version >= 2 && p->pre_vote};
    return 0;
}

int st_quorum_wire_vote_response_out(const st_raft_message_t *m, int16_t version, st_arena_t *arena,
                                     st_vote_response_t *out) {
    (void)version;
    const st_raft_vote_response_t *r = &m->vote_response;
    st_vote_response_init(out);
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->topic_name = st_str(ST_QUORUM_TOPIC_NAME);
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    *out->topics->partitions =
        (st_vote_response_partition_data_t){0, r->error, r->leader_id, r->leader_epoch, r->vote_granted};
    return 0;
}

int st_quorum_wire_vote_response_in(const st_vote_response_t *w, int32_t correlation_id, st_raft_message_t *out) {
    if (w->error_code != ST_ERR_NONE) return w->error_code;
    if (w->topics_count != 1 || !is_metadata_topic(w->topics[0].topic_name) || w->topics[0].partitions_count != 1 ||
        w->topics[0].partitions[0].partition_index != 0)
        return ST_ERR_INVALID_REQUEST;
    const st_vote_response_partition_data_t *p = &w->topics[0].partitions[0];
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_VOTE_RESPONSE;
    out->correlation_id = correlation_id;
    out->vote_response = (st_raft_vote_response_t){p->error_code, p->leader_id, p->leader_epoch, p->vote_granted};
    return 0;
}

/* ------------------------------------------------------- BeginQuorumEpoch */

int st_quorum_wire_begin_epoch_request_out(const st_raft_message_t *m, int32_t to, const st_quorum_wire_context_t *ctx,
                                           int16_t version, st_arena_t *arena, st_begin_quorum_epoch_request_t *out) {
    (void)version;
    st_begin_quorum_epoch_request_init(out);
    out->cluster_id = cluster_id_of(ctx);
    out->voter_id = to;
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->topic_name = st_str(ST_QUORUM_TOPIC_NAME);
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    out->topics->partitions->leader_id = m->begin_epoch_request.leader_id;
    out->topics->partitions->leader_epoch = m->begin_epoch_request.leader_epoch;
    return 0;
}

int st_quorum_wire_begin_epoch_request_in(const st_begin_quorum_epoch_request_t *w, int16_t version,
                                          int32_t correlation_id, const st_quorum_wire_context_t *ctx,
                                          st_raft_message_t *out) {
    if (!cluster_id_ok(w->cluster_id, ctx)) return ST_ERR_INCONSISTENT_CLUSTER_ID;
    if (w->topics_count != 1 || !is_metadata_topic(w->topics[0].topic_name) || w->topics[0].partitions_count != 1 ||
        w->topics[0].partitions[0].partition_index != 0)
        return ST_ERR_INVALID_REQUEST;
    if (!voter_id_ok(w->voter_id, version, ctx)) return ST_ERR_INVALID_VOTER_KEY;
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_BEGIN_EPOCH_REQUEST;
    out->correlation_id = correlation_id;
    out->begin_epoch_request.leader_id = w->topics[0].partitions[0].leader_id;
    out->begin_epoch_request.leader_epoch = w->topics[0].partitions[0].leader_epoch;
    return 0;
}

int st_quorum_wire_begin_epoch_response_out(const st_raft_message_t *m, int16_t version, st_arena_t *arena,
                                            st_begin_quorum_epoch_response_t *out) {
    (void)version;
    const st_raft_epoch_response_t *r = &m->epoch_response;
    st_begin_quorum_epoch_response_init(out);
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->topic_name = st_str(ST_QUORUM_TOPIC_NAME);
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    *out->topics->partitions = (st_begin_quorum_epoch_response_partition_data_t){0, r->error, r->leader_id,
                                                                                 r->leader_epoch};
    return 0;
}

int st_quorum_wire_begin_epoch_response_in(const st_begin_quorum_epoch_response_t *w, int32_t correlation_id,
                                           st_raft_message_t *out) {
    if (w->error_code != ST_ERR_NONE) return w->error_code;
    if (w->topics_count != 1 || !is_metadata_topic(w->topics[0].topic_name) || w->topics[0].partitions_count != 1)
        return ST_ERR_INVALID_REQUEST;
    const st_begin_quorum_epoch_response_partition_data_t *p = &w->topics[0].partitions[0];
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_BEGIN_EPOCH_RESPONSE;
    out->correlation_id = correlation_id;
    out->epoch_response = (st_raft_epoch_response_t){p->error_code, p->leader_id, p->leader_epoch};
    return 0;
}

/* --------------------------------------------------------- EndQuorumEpoch */

int st_quorum_wire_end_epoch_request_out(const st_raft_message_t *m, const st_quorum_wire_context_t *ctx,
                                         int16_t version, st_arena_t *arena, st_end_quorum_epoch_request_t *out) {
    const st_raft_end_epoch_request_t *r = &m->end_epoch_request;
    int32_t n = r->preferred_count < 0 ? 0 : r->preferred_count > ST_RAFT_VOTERS_MAX ? ST_RAFT_VOTERS_MAX
                                                                                        : r->preferred_count;
    st_end_quorum_epoch_request_init(out);
    out->cluster_id = cluster_id_of(ctx);
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->topic_name = st_str(ST_QUORUM_TOPIC_NAME);
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    st_end_quorum_epoch_request_partition_data_t *p = out->topics->partitions;
    p->leader_id = r->leader_id;
    p->leader_epoch = r->leader_epoch;
    if (version == 0) {
        p->preferred_successors = st_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof *p->preferred_successors);
        p->preferred_successors_count = n;
        memcpy(p->preferred_successors, r->preferred_successors, (size_t)n * sizeof *p->preferred_successors);
    } else {
        p->preferred_candidates = st_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof *p->preferred_candidates);
        p->preferred_candidates_count = n;
        for (int32_t i = 0; i < n; i++) p->preferred_candidates[i].candidate_id = r->preferred_successors[i];
    }
    return 0;
}

int st_quorum_wire_end_epoch_request_in(const st_end_quorum_epoch_request_t *w, int16_t version,
                                        int32_t correlation_id, const st_quorum_wire_context_t *ctx,
                                        st_raft_message_t *out) {
    if (!cluster_id_ok(w->cluster_id, ctx)) return ST_ERR_INCONSISTENT_CLUSTER_ID;
    if (w->topics_count != 1 || !is_metadata_topic(w->topics[0].topic_name) || w->topics[0].partitions_count != 1 ||
        w->topics[0].partitions[0].partition_index != 0)
        return ST_ERR_INVALID_REQUEST;
    const st_end_quorum_epoch_request_partition_data_t *p = &w->topics[0].partitions[0];
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_END_EPOCH_REQUEST;
    out->correlation_id = correlation_id;
    st_raft_end_epoch_request_t *r = &out->end_epoch_request;
    r->leader_id = p->leader_id;
    r->leader_epoch = p->leader_epoch;
    int32_t n = version == 0 ? p->preferred_successors_count : p->preferred_candidates_count;
    if (n < 0) n = 0;
    if (n > ST_RAFT_VOTERS_MAX) n = ST_RAFT_VOTERS_MAX; /* only the first few matter */
    for (int32_t i = 0; i < n; i++)
        r->preferred_successors[i] =
            version == 0 ? p->preferred_successors[i] : p->preferred_candidates[i].candidate_id;
    r->preferred_count = n;
    return 0;
}

int st_quorum_wire_end_epoch_response_out(const st_raft_message_t *m, int16_t version, st_arena_t *arena,
                                          st_end_quorum_epoch_response_t *out) {
    (void)version;
    const st_raft_epoch_response_t *r = &m->epoch_response;
    st_end_quorum_epoch_response_init(out);
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->topic_name = st_str(ST_QUORUM_TOPIC_NAME);
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    *out->topics->partitions = (st_end_quorum_epoch_response_partition_data_t){0, r->error, r->leader_id,
                                                                               r->leader_epoch};
    return 0;
}

int st_quorum_wire_end_epoch_response_in(const st_end_quorum_epoch_response_t *w, int32_t correlation_id,
                                         st_raft_message_t *out) {
    if (w->error_code != ST_ERR_NONE) return w->error_code;
    if (w->topics_count != 1 || !is_metadata_topic(w->topics[0].topic_name) || w->topics[0].partitions_count != 1)
        return ST_ERR_INVALID_REQUEST;
    const st_end_quorum_epoch_response_partition_data_t *p = &w->topics[0].partitions[0];
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_END_EPOCH_RESPONSE;
    out->correlation_id = correlation_id;
    out->epoch_response = (st_raft_epoch_response_t){p->error_code, p->leader_id, p->leader_epoch};
    return 0;
}

/* ------------------------------------------------------------------ Fetch */

/* KRaft needs LastFetchedEpoch and DivergingEpoch: Fetch v12+. */
#define FETCH_VERSION_MIN 12

int st_quorum_wire_fetch_request_out(const st_raft_message_t *m, const st_quorum_wire_context_t *ctx, int16_t version,
                                     st_arena_t *arena, st_fetch_request_t *out) {
    if (version < FETCH_VERSION_MIN) return ST_ERR_UNSUPPORTED_VERSION;
    const st_raft_fetch_request_t *r = &m->fetch_request;
    st_fetch_request_init(out);
    out->cluster_id = cluster_id_of(ctx);
    out->replica_id = r->replica_id;
    out->replica_state.replica_id = r->replica_id;
    out->max_wait_ms = r->max_wait_ms;
    out->min_bytes = 1;
    out->max_bytes = r->max_bytes;
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->topic = st_str(ST_QUORUM_TOPIC_NAME);
    out->topics->topic_id = st_quorum_topic_id;
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    st_fetch_request_fetch_partition_t *p = out->topics->partitions;
    p->partition = 0;
    p->current_leader_epoch = r->current_leader_epoch;
    p->fetch_offset = r->fetch_offset;
    p->last_fetched_epoch = r->last_fetched_epoch;
    p->log_start_offset = -1;
    p->partition_max_bytes = r->max_bytes;
    return 0;
}

int st_quorum_wire_fetch_request_in(const st_fetch_request_t *w, int16_t version, int32_t correlation_id,
                                    const st_quorum_wire_context_t *ctx, st_raft_message_t *out) {
    if (!cluster_id_ok(w->cluster_id, ctx)) return ST_ERR_INCONSISTENT_CLUSTER_ID;
    if (version < FETCH_VERSION_MIN || w->topics_count != 1 || w->topics[0].partitions_count != 1 ||
        w->topics[0].partitions[0].partition != 0)
        return ST_ERR_INVALID_REQUEST;
    const st_fetch_request_fetch_topic_t *t = &w->topics[0];
    bool topic_ok = version >= 13 ? memcmp(t->topic_id.bytes, st_quorum_topic_id.bytes, 16) == 0
                                  : is_metadata_topic(t->topic);
    if (!topic_ok) return ST_ERR_INVALID_REQUEST;
    const st_fetch_request_fetch_partition_t *p = &t->partitions[0];
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_FETCH_REQUEST;
    out->correlation_id = correlation_id;
    out->fetch_request = (st_raft_fetch_request_t){
        .replica_id = version >= 15 ? w->replica_state.replica_id : w->replica_id,
        .current_leader_epoch = p->current_leader_epoch,
        .fetch_offset = p->fetch_offset,
        .last_fetched_epoch = p->last_fetched_epoch,
        .max_wait_ms = w->max_wait_ms,
        .max_bytes = p->partition_max_bytes < w->max_bytes ? p->partition_max_bytes : w->max_bytes,
    };
    return 0;
}

int st_quorum_wire_fetch_response_out(const st_raft_message_t *m, const st_records_t *records, int16_t version,
                                      st_arena_t *arena, st_fetch_response_t *out) {
    if (version < FETCH_VERSION_MIN) return ST_ERR_UNSUPPORTED_VERSION;
    const st_raft_fetch_response_t *r = &m->fetch_response;
    st_fetch_response_init(out);
    ALLOC_ONE(arena, out->responses);
    out->responses_count = 1;
    out->responses->topic = st_str(ST_QUORUM_TOPIC_NAME);
    out->responses->topic_id = st_quorum_topic_id;
    ALLOC_ONE(arena, out->responses->partitions);
    out->responses->partitions_count = 1;
    st_fetch_response_partition_data_t *p = out->responses->partitions;
    p->partition_index = 0;
    p->last_stable_offset = -1;
    p->preferred_read_replica = -1;
    p->error_code = r->error;
    p->high_watermark = r->high_watermark;
    p->log_start_offset = r->log_start_offset;
    p->diverging_epoch.epoch = r->diverging_epoch.epoch;
    p->diverging_epoch.end_offset = r->diverging_epoch.epoch >= 0 ? r->diverging_epoch.offset : -1;
    p->current_leader.leader_id = r->leader_id;
    p->current_leader.leader_epoch = r->leader_epoch;
    p->snapshot_id.epoch = r->snapshot_id.epoch;
    p->snapshot_id.end_offset = r->snapshot_id.epoch >= 0 ? r->snapshot_id.offset : -1;
    if (records) p->records = *records;
    else p->records = (st_records_t){.ptr = NULL, .len = 0, .fd = -1};
    return 0;
}

void st_quorum_wire_parse_batches(const uint8_t *records, int32_t len, st_quorum_wire_batches_t *out) {
    out->count = 0;
    out->corrupt = false;
    int32_t at = 0;
    while (records && len - at >= ST_BATCH_LOG_OVERHEAD && out->count < ST_RAFT_FETCH_BATCHES_MAX) {
        st_batch_header_t h;
        if (len - at < ST_BATCH_HEADER_BYTES) break; /* partial at the end */
        if (st_batch_header_parse(records + at, (size_t)(len - at), &h) != 0 || h.batch_length < 0 ||
            h.last_offset_delta < 0 || h.base_offset < 0) {
            out->corrupt = true;
            break;
        }
        int64_t total = st_batch_total_bytes(&h);
        if (total < ST_BATCH_HEADER_BYTES) {
            out->corrupt = true;
            break;
        }
        if (total > len - at) break; /* partial at the end */
        if (!st_batch_crc_valid(records + at, (size_t)total)) {
            out->corrupt = true;
            break;
        }
        out->batches[out->count] = (st_raft_batch_t){h.base_offset, h.last_offset_delta + 1, h.partition_leader_epoch};
        out->byte_offset[out->count] = at;
        out->byte_length[out->count] = (int32_t)total;
        out->count++;
        at += (int32_t)total;
    }
}

int st_quorum_wire_fetch_response_in(const st_fetch_response_t *w, int16_t version, int32_t correlation_id,
                                     st_quorum_wire_batches_t *batches, st_raft_message_t *out) {
    if (w->error_code != ST_ERR_NONE) return w->error_code;
    if (version < FETCH_VERSION_MIN || w->responses_count != 1 || w->responses[0].partitions_count != 1 ||
        w->responses[0].partitions[0].partition_index != 0)
        return ST_ERR_INVALID_REQUEST;
    const st_fetch_response_partition_data_t *p = &w->responses[0].partitions[0];
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_FETCH_RESPONSE;
    out->correlation_id = correlation_id;
    st_raft_fetch_response_t *r = &out->fetch_response;
    r->error = p->error_code;
    r->leader_id = p->current_leader.leader_id;
    r->leader_epoch = p->current_leader.leader_epoch;
    r->high_watermark = p->high_watermark;
    r->log_start_offset = p->log_start_offset;
    r->diverging_epoch = (st_raft_offset_epoch_t){p->diverging_epoch.end_offset, p->diverging_epoch.epoch};
    r->snapshot_id = (st_raft_offset_epoch_t){p->snapshot_id.end_offset, p->snapshot_id.epoch};
    r->read_from_offset = r->read_end_offset = -1;
    st_quorum_wire_parse_batches(p->records.len > 0 ? p->records.ptr : NULL, p->records.len, batches);
    r->batches = batches->batches;
    r->batch_count = batches->count;
    return 0;
}

/* ---------------------------------------------------------- FetchSnapshot */

int st_quorum_wire_fetch_snapshot_request_out(const st_raft_message_t *m, const st_quorum_wire_context_t *ctx,
                                              int16_t version, st_arena_t *arena, st_fetch_snapshot_request_t *out) {
    (void)version;
    const st_raft_fetch_snapshot_request_t *r = &m->fetch_snapshot_request;
    st_fetch_snapshot_request_init(out);
    out->cluster_id = cluster_id_of(ctx);
    out->replica_id = r->replica_id;
    out->max_bytes = r->max_bytes;
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->name = st_str(ST_QUORUM_TOPIC_NAME);
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    st_fetch_snapshot_request_partition_snapshot_t *p = out->topics->partitions;
    p->partition = 0;
    p->current_leader_epoch = r->current_leader_epoch;
    p->snapshot_id.end_offset = r->snapshot_id.offset;
    p->snapshot_id.epoch = r->snapshot_id.epoch;
    p->position = r->position;
    return 0;
}

int st_quorum_wire_fetch_snapshot_request_in(const st_fetch_snapshot_request_t *w, int32_t correlation_id,
                                             const st_quorum_wire_context_t *ctx, st_raft_message_t *out) {
    if (!cluster_id_ok(w->cluster_id, ctx)) return ST_ERR_INCONSISTENT_CLUSTER_ID;
    if (w->topics_count != 1 || w->topics[0].partitions_count != 1) return ST_ERR_INVALID_REQUEST;
    if (!is_metadata_topic(w->topics[0].name) || w->topics[0].partitions[0].partition != 0)
        return ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    const st_fetch_snapshot_request_partition_snapshot_t *p = &w->topics[0].partitions[0];
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST;
    out->correlation_id = correlation_id;
    out->fetch_snapshot_request = (st_raft_fetch_snapshot_request_t){
        w->replica_id, p->current_leader_epoch, {p->snapshot_id.end_offset, p->snapshot_id.epoch}, p->position,
        w->max_bytes};
    return 0;
}

int st_quorum_wire_fetch_snapshot_response_out(const st_raft_message_t *m, const st_records_t *chunk, int16_t version,
                                               st_arena_t *arena, st_fetch_snapshot_response_t *out) {
    (void)version;
    const st_raft_fetch_snapshot_response_t *r = &m->fetch_snapshot_response;
    st_fetch_snapshot_response_init(out);
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->name = st_str(ST_QUORUM_TOPIC_NAME);
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    st_fetch_snapshot_response_partition_snapshot_t *p = out->topics->partitions;
    p->index = 0;
    p->error_code = r->error;
    p->snapshot_id.end_offset = r->snapshot_id.offset;
    p->snapshot_id.epoch = r->snapshot_id.epoch;
    p->current_leader.leader_id = r->leader_id;
    p->current_leader.leader_epoch = r->leader_epoch;
    p->size = r->size_bytes;
    p->position = r->position;
    if (chunk) p->unaligned_records = *chunk;
    else p->unaligned_records = (st_records_t){.ptr = NULL, .len = 0, .fd = -1};
    return 0;
}

int st_quorum_wire_fetch_snapshot_response_in(const st_fetch_snapshot_response_t *w, int32_t correlation_id,
                                              st_records_t *chunk, st_raft_message_t *out) {
    if (w->error_code != ST_ERR_NONE) return w->error_code;
    if (w->topics_count != 1 || !is_metadata_topic(w->topics[0].name) || w->topics[0].partitions_count != 1)
        return ST_ERR_INVALID_REQUEST;
    const st_fetch_snapshot_response_partition_snapshot_t *p = &w->topics[0].partitions[0];
    memset(out, 0, sizeof *out);
    out->kind = ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE;
    out->correlation_id = correlation_id;
    int32_t bytes = p->unaligned_records.len > 0 ? p->unaligned_records.len : 0;
    out->fetch_snapshot_response = (st_raft_fetch_snapshot_response_t){
        p->error_code, p->current_leader.leader_id, p->current_leader.leader_epoch,
        {p->snapshot_id.end_offset, p->snapshot_id.epoch}, p->size, p->position, bytes};
    *chunk = p->unaligned_records;
    return 0;
}

/* --------------------------------------------------------- DescribeQuorum */

int st_quorum_wire_describe_request_check(const st_describe_quorum_request_t *w) {
    if (w->topics_count != 1 || w->topics[0].partitions_count != 1 || !is_metadata_topic(w->topics[0].topic_name) ||
        w->topics[0].partitions[0].partition_index != 0)
        return ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    return 0;
}

static void describe_replicas(const st_raft_replica_description_t *in, int32_t n, st_arena_t *arena,
                              st_describe_quorum_response_replica_state_t **out, int32_t *count) {
    *out = st_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof **out);
    *count = n;
    for (int32_t i = 0; i < n; i++) {
        (*out)[i].replica_id = in[i].replica_id;
        (*out)[i].log_end_offset = in[i].log_end_offset;
        (*out)[i].last_fetch_timestamp = in[i].last_fetch_ms;
        (*out)[i].last_caught_up_timestamp = in[i].last_caught_up_ms;
    }
}

int st_quorum_wire_describe_response_out(const st_raft_description_t *d, int16_t version, st_arena_t *arena,
                                         st_describe_quorum_response_t *out) {
    (void)version;
    st_describe_quorum_response_init(out);
    ALLOC_ONE(arena, out->topics);
    out->topics_count = 1;
    out->topics->topic_name = st_str(ST_QUORUM_TOPIC_NAME);
    ALLOC_ONE(arena, out->topics->partitions);
    out->topics->partitions_count = 1;
    st_describe_quorum_response_partition_data_t *p = out->topics->partitions;
    p->partition_index = 0;
    p->error_code = d->error;
    p->error_message = st_str_null();
    p->leader_id = d->leader_id;
    p->leader_epoch = d->leader_epoch;
    p->high_watermark = d->high_watermark;
    describe_replicas(d->voters, d->voter_count, arena, &p->current_voters, &p->current_voters_count);
    describe_replicas(d->observers, d->observer_count, arena, &p->observers, &p->observers_count);
    out->error_message = st_str_null();
    out->nodes_count = 0;
    return 0;
}

/* ----------------------------------------------------------- LeaderChange */

void st_quorum_wire_leader_change(const st_raft_append_t *append, const st_raft_config_t *config, st_arena_t *arena,
                                  st_leader_change_message_t *out) {
    st_leader_change_message_init(out);
    out->version = 0;
    out->leader_id = append->leader_change.leader_id;
    out->voters = st_arena_alloc(arena, (size_t)config->voter_count * sizeof *out->voters);
    out->granting_voters = st_arena_alloc(arena, (size_t)config->voter_count * sizeof *out->granting_voters);
    out->voters_count = out->granting_voters_count = 0;
    for (int32_t i = 0; i < config->voter_count; i++) {
        if (append->leader_change.voters_mask >> i & 1u)
            out->voters[out->voters_count++].voter_id = config->voters[i];
        if (append->leader_change.granting_mask >> i & 1u)
            out->granting_voters[out->granting_voters_count++].voter_id = config->voters[i];
    }
}
