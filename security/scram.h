/*
 * SASL/SCRAM-SHA-256 and SCRAM-SHA-512, server side (RFC 5802, RFC 7677),
 * as Kafka's ScramSaslServer and ScramFormatter, and the credentials Kafka
 * stores for them (ScramCredential: salt, stored key, server key,
 * iterations; the metadata log's UserScramCredentialRecord).
 *
 *   client-first  = "n," ["a=" authzid] "," ["m=" value ","] "n=" saslname "," "r=" c-nonce ["," ext]*
 *   server-first  = "r=" c-nonce s-nonce ",s=" base64(salt) ",i=" iterations
 *   client-final  = "c=" base64(gs2-header) ",r=" nonce ["," ext]* ",p=" base64(proof)
 *   server-final  = "v=" base64(ServerSignature)
 *
 * States:
 *
 *   AWAIT_CLIENT_FIRST --st_scram_server_step: parsed, user known,------> AWAIT_CLIENT_FINAL
 *          |                                   iterations allowed           |
 *          |                                                                | st_scram_server_step:
 *          | st_scram_server_step: anything else                            | nonce, channel binding
 *          v                                                                | and proof verified
 *        FAILED <------ st_scram_server_step: anything else ----------------+----------> COMPLETE
 *   COMPLETE, FAILED --st_scram_server_step--> FAILED (ILLEGAL_SASL_STATE)
 *
 * Invariants:
 *  1. authorization_id is non-empty exactly in COMPLETE, and is the
 *     authenticated user (an authzid in the gs2 header must equal it).
 *  2. The stored key, server key and salt of the user are wiped
 *     (OPENSSL_cleanse) when the exchange leaves AWAIT_CLIENT_FINAL,
 *     whichever way it leaves.
 *  3. COMPLETE only after the client's proof hashes to the stored key,
 *     compared in constant time, over an AuthMessage built from the bytes
 *     both sides actually sent (RFC 5802 section 3).
 *  4. A credential with fewer iterations than ST_SCRAM_ITERATIONS_MIN is
 *     never used (Kafka's per-mechanism minimum, 4096).
 *  5. No clock, no randomness inside: the server nonce is given at init.
 *
 * Kafka parses with regular expressions; this parser accepts the same
 * language (checked byte by byte) with two differences, both toward RFC
 * 5802: the channel binding must be the base64 of the gs2 header the
 * client sent ("biws" for "n,,"; Kafka does not check it), and the
 * AuthMessage uses the client's bytes rather than a re-serialisation.
 * Every Kafka client sends messages for which both are the same.
 */
#ifndef ST_SECURITY_SCRAM_H
#define ST_SECURITY_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/messages.h"
#include "security/sasl.h"

/* Messages longer than these fail (they bound the AuthMessage kept
 * between the two steps). */
#define ST_SCRAM_CLIENT_MESSAGE_BYTES_MAX 4096

typedef struct st_scram_credential {
    st_sasl_mechanism_t mechanism;
    uint8_t salt[ST_SCRAM_SALT_BYTES_MAX];
    size_t salt_len;
    uint8_t stored_key[ST_SCRAM_KEY_BYTES_MAX]; /* st_scram_key_bytes(mechanism) of them */
    uint8_t server_key[ST_SCRAM_KEY_BYTES_MAX];
    int32_t iterations;
} st_scram_credential_t;

/* 32 for SHA-256, 64 for SHA-512, 0 for a mechanism that is not SCRAM. */
size_t st_scram_key_bytes(st_sasl_mechanism_t mechanism);
/* Kafka's wire type of a SCRAM mechanism (DescribeUserScramCredentials,
 * AlterUserScramCredentials, UserScramCredentialRecord): 1 SHA-256,
 * 2 SHA-512; 0 (UNKNOWN) otherwise. */
int8_t st_scram_mechanism_type(st_sasl_mechanism_t mechanism);
bool st_scram_mechanism_from_type(int8_t type, st_sasl_mechanism_t *out);

/* The primitives (RFC 5802 section 2.2), for the CLI and tests:
 * out gets st_scram_key_bytes(mechanism) bytes. Return 0 or ST_ERR_*. */
int st_scram_hmac(st_sasl_mechanism_t mechanism, const uint8_t *key, size_t key_len, const void *data, size_t len,
                  uint8_t *out);
int st_scram_hash(st_sasl_mechanism_t mechanism, const uint8_t *data, size_t len, uint8_t *out);
/* Hi(password, salt, i): PBKDF2 with HMAC over the mechanism's hash. */
int st_scram_salted_password(st_sasl_mechanism_t mechanism, const uint8_t *password, size_t password_len,
                             const uint8_t *salt, size_t salt_len, int32_t iterations, uint8_t *out);

/* A credential from a salted password (AlterUserScramCredentials sends
 * one; Kafka's ScramControlManager.finishUpsertion) or from a password.
 * Return 0, or INVALID_REQUEST-style errors: ST_ERR_UNACCEPTABLE_CREDENTIAL
 * for a salt or salted password of the wrong size, iterations outside
 * [1, ST_SCRAM_ITERATIONS_MAX]. */
int st_scram_credential_from_salted_password(st_sasl_mechanism_t mechanism, const uint8_t *salted_password,
                                             size_t salted_len, const uint8_t *salt, size_t salt_len,
                                             int32_t iterations, st_scram_credential_t *out);
int st_scram_credential_from_password(st_sasl_mechanism_t mechanism, const uint8_t *password, size_t password_len,
                                      const uint8_t *salt, size_t salt_len, int32_t iterations,
                                      st_scram_credential_t *out);
/* From a replayed metadata record. ST_ERR_CORRUPT when its mechanism or
 * key sizes do not fit. */
int st_scram_credential_from_record(const st_user_scram_credential_record_t *record, st_scram_credential_t *out);
/* True when `password` gives this credential's stored key (PLAIN checked
 * against the SCRAM store); constant time in where it differs. */
bool st_scram_credential_check_password(const st_scram_credential_t *c, const uint8_t *password,
                                        size_t password_len);

/* Kafka's validation of an AlterUserScramCredentials upsertion
 * (ScramControlManager.validateUpsertion): returns 0, or the error code
 * with Kafka's message in *message. */
int st_scram_validate_upsertion(int8_t mechanism_type, const char *name, size_t name_len, int32_t iterations,
                                const char **message);

/* A parsed client-first message; pointers into the message bytes. */
typedef struct st_scram_client_first {
    const char *gs2_header; /* "n,," or "n,a=<authzid>," */
    size_t gs2_header_len;
    const char *bare; /* client-first-message-bare */
    size_t bare_len;
    char authzid[ST_SASL_USERNAME_BYTES_MAX + 1]; /* decoded; "" when absent */
    char username[ST_SASL_USERNAME_BYTES_MAX + 1]; /* decoded from saslname (=2C ",", =3D "=") */
    const char *nonce;
    size_t nonce_len;
    bool token_auth; /* extension tokenauth=true (delegation tokens) */
    int extension_count;
} st_scram_client_first_t;

/* A parsed client-final message. */
typedef struct st_scram_client_final {
    uint8_t channel_binding[ST_SCRAM_CLIENT_MESSAGE_BYTES_MAX];
    size_t channel_binding_len;
    const char *nonce;
    size_t nonce_len;
    const char *without_proof; /* client-final-message-without-proof */
    size_t without_proof_len;
    uint8_t proof[ST_SCRAM_KEY_BYTES_MAX];
    size_t proof_len;
} st_scram_client_final_t;

/* Pure parsers; 0 or -1 with Kafka's reason in `reason`. */
int st_scram_parse_client_first(const uint8_t *in, size_t len, st_scram_client_first_t *out, char *reason,
                                size_t cap);
int st_scram_parse_client_final(const uint8_t *in, size_t len, st_scram_client_final_t *out, char *reason,
                                size_t cap);

/* Fills *out with the user's credential for `mechanism`; false when the
 * user has none. `user` is NUL-terminated. */
typedef bool (*st_scram_lookup_fn)(void *ctx, st_sasl_mechanism_t mechanism, const char *user,
                                   st_scram_credential_t *out);

typedef enum st_scram_state {
    ST_SCRAM_AWAIT_CLIENT_FIRST,
    ST_SCRAM_AWAIT_CLIENT_FINAL,
    ST_SCRAM_COMPLETE,
    ST_SCRAM_FAILED,
} st_scram_state_t;

typedef struct st_scram_server {
    st_scram_state_t state;
    st_sasl_mechanism_t mechanism;
    bool reauthenticating;
    char server_nonce[ST_SCRAM_SERVER_NONCE_CHARS + 1];
    size_t server_nonce_len;
    char username[ST_SASL_USERNAME_BYTES_MAX + 1];         /* from the client-first message */
    char authorization_id[ST_SASL_USERNAME_BYTES_MAX + 1]; /* set on COMPLETE only */
    /* Between the steps: the gs2 header, the full nonce, and the first two
     * parts of the AuthMessage ("client-first-bare,server-first,"). */
    char gs2_header[ST_SCRAM_CLIENT_MESSAGE_BYTES_MAX];
    size_t gs2_header_len;
    char nonce[ST_SCRAM_CLIENT_NONCE_BYTES_MAX + ST_SCRAM_SERVER_NONCE_CHARS];
    size_t nonce_len;
    char auth_message[ST_SCRAM_CLIENT_MESSAGE_BYTES_MAX * 2 + ST_SASL_CHALLENGE_BYTES_MAX + 2];
    size_t auth_message_len;
    st_scram_credential_t credential;
} st_scram_server_t;

/* Builds a server nonce (ST_SCRAM_SERVER_NONCE_CHARS printable chars, no
 * comma, NUL-terminated) from random bytes the caller drew. */
void st_scram_server_nonce(const uint8_t random[ST_SCRAM_SERVER_NONCE_RANDOM_BYTES],
                           char out[ST_SCRAM_SERVER_NONCE_CHARS + 1]);

/* server_nonce: 1 to ST_SCRAM_SERVER_NONCE_CHARS printable chars without
 * a comma, NUL-terminated (st_scram_server_nonce makes one; tests pass the
 * RFC's). */
void st_scram_server_init(st_scram_server_t *s, st_sasl_mechanism_t mechanism, bool reauthenticating,
                          const char *server_nonce);
void st_scram_server_step(st_scram_server_t *s, const uint8_t *in, size_t len, st_scram_lookup_fn lookup,
                          void *lookup_ctx, st_sasl_outcome_t *out);
/* Wipes what the exchange holds (the caller drops a session midway). */
void st_scram_server_clear(st_scram_server_t *s);

#endif
