/*
 * SASL/OAUTHBEARER, server side (RFC 7628), with Kafka's unsecured JWS
 * validator (KIP-255's OAuthBearerUnsecuredValidatorCallbackHandler): for
 * tests and development only, as in Kafka; a token's signature is not
 * checked (it must have none: "alg":"none").
 *
 *   client = "n," ["a=" authzid] "," %x01 "auth=Bearer " token %x01 *(key "=" value %x01) %x01
 *   token  = base64url(header) "." base64url(claims) "."
 *
 * States:
 *
 *   AWAIT_RESPONSE --st_oauth_server_step: token valid------------------> COMPLETE
 *        |   ^                                                            (principal = the
 *        |   +--- anything but %x01 (Kafka evaluates it afresh) ---+       principal claim)
 *        |                                                         |
 *        +--st_oauth_server_step: token invalid--> AWAIT_ERROR_ACK-+--%x01--> FAILED
 *        |        (challenge: {"status":"invalid_token"}, RFC 7628 3.2.2)   (client sees the JSON)
 *        +--st_oauth_server_step: malformed message, authzid mismatch---> FAILED
 *   COMPLETE, FAILED --st_oauth_server_step--> FAILED (ILLEGAL_SASL_STATE)
 *
 * Invariants:
 *  1. authorization_id is set exactly in COMPLETE: the token's principal
 *     claim ("sub" by default), non-blank.
 *  2. COMPLETE only for a token whose exp is after now - skew, whose iat
 *     (if any) is not after now + skew and before exp, and whose scope
 *     holds every required scope.
 *  3. expiry_ms is the token's exp in ms (KIP-368's session lifetime bound).
 *  4. The clock is an input (now_ms); nothing here reads it.
 */
#ifndef ST_SECURITY_OAUTHBEARER_H
#define ST_SECURITY_OAUTHBEARER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "security/sasl.h"

/* The unsecuredValidator* options of the listener's OAUTHBEARER JAAS
 * config (NULL or 0: Kafka's defaults). */
typedef struct st_oauth_unsecured_config {
    const char *principal_claim_name; /* unsecuredValidatorPrincipalClaimName, default "sub" */
    const char *scope_claim_name;     /* unsecuredValidatorScopeClaimName, default "scope" */
    const char *required_scope;       /* unsecuredValidatorRequiredScope, space-delimited */
    int32_t allowable_clock_skew_ms;  /* unsecuredValidatorAllowableClockSkewMs, >= 0 */
} st_oauth_unsecured_config_t;

/* The token and authzid of a client's initial response, pointing into it. */
typedef struct st_oauth_initial_response {
    char authzid[ST_SASL_USERNAME_BYTES_MAX + 1];
    const char *token;
    size_t token_len;
    int extension_count;
} st_oauth_initial_response_t;

/* Pure parser (Kafka's OAuthBearerClientInitialResponse): 0, or -1 with
 * Kafka's reason. */
int st_oauth_parse_initial_response(const uint8_t *in, size_t len, st_oauth_initial_response_t *out, char *reason,
                                    size_t cap);

/* What the validator makes of a token. */
typedef struct st_oauth_token {
    char principal[ST_SASL_USERNAME_BYTES_MAX + 1];
    int64_t expiry_ms;
    int64_t issued_at_ms; /* -1: no iat */
} st_oauth_token_t;

/* Kafka's unsecured validation at time now_ms. 0, or -1 with the failure
 * reason in `reason` and *insufficient_scope set when the scope was what
 * failed (the JSON status differs). */
int st_oauth_validate_unsecured(const char *token, size_t len, const st_oauth_unsecured_config_t *config,
                                int64_t now_ms, st_oauth_token_t *out, bool *insufficient_scope, char *reason,
                                size_t cap);

typedef enum st_oauth_state {
    ST_OAUTH_AWAIT_RESPONSE,
    ST_OAUTH_AWAIT_ERROR_ACK,
    ST_OAUTH_COMPLETE,
    ST_OAUTH_FAILED,
} st_oauth_state_t;

typedef struct st_oauth_server {
    st_oauth_state_t state;
    bool reauthenticating;
    const st_oauth_unsecured_config_t *config; /* borrowed */
    char error_json[ST_SASL_MESSAGE_BYTES];
    char authorization_id[ST_SASL_USERNAME_BYTES_MAX + 1];
    int64_t expiry_ms;
} st_oauth_server_t;

void st_oauth_server_init(st_oauth_server_t *s, const st_oauth_unsecured_config_t *config, bool reauthenticating);
void st_oauth_server_step(st_oauth_server_t *s, const uint8_t *in, size_t len, int64_t now_ms,
                          st_sasl_outcome_t *out);

#endif
