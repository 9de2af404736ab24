#include "coordinator/txn/txn_partitions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(void) {
    fprintf(stderr, "transaction partitions: out of memory\n");
    abort();
}

void st_txn_partition_set_free(st_txn_partition_set_t *set) {
    for (int32_t i = 0; i < set->count; i++) free((char *)set->items[i].topic.ptr);
    free(set->items);
    memset(set, 0, sizeof *set);
}

int32_t st_txn_partition_set_find(const st_txn_partition_set_t *set, const st_txn_partition_t *p) {
    int32_t lo = 0, hi = set->count;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int c = st_txn_partition_compare(&set->items[mid], p);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -lo - 1;
}

void st_txn_partition_set_insert(st_txn_partition_set_t *set, const st_txn_partition_t *p) {
    int32_t at = st_txn_partition_set_find(set, p);
    if (at >= 0) return;
    at = -at - 1;
    if (set->count == set->cap) {
        int32_t cap = set->cap ? set->cap * 2 : 8;
        st_txn_partition_t *n = realloc(set->items, (size_t)cap * sizeof *n);
        if (!n) out_of_memory();
        set->items = n;
        set->cap = cap;
    }
    int32_t len = p->topic.len > 0 ? p->topic.len : 0;
    char *topic = malloc((size_t)len + 1);
    if (!topic) out_of_memory();
    if (len) memcpy(topic, p->topic.ptr, (size_t)len);
    topic[len] = '\0';
    memmove(&set->items[at + 1], &set->items[at], (size_t)(set->count - at) * sizeof *set->items);
    set->items[at] = (st_txn_partition_t){{topic, len}, p->partition};
    set->count++;
}

bool st_txn_partition_set_remove(st_txn_partition_set_t *set, const st_txn_partition_t *p) {
    int32_t at = st_txn_partition_set_find(set, p);
    if (at < 0) return false;
    free((char *)set->items[at].topic.ptr);
    memmove(&set->items[at], &set->items[at + 1], (size_t)(set->count - at - 1) * sizeof *set->items);
    set->count--;
    return true;
}

void st_txn_partition_set_copy(st_txn_partition_set_t *dst, const st_txn_partition_set_t *src) {
    memset(dst, 0, sizeof *dst);
    for (int32_t i = 0; i < src->count; i++) st_txn_partition_set_insert(dst, &src->items[i]);
}
