/*
 * Small file-system helpers for storage/: whole reads and writes that retry
 * on EINTR and short transfers, atomic small-file replacement
 * (tmp + fsync + rename + fsync dir), directory fsync and removal.
 * All return 0 or ST_ERR_IO (errno is left set for logging), except where
 * noted.
 */
#ifndef ST_STORAGE_FSUTIL_H
#define ST_STORAGE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest path storage/ builds (dir + "/" + 20-digit name + suffix). */
#define ST_FS_PATH_MAX 4096

/* Writes all `len` bytes at `pos`. */
int st_fs_pwrite_full(int fd, const void *data, size_t len, int64_t pos);
/* Reads up to `len` bytes at `pos`; *got receives how many were read (less
 * than len only at end of file). */
int st_fs_pread_full(int fd, void *data, size_t len, int64_t pos, size_t *got);
int st_fs_fsync_dir(const char *dir);
/* mkdir -p; an existing directory is fine. */
int st_fs_mkdir_p(const char *dir);
bool st_fs_exists(const char *path);
/* Replaces dir/name with `data` atomically: dir/name.tmp is written and
 * fsynced, renamed over dir/name, and the directory fsynced. */
int st_fs_write_atomic(const char *dir, const char *name, const void *data, size_t len);
/* Reads a whole small file into `buf` (at most cap-1 bytes, NUL-terminated).
 * ST_ERR_NOT_FOUND when missing, ST_ERR_LIMIT when larger than cap-1. */
int st_fs_read_small(const char *path, char *buf, size_t cap, size_t *len);
/* Removes a directory and the regular files inside it (no recursion into
 * subdirectories: partition directories have none). */
int st_fs_remove_dir(const char *dir);
/* Unlinks path; a missing file is not an error. */
int st_fs_unlink(const char *path);
/* snprintf into a path buffer of ST_FS_PATH_MAX; ST_ERR_LIMIT when too long. */
int st_fs_path(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
