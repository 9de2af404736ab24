/*
 * A small blocking Kafka client for the `strata` CLI, built on the
 * project's own codec (protocol/), never on librdkafka.
 *
 * Three layers, each using the one below:
 *   st_client_t   one TCP connection: connect with a timeout, ApiVersions
 *                 negotiation (per API the highest version both sides
 *                 speak), framed requests with typed encode/decode, and
 *                 pipelining (several requests sent before their responses
 *                 are read; Kafka answers in order on one connection).
 *   st_cluster_t  the bootstrap connection plus lazily opened connections
 *                 to other brokers by node id, learnt from Metadata.
 *   st_producer_t / st_fetcher_t  produce and read one topic (batching,
 *                 partitioner, in-flight cap / ListOffsets and Fetch).
 *
 * Every read is bounded: a response frame larger than
 * ST_CLIENT_RESPONSE_BYTES_MAX closes the connection with an error, each
 * wait honours the client's timeout, and decode failures are reported,
 * never asserted. Functions return 0 or an st_err_t / Kafka code and leave
 * a human-readable reason in st_client_error() or the object's `error`.
 */
#ifndef ST_TOOLS_CLIENT_H
#define ST_TOOLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/buf.h"
#include "protocol/codec.h"
#include "protocol/compression.h"
#include "protocol/record_batch.h"
#include "protocol/messages.h"

/* Limits (STYLE 6), all in one place. */
#define ST_CLIENT_RESPONSE_BYTES_MAX (256 * 1024 * 1024)
#define ST_CLIENT_TIMEOUT_MS_DEFAULT 30000
#define ST_CLIENT_API_KEYS_MAX 128        /* api keys tracked by negotiation */
#define ST_CLIENT_IN_FLIGHT_MAX 64        /* pipelined requests per connection */
#define ST_CLIENT_DECOMPRESSED_BYTES_MAX (256 * 1024 * 1024)
#define ST_CLIENT_ERROR_BYTES 512
#define ST_CLIENT_ID "strata-cli"

_Static_assert(ST_CLIENT_DECOMPRESSED_BYTES_MAX <= INT32_MAX, "decompressed cap must fit an int32");
_Static_assert(ST_CLIENT_RESPONSE_BYTES_MAX <= INT32_MAX, "frame sizes are int32 on the wire");

/* ListOffsets special timestamps (Kafka's ListOffsetsRequest). */
#define ST_OFFSET_LATEST (-1)
#define ST_OFFSET_EARLIEST (-2)

/* ---- one connection ----------------------------------------------------- */

typedef struct st_client {
    int fd;                 /* -1 when closed */
    int timeout_ms;         /* bound on connect and on each response wait */
    int32_t next_correlation_id;
    int16_t versions[ST_CLIENT_API_KEYS_MAX]; /* negotiated; -1: not usable */
    int32_t in_flight;      /* requests sent whose responses are unread */
    st_writer_t out;        /* scratch for encoding one request */
    uint8_t *frame;         /* last response frame (receive buffer) */
    size_t frame_cap;
    char peer[300];         /* "host:port" for messages */
    char error[ST_CLIENT_ERROR_BYTES];
} st_client_t;

/* Zeroes `c` (fd -1). Safe to st_client_close() afterwards. */
void st_client_init(st_client_t *c, int timeout_ms);
/* Connects to the first reachable entry of "host:port[,host:port...]" and
 * negotiates versions. Returns 0, ST_ERR_IO (unreachable, timeout) or
 * ST_ERR_DECODE / a Kafka code from ApiVersions. */
int st_client_connect(st_client_t *c, const char *bootstrap);
int st_client_connect_host(st_client_t *c, const char *host, int port);
void st_client_close(st_client_t *c);
const char *st_client_error(const st_client_t *c);
/* The negotiated version of `api_key`, or -1 when no common version. */
int16_t st_client_version(const st_client_t *c, int16_t api_key);

/* Encodes `request` (the API's typed request struct) at the negotiated
 * version and writes the frame. Returns 0 or ST_ERR_IO / ST_ERR_NOT_FOUND
 * (API unsupported). */
int st_client_send(st_client_t *c, int16_t api_key, const void *request, int32_t *correlation_id);
/* Reads the next response frame, checks it answers `correlation_id`, and
 * decodes it into `response` (the API's typed response struct). Strings are
 * copied into `arena`; records fields point into the client's receive
 * buffer and stay valid until the next receive on this client. */
int st_client_receive(st_client_t *c, int16_t api_key, int32_t correlation_id, st_arena_t *arena,
                      void *response);
/* send + receive. */
int st_client_call(st_client_t *c, int16_t api_key, const void *request, st_arena_t *arena,
                   void *response);
/* True when a response is (at least partly) readable within `timeout_ms`. */
bool st_client_readable(st_client_t *c, int timeout_ms);

/* ---- brokers by node id -------------------------------------------------- */

typedef struct st_cluster_node {
    int32_t node_id;
    char host[256];
    int32_t port;
    st_client_t *client; /* NULL until first used; owned by the cluster */
} st_cluster_node_t;

typedef struct st_cluster {
    st_client_t bootstrap;
    int timeout_ms;
    st_cluster_node_t *nodes;
    int32_t node_count;
    char error[ST_CLIENT_ERROR_BYTES];
} st_cluster_t;

int st_cluster_open(st_cluster_t *cl, const char *bootstrap, int timeout_ms);
void st_cluster_close(st_cluster_t *cl);
/* Metadata for `topic_count` topics (topic_count < 0: all topics) through
 * the bootstrap connection; also refreshes the node table. The response
 * lives in `arena`. */
int st_cluster_metadata(st_cluster_t *cl, const char *const *topics, int32_t topic_count,
                        st_arena_t *arena, st_metadata_response_t *md);
/* Connection to a node from the last Metadata, opened on first use. NULL
 * (and cl->error) when unknown or unreachable. */
st_client_t *st_cluster_client(st_cluster_t *cl, int32_t node_id);

/* One topic's partitions as Metadata reported them, waiting (within the
 * cluster's timeout) while the topic has no leaders yet, as a freshly
 * created topic may. Returns 0, or ST_ERR_UNKNOWN_TOPIC_OR_PARTITION etc. */
typedef struct st_topic_layout {
    st_uuid_t topic_id;
    int32_t partition_count;
    int32_t *leaders; /* by partition index; malloc'd, st_topic_layout_free */
} st_topic_layout_t;
int st_topic_layout_load(st_cluster_t *cl, const char *topic, st_topic_layout_t *layout);
void st_topic_layout_free(st_topic_layout_t *layout);

/* ---- producer ------------------------------------------------------------ */

/* Called once per record when its fate is known: offset >= 0 on success
 * (-1 for acks=0), or error != 0 with a message. `tag` is the value given
 * to st_producer_send (e.g. the enqueue time). */
typedef void (*st_producer_done_fn)(void *opaque, int32_t partition, int64_t offset, int64_t tag,
                                    int error, const char *message);

typedef struct st_producer_config {
    const char *topic;
    int16_t acks;                /* 0, 1 or -1 (all) */
    st_codec_t codec;
    int32_t batch_bytes_max;     /* batch.size */
    int32_t linger_ms;           /* linger.ms */
    int32_t request_bytes_max;   /* max.request.size */
    int32_t in_flight_max;       /* max.in.flight.requests.per.connection */
    int32_t request_timeout_ms;  /* Produce TimeoutMs */
    st_producer_done_fn done;
    void *opaque;
} st_producer_config_t;

/* Kafka's producer defaults (Kafka 4.x: linger.ms 5). */
void st_producer_config_defaults(st_producer_config_t *config);

typedef struct st_producer_partition st_producer_partition_t;
typedef struct st_producer_node st_producer_node_t;

typedef struct st_producer {
    st_producer_config_t config;
    st_cluster_t *cluster;
    st_topic_layout_t layout;
    st_producer_partition_t *partitions;
    st_producer_node_t *nodes;
    int32_t node_count;
    int32_t sticky_partition;
    int64_t pending_records; /* sent to st_producer_send, fate unknown */
    uint32_t random_state;
    int error;               /* sticky: a connection failed */
    char error_text[ST_CLIENT_ERROR_BYTES];
} st_producer_t;

int st_producer_open(st_producer_t *p, st_cluster_t *cluster, const st_producer_config_t *config);
/* Appends one record (key_len/value_len -1: null), picking the partition
 * as Java's default partitioner does: murmur2 of the key, or a sticky
 * partition for keyless records that changes when a batch is sent.
 * `partition` >= 0 forces one. May block while the in-flight cap is full.
 * Returns 0 or the sticky connection error. */
int st_producer_send(st_producer_t *p, int32_t partition, const uint8_t *key, int32_t key_len,
                     const uint8_t *value, int32_t value_len, const st_record_header_t *headers,
                     int32_t header_count, int64_t tag);
/* Sends batches whose linger expired and handles responses that arrive
 * within `timeout_ms` (0: only those already readable). */
int st_producer_poll(st_producer_t *p, int timeout_ms);
/* Sends everything and waits for every response. */
int st_producer_flush(st_producer_t *p);
/* st_cluster_open then st_producer_open, for the command-line tools: an
 * error is printed as "ERROR ..." and 1 returned; st_cluster_close is due
 * either way. */
int st_producer_open_cli(st_cluster_t *cl, st_producer_t *p, const char *bootstrap, int timeout_ms,
                         const st_producer_config_t *config);
void st_producer_close(st_producer_t *p);

/* Java's Utils.murmur2, the default partitioner's hash. */
int32_t st_murmur2(const uint8_t *data, size_t len);
/* toPositive(murmur2(key)) % partitions, as Java's BuiltInPartitioner. */
int32_t st_partition_for_key(const uint8_t *key, size_t len, int32_t partition_count);

/* ---- fetcher ------------------------------------------------------------- */

typedef struct st_fetched_record {
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    bool log_append_time;
    const st_record_t *record;
} st_fetched_record_t;

/* Return true to keep going, false to stop (the position then rests just
 * past this record). */
typedef bool (*st_fetcher_record_fn)(void *opaque, const st_fetched_record_t *record);

typedef struct st_fetcher_partition {
    int32_t partition;
    int32_t leader_id;
    int64_t position;
    int64_t high_watermark;
} st_fetcher_partition_t;

typedef struct st_fetcher {
    st_cluster_t *cluster;
    const char *topic;
    st_topic_layout_t layout;
    st_fetcher_partition_t *parts;
    int32_t part_count;
    int32_t max_wait_ms;
    int32_t partition_bytes_max;  /* max.partition.fetch.bytes */
    int32_t fetch_bytes_max;      /* fetch.max.bytes */
    int64_t reset_to;             /* ST_OFFSET_EARLIEST/LATEST when out of range */
    char error[ST_CLIENT_ERROR_BYTES];
} st_fetcher_t;

/* Positions each selected partition (`partition` < 0: all) at `start`:
 * ST_OFFSET_EARLIEST, ST_OFFSET_LATEST or an absolute offset. */
int st_fetcher_open(st_fetcher_t *f, st_cluster_t *cluster, const char *topic, int32_t partition,
                    int64_t start);
/* One Fetch round to every leader; calls `fn` for each new record in
 * offset order per partition. Sets *delivered to the records passed to fn.
 * Returns 0 or an error. */
int st_fetcher_poll(st_fetcher_t *f, st_fetcher_record_fn fn, void *opaque, int64_t *delivered);
void st_fetcher_close(st_fetcher_t *f);

/* ---- helpers shared by the commands ------------------------------------- */

int64_t st_now_ms(void);
/* calloc that aborts with a message when out of memory (never NULL, even
 * for 0 elements). */
void *st_xcalloc(size_t n, size_t size);
/* Kafka's Uuid.toString: URL-safe base64 without padding (22 chars + NUL). */
void st_uuid_to_base64(const st_uuid_t *u, char out[23]);
/* Kafka's default exception message for an error code, or its name. */
const char *st_kafka_error_message(int code);

/* Option parsing in the style of Kafka's scripts: "--name value" or
 * "--name=value". When argv[*i] names `name`, returns its value and moves
 * *i to the last argument consumed; returns NULL otherwise. A missing value
 * prints "Option ... requires an argument" and exits with status 1 (the
 * CLI's only exit outside main, so every command reports it alike). */
const char *st_arg_value(int argc, char **argv, int *i, const char *name);
bool st_arg_flag(char **argv, int i, const char *name);
/* Whole-string integer in [min, max]. */
bool st_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Subcommands (tools/cmd_*.c). argv[0] is the subcommand name. */
int st_cmd_topics(int argc, char **argv, int timeout_ms);
int st_cmd_produce(int argc, char **argv, int timeout_ms);
int st_cmd_consume(int argc, char **argv, int timeout_ms);
int st_cmd_perf(int argc, char **argv, int timeout_ms);
int st_cmd_consumer_groups(int argc, char **argv, int timeout_ms);

#endif
