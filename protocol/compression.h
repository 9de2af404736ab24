/*
 * Record batch compression codecs, numbered as in the batch attributes'
 * low three bits. Decompression is always bounded by a caller-given cap so a
 * small hostile payload cannot inflate into unbounded memory.
 */
#ifndef ST_PROTOCOL_COMPRESSION_H
#define ST_PROTOCOL_COMPRESSION_H

#include <stdbool.h>
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

/*
 * Streaming decompression with a bounded output: the caller pulls output in
 * pieces of the size it chooses and may stop after any of them, so the work
 * done is proportional to the output asked for, and no more than
 * max_out_bytes is ever produced (one byte more is an error, not a silent
 * truncation). Snappy is decoded here, not by libsnappy, which has no
 * streaming decoder: a raw block (the whole payload from librdkafka, one
 * xerial block from Java) is decoded element by element into a buffer of
 * its declared length, checked against the budget before anything is
 * decoded; its copies may reach back anywhere in the block.
 *
 * The input is borrowed until st_decompressor_free; the decompressor owns
 * its library context and (snappy) block buffer.
 */
typedef struct st_decompressor {
    st_codec_t codec;
    const uint8_t *in;
    size_t in_len;
    size_t in_pos;
    size_t max_out_bytes;
    size_t produced; /* output handed out so far */
    bool finished;   /* the input is decoded to its end: no more output */
    void *ctx;       /* z_stream, LZ4F_dctx or ZSTD_DCtx */
    bool more_pending; /* lz4: output is buffered in the context */
    bool xerial;       /* snappy: blocks in snappy-java's framing */
    const uint8_t *snappy_in; /* snappy: the current block's elements */
    size_t snappy_in_len;
    size_t snappy_in_pos;
    uint8_t *block;        /* snappy: the current block's output... */
    size_t block_cap;
    size_t block_expected; /* ...as long as it declares */
    size_t block_len;      /* decoded so far */
    size_t block_pos;      /* handed out so far */
    int pending_error;     /* snappy: a fault, reported once what precedes it is out */
} st_decompressor_t;

/* Starts decompressing `in` with `codec`. 0, ST_ERR_CORRUPT_MESSAGE (empty
 * input for a codec that needs a header), ST_ERR_NO_MEMORY or
 * ST_ERR_UNSUPPORTED_COMPRESSION_TYPE (ST_CODEC_NONE too: nothing to do). On
 * failure nothing needs freeing. */
int st_decompressor_init(st_decompressor_t *d, st_codec_t codec, const uint8_t *in, size_t in_len,
                         size_t max_out_bytes);
/* Writes up to `cap` (> 0) bytes of output to `out` and sets *got. 0 with
 * *got < cap only when d->finished; ST_ERR_CORRUPT_MESSAGE on malformed or
 * truncated input, ST_ERR_LIMIT once the output would exceed max_out_bytes,
 * ST_ERR_NO_MEMORY. With an error, *got still counts the bytes written
 * before it: everything the stream yields before its fault is handed out
 * whatever the pieces' sizes. After an error, only st_decompressor_free. */
int st_decompressor_read(st_decompressor_t *d, uint8_t *out, size_t cap, size_t *got);
void st_decompressor_free(st_decompressor_t *d);

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
