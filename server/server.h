/*
 * The map of the broker (Redis server.h style): the long-lived state and
 * who owns it.
 *
 *   st_broker_t      one per process; owns the config, the event loop, the
 *                    metadata log, the topic table, connections and the
 *                    fetch sessions. Single-threaded: every field is touched
 *                    only from the loop thread.
 *   st_topic_t       owned by the broker's topic table; created and removed
 *                    only by applying metadata records (broker.c).
 *   st_partition_t   owned by its topic; owns the partition's st_log_t and
 *                    producer state (partition.c).
 *   st_conn_t        one per client socket (network.c); owns its requests.
 *   st_request_t     one per request frame; owns an arena holding the frame,
 *                    the decoded request and the encoded response; freed
 *                    when the response has been written (or dropped).
 */
#ifndef ST_SERVER_SERVER_H
#define ST_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"
#include "protocol/arena.h"
#include "protocol/buf.h"
#include "common/errors.h"
#include "protocol/messages.h"
#include "protocol/record_batch.h"
#include "server/config.h"
#include "server/event_loop.h"
#include "storage/log.h"
#include "storage/producer_state.h"

typedef struct st_broker st_broker_t;
typedef struct st_topic st_topic_t;
typedef struct st_partition st_partition_t;
typedef struct st_conn st_conn_t;
typedef struct st_request st_request_t;
typedef struct st_metadata_log st_metadata_log_t;
typedef struct st_fetch_waiter st_fetch_waiter_t;
typedef struct st_fetch_sessions st_fetch_sessions_t;
typedef struct st_acceptor st_acceptor_t;
struct sockaddr_in;

/* ---- topics and partitions ---------------------------------------------- */

struct st_partition {
    st_broker_t *broker;
    st_topic_t *topic;
    int32_t index;
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

/* ---- requests and connections -------------------------------------------- */

/* Responses holding file ranges that may wait to be sent on one connection
 * before it stops reading requests (backpressure). Clients keep one Fetch in
 * flight per broker (librdkafka, the Java client, kafka-python), so this
 * never slows a consumer; it bounds what a client that never reads can pin:
 * no descriptor for a segment still open (references, storage/file_ref.h),
 * and for segments deleted while its responses wait at most this many
 * responses' worth (docs/architecture.md, "Connections and their limits"). */
#define ST_CONN_FILE_RESPONSES_MAX 4

/* Work limits of the loop (validating produced batches), so that other
 * connections are served in between: one batch that inflates to
 * strata.decompressed.batch.max.bytes takes ~0.3 s to validate, which once
 * stalled every other client that long (docs/performance.md,
 * "Decompression bombs and other clients' latency"). A request works at
 * most ST_REQUEST_SLICE_US at a time, and the handlers of one turn's events
 * at most ST_TURN_WORK_US together (a batch of normal size takes well under
 * a slice, so it is finished at once unless the turn is that busy); the
 * rest waits for later turns (st_request_defer), where deferred requests
 * share one slice per turn. */
#define ST_REQUEST_SLICE_US 1000
#define ST_TURN_WORK_US 4000
_Static_assert(ST_TURN_WORK_US >= ST_REQUEST_SLICE_US, "a turn holds at least one request's slice");

struct st_request {
    st_broker_t *broker; /* the broker it was read by */
    st_conn_t *conn; /* NULL once the connection closed under it */
    st_arena_t arena;
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    int16_t header_version;
    st_str_t client_id;
    const char *client_host; /* "/1.2.3.4", as Kafka shows it */
    const uint8_t *body; /* in the arena */
    size_t body_len;
    int64_t received_ms;
    int64_t received_us; /* monotonic, for the latency histogram */
    bool done;        /* response ready (or none to send) */
    bool no_response; /* acks=0 produce */
    st_writer_t response;
    size_t response_sent;
    /* References to the segment files the response reads from
     * (storage/file_ref.h); released when the request is freed. */
    st_file_ref_t **files;
    int32_t file_count;
    int32_t file_cap;
    bool counted_file_response; /* counts towards its connection's file_responses */
    st_request_t *next;
    void *pending; /* e.g. a parked fetch */
    /* When set, a connection closing while the request is pending calls it
     * to drop the pending work and then frees the request; when NULL the
     * request is detached and its owner frees it (a group join, whose
     * member must still be accounted for). */
    void (*cancel_pending)(st_request_t *req);
    /* Set while deferred (st_request_defer). */
    void (*resume)(st_broker_t *b, st_request_t *req);
    st_request_t *deferred_next;
    bool deferred;
};

/* Handlers decode `req->body`, do the work and call st_request_respond
 * (now or later). A handler that cannot decode returns ST_ERR_DECODE and the
 * connection is closed, as Kafka does. */
typedef int (*st_handler_fn)(st_broker_t *b, st_request_t *req);

typedef struct st_api_entry {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
    st_handler_fn handler;
    /* ApiVersions lists the API from v0 while only min_version+ is served
     * (Produce, as Kafka 4 does: see dispatch.c). */
    bool listed_from_v0;
} st_api_entry_t;

/* The one table of served APIs; ApiVersions is computed from it. */
extern const st_api_entry_t st_api_table[];
extern const int st_api_table_count;
const st_api_entry_t *st_api_entry_find(int16_t api_key);
/* Lists the table's ranges in an ApiVersions response (arena memory). */
void st_api_versions_fill(st_api_versions_response_t *resp, st_arena_t *arena);

/* Points `array` at `count` zeroed elements in the request's arena and sets
 * array_count (0 for a negative, i.e. null, count): a response array shaped
 * like the request's. Evaluates to the count. */
#define ST_RESPONSE_ARRAY(req, array, count)                                                   \
    ((array##_count) = (count) > 0 ? (count) : 0,                                             \
     (array) = st_arena_alloc(&(req)->arena, (size_t)(array##_count) * sizeof *(array)), (array##_count))

/* Encodes the response header and body into req->response and marks it
 * done; the connection sends responses in request order. */
void st_request_respond(st_request_t *req, const void *response_body);
/* Marks an acks=0 produce done without a response. */
void st_request_finish_silently(st_request_t *req);
/* The response reads from `file`: the request takes over the reference and
 * releases it once the response has been sent or dropped. While a
 * connection has ST_CONN_FILE_RESPONSES_MAX such responses waiting to be
 * sent it reads no further requests. */
void st_request_hold_file(st_request_t *req, st_file_ref_t *file);
/* Releases the file references taken so far (a fetch that parks instead of
 * answering). */
void st_request_release_files(st_request_t *req);
/* A handler whose work passed st_request_work_deadline_us parks the request
 * with its state in
 * req->pending and a cancel_pending: `resume` runs again in a later turn,
 * deferred requests taking turns, until it responds or defers again. The
 * connection reads no further requests meanwhile, so its responses still
 * leave in order. */
void st_request_defer(st_request_t *req, void (*resume)(st_broker_t *b, st_request_t *req));
/* Monotonic µs past which a handler that began (or resumed) its work at
 * `started_us` should stop and defer the rest: after its slice, or the
 * turn's budget, whichever comes first. Do at least one bounded step first,
 * so that everything progresses. */
int64_t st_request_work_deadline_us(const st_request_t *req, int64_t started_us);
/* Frees a request whose connection closed while it was parked. */
void st_request_release_detached(st_request_t *req);
/* Decodes the body with the generated decoder for req's API; 0 or ST_ERR_DECODE. */
int st_request_decode(st_request_t *req, void *out);
void *st_request_alloc_response(st_request_t *req);

/* ---- metrics (counted by network.c, served by http.c) -------------------- */

#define ST_METRICS_API_MAX 100
#define ST_METRICS_LATENCY_BUCKETS 14
extern const double st_metrics_latency_bounds_s[ST_METRICS_LATENCY_BUCKETS - 1];

typedef struct st_metrics {
    uint64_t requests[ST_METRICS_API_MAX];
    uint64_t errors[ST_METRICS_API_MAX]; /* requests that closed their connection */
    uint64_t latency_buckets[ST_METRICS_API_MAX][ST_METRICS_LATENCY_BUCKETS];
    double latency_sum_s[ST_METRICS_API_MAX];
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t connections_accepted;
} st_metrics_t;

/* ---- broker ---------------------------------------------------------------- */

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
    st_listener_t listener; /* the client listener served (one, PLAINTEXT; see broker.c) */
    int listen_fd;
    st_acceptor_t *acceptor; /* takes connections off listen_fd (acceptor.c) */
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
    /* connections */
    int32_t conn_count;
    st_conn_t *conns;
    st_conn_t *flush_list; /* connections with responses to write (network.c) */
    st_conn_t *dead_conns; /* closed, freed in the before-sleep hook */
    st_request_t *deferred_head; /* requests with work left for later turns (network.c) */
    st_request_t *deferred_tail;
    int64_t deferred_deadline_us; /* while they run: their share's end (0 otherwise) */
    st_fetch_sessions_t *fetch_sessions;
    struct st_groups *groups; /* group coordinator (group.c) */
    st_metrics_t metrics;
    struct st_http *http;     /* metrics and lag over HTTP (http.c) */
    int64_t started_wall_ms;
    /* limits, resolved once from config */
    int64_t socket_request_max_bytes;
    int32_t max_connections;
    int32_t max_connections_per_ip; /* per peer IPv4 address (network.c) */
    int64_t connections_max_idle_ms;
    int32_t max_inflight_per_conn;
    int32_t socket_send_buffer_bytes;    /* SO_SNDBUF of accepted sockets; <= 0: the OS's */
    int32_t socket_receive_buffer_bytes; /* SO_RCVBUF of the listener; <= 0: the OS's */
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

/* Starts the broker on a zeroed `b`. On failure everything it set up is
 * already undone (do not call st_broker_stop) and the reason is logged; a
 * start that fails before it opens the logs changes nothing on disk. */
int st_broker_start(st_broker_t *b, st_config_t *config);
/* Stops a started broker: closes connections, then every log cleanly, then
 * releases the log-dir locks. */
void st_broker_stop(st_broker_t *b);

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
int64_t st_partition_high_watermark(const st_partition_t *p);

/* ---- long-poll fetch (fetch.c) ------------------------------------------- */
void st_fetch_wake(st_broker_t *b, st_partition_t *p);
void st_fetch_forget_partition(st_broker_t *b, st_partition_t *p);
st_fetch_sessions_t *st_fetch_sessions_new(int32_t slots);
void st_fetch_sessions_free(st_fetch_sessions_t *s);

/* ---- network (network.c) --------------------------------------------------- */
int st_network_listen(st_broker_t *b, const char *host, int port);
void st_network_close_all(st_broker_t *b);
/* Writes ready responses and frees closed connections; runs once per loop
 * iteration before the loop sleeps. */
void st_network_before_sleep(st_broker_t *b);
/* Called when a request's response became ready (maybe later than the call). */
void st_conn_response_ready(st_broker_t *b, st_conn_t *c);
/* The kernel's minimum round-trip time of the connection, in µs (read at
 * most once a second); 0 when unknown. */
uint32_t st_conn_rtt_us(st_conn_t *c);

/* Takes over an accepted socket as a new connection (for the acceptor). */
void st_network_adopt(st_broker_t *b, int fd, const struct sockaddr_in *peer);
/* Live connections from one IPv4 address (network byte order). */
int32_t st_network_connections_from(const st_broker_t *b, uint32_t ipv4);

/* ---- acceptor (acceptor.c): Kafka's connection quotas at accept ---------- */
/* Starts accepting on `listen_fd` (b->listener's socket) within
 * max.connections, listener.name.<listener>.max.connections,
 * max.connection.creation.rate (both forms) and max.connections.per.ip(.overrides).
 * ST_ERR_INVALID_CONFIG for unusable overrides. */
int st_acceptor_start(st_broker_t *b, int listen_fd);
void st_acceptor_stop(st_broker_t *b);
/* A connection closed: a listener paused at a connection limit resumes. */
void st_acceptor_connection_closed(st_broker_t *b);

/* ---- HTTP: /metrics and /v1/groups/<group>/lag (http.c) ------------------ */
int st_http_start(st_broker_t *b, const char *listeners);
void st_http_stop(st_broker_t *b);

/* ---- handlers -------------------------------------------------------------- */
int st_handle_api_versions(st_broker_t *b, st_request_t *req);
int st_handle_metadata(st_broker_t *b, st_request_t *req);
int st_handle_produce(st_broker_t *b, st_request_t *req);
int st_handle_fetch(st_broker_t *b, st_request_t *req);
int st_handle_list_offsets(st_broker_t *b, st_request_t *req);
int st_handle_create_topics(st_broker_t *b, st_request_t *req);
int st_handle_delete_topics(st_broker_t *b, st_request_t *req);
int st_handle_create_partitions(st_broker_t *b, st_request_t *req);
int st_handle_delete_records(st_broker_t *b, st_request_t *req);
int st_handle_init_producer_id(st_broker_t *b, st_request_t *req);
int st_handle_offset_for_leader_epoch(st_broker_t *b, st_request_t *req);
int st_handle_describe_configs(st_broker_t *b, st_request_t *req);
int st_handle_alter_configs(st_broker_t *b, st_request_t *req);
int st_handle_incremental_alter_configs(st_broker_t *b, st_request_t *req);
int st_handle_describe_cluster(st_broker_t *b, st_request_t *req);
int st_handle_describe_log_dirs(st_broker_t *b, st_request_t *req);
int st_handle_describe_producers(st_broker_t *b, st_request_t *req);

#endif
