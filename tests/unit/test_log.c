/* st_log: appends, offsets, reads through the sparse index and across
 * segments, rolling, timestamps, leader epochs, reopening, a full disk. */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "storage_test_util.h"

static void test_append_assigns_offsets_and_reads(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 1000, &log), 0);
    assert_int_equal(st_log_end_offset(log), 0);
    st_log_read_result_t r;
    assert_int_equal(st_log_read(log, 0, 1000, true, &r), 0);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.fd, -1);

    for (int i = 0; i < 50; i++) assert_int_equal(test_append(log, 5, 1000 + i, 0, "v", false, 1000), i * 5);
    assert_int_equal(st_log_end_offset(log), 250);

    /* Every offset returns the whole batch that holds it. */
    for (int64_t off = 0; off < 250; off++) {
        assert_int_equal(st_log_read(log, off, 1, true, &r), 0);
        st_batch_header_t h;
        test_read_header(&r, &h);
        assert_int_equal(h.base_offset, off / 5 * 5);
        assert_int_equal(st_batch_last_offset(&h), off / 5 * 5 + 4);
        assert_int_equal(h.partition_leader_epoch, 1);
        assert_int_equal(r.len, st_batch_total_bytes(&h)); /* max_bytes 1: only the first batch */
        close(r.fd);
    }
    /* Without min_one_batch, a batch larger than max_bytes gives nothing. */
    assert_int_equal(st_log_read(log, 7, 10, false, &r), 0);
    assert_int_equal(r.len, 0);
    /* max_bytes bounds whole batches. */
    assert_int_equal(st_log_read(log, 0, 1 << 20, false, &r), 0);
    assert_int_equal(r.len, st_log_size_bytes(log));
    close(r.fd);
    assert_int_equal(st_log_read(log, 250, 100, true, &r), 0);
    assert_int_equal(r.len, 0);
    assert_int_equal(st_log_read(log, 251, 100, true, &r), ST_ERR_OFFSET_OUT_OF_RANGE);
    assert_int_equal(st_log_read(log, -1, 100, true, &r), ST_ERR_OFFSET_OUT_OF_RANGE);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_roll_by_bytes_and_read_across_segments(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_bytes = 1000;
    int rolls = 0;
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    for (int i = 0; i < 60; i++) test_append(log, 3, 100 + i, 0, "value", false, 0);
    int32_t segments = st_log_segment_count(log);
    assert_true(segments > 5);
    (void)rolls;
    /* Each segment stays under segment_bytes and files are named by base. */
    char path[ST_FS_PATH_MAX];
    test_segment_file(path, &d, 0, ".log");
    assert_true(test_file_size(path) <= 1000);
    /* Every offset reads correctly, including ones in a segment's last batch. */
    int64_t prev_pos_end = -1;
    for (int64_t off = 0; off < 180; off++) {
        st_log_read_result_t r;
        assert_int_equal(st_log_read(log, off, 1 << 20, false, &r), 0);
        st_batch_header_t h;
        test_read_header(&r, &h);
        assert_int_equal(h.base_offset, off / 3 * 3);
        /* One segment only: the range ends within the file. */
        assert_true(r.len <= 1000);
        close(r.fd);
        (void)prev_pos_end;
    }
    /* Reopen (clean) and read again. */
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(st_log_segment_count(log), segments);
    assert_int_equal(st_log_end_offset(log), 180);
    st_log_read_result_t r;
    assert_int_equal(st_log_read(log, 100, 1, true, &r), 0);
    st_batch_header_t h;
    test_read_header(&r, &h);
    assert_int_equal(h.base_offset, 99);
    close(r.fd);
    assert_int_equal(test_append(log, 1, 5000, 0, "x", false, 0), 180);
    st_log_close(log);
    test_dir_remove(&d);
}

static void on_roll(void *ctx, int64_t base) {
    int64_t *last = ctx;
    *last = base;
}

static void test_roll_by_time(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_ms = 1000;
    int64_t rolled_at = -1;
    cfg.on_roll = on_roll;
    cfg.on_roll_ctx = &rolled_at;
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    test_append(log, 2, 10000, 0, "a", false, 10000);
    test_append(log, 2, 10500, 0, "a", false, 10500);
    assert_int_equal(st_log_segment_count(log), 1);
    /* Message time more than segment_ms after the first batch. */
    test_append(log, 2, 11001, 0, "a", false, 11001);
    assert_int_equal(st_log_segment_count(log), 2);
    assert_int_equal(rolled_at, 4);
    assert_int_equal(st_log_active_segment_base(log), 4);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_index_is_sparse_and_used(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.index_interval_bytes = 300;
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    for (int i = 0; i < 40; i++) test_append(log, 4, i, 0, "vv", false, 0);
    st_log_close(log);
    /* Closed: the index is trimmed to its entries, about one per 300 bytes. */
    char path[ST_FS_PATH_MAX];
    test_segment_file(path, &d, 0, ".index");
    int64_t index_bytes = test_file_size(path);
    test_segment_file(path, &d, 0, ".log");
    int64_t log_bytes = test_file_size(path);
    assert_true(index_bytes > 0 && index_bytes % 8 == 0);
    assert_true(index_bytes / 8 <= log_bytes / 300 + 1);
    test_segment_file(path, &d, 0, ".timeindex");
    assert_true(test_file_size(path) % 12 == 0 && test_file_size(path) > 0);
    test_dir_remove(&d);
}

static void test_offset_for_timestamp_and_max(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_bytes = 600;
    st_log_t *log;
    int64_t off, ts;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(st_log_max_timestamp(log, &off, &ts), ST_ERR_NOT_FOUND);
    assert_int_equal(st_log_offset_for_timestamp(log, 0, &off, &ts), ST_ERR_NOT_FOUND);
    /* Batch i holds offsets 3i..3i+2 with timestamps 1000+10i .. +2. */
    for (int i = 0; i < 40; i++) test_append(log, 3, 1000 + 10 * i, 0, "t", false, 0);
    assert_true(st_log_segment_count(log) > 2);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(st_log_offset_for_timestamp(log, 1000 + 10 * i, &off, &ts), 0);
        assert_int_equal(off, 3 * i);
        assert_int_equal(ts, 1000 + 10 * i);
        assert_int_equal(st_log_offset_for_timestamp(log, 1000 + 10 * i + 2, &off, &ts), 0);
        assert_int_equal(off, 3 * i + 2);
        /* Between batches: the first record of the next batch. */
        assert_int_equal(st_log_offset_for_timestamp(log, 1000 + 10 * i + 5, &off, &ts), i == 39 ? ST_ERR_NOT_FOUND : 0);
        if (i < 39) assert_int_equal(off, 3 * (i + 1));
    }
    assert_int_equal(st_log_offset_for_timestamp(log, 0, &off, &ts), 0);
    assert_int_equal(off, 0);
    assert_int_equal(st_log_max_timestamp(log, &off, &ts), 0);
    assert_int_equal(off, 119);
    assert_int_equal(ts, 1392);
    /* An out-of-order batch: the max is found inside it. */
    test_append(log, 3, 5000, 0, "late", false, 0); /* offsets 120..122, ts 5000..5002 */
    test_append(log, 1, 2000, 0, "old", false, 0);
    assert_int_equal(st_log_max_timestamp(log, &off, &ts), 0);
    assert_int_equal(off, 122);
    assert_int_equal(ts, 5002);
    assert_int_equal(st_log_offset_for_timestamp(log, 4000, &off, &ts), 0);
    assert_int_equal(off, 120);
    /* Same answers after a reopen (time indexes from disk). */
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(st_log_offset_for_timestamp(log, 1205, &off, &ts), 0);
    assert_int_equal(off, 63);
    assert_int_equal(st_log_max_timestamp(log, &off, &ts), 0);
    assert_int_equal(off, 122);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_log_append_time(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    st_writer_t w;
    st_writer_init(&w, 256);
    test_build_batch(&w, 2, 5, 0, "x", false, -1);
    st_log_append_result_t res;
    assert_int_equal(st_log_append(log, w.data, w.len, 3, 777, true, &res), 0);
    assert_int_equal(res.log_append_time_ms, 777);
    st_writer_free(&w);
    st_log_read_result_t r;
    assert_int_equal(st_log_read(log, 0, 1000, true, &r), 0);
    uint8_t buf[4096];
    assert_int_equal(pread(r.fd, buf, (size_t)r.len, r.file_pos), r.len);
    close(r.fd);
    assert_true(st_batch_crc_valid(buf, (size_t)r.len));
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(buf, (size_t)r.len, &h), 0);
    assert_int_equal(h.max_timestamp, 777);
    int64_t off, ts;
    assert_int_equal(st_log_offset_for_timestamp(log, 700, &off, &ts), 0);
    assert_int_equal(off, 0);
    assert_int_equal(ts, 777);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_bad_framing_rejected(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    st_writer_t w;
    st_writer_init(&w, 256);
    test_build_batch(&w, 2, 5, 0, "x", false, -1);
    st_log_append_result_t res;
    assert_int_equal(st_log_append(log, w.data, w.len - 1, 0, 0, false, &res), ST_ERR_CORRUPT_MESSAGE);
    assert_int_equal(st_log_append(log, w.data, 0, 0, 0, false, &res), ST_ERR_CORRUPT_MESSAGE);
    assert_int_equal(st_log_end_offset(log), 0);
    /* Two batches in one call. */
    test_build_batch(&w, 3, 5, 0, "y", false, -1);
    assert_int_equal(st_log_append(log, w.data, w.len, 0, 0, false, &res), 0);
    assert_int_equal(res.base_offset, 0);
    assert_int_equal(res.last_offset, 4);
    st_writer_free(&w);
    st_log_close(log);
    test_dir_remove(&d);
}

static int count_batches(void *ctx, const uint8_t *batch, size_t len) {
    int64_t *n = ctx;
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(batch, len, &h), 0);
    assert_true(st_batch_crc_valid(batch, len));
    (*n)++;
    return 0;
}

static void test_for_each_batch(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_bytes = 500;
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    for (int i = 0; i < 30; i++) test_append(log, 2, i, 0, "z", false, 0);
    int64_t n = 0;
    assert_int_equal(st_log_for_each_batch(log, 0, count_batches, &n), 0);
    assert_int_equal(n, 30);
    n = 0;
    assert_int_equal(st_log_for_each_batch(log, 41, count_batches, &n), 0);
    assert_int_equal(n, 10); /* from the batch holding 40..41 */
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_leader_epochs(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    st_log_t *log;
    int32_t e;
    int64_t end;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    st_log_end_offset_for_epoch(log, 0, &e, &end);
    assert_int_equal(e, -1);
    assert_int_equal(end, -1);
    /* Appends with epoch 1 record it at offset 0 (Kafka does on append). */
    test_append(log, 5, 0, 0, "a", false, 0);
    assert_int_equal(st_log_assign_epoch(log, 3, 5), 0);
    st_writer_t w;
    st_writer_init(&w, 256);
    test_build_batch(&w, 5, 0, 0, "b", false, -1);
    st_log_append_result_t res;
    assert_int_equal(st_log_append(log, w.data, w.len, 3, 0, false, &res), 0);
    st_writer_reset(&w);
    test_build_batch(&w, 5, 0, 0, "c", false, -1);
    assert_int_equal(st_log_append(log, w.data, w.len, 5, 0, false, &res), 0);
    st_writer_free(&w);
    assert_int_equal(st_log_latest_epoch(log), 5);
    st_log_end_offset_for_epoch(log, 1, &e, &end);
    assert_int_equal(e, 1);
    assert_int_equal(end, 5);
    st_log_end_offset_for_epoch(log, 2, &e, &end); /* unknown: largest <= 2 is 1 */
    assert_int_equal(e, 1);
    assert_int_equal(end, 5);
    st_log_end_offset_for_epoch(log, 3, &e, &end);
    assert_int_equal(e, 3);
    assert_int_equal(end, 10);
    st_log_end_offset_for_epoch(log, 5, &e, &end);
    assert_int_equal(e, 5);
    assert_int_equal(end, 15);
    st_log_end_offset_for_epoch(log, 9, &e, &end);
    assert_int_equal(e, -1);
    assert_int_equal(end, -1);
    st_log_end_offset_for_epoch(log, 0, &e, &end); /* below all: Kafka answers the first start */
    assert_int_equal(e, 0);
    assert_int_equal(end, 0);

    /* Checkpoint file: Kafka's text format, written with the recovery
     * point (here by the flush), not at each new epoch. */
    assert_int_equal(st_log_flush(log), 0);
    char path[ST_FS_PATH_MAX], text[256];
    snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", d.part);
    size_t len;
    assert_int_equal(st_fs_read_small(path, text, sizeof text, &len), 0);
    assert_string_equal(text, "0\n3\n1 0\n3 5\n5 10\n");

    /* Round trip through a reopen (unclean: no close). */
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    st_log_end_offset_for_epoch(log, 3, &e, &end);
    assert_int_equal(e, 3);
    assert_int_equal(end, 10);
    /* Truncation drops epochs that start at or after the new end. */
    assert_int_equal(st_log_truncate_to(log, 8), 0);
    assert_int_equal(st_log_end_offset(log), 8);
    assert_int_equal(st_log_latest_epoch(log), 3);
    st_log_end_offset_for_epoch(log, 3, &e, &end);
    assert_int_equal(end, 8);
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_truncate_and_flush(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_bytes = 400;
    cfg.flush_messages = 10;
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    for (int i = 0; i < 30; i++) test_append(log, 2, i, 0, "z", false, 0);
    assert_true(st_log_recovery_point(log) >= 50);
    assert_int_equal(st_log_flush(log), 0);
    assert_int_equal(st_log_recovery_point(log), 60);
    assert_int_equal(st_log_maybe_flush(log, 10), 0);
    int32_t before = st_log_segment_count(log);
    assert_true(before > 3);
    /* Into an older segment: later segments go, the log continues there. */
    assert_int_equal(st_log_truncate_to(log, 13), 0);
    assert_int_equal(st_log_end_offset(log), 13);
    assert_true(st_log_segment_count(log) < before);
    assert_int_equal(st_log_recovery_point(log), 13);
    assert_int_equal(test_append(log, 2, 100, 0, "n", false, 0), 13);
    st_log_read_result_t r;
    assert_int_equal(st_log_read(log, 13, 1, true, &r), 0);
    st_batch_header_t h;
    test_read_header(&r, &h);
    assert_int_equal(h.base_offset, 13);
    close(r.fd);
    /* Below the first segment: the log restarts there. */
    assert_int_equal(st_log_truncate_to(log, 0), 0);
    assert_int_equal(st_log_end_offset(log), 0);
    assert_int_equal(st_log_segment_count(log), 1);
    assert_int_equal(test_append(log, 2, 100, 0, "n", false, 0), 0);
    st_log_close(log);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(st_log_end_offset(log), 2);
    assert_int_equal(st_log_delete(log), 0);
    assert_false(st_fs_exists(d.part));
    rmdir(d.root);
}

static void test_config_validation(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_bytes = 1;
    st_log_t *log = NULL;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), ST_ERR_INVALID_CONFIG);
    test_config(&cfg);
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    cfg.index_interval_bytes = -5;
    assert_int_equal(st_log_set_config(log, &cfg), ST_ERR_INVALID_CONFIG);
    test_config(&cfg);
    cfg.segment_bytes = 200;
    assert_int_equal(st_log_set_config(log, &cfg), 0);
    for (int i = 0; i < 5; i++) test_append(log, 2, i, 0, "z", false, 0);
    assert_true(st_log_segment_count(log) >= 2);
    st_log_close(log);
    test_dir_remove(&d);
}


/* ---- a full disk (issue 10, item 4) ----------------------------------------
 *
 * Each scenario runs in a child with its own mount namespace and a small
 * tmpfs as its log dir, so the mount vanishes with the child whatever
 * happens. cmocka's assertions do not cross fork(): the child checks with
 * FULL_CHECK and exits non-zero, or dies of a signal (a SIGBUS from a store
 * into an index page the file system could not allocate). */

#define FULL_SKIP_EXIT 77
#define FULL_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stdout, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
            fflush(stdout);                                                                  \
            _exit(1);                                                                        \
        }                                                                                    \
    } while (0)

typedef void (*full_disk_fn)(const char *mount_dir, const char *log_capture);

static void run_on_small_tmpfs(const char *size, full_disk_fn fn) {
    char dir[] = "/tmp/strata-full-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char capture[] = "/tmp/strata-full-log-XXXXXX";
    int cfd = mkstemp(capture);
    assert_true(cfd >= 0);
    close(cfd);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) _exit(FULL_SKIP_EXIT);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(FULL_SKIP_EXIT);
        char opts[64];
        snprintf(opts, sizeof opts, "size=%s", size);
        if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) _exit(FULL_SKIP_EXIT);
        /* What the log code logs goes to a file outside the tmpfs. */
        int fd = open(capture, O_WRONLY | O_TRUNC);
        if (fd < 0 || dup2(fd, 2) != 2) _exit(1);
        close(fd);
        fn(dir, capture);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    rmdir(dir);
    size_t n;
    char *text = (char *)test_slurp(capture, &n);
    text[n] = '\0';
    unlink(capture);
    if (WIFEXITED(status) && WEXITSTATUS(status) == FULL_SKIP_EXIT) {
        free(text);
        skip();
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) printf("child log:\n%s\n", text);
    free(text);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static char *full_read_capture(const char *capture) {
    int fd = open(capture, O_RDONLY);
    FULL_CHECK(fd >= 0);
    static char buf[1 << 16];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    FULL_CHECK(n >= 0);
    buf[n] = '\0';
    return buf;
}

static int full_count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* Fills what is left of the file system with `path`; returns the bytes. */
static int64_t full_fill(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FULL_CHECK(fd >= 0);
    static uint8_t chunk[4096];
    int64_t total = 0;
    for (size_t want = sizeof chunk; want > 0; want /= 2) {
        ssize_t w;
        while ((w = write(fd, chunk, want)) > 0) total += w;
    }
    close(fd);
    return total;
}

#define FULL_BATCHES_MAX 4096

/* Acknowledged batches as the log stored them (offsets assigned). */
typedef struct acked {
    uint8_t *bytes[FULL_BATCHES_MAX];
    size_t len[FULL_BATCHES_MAX];
    int count;
    int seen;
    int64_t next_offset;
} acked_t;

/* The log holds every acknowledged batch byte for byte, in order, then
 * only whole batches with valid CRCs and dense offsets. */
static int check_acked(void *ctx, const uint8_t *batch, size_t len) {
    acked_t *a = ctx;
    st_batch_header_t h;
    FULL_CHECK(st_batch_header_parse(batch, len, &h) == 0);
    FULL_CHECK(st_batch_crc_valid(batch, len));
    FULL_CHECK(h.base_offset == a->next_offset);
    if (a->seen < a->count) {
        FULL_CHECK(len == a->len[a->seen]);
        FULL_CHECK(memcmp(batch, a->bytes[a->seen], len) == 0);
    }
    a->seen++;
    a->next_offset = st_batch_last_offset(&h) + 1;
    return 0;
}

static void fill_then_free(const char *mount_dir, const char *capture) {
    char part[256], filler[256], path[ST_FS_PATH_MAX];
    snprintf(part, sizeof part, "%s/topic-0", mount_dir);
    snprintf(filler, sizeof filler, "%s/filler", mount_dir);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_bytes = 64 << 10;
    st_log_t *log;
    FULL_CHECK(st_log_open(part, &cfg, 0, &log) == 0);
    /* Room for about 100 KiB of log, then nothing. */
    int64_t filled = full_fill(filler);
    FULL_CHECK(filled > 0);
    FULL_CHECK(truncate(filler, (off_t)(filled - (100 << 10))) == 0);
    static acked_t acked;
    int refused = 0;
    int64_t now = 1000;
    st_log_append_result_t res;
    while (refused < 5) {
        FULL_CHECK(acked.count < FULL_BATCHES_MAX);
        st_writer_t w;
        st_writer_init(&w, 4096);
        char tag[48];
        snprintf(tag, sizeof tag, "full-%d-padding-padding-padding-padding", acked.count);
        test_build_batch(&w, 8, now, acked.count, tag, false, -1);
        int rc = st_log_append(log, w.data, w.len, 0, now, false, &res);
        if (rc == 0) {
            FULL_CHECK(refused == 0); /* nothing gets in once it failed */
            acked.bytes[acked.count] = malloc(w.len);
            memcpy(acked.bytes[acked.count], w.data, w.len);
            acked.len[acked.count++] = w.len;
        } else {
            FULL_CHECK(rc == ST_ERR_KAFKA_STORAGE_ERROR);
            FULL_CHECK(st_log_failed(log));
            refused++;
        }
        st_writer_free(&w);
    }
    FULL_CHECK(acked.count > 20);
    char *text = full_read_capture(capture);
    FULL_CHECK(full_count(text, "Z] ERROR ") == 1);
    FULL_CHECK(strstr(text, "No space left on device (errno 28)") != NULL);
    FULL_CHECK(strstr(text, "until space is free") != NULL);
    /* Every acknowledged batch is there and no partial batch is left in a
     * segment: every byte is a whole batch. */
    FULL_CHECK(st_log_for_each_batch(log, 0, check_acked, &acked) == 0);
    FULL_CHECK(acked.seen == acked.count && acked.next_offset == st_log_end_offset(log));
    int64_t on_disk = 0;
    DIR *d = opendir(part);
    FULL_CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".log") == 0) {
            snprintf(path, sizeof path, "%s/%s", part, e->d_name);
            on_disk += test_file_size(path);
        }
    closedir(d);
    FULL_CHECK(on_disk == st_log_size_bytes(log));
    /* Within the re-check interval nothing is tried; reads still work. */
    st_log_read_result_t r;
    FULL_CHECK(st_log_read(log, 0, 1 << 20, true, &r) == 0 && r.len > 0);
    close(r.fd);

    /* Space again: the next write after the interval re-checks the tail and
     * goes in, without a reopen. */
    FULL_CHECK(unlink(filler) == 0);
    int64_t end = st_log_end_offset(log);
    FULL_CHECK(test_try_append(log, 3, now, 0, "after", false, 0, now, &res) == ST_ERR_KAFKA_STORAGE_ERROR);
    now += 150;
    FULL_CHECK(test_try_append(log, 3, now, 0, "after", false, 0, now, &res) == 0);
    st_writer_t w;
    FULL_CHECK(res.base_offset == end);
    FULL_CHECK(!st_log_failed(log));
    text = full_read_capture(capture);
    FULL_CHECK(strstr(text, "INFO") != NULL);
    FULL_CHECK(strstr(text, "writes succeed again after \"No space left on device\" (errno 28)") != NULL);
    FULL_CHECK(full_count(text, "Z] ERROR ") == 1);
    for (int i = 0; i < 30; i++) {
        st_writer_init(&w, 4096);
        test_build_batch(&w, 2, now, i, "more", false, -1);
        FULL_CHECK(st_log_append(log, w.data, w.len, 0, now, false, &res) == 0);
        st_writer_free(&w);
    }
    end = st_log_end_offset(log);
    st_log_close(log);
    /* A reopen finds every batch whole: nothing to cut. */
    FULL_CHECK(st_log_open(part, &cfg, 0, &log) == 0);
    FULL_CHECK(st_log_end_offset(log) == end);
    acked.seen = 0;
    acked.next_offset = 0;
    FULL_CHECK(st_log_for_each_batch(log, 0, check_acked, &acked) == 0);
    FULL_CHECK(acked.seen == acked.count + 31 && acked.next_offset == end);
    st_log_close(log);
    for (int i = 0; i < acked.count; i++) free(acked.bytes[i]);
    text = full_read_capture(capture);
    FULL_CHECK(strstr(text, "WARN") == NULL);
}

static void test_full_disk_refuses_then_recovers_in_place(void **state) {
    (void)state;
    run_on_small_tmpfs("1m", fill_then_free);
}

/* The .log's last page has room, so a small batch is written, but the next
 * offset-index entry starts a page the file system cannot allocate: the
 * entry is skipped (the index is a hint) instead of a store into a hole of
 * the mapping raising SIGBUS. */
static void index_page_on_full_disk(const char *mount_dir, const char *capture) {
    (void)capture;
    char part[256], filler[256];
    snprintf(part, sizeof part, "%s/topic-0", mount_dir);
    snprintf(filler, sizeof filler, "%s/filler", mount_dir);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.index_interval_bytes = 0; /* an entry for every batch after the first */
    cfg.index_bytes_max = 64 << 10;
    st_log_t *log;
    FULL_CHECK(st_log_open(part, &cfg, 0, &log) == 0);
    st_log_append_result_t res;
    /* 4096 / 8 = 512 entries fill the offset index's first page. */
    for (int i = 0; i < 513; i++) FULL_CHECK(test_try_append(log, 1, i, 0, "v", false, 0, 0, &res) == 0);
    FULL_CHECK(st_log_size_bytes(log) % 4096 != 0 && st_log_size_bytes(log) % 4096 < 3500);
    FULL_CHECK(full_fill(filler) >= 0);
    FULL_CHECK(test_try_append(log, 1, 600, 0, "v", false, 0, 0, &res) == 0); /* fits the .log's last page */
    FULL_CHECK(res.base_offset == 513);
    FULL_CHECK(st_log_segment_count(log) == 1);
    st_log_read_result_t r;
    FULL_CHECK(st_log_read(log, 513, 1 << 20, true, &r) == 0 && r.len > 0);
    close(r.fd);
    FULL_CHECK(unlink(filler) == 0);
    for (int i = 0; i < 10; i++) FULL_CHECK(test_try_append(log, 1, 700 + i, 0, "v", false, 0, 200, &res) == 0);
    for (int64_t off = 0; off < st_log_end_offset(log); off++) {
        FULL_CHECK(st_log_read(log, off, 1, true, &r) == 0 && r.len > 0);
        close(r.fd);
    }
    st_log_close(log);
}

static void test_full_disk_index_page_is_no_sigbus(void **state) {
    (void)state;
    run_on_small_tmpfs("512k", index_page_on_full_disk);
}

/* While failed for lack of space, the tail changed under the log (here it
 * got shorter): the re-check refuses to trust memory, and the log stays
 * failed until a reopen recovers it from disk. */
static void tail_changed_while_failed(const char *mount_dir, const char *capture) {
    char part[256], filler[256], path[ST_FS_PATH_MAX];
    snprintf(part, sizeof part, "%s/topic-0", mount_dir);
    snprintf(filler, sizeof filler, "%s/filler", mount_dir);
    st_log_config_t cfg;
    test_config(&cfg);
    st_log_t *log;
    FULL_CHECK(st_log_open(part, &cfg, 0, &log) == 0);
    st_log_append_result_t res;
    for (int i = 0; i < 20; i++) FULL_CHECK(test_try_append(log, 4, i, 0, "value", false, 0, 0, &res) == 0);
    FULL_CHECK(full_fill(filler) >= 0);
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = test_try_append(log, 4, 100, 0, "value-value-value", false, 0, 0, &res);
    FULL_CHECK(rc == ST_ERR_KAFKA_STORAGE_ERROR);
    int64_t end = st_log_end_offset(log);
    FULL_CHECK(unlink(filler) == 0);
    snprintf(path, sizeof path, "%s/%020d.log", part, 0);
    FULL_CHECK(truncate(path, (off_t)(test_file_size(path) - 10)) == 0);
    FULL_CHECK(test_try_append(log, 1, 200, 0, "v", false, 0, 500, &res) == ST_ERR_KAFKA_STORAGE_ERROR);
    FULL_CHECK(test_try_append(log, 1, 200, 0, "v", false, 0, 1000, &res) == ST_ERR_KAFKA_STORAGE_ERROR);
    char *text = full_read_capture(capture);
    FULL_CHECK(strstr(text, "does not end with what was written") != NULL);
    FULL_CHECK(strstr(text, "until the broker restarts") != NULL);
    FULL_CHECK(full_count(text, "Z] ERROR ") == 2);
    st_log_close(log);
    FULL_CHECK(st_log_open(part, &cfg, 0, &log) == 0);
    FULL_CHECK(st_log_end_offset(log) < end);
    FULL_CHECK(test_try_append(log, 1, 300, 0, "v", false, 0, 0, &res) == 0);
    st_log_close(log);
}

static void test_full_disk_tail_changed_stays_failed(void **state) {
    (void)state;
    run_on_small_tmpfs("512k", tail_changed_while_failed);
}

/* Retention is what frees a full disk: it runs on a log failed for lack of
 * space (re-checking its tail first), and writes go on after it. */
static void retention_frees_space(const char *mount_dir, const char *capture) {
    (void)capture;
    char part[256];
    snprintf(part, sizeof part, "%s/topic-0", mount_dir);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_bytes = 16 << 10;
    st_log_t *log;
    FULL_CHECK(st_log_open(part, &cfg, 0, &log) == 0);
    st_log_append_result_t res;
    int rc = 0;
    for (int i = 0; i < 100000 && rc == 0; i++)
        rc = test_try_append(log, 8, i, 0, "retention-value-retention-value", false, 0, 0, &res);
    FULL_CHECK(rc == ST_ERR_KAFKA_STORAGE_ERROR && st_log_failed(log));
    FULL_CHECK(st_log_segment_count(log) > 4);
    cfg.retention_bytes = 32 << 10;
    FULL_CHECK(st_log_set_config(log, &cfg) == 0);
    FULL_CHECK(st_log_enforce_retention(log, 500) > 0);
    FULL_CHECK(!st_log_failed(log));
    FULL_CHECK(test_try_append(log, 1, 1, 0, "v", false, 0, 600, &res) == 0);
    st_log_close(log);
    FULL_CHECK(st_log_open(part, &cfg, 0, &log) == 0);
    FULL_CHECK(st_log_end_offset(log) == res.base_offset + 1);
    st_log_close(log);
}

static void test_full_disk_retention_runs_on_failed_log(void **state) {
    (void)state;
    run_on_small_tmpfs("512k", retention_frees_space);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_assigns_offsets_and_reads),
        cmocka_unit_test(test_roll_by_bytes_and_read_across_segments),
        cmocka_unit_test(test_roll_by_time),
        cmocka_unit_test(test_index_is_sparse_and_used),
        cmocka_unit_test(test_offset_for_timestamp_and_max),
        cmocka_unit_test(test_log_append_time),
        cmocka_unit_test(test_bad_framing_rejected),
        cmocka_unit_test(test_for_each_batch),
        cmocka_unit_test(test_leader_epochs),
        cmocka_unit_test(test_truncate_and_flush),
        cmocka_unit_test(test_config_validation),
        cmocka_unit_test(test_full_disk_refuses_then_recovers_in_place),
        cmocka_unit_test(test_full_disk_index_page_is_no_sigbus),
        cmocka_unit_test(test_full_disk_tail_changed_stays_failed),
        cmocka_unit_test(test_full_disk_retention_runs_on_failed_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
