/*
 * Helpers shared by the admin handlers (controller/handle_*.c); the
 * contract is in admin_internal.h.
 */
#include "controller/admin_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

st_str_t admin_arena_printf(st_request_t *req, const char *fmt, ...) {
    char buf[ADMIN_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return st_str(st_arena_strdup(&req->arena, buf));
}

st_str_t admin_arena_str(st_request_t *req, const char *s) {
    return s ? st_str(st_arena_strdup(&req->arena, s)) : st_str_null();
}

/* Sorting with an index keeps request order for the answers while finding
 * duplicates in O(n log n): a client may send many thousands of names. */
typedef struct name_ref {
    const char *name;
    int32_t index;
} name_ref_t;

static int name_ref_cmp(const void *a, const void *b) {
    const name_ref_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

uint8_t *admin_find_duplicate_names(st_request_t *req, const char *const *names, int32_t n) {
    uint8_t *dup = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1));
    name_ref_t *refs = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *refs);
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (names[i]) refs[m++] = (name_ref_t){names[i], i};
    qsort(refs, (size_t)m, sizeof *refs, name_ref_cmp);
    for (int32_t i = 0; i < m;) {
        int32_t j = i + 1;
        while (j < m && strcmp(refs[j].name, refs[i].name) == 0) j++;
        if (j - i > 1)
            for (int32_t k = i; k < j; k++) dup[refs[k].index] = k == i ? 1 : 2;
        i = j;
    }
    return dup;
}
