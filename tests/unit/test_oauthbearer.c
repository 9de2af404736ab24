/* SASL/OAUTHBEARER (RFC 7628) with Kafka's unsecured JWS validator
 * (KIP-255): the client's initial response as Kafka parses it, tokens
 * valid and not (expired, issued in the future, exp before iat, a signing
 * algorithm, a signature, bad parts, no principal), clock skew, required
 * scope, the RFC's error challenge and %x01 acknowledgement, authzid, and
 * the session expiry the dispatcher reports for KIP-368. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "security/base64.h"
#include "security/oauthbearer.h"
#include "security/sasl_server.h"

static const int64_t NOW_MS = 1700000000000; /* seconds 1700000000 */

static void token_of(const char *header, const char *claims, const char *signature, char *out, size_t cap) {
    char h[512], c[1024];
    st_base64url_encode((const uint8_t *)header, strlen(header), h, sizeof h);
    st_base64url_encode((const uint8_t *)claims, strlen(claims), c, sizeof c);
    snprintf(out, cap, "%s.%s.%s", h, c, signature);
}

/* "n,<gs2 authzid>,^Aauth=Bearer <token>^A<extensions>^A" */
static size_t response_of(const char *authzid, const char *token, const char *extensions, char *out, size_t cap) {
    int n = snprintf(out, cap, "n,%s%s,\x01" "auth=Bearer %s\x01%s\x01", authzid ? "a=" : "", authzid ? authzid : "",
                     token, extensions ? extensions : "");
    return (size_t)n;
}

static void step(st_oauth_server_t *s, const char *msg, size_t len, st_sasl_outcome_t *out) {
    st_oauth_server_step(s, (const uint8_t *)msg, len, NOW_MS, out);
}

static const char *claims_valid =
    "{\"sub\":\"alice\",\"iat\":1699999990,\"exp\":1700003600,\"scope\":[\"LOGIN_TO_KAFKA\",\"extra\"]}";

static void test_valid_token(void **state) {
    (void)state;
    char token[2048], msg[4096];
    token_of("{\"alg\":\"none\"}", claims_valid, "", token, sizeof token);
    size_t len = response_of(NULL, token, "traceId=abc 1\x01", msg, sizeof msg);
    st_oauth_unsecured_config_t config = {.required_scope = "LOGIN_TO_KAFKA"};
    st_oauth_server_t s;
    st_sasl_outcome_t out;
    st_oauth_server_init(&s, &config, false);
    step(&s, msg, len, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
    assert_int_equal(out.challenge_len, 0);
    assert_string_equal(s.authorization_id, "alice");
    assert_int_equal(s.expiry_ms, 1700003600000);
    /* Nothing after the end. */
    step(&s, msg, len, &out);
    assert_int_equal(out.error_code, ST_ERR_ILLEGAL_SASL_STATE);

    /* Through the dispatcher: the principal and the session's expiry. */
    st_sasl_callbacks_t callbacks = {.oauth = &config};
    uint8_t random[ST_SCRAM_SERVER_NONCE_RANDOM_BYTES] = {0};
    st_sasl_server_t server;
    assert_int_equal(st_sasl_server_init(&server, ST_SASL_OAUTHBEARER, false, &callbacks, random), 0);
    assert_int_equal(st_sasl_server_credential_expiry_ms(&server), -1);
    st_sasl_server_step(&server, (const uint8_t *)msg, len, NOW_MS, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
    assert_string_equal(st_sasl_server_authorization_id(&server), "alice");
    assert_int_equal(st_sasl_server_credential_expiry_ms(&server), 1700003600000);

    /* An authzid equal to the principal; padding-free and padded parts alike;
     * another principal claim. */
    len = response_of("alice", token, NULL, msg, sizeof msg);
    st_oauth_server_init(&s, NULL, false);
    step(&s, msg, len, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
    st_oauth_unsecured_config_t upn = {.principal_claim_name = "upn"};
    token_of("{\"alg\":\"none\"}", "{\"upn\":\"bob\",\"exp\":1700003600}", "", token, sizeof token);
    len = response_of(NULL, token, NULL, msg, sizeof msg);
    st_oauth_server_init(&s, &upn, false);
    step(&s, msg, len, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
    assert_string_equal(s.authorization_id, "bob");
}

/* A token the validator refuses: the RFC 7628 error challenge, then the
 * client's %x01, then FAILED with the JSON as the client's message. */
static void expect_invalid(const st_oauth_unsecured_config_t *config, const char *token, const char *json) {
    char msg[4096];
    size_t len = response_of(NULL, token, NULL, msg, sizeof msg);
    st_oauth_server_t s;
    st_sasl_outcome_t out;
    st_oauth_server_init(&s, config, false);
    step(&s, msg, len, &out);
    if (out.status != ST_SASL_CONTINUE) fail_msg("token accepted or refused without a challenge: %s", token);
    assert_int_equal(out.challenge_len, strlen(json));
    assert_memory_equal(out.challenge, json, out.challenge_len);
    assert_true(strlen(out.log_reason) > 0);
    step(&s, "\x01", 1, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    assert_int_equal(out.error_code, ST_ERR_SASL_AUTHENTICATION_FAILED);
    assert_string_equal(out.client_message, json);
    assert_string_equal(s.authorization_id, "");
}

static void test_invalid_tokens(void **state) {
    (void)state;
    const char *invalid = "{\"status\":\"invalid_token\"}";
    char token[2048];
    const char *none = "{\"alg\":\"none\"}";
    /* Expired, and expired within the allowed skew. */
    token_of(none, "{\"sub\":\"alice\",\"exp\":1699999999}", "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    st_oauth_unsecured_config_t skew = {.allowable_clock_skew_ms = 5000};
    char msg[4096];
    size_t len = response_of(NULL, token, NULL, msg, sizeof msg);
    st_oauth_server_t s;
    st_sasl_outcome_t out;
    st_oauth_server_init(&s, &skew, false);
    step(&s, msg, len, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
    /* Exactly at exp is expired (Kafka: now >= exp). */
    token_of(none, "{\"sub\":\"alice\",\"exp\":1700000000}", "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    /* Issued in the future; exp not after iat. */
    token_of(none, "{\"sub\":\"alice\",\"iat\":1700000100,\"exp\":1700003600}", "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    token_of(none, "{\"sub\":\"alice\",\"iat\":1699990000,\"exp\":1699990000}", "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    /* No exp, exp not a number, no principal, a blank or non-string one. */
    token_of(none, "{\"sub\":\"alice\"}", "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    token_of(none, "{\"sub\":\"alice\",\"exp\":\"soon\"}", "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    token_of(none, "{\"exp\":1700003600}", "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    token_of(none, "{\"sub\":\"  \",\"exp\":1700003600}", "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    token_of(none, "{\"sub\":7,\"exp\":1700003600}", "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    /* Signed, or carrying a signature, or no alg. */
    token_of("{\"alg\":\"HS256\"}", claims_valid, "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    token_of(none, claims_valid, "c2ln", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    token_of("{\"typ\":\"JWT\"}", claims_valid, "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    /* Not a JWS: parts, "..", base64, JSON, not an object. */
    expect_invalid(NULL, "abc.def", invalid);
    expect_invalid(NULL, "abc..def", invalid);
    expect_invalid(NULL, "a.b.c.d", invalid);
    expect_invalid(NULL, "eyJ.e30.", invalid);
    token_of("[1,2]", claims_valid, "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
    token_of("{\"alg\":\"none\"", claims_valid, "", token, sizeof token);
    expect_invalid(NULL, token, invalid);
}

static void test_scope(void **state) {
    (void)state;
    char token[2048];
    token_of("{\"alg\":\"none\"}", claims_valid, "", token, sizeof token);
    st_oauth_unsecured_config_t need = {.required_scope = "LOGIN_TO_KAFKA admin"};
    expect_invalid(&need, token, "{\"status\":\"insufficient_scope\", \"scope\":\"[LOGIN_TO_KAFKA, admin]\"}");
    /* A string scope claim is one element (trimmed), as in Kafka. */
    token_of("{\"alg\":\"none\"}", "{\"sub\":\"a\",\"exp\":1700003600,\"scope\":\" x y \"}", "", token, sizeof token);
    st_oauth_unsecured_config_t need_x = {.required_scope = "x"};
    expect_invalid(&need_x, token, "{\"status\":\"insufficient_scope\", \"scope\":\"[x]\"}");
    st_oauth_unsecured_config_t need_xy = {.required_scope = "x y"};
    expect_invalid(&need_xy, token, "{\"status\":\"insufficient_scope\", \"scope\":\"[x, y]\"}");
    /* A scope claim of another type is invalid. */
    token_of("{\"alg\":\"none\"}", "{\"sub\":\"a\",\"exp\":1700003600,\"scope\":5}", "", token, sizeof token);
    expect_invalid(NULL, token, "{\"status\":\"invalid_token\"}");
}

static void test_initial_response_and_authzid(void **state) {
    (void)state;
    char token[2048], msg[4096];
    token_of("{\"alg\":\"none\"}", claims_valid, "", token, sizeof token);
    /* An authzid that is not the token's principal. */
    size_t len = response_of("mallory", token, NULL, msg, sizeof msg);
    st_oauth_server_t s;
    st_sasl_outcome_t out;
    st_oauth_server_init(&s, NULL, false);
    step(&s, msg, len, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    assert_string_equal(out.client_message, "Authentication failed: Client requested an authorization id (mallory) "
                                            "that is different from the token's principal name (alice)");
    /* Malformed messages: Kafka's generic text to the client. */
    char bad[8][2600];
    snprintf(bad[0], sizeof bad[0], "n,,auth=Bearer %s\x01\x01", token);              /* no %x01 after gs2 */
    snprintf(bad[1], sizeof bad[1], "n,,\x01" "auth=Bearer %s\x01", token);           /* no final %x01 */
    snprintf(bad[2], sizeof bad[2], "n,,\x01" "host=x\x01\x01");                      /* no auth */
    snprintf(bad[3], sizeof bad[3], "n,,\x01" "auth=Basic %s\x01\x01", token);        /* another scheme */
    snprintf(bad[4], sizeof bad[4], "n,,\x01" "auth=Bearer %s+x\x01\x01", token);     /* '+' in the token */
    snprintf(bad[5], sizeof bad[5], "n,,\x01" "auth=Bearer %s\x01" "1x=y\x01\x01", token); /* bad key */
    snprintf(bad[6], sizeof bad[6], "y,,\x01" "auth=Bearer %s\x01\x01", token);       /* gs2 flag */
    snprintf(bad[7], sizeof bad[7], "n,,\x01" "auth=Bearer\x01\x01");                 /* no token */
    const char *generic = "Authentication failed during authentication due to invalid credentials with SASL "
                          "mechanism OAUTHBEARER";
    for (int i = 0; i < 8; i++) {
        st_oauth_server_init(&s, NULL, false);
        step(&s, bad[i], strlen(bad[i]), &out);
        if (out.status != ST_SASL_FAILED) fail_msg("accepted malformed response %d", i);
        assert_string_equal(out.client_message, generic);
    }
    st_oauth_initial_response_t r;
    char reason[256];
    assert_int_equal(st_oauth_parse_initial_response((const uint8_t *)bad[3], strlen(bad[3]), &r, reason, sizeof reason),
                     -1);
    assert_string_equal(reason, "Invalid scheme in OAUTHBEARER client first message: Basic");
    /* "bearer" in any case is fine; a lone %x01 with no pending error is
     * malformed; a retry after the error challenge is evaluated afresh. */
    len = (size_t)snprintf(msg, sizeof msg, "n,,\x01" "auth=bEaReR %s\x01\x01", token);
    st_oauth_server_init(&s, NULL, false);
    step(&s, msg, len, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
    st_oauth_server_init(&s, NULL, false);
    step(&s, "\x01", 1, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    char expired[2048], retry[4096];
    token_of("{\"alg\":\"none\"}", "{\"sub\":\"alice\",\"exp\":1}", "", expired, sizeof expired);
    len = response_of(NULL, expired, NULL, msg, sizeof msg);
    st_oauth_server_init(&s, NULL, false);
    step(&s, msg, len, &out);
    assert_int_equal(out.status, ST_SASL_CONTINUE);
    len = response_of(NULL, token, NULL, retry, sizeof retry);
    step(&s, retry, len, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_token),
        cmocka_unit_test(test_invalid_tokens),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_initial_response_and_authzid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
