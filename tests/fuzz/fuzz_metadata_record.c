/* The metadata log's record decoder, on bytes as read back from disk. */
#include <stddef.h>
#include <stdint.h>

#include "raft/metadata_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > INT32_MAX) return 0;
    st_arena_t arena;
    st_arena_init(&arena);
    st_metadata_record_t rec;
    if (st_metadata_record_decode(data, (int32_t)size, &arena, &rec) == 0) {
        st_writer_t w;
        st_writer_init(&w, 128);
        st_metadata_record_encode(&rec, &w);
        st_writer_free(&w);
    }
    st_arena_free(&arena);
    return 0;
}
