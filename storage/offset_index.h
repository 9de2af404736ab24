/*
 * Sparse offset index of one segment (Kafka's OffsetIndex, `.index`):
 * 8-byte entries {int32 offset - base_offset, int32 file position},
 * big-endian, both strictly increasing. An entry {batch last offset,
 * batch position} is added once more than index.interval.bytes of log have
 * been written since the previous one, so a lookup lands at most one
 * interval before the batch wanted.
 */
#ifndef ST_STORAGE_OFFSET_INDEX_H
#define ST_STORAGE_OFFSET_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/index_file.h"

#define ST_OFFSET_INDEX_ENTRY_BYTES 8

typedef struct st_offset_index {
    st_index_file_t file;
    int64_t base_offset;
} st_offset_index_t;

int st_offset_index_open(st_offset_index_t *idx, const char *path, int64_t base_offset, bool *created);
void st_offset_index_close(st_offset_index_t *idx);
/* Cheap load-time check (Kafka's sanityCheck plus the first entry): whole
 * entries, first and last entries in order, offsets below next_offset and
 * positions below log_bytes. A false answer means: rebuild from the log. */
bool st_offset_index_sane(const st_offset_index_t *idx, int64_t next_offset, int64_t log_bytes);
/* The entry with the largest offset <= target, or {base_offset, 0}. The
 * result is a hint: callers check the batch they find there. */
void st_offset_index_lookup(const st_offset_index_t *idx, int64_t target, int64_t *offset, int64_t *position);
/* Appends {offset, position}; ST_ERR_LIMIT when full, ST_ERR_CORRUPT when
 * not after the last entry or out of the int32 range. */
int st_offset_index_append(st_offset_index_t *idx, int64_t offset, int64_t position);
/* Drops entries with offset >= `offset`. */
void st_offset_index_truncate_to(st_offset_index_t *idx, int64_t offset);
static inline bool st_offset_index_full(const st_offset_index_t *idx) {
    return idx->file.entries >= idx->file.entries_max;
}
static inline int32_t st_offset_index_entries(const st_offset_index_t *idx) { return idx->file.entries; }
/* Entry i (< entries) as {offset, position}. */
void st_offset_index_entry(const st_offset_index_t *idx, int32_t i, int64_t *offset, int64_t *position);

#endif
