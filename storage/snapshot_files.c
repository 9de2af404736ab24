#include "storage/snapshot_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "storage/fsutil.h"

#define SNAPSHOT_SUFFIX ".snapshot"
#define SNAPSHOT_TMP_SUFFIX ".snapshot.tmp"
#define SNAPSHOT_OFFSET_DIGITS 20

static int push(st_snapshot_offsets_t *l, int64_t offset) {
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        int64_t *p = realloc(l->offsets, cap * sizeof *p);
        if (!p) return ST_ERR_NO_MEMORY;
        l->offsets = p;
        l->cap = cap;
    }
    l->offsets[l->count++] = offset;
    return 0;
}

void st_snapshot_offsets_free(st_snapshot_offsets_t *l) {
    free(l->offsets);
    l->offsets = NULL;
    l->count = l->cap = 0;
}

static int compare_offsets(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Parses "<20 digits><suffix>"; false for any other name. */
static bool parse_name(const char *name, const char *suffix, int64_t *offset) {
    if (strlen(name) != SNAPSHOT_OFFSET_DIGITS + strlen(suffix)) return false;
    if (strcmp(name + SNAPSHOT_OFFSET_DIGITS, suffix) != 0) return false;
    int64_t v = 0;
    for (int i = 0; i < SNAPSHOT_OFFSET_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        int d = name[i] - '0';
        if (v > (INT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *offset = v;
    return true;
}

static int path_of(char *out, const char *dir, int64_t offset, const char *suffix) {
    return st_fs_path(out, "%s/%020lld%s", dir, (long long)offset, suffix) ? ST_ERR_IO : 0;
}

static int unlink_with(const char *dir, int64_t offset, const char *suffix) {
    char path[ST_FS_PATH_MAX];
    if (path_of(path, dir, offset, suffix)) return ST_ERR_IO;
    return st_fs_unlink(path);
}

int st_snapshot_unlink(const char *dir, int64_t offset) { return unlink_with(dir, offset, SNAPSHOT_SUFFIX); }

int st_snapshot_list(const char *dir, bool delete_tmp, st_snapshot_offsets_t *out) {
    out->offsets = NULL;
    out->count = out->cap = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : ST_ERR_IO;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        int64_t offset;
        if (parse_name(de->d_name, SNAPSHOT_SUFFIX, &offset)) {
            if (push(out, offset)) rc = ST_ERR_IO;
        } else if (delete_tmp && parse_name(de->d_name, SNAPSHOT_TMP_SUFFIX, &offset) &&
                   unlink_with(dir, offset, SNAPSHOT_TMP_SUFFIX) != 0) {
            rc = ST_ERR_IO;
        }
        errno = 0;
    }
    if (errno != 0) rc = ST_ERR_IO;
    closedir(d);
    if (out->count > 1) qsort(out->offsets, out->count, sizeof *out->offsets, compare_offsets);
    return rc;
}

int st_snapshot_write(const char *dir, int64_t offset, const uint8_t *data, size_t len) {
    char tmp_path[ST_FS_PATH_MAX], path[ST_FS_PATH_MAX];
    if (path_of(tmp_path, dir, offset, SNAPSHOT_TMP_SUFFIX) || path_of(path, dir, offset, SNAPSHOT_SUFFIX))
        return ST_ERR_IO;
    int saved_errno;
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ST_ERR_IO;
    if (st_fs_pwrite_full(fd, data, len, 0) != 0 || fsync(fd) != 0) goto err_close_tmp;
    if (close(fd) != 0) goto err_unlink_tmp;
    if (rename(tmp_path, path) != 0) goto err_unlink_tmp;
    return st_fs_fsync_dir(dir) ? ST_ERR_IO : 0;

err_close_tmp:
    saved_errno = errno;
    close(fd);
    errno = saved_errno;
err_unlink_tmp:
    saved_errno = errno;
    unlink(tmp_path);
    errno = saved_errno; /* the caller's log line names the first failure */
    return ST_ERR_IO;
}

int st_snapshot_read(const char *dir, int64_t offset, size_t min_len, size_t max_len, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    char path[ST_FS_PATH_MAX];
    if (path_of(path, dir, offset, SNAPSHOT_SUFFIX)) return ST_ERR_IO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? ST_ERR_NOT_FOUND : ST_ERR_IO;
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = ST_ERR_IO;
    } else if ((size_t)st.st_size < min_len || (size_t)st.st_size > max_len) {
        rc = ST_ERR_CORRUPT;
    } else {
        size_t want = (size_t)st.st_size, got = 0;
        uint8_t *p = malloc(want ? want : 1);
        if (!p) rc = ST_ERR_NO_MEMORY;
        /* A file that shrank under us reads short: the decoder sees it. */
        else if (st_fs_pread_full(fd, p, want, 0, &got)) rc = ST_ERR_IO;
        if (rc) free(p);
        else {
            *data = p;
            *len = got;
        }
    }
    close(fd);
    return rc;
}
