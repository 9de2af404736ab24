/* Recovery of st_log_open: torn and corrupted tails, lost or damaged
 * indexes, compaction leftovers, a killed process. */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "storage/checkpoint.h"
#include "storage_test_util.h"

#define BATCHES 6

typedef struct saved_log {
    test_dir_t d;
    st_log_config_t cfg;
    uint8_t *log_bytes;
    size_t log_len;
    int64_t last_batch_pos;  /* position of the last batch in the active segment */
    int64_t active_base;
    int64_t end_before_last; /* end offset without the last batch */
} saved_log_t;

/* A log with a few segments; the active one holds BATCHES batches. */
static void saved_log_make(saved_log_t *s) {
    test_dir_make(&s->d);
    test_config(&s->cfg);
    s->cfg.segment_bytes = 700;
    st_log_t *log;
    assert_int_equal(st_log_open(s->d.part, &s->cfg, 0, &log), 0);
    for (int i = 0; i < 8; i++) test_append(log, 3, i, 0, "older", false, 0);
    /* Force a fresh active segment for the batches under test. */
    s->cfg.segment_bytes = 1 << 20;
    s->cfg.segment_ms = 1;
    assert_int_equal(st_log_set_config(log, &s->cfg), 0);
    test_append(log, 2, 100000, 0, "first", false, 0);
    s->cfg.segment_ms = 604800000;
    assert_int_equal(st_log_set_config(log, &s->cfg), 0);
    s->active_base = st_log_active_segment_base(log);
    assert_true(st_log_segment_count(log) >= 3);
    for (int i = 1; i < BATCHES; i++) test_append(log, 2 + i, 100000 + i, 10 * i, "tail-value", false, 0);
    st_log_read_result_t r;
    int64_t last_base = st_log_end_offset(log) - (2 + BATCHES - 1);
    assert_int_equal(st_log_read(log, last_base, 1, true, &r), 0);
    s->last_batch_pos = r.file_pos;
    close(r.fd);
    s->end_before_last = last_base;
    st_log_close(log);
    char path[ST_FS_PATH_MAX];
    test_segment_file(path, &s->d, s->active_base, ".log");
    s->log_bytes = test_slurp(path, &s->log_len);
    assert_true(s->last_batch_pos > 0 && (size_t)s->last_batch_pos < s->log_len);
}

/* Puts the active .log back as `bytes` and removes the clean marker (an
 * unclean shutdown) unless keep_marker. */
static void restore_active(saved_log_t *s, const uint8_t *bytes, size_t len, bool keep_marker) {
    char path[ST_FS_PATH_MAX];
    test_segment_file(path, &s->d, s->active_base, ".log");
    test_spit(path, bytes, len);
    if (!keep_marker) {
        snprintf(path, sizeof path, "%s/%s", s->d.part, ST_LOG_CLEAN_SHUTDOWN_FILE);
        unlink(path);
    }
}

/* The log must hold exactly the batches before the last one and take the
 * next append at the right offset. */
static void expect_recovered_without_last(saved_log_t *s) {
    st_log_t *log;
    assert_int_equal(st_log_open(s->d.part, &s->cfg, 0, &log), 0);
    assert_int_equal(st_log_end_offset(log), s->end_before_last);
    char path[ST_FS_PATH_MAX];
    test_segment_file(path, &s->d, s->active_base, ".log");
    assert_int_equal(test_file_size(path), s->last_batch_pos);
    st_log_read_result_t r;
    assert_int_equal(st_log_read(log, s->end_before_last - 1, 1, true, &r), 0);
    assert_true(r.len > 0);
    close(r.fd);
    assert_int_equal(test_append(log, 4, 200000, 0, "after", false, 0), s->end_before_last);
    assert_int_equal(st_log_end_offset(log), s->end_before_last + 4);
    st_log_close(log);
}

static void test_truncated_tail_at_every_byte(void **state) {
    (void)state;
    saved_log_t s;
    saved_log_make(&s);
    for (size_t cut = (size_t)s.last_batch_pos; cut < s.log_len; cut++) {
        restore_active(&s, s.log_bytes, cut, cut % 2 == 0); /* clean and unclean alike */
        expect_recovered_without_last(&s);
    }
    /* The whole file is fine and loses nothing. */
    restore_active(&s, s.log_bytes, s.log_len, false);
    st_log_t *log;
    assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
    assert_int_equal(st_log_end_offset(log), s.end_before_last + 2 + BATCHES - 1);
    st_log_close(log);
    free(s.log_bytes);
    test_dir_remove(&s.d);
}

static void test_flipped_bit_in_last_batch(void **state) {
    (void)state;
    saved_log_t s;
    saved_log_make(&s);
    uint8_t *copy = malloc(s.log_len);
    assert_non_null(copy);
    for (size_t at = (size_t)s.last_batch_pos + 8; at < s.log_len; at++) {
        size_t rel = at - (size_t)s.last_batch_pos;
        /* partitionLeaderEpoch (bytes 12..15) is outside the CRC and not
         * checked; every other byte from batchLength on is. */
        if (rel >= 12 && rel < 16) continue;
        memcpy(copy, s.log_bytes, s.log_len);
        copy[at] ^= (uint8_t)(1u << (at % 8));
        restore_active(&s, copy, s.log_len, false);
        expect_recovered_without_last(&s);
    }
    /* A base offset going backwards is caught as well. */
    memcpy(copy, s.log_bytes, s.log_len);
    st_put_i64be(copy + s.last_batch_pos, 0);
    restore_active(&s, copy, s.log_len, false);
    expect_recovered_without_last(&s);
    free(copy);
    free(s.log_bytes);
    test_dir_remove(&s.d);
}

static void test_garbage_after_tail(void **state) {
    (void)state;
    saved_log_t s;
    saved_log_make(&s);
    /* Preallocated or torn zeros after the last batch are cut. */
    uint8_t *longer = calloc(1, s.log_len + 100);
    memcpy(longer, s.log_bytes, s.log_len);
    restore_active(&s, longer, s.log_len + 100, false);
    st_log_t *log;
    assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
    assert_int_equal(st_log_end_offset(log), s.end_before_last + 2 + BATCHES - 1);
    st_log_close(log);
    char path[ST_FS_PATH_MAX];
    test_segment_file(path, &s.d, s.active_base, ".log");
    assert_int_equal(test_file_size(path), (int64_t)s.log_len);
    free(longer);
    free(s.log_bytes);
    test_dir_remove(&s.d);
}

/* Every offset of the log reads back as the batch that holds it. */
static void expect_all_readable(st_log_t *log) {
    for (int64_t off = st_log_start_offset(log); off < st_log_end_offset(log); off++) {
        st_log_read_result_t r;
        assert_int_equal(st_log_read(log, off, 1, true, &r), 0);
        st_batch_header_t h;
        test_read_header(&r, &h);
        assert_true(h.base_offset <= off && st_batch_last_offset(&h) >= off);
        close(r.fd);
    }
}

static void test_missing_and_corrupt_indexes_rebuilt(void **state) {
    (void)state;
    saved_log_t s;
    saved_log_make(&s);
    char idx[ST_FS_PATH_MAX], tidx[ST_FS_PATH_MAX];
    test_segment_file(idx, &s.d, 0, ".index");
    test_segment_file(tidx, &s.d, 0, ".timeindex");
    size_t idx_len, tidx_len;
    uint8_t *idx_bytes = test_slurp(idx, &idx_len);
    uint8_t *tidx_bytes = test_slurp(tidx, &tidx_len);
    assert_true(idx_len > 0 && tidx_len > 0);

    for (int variant = 0; variant < 5; variant++) {
        switch (variant) {
        case 0: /* missing */
            unlink(idx);
            unlink(tidx);
            break;
        case 1: { /* not whole entries */
            test_spit(idx, idx_bytes, idx_len - 3);
            break;
        }
        case 2: { /* garbage */
            size_t junk_len = idx_len > tidx_len ? idx_len : tidx_len;
            uint8_t *junk = malloc(junk_len);
            memset(junk, 0xff, junk_len);
            test_spit(idx, junk, idx_len);
            test_spit(tidx, junk, tidx_len - tidx_len % 12);
            free(junk);
            break;
        }
        case 3: { /* untrimmed: a preallocated zero tail */
            uint8_t *longer = calloc(1, idx_len + 800);
            memcpy(longer, idx_bytes, idx_len);
            test_spit(idx, longer, idx_len + 800);
            uint8_t *tlonger = calloc(1, tidx_len + 1200);
            memcpy(tlonger, tidx_bytes, tidx_len);
            test_spit(tidx, tlonger, tidx_len + 1200);
            free(longer);
            free(tlonger);
            break;
        }
        case 4: /* positions past the log */
            test_spit(idx, idx_bytes, idx_len);
            {
                uint8_t *bad = malloc(idx_len + 8);
                memcpy(bad, idx_bytes, idx_len);
                size_t last = idx_len / 8 * 8 - 8;
                st_put_i32be(bad + last + 4, 1 << 30);
                test_spit(idx, bad, idx_len);
                free(bad);
            }
            break;
        }
        st_log_t *log;
        assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
        expect_all_readable(log);
        int64_t off, ts;
        assert_int_equal(st_log_offset_for_timestamp(log, 3, &off, &ts), 0);
        assert_int_equal(off, 5); /* batch 1: offsets 3..5, timestamps 1..3 */
        st_log_close(log);
        /* Rebuilt byte for byte. */
        size_t n1, n2;
        uint8_t *a = test_slurp(idx, &n1);
        uint8_t *b = test_slurp(tidx, &n2);
        assert_int_equal(n1, idx_len);
        assert_memory_equal(a, idx_bytes, idx_len);
        assert_int_equal(n2, tidx_len);
        assert_memory_equal(b, tidx_bytes, tidx_len);
        free(a);
        free(b);
    }
    free(idx_bytes);
    free(tidx_bytes);
    free(s.log_bytes);
    test_dir_remove(&s.d);
}

static void test_leftovers_cleaned_up(void **state) {
    (void)state;
    saved_log_t s;
    saved_log_make(&s);
    char path[ST_FS_PATH_MAX], swap[ST_FS_PATH_MAX];
    /* A .cleaned file (compaction cut short before the swap) goes away. */
    test_segment_file(path, &s.d, 0, ".log.cleaned");
    test_spit(path, (const uint8_t *)"junk", 4);
    /* A .swap file replaces its segment: here a copy of the same data. */
    test_segment_file(path, &s.d, 0, ".log");
    size_t n;
    uint8_t *seg0 = test_slurp(path, &n);
    test_segment_file(swap, &s.d, 0, ".log.swap");
    test_spit(swap, seg0, n);
    /* Orphan index files and stray temp files go too. */
    test_segment_file(path, &s.d, 99999, ".index");
    test_spit(path, (const uint8_t *)"12345678", 8);
    snprintf(path, sizeof path, "%s/recovery-point.tmp", s.d.part);
    test_spit(path, (const uint8_t *)"x", 1);
    st_log_t *log;
    assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
    expect_all_readable(log);
    st_log_close(log);
    test_segment_file(path, &s.d, 0, ".log.cleaned");
    assert_false(st_fs_exists(path));
    assert_false(st_fs_exists(swap));
    test_segment_file(path, &s.d, 99999, ".index");
    assert_false(st_fs_exists(path));
    snprintf(path, sizeof path, "%s/recovery-point.tmp", s.d.part);
    assert_false(st_fs_exists(path));
    free(seg0);
    free(s.log_bytes);
    test_dir_remove(&s.d);
}

/* Opens the log in a child process, runs `work` on it (NULL: nothing) and
 * kills the child with SIGKILL, as a crash would: no close, no flush.
 * Returns once the child is dead; a child that failed before the kill
 * exits instead, and the assertion here reports it. */
typedef int (*killed_work_fn)(st_log_t *log, void *ctx);

static void run_then_sigkill(const char *part, const st_log_config_t *cfg, killed_work_fn work, void *ctx) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        st_log_t *log;
        if (st_log_open(part, cfg, 0, &log) != 0) _exit(1);
        if (work && work(log, ctx) != 0) _exit(2);
        raise(SIGKILL);
        _exit(3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* One batch of `count` records at `epoch`, from a child: nonzero on failure. */
static int append_batch(st_log_t *log, int count, int64_t timestamp, const char *value, int32_t epoch) {
    st_log_append_result_t res;
    return test_try_append(log, count, timestamp, 0, value, false, epoch, 0, &res);
}

static int append_forty_batches(st_log_t *log, void *ctx) {
    (void)ctx;
    for (int i = 0; i < 40; i++)
        if (append_batch(log, 2, i, "killed", 0) != 0) return -1;
    return 0;
}

static void test_killed_process_keeps_appends(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    cfg.segment_bytes = 600;
    run_then_sigkill(d.part, &cfg, append_forty_batches, NULL);
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(st_log_end_offset(log), 80);
    expect_all_readable(log);
    int64_t n = 0;
    (void)n;
    st_log_close(log);
    test_dir_remove(&d);
}

static void test_corrupt_middle_segment_truncates_rest(void **state) {
    (void)state;
    saved_log_t s;
    saved_log_make(&s);
    /* Unclean shutdown with no recovery point: every segment is scanned. A
     * bad batch in the first segment cuts it and drops all later ones. */
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s.d.part, ST_LOG_CLEAN_SHUTDOWN_FILE);
    unlink(path);
    snprintf(path, sizeof path, "%s/recovery-point", s.d.part);
    unlink(path);
    test_segment_file(path, &s.d, 0, ".log");
    size_t n;
    uint8_t *seg0 = test_slurp(path, &n);
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(seg0, n, &h), 0);
    size_t second = (size_t)st_batch_total_bytes(&h);
    seg0[second + 40] ^= 0x10;
    test_spit(path, seg0, n);
    st_log_t *log;
    assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
    assert_int_equal(st_log_segment_count(log), 1);
    assert_int_equal(st_log_end_offset(log), 3);
    assert_int_equal(test_append(log, 1, 0, 0, "x", false, 0), 3);
    st_log_close(log);
    free(seg0);
    free(s.log_bytes);
    test_dir_remove(&s.d);
}

/* ---- a clean reopen writes nothing ---------------------------------------- */

#define STAMPS_MAX 64

/* What identifies a file's last write: a rewrite (tmp + rename) gives a new
 * inode, a write or ftruncate moves mtime or ctime. */
typedef struct file_stamp {
    char name[64];
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
} file_stamp_t;

static int compare_stamps(const void *a, const void *b) {
    return strcmp(((const file_stamp_t *)a)->name, ((const file_stamp_t *)b)->name);
}

static int stamp_dir(const char *dir, file_stamp_t *out) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        assert_true(n < STAMPS_MAX && strlen(e->d_name) < sizeof out[n].name);
        char path[ST_FS_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        strcpy(out[n].name, e->d_name);
        out[n].ino = st.st_ino;
        out[n].size = st.st_size;
        out[n].mtime = st.st_mtim;
        out[n].ctime = st.st_ctim;
        n++;
    }
    closedir(d);
    qsort(out, (size_t)n, sizeof *out, compare_stamps);
    return n;
}

static void expect_same_stamps(const file_stamp_t *a, int na, const file_stamp_t *b, int nb) {
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_string_equal(a[i].name, b[i].name);
        assert_true(a[i].ino == b[i].ino);
        assert_int_equal(a[i].size, b[i].size);
        assert_true(a[i].mtime.tv_sec == b[i].mtime.tv_sec && a[i].mtime.tv_nsec == b[i].mtime.tv_nsec);
        assert_true(a[i].ctime.tv_sec == b[i].ctime.tv_sec && a[i].ctime.tv_nsec == b[i].ctime.tv_nsec);
    }
}

static bool marker_exists(const test_dir_t *d) {
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", d->part, ST_LOG_CLEAN_SHUTDOWN_FILE);
    return access(path, F_OK) == 0;
}

/* Longer than the file system's timestamp granularity, so a write after it
 * shows in mtime or ctime. */
static void pause_for_timestamps(void) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void test_clean_reopen_writes_nothing(void **state) {
    (void)state;
    saved_log_t s;
    saved_log_make(&s);
    int64_t end = s.end_before_last + 2 + BATCHES - 1;
    file_stamp_t before[STAMPS_MAX], after[STAMPS_MAX];
    int n_before = stamp_dir(s.d.part, before);
    assert_true(marker_exists(&s.d));

    for (int round = 0; round < 2; round++) {
        pause_for_timestamps();
        st_log_t *log;
        assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
        /* The marker stays until the first write. */
        assert_true(marker_exists(&s.d));
        assert_int_equal(st_log_end_offset(log), end);
        assert_int_equal(st_log_recovery_point(log), end);
        expect_all_readable(log);
        int64_t off, ts;
        assert_int_equal(st_log_offset_for_timestamp(log, 100003, &off, &ts), 0);
        assert_int_equal(ts, 100003);
        assert_int_equal(st_log_flush(log), 0);
        st_log_close(log);
        int n_after = stamp_dir(s.d.part, after);
        expect_same_stamps(before, n_before, after, n_after);
    }

    /* Killed after a clean open, before any write: still clean, still
     * untouched. */
    run_then_sigkill(s.d.part, &s.cfg, NULL, NULL);
    assert_true(marker_exists(&s.d));
    int n_after = stamp_dir(s.d.part, after);
    expect_same_stamps(before, n_before, after, n_after);
    free(s.log_bytes);
    test_dir_remove(&s.d);
}

/* The first append after a clean open removes the marker before writing:
 * a process killed after it leaves an unclean log whose torn tail the next
 * open cuts. */
static int append_killed_tail(st_log_t *log, void *ctx) {
    (void)ctx;
    return append_batch(log, 5, 200000, "killed-tail", 1);
}

static void test_write_after_clean_open_makes_crash_unclean(void **state) {
    (void)state;
    saved_log_t s;
    saved_log_make(&s);
    int64_t end = s.end_before_last + 2 + BATCHES - 1;
    run_then_sigkill(s.d.part, &s.cfg, append_killed_tail, NULL);
    assert_false(marker_exists(&s.d));
    char path[ST_FS_PATH_MAX];
    test_segment_file(path, &s.d, s.active_base, ".log");
    assert_true(test_file_size(path) > (int64_t)s.log_len + 7);
    /* Tear the appended batch. */
    assert_int_equal(truncate(path, (off_t)s.log_len + 7), 0);

    st_log_t *log;
    assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
    assert_int_equal(st_log_end_offset(log), end);
    assert_int_equal(test_file_size(path), (int64_t)s.log_len);
    assert_int_equal(st_log_recovery_point(log), end);
    int64_t recovery_point;
    assert_int_equal(st_checkpoint_read_offset(s.d.part, ST_CHECKPOINT_RECOVERY_POINT, &recovery_point), 0);
    assert_int_equal(recovery_point, end);
    expect_all_readable(log);
    assert_int_equal(test_append(log, 2, 300000, 0, "after", false, 0), end);
    st_log_close(log);
    assert_true(marker_exists(&s.d));
    free(s.log_bytes);
    test_dir_remove(&s.d);
}

/* A new leader epoch is not fsynced when assigned (the checkpoint goes
 * with the next flush); a process killed before that loses the file's
 * entry, and the next open finds the epochs again in the batches. */
static int append_epochs_1_and_4(st_log_t *log, void *ctx) {
    (void)ctx;
    if (append_batch(log, 3, 1000, "e1", 1) != 0) return -1;
    return append_batch(log, 2, 1001, "e4", 4);
}

static void test_epochs_recovered_from_batches(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_log_config_t cfg;
    test_config(&cfg);
    run_then_sigkill(d.part, &cfg, append_epochs_1_and_4, NULL);
    st_epoch_entry_t *entries;
    int32_t count;
    assert_int_not_equal(st_checkpoint_read_epochs(d.part, &entries, &count), 0); /* never written */

    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 0, &log), 0);
    assert_int_equal(st_log_latest_epoch(log), 4);
    int32_t e;
    int64_t end;
    st_log_end_offset_for_epoch(log, 1, &e, &end);
    assert_int_equal(e, 1);
    assert_int_equal(end, 3);
    /* The open made them durable with the recovery point. */
    assert_int_equal(st_checkpoint_read_epochs(d.part, &entries, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(entries[0].epoch, 1);
    assert_int_equal(entries[0].start_offset, 0);
    assert_int_equal(entries[1].epoch, 4);
    assert_int_equal(entries[1].start_offset, 3);
    free(entries);
    st_log_close(log);
    test_dir_remove(&d);
}

/* A clean open keeps the active segment's indexes when they agree with the
 * .log (appends then continue them as a rebuild would), and rebuilds them
 * when they do not. */
static void test_active_indexes_verified_after_clean_open(void **state) {
    (void)state;
    saved_log_t s;
    saved_log_make(&s);
    char idx[ST_FS_PATH_MAX], tidx[ST_FS_PATH_MAX];
    test_segment_file(idx, &s.d, s.active_base, ".index");
    test_segment_file(tidx, &s.d, s.active_base, ".timeindex");
    size_t idx_len, tidx_len;
    uint8_t *idx_bytes = test_slurp(idx, &idx_len);
    uint8_t *tidx_bytes = test_slurp(tidx, &tidx_len);
    assert_true(idx_len >= 16 && tidx_len >= 12);

    for (int variant = 0; variant < 3; variant++) {
        uint8_t *bad = malloc(idx_len > tidx_len ? idx_len : tidx_len);
        if (variant == 0) { /* a position inside a batch (still sane) */
            memcpy(bad, idx_bytes, idx_len);
            st_put_i32be(bad + 4, st_get_i32be(bad + 4) + 1);
            test_spit(idx, bad, idx_len);
        } else if (variant == 1) { /* the wrong offset for a batch */
            memcpy(bad, idx_bytes, idx_len);
            st_put_i32be(bad, st_get_i32be(bad) - 1);
            test_spit(idx, bad, idx_len);
        } else { /* a timestamp no batch carries */
            memcpy(bad, tidx_bytes, tidx_len);
            st_put_i64be(bad + tidx_len - 12, st_get_i64be(bad + tidx_len - 12) + 1);
            test_spit(tidx, bad, tidx_len);
        }
        free(bad);
        assert_true(marker_exists(&s.d));
        st_log_t *log;
        assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
        expect_all_readable(log);
        st_log_close(log);
        /* Rebuilt byte for byte (the final time-index entry comes back at
         * close). */
        size_t n1, n2;
        uint8_t *a = test_slurp(idx, &n1);
        uint8_t *b = test_slurp(tidx, &n2);
        assert_int_equal(n1, idx_len);
        assert_memory_equal(a, idx_bytes, idx_len);
        assert_int_equal(n2, tidx_len);
        assert_memory_equal(b, tidx_bytes, tidx_len);
        free(a);
        free(b);
    }

    /* Appends after a clean open extend the kept offset index exactly as a
     * rebuild from the .log would lay it out. */
    st_log_t *log;
    assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
    for (int i = 0; i < 20; i++) test_append(log, 1 + i % 4, 300000 + i, 0, "more-values", false, 0);
    int64_t end = st_log_end_offset(log);
    expect_all_readable(log);
    st_log_close(log);
    uint8_t *kept = test_slurp(idx, &idx_len);
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s.d.part, ST_LOG_CLEAN_SHUTDOWN_FILE);
    unlink(path);
    unlink(idx);
    assert_int_equal(st_log_open(s.d.part, &s.cfg, 0, &log), 0);
    assert_int_equal(st_log_end_offset(log), end);
    st_log_close(log);
    size_t rebuilt_len;
    uint8_t *rebuilt = test_slurp(idx, &rebuilt_len);
    assert_int_equal(rebuilt_len, idx_len);
    assert_memory_equal(rebuilt, kept, idx_len);
    free(kept);
    free(rebuilt);
    free(idx_bytes);
    free(tidx_bytes);
    free(s.log_bytes);
    test_dir_remove(&s.d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_tail_at_every_byte),
        cmocka_unit_test(test_flipped_bit_in_last_batch),
        cmocka_unit_test(test_garbage_after_tail),
        cmocka_unit_test(test_missing_and_corrupt_indexes_rebuilt),
        cmocka_unit_test(test_leftovers_cleaned_up),
        cmocka_unit_test(test_killed_process_keeps_appends),
        cmocka_unit_test(test_corrupt_middle_segment_truncates_rest),
        cmocka_unit_test(test_clean_reopen_writes_nothing),
        cmocka_unit_test(test_write_after_clean_open_makes_crash_unclean),
        cmocka_unit_test(test_epochs_recovered_from_batches),
        cmocka_unit_test(test_active_indexes_verified_after_clean_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
