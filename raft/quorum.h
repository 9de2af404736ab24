/*
 * The metadata quorum's Raft core: KRaft (KIP-595) with pre-vote (KIP-996),
 * as a pure state machine in C-Raft's style.
 *
 *     int st_raft_step(st_raft_t *core, const st_raft_event_t *event, st_raft_update_t *out);
 *
 * A step makes no system call, reads no clock (time is event->now_ms; the
 * randomness of election timeouts comes from a PRNG the caller seeds in the
 * config) and allocates nothing: st_raft_create allocates once, from the
 * limits in raft/quorum_limits.h. The same events give the same actions.
 *
 * The log is the caller's. The core keeps what Raft needs about it: the log
 * start and end offsets, how much of it is durable, an epoch cache of
 * (epoch, start offset) entries, the high watermark and the latest
 * snapshot id. Records are opaque: a batch is (base offset, record count,
 * epoch) to the core, and the bytes never pass through it.
 *
 * The caller's order of operations (C-Raft's "persist, send, apply"):
 *  1. Step the core with one event; it fills `out` with actions in order.
 *  2. Execute the actions in that order:
 *       PERSIST_STATE, TRUNCATE, WRITE_SNAPSHOT and LOAD_SNAPSHOT are
 *         durable (fsynced) before the next action runs: a message that
 *         depends on them may follow;
 *       APPEND writes batches at the log end; it need not be durable yet:
 *         once it is (an fsync now, or a later group commit), step
 *         ST_RAFT_EVENT_LOG_FLUSHED. The core never sends a claim about the
 *         log (a Fetch offset, a Vote's last offset) nor counts the local
 *         log toward the high watermark before it is durable;
 *       SEND, READ_LOG and READ_SNAPSHOT hand a message to the network
 *         (READ_*: with bytes read from the log or the snapshot);
 *       COMMITTED: apply entries below its high watermark (only those);
 *       BECAME_LEADER, BECAME_FOLLOWER, LEADER_UNKNOWN, RESIGNED: tell the
 *         controller who leads (it starts or stops being active).
 *  3. Step ST_RAFT_EVENT_TICK again at st_raft_next_tick_ms (or earlier).
 *
 * States (Kafka's QuorumState; raft/quorum_internal.h opens each with its invariants):
 *
 *                    st_raft_create (from quorum-state and the log)
 *                                 |
 *    handle_vote_request          v             learn_leader (a leader named
 *    (votes once, stays)  +--> UNATTACHED -------------------------+ for a higher
 *                         +---  |    ^                             | epoch, or for
 *             election timeout: |    | prospective_lost            | ours when none
 *             to_prospective    v    | (no leader known)           v is known)
 *     +------------------> PROSPECTIVE --prospective_lost-------> FOLLOWER
 *     |                      |     ^    (leader known)            ^  ^    |
 *     | pre-votes of a       |     | election timeout, or votes   |  |    |
 *     | majority:            |     | rejected, then a backoff:    |  |    |
 *     | to_candidate         v     | to_prospective               |  |    |
 *     |                   CANDIDATE -------- learn_leader --------+  |    |
 *     |                      |                                       |    |
 *     | votes of a majority: v                                       |    |
 *     | to_leader          LEADER --to_resigned--> RESIGNED          |    |
 *     |                   (RESIGN, or no majority     |              |    |
 *     |                    fetched: check quorum)     +-learn_leader-+    |
 *     +-- election timeout: to_prospective (from RESIGNED)                |
 *     +-- fetch timeout: to_prospective (from FOLLOWER) ------------------+
 *
 *   From any state a higher epoch without a leader is to_unattached. An
 *   observer (not a voter) is only ever UNATTACHED or FOLLOWER.
 *
 * Every arrow that changes the epoch, the vote or the leader is preceded
 * in `out` by PERSIST_STATE. The controller and the broker drive the core
 * from the event loop: see raft/README.md.
 */
#ifndef ST_RAFT_QUORUM_H
#define ST_RAFT_QUORUM_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/quorum_limits.h"

typedef struct st_raft st_raft_t;

typedef enum st_raft_role {
    ST_RAFT_UNATTACHED = 1, /* epoch known, leader not (yet); maybe voted */
    ST_RAFT_PROSPECTIVE,    /* asking for pre-votes, same epoch (KIP-996) */
    ST_RAFT_CANDIDATE,      /* asking for votes in epoch + 1 */
    ST_RAFT_LEADER,
    ST_RAFT_FOLLOWER,       /* fetching from the known leader of the epoch */
    ST_RAFT_RESIGNED,       /* was leader of the epoch; waits for a successor */
} st_raft_role_t;

const char *st_raft_role_name(st_raft_role_t role);

/* A point in the log: Kafka's OffsetAndEpoch. As a snapshot id or a
 * diverging epoch, `offset` is an end offset (exclusive). epoch -1: none. */
typedef struct st_raft_offset_epoch {
    int64_t offset;
    int32_t epoch;
} st_raft_offset_epoch_t;

/* One epoch of the epoch cache: records from start_offset on (up to the
 * next entry's start offset, or the log end) were written in `epoch`. */
typedef struct st_raft_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} st_raft_epoch_entry_t;

/* A record batch as the core sees it; the caller parsed (and CRC-checked)
 * it from a Fetch response. */
typedef struct st_raft_batch {
    int64_t base_offset;
    int32_t record_count;
    int32_t epoch; /* partition leader epoch of the batch */
} st_raft_batch_t;

/* ---------------------------------------------------------------- messages */

/* The RPCs between quorum nodes, as the core needs them. raft/quorum_wire.h
 * converts them to and from the generated wire structs (which add the
 * cluster id, the topic `__cluster_metadata`, partition 0 and endpoints). */
typedef enum st_raft_message_kind {
    ST_RAFT_MSG_VOTE_REQUEST = 1,
    ST_RAFT_MSG_VOTE_RESPONSE,
    ST_RAFT_MSG_BEGIN_EPOCH_REQUEST,
    ST_RAFT_MSG_BEGIN_EPOCH_RESPONSE,
    ST_RAFT_MSG_END_EPOCH_REQUEST,
    ST_RAFT_MSG_END_EPOCH_RESPONSE,
    ST_RAFT_MSG_FETCH_REQUEST,
    ST_RAFT_MSG_FETCH_RESPONSE,
    ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST,
    ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE,
} st_raft_message_kind_t;

const char *st_raft_message_name(st_raft_message_kind_t kind);
bool st_raft_message_is_request(st_raft_message_kind_t kind);

typedef struct st_raft_vote_request {
    int32_t candidate_epoch; /* a pre-vote carries the prospective's current epoch */
    int32_t candidate_id;
    int32_t last_offset_epoch;
    int64_t last_offset; /* the candidate's log end offset */
    bool pre_vote;
} st_raft_vote_request_t;

typedef struct st_raft_vote_response {
    int16_t error;
    int32_t leader_id; /* -1: unknown */
    int32_t leader_epoch;
    bool vote_granted;
} st_raft_vote_response_t;

/* BeginQuorumEpoch and EndQuorumEpoch responses share this shape. */
typedef struct st_raft_epoch_response {
    int16_t error;
    int32_t leader_id;
    int32_t leader_epoch;
} st_raft_epoch_response_t;

typedef struct st_raft_begin_epoch_request {
    int32_t leader_id;
    int32_t leader_epoch;
} st_raft_begin_epoch_request_t;

typedef struct st_raft_end_epoch_request {
    int32_t leader_id;
    int32_t leader_epoch;
    /* The voters most caught up first: the first one starts its election
     * at once, the others back off exponentially by position. */
    int32_t preferred_successors[ST_RAFT_VOTERS_MAX];
    int32_t preferred_count;
} st_raft_end_epoch_request_t;

typedef struct st_raft_fetch_request {
    int32_t replica_id; /* -1: an anonymous reader, not tracked */
    int32_t current_leader_epoch;
    int64_t fetch_offset; /* the fetcher's (durable) log end offset */
    int32_t last_fetched_epoch;
    int32_t max_wait_ms;
    int32_t max_bytes;
} st_raft_fetch_request_t;

typedef struct st_raft_fetch_response {
    int16_t error;
    int32_t leader_id;
    int32_t leader_epoch;
    int64_t high_watermark; /* -1: unknown */
    int64_t log_start_offset;
    st_raft_offset_epoch_t diverging_epoch; /* epoch -1: none; else truncate to it */
    st_raft_offset_epoch_t snapshot_id;     /* epoch -1: none; else FetchSnapshot it */
    /* Outbound (READ_LOG): the records to read are [read_from_offset,
     * read_end_offset), whole batches, up to read_max_bytes (at least one
     * batch). Inbound: the batches the caller parsed from the records,
     * owned by the caller for the duration of the step. */
    int64_t read_from_offset;
    int64_t read_end_offset;
    int32_t read_max_bytes;
    const st_raft_batch_t *batches;
    int32_t batch_count;
} st_raft_fetch_response_t;

typedef struct st_raft_fetch_snapshot_request {
    int32_t replica_id;
    int32_t current_leader_epoch;
    st_raft_offset_epoch_t snapshot_id;
    int64_t position;
    int32_t max_bytes;
} st_raft_fetch_snapshot_request_t;

typedef struct st_raft_fetch_snapshot_response {
    int16_t error;
    int32_t leader_id;
    int32_t leader_epoch;
    st_raft_offset_epoch_t snapshot_id;
    int64_t size_bytes; /* of the whole snapshot */
    int64_t position;   /* of this chunk */
    /* Outbound (READ_SNAPSHOT): bytes to read at `position`. Inbound: the
     * bytes the response carries. */
    int32_t chunk_bytes;
} st_raft_fetch_snapshot_response_t;

typedef struct st_raft_message {
    st_raft_message_kind_t kind;
    /* Requests: chosen by the sending core; the caller uses it as the wire
     * correlation id. Responses: the request's, so the sender can match. */
    int32_t correlation_id;
    union {
        st_raft_vote_request_t vote_request;
        st_raft_vote_response_t vote_response;
        st_raft_begin_epoch_request_t begin_epoch_request;
        st_raft_end_epoch_request_t end_epoch_request;
        st_raft_epoch_response_t epoch_response; /* BEGIN_ and END_EPOCH_RESPONSE */
        st_raft_fetch_request_t fetch_request;
        st_raft_fetch_response_t fetch_response;
        st_raft_fetch_snapshot_request_t fetch_snapshot_request;
        st_raft_fetch_snapshot_response_t fetch_snapshot_response;
    };
} st_raft_message_t;

/* ------------------------------------------------------------------ config */

typedef struct st_raft_config {
    int32_t local_id;                      /* node.id */
    int32_t voters[ST_RAFT_VOTERS_MAX];    /* controller.quorum.voters' ids (static, KIP-595) */
    int32_t voter_count;
    int32_t election_timeout_ms;           /* controller.quorum.election.timeout.ms, 1000 */
    int32_t election_backoff_max_ms;       /* controller.quorum.election.backoff.max.ms, 1000 */
    int32_t fetch_timeout_ms;              /* controller.quorum.fetch.timeout.ms, 2000 */
    int32_t request_timeout_ms;            /* controller.quorum.request.timeout.ms, 2000 */
    int32_t retry_backoff_ms;              /* controller.quorum.retry.backoff.ms, 20 */
    int32_t fetch_max_wait_ms;             /* how long a Fetch may wait at the leader, 500 */
    int32_t fetch_max_bytes;               /* per Fetch/FetchSnapshot, 8 MiB as KafkaRaftClient */
    int32_t epoch_cache_max;               /* entries, ST_RAFT_EPOCH_CACHE_DEFAULT */
    uint64_t random_seed;                  /* seeds election timeouts and backoffs */
} st_raft_config_t;

/* Kafka's defaults; the caller sets local_id, voters and random_seed. */
void st_raft_config_default(st_raft_config_t *config);

/* The `quorum-state` file's contents (raft/quorum_state.h reads and writes
 * Kafka's JSON). */
typedef struct st_raft_quorum_state {
    int32_t leader_epoch;
    int32_t leader_id; /* -1: none */
    int32_t voted_id;  /* -1: none */
} st_raft_quorum_state_t;

/* What the caller recovered from disk at start. Everything below
 * log_end_offset is durable. */
typedef struct st_raft_log_state {
    int64_t log_start_offset;
    int32_t log_start_epoch;   /* epoch of the record before log_start_offset (the snapshot's); 0 at 0 */
    int64_t log_end_offset;
    const st_raft_epoch_entry_t *epochs; /* the epoch cache of [log start, log end), ascending */
    int32_t epoch_count;
    st_raft_offset_epoch_t latest_snapshot; /* epoch -1: no snapshot */
    int64_t latest_snapshot_bytes;
    int64_t high_watermark;    /* what the caller persisted as applied (0: nothing) */
} st_raft_log_state_t;

/* ------------------------------------------------------------------ events */

typedef enum st_raft_event_kind {
    ST_RAFT_EVENT_TICK = 1,       /* time passed */
    ST_RAFT_EVENT_RECEIVE,        /* a message arrived from node `from` */
    ST_RAFT_EVENT_SEND_FAILED,    /* a request to `to` could not be delivered */
    ST_RAFT_EVENT_LOG_FLUSHED,    /* the log is durable up to end_offset */
    ST_RAFT_EVENT_PROPOSE,        /* leader: append one batch of the controller's records */
    ST_RAFT_EVENT_SNAPSHOT_TAKEN, /* the caller wrote a snapshot of committed state */
    ST_RAFT_EVENT_RESIGN,         /* leader: step down (graceful shutdown) */
} st_raft_event_kind_t;

typedef struct st_raft_event {
    st_raft_event_kind_t kind;
    int64_t now_ms; /* a monotonic clock */
    union {
        struct {
            int32_t from;
            const st_raft_message_t *message;
        } receive;
        struct {
            int32_t to;
            int32_t correlation_id;
        } send_failed;
        struct {
            int64_t end_offset;
        } log_flushed;
        struct {
            int32_t record_count;
            bool control; /* a control batch (e.g. KRaft's voters records, later) */
        } propose;
        struct {
            st_raft_offset_epoch_t snapshot_id; /* end offset <= the committed offset */
            int64_t size_bytes;
            int64_t log_start_offset; /* unchanged, or snapshot_id.offset if the prefix was deleted */
        } snapshot;
    };
} st_raft_event_t;

/* ----------------------------------------------------------------- actions */

typedef enum st_raft_action_kind {
    ST_RAFT_ACTION_PERSIST_STATE = 1, /* write quorum-state, durably, before going on */
    ST_RAFT_ACTION_TRUNCATE,          /* remove offsets >= end_offset from the log, durably */
    ST_RAFT_ACTION_APPEND,            /* write batches at the log end */
    ST_RAFT_ACTION_SEND,              /* send `message` to `node` */
    ST_RAFT_ACTION_READ_LOG,          /* fill the fetch response's records from the log, send */
    ST_RAFT_ACTION_READ_SNAPSHOT,     /* fill the FetchSnapshot response's chunk, send */
    ST_RAFT_ACTION_WRITE_SNAPSHOT,    /* write the received chunk into the partial snapshot, durably */
    ST_RAFT_ACTION_LOAD_SNAPSHOT,     /* the fetched snapshot is whole: keep it, empty the log
                                       * (it starts at the snapshot's end offset), load the state */
    ST_RAFT_ACTION_COMMITTED,         /* records below high_watermark are committed */
    ST_RAFT_ACTION_BECAME_LEADER,     /* this node leads `epoch` (after its LeaderChange record) */
    ST_RAFT_ACTION_BECAME_FOLLOWER,   /* `leader_id` leads `epoch` */
    ST_RAFT_ACTION_LEADER_UNKNOWN,    /* a new `epoch` began; its leader is not known yet */
    ST_RAFT_ACTION_RESIGNED,          /* this node stopped leading `epoch` */
} st_raft_action_kind_t;

typedef enum st_raft_append_source {
    ST_RAFT_APPEND_FETCHED = 1,   /* batches [batch_first, +batch_count) of the fetch response stepped */
    ST_RAFT_APPEND_PROPOSED,      /* the PROPOSE event's batch, stamped with base_offset and epoch */
    ST_RAFT_APPEND_LEADER_CHANGE, /* a LEADER_CHANGE control batch of one record (leader_change below) */
} st_raft_append_source_t;

typedef struct st_raft_append {
    st_raft_append_source_t source;
    int64_t base_offset;
    int64_t end_offset; /* exclusive */
    int32_t epoch;      /* of the last batch (all of them for PROPOSED and LEADER_CHANGE) */
    int32_t batch_first;
    int32_t batch_count;
    struct {
        int32_t leader_id;
        uint32_t voters_mask;   /* bit i: config voters[i] */
        uint32_t granting_mask; /* voters that voted for the leader */
    } leader_change;
} st_raft_append_t;

typedef struct st_raft_action {
    st_raft_action_kind_t kind;
    union {
        st_raft_quorum_state_t persist;       /* PERSIST_STATE */
        int64_t truncate_end_offset;          /* TRUNCATE */
        st_raft_append_t append;              /* APPEND */
        struct {
            int32_t node;
            st_raft_message_t message;
        } send;                               /* SEND, READ_LOG, READ_SNAPSHOT */
        struct {
            st_raft_offset_epoch_t snapshot_id;
            int64_t position;
            int32_t bytes;
            int64_t size_bytes;
        } snapshot;                           /* WRITE_SNAPSHOT, LOAD_SNAPSHOT */
        int64_t high_watermark;               /* COMMITTED */
        struct {
            int32_t epoch;
            int32_t leader_id;
        } leader;                             /* BECAME_*, LEADER_UNKNOWN, RESIGNED */
    };
} st_raft_action_t;

/* One step's output; the caller owns it (it is large: keep one around). */
typedef struct st_raft_update {
    st_raft_action_t actions[ST_RAFT_ACTIONS_MAX];
    int32_t count;
} st_raft_update_t;

/* --------------------------------------------------------------- interface */

/* Checks the config and the recovered state and allocates the core (the
 * only allocation). `persisted` NULL: no quorum-state file yet. The core
 * starts in the state Kafka's QuorumState.initialize picks; the first step
 * (a TICK at now) sends what that state sends. Returns 0, ST_ERR_INVALID_REQUEST
 * for an invalid config or state, or ST_ERR_NO_MEMORY. The caller frees the
 * core with st_raft_destroy. */
int st_raft_create(const st_raft_config_t *config, const st_raft_quorum_state_t *persisted,
                   const st_raft_log_state_t *log, int64_t now_ms, st_raft_t **out);
void st_raft_destroy(st_raft_t *core);

/* Handles one event, then does what the (new) state does at this time:
 * timers, pending requests. Returns 0; ST_ERR_NOT_LEADER_OR_FOLLOWER when a
 * PROPOSE or RESIGN reaches a node that is not the leader;
 * ST_ERR_INVALID_REQUEST for an event that breaks its contract (a snapshot
 * beyond the committed offset, a flush beyond the log end). Messages from
 * the network never make it fail: bad ones get Kafka's error in the
 * response, or are dropped and counted (st_raft_stats). */
int st_raft_step(st_raft_t *core, const st_raft_event_t *event, st_raft_update_t *out);

/* When the core next needs a TICK (INT64_MAX: only events wake it). */
int64_t st_raft_next_tick_ms(const st_raft_t *core);

st_raft_role_t st_raft_role(const st_raft_t *core);
int32_t st_raft_epoch(const st_raft_t *core);
int32_t st_raft_leader_id(const st_raft_t *core); /* -1: unknown */
int32_t st_raft_voted_id(const st_raft_t *core);
bool st_raft_is_voter(const st_raft_t *core);
/* Committed and durable here: what COMMITTED last said. */
int64_t st_raft_high_watermark(const st_raft_t *core);
int64_t st_raft_log_end_offset(const st_raft_t *core);
int64_t st_raft_log_start_offset(const st_raft_t *core);
/* Epoch of the last record (or of the snapshot at the log start). */
int32_t st_raft_last_epoch(const st_raft_t *core);
st_raft_offset_epoch_t st_raft_latest_snapshot(const st_raft_t *core);

/* DescribeQuorum (KIP-595, KIP-836): the leader's view of the voters and
 * observers. `error` is NOT_LEADER_OR_FOLLOWER on any other node. */
typedef struct st_raft_replica_description {
    int32_t replica_id;
    int64_t log_end_offset;      /* -1: unknown */
    int64_t last_fetch_ms;       /* -1: never */
    int64_t last_caught_up_ms;   /* -1: never */
} st_raft_replica_description_t;

typedef struct st_raft_description {
    int16_t error;
    int32_t leader_id;
    int32_t leader_epoch;
    int64_t high_watermark;
    st_raft_replica_description_t voters[ST_RAFT_VOTERS_MAX];
    int32_t voter_count;
    st_raft_replica_description_t observers[ST_RAFT_OBSERVERS_MAX];
    int32_t observer_count;
} st_raft_description_t;

void st_raft_describe(const st_raft_t *core, int64_t now_ms, st_raft_description_t *out);

/* Counters of messages the core dropped, for the caller's metrics. */
typedef struct st_raft_stats {
    uint64_t stale_responses;    /* no request of ours waited for it */
    uint64_t rejected_responses; /* inconsistent with our log or state */
    uint64_t rejected_requests;  /* answered with an error */
    uint64_t elections;          /* times this node became candidate */
} st_raft_stats_t;

void st_raft_stats(const st_raft_t *core, st_raft_stats_t *out);

#endif
