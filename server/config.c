/*
 * Broker and topic configuration: the two tables, a java.util.Properties
 * reader, Kafka's ConfigDef parsing rules and DescribeConfigs views.
 *
 * Invariants:
 *  1. Every key has exactly one line in k_broker or k_topic; nothing else
 *     in Strata spells a default.
 *  2. Every topic key's synonyms[0] is a broker key of the same type; the
 *     broker slot of synonyms[0] holds the effective value the topic falls
 *     back to (derivations such as log.retention.hours -> log.retention.ms
 *     are applied into that slot at load).
 *  3. After a successful load every broker slot either has a value (typed
 *     and, for strings, `string`) or is one of Kafka's null-default keys.
 *
 * Value parsing follows Kafka's ConfigDef: the value is trimmed (Java
 * String.trim), numbers are Java parseInt/parseLong (optional sign, digits,
 * nothing else, in range of the type), booleans are true/false in any case,
 * STRING enums are case-sensitive, LIST splits on commas and trims each
 * element. Error text is ConfigException's: "Invalid value V for
 * configuration K: REASON".
 */
#include "server/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/errors.h"

/* ---- The tables ---------------------------------------------------------- */

enum { DEF_READ_ONLY = 1, DEF_SENSITIVE = 2, DEF_PER_LISTENER = 4 };

typedef struct config_def {
    const char *name;
    st_config_type_t type;
    const char *default_value; /* NULL: Kafka's null; topic keys use the broker's */
    int64_t min, max;          /* inclusive bounds for numbers */
    const char *const *valid;  /* STRING: one of these; LIST: each element one of these */
    uint8_t flags;
    const char *doc;
} config_def_t;

typedef struct topic_def {
    config_def_t def;          /* default_value is unused: the broker's applies */
    const char *synonyms[3];   /* broker keys in Kafka's precedence order */
    int settings_offset;       /* field in st_topic_settings_t, or NO_FIELD */
} topic_def_t;

#define T_BOOL ST_CONFIG_TYPE_BOOLEAN
#define T_STR ST_CONFIG_TYPE_STRING
#define T_INT ST_CONFIG_TYPE_INT
#define T_SHORT ST_CONFIG_TYPE_SHORT
#define T_LONG ST_CONFIG_TYPE_LONG
#define T_DBL ST_CONFIG_TYPE_DOUBLE
#define T_LIST ST_CONFIG_TYPE_LIST
#define ANY INT64_MIN, INT64_MAX
#define AT_LEAST(n) (n), INT64_MAX
#define BETWEEN(a, b) (a), (b)
#define RO DEF_READ_ONLY
#define DYN 0 /* Kafka can change it at runtime (per-broker or cluster-wide) */
/* Also settable per listener as listener.name.<listener>.<key> (Kafka's
 * ListenerConnectionQuota); st_config_get_listener_long reads it. */
#define PER_LISTENER DEF_PER_LISTENER
#define STR_(x) #x
#define STR(x) STR_(x)
#define LONG_MAX_STR "9223372036854775807"
#define INT_MAX_STR "2147483647"
#define FIELD(f) (int)offsetof(st_topic_settings_t, f)
#define NO_FIELD (-1)

static const char *const k_policies[] = {"compact", "delete", NULL};
/* BrokerCompressionType order, as Kafka prints it in the error message. */
static const char *const k_codecs[] = {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer", NULL};
static const char *const k_timestamp_types[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const k_roles[] = {"broker", "controller", NULL};

/*
 * Broker keys. Read-only mirrors Kafka's "read-only" dynamic update mode.
 * The Strata limits:
 *  - strata.decompressed.batch.max.bytes bounds the memory one produced batch
 *    may inflate into while it is validated; Kafka has no such cap and
 *    relies on the JVM heap. 64 MiB admits a 64:1 ratio on a default-size
 *    (1 MiB) batch, beyond what real zstd/lz4 data reaches, while keeping
 *    decompression memory at 64 MiB times the batches validated at once.
 *    It must be at least message.max.bytes (checked at load).
 *  - strata.max.inflight.requests.per.connection: requests read from one
 *    connection but not yet answered; at the limit the connection stops being
 *    read (backpressure). Kafka reads one at a time; 100 leaves room for
 *    pipelining clients (librdkafka sends up to 1M in flight by default but
 *    waits when the socket stops draining).
 *  - strata.fetch.response.target.bytes: a Fetch response stops taking more
 *    partitions' data once it holds this much (the first batch is always
 *    sent, KIP-74), and never less than the request's min_bytes. Kafka
 *    fills up to fetch.max.bytes (55 MiB), but librdkafka receives each
 *    response into one fresh buffer: a 32 MiB response costs it page faults
 *    on every page and leaves nothing to parse until the whole of it has
 *    arrived; with 1 MiB responses it consumes 2.3x (1 KiB records) and 1.7x
 *    (100 B) faster here (docs/performance.md). The target grows with the
 *    connection's minimum RTT (RTT x 1 GB/s) so that a consumer across a
 *    slow link still gets a full pipe. Partitions take turns at being read
 *    first (sessions move those that sent records to the end, as Kafka's
 *    do; sessionless responses start one partition further each time), so
 *    none waits for the others to run dry. 0 restores Kafka's behaviour.
 *  - strata.log.drop.behind.bytes: how much of an active segment's newest
 *    data stays in the page cache on Strata's account; older data is written
 *    back and dropped (storage/drop_behind.h), so a producer streaming into
 *    a partition reuses pages instead of taking fresh ones. Consumers within
 *    256 MiB of the end read from the cache; those further behind read from
 *    disk, as they would once the kernel evicted it. -1 leaves the page
 *    cache to the kernel as Kafka does.
 * Fetch responses are bounded by Kafka's own fetch.max.bytes.
 * Kafka defaults that Strata does not keep:
 *  - socket.send.buffer.bytes / socket.receive.buffer.bytes default to -1,
 *    not 102400: a fixed 100 KiB buffer switches off the kernel's
 *    autotuning, and a producer sending 1 MB requests then waits for the
 *    window to open several times per request (lz4 1 KiB idempotent produce
 *    here: 421k vs 388k records/s; docs/performance.md).
 */
static const config_def_t k_broker[] = {
    /* KRaft, identity, listeners */
    {"node.id", T_INT, NULL, AT_LEAST(0), NULL, RO, "Id of this node in the KRaft quorum; required: the broker does not start without it"},
    {"process.roles", T_LIST, "", ANY, k_roles, RO, "Roles of this node: broker, controller or both"},
    {"controller.quorum.voters", T_LIST, "", ANY, NULL, RO, "Static controller quorum as id@host:port,..."},
    {"controller.listener.names", T_STR, NULL, ANY, NULL, RO, "Listener names the controller uses"},
    {"listeners", T_STR, "PLAINTEXT://:9092", ANY, NULL, DYN, "Listeners as NAME://host:port,...; Strata serves one client listener, and only PLAINTEXT: another protocol stops the start"},
    {"listener.security.protocol.map", T_STR, "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT", ANY, NULL, DYN, "Security protocol of each listener name, as NAME:PROTOCOL,..."},
    {"advertised.listeners", T_STR, NULL, ANY, NULL, DYN, "Listeners published to clients; defaults to listeners"},
    {"cluster.id", T_STR, NULL, ANY, NULL, RO, "Strata: cluster id for formatting new log dirs (optional)"},
    {"http.listeners", T_STR, "http://127.0.0.1:9644", ANY, NULL, RO, "Strata: admin and metrics HTTP listeners"},
    /* Logs */
    {"log.dirs", T_STR, NULL, ANY, NULL, RO, "Comma-separated data directories; defaults to log.dir"},
    {"log.dir", T_STR, "/tmp/kafka-logs", ANY, NULL, RO, "Data directory used when log.dirs is unset"},
    {"log.segment.bytes", T_INT, "1073741824", AT_LEAST(1048576), NULL, DYN, "Maximum size of one segment file"},
    {"log.roll.ms", T_LONG, NULL, AT_LEAST(1), NULL, DYN, "Roll a segment after this time; overrides log.roll.hours"},
    {"log.roll.hours", T_INT, "168", AT_LEAST(1), NULL, RO, "Roll a segment after this many hours"},
    {"log.roll.jitter.ms", T_LONG, NULL, AT_LEAST(0), NULL, DYN, "Maximum random jitter on segment roll time"},
    {"log.roll.jitter.hours", T_INT, "0", AT_LEAST(0), NULL, RO, "Roll jitter in hours, if log.roll.jitter.ms is unset"},
    {"log.retention.ms", T_LONG, NULL, ANY, NULL, DYN, "Delete segments older than this; -1 unlimited"},
    {"log.retention.minutes", T_INT, NULL, ANY, NULL, RO, "Retention in minutes, if log.retention.ms is unset"},
    {"log.retention.hours", T_INT, "168", ANY, NULL, RO, "Retention in hours, if .ms and .minutes are unset"},
    {"log.retention.bytes", T_LONG, "-1", ANY, NULL, DYN, "Delete old segments beyond this partition size; -1 unlimited"},
    {"log.retention.check.interval.ms", T_LONG, "300000", AT_LEAST(1), NULL, RO, "How often retention is checked"},
    {"log.segment.delete.delay.ms", T_LONG, "60000", AT_LEAST(0), NULL, DYN, "Delay before a deleted segment's files go"},
    {"log.index.interval.bytes", T_INT, "4096", AT_LEAST(0), NULL, DYN, "Bytes between offset index entries"},
    {"log.index.size.max.bytes", T_INT, "10485760", AT_LEAST(4), NULL, DYN, "Maximum size of an offset index file"},
    {"log.flush.interval.messages", T_LONG, LONG_MAX_STR, AT_LEAST(1), NULL, DYN, "fsync after this many messages"},
    {"log.flush.interval.ms", T_LONG, NULL, AT_LEAST(0), NULL, DYN, "fsync after this time; defaults to the scheduler interval"},
    {"log.flush.scheduler.interval.ms", T_LONG, LONG_MAX_STR, ANY, NULL, RO, "How often logs are checked for flushing"},
    {"log.preallocate", T_BOOL, "false", ANY, NULL, DYN, "Preallocate new segment files"},
    {"log.cleaner.enable", T_BOOL, "true", ANY, NULL, RO, "Run the log cleaner; false: compacted topics are never compacted"},
    {"log.cleaner.threads", T_INT, "1", AT_LEAST(0), NULL, DYN, "Accepted for compatibility; compaction runs on the one event-loop thread"},
    {"log.cleaner.backoff.ms", T_LONG, "15000", AT_LEAST(0), NULL, DYN, "How often logs are checked for compaction"},
    {"log.cleanup.policy", T_LIST, "delete", ANY, k_policies, DYN, "Default cleanup policy: delete, compact or both"},
    {"log.cleaner.delete.retention.ms", T_LONG, "86400000", AT_LEAST(0), NULL, DYN, "How long tombstones are kept"},
    {"log.cleaner.min.compaction.lag.ms", T_LONG, "0", AT_LEAST(0), NULL, DYN, "Minimum age before a record is compacted"},
    {"log.cleaner.max.compaction.lag.ms", T_LONG, LONG_MAX_STR, AT_LEAST(1), NULL, DYN, "Maximum age before a record is compacted"},
    {"log.cleaner.min.cleanable.ratio", T_DBL, "0.5", BETWEEN(0, 1), NULL, DYN, "Dirty ratio that triggers cleaning"},
    {"log.message.timestamp.type", T_STR, "CreateTime", ANY, k_timestamp_types, DYN, "CreateTime or LogAppendTime"},
    {"log.message.timestamp.before.max.ms", T_LONG, LONG_MAX_STR, AT_LEAST(0), NULL, DYN, "Largest accepted age of a CreateTime timestamp"},
    {"log.message.timestamp.after.max.ms", T_LONG, "3600000", AT_LEAST(0), NULL, DYN, "Largest accepted future skew of a CreateTime timestamp"},
    {"log.message.downconversion.enable", T_BOOL, "true", ANY, NULL, DYN, "Deprecated no-op: Kafka 4 never down-converts"},
    {"num.recovery.threads.per.data.dir", T_INT, "2", AT_LEAST(1), NULL, DYN, "Accepted for compatibility; logs are recovered on one thread"},
    {"message.max.bytes", T_INT, STR(ST_CONFIG_DEFAULT_MESSAGE_MAX_BYTES), AT_LEAST(0), NULL, DYN, "Largest record batch accepted"},
    {"compression.type", T_STR, "producer", ANY, k_codecs, DYN, "Codec batches are stored with; producer keeps theirs"},
    {"min.insync.replicas", T_INT, "1", AT_LEAST(1), NULL, DYN, "Replicas that must ack an acks=all write"},
    {"unclean.leader.election.enable", T_BOOL, "false", ANY, NULL, DYN, "Allow out-of-sync replicas to become leader"},
    /* Topics */
    {"num.partitions", T_INT, "1", AT_LEAST(1), NULL, RO, "Default partition count of new topics"},
    {"default.replication.factor", T_INT, "1", AT_LEAST(1), NULL, RO, "Default replication factor of new topics"},
    {"auto.create.topics.enable", T_BOOL, "true", ANY, NULL, RO, "Create unknown topics on Metadata requests"},
    {"delete.topic.enable", T_BOOL, "true", ANY, NULL, RO, "Allow DeleteTopics"},
    /* Network */
    {"socket.request.max.bytes", T_INT, STR(ST_CONFIG_DEFAULT_SOCKET_REQUEST_MAX_BYTES), AT_LEAST(1), NULL, RO, "Largest request accepted"},
    {"socket.send.buffer.bytes", T_INT, "-1", ANY, NULL, RO, "SO_SNDBUF of each connection; -1 leaves the OS's autotuning (Kafka's default, 102400, is slower here: docs/performance.md)"},
    {"socket.receive.buffer.bytes", T_INT, "-1", ANY, NULL, RO, "SO_RCVBUF of the listener; -1 leaves the OS's autotuning (Kafka's default, 102400, is slower here: docs/performance.md)"},
    {"max.connections", T_INT, INT_MAX_STR, AT_LEAST(0), NULL, DYN | PER_LISTENER, "Maximum connections to the broker; at the limit new ones wait to be accepted until one closes. Also per listener: listener.name.<listener>.max.connections"},
    {"max.connections.per.ip", T_INT, INT_MAX_STR, AT_LEAST(0), NULL, DYN, "Maximum connections from one IP address; more are closed at accept"},
    {"max.connections.per.ip.overrides", T_STR, "", ANY, NULL, DYN, "Per-IP or hostname overrides of max.connections.per.ip, as host:count,..."},
    {"max.connection.creation.rate", T_INT, INT_MAX_STR, AT_LEAST(0), NULL, DYN | PER_LISTENER, "Maximum new connections accepted per second; beyond it accepting is delayed. Also per listener: listener.name.<listener>.max.connection.creation.rate"},
    {"connections.max.idle.ms", T_LONG, "600000", ANY, NULL, RO, "Close connections idle this long"},
    {"num.network.threads", T_INT, "3", AT_LEAST(1), NULL, DYN, "Accepted for compatibility; Strata runs one event-loop thread"},
    {"num.io.threads", T_INT, "8", AT_LEAST(1), NULL, DYN, "Accepted for compatibility; Strata runs one event-loop thread"},
    {"queued.max.requests", T_INT, "500", AT_LEAST(1), NULL, RO, "Accepted for compatibility; see strata.max.inflight.requests.per.connection"},
    {"max.incremental.fetch.session.cache.slots", T_INT, "1000", AT_LEAST(0), NULL, RO, "Incremental fetch sessions kept"},
    {"fetch.max.bytes", T_INT, STR(ST_CONFIG_DEFAULT_FETCH_MAX_BYTES), AT_LEAST(1024), NULL, RO, "Largest Fetch response"},
    /* Groups and transactions */
    {"offsets.topic.num.partitions", T_INT, "50", AT_LEAST(1), NULL, RO, "Partitions of __consumer_offsets"},
    {"offsets.topic.replication.factor", T_SHORT, "3", AT_LEAST(1), NULL, RO, "Accepted for compatibility; one node, so one replica"},
    {"offsets.retention.minutes", T_INT, "10080", AT_LEAST(1), NULL, RO, "Keep committed offsets of empty groups this long"},
    {"offsets.retention.check.interval.ms", T_LONG, "600000", AT_LEAST(1), NULL, RO, "How often stale offsets are removed"},
    {"group.initial.rebalance.delay.ms", T_INT, "3000", ANY, NULL, RO, "Wait for more members before the first rebalance"},
    {"group.min.session.timeout.ms", T_INT, "6000", ANY, NULL, RO, "Smallest session timeout a member may ask for"},
    {"group.max.session.timeout.ms", T_INT, "1800000", ANY, NULL, RO, "Largest session timeout a member may ask for"},
    {"group.max.size", T_INT, INT_MAX_STR, AT_LEAST(1), NULL, RO, "Maximum members of one classic group"},
    {"transactional.id.expiration.ms", T_INT, "604800000", AT_LEAST(1), NULL, RO, "Accepted for compatibility; transactions are not supported yet"},
    {"transaction.max.timeout.ms", T_INT, "900000", AT_LEAST(1), NULL, RO, "Accepted for compatibility; transactions are not supported yet"},
    {"transaction.state.log.num.partitions", T_INT, "50", AT_LEAST(1), NULL, RO, "Accepted for compatibility; transactions are not supported yet"},
    {"transaction.state.log.replication.factor", T_SHORT, "3", AT_LEAST(1), NULL, RO, "Accepted for compatibility; transactions are not supported yet"},
    {"producer.id.expiration.ms", T_INT, "86400000", AT_LEAST(1), NULL, RO, "Expire idle producer ids after this"},
    /* Strata limits (see above) */
    {"strata.decompressed.batch.max.bytes", T_INT, STR(ST_CONFIG_DEFAULT_DECOMPRESSED_BATCH_MAX_BYTES), AT_LEAST(1), NULL, RO, "Strata: largest decompressed size of one batch"},
    {"strata.fetch.response.target.bytes", T_INT, STR(ST_CONFIG_DEFAULT_FETCH_RESPONSE_TARGET_BYTES), AT_LEAST(0), NULL, RO, "Strata: record bytes after which a Fetch response takes no more partitions (grown with the connection's minimum RTT); 0: fill to fetch.max.bytes as Kafka does"},
    {"strata.log.drop.behind.bytes", T_LONG, STR(ST_CONFIG_DEFAULT_LOG_DROP_BEHIND_BYTES), AT_LEAST(-1), NULL, RO, "Strata: bytes of an active segment's newest data kept in the page cache; older data is written back and dropped from it; -1: leave it to the kernel"},
    {"strata.max.inflight.requests.per.connection", T_INT, STR(ST_CONFIG_DEFAULT_MAX_INFLIGHT_REQUESTS), BETWEEN(1, 10000), NULL, RO, "Strata: unanswered requests per connection before reads stop"},
};

/* Topic keys (Kafka's TopicConfig), alphabetical as DescribeConfigs lists
 * them. message.downconversion.enable is accepted as Kafka 4 does, a no-op. */
static const topic_def_t k_topic[] = {
    {{"cleanup.policy", T_LIST, NULL, ANY, k_policies, 0, "delete, compact or both"}, {"log.cleanup.policy"}, NO_FIELD},
    {{"compression.type", T_STR, NULL, ANY, k_codecs, 0, "Codec batches are stored with"}, {"compression.type"}, NO_FIELD},
    {{"delete.retention.ms", T_LONG, NULL, AT_LEAST(0), NULL, 0, "How long tombstones are kept"}, {"log.cleaner.delete.retention.ms"}, FIELD(delete_retention_ms)},
    {{"file.delete.delay.ms", T_LONG, NULL, AT_LEAST(0), NULL, 0, "Delay before deleted segment files go"}, {"log.segment.delete.delay.ms"}, FIELD(file_delete_delay_ms)},
    {{"flush.messages", T_LONG, NULL, AT_LEAST(1), NULL, 0, "fsync after this many messages"}, {"log.flush.interval.messages"}, FIELD(flush_messages)},
    {{"flush.ms", T_LONG, NULL, AT_LEAST(0), NULL, 0, "fsync after this time"}, {"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}, FIELD(flush_ms)},
    {{"index.interval.bytes", T_INT, NULL, AT_LEAST(0), NULL, 0, "Bytes between offset index entries"}, {"log.index.interval.bytes"}, FIELD(index_interval_bytes)},
    {{"max.compaction.lag.ms", T_LONG, NULL, AT_LEAST(1), NULL, 0, "Maximum age before a record is compacted"}, {"log.cleaner.max.compaction.lag.ms"}, FIELD(max_compaction_lag_ms)},
    {{"max.message.bytes", T_INT, NULL, AT_LEAST(0), NULL, 0, "Largest record batch accepted"}, {"message.max.bytes"}, FIELD(max_message_bytes)},
    {{"message.downconversion.enable", T_BOOL, NULL, ANY, NULL, 0, "Deprecated no-op"}, {"log.message.downconversion.enable"}, NO_FIELD},
    {{"message.timestamp.after.max.ms", T_LONG, NULL, AT_LEAST(0), NULL, 0, "Largest future skew of a CreateTime timestamp"}, {"log.message.timestamp.after.max.ms"}, FIELD(message_timestamp_after_max_ms)},
    {{"message.timestamp.before.max.ms", T_LONG, NULL, AT_LEAST(0), NULL, 0, "Largest age of a CreateTime timestamp"}, {"log.message.timestamp.before.max.ms"}, FIELD(message_timestamp_before_max_ms)},
    {{"message.timestamp.type", T_STR, NULL, ANY, k_timestamp_types, 0, "CreateTime or LogAppendTime"}, {"log.message.timestamp.type"}, NO_FIELD},
    {{"min.cleanable.dirty.ratio", T_DBL, NULL, BETWEEN(0, 1), NULL, 0, "Dirty ratio that triggers cleaning"}, {"log.cleaner.min.cleanable.ratio"}, FIELD(min_cleanable_dirty_ratio)},
    {{"min.compaction.lag.ms", T_LONG, NULL, AT_LEAST(0), NULL, 0, "Minimum age before a record is compacted"}, {"log.cleaner.min.compaction.lag.ms"}, FIELD(min_compaction_lag_ms)},
    {{"min.insync.replicas", T_INT, NULL, AT_LEAST(1), NULL, 0, "Replicas that must ack an acks=all write"}, {"min.insync.replicas"}, FIELD(min_insync_replicas)},
    {{"preallocate", T_BOOL, NULL, ANY, NULL, 0, "Preallocate new segment files"}, {"log.preallocate"}, FIELD(preallocate)},
    {{"retention.bytes", T_LONG, NULL, ANY, NULL, 0, "Delete old segments beyond this size; -1 unlimited"}, {"log.retention.bytes"}, FIELD(retention_bytes)},
    {{"retention.ms", T_LONG, NULL, AT_LEAST(-1), NULL, 0, "Delete segments older than this; -1 unlimited"}, {"log.retention.ms", "log.retention.minutes", "log.retention.hours"}, FIELD(retention_ms)},
    {{"segment.bytes", T_INT, NULL, AT_LEAST(1048576), NULL, 0, "Maximum size of one segment file"}, {"log.segment.bytes"}, FIELD(segment_bytes)},
    {{"segment.index.bytes", T_INT, NULL, AT_LEAST(4), NULL, 0, "Maximum size of an offset index file"}, {"log.index.size.max.bytes"}, FIELD(segment_index_bytes)},
    {{"segment.jitter.ms", T_LONG, NULL, AT_LEAST(0), NULL, 0, "Maximum random jitter on segment roll time"}, {"log.roll.jitter.ms", "log.roll.jitter.hours"}, FIELD(segment_jitter_ms)},
    {{"segment.ms", T_LONG, NULL, AT_LEAST(1), NULL, 0, "Roll a segment after this time"}, {"log.roll.ms", "log.roll.hours"}, FIELD(segment_ms)},
    {{"unclean.leader.election.enable", T_BOOL, NULL, ANY, NULL, 0, "Allow out-of-sync replicas to become leader"}, {"unclean.leader.election.enable"}, FIELD(unclean_leader_election)},
};

#define BROKER_COUNT ((int32_t)(sizeof k_broker / sizeof k_broker[0]))
#define TOPIC_COUNT ((int32_t)(sizeof k_topic / sizeof k_topic[0]))

/* How the limits relate (STYLE 6). A batch that fits message.max.bytes must
 * be able to decompress, and fit in a request. */
_Static_assert(ST_CONFIG_DEFAULT_DECOMPRESSED_BATCH_MAX_BYTES >= ST_CONFIG_DEFAULT_MESSAGE_MAX_BYTES,
               "a default-size batch must be allowed to decompress");
_Static_assert(ST_CONFIG_DEFAULT_SOCKET_REQUEST_MAX_BYTES >= ST_CONFIG_DEFAULT_MESSAGE_MAX_BYTES,
               "a default-size batch must fit in a request");
_Static_assert(ST_CONFIG_DEFAULT_FETCH_MAX_BYTES >= ST_CONFIG_DEFAULT_MESSAGE_MAX_BYTES,
               "a default-size batch must fit in a fetch response");

/* ---- The loaded config ---------------------------------------------------- */

typedef struct typed {
    int64_t l;
    double d;
    bool b;
} typed_t;

typedef struct slot {
    char *configured;   /* normalized value from file/override (owned); NULL when unset */
    bool has_value;     /* false only for unset null-default keys */
    typed_t typed;      /* effective value for numbers and booleans */
    const char *string; /* effective value for STRING/LIST/PASSWORD */
} slot_t;

typedef struct unused_key {
    char *name;
    char *value;
} unused_key_t;

/* A listener.name.<listener>.<key> value of a PER_LISTENER key. */
typedef struct listener_value {
    char *listener; /* as written in the key (Kafka writes it lower-case) */
    int32_t index;  /* of the broker key */
    typed_t typed;
    char *configured;
} listener_value_t;

struct st_config {
    slot_t slots[BROKER_COUNT];
    unused_key_t *unused;
    int32_t unused_count;
    listener_value_t *listener_values;
    int32_t listener_value_count;
};

/* ---- Small helpers -------------------------------------------------------- */

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "st_config: out of memory\n");
        abort();
    }
    return q;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

/* A programming error: a caller named a key that is not in the table or asked
 * for the wrong type. */
static _Noreturn void misuse(const char *what, const char *name) {
    fprintf(stderr, "st_config: %s: %s\n", what, name);
    abort();
}

int32_t st_config_broker_index(const char *name) {
    for (int32_t i = 0; i < BROKER_COUNT; i++) {
        if (strcmp(k_broker[i].name, name) == 0)
            return i;
    }
    return -1;
}

int32_t st_topic_config_index(const char *name) {
    for (int32_t i = 0; i < TOPIC_COUNT; i++) {
        if (strcmp(k_topic[i].def.name, name) == 0)
            return i;
    }
    return -1;
}

/* Java String.trim(): strips every char <= ' ' from both ends. */
static void trim_span(const char *s, size_t *start, size_t *end) {
    size_t a = 0, b = strlen(s);
    while (a < b && (unsigned char)s[a] <= ' ')
        a++;
    while (b > a && (unsigned char)s[b - 1] <= ' ')
        b--;
    *start = a;
    *end = b;
}

static void set_msg(char *msg, size_t len, const char *fmt, ...) {
    if (!msg || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

static const char *type_name(st_config_type_t t) {
    switch (t) {
    case T_BOOL: return "BOOLEAN";
    case T_STR: return "STRING";
    case T_INT: return "INT";
    case T_SHORT: return "SHORT";
    case T_LONG: return "LONG";
    case T_DBL: return "DOUBLE";
    case T_LIST: return "LIST";
    default: return "UNKNOWN";
    }
}

static bool in_valid(const char *const *valid, const char *s, size_t n) {
    for (; *valid; valid++) {
        if (strlen(*valid) == n && memcmp(*valid, s, n) == 0)
            return true;
    }
    return false;
}

static void join_valid(const char *const *valid, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (const char *const *v = valid; *v; v++) {
        int w = snprintf(buf + used, len - used, "%s%s", v == valid ? "" : ", ", *v);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

/* Java Long.parseLong over s[0..n): optional sign, then only digits. */
static bool parse_int64(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out) {
    size_t i = 0;
    bool negative = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        negative = s[i++] == '-';
    if (i == n)
        return false;
    /* Accumulate negatively so INT64_MIN parses. */
    int64_t acc = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int digit = s[i] - '0';
        if (acc < (INT64_MIN + digit) / 10)
            return false;
        acc = acc * 10 - digit;
    }
    if (!negative) {
        if (acc == INT64_MIN)
            return false;
        acc = -acc;
    }
    if (acc < lo || acc > hi)
        return false;
    *out = acc;
    return true;
}

/* ---- Value parsing (ConfigDef.parseType + validators) --------------------- */

static int invalid_value(char *msg, size_t len, const char *name, const char *value,
                         const char *reason) {
    set_msg(msg, len, "Invalid value %s for configuration %s: %s", value, name, reason);
    return ST_ERR_INVALID_CONFIG;
}

/*
 * Parses `value` as `def` says into `out`. When `normalized` is not NULL it
 * receives a new string with the value as Kafka would print it (caller
 * frees). Returns 0 or ST_ERR_INVALID_CONFIG with the message in `msg`.
 */
static int parse_value(const config_def_t *def, const char *value, typed_t *out, char **normalized,
                       char *msg, size_t msg_len) {
    size_t a, b;
    trim_span(value, &a, &b);
    const char *s = value + a;
    size_t n = b - a;
    char trimmed[128]; /* the value as messages quote it */
    snprintf(trimmed, sizeof trimmed, "%.*s", (int)(n < sizeof trimmed ? n : sizeof trimmed - 1), s);
    char reason[160];
    memset(out, 0, sizeof *out);

    switch (def->type) {
    case T_BOOL:
        if (n == 4 && strncasecmp(s, "true", 4) == 0)
            out->b = true;
        else if (n == 5 && strncasecmp(s, "false", 5) == 0)
            out->b = false;
        else
            return invalid_value(msg, msg_len, def->name, trimmed, "Expected value to be either true or false");
        if (normalized)
            *normalized = xstrdup(out->b ? "true" : "false");
        return 0;
    case T_SHORT:
    case T_INT:
    case T_LONG: {
        int64_t lo = def->type == T_SHORT ? INT16_MIN : def->type == T_INT ? INT32_MIN : INT64_MIN;
        int64_t hi = def->type == T_SHORT ? INT16_MAX : def->type == T_INT ? INT32_MAX : INT64_MAX;
        if (!parse_int64(s, n, lo, hi, &out->l)) {
            snprintf(reason, sizeof reason, "Not a number of type %s", type_name(def->type));
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (out->l < def->min) {
            snprintf(reason, sizeof reason, "Value must be at least %" PRId64, def->min);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (out->l > def->max) {
            snprintf(reason, sizeof reason, "Value must be no more than %" PRId64, def->max);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (normalized) {
            char buf[24];
            snprintf(buf, sizeof buf, "%" PRId64, out->l);
            *normalized = xstrdup(buf);
        }
        return 0;
    }
    case T_DBL: {
        char buf[64];
        char *end = NULL;
        if (n == 0 || n >= sizeof buf)
            return invalid_value(msg, msg_len, def->name, trimmed, "Not a number of type DOUBLE");
        memcpy(buf, s, n);
        buf[n] = '\0';
        out->d = strtod(buf, &end);
        if (end != buf + n || !isfinite(out->d))
            return invalid_value(msg, msg_len, def->name, trimmed, "Not a number of type DOUBLE");
        if (out->d < (double)def->min) {
            snprintf(reason, sizeof reason, "Value must be at least %" PRId64, def->min);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (out->d > (double)def->max) {
            snprintf(reason, sizeof reason, "Value must be no more than %" PRId64, def->max);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (normalized)
            *normalized = xstrdup(buf);
        return 0;
    }
    case T_LIST: {
        /* Split on commas, trim each element; an all-blank value is the empty
         * list. Each element is checked against the valid set, and the error
         * names the element, as ValidList does. */
        char *joined = xrealloc(NULL, n + 1);
        size_t used = 0;
        size_t pos = 0;
        while (n > 0) {
            size_t comma = pos;
            while (comma < n && s[comma] != ',')
                comma++;
            size_t ea = pos, eb = comma;
            while (ea < eb && (unsigned char)s[ea] <= ' ')
                ea++;
            while (eb > ea && (unsigned char)s[eb - 1] <= ' ')
                eb--;
            if (def->valid && !in_valid(def->valid, s + ea, eb - ea)) {
                char element[64], valid[128];
                snprintf(element, sizeof element, "%.*s", (int)(eb - ea < 63 ? eb - ea : 63), s + ea);
                join_valid(def->valid, valid, sizeof valid);
                snprintf(reason, sizeof reason, "String must be one of: %s", valid);
                free(joined);
                return invalid_value(msg, msg_len, def->name, element, reason);
            }
            if (used > 0)
                joined[used++] = ',';
            memcpy(joined + used, s + ea, eb - ea);
            used += eb - ea;
            if (comma >= n)
                break;
            pos = comma + 1;
        }
        joined[used] = '\0';
        if (normalized)
            *normalized = joined;
        else
            free(joined);
        return 0;
    }
    default: /* STRING, PASSWORD, CLASS */
        if (def->valid && !in_valid(def->valid, s, n)) {
            char valid[128];
            join_valid(def->valid, valid, sizeof valid);
            snprintf(reason, sizeof reason, "String must be one of: %s", valid);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (normalized)
            *normalized = xstrndup(s, n);
        return 0;
    }
}

/* ---- java.util.Properties reader ----------------------------------------- */

typedef struct prop {
    char *key;
    char *value;
    int line; /* 1-based line in the file; 0 for an override */
} prop_t;

typedef struct props {
    prop_t *items;
    int32_t count;
    int32_t cap;
} props_t;

static void props_add(props_t *p, char *key, char *value, int line) {
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->items = xrealloc(p->items, (size_t)p->cap * sizeof *p->items);
    }
    p->items[p->count++] = (prop_t){key, value, line};
}

static void props_free(props_t *p) {
    for (int32_t i = 0; i < p->count; i++) {
        free(p->items[i].key);
        free(p->items[i].value);
    }
    free(p->items);
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\f'; }
static bool is_eol(char c) { return c == '\n' || c == '\r'; }

static size_t consume_eol(const char *t, size_t len, size_t pos) {
    if (t[pos] == '\r' && pos + 1 < len && t[pos + 1] == '\n')
        return pos + 2;
    return pos + 1;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/*
 * Appends the escape starting after the backslash at line[*i] to out, and
 * advances *i past it. \t \n \r \f map to controls, \uXXXX to UTF-8 (BMP,
 * no surrogates), anything else to itself. Returns false on a malformed \u.
 */
static bool unescape(const char *line, size_t n, size_t *i, char *out, size_t *used) {
    char c = line[*i];
    (*i)++;
    switch (c) {
    case 't': out[(*used)++] = '\t'; return true;
    case 'n': out[(*used)++] = '\n'; return true;
    case 'r': out[(*used)++] = '\r'; return true;
    case 'f': out[(*used)++] = '\f'; return true;
    case 'u': {
        unsigned cp = 0;
        if (*i + 4 > n)
            return false;
        for (int k = 0; k < 4; k++) {
            int h = hex_value(line[*i + (size_t)k]);
            if (h < 0)
                return false;
            cp = cp * 16 + (unsigned)h;
        }
        *i += 4;
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return false;
        /* "\uXXXX" is 6 bytes of input; UTF-8 needs at most 3: never grows. */
        if (cp < 0x80) {
            out[(*used)++] = (char)cp;
        } else if (cp < 0x800) {
            out[(*used)++] = (char)(0xC0 | (cp >> 6));
            out[(*used)++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[(*used)++] = (char)(0xE0 | (cp >> 12));
            out[(*used)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[(*used)++] = (char)(0x80 | (cp & 0x3F));
        }
        return true;
    }
    default: out[(*used)++] = c; return true;
    }
}

/* Splits one logical line into key and value, applying escapes. */
static bool split_logical_line(const char *line, size_t n, char **key, char **value) {
    char *k = xrealloc(NULL, n + 1), *v = xrealloc(NULL, n + 1);
    size_t kn = 0, vn = 0, i = 0;
    while (i < n) {
        char c = line[i];
        if (c == '\\') {
            i++;
            if (i < n && !unescape(line, n, &i, k, &kn))
                goto err_free;
            continue;
        }
        if (c == '=' || c == ':' || is_ws(c))
            break;
        k[kn++] = c;
        i++;
    }
    while (i < n && is_ws(line[i]))
        i++;
    if (i < n && (line[i] == '=' || line[i] == ':'))
        i++;
    while (i < n && is_ws(line[i]))
        i++;
    while (i < n) {
        if (line[i] == '\\') {
            i++;
            if (i < n && !unescape(line, n, &i, v, &vn))
                goto err_free;
            continue;
        }
        v[vn++] = line[i++];
    }
    k[kn] = '\0';
    v[vn] = '\0';
    *key = k;
    *value = v;
    return true;
err_free:
    free(k);
    free(v);
    return false;
}

/*
 * java.util.Properties.load over `text`: natural lines end in \n, \r or
 * \r\n; leading blanks are skipped; '#' or '!' starts a comment line; a line
 * ending in an odd number of backslashes continues on the next, whose
 * leading blanks are skipped; the key ends at the first unescaped '=', ':'
 * or blank.
 */
static int parse_properties(const char *text, size_t len, const char *path, props_t *out, char *err,
                            size_t err_len) {
    char *buf = xrealloc(NULL, len + 1);
    size_t pos = 0;
    int line_no = 1;
    while (pos < len) {
        while (pos < len && is_ws(text[pos]))
            pos++;
        if (pos >= len)
            break;
        if (is_eol(text[pos])) {
            pos = consume_eol(text, len, pos);
            line_no++;
            continue;
        }
        if (text[pos] == '#' || text[pos] == '!') {
            while (pos < len && !is_eol(text[pos]))
                pos++;
            if (pos < len)
                pos = consume_eol(text, len, pos);
            line_no++;
            continue;
        }
        int start_line = line_no;
        size_t n = 0;
        for (;;) {
            size_t s = pos;
            while (pos < len && !is_eol(text[pos]))
                pos++;
            size_t e = pos, backslashes = 0;
            while (e - backslashes > s && text[e - backslashes - 1] == '\\')
                backslashes++;
            bool continues = backslashes % 2 == 1;
            size_t copy_end = continues ? e - 1 : e;
            memcpy(buf + n, text + s, copy_end - s);
            n += copy_end - s;
            if (pos < len) {
                pos = consume_eol(text, len, pos);
                line_no++;
            }
            if (!continues || pos >= len)
                break;
            while (pos < len && is_ws(text[pos]))
                pos++;
        }
        char *key, *value;
        if (!split_logical_line(buf, n, &key, &value)) {
            set_msg(err, err_len, "%s:%d: Malformed \\uxxxx encoding", path, start_line);
            free(buf);
            return ST_ERR_INVALID_CONFIG;
        }
        props_add(out, key, value, start_line);
    }
    free(buf);
    return 0;
}

static int read_file(const char *path, char **text, size_t *len, char *err, size_t err_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_msg(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return ST_ERR_IO;
    }
    char *buf = xrealloc(NULL, ST_CONFIG_FILE_MAX_BYTES + 1);
    size_t n = fread(buf, 1, ST_CONFIG_FILE_MAX_BYTES + 1, f);
    int rc = 0;
    if (ferror(f)) {
        set_msg(err, err_len, "%s: read failed", path);
        rc = ST_ERR_IO;
    } else if (n > ST_CONFIG_FILE_MAX_BYTES) {
        set_msg(err, err_len, "%s: larger than %d bytes", path, ST_CONFIG_FILE_MAX_BYTES);
        rc = ST_ERR_LIMIT;
    }
    fclose(f);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return 0;
}

/* ---- Loading --------------------------------------------------------------- */

static void keep_unused(st_config_t *c, const char *name, const char *value) {
    for (int32_t i = 0; i < c->unused_count; i++) {
        if (strcmp(c->unused[i].name, name) == 0) {
            free(c->unused[i].value);
            c->unused[i].value = xstrdup(value);
            return;
        }
    }
    c->unused = xrealloc(c->unused, (size_t)(c->unused_count + 1) * sizeof *c->unused);
    c->unused[c->unused_count++] = (unused_key_t){xstrdup(name), xstrdup(value)};
}

static slot_t *slot_named(st_config_t *c, const char *name) {
    int i = st_config_broker_index(name);
    if (i < 0)
        misuse("not a broker config", name);
    return &c->slots[i];
}

/* Kafka's derived values (KafkaConfig.logRetentionTimeMillis etc.). */
static void apply_derivations(st_config_t *c) {
    const int64_t ms_per_minute = 60 * 1000, ms_per_hour = 60 * ms_per_minute;
    slot_t *ms = slot_named(c, "log.retention.ms");
    if (!ms->has_value) {
        slot_t *minutes = slot_named(c, "log.retention.minutes");
        ms->typed.l = minutes->has_value ? minutes->typed.l * ms_per_minute
                                         : slot_named(c, "log.retention.hours")->typed.l * ms_per_hour;
        ms->has_value = true;
    }
    if (ms->typed.l < 0)
        ms->typed.l = -1;

    slot_t *roll = slot_named(c, "log.roll.ms");
    if (!roll->has_value) {
        roll->typed.l = slot_named(c, "log.roll.hours")->typed.l * ms_per_hour;
        roll->has_value = true;
    }
    slot_t *jitter = slot_named(c, "log.roll.jitter.ms");
    if (!jitter->has_value) {
        jitter->typed.l = slot_named(c, "log.roll.jitter.hours")->typed.l * ms_per_hour;
        jitter->has_value = true;
    }
    slot_t *flush = slot_named(c, "log.flush.interval.ms");
    if (!flush->has_value) {
        flush->typed.l = slot_named(c, "log.flush.scheduler.interval.ms")->typed.l;
        flush->has_value = true;
    }
    slot_t *dirs = slot_named(c, "log.dirs");
    if (!dirs->has_value) {
        dirs->string = slot_named(c, "log.dir")->string;
        dirs->has_value = dirs->string != NULL;
    }
}

static void format_origin(const prop_t *p, const char *path, char *buf, size_t len) {
    if (p->line > 0)
        snprintf(buf, len, "%s:%d", path, p->line);
    else
        snprintf(buf, len, "--override %s=%s", p->key, p->value);
}

/* "listener.name.<listener>.<key>" of a PER_LISTENER key: parsed as that
 * key is, last occurrence winning. Returns 0 when taken, a positive error
 * (with `err`) for a bad value, -1 when the key is not one of these. */
#define LISTENER_PREFIX "listener.name."
static int load_listener_value(st_config_t *c, const prop_t *p, const char *path, char *err, size_t err_len) {
    if (strncmp(p->key, LISTENER_PREFIX, strlen(LISTENER_PREFIX)) != 0)
        return -1;
    const char *listener = p->key + strlen(LISTENER_PREFIX);
    const char *dot = strchr(listener, '.');
    if (!dot || dot == listener)
        return -1;
    int idx = st_config_broker_index(dot + 1);
    if (idx < 0 || !(k_broker[idx].flags & DEF_PER_LISTENER))
        return -1;
    listener_value_t v = {xstrndup(listener, (size_t)(dot - listener)), idx, {0}, NULL};
    char msg[256];
    if (parse_value(&k_broker[idx], p->value, &v.typed, &v.configured, msg, sizeof msg) != 0) {
        char origin[300];
        format_origin(p, path, origin, sizeof origin);
        /* The message names the key as written, prefix and all. */
        const char *at = strstr(msg, k_broker[idx].name);
        if (at)
            set_msg(err, err_len, "%s: %.*s%s%s", origin, (int)(at - msg), msg, p->key, at + strlen(k_broker[idx].name));
        else
            set_msg(err, err_len, "%s: %s", origin, msg);
        free(v.listener);
        return ST_ERR_INVALID_CONFIG;
    }
    for (int32_t i = 0; i < c->listener_value_count; i++) {
        listener_value_t *old = &c->listener_values[i];
        if (old->index == idx && strcmp(old->listener, v.listener) == 0) {
            free(old->listener);
            free(old->configured);
            *old = v;
            return 0;
        }
    }
    c->listener_values = xrealloc(c->listener_values, (size_t)(c->listener_value_count + 1) * sizeof v);
    c->listener_values[c->listener_value_count++] = v;
    return 0;
}

int st_config_load(st_config_t **out, const char *path, int override_count, char *const *overrides,
                   char *err, size_t err_len) {
    *out = NULL;
    set_msg(err, err_len, "%s", "");
    props_t props = {0};
    int rc = 0;
    if (path) {
        char *text;
        size_t len;
        rc = read_file(path, &text, &len, err, err_len);
        if (rc != 0)
            return rc;
        rc = parse_properties(text, len, path, &props, err, err_len);
        free(text);
        if (rc != 0)
            goto err_free_props;
    }
    for (int i = 0; i < override_count; i++) {
        /* Kafka's CommandLineUtils.parseKeyValueArgs: split at the first '=',
         * and a missing or empty value is an error. */
        const char *eq = strchr(overrides[i], '=');
        if (!eq || eq[1] == '\0') {
            set_msg(err, err_len, "--override %s: Missing value for key %.*s", overrides[i],
                    (int)(eq ? (size_t)(eq - overrides[i]) : strlen(overrides[i])), overrides[i]);
            rc = ST_ERR_INVALID_CONFIG;
            goto err_free_props;
        }
        props_add(&props, xstrndup(overrides[i], (size_t)(eq - overrides[i])), xstrdup(eq + 1), 0);
    }

    st_config_t *c = xrealloc(NULL, sizeof *c);
    memset(c, 0, sizeof *c);
    /* Last occurrence wins; overrides come after the file. */
    const prop_t *chosen[BROKER_COUNT];
    memset(chosen, 0, sizeof chosen);
    for (int32_t i = 0; i < props.count; i++) {
        int idx = st_config_broker_index(props.items[i].key);
        if (idx >= 0) {
            chosen[idx] = &props.items[i];
            continue;
        }
        rc = load_listener_value(c, &props.items[i], path, err, err_len);
        if (rc < 0)
            keep_unused(c, props.items[i].key, props.items[i].value);
        else if (rc > 0)
            goto err_free_config;
    }
    rc = 0;
    for (int32_t i = 0; i < BROKER_COUNT; i++) {
        const config_def_t *def = &k_broker[i];
        slot_t *slot = &c->slots[i];
        if (chosen[i]) {
            char msg[256];
            if (parse_value(def, chosen[i]->value, &slot->typed, &slot->configured, msg, sizeof msg) != 0) {
                char origin[300];
                format_origin(chosen[i], path, origin, sizeof origin);
                set_msg(err, err_len, "%s: %s", origin, msg);
                rc = ST_ERR_INVALID_CONFIG;
                goto err_free_config;
            }
            slot->has_value = true;
            slot->string = slot->configured;
        } else if (def->default_value) {
            char msg[256];
            if (parse_value(def, def->default_value, &slot->typed, NULL, msg, sizeof msg) != 0)
                misuse("bad default in table", msg);
            slot->has_value = true;
            slot->string = def->default_value;
        }
    }
    apply_derivations(c);

    int64_t decompressed = slot_named(c, "strata.decompressed.batch.max.bytes")->typed.l;
    int64_t message_max = slot_named(c, "message.max.bytes")->typed.l;
    if (decompressed < message_max) {
        set_msg(err, err_len,
                "%s: strata.decompressed.batch.max.bytes (%" PRId64 ") must be at least "
                "message.max.bytes (%" PRId64 ")",
                path ? path : "overrides", decompressed, message_max);
        rc = ST_ERR_INVALID_CONFIG;
        goto err_free_config;
    }
    /* KafkaConfig's rule: a zero default only makes sense with overrides. */
    if (slot_named(c, "max.connections.per.ip")->typed.l == 0 &&
        slot_named(c, "max.connections.per.ip.overrides")->string[0] == '\0') {
        set_msg(err, err_len, "%s: max.connections.per.ip can be set to zero only if "
                "max.connections.per.ip.overrides property is set.", path ? path : "overrides");
        rc = ST_ERR_INVALID_CONFIG;
        goto err_free_config;
    }
    props_free(&props);
    *out = c;
    return 0;

err_free_config:
    st_config_free(c);
err_free_props:
    props_free(&props);
    return rc;
}

void st_config_free(st_config_t *c) {
    if (!c)
        return;
    for (int32_t i = 0; i < BROKER_COUNT; i++) {
        free(c->slots[i].configured);
    }
    for (int32_t i = 0; i < c->unused_count; i++) {
        free(c->unused[i].name);
        free(c->unused[i].value);
    }
    free(c->unused);
    for (int32_t i = 0; i < c->listener_value_count; i++) {
        free(c->listener_values[i].listener);
        free(c->listener_values[i].configured);
    }
    free(c->listener_values);
    free(c);
}

/* ---- Getters --------------------------------------------------------------- */

static const slot_t *typed_slot(const st_config_t *c, const char *name, unsigned type_mask) {
    int i = st_config_broker_index(name);
    if (i < 0)
        misuse("unknown broker config", name);
    if (!(type_mask & (1u << k_broker[i].type)))
        misuse("config read with the wrong type", name);
    return &c->slots[i];
}

#define MASK(t) (1u << (t))

int64_t st_config_get_long(const st_config_t *c, const char *name) {
    const slot_t *s = typed_slot(c, name, MASK(T_LONG) | MASK(T_INT) | MASK(T_SHORT));
    if (!s->has_value)
        misuse("numeric config has no value", name);
    return s->typed.l;
}

int32_t st_config_get_int(const st_config_t *c, const char *name) {
    const slot_t *s = typed_slot(c, name, MASK(T_INT) | MASK(T_SHORT));
    if (!s->has_value)
        misuse("numeric config has no value", name);
    return (int32_t)s->typed.l;
}

bool st_config_get_bool(const st_config_t *c, const char *name) {
    return typed_slot(c, name, MASK(T_BOOL))->typed.b;
}

double st_config_get_double(const st_config_t *c, const char *name) {
    return typed_slot(c, name, MASK(T_DBL))->typed.d;
}

const char *st_config_get_string(const st_config_t *c, const char *name) {
    const slot_t *s = typed_slot(c, name, MASK(T_STR) | MASK(T_LIST) | MASK(ST_CONFIG_TYPE_PASSWORD));
    return s->has_value ? s->string : NULL;
}

int64_t st_config_get_listener_long(const st_config_t *c, const char *listener, const char *name) {
    int idx = st_config_broker_index(name);
    if (idx < 0 || !(k_broker[idx].flags & DEF_PER_LISTENER))
        misuse("not a per-listener config", name);
    /* Kafka's ListenerName.configPrefix lower-cases the name; accept either. */
    for (int32_t i = 0; listener && i < c->listener_value_count; i++)
        if (c->listener_values[i].index == idx && strcasecmp(c->listener_values[i].listener, listener) == 0)
            return c->listener_values[i].typed.l;
    return st_config_get_long(c, name);
}

bool st_config_is_set(const st_config_t *c, const char *name) {
    int i = st_config_broker_index(name);
    if (i < 0)
        misuse("unknown broker config", name);
    return c->slots[i].configured != NULL;
}

int32_t st_config_unused_count(const st_config_t *c) { return c->unused_count; }

void st_config_unused(const st_config_t *c, int32_t i, const char **name, const char **value) {
    if (i < 0 || i >= c->unused_count)
        misuse("unused key index out of range", "");
    *name = c->unused[i].name;
    *value = c->unused[i].value;
}

/* ---- Listeners --------------------------------------------------------------- */

static const char *const k_security_protocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
#define SECURITY_PROTOCOL_COUNT ((int)(sizeof k_security_protocols / sizeof k_security_protocols[0]))
_Static_assert(SECURITY_PROTOCOL_COUNT == ST_SECURITY_PROTOCOL_SASL_SSL + 1, "one name per protocol");

const char *st_security_protocol_name(st_security_protocol_t protocol) {
    return (int)protocol >= 0 && (int)protocol < SECURITY_PROTOCOL_COUNT ? k_security_protocols[protocol] : "UNKNOWN";
}

/* SecurityProtocol.forName: any case. */
static bool security_protocol_parse(const char *s, size_t n, st_security_protocol_t *out) {
    for (int i = 0; i < SECURITY_PROTOCOL_COUNT; i++) {
        if (strlen(k_security_protocols[i]) == n && strncasecmp(k_security_protocols[i], s, n) == 0) {
            *out = (st_security_protocol_t)i;
            return true;
        }
    }
    return false;
}

/* Kafka's isSslOrSasl: the exact protocol names, as configured. */
static bool names_ssl_or_sasl(const char *s, size_t n) {
    for (int i = ST_SECURITY_PROTOCOL_SSL; i < SECURITY_PROTOCOL_COUNT; i++)
        if (strlen(k_security_protocols[i]) == n && memcmp(k_security_protocols[i], s, n) == 0)
            return true;
    return false;
}

/* The next comma-separated element of *cursor, trimmed; empty elements are
 * skipped (Kafka's Csv.parseCsvList). False at the end. */
static bool csv_next(const char **cursor, const char **start, size_t *len) {
    for (;;) {
        const char *s = *cursor;
        if (*s == '\0')
            return false;
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        *cursor = comma ? comma + 1 : end;
        const char *e = end;
        while (s < e && (unsigned char)*s <= ' ')
            s++;
        while (e > s && (unsigned char)e[-1] <= ' ')
            e--;
        if (e > s) {
            *start = s;
            *len = (size_t)(e - s);
            return true;
        }
    }
}

typedef struct protocol_map_entry {
    char name[ST_LISTENER_NAME_MAX_CHARS + 1];
    st_security_protocol_t protocol;
} protocol_map_entry_t;

typedef struct protocol_map {
    int32_t count;
    protocol_map_entry_t entries[ST_LISTENER_MAP_ENTRIES_MAX];
} protocol_map_t;

/* HashMap.put: a later entry for a name replaces the earlier one. */
static int protocol_map_put(protocol_map_t *map, const char *name, size_t n, st_security_protocol_t protocol,
                            char *err, size_t err_len) {
    if (n > ST_LISTENER_NAME_MAX_CHARS) {
        set_msg(err, err_len, "controller.listener.names: listener name %.*s is longer than %d characters", (int)n,
                name, ST_LISTENER_NAME_MAX_CHARS);
        return ST_ERR_INVALID_CONFIG;
    }
    for (int32_t i = 0; i < map->count; i++) {
        if (strlen(map->entries[i].name) == n && memcmp(map->entries[i].name, name, n) == 0) {
            map->entries[i].protocol = protocol;
            return 0;
        }
    }
    if (map->count == ST_LISTENER_MAP_ENTRIES_MAX) {
        set_msg(err, err_len, "listener.security.protocol.map has more than %d entries", ST_LISTENER_MAP_ENTRIES_MAX);
        return ST_ERR_INVALID_CONFIG;
    }
    protocol_map_entry_t *e = &map->entries[map->count++];
    memcpy(e->name, name, n);
    e->name[n] = '\0';
    e->protocol = protocol;
    return 0;
}

static bool protocol_map_get(const protocol_map_t *map, const char *name, st_security_protocol_t *out) {
    for (int32_t i = 0; i < map->count; i++) {
        if (strcmp(map->entries[i].name, name) == 0) {
            *out = map->entries[i].protocol;
            return true;
        }
    }
    return false;
}

static void upper_copy(char *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
    out[n] = '\0';
}

/* Kafka's effectiveListenerSecurityProtocolMap: the configured (or default)
 * map with normalised names, plus, while the map is not set explicitly and
 * nothing uses SSL or SASL, each controller listener name -> PLAINTEXT. */
static int effective_protocol_map(const st_config_t *c, protocol_map_t *map, char *err, size_t err_len) {
    map->count = 0;
    const char *value = st_config_get_string(c, "listener.security.protocol.map");
    const char *cursor = value ? value : "", *s;
    size_t n;
    while (csv_next(&cursor, &s, &n)) {
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':') colon = s + i;
        if (!colon) {
            set_msg(err, err_len, "Error parsing configuration property 'listener.security.protocol.map': "
                    "entry '%.*s' is not NAME:PROTOCOL", (int)n, s);
            return ST_ERR_INVALID_CONFIG;
        }
        size_t ka, kb, pa, pb;
        char key[ST_LISTENER_NAME_MAX_CHARS + 1], protocol_text[64];
        char *whole = xstrndup(s, n);
        size_t colon_at = (size_t)(colon - s);
        whole[colon_at] = '\0';
        trim_span(whole, &ka, &kb);
        trim_span(whole + colon_at + 1, &pa, &pb);
        snprintf(protocol_text, sizeof protocol_text, "%.*s", (int)(pb - pa), whole + colon_at + 1 + pa);
        st_security_protocol_t protocol;
        int rc = 0;
        if (!security_protocol_parse(whole + colon_at + 1 + pa, pb - pa, &protocol)) {
            set_msg(err, err_len, "Invalid security protocol `%s` defined in listener.security.protocol.map",
                    protocol_text);
            rc = ST_ERR_INVALID_CONFIG;
        } else if (kb - ka > ST_LISTENER_NAME_MAX_CHARS) {
            set_msg(err, err_len, "listener.security.protocol.map: listener name %.*s is longer than %d characters",
                    (int)(kb - ka), whole + ka, ST_LISTENER_NAME_MAX_CHARS);
            rc = ST_ERR_INVALID_CONFIG;
        } else {
            upper_copy(key, whole + ka, kb - ka);
            rc = protocol_map_put(map, key, kb - ka, protocol, err, err_len);
        }
        free(whole);
        if (rc != 0)
            return rc;
    }
    if (st_config_is_set(c, "listener.security.protocol.map"))
        return 0;
    const char *controllers = st_config_get_string(c, "controller.listener.names");
    bool ssl_or_sasl = false;
    cursor = controllers ? controllers : "";
    while (csv_next(&cursor, &s, &n))
        ssl_or_sasl |= names_ssl_or_sasl(s, n);
    const char *listeners = st_config_get_string(c, "listeners");
    cursor = listeners ? listeners : "";
    while (csv_next(&cursor, &s, &n)) {
        /* Kafka's parseListenerName: up to the first ':', upper-cased. */
        const char *colon = memchr(s, ':', n);
        if (colon && (size_t)(colon - s) <= ST_LISTENER_NAME_MAX_CHARS) {
            char name[ST_LISTENER_NAME_MAX_CHARS + 1];
            upper_copy(name, s, (size_t)(colon - s));
            ssl_or_sasl |= names_ssl_or_sasl(name, strlen(name));
        }
    }
    if (ssl_or_sasl)
        return 0;
    cursor = controllers ? controllers : "";
    while (csv_next(&cursor, &s, &n)) {
        if (n == strlen("PLAINTEXT") && memcmp(s, "PLAINTEXT", n) == 0)
            continue;
        int rc = protocol_map_put(map, s, n, ST_SECURITY_PROTOCOL_PLAINTEXT, err, err_len);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool host_char_ok(char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-' ||
           ch == '%' || ch == '.' || ch == '_' || ch == ':';
}

/*
 * One entry, as Kafka's URI_PARSE_REGEXP ^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)
 * matches it: the name is what precedes the last "://" (no host character
 * is a '/'), the port what follows the last ':'. The message is the part
 * after "Error creating broker listeners from '...': ".
 */
static int parse_endpoint(const char *s, size_t n, const protocol_map_t *map, st_listener_t *out, char *msg,
                          size_t msg_len) {
    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= n; i++)
        if (memcmp(s + i, "://", 3) == 0) sep = s + i;
    const char *rest = sep ? sep + 3 : NULL, *end = s + n;
    const char *colon = NULL;
    for (const char *p = rest; p && p < end; p++)
        if (*p == ':') colon = p;
    const char *host = rest, *host_end = colon;
    bool ok = colon != NULL;
    if (ok && host < host_end && *host == '[') host++;
    if (ok && host_end > host && host_end[-1] == ']') host_end--;
    for (const char *p = host; ok && p < host_end; p++)
        ok = host_char_ok(*p);
    int64_t port = 0;
    ok = ok && parse_int64(colon + 1, (size_t)(end - colon - 1), INT32_MIN, INT32_MAX, &port) &&
         colon[1] != '+';
    if (!ok) {
        set_msg(msg, msg_len, "Unable to parse %.*s to a broker endpoint", (int)n, s);
        return ST_ERR_INVALID_CONFIG;
    }
    size_t name_len = (size_t)(sep - s), host_len = (size_t)(host_end - host);
    if (name_len > ST_LISTENER_NAME_MAX_CHARS || host_len > ST_LISTENER_HOST_MAX_CHARS) {
        set_msg(msg, msg_len, "%s of %.*s is longer than %d characters",
                name_len > ST_LISTENER_NAME_MAX_CHARS ? "the listener name" : "the host", (int)n, s,
                name_len > ST_LISTENER_NAME_MAX_CHARS ? ST_LISTENER_NAME_MAX_CHARS : ST_LISTENER_HOST_MAX_CHARS);
        return ST_ERR_INVALID_CONFIG;
    }
    if (port < 0 || port > 65535) {
        set_msg(msg, msg_len, "port %" PRId64 " of %.*s is out of range [0, 65535]", port, (int)n, s);
        return ST_ERR_INVALID_CONFIG;
    }
    memset(out, 0, sizeof *out);
    upper_copy(out->name, s, name_len);
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = (int32_t)port;
    if (!protocol_map_get(map, out->name, &out->security_protocol)) {
        set_msg(msg, msg_len, "No security protocol defined for listener %s", out->name);
        return ST_ERR_INVALID_CONFIG;
    }
    return 0;
}

/* 4 for an IPv4 literal, 6 for IPv6 (a %zone allowed), 0 otherwise. */
static int ip_family(const char *host) {
    unsigned char addr[16];
    if (inet_pton(AF_INET, host, addr) == 1)
        return 4;
    char copy[ST_LISTENER_HOST_MAX_CHARS + 1];
    snprintf(copy, sizeof copy, "%s", host);
    copy[strcspn(copy, "%")] = '\0';
    return inet_pton(AF_INET6, copy, addr) == 1 ? 6 : 0;
}

/* AbstractKafkaConfig.validate's rule for the listeners sharing `port`:
 * writes Kafka's message and returns true when they may not. */
static bool port_conflict(const st_listeners_t *l, int32_t port, const char *value, char *msg, size_t msg_len) {
    int32_t with_ip = 0, without_ip = 0, v4 = 0, v6 = 0;
    for (int32_t i = 0; i < l->count; i++) {
        if (l->items[i].port != port)
            continue;
        int family = l->items[i].host[0] ? ip_family(l->items[i].host) : 0;
        with_ip += family != 0;
        without_ip += family == 0;
        v4 += family == 4;
        v6 += family == 6;
    }
    if (with_ip + without_ip < 2)
        return false;
    if (without_ip > 1) {
        set_msg(msg, msg_len, "Each listener must have a different port, listeners: %s", value);
        return true;
    }
    if (with_ip == 0 || (with_ip == 2 && v4 == 1 && v6 == 1 && without_ip == 0))
        return false;
    if (with_ip == 2)
        set_msg(msg, msg_len, "If you have two listeners on the same port then one needs to be IPv4 and the other "
                "IPv6, listeners: %s, port: %d", value, port);
    else
        set_msg(msg, msg_len, "Each listener must have a different port unless exactly one listener has an IPv4 "
                "address and the other IPv6 address, listeners: %s, port: %d", value, port);
    return true;
}

static bool csv_contains(const char *list, const char *word) {
    const char *cursor = list ? list : "", *s;
    size_t n;
    while (csv_next(&cursor, &s, &n))
        if (strlen(word) == n && memcmp(s, word, n) == 0)
            return true;
    return false;
}

static int parse_listener_list(const st_config_t *c, const char *value, bool distinct_ports, st_listeners_t *out,
                               char *err, size_t err_len) {
    out->count = 0;
    protocol_map_t map;
    int rc = effective_protocol_map(c, &map, err, err_len);
    if (rc != 0)
        return rc;
    const char *controllers = st_config_get_string(c, "controller.listener.names");
    char msg[512] = "";
    const char *cursor = value, *s;
    size_t n;
    while (rc == 0 && csv_next(&cursor, &s, &n)) {
        if (out->count == ST_LISTENERS_MAX) {
            set_msg(msg, sizeof msg, "more than %d listeners", ST_LISTENERS_MAX);
            rc = ST_ERR_INVALID_CONFIG;
            break;
        }
        st_listener_t *l = &out->items[out->count];
        rc = parse_endpoint(s, n, &map, l, msg, sizeof msg);
        if (rc == 0) {
            /* Kafka compares the names as configured to the normalised ones. */
            l->controller = csv_contains(controllers, l->name);
            out->count++;
        }
    }
    for (int32_t i = 0; rc == 0 && i < out->count; i++) {
        for (int32_t j = i + 1; rc == 0 && j < out->count; j++) {
            if (strcmp(out->items[i].name, out->items[j].name) == 0) {
                set_msg(msg, sizeof msg, "Each listener must have a different name, listeners: %s", value);
                rc = ST_ERR_INVALID_CONFIG;
            }
        }
    }
    for (int32_t i = 0; rc == 0 && distinct_ports && i < out->count; i++)
        if (out->items[i].port != 0 && port_conflict(out, out->items[i].port, value, msg, sizeof msg))
            rc = ST_ERR_INVALID_CONFIG;
    if (rc != 0) {
        set_msg(err, err_len, "Error creating broker listeners from '%s': %s", value, msg);
        out->count = 0;
    }
    return rc;
}

int st_config_listeners(const st_config_t *c, st_listeners_t *out, char *err, size_t err_len) {
    const char *value = st_config_get_string(c, "listeners");
    return parse_listener_list(c, value ? value : "", true, out, err, err_len);
}

/* "A,B" into buf: the names of `l`, without controller listeners when
 * brokers_only. */
static void join_listener_names(const st_listeners_t *l, bool brokers_only, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < l->count; i++) {
        if (brokers_only && l->items[i].controller)
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", l->items[i].name);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

int st_config_advertised_listeners(const st_config_t *c, st_listeners_t *out, char *err, size_t err_len) {
    out->count = 0;
    const char *value = st_config_get_string(c, "advertised.listeners");
    if (!value)
        return 0;
    int rc = parse_listener_list(c, value, false, out, err, err_len);
    if (rc != 0)
        return rc;
    st_listeners_t bound;
    rc = st_config_listeners(c, &bound, err, err_len);
    for (int32_t i = 0; rc == 0 && i < out->count; i++) {
        const st_listener_t *a = &out->items[i];
        bool known = a->controller;
        for (int32_t j = 0; !known && j < bound.count; j++)
            known = strcmp(bound.items[j].name, a->name) == 0;
        if (!known) {
            char found[256], valid[256];
            join_listener_names(out, true, found, sizeof found);
            join_listener_names(&bound, false, valid, sizeof valid);
            set_msg(err, err_len,
                    "advertised.listeners listener names must be equal to or a subset of the ones defined in "
                    "listeners. Found %s. The valid options based on the current configuration are %s",
                    found, valid);
            rc = ST_ERR_INVALID_CONFIG;
        } else if (strcmp(a->host, "0.0.0.0") == 0) {
            set_msg(err, err_len, "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. "
                    "Use a routable IP address.");
            rc = ST_ERR_INVALID_CONFIG;
        }
    }
    if (rc != 0)
        out->count = 0;
    return rc;
}

/* ---- DescribeConfigs views ------------------------------------------------- */

static void add_synonym(st_config_entry_view_t *out, const char *name, const char *value,
                        int8_t source, bool sensitive) {
    if (out->synonym_count >= ST_CONFIG_SYNONYMS_MAX)
        return;
    out->synonyms[out->synonym_count++] =
        (st_config_synonym_view_t){name, sensitive ? NULL : value, source};
}

/* Each broker synonym as configured (STATIC) and as defaulted (DEFAULT). */
static void add_broker_synonyms(const st_config_t *c, const char *const *names, int count,
                                st_config_entry_view_t *out) {
    for (int k = 0; k < count && names[k]; k++) {
        int j = st_config_broker_index(names[k]);
        if (j < 0)
            misuse("topic synonym is not a broker config", names[k]);
        bool sensitive = k_broker[j].flags & DEF_SENSITIVE;
        if (c->slots[j].configured)
            add_synonym(out, k_broker[j].name, c->slots[j].configured, ST_CONFIG_SOURCE_STATIC_BROKER, sensitive);
        if (k_broker[j].default_value)
            add_synonym(out, k_broker[j].name, k_broker[j].default_value, ST_CONFIG_SOURCE_DEFAULT, sensitive);
    }
}

int32_t st_config_broker_entry_count(const st_config_t *c) {
    (void)c;
    return BROKER_COUNT;
}

void st_config_broker_entry(const st_config_t *c, int32_t i, st_config_entry_view_t *out) {
    if (i < 0 || i >= BROKER_COUNT)
        misuse("broker entry index out of range", "");
    const config_def_t *def = &k_broker[i];
    const slot_t *slot = &c->slots[i];
    memset(out, 0, sizeof *out);
    out->name = def->name;
    out->sensitive = def->flags & DEF_SENSITIVE;
    out->read_only = def->flags & DEF_READ_ONLY;
    out->type = (int8_t)def->type;
    out->doc = def->doc;
    out->is_default = slot->configured == NULL;
    out->value = out->sensitive ? NULL : slot->configured ? slot->configured : def->default_value;
    /* A key that heads a topic synonym chain (log.retention.ms) lists the
     * whole chain, as Kafka's brokerSynonyms does. */
    const char *self[1] = {def->name};
    const char *const *chain = self;
    int chain_len = 1;
    for (int32_t t = 0; t < TOPIC_COUNT; t++) {
        if (strcmp(k_topic[t].synonyms[0], def->name) == 0) {
            chain = k_topic[t].synonyms;
            chain_len = 3;
            break;
        }
    }
    add_broker_synonyms(c, chain, chain_len, out);
    out->source = out->synonym_count > 0 ? out->synonyms[0].source : ST_CONFIG_SOURCE_DEFAULT;
}

int32_t st_topic_config_entry_count(void) { return TOPIC_COUNT; }

static const char *find_override(const char *name, int32_t n, const char *const *names,
                                 const char *const *values) {
    const char *found = NULL;
    for (int32_t k = 0; k < n; k++) {
        if (names[k] && values[k] && strcmp(names[k], name) == 0)
            found = values[k];
    }
    return found;
}

/* The effective broker value a topic key falls back to, as text. */
static const char *effective_text(const st_config_t *c, const topic_def_t *topic, char *buf, size_t len) {
    int j = st_config_broker_index(topic->synonyms[0]);
    const slot_t *slot = &c->slots[j];
    switch (k_broker[j].type) {
    case T_BOOL: return slot->typed.b ? "true" : "false";
    case T_SHORT:
    case T_INT:
    case T_LONG: snprintf(buf, len, "%" PRId64, slot->typed.l); return buf;
    case T_DBL: return slot->configured ? slot->configured : k_broker[j].default_value;
    default: return slot->string;
    }
}

void st_topic_config_entry(const st_config_t *broker, int32_t n, const char *const *names,
                           const char *const *values, int32_t i, st_config_entry_view_t *out) {
    if (i < 0 || i >= TOPIC_COUNT)
        misuse("topic entry index out of range", "");
    const topic_def_t *topic = &k_topic[i];
    const config_def_t *def = &topic->def;
    memset(out, 0, sizeof *out);
    out->name = def->name;
    out->sensitive = def->flags & DEF_SENSITIVE;
    out->read_only = false;
    out->type = (int8_t)def->type;
    out->doc = def->doc;
    const char *override = find_override(def->name, n, names, values);
    if (override)
        add_synonym(out, def->name, override, ST_CONFIG_SOURCE_DYNAMIC_TOPIC, out->sensitive);
    add_broker_synonyms(broker, topic->synonyms, 3, out);
    out->is_default = override == NULL;
    out->source = out->synonym_count > 0 ? out->synonyms[0].source : ST_CONFIG_SOURCE_DEFAULT;
    if (out->sensitive)
        out->value = NULL;
    else if (override)
        out->value = override;
    else
        out->value = effective_text(broker, topic, out->value_buf, sizeof out->value_buf);
}

/* ---- Topic validation and settings ---------------------------------------- */

int st_topic_config_validate(const char *name, const char *value, char *msg, size_t msg_len) {
    int i = st_topic_config_index(name);
    if (i < 0) {
        set_msg(msg, msg_len, "Unknown topic config name: %s", name);
        return ST_ERR_INVALID_CONFIG;
    }
    if (!value) {
        set_msg(msg, msg_len, "Null value not supported for topic configs: %s", name);
        return ST_ERR_INVALID_CONFIG;
    }
    typed_t typed;
    return parse_value(&k_topic[i].def, value, &typed, NULL, msg, msg_len);
}

static int codec_from_name(const char *s) {
    static const struct { const char *name; int codec; } codecs[] = {
        {"producer", -1}, {"uncompressed", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4},
    };
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        if (strcmp(codecs[k].name, s) == 0)
            return codecs[k].codec;
    }
    return -1;
}

static bool list_contains(const char *list, const char *word) {
    size_t wn = strlen(word);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == wn && memcmp(p, word, wn) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

/* Stores one topic key's value into its st_topic_settings_t field. */
static void apply_setting(st_topic_settings_t *out, const topic_def_t *topic, const typed_t *v, const char *s) {
    const config_def_t *def = &topic->def;
    if (topic->settings_offset >= 0) {
        char *field = (char *)out + topic->settings_offset;
        switch (def->type) {
        case T_LONG: *(int64_t *)(void *)field = v->l; break;
        case T_INT: *(int32_t *)(void *)field = (int32_t)v->l; break;
        case T_BOOL: *(bool *)(void *)field = v->b; break;
        case T_DBL: *(double *)(void *)field = v->d; break;
        default: misuse("settings field of a string key", def->name);
        }
        return;
    }
    if (strcmp(def->name, "cleanup.policy") == 0) {
        out->cleanup_delete = list_contains(s, "delete");
        out->cleanup_compact = list_contains(s, "compact");
    } else if (strcmp(def->name, "compression.type") == 0) {
        out->compression_type = codec_from_name(s);
    } else if (strcmp(def->name, "message.timestamp.type") == 0) {
        out->log_append_time = strcmp(s, "LogAppendTime") == 0;
    }
}

int st_topic_settings_resolve(const st_config_t *broker, int32_t n, const char *const *names,
                              const char *const *values, st_topic_settings_t *out) {
    memset(out, 0, sizeof *out);
    for (int32_t t = 0; t < TOPIC_COUNT; t++) {
        const slot_t *slot = &broker->slots[st_config_broker_index(k_topic[t].synonyms[0])];
        apply_setting(out, &k_topic[t], &slot->typed, slot->string);
    }
    int rc = 0;
    for (int32_t k = 0; k < n; k++) {
        int t = names[k] ? st_topic_config_index(names[k]) : -1;
        typed_t typed;
        char *normalized = NULL;
        if (t < 0 || !values[k] ||
            parse_value(&k_topic[t].def, values[k], &typed, &normalized, NULL, 0) != 0) {
            rc = ST_ERR_INVALID_CONFIG;
            continue;
        }
        apply_setting(out, &k_topic[t], &typed, normalized);
        free(normalized);
    }
    return rc;
}

int st_topic_config_validate_set(const st_config_t *broker, int32_t n, const char *const *names,
                                 const char *const *values, char *msg, size_t msg_len) {
    /* Kafka reports every null-valued key at once, before anything else. */
    bool any_null = false;
    char nulls[256] = "";
    size_t used = 0;
    for (int32_t k = 0; k < n; k++) {
        if (values[k] || !names[k])
            continue;
        int w = snprintf(nulls + used, sizeof nulls - used, "%s%s", any_null ? "," : "", names[k]);
        any_null = true;
        if (w > 0)
            used += (size_t)w < sizeof nulls - used ? (size_t)w : sizeof nulls - used - 1;
    }
    if (any_null) {
        set_msg(msg, msg_len, "Null value not supported for topic configs: %s", nulls);
        return ST_ERR_INVALID_CONFIG;
    }
    for (int32_t k = 0; k < n; k++) {
        int rc = st_topic_config_validate(names[k] ? names[k] : "", values[k], msg, msg_len);
        if (rc != 0)
            return rc;
    }
    st_topic_settings_t s;
    st_topic_settings_resolve(broker, n, names, values, &s);
    if (s.min_compaction_lag_ms > s.max_compaction_lag_ms) {
        set_msg(msg, msg_len, "conflict topic config setting min.compaction.lag.ms (%" PRId64
                ") > max.compaction.lag.ms (%" PRId64 ")", s.min_compaction_lag_ms, s.max_compaction_lag_ms);
        return ST_ERR_INVALID_CONFIG;
    }
    return 0;
}
