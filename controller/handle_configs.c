/*
 * Config admin APIs: DescribeConfigs, AlterConfigs and
 * IncrementalAlterConfigs: describing configs and validating changes.
 *
 * Each handler answers the way a single-node Kafka 4 (KRaft) cluster does:
 * the checks, their order and the error messages follow ConfigAdminManager,
 * ConfigurationControlManager and ConfigHelper. Topic config changes go
 * through the broker's metadata log (st_broker_alter_topic_config); a
 * validate_only request runs every check and answers in full but changes
 * nothing.
 *
 * Everything a response points at lives in the request arena or in the
 * broker.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/admin.h"
#include "controller/admin_internal.h"

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
        *msg = admin_arena_printf(req, "%s must be an integer, but it is: %s", what, name);
        return ST_ERR_INVALID_REQUEST;
    }
    if (id != b->node_id) {
        *msg = admin_arena_printf(req, "Unexpected broker id, expected %d%s, but received %s", b->node_id, expected_tail, name);
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
    e->value = v->sensitive ? st_str_null() : admin_arena_str(req, v->value);
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
            e->synonyms[s].value = v->sensitive ? st_str_null() : admin_arena_str(req, v->synonyms[s].value);
            e->synonyms[s].source = v->synonyms[s].source;
        }
    }
}

static void describe_topic(st_broker_t *b, st_request_t *req, const st_describe_configs_request_t *rq,
                           const st_describe_configs_request_describe_configs_resource_t *res, describe_result_t *r) {
    const char *name = admin_cstr(res->resource_name) ? admin_cstr(res->resource_name) : "";
    char buf[ADMIN_MSG_MAX];
    if (st_topic_name_validate(name, buf, sizeof buf) != 0) {
        r->error_code = ST_ERR_INVALID_TOPIC_EXCEPTION;
        r->error_message = admin_arena_str(req, buf);
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
    const char *name = admin_cstr(res->resource_name) ? admin_cstr(res->resource_name) : "";
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
            whole_error = admin_arena_printf(req, "Unexpected resource type UNKNOWN for resource %s",
                                       admin_cstr(rq.resources[i].resource_name) ? admin_cstr(rq.resources[i].resource_name) : "null");
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
        const char *name = admin_cstr(res->resource_name) ? admin_cstr(res->resource_name) : "";
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
            r->error_message = admin_arena_printf(req, "Unsupported resource type: %s", resource_type_name(res->resource_type));
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
    uint8_t *dup = admin_find_duplicate_names(req, res->keys, res->count);
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
        out->message = admin_arena_printf(req, "Null value not supported for : %s", nulls);
        return false;
    }
    if (incremental) {
        for (int32_t k = 0; k < res->count; k++) {
            if (res->ops[k] < OP_SET || res->ops[k] > OP_SUBTRACT) {
                out->error = ST_ERR_INVALID_REQUEST;
                out->message = admin_arena_printf(req, "Unknown operations type %d", res->ops[k]);
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
            out->message = admin_arena_printf(req, "Cannot update these configs dynamically: Set(%s)", list);
        else
            out->message = st_str("Dynamic broker configs are not supported by this broker");
        return false;
    }
    case RESOURCE_BROKER_LOGGER:
        out->error = ST_ERR_INVALID_REQUEST;
        out->message = incremental ? st_str("Changing log levels at run time is not supported by this broker")
                                   : admin_arena_printf(req, "Unknown resource type %d", res->type);
        return false;
    case RESOURCE_CLIENT_METRICS:
    case RESOURCE_GROUP:
        out->error = ST_ERR_INVALID_REQUEST;
        out->message = admin_arena_printf(req, "Unsupported resource type: %s", resource_type_name(res->type));
        return false;
    default:
        out->error = ST_ERR_INVALID_REQUEST;
        out->message = admin_arena_printf(req, "Unknown resource type %d", res->type);
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
        *msg = admin_arena_printf(req, "Can't %s to key %s because its type is not LIST.", op == OP_APPEND ? "APPEND" : "SUBTRACT",
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
        out->message = admin_arena_str(req, buf);
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
        out->message = admin_arena_str(req, buf);
        return;
    }
    if (!t) {
        out->error = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        out->message = admin_arena_printf(req, "The topic '%s' does not exist.", name);
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
        res[i].name = admin_cstr(r->resource_name) ? admin_cstr(r->resource_name) : "";
        res[i].count = c;
        res[i].keys = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1) * sizeof(char *));
        res[i].values = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1) * sizeof(char *));
        for (int32_t k = 0; k < c; k++) {
            res[i].keys[k] = admin_cstr(r->configs[k].name);
            res[i].values[k] = admin_cstr(r->configs[k].value);
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
        res[i].name = admin_cstr(r->resource_name) ? admin_cstr(r->resource_name) : "";
        res[i].count = c;
        res[i].keys = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1) * sizeof(char *));
        res[i].values = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1) * sizeof(char *));
        res[i].ops = st_arena_alloc(&req->arena, (size_t)(c > 0 ? c : 1));
        for (int32_t k = 0; k < c; k++) {
            res[i].keys[k] = admin_cstr(r->configs[k].name);
            res[i].values[k] = admin_cstr(r->configs[k].value);
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
