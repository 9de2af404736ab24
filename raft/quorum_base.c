/* Helpers of the Raft core: randomness, the epoch cache, persisted state,
 * outbound requests and the leader's replicas. See quorum_internal.h. */
#include "raft/quorum_internal.h"

/* ------------------------------------------------------------------ helpers */

int raft_popcount32(uint32_t x) { return __builtin_popcount(x); }
int64_t raft_min64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t raft_max64(int64_t a, int64_t b) { return a > b ? a : b; }

static uint64_t rng_next(st_raft_t *c) {
    /* splitmix64: small, seedable, good enough for timeouts. */
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t rng_below(st_raft_t *c, int64_t n) { return n <= 0 ? 0 : (int64_t)(rng_next(c) % (uint64_t)n); }

/* Kafka's randomElectionTimeoutMs: [timeout, 2 * timeout). */
int64_t raft_random_election_timeout_ms(st_raft_t *c) {
    return c->config.election_timeout_ms + rng_below(c, c->config.election_timeout_ms);
}

/* Kafka's binaryExponentialElectionBackoffMs. */
int64_t raft_election_backoff_ms(st_raft_t *c) {
    int32_t retries = c->election_retries < 1 ? 1 : c->election_retries;
    int shift = retries - 1 < 20 ? retries - 1 : 20;
    int64_t backoff = ELECTION_BACKOFF_BASE_MS * rng_below(c, (int64_t)2 << shift);
    return raft_min64(backoff, c->config.election_backoff_max_ms);
}

int32_t raft_voter_index(const st_raft_t *c, int32_t id) {
    for (int32_t i = 0; i < c->config.voter_count; i++)
        if (c->config.voters[i] == id) return i;
    return -1;
}

bool raft_is_voter(const st_raft_t *c) { return c->local_index >= 0; }
uint32_t raft_local_bit(const st_raft_t *c) { return raft_is_voter(c) ? 1u << c->local_index : 0; }
uint32_t raft_all_voters_mask(const st_raft_t *c) { return (uint32_t)((1ull << c->config.voter_count) - 1); }

st_raft_action_t *raft_emit(st_raft_update_t *out, st_raft_action_kind_t kind) {
    RAFT_INVARIANT(out->count < ST_RAFT_ACTIONS_MAX);
    st_raft_action_t *a = &out->actions[out->count++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    return a;
}

int32_t raft_last_epoch(const st_raft_t *c) {
    return c->epoch_count ? c->epochs[c->epoch_count - 1].epoch : c->log_start_epoch;
}

/* (epoch, offset) order of log ends: Kafka's OffsetAndEpoch.compareTo. */
int raft_compare_log_end(int32_t epoch_a, int64_t offset_a, int32_t epoch_b, int64_t offset_b) {
    if (epoch_a != epoch_b) return epoch_a < epoch_b ? -1 : 1;
    if (offset_a != offset_b) return offset_a < offset_b ? -1 : 1;
    return 0;
}

/* ------------------------------------------------------------- epoch cache */

/* Kafka's LeaderEpochFileCache.endOffsetFor through KafkaMetadataLog: the
 * end of `epoch`'s records here, or of the largest epoch below it. */
st_raft_offset_epoch_t raft_end_offset_for_epoch(const st_raft_t *c, int32_t epoch) {
    int32_t latest = raft_last_epoch(c);
    if (epoch >= latest) return (st_raft_offset_epoch_t){c->log_end_offset, latest};
    if (c->epoch_count == 0) return (st_raft_offset_epoch_t){c->log_start_offset, c->log_start_epoch};
    /* The first entry whose epoch is above `epoch`: its start ends the floor. */
    int32_t lo = 0, hi = c->epoch_count - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (c->epochs[mid].epoch > epoch) hi = mid;
        else lo = mid + 1;
    }
    if (lo == 0) return (st_raft_offset_epoch_t){c->log_start_offset, c->log_start_epoch};
    return (st_raft_offset_epoch_t){c->epochs[lo].start_offset, c->epochs[lo - 1].epoch};
}

/* The epoch of the record at `offset` (log_start <= offset < log end). */
int32_t raft_epoch_of_offset(const st_raft_t *c, int64_t offset) {
    int32_t epoch = c->log_start_epoch;
    for (int32_t i = 0; i < c->epoch_count && c->epochs[i].start_offset <= offset; i++) epoch = c->epochs[i].epoch;
    return epoch;
}

bool raft_epoch_cache_full(const st_raft_t *c) { return c->epoch_count >= c->config.epoch_cache_max; }

/* Records from `start_offset` on are in `epoch`. Returns false when the
 * cache is full (a snapshot that moves the log start frees entries). */
bool raft_epoch_cache_assign(st_raft_t *c, int32_t epoch, int64_t start_offset) {
    if (c->epoch_count > 0) {
        st_raft_epoch_entry_t *last = &c->epochs[c->epoch_count - 1];
        if (last->epoch == epoch) return true;
        RAFT_INVARIANT(last->epoch < epoch && last->start_offset <= start_offset);
    } else {
        RAFT_INVARIANT(start_offset == c->log_start_offset);
    }
    if (raft_epoch_cache_full(c)) return false;
    c->epochs[c->epoch_count++] = (st_raft_epoch_entry_t){epoch, start_offset};
    return true;
}

void raft_epoch_cache_truncate_end(st_raft_t *c, int64_t end_offset) {
    while (c->epoch_count > 0 && c->epochs[c->epoch_count - 1].start_offset >= end_offset) c->epoch_count--;
}

/* Kafka's truncateFromStart: the entries below the new log start go, the
 * one covering it starts there. */
void raft_epoch_cache_truncate_start(st_raft_t *c, int64_t start_offset) {
    if (start_offset >= c->log_end_offset) {
        c->epoch_count = 0;
        return;
    }
    int32_t keep = 0;
    for (int32_t i = 0; i < c->epoch_count; i++)
        if (c->epochs[i].start_offset <= start_offset) keep = i;
    memmove(c->epochs, c->epochs + keep, (size_t)(c->epoch_count - keep) * sizeof *c->epochs);
    c->epoch_count -= keep;
    if (c->epoch_count > 0) c->epochs[0].start_offset = start_offset;
}

/* ------------------------------------------------------- persisted state */

void raft_persist_if_changed(st_raft_t *c, st_raft_update_t *out) {
    st_raft_quorum_state_t now = {c->epoch, c->leader_id, c->voted_id};
    if (!c->persist_pending && memcmp(&now, &c->persisted, sizeof now) == 0) return;
    st_raft_action_t *a = raft_emit(out, ST_RAFT_ACTION_PERSIST_STATE);
    a->persist = now;
    c->persisted = now;
    c->persist_pending = false;
}

/* Reports the committed offset when it grew (invariant 2). */
void raft_update_committed(st_raft_t *c, st_raft_update_t *out) {
    int64_t committed = raft_min64(c->high_watermark, c->flushed_end_offset);
    if (committed <= c->committed) return;
    c->committed = committed;
    raft_emit(out, ST_RAFT_ACTION_COMMITTED)->high_watermark = committed;
}

/* ----------------------------------------------------------- outbound */

int32_t raft_next_correlation_id(st_raft_t *c) {
    int32_t id = c->next_correlation_id;
    c->next_correlation_id = id == INT32_MAX ? 1 : id + 1;
    return id;
}

bool raft_can_send(const st_raft_t *c, int32_t vidx) {
    const outbound_t *o = &c->outbound[vidx];
    return !o->in_flight && c->now_ms >= o->retry_at_ms;
}

st_raft_message_t *raft_send_request(st_raft_t *c, st_raft_update_t *out, int32_t vidx,
                                       st_raft_message_kind_t kind) {
    outbound_t *o = &c->outbound[vidx];
    RAFT_INVARIANT(!o->in_flight && vidx != c->local_index);
    st_raft_action_t *a = raft_emit(out, ST_RAFT_ACTION_SEND);
    a->send.node = c->config.voters[vidx];
    a->send.message.kind = kind;
    a->send.message.correlation_id = raft_next_correlation_id(c);
    *o = (outbound_t){.in_flight = true, .kind = kind, .correlation_id = a->send.message.correlation_id,
                      .sent_ms = c->now_ms, .retry_at_ms = c->now_ms};
    return &a->send.message;
}

/* A new state starts new conversations: no request is awaited, and the
 * previous state's backoffs do not delay the first ones. */
void raft_forget_requests(st_raft_t *c) {
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        c->outbound[i].in_flight = false;
        c->outbound[i].retry_at_ms = 0;
    }
}

static st_raft_message_kind_t request_kind_of(st_raft_message_kind_t response) {
    return (st_raft_message_kind_t)(response - 1);
}

/* True when `m` answers our request in flight to `from` (which it then no
 * longer is). `pre_vote` gets the request's flag. */
bool raft_take_response(st_raft_t *c, int32_t from, const st_raft_message_t *m, bool *pre_vote) {
    int32_t vidx = raft_voter_index(c, from);
    if (vidx < 0) return false;
    outbound_t *o = &c->outbound[vidx];
    if (!o->in_flight || o->correlation_id != m->correlation_id || o->kind != request_kind_of(m->kind)) return false;
    o->in_flight = false;
    if (pre_vote) *pre_vote = o->pre_vote;
    return true;
}

void raft_back_off_requests_to(st_raft_t *c, int32_t vidx) {
    if (vidx >= 0) c->outbound[vidx].retry_at_ms = c->now_ms + c->config.retry_backoff_ms;
}

st_raft_message_t *raft_reply(st_raft_update_t *out, st_raft_action_kind_t kind, int32_t to,
                                int32_t correlation_id, st_raft_message_kind_t message_kind) {
    st_raft_action_t *a = raft_emit(out, kind);
    a->send.node = to;
    a->send.message.kind = message_kind;
    a->send.message.correlation_id = correlation_id;
    return &a->send.message;
}

/* ---------------------------------------------------------- leader replicas */

replica_t *raft_voter_replica(st_raft_t *c, int32_t vidx) { return &c->replicas[vidx]; }

void raft_reset_replica(replica_t *r, int32_t id) {
    *r = (replica_t){.id = id, .end_offset = -1, .last_fetch_ms = -1, .last_caught_up_ms = -1,
                     .last_fetch_leader_end_offset = -1};
}

void raft_fill_fetch_response(const st_raft_t *c, st_raft_fetch_response_t *r, int16_t error) {
    r->error = error;
    r->leader_id = c->leader_id;
    r->leader_epoch = c->epoch;
    r->high_watermark = c->role == ST_RAFT_LEADER ? c->high_watermark : -1;
    r->log_start_offset = c->log_start_offset;
    r->diverging_epoch = (st_raft_offset_epoch_t){-1, -1};
    r->snapshot_id = (st_raft_offset_epoch_t){-1, -1};
    r->read_from_offset = -1;
    r->read_end_offset = -1;
}

/* Answers a parked (or a just validated) fetch: records from fetch_offset
 * if there are any, else an empty response with the high watermark. */
void raft_answer_fetch(st_raft_t *c, st_raft_update_t *out, int32_t to, int32_t correlation_id,
                         int64_t fetch_offset, int32_t max_bytes) {
    bool records = fetch_offset < c->log_end_offset;
    st_raft_message_t *m = raft_reply(out, records ? ST_RAFT_ACTION_READ_LOG : ST_RAFT_ACTION_SEND, to, correlation_id,
                                 ST_RAFT_MSG_FETCH_RESPONSE);
    raft_fill_fetch_response(c, &m->fetch_response, ST_ERR_NONE);
    if (records) {
        m->fetch_response.read_from_offset = fetch_offset;
        m->fetch_response.read_end_offset = c->log_end_offset;
        m->fetch_response.read_max_bytes = max_bytes;
    }
}

void raft_answer_parked(st_raft_t *c, st_raft_update_t *out, replica_t *r) {
    if (!r->parked.active) return;
    r->parked.active = false;
    raft_answer_fetch(c, out, r->id, r->parked.correlation_id, r->parked.fetch_offset, r->parked.max_bytes);
}

/* When the leader stops leading, the fetches it holds get an error that
 * tells their senders what happened. */
void raft_release_parked_with_error(st_raft_t *c, st_raft_update_t *out, int16_t error) {
    for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++) {
        replica_t *r = &c->replicas[i];
        if (!r->parked.active) continue;
        r->parked.active = false;
        st_raft_message_t *m = raft_reply(out, ST_RAFT_ACTION_SEND, r->id, r->parked.correlation_id,
                                     ST_RAFT_MSG_FETCH_RESPONSE);
        raft_fill_fetch_response(c, &m->fetch_response, error);
    }
}

/* The replica state for `id` (a voter, or an observer slot, taking the
 * least recently fetching one when all are used). */
replica_t *raft_replica_for(st_raft_t *c, st_raft_update_t *out, int32_t id) {
    int32_t vidx = raft_voter_index(c, id);
    if (vidx >= 0) return raft_voter_replica(c, vidx);
    replica_t *free_slot = NULL, *oldest = NULL;
    for (int32_t i = c->config.voter_count; i < c->config.voter_count + ST_RAFT_OBSERVERS_MAX; i++) {
        replica_t *r = &c->replicas[i];
        if (r->id == id) return r;
        if (r->id < 0) {
            if (!free_slot) free_slot = r;
        } else if (!oldest || r->last_fetch_ms < oldest->last_fetch_ms) {
            oldest = r;
        }
    }
    replica_t *r = free_slot ? free_slot : oldest;
    raft_answer_parked(c, out, r);
    raft_reset_replica(r, id);
    return r;
}

