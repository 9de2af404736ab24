/*
 * Topic admin APIs: CreateTopics, DeleteTopics and CreatePartitions, with
 * their validation.
 *
 * Each handler answers the way a single-node Kafka 4 (KRaft) cluster does:
 * the checks, their order and the error messages follow ControllerApis and
 * ReplicationControlManager. Topic changes go through the broker's metadata
 * log (st_broker_create_topic & co.); a validate_only request runs every
 * check and answers in full but changes nothing.
 *
 * Everything a response points at lives in the request arena or in the
 * broker (names of existing topics are copied into the arena first, since a
 * deletion in the same request frees them).
 */
#include <stdlib.h>
#include <string.h>

#include "controller/admin.h"
#include "controller/admin_internal.h"

/* Kafka's ReplicationControlManager.MAX_PARTITIONS_PER_BATCH: more partitions
 * than this in one CreateTopics fails the whole request. Strata applies the
 * same cap to the partitions one CreatePartitions adds. */
#define ADMIN_PARTITIONS_PER_REQUEST_MAX 10000
/* Kafka's Topic.CLUSTER_METADATA_TOPIC_NAME, which clients may not create. */
#define CLUSTER_METADATA_TOPIC "__cluster_metadata"

/* ---- checks shared by CreateTopics and CreatePartitions ------------------ */

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
            *msg = admin_arena_printf(req, "The manual partition assignment includes broker %d, but no such broker is registered.",
                                sorted[i]);
            return ST_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (i > 0 && sorted[i] == sorted[i - 1]) {
            *msg = admin_arena_printf(req, "The manual partition assignment includes the broker %d more than once.", sorted[i]);
            return ST_ERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    if (replication_factor > 0 && n != replication_factor) {
        *msg = admin_arena_printf(req,
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
        *msg = admin_arena_str(req, buf);
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
                *msg = admin_arena_printf(req, "Found multiple manual partition assignments for partition %d",
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
        *msg = admin_arena_printf(req,
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
        c->value = v.sensitive ? st_str_null() : admin_arena_str(req, v.value);
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
    for (int32_t i = 0; i < n; i++) topic_names[i] = admin_cstr(rq.topics[i].name);
    uint8_t *dup = admin_find_duplicate_names(req, topic_names, n);

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
            topic_result_fail(r, ST_ERR_INVALID_TOPIC_EXCEPTION, admin_arena_str(req, buf));
            continue;
        }
        if (st_broker_topic(b, name)) {
            topic_result_fail(r, ST_ERR_TOPIC_ALREADY_EXISTS, admin_arena_printf(req, "Topic '%s' already exists.", name));
            continue;
        }
        if (strchr(name, '.') || strchr(name, '_')) {
            collision_ctx_t cc = {name, NULL};
            st_broker_each_topic(b, find_collision, &cc);
            if (cc.found) {
                topic_result_fail(r, ST_ERR_INVALID_TOPIC_EXCEPTION,
                                  admin_arena_printf(req, "Topic '%s' collides with existing topic: %s", name, cc.found));
                continue;
            }
        }
        int32_t nc = ct->configs_count > 0 ? ct->configs_count : 0;
        const char **cnames = st_arena_alloc(&req->arena, (size_t)(nc > 0 ? nc : 1) * sizeof *cnames);
        const char **cvalues = st_arena_alloc(&req->arena, (size_t)(nc > 0 ? nc : 1) * sizeof *cvalues);
        for (int32_t k = 0; k < nc; k++) {
            cnames[k] = admin_cstr(ct->configs[k].name);
            cvalues[k] = admin_cstr(ct->configs[k].value);
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
            items[i].name = admin_cstr(rq.topics[i].name);
            items[i].id = rq.topics[i].topic_id;
        } else {
            items[i].name = admin_cstr(rq.topic_names[i]);
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
    uint8_t *dup_name = admin_find_duplicate_names(req, names, n);
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
            r->name = admin_arena_str(req, it->topic->name);
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
        *msg = admin_arena_printf(req, "Topic already has %d partition(s).", current);
        return ST_ERR_INVALID_PARTITIONS;
    }
    if (pt->count < current) {
        *msg = admin_arena_printf(req, "The topic %s currently has %d partition(s); %d would not be an increase.", t->name,
                            current, pt->count);
        return ST_ERR_INVALID_PARTITIONS;
    }
    int32_t additional = pt->count - current;
    if (pt->assignments_count >= 0) {
        if (pt->assignments_count != additional) {
            *msg = admin_arena_printf(req,
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
    for (int32_t i = 0; i < n; i++) names[i] = admin_cstr(rq.topics[i].name);
    uint8_t *dup = admin_find_duplicate_names(req, names, n);
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
