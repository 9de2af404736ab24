/* Deleting from a partition log's start (retention, DeleteRecords) and
 * compaction (cleanup.policy). Part of storage/log (see log_internal.h). */
#include "storage/log_internal.h"

/* ---- deleting from the start --------------------------------------------- */

/* Deletes the first `n` segments (rolling first when that is all of them)
 * and moves the start offset to the first one left. Returns n or an error. */
static int delete_prefix(st_log_t *log, int32_t n, int64_t now_ms) {
    if (n <= 0) return 0;
    if (log_begin_write(log)) return fail(log, "removing the clean-shutdown marker");
    if (n >= log->segment_count) {
        n = log->segment_count;
        int rc = log_roll(log, now_ms);
        if (rc) return rc;
    }
    int64_t new_start = log->segments[n]->base_offset;
    /* Files first, then the checkpoint: a start offset at the first kept
     * segment's base is what an open derives from the segments anyway (the
     * larger of the checkpoint and that base), so a crash in between, or a
     * checkpoint that cannot be written on a full disk, loses nothing; and
     * deleting is what frees the space. */
    int rc = 0, first_errno = 0;
    for (int32_t i = 0; i < n; i++) {
        if (st_segment_delete(log->segments[i]) && rc == 0) {
            first_errno = errno;
            rc = ST_ERR_IO;
        }
    }
    memmove(log->segments, log->segments + n, (size_t)(log->segment_count - n) * sizeof *log->segments);
    log->segment_count -= n;
    if (new_start > log->start_offset) {
        log->start_offset = new_start;
        if (log_persist_start_offset(log)) log_report_checkpoint_failure(log, ST_CHECKPOINT_LOG_START);
        if (log_epochs_truncate_from_start(log, new_start) && log_epochs_persist(log))
            log_report_checkpoint_failure(log, ST_CHECKPOINT_LEADER_EPOCH);
    }
    if (rc) {
        errno = first_errno;
        return fail(log, "deleting the segments below offset %" PRId64, new_start);
    }
    return n;
}

/* Segments wholly below the start offset (never the log_active one). */
int log_delete_below_start(st_log_t *log, int64_t now_ms) {
    int32_t n = 0;
    while (n + 1 < log->segment_count && log->segments[n + 1]->base_offset <= log->start_offset) n++;
    return delete_prefix(log, n, now_ms);
}

int st_log_delete_records(st_log_t *log, int64_t offset) {
    if (log->failed) return log_refuse(log);
    if (offset > log->end_offset || offset < 0) return ST_ERR_OFFSET_OUT_OF_RANGE;
    if (offset <= log->start_offset) return 0;
    int64_t old_start = log->start_offset;
    log->start_offset = offset;
    if (log_persist_start_offset(log)) {
        /* The new start must be durable before it is acknowledged; without it
         * the request fails and nothing changed (the log stays writable). */
        int e = errno;
        log->start_offset = old_start;
        ST_WARN("%s: DeleteRecords to offset %" PRId64 ": writing %s failed: %s (errno %d); nothing was deleted",
                log->dir, offset, ST_CHECKPOINT_LOG_START, strerror(e), e);
        return ST_ERR_KAFKA_STORAGE_ERROR;
    }
    /* Epochs below the start are dropped again at open: a failed write
     * only defers them to the next flush. */
    if (log_epochs_truncate_from_start(log, offset) && log_epochs_persist(log))
        log_report_checkpoint_failure(log, ST_CHECKPOINT_LEADER_EPOCH);
    /* Everything is gone: log_roll so the old log_active segment can go too. */
    if (offset == log->end_offset && log_active(log)->size_bytes > 0) {
        int rc = log_roll(log, log_active(log)->created_ms);
        if (rc) return rc;
    }
    int rc = log_delete_below_start(log, 0);
    return rc < 0 ? rc : 0;
}

int st_log_enforce_retention(st_log_t *log, int64_t now_ms) {
    /* Retention is what frees a full disk: it re-checks a failed log first. */
    if (log_leave_failed(log, now_ms)) return ST_ERR_KAFKA_STORAGE_ERROR;
    int deleted = 0, rc;
    const st_log_config_t *cfg = &log->cfg;
    if (cfg->cleanup_delete && cfg->retention_ms >= 0) {
        int32_t n = 0;
        while (n < log->segment_count) {
            const st_segment_t *seg = log->segments[n];
            bool last_and_empty = n == log->segment_count - 1 && seg->size_bytes == 0;
            if (last_and_empty || now_ms - st_segment_largest_timestamp(seg) <= cfg->retention_ms) break;
            n++;
        }
        if ((rc = delete_prefix(log, n, now_ms)) < 0) return rc;
        deleted += rc;
    }
    if (cfg->cleanup_delete && cfg->retention_bytes >= 0) {
        int64_t diff = st_log_size_bytes(log) - cfg->retention_bytes;
        int32_t n = 0;
        while (n < log->segment_count) {
            const st_segment_t *seg = log->segments[n];
            bool last_and_empty = n == log->segment_count - 1 && seg->size_bytes == 0;
            if (last_and_empty || diff - seg->size_bytes < 0) break;
            diff -= seg->size_bytes;
            n++;
        }
        if ((rc = delete_prefix(log, n, now_ms)) < 0) return rc;
        deleted += rc;
    }
    if ((rc = log_delete_below_start(log, now_ms)) < 0) return rc;
    return deleted + rc;
}

/* ---- compaction ---------------------------------------------------------- */

/* Puts the cleaned file in place of segment i (see st_log_compact).
 * ST_ERR_IO (errno set) when it failed before anything changed; a failure
 * after that fails the log. */
static int swap_in(st_log_t *log, int32_t i, const char *cleaned_path, const st_cleaner_result_t *res,
                   int64_t now_ms) {
    if (log_begin_write(log)) return ST_ERR_IO;
    st_segment_t *seg = log->segments[i];
    int64_t base = seg->base_offset;
    int64_t next_base = log->segments[i + 1]->base_offset;
    int64_t kept_bytes = res->kept_bytes;
    if (kept_bytes == 0 && i > 0) {
        /* Nothing left: drop the segment (reads skip to the next one). */
        if (st_fs_unlink(cleaned_path)) return ST_ERR_IO;
        log_remove_segment_at(log, i);
        if (st_segment_delete(seg)) return fail(log, "deleting the emptied segment %s", log_segment_name(base).text);
        return 0;
    }
    char swap_path[ST_FS_PATH_MAX], txn_cleaned[ST_FS_PATH_MAX], txn_swap[ST_FS_PATH_MAX];
    if (st_segment_path(swap_path, log->dir, base, ".log.swap") ||
        st_segment_path(txn_cleaned, log->dir, base, ".txnindex.cleaned") ||
        st_segment_path(txn_swap, log->dir, base, ".txnindex.swap"))
        return ST_ERR_IO;
    /* The cleaned transaction index is durable under its .swap name before
     * the .log.swap appears (log_finish_swap puts both in place). */
    if (st_txn_index_write_file(txn_cleaned, res->txn_entries, res->txn_entry_count)) return ST_ERR_IO;
    if (rename(txn_cleaned, txn_swap) != 0 || st_fs_fsync_dir(log->dir)) {
        int e = errno;
        st_fs_unlink(txn_cleaned);
        st_fs_unlink(txn_swap);
        errno = e;
        return ST_ERR_IO;
    }
    if (rename(cleaned_path, swap_path) != 0 || st_fs_fsync_dir(log->dir)) {
        int e = errno;
        if (!st_fs_exists(swap_path)) st_fs_unlink(txn_swap);
        errno = e;
        return ST_ERR_IO;
    }
    /* From here a crash is finished by the next open (log_finish_swap). */
    st_segment_close(seg);
    log->segments[i] = NULL;
    int rc = log_finish_swap(log->dir, base);
    st_segment_t *fresh = NULL;
    if (rc == 0) rc = st_segment_open(log->dir, base, next_base, now_ms, &fresh);
    st_segment_recovery_t rec;
    if (rc == 0)
        rc = st_segment_recover(fresh, log->cfg.index_interval_bytes, log->cfg.index_bytes_max, next_base, NULL, NULL,
                                &rec);
    if (rc == 0) rc = st_segment_make_inactive(fresh);
    if (rc == 0) rc = st_segment_flush(fresh);
    if (rc) {
        int e = errno;
        st_segment_close(fresh);
        /* The list cannot keep a hole: the log must be reopened. */
        log_remove_segment_at(log, i);
        errno = e;
        return fail_for_good(log, "putting the compacted %s in place", log_segment_name(base).text);
    }
    log->segments[i] = fresh;
    return 0;
}

/* Age of the segment's newest record; a client may have written any
 * timestamp, so negatives count as 0 rather than overflow. */
static int64_t newest_record_age_ms(const st_segment_t *seg, int64_t now_ms) {
    int64_t newest = st_segment_largest_timestamp(seg);
    return newest > 0 ? now_ms - newest : now_ms;
}

/*
 * Kafka's LogCleanerManager test, on the first `cleanable` segments: the
 * bytes written since the last pass (dirty) against all of them reach
 * min.cleanable.dirty.ratio, or the oldest dirty segment is past
 * max.compaction.lag.ms (judged by its newest record, so a little later
 * than Kafka, which looks at the oldest). Without new data a log is
 * cleaned again only when tombstones it kept may go, as Kafka does for logs
 * whose delete horizon passed (KIP-534).
 */
static bool worth_cleaning(const st_log_t *log, int32_t cleanable, int64_t now_ms) {
    int64_t clean = 0, dirty = 0;
    const st_segment_t *oldest_dirty = NULL;
    for (int32_t i = 0; i < cleanable; i++) {
        const st_segment_t *seg = log->segments[i];
        if (log->segments[i + 1]->base_offset <= log->first_dirty_offset) {
            clean += seg->size_bytes;
        } else {
            dirty += seg->size_bytes;
            if (!oldest_dirty) oldest_dirty = seg;
        }
    }
    if (now_ms >= log->tombstones_due_ms) return true;
    if (!oldest_dirty) return false;
    if (newest_record_age_ms(oldest_dirty, now_ms) > log->cfg.max_compaction_lag_ms) return true;
    return (double)dirty >= log->cfg.min_cleanable_dirty_ratio * (double)(clean + dirty);
}

/* One line per failed pass, with the errno when it was an I/O error. */
static void compaction_failed(st_log_t *log, int64_t base, int rc) {
    int e = errno;
    if (rc == ST_ERR_IO)
        ST_WARN("%s: compaction of %s stopped: %s (errno %d); the segment is unchanged and the next pass retries",
                log->dir, log_segment_name(base).text, strerror(e), e);
    else
        ST_WARN("%s: compaction of %s stopped: %s; the segment is unchanged", log->dir, log_segment_name(base).text,
                st_err_name(rc));
}

int st_log_compact(st_log_t *log, int64_t now_ms) { return st_log_compact_below(log, now_ms, INT64_MAX); }

int st_log_compact_below(st_log_t *log, int64_t now_ms, int64_t uncleanable_offset) {
    if (log_leave_failed(log, now_ms)) return ST_ERR_KAFKA_STORAGE_ERROR;
    const st_log_config_t *cfg = &log->cfg;
    if (!cfg->cleanup_compact) return 0;
    /* Cleanable: inactive segments, oldest first, up to the first one that
     * has records newer than min.compaction.lag.ms or reaches the
     * uncleanable offset. */
    int32_t cleanable = 0;
    while (cleanable < log->segment_count - 1 &&
           newest_record_age_ms(log->segments[cleanable], now_ms) >= cfg->min_compaction_lag_ms &&
           log->segments[cleanable + 1]->base_offset <= uncleanable_offset)
        cleanable++;
    if (cleanable == 0 || !worth_cleaning(log, cleanable, now_ms)) return 0;
    int64_t estimate = log->segments[cleanable]->base_offset - log->segments[0]->base_offset;
    st_cleaner_map_t *map;
    int rc = st_cleaner_map_create(estimate, &map);
    if (rc) return rc;
    st_aborted_txns_t aborted = {0};
    rc = st_log_collect_aborted_txns(log, log->segments[0]->base_offset, log->segments[cleanable]->base_offset,
                                     &aborted);
    if (rc == 0) rc = st_cleaner_map_set_aborted(map, &aborted);
    st_aborted_txns_free(&aborted);
    for (int32_t i = 0; i < log->segment_count && rc == 0; i++)
        rc = st_cleaner_map_add_producers(map, log->segments[i]);
    int32_t mapped = 0;
    while (rc == 0 && mapped < cleanable) {
        rc = st_cleaner_map_add_segment(map, log->segments[mapped], cfg->decompressed_bytes_max);
        if (rc == 0) mapped++;
    }
    if (rc == ST_ERR_LIMIT && mapped > 0) rc = 0; /* clean what was mapped fully */
    int64_t tombstones_due_ms = INT64_MAX;
    for (int32_t i = 0; i < mapped && rc == 0; i++) {
        st_segment_t *seg = log->segments[i];
        bool drop_tombstones = newest_record_age_ms(seg, now_ms) > cfg->delete_retention_ms;
        char cleaned_path[ST_FS_PATH_MAX];
        if ((rc = st_segment_path(cleaned_path, log->dir, seg->base_offset, ".log.cleaned"))) break;
        st_cleaner_result_t res;
        rc = st_cleaner_clean_segment(map, seg, drop_tombstones, cfg->decompressed_bytes_max, cleaned_path, &res);
        if (rc == 0 && res.kept_tombstones && !drop_tombstones) {
            int64_t age = newest_record_age_ms(seg, now_ms);
            int64_t due = cfg->delete_retention_ms - age < INT64_MAX - now_ms
                              ? now_ms + (cfg->delete_retention_ms - age) + 1 : INT64_MAX;
            if (due < tombstones_due_ms) tombstones_due_ms = due;
        }
        if (rc == 0 && !res.changed) {
            rc = st_fs_unlink(cleaned_path);
            continue;
        }
        if (rc) {
            /* Nothing changed yet: the pass stops, the log goes on (a full
             * disk here must not stop the produce path). */
            compaction_failed(log, seg->base_offset, rc);
            st_fs_unlink(cleaned_path);
            break;
        }
        int32_t before = log->segment_count;
        int64_t base = seg->base_offset; /* seg may be replaced */
        rc = swap_in(log, i, cleaned_path, &res, now_ms);
        if (rc == ST_ERR_IO) {
            compaction_failed(log, base, rc);
            st_fs_unlink(cleaned_path);
        }
        if (log->segment_count < before) {
            /* Segment i is gone: revisit the same index. */
            i--;
            mapped--;
        }
    }
    st_cleaner_map_free(map);
    if (rc == 0) {
        log->first_dirty_offset = log->segments[mapped]->base_offset;
        log->tombstones_due_ms = tombstones_due_ms;
    }
    return rc;
}

