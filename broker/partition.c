/*
 * A partition as the broker serves it: its log plus the producer state of
 * idempotent producers, kept in step.
 *
 * Invariants:
 *  1. Producer state reflects exactly the batches in the log below its end
 *     offset: it is loaded from the newest snapshot at or below the log end
 *     and the batches after the snapshot are replayed.
 *  2. A batch reaches the log only after it passed st_batch_validate and the
 *     producer-state check: no partial or invalid record is ever appended.
 *  3. A snapshot is written at every segment roll and at close (unless the
 *     newest one already holds the state at the log end), so replay after a
 *     crash covers at most one segment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/record_batch.h"
#include "broker/broker.h"
#include "storage/fsutil.h"

_Static_assert(ST_CONFIG_DEFAULT_LOG_DROP_BEHIND_BYTES == ST_LOG_DROP_BEHIND_BYTES_DEFAULT,
              "the broker and a bare log drop behind the same default");

static void log_config_from_settings(const st_broker_t *b, const st_topic_settings_t *s, st_log_config_t *cfg) {
    st_log_config_default(cfg);
    cfg->segment_bytes = s->segment_bytes;
    cfg->segment_ms = s->segment_ms;
    cfg->index_interval_bytes = s->index_interval_bytes;
    cfg->index_bytes_max = s->segment_index_bytes;
    cfg->retention_ms = s->retention_ms;
    cfg->retention_bytes = s->retention_bytes;
    cfg->cleanup_delete = s->cleanup_delete;
    cfg->cleanup_compact = s->cleanup_compact;
    cfg->delete_retention_ms = s->delete_retention_ms;
    cfg->min_compaction_lag_ms = s->min_compaction_lag_ms;
    cfg->max_compaction_lag_ms = s->max_compaction_lag_ms;
    cfg->min_cleanable_dirty_ratio = s->min_cleanable_dirty_ratio;
    cfg->flush_messages = s->flush_messages;
    cfg->flush_ms = s->flush_ms;
    cfg->decompressed_bytes_max = b->decompressed_batch_max_bytes;
    cfg->drop_behind_bytes = b->log_drop_behind_bytes;
}

/* A snapshot only shortens the replay at the next open (invariant 3 holds
 * with the previous one): a failure is worth a line, not a failed write. */
static void warn_snapshot_failed(const st_partition_t *p, int64_t offset, int err) {
    int e = errno;
    ST_WARN("%s-%d: producer state snapshot at offset %lld failed: %s; the next open replays from the previous one",
            p->topic->name, p->index, (long long)offset, err == ST_ERR_IO ? strerror(e) : st_err_name(err));
}

static void on_segment_roll(void *ctx, int64_t new_segment_base_offset) {
    st_partition_t *p = ctx;
    int err = st_producer_state_write_snapshot(p->producers, p->dir, new_segment_base_offset);
    if (err != 0) warn_snapshot_failed(p, new_segment_base_offset, err);
    st_producer_state_prune_snapshots(p->dir, 3);
}

typedef struct replay_ctx {
    st_partition_t *p;
    int64_t now_ms;
} replay_ctx_t;

static int replay_producer_batch(void *ctx, const uint8_t *batch, size_t len) {
    replay_ctx_t *rc = ctx;
    st_batch_header_t h;
    if (st_batch_header_parse(batch, len, &h) != 0) return 0;
    if (h.producer_id >= 0) st_producer_state_replay(rc->p->producers, &h, rc->now_ms);
    return 0;
}

static int write_partition_metadata(st_partition_t *p) {
    /* Kafka's partition.metadata: which topic id owns this directory. */
    char body[128];
    static const char hex[] = "0123456789abcdef";
    char id[33];
    for (int i = 0; i < 16; i++) {
        id[2 * i] = hex[p->topic->id.bytes[i] >> 4];
        id[2 * i + 1] = hex[p->topic->id.bytes[i] & 15];
    }
    id[32] = '\0';
    int len = snprintf(body, sizeof body, "version: 0\ntopic_id: %s\n", id);
    /* Not fsynced: the metadata log is what says which topic owns the
     * directory; this file only helps a person reading the data dir. */
    char path[ST_FS_PATH_MAX];
    if (st_fs_path(path, "%s/partition.metadata", p->dir) != 0) return ST_ERR_LIMIT;
    FILE *f = fopen(path, "w");
    if (!f) return ST_ERR_IO;
    bool ok = fwrite(body, 1, (size_t)len, f) == (size_t)len;
    return fclose(f) == 0 && ok ? 0 : ST_ERR_IO;
}

int st_partition_open(st_broker_t *b, st_topic_t *t, int32_t index, st_partition_t **out) {
    st_partition_t *p = calloc(1, sizeof *p);
    if (!p) return ST_ERR_NO_MEMORY;
    p->broker = b;
    p->topic = t;
    p->index = index;
    char dir[ST_FS_PATH_MAX];
    if (st_fs_path(dir, "%s/%s-%d", b->data_dir, t->name, index) != 0) {
        free(p);
        return ST_ERR_LIMIT;
    }
    p->dir = strdup(dir);
    st_log_config_t cfg;
    log_config_from_settings(b, &t->settings, &cfg);
    cfg.on_roll = on_segment_roll;
    cfg.on_roll_ctx = p;
    p->producers = st_producer_state_new();
    int64_t now = st_wall_ms();
    int err = st_log_open(p->dir, &cfg, now, &p->log);
    if (err != 0) goto err_free;
    char meta_path[ST_FS_PATH_MAX];
    st_fs_path(meta_path, "%s/partition.metadata", p->dir);
    if (!st_fs_exists(meta_path)) write_partition_metadata(p);

    int64_t end = st_log_end_offset(p->log);
    int64_t snapshot_offset = 0;
    st_producer_state_delete_snapshots(p->dir, 0, end);
    err = st_producer_state_load(p->producers, p->dir, end, &snapshot_offset);
    if (err != 0) goto err_close_log;
    int64_t from = snapshot_offset > st_log_start_offset(p->log) ? snapshot_offset : st_log_start_offset(p->log);
    if (from < end) {
        replay_ctx_t rc = {p, now};
        err = st_log_for_each_batch(p->log, from, replay_producer_batch, &rc);
        if (err != 0) goto err_close_log;
    }
    st_producer_state_expire(p->producers, now, st_config_get_long(b->config, "producer.id.expiration.ms"));
    *out = p;
    return 0;

err_close_log:
    st_log_close(p->log);
err_free:
    st_producer_state_free(p->producers);
    free(p->dir);
    free(p);
    return err;
}

void st_partition_apply_settings(st_partition_t *p) {
    if (!p->log) return;
    st_log_config_t cfg;
    log_config_from_settings(p->broker, &p->topic->settings, &cfg);
    cfg.on_roll = on_segment_roll;
    cfg.on_roll_ctx = p;
    st_log_set_config(p->log, &cfg);
}

void st_partition_close(st_partition_t *p) {
    if (!p) return;
    if (p->log) {
        int64_t end = st_log_end_offset(p->log);
        /* A partition that was not written since it was opened already has
         * its snapshot at the end: rewriting it would cost two fsyncs. */
        if (st_producer_state_dirty(p->producers) || st_producer_state_snapshot_offset(p->producers) != end) {
            int err = st_producer_state_write_snapshot(p->producers, p->dir, end);
            if (err != 0) warn_snapshot_failed(p, end, err);
        }
        st_log_close(p->log);
    }
    st_producer_state_free(p->producers);
    free(p->dir);
    free(p);
}

int64_t st_partition_high_watermark(const st_partition_t *p) {
    /* One replica: everything appended is committed. */
    return st_log_end_offset(p->log);
}

void st_partition_offsets(const st_partition_t *p, st_partition_offsets_t *out) {
    out->log_start = st_log_start_offset(p->log);
    out->log_end = st_log_end_offset(p->log);
    out->high_watermark = st_partition_high_watermark(p);
    out->last_stable = out->high_watermark; /* no open transactions yet (issue 13) */
}

int64_t st_partition_log_start_offset(const st_partition_t *p) { return st_log_start_offset(p->log); }

int64_t st_partition_size_bytes(const st_partition_t *p) { return st_log_size_bytes(p->log); }

int st_partition_read(st_partition_t *p, int64_t offset, int32_t max_bytes, bool min_one_batch,
                      st_log_shared_read_t *res) {
    return st_log_read_shared(p->log, offset, max_bytes, min_one_batch, res);
}

int st_partition_for_each_batch(st_partition_t *p, int64_t from_offset,
                                int (*fn)(void *ctx, const uint8_t *batch, size_t len), void *ctx) {
    return st_log_for_each_batch(p->log, from_offset, fn, ctx);
}

int st_partition_offset_for_timestamp(st_partition_t *p, int64_t ts, int64_t *offset, int64_t *timestamp) {
    return st_log_offset_for_timestamp(p->log, ts, offset, timestamp);
}

int st_partition_max_timestamp(st_partition_t *p, int64_t *offset, int64_t *timestamp) {
    return st_log_max_timestamp(p->log, offset, timestamp);
}

int32_t st_partition_epoch_for_offset(const st_partition_t *p, int64_t offset) {
    /* Kafka's leaderEpochCache.epochForOffset. Strata never elects a new
     * leader, so a log has at most one epoch and it covers every offset. A
     * log with several epochs needs the exact lookup (st_log_epoch_for_offset,
     * not in storage/log.h yet). */
    (void)offset;
    return st_log_latest_epoch(p->log);
}

void st_partition_end_offset_for_epoch(const st_partition_t *p, int32_t epoch, int32_t *epoch_out,
                                       int64_t *end_offset_out) {
    st_log_end_offset_for_epoch(p->log, epoch, epoch_out, end_offset_out);
}

int st_partition_delete_records(st_partition_t *p, int64_t offset) { return st_log_delete_records(p->log, offset); }

void st_partition_housekeeping(st_partition_t *p, int64_t now_ms, int64_t producer_expiration_ms) {
    if (p->topic->settings.cleanup_delete) {
        int deleted = st_log_enforce_retention(p->log, now_ms);
        if (deleted > 0) ST_INFO("retention deleted %d segment(s) of %s-%d", deleted, p->topic->name, p->index);
    }
    st_log_maybe_flush(p->log, now_ms);
    st_producer_state_expire(p->producers, now_ms, producer_expiration_ms);
}

void st_partition_compact(st_partition_t *p, int64_t now_ms) {
    if (p->topic->settings.cleanup_compact) st_log_compact(p->log, now_ms);
}

void st_partition_delete_files(st_partition_t *p) {
    st_log_t *log = p->log;
    p->log = NULL;
    if (log && st_log_delete(log) != 0) ST_WARN("could not remove the files of %s-%d", p->topic->name, p->index);
}

/* Every rejected batch leaves one log line: it is bad input or a client
 * bug, and the operator should be able to see which partition and why. */
static void reject(const st_partition_t *p, st_produce_result_t *res, int error, const char *message) {
    res->error = error;
    res->error_message = message;
    ST_WARN("%s-%d: rejected a produced batch: %s%s%s", p->topic->name, p->index, st_err_name(error),
            message ? ": " : "", message ? message : "");
}

/*
 * compression.type other than "producer": the broker stores the batch with
 * the topic's codec, as Kafka does, keeping offsets deltas, timestamps,
 * headers and the producer fields (so idempotence still holds). Returns the
 * rewritten batch in arena memory, or NULL with *err set.
 */
static uint8_t *recompress(st_broker_t *b, st_arena_t *arena, const uint8_t *records, int32_t len,
                           const st_batch_header_t *h, st_codec_t codec, int32_t *out_len, int *err) {
    st_record_iter_t it;
    *err = st_record_iter_init(&it, records, (size_t)len, b->decompressed_batch_max_bytes, arena);
    if (*err != 0) return NULL;
    st_batch_builder_t bb;
    st_batch_builder_init(&bb, codec, 0);
    bb.attributes_extra = (int16_t)(h->attributes & ~ST_BATCH_ATTR_CODEC_MASK);
    bb.producer_id = h->producer_id;
    bb.producer_epoch = h->producer_epoch;
    bb.base_sequence = h->base_sequence;
    st_record_t rec;
    int more;
    while ((more = st_record_iter_next(&it, &rec)) == 1)
        st_batch_builder_add(&bb, rec.offset_delta, (int64_t)((uint64_t)h->base_timestamp + (uint64_t)rec.timestamp_delta), rec.key, rec.key_len,
                             rec.value, rec.value_len, rec.headers, rec.header_count);
    uint8_t *out = NULL;
    if (more < 0) {
        *err = ST_ERR_CORRUPT_MESSAGE;
    } else {
        st_writer_t w;
        st_writer_init(&w, (size_t)len + 64);
        *err = st_batch_builder_finish(&bb, &w);
        if (*err == 0) {
            out = st_arena_memdup(arena, w.data, w.len);
            *out_len = (int32_t)w.len;
        }
        st_writer_free(&w);
    }
    st_batch_builder_free(&bb);
    return out;
}

void st_partition_batch_limits(const st_broker_t *b, const st_partition_t *p, int64_t now_ms,
                               st_batch_limits_t *limits, bool *require_keys) {
    const st_topic_settings_t *s = &p->topic->settings;
    *limits = (st_batch_limits_t){.decompressed_bytes_max = b->decompressed_batch_max_bytes, .records_max = INT32_MAX};
    if (!s->log_append_time) {
        /* Both settings are >= 0 (config load) and now >= 0. */
        limits->check_timestamps = true;
        limits->timestamp_min = s->message_timestamp_before_max_ms < INT64_MAX
                                    ? now_ms - s->message_timestamp_before_max_ms : INT64_MIN;
        limits->timestamp_max = s->message_timestamp_after_max_ms < INT64_MAX - now_ms
                                    ? now_ms + s->message_timestamp_after_max_ms : INT64_MAX;
    }
    *require_keys = s->cleanup_compact;
}

void st_partition_produce(st_broker_t *b, st_partition_t *p, st_arena_t *arena, uint8_t *records, int32_t len,
                          const st_batch_check_t *validated, st_produce_result_t *res) {
    memset(res, 0, sizeof *res);
    res->base_offset = -1;
    res->log_append_time_ms = -1;
    res->log_start_offset = -1;
    const st_topic_settings_t *s = &p->topic->settings;
    if (!p->log) return reject(p, res, ST_ERR_KAFKA_STORAGE_ERROR, NULL);
    res->log_start_offset = st_log_start_offset(p->log);

    st_batch_header_t h;
    if (!records || len < ST_BATCH_HEADER_BYTES) return reject(p, res, ST_ERR_CORRUPT_MESSAGE, "Record batch is truncated");
    int err = st_batch_header_parse(records, (size_t)len, &h);
    if (err != 0) return reject(p, res, err, "Record batch header is invalid");
    if (st_batch_total_bytes(&h) > len) return reject(p, res, ST_ERR_CORRUPT_MESSAGE, "Record batch is truncated");
    /* Produce v3+ carries exactly one batch per partition. */
    if (st_batch_total_bytes(&h) != len)
        return reject(p, res, ST_ERR_INVALID_RECORD, "Produce requests with version 3+ must contain exactly one record batch");
    if (len > s->max_message_bytes)
        return reject(p, res, ST_ERR_MESSAGE_TOO_LARGE, "The record batch size is larger than max.message.bytes");

    int64_t now = st_wall_ms();
    st_batch_check_t check;
    if (validated) {
        check = *validated;
        err = check.error;
    } else {
        st_batch_limits_t limits;
        bool require_keys;
        st_partition_batch_limits(b, p, now, &limits, &require_keys);
        err = st_batch_validate(records, (size_t)len, &limits, require_keys, arena, &check);
    }
    if (err == ST_ERR_LIMIT)
        return reject(p, res, ST_ERR_CORRUPT_MESSAGE, "Decompressed record batch exceeds strata.decompressed.batch.max.bytes");
    if (err != 0) {
        res->record_errors = check.record_errors;
        res->record_error_count = check.record_error_count;
        return reject(p, res, err, check.error_message);
    }
    if (h.attributes & ST_BATCH_ATTR_TRANSACTIONAL)
        return reject(p, res, ST_ERR_INVALID_TXN_STATE, "Transactional produce is not supported by this broker yet");

    if (h.producer_id >= 0) {
        st_producer_check_t pc;
        err = st_producer_state_check(p->producers, &h, &pc);
        if (err != 0) return reject(p, res, err, NULL);
        if (pc.verdict == ST_PRODUCER_DUPLICATE) {
            /* A retry of a batch already written: acknowledge it with its
             * original offset, write nothing. */
            res->base_offset = pc.duplicate_base_offset;
            res->log_append_time_ms = s->log_append_time ? pc.duplicate_timestamp : -1;
            return;
        }
    }

    st_codec_t batch_codec = (st_codec_t)(h.attributes & ST_BATCH_ATTR_CODEC_MASK);
    if (s->compression_type >= 0 && (st_codec_t)s->compression_type != batch_codec &&
        !(h.attributes & ST_BATCH_ATTR_CONTROL)) {
        int32_t new_len = 0;
        uint8_t *rewritten = recompress(b, arena, records, len, &h, (st_codec_t)s->compression_type, &new_len, &err);
        if (!rewritten) return reject(p, res, err > 0 ? err : ST_ERR_CORRUPT_MESSAGE, "Could not recompress the batch");
        records = rewritten;
        len = new_len;
    }

    st_log_append_result_t ar;
    err = st_log_append(p->log, records, (size_t)len, p->leader_epoch, now, s->log_append_time, &ar);
    if (err == ST_ERR_KAFKA_STORAGE_ERROR) {
        /* The log wrote the line, with the errno, when it failed; the
         * retries of every producer while it stays failed get no line of
         * their own. Nothing of the batch is in the log. */
        res->error = ST_ERR_KAFKA_STORAGE_ERROR;
        return;
    }
    if (err != 0) {
        ST_ERROR("%s-%d: append failed: %s", p->topic->name, p->index, st_err_name(err));
        return reject(p, res, err > 0 ? err : ST_ERR_KAFKA_STORAGE_ERROR, NULL);
    }
    if (h.producer_id >= 0) {
        st_batch_header_parse(records, (size_t)len, &h); /* rewritten offsets and timestamps */
        st_producer_state_update(p->producers, &h, ar.base_offset, ar.last_offset, now);
    }
    res->base_offset = ar.base_offset;
    res->log_append_time_ms = ar.log_append_time_ms;
    res->log_start_offset = ar.log_start_offset;
    st_partition_appended(p);
}

int st_partition_append_internal(st_partition_t *p, uint8_t *batch, size_t len, int64_t now_ms) {
    if (!p->log) return ST_ERR_NOT_LEADER_OR_FOLLOWER;
    st_log_append_result_t res;
    int err = st_log_append(p->log, batch, len, p->leader_epoch, now_ms, false, &res);
    if (err == 0) st_partition_appended(p);
    return err;
}

void st_partition_appended(st_partition_t *p) {
    st_broker_t *b = p->broker;
    if (b->hooks.partition_appended) b->hooks.partition_appended(b, p);
}
