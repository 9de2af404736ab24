#include "raft/metadata_log.h"

#include <stdlib.h>

#include "protocol/record_batch.h"
#include "storage/log.h"

#define METADATA_BATCH_DECOMPRESSED_MAX (64 * 1024 * 1024)
#define METADATA_FRAME_VERSION 1

struct st_metadata_log {
    st_log_t *log;
    st_metadata_apply_fn apply;
    void *ctx;
};

typedef struct record_codec {
    int16_t type;
    size_t bytes;
    int (*decode)(st_reader_t *r, st_arena_t *a, int16_t v, void *m);
    void (*encode)(st_writer_t *w, int16_t v, const void *m);
} record_codec_t;

#define RECORD_CODEC(type_, name)                                                                                 \
    static int decode_##name(st_reader_t *r, st_arena_t *a, int16_t v, void *m) { return st_##name##_decode(r, a, v, m); } \
    static void encode_##name(st_writer_t *w, int16_t v, const void *m) { st_##name##_encode(w, v, m); }
RECORD_CODEC(ST_METADATA_TOPIC_RECORD, topic_record)
RECORD_CODEC(ST_METADATA_PARTITION_RECORD, partition_record)
RECORD_CODEC(ST_METADATA_CONFIG_RECORD, config_record)
RECORD_CODEC(ST_METADATA_PARTITION_CHANGE_RECORD, partition_change_record)
RECORD_CODEC(ST_METADATA_REMOVE_TOPIC_RECORD, remove_topic_record)
RECORD_CODEC(ST_METADATA_FEATURE_LEVEL_RECORD, feature_level_record)
RECORD_CODEC(ST_METADATA_PRODUCER_IDS_RECORD, producer_ids_record)
#undef RECORD_CODEC

static const record_codec_t record_codecs[] = {
    {ST_METADATA_TOPIC_RECORD, sizeof(st_topic_record_t), decode_topic_record, encode_topic_record},
    {ST_METADATA_PARTITION_RECORD, sizeof(st_partition_record_t), decode_partition_record, encode_partition_record},
    {ST_METADATA_CONFIG_RECORD, sizeof(st_config_record_t), decode_config_record, encode_config_record},
    {ST_METADATA_PARTITION_CHANGE_RECORD, sizeof(st_partition_change_record_t), decode_partition_change_record,
     encode_partition_change_record},
    {ST_METADATA_REMOVE_TOPIC_RECORD, sizeof(st_remove_topic_record_t), decode_remove_topic_record,
     encode_remove_topic_record},
    {ST_METADATA_FEATURE_LEVEL_RECORD, sizeof(st_feature_level_record_t), decode_feature_level_record,
     encode_feature_level_record},
    {ST_METADATA_PRODUCER_IDS_RECORD, sizeof(st_producer_ids_record_t), decode_producer_ids_record,
     encode_producer_ids_record},
};

static const record_codec_t *codec_for(int16_t type) {
    for (size_t i = 0; i < sizeof record_codecs / sizeof record_codecs[0]; i++)
        if (record_codecs[i].type == type) return &record_codecs[i];
    return NULL;
}

void st_metadata_record_encode(const st_metadata_record_t *record, st_writer_t *out) {
    const record_codec_t *codec = codec_for(record->type);
    st_write_uvarint(out, METADATA_FRAME_VERSION);
    st_write_uvarint(out, (uint32_t)record->type);
    st_write_uvarint(out, (uint32_t)record->version);
    codec->encode(out, record->version, record->message);
}

int st_metadata_record_decode(const uint8_t *value, int32_t len, st_arena_t *arena, st_metadata_record_t *out) {
    if (!value || len < 0) return ST_ERR_CORRUPT;
    st_reader_t r;
    st_reader_init(&r, value, (size_t)len);
    uint32_t frame = st_read_uvarint(&r);
    uint32_t type = st_read_uvarint(&r);
    uint32_t version = st_read_uvarint(&r);
    if (r.failed || frame != METADATA_FRAME_VERSION || type > INT16_MAX || version > INT16_MAX) return ST_ERR_CORRUPT;
    const record_codec_t *codec = codec_for((int16_t)type);
    if (!codec) return ST_ERR_NOT_FOUND;
    void *m = st_arena_alloc(arena, codec->bytes);
    if (codec->decode(&r, arena, (int16_t)version, m) != 0) return ST_ERR_CORRUPT;
    out->type = (int16_t)type;
    out->version = (int16_t)version;
    out->message = m;
    return 0;
}

typedef struct replay_ctx {
    st_metadata_log_t *m;
    int error;
} replay_ctx_t;

static int replay_batch(void *ctx, const uint8_t *batch, size_t len) {
    replay_ctx_t *rc = ctx;
    st_arena_t arena;
    st_arena_init(&arena);
    st_record_iter_t it;
    int err = st_record_iter_init(&it, batch, len, METADATA_BATCH_DECOMPRESSED_MAX, &arena);
    st_batch_header_t h;
    if (err == 0) err = st_batch_header_parse(batch, len, &h);
    if (err == 0 && (h.attributes & ST_BATCH_ATTR_CONTROL)) {
        st_arena_free(&arena);
        return 0;
    }
    st_record_t rec;
    while (err == 0) {
        int more = st_record_iter_next(&it, &rec);
        if (more < 0) {
            err = more;
            break;
        }
        if (more == 0) break;
        st_metadata_record_t mr;
        int derr = st_metadata_record_decode(rec.value, rec.value_len, &arena, &mr);
        if (derr == ST_ERR_NOT_FOUND) continue; /* a record type this version does not use */
        if (derr != 0) {
            err = derr;
            break;
        }
        rc->m->apply(rc->m->ctx, &mr, ST_METADATA_REPLAYED);
    }
    st_arena_free(&arena);
    rc->error = err;
    return err;
}

int st_metadata_log_open(const char *dir, int64_t now_ms, st_metadata_apply_fn apply, void *ctx,
                         st_metadata_log_t **out) {
    st_metadata_log_t *m = calloc(1, sizeof *m);
    if (!m) return ST_ERR_NO_MEMORY;
    m->apply = apply;
    m->ctx = ctx;
    st_log_config_t cfg;
    st_log_config_default(&cfg);
    cfg.retention_ms = -1;
    cfg.retention_bytes = -1;
    cfg.cleanup_delete = false;
    cfg.decompressed_bytes_max = METADATA_BATCH_DECOMPRESSED_MAX;
    int err = st_log_open(dir, &cfg, now_ms, &m->log);
    if (err != 0) {
        free(m);
        return err;
    }
    replay_ctx_t rc = {m, 0};
    err = st_log_for_each_batch(m->log, st_log_start_offset(m->log), replay_batch, &rc);
    if (err == 0) err = rc.error;
    if (err != 0) {
        st_log_close(m->log);
        free(m);
        return err;
    }
    *out = m;
    return 0;
}

void st_metadata_log_close(st_metadata_log_t *m) {
    if (!m) return;
    st_log_close(m->log);
    free(m);
}

int64_t st_metadata_log_end_offset(const st_metadata_log_t *m) { return st_log_end_offset(m->log); }

int st_metadata_log_append(st_metadata_log_t *m, const st_metadata_record_t *records, int32_t count, int64_t now_ms) {
    st_batch_builder_t builder;
    st_batch_builder_init(&builder, ST_CODEC_NONE, 0);
    st_writer_t value;
    st_writer_init(&value, 256);
    for (int32_t i = 0; i < count; i++) {
        st_writer_reset(&value);
        st_metadata_record_encode(&records[i], &value);
        st_batch_builder_add(&builder, i, now_ms, NULL, -1, value.data, (int32_t)value.len, NULL, 0);
    }
    st_writer_t batch;
    st_writer_init(&batch, 512);
    int err = st_batch_builder_finish(&builder, &batch);
    st_log_append_result_t res;
    /* A refused append (a full disk) leaves nothing of the change in the
     * log, and the log takes appends again once there is space (storage/
     * log.h): the caller reports the error and nothing was applied. */
    if (err == 0) err = st_log_append(m->log, batch.data, batch.len, 0, now_ms, false, &res);
    if (err == 0) err = st_log_flush(m->log);
    st_writer_free(&batch);
    st_writer_free(&value);
    st_batch_builder_free(&builder);
    if (err != 0) return err;
    for (int32_t i = 0; i < count; i++) m->apply(m->ctx, &records[i], ST_METADATA_COMMITTED);
    return 0;
}
