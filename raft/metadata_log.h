/*
 * The single-node metadata log: topic, partition, config and producer-id
 * records in KRaft's own record format, appended as record batches to the
 * partition log `__cluster_metadata-0` and replayed at start. Raft will later
 * replicate this same log; until then one node is its only voter.
 *
 * Each record's value is framed as KRaft frames it: unsigned varints frame
 * version (1), record type (the record's apiKey) and record version, then
 * the record body in its flexible encoding. Keys are null.
 *
 * Invariants:
 *  1. A change is applied to memory only after its batch was appended and
 *     fsynced: after a crash, replay rebuilds exactly what clients saw.
 *  2. The records of one change are one batch: a change is all or nothing.
 */
#ifndef ST_RAFT_METADATA_LOG_H
#define ST_RAFT_METADATA_LOG_H

#include <stdint.h>

#include "protocol/messages.h"

/* Record types (their apiKey in Kafka's metadata schemas). */
enum {
    ST_METADATA_TOPIC_RECORD = 2,
    ST_METADATA_PARTITION_RECORD = 3,
    ST_METADATA_CONFIG_RECORD = 4,
    ST_METADATA_PARTITION_CHANGE_RECORD = 5,
    ST_METADATA_REMOVE_TOPIC_RECORD = 9,
    ST_METADATA_FEATURE_LEVEL_RECORD = 12,
    ST_METADATA_PRODUCER_IDS_RECORD = 15,
};

typedef struct st_metadata_record {
    int16_t type;
    int16_t version;
    const void *message; /* st_topic_record_t etc. matching type */
} st_metadata_record_t;

/* How a record reaches apply: read back while the log opens (the state it
 * builds is not live yet: the broker opens partition logs only after the
 * whole replay), or just made durable by st_metadata_log_append. */
typedef enum st_metadata_apply_phase {
    ST_METADATA_REPLAYED,
    ST_METADATA_COMMITTED,
} st_metadata_apply_phase_t;

/* Called for every record, in log order, at replay and after each append. */
typedef void (*st_metadata_apply_fn)(void *ctx, const st_metadata_record_t *record,
                                     st_metadata_apply_phase_t phase);

typedef struct st_metadata_log st_metadata_log_t;

/* Opens (creating when missing) the log in `dir` and replays it through
 * `apply`. Returns 0 or an error. */
int st_metadata_log_open(const char *dir, int64_t now_ms, st_metadata_apply_fn apply, void *ctx,
                         st_metadata_log_t **out);
void st_metadata_log_close(st_metadata_log_t *m);
/* Appends `count` records as one batch, fsyncs, then applies them. */
int st_metadata_log_append(st_metadata_log_t *m, const st_metadata_record_t *records, int32_t count,
                           int64_t now_ms);
int64_t st_metadata_log_end_offset(const st_metadata_log_t *m);

/* Encodes one record's framed value / decodes one (arena-allocated). */
void st_metadata_record_encode(const st_metadata_record_t *record, st_writer_t *out);
int st_metadata_record_decode(const uint8_t *value, int32_t len, st_arena_t *arena, st_metadata_record_t *out);

#endif
