/* Unit tests for storage/producer_state: sequence and epoch checks as Kafka's
 * ProducerAppendInfo does them, duplicates of the last five batches,
 * expiration, the table under growth and removal, snapshot files, and
 * transactions: open ones, markers and their checks, the LSO. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol/buf.h"
#include "protocol/crc32c.h"
#include "common/errors.h"
#include "storage/producer_state.h"

#define PID 1000
#define NOW_MS 1700000000000LL

static st_batch_header_t batch(int64_t producer_id, int16_t epoch, int32_t base_sequence, int32_t records) {
    st_batch_header_t h;
    memset(&h, 0, sizeof h);
    h.base_offset = -1; /* not assigned yet */
    h.magic = 2;
    h.producer_id = producer_id;
    h.producer_epoch = epoch;
    h.base_sequence = base_sequence;
    h.last_offset_delta = records - 1;
    h.record_count = records;
    h.base_timestamp = 5000;
    h.max_timestamp = 5000 + (int64_t)base_sequence;
    return h;
}

/* Checks (expecting APPEND) then records the batch at *next_offset. */
static void append_ok(st_producer_state_t *s, st_batch_header_t h, int64_t *next_offset, int64_t now_ms) {
    st_producer_check_t c;
    assert_int_equal(st_producer_state_check(s, &h, &c), 0);
    assert_int_equal(c.verdict, ST_PRODUCER_APPEND);
    int64_t first = *next_offset, last = first + h.last_offset_delta;
    st_producer_state_update(s, &h, first, last, now_ms);
    *next_offset = last + 1;
}

static int check(const st_producer_state_t *s, st_batch_header_t h) {
    st_producer_check_t c;
    int rc = st_producer_state_check(s, &h, &c);
    if (rc == 0 && c.verdict == ST_PRODUCER_DUPLICATE) return 1000; /* distinct from any code */
    return rc;
}
#define DUPLICATE 1000

/* ---- sequence and epoch checks ---- */

static void test_in_sequence_appends(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    int32_t seq = 0;
    for (int i = 0; i < 20; i++) {
        append_ok(s, batch(PID, 0, seq, 3), &next, NOW_MS + i);
        seq += 3;
    }
    assert_int_equal(st_producer_state_count(s), 1);
    st_producer_info_t info;
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.producer_epoch, 0);
    assert_int_equal(info.last_sequence, 59);
    assert_int_equal(info.last_offset, 59);
    assert_int_equal(info.batch_count, ST_PRODUCER_BATCHES_RETAINED);
    assert_int_equal(info.last_update_ms, NOW_MS + 19);
    assert_int_equal(info.last_timestamp, 5000 + 57);
    assert_false(st_producer_state_get(s, PID + 1, &info));
    st_producer_state_free(s);
}

static void test_duplicates_of_last_five(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 100;
    int64_t base[8];
    for (int i = 0; i < 8; i++) {
        base[i] = next;
        append_ok(s, batch(PID, 2, i * 2, 2), &next, NOW_MS);
    }
    /* Batches 3..7 are cached: each retry gets its original offsets. */
    for (int i = 3; i < 8; i++) {
        st_batch_header_t h = batch(PID, 2, i * 2, 2);
        st_producer_check_t c;
        assert_int_equal(st_producer_state_check(s, &h, &c), 0);
        assert_int_equal(c.verdict, ST_PRODUCER_DUPLICATE);
        assert_int_equal(c.duplicate_base_offset, base[i]);
        assert_int_equal(c.duplicate_last_offset, base[i] + 1);
        assert_int_equal(c.duplicate_timestamp, 5000 + i * 2);
    }
    /* Older than five: Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER, not
     * DUPLICATE_SEQUENCE_NUMBER. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(check(s, batch(PID, 2, i * 2, 2)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Same first sequence but a different range is not a duplicate. */
    assert_int_equal(check(s, batch(PID, 2, 14, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(check(s, batch(PID, 2, 14, 3)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* The right range with another epoch is not a duplicate either. */
    assert_int_equal(check(s, batch(PID, 1, 14, 2)), ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(check(s, batch(PID, 3, 14, 2)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Next one is still fine. */
    assert_int_equal(check(s, batch(PID, 2, 16, 2)), 0);
    st_producer_state_free(s);
}

static void test_gap_is_out_of_order(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    append_ok(s, batch(PID, 0, 0, 5), &next, NOW_MS);
    assert_int_equal(check(s, batch(PID, 0, 6, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(check(s, batch(PID, 0, 100, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Inside the last batch but not its exact range. */
    assert_int_equal(check(s, batch(PID, 0, 3, 2)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(check(s, batch(PID, 0, 5, 1)), 0);
    st_producer_state_free(s);
}

static void test_stale_epoch_is_invalid(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    append_ok(s, batch(PID, 5, 0, 1), &next, NOW_MS);
    assert_int_equal(check(s, batch(PID, 4, 1, 1)), ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(check(s, batch(PID, 4, 0, 1)), ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(check(s, batch(PID, 0, 0, 1)), ST_ERR_INVALID_PRODUCER_EPOCH);
    st_producer_state_free(s);
}

static void test_new_epoch_resets(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    for (int i = 0; i < 4; i++) append_ok(s, batch(PID, 0, i, 1), &next, NOW_MS);
    /* A bumped epoch must restart at 0 (KIP-360). */
    assert_int_equal(check(s, batch(PID, 1, 4, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    append_ok(s, batch(PID, 1, 0, 2), &next, NOW_MS);
    st_producer_info_t info;
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.producer_epoch, 1);
    assert_int_equal(info.batch_count, 1);
    assert_int_equal(info.last_sequence, 1);
    /* Old epoch is fenced, its batches are no longer duplicates. */
    assert_int_equal(check(s, batch(PID, 0, 3, 1)), ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(check(s, batch(PID, 1, 0, 2)), DUPLICATE);
    assert_int_equal(check(s, batch(PID, 1, 2, 1)), 0);
    st_producer_state_free(s);
}

static void test_unknown_producer_accepts_any_sequence(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    /* Kafka 2.5+ (KIP-360) accepts the first batch of a producer it has no
     * state for at any sequence: its state may have been removed by
     * retention. UNKNOWN_PRODUCER_ID is not returned. */
    assert_int_equal(check(s, batch(PID, 0, 0, 1)), 0);
    assert_int_equal(check(s, batch(PID, 0, 17, 1)), 0);
    assert_int_equal(check(s, batch(PID, 7, 123456, 4)), 0);
    int64_t next = 50;
    append_ok(s, batch(PID, 3, 42, 2), &next, NOW_MS);
    assert_int_equal(check(s, batch(PID, 3, 44, 1)), 0);
    assert_int_equal(check(s, batch(PID, 3, 0, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Another producer id is independent. */
    assert_int_equal(check(s, batch(PID + 1, 0, 99, 1)), 0);
    st_producer_state_free(s);
}

static void test_sequence_wraps_at_int32_max(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 735;
    append_ok(s, batch(PID, 15, INT32_MAX, 1), &next, NOW_MS);
    /* After INT32_MAX comes 0, not 1 and not INT32_MAX + 1. */
    assert_int_equal(check(s, batch(PID, 15, 1, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    append_ok(s, batch(PID, 15, 0, 1), &next, NOW_MS);

    /* A batch spanning the wrap: INT32_MAX-10 .. 9 (21 records). */
    st_producer_state_t *w = st_producer_state_new();
    next = 2000;
    append_ok(w, batch(PID, 15, INT32_MAX - 30, 20), &next, NOW_MS);
    append_ok(w, batch(PID, 15, INT32_MAX - 10, 21), &next, NOW_MS);
    st_producer_info_t info;
    assert_true(st_producer_state_get(w, PID, &info));
    assert_int_equal(info.last_sequence, 9);
    assert_int_equal(info.last_offset, 2040);
    assert_int_equal(check(w, batch(PID, 15, INT32_MAX - 10, 21)), DUPLICATE);
    assert_int_equal(check(w, batch(PID, 15, 10, 1)), 0);
    assert_int_equal(check(w, batch(PID, 15, 11, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    st_producer_state_free(w);
    st_producer_state_free(s);
}

static void test_control_batch_moves_epoch_only(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    append_ok(s, batch(PID, 0, 0, 1), &next, NOW_MS);
    append_ok(s, batch(PID, 0, 1, 1), &next, NOW_MS);
    /* An abort marker written with a bumped epoch (Kafka's
     * testOutOfSequenceAfterControlRecordEpochBump). */
    st_batch_header_t marker = batch(PID, 1, -1, 1);
    marker.attributes = ST_BATCH_ATTR_CONTROL | ST_BATCH_ATTR_TRANSACTIONAL;
    marker.base_offset = next++;
    st_producer_state_replay(s, &marker, NOW_MS);
    st_producer_info_t info;
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.producer_epoch, 1);
    assert_int_equal(info.batch_count, 0);
    assert_int_equal(info.last_sequence, -1);
    /* Same epoch with an empty cache: only sequence 0 continues. */
    assert_int_equal(check(s, batch(PID, 1, 2, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(check(s, batch(PID, 2, 2, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(check(s, batch(PID, 0, 2, 1)), ST_ERR_INVALID_PRODUCER_EPOCH);
    append_ok(s, batch(PID, 1, 0, 1), &next, NOW_MS);
    st_producer_state_free(s);
}

static void test_check_does_not_change_state(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    append_ok(s, batch(PID, 0, 0, 1), &next, NOW_MS);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(check(s, batch(PID, 0, 1, 1)), 0);
        assert_int_equal(check(s, batch(PID, 1, 0, 1)), 0);
        assert_int_equal(check(s, batch(PID + 1, 0, 5, 1)), 0);
    }
    assert_int_equal(st_producer_state_count(s), 1);
    st_producer_info_t info;
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.producer_epoch, 0);
    assert_int_equal(info.last_sequence, 0);
    st_producer_state_free(s);
}

static void test_negative_offset_delta_is_invalid(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    st_batch_header_t h = batch(PID, 0, 0, 1);
    h.last_offset_delta = -1;
    assert_int_equal(check(s, h), ST_ERR_INVALID_RECORD);
    st_producer_state_free(s);
}

static void test_replay_rebuilds_state(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    /* Replay does not validate: a gap from the log is taken as is. */
    st_batch_header_t h = batch(PID, 4, 10, 3);
    h.base_offset = 300;
    st_producer_state_replay(s, &h, NOW_MS);
    h = batch(PID, 4, 20, 2);
    h.base_offset = 303;
    st_producer_state_replay(s, &h, NOW_MS);
    h = batch(-1, -1, -1, 5); /* no producer: ignored */
    h.base_offset = 305;
    st_producer_state_replay(s, &h, NOW_MS);
    assert_int_equal(st_producer_state_count(s), 1);
    st_producer_check_t c;
    h = batch(PID, 4, 10, 3);
    assert_int_equal(st_producer_state_check(s, &h, &c), 0);
    assert_int_equal(c.verdict, ST_PRODUCER_DUPLICATE);
    assert_int_equal(c.duplicate_base_offset, 300);
    assert_int_equal(c.duplicate_last_offset, 302);
    assert_int_equal(check(s, batch(PID, 4, 22, 1)), 0);
    st_producer_state_free(s);
}

/* ---- table: expiration, growth, limit ---- */

static void test_expiration(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    const int64_t expiration_ms = ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT;
    int64_t next = 0;
    append_ok(s, batch(1, 0, 0, 1), &next, 1000);
    append_ok(s, batch(2, 0, 0, 1), &next, 2000);
    append_ok(s, batch(3, 0, 0, 1), &next, 3000);
    append_ok(s, batch(1, 0, 1, 1), &next, 4000); /* refreshed */

    st_producer_state_expire(s, 2000 + expiration_ms - 1, expiration_ms);
    assert_int_equal(st_producer_state_count(s), 3);
    /* Kafka expires at now - last >= expiration. */
    st_producer_state_expire(s, 2000 + expiration_ms, expiration_ms);
    assert_int_equal(st_producer_state_count(s), 2);
    st_producer_info_t info;
    assert_false(st_producer_state_get(s, 2, &info));
    assert_true(st_producer_state_get(s, 1, &info));
    assert_true(st_producer_state_get(s, 3, &info));
    /* Expired producer comes back as unknown: any sequence is accepted. */
    assert_int_equal(check(s, batch(2, 0, 77, 1)), 0);

    st_producer_state_expire(s, 4000 + expiration_ms, expiration_ms);
    assert_int_equal(st_producer_state_count(s), 0);
    st_producer_state_free(s);
}

static void test_many_producers_grow_and_shrink(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    const int n = 20000;
    int64_t next = 0;
    /* Clustered ids and a stride that collide in low bits. */
    for (int i = 0; i < n; i++) {
        int64_t pid = (i % 2) ? 1000000000LL + (int64_t)i * 4096 : i;
        append_ok(s, batch(pid, (int16_t)(i % 7), i % 100, 1), &next, i);
    }
    assert_int_equal(st_producer_state_count(s), n);
    /* Expire the first 3/4 by update time. */
    st_producer_state_expire(s, (3 * n / 4) + 10, 11);
    assert_int_equal(st_producer_state_count(s), n / 4);
    for (int i = 0; i < n; i++) {
        int64_t pid = (i % 2) ? 1000000000LL + (int64_t)i * 4096 : i;
        st_producer_info_t info;
        bool known = st_producer_state_get(s, pid, &info);
        assert_int_equal(known, i >= 3 * n / 4);
        if (known) {
            assert_int_equal(info.producer_epoch, i % 7);
            assert_int_equal(info.last_sequence, i % 100);
            assert_int_equal(check(s, batch(pid, (int16_t)(i % 7), i % 100, 1)), DUPLICATE);
        }
    }
    /* Iteration visits each remaining producer once. */
    int seen = 0;
    st_producer_info_t info;
    for (int32_t i = 0; st_producer_state_at(s, i, &info); i++) {
        assert_true(st_producer_state_get(s, info.producer_id, &info));
        seen++;
    }
    assert_int_equal(seen, n / 4);
    assert_false(st_producer_state_at(s, -1, &info));
    /* Re-add after removal and clear. */
    append_ok(s, batch(5, 0, 0, 1), &next, NOW_MS);
    assert_int_equal(st_producer_state_count(s), n / 4 + 1);
    st_producer_state_clear(s);
    assert_int_equal(st_producer_state_count(s), 0);
    assert_false(st_producer_state_get(s, 5, &info));
    append_ok(s, batch(5, 0, 3, 1), &next, NOW_MS);
    assert_int_equal(st_producer_state_count(s), 1);
    st_producer_state_free(s);
}

static void test_producer_limit(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    for (int64_t pid = 0; pid < ST_PRODUCER_STATE_PRODUCERS_MAX; pid++) {
        st_batch_header_t h = batch(pid, 0, 0, 1);
        st_producer_state_update(s, &h, pid, pid, pid + 10);
    }
    assert_int_equal(st_producer_state_count(s), ST_PRODUCER_STATE_PRODUCERS_MAX);
    /* A new producer is refused; known ones carry on. */
    assert_int_equal(check(s, batch(ST_PRODUCER_STATE_PRODUCERS_MAX, 0, 0, 1)), ST_ERR_LIMIT);
    assert_int_equal(check(s, batch(7, 0, 1, 1)), 0);
    /* Replay past the cap replaces the least recently updated (pid 0). */
    st_batch_header_t h = batch(ST_PRODUCER_STATE_PRODUCERS_MAX, 0, 0, 1);
    h.base_offset = ST_PRODUCER_STATE_PRODUCERS_MAX;
    st_producer_state_replay(s, &h, NOW_MS);
    assert_int_equal(st_producer_state_count(s), ST_PRODUCER_STATE_PRODUCERS_MAX);
    st_producer_info_t info;
    assert_false(st_producer_state_get(s, 0, &info));
    assert_true(st_producer_state_get(s, 1, &info));
    assert_true(st_producer_state_get(s, ST_PRODUCER_STATE_PRODUCERS_MAX, &info));
    st_producer_state_free(s);
}

/* ---- snapshots ---- */

static char *make_dir(void) {
    char *dir = strdup("/tmp/strata_producer_state_XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_dir(char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static bool file_exists(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void touch(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "junk", 4), 4);
    close(fd);
}

static size_t read_file(const char *dir, const char *name, uint8_t *buf, size_t cap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void write_file(const char *dir, const char *name, const uint8_t *buf, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* Three producers: one with five cached batches, one with one, one with an
 * epoch but no batch (after a marker). Offsets end below 40. */
static st_producer_state_t *sample_state(void) {
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    for (int i = 0; i < 7; i++) append_ok(s, batch(11, 3, i * 2, 2), &next, NOW_MS + i);
    append_ok(s, batch(22, 0, INT32_MAX, 2), &next, NOW_MS + 50);
    st_batch_header_t marker = batch(33, 9, -1, 1);
    marker.attributes = ST_BATCH_ATTR_CONTROL;
    marker.base_offset = next++;
    st_producer_state_replay(s, &marker, NOW_MS + 60);
    assert_true(next <= 40);
    return s;
}

static void assert_sample_state(const st_producer_state_t *s) {
    assert_int_equal(st_producer_state_count(s), 3);
    st_producer_info_t info;
    assert_true(st_producer_state_get(s, 11, &info));
    assert_int_equal(info.producer_epoch, 3);
    assert_int_equal(info.batch_count, 5);
    assert_int_equal(info.last_sequence, 13);
    assert_int_equal(info.last_offset, 13);
    assert_int_equal(info.last_update_ms, NOW_MS + 6);
    /* All five cached batches survive, not only the last. */
    for (int i = 2; i < 7; i++) {
        st_batch_header_t h = batch(11, 3, i * 2, 2);
        st_producer_check_t c;
        assert_int_equal(st_producer_state_check(s, &h, &c), 0);
        assert_int_equal(c.verdict, ST_PRODUCER_DUPLICATE);
        assert_int_equal(c.duplicate_base_offset, i * 2);
        assert_int_equal(c.duplicate_last_offset, i * 2 + 1);
        assert_int_equal(c.duplicate_timestamp, 5000 + i * 2);
    }
    assert_int_equal(check(s, batch(11, 3, 14, 1)), 0);
    assert_true(st_producer_state_get(s, 22, &info));
    assert_int_equal(info.last_sequence, 0); /* wrapped */
    assert_int_equal(check(s, batch(22, 0, 1, 1)), 0);
    assert_true(st_producer_state_get(s, 33, &info));
    assert_int_equal(info.producer_epoch, 9);
    assert_int_equal(info.batch_count, 0);
    assert_int_equal(info.last_update_ms, NOW_MS + 60);
    assert_int_equal(check(s, batch(33, 9, 1, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(check(s, batch(33, 9, 0, 1)), 0);
}

static void test_snapshot_round_trip(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *s = sample_state();
    assert_int_equal(st_producer_state_write_snapshot(s, dir, 40), 0);
    assert_true(file_exists(dir, "00000000000000000040.snapshot"));
    assert_int_equal(count_files(dir), 1); /* no temporary left behind */

    st_producer_state_t *loaded = st_producer_state_new();
    /* Whatever was in the state before is replaced. */
    int64_t next = 0;
    append_ok(loaded, batch(999, 0, 0, 1), &next, NOW_MS);
    int64_t offset = -1;
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    assert_int_equal(offset, 40);
    assert_sample_state(loaded);
    st_producer_info_t info;
    assert_false(st_producer_state_get(loaded, 999, &info));

    /* An empty state round-trips too. */
    st_producer_state_t *empty = st_producer_state_new();
    assert_int_equal(st_producer_state_write_snapshot(empty, dir, 50), 0);
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    assert_int_equal(offset, 50);
    assert_int_equal(st_producer_state_count(loaded), 0);

    st_producer_state_free(empty);
    st_producer_state_free(loaded);
    st_producer_state_free(s);
    remove_dir(dir);
}

static void test_snapshot_load_picks_newest_at_or_below(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *s = sample_state();
    assert_int_equal(st_producer_state_write_snapshot(s, dir, 40), 0);
    int64_t next = 40;
    append_ok(s, batch(44, 0, 0, 1), &next, NOW_MS);
    assert_int_equal(st_producer_state_write_snapshot(s, dir, 41), 0);
    append_ok(s, batch(55, 0, 0, 1), &next, NOW_MS);
    assert_int_equal(st_producer_state_write_snapshot(s, dir, 42), 0);

    st_producer_state_t *loaded = st_producer_state_new();
    int64_t offset;
    assert_int_equal(st_producer_state_load(loaded, dir, 41, &offset), 0);
    assert_int_equal(offset, 41);
    assert_int_equal(st_producer_state_count(loaded), 4);
    assert_int_equal(st_producer_state_load(loaded, dir, 40, &offset), 0);
    assert_int_equal(offset, 40);
    assert_sample_state(loaded);
    assert_int_equal(st_producer_state_load(loaded, dir, 39, &offset), 0);
    assert_int_equal(offset, 0);
    assert_int_equal(st_producer_state_count(loaded), 0);
    /* Nothing was deleted by looking. */
    assert_int_equal(count_files(dir), 3);
    st_producer_state_free(loaded);
    st_producer_state_free(s);
    remove_dir(dir);
}

static void test_snapshot_corrupt_skipped_older_used(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *s = sample_state();
    assert_int_equal(st_producer_state_write_snapshot(s, dir, 40), 0);
    int64_t next = 40;
    append_ok(s, batch(44, 0, 0, 1), &next, NOW_MS);
    assert_int_equal(st_producer_state_write_snapshot(s, dir, 60), 0);

    /* Flip one bit in the newest one's body. */
    uint8_t buf[4096];
    size_t len = read_file(dir, "00000000000000000060.snapshot", buf, sizeof buf);
    assert_true(len > 30);
    buf[len - 3] ^= 0x10;
    write_file(dir, "00000000000000000060.snapshot", buf, len);

    st_producer_state_t *loaded = st_producer_state_new();
    int64_t offset;
    assert_int_equal(st_producer_state_load(loaded, dir, 100, &offset), 0);
    assert_int_equal(offset, 40);
    assert_sample_state(loaded);
    assert_false(file_exists(dir, "00000000000000000060.snapshot"));
    assert_true(file_exists(dir, "00000000000000000040.snapshot"));

    /* Truncated, empty and wrong-version files are skipped the same way. */
    write_file(dir, "00000000000000000070.snapshot", buf, 10);
    write_file(dir, "00000000000000000080.snapshot", buf, 0);
    len = read_file(dir, "00000000000000000040.snapshot", buf, sizeof buf);
    buf[1] = 3; /* version 3 */
    write_file(dir, "00000000000000000090.snapshot", buf, len);
    /* A valid file under another offset's name (its body says 40). */
    buf[1] = 2;
    write_file(dir, "00000000000000000095.snapshot", buf, len);
    /* A version 2 body read as version 1 does not parse. */
    buf[1] = 1;
    write_file(dir, "00000000000000000096.snapshot", buf, len);
    assert_int_equal(st_producer_state_load(loaded, dir, 100, &offset), 0);
    assert_int_equal(offset, 40);
    assert_int_equal(count_files(dir), 1);

    /* Only corrupt ones: empty state, offset 0. */
    write_file(dir, "00000000000000000040.snapshot", buf, len - 1);
    assert_int_equal(st_producer_state_load(loaded, dir, 100, &offset), 0);
    assert_int_equal(offset, 0);
    assert_int_equal(st_producer_state_count(loaded), 0);
    assert_int_equal(count_files(dir), 0);

    st_producer_state_free(loaded);
    st_producer_state_free(s);
    remove_dir(dir);
}

/* Builds a snapshot with a correct CRC around a hand-made body, to check
 * that contents are validated even when the checksum matches. */
static void write_crafted(const char *dir, int64_t offset, int32_t count, int64_t pid, int8_t batches,
                          int64_t first_offset, int64_t last_offset) {
    st_writer_t w;
    st_writer_init(&w, 256);
    st_write_i16(&w, 1);
    st_write_u32(&w, 0);
    st_write_i64(&w, offset);
    st_write_i32(&w, count);
    st_write_i64(&w, pid);
    st_write_i16(&w, 0);
    st_write_i64(&w, NOW_MS);
    st_write_i8(&w, batches);
    for (int i = 0; i < (batches > 0 ? batches : 0) && i < 6; i++) {
        st_write_i32(&w, i);
        st_write_i32(&w, i);
        st_write_i64(&w, first_offset + i);
        st_write_i64(&w, last_offset + i);
        st_write_i64(&w, 0);
    }
    st_writer_patch_i32(&w, 2, (int32_t)st_crc32c(0, w.data + 6, w.len - 6));
    char name[64];
    snprintf(name, sizeof name, "%020lld.snapshot", (long long)offset);
    write_file(dir, name, w.data, w.len);
    st_writer_free(&w);
}

static void test_snapshot_contents_not_trusted(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *loaded = st_producer_state_new();
    int64_t offset;

    write_crafted(dir, 100, 1, 7, 1, 10, 10); /* valid */
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    assert_int_equal(offset, 100);
    assert_int_equal(st_producer_state_count(loaded), 1);

    write_crafted(dir, 200, 1000000, 7, 1, 10, 10); /* count beyond the bytes */
    write_crafted(dir, 201, -1, 7, 1, 10, 10);      /* negative count */
    write_crafted(dir, 202, 1, -5, 1, 10, 10);      /* negative producer id */
    write_crafted(dir, 203, 1, 7, 6, 10, 10);       /* six batches */
    write_crafted(dir, 204, 1, 7, -1, 10, 10);      /* negative batch count */
    write_crafted(dir, 205, 1, 7, 1, 10, 9);        /* last < first offset */
    write_crafted(dir, 206, 1, 7, 1, 10, 206);      /* at or past the snapshot offset */
    write_crafted(dir, 207, 2, 7, 1, 10, 10);       /* second entry missing */
    write_crafted(dir, 208, 1, 7, 2, 10, 20);       /* overlapping batches */
    write_crafted(dir, 209, 0, 7, 1, 10, 10);       /* trailing bytes */
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    assert_int_equal(offset, 100);
    assert_int_equal(st_producer_state_count(loaded), 1);
    assert_int_equal(count_files(dir), 1);

    st_producer_state_free(loaded);
    remove_dir(dir);
}

static void test_snapshot_load_empty_missing_and_stray_files(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *s = st_producer_state_new();
    int64_t offset = -1;
    assert_int_equal(st_producer_state_load(s, dir, 100, &offset), 0);
    assert_int_equal(offset, 0);
    assert_int_equal(st_producer_state_load(s, "/nonexistent/strata/dir", 100, &offset), 0);
    assert_int_equal(offset, 0);

    /* A leftover temporary is removed; unrelated names are left alone. */
    touch(dir, "00000000000000000010.snapshot.tmp");
    touch(dir, "00000000000000000010.log");
    touch(dir, "10.snapshot");
    touch(dir, "0000000000000000001x.snapshot");
    touch(dir, "99999999999999999999.snapshot"); /* overflows int64: not ours */
    assert_int_equal(st_producer_state_load(s, dir, INT64_MAX, &offset), 0);
    assert_int_equal(offset, 0);
    assert_false(file_exists(dir, "00000000000000000010.snapshot.tmp"));
    assert_int_equal(count_files(dir), 4);

    /* Writing into a missing directory fails cleanly. */
    assert_int_equal(st_producer_state_write_snapshot(s, "/nonexistent/strata/dir", 5), ST_ERR_IO);
    st_producer_state_free(s);
    remove_dir(dir);
}

static void test_delete_snapshots(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *s = st_producer_state_new();
    const int64_t offsets[] = {0, 10, 20, 30, 40, 50};
    for (size_t i = 0; i < 6; i++) assert_int_equal(st_producer_state_write_snapshot(s, dir, offsets[i]), 0);
    touch(dir, "00000000000000000010.log");

    assert_int_equal(st_producer_state_delete_snapshots(dir, 20, 40), 0);
    assert_false(file_exists(dir, "00000000000000000000.snapshot"));
    assert_false(file_exists(dir, "00000000000000000010.snapshot"));
    assert_true(file_exists(dir, "00000000000000000020.snapshot"));
    assert_true(file_exists(dir, "00000000000000000030.snapshot"));
    assert_true(file_exists(dir, "00000000000000000040.snapshot"));
    assert_false(file_exists(dir, "00000000000000000050.snapshot"));
    assert_true(file_exists(dir, "00000000000000000010.log"));

    /* Only the lower bound (no truncation). */
    assert_int_equal(st_producer_state_delete_snapshots(dir, 30, INT64_MAX), 0);
    assert_false(file_exists(dir, "00000000000000000020.snapshot"));
    assert_int_equal(count_files(dir), 3);
    /* Nothing to do, and a missing dir, are fine. */
    assert_int_equal(st_producer_state_delete_snapshots(dir, 0, INT64_MAX), 0);
    assert_int_equal(st_producer_state_delete_snapshots("/nonexistent/strata/dir", 0, 5), 0);

    st_producer_state_free(s);
    remove_dir(dir);
}

static void test_prune_snapshots(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *s = st_producer_state_new();
    /* Offsets whose decimal order differs from their string order without
     * padding: 9 < 100 < 1000. */
    const int64_t offsets[] = {1000, 9, 100, 55, 20000};
    for (size_t i = 0; i < 5; i++) assert_int_equal(st_producer_state_write_snapshot(s, dir, offsets[i]), 0);

    assert_int_equal(st_producer_state_prune_snapshots(dir, 10), 0);
    assert_int_equal(count_files(dir), 5);
    assert_int_equal(st_producer_state_prune_snapshots(dir, 2), 0);
    assert_int_equal(count_files(dir), 2);
    assert_true(file_exists(dir, "00000000000000001000.snapshot"));
    assert_true(file_exists(dir, "00000000000000020000.snapshot"));
    assert_int_equal(st_producer_state_prune_snapshots(dir, 0), 0);
    assert_int_equal(count_files(dir), 0);

    st_producer_state_free(s);
    remove_dir(dir);
}

/* The broker rewrites a snapshot at shutdown only when the state changed
 * since the last snapshot written or loaded, or sits at another offset. */
static void test_dirty_tracks_changes_since_snapshot(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *s = st_producer_state_new();
    assert_false(st_producer_state_dirty(s));
    assert_int_equal(st_producer_state_snapshot_offset(s), -1);

    int64_t next = 0;
    append_ok(s, batch(PID, 0, 0, 2), &next, NOW_MS);
    assert_true(st_producer_state_dirty(s));
    assert_int_equal(st_producer_state_write_snapshot(s, dir, next), 0);
    assert_false(st_producer_state_dirty(s));
    assert_int_equal(st_producer_state_snapshot_offset(s), next);
    /* A failed write changes nothing. */
    append_ok(s, batch(PID, 0, 2, 1), &next, NOW_MS + 1);
    assert_int_equal(st_producer_state_write_snapshot(s, "/nonexistent/strata/dir", next), ST_ERR_IO);
    assert_true(st_producer_state_dirty(s));
    assert_int_equal(st_producer_state_snapshot_offset(s), 2);

    /* Replay, and an expire or clear that drops producers, make it dirty;
     * an expire that drops nothing does not. */
    st_producer_state_t *loaded = st_producer_state_new();
    int64_t offset = -1;
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    assert_int_equal(offset, 2);
    assert_false(st_producer_state_dirty(loaded));
    assert_int_equal(st_producer_state_snapshot_offset(loaded), 2);
    st_producer_state_expire(loaded, NOW_MS + 10, ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT);
    assert_false(st_producer_state_dirty(loaded));
    st_batch_header_t h = batch(PID, 0, 2, 1);
    h.base_offset = 2;
    st_producer_state_replay(loaded, &h, NOW_MS + 1);
    assert_true(st_producer_state_dirty(loaded));
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    assert_false(st_producer_state_dirty(loaded));
    st_producer_state_expire(loaded, NOW_MS + ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT, ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT);
    assert_int_equal(st_producer_state_count(loaded), 0);
    assert_true(st_producer_state_dirty(loaded));
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    st_producer_state_clear(loaded);
    assert_true(st_producer_state_dirty(loaded));
    /* Clearing an empty state changes nothing. */
    assert_int_equal(st_producer_state_write_snapshot(loaded, dir, 5), 0);
    st_producer_state_clear(loaded);
    assert_false(st_producer_state_dirty(loaded));

    /* A load that finds no snapshot leaves an empty, clean state that
     * remembers none. */
    assert_int_equal(st_producer_state_load(loaded, dir, 1, &offset), 0);
    assert_int_equal(offset, 0);
    assert_false(st_producer_state_dirty(loaded));
    assert_int_equal(st_producer_state_snapshot_offset(loaded), -1);

    st_producer_state_free(loaded);
    st_producer_state_free(s);
    remove_dir(dir);
}


/* ---- transactions ---- */

static st_batch_header_t txn_batch(int64_t producer_id, int16_t epoch, int32_t base_sequence, int32_t records) {
    st_batch_header_t h = batch(producer_id, epoch, base_sequence, records);
    h.attributes = ST_BATCH_ATTR_TRANSACTIONAL;
    return h;
}

/* A marker header at `offset` (as the log assigned it). */
static st_batch_header_t marker_at(int64_t producer_id, int16_t epoch, int64_t offset) {
    st_batch_header_t h = batch(producer_id, epoch, -1, 1);
    h.attributes = ST_BATCH_ATTR_CONTROL | ST_BATCH_ATTR_TRANSACTIONAL;
    h.base_offset = offset;
    return h;
}

/* Checks and completes a marker at *next. Returns whether a transaction ended. */
static bool marker_ok(st_producer_state_t *s, int64_t producer_id, int16_t epoch, bool commit, int32_t coordinator_epoch,
                      int64_t *next, st_completed_txn_t *out) {
    st_txn_marker_t m = {.commit = commit, .coordinator_epoch = coordinator_epoch};
    assert_int_equal(st_producer_state_check_marker(s, producer_id, epoch, &m, 0), 0);
    st_batch_header_t h = marker_at(producer_id, epoch, (*next)++);
    return st_producer_state_complete_marker(s, &h, &m, NOW_MS, out);
}

static void test_transactions_open_end_and_lso(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    append_ok(s, batch(7, 0, 0, 5), &next, NOW_MS); /* idempotent, not transactional: [0, 4] */
    assert_int_equal(st_producer_state_first_unstable_offset(s), -1);
    assert_int_equal(st_producer_state_last_stable_offset(s, 0, next), next);

    append_ok(s, txn_batch(PID, 0, 0, 3), &next, NOW_MS); /* A opens at 5 */
    append_ok(s, txn_batch(PID + 1, 0, 0, 2), &next, NOW_MS); /* B opens at 8 */
    append_ok(s, txn_batch(PID, 0, 3, 2), &next, NOW_MS); /* A goes on at 10 */
    assert_int_equal(st_producer_state_ongoing_count(s), 2);
    assert_int_equal(st_producer_state_first_unstable_offset(s), 5);
    assert_int_equal(st_producer_state_last_stable_offset(s, 0, next), 5);
    /* Below the high watermark only; raised to the log start. */
    assert_int_equal(st_producer_state_last_stable_offset(s, 0, 3), 3);
    assert_int_equal(st_producer_state_last_stable_offset(s, 6, next), 6);
    st_producer_info_t info;
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.current_txn_first_offset, 5);
    assert_int_equal(info.coordinator_epoch, -1);

    /* A aborts at 12: the LSO stops at B's first offset. */
    st_completed_txn_t done;
    assert_true(marker_ok(s, PID, 0, false, 3, &next, &done));
    assert_true(done.producer_id == PID);
    assert_int_equal(done.first_offset, 5);
    assert_int_equal(done.last_offset, 12);
    assert_int_equal(done.last_stable_offset, 8);
    assert_true(done.aborted);
    assert_int_equal(st_producer_state_first_unstable_offset(s), 8);
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.current_txn_first_offset, -1);
    assert_int_equal(info.coordinator_epoch, 3);
    /* Same epoch: the sequence goes on after the marker. */
    assert_int_equal(info.last_sequence, 4);
    assert_int_equal(check(s, txn_batch(PID, 0, 5, 1)), 0);

    /* B commits at 13: nothing else open, the LSO is the end. */
    assert_true(marker_ok(s, PID + 1, 0, true, 3, &next, &done));
    assert_int_equal(done.first_offset, 8);
    assert_int_equal(done.last_stable_offset, 14);
    assert_false(done.aborted);
    assert_int_equal(st_producer_state_ongoing_count(s), 0);
    assert_int_equal(st_producer_state_last_stable_offset(s, 0, next), next);

    /* A marker for a producer without an open transaction ends nothing. */
    assert_false(marker_ok(s, PID + 1, 0, false, 3, &next, &done));
    assert_false(marker_ok(s, 4242, 2, true, 1, &next, &done)); /* unknown producer: learnt */
    assert_true(st_producer_state_get(s, 4242, &info));
    assert_int_equal(info.producer_epoch, 2);
    assert_int_equal(info.coordinator_epoch, 1);
    st_producer_state_free(s);
}

static void test_non_transactional_batch_inside_transaction(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    append_ok(s, txn_batch(PID, 0, 0, 1), &next, NOW_MS);
    assert_int_equal(check(s, batch(PID, 0, 1, 1)), ST_ERR_INVALID_TXN_STATE);
    /* Older epochs and gaps are reported first, as Kafka checks them first. */
    assert_int_equal(check(s, batch(PID, 0, 5, 1)), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* A retry of the transactional batch is still a duplicate. */
    assert_int_equal(check(s, txn_batch(PID, 0, 0, 1)), DUPLICATE);
    /* Transactional batches of an older epoch are fenced. */
    st_completed_txn_t done;
    assert_true(marker_ok(s, PID, 1, false, 0, &next, &done)); /* the coordinator bumped the epoch */
    assert_int_equal(check(s, txn_batch(PID, 0, 1, 1)), ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(check(s, batch(PID, 1, 0, 1)), 0);
    st_producer_state_free(s);
}

static void test_marker_checks(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    append_ok(s, txn_batch(PID, 4, 0, 1), &next, NOW_MS);
    st_txn_marker_t m = {.commit = true, .coordinator_epoch = 5};
    st_completed_txn_t done;
    /* Unknown producers are accepted. */
    assert_int_equal(st_producer_state_check_marker(s, PID + 9, 0, &m, 0), 0);
    /* An older producer epoch: a zombie's transaction. */
    assert_int_equal(st_producer_state_check_marker(s, PID, 3, &m, 0), ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(st_producer_state_check_marker(s, PID, 4, &m, 0), 0);
    assert_int_equal(st_producer_state_check_marker(s, PID, 5, &m, 0), 0);
    /* TV2: every marker bumps the epoch, so the current one is late. */
    assert_int_equal(st_producer_state_check_marker(s, PID, 4, &m, 2), ST_ERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(st_producer_state_check_marker(s, PID, 5, &m, 2), 0);
    assert_true(marker_ok(s, PID, 4, true, 5, &next, &done));
    /* ...unless it repeats the marker that ended the transaction. */
    assert_int_equal(st_producer_state_check_marker(s, PID, 4, &m, 2), 0);
    /* A coordinator epoch older than the last marker's: fenced. */
    st_txn_marker_t old = {.commit = false, .coordinator_epoch = 4};
    assert_int_equal(st_producer_state_check_marker(s, PID, 4, &old, 0), ST_ERR_TRANSACTION_COORDINATOR_FENCED);
    st_txn_marker_t same = {.commit = false, .coordinator_epoch = 5};
    assert_int_equal(st_producer_state_check_marker(s, PID, 4, &same, 0), 0);
    /* Checking changes nothing. */
    st_producer_info_t info;
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.coordinator_epoch, 5);
    assert_int_equal(info.producer_epoch, 4);
    /* A marker with a newer epoch empties the cached batches. */
    assert_false(marker_ok(s, PID, 6, false, 5, &next, &done));
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.producer_epoch, 6);
    assert_int_equal(info.batch_count, 0);
    st_producer_state_free(s);
}

static void test_open_transactions_do_not_expire(void **state) {
    (void)state;
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    append_ok(s, txn_batch(PID, 0, 0, 1), &next, NOW_MS);
    append_ok(s, batch(PID + 1, 0, 0, 1), &next, NOW_MS);
    st_producer_state_expire(s, NOW_MS + 10 * ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT, ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT);
    assert_int_equal(st_producer_state_count(s), 1);
    st_producer_info_t info;
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(st_producer_state_first_unstable_offset(s), 0);
    st_completed_txn_t done;
    assert_true(marker_ok(s, PID, 0, true, 0, &next, &done));
    st_producer_state_expire(s, NOW_MS + 10 * ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT, ST_PRODUCER_ID_EXPIRATION_MS_DEFAULT);
    assert_int_equal(st_producer_state_count(s), 0);
    /* clear() forgets open transactions too. */
    append_ok(s, txn_batch(PID, 0, 0, 1), &next, NOW_MS);
    st_producer_state_clear(s);
    assert_int_equal(st_producer_state_ongoing_count(s), 0);
    assert_int_equal(st_producer_state_first_unstable_offset(s), -1);
    st_producer_state_free(s);
}

/* Real batch bytes through st_producer_state_replay_batch: data, markers
 * (abort and commit), a marker emptied by the cleaner. */
static void append_bytes(st_writer_t *w, int64_t *next, int64_t producer_id, int16_t epoch, int32_t seq, bool txn) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, *next);
    b.attributes_extra = txn ? ST_BATCH_ATTR_TRANSACTIONAL : 0;
    b.producer_id = producer_id;
    b.producer_epoch = epoch;
    b.base_sequence = seq;
    st_batch_builder_add(&b, 0, NOW_MS, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL, 0);
    st_batch_builder_add(&b, 1, NOW_MS, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL, 0);
    assert_int_equal(st_batch_builder_finish(&b, w), 0);
    st_batch_builder_free(&b);
    *next += 2;
}

static void append_marker_bytes(st_writer_t *w, int64_t *next, int64_t producer_id, int16_t epoch, bool commit) {
    size_t at = w->len;
    st_txn_marker_t m = {.commit = commit, .coordinator_epoch = 2};
    st_txn_marker_batch_build(w, producer_id, epoch, &m, NOW_MS);
    st_batch_set_base_offset(w->data + at, (*next)++);
}

static void test_replay_batch_reads_markers(void **state) {
    (void)state;
    st_writer_t w;
    st_writer_init(&w, 0);
    int64_t next = 0;
    append_bytes(&w, &next, PID, 0, 0, true);      /* A at 0 */
    append_bytes(&w, &next, PID + 1, 0, 0, true);  /* B at 2 */
    append_marker_bytes(&w, &next, PID, 0, false); /* A aborted at 4 */
    append_bytes(&w, &next, 7, 0, 0, false);       /* idempotent at 5 */
    append_marker_bytes(&w, &next, PID + 1, 0, true); /* B committed at 7 */
    st_producer_state_t *s = st_producer_state_new();
    st_completed_txn_t done[2];
    int ended = 0;
    for (size_t at = 0; at < w.len;) {
        st_batch_header_t h;
        assert_int_equal(st_batch_header_parse(w.data + at, w.len - at, &h), 0);
        size_t total = (size_t)st_batch_total_bytes(&h);
        int rc = st_producer_state_replay_batch(s, w.data + at, total, NOW_MS, &done[ended]);
        assert_true(rc == 0 || rc == 1);
        ended += rc;
        at += total;
    }
    assert_int_equal(ended, 2);
    assert_true(done[0].aborted);
    assert_int_equal(done[0].first_offset, 0);
    assert_int_equal(done[0].last_offset, 4);
    assert_int_equal(done[0].last_stable_offset, 2);
    assert_false(done[1].aborted);
    assert_int_equal(done[1].last_stable_offset, 8);
    assert_int_equal(st_producer_state_ongoing_count(s), 0);
    st_producer_info_t info;
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.coordinator_epoch, 2);

    /* An emptied control batch moves the epoch only; garbage is refused. */
    st_writer_reset(&w);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 20);
    b.attributes_extra = ST_BATCH_ATTR_CONTROL | ST_BATCH_ATTR_TRANSACTIONAL;
    b.producer_id = PID;
    b.producer_epoch = 3;
    assert_int_equal(st_batch_builder_finish(&b, &w), 0);
    st_batch_builder_free(&b);
    assert_int_equal(st_producer_state_replay_batch(s, w.data, w.len, NOW_MS, &done[0]), 0);
    assert_true(st_producer_state_get(s, PID, &info));
    assert_int_equal(info.producer_epoch, 3);
    assert_int_equal(info.coordinator_epoch, 2);
    assert_int_equal(st_producer_state_replay_batch(s, w.data, 10, NOW_MS, &done[0]), ST_ERR_CORRUPT);
    st_producer_state_free(s);
    st_writer_free(&w);
}

static void test_snapshot_keeps_open_transactions(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *s = st_producer_state_new();
    int64_t next = 0;
    append_ok(s, txn_batch(PID, 2, 0, 3), &next, NOW_MS);     /* open at 0 */
    append_ok(s, txn_batch(PID + 1, 0, 0, 1), &next, NOW_MS); /* open at 3 */
    st_completed_txn_t done;
    assert_true(marker_ok(s, PID + 1, 0, true, 7, &next, &done)); /* 4 */
    append_ok(s, txn_batch(PID + 2, 0, 0, 1), &next, NOW_MS); /* open at 5 */
    assert_int_equal(st_producer_state_write_snapshot(s, dir, next), 0);

    st_producer_state_t *loaded = st_producer_state_new();
    int64_t offset;
    assert_int_equal(st_producer_state_load(loaded, dir, 100, &offset), 0);
    assert_int_equal(offset, next);
    assert_int_equal(st_producer_state_ongoing_count(loaded), 2);
    assert_int_equal(st_producer_state_first_unstable_offset(loaded), 0);
    st_producer_info_t info;
    assert_true(st_producer_state_get(loaded, PID + 1, &info));
    assert_int_equal(info.coordinator_epoch, 7);
    assert_int_equal(info.current_txn_first_offset, -1);
    assert_true(st_producer_state_get(loaded, PID + 2, &info));
    assert_int_equal(info.current_txn_first_offset, 5);
    /* The loaded state goes on as the original would. */
    assert_int_equal(check(loaded, batch(PID, 2, 3, 1)), ST_ERR_INVALID_TXN_STATE);
    assert_true(marker_ok(loaded, PID, 2, false, 7, &next, &done));
    assert_int_equal(done.first_offset, 0);
    assert_int_equal(done.last_stable_offset, 5);
    assert_int_equal(st_producer_state_first_unstable_offset(loaded), 5);
    st_producer_state_free(loaded);
    st_producer_state_free(s);
    remove_dir(dir);
}

/* A version 2 snapshot around a hand-made entry. */
static void write_crafted_v2(const char *dir, int64_t offset, int64_t pid, int32_t coordinator_epoch,
                             int64_t txn_first_offset, int64_t pid2, int64_t txn_first_offset2) {
    st_writer_t w;
    st_writer_init(&w, 256);
    st_write_i16(&w, 2);
    st_write_u32(&w, 0);
    st_write_i64(&w, offset);
    st_write_i32(&w, pid2 >= 0 ? 2 : 1);
    for (int i = 0; i < (pid2 >= 0 ? 2 : 1); i++) {
        st_write_i64(&w, i == 0 ? pid : pid2);
        st_write_i16(&w, 0);
        st_write_i64(&w, NOW_MS);
        st_write_i32(&w, coordinator_epoch);
        st_write_i64(&w, i == 0 ? txn_first_offset : txn_first_offset2);
        st_write_i8(&w, 0);
    }
    st_writer_patch_i32(&w, 2, (int32_t)st_crc32c(0, w.data + 6, w.len - 6));
    char name[64];
    snprintf(name, sizeof name, "%020lld.snapshot", (long long)offset);
    write_file(dir, name, w.data, w.len);
    st_writer_free(&w);
}

static void test_snapshot_versions_and_txn_fields_checked(void **state) {
    (void)state;
    char *dir = make_dir();
    st_producer_state_t *loaded = st_producer_state_new();
    int64_t offset;
    /* Version 1, written before transactions: no open transaction. */
    write_crafted(dir, 100, 1, 7, 1, 10, 10);
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    assert_int_equal(offset, 100);
    st_producer_info_t info;
    assert_true(st_producer_state_get(loaded, 7, &info));
    assert_int_equal(info.coordinator_epoch, -1);
    assert_int_equal(info.current_txn_first_offset, -1);
    assert_int_equal(st_producer_state_ongoing_count(loaded), 0);
    /* Version 2, valid: open transactions, in any order in the file. */
    write_crafted_v2(dir, 110, 7, 3, 50, 8, 20);
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    assert_int_equal(offset, 110);
    assert_int_equal(st_producer_state_ongoing_count(loaded), 2);
    assert_int_equal(st_producer_state_first_unstable_offset(loaded), 20);
    /* Broken transaction fields: each file is dropped, 110 stays newest. */
    write_crafted_v2(dir, 200, 7, 3, 200, -1, 0); /* opens at the snapshot offset */
    write_crafted_v2(dir, 201, 7, 3, -2, -1, 0);  /* below -1 */
    write_crafted_v2(dir, 202, 7, -2, 5, -1, 0);  /* coordinator epoch below -1 */
    write_crafted_v2(dir, 203, 7, 3, 5, 8, 5);    /* two open at one offset */
    write_crafted_v2(dir, 204, 7, 3, 5, 7, 6);    /* one producer twice */
    assert_int_equal(st_producer_state_load(loaded, dir, 1000, &offset), 0);
    assert_int_equal(offset, 110);
    assert_int_equal(count_files(dir), 2);
    st_producer_state_free(loaded);
    remove_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_sequence_appends),
        cmocka_unit_test(test_duplicates_of_last_five),
        cmocka_unit_test(test_gap_is_out_of_order),
        cmocka_unit_test(test_stale_epoch_is_invalid),
        cmocka_unit_test(test_new_epoch_resets),
        cmocka_unit_test(test_unknown_producer_accepts_any_sequence),
        cmocka_unit_test(test_sequence_wraps_at_int32_max),
        cmocka_unit_test(test_control_batch_moves_epoch_only),
        cmocka_unit_test(test_check_does_not_change_state),
        cmocka_unit_test(test_negative_offset_delta_is_invalid),
        cmocka_unit_test(test_replay_rebuilds_state),
        cmocka_unit_test(test_expiration),
        cmocka_unit_test(test_many_producers_grow_and_shrink),
        cmocka_unit_test(test_producer_limit),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_load_picks_newest_at_or_below),
        cmocka_unit_test(test_snapshot_corrupt_skipped_older_used),
        cmocka_unit_test(test_snapshot_contents_not_trusted),
        cmocka_unit_test(test_snapshot_load_empty_missing_and_stray_files),
        cmocka_unit_test(test_delete_snapshots),
        cmocka_unit_test(test_prune_snapshots),
        cmocka_unit_test(test_dirty_tracks_changes_since_snapshot),
        cmocka_unit_test(test_transactions_open_end_and_lso),
        cmocka_unit_test(test_non_transactional_batch_inside_transaction),
        cmocka_unit_test(test_marker_checks),
        cmocka_unit_test(test_open_transactions_do_not_expire),
        cmocka_unit_test(test_replay_batch_reads_markers),
        cmocka_unit_test(test_snapshot_keeps_open_transactions),
        cmocka_unit_test(test_snapshot_versions_and_txn_fields_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
