/*
 * Bump allocator for one request: everything a decoded request and its
 * response need is allocated here and freed at once when the response has
 * been sent (STYLE 7). Aborts on out-of-memory.
 */
#ifndef ST_PROTOCOL_ARENA_H
#define ST_PROTOCOL_ARENA_H

#include <stddef.h>

typedef struct st_arena_chunk st_arena_chunk_t;

typedef struct st_arena {
    st_arena_chunk_t *head;
    size_t used_bytes; /* total handed out, for limits and metrics */
} st_arena_t;

void st_arena_init(st_arena_t *a);
/* Frees every chunk; the arena can be used again afterwards. */
void st_arena_free(st_arena_t *a);
/* Zeroed, 16-byte aligned memory owned by the arena. */
void *st_arena_alloc(st_arena_t *a, size_t n);
/* Like st_arena_alloc without zeroing: for memory about to be overwritten
 * (request frames), where zeroing a megabyte would be wasted work. */
void *st_arena_alloc_raw(st_arena_t *a, size_t n);
void *st_arena_memdup(st_arena_t *a, const void *p, size_t n);
char *st_arena_strdup(st_arena_t *a, const char *s);

#endif
