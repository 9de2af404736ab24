/*
 * The producer-state snapshot files of a partition directory, as Kafka names
 * them: <dir>/<offset as 20 digits>.snapshot, written as
 * <name>.snapshot.tmp, fsynced, renamed, then the directory fsynced. Files
 * only: storage/producer_state.c encodes and checks their bytes.
 */
#ifndef ST_STORAGE_SNAPSHOT_FILES_H
#define ST_STORAGE_SNAPSHOT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_snapshot_offsets {
    int64_t *offsets; /* ascending */
    size_t count;
    size_t cap;
} st_snapshot_offsets_t;

/* The snapshots in dir (a missing dir has none); with delete_tmp, leftover
 * temporary files of an interrupted write are removed. 0 or ST_ERR_IO
 * (the list holds what was read). The caller frees with
 * st_snapshot_offsets_free. */
int st_snapshot_list(const char *dir, bool delete_tmp, st_snapshot_offsets_t *out);
void st_snapshot_offsets_free(st_snapshot_offsets_t *l);

/* Writes `len` bytes as the snapshot at offset, atomically (see above). 0
 * or ST_ERR_IO (the temporary file is removed, errno names the first
 * failure). */
int st_snapshot_write(const char *dir, int64_t offset, const uint8_t *data, size_t len);
/* Reads the snapshot at offset into malloc()ed *data (caller frees).
 * Returns 0, ST_ERR_NOT_FOUND (no such file), ST_ERR_CORRUPT (its size is
 * outside [min_len, max_len]; *len may be short when the file shrank while
 * read) or ST_ERR_IO. */
int st_snapshot_read(const char *dir, int64_t offset, size_t min_len, size_t max_len, uint8_t **data, size_t *len);
/* Unlinks the snapshot at offset (a missing one is fine), no fsync. 0 or
 * ST_ERR_IO. */
int st_snapshot_unlink(const char *dir, int64_t offset);

#endif
