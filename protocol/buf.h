/*
 * Byte cursors for the wire format.
 *
 * A reader never trusts a length: every read checks the bytes that remain,
 * and a short read sets the sticky `failed` flag and yields zeros, so a
 * decoder checks the flag once at the end (STYLE 3).
 *
 * A writer is a growable memory buffer plus an ordered list of file ranges
 * spliced in at given buffer positions, so a Fetch response can carry log
 * bytes that are sent with sendfile(2) instead of being copied (nginx-style
 * chain, STYLE models). Writers abort on out-of-memory: a broker that cannot
 * allocate a response buffer has no better option.
 */
#ifndef ST_PROTOCOL_BUF_H
#define ST_PROTOCOL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_reader {
    const uint8_t *pos;
    const uint8_t *end;
    bool failed;
} st_reader_t;

static inline void st_reader_init(st_reader_t *r, const void *data, size_t len) {
    r->pos = (const uint8_t *)data;
    r->end = r->pos + len;
    r->failed = false;
}

static inline size_t st_reader_remaining(const st_reader_t *r) {
    return (size_t)(r->end - r->pos);
}

/* Returns n bytes at the cursor and advances, or NULL: then the reader has
 * failed and sits at its end, so every later read fails too. */
static inline const uint8_t *st_reader_take(st_reader_t *r, size_t n) {
    if (__builtin_expect(r->failed || st_reader_remaining(r) < n, 0)) {
        r->failed = true;
        r->pos = r->end;
        return NULL;
    }
    const uint8_t *p = r->pos;
    r->pos += n;
    return p;
}

static inline int8_t st_read_i8(st_reader_t *r) {
    const uint8_t *p = st_reader_take(r, 1);
    return p ? (int8_t)p[0] : 0;
}
int16_t st_read_i16(st_reader_t *r);
uint16_t st_read_u16(st_reader_t *r);
int32_t st_read_i32(st_reader_t *r);
uint32_t st_read_u32(st_reader_t *r);
int64_t st_read_i64(st_reader_t *r);
double st_read_f64(st_reader_t *r);
/* LEB128 of at most max_bytes, any length: what the inline readers below
 * fall back to for multi-byte values, truncation and failed readers. */
uint64_t st_read_leb128(st_reader_t *r, int max_bytes);

/* A single-byte value in a reader that has not failed (a failed reader is
 * not always at its end). Most varints in records are one byte: lengths of
 * small keys, deltas, header counts. */
static inline bool st_reader_single_byte_next(const st_reader_t *r) {
    return __builtin_expect(!r->failed && r->pos < r->end && *r->pos < 0x80, 1);
}

/* Unsigned LEB128 of at most 5 bytes (protocol compact lengths, tags). */
static inline uint32_t st_read_uvarint(st_reader_t *r) {
    if (st_reader_single_byte_next(r)) return *r->pos++;
    return (uint32_t)st_read_leb128(r, 5);
}

/* Zig-zag varint of at most 5 bytes / varlong of at most 10 (records). */
static inline int32_t st_read_varint(st_reader_t *r) {
    uint32_t u = st_reader_single_byte_next(r) ? *r->pos++ : (uint32_t)st_read_leb128(r, 5);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

static inline int64_t st_read_varlong(st_reader_t *r) {
    uint64_t u = st_reader_single_byte_next(r) ? *r->pos++ : st_read_leb128(r, 10);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}
/* Returns a pointer to `len` bytes inside the buffer and advances, or NULL
 * (and failed) if fewer remain. */
static inline const uint8_t *st_read_bytes(st_reader_t *r, size_t len) { return st_reader_take(r, len); }
static inline void st_read_skip(st_reader_t *r, size_t len) { (void)st_reader_take(r, len); }

/* A file range spliced into a writer's output at buffer offset `at`. */
typedef struct st_file_range {
    size_t at;
    int fd;
    int64_t file_pos;
    int32_t len;
} st_file_range_t;

typedef struct st_writer {
    uint8_t *data;
    size_t len;
    size_t cap;
    st_file_range_t *ranges;
    int32_t range_count;
    int32_t range_cap;
    int64_t range_bytes; /* sum of ranges' len */
} st_writer_t;

void st_writer_init(st_writer_t *w, size_t initial_cap);
void st_writer_free(st_writer_t *w);
void st_writer_reset(st_writer_t *w);
/* Total bytes the writer will emit: memory plus file ranges. */
static inline int64_t st_writer_total(const st_writer_t *w) {
    return (int64_t)w->len + w->range_bytes;
}
/* Ensures room for `n` more bytes and returns the write position. */
uint8_t *st_writer_reserve(st_writer_t *w, size_t n);
void st_write_raw(st_writer_t *w, const void *p, size_t n);
void st_write_i8(st_writer_t *w, int8_t v);
void st_write_i16(st_writer_t *w, int16_t v);
void st_write_u16(st_writer_t *w, uint16_t v);
void st_write_i32(st_writer_t *w, int32_t v);
void st_write_u32(st_writer_t *w, uint32_t v);
void st_write_i64(st_writer_t *w, int64_t v);
void st_write_f64(st_writer_t *w, double v);
void st_write_uvarint(st_writer_t *w, uint32_t v);
void st_write_varint(st_writer_t *w, int32_t v);
void st_write_varlong(st_writer_t *w, int64_t v);
void st_write_file_range(st_writer_t *w, int fd, int64_t file_pos, int32_t len);
/* Overwrites 4 bytes at `at` (a length or CRC filled in after the body). */
void st_writer_patch_i32(st_writer_t *w, size_t at, int32_t v);

size_t st_uvarint_size(uint32_t v);
size_t st_varint_size(int32_t v);
size_t st_varlong_size(int64_t v);

/* Big-endian helpers for fixed layouts (record batch headers, index files). */
static inline void st_put_i32be(uint8_t *p, int32_t v) {
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)(u >> 24); p[1] = (uint8_t)(u >> 16); p[2] = (uint8_t)(u >> 8); p[3] = (uint8_t)u;
}
static inline void st_put_i64be(uint8_t *p, int64_t v) {
    st_put_i32be(p, (int32_t)((uint64_t)v >> 32));
    st_put_i32be(p + 4, (int32_t)(uint32_t)v);
}
static inline void st_put_i16be(uint8_t *p, int16_t v) {
    uint16_t u = (uint16_t)v;
    p[0] = (uint8_t)(u >> 8); p[1] = (uint8_t)u;
}
static inline int32_t st_get_i32be(const uint8_t *p) {
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}
static inline int64_t st_get_i64be(const uint8_t *p) {
    return (int64_t)(((uint64_t)(uint32_t)st_get_i32be(p) << 32) | (uint32_t)st_get_i32be(p + 4));
}
static inline int16_t st_get_i16be(const uint8_t *p) {
    return (int16_t)(((uint16_t)p[0] << 8) | p[1]);
}

#endif
