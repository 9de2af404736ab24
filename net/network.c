/*
 * Connections: framing, request pipelining, in-order responses.
 *
 * Invariants:
 *  1. A connection's requests form a FIFO (head..tail) in arrival order;
 *     responses are written strictly from the head, so a parked long-poll
 *     fetch holds back the responses behind it, as in Kafka.
 *  2. At most max_inflight_per_conn requests are queued, and at most
 *     ST_CONN_FILE_RESPONSES_MAX of them hold file references; at either
 *     limit, and while one of them is deferred (st_request_defer), the
 *     connection stops reading (backpressure), never buffers more.
 *  3. A frame larger than socket.request.max.bytes, a negative or zero
 *     size, an unknown API key, an unsupported version (except ApiVersions)
 *     or an undecodable body closes the connection with one log line.
 *
 * Connection states:
 *
 *   accept --> OPEN --(frame error / EOF / idle timeout)--> CLOSED
 *               |  ^
 *   queue full, |  | responses drained,
 *   a request   v  | the deferred request done
 *   deferred  PAUSED (not reading)
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* not <netinet/tcp.h>: its tcp_info lacks tcpi_min_rtt */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "net/network.h"

#include "common/errors.h"
#include "common/log.h"
#include "net/acceptor.h"

#define CONN_READ_CHUNK_BYTES 65536

const double st_metrics_latency_bounds_s[ST_METRICS_LATENCY_BUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

static void metrics_request_done(st_net_t *net, const st_request_t *req) {
    if (req->api_key < 0 || req->api_key >= ST_METRICS_API_MAX) return;
    double s = (double)(st_monotonic_us() - req->received_us) / 1e6;
    int k = 0;
    while (k < ST_METRICS_LATENCY_BUCKETS - 1 && s > st_metrics_latency_bounds_s[k]) k++;
    net->metrics.latency_buckets[req->api_key][k]++;
    net->metrics.latency_sum_s[req->api_key] += s;
}

static void metrics_request_failed(st_net_t *net, int16_t api_key) {
    if (api_key >= 0 && api_key < ST_METRICS_API_MAX) net->metrics.errors[api_key]++;
}
#define CONN_IOV_MAX 64

struct st_conn {
    st_net_t *net;
    int fd;
    struct in_addr peer_ip; /* counts towards max.connections.per.ip */
    uint32_t min_rtt_us;     /* st_conn_rtt_us's last reading... */
    int64_t min_rtt_read_ms; /* ...and when it was taken (0: never) */
    char peer[64];
    /* read side: frame being assembled */
    uint8_t size_buf[4];
    int32_t size_have;
    st_request_t *frame_req; /* owns `frame` (its arena) while a big frame arrives */
    uint8_t *frame;
    int32_t frame_len;
    int32_t frame_have;
    /* request FIFO */
    st_request_t *head;
    st_request_t *tail;
    int32_t queued;
    int32_t file_responses; /* queued requests holding file references */
    int32_t deferred;       /* queued requests with work left for a later turn */
    bool paused;
    bool want_write;
    bool closing;
    bool flush_pending; /* on the broker's flush list */
    st_conn_t *flush_next;
    int64_t last_active_ms;
    st_timer_t idle_timer;
    st_conn_t *prev;
    st_conn_t *next;
    /* bytes read ahead of the current frame (batched reads) */
    uint8_t *rbuf;
    size_t rbuf_len;
    size_t rbuf_pos;
};

static void conn_close(st_conn_t *c, const char *why);
static void conn_update_watch(st_conn_t *c);

/* False while the connection is at one of its backpressure limits: it
 * reads and dispatches no further request until responses have gone out. */
static bool conn_takes_requests(const st_conn_t *c) {
    return c->queued < c->net->max_inflight_per_conn && c->file_responses < ST_CONN_FILE_RESPONSES_MAX &&
           c->deferred == 0;
}
static void flush_ready_list(st_net_t *net);
static void conn_response_ready(st_net_t *net, st_conn_t *c);

static void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void st_request_release_files(st_request_t *req) {
    for (int32_t i = 0; i < req->file_count; i++) st_file_ref_release(req->files[i]);
    req->file_count = 0;
    if (req->counted_file_response) {
        req->counted_file_response = false;
        if (req->conn) req->conn->file_responses--;
    }
}

static void request_free(st_request_t *req) {
    st_request_release_files(req);
    free(req->files);
    st_writer_free(&req->response);
    st_arena_free(&req->arena);
    free(req);
}

void st_request_hold_file(st_request_t *req, st_file_ref_t *file) {
    if (req->file_count == req->file_cap) {
        int32_t cap = req->file_cap ? req->file_cap * 2 : 8;
        st_file_ref_t **files = realloc(req->files, (size_t)cap * sizeof *files);
        if (!files) abort();
        req->files = files;
        req->file_cap = cap;
    }
    req->files[req->file_count++] = file;
    if (!req->counted_file_response && req->conn) {
        req->counted_file_response = true;
        req->conn->file_responses++;
    }
}

int st_request_decode(st_request_t *req, void *out) {
    const st_api_info_t *info = st_api_info_find(req->api_key);
    st_reader_t r;
    st_reader_init(&r, req->body, req->body_len);
    return info->request_decode(&r, &req->arena, req->api_version, out);
}

void *st_request_alloc_response(st_request_t *req) {
    const st_api_info_t *info = st_api_info_find(req->api_key);
    void *m = st_arena_alloc(&req->arena, info->response_bytes);
    info->response_init(m);
    return m;
}

void st_request_respond(st_request_t *req, const void *response_body) {
    st_net_t *net = req->net;
    if (!req->conn) {
        /* The connection closed while the request waited. */
        request_free(req);
        return;
    }
    const st_api_info_t *info = st_api_info_find(req->api_key);
    st_writer_t *w = &req->response;
    st_writer_init(w, 256);
    st_write_i32(w, 0); /* frame size, patched below */
    st_write_i32(w, req->correlation_id);
    /* ApiVersions always answers with header v0 so a client that does not
     * know the broker's versions can parse it (KIP-511). */
    bool flexible = info->flexible_min >= 0 && req->api_version >= info->flexible_min;
    if (flexible && req->api_key != ST_API_API_VERSIONS) st_write_uvarint(w, 0);
    info->response_encode(w, req->api_version, response_body);
    st_writer_patch_i32(w, 0, (int32_t)(st_writer_total(w) - 4));
    metrics_request_done(net, req);
    req->done = true;
    if (req->conn) conn_response_ready(net, req->conn);
}

void st_request_finish_silently(st_request_t *req) {
    st_net_t *net = req->net;
    metrics_request_done(net, req);
    req->done = true;
    req->no_response = true;
    if (req->conn) conn_response_ready(net, req->conn);
}

/* The lowest version served now: Kafka 3.9's while old versions are on. */
static int16_t api_min_version(const st_net_t *net, const st_api_entry_t *e) {
    return net->legacy_api_versions ? e->legacy_min_version : e->min_version;
}

void st_net_api_versions_fill(const st_net_t *net, st_api_versions_response_t *resp, st_arena_t *arena) {
    resp->api_keys = st_arena_alloc(arena, (size_t)net->api_count * sizeof *resp->api_keys);
    for (int i = 0; i < net->api_count; i++) {
        const st_api_entry_t *e = &net->api_table[i];
        resp->api_keys[i].api_key = e->api_key;
        resp->api_keys[i].min_version = e->listed_from_v0 ? 0 : api_min_version(net, e);
        resp->api_keys[i].max_version = e->max_version;
    }
    resp->api_keys_count = net->api_count;
}

static const st_api_entry_t *api_entry_find(const st_net_t *net, int16_t api_key) {
    for (int i = 0; i < net->api_count; i++)
        if (net->api_table[i].api_key == api_key) return &net->api_table[i];
    return NULL;
}

/* Sends a v0 ApiVersions answer for a version the broker does not support:
 * error UNSUPPORTED_VERSION plus the ranges, so the client can retry. */
static void respond_api_versions_unsupported(st_request_t *req) {
    st_api_versions_response_t *resp = st_arena_alloc(&req->arena, sizeof *resp);
    st_api_versions_response_init(resp);
    resp->error_code = ST_ERR_UNSUPPORTED_VERSION;
    st_net_api_versions_fill(req->net, resp, &req->arena);
    req->api_version = 0;
    st_request_respond(req, resp);
}

/* Parses the header of a complete frame and runs its handler. Returns
 * false when the connection must close. */
static st_request_t *request_new(st_conn_t *c) {
    st_request_t *req = calloc(1, sizeof *req);
    if (!req) abort();
    st_arena_init(&req->arena);
    req->conn = c;
    req->net = c->net;
    return req;
}

/* Parses the header of a complete frame and runs its handler. `req`, when
 * given, already owns `frame` in its arena (a frame read straight into
 * it); otherwise the frame is copied from the read buffer. Returns false
 * when the connection must close. */
static bool conn_dispatch(st_conn_t *c, st_request_t *req, uint8_t *frame, int32_t len) {
    st_net_t *net = c->net;
    uint8_t *copy = frame;
    if (!req) {
        req = request_new(c);
        copy = st_arena_memdup(&req->arena, frame, (size_t)len);
    }
    req->received_ms = st_loop_now_ms(net->loop);
    req->received_us = st_monotonic_us();
    net->metrics.bytes_in += (uint64_t)len + 4;
    {
        char host[72];
        size_t n = strcspn(c->peer, ":");
        snprintf(host, sizeof host, "/%.*s", (int)n, c->peer);
        req->client_host = st_arena_strdup(&req->arena, host);
    }

    st_reader_t r;
    st_reader_init(&r, copy, (size_t)len);
    req->api_key = st_read_i16(&r);
    req->api_version = st_read_i16(&r);
    req->correlation_id = st_read_i32(&r);
    if (r.failed) {
        ST_WARN("closing %s: request frame of %d bytes is shorter than a request header", c->peer, len);
        request_free(req);
        return false;
    }
    const st_api_entry_t *entry = api_entry_find(net, req->api_key);
    const st_api_info_t *info = st_api_info_find(req->api_key);
    if (entry && req->api_key < ST_METRICS_API_MAX) net->metrics.requests[req->api_key]++;
    if (!entry || !info) {
        ST_WARN("closing %s: unknown API key %d (correlation id %d)", c->peer, req->api_key, req->correlation_id);
        request_free(req);
        return false;
    }
    int16_t min_version = api_min_version(net, entry);
    bool supported = req->api_version >= min_version && req->api_version <= entry->max_version;
    /* The header's client id is a nullable non-compact string (v1+); v2
     * headers add a tagged-field section. An unsupported ApiVersions version
     * is parsed as header v1 (KIP-511: newer clients may send any). */
    bool flexible = supported && info->flexible_min >= 0 && req->api_version >= info->flexible_min;
    req->header_version = flexible ? 2 : 1;
    req->client_id = st_codec_read_str(&r, &req->arena, false, true);
    if (flexible) st_codec_skip_tagged(&r);
    if (r.failed) {
        ST_WARN("closing %s: malformed request header for %s v%d", c->peer, info->name, req->api_version);
        request_free(req);
        return false;
    }
    req->body = r.pos;
    req->body_len = st_reader_remaining(&r);

    /* Queue first: responses go out in request order. */
    if (c->tail)
        c->tail->next = req;
    else
        c->head = req;
    c->tail = req;
    c->queued++;

    if (!supported) {
        if (req->api_key == ST_API_API_VERSIONS) {
            ST_INFO("%s asked for ApiVersions v%d; answered UNSUPPORTED_VERSION with the supported ranges (KIP-511)",
                    c->peer, req->api_version);
            respond_api_versions_unsupported(req);
            return true;
        }
        ST_WARN("closing %s: unsupported version %d of %s (supported %d-%d)", c->peer, req->api_version,
                info->name, min_version, entry->max_version);
        metrics_request_failed(net, req->api_key);
        return false;
    }
    int rc = entry->handler(net->owner, req);
    if (rc == ST_ERR_DECODE) {
        ST_WARN("closing %s: could not decode %s v%d request (correlation id %d, %zu bytes)", c->peer, info->name,
                req->api_version, req->correlation_id, req->body_len);
        metrics_request_failed(net, req->api_key);
        return false;
    }
    if (rc != 0 && !req->done) {
        ST_ERROR("closing %s: %s v%d failed: %s", c->peer, info->name, req->api_version, st_err_name(rc));
        return false;
    }
    return true;
}

/* Pops finished requests from the head and writes their responses.
 * Returns false when the connection failed. */
static void conn_pop_head(st_conn_t *c) {
    st_request_t *req = c->head;
    c->head = req->next;
    if (!c->head) c->tail = NULL;
    c->queued--;
    request_free(req);
}

/* Writes the finished responses that carry no file range, from the head
 * on, with one sendmsg: pipelined produce acks and offset commits cost one
 * syscall per loop pass instead of one each. Returns bytes written, or -1
 * with errno. */
static ssize_t conn_send_memory_responses(st_conn_t *c) {
    struct iovec iov[CONN_IOV_MAX];
    int n = 0;
    for (st_request_t *r = c->head; r && r->done && n < CONN_IOV_MAX; r = r->next) {
        if (r->no_response) continue;
        if (r->response.range_count) break;
        iov[n].iov_base = r->response.data + r->response_sent;
        iov[n].iov_len = r->response.len - r->response_sent;
        n++;
    }
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (w <= 0) return w;
    c->net->metrics.bytes_out += (uint64_t)w;
    size_t left = (size_t)w;
    while (c->head && c->head->done) {
        st_request_t *r = c->head;
        if (!r->no_response) {
            if (r->response.range_count) break;
            size_t rem = r->response.len - r->response_sent;
            if (left < rem) {
                r->response_sent += left;
                break;
            }
            left -= rem;
        }
        conn_pop_head(c);
        if (left == 0 && c->head && !c->head->no_response) break;
    }
    return w;
}

/* Writes one response that holds file ranges: memory pieces with send,
 * log bytes with sendfile(2). Returns bytes written (0: the segment shrank
 * under us), or -1 with errno. */
static ssize_t conn_send_ranged_response(st_conn_t *c, st_request_t *req) {
    st_writer_t *w = &req->response;
    size_t mem_pos = 0; /* position in w->data */
    int64_t emitted = 0;
    for (int32_t i = 0; i <= w->range_count; i++) {
        size_t mem_end = i < w->range_count ? w->ranges[i].at : w->len;
        int64_t mem_bytes = (int64_t)(mem_end - mem_pos);
        if ((int64_t)req->response_sent < emitted + mem_bytes) {
            size_t off = mem_pos + (size_t)((int64_t)req->response_sent - emitted);
            return send(c->fd, w->data + off, mem_end - off, MSG_NOSIGNAL);
        }
        emitted += mem_bytes;
        mem_pos = mem_end;
        if (i < w->range_count) {
            const st_file_range_t *fr = &w->ranges[i];
            if ((int64_t)req->response_sent < emitted + fr->len) {
                off_t file_off = (off_t)(fr->file_pos + ((int64_t)req->response_sent - emitted));
                size_t count = (size_t)(emitted + fr->len - (int64_t)req->response_sent);
                return sendfile(c->fd, fr->fd, &file_off, count);
            }
            emitted += fr->len;
        }
    }
    return 0;
}

static bool conn_flush(st_conn_t *c) {
    while (c->head && c->head->done) {
        st_request_t *req = c->head;
        if (req->no_response) {
            conn_pop_head(c);
            continue;
        }
        ssize_t n;
        if (req->response.range_count == 0) {
            n = conn_send_memory_responses(c);
        } else {
            n = conn_send_ranged_response(c, req);
            if (n == 0) {
                /* The segment shrank (truncation): the response can never
                 * be completed. */
                ST_WARN("closing %s: segment file shorter than the range being sent", c->peer);
                return false;
            }
            if (n > 0) {
                req->response_sent += (size_t)n;
                c->net->metrics.bytes_out += (uint64_t)n;
                if ((int64_t)req->response_sent >= st_writer_total(&req->response)) conn_pop_head(c);
            }
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->want_write = true;
                return true;
            }
            if (errno == EINTR) continue;
            return false;
        }
    }
    c->want_write = false;
    return true;
}

/* The big frame read into its request's arena is complete: the request
 * takes it and the connection starts on the next frame. */
static bool conn_dispatch_big_frame(st_conn_t *c) {
    st_request_t *req = c->frame_req;
    uint8_t *frame = c->frame;
    c->frame_req = NULL;
    c->frame = NULL;
    c->size_have = 0;
    return conn_dispatch(c, req, frame, c->frame_len);
}

static bool conn_process_frame_bytes(st_conn_t *c, const uint8_t *data, size_t len, size_t *consumed) {
    st_net_t *net = c->net;
    size_t pos = 0;
    while (pos < len && !c->closing) {
        if (!conn_takes_requests(c)) break; /* backpressure */
        if (c->size_have < 4) {
            size_t take = 4 - (size_t)c->size_have;
            if (take > len - pos) take = len - pos;
            memcpy(c->size_buf + c->size_have, data + pos, take);
            c->size_have += (int32_t)take;
            pos += take;
            if (c->size_have < 4) break;
            int32_t size = st_get_i32be(c->size_buf);
            if (size <= 0) {
                ST_WARN("closing %s: invalid request size %d", c->peer, size);
                *consumed = pos;
                return false;
            }
            if ((int64_t)size > net->socket_request_max_bytes) {
                ST_WARN("closing %s: request size %d is larger than socket.request.max.bytes %lld", c->peer, size,
                        (long long)net->socket_request_max_bytes);
                *consumed = pos;
                return false;
            }
            c->frame_len = size;
            c->frame_have = 0;
            /* Memory grows with the bytes that actually arrive, not with
             * the size the client claims. */
            c->frame = NULL;
        }
        size_t need = (size_t)(c->frame_len - c->frame_have);
        size_t avail = len - pos;
        if (c->frame_have == 0 && !c->frame && avail >= need) {
            /* Whole frame in the read buffer: one copy, into the request. */
            bool ok = conn_dispatch(c, NULL, (uint8_t *)data + pos, c->frame_len);
            pos += need;
            c->size_have = 0;
            if (!ok) {
                *consumed = pos;
                return false;
            }
            continue;
        }
        size_t take = avail < need ? avail : need;
        if (!c->frame) {
            /* A frame larger than what has arrived: its bytes go straight
             * into the arena of the request it will become (conn_on_event
             * then reads the rest directly there). */
            c->frame_req = request_new(c);
            c->frame = st_arena_alloc_raw(&c->frame_req->arena, (size_t)c->frame_len);
        }
        memcpy(c->frame + c->frame_have, data + pos, take);
        c->frame_have += (int32_t)take;
        pos += take;
        if (c->frame_have == c->frame_len && !conn_dispatch_big_frame(c)) {
            *consumed = pos;
            return false;
        }
    }
    *consumed = pos;
    return true;
}

/* Parses bytes left in the read buffer while the connection may take
 * more requests. Returns false when the connection must close. */
static bool conn_drain_leftover(st_conn_t *c) {
    while (c->rbuf_pos < c->rbuf_len && conn_takes_requests(c)) {
        size_t consumed = 0;
        bool ok = conn_process_frame_bytes(c, c->rbuf + c->rbuf_pos, c->rbuf_len - c->rbuf_pos, &consumed);
        if (c->closing) return false;
        c->rbuf_pos += consumed;
        if (!ok) return false;
        if (!conn_flush(c)) return false;
        if (consumed == 0) break;
    }
    return true;
}

/* Reads the rest of a big frame directly into its request's memory.
 * Returns bytes read, 0 on EOF, -1 on EAGAIN, -2 on error. */
static ssize_t conn_read_into_frame(st_conn_t *c) {
    size_t need = (size_t)(c->frame_len - c->frame_have);
    ssize_t n = recv(c->fd, c->frame + c->frame_have, need, 0);
    if (n > 0) {
        c->frame_have += (int32_t)n;
        return n;
    }
    if (n == 0) return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
    return -2;
}

/* Writes what is ready now: first the fetches woken on any connection,
 * then this connection's answers. False when the connection is closing
 * or was closed. */
static bool conn_write_ready(st_conn_t *c) {
    flush_ready_list(c->net);
    if (c->closing) return false;
    if (!conn_flush(c)) {
        conn_close(c, NULL);
        return false;
    }
    return true;
}

static void conn_on_event(st_loop_t *loop, int fd, uint32_t events, void *ctx) {
    (void)loop;
    (void)fd;
    st_conn_t *c = ctx;
    st_net_t *net = c->net;
    c->last_active_ms = st_loop_now_ms(net->loop);
    if (events & ST_EVENT_WRITABLE) {
        if (!conn_flush(c)) {
            conn_close(c, NULL);
            return;
        }
    }
    if ((events & ST_EVENT_READABLE) && !c->paused) {
        for (int rounds = 0; rounds < 16; rounds++) {
            /* Leftover bytes from an earlier read come first. */
            if (!conn_drain_leftover(c)) {
                conn_close(c, NULL);
                return;
            }
            if (c->rbuf_pos < c->rbuf_len) break; /* paused by backpressure */
            if (c->frame && c->frame_have < c->frame_len) {
                ssize_t got = conn_read_into_frame(c);
                if (got == -1) break;
                if (got <= 0) {
                    if (got == 0)
                        ST_WARN("closing %s: the client closed the connection inside a request frame (%d of %d bytes)",
                                c->peer, c->frame_have + 4, c->frame_len + 4);
                    conn_close(c, NULL);
                    return;
                }
                if (c->frame_have == c->frame_len) {
                    if (!conn_dispatch_big_frame(c) || c->closing) {
                        if (!c->closing) conn_flush(c);
                        conn_close(c, NULL);
                        return;
                    }
                    /* Answer a big request now rather than after the
                     * next ones: its memory goes back to the heap and the
                     * next frame is read into the same, still-mapped and
                     * cache-warm pages. */
                    if (!conn_write_ready(c)) return;
                    if (!conn_takes_requests(c)) break;
                }
                continue;
            }
            ssize_t n = recv(c->fd, c->rbuf, CONN_READ_CHUNK_BYTES, 0);
            if (n == 0) {
                if (c->size_have > 0)
                    ST_WARN("closing %s: the client closed the connection inside a request frame (%d of %d bytes)",
                            c->peer, c->size_have < 4 ? c->size_have : c->frame_have + 4,
                            c->size_have < 4 ? 4 : c->frame_len + 4);
                conn_close(c, NULL);
                return;
            }
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                if (errno == EINTR) continue;
                conn_close(c, NULL);
                return;
            }
            c->rbuf_len = (size_t)n;
            c->rbuf_pos = 0;
            size_t consumed = 0;
            bool ok = conn_process_frame_bytes(c, c->rbuf, c->rbuf_len, &consumed);
            c->rbuf_pos = consumed;
            if (!ok || c->closing) {
                /* Answers already made go out before the close. */
                if (!c->closing) conn_flush(c);
                conn_close(c, NULL);
                return;
            }
            if (c->rbuf_pos < c->rbuf_len) break;
            if ((size_t)n < CONN_READ_CHUNK_BYTES && !c->frame) break;
        }
    }
    /* Consumers whose fetch this connection's produce just completed hear
     * of the new data before the producer hears its acknowledgement: the
     * end-to-end path is the one that waits. */
    if (!conn_write_ready(c)) return;
    conn_update_watch(c);
    /* Responses that were answered at once may have unpaused the
     * connection with requests still in the read buffer: the socket may
     * stay quiet, so parse them now rather than wait for a read event. */
    if (!c->paused && c->rbuf_pos < c->rbuf_len) {
        if (!conn_drain_leftover(c)) {
            conn_close(c, NULL);
            return;
        }
        conn_update_watch(c);
    }
}

static void conn_update_watch(st_conn_t *c) {
    st_net_t *net = c->net;
    c->paused = !conn_takes_requests(c);
    uint32_t ev = (c->paused ? 0 : ST_EVENT_READABLE) | (c->want_write ? ST_EVENT_WRITABLE : 0);
    if (ev)
        st_loop_watch(net->loop, c->fd, ev, conn_on_event, c);
    else
        st_loop_unwatch(net->loop, c->fd);
}

/* The minimum RTT moves slowly: one TCP_INFO per connection and second
 * is enough, not one per Fetch. */
#define CONN_RTT_REFRESH_MS 1000

uint32_t st_conn_rtt_us(st_conn_t *c) {
    int64_t now = st_loop_now_ms(c->net->loop);
    if (c->min_rtt_read_ms != 0 && now - c->min_rtt_read_ms < CONN_RTT_REFRESH_MS) return c->min_rtt_us;
    c->min_rtt_read_ms = now;
    c->min_rtt_us = 0;
    struct tcp_info info;
    socklen_t len = sizeof info;
    /* The minimum, not the smoothed RTT: queueing behind a slow reader
     * inflates the latter, and would grow responses for exactly the
     * consumers that big responses slow down. Kernels before 4.10 do not
     * fill it in. */
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
        len >= offsetof(struct tcp_info, tcpi_min_rtt) + sizeof info.tcpi_min_rtt)
        c->min_rtt_us = info.tcpi_min_rtt;
    return c->min_rtt_us;
}

/* Responses that become ready while a handler runs (or from a timer, or
 * from another connection's produce waking a fetch) are written in the
 * loop's before-sleep hook, never from inside the handler: writing may fail
 * and close the connection, which must not happen under a caller that is
 * still using it. It also batches the writes of one loop iteration. */
static void conn_response_ready(st_net_t *net, st_conn_t *c) {
    if (c->closing || c->flush_pending) return;
    c->flush_pending = true;
    c->flush_next = net->flush_list;
    net->flush_list = c;
}

static void conn_resume(st_conn_t *c) {
    if (!conn_flush(c)) {
        conn_close(c, NULL);
        return;
    }
    conn_update_watch(c);
    /* Bytes already read but not parsed while paused. */
    if (!c->paused && c->rbuf_pos < c->rbuf_len) {
        if (!conn_drain_leftover(c)) {
            conn_close(c, NULL);
            return;
        }
        conn_update_watch(c);
    }
}

/* Writes the responses that became ready on other connections (fetches
 * that an append just woke). Closed connections stay allocated until the
 * before-sleep hook. */
static void flush_ready_list(st_net_t *net) {
    /* Resuming a paused connection can make more responses ready: repeat
     * until nothing is left, so the loop never sleeps on a ready response. */
    for (int pass = 0; pass < 64 && net->flush_list; pass++) {
        st_conn_t *list = net->flush_list;
        net->flush_list = NULL;
        while (list) {
            st_conn_t *c = list;
            list = c->flush_next;
            c->flush_pending = false;
            if (!c->closing) conn_resume(c);
        }
    }
}

/* ---- deferred work ----------------------------------------------------------
 * Requests whose handler passed its work deadline wait in a FIFO on the
 * broker; the before-sleep hook resumes them in order within one slice
 * (ST_REQUEST_SLICE_US from when it starts; the first request at least one
 * step), and the loop does not sleep while any remain. A resumed request
 * that still has work goes to the back, so several take turns. One loop
 * turn therefore works at most about ST_TURN_WORK_US for the handlers of its
 * events plus one slice for deferred requests. */

int64_t st_request_work_deadline_us(const st_request_t *req, int64_t started_us) {
    const st_net_t *net = req->net;
    int64_t turn = net->deferred_deadline_us ? net->deferred_deadline_us
                                           : st_loop_turn_started_us(net->loop) + ST_TURN_WORK_US;
    int64_t slice = started_us + ST_REQUEST_SLICE_US;
    return slice < turn ? slice : turn;
}

void st_request_defer(st_request_t *req, void (*resume)(struct st_broker *b, st_request_t *req)) {
    st_net_t *net = req->net;
    req->resume = resume;
    req->deferred = true;
    req->deferred_next = NULL;
    if (net->deferred_tail)
        net->deferred_tail->deferred_next = req;
    else
        net->deferred_head = req;
    net->deferred_tail = req;
    if (req->conn) req->conn->deferred++;
    st_loop_skip_sleep(net->loop);
}

static void undefer(st_net_t *net, st_request_t *req) {
    st_request_t **at = &net->deferred_head;
    st_request_t *prev = NULL;
    while (*at && *at != req) {
        prev = *at;
        at = &(*at)->deferred_next;
    }
    if (*at) {
        *at = req->deferred_next;
        if (net->deferred_tail == req) net->deferred_tail = prev;
    }
    req->deferred = false;
    req->deferred_next = NULL;
    if (req->conn) req->conn->deferred--;
}

static void run_deferred(st_net_t *net) {
    int64_t deadline = st_monotonic_us() + ST_REQUEST_SLICE_US;
    net->deferred_deadline_us = deadline;
    /* Only the requests deferred before this pass: one that defers again
     * now waits for the next turn. */
    st_request_t *last = net->deferred_tail;
    for (bool first = true; net->deferred_head; first = false) {
        if (!first && st_monotonic_us() >= deadline) break;
        st_request_t *req = net->deferred_head;
        bool was_last = req == last;
        undefer(net, req);
        req->resume(net->owner, req);
        if (was_last) break;
    }
    net->deferred_deadline_us = 0;
    if (net->deferred_head) st_loop_skip_sleep(net->loop);
}

void st_network_before_sleep(st_net_t *net) {
    /* Answers already made go out before deferred work takes its turn. */
    flush_ready_list(net);
    if (net->deferred_head) {
        run_deferred(net);
        flush_ready_list(net);
    }
    while (net->dead_conns) {
        st_conn_t *c = net->dead_conns;
        net->dead_conns = c->next;
        free(c->rbuf);
        free(c);
    }
}

static void conn_idle_check(st_loop_t *loop, void *ctx) {
    st_conn_t *c = ctx;
    st_net_t *net = c->net;
    int64_t idle = st_loop_now_ms(loop) - c->last_active_ms;
    if (idle >= net->connections_max_idle_ms && c->queued == 0) {
        ST_INFO("closing %s: idle for %lld ms (connections.max.idle.ms)", c->peer, (long long)idle);
        conn_close(c, NULL);
        return;
    }
    int64_t next = net->connections_max_idle_ms - idle;
    st_timer_start(loop, &c->idle_timer, next > 1000 ? next : 1000, conn_idle_check, c);
}

/* Closes the socket and drops the connection's requests at once; the
 * struct itself is freed in the before-sleep hook, so callers up the stack
 * may still look at c->closing. */
static void conn_close(st_conn_t *c, const char *why) {
    if (c->closing) return;
    st_net_t *net = c->net;
    if (why) ST_INFO("closing %s: %s", c->peer, why);
    c->closing = true;
    st_timer_stop(net->loop, &c->idle_timer);
    st_loop_unwatch(net->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    /* Requests still parked are cancelled (long-poll fetch) or detached
     * (group join: its owner frees it when it completes it). */
    st_request_t *req = c->head;
    while (req) {
        st_request_t *next = req->next;
        req->next = NULL;
        if (req->deferred) undefer(net, req);
        if (req->pending && !req->done && req->cancel_pending) req->cancel_pending(req);
        if (req->pending && !req->done) {
            st_request_release_files(req);
            req->conn = NULL;
        } else {
            request_free(req);
        }
        req = next;
    }
    c->head = c->tail = NULL;
    c->queued = 0;
    if (c->frame_req) request_free(c->frame_req);
    c->frame_req = NULL;
    c->frame = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        net->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    net->conn_count--;
    c->prev = NULL;
    c->next = net->dead_conns;
    net->dead_conns = c;
    st_acceptor_connection_closed(net);
}

void st_request_release_detached(st_request_t *req) { request_free(req); }


/* A scan of the connection list rather than a count per address: nothing
 * to keep in step, since conn_close takes a connection off the list as its
 * socket closes; the acceptor only asks once the connection count could be
 * at some address's limit. */
static int32_t connections_from(const st_net_t *net, uint32_t ipv4) {
    int32_t n = 0;
    for (const st_conn_t *c = net->conns; c; c = c->next)
        if (c->peer_ip.s_addr == ipv4) n++;
    return n;
}

static void adopt(st_net_t *net, int cfd, const struct sockaddr_in *addr) {
    st_loop_t *loop = net->loop;
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &addr->sin_addr, ip, sizeof ip);
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (net->socket_send_buffer_bytes > 0)
        setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &net->socket_send_buffer_bytes, sizeof net->socket_send_buffer_bytes);
    st_conn_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->rbuf = malloc(CONN_READ_CHUNK_BYTES);
    if (!c->rbuf) abort();
    c->net = net;
    c->fd = cfd;
    c->peer_ip = addr->sin_addr;
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, ntohs(addr->sin_port));
    c->last_active_ms = st_loop_now_ms(loop);
    c->next = net->conns;
    if (net->conns) net->conns->prev = c;
    net->conns = c;
    net->conn_count++;
    net->metrics.connections_accepted++;
    st_loop_watch(loop, cfd, ST_EVENT_READABLE, conn_on_event, c);
    if (net->connections_max_idle_ms > 0)
        st_timer_start(loop, &c->idle_timer, net->connections_max_idle_ms, conn_idle_check, c);
}

int st_network_listen(st_net_t *net, const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return ST_ERR_IO;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Set before listen() so that accepted sockets inherit it and the window
     * scale is negotiated for it, as Kafka does; -1 keeps the OS's. */
    if (net->socket_receive_buffer_bytes > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &net->socket_receive_buffer_bytes, sizeof net->socket_receive_buffer_bytes);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (!host || !*host || strcmp(host, "0.0.0.0") == 0)
        addr.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        ST_ERROR("listener host %s is not an IPv4 address", host);
        close(fd);
        return ST_ERR_INVALID_CONFIG;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 1024) < 0) {
        ST_ERROR("cannot listen on %s:%d: %s", host, port, strerror(errno));
        close(fd);
        return ST_ERR_IO;
    }
    set_nonblocking(fd);
    net->adopt = adopt;
    net->connections_from = connections_from;
    int err = st_acceptor_start(net, fd);
    if (err != 0) {
        close(fd);
        return err;
    }
    net->listen_fd = fd;
    return 0;
}

void st_network_close_all(st_net_t *net) {
    if (net->listen_fd >= 0) {
        st_acceptor_stop(net);
        close(net->listen_fd);
        net->listen_fd = -1;
    }
    while (net->conns) {
        conn_flush(net->conns);
        conn_close(net->conns, NULL);
    }
    st_network_before_sleep(net);
}
