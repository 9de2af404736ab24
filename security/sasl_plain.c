#include "security/sasl_plain.h"

#include <stdio.h>
#include <string.h>

#include "common/errors.h"

static const char *const STATE_NAMES[] = {"AWAIT_RESPONSE", "COMPLETE", "FAILED"};

int st_sasl_plain_parse(const uint8_t *in, size_t len, st_sasl_plain_message_t *out, char *reason, size_t cap) {
    if (len > ST_SASL_AUTH_BYTES_MAX) {
        snprintf(reason, cap, "Invalid SASL/PLAIN response: %zu bytes, more than %d", len, ST_SASL_AUTH_BYTES_MAX);
        return -1;
    }
    size_t tokens = 1;
    for (size_t i = 0; i < len; i++) tokens += in[i] == 0;
    if (tokens != 3) {
        snprintf(reason, cap, "Invalid SASL/PLAIN response: expected 3 tokens, got %zu", tokens);
        return -1;
    }
    const uint8_t *first = memchr(in, 0, len);
    const uint8_t *second = memchr(first + 1, 0, len - (size_t)(first + 1 - in));
    out->authzid = (const char *)in;
    out->authzid_len = (size_t)(first - in);
    out->authcid = (const char *)first + 1;
    out->authcid_len = (size_t)(second - first - 1);
    out->password = second + 1;
    out->password_len = len - (size_t)(second + 1 - in);
    if (out->authcid_len == 0) {
        snprintf(reason, cap, "Authentication failed: username not specified");
        return -1;
    }
    if (out->password_len == 0) {
        snprintf(reason, cap, "Authentication failed: password not specified");
        return -1;
    }
    if (out->authzid_len > ST_SASL_USERNAME_BYTES_MAX || out->authcid_len > ST_SASL_USERNAME_BYTES_MAX) {
        snprintf(reason, cap, "Authentication failed: username longer than %d bytes", ST_SASL_USERNAME_BYTES_MAX);
        return -1;
    }
    if (out->password_len > ST_SASL_PASSWORD_BYTES_MAX) {
        snprintf(reason, cap, "Authentication failed: password longer than %d bytes", ST_SASL_PASSWORD_BYTES_MAX);
        return -1;
    }
    return 0;
}

void st_sasl_plain_init(st_sasl_plain_t *s, bool reauthenticating) {
    s->state = ST_SASL_PLAIN_AWAIT_RESPONSE;
    s->reauthenticating = reauthenticating;
    s->authorization_id[0] = '\0';
}

void st_sasl_plain_step(st_sasl_plain_t *s, const uint8_t *in, size_t len, st_sasl_plain_verify_fn verify,
                        void *verify_ctx, st_sasl_outcome_t *out) {
    st_sasl_outcome_reset(out);
    if (s->state != ST_SASL_PLAIN_AWAIT_RESPONSE) {
        st_sasl_fail_state(out, STATE_NAMES[s->state]);
        s->state = ST_SASL_PLAIN_FAILED;
        return;
    }
    s->state = ST_SASL_PLAIN_FAILED;
    st_sasl_plain_message_t m;
    char reason[ST_SASL_MESSAGE_BYTES];
    if (st_sasl_plain_parse(in, len, &m, reason, sizeof reason) != 0) {
        /* Kafka throws these as SaslException: the client sees the generic text. */
        st_sasl_fail_hidden(out, ST_SASL_PLAIN, s->reauthenticating, "%s", reason);
        return;
    }
    if (!verify || !verify(verify_ctx, m.authcid, m.authcid_len, m.password, m.password_len)) {
        st_sasl_fail_visible(out, "Authentication failed: Invalid username or password");
        snprintf(out->log_reason, sizeof out->log_reason,
                 "Authentication failed: Invalid username or password (user %.*s)",
                 (int)(m.authcid_len > 128 ? 128 : m.authcid_len), m.authcid);
        return;
    }
    if (m.authzid_len != 0 && (m.authzid_len != m.authcid_len || memcmp(m.authzid, m.authcid, m.authcid_len) != 0)) {
        st_sasl_fail_visible(out,
                             "Authentication failed: Client requested an authorization id that is different from "
                             "username");
        return;
    }
    memcpy(s->authorization_id, m.authcid, m.authcid_len);
    s->authorization_id[m.authcid_len] = '\0';
    s->state = ST_SASL_PLAIN_COMPLETE;
    out->status = ST_SASL_COMPLETE;
}
