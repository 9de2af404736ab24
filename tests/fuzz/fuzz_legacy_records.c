/*
 * Message format v0/v1 conversion on hostile bytes. The first byte picks
 * the direction and the options, the rest is a Produce message set (up) or
 * log bytes (down). A set that up-converts must give a v2 batch that
 * st_batch_validate accepts and that converts down to its magic and up
 * again to as many records.
 */
#include <stddef.h>
#include <stdint.h>

#include "protocol/legacy_records.h"
#include "protocol/record_batch.h"

#define FUZZ_DECOMPRESSED_MAX (1u << 20)

static int32_t record_count(const uint8_t *batch, size_t len) {
    st_batch_header_t h;
    if (st_batch_header_parse(batch, len, &h) != 0) __builtin_trap();
    return h.record_count;
}

static void up(const uint8_t *set, size_t len, uint8_t options, st_arena_t *arena) {
    st_batch_limits_t limits = {.decompressed_bytes_max = FUZZ_DECOMPRESSED_MAX, .records_max = 100000};
    if (options & 0x02) {
        limits.check_timestamps = true;
        limits.timestamp_min = 0;
        limits.timestamp_max = INT64_C(1) << 45;
    }
    bool require_keys = options & 0x04;
    st_writer_t batch, legacy, again;
    st_writer_init(&batch, 0);
    st_writer_init(&legacy, 0);
    st_writer_init(&again, 0);
    st_batch_check_t check;
    if (st_legacy_up_convert(set, len, &limits, INT32_MAX, require_keys, arena, &batch, &check) == 0) {
        st_batch_check_t valid;
        if (st_batch_validate(batch.data, batch.len, &limits, require_keys, arena, &valid) != 0) __builtin_trap();
        int8_t magic = (int8_t)st_legacy_first_magic(set, len);
        if (st_legacy_down_convert(batch.data, batch.len, magic, 0, SIZE_MAX, FUZZ_DECOMPRESSED_MAX, arena, &legacy,
                                   NULL) != 0)
            __builtin_trap();
        st_batch_limits_t open = {.decompressed_bytes_max = FUZZ_DECOMPRESSED_MAX * 2, .records_max = 100000};
        if (st_legacy_up_convert(legacy.data, legacy.len, &open, INT32_MAX, false, arena, &again, &check) != 0)
            __builtin_trap();
        if (record_count(again.data, again.len) != record_count(batch.data, batch.len)) __builtin_trap();
    }
    st_writer_free(&again);
    st_writer_free(&legacy);
    st_writer_free(&batch);
}

static void down(const uint8_t *log, size_t len, uint8_t options, st_arena_t *arena) {
    st_writer_t out;
    st_writer_init(&out, 0);
    int8_t magic = (int8_t)((options >> 1) & 1);
    int64_t fetch_offset = (options & 0x04) ? 0 : 5;
    size_t max_out_bytes = (options & 0x08) ? SIZE_MAX : 300;
    (void)st_legacy_down_convert(log, len, magic, fetch_offset, max_out_bytes, FUZZ_DECOMPRESSED_MAX, arena, &out,
                                 NULL);
    st_writer_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    st_arena_t arena;
    st_arena_init(&arena);
    if (data[0] & 0x01)
        down(data + 1, size - 1, data[0], &arena);
    else
        up(data + 1, size - 1, data[0], &arena);
    st_arena_free(&arena);
    return 0;
}
