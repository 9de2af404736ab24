/*
 * Classic group coordinator: see group.h for the state diagram and
 * invariants. Everything runs on the loop thread; parked JoinGroup and
 * SyncGroup requests are completed from here when the group moves.
 */
#include "server/group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/record_batch.h"

#define GROUP_BUCKETS 4096
#define OFFSET_COMMIT_KEY_VERSION 1
#define OFFSET_COMMIT_VALUE_VERSION 3
#define GROUP_METADATA_KEY_VERSION 2
#define GROUP_METADATA_VALUE_VERSION 3
#define OFFSET_METADATA_MAX_BYTES 4096

typedef enum group_state {
    GROUP_EMPTY,
    GROUP_PREPARING_REBALANCE,
    GROUP_COMPLETING_REBALANCE,
    GROUP_STABLE,
    GROUP_DEAD,
} group_state_t;

static const char *const state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"};

typedef struct group group_t;

typedef struct protocol {
    char *name;
    uint8_t *metadata;
    int32_t metadata_len;
} protocol_t;

typedef struct member {
    group_t *group;
    char *member_id;
    char *instance_id; /* NULL: dynamic member */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    protocol_t *protocols;
    int32_t protocol_count;
    uint8_t *assignment;
    int32_t assignment_len;
    st_request_t *join_req;
    st_request_t *sync_req;
    bool joined; /* rejoined in the current rebalance */
    st_timer_t session_timer;
    struct member *next;
} member_t;

typedef struct committed {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ms;
} committed_t;

struct group {
    st_groups_t *owner;
    char *id;
    group_state_t state;
    char *protocol_type;
    char *protocol_name;
    int32_t generation;
    char *leader_id;
    member_t *members;
    int32_t member_count;
    char **pending_ids; /* ids handed out with MEMBER_ID_REQUIRED */
    int32_t pending_count;
    committed_t *offsets;
    int32_t offset_count;
    int32_t offset_cap;
    bool initial_delay;
    int64_t rebalance_deadline_ms;
    st_timer_t rebalance_timer;
    int64_t state_since_ms;
    int64_t empty_since_ms;
    group_t *next;
};

struct st_groups {
    st_broker_t *b;
    group_t *buckets[GROUP_BUCKETS];
    int32_t count;
};

/* ---- small helpers -------------------------------------------------------- */

static char *dup_str(st_str_t s) {
    if (s.len < 0) return NULL;
    char *d = malloc((size_t)s.len + 1);
    if (!d) abort();
    memcpy(d, s.ptr, (size_t)s.len);
    d[s.len] = '\0';
    return d;
}

static char *dup_c(const char *s) {
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

static uint8_t *dup_bytes(const uint8_t *p, int32_t len) {
    if (len <= 0) return NULL;
    uint8_t *d = malloc((size_t)len);
    if (!d) abort();
    memcpy(d, p, (size_t)len);
    return d;
}

static bool str_eq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

int32_t st_group_partition_for(const char *group_id, int32_t partitions) {
    /* Java's String.hashCode over UTF-16 code units; group ids are ASCII in
     * practice, and for UTF-8 input we hash code points below 0x10000 as
     * Java would (surrogate pairs for the rest). */
    int32_t h = 0;
    const unsigned char *s = (const unsigned char *)group_id;
    while (*s) {
        uint32_t cp;
        int n;
        if (*s < 0x80) { cp = *s; n = 1; }
        else if ((*s & 0xe0) == 0xc0 && s[1]) { cp = ((uint32_t)(*s & 0x1f) << 6) | (s[1] & 0x3f); n = 2; }
        else if ((*s & 0xf0) == 0xe0 && s[1] && s[2]) { cp = ((uint32_t)(*s & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f); n = 3; }
        else if ((*s & 0xf8) == 0xf0 && s[1] && s[2] && s[3]) {
            cp = ((uint32_t)(*s & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) | ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
            n = 4;
        } else { cp = *s; n = 1; }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = (int32_t)((uint32_t)h * 31u + (0xd800 + (cp >> 10)));
            h = (int32_t)((uint32_t)h * 31u + (0xdc00 + (cp & 0x3ff)));
        } else {
            h = (int32_t)((uint32_t)h * 31u + cp);
        }
        s += n;
    }
    /* Kafka's Utils.abs: Integer.MIN_VALUE maps to 0. */
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return a % partitions;
}

static uint32_t bucket_of(const char *id) {
    uint32_t h = 2166136261u;
    for (; *id; id++) h = (h ^ (uint8_t)*id) * 16777619u;
    return h % GROUP_BUCKETS;
}

static group_t *group_find(st_groups_t *g, const char *id) {
    for (group_t *gr = g->buckets[bucket_of(id)]; gr; gr = gr->next)
        if (strcmp(gr->id, id) == 0) return gr;
    return NULL;
}

static group_t *group_create(st_groups_t *g, const char *id) {
    group_t *gr = calloc(1, sizeof *gr);
    if (!gr) abort();
    gr->owner = g;
    gr->id = dup_c(id);
    gr->state = GROUP_EMPTY;
    gr->state_since_ms = st_wall_ms();
    gr->empty_since_ms = gr->state_since_ms;
    uint32_t bkt = bucket_of(id);
    gr->next = g->buckets[bkt];
    g->buckets[bkt] = gr;
    g->count++;
    return gr;
}

static void member_free_protocols(member_t *m) {
    for (int32_t i = 0; i < m->protocol_count; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->protocols = NULL;
    m->protocol_count = 0;
}

static member_t *member_find(group_t *gr, const char *member_id) {
    for (member_t *m = gr->members; m; m = m->next)
        if (strcmp(m->member_id, member_id) == 0) return m;
    return NULL;
}

static member_t *member_by_instance(group_t *gr, const char *instance_id) {
    if (!instance_id) return NULL;
    for (member_t *m = gr->members; m; m = m->next)
        if (m->instance_id && strcmp(m->instance_id, instance_id) == 0) return m;
    return NULL;
}

static void set_state(group_t *gr, group_state_t s) {
    gr->state = s;
    gr->state_since_ms = st_wall_ms();
    if (s == GROUP_EMPTY) gr->empty_since_ms = gr->state_since_ms;
}

/* ---- persistence in __consumer_offsets ---------------------------------- */

static st_partition_t *offsets_partition(st_groups_t *g, const char *group_id, bool create) {
    st_broker_t *b = g->b;
    st_topic_t *t = st_broker_topic(b, ST_OFFSETS_TOPIC);
    if (!t && create) {
        int32_t n = st_config_get_int(b->config, "offsets.topic.num.partitions");
        const char *names[] = {"cleanup.policy", "segment.bytes", "compression.type"};
        const char *values[] = {"compact", "104857600", "producer"};
        if (st_broker_create_topic(b, ST_OFFSETS_TOPIC, n, 3, names, values, NULL) != 0) return NULL;
        t = st_broker_topic(b, ST_OFFSETS_TOPIC);
    }
    if (!t || t->partition_count <= 0) return NULL;
    return t->partitions[st_group_partition_for(group_id, t->partition_count)];
}

/* Records of one change to a group, appended to its __consumer_offsets
 * partition as one batch (all or nothing). Keys and values are encoded into
 * the scratch writers, then copied into the batch. */
typedef struct record_set {
    st_batch_builder_t batch;
    st_writer_t key;
    st_writer_t value;
    int32_t count;
    int64_t now_ms;
} record_set_t;

static void rs_init(record_set_t *rs) {
    st_batch_builder_init(&rs->batch, ST_CODEC_NONE, 0);
    st_writer_init(&rs->key, 128);
    st_writer_init(&rs->value, 256);
    rs->count = 0;
    rs->now_ms = st_wall_ms();
}

static void rs_free(record_set_t *rs) {
    st_batch_builder_free(&rs->batch);
    st_writer_free(&rs->key);
    st_writer_free(&rs->value);
}

/* Adds the record whose key and value are in the scratch writers (no value:
 * a tombstone), then clears them. */
static void rs_add(record_set_t *rs, bool tombstone) {
    st_batch_builder_add(&rs->batch, rs->count++, rs->now_ms, rs->key.data, (int32_t)rs->key.len,
                         tombstone ? NULL : rs->value.data, tombstone ? -1 : (int32_t)rs->value.len, NULL, 0);
    st_writer_reset(&rs->key);
    st_writer_reset(&rs->value);
}

static int rs_append(st_groups_t *g, const char *group_id, record_set_t *rs) {
    if (rs->count == 0) return 0;
    st_partition_t *p = offsets_partition(g, group_id, true);
    if (!p || !p->log) return ST_ERR_COORDINATOR_NOT_AVAILABLE;
    st_writer_t batch;
    st_writer_init(&batch, 256);
    int err = st_batch_builder_finish(&rs->batch, &batch);
    st_log_append_result_t res;
    if (err == 0) err = st_log_append(p->log, batch.data, batch.len, p->leader_epoch, rs->now_ms, false, &res);
    st_writer_free(&batch);
    if (err == ST_ERR_KAFKA_STORAGE_ERROR) {
        /* The log said why when it failed (with the errno), once; a full disk
         * heals in place (storage/log.h). Kafka answers a failed
         * __consumer_offsets append so (GroupMetadataManager): clients find
         * the coordinator again and retry. */
        return ST_ERR_NOT_COORDINATOR;
    }
    if (err != 0) {
        ST_ERROR("could not write to %s for group %s: %s", ST_OFFSETS_TOPIC, group_id, st_err_name(err));
        return ST_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    st_fetch_wake(g->b, p);
    return 0;
}

static void encode_offset_key(st_writer_t *w, const char *group, const char *topic, int32_t partition) {
    st_offset_commit_key_t k;
    st_offset_commit_key_init(&k);
    k.group = st_str(group);
    k.topic = st_str(topic);
    k.partition = partition;
    st_write_i16(w, OFFSET_COMMIT_KEY_VERSION);
    st_offset_commit_key_encode(w, OFFSET_COMMIT_KEY_VERSION, &k);
}

static void encode_offset_value(st_writer_t *w, const committed_t *c) {
    st_offset_commit_value_t v;
    st_offset_commit_value_init(&v);
    v.offset = c->offset;
    v.leader_epoch = c->leader_epoch;
    v.metadata = st_str(c->metadata ? c->metadata : "");
    v.commit_timestamp = c->commit_ms;
    st_write_i16(w, OFFSET_COMMIT_VALUE_VERSION);
    st_offset_commit_value_encode(w, OFFSET_COMMIT_VALUE_VERSION, &v);
}

static void encode_group_key(st_writer_t *w, const char *group) {
    st_group_metadata_key_t k;
    st_group_metadata_key_init(&k);
    k.group = st_str(group);
    st_write_i16(w, GROUP_METADATA_KEY_VERSION);
    st_group_metadata_key_encode(w, GROUP_METADATA_KEY_VERSION, &k);
}

static const protocol_t *member_protocol(const member_t *m, const char *name) {
    for (int32_t i = 0; i < m->protocol_count; i++)
        if (str_eq(m->protocols[i].name, name)) return &m->protocols[i];
    return NULL;
}

static void encode_group_value(st_writer_t *w, const group_t *gr) {
    st_group_metadata_value_t v;
    st_group_metadata_value_init(&v);
    v.protocol_type = st_str(gr->protocol_type ? gr->protocol_type : "");
    v.generation = gr->generation;
    v.protocol = st_str(gr->protocol_name);
    v.leader = st_str(gr->leader_id);
    v.current_state_timestamp = gr->state_since_ms;
    st_group_metadata_value_member_metadata_t *mm =
        calloc((size_t)(gr->member_count ? gr->member_count : 1), sizeof *mm);
    if (!mm) abort();
    int32_t i = 0;
    for (const member_t *m = gr->members; m; m = m->next, i++) {
        const protocol_t *p = member_protocol(m, gr->protocol_name);
        mm[i].member_id = st_str(m->member_id);
        mm[i].group_instance_id = st_str(m->instance_id);
        mm[i].client_id = st_str(m->client_id ? m->client_id : "");
        mm[i].client_host = st_str(m->client_host ? m->client_host : "");
        mm[i].rebalance_timeout = m->rebalance_timeout_ms;
        mm[i].session_timeout = m->session_timeout_ms;
        mm[i].subscription = (st_bytes_t){p ? p->metadata : NULL, p ? p->metadata_len : 0};
        mm[i].assignment = (st_bytes_t){m->assignment, m->assignment_len};
    }
    v.members = mm;
    v.members_count = gr->member_count;
    st_write_i16(w, GROUP_METADATA_VALUE_VERSION);
    st_group_metadata_value_encode(w, GROUP_METADATA_VALUE_VERSION, &v);
    free(mm);
}

static int store_group(group_t *gr) {
    record_set_t rs;
    rs_init(&rs);
    encode_group_key(&rs.key, gr->id);
    encode_group_value(&rs.value, gr);
    rs_add(&rs, false);
    int err = rs_append(gr->owner, gr->id, &rs);
    rs_free(&rs);
    return err;
}

/* ---- offsets in memory ---------------------------------------------------- */

static committed_t *offset_find(group_t *gr, const char *topic, int32_t partition) {
    for (int32_t i = 0; i < gr->offset_count; i++)
        if (gr->offsets[i].partition == partition && strcmp(gr->offsets[i].topic, topic) == 0) return &gr->offsets[i];
    return NULL;
}

static void offset_put(group_t *gr, const char *topic, int32_t partition, int64_t offset, int32_t leader_epoch,
                       const char *metadata, int64_t commit_ms) {
    committed_t *c = offset_find(gr, topic, partition);
    if (!c) {
        if (gr->offset_count == gr->offset_cap) {
            int32_t cap = gr->offset_cap ? gr->offset_cap * 2 : 8;
            committed_t *o = realloc(gr->offsets, (size_t)cap * sizeof *o);
            if (!o) abort();
            gr->offsets = o;
            gr->offset_cap = cap;
        }
        c = &gr->offsets[gr->offset_count++];
        memset(c, 0, sizeof *c);
        c->topic = dup_c(topic);
        c->partition = partition;
    }
    free(c->metadata);
    c->metadata = dup_c(metadata ? metadata : "");
    c->offset = offset;
    c->leader_epoch = leader_epoch;
    c->commit_ms = commit_ms;
}

static void offset_remove_at(group_t *gr, int32_t i) {
    free(gr->offsets[i].topic);
    free(gr->offsets[i].metadata);
    gr->offsets[i] = gr->offsets[--gr->offset_count];
}

static void offset_remove(group_t *gr, const char *topic, int32_t partition) {
    for (int32_t i = 0; i < gr->offset_count; i++)
        if (gr->offsets[i].partition == partition && strcmp(gr->offsets[i].topic, topic) == 0) {
            offset_remove_at(gr, i);
            return;
        }
}

/* ---- members and rebalances -------------------------------------------- */

static void on_session_timeout(st_loop_t *loop, void *ctx);
static void on_rebalance_timeout(st_loop_t *loop, void *ctx);
static void prepare_rebalance(group_t *gr, const char *reason);
static void maybe_complete_join(group_t *gr);

static void member_touch(member_t *m) {
    st_broker_t *b = m->group->owner->b;
    st_timer_start(b->loop, &m->session_timer, m->session_timeout_ms, on_session_timeout, m);
}

static void respond_join_error(st_request_t *req, int16_t error, const char *member_id) {
    st_join_group_response_t *resp = st_request_alloc_response(req);
    resp->error_code = error;
    resp->generation_id = -1;
    resp->protocol_name = req->api_version >= 7 ? st_str_null() : st_str("");
    resp->leader = st_str("");
    resp->member_id = st_str(member_id ? st_arena_strdup(&req->arena, member_id) : "");
    st_request_respond(req, resp);
}

static void respond_sync(st_request_t *req, int16_t error, const group_t *gr, const member_t *m) {
    st_sync_group_response_t *resp = st_request_alloc_response(req);
    resp->error_code = error;
    if (error == 0 && gr) {
        resp->protocol_type = st_str(gr->protocol_type ? st_arena_strdup(&req->arena, gr->protocol_type) : NULL);
        resp->protocol_name = st_str(gr->protocol_name ? st_arena_strdup(&req->arena, gr->protocol_name) : NULL);
    }
    if (error == 0 && m && m->assignment_len > 0)
        resp->assignment = (st_bytes_t){st_arena_memdup(&req->arena, m->assignment, (size_t)m->assignment_len),
                                        m->assignment_len};
    else
        resp->assignment = (st_bytes_t){(const uint8_t *)"", 0};
    st_request_respond(req, resp);
}

static void member_remove(group_t *gr, member_t *m) {
    st_broker_t *b = gr->owner->b;
    st_timer_stop(b->loop, &m->session_timer);
    if (m->join_req) {
        m->join_req->pending = NULL;
        respond_join_error(m->join_req, ST_ERR_UNKNOWN_MEMBER_ID, m->member_id);
    }
    if (m->sync_req) {
        m->sync_req->pending = NULL;
        respond_sync(m->sync_req, ST_ERR_UNKNOWN_MEMBER_ID, NULL, NULL);
    }
    for (member_t **pp = &gr->members; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    gr->member_count--;
    if (gr->leader_id && strcmp(gr->leader_id, m->member_id) == 0) {
        free(gr->leader_id);
        gr->leader_id = gr->members ? dup_c(gr->members->member_id) : NULL;
    }
    member_free_protocols(m);
    free(m->member_id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m->assignment);
    free(m);
}

/* No members left: the group is Empty, without a protocol, and that is
 * recorded in __consumer_offsets, as Kafka does. */
static void become_empty(group_t *gr) {
    set_state(gr, GROUP_EMPTY);
    free(gr->protocol_name);
    gr->protocol_name = NULL;
    store_group(gr);
}

/* After members left (LeaveGroup or an expired session). */
static void after_members_left(group_t *gr, const char *reason) {
    if (gr->state == GROUP_PREPARING_REBALANCE) {
        maybe_complete_join(gr);
    } else if (gr->member_count == 0) {
        if (gr->state != GROUP_EMPTY) {
            gr->generation++;
            become_empty(gr);
        }
    } else {
        prepare_rebalance(gr, reason);
    }
}

static void on_session_timeout(st_loop_t *loop, void *ctx) {
    (void)loop;
    member_t *m = ctx;
    group_t *gr = m->group;
    if (m->join_req) return; /* waiting in a rebalance: the rebalance timeout governs */
    ST_INFO("group %s: member %s expired after %d ms without a heartbeat", gr->id, m->member_id,
            m->session_timeout_ms);
    member_remove(gr, m);
    after_members_left(gr, "member session expired");
}

/* Picks the protocol every member supports, by the members' votes. */
static const char *select_protocol(group_t *gr) {
    member_t *first = gr->members;
    if (!first) return NULL;
    const char *best = NULL;
    int best_votes = -1;
    for (int32_t i = 0; i < first->protocol_count; i++) {
        const char *cand = first->protocols[i].name;
        bool all = true;
        for (member_t *m = gr->members; m && all; m = m->next)
            if (!member_protocol(m, cand)) all = false;
        if (!all) continue;
        int votes = 0;
        for (member_t *m = gr->members; m; m = m->next) {
            /* each member votes for its most preferred candidate */
            for (int32_t k = 0; k < m->protocol_count; k++) {
                const char *pn = m->protocols[k].name;
                bool supported = true;
                for (member_t *o = gr->members; o && supported; o = o->next)
                    if (!member_protocol(o, pn)) supported = false;
                if (!supported) continue;
                if (str_eq(pn, cand)) votes++;
                break;
            }
        }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

/* The leader's JoinGroup answer lists every member with its metadata for
 * the chosen protocol, so it can compute the assignment. */
static void fill_join_members(st_request_t *req, st_join_group_response_t *resp, const group_t *gr) {
    resp->members = st_arena_alloc(&req->arena, (size_t)(gr->member_count ? gr->member_count : 1) * sizeof *resp->members);
    int32_t i = 0;
    for (const member_t *o = gr->members; o; o = o->next, i++) {
        const protocol_t *p = member_protocol(o, gr->protocol_name);
        resp->members[i].member_id = st_str(st_arena_strdup(&req->arena, o->member_id));
        resp->members[i].group_instance_id = st_str(o->instance_id ? st_arena_strdup(&req->arena, o->instance_id) : NULL);
        resp->members[i].metadata = (st_bytes_t){
            p && p->metadata_len ? st_arena_memdup(&req->arena, p->metadata, (size_t)p->metadata_len) : (const uint8_t *)"",
            p ? p->metadata_len : 0};
    }
    resp->members_count = gr->member_count;
}

static void complete_join(group_t *gr) {
    st_broker_t *b = gr->owner->b;
    st_timer_stop(b->loop, &gr->rebalance_timer);
    gr->initial_delay = false;
    /* Members that did not rejoin in time leave the group. */
    for (member_t *m = gr->members; m;) {
        member_t *next = m->next;
        if (!m->joined) {
            ST_INFO("group %s: member %s did not rejoin within the rebalance timeout", gr->id, m->member_id);
            member_remove(gr, m);
        }
        m = next;
    }
    for (int32_t i = 0; i < gr->pending_count; i++) free(gr->pending_ids[i]);
    gr->pending_count = 0;
    gr->generation++;
    if (gr->member_count == 0) {
        become_empty(gr);
        return;
    }
    free(gr->protocol_name);
    gr->protocol_name = dup_c(select_protocol(gr));
    if (!gr->leader_id || !member_find(gr, gr->leader_id)) {
        free(gr->leader_id);
        gr->leader_id = dup_c(gr->members->member_id);
    }
    set_state(gr, GROUP_COMPLETING_REBALANCE);
    ST_INFO("group %s: generation %d with %d member(s), protocol %s, leader %s", gr->id, gr->generation,
            gr->member_count, gr->protocol_name ? gr->protocol_name : "-", gr->leader_id);
    for (member_t *m = gr->members; m; m = m->next) {
        m->joined = false;
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        st_request_t *req = m->join_req;
        m->join_req = NULL;
        member_touch(m);
        if (!req) continue;
        req->pending = NULL;
        st_join_group_response_t *resp = st_request_alloc_response(req);
        resp->generation_id = gr->generation;
        resp->protocol_type = st_str(st_arena_strdup(&req->arena, gr->protocol_type ? gr->protocol_type : ""));
        resp->protocol_name = st_str(st_arena_strdup(&req->arena, gr->protocol_name ? gr->protocol_name : ""));
        resp->leader = st_str(st_arena_strdup(&req->arena, gr->leader_id));
        resp->member_id = st_str(st_arena_strdup(&req->arena, m->member_id));
        if (strcmp(m->member_id, gr->leader_id) == 0) fill_join_members(req, resp, gr);
        st_request_respond(req, resp);
    }
}

static void maybe_complete_join(group_t *gr) {
    if (gr->state != GROUP_PREPARING_REBALANCE || gr->initial_delay) return;
    if (gr->pending_count > 0) return;
    for (member_t *m = gr->members; m; m = m->next)
        if (!m->joined) return;
    complete_join(gr);
}

static void on_rebalance_timeout(st_loop_t *loop, void *ctx) {
    (void)loop;
    group_t *gr = ctx;
    if (gr->state != GROUP_PREPARING_REBALANCE) return;
    st_broker_t *b = gr->owner->b;
    if (gr->initial_delay) {
        /* group.initial.rebalance.delay.ms passed: finish as soon as
         * everyone known has joined, or at the rebalance timeout. */
        gr->initial_delay = false;
        bool all = gr->pending_count == 0;
        for (member_t *m = gr->members; m && all; m = m->next)
            if (!m->joined) all = false;
        int64_t left = gr->rebalance_deadline_ms - st_loop_now_ms(b->loop);
        if (!all && left > 0) {
            st_timer_start(b->loop, &gr->rebalance_timer, left, on_rebalance_timeout, gr);
            return;
        }
    }
    complete_join(gr);
}

static int32_t max_rebalance_timeout(group_t *gr) {
    int32_t t = 0;
    for (member_t *m = gr->members; m; m = m->next)
        if (m->rebalance_timeout_ms > t) t = m->rebalance_timeout_ms;
    return t > 0 ? t : 300000;
}

static void prepare_rebalance(group_t *gr, const char *reason) {
    st_broker_t *b = gr->owner->b;
    bool from_empty = gr->state == GROUP_EMPTY;
    /* Syncs waiting for the leader's assignment must rejoin. */
    for (member_t *m = gr->members; m; m = m->next) {
        if (m->sync_req) {
            st_request_t *req = m->sync_req;
            m->sync_req = NULL;
            req->pending = NULL;
            respond_sync(req, ST_ERR_REBALANCE_IN_PROGRESS, NULL, NULL);
        }
    }
    if (gr->state != GROUP_PREPARING_REBALANCE) {
        for (member_t *m = gr->members; m; m = m->next) m->joined = m->join_req != NULL;
        set_state(gr, GROUP_PREPARING_REBALANCE);
        ST_INFO("group %s: preparing to rebalance (%s)", gr->id, reason);
        int64_t timeout = max_rebalance_timeout(gr);
        gr->rebalance_deadline_ms = st_loop_now_ms(b->loop) + timeout;
        int64_t delay = st_config_get_int(b->config, "group.initial.rebalance.delay.ms");
        if (from_empty && delay > 0) {
            gr->initial_delay = true;
            st_timer_start(b->loop, &gr->rebalance_timer, delay < timeout ? delay : timeout, on_rebalance_timeout, gr);
        } else {
            gr->initial_delay = false;
            st_timer_start(b->loop, &gr->rebalance_timer, timeout, on_rebalance_timeout, gr);
        }
    }
}

static bool protocols_equal(const member_t *m, const st_join_group_request_t *rq) {
    if (m->protocol_count != rq->protocols_count) return false;
    for (int32_t i = 0; i < m->protocol_count; i++) {
        const st_join_group_request_join_group_request_protocol_t *p = &rq->protocols[i];
        if (!st_str_eq(p->name, m->protocols[i].name)) return false;
        int32_t len = p->metadata.len > 0 ? p->metadata.len : 0;
        if (len != m->protocols[i].metadata_len) return false;
        if (len && memcmp(p->metadata.ptr, m->protocols[i].metadata, (size_t)len) != 0) return false;
    }
    return true;
}

static void member_set_protocols(member_t *m, const st_join_group_request_t *rq) {
    member_free_protocols(m);
    m->protocol_count = rq->protocols_count > 0 ? rq->protocols_count : 0;
    m->protocols = calloc((size_t)(m->protocol_count ? m->protocol_count : 1), sizeof *m->protocols);
    if (!m->protocols) abort();
    for (int32_t i = 0; i < m->protocol_count; i++) {
        m->protocols[i].name = dup_str(rq->protocols[i].name);
        m->protocols[i].metadata_len = rq->protocols[i].metadata.len > 0 ? rq->protocols[i].metadata.len : 0;
        m->protocols[i].metadata = dup_bytes(rq->protocols[i].metadata.ptr, m->protocols[i].metadata_len);
    }
}

/* Answers a join without a rebalance: the member's view of the current
 * generation (a lost response, or a static member coming back). */
static void respond_join_current(st_request_t *req, group_t *gr, member_t *m) {
    st_join_group_response_t *resp = st_request_alloc_response(req);
    resp->generation_id = gr->generation;
    resp->protocol_type = st_str(st_arena_strdup(&req->arena, gr->protocol_type ? gr->protocol_type : ""));
    resp->protocol_name = st_str(st_arena_strdup(&req->arena, gr->protocol_name ? gr->protocol_name : ""));
    resp->leader = st_str(st_arena_strdup(&req->arena, gr->leader_id ? gr->leader_id : ""));
    resp->member_id = st_str(st_arena_strdup(&req->arena, m->member_id));
    bool leader = gr->leader_id && strcmp(gr->leader_id, m->member_id) == 0;
    /* The leader always gets the members (after a lost answer it still has
     * to assign); a static leader returning to a stable group is told
     * (v9+) that it need not assign again (KIP-814). */
    if (leader) fill_join_members(req, resp, gr);
    resp->skip_assignment = req->api_version >= 9 && leader && gr->state == GROUP_STABLE;
    st_request_respond(req, resp);
}

static char *new_member_id(const char *client_id) {
    static uint64_t counter;
    char buf[512];
    uint64_t r = ((uint64_t)st_wall_ms() << 20) ^ (uint64_t)(++counter * 2654435761u);
    snprintf(buf, sizeof buf, "%.200s-%08x-%04x-4%03x-a%03x-%012llx", client_id && *client_id ? client_id : "member",
             (unsigned)(r >> 32), (unsigned)(r >> 16) & 0xffff, (unsigned)(r >> 4) & 0xfff, (unsigned)counter & 0xfff,
             (unsigned long long)(r & 0xffffffffffffULL));
    return dup_c(buf);
}

static bool pending_take(group_t *gr, const char *id) {
    for (int32_t i = 0; i < gr->pending_count; i++)
        if (strcmp(gr->pending_ids[i], id) == 0) {
            free(gr->pending_ids[i]);
            gr->pending_ids[i] = gr->pending_ids[--gr->pending_count];
            return true;
        }
    return false;
}

static void pending_add(group_t *gr, const char *id) {
    char **ids = realloc(gr->pending_ids, (size_t)(gr->pending_count + 1) * sizeof *ids);
    if (!ids) abort();
    gr->pending_ids = ids;
    gr->pending_ids[gr->pending_count++] = dup_c(id);
}

/* ---- group.max.size ------------------------------------------------------- */

static int32_t members_awaiting_join(const group_t *gr) {
    int32_t n = 0;
    for (const member_t *m = gr->members; m; m = m->next)
        if (m->join_req) n++;
    return n;
}

/*
 * Kafka's acceptJoiningMember. `m` is the joining member when the group
 * knows it, else NULL. An Empty group takes anyone. During a rebalance
 * the first group.max.size members to (re)join are taken, counted by
 * parked joins: the member count may be above a limit lowered since the
 * members joined. Otherwise members stay and new ones fill up to the limit.
 */
static bool accepts_joining_member(const group_t *gr, const member_t *m, int32_t max_size) {
    switch (gr->state) {
    case GROUP_PREPARING_REBALANCE:
        return (m && m->join_req) || members_awaiting_join(gr) < max_size;
    case GROUP_COMPLETING_REBALANCE:
    case GROUP_STABLE:
        return m || gr->member_count < max_size;
    case GROUP_EMPTY:
    case GROUP_DEAD:
        break;
    }
    return true;
}

/* Kafka answers GROUP_MAX_SIZE_REACHED with no member id and drops the
 * refused member (a member beyond the limit that had not rejoined the
 * rebalance yet), so the rebalance need not wait for it. */
static void refuse_joining_member(st_request_t *req, group_t *gr, member_t *m, const char *member_id,
                                  int32_t max_size) {
    ST_INFO("group %s: refusing member %s: group.max.size %d reached", gr->id, member_id[0] ? member_id : "(new)",
            max_size);
    bool left = false;
    if (m) {
        member_remove(gr, m);
        left = true;
    } else if (member_id[0]) {
        left = pending_take(gr, member_id);
    }
    respond_join_error(req, ST_ERR_GROUP_MAX_SIZE_REACHED, "");
    if (left && gr->state == GROUP_PREPARING_REBALANCE) maybe_complete_join(gr);
}

/* ---- handlers ------------------------------------------------------------- */

static const char *client_id_of(const st_request_t *req) {
    return req->client_id.len > 0 ? req->client_id.ptr : "";
}

static st_groups_t *groups_of(st_broker_t *b) { return b->groups; }

int st_handle_find_coordinator(st_broker_t *b, st_request_t *req) {
    st_find_coordinator_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_find_coordinator_response_t *resp = st_request_alloc_response(req);
    bool group_key = rq.key_type == 0;
    if (group_key) offsets_partition(groups_of(b), "", true); /* the topic exists from the first use */
    if (req->api_version < 4) {
        resp->node_id = b->node_id;
        resp->host = st_str(b->host);
        resp->port = b->port;
        resp->error_message = st_str_null();
        if (rq.key_type != 0 && rq.key_type != 1) {
            resp->error_code = ST_ERR_INVALID_REQUEST;
            resp->node_id = -1;
            resp->host = st_str("");
            resp->port = -1;
        }
    } else {
        int32_t n = rq.coordinator_keys_count > 0 ? rq.coordinator_keys_count : 0;
        resp->coordinators = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *resp->coordinators);
        resp->coordinators_count = n;
        for (int32_t i = 0; i < n; i++) {
            st_find_coordinator_response_coordinator_t *c = &resp->coordinators[i];
            c->key = rq.coordinator_keys[i];
            c->node_id = b->node_id;
            c->host = st_str(b->host);
            c->port = b->port;
            c->error_message = st_str_null();
            if (rq.key_type != 0 && rq.key_type != 1) {
                c->error_code = ST_ERR_INVALID_REQUEST;
                c->node_id = -1;
                c->host = st_str("");
                c->port = -1;
            }
        }
    }
    st_request_respond(req, resp);
    return 0;
}

int st_handle_join_group(st_broker_t *b, st_request_t *req) {
    st_join_group_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_groups_t *g = groups_of(b);
    const char *member_id = rq.member_id.len > 0 ? rq.member_id.ptr : "";
    if (rq.group_id.len <= 0) {
        respond_join_error(req, ST_ERR_INVALID_GROUP_ID, member_id);
        return 0;
    }
    if (rq.session_timeout_ms < st_config_get_int(b->config, "group.min.session.timeout.ms") ||
        rq.session_timeout_ms > st_config_get_int(b->config, "group.max.session.timeout.ms")) {
        respond_join_error(req, ST_ERR_INVALID_SESSION_TIMEOUT, member_id);
        return 0;
    }
    if (rq.protocol_type.len <= 0 || rq.protocols_count <= 0) {
        respond_join_error(req, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
        return 0;
    }
    if (!offsets_partition(g, rq.group_id.ptr, true)) {
        respond_join_error(req, ST_ERR_COORDINATOR_NOT_AVAILABLE, member_id);
        return 0;
    }
    group_t *gr = group_find(g, rq.group_id.ptr);
    if (!gr) gr = group_create(g, rq.group_id.ptr);
    if (gr->state == GROUP_DEAD) {
        respond_join_error(req, ST_ERR_COORDINATOR_NOT_AVAILABLE, member_id);
        return 0;
    }
    const char *instance_id = rq.group_instance_id.len >= 0 ? rq.group_instance_id.ptr : NULL;
    /* A static member coming back with a new member id counts as the
     * member it replaces: it does not make the group bigger. Kafka checks
     * the (unknown) member id alone and would refuse it in a full group. */
    member_t *joining = member_id[0] ? member_find(gr, member_id) : member_by_instance(gr, instance_id);
    int32_t max_size = st_config_get_int(b->config, "group.max.size");
    if (!accepts_joining_member(gr, joining, max_size)) {
        refuse_joining_member(req, gr, joining, member_id, max_size);
        return 0;
    }
    /* The protocol type and at least one protocol must match the group's. */
    if (gr->member_count > 0) {
        if (!str_eq(gr->protocol_type, rq.protocol_type.ptr)) {
            respond_join_error(req, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            return 0;
        }
        bool common = false;
        for (int32_t i = 0; i < rq.protocols_count && !common; i++) {
            bool all = true;
            for (member_t *m = gr->members; m && all; m = m->next)
                if (strcmp(m->member_id, member_id) != 0 && !member_protocol(m, rq.protocols[i].name.ptr)) all = false;
            common = all;
        }
        if (!common) {
            respond_join_error(req, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            return 0;
        }
    }
    member_t *m = NULL;
    if (member_id[0] == '\0') {
        member_t *existing = member_by_instance(gr, instance_id);
        if (existing) {
            /* A static member restarted: it takes a new member id, the old
             * one is fenced. Unchanged metadata in a stable group: no
             * rebalance (KIP-345). */
            char *fresh = new_member_id(client_id_of(req));
            ST_INFO("group %s: static member %s rejoined as %s", gr->id, instance_id, fresh);
            if (gr->leader_id && strcmp(gr->leader_id, existing->member_id) == 0) {
                free(gr->leader_id);
                gr->leader_id = dup_c(fresh);
            }
            free(existing->member_id);
            existing->member_id = fresh;
            existing->session_timeout_ms = rq.session_timeout_ms;
            existing->rebalance_timeout_ms = rq.rebalance_timeout_ms > 0 ? rq.rebalance_timeout_ms : rq.session_timeout_ms;
            if (existing->join_req) {
                st_request_t *old = existing->join_req;
                existing->join_req = NULL;
                old->pending = NULL;
                respond_join_error(old, ST_ERR_FENCED_INSTANCE_ID, "");
            }
            if (gr->state == GROUP_STABLE && protocols_equal(existing, &rq)) {
                member_touch(existing);
                store_group(gr);
                respond_join_current(req, gr, existing);
                return 0;
            }
            m = existing;
        } else if (!instance_id && req->api_version >= 4) {
            /* KIP-394: hand out an id first; the member joins with it. */
            char *fresh = new_member_id(client_id_of(req));
            pending_add(gr, fresh);
            respond_join_error(req, ST_ERR_MEMBER_ID_REQUIRED, fresh);
            free(fresh);
            return 0;
        }
    } else {
        m = member_find(gr, member_id);
        if (!m) {
            member_t *holder = member_by_instance(gr, instance_id);
            if (holder) {
                respond_join_error(req, ST_ERR_FENCED_INSTANCE_ID, member_id);
                return 0;
            }
            if (!pending_take(gr, member_id)) {
                respond_join_error(req, ST_ERR_UNKNOWN_MEMBER_ID, member_id);
                return 0;
            }
        } else if (instance_id && !str_eq(m->instance_id, instance_id)) {
            respond_join_error(req, ST_ERR_FENCED_INSTANCE_ID, member_id);
            return 0;
        }
    }
    bool is_new = m == NULL;
    if (is_new) {
        m = calloc(1, sizeof *m);
        if (!m) abort();
        m->group = gr;
        m->member_id = member_id[0] ? dup_c(member_id) : new_member_id(client_id_of(req));
        m->instance_id = dup_c(instance_id);
        m->next = NULL;
        member_t **tail = &gr->members;
        while (*tail) tail = &(*tail)->next;
        *tail = m;
        gr->member_count++;
        if (!gr->protocol_type) gr->protocol_type = dup_str(rq.protocol_type);
        else if (gr->member_count == 1) {
            free(gr->protocol_type);
            gr->protocol_type = dup_str(rq.protocol_type);
        }
    }
    free(m->client_id);
    m->client_id = dup_c(req->client_id.len >= 0 ? req->client_id.ptr : "");
    free(m->client_host);
    m->client_host = dup_c(req->client_host);
    m->session_timeout_ms = rq.session_timeout_ms;
    m->rebalance_timeout_ms = rq.rebalance_timeout_ms > 0 ? rq.rebalance_timeout_ms : rq.session_timeout_ms;
    bool same = !is_new && protocols_equal(m, &rq);
    if (!same) member_set_protocols(m, &rq);

    if (!is_new && same && (gr->state == GROUP_STABLE || gr->state == GROUP_COMPLETING_REBALANCE) &&
        !(gr->leader_id && strcmp(gr->leader_id, m->member_id) == 0 && gr->state == GROUP_STABLE)) {
        /* A follower with unchanged metadata: its view of this generation. */
        member_touch(m);
        respond_join_current(req, gr, m);
        return 0;
    }
    if (m->join_req) {
        st_request_t *old = m->join_req;
        old->pending = NULL;
        respond_join_error(old, ST_ERR_UNKNOWN_MEMBER_ID, m->member_id);
    }
    m->join_req = req;
    req->pending = m;
    m->joined = true;
    st_timer_stop(b->loop, &m->session_timer);
    if (gr->state != GROUP_PREPARING_REBALANCE)
        prepare_rebalance(gr, is_new ? "a new member joined" : "a member rejoined");
    else if (gr->initial_delay && is_new) {
        /* Each new member during the initial delay extends it, up to the
         * rebalance timeout (Kafka's InitialDelayedJoin). */
        int64_t delay = st_config_get_int(b->config, "group.initial.rebalance.delay.ms");
        int64_t left = gr->rebalance_deadline_ms - st_loop_now_ms(b->loop);
        st_timer_start(b->loop, &gr->rebalance_timer, delay < left ? delay : (left > 0 ? left : 0),
                       on_rebalance_timeout, gr);
    }
    maybe_complete_join(gr);
    return 0;
}

int st_handle_sync_group(st_broker_t *b, st_request_t *req) {
    st_sync_group_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    group_t *gr = rq.group_id.len > 0 ? group_find(groups_of(b), rq.group_id.ptr) : NULL;
    member_t *m = gr ? member_find(gr, rq.member_id.ptr ? rq.member_id.ptr : "") : NULL;
    if (!gr || !m) {
        respond_sync(req, ST_ERR_UNKNOWN_MEMBER_ID, NULL, NULL);
        return 0;
    }
    const char *instance_id = rq.group_instance_id.len >= 0 ? rq.group_instance_id.ptr : NULL;
    if (instance_id && !str_eq(m->instance_id, instance_id)) {
        respond_sync(req, ST_ERR_FENCED_INSTANCE_ID, NULL, NULL);
        return 0;
    }
    if (rq.generation_id != gr->generation) {
        respond_sync(req, ST_ERR_ILLEGAL_GENERATION, NULL, NULL);
        return 0;
    }
    if ((rq.protocol_type.len >= 0 && !str_eq(gr->protocol_type, rq.protocol_type.ptr)) ||
        (rq.protocol_name.len >= 0 && !str_eq(gr->protocol_name, rq.protocol_name.ptr))) {
        respond_sync(req, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, NULL, NULL);
        return 0;
    }
    member_touch(m);
    if (gr->state == GROUP_PREPARING_REBALANCE) {
        respond_sync(req, ST_ERR_REBALANCE_IN_PROGRESS, NULL, NULL);
        return 0;
    }
    if (gr->state == GROUP_STABLE) {
        respond_sync(req, 0, gr, m);
        return 0;
    }
    if (gr->state != GROUP_COMPLETING_REBALANCE) {
        respond_sync(req, ST_ERR_UNKNOWN_MEMBER_ID, NULL, NULL);
        return 0;
    }
    if (m->sync_req) {
        st_request_t *old = m->sync_req;
        old->pending = NULL;
        respond_sync(old, ST_ERR_REBALANCE_IN_PROGRESS, NULL, NULL);
    }
    m->sync_req = req;
    req->pending = m;
    if (!gr->leader_id || strcmp(gr->leader_id, m->member_id) != 0) return 0;

    /* The leader's assignment completes the rebalance. */
    for (int32_t i = 0; i < rq.assignments_count; i++) {
        member_t *target = member_find(gr, rq.assignments[i].member_id.ptr ? rq.assignments[i].member_id.ptr : "");
        if (!target) continue;
        free(target->assignment);
        target->assignment_len = rq.assignments[i].assignment.len > 0 ? rq.assignments[i].assignment.len : 0;
        target->assignment = dup_bytes(rq.assignments[i].assignment.ptr, target->assignment_len);
    }
    set_state(gr, GROUP_STABLE);
    int err = store_group(gr);
    for (member_t *o = gr->members; o; o = o->next) {
        st_request_t *sreq = o->sync_req;
        if (!sreq) continue;
        o->sync_req = NULL;
        sreq->pending = NULL;
        respond_sync(sreq, err ? ST_ERR_COORDINATOR_NOT_AVAILABLE : 0, gr, o);
    }
    return 0;
}

int st_handle_heartbeat(st_broker_t *b, st_request_t *req) {
    st_heartbeat_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_heartbeat_response_t *resp = st_request_alloc_response(req);
    group_t *gr = rq.group_id.len > 0 ? group_find(groups_of(b), rq.group_id.ptr) : NULL;
    member_t *m = gr ? member_find(gr, rq.member_id.ptr ? rq.member_id.ptr : "") : NULL;
    const char *instance_id = rq.group_instance_id.len >= 0 ? rq.group_instance_id.ptr : NULL;
    if (!gr || !m || gr->state == GROUP_EMPTY || gr->state == GROUP_DEAD) {
        resp->error_code = ST_ERR_UNKNOWN_MEMBER_ID;
    } else if (instance_id && !str_eq(m->instance_id, instance_id)) {
        resp->error_code = ST_ERR_FENCED_INSTANCE_ID;
    } else if (rq.generation_id != gr->generation) {
        resp->error_code = ST_ERR_ILLEGAL_GENERATION;
    } else {
        if (!m->join_req) member_touch(m);
        resp->error_code = gr->state == GROUP_PREPARING_REBALANCE ? ST_ERR_REBALANCE_IN_PROGRESS : 0;
    }
    st_request_respond(req, resp);
    return 0;
}

static int16_t leave_one(group_t *gr, const char *member_id, const char *instance_id) {
    member_t *m = NULL;
    if (instance_id) {
        m = member_by_instance(gr, instance_id);
        if (!m) return ST_ERR_UNKNOWN_MEMBER_ID;
        if (member_id && member_id[0] && strcmp(m->member_id, member_id) != 0) return ST_ERR_FENCED_INSTANCE_ID;
    } else {
        m = member_find(gr, member_id ? member_id : "");
        if (!m) {
            if (member_id && pending_take(gr, member_id)) return 0;
            return ST_ERR_UNKNOWN_MEMBER_ID;
        }
    }
    ST_INFO("group %s: member %s left", gr->id, m->member_id);
    member_remove(gr, m);
    return 0;
}

int st_handle_leave_group(st_broker_t *b, st_request_t *req) {
    st_leave_group_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_leave_group_response_t *resp = st_request_alloc_response(req);
    group_t *gr = rq.group_id.len > 0 ? group_find(groups_of(b), rq.group_id.ptr) : NULL;
    if (req->api_version < 3) {
        resp->error_code = gr ? leave_one(gr, rq.member_id.ptr, NULL) : ST_ERR_UNKNOWN_MEMBER_ID;
        if (gr && resp->error_code == 0) after_members_left(gr, "a member left");
    } else {
        int32_t n = rq.members_count > 0 ? rq.members_count : 0;
        resp->members = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *resp->members);
        resp->members_count = n;
        bool any = false;
        for (int32_t i = 0; i < n; i++) {
            const st_leave_group_request_member_identity_t *mi = &rq.members[i];
            resp->members[i].member_id = mi->member_id;
            resp->members[i].group_instance_id = mi->group_instance_id;
            resp->members[i].error_code = gr ? leave_one(gr, mi->member_id.ptr,
                                                         mi->group_instance_id.len >= 0 ? mi->group_instance_id.ptr : NULL)
                                             : ST_ERR_UNKNOWN_MEMBER_ID;
            if (resp->members[i].error_code == 0) any = true;
        }
        if (!gr) resp->error_code = ST_ERR_UNKNOWN_MEMBER_ID;
        if (gr && any) after_members_left(gr, "a member left");
    }
    st_request_respond(req, resp);
    return 0;
}

int st_handle_offset_commit(st_broker_t *b, st_request_t *req) {
    st_offset_commit_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_groups_t *g = groups_of(b);
    st_offset_commit_response_t *resp = st_request_alloc_response(req);
    int32_t nt = rq.topics_count > 0 ? rq.topics_count : 0;
    resp->topics = st_arena_alloc(&req->arena, (size_t)(nt ? nt : 1) * sizeof *resp->topics);
    resp->topics_count = nt;

    int16_t group_error = 0;
    group_t *gr = rq.group_id.len > 0 ? group_find(g, rq.group_id.ptr) : NULL;
    const char *member_id = rq.member_id.len > 0 ? rq.member_id.ptr : "";
    bool simple = rq.generation_id_or_member_epoch < 0 && member_id[0] == '\0';
    if (rq.group_id.len <= 0) {
        group_error = ST_ERR_INVALID_GROUP_ID;
    } else if (!gr) {
        if (simple) gr = group_create(g, rq.group_id.ptr);
        else group_error = ST_ERR_ILLEGAL_GENERATION;
    } else if (simple) {
        if (gr->state != GROUP_EMPTY) group_error = ST_ERR_UNKNOWN_MEMBER_ID;
    } else {
        member_t *m = member_find(gr, member_id);
        const char *instance_id = rq.group_instance_id.len >= 0 ? rq.group_instance_id.ptr : NULL;
        if (!m) group_error = ST_ERR_UNKNOWN_MEMBER_ID;
        else if (instance_id && !str_eq(m->instance_id, instance_id)) group_error = ST_ERR_FENCED_INSTANCE_ID;
        else if (rq.generation_id_or_member_epoch != gr->generation) group_error = ST_ERR_ILLEGAL_GENERATION;
        else if (gr->state == GROUP_COMPLETING_REBALANCE) group_error = ST_ERR_REBALANCE_IN_PROGRESS;
        else if (!m->join_req) member_touch(m);
    }

    /* Records for every valid partition, then one append. */
    record_set_t rs;
    rs_init(&rs);
    int64_t now = rs.now_ms;
    for (int32_t i = 0; i < nt; i++) {
        const st_offset_commit_request_offset_commit_request_topic_t *t = &rq.topics[i];
        st_offset_commit_response_offset_commit_response_topic_t *rt = &resp->topics[i];
        rt->name = t->name;
        int32_t np = t->partitions_count > 0 ? t->partitions_count : 0;
        rt->partitions = st_arena_alloc(&req->arena, (size_t)(np ? np : 1) * sizeof *rt->partitions);
        rt->partitions_count = np;
        for (int32_t k = 0; k < np; k++) {
            const st_offset_commit_request_offset_commit_request_partition_t *p = &t->partitions[k];
            rt->partitions[k].partition_index = p->partition_index;
            if (group_error) {
                rt->partitions[k].error_code = group_error;
                continue;
            }
            if (p->committed_metadata.len > OFFSET_METADATA_MAX_BYTES) {
                rt->partitions[k].error_code = ST_ERR_OFFSET_METADATA_TOO_LARGE;
                continue;
            }
            committed_t c = {.topic = (char *)t->name.ptr, .partition = p->partition_index, .offset = p->committed_offset,
                             .leader_epoch = p->committed_leader_epoch,
                             .metadata = (char *)(p->committed_metadata.len >= 0 ? p->committed_metadata.ptr : ""),
                             .commit_ms = now};
            encode_offset_key(&rs.key, gr->id, t->name.ptr ? t->name.ptr : "", p->partition_index);
            encode_offset_value(&rs.value, &c);
            rs_add(&rs, false);
        }
    }
    int err = group_error ? 0 : rs_append(g, gr->id, &rs);
    for (int32_t i = 0; i < nt; i++) {
        const st_offset_commit_request_offset_commit_request_topic_t *t = &rq.topics[i];
        for (int32_t k = 0; k < resp->topics[i].partitions_count; k++) {
            st_offset_commit_response_offset_commit_response_partition_t *rp = &resp->topics[i].partitions[k];
            if (rp->error_code) continue;
            if (err) {
                rp->error_code = (int16_t)err;
                continue;
            }
            const st_offset_commit_request_offset_commit_request_partition_t *p = &t->partitions[k];
            offset_put(gr, t->name.ptr ? t->name.ptr : "", p->partition_index, p->committed_offset,
                       p->committed_leader_epoch, p->committed_metadata.len >= 0 ? p->committed_metadata.ptr : "", now);
        }
    }
    rs_free(&rs);
    st_request_respond(req, resp);
    return 0;
}

/* Fills one group's offsets for the requested topics (NULL: all). */
typedef struct fetch_topic_view {
    st_str_t name;
    int32_t *partitions;
    int32_t partition_count;
} fetch_topic_view_t;

static void fill_offsets(st_request_t *req, group_t *gr, const fetch_topic_view_t *topics, int32_t topic_count,
                         st_offset_fetch_response_offset_fetch_response_topics_t **out, int32_t *out_count) {
    if (topic_count < 0) {
        /* All committed offsets of the group, grouped by topic. */
        int32_t n = gr ? gr->offset_count : 0;
        st_offset_fetch_response_offset_fetch_response_topics_t *ts = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *ts);
        int32_t tc = 0;
        for (int32_t i = 0; i < n; i++) {
            committed_t *c = &gr->offsets[i];
            st_offset_fetch_response_offset_fetch_response_topics_t *t = NULL;
            for (int32_t k = 0; k < tc; k++)
                if (strcmp(ts[k].name.ptr, c->topic) == 0) t = &ts[k];
            if (!t) {
                t = &ts[tc++];
                t->name = st_str(st_arena_strdup(&req->arena, c->topic));
                t->partitions = st_arena_alloc(&req->arena, (size_t)n * sizeof *t->partitions);
            }
            st_offset_fetch_response_offset_fetch_response_partitions_t *p = &t->partitions[t->partitions_count++];
            p->partition_index = c->partition;
            p->committed_offset = c->offset;
            p->committed_leader_epoch = c->leader_epoch;
            p->metadata = st_str(st_arena_strdup(&req->arena, c->metadata ? c->metadata : ""));
        }
        *out = ts;
        *out_count = tc;
        return;
    }
    st_offset_fetch_response_offset_fetch_response_topics_t *ts =
        st_arena_alloc(&req->arena, (size_t)(topic_count ? topic_count : 1) * sizeof *ts);
    for (int32_t i = 0; i < topic_count; i++) {
        ts[i].name = topics[i].name;
        int32_t np = topics[i].partition_count > 0 ? topics[i].partition_count : 0;
        ts[i].partitions = st_arena_alloc(&req->arena, (size_t)(np ? np : 1) * sizeof *ts[i].partitions);
        ts[i].partitions_count = np;
        for (int32_t k = 0; k < np; k++) {
            st_offset_fetch_response_offset_fetch_response_partitions_t *p = &ts[i].partitions[k];
            p->partition_index = topics[i].partitions[k];
            committed_t *c = gr && topics[i].name.ptr ? offset_find(gr, topics[i].name.ptr, p->partition_index) : NULL;
            p->committed_offset = c ? c->offset : -1;
            p->committed_leader_epoch = c ? c->leader_epoch : -1;
            p->metadata = st_str(c && c->metadata ? st_arena_strdup(&req->arena, c->metadata) : "");
        }
    }
    *out = ts;
    *out_count = topic_count;
}

int st_handle_offset_fetch(st_broker_t *b, st_request_t *req) {
    st_offset_fetch_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_groups_t *g = groups_of(b);
    st_offset_fetch_response_t *resp = st_request_alloc_response(req);
    if (req->api_version >= 8) {
        int32_t ng = rq.groups_count > 0 ? rq.groups_count : 0;
        resp->groups = st_arena_alloc(&req->arena, (size_t)(ng ? ng : 1) * sizeof *resp->groups);
        resp->groups_count = ng;
        for (int32_t i = 0; i < ng; i++) {
            const st_offset_fetch_request_offset_fetch_request_group_t *qg = &rq.groups[i];
            resp->groups[i].group_id = qg->group_id;
            group_t *gr = qg->group_id.len > 0 ? group_find(g, qg->group_id.ptr) : NULL;
            int32_t tc = qg->topics_count;
            fetch_topic_view_t *views = st_arena_alloc(&req->arena, (size_t)(tc > 0 ? tc : 1) * sizeof *views);
            for (int32_t k = 0; k < tc; k++)
                views[k] = (fetch_topic_view_t){qg->topics[k].name, qg->topics[k].partition_indexes,
                                                qg->topics[k].partition_indexes_count};
            fill_offsets(req, gr, views, tc, &resp->groups[i].topics, &resp->groups[i].topics_count);
        }
    } else {
        group_t *gr = rq.group_id.len > 0 ? group_find(g, rq.group_id.ptr) : NULL;
        int32_t tc = rq.topics_count;
        fetch_topic_view_t *views = st_arena_alloc(&req->arena, (size_t)(tc > 0 ? tc : 1) * sizeof *views);
        for (int32_t k = 0; k < tc; k++)
            views[k] = (fetch_topic_view_t){rq.topics[k].name, rq.topics[k].partition_indexes,
                                            rq.topics[k].partition_indexes_count};
        st_offset_fetch_response_offset_fetch_response_topics_t *ts = NULL;
        int32_t count = 0;
        fill_offsets(req, gr, views, tc, &ts, &count);
        /* The v0-7 structs have the same fields under other names. */
        resp->topics = st_arena_alloc(&req->arena, (size_t)(count ? count : 1) * sizeof *resp->topics);
        resp->topics_count = count;
        for (int32_t i = 0; i < count; i++) {
            resp->topics[i].name = ts[i].name;
            resp->topics[i].partitions_count = ts[i].partitions_count;
            resp->topics[i].partitions = st_arena_alloc(
                &req->arena, (size_t)(ts[i].partitions_count ? ts[i].partitions_count : 1) * sizeof *resp->topics[i].partitions);
            for (int32_t k = 0; k < ts[i].partitions_count; k++) {
                resp->topics[i].partitions[k].partition_index = ts[i].partitions[k].partition_index;
                resp->topics[i].partitions[k].committed_offset = ts[i].partitions[k].committed_offset;
                resp->topics[i].partitions[k].committed_leader_epoch = ts[i].partitions[k].committed_leader_epoch;
                resp->topics[i].partitions[k].metadata = ts[i].partitions[k].metadata;
            }
        }
    }
    st_request_respond(req, resp);
    return 0;
}

int st_handle_describe_groups(st_broker_t *b, st_request_t *req) {
    st_describe_groups_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_describe_groups_response_t *resp = st_request_alloc_response(req);
    int32_t n = rq.groups_count > 0 ? rq.groups_count : 0;
    resp->groups = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *resp->groups);
    resp->groups_count = n;
    for (int32_t i = 0; i < n; i++) {
        st_describe_groups_response_described_group_t *dg = &resp->groups[i];
        dg->group_id = rq.groups[i];
        dg->authorized_operations = INT32_MIN;
        group_t *gr = rq.groups[i].len > 0 ? group_find(groups_of(b), rq.groups[i].ptr) : NULL;
        if (!gr) {
            dg->group_state = st_str("Dead");
            dg->protocol_type = st_str("");
            dg->protocol_data = st_str("");
            continue;
        }
        dg->group_state = st_str(state_names[gr->state]);
        dg->protocol_type = st_str(st_arena_strdup(&req->arena, gr->protocol_type ? gr->protocol_type : ""));
        dg->protocol_data = st_str(gr->state == GROUP_STABLE && gr->protocol_name
                                       ? st_arena_strdup(&req->arena, gr->protocol_name) : "");
        dg->members = st_arena_alloc(&req->arena, (size_t)(gr->member_count ? gr->member_count : 1) * sizeof *dg->members);
        dg->members_count = gr->member_count;
        int32_t k = 0;
        for (member_t *m = gr->members; m; m = m->next, k++) {
            st_describe_groups_response_described_group_member_t *dm = &dg->members[k];
            const protocol_t *p = member_protocol(m, gr->protocol_name);
            dm->member_id = st_str(st_arena_strdup(&req->arena, m->member_id));
            dm->group_instance_id = st_str(m->instance_id ? st_arena_strdup(&req->arena, m->instance_id) : NULL);
            dm->client_id = st_str(st_arena_strdup(&req->arena, m->client_id ? m->client_id : ""));
            dm->client_host = st_str(st_arena_strdup(&req->arena, m->client_host ? m->client_host : ""));
            bool stable = gr->state == GROUP_STABLE;
            dm->member_metadata = (st_bytes_t){p && stable && p->metadata_len ? st_arena_memdup(&req->arena, p->metadata, (size_t)p->metadata_len) : (const uint8_t *)"",
                                               p && stable ? p->metadata_len : 0};
            dm->member_assignment = (st_bytes_t){stable && m->assignment_len ? st_arena_memdup(&req->arena, m->assignment, (size_t)m->assignment_len) : (const uint8_t *)"",
                                                 stable ? m->assignment_len : 0};
        }
    }
    st_request_respond(req, resp);
    return 0;
}

int st_handle_list_groups(st_broker_t *b, st_request_t *req) {
    st_list_groups_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_groups_t *g = groups_of(b);
    st_list_groups_response_t *resp = st_request_alloc_response(req);
    resp->groups = st_arena_alloc(&req->arena, (size_t)(g->count ? g->count : 1) * sizeof *resp->groups);
    for (int i = 0; i < GROUP_BUCKETS; i++) {
        for (group_t *gr = g->buckets[i]; gr; gr = gr->next) {
            if (gr->state == GROUP_DEAD) continue;
            bool match = rq.states_filter_count <= 0;
            for (int32_t k = 0; k < rq.states_filter_count && !match; k++)
                if (rq.states_filter[k].ptr && strcasecmp(rq.states_filter[k].ptr, state_names[gr->state]) == 0) match = true;
            bool type_match = rq.types_filter_count <= 0;
            for (int32_t k = 0; k < rq.types_filter_count && !type_match; k++)
                if (rq.types_filter[k].ptr && strcasecmp(rq.types_filter[k].ptr, "classic") == 0) type_match = true;
            if (!match || !type_match) continue;
            st_list_groups_response_listed_group_t *lg = &resp->groups[resp->groups_count++];
            lg->group_id = st_str(st_arena_strdup(&req->arena, gr->id));
            lg->protocol_type = st_str(st_arena_strdup(&req->arena, gr->protocol_type ? gr->protocol_type : ""));
            lg->group_state = st_str(state_names[gr->state]);
            lg->group_type = st_str("classic");
        }
    }
    st_request_respond(req, resp);
    return 0;
}

static void group_destroy(st_groups_t *g, group_t *gr) {
    while (gr->members) member_remove(gr, gr->members);
    st_timer_stop(g->b->loop, &gr->rebalance_timer);
    while (gr->offset_count) offset_remove_at(gr, gr->offset_count - 1);
    free(gr->offsets);
    for (int32_t i = 0; i < gr->pending_count; i++) free(gr->pending_ids[i]);
    free(gr->pending_ids);
    uint32_t bkt = bucket_of(gr->id);
    for (group_t **pp = &g->buckets[bkt]; *pp; pp = &(*pp)->next)
        if (*pp == gr) {
            *pp = gr->next;
            break;
        }
    g->count--;
    free(gr->id);
    free(gr->protocol_type);
    free(gr->protocol_name);
    free(gr->leader_id);
    free(gr);
}

/* Tombstones for the group's metadata and every offset it committed. */
static int write_group_tombstones(st_groups_t *g, group_t *gr) {
    record_set_t rs;
    rs_init(&rs);
    for (int32_t i = 0; i < gr->offset_count; i++) {
        encode_offset_key(&rs.key, gr->id, gr->offsets[i].topic, gr->offsets[i].partition);
        rs_add(&rs, true);
    }
    encode_group_key(&rs.key, gr->id);
    rs_add(&rs, true);
    int err = rs_append(g, gr->id, &rs);
    rs_free(&rs);
    return err;
}

int st_handle_delete_groups(st_broker_t *b, st_request_t *req) {
    st_delete_groups_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_groups_t *g = groups_of(b);
    st_delete_groups_response_t *resp = st_request_alloc_response(req);
    int32_t n = rq.groups_names_count > 0 ? rq.groups_names_count : 0;
    resp->results = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *resp->results);
    resp->results_count = n;
    for (int32_t i = 0; i < n; i++) {
        resp->results[i].group_id = rq.groups_names[i];
        group_t *gr = rq.groups_names[i].len > 0 ? group_find(g, rq.groups_names[i].ptr) : NULL;
        if (!gr || gr->state == GROUP_DEAD) {
            resp->results[i].error_code = rq.groups_names[i].len > 0 ? ST_ERR_GROUP_ID_NOT_FOUND : ST_ERR_INVALID_GROUP_ID;
        } else if (gr->member_count > 0) {
            resp->results[i].error_code = ST_ERR_NON_EMPTY_GROUP;
        } else {
            int err = write_group_tombstones(g, gr);
            if (err) {
                resp->results[i].error_code = (int16_t)err;
            } else {
                ST_INFO("deleted group %s", gr->id);
                group_destroy(g, gr);
            }
        }
    }
    st_request_respond(req, resp);
    return 0;
}

/* True when a member of a consumer group subscribes to `topic`. */
static bool group_subscribes(group_t *gr, const char *topic) {
    if (!gr->protocol_type || strcmp(gr->protocol_type, "consumer") != 0) return false;
    for (member_t *m = gr->members; m; m = m->next) {
        const protocol_t *p = member_protocol(m, gr->protocol_name);
        if (!p || p->metadata_len < 2) continue;
        st_reader_t r;
        st_reader_init(&r, p->metadata, (size_t)p->metadata_len);
        int16_t version = st_read_i16(&r);
        if (version < 0) continue;
        if (version > 3) version = 3;
        st_arena_t arena;
        st_arena_init(&arena);
        st_consumer_protocol_subscription_t sub;
        bool found = false;
        if (st_consumer_protocol_subscription_decode(&r, &arena, version, &sub) == 0)
            for (int32_t i = 0; i < sub.topics_count && !found; i++)
                if (st_str_eq(sub.topics[i], topic)) found = true;
        st_arena_free(&arena);
        if (found) return true;
    }
    return false;
}

int st_handle_offset_delete(st_broker_t *b, st_request_t *req) {
    st_offset_delete_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_groups_t *g = groups_of(b);
    st_offset_delete_response_t *resp = st_request_alloc_response(req);
    group_t *gr = rq.group_id.len > 0 ? group_find(g, rq.group_id.ptr) : NULL;
    if (!gr) {
        resp->error_code = rq.group_id.len > 0 ? ST_ERR_GROUP_ID_NOT_FOUND : ST_ERR_INVALID_GROUP_ID;
        st_request_respond(req, resp);
        return 0;
    }
    int32_t nt = rq.topics_count > 0 ? rq.topics_count : 0;
    resp->topics = st_arena_alloc(&req->arena, (size_t)(nt ? nt : 1) * sizeof *resp->topics);
    resp->topics_count = nt;
    record_set_t rs;
    rs_init(&rs);
    for (int32_t i = 0; i < nt; i++) {
        const char *topic = rq.topics[i].name.ptr ? rq.topics[i].name.ptr : "";
        bool subscribed = group_subscribes(gr, topic);
        resp->topics[i].name = rq.topics[i].name;
        int32_t np = rq.topics[i].partitions_count > 0 ? rq.topics[i].partitions_count : 0;
        resp->topics[i].partitions = st_arena_alloc(&req->arena, (size_t)(np ? np : 1) * sizeof *resp->topics[i].partitions);
        resp->topics[i].partitions_count = np;
        for (int32_t k = 0; k < np; k++) {
            int32_t part = rq.topics[i].partitions[k].partition_index;
            resp->topics[i].partitions[k].partition_index = part;
            if (subscribed) {
                resp->topics[i].partitions[k].error_code = ST_ERR_GROUP_SUBSCRIBED_TO_TOPIC;
                continue;
            }
            if (!offset_find(gr, topic, part)) continue;
            encode_offset_key(&rs.key, gr->id, topic, part);
            rs_add(&rs, true);
        }
    }
    int err = rs_append(g, gr->id, &rs);
    if (err) {
        resp->error_code = (int16_t)err;
    } else {
        for (int32_t i = 0; i < nt; i++)
            for (int32_t k = 0; k < resp->topics[i].partitions_count; k++)
                if (resp->topics[i].partitions[k].error_code == 0)
                    offset_remove(gr, rq.topics[i].name.ptr ? rq.topics[i].name.ptr : "",
                                  resp->topics[i].partitions[k].partition_index);
    }
    rs_free(&rs);
    st_request_respond(req, resp);
    return 0;
}

/* ---- load at start and expiry ------------------------------------------- */

typedef struct load_ctx {
    st_groups_t *g;
    int records;
} load_ctx_t;

static void load_group_value(st_groups_t *g, const char *group_id, const uint8_t *value, int32_t len) {
    group_t *gr = group_find(g, group_id);
    if (!value) {
        /* Tombstone: the group is gone (its offsets have their own). */
        if (gr && gr->offset_count == 0) group_destroy(g, gr);
        return;
    }
    st_reader_t r;
    st_reader_init(&r, value, (size_t)len);
    int16_t version = st_read_i16(&r);
    if (version < 0 || version > 4) return;
    st_arena_t arena;
    st_arena_init(&arena);
    st_group_metadata_value_t v;
    if (st_group_metadata_value_decode(&r, &arena, version, &v) != 0) {
        st_arena_free(&arena);
        return;
    }
    if (!gr) gr = group_create(g, group_id);
    while (gr->members) member_remove(gr, gr->members);
    free(gr->protocol_type);
    gr->protocol_type = dup_str(v.protocol_type);
    gr->generation = v.generation;
    free(gr->protocol_name);
    gr->protocol_name = dup_str(v.protocol);
    free(gr->leader_id);
    gr->leader_id = dup_str(v.leader);
    for (int32_t i = 0; i < v.members_count; i++) {
        const st_group_metadata_value_member_metadata_t *mm = &v.members[i];
        member_t *m = calloc(1, sizeof *m);
        if (!m) abort();
        m->group = gr;
        m->member_id = dup_str(mm->member_id);
        m->instance_id = dup_str(mm->group_instance_id);
        m->client_id = dup_str(mm->client_id);
        m->client_host = dup_str(mm->client_host);
        m->session_timeout_ms = mm->session_timeout;
        m->rebalance_timeout_ms = mm->rebalance_timeout > 0 ? mm->rebalance_timeout : mm->session_timeout;
        m->protocol_count = 1;
        m->protocols = calloc(1, sizeof *m->protocols);
        if (!m->protocols) abort();
        m->protocols[0].name = dup_c(gr->protocol_name);
        m->protocols[0].metadata_len = mm->subscription.len > 0 ? mm->subscription.len : 0;
        m->protocols[0].metadata = dup_bytes(mm->subscription.ptr, m->protocols[0].metadata_len);
        m->assignment_len = mm->assignment.len > 0 ? mm->assignment.len : 0;
        m->assignment = dup_bytes(mm->assignment.ptr, m->assignment_len);
        member_t **tail = &gr->members;
        while (*tail) tail = &(*tail)->next;
        *tail = m;
        gr->member_count++;
    }
    set_state(gr, gr->member_count > 0 ? GROUP_STABLE : GROUP_EMPTY);
    st_arena_free(&arena);
}

static int load_batch(void *ctx, const uint8_t *batch, size_t len) {
    load_ctx_t *lc = ctx;
    st_batch_header_t h;
    if (st_batch_header_parse(batch, len, &h) != 0 || (h.attributes & ST_BATCH_ATTR_CONTROL)) return 0;
    st_arena_t arena;
    st_arena_init(&arena);
    st_record_iter_t it;
    if (st_record_iter_init(&it, batch, len, 64 << 20, &arena) != 0) {
        st_arena_free(&arena);
        return 0;
    }
    st_record_t rec;
    while (st_record_iter_next(&it, &rec) == 1) {
        if (rec.key_len < 2) continue;
        st_reader_t r;
        st_reader_init(&r, rec.key, (size_t)rec.key_len);
        int16_t kv = st_read_i16(&r);
        if (kv == 0 || kv == 1) {
            st_offset_commit_key_t k;
            if (st_offset_commit_key_decode(&r, &arena, kv, &k) != 0 || k.group.len < 0 || k.topic.len < 0) continue;
            group_t *gr = group_find(lc->g, k.group.ptr);
            if (rec.value_len < 0) {
                if (gr) offset_remove(gr, k.topic.ptr, k.partition);
                continue;
            }
            st_reader_t vr;
            st_reader_init(&vr, rec.value, (size_t)rec.value_len);
            int16_t vv = st_read_i16(&vr);
            if (vv < 0 || vv > 4) continue;
            st_offset_commit_value_t v;
            if (st_offset_commit_value_decode(&vr, &arena, vv, &v) != 0) continue;
            if (!gr) gr = group_create(lc->g, k.group.ptr);
            offset_put(gr, k.topic.ptr, k.partition, v.offset, v.leader_epoch, v.metadata.len >= 0 ? v.metadata.ptr : "",
                       v.commit_timestamp);
            lc->records++;
        } else if (kv == 2) {
            st_group_metadata_key_t k;
            if (st_group_metadata_key_decode(&r, &arena, kv, &k) != 0 || k.group.len < 0) continue;
            load_group_value(lc->g, k.group.ptr, rec.value_len >= 0 ? rec.value : NULL, rec.value_len);
            lc->records++;
        }
    }
    st_arena_free(&arena);
    return 0;
}

int st_groups_load(st_groups_t *g) {
    st_topic_t *t = st_broker_topic(g->b, ST_OFFSETS_TOPIC);
    if (!t) return 0;
    load_ctx_t lc = {g, 0};
    for (int32_t i = 0; i < t->partition_count; i++) {
        st_partition_t *p = t->partitions[i];
        if (!p || !p->log) continue;
        st_log_for_each_batch(p->log, st_log_start_offset(p->log), load_batch, &lc);
    }
    /* Restored members get a full session to come back. */
    for (int i = 0; i < GROUP_BUCKETS; i++)
        for (group_t *gr = g->buckets[i]; gr; gr = gr->next)
            for (member_t *m = gr->members; m; m = m->next) member_touch(m);
    ST_INFO("loaded %d group(s) from %d record(s) of %s", g->count, lc.records, ST_OFFSETS_TOPIC);
    return 0;
}

void st_groups_housekeeping(st_groups_t *g, int64_t now_ms) {
    int64_t retention_ms = st_config_get_long(g->b->config, "offsets.retention.minutes") * 60000;
    for (int i = 0; i < GROUP_BUCKETS; i++) {
        group_t *gr = g->buckets[i];
        while (gr) {
            group_t *next = gr->next;
            if (gr->state == GROUP_EMPTY && gr->offset_count > 0 && now_ms - gr->empty_since_ms > retention_ms) {
                bool all_old = true;
                for (int32_t k = 0; k < gr->offset_count && all_old; k++)
                    if (now_ms - gr->offsets[k].commit_ms <= retention_ms) all_old = false;
                if (all_old && write_group_tombstones(g, gr) == 0) {
                    ST_INFO("group %s: offsets expired (offsets.retention.minutes)", gr->id);
                    group_destroy(g, gr);
                }
            }
            gr = next;
        }
    }
}

st_groups_t *st_groups_new(st_broker_t *b) {
    st_groups_t *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->b = b;
    return g;
}

void st_groups_free(st_groups_t *g) {
    if (!g) return;
    for (int i = 0; i < GROUP_BUCKETS; i++)
        while (g->buckets[i]) group_destroy(g, g->buckets[i]);
    free(g);
}

int32_t st_groups_count(const st_groups_t *g) { return g->count; }

static void fill_view(const group_t *gr, st_group_view_t *v) {
    v->group_id = gr->id;
    v->state = state_names[gr->state];
    v->protocol_type = gr->protocol_type ? gr->protocol_type : "";
    v->member_count = gr->member_count;
    v->generation = gr->generation;
}

void st_groups_each(const st_groups_t *g, int (*fn)(void *ctx, const st_group_view_t *group), void *ctx) {
    for (int i = 0; i < GROUP_BUCKETS; i++)
        for (const group_t *gr = g->buckets[i]; gr; gr = gr->next) {
            if (gr->state == GROUP_DEAD) continue;
            st_group_view_t v;
            fill_view(gr, &v);
            if (fn(ctx, &v)) return;
        }
}

bool st_groups_view(const st_groups_t *g, const char *group_id, st_group_view_t *out) {
    const group_t *gr = group_find((st_groups_t *)g, group_id);
    if (!gr || gr->state == GROUP_DEAD) return false;
    fill_view(gr, out);
    return true;
}

int st_groups_each_offset(const st_groups_t *g, const char *group_id,
                          int (*fn)(void *ctx, const st_group_offset_view_t *offset), void *ctx) {
    const group_t *gr = group_find((st_groups_t *)g, group_id);
    if (!gr) return ST_ERR_NOT_FOUND;
    for (int32_t i = 0; i < gr->offset_count; i++) {
        st_group_offset_view_t v = {gr->offsets[i].topic, gr->offsets[i].partition, gr->offsets[i].offset};
        if (fn(ctx, &v)) break;
    }
    return 0;
}
