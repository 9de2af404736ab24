/*
 * Log recovery on arbitrary segment bytes: whatever a crash or a bad disk
 * leaves in a .log file (and its index), opening the log must truncate to a
 * valid prefix, never crash, and leave a log that accepts an append and
 * reads back. The first input byte also chooses whether the fuzzed segment
 * is an older one, followed by a valid later segment that recovery must
 * keep, and whether the log was shut down cleanly (then the fuzzed segment
 * is trusted unless its index fails the load checks, and reads meet its
 * bytes unchecked).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/record_batch.h"
#include "storage/fsutil.h"
#include "storage/log.h"

#define LATER_BASE (INT64_C(1) << 40)

static char dir[256];

static void write_file(const char *name, const uint8_t *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (len) fwrite(data, 1, len, f);
    fclose(f);
}

static void one_batch(st_writer_t *w, int64_t base_offset) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    st_batch_builder_add(&b, 0, 1, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL, 0);
    st_batch_builder_finish(&b, w);
    st_batch_builder_free(&b);
    st_batch_set_base_offset(w->data, base_offset);
}

static int count_batch(void *ctx, const uint8_t *batch, size_t len) {
    (void)batch;
    (void)len;
    (*(int *)ctx)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/strata-fuzz-log-%d", (int)getpid());
    }
    st_fs_remove_dir(dir);
    st_fs_mkdir_p(dir);
    uint8_t flags = size > 1 ? data[1] : 0;
    bool later_segment = flags & 1, clean = flags & 2;
    /* First byte splits the rest between .log and .index. */
    const uint8_t *body = size > 2 ? data + 2 : data + size;
    size_t body_len = size > 2 ? size - 2 : 0;
    size_t split = size ? (size_t)data[0] * body_len / 256 : 0;
    write_file("00000000000000000000.log", body, split);
    write_file("00000000000000000000.index", body + split, body_len - split);
    if (later_segment) {
        st_writer_t w;
        st_writer_init(&w, 128);
        one_batch(&w, LATER_BASE);
        char name[64];
        snprintf(name, sizeof name, "%020lld.log", (long long)LATER_BASE);
        write_file(name, w.data, w.len);
        st_writer_free(&w);
    }
    if (clean) write_file(ST_LOG_CLEAN_SHUTDOWN_FILE, NULL, 0);

    st_log_config_t cfg;
    st_log_config_default(&cfg);
    cfg.decompressed_bytes_max = 1 << 20;
    cfg.index_bytes_max = 4096;
    st_log_t *log = NULL;
    if (st_log_open(dir, &cfg, 0, &log) == 0) {
        /* The valid later segment survives whatever the older one holds. */
        if (later_segment && !(st_log_end_offset(log) == LATER_BASE + 1)) abort();
        st_log_read_result_t rr;
        int64_t probes[] = {0, 1, st_log_start_offset(log), st_log_end_offset(log) - 1};
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
            if (st_log_read(log, probes[i], 1 << 20, true, &rr) == 0 && rr.fd >= 0) close(rr.fd);
        int batches = 0;
        st_log_for_each_batch(log, 0, count_batch, &batches);
        st_writer_t w;
        st_writer_init(&w, 128);
        one_batch(&w, 0);
        st_log_append_result_t res;
        if (st_log_append(log, w.data, w.len, 0, 1, false, &res) == 0) {
            if (st_log_read(log, res.base_offset, 1 << 20, true, &rr) == 0 && rr.fd >= 0) close(rr.fd);
        }
        st_writer_free(&w);
        st_log_close(log);
    }
    st_fs_remove_dir(dir);
    return 0;
}
