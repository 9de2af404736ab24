/*
 * Broker and topic configuration, with Kafka's names, types, defaults and
 * valid ranges (Kafka 4.0: KafkaConfig, ServerLogConfigs, LogConfig).
 *
 * Two tables in common/config_keys.c are the single source of truth, one
 * line per key:
 *   - broker keys: parsed from a Java-properties `server.properties` file
 *     plus `--override key=value` pairs (overrides win; within a source the
 *     last occurrence wins, as java.util.Properties does);
 *   - topic keys (TopicConfig names): per-topic overrides validated for
 *     CreateTopics/AlterConfigs, resolved over the broker defaults, and
 *     described with Kafka's sources and synonyms for DescribeConfigs.
 *
 * Keys the broker does not know are kept and reported through
 * st_config_unused() so the server can log a warning; like Kafka, they are
 * not an error. This module never prints: messages are returned.
 *
 * Kafka's derived values are applied at load, and the typed getters return
 * the effective value:
 *   log.retention.ms    <- .ms, else .minutes * 60000, else .hours * 3600000;
 *                          any negative result is -1 (unlimited)
 *   log.roll.ms         <- .ms, else log.roll.hours * 3600000
 *   log.roll.jitter.ms  <- .ms, else log.roll.jitter.hours * 3600000
 *   log.flush.interval.ms <- .ms, else log.flush.scheduler.interval.ms
 *   log.dirs            <- log.dirs, else log.dir
 * DescribeConfigs still shows what was configured (null for an unset key
 * without a default), as Kafka does.
 *
 * Memory: st_config_load() allocates and st_config_free() releases; every
 * string handed out points into the config (or into the caller's arrays, or
 * into the view struct) and lives as long as they do. Allocation failure
 * aborts: a broker that cannot allocate its configuration cannot start.
 */
#ifndef ST_COMMON_CONFIG_H
#define ST_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

/* A server.properties file larger than this is refused (ST_ERR_LIMIT). */
#define ST_CONFIG_FILE_MAX_BYTES (1024 * 1024)

/* Config types as DescribeConfigs v3+ puts them on the wire. */
typedef enum st_config_type {
    ST_CONFIG_TYPE_BOOLEAN = 1,
    ST_CONFIG_TYPE_STRING = 2,
    ST_CONFIG_TYPE_INT = 3,
    ST_CONFIG_TYPE_SHORT = 4,
    ST_CONFIG_TYPE_LONG = 5,
    ST_CONFIG_TYPE_DOUBLE = 6,
    ST_CONFIG_TYPE_LIST = 7,
    ST_CONFIG_TYPE_CLASS = 8,
    ST_CONFIG_TYPE_PASSWORD = 9,
} st_config_type_t;

/* DescribeConfigs config sources, wire values. */
typedef enum st_config_source {
    ST_CONFIG_SOURCE_DYNAMIC_TOPIC = 1,
    ST_CONFIG_SOURCE_DYNAMIC_BROKER = 2,
    ST_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER = 3,
    ST_CONFIG_SOURCE_STATIC_BROKER = 4,
    ST_CONFIG_SOURCE_DEFAULT = 5,
} st_config_source_t;

typedef struct st_config st_config_t;

/*
 * Loads `path` (NULL: no file, defaults only) then applies `overrides`
 * ("key=value" each, e.g. from --override). On success *out owns a new
 * config (free with st_config_free). On failure *out is NULL, `err` names the
 * key and where it came from ("server.properties:12: Invalid value abc for
 * configuration num.partitions: Not a number of type INT") and the return is
 * ST_ERR_INVALID_CONFIG (bad value or malformed override), ST_ERR_IO
 * (unreadable file) or ST_ERR_LIMIT (file over ST_CONFIG_FILE_MAX_BYTES).
 */
int st_config_load(st_config_t **out, const char *path, int override_count,
                   char *const *overrides, char *err, size_t err_len);
void st_config_free(st_config_t *c);

/*
 * Typed getters of the effective value. Asking for a key not in the broker
 * table, or with the wrong type (get_int on a LONG key; get_long accepts
 * SHORT, INT and LONG), aborts: that is a programming error. A numeric key
 * with no value (only log.retention.minutes can be) also aborts; check
 * st_config_is_set() first.
 */
int64_t st_config_get_long(const st_config_t *c, const char *name);
int32_t st_config_get_int(const st_config_t *c, const char *name);
bool st_config_get_bool(const st_config_t *c, const char *name);
double st_config_get_double(const st_config_t *c, const char *name);
/* STRING, LIST (comma-joined, elements trimmed) or PASSWORD; NULL when unset
 * and without a default (advertised.listeners, cluster.id, ...). */
const char *st_config_get_string(const st_config_t *c, const char *name);
/* A key Kafka also takes per listener (max.connections,
 * max.connection.creation.rate): the value of
 * listener.name.<listener>.<name> when given, else the broker's. Aborts for
 * other keys. */
int64_t st_config_get_listener_long(const st_config_t *c, const char *listener, const char *name);
/* True when the file or an override gave the key a value. */
bool st_config_is_set(const st_config_t *c, const char *name);

/* Keys the broker does not know, in first-seen order, with the last value. */
int32_t st_config_unused_count(const st_config_t *c);
void st_config_unused(const st_config_t *c, int32_t i, const char **name, const char **value);

/* ---- Listeners ------------------------------------------------------------ */

/* What a listener list may hold (ST_LISTENERS_MAX, ...): common/limits.h. */

/* Kafka's SecurityProtocol. */
typedef enum st_security_protocol {
    ST_SECURITY_PROTOCOL_PLAINTEXT,
    ST_SECURITY_PROTOCOL_SSL,
    ST_SECURITY_PROTOCOL_SASL_PLAINTEXT,
    ST_SECURITY_PROTOCOL_SASL_SSL,
} st_security_protocol_t;

/* "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL". */
const char *st_security_protocol_name(st_security_protocol_t protocol);

/* One endpoint of `listeners` or `advertised.listeners` (Kafka's Endpoint). */
typedef struct st_listener {
    char name[ST_LISTENER_NAME_MAX_CHARS + 1]; /* normalised (upper case), as Kafka's ListenerName */
    st_security_protocol_t security_protocol;  /* from the effective listener.security.protocol.map */
    char host[ST_LISTENER_HOST_MAX_CHARS + 1]; /* "" binds the wildcard address (Kafka's null host) */
    int32_t port;                              /* 0: any free port */
    bool controller;                           /* named in controller.listener.names: no clients */
} st_listener_t;

/* A small value type: copy it freely, nothing to free. */
typedef struct st_listeners {
    int32_t count;
    st_listener_t items[ST_LISTENERS_MAX];
} st_listeners_t;

/*
 * `listeners` as Kafka reads it (SocketServerConfigs.listenerListToEndPoints
 * and AbstractKafkaConfig.validate): comma-separated NAME://host:port
 * entries ("[::1]" for IPv6 hosts, an empty host for the wildcard); each
 * name's protocol from listener.security.protocol.map (Kafka's default maps
 * the four protocol names to themselves; while the map is not set and no
 * SSL or SASL name is in use, the controller.listener.names map to
 * PLAINTEXT, as KRaft does); names must differ, and so must non-zero ports
 * (two IP-literal hosts may share one when one is IPv4 and the other IPv6).
 * Returns 0 or ST_ERR_INVALID_CONFIG with Kafka's message in `err` ("Error
 * creating broker listeners from '...': Each listener must have a different
 * name, listeners: ...", "No security protocol defined for listener X",
 * "Invalid security protocol `X` defined in listener.security.protocol.map").
 * Which protocols the broker can serve is the broker's decision, not this
 * parser's.
 */
int st_config_listeners(const st_config_t *c, st_listeners_t *out, char *err, size_t err_len);

/*
 * `advertised.listeners` (count 0 when unset): parsed the same way except
 * that ports may repeat; every name must be one of `listeners`, and 0.0.0.0
 * cannot be advertised, as Kafka validates.
 */
int st_config_advertised_listeners(const st_config_t *c, st_listeners_t *out, char *err, size_t err_len);

/* ---- DescribeConfigs ---------------------------------------------------- */

#define ST_CONFIG_SYNONYMS_MAX 8

typedef struct st_config_synonym_view {
    const char *name;
    const char *value; /* NULL for sensitive keys */
    int8_t source;     /* st_config_source_t */
} st_config_synonym_view_t;

/*
 * One DescribeConfigs result entry. `synonyms` are in Kafka's precedence
 * order (the topic override, then each broker synonym as configured, then
 * its default); `source` is the first synonym's source, else DEFAULT.
 * `value` may point into `value_buf`, so copy the view as a whole.
 */
typedef struct st_config_entry_view {
    const char *name;
    const char *value; /* NULL: unset without default, or sensitive */
    int8_t source;
    bool read_only;    /* Kafka's dynamic update mode is "read-only" */
    bool sensitive;
    int8_t type;       /* st_config_type_t */
    const char *doc;
    bool is_default;
    int32_t synonym_count;
    st_config_synonym_view_t synonyms[ST_CONFIG_SYNONYMS_MAX];
    char value_buf[32];
} st_config_entry_view_t;

/* DescribeConfigs(BROKER): every known broker key, in table order. */
int32_t st_config_broker_entry_count(const st_config_t *c);
void st_config_broker_entry(const st_config_t *c, int32_t i, st_config_entry_view_t *out);
/* Index of a broker key for st_config_broker_entry, or -1 when unknown. */
int32_t st_config_broker_index(const char *name);

/* ---- Topic configs ------------------------------------------------------ */

/*
 * Validates one topic config for CreateTopics/AlterConfigs. Returns 0, or
 * ST_ERR_INVALID_CONFIG with Kafka's message: "Unknown topic config name: x"
 * or "Invalid value x for configuration retention.ms: Not a number of type
 * LONG" (also "Value must be at least N", "String must be one of: ...").
 * A NULL value is INVALID_CONFIG too: "Null value not supported for topic
 * configs: x", as Kafka's CreateTopics answers.
 */
int st_topic_config_validate(const char *name, const char *value, char *msg, size_t msg_len);

/*
 * Validates a whole set of overrides: each entry as above, then the
 * relations Kafka checks between keys (min.compaction.lag.ms must not exceed
 * max.compaction.lag.ms, effective values over `broker`).
 */
int st_topic_config_validate_set(const st_config_t *broker, int32_t n, const char *const *names,
                                 const char *const *values, char *msg, size_t msg_len);

/* Effective typed settings of one topic: overrides over broker defaults. */
typedef struct st_topic_settings {
    int64_t segment_ms;
    int64_t segment_jitter_ms;
    int64_t retention_ms;    /* -1: unlimited */
    int64_t retention_bytes; /* -1: unlimited */
    int64_t delete_retention_ms;
    int64_t min_compaction_lag_ms;
    int64_t max_compaction_lag_ms;
    int64_t flush_messages;
    int64_t flush_ms;
    int64_t file_delete_delay_ms;
    int64_t message_timestamp_before_max_ms;
    int64_t message_timestamp_after_max_ms;
    double min_cleanable_dirty_ratio;
    int32_t segment_bytes;
    int32_t segment_index_bytes;
    int32_t index_interval_bytes;
    int32_t max_message_bytes;
    int32_t min_insync_replicas;
    int compression_type; /* -1 producer, else st_codec_t (0 uncompressed .. 4 zstd) */
    bool cleanup_delete;  /* both false: an empty cleanup.policy keeps everything */
    bool cleanup_compact;
    bool log_append_time; /* message.timestamp.type=LogAppendTime */
    bool unclean_leader_election;
    bool preallocate;
} st_topic_settings_t;

/*
 * Fills `out` from `broker` then applies the n overrides (last one wins).
 * An unknown or invalid override is skipped, leaving the broker default, and
 * the result is ST_ERR_INVALID_CONFIG; otherwise 0. Overrides validated on
 * the way in (st_topic_config_validate) therefore always give 0.
 */
int st_topic_settings_resolve(const st_config_t *broker, int32_t n, const char *const *names,
                              const char *const *values, st_topic_settings_t *out);

/* DescribeConfigs(TOPIC): every topic key, in table order, with the override
 * (source DYNAMIC_TOPIC) or the broker value it falls back to (STATIC_BROKER
 * or DEFAULT) and its synonyms (retention.ms <- log.retention.ms, .minutes,
 * .hours). */
int32_t st_topic_config_entry_count(void);
void st_topic_config_entry(const st_config_t *broker, int32_t n, const char *const *names,
                           const char *const *values, int32_t i, st_config_entry_view_t *out);
/* Index of a topic key for st_topic_config_entry, or -1 when unknown. */
int32_t st_topic_config_index(const char *name);

#endif
