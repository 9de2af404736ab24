#include "protocol/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK_BYTES 8192

struct st_arena_chunk {
    st_arena_chunk_t *next;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

void st_arena_init(st_arena_t *a) {
    a->head = NULL;
    a->used_bytes = 0;
}

void st_arena_free(st_arena_t *a) {
    st_arena_chunk_t *c = a->head;
    while (c) {
        st_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    st_arena_init(a);
}

void *st_arena_alloc(st_arena_t *a, size_t n) {
    void *p = st_arena_alloc_raw(a, n);
    memset(p, 0, n);
    return p;
}

void *st_arena_alloc_raw(st_arena_t *a, size_t n) {
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) abort();
    st_arena_chunk_t *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > ARENA_CHUNK_BYTES ? need : ARENA_CHUNK_BYTES;
        c = malloc(sizeof *c + cap);
        if (!c) abort();
        c->cap = cap;
        c->used = 0;
        /* A big one-off allocation goes behind the head so the head's free
         * space stays usable. */
        if (a->head && need > ARENA_CHUNK_BYTES) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used_bytes += need;
    return p;
}

void *st_arena_memdup(st_arena_t *a, const void *p, size_t n) {
    void *d = st_arena_alloc_raw(a, n ? n : 1);
    if (n) memcpy(d, p, n);
    return d;
}

char *st_arena_strdup(st_arena_t *a, const char *s) {
    return st_arena_memdup(a, s, strlen(s) + 1);
}
