/*
 * A small HTTP/1.1 endpoint on the broker's event loop (http.listeners):
 *
 *   GET /metrics                  Prometheus text format: kafka_exporter's
 *                                 names and labels for topics and consumer
 *                                 groups, plus the broker's own counters.
 *   GET /v1/groups/<group>/lag    the group's per-partition lag as JSON.
 *
 * One request per connection (Connection: close). Requests are bounded:
 * headers over HTTP_REQUEST_MAX_BYTES close the connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "coordinator/group/group.h"

#define HTTP_REQUEST_MAX_BYTES 8192
#define HTTP_CONNECTIONS_MAX 64
#define HTTP_IDLE_TIMEOUT_MS 10000
#define HTTP_ACCEPT_BACKOFF_MS 100

typedef struct http_conn {
    struct st_http *http;
    int fd;
    char request[HTTP_REQUEST_MAX_BYTES];
    size_t request_len;
    st_writer_t response;
    size_t sent;
    bool responding;
    st_timer_t timer;
    struct http_conn *next;
} http_conn_t;

struct st_http {
    st_broker_t *b;
    int listen_fd;
    http_conn_t *conns;
    int32_t conn_count;
    st_timer_t accept_backoff; /* the listener rests after running out of descriptors */
};

/* ---- text building -------------------------------------------------------- */

static void out(st_writer_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(st_writer_t *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        char *p = (char *)st_writer_reserve(w, (size_t)n + 1);
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
        w->len += (size_t)n;
    }
    va_end(ap2);
}

/* Label values escape backslash, quote and newline (text format 0.0.4). */
static const char *label(const char *s, char *buf, size_t cap) {
    size_t o = 0;
    for (; *s && o + 2 < cap; s++) {
        if (*s == '\\' || *s == '"') buf[o++] = '\\';
        if (*s == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
            continue;
        }
        buf[o++] = *s;
    }
    buf[o] = '\0';
    return buf;
}

typedef struct metrics_ctx {
    st_broker_t *b;
    st_writer_t *w;
    int pass;
    int64_t partitions;
} metrics_ctx_t;

static int topic_metrics(void *ctx, st_topic_t *t) {
    metrics_ctx_t *mc = ctx;
    char tl[512];
    label(t->name, tl, sizeof tl);
    for (int32_t i = 0; i < t->partition_count; i++) {
        st_partition_t *p = t->partitions[i];
        if (!p || !p->log) continue;
        switch (mc->pass) {
        case 0: if (i == 0) out(mc->w, "kafka_topic_partitions{topic=\"%s\"} %d\n", tl, t->partition_count); break;
        case 1: out(mc->w, "kafka_topic_partition_current_offset{partition=\"%d\",topic=\"%s\"} %lld\n", i, tl,
                    (long long)st_partition_high_watermark(p)); break;
        case 2: out(mc->w, "kafka_topic_partition_oldest_offset{partition=\"%d\",topic=\"%s\"} %lld\n", i, tl,
                    (long long)st_partition_log_start_offset(p)); break;
        case 3: out(mc->w, "strata_log_size_bytes{partition=\"%d\",topic=\"%s\"} %lld\n", i, tl,
                    (long long)st_partition_size_bytes(p)); break;
        /* One node: it is every partition's only replica, in sync, the
         * preferred leader; nothing is under-replicated. */
        case 4: out(mc->w, "kafka_topic_partition_in_sync_replica{partition=\"%d\",topic=\"%s\"} 1\n", i, tl); break;
        case 5: out(mc->w, "kafka_topic_partition_leader{partition=\"%d\",topic=\"%s\"} %d\n", i, tl,
                    (int)mc->b->node_id); break;
        case 6: out(mc->w, "kafka_topic_partition_leader_is_preferred{partition=\"%d\",topic=\"%s\"} 1\n", i, tl); break;
        case 7: out(mc->w, "kafka_topic_partition_replicas{partition=\"%d\",topic=\"%s\"} 1\n", i, tl); break;
        case 8: out(mc->w, "kafka_topic_partition_under_replicated_partition{partition=\"%d\",topic=\"%s\"} 0\n", i, tl);
                break;
        default: break;
        }
        mc->partitions++;
    }
    return 0;
}

typedef struct lag_sum {
    char topic[256];
    int64_t sum; /* lag (pass 2) or committed offsets (pass 4) of the topic */
} lag_sum_t;

typedef struct group_metrics_ctx {
    st_broker_t *b;
    st_writer_t *w;
    const char *group_label;
    int pass;
    lag_sum_t *sums;
    int32_t sum_count;
    int32_t sum_cap;
} group_metrics_ctx_t;

static int64_t lag_of(st_broker_t *b, const char *topic, int32_t partition, int64_t committed, int64_t *end_out) {
    st_partition_t *p = st_broker_partition(b, topic, partition);
    int64_t end = p && p->log ? st_partition_high_watermark(p) : -1;
    *end_out = end;
    if (end < 0 || committed < 0) return -1;
    return end > committed ? end - committed : 0;
}

static int group_offset_metrics(void *ctx, const st_group_offset_view_t *o) {
    group_metrics_ctx_t *gc = ctx;
    char tl[512];
    label(o->topic, tl, sizeof tl);
    int64_t end;
    int64_t lag = lag_of(gc->b, o->topic, o->partition, o->offset, &end);
    if (gc->pass == 0) {
        out(gc->w, "kafka_consumergroup_current_offset{consumergroup=\"%s\",partition=\"%d\",topic=\"%s\"} %lld\n",
            gc->group_label, o->partition, tl, (long long)o->offset);
    } else if (gc->pass == 1) {
        if (lag >= 0)
            out(gc->w, "kafka_consumergroup_lag{consumergroup=\"%s\",partition=\"%d\",topic=\"%s\"} %lld\n",
                gc->group_label, o->partition, tl, (long long)lag);
    } else if (gc->pass == 2 || gc->pass == 4) {
        /* kafka_exporter sums lag over the partitions that have one and
         * offsets over every committed partition. */
        if (gc->pass == 2 && lag < 0) return 0;
        int64_t add = gc->pass == 2 ? lag : (o->offset > 0 ? o->offset : 0);
        for (int32_t i = 0; i < gc->sum_count; i++)
            if (strcmp(gc->sums[i].topic, o->topic) == 0) {
                gc->sums[i].sum += add;
                return 0;
            }
        if (gc->sum_count == gc->sum_cap) {
            gc->sum_cap = gc->sum_cap ? gc->sum_cap * 2 : 8;
            lag_sum_t *s = realloc(gc->sums, (size_t)gc->sum_cap * sizeof *s);
            if (!s) abort();
            gc->sums = s;
        }
        snprintf(gc->sums[gc->sum_count].topic, sizeof gc->sums[0].topic, "%s", o->topic);
        gc->sums[gc->sum_count++].sum = add;
    }
    return 0;
}

typedef struct groups_pass {
    st_broker_t *b;
    st_writer_t *w;
    int pass;
} groups_pass_t;

static int group_metrics(void *ctx, const st_group_view_t *g) {
    groups_pass_t *gp = ctx;
    char gl[512];
    label(g->group_id, gl, sizeof gl);
    if (gp->pass == 3) {
        out(gp->w, "kafka_consumergroup_members{consumergroup=\"%s\"} %d\n", gl, g->member_count);
        return 0;
    }
    group_metrics_ctx_t gc = {gp->b, gp->w, gl, gp->pass, NULL, 0, 0};
    st_groups_each_offset(gp->b->groups, g->group_id, group_offset_metrics, &gc);
    if (gp->pass == 2 || gp->pass == 4) {
        const char *name = gp->pass == 2 ? "kafka_consumergroup_lag_sum" : "kafka_consumergroup_current_offset_sum";
        for (int32_t i = 0; i < gc.sum_count; i++) {
            char tl[512];
            out(gp->w, "%s{consumergroup=\"%s\",topic=\"%s\"} %lld\n", name, gl,
                label(gc.sums[i].topic, tl, sizeof tl), (long long)gc.sums[i].sum);
        }
    }
    free(gc.sums);
    return 0;
}

static void render_metrics(st_broker_t *b, st_writer_t *w) {
    out(w, "# HELP kafka_brokers Number of Brokers in the Kafka Cluster.\n# TYPE kafka_brokers gauge\nkafka_brokers 1\n");
    char address[300];
    snprintf(address, sizeof address, "%s:%d", b->host, (int)b->port);
    char al[640];
    out(w, "# HELP kafka_broker_info Information about the Kafka Broker.\n# TYPE kafka_broker_info gauge\n"
           "kafka_broker_info{address=\"%s\",id=\"%d\"} 1\n", label(address, al, sizeof al), (int)b->node_id);
    static const char *const topic_help[] = {
        "# HELP kafka_topic_partitions Number of partitions for this Topic\n# TYPE kafka_topic_partitions gauge\n",
        "# HELP kafka_topic_partition_current_offset Current Offset of a Broker at Topic/Partition\n"
        "# TYPE kafka_topic_partition_current_offset gauge\n",
        "# HELP kafka_topic_partition_oldest_offset Oldest Offset of a Broker at Topic/Partition\n"
        "# TYPE kafka_topic_partition_oldest_offset gauge\n",
        "# HELP strata_log_size_bytes Bytes on disk of a partition's log\n# TYPE strata_log_size_bytes gauge\n",
        "# HELP kafka_topic_partition_in_sync_replica Number of In-Sync Replicas for this Topic/Partition\n"
        "# TYPE kafka_topic_partition_in_sync_replica gauge\n",
        "# HELP kafka_topic_partition_leader Leader Broker ID of this Topic/Partition\n"
        "# TYPE kafka_topic_partition_leader gauge\n",
        "# HELP kafka_topic_partition_leader_is_preferred 1 if Topic/Partition is using the Preferred Broker\n"
        "# TYPE kafka_topic_partition_leader_is_preferred gauge\n",
        "# HELP kafka_topic_partition_replicas Number of Replicas for this Topic/Partition\n"
        "# TYPE kafka_topic_partition_replicas gauge\n",
        "# HELP kafka_topic_partition_under_replicated_partition 1 if Topic/Partition is under Replicated\n"
        "# TYPE kafka_topic_partition_under_replicated_partition gauge\n",
    };
    int64_t partitions = 0;
    for (int pass = 0; pass < (int)(sizeof topic_help / sizeof topic_help[0]); pass++) {
        out(w, "%s", topic_help[pass]);
        metrics_ctx_t mc = {b, w, pass, 0};
        st_broker_each_topic(b, topic_metrics, &mc);
        partitions = mc.partitions;
    }
    static const char *const group_help[] = {
        "# HELP kafka_consumergroup_current_offset Current Offset of a ConsumerGroup at Topic/Partition\n"
        "# TYPE kafka_consumergroup_current_offset gauge\n",
        "# HELP kafka_consumergroup_lag Current Approximate Lag of a ConsumerGroup at Topic/Partition\n"
        "# TYPE kafka_consumergroup_lag gauge\n",
        "# HELP kafka_consumergroup_lag_sum Current Approximate Lag of a ConsumerGroup at Topic for all partitions\n"
        "# TYPE kafka_consumergroup_lag_sum gauge\n",
        "# HELP kafka_consumergroup_members Amount of members in a consumer group\n"
        "# TYPE kafka_consumergroup_members gauge\n",
        "# HELP kafka_consumergroup_current_offset_sum Current Offset of a ConsumerGroup at Topic for all partitions\n"
        "# TYPE kafka_consumergroup_current_offset_sum gauge\n",
    };
    for (int pass = 0; pass < (int)(sizeof group_help / sizeof group_help[0]); pass++) {
        out(w, "%s", group_help[pass]);
        groups_pass_t gp = {b, w, pass};
        if (b->groups) st_groups_each(b->groups, group_metrics, &gp);
    }
    const st_metrics_t *m = &b->net.metrics;
    out(w, "# HELP strata_requests_total Requests received, by API\n# TYPE strata_requests_total counter\n");
    for (int k = 0; k < ST_METRICS_API_MAX; k++)
        if (m->requests[k]) out(w, "strata_requests_total{api=\"%s\"} %llu\n", st_api_name((int16_t)k), (unsigned long long)m->requests[k]);
    out(w, "# HELP strata_request_errors_total Requests that could not be served and closed their connection, by API\n"
           "# TYPE strata_request_errors_total counter\n");
    for (int k = 0; k < ST_METRICS_API_MAX; k++)
        if (m->requests[k] || m->errors[k])
            out(w, "strata_request_errors_total{api=\"%s\"} %llu\n", st_api_name((int16_t)k), (unsigned long long)m->errors[k]);
    out(w, "# HELP strata_request_latency_seconds Time from receiving a request to its response being ready\n"
           "# TYPE strata_request_latency_seconds histogram\n");
    for (int k = 0; k < ST_METRICS_API_MAX; k++) {
        uint64_t total = 0;
        for (int i = 0; i < ST_METRICS_LATENCY_BUCKETS; i++) total += m->latency_buckets[k][i];
        if (!total) continue;
        const char *api = st_api_name((int16_t)k);
        uint64_t cum = 0;
        for (int i = 0; i < ST_METRICS_LATENCY_BUCKETS - 1; i++) {
            cum += m->latency_buckets[k][i];
            out(w, "strata_request_latency_seconds_bucket{api=\"%s\",le=\"%g\"} %llu\n", api, st_metrics_latency_bounds_s[i],
                (unsigned long long)cum);
        }
        out(w, "strata_request_latency_seconds_bucket{api=\"%s\",le=\"+Inf\"} %llu\n", api, (unsigned long long)total);
        out(w, "strata_request_latency_seconds_sum{api=\"%s\"} %.6f\n", api, m->latency_sum_s[k]);
        out(w, "strata_request_latency_seconds_count{api=\"%s\"} %llu\n", api, (unsigned long long)total);
    }
    out(w, "# HELP strata_bytes_in_total Request bytes received\n# TYPE strata_bytes_in_total counter\nstrata_bytes_in_total %llu\n",
        (unsigned long long)m->bytes_in);
    out(w, "# HELP strata_bytes_out_total Response bytes sent\n# TYPE strata_bytes_out_total counter\nstrata_bytes_out_total %llu\n",
        (unsigned long long)m->bytes_out);
    out(w, "# HELP strata_connections Open client connections\n# TYPE strata_connections gauge\nstrata_connections %d\n",
        b->net.conn_count);
    out(w, "# HELP strata_connections_accepted_total Client connections accepted\n# TYPE strata_connections_accepted_total counter\n"
           "strata_connections_accepted_total %llu\n", (unsigned long long)m->connections_accepted);
    out(w, "# HELP strata_partitions Partitions served\n# TYPE strata_partitions gauge\nstrata_partitions %lld\n",
        (long long)partitions);
}

/* ---- lag as JSON ---------------------------------------------------------- */

typedef struct json_lag_ctx {
    st_broker_t *b;
    json_t *partitions;
    int64_t total;
    int32_t known; /* partitions with a lag (a committed offset and a log end) */
} json_lag_ctx_t;

static int json_lag_offset(void *ctx, const st_group_offset_view_t *o) {
    json_lag_ctx_t *jc = ctx;
    int64_t end;
    int64_t lag = lag_of(jc->b, o->topic, o->partition, o->offset, &end);
    json_t *e = json_pack("{s:s, s:i, s:I, s:I, s:I}", "topic", o->topic, "partition", o->partition,
                          "current_offset", (json_int_t)o->offset, "log_end_offset", (json_int_t)end, "lag",
                          (json_int_t)lag);
    json_array_append_new(jc->partitions, e);
    if (lag >= 0) {
        jc->total += lag;
        jc->known++;
    }
    return 0;
}

static int render_group_lag(st_broker_t *b, const char *group, st_writer_t *w) {
    st_group_view_t v;
    if (!b->groups || !st_groups_view(b->groups, group, &v)) return 404;
    json_lag_ctx_t jc = {b, json_array(), 0, 0};
    st_groups_each_offset(b->groups, group, json_lag_offset, &jc);
    /* No committed offset: the lag is not known, which is not 0 (a group
     * that never committed is not caught up). */
    json_t *total = jc.known ? json_integer((json_int_t)jc.total) : json_string("unknown");
    json_t *doc = json_pack("{s:s, s:s, s:i, s:o, s:o}", "group", group, "state", v.state, "members", v.member_count,
                            "partitions", jc.partitions, "total_lag", total);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    out(w, "%s\n", text);
    free(text);
    json_decref(doc);
    return 200;
}

/* ---- connections ------------------------------------------------------------ */

static void http_close(http_conn_t *hc) {
    struct st_http *h = hc->http;
    st_loop_unwatch(h->b->loop, hc->fd);
    st_timer_stop(h->b->loop, &hc->timer);
    close(hc->fd);
    for (http_conn_t **pp = &h->conns; *pp; pp = &(*pp)->next)
        if (*pp == hc) {
            *pp = hc->next;
            break;
        }
    h->conn_count--;
    st_writer_free(&hc->response);
    free(hc);
}

static void url_decode(char *s) {
    char *o = s;
    for (; *s; s++) {
        if (*s == '%' && s[1] && s[2]) {
            char hex[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static void build_response(http_conn_t *hc) {
    st_broker_t *b = hc->http->b;
    char method[16] = "", path[1024] = "";
    sscanf(hc->request, "%15s %1023s", method, path);
    st_writer_t body;
    st_writer_init(&body, 4096);
    int status = 200;
    const char *type = "text/plain; version=0.0.4; charset=utf-8";
    char *query = strchr(path, '?');
    if (query) *query = '\0';
    if (strcmp(method, "GET") != 0) {
        status = 405;
        out(&body, "method not allowed\n");
    } else if (strcmp(path, "/metrics") == 0) {
        render_metrics(b, &body);
    } else if (strncmp(path, "/v1/groups/", 11) == 0 && strlen(path) > 15 &&
               strcmp(path + strlen(path) - 4, "/lag") == 0) {
        path[strlen(path) - 4] = '\0';
        char *group = path + 11;
        url_decode(group);
        type = "application/json";
        status = render_group_lag(b, group, &body);
        if (status == 404) out(&body, "{\"error\": \"group not found\"}\n");
    } else {
        status = 404;
        out(&body, "not found\n");
    }
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Method Not Allowed";
    st_writer_init(&hc->response, body.len + 256);
    out(&hc->response, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
        reason, type, body.len);
    st_write_raw(&hc->response, body.data, body.len);
    st_writer_free(&body);
    hc->responding = true;
}

static void http_on_event(st_loop_t *loop, int fd, uint32_t events, void *ctx) {
    (void)fd;
    http_conn_t *hc = ctx;
    if (!hc->responding && (events & ST_EVENT_READABLE)) {
        ssize_t n = recv(hc->fd, hc->request + hc->request_len, sizeof hc->request - 1 - hc->request_len, 0);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            http_close(hc);
            return;
        }
        hc->request_len += (size_t)n;
        hc->request[hc->request_len] = '\0';
        if (!strstr(hc->request, "\r\n\r\n") && !strstr(hc->request, "\n\n")) {
            if (hc->request_len >= sizeof hc->request - 1) {
                ST_WARN("http: closing a connection whose request headers exceed %d bytes", HTTP_REQUEST_MAX_BYTES);
                http_close(hc);
            }
            return;
        }
        build_response(hc);
    }
    if (hc->responding) {
        while (hc->sent < hc->response.len) {
            ssize_t n = send(hc->fd, hc->response.data + hc->sent, hc->response.len - hc->sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN) {
                    st_loop_watch(loop, hc->fd, ST_EVENT_WRITABLE, http_on_event, hc);
                    return;
                }
                if (errno == EINTR) continue;
                break;
            }
            hc->sent += (size_t)n;
        }
        http_close(hc);
    }
}

static void http_idle(st_loop_t *loop, void *ctx) {
    (void)loop;
    http_close(ctx);
}

static void http_on_accept(st_loop_t *loop, int fd, uint32_t events, void *ctx);

static void http_accept_again(st_loop_t *loop, void *ctx) {
    struct st_http *h = ctx;
    st_loop_watch(loop, h->listen_fd, ST_EVENT_READABLE, http_on_accept, h);
}

static void http_on_accept(st_loop_t *loop, int fd, uint32_t events, void *ctx) {
    (void)events;
    struct st_http *h = ctx;
    for (int i = 0; i < 16; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            /* As the Kafka listener does (acceptor.c): rest instead of
             * retrying a failing accept at once, which spins the loop. */
            st_loop_unwatch(loop, fd);
            st_timer_start(loop, &h->accept_backoff, HTTP_ACCEPT_BACKOFF_MS, http_accept_again, h);
            return;
        }
        if (cfd < 0) return;
        if (h->conn_count >= HTTP_CONNECTIONS_MAX) {
            ST_WARN("http: refusing a connection: %d open", HTTP_CONNECTIONS_MAX);
            close(cfd);
            continue;
        }
        http_conn_t *hc = calloc(1, sizeof *hc);
        if (!hc) abort();
        hc->http = h;
        hc->fd = cfd;
        hc->next = h->conns;
        h->conns = hc;
        h->conn_count++;
        st_loop_watch(loop, cfd, ST_EVENT_READABLE, http_on_event, hc);
        st_timer_start(loop, &hc->timer, HTTP_IDLE_TIMEOUT_MS, http_idle, hc);
    }
}

int st_http_start(st_broker_t *b, const char *listeners) {
    if (!listeners || !*listeners) return 0;
    /* "http://host:port" (the first one). */
    const char *hp = strstr(listeners, "://");
    hp = hp ? hp + 3 : listeners;
    char host[256];
    int port = 0;
    const char *colon = strrchr(hp, ':');
    if (!colon || (size_t)(colon - hp) >= sizeof host) {
        ST_ERROR("http.listeners %s is not http://host:port", listeners);
        return ST_ERR_INVALID_CONFIG;
    }
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    port = atoi(colon + 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return ST_ERR_IO;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    if (!*host || strcmp(host, "0.0.0.0") == 0) addr.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        close(fd);
        ST_ERROR("http.listeners host %s is not an IPv4 address", host);
        return ST_ERR_INVALID_CONFIG;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 64) < 0) {
        ST_WARN("http: cannot listen on %s:%d: %s; metrics are not served", host, port, strerror(errno));
        close(fd);
        return 0;
    }
    struct st_http *h = calloc(1, sizeof *h);
    if (!h) abort();
    h->b = b;
    h->listen_fd = fd;
    b->http = h;
    st_loop_watch(b->loop, fd, ST_EVENT_READABLE, http_on_accept, h);
    ST_INFO("serving /metrics and /v1/groups/<group>/lag on http://%s:%d", host, port);
    return 0;
}

void st_http_stop(st_broker_t *b) {
    struct st_http *h = b->http;
    if (!h) return;
    while (h->conns) http_close(h->conns);
    st_timer_stop(b->loop, &h->accept_backoff);
    st_loop_unwatch(b->loop, h->listen_fd);
    close(h->listen_fd);
    free(h);
    b->http = NULL;
}
