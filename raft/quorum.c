/*
 * The metadata quorum's Raft core (raft/quorum.h has the contract and the
 * state diagram). Behaviour follows Kafka's KafkaRaftClient, QuorumState and
 * the EpochState classes (KIP-595, KIP-996 for pre-vote, KIP-630 for
 * snapshots); the code is Strata's.
 *
 * Invariants of the whole core (checked where they could break; a
 * violation aborts, since it means the core's own state is corrupt):
 *  1. epoch never decreases; voted_id is reset only when epoch increases,
 *     so a voter votes at most once per epoch, and the vote is in `out`
 *     (PERSIST_STATE) before the response that grants it.
 *  2. 0 <= log_start_offset <= flushed_end_offset <= log_end_offset;
 *     committed (what COMMITTED said) only grows and is below both
 *     high_watermark and flushed_end_offset: applied means durable here.
 *  3. high_watermark never decreases and is never truncated below: entries
 *     under it are committed on a majority.
 *  4. The epoch cache has strictly increasing epochs, start offsets in
 *     [log_start_offset, log_end_offset), the first one at log_start_offset;
 *     the last epoch is <= epoch.
 *  5. log_start_offset > 0 implies a snapshot whose end offset is >= it.
 *  6. At most one request of ours is in flight per voter; a response counts
 *     only if it carries that request's correlation id, and every state
 *     change forgets the requests in flight (their answers are stale).
 *  7. Claims about the local log (a Fetch offset, a Vote's last offset, the
 *     leader's own end offset in the high watermark) use durable offsets.
 */
#include "raft/quorum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"

#define NO_NODE (-1)
/* Kafka: the leader resigns after 1.5 fetch timeouts without fetches from
 * a majority (LeaderState's check-quorum timer). */
#define CHECK_QUORUM_FACTOR_NUM 3
#define CHECK_QUORUM_FACTOR_DEN 2
/* KafkaRaftClient's RETRY_BACKOFF_BASE_MS for election backoff. */
#define ELECTION_BACKOFF_BASE_MS 50
/* poll() follows transitions that need no event (a single voter goes
 * unattached -> prospective -> candidate -> leader at once). */
#define POLL_TRANSITIONS_MAX 8

static void invariant_failed(const char *what, const char *file, int line) {
    fprintf(stderr, "raft: invariant failed: %s (%s:%d)\n", what, file, line);
    abort();
}
#define RAFT_INVARIANT(cond) ((cond) ? (void)0 : invariant_failed(#cond, __FILE__, __LINE__))

typedef enum offset_check {
    OFFSET_VALID,
    OFFSET_DIVERGING,
    OFFSET_SNAPSHOT,
} offset_check_t;

/* A Fetch the leader holds until there is something new (Kafka's fetch
 * purgatory), at most one per replica. */
typedef struct parked_fetch {
    bool active;
    int32_t correlation_id;
    int64_t fetch_offset;
    int32_t max_bytes;
    int64_t deadline_ms;
    int64_t high_watermark_seen;
} parked_fetch_t;

/* The leader's view of one replica (Kafka's LeaderState.ReplicaState). */
typedef struct replica {
    int32_t id; /* observer slots: -1 when free */
    int64_t end_offset;
    int64_t last_fetch_ms;
    int64_t last_caught_up_ms;
    int64_t last_fetch_leader_end_offset;
    parked_fetch_t parked;
} replica_t;

/* Our request to one voter (Kafka's RequestManager, one per destination). */
typedef struct outbound {
    bool in_flight;
    st_raft_message_kind_t kind;
    int32_t correlation_id;
    bool pre_vote;
    int64_t sent_ms;
    int64_t retry_at_ms;
} outbound_t;

struct st_raft {
    st_raft_config_t config;
    int32_t local_index; /* in config.voters; -1: an observer */
    int32_t majority;

    st_raft_role_t role;
    int32_t epoch;
    int32_t leader_id;
    int32_t voted_id;
    st_raft_quorum_state_t persisted;
    bool persist_pending;

    int64_t now_ms;
    uint64_t rng;

    /* The log, as far as Raft needs it. */
    int64_t log_start_offset;
    int32_t log_start_epoch;
    int64_t log_end_offset;
    int64_t flushed_end_offset;
    st_raft_epoch_entry_t *epochs;
    int32_t epoch_count;
    st_raft_offset_epoch_t snapshot_id;
    int64_t snapshot_bytes;
    int64_t high_watermark;
    int64_t committed;

    /* Unattached, prospective, candidate, resigned. */
    int64_t election_deadline_ms;
    bool backing_off;
    int64_t backoff_until_ms;
    int32_t election_retries;
    uint32_t granted_mask;
    uint32_t rejected_mask;

    /* Follower (and observers). */
    int64_t fetch_deadline_ms;
    bool fetched_from_leader;
    int32_t fetch_target; /* voter index an observer asks while it looks for the leader */
    bool discovering;
    bool fetching_snapshot;
    st_raft_offset_epoch_t fetching_snapshot_id;
    int64_t fetching_snapshot_position;

    /* Leader. */
    int64_t epoch_start_offset;
    int64_t check_quorum_deadline_ms;
    uint32_t check_quorum_mask;
    int64_t begin_epoch_deadline_ms;
    uint32_t begin_epoch_pending_mask;
    replica_t replicas[ST_RAFT_REPLICAS_MAX]; /* voters by index, then observers */

    /* Resigned. */
    uint32_t end_epoch_acked_mask;
    int32_t successors[ST_RAFT_VOTERS_MAX];
    int32_t successor_count;

    outbound_t outbound[ST_RAFT_VOTERS_MAX];
    int32_t next_correlation_id;

    st_raft_stats_t stats;
};

/* ------------------------------------------------------------------ helpers */

static int popcount32(uint32_t x) { return __builtin_popcount(x); }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static uint64_t rng_next(st_raft_t *c) {
    /* splitmix64: small, seedable, good enough for timeouts. */
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t rng_below(st_raft_t *c, int64_t n) { return n <= 0 ? 0 : (int64_t)(rng_next(c) % (uint64_t)n); }

/* Kafka's randomElectionTimeoutMs: [timeout, 2 * timeout). */
static int64_t random_election_timeout_ms(st_raft_t *c) {
    return c->config.election_timeout_ms + rng_below(c, c->config.election_timeout_ms);
}

/* Kafka's binaryExponentialElectionBackoffMs. */
static int64_t election_backoff_ms(st_raft_t *c) {
    int32_t retries = c->election_retries < 1 ? 1 : c->election_retries;
    int shift = retries - 1 < 20 ? retries - 1 : 20;
    int64_t backoff = ELECTION_BACKOFF_BASE_MS * rng_below(c, (int64_t)2 << shift);
    return min64(backoff, c->config.election_backoff_max_ms);
}

static int32_t voter_index(const st_raft_t *c, int32_t id) {
    for (int32_t i = 0; i < c->config.voter_count; i++)
        if (c->config.voters[i] == id) return i;
    return -1;
}

static bool is_voter(const st_raft_t *c) { return c->local_index >= 0; }
static uint32_t local_bit(const st_raft_t *c) { return is_voter(c) ? 1u << c->local_index : 0; }
static uint32_t all_voters_mask(const st_raft_t *c) { return (uint32_t)((1ull << c->config.voter_count) - 1); }

static st_raft_action_t *emit(st_raft_update_t *out, st_raft_action_kind_t kind) {
    RAFT_INVARIANT(out->count < ST_RAFT_ACTIONS_MAX);
    st_raft_action_t *a = &out->actions[out->count++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    return a;
}

static int32_t last_epoch(const st_raft_t *c) {
    return c->epoch_count ? c->epochs[c->epoch_count - 1].epoch : c->log_start_epoch;
}

/* (epoch, offset) order of log ends: Kafka's OffsetAndEpoch.compareTo. */
static int compare_log_end(int32_t epoch_a, int64_t offset_a, int32_t epoch_b, int64_t offset_b) {
    if (epoch_a != epoch_b) return epoch_a < epoch_b ? -1 : 1;
    if (offset_a != offset_b) return offset_a < offset_b ? -1 : 1;
    return 0;
}

/* ------------------------------------------------------------- epoch cache */

/* Kafka's LeaderEpochFileCache.endOffsetFor through KafkaMetadataLog: the
 * end of `epoch`'s records here, or of the largest epoch below it. */
static st_raft_offset_epoch_t end_offset_for_epoch(const st_raft_t *c, int32_t epoch) {
    int32_t latest = last_epoch(c);
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
static int32_t epoch_of_offset(const st_raft_t *c, int64_t offset) {
    int32_t epoch = c->log_start_epoch;
    for (int32_t i = 0; i < c->epoch_count && c->epochs[i].start_offset <= offset; i++) epoch = c->epochs[i].epoch;
    return epoch;
}

static bool epoch_cache_full(const st_raft_t *c) { return c->epoch_count >= c->config.epoch_cache_max; }

/* Records from `start_offset` on are in `epoch`. Returns false when the
 * cache is full (a snapshot that moves the log start frees entries). */
static bool epoch_cache_assign(st_raft_t *c, int32_t epoch, int64_t start_offset) {
    if (c->epoch_count > 0) {
        st_raft_epoch_entry_t *last = &c->epochs[c->epoch_count - 1];
        if (last->epoch == epoch) return true;
        RAFT_INVARIANT(last->epoch < epoch && last->start_offset <= start_offset);
    } else {
        RAFT_INVARIANT(start_offset == c->log_start_offset);
    }
    if (epoch_cache_full(c)) return false;
    c->epochs[c->epoch_count++] = (st_raft_epoch_entry_t){epoch, start_offset};
    return true;
}

static void epoch_cache_truncate_end(st_raft_t *c, int64_t end_offset) {
    while (c->epoch_count > 0 && c->epochs[c->epoch_count - 1].start_offset >= end_offset) c->epoch_count--;
}

/* Kafka's truncateFromStart: the entries below the new log start go, the
 * one covering it starts there. */
static void epoch_cache_truncate_start(st_raft_t *c, int64_t start_offset) {
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

static void persist_if_changed(st_raft_t *c, st_raft_update_t *out) {
    st_raft_quorum_state_t now = {c->epoch, c->leader_id, c->voted_id};
    if (!c->persist_pending && memcmp(&now, &c->persisted, sizeof now) == 0) return;
    st_raft_action_t *a = emit(out, ST_RAFT_ACTION_PERSIST_STATE);
    a->persist = now;
    c->persisted = now;
    c->persist_pending = false;
}

/* Reports the committed offset when it grew (invariant 2). */
static void update_committed(st_raft_t *c, st_raft_update_t *out) {
    int64_t committed = min64(c->high_watermark, c->flushed_end_offset);
    if (committed <= c->committed) return;
    c->committed = committed;
    emit(out, ST_RAFT_ACTION_COMMITTED)->high_watermark = committed;
}

/* ----------------------------------------------------------- outbound */

static int32_t next_correlation_id(st_raft_t *c) {
    int32_t id = c->next_correlation_id;
    c->next_correlation_id = id == INT32_MAX ? 1 : id + 1;
    return id;
}

static bool can_send(const st_raft_t *c, int32_t vidx) {
    const outbound_t *o = &c->outbound[vidx];
    return !o->in_flight && c->now_ms >= o->retry_at_ms;
}

static st_raft_message_t *send_request(st_raft_t *c, st_raft_update_t *out, int32_t vidx,
                                       st_raft_message_kind_t kind) {
    outbound_t *o = &c->outbound[vidx];
    RAFT_INVARIANT(!o->in_flight && vidx != c->local_index);
    st_raft_action_t *a = emit(out, ST_RAFT_ACTION_SEND);
    a->send.node = c->config.voters[vidx];
    a->send.message.kind = kind;
    a->send.message.correlation_id = next_correlation_id(c);
    *o = (outbound_t){.in_flight = true, .kind = kind, .correlation_id = a->send.message.correlation_id,
                      .sent_ms = c->now_ms, .retry_at_ms = c->now_ms};
    return &a->send.message;
}

/* A new state starts new conversations: no request is awaited, and the
 * previous state's backoffs do not delay the first ones. */
static void forget_requests(st_raft_t *c) {
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
static bool take_response(st_raft_t *c, int32_t from, const st_raft_message_t *m, bool *pre_vote) {
    int32_t vidx = voter_index(c, from);
    if (vidx < 0) return false;
    outbound_t *o = &c->outbound[vidx];
    if (!o->in_flight || o->correlation_id != m->correlation_id || o->kind != request_kind_of(m->kind)) return false;
    o->in_flight = false;
    if (pre_vote) *pre_vote = o->pre_vote;
    return true;
}

static void back_off_requests_to(st_raft_t *c, int32_t vidx) {
    if (vidx >= 0) c->outbound[vidx].retry_at_ms = c->now_ms + c->config.retry_backoff_ms;
}

static st_raft_message_t *reply(st_raft_update_t *out, st_raft_action_kind_t kind, int32_t to,
                                int32_t correlation_id, st_raft_message_kind_t message_kind) {
    st_raft_action_t *a = emit(out, kind);
    a->send.node = to;
    a->send.message.kind = message_kind;
    a->send.message.correlation_id = correlation_id;
    return &a->send.message;
}

/* ---------------------------------------------------------- leader replicas */

static replica_t *voter_replica(st_raft_t *c, int32_t vidx) { return &c->replicas[vidx]; }

static void reset_replica(replica_t *r, int32_t id) {
    *r = (replica_t){.id = id, .end_offset = -1, .last_fetch_ms = -1, .last_caught_up_ms = -1,
                     .last_fetch_leader_end_offset = -1};
}

static void fill_fetch_response(const st_raft_t *c, st_raft_fetch_response_t *r, int16_t error) {
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
static void answer_fetch(st_raft_t *c, st_raft_update_t *out, int32_t to, int32_t correlation_id,
                         int64_t fetch_offset, int32_t max_bytes) {
    bool records = fetch_offset < c->log_end_offset;
    st_raft_message_t *m = reply(out, records ? ST_RAFT_ACTION_READ_LOG : ST_RAFT_ACTION_SEND, to, correlation_id,
                                 ST_RAFT_MSG_FETCH_RESPONSE);
    fill_fetch_response(c, &m->fetch_response, ST_ERR_NONE);
    if (records) {
        m->fetch_response.read_from_offset = fetch_offset;
        m->fetch_response.read_end_offset = c->log_end_offset;
        m->fetch_response.read_max_bytes = max_bytes;
    }
}

static void answer_parked(st_raft_t *c, st_raft_update_t *out, replica_t *r) {
    if (!r->parked.active) return;
    r->parked.active = false;
    answer_fetch(c, out, r->id, r->parked.correlation_id, r->parked.fetch_offset, r->parked.max_bytes);
}

/* When the leader stops leading, the fetches it holds get an error that
 * tells their senders what happened. */
static void release_parked_with_error(st_raft_t *c, st_raft_update_t *out, int16_t error) {
    for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++) {
        replica_t *r = &c->replicas[i];
        if (!r->parked.active) continue;
        r->parked.active = false;
        st_raft_message_t *m = reply(out, ST_RAFT_ACTION_SEND, r->id, r->parked.correlation_id,
                                     ST_RAFT_MSG_FETCH_RESPONSE);
        fill_fetch_response(c, &m->fetch_response, error);
    }
}

/* The replica state for `id` (a voter, or an observer slot, taking the
 * least recently fetching one when all are used). */
static replica_t *replica_for(st_raft_t *c, st_raft_update_t *out, int32_t id) {
    int32_t vidx = voter_index(c, id);
    if (vidx >= 0) return voter_replica(c, vidx);
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
    answer_parked(c, out, r);
    reset_replica(r, id);
    return r;
}

/* ---------------------------------------------------------- state changes */

static void set_leader_action(st_raft_action_t *a, int32_t epoch, int32_t leader_id) {
    a->leader.epoch = epoch;
    a->leader.leader_id = leader_id;
}

/* Every state change goes through here: it persists what changed, ends
 * what the old state held (parked fetches, requests in flight) and tells
 * the controller about a new leader or epoch. */
static void transition(st_raft_t *c, st_raft_update_t *out, st_raft_role_t role, int32_t epoch, int32_t leader_id,
                       int32_t voted_id) {
    RAFT_INVARIANT(epoch >= c->epoch);
    RAFT_INVARIANT(epoch > c->epoch || voted_id == c->voted_id || c->voted_id == NO_NODE);
    st_raft_role_t old_role = c->role;
    int32_t old_epoch = c->epoch, old_leader = c->leader_id;
    c->role = role;
    c->epoch = epoch;
    c->leader_id = leader_id;
    c->voted_id = voted_id;
    persist_if_changed(c, out);
    if (old_role == ST_RAFT_LEADER)
        release_parked_with_error(c, out, epoch > old_epoch ? ST_ERR_FENCED_LEADER_EPOCH : ST_ERR_NOT_LEADER_OR_FOLLOWER);
    forget_requests(c);
    c->granted_mask = c->rejected_mask = 0;
    c->backing_off = false;
    c->fetching_snapshot = false;
    c->discovering = false;
    if (role == ST_RAFT_LEADER || role == ST_RAFT_RESIGNED) return; /* their own actions say it */
    st_raft_action_t *a = NULL;
    if (leader_id >= 0 && leader_id != c->config.local_id && (leader_id != old_leader || epoch != old_epoch))
        a = emit(out, ST_RAFT_ACTION_BECAME_FOLLOWER);
    else if (leader_id < 0 && (epoch != old_epoch || old_leader >= 0))
        a = emit(out, ST_RAFT_ACTION_LEADER_UNKNOWN);
    if (a) set_leader_action(a, epoch, leader_id);
}

/*
 * UNATTACHED: the epoch is known, no leader is followed. A voter waits out
 * a randomised election timeout, then asks for pre-votes; an observer asks
 * the voters in turn with Fetch until one names the leader.
 *  - voted_id, when set, is this epoch's vote, durable.
 *  - leader_id is -1, or this node when it led the epoch (it resigned and
 *    lost a pre-vote since): kept, and persisted, so that a restart comes
 *    back resigned and never campaigns again in an epoch it led.
 */
static void to_unattached(st_raft_t *c, st_raft_update_t *out, int32_t epoch) {
    RAFT_INVARIANT(epoch > c->epoch || (epoch == c->epoch && c->role == ST_RAFT_PROSPECTIVE));
    bool same = epoch == c->epoch;
    transition(c, out, ST_RAFT_UNATTACHED, epoch, same && c->leader_id == c->config.local_id ? c->leader_id : NO_NODE,
               same ? c->voted_id : NO_NODE);
    c->election_deadline_ms = c->now_ms + random_election_timeout_ms(c);
    c->discovering = !is_voter(c);
}

/*
 * FOLLOWER: leader_id leads the epoch; the follower fetches from it, one
 * Fetch at a time, only when its log is durable (invariant 7), and
 * becomes prospective when no fetch succeeded for fetch_timeout_ms.
 *  - fetched_from_leader: a fetch succeeded in this state; until then (or
 *    after the leader's EndQuorumEpoch) pre-votes are granted.
 *  - fetching_snapshot: the leader sent a snapshot id; FetchSnapshot
 *    replaces Fetch until the snapshot is whole.
 */
static void to_follower(st_raft_t *c, st_raft_update_t *out, int32_t epoch, int32_t leader_id) {
    RAFT_INVARIANT(leader_id >= 0 && leader_id != c->config.local_id && voter_index(c, leader_id) >= 0);
    transition(c, out, ST_RAFT_FOLLOWER, epoch, leader_id, epoch == c->epoch ? c->voted_id : NO_NODE);
    c->fetch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms;
    c->fetched_from_leader = false;
    c->fetch_target = voter_index(c, leader_id);
    c->election_retries = 0;
}

/*
 * PROSPECTIVE (KIP-996): a voter that lost its leader asks the others
 * whether they would vote for it, in the same epoch, changing nothing
 * durable. A majority of pre-votes makes it a candidate; losing (a
 * majority rejects, or the election timeout passes) sends it back to
 * following the leader it knew, or to unattached.
 *  - leader_id is the leader it last knew in this epoch (itself, coming
 *    from RESIGNED), or -1. An epoch's leader never changes, so it is kept.
 */
static void to_prospective(st_raft_t *c, st_raft_update_t *out) {
    RAFT_INVARIANT(is_voter(c) && c->role != ST_RAFT_LEADER && c->role != ST_RAFT_PROSPECTIVE);
    transition(c, out, ST_RAFT_PROSPECTIVE, c->epoch, c->leader_id, c->voted_id);
    c->granted_mask = local_bit(c);
    c->election_deadline_ms = c->now_ms + random_election_timeout_ms(c);
}

static void prospective_lost(st_raft_t *c, st_raft_update_t *out) {
    if (c->leader_id >= 0 && c->leader_id != c->config.local_id) to_follower(c, out, c->epoch, c->leader_id);
    else to_unattached(c, out, c->epoch);
}

/*
 * CANDIDATE: epoch + 1, voted for itself (durable before any Vote goes
 * out). A majority of votes makes it leader; a majority of rejections or
 * the election timeout backs it off, then it is prospective again.
 */
static void to_candidate(st_raft_t *c, st_raft_update_t *out) {
    RAFT_INVARIANT(is_voter(c) && c->role == ST_RAFT_PROSPECTIVE);
    c->stats.elections++;
    c->election_retries++;
    transition(c, out, ST_RAFT_CANDIDATE, c->epoch + 1, NO_NODE, c->config.local_id);
    c->granted_mask = local_bit(c);
    c->election_deadline_ms = c->now_ms + random_election_timeout_ms(c);
}

static void advance_high_watermark(st_raft_t *c, st_raft_update_t *out);

/*
 * LEADER: leads the epoch. Its first record is a LEADER_CHANGE control
 * record at epoch_start_offset; the high watermark moves only to offsets
 * above it (so only an entry of its own epoch commits earlier ones, Raft
 * §5.4.2), to the largest offset that a majority of voters have durably.
 *  - replicas[] hold each voter's and observer's last fetch; a replica
 *    has at most one parked fetch.
 *  - a majority must fetch every 1.5 fetch timeouts (check quorum), or it
 *    resigns.
 */
static void to_leader(st_raft_t *c, st_raft_update_t *out) {
    RAFT_INVARIANT(c->role == ST_RAFT_CANDIDATE && popcount32(c->granted_mask) >= c->majority);
    uint32_t granting = c->granted_mask;
    transition(c, out, ST_RAFT_LEADER, c->epoch, c->config.local_id, c->voted_id);
    c->election_retries = 0;
    for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++)
        reset_replica(&c->replicas[i], i < c->config.voter_count ? c->config.voters[i] : NO_NODE);
    c->epoch_start_offset = c->log_end_offset;
    c->check_quorum_mask = 0;
    c->check_quorum_deadline_ms =
        c->now_ms + (int64_t)c->config.fetch_timeout_ms * CHECK_QUORUM_FACTOR_NUM / CHECK_QUORUM_FACTOR_DEN;
    c->begin_epoch_pending_mask = all_voters_mask(c) & ~local_bit(c);
    c->begin_epoch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms / 2;
    /* poll_prospective checked that the cache has room for this epoch. */
    bool assigned = epoch_cache_assign(c, c->epoch, c->log_end_offset);
    RAFT_INVARIANT(assigned);
    st_raft_action_t *a = emit(out, ST_RAFT_ACTION_APPEND);
    a->append = (st_raft_append_t){.source = ST_RAFT_APPEND_LEADER_CHANGE, .base_offset = c->log_end_offset,
                                   .end_offset = c->log_end_offset + 1, .epoch = c->epoch,
                                   .leader_change = {c->config.local_id, all_voters_mask(c), granting}};
    c->log_end_offset++;
    set_leader_action(emit(out, ST_RAFT_ACTION_BECAME_LEADER), c->epoch, c->config.local_id);
    advance_high_watermark(c, out);
}

/*
 * RESIGNED: was leader of the epoch and stopped (RESIGN, or check quorum
 * failed). It sends EndQuorumEpoch with the most caught-up voters first
 * until each voter acknowledged, answers fetches with
 * NOT_LEADER_OR_FOLLOWER, grants pre-votes but no votes in its epoch, and
 * after an election timeout becomes prospective itself. Not persisted:
 * a leader that restarts comes back resigned (Kafka's QuorumState).
 */
static void to_resigned(st_raft_t *c, st_raft_update_t *out) {
    RAFT_INVARIANT(c->role == ST_RAFT_LEADER);
    /* Other voters by fetched offset, most caught up first. */
    c->successor_count = 0;
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        if (i == c->local_index) continue;
        int32_t at = c->successor_count++;
        int64_t end = voter_replica(c, i)->end_offset;
        while (at > 0 && voter_replica(c, voter_index(c, c->successors[at - 1]))->end_offset < end) {
            c->successors[at] = c->successors[at - 1];
            at--;
        }
        c->successors[at] = c->config.voters[i];
    }
    transition(c, out, ST_RAFT_RESIGNED, c->epoch, c->config.local_id, c->voted_id);
    c->end_epoch_acked_mask = 0;
    c->election_deadline_ms = c->now_ms + random_election_timeout_ms(c);
    set_leader_action(emit(out, ST_RAFT_ACTION_RESIGNED), c->epoch, c->config.local_id);
}

/* Kafka's maybeTransition: a request or response named (leader, epoch). */
static void learn_leader(st_raft_t *c, st_raft_update_t *out, int32_t leader_id, int32_t epoch) {
    if (leader_id >= 0 && voter_index(c, leader_id) < 0) {
        c->stats.rejected_responses++; /* a leader outside the voter set */
        return;
    }
    if (leader_id == c->config.local_id) {
        /* Only we can say that we lead; someone repeats our own epoch back
         * to us (harmless) or is confused (ignored). */
        return;
    }
    if (epoch > c->epoch) {
        if (leader_id >= 0) to_follower(c, out, epoch, leader_id);
        else to_unattached(c, out, epoch);
    } else if (epoch == c->epoch && leader_id >= 0 && c->leader_id != leader_id) {
        if (c->leader_id < 0 && c->role != ST_RAFT_LEADER) to_follower(c, out, epoch, leader_id);
        else c->stats.rejected_responses++; /* two leaders in one epoch: never follow the second */
    }
}

/* Kafka's maybeHandleCommonResponse. True when the response needs nothing
 * more. */
static bool handle_common_response(st_raft_t *c, st_raft_update_t *out, int32_t from, int16_t error, int32_t leader_id,
                                   int32_t epoch) {
    if (epoch < c->epoch || error == ST_ERR_UNKNOWN_LEADER_EPOCH) return true;
    if (epoch > ST_RAFT_EPOCH_MAX) {
        c->stats.rejected_responses++;
        return true;
    }
    if (epoch > c->epoch || error == ST_ERR_FENCED_LEADER_EPOCH || error == ST_ERR_NOT_LEADER_OR_FOLLOWER) {
        learn_leader(c, out, leader_id, epoch);
        if (error != ST_ERR_NONE) back_off_requests_to(c, voter_index(c, from));
        return true;
    }
    if (leader_id >= 0 && c->leader_id < 0 && c->role != ST_RAFT_LEADER) {
        learn_leader(c, out, leader_id, epoch);
        return error != ST_ERR_NONE || c->role != ST_RAFT_FOLLOWER;
    }
    if (error != ST_ERR_NONE) {
        back_off_requests_to(c, voter_index(c, from));
        c->stats.rejected_responses++;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------ elections */

/* The vote a state may give (Kafka's EpochState.canGrantVote and
 * canGrantPreVote). Real votes: at most one per epoch, given only while
 * unattached (where it is recorded durably) or repeated to the same
 * candidate. */
static bool can_grant(const st_raft_t *c, int32_t candidate, bool log_up_to_date, bool pre_vote) {
#ifdef ST_RAFT_TEST_DOUBLE_VOTE
    /* Test-only, never in a build of Strata: a broken core that votes for
     * every up-to-date candidate, so tests/sim can show its checker fail. */
    if (!pre_vote && log_up_to_date && c->role != ST_RAFT_LEADER) return true;
#endif
    switch (c->role) {
    case ST_RAFT_UNATTACHED:
        if (pre_vote) return log_up_to_date;
        return c->voted_id == NO_NODE ? log_up_to_date : c->voted_id == candidate;
    case ST_RAFT_PROSPECTIVE:
        return pre_vote ? log_up_to_date : c->voted_id == candidate;
    case ST_RAFT_CANDIDATE:
    case ST_RAFT_RESIGNED:
        return pre_vote && log_up_to_date;
    case ST_RAFT_FOLLOWER:
        /* A follower that hears from its leader does not help replace it. */
        return pre_vote && log_up_to_date && !c->fetched_from_leader;
    case ST_RAFT_LEADER:
        return false;
    }
    return false;
}

static void handle_vote_request(st_raft_t *c, st_raft_update_t *out, const st_raft_message_t *m) {
    const st_raft_vote_request_t *r = &m->vote_request;
    int16_t error = ST_ERR_NONE;
    bool granted = false;
    bool illegal_epoch = r->pre_vote ? r->last_offset_epoch > r->candidate_epoch
                                     : r->last_offset_epoch >= r->candidate_epoch;
    if (voter_index(c, r->candidate_id) < 0) {
        error = ST_ERR_INCONSISTENT_VOTER_SET;
    } else if (r->candidate_id == c->config.local_id || r->last_offset < 0 || r->last_offset_epoch < 0 ||
               r->candidate_epoch < 0 || r->candidate_epoch > ST_RAFT_EPOCH_MAX || illegal_epoch) {
        error = ST_ERR_INVALID_REQUEST;
    } else if (r->candidate_epoch < c->epoch) {
        error = ST_ERR_FENCED_LEADER_EPOCH;
    } else {
        if (r->candidate_epoch > c->epoch) to_unattached(c, out, r->candidate_epoch);
        if (is_voter(c)) {
            bool up_to_date = compare_log_end(r->last_offset_epoch, r->last_offset, last_epoch(c),
                                              c->log_end_offset) >= 0;
            granted = can_grant(c, r->candidate_id, up_to_date, r->pre_vote);
            if (granted && !r->pre_vote && c->role == ST_RAFT_UNATTACHED && c->voted_id == NO_NODE) {
                c->voted_id = r->candidate_id;
                persist_if_changed(c, out);
                /* The candidate has as good a chance as we do: wait for it. */
                c->election_deadline_ms = c->now_ms + random_election_timeout_ms(c);
            }
        }
    }
    if (error != ST_ERR_NONE) c->stats.rejected_requests++;
    st_raft_message_t *resp = reply(out, ST_RAFT_ACTION_SEND, r->candidate_id, m->correlation_id,
                                    ST_RAFT_MSG_VOTE_RESPONSE);
    resp->vote_response = (st_raft_vote_response_t){error, c->leader_id, c->epoch, granted};
}

static void handle_vote_response(st_raft_t *c, st_raft_update_t *out, int32_t from, const st_raft_message_t *m) {
    bool pre_vote = false;
    if (!take_response(c, from, m, &pre_vote)) {
        c->stats.stale_responses++;
        return;
    }
    const st_raft_vote_response_t *r = &m->vote_response;
    if (handle_common_response(c, out, from, r->error, r->leader_id, r->leader_epoch)) return;
    bool counts = (c->role == ST_RAFT_PROSPECTIVE && pre_vote) || (c->role == ST_RAFT_CANDIDATE && !pre_vote);
    if (!counts) return;
    uint32_t bit = 1u << voter_index(c, from);
    if (r->vote_granted) c->granted_mask |= bit;
    else c->rejected_mask |= bit;
    /* poll() acts on a majority either way. */
}

/* ------------------------------------------------------- begin/end epoch */

static void reply_epoch(st_raft_t *c, st_raft_update_t *out, const st_raft_message_t *m, int32_t to,
                        st_raft_message_kind_t kind, int16_t error) {
    if (error != ST_ERR_NONE) c->stats.rejected_requests++;
    st_raft_message_t *resp = reply(out, ST_RAFT_ACTION_SEND, to, m->correlation_id, kind);
    resp->epoch_response = (st_raft_epoch_response_t){error, c->leader_id, c->epoch};
}

/* Kafka's validateVoterOnlyRequest, plus: the named leader must be one of
 * the static voters, and not us. */
static int16_t validate_leader_claim(const st_raft_t *c, int32_t leader_id, int32_t epoch) {
    if (leader_id < 0 || epoch < 0 || epoch > ST_RAFT_EPOCH_MAX || leader_id == c->config.local_id)
        return ST_ERR_INVALID_REQUEST;
    if (voter_index(c, leader_id) < 0) return ST_ERR_INCONSISTENT_VOTER_SET;
    if (epoch < c->epoch) return ST_ERR_FENCED_LEADER_EPOCH;
    return ST_ERR_NONE;
}

static void handle_begin_epoch_request(st_raft_t *c, st_raft_update_t *out, const st_raft_message_t *m) {
    const st_raft_begin_epoch_request_t *r = &m->begin_epoch_request;
    int16_t error = validate_leader_claim(c, r->leader_id, r->leader_epoch);
    if (error == ST_ERR_NONE) learn_leader(c, out, r->leader_id, r->leader_epoch);
    reply_epoch(c, out, m, r->leader_id, ST_RAFT_MSG_BEGIN_EPOCH_RESPONSE, error);
}

/* Kafka's strictExponentialElectionBackoffMs: the first preferred
 * successor starts at once, the next ones back off exponentially. */
static int64_t successor_backoff_ms(const st_raft_t *c, const st_raft_end_epoch_request_t *r) {
    int32_t count = r->preferred_count < 0 ? 0 : r->preferred_count;
    if (count > ST_RAFT_VOTERS_MAX) count = ST_RAFT_VOTERS_MAX;
    int32_t position = 0;
    while (position < count && r->preferred_successors[position] != c->config.local_id) position++;
    int64_t max = c->config.election_backoff_max_ms;
    if (position == 0) return 0;
    if (position >= count) return max;
    int64_t base = max >> (count - 1);
    return min64(max, base << (position - 1));
}

static void handle_end_epoch_request(st_raft_t *c, st_raft_update_t *out, const st_raft_message_t *m) {
    const st_raft_end_epoch_request_t *r = &m->end_epoch_request;
    int16_t error = validate_leader_claim(c, r->leader_id, r->leader_epoch);
    if (error == ST_ERR_NONE) {
        learn_leader(c, out, r->leader_id, r->leader_epoch);
        if (c->role == ST_RAFT_FOLLOWER && c->leader_id == r->leader_id && c->epoch == r->leader_epoch) {
            c->fetch_deadline_ms = c->now_ms + successor_backoff_ms(c, r);
            /* The leader said it is gone: help elect its successor. */
            c->fetched_from_leader = false;
        }
    }
    reply_epoch(c, out, m, r->leader_id, ST_RAFT_MSG_END_EPOCH_RESPONSE, error);
}

static void handle_epoch_response(st_raft_t *c, st_raft_update_t *out, int32_t from, const st_raft_message_t *m) {
    if (!take_response(c, from, m, NULL)) {
        c->stats.stale_responses++;
        return;
    }
    const st_raft_epoch_response_t *r = &m->epoch_response;
    if (handle_common_response(c, out, from, r->error, r->leader_id, r->leader_epoch)) return;
    if (m->kind == ST_RAFT_MSG_END_EPOCH_RESPONSE && c->role == ST_RAFT_RESIGNED)
        c->end_epoch_acked_mask |= 1u << voter_index(c, from);
}

/* ------------------------------------------------------------ the leader */

/* Kafka's KafkaMetadataLog.validateOffsetAndEpoch: may a follower whose
 * log ends at (fetch_offset, last_fetched_epoch) continue from there? */
static offset_check_t check_fetch_position(const st_raft_t *c, int64_t fetch_offset, int32_t last_fetched_epoch,
                                           st_raft_offset_epoch_t *at) {
    bool have_snapshot = c->snapshot_id.epoch >= 0;
    if (fetch_offset == 0 && c->log_start_offset == 0) {
        /* An empty follower takes the snapshot rather than the whole log. */
        if (have_snapshot) {
            *at = c->snapshot_id;
            return OFFSET_SNAPSHOT;
        }
        return OFFSET_VALID;
    }
    if (have_snapshot && (fetch_offset < c->log_start_offset ||
                          (fetch_offset == c->log_start_offset && last_fetched_epoch != c->log_start_epoch) ||
                          last_fetched_epoch < c->log_start_epoch)) {
        *at = c->snapshot_id;
        return OFFSET_SNAPSHOT;
    }
    st_raft_offset_epoch_t end = end_offset_for_epoch(c, last_fetched_epoch);
    if (end.epoch != last_fetched_epoch || end.offset < fetch_offset) {
        *at = end;
        return OFFSET_DIVERGING;
    }
    return OFFSET_VALID;
}

/* Kafka's validateLeaderOnlyRequest. */
static int16_t validate_leader_epoch(const st_raft_t *c, int32_t epoch) {
    if (epoch < c->epoch) return ST_ERR_FENCED_LEADER_EPOCH;
    if (epoch > c->epoch) return ST_ERR_UNKNOWN_LEADER_EPOCH;
    if (c->role != ST_RAFT_LEADER) return ST_ERR_NOT_LEADER_OR_FOLLOWER;
    return ST_ERR_NONE;
}

static void complete_parked_fetches(st_raft_t *c, st_raft_update_t *out) {
    for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++) {
        replica_t *r = &c->replicas[i];
        if (r->parked.active &&
            (r->parked.fetch_offset < c->log_end_offset || r->parked.high_watermark_seen < c->high_watermark))
            answer_parked(c, out, r);
    }
}

/* The largest offset a majority of voters hold durably (the leader counts
 * its flushed end), if it is above the epoch's start. */
static void advance_high_watermark(st_raft_t *c, st_raft_update_t *out) {
    if (c->role != ST_RAFT_LEADER) return;
    int64_t ends[ST_RAFT_VOTERS_MAX];
    int32_t n = c->config.voter_count;
    for (int32_t i = 0; i < n; i++)
        ends[i] = i == c->local_index ? c->flushed_end_offset : voter_replica(c, i)->end_offset;
    for (int32_t i = 1; i < n; i++) { /* descending */
        int64_t v = ends[i];
        int32_t j = i;
        while (j > 0 && ends[j - 1] < v) {
            ends[j] = ends[j - 1];
            j--;
        }
        ends[j] = v;
    }
    int64_t majority_end = ends[c->majority - 1];
    if (majority_end > c->epoch_start_offset && majority_end > c->high_watermark) {
        RAFT_INVARIANT(majority_end <= c->log_end_offset);
        c->high_watermark = majority_end;
        update_committed(c, out);
        complete_parked_fetches(c, out);
    }
}

static void note_voter_contact(st_raft_t *c, int32_t vidx) {
    if (vidx < 0) return;
    c->check_quorum_mask |= 1u << vidx;
    if (popcount32(c->check_quorum_mask | local_bit(c)) >= c->majority) {
        c->check_quorum_mask = 0;
        c->check_quorum_deadline_ms =
            c->now_ms + (int64_t)c->config.fetch_timeout_ms * CHECK_QUORUM_FACTOR_NUM / CHECK_QUORUM_FACTOR_DEN;
    }
}

/* Kafka's ReplicaState.updateFollowerState. */
static void note_fetch(st_raft_t *c, replica_t *r, int64_t fetch_offset) {
    int64_t previous_fetch_ms = r->last_fetch_ms;
    r->last_fetch_ms = max64(r->last_fetch_ms, c->now_ms);
    if (fetch_offset >= c->log_end_offset)
        r->last_caught_up_ms = max64(r->last_caught_up_ms, c->now_ms);
    else if (r->last_fetch_leader_end_offset > 0 && fetch_offset >= r->last_fetch_leader_end_offset)
        r->last_caught_up_ms = max64(r->last_caught_up_ms, previous_fetch_ms);
    r->last_fetch_leader_end_offset = c->log_end_offset;
    r->end_offset = fetch_offset;
}

static void handle_fetch_request(st_raft_t *c, st_raft_update_t *out, const st_raft_message_t *m) {
    const st_raft_fetch_request_t *r = &m->fetch_request;
    int16_t error = ST_ERR_NONE;
    if (r->fetch_offset < 0 || r->last_fetched_epoch < 0 || r->last_fetched_epoch > r->current_leader_epoch ||
        r->max_wait_ms < 0 || (r->replica_id == c->config.local_id))
        error = ST_ERR_INVALID_REQUEST;
    else
        error = validate_leader_epoch(c, r->current_leader_epoch);
    if (error != ST_ERR_NONE) {
        c->stats.rejected_requests++;
        st_raft_message_t *resp = reply(out, ST_RAFT_ACTION_SEND, r->replica_id, m->correlation_id,
                                        ST_RAFT_MSG_FETCH_RESPONSE);
        fill_fetch_response(c, &resp->fetch_response, error);
        return;
    }
    st_raft_offset_epoch_t at;
    offset_check_t check = check_fetch_position(c, r->fetch_offset, r->last_fetched_epoch, &at);
    int32_t vidx = voter_index(c, r->replica_id);
    note_voter_contact(c, vidx);
    if (check != OFFSET_VALID) {
        st_raft_message_t *resp = reply(out, ST_RAFT_ACTION_SEND, r->replica_id, m->correlation_id,
                                        ST_RAFT_MSG_FETCH_RESPONSE);
        fill_fetch_response(c, &resp->fetch_response, ST_ERR_NONE);
        if (check == OFFSET_DIVERGING) resp->fetch_response.diverging_epoch = at;
        else resp->fetch_response.snapshot_id = at;
        return;
    }
    replica_t *rep = r->replica_id >= 0 ? replica_for(c, out, r->replica_id) : NULL;
    if (rep) {
        answer_parked(c, out, rep); /* a newer fetch replaces it */
        note_fetch(c, rep, r->fetch_offset);
        if (vidx >= 0) advance_high_watermark(c, out);
    }
    int32_t max_bytes = r->max_bytes > 0 && r->max_bytes < c->config.fetch_max_bytes ? r->max_bytes
                                                                                      : c->config.fetch_max_bytes;
    if (r->fetch_offset < c->log_end_offset || r->max_wait_ms == 0 || !rep) {
        answer_fetch(c, out, r->replica_id, m->correlation_id, r->fetch_offset, max_bytes);
        return;
    }
    /* Nothing new: hold it until there is, or its wait is over (bounded so
     * the fetcher does not time out first). */
    int64_t wait_ms = min64(r->max_wait_ms, c->config.request_timeout_ms / 2);
    rep->parked = (parked_fetch_t){.active = true, .correlation_id = m->correlation_id,
                                   .fetch_offset = r->fetch_offset, .max_bytes = max_bytes,
                                   .deadline_ms = c->now_ms + wait_ms, .high_watermark_seen = c->high_watermark};
}

static void handle_fetch_snapshot_request(st_raft_t *c, st_raft_update_t *out, const st_raft_message_t *m) {
    const st_raft_fetch_snapshot_request_t *r = &m->fetch_snapshot_request;
    int16_t error = validate_leader_epoch(c, r->current_leader_epoch);
    if (error == ST_ERR_NONE && (c->snapshot_id.epoch < 0 || r->snapshot_id.offset != c->snapshot_id.offset ||
                                 r->snapshot_id.epoch != c->snapshot_id.epoch))
        error = ST_ERR_SNAPSHOT_NOT_FOUND;
    if (error == ST_ERR_NONE && (r->position < 0 || r->position >= c->snapshot_bytes))
        error = ST_ERR_POSITION_OUT_OF_RANGE;
    st_raft_action_kind_t kind = error == ST_ERR_NONE ? ST_RAFT_ACTION_READ_SNAPSHOT : ST_RAFT_ACTION_SEND;
    st_raft_message_t *resp = reply(out, kind, r->replica_id, m->correlation_id, ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE);
    st_raft_fetch_snapshot_response_t *s = &resp->fetch_snapshot_response;
    s->error = error;
    s->leader_id = c->leader_id;
    s->leader_epoch = c->epoch;
    s->snapshot_id = r->snapshot_id;
    if (error != ST_ERR_NONE) {
        c->stats.rejected_requests++;
        return;
    }
    note_voter_contact(c, voter_index(c, r->replica_id));
    int64_t max_bytes = r->max_bytes > 0 && r->max_bytes < c->config.fetch_max_bytes ? r->max_bytes
                                                                                      : c->config.fetch_max_bytes;
    s->size_bytes = c->snapshot_bytes;
    s->position = r->position;
    s->chunk_bytes = (int32_t)min64(max_bytes, c->snapshot_bytes - r->position);
}

/* ---------------------------------------------------------- the follower */

/* Kafka's KafkaMetadataLog.truncateToEndOffset. */
static int64_t truncation_offset(const st_raft_t *c, st_raft_offset_epoch_t diverging) {
    st_raft_offset_epoch_t local = end_offset_for_epoch(c, diverging.epoch);
    if (local.epoch == diverging.epoch) return min64(local.offset, diverging.offset);
    return local.offset;
}

static void truncate_log(st_raft_t *c, st_raft_update_t *out, int64_t end_offset) {
    if (end_offset >= c->log_end_offset) return;
    RAFT_INVARIANT(end_offset >= c->high_watermark && end_offset >= c->log_start_offset);
    epoch_cache_truncate_end(c, end_offset);
    c->log_end_offset = end_offset;
    c->flushed_end_offset = min64(c->flushed_end_offset, end_offset);
    emit(out, ST_RAFT_ACTION_TRUNCATE)->truncate_end_offset = end_offset;
}

/* Appends the batches of the response that continue our log: whole ones,
 * in order, in epochs that do not go back nor past the leader's. */
static void append_fetched(st_raft_t *c, st_raft_update_t *out, const st_raft_fetch_response_t *r) {
    int32_t count = r->batch_count < 0 ? 0 : r->batch_count;
    if (count > ST_RAFT_FETCH_BATCHES_MAX) count = ST_RAFT_FETCH_BATCHES_MAX;
    if (count > 0 && !r->batches) return;
    int32_t first = 0;
    /* Whole batches we already have (a batch boundary is our end). */
    while (first < count && r->batches[first].base_offset + r->batches[first].record_count <= c->log_end_offset &&
           r->batches[first].base_offset < c->log_end_offset)
        first++;
    int64_t next = c->log_end_offset;
    int32_t epoch = last_epoch(c);
    int32_t taken = 0;
    for (int32_t i = first; i < count; i++) {
        const st_raft_batch_t *b = &r->batches[i];
        if (b->base_offset != next || b->record_count <= 0 || b->record_count > ST_RAFT_PROPOSE_RECORDS_MAX ||
            b->epoch < epoch || b->epoch > c->epoch)
            break;
        if ((b->epoch > epoch || c->epoch_count == 0) && !epoch_cache_assign(c, b->epoch, next)) break; /* full */
        epoch = b->epoch;
        next += b->record_count;
        taken++;
    }
    if (taken == 0) {
        if (count > first) c->stats.rejected_responses++;
        return;
    }
    st_raft_action_t *a = emit(out, ST_RAFT_ACTION_APPEND);
    a->append = (st_raft_append_t){.source = ST_RAFT_APPEND_FETCHED, .base_offset = c->log_end_offset,
                                   .end_offset = next, .epoch = epoch, .batch_first = first, .batch_count = taken};
    c->log_end_offset = next;
}

static void learn_high_watermark(st_raft_t *c, st_raft_update_t *out, int64_t leader_high_watermark) {
    if (leader_high_watermark < 0) return;
    /* Our log matches the leader's up to our end (the fetch was valid). */
    int64_t hw = min64(leader_high_watermark, c->log_end_offset);
    if (hw > c->high_watermark) c->high_watermark = hw;
    update_committed(c, out);
}

static void fetch_succeeded(st_raft_t *c) {
    c->fetched_from_leader = true;
    c->discovering = false;
    c->fetch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms;
}

static void handle_fetch_response(st_raft_t *c, st_raft_update_t *out, int32_t from, const st_raft_message_t *m) {
    if (!take_response(c, from, m, NULL)) {
        c->stats.stale_responses++;
        return;
    }
    const st_raft_fetch_response_t *r = &m->fetch_response;
    bool observer_looking = c->discovering;
    if (handle_common_response(c, out, from, r->error, r->leader_id, r->leader_epoch) ||
        c->role != ST_RAFT_FOLLOWER || from != c->leader_id) {
        if (observer_looking && c->discovering) { /* ask the next voter */
            c->fetch_target = (c->fetch_target + 1) % c->config.voter_count;
            back_off_requests_to(c, voter_index(c, from));
        }
        return;
    }
    if (r->diverging_epoch.epoch >= 0) {
        int64_t to = truncation_offset(c, r->diverging_epoch);
        if (to < c->high_watermark || to < c->log_start_offset) {
            c->stats.rejected_responses++; /* never below what is committed */
            return;
        }
        truncate_log(c, out, to);
    } else if (r->snapshot_id.epoch >= 0 || r->snapshot_id.offset >= 0) {
        if (r->snapshot_id.epoch < 0 || r->snapshot_id.offset <= c->committed ||
            r->snapshot_id.epoch > c->epoch) {
            c->stats.rejected_responses++;
            return;
        }
        c->fetching_snapshot = true;
        c->fetching_snapshot_id = r->snapshot_id;
        c->fetching_snapshot_position = 0;
    } else {
        append_fetched(c, out, r);
        learn_high_watermark(c, out, r->high_watermark);
    }
    fetch_succeeded(c);
}

static void load_snapshot(st_raft_t *c, st_raft_update_t *out, int64_t size_bytes) {
    st_raft_offset_epoch_t id = c->fetching_snapshot_id;
    st_raft_action_t *a = emit(out, ST_RAFT_ACTION_LOAD_SNAPSHOT);
    a->snapshot.snapshot_id = id;
    a->snapshot.size_bytes = size_bytes;
    c->log_start_offset = c->log_end_offset = c->flushed_end_offset = id.offset;
    c->log_start_epoch = id.epoch;
    c->epoch_count = 0;
    c->snapshot_id = id;
    c->snapshot_bytes = size_bytes;
    c->high_watermark = max64(c->high_watermark, id.offset);
    c->committed = max64(c->committed, id.offset); /* the state machine is at the snapshot now */
    c->fetching_snapshot = false;
}

static void handle_fetch_snapshot_response(st_raft_t *c, st_raft_update_t *out, int32_t from,
                                           const st_raft_message_t *m) {
    if (!take_response(c, from, m, NULL)) {
        c->stats.stale_responses++;
        return;
    }
    const st_raft_fetch_snapshot_response_t *r = &m->fetch_snapshot_response;
    if (r->error != ST_ERR_SNAPSHOT_NOT_FOUND &&
        handle_common_response(c, out, from, r->error, r->leader_id, r->leader_epoch))
        return;
    if (c->role != ST_RAFT_FOLLOWER || !c->fetching_snapshot) return;
    if (r->error == ST_ERR_SNAPSHOT_NOT_FOUND || r->snapshot_id.epoch < 0 || r->snapshot_id.offset < 0) {
        /* The leader has a newer snapshot by now: start over with a Fetch. */
        c->fetching_snapshot = false;
        fetch_succeeded(c);
        return;
    }
    if (r->snapshot_id.offset != c->fetching_snapshot_id.offset ||
        r->snapshot_id.epoch != c->fetching_snapshot_id.epoch || r->position != c->fetching_snapshot_position ||
        r->size_bytes <= 0 || r->chunk_bytes <= 0 || r->position + r->chunk_bytes > r->size_bytes) {
        c->stats.rejected_responses++;
        c->fetching_snapshot = false;
        return;
    }
    st_raft_action_t *a = emit(out, ST_RAFT_ACTION_WRITE_SNAPSHOT);
    a->snapshot.snapshot_id = r->snapshot_id;
    a->snapshot.position = r->position;
    a->snapshot.bytes = r->chunk_bytes;
    a->snapshot.size_bytes = r->size_bytes;
    c->fetching_snapshot_position += r->chunk_bytes;
    if (c->fetching_snapshot_position == r->size_bytes) load_snapshot(c, out, r->size_bytes);
    fetch_succeeded(c);
}

/* ------------------------------------------------------------------- poll */

static void expire_requests(st_raft_t *c) {
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        outbound_t *o = &c->outbound[i];
        if (!o->in_flight || c->now_ms - o->sent_ms < c->config.request_timeout_ms) continue;
        o->in_flight = false;
        o->retry_at_ms = c->now_ms + c->config.retry_backoff_ms;
        if (c->discovering && i == c->fetch_target) c->fetch_target = (i + 1) % c->config.voter_count;
    }
}

static bool log_durable(const st_raft_t *c) { return c->flushed_end_offset == c->log_end_offset; }

static void send_votes(st_raft_t *c, st_raft_update_t *out, bool pre_vote) {
    if (!log_durable(c)) return; /* invariant 7: our last offset must survive a crash */
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        if (i == c->local_index || ((c->granted_mask | c->rejected_mask) >> i & 1u) || !can_send(c, i)) continue;
        st_raft_message_t *m = send_request(c, out, i, ST_RAFT_MSG_VOTE_REQUEST);
        m->vote_request = (st_raft_vote_request_t){c->epoch, c->config.local_id, last_epoch(c), c->log_end_offset,
                                                   pre_vote};
        c->outbound[i].pre_vote = pre_vote;
    }
}

static void send_fetch(st_raft_t *c, st_raft_update_t *out, int32_t vidx) {
    if (vidx < 0 || vidx == c->local_index || !can_send(c, vidx) || !log_durable(c)) return;
    if (c->fetching_snapshot) {
        st_raft_message_t *m = send_request(c, out, vidx, ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST);
        m->fetch_snapshot_request = (st_raft_fetch_snapshot_request_t){
            c->config.local_id, c->epoch, c->fetching_snapshot_id, c->fetching_snapshot_position,
            c->config.fetch_max_bytes};
        return;
    }
    st_raft_message_t *m = send_request(c, out, vidx, ST_RAFT_MSG_FETCH_REQUEST);
    m->fetch_request = (st_raft_fetch_request_t){c->config.local_id, c->epoch, c->log_end_offset, last_epoch(c),
                                                 c->config.fetch_max_wait_ms, c->config.fetch_max_bytes};
}

/* Each poll_* does what its state does at now_ms; true when the state changed. */

static bool poll_unattached(st_raft_t *c, st_raft_update_t *out) {
    if (!is_voter(c)) {
        send_fetch(c, out, c->fetch_target);
        return false;
    }
    if (c->config.voter_count == 1 || c->now_ms >= c->election_deadline_ms) {
        to_prospective(c, out);
        return true;
    }
    return false;
}

static bool poll_prospective(st_raft_t *c, st_raft_update_t *out) {
    if (popcount32(c->granted_mask) >= c->majority) {
        if (epoch_cache_full(c) || c->epoch >= ST_RAFT_EPOCH_MAX) { /* cannot start a new epoch: let another lead */
            prospective_lost(c, out);
            return true;
        }
        to_candidate(c, out);
        return true;
    }
    if (popcount32(c->rejected_mask) > c->config.voter_count - c->majority || c->now_ms >= c->election_deadline_ms) {
        prospective_lost(c, out);
        return true;
    }
    send_votes(c, out, true);
    return false;
}

static bool poll_candidate(st_raft_t *c, st_raft_update_t *out) {
    if (popcount32(c->granted_mask) >= c->majority) {
        to_leader(c, out);
        return true;
    }
    if (c->backing_off) {
        if (c->now_ms < c->backoff_until_ms) return false;
        to_prospective(c, out);
        return true;
    }
    if (popcount32(c->rejected_mask) > c->config.voter_count - c->majority || c->now_ms >= c->election_deadline_ms) {
        c->backing_off = true;
        c->backoff_until_ms = c->now_ms + election_backoff_ms(c);
        return false;
    }
    send_votes(c, out, false);
    return false;
}

static bool poll_leader(st_raft_t *c, st_raft_update_t *out) {
    for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++)
        if (c->replicas[i].parked.active && c->now_ms >= c->replicas[i].parked.deadline_ms)
            answer_parked(c, out, &c->replicas[i]);
    if (c->majority > 1 && c->now_ms >= c->check_quorum_deadline_ms) {
        to_resigned(c, out);
        return true;
    }
    if (c->now_ms >= c->begin_epoch_deadline_ms) {
        /* Kafka re-sends BeginQuorumEpoch periodically, so a voter that
         * missed the election learns of it; here to those not fetching. */
        for (int32_t i = 0; i < c->config.voter_count; i++) {
            const replica_t *r = voter_replica(c, i);
            if (i != c->local_index &&
                (r->last_fetch_ms < 0 || c->now_ms - r->last_fetch_ms >= c->config.fetch_timeout_ms / 2))
                c->begin_epoch_pending_mask |= 1u << i;
        }
        c->begin_epoch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms / 2;
    }
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        if (!(c->begin_epoch_pending_mask >> i & 1u) || !can_send(c, i)) continue;
        c->begin_epoch_pending_mask &= ~(1u << i);
        st_raft_message_t *m = send_request(c, out, i, ST_RAFT_MSG_BEGIN_EPOCH_REQUEST);
        m->begin_epoch_request = (st_raft_begin_epoch_request_t){c->config.local_id, c->epoch};
    }
    return false;
}

static bool poll_follower(st_raft_t *c, st_raft_update_t *out) {
    if (c->now_ms >= c->fetch_deadline_ms) {
        if (is_voter(c)) {
            to_prospective(c, out);
            return true;
        }
        /* An observer asks the voters in turn who leads now. */
        c->discovering = true;
        c->fetching_snapshot = false;
        c->fetch_target = (c->fetch_target + 1) % c->config.voter_count;
        c->fetch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms;
    }
    send_fetch(c, out, c->discovering ? c->fetch_target : voter_index(c, c->leader_id));
    return false;
}

static bool poll_resigned(st_raft_t *c, st_raft_update_t *out) {
    if (c->now_ms >= c->election_deadline_ms || c->config.voter_count == 1) {
        to_prospective(c, out);
        return true;
    }
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        if (i == c->local_index || (c->end_epoch_acked_mask >> i & 1u) || !can_send(c, i)) continue;
        st_raft_message_t *m = send_request(c, out, i, ST_RAFT_MSG_END_EPOCH_REQUEST);
        st_raft_end_epoch_request_t *r = &m->end_epoch_request;
        r->leader_id = c->config.local_id;
        r->leader_epoch = c->epoch;
        r->preferred_count = c->successor_count;
        memcpy(r->preferred_successors, c->successors, sizeof c->successors);
    }
    return false;
}

static void poll(st_raft_t *c, st_raft_update_t *out) {
    expire_requests(c);
    for (int i = 0; i < POLL_TRANSITIONS_MAX; i++) {
        bool changed = false;
        switch (c->role) {
        case ST_RAFT_UNATTACHED: changed = poll_unattached(c, out); break;
        case ST_RAFT_PROSPECTIVE: changed = poll_prospective(c, out); break;
        case ST_RAFT_CANDIDATE: changed = poll_candidate(c, out); break;
        case ST_RAFT_LEADER: changed = poll_leader(c, out); break;
        case ST_RAFT_FOLLOWER: changed = poll_follower(c, out); break;
        case ST_RAFT_RESIGNED: changed = poll_resigned(c, out); break;
        }
        if (!changed) return;
    }
}

/* ------------------------------------------------------------------ events */

static void handle_receive(st_raft_t *c, st_raft_update_t *out, int32_t from, const st_raft_message_t *m) {
    switch (m->kind) {
    case ST_RAFT_MSG_VOTE_REQUEST: handle_vote_request(c, out, m); break;
    case ST_RAFT_MSG_VOTE_RESPONSE: handle_vote_response(c, out, from, m); break;
    case ST_RAFT_MSG_BEGIN_EPOCH_REQUEST: handle_begin_epoch_request(c, out, m); break;
    case ST_RAFT_MSG_END_EPOCH_REQUEST: handle_end_epoch_request(c, out, m); break;
    case ST_RAFT_MSG_BEGIN_EPOCH_RESPONSE:
    case ST_RAFT_MSG_END_EPOCH_RESPONSE: handle_epoch_response(c, out, from, m); break;
    case ST_RAFT_MSG_FETCH_REQUEST: handle_fetch_request(c, out, m); break;
    case ST_RAFT_MSG_FETCH_RESPONSE: handle_fetch_response(c, out, from, m); break;
    case ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST: handle_fetch_snapshot_request(c, out, m); break;
    case ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE: handle_fetch_snapshot_response(c, out, from, m); break;
    default: c->stats.rejected_requests++; break;
    }
}

static void handle_flushed(st_raft_t *c, st_raft_update_t *out, int64_t end_offset) {
    int64_t flushed = min64(end_offset, c->log_end_offset);
    if (flushed <= c->flushed_end_offset) return;
    c->flushed_end_offset = flushed;
    if (c->role == ST_RAFT_LEADER) advance_high_watermark(c, out);
    update_committed(c, out);
}

static int handle_propose(st_raft_t *c, st_raft_update_t *out, int32_t record_count) {
    if (c->role != ST_RAFT_LEADER) return ST_ERR_NOT_LEADER_OR_FOLLOWER;
    if (record_count <= 0 || record_count > ST_RAFT_PROPOSE_RECORDS_MAX) return ST_ERR_INVALID_REQUEST;
    /* A snapshot up to the log end may have emptied the cache. */
    bool assigned = epoch_cache_assign(c, c->epoch, c->log_end_offset);
    RAFT_INVARIANT(assigned);
    st_raft_action_t *a = emit(out, ST_RAFT_ACTION_APPEND);
    a->append = (st_raft_append_t){.source = ST_RAFT_APPEND_PROPOSED, .base_offset = c->log_end_offset,
                                   .end_offset = c->log_end_offset + record_count, .epoch = c->epoch};
    c->log_end_offset += record_count;
    complete_parked_fetches(c, out);
    return 0;
}

static int handle_snapshot_taken(st_raft_t *c, int64_t size_bytes, st_raft_offset_epoch_t id, int64_t log_start) {
    if (id.offset <= 0 || id.offset > c->committed || id.offset < c->log_start_offset || size_bytes <= 0 ||
        (c->snapshot_id.epoch >= 0 && id.offset <= c->snapshot_id.offset))
        return ST_ERR_INVALID_REQUEST;
    int32_t epoch = id.offset == c->log_start_offset ? c->log_start_epoch : epoch_of_offset(c, id.offset - 1);
    if (id.epoch != epoch) return ST_ERR_INVALID_REQUEST;
    if (log_start != c->log_start_offset && log_start != id.offset) return ST_ERR_INVALID_REQUEST;
    c->snapshot_id = id;
    c->snapshot_bytes = size_bytes;
    if (log_start != c->log_start_offset) {
        epoch_cache_truncate_start(c, log_start);
        c->log_start_offset = log_start;
        c->log_start_epoch = id.epoch;
    }
    return 0;
}

#ifndef NDEBUG
/* The whole-structure check of the invariants at the top (debug builds:
 * after every step). */
static void check_core(const st_raft_t *c) {
    RAFT_INVARIANT(0 <= c->log_start_offset && c->log_start_offset <= c->flushed_end_offset &&
                   c->flushed_end_offset <= c->log_end_offset);
    RAFT_INVARIANT(c->committed >= min64(c->high_watermark, c->flushed_end_offset) &&
                   c->committed <= c->high_watermark && c->committed <= c->flushed_end_offset);
    RAFT_INVARIANT(c->high_watermark <= c->log_end_offset || c->role != ST_RAFT_LEADER);
    RAFT_INVARIANT(c->epoch_count == 0 || c->epochs[0].start_offset == c->log_start_offset);
    RAFT_INVARIANT(c->epoch_count > 0 || c->log_end_offset == c->log_start_offset);
    for (int32_t i = 0; i < c->epoch_count; i++) {
        RAFT_INVARIANT(c->epochs[i].start_offset < c->log_end_offset);
        RAFT_INVARIANT(i == 0 || (c->epochs[i].epoch > c->epochs[i - 1].epoch &&
                                  c->epochs[i].start_offset > c->epochs[i - 1].start_offset));
    }
    RAFT_INVARIANT(last_epoch(c) <= c->epoch);
    RAFT_INVARIANT(c->log_start_offset == 0 ||
                   (c->snapshot_id.epoch >= 0 && c->snapshot_id.offset >= c->log_start_offset));
    RAFT_INVARIANT(c->role != ST_RAFT_LEADER || c->leader_id == c->config.local_id);
}
#endif

int st_raft_step(st_raft_t *c, const st_raft_event_t *e, st_raft_update_t *out) {
    out->count = 0;
    if (e->now_ms > c->now_ms) c->now_ms = e->now_ms;
    if (c->persist_pending) persist_if_changed(c, out);
    int rc = 0;
    switch (e->kind) {
    case ST_RAFT_EVENT_TICK: break;
    case ST_RAFT_EVENT_RECEIVE:
        if (e->receive.message) handle_receive(c, out, e->receive.from, e->receive.message);
        break;
    case ST_RAFT_EVENT_SEND_FAILED: {
        int32_t vidx = voter_index(c, e->send_failed.to);
        if (vidx >= 0 && c->outbound[vidx].in_flight &&
            c->outbound[vidx].correlation_id == e->send_failed.correlation_id) {
            c->outbound[vidx].in_flight = false;
            back_off_requests_to(c, vidx);
            if (c->discovering && vidx == c->fetch_target) c->fetch_target = (vidx + 1) % c->config.voter_count;
        }
        break;
    }
    case ST_RAFT_EVENT_LOG_FLUSHED: handle_flushed(c, out, e->log_flushed.end_offset); break;
    case ST_RAFT_EVENT_PROPOSE: rc = handle_propose(c, out, e->propose.record_count); break;
    case ST_RAFT_EVENT_SNAPSHOT_TAKEN:
        rc = handle_snapshot_taken(c, e->snapshot.size_bytes, e->snapshot.snapshot_id, e->snapshot.log_start_offset);
        break;
    case ST_RAFT_EVENT_RESIGN:
        if (c->role != ST_RAFT_LEADER) rc = ST_ERR_NOT_LEADER_OR_FOLLOWER;
        else to_resigned(c, out);
        break;
    default: rc = ST_ERR_INVALID_REQUEST; break;
    }
    poll(c, out);
#ifndef NDEBUG
    check_core(c);
#endif
    return rc;
}

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
    int32_t leader = p && voter_index(c, p->leader_id) >= 0 ? p->leader_id : NO_NODE;
    int32_t voted = p && voter_index(c, p->voted_id) >= 0 ? p->voted_id : NO_NODE;
    c->persisted = p ? *p : (st_raft_quorum_state_t){0, NO_NODE, NO_NODE};
    c->persist_pending = !p;
    c->election_deadline_ms = c->now_ms + random_election_timeout_ms(c);
    c->fetch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms;
    c->discovering = !is_voter(c);
    if (epoch < last_epoch(c)) {
        /* The log saw a later epoch than the file (Kafka warns and does this). */
        c->role = ST_RAFT_UNATTACHED;
        c->epoch = last_epoch(c);
        c->leader_id = c->voted_id = NO_NODE;
        c->persist_pending = true;
        return;
    }
    c->epoch = epoch;
    c->leader_id = NO_NODE;
    c->voted_id = voted;
    if (is_voter(c) && leader == c->config.local_id) {
        /* A leader that restarts must not vote in its own epoch, nor write
         * a second record at an (offset, epoch) it may have written. */
        c->role = ST_RAFT_RESIGNED;
        c->leader_id = leader;
        for (int32_t i = 0, n = 0; i < c->config.voter_count; i++)
            if (i != c->local_index) c->successors[n++] = c->config.voters[i];
        c->successor_count = c->config.voter_count - 1;
    } else if (is_voter(c) && voted == c->config.local_id) {
        c->role = ST_RAFT_CANDIDATE;
        c->granted_mask = local_bit(c);
    } else if (voted != NO_NODE) {
        c->role = ST_RAFT_UNATTACHED;
    } else if (leader != NO_NODE) {
        c->role = ST_RAFT_FOLLOWER;
        c->leader_id = leader;
        c->fetch_target = voter_index(c, leader);
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
    c->local_index = voter_index(c, config->local_id);
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
    epoch_cache_truncate_start(c, c->log_start_offset);
    c->high_watermark = max64(log->high_watermark, c->snapshot_id.epoch >= 0 ? c->snapshot_id.offset : 0);
    c->committed = c->high_watermark;
    for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++) reset_replica(&c->replicas[i], NO_NODE);
    initial_state(c, persisted);
#ifndef NDEBUG
    check_core(c);
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
        if (o->in_flight) t = min64(t, o->sent_ms + c->config.request_timeout_ms);
        else if (o->retry_at_ms > c->now_ms) t = min64(t, o->retry_at_ms);
    }
    switch (c->role) {
    case ST_RAFT_UNATTACHED:
        if (is_voter(c)) t = min64(t, c->election_deadline_ms);
        break;
    case ST_RAFT_PROSPECTIVE:
    case ST_RAFT_RESIGNED: t = min64(t, c->election_deadline_ms); break;
    case ST_RAFT_CANDIDATE: t = min64(t, c->backing_off ? c->backoff_until_ms : c->election_deadline_ms); break;
    case ST_RAFT_FOLLOWER: t = min64(t, c->fetch_deadline_ms); break;
    case ST_RAFT_LEADER:
        if (c->majority > 1) t = min64(t, c->check_quorum_deadline_ms);
        t = min64(t, c->begin_epoch_deadline_ms);
        for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++)
            if (c->replicas[i].parked.active) t = min64(t, c->replicas[i].parked.deadline_ms);
        break;
    }
    return t;
}

st_raft_role_t st_raft_role(const st_raft_t *c) { return c->role; }
int32_t st_raft_epoch(const st_raft_t *c) { return c->epoch; }
int32_t st_raft_leader_id(const st_raft_t *c) { return c->leader_id; }
int32_t st_raft_voted_id(const st_raft_t *c) { return c->voted_id; }
bool st_raft_is_voter(const st_raft_t *c) { return is_voter(c); }
int64_t st_raft_high_watermark(const st_raft_t *c) { return c->committed; }
int64_t st_raft_log_end_offset(const st_raft_t *c) { return c->log_end_offset; }
int64_t st_raft_log_start_offset(const st_raft_t *c) { return c->log_start_offset; }
int32_t st_raft_last_epoch(const st_raft_t *c) { return last_epoch(c); }
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
