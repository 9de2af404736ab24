#include "security/sasl_server.h"

#include <string.h>

#include <openssl/rand.h>

#include "common/errors.h"

int st_sasl_server_init(st_sasl_server_t *s, st_sasl_mechanism_t mechanism, bool reauthenticating,
                        const st_sasl_callbacks_t *callbacks, const uint8_t random[ST_SCRAM_SERVER_NONCE_RANDOM_BYTES]) {
    memset(s, 0, sizeof *s);
    s->mechanism = mechanism;
    s->callbacks = callbacks;
    switch (mechanism) {
    case ST_SASL_PLAIN: st_sasl_plain_init(&s->as.plain, reauthenticating); return 0;
    case ST_SASL_SCRAM_SHA_256:
    case ST_SASL_SCRAM_SHA_512: {
        char nonce[ST_SCRAM_SERVER_NONCE_CHARS + 1];
        st_scram_server_nonce(random, nonce);
        st_scram_server_init(&s->as.scram, mechanism, reauthenticating, nonce);
        return 0;
    }
    case ST_SASL_OAUTHBEARER: st_oauth_server_init(&s->as.oauth, callbacks->oauth, reauthenticating); return 0;
    default: return ST_ERR_UNSUPPORTED_SASL_MECHANISM;
    }
}

void st_sasl_server_step(st_sasl_server_t *s, const uint8_t *in, size_t len, int64_t now_ms, st_sasl_outcome_t *out) {
    const st_sasl_callbacks_t *cb = s->callbacks;
    switch (s->mechanism) {
    case ST_SASL_PLAIN: st_sasl_plain_step(&s->as.plain, in, len, cb->plain_verify, cb->ctx, out); break;
    case ST_SASL_SCRAM_SHA_256:
    case ST_SASL_SCRAM_SHA_512: st_scram_server_step(&s->as.scram, in, len, cb->scram_lookup, cb->ctx, out); break;
    case ST_SASL_OAUTHBEARER: st_oauth_server_step(&s->as.oauth, in, len, now_ms, out); break;
    default:
        st_sasl_outcome_reset(out);
        st_sasl_fail_state(out, "UNSUPPORTED");
        break;
    }
}

const char *st_sasl_server_authorization_id(const st_sasl_server_t *s) {
    switch (s->mechanism) {
    case ST_SASL_PLAIN: return s->as.plain.state == ST_SASL_PLAIN_COMPLETE ? s->as.plain.authorization_id : NULL;
    case ST_SASL_SCRAM_SHA_256:
    case ST_SASL_SCRAM_SHA_512: return s->as.scram.state == ST_SCRAM_COMPLETE ? s->as.scram.authorization_id : NULL;
    case ST_SASL_OAUTHBEARER: return s->as.oauth.state == ST_OAUTH_COMPLETE ? s->as.oauth.authorization_id : NULL;
    default: return NULL;
    }
}

int64_t st_sasl_server_credential_expiry_ms(const st_sasl_server_t *s) {
    if (s->mechanism == ST_SASL_OAUTHBEARER && s->as.oauth.state == ST_OAUTH_COMPLETE) return s->as.oauth.expiry_ms;
    return -1;
}

void st_sasl_server_clear(st_sasl_server_t *s) {
    if (st_sasl_mechanism_is_scram(s->mechanism)) st_scram_server_clear(&s->as.scram);
}

int st_sasl_random_bytes(uint8_t *out, size_t n) {
    if (n > INT32_MAX) return ST_ERR_INVALID_REQUEST;
    return RAND_bytes(out, (int)n) == 1 ? 0 : ST_ERR_UNKNOWN_SERVER_ERROR;
}
