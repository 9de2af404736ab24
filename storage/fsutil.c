#include "storage/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"

int st_fs_pwrite_full(int fd, const void *data, size_t len, int64_t pos) {
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)pos);
        if (n < 0) {
            if (errno == EINTR) continue;
            return ST_ERR_IO;
        }
        if (n == 0) {
            errno = EIO;
            return ST_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}

int st_fs_pread_full(int fd, void *data, size_t len, int64_t pos, size_t *got) {
    uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, p + done, len - done, (off_t)(pos + (int64_t)done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return ST_ERR_IO;
        }
        if (n == 0) break;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

int st_fs_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ST_ERR_IO;
    int rc = fsync(fd) == 0 ? 0 : ST_ERR_IO;
    close(fd);
    return rc;
}

int st_fs_mkdir_p(const char *dir) {
    char path[ST_FS_PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) return ST_ERR_LIMIT;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) return ST_ERR_IO;
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return ST_ERR_IO;
    return 0;
}

bool st_fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int st_fs_path(char *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, ST_FS_PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= ST_FS_PATH_MAX) return ST_ERR_LIMIT;
    return 0;
}

int st_fs_write_atomic(const char *dir, const char *name, const void *data, size_t len) {
    char tmp[ST_FS_PATH_MAX], final[ST_FS_PATH_MAX];
    if (st_fs_path(tmp, "%s/%s.tmp", dir, name) || st_fs_path(final, "%s/%s", dir, name))
        return ST_ERR_LIMIT;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ST_ERR_IO;
    int rc = st_fs_pwrite_full(fd, data, len, 0);
    if (rc == 0 && fsync(fd) != 0) rc = ST_ERR_IO;
    if (close(fd) != 0 && rc == 0) rc = ST_ERR_IO;
    if (rc == 0 && rename(tmp, final) != 0) rc = ST_ERR_IO;
    if (rc != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return rc;
    }
    return st_fs_fsync_dir(dir);
}

int st_fs_read_small(const char *path, char *buf, size_t cap, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? ST_ERR_NOT_FOUND : ST_ERR_IO;
    size_t got = 0;
    int rc = st_fs_pread_full(fd, buf, cap, 0, &got);
    close(fd);
    if (rc) return rc;
    if (got >= cap) return ST_ERR_LIMIT;
    buf[got] = '\0';
    *len = got;
    return 0;
}

int st_fs_unlink(const char *path) {
    if (unlink(path) != 0 && errno != ENOENT) return ST_ERR_IO;
    return 0;
}

int st_fs_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : ST_ERR_IO;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[ST_FS_PATH_MAX];
        if (st_fs_path(path, "%s/%s", dir, e->d_name) || st_fs_unlink(path)) rc = ST_ERR_IO;
    }
    closedir(d);
    if (rc == 0 && rmdir(dir) != 0) rc = ST_ERR_IO;
    return rc;
}
