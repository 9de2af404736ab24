#include "storage/offset_index.h"

#include "protocol/buf.h"
#include "common/errors.h"

static void entry_at(const st_offset_index_t *idx, int32_t i, int64_t *offset, int64_t *position) {
    const uint8_t *e = st_index_file_entry(&idx->file, i);
    *offset = idx->base_offset + st_get_i32be(e);
    *position = st_get_i32be(e + 4);
}

void st_offset_index_entry(const st_offset_index_t *idx, int32_t i, int64_t *offset, int64_t *position) {
    entry_at(idx, i, offset, position);
}

int st_offset_index_open(st_offset_index_t *idx, const char *path, int64_t base_offset, bool *created) {
    idx->base_offset = base_offset;
    return st_index_file_open(&idx->file, path, ST_OFFSET_INDEX_ENTRY_BYTES, created);
}

void st_offset_index_close(st_offset_index_t *idx) { st_index_file_close(&idx->file); }

bool st_offset_index_sane(const st_offset_index_t *idx, int64_t next_offset, int64_t log_bytes) {
    if (!idx->file.size_valid) return false;
    int32_t n = idx->file.entries;
    if (n == 0) return true;
    int64_t first_off, first_pos, last_off, last_pos;
    entry_at(idx, 0, &first_off, &first_pos);
    entry_at(idx, n - 1, &last_off, &last_pos);
    if (first_off < idx->base_offset || first_pos < 0) return false;
    if (n > 1 && (last_off <= first_off || last_pos <= first_pos)) return false;
    /* Position 0 is never indexed (the first batch needs no entry), so a
     * zero entry is an untrimmed, preallocated tail. */
    if (last_pos == 0) return false;
    return last_off < next_offset && last_pos < log_bytes;
}

void st_offset_index_lookup(const st_offset_index_t *idx, int64_t target, int64_t *offset, int64_t *position) {
    *offset = idx->base_offset;
    *position = 0;
    int32_t lo = 0, hi = idx->file.entries - 1, found = -1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int64_t o, p;
        entry_at(idx, mid, &o, &p);
        if (o <= target) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (found >= 0) entry_at(idx, found, offset, position);
}

int st_offset_index_append(st_offset_index_t *idx, int64_t offset, int64_t position) {
    int64_t rel = offset - idx->base_offset;
    if (rel < 0 || rel > INT32_MAX || position <= 0 || position > INT32_MAX) return ST_ERR_CORRUPT;
    int32_t n = idx->file.entries;
    if (n > 0) {
        int64_t lo, lp;
        entry_at(idx, n - 1, &lo, &lp);
        if (offset <= lo || position <= lp) return ST_ERR_CORRUPT;
    }
    uint8_t e[ST_OFFSET_INDEX_ENTRY_BYTES];
    st_put_i32be(e, (int32_t)rel);
    st_put_i32be(e + 4, (int32_t)position);
    return st_index_file_append(&idx->file, e);
}

void st_offset_index_truncate_to(st_offset_index_t *idx, int64_t offset) {
    int32_t n = idx->file.entries;
    while (n > 0) {
        int64_t o, p;
        entry_at(idx, n - 1, &o, &p);
        if (o < offset) break;
        n--;
    }
    st_index_file_truncate_entries(&idx->file, n);
}
