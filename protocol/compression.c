/*
 * Record batch codecs on top of zlib, libsnappy (compression only: the
 * snappy decoder is here, to be incremental), liblz4 (frame format) and
 * libzstd.
 *
 * Decompression never trusts a size the payload declares and is pulled by
 * the caller a piece at a time (st_decompressor_read): each library call is
 * offered at most one byte more than the budget has left, so decoding stops
 * with ST_ERR_LIMIT as soon as the output would pass `max_out_bytes`, and a
 * caller that stops reading early (a validator that found a bad record, or
 * one that has used its share of a loop turn) leaves the rest undecoded.
 * Memory is bounded by what the caller reads into plus each library's own
 * bounded state (zstd's window is limited to 128 MiB, lz4's block buffer to
 * 4 MiB), and for snappy the current block's declared length, which is
 * within the budget.
 */
#include "protocol/compression.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/errors.h"

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

/* Output room for the next library call: what the caller offers, but never
 * more than one byte past the budget, so that an overshoot is seen rather
 * than silently cut off. */
static size_t read_room(const st_decompressor_t *d, size_t offered) {
    size_t left = d->produced <= d->max_out_bytes ? d->max_out_bytes - d->produced : 0;
    if (left == SIZE_MAX) return offered;
    return offered < left + 1 ? offered : left + 1;
}

static bool over_budget(const st_decompressor_t *d) { return d->produced > d->max_out_bytes; }

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

static int gzip_begin(st_decompressor_t *d) {
    if (d->in_len == 0) return ST_ERR_CORRUPT_MESSAGE;
    if (d->in_len > UINT_MAX) return ST_ERR_CORRUPT_MESSAGE; /* far beyond any batch */
    z_stream *zs = calloc(1, sizeof *zs);
    if (!zs) return ST_ERR_NO_MEMORY;
    /* 15 + 32: accept gzip (what clients send) and zlib headers. */
    if (inflateInit2(zs, 15 + 32) != Z_OK) {
        free(zs);
        return ST_ERR_NO_MEMORY;
    }
    zs->next_in = (Bytef *)(uintptr_t)d->in;
    zs->avail_in = (uInt)d->in_len;
    d->ctx = zs;
    return 0;
}

static int gzip_read(st_decompressor_t *d, uint8_t *out, size_t cap, size_t *got) {
    z_stream *zs = d->ctx;
    while (*got < cap && !d->finished) {
        size_t room = read_room(d, cap - *got);
        if (room > UINT_MAX) room = UINT_MAX;
        zs->next_out = out + *got;
        zs->avail_out = (uInt)room;
        int zrc = inflate(zs, Z_NO_FLUSH);
        size_t n = room - zs->avail_out;
        *got += n;
        d->produced += n;
        if (over_budget(d)) return ST_ERR_LIMIT;
        if (zrc == Z_STREAM_END) {
            /* Like java.util.zip.GZIPInputStream: a following gzip member is
             * decoded too, anything else after the end is ignored. */
            if (is_gzip_member(zs->next_in, zs->avail_in) && inflateReset(zs) == Z_OK) continue;
            d->finished = true;
            break;
        }
        /* Z_BUF_ERROR with output room offered means no progress is
         * possible: the stream is truncated. */
        if (zrc != Z_OK) return zrc == Z_MEM_ERROR ? ST_ERR_NO_MEMORY : ST_ERR_CORRUPT_MESSAGE;
    }
    return 0;
}

static void gzip_end(st_decompressor_t *d) {
    inflateEnd(d->ctx);
    free(d->ctx);
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

static int snappy_begin(st_decompressor_t *d) {
    /* xerial framing (snappy-java's SnappyOutputStream, used by the Java
     * producer): header, then blocks of big-endian int32 length + raw
     * snappy. The version fields are not checked, as snappy-java does not. */
    d->xerial = d->in_len >= XERIAL_HEADER_BYTES && memcmp(d->in, xerial_magic, sizeof xerial_magic) == 0;
    if (d->xerial) d->in_pos = XERIAL_HEADER_BYTES;
    return 0;
}

/* Starts the next raw block: its declared length (a uvarint of at most 32
 * bits) is checked against the budget and sized for before anything is
 * decoded. Sets d->finished when there is no next block. */
static int snappy_next_block(st_decompressor_t *d) {
    const uint8_t *block;
    size_t block_len;
    if (!d->xerial) {
        if (d->in_pos > 0) {
            d->finished = true;
            return 0;
        }
        block = d->in;
        block_len = d->in_len;
        d->in_pos = d->in_len;
    } else {
        if (d->in_pos == d->in_len) {
            d->finished = true;
            return 0;
        }
        st_reader_t r;
        st_reader_init(&r, d->in + d->in_pos, d->in_len - d->in_pos);
        int32_t n = st_read_i32(&r);
        if (r.failed || n <= 0) return ST_ERR_CORRUPT_MESSAGE;
        block = st_read_bytes(&r, (size_t)n);
        if (!block) return ST_ERR_CORRUPT_MESSAGE;
        block_len = (size_t)n;
        d->in_pos += 4 + block_len;
    }
    uint64_t expected = 0;
    size_t pos = 0;
    for (int shift = 0;; shift += 7) {
        if (pos == block_len || shift > 28) return ST_ERR_CORRUPT_MESSAGE;
        uint8_t byte = block[pos++];
        expected |= (uint64_t)(byte & 0x7f) << shift;
        if (byte < 0x80) break;
    }
    if (expected > UINT32_MAX) return ST_ERR_CORRUPT_MESSAGE;
    if (expected > d->max_out_bytes - d->produced) return ST_ERR_LIMIT;
    if (expected > d->block_cap) {
        /* Nothing to keep: a fresh buffer rather than realloc's copy. */
        free(d->block);
        d->block = malloc((size_t)expected);
        d->block_cap = d->block ? (size_t)expected : 0;
        if (!d->block) return ST_ERR_NO_MEMORY;
    }
    d->snappy_in = block + pos;
    d->snappy_in_len = block_len - pos;
    d->snappy_in_pos = 0;
    d->block_expected = (size_t)expected;
    d->block_len = 0;
    d->block_pos = 0;
    return 0;
}

static uint32_t load_le(const uint8_t *p, int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

/* Decodes elements of the current block (snappy's format_description.txt:
 * literals and copies with 1-, 2- or 4-byte offsets) until at least
 * `target` bytes of it are decoded or it ends, so the work follows what
 * is read. Every length and offset is checked against the input left, the
 * output so far and the declared length. */
static int snappy_decode_some(st_decompressor_t *d, size_t target) {
    const uint8_t *in = d->snappy_in;
    size_t in_len = d->snappy_in_len;
    size_t ip = d->snappy_in_pos;
    uint8_t *out = d->block;
    size_t op = d->block_len;
    size_t expected = d->block_expected;
    int rc = 0;
    while (op < target && ip < in_len) {
        uint8_t tag = in[ip++];
        uint64_t len;
        if ((tag & 3) == 0) {
            len = (uint64_t)(tag >> 2) + 1;
            if (len > 60) {
                int extra = (int)len - 60;
                if ((size_t)extra > in_len - ip) goto corrupt;
                len = (uint64_t)load_le(in + ip, extra) + 1;
                ip += (size_t)extra;
            }
            if (len > in_len - ip || len > expected - op) goto corrupt;
            memcpy(out + op, in + ip, (size_t)len);
            ip += (size_t)len;
            op += (size_t)len;
            continue;
        }
        size_t offset;
        if ((tag & 3) == 1) {
            if (in_len - ip < 1) goto corrupt;
            len = (uint64_t)((tag >> 2) & 7) + 4;
            offset = ((size_t)(tag >> 5) << 8) | in[ip];
            ip += 1;
        } else {
            int n = (tag & 3) == 2 ? 2 : 4;
            if (in_len - ip < (size_t)n) goto corrupt;
            len = (uint64_t)(tag >> 2) + 1;
            offset = load_le(in + ip, n);
            ip += (size_t)n;
        }
        if (offset == 0 || offset > op || len > expected - op) goto corrupt;
        /* An overlapping copy repeats the last `offset` bytes: copied in
         * pieces whose distance from their source is a multiple of
         * `offset` (offset, 2 offset, 4 offset...), so none overlaps. */
        for (size_t done = 0; done < (size_t)len;) {
            size_t n = done + offset;
            if (n > (size_t)len - done) n = (size_t)len - done;
            memcpy(out + op + done, out + op - offset, n);
            done += n;
        }
        op += (size_t)len;
    }
    /* The block's elements must produce exactly its declared length. */
    if (op == expected ? ip != in_len : ip == in_len) goto corrupt;
    goto out;
corrupt:
    rc = ST_ERR_CORRUPT_MESSAGE;
out:
    d->snappy_in_pos = ip;
    d->block_len = op;
    return rc;
}

/* Snappy output step: decode about what is asked, then hand it out. */
#define SNAPPY_DECODE_STEP_BYTES (64 * 1024)

static int snappy_read(st_decompressor_t *d, uint8_t *out, size_t cap, size_t *got) {
    while (*got < cap) {
        if (d->block_pos < d->block_len) {
            size_t n = d->block_len - d->block_pos;
            if (n > cap - *got) n = cap - *got;
            memcpy(out + *got, d->block + d->block_pos, n);
            d->block_pos += n;
            *got += n;
            d->produced += n;
            continue;
        }
        if (d->pending_error) return d->pending_error;
        if (d->block_len < d->block_expected) {
            size_t want = cap - *got;
            if (want > SNAPPY_DECODE_STEP_BYTES) want = SNAPPY_DECODE_STEP_BYTES;
            size_t target = d->block_len + want;
            /* What was decoded before a fault is handed out first, so the
             * output before an error does not depend on the pieces read. */
            d->pending_error = snappy_decode_some(d, target < d->block_expected ? target : d->block_expected);
            continue;
        }
        int rc = snappy_next_block(d);
        if (rc != 0) return rc;
        if (d->finished) break;
        /* An empty block has no elements. */
        if (d->block_expected == 0 && d->snappy_in_len != 0) return ST_ERR_CORRUPT_MESSAGE;
    }
    return 0;
}

static void snappy_end(st_decompressor_t *d) { free(d->block); }

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

static int lz4_begin(st_decompressor_t *d) {
    if (d->in_len == 0) return ST_ERR_CORRUPT_MESSAGE;
    LZ4F_dctx *dctx = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) return ST_ERR_NO_MEMORY;
    d->ctx = dctx;
    return 0;
}

static int lz4_read(st_decompressor_t *d, uint8_t *out, size_t cap, size_t *got) {
    while (*got < cap && !d->finished) {
        size_t room = read_room(d, cap - *got);
        size_t dst_n = room;
        size_t src_n = d->in_len - d->in_pos;
        /* With the input used up this flushes what the context still holds
         * (a block decoded into its own buffer that did not fit). */
        size_t hint = LZ4F_decompress(d->ctx, out + *got, &dst_n, d->in + d->in_pos, &src_n, NULL);
        if (LZ4F_isError(hint)) return ST_ERR_CORRUPT_MESSAGE;
        d->in_pos += src_n;
        *got += dst_n;
        d->produced += dst_n;
        if (over_budget(d)) return ST_ERR_LIMIT;
        /* hint 0: a frame ended, all of it handed out; more input is the
         * next frame. */
        if (hint == 0 && d->in_pos == d->in_len) {
            d->finished = true;
            break;
        }
        if (src_n == 0 && dst_n == 0) return ST_ERR_CORRUPT_MESSAGE; /* truncated frame: never spin */
    }
    return 0;
}

static void lz4_end(st_decompressor_t *d) { LZ4F_freeDecompressionContext(d->ctx); }

/* ---- zstd ---------------------------------------------------------------- */

static int zstd_compress(const uint8_t *in, size_t in_len, st_writer_t *out) {
    size_t cap = ZSTD_compressBound(in_len);
    uint8_t *dst = st_writer_reserve(out, cap);
    size_t n = ZSTD_compress(dst, cap, in, in_len, COMPRESSION_ZSTD_LEVEL);
    if (ZSTD_isError(n)) return ST_ERR_IO;
    out->len += n;
    return 0;
}

static int zstd_begin(st_decompressor_t *d) {
    if (d->in_len == 0) return ST_ERR_CORRUPT_MESSAGE;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx) return ST_ERR_NO_MEMORY;
    /* Streaming, so the frame's declared content size is never used to size
     * a buffer; the window (the decoder's own allocation) is bounded. */
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, COMPRESSION_ZSTD_WINDOW_LOG_MAX);
    d->ctx = dctx;
    return 0;
}

static int zstd_read(st_decompressor_t *d, uint8_t *out, size_t cap, size_t *got) {
    while (*got < cap && !d->finished) {
        size_t room = read_room(d, cap - *got);
        ZSTD_outBuffer dst = {out + *got, room, 0};
        ZSTD_inBuffer src = {d->in, d->in_len, d->in_pos};
        size_t hint = ZSTD_decompressStream(d->ctx, &dst, &src);
        if (ZSTD_isError(hint))
            return ZSTD_getErrorCode(hint) == ZSTD_error_memory_allocation ? ST_ERR_NO_MEMORY : ST_ERR_CORRUPT_MESSAGE;
        bool progress = src.pos != d->in_pos || dst.pos > 0;
        d->in_pos = src.pos;
        *got += dst.pos;
        d->produced += dst.pos;
        if (over_budget(d)) return ST_ERR_LIMIT;
        /* hint 0: a frame ended and everything is flushed; more input
         * means another frame (concatenated frames are valid zstd). */
        if (hint == 0 && d->in_pos == d->in_len) {
            d->finished = true;
            break;
        }
        if (d->in_pos == d->in_len && dst.pos < dst.size) return ST_ERR_CORRUPT_MESSAGE; /* ended inside a frame */
        if (!progress) return ST_ERR_CORRUPT_MESSAGE; /* never spin */
    }
    return 0;
}

static void zstd_end(st_decompressor_t *d) { ZSTD_freeDCtx(d->ctx); }

/* ---- streaming ----------------------------------------------------------- */

int st_decompressor_init(st_decompressor_t *d, st_codec_t codec, const uint8_t *in, size_t in_len,
                         size_t max_out_bytes) {
    memset(d, 0, sizeof *d);
    d->codec = codec;
    d->in = in;
    d->in_len = in_len;
    d->max_out_bytes = max_out_bytes;
    switch (codec) {
    case ST_CODEC_GZIP: return gzip_begin(d);
    case ST_CODEC_SNAPPY: return snappy_begin(d);
    case ST_CODEC_LZ4: return lz4_begin(d);
    case ST_CODEC_ZSTD: return zstd_begin(d);
    case ST_CODEC_NONE: break;
    }
    return ST_ERR_UNSUPPORTED_COMPRESSION_TYPE;
}

int st_decompressor_read(st_decompressor_t *d, uint8_t *out, size_t cap, size_t *got) {
    *got = 0;
    switch (d->codec) {
    case ST_CODEC_GZIP: return gzip_read(d, out, cap, got);
    case ST_CODEC_SNAPPY: return snappy_read(d, out, cap, got);
    case ST_CODEC_LZ4: return lz4_read(d, out, cap, got);
    case ST_CODEC_ZSTD: return zstd_read(d, out, cap, got);
    case ST_CODEC_NONE: break;
    }
    return ST_ERR_UNSUPPORTED_COMPRESSION_TYPE;
}

void st_decompressor_free(st_decompressor_t *d) {
    switch (d->codec) {
    case ST_CODEC_GZIP: gzip_end(d); break;
    case ST_CODEC_SNAPPY: snappy_end(d); break;
    case ST_CODEC_LZ4: lz4_end(d); break;
    case ST_CODEC_ZSTD: zstd_end(d); break;
    case ST_CODEC_NONE: break;
    }
    memset(d, 0, sizeof *d);
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
    if (codec == ST_CODEC_NONE) {
        if (in_len > max_out_bytes) return ST_ERR_LIMIT;
        st_write_raw(out, in, in_len);
        return 0;
    }
    st_decompressor_t d;
    int rc = st_decompressor_init(&d, codec, in, in_len, max_out_bytes);
    if (rc != 0) return rc;
    /* Bounded steps keep the writer from growing far past what the payload
     * really produces. */
    while (rc == 0 && !d.finished) {
        size_t got = 0;
        uint8_t *dst = st_writer_reserve(out, COMPRESSION_STEP_BYTES);
        rc = st_decompressor_read(&d, dst, COMPRESSION_STEP_BYTES, &got);
        out->len += got;
    }
    st_decompressor_free(&d);
    return rc;
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
