#include "storage/file_ref.h"

#include <assert.h>
#include <stdlib.h>
#include <unistd.h>

struct st_file_ref {
    int fd;
    int32_t refs;
};

st_file_ref_t *st_file_ref_adopt(int fd) {
    assert(fd >= 0);
    st_file_ref_t *ref = malloc(sizeof *ref);
    if (!ref) return NULL;
    ref->fd = fd;
    ref->refs = 1;
    return ref;
}

st_file_ref_t *st_file_ref_acquire(st_file_ref_t *ref) {
    assert(ref->refs >= 1 && ref->refs < INT32_MAX);
    ref->refs++;
    return ref;
}

void st_file_ref_release(st_file_ref_t *ref) {
    if (!ref) return;
    assert(ref->refs >= 1);
    if (--ref->refs > 0) return;
    close(ref->fd);
    free(ref);
}

int st_file_ref_fd(const st_file_ref_t *ref) { return ref->fd; }

int32_t st_file_ref_count(const st_file_ref_t *ref) { return ref->refs; }
