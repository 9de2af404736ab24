/*
 * `strata consumer-groups`: kafka-consumer-groups.sh's --list, --describe
 * (offsets, --members [--verbose], --state), --reset-offsets, --delete and
 * --delete-offsets, speaking only the Kafka protocol (ListGroups,
 * FindCoordinator, DescribeGroups, OffsetFetch, ListOffsets, Metadata,
 * OffsetCommit, DeleteGroups, OffsetDelete), so it works against Apache
 * Kafka as well as Strata.
 *
 * Output follows Kafka 4.x ConsumerGroupCommand / GroupOffsetsResetter:
 *   - tables are Java "%-Ns" columns: left-aligned, padded to the widest
 *     value (at least 15 for names), one space between columns, the last
 *     column unpadded; missing values print "-". Tables start with an
 *     empty line, as Java's "\n%..." formats do.
 *   - "Error: ..." lines go to stdout after an empty line (printError);
 *     "Consumer group 'g' has no active members." and the rebalancing
 *     warning go to stderr.
 *   - --members --verbose prints Kafka 3.x's ASSIGNMENT column
 *     ("topic(0,1), other(2)"): the 4.x epoch columns only carry data for
 *     KIP-848 groups, which this tool does not describe.
 * Deviations, each deliberate:
 *   - the exit status is 1 whenever an error was printed (Kafka's script
 *     exits 0 after printing most of them), so scripts can test it;
 *   - rows Kafka prints in Java HashMap order (reset plans, failed
 *     deletions) are sorted by group, topic and partition;
 *   - --output json (a Strata extension) prints the same data as one JSON
 *     array of objects on stdout, with null for "-"; messages then go to
 *     stderr so stdout stays parseable.
 *
 * Reset semantics (GroupOffsetsResetter): offsets are committed with
 * generation -1 and an empty member id, only while the group is Empty or
 * Dead; --to-offset and --shift-by are clamped to [earliest, latest];
 * --to-datetime/--by-duration fall back to the log end offset for a
 * partition with no record at or after the timestamp.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tools/client.h"

#define GROUPS_COLUMN_MIN 15          /* Java's minimum width of name columns */
#define GROUPS_RETRY_SLEEP_US 100000  /* between retries of coordinator errors */
/* Returned once a message is printed (usage or error): nothing to add. */
#define GROUPS_REPORTED (-2000)
_Static_assert(GROUPS_REPORTED < ST_ERR_INTERNAL_BASE, "must not collide with an st_err_t");
#define CONSUMER_PROTOCOL_VERSION_MAX 3 /* ConsumerProtocolAssignment versions we decode */
#define MISSING "-"

typedef enum reset_scenario {
    RESET_NONE,
    RESET_TO_EARLIEST,
    RESET_TO_LATEST,
    RESET_TO_CURRENT,
    RESET_TO_OFFSET,
    RESET_SHIFT_BY,
    RESET_TO_DATETIME,
    RESET_BY_DURATION,
} reset_scenario_t;

typedef struct groups_options {
    const char *bootstrap;
    bool list, describe, delete, reset_offsets, delete_offsets;
    const char **groups; /* --group values, argc-sized */
    int32_t group_count;
    bool all_groups;
    const char **topics; /* --topic values, argc-sized */
    int32_t topic_count;
    bool all_topics;
    bool members, verbose, offsets, state;
    const char *state_value; /* --list --state VALUE; NULL: no filter */
    reset_scenario_t scenario;
    int32_t scenario_count;
    int64_t scenario_value;    /* --to-offset / --shift-by */
    const char *scenario_text; /* --to-datetime / --by-duration */
    bool dry_run, execute;
    bool json;
    int timeout_ms;
} groups_options_t;

typedef struct topic_partition {
    const char *topic;
    int32_t partition;
} topic_partition_t;

typedef struct member {
    const char *member_id;
    const char *instance_id; /* NULL when none */
    const char *client_id;
    const char *host;
    topic_partition_t *assignment; /* sorted by topic, partition */
    int32_t assignment_count;
} member_t;

typedef struct group {
    const char *group_id;
    const char *state;         /* "Stable", "Empty", "Dead", ... */
    const char *protocol_type; /* "consumer", "" */
    const char *protocol;      /* the assignor, e.g. "range" */
    member_t *members;
    int32_t member_count;
} group_t;

typedef struct committed {
    topic_partition_t tp;
    int64_t offset;
} committed_t;

typedef struct coordinator {
    const char *group;
    int32_t node_id;
    char host[256];
    int32_t port;
    bool known;
} coordinator_t;

/* One command run. Everything decoded lives in `arena` until the end: the
 * CLI runs one command and exits, so a command-long arena is the simple
 * owner. */
typedef struct groups_ctx {
    const groups_options_t *o;
    st_cluster_t cluster;
    st_arena_t arena;
    coordinator_t *coordinators;
    int32_t coordinator_count, coordinator_cap;
    json_t *json; /* the output array with --output json */
    bool failed;  /* an error was printed: exit status 1 */
    char error[ST_CLIENT_ERROR_BYTES];
} groups_ctx_t;

static void groups_usage(FILE *out) {
    fprintf(out,
            "Usage: strata consumer-groups --bootstrap-server HOST:PORT ACTION [OPTIONS]\n"
            "Actions (exactly one):\n"
            "  --list [--state [STATE,...]]\n"
            "  --describe (--group G [--group G2 ...] | --all-groups)\n"
            "             [--offsets | --members [--verbose] | --state]\n"
            "  --reset-offsets (--group G ... | --all-groups) (--topic T[:P,P...] ... | --all-topics)\n"
            "             (--to-earliest | --to-latest | --to-current | --to-offset N | --shift-by N\n"
            "              | --to-datetime YYYY-MM-DDTHH:mm:SS.sss | --by-duration PnDTnHnMnS)\n"
            "             [--dry-run | --execute]\n"
            "  --delete (--group G ... | --all-groups)\n"
            "  --delete-offsets --group G --topic T[:P,P...] ...\n"
            "Options:\n"
            "  --output json   print the result as a JSON array (Strata extension)\n"
            "  --timeout MS    bound on each broker wait and on coordinator retries\n"
            "                  (default: strata --timeout, 30 s)\n");
}

/* printUsageAndExit: the message, then the usage, on stderr. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    groups_usage(stderr);
    return GROUPS_REPORTED;
}

/* printError: "\nError: msg" on stdout (stderr with --output json). */
static void print_error(groups_ctx_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void print_error(groups_ctx_t *x, const char *fmt, ...) {
    FILE *out = x->o->json ? stderr : stdout;
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "\nError: ");
    vfprintf(out, fmt, ap);
    fprintf(out, "\n");
    va_end(ap);
    x->failed = true;
}

static int ctx_fail(groups_ctx_t *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ctx_fail(groups_ctx_t *x, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->error, sizeof x->error, fmt, ap);
    va_end(ap);
    return rc;
}

/* A NUL-terminated copy in the arena; NULL for a null string. */
static const char *str_dup(st_arena_t *a, st_str_t s) {
    if (s.len < 0) return NULL;
    char *p = st_arena_alloc(a, (size_t)s.len + 1);
    if (s.len > 0) memcpy(p, s.ptr, (size_t)s.len);
    p[s.len] = '\0';
    return p;
}

static const char *str_or_empty(st_arena_t *a, st_str_t s) {
    const char *p = str_dup(a, s);
    return p ? p : "";
}

/* ---- Java's error texts ---------------------------------------------------
 * The admin client turns a code into an exception; the tool prints its
 * message, or with toString() its class name too. */

static const char *java_exception_class(int code) {
    switch (code) {
    case ST_ERR_UNKNOWN_SERVER_ERROR: return "UnknownServerException";
    case ST_ERR_UNKNOWN_TOPIC_OR_PARTITION: return "UnknownTopicOrPartitionException";
    case ST_ERR_LEADER_NOT_AVAILABLE: return "LeaderNotAvailableException";
    case ST_ERR_REQUEST_TIMED_OUT: return "TimeoutException";
    case ST_ERR_COORDINATOR_LOAD_IN_PROGRESS: return "CoordinatorLoadInProgressException";
    case ST_ERR_COORDINATOR_NOT_AVAILABLE: return "CoordinatorNotAvailableException";
    case ST_ERR_NOT_COORDINATOR: return "NotCoordinatorException";
    case ST_ERR_ILLEGAL_GENERATION: return "IllegalGenerationException";
    case ST_ERR_INVALID_GROUP_ID: return "InvalidGroupIdException";
    case ST_ERR_UNKNOWN_MEMBER_ID: return "UnknownMemberIdException";
    case ST_ERR_REBALANCE_IN_PROGRESS: return "RebalanceInProgressException";
    case ST_ERR_INVALID_COMMIT_OFFSET_SIZE: return "InvalidCommitOffsetSizeException";
    case ST_ERR_TOPIC_AUTHORIZATION_FAILED: return "TopicAuthorizationException";
    case ST_ERR_GROUP_AUTHORIZATION_FAILED: return "GroupAuthorizationException";
    case ST_ERR_UNSUPPORTED_VERSION: return "UnsupportedVersionException";
    case ST_ERR_INVALID_REQUEST: return "InvalidRequestException";
    case ST_ERR_NON_EMPTY_GROUP: return "GroupNotEmptyException";
    case ST_ERR_GROUP_ID_NOT_FOUND: return "GroupIdNotFoundException";
    case ST_ERR_GROUP_SUBSCRIBED_TO_TOPIC: return "GroupSubscribedToTopicException";
    default: return NULL;
    }
}

/* Java's Errors.message() for the codes the group APIs return. */
static const char *java_error_message(int code) {
    switch (code) {
    case ST_ERR_COORDINATOR_LOAD_IN_PROGRESS: return "The coordinator is loading and hence can't process requests.";
    case ST_ERR_COORDINATOR_NOT_AVAILABLE: return "The coordinator is not available.";
    case ST_ERR_NOT_COORDINATOR: return "This is not the correct coordinator.";
    case ST_ERR_ILLEGAL_GENERATION: return "Specified group generation id is not valid.";
    case ST_ERR_INVALID_GROUP_ID: return "The configured groupId is invalid.";
    case ST_ERR_UNKNOWN_MEMBER_ID: return "The coordinator is not aware of this member.";
    case ST_ERR_REBALANCE_IN_PROGRESS: return "The group is rebalancing, so a rejoin is needed.";
    case ST_ERR_INVALID_COMMIT_OFFSET_SIZE: return "The committing offset data size is not valid.";
    case ST_ERR_TOPIC_AUTHORIZATION_FAILED: return "Topic authorization failed.";
    case ST_ERR_GROUP_AUTHORIZATION_FAILED: return "Group authorization failed.";
    case ST_ERR_INVALID_REQUEST:
        return "This most likely occurs because of a request being malformed by the client library or the message "
               "was sent to an incompatible broker. See the broker logs for more details.";
    case ST_ERR_NON_EMPTY_GROUP: return "The group is not empty.";
    case ST_ERR_GROUP_ID_NOT_FOUND: return "The group id does not exist.";
    case ST_ERR_GROUP_SUBSCRIBED_TO_TOPIC:
        return "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it.";
    default: return st_kafka_error_message(code);
    }
}

/* Throwable.toString(): "org.apache.kafka.common.errors.X: message". */
static void java_exception_text(char *buf, size_t cap, int code) {
    const char *cls = java_exception_class(code);
    if (cls)
        snprintf(buf, cap, "org.apache.kafka.common.errors.%s: %s", cls, java_error_message(code));
    else
        snprintf(buf, cap, "%s", java_error_message(code));
}

static bool coordinator_retriable(int code) {
    return code == ST_ERR_COORDINATOR_NOT_AVAILABLE || code == ST_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
           code == ST_ERR_NOT_COORDINATOR;
}

/* ---- ordering ------------------------------------------------------------ */

static int tp_cmp(const void *a, const void *b) {
    const topic_partition_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c != 0) return c;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

static int committed_cmp(const void *a, const void *b) {
    const committed_t *x = a, *y = b;
    return tp_cmp(&x->tp, &y->tp);
}

static int string_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int64_t wall_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *json_str_or_null(const char *s) {
    return s && strcmp(s, MISSING) != 0 ? json_string(s) : json_null();
}

static void json_emit(groups_ctx_t *x) {
    if (!x->json) return;
    char *text = json_dumps(x->json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) {
        printf("%s\n", text);
        free(text);
    }
    json_decref(x->json);
    x->json = NULL;
}

/* ---- coordinators --------------------------------------------------------- */

static coordinator_t *coordinator_get(groups_ctx_t *x, const char *group) {
    for (int32_t i = 0; i < x->coordinator_count; i++)
        if (strcmp(x->coordinators[i].group, group) == 0) return &x->coordinators[i];
    if (x->coordinator_count == x->coordinator_cap) {
        x->coordinator_cap = x->coordinator_cap ? x->coordinator_cap * 2 : 16;
        coordinator_t *grown = realloc(x->coordinators, sizeof *grown * (size_t)x->coordinator_cap);
        if (!grown) abort();
        x->coordinators = grown;
    }
    coordinator_t *c = &x->coordinators[x->coordinator_count++];
    memset(c, 0, sizeof *c);
    c->group = group;
    return c;
}

static void coordinator_set(coordinator_t *c, int32_t node_id, st_str_t host, int32_t port) {
    c->node_id = node_id;
    snprintf(c->host, sizeof c->host, "%.*s", host.len > 0 ? (int)host.len : 0, host.ptr ? host.ptr : "");
    c->port = port;
    c->known = true;
}

/* FindCoordinator for every group of `groups` whose coordinator is not
 * known: one batched request at v4+ (KIP-699), else one per group.
 * Retriable coordinator errors are retried until the timeout. */
static int find_coordinators(groups_ctx_t *x, const char *const *groups, int32_t count) {
    int64_t deadline = st_now_ms() + x->o->timeout_ms;
    st_client_t *c = &x->cluster.bootstrap;
    for (;;) {
        int16_t version = st_client_version(c, ST_API_FIND_COORDINATOR);
        if (version < 0) return ctx_fail(x, ST_ERR_UNSUPPORTED_VERSION, "The broker does not support FindCoordinator");
        int last_error = 0;
        const char *last_group = NULL;
        st_str_t *keys = st_arena_alloc(&x->arena, sizeof *keys * (size_t)(count ? count : 1));
        int32_t key_count = 0;
        for (int32_t i = 0; i < count; i++)
            if (!coordinator_get(x, groups[i])->known) keys[key_count++] = st_str(groups[i]);
        if (key_count == 0) return 0;
        int32_t batches = version >= 4 ? 1 : key_count;
        for (int32_t b = 0; b < batches; b++) {
            st_find_coordinator_request_t req;
            st_find_coordinator_request_init(&req);
            req.key_type = 0; /* GROUP */
            if (version >= 4) {
                req.coordinator_keys = keys;
                req.coordinator_keys_count = key_count;
            } else {
                req.key = keys[b];
            }
            st_find_coordinator_response_t resp;
            int rc = st_client_call(c, ST_API_FIND_COORDINATOR, &req, &x->arena, &resp);
            if (rc != 0) return ctx_fail(x, rc, "%s", st_client_error(c));
            if (version >= 4) {
                for (int32_t i = 0; i < resp.coordinators_count; i++) {
                    const st_find_coordinator_response_coordinator_t *e = &resp.coordinators[i];
                    const char *group = str_or_empty(&x->arena, e->key);
                    if (e->error_code == 0) {
                        coordinator_set(coordinator_get(x, group), e->node_id, e->host, e->port);
                    } else {
                        last_error = e->error_code;
                        last_group = group;
                    }
                }
            } else if (resp.error_code == 0) {
                coordinator_set(coordinator_get(x, str_or_empty(&x->arena, keys[b])), resp.node_id, resp.host,
                                resp.port);
            } else {
                last_error = resp.error_code;
                last_group = str_or_empty(&x->arena, keys[b]);
            }
        }
        if (last_error == 0) {
            /* A v4 answer that skipped a key: report it rather than spin. */
            for (int32_t i = 0; i < count; i++)
                if (!coordinator_get(x, groups[i])->known)
                    return ctx_fail(x, ST_ERR_COORDINATOR_NOT_AVAILABLE,
                                    "FindCoordinator did not answer for group '%s'", groups[i]);
            return 0;
        }
        if (!coordinator_retriable(last_error) || st_now_ms() >= deadline)
            return ctx_fail(x, last_error, "%s (group '%s')", java_error_message(last_error), last_group);
        usleep(GROUPS_RETRY_SLEEP_US);
    }
}

/* The connection to `group`'s coordinator. The node may be missing from
 * the cluster's table (learnt from Metadata): refresh it once. */
static st_client_t *coordinator_client(groups_ctx_t *x, const char *group) {
    int rc = find_coordinators(x, &group, 1);
    if (rc != 0) return NULL;
    coordinator_t *co = coordinator_get(x, group);
    st_client_t *c = st_cluster_client(&x->cluster, co->node_id);
    if (c) return c;
    st_metadata_response_t md;
    if (st_cluster_metadata(&x->cluster, NULL, 0, &x->arena, &md) != 0) {
        ctx_fail(x, ST_ERR_IO, "%s", x->cluster.error);
        return NULL;
    }
    c = st_cluster_client(&x->cluster, co->node_id);
    if (!c) ctx_fail(x, ST_ERR_IO, "coordinator %d (%s:%d): %s", (int)co->node_id, co->host, (int)co->port,
                     x->cluster.error);
    return c;
}

typedef int (*response_error_fn)(const void *response);

/* Sends `request` to `group`'s coordinator and decodes `response`. When
 * `error_of` finds a retriable coordinator error, the coordinator is looked
 * up again and the request resent, until the timeout; the caller then sees
 * the last response and judges its errors. */
static int coordinator_call(groups_ctx_t *x, const char *group, int16_t api_key, const void *request,
                            void *response, response_error_fn error_of) {
    int64_t deadline = st_now_ms() + x->o->timeout_ms;
    for (;;) {
        st_client_t *c = coordinator_client(x, group);
        if (!c) return ST_ERR_IO;
        int rc = st_client_call(c, api_key, request, &x->arena, response);
        if (rc != 0) return ctx_fail(x, rc, "%s", st_client_error(c));
        int code = error_of(response);
        if (!coordinator_retriable(code) || st_now_ms() >= deadline) return 0;
        coordinator_get(x, group)->known = false;
        usleep(GROUPS_RETRY_SLEEP_US);
    }
}

/* ---- topics and log offsets ---------------------------------------------- */

typedef struct topic_meta {
    const char *name;
    int16_t error;
    int32_t partition_count;
    int32_t *leaders; /* by partition index; -1: no leader */
} topic_meta_t;

typedef struct topic_table {
    topic_meta_t *topics;
    int32_t count;
} topic_table_t;

/* Metadata for the distinct topics of `names`. */
static int load_topics(groups_ctx_t *x, const char *const *names, int32_t name_count, topic_table_t *out) {
    const char **distinct = st_arena_alloc(&x->arena, sizeof *distinct * (size_t)(name_count ? name_count : 1));
    int32_t n = 0;
    for (int32_t i = 0; i < name_count; i++) {
        bool seen = false;
        for (int32_t j = 0; j < n && !seen; j++) seen = strcmp(distinct[j], names[i]) == 0;
        if (!seen) distinct[n++] = names[i];
    }
    out->topics = st_arena_alloc(&x->arena, sizeof *out->topics * (size_t)(n ? n : 1));
    out->count = n;
    if (n == 0) return 0;
    st_metadata_response_t md;
    int rc = st_cluster_metadata(&x->cluster, distinct, n, &x->arena, &md);
    if (rc != 0) return ctx_fail(x, rc, "%s", x->cluster.error);
    for (int32_t i = 0; i < n; i++) {
        topic_meta_t *t = &out->topics[i];
        memset(t, 0, sizeof *t);
        t->name = distinct[i];
        t->error = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        for (int32_t k = 0; k < md.topics_count; k++) {
            const st_metadata_response_metadata_response_topic_t *mt = &md.topics[k];
            if (!st_str_eq(mt->name, t->name)) continue;
            t->error = mt->error_code;
            if (mt->error_code != 0) break;
            int32_t count = 0;
            for (int32_t p = 0; p < mt->partitions_count; p++)
                if (mt->partitions[p].partition_index >= count) count = mt->partitions[p].partition_index + 1;
            t->partition_count = count;
            t->leaders = st_arena_alloc(&x->arena, sizeof *t->leaders * (size_t)(count ? count : 1));
            for (int32_t p = 0; p < count; p++) t->leaders[p] = -2; /* -2: no such partition */
            for (int32_t p = 0; p < mt->partitions_count; p++) {
                const st_metadata_response_metadata_response_partition_t *mp = &mt->partitions[p];
                if (mp->partition_index >= 0) t->leaders[mp->partition_index] = mp->leader_id;
            }
        }
    }
    return 0;
}

static const topic_meta_t *topic_find(const topic_table_t *table, const char *name) {
    for (int32_t i = 0; i < table->count; i++)
        if (strcmp(table->topics[i].name, name) == 0) return &table->topics[i];
    return NULL;
}

/* Leader of a partition: >= 0, -1 (no leader), or -2 (no such partition). */
static int32_t partition_leader(const topic_table_t *table, const topic_partition_t *tp) {
    const topic_meta_t *t = topic_find(table, tp->topic);
    if (!t || t->error != 0 || tp->partition < 0 || tp->partition >= t->partition_count) return -2;
    return t->leaders[tp->partition];
}

/* ListOffsets at `timestamp` (ST_OFFSET_LATEST, ST_OFFSET_EARLIEST or a
 * time in ms) for `count` partitions, one request per leader. known[i] is
 * false where there is no leader or the broker answered with an error;
 * offsets[i] may be -1 for a timestamp past the last record. */
static int list_offsets(groups_ctx_t *x, const topic_partition_t *tps, int32_t count, int64_t timestamp,
                        int64_t *offsets, bool *known) {
    for (int32_t i = 0; i < count; i++) {
        offsets[i] = -1;
        known[i] = false;
    }
    if (count == 0) return 0;
    const char **names = st_arena_alloc(&x->arena, sizeof *names * (size_t)count);
    for (int32_t i = 0; i < count; i++) names[i] = tps[i].topic;
    topic_table_t table;
    int rc = load_topics(x, names, count, &table);
    if (rc != 0) return rc;
    int32_t *leaders = st_arena_alloc(&x->arena, sizeof *leaders * (size_t)count);
    for (int32_t i = 0; i < count; i++) leaders[i] = partition_leader(&table, &tps[i]);
    for (int32_t i = 0; i < count; i++) {
        int32_t leader = leaders[i];
        if (leader < 0) continue;
        bool done = false;
        for (int32_t j = 0; j < i && !done; j++) done = leaders[j] == leader;
        if (done) continue;
        st_client_t *c = st_cluster_client(&x->cluster, leader);
        if (!c) return ctx_fail(x, ST_ERR_IO, "%s", x->cluster.error);
        st_list_offsets_request_t req;
        st_list_offsets_request_init(&req);
        req.replica_id = -1;
        req.isolation_level = 0; /* the admin client's default, READ_UNCOMMITTED */
        req.timeout_ms = x->o->timeout_ms;
        req.topics = st_arena_alloc(&x->arena, sizeof *req.topics * (size_t)count);
        for (int32_t k = i; k < count; k++) {
            if (leaders[k] != leader) continue;
            st_list_offsets_request_list_offsets_topic_t *t = NULL;
            for (int32_t q = 0; q < req.topics_count && !t; q++)
                if (st_str_eq(req.topics[q].name, tps[k].topic)) t = &req.topics[q];
            if (!t) {
                t = &req.topics[req.topics_count++];
                memset(t, 0, sizeof *t);
                t->name = st_str(tps[k].topic);
                t->partitions = st_arena_alloc(&x->arena, sizeof *t->partitions * (size_t)count);
            }
            bool dup = false;
            for (int32_t q = 0; q < t->partitions_count && !dup; q++)
                dup = t->partitions[q].partition_index == tps[k].partition;
            if (dup) continue;
            st_list_offsets_request_list_offsets_partition_t *p = &t->partitions[t->partitions_count++];
            p->partition_index = tps[k].partition;
            p->current_leader_epoch = -1;
            p->timestamp = timestamp;
            p->max_num_offsets = 1;
        }
        st_list_offsets_response_t resp;
        rc = st_client_call(c, ST_API_LIST_OFFSETS, &req, &x->arena, &resp);
        if (rc != 0) return ctx_fail(x, rc, "%s", st_client_error(c));
        for (int32_t t = 0; t < resp.topics_count; t++) {
            for (int32_t p = 0; p < resp.topics[t].partitions_count; p++) {
                const st_list_offsets_response_list_offsets_partition_response_t *lp =
                    &resp.topics[t].partitions[p];
                if (lp->error_code != 0) continue;
                int64_t offset = lp->old_style_offsets_count > 0 ? lp->old_style_offsets[0] : lp->offset;
                for (int32_t k = 0; k < count; k++) {
                    if (leaders[k] != leader || tps[k].partition != lp->partition_index ||
                        !st_str_eq(resp.topics[t].name, tps[k].topic))
                        continue;
                    offsets[k] = offset;
                    known[k] = true;
                }
            }
        }
    }
    return 0;
}

/* ---- groups --------------------------------------------------------------- */

/* Kafka's listConsumerGroups: ListGroups to every broker, keeping groups of
 * the consumer protocol (or none: offsets committed without a member).
 * `states` (canonical names) filters at v4+ (KIP-518). */
typedef struct listed_group {
    const char *group_id;
    const char *state; /* NULL before ListGroups v4 */
} listed_group_t;

static int list_groups(groups_ctx_t *x, const char *const *states, int32_t state_count, listed_group_t **out,
                       int32_t *out_count) {
    *out = NULL;
    *out_count = 0;
    st_metadata_response_t md;
    int rc = st_cluster_metadata(&x->cluster, NULL, 0, &x->arena, &md);
    if (rc != 0) return ctx_fail(x, rc, "%s", x->cluster.error);
    int32_t cap = 0;
    listed_group_t *groups = NULL;
    for (int32_t b = 0; b < md.brokers_count; b++) {
        st_client_t *c = st_cluster_client(&x->cluster, md.brokers[b].node_id);
        if (!c) return ctx_fail(x, ST_ERR_IO, "%s", x->cluster.error);
        int16_t version = st_client_version(c, ST_API_LIST_GROUPS);
        if (state_count > 0 && version >= 0 && version < 4)
            return ctx_fail(x, ST_ERR_UNSUPPORTED_VERSION,
                            "The broker does not support filtering groups by state (ListGroups v4, KIP-518)");
        st_list_groups_request_t req;
        st_list_groups_request_init(&req);
        if (state_count > 0) {
            req.states_filter = st_arena_alloc(&x->arena, sizeof *req.states_filter * (size_t)state_count);
            for (int32_t i = 0; i < state_count; i++) req.states_filter[i] = st_str(states[i]);
            req.states_filter_count = state_count;
        }
        st_list_groups_response_t resp;
        rc = st_client_call(c, ST_API_LIST_GROUPS, &req, &x->arena, &resp);
        if (rc != 0) return ctx_fail(x, rc, "%s", st_client_error(c));
        if (resp.error_code != 0) return ctx_fail(x, resp.error_code, "%s", java_error_message(resp.error_code));
        for (int32_t i = 0; i < resp.groups_count; i++) {
            const st_list_groups_response_listed_group_t *g = &resp.groups[i];
            if (g->protocol_type.len > 0 && !st_str_eq(g->protocol_type, "consumer")) continue;
            /* KIP-848 share/streams groups are not consumer groups. */
            if (g->group_type.len > 0 && !st_str_eq(g->group_type, "classic") &&
                !st_str_eq(g->group_type, "consumer"))
                continue;
            if (*out_count == cap) {
                cap = cap ? cap * 2 : 64;
                listed_group_t *grown = st_arena_alloc(&x->arena, sizeof *grown * (size_t)cap);
                if (groups) memcpy(grown, groups, sizeof *grown * (size_t)*out_count);
                groups = grown;
            }
            groups[*out_count].group_id = str_or_empty(&x->arena, g->group_id);
            groups[*out_count].state = version >= 4 ? str_or_empty(&x->arena, g->group_state) : NULL;
            (*out_count)++;
        }
    }
    *out = groups;
    return 0;
}

static int describe_error(const void *response) {
    const st_describe_groups_response_t *r = response;
    return r->groups_count > 0 ? r->groups[0].error_code : 0;
}

/* The consumer protocol's assignment: int16 version, then the struct. */
static void decode_assignment(groups_ctx_t *x, st_bytes_t bytes, member_t *m) {
    m->assignment = NULL;
    m->assignment_count = 0;
    if (bytes.len < 2) return;
    st_reader_t r;
    st_reader_init(&r, bytes.ptr, (size_t)bytes.len);
    int16_t version = st_read_i16(&r);
    if (version < 0) return;
    if (version > CONSUMER_PROTOCOL_VERSION_MAX) version = CONSUMER_PROTOCOL_VERSION_MAX;
    st_consumer_protocol_assignment_t a;
    if (st_consumer_protocol_assignment_decode(&r, &x->arena, version, &a) != 0 || r.failed) return;
    int32_t total = 0;
    for (int32_t t = 0; t < a.assigned_partitions_count; t++)
        if (a.assigned_partitions[t].partitions_count > 0) total += a.assigned_partitions[t].partitions_count;
    m->assignment = st_arena_alloc(&x->arena, sizeof *m->assignment * (size_t)(total ? total : 1));
    for (int32_t t = 0; t < a.assigned_partitions_count; t++) {
        const char *topic = str_or_empty(&x->arena, a.assigned_partitions[t].topic);
        for (int32_t p = 0; p < a.assigned_partitions[t].partitions_count; p++) {
            /* Set semantics: the admin client keeps a Set<TopicPartition>. */
            topic_partition_t tp = {topic, a.assigned_partitions[t].partitions[p]};
            bool dup = false;
            for (int32_t k = 0; k < m->assignment_count && !dup; k++) dup = tp_cmp(&m->assignment[k], &tp) == 0;
            if (!dup) m->assignment[m->assignment_count++] = tp;
        }
    }
    qsort(m->assignment, (size_t)m->assignment_count, sizeof *m->assignment, tp_cmp);
}

/* DescribeGroups for one group through its coordinator. A group the
 * coordinator does not know comes back "Dead" (GROUP_ID_NOT_FOUND from
 * newer brokers is read the same way). */
static int describe_group(groups_ctx_t *x, const char *group_id, group_t *g) {
    memset(g, 0, sizeof *g);
    g->group_id = group_id;
    st_describe_groups_request_t req;
    st_describe_groups_request_init(&req);
    st_str_t name = st_str(group_id);
    req.groups = &name;
    req.groups_count = 1;
    req.include_authorized_operations = false;
    st_describe_groups_response_t resp;
    int rc = coordinator_call(x, group_id, ST_API_DESCRIBE_GROUPS, &req, &resp, describe_error);
    if (rc != 0) return rc;
    if (resp.groups_count < 1) return ctx_fail(x, ST_ERR_DECODE, "DescribeGroups returned no group");
    const st_describe_groups_response_described_group_t *d = &resp.groups[0];
    if (d->error_code == ST_ERR_GROUP_ID_NOT_FOUND) {
        g->state = "Dead";
        g->protocol_type = "";
        g->protocol = "";
        return 0;
    }
    if (d->error_code != 0) return ctx_fail(x, d->error_code, "%s", java_error_message(d->error_code));
    g->state = str_or_empty(&x->arena, d->group_state);
    g->protocol_type = str_or_empty(&x->arena, d->protocol_type);
    g->protocol = str_or_empty(&x->arena, d->protocol_data);
    g->member_count = d->members_count > 0 ? d->members_count : 0;
    g->members = st_arena_alloc(&x->arena, sizeof *g->members * (size_t)(g->member_count ? g->member_count : 1));
    bool consumer = g->protocol_type[0] == '\0' || strcmp(g->protocol_type, "consumer") == 0;
    for (int32_t i = 0; i < g->member_count; i++) {
        const st_describe_groups_response_described_group_member_t *dm = &d->members[i];
        member_t *m = &g->members[i];
        m->member_id = str_or_empty(&x->arena, dm->member_id);
        m->instance_id = str_dup(&x->arena, dm->group_instance_id);
        m->client_id = str_or_empty(&x->arena, dm->client_id);
        m->host = str_or_empty(&x->arena, dm->client_host);
        if (consumer) decode_assignment(x, dm->member_assignment, m);
    }
    return 0;
}

static int offset_fetch_error(const void *response) {
    const st_offset_fetch_response_t *r = response;
    if (r->groups_count > 0) return r->groups[0].error_code;
    return r->error_code;
}

/* Committed offsets of every partition of the group (OffsetFetch with
 * topics = null), sorted; offsets < 0 mean "none" as in the admin client. */
static int fetch_committed(groups_ctx_t *x, const char *group_id, committed_t **out, int32_t *out_count) {
    *out = NULL;
    *out_count = 0;
    st_offset_fetch_request_t req;
    st_offset_fetch_request_init(&req);
    /* Both layouts are filled: the encoder writes the one of the version
     * negotiated with the coordinator (v8+ batches groups, KIP-709). */
    req.group_id = st_str(group_id);
    req.topics = NULL;
    req.topics_count = -1;
    st_offset_fetch_request_offset_fetch_request_group_t g;
    memset(&g, 0, sizeof g);
    g.group_id = st_str(group_id);
    g.member_id = st_str_null();
    g.member_epoch = -1;
    g.topics = NULL;
    g.topics_count = -1;
    req.groups = &g;
    req.groups_count = 1;
    req.require_stable = false;
    st_offset_fetch_response_t resp;
    int rc = coordinator_call(x, group_id, ST_API_OFFSET_FETCH, &req, &resp, offset_fetch_error);
    if (rc != 0) return rc;
    int code = offset_fetch_error(&resp);
    if (code == ST_ERR_GROUP_ID_NOT_FOUND) return 0;
    if (code != 0) return ctx_fail(x, code, "%s", java_error_message(code));
    int32_t total = 0;
    if (resp.groups_count > 0) {
        for (int32_t t = 0; t < resp.groups[0].topics_count; t++)
            total += resp.groups[0].topics[t].partitions_count > 0 ? resp.groups[0].topics[t].partitions_count : 0;
    } else {
        for (int32_t t = 0; t < resp.topics_count; t++)
            total += resp.topics[t].partitions_count > 0 ? resp.topics[t].partitions_count : 0;
    }
    committed_t *c = st_arena_alloc(&x->arena, sizeof *c * (size_t)(total ? total : 1));
    int32_t n = 0;
    if (resp.groups_count > 0) {
        for (int32_t t = 0; t < resp.groups[0].topics_count; t++) {
            const st_offset_fetch_response_offset_fetch_response_topics_t *rt = &resp.groups[0].topics[t];
            const char *topic = str_or_empty(&x->arena, rt->name);
            for (int32_t p = 0; p < rt->partitions_count; p++) {
                if (rt->partitions[p].error_code != 0) continue;
                c[n].tp = (topic_partition_t){topic, rt->partitions[p].partition_index};
                c[n++].offset = rt->partitions[p].committed_offset;
            }
        }
    } else {
        for (int32_t t = 0; t < resp.topics_count; t++) {
            const st_offset_fetch_response_offset_fetch_response_topic_t *rt = &resp.topics[t];
            const char *topic = str_or_empty(&x->arena, rt->name);
            for (int32_t p = 0; p < rt->partitions_count; p++) {
                if (rt->partitions[p].error_code != 0) continue;
                c[n].tp = (topic_partition_t){topic, rt->partitions[p].partition_index};
                c[n++].offset = rt->partitions[p].committed_offset;
            }
        }
    }
    qsort(c, (size_t)n, sizeof *c, committed_cmp);
    *out = c;
    *out_count = n;
    return 0;
}

static const committed_t *committed_find(const committed_t *c, int32_t count, const topic_partition_t *tp) {
    for (int32_t i = 0; i < count; i++)
        if (tp_cmp(&c[i].tp, tp) == 0) return &c[i];
    return NULL;
}

/* The groups an action applies to: --group values (deduplicated) or, with
 * --all-groups, every consumer group. */
static int selected_groups(groups_ctx_t *x, const char ***out, int32_t *out_count) {
    const groups_options_t *o = x->o;
    if (o->all_groups) {
        listed_group_t *listed = NULL;
        int32_t n = 0;
        int rc = list_groups(x, NULL, 0, &listed, &n);
        if (rc != 0) return rc;
        const char **ids = st_arena_alloc(&x->arena, sizeof *ids * (size_t)(n ? n : 1));
        for (int32_t i = 0; i < n; i++) ids[i] = listed[i].group_id;
        *out = ids;
        *out_count = n;
        return 0;
    }
    const char **ids = st_arena_alloc(&x->arena, sizeof *ids * (size_t)(o->group_count ? o->group_count : 1));
    int32_t n = 0;
    for (int32_t i = 0; i < o->group_count; i++) {
        bool dup = false;
        for (int32_t j = 0; j < n && !dup; j++) dup = strcmp(ids[j], o->groups[i]) == 0;
        if (!dup) ids[n++] = o->groups[i];
    }
    *out = ids;
    *out_count = n;
    return 0;
}

/* shouldPrintMemberState: reports Dead/Empty/rebalancing; true when there
 * are rows to print. */
static bool should_print_member_state(groups_ctx_t *x, const group_t *g, int32_t rows) {
    if (strcmp(g->state, "Dead") == 0) {
        print_error(x, "Consumer group '%s' does not exist.", g->group_id);
        return false;
    }
    if (strcmp(g->state, "Empty") == 0)
        fprintf(stderr, "\nConsumer group '%s' has no active members.\n", g->group_id);
    else if (strcmp(g->state, "PreparingRebalance") == 0 || strcmp(g->state, "CompletingRebalance") == 0 ||
             strcmp(g->state, "Assigning") == 0 || strcmp(g->state, "Reconciling") == 0)
        fprintf(stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", g->group_id);
    return rows > 0;
}

static int width_max(int width, const char *s) {
    int n = (int)strlen(s);
    return n > width ? n : width;
}

/* ---- --list ---------------------------------------------------------------- */

/* GroupState.parse: case-insensitive; the canonical names go on the wire. */
static const char *const GROUP_STATES[] = {"PreparingRebalance", "CompletingRebalance", "Stable", "Dead",
                                           "Empty", "Assigning", "Reconciling"};
#define GROUP_STATE_COUNT ((int32_t)(sizeof GROUP_STATES / sizeof GROUP_STATES[0]))

static int groups_list(groups_ctx_t *x) {
    const groups_options_t *o = x->o;
    const char *states[GROUP_STATE_COUNT];
    int32_t state_count = 0;
    if (o->state_value && o->state_value[0]) {
        char *copy = st_arena_strdup(&x->arena, o->state_value);
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ' || *tok == '\t') tok++;
            size_t len = strlen(tok);
            while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t')) tok[--len] = '\0';
            const char *canonical = NULL;
            for (int32_t i = 0; i < GROUP_STATE_COUNT && !canonical; i++)
                if (strcasecmp(tok, GROUP_STATES[i]) == 0) canonical = GROUP_STATES[i];
            if (!canonical)
                return usage_error("Invalid state list '%s'. Valid states are: PreparingRebalance, "
                                   "CompletingRebalance, Stable, Dead, Empty, Assigning, Reconciling",
                                   o->state_value);
            bool dup = false;
            for (int32_t i = 0; i < state_count && !dup; i++) dup = states[i] == canonical;
            if (!dup) states[state_count++] = canonical;
        }
    }
    listed_group_t *groups = NULL;
    int32_t count = 0;
    int rc = list_groups(x, states, state_count, &groups, &count);
    if (rc != 0) return rc;
    bool with_state = o->state;
    if (o->json) {
        for (int32_t i = 0; i < count; i++) {
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(groups[i].group_id));
            json_object_set_new(row, "state", groups[i].state ? json_string(groups[i].state) : json_null());
            json_array_append_new(x->json, row);
        }
        return 0;
    }
    if (!with_state) {
        for (int32_t i = 0; i < count; i++) printf("%s\n", groups[i].group_id);
        return 0;
    }
    /* printGroupInfo (4.x): "%-{max(15, longest) + 10}s %-20s". */
    int width = GROUPS_COLUMN_MIN;
    for (int32_t i = 0; i < count; i++) width = width_max(width, groups[i].group_id);
    width += 10;
    printf("%-*s %-20s\n", width, "GROUP", "STATE");
    for (int32_t i = 0; i < count; i++)
        printf("%-*s %-20s\n", width, groups[i].group_id, groups[i].state ? groups[i].state : "Unknown");
    return 0;
}

/* ---- --describe (offsets) --------------------------------------------------- */

typedef struct offset_row {
    const char *group;
    topic_partition_t tp;
    bool has_offset;
    int64_t offset;
    bool has_leo;
    int64_t leo;
    const char *consumer_id, *host, *client_id;
} offset_row_t;

static int member_size_cmp(const void *a, const void *b) {
    const member_t *const *x = a, *const *y = b;
    if ((*x)->assignment_count != (*y)->assignment_count)
        return (*x)->assignment_count > (*y)->assignment_count ? -1 : 1;
    return 0;
}

static void format_i64(char *buf, size_t cap, bool present, int64_t v) {
    if (present)
        snprintf(buf, cap, "%lld", (long long)v);
    else
        snprintf(buf, cap, MISSING);
}

/* collectGroupsOffsets + printOffsets for one group. */
static int describe_offsets_one(groups_ctx_t *x, const group_t *g) {
    committed_t *committed = NULL;
    int32_t committed_count = 0;
    int rc = fetch_committed(x, g->group_id, &committed, &committed_count);
    if (rc != 0) return rc;
    int32_t total = committed_count;
    for (int32_t i = 0; i < g->member_count; i++) total += g->members[i].assignment_count;
    offset_row_t *rows = st_arena_alloc(&x->arena, sizeof *rows * (size_t)(total ? total : 1));
    int32_t n = 0;
    /* Members with partitions, most partitions first (a stable sort, as
     * Java's), each member's partitions by topic and partition. */
    const member_t **members = st_arena_alloc(&x->arena, sizeof *members * (size_t)(g->member_count + 1));
    int32_t member_count = 0;
    for (int32_t i = 0; i < g->member_count; i++)
        if (g->members[i].assignment_count > 0) members[member_count++] = &g->members[i];
    for (int32_t i = 1; i < member_count; i++) { /* insertion sort: stable */
        const member_t *m = members[i];
        int32_t j = i;
        while (j > 0 && member_size_cmp(&members[j - 1], &m) > 0) {
            members[j] = members[j - 1];
            j--;
        }
        members[j] = m;
    }
    for (int32_t i = 0; i < member_count; i++) {
        const member_t *m = members[i];
        for (int32_t k = 0; k < m->assignment_count; k++) {
            offset_row_t *r = &rows[n++];
            memset(r, 0, sizeof *r);
            r->group = g->group_id;
            r->tp = m->assignment[k];
            const committed_t *c = committed_find(committed, committed_count, &r->tp);
            r->has_offset = c != NULL;
            r->offset = c ? c->offset : -1;
            r->consumer_id = m->member_id;
            r->host = m->host;
            r->client_id = m->client_id;
        }
    }
    int32_t assigned_rows = n;
    /* Partitions with committed offsets that no member owns. */
    for (int32_t i = 0; i < committed_count; i++) {
        bool owned = false;
        for (int32_t k = 0; k < assigned_rows && !owned; k++) owned = tp_cmp(&rows[k].tp, &committed[i].tp) == 0;
        if (owned) continue;
        offset_row_t *r = &rows[n++];
        memset(r, 0, sizeof *r);
        r->group = g->group_id;
        r->tp = committed[i].tp;
        r->has_offset = true;
        r->offset = committed[i].offset;
        r->consumer_id = r->host = r->client_id = MISSING;
    }
    /* Log end offsets of every row's partition. */
    topic_partition_t *tps = st_arena_alloc(&x->arena, sizeof *tps * (size_t)(n ? n : 1));
    int64_t *leos = st_arena_alloc(&x->arena, sizeof *leos * (size_t)(n ? n : 1));
    bool *known = st_arena_alloc(&x->arena, sizeof *known * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++) tps[i] = rows[i].tp;
    rc = list_offsets(x, tps, n, ST_OFFSET_LATEST, leos, known);
    if (rc != 0) return rc;
    for (int32_t i = 0; i < n; i++) {
        rows[i].has_leo = known[i];
        rows[i].leo = leos[i];
        /* OffsetFetch answers -1 for "no offset": the admin client's null. */
        if (rows[i].has_offset && rows[i].offset < 0) rows[i].has_offset = false;
    }
    if (!should_print_member_state(x, g, n)) return 0;
    if (x->json) {
        for (int32_t i = 0; i < n; i++) {
            const offset_row_t *r = &rows[i];
            bool has_lag = r->has_offset && r->has_leo;
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(r->group));
            json_object_set_new(row, "topic", json_string(r->tp.topic));
            json_object_set_new(row, "partition", json_integer(r->tp.partition));
            json_object_set_new(row, "current_offset", r->has_offset ? json_integer(r->offset) : json_null());
            json_object_set_new(row, "log_end_offset", r->has_leo ? json_integer(r->leo) : json_null());
            json_object_set_new(row, "lag", has_lag ? json_integer(r->leo - r->offset) : json_null());
            json_object_set_new(row, "consumer_id", json_str_or_null(r->consumer_id));
            json_object_set_new(row, "host", json_str_or_null(r->host));
            json_object_set_new(row, "client_id", json_str_or_null(r->client_id));
            json_array_append_new(x->json, row);
        }
        return 0;
    }
    /* printOffsetFormat: "\n%-G s %-T s %-10s %-15s %-15s %-15s %-C s %-H s %s". */
    int gw = GROUPS_COLUMN_MIN, tw = GROUPS_COLUMN_MIN, cw = GROUPS_COLUMN_MIN, hw = GROUPS_COLUMN_MIN;
    for (int32_t i = 0; i < n; i++) {
        gw = width_max(gw, rows[i].group);
        tw = width_max(tw, rows[i].tp.topic);
        cw = width_max(cw, rows[i].consumer_id);
        hw = width_max(hw, rows[i].host);
    }
    printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s", gw, "GROUP", tw, "TOPIC", "PARTITION",
           "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", cw, "CONSUMER-ID", hw, "HOST", "CLIENT-ID");
    for (int32_t i = 0; i < n; i++) {
        const offset_row_t *r = &rows[i];
        char partition[16], offset[24], leo[24], lag[24];
        snprintf(partition, sizeof partition, "%d", (int)r->tp.partition);
        format_i64(offset, sizeof offset, r->has_offset, r->offset);
        format_i64(leo, sizeof leo, r->has_leo, r->leo);
        format_i64(lag, sizeof lag, r->has_offset && r->has_leo, r->leo - r->offset);
        printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s", gw, r->group, tw, r->tp.topic, partition, offset,
               leo, lag, cw, r->consumer_id, hw, r->host, r->client_id);
    }
    printf("\n");
    return 0;
}

/* ---- --describe --members ----------------------------------------------------- */

/* Kafka 3.x's ASSIGNMENT: "topic(0,1,2), other(0)", topics sorted. */
static const char *assignment_text(groups_ctx_t *x, const member_t *m) {
    if (m->assignment_count == 0) return MISSING;
    const char **parts = st_arena_alloc(&x->arena, sizeof *parts * (size_t)m->assignment_count);
    int32_t part_count = 0;
    size_t total = 0;
    for (int32_t i = 0; i < m->assignment_count;) {
        int32_t j = i;
        size_t len = strlen(m->assignment[i].topic) + 3;
        while (j < m->assignment_count && strcmp(m->assignment[j].topic, m->assignment[i].topic) == 0) {
            len += 12;
            j++;
        }
        char *s = st_arena_alloc(&x->arena, len);
        size_t o = (size_t)snprintf(s, len, "%s(", m->assignment[i].topic);
        for (int32_t k = i; k < j; k++)
            o += (size_t)snprintf(s + o, len - o, "%s%d", k > i ? "," : "", (int)m->assignment[k].partition);
        snprintf(s + o, len - o, ")");
        parts[part_count++] = s;
        total += strlen(s) + 2;
        i = j;
    }
    qsort(parts, (size_t)part_count, sizeof *parts, string_cmp);
    char *out = st_arena_alloc(&x->arena, total + 1);
    out[0] = '\0';
    for (int32_t i = 0; i < part_count; i++) {
        if (i) strcat(out, ", ");
        strcat(out, parts[i]);
    }
    return out;
}

static int describe_members_one(groups_ctx_t *x, const group_t *g) {
    bool verbose = x->o->verbose;
    bool rows = should_print_member_state(x, g, g->member_count);
    if (x->json) {
        for (int32_t i = 0; rows && i < g->member_count; i++) {
            const member_t *m = &g->members[i];
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(g->group_id));
            json_object_set_new(row, "consumer_id", json_string(m->member_id));
            json_object_set_new(row, "group_instance_id",
                                m->instance_id && m->instance_id[0] ? json_string(m->instance_id) : json_null());
            json_object_set_new(row, "host", json_string(m->host));
            json_object_set_new(row, "client_id", json_string(m->client_id));
            json_object_set_new(row, "partitions", json_integer(m->assignment_count));
            json_t *assignment = json_array();
            for (int32_t k = 0; k < m->assignment_count; k++) {
                json_t *tp = json_object();
                json_object_set_new(tp, "topic", json_string(m->assignment[k].topic));
                json_object_set_new(tp, "partition", json_integer(m->assignment[k].partition));
                json_array_append_new(assignment, tp);
            }
            json_object_set_new(row, "assignment", assignment);
            json_array_append_new(x->json, row);
        }
        return 0;
    }
    int gw = GROUPS_COLUMN_MIN, cw = GROUPS_COLUMN_MIN, iw = 17, hw = GROUPS_COLUMN_MIN, lw = GROUPS_COLUMN_MIN;
    bool with_instance = false;
    for (int32_t i = 0; rows && i < g->member_count; i++) {
        const member_t *m = &g->members[i];
        gw = width_max(gw, g->group_id);
        cw = width_max(cw, m->member_id);
        iw = width_max(iw, m->instance_id ? m->instance_id : "");
        hw = width_max(hw, m->host);
        lw = width_max(lw, m->client_id);
        with_instance = with_instance || (m->instance_id && m->instance_id[0]);
    }
    /* The header is printed even without rows, as Kafka does. */
    if (with_instance)
        printf("\n%-*s %-*s %-*s %-*s %-*s %-15s ", gw, "GROUP", cw, "CONSUMER-ID", iw, "GROUP-INSTANCE-ID", hw,
               "HOST", lw, "CLIENT-ID", "#PARTITIONS");
    else
        printf("\n%-*s %-*s %-*s %-*s %-15s ", gw, "GROUP", cw, "CONSUMER-ID", hw, "HOST", lw, "CLIENT-ID",
               "#PARTITIONS");
    if (verbose) printf("ASSIGNMENT");
    printf("\n");
    for (int32_t i = 0; rows && i < g->member_count; i++) {
        const member_t *m = &g->members[i];
        char count[16];
        snprintf(count, sizeof count, "%d", (int)m->assignment_count);
        if (with_instance)
            printf("%-*s %-*s %-*s %-*s %-*s %-15s ", gw, g->group_id, cw, m->member_id, iw,
                   m->instance_id ? m->instance_id : "", hw, m->host, lw, m->client_id, count);
        else
            printf("%-*s %-*s %-*s %-*s %-15s ", gw, g->group_id, cw, m->member_id, hw, m->host, lw, m->client_id,
                   count);
        if (verbose) printf("%s", assignment_text(x, m));
        printf("\n");
    }
    return 0;
}

/* ---- --describe --state --------------------------------------------------------- */

static int describe_state_one(groups_ctx_t *x, const group_t *g) {
    if (!should_print_member_state(x, g, 1)) return 0;
    const coordinator_t *co = coordinator_get(x, g->group_id);
    const char *strategy = g->protocol[0] ? g->protocol : MISSING;
    if (x->json) {
        json_t *row = json_object();
        json_object_set_new(row, "group", json_string(g->group_id));
        json_t *coordinator = json_object();
        json_object_set_new(coordinator, "id", json_integer(co->node_id));
        json_object_set_new(coordinator, "host", json_string(co->host));
        json_object_set_new(coordinator, "port", json_integer(co->port));
        json_object_set_new(row, "coordinator", coordinator);
        json_object_set_new(row, "assignment_strategy", json_str_or_null(strategy));
        json_object_set_new(row, "state", json_string(g->state));
        json_object_set_new(row, "members", json_integer(g->member_count));
        json_array_append_new(x->json, row);
        return 0;
    }
    char coordinator[300];
    snprintf(coordinator, sizeof coordinator, "%s:%d  (%d)", co->host, (int)co->port, (int)co->node_id);
    int cw = width_max(25, coordinator);
    int gw = width_max(GROUPS_COLUMN_MIN, g->group_id);
    printf("\n%-*s %-*s %-20s %-20s %s", gw, "GROUP", cw, "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE",
           "#MEMBERS");
    printf("\n%-*s %-*s %-20s %-20s %d", gw, g->group_id, cw, coordinator, strategy, g->state, (int)g->member_count);
    printf("\n");
    return 0;
}

static int groups_describe(groups_ctx_t *x) {
    const groups_options_t *o = x->o;
    const char **ids = NULL;
    int32_t count = 0;
    int rc = selected_groups(x, &ids, &count);
    if (rc != 0) return rc;
    /* Kafka keeps the results in a TreeMap: by group id. */
    qsort(ids, (size_t)count, sizeof *ids, string_cmp);
    rc = find_coordinators(x, ids, count);
    if (rc != 0) return rc;
    group_t *groups = st_arena_alloc(&x->arena, sizeof *groups * (size_t)(count ? count : 1));
    for (int32_t i = 0; i < count; i++) {
        rc = describe_group(x, ids[i], &groups[i]);
        if (rc != 0) return rc;
    }
    for (int32_t i = 0; i < count; i++) {
        if (o->members)
            rc = describe_members_one(x, &groups[i]);
        else if (o->state)
            rc = describe_state_one(x, &groups[i]);
        else
            rc = describe_offsets_one(x, &groups[i]);
        if (rc != 0) return rc;
    }
    return 0;
}

/* ---- --reset-offsets ------------------------------------------------------------- */

/* Utils.getDateTime: "yyyy-MM-dd'T'HH:mm:ss.SSS" with an optional zone
 * ("Z", "+hh:mm", "+hhmm", "+hh"); no zone means UTC. Milliseconds may be
 * left out. */
static bool parse_datetime(const char *s, int64_t *out_ms) {
    int year, month, day, hour, minute, second, used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second, &used) != 6 ||
        used != 19)
        return false;
    const char *p = s + used;
    int millis = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            millis = millis * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0) return false;
        while (digits++ < 3) millis *= 10;
    }
    int64_t zone_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int hh = 0, mm = 0;
        if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9')) return false;
        hh = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') p++;
        if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') {
            mm = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
        zone_s = sign * (int64_t)(hh * 3600 + mm * 60);
    }
    if (*p != '\0') return false;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t t = timegm(&tm);
    *out_ms = ((int64_t)t - zone_s) * 1000 + millis;
    return true;
}

/* java.time.Duration.parse: [-+]P[nD][T[nH][nM][n[.f]S]], case-insensitive,
 * each number optionally signed. */
static bool parse_duration(const char *s, int64_t *out_ms) {
    const char *p = s;
    int sign = 1;
    if (*p == '-' || *p == '+') sign = *p++ == '-' ? -1 : 1;
    if (*p != 'P' && *p != 'p') return false;
    p++;
    int64_t ms = 0;
    bool any = false, in_time = false;
    while (*p) {
        if (*p == 'T' || *p == 't') {
            if (in_time) return false;
            in_time = true;
            p++;
            if (!*p) return false;
            continue;
        }
        errno = 0;
        char *end = NULL;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno != 0) return false;
        int64_t fraction_ms = 0;
        if (*end == '.' || *end == ',') {
            end++;
            int digits = 0;
            while (*end >= '0' && *end <= '9') {
                if (digits < 3) fraction_ms = fraction_ms * 10 + (*end - '0');
                digits++;
                end++;
            }
            if (digits == 0) return false;
            for (int d = digits; d < 3; d++) fraction_ms *= 10;
            if (v < 0 || p[0] == '-') fraction_ms = -fraction_ms;
            if (*end != 'S' && *end != 's') return false;
        }
        char unit = *end;
        if (unit >= 'a' && unit <= 'z') unit = (char)(unit - 'a' + 'A');
        if (!in_time && unit == 'D')
            ms += v * 86400000LL;
        else if (in_time && unit == 'H')
            ms += v * 3600000LL;
        else if (in_time && unit == 'M')
            ms += v * 60000LL;
        else if (in_time && unit == 'S')
            ms += v * 1000LL + fraction_ms;
        else
            return false;
        any = true;
        p = end + 1;
    }
    if (!any) return false;
    *out_ms = sign * ms;
    return true;
}

typedef struct reset_entry {
    const char *group;
    topic_partition_t tp;
    int64_t offset;
} reset_entry_t;

typedef struct reset_plan {
    reset_entry_t *entries;
    int32_t count, cap;
    const char **groups; /* groups in the result map, even without entries */
    int32_t group_count;
} reset_plan_t;

static void plan_add(reset_plan_t *plan, const char *group, topic_partition_t tp, int64_t offset) {
    if (plan->count == plan->cap) {
        plan->cap = plan->cap ? plan->cap * 2 : 64;
        reset_entry_t *grown = realloc(plan->entries, sizeof *grown * (size_t)plan->cap);
        if (!grown) abort();
        plan->entries = grown;
    }
    plan->entries[plan->count++] = (reset_entry_t){group, tp, offset};
}

static int reset_entry_cmp(const void *a, const void *b) {
    const reset_entry_t *x = a, *y = b;
    int c = strcmp(x->group, y->group);
    return c != 0 ? c : tp_cmp(&x->tp, &y->tp);
}

/* parseTopicPartitionsToReset: "t:0,1" names partitions; "t" means all of
 * the topic's partitions (an unknown topic fails the command). */
static int parse_topic_args(groups_ctx_t *x, const char *const *args, int32_t arg_count, topic_partition_t **out,
                            int32_t *out_count) {
    int32_t cap = 16, n = 0;
    topic_partition_t *tps = st_xcalloc((size_t)cap, sizeof *tps);
    const char **whole = st_arena_alloc(&x->arena, sizeof *whole * (size_t)(arg_count ? arg_count : 1));
    int32_t whole_count = 0;
    for (int32_t i = 0; i < arg_count; i++) {
        const char *colon = strchr(args[i], ':');
        if (!colon) {
            whole[whole_count++] = args[i];
            continue;
        }
        if (strchr(colon + 1, ':') || colon == args[i] || colon[1] == '\0') {
            free(tps);
            return usage_error("Invalid topic arg '%s', expected topic name and partitions", args[i]);
        }
        const char *topic = str_dup(&x->arena, (st_str_t){args[i], (int32_t)(colon - args[i])});
        char *list = st_arena_strdup(&x->arena, colon + 1);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int64_t partition = 0;
            if (!st_parse_i64(tok, INT32_MIN, INT32_MAX, &partition)) {
                free(tps);
                    return usage_error("Invalid partition '%s' specified in topic arg '%s''", tok, args[i]);
            }
            if (n == cap) {
                cap *= 2;
                topic_partition_t *grown = realloc(tps, sizeof *grown * (size_t)cap);
                if (!grown) abort();
                tps = grown;
            }
            tps[n++] = (topic_partition_t){topic, (int32_t)partition};
        }
    }
    if (whole_count > 0) {
        topic_table_t table;
        int rc = load_topics(x, whole, whole_count, &table);
        if (rc != 0) {
            free(tps);
            return rc;
        }
        for (int32_t i = 0; i < table.count; i++) {
            const topic_meta_t *t = &table.topics[i];
            if (t->error != 0) {
                free(tps);
                return ctx_fail(x, t->error, "%s", java_error_message(t->error));
            }
            for (int32_t p = 0; p < t->partition_count; p++) {
                if (t->leaders[p] == -2) continue;
                if (n == cap) {
                    cap *= 2;
                    topic_partition_t *grown = realloc(tps, sizeof *grown * (size_t)cap);
                    if (!grown) abort();
                    tps = grown;
                }
                tps[n++] = (topic_partition_t){t->name, p};
            }
        }
    }
    /* A Set in Kafka: drop repeats. */
    qsort(tps, (size_t)n, sizeof *tps, tp_cmp);
    int32_t unique = 0;
    for (int32_t i = 0; i < n; i++)
        if (unique == 0 || tp_cmp(&tps[unique - 1], &tps[i]) != 0) tps[unique++] = tps[i];
    topic_partition_t *copy = st_arena_alloc(&x->arena, sizeof *copy * (size_t)(unique ? unique : 1));
    memcpy(copy, tps, sizeof *copy * (size_t)unique);
    free(tps);
    *out = copy;
    *out_count = unique;
    return 0;
}

/* checkAllTopicPartitionsValid: every partition exists and has a leader. */
static int check_partitions_valid(groups_ctx_t *x, const topic_partition_t *tps, int32_t count) {
    const char **names = st_arena_alloc(&x->arena, sizeof *names * (size_t)(count ? count : 1));
    for (int32_t i = 0; i < count; i++) names[i] = tps[i].topic;
    topic_table_t table;
    int rc = load_topics(x, names, count, &table);
    if (rc != 0) return rc;
    for (int pass = 0; pass < 2; pass++) {
        char list[ST_CLIENT_ERROR_BYTES] = "";
        size_t used = 0;
        for (int32_t i = 0; i < count; i++) {
            int32_t leader = partition_leader(&table, &tps[i]);
            if (pass == 0 ? leader != -2 : leader != -1) continue;
            used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s-%d",
                                     used ? "," : "", tps[i].topic, (int)tps[i].partition);
            if (used >= sizeof list) used = sizeof list - 1;
        }
        if (used > 0)
            return ctx_fail(x, pass == 0 ? ST_ERR_UNKNOWN_TOPIC_OR_PARTITION : ST_ERR_LEADER_NOT_AVAILABLE,
                            "The partitions \"%s\" %s", list, pass == 0 ? "do not exist" : "have no leader");
    }
    return 0;
}

/* prepareOffsetsToReset for one inactive group; adds to `plan`. */
static int prepare_reset(groups_ctx_t *x, const char *group, reset_plan_t *plan) {
    const groups_options_t *o = x->o;
    committed_t *committed = NULL;
    int32_t committed_count = 0;
    int rc = fetch_committed(x, group, &committed, &committed_count);
    if (rc != 0) return rc;
    topic_partition_t *tps = NULL;
    int32_t count = 0;
    if (o->all_topics) {
        tps = st_arena_alloc(&x->arena, sizeof *tps * (size_t)(committed_count ? committed_count : 1));
        for (int32_t i = 0; i < committed_count; i++) tps[count++] = committed[i].tp;
    } else {
        rc = parse_topic_args(x, o->topics, o->topic_count, &tps, &count);
        if (rc != 0) return rc;
    }
    rc = check_partitions_valid(x, tps, count);
    if (rc != 0) return rc;
    int64_t *earliest = st_arena_alloc(&x->arena, sizeof(int64_t) * (size_t)(count ? count : 1));
    int64_t *latest = st_arena_alloc(&x->arena, sizeof(int64_t) * (size_t)(count ? count : 1));
    int64_t *at_time = st_arena_alloc(&x->arena, sizeof(int64_t) * (size_t)(count ? count : 1));
    bool *earliest_known = st_arena_alloc(&x->arena, sizeof(bool) * (size_t)(count ? count : 1));
    bool *latest_known = st_arena_alloc(&x->arena, sizeof(bool) * (size_t)(count ? count : 1));
    bool *at_time_known = st_arena_alloc(&x->arena, sizeof(bool) * (size_t)(count ? count : 1));
    rc = list_offsets(x, tps, count, ST_OFFSET_LATEST, latest, latest_known);
    if (rc == 0) rc = list_offsets(x, tps, count, ST_OFFSET_EARLIEST, earliest, earliest_known);
    if (rc != 0) return rc;
    int64_t timestamp = 0;
    if (o->scenario == RESET_TO_DATETIME || o->scenario == RESET_BY_DURATION) {
        if (o->scenario == RESET_TO_DATETIME) {
            if (!parse_datetime(o->scenario_text, &timestamp))
                return ctx_fail(x, ST_ERR_INVALID_REQUEST, "Unparseable date: \"%s\"", o->scenario_text);
        } else {
            int64_t duration_ms = 0;
            if (!parse_duration(o->scenario_text, &duration_ms))
                return ctx_fail(x, ST_ERR_INVALID_REQUEST, "Text cannot be parsed to a Duration");
            timestamp = wall_clock_ms() - duration_ms;
        }
        rc = list_offsets(x, tps, count, timestamp, at_time, at_time_known);
        if (rc != 0) return rc;
    }
    for (int32_t i = 0; i < count; i++) {
        const committed_t *c = committed_find(committed, committed_count, &tps[i]);
        bool has_committed = c && c->offset >= 0;
        int64_t offset = 0;
        bool clamp = false;
        switch (o->scenario) {
        case RESET_TO_EARLIEST:
            if (!earliest_known[i]) {
                    return usage_error("Error getting starting offset of topic partition: %s-%d", tps[i].topic,
                                   (int)tps[i].partition);
            }
            offset = earliest[i];
            break;
        case RESET_TO_LATEST:
            if (!latest_known[i]) {
                    return usage_error("Error getting ending offset of topic partition: %s-%d", tps[i].topic,
                                   (int)tps[i].partition);
            }
            offset = latest[i];
            break;
        case RESET_TO_CURRENT:
            if (has_committed) {
                offset = c->offset;
            } else if (latest_known[i]) {
                offset = latest[i];
            } else {
                return ctx_fail(x, ST_ERR_UNKNOWN_SERVER_ERROR, "Error getting ending offset of topic partition: %s-%d",
                                tps[i].topic, (int)tps[i].partition);
            }
            break;
        case RESET_TO_OFFSET:
            offset = o->scenario_value;
            clamp = true;
            break;
        case RESET_SHIFT_BY:
            if (!has_committed) {
                    return usage_error("Cannot shift offset for partition %s-%d since there is no current committed offset",
                                   tps[i].topic, (int)tps[i].partition);
            }
            offset = c->offset + o->scenario_value;
            clamp = true;
            break;
        case RESET_TO_DATETIME:
        case RESET_BY_DURATION:
            if (at_time_known[i] && at_time[i] >= 0) {
                offset = at_time[i];
            } else {
                /* No record at or after the time: Kafka warns on stdout. */
                if (!o->json)
                    printf("\nWarn: Partition %d from topic %s is empty. Falling back to latest known offset.\n",
                           (int)tps[i].partition, tps[i].topic);
                else
                    fprintf(stderr, "Warn: Partition %d from topic %s is empty. Falling back to latest known offset.\n",
                            (int)tps[i].partition, tps[i].topic);
                if (!latest_known[i]) {
                            return usage_error("Error getting offset by timestamp of topic partition: %s-%d", tps[i].topic,
                                       (int)tps[i].partition);
                }
                offset = latest[i];
            }
            break;
        case RESET_NONE: break;
        }
        /* checkOffsetsRange: above the log end goes to the end, below the
         * log start goes to the start. */
        if (clamp) {
            if (latest_known[i] && offset > latest[i])
                offset = latest[i];
            else if (earliest_known[i] && offset < earliest[i])
                offset = earliest[i];
        }
        plan_add(plan, group, tps[i], offset);
    }
    return 0;
}

static int offset_commit_error(const void *response) {
    const st_offset_commit_response_t *r = response;
    for (int32_t t = 0; t < r->topics_count; t++)
        for (int32_t p = 0; p < r->topics[t].partitions_count; p++)
            if (r->topics[t].partitions[p].error_code != 0) return r->topics[t].partitions[p].error_code;
    return 0;
}

/* alterConsumerGroupOffsets: an OffsetCommit as no member (generation -1,
 * empty member id), which the coordinator accepts only for an empty group. */
static int commit_offsets(groups_ctx_t *x, const char *group, const reset_entry_t *entries, int32_t count) {
    if (count == 0) return 0;
    st_offset_commit_request_t req;
    st_offset_commit_request_init(&req);
    req.group_id = st_str(group);
    req.generation_id_or_member_epoch = -1;
    req.member_id = st_str("");
    req.group_instance_id = st_str_null();
    req.retention_time_ms = -1;
    req.topics = st_arena_alloc(&x->arena, sizeof *req.topics * (size_t)count);
    for (int32_t i = 0; i < count; i++) {
        st_offset_commit_request_offset_commit_request_topic_t *t = NULL;
        for (int32_t q = 0; q < req.topics_count && !t; q++)
            if (st_str_eq(req.topics[q].name, entries[i].tp.topic)) t = &req.topics[q];
        if (!t) {
            t = &req.topics[req.topics_count++];
            memset(t, 0, sizeof *t);
            t->name = st_str(entries[i].tp.topic);
            t->partitions = st_arena_alloc(&x->arena, sizeof *t->partitions * (size_t)count);
        }
        st_offset_commit_request_offset_commit_request_partition_t *p = &t->partitions[t->partitions_count++];
        memset(p, 0, sizeof *p);
        p->partition_index = entries[i].tp.partition;
        p->committed_offset = entries[i].offset;
        p->committed_leader_epoch = -1;
        p->commit_timestamp = -1;
        p->committed_metadata = st_str(""); /* new OffsetAndMetadata(offset) */
    }
    st_offset_commit_response_t resp;
    int rc = coordinator_call(x, group, ST_API_OFFSET_COMMIT, &req, &resp, offset_commit_error);
    if (rc != 0) return rc;
    int code = offset_commit_error(&resp);
    if (code != 0) return ctx_fail(x, code, "%s", java_error_message(code));
    return 0;
}

static int groups_reset_offsets(groups_ctx_t *x) {
    const groups_options_t *o = x->o;
    const char **ids = NULL;
    int32_t count = 0;
    int rc = selected_groups(x, &ids, &count);
    if (rc != 0) return rc;
    rc = find_coordinators(x, ids, count);
    if (rc != 0) return rc;
    reset_plan_t plan;
    memset(&plan, 0, sizeof plan);
    plan.groups = st_arena_alloc(&x->arena, sizeof *plan.groups * (size_t)(count ? count : 1));
    for (int32_t i = 0; i < count && rc == 0; i++) {
        group_t g;
        rc = describe_group(x, ids[i], &g);
        if (rc != 0) break;
        plan.groups[plan.group_count++] = ids[i];
        if (strcmp(g.state, "Empty") != 0 && strcmp(g.state, "Dead") != 0) {
            print_error(x, "Assignments can only be reset if the group '%s' is inactive, but the current state is %s.",
                        ids[i], g.state);
            continue;
        }
        int32_t first = plan.count;
        rc = prepare_reset(x, ids[i], &plan);
        if (rc == 0 && o->execute) rc = commit_offsets(x, ids[i], plan.entries + first, plan.count - first);
    }
    if (rc != 0) {
        free(plan.entries);
        return rc;
    }
    if (plan.count > 1) qsort(plan.entries, (size_t)plan.count, sizeof *plan.entries, reset_entry_cmp);
    if (x->json) {
        for (int32_t i = 0; i < plan.count; i++) {
            const reset_entry_t *e = &plan.entries[i];
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(e->group));
            json_object_set_new(row, "topic", json_string(e->tp.topic));
            json_object_set_new(row, "partition", json_integer(e->tp.partition));
            json_object_set_new(row, "new_offset", json_integer(e->offset));
            json_array_append_new(x->json, row);
        }
        free(plan.entries);
        return 0;
    }
    /* printOffsetsToReset: "%n%-Gs %-Ts %-10s %s"; the header whenever a
     * group was considered. */
    int gw = GROUPS_COLUMN_MIN, tw = GROUPS_COLUMN_MIN;
    for (int32_t i = 0; i < plan.group_count; i++) gw = width_max(gw, plan.groups[i]);
    for (int32_t i = 0; i < plan.count; i++) tw = width_max(tw, plan.entries[i].tp.topic);
    if (plan.group_count > 0) printf("\n%-*s %-*s %-10s %s", gw, "GROUP", tw, "TOPIC", "PARTITION", "NEW-OFFSET");
    for (int32_t i = 0; i < plan.count; i++) {
        const reset_entry_t *e = &plan.entries[i];
        char partition[16];
        snprintf(partition, sizeof partition, "%d", (int)e->tp.partition);
        printf("\n%-*s %-*s %-10s %lld", gw, e->group, tw, e->tp.topic, partition, (long long)e->offset);
    }
    printf("\n");
    free(plan.entries);
    return 0;
}

/* ---- --delete ----------------------------------------------------------------------- */

static int delete_groups_error(const void *response) {
    const st_delete_groups_response_t *r = response;
    return r->results_count > 0 ? r->results[0].error_code : 0;
}

static int groups_delete(groups_ctx_t *x) {
    const char **ids = NULL;
    int32_t count = 0;
    int rc = selected_groups(x, &ids, &count);
    if (rc != 0) return rc;
    rc = find_coordinators(x, ids, count);
    if (rc != 0) return rc;
    int16_t *errors = st_arena_alloc(&x->arena, sizeof *errors * (size_t)(count ? count : 1));
    int32_t failed = 0;
    for (int32_t i = 0; i < count; i++) {
        st_delete_groups_request_t req;
        st_delete_groups_request_init(&req);
        st_str_t name = st_str(ids[i]);
        req.groups_names = &name;
        req.groups_names_count = 1;
        st_delete_groups_response_t resp;
        rc = coordinator_call(x, ids[i], ST_API_DELETE_GROUPS, &req, &resp, delete_groups_error);
        if (rc != 0) return rc;
        errors[i] = resp.results_count > 0 ? resp.results[0].error_code : ST_ERR_UNKNOWN_SERVER_ERROR;
        failed += errors[i] != 0;
    }
    if (x->json) {
        for (int32_t i = 0; i < count; i++) {
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(ids[i]));
            if (errors[i] == 0) {
                json_object_set_new(row, "error", json_null());
            } else {
                json_object_set_new(row, "error", json_string(java_error_message(errors[i])));
                x->failed = true;
            }
            json_array_append_new(x->json, row);
        }
        return 0;
    }
    if (failed == 0) {
        printf("Deletion of requested consumer groups (");
        for (int32_t i = 0; i < count; i++) printf("%s'%s'", i ? ", " : "", ids[i]);
        printf(") was successful.\n");
        return 0;
    }
    print_error(x, "Deletion of some consumer groups failed:");
    for (int32_t i = 0; i < count; i++) {
        if (errors[i] == 0) continue;
        char text[ST_CLIENT_ERROR_BYTES];
        java_exception_text(text, sizeof text, errors[i]);
        printf("* Group '%s' could not be deleted due to: %s\n", ids[i], text);
    }
    if (failed < count) {
        printf("\nThese consumer groups were deleted successfully: ");
        bool first = true;
        for (int32_t i = 0; i < count; i++) {
            if (errors[i] != 0) continue;
            printf("%s'%s'", first ? "" : ", ", ids[i]);
            first = false;
        }
        printf("\n");
    }
    return 0;
}

/* ---- --delete-offsets --------------------------------------------------------------- */

typedef struct delete_row {
    topic_partition_t tp; /* partition -1: the whole topic failed */
    int16_t error;
    char key[300];        /* topic + partition, Kafka's sort key */
} delete_row_t;

static int delete_row_cmp(const void *a, const void *b) {
    const delete_row_t *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static int offset_delete_error(const void *response) {
    const st_offset_delete_response_t *r = response;
    return r->error_code;
}

static int groups_delete_offsets(groups_ctx_t *x) {
    const groups_options_t *o = x->o;
    const char *group = o->groups[0];
    /* Explicit partitions as given; whole topics through Metadata, where an
     * unknown topic becomes a row of its own (partition "-"). */
    int32_t cap = 16, n = 0;
    delete_row_t *rows = st_xcalloc((size_t)cap, sizeof *rows);
    const char **whole = st_arena_alloc(&x->arena, sizeof *whole * (size_t)o->topic_count);
    int32_t whole_count = 0;
    int rc = 0;
    for (int32_t i = 0; i < o->topic_count; i++) {
        const char *arg = o->topics[i];
        const char *colon = strchr(arg, ':');
        if (!colon) {
            whole[whole_count++] = arg;
            continue;
        }
        if (strchr(colon + 1, ':') || colon == arg || colon[1] == '\0') {
            free(rows);
            return usage_error("Invalid topic arg '%s', expected topic name and partitions", arg);
        }
        const char *topic = str_dup(&x->arena, (st_str_t){arg, (int32_t)(colon - arg)});
        char *list = st_arena_strdup(&x->arena, colon + 1);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int64_t partition = 0;
            if (!st_parse_i64(tok, INT32_MIN, INT32_MAX, &partition)) {
                free(rows);
                return usage_error("Invalid partition '%s' specified in topic arg '%s''", tok, arg);
            }
            if (n == cap) {
                cap *= 2;
                delete_row_t *grown = realloc(rows, sizeof *grown * (size_t)cap);
                if (!grown) abort();
                rows = grown;
            }
            memset(&rows[n], 0, sizeof rows[n]);
            rows[n++].tp = (topic_partition_t){topic, (int32_t)partition};
        }
    }
    if (whole_count > 0) {
        topic_table_t table;
        rc = load_topics(x, whole, whole_count, &table);
        if (rc != 0) {
            free(rows);
            return rc;
        }
        for (int32_t i = 0; i < table.count; i++) {
            const topic_meta_t *t = &table.topics[i];
            int32_t more = t->error != 0 ? 1 : t->partition_count;
            while (n + more > cap) {
                cap *= 2;
                delete_row_t *grown = realloc(rows, sizeof *grown * (size_t)cap);
                if (!grown) abort();
                rows = grown;
            }
            if (t->error != 0) {
                memset(&rows[n], 0, sizeof rows[n]);
                rows[n].tp = (topic_partition_t){t->name, -1};
                rows[n++].error = t->error;
                continue;
            }
            for (int32_t p = 0; p < t->partition_count; p++) {
                if (t->leaders[p] == -2) continue;
                memset(&rows[n], 0, sizeof rows[n]);
                rows[n++].tp = (topic_partition_t){t->name, p};
            }
        }
    }
    /* A Set: drop repeated partitions. */
    for (int32_t i = 0; i < n; i++) snprintf(rows[i].key, sizeof rows[i].key, "%s%d", rows[i].tp.topic, (int)rows[i].tp.partition);
    qsort(rows, (size_t)n, sizeof *rows, delete_row_cmp);
    int32_t unique = 0;
    for (int32_t i = 0; i < n; i++)
        if (unique == 0 || tp_cmp(&rows[unique - 1].tp, &rows[i].tp) != 0) rows[unique++] = rows[i];
    n = unique;
    int16_t top_level = 0;
    int32_t to_send = 0;
    for (int32_t i = 0; i < n; i++) to_send += rows[i].tp.partition >= 0;
    if (to_send > 0) {
        st_offset_delete_request_t req;
        st_offset_delete_request_init(&req);
        req.group_id = st_str(group);
        req.topics = st_arena_alloc(&x->arena, sizeof *req.topics * (size_t)to_send);
        for (int32_t i = 0; i < n; i++) {
            if (rows[i].tp.partition < 0) continue;
            st_offset_delete_request_offset_delete_request_topic_t *t = NULL;
            for (int32_t q = 0; q < req.topics_count && !t; q++)
                if (st_str_eq(req.topics[q].name, rows[i].tp.topic)) t = &req.topics[q];
            if (!t) {
                t = &req.topics[req.topics_count++];
                memset(t, 0, sizeof *t);
                t->name = st_str(rows[i].tp.topic);
                t->partitions = st_arena_alloc(&x->arena, sizeof *t->partitions * (size_t)to_send);
            }
            t->partitions[t->partitions_count++].partition_index = rows[i].tp.partition;
        }
        st_offset_delete_response_t resp;
        rc = coordinator_call(x, group, ST_API_OFFSET_DELETE, &req, &resp, offset_delete_error);
        if (rc != 0) {
            free(rows);
            return rc;
        }
        top_level = resp.error_code;
        for (int32_t i = 0; i < n; i++) {
            if (rows[i].tp.partition < 0) continue;
            if (top_level != 0) {
                rows[i].error = top_level; /* every partition fails with it */
                continue;
            }
            for (int32_t t = 0; t < resp.topics_count; t++) {
                if (!st_str_eq(resp.topics[t].name, rows[i].tp.topic)) continue;
                for (int32_t p = 0; p < resp.topics[t].partitions_count; p++)
                    if (resp.topics[t].partitions[p].partition_index == rows[i].tp.partition)
                        rows[i].error = resp.topics[t].partitions[p].error_code;
            }
        }
        /* all().get() fails with the first partition error. */
        for (int32_t i = 0; i < n && top_level == 0; i++)
            if (rows[i].tp.partition >= 0 && rows[i].error != 0) top_level = rows[i].error;
    }
    if (top_level != 0) x->failed = true;
    for (int32_t i = 0; i < n; i++)
        if (rows[i].error != 0) x->failed = true;
    if (x->json) {
        for (int32_t i = 0; i < n; i++) {
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(group));
            json_object_set_new(row, "topic", json_string(rows[i].tp.topic));
            json_object_set_new(row, "partition",
                                rows[i].tp.partition >= 0 ? json_integer(rows[i].tp.partition) : json_null());
            json_object_set_new(row, "error",
                                rows[i].error ? json_string(java_error_message(rows[i].error)) : json_null());
            json_array_append_new(x->json, row);
        }
        free(rows);
        return 0;
    }
    switch (top_level) {
    case 0: printf("Request succeeded for deleting offsets from group %s.\n", group); break;
    case ST_ERR_INVALID_GROUP_ID:
    case ST_ERR_GROUP_ID_NOT_FOUND:
    case ST_ERR_GROUP_AUTHORIZATION_FAILED:
    case ST_ERR_NON_EMPTY_GROUP: print_error(x, "%s", java_error_message(top_level)); break;
    case ST_ERR_GROUP_SUBSCRIBED_TO_TOPIC:
    case ST_ERR_TOPIC_AUTHORIZATION_FAILED:
    case ST_ERR_UNKNOWN_TOPIC_OR_PARTITION:
        print_error(x, "Encountered some partition-level error, see the follow-up details.");
        break;
    default: print_error(x, "Encountered some unknown error: %s", st_err_name(top_level)); break;
    }
    int tw = GROUPS_COLUMN_MIN;
    for (int32_t i = 0; i < n; i++) tw = width_max(tw, rows[i].tp.topic);
    printf("\n%-*s %-10s %-15s", tw, "TOPIC", "PARTITION", "STATUS");
    for (int32_t i = 0; i < n; i++) {
        char partition[16], status[ST_CLIENT_ERROR_BYTES + 16];
        if (rows[i].tp.partition >= 0)
            snprintf(partition, sizeof partition, "%d", (int)rows[i].tp.partition);
        else
            snprintf(partition, sizeof partition, MISSING);
        if (rows[i].error == 0) {
            snprintf(status, sizeof status, "Successful");
        } else {
            char text[ST_CLIENT_ERROR_BYTES];
            java_exception_text(text, sizeof text, rows[i].error);
            snprintf(status, sizeof status, "Error: %s", text);
        }
        printf("\n%-*s %-10s %-15s", tw, rows[i].tp.topic, partition, status);
    }
    printf("\n");
    free(rows);
    return 0;
}

/* ---- entry point ---------------------------------------------------------------- */

static void set_scenario(groups_options_t *o, reset_scenario_t s) {
    if (o->scenario != s) o->scenario_count++;
    o->scenario = s;
}

int st_cmd_consumer_groups(int argc, char **argv, int timeout_ms) {
    groups_options_t o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = timeout_ms;
    o.groups = st_xcalloc((size_t)argc, sizeof *o.groups);
    o.topics = st_xcalloc((size_t)argc, sizeof *o.topics);
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *v;
        if (st_arg_flag(argv, i, "--help") || st_arg_flag(argv, i, "-h")) {
            groups_usage(stdout);
            goto free_options;
        } else if ((v = st_arg_value(argc, argv, &i, "--bootstrap-server"))) {
            o.bootstrap = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--group"))) {
            o.groups[o.group_count++] = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--topic"))) {
            o.topics[o.topic_count++] = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--timeout"))) {
            int64_t ms = 0;
            if (!st_parse_i64(v, 1, 86400000, &ms)) rc = usage_error("--timeout takes milliseconds in [1, 86400000]");
            o.timeout_ms = (int)ms;
        } else if ((v = st_arg_value(argc, argv, &i, "--output"))) {
            if (strcmp(v, "json") != 0) rc = usage_error("--output takes 'json'");
            o.json = true;
        } else if ((v = st_arg_value(argc, argv, &i, "--to-offset"))) {
            if (!st_parse_i64(v, INT64_MIN, INT64_MAX, &o.scenario_value)) rc = usage_error("--to-offset takes an integer");
            set_scenario(&o, RESET_TO_OFFSET);
        } else if ((v = st_arg_value(argc, argv, &i, "--shift-by"))) {
            if (!st_parse_i64(v, INT64_MIN / 2, INT64_MAX / 2, &o.scenario_value))
                rc = usage_error("--shift-by takes an integer");
            set_scenario(&o, RESET_SHIFT_BY);
        } else if ((v = st_arg_value(argc, argv, &i, "--to-datetime"))) {
            o.scenario_text = v;
            set_scenario(&o, RESET_TO_DATETIME);
        } else if ((v = st_arg_value(argc, argv, &i, "--by-duration"))) {
            o.scenario_text = v;
            set_scenario(&o, RESET_BY_DURATION);
        } else if (strncmp(argv[i], "--state=", 8) == 0) {
            o.state = true;
            o.state_value = argv[i] + 8;
        } else if (st_arg_flag(argv, i, "--state")) {
            /* joptsimple's optional argument: the next word unless an option. */
            o.state = true;
            if (i + 1 < argc && argv[i + 1][0] != '-') o.state_value = argv[++i];
        } else if (st_arg_flag(argv, i, "--to-earliest")) {
            set_scenario(&o, RESET_TO_EARLIEST);
        } else if (st_arg_flag(argv, i, "--to-latest")) {
            set_scenario(&o, RESET_TO_LATEST);
        } else if (st_arg_flag(argv, i, "--to-current")) {
            set_scenario(&o, RESET_TO_CURRENT);
        } else if (st_arg_flag(argv, i, "--list")) {
            o.list = true;
        } else if (st_arg_flag(argv, i, "--describe")) {
            o.describe = true;
        } else if (st_arg_flag(argv, i, "--delete")) {
            o.delete = true;
        } else if (st_arg_flag(argv, i, "--reset-offsets")) {
            o.reset_offsets = true;
        } else if (st_arg_flag(argv, i, "--delete-offsets")) {
            o.delete_offsets = true;
        } else if (st_arg_flag(argv, i, "--all-groups")) {
            o.all_groups = true;
        } else if (st_arg_flag(argv, i, "--all-topics")) {
            o.all_topics = true;
        } else if (st_arg_flag(argv, i, "--members")) {
            o.members = true;
        } else if (st_arg_flag(argv, i, "--verbose")) {
            o.verbose = true;
        } else if (st_arg_flag(argv, i, "--offsets")) {
            o.offsets = true;
        } else if (st_arg_flag(argv, i, "--dry-run")) {
            o.dry_run = true;
        } else if (st_arg_flag(argv, i, "--execute")) {
            o.execute = true;
        } else {
            fprintf(stderr, "%s is not a recognized option\n", argv[i]);
            groups_usage(stderr);
            rc = 1;
        }
    }
    if (rc != 0) goto free_options;
    /* ConsumerGroupCommandOptions.checkArgs, in its order. */
    int actions = o.list + o.describe + o.delete + o.reset_offsets + o.delete_offsets;
    if (actions != 1) {
        rc = usage_error("Command must include exactly one action: --list, --describe, --delete, --reset-offsets, "
                         "--delete-offsets");
        goto free_options;
    }
    if (!o.bootstrap) {
        rc = usage_error("Missing required argument \"[bootstrap-server]\"");
        goto free_options;
    }
    bool have_groups = o.group_count > 0 || o.all_groups;
    if (o.group_count > 0 && o.all_groups) {
        rc = usage_error("Option \"[group]\" can't be used with option \"[all-groups]\"");
        goto free_options;
    }
    if (o.describe) {
        if (!have_groups) {
            rc = usage_error("Option [describe] takes one of these options: [all-groups], [group]");
            goto free_options;
        }
        if (o.members + o.offsets + o.state > 1) {
            rc = usage_error("Option [describe] takes at most one of these options: [members], [offsets], [state]");
            goto free_options;
        }
        if (o.state && o.state_value) {
            rc = usage_error("Option [describe] does not take a value for [state]");
            goto free_options;
        }
    } else if (o.members || o.verbose || o.offsets) {
        rc = usage_error("Option [%s] can only be used with [describe]",
                         o.members ? "members" : o.verbose ? "verbose" : "offsets");
        goto free_options;
    }
    if (o.state && !o.describe && !o.list) {
        rc = usage_error("Option [state] can only be used with [describe] or [list]");
        goto free_options;
    }
    if (o.delete) {
        if (!have_groups) {
            rc = usage_error("Option [delete] takes one of these options: [all-groups], [group]");
            goto free_options;
        }
        if (o.topic_count > 0) {
            rc = usage_error("The consumer does not support topic-specific offset deletion from a consumer group.");
            goto free_options;
        }
    }
    if (o.delete_offsets && (o.group_count != 1 || o.topic_count == 0)) {
        rc = usage_error("Option [delete-offsets] takes the following options: [group], [topic]");
        goto free_options;
    }
    if (o.reset_offsets) {
        if (o.dry_run && o.execute) {
            rc = usage_error("Option [reset-offsets] only accepts one of [execute] and [dry-run]");
            goto free_options;
        }
        if (!o.dry_run && !o.execute)
            fprintf(stderr,
                    "WARN: No action will be performed as the --execute option is missing.In a future major release, "
                    "the default behavior of this command will be to prompt the user before executing the reset "
                    "rather than doing a dry run. You should add the --dry-run option explicitly if you are "
                    "scripting this command and want to keep the current default behavior without prompting.\n");
        if (!have_groups) {
            rc = usage_error("Option [reset-offsets] takes one of these options: [all-groups], [group]");
            goto free_options;
        }
        if (o.scenario_count > 1) {
            rc = usage_error("Option [reset-offsets] takes exactly one of: [to-earliest], [to-latest], [to-current], "
                             "[to-offset], [shift-by], [to-datetime], [by-duration]");
            goto free_options;
        }
        if (o.topic_count == 0 && !o.all_topics) {
            rc = usage_error("One of the reset scopes should be defined: --all-topics, --topic.");
            goto free_options;
        }
        if (o.topic_count > 0 && o.all_topics) {
            rc = usage_error("Option \"[topic]\" can't be used with option \"[all-topics]\"");
            goto free_options;
        }
        if (o.scenario == RESET_NONE) {
            rc = usage_error("Option '[reset-offsets]' requires one of the following scenarios: [to-earliest], "
                             "[to-latest], [to-current], [to-offset], [shift-by], [to-datetime], [by-duration]");
            goto free_options;
        }
    } else if (o.scenario != RESET_NONE || o.all_topics || o.dry_run || o.execute) {
        rc = usage_error("Reset options (--to-*, --shift-by, --by-duration, --all-topics, --dry-run, --execute) "
                         "can only be used with [reset-offsets]");
        goto free_options;
    }
    if (o.topic_count > 0 && !o.reset_offsets && !o.delete_offsets) {
        rc = usage_error("Option \"[topic]\" can't be used with option \"[%s]\"", o.list ? "list" : "describe");
        goto free_options;
    }
    if (o.group_count > 0 && o.list) {
        rc = usage_error("Option \"[group]\" can't be used with option \"[list]\"");
        goto free_options;
    }
    groups_ctx_t x;
    memset(&x, 0, sizeof x);
    x.o = &o;
    st_arena_init(&x.arena);
    if (o.json) x.json = json_array();
    if (st_cluster_open(&x.cluster, o.bootstrap, o.timeout_ms) != 0) {
        print_error(&x, "Executing consumer group command failed due to %s", x.cluster.error);
        rc = 1;
        goto close_cluster;
    }
    rc = o.list             ? groups_list(&x)
         : o.describe       ? groups_describe(&x)
         : o.reset_offsets  ? groups_reset_offsets(&x)
         : o.delete         ? groups_delete(&x)
                            : groups_delete_offsets(&x);
    if (rc == GROUPS_REPORTED) {
        /* The message is printed. */
    } else if (rc != 0) {
        print_error(&x, "Executing consumer group command failed due to %s", x.error);
        rc = 1;
    } else {
        json_emit(&x);
    }
    if (x.failed) rc = 1;
close_cluster:
    if (x.json) json_decref(x.json);
    st_cluster_close(&x.cluster);
    st_arena_free(&x.arena);
    free(x.coordinators);
free_options:
    free(o.groups);
    free(o.topics);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}
