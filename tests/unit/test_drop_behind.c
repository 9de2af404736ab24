/* Drop-behind (storage/drop_behind.h) through st_segment_append: bytes far
 * enough behind the end leave the page cache, the newest stay, and every
 * byte still reads back. */
#include <sys/mman.h>
#include <sys/vfs.h>

#include "storage/segment.h"
#include "storage_test_util.h"

#define RECORDS_PER_BATCH 64
#define VALUE_BYTES 1000
#define BATCHES 128 /* about 8 MB */
#define KEEP_BYTES (1 << 20)
#define TMPFS_MAGIC_NUMBER 0x01021994

/* Batch `i`: its values are filled with a byte that depends on i. */
static void build_batch(st_writer_t *out, int i, int64_t base_offset) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    uint8_t value[VALUE_BYTES];
    for (int r = 0; r < RECORDS_PER_BATCH; r++) {
        memset(value, (i * 31 + r) & 0xff, sizeof value);
        st_batch_builder_add(&b, r, 1000 + i, NULL, -1, value, (int32_t)sizeof value, NULL, 0);
    }
    assert_int_equal(st_batch_builder_finish(&b, out), 0);
    st_batch_builder_free(&b);
    st_batch_set_base_offset(out->data, base_offset);
}

/* Fraction of the pages of [from, to) that are in the page cache. */
static double resident_fraction(int fd, int64_t file_bytes, int64_t from, int64_t to) {
    long page = sysconf(_SC_PAGESIZE);
    void *map = mmap(NULL, (size_t)file_bytes, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    size_t pages = (size_t)((file_bytes + page - 1) / page);
    unsigned char *vec = malloc(pages);
    assert_non_null(vec);
    assert_int_equal(mincore(map, (size_t)file_bytes, vec), 0);
    size_t first = (size_t)(from / page), last = (size_t)((to + page - 1) / page), in = 0;
    for (size_t p = first; p < last; p++) in += vec[p] & 1;
    free(vec);
    munmap(map, (size_t)file_bytes);
    return (double)in / (double)(last - first);
}

/* Appends BATCHES batches with the given keep_bytes, each followed by an
 * fdatasync so that the writeback drop-behind started has finished when
 * it drops (the drop is then certain, not a matter of timing). Returns the
 * segment and a copy of everything appended. */
static st_segment_t *write_segment(const test_dir_t *d, int64_t keep_bytes, st_writer_t *appended) {
    st_segment_t *seg;
    assert_int_equal(st_segment_create(d->root, 0, 1 << 20, 0, &seg), 0);
    st_writer_t w;
    st_writer_init(&w, RECORDS_PER_BATCH * (VALUE_BYTES + 16));
    for (int i = 0; i < BATCHES; i++) {
        st_writer_reset(&w);
        build_batch(&w, i, (int64_t)i * RECORDS_PER_BATCH);
        st_write_raw(appended, w.data, w.len);
        assert_int_equal(st_segment_append(seg, w.data, w.len, 4096, keep_bytes), 0);
        assert_int_equal(fdatasync(seg->fd), 0);
    }
    st_writer_free(&w);
    assert_int_equal(seg->size_bytes, (int64_t)appended->len);
    return seg;
}

static void assert_reads_back(const st_segment_t *seg, const st_writer_t *appended) {
    st_segment_reader_t r;
    st_segment_reader_init(&r, seg, 0);
    size_t at = 0;
    const uint8_t *batch;
    size_t len;
    st_batch_header_t h;
    int rc;
    while ((rc = st_segment_reader_next(&r, &batch, &len, &h)) == 1) {
        assert_true(at + len <= appended->len);
        assert_memory_equal(batch, appended->data + at, len);
        at += len;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(at, appended->len);
    st_segment_reader_free(&r);
}

static bool on_tmpfs(const char *path) {
    struct statfs fs;
    return statfs(path, &fs) == 0 && fs.f_type == TMPFS_MAGIC_NUMBER;
}

/* Writes a segment with `keep_bytes`, checks which of its pages are cached
 * (not on tmpfs, which keeps every page) and that every byte reads back. */
static void write_check_and_read_back(int64_t keep_bytes) {
    test_dir_t d;
    test_dir_make(&d);
    st_writer_t appended;
    st_writer_init(&appended, 1 << 20);
    st_segment_t *seg = write_segment(&d, keep_bytes, &appended);
    int64_t size = seg->size_bytes;
    if (on_tmpfs(d.root)) {
        print_message("tmpfs keeps every page: residency not checked\n");
    } else if (keep_bytes < 0) {
        assert_true(resident_fraction(seg->fd, size, 0, size) > 0.95);
    } else {
        /* Steps are keep / 4. A step is dropped four steps after its
         * writeback started, when it lies keep + 4 steps behind: everything
         * before that (less one step not yet due) is gone; the newest
         * keep_bytes were never touched. */
        assert_true(resident_fraction(seg->fd, size, 0, size - 2 * keep_bytes - keep_bytes / 4) < 0.05);
        assert_true(resident_fraction(seg->fd, size, size - keep_bytes, size) > 0.95);
    }
    assert_reads_back(seg, &appended);
    st_segment_close(seg);
    st_writer_free(&appended);
    test_dir_remove(&d);
}

static void test_old_bytes_leave_the_cache_and_read_back(void **state) {
    (void)state;
    write_check_and_read_back(KEEP_BYTES);
}

static void test_negative_keep_leaves_the_cache_alone(void **state) {
    (void)state;
    write_check_and_read_back(-1);
}

/* A segment opened with bytes in it leaves those alone: only what is
 * appended afterwards counts towards the next step. */
static void test_starts_at_the_size_it_was_given(void **state) {
    (void)state;
    st_drop_behind_t db;
    st_drop_behind_init(&db, 10 * 4096 + 123);
    assert_int_equal(db.writeback_from, 10 * 4096);
    assert_int_equal(db.drop_from, 10 * 4096);
    /* Within keep_bytes nothing moves (fd -1 would fail any call). */
    st_drop_behind_after_write(&db, -1, 10 * 4096 + KEEP_BYTES, KEEP_BYTES);
    assert_int_equal(db.writeback_from, 10 * 4096);
    /* Two steps beyond: two steps' writeback started, none dropped yet. */
    st_drop_behind_after_write(&db, -1, 10 * 4096 + KEEP_BYTES + KEEP_BYTES / 2, KEEP_BYTES);
    assert_int_equal(db.writeback_from, 10 * 4096 + KEEP_BYTES / 2);
    assert_int_equal(db.drop_from, 10 * 4096);
    /* Five steps beyond: the first step is dropped. */
    st_drop_behind_after_write(&db, -1, 10 * 4096 + KEEP_BYTES + 5 * (KEEP_BYTES / 4), KEEP_BYTES);
    assert_int_equal(db.writeback_from, 10 * 4096 + 5 * (KEEP_BYTES / 4));
    assert_int_equal(db.drop_from, 10 * 4096 + KEEP_BYTES / 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_bytes_leave_the_cache_and_read_back),
        cmocka_unit_test(test_negative_keep_leaves_the_cache_alone),
        cmocka_unit_test(test_starts_at_the_size_it_was_given),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
