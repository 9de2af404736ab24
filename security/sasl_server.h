/*
 * One SASL exchange on one connection, whichever mechanism the client
 * chose in SaslHandshake: the dispatcher the wiring step keeps per
 * connection (heap-allocated while authenticating, freed once COMPLETE or
 * FAILED: it holds up to ~20 KiB for SCRAM's AuthMessage).
 *
 * States: those of the chosen mechanism (security/sasl_plain.h,
 * security/scram.h, security/oauthbearer.h); this module adds none.
 *
 * Invariants:
 *  1. The mechanism never changes after st_sasl_server_init (KIP-368: a
 *     re-authentication must use the same mechanism; the caller checks).
 *  2. st_sasl_server_authorization_id is non-NULL exactly when the
 *     exchange is COMPLETE.
 */
#ifndef ST_SECURITY_SASL_SERVER_H
#define ST_SECURITY_SASL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "security/oauthbearer.h"
#include "security/sasl.h"
#include "security/sasl_plain.h"
#include "security/scram.h"

/* Where credentials come from: the metadata image's SCRAM credentials
 * (UserScramCredentialRecord) for SCRAM, and for PLAIN a verifier (which
 * may check the password against the same SCRAM credentials with
 * st_scram_credential_check_password). A NULL callback refuses every
 * user of that mechanism. */
typedef struct st_sasl_callbacks {
    void *ctx;
    st_sasl_plain_verify_fn plain_verify;
    st_scram_lookup_fn scram_lookup;
    /* OAUTHBEARER's unsecured validator options (KIP-255); NULL: defaults. */
    const st_oauth_unsecured_config_t *oauth;
} st_sasl_callbacks_t;

typedef struct st_sasl_server {
    st_sasl_mechanism_t mechanism;
    const st_sasl_callbacks_t *callbacks; /* borrowed; outlives the exchange */
    union {
        st_sasl_plain_t plain;
        st_scram_server_t scram;
        st_oauth_server_t oauth;
    } as;
} st_sasl_server_t;

/* Starts an exchange. `random` is ST_SCRAM_SERVER_NONCE_RANDOM_BYTES bytes
 * the caller drew (st_sasl_random_bytes), used by SCRAM's nonce. Returns
 * 0, or UNSUPPORTED_SASL_MECHANISM. */
int st_sasl_server_init(st_sasl_server_t *s, st_sasl_mechanism_t mechanism, bool reauthenticating,
                        const st_sasl_callbacks_t *callbacks, const uint8_t random[ST_SCRAM_SERVER_NONCE_RANDOM_BYTES]);
/* One client token (SaslAuthenticate auth_bytes, or a KIP-43 raw token).
 * now_ms is the wall clock (OAUTHBEARER checks a token's exp and iat). */
void st_sasl_server_step(st_sasl_server_t *s, const uint8_t *in, size_t len, int64_t now_ms, st_sasl_outcome_t *out);
/* The authenticated id (NUL-terminated), or NULL before COMPLETE. */
const char *st_sasl_server_authorization_id(const st_sasl_server_t *s);
/* When the credential stops being valid, in wall-clock ms (an OAUTHBEARER
 * token's exp); -1 when it does not expire (PLAIN, SCRAM). KIP-368: the
 * session lifetime is the smaller of this and connections.max.reauth.ms. */
int64_t st_sasl_server_credential_expiry_ms(const st_sasl_server_t *s);
/* Wipes the secrets an unfinished exchange holds. */
void st_sasl_server_clear(st_sasl_server_t *s);

/* Cryptographically random bytes from OpenSSL (the only impure call of the
 * SASL modules, kept out of the state machines). 0 or ST_ERR_*. */
int st_sasl_random_bytes(uint8_t *out, size_t n);

#endif
