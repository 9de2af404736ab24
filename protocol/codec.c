#include "protocol/codec.h"

/* A length of -1 (classic) or 0 (compact, N+1) is null. */
static int64_t read_len(st_reader_t *r, bool compact, bool wide) {
    if (compact) return (int64_t)st_read_uvarint(r) - 1;
    return wide ? st_read_i32(r) : st_read_i16(r);
}

st_str_t st_codec_read_str(st_reader_t *r, st_arena_t *a, bool compact, bool nullable) {
    int64_t len = read_len(r, compact, false);
    if (r->failed) return st_str_null();
    if (len < 0) {
        if (len != -1 || !nullable) r->failed = true;
        return st_str_null();
    }
    const uint8_t *p = st_read_bytes(r, (size_t)len);
    if (!p) return st_str_null();
    char *s = st_arena_alloc(a, (size_t)len + 1);
    memcpy(s, p, (size_t)len);
    return (st_str_t){s, (int32_t)len};
}

st_bytes_t st_codec_read_bytes(st_reader_t *r, st_arena_t *a, bool compact, bool nullable) {
    (void)a; /* bytes point into the request buffer, which lives in the arena */
    int64_t len = read_len(r, compact, true);
    if (r->failed) return (st_bytes_t){NULL, -1};
    if (len < 0) {
        if (len != -1 || !nullable) r->failed = true;
        return (st_bytes_t){NULL, -1};
    }
    const uint8_t *p = st_read_bytes(r, (size_t)len);
    return p ? (st_bytes_t){p, (int32_t)len} : (st_bytes_t){NULL, -1};
}

st_records_t st_codec_read_records(st_reader_t *r, bool compact, bool nullable) {
    st_bytes_t b = st_codec_read_bytes(r, NULL, compact, nullable);
    return (st_records_t){.ptr = b.ptr, .len = b.len, .fd = -1};
}

int32_t st_codec_read_array_len(st_reader_t *r, bool compact, bool nullable, size_t min_element_bytes) {
    int64_t n = compact ? (int64_t)st_read_uvarint(r) - 1 : st_read_i32(r);
    if (r->failed) return 0;
    if (n < 0) {
        if (n != -1 || !nullable) r->failed = true;
        return r->failed ? 0 : -1;
    }
    if (min_element_bytes == 0) min_element_bytes = 1;
    if ((uint64_t)n > st_reader_remaining(r) / min_element_bytes) {
        r->failed = true;
        r->pos = r->end;
        return 0;
    }
    return (int32_t)n;
}

void st_codec_skip_tagged(st_reader_t *r) {
    uint32_t count = st_read_uvarint(r);
    for (uint32_t i = 0; i < count && !r->failed; i++) {
        (void)st_read_uvarint(r); /* tag */
        uint32_t size = st_read_uvarint(r);
        st_read_skip(r, size);
    }
}

static void write_len(st_writer_t *w, int32_t len, bool compact, bool wide) {
    if (compact)
        st_write_uvarint(w, (uint32_t)(len + 1));
    else if (wide)
        st_write_i32(w, len);
    else
        st_write_i16(w, (int16_t)len);
}

void st_codec_write_str(st_writer_t *w, st_str_t s, bool compact) {
    write_len(w, s.len < 0 ? -1 : s.len, compact, false);
    if (s.len > 0) st_write_raw(w, s.ptr, (size_t)s.len);
}

void st_codec_write_bytes(st_writer_t *w, st_bytes_t b, bool compact) {
    write_len(w, b.len < 0 ? -1 : b.len, compact, true);
    if (b.len > 0) st_write_raw(w, b.ptr, (size_t)b.len);
}

void st_codec_write_records(st_writer_t *w, const st_records_t *rec, bool compact) {
    write_len(w, rec->len < 0 ? -1 : rec->len, compact, true);
    if (rec->len <= 0) return;
    if (rec->in_file)
        st_write_file_range(w, rec->fd, rec->file_pos, rec->len);
    else
        st_write_raw(w, rec->ptr, (size_t)rec->len);
}

void st_codec_write_array_len(st_writer_t *w, int32_t count, bool compact) {
    write_len(w, count < 0 ? -1 : count, compact, true);
}

static size_t len_size(int32_t len, bool compact, bool wide) {
    if (compact) return st_uvarint_size((uint32_t)(len + 1));
    return wide ? 4 : 2;
}

size_t st_codec_str_size(st_str_t s, bool compact) {
    return len_size(s.len < 0 ? -1 : s.len, compact, false) + (s.len > 0 ? (size_t)s.len : 0);
}

size_t st_codec_bytes_size(st_bytes_t b, bool compact) {
    return len_size(b.len < 0 ? -1 : b.len, compact, true) + (b.len > 0 ? (size_t)b.len : 0);
}

size_t st_codec_records_size(const st_records_t *rec, bool compact) {
    return len_size(rec->len < 0 ? -1 : rec->len, compact, true) + (rec->len > 0 ? (size_t)rec->len : 0);
}

size_t st_codec_array_len_size(int32_t count, bool compact) {
    return len_size(count < 0 ? -1 : count, compact, true);
}
