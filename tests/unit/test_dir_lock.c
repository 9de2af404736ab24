/* The log-dir lock (storage/dir_lock.h): exclusive within a process and
 * across processes, against a POSIX lock as Kafka takes it, released at
 * exit, and an undo that removes only what the acquire created. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/errors.h"
#include "storage/dir_lock.h"

static char g_root[64];

static int setup(void **state) {
    (void)state;
    strcpy(g_root, "/tmp/strata-dirlock-XXXXXX");
    return mkdtemp(g_root) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_root);
    return system(cmd) == 0 ? 0 : -1;
}

static bool exists(const char *fmt, const char *a) {
    char path[256];
    snprintf(path, sizeof path, fmt, g_root, a);
    struct stat st;
    return stat(path, &st) == 0;
}

/* Runs st_dir_lock_acquire in a child process: 0 when it got the lock, 1
 * when it was refused with EWOULDBLOCK, 2 otherwise. */
static int acquire_in_child(const char *dir) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        st_dir_lock_t *l;
        int rc = st_dir_lock_acquire(dir, &l);
        _exit(rc == 0 ? 0 : (rc == ST_ERR_IO && errno == EWOULDBLOCK) ? 1 : 2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_exclusive(void **state) {
    (void)state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/logs", g_root);
    st_dir_lock_t *a, *b;
    assert_int_equal(st_dir_lock_acquire(dir, &a), 0);
    assert_true(exists("%s/logs/%s", ST_DIR_LOCK_FILE));
    /* A second open in this process, and another process, are refused. */
    assert_int_equal(st_dir_lock_acquire(dir, &b), ST_ERR_IO);
    assert_int_equal(errno, EWOULDBLOCK);
    assert_null(b);
    assert_int_equal(acquire_in_child(dir), 1);
    /* The refused attempt closed its descriptor without dropping ours. */
    assert_int_equal(acquire_in_child(dir), 1);
    st_dir_lock_release(a, false);
    assert_true(exists("%s/logs/%s", ST_DIR_LOCK_FILE));
    assert_int_equal(acquire_in_child(dir), 0);
    assert_int_equal(st_dir_lock_acquire(dir, &a), 0);
    st_dir_lock_release(a, false);
}

/* Java's FileChannel.tryLock is a POSIX record lock: a Kafka broker holding
 * the directory keeps Strata out. */
static void test_conflicts_with_posix_lock(void **state) {
    (void)state;
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/kafka", g_root);
    snprintf(path, sizeof path, "%s/%s", dir, ST_DIR_LOCK_FILE);
    assert_int_equal(mkdir(dir, 0755), 0);
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_RDWR | O_CREAT, 0644);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        char c = fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
        if (write(go[1], &c, 1) != 1) _exit(2);
        if (read(done[0], &c, 1) != 1) _exit(2);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(go[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    st_dir_lock_t *l;
    assert_int_equal(st_dir_lock_acquire(dir, &l), ST_ERR_IO);
    assert_int_equal(errno, EWOULDBLOCK);
    assert_int_equal(write(done[1], "x", 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* The holder exited: the kernel dropped its lock. */
    assert_int_equal(st_dir_lock_acquire(dir, &l), 0);
    st_dir_lock_release(l, true);
    /* The .lock file was there before: an undo keeps it. */
    assert_true(exists("%s/kafka/%s", ST_DIR_LOCK_FILE));
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);
}

static void test_undo_removes_only_what_it_created(void **state) {
    (void)state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/new/deeper/logs", g_root);
    st_dir_lock_t *l;
    assert_int_equal(st_dir_lock_acquire(dir, &l), 0);
    assert_true(exists("%s/new/deeper/logs/%s", ST_DIR_LOCK_FILE));
    st_dir_lock_release(l, true);
    assert_false(exists("%s/%s", "new"));
    assert_true(exists("%s%s", ""));

    /* A directory that gained other files keeps them, and itself. */
    assert_int_equal(st_dir_lock_acquire(dir, &l), 0);
    char other[192];
    snprintf(other, sizeof other, "%s/new/deeper/logs/meta.properties", g_root);
    FILE *f = fopen(other, "w");
    assert_non_null(f);
    fclose(f);
    st_dir_lock_release(l, true);
    assert_false(exists("%s/new/deeper/logs/%s", ST_DIR_LOCK_FILE));
    assert_true(exists("%s/new/deeper/logs/%s", "meta.properties"));
}

static void test_not_a_directory(void **state) {
    (void)state;
    char file[128];
    snprintf(file, sizeof file, "%s/plain", g_root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    st_dir_lock_t *l;
    assert_int_equal(st_dir_lock_acquire(file, &l), ST_ERR_IO);
    assert_int_equal(errno, ENOTDIR);
    char below[160];
    snprintf(below, sizeof below, "%s/plain/logs", g_root);
    assert_int_equal(st_dir_lock_acquire(below, &l), ST_ERR_IO);
    assert_true(exists("%s/%s", "plain"));
    assert_int_equal(st_dir_lock_acquire("", &l), ST_ERR_LIMIT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_with_posix_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undo_removes_only_what_it_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
