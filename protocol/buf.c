#include "protocol/buf.h"

#include <stdlib.h>
#include <string.h>

int16_t st_read_i16(st_reader_t *r) {
    const uint8_t *p = st_reader_take(r, 2);
    return p ? st_get_i16be(p) : 0;
}

uint16_t st_read_u16(st_reader_t *r) { return (uint16_t)st_read_i16(r); }

int32_t st_read_i32(st_reader_t *r) {
    const uint8_t *p = st_reader_take(r, 4);
    return p ? st_get_i32be(p) : 0;
}

uint32_t st_read_u32(st_reader_t *r) { return (uint32_t)st_read_i32(r); }

int64_t st_read_i64(st_reader_t *r) {
    const uint8_t *p = st_reader_take(r, 8);
    return p ? st_get_i64be(p) : 0;
}

double st_read_f64(st_reader_t *r) {
    uint64_t u = (uint64_t)st_read_i64(r);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

uint64_t st_read_leb128(st_reader_t *r, int max_bytes) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        const uint8_t *p = st_reader_take(r, 1);
        if (!p) return 0;
        v |= (uint64_t)(*p & 0x7f) << (7 * i);
        if (!(*p & 0x80)) return v;
    }
    r->failed = true; /* too long: malformed */
    r->pos = r->end;
    return 0;
}

void st_writer_init(st_writer_t *w, size_t initial_cap) {
    memset(w, 0, sizeof *w);
    if (initial_cap) {
        w->data = malloc(initial_cap);
        if (!w->data) abort();
        w->cap = initial_cap;
    }
}

void st_writer_free(st_writer_t *w) {
    free(w->data);
    free(w->ranges);
    memset(w, 0, sizeof *w);
}

void st_writer_reset(st_writer_t *w) {
    w->len = 0;
    w->range_count = 0;
    w->range_bytes = 0;
}

uint8_t *st_writer_reserve(st_writer_t *w, size_t n) {
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) cap *= 2;
        uint8_t *d = realloc(w->data, cap);
        if (!d) abort();
        w->data = d;
        w->cap = cap;
    }
    return w->data + w->len;
}

void st_write_raw(st_writer_t *w, const void *p, size_t n) {
    if (!n) return;
    memcpy(st_writer_reserve(w, n), p, n);
    w->len += n;
}

void st_write_i8(st_writer_t *w, int8_t v) {
    *st_writer_reserve(w, 1) = (uint8_t)v;
    w->len += 1;
}

void st_write_i16(st_writer_t *w, int16_t v) {
    st_put_i16be(st_writer_reserve(w, 2), v);
    w->len += 2;
}

void st_write_u16(st_writer_t *w, uint16_t v) { st_write_i16(w, (int16_t)v); }

void st_write_i32(st_writer_t *w, int32_t v) {
    st_put_i32be(st_writer_reserve(w, 4), v);
    w->len += 4;
}

void st_write_u32(st_writer_t *w, uint32_t v) { st_write_i32(w, (int32_t)v); }

void st_write_i64(st_writer_t *w, int64_t v) {
    st_put_i64be(st_writer_reserve(w, 8), v);
    w->len += 8;
}

void st_write_f64(st_writer_t *w, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    st_write_i64(w, (int64_t)u);
}

static void write_leb128(st_writer_t *w, uint64_t v) {
    uint8_t *p = st_writer_reserve(w, 10);
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    w->len += n;
}

void st_write_uvarint(st_writer_t *w, uint32_t v) { write_leb128(w, v); }

void st_write_varint(st_writer_t *w, int32_t v) {
    write_leb128(w, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void st_write_varlong(st_writer_t *w, int64_t v) {
    write_leb128(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void st_write_file_range(st_writer_t *w, int fd, int64_t file_pos, int32_t len) {
    if (len <= 0) return;
    if (w->range_count == w->range_cap) {
        int32_t cap = w->range_cap ? w->range_cap * 2 : 8;
        st_file_range_t *r = realloc(w->ranges, (size_t)cap * sizeof *r);
        if (!r) abort();
        w->ranges = r;
        w->range_cap = cap;
    }
    w->ranges[w->range_count++] = (st_file_range_t){.at = w->len, .fd = fd, .file_pos = file_pos, .len = len};
    w->range_bytes += len;
}

void st_writer_patch_i32(st_writer_t *w, size_t at, int32_t v) { st_put_i32be(w->data + at, v); }

size_t st_uvarint_size(uint32_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t st_varint_size(int32_t v) { return st_uvarint_size(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)); }

size_t st_varlong_size(int64_t v) {
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}
