/* Codecs: round trips for every codec and input shape, snappy in the
 * xerial framing Java clients send, malformed input rejected as
 * CORRUPT_MESSAGE, and the output cap (decompression bombs) as LIMIT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <snappy-c.h>

#include "protocol/compression.h"
#include "common/errors.h"

#define MIB (1024u * 1024u)

static const st_codec_t all_codecs[] = {ST_CODEC_NONE, ST_CODEC_GZIP, ST_CODEC_SNAPPY, ST_CODEC_LZ4,
                                        ST_CODEC_ZSTD};
static const st_codec_t real_codecs[] = {ST_CODEC_GZIP, ST_CODEC_SNAPPY, ST_CODEC_LZ4, ST_CODEC_ZSTD};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void fill_random(uint8_t *p, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(seed >> 56);
    }
}

/* Text-like data that compresses well but not trivially. */
static void fill_compressible(uint8_t *p, size_t n) {
    static const char words[] = "kafka strata broker record batch offset partition leader epoch ";
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)words[(i * 7 + i / 331) % (sizeof words - 1)];
}

static void round_trip(st_codec_t codec, const uint8_t *in, size_t len) {
    st_writer_t z, out;
    st_writer_init(&z, 0);
    st_writer_init(&out, 0);
    assert_int_equal(st_compress(codec, in, len, &z), 0);
    assert_int_equal(st_decompress(codec, z.data, z.len, len, &out), 0);
    assert_int_equal(out.len, len);
    if (len) assert_memory_equal(out.data, in, len);
    st_writer_free(&z);
    st_writer_free(&out);
}

static void test_round_trip_all_codecs(void **state) {
    (void)state;
    size_t big = MIB;
    uint8_t *compressible = malloc(big);
    uint8_t *random = malloc(big);
    assert_non_null(compressible);
    assert_non_null(random);
    fill_compressible(compressible, big);
    fill_random(random, big, 1);
    const uint8_t small[] = "hello, hello, hello strata";
    for (size_t i = 0; i < COUNT(all_codecs); i++) {
        st_codec_t c = all_codecs[i];
        round_trip(c, small, 0);
        round_trip(c, small, 1);
        round_trip(c, small, sizeof small);
        round_trip(c, compressible, big);
        round_trip(c, random, big);
        round_trip(c, random, 100000);
    }
    free(compressible);
    free(random);
}

/* Compression appends: existing writer contents are kept. */
static void test_compress_appends(void **state) {
    (void)state;
    const uint8_t in[] = "appended payload appended payload";
    for (size_t i = 0; i < COUNT(all_codecs); i++) {
        st_writer_t z, out;
        st_writer_init(&z, 0);
        st_writer_init(&out, 0);
        st_write_raw(&z, "PRE", 3);
        assert_int_equal(st_compress(all_codecs[i], in, sizeof in, &z), 0);
        assert_memory_equal(z.data, "PRE", 3);
        st_write_raw(&out, "XY", 2);
        assert_int_equal(st_decompress(all_codecs[i], z.data + 3, z.len - 3, sizeof in, &out), 0);
        assert_int_equal(out.len, 2 + sizeof in);
        assert_memory_equal(out.data + 2, in, sizeof in);
        st_writer_free(&z);
        st_writer_free(&out);
    }
}

/* Builds the snappy-java stream format by hand: magic, version 1,
 * compatible version 1, then length-prefixed raw snappy blocks. */
static void xerial_frame(const uint8_t *in, size_t len, size_t block_bytes, st_writer_t *out) {
    static const uint8_t magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
    st_write_raw(out, magic, sizeof magic);
    st_write_i32(out, 1);
    st_write_i32(out, 1);
    for (size_t pos = 0; pos < len; pos += block_bytes) {
        size_t n = len - pos < block_bytes ? len - pos : block_bytes;
        size_t cap = snappy_max_compressed_length(n);
        char *tmp = malloc(cap);
        assert_non_null(tmp);
        size_t zlen = cap;
        assert_int_equal(snappy_compress((const char *)in + pos, n, tmp, &zlen), SNAPPY_OK);
        st_write_i32(out, (int32_t)zlen);
        st_write_raw(out, tmp, zlen);
        free(tmp);
    }
}

static void test_snappy_xerial(void **state) {
    (void)state;
    size_t len = 200000;
    uint8_t *in = malloc(len);
    assert_non_null(in);
    fill_compressible(in, len);
    fill_random(in + 1000, 5000, 3);

    st_writer_t z, out;
    st_writer_init(&z, 0);
    st_writer_init(&out, 0);
    /* snappy-java's default block is 32 KiB; several blocks here. */
    xerial_frame(in, len, 32768, &z);
    assert_int_equal(st_decompress(ST_CODEC_SNAPPY, z.data, z.len, len, &out), 0);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, in, len);

    /* The cap counts across blocks. */
    st_writer_reset(&out);
    assert_int_equal(st_decompress(ST_CODEC_SNAPPY, z.data, z.len, len - 1, &out), ST_ERR_LIMIT);

    /* A block length running past the end. */
    st_writer_reset(&out);
    assert_int_equal(st_decompress(ST_CODEC_SNAPPY, z.data, z.len - 1, len, &out),
                     ST_ERR_CORRUPT_MESSAGE);

    /* A negative block length. */
    st_writer_t bad;
    st_writer_init(&bad, 0);
    st_write_raw(&bad, z.data, 16);
    st_write_i32(&bad, -5);
    st_write_raw(&bad, "abcdefgh", 8);
    st_writer_reset(&out);
    assert_int_equal(st_decompress(ST_CODEC_SNAPPY, bad.data, bad.len, len, &out),
                     ST_ERR_CORRUPT_MESSAGE);

    /* Header alone: an empty stream. */
    st_writer_reset(&out);
    assert_int_equal(st_decompress(ST_CODEC_SNAPPY, z.data, 16, len, &out), 0);
    assert_int_equal(out.len, 0);

    st_writer_free(&bad);
    st_writer_free(&z);
    st_writer_free(&out);
    free(in);
}

static void test_corrupt_input(void **state) {
    (void)state;
    static const uint8_t garbage[] = "this is not a compressed payload of any kind, honestly!";
    uint8_t noise[4096];
    fill_random(noise, sizeof noise, 9);
    size_t len = 100000;
    uint8_t *in = malloc(len);
    assert_non_null(in);
    fill_compressible(in, len);

    for (size_t i = 0; i < COUNT(real_codecs); i++) {
        st_codec_t c = real_codecs[i];
        st_writer_t z, out;
        st_writer_init(&z, 0);
        st_writer_init(&out, 0);

        assert_int_equal(st_decompress(c, garbage, sizeof garbage, MIB, &out), ST_ERR_CORRUPT_MESSAGE);
        st_writer_reset(&out);
        assert_int_equal(st_decompress(c, noise, sizeof noise, MIB, &out), ST_ERR_CORRUPT_MESSAGE);
        st_writer_reset(&out);
        assert_int_equal(st_decompress(c, garbage, 0, MIB, &out), ST_ERR_CORRUPT_MESSAGE);

        /* Truncated real payloads, at several cut points. */
        assert_int_equal(st_compress(c, in, len, &z), 0);
        size_t cuts[] = {1, 5, z.len / 2, z.len - 1};
        for (size_t k = 0; k < COUNT(cuts); k++) {
            st_writer_reset(&out);
            assert_int_equal(st_decompress(c, z.data, cuts[k], MIB, &out), ST_ERR_CORRUPT_MESSAGE);
        }
        st_writer_free(&z);
        st_writer_free(&out);
    }
    free(in);
}

/* A flipped byte in a gzip or lz4 payload fails a checksum, never crashes;
 * for every codec, any single flip either errors or decodes within cap. */
static void test_bit_flips_never_crash(void **state) {
    (void)state;
    size_t len = 20000;
    uint8_t *in = malloc(len);
    assert_non_null(in);
    fill_compressible(in, len);
    for (size_t i = 0; i < COUNT(real_codecs); i++) {
        st_codec_t c = real_codecs[i];
        st_writer_t z, out;
        st_writer_init(&z, 0);
        st_writer_init(&out, 0);
        assert_int_equal(st_compress(c, in, len, &z), 0);
        for (size_t pos = 0; pos < z.len; pos += 3) {
            z.data[pos] ^= 0x5a;
            st_writer_reset(&out);
            int rc = st_decompress(c, z.data, z.len, len, &out);
            assert_true(rc == 0 || rc == ST_ERR_CORRUPT_MESSAGE || rc == ST_ERR_LIMIT);
            assert_true(out.len <= len + 1);
            z.data[pos] ^= 0x5a;
        }
        st_writer_free(&z);
        st_writer_free(&out);
    }
    free(in);
}

/* 10 MiB of zeros compresses to almost nothing; with a 1 MiB cap every
 * codec must stop at the cap instead of inflating it all. */
static void test_decompression_bomb(void **state) {
    (void)state;
    size_t len = 10 * MIB;
    uint8_t *zeros = calloc(1, len);
    assert_non_null(zeros);
    for (size_t i = 0; i < COUNT(real_codecs); i++) {
        st_codec_t c = real_codecs[i];
        st_writer_t z, out;
        st_writer_init(&z, 0);
        st_writer_init(&out, 0);
        assert_int_equal(st_compress(c, zeros, len, &z), 0);
        assert_true(z.len < len / 10);
        assert_int_equal(st_decompress(c, z.data, z.len, MIB, &out), ST_ERR_LIMIT);
        /* Bounded: at most the cap plus one step was ever produced. */
        assert_true(out.len <= MIB + 1);
        assert_true(out.cap <= 2 * MIB + 128 * 1024);

        /* Exactly at the cap is fine; one byte less is not. */
        st_writer_reset(&out);
        assert_int_equal(st_decompress(c, z.data, z.len, len, &out), 0);
        assert_int_equal(out.len, len);
        st_writer_reset(&out);
        assert_int_equal(st_decompress(c, z.data, z.len, len - 1, &out), ST_ERR_LIMIT);
        st_writer_free(&z);
        st_writer_free(&out);
    }
    st_writer_t out;
    st_writer_init(&out, 0);
    assert_int_equal(st_decompress(ST_CODEC_NONE, zeros, 100, 99, &out), ST_ERR_LIMIT);
    st_writer_free(&out);
    free(zeros);
}

/* Pulled in pieces of any size, every codec yields exactly the one-shot
 * output, and reports finished only at the end. */
static void test_streaming_pieces(void **state) {
    (void)state;
    size_t len = 300000;
    uint8_t *in = malloc(len);
    uint8_t *piece = malloc(len + 1);
    assert_non_null(in);
    assert_non_null(piece);
    fill_compressible(in, len);
    fill_random(in + 70000, 20000, 5);
    static const size_t sizes[] = {1, 7, 4096, 65536, 300000, 400000};
    for (size_t i = 0; i < COUNT(real_codecs); i++) {
        st_writer_t z;
        st_writer_init(&z, 0);
        if (real_codecs[i] == ST_CODEC_SNAPPY)
            xerial_frame(in, len, 32768, &z); /* several blocks, as Java sends */
        else
            assert_int_equal(st_compress(real_codecs[i], in, len, &z), 0);
        for (size_t k = 0; k < COUNT(sizes); k++) {
            st_decompressor_t d;
            assert_int_equal(st_decompressor_init(&d, real_codecs[i], z.data, z.len, len), 0);
            size_t have = 0;
            while (!d.finished) {
                size_t got = 99;
                size_t cap = sizes[k] < len + 1 - have ? sizes[k] : len + 1 - have;
                assert_int_equal(st_decompressor_read(&d, piece + have, cap, &got), 0);
                assert_true(got <= cap);
                if (got < cap) assert_true(d.finished);
                have += got;
            }
            assert_int_equal(have, len);
            assert_memory_equal(piece, in, len);
            st_decompressor_free(&d);
        }
        st_writer_free(&z);
    }
    free(piece);
    free(in);
}

/* Each codec stops at the limit: a bomb read in 64 KiB pieces fails with
 * LIMIT having produced at most the limit plus one byte, and (but raw
 * snappy, whose block length is known first) having consumed only the
 * input that output took. Snappy refuses before decoding anything. */
static void test_streaming_bomb_stops_at_limit(void **state) {
    (void)state;
    size_t len = 64 * MIB;
    uint8_t *zeros = calloc(1, len);
    uint8_t *piece = malloc(65536);
    assert_non_null(zeros);
    assert_non_null(piece);
    for (size_t i = 0; i < COUNT(real_codecs); i++) {
        st_codec_t c = real_codecs[i];
        st_writer_t z;
        st_writer_init(&z, 0);
        if (c == ST_CODEC_SNAPPY)
            xerial_frame(zeros, len, 4 * MIB, &z);
        else
            assert_int_equal(st_compress(c, zeros, len, &z), 0);
        st_decompressor_t d;
        assert_int_equal(st_decompressor_init(&d, c, z.data, z.len, MIB), 0);
        int rc = 0;
        size_t reads = 0;
        while (rc == 0 && !d.finished) {
            size_t got = 0;
            rc = st_decompressor_read(&d, piece, 65536, &got);
            reads++;
        }
        assert_int_equal(rc, ST_ERR_LIMIT);
        assert_true(d.produced <= MIB + 1);
        if (c == ST_CODEC_SNAPPY) {
            /* The 4 MiB block's declared length is over the limit. */
            assert_int_equal(d.produced, 0);
            assert_int_equal(reads, 1);
        } else {
            assert_true(d.in_pos < z.len);
            assert_true(reads <= MIB / 65536 + 2);
        }
        st_decompressor_free(&d);

        /* Stopping early leaves the rest undecoded. */
        assert_int_equal(st_decompressor_init(&d, c, z.data, z.len, len), 0);
        size_t got = 0;
        assert_int_equal(st_decompressor_read(&d, piece, 1000, &got), 0);
        assert_int_equal(got, 1000);
        assert_false(d.finished);
        assert_true(d.produced < len);
        st_decompressor_free(&d);
        st_writer_free(&z);
    }
    /* Raw snappy (librdkafka's framing): one block, refused by its length. */
    st_writer_t z;
    st_writer_init(&z, 0);
    assert_int_equal(st_compress(ST_CODEC_SNAPPY, zeros, 16 * MIB, &z), 0);
    st_decompressor_t d;
    assert_int_equal(st_decompressor_init(&d, ST_CODEC_SNAPPY, z.data, z.len, MIB), 0);
    size_t got = 0;
    assert_int_equal(st_decompressor_read(&d, piece, 65536, &got), ST_ERR_LIMIT);
    assert_int_equal(d.produced, 0);
    st_decompressor_free(&d);
    st_writer_free(&z);
    assert_int_equal(st_decompressor_init(&d, ST_CODEC_NONE, zeros, 10, 10), ST_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    free(piece);
    free(zeros);
}

/* Strata decodes snappy itself, incrementally; on libsnappy's own output
 * and every damaged variant of it, verdict and bytes must be libsnappy's. */
static void test_snappy_decoder_matches_libsnappy(void **state) {
    (void)state;
    size_t len = 150000;
    uint8_t *in = malloc(len);
    assert_non_null(in);
    fill_compressible(in, len);
    fill_random(in + 40000, 3000, 11);
    memset(in + 90000, 'z', 20000); /* long overlapping copies */
    size_t cap = snappy_max_compressed_length(len);
    char *z = malloc(cap);
    char *ref = malloc(len + 64);
    assert_non_null(z);
    assert_non_null(ref);
    size_t zlen = cap;
    assert_int_equal(snappy_compress((const char *)in, len, z, &zlen), SNAPPY_OK);
    uint64_t seed = 7;
    for (int round = 0; round < 3000; round++) {
        size_t pos = 0, n = zlen;
        uint8_t saved = 0;
        if (round > 0) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            pos = (size_t)(seed >> 33) % zlen;
            saved = (uint8_t)z[pos];
            z[pos] = (char)(saved ^ (uint8_t)(1u << (round % 8)));
            if (round % 7 == 0) n = pos + 1; /* also cut short */
        }
        size_t want = 0;
        bool ok = snappy_uncompressed_length(z, n, &want) == SNAPPY_OK && want <= len + 64;
        size_t got = want;
        if (ok) ok = snappy_uncompress(z, n, ref, &got) == SNAPPY_OK && got == want;
        st_writer_t out;
        st_writer_init(&out, 0);
        int rc = st_decompress(ST_CODEC_SNAPPY, (const uint8_t *)z, n, len + 64, &out);
        if (ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(out.len, want);
            assert_memory_equal(out.data, ref, want);
        } else {
            assert_true(rc == ST_ERR_CORRUPT_MESSAGE || rc == ST_ERR_LIMIT);
        }
        st_writer_free(&out);
        if (round > 0) z[pos] = (char)saved;
    }
    free(ref);
    free(z);
    free(in);
}

static void test_concatenated_gzip_members(void **state) {
    (void)state;
    st_writer_t z, out;
    st_writer_init(&z, 0);
    st_writer_init(&out, 0);
    assert_int_equal(st_compress(ST_CODEC_GZIP, (const uint8_t *)"hello ", 6, &z), 0);
    assert_int_equal(st_compress(ST_CODEC_GZIP, (const uint8_t *)"world", 5, &z), 0);
    assert_int_equal(st_decompress(ST_CODEC_GZIP, z.data, z.len, 100, &out), 0);
    assert_int_equal(out.len, 11);
    assert_memory_equal(out.data, "hello world", 11);
    st_writer_free(&z);
    st_writer_free(&out);
}

static void test_unknown_codec(void **state) {
    (void)state;
    st_writer_t out;
    st_writer_init(&out, 0);
    for (int c = 5; c <= 7; c++) {
        assert_int_equal(st_compress((st_codec_t)c, (const uint8_t *)"x", 1, &out),
                         ST_ERR_UNSUPPORTED_COMPRESSION_TYPE);
        assert_int_equal(st_decompress((st_codec_t)c, (const uint8_t *)"x", 1, 10, &out),
                         ST_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    }
    st_writer_free(&out);
}

static void test_codec_names(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(all_codecs); i++)
        assert_int_equal(st_codec_from_name(st_codec_name(all_codecs[i])), all_codecs[i]);
    assert_int_equal(st_codec_from_name("producer"), -1);
    assert_int_equal(st_codec_from_name("brotli"), -2);
    assert_int_equal(st_codec_from_name(""), -2);
    assert_string_equal(st_codec_name(ST_CODEC_ZSTD), "zstd");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_codecs),
        cmocka_unit_test(test_compress_appends),
        cmocka_unit_test(test_snappy_xerial),
        cmocka_unit_test(test_corrupt_input),
        cmocka_unit_test(test_bit_flips_never_crash),
        cmocka_unit_test(test_decompression_bomb),
        cmocka_unit_test(test_streaming_pieces),
        cmocka_unit_test(test_streaming_bomb_stops_at_limit),
        cmocka_unit_test(test_snappy_decoder_matches_libsnappy),
        cmocka_unit_test(test_concatenated_gzip_members),
        cmocka_unit_test(test_unknown_codec),
        cmocka_unit_test(test_codec_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
