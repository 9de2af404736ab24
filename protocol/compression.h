/*
 * Record batch compression codecs, numbered as in the batch attributes'
 * low three bits. Decompression is always bounded by a caller-given cap so a
 * small hostile payload cannot inflate into unbounded memory.
 */
#ifndef ST_PROTOCOL_COMPRESSION_H
#define ST_PROTOCOL_COMPRESSION_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"

typedef enum st_codec {
    ST_CODEC_NONE = 0,
    ST_CODEC_GZIP = 1,
    ST_CODEC_SNAPPY = 2, /* raw snappy, or the xerial framing Java clients send */
    ST_CODEC_LZ4 = 3,    /* LZ4 frame format */
    ST_CODEC_ZSTD = 4,
} st_codec_t;

/* Appends the compressed form of `in` to `out`. Returns 0 or
 * ST_ERR_UNSUPPORTED_COMPRESSION_TYPE / ST_ERR_IO. */
int st_compress(st_codec_t codec, const uint8_t *in, size_t in_len, st_writer_t *out);

/* Appends the decompressed form of `in` to `out`, failing with
 * ST_ERR_CORRUPT_MESSAGE on malformed input and ST_ERR_LIMIT when the output
 * would exceed `max_out_bytes`. On failure `out` may hold partial output
 * (callers reset it). */
int st_decompress(st_codec_t codec, const uint8_t *in, size_t in_len, size_t max_out_bytes,
                  st_writer_t *out);

const char *st_codec_name(st_codec_t codec);
/* "none", "gzip", "snappy", "lz4", "zstd", "producer" (-1) -> codec; -2 if unknown. */
int st_codec_from_name(const char *name);

#endif
