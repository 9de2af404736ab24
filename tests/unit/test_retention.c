/* Retention by time and size, DeleteRecords, and the log start offset. */
#include "storage_test_util.h"

/* Five segments of 10 batches x 2 records; segment s has timestamps
 * 1000*(s+1) + small. */
static st_log_t *make_log(test_dir_t *d, st_log_config_t *cfg) {
    test_dir_make(d);
    test_config(cfg);
    cfg->segment_ms = 999;
    st_log_t *log;
    assert_int_equal(st_log_open(d->part, cfg, 0, &log), 0);
    for (int s = 0; s < 5; s++)
        for (int b = 0; b < 10; b++) test_append(log, 2, 1000 * (s + 1) + b, 0, "r", false, 0);
    assert_int_equal(st_log_segment_count(log), 5);
    assert_int_equal(st_log_active_segment_base(log), 80);
    return log;
}

static void test_retention_by_time(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_log_t *log = make_log(&d, &cfg);
    cfg.retention_ms = 10000;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    /* Segments 0 and 1 have largest timestamps 1009 and 2009. */
    assert_int_equal(st_log_enforce_retention(log, 12500), 2);
    assert_int_equal(st_log_segment_count(log), 3);
    assert_int_equal(st_log_start_offset(log), 40);
    st_log_read_result_t r;
    assert_int_equal(st_log_read(log, 39, 100, true, &r), ST_ERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(st_log_read(log, 40, 100, true, &r), 0);
    close(r.fd);
    assert_int_equal(st_log_enforce_retention(log, 12500), 0);
    /* Everything old: the active segment goes too, behind a fresh one. */
    assert_int_equal(st_log_enforce_retention(log, 100000), 3);
    assert_int_equal(st_log_segment_count(log), 1);
    assert_int_equal(st_log_start_offset(log), 100);
    assert_int_equal(st_log_end_offset(log), 100);
    assert_int_equal(st_log_size_bytes(log), 0);
    assert_int_equal(st_log_enforce_retention(log, 200000), 0);
    assert_int_equal(test_append(log, 1, 300000, 0, "new", false, 300000), 100);
    /* The start offset survives a reopen. */
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(st_log_start_offset(log), 100);
    assert_int_equal(st_log_end_offset(log), 101);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_retention_by_bytes(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_log_t *log = make_log(&d, &cfg);
    int64_t total = st_log_size_bytes(log);
    int64_t per_segment = total / 5;
    cfg.retention_bytes = total - per_segment * 2; /* two segments must go */
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    assert_int_equal(st_log_enforce_retention(log, 0), 2);
    assert_int_equal(st_log_start_offset(log), 40);
    assert_true(st_log_size_bytes(log) <= cfg.retention_bytes);
    /* Just below what one more segment would need: nothing goes. */
    cfg.retention_bytes = st_log_size_bytes(log) - per_segment + 1;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    assert_int_equal(st_log_enforce_retention(log, 0), 0);
    cfg.retention_bytes = 0;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    assert_int_equal(st_log_enforce_retention(log, 0), 3);
    assert_int_equal(st_log_segment_count(log), 1);
    assert_int_equal(st_log_start_offset(log), 100);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_compact_only_keeps_old_segments(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_log_t *log = make_log(&d, &cfg);
    cfg.retention_ms = 1;
    cfg.retention_bytes = 1;
    cfg.cleanup_delete = false;
    cfg.cleanup_compact = true;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    assert_int_equal(st_log_enforce_retention(log, 1000000), 0);
    assert_int_equal(st_log_segment_count(log), 5);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_delete_records(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    st_log_t *log = make_log(&d, &cfg);
    assert_int_equal(st_log_delete_records(log, 101), ST_ERR_OFFSET_OUT_OF_RANGE);
    /* Inside segment 1 (20..39), in the middle of a batch. */
    assert_int_equal(st_log_delete_records(log, 25), 0);
    assert_int_equal(st_log_start_offset(log), 25);
    assert_int_equal(st_log_segment_count(log), 4);
    st_log_read_result_t r;
    assert_int_equal(st_log_read(log, 24, 100, true, &r), ST_ERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(st_log_read(log, 25, 1, true, &r), 0);
    st_batch_header_t h;
    test_read_header(&r, &h);
    assert_int_equal(h.base_offset, 24);
    close(r.fd);
    /* Backwards is a no-op. */
    assert_int_equal(st_log_delete_records(log, 10), 0);
    assert_int_equal(st_log_start_offset(log), 25);
    int64_t off, ts;
    assert_int_equal(st_log_offset_for_timestamp(log, 0, &off, &ts), 0);
    assert_int_equal(off, 25);
    /* Persisted. */
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(st_log_start_offset(log), 25);
    assert_int_equal(st_log_segment_count(log), 4);
    /* Up to the end: every segment with data goes. */
    assert_int_equal(st_log_delete_records(log, 100), 0);
    assert_int_equal(st_log_start_offset(log), 100);
    assert_int_equal(st_log_segment_count(log), 1);
    assert_int_equal(st_log_size_bytes(log), 0);
    assert_int_equal(test_append(log, 1, 0, 0, "x", false, 0), 100);
    st_log_close(log);
    test_dir_remove(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retention_by_time),
        cmocka_unit_test(test_retention_by_bytes),
        cmocka_unit_test(test_compact_only_keeps_old_segments),
        cmocka_unit_test(test_delete_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
