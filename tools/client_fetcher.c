/* The CLI client's fetcher: see client_internal.h. */
#include "tools/client_internal.h"

/* ---- fetcher ------------------------------------------------------------- */

static int fetcher_fail(st_fetcher_t *f, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fetcher_fail(st_fetcher_t *f, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->error, sizeof f->error, fmt, ap);
    va_end(ap);
    return rc;
}

/* ListOffsets for the partitions led by `leader` that are flagged in
 * `which`, setting their positions. */
static int fetcher_list_offsets(st_fetcher_t *f, int32_t leader, const bool *which, int64_t timestamp) {
    st_client_t *c = st_cluster_client(f->cluster, leader);
    if (!c) return fetcher_fail(f, ST_ERR_IO, "%s", f->cluster->error);
    st_arena_t arena;
    st_arena_init(&arena);
    st_list_offsets_request_t req;
    st_list_offsets_request_init(&req);
    req.replica_id = -1;
    req.isolation_level = 0;
    req.timeout_ms = c->timeout_ms;
    st_list_offsets_request_list_offsets_topic_t topic;
    memset(&topic, 0, sizeof topic);
    topic.name = st_str(f->topic);
    topic.partitions = st_arena_alloc(&arena, sizeof *topic.partitions * (size_t)f->part_count);
    for (int32_t i = 0; i < f->part_count; i++) {
        if (!which[i] || f->parts[i].leader_id != leader) continue;
        st_list_offsets_request_list_offsets_partition_t *lp = &topic.partitions[topic.partitions_count++];
        lp->partition_index = f->parts[i].partition;
        lp->current_leader_epoch = -1;
        lp->timestamp = timestamp;
        lp->max_num_offsets = 1;
    }
    req.topics = &topic;
    req.topics_count = 1;
    st_list_offsets_response_t resp;
    int rc = st_client_call(c, ST_API_LIST_OFFSETS, &req, &arena, &resp);
    if (rc != 0) {
        fetcher_fail(f, rc, "%s", st_client_error(c));
        st_arena_free(&arena);
        return rc;
    }
    for (int32_t t = 0; t < resp.topics_count; t++) {
        for (int32_t i = 0; i < resp.topics[t].partitions_count; i++) {
            const st_list_offsets_response_list_offsets_partition_response_t *lp = &resp.topics[t].partitions[i];
            for (int32_t k = 0; k < f->part_count; k++) {
                if (!which[k] || f->parts[k].partition != lp->partition_index) continue;
                if (lp->error_code != 0) {
                    rc = fetcher_fail(f, lp->error_code, "ListOffsets %s-%d: %s", f->topic, (int)lp->partition_index,
                                      st_kafka_error_message(lp->error_code));
                    continue;
                }
                int64_t offset = lp->offset;
                if (lp->old_style_offsets_count > 0) offset = lp->old_style_offsets[0];
                f->parts[k].position = offset;
            }
        }
    }
    st_arena_free(&arena);
    return rc;
}

static int fetcher_reset(st_fetcher_t *f, const bool *which, int64_t timestamp) {
    for (int32_t i = 0; i < f->part_count; i++) {
        if (!which[i]) continue;
        bool seen = false;
        for (int32_t j = 0; j < i; j++)
            if (which[j] && f->parts[j].leader_id == f->parts[i].leader_id) seen = true;
        if (seen) continue;
        int rc = fetcher_list_offsets(f, f->parts[i].leader_id, which, timestamp);
        if (rc != 0) return rc;
    }
    return 0;
}

int st_fetcher_open(st_fetcher_t *f, st_cluster_t *cluster, const char *topic, int32_t partition,
                    int64_t start) {
    memset(f, 0, sizeof *f);
    f->cluster = cluster;
    f->topic = topic;
    f->max_wait_ms = 500;
    f->partition_bytes_max = 1048576;
    f->fetch_bytes_max = 52428800;
    f->reset_to = start == ST_OFFSET_EARLIEST ? ST_OFFSET_EARLIEST : ST_OFFSET_LATEST;
    int rc = st_topic_layout_load(cluster, topic, &f->layout);
    if (rc != 0) return fetcher_fail(f, rc, "%s", cluster->error);
    if (partition >= f->layout.partition_count) {
        st_fetcher_close(f);
        return fetcher_fail(f, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION, "partition %d of topic '%s' does not exist",
                            (int)partition, topic);
    }
    f->parts = st_xcalloc((size_t)f->layout.partition_count, sizeof *f->parts);
    for (int32_t i = 0; i < f->layout.partition_count; i++) {
        if (partition >= 0 && i != partition) continue;
        st_fetcher_partition_t *fp = &f->parts[f->part_count++];
        fp->partition = i;
        fp->leader_id = f->layout.leaders[i];
        fp->position = start;
        fp->high_watermark = -1;
    }
    bool *which = st_xcalloc((size_t)f->part_count, sizeof *which);
    for (int32_t i = 0; i < f->part_count; i++) which[i] = start < 0;
    rc = fetcher_reset(f, which, start < 0 ? start : ST_OFFSET_LATEST);
    free(which);
    return rc;
}

void st_fetcher_close(st_fetcher_t *f) {
    free(f->parts);
    f->parts = NULL;
    f->part_count = 0;
    st_topic_layout_free(&f->layout);
}

/* Walks the batches of one partition's records; returns false when the
 * callback asked to stop. A trailing partial batch (the broker cuts at the
 * byte limit) is ignored: the next fetch starts at it. */
static bool fetcher_deliver(st_fetcher_t *f, st_fetcher_partition_t *fp, const uint8_t *data, size_t len,
                            st_fetcher_record_fn fn, void *opaque, int64_t *delivered, int *error) {
    size_t pos = 0;
    while (len - pos >= ST_BATCH_LOG_OVERHEAD) {
        const uint8_t *b = data + pos;
        int32_t batch_length = st_get_i32be(b + 8);
        if (batch_length < 0 || (size_t)batch_length + ST_BATCH_LOG_OVERHEAD > len - pos) break; /* partial */
        size_t total = (size_t)batch_length + ST_BATCH_LOG_OVERHEAD;
        pos += total;
        st_batch_header_t h;
        int rc = st_batch_header_parse(b, total, &h);
        if (rc != 0) {
            *error = fetcher_fail(f, rc, "%s-%d: malformed batch at offset %lld", f->topic, (int)fp->partition,
                                  (long long)st_get_i64be(b));
            return false;
        }
        if (st_batch_last_offset(&h) < fp->position) continue;
        if (!st_batch_crc_valid(b, total)) {
            *error = fetcher_fail(f, ST_ERR_CORRUPT_MESSAGE, "%s-%d: batch at offset %lld fails its CRC", f->topic,
                                  (int)fp->partition, (long long)h.base_offset);
            return false;
        }
        if (h.attributes & ST_BATCH_ATTR_CONTROL) {
            fp->position = st_batch_last_offset(&h) + 1;
            continue;
        }
        st_arena_t arena;
        st_arena_init(&arena);
        st_record_iter_t it;
        rc = st_record_iter_init(&it, b, total, ST_CLIENT_DECOMPRESSED_BYTES_MAX, &arena);
        if (rc != 0) {
            st_arena_free(&arena);
            *error = fetcher_fail(f, rc, "%s-%d: cannot read batch at offset %lld: %s", f->topic, (int)fp->partition,
                                  (long long)h.base_offset, st_err_name(rc));
            return false;
        }
        bool log_append = (h.attributes & ST_BATCH_ATTR_LOG_APPEND_TIME) != 0;
        st_record_t rec;
        while ((rc = st_record_iter_next(&it, &rec)) == 1) {
            int64_t offset = h.base_offset + rec.offset_delta;
            if (offset < fp->position) continue;
            st_fetched_record_t fr = {
                .partition = fp->partition,
                .offset = offset,
                .timestamp = log_append ? h.max_timestamp : h.base_timestamp + rec.timestamp_delta,
                .log_append_time = log_append,
                .record = &rec,
            };
            fp->position = offset + 1;
            (*delivered)++;
            if (!fn(opaque, &fr)) {
                st_arena_free(&arena);
                return false;
            }
        }
        st_arena_free(&arena);
        if (rc < 0 || rc > 1) {
            *error = fetcher_fail(f, ST_ERR_CORRUPT_MESSAGE, "%s-%d: corrupt record in batch at offset %lld",
                                  f->topic, (int)fp->partition, (long long)h.base_offset);
            return false;
        }
        if (st_batch_last_offset(&h) + 1 > fp->position) fp->position = st_batch_last_offset(&h) + 1;
    }
    return true;
}

static int fetcher_poll_leader(st_fetcher_t *f, int32_t leader, st_fetcher_record_fn fn, void *opaque,
                               int64_t *delivered, bool *stop) {
    st_client_t *c = st_cluster_client(f->cluster, leader);
    if (!c) return fetcher_fail(f, ST_ERR_IO, "%s", f->cluster->error);
    int16_t version = st_client_version(c, ST_API_FETCH);
    if (version < 4) return fetcher_fail(f, ST_ERR_UNSUPPORTED_VERSION, "%s: the broker lacks Fetch v4+", c->peer);
    st_arena_t arena;
    st_arena_init(&arena);
    st_fetch_request_t req;
    st_fetch_request_init(&req);
    req.replica_id = -1;
    req.replica_state.replica_id = -1;
    req.replica_state.replica_epoch = -1;
    req.max_wait_ms = f->max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = f->fetch_bytes_max;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1; /* full fetch, no session (KIP-227) */
    req.rack_id = st_str("");
    st_fetch_request_fetch_topic_t topic;
    memset(&topic, 0, sizeof topic);
    topic.topic = st_str(f->topic);
    topic.topic_id = f->layout.topic_id;
    topic.partitions = st_arena_alloc(&arena, sizeof *topic.partitions * (size_t)f->part_count);
    for (int32_t i = 0; i < f->part_count; i++) {
        if (f->parts[i].leader_id != leader) continue;
        st_fetch_request_fetch_partition_t *fp = &topic.partitions[topic.partitions_count++];
        fp->partition = f->parts[i].partition;
        fp->current_leader_epoch = -1;
        fp->fetch_offset = f->parts[i].position;
        fp->last_fetched_epoch = -1;
        fp->log_start_offset = -1;
        fp->partition_max_bytes = f->partition_bytes_max;
    }
    req.topics = &topic;
    req.topics_count = 1;
    req.forgotten_topics_data = NULL;
    req.forgotten_topics_data_count = 0;
    if (version >= 13 && st_uuid_is_zero(&f->layout.topic_id)) {
        st_arena_free(&arena);
        return fetcher_fail(f, ST_ERR_UNKNOWN_TOPIC_ID, "topic '%s' has no topic id for Fetch v%d", f->topic, version);
    }
    st_fetch_response_t resp;
    int rc = st_client_call(c, ST_API_FETCH, &req, &arena, &resp);
    if (rc != 0) {
        fetcher_fail(f, rc, "%s", st_client_error(c));
        st_arena_free(&arena);
        return rc;
    }
    if (resp.error_code != 0) {
        rc = fetcher_fail(f, resp.error_code, "Fetch: %s", st_kafka_error_message(resp.error_code));
        st_arena_free(&arena);
        return rc;
    }
    bool *reset = st_xcalloc((size_t)f->part_count, sizeof *reset);
    bool need_reset = false;
    int error = 0;
    for (int32_t t = 0; t < resp.responses_count && !*stop && error == 0; t++) {
        const st_fetch_response_fetchable_topic_response_t *tr = &resp.responses[t];
        for (int32_t i = 0; i < tr->partitions_count && !*stop && error == 0; i++) {
            const st_fetch_response_partition_data_t *pd = &tr->partitions[i];
            st_fetcher_partition_t *fp = NULL;
            int32_t k = 0;
            for (; k < f->part_count; k++)
                if (f->parts[k].partition == pd->partition_index && f->parts[k].leader_id == leader) {
                    fp = &f->parts[k];
                    break;
                }
            if (!fp) continue;
            if (pd->error_code == ST_ERR_OFFSET_OUT_OF_RANGE) {
                reset[k] = true;
                need_reset = true;
                continue;
            }
            if (pd->error_code != 0) {
                error = fetcher_fail(f, pd->error_code, "Fetch %s-%d: %s", f->topic, (int)fp->partition,
                                     st_kafka_error_message(pd->error_code));
                break;
            }
            fp->high_watermark = pd->high_watermark;
            int64_t before = fp->position;
            if (pd->records.len > 0 &&
                !fetcher_deliver(f, fp, pd->records.ptr, (size_t)pd->records.len, fn, opaque, delivered, &error))
                if (error == 0) *stop = true;
            /* Only part of one batch came back (a broker without KIP-74):
             * ask for more next time, up to fetch_bytes_max. */
            if (error == 0 && !*stop && pd->records.len > 0 && fp->position == before &&
                f->partition_bytes_max < f->fetch_bytes_max)
                f->partition_bytes_max = f->partition_bytes_max > f->fetch_bytes_max / 2 ? f->fetch_bytes_max
                                                                                         : f->partition_bytes_max * 2;
        }
    }
    st_arena_free(&arena);
    if (error == 0 && need_reset && !*stop) error = fetcher_reset(f, reset, f->reset_to);
    free(reset);
    return error;
}

int st_fetcher_poll(st_fetcher_t *f, st_fetcher_record_fn fn, void *opaque, int64_t *delivered) {
    *delivered = 0;
    bool stop = false;
    for (int32_t i = 0; i < f->part_count && !stop; i++) {
        bool seen = false;
        for (int32_t j = 0; j < i; j++)
            if (f->parts[j].leader_id == f->parts[i].leader_id) seen = true;
        if (seen) continue;
        int rc = fetcher_poll_leader(f, f->parts[i].leader_id, fn, opaque, delivered, &stop);
        if (rc != 0) return rc;
    }
    return 0;
}

