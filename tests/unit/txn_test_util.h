/* Helpers for the storage tests of transactions: transactional batches
 * appended through the producer state as a partition does, markers written
 * through storage/txn_log, the aborted list of a log. Header-only. */
#ifndef ST_TESTS_TXN_TEST_UTIL_H
#define ST_TESTS_TXN_TEST_UTIL_H

#include "storage/producer_state.h"
#include "storage/txn_log.h"
#include "storage_test_util.h"

/* A batch of `n` keyed records from producer `pid` (transactional when
 * txn), checked and recorded in `ps` as st_partition_produce does. Keys
 * k<key0>..; returns the base offset. */
static inline int64_t txn_test_append(st_log_t *log, st_producer_state_t *ps, int64_t pid, int16_t epoch, int32_t seq,
                                      int n, int key0, const char *tag, bool txn, int64_t now_ms) {
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE, 0);
    b.attributes_extra = txn ? ST_BATCH_ATTR_TRANSACTIONAL : 0;
    b.producer_id = pid;
    b.producer_epoch = epoch;
    b.base_sequence = seq;
    for (int i = 0; i < n; i++) {
        char key[32], value[64];
        int kl = snprintf(key, sizeof key, "k%d", key0 + i);
        int vl = snprintf(value, sizeof value, "%s-%d", tag, i);
        st_batch_builder_add(&b, i, now_ms + i, (const uint8_t *)key, kl, (const uint8_t *)value, vl, NULL, 0);
    }
    st_writer_t w;
    st_writer_init(&w, 256);
    assert_int_equal(st_batch_builder_finish(&b, &w), 0);
    st_batch_builder_free(&b);
    st_batch_header_t h;
    assert_int_equal(st_batch_header_parse(w.data, w.len, &h), 0);
    st_producer_check_t c;
    assert_int_equal(st_producer_state_check(ps, &h, &c), 0);
    assert_int_equal(c.verdict, ST_PRODUCER_APPEND);
    st_log_append_result_t res;
    assert_int_equal(st_log_append(log, w.data, w.len, 0, now_ms, false, &res), 0);
    assert_int_equal(st_batch_header_parse(w.data, w.len, &h), 0);
    st_producer_state_update(ps, &h, res.base_offset, res.last_offset, now_ms);
    st_writer_free(&w);
    return res.base_offset;
}

/* A COMMIT or ABORT marker through st_txn_log_write_marker; returns its
 * offset. */
static inline int64_t txn_test_marker(st_log_t *log, st_producer_state_t *ps, int64_t pid, int16_t epoch, bool commit,
                                      int64_t now_ms) {
    st_txn_marker_t m = {.commit = commit, .coordinator_epoch = 0};
    st_txn_marker_result_t r;
    assert_int_equal(st_txn_log_write_marker(log, ps, pid, epoch, &m, 0, 0, now_ms, &r), 0);
    return r.offset;
}

/* The aborted transactions Fetch would list for [from, upper). */
static inline st_aborted_txns_t txn_test_aborted(st_log_t *log, int64_t from, int64_t upper) {
    st_aborted_txns_t out = {0};
    assert_int_equal(st_log_collect_aborted_txns(log, from, upper, &out), 0);
    return out;
}

#endif
