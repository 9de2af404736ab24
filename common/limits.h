/*
 * Compile-time limits and the configuration defaults that other code relies
 * on, each spelled once (STYLE 6, TigerBeetle's "a limit on everything, in
 * one place"), with _Static_asserts on how they relate.
 *
 * A default here is the default of the Kafka key named after it
 * (ST_CONFIG_DEFAULT_<KEY>), and ST_CONFIG_MIN_<KEY> the smallest value its
 * validator accepts. The key table (common/config_keys.c) stringifies them,
 * so they stay plain decimal literals: no casts, no arithmetic.
 *
 * Only the limits of configuration live here for now; network and protocol
 * limits join them as their modules move out of server/.
 */
#ifndef ST_COMMON_LIMITS_H
#define ST_COMMON_LIMITS_H

#include <stdint.h>

/* ---- server.properties ---------------------------------------------------- */

/* A server.properties file larger than this is refused (ST_ERR_LIMIT). */
#define ST_CONFIG_FILE_MAX_BYTES (1024 * 1024)

/* ---- Defaults of broker keys --------------------------------------------- */

#define ST_CONFIG_DEFAULT_MESSAGE_MAX_BYTES 1048588             /* Kafka: 1 MiB + 12 */
#define ST_CONFIG_DEFAULT_FETCH_MAX_BYTES 57671680              /* Kafka: 55 MiB */
#define ST_CONFIG_DEFAULT_FETCH_RESPONSE_TARGET_BYTES 1048576   /* see common/config_keys.c */
#define ST_CONFIG_DEFAULT_LOG_DROP_BEHIND_BYTES 268435456       /* see common/config_keys.c */
#define ST_CONFIG_DEFAULT_SOCKET_REQUEST_MAX_BYTES 104857600    /* Kafka: 100 MiB */
#define ST_CONFIG_DEFAULT_DECOMPRESSED_BATCH_MAX_BYTES 67108864 /* 64 MiB */
#define ST_CONFIG_DEFAULT_MAX_INFLIGHT_REQUESTS 100

/* log.segment.bytes (and the topic's segment.bytes, which falls back to it).
 * Kafka 4.0 (ServerLogConfigs, LogConfig): 1 GiB, at least 1 MiB for both
 * keys. storage/ keeps a much lower floor of its own for what one segment
 * can physically hold (ST_LOG_SEGMENT_BYTES_FLOOR in storage/log.h). */
#define ST_CONFIG_DEFAULT_LOG_SEGMENT_BYTES 1073741824
#define ST_CONFIG_MIN_LOG_SEGMENT_BYTES 1048576

/* ---- Listeners ------------------------------------------------------------ */

/* What `listeners`, `advertised.listeners` and
 * `listener.security.protocol.map` may hold; more is a config error. */
#define ST_LISTENERS_MAX 16
#define ST_LISTENER_MAP_ENTRIES_MAX 32
#define ST_LISTENER_NAME_MAX_CHARS 64
#define ST_LISTENER_HOST_MAX_CHARS 255

/* ---- DescribeConfigs ------------------------------------------------------ */

/* Broker keys a topic key falls back to, in precedence order
 * (retention.ms <- log.retention.ms, .minutes, .hours). */
#define ST_CONFIG_TOPIC_SYNONYMS_MAX 3
/* Synonyms one DescribeConfigs entry lists. */
#define ST_CONFIG_SYNONYMS_MAX 8

/* ---- How the limits relate ------------------------------------------------ */

/* A batch that fits message.max.bytes must be able to decompress, fit in a
 * request, in a fetch response and in a segment. */
_Static_assert(ST_CONFIG_DEFAULT_DECOMPRESSED_BATCH_MAX_BYTES >= ST_CONFIG_DEFAULT_MESSAGE_MAX_BYTES,
               "a default-size batch must be allowed to decompress");
_Static_assert(ST_CONFIG_DEFAULT_SOCKET_REQUEST_MAX_BYTES >= ST_CONFIG_DEFAULT_MESSAGE_MAX_BYTES,
               "a default-size batch must fit in a request");
_Static_assert(ST_CONFIG_DEFAULT_FETCH_MAX_BYTES >= ST_CONFIG_DEFAULT_MESSAGE_MAX_BYTES,
               "a default-size batch must fit in a fetch response");
_Static_assert(ST_CONFIG_DEFAULT_LOG_SEGMENT_BYTES >= ST_CONFIG_DEFAULT_MESSAGE_MAX_BYTES,
               "a default-size batch must fit in a default-size segment");
/* A response target above fetch.max.bytes would never be reached. */
_Static_assert(ST_CONFIG_DEFAULT_FETCH_RESPONSE_TARGET_BYTES <= ST_CONFIG_DEFAULT_FETCH_MAX_BYTES,
               "the fetch response target must be below fetch.max.bytes");
/* log.segment.bytes is an INT key: its default must pass its own validator. */
_Static_assert(ST_CONFIG_DEFAULT_LOG_SEGMENT_BYTES >= ST_CONFIG_MIN_LOG_SEGMENT_BYTES &&
                   ST_CONFIG_DEFAULT_LOG_SEGMENT_BYTES <= INT32_MAX,
               "the log.segment.bytes default must be a valid value");
/* A topic entry lists its override, then each broker synonym as configured
 * and as defaulted; none may be dropped. */
_Static_assert(ST_CONFIG_SYNONYMS_MAX >= 1 + 2 * ST_CONFIG_TOPIC_SYNONYMS_MAX,
               "a DescribeConfigs entry must hold every synonym of a topic key");

#endif
