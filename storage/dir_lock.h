/*
 * The lock on a log directory (Kafka's LogManager.lockLogDirs): an
 * exclusive lock on `<dir>/.lock`, taken without waiting before anything
 * else touches the directory and held for the life of the process, so that
 * two brokers never share one.
 *
 * It is an open-file-description lock (fcntl F_OFD_SETLK) on the whole
 * file. It conflicts with another open of the file in this process, with
 * other processes' OFD locks and with the POSIX lock Java's
 * FileChannel.tryLock takes (a Kafka broker on the same directory is refused
 * too); closing some other descriptor of the file does not drop it; the
 * kernel drops it when the process exits however it exits, so a kill -9
 * leaves no stale lock, only the empty file (as Kafka does).
 *
 * States:
 *
 *            st_dir_lock_acquire
 *   (none) ----------------------> HELD --st_dir_lock_release(false)--> (none; .lock stays)
 *                                   |
 *                                   +----st_dir_lock_release(true)---> (none; what acquire
 *                                                                       created is removed)
 *
 * Invariants:
 *  1. While HELD, the descriptor is open on the very file `<dir>/.lock`
 *     names (checked after locking: a release that undid its creation may
 *     have unlinked the file this acquire opened).
 *  2. An undo removes only what this acquire created (the .lock file, the
 *     directories mkdir -p made), never what another process or an earlier
 *     run made: a failed start leaves the tree as it found it.
 */
#ifndef ST_STORAGE_DIR_LOCK_H
#define ST_STORAGE_DIR_LOCK_H

#include <stdbool.h>

#define ST_DIR_LOCK_FILE ".lock"

typedef struct st_dir_lock st_dir_lock_t;

/*
 * Creates `dir` (mkdir -p) and `<dir>/.lock` when missing and locks the
 * file. On success the caller owns *out (release with st_dir_lock_release).
 * Returns 0, ST_ERR_LIMIT (path too long), ST_ERR_NO_MEMORY or ST_ERR_IO with
 * errno left set: EWOULDBLOCK when another holder has the lock, ENOTDIR when
 * `dir` is not a directory, else the failing call's. On failure nothing this
 * call created is left behind.
 */
int st_dir_lock_acquire(const char *dir, st_dir_lock_t **out);

/* Unlocks and frees. With undo_create, first removes the .lock file and the
 * directories that st_dir_lock_acquire created (each only while empty).
 * NULL is a no-op. */
void st_dir_lock_release(st_dir_lock_t *lock, bool undo_create);

#endif
