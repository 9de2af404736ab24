/*
 * What every SASL mechanism here shares: the mechanism names Kafka uses,
 * and the outcome of one step of a server-side exchange.
 *
 * A mechanism (security/sasl_plain.h, security/scram.h,
 * security/oauthbearer.h) is a pure state machine: it is given the bytes
 * of one SaslAuthenticate request (or one KIP-43 raw token) and answers
 * with an outcome: CONTINUE with a challenge, COMPLETE with a last
 * challenge (possibly empty), or FAILED with Kafka's error code and the two
 * texts Kafka keeps apart: what the client may see and what the log says.
 * The dispatcher over all of them is security/sasl_server.h.
 */
#ifndef ST_SECURITY_SASL_H
#define ST_SECURITY_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "security/security_limits.h"

typedef enum st_sasl_mechanism {
    ST_SASL_PLAIN = 0,
    ST_SASL_SCRAM_SHA_256 = 1,
    ST_SASL_SCRAM_SHA_512 = 2,
    ST_SASL_OAUTHBEARER = 3,
    ST_SASL_MECHANISM_COUNT = 4,
} st_sasl_mechanism_t;

/* "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER". */
const char *st_sasl_mechanism_name(st_sasl_mechanism_t mechanism);
/* Exact, case-sensitive match, as Kafka's enabled-mechanism list is. */
bool st_sasl_mechanism_from_name(const char *name, size_t len, st_sasl_mechanism_t *out);
static inline bool st_sasl_mechanism_is_scram(st_sasl_mechanism_t m) {
    return m == ST_SASL_SCRAM_SHA_256 || m == ST_SASL_SCRAM_SHA_512;
}

typedef enum st_sasl_status {
    ST_SASL_CONTINUE, /* send the challenge; more client bytes expected */
    ST_SASL_COMPLETE, /* send the (maybe empty) challenge; authenticated */
    ST_SASL_FAILED,   /* send the error; then close the connection */
} st_sasl_status_t;

#define ST_SASL_MESSAGE_BYTES 256

typedef struct st_sasl_outcome {
    st_sasl_status_t status;
    /* 0, SASL_AUTHENTICATION_FAILED (58) or ILLEGAL_SASL_STATE (34). */
    int16_t error_code;
    /* The SaslAuthenticate error message the client gets. Kafka shows a
     * mechanism's own text only where it chose to (SaslAuthenticationException:
     * "Authentication failed: Invalid username or password"); everything
     * else gets the generic "Authentication failed during authentication
     * due to invalid credentials with SASL mechanism X", so a client cannot
     * learn whether a user exists. */
    char client_message[ST_SASL_MESSAGE_BYTES];
    /* For the log line: why it failed. May name the user, never a secret. */
    char log_reason[ST_SASL_MESSAGE_BYTES];
    uint8_t challenge[ST_SASL_CHALLENGE_BYTES_MAX];
    size_t challenge_len;
} st_sasl_outcome_t;

/* Resets an outcome to CONTINUE with nothing to send. */
void st_sasl_outcome_reset(st_sasl_outcome_t *out);
/* FAILED with a text the client may see (Kafka's SaslAuthenticationException);
 * the log gets the same text. */
void st_sasl_fail_visible(st_sasl_outcome_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* FAILED with Kafka's generic client text for this mechanism (Kafka's
 * SaslException); the reason goes to the log only. `reauthenticating`
 * picks "re-authentication" (KIP-368) over "authentication". */
void st_sasl_fail_hidden(st_sasl_outcome_t *out, st_sasl_mechanism_t mechanism, bool reauthenticating,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* FAILED with ILLEGAL_SASL_STATE: bytes after the exchange ended. */
void st_sasl_fail_state(st_sasl_outcome_t *out, const char *state_name);

/* "User:<name>" into buf (cap bytes): Kafka's DefaultKafkaPrincipalBuilder
 * for SASL uses the authorization id as a USER principal. False when it
 * does not fit. */
bool st_sasl_principal(const char *authorization_id, char *buf, size_t cap);

/* Compares two equal-length byte strings in time independent of where they
 * differ (proofs, keys, passwords). */
bool st_sasl_equal_secret(const uint8_t *a, const uint8_t *b, size_t len);

#endif
