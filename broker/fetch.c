/*
 * Fetch: reads served zero-copy from segment files, long-poll waits that
 * do not block the loop, and incremental fetch sessions (KIP-227).
 *
 * A Fetch that finds fewer than MinBytes is parked: it registers a waiter
 * on each partition it reads and a timer for MaxWaitMs. An append to any of
 * those partitions (st_fetch_wake) or the timer completes it, so a consumer
 * waiting with fetch.wait.max.ms=500 gets new data as soon as it arrives.
 *
 *   handle --(enough bytes, error, or MaxWaitMs 0)--> respond
 *     |
 *     +--(otherwise)--> PARKED --(append with enough bytes / timer)--> respond
 *
 * Invariants:
 *  1. A parked fetch is linked into the waiter list of every partition it
 *     reads, and unlinked from all of them before it completes.
 *  2. A fetch session's partitions change only from requests in that
 *     session; its epoch advances once per incremental request accepted.
 *     A parked fetch remembers the epoch its session had when it parked and
 *     touches the session's partitions again only if the session still has
 *     that id and epoch: any other request that changed them moved the epoch
 *     on or closed the session.
 *
 * Sessions (KIP-227), by the request's (session id, epoch):
 *   (0, 0)       full fetch, opens a session at epoch 1
 *   (id, 0)      closes id, then as (0, 0)
 *   (any, -1)    closes id if given, full fetch without a session
 *   (id, epoch)  incremental: FETCH_SESSION_ID_NOT_FOUND if there is no such
 *                session (always so for id 0), INVALID_FETCH_SESSION_EPOCH
 *                if epoch is not the session's; forgetting its last
 *                partition closes it (the answer carries session id 0)
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "protocol/legacy_records.h"
#include "storage/fsutil.h"

typedef struct parked_fetch parked_fetch_t;

struct st_fetch_waiter {
    parked_fetch_t *fetch;
    st_partition_t *partition;
    int64_t size_at_park;
    st_fetch_waiter_t *prev;
    st_fetch_waiter_t *next;
};

/* ---- fetch sessions -------------------------------------------------- */

#define INITIAL_EPOCH 0
#define FINAL_EPOCH (-1)

typedef struct session_partition {
    char *topic;
    st_uuid_t topic_id;
    int32_t partition;
    int64_t fetch_offset;
    int32_t max_bytes;
    /* last values sent, to decide what an incremental response includes */
    int64_t sent_high_watermark;
    int64_t sent_log_start_offset;
    bool sent_once;
    bool sent_records; /* in the last response: moves to the end (session_rotate) */
} session_partition_t;

typedef struct fetch_session {
    int32_t id; /* 0: free slot */
    int32_t epoch; /* next expected epoch */
    bool uses_topic_ids; /* opened by Fetch v13+, which names topics by id */
    int64_t last_used_ms;
    session_partition_t *parts;
    int32_t count;
    int32_t cap;
} fetch_session_t;

struct st_fetch_sessions {
    fetch_session_t *slots;
    int32_t slot_count;
    uint64_t id_state; /* xorshift64 state for session ids; never 0 */
    uint32_t sessionless_turn; /* which partition a sessionless response reads first */
};

st_fetch_sessions_t *st_fetch_sessions_new(int32_t slots) {
    st_fetch_sessions_t *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->slot_count = slots > 0 ? slots : 0;
    s->slots = calloc((size_t)(s->slot_count ? s->slot_count : 1), sizeof *s->slots);
    if (!s->slots) abort();
    if (getrandom(&s->id_state, sizeof s->id_state, 0) != (ssize_t)sizeof s->id_state)
        s->id_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (s->id_state == 0) s->id_state = 0x9e3779b97f4a7c15u;
    return s;
}

static void session_clear(fetch_session_t *fs) {
    for (int32_t i = 0; i < fs->count; i++) free(fs->parts[i].topic);
    free(fs->parts);
    memset(fs, 0, sizeof *fs);
}

void st_fetch_sessions_free(st_fetch_sessions_t *s) {
    for (int32_t i = 0; i < s->slot_count; i++) session_clear(&s->slots[i]);
    free(s->slots);
    free(s);
}

static fetch_session_t *session_find(st_fetch_sessions_t *s, int32_t id) {
    for (int32_t i = 0; i < s->slot_count; i++)
        if (s->slots[i].id == id) return &s->slots[i];
    return NULL;
}

/* Ids are random, as Kafka's FetchSessionCache.newSessionId draws them, so
 * a client cannot land in another's session by counting. */
static int32_t new_session_id(st_fetch_sessions_t *s) {
    for (;;) {
        s->id_state ^= s->id_state << 13;
        s->id_state ^= s->id_state >> 7;
        s->id_state ^= s->id_state << 17;
        int32_t id = (int32_t)(s->id_state >> 33); /* 31 bits: >= 0 */
        if (id != 0 && !session_find(s, id)) return id;
    }
}

static fetch_session_t *session_create(st_fetch_sessions_t *s, int64_t now_ms) {
    fetch_session_t *victim = NULL;
    for (int32_t i = 0; i < s->slot_count; i++) {
        if (s->slots[i].id == 0) {
            victim = &s->slots[i];
            break;
        }
        if (!victim || s->slots[i].last_used_ms < victim->last_used_ms) victim = &s->slots[i];
    }
    if (!victim) return NULL;
    /* Evict the least recently used session only if it is idle for long
     * (the fetch session cache is full otherwise: sessionless fetch). */
    if (victim->id != 0) {
        if (now_ms - victim->last_used_ms < 60000) return NULL;
        session_clear(victim);
    }
    victim->id = new_session_id(s);
    victim->epoch = 1;
    victim->last_used_ms = now_ms;
    return victim;
}

static session_partition_t *session_part(fetch_session_t *fs, const char *topic, int32_t partition, bool create) {
    for (int32_t i = 0; i < fs->count; i++)
        if (fs->parts[i].partition == partition && strcmp(fs->parts[i].topic, topic) == 0) return &fs->parts[i];
    if (!create) return NULL;
    if (fs->count == fs->cap) {
        int32_t cap = fs->cap ? fs->cap * 2 : 8;
        session_partition_t *parts = realloc(fs->parts, (size_t)cap * sizeof *parts);
        if (!parts) abort();
        fs->parts = parts;
        fs->cap = cap;
    }
    session_partition_t *sp = &fs->parts[fs->count++];
    memset(sp, 0, sizeof *sp);
    sp->topic = strdup(topic);
    if (!sp->topic) abort();
    sp->partition = partition;
    return sp;
}

static void session_forget(fetch_session_t *fs, const char *topic, int32_t partition) {
    for (int32_t i = 0; i < fs->count; i++) {
        if (fs->parts[i].partition == partition && strcmp(fs->parts[i].topic, topic) == 0) {
            free(fs->parts[i].topic);
            fs->parts[i] = fs->parts[--fs->count];
            return;
        }
    }
}

/* ---- the list of partitions one fetch reads -------------------------- */

typedef struct fetch_item {
    const char *topic;    /* resolved name, NULL when unknown */
    st_uuid_t topic_id;
    int32_t partition;
    int64_t fetch_offset;
    int32_t max_bytes;
    session_partition_t *session_entry; /* NULL when sessionless */
    /* What the last built response said of this partition, recorded in the
     * session once that response is the one sent (session_commit). */
    bool included;
    bool built_records;
    int64_t built_high_watermark;
    int64_t built_log_start_offset;
    int16_t topic_error;  /* UNKNOWN_TOPIC_ID when an id did not resolve */
} fetch_item_t;

struct parked_fetch {
    st_broker_t *b;
    st_request_t *req;
    st_fetch_request_t *rq;
    int32_t session_id;
    int32_t session_epoch; /* the session's epoch once this request was applied */
    bool incremental;
    fetch_item_t *items;
    int32_t item_count;
    st_fetch_waiter_t *waiters;
    int32_t waiter_count;
    st_timer_t timer;
    bool completing;
};

static const char *topic_name_for(st_broker_t *b, const st_fetch_request_t *rq, int16_t v, int32_t ti,
                                  int16_t *error) {
    const st_fetch_request_fetch_topic_t *ft = &rq->topics[ti];
    *error = 0;
    if (v >= 13) {
        st_topic_t *t = st_broker_topic_by_id(b, &ft->topic_id);
        if (!t) *error = ST_ERR_UNKNOWN_TOPIC_ID;
        return t ? t->name : NULL;
    }
    return ft->topic.ptr;
}

/* Fetch v0-3: the v2 bytes read from the log become message format v0
 * (Fetch v0-1) or v1 (v2-3) in memory, as Kafka 3.x down-converted; no
 * sendfile. Takes `rr`'s file reference. Returns the bytes added. */
static int32_t read_partition_legacy(st_broker_t *b, st_request_t *req, const fetch_item_t *it, int32_t max_bytes,
                                     st_log_shared_read_t *rr, st_fetch_response_partition_data_t *out) {
    uint8_t *v2 = st_arena_alloc(&req->arena, (size_t)rr->len);
    size_t got = 0;
    int err = st_fs_pread_full(st_file_ref_fd(rr->file), v2, (size_t)rr->len, rr->file_pos, &got);
    st_file_ref_release(rr->file);
    if (err != 0) {
        out->error_code = ST_ERR_KAFKA_STORAGE_ERROR;
        return 0;
    }
    int8_t magic = req->api_version >= 2 ? 1 : 0;
    st_writer_t conv;
    st_writer_init(&conv, got + 256);
    err = st_legacy_down_convert(v2, got, magic, it->fetch_offset, (size_t)(max_bytes > 0 ? max_bytes : 0),
                                 b->decompressed_batch_max_bytes, &req->arena, &conv, NULL);
    if (err != 0 || conv.len > INT32_MAX) {
        if (err != ST_ERR_UNSUPPORTED_COMPRESSION_TYPE)
            ST_WARN("fetch v%d of %s-%d at %lld: cannot convert to message format v%d: %s", req->api_version,
                    it->topic, it->partition, (long long)it->fetch_offset, magic, st_err_name(err));
        out->error_code = (int16_t)(err ? err : ST_ERR_MESSAGE_TOO_LARGE);
        st_writer_free(&conv);
        return 0;
    }
    int32_t len = (int32_t)conv.len;
    out->records = (st_records_t){.ptr = len ? st_arena_memdup(&req->arena, conv.data, conv.len) : NULL, .len = len,
                                  .fd = -1};
    st_writer_free(&conv);
    return len;
}

/* Reads one partition into `out`; returns the bytes of records added. */
static int32_t read_partition(st_broker_t *b, st_request_t *req, const fetch_item_t *it, int32_t budget,
                              bool first_with_data, st_fetch_response_partition_data_t *out) {
    out->partition_index = it->partition;
    out->high_watermark = -1;
    out->last_stable_offset = -1;
    out->log_start_offset = -1;
    out->records = (st_records_t){.len = 0, .fd = -1};
    if (it->topic_error) {
        out->error_code = it->topic_error;
        return 0;
    }
    st_partition_t *p = it->topic ? st_broker_partition(b, it->topic, it->partition) : NULL;
    if (!p || !p->log) {
        out->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return 0;
    }
    st_partition_offsets_t offsets;
    st_partition_offsets(p, &offsets);
    out->high_watermark = offsets.high_watermark;
    out->last_stable_offset = offsets.last_stable;
    out->log_start_offset = offsets.log_start;
    int32_t max_bytes = it->max_bytes < budget ? it->max_bytes : budget;
    if (max_bytes < 0) max_bytes = 0;
    st_log_shared_read_t rr;
    int err = st_partition_read(p, it->fetch_offset, max_bytes, first_with_data, &rr);
    if (err != 0) {
        out->error_code = (int16_t)(err > 0 ? err : ST_ERR_KAFKA_STORAGE_ERROR);
        return 0;
    }
    if (rr.len <= 0) {
        st_file_ref_release(rr.file);
        return 0;
    }
    if (req->api_version < 4) return read_partition_legacy(b, req, it, max_bytes, &rr, out);
    st_request_hold_file(req, rr.file);
    out->records = (st_records_t){.len = rr.len, .in_file = true, .fd = st_file_ref_fd(rr.file), .file_pos = rr.file_pos};
    return rr.len;
}

/* Record bytes after which a response takes no more partitions (0: none):
 * the configured target, grown to what the link carries in one round trip at
 * 1 GB/s, and never below what the client asked to wait for. Why: config.c. */
static int64_t response_target_bytes(st_broker_t *b, st_request_t *req, int32_t min_bytes) {
    if (b->fetch_response_target_bytes <= 0) return 0;
    int64_t target = b->fetch_response_target_bytes;
    if (req->conn) {
        int64_t in_flight = (int64_t)st_conn_rtt_us(req->conn) * 1000; /* bytes per µs at 1 GB/s */
        if (in_flight > target) target = in_flight;
    }
    return target > min_bytes ? target : min_bytes;
}

/* Builds the response for `pf`'s items. Returns the record bytes it holds.
 * The session learns what was sent only through session_commit. */
static int64_t build_response(parked_fetch_t *pf, st_fetch_response_t *resp) {
    st_broker_t *b = pf->b;
    st_request_t *req = pf->req;
    int16_t v = req->api_version;
    int32_t n = pf->item_count;
    /* Kafka bounds the request's max_bytes by the broker's fetch.max.bytes. */
    int64_t budget = pf->rq->max_bytes > 0 ? pf->rq->max_bytes : INT32_MAX;
    if (budget > b->fetch_max_bytes) budget = b->fetch_max_bytes;
    int64_t target = response_target_bytes(b, req, pf->rq->min_bytes);
    if (target > 0 && budget > target) budget = target;

    /* Read in turn from a different first partition each time when there
     * is no session (a session rotates its own order, session_rotate), so
     * that under the size target a client that never reorders its
     * partitions does not drain them one by one. The answer keeps the
     * request's order. */
    st_fetch_response_partition_data_t *pds = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *pds);
    int32_t *got = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *got);
    int32_t first = (!pf->session_id && n > 0) ? (int32_t)(b->fetch_sessions->sessionless_turn++ % (uint32_t)n) : 0;
    int64_t total = 0;
    for (int32_t k = 0; k < n; k++) {
        int32_t i = (first + k) % n;
        st_fetch_response_partition_data_t *pd = &pds[i];
        memset(pd, 0, sizeof *pd);
        /* Defaults of the tagged fields, so they are not sent. */
        pd->diverging_epoch.epoch = -1;
        pd->diverging_epoch.end_offset = -1;
        pd->current_leader.leader_id = -1;
        pd->current_leader.leader_epoch = -1;
        pd->snapshot_id.end_offset = -1;
        pd->snapshot_id.epoch = -1;
        pd->preferred_read_replica = -1;
        pd->aborted_transactions_count = v >= 4 ? 0 : -1;
        got[i] = read_partition(b, req, &pf->items[i], (int32_t)(budget - total > INT32_MAX ? INT32_MAX : budget - total),
                                total == 0, pd);
        total += got[i];
    }

    resp->responses = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *resp->responses);
    resp->responses_count = 0;
    st_fetch_response_fetchable_topic_response_t *cur = NULL;
    for (int32_t i = 0; i < n; i++) {
        fetch_item_t *it = &pf->items[i];
        const st_fetch_response_partition_data_t *pd = &pds[i];
        it->included = false;
        if (pf->incremental && it->session_entry) {
            /* Records always count as a change: nothing read is dropped. */
            session_partition_t *sp = it->session_entry;
            bool changed = got[i] > 0 || pd->error_code != 0 || !sp->sent_once ||
                           sp->sent_high_watermark != pd->high_watermark ||
                           sp->sent_log_start_offset != pd->log_start_offset;
            if (!changed) continue;
        }
        it->included = true;
        it->built_records = got[i] > 0;
        /* After an error Kafka remembers high watermark -1, so the
         * partition is sent again once the error is gone (FetchSession's
         * CachedPartition.maybeUpdateResponseData). */
        it->built_high_watermark = pd->error_code != 0 ? -1 : pd->high_watermark;
        it->built_log_start_offset = pd->log_start_offset;
        bool same_topic = cur && ((v >= 13) ? memcmp(cur->topic_id.bytes, it->topic_id.bytes, 16) == 0
                                            : (it->topic && cur->topic.ptr && strcmp(cur->topic.ptr, it->topic) == 0));
        if (!same_topic) {
            cur = &resp->responses[resp->responses_count++];
            memset(cur, 0, sizeof *cur);
            cur->topic = st_str(it->topic ? it->topic : "");
            cur->topic_id = it->topic_id;
            cur->partitions = st_arena_alloc(&req->arena, (size_t)n * sizeof *cur->partitions);
        }
        cur->partitions[cur->partitions_count++] = *pd;
    }
    return total;
}

/* Partitions that just sent records go to the end of the session, keeping
 * their order, as Kafka's FetchSession does: a response stops taking
 * partitions at its size target, and the ones after it get their turn
 * first next time instead of waiting for the first ones to run dry. */
static void session_rotate(fetch_session_t *fs) {
    session_partition_t *sorted = malloc((size_t)(fs->count ? fs->count : 1) * sizeof *sorted);
    if (!sorted) abort();
    int32_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int32_t i = 0; i < fs->count; i++)
            if (fs->parts[i].sent_records == (pass == 1)) sorted[n++] = fs->parts[i];
    for (int32_t i = 0; i < n; i++) sorted[i].sent_records = false;
    memcpy(fs->parts, sorted, (size_t)n * sizeof *sorted);
    free(sorted);
}

/* The built response is being sent: an incremental session remembers
 * what it told the client of each partition (KIP-227). Moves session
 * entries: the items' pointers into the session are not used after this. */
static void session_commit(parked_fetch_t *pf) {
    bool any_records = false;
    for (int32_t i = 0; i < pf->item_count; i++) {
        fetch_item_t *it = &pf->items[i];
        if (!it->session_entry || !it->included) continue;
        it->session_entry->sent_once = true;
        it->session_entry->sent_high_watermark = it->built_high_watermark;
        it->session_entry->sent_log_start_offset = it->built_log_start_offset;
        it->session_entry->sent_records = it->built_records;
        any_records |= it->built_records;
    }
    fetch_session_t *fs = pf->session_id ? session_find(pf->b->fetch_sessions, pf->session_id) : NULL;
    if (fs && any_records) session_rotate(fs);
}

static void unlink_waiters(parked_fetch_t *pf) {
    for (int32_t i = 0; i < pf->waiter_count; i++) {
        st_fetch_waiter_t *w = &pf->waiters[i];
        if (!w->partition) continue;
        if (w->prev)
            w->prev->next = w->next;
        else
            w->partition->waiters = w->next;
        if (w->next) w->next->prev = w->prev;
        w->partition = NULL;
    }
}

/* The client went away: nothing will be sent, so the fetch is dropped now
 * rather than kept until its timer (which shutdown would never run). */
static void cancel_parked(st_request_t *req) {
    parked_fetch_t *pf = req->pending;
    unlink_waiters(pf);
    st_timer_stop(pf->b->loop, &pf->timer);
    req->pending = NULL;
    free(pf->waiters);
    free(pf);
}

static void complete(parked_fetch_t *pf) {
    st_broker_t *b = pf->b;
    st_request_t *req = pf->req;
    unlink_waiters(pf);
    st_timer_stop(b->loop, &pf->timer);
    req->pending = NULL;
    /* Connected: a closing connection cancels its parked fetches first. */
    st_fetch_response_t *resp = st_request_alloc_response(req);
    fetch_session_t *fs = pf->session_id ? session_find(b->fetch_sessions, pf->session_id) : NULL;
    if (pf->session_id && (!fs || fs->epoch != pf->session_epoch)) {
        /* Another request moved the session on or closed it while this one
         * waited: its partitions are not the ones this fetch was for. Kafka
         * answers the first case so (IncrementalFetchContext); in the second
         * it still holds the closed session, we no longer do. */
        resp->error_code = fs ? ST_ERR_INVALID_FETCH_SESSION_EPOCH : ST_ERR_FETCH_SESSION_ID_NOT_FOUND;
        resp->session_id = fs ? pf->session_id : 0;
    } else {
        resp->session_id = pf->session_id;
        build_response(pf, resp);
        session_commit(pf);
        if (fs) fs->last_used_ms = st_loop_now_ms(b->loop);
    }
    free(pf->waiters);
    free(pf);
    st_request_respond(req, resp);
}

static void on_fetch_timeout(st_loop_t *loop, void *ctx) {
    (void)loop;
    complete(ctx);
}

void st_fetch_wake(st_broker_t *b, st_partition_t *p) {
    (void)b;
    /* Collect first: completing unlinks waiters from this list. */
    parked_fetch_t *ready[64];
    int n = 0;
    for (st_fetch_waiter_t *w = p->waiters; w && n < 64; w = w->next) {
        parked_fetch_t *pf = w->fetch;
        if (pf->completing) continue;
        int64_t grown = 0;
        for (int32_t i = 0; i < pf->waiter_count; i++) {
            st_fetch_waiter_t *x = &pf->waiters[i];
            if (x->partition && x->partition->log) grown += st_partition_size_bytes(x->partition) - x->size_at_park;
        }
        if (grown >= (pf->rq->min_bytes > 0 ? pf->rq->min_bytes : 1)) {
            pf->completing = true;
            ready[n++] = pf;
        }
    }
    for (int i = 0; i < n; i++) complete(ready[i]);
}

void st_fetch_forget_partition(st_broker_t *b, st_partition_t *p) {
    (void)b;
    while (p->waiters) {
        st_fetch_waiter_t *w = p->waiters;
        p->waiters = w->next;
        if (p->waiters) p->waiters->prev = NULL;
        w->partition = NULL;
    }
}

static fetch_item_t *add_item(parked_fetch_t *pf, int32_t *cap) {
    if (pf->item_count == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        fetch_item_t *items = st_arena_alloc(&pf->req->arena, (size_t)*cap * sizeof *items);
        if (pf->item_count) memcpy(items, pf->items, (size_t)pf->item_count * sizeof *items);
        pf->items = items;
    }
    fetch_item_t *it = &pf->items[pf->item_count++];
    memset(it, 0, sizeof *it);
    return it;
}

/* Puts the request's partitions into session `fs`, or into `pf`'s items
 * when there is no session. */
static void apply_request_partitions(st_broker_t *b, parked_fetch_t *pf, fetch_session_t *fs, int32_t *cap) {
    const st_fetch_request_t *rq = pf->rq;
    int16_t v = pf->req->api_version;
    for (int32_t ti = 0; ti < rq->topics_count; ti++) {
        int16_t terr = 0;
        const char *name = topic_name_for(b, rq, v, ti, &terr);
        for (int32_t pi = 0; pi < rq->topics[ti].partitions_count; pi++) {
            const st_fetch_request_fetch_partition_t *fp = &rq->topics[ti].partitions[pi];
            if (fs && name) {
                session_partition_t *sp = session_part(fs, name, fp->partition, true);
                sp->topic_id = rq->topics[ti].topic_id;
                sp->fetch_offset = fp->fetch_offset;
                sp->max_bytes = fp->partition_max_bytes;
                continue;
            }
            fetch_item_t *it = add_item(pf, cap);
            it->topic = name;
            it->topic_id = rq->topics[ti].topic_id;
            it->partition = fp->partition;
            it->fetch_offset = fp->fetch_offset;
            it->max_bytes = fp->partition_max_bytes;
            it->topic_error = terr;
        }
    }
}

int st_handle_fetch(st_broker_t *b, st_request_t *req) {
    st_fetch_request_t *rq = st_arena_alloc(&req->arena, sizeof *rq);
    if (st_request_decode(req, rq) != 0) return ST_ERR_DECODE;
    int16_t v = req->api_version;
    int64_t now = st_loop_now_ms(b->loop);

    parked_fetch_t *pf = calloc(1, sizeof *pf);
    if (!pf) abort();
    pf->b = b;
    pf->req = req;
    pf->rq = rq;
    int32_t cap = 0;

    /* KIP-227 session handling (table at the top of this file), as
     * Kafka's FetchManager.newContext decides it. */
    fetch_session_t *fs = NULL;
    int16_t top_error = 0;
    bool full = true;
    if (v >= 7) {
        /* Slot id 0 is a free slot, never a session. */
        fetch_session_t *found = rq->session_id != 0 ? session_find(b->fetch_sessions, rq->session_id) : NULL;
        if (rq->session_epoch == INITIAL_EPOCH || rq->session_epoch == FINAL_EPOCH) {
            /* The Java client sends (id, 0) after an error or a lost
             * response: the old session goes, a new one may start. */
            if (found) session_clear(found);
            if (rq->session_epoch == INITIAL_EPOCH) fs = session_create(b->fetch_sessions, now);
            if (fs) fs->uses_topic_ids = v >= 13;
        } else if (!found) {
            top_error = ST_ERR_FETCH_SESSION_ID_NOT_FOUND;
        } else if (found->epoch != rq->session_epoch) {
            top_error = ST_ERR_INVALID_FETCH_SESSION_EPOCH;
        } else if (found->uses_topic_ids != (v >= 13)) {
            /* Its partitions are kept by name or by id, not both. */
            top_error = ST_ERR_FETCH_SESSION_TOPIC_ID_ERROR;
        } else {
            fs = found;
            full = false;
        }
    }
    if (top_error) {
        st_fetch_response_t *resp = st_request_alloc_response(req);
        resp->error_code = top_error;
        free(pf);
        st_request_respond(req, resp);
        return 0;
    }

    /* Apply the request's partitions (and forgotten ones) to the session,
     * or list them directly when sessionless. */
    apply_request_partitions(b, pf, fs, &cap);
    if (fs) {
        for (int32_t i = 0; i < rq->forgotten_topics_data_count; i++) {
            const st_fetch_request_forgotten_topic_t *ft = &rq->forgotten_topics_data[i];
            const char *name = ft->topic.ptr;
            if (v >= 13) {
                st_topic_t *t = st_broker_topic_by_id(b, &ft->topic_id);
                name = t ? t->name : NULL;
            }
            if (!name) continue;
            for (int32_t k = 0; k < ft->partitions_count; k++) session_forget(fs, name, ft->partitions[k]);
        }
        if (!full && fs->count == 0) {
            /* Nothing left: Kafka closes the session and answers the
             * request's partitions without one. */
            session_clear(fs);
            fs = NULL;
            pf->item_count = 0; /* those of unknown topic ids were listed already */
            apply_request_partitions(b, pf, NULL, &cap);
        }
    }
    if (fs) {
        for (int32_t i = 0; i < fs->count; i++) {
            session_partition_t *sp = &fs->parts[i];
            fetch_item_t *it = add_item(pf, &cap);
            it->topic = st_arena_strdup(&req->arena, sp->topic);
            it->topic_id = sp->topic_id;
            it->partition = sp->partition;
            it->fetch_offset = sp->fetch_offset;
            it->max_bytes = sp->max_bytes;
            it->session_entry = sp;
        }
        pf->session_id = fs->id;
        pf->incremental = !full;
        /* A new session already expects epoch 1. */
        if (!full) fs->epoch = fs->epoch == INT32_MAX ? 1 : fs->epoch + 1;
        pf->session_epoch = fs->epoch;
        fs->last_used_ms = now;
    }

    /* Enough already? Then answer now. */
    st_fetch_response_t *probe = st_request_alloc_response(req);
    int64_t bytes = build_response(pf, probe);
    bool any_error = false;
    for (int32_t i = 0; i < probe->responses_count && !any_error; i++)
        for (int32_t k = 0; k < probe->responses[i].partitions_count; k++)
            if (probe->responses[i].partitions[k].error_code != 0) any_error = true;
    if (rq->max_wait_ms <= 0 || bytes >= (rq->min_bytes > 0 ? rq->min_bytes : 1) || any_error ||
        pf->item_count == 0) {
        /* The probe is the answer: no second read of the logs. */
        probe->session_id = pf->session_id;
        session_commit(pf);
        free(pf);
        st_request_respond(req, probe);
        return 0;
    }
    st_request_release_files(req);

    /* Park. */
    pf->waiters = calloc((size_t)pf->item_count, sizeof *pf->waiters);
    if (!pf->waiters) abort();
    for (int32_t i = 0; i < pf->item_count; i++) {
        fetch_item_t *it = &pf->items[i];
        st_partition_t *p = it->topic ? st_broker_partition(b, it->topic, it->partition) : NULL;
        if (!p || !p->log) continue;
        st_fetch_waiter_t *w = &pf->waiters[pf->waiter_count++];
        w->fetch = pf;
        w->partition = p;
        w->size_at_park = st_partition_size_bytes(p);
        w->next = p->waiters;
        if (p->waiters) p->waiters->prev = w;
        p->waiters = w;
    }
    req->pending = pf;
    req->cancel_pending = cancel_parked;
    st_timer_start(b->loop, &pf->timer, rq->max_wait_ms, on_fetch_timeout, pf);
    return 0;
}
