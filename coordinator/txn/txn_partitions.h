/*
 * The partitions of one transaction: sorted by topic then index, without
 * repeats, topic names owned (copied in). Long-lived state: allocation
 * failure aborts, as for the rest of the coordinator's state.
 */
#ifndef ST_COORDINATOR_TXN_PARTITIONS_H
#define ST_COORDINATOR_TXN_PARTITIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "coordinator/txn/txn_record.h"

typedef struct st_txn_partition_set {
    st_txn_partition_t *items;
    int32_t count;
    int32_t cap;
} st_txn_partition_set_t;

/* Frees the names and the array; the set is empty afterwards. */
void st_txn_partition_set_free(st_txn_partition_set_t *set);
/* The index of p, or -(where it would go) - 1. */
int32_t st_txn_partition_set_find(const st_txn_partition_set_t *set, const st_txn_partition_t *p);
static inline bool st_txn_partition_set_has(const st_txn_partition_set_t *set, const st_txn_partition_t *p) {
    return st_txn_partition_set_find(set, p) >= 0;
}
/* Adds p (its topic copied) unless it is there. */
void st_txn_partition_set_insert(st_txn_partition_set_t *set, const st_txn_partition_t *p);
/* Removes p; false when it was not there. */
bool st_txn_partition_set_remove(st_txn_partition_set_t *set, const st_txn_partition_t *p);
/* dst (uninitialised) becomes a copy of src. */
void st_txn_partition_set_copy(st_txn_partition_set_t *dst, const st_txn_partition_set_t *src);

#endif
