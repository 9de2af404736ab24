/* Log compaction: latest value per key, tombstones, offsets preserved,
 * min.compaction.lag.ms, emptied batches and segments; transactions:
 * aborted data removed (and never standing for its key), markers removed
 * once their data is gone and delete.retention.ms passed, the cleaned
 * .txnindex, nothing at or past the first unstable offset touched. */
#include "txn_test_util.h"

typedef struct seen {
    int count;
    int64_t offsets[64];
    char keys[64][16];
    char values[64][32]; /* "" for a tombstone */
    int batches;
    int empty_batches;
    int64_t empty_base[8];
    int32_t empty_last_delta[8];
    int32_t empty_base_sequence[8];
    int markers;       /* COMMIT/ABORT control batches */
    int empty_markers; /* control batches emptied by the cleaner */
} seen_t;

static int collect(void *ctx, const uint8_t *batch, size_t len) {
    seen_t *s = ctx;
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(batch, len, &h), 0);
    assert_true(st_batch_crc_valid(batch, len));
    s->batches++;
    if (h.attributes & ST_BATCH_ATTR_CONTROL) {
        st_txn_marker_t m;
        if (st_txn_marker_batch_parse(batch, len, &m) == 0) s->markers++;
        else s->empty_markers++;
        return 0;
    }
    if (h.record_count == 0) {
        s->empty_base[s->empty_batches] = h.base_offset;
        s->empty_last_delta[s->empty_batches] = h.last_offset_delta;
        s->empty_base_sequence[s->empty_batches] = h.base_sequence;
        s->empty_batches++;
    }
    st_arena_t arena;
    st_arena_init(&arena);
    st_record_iter_t it;
    assert_int_equal(st_record_iter_init(&it, batch, len, 1 << 20, &arena), 0);
    st_record_t r;
    while (st_record_iter_next(&it, &r) == 1) {
        assert_true(s->count < 64);
        s->offsets[s->count] = h.base_offset + r.offset_delta;
        assert_true(st_batch_last_offset(&h) >= s->offsets[s->count]);
        snprintf(s->keys[s->count], 16, "%.*s", r.key_len, (const char *)r.key);
        if (r.value_len >= 0)
            snprintf(s->values[s->count], 32, "%.*s", r.value_len, (const char *)r.value);
        else
            s->values[s->count][0] = '\0';
        s->count++;
    }
    st_arena_free(&arena);
    return 0;
}

static void read_all(st_log_t *log, seen_t *s) {
    memset(s, 0, sizeof *s);
    assert_int_equal(st_log_for_each_batch(log, 0, collect, s), 0);
}

static void expect_record(const seen_t *s, int i, int64_t offset, const char *key, const char *value) {
    assert_true(i < s->count);
    assert_int_equal(s->offsets[i], offset);
    assert_string_equal(s->keys[i], key);
    assert_string_equal(s->values[i], value);
}

/*
 * seg0 (ts 1000): A = k0..k4 "a" @0..4,  B = k0..k2 "b" @5..7
 * seg1 (ts 2000): C = k3 tombstone @8,  D = k0 "c" @9
 * seg2 (ts 3000): E = k5 "d" @10
 * seg3 active (ts 4000): F = k1 "e" @11
 */
static st_log_t *make_log(test_dir_t *d, st_log_config_t *cfg) {
    test_dir_make(d);
    test_config(cfg);
    cfg->segment_ms = 900;
    cfg->cleanup_delete = false;
    cfg->cleanup_compact = true;
    cfg->delete_retention_ms = 5000;
    st_log_t *log;
    assert_int_equal(st_log_open(d->part, cfg, 0, &log), 0);
    test_append(log, 5, 1000, 0, "a", false, 0);
    test_append(log, 3, 1000, 0, "b", false, 0);
    test_append(log, 1, 2000, 3, "t", true, 0);
    test_append(log, 1, 2001, 0, "c", false, 0);
    test_append(log, 1, 3000, 5, "d", false, 0);
    test_append(log, 1, 4000, 1, "e", false, 0);
    assert_int_equal(st_log_segment_count(log), 4);
    return log;
}

static void test_latest_per_key_and_offsets_kept(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_log_t *log = make_log(&d, &cfg);
    int64_t size_before = st_log_size_bytes(log);
    assert_int_equal(st_log_compact(log, 4500), 0);
    assert_true(st_log_size_bytes(log) < size_before);
    seen_t s;
    read_all(log, &s);
    assert_int_equal(s.count, 7);
    expect_record(&s, 0, 4, "k4", "a-4");
    expect_record(&s, 1, 6, "k1", "b-1");
    expect_record(&s, 2, 7, "k2", "b-2");
    expect_record(&s, 3, 8, "k3", ""); /* tombstone still within delete.retention.ms */
    expect_record(&s, 4, 9, "k0", "c-0");
    expect_record(&s, 5, 10, "k5", "d-0");
    expect_record(&s, 6, 11, "k1", "e-0"); /* active segment untouched */
    assert_int_equal(st_log_end_offset(log), 12);
    assert_int_equal(st_log_segment_count(log), 4);

    /* Reading an offset that was compacted away returns the batch that
     * spanned it (v2 keeps base and last offsets). */
    st_log_read_result_t r;
    st_batch_header_t h;
    assert_int_equal(st_log_read(log, 1, 1, true, &r), 0);
    test_read_header(&r, &h);
    assert_int_equal(h.base_offset, 0);
    assert_int_equal(h.last_offset_delta, 4);
    assert_int_equal(h.record_count, 1);
    close(r.fd);
    assert_int_equal(st_log_read(log, 5, 1, true, &r), 0);
    test_read_header(&r, &h);
    assert_int_equal(h.base_offset, 5);
    close(r.fd);

    /* Later: the tombstone's segment is older than delete.retention.ms. */
    assert_int_equal(st_log_compact(log, 100000), 0);
    read_all(log, &s);
    assert_int_equal(s.count, 6);
    expect_record(&s, 2, 7, "k2", "b-2");
    expect_record(&s, 3, 9, "k0", "c-0");
    /* Idempotent. */
    int64_t size = st_log_size_bytes(log);
    assert_int_equal(st_log_compact(log, 100000), 0);
    assert_int_equal(st_log_size_bytes(log), size);

    /* Survives a reopen (clean and with indexes rebuilt by the swap). */
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    read_all(log, &s);
    assert_int_equal(s.count, 6);
    expect_record(&s, 5, 11, "k1", "e-0");
    int64_t off, ts;
    assert_int_equal(st_log_offset_for_timestamp(log, 2000, &off, &ts), 0);
    assert_int_equal(off, 9);
    assert_int_equal(test_append(log, 1, 5000, 0, "f", false, 0), 12);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_min_compaction_lag(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_log_t *log = make_log(&d, &cfg);
    cfg.min_compaction_lag_ms = 1000;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    /* Only segment 0 (largest timestamp 1004) is old enough at 2500. */
    assert_int_equal(st_log_compact(log, 2500), 0);
    seen_t s;
    read_all(log, &s);
    expect_record(&s, 0, 3, "k3", "a-3");
    expect_record(&s, 1, 4, "k4", "a-4");
    expect_record(&s, 2, 5, "k0", "b-0");
    assert_int_equal(s.count, 9);
    st_log_close(log);
    test_dir_remove(&d);
}

/* A log is cleaned again only when enough was written since the last pass
 * (min.cleanable.dirty.ratio) or kept tombstones may go. */
static void test_dirty_ratio(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_log_t *log = make_log(&d, &cfg);
    assert_int_equal(st_log_compact(log, 4500), 0); /* first pass: all dirty */
    test_append(log, 1, 5000, 0, "g", false, 0);     /* rolls: seg3 (k1 "e") is dirty */
    seen_t s;
    read_all(log, &s);
    assert_int_equal(s.count, 8);
    expect_record(&s, 1, 6, "k1", "b-1");
    int64_t size = st_log_size_bytes(log);
    assert_int_equal(st_log_compact(log, 5500), 0); /* 1 dirty batch of 6: below 0.5 */
    assert_int_equal(st_log_size_bytes(log), size);
    cfg.min_cleanable_dirty_ratio = 0.1;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    assert_int_equal(st_log_compact(log, 5500), 0);
    read_all(log, &s);
    assert_int_equal(s.count, 7);
    expect_record(&s, 1, 7, "k2", "b-2"); /* k1 "b" superseded by "e" */
    expect_record(&s, 2, 8, "k3", "");    /* the tombstone stays until 2000 + 5000 */
    /* The tombstone is due: a pass runs without new data. */
    assert_int_equal(st_log_compact(log, 7002), 0);
    read_all(log, &s);
    assert_int_equal(s.count, 6);
    expect_record(&s, 2, 9, "k0", "c-0");
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_not_compact_is_noop(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_log_t *log = make_log(&d, &cfg);
    cfg.cleanup_compact = false;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    int64_t size = st_log_size_bytes(log);
    assert_int_equal(st_log_compact(log, 100000), 0);
    assert_int_equal(st_log_size_bytes(log), size);
    st_log_close(log);
    test_dir_remove(&d);
}

static void append_with_producer(st_log_t *log, int key0, const char *tag, int64_t ts, int64_t pid) {
    st_writer_t w;
    st_writer_init(&w, 256);
    test_build_batch(&w, 1, ts, key0, tag, false, pid);
    st_log_append_result_t res;
    assert_int_equal(st_log_append(log, w.data, w.len, 0, 0, false, &res), 0);
    st_writer_free(&w);
}

static void test_emptied_segment_and_producer_batch(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_ms = 999;
    cfg.cleanup_delete = false;
    cfg.cleanup_compact = true;
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    append_with_producer(log, 0, "a", 1000, 7);  /* @0 seg0 */
    append_with_producer(log, 1, "b", 2000, -1); /* @1 seg1: superseded below */
    append_with_producer(log, 0, "p", 3000, 7);  /* @2 seg2: producer 7's last batch */
    append_with_producer(log, 0, "c", 3001, -1); /* @3 seg2 */
    append_with_producer(log, 1, "d", 3002, -1); /* @4 seg2 */
    append_with_producer(log, 9, "z", 4000, -1); /* @5 active */
    assert_int_equal(st_log_segment_count(log), 4);
    assert_int_equal(st_log_compact(log, 5000), 0);
    /* seg1 emptied: deleted. seg0 is first: kept even though empty. */
    assert_int_equal(st_log_segment_count(log), 3);
    seen_t s;
    read_all(log, &s);
    assert_int_equal(s.count, 3);
    expect_record(&s, 0, 3, "k0", "c-0");
    expect_record(&s, 1, 4, "k1", "d-0");
    /* Producer 7's last batch stays as an empty batch with its offsets and
     * sequence; its earlier one is gone. */
    assert_int_equal(s.empty_batches, 1);
    assert_int_equal(s.empty_base[0], 2);
    assert_int_equal(s.empty_last_delta[0], 0);
    assert_int_equal(s.empty_base_sequence[0], 0);
    /* Offsets in the deleted segment read from the next one. */
    st_log_read_result_t r;
    st_batch_header_t h;
    assert_int_equal(st_log_read(log, 1, 1, true, &r), 0);
    test_read_header(&r, &h);
    assert_int_equal(h.base_offset, 2);
    close(r.fd);
    assert_int_equal(st_log_read(log, 0, 1, true, &r), 0);
    test_read_header(&r, &h);
    assert_int_equal(h.base_offset, 2);
    close(r.fd);
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(st_log_segment_count(log), 3);
    assert_int_equal(st_log_end_offset(log), 6);
    st_log_close(log);
    test_dir_remove(&d);
}


/* ---- transactions ---- */

#define TA 301 /* aborts */
#define TC 302 /* commits */

/*
 * seg0 (ts 1000): k0 "old" @0 | TA txn k0 "abort" @1 | TC txn k1 "commit" @2
 * seg1 (ts 2000): TA ABORT @3 | TC COMMIT @4
 * seg2 (ts 3000): k5 "x" @5
 * active (ts 4000): k6 "y" @6
 */
static st_log_t *make_txn_log(test_dir_t *d, st_log_config_t *cfg, st_producer_state_t **ps) {
    test_dir_make(d);
    test_config(cfg);
    cfg->segment_ms = 900;
    cfg->cleanup_delete = false;
    cfg->cleanup_compact = true;
    cfg->delete_retention_ms = 5000;
    cfg->min_cleanable_dirty_ratio = 0.01;
    st_log_t *log;
    assert_int_equal(st_log_open(d->part, cfg, 0, &log), 0);
    *ps = st_producer_state_new();
    assert_int_equal(test_append(log, 1, 1000, 0, "old", false, 1000), 0);
    assert_int_equal(txn_test_append(log, *ps, TA, 0, 0, 1, 0, "abort", true, 1000), 1);
    assert_int_equal(txn_test_append(log, *ps, TC, 0, 0, 1, 1, "commit", true, 1000), 2);
    assert_int_equal(txn_test_marker(log, *ps, TA, 0, false, 2000), 3);
    assert_int_equal(txn_test_marker(log, *ps, TC, 0, true, 2000), 4);
    assert_int_equal(test_append(log, 1, 3000, 5, "x", false, 3000), 5);
    assert_int_equal(test_append(log, 1, 4000, 6, "y", false, 4000), 6);
    assert_int_equal(st_log_segment_count(log), 4);
    return log;
}

static void test_aborted_data_removed_markers_after_horizon(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_producer_state_t *ps;
    st_log_t *log = make_txn_log(&d, &cfg, &ps);
    int64_t lso = st_producer_state_first_unstable_offset(ps);
    assert_int_equal(lso, -1);

    /* Pass 1, within delete.retention.ms: the aborted record goes (TA's
     * batch stays empty: its last data batch), and k0 keeps "old", since
     * an aborted value never supersedes a committed one. */
    assert_int_equal(st_log_compact_below(log, 4500, INT64_MAX), 0);
    seen_t s;
    read_all(log, &s);
    assert_int_equal(s.count, 4);
    expect_record(&s, 0, 0, "k0", "old-0");
    expect_record(&s, 1, 2, "k1", "commit-0");
    expect_record(&s, 2, 5, "k5", "x-0");
    assert_int_equal(s.empty_batches, 1);
    assert_int_equal(s.empty_base[0], 1);
    assert_int_equal(s.markers, 2);
    st_aborted_txns_t aborted = txn_test_aborted(log, 0, 7);
    assert_int_equal(aborted.count, 1); /* a batch of TA was met: the entry stays */
    assert_true(aborted.items[0].producer_id == TA);
    st_aborted_txns_free(&aborted);

    /* TA and TC write again later: TA's empty batch is no longer its last. */
    assert_int_equal(txn_test_append(log, ps, TA, 0, 1, 1, 7, "later", true, 10000), 7);
    assert_int_equal(txn_test_marker(log, ps, TA, 0, true, 10000), 8);
    assert_int_equal(test_append(log, 1, 11000, 8, "z", false, 11000), 9);
    /* Pass 2 (segments past the horizon): the empty batch goes, but it
     * was met in this pass, so TA's abort marker stays one more pass. */
    assert_int_equal(st_log_compact_below(log, 20000, INT64_MAX), 0);
    read_all(log, &s);
    assert_int_equal(s.empty_batches, 0);
    assert_int_equal(s.markers, 3);
    /* Pass 3 (after new data): nothing of TA's aborted transaction is
     * left, so its marker and index entry go; TC's commit marker stays
     * with TC's data. */
    assert_int_equal(test_append(log, 1, 12000, 9, "w", false, 12000), 10);
    assert_int_equal(st_log_compact_below(log, 30000, INT64_MAX), 0);
    read_all(log, &s);
    assert_int_equal(s.markers, 2);
    expect_record(&s, 0, 0, "k0", "old-0");
    expect_record(&s, 1, 2, "k1", "commit-0");
    aborted = txn_test_aborted(log, 0, st_log_end_offset(log));
    assert_int_equal(aborted.count, 0);
    st_aborted_txns_free(&aborted);

    /* All of it survives a reopen, and replays to the same producer state. */
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    read_all(log, &s);
    assert_int_equal(s.markers, 2);
    st_producer_state_t *again = st_producer_state_new();
    assert_int_equal(st_txn_log_load_producer_state(log, again, d.part, 0, ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT), 0);
    assert_int_equal(st_producer_state_ongoing_count(again), 0);
    st_producer_info_t info;
    assert_true(st_producer_state_get(again, TA, &info));
    assert_int_equal(info.last_sequence, 1);
    st_producer_state_free(again);
    st_log_close(log);
    st_producer_state_free(ps);
    test_dir_remove(&d);
}

/* A marker whose transaction has no data left waits for delete.retention.ms
 * and the log comes back to it when it is due. */
static void test_marker_waits_for_horizon(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_producer_state_t *ps;
    st_log_t *log = make_txn_log(&d, &cfg, &ps);
    /* Move both producers' last data batches out of seg0. */
    txn_test_append(log, ps, TA, 0, 1, 1, 7, "later", true, 10000);
    txn_test_marker(log, ps, TA, 0, true, 10000);
    txn_test_append(log, ps, TC, 0, 1, 1, 1, "newer", true, 10000);
    txn_test_marker(log, ps, TC, 0, true, 10000);
    test_append(log, 1, 11000, 9, "z", false, 11000);
    /* Pass 1 at 11500: TA's aborted batch and TC's superseded one go; seg1
     * (newest record 2000) is 9500 ms old, past delete.retention.ms 5000,
     * but the markers' batches were met in this pass. */
    assert_int_equal(st_log_compact_below(log, 11500, INT64_MAX), 0);
    seen_t s;
    read_all(log, &s);
    assert_int_equal(s.markers, 4);
    /* Pass 2, right after, with delete.retention.ms now 20000: no batch of
     * either transaction is left, but seg1 (newest record 2000) is only
     * 10500 ms old: both markers stay, and the log notes when they are due. */
    cfg.delete_retention_ms = 20000;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    test_append(log, 1, 12000, 10, "v", false, 12000);
    assert_int_equal(st_log_compact_below(log, 12500, INT64_MAX), 0);
    read_all(log, &s);
    assert_int_equal(s.markers, 4);
    /* Pass 3 at the horizon, with no new data: seg1's markers go, the
     * newer ones stay (they hold their transactions' data). */
    assert_int_equal(st_log_compact_below(log, 22002, INT64_MAX), 0);
    read_all(log, &s);
    assert_int_equal(s.markers, 2);
    st_aborted_txns_t aborted = txn_test_aborted(log, 0, st_log_end_offset(log));
    assert_int_equal(aborted.count, 0);
    st_aborted_txns_free(&aborted);
    st_log_close(log);
    st_producer_state_free(ps);
    test_dir_remove(&d);
}

/* Nothing at or past the first unstable offset is cleaned: an open
 * transaction's record and the value it may yet replace stay. */
static void test_open_transaction_not_cleaned(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_ms = 900;
    cfg.cleanup_delete = false;
    cfg.cleanup_compact = true;
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    st_producer_state_t *ps = st_producer_state_new();
    test_append(log, 1, 1000, 0, "a", false, 1000);                       /* @0 seg0 */
    test_append(log, 1, 1001, 1, "gone", false, 1001);                    /* @1 seg0 */
    test_append(log, 1, 1002, 1, "new", false, 1002);                     /* @2 seg0 */
    txn_test_append(log, ps, TA, 0, 0, 1, 0, "open", true, 2000);         /* @3 seg1, open */
    test_append(log, 1, 3000, 0, "b", false, 3000);                       /* @4 seg2 */
    test_append(log, 1, 4000, 9, "y", false, 4000);                       /* @5 active */
    int64_t first_unstable = st_producer_state_first_unstable_offset(ps);
    assert_int_equal(first_unstable, 3);
    assert_int_equal(st_log_compact_below(log, 5000, first_unstable), 0);
    seen_t s;
    read_all(log, &s);
    /* Only seg0 was cleaned, against its own keys: k1 "gone" went. */
    assert_int_equal(s.count, 5);
    expect_record(&s, 0, 0, "k0", "a-0");
    expect_record(&s, 1, 2, "k1", "new-0");
    expect_record(&s, 2, 3, "k0", "open-0");
    expect_record(&s, 3, 4, "k0", "b-0");
    /* Once it commits, all of it is cleanable. */
    txn_test_marker(log, ps, TA, 0, true, 6000);
    test_append(log, 1, 7000, 8, "z", false, 7000);
    assert_int_equal(st_log_compact_below(log, 8000, INT64_MAX), 0);
    read_all(log, &s);
    expect_record(&s, 0, 2, "k1", "new-0");
    expect_record(&s, 1, 4, "k0", "b-0");
    st_log_close(log);
    st_producer_state_free(ps);
    test_dir_remove(&d);
}

/* A compaction cut short after its .log.swap: the next open puts the
 * cleaned .txnindex in place with it, and, as the segment's other indexes
 * went with the swap, recovers the segment and re-derives its entries from
 * the batches the swapped-in .log holds (here TA's data is still in it);
 * a .txnindex.swap without a .log.swap is dropped. */
static void test_swap_with_txnindex_finished_at_open(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_producer_state_t *ps;
    st_log_t *log = make_txn_log(&d, &cfg, &ps);
    st_log_close(log);
    char seg1_log[ST_FS_PATH_MAX], path[ST_FS_PATH_MAX];
    test_segment_file(seg1_log, &d, 3, ".log");
    size_t len;
    uint8_t *bytes = test_slurp(seg1_log, &len);
    /* The "cleaned" copy: the same bytes, with an index that lost TA. */
    test_segment_file(path, &d, 3, ".log.swap");
    test_spit(path, bytes, len);
    test_segment_file(path, &d, 3, ".txnindex.swap");
    test_spit(path, NULL, 0);
    /* And a stray one for seg2, whose .log.swap never came. */
    test_segment_file(path, &d, 5, ".txnindex.swap");
    test_spit(path, (const uint8_t *)"junk", 4);
    free(bytes);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    st_aborted_txns_t aborted = txn_test_aborted(log, 0, 7);
    assert_int_equal(aborted.count, 1);
    assert_int_equal(aborted.items[0].first_offset, 1);
    assert_int_equal(aborted.items[0].last_stable_offset, 2);
    st_aborted_txns_free(&aborted);
    assert_false(st_fs_exists(path));
    test_segment_file(path, &d, 3, ".txnindex.swap");
    assert_false(st_fs_exists(path));
    test_segment_file(path, &d, 3, ".log.swap");
    assert_false(st_fs_exists(path));
    st_log_close(log);
    st_producer_state_free(ps);
    test_dir_remove(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latest_per_key_and_offsets_kept),
        cmocka_unit_test(test_min_compaction_lag),
        cmocka_unit_test(test_dirty_ratio),
        cmocka_unit_test(test_not_compact_is_noop),
        cmocka_unit_test(test_emptied_segment_and_producer_batch),
        cmocka_unit_test(test_aborted_data_removed_markers_after_horizon),
        cmocka_unit_test(test_marker_waits_for_horizon),
        cmocka_unit_test(test_open_transaction_not_cleaned),
        cmocka_unit_test(test_swap_with_txnindex_finished_at_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
