/*
 * The aborted-transaction index of a segment: entries in memory, the file
 * as their durable copy (see the header). Reads of the index (Fetch) never
 * touch the file; it is read once, when the segment is opened.
 */
#include "storage/txn_index.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/buf.h"
#include "common/errors.h"
#include "protocol/record_batch.h"
#include "storage/fsutil.h"

#define ENTRY_VERSION 0
#define LIST_CAP_MIN 8

static void txn_index_assert_fail(const char *what, const char *file, int line) {
    fprintf(stderr, "%s:%d: transaction index invariant failed: %s\n", file, line, what);
    abort();
}
/* Always on: a broken order means the log appended markers out of order. */
#define TXN_INDEX_ASSERT(cond) ((cond) ? (void)0 : txn_index_assert_fail(#cond, __FILE__, __LINE__))

static int index_path(char *out, const st_txn_index_t *ix) {
    return st_fs_path(out, "%s/%020" PRId64 "%s", ix->dir, ix->base_offset, ST_TXN_INDEX_SUFFIX);
}

static void encode_entry(uint8_t *p, const st_aborted_txn_t *e) {
    st_put_i16be(p, ENTRY_VERSION);
    st_put_i64be(p + 2, e->producer_id);
    st_put_i64be(p + 10, e->first_offset);
    st_put_i64be(p + 18, e->last_offset);
    st_put_i64be(p + 26, e->last_stable_offset);
}

static int grow(st_aborted_txn_t **items, int32_t *cap, int32_t need) {
    if (need <= *cap) return 0;
    int32_t n = *cap ? *cap : LIST_CAP_MIN;
    while (n < need) n *= 2;
    st_aborted_txn_t *p = realloc(*items, (size_t)n * sizeof *p);
    if (!p) return ST_ERR_NO_MEMORY;
    *items = p;
    *cap = n;
    return 0;
}

int st_aborted_txns_push(st_aborted_txns_t *l, const st_aborted_txn_t *e) {
    if (l->count == INT32_MAX || grow(&l->items, &l->cap, l->count + 1)) return ST_ERR_NO_MEMORY;
    l->items[l->count++] = *e;
    return 0;
}

void st_aborted_txns_free(st_aborted_txns_t *l) {
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

void st_txn_index_init(st_txn_index_t *ix, const char *dir, int64_t base_offset) {
    memset(ix, 0, sizeof *ix);
    ix->dir = dir;
    ix->base_offset = base_offset;
}

void st_txn_index_free(st_txn_index_t *ix) {
    free(ix->entries);
    ix->entries = NULL;
    ix->count = ix->cap = 0;
}

int32_t st_txn_index_count(const st_txn_index_t *ix) { return ix->count; }

const st_aborted_txn_t *st_txn_index_entry(const st_txn_index_t *ix, int32_t i) {
    TXN_INDEX_ASSERT(i >= 0 && i < ix->count);
    return &ix->entries[i];
}

/* Checks one decoded entry against invariant 1. NULL when it holds. */
static const char *entry_problem(const st_txn_index_t *ix, const st_aborted_txn_t *e, int64_t previous_last,
                                 int64_t next_offset_bound) {
    if (e->producer_id < 0) return "an entry has a negative producer id";
    if (e->first_offset > e->last_offset) return "an entry's first offset is past its marker";
    if (e->last_offset < ix->base_offset) return "an entry's marker is below the segment's base offset";
    if (e->last_offset >= next_offset_bound) return "an entry's marker is past the segment's offsets";
    if (e->last_offset <= previous_last) return "the entries' markers are not in increasing order";
    return NULL;
}

int st_txn_index_load(st_txn_index_t *ix, int64_t next_offset_bound, int64_t log_bytes, const char **problem) {
    *problem = NULL;
    st_txn_index_free(ix);
    ix->on_disk = false;
    ix->unsynced = false;
    ix->created_unsynced = false;
    char path[ST_FS_PATH_MAX];
    if (index_path(path, ix)) return ST_ERR_IO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : ST_ERR_IO;
    int rc = 0;
    uint8_t *data = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = ST_ERR_IO;
        goto done;
    }
    ix->on_disk = true;
    /* Every entry stands for a marker batch of at least a header's size in
     * the .log: more entries than that cannot be right. */
    int64_t entries_max = log_bytes / ST_BATCH_HEADER_BYTES;
    if (st.st_size % ST_TXN_INDEX_ENTRY_BYTES != 0) {
        *problem = "the transaction index does not hold whole entries";
        rc = ST_ERR_CORRUPT;
        goto done;
    }
    int64_t count = st.st_size / ST_TXN_INDEX_ENTRY_BYTES;
    if (count > entries_max || count > INT32_MAX) {
        *problem = "the transaction index has more entries than the .log has batches";
        rc = ST_ERR_CORRUPT;
        goto done;
    }
    if (count == 0) goto done;
    size_t len = (size_t)st.st_size;
    data = malloc(len);
    if (!data || grow(&ix->entries, &ix->cap, (int32_t)count)) {
        rc = ST_ERR_NO_MEMORY;
        goto done;
    }
    size_t got;
    if (st_fs_pread_full(fd, data, len, 0, &got)) {
        rc = ST_ERR_IO;
        goto done;
    }
    if (got < len) {
        *problem = "the transaction index shrank while it was read";
        rc = ST_ERR_CORRUPT;
        goto done;
    }
    int64_t previous_last = INT64_MIN;
    for (int64_t i = 0; i < count; i++) {
        const uint8_t *p = data + i * ST_TXN_INDEX_ENTRY_BYTES;
        if (st_get_i16be(p) != ENTRY_VERSION) {
            *problem = "an entry of the transaction index has an unknown version";
            rc = ST_ERR_CORRUPT;
            goto done;
        }
        st_aborted_txn_t e = {
            .producer_id = st_get_i64be(p + 2),
            .first_offset = st_get_i64be(p + 10),
            .last_offset = st_get_i64be(p + 18),
            .last_stable_offset = st_get_i64be(p + 26),
        };
        const char *why = entry_problem(ix, &e, previous_last, next_offset_bound);
        if (why) {
            *problem = why;
            rc = ST_ERR_CORRUPT;
            goto done;
        }
        previous_last = e.last_offset;
        ix->entries[ix->count++] = e;
    }

done:
    free(data);
    close(fd);
    if (rc != 0) ix->count = 0; /* the caller resets the file */
    return rc;
}

int st_txn_index_append(st_txn_index_t *ix, const st_aborted_txn_t *e) {
    TXN_INDEX_ASSERT(e->first_offset <= e->last_offset && e->last_offset >= ix->base_offset);
    TXN_INDEX_ASSERT(ix->count == 0 || e->last_offset > ix->entries[ix->count - 1].last_offset);
    if (grow(&ix->entries, &ix->cap, ix->count + 1)) return ST_ERR_NO_MEMORY;
    char path[ST_FS_PATH_MAX];
    if (index_path(path, ix)) return ST_ERR_IO;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ST_ERR_IO;
    uint8_t bytes[ST_TXN_INDEX_ENTRY_BYTES];
    encode_entry(bytes, e);
    int64_t at = (int64_t)ix->count * ST_TXN_INDEX_ENTRY_BYTES;
    int rc = st_fs_pwrite_full(fd, bytes, sizeof bytes, at) ? ST_ERR_IO : 0;
    if (rc) {
        int saved = errno;
        /* Invariant 2: the file holds exactly the entries in memory. Should
         * the cut fail too, the next load finds a partial entry and the
         * segment is recovered. */
        int cut = ftruncate(fd, (off_t)at);
        (void)cut;
        errno = saved;
    }
    if (close(fd) != 0 && rc == 0) rc = ST_ERR_IO;
    if (rc) return rc;
    if (!ix->on_disk) ix->created_unsynced = true;
    ix->on_disk = true;
    ix->unsynced = true;
    ix->entries[ix->count++] = *e;
    return 0;
}

int st_txn_index_flush(st_txn_index_t *ix) {
    if (!ix->unsynced) return 0;
    if (ix->on_disk) {
        char path[ST_FS_PATH_MAX];
        if (index_path(path, ix)) return ST_ERR_IO;
        /* fsync works on the file, whichever descriptor names it. */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return ST_ERR_IO;
        int rc = fsync(fd) == 0 ? 0 : ST_ERR_IO;
        close(fd);
        if (rc) return rc;
    }
    if (ix->created_unsynced && st_fs_fsync_dir(ix->dir)) return ST_ERR_IO;
    ix->created_unsynced = false;
    ix->unsynced = false;
    return 0;
}

int st_txn_index_truncate_to(st_txn_index_t *ix, int64_t offset) {
    int32_t keep = ix->count;
    while (keep > 0 && ix->entries[keep - 1].last_offset >= offset) keep--;
    if (keep == ix->count) return 0;
    if (keep == 0) return st_txn_index_reset(ix);
    char path[ST_FS_PATH_MAX];
    if (index_path(path, ix)) return ST_ERR_IO;
    if (truncate(path, (off_t)keep * ST_TXN_INDEX_ENTRY_BYTES) != 0) return ST_ERR_IO;
    ix->count = keep;
    ix->unsynced = true;
    return 0;
}

int st_txn_index_reset(st_txn_index_t *ix) {
    char path[ST_FS_PATH_MAX];
    if (index_path(path, ix)) return ST_ERR_IO;
    /* Removed even when memory says there is none: a file that failed to
     * load is what a reset is for. */
    if (st_fs_unlink(path)) return ST_ERR_IO;
    ix->count = 0;
    ix->unsynced = ix->on_disk;
    ix->created_unsynced = ix->on_disk; /* the removal is a directory change */
    ix->on_disk = false;
    return 0;
}

int st_txn_index_collect(const st_txn_index_t *ix, int64_t fetch_offset, int64_t upper_bound,
                         st_aborted_txns_t *out) {
    for (int32_t i = 0; i < ix->count; i++) {
        const st_aborted_txn_t *e = &ix->entries[i];
        if (e->last_offset >= fetch_offset && e->first_offset < upper_bound && st_aborted_txns_push(out, e))
            return ST_ERR_NO_MEMORY;
        if (e->last_stable_offset >= upper_bound) return 1;
    }
    return 0;
}

int st_txn_index_write_file(const char *path, const st_aborted_txn_t *entries, int32_t count) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ST_ERR_IO;
    int rc = 0;
    uint8_t bytes[ST_TXN_INDEX_ENTRY_BYTES];
    for (int32_t i = 0; i < count && rc == 0; i++) {
        encode_entry(bytes, &entries[i]);
        if (st_fs_pwrite_full(fd, bytes, sizeof bytes, (int64_t)i * ST_TXN_INDEX_ENTRY_BYTES)) rc = ST_ERR_IO;
    }
    if (rc == 0 && fsync(fd) != 0) rc = ST_ERR_IO;
    if (close(fd) != 0 && rc == 0) rc = ST_ERR_IO;
    if (rc) {
        int saved = errno;
        unlink(path);
        errno = saved;
    }
    return rc;
}
