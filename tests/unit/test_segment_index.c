/* Offset index, time index, checkpoints and a single segment. */
#include "storage/checkpoint.h"
#include "storage/offset_index.h"
#include "storage/segment.h"
#include "storage/time_index.h"
#include "storage_test_util.h"

static void test_offset_index(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/00000000000000000100.index", d.root);
    st_offset_index_t idx;
    bool created;
    assert_int_equal(st_offset_index_open(&idx, path, 100, &created), 0);
    assert_true(created);
    assert_int_equal(st_index_file_make_writable(&idx.file, 8 * 4), 0);
    int64_t off, pos;
    st_offset_index_lookup(&idx, 150, &off, &pos);
    assert_int_equal(off, 100);
    assert_int_equal(pos, 0);
    assert_int_equal(st_offset_index_append(&idx, 110, 1000), 0);
    assert_int_equal(st_offset_index_append(&idx, 120, 2000), 0);
    assert_int_equal(st_offset_index_append(&idx, 120, 3000), ST_ERR_CORRUPT); /* not increasing */
    assert_int_equal(st_offset_index_append(&idx, 99, 3000), ST_ERR_CORRUPT);  /* below base */
    assert_int_equal(st_offset_index_append(&idx, 130, 3000), 0);
    assert_false(st_offset_index_full(&idx));
    assert_int_equal(st_offset_index_append(&idx, 140, 4000), 0);
    assert_true(st_offset_index_full(&idx));
    assert_int_equal(st_offset_index_append(&idx, 150, 5000), ST_ERR_LIMIT);
    st_offset_index_lookup(&idx, 109, &off, &pos);
    assert_int_equal(pos, 0);
    st_offset_index_lookup(&idx, 110, &off, &pos);
    assert_int_equal(off, 110);
    assert_int_equal(pos, 1000);
    st_offset_index_lookup(&idx, 135, &off, &pos);
    assert_int_equal(off, 130);
    assert_int_equal(pos, 3000);
    st_offset_index_lookup(&idx, 1 << 30, &off, &pos);
    assert_int_equal(off, 140);
    st_offset_index_truncate_to(&idx, 125);
    assert_int_equal(st_offset_index_entries(&idx), 2);
    assert_int_equal(st_index_file_trim(&idx.file), 0);
    st_offset_index_close(&idx);
    assert_int_equal(test_file_size(path), 16);
    /* Reload: on-disk layout is {int32 relative offset, int32 position}. */
    size_t n;
    uint8_t *bytes = test_slurp(path, &n);
    assert_int_equal(st_get_i32be(bytes), 10);
    assert_int_equal(st_get_i32be(bytes + 4), 1000);
    free(bytes);
    assert_int_equal(st_offset_index_open(&idx, path, 100, &created), 0);
    assert_false(created);
    assert_true(st_offset_index_sane(&idx, 200, 5000));
    assert_false(st_offset_index_sane(&idx, 115, 5000)); /* entry past the segment's end */
    assert_false(st_offset_index_sane(&idx, 200, 1500)); /* position past the log */
    st_offset_index_close(&idx);
    unlink(path);
    test_dir_remove(&d);
}

static void test_time_index(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/00000000000000000000.timeindex", d.root);
    st_time_index_t idx;
    bool created;
    assert_int_equal(st_time_index_open(&idx, path, 0, &created), 0);
    assert_int_equal(st_index_file_make_writable(&idx.file, 12 * 4), 0);
    assert_int_equal(st_time_index_lookup(&idx, 500), 0);
    assert_int_equal(st_time_index_maybe_append(&idx, 100, 5, false), 0);
    assert_int_equal(st_time_index_maybe_append(&idx, 100, 7, false), 0); /* not larger: skipped */
    assert_int_equal(st_time_index_maybe_append(&idx, 90, 8, false), 0);
    assert_int_equal(st_time_index_maybe_append(&idx, 200, 9, false), 0);
    assert_int_equal(st_time_index_maybe_append(&idx, 300, 4, false), ST_ERR_CORRUPT);
    assert_int_equal(idx.file.entries, 2);
    assert_int_equal(st_time_index_maybe_append(&idx, 300, 12, false), 0);
    /* One slot stays for the final entry written at roll. */
    assert_true(st_time_index_full(&idx));
    assert_int_equal(st_time_index_maybe_append(&idx, 400, 13, false), ST_ERR_LIMIT);
    assert_int_equal(st_time_index_maybe_append(&idx, 400, 13, true), 0);
    assert_int_equal(st_time_index_lookup(&idx, 100), 0);
    assert_int_equal(st_time_index_lookup(&idx, 101), 5);
    assert_int_equal(st_time_index_lookup(&idx, 250), 9);
    assert_int_equal(st_time_index_lookup(&idx, 1000), 13);
    int64_t ts, off;
    assert_true(st_time_index_last(&idx, &ts, &off));
    assert_int_equal(ts, 400);
    st_time_index_truncate_to(&idx, 10);
    assert_int_equal(idx.file.entries, 2);
    assert_int_equal(st_index_file_trim(&idx.file), 0);
    assert_true(st_time_index_sane(&idx, 20));
    assert_false(st_time_index_sane(&idx, 9));
    st_time_index_close(&idx);
    assert_int_equal(test_file_size(path), 24);
    unlink(path);
    test_dir_remove(&d);
}

static void test_checkpoints(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    int64_t v;
    assert_int_equal(st_checkpoint_read_offset(d.root, "x", &v), ST_ERR_NOT_FOUND);
    assert_int_equal(st_checkpoint_write_offset(d.root, "x", 1234567890123LL), 0);
    assert_int_equal(st_checkpoint_read_offset(d.root, "x", &v), 0);
    assert_int_equal(v, 1234567890123LL);
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/x", d.root);
    test_spit(path, (const uint8_t *)"0\n12a\n", 6);
    assert_int_equal(st_checkpoint_read_offset(d.root, "x", &v), ST_ERR_CORRUPT);
    test_spit(path, (const uint8_t *)"1\n12\n", 5);
    assert_int_equal(st_checkpoint_read_offset(d.root, "x", &v), ST_ERR_CORRUPT);
    unlink(path);

    st_epoch_entry_t e[3] = {{0, 0}, {2, 100}, {5, 250}};
    assert_int_equal(st_checkpoint_write_epochs(d.root, e, 3), 0);
    st_epoch_entry_t *got;
    int32_t n;
    assert_int_equal(st_checkpoint_read_epochs(d.root, &got, &n), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i].epoch, e[i].epoch);
        assert_int_equal(got[i].start_offset, e[i].start_offset);
    }
    free(got);
    snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", d.root);
    char text[128];
    size_t len;
    assert_int_equal(st_fs_read_small(path, text, sizeof text, &len), 0);
    assert_string_equal(text, "0\n3\n0 0\n2 100\n5 250\n");
    /* Out of order, short or with a wrong count: corrupt. */
    const char *bad[] = {"0\n2\n5 10\n2 20\n", "0\n3\n1 1\n", "0\n1\n1 1\n2 2\n", "0\n1\n1\n", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        test_spit(path, (const uint8_t *)bad[i], strlen(bad[i]));
        assert_int_equal(st_checkpoint_read_epochs(d.root, &got, &n), ST_ERR_CORRUPT);
    }
    test_spit(path, (const uint8_t *)"0\n0\n", 4);
    assert_int_equal(st_checkpoint_read_epochs(d.root, &got, &n), 0);
    assert_int_equal(n, 0);
    unlink(path);
    test_dir_remove(&d);
}

static void test_segment_find_and_recover(void **state) {
    (void)state;
    test_dir_t d;
    test_dir_make(&d);
    st_segment_t *seg;
    assert_int_equal(st_segment_create(d.root, 50, 4096, 0, &seg), 0);
    st_writer_t w;
    st_writer_init(&w, 1024);
    int64_t next = 50;
    for (int i = 0; i < 20; i++) {
        st_writer_reset(&w);
        test_build_batch(&w, 4, 1000 + i, 0, "segment", false, -1);
        st_batch_set_base_offset(w.data, next);
        next += 4;
        assert_int_equal(st_segment_append(seg, w.data, w.len, 100, -1), 0);
    }
    st_writer_free(&w);
    assert_int_equal(seg->next_offset, 130);
    assert_int_equal(seg->max_timestamp, 1019 + 3);
    assert_true(st_offset_index_entries(&seg->offset_index) > 3);
    for (int64_t off = 50; off < 130; off++) {
        int64_t pos;
        st_batch_header_t h;
        assert_int_equal(st_segment_find_batch(seg, off, &pos, &h), 0);
        assert_int_equal(h.base_offset, 50 + (off - 50) / 4 * 4);
    }
    int64_t pos;
    st_batch_header_t h;
    assert_int_equal(st_segment_find_batch(seg, 130, &pos, &h), ST_ERR_NOT_FOUND);
    int64_t off, ts;
    assert_int_equal(st_segment_find_timestamp(seg, 1010, 0, 1 << 20, &off, &ts), 0);
    assert_int_equal(off, 50 + 4 * 7 + 3); /* batch 7 holds 1007..1010 */
    assert_int_equal(ts, 1010);
    /* A rescan rebuilds the same index entries. */
    int32_t entries = st_offset_index_entries(&seg->offset_index);
    st_segment_recovery_t rec;
    assert_int_equal(st_segment_recover(seg, 100, 4096, INT64_MAX, NULL, NULL, &rec), 0);
    assert_int_equal(rec.truncated_bytes, 0);
    assert_null(rec.reason);
    assert_int_equal(st_offset_index_entries(&seg->offset_index), entries);
    assert_int_equal(seg->next_offset, 130);
    /* Truncation inside a batch removes that whole batch. */
    assert_int_equal(st_segment_truncate_to(seg, 99, 100, 4096), 0);
    assert_int_equal(seg->next_offset, 98);
    assert_int_equal(st_segment_make_inactive(seg), 0);
    assert_int_equal(st_segment_delete(seg), 0);
    char path[ST_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/00000000000000000050.log", d.root);
    assert_false(st_fs_exists(path));
    rmdir(d.root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offset_index),
        cmocka_unit_test(test_time_index),
        cmocka_unit_test(test_checkpoints),
        cmocka_unit_test(test_segment_find_and_recover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
