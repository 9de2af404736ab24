/*
 * ssl.principal.mapping.rules and the regex engine under them, on bytes
 * split at the first 0xff: rules (from a config file) before, a subject DN
 * (from a client certificate, so from the network) after. Nothing may
 * crash or run past the step budget's bound, and a mapped name always
 * fits its buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "security/principal.h"
#include "security/regex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *split = memchr(data, 0xff, size);
    size_t rules_len = split ? (size_t)(split - data) : size;
    if (rules_len > 2048) return 0;
    char *rules = malloc(rules_len + 1);
    memcpy(rules, data, rules_len);
    rules[rules_len] = '\0';
    size_t dn_len = split ? size - rules_len - 1 : 0;
    char *dn = malloc(dn_len + 1);
    if (dn_len) memcpy(dn, split + 1, dn_len);
    dn[dn_len] = '\0';

    char error[256];
    /* The rules text as a single pattern too: the engine alone. */
    st_regex_t *re = st_regex_compile(rules, strlen(rules), error, sizeof error);
    if (re) {
        st_regex_match_t m;
        for (int mode = 0; mode < 3; mode++) {
            st_regex_result_t r = st_regex_exec(re, dn, strlen(dn), 0, (st_regex_mode_t)mode, &m);
            if (r == ST_REGEX_MATCH && (m.starts[0] < 0 || m.ends[0] < m.starts[0] || m.ends[0] > (long)strlen(dn)))
                __builtin_trap();
        }
        st_regex_free(re);
    }
    st_principal_mapper_t *mapper = st_principal_mapper_new(rules, error, sizeof error);
    if (mapper) {
        char out[128];
        memset(out, 0x55, sizeof out);
        if (st_principal_mapper_map(mapper, dn, out, sizeof out) == 0 && !memchr(out, 0, sizeof out))
            __builtin_trap();
        st_principal_mapper_free(mapper);
    }
    free(rules);
    free(dn);
    return 0;
}
