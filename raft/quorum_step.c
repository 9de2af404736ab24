/* The Raft core's transitions: state changes, elections (KIP-595, KIP-996),
 * begin/end epoch, the leader and the follower, poll, st_raft_step. See
 * quorum_internal.h for the invariants. */
#include "raft/quorum_internal.h"

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
    raft_persist_if_changed(c, out);
    if (old_role == ST_RAFT_LEADER)
        raft_release_parked_with_error(c, out, epoch > old_epoch ? ST_ERR_FENCED_LEADER_EPOCH : ST_ERR_NOT_LEADER_OR_FOLLOWER);
    raft_forget_requests(c);
    c->granted_mask = c->rejected_mask = 0;
    c->backing_off = false;
    c->fetching_snapshot = false;
    c->discovering = false;
    if (role == ST_RAFT_LEADER || role == ST_RAFT_RESIGNED) return; /* their own actions say it */
    st_raft_action_t *a = NULL;
    if (leader_id >= 0 && leader_id != c->config.local_id && (leader_id != old_leader || epoch != old_epoch))
        a = raft_emit(out, ST_RAFT_ACTION_BECAME_FOLLOWER);
    else if (leader_id < 0 && (epoch != old_epoch || old_leader >= 0))
        a = raft_emit(out, ST_RAFT_ACTION_LEADER_UNKNOWN);
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
    c->election_deadline_ms = c->now_ms + raft_random_election_timeout_ms(c);
    c->discovering = !raft_is_voter(c);
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
    RAFT_INVARIANT(leader_id >= 0 && leader_id != c->config.local_id && raft_voter_index(c, leader_id) >= 0);
    transition(c, out, ST_RAFT_FOLLOWER, epoch, leader_id, epoch == c->epoch ? c->voted_id : NO_NODE);
    c->fetch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms;
    c->fetched_from_leader = false;
    c->fetch_target = raft_voter_index(c, leader_id);
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
    RAFT_INVARIANT(raft_is_voter(c) && c->role != ST_RAFT_LEADER && c->role != ST_RAFT_PROSPECTIVE);
    transition(c, out, ST_RAFT_PROSPECTIVE, c->epoch, c->leader_id, c->voted_id);
    c->granted_mask = raft_local_bit(c);
    c->election_deadline_ms = c->now_ms + raft_random_election_timeout_ms(c);
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
    RAFT_INVARIANT(raft_is_voter(c) && c->role == ST_RAFT_PROSPECTIVE);
    c->stats.elections++;
    c->election_retries++;
    transition(c, out, ST_RAFT_CANDIDATE, c->epoch + 1, NO_NODE, c->config.local_id);
    c->granted_mask = raft_local_bit(c);
    c->election_deadline_ms = c->now_ms + raft_random_election_timeout_ms(c);
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
    RAFT_INVARIANT(c->role == ST_RAFT_CANDIDATE && raft_popcount32(c->granted_mask) >= c->majority);
    uint32_t granting = c->granted_mask;
    transition(c, out, ST_RAFT_LEADER, c->epoch, c->config.local_id, c->voted_id);
    c->election_retries = 0;
    for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++)
        raft_reset_replica(&c->replicas[i], i < c->config.voter_count ? c->config.voters[i] : NO_NODE);
    c->epoch_start_offset = c->log_end_offset;
    c->check_quorum_mask = 0;
    c->check_quorum_deadline_ms =
        c->now_ms + (int64_t)c->config.fetch_timeout_ms * CHECK_QUORUM_FACTOR_NUM / CHECK_QUORUM_FACTOR_DEN;
    c->begin_epoch_pending_mask = raft_all_voters_mask(c) & ~raft_local_bit(c);
    c->begin_epoch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms / 2;
    /* poll_prospective checked that the cache has room for this epoch. */
    bool assigned = raft_epoch_cache_assign(c, c->epoch, c->log_end_offset);
    RAFT_INVARIANT(assigned);
    st_raft_action_t *a = raft_emit(out, ST_RAFT_ACTION_APPEND);
    a->append = (st_raft_append_t){.source = ST_RAFT_APPEND_LEADER_CHANGE, .base_offset = c->log_end_offset,
                                   .end_offset = c->log_end_offset + 1, .epoch = c->epoch,
                                   .leader_change = {c->config.local_id, raft_all_voters_mask(c), granting}};
    c->log_end_offset++;
    set_leader_action(raft_emit(out, ST_RAFT_ACTION_BECAME_LEADER), c->epoch, c->config.local_id);
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
        int64_t end = raft_voter_replica(c, i)->end_offset;
        while (at > 0 && raft_voter_replica(c, raft_voter_index(c, c->successors[at - 1]))->end_offset < end) {
            c->successors[at] = c->successors[at - 1];
            at--;
        }
        c->successors[at] = c->config.voters[i];
    }
    transition(c, out, ST_RAFT_RESIGNED, c->epoch, c->config.local_id, c->voted_id);
    c->end_epoch_acked_mask = 0;
    c->election_deadline_ms = c->now_ms + raft_random_election_timeout_ms(c);
    set_leader_action(raft_emit(out, ST_RAFT_ACTION_RESIGNED), c->epoch, c->config.local_id);
}

/* Kafka's maybeTransition: a request or response named (leader, epoch). */
static void learn_leader(st_raft_t *c, st_raft_update_t *out, int32_t leader_id, int32_t epoch) {
    if (leader_id >= 0 && raft_voter_index(c, leader_id) < 0) {
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
        if (error != ST_ERR_NONE) raft_back_off_requests_to(c, raft_voter_index(c, from));
        return true;
    }
    if (leader_id >= 0 && c->leader_id < 0 && c->role != ST_RAFT_LEADER) {
        learn_leader(c, out, leader_id, epoch);
        return error != ST_ERR_NONE || c->role != ST_RAFT_FOLLOWER;
    }
    if (error != ST_ERR_NONE) {
        raft_back_off_requests_to(c, raft_voter_index(c, from));
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
    if (raft_voter_index(c, r->candidate_id) < 0) {
        error = ST_ERR_INCONSISTENT_VOTER_SET;
    } else if (r->candidate_id == c->config.local_id || r->last_offset < 0 || r->last_offset_epoch < 0 ||
               r->candidate_epoch < 0 || r->candidate_epoch > ST_RAFT_EPOCH_MAX || illegal_epoch) {
        error = ST_ERR_INVALID_REQUEST;
    } else if (r->candidate_epoch < c->epoch) {
        error = ST_ERR_FENCED_LEADER_EPOCH;
    } else {
        if (r->candidate_epoch > c->epoch) to_unattached(c, out, r->candidate_epoch);
        if (raft_is_voter(c)) {
            bool up_to_date = raft_compare_log_end(r->last_offset_epoch, r->last_offset, raft_last_epoch(c),
                                              c->log_end_offset) >= 0;
            granted = can_grant(c, r->candidate_id, up_to_date, r->pre_vote);
            if (granted && !r->pre_vote && c->role == ST_RAFT_UNATTACHED && c->voted_id == NO_NODE) {
                c->voted_id = r->candidate_id;
                raft_persist_if_changed(c, out);
                /* The candidate has as good a chance as we do: wait for it. */
                c->election_deadline_ms = c->now_ms + raft_random_election_timeout_ms(c);
            }
        }
    }
    if (error != ST_ERR_NONE) c->stats.rejected_requests++;
    st_raft_message_t *resp = raft_reply(out, ST_RAFT_ACTION_SEND, r->candidate_id, m->correlation_id,
                                    ST_RAFT_MSG_VOTE_RESPONSE);
    resp->vote_response = (st_raft_vote_response_t){error, c->leader_id, c->epoch, granted};
}

static void handle_vote_response(st_raft_t *c, st_raft_update_t *out, int32_t from, const st_raft_message_t *m) {
    bool pre_vote = false;
    if (!raft_take_response(c, from, m, &pre_vote)) {
        c->stats.stale_responses++;
        return;
    }
    const st_raft_vote_response_t *r = &m->vote_response;
    if (handle_common_response(c, out, from, r->error, r->leader_id, r->leader_epoch)) return;
    bool counts = (c->role == ST_RAFT_PROSPECTIVE && pre_vote) || (c->role == ST_RAFT_CANDIDATE && !pre_vote);
    if (!counts) return;
    uint32_t bit = 1u << raft_voter_index(c, from);
    if (r->vote_granted) c->granted_mask |= bit;
    else c->rejected_mask |= bit;
    /* poll() acts on a majority either way. */
}

/* ------------------------------------------------------- begin/end epoch */

static void reply_epoch(st_raft_t *c, st_raft_update_t *out, const st_raft_message_t *m, int32_t to,
                        st_raft_message_kind_t kind, int16_t error) {
    if (error != ST_ERR_NONE) c->stats.rejected_requests++;
    st_raft_message_t *resp = raft_reply(out, ST_RAFT_ACTION_SEND, to, m->correlation_id, kind);
    resp->epoch_response = (st_raft_epoch_response_t){error, c->leader_id, c->epoch};
}

/* Kafka's validateVoterOnlyRequest, plus: the named leader must be one of
 * the static voters, and not us. */
static int16_t validate_leader_claim(const st_raft_t *c, int32_t leader_id, int32_t epoch) {
    if (leader_id < 0 || epoch < 0 || epoch > ST_RAFT_EPOCH_MAX || leader_id == c->config.local_id)
        return ST_ERR_INVALID_REQUEST;
    if (raft_voter_index(c, leader_id) < 0) return ST_ERR_INCONSISTENT_VOTER_SET;
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
    return raft_min64(max, base << (position - 1));
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
    if (!raft_take_response(c, from, m, NULL)) {
        c->stats.stale_responses++;
        return;
    }
    const st_raft_epoch_response_t *r = &m->epoch_response;
    if (handle_common_response(c, out, from, r->error, r->leader_id, r->leader_epoch)) return;
    if (m->kind == ST_RAFT_MSG_END_EPOCH_RESPONSE && c->role == ST_RAFT_RESIGNED)
        c->end_epoch_acked_mask |= 1u << raft_voter_index(c, from);
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
    st_raft_offset_epoch_t end = raft_end_offset_for_epoch(c, last_fetched_epoch);
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
            raft_answer_parked(c, out, r);
    }
}

/* The largest offset a majority of voters hold durably (the leader counts
 * its flushed end), if it is above the epoch's start. */
static void advance_high_watermark(st_raft_t *c, st_raft_update_t *out) {
    if (c->role != ST_RAFT_LEADER) return;
    int64_t ends[ST_RAFT_VOTERS_MAX];
    int32_t n = c->config.voter_count;
    for (int32_t i = 0; i < n; i++)
        ends[i] = i == c->local_index ? c->flushed_end_offset : raft_voter_replica(c, i)->end_offset;
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
        raft_update_committed(c, out);
        complete_parked_fetches(c, out);
    }
}

static void note_voter_contact(st_raft_t *c, int32_t vidx) {
    if (vidx < 0) return;
    c->check_quorum_mask |= 1u << vidx;
    if (raft_popcount32(c->check_quorum_mask | raft_local_bit(c)) >= c->majority) {
        c->check_quorum_mask = 0;
        c->check_quorum_deadline_ms =
            c->now_ms + (int64_t)c->config.fetch_timeout_ms * CHECK_QUORUM_FACTOR_NUM / CHECK_QUORUM_FACTOR_DEN;
    }
}

/* Kafka's ReplicaState.updateFollowerState. */
static void note_fetch(st_raft_t *c, replica_t *r, int64_t fetch_offset) {
    int64_t previous_fetch_ms = r->last_fetch_ms;
    r->last_fetch_ms = raft_max64(r->last_fetch_ms, c->now_ms);
    if (fetch_offset >= c->log_end_offset)
        r->last_caught_up_ms = raft_max64(r->last_caught_up_ms, c->now_ms);
    else if (r->last_fetch_leader_end_offset > 0 && fetch_offset >= r->last_fetch_leader_end_offset)
        r->last_caught_up_ms = raft_max64(r->last_caught_up_ms, previous_fetch_ms);
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
        st_raft_message_t *resp = raft_reply(out, ST_RAFT_ACTION_SEND, r->replica_id, m->correlation_id,
                                        ST_RAFT_MSG_FETCH_RESPONSE);
        raft_fill_fetch_response(c, &resp->fetch_response, error);
        return;
    }
    st_raft_offset_epoch_t at;
    offset_check_t check = check_fetch_position(c, r->fetch_offset, r->last_fetched_epoch, &at);
    int32_t vidx = raft_voter_index(c, r->replica_id);
    note_voter_contact(c, vidx);
    if (check != OFFSET_VALID) {
        st_raft_message_t *resp = raft_reply(out, ST_RAFT_ACTION_SEND, r->replica_id, m->correlation_id,
                                        ST_RAFT_MSG_FETCH_RESPONSE);
        raft_fill_fetch_response(c, &resp->fetch_response, ST_ERR_NONE);
        if (check == OFFSET_DIVERGING) resp->fetch_response.diverging_epoch = at;
        else resp->fetch_response.snapshot_id = at;
        return;
    }
    replica_t *rep = r->replica_id >= 0 ? raft_replica_for(c, out, r->replica_id) : NULL;
    if (rep) {
        raft_answer_parked(c, out, rep); /* a newer fetch replaces it */
        note_fetch(c, rep, r->fetch_offset);
        if (vidx >= 0) advance_high_watermark(c, out);
    }
    int32_t max_bytes = r->max_bytes > 0 && r->max_bytes < c->config.fetch_max_bytes ? r->max_bytes
                                                                                      : c->config.fetch_max_bytes;
    if (r->fetch_offset < c->log_end_offset || r->max_wait_ms == 0 || !rep) {
        raft_answer_fetch(c, out, r->replica_id, m->correlation_id, r->fetch_offset, max_bytes);
        return;
    }
    /* Nothing new: hold it until there is, or its wait is over (bounded so
     * the fetcher does not time out first). */
    int64_t wait_ms = raft_min64(r->max_wait_ms, c->config.request_timeout_ms / 2);
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
    st_raft_message_t *resp = raft_reply(out, kind, r->replica_id, m->correlation_id, ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE);
    st_raft_fetch_snapshot_response_t *s = &resp->fetch_snapshot_response;
    s->error = error;
    s->leader_id = c->leader_id;
    s->leader_epoch = c->epoch;
    s->snapshot_id = r->snapshot_id;
    if (error != ST_ERR_NONE) {
        c->stats.rejected_requests++;
        return;
    }
    note_voter_contact(c, raft_voter_index(c, r->replica_id));
    int64_t max_bytes = r->max_bytes > 0 && r->max_bytes < c->config.fetch_max_bytes ? r->max_bytes
                                                                                      : c->config.fetch_max_bytes;
    s->size_bytes = c->snapshot_bytes;
    s->position = r->position;
    s->chunk_bytes = (int32_t)raft_min64(max_bytes, c->snapshot_bytes - r->position);
}

/* ---------------------------------------------------------- the follower */

/* Kafka's KafkaMetadataLog.truncateToEndOffset. */
static int64_t truncation_offset(const st_raft_t *c, st_raft_offset_epoch_t diverging) {
    st_raft_offset_epoch_t local = raft_end_offset_for_epoch(c, diverging.epoch);
    if (local.epoch == diverging.epoch) return raft_min64(local.offset, diverging.offset);
    return local.offset;
}

static void truncate_log(st_raft_t *c, st_raft_update_t *out, int64_t end_offset) {
    if (end_offset >= c->log_end_offset) return;
    RAFT_INVARIANT(end_offset >= c->high_watermark && end_offset >= c->log_start_offset);
    raft_epoch_cache_truncate_end(c, end_offset);
    c->log_end_offset = end_offset;
    c->flushed_end_offset = raft_min64(c->flushed_end_offset, end_offset);
    raft_emit(out, ST_RAFT_ACTION_TRUNCATE)->truncate_end_offset = end_offset;
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
    int32_t epoch = raft_last_epoch(c);
    int32_t taken = 0;
    for (int32_t i = first; i < count; i++) {
        const st_raft_batch_t *b = &r->batches[i];
        if (b->base_offset != next || b->record_count <= 0 || b->record_count > ST_RAFT_PROPOSE_RECORDS_MAX ||
            b->epoch < epoch || b->epoch > c->epoch)
            break;
        if ((b->epoch > epoch || c->epoch_count == 0) && !raft_epoch_cache_assign(c, b->epoch, next)) break; /* full */
        epoch = b->epoch;
        next += b->record_count;
        taken++;
    }
    if (taken == 0) {
        if (count > first) c->stats.rejected_responses++;
        return;
    }
    st_raft_action_t *a = raft_emit(out, ST_RAFT_ACTION_APPEND);
    a->append = (st_raft_append_t){.source = ST_RAFT_APPEND_FETCHED, .base_offset = c->log_end_offset,
                                   .end_offset = next, .epoch = epoch, .batch_first = first, .batch_count = taken};
    c->log_end_offset = next;
}

static void learn_high_watermark(st_raft_t *c, st_raft_update_t *out, int64_t leader_high_watermark) {
    if (leader_high_watermark < 0) return;
    /* Our log matches the leader's up to our end (the fetch was valid). */
    int64_t hw = raft_min64(leader_high_watermark, c->log_end_offset);
    if (hw > c->high_watermark) c->high_watermark = hw;
    raft_update_committed(c, out);
}

static void fetch_succeeded(st_raft_t *c) {
    c->fetched_from_leader = true;
    c->discovering = false;
    c->fetch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms;
}

static void handle_fetch_response(st_raft_t *c, st_raft_update_t *out, int32_t from, const st_raft_message_t *m) {
    if (!raft_take_response(c, from, m, NULL)) {
        c->stats.stale_responses++;
        return;
    }
    const st_raft_fetch_response_t *r = &m->fetch_response;
    bool observer_looking = c->discovering;
    if (handle_common_response(c, out, from, r->error, r->leader_id, r->leader_epoch) ||
        c->role != ST_RAFT_FOLLOWER || from != c->leader_id) {
        if (observer_looking && c->discovering) { /* ask the next voter */
            c->fetch_target = (c->fetch_target + 1) % c->config.voter_count;
            raft_back_off_requests_to(c, raft_voter_index(c, from));
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
    st_raft_action_t *a = raft_emit(out, ST_RAFT_ACTION_LOAD_SNAPSHOT);
    a->snapshot.snapshot_id = id;
    a->snapshot.size_bytes = size_bytes;
    c->log_start_offset = c->log_end_offset = c->flushed_end_offset = id.offset;
    c->log_start_epoch = id.epoch;
    c->epoch_count = 0;
    c->snapshot_id = id;
    c->snapshot_bytes = size_bytes;
    c->high_watermark = raft_max64(c->high_watermark, id.offset);
    c->committed = raft_max64(c->committed, id.offset); /* the state machine is at the snapshot now */
    c->fetching_snapshot = false;
}

static void handle_fetch_snapshot_response(st_raft_t *c, st_raft_update_t *out, int32_t from,
                                           const st_raft_message_t *m) {
    if (!raft_take_response(c, from, m, NULL)) {
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
    st_raft_action_t *a = raft_emit(out, ST_RAFT_ACTION_WRITE_SNAPSHOT);
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
        if (i == c->local_index || ((c->granted_mask | c->rejected_mask) >> i & 1u) || !raft_can_send(c, i)) continue;
        st_raft_message_t *m = raft_send_request(c, out, i, ST_RAFT_MSG_VOTE_REQUEST);
        m->vote_request = (st_raft_vote_request_t){c->epoch, c->config.local_id, raft_last_epoch(c), c->log_end_offset,
                                                   pre_vote};
        c->outbound[i].pre_vote = pre_vote;
    }
}

static void send_fetch(st_raft_t *c, st_raft_update_t *out, int32_t vidx) {
    if (vidx < 0 || vidx == c->local_index || !raft_can_send(c, vidx) || !log_durable(c)) return;
    if (c->fetching_snapshot) {
        st_raft_message_t *m = raft_send_request(c, out, vidx, ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST);
        m->fetch_snapshot_request = (st_raft_fetch_snapshot_request_t){
            c->config.local_id, c->epoch, c->fetching_snapshot_id, c->fetching_snapshot_position,
            c->config.fetch_max_bytes};
        return;
    }
    st_raft_message_t *m = raft_send_request(c, out, vidx, ST_RAFT_MSG_FETCH_REQUEST);
    m->fetch_request = (st_raft_fetch_request_t){c->config.local_id, c->epoch, c->log_end_offset, raft_last_epoch(c),
                                                 c->config.fetch_max_wait_ms, c->config.fetch_max_bytes};
}

/* Each poll_* does what its state does at now_ms; true when the state changed. */

static bool poll_unattached(st_raft_t *c, st_raft_update_t *out) {
    if (!raft_is_voter(c)) {
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
    if (raft_popcount32(c->granted_mask) >= c->majority) {
        if (raft_epoch_cache_full(c) || c->epoch >= ST_RAFT_EPOCH_MAX) { /* cannot start a new epoch: let another lead */
            prospective_lost(c, out);
            return true;
        }
        to_candidate(c, out);
        return true;
    }
    if (raft_popcount32(c->rejected_mask) > c->config.voter_count - c->majority || c->now_ms >= c->election_deadline_ms) {
        prospective_lost(c, out);
        return true;
    }
    send_votes(c, out, true);
    return false;
}

static bool poll_candidate(st_raft_t *c, st_raft_update_t *out) {
    if (raft_popcount32(c->granted_mask) >= c->majority) {
        to_leader(c, out);
        return true;
    }
    if (c->backing_off) {
        if (c->now_ms < c->backoff_until_ms) return false;
        to_prospective(c, out);
        return true;
    }
    if (raft_popcount32(c->rejected_mask) > c->config.voter_count - c->majority || c->now_ms >= c->election_deadline_ms) {
        c->backing_off = true;
        c->backoff_until_ms = c->now_ms + raft_election_backoff_ms(c);
        return false;
    }
    send_votes(c, out, false);
    return false;
}

static bool poll_leader(st_raft_t *c, st_raft_update_t *out) {
    for (int32_t i = 0; i < ST_RAFT_REPLICAS_MAX; i++)
        if (c->replicas[i].parked.active && c->now_ms >= c->replicas[i].parked.deadline_ms)
            raft_answer_parked(c, out, &c->replicas[i]);
    if (c->majority > 1 && c->now_ms >= c->check_quorum_deadline_ms) {
        to_resigned(c, out);
        return true;
    }
    if (c->now_ms >= c->begin_epoch_deadline_ms) {
        /* Kafka re-sends BeginQuorumEpoch periodically, so a voter that
         * missed the election learns of it; here to those not fetching. */
        for (int32_t i = 0; i < c->config.voter_count; i++) {
            const replica_t *r = raft_voter_replica(c, i);
            if (i != c->local_index &&
                (r->last_fetch_ms < 0 || c->now_ms - r->last_fetch_ms >= c->config.fetch_timeout_ms / 2))
                c->begin_epoch_pending_mask |= 1u << i;
        }
        c->begin_epoch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms / 2;
    }
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        if (!(c->begin_epoch_pending_mask >> i & 1u) || !raft_can_send(c, i)) continue;
        c->begin_epoch_pending_mask &= ~(1u << i);
        st_raft_message_t *m = raft_send_request(c, out, i, ST_RAFT_MSG_BEGIN_EPOCH_REQUEST);
        m->begin_epoch_request = (st_raft_begin_epoch_request_t){c->config.local_id, c->epoch};
    }
    return false;
}

static bool poll_follower(st_raft_t *c, st_raft_update_t *out) {
    if (c->now_ms >= c->fetch_deadline_ms) {
        if (raft_is_voter(c)) {
            to_prospective(c, out);
            return true;
        }
        /* An observer asks the voters in turn who leads now. */
        c->discovering = true;
        c->fetching_snapshot = false;
        c->fetch_target = (c->fetch_target + 1) % c->config.voter_count;
        c->fetch_deadline_ms = c->now_ms + c->config.fetch_timeout_ms;
    }
    send_fetch(c, out, c->discovering ? c->fetch_target : raft_voter_index(c, c->leader_id));
    return false;
}

static bool poll_resigned(st_raft_t *c, st_raft_update_t *out) {
    if (c->now_ms >= c->election_deadline_ms || c->config.voter_count == 1) {
        to_prospective(c, out);
        return true;
    }
    for (int32_t i = 0; i < c->config.voter_count; i++) {
        if (i == c->local_index || (c->end_epoch_acked_mask >> i & 1u) || !raft_can_send(c, i)) continue;
        st_raft_message_t *m = raft_send_request(c, out, i, ST_RAFT_MSG_END_EPOCH_REQUEST);
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
    int64_t flushed = raft_min64(end_offset, c->log_end_offset);
    if (flushed <= c->flushed_end_offset) return;
    c->flushed_end_offset = flushed;
    if (c->role == ST_RAFT_LEADER) advance_high_watermark(c, out);
    raft_update_committed(c, out);
}

static int handle_propose(st_raft_t *c, st_raft_update_t *out, int32_t record_count) {
    if (c->role != ST_RAFT_LEADER) return ST_ERR_NOT_LEADER_OR_FOLLOWER;
    if (record_count <= 0 || record_count > ST_RAFT_PROPOSE_RECORDS_MAX) return ST_ERR_INVALID_REQUEST;
    /* A snapshot up to the log end may have emptied the cache. */
    bool assigned = raft_epoch_cache_assign(c, c->epoch, c->log_end_offset);
    RAFT_INVARIANT(assigned);
    st_raft_action_t *a = raft_emit(out, ST_RAFT_ACTION_APPEND);
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
    int32_t epoch = id.offset == c->log_start_offset ? c->log_start_epoch : raft_epoch_of_offset(c, id.offset - 1);
    if (id.epoch != epoch) return ST_ERR_INVALID_REQUEST;
    if (log_start != c->log_start_offset && log_start != id.offset) return ST_ERR_INVALID_REQUEST;
    c->snapshot_id = id;
    c->snapshot_bytes = size_bytes;
    if (log_start != c->log_start_offset) {
        raft_epoch_cache_truncate_start(c, log_start);
        c->log_start_offset = log_start;
        c->log_start_epoch = id.epoch;
    }
    return 0;
}

#ifndef NDEBUG
/* The whole-structure check of the invariants at the top (debug builds:
 * after every step). */
void raft_check_core(const st_raft_t *c) {
    RAFT_INVARIANT(0 <= c->log_start_offset && c->log_start_offset <= c->flushed_end_offset &&
                   c->flushed_end_offset <= c->log_end_offset);
    RAFT_INVARIANT(c->committed >= raft_min64(c->high_watermark, c->flushed_end_offset) &&
                   c->committed <= c->high_watermark && c->committed <= c->flushed_end_offset);
    RAFT_INVARIANT(c->high_watermark <= c->log_end_offset || c->role != ST_RAFT_LEADER);
    RAFT_INVARIANT(c->epoch_count == 0 || c->epochs[0].start_offset == c->log_start_offset);
    RAFT_INVARIANT(c->epoch_count > 0 || c->log_end_offset == c->log_start_offset);
    for (int32_t i = 0; i < c->epoch_count; i++) {
        RAFT_INVARIANT(c->epochs[i].start_offset < c->log_end_offset);
        RAFT_INVARIANT(i == 0 || (c->epochs[i].epoch > c->epochs[i - 1].epoch &&
                                  c->epochs[i].start_offset > c->epochs[i - 1].start_offset));
    }
    RAFT_INVARIANT(raft_last_epoch(c) <= c->epoch);
    RAFT_INVARIANT(c->log_start_offset == 0 ||
                   (c->snapshot_id.epoch >= 0 && c->snapshot_id.offset >= c->log_start_offset));
    RAFT_INVARIANT(c->role != ST_RAFT_LEADER || c->leader_id == c->config.local_id);
}
#endif

int st_raft_step(st_raft_t *c, const st_raft_event_t *e, st_raft_update_t *out) {
    out->count = 0;
    if (e->now_ms > c->now_ms) c->now_ms = e->now_ms;
    if (c->persist_pending) raft_persist_if_changed(c, out);
    int rc = 0;
    switch (e->kind) {
    case ST_RAFT_EVENT_TICK: break;
    case ST_RAFT_EVENT_RECEIVE:
        if (e->receive.message) handle_receive(c, out, e->receive.from, e->receive.message);
        break;
    case ST_RAFT_EVENT_SEND_FAILED: {
        int32_t vidx = raft_voter_index(c, e->send_failed.to);
        if (vidx >= 0 && c->outbound[vidx].in_flight &&
            c->outbound[vidx].correlation_id == e->send_failed.correlation_id) {
            c->outbound[vidx].in_flight = false;
            raft_back_off_requests_to(c, vidx);
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
    raft_check_core(c);
#endif
    return rc;
}

