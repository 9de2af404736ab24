/* SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802/7677) as Kafka's
 * ScramSaslServer: the RFC 7677 exchange byte for byte, the same exchange
 * for SHA-512 against values computed independently (Python's hashlib),
 * credentials as Kafka stores them, a client written here from the RFC
 * driving the server, and every way an exchange fails: wrong password,
 * unknown user, authzid, tokenauth, too few iterations, nonce, channel
 * binding, malformed messages, limits, bytes after the end. */
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
#include "security/sasl_server.h"
#include "security/scram.h"

#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CLIENT_NONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"

typedef struct vector {
    st_sasl_mechanism_t mechanism;
    const char *proof, *server_signature, *stored_key, *server_key;
} vector_t;

/* RFC 7677 section 3 for SHA-256; the same inputs through SHA-512. */
static const vector_t VECTORS[] = {
    {ST_SASL_SCRAM_SHA_256, "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
     "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
     "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="},
    {ST_SASL_SCRAM_SHA_512,
     "gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
     "ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==",
     "6AAub3065EYRmyFpM2RNwqK+eGnrkYuEWbXn19LsEmBqzu8QaCXNc1FwpnX9NhH2hK/60dzj9DoO5DvVkOHbvg==",
     "jZHbYjC1aHh0/hKbxyBuGFjDrgjgKTT1esA7awWiKcRZ0o/0b1yWEebBeSVkkCFewf91nLDfKF24mvD5nmE6rA=="},
};

/* The credential store: "user" / "pencil" with the RFC's salt, and
 * "a,b=c" (a name that needs SCRAM's escaping), "weak" with too few
 * iterations. */
typedef struct store {
    int lookups;
    int32_t iterations;
} store_t;

static void rfc_salt(uint8_t *salt, size_t *len) {
    long n = st_base64_decode(RFC_SALT, strlen(RFC_SALT), salt, ST_SCRAM_SALT_BYTES_MAX);
    assert_true(n == 16);
    *len = (size_t)n;
}

static bool lookup(void *ctx, st_sasl_mechanism_t mechanism, const char *user, st_scram_credential_t *out) {
    store_t *store = ctx;
    store->lookups++;
    int32_t iterations = 4096;
    if (strcmp(user, "weak") == 0) iterations = 1024;
    else if (strcmp(user, "user") != 0 && strcmp(user, "a,b=c") != 0) return false;
    uint8_t salt[ST_SCRAM_SALT_BYTES_MAX];
    size_t salt_len;
    rfc_salt(salt, &salt_len);
    if (iterations < ST_SCRAM_ITERATIONS_MIN) {
        /* Below what AlterUserScramCredentials accepts: built by hand. */
        assert_int_equal(st_scram_credential_from_password(mechanism, (const uint8_t *)"pencil", 6, salt, salt_len,
                                                           4096, out),
                         0);
        out->iterations = iterations;
        return true;
    }
    return st_scram_credential_from_password(mechanism, (const uint8_t *)"pencil", 6, salt, salt_len, iterations,
                                             out) == 0;
}

static void step(st_scram_server_t *s, store_t *store, const char *msg, st_sasl_outcome_t *out) {
    st_scram_server_step(s, (const uint8_t *)msg, strlen(msg), lookup, store, out);
}

static void test_credential_matches_kafka(void **state) {
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        uint8_t salt[ST_SCRAM_SALT_BYTES_MAX], want[ST_SCRAM_KEY_BYTES_MAX];
        size_t salt_len;
        rfc_salt(salt, &salt_len);
        st_scram_credential_t c;
        assert_int_equal(st_scram_credential_from_password(VECTORS[v].mechanism, (const uint8_t *)"pencil", 6, salt,
                                                           salt_len, 4096, &c),
                         0);
        size_t key_bytes = st_scram_key_bytes(VECTORS[v].mechanism);
        assert_int_equal(st_base64_decode(VECTORS[v].stored_key, strlen(VECTORS[v].stored_key), want, sizeof want),
                         (long)key_bytes);
        assert_memory_equal(c.stored_key, want, key_bytes);
        assert_int_equal(st_base64_decode(VECTORS[v].server_key, strlen(VECTORS[v].server_key), want, sizeof want),
                         (long)key_bytes);
        assert_memory_equal(c.server_key, want, key_bytes);
        assert_int_equal(c.iterations, 4096);
        /* PLAIN checked against the SCRAM store. */
        assert_true(st_scram_credential_check_password(&c, (const uint8_t *)"pencil", 6));
        assert_false(st_scram_credential_check_password(&c, (const uint8_t *)"pencil!", 7));
        assert_false(st_scram_credential_check_password(&c, (const uint8_t *)"", 0));

        /* From the salted password, as AlterUserScramCredentials sends it. */
        uint8_t salted[ST_SCRAM_KEY_BYTES_MAX];
        assert_int_equal(st_scram_salted_password(VECTORS[v].mechanism, (const uint8_t *)"pencil", 6, salt, salt_len,
                                                  4096, salted),
                         0);
        st_scram_credential_t c2;
        assert_int_equal(st_scram_credential_from_salted_password(VECTORS[v].mechanism, salted, key_bytes, salt,
                                                                  salt_len, 4096, &c2),
                         0);
        assert_memory_equal(c2.stored_key, c.stored_key, key_bytes);
        assert_int_equal(st_scram_credential_from_salted_password(VECTORS[v].mechanism, salted, key_bytes - 1, salt,
                                                                  salt_len, 4096, &c2),
                         ST_ERR_UNACCEPTABLE_CREDENTIAL);

        /* And back from the metadata record. */
        st_user_scram_credential_record_t rec;
        st_user_scram_credential_record_init(&rec);
        rec.name = st_str("user");
        rec.mechanism = st_scram_mechanism_type(VECTORS[v].mechanism);
        rec.salt = (st_bytes_t){c.salt, (int32_t)c.salt_len};
        rec.stored_key = (st_bytes_t){c.stored_key, (int32_t)key_bytes};
        rec.server_key = (st_bytes_t){c.server_key, (int32_t)key_bytes};
        rec.iterations = 4096;
        st_scram_credential_t c3;
        assert_int_equal(st_scram_credential_from_record(&rec, &c3), 0);
        assert_int_equal(c3.mechanism, VECTORS[v].mechanism);
        assert_memory_equal(c3.server_key, c.server_key, key_bytes);
        rec.stored_key.len--;
        assert_int_equal(st_scram_credential_from_record(&rec, &c3), ST_ERR_CORRUPT);
        rec.stored_key.len++;
        rec.mechanism = 3;
        assert_int_equal(st_scram_credential_from_record(&rec, &c3), ST_ERR_CORRUPT);
    }
}

static void test_validate_upsertion(void **state) {
    (void)state;
    const char *message;
    assert_int_equal(st_scram_validate_upsertion(1, "alice", 5, 4096, &message), 0);
    assert_int_equal(st_scram_validate_upsertion(2, "alice", 5, 16384, &message), 0);
    assert_int_equal(st_scram_validate_upsertion(1, "alice", 5, 4095, &message), ST_ERR_UNACCEPTABLE_CREDENTIAL);
    assert_string_equal(message, "Too few iterations");
    assert_int_equal(st_scram_validate_upsertion(1, "alice", 5, 16385, &message), ST_ERR_UNACCEPTABLE_CREDENTIAL);
    assert_string_equal(message, "Too many iterations");
    assert_int_equal(st_scram_validate_upsertion(0, "alice", 5, 4096, &message), ST_ERR_UNSUPPORTED_SASL_MECHANISM);
    assert_string_equal(message, "Unknown SCRAM mechanism");
    assert_int_equal(st_scram_validate_upsertion(1, "", 0, 4096, &message), ST_ERR_UNACCEPTABLE_CREDENTIAL);
    assert_string_equal(message, "Username must not be empty");
    st_sasl_mechanism_t m;
    assert_true(st_scram_mechanism_from_type(2, &m));
    assert_int_equal(m, ST_SASL_SCRAM_SHA_512);
    assert_false(st_scram_mechanism_from_type(0, &m));
}

/* The RFC 7677 exchange, byte for byte, for both hashes. */
static void test_rfc7677_exchange(void **state) {
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        store_t store = {0};
        st_scram_server_t s;
        st_sasl_outcome_t out;
        st_scram_server_init(&s, VECTORS[v].mechanism, false, RFC_SERVER_NONCE);
        step(&s, &store, "n,,n=user,r=" RFC_CLIENT_NONCE, &out);
        assert_int_equal(out.status, ST_SASL_CONTINUE);
        const char *server_first = "r=" RFC_CLIENT_NONCE RFC_SERVER_NONCE ",s=" RFC_SALT ",i=4096";
        assert_int_equal(out.challenge_len, strlen(server_first));
        assert_memory_equal(out.challenge, server_first, out.challenge_len);
        assert_string_equal(s.authorization_id, "");
        char final[512];
        snprintf(final, sizeof final, "%s%s", "c=biws,r=" RFC_CLIENT_NONCE RFC_SERVER_NONCE ",p=", VECTORS[v].proof);
        step(&s, &store, final, &out);
        assert_int_equal(out.status, ST_SASL_COMPLETE);
        char want[256];
        snprintf(want, sizeof want, "v=%s", VECTORS[v].server_signature);
        assert_int_equal(out.challenge_len, strlen(want));
        assert_memory_equal(out.challenge, want, out.challenge_len);
        assert_string_equal(s.authorization_id, "user");
        assert_int_equal(store.lookups, 1);
        /* Invariant 2: the keys are gone once the exchange is over. */
        static const uint8_t zero[ST_SCRAM_KEY_BYTES_MAX];
        assert_memory_equal(s.credential.stored_key, zero, sizeof zero);
        assert_memory_equal(s.credential.server_key, zero, sizeof zero);
        /* Nothing after the end. */
        step(&s, &store, final, &out);
        assert_int_equal(out.status, ST_SASL_FAILED);
        assert_int_equal(out.error_code, ST_ERR_ILLEGAL_SASL_STATE);
    }
}

/* A client written here from RFC 5802, for exchanges the RFC has no
 * vector for. */
typedef struct client {
    st_sasl_mechanism_t mechanism;
    char gs2[128];
    char first_bare[256];
    char final[1024];
} client_t;

static void client_first(client_t *c, const char *gs2, const char *bare_name, const char *extensions, char *out,
                         size_t cap) {
    snprintf(c->gs2, sizeof c->gs2, "%s", gs2);
    snprintf(c->first_bare, sizeof c->first_bare, "n=%s,r=clientnonce0123456789%s", bare_name, extensions);
    snprintf(out, cap, "%s%s", c->gs2, c->first_bare);
}

/* Builds the client-final for `password` answering `server_first`. */
static void client_final(client_t *c, const uint8_t *server_first, size_t server_first_len, const char *password,
                         const char *channel_binding) {
    char sf[512];
    memcpy(sf, server_first, server_first_len);
    sf[server_first_len] = '\0';
    char *nonce = sf + 2, *salt64 = strstr(sf, ",s="), *iter = strstr(sf, ",i=");
    assert_non_null(salt64);
    assert_non_null(iter);
    size_t nonce_len = (size_t)(salt64 - nonce);
    uint8_t salt[128];
    long salt_len = st_base64_decode(salt64 + 3, (size_t)(iter - salt64 - 3), salt, sizeof salt);
    assert_true(salt_len > 0);
    int32_t iterations = atoi(iter + 3);
    char cb64[256];
    if (channel_binding) snprintf(cb64, sizeof cb64, "%s", channel_binding);
    else st_base64_encode((const uint8_t *)c->gs2, strlen(c->gs2), cb64, sizeof cb64);
    char without_proof[512];
    snprintf(without_proof, sizeof without_proof, "c=%s,r=%.*s", cb64, (int)nonce_len, nonce);
    char auth_message[2048];
    snprintf(auth_message, sizeof auth_message, "%s,%s,%s", c->first_bare, sf, without_proof);
    size_t key_bytes = st_scram_key_bytes(c->mechanism);
    uint8_t salted[64], client_key[64], stored[64], signature[64], proof[64];
    assert_int_equal(st_scram_salted_password(c->mechanism, (const uint8_t *)password, strlen(password), salt,
                                              (size_t)salt_len, iterations, salted),
                     0);
    st_scram_hmac(c->mechanism, salted, key_bytes, "Client Key", 10, client_key);
    st_scram_hash(c->mechanism, client_key, key_bytes, stored);
    st_scram_hmac(c->mechanism, stored, key_bytes, auth_message, strlen(auth_message), signature);
    for (size_t i = 0; i < key_bytes; i++) proof[i] = client_key[i] ^ signature[i];
    char proof64[128];
    st_base64_encode(proof, key_bytes, proof64, sizeof proof64);
    snprintf(c->final, sizeof c->final, "%s,p=%s", without_proof, proof64);
}

/* Runs an exchange through the dispatcher; returns the last outcome. */
static st_sasl_status_t run_exchange(st_sasl_mechanism_t mechanism, const char *gs2, const char *name,
                                     const char *extensions, const char *password, const char *channel_binding,
                                     st_sasl_outcome_t *out, char *authorization_id) {
    store_t store = {0};
    st_sasl_callbacks_t callbacks = {.ctx = &store, .scram_lookup = lookup};
    uint8_t random[ST_SCRAM_SERVER_NONCE_RANDOM_BYTES];
    assert_int_equal(st_sasl_random_bytes(random, sizeof random), 0);
    st_sasl_server_t *server = malloc(sizeof *server);
    assert_int_equal(st_sasl_server_init(server, mechanism, false, &callbacks, random), 0);
    client_t c = {.mechanism = mechanism};
    char first[512];
    client_first(&c, gs2, name, extensions, first, sizeof first);
    st_sasl_server_step(server, (const uint8_t *)first, strlen(first), 0, out);
    if (out->status == ST_SASL_CONTINUE) {
        /* The server nonce extends the client's with 32 printable chars. */
        assert_int_equal(memcmp(out->challenge, "r=clientnonce0123456789", 23), 0);
        assert_int_equal(out->challenge[23 + ST_SCRAM_SERVER_NONCE_CHARS], ',');
        client_final(&c, out->challenge, out->challenge_len, password, channel_binding);
        st_sasl_server_step(server, (const uint8_t *)c.final, strlen(c.final), 0, out);
    }
    const char *id = st_sasl_server_authorization_id(server);
    strcpy(authorization_id, id ? id : "");
    assert_true((id != NULL) == (out->status == ST_SASL_COMPLETE));
    st_sasl_server_clear(server);
    free(server);
    return out->status;
}

static void test_exchanges_through_the_dispatcher(void **state) {
    (void)state;
    st_sasl_outcome_t out;
    char id[ST_SASL_USERNAME_BYTES_MAX + 1];
    for (int m = ST_SASL_SCRAM_SHA_256; m <= ST_SASL_SCRAM_SHA_512; m++) {
        const char *generic = m == ST_SASL_SCRAM_SHA_256
                                  ? "Authentication failed during authentication due to invalid credentials with "
                                    "SASL mechanism SCRAM-SHA-256"
                                  : "Authentication failed during authentication due to invalid credentials with "
                                    "SASL mechanism SCRAM-SHA-512";
        assert_int_equal(run_exchange(m, "n,,", "user", "", "pencil", NULL, &out, id), ST_SASL_COMPLETE);
        assert_string_equal(id, "user");
        assert_memory_equal(out.challenge, "v=", 2);
        /* An authzid equal to the user. */
        assert_int_equal(run_exchange(m, "n,a=user,", "user", "", "pencil", NULL, &out, id), ST_SASL_COMPLETE);
        /* Escaped names: "a,b=c" travels as a=2Cb=3Dc. */
        assert_int_equal(run_exchange(m, "n,,", "a=2Cb=3Dc", "", "pencil", NULL, &out, id), ST_SASL_COMPLETE);
        assert_string_equal(id, "a,b=c");
        /* Unknown extensions are ignored, as Kafka does. */
        assert_int_equal(run_exchange(m, "n,,", "user", ",foo=bar,x=1", "pencil", NULL, &out, id), ST_SASL_COMPLETE);

        /* Wrong password: fails at the proof, generic text. */
        assert_int_equal(run_exchange(m, "n,,", "user", "", "pencil2", NULL, &out, id), ST_SASL_FAILED);
        assert_int_equal(out.error_code, ST_ERR_SASL_AUTHENTICATION_FAILED);
        assert_string_equal(out.client_message, generic);
        assert_non_null(strstr(out.log_reason, "Invalid client credentials"));
        assert_string_equal(id, "");
        /* Unknown user: fails at once, the same generic text. */
        assert_int_equal(run_exchange(m, "n,,", "nobody", "", "pencil", NULL, &out, id), ST_SASL_FAILED);
        assert_string_equal(out.client_message, generic);
        assert_non_null(strstr(out.log_reason, "Invalid user credentials"));
        /* An authzid that is not the user: Kafka's visible text. */
        assert_int_equal(run_exchange(m, "n,a=admin,", "user", "", "pencil", NULL, &out, id), ST_SASL_FAILED);
        assert_string_equal(out.client_message, "Authentication failed: Client requested an authorization id that "
                                                "is different from username");
        /* Delegation tokens: none exist here. */
        assert_int_equal(run_exchange(m, "n,,", "user", ",tokenauth=true", "pencil", NULL, &out, id), ST_SASL_FAILED);
        assert_non_null(strstr(out.log_reason, "Token Authentication failed"));
        assert_int_equal(run_exchange(m, "n,,", "user", ",tokenauth=false", "pencil", NULL, &out, id),
                         ST_SASL_COMPLETE);
        /* Below Kafka's minimum iterations. */
        assert_int_equal(run_exchange(m, "n,,", "weak", "", "pencil", NULL, &out, id), ST_SASL_FAILED);
        assert_non_null(strstr(out.log_reason, "is less than the minimum 4096"));
        /* Channel binding other than the gs2 header ("biws" is "n,,"). */
        assert_int_equal(run_exchange(m, "n,,", "user", "", "pencil", "eSws", &out, id), ST_SASL_FAILED);
        assert_non_null(strstr(out.log_reason, "channel binding"));
        assert_int_equal(run_exchange(m, "n,a=user,", "user", "", "pencil", "biws", &out, id), ST_SASL_FAILED);
    }
}

static void test_malformed_messages(void **state) {
    (void)state;
    const char *firsts[] = {
        "",                                   /* empty */
        "y,,n=user,r=abc",                    /* channel binding flags other than n */
        "p=tls-unique,,n=user,r=abc",
        "n,,n=,r=abc",                        /* empty name */
        "n,,n=us=er,r=abc",                   /* '=' not =2C/=3D */
        "n,,n=us=2cer,r=abc",                 /* lower case escape */
        "n,,n=user,r=",                       /* empty nonce */
        "n,,n=user,r=ab c",                   /* space in the nonce */
        "n,,n=user",                          /* no nonce */
        "n,,r=abc,n=user",                    /* out of order */
        "n,,n=user,r=abc,",                   /* empty extension */
        "n,,n=user,r=abc,1x=y",               /* extension key not ALPHA */
        "n,,n=user,r=abc,x=",                 /* empty extension value */
        "n,n=user,r=abc",                     /* gs2 header without its second comma */
        "n,,n=us\x80r,r=abc",                 /* non-ASCII name */
    };
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++) {
        store_t store = {0};
        st_scram_server_t s;
        st_sasl_outcome_t out;
        st_scram_server_init(&s, ST_SASL_SCRAM_SHA_256, false, "servernonce");
        step(&s, &store, firsts[i], &out);
        if (out.status != ST_SASL_FAILED) fail_msg("accepted client-first %zu: %s", i, firsts[i]);
        assert_int_equal(out.error_code, ST_ERR_SASL_AUTHENTICATION_FAILED);
        assert_int_equal(store.lookups, 0);
        assert_int_equal(s.state, ST_SCRAM_FAILED);
    }
    /* Kafka's regex allows a reserved m= before the name. */
    {
        store_t store = {0};
        st_scram_server_t s;
        st_sasl_outcome_t out;
        st_scram_server_init(&s, ST_SASL_SCRAM_SHA_256, false, "servernonce");
        step(&s, &store, "n,,m=ext,n=user,r=abc", &out);
        assert_int_equal(out.status, ST_SASL_CONTINUE);
    }
    const char *finals[] = {
        "",
        "c=biws,r=abcservernonce",                       /* no proof */
        "c=biws,r=abcservernonce,p=",                    /* empty proof */
        "c=biws,r=abcservernonce,p=AAAA",                /* proof of the wrong size */
        "c=biws,r=abcservernonc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", /* nonce differs */
        "c=bi ws,r=abcservernonce,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "r=abcservernonce,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=abcservernonce,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",  /* bad padding */
        "c=biws,r=abcservernonce,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=y",
    };
    for (size_t i = 0; i < sizeof finals / sizeof finals[0]; i++) {
        store_t store = {0};
        st_scram_server_t s;
        st_sasl_outcome_t out;
        st_scram_server_init(&s, ST_SASL_SCRAM_SHA_256, false, "servernonce");
        step(&s, &store, "n,,n=user,r=abc", &out);
        assert_int_equal(out.status, ST_SASL_CONTINUE);
        step(&s, &store, finals[i], &out);
        if (out.status != ST_SASL_FAILED) fail_msg("accepted client-final %zu: %s", i, finals[i]);
        assert_string_equal(out.client_message, "Authentication failed during authentication due to invalid "
                                                "credentials with SASL mechanism SCRAM-SHA-256");
        assert_string_equal(s.authorization_id, "");
    }
}

static void test_limits(void **state) {
    (void)state;
    store_t store = {0};
    st_sasl_outcome_t out;
    char *msg = malloc(ST_SCRAM_CLIENT_MESSAGE_BYTES_MAX + 64);
    /* A nonce over the limit. */
    int n = snprintf(msg, 64, "n,,n=user,r=");
    memset(msg + n, 'x', ST_SCRAM_CLIENT_NONCE_BYTES_MAX + 1);
    msg[n + ST_SCRAM_CLIENT_NONCE_BYTES_MAX + 1] = '\0';
    st_scram_server_t s;
    st_scram_server_init(&s, ST_SASL_SCRAM_SHA_256, false, "servernonce");
    step(&s, &store, msg, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    /* The longest nonce that is allowed still fits the server-first message. */
    msg[n + ST_SCRAM_CLIENT_NONCE_BYTES_MAX] = '\0';
    st_scram_server_init(&s, ST_SASL_SCRAM_SHA_256, false, "servernonce");
    step(&s, &store, msg, &out);
    assert_int_equal(out.status, ST_SASL_CONTINUE);
    /* A name over the limit. */
    n = snprintf(msg, 64, "n,,n=");
    memset(msg + n, 'u', ST_SASL_USERNAME_BYTES_MAX + 1);
    strcpy(msg + n + ST_SASL_USERNAME_BYTES_MAX + 1, ",r=abc");
    st_scram_server_init(&s, ST_SASL_SCRAM_SHA_256, false, "servernonce");
    step(&s, &store, msg, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    /* A whole message over the limit, however well formed. */
    n = snprintf(msg, 64, "n,,n=user,r=abc");
    while (n + 4 < ST_SCRAM_CLIENT_MESSAGE_BYTES_MAX + 8) n += snprintf(msg + n, 8, ",a=b");
    st_scram_server_init(&s, ST_SASL_SCRAM_SHA_256, false, "servernonce");
    step(&s, &store, msg, &out);
    assert_int_equal(out.status, ST_SASL_FAILED);
    free(msg);
}

static void test_server_nonce(void **state) {
    (void)state;
    uint8_t random[ST_SCRAM_SERVER_NONCE_RANDOM_BYTES];
    memset(random, 0xfb, sizeof random); /* encodes to '+' and '/' chars */
    char nonce[ST_SCRAM_SERVER_NONCE_CHARS + 1];
    st_scram_server_nonce(random, nonce);
    assert_int_equal(strlen(nonce), ST_SCRAM_SERVER_NONCE_CHARS);
    for (size_t i = 0; i < ST_SCRAM_SERVER_NONCE_CHARS; i++) {
        assert_true(nonce[i] >= 0x21 && nonce[i] <= 0x7e);
        assert_true(nonce[i] != ',');
    }
    /* Two draws differ. */
    uint8_t a[16], b[16];
    assert_int_equal(st_sasl_random_bytes(a, sizeof a), 0);
    assert_int_equal(st_sasl_random_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credential_matches_kafka),
        cmocka_unit_test(test_validate_upsertion),
        cmocka_unit_test(test_rfc7677_exchange),
        cmocka_unit_test(test_exchanges_through_the_dispatcher),
        cmocka_unit_test(test_malformed_messages),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_server_nonce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
