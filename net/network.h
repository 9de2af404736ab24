/*
 * Connections and requests (network.c): the API the handlers above use to
 * answer, and the owner uses to listen and stop.
 */
#ifndef ST_NET_NETWORK_H
#define ST_NET_NETWORK_H

#include "net/net.h"

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
 * with its state in req->pending and a cancel_pending: `resume` runs again
 * in a later turn, deferred requests taking turns, until it responds or
 * defers again. The connection reads no further requests meanwhile, so its
 * responses still leave in order. */
void st_request_defer(st_request_t *req, void (*resume)(struct st_broker *b, st_request_t *req));
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
/* The kernel's minimum round-trip time of the connection, in µs (read at
 * most once a second); 0 when unknown. */
uint32_t st_conn_rtt_us(st_conn_t *c);

/* Lists net->api_table's ranges in an ApiVersions response (arena memory). */
void st_net_api_versions_fill(const st_net_t *net, st_api_versions_response_t *resp, st_arena_t *arena);

/* Binds the listener (net->listener) and starts accepting; the fields the
 * owner gives (net.h) must be set. */
int st_network_listen(st_net_t *net, const char *host, int port);
void st_network_close_all(st_net_t *net);
/* Writes ready responses and frees closed connections; runs once per loop
 * iteration before the loop sleeps. */
void st_network_before_sleep(st_net_t *net);

#endif
