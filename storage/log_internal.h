/*
 * Private to storage/log*.c: the partition log's state (struct st_log) and
 * the helpers its pieces share. The log is one module split by concern:
 *   log_core.c     state transitions of writes (FAILED/WRITABLE), epochs,
 *                  flushing, appending, reading, truncation
 *   log_open.c     opening: directory scan, segment recovery, closing
 *   log_cleanup.c  deleting from the start (retention, DeleteRecords) and
 *                  compaction
 * Invariants and the state diagram are in storage/log.h (the module's
 * contract; it has no log.c). Uses run log_open -> log_cleanup -> log_core,
 * never back, so check_layers sees no circle.
 * Nothing outside storage/log*.c includes this header.
 */
#ifndef ST_STORAGE_LOG_INTERNAL_H
#define ST_STORAGE_LOG_INTERNAL_H

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
#include "common/errors.h"
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


/* "<20 digits>.log" of a segment, for log lines. */
typedef struct log_segment_name {
    char text[LOG_SEGMENT_NAME_DIGITS + 8];
} segment_name_t;

#define fail(log, ...) log_fail_as((log), false, __VA_ARGS__)
#define fail_for_good(log, ...) log_fail_as((log), true, __VA_ARGS__)

st_segment_t *log_active(const st_log_t *log);
int log_begin_write(st_log_t *log);
void log_close_segments(st_log_t *log);
bool log_config_valid(const st_log_config_t *cfg);
int log_delete_below_start(st_log_t *log, int64_t now_ms);
int log_epoch_from_recovered_batch(void *ctx, const st_batch_header_t *h);
int log_epochs_persist(st_log_t *log);
bool log_epochs_truncate_from_end(st_log_t *log, int64_t offset);
bool log_epochs_truncate_from_start(st_log_t *log, int64_t offset);
/* Marks the log FAILED (see log_core.c); errno is read first. */
int log_fail_as(st_log_t *log, bool for_good, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int log_finish_swap(const char *dir, int64_t base);
int log_leave_failed(st_log_t *log, int64_t now_ms);
int log_make_writable(st_log_t *log);
int log_persist_start_offset(st_log_t *log);
int log_push_segment(st_log_t *log, st_segment_t *seg);
int log_refuse(st_log_t *log);
void log_remove_segment_at(st_log_t *log, int32_t i);
void log_report_checkpoint_failure(st_log_t *log, const char *name);
int log_restart_at(st_log_t *log, int64_t offset, int64_t now_ms);
int log_roll(st_log_t *log, int64_t now_ms);
segment_name_t log_segment_name(int64_t base);

#endif
