/*
 * The group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
 * DeleteGroups, OffsetDelete. Each decodes its request, drives the state
 * machine (group_state.c) and persistence (group_store.c), and answers.
 */
#include "coordinator/group/group_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- handlers ------------------------------------------------------------- */

static const char *client_id_of(const st_request_t *req) {
    return req->client_id.len > 0 ? req->client_id.ptr : "";
}

static st_groups_t *groups_of(st_broker_t *b) { return b->groups; }

int st_handle_join_group(st_broker_t *b, st_request_t *req) {
    st_join_group_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_groups_t *g = groups_of(b);
    const char *member_id = rq.member_id.len > 0 ? rq.member_id.ptr : "";
    if (rq.group_id.len <= 0) {
        group_respond_join_error(req, ST_ERR_INVALID_GROUP_ID, member_id);
        return 0;
    }
    if (rq.session_timeout_ms < st_config_get_int(b->config, "group.min.session.timeout.ms") ||
        rq.session_timeout_ms > st_config_get_int(b->config, "group.max.session.timeout.ms")) {
        group_respond_join_error(req, ST_ERR_INVALID_SESSION_TIMEOUT, member_id);
        return 0;
    }
    if (rq.protocol_type.len <= 0 || rq.protocols_count <= 0) {
        group_respond_join_error(req, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
        return 0;
    }
    if (!group_offsets_partition(g, rq.group_id.ptr, true)) {
        group_respond_join_error(req, ST_ERR_COORDINATOR_NOT_AVAILABLE, member_id);
        return 0;
    }
    group_t *gr = group_find(g, rq.group_id.ptr);
    if (!gr) gr = group_create(g, rq.group_id.ptr);
    if (gr->state == GROUP_DEAD) {
        group_respond_join_error(req, ST_ERR_COORDINATOR_NOT_AVAILABLE, member_id);
        return 0;
    }
    const char *instance_id = rq.group_instance_id.len >= 0 ? rq.group_instance_id.ptr : NULL;
    /* A static member coming back with a new member id counts as the
     * member it replaces: it does not make the group bigger. Kafka checks
     * the (unknown) member id alone and would refuse it in a full group. */
    member_t *joining = member_id[0] ? group_member_find(gr, member_id) : group_member_by_instance(gr, instance_id);
    int32_t max_size = st_config_get_int(b->config, "group.max.size");
    if (!group_accepts_joining_member(gr, joining, max_size)) {
        group_refuse_joining_member(req, gr, joining, member_id, max_size);
        return 0;
    }
    /* The protocol type and at least one protocol must match the group's. */
    if (gr->member_count > 0) {
        if (!group_str_eq(gr->protocol_type, rq.protocol_type.ptr)) {
            group_respond_join_error(req, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            return 0;
        }
        bool common = false;
        for (int32_t i = 0; i < rq.protocols_count && !common; i++) {
            bool all = true;
            for (member_t *m = gr->members; m && all; m = m->next)
                if (strcmp(m->member_id, member_id) != 0 && !group_member_protocol(m, rq.protocols[i].name.ptr)) all = false;
            common = all;
        }
        if (!common) {
            group_respond_join_error(req, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            return 0;
        }
    }
    member_t *m = NULL;
    if (member_id[0] == '\0') {
        member_t *existing = group_member_by_instance(gr, instance_id);
        if (existing) {
            /* A static member restarted: it takes a new member id, the old
             * one is fenced. Unchanged metadata in a stable group: no
             * rebalance (KIP-345). */
            char *fresh = group_new_member_id(client_id_of(req));
            ST_INFO("group %s: static member %s rejoined as %s", gr->id, instance_id, fresh);
            if (gr->leader_id && strcmp(gr->leader_id, existing->member_id) == 0) {
                free(gr->leader_id);
                gr->leader_id = group_dup_c(fresh);
            }
            free(existing->member_id);
            existing->member_id = fresh;
            existing->session_timeout_ms = rq.session_timeout_ms;
            existing->rebalance_timeout_ms = rq.rebalance_timeout_ms > 0 ? rq.rebalance_timeout_ms : rq.session_timeout_ms;
            if (existing->join_req) {
                st_request_t *old = existing->join_req;
                existing->join_req = NULL;
                old->pending = NULL;
                group_respond_join_error(old, ST_ERR_FENCED_INSTANCE_ID, "");
            }
            if (gr->state == GROUP_STABLE && group_protocols_equal(existing, &rq)) {
                group_member_touch(existing);
                group_store(gr);
                group_respond_join_current(req, gr, existing);
                return 0;
            }
            m = existing;
        } else if (!instance_id && req->api_version >= 4) {
            /* KIP-394: hand out an id first; the member joins with it. */
            char *fresh = group_new_member_id(client_id_of(req));
            group_pending_add(gr, fresh);
            group_respond_join_error(req, ST_ERR_MEMBER_ID_REQUIRED, fresh);
            free(fresh);
            return 0;
        }
    } else {
        m = group_member_find(gr, member_id);
        if (!m) {
            member_t *holder = group_member_by_instance(gr, instance_id);
            if (holder) {
                group_respond_join_error(req, ST_ERR_FENCED_INSTANCE_ID, member_id);
                return 0;
            }
            if (!group_pending_take(gr, member_id)) {
                group_respond_join_error(req, ST_ERR_UNKNOWN_MEMBER_ID, member_id);
                return 0;
            }
        } else if (instance_id && !group_str_eq(m->instance_id, instance_id)) {
            group_respond_join_error(req, ST_ERR_FENCED_INSTANCE_ID, member_id);
            return 0;
        }
    }
    bool is_new = m == NULL;
    if (is_new) {
        m = calloc(1, sizeof *m);
        if (!m) abort();
        m->group = gr;
        m->member_id = member_id[0] ? group_dup_c(member_id) : group_new_member_id(client_id_of(req));
        m->instance_id = group_dup_c(instance_id);
        m->next = NULL;
        member_t **tail = &gr->members;
        while (*tail) tail = &(*tail)->next;
        *tail = m;
        gr->member_count++;
        if (!gr->protocol_type) gr->protocol_type = group_dup_str(rq.protocol_type);
        else if (gr->member_count == 1) {
            free(gr->protocol_type);
            gr->protocol_type = group_dup_str(rq.protocol_type);
        }
    }
    free(m->client_id);
    m->client_id = group_dup_c(req->client_id.len >= 0 ? req->client_id.ptr : "");
    free(m->client_host);
    m->client_host = group_dup_c(req->client_host);
    m->session_timeout_ms = rq.session_timeout_ms;
    m->rebalance_timeout_ms = rq.rebalance_timeout_ms > 0 ? rq.rebalance_timeout_ms : rq.session_timeout_ms;
    bool same = !is_new && group_protocols_equal(m, &rq);
    if (!same) group_member_set_protocols(m, &rq);

    if (!is_new && same && (gr->state == GROUP_STABLE || gr->state == GROUP_COMPLETING_REBALANCE) &&
        !(gr->leader_id && strcmp(gr->leader_id, m->member_id) == 0 && gr->state == GROUP_STABLE)) {
        /* A follower with unchanged metadata: its view of this generation. */
        group_member_touch(m);
        group_respond_join_current(req, gr, m);
        return 0;
    }
    if (m->join_req) {
        st_request_t *old = m->join_req;
        old->pending = NULL;
        group_respond_join_error(old, ST_ERR_UNKNOWN_MEMBER_ID, m->member_id);
    }
    m->join_req = req;
    req->pending = m;
    m->joined = true;
    st_timer_stop(b->loop, &m->session_timer);
    if (gr->state != GROUP_PREPARING_REBALANCE)
        group_prepare_rebalance(gr, is_new ? "a new member joined" : "a member rejoined");
    else if (gr->initial_delay && is_new) {
        /* Each new member during the initial delay extends it, up to the
         * rebalance timeout (Kafka's InitialDelayedJoin). */
        int64_t delay = st_config_get_int(b->config, "group.initial.rebalance.delay.ms");
        int64_t left = gr->rebalance_deadline_ms - st_loop_now_ms(b->loop);
        st_timer_start(b->loop, &gr->rebalance_timer, delay < left ? delay : (left > 0 ? left : 0),
                       group_on_rebalance_timeout, gr);
    }
    group_maybe_complete_join(gr);
    return 0;
}

int st_handle_sync_group(st_broker_t *b, st_request_t *req) {
    st_sync_group_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    group_t *gr = rq.group_id.len > 0 ? group_find(groups_of(b), rq.group_id.ptr) : NULL;
    member_t *m = gr ? group_member_find(gr, rq.member_id.ptr ? rq.member_id.ptr : "") : NULL;
    const char *instance_id = rq.group_instance_id.len >= 0 ? rq.group_instance_id.ptr : NULL;
    if (gr && group_static_member_fenced(gr, instance_id, rq.member_id.ptr ? rq.member_id.ptr : "")) {
        group_respond_sync(req, ST_ERR_FENCED_INSTANCE_ID, NULL, NULL);
        return 0;
    }
    if (!gr || !m) {
        group_respond_sync(req, ST_ERR_UNKNOWN_MEMBER_ID, NULL, NULL);
        return 0;
    }
    if (instance_id && !group_str_eq(m->instance_id, instance_id)) {
        group_respond_sync(req, ST_ERR_FENCED_INSTANCE_ID, NULL, NULL);
        return 0;
    }
    if (rq.generation_id != gr->generation) {
        group_respond_sync(req, ST_ERR_ILLEGAL_GENERATION, NULL, NULL);
        return 0;
    }
    if ((rq.protocol_type.len >= 0 && !group_str_eq(gr->protocol_type, rq.protocol_type.ptr)) ||
        (rq.protocol_name.len >= 0 && !group_str_eq(gr->protocol_name, rq.protocol_name.ptr))) {
        group_respond_sync(req, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, NULL, NULL);
        return 0;
    }
    group_member_touch(m);
    if (gr->state == GROUP_PREPARING_REBALANCE) {
        group_respond_sync(req, ST_ERR_REBALANCE_IN_PROGRESS, NULL, NULL);
        return 0;
    }
    if (gr->state == GROUP_STABLE) {
        group_respond_sync(req, 0, gr, m);
        return 0;
    }
    if (gr->state != GROUP_COMPLETING_REBALANCE) {
        group_respond_sync(req, ST_ERR_UNKNOWN_MEMBER_ID, NULL, NULL);
        return 0;
    }
    if (m->sync_req) {
        st_request_t *old = m->sync_req;
        old->pending = NULL;
        group_respond_sync(old, ST_ERR_REBALANCE_IN_PROGRESS, NULL, NULL);
    }
    m->sync_req = req;
    req->pending = m;
    if (!gr->leader_id || strcmp(gr->leader_id, m->member_id) != 0) return 0;

    /* The leader's assignment completes the rebalance. */
    for (int32_t i = 0; i < rq.assignments_count; i++) {
        member_t *target = group_member_find(gr, rq.assignments[i].member_id.ptr ? rq.assignments[i].member_id.ptr : "");
        if (!target) continue;
        free(target->assignment);
        target->assignment_len = rq.assignments[i].assignment.len > 0 ? rq.assignments[i].assignment.len : 0;
        target->assignment = group_dup_bytes(rq.assignments[i].assignment.ptr, target->assignment_len);
    }
    group_set_state(gr, GROUP_STABLE);
    int err = group_store(gr);
    for (member_t *o = gr->members; o; o = o->next) {
        st_request_t *sreq = o->sync_req;
        if (!sreq) continue;
        o->sync_req = NULL;
        sreq->pending = NULL;
        group_respond_sync(sreq, err ? ST_ERR_COORDINATOR_NOT_AVAILABLE : 0, gr, o);
    }
    return 0;
}

int st_handle_heartbeat(st_broker_t *b, st_request_t *req) {
    st_heartbeat_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_heartbeat_response_t *resp = st_request_alloc_response(req);
    group_t *gr = rq.group_id.len > 0 ? group_find(groups_of(b), rq.group_id.ptr) : NULL;
    member_t *m = gr ? group_member_find(gr, rq.member_id.ptr ? rq.member_id.ptr : "") : NULL;
    const char *instance_id = rq.group_instance_id.len >= 0 ? rq.group_instance_id.ptr : NULL;
    if (gr && group_static_member_fenced(gr, instance_id, rq.member_id.ptr ? rq.member_id.ptr : "")) {
        resp->error_code = ST_ERR_FENCED_INSTANCE_ID;
    } else if (!gr || !m || gr->state == GROUP_EMPTY || gr->state == GROUP_DEAD) {
        resp->error_code = ST_ERR_UNKNOWN_MEMBER_ID;
    } else if (instance_id && !group_str_eq(m->instance_id, instance_id)) {
        resp->error_code = ST_ERR_FENCED_INSTANCE_ID;
    } else if (rq.generation_id != gr->generation) {
        resp->error_code = ST_ERR_ILLEGAL_GENERATION;
    } else {
        if (!m->join_req) group_member_touch(m);
        resp->error_code = gr->state == GROUP_PREPARING_REBALANCE ? ST_ERR_REBALANCE_IN_PROGRESS : 0;
    }
    st_request_respond(req, resp);
    return 0;
}

static int16_t leave_one(group_t *gr, const char *member_id, const char *instance_id) {
    member_t *m = NULL;
    if (instance_id) {
        m = group_member_by_instance(gr, instance_id);
        if (!m) return ST_ERR_UNKNOWN_MEMBER_ID;
        if (member_id && member_id[0] && strcmp(m->member_id, member_id) != 0) return ST_ERR_FENCED_INSTANCE_ID;
    } else {
        m = group_member_find(gr, member_id ? member_id : "");
        if (!m) {
            if (member_id && group_pending_take(gr, member_id)) return 0;
            return ST_ERR_UNKNOWN_MEMBER_ID;
        }
    }
    ST_INFO("group %s: member %s left", gr->id, m->member_id);
    group_member_remove(gr, m);
    return 0;
}

int st_handle_leave_group(st_broker_t *b, st_request_t *req) {
    st_leave_group_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_leave_group_response_t *resp = st_request_alloc_response(req);
    group_t *gr = rq.group_id.len > 0 ? group_find(groups_of(b), rq.group_id.ptr) : NULL;
    if (req->api_version < 3) {
        resp->error_code = gr ? leave_one(gr, rq.member_id.ptr, NULL) : ST_ERR_UNKNOWN_MEMBER_ID;
        if (gr && resp->error_code == 0) group_after_members_left(gr, "a member left");
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
        if (gr && any) group_after_members_left(gr, "a member left");
    }
    st_request_respond(req, resp);
    return 0;
}

/* OffsetCommit v1 carries each partition's commit time; -1 (and every
 * other version) means now, as in Kafka. */
static int64_t commit_time_ms(const st_offset_commit_request_offset_commit_request_partition_t *p, int64_t now) {
    return p->commit_timestamp != -1 ? p->commit_timestamp : now;
}

/* OffsetCommit. v0 has no generation or member id: a simple commit to the
 * coordinator's store (Kafka 3.9 kept v0 commits in ZooKeeper; Strata has
 * none, so OffsetFetch of any version sees them). */
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
        member_t *m = group_member_find(gr, member_id);
        const char *instance_id = rq.group_instance_id.len >= 0 ? rq.group_instance_id.ptr : NULL;
        if (group_static_member_fenced(gr, instance_id, member_id)) group_error = ST_ERR_FENCED_INSTANCE_ID;
        else if (!m) group_error = ST_ERR_UNKNOWN_MEMBER_ID;
        else if (instance_id && !group_str_eq(m->instance_id, instance_id)) group_error = ST_ERR_FENCED_INSTANCE_ID;
        else if (rq.generation_id_or_member_epoch != gr->generation) group_error = ST_ERR_ILLEGAL_GENERATION;
        else if (gr->state == GROUP_COMPLETING_REBALANCE) group_error = ST_ERR_REBALANCE_IN_PROGRESS;
        else if (!m->join_req) group_member_touch(m);
    }

    /* Records for every valid partition, then one append. */
    group_records_t rs;
    group_records_init(&rs);
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
            /* KafkaApis answers a partition that does not exist before the
             * coordinator sees the commit, whatever the group's state. */
            if (!t->name.ptr || !st_broker_partition(b, t->name.ptr, p->partition_index)) {
                rt->partitions[k].error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
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
                             .metadata = (char *)(p->committed_metadata.len > 0 ? p->committed_metadata.ptr : ""),
                             .metadata_len = p->committed_metadata.len > 0 ? p->committed_metadata.len : 0,
                             .commit_ms = commit_time_ms(p, now)};
            group_encode_offset_key(&rs.key, gr->id, t->name.ptr ? t->name.ptr : "", p->partition_index);
            group_encode_offset_value(&rs.value, &c);
            group_records_add(&rs, false);
        }
    }
    int err = group_error ? 0 : group_records_append(g, gr->id, &rs);
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
            group_offset_put(gr, t->name.ptr ? t->name.ptr : "", p->partition_index, p->committed_offset,
                             p->committed_leader_epoch, p->committed_metadata, commit_time_ms(p, now));
        }
    }
    group_records_free(&rs);
    st_request_respond(req, resp);
    return 0;
}

/* Fills one group's offsets for the requested topics (NULL: all). */
/* The committed metadata as it was committed, NULs and all (an unknown
 * offset: empty). */
static st_str_t committed_metadata(st_request_t *req, const committed_t *c) {
    if (!c || c->metadata_len <= 0) return st_str("");
    return (st_str_t){st_arena_memdup(&req->arena, c->metadata, (size_t)c->metadata_len), c->metadata_len};
}

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
            p->metadata = committed_metadata(req, c);
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
            committed_t *c = gr && topics[i].name.ptr ? group_offset_find(gr, topics[i].name.ptr, p->partition_index) : NULL;
            p->committed_offset = c ? c->offset : -1;
            p->committed_leader_epoch = c ? c->leader_epoch : -1;
            p->metadata = committed_metadata(req, c);
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
        dg->group_state = st_str(group_state_names[gr->state]);
        dg->protocol_type = st_str(st_arena_strdup(&req->arena, gr->protocol_type ? gr->protocol_type : ""));
        dg->protocol_data = st_str(gr->state == GROUP_STABLE && gr->protocol_name
                                       ? st_arena_strdup(&req->arena, gr->protocol_name) : "");
        dg->members = st_arena_alloc(&req->arena, (size_t)(gr->member_count ? gr->member_count : 1) * sizeof *dg->members);
        dg->members_count = gr->member_count;
        int32_t k = 0;
        for (member_t *m = gr->members; m; m = m->next, k++) {
            st_describe_groups_response_described_group_member_t *dm = &dg->members[k];
            const protocol_t *p = group_member_protocol(m, gr->protocol_name);
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
                if (rq.states_filter[k].ptr && strcasecmp(rq.states_filter[k].ptr, group_state_names[gr->state]) == 0) match = true;
            bool type_match = rq.types_filter_count <= 0;
            for (int32_t k = 0; k < rq.types_filter_count && !type_match; k++)
                if (rq.types_filter[k].ptr && strcasecmp(rq.types_filter[k].ptr, "classic") == 0) type_match = true;
            if (!match || !type_match) continue;
            st_list_groups_response_listed_group_t *lg = &resp->groups[resp->groups_count++];
            lg->group_id = st_str(st_arena_strdup(&req->arena, gr->id));
            lg->protocol_type = st_str(st_arena_strdup(&req->arena, gr->protocol_type ? gr->protocol_type : ""));
            lg->group_state = st_str(group_state_names[gr->state]);
            lg->group_type = st_str("classic");
        }
    }
    st_request_respond(req, resp);
    return 0;
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
            int err = group_write_tombstones(g, gr);
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
        const protocol_t *p = group_member_protocol(m, gr->protocol_name);
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
    group_records_t rs;
    group_records_init(&rs);
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
            if (!group_offset_find(gr, topic, part)) continue;
            group_encode_offset_key(&rs.key, gr->id, topic, part);
            group_records_add(&rs, true);
        }
    }
    int err = group_records_append(g, gr->id, &rs);
    if (err) {
        resp->error_code = (int16_t)err;
    } else {
        for (int32_t i = 0; i < nt; i++)
            for (int32_t k = 0; k < resp->topics[i].partitions_count; k++)
                if (resp->topics[i].partitions[k].error_code == 0)
                    group_offset_remove(gr, rq.topics[i].name.ptr ? rq.topics[i].name.ptr : "",
                                  resp->topics[i].partitions[k].partition_index);
    }
    group_records_free(&rs);
    st_request_respond(req, resp);
    return 0;
}
