/*
 * The groups in memory and Kafka's classic rebalance state machine (see
 * group.h for the diagram and invariants): members joining, syncing and
 * expiring, the rebalance timer, committed offsets. Everything runs on the
 * loop thread; parked JoinGroup and SyncGroup requests are completed from
 * here when the group moves.
 */
#include "coordinator/group/group_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const group_state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"};

/* ---- small helpers -------------------------------------------------------- */

char *group_dup_str(st_str_t s) {
    if (s.len < 0) return NULL;
    char *d = malloc((size_t)s.len + 1);
    if (!d) abort();
    memcpy(d, s.ptr, (size_t)s.len);
    d[s.len] = '\0';
    return d;
}

char *group_dup_c(const char *s) {
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

uint8_t *group_dup_bytes(const uint8_t *p, int32_t len) {
    if (len <= 0) return NULL;
    uint8_t *d = malloc((size_t)len);
    if (!d) abort();
    memcpy(d, p, (size_t)len);
    return d;
}

bool group_str_eq(const char *a, const char *b) {
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

group_t *group_find(st_groups_t *g, const char *id) {
    for (group_t *gr = g->buckets[bucket_of(id)]; gr; gr = gr->next)
        if (strcmp(gr->id, id) == 0) return gr;
    return NULL;
}

group_t *group_create(st_groups_t *g, const char *id) {
    group_t *gr = calloc(1, sizeof *gr);
    if (!gr) abort();
    gr->owner = g;
    gr->id = group_dup_c(id);
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

member_t *group_member_find(group_t *gr, const char *member_id) {
    for (member_t *m = gr->members; m; m = m->next)
        if (strcmp(m->member_id, member_id) == 0) return m;
    return NULL;
}

member_t *group_member_by_instance(group_t *gr, const char *instance_id) {
    if (!instance_id) return NULL;
    for (member_t *m = gr->members; m; m = m->next)
        if (m->instance_id && strcmp(m->instance_id, instance_id) == 0) return m;
    return NULL;
}

const protocol_t *group_member_protocol(const member_t *m, const char *name) {
    for (int32_t i = 0; i < m->protocol_count; i++)
        if (group_str_eq(m->protocols[i].name, name)) return &m->protocols[i];
    return NULL;
}

bool group_static_member_fenced(group_t *gr, const char *instance_id, const char *member_id) {
    if (!instance_id) return false;
    const member_t *holder = group_member_by_instance(gr, instance_id);
    return holder && !group_str_eq(holder->member_id, member_id);
}

void group_set_state(group_t *gr, group_state_t s) {
    gr->state = s;
    gr->state_since_ms = st_wall_ms();
    if (s == GROUP_EMPTY) gr->empty_since_ms = gr->state_since_ms;
}


/* ---- offsets in memory ---------------------------------------------------- */

committed_t *group_offset_find(group_t *gr, const char *topic, int32_t partition) {
    for (int32_t i = 0; i < gr->offset_count; i++)
        if (gr->offsets[i].partition == partition && strcmp(gr->offsets[i].topic, topic) == 0) return &gr->offsets[i];
    return NULL;
}

void group_offset_put(group_t *gr, const char *topic, int32_t partition, int64_t offset, int32_t leader_epoch,
                      st_str_t metadata, int64_t commit_ms) {
    committed_t *c = group_offset_find(gr, topic, partition);
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
        c->topic = group_dup_c(topic);
        c->partition = partition;
    }
    free(c->metadata);
    int32_t len = metadata.len > 0 ? metadata.len : 0;
    c->metadata = malloc((size_t)len + 1);
    if (!c->metadata) abort();
    if (len) memcpy(c->metadata, metadata.ptr, (size_t)len);
    c->metadata[len] = '\0';
    c->metadata_len = len;
    c->offset = offset;
    c->leader_epoch = leader_epoch;
    c->commit_ms = commit_ms;
}

static void offset_remove_at(group_t *gr, int32_t i) {
    free(gr->offsets[i].topic);
    free(gr->offsets[i].metadata);
    gr->offsets[i] = gr->offsets[--gr->offset_count];
}

void group_offset_remove(group_t *gr, const char *topic, int32_t partition) {
    for (int32_t i = 0; i < gr->offset_count; i++)
        if (gr->offsets[i].partition == partition && strcmp(gr->offsets[i].topic, topic) == 0) {
            offset_remove_at(gr, i);
            return;
        }
}


/* ---- members and rebalances -------------------------------------------- */

static void on_session_timeout(st_loop_t *loop, void *ctx);

void group_member_touch(member_t *m) {
    st_broker_t *b = m->group->owner->b;
    st_timer_start(b->loop, &m->session_timer, m->session_timeout_ms, on_session_timeout, m);
}

void group_respond_join_error(st_request_t *req, int16_t error, const char *member_id) {
    st_join_group_response_t *resp = st_request_alloc_response(req);
    resp->error_code = error;
    resp->generation_id = -1;
    resp->protocol_name = req->api_version >= 7 ? st_str_null() : st_str("");
    resp->leader = st_str("");
    resp->member_id = st_str(member_id ? st_arena_strdup(&req->arena, member_id) : "");
    st_request_respond(req, resp);
}

void group_respond_sync(st_request_t *req, int16_t error, const group_t *gr, const member_t *m) {
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

void group_member_remove(group_t *gr, member_t *m) {
    st_broker_t *b = gr->owner->b;
    st_timer_stop(b->loop, &m->session_timer);
    if (m->join_req) {
        m->join_req->pending = NULL;
        group_respond_join_error(m->join_req, ST_ERR_UNKNOWN_MEMBER_ID, m->member_id);
    }
    if (m->sync_req) {
        m->sync_req->pending = NULL;
        group_respond_sync(m->sync_req, ST_ERR_UNKNOWN_MEMBER_ID, NULL, NULL);
    }
    for (member_t **pp = &gr->members; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    gr->member_count--;
    if (gr->leader_id && strcmp(gr->leader_id, m->member_id) == 0) {
        free(gr->leader_id);
        gr->leader_id = gr->members ? group_dup_c(gr->members->member_id) : NULL;
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
    group_set_state(gr, GROUP_EMPTY);
    free(gr->protocol_name);
    gr->protocol_name = NULL;
    gr->owner->persist_group(gr);
}

/* After members left (LeaveGroup or an expired session). */
void group_after_members_left(group_t *gr, const char *reason) {
    if (gr->state == GROUP_PREPARING_REBALANCE) {
        group_maybe_complete_join(gr);
    } else if (gr->member_count == 0) {
        if (gr->state != GROUP_EMPTY) {
            gr->generation++;
            become_empty(gr);
        }
    } else {
        group_prepare_rebalance(gr, reason);
    }
}

static void on_session_timeout(st_loop_t *loop, void *ctx) {
    (void)loop;
    member_t *m = ctx;
    group_t *gr = m->group;
    if (m->join_req) return; /* waiting in a rebalance: the rebalance timeout governs */
    ST_INFO("group %s: member %s expired after %d ms without a heartbeat", gr->id, m->member_id,
            m->session_timeout_ms);
    group_member_remove(gr, m);
    group_after_members_left(gr, "member session expired");
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
            if (!group_member_protocol(m, cand)) all = false;
        if (!all) continue;
        int votes = 0;
        for (member_t *m = gr->members; m; m = m->next) {
            /* each member votes for its most preferred candidate */
            for (int32_t k = 0; k < m->protocol_count; k++) {
                const char *pn = m->protocols[k].name;
                bool supported = true;
                for (member_t *o = gr->members; o && supported; o = o->next)
                    if (!group_member_protocol(o, pn)) supported = false;
                if (!supported) continue;
                if (group_str_eq(pn, cand)) votes++;
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
        const protocol_t *p = group_member_protocol(o, gr->protocol_name);
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
            group_member_remove(gr, m);
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
    gr->protocol_name = group_dup_c(select_protocol(gr));
    if (!gr->leader_id || !group_member_find(gr, gr->leader_id)) {
        free(gr->leader_id);
        gr->leader_id = group_dup_c(gr->members->member_id);
    }
    group_set_state(gr, GROUP_COMPLETING_REBALANCE);
    ST_INFO("group %s: generation %d with %d member(s), protocol %s, leader %s", gr->id, gr->generation,
            gr->member_count, gr->protocol_name ? gr->protocol_name : "-", gr->leader_id);
    for (member_t *m = gr->members; m; m = m->next) {
        m->joined = false;
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        st_request_t *req = m->join_req;
        m->join_req = NULL;
        group_member_touch(m);
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

void group_maybe_complete_join(group_t *gr) {
    if (gr->state != GROUP_PREPARING_REBALANCE || gr->initial_delay) return;
    if (gr->pending_count > 0) return;
    for (member_t *m = gr->members; m; m = m->next)
        if (!m->joined) return;
    complete_join(gr);
}

void group_on_rebalance_timeout(st_loop_t *loop, void *ctx) {
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
            st_timer_start(b->loop, &gr->rebalance_timer, left, group_on_rebalance_timeout, gr);
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

void group_prepare_rebalance(group_t *gr, const char *reason) {
    st_broker_t *b = gr->owner->b;
    bool from_empty = gr->state == GROUP_EMPTY;
    /* Syncs waiting for the leader's assignment must rejoin. */
    for (member_t *m = gr->members; m; m = m->next) {
        if (m->sync_req) {
            st_request_t *req = m->sync_req;
            m->sync_req = NULL;
            req->pending = NULL;
            group_respond_sync(req, ST_ERR_REBALANCE_IN_PROGRESS, NULL, NULL);
        }
    }
    if (gr->state != GROUP_PREPARING_REBALANCE) {
        for (member_t *m = gr->members; m; m = m->next) m->joined = m->join_req != NULL;
        group_set_state(gr, GROUP_PREPARING_REBALANCE);
        ST_INFO("group %s: preparing to rebalance (%s)", gr->id, reason);
        int64_t timeout = max_rebalance_timeout(gr);
        gr->rebalance_deadline_ms = st_loop_now_ms(b->loop) + timeout;
        int64_t delay = st_config_get_int(b->config, "group.initial.rebalance.delay.ms");
        if (from_empty && delay > 0) {
            gr->initial_delay = true;
            st_timer_start(b->loop, &gr->rebalance_timer, delay < timeout ? delay : timeout, group_on_rebalance_timeout, gr);
        } else {
            gr->initial_delay = false;
            st_timer_start(b->loop, &gr->rebalance_timer, timeout, group_on_rebalance_timeout, gr);
        }
    }
}

bool group_protocols_equal(const member_t *m, const st_join_group_request_t *rq) {
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

void group_member_set_protocols(member_t *m, const st_join_group_request_t *rq) {
    member_free_protocols(m);
    m->protocol_count = rq->protocols_count > 0 ? rq->protocols_count : 0;
    m->protocols = calloc((size_t)(m->protocol_count ? m->protocol_count : 1), sizeof *m->protocols);
    if (!m->protocols) abort();
    for (int32_t i = 0; i < m->protocol_count; i++) {
        m->protocols[i].name = group_dup_str(rq->protocols[i].name);
        m->protocols[i].metadata_len = rq->protocols[i].metadata.len > 0 ? rq->protocols[i].metadata.len : 0;
        m->protocols[i].metadata = group_dup_bytes(rq->protocols[i].metadata.ptr, m->protocols[i].metadata_len);
    }
}

/* Answers a join without a rebalance: the member's view of the current
 * generation (a lost response, or a static member coming back). */
void group_respond_join_current(st_request_t *req, group_t *gr, member_t *m) {
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

char *group_new_member_id(const char *client_id) {
    static uint64_t counter;
    char buf[512];
    uint64_t r = ((uint64_t)st_wall_ms() << 20) ^ (uint64_t)(++counter * 2654435761u);
    snprintf(buf, sizeof buf, "%.200s-%08x-%04x-4%03x-a%03x-%012llx", client_id && *client_id ? client_id : "member",
             (unsigned)(r >> 32), (unsigned)(r >> 16) & 0xffff, (unsigned)(r >> 4) & 0xfff, (unsigned)counter & 0xfff,
             (unsigned long long)(r & 0xffffffffffffULL));
    return group_dup_c(buf);
}

bool group_pending_take(group_t *gr, const char *id) {
    for (int32_t i = 0; i < gr->pending_count; i++)
        if (strcmp(gr->pending_ids[i], id) == 0) {
            free(gr->pending_ids[i]);
            gr->pending_ids[i] = gr->pending_ids[--gr->pending_count];
            return true;
        }
    return false;
}

void group_pending_add(group_t *gr, const char *id) {
    char **ids = realloc(gr->pending_ids, (size_t)(gr->pending_count + 1) * sizeof *ids);
    if (!ids) abort();
    gr->pending_ids = ids;
    gr->pending_ids[gr->pending_count++] = group_dup_c(id);
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
bool group_accepts_joining_member(const group_t *gr, const member_t *m, int32_t max_size) {
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
void group_refuse_joining_member(st_request_t *req, group_t *gr, member_t *m, const char *member_id,
                                  int32_t max_size) {
    ST_INFO("group %s: refusing member %s: group.max.size %d reached", gr->id, member_id[0] ? member_id : "(new)",
            max_size);
    bool left = false;
    if (m) {
        group_member_remove(gr, m);
        left = true;
    } else if (member_id[0]) {
        left = group_pending_take(gr, member_id);
    }
    group_respond_join_error(req, ST_ERR_GROUP_MAX_SIZE_REACHED, "");
    if (left && gr->state == GROUP_PREPARING_REBALANCE) group_maybe_complete_join(gr);
}


void group_destroy(st_groups_t *g, group_t *gr) {
    while (gr->members) group_member_remove(gr, gr->members);
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

void st_groups_free(st_groups_t *g) {
    if (!g) return;
    for (int i = 0; i < GROUP_BUCKETS; i++)
        while (g->buckets[i]) group_destroy(g, g->buckets[i]);
    free(g);
}

int32_t st_groups_count(const st_groups_t *g) { return g->count; }

static void fill_view(const group_t *gr, st_group_view_t *v) {
    v->group_id = gr->id;
    v->state = group_state_names[gr->state];
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
