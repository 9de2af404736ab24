/*
 * Sparse time index of one segment (Kafka's TimeIndex, `.timeindex`):
 * 12-byte entries {int64 timestamp, int32 offset - base_offset}, big-endian,
 * timestamps strictly increasing and offsets non-decreasing. An entry says:
 * no record at or before `offset` has a timestamp above `timestamp`, which
 * bounds where a search for a timestamp must start. An entry is written with
 * each offset-index entry (the largest timestamp so far) and a final one when
 * the segment stops being active, so the last entry holds the segment's
 * largest timestamp.
 */
#ifndef ST_STORAGE_TIME_INDEX_H
#define ST_STORAGE_TIME_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/index_file.h"

#define ST_TIME_INDEX_ENTRY_BYTES 12

typedef struct st_time_index {
    st_index_file_t file;
    int64_t base_offset;
} st_time_index_t;

int st_time_index_open(st_time_index_t *idx, const char *path, int64_t base_offset, bool *created);
void st_time_index_close(st_time_index_t *idx);
/* Load-time check: whole entries, first/last in order, offsets below
 * next_offset, no zeroed (untrimmed) tail. */
bool st_time_index_sane(const st_time_index_t *idx, int64_t next_offset);
/* Last entry, or false when empty. */
bool st_time_index_last(const st_time_index_t *idx, int64_t *timestamp, int64_t *offset);
/* Entry i (< the file's entries) as {timestamp, offset}. */
void st_time_index_entry(const st_time_index_t *idx, int32_t i, int64_t *timestamp, int64_t *offset);
/* Offset of the last entry whose timestamp is < target (every record at or
 * before it is older than target), or base_offset when there is none. */
int64_t st_time_index_lookup(const st_time_index_t *idx, int64_t target);
/* Appends when timestamp is above the last entry's (and offset not below).
 * Kafka keeps one slot free for the entry written when the segment rolls:
 * `final` may use it. ST_ERR_LIMIT when full. */
int st_time_index_maybe_append(st_time_index_t *idx, int64_t timestamp, int64_t offset, bool final);
void st_time_index_truncate_to(st_time_index_t *idx, int64_t offset);
static inline bool st_time_index_full(const st_time_index_t *idx) {
    return idx->file.entries >= idx->file.entries_max - 1;
}

#endif
