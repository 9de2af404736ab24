#include "storage/time_index.h"

#include "protocol/buf.h"
#include "common/errors.h"

static void entry_at(const st_time_index_t *idx, int32_t i, int64_t *timestamp, int64_t *offset) {
    const uint8_t *e = st_index_file_entry(&idx->file, i);
    *timestamp = st_get_i64be(e);
    *offset = idx->base_offset + st_get_i32be(e + 8);
}

void st_time_index_entry(const st_time_index_t *idx, int32_t i, int64_t *timestamp, int64_t *offset) {
    entry_at(idx, i, timestamp, offset);
}

int st_time_index_open(st_time_index_t *idx, const char *path, int64_t base_offset, bool *created) {
    idx->base_offset = base_offset;
    return st_index_file_open(&idx->file, path, ST_TIME_INDEX_ENTRY_BYTES, created);
}

void st_time_index_close(st_time_index_t *idx) { st_index_file_close(&idx->file); }

bool st_time_index_sane(const st_time_index_t *idx, int64_t next_offset) {
    if (!idx->file.size_valid) return false;
    int32_t n = idx->file.entries;
    if (n == 0) return true;
    int64_t first_ts, first_off, last_ts, last_off;
    entry_at(idx, 0, &first_ts, &first_off);
    entry_at(idx, n - 1, &last_ts, &last_off);
    if (first_ts < 0 || first_off < idx->base_offset) return false;
    /* Timestamps strictly increase from a value >= 0, so only the first
     * entry may be all zero; a later zero entry is a preallocated tail. */
    if (n > 1 && (last_ts <= first_ts || last_off < first_off)) return false;
    return last_off < next_offset;
}

bool st_time_index_last(const st_time_index_t *idx, int64_t *timestamp, int64_t *offset) {
    if (idx->file.entries == 0) return false;
    entry_at(idx, idx->file.entries - 1, timestamp, offset);
    return true;
}

int64_t st_time_index_lookup(const st_time_index_t *idx, int64_t target) {
    int64_t result = idx->base_offset;
    int32_t lo = 0, hi = idx->file.entries - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int64_t ts, off;
        entry_at(idx, mid, &ts, &off);
        if (ts < target) {
            result = off;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return result;
}

int st_time_index_maybe_append(st_time_index_t *idx, int64_t timestamp, int64_t offset, bool final) {
    if (timestamp < 0) return 0;
    int64_t rel = offset - idx->base_offset;
    if (rel < 0 || rel > INT32_MAX) return ST_ERR_CORRUPT;
    int64_t last_ts, last_off;
    if (st_time_index_last(idx, &last_ts, &last_off)) {
        if (timestamp <= last_ts) return 0;
        if (offset < last_off) return ST_ERR_CORRUPT;
    }
    if (!final && st_time_index_full(idx)) return ST_ERR_LIMIT;
    uint8_t e[ST_TIME_INDEX_ENTRY_BYTES];
    st_put_i64be(e, timestamp);
    st_put_i32be(e + 8, (int32_t)rel);
    return st_index_file_append(&idx->file, e);
}

void st_time_index_truncate_to(st_time_index_t *idx, int64_t offset) {
    int32_t n = idx->file.entries;
    while (n > 0) {
        int64_t ts, off;
        entry_at(idx, n - 1, &ts, &off);
        if (off < offset) break;
        n--;
    }
    st_index_file_truncate_entries(&idx->file, n);
}
