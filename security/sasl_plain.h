/*
 * SASL/PLAIN, server side (RFC 4616, as Kafka's PlainSaslServer):
 *
 *     message = [authzid] NUL authcid NUL passwd
 *
 * States:
 *
 *     AWAIT_RESPONSE --st_sasl_plain_step: verified----> COMPLETE
 *            |
 *            +------st_sasl_plain_step: anything else--> FAILED
 *     COMPLETE, FAILED --st_sasl_plain_step--> FAILED (ILLEGAL_SASL_STATE)
 *
 * Invariants:
 *  1. authorization_id is set (non-empty, NUL-terminated) exactly when the
 *     state is COMPLETE; it is the authcid, never a different authzid
 *     (Kafka refuses an authzid that is not empty or the authcid).
 *  2. The password is never copied: the verifier sees it in the caller's
 *     buffer, and no outcome or log text contains it.
 *  3. One message decides: PLAIN has no challenge, so COMPLETE carries an
 *     empty one.
 */
#ifndef ST_SECURITY_SASL_PLAIN_H
#define ST_SECURITY_SASL_PLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "security/sasl.h"

/* The three fields of a PLAIN message, pointing into its bytes. */
typedef struct st_sasl_plain_message {
    const char *authzid;
    size_t authzid_len;
    const char *authcid;
    size_t authcid_len;
    const uint8_t *password;
    size_t password_len;
} st_sasl_plain_message_t;

/* Splits a PLAIN message. Returns 0, or a negative value with a reason in
 * `reason` (cap bytes) when it is not exactly three NUL-separated fields
 * within the limits, or a field that must not be empty is. Pure. */
int st_sasl_plain_parse(const uint8_t *in, size_t len, st_sasl_plain_message_t *out, char *reason, size_t cap);

/* True when `password` is the user's. Must take time independent of where
 * a wrong password differs (security/scram.h's
 * st_scram_credential_check_password does). */
typedef bool (*st_sasl_plain_verify_fn)(void *ctx, const char *user, size_t user_len, const uint8_t *password,
                                        size_t password_len);

typedef enum st_sasl_plain_state {
    ST_SASL_PLAIN_AWAIT_RESPONSE,
    ST_SASL_PLAIN_COMPLETE,
    ST_SASL_PLAIN_FAILED,
} st_sasl_plain_state_t;

typedef struct st_sasl_plain {
    st_sasl_plain_state_t state;
    bool reauthenticating;
    char authorization_id[ST_SASL_USERNAME_BYTES_MAX + 1];
} st_sasl_plain_t;

void st_sasl_plain_init(st_sasl_plain_t *s, bool reauthenticating);
/* One client message; fills *out (see security/sasl.h). */
void st_sasl_plain_step(st_sasl_plain_t *s, const uint8_t *in, size_t len, st_sasl_plain_verify_fn verify,
                        void *verify_ctx, st_sasl_outcome_t *out);

#endif
