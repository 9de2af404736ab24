#include "storage/log_internal.h"

#include "common/limits.h"

_Static_assert(ST_CONFIG_MIN_LOG_SEGMENT_BYTES >= ST_LOG_SEGMENT_BYTES_FLOOR,
               "every segment size the configuration accepts, a log accepts");

void st_log_config_default(st_log_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->segment_bytes = ST_CONFIG_DEFAULT_LOG_SEGMENT_BYTES;
    cfg->segment_ms = 604800000;
    cfg->index_interval_bytes = 4096;
    cfg->drop_behind_bytes = ST_LOG_DROP_BEHIND_BYTES_DEFAULT;
    cfg->index_bytes_max = 10485760;
    cfg->retention_ms = 604800000;
    cfg->retention_bytes = -1;
    cfg->cleanup_delete = true;
    cfg->cleanup_compact = false;
    cfg->delete_retention_ms = 86400000;
    cfg->min_compaction_lag_ms = 0;
    cfg->max_compaction_lag_ms = INT64_MAX;
    cfg->min_cleanable_dirty_ratio = 0.5;
    cfg->flush_messages = INT64_MAX;
    cfg->flush_ms = INT64_MAX;
    cfg->decompressed_bytes_max = 64u << 20;
}

bool log_config_valid(const st_log_config_t *cfg) {
    return cfg->segment_bytes >= ST_LOG_SEGMENT_BYTES_FLOOR && cfg->segment_bytes <= INT32_MAX &&
           cfg->segment_ms >= 1 && cfg->index_interval_bytes >= 0 &&
           cfg->index_bytes_max >= ST_LOG_INDEX_BYTES_MIN && cfg->retention_ms >= -1 &&
           cfg->retention_bytes >= -1 && cfg->delete_retention_ms >= 0 && cfg->min_compaction_lag_ms >= 0 &&
           cfg->max_compaction_lag_ms >= 1 && cfg->min_cleanable_dirty_ratio >= 0 &&
           cfg->min_cleanable_dirty_ratio <= 1 &&
           cfg->flush_messages >= 1 && cfg->flush_ms >= 0 && cfg->decompressed_bytes_max > 0;
}

st_segment_t *log_active(const st_log_t *log) { return log->segments[log->segment_count - 1]; }

static bool is_space_errno(int e) { return e == ENOSPC || e == EDQUOT; }

/*
 * The log refuses writes after an I/O error (STYLE 8), with one ERROR line
 * naming the errno, not one per refused write. A write refused for lack of
 * space changed nothing that memory does not know about (the failed write's
 * partial bytes are cut), so a re-check of the tail ends it (log_leave_failed);
 * anything else (an fsync error, after which the page cache cannot be
 * trusted, EIO, a segment list that no longer matches the disk) lasts until
 * the log is reopened and recovered from disk. Call right after the failing
 * call: errno is read first.
 */
int log_fail_as(st_log_t *log, bool for_good, const char *fmt, ...) {
    int e = errno;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    bool was_for_good = log->failed_for_good;
    log->failed = true;
    log->failed_errno = e;
    if (for_good || !is_space_errno(e)) log->failed_for_good = true;
    if (!log->failure_reported || (log->failed_for_good && !was_for_good)) {
        ST_ERROR("%s: %s failed: %s (errno %d); the log refuses writes (KAFKA_STORAGE_ERROR) %s", log->dir, what,
                 strerror(e), e,
                 log->failed_for_good ? "until the broker restarts and recovers it from disk"
                                      : "until space is free: its tail is re-checked from disk at the next write");
        log->failure_reported = true;
    }
    return ST_ERR_KAFKA_STORAGE_ERROR;
}


segment_name_t log_segment_name(int64_t base) {
    segment_name_t n;
    snprintf(n.text, sizeof n.text, "%020" PRId64 ".log", base);
    return n;
}

/*
 * FAILED -> WRITABLE after a full disk (SQLite's pager leaves its ERROR
 * state the same way: only after re-reading what is on disk). The log_active
 * segment's tail must be exactly what memory says was written: the bytes a
 * failed write left are cut, the header chain and the last batch's CRC are
 * checked (st_segment_recheck_tail). Nothing else can be out of step: every
 * other write that can fail for lack of space either completed or changed
 * nothing (checkpoints are replaced atomically, a segment is listed only
 * once its file exists). At most every LOG_FAILED_RECHECK_INTERVAL_MS.
 */
int log_leave_failed(st_log_t *log, int64_t now_ms) {
    if (!log->failed) return 0;
    if (log->failed_for_good) return ST_ERR_KAFKA_STORAGE_ERROR;
    if (log->last_recheck_ms != INT64_MIN && now_ms >= log->last_recheck_ms &&
        now_ms - log->last_recheck_ms < LOG_FAILED_RECHECK_INTERVAL_MS)
        return ST_ERR_KAFKA_STORAGE_ERROR;
    log->last_recheck_ms = now_ms;
    st_segment_t *seg = log_active(log);
    int rc = st_segment_recheck_tail(seg);
    if (rc == ST_ERR_CORRUPT) {
        log->failed_for_good = true;
        ST_ERROR("%s: after the failed write, %s does not end with what was written (%" PRId64 " bytes, last offset %"
                 PRId64 "); the log refuses writes (KAFKA_STORAGE_ERROR) until the broker restarts and recovers it"
                 " from disk", log->dir, log_segment_name(seg->base_offset).text, seg->size_bytes, seg->next_offset - 1);
        return ST_ERR_KAFKA_STORAGE_ERROR;
    }
    if (rc) return fail_for_good(log, "re-checking the tail of %s", log_segment_name(seg->base_offset).text);
    log->failed = false;
    return 0;
}

/* A good write after a reported failure ends the episode with one line. */
static void report_writes_resumed(st_log_t *log) {
    if (!log->failure_reported) return;
    ST_INFO("%s: writes succeed again after \"%s\" (errno %d): the tail was re-checked from disk; %" PRId64
            " write(s) were refused meanwhile", log->dir, strerror(log->failed_errno), log->failed_errno,
            log->refused_writes);
    log->failure_reported = false;
    log->refused_writes = 0;
}

/* The refusal of a write while FAILED (counted for the closing line). */
int log_refuse(st_log_t *log) {
    log->refused_writes++;
    return ST_ERR_KAFKA_STORAGE_ERROR;
}

/* Called before anything changes a segment file (append, log_roll, truncation,
 * deletion, compaction, repairs at open). The clean-shutdown marker tells
 * the next open that every segment is whole and fsynced, so it must be
 * gone, durably, before a tail can tear; a log opened clean and never
 * written keeps it and is still clean at the next open. */
int log_begin_write(st_log_t *log) {
    if (log->clean_marker_on_disk) {
        char marker[ST_FS_PATH_MAX];
        if (st_fs_path(marker, "%s/%s", log->dir, ST_LOG_CLEAN_SHUTDOWN_FILE) || st_fs_unlink(marker) ||
            st_fs_fsync_dir(log->dir))
            return ST_ERR_IO;
        log->clean_marker_on_disk = false;
    }
    log->unsynced = true;
    return 0;
}

/* The log_active segment opened after a clean shutdown keeps read-only
 * indexes until it is first written (no ftruncate or mmap of a 10 MB index
 * for a partition that is only read). */
int log_make_writable(st_log_t *log) {
    return st_segment_make_active(log_active(log), log->cfg.index_bytes_max);
}

/* Checkpoint writes that skip a value the file already holds. The cached
 * value is forgotten first, so a failed write is retried next time. */

/* The recovery point on disk says everything below it is durable, the
 * leader epochs of those batches included: epochs go first. */
static int persist_recovery_point(st_log_t *log) {
    if (log->epochs_unsynced && log_epochs_persist(log)) return ST_ERR_IO;
    if (log->recovery_point == log->recovery_point_on_disk) return 0;
    log->recovery_point_on_disk = -1;
    if (st_checkpoint_write_offset(log->dir, ST_CHECKPOINT_RECOVERY_POINT, log->recovery_point)) return ST_ERR_IO;
    log->recovery_point_on_disk = log->recovery_point;
    return 0;
}

/* A checkpoint write failed where an older value on disk is safe (see the
 * callers): reported once per run of failures, retried by the next write of
 * that checkpoint. */
void log_report_checkpoint_failure(st_log_t *log, const char *name) {
    int e = errno;
    if (strcmp(name, ST_CHECKPOINT_LEADER_EPOCH) == 0) log->epochs_unsynced = true;
    if (!log->checkpoint_failing)
        ST_WARN("%s: writing the %s checkpoint failed: %s (errno %d); the one on disk stays, which is safe, and the"
                " write is retried", log->dir, name, strerror(e), e);
    log->checkpoint_failing = true;
}

/* The recovery point (with the leader epochs it covers) only saves
 * recovery work: a lower value on disk makes recovery scan more, never
 * less. So a failed write does not fail the log. */
static void persist_recovery_point_or_defer(st_log_t *log) {
    if (persist_recovery_point(log) == 0) {
        log->checkpoint_failing = false;
        return;
    }
    log_report_checkpoint_failure(log, ST_CHECKPOINT_RECOVERY_POINT);
}

int log_persist_start_offset(st_log_t *log) {
    if (log->start_offset == log->start_offset_on_disk) return 0;
    log->start_offset_on_disk = -1;
    if (st_checkpoint_write_offset(log->dir, ST_CHECKPOINT_LOG_START, log->start_offset)) return ST_ERR_IO;
    log->start_offset_on_disk = log->start_offset;
    return 0;
}

int log_push_segment(st_log_t *log, st_segment_t *seg) {
    if (log->segment_count == log->segment_cap) {
        int32_t cap = log->segment_cap ? log->segment_cap * 2 : 4;
        st_segment_t **ns = realloc(log->segments, (size_t)cap * sizeof *ns);
        if (!ns) return ST_ERR_NO_MEMORY;
        log->segments = ns;
        log->segment_cap = cap;
    }
    log->segments[log->segment_count++] = seg;
    return 0;
}

void log_remove_segment_at(st_log_t *log, int32_t i) {
    memmove(&log->segments[i], &log->segments[i + 1], (size_t)(log->segment_count - i - 1) * sizeof *log->segments);
    log->segment_count--;
}

/* Index of the segment with the largest base offset <= offset, or 0. */
static int32_t segment_for(const st_log_t *log, int64_t offset) {
    int32_t lo = 0, hi = log->segment_count - 1, found = 0;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (log->segments[mid]->base_offset <= offset) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

/* ---- leader epochs (Kafka's LeaderEpochFileCache) ----------------------- */

int log_epochs_persist(st_log_t *log) {
    if (st_checkpoint_write_epochs(log->dir, log->epochs, log->epoch_count)) return ST_ERR_IO;
    log->epochs_unsynced = false;
    return 0;
}

/* Drops entries with start offset >= offset. */
bool log_epochs_truncate_from_end(st_log_t *log, int64_t offset) {
    int32_t n = log->epoch_count;
    while (n > 0 && log->epochs[n - 1].start_offset >= offset) n--;
    bool changed = n != log->epoch_count;
    log->epoch_count = n;
    return changed;
}

/* Entries wholly below offset go; the last of them now starts at offset. */
bool log_epochs_truncate_from_start(st_log_t *log, int64_t offset) {
    int32_t below = 0;
    while (below < log->epoch_count && log->epochs[below].start_offset < offset) below++;
    if (below == 0) return false;
    bool keep_last = below == log->epoch_count || log->epochs[below].start_offset > offset;
    int32_t drop = keep_last ? below - 1 : below;
    memmove(log->epochs, log->epochs + drop, (size_t)(log->epoch_count - drop) * sizeof *log->epochs);
    log->epoch_count -= drop;
    if (keep_last) log->epochs[0].start_offset = offset;
    return true;
}

int32_t st_log_latest_epoch(const st_log_t *log) {
    return log->epoch_count ? log->epochs[log->epoch_count - 1].epoch : -1;
}

/* Kafka's LeaderEpochFileCache.assign, in memory. */
static int epochs_assign(st_log_t *log, int32_t epoch, int64_t start_offset) {
    if (log->epoch_count > 0) {
        const st_epoch_entry_t *last = &log->epochs[log->epoch_count - 1];
        if (last->epoch == epoch && start_offset >= last->start_offset) return 0;
    }
    /* Remove conflicting entries: any with epoch >= epoch or start offset
     * >= start_offset (Kafka's assign). */
    while (log->epoch_count > 0 && (log->epochs[log->epoch_count - 1].epoch >= epoch ||
                                    log->epochs[log->epoch_count - 1].start_offset >= start_offset))
        log->epoch_count--;
    if (log->epoch_count == log->epoch_cap) {
        int32_t cap = log->epoch_cap ? log->epoch_cap * 2 : 4;
        if (cap > ST_CHECKPOINT_EPOCHS_MAX) {
            /* Bounded: forget the oldest (only the newest matter for
             * truncation decisions). */
            memmove(log->epochs, log->epochs + 1, (size_t)(log->epoch_count - 1) * sizeof *log->epochs);
            log->epoch_count--;
        } else {
            st_epoch_entry_t *ne = realloc(log->epochs, (size_t)cap * sizeof *ne);
            if (!ne) return ST_ERR_NO_MEMORY;
            log->epochs = ne;
            log->epoch_cap = cap;
        }
    }
    log->epochs[log->epoch_count++] = (st_epoch_entry_t){.epoch = epoch, .start_offset = start_offset};
    log->epochs_unsynced = true;
    return 0;
}

/* The checkpoint is written at the next flush or log_roll, not now: an fsync
 * per new epoch would stall the first append of every partition. */
int st_log_assign_epoch(st_log_t *log, int32_t epoch, int64_t start_offset) {
    if (epoch < 0 || start_offset < 0) return ST_ERR_INVALID_REQUEST;
    if (log->failed) return log_refuse(log);
    return epochs_assign(log, epoch, start_offset);
}

/* Recovery hands over each batch it keeps (st_segment_recover's scan):
 * epochs the checkpoint may not have seen if the process died before the
 * next flush. */
int log_epoch_from_recovered_batch(void *ctx, const st_batch_header_t *h) {
    st_log_t *log = ctx;
    if ((h->attributes & ST_BATCH_ATTR_CONTROL) && h->producer_id >= 0) log->txn_rebuild_needed = true;
    if (h->partition_leader_epoch < 0 || h->partition_leader_epoch <= st_log_latest_epoch(log)) return 0;
    return epochs_assign(log, h->partition_leader_epoch, h->base_offset);
}

void st_log_end_offset_for_epoch(const st_log_t *log, int32_t epoch, int32_t *epoch_out, int64_t *end_offset_out) {
    *epoch_out = -1;
    *end_offset_out = -1;
    if (epoch < 0 || log->epoch_count == 0) return;
    if (epoch == st_log_latest_epoch(log)) {
        *epoch_out = epoch;
        *end_offset_out = log->end_offset;
        return;
    }
    int32_t higher = -1, floor = -1;
    for (int32_t i = 0; i < log->epoch_count; i++) {
        if (log->epochs[i].epoch <= epoch) floor = i;
        if (log->epochs[i].epoch > epoch && higher < 0) higher = i;
    }
    if (higher < 0) return; /* above every known epoch */
    *epoch_out = floor < 0 ? epoch : log->epochs[floor].epoch;
    *end_offset_out = log->epochs[higher].start_offset;
}
int log_finish_swap(const char *dir, int64_t base) {
    char from[ST_FS_PATH_MAX], to[ST_FS_PATH_MAX];
    if (st_segment_path(to, dir, base, ".index") || st_fs_unlink(to)) return ST_ERR_IO;
    if (st_segment_path(to, dir, base, ".timeindex") || st_fs_unlink(to)) return ST_ERR_IO;
    /* The compacted transaction index goes in before the .log: once the
     * .log.swap is renamed, nothing says which index belonged to it. */
    if (st_segment_path(from, dir, base, ".txnindex.swap") || st_segment_path(to, dir, base, ST_TXN_INDEX_SUFFIX))
        return ST_ERR_IO;
    if (st_fs_exists(from) && rename(from, to) != 0) return ST_ERR_IO;
    if (st_segment_path(from, dir, base, ".log.swap") || st_segment_path(to, dir, base, ".log")) return ST_ERR_IO;
    if (rename(from, to) != 0) return ST_ERR_IO;
    return st_fs_fsync_dir(dir);
}

/* Removes leftovers, finishes swaps and lists segment bases (sorted,
 * malloc()ed). */
void log_close_segments(st_log_t *log) {
    for (int32_t i = 0; i < log->segment_count; i++) st_segment_close(log->segments[i]);
    log->segment_count = 0;
}

static int delete_segments_from(st_log_t *log, int32_t from) {
    int rc = 0;
    while (log->segment_count > from) {
        if (st_segment_delete(log->segments[log->segment_count - 1])) rc = ST_ERR_IO;
        log->segment_count--;
    }
    return rc;
}

/* Replaces every segment with one empty segment at `offset`. */
int log_restart_at(st_log_t *log, int64_t offset, int64_t now_ms) {
    if (log_begin_write(log) || delete_segments_from(log, 0)) return ST_ERR_IO;
    st_segment_t *seg;
    if (st_segment_create(log->dir, offset, log->cfg.index_bytes_max, now_ms, &seg)) return ST_ERR_IO;
    if (log_push_segment(log, seg)) {
        st_segment_close(seg);
        return ST_ERR_NO_MEMORY;
    }
    log->end_offset = offset;
    if (log->recovery_point > offset) log->recovery_point = offset;
    return 0;
}

/* One WARN line per cut (Kafka's "Found invalid messages in log segment"):
 * which file, where, why, how many bytes went and how many stayed, and
 * what it means for the offsets. */
int st_log_set_config(st_log_t *log, const st_log_config_t *cfg) {
    if (!log_config_valid(cfg)) return ST_ERR_INVALID_CONFIG;
    log->cfg = *cfg;
    return 0;
}

int64_t st_log_start_offset(const st_log_t *log) { return log->start_offset; }
int64_t st_log_end_offset(const st_log_t *log) { return log->end_offset; }
int64_t st_log_recovery_point(const st_log_t *log) { return log->recovery_point; }
int64_t st_log_active_segment_base(const st_log_t *log) { return log_active(log)->base_offset; }
bool st_log_failed(const st_log_t *log) { return log->failed; }
int32_t st_log_segment_count(const st_log_t *log) { return log->segment_count; }

int64_t st_log_size_bytes(const st_log_t *log) {
    int64_t total = 0;
    for (int32_t i = 0; i < log->segment_count; i++) total += log->segments[i]->size_bytes;
    return total;
}

/* ---- flushing ------------------------------------------------------------ */

/* fsyncs segments holding offsets at or past the recovery point; nothing
 * when no segment file changed since the last fsync and the recovery point
 * is already at the end (a truncation keeps it there but sets unsynced). */
static int flush_segments(st_log_t *log) {
    if (log->unsynced || log->recovery_point < log->end_offset) {
        for (int32_t i = segment_for(log, log->recovery_point); i < log->segment_count; i++)
            if (st_segment_flush(log->segments[i])) return ST_ERR_IO;
    }
    log->unsynced = false;
    log->recovery_point = log->end_offset;
    return 0;
}

int st_log_flush(st_log_t *log) {
    if (log->failed) return log_refuse(log);
    if (flush_segments(log))
        return fail_for_good(log, "fsync of the segments from offset %" PRId64, log->recovery_point);
    persist_recovery_point_or_defer(log);
    return 0;
}

int st_log_maybe_flush(st_log_t *log, int64_t now_ms) {
    if (log_leave_failed(log, now_ms)) return ST_ERR_KAFKA_STORAGE_ERROR;
    if (log->cfg.flush_ms == INT64_MAX || now_ms - log->last_flush_ms < log->cfg.flush_ms) return 0;
    log->last_flush_ms = now_ms;
    if (log->recovery_point == log->end_offset) return 0;
    return st_log_flush(log);
}

/* ---- appending ----------------------------------------------------------- */

/* Starts a new log_active segment at the end offset. The old one is trimmed
 * and fsynced, so the recovery point moves to the new base (Kafka flushes
 * it asynchronously; here it is simply done before the next append). */
int log_roll(st_log_t *log, int64_t now_ms) {
    st_segment_t *old = log_active(log);
    int64_t base = log->end_offset;
    if (log_begin_write(log)) return fail(log, "removing the clean-shutdown marker");
    if (st_segment_make_inactive(old))
        return fail(log, "trimming the indexes of %s", log_segment_name(old->base_offset).text);
    if (st_segment_flush(old)) return fail_for_good(log, "fsync of %s", log_segment_name(old->base_offset).text);
    st_segment_t *seg;
    if (st_segment_create(log->dir, base, log->cfg.index_bytes_max, now_ms, &seg))
        return fail(log, "creating segment %s", log_segment_name(base).text);
    if (log_push_segment(log, seg)) {
        st_segment_close(seg);
        errno = ENOMEM;
        return fail(log, "listing segment %s", log_segment_name(base).text);
    }
    log->recovery_point = base;
    if (st_segment_flush(seg) || st_fs_fsync_dir(log->dir))
        return fail_for_good(log, "fsync of the new segment %s", log_segment_name(base).text);
    persist_recovery_point_or_defer(log);
    if (log->cfg.on_roll) log->cfg.on_roll(log->cfg.on_roll_ctx, base);
    return 0;
}

static bool should_roll(const st_log_t *log, size_t len, int64_t max_timestamp, int64_t offsets, int64_t now_ms) {
    const st_segment_t *seg = log_active(log);
    if (seg->size_bytes == 0) return false;
    if (seg->size_bytes + (int64_t)len > log->cfg.segment_bytes) return true;
    /* Kafka's timeWaitedForRoll: message time since the first batch when
     * timestamps exist, wall time since creation otherwise. */
    int64_t waited = seg->first_batch_timestamp >= 0 && max_timestamp >= 0 ? max_timestamp - seg->first_batch_timestamp
                                                                             : now_ms - seg->created_ms;
    if (waited > log->cfg.segment_ms) return true;
    if (st_offset_index_full(&seg->offset_index) || st_time_index_full(&seg->time_index)) return true;
    /* Relative offsets in the indexes are int32. */
    return log->end_offset + offsets - 1 - seg->base_offset > INT32_MAX;
}

int st_log_append(st_log_t *log, uint8_t *batches, size_t len, int32_t leader_epoch, int64_t now_ms,
                  bool log_append_time, st_log_append_result_t *res) {
    if (log->failed && log_leave_failed(log, now_ms)) return log_refuse(log);
    if (len == 0 || len > INT32_MAX) return ST_ERR_CORRUPT_MESSAGE;
    /* Framing first, so nothing is rewritten unless all of it is sound. */
    int64_t offsets = 0, max_timestamp = -1;
    for (size_t at = 0; at < len;) {
        st_batch_header_t h;
        if (st_batch_header_parse(batches + at, len - at, &h) != 0 || h.last_offset_delta < 0 ||
            (uint64_t)st_batch_total_bytes(&h) > len - at)
            return ST_ERR_CORRUPT_MESSAGE;
        offsets += (int64_t)h.last_offset_delta + 1;
        if (h.max_timestamp > max_timestamp) max_timestamp = h.max_timestamp;
        at += (size_t)st_batch_total_bytes(&h);
    }
    if (log_append_time) max_timestamp = now_ms;
    if (offsets > INT64_MAX - log->end_offset) return ST_ERR_CORRUPT_MESSAGE;
    if (log_begin_write(log)) return fail(log, "removing the clean-shutdown marker");
    if (log_make_writable(log))
        return fail(log, "preparing the indexes of %s", log_segment_name(log_active(log)->base_offset).text);
    if (should_roll(log, len, max_timestamp, offsets, now_ms)) {
        int rc = log_roll(log, now_ms);
        if (rc) return rc;
    }
    int64_t base = log->end_offset, next = base;
    for (size_t at = 0; at < len;) {
        st_batch_header_t h;
        (void)st_batch_header_parse(batches + at, len - at, &h);
        size_t total = (size_t)st_batch_total_bytes(&h);
        st_batch_set_base_offset(batches + at, next);
        st_batch_set_partition_leader_epoch(batches + at, leader_epoch);
        if (log_append_time) st_batch_set_log_append_time(batches + at, total, now_ms);
        next += (int64_t)h.last_offset_delta + 1;
        at += total;
    }
    if (st_segment_append(log_active(log), batches, len, log->cfg.index_interval_bytes, log->cfg.drop_behind_bytes))
        return fail(log, "writing %zu bytes at offset %" PRId64 " to %s", len, base,
                    log_segment_name(log_active(log)->base_offset).text);
    log->end_offset = next;
    if (leader_epoch >= 0 && leader_epoch > st_log_latest_epoch(log)) {
        int rc = st_log_assign_epoch(log, leader_epoch, base);
        if (rc) return rc;
    }
    if (log->end_offset - log->recovery_point >= log->cfg.flush_messages) {
        /* flush.messages: fsync now; the checkpoint file follows at the next
         * st_log_flush (a stale, lower recovery point is always safe). */
        if (flush_segments(log)) return fail_for_good(log, "fsync for flush.messages");
    }
    report_writes_resumed(log);
    res->base_offset = base;
    res->last_offset = next - 1;
    res->log_append_time_ms = log_append_time ? now_ms : -1;
    res->log_start_offset = log->start_offset;
    return 0;
}

int st_log_append_aborted_txn(st_log_t *log, const st_aborted_txn_t *entry) {
    if (log->failed) return log_refuse(log);
    st_segment_t *seg = log_active(log);
    /* The marker was just appended: it lies in the log_active segment. */
    if (entry->last_offset < seg->base_offset || entry->last_offset >= log->end_offset) return ST_ERR_INVALID_RECORD;
    if (st_txn_index_append(&seg->txn_index, entry))
        return fail_for_good(log, "writing the transaction index of %s", log_segment_name(seg->base_offset).text);
    log->unsynced = true;
    return 0;
}

int st_log_collect_aborted_txns(const st_log_t *log, int64_t from_offset, int64_t upper_bound_offset,
                                st_aborted_txns_t *out) {
    for (int32_t i = segment_for(log, from_offset); i < log->segment_count; i++) {
        int rc = st_txn_index_collect(&log->segments[i]->txn_index, from_offset, upper_bound_offset, out);
        if (rc < 0) return rc;
        if (rc == 1) break;
    }
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct read_span {
    int64_t end_position;
    int64_t limit;
} read_span_t;

static int extend_span(void *ctx, const st_batch_header_t *h, int64_t position) {
    read_span_t *span = ctx;
    int64_t end = position + st_batch_total_bytes(h);
    if (end > span->limit) return 1;
    span->end_position = end;
    return 0;
}

int st_log_read_shared(st_log_t *log, int64_t offset, int32_t max_bytes, bool min_one_batch,
                       st_log_shared_read_t *res) {
    res->file = NULL;
    res->file_pos = 0;
    res->len = 0;
    if (offset < log->start_offset || offset > log->end_offset) return ST_ERR_OFFSET_OUT_OF_RANGE;
    if (offset == log->end_offset) return 0;
    for (int32_t i = segment_for(log, offset); i < log->segment_count; i++) {
        st_segment_t *seg = log->segments[i];
        int64_t position;
        st_batch_header_t h;
        int rc = st_segment_find_batch(seg, offset, &position, &h);
        if (rc == ST_ERR_NOT_FOUND) continue;
        if (rc) return rc;
        int64_t first_end = position + st_batch_total_bytes(&h);
        if (first_end - position > max_bytes && !min_one_batch) return 0;
        read_span_t span = {.end_position = first_end, .limit = position + (max_bytes > 0 ? max_bytes : 0)};
        if (span.limit > first_end) {
            rc = st_segment_scan_headers(seg, first_end, extend_span, &span);
            if (rc < 0) return rc;
        }
        res->file = st_segment_share_fd(seg);
        if (!res->file) return ST_ERR_NO_MEMORY;
        res->file_pos = position;
        res->len = (int32_t)(span.end_position - position);
        return 0;
    }
    return 0;
}

int st_log_read(st_log_t *log, int64_t offset, int32_t max_bytes, bool min_one_batch, st_log_read_result_t *res) {
    res->fd = -1;
    res->file_pos = 0;
    res->len = 0;
    st_log_shared_read_t shared;
    int rc = st_log_read_shared(log, offset, max_bytes, min_one_batch, &shared);
    if (rc != 0 || !shared.file) return rc;
    int fd = fcntl(st_file_ref_fd(shared.file), F_DUPFD_CLOEXEC, 0);
    st_file_ref_release(shared.file);
    if (fd < 0) return ST_ERR_IO;
    res->fd = fd;
    res->file_pos = shared.file_pos;
    res->len = shared.len;
    return 0;
}

int st_log_for_each_batch(st_log_t *log, int64_t from_offset, int (*fn)(void *ctx, const uint8_t *batch, size_t len),
                          void *ctx) {
    if (from_offset < log->start_offset) from_offset = log->start_offset;
    if (from_offset >= log->end_offset) return 0;
    for (int32_t i = segment_for(log, from_offset); i < log->segment_count; i++) {
        const st_segment_t *seg = log->segments[i];
        int64_t position;
        st_batch_header_t h;
        int rc = st_segment_find_batch(seg, from_offset, &position, &h);
        if (rc == ST_ERR_NOT_FOUND) continue;
        if (rc) return rc;
        st_segment_reader_t rd;
        st_segment_reader_init(&rd, seg, position);
        const uint8_t *batch;
        size_t len;
        while ((rc = st_segment_reader_next(&rd, &batch, &len, &h)) == 1) {
            rc = fn(ctx, batch, len);
            if (rc) break;
        }
        st_segment_reader_free(&rd);
        if (rc) return rc;
    }
    return 0;
}

int st_log_offset_for_timestamp(st_log_t *log, int64_t ts, int64_t *offset, int64_t *timestamp) {
    for (int32_t i = segment_for(log, log->start_offset); i < log->segment_count; i++) {
        const st_segment_t *seg = log->segments[i];
        if (seg->max_timestamp < ts) continue;
        int rc = st_segment_find_timestamp(seg, ts, log->start_offset, log->cfg.decompressed_bytes_max, offset,
                                           timestamp);
        if (rc != ST_ERR_NOT_FOUND) return rc;
    }
    return ST_ERR_NOT_FOUND;
}

int st_log_max_timestamp(st_log_t *log, int64_t *offset, int64_t *timestamp) {
    const st_segment_t *best = NULL;
    for (int32_t i = segment_for(log, log->start_offset); i < log->segment_count; i++) {
        const st_segment_t *seg = log->segments[i];
        if (seg->max_timestamp >= 0 && (!best || seg->max_timestamp > best->max_timestamp)) best = seg;
    }
    if (!best) return ST_ERR_NOT_FOUND;
    return st_segment_max_timestamp_record(best, log->cfg.decompressed_bytes_max, offset, timestamp);
}

/* ---- truncation and deletion --------------------------------------------- */

int st_log_truncate_to(st_log_t *log, int64_t offset) {
    if (log->failed) return log_refuse(log);
    if (offset < 0) return ST_ERR_OFFSET_OUT_OF_RANGE;
    if (offset >= log->end_offset) return 0;
    if (log_begin_write(log)) return fail(log, "removing the clean-shutdown marker");
    int64_t now_ms = log_active(log)->created_ms;
    /* Any failure below leaves segments that memory no longer describes. */
    if (offset <= log->segments[0]->base_offset || offset < log->start_offset) {
        if (log_restart_at(log, offset, now_ms)) return fail_for_good(log, "restarting the log at offset %" PRId64, offset);
        log->start_offset = offset;
        if (log_persist_start_offset(log)) return fail_for_good(log, "writing %s", ST_CHECKPOINT_LOG_START);
    } else {
        int32_t keep = segment_for(log, offset) + 1;
        if (keep < log->segment_count && log->segments[keep - 1]->base_offset == offset) keep--;
        if (delete_segments_from(log, keep))
            return fail_for_good(log, "deleting the segments from offset %" PRId64, offset);
        st_segment_t *last = log_active(log);
        if (st_segment_truncate_to(last, offset, log->cfg.index_interval_bytes, log->cfg.index_bytes_max) ||
            st_segment_make_active(last, log->cfg.index_bytes_max))
            return fail_for_good(log, "truncating %s to offset %" PRId64, log_segment_name(last->base_offset).text, offset);
        log->end_offset = offset;
    }
    if (log->recovery_point > offset) log->recovery_point = offset;
    if (persist_recovery_point(log)) return fail_for_good(log, "writing %s", ST_CHECKPOINT_RECOVERY_POINT);
    if (log_epochs_truncate_from_end(log, offset + 1) && log_epochs_persist(log))
        return fail_for_good(log, "writing %s", ST_CHECKPOINT_LEADER_EPOCH);
    return 0;
}

int st_log_delete(st_log_t *log) {
    log_close_segments(log);
    int rc = st_fs_remove_dir(log->dir);
    free(log->segments);
    free(log->epochs);
    free(log->dir);
    free(log);
    return rc;
}

