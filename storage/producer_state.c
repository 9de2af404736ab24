/*
 * Per-partition producer state for idempotent producers.
 *
 * Behaviour follows Apache Kafka's storage module (ProducerStateManager,
 * ProducerAppendInfo.checkProducerEpoch/checkSequence, ProducerStateEntry,
 * UnifiedLog.analyzeAndValidateProducerState):
 *   - a duplicate is looked for first: same epoch and exactly the first and
 *     last sequence of one of the five cached batches;
 *   - then an older epoch is INVALID_PRODUCER_EPOCH;
 *   - a newer epoch must start at sequence 0 unless the known epoch is -1;
 *   - the same epoch must continue at last sequence + 1, wrapping from
 *     INT32_MAX to 0 (an empty cache counts as last sequence -1, so only 0
 *     is accepted);
 *   - an unknown producer is accepted at any sequence (KIP-360: the broker
 *     no longer answers UNKNOWN_PRODUCER_ID, its state may have been lost
 *     to retention), and a retry of a batch older than the cached five is
 *     OUT_OF_ORDER_SEQUENCE_NUMBER (DUPLICATE_SEQUENCE_NUMBER has not been
 *     returned by the broker since KAFKA-5494).
 *   - transactions (ProducerAppendInfo.appendDataBatch / appendEndTxnMarker):
 *     a transactional batch opens the producer's transaction, a marker ends
 *     it; a non-transactional batch while one is open is INVALID_TXN_STATE;
 *     a marker from an older producer epoch is INVALID_PRODUCER_EPOCH, from
 *     an older coordinator epoch TRANSACTION_COORDINATOR_FENCED; producers
 *     with an open transaction do not expire.
 * Differences: expiration uses the broker's time of the last update (now_ms)
 * where Kafka uses the batch's max timestamp; snapshots keep all five cached
 * batches where Kafka keeps only the last, so a retry survives a restart.
 *
 * Invariants:
 *   1. 0 <= count <= entries_cap <= ST_PRODUCER_STATE_PRODUCERS_MAX, and
 *      entries[0, count) are the producers, densely packed.
 *   2. entries_cap is a power of two >= ENTRIES_CAP_MIN and slots_cap ==
 *      2 * entries_cap, so the index is at most half full and probing ends.
 *   3. Every entry is found from exactly one slot by linear probing from
 *      hash(producer_id) without crossing an empty slot (deletion shifts
 *      back, there are no tombstones); every non-empty slot names an entry.
 *   4. An entry's batches are ordered oldest first, at most
 *      ST_PRODUCER_BATCHES_RETAINED of them, all of the entry's epoch, with
 *      increasing offsets.
 *   5. ongoing[0, ongoing_count) holds exactly the entries with
 *      txn_first_offset >= 0, one each, in strictly increasing first offset.
 *
 * An entry's life:
 *
 *   (absent) ──update/replay──> known(epoch, batches) ──expire/clear──> (absent)
 *                                 │  ^                (not while a transaction
 *                                 └──┘ update: same epoch appends a batch
 *                                          (oldest dropped past five),      is open)
 *                                          newer epoch empties the batches;
 *                                          a transactional batch opens a
 *                                          transaction, a marker ends it
 */
#include "storage/producer_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/crc32c.h"
#include "common/errors.h"
#include "storage/fsutil.h"
#include "storage/snapshot_files.h"

#define ENTRIES_CAP_MIN 16
#define NO_SEQUENCE (-1)
#define NO_PRODUCER_EPOCH (-1)
#define SLOT_EMPTY (-1)

/* Snapshot layout, big-endian:
 *   version int16 | crc uint32 (CRC-32C of everything after it) |
 *   offset int64 | producer_count int32 |
 *   producer_count x { producer_id int64 | epoch int16 | last_update_ms int64 |
 *                      [v2: coordinator_epoch int32 | txn_first_offset int64] |
 *                      batch_count int8 |
 *                      batch_count x { first_seq int32 | last_seq int32 |
 *                                      first_offset int64 | last_offset int64 |
 *                                      max_timestamp int64 } }
 * Version 1 (before transactions) is read; version 2 is written. */
#define SNAPSHOT_VERSION_V1 1
#define SNAPSHOT_VERSION 2
#define SNAPSHOT_CRC_AT 2
#define SNAPSHOT_BODY_AT 6
#define SNAPSHOT_HEADER_BYTES (SNAPSHOT_BODY_AT + 8 + 4)
#define SNAPSHOT_ENTRY_BYTES_MIN_V1 (8 + 2 + 8 + 1)
#define SNAPSHOT_ENTRY_TXN_BYTES (4 + 8)
#define SNAPSHOT_ENTRY_BYTES_MIN (SNAPSHOT_ENTRY_BYTES_MIN_V1 + SNAPSHOT_ENTRY_TXN_BYTES)
#define SNAPSHOT_BATCH_BYTES (4 + 4 + 8 + 8 + 8)
#define SNAPSHOT_BYTES_MAX                                                             \
    ((int64_t)SNAPSHOT_HEADER_BYTES +                                                  \
     (int64_t)ST_PRODUCER_STATE_PRODUCERS_MAX *                                        \
         (SNAPSHOT_ENTRY_BYTES_MIN + ST_PRODUCER_BATCHES_RETAINED * SNAPSHOT_BATCH_BYTES))
#define NO_COORDINATOR_EPOCH (-1)
#define NO_TXN (-1)

_Static_assert((ST_PRODUCER_STATE_PRODUCERS_MAX & (ST_PRODUCER_STATE_PRODUCERS_MAX - 1)) == 0,
               "the producer cap is a power of two so entries_cap reaches it exactly");
_Static_assert(ENTRIES_CAP_MIN <= ST_PRODUCER_STATE_PRODUCERS_MAX, "minimum below the cap");
_Static_assert(ST_PRODUCER_BATCHES_RETAINED <= INT8_MAX, "batch count is stored as int8");
_Static_assert(SNAPSHOT_BYTES_MAX < (int64_t)INT32_MAX, "a snapshot is read in one buffer");

static void ps_assert_fail(const char *what, const char *file, int line) {
    fprintf(stderr, "%s:%d: producer state invariant failed: %s\n", file, line, what);
    abort();
}
/* Always on: a broken table means corrupt state (STYLE 9). */
#define PS_ASSERT(cond) ((cond) ? (void)0 : ps_assert_fail(#cond, __FILE__, __LINE__))

typedef struct producer_batch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t first_offset;
    int64_t last_offset;
    int64_t max_timestamp;
} producer_batch_t;

typedef struct producer_entry {
    int64_t producer_id;
    int64_t last_update_ms;
    int64_t txn_first_offset; /* the open transaction's first offset, NO_TXN when none */
    int32_t coordinator_epoch; /* of the last marker, NO_COORDINATOR_EPOCH when none */
    int16_t epoch;
    int8_t batch_count;
    producer_batch_t batches[ST_PRODUCER_BATCHES_RETAINED]; /* oldest first */
} producer_entry_t;

/* An open transaction (Kafka's ongoingTxns map, keyed by first offset). */
typedef struct ongoing_txn {
    int64_t first_offset;
    int64_t producer_id;
} ongoing_txn_t;

struct st_producer_state {
    producer_entry_t *entries;
    int32_t count;
    int32_t entries_cap;
    int32_t *slots; /* SLOT_EMPTY or an index into entries */
    int32_t slots_cap;
    ongoing_txn_t *ongoing; /* invariant 5 */
    int32_t ongoing_count;
    int32_t ongoing_cap;
    /* Snapshot bookkeeping (st_producer_state_dirty): the offset of the
     * last snapshot written or loaded, -1 when none, and whether the state
     * changed since. */
    int64_t snapshot_offset;
    bool dirty;
};

/* ---- sequence arithmetic (Kafka's DefaultRecordBatch.incrementSequence) ---- */

static int32_t sequence_add(int32_t sequence, int32_t increment) {
    int64_t sum = (int64_t)sequence + increment;
    if (sum > INT32_MAX) sum -= (int64_t)INT32_MAX + 1;
    return (int32_t)sum;
}

static int32_t batch_first_sequence(const st_batch_header_t *h) {
    return h->base_sequence < 0 ? NO_SEQUENCE : h->base_sequence;
}

static int32_t batch_last_sequence(const st_batch_header_t *h) {
    if (h->base_sequence < 0) return NO_SEQUENCE;
    return sequence_add(h->base_sequence, h->last_offset_delta < 0 ? 0 : h->last_offset_delta);
}

static bool in_sequence(int32_t last_sequence, int32_t next_sequence) {
    return (int64_t)next_sequence == (int64_t)last_sequence + 1 ||
           (next_sequence == 0 && last_sequence == INT32_MAX);
}

/* ---- the table ---- */

static uint32_t hash_producer_id(int64_t producer_id) {
    uint64_t x = (uint64_t)producer_id; /* splitmix64 finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (uint32_t)x;
}

static void *allocate_or_abort(size_t n) {
    void *p = malloc(n);
    if (!p) ps_assert_fail("out of memory", __FILE__, __LINE__);
    return p;
}

/* Returns the slot holding producer_id, or the empty slot where it would go. */
static int32_t slot_find(const st_producer_state_t *s, int64_t producer_id) {
    uint32_t mask = (uint32_t)s->slots_cap - 1;
    uint32_t i = hash_producer_id(producer_id) & mask;
    for (;;) {
        int32_t e = s->slots[i];
        if (e == SLOT_EMPTY || s->entries[e].producer_id == producer_id) return (int32_t)i;
        i = (i + 1) & mask;
    }
}

static void table_allocate(st_producer_state_t *s, int32_t entries_cap) {
    s->entries_cap = entries_cap;
    s->entries = allocate_or_abort((size_t)entries_cap * sizeof *s->entries);
    s->slots_cap = entries_cap * 2;
    s->slots = allocate_or_abort((size_t)s->slots_cap * sizeof *s->slots);
    for (int32_t i = 0; i < s->slots_cap; i++) s->slots[i] = SLOT_EMPTY;
}

/* Moves to a table of entries_cap (>= count), rebuilding the index. */
static void table_resize(st_producer_state_t *s, int32_t entries_cap) {
    PS_ASSERT(entries_cap >= s->count && entries_cap <= ST_PRODUCER_STATE_PRODUCERS_MAX);
    producer_entry_t *old_entries = s->entries;
    int32_t *old_slots = s->slots;
    table_allocate(s, entries_cap);
    memcpy(s->entries, old_entries, (size_t)s->count * sizeof *s->entries);
    for (int32_t i = 0; i < s->count; i++) {
        int32_t slot = slot_find(s, s->entries[i].producer_id);
        PS_ASSERT(s->slots[slot] == SLOT_EMPTY);
        s->slots[slot] = i;
    }
    free(old_entries);
    free(old_slots);
}

static producer_entry_t *entry_lookup(const st_producer_state_t *s, int64_t producer_id) {
    int32_t e = s->slots[slot_find(s, producer_id)];
    return e == SLOT_EMPTY ? NULL : &s->entries[e];
}

/* Removes the slot at `slot`, shifting later members of its probe run back
 * so no lookup crosses a hole (Knuth 6.4, algorithm R). */
static void slot_delete(st_producer_state_t *s, int32_t slot) {
    uint32_t mask = (uint32_t)s->slots_cap - 1;
    uint32_t hole = (uint32_t)slot;
    uint32_t i = hole;
    for (;;) {
        i = (i + 1) & mask;
        int32_t e = s->slots[i];
        if (e == SLOT_EMPTY) break;
        uint32_t home = hash_producer_id(s->entries[e].producer_id) & mask;
        /* Stays when its home lies cyclically in (hole, i]. */
        bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (!stays) {
            s->slots[hole] = e;
            hole = i;
        }
    }
    s->slots[hole] = SLOT_EMPTY;
}

/* ---- open transactions (invariant 5) ---- */

/* Index of the first open transaction with first_offset >= offset. */
static int32_t ongoing_lower_bound(const st_producer_state_t *s, int64_t offset) {
    int32_t lo = 0, hi = s->ongoing_count;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (s->ongoing[mid].first_offset < offset) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void ongoing_insert(st_producer_state_t *s, int64_t first_offset, int64_t producer_id) {
    if (s->ongoing_count == s->ongoing_cap) {
        int32_t cap = s->ongoing_cap ? s->ongoing_cap * 2 : 16;
        ongoing_txn_t *p = realloc(s->ongoing, (size_t)cap * sizeof *p);
        if (!p) ps_assert_fail("out of memory", __FILE__, __LINE__);
        s->ongoing = p;
        s->ongoing_cap = cap;
    }
    /* Transactions open in offset order: almost always at the end. */
    int32_t at = ongoing_lower_bound(s, first_offset);
    PS_ASSERT(at == s->ongoing_count || s->ongoing[at].first_offset != first_offset);
    memmove(&s->ongoing[at + 1], &s->ongoing[at], (size_t)(s->ongoing_count - at) * sizeof *s->ongoing);
    s->ongoing[at] = (ongoing_txn_t){first_offset, producer_id};
    s->ongoing_count++;
}

static void ongoing_remove(st_producer_state_t *s, int64_t first_offset, int64_t producer_id) {
    int32_t at = ongoing_lower_bound(s, first_offset);
    PS_ASSERT(at < s->ongoing_count && s->ongoing[at].first_offset == first_offset &&
              s->ongoing[at].producer_id == producer_id);
    memmove(&s->ongoing[at], &s->ongoing[at + 1], (size_t)(s->ongoing_count - at - 1) * sizeof *s->ongoing);
    s->ongoing_count--;
}

/* Opens the entry's transaction at first_offset. */
static void txn_open(st_producer_state_t *s, producer_entry_t *e, int64_t first_offset) {
    PS_ASSERT(e->txn_first_offset == NO_TXN && first_offset >= 0);
    e->txn_first_offset = first_offset;
    ongoing_insert(s, first_offset, e->producer_id);
}

static void txn_close(st_producer_state_t *s, producer_entry_t *e) {
    if (e->txn_first_offset == NO_TXN) return;
    ongoing_remove(s, e->txn_first_offset, e->producer_id);
    e->txn_first_offset = NO_TXN;
}

static void entry_remove(st_producer_state_t *s, int32_t index) {
    txn_close(s, &s->entries[index]);
    slot_delete(s, slot_find(s, s->entries[index].producer_id));
    int32_t last = s->count - 1;
    if (index != last) {
        s->entries[index] = s->entries[last];
        int32_t slot = slot_find(s, s->entries[index].producer_id);
        PS_ASSERT(s->slots[slot] == last);
        s->slots[slot] = index;
    }
    s->count--;
}

#ifndef NDEBUG
/* Whole-table check of invariants 1-4, debug builds only (STYLE 9): run
 * after operations that move many entries. */
static void table_check(const st_producer_state_t *s) {
    PS_ASSERT(s->count >= 0 && s->count <= s->entries_cap);
    PS_ASSERT(s->entries_cap <= ST_PRODUCER_STATE_PRODUCERS_MAX && s->slots_cap == 2 * s->entries_cap);
    int32_t used = 0;
    for (int32_t i = 0; i < s->slots_cap; i++) {
        int32_t e = s->slots[i];
        if (e == SLOT_EMPTY) continue;
        PS_ASSERT(e >= 0 && e < s->count);
        PS_ASSERT(slot_find(s, s->entries[e].producer_id) == i);
        used++;
    }
    PS_ASSERT(used == s->count);
    int32_t open = 0;
    for (int32_t i = 0; i < s->count; i++) {
        const producer_entry_t *e = &s->entries[i];
        PS_ASSERT(e->batch_count >= 0 && e->batch_count <= ST_PRODUCER_BATCHES_RETAINED);
        for (int32_t j = 1; j < e->batch_count; j++)
            PS_ASSERT(e->batches[j - 1].last_offset < e->batches[j].first_offset);
        if (e->txn_first_offset == NO_TXN) continue;
        open++;
        int32_t at = ongoing_lower_bound(s, e->txn_first_offset);
        PS_ASSERT(at < s->ongoing_count && s->ongoing[at].first_offset == e->txn_first_offset &&
                  s->ongoing[at].producer_id == e->producer_id);
    }
    PS_ASSERT(open == s->ongoing_count);
    for (int32_t i = 1; i < s->ongoing_count; i++) PS_ASSERT(s->ongoing[i - 1].first_offset < s->ongoing[i].first_offset);
}
#else
static void table_check(const st_producer_state_t *s) { (void)s; }
#endif

/* Halves the table while it is less than a quarter full, so memory follows
 * the number of producers down after expiration. */
static void table_maybe_shrink(st_producer_state_t *s) {
    int32_t cap = s->entries_cap;
    while (cap > ENTRIES_CAP_MIN && s->count < cap / 4) cap /= 2;
    if (cap != s->entries_cap) table_resize(s, cap);
}

/* Adds an empty entry; the caller made sure count < the cap. */
static producer_entry_t *entry_insert(st_producer_state_t *s, int64_t producer_id, int16_t epoch) {
    PS_ASSERT(s->count < ST_PRODUCER_STATE_PRODUCERS_MAX);
    if (s->count == s->entries_cap) table_resize(s, s->entries_cap * 2);
    int32_t slot = slot_find(s, producer_id);
    PS_ASSERT(s->slots[slot] == SLOT_EMPTY);
    producer_entry_t *e = &s->entries[s->count];
    memset(e, 0, sizeof *e);
    e->producer_id = producer_id;
    e->epoch = epoch;
    e->txn_first_offset = NO_TXN;
    e->coordinator_epoch = NO_COORDINATOR_EPOCH;
    s->slots[slot] = s->count++;
    return e;
}

/* An open transaction holds the LSO back: its producer goes last. */
static void evict_least_recently_updated(st_producer_state_t *s) {
    int32_t oldest = -1;
    for (int32_t pass = 0; pass < 2 && oldest < 0; pass++)
        for (int32_t i = 0; i < s->count; i++) {
            if (pass == 0 && s->entries[i].txn_first_offset != NO_TXN) continue;
            if (oldest < 0 || s->entries[i].last_update_ms < s->entries[oldest].last_update_ms) oldest = i;
        }
    entry_remove(s, oldest);
}

/* Adds a batch to the entry, dropping the oldest past five
 * (ProducerStateEntry.addBatchMetadata). */
static void entry_add_batch(producer_entry_t *e, const producer_batch_t *b) {
    if (e->batch_count == ST_PRODUCER_BATCHES_RETAINED) {
        memmove(&e->batches[0], &e->batches[1],
                (ST_PRODUCER_BATCHES_RETAINED - 1) * sizeof e->batches[0]);
        e->batch_count--;
    }
    e->batches[e->batch_count++] = *b;
}

static void entry_info(const producer_entry_t *e, st_producer_info_t *out) {
    const producer_batch_t *last = e->batch_count ? &e->batches[e->batch_count - 1] : NULL;
    out->producer_id = e->producer_id;
    out->producer_epoch = e->epoch;
    out->last_sequence = last ? last->last_seq : NO_SEQUENCE;
    out->last_offset = last ? last->last_offset : -1;
    out->last_timestamp = last ? last->max_timestamp : -1;
    out->last_update_ms = e->last_update_ms;
    out->batch_count = e->batch_count;
    out->coordinator_epoch = e->coordinator_epoch;
    out->current_txn_first_offset = e->txn_first_offset;
}

/* ---- public: state ---- */

st_producer_state_t *st_producer_state_new(void) {
    st_producer_state_t *s = allocate_or_abort(sizeof *s);
    s->count = 0;
    s->snapshot_offset = -1;
    s->dirty = false;
    s->ongoing = NULL;
    s->ongoing_count = s->ongoing_cap = 0;
    table_allocate(s, ENTRIES_CAP_MIN);
    return s;
}

void st_producer_state_free(st_producer_state_t *s) {
    if (!s) return;
    free(s->entries);
    free(s->slots);
    free(s->ongoing);
    free(s);
}

void st_producer_state_clear(st_producer_state_t *s) {
    if (s->count > 0) s->dirty = true;
    free(s->entries);
    free(s->slots);
    free(s->ongoing);
    s->ongoing = NULL;
    s->ongoing_count = s->ongoing_cap = 0;
    s->count = 0;
    table_allocate(s, ENTRIES_CAP_MIN);
}

bool st_producer_state_dirty(const st_producer_state_t *s) {
    return s->dirty;
}

int64_t st_producer_state_snapshot_offset(const st_producer_state_t *s) {
    return s->snapshot_offset;
}

int st_producer_state_check(const st_producer_state_t *s, const st_batch_header_t *h,
                            st_producer_check_t *out) {
    out->verdict = ST_PRODUCER_APPEND;
    out->duplicate_base_offset = -1;
    out->duplicate_last_offset = -1;
    out->duplicate_timestamp = -1;
    if (h->last_offset_delta < 0) return ST_ERR_INVALID_RECORD;

    const producer_entry_t *e = entry_lookup(s, h->producer_id);
    if (!e) return s->count >= ST_PRODUCER_STATE_PRODUCERS_MAX ? ST_ERR_LIMIT : 0;

    int32_t first_seq = batch_first_sequence(h);
    int32_t last_seq = batch_last_sequence(h);

    /* Duplicates first, before any epoch or sequence check
     * (UnifiedLog.analyzeAndValidateProducerState, findDuplicateBatch). */
    if (h->producer_epoch == e->epoch) {
        for (int32_t i = 0; i < e->batch_count; i++) {
            const producer_batch_t *b = &e->batches[i];
            if (b->first_seq == first_seq && b->last_seq == last_seq) {
                out->verdict = ST_PRODUCER_DUPLICATE;
                out->duplicate_base_offset = b->first_offset;
                out->duplicate_last_offset = b->last_offset;
                out->duplicate_timestamp = b->max_timestamp;
                return 0;
            }
        }
    }

    /* checkProducerEpoch: a fenced (older) producer. */
    if (h->producer_epoch < e->epoch) return ST_ERR_INVALID_PRODUCER_EPOCH;

    /* checkSequence. */
    if (h->producer_epoch != e->epoch) {
        if (first_seq != 0 && e->epoch != NO_PRODUCER_EPOCH) return ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    } else if (e->epoch != NO_PRODUCER_EPOCH) {
        int32_t current_last_seq = e->batch_count ? e->batches[e->batch_count - 1].last_seq : NO_SEQUENCE;
        if (!in_sequence(current_last_seq, first_seq)) return ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    /* appendDataBatch: a transaction is open and this batch is not in it. */
    if (e->txn_first_offset != NO_TXN && !(h->attributes & ST_BATCH_ATTR_TRANSACTIONAL))
        return ST_ERR_INVALID_TXN_STATE;
    return 0;
}

void st_producer_state_update(st_producer_state_t *s, const st_batch_header_t *h,
                              int64_t first_offset, int64_t last_offset, int64_t now_ms) {
    PS_ASSERT(h->producer_id >= 0);
    PS_ASSERT(first_offset <= last_offset);
    s->dirty = true;
    producer_entry_t *e = entry_lookup(s, h->producer_id);
    if (!e) {
        if (s->count == ST_PRODUCER_STATE_PRODUCERS_MAX) evict_least_recently_updated(s);
        e = entry_insert(s, h->producer_id, h->producer_epoch);
    }
    if (e->epoch != h->producer_epoch) { /* ProducerStateEntry.maybeUpdateProducerEpoch */
        e->epoch = h->producer_epoch;
        e->batch_count = 0;
    }
    e->last_update_ms = now_ms;
    if (h->attributes & ST_BATCH_ATTR_CONTROL) {
        /* A marker carries no sequence; it ends the transaction. */
        txn_close(s, e);
        return;
    }
    if ((h->attributes & ST_BATCH_ATTR_TRANSACTIONAL) && e->txn_first_offset == NO_TXN) txn_open(s, e, first_offset);

    producer_batch_t b = {
        .first_seq = batch_first_sequence(h),
        .last_seq = batch_last_sequence(h),
        .first_offset = first_offset,
        .last_offset = last_offset,
        .max_timestamp = h->max_timestamp,
    };
    entry_add_batch(e, &b);
}

void st_producer_state_replay(st_producer_state_t *s, const st_batch_header_t *h, int64_t now_ms) {
    if (h->producer_id < 0) return;
    int32_t delta = h->last_offset_delta < 0 ? 0 : h->last_offset_delta;
    st_producer_state_update(s, h, h->base_offset, h->base_offset + delta, now_ms);
}

int st_producer_state_check_marker(const st_producer_state_t *s, int64_t producer_id, int16_t producer_epoch,
                                   const st_txn_marker_t *marker, int16_t transaction_version) {
    const producer_entry_t *e = entry_lookup(s, producer_id);
    if (!e) return 0;
    /* checkProducerEpoch: with TV2 the coordinator bumps the epoch before
     * every marker, so a marker of the current epoch is late, unless it
     * repeats one already written (the transaction is over). */
    bool stale = transaction_version >= 2 ? producer_epoch <= e->epoch : producer_epoch < e->epoch;
    if (stale && !(transaction_version >= 2 && producer_epoch == e->epoch && e->txn_first_offset == NO_TXN))
        return ST_ERR_INVALID_PRODUCER_EPOCH;
    /* checkCoordinatorEpoch */
    if (e->coordinator_epoch > marker->coordinator_epoch) return ST_ERR_TRANSACTION_COORDINATOR_FENCED;
    return 0;
}

bool st_producer_state_complete_marker(st_producer_state_t *s, const st_batch_header_t *h,
                                       const st_txn_marker_t *marker, int64_t now_ms, st_completed_txn_t *out) {
    PS_ASSERT(h->producer_id >= 0 && (h->attributes & ST_BATCH_ATTR_CONTROL));
    s->dirty = true;
    producer_entry_t *e = entry_lookup(s, h->producer_id);
    if (!e) {
        if (s->count == ST_PRODUCER_STATE_PRODUCERS_MAX) evict_least_recently_updated(s);
        e = entry_insert(s, h->producer_id, h->producer_epoch);
    }
    bool completed = e->txn_first_offset != NO_TXN;
    if (completed) {
        /* lastStableOffset(completedTxn): the oldest other open one. */
        int64_t lso = h->base_offset + 1;
        for (int32_t i = 0; i < s->ongoing_count; i++) {
            if (s->ongoing[i].producer_id != h->producer_id) {
                lso = s->ongoing[i].first_offset;
                break;
            }
        }
        *out = (st_completed_txn_t){
            .producer_id = h->producer_id,
            .first_offset = e->txn_first_offset,
            .last_offset = h->base_offset,
            .last_stable_offset = lso,
            .aborted = !marker->commit,
        };
        txn_close(s, e);
    }
    /* ProducerStateEntry.update: epoch (a new one empties the batches),
     * coordinator epoch, time. */
    if (e->epoch != h->producer_epoch) {
        e->epoch = h->producer_epoch;
        e->batch_count = 0;
    }
    e->coordinator_epoch = marker->coordinator_epoch;
    e->last_update_ms = now_ms;
    return completed;
}

int st_producer_state_replay_batch(st_producer_state_t *s, const uint8_t *batch, size_t len, int64_t now_ms,
                                   st_completed_txn_t *completed) {
    st_batch_header_t h;
    if (st_batch_header_parse(batch, len, &h) != 0) return ST_ERR_CORRUPT;
    if (h.producer_id < 0) return 0;
    if (h.attributes & ST_BATCH_ATTR_CONTROL) {
        st_txn_marker_t marker;
        int rc = st_txn_marker_batch_parse(batch, len, &marker);
        if (rc == 0) return st_producer_state_complete_marker(s, &h, &marker, now_ms, completed) ? 1 : 0;
        if (rc != ST_ERR_NOT_FOUND) return ST_ERR_CORRUPT;
        /* Emptied by the cleaner (or not a marker): it still carries the
         * producer's epoch. */
        producer_entry_t *e = entry_lookup(s, h.producer_id);
        if (e && e->epoch != h.producer_epoch) {
            e->epoch = h.producer_epoch;
            e->batch_count = 0;
            e->last_update_ms = now_ms;
            s->dirty = true;
        }
        return 0;
    }
    st_producer_state_replay(s, &h, now_ms);
    return 0;
}

int64_t st_producer_state_first_unstable_offset(const st_producer_state_t *s) {
    return s->ongoing_count ? s->ongoing[0].first_offset : -1;
}

int64_t st_producer_state_last_stable_offset(const st_producer_state_t *s, int64_t log_start_offset,
                                             int64_t high_watermark) {
    int64_t first = st_producer_state_first_unstable_offset(s);
    if (first < 0) return high_watermark;
    if (first < log_start_offset) first = log_start_offset;
    return first < high_watermark ? first : high_watermark;
}

int32_t st_producer_state_ongoing_count(const st_producer_state_t *s) {
    return s->ongoing_count;
}

void st_producer_state_expire(st_producer_state_t *s, int64_t now_ms, int64_t expiration_ms) {
    /* Downwards: entry_remove moves the last entry into the hole, and that
     * one has been looked at already. */
    int32_t before = s->count;
    for (int32_t i = s->count - 1; i >= 0; i--)
        if (s->entries[i].txn_first_offset == NO_TXN && now_ms - s->entries[i].last_update_ms >= expiration_ms)
            entry_remove(s, i);
    if (s->count != before) s->dirty = true;
    table_maybe_shrink(s);
    table_check(s);
}

int32_t st_producer_state_count(const st_producer_state_t *s) {
    return s->count;
}

bool st_producer_state_get(const st_producer_state_t *s, int64_t producer_id, st_producer_info_t *out) {
    const producer_entry_t *e = entry_lookup(s, producer_id);
    if (!e) return false;
    entry_info(e, out);
    return true;
}

bool st_producer_state_at(const st_producer_state_t *s, int32_t index, st_producer_info_t *out) {
    if (index < 0 || index >= s->count) return false;
    entry_info(&s->entries[index], out);
    return true;
}

/* ---- snapshot files (storage/snapshot_files.h holds the files) ---- */

static void encode_snapshot(const st_producer_state_t *s, int64_t offset, st_writer_t *w) {
    st_write_i16(w, SNAPSHOT_VERSION);
    st_write_u32(w, 0); /* CRC, filled in below */
    st_write_i64(w, offset);
    st_write_i32(w, s->count);
    for (int32_t i = 0; i < s->count; i++) {
        const producer_entry_t *e = &s->entries[i];
        st_write_i64(w, e->producer_id);
        st_write_i16(w, e->epoch);
        st_write_i64(w, e->last_update_ms);
        PS_ASSERT(e->txn_first_offset < offset);
        st_write_i32(w, e->coordinator_epoch);
        st_write_i64(w, e->txn_first_offset);
        st_write_i8(w, e->batch_count);
        for (int32_t j = 0; j < e->batch_count; j++) {
            const producer_batch_t *b = &e->batches[j];
            /* The state must describe the log below `offset` only. */
            PS_ASSERT(b->last_offset < offset);
            st_write_i32(w, b->first_seq);
            st_write_i32(w, b->last_seq);
            st_write_i64(w, b->first_offset);
            st_write_i64(w, b->last_offset);
            st_write_i64(w, b->max_timestamp);
        }
    }
    uint32_t crc = st_crc32c(0, w->data + SNAPSHOT_BODY_AT, w->len - SNAPSHOT_BODY_AT);
    st_writer_patch_i32(w, SNAPSHOT_CRC_AT, (int32_t)crc);
}

int st_producer_state_write_snapshot(st_producer_state_t *s, const char *dir, int64_t offset) {
    PS_ASSERT(offset >= 0);
    st_writer_t w;
    st_writer_init(&w, SNAPSHOT_HEADER_BYTES + (size_t)s->count * SNAPSHOT_ENTRY_BYTES_MIN);
    encode_snapshot(s, offset, &w);
    PS_ASSERT(w.len <= (size_t)SNAPSHOT_BYTES_MAX);
    int rc = st_snapshot_write(dir, offset, w.data, w.len);
    if (rc == 0) {
        s->snapshot_offset = offset;
        s->dirty = false;
    }
    st_writer_free(&w);
    return rc;
}

/* Decodes a snapshot into the empty state `s`. Nothing in the file is
 * trusted: every count is checked against the bytes left and every field
 * against what update could have produced. Returns 0 or ST_ERR_CORRUPT. */
static int decode_snapshot(st_producer_state_t *s, const uint8_t *data, size_t len, int64_t offset) {
    st_reader_t r;
    st_reader_init(&r, data, len);
    if (len < SNAPSHOT_HEADER_BYTES) return ST_ERR_CORRUPT;
    int16_t version = st_read_i16(&r);
    if (version != SNAPSHOT_VERSION && version != SNAPSHOT_VERSION_V1) return ST_ERR_CORRUPT;
    size_t entry_bytes_min = version == SNAPSHOT_VERSION ? SNAPSHOT_ENTRY_BYTES_MIN : SNAPSHOT_ENTRY_BYTES_MIN_V1;
    uint32_t crc = st_read_u32(&r);
    if (crc != st_crc32c(0, data + SNAPSHOT_BODY_AT, len - SNAPSHOT_BODY_AT)) return ST_ERR_CORRUPT;
    if (st_read_i64(&r) != offset) return ST_ERR_CORRUPT; /* renamed or misplaced */
    int32_t count = st_read_i32(&r);
    if (count < 0 || count > ST_PRODUCER_STATE_PRODUCERS_MAX ||
        (size_t)count > st_reader_remaining(&r) / entry_bytes_min)
        return ST_ERR_CORRUPT;

    for (int32_t i = 0; i < count; i++) {
        int64_t producer_id = st_read_i64(&r);
        int16_t epoch = st_read_i16(&r);
        int64_t last_update_ms = st_read_i64(&r);
        int32_t coordinator_epoch = NO_COORDINATOR_EPOCH;
        int64_t txn_first_offset = NO_TXN;
        if (version == SNAPSHOT_VERSION) {
            coordinator_epoch = st_read_i32(&r);
            txn_first_offset = st_read_i64(&r);
        }
        int8_t batch_count = st_read_i8(&r);
        if (r.failed || producer_id < 0 || batch_count < 0 || txn_first_offset < NO_TXN ||
            txn_first_offset >= offset || coordinator_epoch < NO_COORDINATOR_EPOCH ||
            batch_count > ST_PRODUCER_BATCHES_RETAINED ||
            (size_t)batch_count * SNAPSHOT_BATCH_BYTES > st_reader_remaining(&r))
            return ST_ERR_CORRUPT;
        if (entry_lookup(s, producer_id)) return ST_ERR_CORRUPT; /* listed twice */
        /* Two producers cannot open transactions at the same offset. */
        if (txn_first_offset != NO_TXN) {
            int32_t at = ongoing_lower_bound(s, txn_first_offset);
            if (at < s->ongoing_count && s->ongoing[at].first_offset == txn_first_offset) return ST_ERR_CORRUPT;
        }
        producer_entry_t *e = entry_insert(s, producer_id, epoch);
        e->last_update_ms = last_update_ms;
        e->coordinator_epoch = coordinator_epoch;
        if (txn_first_offset != NO_TXN) txn_open(s, e, txn_first_offset);
        int64_t previous_last_offset = -1;
        for (int32_t j = 0; j < batch_count; j++) {
            producer_batch_t b;
            b.first_seq = st_read_i32(&r);
            b.last_seq = st_read_i32(&r);
            b.first_offset = st_read_i64(&r);
            b.last_offset = st_read_i64(&r);
            b.max_timestamp = st_read_i64(&r);
            if (b.first_seq < NO_SEQUENCE || b.last_seq < NO_SEQUENCE ||
                b.first_offset <= previous_last_offset || b.last_offset < b.first_offset ||
                b.last_offset >= offset)
                return ST_ERR_CORRUPT;
            previous_last_offset = b.last_offset;
            entry_add_batch(e, &b);
        }
    }
    if (r.failed || st_reader_remaining(&r) != 0) return ST_ERR_CORRUPT;
    return 0;
}

/* Reads <dir>/<offset>.snapshot into the empty state `s`. Returns 0,
 * ST_ERR_CORRUPT (the file should be discarded), ST_ERR_NOT_FOUND (it went
 * away) or ST_ERR_IO. */
static int read_snapshot(st_producer_state_t *s, const char *dir, int64_t offset) {
    uint8_t *data;
    size_t len;
    int rc = st_snapshot_read(dir, offset, SNAPSHOT_HEADER_BYTES, SNAPSHOT_BYTES_MAX, &data, &len);
    if (rc == ST_ERR_NO_MEMORY) ps_assert_fail("out of memory", __FILE__, __LINE__);
    if (rc == 0) rc = decode_snapshot(s, data, len, offset);
    free(data);
    return rc;
}

static void state_swap(st_producer_state_t *a, st_producer_state_t *b) {
    st_producer_state_t t = *a;
    *a = *b;
    *b = t;
}

int st_producer_state_load(st_producer_state_t *s, const char *dir, int64_t max_offset,
                           int64_t *snapshot_offset) {
    *snapshot_offset = 0;
    st_producer_state_clear(s);
    s->snapshot_offset = -1;
    st_snapshot_offsets_t list;
    int rc = st_snapshot_list(dir, true, &list);
    if (rc != 0) goto done;

    for (size_t i = list.count; i-- > 0;) {
        int64_t offset = list.offsets[i];
        if (offset > max_offset) continue;
        st_producer_state_t *loaded = st_producer_state_new();
        int read_rc = read_snapshot(loaded, dir, offset);
        if (read_rc == 0) {
            table_check(loaded);
            state_swap(s, loaded);
            st_producer_state_free(loaded);
            s->snapshot_offset = offset;
            *snapshot_offset = offset;
            goto done;
        }
        st_producer_state_free(loaded);
        if (read_rc == ST_ERR_CORRUPT) {
            /* Kafka deletes a snapshot that fails to load and tries the
             * next older one (ProducerStateManager.loadFromSnapshot). */
            if (st_snapshot_unlink(dir, offset) != 0) {
                rc = ST_ERR_IO;
                goto done;
            }
        } else if (read_rc != ST_ERR_NOT_FOUND) {
            rc = read_rc;
            goto done;
        }
    }

done:
    st_snapshot_offsets_free(&list);
    /* Whatever was found (even nothing), s now matches what is on disk. */
    s->dirty = false;
    return rc;
}

int st_producer_state_delete_snapshots(const char *dir, int64_t below, int64_t above) {
    st_snapshot_offsets_t list;
    int rc = st_snapshot_list(dir, false, &list);
    bool deleted = false;
    for (size_t i = 0; i < list.count; i++) {
        int64_t offset = list.offsets[i];
        if (offset >= below && offset <= above) continue;
        if (st_snapshot_unlink(dir, offset) != 0) rc = ST_ERR_IO;
        deleted = true;
    }
    /* Make deletions durable: a snapshot above a truncation point that came
     * back after a crash would describe a log that no longer exists. */
    if (deleted && st_fs_fsync_dir(dir) != 0) rc = ST_ERR_IO;
    st_snapshot_offsets_free(&list);
    return rc;
}

int st_producer_state_prune_snapshots(const char *dir, int keep) {
    PS_ASSERT(keep >= 0);
    st_snapshot_offsets_t list;
    int rc = st_snapshot_list(dir, false, &list);
    size_t remove = list.count > (size_t)keep ? list.count - (size_t)keep : 0;
    for (size_t i = 0; i < remove; i++)
        if (st_snapshot_unlink(dir, list.offsets[i]) != 0) rc = ST_ERR_IO;
    if (remove > 0 && st_fs_fsync_dir(dir) != 0) rc = ST_ERR_IO;
    st_snapshot_offsets_free(&list);
    return rc;
}
