/*
 * Log recovery on arbitrary segment bytes: whatever a crash or a bad disk
 * leaves in a .log file (and its index), opening the log must truncate to a
 * valid prefix, never crash, and leave a log that accepts an append and
 * reads back. The first input byte also chooses whether the fuzzed segment
 * is an older one, followed by a valid later segment that recovery must
 * keep, and whether the log was shut down cleanly (then the fuzzed segment
 * is trusted unless its index fails the load checks, and reads meet its
 * bytes unchecked). Transactions: the second part of the input can go to
 * the segment's .txnindex (instead of, or besides, its .index) or become a
 * producer-state snapshot, and the fuzzed .log can start with a valid
 * transaction and its ABORT marker, so that recovery rebuilds the
 * aborted-transaction index from the batches; after the open, the
 * producer state is replayed, a marker is written and the aborted list is
 * read and checked.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/record_batch.h"
#include "storage/fsutil.h"
#include "storage/log.h"
#include "storage/producer_state.h"
#include "storage/txn_log.h"

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

/* A transactional batch of producer 7 at offset 0 and its ABORT marker at 1. */
static void aborted_transaction(st_writer_t *w) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    b.attributes_extra = ST_BATCH_ATTR_TRANSACTIONAL;
    b.producer_id = 7;
    b.producer_epoch = 0;
    b.base_sequence = 0;
    st_batch_builder_add(&b, 0, 1, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, NULL, 0);
    st_batch_builder_finish(&b, w);
    st_batch_builder_free(&b);
    size_t at = w->len;
    st_txn_marker_t m = {.commit = false, .coordinator_epoch = 0};
    st_txn_marker_batch_build(w, 7, 0, &m, 1);
    st_batch_set_base_offset(w->data + at, 1);
}

/* The aborted list must hold whole entries in marker order. */
static void check_aborted(st_log_t *log) {
    st_aborted_txns_t out = {0};
    if (st_log_collect_aborted_txns(log, st_log_start_offset(log), INT64_MAX, &out) != 0) abort();
    for (int32_t i = 0; i < out.count; i++) {
        if (out.items[i].first_offset > out.items[i].last_offset || out.items[i].producer_id < 0) abort();
        if (i > 0 && out.items[i - 1].last_offset >= out.items[i].last_offset) abort();
    }
    st_aborted_txns_free(&out);
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
    bool to_txnindex = flags & 4, to_both = flags & 8, with_txn = flags & 16, to_snapshot = flags & 32;
    /* First byte splits the rest between .log and .index. */
    const uint8_t *body = size > 2 ? data + 2 : data + size;
    size_t body_len = size > 2 ? size - 2 : 0;
    size_t split = size ? (size_t)data[0] * body_len / 256 : 0;
    if (with_txn) {
        st_writer_t w;
        st_writer_init(&w, 256);
        aborted_transaction(&w);
        st_write_raw(&w, body, split);
        write_file("00000000000000000000.log", w.data, w.len);
        st_writer_free(&w);
    } else {
        write_file("00000000000000000000.log", body, split);
    }
    const uint8_t *second = body + split;
    size_t second_len = body_len - split;
    if (to_snapshot) write_file("00000000000000000000.snapshot", second, second_len);
    else if (!to_txnindex || to_both) write_file("00000000000000000000.index", second, second_len);
    if (!to_snapshot && (to_txnindex || to_both)) write_file("00000000000000000000.txnindex", second, second_len);
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
        check_aborted(log);
        st_producer_state_t *ps = st_producer_state_new();
        if (st_txn_log_load_producer_state(log, ps, dir, 1, INT64_MAX) == 0) {
            /* An LSO is always between the log start and the end. */
            int64_t lso = st_producer_state_last_stable_offset(ps, st_log_start_offset(log), st_log_end_offset(log));
            if (lso < st_log_start_offset(log) || lso > st_log_end_offset(log)) abort();
            st_txn_marker_t m = {.commit = false, .coordinator_epoch = 1};
            st_txn_marker_result_t mr;
            (void)st_txn_log_write_marker(log, ps, 7, 1, &m, 0, 0, 1, &mr);
            check_aborted(log);
        }
        st_producer_state_free(ps);
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
