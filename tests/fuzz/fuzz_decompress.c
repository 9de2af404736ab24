/* Arbitrary bytes through every codec with a 1 MiB cap: each must return
 * 0, CORRUPT_MESSAGE or LIMIT and never produce more than the cap; read in
 * small pieces through st_decompressor_read, the same bytes and the same
 * verdict must come out. */
#include <stddef.h>
#include <stdint.h>

#include <snappy-c.h>
#include <stdlib.h>

#include "protocol/compression.h"
#include "common/errors.h"

#define FUZZ_MAX_OUT_BYTES (1024 * 1024)

/* Streams `data` in pieces of `piece` bytes; the verdict, with the output
 * compared against the one-shot result `whole`. */
static void stream_agrees(st_codec_t codec, const uint8_t *data, size_t size, size_t piece, int whole_rc,
                          const st_writer_t *whole) {
    st_decompressor_t d;
    int rc = st_decompressor_init(&d, codec, data, size, FUZZ_MAX_OUT_BYTES);
    if (rc != 0) {
        if (rc != whole_rc) __builtin_trap();
        return;
    }
    static uint8_t buf[4096];
    size_t have = 0;
    while (rc == 0 && !d.finished) {
        size_t got = 0;
        rc = st_decompressor_read(&d, buf, piece, &got);
        if (got > piece || d.produced > FUZZ_MAX_OUT_BYTES + 1) __builtin_trap();
        if (rc == 0 && got < piece && !d.finished) __builtin_trap();
        /* Output before an error depends on where the pieces end: only a
         * successful decode is compared byte for byte. */
        if (rc == 0 && whole_rc == 0 &&
            (have + got > whole->len || __builtin_memcmp(buf, whole->data + have, got) != 0))
            __builtin_trap();
        have += got;
    }
    if (rc != whole_rc || (rc == 0 && have != whole->len)) __builtin_trap();
    st_decompressor_free(&d);
}

/* Strata decodes snappy itself (incrementally); for raw blocks within the
 * cap it must agree with libsnappy on the verdict and the bytes. */
static void snappy_agrees(const uint8_t *data, size_t size, int rc, const st_writer_t *out) {
    static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
    if (size >= 16 && __builtin_memcmp(data, xerial_magic, 8) == 0) return;
    size_t n = 0;
    if (snappy_uncompressed_length((const char *)data, size, &n) != SNAPPY_OK) {
        if (rc != ST_ERR_CORRUPT_MESSAGE) __builtin_trap();
        return;
    }
    if (n > FUZZ_MAX_OUT_BYTES) {
        if (rc != ST_ERR_LIMIT) __builtin_trap();
        return;
    }
    char *ref = malloc(n ? n : 1);
    size_t got = n;
    bool ok = snappy_uncompress((const char *)data, size, ref, &got) == SNAPPY_OK && got == n;
    if (n == 0) ok = snappy_validate_compressed_buffer((const char *)data, size) == SNAPPY_OK;
    if (ok != (rc == 0)) __builtin_trap();
    if (ok && (out->len != n || (n && __builtin_memcmp(out->data, ref, n) != 0))) __builtin_trap();
    free(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const st_codec_t codecs[] = {ST_CODEC_NONE, ST_CODEC_GZIP, ST_CODEC_SNAPPY, ST_CODEC_LZ4,
                                        ST_CODEC_ZSTD};
    st_writer_t out;
    st_writer_init(&out, 0);
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        st_writer_reset(&out);
        int rc = st_decompress(codecs[i], data, size, FUZZ_MAX_OUT_BYTES, &out);
        if (rc != 0 && rc != ST_ERR_CORRUPT_MESSAGE && rc != ST_ERR_LIMIT) __builtin_trap();
        if (rc == 0 && out.len > FUZZ_MAX_OUT_BYTES) __builtin_trap();
        if (i > 0) stream_agrees(codecs[i], data, size, size ? (size_t)data[0] % 4096 + 1 : 1, rc, &out);
        if (codecs[i] == ST_CODEC_SNAPPY) snappy_agrees(data, size, rc, &out);
        /* What decoded must round-trip through the same codec. */
        if (rc == 0 && i > 0) {
            st_writer_t z, back;
            st_writer_init(&z, 0);
            st_writer_init(&back, 0);
            if (st_compress(codecs[i], out.data, out.len, &z) != 0) __builtin_trap();
            if (st_decompress(codecs[i], z.data, z.len, out.len, &back) != 0) __builtin_trap();
            if (back.len != out.len || (out.len && __builtin_memcmp(back.data, out.data, out.len) != 0))
                __builtin_trap();
            st_writer_free(&z);
            st_writer_free(&back);
        }
    }
    st_writer_free(&out);
    return 0;
}
