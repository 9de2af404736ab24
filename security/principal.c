#include "security/principal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "security/regex.h"

typedef struct rule {
    bool is_default;
    st_regex_t *pattern;
    char *replacement;
    bool lower, upper;
} rule_t;

struct st_principal_mapper {
    rule_t rules[ST_PRINCIPAL_RULES_MAX];
    int count;
};

/* Kafka's SslPrincipalMapper.RULE_PATTERN and RULE_SPLITTER, verbatim in
 * meaning: (DEFAULT) | RULE:pattern/replacement/[LU] | anything. */
#define RULE_PATTERN "(DEFAULT)|RULE:((\\\\.|[^\\\\/])*)/((\\\\.|[^\\\\/])*)/([LU]?).*?|(.*?)"
static const char RULE_SPLITTER[] = "\\s*(" RULE_PATTERN ")\\s*(,\\s*|$)";
static const char RULE_PARSER[] = RULE_PATTERN;

void st_principal_mapper_free(st_principal_mapper_t *m) {
    if (!m) return;
    for (int i = 0; i < m->count; i++) {
        st_regex_free(m->rules[i].pattern);
        free(m->rules[i].replacement);
    }
    free(m);
}

int st_principal_mapper_rule_count(const st_principal_mapper_t *m) { return m->count; }

static bool is_java_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Parses one rule (Kafka's parseRules body). 0, 1 for an empty rule
 * (ignored, as Kafka does), -1 with an error. */
static int parse_rule(st_principal_mapper_t *m, const st_regex_t *parser, const char *rule, size_t len, char *error,
                      size_t cap) {
    st_regex_match_t g;
    st_regex_result_t r = st_regex_exec(parser, rule, len, 0, ST_REGEX_LOOKING_AT, &g);
    if (r != ST_REGEX_MATCH) {
        snprintf(error, cap, "Invalid rule: %.*s", (int)len, rule);
        return -1;
    }
    if ((size_t)g.ends[0] != len) {
        snprintf(error, cap, "Invalid rule: `%.*s`, unmatched substring: `%.*s`", (int)len, rule,
                 (int)(len - (size_t)g.ends[0]), rule + g.ends[0]);
        return -1;
    }
    if (g.starts[1] < 0 && g.starts[2] < 0) return 1;
    if (m->count == ST_PRINCIPAL_RULES_MAX) {
        snprintf(error, cap, "more than %d rules", ST_PRINCIPAL_RULES_MAX);
        return -1;
    }
    rule_t *out = &m->rules[m->count];
    memset(out, 0, sizeof *out);
    if (g.starts[1] >= 0) {
        out->is_default = true;
        m->count++;
        return 0;
    }
    char why[192];
    out->pattern = st_regex_compile(rule + g.starts[2], (size_t)(g.ends[2] - g.starts[2]), why, sizeof why);
    if (!out->pattern) {
        snprintf(error, cap, "Invalid rule: %.*s: %s", (int)len, rule, why);
        return -1;
    }
    out->replacement = strndup(rule + g.starts[4], (size_t)(g.ends[4] - g.starts[4]));
    if (!out->replacement) {
        st_regex_free(out->pattern);
        snprintf(error, cap, "out of memory");
        return -1;
    }
    if (g.starts[6] >= 0 && g.ends[6] > g.starts[6]) {
        out->lower = rule[g.starts[6]] == 'L';
        out->upper = rule[g.starts[6]] == 'U';
    }
    m->count++;
    return 0;
}

st_principal_mapper_t *st_principal_mapper_new(const char *rules, char *error, size_t cap) {
    if (!rules) rules = ST_PRINCIPAL_DEFAULT_RULES;
    st_principal_mapper_t *m = calloc(1, sizeof *m);
    char why[192];
    st_regex_t *splitter = st_regex_compile(RULE_SPLITTER, sizeof RULE_SPLITTER - 1, why, sizeof why);
    st_regex_t *parser = st_regex_compile(RULE_PARSER, sizeof RULE_PARSER - 1, why, sizeof why);
    if (!m || !splitter || !parser) {
        snprintf(error, cap, "cannot build the rule parser: %s", m ? why : "out of memory");
        goto err_free;
    }
    /* Kafka trims the whole string first. */
    size_t start = 0, len = strlen(rules);
    while (start < len && is_java_space(rules[start])) start++;
    while (len > start && is_java_space(rules[len - 1])) len--;
    const char *text = rules + start;
    size_t text_len = len - start;
    /* Java's Matcher.find loop: after an empty match, search from one past it. */
    size_t from = 0;
    long last_start = -1, last_end = 0;
    for (int guard = 0; guard < 4 * ST_PRINCIPAL_RULES_MAX + 8; guard++) {
        size_t next = (size_t)last_end;
        if ((long)next == last_start) next++;
        if (next > text_len) break;
        from = next;
        st_regex_match_t g;
        st_regex_result_t r = st_regex_exec(splitter, text, text_len, from, ST_REGEX_FIND, &g);
        if (r == ST_REGEX_BUDGET) {
            snprintf(error, cap, "rules too complex to split");
            goto err_free;
        }
        if (r != ST_REGEX_MATCH) break;
        if (parse_rule(m, parser, text + g.starts[1], (size_t)(g.ends[1] - g.starts[1]), error, cap) < 0)
            goto err_free;
        last_start = g.starts[0];
        last_end = g.ends[0];
    }
    st_regex_free(splitter);
    st_regex_free(parser);
    return m;
err_free:
    st_regex_free(splitter);
    st_regex_free(parser);
    st_principal_mapper_free(m);
    return NULL;
}

typedef struct out_buf {
    char *p;
    size_t cap, len;
    bool overflow;
} out_buf_t;

static void put(out_buf_t *o, const char *s, size_t n) {
    if (o->len + n >= o->cap) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Java's Matcher.appendReplacement for one match, after Kafka's
 * escapeLiteralBackReferences (a $n naming no group is literal when the
 * pattern has groups). 0 or INVALID_REQUEST. */
static int append_replacement(out_buf_t *o, const char *replacement, const char *dn, const st_regex_match_t *g,
                              int groups) {
    for (const char *r = replacement; *r;) {
        if (*r == '\\') {
            if (!r[1]) return ST_ERR_INVALID_REQUEST; /* "character to be escaped is missing" */
            put(o, r + 1, 1);
            r += 2;
        } else if (*r == '$') {
            if (!isdigit((unsigned char)r[1])) return ST_ERR_INVALID_REQUEST; /* "Illegal group reference" */
            int ref = r[1] - '0';
            if (groups > 0 && ref != 0 && ref > groups) {
                /* Kafka escapes it: a literal "$" and the digits follow. */
                put(o, "$", 1);
                r++;
                continue;
            }
            if (ref > groups) return ST_ERR_INVALID_REQUEST; /* "No group N" */
            r += 2;
            /* Java takes more digits while the number still names a group. */
            while (isdigit((unsigned char)*r) && ref * 10 + (*r - '0') <= groups) {
                ref = ref * 10 + (*r - '0');
                r++;
            }
            if (g->starts[ref] >= 0) put(o, dn + g->starts[ref], (size_t)(g->ends[ref] - g->starts[ref]));
        } else {
            put(o, r, 1);
            r++;
        }
    }
    return 0;
}

/* Java's String.replaceAll(pattern, replacement) over the whole DN. */
static int replace_all(const rule_t *rule, const char *dn, size_t len, out_buf_t *o) {
    int groups = st_regex_group_count(rule->pattern);
    long last_start = -1, last_end = 0, copied = 0;
    for (;;) {
        long next = last_end;
        if (next == last_start) next++;
        if (next > (long)len) break;
        st_regex_match_t g;
        st_regex_result_t r = st_regex_exec(rule->pattern, dn, len, (size_t)next, ST_REGEX_FIND, &g);
        if (r == ST_REGEX_BUDGET) return ST_ERR_LIMIT;
        if (r != ST_REGEX_MATCH) break;
        put(o, dn + copied, (size_t)(g.starts[0] - copied));
        int rc = append_replacement(o, rule->replacement, dn, &g, groups);
        if (rc != 0) return rc;
        copied = g.ends[0];
        last_start = g.starts[0];
        last_end = g.ends[0];
    }
    put(o, dn + copied, len - (size_t)copied);
    return o->overflow ? ST_ERR_LIMIT : 0;
}

int st_principal_mapper_map(const st_principal_mapper_t *m, const char *dn, char *out, size_t cap) {
    size_t len = strlen(dn);
    if (len > ST_DN_BYTES_MAX || cap == 0) return ST_ERR_LIMIT;
    for (int i = 0; i < m->count; i++) {
        const rule_t *rule = &m->rules[i];
        out_buf_t o = {out, cap, 0, false};
        if (rule->is_default) {
            put(&o, dn, len);
            if (o.overflow) return ST_ERR_LIMIT;
            out[o.len] = '\0';
            return 0;
        }
        st_regex_match_t g;
        st_regex_result_t r = st_regex_exec(rule->pattern, dn, len, 0, ST_REGEX_MATCHES, &g);
        if (r == ST_REGEX_BUDGET) return ST_ERR_LIMIT;
        if (r != ST_REGEX_MATCH) continue;
        int rc = replace_all(rule, dn, len, &o);
        if (rc != 0) return rc;
        out[o.len] = '\0';
        for (size_t k = 0; k < o.len; k++) {
            /* Locale.ENGLISH: ASCII case mapping. */
            if (rule->lower) out[k] = (char)tolower((unsigned char)out[k]);
            else if (rule->upper) out[k] = (char)toupper((unsigned char)out[k]);
        }
        return 0;
    }
    return ST_ERR_NOT_FOUND;
}

int st_principal_for_ssl(const st_principal_mapper_t *m, const char *dn, char *out, size_t cap) {
    if (!dn) {
        if (cap < sizeof ST_PRINCIPAL_ANONYMOUS) return ST_ERR_LIMIT;
        memcpy(out, ST_PRINCIPAL_ANONYMOUS, sizeof ST_PRINCIPAL_ANONYMOUS);
        return 0;
    }
    if (cap < 6) return ST_ERR_LIMIT;
    memcpy(out, "User:", 5);
    return st_principal_mapper_map(m, dn, out + 5, cap - 5);
}
