#include "storage/txn_log.h"

#include "protocol/buf.h"
#include "common/errors.h"

int st_txn_log_write_marker(st_log_t *log, st_producer_state_t *ps, int64_t producer_id, int16_t producer_epoch,
                            const st_txn_marker_t *marker, int16_t transaction_version, int32_t leader_epoch,
                            int64_t now_ms, st_txn_marker_result_t *out) {
    out->offset = -1;
    out->completed = false;
    int rc = st_producer_state_check_marker(ps, producer_id, producer_epoch, marker, transaction_version);
    if (rc) return rc;
    st_writer_t w;
    st_writer_init(&w, 128);
    st_txn_marker_batch_build(&w, producer_id, producer_epoch, marker, now_ms);
    st_log_append_result_t ar;
    rc = st_log_append(log, w.data, w.len, leader_epoch, now_ms, false, &ar);
    if (rc == 0) {
        st_batch_header_t h;
        (void)st_batch_header_parse(w.data, w.len, &h); /* with the offset the log assigned */
        out->offset = ar.base_offset;
        out->completed = st_producer_state_complete_marker(ps, &h, marker, now_ms, &out->txn);
        if (out->completed && out->txn.aborted) {
            st_aborted_txn_t entry = {
                .producer_id = out->txn.producer_id,
                .first_offset = out->txn.first_offset,
                .last_offset = out->txn.last_offset,
                .last_stable_offset = out->txn.last_stable_offset,
            };
            rc = st_log_append_aborted_txn(log, &entry);
        }
    }
    st_writer_free(&w);
    return rc;
}

typedef struct replay_ctx {
    st_producer_state_t *ps;
    int64_t now_ms;
} replay_ctx_t;

static int replay_batch(void *ctx, const uint8_t *batch, size_t len) {
    replay_ctx_t *rc = ctx;
    st_completed_txn_t done;
    /* The log checked every batch at open: one that does not replay is not
     * a producer's. */
    (void)st_producer_state_replay_batch(rc->ps, batch, len, rc->now_ms, &done);
    return 0;
}

int st_txn_log_load_producer_state(st_log_t *log, st_producer_state_t *ps, const char *dir, int64_t now_ms,
                                   int64_t expiration_ms) {
    int64_t end = st_log_end_offset(log);
    int64_t snapshot_offset = 0;
    /* A snapshot past the end describes a log that is gone; one that cannot
     * be removed is still never loaded (max_offset below). */
    (void)st_producer_state_delete_snapshots(dir, 0, end);
    int rc = st_producer_state_load(ps, dir, end, &snapshot_offset);
    if (rc) return rc;
    int64_t start = st_log_start_offset(log);
    int64_t from = snapshot_offset > start ? snapshot_offset : start;
    if (from < end) {
        replay_ctx_t ctx = {ps, now_ms};
        rc = st_log_for_each_batch(log, from, replay_batch, &ctx);
        if (rc) return rc;
    }
    st_producer_state_expire(ps, now_ms, expiration_ms);
    return 0;
}
