/*
 * A memory-mapped file of fixed-size entries: the shared mechanics of the
 * offset index and the time index (Kafka's AbstractIndex).
 *
 * States:
 *
 *   closed --open--> read-only (file size == entries * entry_bytes, mapped
 *      ^                |   ^     PROT_READ, or unmapped when empty)
 *      |   make_writable|   |trim
 *      |                v   |
 *      +----close---- writable (file preallocated to entries_max *
 *                              entry_bytes, mapped PROT_READ|PROT_WRITE;
 *                              bytes past `entries` are zero)
 *
 * Invariants:
 *  1. entries <= map_bytes / entry_bytes.
 *  2. In the writable state, entries_max == map_bytes / entry_bytes.
 *  3. Writes go to the shared mapping, so they are in the page cache (and
 *     survive a crash of the process) as soon as they are stored.
 *  4. In the writable state, bytes [0, allocated_bytes) have disk blocks:
 *     an append allocates (posix_fallocate) before it stores past them, so
 *     a full disk is an error code, never a SIGBUS on a store into a hole.
 *
 * The index never trusts its contents: readers validate what they get.
 */
#ifndef ST_STORAGE_INDEX_FILE_H
#define ST_STORAGE_INDEX_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct st_index_file {
    int fd;
    uint8_t *map;       /* NULL when nothing is mapped */
    size_t map_bytes;
    int32_t entry_bytes;
    int32_t entries;
    int32_t entries_max; /* writable state only; equals entries otherwise */
    bool writable;
    bool size_valid;     /* file size was a multiple of entry_bytes at open */
    size_t allocated_bytes;    /* writable state: bytes known to have disk blocks */
    struct timespec modified;  /* the file's mtime at open */
} st_index_file_t;

/* Opens (creating when missing) `path`, read-only state. *created tells
 * whether the file was new. */
int st_index_file_open(st_index_file_t *f, const char *path, int32_t entry_bytes, bool *created);
/* Preallocates to max_bytes (rounded down to whole entries, at least
 * `entries` + 1 entries) and maps writable. */
int st_index_file_make_writable(st_index_file_t *f, int32_t max_bytes);
/* Shrinks the file to its entries and maps it read-only. */
int st_index_file_trim(st_index_file_t *f);
/* ST_ERR_LIMIT when full or not writable; ST_ERR_IO (errno set) when no
 * disk block could be allocated for it (a full disk). */
int st_index_file_append(st_index_file_t *f, const uint8_t *entry);
/* Keeps the first n entries (zeroing the rest when writable). */
void st_index_file_truncate_entries(st_index_file_t *f, int32_t n);
static inline const uint8_t *st_index_file_entry(const st_index_file_t *f, int32_t i) {
    return f->map + (size_t)i * (size_t)f->entry_bytes;
}
int st_index_file_flush(st_index_file_t *f);
/* Sets the file's mtime to now (recovery marks an index checked against its
 * .log this way). */
int st_index_file_touch(st_index_file_t *f);
void st_index_file_close(st_index_file_t *f);

#endif
