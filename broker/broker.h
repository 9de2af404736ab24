/*
 * The map of the broker (Redis server.h style): the partition-leader side
 * of this node, its long-lived state and who owns it.
 *
 *   st_broker_t      one per process; owns the metadata log, the topic
 *                    table, producer-id allocation and the fetch sessions,
 *                    and embeds the network room (net/net.h). The config
 *                    and the event loop belong to the node (server/node.c).
 *                    Single-threaded: every field is touched only from the
 *                    loop thread.
 *   st_topic_t       owned by the broker's topic table; created and removed
 *                    only by applying metadata records (broker.c).
 *   st_partition_t   owned by its topic; owns the partition's st_log_t and
 *                    producer state (partition.c).
 * Connections and requests are net/'s (net/net.h).
 *
 * May call: common, protocol, storage, raft, net. Never calls up: the
 * coordinators, controller, http and the node hear of partition events
 * through st_broker_hooks_t, which the node fills at start.
 */
#ifndef ST_BROKER_BROKER_H
#define ST_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/errors.h"
#include "common/log.h"
#include "net/network.h"
#include "protocol/arena.h"
#include "protocol/buf.h"
#include "protocol/messages.h"
#include "protocol/record_batch.h"
#include "common/config.h"
#include "storage/log.h"
#include "storage/producer_state.h"

typedef struct st_broker st_broker_t;
typedef struct st_topic st_topic_t;
typedef struct st_partition st_partition_t;
typedef struct st_metadata_log st_metadata_log_t;
typedef struct st_fetch_waiter st_fetch_waiter_t;
typedef struct st_fetch_sessions st_fetch_sessions_t;

/* ---- topics and partitions ---------------------------------------------- */

/* A partition's role on this node. One node leads every partition until
 * replication arrives; a follower will append only what it fetched from
 * its leader. */
typedef enum st_partition_role {
    ST_PARTITION_LEADER,
    ST_PARTITION_FOLLOWER,
} st_partition_role_t;

struct st_partition {
    st_broker_t *broker;
    st_topic_t *topic;
    int32_t index;
    st_partition_role_t role;
    int32_t leader_epoch;
    char *dir;
    st_log_t *log;
    st_producer_state_t *producers;
    st_fetch_waiter_t *waiters; /* long-poll fetches waiting for data here */
};

struct st_topic {
    char *name;
    st_uuid_t id;
    bool internal;
    int32_t partition_count;
    st_partition_t **partitions;
    /* Topic config overrides as given to CreateTopics/AlterConfigs. */
    int32_t config_count;
    char **config_names;
    char **config_values;
    st_topic_settings_t settings;
    st_topic_t *next_in_bucket;
};

/* ---- broker ---------------------------------------------------------------- */

/* How the broker tells the rooms above it of partition events, without
 * calling up (filled at start by the node, server/node.c). Each may be NULL. */
typedef struct st_broker_hooks {
    /* Records were appended to `p` (the log end moved): wake waiting fetches. */
    void (*partition_appended)(st_broker_t *b, st_partition_t *p);
    /* `p` is about to be closed and freed (its topic was deleted). */
    void (*partition_removed)(st_broker_t *b, st_partition_t *p);
} st_broker_hooks_t;

#define ST_TOPIC_BUCKETS 1024
/* Entries of log.dirs; more is a config error. */
#define ST_LOG_DIRS_MAX 16

struct st_broker {
    st_config_t *config;
    st_loop_t *loop;
    st_metadata_log_t *metadata;
    int32_t node_id;
    char cluster_id[32];
    char *host;        /* advertised host */
    int32_t port;      /* advertised port */
    char *data_dir;    /* first of log.dirs */
    /* One per log.dirs entry, taken before anything touches the directory
     * and held until st_broker_stop (storage/dir_lock.h). */
    struct st_dir_lock *dir_locks[ST_LOG_DIRS_MAX];
    int32_t dir_lock_count;
    /* topics by name */
    st_topic_t *topic_buckets[ST_TOPIC_BUCKETS];
    int32_t topic_count;
    /* producer id allocation: ids below next_producer_id are taken; the
     * metadata log holds a reserved block ending at producer_id_block_end. */
    int64_t next_producer_id;
    int64_t producer_id_block_end;
    st_net_t net;      /* connections and requests (net/) */
    st_broker_hooks_t hooks;
    st_fetch_sessions_t *fetch_sessions;
    struct st_groups *groups; /* group coordinator (coordinator/group/) */
    struct st_http *http;     /* metrics and lag over HTTP (http.c) */
    int64_t started_wall_ms;
    /* limits, resolved once from config */
    int32_t fetch_max_bytes;           /* cap on any Fetch response's record bytes */
    int32_t fetch_response_target_bytes; /* where a Fetch response stops taking partitions; 0: no target */
    size_t decompressed_batch_max_bytes;
    int64_t log_drop_behind_bytes; /* page cache kept behind each active segment's end; -1: kernel's */
    int64_t retention_check_interval_ms;
    int64_t flush_scheduler_interval_ms;
    st_timer_t housekeeping_timer;
    bool log_cleaner_enable;        /* false: compaction never runs */
    int64_t log_cleaner_backoff_ms; /* time between compaction passes */
    st_timer_t cleaner_timer;
    bool stopping;
};

st_topic_t *st_broker_topic(st_broker_t *b, const char *name);
st_topic_t *st_broker_topic_by_id(st_broker_t *b, const st_uuid_t *id);
st_partition_t *st_broker_partition(st_broker_t *b, const char *topic, int32_t partition);
/* Iteration over all topics (unspecified order). fn returns non-zero to stop. */
void st_broker_each_topic(st_broker_t *b, int (*fn)(void *ctx, st_topic_t *t), void *ctx);

/* Topic changes go through the metadata log (records appended, fsynced,
 * then applied). `msg` receives a Kafka-style message on error. */
int st_broker_create_topic(st_broker_t *b, const char *name, int32_t partitions, int32_t config_count,
                           const char *const *config_names, const char *const *config_values,
                           st_uuid_t *id_out);
int st_broker_delete_topic(st_broker_t *b, st_topic_t *t);
int st_broker_add_partitions(st_broker_t *b, st_topic_t *t, int32_t new_total);
/* Replaces (incremental == false) or edits the topic's overrides; a NULL
 * value deletes a key. */
int st_broker_alter_topic_config(st_broker_t *b, st_topic_t *t, int32_t n, const char *const *names,
                                 const char *const *values, bool incremental);
int64_t st_broker_allocate_producer_id(st_broker_t *b);
/* Kafka's rules for a topic name; returns 0 or INVALID_TOPIC_EXCEPTION. */
int st_topic_name_validate(const char *name, char *msg, size_t msg_len);

/* The internal topic of the group coordinator: Metadata never auto-creates
 * it (nor the other internal topics); the coordinator creates it. */
#define ST_OFFSETS_TOPIC "__consumer_offsets"

/* At start (server/node.c), in this order: format the first log dir on
 * first start (meta.properties), replay the metadata log into the topic
 * table, open every partition's log and remove directories no topic owns. */
int st_broker_format_data_dir(st_broker_t *b);
int st_broker_open_metadata(st_broker_t *b);
int st_broker_open_logs(st_broker_t *b);
/* Upkeep, from the node's timers: retention, flushes, producer-id expiry;
 * compaction of compacted topics. */
void st_broker_housekeeping(st_broker_t *b, int64_t now_ms);
void st_broker_compact(st_broker_t *b, int64_t now_ms);
/* At stop: closes every partition cleanly and frees the topic table and the
 * metadata log. */
void st_broker_close_topics(st_broker_t *b);

/* ---- partitions (partition.c) --------------------------------------------- */

int st_partition_open(st_broker_t *b, st_topic_t *t, int32_t index, st_partition_t **out);
void st_partition_close(st_partition_t *p);
void st_partition_apply_settings(st_partition_t *p);

typedef struct st_produce_result {
    int error;
    const char *error_message;
    int64_t base_offset;
    int64_t log_append_time_ms;
    int64_t log_start_offset;
    st_record_error_t *record_errors;
    int32_t record_error_count;
} st_produce_result_t;

/* The limits a batch produced to `p` now is validated against, and whether
 * its records need keys (a compacted topic). */
void st_partition_batch_limits(const st_broker_t *b, const st_partition_t *p, int64_t now_ms,
                               st_batch_limits_t *limits, bool *require_keys);
/* Validates and appends the records of one partition of a Produce.
 * `validated`: the verdict of validating exactly these bytes against
 * st_partition_batch_limits (in steps, handle_produce.c), or NULL to
 * validate here. */
void st_partition_produce(st_broker_t *b, st_partition_t *p, st_arena_t *arena, uint8_t *records, int32_t len,
                          const st_batch_check_t *validated, st_produce_result_t *res);

/* ---- the partition's log: every read and change goes through these ------ */
/* Offsets as replication and transactions will tell them apart:
 *   log_start <= last_stable <= high_watermark <= log_end.
 * With one replica and no transactions yet all three upper ones are the
 * log end. */
typedef struct st_partition_offsets {
    int64_t log_start;
    int64_t last_stable;
    int64_t high_watermark;
    int64_t log_end;
} st_partition_offsets_t;
void st_partition_offsets(const st_partition_t *p, st_partition_offsets_t *out);
int64_t st_partition_high_watermark(const st_partition_t *p);
int64_t st_partition_log_start_offset(const st_partition_t *p);
int64_t st_partition_size_bytes(const st_partition_t *p);
/* A read for Fetch, sharing the segment's descriptor (storage/log.h). */
int st_partition_read(st_partition_t *p, int64_t offset, int32_t max_bytes, bool min_one_batch,
                      st_log_shared_read_t *res);
int st_partition_for_each_batch(st_partition_t *p, int64_t from_offset,
                                int (*fn)(void *ctx, const uint8_t *batch, size_t len), void *ctx);
int st_partition_offset_for_timestamp(st_partition_t *p, int64_t ts, int64_t *offset, int64_t *timestamp);
int st_partition_max_timestamp(st_partition_t *p, int64_t *offset, int64_t *timestamp);
/* The leader epoch of the batch holding `offset`; -1 before any append. */
int32_t st_partition_epoch_for_offset(const st_partition_t *p, int64_t offset);
void st_partition_end_offset_for_epoch(const st_partition_t *p, int32_t epoch, int32_t *epoch_out,
                                       int64_t *end_offset_out);
/* DeleteRecords: moves the log start to `offset` (<= high watermark). */
int st_partition_delete_records(st_partition_t *p, int64_t offset);
/* Upkeep: retention (topics with delete), flush.ms, producer-id expiry;
 * compaction (topics with compact). */
void st_partition_housekeeping(st_partition_t *p, int64_t now_ms, int64_t producer_expiration_ms);
void st_partition_compact(st_partition_t *p, int64_t now_ms);
/* DeleteTopics: closes the log and removes its files; the partition keeps
 * no log after. */
void st_partition_delete_files(st_partition_t *p);

/* Tells the hooks that records were appended to `p` (every append path
 * calls it once the log end moved). */
void st_partition_appended(st_partition_t *p);
/* The append path of internal topics (__consumer_offsets): a batch the
 * coordinator built, stamped with the partition's leader epoch, appended
 * and announced. 0, or the log's error (ST_ERR_KAFKA_STORAGE_ERROR, ...). */
int st_partition_append_internal(st_partition_t *p, uint8_t *batch, size_t len, int64_t now_ms);

/* ---- long-poll fetch (fetch.c) ------------------------------------------- */
/* The hooks for st_broker_hooks_t: wake the fetches parked on `p`; drop
 * them (and `p` from fetch sessions) before `p` is freed. */
void st_fetch_wake(st_broker_t *b, st_partition_t *p);
void st_fetch_forget_partition(st_broker_t *b, st_partition_t *p);
st_fetch_sessions_t *st_fetch_sessions_new(int32_t slots);
void st_fetch_sessions_free(st_fetch_sessions_t *s);

/* ---- handlers (broker/handle_*.c, fetch.c; admin: controller/admin.h) --- */
int st_handle_metadata(st_broker_t *b, st_request_t *req);
int st_handle_produce(st_broker_t *b, st_request_t *req);
int st_handle_fetch(st_broker_t *b, st_request_t *req);
int st_handle_list_offsets(st_broker_t *b, st_request_t *req);
int st_handle_delete_records(st_broker_t *b, st_request_t *req);
int st_handle_init_producer_id(st_broker_t *b, st_request_t *req);
int st_handle_offset_for_leader_epoch(st_broker_t *b, st_request_t *req);

#endif
