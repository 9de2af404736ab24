/* Opening a partition log: directory scan, segment recovery (Kafka's
 * LogLoader), and closing. Part of storage/log (see log_internal.h). */
#include "storage/log_internal.h"

/* ---- opening and recovery ------------------------------------------------ */

/* Parses "<20 digits><suffix>"; true with *base set when it matches. */
static bool parse_segment_name(const char *name, const char *suffix, int64_t *base) {
    size_t n = strlen(name), s = strlen(suffix);
    if (n != LOG_SEGMENT_NAME_DIGITS + s || strcmp(name + LOG_SEGMENT_NAME_DIGITS, suffix) != 0) return false;
    int64_t v = 0;
    for (int i = 0; i < LOG_SEGMENT_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        int d = name[i] - '0';
        if (v > (INT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *base = v;
    return true;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Finishes a compaction swap: the .swap file is complete (fsynced before
 * its rename), so it replaces the .log; the old indexes are stale. */
static int scan_dir(const char *dir, int64_t **bases_out, int32_t *count_out) {
    int64_t *bases = NULL;
    int32_t count = 0, cap = 0;
    int rc = 0;
    for (int pass = 0; pass < 3 && rc == 0; pass++) {
        DIR *d = opendir(dir);
        if (!d) return ST_ERR_IO;
        struct dirent *e;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            const char *name = e->d_name;
            char path[ST_FS_PATH_MAX];
            int64_t base;
            if (st_fs_path(path, "%s/%s", dir, name)) continue;
            if (pass == 0) {
                if (ends_with(name, ".cleaned") || ends_with(name, ".deleted") || ends_with(name, ".tmp"))
                    rc = st_fs_unlink(path);
                else if (parse_segment_name(name, ".log.swap", &base))
                    rc = log_finish_swap(dir, base);
            } else if (pass == 1) {
                if (!parse_segment_name(name, ".log", &base)) continue;
                if (count == cap) {
                    cap = cap ? cap * 2 : 16;
                    int64_t *nb = realloc(bases, (size_t)cap * sizeof *nb);
                    if (!nb) {
                        rc = ST_ERR_NO_MEMORY;
                        break;
                    }
                    bases = nb;
                }
                bases[count++] = base;
            } else {
                /* A compacted transaction index whose .log.swap never came
                 * (the swap was cut short before it; pass 0 put every
                 * other one in place). */
                if (parse_segment_name(name, ".txnindex.swap", &base)) {
                    rc = st_fs_unlink(path);
                    continue;
                }
                /* Index files whose .log is gone (a deletion cut short). */
                if (!parse_segment_name(name, ".index", &base) && !parse_segment_name(name, ".timeindex", &base) &&
                    !parse_segment_name(name, ST_TXN_INDEX_SUFFIX, &base))
                    continue;
                char log_path[ST_FS_PATH_MAX];
                if (st_segment_path(log_path, dir, base, ".log") == 0 && !st_fs_exists(log_path))
                    rc = st_fs_unlink(path);
            }
        }
        closedir(d);
    }
    if (rc) {
        free(bases);
        return rc;
    }
    if (count > 1) qsort(bases, (size_t)count, sizeof *bases, cmp_i64);
    *bases_out = bases;
    *count_out = count;
    return 0;
}

static void report_cut(const st_log_t *log, const st_segment_t *seg, const st_segment_recovery_t *rec, bool last,
                       int64_t next_base, int32_t later_segments) {
    char path[ST_FS_PATH_MAX];
    if (st_segment_path(path, log->dir, seg->base_offset, ".log")) return;
    char offsets[160];
    if (seg->next_offset > seg->base_offset)
        snprintf(offsets, sizeof offsets, "offsets %" PRId64 " to %" PRId64, seg->base_offset, seg->next_offset - 1);
    else
        snprintf(offsets, sizeof offsets, "no batch");
    if (last)
        ST_WARN("Found invalid data in log segment %s at byte position %" PRId64 ": %s. Truncated %" PRId64
                " bytes, kept %" PRId64 " valid bytes (%s); the log now ends at offset %" PRId64,
                path, rec->valid_bytes, rec->reason, rec->truncated_bytes, rec->valid_bytes, offsets, seg->next_offset);
    else
        ST_WARN("Found invalid data in log segment %s at byte position %" PRId64 ": %s. Truncated %" PRId64
                " bytes, kept %" PRId64 " valid bytes (%s); offsets %" PRId64 " to %" PRId64 " are gone, the %" PRId32
                " later segment(s) are kept", path, rec->valid_bytes, rec->reason, rec->truncated_bytes,
                rec->valid_bytes, offsets, seg->next_offset, next_base - 1, later_segments);
}

/*
 * Kafka's LogLoader, with one difference. What is rescanned: after an
 * unclean shutdown the segments holding offsets at or past the recovery
 * point (their tails may be torn or unsynced: recoverLog); at any start the
 * log_active segment (verified without writing after a clean shutdown), any
 * segment whose indexes fail the load checks (loadSegmentFiles'
 * sanityCheck: missing, not whole, past the .log's end, as for a truncated
 * file), and any segment whose .log was written after its indexes, which
 * only happens when something other than this log wrote it (checked, then
 * trusted again). The difference: a segment found damaged is cut at its
 * last whole valid batch and every later segment is kept. Kafka drops the
 * later unflushed segments because a torn write may precede them; here a
 * segment is fsynced before the next one is created (log_roll), so a later
 * segment's existence proves the earlier one was whole, and each later
 * segment is checked on its own. The offsets lost in between are a gap,
 * which reads cross as they cross compacted ones (st_log_read).
 */
static int load_segments(st_log_t *log, const int64_t *bases, int32_t count, bool clean, int64_t now_ms) {
    const st_log_config_t *cfg = &log->cfg;
    for (int32_t i = 0; i < count; i++) {
        int64_t bound = i + 1 < count ? bases[i + 1] : INT64_MAX;
        st_segment_t *seg;
        int rc = st_segment_open(log->dir, bases[i], bound, now_ms, &seg);
        if (rc) return rc;
        if ((rc = log_push_segment(log, seg))) {
            st_segment_close(seg);
            return rc;
        }
    }
    bool *rebuilt = calloc((size_t)log->segment_count, sizeof *rebuilt);
    if (!rebuilt) return ST_ERR_NO_MEMORY;
    int rc = 0;
    for (int32_t i = 0; i < log->segment_count && rc == 0; i++) {
        st_segment_t *seg = log->segments[i];
        bool last = i == log->segment_count - 1;
        int64_t next_base = last ? INT64_MAX : log->segments[i + 1]->base_offset;
        bool unflushed = !clean && next_base > log->recovery_point;
        /* Why a segment the log would trust gets rebuilt (for the INFO
         * line); NULL for the routine recovery of unflushed segments. */
        const char *why = NULL;
        bool verify = false;
        if (last && clean) {
            /* The indexes are kept, read-only, when they agree with the
             * .log: nothing is written until the first append. */
            verify = seg->indexes_loaded_sane;
            why = seg->indexes_loaded_sane ? "they disagree with the .log" : seg->index_problem;
        } else if (!last && !unflushed) {
            if (!seg->indexes_loaded_sane) {
                why = seg->index_problem;
            } else if (seg->modified_after_indexes) {
                verify = true;
                why = "the .log was written after its indexes and does not match them";
            } else {
                continue;
            }
        }
        if (verify) {
            bool verified = false;
            if ((rc = st_segment_verify(seg, next_base, &verified))) break;
            if (verified) {
                /* Checked: the next start trusts it again without a scan
                 * (should this fail, it is only checked again). */
                if (!last) (void)st_segment_touch_indexes(seg);
                continue;
            }
        }
        st_segment_recovery_t rec;
        rc = st_segment_recover(seg, cfg->index_interval_bytes, cfg->index_bytes_max, next_base,
                                log_epoch_from_recovered_batch, log, &rec);
        if (rc) break;
        rebuilt[i] = true;
        if (rec.truncated_bytes > 0) {
            report_cut(log, seg, &rec, last, next_base, log->segment_count - 1 - i);
            /* The .log changed: it has to reach the disk before the next
             * clean marker does. */
            if ((rc = log_begin_write(log))) break;
        } else if (why) {
            /* One line per segment: a cut says more than the rebuild. */
            char path[ST_FS_PATH_MAX];
            if (st_segment_path(path, log->dir, seg->base_offset, ".log") == 0)
                ST_INFO("Rebuilt the indexes of log segment %s: %s", path, why);
        }
    }
    /* Transaction indexes are re-derived from the first segment recovered
     * on (storage/txn_rebuild.h): later ones are reset too, so no entry is
     * written twice. */
    log->txn_rebuild_first = -1;
    for (int32_t i = 0; rc == 0 && i < log->segment_count; i++) {
        st_txn_index_t *ix = &log->segments[i]->txn_index;
        if (log->txn_rebuild_first < 0 && !rebuilt[i]) continue;
        if (log->txn_rebuild_first < 0) log->txn_rebuild_first = i;
        if (ix->on_disk) log->txn_rebuild_needed = true;
        if (st_txn_index_reset(ix)) rc = ST_ERR_IO;
    }
    /* The log_active segment's end is known only now: an entry at or past it
     * is damage the clean marker cannot rule out (the index is written
     * after the .log). */
    st_txn_index_t *last_ix = &log_active(log)->txn_index;
    int32_t n = st_txn_index_count(last_ix);
    if (rc == 0 && log->txn_rebuild_first < 0 && n > 0 &&
        st_txn_index_entry(last_ix, n - 1)->last_offset >= log_active(log)->next_offset) {
        log->txn_rebuild_first = log->segment_count - 1;
        log->txn_rebuild_needed = true;
        if (st_txn_index_reset(last_ix)) rc = ST_ERR_IO;
    }
    /* The log_active segment's indexes become writable at its first append
     * (log_make_writable), or already are when it was rebuilt. Rebuilt inactive
     * segments are fsynced here: nothing later flushes below the recovery
     * point. */
    for (int32_t i = 0; rc == 0 && i + 1 < log->segment_count; i++) {
        if (st_segment_make_inactive(log->segments[i])) rc = ST_ERR_IO;
        else if (rebuilt[i] && log->segments[i + 1]->base_offset <= log->recovery_point &&
                 st_segment_flush(log->segments[i]))
            rc = ST_ERR_IO;
    }
    free(rebuilt);
    return rc;
}

/* Kafka logs the start of recovery for each unflushed segment; one line per
 * log says the same: why, from where, how much. */
static void report_unclean(const st_log_t *log, const int64_t *bases, int32_t count, bool recovery_point_read) {
    int32_t unflushed = 0;
    for (int32_t i = 0; i < count; i++) {
        int64_t next_base = i + 1 < count ? bases[i + 1] : INT64_MAX;
        if (next_base > log->recovery_point) unflushed++;
    }
    if (recovery_point_read)
        ST_INFO("The log %s was not cleanly shut down: recovering %" PRId32 " unflushed segment(s) from the recovery"
                " point, offset %" PRId64, log->dir, unflushed, log->recovery_point);
    else
        ST_INFO("The log %s was not cleanly shut down and has no readable %s checkpoint: recovering all %" PRId32
                " segment(s)", log->dir, ST_CHECKPOINT_RECOVERY_POINT, unflushed);
}


static int rebuild_txn_indexes(st_log_t *log, int64_t now_ms) {
    int64_t entries = 0;
    int32_t first = log->txn_rebuild_first;
    int rc = st_txn_rebuild_indexes(log->segments, log->segment_count, first, log->dir, log->start_offset, now_ms,
                                    &entries);
    if (rc == 0)
        ST_INFO("%s: rebuilt the transaction indexes from offset %" PRId64 ": %" PRId64 " aborted transaction(s)",
                log->dir, log->segments[first]->base_offset, entries);
    log->txn_rebuild_needed = false;
    return rc;
}

int st_log_open(const char *dir, const st_log_config_t *cfg, int64_t now_ms, st_log_t **out) {
    if (!log_config_valid(cfg)) return ST_ERR_INVALID_CONFIG;
    int mkdir_rc = st_fs_mkdir_p(dir);
    if (mkdir_rc) {
        int e = errno;
        ST_ERROR("%s: creating the log directory failed: %s", dir,
                 mkdir_rc == ST_ERR_IO ? strerror(e) : st_err_name(mkdir_rc));
        return mkdir_rc;
    }
    st_log_t *log = calloc(1, sizeof *log);
    if (!log) return ST_ERR_NO_MEMORY;
    log->cfg = *cfg;
    log->dir = strdup(dir);
    log->last_recheck_ms = INT64_MIN;
    int64_t *bases = NULL;
    int32_t count = 0;
    int saved_errno;
    int rc = log->dir ? 0 : ST_ERR_NO_MEMORY;
    if (rc == 0) rc = scan_dir(dir, &bases, &count);
    if (rc) goto err_free_log;

    char marker[ST_FS_PATH_MAX];
    if ((rc = st_fs_path(marker, "%s/%s", dir, ST_LOG_CLEAN_SHUTDOWN_FILE))) goto err_free_bases;
    bool clean = st_fs_exists(marker);
    log->clean_marker_on_disk = clean;
    int64_t start = 0, recovery_point = 0;
    bool start_read = st_checkpoint_read_offset(dir, ST_CHECKPOINT_LOG_START, &start) == 0 && start >= 0;
    if (!start_read) start = 0;
    /* A missing or unreadable recovery point means: recover everything. */
    bool recovery_point_read =
        st_checkpoint_read_offset(dir, ST_CHECKPOINT_RECOVERY_POINT, &recovery_point) == 0 && recovery_point >= 0;
    if (!recovery_point_read) recovery_point = 0;
    log->recovery_point = recovery_point;
    /* After a clean shutdown what was read is durable: st_log_close makes
     * every checkpoint durable before it writes the marker. After an unclean
     * one a checkpoint may have been renamed into place without the
     * directory fsync that follows, and the segments may hold writes that
     * never reached the disk: everything is fsynced and rewritten once, as
     * before the marker was kept lazily. */
    /* A missing recovery-point or log-start-offset file reads as 0 (a new
     * log writes neither until its value leaves 0), so after a clean
     * shutdown 0 is what the disk says: an open and close of such a log
     * writes nothing (a start that fails after opening it leaves it as is). */
    log->recovery_point_on_disk = clean ? (recovery_point_read ? recovery_point : 0) : -1;
    log->start_offset_on_disk = clean ? (start_read ? start : 0) : -1;
    log->unsynced = !clean;
    if (count == 0 && !start_read && !recovery_point_read) {
        /* A brand-new partition: nothing to recover and nothing to make
         * durable yet. Missing checkpoints read as 0, which is what they
         * would say, so creating a topic costs no fsync per partition (the
         * metadata log that records the topic is fsynced). */
        log->recovery_point_on_disk = 0;
        log->start_offset_on_disk = 0;
        log->unsynced = false;
    }
    if (st_checkpoint_read_epochs(dir, &log->epochs, &log->epoch_count) == 0) log->epoch_cap = log->epoch_count;

    if (count == 0) {
        st_segment_t *seg;
        if ((rc = st_segment_create(log->dir, start, cfg->index_bytes_max, now_ms, &seg))) goto err_free_bases;
        if ((rc = log_push_segment(log, seg))) {
            st_segment_close(seg);
            goto err_free_bases;
        }
    } else {
        if (!clean) report_unclean(log, bases, count, recovery_point_read);
        if ((rc = load_segments(log, bases, count, clean, now_ms))) goto err_close_segments;
    }
    free(bases);
    bases = NULL;

    log->end_offset = log_active(log)->next_offset;
    log->start_offset = start > log->segments[0]->base_offset ? start : log->segments[0]->base_offset;
    if (log->start_offset > log->end_offset) {
        /* The tail below the start offset was lost: start afresh there. */
        if ((rc = log_restart_at(log, log->start_offset, now_ms))) goto err_close_segments;
        log->txn_rebuild_needed = false;
    }
    if (log->txn_rebuild_needed && (rc = rebuild_txn_indexes(log, now_ms))) goto err_close_segments;
    bool epochs_changed = log_epochs_truncate_from_end(log, log->end_offset + 1);
    epochs_changed |= log_epochs_truncate_from_start(log, log->start_offset);
    if (epochs_changed && (rc = log_epochs_persist(log))) goto err_close_segments;
    /* The marker stays until the first write (log_begin_write): a log that is
     * opened and closed again without changes is still clean. */
    log->last_flush_ms = now_ms;
    /* Everything recovered is valid; make it durable so the recovery point
     * can move to the end (nothing to do after a clean shutdown). */
    if ((rc = st_log_flush(log))) goto err_close_segments;
    if ((rc = log_delete_below_start(log, now_ms)) < 0) goto err_close_segments;
    *out = log;
    return 0;

err_close_segments:
    saved_errno = errno;
    log_close_segments(log);
    errno = saved_errno;
err_free_bases:
    free(bases);
err_free_log:
    saved_errno = errno;
    if (rc == ST_ERR_IO)
        ST_ERROR("%s: opening the log failed: %s (errno %d)", dir, strerror(saved_errno), saved_errno);
    else
        ST_ERROR("%s: opening the log failed: %s", dir, st_err_name(rc));
    free(log->segments);
    free(log->epochs);
    free(log->dir);
    free(log);
    return rc;
}

void st_log_close(st_log_t *log) {
    if (!log) return;
    if (!log->failed) {
        /* Clean shutdown: trimmed indexes, everything fsynced, recovery
         * point at the end, then the marker that lets the next open skip
         * rescanning. Each step is skipped when the disk already holds it,
         * so a log that was not written since a clean open costs no fsync.
         * The log_active segment's indexes need no fsync of their own: the next
         * open checks them against the .log (st_segment_verify) whatever the
         * marker says, and rebuilds them when they disagree. */
        int rc = st_segment_make_inactive(log_active(log));
        if (rc == 0) rc = st_log_flush(log);
        if (rc == 0) rc = log_persist_start_offset(log);
        if (rc == 0 && !log->clean_marker_on_disk)
            rc = st_fs_write_atomic(log->dir, ST_LOG_CLEAN_SHUTDOWN_FILE, "", 0);
        (void)rc; /* without the marker, the next open recovers */
    }
    log_close_segments(log);
    free(log->segments);
    free(log->epochs);
    free(log->dir);
    free(log);
}

