/*
 * The configuration store: loading a server.properties file and
 * --override pairs into one slot per broker key, Kafka's derived values, the
 * typed getters, DescribeConfigs views and the topic settings resolved over
 * the broker's (invariants: config_internal.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config_internal.h"
#include "common/errors.h"

/* ---- Loading --------------------------------------------------------------- */

static void keep_unused(st_config_t *c, const char *name, const char *value) {
    for (int32_t i = 0; i < c->unused_count; i++) {
        if (strcmp(c->unused[i].name, name) == 0) {
            free(c->unused[i].value);
            c->unused[i].value = config_xstrdup(value);
            return;
        }
    }
    c->unused = config_xrealloc(c->unused, (size_t)(c->unused_count + 1) * sizeof *c->unused);
    c->unused[c->unused_count++] = (unused_key_t){config_xstrdup(name), config_xstrdup(value)};
}

static slot_t *slot_named(st_config_t *c, const char *name) {
    int i = st_config_broker_index(name);
    if (i < 0)
        config_misuse("not a broker config", name);
    return &c->slots[i];
}

/* Kafka's derived values (KafkaConfig.logRetentionTimeMillis etc.). */
static void apply_derivations(st_config_t *c) {
    const int64_t ms_per_minute = 60 * 1000, ms_per_hour = 60 * ms_per_minute;
    slot_t *ms = slot_named(c, "log.retention.ms");
    if (!ms->has_value) {
        slot_t *minutes = slot_named(c, "log.retention.minutes");
        ms->typed.l = minutes->has_value ? minutes->typed.l * ms_per_minute
                                         : slot_named(c, "log.retention.hours")->typed.l * ms_per_hour;
        ms->has_value = true;
    }
    if (ms->typed.l < 0)
        ms->typed.l = -1;

    slot_t *roll = slot_named(c, "log.roll.ms");
    if (!roll->has_value) {
        roll->typed.l = slot_named(c, "log.roll.hours")->typed.l * ms_per_hour;
        roll->has_value = true;
    }
    slot_t *jitter = slot_named(c, "log.roll.jitter.ms");
    if (!jitter->has_value) {
        jitter->typed.l = slot_named(c, "log.roll.jitter.hours")->typed.l * ms_per_hour;
        jitter->has_value = true;
    }
    slot_t *flush = slot_named(c, "log.flush.interval.ms");
    if (!flush->has_value) {
        flush->typed.l = slot_named(c, "log.flush.scheduler.interval.ms")->typed.l;
        flush->has_value = true;
    }
    slot_t *dirs = slot_named(c, "log.dirs");
    if (!dirs->has_value) {
        dirs->string = slot_named(c, "log.dir")->string;
        dirs->has_value = dirs->string != NULL;
    }
}

static void format_origin(const prop_t *p, const char *path, char *buf, size_t len) {
    if (p->line > 0)
        snprintf(buf, len, "%s:%d", path, p->line);
    else
        snprintf(buf, len, "--override %s=%s", p->key, p->value);
}

/* "listener.name.<listener>.<key>" of a PER_LISTENER key: parsed as that
 * key is, last occurrence winning. Returns 0 when taken, a positive error
 * (with `err`) for a bad value, -1 when the key is not one of these. */
#define LISTENER_PREFIX "listener.name."
static int load_listener_value(st_config_t *c, const prop_t *p, const char *path, char *err, size_t err_len) {
    if (strncmp(p->key, LISTENER_PREFIX, strlen(LISTENER_PREFIX)) != 0)
        return -1;
    const char *listener = p->key + strlen(LISTENER_PREFIX);
    const char *dot = strchr(listener, '.');
    if (!dot || dot == listener)
        return -1;
    int idx = st_config_broker_index(dot + 1);
    if (idx < 0 || !(config_broker_keys[idx].flags & DEF_PER_LISTENER))
        return -1;
    listener_value_t v = {config_xstrndup(listener, (size_t)(dot - listener)), idx, {0}, NULL};
    char msg[256];
    if (config_parse_value(&config_broker_keys[idx], p->value, &v.typed, &v.configured, msg, sizeof msg) != 0) {
        char origin[300];
        format_origin(p, path, origin, sizeof origin);
        /* The message names the key as written, prefix and all. */
        const char *at = strstr(msg, config_broker_keys[idx].name);
        if (at)
            config_set_msg(err, err_len, "%s: %.*s%s%s", origin, (int)(at - msg), msg, p->key, at + strlen(config_broker_keys[idx].name));
        else
            config_set_msg(err, err_len, "%s: %s", origin, msg);
        free(v.listener);
        return ST_ERR_INVALID_CONFIG;
    }
    for (int32_t i = 0; i < c->listener_value_count; i++) {
        listener_value_t *old = &c->listener_values[i];
        if (old->index == idx && strcmp(old->listener, v.listener) == 0) {
            free(old->listener);
            free(old->configured);
            *old = v;
            return 0;
        }
    }
    c->listener_values = config_xrealloc(c->listener_values, (size_t)(c->listener_value_count + 1) * sizeof v);
    c->listener_values[c->listener_value_count++] = v;
    return 0;
}

int st_config_load(st_config_t **out, const char *path, int override_count, char *const *overrides,
                   char *err, size_t err_len) {
    *out = NULL;
    config_set_msg(err, err_len, "%s", "");
    props_t props = {0};
    int rc = 0;
    if (path) {
        char *text;
        size_t len;
        rc = config_read_file(path, &text, &len, err, err_len);
        if (rc != 0)
            return rc;
        rc = config_parse_properties(text, len, path, &props, err, err_len);
        free(text);
        if (rc != 0)
            goto err_free_props;
    }
    for (int i = 0; i < override_count; i++) {
        /* Kafka's CommandLineUtils.parseKeyValueArgs: split at the first '=',
         * and a missing or empty value is an error. */
        const char *eq = strchr(overrides[i], '=');
        if (!eq || eq[1] == '\0') {
            config_set_msg(err, err_len, "--override %s: Missing value for key %.*s", overrides[i],
                    (int)(eq ? (size_t)(eq - overrides[i]) : strlen(overrides[i])), overrides[i]);
            rc = ST_ERR_INVALID_CONFIG;
            goto err_free_props;
        }
        config_props_add(&props, config_xstrndup(overrides[i], (size_t)(eq - overrides[i])), config_xstrdup(eq + 1), 0);
    }

    st_config_t *c = config_xrealloc(NULL, sizeof *c);
    memset(c, 0, sizeof *c);
    /* Last occurrence wins; overrides come after the file. */
    const prop_t *chosen[CONFIG_BROKER_KEY_COUNT];
    memset(chosen, 0, sizeof chosen);
    for (int32_t i = 0; i < props.count; i++) {
        int idx = st_config_broker_index(props.items[i].key);
        if (idx >= 0) {
            chosen[idx] = &props.items[i];
            continue;
        }
        rc = load_listener_value(c, &props.items[i], path, err, err_len);
        if (rc < 0)
            keep_unused(c, props.items[i].key, props.items[i].value);
        else if (rc > 0)
            goto err_free_config;
    }
    rc = 0;
    for (int32_t i = 0; i < CONFIG_BROKER_KEY_COUNT; i++) {
        const config_def_t *def = &config_broker_keys[i];
        slot_t *slot = &c->slots[i];
        if (chosen[i]) {
            char msg[256];
            if (config_parse_value(def, chosen[i]->value, &slot->typed, &slot->configured, msg, sizeof msg) != 0) {
                char origin[300];
                format_origin(chosen[i], path, origin, sizeof origin);
                config_set_msg(err, err_len, "%s: %s", origin, msg);
                rc = ST_ERR_INVALID_CONFIG;
                goto err_free_config;
            }
            slot->has_value = true;
            slot->string = slot->configured;
        } else if (def->default_value) {
            char msg[256];
            if (config_parse_value(def, def->default_value, &slot->typed, NULL, msg, sizeof msg) != 0)
                config_misuse("bad default in table", msg);
            slot->has_value = true;
            slot->string = def->default_value;
        }
    }
    apply_derivations(c);

    int64_t decompressed = slot_named(c, "strata.decompressed.batch.max.bytes")->typed.l;
    int64_t message_max = slot_named(c, "message.max.bytes")->typed.l;
    if (decompressed < message_max) {
        config_set_msg(err, err_len,
                "%s: strata.decompressed.batch.max.bytes (%" PRId64 ") must be at least "
                "message.max.bytes (%" PRId64 ")",
                path ? path : "overrides", decompressed, message_max);
        rc = ST_ERR_INVALID_CONFIG;
        goto err_free_config;
    }
    /* KafkaConfig's rule: a zero default only makes sense with overrides. */
    if (slot_named(c, "max.connections.per.ip")->typed.l == 0 &&
        slot_named(c, "max.connections.per.ip.overrides")->string[0] == '\0') {
        config_set_msg(err, err_len, "%s: max.connections.per.ip can be set to zero only if "
                "max.connections.per.ip.overrides property is set.", path ? path : "overrides");
        rc = ST_ERR_INVALID_CONFIG;
        goto err_free_config;
    }
    config_props_free(&props);
    *out = c;
    return 0;

err_free_config:
    st_config_free(c);
err_free_props:
    config_props_free(&props);
    return rc;
}

void st_config_free(st_config_t *c) {
    if (!c)
        return;
    for (int32_t i = 0; i < CONFIG_BROKER_KEY_COUNT; i++) {
        free(c->slots[i].configured);
    }
    for (int32_t i = 0; i < c->unused_count; i++) {
        free(c->unused[i].name);
        free(c->unused[i].value);
    }
    free(c->unused);
    for (int32_t i = 0; i < c->listener_value_count; i++) {
        free(c->listener_values[i].listener);
        free(c->listener_values[i].configured);
    }
    free(c->listener_values);
    free(c);
}

/* ---- Getters --------------------------------------------------------------- */

static const slot_t *typed_slot(const st_config_t *c, const char *name, unsigned type_mask) {
    int i = st_config_broker_index(name);
    if (i < 0)
        config_misuse("unknown broker config", name);
    if (!(type_mask & (1u << config_broker_keys[i].type)))
        config_misuse("config read with the wrong type", name);
    return &c->slots[i];
}

#define MASK(t) (1u << (t))

int64_t st_config_get_long(const st_config_t *c, const char *name) {
    const slot_t *s = typed_slot(c, name, MASK(T_LONG) | MASK(T_INT) | MASK(T_SHORT));
    if (!s->has_value)
        config_misuse("numeric config has no value", name);
    return s->typed.l;
}

int32_t st_config_get_int(const st_config_t *c, const char *name) {
    const slot_t *s = typed_slot(c, name, MASK(T_INT) | MASK(T_SHORT));
    if (!s->has_value)
        config_misuse("numeric config has no value", name);
    return (int32_t)s->typed.l;
}

bool st_config_get_bool(const st_config_t *c, const char *name) {
    return typed_slot(c, name, MASK(T_BOOL))->typed.b;
}

double st_config_get_double(const st_config_t *c, const char *name) {
    return typed_slot(c, name, MASK(T_DBL))->typed.d;
}

const char *st_config_get_string(const st_config_t *c, const char *name) {
    const slot_t *s = typed_slot(c, name, MASK(T_STR) | MASK(T_LIST) | MASK(ST_CONFIG_TYPE_PASSWORD));
    return s->has_value ? s->string : NULL;
}

int64_t st_config_get_listener_long(const st_config_t *c, const char *listener, const char *name) {
    int idx = st_config_broker_index(name);
    if (idx < 0 || !(config_broker_keys[idx].flags & DEF_PER_LISTENER))
        config_misuse("not a per-listener config", name);
    /* Kafka's ListenerName.configPrefix lower-cases the name; accept either. */
    for (int32_t i = 0; listener && i < c->listener_value_count; i++)
        if (c->listener_values[i].index == idx && strcasecmp(c->listener_values[i].listener, listener) == 0)
            return c->listener_values[i].typed.l;
    return st_config_get_long(c, name);
}

bool st_config_is_set(const st_config_t *c, const char *name) {
    int i = st_config_broker_index(name);
    if (i < 0)
        config_misuse("unknown broker config", name);
    return c->slots[i].configured != NULL;
}

int32_t st_config_unused_count(const st_config_t *c) { return c->unused_count; }

void st_config_unused(const st_config_t *c, int32_t i, const char **name, const char **value) {
    if (i < 0 || i >= c->unused_count)
        config_misuse("unused key index out of range", "");
    *name = c->unused[i].name;
    *value = c->unused[i].value;
}

/* ---- DescribeConfigs views ------------------------------------------------- */

static void add_synonym(st_config_entry_view_t *out, const char *name, const char *value,
                        int8_t source, bool sensitive) {
    if (out->synonym_count >= ST_CONFIG_SYNONYMS_MAX)
        return;
    out->synonyms[out->synonym_count++] =
        (st_config_synonym_view_t){name, sensitive ? NULL : value, source};
}

/* Each broker synonym as configured (STATIC) and as defaulted (DEFAULT). */
static void add_broker_synonyms(const st_config_t *c, const char *const *names, int count,
                                st_config_entry_view_t *out) {
    for (int k = 0; k < count && names[k]; k++) {
        int j = st_config_broker_index(names[k]);
        if (j < 0)
            config_misuse("topic synonym is not a broker config", names[k]);
        bool sensitive = config_broker_keys[j].flags & DEF_SENSITIVE;
        if (c->slots[j].configured)
            add_synonym(out, config_broker_keys[j].name, c->slots[j].configured, ST_CONFIG_SOURCE_STATIC_BROKER, sensitive);
        if (config_broker_keys[j].default_value)
            add_synonym(out, config_broker_keys[j].name, config_broker_keys[j].default_value, ST_CONFIG_SOURCE_DEFAULT, sensitive);
    }
}

int32_t st_config_broker_entry_count(const st_config_t *c) {
    (void)c;
    return CONFIG_BROKER_KEY_COUNT;
}

void st_config_broker_entry(const st_config_t *c, int32_t i, st_config_entry_view_t *out) {
    if (i < 0 || i >= CONFIG_BROKER_KEY_COUNT)
        config_misuse("broker entry index out of range", "");
    const config_def_t *def = &config_broker_keys[i];
    const slot_t *slot = &c->slots[i];
    memset(out, 0, sizeof *out);
    out->name = def->name;
    out->sensitive = def->flags & DEF_SENSITIVE;
    out->read_only = def->flags & DEF_READ_ONLY;
    out->type = (int8_t)def->type;
    out->doc = def->doc;
    out->is_default = slot->configured == NULL;
    out->value = out->sensitive ? NULL : slot->configured ? slot->configured : def->default_value;
    /* A key that heads a topic synonym chain (log.retention.ms) lists the
     * whole chain, as Kafka's brokerSynonyms does. */
    const char *self[1] = {def->name};
    const char *const *chain = self;
    int chain_len = 1;
    for (int32_t t = 0; t < CONFIG_TOPIC_KEY_COUNT; t++) {
        if (strcmp(config_topic_keys[t].synonyms[0], def->name) == 0) {
            chain = config_topic_keys[t].synonyms;
            chain_len = ST_CONFIG_TOPIC_SYNONYMS_MAX;
            break;
        }
    }
    add_broker_synonyms(c, chain, chain_len, out);
    out->source = out->synonym_count > 0 ? out->synonyms[0].source : ST_CONFIG_SOURCE_DEFAULT;
}

int32_t st_topic_config_entry_count(void) { return CONFIG_TOPIC_KEY_COUNT; }

static const char *find_override(const char *name, int32_t n, const char *const *names,
                                 const char *const *values) {
    const char *found = NULL;
    for (int32_t k = 0; k < n; k++) {
        if (names[k] && values[k] && strcmp(names[k], name) == 0)
            found = values[k];
    }
    return found;
}

/* The effective broker value a topic key falls back to, as text. */
static const char *effective_text(const st_config_t *c, const topic_def_t *topic, char *buf, size_t len) {
    int j = st_config_broker_index(topic->synonyms[0]);
    const slot_t *slot = &c->slots[j];
    switch (config_broker_keys[j].type) {
    case T_BOOL: return slot->typed.b ? "true" : "false";
    case T_SHORT:
    case T_INT:
    case T_LONG: snprintf(buf, len, "%" PRId64, slot->typed.l); return buf;
    case T_DBL: return slot->configured ? slot->configured : config_broker_keys[j].default_value;
    default: return slot->string;
    }
}

void st_topic_config_entry(const st_config_t *broker, int32_t n, const char *const *names,
                           const char *const *values, int32_t i, st_config_entry_view_t *out) {
    if (i < 0 || i >= CONFIG_TOPIC_KEY_COUNT)
        config_misuse("topic entry index out of range", "");
    const topic_def_t *topic = &config_topic_keys[i];
    const config_def_t *def = &topic->def;
    memset(out, 0, sizeof *out);
    out->name = def->name;
    out->sensitive = def->flags & DEF_SENSITIVE;
    out->read_only = false;
    out->type = (int8_t)def->type;
    out->doc = def->doc;
    const char *override = find_override(def->name, n, names, values);
    if (override)
        add_synonym(out, def->name, override, ST_CONFIG_SOURCE_DYNAMIC_TOPIC, out->sensitive);
    add_broker_synonyms(broker, topic->synonyms, ST_CONFIG_TOPIC_SYNONYMS_MAX, out);
    out->is_default = override == NULL;
    out->source = out->synonym_count > 0 ? out->synonyms[0].source : ST_CONFIG_SOURCE_DEFAULT;
    if (out->sensitive)
        out->value = NULL;
    else if (override)
        out->value = override;
    else
        out->value = effective_text(broker, topic, out->value_buf, sizeof out->value_buf);
}

/* ---- Topic validation and settings ---------------------------------------- */

int st_topic_config_validate(const char *name, const char *value, char *msg, size_t msg_len) {
    int i = st_topic_config_index(name);
    if (i < 0) {
        config_set_msg(msg, msg_len, "Unknown topic config name: %s", name);
        return ST_ERR_INVALID_CONFIG;
    }
    if (!value) {
        config_set_msg(msg, msg_len, "Null value not supported for topic configs: %s", name);
        return ST_ERR_INVALID_CONFIG;
    }
    typed_t typed;
    return config_parse_value(&config_topic_keys[i].def, value, &typed, NULL, msg, msg_len);
}

static int codec_from_name(const char *s) {
    static const struct { const char *name; int codec; } codecs[] = {
        {"producer", -1}, {"uncompressed", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4},
    };
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        if (strcmp(codecs[k].name, s) == 0)
            return codecs[k].codec;
    }
    return -1;
}

static bool list_contains(const char *list, const char *word) {
    size_t wn = strlen(word);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == wn && memcmp(p, word, wn) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

/* Stores one topic key's value into its st_topic_settings_t field. */
static void apply_setting(st_topic_settings_t *out, const topic_def_t *topic, const typed_t *v, const char *s) {
    const config_def_t *def = &topic->def;
    if (topic->settings_offset >= 0) {
        char *field = (char *)out + topic->settings_offset;
        switch (def->type) {
        case T_LONG: *(int64_t *)(void *)field = v->l; break;
        case T_INT: *(int32_t *)(void *)field = (int32_t)v->l; break;
        case T_BOOL: *(bool *)(void *)field = v->b; break;
        case T_DBL: *(double *)(void *)field = v->d; break;
        default: config_misuse("settings field of a string key", def->name);
        }
        return;
    }
    if (strcmp(def->name, "cleanup.policy") == 0) {
        out->cleanup_delete = list_contains(s, "delete");
        out->cleanup_compact = list_contains(s, "compact");
    } else if (strcmp(def->name, "compression.type") == 0) {
        out->compression_type = codec_from_name(s);
    } else if (strcmp(def->name, "message.timestamp.type") == 0) {
        out->log_append_time = strcmp(s, "LogAppendTime") == 0;
    }
}

int st_topic_settings_resolve(const st_config_t *broker, int32_t n, const char *const *names,
                              const char *const *values, st_topic_settings_t *out) {
    memset(out, 0, sizeof *out);
    for (int32_t t = 0; t < CONFIG_TOPIC_KEY_COUNT; t++) {
        const slot_t *slot = &broker->slots[st_config_broker_index(config_topic_keys[t].synonyms[0])];
        apply_setting(out, &config_topic_keys[t], &slot->typed, slot->string);
    }
    int rc = 0;
    for (int32_t k = 0; k < n; k++) {
        int t = names[k] ? st_topic_config_index(names[k]) : -1;
        typed_t typed;
        char *normalized = NULL;
        if (t < 0 || !values[k] ||
            config_parse_value(&config_topic_keys[t].def, values[k], &typed, &normalized, NULL, 0) != 0) {
            rc = ST_ERR_INVALID_CONFIG;
            continue;
        }
        apply_setting(out, &config_topic_keys[t], &typed, normalized);
        free(normalized);
    }
    return rc;
}

int st_topic_config_validate_set(const st_config_t *broker, int32_t n, const char *const *names,
                                 const char *const *values, char *msg, size_t msg_len) {
    /* Kafka reports every null-valued key at once, before anything else. */
    bool any_null = false;
    char nulls[256] = "";
    size_t used = 0;
    for (int32_t k = 0; k < n; k++) {
        if (values[k] || !names[k])
            continue;
        int w = snprintf(nulls + used, sizeof nulls - used, "%s%s", any_null ? "," : "", names[k]);
        any_null = true;
        if (w > 0)
            used += (size_t)w < sizeof nulls - used ? (size_t)w : sizeof nulls - used - 1;
    }
    if (any_null) {
        config_set_msg(msg, msg_len, "Null value not supported for topic configs: %s", nulls);
        return ST_ERR_INVALID_CONFIG;
    }
    for (int32_t k = 0; k < n; k++) {
        int rc = st_topic_config_validate(names[k] ? names[k] : "", values[k], msg, msg_len);
        if (rc != 0)
            return rc;
    }
    st_topic_settings_t s;
    st_topic_settings_resolve(broker, n, names, values, &s);
    if (s.min_compaction_lag_ms > s.max_compaction_lag_ms) {
        config_set_msg(msg, msg_len, "conflict topic config setting min.compaction.lag.ms (%" PRId64
                ") > max.compaction.lag.ms (%" PRId64 ")", s.min_compaction_lag_ms, s.max_compaction_lag_ms);
        return ST_ERR_INVALID_CONFIG;
    }
    return 0;
}
