/* Arbitrary bytes as one producer batch: validation and record iteration
 * must return an error or succeed, never crash, read out of bounds or
 * allocate beyond the small limits given; validation in small steps must
 * reach the same verdict as in one. */
#include <stddef.h>
#include <stdint.h>

#include "protocol/crc32c.h"
#include "protocol/record_batch.h"

/* Small caps so a hostile payload hits them quickly. */
#define FUZZ_DECOMPRESSED_BYTES_MAX (256 * 1024)
#define FUZZ_RECORDS_MAX 4096

static void iterate(const uint8_t *batch, size_t len, st_arena_t *arena) {
    st_record_iter_t it;
    if (st_record_iter_init(&it, batch, len, FUZZ_DECOMPRESSED_BYTES_MAX, arena) != 0) return;
    st_record_t rec;
    /* Touch every byte handed out so ASan sees any out-of-bounds slice. */
    volatile uint8_t sink = 0;
    for (int n = 0; n < FUZZ_RECORDS_MAX && st_record_iter_next(&it, &rec) == 1; n++) {
        for (int32_t i = 0; i < rec.key_len; i++) sink ^= rec.key[i];
        for (int32_t i = 0; i < rec.value_len; i++) sink ^= rec.value[i];
        for (int32_t h = 0; h < rec.header_count; h++) {
            for (int32_t i = 0; i < rec.headers[h].key_len; i++) sink ^= rec.headers[h].key[i];
            for (int32_t i = 0; i < rec.headers[h].value_len; i++) sink ^= rec.headers[h].value[i];
        }
    }
    (void)sink;
}

static void steps_agree(const uint8_t *batch, size_t len, const st_batch_limits_t *limits, bool require_keys,
                        st_arena_t *arena, const st_batch_check_t *whole) {
    st_batch_validation_t v;
    st_batch_validation_begin(&v, batch, len, limits, require_keys, arena);
    size_t budget = len ? (size_t)batch[len - 1] * 37 + 1 : 1;
    while (!st_batch_validation_step(&v, budget)) {
    }
    st_batch_check_t check;
    if (st_batch_validation_end(&v, &check) != whole->error || check.error_message != whole->error_message ||
        check.record_error_count != whole->record_error_count)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_batch_limits_t limits = {.decompressed_bytes_max = FUZZ_DECOMPRESSED_BYTES_MAX,
                                .records_max = FUZZ_RECORDS_MAX};
    st_arena_t arena;
    st_arena_init(&arena);

    st_batch_check_t check;
    (void)st_batch_validate(data, size, &limits, size & 1, &arena, &check);
    iterate(data, size, &arena);
    /* Partitions read markers from their own log at load: any bytes. */
    st_txn_marker_t marker;
    (void)st_txn_marker_batch_parse(data, size, &marker);

    /* Random bytes almost never carry a valid CRC, which would keep the
     * fuzzer out of everything past it: also try a copy with the CRC (and
     * base offset) made right. */
    if (size >= ST_BATCH_HEADER_BYTES) {
        uint8_t *copy = st_arena_memdup(&arena, data, size);
        st_batch_set_base_offset(copy, 0);
        uint32_t crc = st_crc32c(0, copy + ST_BATCH_ATTRIBUTES_OFFSET, size - ST_BATCH_ATTRIBUTES_OFFSET);
        st_put_i32be(copy + ST_BATCH_CRC_OFFSET, (int32_t)crc);
        (void)st_batch_validate(copy, size, &limits, true, &arena, &check);
        if (check.error == 0 && !st_batch_crc_valid(copy, size)) __builtin_trap();
        steps_agree(copy, size, &limits, true, &arena, &check);
        st_batch_set_log_append_time(copy, size, 1);
        if (!st_batch_crc_valid(copy, size)) __builtin_trap();
    }
    st_arena_free(&arena);
    return 0;
}
