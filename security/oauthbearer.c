#include "security/oauthbearer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/errors.h"
#include "security/base64.h"

static const char *const STATE_NAMES[] = {"AWAIT_RESPONSE", "AWAIT_ERROR_ACK", "COMPLETE", "FAILED"};

/* --- the initial response --- */

static bool is_alpha(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
/* Kafka's VALUE: [\x21-\x7E \t\r\n]. */
static bool is_value_char(uint8_t c) { return (c >= 0x21 && c <= 0x7e) || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_token_char(uint8_t c) {
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}
static bool is_word_char(uint8_t c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == '_'; }

/* SASLNAME decoded (=2C ",", =3D "="); stops at ','. */
static bool take_saslname(const uint8_t *in, size_t len, size_t *at, char *out, size_t cap) {
    size_t o = 0, start = *at;
    while (*at < len && in[*at] != ',') {
        uint8_t ch = in[*at];
        if (ch == '=') {
            if (len - *at < 3) return false;
            if (in[*at + 1] == '2' && in[*at + 2] == 'C') ch = ',';
            else if (in[*at + 1] == '3' && in[*at + 2] == 'D') ch = '=';
            else return false;
            *at += 3;
        } else if (ch >= 0x01 && ch <= 0x7f) {
            (*at)++;
        } else {
            return false;
        }
        if (o + 1 >= cap) return false;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return *at > start;
}

int st_oauth_parse_initial_response(const uint8_t *in, size_t len, st_oauth_initial_response_t *out, char *reason,
                                    size_t cap) {
    memset(out, 0, sizeof *out);
    const char *invalid = "Invalid OAUTHBEARER client first message";
    if (len > ST_OAUTH_TOKEN_BYTES_MAX + 1024) {
        snprintf(reason, cap, "%s: %zu bytes", invalid, len);
        return -1;
    }
    size_t at = 0;
    bool ok = len >= 2 && in[0] == 'n' && in[1] == ',';
    at = 2;
    if (ok && len - at >= 2 && in[at] == 'a' && in[at + 1] == '=') {
        at += 2;
        ok = take_saslname(in, len, &at, out->authzid, sizeof out->authzid);
    }
    ok = ok && at + 1 < len && in[at] == ',' && in[at + 1] == 0x01;
    at += 2;
    /* (KEY=VALUE %x01)* %x01, to the end. */
    const uint8_t *auth = NULL;
    size_t auth_len = 0;
    while (ok && at < len && in[at] != 0x01) {
        size_t key = at;
        while (at < len && is_alpha(in[at])) at++;
        size_t key_len = at - key;
        ok = key_len > 0 && at < len && in[at] == '=';
        at++;
        size_t value = at;
        while (ok && at < len && is_value_char(in[at])) at++;
        ok = ok && at > value && at < len && in[at] == 0x01;
        if (!ok) break;
        if (key_len == 4 && memcmp(in + key, "auth", 4) == 0) {
            auth = in + value; /* the last one wins, as in Kafka's map */
            auth_len = at - value;
        } else {
            out->extension_count++;
        }
        at++;
    }
    ok = ok && at + 1 == len && in[at] == 0x01;
    if (!ok) {
        snprintf(reason, cap, "%s", invalid);
        return -1;
    }
    if (!auth) {
        snprintf(reason, cap, "%s: 'auth' not specified", invalid);
        return -1;
    }
    /* auth = scheme 1*" " token */
    size_t i = 0;
    while (i < auth_len && is_word_char(auth[i])) i++;
    size_t scheme_len = i;
    while (i < auth_len && auth[i] == ' ') i++;
    size_t token_at = i;
    while (i < auth_len && is_token_char(auth[i])) i++;
    if (scheme_len == 0 || token_at == scheme_len || i == token_at || i != auth_len) {
        snprintf(reason, cap, "%s: invalid 'auth' format", invalid);
        return -1;
    }
    if (scheme_len != 6 || strncasecmp((const char *)auth, "bearer", 6) != 0) {
        snprintf(reason, cap, "Invalid scheme in OAUTHBEARER client first message: %.*s", (int)scheme_len,
                 (const char *)auth);
        return -1;
    }
    out->token = (const char *)auth + token_at;
    out->token_len = auth_len - token_at;
    return 0;
}

/* --- the unsecured JWS --- */

/* base64url (padded or not) JSON object; NULL when either fails. */
static json_t *decode_part(const char *p, size_t len) {
    while (len > 0 && p[len - 1] == '=') len--;
    if (len == 0) return NULL;
    size_t cap = len / 4 * 3 + 3;
    uint8_t *bytes = malloc(cap);
    if (!bytes) return NULL;
    long n = st_base64url_decode(p, len, bytes, cap);
    json_t *j = n >= 0 ? json_loadb((const char *)bytes, (size_t)n, 0, NULL) : NULL;
    free(bytes);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f' && *s != '\v') return false;
    return true;
}

/* Is `want` (one scope element) among the token's scope claim (a string:
 * one element, trimmed; or a list of strings, each trimmed)? */
static bool scope_has(json_t *scope, const char *want, size_t want_len) {
    if (!scope) return false;
    json_t *items[1] = {scope};
    size_t count = 1;
    if (json_is_array(scope)) count = json_array_size(scope);
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_is_array(scope) ? json_array_get(scope, i) : items[0];
        const char *s = json_is_string(item) ? json_string_value(item) : NULL;
        if (!s) continue;
        size_t n = strlen(s);
        while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        if (n == want_len && memcmp(s, want, n) == 0) return true;
    }
    return false;
}

int st_oauth_validate_unsecured(const char *token, size_t len, const st_oauth_unsecured_config_t *config,
                                int64_t now_ms, st_oauth_token_t *out, bool *insufficient_scope, char *reason,
                                size_t cap) {
    *insufficient_scope = false;
    memset(out, 0, sizeof *out);
    out->issued_at_ms = -1;
    const char *principal_claim = config && config->principal_claim_name && !blank(config->principal_claim_name)
                                      ? config->principal_claim_name
                                      : "sub";
    const char *scope_claim =
        config && config->scope_claim_name && !blank(config->scope_claim_name) ? config->scope_claim_name : "scope";
    int64_t skew = config && config->allowable_clock_skew_ms > 0 ? config->allowable_clock_skew_ms : 0;
    json_t *header = NULL, *claims = NULL;
    int rc = -1;
    if (len > ST_OAUTH_TOKEN_BYTES_MAX) {
        snprintf(reason, cap, "token longer than %d bytes", ST_OAUTH_TOKEN_BYTES_MAX);
        return -1;
    }
    if (memmem(token, len, "..", 2)) {
        snprintf(reason, cap, "Malformed compact serialization contains '..'");
        return -1;
    }
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    const char *dot3 = dot2 ? memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) : NULL;
    if (!dot2 || dot3) {
        snprintf(reason, cap, "Unsecured JWS compact serializations must have 3 dot-separated Base64URL-encoded values");
        return -1;
    }
    header = decode_part(token, (size_t)(dot1 - token));
    claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!header || !claims) {
        snprintf(reason, cap, "malformed JSON or Base64 URL encoded value");
        goto out;
    }
    json_t *alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "none") != 0) {
        snprintf(reason, cap, "Unsecured JWS must have 'none' for an algorithm");
        goto out;
    }
    if (dot2 + 1 != token + len) {
        snprintf(reason, cap, "Unsecured JWS must not contain a digital signature");
        goto out;
    }
    json_t *scope = json_object_get(claims, scope_claim);
    if (scope && !json_is_string(scope) && !json_is_array(scope)) {
        snprintf(reason, cap, "The '%s' claim was not of type List", scope_claim);
        goto out;
    }
    json_t *exp = json_object_get(claims, "exp");
    if (!exp) {
        snprintf(reason, cap, "No expiration time in JWT");
        goto out;
    }
    json_t *iat = json_object_get(claims, "iat");
    if (!json_is_number(exp) || (iat && !json_is_number(iat))) {
        snprintf(reason, cap, "The '%s' claim was not of type Number", json_is_number(exp) ? "iat" : "exp");
        goto out;
    }
    json_t *principal = json_object_get(claims, principal_claim);
    if (principal && !json_is_string(principal)) {
        snprintf(reason, cap, "The %s claim had the incorrect type", principal_claim);
        goto out;
    }
    if (!principal || blank(json_string_value(principal))) {
        snprintf(reason, cap, "No principal name in JWT claim: %s", principal_claim);
        goto out;
    }
    const char *name = json_string_value(principal);
    if (strlen(name) > ST_SASL_USERNAME_BYTES_MAX) {
        snprintf(reason, cap, "principal name longer than %d bytes", ST_SASL_USERNAME_BYTES_MAX);
        goto out;
    }
    double exp_s = json_number_value(exp);
    double iat_s = iat ? json_number_value(iat) : 0;
    if (!isfinite(exp_s) || fabs(exp_s) > 1e15 || !isfinite(iat_s) || fabs(iat_s) > 1e15) {
        snprintf(reason, cap, "time claims out of range");
        goto out;
    }
    if (iat && 1000 * iat_s > (double)(now_ms + skew)) {
        snprintf(reason, cap, "The Issued At value (%f seconds) was after the indicated time (%lld ms) plus allowable "
                              "clock skew (%lld ms)",
                 iat_s, (long long)now_ms, (long long)skew);
        goto out;
    }
    if ((double)(now_ms - skew) >= 1000 * exp_s) {
        snprintf(reason, cap, "The indicated time (%lld ms) minus allowable clock skew (%lld ms) was on or after the "
                              "Expiration Time value (%f seconds)",
                 (long long)now_ms, (long long)skew, exp_s);
        goto out;
    }
    if (iat && exp_s <= iat_s) {
        snprintf(reason, cap, "The Expiration Time time (%f seconds) was not after the Issued At time (%f seconds)",
                 exp_s, iat_s);
        goto out;
    }
    /* Every required scope element must be in the token's scope. */
    const char *required = config && config->required_scope ? config->required_scope : "";
    for (const char *p = required; *p;) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n == 0) break;
        if (!scope_has(scope, p, n)) {
            *insufficient_scope = true;
            snprintf(reason, cap, "The provided scope was missing a required scope (%.*s)", (int)n, p);
            goto out;
        }
        p += n;
    }
    snprintf(out->principal, sizeof out->principal, "%s", name);
    out->expiry_ms = (int64_t)llround(exp_s * 1000);
    out->issued_at_ms = iat ? (int64_t)llround(iat_s * 1000) : -1;
    rc = 0;
out:
    json_decref(header);
    json_decref(claims);
    return rc;
}

/* --- the server --- */

void st_oauth_server_init(st_oauth_server_t *s, const st_oauth_unsecured_config_t *config, bool reauthenticating) {
    memset(s, 0, sizeof *s);
    s->state = ST_OAUTH_AWAIT_RESPONSE;
    s->config = config;
    s->reauthenticating = reauthenticating;
    s->expiry_ms = -1;
}

/* Kafka's jsonErrorResponse; the scope as Java prints a list. */
static void error_json(st_oauth_server_t *s, bool insufficient_scope) {
    if (!insufficient_scope) {
        snprintf(s->error_json, sizeof s->error_json, "{\"status\":\"invalid_token\"}");
        return;
    }
    char list[160] = "[";
    size_t used = 1;
    const char *p = s->config && s->config->required_scope ? s->config->required_scope : "";
    while (*p) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        if (n == 0) break;
        int w = snprintf(list + used, sizeof list - used, "%s%.*s", used > 1 ? ", " : "", (int)n, p);
        used = w < 0 || used + (size_t)w >= sizeof list - 1 ? sizeof list - 2 : used + (size_t)w;
        p += n;
    }
    snprintf(list + used, sizeof list - used, "]");
    snprintf(s->error_json, sizeof s->error_json, "{\"status\":\"insufficient_scope\", \"scope\":\"%s\"}", list);
}

void st_oauth_server_step(st_oauth_server_t *s, const uint8_t *in, size_t len, int64_t now_ms,
                          st_sasl_outcome_t *out) {
    st_sasl_outcome_reset(out);
    if (s->state == ST_OAUTH_COMPLETE || s->state == ST_OAUTH_FAILED) {
        st_sasl_fail_state(out, STATE_NAMES[s->state]);
        s->state = ST_OAUTH_FAILED;
        s->authorization_id[0] = '\0';
        return;
    }
    if (s->state == ST_OAUTH_AWAIT_ERROR_ACK && len == 1 && in[0] == 0x01) {
        /* The client acknowledged our error challenge (RFC 7628 3.2.3). */
        s->state = ST_OAUTH_FAILED;
        st_sasl_fail_visible(out, "%s", s->error_json);
        return;
    }
    s->state = ST_OAUTH_FAILED;
    st_oauth_initial_response_t response;
    char reason[ST_SASL_MESSAGE_BYTES];
    if (st_oauth_parse_initial_response(in, len, &response, reason, sizeof reason) != 0) {
        st_sasl_fail_hidden(out, ST_SASL_OAUTHBEARER, s->reauthenticating, "%s", reason);
        return;
    }
    st_oauth_token_t token;
    bool insufficient_scope;
    if (st_oauth_validate_unsecured(response.token, response.token_len, s->config, now_ms, &token,
                                    &insufficient_scope, reason, sizeof reason) != 0) {
        /* RFC 7628: the error goes out as a challenge; the client answers %x01. */
        error_json(s, insufficient_scope);
        size_t n = strlen(s->error_json);
        memcpy(out->challenge, s->error_json, n);
        out->challenge_len = n;
        snprintf(out->log_reason, sizeof out->log_reason, "%s", reason);
        s->state = ST_OAUTH_AWAIT_ERROR_ACK;
        out->status = ST_SASL_CONTINUE;
        return;
    }
    if (response.authzid[0] != '\0' && strcmp(response.authzid, token.principal) != 0) {
        st_sasl_fail_visible(out,
                             "Authentication failed: Client requested an authorization id (%.64s) that is different "
                             "from the token's principal name (%.64s)",
                             response.authzid, token.principal);
        return;
    }
    memcpy(s->authorization_id, token.principal, sizeof s->authorization_id);
    s->expiry_ms = token.expiry_ms;
    s->state = ST_OAUTH_COMPLETE;
    out->status = ST_SASL_COMPLETE;
}
