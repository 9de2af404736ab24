/*
 * Blocking Kafka client for the CLI: connections, clusters, a producer
 * and a fetcher. See client.h for the layering and the limits.
 *
 * Connection invariants:
 *   1. fd >= 0 iff connected; any I/O, framing or correlation failure
 *      closes the connection (a half-read frame cannot be resynchronised).
 *   2. in_flight counts requests written whose responses are unread;
 *      responses arrive in request order on one connection, so each
 *      receive must name the oldest outstanding correlation id.
 *   3. versions[k] is -1 unless both the broker and our codec speak some
 *      version of API k.
 */
#include "tools/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol/errors.h"

int64_t st_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void *st_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return q;
}

void st_uuid_to_base64(const st_uuid_t *u, char out[23]) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int o = 0;
    for (int i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)u->bytes[i] << 16;
        int n = 16 - i >= 3 ? 3 : 16 - i;
        if (n > 1) v |= (uint32_t)u->bytes[i + 1] << 8;
        if (n > 2) v |= u->bytes[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (n > 1) out[o++] = alphabet[(v >> 6) & 63];
        if (n > 2) out[o++] = alphabet[v & 63];
    }
    out[o] = '\0';
}

const char *st_kafka_error_message(int code) {
    /* The messages of Java's Errors enum, which the admin client shows when
     * the broker sent no message of its own. */
    switch (code) {
    case ST_ERR_UNKNOWN_SERVER_ERROR:
        return "The server experienced an unexpected error when processing the request.";
    case ST_ERR_OFFSET_OUT_OF_RANGE:
        return "The requested offset is not within the range of offsets maintained by the server.";
    case ST_ERR_CORRUPT_MESSAGE:
        return "This message has failed its CRC checksum, exceeds the valid size, has a null key for a "
               "compacted topic, or is otherwise corrupt.";
    case ST_ERR_UNKNOWN_TOPIC_OR_PARTITION: return "This server does not host this topic-partition.";
    case ST_ERR_LEADER_NOT_AVAILABLE:
        return "There is no leader for this topic-partition as we are in the middle of a leadership election.";
    case ST_ERR_REQUEST_TIMED_OUT: return "The request timed out.";
    case ST_ERR_MESSAGE_TOO_LARGE:
        return "The request included a message larger than the max message size the server will accept.";
    case ST_ERR_INVALID_TOPIC_EXCEPTION:
        return "The request attempted to perform an operation on an invalid topic.";
    case ST_ERR_UNSUPPORTED_VERSION: return "The version of API is not supported.";
    case ST_ERR_TOPIC_ALREADY_EXISTS: return "Topic with this name already exists.";
    case ST_ERR_INVALID_PARTITIONS: return "Number of partitions is below 1.";
    case ST_ERR_INVALID_REPLICATION_FACTOR:
        return "Replication factor is below 1 or larger than the number of available brokers.";
    case ST_ERR_INVALID_REPLICA_ASSIGNMENT: return "Replica assignment is invalid.";
    case ST_ERR_INVALID_CONFIG: return "Configuration is invalid.";
    case ST_ERR_POLICY_VIOLATION: return "Request parameters do not satisfy the configured policy.";
    case ST_ERR_INVALID_RECORD:
        return "This record has failed the validation on broker and hence will be rejected.";
    default: return st_err_name(code);
    }
}

const char *st_arg_value(int argc, char **argv, int *i, const char *name) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "Option %s requires an argument\n", name);
        exit(1);
    }
    (*i)++;
    return argv[*i];
}

bool st_arg_flag(char **argv, int i, const char *name) { return strcmp(argv[i], name) == 0; }

bool st_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) {
    if (!s || !*s) return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}

/* ---- connection ---------------------------------------------------------- */

static int fail(st_client_t *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(st_client_t *c, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    return rc;
}

/* Invariant 1: a broken stream is closed, never reused. */
static int fail_close(st_client_t *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_close(st_client_t *c, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->in_flight = 0;
    return rc;
}

void st_client_init(st_client_t *c, int timeout_ms) {
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : ST_CLIENT_TIMEOUT_MS_DEFAULT;
    c->next_correlation_id = 1;
    for (int i = 0; i < ST_CLIENT_API_KEYS_MAX; i++) c->versions[i] = -1;
    st_writer_init(&c->out, 4096);
}

void st_client_close(st_client_t *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->in_flight = 0;
    st_writer_free(&c->out);
    free(c->frame);
    c->frame = NULL;
    c->frame_cap = 0;
}

const char *st_client_error(const st_client_t *c) { return c->error; }

int16_t st_client_version(const st_client_t *c, int16_t api_key) {
    if (api_key < 0 || api_key >= ST_CLIENT_API_KEYS_MAX) return -1;
    return c->versions[api_key];
}

/* Waits for `events` on the socket until `deadline_ms`. */
static int wait_fd(st_client_t *c, short events, int64_t deadline_ms, const char *what) {
    for (;;) {
        int64_t left = deadline_ms - st_now_ms();
        if (left <= 0) return fail_close(c, ST_ERR_IO, "%s: timed out %s after %d ms", c->peer, what, c->timeout_ms);
        struct pollfd pfd = {.fd = c->fd, .events = events};
        int n = poll(&pfd, 1, (int)(left > 1000000 ? 1000000 : left));
        if (n > 0) return 0;
        if (n < 0 && errno != EINTR) return fail_close(c, ST_ERR_IO, "%s: poll: %s", c->peer, strerror(errno));
    }
}

static int write_all(st_client_t *c, const uint8_t *p, size_t len) {
    int64_t deadline = st_now_ms() + c->timeout_ms;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c, POLLOUT, deadline, "sending a request");
            if (rc != 0) return rc;
            continue;
        }
        return fail_close(c, ST_ERR_IO, "%s: send: %s", c->peer, strerror(errno));
    }
    return 0;
}

static int read_all(st_client_t *c, uint8_t *p, size_t len, int64_t deadline) {
    while (len > 0) {
        ssize_t n = recv(c->fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0) return fail_close(c, ST_ERR_IO, "%s: connection closed by the broker", c->peer);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(c, POLLIN, deadline, "waiting for a response");
            if (rc != 0) return rc;
            continue;
        }
        return fail_close(c, ST_ERR_IO, "%s: recv: %s", c->peer, strerror(errno));
    }
    return 0;
}

bool st_client_readable(st_client_t *c, int timeout_ms) {
    if (c->fd < 0) return false;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int n;
    do {
        n = poll(&pfd, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n > 0;
}

static bool is_flexible(int16_t api_key, int16_t version) {
    const st_api_info_t *info = st_api_info_find(api_key);
    return info && info->flexible_min >= 0 && version >= info->flexible_min;
}

/* Frames and writes one request at an explicit version. */
static int send_version(st_client_t *c, int16_t api_key, int16_t version, const void *request,
                        int32_t *correlation_id) {
    const st_api_info_t *info = st_api_info_find(api_key);
    if (!info) return fail(c, ST_ERR_NOT_FOUND, "API key %d is unknown to the codec", api_key);
    if (c->fd < 0) return fail(c, ST_ERR_IO, "%s: not connected", c->peer[0] ? c->peer : "broker");
    if (c->in_flight >= ST_CLIENT_IN_FLIGHT_MAX)
        return fail(c, ST_ERR_LIMIT, "%s: more than %d requests in flight", c->peer, ST_CLIENT_IN_FLIGHT_MAX);
    int32_t id = c->next_correlation_id++;
    if (c->next_correlation_id < 0) c->next_correlation_id = 1;
    st_writer_t *w = &c->out;
    st_writer_reset(w);
    st_write_i32(w, 0); /* size, patched below */
    st_write_i16(w, api_key);
    st_write_i16(w, version);
    st_write_i32(w, id);
    st_codec_write_str(w, st_str(ST_CLIENT_ID), false); /* header v1+: int16 length */
    if (is_flexible(api_key, version)) st_write_uvarint(w, 0); /* no header tags */
    info->request_encode(w, version, request);
    if (w->len - 4 > INT32_MAX) return fail(c, ST_ERR_LIMIT, "request too large");
    st_writer_patch_i32(w, 0, (int32_t)(w->len - 4));
    int rc = write_all(c, w->data, w->len);
    if (rc != 0) return rc;
    c->in_flight++;
    if (correlation_id) *correlation_id = id;
    return 0;
}

int st_client_send(st_client_t *c, int16_t api_key, const void *request, int32_t *correlation_id) {
    int16_t v = st_client_version(c, api_key);
    if (v < 0) {
        const char *name = st_api_name(api_key);
        return fail(c, ST_ERR_NOT_FOUND, "%s: the broker supports no version of %s that this client speaks",
                    c->peer, name ? name : "this API");
    }
    return send_version(c, api_key, v, request, correlation_id);
}

/* Reads one frame into c->frame; returns its length via *len. */
static int read_frame(st_client_t *c, int32_t correlation_id, size_t *len) {
    if (c->fd < 0) return fail(c, ST_ERR_IO, "%s: not connected", c->peer[0] ? c->peer : "broker");
    if (c->in_flight <= 0) return fail(c, ST_ERR_IO, "%s: no request in flight", c->peer);
    int64_t deadline = st_now_ms() + c->timeout_ms;
    uint8_t size_bytes[4];
    int rc = read_all(c, size_bytes, 4, deadline);
    if (rc != 0) return rc;
    int32_t size = st_get_i32be(size_bytes);
    if (size < 4)
        return fail_close(c, ST_ERR_DECODE, "%s: response frame of %d bytes is too short", c->peer, (int)size);
    if (size > ST_CLIENT_RESPONSE_BYTES_MAX)
        return fail_close(c, ST_ERR_LIMIT, "%s: response of %d bytes exceeds the %d byte cap", c->peer, (int)size,
                          ST_CLIENT_RESPONSE_BYTES_MAX);
    if ((size_t)size > c->frame_cap) {
        c->frame = xrealloc(c->frame, (size_t)size);
        c->frame_cap = (size_t)size;
    }
    rc = read_all(c, c->frame, (size_t)size, deadline);
    if (rc != 0) return rc;
    c->in_flight--;
    int32_t got = st_get_i32be(c->frame);
    if (got != correlation_id)
        return fail_close(c, ST_ERR_DECODE, "%s: response correlation id %d, expected %d", c->peer, (int)got,
                          (int)correlation_id);
    *len = (size_t)size;
    return 0;
}

static int receive_version(st_client_t *c, int16_t api_key, int16_t version, int32_t correlation_id,
                           st_arena_t *arena, void *response) {
    const st_api_info_t *info = st_api_info_find(api_key);
    if (!info) return fail(c, ST_ERR_NOT_FOUND, "API key %d is unknown to the codec", api_key);
    size_t len = 0;
    int rc = read_frame(c, correlation_id, &len);
    if (rc != 0) return rc;
    st_reader_t r;
    st_reader_init(&r, c->frame + 4, len - 4);
    /* ApiVersions keeps response header v0 even when flexible (KIP-511). */
    if (api_key != ST_API_API_VERSIONS && is_flexible(api_key, version)) st_codec_skip_tagged(&r);
    rc = r.failed ? ST_ERR_DECODE : info->response_decode(&r, arena, version, response);
    if (rc != 0 || r.failed)
        return fail_close(c, ST_ERR_DECODE, "%s: could not decode the %s v%d response (%zu bytes)", c->peer,
                          info->name, version, len);
    return 0;
}

int st_client_receive(st_client_t *c, int16_t api_key, int32_t correlation_id, st_arena_t *arena,
                      void *response) {
    return receive_version(c, api_key, st_client_version(c, api_key), correlation_id, arena, response);
}

int st_client_call(st_client_t *c, int16_t api_key, const void *request, st_arena_t *arena,
                   void *response) {
    int32_t id = 0;
    int rc = st_client_send(c, api_key, request, &id);
    if (rc != 0) return rc;
    return st_client_receive(c, api_key, id, arena, response);
}

/* ApiVersions: ask at our newest version; a broker that does not know it
 * answers in v0 with UNSUPPORTED_VERSION and its own range, and we retry
 * at the best common version. */
static int negotiate(st_client_t *c) {
    const st_api_info_t *own = st_api_info_find(ST_API_API_VERSIONS);
    int16_t version = own->max_version;
    for (int attempt = 0; attempt < 2; attempt++) {
        st_api_versions_request_t req;
        st_api_versions_request_init(&req);
        req.client_software_name = st_str("strata-cli");
        req.client_software_version = st_str("0.1.0");
        int32_t id = 0;
        int rc = send_version(c, ST_API_API_VERSIONS, version, &req, &id);
        if (rc != 0) return rc;
        size_t len = 0;
        rc = read_frame(c, id, &len);
        if (rc != 0) return rc;
        st_reader_t r;
        st_reader_init(&r, c->frame + 4, len - 4);
        int16_t error = len >= 6 ? st_get_i16be(c->frame + 4) : 0;
        int16_t decode_version = error == ST_ERR_UNSUPPORTED_VERSION ? 0 : version;
        st_arena_t arena;
        st_arena_init(&arena);
        st_api_versions_response_t resp;
        rc = st_api_versions_response_decode(&r, &arena, decode_version, &resp);
        if (rc != 0 || r.failed) {
            st_arena_free(&arena);
            return fail_close(c, ST_ERR_DECODE, "%s: could not decode the ApiVersions response", c->peer);
        }
        if (error == ST_ERR_UNSUPPORTED_VERSION && attempt == 0) {
            int16_t broker_max = -1;
            for (int32_t i = 0; i < resp.api_keys_count; i++)
                if (resp.api_keys[i].api_key == ST_API_API_VERSIONS) broker_max = resp.api_keys[i].max_version;
            st_arena_free(&arena);
            if (broker_max < 0 || broker_max >= version)
                return fail_close(c, ST_ERR_UNSUPPORTED_VERSION, "%s: ApiVersions negotiation failed", c->peer);
            version = broker_max;
            continue;
        }
        if (error != 0) {
            st_arena_free(&arena);
            return fail_close(c, error, "%s: ApiVersions failed: %s", c->peer, st_err_name(error));
        }
        for (int i = 0; i < ST_CLIENT_API_KEYS_MAX; i++) c->versions[i] = -1;
        for (int32_t i = 0; i < resp.api_keys_count; i++) {
            const st_api_versions_response_api_version_t *k = &resp.api_keys[i];
            const st_api_info_t *info = st_api_info_find(k->api_key);
            if (!info || k->api_key < 0 || k->api_key >= ST_CLIENT_API_KEYS_MAX) continue;
            int16_t hi = k->max_version < info->max_version ? k->max_version : info->max_version;
            int16_t lo = k->min_version > info->min_version ? k->min_version : info->min_version;
            c->versions[k->api_key] = hi >= lo ? hi : -1;
        }
        st_arena_free(&arena);
        return 0;
    }
    return fail_close(c, ST_ERR_UNSUPPORTED_VERSION, "%s: ApiVersions negotiation failed", c->peer);
}

static int connect_addr(st_client_t *c, const struct addrinfo *ai) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return fail(c, ST_ERR_IO, "%s: socket: %s", c->peer, strerror(errno));
    c->fd = fd;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) return fail_close(c, ST_ERR_IO, "%s: connect: %s", c->peer, strerror(errno));
        int rc = wait_fd(c, POLLOUT, st_now_ms() + c->timeout_ms, "connecting");
        if (rc != 0) return rc;
        int err = 0;
        socklen_t err_len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) err = errno;
        if (err != 0) return fail_close(c, ST_ERR_IO, "%s: connect: %s", c->peer, strerror(err));
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

int st_client_connect_host(st_client_t *c, const char *host, int port) {
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->in_flight = 0;
    snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port_text, &hints, &res);
    if (gai != 0) return fail(c, ST_ERR_IO, "%s: cannot resolve host: %s", c->peer, gai_strerror(gai));
    int rc = ST_ERR_IO;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        rc = connect_addr(c, ai);
        if (rc == 0) break;
    }
    freeaddrinfo(res);
    if (rc != 0) return rc;
    return negotiate(c);
}

/* Splits "host:port" / "[v6]:port" into its parts. */
static bool parse_host_port(const char *s, size_t len, char *host, size_t host_cap, int *port) {
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    if (!colon || colon == s) return false;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= host_cap) return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (end != s + len || p <= 0 || p > 65535) return false;
    *port = (int)p;
    return true;
}

int st_client_connect(st_client_t *c, const char *bootstrap) {
    int rc = fail(c, ST_ERR_IO, "no bootstrap server given");
    const char *s = bootstrap;
    while (s && *s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        while (len > 0 && *s == ' ') {
            s++;
            len--;
        }
        char host[256];
        int port = 0;
        if (!parse_host_port(s, len, host, sizeof host, &port)) {
            rc = fail(c, ST_ERR_IO, "invalid bootstrap server '%.*s' (expected host:port)", (int)len, s);
        } else {
            rc = st_client_connect_host(c, host, port);
            if (rc == 0) return 0;
        }
        s = comma ? comma + 1 : NULL;
    }
    return rc;
}

/* ---- cluster ------------------------------------------------------------- */

int st_cluster_open(st_cluster_t *cl, const char *bootstrap, int timeout_ms) {
    memset(cl, 0, sizeof *cl);
    cl->timeout_ms = timeout_ms > 0 ? timeout_ms : ST_CLIENT_TIMEOUT_MS_DEFAULT;
    st_client_init(&cl->bootstrap, cl->timeout_ms);
    int rc = st_client_connect(&cl->bootstrap, bootstrap);
    if (rc != 0) snprintf(cl->error, sizeof cl->error, "%s", st_client_error(&cl->bootstrap));
    return rc;
}

void st_cluster_close(st_cluster_t *cl) {
    for (int32_t i = 0; i < cl->node_count; i++) {
        if (cl->nodes[i].client) {
            st_client_close(cl->nodes[i].client);
            free(cl->nodes[i].client);
        }
    }
    free(cl->nodes);
    cl->nodes = NULL;
    cl->node_count = 0;
    st_client_close(&cl->bootstrap);
}

static void cluster_learn(st_cluster_t *cl, const st_metadata_response_t *md) {
    for (int32_t i = 0; i < md->brokers_count; i++) {
        const st_metadata_response_metadata_response_broker_t *b = &md->brokers[i];
        st_cluster_node_t *n = NULL;
        for (int32_t j = 0; j < cl->node_count; j++)
            if (cl->nodes[j].node_id == b->node_id) n = &cl->nodes[j];
        if (!n) {
            cl->nodes = xrealloc(cl->nodes, sizeof *cl->nodes * (size_t)(cl->node_count + 1));
            n = &cl->nodes[cl->node_count++];
            memset(n, 0, sizeof *n);
            n->node_id = b->node_id;
        }
        char host[256];
        snprintf(host, sizeof host, "%.*s", b->host.len > 0 ? (int)b->host.len : 0, b->host.ptr ? b->host.ptr : "");
        if (strcmp(host, n->host) != 0 || n->port != b->port) {
            /* The node moved: drop the old connection. */
            if (n->client) {
                st_client_close(n->client);
                free(n->client);
                n->client = NULL;
            }
            snprintf(n->host, sizeof n->host, "%s", host);
            n->port = b->port;
        }
    }
}

int st_cluster_metadata(st_cluster_t *cl, const char *const *topics, int32_t topic_count,
                        st_arena_t *arena, st_metadata_response_t *md) {
    st_metadata_request_t req;
    st_metadata_request_init(&req);
    req.allow_auto_topic_creation = false;
    if (topic_count < 0) {
        req.topics = NULL;
        req.topics_count = -1;
    } else {
        req.topics = st_arena_alloc(arena, sizeof *req.topics * (size_t)(topic_count ? topic_count : 1));
        req.topics_count = topic_count;
        for (int32_t i = 0; i < topic_count; i++) req.topics[i].name = st_str(topics[i]);
    }
    /* Metadata v0 reads an empty array as "all topics"; null needs v1+. */
    if (topic_count < 0 && st_client_version(&cl->bootstrap, ST_API_METADATA) == 0) req.topics_count = 0;
    int rc = st_client_call(&cl->bootstrap, ST_API_METADATA, &req, arena, md);
    if (rc != 0) {
        snprintf(cl->error, sizeof cl->error, "%s", st_client_error(&cl->bootstrap));
        return rc;
    }
    cluster_learn(cl, md);
    return 0;
}

st_client_t *st_cluster_client(st_cluster_t *cl, int32_t node_id) {
    for (int32_t i = 0; i < cl->node_count; i++) {
        st_cluster_node_t *n = &cl->nodes[i];
        if (n->node_id != node_id) continue;
        if (n->client && n->client->fd >= 0) return n->client;
        if (!n->client) {
            n->client = st_xcalloc(1, sizeof *n->client);
            st_client_init(n->client, cl->timeout_ms);
        }
        if (st_client_connect_host(n->client, n->host, n->port) != 0) {
            snprintf(cl->error, sizeof cl->error, "%s", st_client_error(n->client));
            return NULL;
        }
        return n->client;
    }
    snprintf(cl->error, sizeof cl->error, "broker %d is not in the cluster metadata", (int)node_id);
    return NULL;
}

int st_topic_layout_load(st_cluster_t *cl, const char *topic, st_topic_layout_t *layout) {
    memset(layout, 0, sizeof *layout);
    int64_t deadline = st_now_ms() + cl->timeout_ms;
    for (;;) {
        st_arena_t arena;
        st_arena_init(&arena);
        st_metadata_response_t md;
        int rc = st_cluster_metadata(cl, &topic, 1, &arena, &md);
        if (rc != 0) {
            st_arena_free(&arena);
            return rc;
        }
        int error = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        bool ready = false;
        for (int32_t i = 0; i < md.topics_count; i++) {
            const st_metadata_response_metadata_response_topic_t *t = &md.topics[i];
            if (!st_str_eq(t->name, topic)) continue;
            error = t->error_code;
            if (error != 0 || t->partitions_count <= 0) break;
            free(layout->leaders);
            layout->topic_id = t->topic_id;
            layout->partition_count = t->partitions_count;
            layout->leaders = st_xcalloc((size_t)t->partitions_count, sizeof *layout->leaders);
            for (int32_t p = 0; p < t->partitions_count; p++) layout->leaders[p] = -1;
            ready = true;
            for (int32_t p = 0; p < t->partitions_count; p++) {
                const st_metadata_response_metadata_response_partition_t *mp = &t->partitions[p];
                if (mp->partition_index < 0 || mp->partition_index >= t->partitions_count) {
                    ready = false;
                    continue;
                }
                layout->leaders[mp->partition_index] = mp->leader_id;
            }
            for (int32_t p = 0; p < t->partitions_count; p++)
                if (layout->leaders[p] < 0) ready = false;
        }
        st_arena_free(&arena);
        if (ready) return 0;
        bool retriable = error == 0 || error == ST_ERR_LEADER_NOT_AVAILABLE;
        if (!retriable || st_now_ms() >= deadline) {
            snprintf(cl->error, sizeof cl->error, "topic '%s': %s", topic,
                     error == 0 ? "partitions have no leader" : st_kafka_error_message(error));
            st_topic_layout_free(layout);
            return error == 0 ? ST_ERR_LEADER_NOT_AVAILABLE : error;
        }
        usleep(100 * 1000);
    }
}

void st_topic_layout_free(st_topic_layout_t *layout) {
    free(layout->leaders);
    layout->leaders = NULL;
    layout->partition_count = 0;
}

/* ---- partitioner ---------------------------------------------------------- */

int32_t st_murmur2(const uint8_t *data, size_t len) {
    /* Java's Utils.murmur2, with its int arithmetic done in uint32_t. */
    const uint32_t m = 0x5bd1e995u;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t blocks = len / 4;
    for (size_t i = 0; i < blocks; i++) {
        const uint8_t *b = data + i * 4;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = data + (len & ~(size_t)3);
    switch (len & 3) {
    case 3: h ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: h ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1:
        h ^= tail[0];
        h *= m;
        break;
    default: break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

int32_t st_partition_for_key(const uint8_t *key, size_t len, int32_t partition_count) {
    uint32_t positive = (uint32_t)st_murmur2(key, len) & 0x7fffffffu;
    return (int32_t)(positive % (uint32_t)partition_count);
}

/* ---- producer -------------------------------------------------------------
 *
 * Per partition: an open batch (a builder plus the tags of its records).
 * A batch is "ready" when full, when its linger expired, or on flush; the
 * ready batches of one leader go out together in one Produce request. Per
 * leader: a FIFO of in-flight requests (at most in_flight_max), each
 * remembering which batches (partition, tags) it carried so the response
 * can complete their records.
 *
 *   open batch --(full | linger | flush)--> in flight --(response)--> done()
 */

typedef struct producer_batch {
    int32_t partition;
    int64_t *tags;
    int32_t count;
} producer_batch_t;

typedef struct producer_request {
    int32_t correlation_id;
    producer_batch_t *batches;
    int32_t batch_count;
} producer_request_t;

struct st_producer_partition {
    st_batch_builder_t builder;
    bool open;
    int64_t opened_ms;
    int64_t *tags;
    int32_t tag_cap;
};

struct st_producer_node {
    int32_t node_id;
    st_client_t *client;
    producer_request_t *ring; /* in_flight_max slots */
    int32_t head;
    int32_t count;
};

void st_producer_config_defaults(st_producer_config_t *config) {
    memset(config, 0, sizeof *config);
    config->acks = -1;
    config->codec = ST_CODEC_NONE;
    config->batch_bytes_max = 16384;
    config->linger_ms = 5;
    config->request_bytes_max = 1048576;
    config->in_flight_max = 5;
    config->request_timeout_ms = 30000;
}

static int producer_fail(st_producer_t *p, int rc, const char *text) {
    if (p->error == 0) {
        p->error = rc;
        snprintf(p->error_text, sizeof p->error_text, "%s", text);
    }
    return p->error;
}

static void producer_complete(st_producer_t *p, producer_batch_t *b, int64_t base_offset, int error,
                              const char *message) {
    for (int32_t i = 0; i < b->count; i++) {
        int64_t offset = error != 0 ? -1 : base_offset < 0 ? -1 : base_offset + i;
        if (p->config.done) p->config.done(p->config.opaque, b->partition, offset, b->tags[i], error, message);
    }
    p->pending_records -= b->count;
    free(b->tags);
    b->tags = NULL;
}

static void producer_request_fail(st_producer_t *p, producer_request_t *req, int error, const char *message) {
    for (int32_t i = 0; i < req->batch_count; i++) producer_complete(p, &req->batches[i], -1, error, message);
    free(req->batches);
    req->batches = NULL;
    req->batch_count = 0;
}

/* Fails everything in flight on `n` (its connection is gone). */
static void producer_node_fail(st_producer_t *p, st_producer_node_t *n, int error, const char *message) {
    while (n->count > 0) {
        producer_request_t *req = &n->ring[n->head];
        producer_request_fail(p, req, error, message);
        n->head = (n->head + 1) % p->config.in_flight_max;
        n->count--;
    }
}

/* Reads the oldest response on `n` and completes its records. */
static int producer_receive_one(st_producer_t *p, st_producer_node_t *n) {
    producer_request_t *req = &n->ring[n->head];
    st_arena_t arena;
    st_arena_init(&arena);
    st_produce_response_t resp;
    int rc = st_client_receive(n->client, ST_API_PRODUCE, req->correlation_id, &arena, &resp);
    if (rc != 0) {
        const char *why = st_client_error(n->client);
        producer_node_fail(p, n, rc, why);
        st_arena_free(&arena);
        return producer_fail(p, rc, why);
    }
    for (int32_t b = 0; b < req->batch_count; b++) {
        producer_batch_t *batch = &req->batches[b];
        const st_produce_response_partition_produce_response_t *pr = NULL;
        for (int32_t t = 0; t < resp.responses_count && !pr; t++)
            for (int32_t i = 0; i < resp.responses[t].partition_responses_count; i++)
                if (resp.responses[t].partition_responses[i].index == batch->partition)
                    pr = &resp.responses[t].partition_responses[i];
        if (!pr) {
            producer_complete(p, batch, -1, ST_ERR_UNKNOWN_SERVER_ERROR, "partition missing from the Produce response");
            continue;
        }
        const char *message = NULL;
        char text[ST_CLIENT_ERROR_BYTES];
        if (pr->error_code != 0) {
            if (pr->error_message.len > 0)
                snprintf(text, sizeof text, "%.*s", (int)pr->error_message.len, pr->error_message.ptr);
            else
                snprintf(text, sizeof text, "%s", st_kafka_error_message(pr->error_code));
            message = text;
        }
        producer_complete(p, batch, pr->base_offset, pr->error_code, message);
    }
    free(req->batches);
    req->batches = NULL;
    req->batch_count = 0;
    n->head = (n->head + 1) % p->config.in_flight_max;
    n->count--;
    st_arena_free(&arena);
    return 0;
}

static st_producer_node_t *producer_node(st_producer_t *p, int32_t node_id) {
    for (int32_t i = 0; i < p->node_count; i++)
        if (p->nodes[i].node_id == node_id) return &p->nodes[i];
    return NULL;
}

static bool batch_ready(const st_producer_t *p, const st_producer_partition_t *pp, int64_t now, bool flush) {
    if (!pp->open) return false;
    if (flush) return true;
    if ((int64_t)pp->builder.records.len + ST_BATCH_HEADER_BYTES >= p->config.batch_bytes_max) return true;
    return now - pp->opened_ms >= p->config.linger_ms;
}

/* Sends the ready batches led by `n` in one request (several if they exceed
 * the request cap), first making room in the in-flight window. */
static int producer_drain_node(st_producer_t *p, st_producer_node_t *n, bool flush) {
    int64_t now = st_now_ms();
    for (;;) {
        int32_t ready = 0;
        for (int32_t i = 0; i < p->layout.partition_count; i++)
            if (p->layout.leaders[i] == n->node_id && batch_ready(p, &p->partitions[i], now, flush)) ready++;
        if (ready == 0) return 0;
        while (n->count >= p->config.in_flight_max) {
            int rc = producer_receive_one(p, n);
            if (rc != 0) return rc;
        }
        if (p->error != 0) return p->error;

        st_writer_t records;
        st_writer_init(&records, 0);
        producer_request_t *req = &n->ring[(n->head + n->count) % p->config.in_flight_max];
        req->batches = st_xcalloc((size_t)ready, sizeof *req->batches);
        req->batch_count = 0;
        size_t *starts = st_xcalloc((size_t)ready + 1, sizeof *starts);
        for (int32_t i = 0; i < p->layout.partition_count; i++) {
            st_producer_partition_t *pp = &p->partitions[i];
            if (p->layout.leaders[i] != n->node_id || !batch_ready(p, pp, now, flush)) continue;
            /* One request stays under max.request.size unless a single batch
             * is bigger on its own. */
            if (req->batch_count > 0 &&
                records.len + pp->builder.records.len + ST_BATCH_HEADER_BYTES > (size_t)p->config.request_bytes_max)
                break;
            starts[req->batch_count] = records.len;
            int rc = st_batch_builder_finish(&pp->builder, &records);
            if (rc != 0) {
                free(starts);
                st_writer_free(&records);
                producer_request_fail(p, req, rc, "compression failed");
                return producer_fail(p, rc, "compression failed");
            }
            producer_batch_t *b = &req->batches[req->batch_count++];
            b->partition = i;
            b->tags = pp->tags;
            b->count = pp->builder.record_count;
            pp->tags = NULL;
            pp->tag_cap = 0;
            st_batch_builder_free(&pp->builder);
            pp->open = false;
            if (p->sticky_partition == i) p->sticky_partition = -1;
        }
        starts[req->batch_count] = records.len;

        st_produce_request_t pr;
        st_produce_request_init(&pr);
        pr.transactional_id = st_str_null();
        pr.acks = p->config.acks;
        pr.timeout_ms = p->config.request_timeout_ms;
        st_produce_request_topic_produce_data_t topic;
        memset(&topic, 0, sizeof topic);
        topic.name = st_str(p->config.topic);
        topic.partition_data = st_xcalloc((size_t)req->batch_count, sizeof *topic.partition_data);
        topic.partition_data_count = req->batch_count;
        for (int32_t b = 0; b < req->batch_count; b++) {
            st_produce_request_partition_produce_data_t *pd = &topic.partition_data[b];
            pd->index = req->batches[b].partition;
            pd->records = (st_records_t){.ptr = records.data + starts[b],
                                         .len = (int32_t)(starts[b + 1] - starts[b]),
                                         .fd = -1};
        }
        pr.topic_data = &topic;
        pr.topic_data_count = 1;
        int32_t id = 0;
        int rc = st_client_send(n->client, ST_API_PRODUCE, &pr, &id);
        free(topic.partition_data);
        free(starts);
        st_writer_free(&records);
        if (rc != 0) {
            const char *why = st_client_error(n->client);
            producer_request_fail(p, req, rc, why);
            producer_node_fail(p, n, rc, why);
            return producer_fail(p, rc, why);
        }
        if (p->config.acks == 0) {
            /* No response will come: the records are done once written. */
            n->client->in_flight--;
            producer_request_fail(p, req, 0, NULL);
        } else {
            req->correlation_id = id;
            n->count++;
        }
    }
}

int st_producer_open(st_producer_t *p, st_cluster_t *cluster, const st_producer_config_t *config) {
    memset(p, 0, sizeof *p);
    p->config = *config;
    if (p->config.in_flight_max <= 0) p->config.in_flight_max = 1;
    if (p->config.in_flight_max > ST_CLIENT_IN_FLIGHT_MAX) p->config.in_flight_max = ST_CLIENT_IN_FLIGHT_MAX;
    if (p->config.batch_bytes_max <= 0) p->config.batch_bytes_max = 1;
    p->cluster = cluster;
    p->sticky_partition = -1;
    p->random_state = (uint32_t)wall_ms() ^ (uint32_t)getpid();
    int rc = st_topic_layout_load(cluster, config->topic, &p->layout);
    if (rc != 0) {
        snprintf(p->error_text, sizeof p->error_text, "%s", cluster->error);
        return rc;
    }
    p->partitions = st_xcalloc((size_t)p->layout.partition_count, sizeof *p->partitions);
    p->nodes = st_xcalloc((size_t)p->layout.partition_count, sizeof *p->nodes);
    for (int32_t i = 0; i < p->layout.partition_count; i++) {
        int32_t leader = p->layout.leaders[i];
        if (producer_node(p, leader)) continue;
        st_client_t *client = st_cluster_client(cluster, leader);
        if (!client) {
            snprintf(p->error_text, sizeof p->error_text, "%s", cluster->error);
            st_producer_close(p);
            return ST_ERR_IO;
        }
        st_producer_node_t *n = &p->nodes[p->node_count++];
        n->node_id = leader;
        n->client = client;
        n->ring = st_xcalloc((size_t)p->config.in_flight_max, sizeof *n->ring);
    }
    return 0;
}

static uint32_t next_random(st_producer_t *p) {
    /* xorshift32: enough to spread sticky partitions. */
    uint32_t x = p->random_state ? p->random_state : 0x2545f491u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p->random_state = x;
    return x;
}

int st_producer_send(st_producer_t *p, int32_t partition, const uint8_t *key, int32_t key_len,
                     const uint8_t *value, int32_t value_len, const st_record_header_t *headers,
                     int32_t header_count, int64_t tag) {
    if (p->error != 0) return p->error;
    int32_t count = p->layout.partition_count;
    if (partition < 0 || partition >= count) {
        if (key_len >= 0) {
            partition = st_partition_for_key(key, (size_t)key_len, count);
        } else {
            /* KIP-480 sticky partitioner: keyless records fill one batch,
             * then another partition is picked. */
            if (p->sticky_partition < 0) p->sticky_partition = (int32_t)(next_random(p) % (uint32_t)count);
            partition = p->sticky_partition;
        }
    }
    st_producer_partition_t *pp = &p->partitions[partition];
    int64_t now_wall = wall_ms();
    if (!pp->open) {
        st_batch_builder_init(&pp->builder, p->config.codec, 0);
        pp->open = true;
        pp->opened_ms = st_now_ms();
    }
    if (pp->builder.record_count >= pp->tag_cap) {
        pp->tag_cap = pp->tag_cap ? pp->tag_cap * 2 : 64;
        pp->tags = xrealloc(pp->tags, sizeof *pp->tags * (size_t)pp->tag_cap);
    }
    pp->tags[pp->builder.record_count] = tag;
    st_batch_builder_add(&pp->builder, pp->builder.record_count, now_wall, key, key_len, value, value_len,
                         headers, header_count);
    p->pending_records++;
    if ((int64_t)pp->builder.records.len + ST_BATCH_HEADER_BYTES >= p->config.batch_bytes_max) {
        st_producer_node_t *n = producer_node(p, p->layout.leaders[partition]);
        return producer_drain_node(p, n, false);
    }
    return 0;
}

int st_producer_poll(st_producer_t *p, int timeout_ms) {
    for (int32_t i = 0; i < p->node_count; i++) {
        int rc = producer_drain_node(p, &p->nodes[i], false);
        if (rc != 0) return rc;
    }
    int64_t deadline = st_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        bool any = false;
        for (int32_t i = 0; i < p->node_count; i++) {
            st_producer_node_t *n = &p->nodes[i];
            while (n->count > 0 && st_client_readable(n->client, 0)) {
                int rc = producer_receive_one(p, n);
                if (rc != 0) return rc;
                any = true;
            }
        }
        int64_t left = deadline - st_now_ms();
        if (any || left <= 0) return p->error;
        /* Wait on the first node with something in flight. */
        st_producer_node_t *wait = NULL;
        for (int32_t i = 0; i < p->node_count && !wait; i++)
            if (p->nodes[i].count > 0) wait = &p->nodes[i];
        if (!wait) return p->error;
        (void)st_client_readable(wait->client, left > 100 ? 100 : (int)left);
    }
}

int st_producer_open_cli(st_cluster_t *cl, st_producer_t *p, const char *bootstrap, int timeout_ms,
                         const st_producer_config_t *config) {
    if (st_cluster_open(cl, bootstrap, timeout_ms) != 0) {
        fprintf(stderr, "ERROR %s\n", cl->error);
        return 1;
    }
    if (st_producer_open(p, cl, config) != 0) {
        fprintf(stderr, "ERROR %s\n", p->error_text);
        return 1;
    }
    return 0;
}

int st_producer_flush(st_producer_t *p) {
    for (int32_t i = 0; i < p->node_count; i++) {
        int rc = producer_drain_node(p, &p->nodes[i], true);
        if (rc != 0) return rc;
    }
    for (int32_t i = 0; i < p->node_count; i++) {
        st_producer_node_t *n = &p->nodes[i];
        while (n->count > 0) {
            int rc = producer_receive_one(p, n);
            if (rc != 0) return rc;
        }
    }
    return p->error;
}

void st_producer_close(st_producer_t *p) {
    for (int32_t i = 0; i < p->node_count; i++) {
        producer_node_fail(p, &p->nodes[i], ST_ERR_IO, "producer closed");
        free(p->nodes[i].ring);
    }
    if (p->partitions) {
        for (int32_t i = 0; i < p->layout.partition_count; i++) {
            if (p->partitions[i].open) st_batch_builder_free(&p->partitions[i].builder);
            free(p->partitions[i].tags);
        }
    }
    free(p->partitions);
    free(p->nodes);
    st_topic_layout_free(&p->layout);
    p->partitions = NULL;
    p->nodes = NULL;
    p->node_count = 0;
}

/* ---- fetcher ------------------------------------------------------------- */

static int fetcher_fail(st_fetcher_t *f, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fetcher_fail(st_fetcher_t *f, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->error, sizeof f->error, fmt, ap);
    va_end(ap);
    return rc;
}

/* ListOffsets for the partitions led by `leader` that are flagged in
 * `which`, setting their positions. */
static int fetcher_list_offsets(st_fetcher_t *f, int32_t leader, const bool *which, int64_t timestamp) {
    st_client_t *c = st_cluster_client(f->cluster, leader);
    if (!c) return fetcher_fail(f, ST_ERR_IO, "%s", f->cluster->error);
    st_arena_t arena;
    st_arena_init(&arena);
    st_list_offsets_request_t req;
    st_list_offsets_request_init(&req);
    req.replica_id = -1;
    req.isolation_level = 0;
    req.timeout_ms = c->timeout_ms;
    st_list_offsets_request_list_offsets_topic_t topic;
    memset(&topic, 0, sizeof topic);
    topic.name = st_str(f->topic);
    topic.partitions = st_arena_alloc(&arena, sizeof *topic.partitions * (size_t)f->part_count);
    for (int32_t i = 0; i < f->part_count; i++) {
        if (!which[i] || f->parts[i].leader_id != leader) continue;
        st_list_offsets_request_list_offsets_partition_t *lp = &topic.partitions[topic.partitions_count++];
        lp->partition_index = f->parts[i].partition;
        lp->current_leader_epoch = -1;
        lp->timestamp = timestamp;
        lp->max_num_offsets = 1;
    }
    req.topics = &topic;
    req.topics_count = 1;
    st_list_offsets_response_t resp;
    int rc = st_client_call(c, ST_API_LIST_OFFSETS, &req, &arena, &resp);
    if (rc != 0) {
        fetcher_fail(f, rc, "%s", st_client_error(c));
        st_arena_free(&arena);
        return rc;
    }
    for (int32_t t = 0; t < resp.topics_count; t++) {
        for (int32_t i = 0; i < resp.topics[t].partitions_count; i++) {
            const st_list_offsets_response_list_offsets_partition_response_t *lp = &resp.topics[t].partitions[i];
            for (int32_t k = 0; k < f->part_count; k++) {
                if (!which[k] || f->parts[k].partition != lp->partition_index) continue;
                if (lp->error_code != 0) {
                    rc = fetcher_fail(f, lp->error_code, "ListOffsets %s-%d: %s", f->topic, (int)lp->partition_index,
                                      st_kafka_error_message(lp->error_code));
                    continue;
                }
                int64_t offset = lp->offset;
                if (lp->old_style_offsets_count > 0) offset = lp->old_style_offsets[0];
                f->parts[k].position = offset;
            }
        }
    }
    st_arena_free(&arena);
    return rc;
}

static int fetcher_reset(st_fetcher_t *f, const bool *which, int64_t timestamp) {
    for (int32_t i = 0; i < f->part_count; i++) {
        if (!which[i]) continue;
        bool seen = false;
        for (int32_t j = 0; j < i; j++)
            if (which[j] && f->parts[j].leader_id == f->parts[i].leader_id) seen = true;
        if (seen) continue;
        int rc = fetcher_list_offsets(f, f->parts[i].leader_id, which, timestamp);
        if (rc != 0) return rc;
    }
    return 0;
}

int st_fetcher_open(st_fetcher_t *f, st_cluster_t *cluster, const char *topic, int32_t partition,
                    int64_t start) {
    memset(f, 0, sizeof *f);
    f->cluster = cluster;
    f->topic = topic;
    f->max_wait_ms = 500;
    f->partition_bytes_max = 1048576;
    f->fetch_bytes_max = 52428800;
    f->reset_to = start == ST_OFFSET_EARLIEST ? ST_OFFSET_EARLIEST : ST_OFFSET_LATEST;
    int rc = st_topic_layout_load(cluster, topic, &f->layout);
    if (rc != 0) return fetcher_fail(f, rc, "%s", cluster->error);
    if (partition >= f->layout.partition_count) {
        st_fetcher_close(f);
        return fetcher_fail(f, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION, "partition %d of topic '%s' does not exist",
                            (int)partition, topic);
    }
    f->parts = st_xcalloc((size_t)f->layout.partition_count, sizeof *f->parts);
    for (int32_t i = 0; i < f->layout.partition_count; i++) {
        if (partition >= 0 && i != partition) continue;
        st_fetcher_partition_t *fp = &f->parts[f->part_count++];
        fp->partition = i;
        fp->leader_id = f->layout.leaders[i];
        fp->position = start;
        fp->high_watermark = -1;
    }
    bool *which = st_xcalloc((size_t)f->part_count, sizeof *which);
    for (int32_t i = 0; i < f->part_count; i++) which[i] = start < 0;
    rc = fetcher_reset(f, which, start < 0 ? start : ST_OFFSET_LATEST);
    free(which);
    return rc;
}

void st_fetcher_close(st_fetcher_t *f) {
    free(f->parts);
    f->parts = NULL;
    f->part_count = 0;
    st_topic_layout_free(&f->layout);
}

/* Walks the batches of one partition's records; returns false when the
 * callback asked to stop. A trailing partial batch (the broker cuts at the
 * byte limit) is ignored: the next fetch starts at it. */
static bool fetcher_deliver(st_fetcher_t *f, st_fetcher_partition_t *fp, const uint8_t *data, size_t len,
                            st_fetcher_record_fn fn, void *opaque, int64_t *delivered, int *error) {
    size_t pos = 0;
    while (len - pos >= ST_BATCH_LOG_OVERHEAD) {
        const uint8_t *b = data + pos;
        int32_t batch_length = st_get_i32be(b + 8);
        if (batch_length < 0 || (size_t)batch_length + ST_BATCH_LOG_OVERHEAD > len - pos) break; /* partial */
        size_t total = (size_t)batch_length + ST_BATCH_LOG_OVERHEAD;
        pos += total;
        st_batch_header_t h;
        int rc = st_batch_header_parse(b, total, &h);
        if (rc != 0) {
            *error = fetcher_fail(f, rc, "%s-%d: malformed batch at offset %lld", f->topic, (int)fp->partition,
                                  (long long)st_get_i64be(b));
            return false;
        }
        if (st_batch_last_offset(&h) < fp->position) continue;
        if (!st_batch_crc_valid(b, total)) {
            *error = fetcher_fail(f, ST_ERR_CORRUPT_MESSAGE, "%s-%d: batch at offset %lld fails its CRC", f->topic,
                                  (int)fp->partition, (long long)h.base_offset);
            return false;
        }
        if (h.attributes & ST_BATCH_ATTR_CONTROL) {
            fp->position = st_batch_last_offset(&h) + 1;
            continue;
        }
        st_arena_t arena;
        st_arena_init(&arena);
        st_record_iter_t it;
        rc = st_record_iter_init(&it, b, total, ST_CLIENT_DECOMPRESSED_BYTES_MAX, &arena);
        if (rc != 0) {
            st_arena_free(&arena);
            *error = fetcher_fail(f, rc, "%s-%d: cannot read batch at offset %lld: %s", f->topic, (int)fp->partition,
                                  (long long)h.base_offset, st_err_name(rc));
            return false;
        }
        bool log_append = (h.attributes & ST_BATCH_ATTR_LOG_APPEND_TIME) != 0;
        st_record_t rec;
        while ((rc = st_record_iter_next(&it, &rec)) == 1) {
            int64_t offset = h.base_offset + rec.offset_delta;
            if (offset < fp->position) continue;
            st_fetched_record_t fr = {
                .partition = fp->partition,
                .offset = offset,
                .timestamp = log_append ? h.max_timestamp : h.base_timestamp + rec.timestamp_delta,
                .log_append_time = log_append,
                .record = &rec,
            };
            fp->position = offset + 1;
            (*delivered)++;
            if (!fn(opaque, &fr)) {
                st_arena_free(&arena);
                return false;
            }
        }
        st_arena_free(&arena);
        if (rc < 0 || rc > 1) {
            *error = fetcher_fail(f, ST_ERR_CORRUPT_MESSAGE, "%s-%d: corrupt record in batch at offset %lld",
                                  f->topic, (int)fp->partition, (long long)h.base_offset);
            return false;
        }
        if (st_batch_last_offset(&h) + 1 > fp->position) fp->position = st_batch_last_offset(&h) + 1;
    }
    return true;
}

static int fetcher_poll_leader(st_fetcher_t *f, int32_t leader, st_fetcher_record_fn fn, void *opaque,
                               int64_t *delivered, bool *stop) {
    st_client_t *c = st_cluster_client(f->cluster, leader);
    if (!c) return fetcher_fail(f, ST_ERR_IO, "%s", f->cluster->error);
    int16_t version = st_client_version(c, ST_API_FETCH);
    if (version < 4) return fetcher_fail(f, ST_ERR_UNSUPPORTED_VERSION, "%s: the broker lacks Fetch v4+", c->peer);
    st_arena_t arena;
    st_arena_init(&arena);
    st_fetch_request_t req;
    st_fetch_request_init(&req);
    req.replica_id = -1;
    req.replica_state.replica_id = -1;
    req.replica_state.replica_epoch = -1;
    req.max_wait_ms = f->max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = f->fetch_bytes_max;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1; /* full fetch, no session (KIP-227) */
    req.rack_id = st_str("");
    st_fetch_request_fetch_topic_t topic;
    memset(&topic, 0, sizeof topic);
    topic.topic = st_str(f->topic);
    topic.topic_id = f->layout.topic_id;
    topic.partitions = st_arena_alloc(&arena, sizeof *topic.partitions * (size_t)f->part_count);
    for (int32_t i = 0; i < f->part_count; i++) {
        if (f->parts[i].leader_id != leader) continue;
        st_fetch_request_fetch_partition_t *fp = &topic.partitions[topic.partitions_count++];
        fp->partition = f->parts[i].partition;
        fp->current_leader_epoch = -1;
        fp->fetch_offset = f->parts[i].position;
        fp->last_fetched_epoch = -1;
        fp->log_start_offset = -1;
        fp->partition_max_bytes = f->partition_bytes_max;
    }
    req.topics = &topic;
    req.topics_count = 1;
    req.forgotten_topics_data = NULL;
    req.forgotten_topics_data_count = 0;
    if (version >= 13 && st_uuid_is_zero(&f->layout.topic_id)) {
        st_arena_free(&arena);
        return fetcher_fail(f, ST_ERR_UNKNOWN_TOPIC_ID, "topic '%s' has no topic id for Fetch v%d", f->topic, version);
    }
    st_fetch_response_t resp;
    int rc = st_client_call(c, ST_API_FETCH, &req, &arena, &resp);
    if (rc != 0) {
        fetcher_fail(f, rc, "%s", st_client_error(c));
        st_arena_free(&arena);
        return rc;
    }
    if (resp.error_code != 0) {
        rc = fetcher_fail(f, resp.error_code, "Fetch: %s", st_kafka_error_message(resp.error_code));
        st_arena_free(&arena);
        return rc;
    }
    bool *reset = st_xcalloc((size_t)f->part_count, sizeof *reset);
    bool need_reset = false;
    int error = 0;
    for (int32_t t = 0; t < resp.responses_count && !*stop && error == 0; t++) {
        const st_fetch_response_fetchable_topic_response_t *tr = &resp.responses[t];
        for (int32_t i = 0; i < tr->partitions_count && !*stop && error == 0; i++) {
            const st_fetch_response_partition_data_t *pd = &tr->partitions[i];
            st_fetcher_partition_t *fp = NULL;
            int32_t k = 0;
            for (; k < f->part_count; k++)
                if (f->parts[k].partition == pd->partition_index && f->parts[k].leader_id == leader) {
                    fp = &f->parts[k];
                    break;
                }
            if (!fp) continue;
            if (pd->error_code == ST_ERR_OFFSET_OUT_OF_RANGE) {
                reset[k] = true;
                need_reset = true;
                continue;
            }
            if (pd->error_code != 0) {
                error = fetcher_fail(f, pd->error_code, "Fetch %s-%d: %s", f->topic, (int)fp->partition,
                                     st_kafka_error_message(pd->error_code));
                break;
            }
            fp->high_watermark = pd->high_watermark;
            int64_t before = fp->position;
            if (pd->records.len > 0 &&
                !fetcher_deliver(f, fp, pd->records.ptr, (size_t)pd->records.len, fn, opaque, delivered, &error))
                if (error == 0) *stop = true;
            /* Only part of one batch came back (a broker without KIP-74):
             * ask for more next time, up to fetch_bytes_max. */
            if (error == 0 && !*stop && pd->records.len > 0 && fp->position == before &&
                f->partition_bytes_max < f->fetch_bytes_max)
                f->partition_bytes_max = f->partition_bytes_max > f->fetch_bytes_max / 2 ? f->fetch_bytes_max
                                                                                         : f->partition_bytes_max * 2;
        }
    }
    st_arena_free(&arena);
    if (error == 0 && need_reset && !*stop) error = fetcher_reset(f, reset, f->reset_to);
    free(reset);
    return error;
}

int st_fetcher_poll(st_fetcher_t *f, st_fetcher_record_fn fn, void *opaque, int64_t *delivered) {
    *delivered = 0;
    bool stop = false;
    for (int32_t i = 0; i < f->part_count && !stop; i++) {
        bool seen = false;
        for (int32_t j = 0; j < i; j++)
            if (f->parts[j].leader_id == f->parts[i].leader_id) seen = true;
        if (seen) continue;
        int rc = fetcher_poll_leader(f, f->parts[i].leader_id, fn, opaque, delivered, &stop);
        if (rc != 0) return rc;
    }
    return 0;
}
