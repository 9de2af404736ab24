/* Shared segment descriptors: st_log_read_shared hands out references, not
 * dup()s, and a referenced segment's file stays readable after retention
 * deletes it. */
#include <dirent.h>
#include <fcntl.h>

#include "storage_test_util.h"

static int open_fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static void test_file_ref_counts(void **state) {
    (void)state;
    int fds = open_fd_count();
    int fd = dup(0);
    assert_true(fd >= 0);
    st_file_ref_t *ref = st_file_ref_adopt(fd);
    assert_non_null(ref);
    assert_int_equal(st_file_ref_count(ref), 1);
    assert_ptr_equal(st_file_ref_acquire(ref), ref);
    assert_int_equal(st_file_ref_count(ref), 2);
    st_file_ref_release(ref);
    assert_int_equal(fcntl(fd, F_GETFD) >= 0, 1); /* one reference left: still open */
    st_file_ref_release(ref);
    assert_int_equal(open_fd_count(), fds);
    st_file_ref_release(NULL);
}

static void test_shared_reads_cost_no_descriptor(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    test_dir_make(&d);
    test_config(&cfg);
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    for (int b = 0; b < 10; b++) test_append(log, 2, 1000 + b, 0, "r", false, 0);
    int fds = open_fd_count();
    st_log_shared_read_t reads[100];
    for (int i = 0; i < 100; i++) {
        assert_int_equal(st_log_read_shared(log, 0, 1 << 20, true, &reads[i]), 0);
        assert_non_null(reads[i].file);
        assert_true(reads[i].len > 0);
    }
    /* A hundred readers of one segment share its one descriptor. */
    assert_int_equal(open_fd_count(), fds);
    assert_ptr_equal(reads[0].file, reads[99].file);
    for (int i = 0; i < 100; i++) st_file_ref_release(reads[i].file);
    /* At the end offset: nothing to read, no reference. */
    st_log_shared_read_t none;
    assert_int_equal(st_log_read_shared(log, st_log_end_offset(log), 100, true, &none), 0);
    assert_null(none.file);
    assert_int_equal(none.len, 0);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_deleted_segment_stays_readable(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    test_dir_make(&d);
    test_config(&cfg);
    cfg.segment_ms = 999;
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    for (int s = 0; s < 3; s++)
        for (int b = 0; b < 5; b++) test_append(log, 2, 1000 * (s + 1) + b, 0, "r", false, 1000 * (s + 1) + b);
    assert_int_equal(st_log_segment_count(log), 3);
    int fds = open_fd_count();
    st_log_shared_read_t r;
    assert_int_equal(st_log_read_shared(log, 0, 1 << 20, true, &r), 0);
    assert_non_null(r.file);
    uint8_t before[4096];
    assert_true(r.len <= (int32_t)sizeof before);
    assert_int_equal(pread(st_file_ref_fd(r.file), before, (size_t)r.len, r.file_pos), r.len);

    /* Retention deletes the first segment while the read is outstanding. */
    cfg.retention_ms = 10000;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    assert_int_equal(st_log_enforce_retention(log, 12500), 2);
    assert_int_equal(st_log_start_offset(log), 20);
    uint8_t after[4096];
    assert_int_equal(pread(st_file_ref_fd(r.file), after, (size_t)r.len, r.file_pos), r.len);
    assert_memory_equal(before, after, (size_t)r.len);
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(after, (size_t)r.len, &h), 0);
    assert_int_equal(h.base_offset, 0);
    /* The last reference closes the deleted file. */
    st_file_ref_release(r.file);
    assert_true(open_fd_count() < fds);
    st_log_close(log);
    test_dir_remove(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_ref_counts),
        cmocka_unit_test(test_shared_reads_cost_no_descriptor),
        cmocka_unit_test(test_deleted_segment_stays_readable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
