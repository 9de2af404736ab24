/*
 * Reading values and files the way Kafka does: ConfigDef's parsing and
 * validators, a java.util.Properties reader, and the small helpers the other
 * config files share (config_internal.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config_internal.h"
#include "common/errors.h"

/* ---- Small helpers -------------------------------------------------------- */

void *config_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "st_config: out of memory\n");
        abort();
    }
    return q;
}

char *config_xstrndup(const char *s, size_t n) {
    char *d = config_xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *config_xstrdup(const char *s) { return config_xstrndup(s, strlen(s)); }

_Noreturn void config_misuse(const char *what, const char *name) {
    fprintf(stderr, "st_config: %s: %s\n", what, name);
    abort();
}

/* Java String.trim(): strips every char <= ' ' from both ends. */
void config_trim_span(const char *s, size_t *start, size_t *end) {
    size_t a = 0, b = strlen(s);
    while (a < b && (unsigned char)s[a] <= ' ')
        a++;
    while (b > a && (unsigned char)s[b - 1] <= ' ')
        b--;
    *start = a;
    *end = b;
}

void config_set_msg(char *msg, size_t len, const char *fmt, ...) {
    if (!msg || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
}

static const char *type_name(st_config_type_t t) {
    switch (t) {
    case T_BOOL: return "BOOLEAN";
    case T_STR: return "STRING";
    case T_INT: return "INT";
    case T_SHORT: return "SHORT";
    case T_LONG: return "LONG";
    case T_DBL: return "DOUBLE";
    case T_LIST: return "LIST";
    default: return "UNKNOWN";
    }
}

static bool in_valid(const char *const *valid, const char *s, size_t n) {
    for (; *valid; valid++) {
        if (strlen(*valid) == n && memcmp(*valid, s, n) == 0)
            return true;
    }
    return false;
}

static void join_valid(const char *const *valid, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (const char *const *v = valid; *v; v++) {
        int w = snprintf(buf + used, len - used, "%s%s", v == valid ? "" : ", ", *v);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

/* Java Long.parseLong over s[0..n): optional sign, then only digits. */
bool config_parse_int64(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out) {
    size_t i = 0;
    bool negative = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        negative = s[i++] == '-';
    if (i == n)
        return false;
    /* Accumulate negatively so INT64_MIN parses. */
    int64_t acc = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int digit = s[i] - '0';
        if (acc < (INT64_MIN + digit) / 10)
            return false;
        acc = acc * 10 - digit;
    }
    if (!negative) {
        if (acc == INT64_MIN)
            return false;
        acc = -acc;
    }
    if (acc < lo || acc > hi)
        return false;
    *out = acc;
    return true;
}

/* ---- Value parsing (ConfigDef.parseType + validators) --------------------- */

static int invalid_value(char *msg, size_t len, const char *name, const char *value,
                         const char *reason) {
    config_set_msg(msg, len, "Invalid value %s for configuration %s: %s", value, name, reason);
    return ST_ERR_INVALID_CONFIG;
}

int config_parse_value(const config_def_t *def, const char *value, typed_t *out, char **normalized,
                       char *msg, size_t msg_len) {
    size_t a, b;
    config_trim_span(value, &a, &b);
    const char *s = value + a;
    size_t n = b - a;
    char trimmed[128]; /* the value as messages quote it */
    snprintf(trimmed, sizeof trimmed, "%.*s", (int)(n < sizeof trimmed ? n : sizeof trimmed - 1), s);
    char reason[160];
    memset(out, 0, sizeof *out);

    switch (def->type) {
    case T_BOOL:
        if (n == 4 && strncasecmp(s, "true", 4) == 0)
            out->b = true;
        else if (n == 5 && strncasecmp(s, "false", 5) == 0)
            out->b = false;
        else
            return invalid_value(msg, msg_len, def->name, trimmed, "Expected value to be either true or false");
        if (normalized)
            *normalized = config_xstrdup(out->b ? "true" : "false");
        return 0;
    case T_SHORT:
    case T_INT:
    case T_LONG: {
        int64_t lo = def->type == T_SHORT ? INT16_MIN : def->type == T_INT ? INT32_MIN : INT64_MIN;
        int64_t hi = def->type == T_SHORT ? INT16_MAX : def->type == T_INT ? INT32_MAX : INT64_MAX;
        if (!config_parse_int64(s, n, lo, hi, &out->l)) {
            snprintf(reason, sizeof reason, "Not a number of type %s", type_name(def->type));
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (out->l < def->min) {
            snprintf(reason, sizeof reason, "Value must be at least %" PRId64, def->min);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (out->l > def->max) {
            snprintf(reason, sizeof reason, "Value must be no more than %" PRId64, def->max);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (normalized) {
            char buf[24];
            snprintf(buf, sizeof buf, "%" PRId64, out->l);
            *normalized = config_xstrdup(buf);
        }
        return 0;
    }
    case T_DBL: {
        char buf[64];
        char *end = NULL;
        if (n == 0 || n >= sizeof buf)
            return invalid_value(msg, msg_len, def->name, trimmed, "Not a number of type DOUBLE");
        memcpy(buf, s, n);
        buf[n] = '\0';
        out->d = strtod(buf, &end);
        if (end != buf + n || !isfinite(out->d))
            return invalid_value(msg, msg_len, def->name, trimmed, "Not a number of type DOUBLE");
        if (out->d < (double)def->min) {
            snprintf(reason, sizeof reason, "Value must be at least %" PRId64, def->min);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (out->d > (double)def->max) {
            snprintf(reason, sizeof reason, "Value must be no more than %" PRId64, def->max);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (normalized)
            *normalized = config_xstrdup(buf);
        return 0;
    }
    case T_LIST: {
        /* Split on commas, trim each element; an all-blank value is the empty
         * list. Each element is checked against the valid set, and the error
         * names the element, as ValidList does. */
        char *joined = config_xrealloc(NULL, n + 1);
        size_t used = 0;
        size_t pos = 0;
        while (n > 0) {
            size_t comma = pos;
            while (comma < n && s[comma] != ',')
                comma++;
            size_t ea = pos, eb = comma;
            while (ea < eb && (unsigned char)s[ea] <= ' ')
                ea++;
            while (eb > ea && (unsigned char)s[eb - 1] <= ' ')
                eb--;
            if (def->valid && !in_valid(def->valid, s + ea, eb - ea)) {
                char element[64], valid[128];
                snprintf(element, sizeof element, "%.*s", (int)(eb - ea < 63 ? eb - ea : 63), s + ea);
                join_valid(def->valid, valid, sizeof valid);
                snprintf(reason, sizeof reason, "String must be one of: %s", valid);
                free(joined);
                return invalid_value(msg, msg_len, def->name, element, reason);
            }
            if (used > 0)
                joined[used++] = ',';
            memcpy(joined + used, s + ea, eb - ea);
            used += eb - ea;
            if (comma >= n)
                break;
            pos = comma + 1;
        }
        joined[used] = '\0';
        if (normalized)
            *normalized = joined;
        else
            free(joined);
        return 0;
    }
    default: /* STRING, PASSWORD, CLASS */
        if (def->valid && !in_valid(def->valid, s, n)) {
            char valid[128];
            join_valid(def->valid, valid, sizeof valid);
            snprintf(reason, sizeof reason, "String must be one of: %s", valid);
            return invalid_value(msg, msg_len, def->name, trimmed, reason);
        }
        if (normalized)
            *normalized = config_xstrndup(s, n);
        return 0;
    }
}

void config_props_add(props_t *p, char *key, char *value, int line) {
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->items = config_xrealloc(p->items, (size_t)p->cap * sizeof *p->items);
    }
    p->items[p->count++] = (prop_t){key, value, line};
}

void config_props_free(props_t *p) {
    for (int32_t i = 0; i < p->count; i++) {
        free(p->items[i].key);
        free(p->items[i].value);
    }
    free(p->items);
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\f'; }
static bool is_eol(char c) { return c == '\n' || c == '\r'; }

static size_t consume_eol(const char *t, size_t len, size_t pos) {
    if (t[pos] == '\r' && pos + 1 < len && t[pos + 1] == '\n')
        return pos + 2;
    return pos + 1;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/*
 * Appends the escape starting after the backslash at line[*i] to out, and
 * advances *i past it. \t \n \r \f map to controls, \uXXXX to UTF-8 (BMP,
 * no surrogates), anything else to itself. Returns false on a malformed \u.
 */
static bool unescape(const char *line, size_t n, size_t *i, char *out, size_t *used) {
    char c = line[*i];
    (*i)++;
    switch (c) {
    case 't': out[(*used)++] = '\t'; return true;
    case 'n': out[(*used)++] = '\n'; return true;
    case 'r': out[(*used)++] = '\r'; return true;
    case 'f': out[(*used)++] = '\f'; return true;
    case 'u': {
        unsigned cp = 0;
        if (*i + 4 > n)
            return false;
        for (int k = 0; k < 4; k++) {
            int h = hex_value(line[*i + (size_t)k]);
            if (h < 0)
                return false;
            cp = cp * 16 + (unsigned)h;
        }
        *i += 4;
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return false;
        /* "\uXXXX" is 6 bytes of input; UTF-8 needs at most 3: never grows. */
        if (cp < 0x80) {
            out[(*used)++] = (char)cp;
        } else if (cp < 0x800) {
            out[(*used)++] = (char)(0xC0 | (cp >> 6));
            out[(*used)++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[(*used)++] = (char)(0xE0 | (cp >> 12));
            out[(*used)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[(*used)++] = (char)(0x80 | (cp & 0x3F));
        }
        return true;
    }
    default: out[(*used)++] = c; return true;
    }
}

/* Splits one logical line into key and value, applying escapes. */
static bool split_logical_line(const char *line, size_t n, char **key, char **value) {
    char *k = config_xrealloc(NULL, n + 1), *v = config_xrealloc(NULL, n + 1);
    size_t kn = 0, vn = 0, i = 0;
    while (i < n) {
        char c = line[i];
        if (c == '\\') {
            i++;
            if (i < n && !unescape(line, n, &i, k, &kn))
                goto err_free;
            continue;
        }
        if (c == '=' || c == ':' || is_ws(c))
            break;
        k[kn++] = c;
        i++;
    }
    while (i < n && is_ws(line[i]))
        i++;
    if (i < n && (line[i] == '=' || line[i] == ':'))
        i++;
    while (i < n && is_ws(line[i]))
        i++;
    while (i < n) {
        if (line[i] == '\\') {
            i++;
            if (i < n && !unescape(line, n, &i, v, &vn))
                goto err_free;
            continue;
        }
        v[vn++] = line[i++];
    }
    k[kn] = '\0';
    v[vn] = '\0';
    *key = k;
    *value = v;
    return true;
err_free:
    free(k);
    free(v);
    return false;
}

/*
 * java.util.Properties.load over `text`: natural lines end in \n, \r or
 * \r\n; leading blanks are skipped; '#' or '!' starts a comment line; a line
 * ending in an odd number of backslashes continues on the next, whose
 * leading blanks are skipped; the key ends at the first unescaped '=', ':'
 * or blank.
 */
int config_parse_properties(const char *text, size_t len, const char *path, props_t *out, char *err,
                            size_t err_len) {
    char *buf = config_xrealloc(NULL, len + 1);
    size_t pos = 0;
    int line_no = 1;
    while (pos < len) {
        while (pos < len && is_ws(text[pos]))
            pos++;
        if (pos >= len)
            break;
        if (is_eol(text[pos])) {
            pos = consume_eol(text, len, pos);
            line_no++;
            continue;
        }
        if (text[pos] == '#' || text[pos] == '!') {
            while (pos < len && !is_eol(text[pos]))
                pos++;
            if (pos < len)
                pos = consume_eol(text, len, pos);
            line_no++;
            continue;
        }
        int start_line = line_no;
        size_t n = 0;
        for (;;) {
            size_t s = pos;
            while (pos < len && !is_eol(text[pos]))
                pos++;
            size_t e = pos, backslashes = 0;
            while (e - backslashes > s && text[e - backslashes - 1] == '\\')
                backslashes++;
            bool continues = backslashes % 2 == 1;
            size_t copy_end = continues ? e - 1 : e;
            memcpy(buf + n, text + s, copy_end - s);
            n += copy_end - s;
            if (pos < len) {
                pos = consume_eol(text, len, pos);
                line_no++;
            }
            if (!continues || pos >= len)
                break;
            while (pos < len && is_ws(text[pos]))
                pos++;
        }
        char *key, *value;
        if (!split_logical_line(buf, n, &key, &value)) {
            config_set_msg(err, err_len, "%s:%d: Malformed \\uxxxx encoding", path, start_line);
            free(buf);
            return ST_ERR_INVALID_CONFIG;
        }
        config_props_add(out, key, value, start_line);
    }
    free(buf);
    return 0;
}

int config_read_file(const char *path, char **text, size_t *len, char *err, size_t err_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        config_set_msg(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return ST_ERR_IO;
    }
    char *buf = config_xrealloc(NULL, ST_CONFIG_FILE_MAX_BYTES + 1);
    size_t n = fread(buf, 1, ST_CONFIG_FILE_MAX_BYTES + 1, f);
    int rc = 0;
    if (ferror(f)) {
        config_set_msg(err, err_len, "%s: read failed", path);
        rc = ST_ERR_IO;
    } else if (n > ST_CONFIG_FILE_MAX_BYTES) {
        config_set_msg(err, err_len, "%s: larger than %d bytes", path, ST_CONFIG_FILE_MAX_BYTES);
        rc = ST_ERR_LIMIT;
    }
    fclose(f);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return 0;
}

