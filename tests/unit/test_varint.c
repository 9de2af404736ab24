/* Varint / varlong / uvarint encodings used by records and flexible
 * versions: known byte vectors, round trips, and the reader's failure
 * modes (overrun and overlong encodings set the sticky failed flag). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/buf.h"

typedef struct varint_vector {
    int64_t value;
    uint8_t bytes[10];
    size_t len;
} varint_vector_t;

/* Zig-zag signed 32-bit values. */
static const varint_vector_t varint_vectors[] = {
    {0, {0x00}, 1},
    {1, {0x02}, 1},
    {-1, {0x01}, 1},
    {63, {0x7e}, 1},
    {-64, {0x7f}, 1},
    {64, {0x80, 0x01}, 2},
    {-65, {0x81, 0x01}, 2},
    {300, {0xd8, 0x04}, 2},
    {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5},
    {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
};

/* Zig-zag signed 64-bit values. */
static const varint_vector_t varlong_vectors[] = {
    {0, {0x00}, 1},
    {1, {0x02}, 1},
    {-1, {0x01}, 1},
    {63, {0x7e}, 1},
    {-64, {0x7f}, 1},
    {64, {0x80, 0x01}, 2},
    {300, {0xd8, 0x04}, 2},
    {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5},
    {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    {INT64_MAX, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    {INT64_MIN, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
};

/* Unsigned LEB128. */
static const varint_vector_t uvarint_vectors[] = {
    {0, {0x00}, 1},
    {1, {0x01}, 1},
    {63, {0x3f}, 1},
    {64, {0x40}, 1},
    {127, {0x7f}, 1},
    {128, {0x80, 0x01}, 2},
    {300, {0xac, 0x02}, 2},
    {16384, {0x80, 0x80, 0x01}, 3},
    {INT32_MAX, {0xff, 0xff, 0xff, 0xff, 0x07}, 5},
    {UINT32_MAX, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_varint_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(varint_vectors); i++) {
        const varint_vector_t *v = &varint_vectors[i];
        st_writer_t w;
        st_writer_init(&w, 0);
        st_write_varint(&w, (int32_t)v->value);
        assert_int_equal(w.len, v->len);
        assert_memory_equal(w.data, v->bytes, v->len);
        assert_int_equal(st_varint_size((int32_t)v->value), v->len);

        st_reader_t r;
        st_reader_init(&r, v->bytes, v->len);
        assert_int_equal(st_read_varint(&r), (int32_t)v->value);
        assert_false(r.failed);
        assert_int_equal(st_reader_remaining(&r), 0);
        st_writer_free(&w);
    }
}

static void test_varlong_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(varlong_vectors); i++) {
        const varint_vector_t *v = &varlong_vectors[i];
        st_writer_t w;
        st_writer_init(&w, 0);
        st_write_varlong(&w, v->value);
        assert_int_equal(w.len, v->len);
        assert_memory_equal(w.data, v->bytes, v->len);
        assert_int_equal(st_varlong_size(v->value), v->len);

        st_reader_t r;
        st_reader_init(&r, v->bytes, v->len);
        int64_t got = st_read_varlong(&r);
        assert_true(got == v->value);
        assert_false(r.failed);
        assert_int_equal(st_reader_remaining(&r), 0);
        st_writer_free(&w);
    }
}

static void test_uvarint_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(uvarint_vectors); i++) {
        const varint_vector_t *v = &uvarint_vectors[i];
        st_writer_t w;
        st_writer_init(&w, 0);
        st_write_uvarint(&w, (uint32_t)v->value);
        assert_int_equal(w.len, v->len);
        assert_memory_equal(w.data, v->bytes, v->len);
        assert_int_equal(st_uvarint_size((uint32_t)v->value), v->len);

        st_reader_t r;
        st_reader_init(&r, v->bytes, v->len);
        assert_int_equal(st_read_uvarint(&r), (uint32_t)v->value);
        assert_false(r.failed);
        st_writer_free(&w);
    }
}

/* Every value written back to back reads back in order from one reader. */
static void test_varint_stream_round_trip(void **state) {
    (void)state;
    st_writer_t w;
    st_writer_init(&w, 0);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int64_t values[512];
    for (size_t i = 0; i < COUNT(values); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Spread magnitudes so every encoded length appears. */
        values[i] = (int64_t)(x >> (i % 64));
        if (i & 1) values[i] = (int64_t)(0 - (uint64_t)values[i]); /* no signed overflow */
        st_write_varlong(&w, values[i]);
        st_write_varint(&w, (int32_t)values[i]);
    }
    st_reader_t r;
    st_reader_init(&r, w.data, w.len);
    for (size_t i = 0; i < COUNT(values); i++) {
        assert_true(st_read_varlong(&r) == values[i]);
        assert_int_equal(st_read_varint(&r), (int32_t)values[i]);
    }
    assert_false(r.failed);
    assert_int_equal(st_reader_remaining(&r), 0);
    st_writer_free(&w);
}

static void test_reader_overrun_sets_failed(void **state) {
    (void)state;
    /* A continuation bit with nothing after it. */
    const uint8_t truncated[] = {0x80, 0x80};
    st_reader_t r;
    st_reader_init(&r, truncated, sizeof truncated);
    assert_int_equal(st_read_varint(&r), 0);
    assert_true(r.failed);

    /* Sticky: later reads fail too, even ones that would fit. */
    const uint8_t ok[] = {0x02, 0x00, 0x00, 0x00, 0x01};
    st_reader_init(&r, ok, sizeof ok);
    (void)st_read_i64(&r);
    assert_true(r.failed);
    assert_int_equal(st_read_varint(&r), 0);
    assert_int_equal(st_read_i8(&r), 0);
    assert_null(st_read_bytes(&r, 1));
    assert_true(r.failed);

    st_reader_init(&r, ok, 0);
    assert_int_equal(st_read_uvarint(&r), 0);
    assert_true(r.failed);

    st_reader_init(&r, ok, sizeof ok);
    assert_null(st_read_bytes(&r, sizeof ok + 1));
    assert_true(r.failed);
}

static void test_overlong_varint_fails(void **state) {
    (void)state;
    /* Six bytes for a 32-bit varint, eleven for a varlong: malformed even
     * though every byte is present. */
    const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    st_reader_t r;

    st_reader_init(&r, six, sizeof six);
    assert_int_equal(st_read_varint(&r), 0);
    assert_true(r.failed);

    st_reader_init(&r, six, sizeof six);
    assert_int_equal(st_read_uvarint(&r), 0);
    assert_true(r.failed);

    st_reader_init(&r, eleven, sizeof eleven);
    assert_true(st_read_varlong(&r) == 0);
    assert_true(r.failed);

    /* The longest legal forms still decode. */
    st_reader_init(&r, eleven + 1, sizeof eleven - 1);
    assert_true(st_read_varlong(&r) == 0);
    assert_false(r.failed);
    st_reader_init(&r, six + 1, sizeof six - 1);
    assert_int_equal(st_read_varint(&r), 0);
    assert_false(r.failed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_vectors),
        cmocka_unit_test(test_varlong_vectors),
        cmocka_unit_test(test_uvarint_vectors),
        cmocka_unit_test(test_varint_stream_round_trip),
        cmocka_unit_test(test_reader_overrun_sets_failed),
        cmocka_unit_test(test_overlong_varint_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
