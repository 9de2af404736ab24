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
#include "tools/client_internal.h"


int64_t st_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t client_wall_ms(void) {
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

void *client_xrealloc(void *p, size_t n) {
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
    case ST_ERR_TOPIC_DELETION_DISABLED: return "Topic deletion is disabled.";
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
        c->frame = client_xrealloc(c->frame, (size_t)size);
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
            cl->nodes = client_xrealloc(cl->nodes, sizeof *cl->nodes * (size_t)(cl->node_count + 1));
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

