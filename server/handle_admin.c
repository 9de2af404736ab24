/*
 * Admin APIs: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
 * AlterConfigs, IncrementalAlterConfigs, DescribeCluster, DescribeLogDirs
 * and DescribeProducers.
 *
 * Each handler answers the way a single-node Kafka 4 (KRaft) cluster does:
 * the checks, their order and the error messages follow ControllerApis,
 * ReplicationControlManager, ConfigAdminManager, ConfigurationControlManager
 * and ConfigHelper. Topic changes go through the broker's metadata log
 * (st_broker_create_topic & co.); a validate_only request runs every check
 * and answers in full but changes nothing.
 *
 * Everything a response points at lives in the request arena or in the
 * broker (names of existing topics are copied into the arena first, since a
 * deletion in the same request frees them).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "server/server.h"

/* ConfigResource.Type wire ids. */
enum {
    RESOURCE_TOPIC = 2,
    RESOURCE_BROKER = 4,
    RESOURCE_BROKER_LOGGER = 8,
    RESOURCE_CLIENT_METRICS = 16,
    RESOURCE_GROUP = 32,
};

/* AlterConfigOp.OpType wire ids. */
enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

/* Kafka's ReplicationControlManager.MAX_PARTITIONS_PER_BATCH: more partitions
 * than this in one CreateTopics fails the whole request. Strata applies the
 * same cap to the partitions one CreatePartitions adds. */
#define ADMIN_PARTITIONS_PER_REQUEST_MAX 10000
/* Kafka's Topic.CLUSTER_METADATA_TOPIC_NAME, which clients may not create. */
#define CLUSTER_METADATA_TOPIC "__cluster_metadata"
#define ADMIN_MSG_MAX 512

/* ---- small helpers -------------------------------------------------------- */

static st_str_t arena_printf(st_request_t *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static st_str_t arena_printf(st_request_t *req, const char *fmt, ...) {
    char buf[ADMIN_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return st_str(st_arena_strdup(&req->arena, buf));
}

static st_str_t arena_str(st_request_t *req, const char *s) {
    return s ? st_str(st_arena_strdup(&req->arena, s)) : st_str_null();
}

/* A decoded string as a C string; NULL for null. */
static const char *cstr(st_str_t s) { return s.len < 0 ? NULL : s.ptr; }

/* Sorting with an index keeps request order for the answers while finding
 * duplicates in O(n log n): a client may send many thousands of names. */
typedef struct name_ref {
    const char *name;
    int32_t index;
} name_ref_t;

static int name_ref_cmp(const void *a, const void *b) {
    const name_ref_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* dup[i] = 1 for every entry whose name occurs more than once, 2 for every
 * such entry but the first (which carries the one answer Kafka gives per
 * duplicated name). NULL names never count. */
static uint8_t *find_duplicate_names(st_request_t *req, const char *const *names, int32_t n) {
    uint8_t *dup = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1));
    name_ref_t *refs = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *refs);
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (names[i]) refs[m++] = (name_ref_t){names[i], i};
    qsort(refs, (size_t)m, sizeof *refs, name_ref_cmp);
    for (int32_t i = 0; i < m;) {
        int32_t j = i + 1;
        while (j < m && strcmp(refs[j].name, refs[i].name) == 0) j++;
        if (j - i > 1)
            for (int32_t k = i; k < j; k++) dup[refs[k].index] = k == i ? 1 : 2;
        i = j;
    }
    return dup;
}

/* Kafka's Topic.hasCollisionChars / unifyCollisionChars: '.' and '_' map to
 * the same metric name, so two topics that differ only there may not both
 * exist. */
typedef struct collision_ctx {
    const char *name;
    const char *found;
} collision_ctx_t;

static bool same_modulo_collision_chars(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a == '.' ? '_' : *a;
        char y = *b == '.' ? '_' : *b;
        if (x != y) return false;
    }
    return *a == *b;
}

static int find_collision(void *ctx, st_topic_t *t) {
    collision_ctx_t *c = ctx;
    if (!same_modulo_collision_chars(c->name, t->name)) return 0;
    c->found = t->name;
    return 1;
}

/* Checks one manual replica list against the single registered broker, as
 * ReplicationControlManager.validateManualPartitionAssignment does. */
static int check_replica_list(st_broker_t *b, st_request_t *req, const int32_t *ids, int32_t n,
                              int32_t replication_factor, st_str_t *msg) {
    if (n <= 0) {
        *msg = st_str("The manual partition assignment includes an empty replica list.");
        return ST_ERR_INVALID_REPLICA_ASSIGNMENT;
    }
    /* Kafka walks the ids sorted: report the smallest offender first. */
    int32_t *sorted = st_arena_memdup(&req->arena, ids, (size_t)n * sizeof *ids);
    for (int32_t i = 1; i < n; i++)
        for (int32_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int32_t tmp = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = tmp;
        }
    for (int32_t i = 0; i < n; i++) {
        if (sorted[i] != b->node_id) {
            *msg = arena_printf(req, "The manual partition assignment includes broker %d, but no such broker is registered.",
                                sorted[i]);
            return ST_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (i > 0 && sorted[i] == sorted[i - 1]) {
            *msg = arena_printf(req, "The manual partition assignment includes the broker %d more than once.", sorted[i]);
            return ST_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    if (replication_factor > 0 && n != replication_factor) {
        *msg = arena_printf(req,
                            "The manual partition assignment includes a partition with %d replica(s), but this is not "
                            "consistent with previous partitions, which have %d replica(s).",
                            n, replication_factor);
        return ST_ERR_INVALID_REPLICA_ASSIGNMENT;
    }
    return 0;
}

/* ---- CreateTopics ----------------------------------------------------------- */

typedef st_create_topics_request_creatable_topic_t creatable_topic_t;
typedef st_create_topics_response_creatable_topic_result_t creatable_result_t;

static void topic_result_init(creatable_result_t *r, st_str_t name) {
    memset(r, 0, sizeof *r);
    r->name = name;
    r->error_message = st_str_null();
    r->num_partitions = -1;
    r->replication_factor = -1;
    r->configs_count = 0;
}

static void topic_result_fail(creatable_result_t *r, int error, st_str_t msg) {
    r->error_code = (int16_t)error;
    r->error_message = msg;
}

/* Checks of one topic after the name checks, in ReplicationControlManager's
 * order: configs, then manual assignment or replication factor and partition
 * count. On success *partitions holds the count to create. */
static int check_new_topic(st_broker_t *b, st_request_t *req, const creatable_topic_t *ct, const char *const *names,
                           const char *const *values, int32_t *partitions, st_str_t *msg) {
    char buf[ADMIN_MSG_MAX];
    int32_t n = ct->configs_count > 0 ? ct->configs_count : 0;
    int err = st_topic_config_validate_set(b->config, n, names, values, buf, sizeof buf);
    if (err != 0) {
        *msg = arena_str(req, buf);
        return ST_ERR_INVALID_CONFIG;
    }
    if (ct->assignments_count > 0) {
        if (ct->replication_factor != -1) {
            *msg = st_str("A manual partition assignment was specified, but replication factor was not set to -1.");
            return ST_ERR_INVALID_REQUEST;
        }
        if (ct->num_partitions != -1) {
            *msg = st_str("A manual partition assignment was specified, but numPartitions was not set to -1.");
            return ST_ERR_INVALID_REQUEST;
        }
        int32_t count = ct->assignments_count;
        uint8_t *seen = st_arena_alloc(&req->arena, (size_t)count);
        for (int32_t i = 0; i < count; i++) {
            const st_create_topics_request_creatable_replica_assignment_t *a = &ct->assignments[i];
            if (a->partition_index >= 0 && a->partition_index < count && seen[a->partition_index]) {
                *msg = arena_printf(req, "Found multiple manual partition assignments for partition %d",
                                    a->partition_index);
                return ST_ERR_INVALID_REPLICA_ASSIGNMENT;
            }
            err = check_replica_list(b, req, a->broker_ids, a->broker_ids_count, i == 0 ? 0 : 1, msg);
            if (err != 0) return err;
            if (a->partition_index >= 0 && a->partition_index < count) seen[a->partition_index] = 1;
        }
        for (int32_t i = 0; i < count; i++) {
            if (!seen[i]) {
                /* An index outside 0..count-1 leaves a hole, or repeats one
                 * Kafka would have caught above; either way not 0-based. */
                *msg = st_str("partitions should be a consecutive 0-based integer sequence");
                return ST_ERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
        *partitions = count;
        return 0;
    }
    if (ct->replication_factor < -1 || ct->replication_factor == 0) {
        *msg = st_str("Replication factor must be larger than 0, or -1 to use the default value.");
        return ST_ERR_INVALID_REPLICATION_FACTOR;
    }
    if (ct->num_partitions < -1 || ct->num_partitions == 0) {
        *msg = st_str("Number of partitions was set to an invalid non-positive value.");
        return ST_ERR_INVALID_PARTITIONS;
    }
    int32_t rf = ct->replication_factor == -1 ? st_config_get_int(b->config, "default.replication.factor")
                                              : ct->replication_factor;
    if (rf > 1) {
        /* Kafka's StripedReplicaPlacer message, prefixed as createTopic does. */
        *msg = arena_printf(req,
                            "Unable to replicate the partition %d time(s): The target replication factor of %d cannot "
                            "be reached because only 1 broker(s) are registered.",
                            rf, rf);
        return ST_ERR_INVALID_REPLICATION_FACTOR;
    }
    *partitions = ct->num_partitions == -1 ? st_config_get_int(b->config, "num.partitions") : ct->num_partitions;
    return 0;
}

/* v5+: the topic's effective configs, as computeEffectiveTopicConfigs gives
 * them (sorted by name; the topic table is alphabetical). */
static void fill_created_configs(st_broker_t *b, st_request_t *req, creatable_result_t *r, int32_t n,
                                 const char *const *names, const char *const *values) {
    int32_t count = st_topic_config_entry_count();
    r->configs = st_arena_alloc(&req->arena, (size_t)count * sizeof *r->configs);
    r->configs_count = count;
    for (int32_t i = 0; i < count; i++) {
        st_config_entry_view_t v;
        st_topic_config_entry(b->config, n, names, values, i, &v);
        st_create_topics_response_creatable_topic_configs_t *c = &r->configs[i];
        c->name = st_str(v.name);
        c->value = v.sensitive ? st_str_null() : arena_str(req, v.value);
        c->read_only = v.read_only;
        c->config_source = v.source;
        c->is_sensitive = v.sensitive;
    }
}

static int64_t requested_partitions(st_broker_t *b, const creatable_topic_t *ct) {
    if (ct->assignments_count > 0) return ct->assignments_count;
    if (ct->num_partitions == -1) return st_config_get_int(b->config, "num.partitions");
    return ct->num_partitions > 0 ? ct->num_partitions : 0;
}

int st_handle_create_topics(st_broker_t *b, st_request_t *req) {
    st_create_topics_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_create_topics_response_t *resp = st_request_alloc_response(req);
    int32_t n = rq.topics_count > 0 ? rq.topics_count : 0;
    resp->topics = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *resp->topics);
    resp->topics_count = 0;

    int64_t total = 0;
    for (int32_t i = 0; i < n; i++) total += requested_partitions(b, &rq.topics[i]);
    if (total > ADMIN_PARTITIONS_PER_REQUEST_MAX) {
        /* Kafka throws before looking at any topic: every one gets the error. */
        for (int32_t i = 0; i < n; i++) {
            creatable_result_t *r = &resp->topics[resp->topics_count++];
            topic_result_init(r, rq.topics[i].name);
            topic_result_fail(r, ST_ERR_POLICY_VIOLATION, st_str("Excessively large number of partitions per request."));
        }
        st_request_respond(req, resp);
        return 0;
    }

    const char **topic_names = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *topic_names);
    for (int32_t i = 0; i < n; i++) topic_names[i] = cstr(rq.topics[i].name);
    uint8_t *dup = find_duplicate_names(req, topic_names, n);

    for (int32_t i = 0; i < n; i++) {
        const creatable_topic_t *ct = &rq.topics[i];
        if (dup[i] == 2) continue; /* one answer per duplicated name */
        creatable_result_t *r = &resp->topics[resp->topics_count++];
        topic_result_init(r, ct->name);
        const char *name = topic_names[i] ? topic_names[i] : "";
        if (dup[i]) {
            topic_result_fail(r, ST_ERR_INVALID_REQUEST, st_str("Duplicate topic name."));
            continue;
        }
        if (strcmp(name, CLUSTER_METADATA_TOPIC) == 0) {
            /* ControllerApis drops it from the creatable set, so it is
             * answered as not authorized. */
            topic_result_fail(r, ST_ERR_TOPIC_AUTHORIZATION_FAILED, st_str("Authorization failed."));
            continue;
        }
        char buf[ADMIN_MSG_MAX];
        if (st_topic_name_validate(name, buf, sizeof buf) != 0) {
            topic_result_fail(r, ST_ERR_INVALID_TOPIC_EXCEPTION, arena_str(req, buf));
            continue;
        }
        if (st_broker_topic(b, name)) {
            topic_result_fail(r, ST_ERR_TOPIC_ALREADY_EXISTS, arena_printf(req, "Topic '%s' already exists.", name));
            continue;
        }
        if (strchr(name, '.') || strchr(name, '_')) {
            collision_ctx_t cc = {name, NULL};
            st_broker_each_topic(b, find_collision, &cc);
            if (cc.found) {
                topic_result_fail(r, ST_ERR_INVALID_TOPIC_EXCEPTION,
                                  arena_printf(req, "Topic '%s' collides with existing topic: %s", name, cc.found));
                continue;
            }
        }
        int32_t nc = ct->configs_count > 0 ? ct->configs_count : 0;
        const char **cnames = st_arena_alloc(&req->arena, (size_t)(nc > 0 ? nc : 1) * sizeof *cnames);
        const char **cvalues = st_arena_alloc(&req->arena, (size_t)(nc > 0 ? nc : 1) * sizeof *cvalues);
        for (int32_t k = 0; k < nc; k++) {
            cnames[k] = cstr(ct->configs[k].name);
            cvalues[k] = cstr(ct->configs[k].value);
        }
        int32_t partitions = 0;
        st_str_t msg = st_str_null();
        int err = check_new_topic(b, req, ct, cnames, cvalues, &partitions, &msg);
        if (err != 0) {
            topic_result_fail(r, err, msg);
            continue;
        }
        st_uuid_t id = {{0}};
        if (!rq.validate_only) {
            err = st_broker_create_topic(b, name, partitions, nc, cnames, cvalues, &id);
            if (err != 0) {
                topic_result_fail(r, err > 0 ? err : ST_ERR_KAFKA_STORAGE_ERROR, st_str_null());
                continue;
            }
        }
        /* validate_only answers with a zero id: no topic exists under it. */
        r->topic_id = id;
        r->topic_config_error_code = 0;
        r->num_partitions = partitions;
        r->replication_factor = 1;
        fill_created_configs(b, req, r, nc, cnames, cvalues);
    }
    st_request_respond(req, resp);
    return 0;
}

/* ---- DeleteTopics ------------------------------------------------------------ */

typedef st_delete_topics_response_deletable_topic_result_t deletable_result_t;

typedef struct delete_item {
    const char *name;  /* as given, NULL when given by id */
    st_uuid_t id;      /* as given, zero when given by name */
    st_topic_t *topic; /* resolved, NULL once answered with an error */
    deletable_result_t *result;
    bool id_conflict; /* given by id, and also by a name that maps to it */
} delete_item_t;

static int uuid_ref_cmp(const void *a, const void *b) {
    const delete_item_t *const *x = a, *const *y = b;
    int c = memcmp((*x)->id.bytes, (*y)->id.bytes, 16);
    return c != 0 ? c : ((*x) > (*y)) - ((*x) < (*y));
}

/* By topic only (bsearch keys carry nothing else). */
static int topic_ref_cmp(const void *a, const void *b) {
    const st_topic_t *x = (*(delete_item_t *const *)a)->topic, *y = (*(delete_item_t *const *)b)->topic;
    return (x > y) - (x < y);
}

static void delete_fail(delete_item_t *it, int error, st_str_t msg) {
    it->topic = NULL;
    it->result->error_code = (int16_t)error;
    it->result->error_message = msg;
}

int st_handle_delete_topics(st_broker_t *b, st_request_t *req) {
    st_delete_topics_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_delete_topics_response_t *resp = st_request_alloc_response(req);
    int16_t v = req->api_version;
    int32_t n = v >= 6 ? (rq.topics_count > 0 ? rq.topics_count : 0) : (rq.topic_names_count > 0 ? rq.topic_names_count : 0);
    delete_item_t *items = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *items);
    for (int32_t i = 0; i < n; i++) {
        if (v >= 6) {
            items[i].name = cstr(rq.topics[i].name);
            items[i].id = rq.topics[i].topic_id;
        } else {
            items[i].name = cstr(rq.topic_names[i]);
        }
    }
    resp->responses = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *resp->responses);
    resp->responses_count = 0;

    if (!st_config_get_bool(b->config, "delete.topic.enable")) {
        /* ControllerApis fails the whole request: INVALID_REQUEST before v3,
         * TOPIC_DELETION_DISABLED from v3. */
        for (int32_t i = 0; i < n; i++) {
            deletable_result_t *r = &resp->responses[resp->responses_count++];
            r->name = st_str(items[i].name);
            r->topic_id = items[i].id;
            r->error_code = v < 3 ? ST_ERR_INVALID_REQUEST : ST_ERR_TOPIC_DELETION_DISABLED;
            r->error_message = v < 3 ? st_str("Topic deletion is disabled.") : st_str_null();
        }
        st_request_respond(req, resp);
        return 0;
    }

    /* Duplicates: one INVALID_REQUEST answer per duplicated name or id. */
    const char **names = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *names);
    for (int32_t i = 0; i < n; i++)
        names[i] = items[i].name && st_uuid_is_zero(&items[i].id) ? items[i].name : NULL;
    uint8_t *dup_name = find_duplicate_names(req, names, n);
    uint8_t *dup_id = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1));
    delete_item_t **by_id = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *by_id);
    int32_t id_count = 0;
    for (int32_t i = 0; i < n; i++)
        if (!items[i].name && !st_uuid_is_zero(&items[i].id)) by_id[id_count++] = &items[i];
    qsort(by_id, (size_t)id_count, sizeof *by_id, uuid_ref_cmp);
    for (int32_t i = 0; i < id_count;) {
        int32_t j = i + 1;
        while (j < id_count && memcmp(by_id[j]->id.bytes, by_id[i]->id.bytes, 16) == 0) j++;
        if (j - i > 1)
            for (int32_t k = i; k < j; k++) dup_id[by_id[k] - items] = k == i ? 1 : 2;
        i = j;
    }

    for (int32_t i = 0; i < n; i++) {
        delete_item_t *it = &items[i];
        if (dup_name[i] == 2 || dup_id[i] == 2) continue;
        deletable_result_t *r = &resp->responses[resp->responses_count++];
        it->result = r;
        r->name = st_str(it->name);
        r->topic_id = it->id;
        r->error_message = st_str_null();
        if (!it->name && st_uuid_is_zero(&it->id)) {
            delete_fail(it, ST_ERR_INVALID_REQUEST, st_str("Neither topic name nor id were specified."));
        } else if (it->name && !st_uuid_is_zero(&it->id)) {
            delete_fail(it, ST_ERR_INVALID_REQUEST, st_str("You may not specify both topic name and topic id."));
        } else if (dup_name[i]) {
            r->topic_id = (st_uuid_t){{0}};
            delete_fail(it, ST_ERR_INVALID_REQUEST, st_str("Duplicate topic name."));
        } else if (dup_id[i]) {
            r->name = st_str_null();
            delete_fail(it, ST_ERR_INVALID_REQUEST, st_str("Duplicate topic id."));
        } else if (it->name) {
            it->topic = st_broker_topic(b, it->name);
            if (!it->topic) delete_fail(it, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION, st_str_null());
        } else {
            it->topic = st_broker_topic_by_id(b, &it->id);
            if (!it->topic) {
                r->name = st_str_null();
                delete_fail(it, ST_ERR_UNKNOWN_TOPIC_ID, st_str_null());
            }
        }
        if (it->topic) {
            /* The answer carries both name and id; copy the name, the topic
             * is freed when it is deleted. */
            r->name = arena_str(req, it->topic->name);
            r->topic_id = it->topic->id;
        }
    }
    /* A name that resolves to an id also given directly: Kafka answers the
     * name with INVALID_REQUEST and deletes neither. */
    delete_item_t **resolved = st_arena_alloc(&req->arena, (size_t)(id_count > 0 ? id_count : 1) * sizeof *resolved);
    int32_t resolved_count = 0;
    for (int32_t j = 0; j < id_count; j++)
        if (by_id[j]->topic) resolved[resolved_count++] = by_id[j];
    qsort(resolved, (size_t)resolved_count, sizeof *resolved, topic_ref_cmp);
    for (int32_t i = 0; i < n && resolved_count > 0; i++) {
        delete_item_t *it = &items[i];
        if (!it->topic || !it->name) continue;
        delete_item_t key = {.topic = it->topic}, *keyp = &key;
        delete_item_t **other = bsearch(&keyp, resolved, (size_t)resolved_count, sizeof *resolved, topic_ref_cmp);
        if (!other) continue;
        delete_fail(it, ST_ERR_INVALID_REQUEST, st_str("The provided topic name maps to an ID that was already supplied."));
        (*other)->id_conflict = true; /* failed below: `resolved` must stay sorted */
    }
    for (int32_t j = 0; j < resolved_count; j++)
        if (resolved[j]->id_conflict) delete_fail(resolved[j], ST_ERR_INVALID_REQUEST, st_str("Duplicate topic id."));
    for (int32_t i = 0; i < n; i++) {
        delete_item_t *it = &items[i];
        if (!it->topic) continue;
        int err = st_broker_delete_topic(b, it->topic);
        it->topic = NULL;
        if (err != 0) {
            it->result->error_code = (int16_t)(err > 0 ? err : ST_ERR_KAFKA_STORAGE_ERROR);
            it->result->error_message = st_str_null();
        }
    }
    st_request_respond(req, resp);
    return 0;
}

/* ---- CreatePartitions ------------------------------------------------------- */

typedef st_create_partitions_request_create_partitions_topic_t partitions_topic_t;

static int check_create_partitions(st_broker_t *b, st_request_t *req, const partitions_topic_t *pt, st_topic_t *t,
                                   int64_t *added_total, st_str_t *msg) {
    int32_t current = t->partition_count;
    if (pt->count == current) {
        *msg = arena_printf(req, "Topic already has %d partition(s).", current);
        return ST_ERR_INVALID_PARTITIONS;
    }
    if (pt->count < current) {
        *msg = arena_printf(req, "The topic %s currently has %d partition(s); %d would not be an increase.", t->name,
                            current, pt->count);
        return ST_ERR_INVALID_PARTITIONS;
    }
    int32_t additional = pt->count - current;
    if (pt->assignments_count >= 0) {
        if (pt->assignments_count != additional) {
            *msg = arena_printf(req,
                                "Attempted to add %d additional partition(s), but only %d assignment(s) were specified.",
                                additional, pt->assignments_count);
            return ST_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        for (int32_t i = 0; i < pt->assignments_count; i++) {
            const st_create_partitions_request_create_partitions_assignment_t *a = &pt->assignments[i];
            int err = check_replica_list(b, req, a->broker_ids, a->broker_ids_count, 1, msg);
            if (err != 0) return err;
        }
    }
    if (*added_total + additional > ADMIN_PARTITIONS_PER_REQUEST_MAX) {
        *msg = st_str("Excessively large number of partitions per request.");
        return ST_ERR_POLICY_VIOLATION;
    }
    *added_total += additional;
    return 0;
}

int st_handle_create_partitions(st_broker_t *b, st_request_t *req) {
    st_create_partitions_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_create_partitions_response_t *resp = st_request_alloc_response(req);
    int32_t n = rq.topics_count > 0 ? rq.topics_count : 0;
    resp->results = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *resp->results);
    resp->results_count = 0;
    const char **names = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *names);
    for (int32_t i = 0; i < n; i++) names[i] = cstr(rq.topics[i].name);
    uint8_t *dup = find_duplicate_names(req, names, n);
    int64_t added_total = 0;
    for (int32_t i = 0; i < n; i++) {
        if (dup[i] == 2) continue;
        const partitions_topic_t *pt = &rq.topics[i];
        st_create_partitions_response_create_partitions_topic_result_t *r = &resp->results[resp->results_count++];
        r->name = pt->name;
        r->error_message = st_str_null();
        if (dup[i]) {
            r->error_code = ST_ERR_INVALID_REQUEST;
            r->error_message = st_str("Duplicate topic name.");
            continue;
        }
        st_topic_t *t = names[i] ? st_broker_topic(b, names[i]) : NULL;
        if (!t) {
            r->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        st_str_t msg = st_str_null();
        int err = check_create_partitions(b, req, pt, t, &added_total, &msg);
        if (err == 0 && !rq.validate_only) {
            err = st_broker_add_partitions(b, t, pt->count);
            if (err != 0) err = err > 0 ? err : ST_ERR_KAFKA_STORAGE_ERROR;
        }
        r->error_code = (int16_t)err;
        r->error_message = msg;
    }
    st_request_respond(req, resp);
    return 0;
}

/* ---- DescribeConfigs --------------------------------------------------------- */

typedef st_describe_configs_response_describe_configs_result_t describe_result_t;
typedef st_describe_configs_response_describe_configs_resource_result_t describe_entry_t;

static bool resource_type_known(int8_t type) {
    return type == RESOURCE_TOPIC || type == RESOURCE_BROKER || type == RESOURCE_BROKER_LOGGER ||
           type == RESOURCE_CLIENT_METRICS || type == RESOURCE_GROUP;
}

static const char *resource_type_name(int8_t type) {
    switch (type) {
    case RESOURCE_TOPIC: return "TOPIC";
    case RESOURCE_BROKER: return "BROKER";
    case RESOURCE_BROKER_LOGGER: return "BROKER_LOGGER";
    case RESOURCE_CLIENT_METRICS: return "CLIENT_METRICS";
    case RESOURCE_GROUP: return "GROUP";
    default: return "UNKNOWN";
    }
}

/* A broker resource name must be this node's id (Kafka's
 * resourceNameToBrokerId / validateResourceNameIsCurrentNodeId). */
static int check_node_id(st_broker_t *b, st_request_t *req, const char *name, const char *what, const char *expected_tail,
                         st_str_t *msg) {
    char *end = NULL;
    long long id = strtoll(name, &end, 10);
    if (!*name || *end || id < INT32_MIN || id > INT32_MAX) {
        *msg = arena_printf(req, "%s must be an integer, but it is: %s", what, name);
        return ST_ERR_INVALID_REQUEST;
    }
    if (id != b->node_id) {
        *msg = arena_printf(req, "Unexpected broker id, expected %d%s, but received %s", b->node_id, expected_tail, name);
        return ST_ERR_INVALID_REQUEST;
    }
    return 0;
}

static bool key_requested(const st_describe_configs_request_describe_configs_resource_t *res, const char *name) {
    /* Null or empty: every key (ConfigHelper.createResponseConfig). */
    if (res->configuration_keys_count <= 0) return true;
    for (int32_t k = 0; k < res->configuration_keys_count; k++)
        if (st_str_eq(res->configuration_keys[k], name)) return true;
    return false;
}

static void fill_describe_entry(st_request_t *req, const st_describe_configs_request_t *rq,
                                const st_config_entry_view_t *v, describe_entry_t *e) {
    e->name = st_str(v->name);
    e->value = v->sensitive ? st_str_null() : arena_str(req, v->value);
    e->read_only = v->read_only;
    e->is_default = v->is_default;
    e->config_source = v->source;
    e->is_sensitive = v->sensitive;
    e->config_type = v->type;
    e->documentation = rq->include_documentation && v->doc ? st_str(v->doc) : st_str_null();
    e->synonyms_count = 0;
    if (rq->include_synonyms && v->synonym_count > 0) {
        e->synonyms = st_arena_alloc(&req->arena, (size_t)v->synonym_count * sizeof *e->synonyms);
        e->synonyms_count = v->synonym_count;
        for (int32_t s = 0; s < v->synonym_count; s++) {
            e->synonyms[s].name = st_str(v->synonyms[s].name);
            e->synonyms[s].value = v->sensitive ? st_str_null() : arena_str(req, v->synonyms[s].value);
            e->synonyms[s].source = v->synonyms[s].source;
        }
    }
}

static void describe_topic(st_broker_t *b, st_request_t *req, const st_describe_configs_request_t *rq,
                           const st_describe_configs_request_describe_configs_resource_t *res, describe_result_t *r) {
    const char *name = cstr(res->resource_name) ? cstr(res->resource_name) : "";
    char buf[ADMIN_MSG_MAX];
    if (st_topic_name_validate(name, buf, sizeof buf) != 0) {
        r->error_code = ST_ERR_INVALID_TOPIC_EXCEPTION;
        r->error_message = arena_str(req, buf);
        return;
    }
    st_topic_t *t = st_broker_topic(b, name);
    if (!t) {
        r->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    int32_t count = st_topic_config_entry_count();
    r->configs = st_arena_alloc(&req->arena, (size_t)count * sizeof *r->configs);
    for (int32_t i = 0; i < count; i++) {
        st_config_entry_view_t v;
        st_topic_config_entry(b->config, t->config_count, (const char *const *)t->config_names,
                              (const char *const *)t->config_values, i, &v);
        if (!key_requested(res, v.name)) continue;
        fill_describe_entry(req, rq, &v, &r->configs[r->configs_count++]);
    }
}

static void describe_broker(st_broker_t *b, st_request_t *req, const st_describe_configs_request_t *rq,
                            const st_describe_configs_request_describe_configs_resource_t *res, describe_result_t *r) {
    const char *name = cstr(res->resource_name) ? cstr(res->resource_name) : "";
    if (!*name) {
        /* The cluster-wide dynamic defaults: Strata has none. */
        return;
    }
    st_str_t msg = st_str_null();
    int err = check_node_id(b, req, name, "Broker id", " or empty string", &msg);
    if (err != 0) {
        r->error_code = (int16_t)err;
        r->error_message = msg;
        return;
    }
    int32_t count = st_config_broker_entry_count(b->config);
    r->configs = st_arena_alloc(&req->arena, (size_t)(count > 0 ? count : 1) * sizeof *r->configs);
    for (int32_t i = 0; i < count; i++) {
        st_config_entry_view_t v;
        st_config_broker_entry(b->config, i, &v);
        if (!key_requested(res, v.name)) continue;
        fill_describe_entry(req, rq, &v, &r->configs[r->configs_count++]);
    }
}

int st_handle_describe_configs(st_broker_t *b, st_request_t *req) {
    st_describe_configs_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_describe_configs_response_t *resp = st_request_alloc_response(req);
    int32_t n = ST_RESPONSE_ARRAY(req, resp->results, rq.resources_count);
    /* An unknown resource type fails the whole request in Kafka (thrown
     * while sorting resources for authorization). */
    st_str_t whole_error = st_str_null();
    for (int32_t i = 0; i < n && whole_error.len < 0; i++)
        if (!resource_type_known(rq.resources[i].resource_type))
            whole_error = arena_printf(req, "Unexpected resource type UNKNOWN for resource %s",
                                       cstr(rq.resources[i].resource_name) ? cstr(rq.resources[i].resource_name) : "null");
    for (int32_t i = 0; i < n; i++) {
        const st_describe_configs_request_describe_configs_resource_t *res = &rq.resources[i];
        describe_result_t *r = &resp->results[i];
        r->resource_type = res->resource_type;
        r->resource_name = res->resource_name;
        r->error_message = st_str_null();
        r->configs_count = 0;
        if (whole_error.len >= 0) {
            r->error_code = ST_ERR_INVALID_REQUEST;
            r->error_message = whole_error;
            continue;
        }
        const char *name = cstr(res->resource_name) ? cstr(res->resource_name) : "";
        switch (res->resource_type) {
        case RESOURCE_TOPIC: describe_topic(b, req, &rq, res, r); break;
        case RESOURCE_BROKER: describe_broker(b, req, &rq, res, r); break;
        case RESOURCE_BROKER_LOGGER:
            if (!*name) {
                r->error_code = ST_ERR_INVALID_REQUEST;
                r->error_message = st_str("Broker id must not be empty");
            } else {
                st_str_t msg = st_str_null();
                int err = check_node_id(b, req, name, "Broker id", "", &msg);
                /* Strata has no runtime loggers to list. */
                r->error_code = (int16_t)err;
                r->error_message = msg;
            }
            break;
        default:
            /* CLIENT_METRICS and GROUP configs do not exist in Strata yet. */
            r->error_code = ST_ERR_INVALID_REQUEST;
            r->error_message = arena_printf(req, "Unsupported resource type: %s", resource_type_name(res->resource_type));
            break;
        }
    }
    st_request_respond(req, resp);
    return 0;
}

/* ---- AlterConfigs and IncrementalAlterConfigs --------------------------------- */

/* One resource of either request, reduced to what both need. */
typedef struct alter_resource {
    int8_t type;
    const char *name; /* "" for null */
    int32_t count;
    const char **keys;
    const char **values; /* NULL: null on the wire */
    int8_t *ops;         /* incremental only */
} alter_resource_t;

typedef struct alter_result {
    int16_t error;
    st_str_t message;
} alter_result_t;

static int resource_ref_cmp(const void *a, const void *b) {
    const alter_resource_t *const *x = a, *const *y = b;
    if ((*x)->type != (*y)->type) return (*x)->type - (*y)->type;
    int c = strcmp((*x)->name, (*y)->name);
    return c != 0 ? c : ((*x) > (*y)) - ((*x) < (*y));
}

/* ConfigAdminManager.preprocess, steps shared by both APIs: duplicate
 * resources, duplicate keys, null values, resource types. Returns false when
 * the resource got its answer. */
static bool alter_preprocess(st_broker_t *b, st_request_t *req, alter_resource_t *res, bool incremental,
                             alter_result_t *out) {
    uint8_t *dup = find_duplicate_names(req, res->keys, res->count);
    for (int32_t k = 0; k < res->count; k++) {
        if (dup[k]) {
            out->error = ST_ERR_INVALID_REQUEST;
            out->message = st_str("Error due to duplicate config keys");
            return false;
        }
    }
    /* "Null value not supported for : a, b" (sic, Kafka's text). */
    size_t used = 0;
    char nulls[ADMIN_MSG_MAX] = "";
    for (int32_t k = 0; k < res->count; k++) {
        bool delete_op = incremental && res->ops[k] == OP_DELETE;
        if (res->values[k] || delete_op) continue;
        int w = snprintf(nulls + used, sizeof nulls - used, "%s%s", used ? ", " : "", res->keys[k] ? res->keys[k] : "null");
        if (w > 0) used += (size_t)w < sizeof nulls - used ? (size_t)w : sizeof nulls - used - 1;
    }
    if (used > 0) {
        out->error = ST_ERR_INVALID_REQUEST;
        out->message = arena_printf(req, "Null value not supported for : %s", nulls);
        return false;
    }
    if (incremental) {
        for (int32_t k = 0; k < res->count; k++) {
            if (res->ops[k] < OP_SET || res->ops[k] > OP_SUBTRACT) {
                out->error = ST_ERR_INVALID_REQUEST;
                out->message = arena_printf(req, "Unknown operations type %d", res->ops[k]);
                return false;
            }
        }
    }
    switch (res->type) {
    case RESOURCE_TOPIC: return true;
    case RESOURCE_BROKER: {
        if (*res->name) {
            int err = check_node_id(b, req, res->name, "Node id", "", &out->message);
            if (err != 0) {
                out->error = (int16_t)err;
                return false;
            }
        }
        /* DynamicBrokerConfig.validate: read-only keys cannot change at run
         * time. Strata has no dynamic broker configs at all yet, so every
         * other broker change is refused too, saying so. */
        char list[ADMIN_MSG_MAX] = "";
        size_t len = 0;
        for (int32_t k = 0; k < res->count; k++) {
            int32_t idx = res->keys[k] ? st_config_broker_index(res->keys[k]) : -1;
            if (idx < 0) continue;
            st_config_entry_view_t v;
            st_config_broker_entry(b->config, idx, &v);
            if (!v.read_only) continue;
            int w = snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", res->keys[k]);
            if (w > 0) len += (size_t)w < sizeof list - len ? (size_t)w : sizeof list - len - 1;
        }
        out->error = ST_ERR_INVALID_REQUEST;
        if (len > 0)
            out->message = arena_printf(req, "Cannot update these configs dynamically: Set(%s)", list);
        else
            out->message = st_str("Dynamic broker configs are not supported by this broker");
        return false;
    }
    case RESOURCE_BROKER_LOGGER:
        out->error = ST_ERR_INVALID_REQUEST;
        out->message = incremental ? st_str("Changing log levels at run time is not supported by this broker")
                                   : arena_printf(req, "Unknown resource type %d", res->type);
        return false;
    case RESOURCE_CLIENT_METRICS:
    case RESOURCE_GROUP:
        out->error = ST_ERR_INVALID_REQUEST;
        out->message = arena_printf(req, "Unsupported resource type: %s", resource_type_name(res->type));
        return false;
    default:
        out->error = ST_ERR_INVALID_REQUEST;
        out->message = arena_printf(req, "Unknown resource type %d", res->type);
        return false;
    }
}

/* The override set a topic resource ends with: `names`/`values` (arena)
 * receive it, `changed` the keys to write (value NULL = delete). */
typedef struct override_set {
    int32_t count;
    const char **names;
    const char **values;
} override_set_t;

static void override_put(override_set_t *s, const char *name, const char *value) {
    for (int32_t i = 0; i < s->count; i++) {
        if (strcmp(s->names[i], name) != 0) continue;
        if (value) {
            s->values[i] = value;
        } else {
            s->count--;
            s->names[i] = s->names[s->count];
            s->values[i] = s->values[s->count];
        }
        return;
    }
    if (!value) return;
    s->names[s->count] = name;
    s->values[s->count] = value;
    s->count++;
}

static const char *override_get(const override_set_t *s, const char *name) {
    for (int32_t i = 0; i < s->count; i++)
        if (strcmp(s->names[i], name) == 0) return s->values[i];
    return NULL;
}

/* APPEND/SUBTRACT on a LIST key (ConfigurationControlManager): the current
 * override, else the key's default, split on ',', edited, joined. */
static int list_edit(st_broker_t *b, st_request_t *req, const override_set_t *current, const char *key, int8_t op,
                     const char *operand, const char **result, st_str_t *msg) {
    int32_t idx = st_topic_config_index(key);
    st_config_entry_view_t v;
    if (idx >= 0) st_topic_config_entry(b->config, 0, NULL, NULL, idx, &v);
    if (idx < 0 || v.type != ST_CONFIG_TYPE_LIST) {
        *msg = arena_printf(req, "Can't %s to key %s because its type is not LIST.", op == OP_APPEND ? "APPEND" : "SUBTRACT",
                            key);
        return ST_ERR_INVALID_CONFIG;
    }
    const char *base = override_get(current, key);
    if (!base) {
        /* Kafka starts from the schema default, not the broker's value. */
        base = v.value;
        for (int32_t s = 0; s < v.synonym_count; s++)
            if (v.synonyms[s].source == ST_CONFIG_SOURCE_DEFAULT) base = v.synonyms[s].value;
    }
    size_t cap = (base ? strlen(base) : 0) + strlen(operand) + 2;
    char *out = st_arena_alloc(&req->arena, cap);
    char *work = st_arena_strdup(&req->arena, base ? base : "");
    size_t used = 0;
    /* Keep the base's parts, minus subtracted ones (Java List.remove drops
     * the first occurrence of each operand part). */
    char *ops_copy = st_arena_strdup(&req->arena, operand);
    int32_t nparts = 1;
    for (const char *p = operand; *p; p++) nparts += *p == ',';
    char **parts = st_arena_alloc(&req->arena, (size_t)nparts * sizeof *parts);
    uint8_t *consumed = st_arena_alloc(&req->arena, (size_t)nparts);
    int32_t np = 0;
    for (char *save = NULL, *tok = strtok_r(ops_copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        parts[np++] = tok;
    char **kept = st_arena_alloc(&req->arena, (cap + 1) * sizeof *kept);
    int32_t nk = 0;
    for (char *save = NULL, *tok = strtok_r(work, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        bool drop = false;
        if (op == OP_SUBTRACT)
            for (int32_t k = 0; k < np && !drop; k++)
                if (!consumed[k] && strcmp(parts[k], tok) == 0) consumed[k] = 1, drop = true;
        if (!drop) kept[nk++] = tok;
    }
    if (op == OP_APPEND) {
        for (int32_t k = 0; k < np; k++) {
            bool present = false;
            for (int32_t j = 0; j < nk && !present; j++) present = strcmp(kept[j], parts[k]) == 0;
            if (!present) kept[nk++] = parts[k];
        }
    }
    for (int32_t j = 0; j < nk; j++) {
        size_t l = strlen(kept[j]);
        if (used + l + 2 > cap) break; /* cannot happen: parts come from base and operand */
        if (j > 0) out[used++] = ',';
        memcpy(out + used, kept[j], l);
        used += l;
    }
    out[used] = '\0';
    *result = out;
    return 0;
}

static void alter_topic(st_broker_t *b, st_request_t *req, const alter_resource_t *res, bool incremental,
                        bool validate_only, alter_result_t *out) {
    const char *name = res->name;
    char buf[ADMIN_MSG_MAX];
    if (!*name) {
        out->error = ST_ERR_INVALID_REQUEST;
        out->message = st_str("Default topic resources are not allowed.");
        return;
    }
    if (st_topic_name_validate(name, buf, sizeof buf) != 0) {
        out->error = ST_ERR_INVALID_TOPIC_EXCEPTION;
        out->message = arena_str(req, buf);
        return;
    }
    st_topic_t *t = st_broker_topic(b, name);
    int32_t existing = t ? t->config_count : 0;
    int32_t cap = existing + res->count + 1;
    override_set_t set = {0, st_arena_alloc(&req->arena, (size_t)cap * sizeof(char *)),
                          st_arena_alloc(&req->arena, (size_t)cap * sizeof(char *))};
    if (incremental)
        for (int32_t i = 0; i < existing; i++) override_put(&set, t->config_names[i], t->config_values[i]);
    const char **changed_values = st_arena_alloc(&req->arena, (size_t)(res->count > 0 ? res->count : 1) * sizeof(char *));
    for (int32_t k = 0; k < res->count; k++) {
        const char *key = res->keys[k] ? res->keys[k] : "";
        const char *value = res->values[k];
        if (incremental) {
            switch (res->ops[k]) {
            case OP_SET: break;
            case OP_DELETE: value = NULL; break;
            default: {
                int err = list_edit(b, req, &set, key, res->ops[k], value ? value : "", &value, &out->message);
                if (err != 0) {
                    out->error = (int16_t)err;
                    return;
                }
                break;
            }
            }
        }
        changed_values[k] = value;
        override_put(&set, key, value);
    }
    /* Validation of the resulting set comes before the existence check, as
     * in ConfigurationControlManager.validateAlterConfig. */
    int err = st_topic_config_validate_set(b->config, set.count, set.names, set.values, buf, sizeof buf);
    if (err != 0) {
        out->error = ST_ERR_INVALID_CONFIG;
        out->message = arena_str(req, buf);
        return;
    }
    if (!t) {
        out->error = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        out->message = arena_printf(req, "The topic '%s' does not exist.", name);
        return;
    }
    if (validate_only) return;
    err = st_broker_alter_topic_config(b, t, res->count, res->keys, changed_values, incremental);
    if (err != 0) out->error = (int16_t)(err > 0 ? err : ST_ERR_KAFKA_STORAGE_ERROR);
}

/* Both APIs: results in request order, resource identity echoed. */
static alter_result_t *alter_all(st_broker_t *b, st_request_t *req, alter_resource_t *res, int32_t n, bool incremental,
                                 bool validate_only) {
    alter_result_t *results = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *results);
    alter_resource_t **refs = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *refs);
    for (int32_t i = 0; i < n; i++) {
        refs[i] = &res[i];
        results[i].message = st_str_null();
    }
    qsort(refs, (size_t)n, sizeof *refs, resource_ref_cmp);
    uint8_t *dup = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1));
    for (int32_t i = 1; i < n; i++) {
        if (refs[i]->type == refs[i - 1]->type && strcmp(refs[i]->name, refs[i - 1]->name) == 0)
            dup[refs[i] - res] = dup[refs[i - 1] - res] = 1;
    }
    for (int32_t i = 0; i < n; i++) {
        if (dup[i]) {
            results[i].error = ST_ERR_INVALID_REQUEST;
            results[i].message = st_str("Each resource must appear at most once.");
            continue;
        }
        if (!alter_preprocess(b, req, &res[i], incremental, &results[i])) continue;
        alter_topic(b, req, &res[i], incremental, validate_only, &results[i]);
    }
    return results;
}

int st_handle_alter_configs(st_broker_t *b, st_request_t *req) {
    st_alter_configs_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_alter_configs_response_t *resp = st_request_alloc_response(req);
    int32_t n = rq.resources_count > 0 ? rq.resources_count : 0;
    alter_resource_t *res = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *res);
    for (int32_t i = 0; i < n; i++) {
        const st_alter_configs_request_alter_configs_resource_t *r = &rq.resources[i];
        int32_t c = r->configs_count > 0 ? r->configs_count : 0;
        res[i].type = r->resource_type;
        res[i].name = cstr(r->resource_name) ? cstr(r->resource_name) : "";
        res[i].count = c;
        res[i].keys = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1) * sizeof(char *));
        res[i].values = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1) * sizeof(char *));
        for (int32_t k = 0; k < c; k++) {
            res[i].keys[k] = cstr(r->configs[k].name);
            res[i].values[k] = cstr(r->configs[k].value);
        }
    }
    alter_result_t *results = alter_all(b, req, res, n, false, rq.validate_only);
    (void)ST_RESPONSE_ARRAY(req, resp->responses, n);
    for (int32_t i = 0; i < n; i++) {
        resp->responses[i].error_code = results[i].error;
        resp->responses[i].error_message = results[i].message;
        resp->responses[i].resource_type = rq.resources[i].resource_type;
        resp->responses[i].resource_name = rq.resources[i].resource_name;
    }
    st_request_respond(req, resp);
    return 0;
}

int st_handle_incremental_alter_configs(st_broker_t *b, st_request_t *req) {
    st_incremental_alter_configs_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_incremental_alter_configs_response_t *resp = st_request_alloc_response(req);
    int32_t n = rq.resources_count > 0 ? rq.resources_count : 0;
    alter_resource_t *res = st_arena_alloc(&req->arena, (size_t)(n > 0 ? n : 1) * sizeof *res);
    for (int32_t i = 0; i < n; i++) {
        const st_incremental_alter_configs_request_alter_configs_resource_t *r = &rq.resources[i];
        int32_t c = r->configs_count > 0 ? r->configs_count : 0;
        res[i].type = r->resource_type;
        res[i].name = cstr(r->resource_name) ? cstr(r->resource_name) : "";
        res[i].count = c;
        res[i].keys = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1) * sizeof(char *));
        res[i].values = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1) * sizeof(char *));
        res[i].ops = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1));
        for (int32_t k = 0; k < c; k++) {
            res[i].keys[k] = cstr(r->configs[k].name);
            res[i].values[k] = cstr(r->configs[k].value);
            res[i].ops[k] = r->configs[k].config_operation;
        }
    }
    alter_result_t *results = alter_all(b, req, res, n, true, rq.validate_only);
    (void)ST_RESPONSE_ARRAY(req, resp->responses, n);
    for (int32_t i = 0; i < n; i++) {
        resp->responses[i].error_code = results[i].error;
        resp->responses[i].error_message = results[i].message;
        resp->responses[i].resource_type = rq.resources[i].resource_type;
        resp->responses[i].resource_name = rq.resources[i].resource_name;
    }
    st_request_respond(req, resp);
    return 0;
}

/* ---- DescribeCluster ------------------------------------------------------------ */

/* AclOperation codes a CLUSTER resource supports; with no authorizer every
 * one of them is allowed (KIP-430 bit field). */
#define CLUSTER_AUTHORIZED_OPERATIONS                                                                          \
    ((1 << 5) /* CREATE */ | (1 << 7) /* ALTER */ | (1 << 8) /* DESCRIBE */ | (1 << 9) /* CLUSTER_ACTION */ | \
     (1 << 10) /* DESCRIBE_CONFIGS */ | (1 << 11) /* ALTER_CONFIGS */ | (1 << 12) /* IDEMPOTENT_WRITE */)

enum { ENDPOINT_TYPE_BROKER = 1 };

int st_handle_describe_cluster(st_broker_t *b, st_request_t *req) {
    st_describe_cluster_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_describe_cluster_response_t *resp = st_request_alloc_response(req);
    resp->error_message = st_str_null();
    resp->endpoint_type = req->api_version >= 1 ? rq.endpoint_type : ENDPOINT_TYPE_BROKER;
    resp->cluster_id = st_str(b->cluster_id);
    resp->brokers_count = 0;
    if (req->api_version >= 1 && rq.endpoint_type != ENDPOINT_TYPE_BROKER) {
        /* A broker lists brokers only; controllers answer for controllers. */
        resp->error_code = ST_ERR_UNSUPPORTED_ENDPOINT_TYPE;
        resp->error_message = arena_printf(req, "The broker does not serve endpoint type %d", rq.endpoint_type);
        st_request_respond(req, resp);
        return 0;
    }
    resp->controller_id = b->node_id;
    resp->brokers = st_arena_alloc(&req->arena, sizeof *resp->brokers);
    resp->brokers_count = 1;
    resp->brokers[0].broker_id = b->node_id;
    resp->brokers[0].host = st_str(b->host);
    resp->brokers[0].port = b->port;
    resp->brokers[0].rack = st_str_null();
    resp->cluster_authorized_operations =
        rq.include_cluster_authorized_operations ? CLUSTER_AUTHORIZED_OPERATIONS : INT32_MIN;
    st_request_respond(req, resp);
    return 0;
}

/* ---- DescribeLogDirs -------------------------------------------------------------- */

typedef st_describe_log_dirs_response_describe_log_dirs_topic_t log_dir_topic_t;

typedef struct log_dirs_ctx {
    st_request_t *req;
    log_dir_topic_t *topics;
    int32_t count;
    int32_t cap;
} log_dirs_ctx_t;

static log_dir_topic_t *log_dirs_add_topic(log_dirs_ctx_t *c, st_topic_t *t, int32_t partitions_cap) {
    if (c->count == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 16;
        log_dir_topic_t *grown = st_arena_alloc(&c->req->arena, (size_t)cap * sizeof *grown);
        if (c->count) memcpy(grown, c->topics, (size_t)c->count * sizeof *grown);
        c->topics = grown;
        c->cap = cap;
    }
    log_dir_topic_t *lt = &c->topics[c->count++];
    lt->name = arena_str(c->req, t->name);
    lt->partitions = st_arena_alloc(&c->req->arena, (size_t)(partitions_cap > 0 ? partitions_cap : 1) * sizeof *lt->partitions);
    lt->partitions_count = 0;
    return lt;
}

static void log_dirs_add_partition(log_dir_topic_t *lt, const st_partition_t *p) {
    st_describe_log_dirs_response_describe_log_dirs_partition_t *lp = &lt->partitions[lt->partitions_count++];
    lp->partition_index = p->index;
    lp->partition_size = st_log_size_bytes(p->log);
    lp->offset_lag = 0; /* only a future (moving) replica lags */
    lp->is_future_key = false;
}

static int log_dirs_all(void *ctx, st_topic_t *t) {
    log_dirs_ctx_t *c = ctx;
    log_dir_topic_t *lt = NULL;
    for (int32_t i = 0; i < t->partition_count; i++) {
        st_partition_t *p = t->partitions[i];
        if (!p || !p->log) continue;
        if (!lt) lt = log_dirs_add_topic(c, t, t->partition_count);
        log_dirs_add_partition(lt, p);
    }
    return 0;
}

typedef struct topic_partition_ref {
    const char *topic;
    int32_t partition;
} topic_partition_ref_t;

static int tp_ref_cmp(const void *a, const void *b) {
    const topic_partition_ref_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c != 0 ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

int st_handle_describe_log_dirs(st_broker_t *b, st_request_t *req) {
    st_describe_log_dirs_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_describe_log_dirs_response_t *resp = st_request_alloc_response(req);
    log_dirs_ctx_t c = {req, NULL, 0, 0};
    if (rq.topics_count < 0) {
        st_broker_each_topic(b, log_dirs_all, &c);
    } else {
        /* Kafka collects the request into a set of partitions: duplicates
         * vanish and unknown partitions are simply not listed. */
        int64_t total = 0;
        for (int32_t i = 0; i < rq.topics_count; i++)
            total += rq.topics[i].partitions_count > 0 ? rq.topics[i].partitions_count : 0;
        topic_partition_ref_t *refs = st_arena_alloc(&req->arena, (size_t)(total > 0 ? total : 1) * sizeof *refs);
        int32_t m = 0;
        for (int32_t i = 0; i < rq.topics_count; i++) {
            if (!cstr(rq.topics[i].topic)) continue;
            for (int32_t k = 0; k < rq.topics[i].partitions_count; k++)
                refs[m++] = (topic_partition_ref_t){rq.topics[i].topic.ptr, rq.topics[i].partitions[k]};
        }
        qsort(refs, (size_t)m, sizeof *refs, tp_ref_cmp);
        for (int32_t i = 0; i < m;) {
            int32_t j = i;
            while (j < m && strcmp(refs[j].topic, refs[i].topic) == 0) j++;
            st_topic_t *t = st_broker_topic(b, refs[i].topic);
            log_dir_topic_t *lt = NULL;
            for (int32_t k = i; t && k < j; k++) {
                if (k > i && refs[k].partition == refs[k - 1].partition) continue;
                int32_t pi = refs[k].partition;
                if (pi < 0 || pi >= t->partition_count || !t->partitions[pi] || !t->partitions[pi]->log) continue;
                if (!lt) lt = log_dirs_add_topic(&c, t, j - i);
                log_dirs_add_partition(lt, t->partitions[pi]);
            }
            i = j;
        }
    }
    resp->error_code = 0;
    resp->results = st_arena_alloc(&req->arena, sizeof *resp->results);
    resp->results_count = 1;
    st_describe_log_dirs_response_describe_log_dirs_result_t *r = &resp->results[0];
    r->error_code = 0;
    /* Kafka names the directory by its absolute path. */
    char *abs = realpath(b->data_dir, NULL);
    r->log_dir = arena_str(req, abs ? abs : b->data_dir);
    free(abs);
    r->topics = c.topics;
    r->topics_count = c.count;
    r->total_bytes = -1;
    r->usable_bytes = -1;
    struct statvfs fs;
    if (statvfs(b->data_dir, &fs) == 0) {
        r->total_bytes = (int64_t)fs.f_blocks * (int64_t)fs.f_frsize;
        r->usable_bytes = (int64_t)fs.f_bavail * (int64_t)fs.f_frsize;
    }
    st_request_respond(req, resp);
    return 0;
}

/* ---- DescribeProducers -------------------------------------------------------------- */

int st_handle_describe_producers(st_broker_t *b, st_request_t *req) {
    st_describe_producers_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_describe_producers_response_t *resp = st_request_alloc_response(req);
    int32_t n = ST_RESPONSE_ARRAY(req, resp->topics, rq.topics_count);
    for (int32_t i = 0; i < n; i++) {
        const st_describe_producers_request_topic_request_t *tr = &rq.topics[i];
        st_describe_producers_response_topic_response_t *to = &resp->topics[i];
        to->name = tr->name;
        int32_t np = ST_RESPONSE_ARRAY(req, to->partitions, tr->partition_indexes_count);
        for (int32_t k = 0; k < np; k++) {
            st_describe_producers_response_partition_response_t *pr = &to->partitions[k];
            pr->partition_index = tr->partition_indexes[k];
            pr->error_message = st_str_null();
            pr->active_producers_count = 0;
            st_partition_t *p = cstr(tr->name) ? st_broker_partition(b, tr->name.ptr, pr->partition_index) : NULL;
            if (!p || !p->log) {
                pr->error_code = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            int32_t count = st_producer_state_count(p->producers);
            pr->active_producers = st_arena_alloc(&req->arena, (size_t)(count > 0 ? count : 1) * sizeof *pr->active_producers);
            st_producer_info_t info;
            for (int32_t j = 0; j < count && st_producer_state_at(p->producers, j, &info); j++) {
                st_describe_producers_response_producer_state_t *ps = &pr->active_producers[pr->active_producers_count++];
                ps->producer_id = info.producer_id;
                ps->producer_epoch = info.producer_epoch;
                ps->last_sequence = info.last_sequence;
                ps->last_timestamp = info.last_timestamp;
                ps->coordinator_epoch = -1;         /* no transactions yet */
                ps->current_txn_start_offset = -1;  /* no open transaction */
            }
        }
    }
    st_request_respond(req, resp);
    return 0;
}
