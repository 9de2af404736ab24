/*
 * The SASL mechanisms on bytes from an unauthenticated client: the first
 * input byte picks PLAIN, a SCRAM hash or OAUTHBEARER, the rest is split at
 * the first 0xff into the client's first and second token (SCRAM's
 * client-first and client-final; OAUTHBEARER's response and its answer to
 * an error challenge). Nothing may crash, and the state machines' invariants
 * hold after every step: an authorization id exactly when COMPLETE, a
 * failure always with an error code and a client text.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "security/sasl_server.h"

static st_scram_credential_t credentials[2];
static bool credentials_ready;

/* Every user has password "pencil" (computed once: PBKDF2 is slow). */
static bool lookup(void *ctx, st_sasl_mechanism_t mechanism, const char *user, st_scram_credential_t *out) {
    (void)ctx;
    (void)user;
    *out = credentials[mechanism == ST_SASL_SCRAM_SHA_512];
    return true;
}

static bool verify(void *ctx, const char *user, size_t user_len, const uint8_t *password, size_t password_len) {
    (void)ctx;
    (void)user;
    (void)user_len;
    return password_len == 6 && memcmp(password, "pencil", 6) == 0;
}

static void check(const st_sasl_server_t *s, const st_sasl_outcome_t *out) {
    const char *id = st_sasl_server_authorization_id(s);
    if ((id != NULL) != (out->status == ST_SASL_COMPLETE)) __builtin_trap();
    if (out->status == ST_SASL_FAILED && (out->error_code == 0 || out->client_message[0] == '\0')) __builtin_trap();
    if (out->status != ST_SASL_FAILED && out->error_code != 0) __builtin_trap();
    if (out->challenge_len > sizeof out->challenge) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!credentials_ready) {
        static const uint8_t salt[] = "saltsaltsalt";
        st_scram_credential_from_password(ST_SASL_SCRAM_SHA_256, (const uint8_t *)"pencil", 6, salt, 12, 4096,
                                          &credentials[0]);
        st_scram_credential_from_password(ST_SASL_SCRAM_SHA_512, (const uint8_t *)"pencil", 6, salt, 12, 4096,
                                          &credentials[1]);
        credentials_ready = true;
    }
    if (size < 1) return 0;
    st_sasl_mechanism_t mechanism = (st_sasl_mechanism_t)(data[0] % 4);
    data++;
    size--;
    const uint8_t *split = memchr(data, 0xff, size);
    size_t first_len = split ? (size_t)(split - data) : size;
    const uint8_t *second = split ? split + 1 : NULL;
    size_t second_len = split ? size - first_len - 1 : 0;

    /* The parsers alone. */
    char reason[ST_SASL_MESSAGE_BYTES];
    st_sasl_plain_message_t plain;
    (void)st_sasl_plain_parse(data, first_len, &plain, reason, sizeof reason);
    st_scram_client_first_t first;
    if (st_scram_parse_client_first(data, first_len, &first, reason, sizeof reason) == 0) {
        if (first.gs2_header_len + first.bare_len != first_len) __builtin_trap();
        if (first.nonce_len == 0 || first.username[0] == '\0') __builtin_trap();
    }
    st_scram_client_final_t final;
    if (st_scram_parse_client_final(data, first_len, &final, reason, sizeof reason) == 0) {
        if (final.without_proof_len >= first_len || final.proof_len == 0) __builtin_trap();
    }
    st_oauth_initial_response_t oauth;
    if (st_oauth_parse_initial_response(data, first_len, &oauth, reason, sizeof reason) == 0) {
        if (oauth.token_len == 0 || oauth.token < (const char *)data || oauth.token + oauth.token_len > (const char *)data + first_len)
            __builtin_trap();
    }
    st_oauth_token_t token;
    bool insufficient_scope;
    st_oauth_unsecured_config_t scoped = {.required_scope = "LOGIN_TO_KAFKA x", .allowable_clock_skew_ms = 1000};
    if (st_oauth_validate_unsecured((const char *)data, first_len, &scoped, 1700000000000, &token, &insufficient_scope,
                                    reason, sizeof reason) == 0 &&
        token.principal[0] == '\0')
        __builtin_trap();

    /* A whole exchange. */
    st_sasl_callbacks_t callbacks = {.plain_verify = verify, .scram_lookup = lookup};
    uint8_t random[ST_SCRAM_SERVER_NONCE_RANDOM_BYTES] = {0};
    static st_sasl_server_t server;
    if (st_sasl_server_init(&server, mechanism, false, &callbacks, random) != 0) __builtin_trap();
    st_sasl_outcome_t out;
    st_sasl_server_step(&server, data, first_len, 1700000000000, &out);
    check(&server, &out);
    if (second) {
        st_sasl_server_step(&server, second, second_len, 1700000000000, &out);
        check(&server, &out);
    }
    st_sasl_server_clear(&server);
    return 0;
}
