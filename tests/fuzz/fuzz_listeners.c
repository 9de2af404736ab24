/* The listener parsers (common/config_listeners.c): `listeners`, `advertised.listeners`
 * and `listener.security.protocol.map` as an operator may write them. The
 * input is split at newlines into the three values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

static void check(const st_listeners_t *l) {
    if (l->count < 0 || l->count > ST_LISTENERS_MAX) abort();
    for (int32_t i = 0; i < l->count; i++) {
        const st_listener_t *e = &l->items[i];
        if (strnlen(e->name, sizeof e->name) == sizeof e->name || strnlen(e->host, sizeof e->host) == sizeof e->host)
            abort();
        if (e->port < 0 || e->port > 65535) abort();
        for (const char *p = e->name; *p; p++)
            if (*p >= 'a' && *p <= 'z') abort(); /* names are normalised */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    static const char *const keys[] = {"listeners=", "listener.security.protocol.map=", "advertised.listeners="};
    char *overrides[4];
    int n = 0;
    size_t start = 0;
    for (int k = 0; k < 3; k++) {
        size_t end = start;
        while (end < size && data[end] != '\n' && data[end] != '\0') end++;
        if (end > start) {
            size_t key_len = strlen(keys[k]);
            char *o = malloc(key_len + (end - start) + 1);
            if (!o) return 0;
            memcpy(o, keys[k], key_len);
            memcpy(o + key_len, data + start, end - start);
            o[key_len + end - start] = '\0';
            overrides[n++] = o;
        }
        start = end < size ? end + 1 : end;
    }
    overrides[n++] = "controller.listener.names=CONTROLLER";
    st_config_t *c = NULL;
    char err[1024];
    if (st_config_load(&c, NULL, n, overrides, err, sizeof err) == 0) {
        st_listeners_t l;
        if (st_config_listeners(c, &l, err, sizeof err) == 0) check(&l);
        if (st_config_advertised_listeners(c, &l, err, sizeof err) == 0) check(&l);
        st_config_free(c);
    }
    for (int i = 0; i < n - 1; i++) free(overrides[i]);
    return 0;
}
