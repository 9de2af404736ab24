/*
 * The Raft core (raft/quorum.h), one behaviour at a time with hand-made
 * events: the order of actions (persist before send), elections with
 * pre-vote, one vote per epoch, Kafka's errors for stale and foreign
 * requests, diverging epochs and snapshots at the leader, truncation,
 * appends and the high watermark at a follower, restarts, check quorum,
 * DescribeQuorum. The simulation (tests/sim) covers the interleavings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "raft/quorum.h"

static st_raft_update_t up; /* large: one for all tests */

static st_raft_config_t config(int32_t local, int32_t voters) {
    st_raft_config_t c;
    st_raft_config_default(&c);
    c.local_id = local;
    c.voter_count = voters;
    for (int32_t i = 0; i < voters; i++) c.voters[i] = i + 1;
    c.random_seed = 42;
    return c;
}

static st_raft_log_state_t empty_log(void) {
    return (st_raft_log_state_t){.latest_snapshot = {-1, -1}};
}

static st_raft_t *create(int32_t local, int32_t voters, const st_raft_quorum_state_t *qs,
                         const st_raft_log_state_t *log) {
    st_raft_config_t c = config(local, voters);
    st_raft_log_state_t empty = empty_log();
    st_raft_t *core;
    assert_int_equal(st_raft_create(&c, qs, log ? log : &empty, 0, &core), 0);
    return core;
}

static int step(st_raft_t *c, st_raft_event_t e) { return st_raft_step(c, &e, &up); }
static int tick(st_raft_t *c, int64_t now) { return step(c, (st_raft_event_t){.kind = ST_RAFT_EVENT_TICK, .now_ms = now}); }

static int receive(st_raft_t *c, int64_t now, int32_t from, st_raft_message_t m) {
    st_raft_event_t e = {.kind = ST_RAFT_EVENT_RECEIVE, .now_ms = now};
    e.receive.from = from;
    e.receive.message = &m;
    return st_raft_step(c, &e, &up);
}

static int flushed(st_raft_t *c, int64_t now, int64_t end) {
    st_raft_event_t e = {.kind = ST_RAFT_EVENT_LOG_FLUSHED, .now_ms = now};
    e.log_flushed.end_offset = end;
    return st_raft_step(c, &e, &up);
}

/* Index of the nth action of `kind` in `up` (-1: none). */
static int find(st_raft_action_kind_t kind, int nth) {
    for (int i = 0; i < up.count; i++)
        if (up.actions[i].kind == kind && nth-- == 0) return i;
    return -1;
}

static int count(st_raft_action_kind_t kind) {
    int n = 0;
    for (int i = 0; i < up.count; i++) n += up.actions[i].kind == kind;
    return n;
}

/* The message of the nth SEND (or READ_*) of message `kind`. */
static const st_raft_action_t *sent(st_raft_message_kind_t kind, int nth) {
    for (int i = 0; i < up.count; i++) {
        const st_raft_action_t *a = &up.actions[i];
        if ((a->kind == ST_RAFT_ACTION_SEND || a->kind == ST_RAFT_ACTION_READ_LOG ||
             a->kind == ST_RAFT_ACTION_READ_SNAPSHOT) &&
            a->send.message.kind == kind && nth-- == 0)
            return a;
    }
    return NULL;
}

static int index_of(const st_raft_action_t *a) { return a ? (int)(a - up.actions) : -1; }

static st_raft_message_t vote_request(int32_t epoch, int32_t candidate, int32_t last_epoch, int64_t last_offset,
                                      bool pre_vote) {
    st_raft_message_t m = {.kind = ST_RAFT_MSG_VOTE_REQUEST, .correlation_id = 77};
    m.vote_request = (st_raft_vote_request_t){epoch, candidate, last_epoch, last_offset, pre_vote};
    return m;
}

static st_raft_message_t vote_response(int32_t correlation, int32_t epoch, bool granted) {
    st_raft_message_t m = {.kind = ST_RAFT_MSG_VOTE_RESPONSE, .correlation_id = correlation};
    m.vote_response = (st_raft_vote_response_t){ST_ERR_NONE, -1, epoch, granted};
    return m;
}

static st_raft_message_t fetch_request(int32_t replica, int32_t epoch, int64_t offset, int32_t last_epoch) {
    st_raft_message_t m = {.kind = ST_RAFT_MSG_FETCH_REQUEST, .correlation_id = 500 + replica};
    m.fetch_request = (st_raft_fetch_request_t){replica, epoch, offset, last_epoch, 0, 1 << 20};
    return m;
}

/* Node 1 of three, elected in `epoch` from a persisted candidacy in it. */
static st_raft_t *leader_of_three(const st_raft_log_state_t *log, int32_t epoch) {
    st_raft_quorum_state_t qs = {epoch, -1, 1};
    st_raft_t *c = create(1, 3, &qs, log);
    assert_int_equal(st_raft_role(c), ST_RAFT_CANDIDATE);
    tick(c, 1);
    const st_raft_action_t *v = sent(ST_RAFT_MSG_VOTE_REQUEST, 0);
    assert_non_null(v);
    receive(c, 2, v->send.node, vote_response(v->send.message.correlation_id, epoch, true));
    assert_int_equal(st_raft_role(c), ST_RAFT_LEADER);
    return c;
}

/* ------------------------------------------------------------------ tests */

static void test_single_voter_leads_and_commits_after_flush(void **state) {
    (void)state;
    st_raft_t *c = create(1, 1, NULL, NULL);
    assert_int_equal(tick(c, 0), 0);
    assert_int_equal(st_raft_role(c), ST_RAFT_LEADER);
    assert_int_equal(st_raft_epoch(c), 1);
    /* The vote for itself is persisted before the leader's record. */
    int persist = find(ST_RAFT_ACTION_PERSIST_STATE, count(ST_RAFT_ACTION_PERSIST_STATE) - 1);
    int append = find(ST_RAFT_ACTION_APPEND, 0);
    assert_true(persist >= 0 && persist < append);
    assert_int_equal(up.actions[persist].persist.leader_id, 1);
    assert_int_equal(up.actions[append].append.source, ST_RAFT_APPEND_LEADER_CHANGE);
    assert_int_equal(up.actions[append].append.base_offset, 0);
    assert_true(find(ST_RAFT_ACTION_BECAME_LEADER, 0) > append);
    assert_int_equal(find(ST_RAFT_ACTION_COMMITTED, 0), -1); /* not durable yet */

    assert_int_equal(flushed(c, 1, 1), 0);
    assert_int_equal(up.actions[find(ST_RAFT_ACTION_COMMITTED, 0)].high_watermark, 1);

    st_raft_event_t p = {.kind = ST_RAFT_EVENT_PROPOSE, .now_ms = 2};
    p.propose.record_count = 3;
    assert_int_equal(step(c, p), 0);
    const st_raft_append_t *a = &up.actions[find(ST_RAFT_ACTION_APPEND, 0)].append;
    assert_int_equal(a->source, ST_RAFT_APPEND_PROPOSED);
    assert_int_equal(a->base_offset, 1);
    assert_int_equal(a->end_offset, 4);
    assert_int_equal(a->epoch, 1);
    flushed(c, 3, 4);
    assert_int_equal(st_raft_high_watermark(c), 4);
    st_raft_destroy(c);
}

static void test_election_persists_before_sending(void **state) {
    (void)state;
    st_raft_quorum_state_t qs = {0, -1, -1};
    st_raft_t *c = create(1, 3, &qs, NULL);
    tick(c, 0);
    assert_int_equal(up.count, 0); /* waiting out the election timeout */
    tick(c, 2000);
    assert_int_equal(st_raft_role(c), ST_RAFT_PROSPECTIVE);
    assert_int_equal(st_raft_epoch(c), 0);
    assert_int_equal(count(ST_RAFT_ACTION_PERSIST_STATE), 0); /* a pre-vote changes nothing durable */
    const st_raft_action_t *pv = sent(ST_RAFT_MSG_VOTE_REQUEST, 0);
    assert_non_null(pv);
    assert_true(pv->send.message.vote_request.pre_vote);
    assert_int_equal(pv->send.message.vote_request.candidate_epoch, 0);
    assert_non_null(sent(ST_RAFT_MSG_VOTE_REQUEST, 1));

    /* One granted pre-vote is a majority with its own. */
    receive(c, 2010, pv->send.node, vote_response(pv->send.message.correlation_id, 0, true));
    assert_int_equal(st_raft_role(c), ST_RAFT_CANDIDATE);
    assert_int_equal(st_raft_epoch(c), 1);
    int persist = find(ST_RAFT_ACTION_PERSIST_STATE, 0);
    assert_true(persist >= 0);
    assert_int_equal(up.actions[persist].persist.leader_epoch, 1);
    assert_int_equal(up.actions[persist].persist.voted_id, 1);
    const st_raft_action_t *v = sent(ST_RAFT_MSG_VOTE_REQUEST, 0);
    assert_true(index_of(v) > persist);
    assert_false(v->send.message.vote_request.pre_vote);
    assert_int_equal(v->send.message.vote_request.candidate_epoch, 1);

    receive(c, 2020, v->send.node, vote_response(v->send.message.correlation_id, 1, true));
    assert_int_equal(st_raft_role(c), ST_RAFT_LEADER);
    persist = find(ST_RAFT_ACTION_PERSIST_STATE, 0);
    assert_true(persist >= 0 && persist < find(ST_RAFT_ACTION_APPEND, 0));
    assert_int_equal(up.actions[persist].persist.leader_id, 1);
    assert_non_null(sent(ST_RAFT_MSG_BEGIN_EPOCH_REQUEST, 0));
    assert_non_null(sent(ST_RAFT_MSG_BEGIN_EPOCH_REQUEST, 1));
    st_raft_destroy(c);
}

static void test_one_vote_per_epoch_persisted_first(void **state) {
    (void)state;
    st_raft_quorum_state_t qs = {0, -1, -1};
    st_raft_t *c = create(2, 3, &qs, NULL);
    receive(c, 10, 1, vote_request(1, 1, 0, 0, false));
    const st_raft_action_t *r = sent(ST_RAFT_MSG_VOTE_RESPONSE, 0);
    assert_true(r->send.message.vote_response.vote_granted);
    int last_persist = find(ST_RAFT_ACTION_PERSIST_STATE, count(ST_RAFT_ACTION_PERSIST_STATE) - 1);
    assert_true(last_persist >= 0 && last_persist < index_of(r));
    assert_int_equal(up.actions[last_persist].persist.voted_id, 1);
    assert_int_equal(up.actions[last_persist].persist.leader_epoch, 1);

    /* The same candidate again: granted again, nothing new to persist. */
    receive(c, 11, 1, vote_request(1, 1, 0, 0, false));
    assert_true(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.vote_granted);
    assert_int_equal(count(ST_RAFT_ACTION_PERSIST_STATE), 0);
    /* Another candidate in the same epoch: rejected. */
    receive(c, 12, 3, vote_request(1, 3, 0, 0, false));
    assert_false(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.vote_granted);
    assert_int_equal(st_raft_voted_id(c), 1);
    /* A pre-vote binds nothing, so it may be granted. */
    receive(c, 13, 3, vote_request(1, 3, 0, 0, true));
    assert_true(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.vote_granted);
    assert_int_equal(count(ST_RAFT_ACTION_PERSIST_STATE), 0);
    /* A candidate whose log is behind ours gets no vote in a new epoch. */
    st_raft_destroy(c);

    st_raft_epoch_entry_t epochs[] = {{1, 0}};
    st_raft_log_state_t log = {.log_end_offset = 5, .epochs = epochs, .epoch_count = 1,
                               .latest_snapshot = {-1, -1}};
    qs = (st_raft_quorum_state_t){1, -1, -1};
    c = create(2, 3, &qs, &log);
    receive(c, 10, 3, vote_request(2, 3, 1, 4, false));
    assert_false(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.vote_granted);
    receive(c, 11, 1, vote_request(2, 1, 1, 5, false));
    assert_true(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.vote_granted);
    st_raft_destroy(c);
}

static void test_stale_and_foreign_requests_get_kafka_errors(void **state) {
    (void)state;
    st_raft_quorum_state_t qs = {5, -1, -1};
    st_raft_t *c = create(2, 3, &qs, NULL);
    st_raft_stats_t before, after;
    st_raft_stats(c, &before);

    receive(c, 1, 1, vote_request(4, 1, 0, 0, false)); /* stale epoch */
    const st_raft_vote_response_t *v = &sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response;
    assert_int_equal(v->error, ST_ERR_FENCED_LEADER_EPOCH);
    assert_int_equal(v->leader_epoch, 5);
    assert_false(v->vote_granted);
    receive(c, 2, 9, vote_request(6, 9, 0, 0, false)); /* not a voter */
    assert_int_equal(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.error,
                     ST_ERR_INCONSISTENT_VOTER_SET);
    receive(c, 3, 1, vote_request(6, 1, 6, 0, false)); /* last epoch not below the candidate's */
    assert_int_equal(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.error, ST_ERR_INVALID_REQUEST);
    receive(c, 3, 1, vote_request(INT32_MAX, 1, 0, 0, true)); /* an epoch no candidate could follow */
    assert_int_equal(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.error, ST_ERR_INVALID_REQUEST);

    st_raft_message_t b = {.kind = ST_RAFT_MSG_BEGIN_EPOCH_REQUEST, .correlation_id = 3};
    b.begin_epoch_request = (st_raft_begin_epoch_request_t){9, 6};
    receive(c, 4, 9, b);
    assert_int_equal(sent(ST_RAFT_MSG_BEGIN_EPOCH_RESPONSE, 0)->send.message.epoch_response.error,
                     ST_ERR_INCONSISTENT_VOTER_SET);
    b.begin_epoch_request = (st_raft_begin_epoch_request_t){1, 4};
    receive(c, 5, 1, b);
    assert_int_equal(sent(ST_RAFT_MSG_BEGIN_EPOCH_RESPONSE, 0)->send.message.epoch_response.error,
                     ST_ERR_FENCED_LEADER_EPOCH);
    b.begin_epoch_request = (st_raft_begin_epoch_request_t){2, 6}; /* "you are the leader" */
    receive(c, 6, 1, b);
    assert_int_equal(sent(ST_RAFT_MSG_BEGIN_EPOCH_RESPONSE, 0)->send.message.epoch_response.error,
                     ST_ERR_INVALID_REQUEST);

    st_raft_message_t f = fetch_request(3, 5, 0, 0);
    receive(c, 7, 3, f); /* not the leader */
    assert_int_equal(sent(ST_RAFT_MSG_FETCH_RESPONSE, 0)->send.message.fetch_response.error,
                     ST_ERR_NOT_LEADER_OR_FOLLOWER);
    f.fetch_request.last_fetched_epoch = 6; /* beyond its own epoch */
    receive(c, 8, 3, f);
    assert_int_equal(sent(ST_RAFT_MSG_FETCH_RESPONSE, 0)->send.message.fetch_response.error, ST_ERR_INVALID_REQUEST);

    /* None of it moved the quorum. */
    assert_int_equal(st_raft_epoch(c), 5);
    assert_int_equal(st_raft_role(c), ST_RAFT_UNATTACHED);
    assert_int_equal(st_raft_voted_id(c), -1);
    assert_int_equal(st_raft_leader_id(c), -1);
    st_raft_stats(c, &after);
    assert_int_equal(after.rejected_requests - before.rejected_requests, 9);

    /* A response nobody waits for is dropped. */
    receive(c, 9, 1, vote_response(12345, 5, true));
    st_raft_stats(c, &after);
    assert_int_equal(after.stale_responses, before.stale_responses + 1);
    assert_int_equal(up.count, 0);
    st_raft_destroy(c);
}

static void test_leader_answers_diverging_epoch_and_commits_only_its_epoch(void **state) {
    (void)state;
    /* Epoch 1 at [0, 5), epoch 3 at [5, 10); elected in epoch 4. */
    st_raft_epoch_entry_t epochs[] = {{1, 0}, {3, 5}};
    st_raft_log_state_t log = {.log_end_offset = 10, .epochs = epochs, .epoch_count = 2,
                               .latest_snapshot = {-1, -1}};
    st_raft_t *c = leader_of_three(&log, 4);
    assert_int_equal(st_raft_epoch(c), 4);
    assert_int_equal(st_raft_log_end_offset(c), 11); /* + LEADER_CHANGE at 10 */
    flushed(c, 3, 11);

    /* A follower with epoch-2 records at [5, 8) diverges at (5, epoch 1). */
    receive(c, 4, 2, fetch_request(2, 4, 8, 2));
    const st_raft_fetch_response_t *r = &sent(ST_RAFT_MSG_FETCH_RESPONSE, 0)->send.message.fetch_response;
    assert_int_equal(r->error, ST_ERR_NONE);
    assert_int_equal(r->diverging_epoch.epoch, 1);
    assert_int_equal(r->diverging_epoch.offset, 5);
    /* Beyond our end in our epoch: diverging at our end. */
    receive(c, 5, 2, fetch_request(2, 4, 12, 4));
    r = &sent(ST_RAFT_MSG_FETCH_RESPONSE, 0)->send.message.fetch_response;
    assert_int_equal(r->diverging_epoch.epoch, 4);
    assert_int_equal(r->diverging_epoch.offset, 11);

    /* A matching follower at 10 (epoch 3): records to read, but the
     * majority's 10 is not above the epoch's start (10), so no commit
     * (Raft 5.4.2: only the leader's own epoch commits). */
    receive(c, 6, 2, fetch_request(2, 4, 10, 3));
    const st_raft_action_t *read = sent(ST_RAFT_MSG_FETCH_RESPONSE, 0);
    assert_int_equal(read->kind, ST_RAFT_ACTION_READ_LOG);
    assert_int_equal(read->send.message.fetch_response.read_from_offset, 10);
    assert_int_equal(read->send.message.fetch_response.read_end_offset, 11);
    assert_int_equal(find(ST_RAFT_ACTION_COMMITTED, 0), -1);
    assert_int_equal(st_raft_high_watermark(c), 0);
    /* At 11 the majority holds the LEADER_CHANGE record: commit. */
    receive(c, 7, 2, fetch_request(2, 4, 11, 4));
    int committed = find(ST_RAFT_ACTION_COMMITTED, 0);
    assert_true(committed >= 0 && committed < index_of(sent(ST_RAFT_MSG_FETCH_RESPONSE, 0)));
    assert_int_equal(up.actions[committed].high_watermark, 11);
    assert_int_equal(sent(ST_RAFT_MSG_FETCH_RESPONSE, 0)->send.message.fetch_response.high_watermark, 11);
    st_raft_destroy(c);
}

static void test_leader_sends_snapshot_below_its_log_start(void **state) {
    (void)state;
    st_raft_epoch_entry_t epochs[] = {{1, 0}, {3, 5}};
    st_raft_log_state_t log = {.log_end_offset = 10, .epochs = epochs, .epoch_count = 2,
                               .latest_snapshot = {-1, -1}};
    st_raft_t *c = leader_of_three(&log, 4);
    flushed(c, 3, 11);
    receive(c, 4, 2, fetch_request(2, 4, 11, 4));
    assert_int_equal(st_raft_high_watermark(c), 11);

    st_raft_event_t s = {.kind = ST_RAFT_EVENT_SNAPSHOT_TAKEN, .now_ms = 5};
    s.snapshot.snapshot_id = (st_raft_offset_epoch_t){8, 1}; /* wrong epoch: record 7 is epoch 3 */
    s.snapshot.size_bytes = 100;
    s.snapshot.log_start_offset = 8;
    assert_int_equal(step(c, s), ST_ERR_INVALID_REQUEST);
    s.snapshot.snapshot_id = (st_raft_offset_epoch_t){12, 4}; /* beyond what is committed */
    assert_int_equal(step(c, s), ST_ERR_INVALID_REQUEST);
    s.snapshot.snapshot_id = (st_raft_offset_epoch_t){8, 3};
    assert_int_equal(step(c, s), 0);
    assert_int_equal(st_raft_log_start_offset(c), 8);

    receive(c, 6, 3, fetch_request(3, 4, 4, 1));
    const st_raft_fetch_response_t *r = &sent(ST_RAFT_MSG_FETCH_RESPONSE, 0)->send.message.fetch_response;
    assert_int_equal(r->snapshot_id.offset, 8);
    assert_int_equal(r->snapshot_id.epoch, 3);
    assert_int_equal(r->diverging_epoch.epoch, -1);

    st_raft_message_t fs = {.kind = ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST, .correlation_id = 9};
    fs.fetch_snapshot_request = (st_raft_fetch_snapshot_request_t){3, 4, {8, 3}, 0, 60};
    receive(c, 7, 3, fs);
    const st_raft_action_t *chunk = sent(ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE, 0);
    assert_int_equal(chunk->kind, ST_RAFT_ACTION_READ_SNAPSHOT);
    assert_int_equal(chunk->send.message.fetch_snapshot_response.chunk_bytes, 60);
    assert_int_equal(chunk->send.message.fetch_snapshot_response.size_bytes, 100);
    fs.fetch_snapshot_request.position = 60;
    receive(c, 8, 3, fs);
    assert_int_equal(sent(ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE, 0)->send.message.fetch_snapshot_response.chunk_bytes,
                     40);
    fs.fetch_snapshot_request.position = 100;
    receive(c, 9, 3, fs);
    assert_int_equal(sent(ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE, 0)->send.message.fetch_snapshot_response.error,
                     ST_ERR_POSITION_OUT_OF_RANGE);
    fs.fetch_snapshot_request.snapshot_id = (st_raft_offset_epoch_t){7, 3};
    fs.fetch_snapshot_request.position = 0;
    receive(c, 10, 3, fs);
    assert_int_equal(sent(ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE, 0)->send.message.fetch_snapshot_response.error,
                     ST_ERR_SNAPSHOT_NOT_FOUND);
    st_raft_destroy(c);
}

/* Follower 2 of leader 1 in epoch 3, log epoch 1 at [0, 5), epoch 2 at [5, 8). */
static st_raft_t *follower(void) {
    static st_raft_epoch_entry_t epochs[] = {{1, 0}, {2, 5}};
    st_raft_log_state_t log = {.log_end_offset = 8, .epochs = epochs, .epoch_count = 2,
                               .latest_snapshot = {-1, -1}};
    st_raft_quorum_state_t qs = {3, 1, -1};
    st_raft_t *c = create(2, 3, &qs, &log);
    assert_int_equal(st_raft_role(c), ST_RAFT_FOLLOWER);
    assert_int_equal(st_raft_leader_id(c), 1);
    return c;
}

static st_raft_message_t fetch_response_to(const st_raft_action_t *request) {
    st_raft_message_t m = {.kind = ST_RAFT_MSG_FETCH_RESPONSE, .correlation_id = request->send.message.correlation_id};
    m.fetch_response = (st_raft_fetch_response_t){.error = ST_ERR_NONE, .leader_id = 1, .leader_epoch = 3,
                                                  .high_watermark = -1, .diverging_epoch = {-1, -1},
                                                  .snapshot_id = {-1, -1}};
    return m;
}

static void test_follower_truncates_appends_and_learns_the_high_watermark(void **state) {
    (void)state;
    st_raft_t *c = follower();
    tick(c, 0);
    const st_raft_action_t *f = sent(ST_RAFT_MSG_FETCH_REQUEST, 0);
    assert_int_equal(f->send.node, 1);
    assert_int_equal(f->send.message.fetch_request.fetch_offset, 8);
    assert_int_equal(f->send.message.fetch_request.last_fetched_epoch, 2);
    assert_int_equal(f->send.message.fetch_request.current_leader_epoch, 3);

    st_raft_message_t r = fetch_response_to(f);
    r.fetch_response.diverging_epoch = (st_raft_offset_epoch_t){5, 1};
    receive(c, 1, 1, r);
    assert_int_equal(up.actions[find(ST_RAFT_ACTION_TRUNCATE, 0)].truncate_end_offset, 5);
    assert_int_equal(st_raft_log_end_offset(c), 5);
    f = sent(ST_RAFT_MSG_FETCH_REQUEST, 0); /* at once, from the new end */
    assert_true(index_of(f) > find(ST_RAFT_ACTION_TRUNCATE, 0));
    assert_int_equal(f->send.message.fetch_request.fetch_offset, 5);
    assert_int_equal(f->send.message.fetch_request.last_fetched_epoch, 1);

    st_raft_batch_t batches[] = {{5, 2, 3}, {7, 1, 3}};
    r = fetch_response_to(f);
    r.fetch_response.batches = batches;
    r.fetch_response.batch_count = 2;
    r.fetch_response.high_watermark = 7;
    receive(c, 2, 1, r);
    const st_raft_append_t *a = &up.actions[find(ST_RAFT_ACTION_APPEND, 0)].append;
    assert_int_equal(a->source, ST_RAFT_APPEND_FETCHED);
    assert_int_equal(a->base_offset, 5);
    assert_int_equal(a->end_offset, 8);
    assert_int_equal(a->batch_first, 0);
    assert_int_equal(a->batch_count, 2);
    /* Committed: below the leader's 7 and what is durable here (5). */
    assert_int_equal(up.actions[find(ST_RAFT_ACTION_COMMITTED, 0)].high_watermark, 5);
    /* No Fetch while the appended records are not durable. */
    assert_null(sent(ST_RAFT_MSG_FETCH_REQUEST, 0));
    tick(c, 3);
    assert_null(sent(ST_RAFT_MSG_FETCH_REQUEST, 0));
    flushed(c, 4, 8);
    assert_int_equal(up.actions[find(ST_RAFT_ACTION_COMMITTED, 0)].high_watermark, 7);
    f = sent(ST_RAFT_MSG_FETCH_REQUEST, 0);
    assert_int_equal(f->send.message.fetch_request.fetch_offset, 8);
    assert_int_equal(f->send.message.fetch_request.last_fetched_epoch, 3);

    /* The leader cannot make it truncate what is committed. */
    r = fetch_response_to(f);
    r.fetch_response.diverging_epoch = (st_raft_offset_epoch_t){6, 3};
    st_raft_stats_t before, after;
    st_raft_stats(c, &before);
    receive(c, 5, 1, r);
    assert_int_equal(find(ST_RAFT_ACTION_TRUNCATE, 0), -1);
    assert_int_equal(st_raft_log_end_offset(c), 8);
    st_raft_stats(c, &after);
    assert_int_equal(after.rejected_responses, before.rejected_responses + 1);
    st_raft_destroy(c);
}

static void test_follower_loads_a_snapshot_in_chunks(void **state) {
    (void)state;
    st_raft_t *c = follower();
    tick(c, 0);
    st_raft_message_t r = fetch_response_to(sent(ST_RAFT_MSG_FETCH_REQUEST, 0));
    r.fetch_response.snapshot_id = (st_raft_offset_epoch_t){20, 3};
    receive(c, 1, 1, r);
    const st_raft_action_t *fs = sent(ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST, 0);
    assert_non_null(fs);
    assert_int_equal(fs->send.message.fetch_snapshot_request.position, 0);
    assert_int_equal(fs->send.message.fetch_snapshot_request.snapshot_id.offset, 20);

    for (int64_t pos = 0; pos < 100; pos += 50) {
        st_raft_message_t chunk = {.kind = ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE,
                                   .correlation_id = fs->send.message.correlation_id};
        chunk.fetch_snapshot_response = (st_raft_fetch_snapshot_response_t){ST_ERR_NONE, 1, 3, {20, 3}, 100, pos, 50};
        receive(c, 2 + pos, 1, chunk);
        const st_raft_action_t *w = &up.actions[find(ST_RAFT_ACTION_WRITE_SNAPSHOT, 0)];
        assert_int_equal(w->snapshot.position, pos);
        assert_int_equal(w->snapshot.bytes, 50);
        if (pos == 0) {
            assert_int_equal(find(ST_RAFT_ACTION_LOAD_SNAPSHOT, 0), -1);
            fs = sent(ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST, 0);
            assert_int_equal(fs->send.message.fetch_snapshot_request.position, 50);
        }
    }
    int load = find(ST_RAFT_ACTION_LOAD_SNAPSHOT, 0);
    assert_true(load > find(ST_RAFT_ACTION_WRITE_SNAPSHOT, 0));
    assert_int_equal(st_raft_log_start_offset(c), 20);
    assert_int_equal(st_raft_log_end_offset(c), 20);
    assert_int_equal(st_raft_high_watermark(c), 20);
    assert_int_equal(st_raft_last_epoch(c), 3);
    const st_raft_action_t *f = sent(ST_RAFT_MSG_FETCH_REQUEST, 0);
    assert_true(index_of(f) > load);
    assert_int_equal(f->send.message.fetch_request.fetch_offset, 20);
    assert_int_equal(f->send.message.fetch_request.last_fetched_epoch, 3);
    st_raft_destroy(c);
}

static void test_follower_times_out_into_prospective(void **state) {
    (void)state;
    st_raft_t *c = follower();
    tick(c, 0);
    st_raft_message_t r = fetch_response_to(sent(ST_RAFT_MSG_FETCH_REQUEST, 0));
    receive(c, 100, 1, r);
    /* It hears from its leader: no pre-vote for anyone. */
    receive(c, 200, 3, vote_request(3, 3, 2, 8, true));
    assert_false(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.vote_granted);
    assert_int_equal(st_raft_role(c), ST_RAFT_FOLLOWER);
    /* No successful fetch for fetch_timeout_ms (2000). */
    tick(c, 2099);
    assert_int_equal(st_raft_role(c), ST_RAFT_FOLLOWER);
    tick(c, 2100);
    assert_int_equal(st_raft_role(c), ST_RAFT_PROSPECTIVE);
    assert_int_equal(st_raft_epoch(c), 3);
    assert_int_equal(count(ST_RAFT_ACTION_PERSIST_STATE), 0);
    const st_raft_action_t *pv = sent(ST_RAFT_MSG_VOTE_REQUEST, 0);
    assert_true(pv->send.message.vote_request.pre_vote);
    assert_int_equal(pv->send.message.vote_request.candidate_epoch, 3);
    st_raft_destroy(c);
}

static void test_prospective_that_loses_follows_its_leader_again(void **state) {
    (void)state;
    st_raft_t *c = follower();
    tick(c, 0);
    tick(c, 2000); /* never heard from the leader */
    assert_int_equal(st_raft_role(c), ST_RAFT_PROSPECTIVE);
    const st_raft_action_t *a = sent(ST_RAFT_MSG_VOTE_REQUEST, 0);
    const st_raft_action_t *b = sent(ST_RAFT_MSG_VOTE_REQUEST, 1);
    int32_t node_a = a->send.node, corr_a = a->send.message.correlation_id;
    int32_t node_b = b->send.node, corr_b = b->send.message.correlation_id;
    receive(c, 2010, node_a, vote_response(corr_a, 3, false));
    assert_int_equal(st_raft_role(c), ST_RAFT_PROSPECTIVE);
    receive(c, 2020, node_b, vote_response(corr_b, 3, false));
    assert_int_equal(st_raft_role(c), ST_RAFT_FOLLOWER);
    assert_int_equal(st_raft_leader_id(c), 1);
    assert_int_equal(st_raft_epoch(c), 3);
    st_raft_destroy(c);
}

static void test_restarts_come_back_in_kafkas_states(void **state) {
    (void)state;
    /* A leader comes back resigned and asks the others to elect. */
    st_raft_quorum_state_t qs = {4, 1, 1};
    st_raft_t *c = create(1, 3, &qs, NULL);
    assert_int_equal(st_raft_role(c), ST_RAFT_RESIGNED);
    tick(c, 0);
    assert_non_null(sent(ST_RAFT_MSG_END_EPOCH_REQUEST, 0));
    assert_non_null(sent(ST_RAFT_MSG_END_EPOCH_REQUEST, 1));
    /* It grants no vote in the epoch it led, and after it resigned and
     * lost a pre-vote it still remembers that it led. */
    receive(c, 1, 2, vote_request(4, 2, 0, 0, false));
    assert_false(sent(ST_RAFT_MSG_VOTE_RESPONSE, 0)->send.message.vote_response.vote_granted);
    tick(c, 3000);
    assert_int_equal(st_raft_role(c), ST_RAFT_PROSPECTIVE);
    st_raft_destroy(c);

    /* A candidate comes back a candidate in the same epoch. */
    qs = (st_raft_quorum_state_t){4, -1, 1};
    c = create(1, 3, &qs, NULL);
    assert_int_equal(st_raft_role(c), ST_RAFT_CANDIDATE);
    tick(c, 0);
    const st_raft_action_t *v = sent(ST_RAFT_MSG_VOTE_REQUEST, 0);
    assert_int_equal(v->send.message.vote_request.candidate_epoch, 4);
    assert_false(v->send.message.vote_request.pre_vote);
    st_raft_destroy(c);

    /* A file older than the log: unattached in the log's epoch, persisted first. */
    st_raft_epoch_entry_t epochs[] = {{7, 0}};
    st_raft_log_state_t log = {.log_end_offset = 3, .epochs = epochs, .epoch_count = 1,
                               .latest_snapshot = {-1, -1}};
    qs = (st_raft_quorum_state_t){5, 2, -1};
    c = create(1, 3, &qs, &log);
    assert_int_equal(st_raft_role(c), ST_RAFT_UNATTACHED);
    assert_int_equal(st_raft_epoch(c), 7);
    tick(c, 0);
    assert_int_equal(find(ST_RAFT_ACTION_PERSIST_STATE, 0), 0);
    assert_int_equal(up.actions[0].persist.leader_epoch, 7);
    st_raft_destroy(c);
}

static void test_leader_without_a_fetching_majority_resigns(void **state) {
    (void)state;
    st_raft_t *c = leader_of_three(NULL, 1);
    flushed(c, 3, 1);
    tick(c, 2999);
    assert_int_equal(st_raft_role(c), ST_RAFT_LEADER);
    tick(c, 3002); /* 1.5 x fetch timeout without fetches */
    assert_int_equal(st_raft_role(c), ST_RAFT_RESIGNED);
    assert_true(find(ST_RAFT_ACTION_RESIGNED, 0) >= 0);
    assert_non_null(sent(ST_RAFT_MSG_END_EPOCH_REQUEST, 0));
    st_raft_event_t p = {.kind = ST_RAFT_EVENT_PROPOSE, .now_ms = 3003};
    p.propose.record_count = 1;
    assert_int_equal(step(c, p), ST_ERR_NOT_LEADER_OR_FOLLOWER);
    st_raft_destroy(c);

    /* With fetches from one follower it stays. */
    c = leader_of_three(NULL, 1);
    flushed(c, 3, 1);
    for (int64_t t = 500; t < 10000; t += 500) {
        receive(c, t, 2, fetch_request(2, 1, 1, 1));
        tick(c, t + 1);
    }
    assert_int_equal(st_raft_role(c), ST_RAFT_LEADER);
    st_raft_destroy(c);
}

static void test_parked_fetch_is_answered_on_append(void **state) {
    (void)state;
    st_raft_t *c = leader_of_three(NULL, 1);
    flushed(c, 3, 1);
    st_raft_message_t f = fetch_request(2, 1, 1, 1);
    f.fetch_request.max_wait_ms = 500;
    receive(c, 4, 2, f);
    assert_null(sent(ST_RAFT_MSG_FETCH_RESPONSE, 0)); /* parked: nothing new */
    assert_int_equal(st_raft_high_watermark(c), 1);
    st_raft_event_t p = {.kind = ST_RAFT_EVENT_PROPOSE, .now_ms = 10};
    p.propose.record_count = 2;
    step(c, p);
    const st_raft_action_t *r = sent(ST_RAFT_MSG_FETCH_RESPONSE, 0);
    assert_non_null(r);
    assert_int_equal(r->kind, ST_RAFT_ACTION_READ_LOG);
    assert_int_equal(r->send.message.correlation_id, f.correlation_id);
    assert_int_equal(r->send.message.fetch_response.read_from_offset, 1);
    assert_int_equal(r->send.message.fetch_response.read_end_offset, 3);
    /* Parked again; its wait ends with an empty answer. */
    receive(c, 11, 2, f);
    assert_int_equal(sent(ST_RAFT_MSG_FETCH_RESPONSE, 0)->kind, ST_RAFT_ACTION_READ_LOG); /* 1 < 3 */
    f.fetch_request.fetch_offset = 3;
    receive(c, 12, 2, f);
    assert_null(sent(ST_RAFT_MSG_FETCH_RESPONSE, 0));
    assert_true(st_raft_next_tick_ms(c) <= 512);
    tick(c, 512);
    r = sent(ST_RAFT_MSG_FETCH_RESPONSE, 0);
    assert_non_null(r);
    assert_int_equal(r->kind, ST_RAFT_ACTION_SEND);
    st_raft_destroy(c);
}

static void test_describe_quorum(void **state) {
    (void)state;
    st_raft_t *c = leader_of_three(NULL, 1);
    st_raft_description_t d;
    flushed(c, 3, 1);
    receive(c, 100, 2, fetch_request(2, 1, 1, 1));
    receive(c, 200, 101, fetch_request(101, 1, 0, 0)); /* an observer (a broker) */
    st_raft_describe(c, 300, &d);
    assert_int_equal(d.error, ST_ERR_NONE);
    assert_int_equal(d.leader_id, 1);
    assert_int_equal(d.leader_epoch, 1);
    assert_int_equal(d.high_watermark, 1);
    assert_int_equal(d.voter_count, 3);
    assert_int_equal(d.voters[0].replica_id, 1);
    assert_int_equal(d.voters[0].last_fetch_ms, 300);
    assert_int_equal(d.voters[1].replica_id, 2);
    assert_int_equal(d.voters[1].log_end_offset, 1);
    assert_int_equal(d.voters[1].last_fetch_ms, 100);
    assert_int_equal(d.voters[1].last_caught_up_ms, 100);
    assert_int_equal(d.voters[2].log_end_offset, -1);
    assert_int_equal(d.voters[2].last_fetch_ms, -1);
    assert_int_equal(d.observer_count, 1);
    assert_int_equal(d.observers[0].replica_id, 101);
    assert_int_equal(d.observers[0].log_end_offset, 0);
    st_raft_destroy(c);

    c = follower();
    st_raft_describe(c, 0, &d);
    assert_int_equal(d.error, ST_ERR_NOT_LEADER_OR_FOLLOWER);
    assert_int_equal(d.leader_id, 1);
    st_raft_destroy(c);
}

static void test_observer_finds_the_leader(void **state) {
    (void)state;
    st_raft_t *c = create(100, 3, NULL, NULL);
    assert_false(st_raft_is_voter(c));
    tick(c, 0);
    const st_raft_action_t *f = sent(ST_RAFT_MSG_FETCH_REQUEST, 0);
    assert_non_null(f);
    st_raft_message_t r = {.kind = ST_RAFT_MSG_FETCH_RESPONSE, .correlation_id = f->send.message.correlation_id};
    r.fetch_response = (st_raft_fetch_response_t){.error = ST_ERR_NOT_LEADER_OR_FOLLOWER, .leader_id = 3,
                                                  .leader_epoch = 2, .high_watermark = -1,
                                                  .diverging_epoch = {-1, -1}, .snapshot_id = {-1, -1}};
    receive(c, 1, f->send.node, r);
    assert_int_equal(st_raft_role(c), ST_RAFT_FOLLOWER);
    assert_int_equal(st_raft_leader_id(c), 3);
    assert_true(find(ST_RAFT_ACTION_BECAME_FOLLOWER, 0) >= 0);
    const st_raft_action_t *next = sent(ST_RAFT_MSG_FETCH_REQUEST, 0); /* at once, to the leader */
    assert_non_null(next);
    assert_int_equal(next->send.node, 3);
    /* An observer never campaigns. */
    tick(c, 100000);
    assert_int_equal(st_raft_role(c), ST_RAFT_FOLLOWER);
    st_raft_destroy(c);
}

static void test_create_checks_config_and_state(void **state) {
    (void)state;
    st_raft_config_t k = config(1, 3);
    st_raft_log_state_t log = empty_log();
    st_raft_t *c = NULL;
    k.voters[2] = 1; /* duplicate */
    assert_int_equal(st_raft_create(&k, NULL, &log, 0, &c), ST_ERR_INVALID_REQUEST);
    k = config(1, 0);
    assert_int_equal(st_raft_create(&k, NULL, &log, 0, &c), ST_ERR_INVALID_REQUEST);
    k = config(-1, 3);
    assert_int_equal(st_raft_create(&k, NULL, &log, 0, &c), ST_ERR_INVALID_REQUEST);
    k = config(1, 3);
    k.election_timeout_ms = 0;
    assert_int_equal(st_raft_create(&k, NULL, &log, 0, &c), ST_ERR_INVALID_REQUEST);
    k = config(1, 3);
    log.log_start_offset = 5; /* a log start without a snapshot */
    log.log_end_offset = 5;
    assert_int_equal(st_raft_create(&k, NULL, &log, 0, &c), ST_ERR_INVALID_REQUEST);
    log = empty_log();
    log.log_end_offset = 4; /* records without an epoch */
    assert_int_equal(st_raft_create(&k, NULL, &log, 0, &c), ST_ERR_INVALID_REQUEST);
    log = empty_log();
    log.high_watermark = 3; /* committed beyond the log */
    assert_int_equal(st_raft_create(&k, NULL, &log, 0, &c), ST_ERR_INVALID_REQUEST);
    assert_null(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_voter_leads_and_commits_after_flush),
        cmocka_unit_test(test_election_persists_before_sending),
        cmocka_unit_test(test_one_vote_per_epoch_persisted_first),
        cmocka_unit_test(test_stale_and_foreign_requests_get_kafka_errors),
        cmocka_unit_test(test_leader_answers_diverging_epoch_and_commits_only_its_epoch),
        cmocka_unit_test(test_leader_sends_snapshot_below_its_log_start),
        cmocka_unit_test(test_follower_truncates_appends_and_learns_the_high_watermark),
        cmocka_unit_test(test_follower_loads_a_snapshot_in_chunks),
        cmocka_unit_test(test_follower_times_out_into_prospective),
        cmocka_unit_test(test_prospective_that_loses_follows_its_leader_again),
        cmocka_unit_test(test_restarts_come_back_in_kafkas_states),
        cmocka_unit_test(test_leader_without_a_fetching_majority_resigns),
        cmocka_unit_test(test_parked_fetch_is_answered_on_append),
        cmocka_unit_test(test_describe_quorum),
        cmocka_unit_test(test_observer_finds_the_leader),
        cmocka_unit_test(test_create_checks_config_and_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
