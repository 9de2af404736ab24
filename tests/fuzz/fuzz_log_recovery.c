/*
 * Log recovery on arbitrary segment bytes: whatever a crash or a bad disk
 * leaves in a .log file (and its index), opening the log must truncate to a
 * valid prefix, never crash, and leave a log that accepts an append and
 * reads back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/record_batch.h"
#include "storage/fsutil.h"
#include "storage/log.h"

static char dir[256];

static void write_file(const char *name, const uint8_t *data, size_t len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (len) fwrite(data, 1, len, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/strata-fuzz-log-%d", (int)getpid());
    }
    st_fs_remove_dir(dir);
    st_fs_mkdir_p(dir);
    /* First byte splits the input between .log and .index. */
    size_t split = size ? (size_t)data[0] * size / 256 : 0;
    if (split < 1 && size) split = 1;
    write_file("00000000000000000000.log", data + (size ? 1 : 0), split > 0 ? split - 1 : 0);
    write_file("00000000000000000000.index", data + split, size - split);

    st_log_config_t cfg;
    st_log_config_default(&cfg);
    cfg.decompressed_bytes_max = 1 << 20;
    cfg.index_bytes_max = 4096;
    st_log_t *log = NULL;
    if (st_log_open(dir, &cfg, 0, &log) == 0) {
        st_batch_builder_t b;
        st_batch_builder_init(&b, ST_CODEC_NONE, 0);
        st_batch_builder_add(&b, 0, 1, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL, 0);
        st_writer_t w;
        st_writer_init(&w, 128);
        st_batch_builder_finish(&b, &w);
        st_log_append_result_t res;
        if (st_log_append(log, w.data, w.len, 0, 1, false, &res) == 0) {
            st_log_read_result_t rr;
            if (st_log_read(log, res.base_offset, 1 << 20, true, &rr) == 0 && rr.fd >= 0) close(rr.fd);
        }
        st_writer_free(&w);
        st_batch_builder_free(&b);
        st_log_close(log);
    }
    st_fs_remove_dir(dir);
    return 0;
}
