/*
 * Small text checkpoint files in a partition directory, in the layout of
 * Kafka's checkpoint files: a version line, then (for lists) a count line,
 * then one entry per line. Written atomically (tmp + fsync + rename + fsync
 * of the directory), so a reader sees either the old or the new file.
 *
 *   leader-epoch-checkpoint   "0\n<count>\n<epoch> <startOffset>\n..."
 *   log-start-offset          "0\n<offset>\n"
 *   recovery-point            "0\n<offset>\n"
 */
#ifndef ST_STORAGE_CHECKPOINT_H
#define ST_STORAGE_CHECKPOINT_H

#include <stdint.h>

#define ST_CHECKPOINT_LEADER_EPOCH "leader-epoch-checkpoint"
#define ST_CHECKPOINT_LOG_START "log-start-offset"
#define ST_CHECKPOINT_RECOVERY_POINT "recovery-point"
/* Cap on leader-epoch entries read from disk (Kafka keeps one per leader
 * change; truncation from the start keeps the list short). */
#define ST_CHECKPOINT_EPOCHS_MAX 4096

typedef struct st_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} st_epoch_entry_t;

/* Writes one offset. Returns 0 or ST_ERR_IO. */
int st_checkpoint_write_offset(const char *dir, const char *name, int64_t offset);
/* Reads one offset: 0, ST_ERR_NOT_FOUND (no file), ST_ERR_CORRUPT (bad
 * text or version) or ST_ERR_IO. */
int st_checkpoint_read_offset(const char *dir, const char *name, int64_t *offset);

int st_checkpoint_write_epochs(const char *dir, const st_epoch_entry_t *entries, int32_t count);
/* Reads the leader-epoch checkpoint into a malloc()ed array the caller
 * frees (NULL when count is 0). Entries must have increasing epochs and
 * non-decreasing offsets, else ST_ERR_CORRUPT. */
int st_checkpoint_read_epochs(const char *dir, st_epoch_entry_t **entries, int32_t *count);

#endif
