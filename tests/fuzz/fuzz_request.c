/*
 * Every request decoder the broker runs on bytes from the network: the
 * first two input bytes pick the API and version, the rest is the body.
 * A decoded request must re-encode to something that decodes again.
 */
#include <stddef.h>
#include <stdint.h>

#include "protocol/messages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const st_api_info_t *info = &st_api_infos[data[0] % st_api_info_count];
    int span = info->max_version - info->min_version + 1;
    int16_t version = (int16_t)(info->min_version + data[1] % span);
    st_arena_t arena;
    st_arena_init(&arena);
    void *m = st_arena_alloc(&arena, info->request_bytes);
    st_reader_t r;
    st_reader_init(&r, data + 2, size - 2);
    if (info->request_decode(&r, &arena, version, m) == 0) {
        st_writer_t w;
        st_writer_init(&w, 256);
        info->request_encode(&w, version, m);
        if (info->request_size(version, m) != w.len) __builtin_trap();
        void *again = st_arena_alloc(&arena, info->request_bytes);
        st_reader_init(&r, w.data, w.len);
        if (info->request_decode(&r, &arena, version, again) != 0) __builtin_trap();
        st_writer_free(&w);
    }
    /* Responses are decoded by the CLI tools from a broker's bytes. */
    void *resp = st_arena_alloc(&arena, info->response_bytes);
    st_reader_init(&r, data + 2, size - 2);
    (void)info->response_decode(&r, &arena, version, resp);
    st_arena_free(&arena);
    return 0;
}
