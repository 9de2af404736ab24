/* SASL/PLAIN (RFC 4616) as Kafka's PlainSaslServer: the three fields, an
 * authzid that must be empty or the authcid, the limits, Kafka's error
 * texts (what the client sees, what the log says), and that nothing after
 * the one message is accepted. Also the shared pieces of security/sasl.h
 * and base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "security/base64.h"
#include "security/sasl.h"
#include "security/sasl_plain.h"

/* alice / alice-secret is the only account. */
static int verify_calls;
static bool verify(void *ctx, const char *user, size_t user_len, const uint8_t *password, size_t password_len) {
    (void)ctx;
    verify_calls++;
    return user_len == 5 && memcmp(user, "alice", 5) == 0 && password_len == 12 &&
           memcmp(password, "alice-secret", 12) == 0;
}

static void step(st_sasl_plain_t *s, const char *msg, size_t len, st_sasl_outcome_t *out) {
    st_sasl_plain_step(s, (const uint8_t *)msg, len, verify, NULL, out);
}

static void test_plain_accepts_right_password(void **state) {
    (void)state;
    st_sasl_plain_t s;
    st_sasl_outcome_t out;
    st_sasl_plain_init(&s, false);
    static const char msg[] = "\0alice\0alice-secret";
    step(&s, msg, sizeof msg - 1, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
    assert_int_equal(out.error_code, 0);
    assert_int_equal(out.challenge_len, 0);
    assert_string_equal(s.authorization_id, "alice");
    char principal[64];
    assert_true(st_sasl_principal(s.authorization_id, principal, sizeof principal));
    assert_string_equal(principal, "User:alice");
    /* An authzid equal to the authcid is allowed. */
    st_sasl_plain_init(&s, false);
    static const char same[] = "alice\0alice\0alice-secret";
    step(&s, same, sizeof same - 1, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
}

static void test_plain_wrong_password_and_unknown_user(void **state) {
    (void)state;
    st_sasl_plain_t s;
    st_sasl_outcome_t out;
    static const char wrong[] = "\0alice\0alice-secreT";
    static const char unknown[] = "\0mallory\0alice-secret";
    const struct {
        const char *msg;
        size_t len;
    } cases[] = {{wrong, sizeof wrong - 1}, {unknown, sizeof unknown - 1}};
    for (size_t i = 0; i < 2; i++) {
        st_sasl_plain_init(&s, false);
        step(&s, cases[i].msg, cases[i].len, &out);
        assert_int_equal(out.status, ST_SASL_FAILED);
        assert_int_equal(out.error_code, ST_ERR_SASL_AUTHENTICATION_FAILED);
        /* Kafka's text, the same for both: no user enumeration. */
        assert_string_equal(out.client_message, "Authentication failed: Invalid username or password");
        assert_null(strstr(out.log_reason, "alice-secre"));
        assert_string_equal(s.authorization_id, "");
        assert_int_equal(s.state, ST_SASL_PLAIN_FAILED);
    }
}

static void test_plain_authzid_must_match(void **state) {
    (void)state;
    st_sasl_plain_t s;
    st_sasl_outcome_t out;
    st_sasl_plain_init(&s, false);
    static const char msg[] = "admin\0alice\0alice-secret";
    step(&s, msg, sizeof msg - 1, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    assert_string_equal(out.client_message,
                        "Authentication failed: Client requested an authorization id that is different from username");
    assert_string_equal(s.authorization_id, "");
}

static void test_plain_malformed(void **state) {
    (void)state;
    static const char no_nul[] = "alice";
    static const char one_nul[] = "alice\0secret";
    static const char four[] = "\0alice\0secret\0more";
    static const char no_user[] = "\0\0secret";
    static const char no_password[] = "\0alice\0";
    const struct {
        const char *msg;
        size_t len;
        const char *log;
    } cases[] = {
        {no_nul, sizeof no_nul - 1, "Invalid SASL/PLAIN response: expected 3 tokens, got 1"},
        {one_nul, sizeof one_nul - 1, "Invalid SASL/PLAIN response: expected 3 tokens, got 2"},
        {four, sizeof four - 1, "Invalid SASL/PLAIN response: expected 3 tokens, got 4"},
        {no_user, sizeof no_user - 1, "Authentication failed: username not specified"},
        {no_password, sizeof no_password - 1, "Authentication failed: password not specified"},
        {"", 0, "Invalid SASL/PLAIN response: expected 3 tokens, got 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_sasl_plain_t s;
        st_sasl_outcome_t out;
        st_sasl_plain_init(&s, false);
        verify_calls = 0;
        step(&s, cases[i].msg, cases[i].len, &out);
        assert_int_equal(out.status, ST_SASL_FAILED);
        assert_int_equal(out.error_code, ST_ERR_SASL_AUTHENTICATION_FAILED);
        /* Kafka throws SaslException here: the client gets the generic text. */
        assert_string_equal(out.client_message, "Authentication failed during authentication due to invalid "
                                                "credentials with SASL mechanism PLAIN");
        assert_string_equal(out.log_reason, cases[i].log);
        assert_int_equal(verify_calls, 0);
    }
    /* During KIP-368 re-authentication the text says so. */
    st_sasl_plain_t s;
    st_sasl_outcome_t out;
    st_sasl_plain_init(&s, true);
    step(&s, no_nul, sizeof no_nul - 1, &out);
    assert_string_equal(out.client_message, "Authentication failed during re-authentication due to invalid "
                                            "credentials with SASL mechanism PLAIN");
}

static void test_plain_limits(void **state) {
    (void)state;
    size_t n = ST_SASL_USERNAME_BYTES_MAX + 1;
    char *msg = calloc(1, n + 16);
    memset(msg + 1, 'u', n);
    memcpy(msg + 1 + n + 1, "pw", 2);
    st_sasl_plain_t s;
    st_sasl_outcome_t out;
    st_sasl_plain_init(&s, false);
    verify_calls = 0;
    step(&s, msg, 1 + n + 1 + 2, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    assert_non_null(strstr(out.log_reason, "username longer than"));
    assert_int_equal(verify_calls, 0);
    free(msg);

    n = ST_SASL_PASSWORD_BYTES_MAX + 1;
    msg = calloc(1, n + 16);
    memcpy(msg, "\0alice\0", 7);
    memset(msg + 7, 'p', n);
    st_sasl_plain_init(&s, false);
    step(&s, msg, 7 + n, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    assert_non_null(strstr(out.log_reason, "password longer than"));
    assert_int_equal(verify_calls, 0);
    free(msg);
}

static void test_plain_nothing_after_the_end(void **state) {
    (void)state;
    st_sasl_plain_t s;
    st_sasl_outcome_t out;
    static const char msg[] = "\0alice\0alice-secret";
    st_sasl_plain_init(&s, false);
    step(&s, msg, sizeof msg - 1, &out);
    assert_int_equal(out.status, ST_SASL_COMPLETE);
    step(&s, msg, sizeof msg - 1, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    assert_int_equal(out.error_code, ST_ERR_ILLEGAL_SASL_STATE);
    assert_string_equal(out.client_message, "Unexpected challenge in Sasl server state COMPLETE");
    /* A failed exchange stays failed. */
    step(&s, msg, sizeof msg - 1, &out);
    assert_int_equal(out.error_code, ST_ERR_ILLEGAL_SASL_STATE);
}

static void test_mechanism_names(void **state) {
    (void)state;
    st_sasl_mechanism_t m;
    assert_true(st_sasl_mechanism_from_name("SCRAM-SHA-512", 13, &m));
    assert_int_equal(m, ST_SASL_SCRAM_SHA_512);
    assert_string_equal(st_sasl_mechanism_name(m), "SCRAM-SHA-512");
    assert_true(st_sasl_mechanism_from_name("PLAIN", 5, &m));
    assert_false(st_sasl_mechanism_from_name("plain", 5, &m));
    assert_false(st_sasl_mechanism_from_name("GSSAPI", 6, &m));
    assert_false(st_sasl_mechanism_from_name("SCRAM-SHA-5", 11, &m));
    assert_true(st_sasl_equal_secret((const uint8_t *)"abc", (const uint8_t *)"abc", 3));
    assert_false(st_sasl_equal_secret((const uint8_t *)"abc", (const uint8_t *)"abd", 3));
}

static void test_base64(void **state) {
    (void)state;
    char text[16];
    uint8_t bytes[16];
    const struct {
        const char *plain, *encoded;
    } vectors[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
                   {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"n,,", "biws"}};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n = strlen(vectors[i].plain);
        assert_int_equal(st_base64_encode((const uint8_t *)vectors[i].plain, n, text, sizeof text),
                         strlen(vectors[i].encoded));
        assert_string_equal(text, vectors[i].encoded);
        assert_int_equal(st_base64_decode(vectors[i].encoded, strlen(vectors[i].encoded), bytes, sizeof bytes),
                         (long)n);
        assert_memory_equal(bytes, vectors[i].plain, n);
    }
    /* Not canonical: unpadded, bad characters, bits past the end, padding inside. */
    const char *bad[] = {"Zg", "Zg=", "Z===", "Zh==", "Zm9=", "Zm 9", "Zm9v=Zg=", "Zm-v", "===="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(st_base64_decode(bad[i], strlen(bad[i]), bytes, sizeof bytes), -1);
    assert_int_equal(st_base64_decode("Zm9vYmFy", 8, bytes, 5), -1); /* no room */
    assert_int_equal(st_base64_encode((const uint8_t *)"foo", 3, text, 4), 0);
    /* base64url, unpadded (JWS). */
    assert_int_equal(st_base64url_decode("-_8", 3, bytes, sizeof bytes), 2);
    assert_int_equal(bytes[0], 0xfb);
    assert_int_equal(bytes[1], 0xff);
    assert_int_equal(st_base64url_decode("+/8", 3, bytes, sizeof bytes), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_accepts_right_password),
        cmocka_unit_test(test_plain_wrong_password_and_unknown_user),
        cmocka_unit_test(test_plain_authzid_must_match),
        cmocka_unit_test(test_plain_malformed),
        cmocka_unit_test(test_plain_limits),
        cmocka_unit_test(test_plain_nothing_after_the_end),
        cmocka_unit_test(test_mechanism_names),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
