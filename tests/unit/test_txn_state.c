/*
 * Unit tests for coordinator/txn/txn_state: every transition of the
 * transaction coordinator's state machine and every error its requests
 * answer (issue 13, acceptance 6: unknown ids, wrong epochs, EndTxn without
 * a transaction, concurrent transactions, fencing, timeouts, load-time
 * completion), append and marker failures, loading, expiration, the views,
 * KIP-890's TV2, the records it writes; then random operation sequences that
 * must keep every invariant and leave the log's records describing the
 * state (memory == what a reload would give).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator/txn/txn_state.h"
#include "common/errors.h"
#include "protocol/messages.h"

#define T0 1700000000000LL
#define TIMEOUT 60000
#define COORD_EPOCH 5

/* ---- a harness that carries actions out -------------------------------- */

typedef struct pending_append {
    char id[64];
    uint64_t append_id;
    uint8_t *key, *value;
    int32_t key_len, value_len;
    bool retry;
} pending_append_t;

typedef struct pending_marker {
    char id[64];
    int64_t producer_id;
    int16_t producer_epoch;
    bool commit;
    int32_t coordinator_epoch;
    char topic[64];
    int32_t partition;
    bool retry;
} pending_marker_t;

typedef struct response {
    bool seen;
    int16_t error;
    int64_t producer_id;
    int16_t producer_epoch;
} response_t;

#define QUEUE_MAX 4096
#define REQUESTS_MAX 8192
#define LOG_MAX 20000

typedef struct harness {
    st_txn_config_t cfg;
    st_txn_state_t *s;
    st_txn_output_t out;
    int64_t next_pid;
    int allocate_error;
    pending_append_t appends[QUEUE_MAX];
    int append_count;
    pending_marker_t markers[QUEUE_MAX];
    int marker_count;
    response_t responses[REQUESTS_MAX];
    uint64_t next_request;
    /* Every record appended successfully, in order: the partition's log. */
    pending_append_t log[LOG_MAX];
    int log_count;
} harness_t;

static int allocate(void *ctx, int64_t *pid) {
    harness_t *h = ctx;
    if (h->allocate_error) return h->allocate_error;
    *pid = h->next_pid++;
    return 0;
}

static void check_state(const st_txn_state_t *s) {
    char why[256];
    if (!st_txn_state_check(s, why, sizeof why)) fail_msg("invariant: %s", why);
}

static void set_id(char *dst, st_str_t id) {
    assert_true(id.len < 64);
    memcpy(dst, id.ptr, (size_t)id.len);
    dst[id.len] = '\0';
}

/* Moves the output's actions into the harness queues. */
static void collect(harness_t *h) {
    for (int32_t i = 0; i < h->out.count; i++) {
        const st_txn_action_t *a = &h->out.actions[i];
        if (a->kind == ST_TXN_APPEND) {
            assert_true(h->append_count < QUEUE_MAX);
            pending_append_t *p = &h->appends[h->append_count++];
            set_id(p->id, a->transactional_id);
            p->append_id = a->append.append_id;
            p->key = malloc((size_t)a->append.key_len);
            memcpy(p->key, a->append.key, (size_t)a->append.key_len);
            p->key_len = a->append.key_len;
            p->value_len = a->append.value_len;
            p->value = NULL;
            if (a->append.value_len >= 0) {
                p->value = malloc((size_t)a->append.value_len + 1);
                memcpy(p->value, a->append.value, (size_t)a->append.value_len);
            }
            p->retry = a->append.retry;
        } else if (a->kind == ST_TXN_RESPOND) {
            assert_true(a->respond.request_id < REQUESTS_MAX);
            response_t *r = &h->responses[a->respond.request_id];
            assert_false(r->seen); /* one answer per request */
            *r = (response_t){true, a->respond.error, a->respond.producer_id, a->respond.producer_epoch};
        } else {
            assert_int_equal(a->kind, ST_TXN_WRITE_MARKERS);
            for (int32_t j = 0; j < a->markers.partition_count; j++) {
                assert_true(h->marker_count < QUEUE_MAX);
                pending_marker_t *m = &h->markers[h->marker_count++];
                set_id(m->id, a->transactional_id);
                m->producer_id = a->markers.producer_id;
                m->producer_epoch = a->markers.producer_epoch;
                m->commit = a->markers.commit;
                m->coordinator_epoch = a->markers.coordinator_epoch;
                set_id(m->topic, a->markers.partitions[j].topic);
                m->partition = a->markers.partitions[j].partition;
                m->retry = a->markers.retry;
            }
        }
    }
    st_txn_output_reset(&h->out);
    check_state(h->s);
}

static void harness_init(harness_t *h) {
    memset(h, 0, sizeof *h);
    st_txn_config_default(&h->cfg);
    h->cfg.allocate_producer_id = allocate;
    h->cfg.allocate_ctx = h;
    h->next_pid = 1000;
    h->next_request = 1;
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &h->s), 0);
    st_txn_output_init(&h->out);
    st_txn_state_load_complete(h->s, T0, &h->out);
    collect(h);
}

static void free_append(pending_append_t *p) {
    free(p->key);
    free(p->value);
}

static void harness_free(harness_t *h) {
    for (int i = 0; i < h->append_count; i++) free_append(&h->appends[i]);
    for (int i = 0; i < h->log_count; i++) free_append(&h->log[i]);
    st_txn_output_free(&h->out);
    st_txn_state_free(h->s);
}

/* Reports the oldest queued append with `error`. */
static void complete_append(harness_t *h, int index, int error, int64_t now) {
    assert_true(index < h->append_count);
    pending_append_t p = h->appends[index];
    memmove(&h->appends[index], &h->appends[index + 1], (size_t)(h->append_count - index - 1) * sizeof p);
    h->append_count--;
    if (error == 0) {
        assert_true(h->log_count < LOG_MAX);
        h->log[h->log_count++] = p;
    }
    st_txn_state_appended(h->s, st_str(p.id), p.append_id, error, now, &h->out);
    if (error) free_append(&p);
    collect(h);
}

static void complete_marker(harness_t *h, int index, int error, int64_t now) {
    assert_true(index < h->marker_count);
    pending_marker_t m = h->markers[index];
    memmove(&h->markers[index], &h->markers[index + 1], (size_t)(h->marker_count - index - 1) * sizeof m);
    h->marker_count--;
    st_txn_partition_t p = {st_str(m.topic), m.partition};
    st_txn_state_marker_written(h->s, st_str(m.id), m.producer_id, &p, error, now, &h->out);
    collect(h);
}

/* Every queued action succeeds, until none is left. */
static void settle(harness_t *h, int64_t now) {
    while (h->append_count || h->marker_count) {
        if (h->append_count) complete_append(h, 0, 0, now);
        else complete_marker(h, 0, 0, now);
    }
}

/* ---- requests, settled or not -------------------------------------------- */

static uint64_t init_pid(harness_t *h, const char *id, int32_t timeout, int64_t exp_pid, int16_t exp_epoch,
                         int64_t now) {
    uint64_t r = h->next_request++;
    st_txn_state_init_producer_id(h->s, r, st_str(id), timeout, exp_pid, exp_epoch, now, &h->out);
    collect(h);
    return r;
}

static uint64_t add(harness_t *h, const char *id, int64_t pid, int16_t epoch, const char *topic, int32_t partition,
                    int64_t now) {
    uint64_t r = h->next_request++;
    st_txn_partition_t p = {st_str(topic), partition};
    st_txn_state_add_partitions(h->s, r, st_str(id), pid, epoch, &p, 1, 0, now, &h->out);
    collect(h);
    return r;
}

static uint64_t end(harness_t *h, const char *id, int64_t pid, int16_t epoch, bool commit, int16_t tv, int64_t now) {
    uint64_t r = h->next_request++;
    st_txn_state_end_txn(h->s, r, st_str(id), pid, epoch, commit, tv, now, &h->out);
    collect(h);
    return r;
}

static response_t answer(harness_t *h, uint64_t r) {
    assert_true(h->responses[r].seen);
    return h->responses[r];
}

static int16_t error_of(harness_t *h, uint64_t r) { return answer(h, r).error; }

static st_txn_description_t describe(harness_t *h, const char *id) {
    st_txn_description_t d;
    assert_int_equal(st_txn_state_describe(h->s, st_str(id), &d), 0);
    return d;
}

/* A producer with an open transaction on two partitions of "t". */
static response_t ongoing(harness_t *h, const char *id, int64_t now) {
    uint64_t r = init_pid(h, id, TIMEOUT, -1, -1, now);
    settle(h, now);
    response_t p = answer(h, r);
    assert_int_equal(p.error, 0);
    r = add(h, id, p.producer_id, p.producer_epoch, "t", 0, now);
    settle(h, now);
    assert_int_equal(error_of(h, r), 0);
    return p;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_init_new_id_and_bump(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    uint64_t r = init_pid(h, "app", TIMEOUT, -1, -1, T0);
    /* Nothing is answered before the record is durable. */
    assert_false(h->responses[r].seen);
    assert_int_equal(h->append_count, 1);
    assert_int_equal(h->appends[0].value_len > 0, true);
    /* Meanwhile: invisible to describe, concurrent for InitProducerId. */
    st_txn_description_t d;
    assert_int_equal(st_txn_state_describe(h->s, st_str("app"), &d), ST_ERR_TRANSACTIONAL_ID_NOT_FOUND);
    assert_int_equal(error_of(h, init_pid(h, "app", TIMEOUT, -1, -1, T0)), ST_ERR_CONCURRENT_TRANSACTIONS);
    settle(h, T0);
    response_t p = answer(h, r);
    assert_int_equal(p.error, 0);
    assert_true(p.producer_id == 1000);
    assert_int_equal(p.producer_epoch, 0);
    d = describe(h, "app");
    assert_int_equal(d.state, ST_TXN_EMPTY);
    assert_int_equal(d.timeout_ms, TIMEOUT);
    assert_int_equal(d.start_ms, -1);
    /* A second init bumps the epoch (a new instance fences the old one). */
    r = init_pid(h, "app", 30000, -1, -1, T0 + 1);
    settle(h, T0 + 1);
    assert_int_equal(answer(h, r).producer_epoch, 1);
    assert_true(answer(h, r).producer_id == 1000);
    assert_int_equal(describe(h, "app").timeout_ms, 30000);
    harness_free(h);
    free(h);
}

static void test_init_errors(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    assert_int_equal(error_of(h, init_pid(h, "", TIMEOUT, -1, -1, T0)), ST_ERR_INVALID_REQUEST);
    assert_int_equal(error_of(h, init_pid(h, "a", TIMEOUT, 5, -1, T0)), ST_ERR_INVALID_REQUEST);
    assert_int_equal(error_of(h, init_pid(h, "a", TIMEOUT, -1, 3, T0)), ST_ERR_INVALID_REQUEST);
    assert_int_equal(error_of(h, init_pid(h, "a", 0, -1, -1, T0)), ST_ERR_INVALID_TRANSACTION_TIMEOUT);
    assert_int_equal(error_of(h, init_pid(h, "a", ST_TXN_MAX_TIMEOUT_MS_DEFAULT + 1, -1, -1, T0)),
                     ST_ERR_INVALID_TRANSACTION_TIMEOUT);
    uint64_t r = init_pid(h, "a", ST_TXN_MAX_TIMEOUT_MS_DEFAULT, -1, -1, T0);
    settle(h, T0);
    assert_int_equal(error_of(h, r), 0);
    h->allocate_error = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    assert_int_equal(error_of(h, init_pid(h, "b", TIMEOUT, -1, -1, T0)), ST_ERR_COORDINATOR_NOT_AVAILABLE);
    h->allocate_error = 0;
    assert_int_equal(st_txn_state_count(h->s), 1); /* nothing kept of "b" */
    assert_int_equal(h->append_count, 0);
    harness_free(h);
    free(h);

    /* At the cap of ids, a new one is refused. */
    h = calloc(1, sizeof *h);
    harness_init(h);
    st_txn_state_free(h->s);
    h->cfg.ids_max = 2;
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &h->s), 0);
    /* While loading, everything waits. */
    assert_int_equal(error_of(h, init_pid(h, "a", TIMEOUT, -1, -1, T0)), ST_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    st_txn_state_load_complete(h->s, T0, &h->out);
    collect(h);
    init_pid(h, "a", TIMEOUT, -1, -1, T0);
    init_pid(h, "b", TIMEOUT, -1, -1, T0);
    settle(h, T0);
    assert_int_equal(error_of(h, init_pid(h, "c", TIMEOUT, -1, -1, T0)), ST_ERR_COORDINATOR_NOT_AVAILABLE);
    harness_free(h);
    free(h);
}

/* init -> add -> add (again: no record) -> add_offsets -> commit -> markers
 * -> CompleteCommit, and what each step writes and answers. */
static void test_commit_flow(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    uint64_t r = init_pid(h, "app", TIMEOUT, -1, -1, T0);
    settle(h, T0);
    response_t p = answer(h, r);
    r = add(h, "app", p.producer_id, p.producer_epoch, "t", 1, T0 + 10);
    assert_int_equal(h->append_count, 1);
    settle(h, T0 + 10);
    assert_int_equal(error_of(h, r), 0);
    st_txn_description_t d = describe(h, "app");
    assert_int_equal(d.state, ST_TXN_ONGOING);
    assert_int_equal(d.start_ms, T0 + 10);
    assert_int_equal(d.partition_count, 1);
    /* The same partition again: answered at once, nothing written. */
    r = add(h, "app", p.producer_id, p.producer_epoch, "t", 1, T0 + 11);
    assert_int_equal(error_of(h, r), 0);
    assert_int_equal(h->append_count, 0);
    add(h, "app", p.producer_id, p.producer_epoch, "t", 0, T0 + 12);
    settle(h, T0 + 12);
    r = h->next_request++;
    st_txn_state_add_offsets(h->s, r, st_str("app"), p.producer_id, p.producer_epoch, 7, 0, T0 + 13, &h->out);
    collect(h);
    settle(h, T0 + 13);
    assert_int_equal(error_of(h, r), 0);
    d = describe(h, "app");
    assert_int_equal(d.partition_count, 3);
    assert_true(st_str_eq(d.partitions[0].topic, "__consumer_offsets"));
    assert_int_equal(d.partitions[0].partition, 7);
    assert_int_equal(d.start_ms, T0 + 10); /* the transaction's start stays */

    r = end(h, "app", p.producer_id, p.producer_epoch, true, 0, T0 + 20);
    assert_false(h->responses[r].seen); /* PrepareCommit first */
    assert_int_equal(h->append_count, 1);
    complete_append(h, 0, 0, T0 + 20);
    assert_int_equal(error_of(h, r), 0);
    assert_int_equal(describe(h, "app").state, ST_TXN_PREPARE_COMMIT);
    /* One marker per partition, with the producer and coordinator epochs. */
    assert_int_equal(h->marker_count, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(h->markers[i].commit);
        assert_true(h->markers[i].producer_id == p.producer_id);
        assert_int_equal(h->markers[i].producer_epoch, p.producer_epoch);
        assert_int_equal(h->markers[i].coordinator_epoch, COORD_EPOCH);
    }
    /* Until every marker is written, the end is in progress (Kafka's
     * pending CompleteCommit answers any end so). */
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, p.producer_epoch, true, 0, T0 + 21)),
                     ST_ERR_CONCURRENT_TRANSACTIONS);
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, p.producer_epoch, false, 0, T0 + 21)),
                     ST_ERR_CONCURRENT_TRANSACTIONS);
    assert_int_equal(error_of(h, add(h, "app", p.producer_id, p.producer_epoch, "t", 5, T0 + 21)),
                     ST_ERR_CONCURRENT_TRANSACTIONS);
    assert_int_equal(error_of(h, init_pid(h, "app", TIMEOUT, -1, -1, T0 + 21)), ST_ERR_CONCURRENT_TRANSACTIONS);
    complete_marker(h, 0, 0, T0 + 22);
    /* Describe shows the partitions still without a marker. */
    assert_int_equal(describe(h, "app").partition_count, 2);
    complete_marker(h, 0, 0, T0 + 22);
    assert_int_equal(h->append_count, 0);
    complete_marker(h, 0, 0, T0 + 22);
    assert_int_equal(h->append_count, 1); /* the CompleteCommit record */
    complete_append(h, 0, 0, T0 + 23);
    d = describe(h, "app");
    assert_int_equal(d.state, ST_TXN_COMPLETE_COMMIT);
    assert_int_equal(d.partition_count, 0);
    /* A retried commit is NONE; an abort of it is not. */
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, p.producer_epoch, true, 0, T0 + 24)), 0);
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, p.producer_epoch, false, 0, T0 + 24)),
                     ST_ERR_INVALID_TXN_STATE);
    assert_int_equal(h->append_count, 0);
    /* The next transaction starts from CompleteCommit. */
    r = add(h, "app", p.producer_id, p.producer_epoch, "t", 2, T0 + 30);
    settle(h, T0 + 30);
    assert_int_equal(error_of(h, r), 0);
    assert_int_equal(describe(h, "app").start_ms, T0 + 30);
    harness_free(h);
    free(h);
}

/* Every error of acceptance 6, each leaving the state as it was. */
static void test_request_errors_change_nothing(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    uint64_t r = init_pid(h, "app", TIMEOUT, -1, -1, T0);
    settle(h, T0);
    response_t p = answer(h, r);
    int64_t pid = p.producer_id;
    /* EndTxn without a transaction. */
    assert_int_equal(error_of(h, end(h, "app", pid, 0, true, 0, T0)), ST_ERR_INVALID_TXN_STATE);
    assert_int_equal(error_of(h, end(h, "app", pid, 0, false, 0, T0)), ST_ERR_INVALID_TXN_STATE);
    add(h, "app", pid, 0, "t", 0, T0);
    settle(h, T0);
    int log_before = h->log_count;
    st_txn_description_t before = describe(h, "app");
    /* Unknown ids. */
    assert_int_equal(error_of(h, add(h, "nope", pid, 0, "t", 0, T0)), ST_ERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(error_of(h, end(h, "nope", pid, 0, true, 0, T0)), ST_ERR_INVALID_PRODUCER_ID_MAPPING);
    st_txn_description_t d;
    assert_int_equal(st_txn_state_describe(h->s, st_str("nope"), &d), ST_ERR_TRANSACTIONAL_ID_NOT_FOUND);
    assert_int_equal(st_txn_state_describe(h->s, st_str(""), &d), ST_ERR_INVALID_REQUEST);
    /* The wrong producer id, the wrong epoch. */
    assert_int_equal(error_of(h, add(h, "app", pid + 1, 0, "t", 1, T0)), ST_ERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(error_of(h, add(h, "app", pid, 1, "t", 1, T0)), ST_ERR_PRODUCER_FENCED);
    assert_int_equal(error_of(h, end(h, "app", pid + 1, 0, true, 0, T0)), ST_ERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(error_of(h, end(h, "app", pid, 1, true, 0, T0)), ST_ERR_PRODUCER_FENCED);
    assert_int_equal(error_of(h, end(h, "app", pid, -1, true, 0, T0)), ST_ERR_PRODUCER_FENCED);
    /* Bad requests. */
    assert_int_equal(error_of(h, add(h, "", pid, 0, "t", 1, T0)), ST_ERR_INVALID_REQUEST);
    assert_int_equal(error_of(h, add(h, "app", pid, 0, "t", -1, T0)), ST_ERR_INVALID_REQUEST);
    assert_int_equal(error_of(h, add(h, "app", pid, 0, "", 1, T0)), ST_ERR_INVALID_REQUEST);
    assert_int_equal(error_of(h, end(h, "", pid, 0, true, 0, T0)), ST_ERR_INVALID_REQUEST);
    /* Nothing was written, nothing changed. */
    assert_int_equal(h->append_count, 0);
    assert_int_equal(h->marker_count, 0);
    assert_int_equal(h->log_count, log_before);
    d = describe(h, "app");
    assert_int_equal(d.state, before.state);
    assert_true(d.producer_id == before.producer_id);
    assert_int_equal(d.producer_epoch, before.producer_epoch);
    assert_int_equal(d.partition_count, before.partition_count);
    /* Too many partitions. */
    st_txn_state_free(h->s);
    h->cfg.partitions_max = 2;
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &h->s), 0);
    for (int i = 0; i < log_before; i++)
        assert_int_equal(st_txn_state_replay(h->s, h->log[i].key, h->log[i].key_len, h->log[i].value,
                                             h->log[i].value_len), 0);
    st_txn_state_load_complete(h->s, T0, &h->out);
    collect(h);
    r = add(h, "app", pid, 0, "t", 1, T0);
    settle(h, T0);
    assert_int_equal(error_of(h, r), 0);
    assert_int_equal(error_of(h, add(h, "app", pid, 0, "t", 2, T0)), ST_ERR_UNKNOWN_SERVER_ERROR);
    assert_int_equal(describe(h, "app").partition_count, 2);
    harness_free(h);
    free(h);
}

/* Zombie fencing: a second instance's InitProducerId aborts the open
 * transaction with the epoch bumped, then gets the next epoch; the first
 * instance is fenced everywhere. */
static void test_fencing(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    response_t a = ongoing(h, "app", T0);
    settle(h, T0);
    uint64_t r = init_pid(h, "app", TIMEOUT, -1, -1, T0 + 1);
    complete_append(h, 0, 0, T0 + 1); /* PrepareAbort at the bumped epoch */
    assert_int_equal(error_of(h, r), ST_ERR_CONCURRENT_TRANSACTIONS);
    assert_int_equal(describe(h, "app").state, ST_TXN_PREPARE_ABORT);
    assert_int_equal(describe(h, "app").producer_epoch, a.producer_epoch + 1);
    assert_int_equal(h->marker_count, 1);
    assert_false(h->markers[0].commit);
    assert_int_equal(h->markers[0].producer_epoch, a.producer_epoch + 1); /* fences the partitions too */
    settle(h, T0 + 2);
    assert_int_equal(describe(h, "app").state, ST_TXN_COMPLETE_ABORT);
    /* The retry gets a fresh epoch. */
    r = init_pid(h, "app", TIMEOUT, -1, -1, T0 + 3);
    settle(h, T0 + 3);
    response_t b = answer(h, r);
    assert_int_equal(b.error, 0);
    assert_int_equal(b.producer_epoch, a.producer_epoch + 2);
    /* The zombie, on every request. */
    assert_int_equal(error_of(h, add(h, "app", a.producer_id, a.producer_epoch, "t", 0, T0 + 4)),
                     ST_ERR_PRODUCER_FENCED);
    assert_int_equal(error_of(h, end(h, "app", a.producer_id, a.producer_epoch, true, 0, T0 + 4)),
                     ST_ERR_PRODUCER_FENCED);
    int16_t errors[1];
    st_txn_partition_t tp = {st_str("t"), 0};
    st_txn_state_verify_partitions(h->s, st_str("app"), a.producer_id, a.producer_epoch, &tp, 1, errors);
    assert_int_equal(errors[0], ST_ERR_PRODUCER_FENCED);
    /* Older clients hear INVALID_PRODUCER_EPOCH (KIP-588). */
    assert_int_equal(st_txn_error_for_version(ST_API_END_TXN, 1, ST_ERR_PRODUCER_FENCED), ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(st_txn_error_for_version(ST_API_END_TXN, 2, ST_ERR_PRODUCER_FENCED), ST_ERR_PRODUCER_FENCED);
    assert_int_equal(st_txn_error_for_version(ST_API_INIT_PRODUCER_ID, 3, ST_ERR_PRODUCER_FENCED),
                     ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(st_txn_error_for_version(ST_API_INIT_PRODUCER_ID, 4, ST_ERR_PRODUCER_FENCED), ST_ERR_PRODUCER_FENCED);
    assert_int_equal(st_txn_error_for_version(ST_API_ADD_PARTITIONS_TO_TXN, 1, ST_ERR_CONCURRENT_TRANSACTIONS),
                     ST_ERR_CONCURRENT_TRANSACTIONS);
    harness_free(h);
    free(h);
}

/* KIP-360: a producer re-initialises with its current id and epoch after
 * an abortable error; a retry of that whose answer was lost gets the same
 * epoch; anyone else is fenced. */
static void test_kip360_reinit(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    uint64_t r = init_pid(h, "app", TIMEOUT, -1, -1, T0);
    settle(h, T0);
    response_t p = answer(h, r);
    r = init_pid(h, "app", TIMEOUT, p.producer_id, p.producer_epoch, T0 + 1);
    settle(h, T0 + 1);
    response_t q = answer(h, r);
    assert_int_equal(q.error, 0);
    assert_int_equal(q.producer_epoch, p.producer_epoch + 1);
    /* The same request again (its answer was lost): no second bump. */
    r = init_pid(h, "app", TIMEOUT, p.producer_id, p.producer_epoch, T0 + 2);
    settle(h, T0 + 2);
    assert_int_equal(answer(h, r).error, 0);
    assert_int_equal(answer(h, r).producer_epoch, q.producer_epoch);
    /* Another producer id, or an epoch that is neither: fenced. */
    assert_int_equal(error_of(h, init_pid(h, "app", TIMEOUT, p.producer_id + 7, 0, T0 + 3)), ST_ERR_PRODUCER_FENCED);
    assert_int_equal(error_of(h, init_pid(h, "app", TIMEOUT, p.producer_id, 9, T0 + 3)), ST_ERR_PRODUCER_FENCED);
    assert_int_equal(h->append_count, 0);
    /* A fresh instance (no expected pair) clears the last epoch: the old
     * retry is now fenced. */
    init_pid(h, "app", TIMEOUT, -1, -1, T0 + 4);
    settle(h, T0 + 4);
    assert_int_equal(error_of(h, init_pid(h, "app", TIMEOUT, p.producer_id, p.producer_epoch, T0 + 5)),
                     ST_ERR_PRODUCER_FENCED);
    /* An unknown id with an expected pair (its state expired): a new one. */
    r = init_pid(h, "other", TIMEOUT, 77, 3, T0 + 6);
    settle(h, T0 + 6);
    assert_int_equal(answer(h, r).error, 0);
    assert_int_equal(answer(h, r).producer_epoch, 0);
    harness_free(h);
    free(h);
}

/* Builds one __transaction_state record as Kafka would have written it. */
static void record(st_writer_t *key, st_writer_t *value, const char *id, int64_t pid, int16_t epoch, int8_t status,
                   const st_txn_partition_t *parts, int32_t n, int64_t start, int64_t update) {
    st_txn_record_encode_key(key, st_str(id));
    st_txn_record_t r = {
        .transactional_id = st_str(id),
        .producer_id = pid,
        .previous_producer_id = -1,
        .next_producer_id = -1,
        .producer_epoch = epoch,
        .transaction_timeout_ms = TIMEOUT,
        .status = status,
        .partitions = parts,
        .partition_count = n,
        .last_update_ms = update,
        .start_ms = start,
    };
    st_txn_record_encode_value(value, &r, 0);
}

static void replay_record(st_txn_state_t *s, const char *id, int64_t pid, int16_t epoch, int8_t status,
                          const st_txn_partition_t *parts, int32_t n, int64_t start, int64_t update, int want) {
    st_writer_t k, v;
    st_writer_init(&k, 64);
    st_writer_init(&v, 64);
    record(&k, &v, id, pid, epoch, status, parts, n, start, update);
    assert_int_equal(st_txn_state_replay(s, k.data, (int32_t)k.len, v.data, (int32_t)v.len), want);
    st_writer_free(&k);
    st_writer_free(&v);
}

/* The last epoch left: InitProducerId moves to a new producer id. */
static void test_epoch_exhaustion_rotates(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    st_txn_state_free(h->s);
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &h->s), 0);
    replay_record(h->s, "app", 55, INT16_MAX - 1, ST_TXN_COMPLETE_COMMIT, NULL, 0, T0, T0, 0);
    st_txn_state_load_complete(h->s, T0, &h->out);
    collect(h);
    /* The producer re-initialises with its pair (KIP-360). */
    uint64_t r = init_pid(h, "app", TIMEOUT, 55, INT16_MAX - 1, T0 + 1);
    settle(h, T0 + 1);
    assert_int_equal(answer(h, r).error, 0);
    assert_true(answer(h, r).producer_id == 1000);
    assert_int_equal(answer(h, r).producer_epoch, 0);
    /* A retry of it (its answer lost) is let in: the previous producer id at
     * the exhausted epoch, and the same answer. */
    r = init_pid(h, "app", TIMEOUT, 55, INT16_MAX - 1, T0 + 2);
    settle(h, T0 + 2);
    assert_int_equal(answer(h, r).error, 0);
    assert_true(answer(h, r).producer_id == 1000);
    assert_int_equal(answer(h, r).producer_epoch, 0);
    /* A fresh instance instead: a bump of the new id. */
    r = init_pid(h, "app", TIMEOUT, -1, -1, T0 + 3);
    settle(h, T0 + 3);
    assert_int_equal(answer(h, r).producer_epoch, 1);
    /* Without the pair at the exhausted epoch, a new id comes too. */
    st_txn_state_free(h->s);
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &h->s), 0);
    replay_record(h->s, "app", 55, INT16_MAX - 1, ST_TXN_EMPTY, NULL, 0, -1, T0, 0);
    st_txn_state_load_complete(h->s, T0, &h->out);
    collect(h);
    r = init_pid(h, "app", TIMEOUT, -1, -1, T0 + 4);
    settle(h, T0 + 4);
    assert_true(answer(h, r).producer_id == 1001);
    assert_int_equal(answer(h, r).producer_epoch, 0);
    harness_free(h);
    free(h);
}

/* abortTimedOutTransactions: past its timeout an Ongoing transaction is
 * aborted with the epoch bumped; its producer is fenced. */
static void test_timeout_aborts(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    response_t p = ongoing(h, "app", T0);
    settle(h, T0);
    st_txn_state_abort_timed_out(h->s, T0 + TIMEOUT, &h->out);
    collect(h);
    assert_int_equal(h->append_count, 0); /* not yet: start + timeout is not past */
    st_txn_state_abort_timed_out(h->s, T0 + TIMEOUT + 1, &h->out);
    collect(h);
    assert_int_equal(h->append_count, 1);
    complete_append(h, 0, 0, T0 + TIMEOUT + 1);
    assert_int_equal(describe(h, "app").state, ST_TXN_PREPARE_ABORT);
    assert_int_equal(h->marker_count, 1);
    assert_int_equal(h->markers[0].producer_epoch, p.producer_epoch + 1);
    /* A second tick while it completes changes nothing. */
    st_txn_state_abort_timed_out(h->s, T0 + 10 * TIMEOUT, &h->out);
    collect(h);
    assert_int_equal(h->append_count, 0);
    settle(h, T0 + TIMEOUT + 2);
    assert_int_equal(describe(h, "app").state, ST_TXN_COMPLETE_ABORT);
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, p.producer_epoch, true, 0, T0 + TIMEOUT + 3)),
                     ST_ERR_PRODUCER_FENCED);
    /* The producer starts over with InitProducerId. */
    uint64_t r = init_pid(h, "app", TIMEOUT, -1, -1, T0 + TIMEOUT + 4);
    settle(h, T0 + TIMEOUT + 4);
    assert_int_equal(answer(h, r).producer_epoch, p.producer_epoch + 2);
    harness_free(h);
    free(h);
}

/* A failed append answers Kafka's mapping of the error and leaves the state
 * as it was; an id whose first record failed is gone. */
static void test_append_failures_roll_back(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    uint64_t r = init_pid(h, "app", TIMEOUT, -1, -1, T0);
    complete_append(h, 0, ST_ERR_REQUEST_TIMED_OUT, T0);
    assert_int_equal(error_of(h, r), ST_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(st_txn_state_count(h->s), 0);
    r = init_pid(h, "app", TIMEOUT, -1, -1, T0);
    settle(h, T0);
    response_t p = answer(h, r);
    r = add(h, "app", p.producer_id, p.producer_epoch, "t", 0, T0);
    complete_append(h, 0, ST_ERR_NOT_LEADER_OR_FOLLOWER, T0);
    assert_int_equal(error_of(h, r), ST_ERR_NOT_COORDINATOR);
    assert_int_equal(describe(h, "app").state, ST_TXN_EMPTY);
    r = add(h, "app", p.producer_id, p.producer_epoch, "t", 0, T0);
    complete_append(h, 0, ST_ERR_MESSAGE_TOO_LARGE, T0);
    assert_int_equal(error_of(h, r), ST_ERR_UNKNOWN_SERVER_ERROR);
    r = add(h, "app", p.producer_id, p.producer_epoch, "t", 0, T0);
    complete_append(h, 0, ST_ERR_IO, T0);
    assert_int_equal(error_of(h, r), ST_ERR_UNKNOWN_SERVER_ERROR);
    add(h, "app", p.producer_id, p.producer_epoch, "t", 0, T0);
    settle(h, T0);
    /* A failed end: still Ongoing, the end can be retried. */
    r = end(h, "app", p.producer_id, p.producer_epoch, true, 0, T0);
    complete_append(h, 0, ST_ERR_KAFKA_STORAGE_ERROR, T0);
    assert_int_equal(error_of(h, r), ST_ERR_NOT_COORDINATOR);
    assert_int_equal(describe(h, "app").state, ST_TXN_ONGOING);
    assert_int_equal(h->marker_count, 0);
    /* A failed fence: the epoch is not bumped. */
    r = init_pid(h, "app", TIMEOUT, -1, -1, T0);
    complete_append(h, 0, ST_ERR_NOT_ENOUGH_REPLICAS, T0);
    assert_int_equal(error_of(h, r), ST_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(describe(h, "app").producer_epoch, p.producer_epoch);
    /* A report for an append that is not out is ignored. */
    st_txn_state_appended(h->s, st_str("app"), 999999, 0, T0, &h->out);
    st_txn_state_appended(h->s, st_str("ghost"), 1, 0, T0, &h->out);
    collect(h);
    assert_int_equal(describe(h, "app").state, ST_TXN_ONGOING);
    harness_free(h);
    free(h);
}

static void test_marker_and_complete_failures(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    response_t p = ongoing(h, "app", T0);
    settle(h, T0);
    end(h, "app", p.producer_id, p.producer_epoch, true, 0, T0);
    complete_append(h, 0, 0, T0);
    assert_int_equal(h->marker_count, 1);
    /* Retriable: sent again, marked as a retry. */
    complete_marker(h, 0, ST_ERR_NOT_LEADER_OR_FOLLOWER, T0);
    assert_int_equal(h->marker_count, 1);
    assert_true(h->markers[0].retry);
    complete_marker(h, 0, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION, T0);
    assert_int_equal(h->marker_count, 1);
    /* A report for another producer, or a partition not in it: ignored. */
    st_txn_partition_t other = {st_str("zz"), 9};
    st_txn_state_marker_written(h->s, st_str("app"), p.producer_id, &other, 0, T0, &h->out);
    st_txn_state_marker_written(h->s, st_str("app"), p.producer_id + 1, &(st_txn_partition_t){st_str("t"), 0}, 0, T0,
                                &h->out);
    collect(h);
    assert_int_equal(h->append_count, 0);
    complete_marker(h, 0, 0, T0);
    /* The Complete record fails: retried, unless the partition moved. */
    complete_append(h, 0, ST_ERR_REQUEST_TIMED_OUT, T0);
    assert_int_equal(h->append_count, 1);
    assert_true(h->appends[0].retry);
    complete_append(h, 0, ST_ERR_NOT_LEADER_OR_FOLLOWER, T0);
    assert_int_equal(h->append_count, 0);
    assert_int_equal(describe(h, "app").state, ST_TXN_PREPARE_COMMIT);
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, p.producer_epoch, true, 0, T0)),
                     ST_ERR_CONCURRENT_TRANSACTIONS);
    harness_free(h);
    free(h);

    /* A fenced marker stops the sending; a reload completes it. */
    h = calloc(1, sizeof *h);
    harness_init(h);
    p = ongoing(h, "app", T0);
    settle(h, T0);
    end(h, "app", p.producer_id, p.producer_epoch, false, 0, T0);
    complete_append(h, 0, 0, T0);
    complete_marker(h, 0, ST_ERR_TRANSACTION_COORDINATOR_FENCED, T0);
    assert_int_equal(h->marker_count, 0);
    assert_int_equal(h->append_count, 0);
    assert_int_equal(describe(h, "app").state, ST_TXN_PREPARE_ABORT);
    /* The next coordinator (epoch + 1) loads the log and resends. */
    st_txn_state_t *next;
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH + 1, &next), 0);
    for (int i = 0; i < h->log_count; i++)
        assert_int_equal(st_txn_state_replay(next, h->log[i].key, h->log[i].key_len, h->log[i].value,
                                             h->log[i].value_len), 0);
    st_txn_state_free(h->s);
    h->s = next;
    st_txn_state_load_complete(h->s, T0 + 5, &h->out);
    collect(h);
    assert_int_equal(h->marker_count, 1);
    assert_false(h->markers[0].commit);
    assert_int_equal(h->markers[0].coordinator_epoch, COORD_EPOCH + 1);
    settle(h, T0 + 5);
    assert_int_equal(describe(h, "app").state, ST_TXN_COMPLETE_ABORT);
    harness_free(h);
    free(h);
}

/* Loading: records replayed in order (tombstones remove), Prepare* found at
 * load completed, Ongoing ones timing out later; bad records skipped. */
static void test_load(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    st_txn_state_free(h->s);
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &h->s), 0);
    st_txn_partition_t parts[2] = {{st_str("a"), 0}, {st_str("b"), 1}};
    replay_record(h->s, "committing", 10, 2, ST_TXN_PREPARE_COMMIT, parts, 2, T0, T0, 0);
    replay_record(h->s, "aborting", 11, 0, ST_TXN_PREPARE_ABORT, parts, 1, T0, T0, 0);
    replay_record(h->s, "open", 12, 1, ST_TXN_ONGOING, parts, 2, T0, T0, 0);
    replay_record(h->s, "gone", 13, 1, ST_TXN_EMPTY, NULL, 0, -1, T0, 0);
    st_writer_t k;
    st_writer_init(&k, 32);
    st_txn_record_encode_key(&k, st_str("gone"));
    assert_int_equal(st_txn_state_replay(h->s, k.data, (int32_t)k.len, NULL, -1), 0);
    /* A later version of the key or value: skipped (Kafka warns). */
    uint8_t future_key[] = {0, 1, 0, 1, 'x'};
    assert_int_equal(st_txn_state_replay(h->s, future_key, sizeof future_key, NULL, -1), ST_ERR_NOT_FOUND);
    st_writer_t v;
    st_writer_init(&v, 32);
    st_write_i16(&v, 2);
    st_write_i64(&v, 1);
    assert_int_equal(st_txn_state_replay(h->s, k.data, (int32_t)k.len, v.data, (int32_t)v.len), ST_ERR_NOT_FOUND);
    /* Garbage, and records no coordinator writes. */
    uint8_t junk[] = {0, 0, 0xff};
    assert_int_equal(st_txn_state_replay(h->s, junk, sizeof junk, NULL, -1), ST_ERR_CORRUPT);
    assert_int_equal(st_txn_state_replay(h->s, NULL, 0, NULL, -1), ST_ERR_CORRUPT);
    replay_record(h->s, "bad", 14, -1, ST_TXN_EMPTY, NULL, 0, -1, T0, ST_ERR_CORRUPT);
    replay_record(h->s, "bad", 14, 0, ST_TXN_DEAD, NULL, 0, -1, T0, ST_ERR_CORRUPT);
    replay_record(h->s, "bad", 14, 0, ST_TXN_COMPLETE_COMMIT, parts, 1, T0, T0, ST_ERR_CORRUPT);
    st_writer_free(&k);
    st_writer_free(&v);
    assert_int_equal(st_txn_state_count(h->s), 3);
    /* While loading: everything waits. */
    st_txn_description_t d;
    assert_int_equal(st_txn_state_describe(h->s, st_str("open"), &d), ST_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    assert_int_equal(error_of(h, end(h, "open", 12, 1, true, 0, T0)), ST_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    assert_int_equal(error_of(h, add(h, "open", 12, 1, "a", 0, T0)), ST_ERR_COORDINATOR_LOAD_IN_PROGRESS);

    st_txn_state_load_complete(h->s, T0 + 1, &h->out);
    collect(h);
    assert_int_equal(h->marker_count, 3); /* 2 commit + 1 abort */
    int commits = 0;
    for (int i = 0; i < h->marker_count; i++) {
        commits += h->markers[i].commit;
        assert_int_equal(h->markers[i].coordinator_epoch, COORD_EPOCH);
        if (h->markers[i].commit) assert_int_equal(h->markers[i].producer_epoch, 2);
    }
    assert_int_equal(commits, 2);
    /* The state never takes its own records back. */
    assert_int_equal(st_txn_state_replay(h->s, h->appends[0].key, 1, NULL, -1), ST_ERR_INVALID_TXN_STATE);
    settle(h, T0 + 2);
    assert_int_equal(describe(h, "committing").state, ST_TXN_COMPLETE_COMMIT);
    assert_int_equal(describe(h, "aborting").state, ST_TXN_COMPLETE_ABORT);
    assert_int_equal(describe(h, "open").state, ST_TXN_ONGOING);
    st_txn_state_abort_timed_out(h->s, T0 + TIMEOUT + 1, &h->out);
    collect(h);
    settle(h, T0 + TIMEOUT + 1);
    assert_int_equal(describe(h, "open").state, ST_TXN_COMPLETE_ABORT);
    assert_int_equal(describe(h, "open").producer_epoch, 2);
    harness_free(h);
    free(h);
}

static void test_expiration(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    uint64_t r = init_pid(h, "idle", TIMEOUT, -1, -1, T0);
    settle(h, T0);
    (void)r;
    ongoing(h, "busy", T0);
    settle(h, T0);
    int64_t exp = ST_TXN_ID_EXPIRATION_MS_DEFAULT;
    st_txn_state_expire_ids(h->s, T0 + exp - 1, &h->out);
    collect(h);
    assert_int_equal(h->append_count, 0);
    st_txn_state_expire_ids(h->s, T0 + exp, &h->out);
    collect(h);
    assert_int_equal(h->append_count, 1); /* only "idle": "busy" is Ongoing */
    assert_int_equal(h->appends[0].value_len, -1);
    assert_string_equal(h->appends[0].id, "idle");
    /* Until the tombstone is durable, the id is still there. */
    assert_int_equal(describe(h, "idle").state, ST_TXN_EMPTY);
    assert_int_equal(error_of(h, init_pid(h, "idle", TIMEOUT, -1, -1, T0 + exp)), ST_ERR_CONCURRENT_TRANSACTIONS);
    complete_append(h, 0, ST_ERR_NOT_LEADER_OR_FOLLOWER, T0 + exp); /* failed: kept */
    assert_int_equal(describe(h, "idle").state, ST_TXN_EMPTY);
    st_txn_state_expire_ids(h->s, T0 + exp, &h->out);
    collect(h);
    complete_append(h, 0, 0, T0 + exp);
    st_txn_description_t d;
    assert_int_equal(st_txn_state_describe(h->s, st_str("idle"), &d), ST_ERR_TRANSACTIONAL_ID_NOT_FOUND);
    assert_int_equal(st_txn_state_count(h->s), 1);
    /* A reload of the log agrees: the tombstone removes it. */
    st_txn_state_t *again;
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &again), 0);
    for (int i = 0; i < h->log_count; i++)
        assert_int_equal(st_txn_state_replay(again, h->log[i].key, h->log[i].key_len, h->log[i].value,
                                             h->log[i].value_len), 0);
    assert_int_equal(st_txn_state_count(again), 1);
    st_txn_state_free(again);
    harness_free(h);
    free(h);
}

/* Many ids: the table grows, and expiring every other one shifts probe
 * runs back without losing any. */
static void test_many_ids(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    char id[32];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        init_pid(h, id, TIMEOUT, -1, -1, i % 2 ? T0 : T0 + ST_TXN_ID_EXPIRATION_MS_DEFAULT);
        settle(h, T0);
    }
    assert_int_equal(st_txn_state_count(h->s), 300);
    st_txn_state_expire_ids(h->s, T0 + ST_TXN_ID_EXPIRATION_MS_DEFAULT, &h->out);
    collect(h);
    assert_int_equal(h->append_count, 150);
    settle(h, T0);
    assert_int_equal(st_txn_state_count(h->s), 150);
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        st_txn_description_t d;
        assert_int_equal(st_txn_state_describe(h->s, st_str(id), &d), i % 2 ? ST_ERR_TRANSACTIONAL_ID_NOT_FOUND : 0);
    }
    harness_free(h);
    free(h);
}

typedef struct listing {
    int count;
    char ids[8][16];
} listing_t;

static void listed(void *ctx, const st_txn_description_t *d) {
    listing_t *l = ctx;
    snprintf(l->ids[l->count++], 16, "%.*s", (int)d->transactional_id.len, d->transactional_id.ptr);
}

static void test_list_filters(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    response_t a = ongoing(h, "a", T0);
    settle(h, T0);
    ongoing(h, "b", T0 + 5000);
    settle(h, T0 + 5000);
    init_pid(h, "c", TIMEOUT, -1, -1, T0);
    settle(h, T0);
    init_pid(h, "pending", TIMEOUT, -1, -1, T0); /* not durable yet: not listed */
    st_txn_list_filter_t f = {0};
    f.duration_ms = -1;
    listing_t l = {0};
    assert_int_equal(st_txn_state_list(h->s, &f, T0 + 6000, listed, &l), 0);
    assert_int_equal(l.count, 3);
    st_txn_status_t ongoing_state = ST_TXN_ONGOING;
    f.states = &ongoing_state;
    f.state_count = 1;
    memset(&l, 0, sizeof l);
    st_txn_state_list(h->s, &f, T0 + 6000, listed, &l);
    assert_int_equal(l.count, 2);
    /* KIP-994: only those running longer than 3 s. */
    f.duration_ms = 3000;
    memset(&l, 0, sizeof l);
    st_txn_state_list(h->s, &f, T0 + 6000, listed, &l);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.ids[0], "a");
    f.duration_ms = -1;
    f.producer_ids = &a.producer_id;
    f.producer_id_count = 1;
    memset(&l, 0, sizeof l);
    st_txn_state_list(h->s, &f, T0 + 6000, listed, &l);
    assert_int_equal(l.count, 1);
    /* Names as Kafka spells them. */
    assert_int_equal(st_txn_status_from_name(st_str("PrepareCommit")), ST_TXN_PREPARE_COMMIT);
    assert_int_equal(st_txn_status_from_name(st_str("Ongoing")), ST_TXN_ONGOING);
    assert_int_equal(st_txn_status_from_name(st_str("Bogus")), -1);
    assert_string_equal(st_txn_status_name(ST_TXN_COMPLETE_ABORT), "CompleteAbort");
    assert_string_equal(st_txn_status_name(99), "Unknown");
    /* While loading: refused. */
    st_txn_state_t *loading;
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &loading), 0);
    assert_int_equal(st_txn_state_list(loading, &f, T0, listed, &l), ST_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    st_txn_state_free(loading);
    harness_free(h);
    free(h);
}

/* KIP-890 part 1: the partition leader's question before a transactional
 * produce. */
static void test_verify_partitions(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    response_t p = ongoing(h, "app", T0);
    settle(h, T0);
    st_txn_partition_t parts[2] = {{st_str("t"), 0}, {st_str("t"), 1}};
    int16_t errors[2];
    st_txn_state_verify_partitions(h->s, st_str("app"), p.producer_id, p.producer_epoch, parts, 2, errors);
    assert_int_equal(errors[0], 0);
    assert_int_equal(errors[1], ST_ERR_TRANSACTION_ABORTABLE);
    st_txn_state_verify_partitions(h->s, st_str("nope"), p.producer_id, p.producer_epoch, parts, 2, errors);
    assert_int_equal(errors[0], ST_ERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(errors[1], ST_ERR_INVALID_PRODUCER_ID_MAPPING);
    st_txn_state_verify_partitions(h->s, st_str("app"), p.producer_id + 1, p.producer_epoch, parts, 2, errors);
    assert_int_equal(errors[0], ST_ERR_INVALID_PRODUCER_ID_MAPPING);
    end(h, "app", p.producer_id, p.producer_epoch, true, 0, T0);
    complete_append(h, 0, 0, T0);
    st_txn_state_verify_partitions(h->s, st_str("app"), p.producer_id, p.producer_epoch, parts, 2, errors);
    assert_int_equal(errors[0], ST_ERR_CONCURRENT_TRANSACTIONS);
    assert_int_equal(h->append_count, 0);
    harness_free(h);
    free(h);
}

/* KIP-890 part 2 (EndTxn v5): every end bumps the epoch, the answer names
 * it; a retry carries the previous epoch; an abort needs no transaction. */
static void test_tv2_end_bumps_epoch(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    response_t p = ongoing(h, "app", T0);
    settle(h, T0);
    uint64_t r = end(h, "app", p.producer_id, p.producer_epoch, true, 2, T0);
    complete_append(h, 0, 0, T0);
    response_t e = answer(h, r);
    assert_int_equal(e.error, 0);
    assert_true(e.producer_id == p.producer_id);
    assert_int_equal(e.producer_epoch, p.producer_epoch + 1);
    assert_int_equal(describe(h, "app").producer_epoch, p.producer_epoch + 1);
    assert_int_equal(h->markers[0].producer_epoch, p.producer_epoch + 1); /* TV2 markers bump too */
    /* While completing: the retry (old epoch) is concurrent. */
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, p.producer_epoch, true, 2, T0)),
                     ST_ERR_CONCURRENT_TRANSACTIONS);
    settle(h, T0);
    /* After: the retry is NONE with the producer to use. */
    r = end(h, "app", p.producer_id, p.producer_epoch, true, 2, T0);
    assert_int_equal(error_of(h, r), 0);
    assert_int_equal(answer(h, r).producer_epoch, p.producer_epoch + 1);
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, p.producer_epoch, false, 2, T0)),
                     ST_ERR_INVALID_TXN_STATE);
    /* An abort with no transaction (the client is unsure): allowed. */
    r = end(h, "app", p.producer_id, (int16_t)(p.producer_epoch + 1), false, 2, T0 + 7);
    complete_append(h, 0, 0, T0 + 7);
    assert_int_equal(error_of(h, r), 0);
    assert_int_equal(answer(h, r).producer_epoch, p.producer_epoch + 2);
    assert_int_equal(h->marker_count, 0); /* no partitions: straight to CompleteAbort */
    assert_int_equal(h->append_count, 1);
    settle(h, T0 + 7);
    assert_int_equal(describe(h, "app").state, ST_TXN_COMPLETE_ABORT);
    assert_int_equal(describe(h, "app").start_ms, T0 + 7);
    /* A commit with no transaction is not. */
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, (int16_t)(p.producer_epoch + 2), true, 2, T0 + 8)),
                     ST_ERR_INVALID_TXN_STATE);
    /* The current epoch (not a retry) of an Empty transaction, stale: fenced. */
    assert_int_equal(error_of(h, end(h, "app", p.producer_id, p.producer_epoch, false, 2, T0 + 8)),
                     ST_ERR_PRODUCER_FENCED);
    harness_free(h);
    free(h);

    /* At the last epoch the end moves to a new producer id. */
    h = calloc(1, sizeof *h);
    harness_init(h);
    st_txn_state_free(h->s);
    h->cfg.transaction_version = 2;
    assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &h->s), 0);
    st_txn_partition_t tp = {st_str("t"), 0};
    replay_record(h->s, "app", 55, INT16_MAX - 1, ST_TXN_ONGOING, &tp, 1, T0, T0, 0);
    st_txn_state_load_complete(h->s, T0, &h->out);
    collect(h);
    r = end(h, "app", 55, INT16_MAX - 1, true, 2, T0);
    complete_append(h, 0, 0, T0);
    assert_int_equal(error_of(h, r), 0);
    assert_true(answer(h, r).producer_id == 1000);
    assert_int_equal(answer(h, r).producer_epoch, 0);
    settle(h, T0);
    assert_true(describe(h, "app").producer_id == 1000);
    /* The retry of the overflowing end, with the old pair: NONE. */
    r = end(h, "app", 55, INT16_MAX - 1, true, 2, T0);
    assert_int_equal(error_of(h, r), 0);
    /* TV2 clusters write value records v1 (tagged fields). */
    pending_append_t *last = &h->log[h->log_count - 1];
    assert_int_equal(last->value[0], 0);
    assert_int_equal(last->value[1], 1);
    harness_free(h);
    free(h);
}

/* The checker must see a broken state. */
static void test_checker_catches_corruption(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    harness_init(h);
    ongoing(h, "app", T0);
    settle(h, T0);
    char why[128];
    assert_true(st_txn_state_check(h->s, why, sizeof why));
    st_txn_state_test_force_status(h->s, st_str("app"), ST_TXN_COMPLETE_COMMIT); /* with partitions */
    assert_false(st_txn_state_check(h->s, why, sizeof why));
    st_txn_state_test_force_status(h->s, st_str("app"), ST_TXN_PREPARE_COMMIT); /* no completion pending */
    assert_false(st_txn_state_check(h->s, why, sizeof why));
    st_txn_state_test_force_status(h->s, st_str("app"), ST_TXN_DEAD);
    assert_false(st_txn_state_check(h->s, why, sizeof why));
    st_txn_state_test_force_status(h->s, st_str("app"), ST_TXN_ONGOING);
    assert_true(st_txn_state_check(h->s, why, sizeof why));
    harness_free(h);
    free(h);
}

/* ---- random operation sequences ------------------------------------------ */

static uint32_t next_random(uint32_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* The producer each id's client believes it has. */
typedef struct client {
    int64_t pid;
    int16_t epoch;
    uint64_t init_request;
} client_t;

static void test_random_sequences_keep_invariants(void **state) {
    (void)state;
    static const char *ids[] = {"a", "b", "c", "d"};
    static const char *topics[] = {"x", "y"};
    const int64_t errors[] = {ST_ERR_NOT_LEADER_OR_FOLLOWER, ST_ERR_REQUEST_TIMED_OUT, ST_ERR_KAFKA_STORAGE_ERROR,
                              ST_ERR_INVALID_PRODUCER_EPOCH};
    for (uint32_t seed = 1; seed <= 60; seed++) {
        harness_t *h = calloc(1, sizeof *h);
        harness_init(h);
        if (seed % 3 == 0) {
            st_txn_state_free(h->s);
            h->cfg.transaction_version = 2;
            h->cfg.partitions_max = 3;
            assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH, &h->s), 0);
            st_txn_state_load_complete(h->s, T0, &h->out);
            collect(h);
        }
        client_t clients[4] = {{-1, -1, 0}, {-1, -1, 0}, {-1, -1, 0}, {-1, -1, 0}};
        uint32_t x = seed * 2654435761u;
        int64_t now = T0;
        for (int step = 0; step < 1500; step++) {
            now += next_random(&x) % 400;
            int c = (int)(next_random(&x) % 4);
            const char *id = ids[c];
            client_t *cl = &clients[c];
            /* A client learns its producer from a successful init. */
            if (cl->init_request && h->responses[cl->init_request].seen) {
                if (h->responses[cl->init_request].error == 0) {
                    cl->pid = h->responses[cl->init_request].producer_id;
                    cl->epoch = h->responses[cl->init_request].producer_epoch;
                }
                cl->init_request = 0;
            }
            int16_t tv = (seed % 3 == 0 && next_random(&x) % 2) ? 2 : 0;
            int16_t epoch = cl->epoch;
            if (next_random(&x) % 10 == 0) epoch = (int16_t)(epoch + 1 - (int16_t)(next_random(&x) % 3));
            switch (next_random(&x) % 12) {
            case 0:
                cl->init_request = init_pid(h, id, 1000 + (int32_t)(next_random(&x) % 5000), -1, -1, now);
                break;
            case 1:
                cl->init_request = init_pid(h, id, 2000, cl->pid, cl->epoch, now);
                break;
            case 2:
            case 3:
                add(h, id, cl->pid, epoch, topics[next_random(&x) % 2], (int32_t)(next_random(&x) % 3), now);
                break;
            case 4: {
                uint64_t r = h->next_request++;
                st_txn_state_add_offsets(h->s, r, st_str(id), cl->pid, epoch, 4, tv, now, &h->out);
                collect(h);
                break;
            }
            case 5: {
                uint64_t r = end(h, id, cl->pid, epoch, next_random(&x) % 2, tv, now);
                if (tv == 2) {
                    /* A TV2 client moves to the producer the end names. */
                    settle(h, now);
                    if (h->responses[r].seen && h->responses[r].error == 0) {
                        cl->pid = h->responses[r].producer_id;
                        cl->epoch = h->responses[r].producer_epoch;
                    }
                }
                break;
            }
            case 6:
                st_txn_state_abort_timed_out(h->s, now, &h->out);
                collect(h);
                break;
            case 7:
                st_txn_state_expire_ids(h->s, now + (next_random(&x) % 2) * ST_TXN_ID_EXPIRATION_MS_DEFAULT, &h->out);
                collect(h);
                break;
            default:
                /* Carry out a queued action, at random, sometimes failing. */
                if (h->append_count && (!h->marker_count || next_random(&x) % 2)) {
                    int i = (int)(next_random(&x) % (uint32_t)h->append_count);
                    int err = next_random(&x) % 6 == 0 ? (int)errors[next_random(&x) % 3] : 0;
                    complete_append(h, i, err, now);
                } else if (h->marker_count) {
                    int i = (int)(next_random(&x) % (uint32_t)h->marker_count);
                    int err = next_random(&x) % 8 == 0 ? (int)errors[next_random(&x) % 4] : 0;
                    complete_marker(h, i, err, now);
                }
            }
        }
        /* Everything still queued succeeds. */
        settle(h, now);
        /* The log describes the state: a reload gives the same answers. */
        st_txn_state_t *again;
        assert_int_equal(st_txn_state_new(&h->cfg, 3, COORD_EPOCH + 1, &again), 0);
        for (int i = 0; i < h->log_count; i++)
            assert_int_equal(st_txn_state_replay(again, h->log[i].key, h->log[i].key_len, h->log[i].value,
                                                 h->log[i].value_len), 0);
        st_txn_output_t out;
        st_txn_output_init(&out);
        st_txn_state_load_complete(again, now, &out);
        st_txn_output_free(&out);
        for (int c = 0; c < 4; c++) {
            st_txn_description_t a, b;
            int ra = st_txn_state_describe(h->s, st_str(ids[c]), &a);
            int rb = st_txn_state_describe(again, st_str(ids[c]), &b);
            assert_int_equal(ra, rb);
            if (ra) continue;
            assert_int_equal(a.state, b.state);
            assert_true(a.producer_id == b.producer_id);
            assert_int_equal(a.producer_epoch, b.producer_epoch);
            assert_int_equal(a.timeout_ms, b.timeout_ms);
            assert_int_equal(a.start_ms, b.start_ms);
            if (a.state != ST_TXN_PREPARE_COMMIT && a.state != ST_TXN_PREPARE_ABORT) {
                assert_int_equal(a.partition_count, b.partition_count);
                for (int32_t i = 0; i < a.partition_count; i++)
                    assert_int_equal(st_txn_partition_compare(&a.partitions[i], &b.partitions[i]), 0);
            }
        }
        check_state(again);
        st_txn_state_free(again);
        harness_free(h);
        free(h);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_new_id_and_bump),
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_commit_flow),
        cmocka_unit_test(test_request_errors_change_nothing),
        cmocka_unit_test(test_fencing),
        cmocka_unit_test(test_kip360_reinit),
        cmocka_unit_test(test_epoch_exhaustion_rotates),
        cmocka_unit_test(test_timeout_aborts),
        cmocka_unit_test(test_append_failures_roll_back),
        cmocka_unit_test(test_marker_and_complete_failures),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_expiration),
        cmocka_unit_test(test_many_ids),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_verify_partitions),
        cmocka_unit_test(test_tv2_end_bumps_epoch),
        cmocka_unit_test(test_checker_catches_corruption),
        cmocka_unit_test(test_random_sequences_keep_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
