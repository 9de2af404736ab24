/* Shared parts of `strata consumer-groups`: see groups_internal.h. */
#include "tools/groups_internal.h"

void groups_usage(FILE *out) {
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
int groups_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    groups_usage(stderr);
    return GROUPS_REPORTED;
}

/* printError: "\nError: msg" on stdout (stderr with --output json). */
void groups_print_error(groups_ctx_t *x, const char *fmt, ...) {
    FILE *out = x->o->json ? stderr : stdout;
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "\nError: ");
    vfprintf(out, fmt, ap);
    fprintf(out, "\n");
    va_end(ap);
    x->failed = true;
}

int groups_ctx_fail(groups_ctx_t *x, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->error, sizeof x->error, fmt, ap);
    va_end(ap);
    return rc;
}

/* A NUL-terminated copy in the arena; NULL for a null string. */
const char *groups_str_dup(st_arena_t *a, st_str_t s) {
    if (s.len < 0) return NULL;
    char *p = st_arena_alloc(a, (size_t)s.len + 1);
    if (s.len > 0) memcpy(p, s.ptr, (size_t)s.len);
    p[s.len] = '\0';
    return p;
}

static const char *str_or_empty(st_arena_t *a, st_str_t s) {
    const char *p = groups_str_dup(a, s);
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
const char *groups_java_error_message(int code) {
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
void groups_java_exception_text(char *buf, size_t cap, int code) {
    const char *cls = java_exception_class(code);
    if (cls)
        snprintf(buf, cap, "org.apache.kafka.common.errors.%s: %s", cls, groups_java_error_message(code));
    else
        snprintf(buf, cap, "%s", groups_java_error_message(code));
}

static bool coordinator_retriable(int code) {
    return code == ST_ERR_COORDINATOR_NOT_AVAILABLE || code == ST_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
           code == ST_ERR_NOT_COORDINATOR;
}

/* ---- ordering ------------------------------------------------------------ */

int groups_tp_cmp(const void *a, const void *b) {
    const topic_partition_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c != 0) return c;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

static int committed_cmp(const void *a, const void *b) {
    const committed_t *x = a, *y = b;
    return groups_tp_cmp(&x->tp, &y->tp);
}

int groups_string_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int64_t groups_wall_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- JSON ---------------------------------------------------------------- */

json_t *groups_json_str_or_null(const char *s) {
    return s && strcmp(s, MISSING) != 0 ? json_string(s) : json_null();
}

void groups_json_emit(groups_ctx_t *x) {
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

coordinator_t *groups_coordinator_get(groups_ctx_t *x, const char *group) {
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
int groups_find_coordinators(groups_ctx_t *x, const char *const *groups, int32_t count) {
    int64_t deadline = st_now_ms() + x->o->timeout_ms;
    st_client_t *c = &x->cluster.bootstrap;
    for (;;) {
        int16_t version = st_client_version(c, ST_API_FIND_COORDINATOR);
        if (version < 0) return groups_ctx_fail(x, ST_ERR_UNSUPPORTED_VERSION, "The broker does not support FindCoordinator");
        int last_error = 0;
        const char *last_group = NULL;
        st_str_t *keys = st_arena_alloc(&x->arena, sizeof *keys * (size_t)(count ? count : 1));
        int32_t key_count = 0;
        for (int32_t i = 0; i < count; i++)
            if (!groups_coordinator_get(x, groups[i])->known) keys[key_count++] = st_str(groups[i]);
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
            if (rc != 0) return groups_ctx_fail(x, rc, "%s", st_client_error(c));
            if (version >= 4) {
                for (int32_t i = 0; i < resp.coordinators_count; i++) {
                    const st_find_coordinator_response_coordinator_t *e = &resp.coordinators[i];
                    const char *group = str_or_empty(&x->arena, e->key);
                    if (e->error_code == 0) {
                        coordinator_set(groups_coordinator_get(x, group), e->node_id, e->host, e->port);
                    } else {
                        last_error = e->error_code;
                        last_group = group;
                    }
                }
            } else if (resp.error_code == 0) {
                coordinator_set(groups_coordinator_get(x, str_or_empty(&x->arena, keys[b])), resp.node_id, resp.host,
                                resp.port);
            } else {
                last_error = resp.error_code;
                last_group = str_or_empty(&x->arena, keys[b]);
            }
        }
        if (last_error == 0) {
            /* A v4 answer that skipped a key: report it rather than spin. */
            for (int32_t i = 0; i < count; i++)
                if (!groups_coordinator_get(x, groups[i])->known)
                    return groups_ctx_fail(x, ST_ERR_COORDINATOR_NOT_AVAILABLE,
                                    "FindCoordinator did not answer for group '%s'", groups[i]);
            return 0;
        }
        if (!coordinator_retriable(last_error) || st_now_ms() >= deadline)
            return groups_ctx_fail(x, last_error, "%s (group '%s')", groups_java_error_message(last_error), last_group);
        usleep(GROUPS_RETRY_SLEEP_US);
    }
}

/* The connection to `group`'s coordinator. The node may be missing from
 * the cluster's table (learnt from Metadata): refresh it once. */
static st_client_t *coordinator_client(groups_ctx_t *x, const char *group) {
    int rc = groups_find_coordinators(x, &group, 1);
    if (rc != 0) return NULL;
    coordinator_t *co = groups_coordinator_get(x, group);
    st_client_t *c = st_cluster_client(&x->cluster, co->node_id);
    if (c) return c;
    st_metadata_response_t md;
    if (st_cluster_metadata(&x->cluster, NULL, 0, &x->arena, &md) != 0) {
        groups_ctx_fail(x, ST_ERR_IO, "%s", x->cluster.error);
        return NULL;
    }
    c = st_cluster_client(&x->cluster, co->node_id);
    if (!c) groups_ctx_fail(x, ST_ERR_IO, "coordinator %d (%s:%d): %s", (int)co->node_id, co->host, (int)co->port,
                     x->cluster.error);
    return c;
}


/* Sends `request` to `group`'s coordinator and decodes `response`. When
 * `error_of` finds a retriable coordinator error, the coordinator is looked
 * up again and the request resent, until the timeout; the caller then sees
 * the last response and judges its errors. */
int groups_coordinator_call(groups_ctx_t *x, const char *group, int16_t api_key, const void *request,
                            void *response, response_error_fn error_of) {
    int64_t deadline = st_now_ms() + x->o->timeout_ms;
    for (;;) {
        st_client_t *c = coordinator_client(x, group);
        if (!c) return ST_ERR_IO;
        int rc = st_client_call(c, api_key, request, &x->arena, response);
        if (rc != 0) return groups_ctx_fail(x, rc, "%s", st_client_error(c));
        int code = error_of(response);
        if (!coordinator_retriable(code) || st_now_ms() >= deadline) return 0;
        groups_coordinator_get(x, group)->known = false;
        usleep(GROUPS_RETRY_SLEEP_US);
    }
}

/* ---- topics and log offsets ---------------------------------------------- */



/* Metadata for the distinct topics of `names`. */
int groups_load_topics(groups_ctx_t *x, const char *const *names, int32_t name_count, topic_table_t *out) {
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
    if (rc != 0) return groups_ctx_fail(x, rc, "%s", x->cluster.error);
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
int32_t groups_partition_leader(const topic_table_t *table, const topic_partition_t *tp) {
    const topic_meta_t *t = topic_find(table, tp->topic);
    if (!t || t->error != 0 || tp->partition < 0 || tp->partition >= t->partition_count) return -2;
    return t->leaders[tp->partition];
}

/* ListOffsets at `timestamp` (ST_OFFSET_LATEST, ST_OFFSET_EARLIEST or a
 * time in ms) for `count` partitions, one request per leader. known[i] is
 * false where there is no leader or the broker answered with an error;
 * offsets[i] may be -1 for a timestamp past the last record. */
int groups_list_offsets(groups_ctx_t *x, const topic_partition_t *tps, int32_t count, int64_t timestamp,
                        int64_t *offsets, bool *known) {
    for (int32_t i = 0; i < count; i++) {
        offsets[i] = -1;
        known[i] = false;
    }
    if (count == 0) return 0;
    const char **names = st_arena_alloc(&x->arena, sizeof *names * (size_t)count);
    for (int32_t i = 0; i < count; i++) names[i] = tps[i].topic;
    topic_table_t table;
    int rc = groups_load_topics(x, names, count, &table);
    if (rc != 0) return rc;
    int32_t *leaders = st_arena_alloc(&x->arena, sizeof *leaders * (size_t)count);
    for (int32_t i = 0; i < count; i++) leaders[i] = groups_partition_leader(&table, &tps[i]);
    for (int32_t i = 0; i < count; i++) {
        int32_t leader = leaders[i];
        if (leader < 0) continue;
        bool done = false;
        for (int32_t j = 0; j < i && !done; j++) done = leaders[j] == leader;
        if (done) continue;
        st_client_t *c = st_cluster_client(&x->cluster, leader);
        if (!c) return groups_ctx_fail(x, ST_ERR_IO, "%s", x->cluster.error);
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
        if (rc != 0) return groups_ctx_fail(x, rc, "%s", st_client_error(c));
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


int groups_list_groups(groups_ctx_t *x, const char *const *states, int32_t state_count, listed_group_t **out,
                       int32_t *out_count) {
    *out = NULL;
    *out_count = 0;
    st_metadata_response_t md;
    int rc = st_cluster_metadata(&x->cluster, NULL, 0, &x->arena, &md);
    if (rc != 0) return groups_ctx_fail(x, rc, "%s", x->cluster.error);
    int32_t cap = 0;
    listed_group_t *groups = NULL;
    for (int32_t b = 0; b < md.brokers_count; b++) {
        st_client_t *c = st_cluster_client(&x->cluster, md.brokers[b].node_id);
        if (!c) return groups_ctx_fail(x, ST_ERR_IO, "%s", x->cluster.error);
        int16_t version = st_client_version(c, ST_API_LIST_GROUPS);
        if (state_count > 0 && version >= 0 && version < 4)
            return groups_ctx_fail(x, ST_ERR_UNSUPPORTED_VERSION,
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
        if (rc != 0) return groups_ctx_fail(x, rc, "%s", st_client_error(c));
        if (resp.error_code != 0) return groups_ctx_fail(x, resp.error_code, "%s", groups_java_error_message(resp.error_code));
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
            for (int32_t k = 0; k < m->assignment_count && !dup; k++) dup = groups_tp_cmp(&m->assignment[k], &tp) == 0;
            if (!dup) m->assignment[m->assignment_count++] = tp;
        }
    }
    qsort(m->assignment, (size_t)m->assignment_count, sizeof *m->assignment, groups_tp_cmp);
}

/* DescribeGroups for one group through its coordinator. A group the
 * coordinator does not know comes back "Dead" (GROUP_ID_NOT_FOUND from
 * newer brokers is read the same way). */
int groups_describe_group(groups_ctx_t *x, const char *group_id, group_t *g) {
    memset(g, 0, sizeof *g);
    g->group_id = group_id;
    st_describe_groups_request_t req;
    st_describe_groups_request_init(&req);
    st_str_t name = st_str(group_id);
    req.groups = &name;
    req.groups_count = 1;
    req.include_authorized_operations = false;
    st_describe_groups_response_t resp;
    int rc = groups_coordinator_call(x, group_id, ST_API_DESCRIBE_GROUPS, &req, &resp, describe_error);
    if (rc != 0) return rc;
    if (resp.groups_count < 1) return groups_ctx_fail(x, ST_ERR_DECODE, "DescribeGroups returned no group");
    const st_describe_groups_response_described_group_t *d = &resp.groups[0];
    if (d->error_code == ST_ERR_GROUP_ID_NOT_FOUND) {
        g->state = "Dead";
        g->protocol_type = "";
        g->protocol = "";
        return 0;
    }
    if (d->error_code != 0) return groups_ctx_fail(x, d->error_code, "%s", groups_java_error_message(d->error_code));
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
        m->instance_id = groups_str_dup(&x->arena, dm->group_instance_id);
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
int groups_fetch_committed(groups_ctx_t *x, const char *group_id, committed_t **out, int32_t *out_count) {
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
    int rc = groups_coordinator_call(x, group_id, ST_API_OFFSET_FETCH, &req, &resp, offset_fetch_error);
    if (rc != 0) return rc;
    int code = offset_fetch_error(&resp);
    if (code == ST_ERR_GROUP_ID_NOT_FOUND) return 0;
    if (code != 0) return groups_ctx_fail(x, code, "%s", groups_java_error_message(code));
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

const committed_t *groups_committed_find(const committed_t *c, int32_t count, const topic_partition_t *tp) {
    for (int32_t i = 0; i < count; i++)
        if (groups_tp_cmp(&c[i].tp, tp) == 0) return &c[i];
    return NULL;
}

/* The groups an action applies to: --group values (deduplicated) or, with
 * --all-groups, every consumer group. */
int groups_selected_groups(groups_ctx_t *x, const char ***out, int32_t *out_count) {
    const groups_options_t *o = x->o;
    if (o->all_groups) {
        listed_group_t *listed = NULL;
        int32_t n = 0;
        int rc = groups_list_groups(x, NULL, 0, &listed, &n);
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
bool groups_should_print_member_state(groups_ctx_t *x, const group_t *g, int32_t rows) {
    if (strcmp(g->state, "Dead") == 0) {
        groups_print_error(x, "Consumer group '%s' does not exist.", g->group_id);
        return false;
    }
    if (strcmp(g->state, "Empty") == 0)
        fprintf(stderr, "\nConsumer group '%s' has no active members.\n", g->group_id);
    else if (strcmp(g->state, "PreparingRebalance") == 0 || strcmp(g->state, "CompletingRebalance") == 0 ||
             strcmp(g->state, "Assigning") == 0 || strcmp(g->state, "Reconciling") == 0)
        fprintf(stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", g->group_id);
    return rows > 0;
}

int groups_width_max(int width, const char *s) {
    int n = (int)strlen(s);
    return n > width ? n : width;
}

