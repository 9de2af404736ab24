/*
 * Record batch codecs on top of zlib, libsnappy, liblz4 (frame format) and
 * libzstd.
 *
 * Decompression never trusts a size the payload declares: output goes into
 * the writer in bounded steps and stops with ST_ERR_LIMIT as soon as one byte
 * more than `max_out_bytes` would be produced. Memory is therefore bounded by
 * the cap plus each library's own bounded state (zstd's window is limited to
 * 128 MiB, lz4's block buffer to 4 MiB).
 */
#include "protocol/compression.h"

#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "protocol/errors.h"

/* Largest step the decompressors write at once; keeps the writer from
 * growing far past what the payload really produces. */
#define COMPRESSION_STEP_BYTES (64 * 1024)
/* Java's default gzip level, what Kafka uses unless told otherwise. */
#define COMPRESSION_GZIP_LEVEL Z_DEFAULT_COMPRESSION
#define COMPRESSION_ZSTD_LEVEL 3
/* libzstd's default decoder window limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT, only
 * in its static-linking API): 128 MiB. Java producers stay within it at
 * every level, and it bounds what a hostile frame can make us allocate. */
#define COMPRESSION_ZSTD_WINDOW_LOG_MAX 27

/* The xerial snappy-java stream header: magic, then version and
 * min-compatible-version as big-endian int32s. */
static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_BYTES 16

/* Output budget: at most `max_out_bytes` bytes may be produced; the sinks
 * below offer one byte more so that overshoot is detected, not silently
 * truncated. */
typedef struct out_budget {
    st_writer_t *out;
    size_t produced;
    size_t max_out_bytes;
} out_budget_t;

/* Room for the next step (0 means the cap was overshot). */
static size_t budget_step(const out_budget_t *b) {
    size_t left = b->produced <= b->max_out_bytes ? b->max_out_bytes - b->produced : 0;
    /* +1 so an overshoot by a single byte is seen. */
    size_t room = left < COMPRESSION_STEP_BYTES ? left + 1 : COMPRESSION_STEP_BYTES;
    return room;
}

static uint8_t *budget_reserve(out_budget_t *b, size_t n) { return st_writer_reserve(b->out, n); }

static void budget_commit(out_budget_t *b, size_t n) {
    b->out->len += n;
    b->produced += n;
}

static bool budget_over(const out_budget_t *b) { return b->produced > b->max_out_bytes; }

/* ---- gzip ---------------------------------------------------------------- */

static int gzip_compress(const uint8_t *in, size_t in_len, st_writer_t *out) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 16: gzip wrapper, as java.util.zip.GZIPOutputStream writes. */
    if (deflateInit2(&zs, COMPRESSION_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ST_ERR_IO;
    int rc = 0;
    size_t consumed = 0;
    for (;;) {
        /* avail_in is a uInt: feed huge inputs in slices. */
        if (zs.avail_in == 0 && consumed < in_len) {
            size_t n = in_len - consumed < UINT_MAX ? in_len - consumed : UINT_MAX;
            zs.next_in = (Bytef *)(uintptr_t)(in + consumed);
            zs.avail_in = (uInt)n;
            consumed += n;
        }
        int flush = consumed == in_len ? Z_FINISH : Z_NO_FLUSH;
        size_t room = COMPRESSION_STEP_BYTES;
        zs.next_out = st_writer_reserve(out, room);
        zs.avail_out = (uInt)room;
        int zrc = deflate(&zs, flush);
        out->len += room - zs.avail_out;
        if (zrc == Z_STREAM_END) break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = ST_ERR_IO;
            break;
        }
    }
    deflateEnd(&zs);
    return rc;
}

static bool is_gzip_member(const uint8_t *p, size_t len) {
    return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

static int gzip_decompress(const uint8_t *in, size_t in_len, out_budget_t *b) {
    if (in_len == 0) return ST_ERR_CORRUPT_MESSAGE;
    if (in_len > UINT_MAX) return ST_ERR_CORRUPT_MESSAGE; /* far beyond any batch */
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 32: accept gzip (what clients send) and zlib headers. */
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return ST_ERR_IO;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)in_len;
    int rc = 0;
    for (;;) {
        size_t room = budget_step(b);
        zs.next_out = budget_reserve(b, room);
        zs.avail_out = (uInt)room;
        int zrc = inflate(&zs, Z_NO_FLUSH);
        budget_commit(b, room - zs.avail_out);
        if (budget_over(b)) {
            rc = ST_ERR_LIMIT;
            break;
        }
        if (zrc == Z_STREAM_END) {
            /* Like java.util.zip.GZIPInputStream: a following gzip member is
             * decoded too, anything else after the end is ignored. */
            if (is_gzip_member(zs.next_in, zs.avail_in) && inflateReset(&zs) == Z_OK) continue;
            break;
        }
        /* Z_BUF_ERROR with fresh output room means no progress is
         * possible: the stream is truncated. */
        if (zrc != Z_OK) {
            rc = zrc == Z_MEM_ERROR ? ST_ERR_NO_MEMORY : ST_ERR_CORRUPT_MESSAGE;
            break;
        }
    }
    inflateEnd(&zs);
    return rc;
}

/* ---- snappy -------------------------------------------------------------- */

static int snappy_compress_raw(const uint8_t *in, size_t in_len, st_writer_t *out) {
    size_t cap = snappy_max_compressed_length(in_len);
    size_t n = cap;
    uint8_t *dst = st_writer_reserve(out, cap);
    if (snappy_compress((const char *)in, in_len, (char *)dst, &n) != SNAPPY_OK) return ST_ERR_IO;
    out->len += n;
    return 0;
}

/* One raw snappy block: its declared length is checked against the budget
 * before any memory is reserved, and libsnappy never writes past the length
 * it was given. */
static int snappy_block(const uint8_t *in, size_t in_len, out_budget_t *b) {
    size_t n = 0;
    if (snappy_uncompressed_length((const char *)in, in_len, &n) != SNAPPY_OK)
        return ST_ERR_CORRUPT_MESSAGE;
    if (n > b->max_out_bytes - b->produced) return ST_ERR_LIMIT;
    if (n == 0) {
        /* Still has to be a well-formed empty block. */
        return snappy_validate_compressed_buffer((const char *)in, in_len) == SNAPPY_OK
                   ? 0
                   : ST_ERR_CORRUPT_MESSAGE;
    }
    size_t got = n;
    uint8_t *dst = budget_reserve(b, n);
    if (snappy_uncompress((const char *)in, in_len, (char *)dst, &got) != SNAPPY_OK || got != n)
        return ST_ERR_CORRUPT_MESSAGE;
    budget_commit(b, n);
    return 0;
}

static int snappy_decompress_any(const uint8_t *in, size_t in_len, out_budget_t *b) {
    if (in_len < XERIAL_HEADER_BYTES || memcmp(in, xerial_magic, sizeof xerial_magic) != 0)
        return snappy_block(in, in_len, b);
    /* xerial framing (snappy-java's SnappyOutputStream, used by the Java
     * producer): header, then blocks of big-endian int32 length + raw
     * snappy. The version fields are not checked, as snappy-java does not. */
    st_reader_t r;
    st_reader_init(&r, in + XERIAL_HEADER_BYTES, in_len - XERIAL_HEADER_BYTES);
    while (st_reader_remaining(&r) > 0) {
        int32_t block_len = st_read_i32(&r);
        if (r.failed || block_len <= 0) return ST_ERR_CORRUPT_MESSAGE;
        const uint8_t *block = st_read_bytes(&r, (size_t)block_len);
        if (!block) return ST_ERR_CORRUPT_MESSAGE;
        int rc = snappy_block(block, (size_t)block_len, b);
        if (rc != 0) return rc;
    }
    return 0;
}

/* ---- lz4 ----------------------------------------------------------------- */

static int lz4_compress(const uint8_t *in, size_t in_len, st_writer_t *out) {
    /* The frame settings Kafka's own LZ4 stream writes (independent 64 KiB
     * blocks, no content size), so every consumer can read it. */
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t cap = LZ4F_compressFrameBound(in_len, &prefs);
    uint8_t *dst = st_writer_reserve(out, cap);
    size_t n = LZ4F_compressFrame(dst, cap, in, in_len, &prefs);
    if (LZ4F_isError(n)) return ST_ERR_IO;
    out->len += n;
    return 0;
}

static int lz4_decompress(const uint8_t *in, size_t in_len, out_budget_t *b) {
    if (in_len == 0) return ST_ERR_CORRUPT_MESSAGE;
    LZ4F_dctx *dctx = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) return ST_ERR_NO_MEMORY;
    int rc = 0;
    size_t pos = 0;
    size_t hint = 1; /* nonzero: a frame is in progress */
    while (pos < in_len) {
        size_t room = budget_step(b);
        uint8_t *dst = budget_reserve(b, room);
        size_t dst_n = room;
        size_t src_n = in_len - pos;
        hint = LZ4F_decompress(dctx, dst, &dst_n, in + pos, &src_n, NULL);
        if (LZ4F_isError(hint)) {
            rc = ST_ERR_CORRUPT_MESSAGE;
            break;
        }
        budget_commit(b, dst_n);
        pos += src_n;
        if (budget_over(b)) {
            rc = ST_ERR_LIMIT;
            break;
        }
        if (src_n == 0 && dst_n == 0) {
            rc = ST_ERR_CORRUPT_MESSAGE; /* no progress: never spin */
            break;
        }
    }
    /* Input used up: flush what the context still holds (a block decoded
     * into its internal buffer that did not fit the last step). */
    while (rc == 0 && hint != 0) {
        size_t room = budget_step(b);
        uint8_t *dst = budget_reserve(b, room);
        size_t dst_n = room;
        size_t src_n = 0;
        hint = LZ4F_decompress(dctx, dst, &dst_n, in + in_len, &src_n, NULL);
        if (LZ4F_isError(hint)) {
            rc = ST_ERR_CORRUPT_MESSAGE;
            break;
        }
        budget_commit(b, dst_n);
        if (budget_over(b)) {
            rc = ST_ERR_LIMIT;
            break;
        }
        if (dst_n == 0 && hint != 0) rc = ST_ERR_CORRUPT_MESSAGE; /* truncated frame */
    }
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

/* ---- zstd ---------------------------------------------------------------- */

static int zstd_compress(const uint8_t *in, size_t in_len, st_writer_t *out) {
    size_t cap = ZSTD_compressBound(in_len);
    uint8_t *dst = st_writer_reserve(out, cap);
    size_t n = ZSTD_compress(dst, cap, in, in_len, COMPRESSION_ZSTD_LEVEL);
    if (ZSTD_isError(n)) return ST_ERR_IO;
    out->len += n;
    return 0;
}

static int zstd_decompress(const uint8_t *in, size_t in_len, out_budget_t *b) {
    if (in_len == 0) return ST_ERR_CORRUPT_MESSAGE;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx) return ST_ERR_NO_MEMORY;
    /* Streaming, so the frame's declared content size is never used to size
     * a buffer; the window (the decoder's own allocation) is bounded. */
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, COMPRESSION_ZSTD_WINDOW_LOG_MAX);
    ZSTD_inBuffer src = {in, in_len, 0};
    int rc = 0;
    size_t hint = 1;
    for (;;) {
        size_t room = budget_step(b);
        ZSTD_outBuffer dst = {budget_reserve(b, room), room, 0};
        size_t prev_in = src.pos;
        hint = ZSTD_decompressStream(dctx, &dst, &src);
        if (ZSTD_isError(hint)) {
            rc = ZSTD_getErrorCode(hint) == ZSTD_error_memory_allocation ? ST_ERR_NO_MEMORY
                                                                          : ST_ERR_CORRUPT_MESSAGE;
            break;
        }
        budget_commit(b, dst.pos);
        if (budget_over(b)) {
            rc = ST_ERR_LIMIT;
            break;
        }
        /* hint == 0: a frame ended and everything is flushed; more input
         * means another frame (concatenated frames are valid zstd). */
        if (hint == 0 && src.pos == src.size) break;
        if (src.pos == src.size && dst.pos < dst.size) {
            rc = ST_ERR_CORRUPT_MESSAGE; /* input ended inside a frame */
            break;
        }
        if (src.pos == prev_in && dst.pos == 0) {
            rc = ST_ERR_CORRUPT_MESSAGE; /* no progress: never spin */
            break;
        }
    }
    ZSTD_freeDCtx(dctx);
    return rc;
}

/* ---- public -------------------------------------------------------------- */

int st_compress(st_codec_t codec, const uint8_t *in, size_t in_len, st_writer_t *out) {
    switch (codec) {
    case ST_CODEC_NONE: st_write_raw(out, in, in_len); return 0;
    case ST_CODEC_GZIP: return gzip_compress(in, in_len, out);
    case ST_CODEC_SNAPPY: return snappy_compress_raw(in, in_len, out);
    case ST_CODEC_LZ4: return lz4_compress(in, in_len, out);
    case ST_CODEC_ZSTD: return zstd_compress(in, in_len, out);
    }
    return ST_ERR_UNSUPPORTED_COMPRESSION_TYPE;
}

int st_decompress(st_codec_t codec, const uint8_t *in, size_t in_len, size_t max_out_bytes,
                  st_writer_t *out) {
    out_budget_t b = {.out = out, .produced = 0, .max_out_bytes = max_out_bytes};
    switch (codec) {
    case ST_CODEC_NONE:
        if (in_len > max_out_bytes) return ST_ERR_LIMIT;
        st_write_raw(out, in, in_len);
        return 0;
    case ST_CODEC_GZIP: return gzip_decompress(in, in_len, &b);
    case ST_CODEC_SNAPPY: return snappy_decompress_any(in, in_len, &b);
    case ST_CODEC_LZ4: return lz4_decompress(in, in_len, &b);
    case ST_CODEC_ZSTD: return zstd_decompress(in, in_len, &b);
    }
    return ST_ERR_UNSUPPORTED_COMPRESSION_TYPE;
}

const char *st_codec_name(st_codec_t codec) {
    switch (codec) {
    case ST_CODEC_NONE: return "none";
    case ST_CODEC_GZIP: return "gzip";
    case ST_CODEC_SNAPPY: return "snappy";
    case ST_CODEC_LZ4: return "lz4";
    case ST_CODEC_ZSTD: return "zstd";
    }
    return "unknown";
}

int st_codec_from_name(const char *name) {
    static const struct {
        const char *name;
        int codec;
    } names[] = {
        {"none", ST_CODEC_NONE},  {"gzip", ST_CODEC_GZIP}, {"snappy", ST_CODEC_SNAPPY},
        {"lz4", ST_CODEC_LZ4},    {"zstd", ST_CODEC_ZSTD}, {"producer", -1},
        /* Kafka's compression.type also accepts "uncompressed". */
        {"uncompressed", ST_CODEC_NONE},
    };
    if (!name) return -2;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) return names[i].codec;
    return -2;
}
