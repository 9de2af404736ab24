#include "storage/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "protocol/errors.h"
#include "protocol/record_batch.h"
#include "storage/checkpoint.h"
#include "storage/cleaner.h"
#include "storage/fsutil.h"
#include "storage/segment.h"
#include "storage/txn_rebuild.h"

#define LOG_SEGMENT_NAME_DIGITS 20
/* A log failed by a full disk re-checks its tail at the next write, but not
 * more often than this: clients retry a refused produce within ~100 ms, and
 * each re-check reads the tail. */
#define LOG_FAILED_RECHECK_INTERVAL_MS 100

struct st_log {
    char *dir;
    st_log_config_t cfg;
    st_segment_t **segments; /* sorted by base offset; the last is active */
    int32_t segment_count;
    int32_t segment_cap;
    int64_t start_offset;
    int64_t end_offset;
    int64_t recovery_point;
    int64_t last_flush_ms;
    st_epoch_entry_t *epochs;
    int32_t epoch_count;
    int32_t epoch_cap;
    /* What the recovery-point and log-start-offset files durably hold, -1
     * when unknown: an unchanged value is not written again, so a log
     * opened and closed without changes costs no fsync. */
    int64_t recovery_point_on_disk;
    int64_t start_offset_on_disk;
    /* The clean-shutdown marker is still on disk: it is removed (durably)
     * by begin_write, before the first change to a segment, not at open. */
    bool clean_marker_on_disk;
    /* The cleaner's checkpoint: segments below it were compacted by the
     * last pass. In memory only, so a restart starts with one full pass. */
    int64_t first_dirty_offset;
    /* When the tombstones the last pass kept may go (delete.retention.ms
     * after their segment's newest record); INT64_MAX when none. */
    int64_t tombstones_due_ms;
    /* Segment files changed since they were last fsynced. */
    bool unsynced;
    /* Leader epochs assigned since the checkpoint was last written: it is
     * written with the recovery point, and recovery reassigns epochs from
     * the batches past the recovery point (Kafka's LogSegment.recover). */
    bool epochs_unsynced;
    /* FAILED (see the header). for_good: only a reopen recovers it; else a
     * full disk, which a re-check of the tail ends (leave_failed). */
    bool failed;
    bool failed_for_good;
    int failed_errno;
    int64_t last_recheck_ms;  /* INT64_MIN: never */
    int64_t refused_writes;   /* while failed, for the line that reports the end */
    bool failure_reported;    /* the ERROR line is out; the INFO line at the next good append closes it */
    bool checkpoint_failing;  /* a checkpoint write failed and was reported */
    /* At open: transaction indexes reset from this segment on, and whether
     * they may have held entries (a marker was recovered, or a reset index
     * was not empty): then st_txn_rebuild_indexes refills them. */
    int32_t txn_rebuild_first;
    bool txn_rebuild_needed;
};

void st_log_config_default(st_log_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->segment_bytes = 1073741824;
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

static bool config_valid(const st_log_config_t *cfg) {
    return cfg->segment_bytes >= ST_LOG_SEGMENT_BYTES_MIN && cfg->segment_bytes <= INT32_MAX &&
           cfg->segment_ms >= 1 && cfg->index_interval_bytes >= 0 &&
           cfg->index_bytes_max >= ST_LOG_INDEX_BYTES_MIN && cfg->retention_ms >= -1 &&
           cfg->retention_bytes >= -1 && cfg->delete_retention_ms >= 0 && cfg->min_compaction_lag_ms >= 0 &&
           cfg->max_compaction_lag_ms >= 1 && cfg->min_cleanable_dirty_ratio >= 0 &&
           cfg->min_cleanable_dirty_ratio <= 1 &&
           cfg->flush_messages >= 1 && cfg->flush_ms >= 0 && cfg->decompressed_bytes_max > 0;
}

static st_segment_t *active(const st_log_t *log) { return log->segments[log->segment_count - 1]; }

static bool is_space_errno(int e) { return e == ENOSPC || e == EDQUOT; }

/*
 * The log refuses writes after an I/O error (STYLE 8), with one ERROR line
 * naming the errno, not one per refused write. A write refused for lack of
 * space changed nothing that memory does not know about (the failed write's
 * partial bytes are cut), so a re-check of the tail ends it (leave_failed);
 * anything else (an fsync error, after which the page cache cannot be
 * trusted, EIO, a segment list that no longer matches the disk) lasts until
 * the log is reopened and recovered from disk. Call right after the failing
 * call: errno is read first.
 */
static int fail_as(st_log_t *log, bool for_good, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_as(st_log_t *log, bool for_good, const char *fmt, ...) {
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
#define fail(log, ...) fail_as((log), false, __VA_ARGS__)
#define fail_for_good(log, ...) fail_as((log), true, __VA_ARGS__)

/* "<20 digits>.log" of a segment, for log lines. */
typedef struct segment_name {
    char text[LOG_SEGMENT_NAME_DIGITS + 8];
} segment_name_t;

static segment_name_t segment_name(int64_t base) {
    segment_name_t n;
    snprintf(n.text, sizeof n.text, "%020" PRId64 ".log", base);
    return n;
}

/*
 * FAILED -> WRITABLE after a full disk (SQLite's pager leaves its ERROR
 * state the same way: only after re-reading what is on disk). The active
 * segment's tail must be exactly what memory says was written: the bytes a
 * failed write left are cut, the header chain and the last batch's CRC are
 * checked (st_segment_recheck_tail). Nothing else can be out of step: every
 * other write that can fail for lack of space either completed or changed
 * nothing (checkpoints are replaced atomically, a segment is listed only
 * once its file exists). At most every LOG_FAILED_RECHECK_INTERVAL_MS.
 */
static int leave_failed(st_log_t *log, int64_t now_ms) {
    if (!log->failed) return 0;
    if (log->failed_for_good) return ST_ERR_KAFKA_STORAGE_ERROR;
    if (log->last_recheck_ms != INT64_MIN && now_ms >= log->last_recheck_ms &&
        now_ms - log->last_recheck_ms < LOG_FAILED_RECHECK_INTERVAL_MS)
        return ST_ERR_KAFKA_STORAGE_ERROR;
    log->last_recheck_ms = now_ms;
    st_segment_t *seg = active(log);
    int rc = st_segment_recheck_tail(seg);
    if (rc == ST_ERR_CORRUPT) {
        log->failed_for_good = true;
        ST_ERROR("%s: after the failed write, %s does not end with what was written (%" PRId64 " bytes, last offset %"
                 PRId64 "); the log refuses writes (KAFKA_STORAGE_ERROR) until the broker restarts and recovers it"
                 " from disk", log->dir, segment_name(seg->base_offset).text, seg->size_bytes, seg->next_offset - 1);
        return ST_ERR_KAFKA_STORAGE_ERROR;
    }
    if (rc) return fail_for_good(log, "re-checking the tail of %s", segment_name(seg->base_offset).text);
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
static int refuse(st_log_t *log) {
    log->refused_writes++;
    return ST_ERR_KAFKA_STORAGE_ERROR;
}

/* Called before anything changes a segment file (append, roll, truncation,
 * deletion, compaction, repairs at open). The clean-shutdown marker tells
 * the next open that every segment is whole and fsynced, so it must be
 * gone, durably, before a tail can tear; a log opened clean and never
 * written keeps it and is still clean at the next open. */
static int begin_write(st_log_t *log) {
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

/* The active segment opened after a clean shutdown keeps read-only
 * indexes until it is first written (no ftruncate or mmap of a 10 MB index
 * for a partition that is only read). */
static int make_writable(st_log_t *log) {
    return st_segment_make_active(active(log), log->cfg.index_bytes_max);
}

/* Checkpoint writes that skip a value the file already holds. The cached
 * value is forgotten first, so a failed write is retried next time. */
static int epochs_persist(st_log_t *log);

/* The recovery point on disk says everything below it is durable, the
 * leader epochs of those batches included: epochs go first. */
static int persist_recovery_point(st_log_t *log) {
    if (log->epochs_unsynced && epochs_persist(log)) return ST_ERR_IO;
    if (log->recovery_point == log->recovery_point_on_disk) return 0;
    log->recovery_point_on_disk = -1;
    if (st_checkpoint_write_offset(log->dir, ST_CHECKPOINT_RECOVERY_POINT, log->recovery_point)) return ST_ERR_IO;
    log->recovery_point_on_disk = log->recovery_point;
    return 0;
}

/* A checkpoint write failed where an older value on disk is safe (see the
 * callers): reported once per run of failures, retried by the next write of
 * that checkpoint. */
static void report_checkpoint_failure(st_log_t *log, const char *name) {
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
    report_checkpoint_failure(log, ST_CHECKPOINT_RECOVERY_POINT);
}

static int persist_start_offset(st_log_t *log) {
    if (log->start_offset == log->start_offset_on_disk) return 0;
    log->start_offset_on_disk = -1;
    if (st_checkpoint_write_offset(log->dir, ST_CHECKPOINT_LOG_START, log->start_offset)) return ST_ERR_IO;
    log->start_offset_on_disk = log->start_offset;
    return 0;
}

static int push_segment(st_log_t *log, st_segment_t *seg) {
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

static void remove_segment_at(st_log_t *log, int32_t i) {
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

static int epochs_persist(st_log_t *log) {
    if (st_checkpoint_write_epochs(log->dir, log->epochs, log->epoch_count)) return ST_ERR_IO;
    log->epochs_unsynced = false;
    return 0;
}

/* Drops entries with start offset >= offset. */
static bool epochs_truncate_from_end(st_log_t *log, int64_t offset) {
    int32_t n = log->epoch_count;
    while (n > 0 && log->epochs[n - 1].start_offset >= offset) n--;
    bool changed = n != log->epoch_count;
    log->epoch_count = n;
    return changed;
}

/* Entries wholly below offset go; the last of them now starts at offset. */
static bool epochs_truncate_from_start(st_log_t *log, int64_t offset) {
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

/* The checkpoint is written at the next flush or roll, not now: an fsync
 * per new epoch would stall the first append of every partition. */
int st_log_assign_epoch(st_log_t *log, int32_t epoch, int64_t start_offset) {
    if (epoch < 0 || start_offset < 0) return ST_ERR_INVALID_REQUEST;
    if (log->failed) return refuse(log);
    return epochs_assign(log, epoch, start_offset);
}

/* Recovery hands over each batch it keeps (st_segment_recover's scan):
 * epochs the checkpoint may not have seen if the process died before the
 * next flush. */
static int epoch_from_recovered_batch(void *ctx, const st_batch_header_t *h) {
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
static int finish_swap(const char *dir, int64_t base) {
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
                    rc = finish_swap(dir, base);
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

static void close_segments(st_log_t *log) {
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
static int restart_at(st_log_t *log, int64_t offset, int64_t now_ms) {
    if (begin_write(log) || delete_segments_from(log, 0)) return ST_ERR_IO;
    st_segment_t *seg;
    if (st_segment_create(log->dir, offset, log->cfg.index_bytes_max, now_ms, &seg)) return ST_ERR_IO;
    if (push_segment(log, seg)) {
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
 * active segment (verified without writing after a clean shutdown), any
 * segment whose indexes fail the load checks (loadSegmentFiles'
 * sanityCheck: missing, not whole, past the .log's end, as for a truncated
 * file), and any segment whose .log was written after its indexes, which
 * only happens when something other than this log wrote it (checked, then
 * trusted again). The difference: a segment found damaged is cut at its
 * last whole valid batch and every later segment is kept. Kafka drops the
 * later unflushed segments because a torn write may precede them; here a
 * segment is fsynced before the next one is created (roll), so a later
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
        if ((rc = push_segment(log, seg))) {
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
                                epoch_from_recovered_batch, log, &rec);
        if (rc) break;
        rebuilt[i] = true;
        if (rec.truncated_bytes > 0) {
            report_cut(log, seg, &rec, last, next_base, log->segment_count - 1 - i);
            /* The .log changed: it has to reach the disk before the next
             * clean marker does. */
            if ((rc = begin_write(log))) break;
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
    /* The active segment's end is known only now: an entry at or past it
     * is damage the clean marker cannot rule out (the index is written
     * after the .log). */
    st_txn_index_t *last_ix = &active(log)->txn_index;
    int32_t n = st_txn_index_count(last_ix);
    if (rc == 0 && log->txn_rebuild_first < 0 && n > 0 &&
        st_txn_index_entry(last_ix, n - 1)->last_offset >= active(log)->next_offset) {
        log->txn_rebuild_first = log->segment_count - 1;
        log->txn_rebuild_needed = true;
        if (st_txn_index_reset(last_ix)) rc = ST_ERR_IO;
    }
    /* The active segment's indexes become writable at its first append
     * (make_writable), or already are when it was rebuilt. Rebuilt inactive
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

static int delete_below_start(st_log_t *log, int64_t now_ms);

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
    if (!config_valid(cfg)) return ST_ERR_INVALID_CONFIG;
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
        if ((rc = push_segment(log, seg))) {
            st_segment_close(seg);
            goto err_free_bases;
        }
    } else {
        if (!clean) report_unclean(log, bases, count, recovery_point_read);
        if ((rc = load_segments(log, bases, count, clean, now_ms))) goto err_close_segments;
    }
    free(bases);
    bases = NULL;

    log->end_offset = active(log)->next_offset;
    log->start_offset = start > log->segments[0]->base_offset ? start : log->segments[0]->base_offset;
    if (log->start_offset > log->end_offset) {
        /* The tail below the start offset was lost: start afresh there. */
        if ((rc = restart_at(log, log->start_offset, now_ms))) goto err_close_segments;
        log->txn_rebuild_needed = false;
    }
    if (log->txn_rebuild_needed && (rc = rebuild_txn_indexes(log, now_ms))) goto err_close_segments;
    bool epochs_changed = epochs_truncate_from_end(log, log->end_offset + 1);
    epochs_changed |= epochs_truncate_from_start(log, log->start_offset);
    if (epochs_changed && (rc = epochs_persist(log))) goto err_close_segments;
    /* The marker stays until the first write (begin_write): a log that is
     * opened and closed again without changes is still clean. */
    log->last_flush_ms = now_ms;
    /* Everything recovered is valid; make it durable so the recovery point
     * can move to the end (nothing to do after a clean shutdown). */
    if ((rc = st_log_flush(log))) goto err_close_segments;
    if ((rc = delete_below_start(log, now_ms)) < 0) goto err_close_segments;
    *out = log;
    return 0;

err_close_segments:
    saved_errno = errno;
    close_segments(log);
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
         * The active segment's indexes need no fsync of their own: the next
         * open checks them against the .log (st_segment_verify) whatever the
         * marker says, and rebuilds them when they disagree. */
        int rc = st_segment_make_inactive(active(log));
        if (rc == 0) rc = st_log_flush(log);
        if (rc == 0) rc = persist_start_offset(log);
        if (rc == 0 && !log->clean_marker_on_disk)
            rc = st_fs_write_atomic(log->dir, ST_LOG_CLEAN_SHUTDOWN_FILE, "", 0);
        (void)rc; /* without the marker, the next open recovers */
    }
    close_segments(log);
    free(log->segments);
    free(log->epochs);
    free(log->dir);
    free(log);
}

int st_log_set_config(st_log_t *log, const st_log_config_t *cfg) {
    if (!config_valid(cfg)) return ST_ERR_INVALID_CONFIG;
    log->cfg = *cfg;
    return 0;
}

int64_t st_log_start_offset(const st_log_t *log) { return log->start_offset; }
int64_t st_log_end_offset(const st_log_t *log) { return log->end_offset; }
int64_t st_log_recovery_point(const st_log_t *log) { return log->recovery_point; }
int64_t st_log_active_segment_base(const st_log_t *log) { return active(log)->base_offset; }
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
    if (log->failed) return refuse(log);
    if (flush_segments(log))
        return fail_for_good(log, "fsync of the segments from offset %" PRId64, log->recovery_point);
    persist_recovery_point_or_defer(log);
    return 0;
}

int st_log_maybe_flush(st_log_t *log, int64_t now_ms) {
    if (leave_failed(log, now_ms)) return ST_ERR_KAFKA_STORAGE_ERROR;
    if (log->cfg.flush_ms == INT64_MAX || now_ms - log->last_flush_ms < log->cfg.flush_ms) return 0;
    log->last_flush_ms = now_ms;
    if (log->recovery_point == log->end_offset) return 0;
    return st_log_flush(log);
}

/* ---- appending ----------------------------------------------------------- */

/* Starts a new active segment at the end offset. The old one is trimmed
 * and fsynced, so the recovery point moves to the new base (Kafka flushes
 * it asynchronously; here it is simply done before the next append). */
static int roll(st_log_t *log, int64_t now_ms) {
    st_segment_t *old = active(log);
    int64_t base = log->end_offset;
    if (begin_write(log)) return fail(log, "removing the clean-shutdown marker");
    if (st_segment_make_inactive(old))
        return fail(log, "trimming the indexes of %s", segment_name(old->base_offset).text);
    if (st_segment_flush(old)) return fail_for_good(log, "fsync of %s", segment_name(old->base_offset).text);
    st_segment_t *seg;
    if (st_segment_create(log->dir, base, log->cfg.index_bytes_max, now_ms, &seg))
        return fail(log, "creating segment %s", segment_name(base).text);
    if (push_segment(log, seg)) {
        st_segment_close(seg);
        errno = ENOMEM;
        return fail(log, "listing segment %s", segment_name(base).text);
    }
    log->recovery_point = base;
    if (st_segment_flush(seg) || st_fs_fsync_dir(log->dir))
        return fail_for_good(log, "fsync of the new segment %s", segment_name(base).text);
    persist_recovery_point_or_defer(log);
    if (log->cfg.on_roll) log->cfg.on_roll(log->cfg.on_roll_ctx, base);
    return 0;
}

static bool should_roll(const st_log_t *log, size_t len, int64_t max_timestamp, int64_t offsets, int64_t now_ms) {
    const st_segment_t *seg = active(log);
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
    if (log->failed && leave_failed(log, now_ms)) return refuse(log);
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
    if (begin_write(log)) return fail(log, "removing the clean-shutdown marker");
    if (make_writable(log))
        return fail(log, "preparing the indexes of %s", segment_name(active(log)->base_offset).text);
    if (should_roll(log, len, max_timestamp, offsets, now_ms)) {
        int rc = roll(log, now_ms);
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
    if (st_segment_append(active(log), batches, len, log->cfg.index_interval_bytes, log->cfg.drop_behind_bytes))
        return fail(log, "writing %zu bytes at offset %" PRId64 " to %s", len, base,
                    segment_name(active(log)->base_offset).text);
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
    if (log->failed) return refuse(log);
    st_segment_t *seg = active(log);
    /* The marker was just appended: it lies in the active segment. */
    if (entry->last_offset < seg->base_offset || entry->last_offset >= log->end_offset) return ST_ERR_INVALID_RECORD;
    if (st_txn_index_append(&seg->txn_index, entry))
        return fail_for_good(log, "writing the transaction index of %s", segment_name(seg->base_offset).text);
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

/* ---- deleting from the start --------------------------------------------- */

/* Deletes the first `n` segments (rolling first when that is all of them)
 * and moves the start offset to the first one left. Returns n or an error. */
static int delete_prefix(st_log_t *log, int32_t n, int64_t now_ms) {
    if (n <= 0) return 0;
    if (begin_write(log)) return fail(log, "removing the clean-shutdown marker");
    if (n >= log->segment_count) {
        n = log->segment_count;
        int rc = roll(log, now_ms);
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
        if (persist_start_offset(log)) report_checkpoint_failure(log, ST_CHECKPOINT_LOG_START);
        if (epochs_truncate_from_start(log, new_start) && epochs_persist(log))
            report_checkpoint_failure(log, ST_CHECKPOINT_LEADER_EPOCH);
    }
    if (rc) {
        errno = first_errno;
        return fail(log, "deleting the segments below offset %" PRId64, new_start);
    }
    return n;
}

/* Segments wholly below the start offset (never the active one). */
static int delete_below_start(st_log_t *log, int64_t now_ms) {
    int32_t n = 0;
    while (n + 1 < log->segment_count && log->segments[n + 1]->base_offset <= log->start_offset) n++;
    return delete_prefix(log, n, now_ms);
}

int st_log_delete_records(st_log_t *log, int64_t offset) {
    if (log->failed) return refuse(log);
    if (offset > log->end_offset || offset < 0) return ST_ERR_OFFSET_OUT_OF_RANGE;
    if (offset <= log->start_offset) return 0;
    int64_t old_start = log->start_offset;
    log->start_offset = offset;
    if (persist_start_offset(log)) {
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
    if (epochs_truncate_from_start(log, offset) && epochs_persist(log))
        report_checkpoint_failure(log, ST_CHECKPOINT_LEADER_EPOCH);
    /* Everything is gone: roll so the old active segment can go too. */
    if (offset == log->end_offset && active(log)->size_bytes > 0) {
        int rc = roll(log, active(log)->created_ms);
        if (rc) return rc;
    }
    int rc = delete_below_start(log, 0);
    return rc < 0 ? rc : 0;
}

int st_log_enforce_retention(st_log_t *log, int64_t now_ms) {
    /* Retention is what frees a full disk: it re-checks a failed log first. */
    if (leave_failed(log, now_ms)) return ST_ERR_KAFKA_STORAGE_ERROR;
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
    if ((rc = delete_below_start(log, now_ms)) < 0) return rc;
    return deleted + rc;
}

/* ---- compaction ---------------------------------------------------------- */

/* Puts the cleaned file in place of segment i (see st_log_compact).
 * ST_ERR_IO (errno set) when it failed before anything changed; a failure
 * after that fails the log. */
static int swap_in(st_log_t *log, int32_t i, const char *cleaned_path, const st_cleaner_result_t *res,
                   int64_t now_ms) {
    if (begin_write(log)) return ST_ERR_IO;
    st_segment_t *seg = log->segments[i];
    int64_t base = seg->base_offset;
    int64_t next_base = log->segments[i + 1]->base_offset;
    int64_t kept_bytes = res->kept_bytes;
    if (kept_bytes == 0 && i > 0) {
        /* Nothing left: drop the segment (reads skip to the next one). */
        if (st_fs_unlink(cleaned_path)) return ST_ERR_IO;
        remove_segment_at(log, i);
        if (st_segment_delete(seg)) return fail(log, "deleting the emptied segment %s", segment_name(base).text);
        return 0;
    }
    char swap_path[ST_FS_PATH_MAX], txn_cleaned[ST_FS_PATH_MAX], txn_swap[ST_FS_PATH_MAX];
    if (st_segment_path(swap_path, log->dir, base, ".log.swap") ||
        st_segment_path(txn_cleaned, log->dir, base, ".txnindex.cleaned") ||
        st_segment_path(txn_swap, log->dir, base, ".txnindex.swap"))
        return ST_ERR_IO;
    /* The cleaned transaction index is durable under its .swap name before
     * the .log.swap appears (finish_swap puts both in place). */
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
    /* From here a crash is finished by the next open (finish_swap). */
    st_segment_close(seg);
    log->segments[i] = NULL;
    int rc = finish_swap(log->dir, base);
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
        remove_segment_at(log, i);
        errno = e;
        return fail_for_good(log, "putting the compacted %s in place", segment_name(base).text);
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
                log->dir, segment_name(base).text, strerror(e), e);
    else
        ST_WARN("%s: compaction of %s stopped: %s; the segment is unchanged", log->dir, segment_name(base).text,
                st_err_name(rc));
}

int st_log_compact(st_log_t *log, int64_t now_ms) { return st_log_compact_below(log, now_ms, INT64_MAX); }

int st_log_compact_below(st_log_t *log, int64_t now_ms, int64_t uncleanable_offset) {
    if (leave_failed(log, now_ms)) return ST_ERR_KAFKA_STORAGE_ERROR;
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

/* ---- truncation and deletion --------------------------------------------- */

int st_log_truncate_to(st_log_t *log, int64_t offset) {
    if (log->failed) return refuse(log);
    if (offset < 0) return ST_ERR_OFFSET_OUT_OF_RANGE;
    if (offset >= log->end_offset) return 0;
    if (begin_write(log)) return fail(log, "removing the clean-shutdown marker");
    int64_t now_ms = active(log)->created_ms;
    /* Any failure below leaves segments that memory no longer describes. */
    if (offset <= log->segments[0]->base_offset || offset < log->start_offset) {
        if (restart_at(log, offset, now_ms)) return fail_for_good(log, "restarting the log at offset %" PRId64, offset);
        log->start_offset = offset;
        if (persist_start_offset(log)) return fail_for_good(log, "writing %s", ST_CHECKPOINT_LOG_START);
    } else {
        int32_t keep = segment_for(log, offset) + 1;
        if (keep < log->segment_count && log->segments[keep - 1]->base_offset == offset) keep--;
        if (delete_segments_from(log, keep))
            return fail_for_good(log, "deleting the segments from offset %" PRId64, offset);
        st_segment_t *last = active(log);
        if (st_segment_truncate_to(last, offset, log->cfg.index_interval_bytes, log->cfg.index_bytes_max) ||
            st_segment_make_active(last, log->cfg.index_bytes_max))
            return fail_for_good(log, "truncating %s to offset %" PRId64, segment_name(last->base_offset).text, offset);
        log->end_offset = offset;
    }
    if (log->recovery_point > offset) log->recovery_point = offset;
    if (persist_recovery_point(log)) return fail_for_good(log, "writing %s", ST_CHECKPOINT_RECOVERY_POINT);
    if (epochs_truncate_from_end(log, offset + 1) && epochs_persist(log))
        return fail_for_good(log, "writing %s", ST_CHECKPOINT_LEADER_EPOCH);
    return 0;
}

int st_log_delete(st_log_t *log) {
    close_segments(log);
    int rc = st_fs_remove_dir(log->dir);
    free(log->segments);
    free(log->epochs);
    free(log->dir);
    free(log);
    return rc;
}
