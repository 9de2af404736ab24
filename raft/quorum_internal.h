/*
 * Private to raft/quorum_*.c: the Raft core's state (struct st_raft) and
 * the helpers its pieces share. The core is one module split by concern:
 *   quorum_base.c    helpers, epoch cache, persisted state, outbound
 *                    requests, the leader's replica table
 *   quorum_step.c    state changes, elections, begin/end epoch, the leader
 *                    and the follower, poll, st_raft_step
 *   quorum_create.c  config, create/destroy, queries
 * raft/quorum.h is the contract (it has no quorum.c). Uses run create ->
 * step -> base only, so check_layers sees no circle. Nothing outside
 * raft/quorum_*.c includes this header.
 */
#ifndef ST_RAFT_QUORUM_INTERNAL_H
#define ST_RAFT_QUORUM_INTERNAL_H

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

#include "common/errors.h"

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

static inline void invariant_failed(const char *what, const char *file, int line) {
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

uint32_t raft_all_voters_mask(const st_raft_t *c);
void raft_answer_fetch(st_raft_t *c, st_raft_update_t *out, int32_t to, int32_t correlation_id,
                         int64_t fetch_offset, int32_t max_bytes);
void raft_answer_parked(st_raft_t *c, st_raft_update_t *out, replica_t *r);
void raft_back_off_requests_to(st_raft_t *c, int32_t vidx);
bool raft_can_send(const st_raft_t *c, int32_t vidx);
void raft_check_core(const st_raft_t *c);
int raft_compare_log_end(int32_t epoch_a, int64_t offset_a, int32_t epoch_b, int64_t offset_b);
int64_t raft_election_backoff_ms(st_raft_t *c);
st_raft_action_t *raft_emit(st_raft_update_t *out, st_raft_action_kind_t kind);
st_raft_offset_epoch_t raft_end_offset_for_epoch(const st_raft_t *c, int32_t epoch);
bool raft_epoch_cache_assign(st_raft_t *c, int32_t epoch, int64_t start_offset);
bool raft_epoch_cache_full(const st_raft_t *c);
void raft_epoch_cache_truncate_end(st_raft_t *c, int64_t end_offset);
void raft_epoch_cache_truncate_start(st_raft_t *c, int64_t start_offset);
int32_t raft_epoch_of_offset(const st_raft_t *c, int64_t offset);
void raft_fill_fetch_response(const st_raft_t *c, st_raft_fetch_response_t *r, int16_t error);
void raft_forget_requests(st_raft_t *c);
bool raft_is_voter(const st_raft_t *c);
int32_t raft_last_epoch(const st_raft_t *c);
uint32_t raft_local_bit(const st_raft_t *c);
int64_t raft_max64(int64_t a, int64_t b);
int64_t raft_min64(int64_t a, int64_t b);
int32_t raft_next_correlation_id(st_raft_t *c);
void raft_persist_if_changed(st_raft_t *c, st_raft_update_t *out);
int raft_popcount32(uint32_t x);
int64_t raft_random_election_timeout_ms(st_raft_t *c);
void raft_release_parked_with_error(st_raft_t *c, st_raft_update_t *out, int16_t error);
replica_t *raft_replica_for(st_raft_t *c, st_raft_update_t *out, int32_t id);
st_raft_message_t *raft_reply(st_raft_update_t *out, st_raft_action_kind_t kind, int32_t to,
                                int32_t correlation_id, st_raft_message_kind_t message_kind);
void raft_reset_replica(replica_t *r, int32_t id);
st_raft_message_t *raft_send_request(st_raft_t *c, st_raft_update_t *out, int32_t vidx,
                                       st_raft_message_kind_t kind);
bool raft_take_response(st_raft_t *c, int32_t from, const st_raft_message_t *m, bool *pre_vote);
void raft_update_committed(st_raft_t *c, st_raft_update_t *out);
int32_t raft_voter_index(const st_raft_t *c, int32_t id);
replica_t *raft_voter_replica(st_raft_t *c, int32_t vidx);

#endif
