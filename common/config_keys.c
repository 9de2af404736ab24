/*
 * The key tables: one line per broker key and per topic key, with Kafka's
 * name, type, default, validator and doc (invariants: config_internal.h).
 * tools/config_doc.py generates docs/configuration.md from this file.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/config_internal.h"
#include "common/limits.h"

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
const config_def_t config_broker_keys[] = {
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
    {"log.segment.bytes", T_INT, STR(ST_CONFIG_DEFAULT_LOG_SEGMENT_BYTES), AT_LEAST(ST_CONFIG_MIN_LOG_SEGMENT_BYTES), NULL, DYN, "Maximum size of one segment file"},
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
    {"strata.legacy.api.versions.enable", T_BOOL, "true", ANY, NULL, RO, "Strata: also serve the old API versions Kafka 3.9 served and Kafka 4 removed (KIP-896): Produce v0-2 and Fetch v0-3 with message format v0/v1 converted, OffsetCommit v0-1, OffsetFetch v0, CreateTopics v0-1, DeleteTopics v0, OffsetForLeaderEpoch v0-1, DescribeConfigs v0, DescribeLogDirs v0"},
    {"strata.log.drop.behind.bytes", T_LONG, STR(ST_CONFIG_DEFAULT_LOG_DROP_BEHIND_BYTES), AT_LEAST(-1), NULL, RO, "Strata: bytes of an active segment's newest data kept in the page cache; older data is written back and dropped from it; -1: leave it to the kernel"},
    {"strata.max.inflight.requests.per.connection", T_INT, STR(ST_CONFIG_DEFAULT_MAX_INFLIGHT_REQUESTS), BETWEEN(1, 10000), NULL, RO, "Strata: unanswered requests per connection before reads stop"},
};

/* Topic keys (Kafka's TopicConfig), alphabetical as DescribeConfigs lists
 * them. message.downconversion.enable is accepted as Kafka 4 does, a no-op. */
const topic_def_t config_topic_keys[] = {
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
    {{"segment.bytes", T_INT, NULL, AT_LEAST(ST_CONFIG_MIN_LOG_SEGMENT_BYTES), NULL, 0, "Maximum size of one segment file"}, {"log.segment.bytes"}, FIELD(segment_bytes)},
    {{"segment.index.bytes", T_INT, NULL, AT_LEAST(4), NULL, 0, "Maximum size of an offset index file"}, {"log.index.size.max.bytes"}, FIELD(segment_index_bytes)},
    {{"segment.jitter.ms", T_LONG, NULL, AT_LEAST(0), NULL, 0, "Maximum random jitter on segment roll time"}, {"log.roll.jitter.ms", "log.roll.jitter.hours"}, FIELD(segment_jitter_ms)},
    {{"segment.ms", T_LONG, NULL, AT_LEAST(1), NULL, 0, "Roll a segment after this time"}, {"log.roll.ms", "log.roll.hours"}, FIELD(segment_ms)},
    {{"unclean.leader.election.enable", T_BOOL, NULL, ANY, NULL, 0, "Allow out-of-sync replicas to become leader"}, {"unclean.leader.election.enable"}, FIELD(unclean_leader_election)},
};

_Static_assert(sizeof config_broker_keys / sizeof config_broker_keys[0] == CONFIG_BROKER_KEY_COUNT,
               "CONFIG_BROKER_KEY_COUNT (config_internal.h) counts the broker keys");
_Static_assert(sizeof config_topic_keys / sizeof config_topic_keys[0] == CONFIG_TOPIC_KEY_COUNT,
               "CONFIG_TOPIC_KEY_COUNT (config_internal.h) counts the topic keys");

int32_t st_config_broker_index(const char *name) {
    for (int32_t i = 0; i < CONFIG_BROKER_KEY_COUNT; i++) {
        if (strcmp(config_broker_keys[i].name, name) == 0)
            return i;
    }
    return -1;
}

int32_t st_topic_config_index(const char *name) {
    for (int32_t i = 0; i < CONFIG_TOPIC_KEY_COUNT; i++) {
        if (strcmp(config_topic_keys[i].def.name, name) == 0)
            return i;
    }
    return -1;
}

