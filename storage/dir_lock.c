#include "storage/dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "storage/fsutil.h"

/* A release that undid its creation unlinks the file between another
 * acquire's open and its lock; that acquire then starts again. A bound on
 * the rounds keeps a pathological race from spinning. */
#define DIR_LOCK_ATTEMPTS_MAX 8

struct st_dir_lock {
    int fd;
    bool created_file;
    /* Length of the shallowest prefix of `dir` that mkdir created; 0: none. */
    size_t created_dirs_from;
    char dir[ST_FS_PATH_MAX];
    char path[ST_FS_PATH_MAX];
};

/* mkdir -p that notes the shallowest directory it created. */
static int make_dirs(st_dir_lock_t *l) {
    char path[ST_FS_PATH_MAX];
    size_t n = strlen(l->dir);
    memcpy(path, l->dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) == 0) {
            if (l->created_dirs_from == 0) l->created_dirs_from = i;
        } else if (errno != EEXIST) {
            return ST_ERR_IO;
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(l->dir, &st) != 0) return ST_ERR_IO;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return ST_ERR_IO;
    }
    return 0;
}

/* rmdir from the leaf up to the shallowest directory make_dirs created;
 * stops at the first that is not empty. */
static void remove_created_dirs(const st_dir_lock_t *l) {
    if (l->created_dirs_from == 0) return;
    char path[ST_FS_PATH_MAX];
    size_t len = strlen(l->dir);
    memcpy(path, l->dir, len + 1);
    while (len >= l->created_dirs_from && rmdir(path) == 0) {
        while (len > 0 && path[len - 1] == '/') len--;
        while (len > 0 && path[len - 1] != '/') len--;
        while (len > 0 && path[len - 1] == '/') len--;
        path[len] = '\0';
    }
}

/* One round: open (creating when missing), lock, check that the path still
 * names what was locked. 1: try again (the file went away under us). */
static int lock_once(st_dir_lock_t *l) {
    l->created_file = false;
    int fd = open(l->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
        l->created_file = true;
    } else if (errno == EEXIST) {
        fd = open(l->path, O_RDWR | O_CLOEXEC);
        if (fd < 0) return errno == ENOENT ? 1 : ST_ERR_IO;
    } else {
        return ST_ERR_IO;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int saved = errno == EACCES || errno == EAGAIN ? EWOULDBLOCK : errno;
        /* Created by us but locked first by another: theirs now. */
        l->created_file = false;
        close(fd);
        errno = saved;
        return ST_ERR_IO;
    }
    struct stat held, named;
    if (fstat(fd, &held) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return ST_ERR_IO;
    }
    if (stat(l->path, &named) != 0 || named.st_ino != held.st_ino || named.st_dev != held.st_dev) {
        close(fd);
        return 1;
    }
    l->fd = fd;
    return 0;
}

int st_dir_lock_acquire(const char *dir, st_dir_lock_t **out) {
    *out = NULL;
    st_dir_lock_t *l = calloc(1, sizeof *l);
    if (!l) return ST_ERR_NO_MEMORY;
    l->fd = -1;
    size_t n = strlen(dir);
    int rc = 0;
    if (n == 0 || n >= sizeof l->dir) {
        rc = ST_ERR_LIMIT;
        goto err_free;
    }
    memcpy(l->dir, dir, n + 1);
    if ((rc = st_fs_path(l->path, "%s/%s", dir, ST_DIR_LOCK_FILE)) != 0) goto err_free;
    if ((rc = make_dirs(l)) != 0) goto err_remove_dirs;
    rc = 1;
    for (int attempt = 0; rc == 1 && attempt < DIR_LOCK_ATTEMPTS_MAX; attempt++) rc = lock_once(l);
    if (rc == 1) {
        errno = EWOULDBLOCK;
        rc = ST_ERR_IO;
    }
    if (rc != 0) goto err_remove_dirs;
    *out = l;
    return 0;

err_remove_dirs: {
    int saved = errno;
    remove_created_dirs(l);
    errno = saved;
}
err_free:
    free(l);
    return rc;
}

void st_dir_lock_release(st_dir_lock_t *lock, bool undo_create) {
    if (!lock) return;
    /* Unlinked while still locked, so that an acquire racing with us sees
     * either our lock or no file (invariant 1). */
    if (undo_create && lock->created_file) unlink(lock->path);
    close(lock->fd);
    if (undo_create) remove_created_dirs(lock);
    free(lock);
}
