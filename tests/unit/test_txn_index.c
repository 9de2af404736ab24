/* Unit tests for storage/txn_index: the file layout (Kafka's AbortedTxn),
 * append, load and its checks, truncation, reset, flush, and the
 * collection Fetch uses (overlap and the early stop on the LSO); then the
 * index inside a log: markers written through storage/txn_log, the
 * collection across segments, and the files going with their segments
 * (retention, DeleteRecords, truncation, orphans at open). */
#include <dirent.h>
#include <fcntl.h>

#include "storage/txn_index.h"
#include "txn_test_util.h"

#define BASE 100

static char dir_buf[64];

static const char *make_dir(void) {
    strcpy(dir_buf, "/tmp/strata-txnindex-XXXXXX");
    assert_non_null(mkdtemp(dir_buf));
    return dir_buf;
}

static void index_path(char *out, size_t cap, int64_t base) {
    snprintf(out, cap, "%s/%020lld.txnindex", dir_buf, (long long)base);
}

static off_t file_size(int64_t base) {
    char path[256];
    index_path(path, sizeof path, base);
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static st_aborted_txn_t txn(int64_t pid, int64_t first, int64_t last, int64_t lso) {
    return (st_aborted_txn_t){.producer_id = pid, .first_offset = first, .last_offset = last, .last_stable_offset = lso};
}

static void test_append_writes_kafka_layout(void **state) {
    (void)state;
    const char *dir = make_dir();
    st_txn_index_t ix;
    st_txn_index_init(&ix, dir, BASE);
    assert_int_equal(file_size(BASE), -1); /* created at the first entry */
    st_aborted_txn_t e = txn(0x0102030405060708LL, 100, 110, 111);
    assert_int_equal(st_txn_index_append(&ix, &e), 0);
    assert_int_equal(file_size(BASE), ST_TXN_INDEX_ENTRY_BYTES);
    char path[256];
    index_path(path, sizeof path, BASE);
    uint8_t buf[64];
    int fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, buf, sizeof buf), ST_TXN_INDEX_ENTRY_BYTES);
    close(fd);
    const uint8_t want[ST_TXN_INDEX_ENTRY_BYTES] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 100,
                                                    0, 0, 0, 0, 0, 0, 0, 110, 0, 0, 0, 0, 0, 0, 0, 111};
    assert_memory_equal(buf, want, sizeof want);
    assert_int_equal(st_txn_index_flush(&ix), 0);
    assert_int_equal(st_txn_index_flush(&ix), 0); /* nothing to do */

    e = txn(9, 105, 120, 106);
    assert_int_equal(st_txn_index_append(&ix, &e), 0);
    assert_int_equal(st_txn_index_count(&ix), 2);
    assert_int_equal(file_size(BASE), 2 * ST_TXN_INDEX_ENTRY_BYTES);

    st_txn_index_t again;
    st_txn_index_init(&again, dir, BASE);
    const char *problem = "x";
    assert_int_equal(st_txn_index_load(&again, 200, 1 << 20, &problem), 0);
    assert_null(problem);
    assert_int_equal(st_txn_index_count(&again), 2);
    assert_true(st_txn_index_entry(&again, 0)->producer_id == 0x0102030405060708LL);
    assert_int_equal(st_txn_index_entry(&again, 1)->first_offset, 105);
    assert_int_equal(st_txn_index_entry(&again, 1)->last_stable_offset, 106);
    st_txn_index_free(&again);

    assert_int_equal(st_txn_index_reset(&ix), 0);
    assert_int_equal(st_txn_index_count(&ix), 0);
    assert_int_equal(file_size(BASE), -1);
    assert_int_equal(st_txn_index_flush(&ix), 0);
    st_txn_index_free(&ix);
    st_fs_remove_dir(dir);
}

static void test_truncate_drops_markers_at_or_past(void **state) {
    (void)state;
    const char *dir = make_dir();
    st_txn_index_t ix;
    st_txn_index_init(&ix, dir, BASE);
    for (int i = 0; i < 5; i++) {
        st_aborted_txn_t e = txn(i, BASE + 10 * i, BASE + 10 * i + 5, BASE + 10 * i + 6);
        assert_int_equal(st_txn_index_append(&ix, &e), 0);
    }
    assert_int_equal(st_txn_index_truncate_to(&ix, BASE + 100), 0); /* nothing past */
    assert_int_equal(st_txn_index_count(&ix), 5);
    assert_int_equal(st_txn_index_truncate_to(&ix, BASE + 25), 0); /* the marker at 125 goes */
    assert_int_equal(st_txn_index_count(&ix), 2);
    assert_int_equal(file_size(BASE), 2 * ST_TXN_INDEX_ENTRY_BYTES);
    /* Appending goes on after the cut. */
    st_aborted_txn_t e = txn(7, BASE + 20, BASE + 21, BASE + 22);
    assert_int_equal(st_txn_index_append(&ix, &e), 0);
    assert_int_equal(file_size(BASE), 3 * ST_TXN_INDEX_ENTRY_BYTES);
    assert_int_equal(st_txn_index_truncate_to(&ix, BASE), 0);
    assert_int_equal(st_txn_index_count(&ix), 0);
    assert_int_equal(file_size(BASE), -1);
    st_txn_index_free(&ix);
    st_fs_remove_dir(dir);
}

static void write_raw(int64_t base, const uint8_t *bytes, size_t len) {
    char path[256];
    index_path(path, sizeof path, base);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    close(fd);
}

static void put_entry(uint8_t *p, int16_t version, int64_t pid, int64_t first, int64_t last, int64_t lso) {
    st_put_i16be(p, version);
    st_put_i64be(p + 2, pid);
    st_put_i64be(p + 10, first);
    st_put_i64be(p + 18, last);
    st_put_i64be(p + 26, lso);
}

/* Nothing in the file is trusted: every broken entry is reported. */
static void test_load_checks_every_entry(void **state) {
    (void)state;
    const char *dir = make_dir();
    st_txn_index_t ix;
    st_txn_index_init(&ix, dir, BASE);
    const char *problem;
    assert_int_equal(st_txn_index_load(&ix, 200, 1 << 20, &problem), 0); /* missing: empty */
    assert_int_equal(st_txn_index_count(&ix), 0);

    uint8_t two[2 * ST_TXN_INDEX_ENTRY_BYTES];
    struct {
        int16_t version;
        int64_t pid, first, last, lso;
        int64_t pid2, first2, last2;
    } bad[] = {
        {1, 1, 100, 105, 106, 2, 110, 115},  /* unknown version */
        {0, -1, 100, 105, 106, 2, 110, 115}, /* negative producer id */
        {0, 1, 106, 105, 106, 2, 110, 115},  /* first past the marker */
        {0, 1, 90, 99, 100, 2, 110, 115},    /* marker below the base */
        {0, 1, 100, 105, 106, 2, 110, 200},  /* marker past the segment */
        {0, 1, 100, 110, 111, 2, 105, 110},  /* markers not increasing */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put_entry(two, bad[i].version, bad[i].pid, bad[i].first, bad[i].last, bad[i].lso);
        put_entry(two + ST_TXN_INDEX_ENTRY_BYTES, 0, bad[i].pid2, bad[i].first2, bad[i].last2, bad[i].last2 + 1);
        write_raw(BASE, two, sizeof two);
        problem = NULL;
        assert_int_equal(st_txn_index_load(&ix, 200, 1 << 20, &problem), ST_ERR_CORRUPT);
        assert_non_null(problem);
        assert_int_equal(st_txn_index_count(&ix), 0);
    }
    /* Not whole entries. */
    put_entry(two, 0, 1, 100, 105, 106);
    write_raw(BASE, two, ST_TXN_INDEX_ENTRY_BYTES + 3);
    assert_int_equal(st_txn_index_load(&ix, 200, 1 << 20, &problem), ST_ERR_CORRUPT);
    /* More entries than the .log could hold markers for. */
    put_entry(two + ST_TXN_INDEX_ENTRY_BYTES, 0, 2, 110, 115, 116);
    write_raw(BASE, two, sizeof two);
    assert_int_equal(st_txn_index_load(&ix, 200, 61, &problem), ST_ERR_CORRUPT);
    assert_int_equal(st_txn_index_load(&ix, 200, 2 * 61, &problem), 0);
    assert_int_equal(st_txn_index_count(&ix), 2);
    /* A reset removes a file that failed to load. */
    write_raw(BASE, two, 5);
    assert_int_equal(st_txn_index_load(&ix, 200, 1 << 20, &problem), ST_ERR_CORRUPT);
    assert_int_equal(st_txn_index_reset(&ix), 0);
    assert_int_equal(file_size(BASE), -1);
    st_txn_index_free(&ix);
    st_fs_remove_dir(dir);
}

/* Kafka's collectAbortedTxns: overlap with [fetch, upper), and a stop at the
 * first entry whose LSO reaches the upper bound. */
static void test_collect(void **state) {
    (void)state;
    const char *dir = make_dir();
    st_txn_index_t ix;
    st_txn_index_init(&ix, dir, BASE);
    /* A [100, 110] with B open at 105 (LSO after A: 105); B [105, 120]; C [130, 140]. */
    st_aborted_txn_t entries[] = {txn(1, 100, 110, 105), txn(2, 105, 120, 121), txn(3, 130, 140, 141)};
    for (int i = 0; i < 3; i++) assert_int_equal(st_txn_index_append(&ix, &entries[i]), 0);

    st_aborted_txns_t out = {0};
    /* Everything: not complete, later segments could still overlap. */
    assert_int_equal(st_txn_index_collect(&ix, 100, 1000, &out), 0);
    assert_int_equal(out.count, 3);
    st_aborted_txns_free(&out);
    /* [111, 125): A ended before; B overlaps; B's LSO 121 < 125, C does
     * not overlap but its LSO ends the search. */
    assert_int_equal(st_txn_index_collect(&ix, 111, 125, &out), 1);
    assert_int_equal(out.count, 1);
    assert_true(out.items[0].producer_id == 2);
    st_aborted_txns_free(&out);
    /* [100, 104): A overlaps, its LSO 105 >= 104 stops the search. */
    assert_int_equal(st_txn_index_collect(&ix, 100, 104, &out), 1);
    assert_int_equal(out.count, 1);
    assert_true(out.items[0].producer_id == 1);
    st_aborted_txns_free(&out);
    /* [141, 150): nothing. */
    assert_int_equal(st_txn_index_collect(&ix, 141, 150, &out), 0);
    assert_int_equal(out.count, 0);
    st_aborted_txns_free(&out);
    st_txn_index_free(&ix);
    st_fs_remove_dir(dir);
}

static void test_write_file(void **state) {
    (void)state;
    const char *dir = make_dir();
    char path[256];
    index_path(path, sizeof path, BASE);
    st_aborted_txn_t entries[] = {txn(1, 100, 110, 111), txn(2, 111, 112, 113)};
    assert_int_equal(st_txn_index_write_file(path, entries, 2), 0);
    st_txn_index_t ix;
    st_txn_index_init(&ix, dir, BASE);
    const char *problem;
    assert_int_equal(st_txn_index_load(&ix, 200, 1 << 20, &problem), 0);
    assert_int_equal(st_txn_index_count(&ix), 2);
    assert_int_equal(st_txn_index_entry(&ix, 1)->last_offset, 112);
    st_txn_index_free(&ix);
    assert_int_equal(st_txn_index_write_file("/nonexistent/strata/x.txnindex", entries, 2), ST_ERR_IO);
    /* An append that cannot write (no directory) changes nothing. */
    st_txn_index_t lost;
    st_txn_index_init(&lost, "/nonexistent/strata", BASE);
    assert_int_equal(st_txn_index_append(&lost, &entries[0]), ST_ERR_IO);
    assert_int_equal(st_txn_index_count(&lost), 0);
    st_txn_index_free(&lost);
    st_fs_remove_dir(dir);
}


/* ---- inside a log ---- */

#define P1 101
#define P2 102
#define P3 103

static int count_txnindex_files(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 9 && strcmp(de->d_name + l - 9, ".txnindex") == 0) n++;
    }
    closedir(d);
    return n;
}

/* Three producers across several segments; P1 and P3 abort, P2 commits.
 * Returns the log; *ps is its producer state. */
static st_log_t *txn_log_make(test_dir_t *d, st_log_config_t *cfg, st_producer_state_t **ps, int64_t offsets[8]) {
    test_dir_make(d);
    test_config(cfg);
    cfg->segment_bytes = 300; /* a few batches a segment */
    st_log_t *log;
    assert_int_equal(st_log_open(d->part, cfg, 0, &log), 0);
    *ps = st_producer_state_new();
    offsets[0] = txn_test_append(log, *ps, P1, 0, 0, 3, 0, "p1", true, 1);  /* P1 opens */
    offsets[1] = txn_test_append(log, *ps, P2, 0, 0, 3, 10, "p2", true, 1); /* P2 opens */
    offsets[2] = txn_test_append(log, *ps, P1, 0, 3, 3, 20, "p1", true, 1);
    offsets[3] = txn_test_marker(log, *ps, P1, 0, false, 1); /* P1 aborts, P2 still open */
    offsets[4] = txn_test_append(log, *ps, P3, 0, 0, 3, 30, "p3", true, 1); /* P3 opens */
    offsets[5] = txn_test_marker(log, *ps, P2, 0, true, 1);                 /* P2 commits */
    offsets[6] = txn_test_append(log, *ps, P3, 0, 3, 3, 40, "p3", true, 1);
    offsets[7] = txn_test_marker(log, *ps, P3, 0, false, 1); /* P3 aborts */
    assert_true(st_log_segment_count(log) >= 3);
    return log;
}

static void test_log_markers_indexed_and_collected(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_producer_state_t *ps;
    int64_t at[8];
    st_log_t *log = txn_log_make(&d, &cfg, &ps, at);
    int64_t end = st_log_end_offset(log);
    assert_int_equal(st_producer_state_last_stable_offset(ps, 0, end), end);

    st_aborted_txns_t all = txn_test_aborted(log, 0, end);
    assert_int_equal(all.count, 2);
    assert_true(all.items[0].producer_id == P1);
    assert_int_equal(all.items[0].first_offset, at[0]);
    assert_int_equal(all.items[0].last_offset, at[3]);
    assert_int_equal(all.items[0].last_stable_offset, at[1]); /* P2 was open */
    assert_true(all.items[1].producer_id == P3);
    assert_int_equal(all.items[1].first_offset, at[4]);
    assert_int_equal(all.items[1].last_stable_offset, at[7] + 1);
    st_aborted_txns_free(&all);
    /* A fetch of P2's committed data only: P1's abort overlaps it. */
    st_aborted_txns_t some = txn_test_aborted(log, at[1], at[2]);
    assert_int_equal(some.count, 1);
    assert_true(some.items[0].producer_id == P1);
    st_aborted_txns_free(&some);
    /* A fetch past P3's marker: nothing. */
    st_aborted_txns_t none = txn_test_aborted(log, at[7] + 1, end + 10);
    assert_int_equal(none.count, 0);
    st_aborted_txns_free(&none);
    assert_int_equal(count_txnindex_files(d.part), 2);

    /* A clean close and open keeps the indexes as they are. */
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    all = txn_test_aborted(log, 0, end);
    assert_int_equal(all.count, 2);
    assert_int_equal(all.items[0].last_stable_offset, at[1]);
    st_aborted_txns_free(&all);
    st_log_close(log);
    st_producer_state_free(ps);
    test_dir_remove(&d);
}

static void test_log_marker_checks_write_nothing(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    st_producer_state_t *ps = st_producer_state_new();
    txn_test_append(log, ps, P1, 3, 0, 2, 0, "p1", true, 1);
    int64_t end = st_log_end_offset(log);
    st_txn_marker_t m = {.commit = false, .coordinator_epoch = 5};
    st_txn_marker_result_t r;
    assert_int_equal(st_txn_log_write_marker(log, ps, P1, 2, &m, 0, 0, 1, &r), ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(st_log_end_offset(log), end);
    assert_int_equal(st_txn_log_write_marker(log, ps, P1, 3, &m, 0, 0, 1, &r), 0);
    assert_true(r.completed && r.txn.aborted);
    st_txn_marker_t stale = {.commit = true, .coordinator_epoch = 4};
    assert_int_equal(st_txn_log_write_marker(log, ps, P1, 3, &stale, 0, 0, 1, &r),
                     ST_ERR_TRANSACTION_COORDINATOR_FENCED);
    assert_int_equal(st_log_end_offset(log), end + 1);
    st_aborted_txns_t all = txn_test_aborted(log, 0, end + 1);
    assert_int_equal(all.count, 1);
    st_aborted_txns_free(&all);
    st_log_close(log);
    st_producer_state_free(ps);
    test_dir_remove(&d);
}

static void test_log_txnindex_goes_with_its_segment(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_producer_state_t *ps;
    int64_t at[8];
    st_log_t *log = txn_log_make(&d, &cfg, &ps, at);
    int64_t end = st_log_end_offset(log);
    /* Truncation past P3's marker drops its entry (and a file with it). */
    assert_int_equal(st_log_truncate_to(log, at[7]), 0);
    st_aborted_txns_t all = txn_test_aborted(log, 0, end);
    assert_int_equal(all.count, 1);
    st_aborted_txns_free(&all);
    assert_int_equal(count_txnindex_files(d.part), 1);
    /* DeleteRecords of everything deletes P1's segment and its index. */
    assert_int_equal(st_log_delete_records(log, at[7]), 0);
    assert_int_equal(count_txnindex_files(d.part), 0);
    all = txn_test_aborted(log, at[7], end);
    assert_int_equal(all.count, 0);
    st_aborted_txns_free(&all);
    st_log_close(log);
    st_producer_state_free(ps);
    test_dir_remove(&d);

    /* Retention by bytes deletes whole segments, indexes included. */
    log = txn_log_make(&d, &cfg, &ps, at);
    cfg.cleanup_delete = true;
    cfg.retention_bytes = 1;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    assert_true(st_log_enforce_retention(log, 1) > 0);
    /* The active segment stays, with P3's marker; P1's went. */
    assert_true(st_log_start_offset(log) > at[3]);
    all = txn_test_aborted(log, 0, st_log_end_offset(log));
    assert_int_equal(count_txnindex_files(d.part), all.count);
    for (int32_t i = 0; i < all.count; i++) assert_true(all.items[i].producer_id == P3);
    st_aborted_txns_free(&all);
    st_log_close(log);
    /* An index left without its .log (a deletion cut short) goes at open. */
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/%020d.txnindex", d.part, 7);
    test_spit(path, (const uint8_t *)"x", 1);
    snprintf(path, sizeof path, "%s/%020d.txnindex.swap", d.part, 7);
    test_spit(path, (const uint8_t *)"x", 1);
    int before = count_txnindex_files(d.part);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(count_txnindex_files(d.part), before - 1);
    assert_false(st_fs_exists(path));
    st_log_close(log);
    st_producer_state_free(ps);
    test_dir_remove(&d);
}

/* A cleanly closed active segment whose .txnindex names a marker past the
 * segment's end (written after the .log: the clean marker does not vouch
 * for it): the open rebuilds the index from the batches, and appends go on. */
static void test_log_active_index_past_end_rebuilt(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    st_producer_state_t *ps = st_producer_state_new();
    txn_test_append(log, ps, P1, 0, 0, 2, 0, "p1", true, 1);
    int64_t marker = txn_test_marker(log, ps, P1, 0, false, 1);
    int64_t end = st_log_end_offset(log);
    st_log_close(log);
    uint8_t entry[ST_TXN_INDEX_ENTRY_BYTES];
    put_entry(entry, 0, P1, 0, end + 100, end + 101);
    char path[ST_FS_PATH_MAX];
    test_segment_file(path, &d, 0, ".txnindex");
    test_spit(path, entry, sizeof entry);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    st_aborted_txns_t all = txn_test_aborted(log, 0, end);
    assert_int_equal(all.count, 1);
    assert_int_equal(all.items[0].last_offset, marker);
    st_aborted_txns_free(&all);
    st_producer_state_t *again = st_producer_state_new();
    assert_int_equal(st_txn_log_load_producer_state(log, again, d.part, 1, ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT), 0);
    txn_test_append(log, again, P1, 0, 2, 1, 5, "p1", true, 1);
    txn_test_marker(log, again, P1, 0, false, 1);
    all = txn_test_aborted(log, 0, st_log_end_offset(log));
    assert_int_equal(all.count, 2);
    st_aborted_txns_free(&all);
    st_log_close(log);
    st_producer_state_free(again);
    st_producer_state_free(ps);
    test_dir_remove(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_writes_kafka_layout),
        cmocka_unit_test(test_truncate_drops_markers_at_or_past),
        cmocka_unit_test(test_load_checks_every_entry),
        cmocka_unit_test(test_collect),
        cmocka_unit_test(test_write_file),
        cmocka_unit_test(test_log_markers_indexed_and_collected),
        cmocka_unit_test(test_log_marker_checks_write_nothing),
        cmocka_unit_test(test_log_txnindex_goes_with_its_segment),
        cmocka_unit_test(test_log_active_index_past_end_rebuilt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
