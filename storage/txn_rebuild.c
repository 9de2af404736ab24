#include "storage/txn_rebuild.h"

#include "common/errors.h"
#include "storage/producer_state.h"

/* Replays segment `seg` from `from` on; markers that end an aborted
 * transaction go into its index when `write` is set. */
static int replay_segment(st_producer_state_t *ps, st_segment_t *seg, int64_t from, bool write, int64_t now_ms,
                          int64_t *entries) {
    int64_t position;
    st_batch_header_t h;
    int rc = st_segment_find_batch(seg, from, &position, &h);
    if (rc == ST_ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    st_segment_reader_t rd;
    st_segment_reader_init(&rd, seg, position);
    const uint8_t *batch;
    size_t len;
    while ((rc = st_segment_reader_next(&rd, &batch, &len, &h)) == 1) {
        rc = 0;
        if (st_batch_last_offset(&h) < from) continue;
        st_completed_txn_t done;
        /* Batches here passed recovery or were trusted: one that does not
         * replay is skipped, as the partition's own replay would. */
        if (st_producer_state_replay_batch(ps, batch, len, now_ms, &done) != 1 || !done.aborted || !write) continue;
        st_aborted_txn_t entry = {
            .producer_id = done.producer_id,
            .first_offset = done.first_offset,
            .last_offset = done.last_offset,
            .last_stable_offset = done.last_stable_offset,
        };
        if ((rc = st_txn_index_append(&seg->txn_index, &entry))) break;
        (*entries)++;
    }
    st_segment_reader_free(&rd);
    return rc < 0 ? rc : 0;
}

int st_txn_rebuild_indexes(st_segment_t *const *segments, int32_t count, int32_t first, const char *dir,
                           int64_t log_start_offset, int64_t now_ms, int64_t *entries_out) {
    *entries_out = 0;
    if (first < 0 || first >= count) return 0;
    st_producer_state_t *ps = st_producer_state_new();
    int64_t snapshot_offset = 0;
    int rc = st_producer_state_load(ps, dir, segments[first]->base_offset, &snapshot_offset);
    int64_t from = snapshot_offset > log_start_offset ? snapshot_offset : log_start_offset;
    for (int32_t i = 0; rc == 0 && i < count; i++) {
        int64_t next_base = i + 1 < count ? segments[i + 1]->base_offset : INT64_MAX;
        if (next_base <= from) continue;
        rc = replay_segment(ps, segments[i], from, i >= first, now_ms, entries_out);
    }
    for (int32_t i = first; rc == 0 && i < count; i++) rc = st_txn_index_flush(&segments[i]->txn_index);
    st_producer_state_free(ps);
    return rc;
}
