/*
 * The network room's state (types only): one st_net_t per listener set,
 * its connections and their requests. Knows nothing of topics, partitions
 * or groups: a request is a Kafka frame whose header net parses and whose
 * body it hands to the handler of its API, with the owner it was given.
 *
 *   st_net_t       one per process, embedded in its owner (the broker);
 *                  owns the listener socket, the acceptor, every connection
 *                  and the deferred-request queue (network.c).
 *   st_conn_t      one per client socket (network.c); owns its requests.
 *   st_request_t   one per request frame; owns an arena holding the frame,
 *                  the decoded request and the encoded response; freed
 *                  when the response has been written (or dropped).
 *
 * Later: TLS and SASL session state per connection (security/ holds the
 * mechanisms; the connection holds the session and checks it before
 * dispatch).
 */
#ifndef ST_NET_NET_H
#define ST_NET_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "net/event_loop.h"
#include "protocol/arena.h"
#include "protocol/buf.h"
#include "protocol/messages.h"
#include "common/config.h"
#include "storage/file_ref.h"

/* The owner of the requests (the broker): opaque here, handed back to the
 * handlers net calls; net never looks inside. */
struct st_broker;

typedef struct st_net st_net_t;
typedef struct st_conn st_conn_t;
typedef struct st_request st_request_t;
typedef struct st_acceptor st_acceptor_t;
struct sockaddr_in;

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
    st_net_t *net;     /* the network room it was read by */
    st_conn_t *conn;   /* NULL once the connection closed under it */
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
    void (*resume)(struct st_broker *b, st_request_t *req);
    st_request_t *deferred_next;
    bool deferred;
};

/* Handlers decode `req->body`, do the work and call st_request_respond
 * (now or later). A handler that cannot decode returns ST_ERR_DECODE and the
 * connection is closed, as Kafka does. */
typedef int (*st_handler_fn)(struct st_broker *b, st_request_t *req);

typedef struct st_api_entry {
    int16_t api_key;
    int16_t min_version;        /* Kafka 4's lowest (KIP-896) */
    int16_t legacy_min_version; /* Kafka 3.9's lowest, served while
                                 * strata.legacy.api.versions.enable */
    int16_t max_version;
    st_handler_fn handler;
    /* ApiVersions lists the API from v0 while only min_version+ is served
     * (Produce, as Kafka 4 does: see server/dispatch.c). */
    bool listed_from_v0;
} st_api_entry_t;

/* ---- metrics (counted by network.c, served by http/) ---------------------- */

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

struct st_net {
    /* Given by the owner before st_network_listen. */
    struct st_broker *owner;
    const st_config_t *config;
    st_loop_t *loop;
    const st_api_entry_t *api_table; /* the served APIs (server/dispatch.c) */
    int api_count;
    bool legacy_api_versions; /* strata.legacy.api.versions.enable */
    st_listener_t listener; /* the client listener served (one, PLAINTEXT) */
    /* limits, resolved once from config by the owner */
    int64_t socket_request_max_bytes;
    int32_t max_connections;
    int32_t max_connections_per_ip; /* per peer IPv4 address */
    int64_t connections_max_idle_ms;
    int32_t max_inflight_per_conn;
    int32_t socket_send_buffer_bytes;    /* SO_SNDBUF of accepted sockets; <= 0: the OS's */
    int32_t socket_receive_buffer_bytes; /* SO_RCVBUF of the listener; <= 0: the OS's */

    /* Owned by network.c. */
    int listen_fd;
    st_acceptor_t *acceptor; /* takes connections off listen_fd (acceptor.c) */
    int32_t conn_count;
    st_conn_t *conns;
    st_conn_t *flush_list; /* connections with responses to write */
    st_conn_t *dead_conns; /* closed, freed in the before-sleep hook */
    st_request_t *deferred_head; /* requests with work left for later turns */
    st_request_t *deferred_tail;
    int64_t deferred_deadline_us; /* while they run: their share's end (0 otherwise) */
    st_metrics_t metrics;
    /* Set by network.c for the acceptor, which sits below it and must not
     * call up: take over an accepted socket; live connections from one
     * IPv4 address (network byte order). */
    void (*adopt)(st_net_t *net, int fd, const struct sockaddr_in *peer);
    int32_t (*connections_from)(const st_net_t *net, uint32_t ipv4);
};

#endif
