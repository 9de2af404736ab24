/*
 * Primitive wire types shared by the generated message code
 * (protocol/messages.h, made by tools/protogen.py from protocol/defs).
 *
 * Decoded strings are copied into the request arena with a NUL after them,
 * so handlers can use `ptr` as a C string; null is len == -1.
 */
#ifndef ST_PROTOCOL_CODEC_H
#define ST_PROTOCOL_CODEC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "protocol/arena.h"
#include "protocol/buf.h"

typedef struct st_str {
    const char *ptr;
    int32_t len; /* -1: null */
} st_str_t;

typedef struct st_bytes {
    const uint8_t *ptr;
    int32_t len; /* -1: null */
} st_bytes_t;

/* A records field: bytes in memory, or a range of a segment file that the
 * writer splices in for sendfile. */
typedef struct st_records {
    const uint8_t *ptr;
    int32_t len; /* -1: null */
    bool in_file;
    int fd;
    int64_t file_pos;
} st_records_t;

typedef struct st_uuid {
    uint8_t bytes[16];
} st_uuid_t;

static inline st_str_t st_str(const char *s) {
    return s ? (st_str_t){s, (int32_t)strlen(s)} : (st_str_t){NULL, -1};
}
static inline st_str_t st_str_null(void) { return (st_str_t){NULL, -1}; }
static inline bool st_str_is_null(st_str_t s) { return s.len < 0; }
static inline bool st_str_eq(st_str_t s, const char *c) {
    return s.len >= 0 && c && (size_t)s.len == strlen(c) && memcmp(s.ptr, c, (size_t)s.len) == 0;
}
static inline bool st_uuid_is_zero(const st_uuid_t *u) {
    static const st_uuid_t zero;
    return memcmp(u->bytes, zero.bytes, 16) == 0;
}

/* Runtime used by the generated code. `compact` selects the flexible
 * (unsigned varint, N+1) length form. */
st_str_t st_codec_read_str(st_reader_t *r, st_arena_t *a, bool compact, bool nullable);
st_bytes_t st_codec_read_bytes(st_reader_t *r, st_arena_t *a, bool compact, bool nullable);
st_records_t st_codec_read_records(st_reader_t *r, bool compact, bool nullable);
/* Reads an array length and checks it against the remaining bytes (each
 * element takes at least `min_element_bytes`) before the caller allocates.
 * Returns -1 for null (only when nullable), or fails the reader. */
int32_t st_codec_read_array_len(st_reader_t *r, bool compact, bool nullable, size_t min_element_bytes);
void st_codec_skip_tagged(st_reader_t *r);

void st_codec_write_str(st_writer_t *w, st_str_t s, bool compact);
void st_codec_write_bytes(st_writer_t *w, st_bytes_t b, bool compact);
void st_codec_write_records(st_writer_t *w, const st_records_t *rec, bool compact);
void st_codec_write_array_len(st_writer_t *w, int32_t count, bool compact);
size_t st_codec_str_size(st_str_t s, bool compact);
size_t st_codec_bytes_size(st_bytes_t b, bool compact);
size_t st_codec_records_size(const st_records_t *rec, bool compact);
size_t st_codec_array_len_size(int32_t count, bool compact);

#endif
