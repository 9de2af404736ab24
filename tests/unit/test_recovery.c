/* Recovery of st_log_open: torn and corrupted tails, lost or damaged
 * indexes, compaction leftovers, a killed process, and transactions: a
 * crash with a transaction open and an abort written, the aborted-
 * transaction indexes rebuilt and the LSO after restart. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "storage/checkpoint.h"
#include "storage_test_util.h"
#include "txn_test_util.h"

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

/* ---- damaged older segments (issue 10, item 1) ----------------------------
 *
 * A log of SEGMENTS segments; one older (inactive) segment is damaged while
 * the log is closed. Kafka's rule, kept here: the damaged segment is cut at
 * its last whole valid batch and every later segment is kept, byte for
 * byte, each record at its offset. */

static void pause_for_timestamps(void);

#define SEGMENTS 4
#define DAMAGED 1 /* the second segment: older, with one before and two after */
#define BATCHES_MAX 256

typedef struct batch_at {
    int64_t position;
    int64_t base_offset;
    int64_t last_offset;
    int64_t bytes;
} batch_at_t;

typedef struct older_log {
    test_dir_t d;
    st_log_config_t cfg;
    int64_t bases[SEGMENTS];
    int64_t end;
    uint8_t *bytes[SEGMENTS]; /* each .log as written */
    size_t len[SEGMENTS];
    batch_at_t batches[SEGMENTS][BATCHES_MAX];
    int32_t batch_count[SEGMENTS];
} older_log_t;

static int append_until_four_segments(st_log_t *log, void *ctx) {
    (void)ctx;
    int i = 0;
    while (st_log_segment_count(log) < SEGMENTS) {
        char tag[32];
        snprintf(tag, sizeof tag, "older-%d", i);
        if (append_batch(log, 1 + i % 5, 1000 + i, tag, 0) != 0) return -1;
        i++;
    }
    for (int k = 0; k < 6; k++)
        if (append_batch(log, 3, 5000 + k, "active", 0) != 0) return -1;
    return 0;
}

static int cmp_bases(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Builds the log (closed cleanly, or killed when !clean) and records what
 * each segment holds. */
static void older_log_make(older_log_t *o, bool clean) {
    memset(o, 0, sizeof *o);
    test_dir_make(&o->d);
    test_config(&o->cfg);
    o->cfg.segment_bytes = 8192;
    if (clean) {
        st_log_t *log;
        assert_int_equal(st_log_open(o->d.part, &o->cfg, 0, &log), 0);
        assert_int_equal(append_until_four_segments(log, NULL), 0);
        st_log_close(log);
    } else {
        run_then_sigkill(o->d.part, &o->cfg, append_until_four_segments, NULL);
    }
    DIR *dir = opendir(o->d.part);
    assert_non_null(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l == 24 && strcmp(e->d_name + 20, ".log") == 0) {
            assert_true(n < SEGMENTS);
            o->bases[n++] = strtoll(e->d_name, NULL, 10);
        }
    }
    closedir(dir);
    assert_int_equal(n, SEGMENTS);
    qsort(o->bases, SEGMENTS, sizeof o->bases[0], cmp_bases);
    for (int i = 0; i < SEGMENTS; i++) {
        char path[ST_FS_PATH_MAX];
        test_segment_file(path, &o->d, o->bases[i], ".log");
        o->bytes[i] = test_slurp(path, &o->len[i]);
        int64_t at = 0;
        while ((size_t)at < o->len[i]) {
            st_batch_header_t h;
            assert_int_equal(st_batch_header_parse(o->bytes[i] + at, o->len[i] - (size_t)at, &h), 0);
            assert_true(o->batch_count[i] < BATCHES_MAX);
            o->batches[i][o->batch_count[i]++] = (batch_at_t){at, h.base_offset, st_batch_last_offset(&h),
                                                               st_batch_total_bytes(&h)};
            at += st_batch_total_bytes(&h);
            o->end = st_batch_last_offset(&h) + 1;
        }
        assert_true(o->batch_count[i] >= 4);
    }
    assert_int_equal(o->batches[SEGMENTS - 1][0].base_offset, o->bases[SEGMENTS - 1]);
}

static void older_log_free(older_log_t *o) {
    for (int i = 0; i < SEGMENTS; i++) free(o->bytes[i]);
    test_dir_remove(&o->d);
}

/* What the code under test logs (common/log.h writes stderr) while the
 * capture runs. */
typedef struct captured_log {
    int saved_stderr;
    char path[64];
} captured_log_t;

static void capture_start(captured_log_t *c) {
    fflush(stderr);
    strcpy(c->path, "/tmp/strata-test-log-XXXXXX");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    c->saved_stderr = dup(2);
    assert_true(c->saved_stderr >= 0);
    assert_true(dup2(fd, 2) == 2);
    close(fd);
}

/* The captured text, NUL-terminated, malloc()ed. */
static char *capture_end(captured_log_t *c) {
    fflush(stderr);
    assert_true(dup2(c->saved_stderr, 2) == 2);
    close(c->saved_stderr);
    size_t n;
    char *text = (char *)test_slurp(c->path, &n);
    text[n] = '\0';
    unlink(c->path);
    return text;
}

static st_log_t *open_capturing(older_log_t *o, char **log_text) {
    captured_log_t c;
    capture_start(&c);
    st_log_t *log = NULL;
    int rc = st_log_open(o->d.part, &o->cfg, 0, &log);
    *log_text = capture_end(&c);
    assert_int_equal(rc, 0);
    return log;
}

static int count_lines_with(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* Reads offset `off` and checks that it is served by the batch recorded at
 * (segment, batch), byte for byte. */
static void expect_served_by(st_log_t *log, const older_log_t *o, int64_t off, int seg, int batch) {
    st_log_read_result_t r;
    assert_int_equal(st_log_read(log, off, 1, true, &r), 0);
    const batch_at_t *b = &o->batches[seg][batch];
    assert_int_equal(r.file_pos, b->position);
    assert_int_equal(r.len, b->bytes);
    uint8_t *got = malloc((size_t)b->bytes);
    assert_int_equal(pread(r.fd, got, (size_t)b->bytes, r.file_pos), b->bytes);
    assert_memory_equal(got, o->bytes[seg] + b->position, (size_t)b->bytes);
    free(got);
    close(r.fd);
}

/* Every offset of every segment but `damaged` is served at its place, and
 * those segments' files are untouched; of the damaged one, the first
 * `kept_batches` batches are served and every offset after them reads as
 * the next segment's first batch (the next available one, as Kafka's read
 * moves on to the next segment). */
static void expect_undamaged_served(st_log_t *log, const older_log_t *o, int damaged, int32_t kept_batches) {
    assert_int_equal(st_log_segment_count(log), SEGMENTS);
    assert_int_equal(st_log_end_offset(log), o->end);
    for (int i = 0; i < SEGMENTS; i++) {
        char path[ST_FS_PATH_MAX];
        test_segment_file(path, &o->d, o->bases[i], ".log");
        size_t n;
        uint8_t *now = test_slurp(path, &n);
        int32_t batches = i == damaged ? kept_batches : o->batch_count[i];
        size_t expect_len = batches == o->batch_count[i] ? o->len[i] : (size_t)o->batches[i][batches].position;
        assert_int_equal(n, expect_len);
        assert_memory_equal(now, o->bytes[i], n);
        free(now);
        for (int32_t k = 0; k < batches; k++)
            for (int64_t off = o->batches[i][k].base_offset; off <= o->batches[i][k].last_offset; off++)
                expect_served_by(log, o, off, i, k);
        if (i == damaged) {
            int64_t lost_from = batches > 0 ? o->batches[i][batches - 1].last_offset + 1 : o->bases[i];
            for (int64_t off = lost_from; off < o->bases[i + 1]; off++) expect_served_by(log, o, off, i + 1, 0);
        }
    }
}

/* The batches of segment `seg` wholly inside its first `bytes` bytes. */
static int32_t whole_batches_within(const older_log_t *o, int seg, int64_t bytes) {
    int32_t n = 0;
    while (n < o->batch_count[seg] && o->batches[seg][n].position + o->batches[seg][n].bytes <= bytes) n++;
    return n;
}

static void damage_path(char *path, older_log_t *o, const char *suffix) {
    test_segment_file(path, &o->d, o->bases[DAMAGED], suffix);
}

static void test_older_segment_truncated_to_half(void **state) {
    (void)state;
    for (int clean = 0; clean < 2; clean++) {
        older_log_t o;
        older_log_make(&o, clean);
        char path[ST_FS_PATH_MAX];
        damage_path(path, &o, ".log");
        int64_t half = (int64_t)o.len[DAMAGED] / 2;
        int32_t kept = whole_batches_within(&o, DAMAGED, half);
        assert_true(kept > 0 && kept < o.batch_count[DAMAGED]);
        assert_true(o.batches[DAMAGED][kept].position < half); /* half cuts a batch */
        assert_int_equal(truncate(path, (off_t)half), 0);

        char *text;
        st_log_t *log = open_capturing(&o, &text);
        expect_undamaged_served(log, &o, DAMAGED, kept);
        /* One WARN line naming the file, where it was cut, how many bytes
         * went and how many stayed, and why. */
        int64_t cut_at = o.batches[DAMAGED][kept].position;
        const char *why = half - cut_at < ST_BATCH_HEADER_BYTES
                              ? "the file ends inside a batch header (a torn write or a truncated file)"
                              : "a batch that runs past the end of the file (a torn write or a truncated file)";
        char expect[ST_FS_PATH_MAX + 256];
        snprintf(expect, sizeof expect,
                 "WARN Found invalid data in log segment %s at byte position %" PRId64 ": %s. Truncated %" PRId64
                 " bytes, kept %" PRId64 " valid bytes", path, cut_at, why, half - cut_at, cut_at);
        assert_non_null(strstr(text, expect));
        assert_non_null(strstr(text, "the 2 later segment(s) are kept"));
        assert_int_equal(count_lines_with(text, "WARN"), 1);
        assert_int_equal(count_lines_with(text, "\n"), clean ? 1 : 2);
        if (!clean) assert_non_null(strstr(text, "was not cleanly shut down: recovering 1 unflushed segment(s)"));
        free(text);
        /* Writes go on at the end; a reopen finds nothing more to cut. */
        assert_int_equal(test_append(log, 2, 9000, 0, "after", false, 0), o.end);
        st_log_close(log);
        log = open_capturing(&o, &text);
        assert_null(strstr(text, "WARN"));
        free(text);
        assert_int_equal(st_log_end_offset(log), o.end + 2);
        st_log_close(log);
        older_log_free(&o);
    }
}

/* Flips a byte inside the records of the batch in the middle of the
 * damaged segment, as a stray write would. */
static int32_t flip_middle(older_log_t *o) {
    int32_t victim = o->batch_count[DAMAGED] / 2;
    const batch_at_t *b = &o->batches[DAMAGED][victim];
    char path[ST_FS_PATH_MAX];
    damage_path(path, o, ".log");
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    off_t at = (off_t)(b->position + b->bytes - 3);
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 0x5a;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);
    return victim;
}

static void test_older_segment_with_flipped_bytes(void **state) {
    (void)state;
    for (int clean = 0; clean < 2; clean++) {
        older_log_t o;
        older_log_make(&o, clean);
        pause_for_timestamps(); /* the write below must be seen as later */
        int32_t victim = flip_middle(&o);
        char path[ST_FS_PATH_MAX];
        damage_path(path, &o, ".log");
        char *text;
        st_log_t *log = open_capturing(&o, &text);
        /* The .log was written after its indexes: checked, and cut at the
         * batch whose CRC fails; the batches before it and every later
         * segment stay. */
        expect_undamaged_served(log, &o, DAMAGED, victim);
        char expect[ST_FS_PATH_MAX + 256];
        snprintf(expect, sizeof expect,
                 "WARN Found invalid data in log segment %s at byte position %" PRId64 ": a batch whose CRC-32C does"
                 " not match its bytes. Truncated %" PRId64 " bytes, kept %" PRId64 " valid bytes", path,
                 o.batches[DAMAGED][victim].position, (int64_t)o.len[DAMAGED] - o.batches[DAMAGED][victim].position,
                 o.batches[DAMAGED][victim].position);
        assert_non_null(strstr(text, expect));
        assert_int_equal(count_lines_with(text, "WARN"), 1);
        free(text);
        st_log_close(log);
        older_log_free(&o);
    }
}

/* Bit rot leaves the mtime alone: a sealed segment below the recovery point
 * is not rescanned at start (Kafka's rule; a scan of every segment would
 * make start-up time grow with the data). The batch is served as stored and
 * the client's CRC check (check.crcs) sees it. */
static void test_older_segment_rot_with_old_mtime_is_served_as_stored(void **state) {
    (void)state;
    older_log_t o;
    older_log_make(&o, true);
    char path[ST_FS_PATH_MAX];
    damage_path(path, &o, ".log");
    struct stat before;
    assert_int_equal(stat(path, &before), 0);
    flip_middle(&o);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
    char *text;
    st_log_t *log = open_capturing(&o, &text);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(st_log_segment_count(log), SEGMENTS);
    assert_int_equal(test_file_size(path), (int64_t)o.len[DAMAGED]);
    st_log_close(log);
    older_log_free(&o);
}

/* A .log touched (written, same bytes) after its indexes is checked once:
 * nothing is cut or logged, and its indexes are marked as checked so the
 * next start trusts it again without a scan. */
static void test_older_segment_touched_is_checked_once(void **state) {
    (void)state;
    older_log_t o;
    older_log_make(&o, true);
    pause_for_timestamps();
    char path[ST_FS_PATH_MAX], idx[ST_FS_PATH_MAX];
    damage_path(path, &o, ".log");
    damage_path(idx, &o, ".index");
    assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0);
    struct stat log_st, idx_st;
    assert_int_equal(stat(path, &log_st), 0);
    assert_int_equal(stat(idx, &idx_st), 0);
    assert_true(log_st.st_mtim.tv_sec > idx_st.st_mtim.tv_sec ||
                (log_st.st_mtim.tv_sec == idx_st.st_mtim.tv_sec && log_st.st_mtim.tv_nsec > idx_st.st_mtim.tv_nsec));
    char *text;
    st_log_t *log = open_capturing(&o, &text);
    assert_string_equal(text, "");
    free(text);
    expect_undamaged_served(log, &o, -1, 0);
    st_log_close(log);
    assert_int_equal(stat(idx, &idx_st), 0);
    assert_false(log_st.st_mtim.tv_sec > idx_st.st_mtim.tv_sec ||
                 (log_st.st_mtim.tv_sec == idx_st.st_mtim.tv_sec && log_st.st_mtim.tv_nsec > idx_st.st_mtim.tv_nsec));
    older_log_free(&o);
}

static void test_older_segment_index_deleted(void **state) {
    (void)state;
    for (int clean = 0; clean < 2; clean++) {
        older_log_t o;
        older_log_make(&o, clean);
        char path[ST_FS_PATH_MAX], idx[ST_FS_PATH_MAX];
        damage_path(path, &o, ".log");
        damage_path(idx, &o, ".index");
        size_t idx_len;
        uint8_t *idx_bytes = test_slurp(idx, &idx_len);
        assert_true(idx_len >= 16);
        assert_int_equal(unlink(idx), 0);
        char *text;
        st_log_t *log = open_capturing(&o, &text);
        expect_undamaged_served(log, &o, -1, 0);
        char expect[ST_FS_PATH_MAX + 128];
        snprintf(expect, sizeof expect, "INFO Rebuilt the indexes of log segment %s: the offset index file is missing",
                 path);
        assert_non_null(strstr(text, expect));
        assert_null(strstr(text, "WARN"));
        free(text);
        st_log_close(log);
        /* Rebuilt byte for byte. */
        size_t n;
        uint8_t *rebuilt = test_slurp(idx, &n);
        assert_int_equal(n, idx_len);
        assert_memory_equal(rebuilt, idx_bytes, n);
        free(rebuilt);
        free(idx_bytes);
        older_log_free(&o);
    }
}

/* With no recovery point every segment is scanned (unclean): a bad batch in
 * the first segment cuts that segment only. */
static void test_corrupt_first_segment_keeps_later_segments(void **state) {
    (void)state;
    older_log_t o;
    older_log_make(&o, false);
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/recovery-point", o.d.part);
    assert_int_equal(unlink(path), 0);
    test_segment_file(path, &o.d, o.bases[0], ".log");
    o.bytes[0][o.batches[0][1].position + 40] ^= 0x10;
    test_spit(path, o.bytes[0], o.len[0]);
    o.bytes[0][o.batches[0][1].position + 40] ^= 0x10;
    char *text;
    st_log_t *log = open_capturing(&o, &text);
    expect_undamaged_served(log, &o, 0, 1);
    assert_non_null(strstr(text, "has no readable recovery-point checkpoint: recovering all 4 segment(s)"));
    assert_non_null(strstr(text, "a batch whose CRC-32C does not match its bytes"));
    free(text);
    assert_int_equal(test_append(log, 1, 0, 0, "x", false, 0), o.end);
    st_log_close(log);
    older_log_free(&o);
}

/* Two damaged segments at once, and a torn active tail: each is cut on its
 * own, nothing else moves. */
static void test_several_damaged_segments(void **state) {
    (void)state;
    older_log_t o;
    older_log_make(&o, true);
    char path[ST_FS_PATH_MAX];
    test_segment_file(path, &o.d, o.bases[0], ".log");
    assert_int_equal(truncate(path, (off_t)(o.batches[0][2].position + 5)), 0);
    test_segment_file(path, &o.d, o.bases[2], ".log");
    assert_int_equal(truncate(path, (off_t)(o.batches[2][3].position + 70)), 0);
    int32_t last = o.batch_count[3] - 1;
    test_segment_file(path, &o.d, o.bases[3], ".log");
    assert_int_equal(truncate(path, (off_t)(o.batches[3][last].position + 10)), 0);
    char *text;
    st_log_t *log = open_capturing(&o, &text);
    assert_int_equal(count_lines_with(text, "WARN Found invalid data"), 3);
    assert_non_null(strstr(text, "the log now ends at offset"));
    free(text);
    assert_int_equal(st_log_segment_count(log), SEGMENTS);
    assert_int_equal(st_log_end_offset(log), o.batches[3][last].base_offset);
    for (int64_t off = o.batches[0][2].base_offset; off < o.bases[1]; off++) expect_served_by(log, &o, off, 1, 0);
    for (int64_t off = o.batches[2][3].base_offset; off < o.bases[3]; off++) expect_served_by(log, &o, off, 3, 0);
    for (int64_t off = o.bases[1]; off < o.bases[2]; off++) {
        st_log_read_result_t r;
        assert_int_equal(st_log_read(log, off, 1, true, &r), 0);
        close(r.fd);
    }
    expect_served_by(log, &o, o.batches[3][last].base_offset - 1, 3, last - 1);
    st_log_close(log);
    older_log_free(&o);
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


/* ---- transactions ---------------------------------------------------------
 *
 * A child writes transactions through the producer state and storage/txn_log
 * as a partition does (snapshots at every roll), then is killed. The
 * parent reopens: the log recovers, rebuilds the .txnindex entries, and the
 * producer state loaded from snapshot + log gives the LSO. */

#define TP1 201 /* opens early, still open at the crash */
#define TP2 202 /* opens in an older segment, aborted in the active one */
#define TP3 203 /* committed */
#define TP4 204 /* opens last, still open */

typedef struct txn_child {
    const char *dir;
    st_producer_state_t *ps;
    bool index_the_abort; /* false: the marker goes in with st_log_append only, as if killed before the index */
} txn_child_t;

static void txn_child_roll(void *ctx, int64_t base) {
    txn_child_t *c = ctx;
    (void)st_producer_state_write_snapshot(c->ps, c->dir, base);
}

/* Offsets the child wrote, in a shared file so the parent knows them. */
typedef struct txn_offsets {
    int64_t tp1_first, tp2_first, tp2_marker, tp4_first, end;
} txn_offsets_t;

static int txn_child_work(st_log_t *log, void *ctx) {
    txn_child_t *c = ctx;
    txn_offsets_t o;
    st_producer_state_t *ps = c->ps;
    o.tp1_first = txn_test_append(log, ps, TP1, 0, 0, 2, 0, "tp1", true, 1);
    for (int i = 0; i < 4; i++) txn_test_append(log, ps, 7, 0, 2 * i, 2, 100 + i, "plain", false, 1);
    o.tp2_first = txn_test_append(log, ps, TP2, 0, 0, 2, 200, "tp2", true, 1);
    for (int i = 0; i < 4; i++) txn_test_append(log, ps, 7, 0, 8 + 2 * i, 2, 300 + i, "plain", false, 1);
    txn_test_append(log, ps, TP3, 0, 0, 2, 400, "tp3", true, 1);
    txn_test_marker(log, ps, TP3, 0, true, 1);
    if (c->index_the_abort) {
        o.tp2_marker = txn_test_marker(log, ps, TP2, 0, false, 1);
    } else {
        st_writer_t w;
        st_writer_init(&w, 128);
        st_txn_marker_t m = {.commit = false, .coordinator_epoch = 0};
        st_txn_marker_batch_build(&w, TP2, 0, &m, 1);
        st_log_append_result_t r;
        if (st_log_append(log, w.data, w.len, 0, 1, false, &r) != 0) return -1;
        o.tp2_marker = r.base_offset;
        st_writer_free(&w);
    }
    o.tp4_first = txn_test_append(log, ps, TP4, 0, 0, 2, 500, "tp4", true, 1);
    o.end = st_log_end_offset(log);
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/offsets.test", c->dir);
    test_spit(path, (const uint8_t *)&o, sizeof o);
    return 0;
}

static txn_offsets_t txn_crash(test_dir_t *d, st_log_config_t *cfg, bool index_the_abort) {
    test_dir_make(d);
    test_config(cfg);
    cfg->segment_bytes = 400;
    st_producer_state_t *ps = st_producer_state_new();
    txn_child_t c = {.dir = d->part, .ps = ps, .index_the_abort = index_the_abort};
    cfg->on_roll = txn_child_roll;
    cfg->on_roll_ctx = &c;
    run_then_sigkill(d->part, cfg, txn_child_work, &c);
    st_producer_state_free(ps);
    cfg->on_roll = NULL;
    cfg->on_roll_ctx = NULL;
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/offsets.test", d->part);
    size_t len;
    uint8_t *bytes = test_slurp(path, &len);
    assert_int_equal(len, sizeof(txn_offsets_t));
    txn_offsets_t o;
    memcpy(&o, bytes, sizeof o);
    free(bytes);
    unlink(path);
    return o;
}

/* What the reopened log and producer state must say. */
static void expect_txn_state(st_log_t *log, st_producer_state_t *ps, const txn_offsets_t *o) {
    assert_int_equal(st_log_end_offset(log), o->end);
    /* TP1 and TP4 are open: the LSO stops at TP1's first batch. */
    assert_int_equal(st_producer_state_ongoing_count(ps), 2);
    assert_int_equal(st_producer_state_last_stable_offset(ps, 0, o->end), o->tp1_first);
    st_producer_info_t info;
    assert_true(st_producer_state_get(ps, TP4, &info));
    assert_int_equal(info.current_txn_first_offset, o->tp4_first);
    /* TP2's abort is indexed, with its first batch from an older segment
     * and the LSO TP1 held it at. */
    st_aborted_txns_t all = txn_test_aborted(log, 0, o->end);
    assert_int_equal(all.count, 1);
    assert_true(all.items[0].producer_id == TP2);
    assert_int_equal(all.items[0].first_offset, o->tp2_first);
    assert_int_equal(all.items[0].last_offset, o->tp2_marker);
    assert_int_equal(all.items[0].last_stable_offset, o->tp1_first);
    st_aborted_txns_free(&all);
}

static void test_txn_crash_with_open_transactions_and_an_abort(void **state) {
    (void)state;
    for (int indexed = 1; indexed >= 0; indexed--) {
        test_dir_t d;
        st_log_config_t cfg;
        txn_offsets_t o = txn_crash(&d, &cfg, indexed == 1);
        st_log_t *log;
        assert_int_equal(st_log_open(d.part, &cfg, 10, &log), 0);
        assert_true(st_log_segment_count(log) >= 3);
        st_producer_state_t *ps = st_producer_state_new();
        assert_int_equal(st_txn_log_load_producer_state(log, ps, d.part, 10, ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT), 0);
        expect_txn_state(log, ps, &o);

        /* The producers go on: TP1 aborts (LSO then TP4's), TP4 commits. */
        int64_t m1 = txn_test_marker(log, ps, TP1, 0, false, 20);
        assert_int_equal(st_producer_state_last_stable_offset(ps, 0, st_log_end_offset(log)), o.tp4_first);
        txn_test_marker(log, ps, TP4, 0, true, 20);
        assert_int_equal(st_producer_state_last_stable_offset(ps, 0, st_log_end_offset(log)), st_log_end_offset(log));
        st_aborted_txns_t all = txn_test_aborted(log, 0, st_log_end_offset(log));
        assert_int_equal(all.count, 2);
        assert_int_equal(all.items[1].first_offset, o.tp1_first);
        assert_int_equal(all.items[1].last_offset, m1);
        assert_int_equal(all.items[1].last_stable_offset, o.tp4_first);
        st_aborted_txns_free(&all);

        /* A clean restart keeps all of it, with no rebuild needed. */
        int64_t end = st_log_end_offset(log);
        assert_int_equal(st_producer_state_write_snapshot(ps, d.part, end), 0);
        st_log_close(log);
        st_producer_state_free(ps);
        assert_int_equal(st_log_open(d.part, &cfg, 30, &log), 0);
        ps = st_producer_state_new();
        assert_int_equal(st_txn_log_load_producer_state(log, ps, d.part, 30, ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT), 0);
        assert_int_equal(st_producer_state_ongoing_count(ps), 0);
        all = txn_test_aborted(log, 0, end);
        assert_int_equal(all.count, 2);
        st_aborted_txns_free(&all);
        st_log_close(log);
        st_producer_state_free(ps);
        test_dir_remove(&d);
    }
}

/* A .txnindex damaged while the log was closed cleanly: its segment is
 * recovered and the entry comes back from the batches; without snapshots
 * the rebuild replays from the log start. */
static void test_txn_damaged_index_rebuilt(void **state) {
    (void)state;
    test_dir_t d;
    st_log_config_t cfg;
    txn_offsets_t o = txn_crash(&d, &cfg, true);
    st_log_t *log;
    assert_int_equal(st_log_open(d.part, &cfg, 10, &log), 0);
    st_log_close(log);
    /* Find the segment that holds TP2's marker and cut its index. */
    DIR *dir = opendir(d.part);
    assert_non_null(dir);
    struct dirent *de;
    char path[ST_FS_PATH_MAX] = "";
    while ((de = readdir(dir)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 9 && strcmp(de->d_name + l - 9, ".txnindex") == 0)
            snprintf(path, sizeof path, "%s/%s", d.part, de->d_name);
        if (l > 9 && strcmp(de->d_name + l - 9, ".snapshot") == 0) {
            char snap[ST_FS_PATH_MAX];
            snprintf(snap, sizeof snap, "%s/%s", d.part, de->d_name);
            unlink(snap);
        }
    }
    closedir(dir);
    assert_true(path[0] != '\0');
    assert_int_equal(truncate(path, 20), 0);
    assert_int_equal(st_log_open(d.part, &cfg, 10, &log), 0);
    st_producer_state_t *ps = st_producer_state_new();
    assert_int_equal(st_txn_log_load_producer_state(log, ps, d.part, 10, ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT), 0);
    expect_txn_state(log, ps, &o);
    assert_int_equal(test_file_size(path), ST_TXN_INDEX_ENTRY_BYTES);
    st_log_close(log);
    st_producer_state_free(ps);
    test_dir_remove(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_tail_at_every_byte),
        cmocka_unit_test(test_flipped_bit_in_last_batch),
        cmocka_unit_test(test_garbage_after_tail),
        cmocka_unit_test(test_missing_and_corrupt_indexes_rebuilt),
        cmocka_unit_test(test_leftovers_cleaned_up),
        cmocka_unit_test(test_killed_process_keeps_appends),
        cmocka_unit_test(test_older_segment_truncated_to_half),
        cmocka_unit_test(test_older_segment_with_flipped_bytes),
        cmocka_unit_test(test_older_segment_rot_with_old_mtime_is_served_as_stored),
        cmocka_unit_test(test_older_segment_touched_is_checked_once),
        cmocka_unit_test(test_older_segment_index_deleted),
        cmocka_unit_test(test_corrupt_first_segment_keeps_later_segments),
        cmocka_unit_test(test_several_damaged_segments),
        cmocka_unit_test(test_clean_reopen_writes_nothing),
        cmocka_unit_test(test_write_after_clean_open_makes_crash_unclean),
        cmocka_unit_test(test_epochs_recovered_from_batches),
        cmocka_unit_test(test_active_indexes_verified_after_clean_open),
        cmocka_unit_test(test_txn_crash_with_open_transactions_and_an_abort),
        cmocka_unit_test(test_txn_damaged_index_rebuilt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
