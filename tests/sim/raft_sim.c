/*
 * The quorum simulation (tests/sim/raft_sim.h): a simulated network and
 * disk around real st_raft cores, one event at a time, and the checker.
 *
 * A node's disk is its log (entries by offset, `synced` of them durable),
 * its quorum-state and applied offset (written through: durable at once),
 * and its snapshot. A record is an entry {epoch, value}: proposals get
 * fresh positive values, a LEADER_CHANGE record -epoch, so the oracle can
 * tell any two apart.
 */
#include "raft_sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "raft/quorum.h"

#define SIM_NODES_MAX (ST_RAFT_VOTERS_MAX + 2)
#define OBSERVER_ID_BASE 100
/* Bytes per record in the simulated log and per entry in a snapshot. */
#define RECORD_BYTES 100
#define SNAPSHOT_ENTRY_BYTES 12
/* Small fetch and snapshot chunks, so that both take several rounds. */
#define SIM_FETCH_MAX_BYTES 2000
#define FULL_CHECK_EVERY_STEPS 5000

typedef struct entry {
    int32_t epoch;
    int32_t batch_records;
    int64_t batch_base;
    int64_t value;
} entry_t;

typedef struct payload {
    int64_t from_offset;
    entry_t *entries; /* fetch response records, from from_offset */
    int32_t entry_count;
    st_raft_batch_t *batches;
    int32_t batch_count;
    uint8_t *bytes; /* snapshot chunk */
    int32_t byte_count;
} payload_t;

typedef struct msg {
    int64_t deliver_ms;
    uint64_t seq;
    int32_t from; /* node index */
    int32_t to;
    st_raft_message_t m;
    payload_t p;
} msg_t;

typedef struct node {
    int32_t id;
    bool voter;
    bool up;
    st_raft_t *core;
    int32_t incarnation;
    int64_t restart_at_ms;
    int64_t next_tick_ms;
    int64_t flush_at_ms; /* -1: nothing to flush */
    int32_t group;       /* network partition side */
    /* Disk. */
    entry_t *log;
    int64_t log_cap;
    int64_t start, end, synced;
    bool has_state;
    st_raft_quorum_state_t state;
    bool has_durable_state; /* SIM_DISK_FORGETS_VOTES keeps the first one only */
    st_raft_quorum_state_t durable_state;
    int64_t applied;
    int64_t snap_offset; /* 0: no snapshot */
    int32_t snap_epoch;
    entry_t *snap;
    uint8_t *partial;
    int64_t partial_len, partial_cap;
    /* Checker. */
    int32_t max_epoch;
    int64_t max_hw;
} node_t;

struct sim {
    sim_options_t o;
    uint64_t rng;
    int64_t now_ms;
    node_t nodes[SIM_NODES_MAX];
    int32_t n;
    st_raft_config_t config;
    /* Network. */
    msg_t **heap;
    int32_t heap_len, heap_cap;
    uint64_t seq;
    double p_drop, p_dup, p_long_delay;
    int64_t delay_max_ms;
    int64_t flush_delay_max_ms;
    bool one_way; /* the partition drops only group 1 -> group 0 */
    /* Fault schedule. */
    int64_t crash_every_ms, partition_every_ms, snapshot_every_ms;
    int64_t next_propose_ms, next_crash_ms, next_partition_ms, next_heal_ms, next_snapshot_ms, next_resign_ms;
    bool quiet;
    int64_t quiet_start_ms;
    int64_t quiet_value_floor;
    /* Oracle. */
    entry_t *oracle;
    int64_t oracle_len, oracle_cap;
    int32_t *epoch_leader;
    int32_t epoch_leader_cap;
    int64_t next_value;
    int64_t steps_since_full_check;
    bool done;
    char failure[512];
    sim_stats_t stats;
    st_raft_update_t up;
};

/* ------------------------------------------------------------------ basics */

static uint64_t sim_rand(sim_t *s) {
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int64_t rand_range(sim_t *s, int64_t lo, int64_t hi) { /* [lo, hi] */
    return lo + (int64_t)(sim_rand(s) % (uint64_t)(hi - lo + 1));
}
static bool chance(sim_t *s, double p) { return p > 0 && (double)(sim_rand(s) >> 11) / 9007199254740992.0 < p; }

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) abort();
    return q;
}

static void fail(sim_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(sim_t *s, const char *fmt, ...) {
    if (s->failure[0]) return;
    int n = snprintf(s->failure, sizeof s->failure, "t=%" PRId64 "ms: ", s->now_ms);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->failure + n, sizeof s->failure - (size_t)n, fmt, ap);
    va_end(ap);
    s->done = true;
}

static void trace(const sim_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(const sim_t *s, const char *fmt, ...) {
    if (!s->o.verbose) return;
    printf("%8" PRId64 " ", s->now_ms);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static int32_t node_index(const sim_t *s, int32_t id) {
    for (int32_t i = 0; i < s->n; i++)
        if (s->nodes[i].id == id) return i;
    return -1;
}

static void log_reserve(node_t *nd, int64_t end) {
    if (end <= nd->log_cap) return;
    int64_t cap = nd->log_cap ? nd->log_cap : 256;
    while (cap < end) cap *= 2;
    nd->log = xrealloc(nd->log, (size_t)cap * sizeof *nd->log);
    nd->log_cap = cap;
}

static bool entry_eq(const entry_t *a, const entry_t *b) { return a->epoch == b->epoch && a->value == b->value; }

/* The entry at `offset` as this node holds it durably (log or snapshot). */
static const entry_t *durable_entry(const node_t *nd, int64_t offset) {
    if (offset >= nd->start && offset < nd->synced) return &nd->log[offset];
    if (offset < nd->snap_offset) return &nd->snap[offset];
    return NULL;
}

/* ----------------------------------------------------------------- network */

static bool heap_less(const msg_t *a, const msg_t *b) {
    return a->deliver_ms != b->deliver_ms ? a->deliver_ms < b->deliver_ms : a->seq < b->seq;
}

static void heap_push(sim_t *s, msg_t *m) {
    if (s->heap_len == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 64;
        s->heap = xrealloc(s->heap, (size_t)s->heap_cap * sizeof *s->heap);
    }
    int32_t i = s->heap_len++;
    s->heap[i] = m;
    while (i > 0 && heap_less(s->heap[i], s->heap[(i - 1) / 2])) {
        msg_t *t = s->heap[i];
        s->heap[i] = s->heap[(i - 1) / 2];
        s->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static msg_t *heap_pop(sim_t *s) {
    msg_t *top = s->heap[0];
    s->heap[0] = s->heap[--s->heap_len];
    for (int32_t i = 0;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->heap_len && heap_less(s->heap[l], s->heap[m])) m = l;
        if (r < s->heap_len && heap_less(s->heap[r], s->heap[m])) m = r;
        if (m == i) break;
        msg_t *t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

static void msg_free(msg_t *m) {
    free(m->p.entries);
    free(m->p.batches);
    free(m->p.bytes);
    free(m);
}

static msg_t *msg_copy(const msg_t *src) {
    msg_t *m = xrealloc(NULL, sizeof *m);
    *m = *src;
    m->p.entries = NULL;
    m->p.batches = NULL;
    m->p.bytes = NULL;
    if (src->p.entry_count) {
        m->p.entries = xrealloc(NULL, (size_t)src->p.entry_count * sizeof *m->p.entries);
        memcpy(m->p.entries, src->p.entries, (size_t)src->p.entry_count * sizeof *m->p.entries);
    }
    if (src->p.batch_count) {
        m->p.batches = xrealloc(NULL, (size_t)src->p.batch_count * sizeof *m->p.batches);
        memcpy(m->p.batches, src->p.batches, (size_t)src->p.batch_count * sizeof *m->p.batches);
    }
    if (src->p.byte_count) {
        m->p.bytes = xrealloc(NULL, (size_t)src->p.byte_count);
        memcpy(m->p.bytes, src->p.bytes, (size_t)src->p.byte_count);
    }
    return m;
}

static bool connected(const sim_t *s, int32_t from, int32_t to) {
    if (s->nodes[from].group == s->nodes[to].group) return true;
    return s->one_way && s->nodes[from].group == 0;
}

static int64_t network_delay(sim_t *s) {
    if (!s->quiet && chance(s, s->p_long_delay)) return rand_range(s, 200, 3000);
    return rand_range(s, 1, s->quiet ? 10 : s->delay_max_ms);
}

/* Takes ownership of m. */
static void network_send(sim_t *s, msg_t *m) {
    s->stats.messages++;
    if (m->to < 0 || !connected(s, m->from, m->to) || (!s->quiet && chance(s, s->p_drop))) {
        s->stats.dropped++;
        msg_free(m);
        return;
    }
    if (!s->quiet && chance(s, s->p_dup)) {
        msg_t *dup = msg_copy(m);
        dup->deliver_ms = s->now_ms + network_delay(s);
        dup->seq = s->seq++;
        heap_push(s, dup);
    }
    m->deliver_ms = s->now_ms + network_delay(s);
    m->seq = s->seq++;
    heap_push(s, m);
}

/* ------------------------------------------------------------------ oracle */

static void oracle_push(sim_t *s, const entry_t *e) {
    if (s->oracle_len == s->oracle_cap) {
        s->oracle_cap = s->oracle_cap ? s->oracle_cap * 2 : 1024;
        s->oracle = xrealloc(s->oracle, (size_t)s->oracle_cap * sizeof *s->oracle);
    }
    s->oracle[s->oracle_len++] = *e;
    s->stats.committed = s->oracle_len;
}

static int32_t durable_copies(const sim_t *s, int64_t offset, const entry_t *want) {
    int32_t copies = 0;
    for (int32_t i = 0; i < s->n; i++) {
        if (!s->nodes[i].voter) continue;
        const entry_t *e = durable_entry(&s->nodes[i], offset);
        if (e && entry_eq(e, want)) copies++;
    }
    return copies;
}

static int32_t majority(const sim_t *s) { return s->o.voters / 2 + 1; }

static void check_on_majority(sim_t *s, int64_t from, int64_t to) {
    for (int64_t o = from; o < to && !s->done; o++) {
        int32_t copies = durable_copies(s, o, &s->oracle[o]);
        if (copies < majority(s))
            fail(s, "committed entry at offset %" PRId64 " (epoch %d value %" PRId64 ") is durable on %d voters, "
                 "fewer than a majority",
                 o, s->oracle[o].epoch, s->oracle[o].value, copies);
    }
}

/* A node's committed offset moved to hw: its entries below must be the
 * oracle's, and new ones extend it. */
static void check_committed(sim_t *s, node_t *nd, int64_t old_hw, int64_t hw) {
    if (hw > nd->synced && hw > nd->snap_offset)
        fail(s, "node %d committed up to %" PRId64 " but only %" PRId64 " is durable", nd->id, hw, nd->synced);
    int64_t grown_from = s->oracle_len;
    for (int64_t o = old_hw < nd->start ? nd->start : old_hw; o < hw && !s->done; o++) {
        const entry_t *e = &nd->log[o];
        if (o < s->oracle_len) {
            if (!entry_eq(e, &s->oracle[o]))
                fail(s, "node %d committed offset %" PRId64 " as (epoch %d, value %" PRId64 ") but it was committed "
                     "as (epoch %d, value %" PRId64 ")",
                     nd->id, o, e->epoch, e->value, s->oracle[o].epoch, s->oracle[o].value);
        } else if (o == s->oracle_len) {
            oracle_push(s, e);
            if (s->quiet && s->stats.recovery_ms < 0 && e->value >= s->quiet_value_floor)
                s->stats.recovery_ms = s->now_ms - s->quiet_start_ms;
        } else {
            fail(s, "node %d committed offset %" PRId64 " past the oracle's end %" PRId64, nd->id, o, s->oracle_len);
        }
    }
    if (!s->done && s->oracle_len > grown_from) check_on_majority(s, grown_from, s->oracle_len);
}

static void check_leader(sim_t *s, node_t *nd, int32_t epoch) {
    if (epoch >= s->epoch_leader_cap) {
        int32_t cap = s->epoch_leader_cap ? s->epoch_leader_cap : 64;
        while (cap <= epoch) cap *= 2;
        s->epoch_leader = xrealloc(s->epoch_leader, (size_t)cap * sizeof *s->epoch_leader);
        for (int32_t i = s->epoch_leader_cap; i < cap; i++) s->epoch_leader[i] = -1;
        s->epoch_leader_cap = cap;
    }
    if (s->epoch_leader[epoch] >= 0 && s->epoch_leader[epoch] != nd->id)
        fail(s, "two leaders in epoch %d: node %d and node %d", epoch, s->epoch_leader[epoch], nd->id);
    s->epoch_leader[epoch] = nd->id;
    s->stats.elections++;
    /* Leader completeness: a new leader holds every committed entry. The
     * LEADER_CHANGE record it just appended is at the end. */
    int64_t end = nd->end;
    if (s->oracle_len > end)
        fail(s, "node %d leads epoch %d with log end %" PRId64 " below the committed %" PRId64, nd->id, epoch, end,
             s->oracle_len);
    for (int64_t o = nd->start; o < s->oracle_len && o < end && !s->done; o++)
        if (!entry_eq(&nd->log[o], &s->oracle[o]))
            fail(s, "node %d leads epoch %d without committed offset %" PRId64, nd->id, epoch, o);
}

/* ------------------------------------------------------------- snapshots */

static void snapshot_bytes(const entry_t *entries, int64_t position, int32_t len, uint8_t *out) {
    for (int32_t i = 0; i < len; i++) {
        int64_t at = position + i;
        const entry_t *e = &entries[at / SNAPSHOT_ENTRY_BYTES];
        int32_t k = (int32_t)(at % SNAPSHOT_ENTRY_BYTES);
        uint64_t v = k < 4 ? (uint64_t)(uint32_t)e->epoch >> (8 * k) : (uint64_t)e->value >> (8 * (k - 4));
        out[i] = (uint8_t)v;
    }
}

static void snapshot_parse(const uint8_t *b, int64_t count, entry_t *out) {
    for (int64_t i = 0; i < count; i++) {
        uint32_t epoch = 0;
        uint64_t value = 0;
        for (int k = 0; k < 4; k++) epoch |= (uint32_t)b[i * SNAPSHOT_ENTRY_BYTES + k] << (8 * k);
        for (int k = 0; k < 8; k++) value |= (uint64_t)b[i * SNAPSHOT_ENTRY_BYTES + 4 + k] << (8 * k);
        out[i] = (entry_t){(int32_t)epoch, 1, i, (int64_t)value};
    }
}

/* Node's state machine content [0, upto): snapshot then log. */
static entry_t *node_prefix(const node_t *nd, int64_t upto) {
    entry_t *e = xrealloc(NULL, (size_t)upto * sizeof *e);
    for (int64_t o = 0; o < upto; o++) e[o] = o < nd->start ? nd->snap[o] : nd->log[o];
    return e;
}

static void check_snapshot(sim_t *s, const node_t *nd, const entry_t *entries, int64_t count, const char *what) {
    if (count > s->oracle_len) {
        fail(s, "node %d %s a snapshot to %" PRId64 " beyond the committed %" PRId64, nd->id, what, count,
             s->oracle_len);
        return;
    }
    for (int64_t o = 0; o < count; o++)
        if (!entry_eq(&entries[o], &s->oracle[o])) {
            fail(s, "node %d %s a snapshot whose offset %" PRId64 " differs from the committed entry", nd->id, what,
                 o);
            return;
        }
}

/* ---------------------------------------------------------------- actions */

static void schedule_flush(sim_t *s, node_t *nd) {
    if (nd->flush_at_ms < 0) nd->flush_at_ms = s->now_ms + rand_range(s, 0, s->flush_delay_max_ms);
}

static void do_read_log(sim_t *s, node_t *nd, const st_raft_action_t *a, msg_t *m) {
    const st_raft_fetch_response_t *r = &a->send.message.fetch_response;
    int64_t o = r->read_from_offset;
    if (o < nd->start || o >= nd->end) {
        fail(s, "node %d asked to read [%" PRId64 ", %" PRId64 ") outside its log [%" PRId64 ", %" PRId64 ")", nd->id,
             r->read_from_offset, r->read_end_offset, nd->start, nd->end);
        return;
    }
    int64_t budget = r->read_max_bytes > 0 ? r->read_max_bytes : SIM_FETCH_MAX_BYTES;
    int64_t end = r->read_end_offset < nd->end ? r->read_end_offset : nd->end;
    m->p.from_offset = o;
    int32_t batches = 0;
    int64_t at = o;
    while (at < end) {
        const entry_t *e = &nd->log[at];
        if (e->batch_base != at) {
            fail(s, "node %d read from offset %" PRId64 " inside a batch", nd->id, at);
            return;
        }
        if (batches > 0 && (at - o + e->batch_records) * RECORD_BYTES > budget) break;
        if (batches == ST_RAFT_FETCH_BATCHES_MAX) break;
        batches++;
        at += e->batch_records;
    }
    m->p.entry_count = (int32_t)(at - o);
    m->p.entries = xrealloc(NULL, (size_t)m->p.entry_count * sizeof *m->p.entries);
    memcpy(m->p.entries, &nd->log[o], (size_t)m->p.entry_count * sizeof *m->p.entries);
    m->p.batch_count = batches;
    m->p.batches = xrealloc(NULL, (size_t)batches * sizeof *m->p.batches);
    for (int32_t i = 0, k = 0; i < m->p.entry_count; k++) {
        const entry_t *e = &m->p.entries[i];
        m->p.batches[k] = (st_raft_batch_t){o + i, e->batch_records, e->epoch};
        i += e->batch_records;
    }
}

static void do_read_snapshot(sim_t *s, node_t *nd, const st_raft_action_t *a, msg_t *m) {
    const st_raft_fetch_snapshot_response_t *r = &a->send.message.fetch_snapshot_response;
    if (r->snapshot_id.offset != nd->snap_offset || r->position + r->chunk_bytes > nd->snap_offset * SNAPSHOT_ENTRY_BYTES) {
        fail(s, "node %d asked to read a snapshot it does not have", nd->id);
        return;
    }
    m->p.byte_count = r->chunk_bytes;
    m->p.bytes = xrealloc(NULL, (size_t)r->chunk_bytes);
    snapshot_bytes(nd->snap, r->position, r->chunk_bytes, m->p.bytes);
}

static void load_snapshot(sim_t *s, node_t *nd, const st_raft_action_t *a) {
    int64_t count = a->snapshot.snapshot_id.offset;
    if (nd->partial_len != a->snapshot.size_bytes || count * SNAPSHOT_ENTRY_BYTES != nd->partial_len) {
        fail(s, "node %d loads a snapshot of %" PRId64 " bytes, has %" PRId64, nd->id, a->snapshot.size_bytes,
             nd->partial_len);
        return;
    }
    entry_t *entries = xrealloc(NULL, (size_t)count * sizeof *entries);
    snapshot_parse(nd->partial, count, entries);
    check_snapshot(s, nd, entries, count, "loaded");
    if (entries[count - 1].epoch != a->snapshot.snapshot_id.epoch)
        fail(s, "node %d loaded snapshot id epoch %d, last entry's epoch %d", nd->id, a->snapshot.snapshot_id.epoch,
             entries[count - 1].epoch);
    free(nd->snap);
    nd->snap = entries;
    nd->snap_offset = count;
    nd->snap_epoch = a->snapshot.snapshot_id.epoch;
    nd->start = nd->end = nd->synced = count;
    log_reserve(nd, count);
    if (nd->applied < count) nd->applied = count;
    s->stats.snapshot_loads++;
}

static void do_truncate(sim_t *s, node_t *nd, int64_t to) {
    for (int64_t o = to; o < nd->end && o < s->oracle_len && !s->done; o++)
        if (entry_eq(&nd->log[o], &s->oracle[o]))
            fail(s, "node %d truncated committed offset %" PRId64 " (to %" PRId64 ")", nd->id, o, to);
    nd->end = to;
    if (nd->synced > to) nd->synced = to;
    s->stats.truncations++;
}

static void do_append(sim_t *s, node_t *nd, const st_raft_append_t *ap, const payload_t *p) {
    if (ap->base_offset != nd->end) {
        fail(s, "node %d appends at %" PRId64 ", its log ends at %" PRId64, nd->id, ap->base_offset, nd->end);
        return;
    }
    log_reserve(nd, ap->end_offset);
    switch (ap->source) {
    case ST_RAFT_APPEND_FETCHED:
        if (!p || ap->base_offset < p->from_offset || ap->end_offset > p->from_offset + p->entry_count) {
            fail(s, "node %d appends fetched records it did not receive", nd->id);
            return;
        }
        memcpy(&nd->log[ap->base_offset], &p->entries[ap->base_offset - p->from_offset],
               (size_t)(ap->end_offset - ap->base_offset) * sizeof *nd->log);
        break;
    case ST_RAFT_APPEND_PROPOSED: {
        int32_t n = (int32_t)(ap->end_offset - ap->base_offset);
        for (int32_t i = 0; i < n; i++)
            nd->log[ap->base_offset + i] = (entry_t){ap->epoch, n, ap->base_offset, s->next_value++};
        break;
    }
    case ST_RAFT_APPEND_LEADER_CHANGE:
        nd->log[ap->base_offset] = (entry_t){ap->epoch, 1, ap->base_offset, -(int64_t)ap->epoch};
        break;
    }
    nd->end = ap->end_offset;
    schedule_flush(s, nd);
}

static void persist_state(sim_t *s, node_t *nd, const st_raft_quorum_state_t *q) {
    nd->state = *q;
    nd->has_state = true;
    nd->durable_state = *q;
    nd->has_durable_state = true;
    /* The broken disk keeps the epoch but loses the vote. */
    if (s->o.disk_fault == SIM_DISK_FORGETS_VOTES) nd->durable_state.voted_id = -1;
}

static void apply_actions(sim_t *s, node_t *nd, const payload_t *in) {
    int32_t from = (int32_t)(nd - s->nodes);
    for (int32_t i = 0; i < s->up.count && !s->done; i++) {
        const st_raft_action_t *a = &s->up.actions[i];
        switch (a->kind) {
        case ST_RAFT_ACTION_PERSIST_STATE:
            if (a->persist.leader_epoch < nd->state.leader_epoch && nd->has_state)
                fail(s, "node %d persisted epoch %d after %d", nd->id, a->persist.leader_epoch,
                     nd->state.leader_epoch);
            persist_state(s, nd, &a->persist);
            break;
        case ST_RAFT_ACTION_TRUNCATE: do_truncate(s, nd, a->truncate_end_offset); break;
        case ST_RAFT_ACTION_APPEND: do_append(s, nd, &a->append, in); break;
        case ST_RAFT_ACTION_SEND:
        case ST_RAFT_ACTION_READ_LOG:
        case ST_RAFT_ACTION_READ_SNAPSHOT: {
            msg_t *m = xrealloc(NULL, sizeof *m);
            memset(m, 0, sizeof *m);
            m->from = from;
            m->to = node_index(s, a->send.node);
            m->m = a->send.message;
            if (a->kind == ST_RAFT_ACTION_READ_LOG) do_read_log(s, nd, a, m);
            if (a->kind == ST_RAFT_ACTION_READ_SNAPSHOT) do_read_snapshot(s, nd, a, m);
            network_send(s, m);
            break;
        }
        case ST_RAFT_ACTION_WRITE_SNAPSHOT:
            if (a->snapshot.position == 0) nd->partial_len = 0;
            if (!in || a->snapshot.position != nd->partial_len || a->snapshot.bytes != in->byte_count) {
                fail(s, "node %d writes a snapshot chunk out of order", nd->id);
                break;
            }
            if (nd->partial_len + a->snapshot.bytes > nd->partial_cap) {
                nd->partial_cap = (nd->partial_len + a->snapshot.bytes) * 2;
                nd->partial = xrealloc(nd->partial, (size_t)nd->partial_cap);
            }
            memcpy(nd->partial + nd->partial_len, in->bytes, (size_t)a->snapshot.bytes);
            nd->partial_len += a->snapshot.bytes;
            break;
        case ST_RAFT_ACTION_LOAD_SNAPSHOT: load_snapshot(s, nd, a); break;
        case ST_RAFT_ACTION_COMMITTED:
            check_committed(s, nd, nd->applied, a->high_watermark);
            nd->applied = a->high_watermark;
            break;
        case ST_RAFT_ACTION_BECAME_LEADER:
            trace(s, "node %d leads epoch %d", nd->id, a->leader.epoch);
            check_leader(s, nd, a->leader.epoch);
            break;
        case ST_RAFT_ACTION_BECAME_FOLLOWER:
        case ST_RAFT_ACTION_LEADER_UNKNOWN:
        case ST_RAFT_ACTION_RESIGNED: break;
        }
    }
}

/* Steps a node's core with one event and checks what it says after. */
static void step_node(sim_t *s, node_t *nd, const st_raft_event_t *e, const payload_t *in, int *rc_out) {
    s->stats.steps++;
    int rc = st_raft_step(nd->core, e, &s->up);
    if (rc_out) *rc_out = rc;
    apply_actions(s, nd, in);
    if (s->done) return;
    int32_t epoch = st_raft_epoch(nd->core);
    int64_t hw = st_raft_high_watermark(nd->core);
    if (epoch < nd->max_epoch) fail(s, "node %d went back from epoch %d to %d", nd->id, nd->max_epoch, epoch);
    if (hw < nd->max_hw) fail(s, "node %d's high watermark went back from %" PRId64 " to %" PRId64, nd->id, nd->max_hw, hw);
    if (epoch > nd->max_epoch) nd->max_epoch = epoch;
    if (hw > nd->max_hw) nd->max_hw = hw;
    if (epoch > s->stats.max_epoch) s->stats.max_epoch = epoch;
    int64_t t = st_raft_next_tick_ms(nd->core);
    nd->next_tick_ms = t <= s->now_ms ? s->now_ms + 1 : t;
}

static void tick(sim_t *s, node_t *nd) {
    st_raft_event_t e = {.kind = ST_RAFT_EVENT_TICK, .now_ms = s->now_ms};
    step_node(s, nd, &e, NULL, NULL);
}

/* ------------------------------------------------------------ node life */

static void node_start(sim_t *s, node_t *nd) {
    st_raft_config_t cfg = s->config;
    cfg.local_id = nd->id;
    cfg.random_seed = s->o.seed * 7919u + (uint64_t)nd->id * 104729u + (uint64_t)nd->incarnation;
    /* Rebuild the epoch cache from the durable log, as the server will
     * from its partition log. */
    st_raft_epoch_entry_t *epochs = xrealloc(NULL, (size_t)(nd->end - nd->start + 1) * sizeof *epochs);
    int32_t count = 0;
    for (int64_t o = nd->start; o < nd->end; o++)
        if (count == 0 || epochs[count - 1].epoch != nd->log[o].epoch)
            epochs[count++] = (st_raft_epoch_entry_t){nd->log[o].epoch, o};
    st_raft_log_state_t log = {
        .log_start_offset = nd->start,
        .log_start_epoch = nd->start > 0 ? nd->snap_epoch : 0,
        .log_end_offset = nd->end,
        .epochs = epochs,
        .epoch_count = count,
        .latest_snapshot = nd->snap_offset > 0 ? (st_raft_offset_epoch_t){nd->snap_offset, nd->snap_epoch}
                                               : (st_raft_offset_epoch_t){-1, -1},
        .latest_snapshot_bytes = nd->snap_offset * SNAPSHOT_ENTRY_BYTES,
        .high_watermark = nd->applied,
    };
    int rc = st_raft_create(&cfg, nd->has_durable_state ? &nd->durable_state : NULL, &log, s->now_ms, &nd->core);
    free(epochs);
    if (rc != 0) {
        fail(s, "node %d could not start from its disk: %s", nd->id, st_err_name(rc));
        return;
    }
    nd->state = nd->durable_state;
    nd->has_state = nd->has_durable_state;
    nd->up = true;
    nd->flush_at_ms = -1;
    nd->next_tick_ms = s->now_ms;
    trace(s, "node %d starts (epoch %d, log [%" PRId64 ", %" PRId64 "), applied %" PRId64 ")", nd->id,
          st_raft_epoch(nd->core), nd->start, nd->end, nd->applied);
    tick(s, nd);
}

static void node_crash(sim_t *s, node_t *nd) {
    trace(s, "node %d crashes (log end %" PRId64 ", synced %" PRId64 ")", nd->id, nd->end, nd->synced);
    st_raft_destroy(nd->core);
    nd->core = NULL;
    nd->up = false;
    int64_t keep = nd->synced;
    if (s->o.disk_fault == SIM_DISK_LOSES_FLUSHED) {
        /* The broken disk acknowledged fsyncs it did not do: whole batches
         * after a random point are gone, down to its snapshot. */
        int64_t floor = nd->start > nd->snap_offset ? nd->start : nd->snap_offset;
        if (keep > floor) keep = nd->log[rand_range(s, floor, keep - 1)].batch_base;
        if (keep < floor) keep = floor;
        if (nd->applied > keep) nd->applied = keep;
    }
    nd->end = nd->synced = keep;
    nd->partial_len = 0;
    nd->restart_at_ms = s->now_ms + rand_range(s, 100, chance(s, 0.2) ? 20000 : 4000);
    s->stats.crashes++;
}

/* -------------------------------------------------------------- schedule */

static int32_t pick_up_node(sim_t *s, bool voters_only) {
    int32_t ids[SIM_NODES_MAX], n = 0;
    for (int32_t i = 0; i < s->n; i++)
        if (s->nodes[i].up && (!voters_only || s->nodes[i].voter)) ids[n++] = i;
    return n ? ids[rand_range(s, 0, n - 1)] : -1;
}

static void do_propose(sim_t *s) {
    for (int32_t i = 0; i < s->n; i++) {
        node_t *nd = &s->nodes[i];
        if (!nd->up || st_raft_role(nd->core) != ST_RAFT_LEADER) continue;
        st_raft_event_t e = {.kind = ST_RAFT_EVENT_PROPOSE, .now_ms = s->now_ms};
        e.propose.record_count = (int32_t)rand_range(s, 1, 3);
        int rc;
        step_node(s, nd, &e, NULL, &rc);
        if (rc != 0) fail(s, "leader %d refused a proposal: %s", nd->id, st_err_name(rc));
    }
}

static void do_snapshot(sim_t *s) {
    int32_t i = pick_up_node(s, false);
    if (i < 0) return;
    node_t *nd = &s->nodes[i];
    int64_t at = st_raft_high_watermark(nd->core);
    if (at <= nd->snap_offset || at < 1 || at < nd->start || at > nd->end) return;
    entry_t *entries = node_prefix(nd, at);
    check_snapshot(s, nd, entries, at, "took");
    bool drop_prefix = chance(s, 0.7);
    st_raft_event_t e = {.kind = ST_RAFT_EVENT_SNAPSHOT_TAKEN, .now_ms = s->now_ms};
    e.snapshot.snapshot_id = (st_raft_offset_epoch_t){at, entries[at - 1].epoch};
    e.snapshot.size_bytes = at * SNAPSHOT_ENTRY_BYTES;
    e.snapshot.log_start_offset = drop_prefix ? at : nd->start;
    int rc;
    step_node(s, nd, &e, NULL, &rc);
    if (rc != 0) {
        free(entries);
        fail(s, "node %d refused a snapshot at its committed offset %" PRId64 ": %s", nd->id, at, st_err_name(rc));
        return;
    }
    free(nd->snap);
    nd->snap = entries;
    nd->snap_offset = at;
    nd->snap_epoch = e.snapshot.snapshot_id.epoch;
    if (drop_prefix) nd->start = at;
    s->stats.snapshots++;
    trace(s, "node %d snapshot at %" PRId64 "%s", nd->id, at, drop_prefix ? ", log prefix deleted" : "");
}

static void begin_quiet(sim_t *s) {
    s->quiet = true;
    s->quiet_start_ms = s->now_ms;
    s->quiet_value_floor = s->next_value;
    for (int32_t i = 0; i < s->n; i++) s->nodes[i].group = 0;
    for (int32_t i = 0; i < s->n; i++)
        if (!s->nodes[i].up) s->nodes[i].restart_at_ms = s->now_ms;
    trace(s, "faults stop");
}

static void do_partition(sim_t *s) {
    for (int32_t i = 0; i < s->n; i++) s->nodes[i].group = (int32_t)rand_range(s, 0, 1);
    s->one_way = chance(s, 0.3);
    s->stats.partitions++;
    s->next_heal_ms = s->now_ms + rand_range(s, 500, 10000);
    trace(s, "partition");
}

/* ------------------------------------------------------------- stepping */

static int64_t next_event_ms(const sim_t *s) {
    int64_t t = s->o.duration_ms;
    if (s->heap_len && s->heap[0]->deliver_ms < t) t = s->heap[0]->deliver_ms;
    for (int32_t i = 0; i < s->n; i++) {
        const node_t *nd = &s->nodes[i];
        if (nd->up) {
            if (nd->next_tick_ms < t) t = nd->next_tick_ms;
            if (nd->flush_at_ms >= 0 && nd->flush_at_ms < t) t = nd->flush_at_ms;
        } else if (nd->restart_at_ms < t) {
            t = nd->restart_at_ms;
        }
    }
    int64_t sched[] = {s->next_propose_ms, s->next_snapshot_ms,
                       s->quiet ? INT64_MAX : s->next_crash_ms, s->quiet ? INT64_MAX : s->next_partition_ms,
                       s->quiet ? INT64_MAX : s->next_heal_ms, s->quiet ? INT64_MAX : s->next_resign_ms,
                       s->quiet ? INT64_MAX : s->o.duration_ms - s->o.quiet_ms};
    for (size_t i = 0; i < sizeof sched / sizeof sched[0]; i++)
        if (sched[i] < t) t = sched[i];
    return t < s->now_ms ? s->now_ms : t;
}

static void deliver(sim_t *s, msg_t *m) {
    node_t *to = &s->nodes[m->to];
    if (!to->up || !connected(s, m->from, m->to)) {
        s->stats.dropped++;
        return;
    }
    if (m->m.kind == ST_RAFT_MSG_FETCH_RESPONSE) {
        m->m.fetch_response.batches = m->p.batches;
        m->m.fetch_response.batch_count = m->p.batch_count;
    }
    if (m->m.kind == ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE) m->m.fetch_snapshot_response.chunk_bytes = m->p.byte_count;
    st_raft_event_t e = {.kind = ST_RAFT_EVENT_RECEIVE, .now_ms = s->now_ms};
    e.receive.from = s->nodes[m->from].id;
    e.receive.message = &m->m;
    if (s->o.verbose)
        trace(s, "%d -> %d %s corr %d", s->nodes[m->from].id, to->id, st_raft_message_name(m->m.kind),
              m->m.correlation_id);
    step_node(s, to, &e, &m->p, NULL);
}

bool sim_step(sim_t *s) {
    if (s->done) return false;
    int64_t t = next_event_ms(s);
    s->now_ms = t;
    if (t >= s->o.duration_ms) {
        s->done = true;
        return false;
    }
    if (!s->quiet && t >= s->o.duration_ms - s->o.quiet_ms) {
        begin_quiet(s);
        return true;
    }
    if (s->heap_len && s->heap[0]->deliver_ms == t) {
        msg_t *m = heap_pop(s);
        deliver(s, m);
        msg_free(m);
    } else {
        bool acted = false;
        for (int32_t i = 0; i < s->n && !acted; i++) {
            node_t *nd = &s->nodes[i];
            if (!nd->up && nd->restart_at_ms == t) {
                nd->incarnation++;
                node_start(s, nd);
                acted = true;
            } else if (nd->up && nd->flush_at_ms == t) {
                nd->flush_at_ms = -1;
                nd->synced = nd->end;
                st_raft_event_t e = {.kind = ST_RAFT_EVENT_LOG_FLUSHED, .now_ms = t};
                e.log_flushed.end_offset = nd->end;
                step_node(s, nd, &e, NULL, NULL);
                acted = true;
            } else if (nd->up && nd->next_tick_ms == t) {
                tick(s, nd);
                acted = true;
            }
        }
        if (acted) {
            /* one node event per step */
        } else if (t == s->next_propose_ms) {
            do_propose(s);
            s->next_propose_ms = t + rand_range(s, 50, 450);
        } else if (t == s->next_snapshot_ms) {
            do_snapshot(s);
            s->next_snapshot_ms = t + rand_range(s, s->snapshot_every_ms / 2, s->snapshot_every_ms * 3 / 2);
        } else if (t == s->next_crash_ms) {
            int32_t i = pick_up_node(s, false);
            if (i >= 0) node_crash(s, &s->nodes[i]);
            s->next_crash_ms = t + rand_range(s, s->crash_every_ms / 2, s->crash_every_ms * 3 / 2);
        } else if (t == s->next_partition_ms) {
            do_partition(s);
            s->next_partition_ms = t + rand_range(s, s->partition_every_ms / 2, s->partition_every_ms * 3 / 2);
        } else if (t == s->next_heal_ms) {
            for (int32_t i = 0; i < s->n; i++) s->nodes[i].group = 0;
            s->next_heal_ms = INT64_MAX;
            trace(s, "heal");
        } else if (t == s->next_resign_ms) {
            for (int32_t i = 0; i < s->n; i++) {
                node_t *nd = &s->nodes[i];
                if (!nd->up || st_raft_role(nd->core) != ST_RAFT_LEADER) continue;
                st_raft_event_t e = {.kind = ST_RAFT_EVENT_RESIGN, .now_ms = t};
                step_node(s, nd, &e, NULL, NULL);
                trace(s, "node %d resigns", nd->id);
            }
            s->next_resign_ms = t + rand_range(s, 5000, 40000);
        }
    }
    if (++s->steps_since_full_check >= FULL_CHECK_EVERY_STEPS) {
        s->steps_since_full_check = 0;
        sim_check_all(s);
    }
    if (s->quiet && s->stats.recovery_ms < 0 && s->now_ms - s->quiet_start_ms > s->o.liveness_ms)
        fail(s, "no progress: %" PRId64 " ms after the faults stopped, no entry proposed since is committed",
             s->now_ms - s->quiet_start_ms);
    return !s->done;
}

bool sim_check_all(sim_t *s) {
    for (int32_t i = 0; i < s->n && !s->done; i++) {
        node_t *nd = &s->nodes[i];
        int64_t hw = nd->applied;
        for (int64_t o = nd->start; o < hw && o < nd->end && !s->done; o++)
            if (o >= s->oracle_len || !entry_eq(&nd->log[o], &s->oracle[o]))
                fail(s, "node %d's committed offset %" PRId64 " differs from the committed log", nd->id, o);
        for (int64_t o = 0; o < nd->snap_offset && o < nd->start && !s->done; o++)
            if (o >= s->oracle_len || !entry_eq(&nd->snap[o], &s->oracle[o]))
                fail(s, "node %d's snapshot offset %" PRId64 " differs from the committed log", nd->id, o);
    }
    if (!s->done) check_on_majority(s, 0, s->oracle_len);
    return !s->done;
}

bool sim_run(sim_t *s) {
    while (sim_step(s)) {
    }
    if (!s->failure[0]) sim_check_all(s);
    if (!s->failure[0] && s->o.quiet_ms > 0 && s->stats.recovery_ms < 0)
        fail(s, "no progress: no entry proposed after the faults stopped was committed by the end");
    return !s->failure[0];
}

/* ---------------------------------------------------------------- set-up */

void sim_options_default(sim_options_t *o) {
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->voters = 3;
    o->duration_ms = 300000;
    o->quiet_ms = 30000;
    o->liveness_ms = 20000;
}

sim_t *sim_create(const sim_options_t *o) {
    sim_t *s = xrealloc(NULL, sizeof *s);
    memset(s, 0, sizeof *s);
    s->o = *o;
    s->rng = o->seed ^ 0x5bd1e995u;
    s->next_value = 1;
    s->stats.recovery_ms = -1;
    s->n = o->voters + o->observers;
    st_raft_config_default(&s->config);
    s->config.voter_count = o->voters;
    for (int32_t i = 0; i < o->voters; i++) s->config.voters[i] = i + 1;
    s->config.fetch_max_bytes = SIM_FETCH_MAX_BYTES;
    /* A small cache, so that snapshots must free it now and then. */
    s->config.epoch_cache_max = 64;
    for (int32_t i = 0; i < s->n; i++) {
        node_t *nd = &s->nodes[i];
        nd->id = i < o->voters ? i + 1 : OBSERVER_ID_BASE + i;
        nd->voter = i < o->voters;
        nd->flush_at_ms = -1;
        log_reserve(nd, 256);
    }
    /* This seed's faults ("swarm testing": each run stresses some more). */
    static const double drops[] = {0, 0.01, 0.05, 0.2};
    static const int64_t delays[] = {5, 20, 60};
    s->p_drop = drops[sim_rand(s) % 4];
    s->p_dup = chance(s, 0.5) ? 0.02 : 0;
    s->p_long_delay = chance(s, 0.5) ? 0.01 : 0;
    s->delay_max_ms = delays[sim_rand(s) % 3];
    static const int64_t flush_delays[] = {5, 30, 300};
    s->flush_delay_max_ms = flush_delays[sim_rand(s) % 3];
    s->crash_every_ms = chance(s, 0.2) ? INT64_MAX / 4 : rand_range(s, 3000, 20000);
    s->partition_every_ms = chance(s, 0.3) ? INT64_MAX / 4 : rand_range(s, 5000, 30000);
    s->snapshot_every_ms = rand_range(s, 2000, 15000);
    s->next_propose_ms = 100;
    s->next_crash_ms = rand_range(s, 1000, s->crash_every_ms < 30000 ? s->crash_every_ms : 30000);
    s->next_partition_ms = rand_range(s, 1000, s->partition_every_ms < 30000 ? s->partition_every_ms : 30000);
    s->next_heal_ms = INT64_MAX;
    s->next_snapshot_ms = s->snapshot_every_ms;
    s->next_resign_ms = rand_range(s, 5000, 40000);
    for (int32_t i = 0; i < s->n && !s->done; i++) node_start(s, &s->nodes[i]);
    return s;
}

void sim_destroy(sim_t *s) {
    if (!s) return;
    for (int32_t i = 0; i < s->n; i++) {
        st_raft_destroy(s->nodes[i].core);
        free(s->nodes[i].log);
        free(s->nodes[i].snap);
        free(s->nodes[i].partial);
    }
    while (s->heap_len) msg_free(heap_pop(s));
    free(s->heap);
    free(s->oracle);
    free(s->epoch_leader);
    free(s);
}

const char *sim_failure(const sim_t *s) { return s->failure[0] ? s->failure : NULL; }
void sim_stats(const sim_t *s, sim_stats_t *out) { *out = s->stats; }
int64_t sim_now_ms(const sim_t *s) { return s->now_ms; }

bool sim_corrupt_committed_entry(sim_t *s) {
    for (int32_t i = 0; i < s->n; i++) {
        node_t *nd = &s->nodes[i];
        if (nd->applied > nd->start && nd->applied <= nd->end) {
            nd->log[nd->applied - 1].value ^= 0x40;
            return true;
        }
    }
    return false;
}
