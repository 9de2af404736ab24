/*
 * Cluster admin APIs: DescribeCluster, DescribeLogDirs and
 * DescribeProducers, answered the way a single-node Kafka 4 (KRaft) cluster
 * does. They only read: nothing here changes the broker.
 *
 * Everything a response points at lives in the request arena or in the
 * broker.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "controller/admin.h"
#include "controller/admin_internal.h"

/* ---- DescribeCluster ------------------------------------------------------------ */

/* AclOperation codes a CLUSTER resource supports; with no authorizer every
 * one of them is allowed (KIP-430 bit field). */
#define CLUSTER_AUTHORIZED_OPERATIONS                                                                          \
    ((1 << 5) /* CREATE */ | (1 << 7) /* ALTER */ | (1 << 8) /* DESCRIBE */ | (1 << 9) /* CLUSTER_ACTION */ | \
     (1 << 10) /* DESCRIBE_CONFIGS */ | (1 << 11) /* ALTER_CONFIGS */ | (1 << 12) /* IDEMPOTENT_WRITE */)

enum { ENDPOINT_TYPE_BROKER = 1 };

int st_handle_describe_cluster(st_broker_t *b, st_request_t *req) {
    st_describe_cluster_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_describe_cluster_response_t *resp = st_request_alloc_response(req);
    resp->error_message = st_str_null();
    resp->endpoint_type = req->api_version >= 1 ? rq.endpoint_type : ENDPOINT_TYPE_BROKER;
    resp->cluster_id = st_str(b->cluster_id);
    resp->brokers_count = 0;
    if (req->api_version >= 1 && rq.endpoint_type != ENDPOINT_TYPE_BROKER) {
        /* A broker lists brokers only; controllers answer for controllers. */
        resp->error_code = ST_ERR_UNSUPPORTED_ENDPOINT_TYPE;
        resp->error_message = admin_arena_printf(req, "The broker does not serve endpoint type %d", rq.endpoint_type);
        st_request_respond(req, resp);
        return 0;
    }
    resp->controller_id = b->node_id;
    resp->brokers = st_arena_alloc(&req->arena, sizeof *resp->brokers);
    resp->brokers_count = 1;
    resp->brokers[0].broker_id = b->node_id;
    resp->brokers[0].host = st_str(b->host);
    resp->brokers[0].port = b->port;
    resp->brokers[0].rack = st_str_null();
    resp->cluster_authorized_operations =
        rq.include_cluster_authorized_operations ? CLUSTER_AUTHORIZED_OPERATIONS : INT32_MIN;
    st_request_respond(req, resp);
    return 0;
}

/* ---- DescribeLogDirs -------------------------------------------------------------- */

typedef st_describe_log_dirs_response_describe_log_dirs_topic_t log_dir_topic_t;

typedef struct log_dirs_ctx {
    st_request_t *req;
    log_dir_topic_t *topics;
    int32_t count;
    int32_t cap;
} log_dirs_ctx_t;

static log_dir_topic_t *log_dirs_add_topic(log_dirs_ctx_t *c, st_topic_t *t, int32_t partitions_cap) {
    if (c->count == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 16;
        log_dir_topic_t *grown = st_arena_alloc(&c->req->arena, (size_t)cap * sizeof *grown);
        if (c->count) memcpy(grown, c->topics, (size_t)c->count * sizeof *grown);
        c->topics = grown;
        c->cap = cap;
    }
    log_dir_topic_t *lt = &c->topics[c->count++];
    lt->name = admin_arena_str(c->req, t->name);
    lt->partitions = st_arena_alloc(&c->req->arena, (size_t)(partitions_cap > 0 ? partitions_cap : 1) * sizeof *lt->partitions);
    lt->partitions_count = 0;
    return lt;
}

static void log_dirs_add_partition(log_dir_topic_t *lt, const st_partition_t *p) {
    st_describe_log_dirs_response_describe_log_dirs_partition_t *lp = &lt->partitions[lt->partitions_count++];
    lp->partition_index = p->index;
    lp->partition_size = st_partition_size_bytes(p);
    lp->offset_lag = 0; /* only a future (moving) replica lags */
    lp->is_future_key = false;
}

static int log_dirs_all(void *ctx, st_topic_t *t) {
    log_dirs_ctx_t *c = ctx;
    log_dir_topic_t *lt = NULL;
    for (int32_t i = 0; i < t->partition_count; i++) {
        st_partition_t *p = t->partitions[i];
        if (!p || !p->log) continue;
        if (!lt) lt = log_dirs_add_topic(c, t, t->partition_count);
        log_dirs_add_partition(lt, p);
    }
    return 0;
}

typedef struct topic_partition_ref {
    const char *topic;
    int32_t partition;
} topic_partition_ref_t;

static int tp_ref_cmp(const void *a, const void *b) {
    const topic_partition_ref_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c != 0 ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

int st_handle_describe_log_dirs(st_broker_t *b, st_request_t *req) {
    st_describe_log_dirs_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_describe_log_dirs_response_t *resp = st_request_alloc_response(req);
    log_dirs_ctx_t c = {req, NULL, 0, 0};
    if (rq.topics_count < 0) {
        st_broker_each_topic(b, log_dirs_all, &c);
    } else {
        /* Kafka collects the request into a set of partitions: duplicates
         * vanish and unknown partitions are simply not listed. */
        int64_t total = 0;
        for (int32_t i = 0; i < rq.topics_count; i++)
            total += rq.topics[i].partitions_count > 0 ? rq.topics[i].partitions_count : 0;
        topic_partition_ref_t *refs = st_arena_alloc(&req->arena, (size_t)(total > 0 ? total : 1) * sizeof *refs);
        int32_t m = 0;
        for (int32_t i = 0; i < rq.topics_count; i++) {
            if (!admin_cstr(rq.topics[i].topic)) continue;
            for (int32_t k = 0; k < rq.topics[i].partitions_count; k++)
                refs[m++] = (topic_partition_ref_t){rq.topics[i].topic.ptr, rq.topics[i].partitions[k]};
        }
        qsort(refs, (size_t)m, sizeof *refs, tp_ref_cmp);
        for (int32_t i = 0; i < m;) {
            int32_t j = i;
            while (j < m && strcmp(refs[j].topic, refs[i].topic) == 0) j++;
            st_topic_t *t = st_broker_topic(b, refs[i].topic);
            log_dir_topic_t *lt = NULL;
            for (int32_t k = i; t && k < j; k++) {
                if (k > i && refs[k].partition == refs[k - 1].partition) continue;
                int32_t pi = refs[k].partition;
                if (pi < 0 || pi >= t->partition_count || !t->partitions[pi] || !t->partitions[pi]->log) continue;
                if (!lt) lt = log_dirs_add_topic(&c, t, j - i);
                log_dirs_add_partition(lt, t->partitions[pi]);
            }
            i = j;
        }
    }
    resp->error_code = 0;
    resp->results = st_arena_alloc(&req->arena, sizeof *resp->results);
    resp->results_count = 1;
    st_describe_log_dirs_response_describe_log_dirs_result_t *r = &resp->results[0];
    r->error_code = 0;
    /* Kafka names the directory by its absolute path. */
    char *abs = realpath(b->data_dir, NULL);
    r->log_dir = admin_arena_str(req, abs ? abs : b->data_dir);
    free(abs);
    r->topics = c.topics;
    r->topics_count = c.count;
    r->total_bytes = -1;
    r->usable_bytes = -1;
    struct statvfs fs;
    if (statvfs(b->data_dir, &fs) == 0) {
        r->total_bytes = (int64_t)fs.f_blocks * (int64_t)fs.f_frsize;
        r->usable_bytes = (int64_t)fs.f_bavail * (int64_t)fs.f_frsize;
    }
    st_request_respond(req, resp);
    return 0;
}

/* ---- DescribeProducers -------------------------------------------------------------- */

int st_handle_describe_producers(st_broker_t *b, st_request_t *req) {
    st_describe_producers_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_describe_producers_response_t *resp = st_request_alloc_response(req);
    int32_t n = ST_RESPONSE_ARRAY(req, resp->topics, rq.topics_count);
    for (int32_t i = 0; i < n; i++) {
        const st_describe_producers_request_topic_request_t *tr = &rq.topics[i];
        st_describe_producers_response_topic_response_t *to = &resp->topics[i];
        to->name = tr->name;
        int32_t np = ST_RESPONSE_ARRAY(req, to->partitions, tr->partition_indexes_count);
        for (int32_t k = 0; k < np; k++) {
            st_describe_producers_response_partition_response_t *pr = &to->partitions[k];
            pr->partition_index = tr->partition_indexes[k];
            pr->error_message = st_str_null();
            pr->active_producers_count = 0;
            st_partition_t *p = admin_cstr(tr->name) ? st_broker_partition(b, tr->name.ptr, pr->partition_index) : NULL;
            if (!p || !p->log) {
                pr->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            int32_t count = st_producer_state_count(p->producers);
            pr->active_producers = st_arena_alloc(&req->arena, (size_t)(count > 0 ? count : 1) * sizeof *pr->active_producers);
            st_producer_info_t info;
            for (int32_t j = 0; j < count && st_producer_state_at(p->producers, j, &info); j++) {
                st_describe_producers_response_producer_state_t *ps = &pr->active_producers[pr->active_producers_count++];
                ps->producer_id = info.producer_id;
                ps->producer_epoch = info.producer_epoch;
                ps->last_sequence = info.last_sequence;
                ps->last_timestamp = info.last_timestamp;
                ps->coordinator_epoch = -1;         /* no transactions yet */
                ps->current_txn_start_offset = -1;  /* no open transaction */
            }
        }
    }
    st_request_respond(req, resp);
    return 0;
}
