#include "security/scram.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/errors.h"
#include "security/base64.h"

static const char *const STATE_NAMES[] = {"RECEIVE_CLIENT_FIRST_MESSAGE", "RECEIVE_CLIENT_FINAL_MESSAGE",
                                          "COMPLETE", "FAILED"};

static const EVP_MD *digest_of(st_sasl_mechanism_t m) {
    switch (m) {
    case ST_SASL_SCRAM_SHA_256: return EVP_sha256();
    case ST_SASL_SCRAM_SHA_512: return EVP_sha512();
    default: return NULL;
    }
}

size_t st_scram_key_bytes(st_sasl_mechanism_t mechanism) {
    switch (mechanism) {
    case ST_SASL_SCRAM_SHA_256: return 32;
    case ST_SASL_SCRAM_SHA_512: return 64;
    default: return 0;
    }
}

int8_t st_scram_mechanism_type(st_sasl_mechanism_t mechanism) {
    switch (mechanism) {
    case ST_SASL_SCRAM_SHA_256: return 1;
    case ST_SASL_SCRAM_SHA_512: return 2;
    default: return 0;
    }
}

bool st_scram_mechanism_from_type(int8_t type, st_sasl_mechanism_t *out) {
    if (type == 1) *out = ST_SASL_SCRAM_SHA_256;
    else if (type == 2) *out = ST_SASL_SCRAM_SHA_512;
    else return false;
    return true;
}

int st_scram_hmac(st_sasl_mechanism_t mechanism, const uint8_t *key, size_t key_len, const void *data, size_t len,
                  uint8_t *out) {
    const EVP_MD *md = digest_of(mechanism);
    unsigned int out_len = 0;
    if (!md || key_len > INT32_MAX) return ST_ERR_INVALID_REQUEST;
    if (!HMAC(md, key, (int)key_len, data, len, out, &out_len)) return ST_ERR_UNKNOWN_SERVER_ERROR;
    return 0;
}

int st_scram_hash(st_sasl_mechanism_t mechanism, const uint8_t *data, size_t len, uint8_t *out) {
    const EVP_MD *md = digest_of(mechanism);
    if (!md) return ST_ERR_INVALID_REQUEST;
    return EVP_Digest(data, len, out, NULL, md, NULL) == 1 ? 0 : ST_ERR_UNKNOWN_SERVER_ERROR;
}

int st_scram_salted_password(st_sasl_mechanism_t mechanism, const uint8_t *password, size_t password_len,
                             const uint8_t *salt, size_t salt_len, int32_t iterations, uint8_t *out) {
    const EVP_MD *md = digest_of(mechanism);
    if (!md || iterations < 1 || password_len > INT32_MAX || salt_len > INT32_MAX) return ST_ERR_INVALID_REQUEST;
    int ok = PKCS5_PBKDF2_HMAC((const char *)password, (int)password_len, salt, (int)salt_len, iterations, md,
                               (int)st_scram_key_bytes(mechanism), out);
    return ok == 1 ? 0 : ST_ERR_UNKNOWN_SERVER_ERROR;
}

int st_scram_credential_from_salted_password(st_sasl_mechanism_t mechanism, const uint8_t *salted_password,
                                             size_t salted_len, const uint8_t *salt, size_t salt_len,
                                             int32_t iterations, st_scram_credential_t *out) {
    size_t key_bytes = st_scram_key_bytes(mechanism);
    if (key_bytes == 0) return ST_ERR_UNSUPPORTED_SASL_MECHANISM;
    if (salted_len != key_bytes || salt_len == 0 || salt_len > ST_SCRAM_SALT_BYTES_MAX || iterations < 1 ||
        iterations > ST_SCRAM_ITERATIONS_MAX)
        return ST_ERR_UNACCEPTABLE_CREDENTIAL;
    memset(out, 0, sizeof *out);
    out->mechanism = mechanism;
    memcpy(out->salt, salt, salt_len);
    out->salt_len = salt_len;
    out->iterations = iterations;
    uint8_t client_key[ST_SCRAM_KEY_BYTES_MAX];
    int rc = st_scram_hmac(mechanism, salted_password, salted_len, "Client Key", 10, client_key);
    if (rc == 0) rc = st_scram_hash(mechanism, client_key, key_bytes, out->stored_key);
    if (rc == 0) rc = st_scram_hmac(mechanism, salted_password, salted_len, "Server Key", 10, out->server_key);
    OPENSSL_cleanse(client_key, sizeof client_key);
    if (rc != 0) OPENSSL_cleanse(out, sizeof *out);
    return rc;
}

int st_scram_credential_from_password(st_sasl_mechanism_t mechanism, const uint8_t *password, size_t password_len,
                                      const uint8_t *salt, size_t salt_len, int32_t iterations,
                                      st_scram_credential_t *out) {
    if (st_scram_key_bytes(mechanism) == 0) return ST_ERR_UNSUPPORTED_SASL_MECHANISM;
    if (iterations < 1 || iterations > ST_SCRAM_ITERATIONS_MAX) return ST_ERR_UNACCEPTABLE_CREDENTIAL;
    uint8_t salted[ST_SCRAM_KEY_BYTES_MAX];
    int rc = st_scram_salted_password(mechanism, password, password_len, salt, salt_len, iterations, salted);
    if (rc == 0)
        rc = st_scram_credential_from_salted_password(mechanism, salted, st_scram_key_bytes(mechanism), salt,
                                                      salt_len, iterations, out);
    OPENSSL_cleanse(salted, sizeof salted);
    return rc;
}

int st_scram_credential_from_record(const st_user_scram_credential_record_t *record, st_scram_credential_t *out) {
    st_sasl_mechanism_t m;
    if (!st_scram_mechanism_from_type(record->mechanism, &m)) return ST_ERR_CORRUPT;
    size_t key_bytes = st_scram_key_bytes(m);
    if (record->salt.len <= 0 || record->salt.len > ST_SCRAM_SALT_BYTES_MAX ||
        record->stored_key.len != (int32_t)key_bytes || record->server_key.len != (int32_t)key_bytes ||
        record->iterations < 1)
        return ST_ERR_CORRUPT;
    memset(out, 0, sizeof *out);
    out->mechanism = m;
    memcpy(out->salt, record->salt.ptr, (size_t)record->salt.len);
    out->salt_len = (size_t)record->salt.len;
    memcpy(out->stored_key, record->stored_key.ptr, key_bytes);
    memcpy(out->server_key, record->server_key.ptr, key_bytes);
    out->iterations = record->iterations;
    return 0;
}

bool st_scram_credential_check_password(const st_scram_credential_t *c, const uint8_t *password,
                                        size_t password_len) {
    st_scram_credential_t computed;
    if (st_scram_credential_from_password(c->mechanism, password, password_len, c->salt, c->salt_len,
                                          c->iterations, &computed) != 0)
        return false;
    size_t key_bytes = st_scram_key_bytes(c->mechanism);
    bool same = CRYPTO_memcmp(computed.stored_key, c->stored_key, key_bytes) == 0;
    OPENSSL_cleanse(&computed, sizeof computed);
    return same;
}

int st_scram_validate_upsertion(int8_t mechanism_type, const char *name, size_t name_len, int32_t iterations,
                                const char **message) {
    st_sasl_mechanism_t m;
    (void)name;
    if (name_len == 0) {
        *message = "Username must not be empty";
        return ST_ERR_UNACCEPTABLE_CREDENTIAL;
    }
    if (!st_scram_mechanism_from_type(mechanism_type, &m)) {
        *message = "Unknown SCRAM mechanism";
        return ST_ERR_UNSUPPORTED_SASL_MECHANISM;
    }
    if (iterations < ST_SCRAM_ITERATIONS_MIN) {
        *message = "Too few iterations";
        return ST_ERR_UNACCEPTABLE_CREDENTIAL;
    }
    if (iterations > ST_SCRAM_ITERATIONS_MAX) {
        *message = "Too many iterations";
        return ST_ERR_UNACCEPTABLE_CREDENTIAL;
    }
    *message = NULL;
    return 0;
}

/* --- parsing: the character classes of Kafka's ScramMessages --- */

/* VALUE: 0x01-0x7F except ','. */
static bool is_value_char(uint8_t c) { return c >= 0x01 && c <= 0x7f && c != ','; }
/* PRINTABLE: 0x21-0x7E except ','. */
static bool is_printable_char(uint8_t c) { return c >= 0x21 && c <= 0x7e && c != ','; }
static bool is_alpha(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

typedef struct cursor {
    const uint8_t *p;
    size_t len;
    size_t at;
} cursor_t;

static bool take_literal(cursor_t *c, const char *lit) {
    size_t n = strlen(lit);
    if (c->len - c->at < n || memcmp(c->p + c->at, lit, n) != 0) return false;
    c->at += n;
    return true;
}

/* Length of the run of chars at the cursor that satisfy `ok`. */
static size_t run_of(const cursor_t *c, bool (*ok)(uint8_t)) {
    size_t n = 0;
    while (c->at + n < c->len && ok(c->p[c->at + n])) n++;
    return n;
}

/* SASLNAME: 1*(VALUE-SAFE-CHAR / "=2C" / "=3D"), decoded into out (cap
 * bytes with its NUL). Returns false when empty, malformed or too long;
 * the cursor stops at the first char that ends the name (',' or end). */
static bool take_saslname(cursor_t *c, char *out, size_t cap) {
    size_t o = 0;
    size_t start = c->at;
    while (c->at < c->len && c->p[c->at] != ',') {
        uint8_t ch = c->p[c->at];
        if (ch == '=') {
            if (c->len - c->at < 3) return false;
            if (c->p[c->at + 1] == '2' && c->p[c->at + 2] == 'C') ch = ',';
            else if (c->p[c->at + 1] == '3' && c->p[c->at + 2] == 'D') ch = '=';
            else return false;
            c->at += 3;
        } else if (is_value_char(ch)) {
            c->at++;
        } else {
            return false;
        }
        if (o + 1 >= cap) return false;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return c->at > start;
}

/* ("," ALPHA "=" VALUE)* up to the end; counts them and notes
 * tokenauth=true. */
static bool take_extensions(cursor_t *c, int *count, bool *token_auth) {
    *count = 0;
    while (c->at < c->len) {
        if (!take_literal(c, ",")) return false;
        size_t key_at = c->at;
        size_t key_len = run_of(c, is_alpha);
        if (key_len == 0) return false;
        c->at += key_len;
        if (!take_literal(c, "=")) return false;
        size_t value_at = c->at;
        size_t value_len = run_of(c, is_value_char);
        if (value_len == 0 || key_len + value_len > ST_SCRAM_EXTENSION_BYTES_MAX) return false;
        c->at += value_len;
        if (++*count > ST_SCRAM_EXTENSIONS_MAX) return false;
        /* Kafka's ScramExtensions: tokenauth, parsed with Boolean.parseBoolean. */
        if (key_len == 9 && memcmp(c->p + key_at, "tokenauth", 9) == 0)
            *token_auth = value_len == 4 && strncasecmp((const char *)c->p + value_at, "true", 4) == 0;
    }
    return true;
}

int st_scram_parse_client_first(const uint8_t *in, size_t len, st_scram_client_first_t *out, char *reason,
                                size_t cap) {
    memset(out, 0, sizeof *out);
    if (len > ST_SCRAM_CLIENT_MESSAGE_BYTES_MAX) {
        snprintf(reason, cap, "Invalid SCRAM client first message format: %zu bytes, more than %d", len,
                 ST_SCRAM_CLIENT_MESSAGE_BYTES_MAX);
        return -1;
    }
    cursor_t c = {in, len, 0};
    /* Only gs2-cbind-flag "n": no channel binding (Kafka supports no other). */
    bool ok = take_literal(&c, "n,");
    if (ok && take_literal(&c, "a=")) ok = take_saslname(&c, out->authzid, sizeof out->authzid);
    ok = ok && take_literal(&c, ",");
    out->gs2_header = (const char *)in;
    out->gs2_header_len = c.at;
    out->bare = (const char *)in + c.at;
    out->bare_len = len - c.at;
    if (ok && take_literal(&c, "m=")) {
        size_t n = run_of(&c, is_value_char);
        ok = n > 0;
        c.at += n;
        ok = ok && take_literal(&c, ",");
    }
    ok = ok && take_literal(&c, "n=") && take_saslname(&c, out->username, sizeof out->username);
    ok = ok && take_literal(&c, ",r=");
    if (ok) {
        out->nonce = (const char *)in + c.at;
        out->nonce_len = run_of(&c, is_printable_char);
        c.at += out->nonce_len;
        ok = out->nonce_len > 0 && out->nonce_len <= ST_SCRAM_CLIENT_NONCE_BYTES_MAX;
    }
    ok = ok && take_extensions(&c, &out->extension_count, &out->token_auth);
    if (!ok) {
        /* Kafka quotes the whole message; the log line gets its size instead. */
        snprintf(reason, cap, "Invalid SCRAM client first message format (%zu bytes, error at byte %zu)", len, c.at);
        return -1;
    }
    return 0;
}

static bool is_base64_char(uint8_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
           c == '=';
}

int st_scram_parse_client_final(const uint8_t *in, size_t len, st_scram_client_final_t *out, char *reason,
                                size_t cap) {
    memset(out, 0, sizeof *out);
    bool ok = len <= ST_SCRAM_CLIENT_MESSAGE_BYTES_MAX;
    /* The proof is base64 (no ','), so it is whatever follows the last ','. */
    size_t last_comma = len;
    for (size_t i = len; ok && i > 0; i--) {
        if (in[i - 1] == ',') {
            last_comma = i - 1;
            break;
        }
    }
    ok = ok && last_comma < len;
    cursor_t c = {in, ok ? last_comma : 0, 0};
    if (ok) {
        out->without_proof = (const char *)in;
        out->without_proof_len = last_comma;
        cursor_t p = {in, len, last_comma};
        ok = take_literal(&p, ",p=");
        long n = ok ? st_base64_decode((const char *)in + p.at, len - p.at, out->proof, sizeof out->proof) : -1;
        ok = n > 0;
        out->proof_len = ok ? (size_t)n : 0;
    }
    ok = ok && take_literal(&c, "c=");
    if (ok) {
        size_t n = run_of(&c, is_base64_char);
        long d = st_base64_decode((const char *)in + c.at, n, out->channel_binding, sizeof out->channel_binding);
        ok = d >= 0;
        out->channel_binding_len = ok ? (size_t)d : 0;
        c.at += n;
    }
    ok = ok && take_literal(&c, ",r=");
    if (ok) {
        out->nonce = (const char *)in + c.at;
        out->nonce_len = run_of(&c, is_printable_char);
        c.at += out->nonce_len;
        ok = out->nonce_len > 0;
    }
    int extensions = 0;
    bool token_auth = false;
    ok = ok && take_extensions(&c, &extensions, &token_auth);
    if (!ok) {
        snprintf(reason, cap, "Invalid SCRAM client final message format (%zu bytes)", len);
        return -1;
    }
    return 0;
}

/* --- the server --- */

void st_scram_server_nonce(const uint8_t random[ST_SCRAM_SERVER_NONCE_RANDOM_BYTES],
                           char out[ST_SCRAM_SERVER_NONCE_CHARS + 1]) {
    (void)st_base64_encode(random, ST_SCRAM_SERVER_NONCE_RANDOM_BYTES, out, ST_SCRAM_SERVER_NONCE_CHARS + 1);
}

void st_scram_server_init(st_scram_server_t *s, st_sasl_mechanism_t mechanism, bool reauthenticating,
                          const char *server_nonce) {
    memset(s, 0, sizeof *s);
    s->state = ST_SCRAM_AWAIT_CLIENT_FIRST;
    s->mechanism = mechanism;
    s->reauthenticating = reauthenticating;
    size_t n = strnlen(server_nonce, ST_SCRAM_SERVER_NONCE_CHARS);
    for (size_t i = 0; i < n; i++) assert(is_printable_char((uint8_t)server_nonce[i]));
    assert(n > 0);
    memcpy(s->server_nonce, server_nonce, n);
    s->server_nonce[n] = '\0';
    s->server_nonce_len = n;
}

void st_scram_server_clear(st_scram_server_t *s) {
    OPENSSL_cleanse(&s->credential, sizeof s->credential);
    OPENSSL_cleanse(s->auth_message, sizeof s->auth_message);
    s->auth_message_len = 0;
}

static void fail_hidden(st_scram_server_t *s, st_sasl_outcome_t *out, const char *reason) {
    st_scram_server_clear(s);
    s->state = ST_SCRAM_FAILED;
    st_sasl_fail_hidden(out, s->mechanism, s->reauthenticating, "%s", reason);
}

static bool append(char *buf, size_t cap, size_t *len, const void *p, size_t n) {
    if (cap - *len < n) return false;
    memcpy(buf + *len, p, n);
    *len += n;
    return true;
}

static void receive_client_first(st_scram_server_t *s, const uint8_t *in, size_t len, st_scram_lookup_fn lookup,
                                 void *lookup_ctx, st_sasl_outcome_t *out) {
    st_scram_client_first_t first;
    char reason[ST_SASL_MESSAGE_BYTES];
    if (st_scram_parse_client_first(in, len, &first, reason, sizeof reason) != 0) {
        fail_hidden(s, out, reason);
        return;
    }
    if (first.token_auth) {
        /* Strata has no delegation tokens: no token id is ever valid. */
        snprintf(reason, sizeof reason, "Token Authentication failed: Invalid tokenId : %.128s", first.username);
        fail_hidden(s, out, reason);
        return;
    }
    if (!lookup || !lookup(lookup_ctx, s->mechanism, first.username, &s->credential) ||
        s->credential.mechanism != s->mechanism) {
        snprintf(reason, sizeof reason, "Authentication failed: Invalid user credentials (user %.128s)",
                 first.username);
        fail_hidden(s, out, reason);
        return;
    }
    if (first.authzid[0] != '\0' && strcmp(first.authzid, first.username) != 0) {
        st_scram_server_clear(s);
        s->state = ST_SCRAM_FAILED;
        st_sasl_fail_visible(out, "Authentication failed: Client requested an authorization id that is different "
                                  "from username");
        return;
    }
    if (s->credential.iterations < ST_SCRAM_ITERATIONS_MIN) {
        snprintf(reason, sizeof reason, "Iterations %d is less than the minimum %d for %s", s->credential.iterations,
                 ST_SCRAM_ITERATIONS_MIN, st_sasl_mechanism_name(s->mechanism));
        fail_hidden(s, out, reason);
        return;
    }
    /* server-first = "r=" c-nonce s-nonce ",s=" salt ",i=" iterations */
    char salt64[4 * ((ST_SCRAM_SALT_BYTES_MAX + 2) / 3) + 1];
    st_base64_encode(s->credential.salt, s->credential.salt_len, salt64, sizeof salt64);
    int n = snprintf((char *)out->challenge, sizeof out->challenge, "r=%.*s%s,s=%s,i=%d", (int)first.nonce_len,
                     first.nonce, s->server_nonce, salt64, s->credential.iterations);
    if (n < 0 || (size_t)n >= sizeof out->challenge) {
        fail_hidden(s, out, "Authentication failed: server-first message too long");
        return;
    }
    out->challenge_len = (size_t)n;
    memcpy(s->gs2_header, first.gs2_header, first.gs2_header_len);
    s->gs2_header_len = first.gs2_header_len;
    s->nonce_len = 0;
    bool ok = append(s->nonce, sizeof s->nonce, &s->nonce_len, first.nonce, first.nonce_len) &&
              append(s->nonce, sizeof s->nonce, &s->nonce_len, s->server_nonce, s->server_nonce_len);
    s->auth_message_len = 0;
    ok = ok && append(s->auth_message, sizeof s->auth_message, &s->auth_message_len, first.bare, first.bare_len) &&
         append(s->auth_message, sizeof s->auth_message, &s->auth_message_len, ",", 1) &&
         append(s->auth_message, sizeof s->auth_message, &s->auth_message_len, out->challenge, out->challenge_len) &&
         append(s->auth_message, sizeof s->auth_message, &s->auth_message_len, ",", 1);
    if (!ok) {
        out->challenge_len = 0;
        fail_hidden(s, out, "Authentication failed: client first message too long");
        return;
    }
    memcpy(s->username, first.username, sizeof s->username);
    s->state = ST_SCRAM_AWAIT_CLIENT_FINAL;
    out->status = ST_SASL_CONTINUE;
}

static void receive_client_final(st_scram_server_t *s, const uint8_t *in, size_t len, st_sasl_outcome_t *out) {
    st_scram_client_final_t final_message; /* about 4 KiB, for a channel binding at the size limit */
    st_scram_client_final_t *fin = &final_message;
    char reason[ST_SASL_MESSAGE_BYTES];
    if (st_scram_parse_client_final(in, len, fin, reason, sizeof reason) != 0) {
        fail_hidden(s, out, reason);
        return;
    }
    if (fin->nonce_len != s->nonce_len || memcmp(fin->nonce, s->nonce, s->nonce_len) != 0) {
        fail_hidden(s, out, "Invalid client nonce in the final client message.");
        return;
    }
    if (fin->channel_binding_len != s->gs2_header_len ||
        memcmp(fin->channel_binding, s->gs2_header, s->gs2_header_len) != 0) {
        fail_hidden(s, out, "Invalid channel binding in the final client message.");
        return;
    }
    size_t key_bytes = st_scram_key_bytes(s->mechanism);
    if (fin->proof_len != key_bytes ||
        !append(s->auth_message, sizeof s->auth_message, &s->auth_message_len, fin->without_proof,
                fin->without_proof_len)) {
        fail_hidden(s, out, "Invalid client credentials");
        return;
    }
    /* ClientKey = proof XOR HMAC(StoredKey, AuthMessage); it must hash to StoredKey. */
    uint8_t signature[ST_SCRAM_KEY_BYTES_MAX], client_key[ST_SCRAM_KEY_BYTES_MAX], stored[ST_SCRAM_KEY_BYTES_MAX];
    int rc = st_scram_hmac(s->mechanism, s->credential.stored_key, key_bytes, s->auth_message, s->auth_message_len,
                           signature);
    for (size_t i = 0; i < key_bytes; i++) client_key[i] = (uint8_t)(fin->proof[i] ^ signature[i]);
    if (rc == 0) rc = st_scram_hash(s->mechanism, client_key, key_bytes, stored);
    bool verified = rc == 0 && CRYPTO_memcmp(stored, s->credential.stored_key, key_bytes) == 0;
    OPENSSL_cleanse(client_key, sizeof client_key);
    if (!verified) {
        char why[ST_SASL_MESSAGE_BYTES];
        snprintf(why, sizeof why, "Invalid client credentials (user %.128s)", s->username);
        fail_hidden(s, out, why);
        return;
    }
    uint8_t server_signature[ST_SCRAM_KEY_BYTES_MAX];
    rc = st_scram_hmac(s->mechanism, s->credential.server_key, key_bytes, s->auth_message, s->auth_message_len,
                       server_signature);
    char sig64[4 * ((ST_SCRAM_KEY_BYTES_MAX + 2) / 3) + 1];
    st_base64_encode(server_signature, key_bytes, sig64, sizeof sig64);
    int n = snprintf((char *)out->challenge, sizeof out->challenge, "v=%s", sig64);
    st_scram_server_clear(s);
    if (rc != 0 || n < 0) {
        fail_hidden(s, out, "Authentication failed: could not sign the server final message");
        return;
    }
    out->challenge_len = (size_t)n;
    memcpy(s->authorization_id, s->username, sizeof s->authorization_id);
    s->state = ST_SCRAM_COMPLETE;
    out->status = ST_SASL_COMPLETE;
}

void st_scram_server_step(st_scram_server_t *s, const uint8_t *in, size_t len, st_scram_lookup_fn lookup,
                          void *lookup_ctx, st_sasl_outcome_t *out) {
    st_sasl_outcome_reset(out);
    switch (s->state) {
    case ST_SCRAM_AWAIT_CLIENT_FIRST: receive_client_first(s, in, len, lookup, lookup_ctx, out); break;
    case ST_SCRAM_AWAIT_CLIENT_FINAL: receive_client_final(s, in, len, out); break;
    default:
        st_sasl_fail_state(out, STATE_NAMES[s->state]);
        st_scram_server_clear(s);
        s->state = ST_SCRAM_FAILED;
        break;
    }
}
