/* Shared helpers for the storage/ unit tests: temp directories, batches
 * built with st_batch_builder, small log configs. Header-only (static). */
#ifndef ST_TESTS_STORAGE_TEST_UTIL_H
#define ST_TESTS_STORAGE_TEST_UTIL_H

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

#include "common/errors.h"
#include "protocol/record_batch.h"
#include "storage/fsutil.h"
#include "storage/log.h"

typedef struct test_dir {
    char root[64];
    char part[128]; /* root/topic-0 */
} test_dir_t;

static inline void test_dir_make(test_dir_t *d) {
    strcpy(d->root, "/tmp/strata-storage-XXXXXX");
    assert_non_null(mkdtemp(d->root));
    snprintf(d->part, sizeof d->part, "%s/topic-0", d->root);
}

static inline void test_dir_remove(test_dir_t *d) {
    st_fs_remove_dir(d->part);
    rmdir(d->root);
}

static inline void test_config(st_log_config_t *cfg) {
    st_log_config_default(cfg);
    cfg->segment_bytes = 1 << 20;
    cfg->index_interval_bytes = 128;
    cfg->index_bytes_max = 4096;
    cfg->retention_ms = -1;
    cfg->decompressed_bytes_max = 1 << 20;
}

/* One batch of `n` records, timestamps ts, ts+1, ...; keys "k<key0+i>"
 * (or none when key0 < 0); values "v<offset-ish tag>-i" or null when
 * tombstone. Appended to `out`. */
static inline void test_build_batch(st_writer_t *out, int n, int64_t ts, int key0, const char *tag, bool tombstone,
                                    int64_t producer_id) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    if (producer_id >= 0) {
        b.producer_id = producer_id;
        b.producer_epoch = 0;
        b.base_sequence = 0;
    }
    for (int i = 0; i < n; i++) {
        char key[32], value[64];
        int kl = snprintf(key, sizeof key, "k%d", key0 + i);
        int vl = snprintf(value, sizeof value, "%s-%d", tag, i);
        st_batch_builder_add(&b, i, ts + i, key0 >= 0 ? (const uint8_t *)key : NULL, key0 >= 0 ? kl : -1,
                             tombstone ? NULL : (const uint8_t *)value, tombstone ? -1 : vl, NULL, 0);
    }
    assert_int_equal(st_batch_builder_finish(&b, out), 0);
    st_batch_builder_free(&b);
}

/* Appends one batch at leader epoch `epoch`; returns st_log_append's
 * result without asserting, so a forked child can use it too. */
static inline int test_try_append(st_log_t *log, int n, int64_t ts, int key0, const char *tag, bool tombstone,
                                  int32_t epoch, int64_t now_ms, st_log_append_result_t *res) {
    st_writer_t w;
    st_writer_init(&w, 256);
    test_build_batch(&w, n, ts, key0, tag, tombstone, -1);
    int rc = st_log_append(log, w.data, w.len, epoch, now_ms, false, res);
    st_writer_free(&w);
    return rc;
}

/* Appends one batch; returns its base offset. */
static inline int64_t test_append(st_log_t *log, int n, int64_t ts, int key0, const char *tag, bool tombstone,
                                  int64_t now_ms) {
    st_log_append_result_t res;
    assert_int_equal(test_try_append(log, n, ts, key0, tag, tombstone, 1, now_ms, &res), 0);
    assert_int_equal(res.last_offset - res.base_offset + 1, n);
    return res.base_offset;
}

/* Reads the batch header at the start of a read result. */
static inline void test_read_header(const st_log_read_result_t *r, st_batch_header_t *h) {
    uint8_t buf[ST_BATCH_HEADER_BYTES];
    assert_true(r->len >= ST_BATCH_HEADER_BYTES);
    assert_int_equal(pread(r->fd, buf, sizeof buf, r->file_pos), (ssize_t)sizeof buf);
    assert_int_equal(st_batch_header_parse(buf, sizeof buf, h), 0);
}

static inline int64_t test_file_size(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return st.st_size;
}

/* Whole file into malloc()ed memory. */
static inline uint8_t *test_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static inline void test_spit(const char *path, const uint8_t *p, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

static inline void test_segment_file(char *out, const test_dir_t *d, int64_t base, const char *suffix) {
    snprintf(out, ST_FS_PATH_MAX, "%s/%020lld%s", d->part, (long long)base, suffix);
}

#endif
