/*
 * `listeners` and `advertised.listeners` as Kafka reads them, over the
 * effective listener.security.protocol.map (common/config.h).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config_internal.h"
#include "common/errors.h"

/* ---- Listeners --------------------------------------------------------------- */

static const char *const k_security_protocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
#define SECURITY_PROTOCOL_COUNT ((int)(sizeof k_security_protocols / sizeof k_security_protocols[0]))
_Static_assert(SECURITY_PROTOCOL_COUNT == ST_SECURITY_PROTOCOL_SASL_SSL + 1, "one name per protocol");

const char *st_security_protocol_name(st_security_protocol_t protocol) {
    return (int)protocol >= 0 && (int)protocol < SECURITY_PROTOCOL_COUNT ? k_security_protocols[protocol] : "UNKNOWN";
}

/* SecurityProtocol.forName: any case. */
static bool security_protocol_parse(const char *s, size_t n, st_security_protocol_t *out) {
    for (int i = 0; i < SECURITY_PROTOCOL_COUNT; i++) {
        if (strlen(k_security_protocols[i]) == n && strncasecmp(k_security_protocols[i], s, n) == 0) {
            *out = (st_security_protocol_t)i;
            return true;
        }
    }
    return false;
}

/* Kafka's isSslOrSasl: the exact protocol names, as configured. */
static bool names_ssl_or_sasl(const char *s, size_t n) {
    for (int i = ST_SECURITY_PROTOCOL_SSL; i < SECURITY_PROTOCOL_COUNT; i++)
        if (strlen(k_security_protocols[i]) == n && memcmp(k_security_protocols[i], s, n) == 0)
            return true;
    return false;
}

/* The next comma-separated element of *cursor, trimmed; empty elements are
 * skipped (Kafka's Csv.parseCsvList). False at the end. */
static bool csv_next(const char **cursor, const char **start, size_t *len) {
    for (;;) {
        const char *s = *cursor;
        if (*s == '\0')
            return false;
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        *cursor = comma ? comma + 1 : end;
        const char *e = end;
        while (s < e && (unsigned char)*s <= ' ')
            s++;
        while (e > s && (unsigned char)e[-1] <= ' ')
            e--;
        if (e > s) {
            *start = s;
            *len = (size_t)(e - s);
            return true;
        }
    }
}

typedef struct protocol_map_entry {
    char name[ST_LISTENER_NAME_MAX_CHARS + 1];
    st_security_protocol_t protocol;
} protocol_map_entry_t;

typedef struct protocol_map {
    int32_t count;
    protocol_map_entry_t entries[ST_LISTENER_MAP_ENTRIES_MAX];
} protocol_map_t;

/* HashMap.put: a later entry for a name replaces the earlier one. */
static int protocol_map_put(protocol_map_t *map, const char *name, size_t n, st_security_protocol_t protocol,
                            char *err, size_t err_len) {
    if (n > ST_LISTENER_NAME_MAX_CHARS) {
        config_set_msg(err, err_len, "controller.listener.names: listener name %.*s is longer than %d characters", (int)n,
                name, ST_LISTENER_NAME_MAX_CHARS);
        return ST_ERR_INVALID_CONFIG;
    }
    for (int32_t i = 0; i < map->count; i++) {
        if (strlen(map->entries[i].name) == n && memcmp(map->entries[i].name, name, n) == 0) {
            map->entries[i].protocol = protocol;
            return 0;
        }
    }
    if (map->count == ST_LISTENER_MAP_ENTRIES_MAX) {
        config_set_msg(err, err_len, "listener.security.protocol.map has more than %d entries", ST_LISTENER_MAP_ENTRIES_MAX);
        return ST_ERR_INVALID_CONFIG;
    }
    protocol_map_entry_t *e = &map->entries[map->count++];
    memcpy(e->name, name, n);
    e->name[n] = '\0';
    e->protocol = protocol;
    return 0;
}

static bool protocol_map_get(const protocol_map_t *map, const char *name, st_security_protocol_t *out) {
    for (int32_t i = 0; i < map->count; i++) {
        if (strcmp(map->entries[i].name, name) == 0) {
            *out = map->entries[i].protocol;
            return true;
        }
    }
    return false;
}

static void upper_copy(char *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        out[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
    out[n] = '\0';
}

/* Kafka's effectiveListenerSecurityProtocolMap: the configured (or default)
 * map with normalised names, plus, while the map is not set explicitly and
 * nothing uses SSL or SASL, each controller listener name -> PLAINTEXT. */
static int effective_protocol_map(const st_config_t *c, protocol_map_t *map, char *err, size_t err_len) {
    map->count = 0;
    const char *value = st_config_get_string(c, "listener.security.protocol.map");
    const char *cursor = value ? value : "", *s;
    size_t n;
    while (csv_next(&cursor, &s, &n)) {
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':') colon = s + i;
        if (!colon) {
            config_set_msg(err, err_len, "Error parsing configuration property 'listener.security.protocol.map': "
                    "entry '%.*s' is not NAME:PROTOCOL", (int)n, s);
            return ST_ERR_INVALID_CONFIG;
        }
        size_t ka, kb, pa, pb;
        char key[ST_LISTENER_NAME_MAX_CHARS + 1], protocol_text[64];
        char *whole = config_xstrndup(s, n);
        size_t colon_at = (size_t)(colon - s);
        whole[colon_at] = '\0';
        config_trim_span(whole, &ka, &kb);
        config_trim_span(whole + colon_at + 1, &pa, &pb);
        snprintf(protocol_text, sizeof protocol_text, "%.*s", (int)(pb - pa), whole + colon_at + 1 + pa);
        st_security_protocol_t protocol;
        int rc = 0;
        if (!security_protocol_parse(whole + colon_at + 1 + pa, pb - pa, &protocol)) {
            config_set_msg(err, err_len, "Invalid security protocol `%s` defined in listener.security.protocol.map",
                    protocol_text);
            rc = ST_ERR_INVALID_CONFIG;
        } else if (kb - ka > ST_LISTENER_NAME_MAX_CHARS) {
            config_set_msg(err, err_len, "listener.security.protocol.map: listener name %.*s is longer than %d characters",
                    (int)(kb - ka), whole + ka, ST_LISTENER_NAME_MAX_CHARS);
            rc = ST_ERR_INVALID_CONFIG;
        } else {
            upper_copy(key, whole + ka, kb - ka);
            rc = protocol_map_put(map, key, kb - ka, protocol, err, err_len);
        }
        free(whole);
        if (rc != 0)
            return rc;
    }
    if (st_config_is_set(c, "listener.security.protocol.map"))
        return 0;
    const char *controllers = st_config_get_string(c, "controller.listener.names");
    bool ssl_or_sasl = false;
    cursor = controllers ? controllers : "";
    while (csv_next(&cursor, &s, &n))
        ssl_or_sasl |= names_ssl_or_sasl(s, n);
    const char *listeners = st_config_get_string(c, "listeners");
    cursor = listeners ? listeners : "";
    while (csv_next(&cursor, &s, &n)) {
        /* Kafka's parseListenerName: up to the first ':', upper-cased. */
        const char *colon = memchr(s, ':', n);
        if (colon && (size_t)(colon - s) <= ST_LISTENER_NAME_MAX_CHARS) {
            char name[ST_LISTENER_NAME_MAX_CHARS + 1];
            upper_copy(name, s, (size_t)(colon - s));
            ssl_or_sasl |= names_ssl_or_sasl(name, strlen(name));
        }
    }
    if (ssl_or_sasl)
        return 0;
    cursor = controllers ? controllers : "";
    while (csv_next(&cursor, &s, &n)) {
        if (n == strlen("PLAINTEXT") && memcmp(s, "PLAINTEXT", n) == 0)
            continue;
        int rc = protocol_map_put(map, s, n, ST_SECURITY_PROTOCOL_PLAINTEXT, err, err_len);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool host_char_ok(char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-' ||
           ch == '%' || ch == '.' || ch == '_' || ch == ':';
}

/*
 * One entry, as Kafka's URI_PARSE_REGEXP ^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)
 * matches it: the name is what precedes the last "://" (no host character
 * is a '/'), the port what follows the last ':'. The message is the part
 * after "Error creating broker listeners from '...': ".
 */
static int parse_endpoint(const char *s, size_t n, const protocol_map_t *map, st_listener_t *out, char *msg,
                          size_t msg_len) {
    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= n; i++)
        if (memcmp(s + i, "://", 3) == 0) sep = s + i;
    const char *rest = sep ? sep + 3 : NULL, *end = s + n;
    const char *colon = NULL;
    for (const char *p = rest; p && p < end; p++)
        if (*p == ':') colon = p;
    const char *host = rest, *host_end = colon;
    bool ok = colon != NULL;
    if (ok && host < host_end && *host == '[') host++;
    if (ok && host_end > host && host_end[-1] == ']') host_end--;
    for (const char *p = host; ok && p < host_end; p++)
        ok = host_char_ok(*p);
    int64_t port = 0;
    ok = ok && config_parse_int64(colon + 1, (size_t)(end - colon - 1), INT32_MIN, INT32_MAX, &port) &&
         colon[1] != '+';
    if (!ok) {
        config_set_msg(msg, msg_len, "Unable to parse %.*s to a broker endpoint", (int)n, s);
        return ST_ERR_INVALID_CONFIG;
    }
    size_t name_len = (size_t)(sep - s), host_len = (size_t)(host_end - host);
    if (name_len > ST_LISTENER_NAME_MAX_CHARS || host_len > ST_LISTENER_HOST_MAX_CHARS) {
        config_set_msg(msg, msg_len, "%s of %.*s is longer than %d characters",
                name_len > ST_LISTENER_NAME_MAX_CHARS ? "the listener name" : "the host", (int)n, s,
                name_len > ST_LISTENER_NAME_MAX_CHARS ? ST_LISTENER_NAME_MAX_CHARS : ST_LISTENER_HOST_MAX_CHARS);
        return ST_ERR_INVALID_CONFIG;
    }
    if (port < 0 || port > 65535) {
        config_set_msg(msg, msg_len, "port %" PRId64 " of %.*s is out of range [0, 65535]", port, (int)n, s);
        return ST_ERR_INVALID_CONFIG;
    }
    memset(out, 0, sizeof *out);
    upper_copy(out->name, s, name_len);
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = (int32_t)port;
    if (!protocol_map_get(map, out->name, &out->security_protocol)) {
        config_set_msg(msg, msg_len, "No security protocol defined for listener %s", out->name);
        return ST_ERR_INVALID_CONFIG;
    }
    return 0;
}

/* 4 for an IPv4 literal, 6 for IPv6 (a %zone allowed), 0 otherwise. */
static int ip_family(const char *host) {
    unsigned char addr[16];
    if (inet_pton(AF_INET, host, addr) == 1)
        return 4;
    char copy[ST_LISTENER_HOST_MAX_CHARS + 1];
    snprintf(copy, sizeof copy, "%s", host);
    copy[strcspn(copy, "%")] = '\0';
    return inet_pton(AF_INET6, copy, addr) == 1 ? 6 : 0;
}

/* AbstractKafkaConfig.validate's rule for the listeners sharing `port`:
 * writes Kafka's message and returns true when they may not. */
static bool port_conflict(const st_listeners_t *l, int32_t port, const char *value, char *msg, size_t msg_len) {
    int32_t with_ip = 0, without_ip = 0, v4 = 0, v6 = 0;
    for (int32_t i = 0; i < l->count; i++) {
        if (l->items[i].port != port)
            continue;
        int family = l->items[i].host[0] ? ip_family(l->items[i].host) : 0;
        with_ip += family != 0;
        without_ip += family == 0;
        v4 += family == 4;
        v6 += family == 6;
    }
    if (with_ip + without_ip < 2)
        return false;
    if (without_ip > 1) {
        config_set_msg(msg, msg_len, "Each listener must have a different port, listeners: %s", value);
        return true;
    }
    if (with_ip == 0 || (with_ip == 2 && v4 == 1 && v6 == 1 && without_ip == 0))
        return false;
    if (with_ip == 2)
        config_set_msg(msg, msg_len, "If you have two listeners on the same port then one needs to be IPv4 and the other "
                "IPv6, listeners: %s, port: %d", value, port);
    else
        config_set_msg(msg, msg_len, "Each listener must have a different port unless exactly one listener has an IPv4 "
                "address and the other IPv6 address, listeners: %s, port: %d", value, port);
    return true;
}

static bool csv_contains(const char *list, const char *word) {
    const char *cursor = list ? list : "", *s;
    size_t n;
    while (csv_next(&cursor, &s, &n))
        if (strlen(word) == n && memcmp(s, word, n) == 0)
            return true;
    return false;
}

static int parse_listener_list(const st_config_t *c, const char *value, bool distinct_ports, st_listeners_t *out,
                               char *err, size_t err_len) {
    out->count = 0;
    protocol_map_t map;
    int rc = effective_protocol_map(c, &map, err, err_len);
    if (rc != 0)
        return rc;
    const char *controllers = st_config_get_string(c, "controller.listener.names");
    char msg[512] = "";
    const char *cursor = value, *s;
    size_t n;
    while (rc == 0 && csv_next(&cursor, &s, &n)) {
        if (out->count == ST_LISTENERS_MAX) {
            config_set_msg(msg, sizeof msg, "more than %d listeners", ST_LISTENERS_MAX);
            rc = ST_ERR_INVALID_CONFIG;
            break;
        }
        st_listener_t *l = &out->items[out->count];
        rc = parse_endpoint(s, n, &map, l, msg, sizeof msg);
        if (rc == 0) {
            /* Kafka compares the names as configured to the normalised ones. */
            l->controller = csv_contains(controllers, l->name);
            out->count++;
        }
    }
    for (int32_t i = 0; rc == 0 && i < out->count; i++) {
        for (int32_t j = i + 1; rc == 0 && j < out->count; j++) {
            if (strcmp(out->items[i].name, out->items[j].name) == 0) {
                config_set_msg(msg, sizeof msg, "Each listener must have a different name, listeners: %s", value);
                rc = ST_ERR_INVALID_CONFIG;
            }
        }
    }
    for (int32_t i = 0; rc == 0 && distinct_ports && i < out->count; i++)
        if (out->items[i].port != 0 && port_conflict(out, out->items[i].port, value, msg, sizeof msg))
            rc = ST_ERR_INVALID_CONFIG;
    if (rc != 0) {
        config_set_msg(err, err_len, "Error creating broker listeners from '%s': %s", value, msg);
        out->count = 0;
    }
    return rc;
}

int st_config_listeners(const st_config_t *c, st_listeners_t *out, char *err, size_t err_len) {
    const char *value = st_config_get_string(c, "listeners");
    return parse_listener_list(c, value ? value : "", true, out, err, err_len);
}

/* "A,B" into buf: the names of `l`, without controller listeners when
 * brokers_only. */
static void join_listener_names(const st_listeners_t *l, bool brokers_only, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < l->count; i++) {
        if (brokers_only && l->items[i].controller)
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", l->items[i].name);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

int st_config_advertised_listeners(const st_config_t *c, st_listeners_t *out, char *err, size_t err_len) {
    out->count = 0;
    const char *value = st_config_get_string(c, "advertised.listeners");
    if (!value)
        return 0;
    int rc = parse_listener_list(c, value, false, out, err, err_len);
    if (rc != 0)
        return rc;
    st_listeners_t bound;
    rc = st_config_listeners(c, &bound, err, err_len);
    for (int32_t i = 0; rc == 0 && i < out->count; i++) {
        const st_listener_t *a = &out->items[i];
        bool known = a->controller;
        for (int32_t j = 0; !known && j < bound.count; j++)
            known = strcmp(bound.items[j].name, a->name) == 0;
        if (!known) {
            char found[256], valid[256];
            join_listener_names(out, true, found, sizeof found);
            join_listener_names(&bound, false, valid, sizeof valid);
            config_set_msg(err, err_len,
                    "advertised.listeners listener names must be equal to or a subset of the ones defined in "
                    "listeners. Found %s. The valid options based on the current configuration are %s",
                    found, valid);
            rc = ST_ERR_INVALID_CONFIG;
        } else if (strcmp(a->host, "0.0.0.0") == 0) {
            config_set_msg(err, err_len, "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. "
                    "Use a routable IP address.");
            rc = ST_ERR_INVALID_CONFIG;
        }
    }
    if (rc != 0)
        out->count = 0;
    return rc;
}

