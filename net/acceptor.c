/*
 * The acceptor: takes connections off the listening socket within Kafka's
 * connection quotas (ConnectionQuotas) and keeps going when the process runs
 * out of file descriptors.
 *
 * Watch states of the listening socket:
 *
 *        +--(slot free: st_acceptor_connection_closed)--- FULL
 *        v                                                 ^
 *   WATCHING --(conn_count at max.connections or the ------+
 *     ^  ^  \   listener's listener.name.X.max.connections)
 *     |  |   \
 *     |  |    +--(max.connection.creation.rate spent)--> THROTTLED
 *     |  |                                                  |
 *     |  +------------(resume_timer: a token is due)--------+
 *     |
 *     +--(resume_timer, ACCEPT_BACKOFF_MS)-- BACKOFF <--(accept4: EMFILE,
 *                                                        ENFILE, ENOBUFS, ENOMEM)
 *
 * Invariants:
 *  1. The listener is watched exactly in WATCHING; resume_timer runs exactly
 *     in THROTTLED and BACKOFF.
 *  2. No connection is accepted while the connection count is at a
 *     connection limit: the next one waits in the kernel's accept queue
 *     until one closes, as Kafka's Acceptor blocks in waitForConnectionSlot
 *     (it does not close new connections).
 *  3. A connection beyond max.connections.per.ip (or its override) for its
 *     address is closed right after accept, as Kafka's ConnectionQuotas.inc
 *     does (TooManyConnectionsException).
 *  4. Every condition above logs at most one line per second, naming how
 *     many repeats it stands for.
 *
 * Why back off rather than keep a reserve descriptor to accept-and-close
 * (libuv's EMFILE trick): at the descriptor limit the connection waits in
 * the accept queue and is served as soon as descriptors free up, which is
 * what Kafka does to connections over max.connections; closing it instead
 * sends every waiting client into a reconnect loop at the moment the process
 * is short of resources. nginx stops watching its listeners for a while
 * after EMFILE/ENFILE the same way. Either way the loop no longer retries a
 * failing accept at once, which is what spun at 100% CPU.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/acceptor.h"

#include "common/errors.h"
#include "common/log.h"

/* How long the listener goes unwatched after accept ran out of descriptors
 * or memory: short enough that a freed descriptor is used soon, long enough
 * that a process at its limit spends nothing on retries (nginx waits its
 * accept_mutex_delay, 500 ms). */
#define ACCEPT_BACKOFF_MS 100
/* Accepts per readiness event, so a connection storm takes turns with the
 * connections already open. */
#define ACCEPT_BATCH_MAX 64
/* Each repeating condition is logged at most this often. */
#define ACCEPT_LOG_INTERVAL_MS 1000
#define ACCEPT_PER_IP_OVERRIDES_MAX 256

typedef enum acceptor_state {
    ACCEPTOR_WATCHING,
    ACCEPTOR_FULL,
    ACCEPTOR_THROTTLED,
    ACCEPTOR_BACKOFF,
} acceptor_state_t;

/* One log line per interval; the next line says how many it stood for. */
typedef struct log_limiter {
    int64_t last_ms; /* 0: never logged */
    uint64_t suppressed;
} log_limiter_t;

/* max.connection.creation.rate as a token bucket holding one second's
 * connections: bursts of up to the rate, then the rate. Kafka measures the
 * rate over its quota window (11 samples of 1 s) and delays the acceptor
 * until the average is back under the limit; the bucket gives the same
 * long-run rate with a shorter memory. */
typedef struct rate_limit {
    int32_t per_second; /* INT32_MAX: unlimited */
    double tokens;
    int64_t refilled_us;
} rate_limit_t;

typedef struct per_ip_override {
    struct in_addr ip;
    int32_t max;
} per_ip_override_t;

struct st_acceptor {
    st_net_t *net;
    int fd;
    char listener[64];
    acceptor_state_t state;
    int32_t listener_max_connections;
    rate_limit_t broker_rate;
    rate_limit_t listener_rate;
    per_ip_override_t overrides[ACCEPT_PER_IP_OVERRIDES_MAX];
    int32_t override_count;
    int32_t per_ip_smallest; /* no address can be at its limit below this many connections */
    st_timer_t resume_timer;
    log_limiter_t out_of_fds_log;
    log_limiter_t full_log;
    log_limiter_t throttled_log;
    log_limiter_t per_ip_log;
    log_limiter_t error_log;
};

/* True when a line may be written now; `repeats` then says how many were
 * held back since the last one (empty when none). */
typedef struct repeats_note {
    char text[64];
} repeats_note_t;

static bool log_allowed(log_limiter_t *l, int64_t now_ms, repeats_note_t *repeats) {
    if (l->last_ms != 0 && now_ms - l->last_ms < ACCEPT_LOG_INTERVAL_MS) {
        l->suppressed++;
        return false;
    }
    repeats->text[0] = '\0';
    if (l->suppressed > 0)
        snprintf(repeats->text, sizeof repeats->text, " (%llu more since the last report)",
                 (unsigned long long)l->suppressed);
    l->suppressed = 0;
    l->last_ms = now_ms;
    return true;
}

static void rate_init(rate_limit_t *r, int64_t per_second, int64_t now_us) {
    r->per_second = per_second > INT32_MAX ? INT32_MAX : (int32_t)per_second;
    r->tokens = r->per_second;
    r->refilled_us = now_us;
}

static void rate_refund(rate_limit_t *r) {
    if (r->per_second != INT32_MAX) r->tokens += 1.0;
}

/* 0 and one token spent, or the milliseconds until a token is due. */
static int64_t rate_take(rate_limit_t *r, int64_t now_us) {
    if (r->per_second == INT32_MAX) return 0;
    if (r->per_second <= 0) return ACCEPT_LOG_INTERVAL_MS; /* rate 0: nothing, ever; look again later */
    double capacity = r->per_second;
    r->tokens += (double)(now_us - r->refilled_us) * r->per_second / 1e6;
    if (r->tokens > capacity) r->tokens = capacity;
    r->refilled_us = now_us;
    if (r->tokens >= 1.0) {
        r->tokens -= 1.0;
        return 0;
    }
    int64_t wait_ms = (int64_t)ceil((1.0 - r->tokens) * 1000.0 / r->per_second);
    return wait_ms > 0 ? wait_ms : 1;
}

static void acceptor_on_readable(st_loop_t *loop, int fd, uint32_t events, void *ctx);

static void acceptor_watch(st_acceptor_t *a) {
    a->state = ACCEPTOR_WATCHING;
    st_loop_watch(a->net->loop, a->fd, ST_EVENT_READABLE, acceptor_on_readable, a);
}

static void acceptor_on_timer(st_loop_t *loop, void *ctx) {
    (void)loop;
    acceptor_watch(ctx);
}

/* Stops watching the listener; with delay_ms > 0 it is watched again then,
 * otherwise when a connection closes. */
static void acceptor_pause(st_acceptor_t *a, acceptor_state_t why, int64_t delay_ms) {
    a->state = why;
    st_loop_unwatch(a->net->loop, a->fd);
    if (delay_ms > 0) st_timer_start(a->net->loop, &a->resume_timer, delay_ms, acceptor_on_timer, a);
}

static int32_t connection_limit(const st_acceptor_t *a) {
    int32_t limit = a->net->max_connections;
    return a->listener_max_connections < limit ? a->listener_max_connections : limit;
}

static int32_t per_ip_limit(const st_acceptor_t *a, struct in_addr ip) {
    for (int32_t i = 0; i < a->override_count; i++)
        if (a->overrides[i].ip.s_addr == ip.s_addr) return a->overrides[i].max;
    return a->net->max_connections_per_ip;
}

/* accept4 failed with `err`: a per-connection error is skipped, running out
 * of descriptors or memory pauses the listener. Returns true to go on. */
static bool acceptor_failed(st_acceptor_t *a, int err) {
    int64_t now = st_loop_now_ms(a->net->loop);
    repeats_note_t repeats;
    switch (err) {
    case EINTR:
    case ECONNABORTED: /* the client gave up while queued */
        return true;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        if (log_allowed(&a->out_of_fds_log, now, &repeats)) {
            struct rlimit rl = {0};
            getrlimit(RLIMIT_NOFILE, &rl);
            ST_WARN("accept failed: %s (descriptor limit %llu); not accepting for %d ms%s",
                    strerror(err), (unsigned long long)rl.rlim_cur, ACCEPT_BACKOFF_MS, repeats.text);
        }
        acceptor_pause(a, ACCEPTOR_BACKOFF, ACCEPT_BACKOFF_MS);
        return false;
    case EPROTO:
    case EPERM: /* a firewall rule refused it */
    case ENETDOWN:
    case ENONET:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENOPROTOOPT:
    case EOPNOTSUPP:
    case ETIMEDOUT:
        /* accept(2): errors of the new connection, retried like EAGAIN. */
        if (log_allowed(&a->error_log, now, &repeats))
            ST_WARN("accept failed: %s%s", strerror(err),
                    repeats.text);
        return true;
    default:
        /* Not expected on a listening socket: never retry at once. */
        if (log_allowed(&a->error_log, now, &repeats))
            ST_ERROR("accept failed: %s; not accepting for %d ms%s",
                     strerror(err), ACCEPT_BACKOFF_MS, repeats.text);
        acceptor_pause(a, ACCEPTOR_BACKOFF, ACCEPT_BACKOFF_MS);
        return false;
    }
}

/* Waits for a slot or a token instead of accepting (invariant 2). Returns
 * true when the next connection may be taken. */
static bool acceptor_may_take(st_acceptor_t *a) {
    st_net_t *net = a->net;
    int64_t now = st_loop_now_ms(net->loop);
    repeats_note_t repeats;
    if (net->conn_count >= connection_limit(a)) {
        if (log_allowed(&a->full_log, now, &repeats)) {
            if (a->listener_max_connections < net->max_connections)
                ST_INFO("listener.name.%s.max.connections %d reached: new connections wait to be accepted until "
                        "one closes%s",
                        a->listener, a->listener_max_connections, repeats.text);
            else
                ST_INFO("max.connections %d reached: new connections wait to be accepted until one closes%s",
                        net->max_connections, repeats.text);
        }
        acceptor_pause(a, ACCEPTOR_FULL, 0);
        return false;
    }
    int64_t now_us = st_monotonic_us();
    int64_t wait_ms = rate_take(&a->broker_rate, now_us);
    if (wait_ms == 0) {
        wait_ms = rate_take(&a->listener_rate, now_us);
        if (wait_ms > 0) rate_refund(&a->broker_rate); /* not taken after all */
    }
    if (wait_ms > 0) {
        if (log_allowed(&a->throttled_log, now, &repeats))
            ST_INFO("connection creation rate above max.connection.creation.rate (%d/s broker, %d/s listener %s): "
                    "accepting again in %lld ms%s",
                    a->broker_rate.per_second, a->listener_rate.per_second, a->listener, (long long)wait_ms,
                    repeats.text);
        acceptor_pause(a, ACCEPTOR_THROTTLED, wait_ms);
        return false;
    }
    return true;
}

static void acceptor_on_readable(st_loop_t *loop, int fd, uint32_t events, void *ctx) {
    (void)loop;
    (void)events;
    st_acceptor_t *a = ctx;
    st_net_t *net = a->net;
    for (int i = 0; i < ACCEPT_BATCH_MAX && a->state == ACCEPTOR_WATCHING; i++) {
        if (!acceptor_may_take(a)) return;
        struct sockaddr_in addr;
        socklen_t alen = sizeof addr;
        int cfd = accept4(fd, (struct sockaddr *)&addr, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* Nothing was waiting: the tokens were not used. */
                rate_refund(&a->broker_rate);
                rate_refund(&a->listener_rate);
                return;
            }
            if (!acceptor_failed(a, errno)) return;
            continue;
        }
        /* Invariant 3; below the smallest limit no address can be at its own. */
        if (net->conn_count >= a->per_ip_smallest) {
            int32_t max = per_ip_limit(a, addr.sin_addr);
            if (net->connections_from(net, addr.sin_addr.s_addr) >= max) {
                repeats_note_t repeats;
                if (log_allowed(&a->per_ip_log, st_loop_now_ms(net->loop), &repeats)) {
                    char ip[INET_ADDRSTRLEN] = "?";
                    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
                    ST_INFO("refusing %s:%d: max.connections.per.ip %d reached for %s: the address already has the "
                            "configured maximum of %d connections%s",
                            ip, ntohs(addr.sin_port), max, ip, max, repeats.text);
                }
                close(cfd);
                continue;
            }
        }
        net->adopt(net, cfd, &addr);
    }
}

void st_acceptor_connection_closed(st_net_t *net) {
    st_acceptor_t *a = net->acceptor;
    if (a && a->state == ACCEPTOR_FULL && net->conn_count < connection_limit(a)) acceptor_watch(a);
}

/* max.connections.per.ip.overrides: "host:count,host:count", hosts by name
 * or IPv4 address (resolved once, at start). */
static int parse_overrides(st_acceptor_t *a, const char *spec) {
    char *copy = strdup(spec);
    if (!copy) return ST_ERR_NO_MEMORY;
    int err = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item && err == 0; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ' || *item == '\t') item++;
        char *colon = strrchr(item, ':');
        if (*item == '\0' && !colon) continue;
        char *end = NULL;
        long max = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == item || end == colon + 1 || (*end && strspn(end, " \t") != strlen(end)) || max < 0 ||
            max > INT32_MAX) {
            ST_ERROR("Invalid value %s for configuration max.connections.per.ip.overrides: expected host:count", item);
            err = ST_ERR_INVALID_CONFIG;
            break;
        }
        *colon = '\0';
        size_t len = strlen(item);
        while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t')) item[--len] = '\0';
        struct in_addr ip;
        if (inet_pton(AF_INET, item, &ip) != 1) {
            struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
            if (getaddrinfo(item, NULL, &hints, &res) != 0 || !res) {
                ST_ERROR("max.connections.per.ip.overrides: cannot resolve %s", item);
                err = ST_ERR_INVALID_CONFIG;
                break;
            }
            ip = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
            freeaddrinfo(res);
        }
        if (a->override_count == ACCEPT_PER_IP_OVERRIDES_MAX) {
            ST_ERROR("max.connections.per.ip.overrides: more than %d entries", ACCEPT_PER_IP_OVERRIDES_MAX);
            err = ST_ERR_INVALID_CONFIG;
            break;
        }
        a->overrides[a->override_count++] = (per_ip_override_t){ip, (int32_t)max};
    }
    free(copy);
    return err;
}

int st_acceptor_start(st_net_t *net, int listen_fd) {
    st_acceptor_t *a = calloc(1, sizeof *a);
    if (!a) return ST_ERR_NO_MEMORY;
    a->net = net;
    a->fd = listen_fd;
    const st_config_t *cfg = net->config;
    /* As it appears in listener.name.<listener>.<key>: lower case (Kafka's
     * ListenerName.configPrefix). */
    const char *name = net->listener.name[0] ? net->listener.name : "PLAINTEXT";
    size_t n = 0;
    for (; name[n] && n + 1 < sizeof a->listener; n++) a->listener[n] = (char)tolower((unsigned char)name[n]);
    a->listener[n] = '\0';
    int64_t listener_max = st_config_get_listener_long(cfg, a->listener, "max.connections");
    a->listener_max_connections = listener_max > INT32_MAX ? INT32_MAX : (int32_t)listener_max;
    int64_t now_us = st_monotonic_us();
    rate_init(&a->broker_rate, st_config_get_long(cfg, "max.connection.creation.rate"), now_us);
    rate_init(&a->listener_rate, st_config_get_listener_long(cfg, a->listener, "max.connection.creation.rate"), now_us);
    int err = parse_overrides(a, st_config_get_string(cfg, "max.connections.per.ip.overrides"));
    if (err != 0) {
        free(a);
        return err;
    }
    a->per_ip_smallest = net->max_connections_per_ip;
    for (int32_t i = 0; i < a->override_count; i++)
        if (a->overrides[i].max < a->per_ip_smallest) a->per_ip_smallest = a->overrides[i].max;
    net->acceptor = a;
    acceptor_watch(a);
    return 0;
}

void st_acceptor_stop(st_net_t *net) {
    st_acceptor_t *a = net->acceptor;
    if (!a) return;
    st_timer_stop(net->loop, &a->resume_timer);
    st_loop_unwatch(net->loop, a->fd);
    net->acceptor = NULL;
    free(a);
}
