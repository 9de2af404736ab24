/* The CLI client's producer: see client_internal.h. */
#include "tools/client_internal.h"
#include <time.h>

/* ---- producer -------------------------------------------------------------
 *
 * Per partition: an open batch (a builder plus the tags of its records).
 * A batch is "ready" when full, when its linger expired, or on flush; the
 * ready batches of one leader go out together in one Produce request. Per
 * leader: a FIFO of in-flight requests (at most in_flight_max), each
 * remembering which batches (partition, tags) it carried so the response
 * can complete their records.
 *
 *   open batch --(full | linger | flush)--> in flight --(response)--> done()
 */

typedef struct producer_batch {
    int32_t partition;
    int64_t *tags;
    int32_t count;
} producer_batch_t;

typedef struct producer_request {
    int32_t correlation_id;
    producer_batch_t *batches;
    int32_t batch_count;
} producer_request_t;

struct st_producer_partition {
    st_batch_builder_t builder;
    bool open;
    int64_t opened_ms;
    int64_t *tags;
    int32_t tag_cap;
};

struct st_producer_node {
    int32_t node_id;
    st_client_t *client;
    producer_request_t *ring; /* in_flight_max slots */
    int32_t head;
    int32_t count;
};

void st_producer_config_defaults(st_producer_config_t *config) {
    memset(config, 0, sizeof *config);
    config->acks = -1;
    config->codec = ST_CODEC_NONE;
    config->batch_bytes_max = 16384;
    config->linger_ms = 5;
    config->request_bytes_max = 1048576;
    config->in_flight_max = 5;
    config->request_timeout_ms = 30000;
}

static int producer_fail(st_producer_t *p, int rc, const char *text) {
    if (p->error == 0) {
        p->error = rc;
        snprintf(p->error_text, sizeof p->error_text, "%s", text);
    }
    return p->error;
}

static void producer_complete(st_producer_t *p, producer_batch_t *b, int64_t base_offset, int error,
                              const char *message) {
    for (int32_t i = 0; i < b->count; i++) {
        int64_t offset = error != 0 ? -1 : base_offset < 0 ? -1 : base_offset + i;
        if (p->config.done) p->config.done(p->config.opaque, b->partition, offset, b->tags[i], error, message);
    }
    p->pending_records -= b->count;
    free(b->tags);
    b->tags = NULL;
}

static void producer_request_fail(st_producer_t *p, producer_request_t *req, int error, const char *message) {
    for (int32_t i = 0; i < req->batch_count; i++) producer_complete(p, &req->batches[i], -1, error, message);
    free(req->batches);
    req->batches = NULL;
    req->batch_count = 0;
}

/* Fails everything in flight on `n` (its connection is gone). */
static void producer_node_fail(st_producer_t *p, st_producer_node_t *n, int error, const char *message) {
    while (n->count > 0) {
        producer_request_t *req = &n->ring[n->head];
        producer_request_fail(p, req, error, message);
        n->head = (n->head + 1) % p->config.in_flight_max;
        n->count--;
    }
}

/* Reads the oldest response on `n` and completes its records. */
static int producer_receive_one(st_producer_t *p, st_producer_node_t *n) {
    producer_request_t *req = &n->ring[n->head];
    st_arena_t arena;
    st_arena_init(&arena);
    st_produce_response_t resp;
    int rc = st_client_receive(n->client, ST_API_PRODUCE, req->correlation_id, &arena, &resp);
    if (rc != 0) {
        const char *why = st_client_error(n->client);
        producer_node_fail(p, n, rc, why);
        st_arena_free(&arena);
        return producer_fail(p, rc, why);
    }
    for (int32_t b = 0; b < req->batch_count; b++) {
        producer_batch_t *batch = &req->batches[b];
        const st_produce_response_partition_produce_response_t *pr = NULL;
        for (int32_t t = 0; t < resp.responses_count && !pr; t++)
            for (int32_t i = 0; i < resp.responses[t].partition_responses_count; i++)
                if (resp.responses[t].partition_responses[i].index == batch->partition)
                    pr = &resp.responses[t].partition_responses[i];
        if (!pr) {
            producer_complete(p, batch, -1, ST_ERR_UNKNOWN_SERVER_ERROR, "partition missing from the Produce response");
            continue;
        }
        const char *message = NULL;
        char text[ST_CLIENT_ERROR_BYTES];
        if (pr->error_code != 0) {
            if (pr->error_message.len > 0)
                snprintf(text, sizeof text, "%.*s", (int)pr->error_message.len, pr->error_message.ptr);
            else
                snprintf(text, sizeof text, "%s", st_kafka_error_message(pr->error_code));
            message = text;
        }
        producer_complete(p, batch, pr->base_offset, pr->error_code, message);
    }
    free(req->batches);
    req->batches = NULL;
    req->batch_count = 0;
    n->head = (n->head + 1) % p->config.in_flight_max;
    n->count--;
    st_arena_free(&arena);
    return 0;
}

static st_producer_node_t *producer_node(st_producer_t *p, int32_t node_id) {
    for (int32_t i = 0; i < p->node_count; i++)
        if (p->nodes[i].node_id == node_id) return &p->nodes[i];
    return NULL;
}

static bool batch_ready(const st_producer_t *p, const st_producer_partition_t *pp, int64_t now, bool flush) {
    if (!pp->open) return false;
    if (flush) return true;
    if ((int64_t)pp->builder.records.len + ST_BATCH_HEADER_BYTES >= p->config.batch_bytes_max) return true;
    return now - pp->opened_ms >= p->config.linger_ms;
}

/* Sends the ready batches led by `n` in one request (several if they exceed
 * the request cap), first making room in the in-flight window. */
static int producer_drain_node(st_producer_t *p, st_producer_node_t *n, bool flush) {
    int64_t now = st_now_ms();
    for (;;) {
        int32_t ready = 0;
        for (int32_t i = 0; i < p->layout.partition_count; i++)
            if (p->layout.leaders[i] == n->node_id && batch_ready(p, &p->partitions[i], now, flush)) ready++;
        if (ready == 0) return 0;
        while (n->count >= p->config.in_flight_max) {
            int rc = producer_receive_one(p, n);
            if (rc != 0) return rc;
        }
        if (p->error != 0) return p->error;

        st_writer_t records;
        st_writer_init(&records, 0);
        producer_request_t *req = &n->ring[(n->head + n->count) % p->config.in_flight_max];
        req->batches = st_xcalloc((size_t)ready, sizeof *req->batches);
        req->batch_count = 0;
        size_t *starts = st_xcalloc((size_t)ready + 1, sizeof *starts);
        for (int32_t i = 0; i < p->layout.partition_count; i++) {
            st_producer_partition_t *pp = &p->partitions[i];
            if (p->layout.leaders[i] != n->node_id || !batch_ready(p, pp, now, flush)) continue;
            /* One request stays under max.request.size unless a single batch
             * is bigger on its own. */
            if (req->batch_count > 0 &&
                records.len + pp->builder.records.len + ST_BATCH_HEADER_BYTES > (size_t)p->config.request_bytes_max)
                break;
            starts[req->batch_count] = records.len;
            int rc = st_batch_builder_finish(&pp->builder, &records);
            if (rc != 0) {
                free(starts);
                st_writer_free(&records);
                producer_request_fail(p, req, rc, "compression failed");
                return producer_fail(p, rc, "compression failed");
            }
            producer_batch_t *b = &req->batches[req->batch_count++];
            b->partition = i;
            b->tags = pp->tags;
            b->count = pp->builder.record_count;
            pp->tags = NULL;
            pp->tag_cap = 0;
            st_batch_builder_free(&pp->builder);
            pp->open = false;
            if (p->sticky_partition == i) p->sticky_partition = -1;
        }
        starts[req->batch_count] = records.len;

        st_produce_request_t pr;
        st_produce_request_init(&pr);
        pr.transactional_id = st_str_null();
        pr.acks = p->config.acks;
        pr.timeout_ms = p->config.request_timeout_ms;
        st_produce_request_topic_produce_data_t topic;
        memset(&topic, 0, sizeof topic);
        topic.name = st_str(p->config.topic);
        topic.partition_data = st_xcalloc((size_t)req->batch_count, sizeof *topic.partition_data);
        topic.partition_data_count = req->batch_count;
        for (int32_t b = 0; b < req->batch_count; b++) {
            st_produce_request_partition_produce_data_t *pd = &topic.partition_data[b];
            pd->index = req->batches[b].partition;
            pd->records = (st_records_t){.ptr = records.data + starts[b],
                                         .len = (int32_t)(starts[b + 1] - starts[b]),
                                         .fd = -1};
        }
        pr.topic_data = &topic;
        pr.topic_data_count = 1;
        int32_t id = 0;
        int rc = st_client_send(n->client, ST_API_PRODUCE, &pr, &id);
        free(topic.partition_data);
        free(starts);
        st_writer_free(&records);
        if (rc != 0) {
            const char *why = st_client_error(n->client);
            producer_request_fail(p, req, rc, why);
            producer_node_fail(p, n, rc, why);
            return producer_fail(p, rc, why);
        }
        if (p->config.acks == 0) {
            /* No response will come: the records are done once written. */
            n->client->in_flight--;
            producer_request_fail(p, req, 0, NULL);
        } else {
            req->correlation_id = id;
            n->count++;
        }
    }
}

int st_producer_open(st_producer_t *p, st_cluster_t *cluster, const st_producer_config_t *config) {
    memset(p, 0, sizeof *p);
    p->config = *config;
    if (p->config.in_flight_max <= 0) p->config.in_flight_max = 1;
    if (p->config.in_flight_max > ST_CLIENT_IN_FLIGHT_MAX) p->config.in_flight_max = ST_CLIENT_IN_FLIGHT_MAX;
    if (p->config.batch_bytes_max <= 0) p->config.batch_bytes_max = 1;
    p->cluster = cluster;
    p->sticky_partition = -1;
    p->random_state = (uint32_t)client_wall_ms() ^ (uint32_t)getpid();
    int rc = st_topic_layout_load(cluster, config->topic, &p->layout);
    if (rc != 0) {
        snprintf(p->error_text, sizeof p->error_text, "%s", cluster->error);
        return rc;
    }
    p->partitions = st_xcalloc((size_t)p->layout.partition_count, sizeof *p->partitions);
    p->nodes = st_xcalloc((size_t)p->layout.partition_count, sizeof *p->nodes);
    for (int32_t i = 0; i < p->layout.partition_count; i++) {
        int32_t leader = p->layout.leaders[i];
        if (producer_node(p, leader)) continue;
        st_client_t *client = st_cluster_client(cluster, leader);
        if (!client) {
            snprintf(p->error_text, sizeof p->error_text, "%s", cluster->error);
            st_producer_close(p);
            return ST_ERR_IO;
        }
        st_producer_node_t *n = &p->nodes[p->node_count++];
        n->node_id = leader;
        n->client = client;
        n->ring = st_xcalloc((size_t)p->config.in_flight_max, sizeof *n->ring);
    }
    return 0;
}

static uint32_t next_random(st_producer_t *p) {
    /* xorshift32: enough to spread sticky partitions. */
    uint32_t x = p->random_state ? p->random_state : 0x2545f491u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p->random_state = x;
    return x;
}

int st_producer_send(st_producer_t *p, int32_t partition, const uint8_t *key, int32_t key_len,
                     const uint8_t *value, int32_t value_len, const st_record_header_t *headers,
                     int32_t header_count, int64_t tag) {
    if (p->error != 0) return p->error;
    int32_t count = p->layout.partition_count;
    if (partition < 0 || partition >= count) {
        if (key_len >= 0) {
            partition = st_partition_for_key(key, (size_t)key_len, count);
        } else {
            /* KIP-480 sticky partitioner: keyless records fill one batch,
             * then another partition is picked. */
            if (p->sticky_partition < 0) p->sticky_partition = (int32_t)(next_random(p) % (uint32_t)count);
            partition = p->sticky_partition;
        }
    }
    st_producer_partition_t *pp = &p->partitions[partition];
    int64_t now_wall = client_wall_ms();
    if (!pp->open) {
        st_batch_builder_init(&pp->builder, p->config.codec, 0);
        pp->open = true;
        pp->opened_ms = st_now_ms();
    }
    if (pp->builder.record_count >= pp->tag_cap) {
        pp->tag_cap = pp->tag_cap ? pp->tag_cap * 2 : 64;
        pp->tags = client_xrealloc(pp->tags, sizeof *pp->tags * (size_t)pp->tag_cap);
    }
    pp->tags[pp->builder.record_count] = tag;
    st_batch_builder_add(&pp->builder, pp->builder.record_count, now_wall, key, key_len, value, value_len,
                         headers, header_count);
    p->pending_records++;
    if ((int64_t)pp->builder.records.len + ST_BATCH_HEADER_BYTES >= p->config.batch_bytes_max) {
        st_producer_node_t *n = producer_node(p, p->layout.leaders[partition]);
        return producer_drain_node(p, n, false);
    }
    return 0;
}

int st_producer_poll(st_producer_t *p, int timeout_ms) {
    for (int32_t i = 0; i < p->node_count; i++) {
        int rc = producer_drain_node(p, &p->nodes[i], false);
        if (rc != 0) return rc;
    }
    int64_t deadline = st_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        bool any = false;
        for (int32_t i = 0; i < p->node_count; i++) {
            st_producer_node_t *n = &p->nodes[i];
            while (n->count > 0 && st_client_readable(n->client, 0)) {
                int rc = producer_receive_one(p, n);
                if (rc != 0) return rc;
                any = true;
            }
        }
        int64_t left = deadline - st_now_ms();
        if (any || left <= 0) return p->error;
        /* Wait on the first node with something in flight. */
        st_producer_node_t *wait = NULL;
        for (int32_t i = 0; i < p->node_count && !wait; i++)
            if (p->nodes[i].count > 0) wait = &p->nodes[i];
        if (!wait) {
            /* Nothing in flight: sleep (a throttled perf run waits here
             * between records) instead of spinning, then send what the
             * linger let become ready. */
            struct timespec ts = {0, (long)(left > 10 ? 10 : left) * 1000000L};
            nanosleep(&ts, NULL);
            for (int32_t i = 0; i < p->node_count; i++) {
                int rc = producer_drain_node(p, &p->nodes[i], false);
                if (rc != 0) return rc;
            }
            continue;
        }
        (void)st_client_readable(wait->client, left > 100 ? 100 : (int)left);
    }
}

int st_producer_open_cli(st_cluster_t *cl, st_producer_t *p, const char *bootstrap, int timeout_ms,
                         const st_producer_config_t *config) {
    if (st_cluster_open(cl, bootstrap, timeout_ms) != 0) {
        fprintf(stderr, "ERROR %s\n", cl->error);
        return 1;
    }
    if (st_producer_open(p, cl, config) != 0) {
        fprintf(stderr, "ERROR %s\n", p->error_text);
        return 1;
    }
    return 0;
}

int st_producer_flush(st_producer_t *p) {
    for (int32_t i = 0; i < p->node_count; i++) {
        int rc = producer_drain_node(p, &p->nodes[i], true);
        if (rc != 0) return rc;
    }
    for (int32_t i = 0; i < p->node_count; i++) {
        st_producer_node_t *n = &p->nodes[i];
        while (n->count > 0) {
            int rc = producer_receive_one(p, n);
            if (rc != 0) return rc;
        }
    }
    return p->error;
}

void st_producer_close(st_producer_t *p) {
    for (int32_t i = 0; i < p->node_count; i++) {
        producer_node_fail(p, &p->nodes[i], ST_ERR_IO, "producer closed");
        free(p->nodes[i].ring);
    }
    if (p->partitions) {
        for (int32_t i = 0; i < p->layout.partition_count; i++) {
            if (p->partitions[i].open) st_batch_builder_free(&p->partitions[i].builder);
            free(p->partitions[i].tags);
        }
    }
    free(p->partitions);
    free(p->nodes);
    st_topic_layout_free(&p->layout);
    p->partitions = NULL;
    p->nodes = NULL;
    p->node_count = 0;
}

