/*
 * A file descriptor shared by reference count (nginx's ngx_open_file_cache
 * idea, without the cache): a segment holds one reference for as long as it
 * is open, and every response that will sendfile(2) from it holds another.
 * A segment that is deleted, compacted away or closed while responses still
 * wait keeps its file open until the last of them is sent or dropped, and
 * no response costs a descriptor of its own (dup(2) did: a client that
 * never reads pinned one per queued response).
 *
 * Invariants:
 *  1. refs >= 1 while the handle exists; the fd is open exactly as long.
 *  2. Whoever holds a reference may use fd; only the last release closes it.
 *
 * Single-threaded, like the logs that hand these out.
 */
#ifndef ST_STORAGE_FILE_REF_H
#define ST_STORAGE_FILE_REF_H

#include <stdint.h>

typedef struct st_file_ref st_file_ref_t;

/* Takes ownership of `fd` with one reference (the caller's). NULL when out of
 * memory, in which case fd is still the caller's. */
st_file_ref_t *st_file_ref_adopt(int fd);
/* One more reference; returns `ref` for convenience. */
st_file_ref_t *st_file_ref_acquire(st_file_ref_t *ref);
/* Drops one reference; the last one closes the fd and frees the handle.
 * NULL is a no-op. */
void st_file_ref_release(st_file_ref_t *ref);
int st_file_ref_fd(const st_file_ref_t *ref);
int32_t st_file_ref_count(const st_file_ref_t *ref);

#endif
