/*
 * What the configuration files share; nothing outside common/config*.c
 * includes this. The public API is common/config.h.
 *
 * The module, one concern per file:
 *   config_keys.c       the two key tables (names, types, defaults,
 *                       validators, docs) and the lookups by name;
 *   config_parse.c      Kafka's ConfigDef value parsing, the
 *                       java.util.Properties reader, small helpers;
 *   config_store.c      loading (file + overrides, derived values), the
 *                       typed getters, DescribeConfigs views and topic
 *                       settings;
 *   config_listeners.c  `listeners` and `advertised.listeners`.
 * The store is config_store.c, not config.c: tools/check_layers.py counts
 * a .c and its .h as one module, and config.c including this header, which
 * includes config.h, would be a circle.
 *
 * Invariants:
 *  1. Every key has exactly one line in config_broker_keys or
 *     config_topic_keys; a default other code relies on is spelled once in
 *     common/limits.h and stringified into that line; nothing else in
 *     Strata spells a default.
 *  2. Every topic key's synonyms[0] is a broker key of the same type; the
 *     broker slot of synonyms[0] holds the effective value the topic falls
 *     back to (derivations such as log.retention.hours -> log.retention.ms
 *     are applied into that slot at load).
 *  3. After a successful load every broker slot either has a value (typed
 *     and, for strings, `string`) or is one of Kafka's null-default keys.
 *
 * Value parsing follows Kafka's ConfigDef: the value is trimmed (Java
 * String.trim), numbers are Java parseInt/parseLong (optional sign, digits,
 * nothing else, in range of the type), booleans are true/false in any case,
 * STRING enums are case-sensitive, LIST splits on commas and trims each
 * element. Error text is ConfigException's: "Invalid value V for
 * configuration K: REASON".
 */
#ifndef ST_COMMON_CONFIG_INTERNAL_H
#define ST_COMMON_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* ---- The tables (config_keys.c) -------------------------------------------- */

enum { DEF_READ_ONLY = 1, DEF_SENSITIVE = 2, DEF_PER_LISTENER = 4 };

typedef struct config_def {
    const char *name;
    st_config_type_t type;
    const char *default_value; /* NULL: Kafka's null; topic keys use the broker's */
    int64_t min, max;          /* inclusive bounds for numbers */
    const char *const *valid;  /* STRING: one of these; LIST: each element one of these */
    uint8_t flags;
    const char *doc;
} config_def_t;

typedef struct topic_def {
    config_def_t def;          /* default_value is unused: the broker's applies */
    const char *synonyms[ST_CONFIG_TOPIC_SYNONYMS_MAX]; /* broker keys in Kafka's precedence order */
    int settings_offset;       /* field in st_topic_settings_t, or NO_FIELD */
} topic_def_t;

#define T_BOOL ST_CONFIG_TYPE_BOOLEAN
#define T_STR ST_CONFIG_TYPE_STRING
#define T_INT ST_CONFIG_TYPE_INT
#define T_SHORT ST_CONFIG_TYPE_SHORT
#define T_LONG ST_CONFIG_TYPE_LONG
#define T_DBL ST_CONFIG_TYPE_DOUBLE
#define T_LIST ST_CONFIG_TYPE_LIST

/* One line per key in each table; config_keys.c asserts the counts, so a key
 * added to a table is added here too. */
#define CONFIG_BROKER_KEY_COUNT 80
#define CONFIG_TOPIC_KEY_COUNT 24
extern const config_def_t config_broker_keys[CONFIG_BROKER_KEY_COUNT];
extern const topic_def_t config_topic_keys[CONFIG_TOPIC_KEY_COUNT];

/* ---- The loaded config (config.c) ------------------------------------------ */

typedef struct typed {
    int64_t l;
    double d;
    bool b;
} typed_t;

typedef struct slot {
    char *configured;   /* normalized value from file/override (owned); NULL when unset */
    bool has_value;     /* false only for unset null-default keys */
    typed_t typed;      /* effective value for numbers and booleans */
    const char *string; /* effective value for STRING/LIST/PASSWORD */
} slot_t;

typedef struct unused_key {
    char *name;
    char *value;
} unused_key_t;

/* A listener.name.<listener>.<key> value of a PER_LISTENER key. */
typedef struct listener_value {
    char *listener; /* as written in the key (Kafka writes it lower-case) */
    int32_t index;  /* of the broker key */
    typed_t typed;
    char *configured;
} listener_value_t;

struct st_config {
    slot_t slots[CONFIG_BROKER_KEY_COUNT];
    unused_key_t *unused;
    int32_t unused_count;
    listener_value_t *listener_values;
    int32_t listener_value_count;
};

/* ---- Helpers and value parsing (config_parse.c) ---------------------------- */

/* Allocation failure aborts (common/config.h says why). */
void *config_xrealloc(void *p, size_t n);
char *config_xstrndup(const char *s, size_t n);
char *config_xstrdup(const char *s);
/* A programming error: a caller named a key that is not in the table or asked
 * for the wrong type. Prints `what: name` and aborts. */
_Noreturn void config_misuse(const char *what, const char *name);
/* Java String.trim(): [*start, *end) of `s` without chars <= ' ' at either end. */
void config_trim_span(const char *s, size_t *start, size_t *end);
/* snprintf into msg[len]; does nothing when msg is NULL or len is 0. */
void config_set_msg(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Java Long.parseLong over s[0..n), then the range [lo, hi]. */
bool config_parse_int64(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out);
/*
 * Parses `value` as `def` says into `out`. When `normalized` is not NULL it
 * receives a new string with the value as Kafka would print it (caller
 * frees). Returns 0 or ST_ERR_INVALID_CONFIG with the message in `msg`.
 */
int config_parse_value(const config_def_t *def, const char *value, typed_t *out, char **normalized,
                       char *msg, size_t msg_len);

/* ---- java.util.Properties reader (config_parse.c) -------------------------- */

typedef struct prop {
    char *key;
    char *value;
    int line; /* 1-based line in the file; 0 for an override */
} prop_t;

typedef struct props {
    prop_t *items;
    int32_t count;
    int32_t cap;
} props_t;

/* Appends one pair; takes ownership of `key` and `value`. */
void config_props_add(props_t *p, char *key, char *value, int line);
void config_props_free(props_t *p);
/* java.util.Properties.load over text[0..len), appending to `out`. Returns 0
 * or ST_ERR_INVALID_CONFIG with "path:line: ..." in `err`. */
int config_parse_properties(const char *text, size_t len, const char *path, props_t *out, char *err,
                            size_t err_len);
/* Reads the whole of `path` into a new *text (caller frees). Returns 0,
 * ST_ERR_IO or ST_ERR_LIMIT (over ST_CONFIG_FILE_MAX_BYTES), with `err`. */
int config_read_file(const char *path, char **text, size_t *len, char *err, size_t err_len);

#endif
