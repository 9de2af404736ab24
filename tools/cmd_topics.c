/*
 * `strata topics`: kafka-topics.sh's --create/--list/--describe/--alter/
 * --delete with its output, through Metadata, CreateTopics, DeleteTopics,
 * CreatePartitions and DescribeConfigs.
 *
 * Output follows Kafka 4.x TopicCommand:
 *   - failures from the broker: "Error while executing topic command : <msg>"
 *     on stdout, exit 1; argument problems and a missing --topic: the bare
 *     message on stderr, exit 1.
 *   - --topic is a regular expression (',' means '|') for every action but
 *     --create; --list shows internal topics unless --exclude-internal.
 *   - --describe orders topics and config entries as Java's HashMap does
 *     (the admin client returns both as HashMaps), so the lines match
 *     kafka-topics.sh byte for byte. Against a broker without
 *     DescribeTopicPartitions (KIP-966) the admin client falls back to
 *     Metadata, whose partitions carry no ELR: "Elr: N/A\tLastKnownElr: N/A".
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/client.h"

#define TOPICS_CONFIGS_MAX 256
#define CONFIG_SOURCE_DEFAULT 5 /* DescribeConfigs ConfigSource DEFAULT_CONFIG */
#define RESOURCE_TYPE_TOPIC 2

typedef struct topics_options {
    const char *bootstrap;
    const char *topic;
    bool create, list, describe, alter, delete;
    int64_t partitions;          /* -1: broker default */
    int64_t replication_factor;  /* -1: broker default */
    const char *configs[TOPICS_CONFIGS_MAX];
    int32_t config_count;
    bool if_not_exists, if_exists, exclude_internal;
    int timeout_ms;
} topics_options_t;

static void topics_usage(FILE *out) {
    fprintf(out,
            "Usage: strata topics --bootstrap-server HOST:PORT ACTION [OPTIONS]\n"
            "Actions (exactly one):\n"
            "  --create --topic T [--partitions N] [--replication-factor R]\n"
            "           [--config k=v ...] [--if-not-exists]\n"
            "  --list [--topic REGEX] [--exclude-internal]\n"
            "  --describe [--topic REGEX] [--if-exists] [--exclude-internal]\n"
            "  --alter --topic REGEX --partitions N [--if-exists]\n"
            "  --delete --topic REGEX [--if-exists]\n"
            "Options:\n"
            "  --timeout SECONDS   connect/response timeout (default 30)\n");
}

static int command_error(const char *message) {
    printf("Error while executing topic command : %s\n", message);
    return 1;
}

static int usage_error(const char *message) {
    fprintf(stderr, "%s\n", message);
    return 1;
}

/* Kafka's Topic.isInternal. */
static bool topic_is_internal(const char *name) {
    return strcmp(name, "__consumer_offsets") == 0 || strcmp(name, "__transaction_state") == 0 ||
           strcmp(name, "__share_group_state") == 0;
}

/* ---- Java HashMap iteration order ----------------------------------------
 * HashMap iterates bucket by bucket, each bucket in insertion order (resizes
 * keep that order). The bucket is (h ^ h >>> 16) & (capacity - 1) where h
 * is String.hashCode over UTF-16 code units. */

static uint32_t java_string_hash(const char *s, size_t len) {
    uint32_t h = 0;
    size_t i = 0;
    while (i < len) {
        uint8_t c = (uint8_t)s[i];
        uint32_t cp = c;
        size_t n = 1;
        if (c >= 0xf0 && i + 3 < len) {
            cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 | (uint32_t)(s[i + 2] & 0x3f) << 6 |
                 (uint32_t)(s[i + 3] & 0x3f);
            n = 4;
        } else if (c >= 0xe0 && i + 2 < len) {
            cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (uint32_t)(s[i + 2] & 0x3f);
            n = 3;
        } else if (c >= 0xc0 && i + 1 < len) {
            cp = (uint32_t)(c & 0x1f) << 6 | (uint32_t)(s[i + 1] & 0x3f);
            n = 2;
        }
        if (cp > 0xffff) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
        i += n;
    }
    return h;
}

/* Table size after `count` puts into `new HashMap<>(initial)` (initial 0:
 * the no-argument constructor, 16). */
static uint32_t java_table_size(uint32_t count, uint32_t initial) {
    uint32_t cap = 1;
    if (initial == 0) {
        cap = 16;
    } else {
        while (cap < initial) cap <<= 1;
    }
    while (count > (uint32_t)((float)cap * 0.75f)) cap <<= 1;
    return cap;
}

typedef struct ordered {
    uint32_t bucket;
    int32_t index; /* insertion order */
} ordered_t;

static int ordered_cmp(const void *a, const void *b) {
    const ordered_t *x = a, *y = b;
    if (x->bucket != y->bucket) return x->bucket < y->bucket ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Fills `order` with 0..count-1 in HashMap iteration order of `names`. */
static void java_hash_order(const st_str_t *const *names, int32_t count, uint32_t initial, int32_t *order) {
    uint32_t cap = java_table_size((uint32_t)count, initial);
    ordered_t *o = calloc((size_t)(count ? count : 1), sizeof *o);
    if (!o) abort();
    for (int32_t i = 0; i < count; i++) {
        uint32_t h = java_string_hash(names[i]->ptr ? names[i]->ptr : "", names[i]->len > 0 ? (size_t)names[i]->len : 0);
        o[i].bucket = (h ^ (h >> 16)) & (cap - 1);
        o[i].index = i;
    }
    qsort(o, (size_t)count, sizeof *o, ordered_cmp);
    for (int32_t i = 0; i < count; i++) order[i] = o[i].index;
    free(o);
}

/* ---- topic selection ----------------------------------------------------- */

typedef struct topic_list {
    const st_metadata_response_metadata_response_topic_t **topics;
    int32_t count;
} topic_list_t;

static int name_cmp(const void *a, const void *b) {
    const st_metadata_response_metadata_response_topic_t *const *x = a, *const *y = b;
    return strcmp((*x)->name.ptr ? (*x)->name.ptr : "", (*y)->name.ptr ? (*y)->name.ptr : "");
}

/* Kafka's IncludeList: ',' is '|', spaces and surrounding quotes dropped,
 * and the whole name must match. */
static bool compile_include(const char *raw, regex_t *re) {
    size_t n = strlen(raw);
    char *rx = malloc(n + 8);
    if (!rx) abort();
    size_t o = 0;
    rx[o++] = '^';
    rx[o++] = '(';
    size_t start = 0, end = n;
    while (start < end && (raw[start] == '"' || raw[start] == '\'' || raw[start] == ' ')) start++;
    while (end > start && (raw[end - 1] == '"' || raw[end - 1] == '\'' || raw[end - 1] == ' ')) end--;
    for (size_t i = start; i < end; i++) {
        if (raw[i] == ' ') continue;
        rx[o++] = raw[i] == ',' ? '|' : raw[i];
    }
    rx[o++] = ')';
    rx[o++] = '$';
    rx[o] = '\0';
    bool ok = regcomp(re, rx, REG_EXTENDED | REG_NOSUB) == 0;
    free(rx);
    return ok;
}

/* All topics from Metadata, sorted, filtered by --topic and internal-ness. */
static int select_topics(st_cluster_t *cl, const topics_options_t *o, st_arena_t *arena, topic_list_t *out,
                         st_metadata_response_t *md) {
    memset(out, 0, sizeof *out);
    int rc = st_cluster_metadata(cl, NULL, -1, arena, md);
    if (rc != 0) return command_error(cl->error);
    regex_t re;
    bool have_re = o->topic != NULL;
    if (have_re && !compile_include(o->topic, &re)) {
        fprintf(stderr, "%s is an invalid regex.\n", o->topic);
        return 1;
    }
    out->topics = st_arena_alloc(arena, sizeof *out->topics * (size_t)(md->topics_count + 1));
    for (int32_t i = 0; i < md->topics_count; i++) {
        const st_metadata_response_metadata_response_topic_t *t = &md->topics[i];
        if (t->error_code != 0 || t->name.len <= 0) continue;
        if (o->exclude_internal && (t->is_internal || topic_is_internal(t->name.ptr))) continue;
        if (have_re && regexec(&re, t->name.ptr, 0, NULL, 0) != 0) continue;
        out->topics[out->count++] = t;
    }
    if (have_re) regfree(&re);
    qsort(out->topics, (size_t)out->count, sizeof *out->topics, name_cmp);
    return 0;
}

/* "Topic 'x' does not exist as expected" unless --if-exists. */
static bool missing_topic(const topics_options_t *o, const topic_list_t *list) {
    if (o->topic && o->topic[0] && !o->if_exists && list->count == 0) {
        fprintf(stderr, "Topic '%s' does not exist as expected\n", o->topic);
        return true;
    }
    return false;
}

static void error_text(char *buf, size_t cap, int16_t code, st_str_t message) {
    if (message.len > 0)
        snprintf(buf, cap, "%.*s", (int)message.len, message.ptr);
    else
        snprintf(buf, cap, "%s", st_kafka_error_message(code));
}

/* ---- actions ------------------------------------------------------------- */

static int topics_create(st_cluster_t *cl, const topics_options_t *o) {
    if (strchr(o->topic, '.') || strchr(o->topic, '_'))
        printf("WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could "
               "collide. To avoid issues it is best to use either, but not both.\n");
    st_arena_t arena;
    st_arena_init(&arena);
    st_create_topics_request_t req;
    st_create_topics_request_init(&req);
    st_create_topics_request_creatable_topic_t t;
    memset(&t, 0, sizeof t);
    bool defaults_ok = st_client_version(&cl->bootstrap, ST_API_CREATE_TOPICS) >= 4; /* KIP-464 */
    t.name = st_str(o->topic);
    t.num_partitions = (int32_t)(o->partitions > 0 ? o->partitions : defaults_ok ? -1 : 1);
    t.replication_factor = (int16_t)(o->replication_factor > 0 ? o->replication_factor : defaults_ok ? -1 : 1);
    t.assignments = NULL;
    t.assignments_count = 0;
    t.configs = st_arena_alloc(&arena, sizeof *t.configs * (size_t)(o->config_count + 1));
    t.configs_count = o->config_count;
    for (int32_t i = 0; i < o->config_count; i++) {
        /* TopicCommand splits on "\s*=\s*" and trims both sides. */
        const char *kv = o->configs[i];
        const char *eq = strchr(kv, '=');
        if (!eq || strchr(eq + 1, '=')) {
            st_arena_free(&arena);
            return usage_error("requirement failed: Invalid topic config: all configs to be added must be in the "
                               "format \"key=val\".");
        }
        const char *ks = kv, *ke = eq, *vs = eq + 1, *ve = eq + strlen(eq);
        while (ks < ke && (*ks == ' ' || *ks == '\t')) ks++;
        while (ke > ks && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
        while (vs < ve && (*vs == ' ' || *vs == '\t')) vs++;
        while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        t.configs[i].name = (st_str_t){st_arena_memdup(&arena, ks, (size_t)(ke - ks) + 1), (int32_t)(ke - ks)};
        t.configs[i].value = (st_str_t){st_arena_memdup(&arena, vs, (size_t)(ve - vs) + 1), (int32_t)(ve - vs)};
    }
    req.topics = &t;
    req.topics_count = 1;
    req.timeout_ms = o->timeout_ms;
    req.validate_only = false;
    st_create_topics_response_t resp;
    int rc = st_client_call(&cl->bootstrap, ST_API_CREATE_TOPICS, &req, &arena, &resp);
    if (rc != 0) {
        rc = command_error(st_client_error(&cl->bootstrap));
        st_arena_free(&arena);
        return rc;
    }
    int16_t code = ST_ERR_UNKNOWN_SERVER_ERROR;
    st_str_t message = st_str("the CreateTopics response did not name the topic");
    for (int32_t i = 0; i < resp.topics_count; i++)
        if (st_str_eq(resp.topics[i].name, o->topic)) {
            code = resp.topics[i].error_code;
            message = resp.topics[i].error_message;
        }
    if (code == 0) {
        printf("Created topic %s.\n", o->topic);
        rc = 0;
    } else if (code == ST_ERR_TOPIC_ALREADY_EXISTS && o->if_not_exists) {
        rc = 0;
    } else {
        char text[ST_CLIENT_ERROR_BYTES];
        error_text(text, sizeof text, code, message);
        rc = command_error(text);
    }
    st_arena_free(&arena);
    return rc;
}

static int topics_list(st_cluster_t *cl, const topics_options_t *o) {
    st_arena_t arena;
    st_arena_init(&arena);
    st_metadata_response_t md;
    topic_list_t list;
    int rc = select_topics(cl, o, &arena, &list, &md);
    if (rc == 0) {
        /* String.join("\n", names) then println: no topics prints "\n". */
        for (int32_t i = 0; i < list.count; i++)
            printf("%s%s", i ? "\n" : "", list.topics[i]->name.ptr);
        printf("\n");
    }
    st_arena_free(&arena);
    return rc;
}

static int partition_cmp(const void *a, const void *b) {
    const st_metadata_response_metadata_response_partition_t *x = a, *y = b;
    return x->partition_index < y->partition_index ? -1 : x->partition_index > y->partition_index;
}

static void print_ids(const char *label, const int32_t *ids, int32_t count) {
    printf("\t%s: ", label);
    for (int32_t i = 0; i < count; i++) printf("%s%d", i ? "," : "", (int)ids[i]);
}

static void describe_one(const st_metadata_response_metadata_response_topic_t *t,
                         const st_describe_configs_response_describe_configs_result_t *config, int16_t configs_version) {
    st_metadata_response_metadata_response_partition_t *parts = NULL;
    if (t->partitions_count > 0) {
        parts = malloc(sizeof *parts * (size_t)t->partitions_count);
        if (!parts) abort();
        memcpy(parts, t->partitions, sizeof *parts * (size_t)t->partitions_count);
        qsort(parts, (size_t)t->partitions_count, sizeof *parts, partition_cmp);
    }
    printf("Topic: %s", t->name.ptr);
    if (!st_uuid_is_zero(&t->topic_id)) {
        char id[23];
        st_uuid_to_base64(&t->topic_id, id);
        printf("\tTopicId: %s", id);
    }
    printf("\tPartitionCount: %d", (int)t->partitions_count);
    printf("\tReplicationFactor: %d", parts ? (int)parts[0].replica_nodes_count : 0);
    printf("\tConfigs: ");
    int32_t n = config ? config->configs_count : 0;
    if (n > 0) {
        const st_str_t **names = malloc(sizeof *names * (size_t)n);
        int32_t *order = malloc(sizeof *order * (size_t)n);
        if (!names || !order) abort();
        for (int32_t i = 0; i < n; i++) names[i] = &config->configs[i].name;
        java_hash_order(names, n, 0, order);
        bool first = true;
        for (int32_t k = 0; k < n; k++) {
            const st_describe_configs_response_describe_configs_resource_result_t *e = &config->configs[order[k]];
            bool is_default = configs_version == 0 ? e->is_default : e->config_source == CONFIG_SOURCE_DEFAULT;
            if (is_default) continue;
            printf("%s%.*s=", first ? "" : ",", (int)e->name.len, e->name.ptr);
            if (e->value.len < 0)
                printf("null");
            else
                printf("%.*s", (int)e->value.len, e->value.ptr);
            first = false;
        }
        free(names);
        free(order);
    }
    printf("\n");
    for (int32_t i = 0; i < t->partitions_count; i++) {
        const st_metadata_response_metadata_response_partition_t *p = &parts[i];
        printf("\tTopic: %s\tPartition: %d", t->name.ptr, (int)p->partition_index);
        if (p->leader_id < 0)
            printf("\tLeader: none");
        else
            printf("\tLeader: %d", (int)p->leader_id);
        print_ids("Replicas", p->replica_nodes, p->replica_nodes_count);
        print_ids("Isr", p->isr_nodes, p->isr_nodes_count);
        printf("\tElr: N/A\tLastKnownElr: N/A\n");
    }
    free(parts);
}

static int topics_describe(st_cluster_t *cl, const topics_options_t *o) {
    st_arena_t arena;
    st_arena_init(&arena);
    st_metadata_response_t md;
    topic_list_t list;
    int rc = select_topics(cl, o, &arena, &list, &md);
    if (rc != 0 || list.count == 0) {
        bool missing = rc == 0 && missing_topic(o, &list);
        st_arena_free(&arena);
        return rc != 0 ? rc : missing ? 1 : 0;
    }
    st_describe_configs_request_t req;
    st_describe_configs_request_init(&req);
    req.resources = st_arena_alloc(&arena, sizeof *req.resources * (size_t)list.count);
    req.resources_count = list.count;
    for (int32_t i = 0; i < list.count; i++) {
        req.resources[i].resource_type = RESOURCE_TYPE_TOPIC;
        req.resources[i].resource_name = list.topics[i]->name;
        req.resources[i].configuration_keys = NULL;
        req.resources[i].configuration_keys_count = -1;
    }
    req.include_synonyms = false;
    req.include_documentation = false;
    st_describe_configs_response_t resp;
    rc = st_client_call(&cl->bootstrap, ST_API_DESCRIBE_CONFIGS, &req, &arena, &resp);
    if (rc != 0) {
        rc = command_error(st_client_error(&cl->bootstrap));
        st_arena_free(&arena);
        return rc;
    }
    int16_t configs_version = st_client_version(&cl->bootstrap, ST_API_DESCRIBE_CONFIGS);
    /* allTopicNames() builds a HashMap<>(n) keyed by name, filled in the
     * order of the (sorted) request. */
    const st_str_t **names = st_arena_alloc(&arena, sizeof *names * (size_t)list.count);
    int32_t *order = st_arena_alloc(&arena, sizeof *order * (size_t)list.count);
    for (int32_t i = 0; i < list.count; i++) names[i] = &list.topics[i]->name;
    java_hash_order(names, list.count, (uint32_t)list.count, order);
    for (int32_t k = 0; k < list.count; k++) {
        const st_metadata_response_metadata_response_topic_t *t = list.topics[order[k]];
        const st_describe_configs_response_describe_configs_result_t *config = NULL;
        for (int32_t i = 0; i < resp.results_count; i++)
            if (resp.results[i].resource_type == RESOURCE_TYPE_TOPIC &&
                resp.results[i].resource_name.len == t->name.len &&
                memcmp(resp.results[i].resource_name.ptr, t->name.ptr, (size_t)t->name.len) == 0)
                config = &resp.results[i];
        if (config && config->error_code != 0) {
            char text[ST_CLIENT_ERROR_BYTES];
            error_text(text, sizeof text, config->error_code, config->error_message);
            rc = command_error(text);
            break;
        }
        describe_one(t, config, configs_version);
    }
    st_arena_free(&arena);
    return rc;
}

static int topics_alter(st_cluster_t *cl, const topics_options_t *o) {
    st_arena_t arena;
    st_arena_init(&arena);
    st_metadata_response_t md;
    topic_list_t list;
    int rc = select_topics(cl, o, &arena, &list, &md);
    if (rc != 0 || list.count == 0) {
        bool missing = rc == 0 && missing_topic(o, &list);
        st_arena_free(&arena);
        return rc != 0 ? rc : missing ? 1 : 0;
    }
    st_create_partitions_request_t req;
    st_create_partitions_request_init(&req);
    req.topics = st_arena_alloc(&arena, sizeof *req.topics * (size_t)list.count);
    req.topics_count = list.count;
    for (int32_t i = 0; i < list.count; i++) {
        req.topics[i].name = list.topics[i]->name;
        req.topics[i].count = (int32_t)o->partitions;
        req.topics[i].assignments = NULL;
        req.topics[i].assignments_count = -1;
    }
    req.timeout_ms = o->timeout_ms;
    req.validate_only = false;
    st_create_partitions_response_t resp;
    rc = st_client_call(&cl->bootstrap, ST_API_CREATE_PARTITIONS, &req, &arena, &resp);
    if (rc != 0) {
        rc = command_error(st_client_error(&cl->bootstrap));
    } else {
        for (int32_t i = 0; i < resp.results_count; i++) {
            if (resp.results[i].error_code == 0) continue;
            char text[ST_CLIENT_ERROR_BYTES];
            error_text(text, sizeof text, resp.results[i].error_code, resp.results[i].error_message);
            rc = command_error(text);
            break;
        }
    }
    st_arena_free(&arena);
    return rc;
}

static int topics_delete(st_cluster_t *cl, const topics_options_t *o) {
    st_arena_t arena;
    st_arena_init(&arena);
    st_metadata_response_t md;
    topic_list_t list;
    int rc = select_topics(cl, o, &arena, &list, &md);
    if (rc != 0 || list.count == 0) {
        bool missing = rc == 0 && missing_topic(o, &list);
        st_arena_free(&arena);
        return rc != 0 ? rc : missing ? 1 : 0;
    }
    st_delete_topics_request_t req;
    st_delete_topics_request_init(&req);
    int16_t version = st_client_version(&cl->bootstrap, ST_API_DELETE_TOPICS);
    if (version >= 6) {
        req.topics = st_arena_alloc(&arena, sizeof *req.topics * (size_t)list.count);
        req.topics_count = list.count;
        for (int32_t i = 0; i < list.count; i++) req.topics[i].name = list.topics[i]->name;
    } else {
        req.topic_names = st_arena_alloc(&arena, sizeof *req.topic_names * (size_t)list.count);
        req.topic_names_count = list.count;
        for (int32_t i = 0; i < list.count; i++) req.topic_names[i] = list.topics[i]->name;
    }
    req.timeout_ms = o->timeout_ms;
    st_delete_topics_response_t resp;
    rc = st_client_call(&cl->bootstrap, ST_API_DELETE_TOPICS, &req, &arena, &resp);
    if (rc != 0) {
        rc = command_error(st_client_error(&cl->bootstrap));
    } else {
        for (int32_t i = 0; i < resp.responses_count; i++) {
            if (resp.responses[i].error_code == 0) continue;
            char text[ST_CLIENT_ERROR_BYTES];
            error_text(text, sizeof text, resp.responses[i].error_code, resp.responses[i].error_message);
            rc = command_error(text);
            break;
        }
    }
    st_arena_free(&arena);
    return rc;
}

int st_cmd_topics(int argc, char **argv, int timeout_ms) {
    topics_options_t o;
    memset(&o, 0, sizeof o);
    o.partitions = -1;
    o.replication_factor = -1;
    o.timeout_ms = timeout_ms;
    bool have_partitions = false, have_rf = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (st_arg_flag(argv, i, "--help") || st_arg_flag(argv, i, "-h")) {
            topics_usage(stdout);
            return 0;
        } else if ((v = st_arg_value(argc, argv, &i, "--bootstrap-server"))) {
            o.bootstrap = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--topic"))) {
            o.topic = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--partitions"))) {
            if (!st_parse_i64(v, INT32_MIN, INT32_MAX, &o.partitions))
                return usage_error("--partitions takes an integer");
            have_partitions = true;
        } else if ((v = st_arg_value(argc, argv, &i, "--replication-factor"))) {
            if (!st_parse_i64(v, INT32_MIN, INT32_MAX, &o.replication_factor))
                return usage_error("--replication-factor takes an integer");
            have_rf = true;
        } else if ((v = st_arg_value(argc, argv, &i, "--config"))) {
            if (o.config_count >= TOPICS_CONFIGS_MAX) return usage_error("too many --config options");
            o.configs[o.config_count++] = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--timeout"))) {
            int64_t seconds = 0;
            if (!st_parse_i64(v, 1, 86400, &seconds)) return usage_error("--timeout takes seconds in [1, 86400]");
            o.timeout_ms = (int)(seconds * 1000);
        } else if (st_arg_flag(argv, i, "--create")) {
            o.create = true;
        } else if (st_arg_flag(argv, i, "--list")) {
            o.list = true;
        } else if (st_arg_flag(argv, i, "--describe")) {
            o.describe = true;
        } else if (st_arg_flag(argv, i, "--alter")) {
            o.alter = true;
        } else if (st_arg_flag(argv, i, "--delete")) {
            o.delete = true;
        } else if (st_arg_flag(argv, i, "--if-not-exists")) {
            o.if_not_exists = true;
        } else if (st_arg_flag(argv, i, "--if-exists")) {
            o.if_exists = true;
        } else if (st_arg_flag(argv, i, "--exclude-internal")) {
            o.exclude_internal = true;
        } else {
            fprintf(stderr, "%s is not a recognized option\n", argv[i]);
            topics_usage(stderr);
            return 1;
        }
    }
    int actions = o.create + o.list + o.describe + o.alter + o.delete;
    if (actions != 1)
        return usage_error("Command must include exactly one action: --list, --describe, --create, --alter or --delete");
    if (!o.bootstrap) return usage_error("Missing required argument \"[bootstrap-server]\"");
    if ((o.create || o.alter || o.delete) && !o.topic) return usage_error("Missing required argument \"[topic]\"");
    if (o.alter && !have_partitions) return usage_error("Missing required argument \"[partitions]\"");
    if (o.create) {
        if (have_rf && (o.replication_factor < 1 || o.replication_factor > INT16_MAX))
            return usage_error("The replication factor must be between 1 and 32767 inclusive");
        if (have_partitions && o.partitions < 1) return usage_error("The partitions must be greater than 0");
    }
    st_cluster_t cl;
    if (st_cluster_open(&cl, o.bootstrap, o.timeout_ms) != 0) {
        int rc = command_error(cl.error);
        st_cluster_close(&cl);
        return rc;
    }
    int rc = o.create     ? topics_create(&cl, &o)
             : o.list     ? topics_list(&cl, &o)
             : o.describe ? topics_describe(&cl, &o)
             : o.alter    ? topics_alter(&cl, &o)
                          : topics_delete(&cl, &o);
    st_cluster_close(&cl);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}
