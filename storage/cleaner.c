#include "storage/cleaner.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "storage/fsutil.h"

/* Output is written in chunks of about this size. */
#define CLEANER_WRITE_CHUNK_BYTES (1 << 20)

typedef struct key_slot {
    uint64_t h1, h2;
    int64_t offset; /* -1: empty */
} key_slot_t;

typedef struct producer_slot {
    int64_t producer_id; /* -1: empty */
    int64_t last_data_base;    /* base offset of its last data batch, -1 when none */
    int64_t last_control_base; /* of its last marker, -1 when none */
} producer_slot_t;

/* An aborted transaction the pass has reached (its first offset is behind)
 * and whose marker it has not: Kafka's AbortedTransactionMetadata. */
typedef struct aborted_open {
    st_aborted_txn_t txn;
    bool observed; /* a batch of it was met this pass */
} aborted_open_t;

/* Kafka's CleanedTransactionMetadata: one per pass over the segments (one
 * for mapping keys, one for cleaning). */
typedef struct txn_tracker {
    int32_t next; /* the next entry of aborted (by first offset) not reached */
    aborted_open_t *open;
    int32_t open_count, open_cap;
    int64_t *committed; /* producers with transactional batches met and not aborted */
    int32_t committed_count, committed_cap;
} txn_tracker_t;

struct st_cleaner_map {
    key_slot_t *keys;
    uint32_t key_slots; /* power of two */
    uint32_t key_used;
    producer_slot_t *producers;
    uint32_t producer_used;
    bool producers_overflowed; /* then every emptied producer batch is kept */
    st_aborted_txns_t aborted; /* sorted by first offset */
    txn_tracker_t map_txns, clean_txns;
    st_aborted_txns_t retained; /* the index entries of the segment being cleaned */
};

/* MurmurHash64A with a seed; two seeds give the 128 bits. */
static uint64_t hash64(const uint8_t *p, size_t len, uint64_t seed) {
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = seed ^ (len * m);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t k;
        memcpy(&k, p + i, 8);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    uint64_t tail = 0;
    for (size_t j = 0; i + j < len; j++) tail |= (uint64_t)p[i + j] << (8 * j);
    if (len & 7) {
        h ^= tail;
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

int st_cleaner_map_create(int64_t keys_estimate, st_cleaner_map_t **out) {
    st_cleaner_map_t *m = calloc(1, sizeof *m);
    if (!m) return ST_ERR_NO_MEMORY;
    uint32_t slots = ST_CLEANER_MAP_SLOTS_MIN;
    while (slots < ST_CLEANER_MAP_SLOTS_MAX && (int64_t)slots * 3 / 4 < keys_estimate) slots <<= 1;
    m->keys = malloc((size_t)slots * sizeof *m->keys);
    m->producers = malloc((size_t)ST_CLEANER_PRODUCER_SLOTS_MAX * sizeof *m->producers);
    if (!m->keys || !m->producers) {
        st_cleaner_map_free(m);
        return ST_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < slots; i++) m->keys[i].offset = -1;
    for (uint32_t i = 0; i < ST_CLEANER_PRODUCER_SLOTS_MAX; i++) m->producers[i].producer_id = -1;
    m->key_slots = slots;
    *out = m;
    return 0;
}

static void tracker_free(txn_tracker_t *t) {
    free(t->open);
    free(t->committed);
}

void st_cleaner_map_free(st_cleaner_map_t *m) {
    if (!m) return;
    free(m->keys);
    free(m->producers);
    st_aborted_txns_free(&m->aborted);
    st_aborted_txns_free(&m->retained);
    tracker_free(&m->map_txns);
    tracker_free(&m->clean_txns);
    free(m);
}

static int compare_first_offsets(const void *a, const void *b) {
    const st_aborted_txn_t *x = a, *y = b;
    return (x->first_offset > y->first_offset) - (x->first_offset < y->first_offset);
}

int st_cleaner_map_set_aborted(st_cleaner_map_t *m, const st_aborted_txns_t *aborted) {
    for (int32_t i = 0; i < aborted->count; i++)
        if (st_aborted_txns_push(&m->aborted, &aborted->items[i])) return ST_ERR_NO_MEMORY;
    if (m->aborted.count > 1)
        qsort(m->aborted.items, (size_t)m->aborted.count, sizeof *m->aborted.items, compare_first_offsets);
    return 0;
}

/* ---- transactions (Kafka's CleanedTransactionMetadata) ------------------ */

static aborted_open_t *open_find(txn_tracker_t *t, int64_t producer_id) {
    for (int32_t i = 0; i < t->open_count; i++)
        if (t->open[i].txn.producer_id == producer_id) return &t->open[i];
    return NULL;
}

/* consumeAbortedTxnsUpTo: the aborted transactions that began at or
 * before `offset` are now open. */
static int tracker_reach(const st_cleaner_map_t *m, txn_tracker_t *t, int64_t offset) {
    while (t->next < m->aborted.count && m->aborted.items[t->next].first_offset <= offset) {
        const st_aborted_txn_t *a = &m->aborted.items[t->next++];
        if (open_find(t, a->producer_id)) continue; /* getOrElseUpdate */
        if (t->open_count == t->open_cap) {
            int32_t cap = t->open_cap ? t->open_cap * 2 : 8;
            aborted_open_t *p = realloc(t->open, (size_t)cap * sizeof *p);
            if (!p) return ST_ERR_NO_MEMORY;
            t->open = p;
            t->open_cap = cap;
        }
        t->open[t->open_count++] = (aborted_open_t){.txn = *a, .observed = false};
    }
    return 0;
}

static bool committed_remove(txn_tracker_t *t, int64_t producer_id) {
    for (int32_t i = 0; i < t->committed_count; i++) {
        if (t->committed[i] == producer_id) {
            t->committed[i] = t->committed[--t->committed_count];
            return true;
        }
    }
    return false;
}

/* onBatchRead: 1 when the data batch belongs to an aborted transaction
 * (all of it may go), 0 when not, or an error. */
static int tracker_on_data(const st_cleaner_map_t *m, txn_tracker_t *t, const st_batch_header_t *h) {
    int rc = tracker_reach(m, t, st_batch_last_offset(h));
    if (rc) return rc;
    if (!(h->attributes & ST_BATCH_ATTR_TRANSACTIONAL)) return 0;
    aborted_open_t *a = open_find(t, h->producer_id);
    if (a) {
        a->observed = true;
        return 1;
    }
    for (int32_t i = 0; i < t->committed_count; i++)
        if (t->committed[i] == h->producer_id) return 0;
    if (t->committed_count == t->committed_cap) {
        int32_t cap = t->committed_cap ? t->committed_cap * 2 : 8;
        int64_t *p = realloc(t->committed, (size_t)cap * sizeof *p);
        if (!p) return ST_ERR_NO_MEMORY;
        t->committed = p;
        t->committed_cap = cap;
    }
    t->committed[t->committed_count++] = h->producer_id;
    return 0;
}

/* onControlBatchRead: 1 when the marker may go (no batch of its
 * transaction was met), 0 when it stays, or an error. An ABORT marker that
 * stays because its batches were met keeps its index entry (`retained`,
 * when given). */
static int tracker_on_control(const st_cleaner_map_t *m, txn_tracker_t *t, const st_batch_header_t *h,
                              const uint8_t *batch, size_t len, st_aborted_txns_t *retained) {
    int rc = tracker_reach(m, t, st_batch_last_offset(h));
    if (rc) return rc;
    st_txn_marker_t marker;
    rc = st_txn_marker_batch_parse(batch, len, &marker);
    /* An emptied control batch was cleaned already; another control type,
     * or one that does not parse, is kept as it is. */
    if (rc == ST_ERR_NOT_FOUND) return h->record_count == 0 ? 1 : 0;
    if (rc) return 0;
    if (marker.commit) return committed_remove(t, h->producer_id) ? 0 : 1;
    aborted_open_t *a = open_find(t, h->producer_id);
    if (!a) return 1;
    aborted_open_t ended = *a;
    *a = t->open[--t->open_count];
    if (!ended.observed) return 1;
    if (retained && st_aborted_txns_push(retained, &ended.txn)) return ST_ERR_NO_MEMORY;
    return 0;
}

static key_slot_t *key_find(const st_cleaner_map_t *m, uint64_t h1, uint64_t h2) {
    uint32_t mask = m->key_slots - 1;
    for (uint32_t i = (uint32_t)h1 & mask;; i = (i + 1) & mask) {
        key_slot_t *s = &m->keys[i];
        if (s->offset < 0 || (s->h1 == h1 && s->h2 == h2)) return s;
    }
}

static int key_put(st_cleaner_map_t *m, const uint8_t *key, int32_t key_len, int64_t offset) {
    uint64_t h1 = hash64(key, (size_t)key_len, 0x9e3779b97f4a7c15ULL);
    uint64_t h2 = hash64(key, (size_t)key_len, 0x2545f4914f6cdd1dULL);
    key_slot_t *s = key_find(m, h1, h2);
    if (s->offset < 0) {
        /* Load factor 3/4 keeps probes short and one slot always empty. */
        if ((uint64_t)(m->key_used + 1) * 4 > (uint64_t)m->key_slots * 3) return ST_ERR_LIMIT;
        m->key_used++;
        s->h1 = h1;
        s->h2 = h2;
    }
    if (offset > s->offset) s->offset = offset;
    return 0;
}

static int64_t key_get(const st_cleaner_map_t *m, const uint8_t *key, int32_t key_len) {
    uint64_t h1 = hash64(key, (size_t)key_len, 0x9e3779b97f4a7c15ULL);
    uint64_t h2 = hash64(key, (size_t)key_len, 0x2545f4914f6cdd1dULL);
    return key_find(m, h1, h2)->offset;
}

static producer_slot_t *producer_find(const st_cleaner_map_t *m, int64_t producer_id) {
    uint32_t mask = ST_CLEANER_PRODUCER_SLOTS_MAX - 1;
    uint64_t h = (uint64_t)producer_id * 0x9e3779b97f4a7c15ULL;
    for (uint32_t i = (uint32_t)(h >> 40) & mask;; i = (i + 1) & mask) {
        producer_slot_t *s = &m->producers[i];
        if (s->producer_id < 0 || s->producer_id == producer_id) return s;
    }
}

static int note_producer(void *ctx, const st_batch_header_t *h, int64_t position) {
    (void)position;
    st_cleaner_map_t *m = ctx;
    if (h->producer_id < 0 || m->producers_overflowed) return 0;
    producer_slot_t *s = producer_find(m, h->producer_id);
    if (s->producer_id < 0) {
        if ((m->producer_used + 1) * 4 > ST_CLEANER_PRODUCER_SLOTS_MAX * 3) {
            m->producers_overflowed = true;
            return 0;
        }
        m->producer_used++;
        s->producer_id = h->producer_id;
        s->last_data_base = -1;
        s->last_control_base = -1;
    }
    if (h->attributes & ST_BATCH_ATTR_CONTROL)
        s->last_control_base = h->base_offset;
    else
        s->last_data_base = h->base_offset;
    return 0;
}

int st_cleaner_map_add_producers(st_cleaner_map_t *m, const st_segment_t *seg) {
    int rc = st_segment_scan_headers(seg, 0, note_producer, m);
    return rc < 0 ? rc : 0;
}

int st_cleaner_map_add_segment(st_cleaner_map_t *m, const st_segment_t *seg, size_t decompressed_bytes_max) {
    st_segment_reader_t rd;
    st_segment_reader_init(&rd, seg, 0);
    int rc;
    const uint8_t *batch;
    size_t len;
    st_batch_header_t h;
    while ((rc = st_segment_reader_next(&rd, &batch, &len, &h)) == 1) {
        /* Aborted records never stand for their keys (Kafka's
         * buildOffsetMapForSegment): an older committed value stays. */
        int txn = h.attributes & ST_BATCH_ATTR_CONTROL
                      ? tracker_on_control(m, &m->map_txns, &h, batch, len, NULL)
                      : tracker_on_data(m, &m->map_txns, &h);
        if (txn < 0) {
            rc = txn;
            break;
        }
        if ((h.attributes & ST_BATCH_ATTR_CONTROL) || txn == 1) {
            rc = 0;
            continue;
        }
        st_arena_t arena;
        st_arena_init(&arena);
        st_record_iter_t it;
        rc = st_record_iter_init(&it, batch, len, decompressed_bytes_max, &arena);
        st_record_t r;
        while (rc == 0 && (rc = st_record_iter_next(&it, &r)) == 1) {
            rc = 0;
            if (r.key_len >= 0) rc = key_put(m, r.key, r.key_len, h.base_offset + r.offset_delta);
        }
        st_arena_free(&arena);
        if (rc == ST_ERR_LIMIT) break;
        if (rc) {
            rc = ST_ERR_CORRUPT;
            break;
        }
    }
    st_segment_reader_free(&rd);
    return rc;
}

typedef struct cleaned_file {
    int fd;
    int64_t written;
    st_writer_t out;
} cleaned_file_t;

static int drain(cleaned_file_t *f, bool force) {
    if (f->out.len == 0 || (!force && f->out.len < CLEANER_WRITE_CHUNK_BYTES)) return 0;
    if (st_fs_pwrite_full(f->fd, f->out.data, f->out.len, f->written)) return ST_ERR_IO;
    f->written += (int64_t)f->out.len;
    st_writer_reset(&f->out);
    return 0;
}

/* Kafka's isBatchLastRecordOfProducer: the producer's last data batch
 * holds its last sequence; a marker after it, its last epoch. */
static bool producer_last_batch(const st_cleaner_map_t *m, const st_batch_header_t *h) {
    if (h->producer_id < 0) return false;
    if (m->producers_overflowed) return true;
    producer_slot_t *s = producer_find(m, h->producer_id);
    if (s->producer_id < 0) return true;
    if (h->attributes & ST_BATCH_ATTR_CONTROL)
        return s->last_control_base == h->base_offset && s->last_control_base > s->last_data_base;
    return s->last_data_base == h->base_offset;
}

/* Rebuilds a batch with the kept records (possibly none). */
static int rebuild_batch(const st_batch_header_t *h, const st_record_t *kept, int32_t kept_count, st_writer_t *out) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, (st_codec_t)(h->attributes & ST_BATCH_ATTR_CODEC_MASK), h->base_offset);
    /* The delete-horizon bit would reinterpret baseTimestamp: not kept. */
    b.attributes_extra = (int16_t)(h->attributes & ~(ST_BATCH_ATTR_CODEC_MASK | ST_BATCH_ATTR_DELETE_HORIZON));
    b.producer_id = h->producer_id;
    b.producer_epoch = h->producer_epoch;
    b.base_sequence = h->base_sequence;
    b.partition_leader_epoch = h->partition_leader_epoch;
    bool log_append_time = (h->attributes & ST_BATCH_ATTR_LOG_APPEND_TIME) != 0;
    for (int32_t i = 0; i < kept_count; i++) {
        const st_record_t *r = &kept[i];
        st_batch_builder_add(&b, r->offset_delta, h->base_timestamp + r->timestamp_delta, r->key, r->key_len,
                             r->value, r->value_len, r->headers, r->header_count);
    }
    if (kept_count == 0) {
        b.base_timestamp = h->base_timestamp;
        b.max_timestamp = h->max_timestamp;
    }
    if (log_append_time) b.max_timestamp = h->max_timestamp;
    /* implementation.html: v2 keeps the first and last offsets of a batch
     * through compaction. */
    b.last_offset_delta = h->last_offset_delta;
    int rc = st_batch_builder_finish(&b, out);
    st_batch_builder_free(&b);
    return rc;
}

/* A batch all of whose records go: kept empty when it is its producer's
 * last one (Kafka's RETAIN_EMPTY), else dropped. */
static int drop_whole_batch(const st_cleaner_map_t *m, const uint8_t *batch, size_t len, const st_batch_header_t *h,
                            cleaned_file_t *f, st_cleaner_result_t *res) {
    bool keep = producer_last_batch(m, h);
    if (keep && h->record_count == 0) {
        st_write_raw(&f->out, batch, len); /* emptied already */
        return 0;
    }
    res->changed = true;
    return keep ? rebuild_batch(h, NULL, 0, &f->out) : 0;
}

static int clean_batch(st_cleaner_map_t *m, const uint8_t *batch, size_t len, const st_batch_header_t *h,
                       bool drop_tombstones, size_t decompressed_bytes_max, cleaned_file_t *f,
                       st_cleaner_result_t *res) {
    if (h->attributes & ST_BATCH_ATTR_CONTROL) {
        int removable = tracker_on_control(m, &m->clean_txns, h, batch, len, &m->retained);
        if (removable < 0) return removable;
        /* Markers wait for the tombstones' horizon (delete.retention.ms),
         * so a consumer that read the transaction's data sees its end. */
        if (removable && drop_tombstones) return drop_whole_batch(m, batch, len, h, f, res);
        if (removable && h->record_count > 0) res->kept_tombstones = true;
        st_write_raw(&f->out, batch, len);
        return 0;
    }
    int aborted = tracker_on_data(m, &m->clean_txns, h);
    if (aborted < 0) return aborted;
    if (aborted) return drop_whole_batch(m, batch, len, h, f, res);
    st_arena_t arena;
    st_arena_init(&arena);
    st_record_iter_t it;
    int rc = st_record_iter_init(&it, batch, len, decompressed_bytes_max, &arena);
    st_record_t *kept = NULL;
    int32_t kept_count = 0, kept_cap = 0, total = 0;
    st_record_t r;
    int more = 0;
    while (rc == 0 && (more = st_record_iter_next(&it, &r)) == 1) {
        total++;
        int64_t offset = h->base_offset + r.offset_delta;
        bool keep = r.key_len < 0 || offset >= key_get(m, r.key, r.key_len);
        if (keep && r.value_len < 0 && drop_tombstones) keep = false;
        if (!keep) continue;
        if (r.value_len < 0) res->kept_tombstones = true;
        if (kept_count == kept_cap) {
            int32_t cap = kept_cap ? kept_cap * 2 : 16;
            st_record_t *nk = realloc(kept, (size_t)cap * sizeof *nk);
            if (!nk) {
                rc = ST_ERR_NO_MEMORY;
                break;
            }
            kept = nk;
            kept_cap = cap;
        }
        kept[kept_count++] = r;
    }
    if (rc == 0 && more < 0) rc = ST_ERR_CORRUPT;
    if (rc == 0) {
        if (kept_count == total) {
            st_write_raw(&f->out, batch, len);
        } else {
            res->changed = true;
            if (kept_count > 0 || producer_last_batch(m, h)) rc = rebuild_batch(h, kept, kept_count, &f->out);
        }
    }
    free(kept);
    st_arena_free(&arena);
    return rc;
}

/* Whether the retained entries differ from the segment's index. */
static bool txn_index_differs(const st_cleaner_map_t *m, const st_segment_t *seg) {
    if (m->retained.count != st_txn_index_count(&seg->txn_index)) return true;
    for (int32_t i = 0; i < m->retained.count; i++) {
        const st_aborted_txn_t *a = &m->retained.items[i], *b = st_txn_index_entry(&seg->txn_index, i);
        if (a->producer_id != b->producer_id || a->first_offset != b->first_offset ||
            a->last_offset != b->last_offset || a->last_stable_offset != b->last_stable_offset)
            return true;
    }
    return false;
}

int st_cleaner_clean_segment(st_cleaner_map_t *m, const st_segment_t *seg, bool drop_tombstones,
                             size_t decompressed_bytes_max, const char *out_path, st_cleaner_result_t *res) {
    res->changed = false;
    res->kept_tombstones = false;
    res->kept_bytes = 0;
    m->retained.count = 0;
    cleaned_file_t f = {.fd = -1, .written = 0};
    f.fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f.fd < 0) return ST_ERR_IO;
    st_writer_init(&f.out, 0);
    st_segment_reader_t rd;
    st_segment_reader_init(&rd, seg, 0);
    int rc;
    const uint8_t *batch;
    size_t len;
    st_batch_header_t h;
    while ((rc = st_segment_reader_next(&rd, &batch, &len, &h)) == 1) {
        rc = clean_batch(m, batch, len, &h, drop_tombstones, decompressed_bytes_max, &f, res);
        if (rc == 0) rc = drain(&f, false);
        if (rc) break;
    }
    if (rc == 0) rc = drain(&f, true);
    if (rc == 0 && txn_index_differs(m, seg)) res->changed = true;
    res->txn_entries = m->retained.items;
    res->txn_entry_count = m->retained.count;
    if (rc == 0 && fsync(f.fd) != 0) rc = ST_ERR_IO;
    st_segment_reader_free(&rd);
    st_writer_free(&f.out);
    if (close(f.fd) != 0 && rc == 0) rc = ST_ERR_IO;
    res->kept_bytes = f.written;
    return rc;
}
