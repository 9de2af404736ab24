/* Creating, destroying and describing a Raft core. See quorum_internal.h. */
#include "raft/quorum_internal.h"

/* ------------------------------------------------------------ create */

void st_raft_config_default(st_raft_config_t *config) {
    memset(config, 0, sizeof *config);
    config->local_id = -1;
    config->election_timeout_ms = 1000;
    config->election_backoff_max_ms = 1000;
    config->fetch_timeout_ms = 2000;
    config->request_timeout_ms = 2000;
    config->retry_backoff_ms = 20;
    config->fetch_max_wait_ms = 500;
    config->fetch_max_bytes = 8 * 1024 * 1024;
    config->epoch_cache_max = ST_RAFT_EPOCH_CACHE_DEFAULT;
}

static bool timeout_ok(int32_t ms, int32_t min) { return ms >= min && ms <= ST_RAFT_TIMEOUT_MS_MAX; }

static bool config_ok(const st_raft_config_t *k) {
    if (k->local_id < 0 || k->voter_count < 1 || k->voter_count > ST_RAFT_VOTERS_MAX) return false;
    for (int32_t i = 0; i < k->voter_count; i++) {
        if (k->voters[i] < 0) return false;
        for (int32_t j = 0; j < i; j++)
            if (k->voters[j] == k->voters[i]) return false;
    }
    return timeout_ok(k->election_timeout_ms, 1) && timeout_ok(k->election_backoff_max_ms, 0) &&
           timeout_ok(k->fetch_timeout_ms, 2) && timeout_ok(k->request_timeout_ms, 2) &&
           timeout_ok(k->retry_backoff_ms, 0) && timeout_ok(k->fetch_max_wait_ms, 0) && k->fetch_max_bytes > 0 &&
           k->epoch_cache_max >= ST_RAFT_EPOCH_CACHE_MIN && k->epoch_cache_max <= ST_RAFT_EPOCH_CACHE_MAX;
}

static bool log_ok(const st_raft_log_state_t *l, int32_t cache_max) {
    if (l->log_start_offset < 0 || l->log_end_offset < l->log_start_offset || l->log_start_epoch < 0) return false;
    if (l->log_start_offset > 0 &&
        (l->latest_snapshot.epoch < 0 || l->latest_snapshot.offset < l->log_start_offset))
        return false;
    if (l->latest_snapshot.epoch >= 0 &&
        (l->latest_snapshot.offset <= 0 || l->latest_snapshot.offset > l->log_end_offset ||
         l->latest_snapshot_bytes <= 0))
        return false;
    if (l->epoch_count < 0 || l->epoch_count > cache_max || (l->epoch_count > 0 && !l->epochs)) return false;
    if (l->epoch_count == 0 && l->log_end_offset > l->log_start_offset) return false; /* records without an epoch */
    for (int32_t i = 0; i < l->epoch_count; i++) {
        if (l->epochs[i].epoch < 0 || l->epochs[i].start_offset < 0) return false;
        if (i > 0 && (l->epochs[i].epoch <= l->epochs[i - 1].epoch ||
                      l->epochs[i].start_offset < l->epochs[i - 1].start_offset))
            return false;
    }
    return l->high_watermark >= 0 && l->high_watermark <= l->log_end_offset;
}

/* Kafka's QuorumState.initialize: the state to start in. */
static void initial_state(st_raft_t *c, const st_raft_quorum_state_t *p) {
    int32_t epoch = p ? p->leader_epoch : 0;
    int32_t leader = p && raft_voter_index(c, p->leader_id) >= 0 ? p->leader_id : NO_NODE;
    int32_t voted = p && raft_voter_index(c, p->voted_id) >= 0 ? p->voted_id : NO_NODE;
    c->persisted = p ? *p : (st_raft_quorum_state_t){0, NO_NODE, NO_NODE};
    c->persist_pending = !p;
    c->election_deadline_ms = c->now_ms + raft_random_election_timeout_ms(c);
    c->fetch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms;
    c->discovering = !raft_is_voter(c);
    if (epoch < raft_last_epoch(c)) {
        /* The log saw a later epoch than the file (Kafka warns and does this). */
        c->role = ST_RAFT_UNATTACHED;
        c->epoch = raft_last_epoch(c);
        c->leader_id = c->voted_id = NO_NODE;
        c->persist_pending = true;
        return;
    }
    c->epoch = epoch;
    c->leader_id = NO_NODE;
    c->voted_id = voted;
    if (raft_is_voter(c) && leader == c->config.local_id) {
        /* A leader that restarts must not vote in its own epoch, nor write
         * a second record at an (offset, epoch) it may have written. */
        c->role = ST_RAFT_RESIGNED;
        c->leader_id = leader;
        for (int32_t i = 0, n = 0; i < c->config.voter_count; i++)
            if (i != c->local_index) c->successors[n++] = c->config.voters[i];
        c->successor_count = c->config.voter_count - 1;
    } else if (raft_is_voter(c) && voted == c->config.local_id) {
        c->role = ST_RAFT_CANDIDATE;
        c->granted_mask = raft_local_bit(c);
    } else if (voted != NO_NODE) {
        c->role = ST_RAFT_UNATTACHED;
    } else if (leader != NO_NODE) {
        c->role = ST_RAFT_FOLLOWER;
        c->leader_id = leader;
        c->fetch_target = raft_voter_index(c, leader);
        c->discovering = false;
    } else {
        c->role = ST_RAFT_UNATTACHED;
    }
    if (c->leader_id != c->persisted.leader_id || c->voted_id != c->persisted.voted_id) c->persist_pending = true;
}

int st_raft_create(const st_raft_config_t *config, const st_raft_quorum_state_t *persisted,
                   const st_raft_log_state_t *log, int64_t now_ms, st_raft_t **out) {
    *out = NULL;
    if (!config_ok(config) || !log_ok(log, config->epoch_cache_max)) return ST_ERR_INVALID_REQUEST;
    if (persisted && (persisted->leader_epoch < 0 || persisted->leader_epoch > ST_RAFT_EPOCH_MAX))
        return ST_ERR_INVALID_REQUEST;
    st_raft_t *c = calloc(1, sizeof *c);
    if (!c) return ST_ERR_NO_MEMORY;
    c->epochs = calloc((size_t)config->epoch_cache_max, sizeof *c->epochs);
    if (!c->epochs) {
        free(c);
        return ST_ERR_NO_MEMORY;
    }
    c->config = *config;
    c->local_index = raft_voter_index(c, config->local_id);
    c->majority = config->voter_count / 2 + 1;
    c->now_ms = now_ms;
    c->rng = config->random_seed;
    c->next_correlation_id = 1;
    c->log_start_offset = log->log_start_offset;
    c->log_start_epoch = log->log_start_offset == 0 ? 0 : log->log_start_epoch;
    c->log_end_offset = c->flushed_end_offset = log->log_end_offset;
    c->snapshot_id = log->latest_snapshot.epoch >= 0 ? log->latest_snapshot : (st_raft_offset_epoch_t){-1, -1};
    c->snapshot_bytes = log->latest_snapshot.epoch >= 0 ? log->latest_snapshot_bytes : 0;
    /* The cache covers [log start, log end): entries at the end have no
     * records, those below the start are folded into the first. */
    for (int32_t i = 0; i < log->epoch_count; i++)
        if (log->epochs[i].start_offset < log->log_end_offset) c->epochs[c->epoch_count++] = log->epochs[i];
    if (c->epoch_count > 0 && c->epochs[0].start_offset > c->log_start_offset) {
        free(c->epochs);
        free(c);
        return ST_ERR_INVALID_REQUEST; /* records without an epoch */
    }
    raft_epoch_cache_truncate_start(c, c->log_start_offset);
    c->high_watermark = raft_max64(log->high_watermark, c->snapshot_id.epoch >= 0 ? c->snapshot_id.offset : 0);
    c->committed = c->high_watermark;
    for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++) raft_reset_replica(&c->replicas[i], NO_NODE);
    initial_state(c, persisted);
#ifndef NDEBUG
    raft_check_core(c);
#endif
    *out = c;
    return 0;
}

void st_raft_destroy(st_raft_t *c) {
    if (!c) return;
    free(c->epochs);
    free(c);
}

/* ---------------------------------------------------------------- queries */

int64_t st_raft_next_tick_ms(const st_raft_t *c) {
    int64_t t = INT64_MAX;
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        const outbound_t *o = &c->outbound[i];
        if (o->in_flight) t = raft_min64(t, o->sent_ms + c->config.request_timeout_ms);
        else if (o->retry_at_ms > c->now_ms) t = raft_min64(t, o->retry_at_ms);
    }
    switch (c->role) {
    case ST_RAFT_UNATTACHED:
        if (raft_is_voter(c)) t = raft_min64(t, c->election_deadline_ms);
        break;
    case ST_RAFT_PROSPECTIVE:
    case ST_RAFT_RESIGNED: t = raft_min64(t, c->election_deadline_ms); break;
    case ST_RAFT_CANDIDATE: t = raft_min64(t, c->backing_off ? c->backoff_until_ms : c->election_deadline_ms); break;
    case ST_RAFT_FOLLOWER: t = raft_min64(t, c->fetch_deadline_ms); break;
    case ST_RAFT_LEADER:
        if (c->majority > 1) t = raft_min64(t, c->check_quorum_deadline_ms);
        t = raft_min64(t, c->begin_epoch_deadline_ms);
        for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++)
            if (c->replicas[i].parked.active) t = raft_min64(t, c->replicas[i].parked.deadline_ms);
        break;
    }
    return t;
}

st_raft_role_t st_raft_role(const st_raft_t *c) { return c->role; }
int32_t st_raft_epoch(const st_raft_t *c) { return c->epoch; }
int32_t st_raft_leader_id(const st_raft_t *c) { return c->leader_id; }
int32_t st_raft_voted_id(const st_raft_t *c) { return c->voted_id; }
bool st_raft_is_voter(const st_raft_t *c) { return raft_is_voter(c); }
int64_t st_raft_high_watermark(const st_raft_t *c) { return c->committed; }
int64_t st_raft_log_end_offset(const st_raft_t *c) { return c->log_end_offset; }
int64_t st_raft_log_start_offset(const st_raft_t *c) { return c->log_start_offset; }
int32_t st_raft_last_epoch(const st_raft_t *c) { return raft_last_epoch(c); }
st_raft_offset_epoch_t st_raft_latest_snapshot(const st_raft_t *c) { return c->snapshot_id; }

void st_raft_describe(const st_raft_t *c, int64_t now_ms, st_raft_description_t *out) {
    memset(out, 0, sizeof *out);
    out->leader_id = c->leader_id;
    out->leader_epoch = c->epoch;
    out->high_watermark = c->role == ST_RAFT_LEADER ? c->high_watermark : -1;
    if (c->role != ST_RAFT_LEADER) {
        out->error = ST_ERR_NOT_LEADER_OR_FOLLOWER;
        return;
    }
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        const replica_t *r = &c->replicas[i];
        st_raft_replica_description_t *d = &out->voters[out->voter_count++];
        d->replica_id = c->config.voters[i];
        if (i == c->local_index) { /* Kafka reports the leader as fetching now */
            d->log_end_offset = c->log_end_offset;
            d->last_fetch_ms = d->last_caught_up_ms = now_ms;
        } else {
            d->log_end_offset = r->end_offset;
            d->last_fetch_ms = r->last_fetch_ms;
            d->last_caught_up_ms = r->last_caught_up_ms;
        }
    }
    for (int32_t i = c->config.voter_count; i < c->config.voter_count + ST_RAFT_OBSERVERS_MAX; i++) {
        const replica_t *r = &c->replicas[i];
        if (r->id < 0) continue;
        out->observers[out->observer_count++] =
            (st_raft_replica_description_t){r->id, r->end_offset, r->last_fetch_ms, r->last_caught_up_ms};
    }
}

void st_raft_stats(const st_raft_t *c, st_raft_stats_t *out) { *out = c->stats; }

const char *st_raft_role_name(st_raft_role_t role) {
    switch (role) {
    case ST_RAFT_UNATTACHED: return "Unattached";
    case ST_RAFT_PROSPECTIVE: return "Prospective";
    case ST_RAFT_CANDIDATE: return "Candidate";
    case ST_RAFT_LEADER: return "Leader";
    case ST_RAFT_FOLLOWER: return "Follower";
    case ST_RAFT_RESIGNED: return "Resigned";
    }
    return "Unknown";
}

const char *st_raft_message_name(st_raft_message_kind_t kind) {
    switch (kind) {
    case ST_RAFT_MSG_VOTE_REQUEST: return "VoteRequest";
    case ST_RAFT_MSG_VOTE_RESPONSE: return "VoteResponse";
    case ST_RAFT_MSG_BEGIN_EPOCH_REQUEST: return "BeginQuorumEpochRequest";
    case ST_RAFT_MSG_BEGIN_EPOCH_RESPONSE: return "BeginQuorumEpochResponse";
    case ST_RAFT_MSG_END_EPOCH_REQUEST: return "EndQuorumEpochRequest";
    case ST_RAFT_MSG_END_EPOCH_RESPONSE: return "EndQuorumEpochResponse";
    case ST_RAFT_MSG_FETCH_REQUEST: return "FetchRequest";
    case ST_RAFT_MSG_FETCH_RESPONSE: return "FetchResponse";
    case ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST: return "FetchSnapshotRequest";
    case ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE: return "FetchSnapshotResponse";
    }
    return "Unknown";
}

bool st_raft_message_is_request(st_raft_message_kind_t kind) {
    return kind == ST_RAFT_MSG_VOTE_REQUEST || kind == ST_RAFT_MSG_BEGIN_EPOCH_REQUEST ||
           kind == ST_RAFT_MSG_END_EPOCH_REQUEST || kind == ST_RAFT_MSG_FETCH_REQUEST ||
           kind == ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST;
}

