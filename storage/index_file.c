#include "storage/index_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"

static void unmap(st_index_file_t *f) {
    if (f->map) munmap(f->map, f->map_bytes);
    f->map = NULL;
    f->map_bytes = 0;
}

static int map(st_index_file_t *f, size_t bytes, bool writable) {
    unmap(f);
    if (bytes == 0) return 0;
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void *p = mmap(NULL, bytes, prot, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED) return ST_ERR_IO;
    /* Index pages are touched one at a time (appends, binary search): the
     * kernel's readahead on a fault only reads the sparse rest of a 10 MB
     * file, ~1 ms per fault on the loop thread. */
    madvise(p, bytes, MADV_RANDOM);
    f->map = p;
    f->map_bytes = bytes;
    return 0;
}

int st_index_file_open(st_index_file_t *f, const char *path, int32_t entry_bytes, bool *created) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->entry_bytes = entry_bytes;
    *created = false;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        *created = fd >= 0;
    }
    if (fd < 0) return ST_ERR_IO;
    f->fd = fd;
    struct stat st;
    if (fstat(fd, &st) != 0) goto err_close;
    size_t whole = (size_t)st.st_size / (size_t)entry_bytes;
    if (whole > INT32_MAX) whole = 0; /* absurd: treat as corrupt */
    f->size_valid = (size_t)st.st_size % (size_t)entry_bytes == 0 && whole * (size_t)entry_bytes == (size_t)st.st_size;
    f->entries = (int32_t)whole;
    f->entries_max = f->entries;
    f->modified = st.st_mtim;
    if (map(f, whole * (size_t)entry_bytes, false)) goto err_close;
    return 0;
err_close:
    close(fd);
    f->fd = -1;
    return ST_ERR_IO;
}

int st_index_file_make_writable(st_index_file_t *f, int32_t max_bytes) {
    int64_t max_entries = max_bytes / f->entry_bytes;
    if (max_entries < (int64_t)f->entries + 1) max_entries = (int64_t)f->entries + 1;
    size_t bytes = (size_t)max_entries * (size_t)f->entry_bytes;
    unmap(f);
    /* Anything past the entries (an untrimmed tail) must read as zero:
     * cutting the file to its entries and growing it again gives sparse
     * zero pages, without touching (and allocating) them. */
    size_t used = (size_t)f->entries * (size_t)f->entry_bytes;
    if (ftruncate(f->fd, (off_t)used) != 0) return ST_ERR_IO;
    if (ftruncate(f->fd, (off_t)bytes) != 0) return ST_ERR_IO;
    if (map(f, bytes, true)) return ST_ERR_IO;
    /* The entries' bytes were written before; everything after is a hole. */
    f->allocated_bytes = used;
    f->entries_max = (int32_t)max_entries;
    f->writable = true;
    f->size_valid = true;
    return 0;
}

int st_index_file_trim(st_index_file_t *f) {
    size_t bytes = (size_t)f->entries * (size_t)f->entry_bytes;
    /* Already trimmed: read-only, mapped (or empty) at exactly its entries,
     * which is the file's size. Nothing to do, not even an ftruncate. */
    if (!f->writable && f->size_valid && f->map_bytes == bytes) return 0;
    unmap(f);
    f->writable = false;
    f->entries_max = f->entries;
    f->allocated_bytes = 0;
    if (ftruncate(f->fd, (off_t)bytes) != 0) return ST_ERR_IO;
    f->size_valid = true;
    return map(f, bytes, false);
}

/* Gives [allocated_bytes, end) disk blocks, a page at a time: a store into
 * a hole of a shared mapping on a full file system raises SIGBUS. One call
 * per page of entries (512 offset-index entries), not per append. */
static int allocate_through(st_index_file_t *f, size_t end) {
    if (end <= f->allocated_bytes) return 0;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t upto = (end + page - 1) / page * page;
    if (upto > f->map_bytes) upto = f->map_bytes;
    int rc = posix_fallocate(f->fd, (off_t)f->allocated_bytes, (off_t)(upto - f->allocated_bytes));
    if (rc != 0) {
        errno = rc;
        return ST_ERR_IO;
    }
    f->allocated_bytes = upto;
    return 0;
}

int st_index_file_append(st_index_file_t *f, const uint8_t *entry) {
    if (!f->writable || f->entries >= f->entries_max) return ST_ERR_LIMIT;
    size_t at = (size_t)f->entries * (size_t)f->entry_bytes;
    if (allocate_through(f, at + (size_t)f->entry_bytes)) return ST_ERR_IO;
    memcpy(f->map + at, entry, (size_t)f->entry_bytes);
    f->entries++;
    return 0;
}

void st_index_file_truncate_entries(st_index_file_t *f, int32_t n) {
    if (n < 0) n = 0;
    if (n >= f->entries) return;
    if (f->writable) {
        size_t from = (size_t)n * (size_t)f->entry_bytes;
        memset(f->map + from, 0, (size_t)(f->entries - n) * (size_t)f->entry_bytes);
    }
    f->entries = n;
}

int st_index_file_flush(st_index_file_t *f) {
    if (f->fd < 0) return 0;
    /* Only the pages holding entries: the rest of a preallocated map (10 MB
     * by default) is zeros nobody reads, and walking it costs time. */
    size_t used = (size_t)f->entries * (size_t)f->entry_bytes;
    if (f->map && f->writable && used > 0) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t len = (used + page - 1) / page * page;
        if (len > f->map_bytes) len = f->map_bytes;
        if (msync(f->map, len, MS_SYNC) != 0) return ST_ERR_IO;
    }
    return fsync(f->fd) == 0 ? 0 : ST_ERR_IO;
}

int st_index_file_touch(st_index_file_t *f) {
    if (f->fd < 0 || futimens(f->fd, NULL) != 0) return ST_ERR_IO;
    return 0;
}

void st_index_file_close(st_index_file_t *f) {
    unmap(f);
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    f->entries = 0;
    f->writable = false;
}
