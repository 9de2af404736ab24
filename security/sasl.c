#include "security/sasl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/errors.h"

static const char *const MECHANISM_NAMES[ST_SASL_MECHANISM_COUNT] = {
    [ST_SASL_PLAIN] = "PLAIN",
    [ST_SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
    [ST_SASL_SCRAM_SHA_512] = "SCRAM-SHA-512",
    [ST_SASL_OAUTHBEARER] = "OAUTHBEARER",
};

const char *st_sasl_mechanism_name(st_sasl_mechanism_t mechanism) {
    return (unsigned)mechanism < ST_SASL_MECHANISM_COUNT ? MECHANISM_NAMES[mechanism] : "UNKNOWN";
}

bool st_sasl_mechanism_from_name(const char *name, size_t len, st_sasl_mechanism_t *out) {
    for (int m = 0; m < ST_SASL_MECHANISM_COUNT; m++) {
        if (strlen(MECHANISM_NAMES[m]) == len && memcmp(MECHANISM_NAMES[m], name, len) == 0) {
            *out = (st_sasl_mechanism_t)m;
            return true;
        }
    }
    return false;
}

void st_sasl_outcome_reset(st_sasl_outcome_t *out) {
    out->status = ST_SASL_CONTINUE;
    out->error_code = ST_ERR_NONE;
    out->client_message[0] = '\0';
    out->log_reason[0] = '\0';
    out->challenge_len = 0;
}

static void fail(st_sasl_outcome_t *out, int16_t code) {
    out->status = ST_SASL_FAILED;
    out->error_code = code;
    out->challenge_len = 0;
}

void st_sasl_fail_visible(st_sasl_outcome_t *out, const char *fmt, ...) {
    fail(out, ST_ERR_SASL_AUTHENTICATION_FAILED);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->client_message, sizeof out->client_message, fmt, ap);
    va_end(ap);
    memcpy(out->log_reason, out->client_message, sizeof out->log_reason);
}

void st_sasl_fail_hidden(st_sasl_outcome_t *out, st_sasl_mechanism_t mechanism, bool reauthenticating,
                         const char *fmt, ...) {
    fail(out, ST_ERR_SASL_AUTHENTICATION_FAILED);
    /* Kafka's SaslServerAuthenticator words it so. */
    snprintf(out->client_message, sizeof out->client_message,
             "Authentication failed during %s due to invalid credentials with SASL mechanism %s",
             reauthenticating ? "re-authentication" : "authentication", st_sasl_mechanism_name(mechanism));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->log_reason, sizeof out->log_reason, fmt, ap);
    va_end(ap);
}

void st_sasl_fail_state(st_sasl_outcome_t *out, const char *state_name) {
    fail(out, ST_ERR_ILLEGAL_SASL_STATE);
    snprintf(out->client_message, sizeof out->client_message, "Unexpected challenge in Sasl server state %s",
             state_name);
    memcpy(out->log_reason, out->client_message, sizeof out->log_reason);
}

bool st_sasl_principal(const char *authorization_id, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "User:%s", authorization_id);
    return n >= 0 && (size_t)n < cap;
}

bool st_sasl_equal_secret(const uint8_t *a, const uint8_t *b, size_t len) {
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < len; i++) diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}
