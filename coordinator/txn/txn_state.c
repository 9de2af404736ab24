/*
 * The transaction coordinator's state machine (see the header for the
 * states, the actions and the invariants). Kafka's decisions, from
 * TransactionCoordinator.scala and TransactionMetadata (Kafka 3.9 for
 * transaction versions 0/1, 4.x for TV2), with one difference: Kafka
 * changes some fields in memory before the append of a fence and keeps a
 * hasFailedEpochFence flag to undo it; here nothing changes before a record
 * is durable, so a failed append simply leaves the state as it was.
 *
 * Every transition is two steps: prepare_* computes the next metadata from
 * the current one (Kafka's TxnTransitMetadata) and holds it pending with
 * its APPEND out; st_txn_state_appended makes it current (or drops it).
 */
#include "coordinator/txn/txn_state.h"

#include "coordinator/txn/txn_errors.h"
#include "coordinator/txn/txn_partitions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"

#define NO_PRODUCER_ID (-1)
#define NO_EPOCH (-1)
#define EPOCH_MAX INT16_MAX
#define SLOTS_MIN 64

static void txn_assert_fail(const char *what, const char *file, int line) {
    fprintf(stderr, "%s:%d: transaction state invariant failed: %s\n", file, line, what);
    abort();
}
/* Always on: a broken table or transition means corrupt state (STYLE 9). */
#define TXN_ASSERT(cond) ((cond) ? (void)0 : txn_assert_fail(#cond, __FILE__, __LINE__))

static void *xalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) txn_assert_fail("out of memory", __FILE__, __LINE__);
    return p;
}

/* Kafka's TransactionMetadata.isEpochExhausted: the coordinator keeps the
 * last epoch to fence a producer with. */
static bool epoch_exhausted(int16_t epoch) { return epoch >= EPOCH_MAX - 1; }

static st_str_t str_dup(st_str_t s) {
    char *c = xalloc((size_t)s.len + 1);
    if (s.len > 0) memcpy(c, s.ptr, (size_t)s.len);
    return (st_str_t){c, s.len};
}

/* ---- entries ----------------------------------------------------------- */

/* The durable fields of a transactional id (Kafka's TxnTransitMetadata). */
typedef struct txn_meta {
    int64_t producer_id;
    int64_t prev_producer_id;
    int64_t next_producer_id;
    int16_t producer_epoch;
    int16_t last_producer_epoch; /* not stored: -1 after a load, as in Kafka */
    int32_t timeout_ms;
    st_txn_status_t state;
    st_txn_partition_set_t parts;
    int64_t start_ms;
    int64_t last_update_ms;
    int16_t client_tv;
} txn_meta_t;

/* What the pending transition is for: what to do once it is durable. */
typedef enum pending_kind {
    PENDING_NONE = 0,
    PENDING_INIT,     /* InitProducerId: answer the new producer id and epoch */
    PENDING_ADD,      /* AddPartitions/AddOffsets: answer NONE */
    PENDING_END,      /* EndTxn: answer, then write the markers */
    PENDING_FENCE,    /* a fence (PrepareEpochFence -> PrepareAbort): answer CONCURRENT_TRANSACTIONS if asked */
    PENDING_COMPLETE, /* Complete*: markers outstanding, then its record */
    PENDING_DEAD,     /* expiration: the tombstone */
} pending_kind_t;

typedef struct txn_entry {
    st_str_t id; /* owned, NUL after it */
    bool durable;
    txn_meta_t cur;
    pending_kind_t pending;
    txn_meta_t next;      /* the pending target */
    bool appending;       /* the pending record's APPEND is out */
    uint64_t append_id;
    uint64_t request_id;  /* to answer once durable, ST_TXN_NO_REQUEST when none */
    bool commit;          /* END/FENCE/COMPLETE: the transaction's result */
    bool markers_stopped; /* a non-retriable marker error: the next load resumes */
} txn_entry_t;

struct st_txn_state {
    st_txn_config_t cfg;
    int32_t partition;
    int32_t coordinator_epoch;
    bool loading;
    txn_entry_t **slots; /* open addressing by id, NULL: empty */
    uint32_t slot_cap;   /* power of two, >= 2 * count */
    int32_t count;
    uint64_t next_append_id;
};

static void meta_free(txn_meta_t *m) { st_txn_partition_set_free(&m->parts); }

static void meta_copy(txn_meta_t *dst, const txn_meta_t *src) {
    *dst = *src;
    st_txn_partition_set_copy(&dst->parts, &src->parts);
}

static uint32_t hash_id(st_str_t id) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int32_t i = 0; i < id.len; i++) h = (h ^ (uint8_t)id.ptr[i]) * 16777619u;
    return h;
}

static bool id_eq(st_str_t a, st_str_t b) {
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

/* The slot holding id, or the empty slot where it would go. */
static uint32_t slot_of(const st_txn_state_t *s, st_str_t id) {
    uint32_t mask = s->slot_cap - 1;
    for (uint32_t i = hash_id(id) & mask;; i = (i + 1) & mask)
        if (!s->slots[i] || id_eq(s->slots[i]->id, id)) return i;
}

static txn_entry_t *lookup(const st_txn_state_t *s, st_str_t id) {
    if (id.len <= 0) return NULL;
    return s->slots[slot_of(s, id)];
}

static void table_grow(st_txn_state_t *s) {
    txn_entry_t **old = s->slots;
    uint32_t old_cap = s->slot_cap;
    s->slot_cap *= 2;
    s->slots = xalloc((size_t)s->slot_cap * sizeof *s->slots);
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i]) s->slots[slot_of(s, old[i]->id)] = old[i];
    free(old);
}

static txn_entry_t *entry_add(st_txn_state_t *s, st_str_t id) {
    if ((uint32_t)(s->count + 1) * 2 > s->slot_cap) table_grow(s);
    uint32_t slot = slot_of(s, id);
    TXN_ASSERT(!s->slots[slot]);
    txn_entry_t *e = xalloc(sizeof *e);
    e->id = str_dup(id);
    s->slots[slot] = e;
    s->count++;
    return e;
}

static void entry_free(txn_entry_t *e) {
    meta_free(&e->cur);
    meta_free(&e->next);
    free((char *)e->id.ptr);
    free(e);
}

/* Removes the entry, shifting later members of its probe run back. */
static void entry_remove(st_txn_state_t *s, txn_entry_t *e) {
    uint32_t mask = s->slot_cap - 1;
    uint32_t hole = slot_of(s, e->id);
    TXN_ASSERT(s->slots[hole] == e);
    for (uint32_t i = (hole + 1) & mask; s->slots[i]; i = (i + 1) & mask) {
        uint32_t home = hash_id(s->slots[i]->id) & mask;
        bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (!stays) {
            s->slots[hole] = s->slots[i];
            hole = i;
        }
    }
    s->slots[hole] = NULL;
    s->count--;
    entry_free(e);
}

/* ---- public: setup ------------------------------------------------------ */

void st_txn_config_default(st_txn_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->transaction_max_timeout_ms = ST_TXN_MAX_TIMEOUT_MS_DEFAULT;
    cfg->transactional_id_expiration_ms = ST_TXN_ID_EXPIRATION_MS_DEFAULT;
    cfg->transaction_version = 0;
    cfg->ids_max = ST_TXN_IDS_MAX_DEFAULT;
    cfg->partitions_max = ST_TXN_PARTITIONS_MAX_DEFAULT;
}

int st_txn_state_new(const st_txn_config_t *cfg, int32_t partition, int32_t coordinator_epoch, st_txn_state_t **out) {
    st_txn_state_t *s = calloc(1, sizeof *s);
    if (!s) return ST_ERR_NO_MEMORY;
    s->slot_cap = SLOTS_MIN;
    s->slots = calloc(s->slot_cap, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return ST_ERR_NO_MEMORY;
    }
    s->cfg = *cfg;
    s->partition = partition;
    s->coordinator_epoch = coordinator_epoch;
    s->loading = true;
    *out = s;
    return 0;
}

void st_txn_state_free(st_txn_state_t *s) {
    if (!s) return;
    for (uint32_t i = 0; i < s->slot_cap; i++)
        if (s->slots[i]) entry_free(s->slots[i]);
    free(s->slots);
    free(s);
}

bool st_txn_state_loading(const st_txn_state_t *s) { return s->loading; }
int32_t st_txn_state_count(const st_txn_state_t *s) { return s->count; }
int32_t st_txn_state_partition(const st_txn_state_t *s) { return s->partition; }
int32_t st_txn_state_coordinator_epoch(const st_txn_state_t *s) { return s->coordinator_epoch; }

/* ---- output ----------------------------------------------------------------- */

void st_txn_output_init(st_txn_output_t *o) {
    memset(o, 0, sizeof *o);
    st_arena_init(&o->arena);
}

void st_txn_output_reset(st_txn_output_t *o) {
    st_arena_free(&o->arena);
    st_arena_init(&o->arena);
    o->count = 0;
}

void st_txn_output_free(st_txn_output_t *o) {
    st_arena_free(&o->arena);
    free(o->actions);
    memset(o, 0, sizeof *o);
}

static st_txn_action_t *push(st_txn_output_t *o, st_txn_action_kind_t kind, st_str_t id) {
    if (o->count == o->cap) {
        int32_t cap = o->cap ? o->cap * 2 : 8;
        st_txn_action_t *a = realloc(o->actions, (size_t)cap * sizeof *a);
        if (!a) txn_assert_fail("out of memory", __FILE__, __LINE__);
        o->actions = a;
        o->cap = cap;
    }
    st_txn_action_t *a = &o->actions[o->count++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    char *copy = st_arena_alloc(&o->arena, (size_t)(id.len > 0 ? id.len : 0) + 1);
    if (id.len > 0) memcpy(copy, id.ptr, (size_t)id.len);
    a->transactional_id = (st_str_t){copy, id.len > 0 ? id.len : 0};
    return a;
}

static void respond(st_txn_output_t *o, uint64_t request_id, st_str_t id, int error, int64_t producer_id,
                    int16_t producer_epoch) {
    if (request_id == ST_TXN_NO_REQUEST) return;
    st_txn_action_t *a = push(o, ST_TXN_RESPOND, id);
    a->respond.request_id = request_id;
    a->respond.error = (int16_t)error;
    a->respond.producer_id = error ? NO_PRODUCER_ID : producer_id;
    a->respond.producer_epoch = error ? NO_EPOCH : producer_epoch;
}

static void respond_error(st_txn_output_t *o, uint64_t request_id, st_str_t id, int error) {
    respond(o, request_id, id, error, NO_PRODUCER_ID, NO_EPOCH);
}

/* The pending target's record (or tombstone) goes out. */
static void emit_append(st_txn_state_t *s, txn_entry_t *e, st_txn_output_t *o, bool retry) {
    st_txn_action_t *a = push(o, ST_TXN_APPEND, e->id);
    st_writer_t w;
    st_writer_init(&w, 64);
    st_txn_record_encode_key(&w, e->id);
    a->append.key = st_arena_memdup(&o->arena, w.data, w.len);
    a->append.key_len = (int32_t)w.len;
    if (e->pending == PENDING_DEAD) {
        a->append.value = NULL;
        a->append.value_len = -1;
    } else {
        st_writer_reset(&w);
        const txn_meta_t *m = &e->next;
        st_txn_record_t r = {
            .transactional_id = e->id,
            .producer_id = m->producer_id,
            .previous_producer_id = m->prev_producer_id,
            .next_producer_id = m->next_producer_id,
            .producer_epoch = m->producer_epoch,
            .transaction_timeout_ms = m->timeout_ms,
            .status = (int8_t)m->state,
            .partitions = m->parts.items,
            .partition_count = m->parts.count,
            .last_update_ms = m->last_update_ms,
            .start_ms = m->start_ms,
            .client_transaction_version = m->client_tv,
        };
        st_txn_record_encode_value(&w, &r, s->cfg.transaction_version >= 2 ? 1 : 0);
        a->append.value = st_arena_memdup(&o->arena, w.data, w.len);
        a->append.value_len = (int32_t)w.len;
    }
    st_writer_free(&w);
    a->append.retry = retry;
    a->append.append_id = ++s->next_append_id;
    e->append_id = a->append.append_id;
    e->appending = true;
}

/* Markers for the Prepare* transaction, to `parts` (all of them, or one to
 * retry). */
static void emit_markers(const st_txn_state_t *s, const txn_entry_t *e, st_txn_output_t *o,
                         const st_txn_partition_t *parts, int32_t count, bool retry) {
    st_txn_action_t *a = push(o, ST_TXN_WRITE_MARKERS, e->id);
    a->markers.producer_id = e->cur.producer_id;
    a->markers.producer_epoch = e->cur.producer_epoch;
    a->markers.commit = e->commit;
    a->markers.coordinator_epoch = s->coordinator_epoch;
    a->markers.transaction_version = e->cur.client_tv;
    st_txn_partition_t *copy = st_arena_alloc(&o->arena, (size_t)(count ? count : 1) * sizeof *copy);
    for (int32_t i = 0; i < count; i++) {
        char *t = st_arena_alloc(&o->arena, (size_t)parts[i].topic.len + 1);
        memcpy(t, parts[i].topic.ptr, (size_t)parts[i].topic.len);
        copy[i] = (st_txn_partition_t){{t, parts[i].topic.len}, parts[i].partition};
    }
    a->markers.partitions = copy;
    a->markers.partition_count = count;
    a->markers.retry = retry;
}

/* ---- transitions (Kafka's TransactionMetadata.prepare*) ------------------ */

/* The next metadata starts as the current one; Kafka's transit always
 * records the current producer id as the previous one. */
static void next_from_current(txn_entry_t *e, st_txn_status_t state, int64_t now_ms) {
    meta_free(&e->next);
    meta_copy(&e->next, &e->cur);
    e->next.state = state;
    e->next.prev_producer_id = e->cur.producer_id;
    e->next.last_update_ms = now_ms;
}

static void begin(st_txn_state_t *s, txn_entry_t *e, pending_kind_t kind, uint64_t request_id, st_txn_output_t *o) {
    TXN_ASSERT(e->pending == PENDING_NONE);
    e->pending = kind;
    e->request_id = request_id;
    emit_append(s, e, o, false);
}

static void to_empty(txn_entry_t *e, int32_t timeout_ms, int64_t now_ms) {
    next_from_current(e, ST_TXN_EMPTY, now_ms);
    st_txn_partition_set_free(&e->next.parts);
    e->next.timeout_ms = timeout_ms;
    e->next.start_ms = -1;
}

/* prepareIncrementProducerEpoch: 0, PRODUCER_FENCED, or
 * UNKNOWN_SERVER_ERROR when no epoch is left (Kafka's IllegalStateException). */
static int prepare_increment_epoch(txn_entry_t *e, int32_t timeout_ms, bool has_expected, int16_t expected_epoch,
                                   int64_t now_ms) {
    if (epoch_exhausted(e->cur.producer_epoch)) return ST_ERR_UNKNOWN_SERVER_ERROR;
    int16_t epoch, last;
    if (!has_expected) {
        epoch = (int16_t)(e->cur.producer_epoch + 1);
        last = NO_EPOCH;
    } else if (e->cur.producer_epoch == NO_EPOCH || expected_epoch == e->cur.producer_epoch) {
        epoch = (int16_t)(e->cur.producer_epoch + 1);
        last = e->cur.producer_epoch;
    } else if (expected_epoch == e->cur.last_producer_epoch) {
        /* A retry of a bump whose answer was lost. */
        epoch = e->cur.producer_epoch;
        last = e->cur.last_producer_epoch;
    } else {
        return ST_ERR_PRODUCER_FENCED;
    }
    to_empty(e, timeout_ms, now_ms);
    e->next.producer_epoch = epoch;
    e->next.last_producer_epoch = last;
    return 0;
}

/* prepareProducerIdRotation */
static void prepare_rotation(txn_entry_t *e, int64_t producer_id, int32_t timeout_ms, bool record_last_epoch,
                             int64_t now_ms) {
    to_empty(e, timeout_ms, now_ms);
    e->next.producer_id = producer_id;
    e->next.producer_epoch = 0;
    e->next.last_producer_epoch = record_last_epoch ? e->cur.producer_epoch : NO_EPOCH;
}

/* prepareAbortOrCommit; TV2 bumps the epoch (not past EPOCH_MAX on an
 * abort, so a broken producer can still be aborted). */
static void prepare_end(txn_entry_t *e, bool commit, int16_t tv, int64_t next_producer_id, bool no_partition_added,
                        int64_t now_ms) {
    next_from_current(e, commit ? ST_TXN_PREPARE_COMMIT : ST_TXN_PREPARE_ABORT, now_ms);
    if (tv >= 2) {
        if (!(e->cur.producer_epoch == EPOCH_MAX && !commit)) e->next.producer_epoch = (int16_t)(e->cur.producer_epoch + 1);
        e->next.last_producer_epoch = e->cur.producer_epoch;
    }
    if (no_partition_added) e->next.start_ms = now_ms;
    e->next.next_producer_id = next_producer_id;
    e->next.client_tv = tv;
    e->commit = commit;
}

/* prepareFenceProducerEpoch followed by the abort it leads to: one epoch
 * bump (none at EPOCH_MAX); TV1 forgets the last epoch, TV2 keeps it. */
static void prepare_fence(txn_entry_t *e, int16_t server_tv, int64_t now_ms) {
    int16_t bumped = e->cur.producer_epoch == EPOCH_MAX ? EPOCH_MAX : (int16_t)(e->cur.producer_epoch + 1);
    prepare_end(e, false, server_tv >= 2 ? 2 : 0, NO_PRODUCER_ID, false, now_ms);
    e->next.producer_epoch = bumped;
    e->next.last_producer_epoch = server_tv >= 2 ? e->cur.producer_epoch : NO_EPOCH;
}

/* prepareComplete: TV2 moves to the producer id allocated when the epoch
 * ran out. */
static void prepare_complete(txn_entry_t *e, int64_t now_ms) {
    bool commit = e->cur.state == ST_TXN_PREPARE_COMMIT;
    next_from_current(e, commit ? ST_TXN_COMPLETE_COMMIT : ST_TXN_COMPLETE_ABORT, now_ms);
    if (e->cur.client_tv >= 2 && e->cur.next_producer_id != NO_PRODUCER_ID) {
        e->next.producer_id = e->cur.next_producer_id;
        e->next.producer_epoch = 0;
    }
    e->next.next_producer_id = NO_PRODUCER_ID;
    st_txn_partition_set_free(&e->next.parts);
    e->commit = commit;
    e->pending = PENDING_COMPLETE;
    e->appending = false;
    e->markers_stopped = false;
}

/* The pending target becomes current. */
static void make_current(txn_entry_t *e) {
    meta_free(&e->cur);
    e->cur = e->next;
    memset(&e->next, 0, sizeof e->next);
    e->durable = true;
    e->pending = PENDING_NONE;
    e->appending = false;
}

/* The pending target is dropped; an id never made durable goes. */
static void roll_back(st_txn_state_t *s, txn_entry_t *e) {
    meta_free(&e->next);
    e->pending = PENDING_NONE;
    e->appending = false;
    if (!e->durable) entry_remove(s, e);
}

/* After prepare_complete: the end goes out to every partition, or
 * straight to its Complete record when there is none (a TV2 empty abort). */
static void send_completion(st_txn_state_t *s, txn_entry_t *e, st_txn_output_t *o) {
    if (e->cur.parts.count == 0)
        emit_append(s, e, o, false);
    else
        emit_markers(s, e, o, e->cur.parts.items, e->cur.parts.count, false);
}

/* ---- loading ------------------------------------------------------------- */

int st_txn_state_replay(st_txn_state_t *s, const uint8_t *key, int32_t key_len, const uint8_t *value,
                        int32_t value_len) {
    if (!s->loading) return ST_ERR_INVALID_TXN_STATE;
    st_arena_t arena;
    st_arena_init(&arena);
    st_txn_record_t r;
    int rc = st_txn_record_decode(key, key_len, value, value_len, &arena, &r);
    if (rc == 0 && r.partition_count > s->cfg.partitions_max) rc = ST_ERR_CORRUPT;
    if (rc == 0) {
        txn_entry_t *e = lookup(s, r.transactional_id);
        if (r.tombstone) {
            if (e) entry_remove(s, e);
        } else if (!e && s->count >= s->cfg.ids_max) {
            rc = ST_ERR_LIMIT;
        } else {
            if (!e) e = entry_add(s, r.transactional_id);
            meta_free(&e->cur);
            e->cur = (txn_meta_t){
                .producer_id = r.producer_id,
                .prev_producer_id = r.previous_producer_id,
                .next_producer_id = r.next_producer_id,
                .producer_epoch = r.producer_epoch,
                .last_producer_epoch = NO_EPOCH,
                .timeout_ms = r.transaction_timeout_ms,
                .state = (st_txn_status_t)r.status,
                .start_ms = r.start_ms,
                .last_update_ms = r.last_update_ms,
                .client_tv = r.client_transaction_version,
            };
            for (int32_t i = 0; i < r.partition_count; i++) st_txn_partition_set_insert(&e->cur.parts, &r.partitions[i]);
            if (e->cur.state == ST_TXN_EMPTY) e->cur.start_ms = -1;
            e->durable = true;
        }
    }
    st_arena_free(&arena);
    return rc;
}

void st_txn_state_load_complete(st_txn_state_t *s, int64_t now_ms, st_txn_output_t *out) {
    s->loading = false;
    for (uint32_t i = 0; i < s->slot_cap; i++) {
        txn_entry_t *e = s->slots[i];
        if (e && (e->cur.state == ST_TXN_PREPARE_COMMIT || e->cur.state == ST_TXN_PREPARE_ABORT)) {
            prepare_complete(e, now_ms);
            send_completion(s, e, out);
        }
    }
}

/* ---- requests ------------------------------------------------------------ */

void st_txn_state_init_producer_id(st_txn_state_t *s, uint64_t request_id, st_str_t id, int32_t timeout_ms,
                                   int64_t expected_producer_id, int16_t expected_producer_epoch, int64_t now_ms,
                                   st_txn_output_t *out) {
    if (s->loading) return respond_error(out, request_id, id, ST_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    if (id.len <= 0) return respond_error(out, request_id, id, ST_ERR_INVALID_REQUEST);
    /* KafkaApis: both or neither. */
    bool has_expected = expected_producer_id != NO_PRODUCER_ID || expected_producer_epoch != NO_EPOCH;
    if (has_expected && (expected_producer_id == NO_PRODUCER_ID || expected_producer_epoch == NO_EPOCH))
        return respond_error(out, request_id, id, ST_ERR_INVALID_REQUEST);
    if (timeout_ms <= 0 || timeout_ms > s->cfg.transaction_max_timeout_ms)
        return respond_error(out, request_id, id, ST_ERR_INVALID_TRANSACTION_TIMEOUT);
    txn_entry_t *e = lookup(s, id);
    if (!e) {
        if (s->count >= s->cfg.ids_max) return respond_error(out, request_id, id, ST_ERR_COORDINATOR_NOT_AVAILABLE);
        int64_t producer_id;
        int rc = s->cfg.allocate_producer_id(s->cfg.allocate_ctx, &producer_id);
        if (rc) return respond_error(out, request_id, id, rc);
        e = entry_add(s, id);
        e->cur = (txn_meta_t){
            .producer_id = producer_id,
            .prev_producer_id = NO_PRODUCER_ID,
            .next_producer_id = NO_PRODUCER_ID,
            .producer_epoch = NO_EPOCH,
            .last_producer_epoch = NO_EPOCH,
            .timeout_ms = timeout_ms,
            .state = ST_TXN_EMPTY,
            .start_ms = -1,
            .last_update_ms = now_ms,
        };
    }
    int rc = 0;
    if (e->pending != PENDING_NONE) {
        rc = ST_ERR_CONCURRENT_TRANSACTIONS;
    } else if (has_expected && !(e->cur.producer_epoch == NO_EPOCH || expected_producer_id == e->cur.producer_id ||
                                 (expected_producer_id == e->cur.prev_producer_id &&
                                  epoch_exhausted(expected_producer_epoch)))) {
        /* isValidProducerId: not a new id, not its producer, not a retry
         * of a rotation. */
        rc = ST_ERR_PRODUCER_FENCED;
    } else {
        switch (e->cur.state) {
        case ST_TXN_PREPARE_COMMIT:
        case ST_TXN_PREPARE_ABORT:
            rc = ST_ERR_CONCURRENT_TRANSACTIONS;
            break;
        case ST_TXN_ONGOING:
            /* The open transaction is aborted first, fencing its producer;
             * the client retries and gets the next epoch. */
            prepare_fence(e, s->cfg.transaction_version, now_ms);
            begin(s, e, PENDING_FENCE, request_id, out);
            return;
        default:
            if (epoch_exhausted(e->cur.producer_epoch) &&
                (!has_expected || expected_producer_epoch == e->cur.producer_epoch)) {
                int64_t producer_id;
                rc = s->cfg.allocate_producer_id(s->cfg.allocate_ctx, &producer_id);
                if (rc == 0) prepare_rotation(e, producer_id, timeout_ms, has_expected, now_ms);
            } else {
                rc = prepare_increment_epoch(e, timeout_ms, has_expected, expected_producer_epoch, now_ms);
            }
            if (rc == 0) {
                begin(s, e, PENDING_INIT, request_id, out);
                return;
            }
        }
    }
    if (!e->durable && e->pending == PENDING_NONE) entry_remove(s, e);
    respond_error(out, request_id, id, rc);
}

/* The checks AddPartitions and its verify-only form share (Kafka's order
 * since 4.0: a pending transition first). 0 when the transaction may take
 * partitions. */
static int check_add(const st_txn_state_t *s, const txn_entry_t *e, st_str_t id, int64_t producer_id,
                     int16_t producer_epoch, bool verify) {
    if (s->loading) return ST_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    if (id.len <= 0) return ST_ERR_INVALID_REQUEST;
    if (!e || !e->durable) return ST_ERR_INVALID_PRODUCER_ID_MAPPING;
    /* Verification ignores a pending transition: the append checks again. */
    if (!verify && e->pending != PENDING_NONE) return ST_ERR_CONCURRENT_TRANSACTIONS;
    if (e->cur.producer_id != producer_id) return ST_ERR_INVALID_PRODUCER_ID_MAPPING;
    if (e->cur.producer_epoch != producer_epoch) return ST_ERR_PRODUCER_FENCED;
    if (e->cur.state == ST_TXN_PREPARE_COMMIT || e->cur.state == ST_TXN_PREPARE_ABORT)
        return ST_ERR_CONCURRENT_TRANSACTIONS;
    return 0;
}

void st_txn_state_add_partitions(st_txn_state_t *s, uint64_t request_id, st_str_t id, int64_t producer_id,
                                 int16_t producer_epoch, const st_txn_partition_t *parts, int32_t count, int16_t tv,
                                 int64_t now_ms, st_txn_output_t *out) {
    txn_entry_t *e = lookup(s, id);
    int rc = check_add(s, e, id, producer_id, producer_epoch, false);
    if (rc) return respond_error(out, request_id, id, rc);
    for (int32_t i = 0; i < count; i++)
        if (parts[i].topic.len <= 0 || parts[i].partition < 0)
            return respond_error(out, request_id, id, ST_ERR_INVALID_REQUEST);
    bool all_in = e->cur.state == ST_TXN_ONGOING;
    for (int32_t i = 0; all_in && i < count; i++) all_in = st_txn_partition_set_find(&e->cur.parts, &parts[i]) >= 0;
    if (all_in) return respond(out, request_id, id, 0, NO_PRODUCER_ID, NO_EPOCH);
    /* prepareAddPartitions: a new transaction starts now. */
    bool starts = e->cur.state != ST_TXN_ONGOING;
    next_from_current(e, ST_TXN_ONGOING, now_ms);
    for (int32_t i = 0; i < count; i++) st_txn_partition_set_insert(&e->next.parts, &parts[i]);
    if (e->next.parts.count > s->cfg.partitions_max) {
        roll_back(s, e);
        return respond_error(out, request_id, id, ST_ERR_UNKNOWN_SERVER_ERROR);
    }
    if (starts) e->next.start_ms = now_ms;
    e->next.client_tv = tv;
    begin(s, e, PENDING_ADD, request_id, out);
}

void st_txn_state_add_offsets(st_txn_state_t *s, uint64_t request_id, st_str_t id, int64_t producer_id,
                              int16_t producer_epoch, int32_t offsets_partition, int16_t tv, int64_t now_ms,
                              st_txn_output_t *out) {
    st_txn_partition_t p = {st_str(ST_TXN_CONSUMER_OFFSETS_TOPIC), offsets_partition};
    st_txn_state_add_partitions(s, request_id, id, producer_id, producer_epoch, &p, 1, tv, now_ms, out);
}

void st_txn_state_verify_partitions(const st_txn_state_t *s, st_str_t id, int64_t producer_id,
                                    int16_t producer_epoch, const st_txn_partition_t *parts, int32_t count,
                                    int16_t *errors) {
    const txn_entry_t *e = lookup(s, id);
    int rc = check_add(s, e, id, producer_id, producer_epoch, true);
    for (int32_t i = 0; i < count; i++)
        errors[i] = (int16_t)(rc ? rc : st_txn_partition_set_find(&e->cur.parts, &parts[i]) >= 0 ? 0 : ST_ERR_TRANSACTION_ABORTABLE);
}

/* Kafka's endTransactionWithTV1 (isFromClient). */
static int end_tv1(txn_entry_t *e, int64_t producer_id, int16_t producer_epoch, bool commit,
                   int64_t now_ms, bool *noop) {
    *noop = false;
    if (e->cur.producer_id != producer_id) return ST_ERR_INVALID_PRODUCER_ID_MAPPING;
    if (producer_epoch != e->cur.producer_epoch) return ST_ERR_PRODUCER_FENCED;
    if (e->pending != PENDING_NONE) return ST_ERR_CONCURRENT_TRANSACTIONS;
    switch (e->cur.state) {
    case ST_TXN_ONGOING:
        prepare_end(e, commit, 0, NO_PRODUCER_ID, false, now_ms);
        return 0;
    case ST_TXN_COMPLETE_COMMIT:
    case ST_TXN_COMPLETE_ABORT:
        /* A retry of an end that completed: the same end is NONE. */
        if (commit == (e->cur.state == ST_TXN_COMPLETE_COMMIT)) {
            *noop = true;
            return 0;
        }
        return ST_ERR_INVALID_TXN_STATE;
    case ST_TXN_PREPARE_COMMIT:
    case ST_TXN_PREPARE_ABORT:
        return commit == (e->cur.state == ST_TXN_PREPARE_COMMIT) ? ST_ERR_CONCURRENT_TRANSACTIONS
                                                                 : ST_ERR_INVALID_TXN_STATE;
    default: /* Empty: no transaction to end */
        return ST_ERR_INVALID_TXN_STATE;
    }
}

/* Kafka's endTransaction for TV2 (KIP-890 part 2): the producer's epoch was
 * bumped by the last end, so a retry carries the previous one. */
static int end_tv2(st_txn_state_t *s, txn_entry_t *e, int64_t producer_id, int16_t producer_epoch, bool commit,
                   int64_t now_ms, bool *noop) {
    *noop = false;
    if (e->pending != PENDING_NONE) return ST_ERR_CONCURRENT_TRANSACTIONS;
    bool retry_on_overflow = e->cur.prev_producer_id == producer_id && producer_epoch == EPOCH_MAX - 1 &&
                             e->cur.producer_epoch == 0;
    bool retry_on_bump = e->cur.producer_epoch == producer_epoch + 1;
    bool valid_epoch;
    switch (e->cur.state) {
    case ST_TXN_PREPARE_COMMIT:
    case ST_TXN_PREPARE_ABORT:
        valid_epoch = retry_on_bump;
        break;
    case ST_TXN_COMPLETE_COMMIT:
    case ST_TXN_COMPLETE_ABORT:
        valid_epoch = retry_on_bump || retry_on_overflow || producer_epoch == e->cur.producer_epoch;
        break;
    default:
        valid_epoch = producer_epoch == e->cur.producer_epoch;
    }
    if (e->cur.producer_id != producer_id && !retry_on_overflow) return ST_ERR_INVALID_PRODUCER_ID_MAPPING;
    if (!valid_epoch) return ST_ERR_PRODUCER_FENCED;
    bool retry = retry_on_bump || retry_on_overflow;
    bool abort_again = false; /* PrepareAbort from a state without a transaction */
    switch (e->cur.state) {
    case ST_TXN_ONGOING:
        break;
    case ST_TXN_COMPLETE_COMMIT:
        if (commit && retry) {
            *noop = true;
            return 0;
        }
        if (commit || retry) return ST_ERR_INVALID_TXN_STATE;
        abort_again = true;
        break;
    case ST_TXN_COMPLETE_ABORT:
        if (!commit && retry) {
            *noop = true;
            return 0;
        }
        if (commit) return ST_ERR_INVALID_TXN_STATE;
        abort_again = true;
        break;
    case ST_TXN_PREPARE_COMMIT:
    case ST_TXN_PREPARE_ABORT:
        return commit == (e->cur.state == ST_TXN_PREPARE_COMMIT) ? ST_ERR_CONCURRENT_TRANSACTIONS
                                                                 : ST_ERR_INVALID_TXN_STATE;
    default: /* Empty: an abort is allowed, a commit has nothing to commit */
        if (commit) return ST_ERR_INVALID_TXN_STATE;
        abort_again = true;
    }
    /* A new producer id when this bump uses the last epoch. */
    int64_t next_producer_id = NO_PRODUCER_ID;
    if (epoch_exhausted(e->cur.producer_epoch)) {
        int rc = s->cfg.allocate_producer_id(s->cfg.allocate_ctx, &next_producer_id);
        if (rc) return rc;
    }
    prepare_end(e, commit, 2, next_producer_id, abort_again, now_ms);
    return 0;
}

void st_txn_state_end_txn(st_txn_state_t *s, uint64_t request_id, st_str_t id, int64_t producer_id,
                          int16_t producer_epoch, bool commit, int16_t tv, int64_t now_ms, st_txn_output_t *out) {
    if (s->loading) return respond_error(out, request_id, id, ST_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    if (id.len <= 0) return respond_error(out, request_id, id, ST_ERR_INVALID_REQUEST);
    txn_entry_t *e = lookup(s, id);
    if (!e || !e->durable) return respond_error(out, request_id, id, ST_ERR_INVALID_PRODUCER_ID_MAPPING);
    bool noop;
    int rc = tv >= 2 ? end_tv2(s, e, producer_id, producer_epoch, commit, now_ms, &noop)
                     : end_tv1(e, producer_id, producer_epoch, commit, now_ms, &noop);
    if (rc) return respond_error(out, request_id, id, rc);
    if (noop)
        return respond(out, request_id, id, 0, tv >= 2 ? e->cur.producer_id : NO_PRODUCER_ID,
                       tv >= 2 ? e->cur.producer_epoch : NO_EPOCH);
    begin(s, e, PENDING_END, request_id, out);
}

/* ---- results ------------------------------------------------------------- */

void st_txn_state_appended(st_txn_state_t *s, st_str_t id, uint64_t append_id, int error, int64_t now_ms,
                           st_txn_output_t *out) {
    txn_entry_t *e = lookup(s, id);
    if (!e || !e->appending || e->append_id != append_id) return;
    pending_kind_t kind = e->pending;
    uint64_t request_id = e->request_id;
    e->appending = false;
    if (error) {
        int client_error = st_txn_error_for_append(error);
        if (kind == PENDING_COMPLETE) {
            /* Kafka's marker manager retries the Complete record unless the
             * partition moved away (its next owner completes it at load). */
            if (client_error != ST_ERR_NOT_COORDINATOR && client_error != ST_ERR_COORDINATOR_LOAD_IN_PROGRESS)
                emit_append(s, e, out, true);
            return;
        }
        st_str_t kept = str_dup(id); /* the entry may go */
        roll_back(s, e);
        respond_error(out, request_id, kept, client_error);
        free((char *)kept.ptr);
        return;
    }
    switch (kind) {
    case PENDING_INIT:
        make_current(e);
        respond(out, request_id, id, 0, e->cur.producer_id, e->cur.producer_epoch);
        break;
    case PENDING_ADD:
        make_current(e);
        respond(out, request_id, id, 0, NO_PRODUCER_ID, NO_EPOCH);
        break;
    case PENDING_END: {
        make_current(e);
        prepare_complete(e, now_ms);
        /* The answer goes before the markers; TV2 names the producer of
         * the next transaction (the Complete target). */
        bool tv2 = e->cur.client_tv >= 2;
        respond(out, request_id, id, 0, tv2 ? e->next.producer_id : NO_PRODUCER_ID,
                tv2 ? e->next.producer_epoch : NO_EPOCH);
        send_completion(s, e, out);
        break;
    }
    case PENDING_FENCE:
        make_current(e);
        respond_error(out, request_id, id, ST_ERR_CONCURRENT_TRANSACTIONS);
        prepare_complete(e, now_ms);
        send_completion(s, e, out);
        break;
    case PENDING_COMPLETE:
        make_current(e);
        break;
    case PENDING_DEAD:
        entry_remove(s, e);
        break;
    default:
        TXN_ASSERT(false);
    }
}

void st_txn_state_marker_written(st_txn_state_t *s, st_str_t id, int64_t producer_id,
                                 const st_txn_partition_t *partition, int error, int64_t now_ms,
                                 st_txn_output_t *out) {
    (void)now_ms;
    txn_entry_t *e = lookup(s, id);
    if (!e || e->pending != PENDING_COMPLETE || e->appending || e->markers_stopped ||
        e->cur.producer_id != producer_id || st_txn_partition_set_find(&e->cur.parts, partition) < 0)
        return; /* late, repeated, or for another transaction */
    if (error == 0) {
        st_txn_partition_set_remove(&e->cur.parts, partition);
        if (e->cur.parts.count == 0) emit_append(s, e, out, false);
    } else if (st_txn_marker_error_retriable(error)) {
        emit_markers(s, e, out, &e->cur.parts.items[st_txn_partition_set_find(&e->cur.parts, partition)], 1, true);
    } else {
        e->markers_stopped = true;
    }
}

/* ---- timers ---------------------------------------------------------------- */

void st_txn_state_abort_timed_out(st_txn_state_t *s, int64_t now_ms, st_txn_output_t *out) {
    if (s->loading) return;
    for (uint32_t i = 0; i < s->slot_cap; i++) {
        txn_entry_t *e = s->slots[i];
        if (!e || !e->durable || e->pending != PENDING_NONE || e->cur.state != ST_TXN_ONGOING) continue;
        if (e->cur.start_ms + e->cur.timeout_ms >= now_ms) continue;
        prepare_fence(e, s->cfg.transaction_version, now_ms);
        begin(s, e, PENDING_FENCE, ST_TXN_NO_REQUEST, out);
    }
}

void st_txn_state_expire_ids(st_txn_state_t *s, int64_t now_ms, st_txn_output_t *out) {
    if (s->loading) return;
    for (uint32_t i = 0; i < s->slot_cap; i++) {
        txn_entry_t *e = s->slots[i];
        if (!e || !e->durable || e->pending != PENDING_NONE) continue;
        st_txn_status_t st = e->cur.state;
        if (st != ST_TXN_EMPTY && st != ST_TXN_COMPLETE_COMMIT && st != ST_TXN_COMPLETE_ABORT) continue;
        if (e->cur.last_update_ms > now_ms - s->cfg.transactional_id_expiration_ms) continue;
        next_from_current(e, ST_TXN_DEAD, now_ms);
        st_txn_partition_set_free(&e->next.parts);
        begin(s, e, PENDING_DEAD, ST_TXN_NO_REQUEST, out);
    }
}

/* ---- views ------------------------------------------------------------------ */

static void describe_entry(const txn_entry_t *e, st_txn_description_t *d) {
    *d = (st_txn_description_t){
        .transactional_id = e->id,
        .state = e->cur.state,
        .producer_id = e->cur.producer_id,
        .producer_epoch = e->cur.producer_epoch,
        .timeout_ms = e->cur.timeout_ms,
        .start_ms = e->cur.start_ms,
        .last_update_ms = e->cur.last_update_ms,
        .partitions = e->cur.parts.items,
        .partition_count = e->cur.parts.count,
    };
}

int st_txn_state_describe(const st_txn_state_t *s, st_str_t id, st_txn_description_t *out) {
    if (s->loading) return ST_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    if (id.len <= 0) return ST_ERR_INVALID_REQUEST;
    const txn_entry_t *e = lookup(s, id);
    if (!e || !e->durable) return ST_ERR_TRANSACTIONAL_ID_NOT_FOUND;
    describe_entry(e, out);
    return 0;
}

int st_txn_state_list(const st_txn_state_t *s, const st_txn_list_filter_t *f, int64_t now_ms,
                      void (*fn)(void *ctx, const st_txn_description_t *d), void *ctx) {
    if (s->loading) return ST_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    for (uint32_t i = 0; i < s->slot_cap; i++) {
        const txn_entry_t *e = s->slots[i];
        if (!e || !e->durable) continue;
        bool match = f->state_count == 0;
        for (int32_t j = 0; !match && j < f->state_count; j++) match = f->states[j] == e->cur.state;
        if (!match) continue;
        match = f->producer_id_count == 0;
        for (int32_t j = 0; !match && j < f->producer_id_count; j++) match = f->producer_ids[j] == e->cur.producer_id;
        if (!match) continue;
        /* Kafka compares the start time as stored (-1 when none). */
        if (f->duration_ms >= 0 && now_ms - e->cur.start_ms <= f->duration_ms) continue;
        st_txn_description_t d;
        describe_entry(e, &d);
        fn(ctx, &d);
    }
    return 0;
}

/* ---- checks ------------------------------------------------------------------ */

/* Kafka's TransactionState.validPreviousStates: may `to` follow `from`? */
static bool valid_next(st_txn_status_t from, st_txn_status_t to) {
    switch (to) {
    case ST_TXN_EMPTY:
        return from == ST_TXN_EMPTY || from == ST_TXN_COMPLETE_COMMIT || from == ST_TXN_COMPLETE_ABORT;
    case ST_TXN_ONGOING:
        return from == ST_TXN_ONGOING || from == ST_TXN_EMPTY || from == ST_TXN_COMPLETE_COMMIT ||
               from == ST_TXN_COMPLETE_ABORT;
    case ST_TXN_PREPARE_COMMIT:
        return from == ST_TXN_ONGOING;
    case ST_TXN_PREPARE_ABORT:
        return from == ST_TXN_ONGOING || from == ST_TXN_EMPTY || from == ST_TXN_COMPLETE_COMMIT ||
               from == ST_TXN_COMPLETE_ABORT;
    case ST_TXN_COMPLETE_COMMIT:
        return from == ST_TXN_PREPARE_COMMIT;
    case ST_TXN_COMPLETE_ABORT:
        return from == ST_TXN_PREPARE_ABORT;
    case ST_TXN_DEAD:
        return from == ST_TXN_EMPTY || from == ST_TXN_COMPLETE_COMMIT || from == ST_TXN_COMPLETE_ABORT;
    default:
        return false;
    }
}

static bool fail_check(char *why, size_t len, const txn_entry_t *e, const char *what) {
    if (why && len) snprintf(why, len, "%.*s: %s", e ? (int)e->id.len : 0, e ? e->id.ptr : "", what);
    return false;
}

static const char *meta_problem(const txn_meta_t *m, int32_t partitions_max) {
    if (m->state < ST_TXN_EMPTY || m->state > ST_TXN_COMPLETE_ABORT) return "a state that is never durable";
    if (m->producer_id < 0 || m->producer_epoch < 0) return "a negative producer id or epoch";
    bool none = m->state == ST_TXN_EMPTY || m->state == ST_TXN_COMPLETE_COMMIT || m->state == ST_TXN_COMPLETE_ABORT;
    if (none && m->parts.count > 0) return "partitions in a state without a transaction";
    if (m->state == ST_TXN_EMPTY && m->start_ms != -1) return "a start time in Empty";
    if (m->parts.count > partitions_max) return "more partitions than partitions_max";
    for (int32_t i = 1; i < m->parts.count; i++)
        if (st_txn_partition_compare(&m->parts.items[i - 1], &m->parts.items[i]) >= 0)
            return "partitions out of order or repeated";
    return NULL;
}

bool st_txn_state_check(const st_txn_state_t *s, char *why, size_t why_len) {
    int32_t seen = 0;
    for (uint32_t i = 0; i < s->slot_cap; i++) {
        const txn_entry_t *e = s->slots[i];
        if (!e) continue;
        seen++;
        if (slot_of(s, e->id) != i) return fail_check(why, why_len, e, "not found from its hash");
        if (e->id.len <= 0) return fail_check(why, why_len, e, "an empty transactional id");
        /* 1 */
        if (!e->durable && e->pending != PENDING_INIT) return fail_check(why, why_len, e, "not durable, not initialising");
        if (e->appending && (e->pending == PENDING_NONE || e->append_id == 0 || e->append_id > s->next_append_id))
            return fail_check(why, why_len, e, "an append out without a transition");
        if (e->pending != PENDING_NONE && e->pending != PENDING_COMPLETE && !e->appending)
            return fail_check(why, why_len, e, "a transition pending without its append");
        /* 2, 3 */
        if (e->durable) {
            const char *p = meta_problem(&e->cur, s->cfg.partitions_max);
            if (p) return fail_check(why, why_len, e, p);
        }
        /* 4 */
        bool preparing = e->cur.state == ST_TXN_PREPARE_COMMIT || e->cur.state == ST_TXN_PREPARE_ABORT;
        if (!s->loading && e->durable && preparing != (e->pending == PENDING_COMPLETE))
            return fail_check(why, why_len, e, "Prepare* without its completion, or a completion without Prepare*");
        /* 5 */
        if (e->pending != PENDING_NONE) {
            st_txn_status_t to = e->next.state;
            if (e->durable && !valid_next(e->cur.state, to)) return fail_check(why, why_len, e, "an invalid transition");
            if (to != ST_TXN_DEAD) {
                const char *p = meta_problem(&e->next, s->cfg.partitions_max);
                if (p) return fail_check(why, why_len, e, p);
            }
        }
    }
    if (seen != s->count) return fail_check(why, why_len, NULL, "the count does not match the table");
    if (s->count > s->cfg.ids_max) return fail_check(why, why_len, NULL, "more ids than ids_max");
    if ((uint32_t)s->count * 2 > s->slot_cap) return fail_check(why, why_len, NULL, "the table is over half full");
    return true;
}

void st_txn_state_test_force_status(st_txn_state_t *s, st_str_t id, st_txn_status_t status) {
    txn_entry_t *e = lookup(s, id);
    if (e) e->cur.state = status;
}
