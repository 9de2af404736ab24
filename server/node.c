/*
 * The node: the composition root. It owns the configuration and the event
 * loop, starts the rooms in order (net, broker, coordinators, http), wires
 * the hooks through which lower rooms tell higher ones of events, runs the
 * timers that drive each room's upkeep, and stops them in reverse.
 *
 * Start states (st_broker_start):
 *
 *   checks --> dir locks --> listeners bound --> logs open --> serving
 *      \___________\_______________\________________\--(failure)--> undone
 *
 * Invariants:
 *  1. Nothing below the node calls up: every upward edge is a hook set here
 *     (st_broker_hooks_t, net's adopt) or a timer started here.
 *  2. A failed start undoes what it did, in reverse, and leaves the disk as
 *     it found it (see st_broker_start).
 */
#include "server/node.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"
#include "http/http.h"
#include "server/dispatch.h"
#include "coordinator/group/group.h"
#include "storage/dir_lock.h"
#include "storage/fsutil.h"
#include "strata_version.h"

static void before_sleep(st_loop_t *loop, void *ctx) {
    (void)loop;
    st_broker_t *b = ctx;
    st_network_before_sleep(&b->net);
}

static void housekeeping(st_loop_t *loop, void *ctx) {
    st_broker_t *b = ctx;
    int64_t now = st_wall_ms();
    st_broker_housekeeping(b, now);
    if (b->groups) st_groups_housekeeping(b->groups, now);
    int64_t every = b->retention_check_interval_ms;
    if (b->flush_scheduler_interval_ms < every) every = b->flush_scheduler_interval_ms;
    int64_t offsets_every = st_config_get_long(b->config, "offsets.retention.check.interval.ms");
    if (offsets_every < every) every = offsets_every;
    if (every < 10) every = 10;
    st_timer_start(loop, &b->housekeeping_timer, every, housekeeping, b);
}

/* The floor on the cleaner's interval: log.cleaner.backoff.ms may be 0,
 * which must not turn the timer into a busy loop. */
#define CLEANER_INTERVAL_MIN_MS 10

/* Kafka's cleaner threads, on the loop: every log.cleaner.backoff.ms each
 * compacted log is offered to st_log_compact, which cleans only a log dirty
 * enough (min.cleanable.dirty.ratio) or with tombstones due. */
static void cleaner_pass(st_loop_t *loop, void *ctx) {
    st_broker_t *b = ctx;
    int64_t now = st_wall_ms();
    st_broker_compact(b, now);
    int64_t every = b->log_cleaner_backoff_ms;
    if (every < CLEANER_INTERVAL_MIN_MS) every = CLEANER_INTERVAL_MIN_MS;
    st_timer_start(loop, &b->cleaner_timer, every, cleaner_pass, b);
}

/* ---- the start's checks, locks and listeners ---------------------------- */

/* "PLAINTEXT://127.0.0.1:9092", "SSL://[::1]:9093", "PLAINTEXT://:9092":
 * Kafka's EndPoint.connectionString. */
static void listener_text(const st_listener_t *l, char *buf, size_t len) {
    bool v6 = strchr(l->host, ':') != NULL;
    snprintf(buf, len, "%s://%s%s%s:%d", l->name, v6 ? "[" : "", l->host, v6 ? "]" : "", l->port);
}

/*
 * Picks the client listener to serve from `listeners` and what Metadata
 * advertises for it. Strata implements PLAINTEXT only (TLS and SASL come
 * later): a listener of any other protocol stops the start instead of being
 * served as plaintext or skipped, and so does a second client listener until
 * connections carry their listener (network.c). Controller listeners are
 * parsed and checked but not opened: there is no controller RPC yet.
 */
static int choose_listener(st_broker_t *b) {
    char err[1024];
    st_listeners_t listeners, advertised;
    if (st_config_listeners(b->config, &listeners, err, sizeof err) != 0 ||
        st_config_advertised_listeners(b->config, &advertised, err, sizeof err) != 0) {
        ST_ERROR("configuration: %s", err);
        return ST_ERR_INVALID_CONFIG;
    }
    const st_listener_t *client = NULL;
    int32_t client_count = 0;
    char names[1024] = "";
    for (int32_t i = 0; i < listeners.count; i++) {
        const st_listener_t *l = &listeners.items[i];
        char text[ST_LISTENER_NAME_MAX_CHARS + ST_LISTENER_HOST_MAX_CHARS + 16];
        listener_text(l, text, sizeof text);
        if (l->security_protocol != ST_SECURITY_PROTOCOL_PLAINTEXT) {
            const char *protocol = st_security_protocol_name(l->security_protocol);
            bool mapped = strcmp(l->name, protocol) != 0;
            ST_ERROR("configuration: listener %s has security protocol %s%s, which Strata does not implement yet "
                     "(only PLAINTEXT): not starting",
                     text, protocol, mapped ? " (listener.security.protocol.map)" : "");
            return ST_ERR_INVALID_CONFIG;
        }
        if (l->controller) continue;
        if (!client) client = l;
        size_t used = strlen(names);
        int w = snprintf(names + used, sizeof names - used, "%s%s", client_count ? ", " : "", text);
        if (w < 0 || (size_t)w >= sizeof names - used) names[used] = '\0'; /* the count still says how many */
        client_count++;
    }
    if (client_count == 0) {
        ST_ERROR("configuration: There must be at least one broker advertised listener. Perhaps all listeners "
                 "appear in controller.listener.names?");
        return ST_ERR_INVALID_CONFIG;
    }
    if (client_count > 1) {
        ST_ERROR("configuration: listeners has %d client listeners (%s); Strata serves one for now: not starting",
                 client_count, names);
        return ST_ERR_INVALID_CONFIG;
    }
    b->net.listener = *client;
    const st_listener_t *published = client;
    if (advertised.count > 0) {
        published = NULL;
        for (int32_t i = 0; i < advertised.count; i++)
            if (strcmp(advertised.items[i].name, client->name) == 0) published = &advertised.items[i];
        if (!published) {
            ST_ERROR("configuration: There must be at least one broker advertised listener: advertised.listeners "
                     "does not name %s", client->name);
            return ST_ERR_INVALID_CONFIG;
        }
    }
    /* An empty or wildcard host is not an address a client can use. */
    const char *host = published->host;
    b->host = strdup(*host && strcmp(host, "0.0.0.0") != 0 ? host : "127.0.0.1");
    if (!b->host) abort();
    b->port = published->port;
    return 0;
}

/* Kafka refuses to start when node.id is missing (KRaft mode requires it;
 * there is no broker.id generation). */
static int check_node_id(st_broker_t *b) {
    if (!st_config_is_set(b->config, "node.id")) {
        ST_ERROR("configuration: Missing required configuration \"node.id\" which has no default value.");
        return ST_ERR_INVALID_CONFIG;
    }
    b->node_id = st_config_get_int(b->config, "node.id");
    return 0;
}

static void release_dir_locks(st_broker_t *b, bool undo_create) {
    while (b->dir_lock_count > 0) st_dir_lock_release(b->dir_locks[--b->dir_lock_count], undo_create);
}

/*
 * Locks every entry of log.dirs (Kafka's LogManager.lockLogDirs), creating
 * it when missing, before anything reads or writes there. Only the first
 * holds data: Strata keeps every log in one directory.
 */
static int lock_log_dirs(st_broker_t *b) {
    const char *dirs = st_config_get_string(b->config, "log.dirs");
    const char *cursor = dirs ? dirs : "", *s;
    char paths[ST_LOG_DIRS_MAX][ST_FS_PATH_MAX];
    int32_t count = 0;
    while (*cursor) {
        const char *comma = strchr(cursor, ',');
        const char *end = comma ? comma : cursor + strlen(cursor);
        s = cursor;
        cursor = comma ? comma + 1 : end;
        const char *e = end;
        while (s < e && (unsigned char)*s <= ' ') s++;
        while (e > s && (unsigned char)e[-1] <= ' ') e--;
        if (e == s) continue;
        if (count == ST_LOG_DIRS_MAX || (size_t)(e - s) >= ST_FS_PATH_MAX) {
            ST_ERROR("configuration: log.dirs names more than %d directories or one longer than %d bytes",
                     ST_LOG_DIRS_MAX, ST_FS_PATH_MAX - 1);
            return ST_ERR_INVALID_CONFIG;
        }
        snprintf(paths[count], sizeof paths[count], "%.*s", (int)(e - s), s);
        for (int32_t i = 0; i < count; i++) {
            if (strcmp(paths[i], paths[count]) == 0) {
                ST_ERROR("configuration: Duplicate log directory found: %s", dirs);
                return ST_ERR_INVALID_CONFIG;
            }
        }
        count++;
    }
    if (count == 0) {
        ST_ERROR("configuration: At least one log directory must be defined via log.dirs or log.dir.");
        return ST_ERR_INVALID_CONFIG;
    }
    for (int32_t i = 0; i < count; i++) {
        st_dir_lock_t *lock;
        int err = st_dir_lock_acquire(paths[i], &lock);
        if (err == ST_ERR_IO && errno == EWOULDBLOCK) {
            ST_ERROR("Failed to acquire lock on file %s in %s. A Kafka instance in another process or thread is "
                     "using this directory.", ST_DIR_LOCK_FILE, paths[i]);
        } else if (err != 0) {
            ST_ERROR("cannot create or lock log dir %s: %s", paths[i],
                     err == ST_ERR_IO ? strerror(errno) : st_err_name(err));
        }
        if (err != 0) {
            release_dir_locks(b, true);
            return err;
        }
        b->dir_locks[b->dir_lock_count++] = lock;
    }
    b->data_dir = strdup(paths[0]);
    if (!b->data_dir) abort();
    if (count > 1)
        ST_WARN("log.dirs names %d directories: every log is kept in the first, %s; the others are locked but "
                "unused", count, b->data_dir);
    return 0;
}

/* ---- start and stop ------------------------------------------------------- */

/* Undoes st_broker_start, from whatever point it reached. A failed start
 * also undoes the creation of a log dir or .lock file (storage/dir_lock.h). */
static void broker_teardown(st_broker_t *b, bool failed_start) {
    if (b->loop) st_http_stop(b);
    if (b->loop) st_network_close_all(&b->net);
    st_groups_free(b->groups);
    b->groups = NULL;
    st_broker_close_topics(b);
    if (b->fetch_sessions) st_fetch_sessions_free(b->fetch_sessions);
    b->fetch_sessions = NULL;
    if (b->loop) st_loop_free(b->loop);
    b->loop = NULL;
    free(b->host);
    b->host = NULL;
    free(b->data_dir);
    b->data_dir = NULL;
    /* Last: nothing of ours touches the directories once they are unlocked. */
    release_dir_locks(b, failed_start);
}

/*
 * The start runs in an order that lets a failed start leave the disk as it
 * found it:
 *   1. checks that need no I/O: node.id, listeners, advertised listeners;
 *   2. the lock on every log dir, before anything reads or writes in one
 *      (a second broker on a live directory stops here, touching nothing);
 *   3. the listeners bound (a port in use stops here, before the disk);
 *   4. meta.properties (formatting a new directory), the metadata log, the
 *      partitions (recovering their tails), orphan directories, the groups.
 * A start that fails in step 4 (an I/O error, damage recovery cannot repair)
 * closes what it opened as a stop does. Opening and closing an intact,
 * cleanly closed log writes nothing (storage/log.h), and a log that needed
 * recovery was repaired and fsynced by its open, so its clean-shutdown
 * marker is then true. As in Kafka (its acceptors bind at start-up and
 * serve once the logs are loaded), the port accepts connections into the
 * kernel's backlog from step 3 on; their requests are read once the loop
 * runs, after step 4.
 */
int st_broker_start(st_broker_t *b, st_config_t *config) {
    b->config = config;
    st_net_t *net = &b->net;
    net->owner = b;
    net->config = config;
    net->api_table = st_api_table;
    net->api_count = st_api_table_count;
    net->legacy_api_versions = st_config_get_bool(config, "strata.legacy.api.versions.enable");
    net->listen_fd = -1;
    net->socket_request_max_bytes = st_config_get_long(config, "socket.request.max.bytes");
    net->max_connections = st_config_get_int(config, "max.connections");
    net->max_connections_per_ip = st_config_get_int(config, "max.connections.per.ip");
    net->connections_max_idle_ms = st_config_get_long(config, "connections.max.idle.ms");
    net->max_inflight_per_conn = st_config_get_int(config, "strata.max.inflight.requests.per.connection");
    net->socket_send_buffer_bytes = st_config_get_int(config, "socket.send.buffer.bytes");
    net->socket_receive_buffer_bytes = st_config_get_int(config, "socket.receive.buffer.bytes");
    b->hooks.partition_appended = st_fetch_wake;
    b->hooks.partition_removed = st_fetch_forget_partition;
    b->fetch_max_bytes = st_config_get_int(config, "fetch.max.bytes");
    b->fetch_response_target_bytes = st_config_get_int(config, "strata.fetch.response.target.bytes");
    b->decompressed_batch_max_bytes = (size_t)st_config_get_long(config, "strata.decompressed.batch.max.bytes");
    b->log_drop_behind_bytes = st_config_get_long(config, "strata.log.drop.behind.bytes");
    b->retention_check_interval_ms = st_config_get_long(config, "log.retention.check.interval.ms");
    b->flush_scheduler_interval_ms = st_config_get_long(config, "log.flush.scheduler.interval.ms");
    b->log_cleaner_enable = st_config_get_bool(config, "log.cleaner.enable");
    b->log_cleaner_backoff_ms = st_config_get_long(config, "log.cleaner.backoff.ms");

    /* 1. */
    int err = check_node_id(b);
    if (err == 0) err = choose_listener(b);
    if (err != 0) goto err_teardown;
    /* 2. */
    err = lock_log_dirs(b);
    if (err != 0) goto err_teardown;
    /* 3. */
    b->loop = st_loop_new();
    net->loop = b->loop;
    err = st_network_listen(net, net->listener.host, net->listener.port);
    if (err != 0) goto err_teardown;
    if (b->net.listener.port == 0) {
        /* Any free port: advertise the one the kernel chose. */
        struct sockaddr_in bound;
        socklen_t bound_len = sizeof bound;
        if (getsockname(b->net.listen_fd, (struct sockaddr *)&bound, &bound_len) == 0) {
            b->net.listener.port = ntohs(bound.sin_port);
            if (b->port == 0) b->port = b->net.listener.port;
        }
    }
    err = st_http_start(b, st_config_get_string(config, "http.listeners"));
    if (err != 0) goto err_teardown;
    /* 4. */
    err = st_broker_format_data_dir(b);
    if (err != 0) goto err_teardown;
    b->fetch_sessions = st_fetch_sessions_new(st_config_get_int(config, "max.incremental.fetch.session.cache.slots"));
    err = st_broker_open_metadata(b);
    if (err != 0) goto err_teardown;
    err = st_broker_open_logs(b);
    if (err != 0) goto err_teardown;
    b->groups = st_groups_new(b);
    st_groups_load(b->groups);
    char listener[ST_LISTENER_NAME_MAX_CHARS + ST_LISTENER_HOST_MAX_CHARS + 16];
    listener_text(&b->net.listener, listener, sizeof listener);
    ST_INFO("strata-server %s: node %d of cluster %s listening on %s with %d topic(s), data in %s", STRATA_VERSION,
            b->node_id, b->cluster_id, listener, b->topic_count, b->data_dir);
    st_timer_start(b->loop, &b->housekeeping_timer, 100, housekeeping, b);
    if (b->log_cleaner_enable)
        st_timer_start(b->loop, &b->cleaner_timer, 100, cleaner_pass, b);
    else
        ST_INFO("log.cleaner.enable=false: topics with cleanup.policy=compact will not be compacted");
    st_loop_set_before_sleep(b->loop, before_sleep, b);
    return 0;

err_teardown:
    broker_teardown(b, true);
    return err;
}

void st_broker_stop(st_broker_t *b) { broker_teardown(b, false); }
