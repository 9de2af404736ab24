/*
 * Metadata: brokers, cluster id, controller, and topics with their
 * partitions; auto-creates unknown topics when auto.create.topics.enable
 * and the request allows it (v4+ asks; older versions always allow), except
 * internal topics.
 */
#include <stdbool.h>
#include <string.h>

#include "broker/broker.h"

/*
 * Topics that only their owner creates, with their own partition count and
 * configs: __consumer_offsets by the group coordinator (coordinator/group/, compacted),
 * the transaction and share-group state topics by coordinators to come, and
 * __cluster_metadata, the metadata log itself, which is never a topic. A
 * Metadata request naming one that does not exist yet (Burrow asks for
 * __consumer_offsets before any group exists) gets UNKNOWN_TOPIC_OR_PARTITION
 * and creates nothing, whatever auto.create.topics.enable says.
 */
static bool internal_topic_name(const char *name) {
    static const char *const internal[] = {ST_OFFSETS_TOPIC, "__transaction_state", "__share_group_state",
                                           "__cluster_metadata"};
    for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++)
        if (strcmp(name, internal[i]) == 0) return true;
    return false;
}

static void fill_topic(st_broker_t *b, st_request_t *req, st_topic_t *t, st_metadata_response_metadata_response_topic_t *out) {
    out->error_code = 0;
    out->name = st_str(t->name);
    out->topic_id = t->id;
    out->is_internal = t->internal;
    out->topic_authorized_operations = INT32_MIN;
    out->partitions = st_arena_alloc(&req->arena, (size_t)(t->partition_count ? t->partition_count : 1) * sizeof *out->partitions);
    out->partitions_count = t->partition_count;
    int32_t *replicas = st_arena_alloc(&req->arena, sizeof *replicas);
    replicas[0] = b->node_id;
    for (int32_t i = 0; i < t->partition_count; i++) {
        st_metadata_response_metadata_response_partition_t *p = &out->partitions[i];
        st_partition_t *part = t->partitions[i];
        p->error_code = part && part->log ? 0 : ST_ERR_KAFKA_STORAGE_ERROR;
        p->partition_index = i;
        p->leader_id = b->node_id;
        p->leader_epoch = part ? part->leader_epoch : 0;
        p->replica_nodes = replicas;
        p->replica_nodes_count = 1;
        p->isr_nodes = replicas;
        p->isr_nodes_count = 1;
        p->offline_replicas_count = 0;
    }
}

typedef struct all_ctx {
    st_broker_t *b;
    st_request_t *req;
    st_metadata_response_t *resp;
} all_ctx_t;

static int add_any_topic(void *ctx, st_topic_t *t) {
    all_ctx_t *ac = ctx;
    fill_topic(ac->b, ac->req, t, &ac->resp->topics[ac->resp->topics_count++]);
    return 0;
}

int st_handle_metadata(st_broker_t *b, st_request_t *req) {
    st_metadata_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    int16_t v = req->api_version;
    st_metadata_response_t *resp = st_request_alloc_response(req);
    resp->brokers = st_arena_alloc(&req->arena, sizeof *resp->brokers);
    resp->brokers_count = 1;
    resp->brokers[0].node_id = b->node_id;
    resp->brokers[0].host = st_str(b->host);
    resp->brokers[0].port = b->port;
    resp->brokers[0].rack = st_str_null();
    resp->cluster_id = st_str(b->cluster_id);
    resp->controller_id = b->node_id;
    resp->cluster_authorized_operations = INT32_MIN;

    /* v0: an empty list means all topics; v1+: null means all. */
    bool all = (v == 0 && rq.topics_count == 0) || rq.topics_count < 0;
    if (all) {
        resp->topics = st_arena_alloc(&req->arena, (size_t)(b->topic_count ? b->topic_count : 1) * sizeof *resp->topics);
        all_ctx_t ac = {b, req, resp};
        st_broker_each_topic(b, add_any_topic, &ac);
        st_request_respond(req, resp);
        return 0;
    }
    bool allow_create = v < 4 || rq.allow_auto_topic_creation;
    bool auto_create = allow_create && st_config_get_bool(b->config, "auto.create.topics.enable");
    resp->topics = st_arena_alloc(&req->arena, (size_t)(rq.topics_count ? rq.topics_count : 1) * sizeof *resp->topics);
    for (int32_t i = 0; i < rq.topics_count; i++) {
        const st_metadata_request_metadata_request_topic_t *qt = &rq.topics[i];
        st_metadata_response_metadata_response_topic_t *out = &resp->topics[resp->topics_count++];
        out->topic_authorized_operations = INT32_MIN;
        st_topic_t *t = NULL;
        if (qt->name.len < 0) {
            t = st_broker_topic_by_id(b, &qt->topic_id);
            if (!t) {
                out->error_code = ST_ERR_UNKNOWN_TOPIC_ID;
                out->name = st_str_null();
                out->topic_id = qt->topic_id;
                continue;
            }
        } else {
            t = st_broker_topic(b, qt->name.ptr);
        }
        if (!t && auto_create && !internal_topic_name(qt->name.ptr)) {
            char msg[256];
            int err = st_topic_name_validate(qt->name.ptr, msg, sizeof msg);
            if (err != 0) {
                out->error_code = (int16_t)err;
                out->name = qt->name;
                continue;
            }
            int32_t partitions = st_config_get_int(b->config, "num.partitions");
            if (st_broker_create_topic(b, qt->name.ptr, partitions, 0, NULL, NULL, NULL) == 0) {
                ST_INFO("auto-created topic %s for a Metadata request from %s", qt->name.ptr,
                        req->client_id.len > 0 ? req->client_id.ptr : "(no client id)");
                t = st_broker_topic(b, qt->name.ptr);
            }
        }
        if (!t) {
            out->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            out->name = qt->name;
            out->is_internal = internal_topic_name(qt->name.ptr);
            continue;
        }
        fill_topic(b, req, t, out);
    }
    st_request_respond(req, resp);
    return 0;
}
