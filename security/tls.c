#include "security/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct st_tls_context {
    SSL_CTX *ctx;
};

typedef enum session_state {
    SESSION_HANDSHAKING,
    SESSION_OPEN,
    SESSION_CLOSING,
    SESSION_CLOSED,
    SESSION_FAILED,
} session_state_t;

struct st_tls_session {
    SSL *ssl;
    session_state_t state;
    char error[ST_TLS_ERROR_BYTES_MAX];
    char *peer_dn;
};

bool st_tls_client_auth_parse(const char *text, st_tls_client_auth_t *out) {
    if (strcasecmp(text, "none") == 0) *out = ST_TLS_CLIENT_AUTH_NONE;
    else if (strcasecmp(text, "requested") == 0) *out = ST_TLS_CLIENT_AUTH_REQUESTED;
    else if (strcasecmp(text, "required") == 0) *out = ST_TLS_CLIENT_AUTH_REQUIRED;
    else return false;
    return true;
}

/* OpenSSL's queued errors as one line (and the queue emptied). */
static void openssl_reason(char *out, size_t cap, const char *what) {
    unsigned long e = ERR_get_error();
    char detail[160] = "";
    if (e) ERR_error_string_n(e, detail, sizeof detail);
    ERR_clear_error();
    snprintf(out, cap, "%s%s%s", what, detail[0] ? ": " : "", detail);
}

/* --- the context --- */

static bool is_pem(const char *type) { return !type || strcasecmp(type, "PEM") == 0; }

static BIO *open_pem(const char *location, const char *inline_text) {
    if (inline_text) return BIO_new_mem_buf(inline_text, -1);
    return BIO_new_file(location, "r");
}

/* ssl.key.password for PEM_read_bio_PrivateKey. */
static int password_cb(char *buf, int size, int rwflag, void *userdata) {
    (void)rwflag;
    const char *password = userdata;
    if (!password) return 0;
    int n = (int)strlen(password);
    if (n > size) return 0;
    memcpy(buf, password, (size_t)n);
    return n;
}

static bool load_keystore(SSL_CTX *ctx, const st_tls_config_t *c, char *error, size_t cap) {
    if (!is_pem(c->keystore_type)) {
        snprintf(error, cap, "ssl.keystore.type=%s is not supported: convert the keystore to PEM (KIP-651)",
                 c->keystore_type);
        return false;
    }
    bool inline_pair = c->keystore_certificate_chain || c->keystore_key;
    if (inline_pair && (!c->keystore_certificate_chain || !c->keystore_key)) {
        snprintf(error, cap, "ssl.keystore.certificate.chain and ssl.keystore.key go together");
        return false;
    }
    if (inline_pair && c->keystore_location) {
        snprintf(error, cap, "ssl.keystore.location cannot be combined with an inline ssl.keystore.key");
        return false;
    }
    if (!inline_pair && !c->keystore_location) {
        snprintf(error, cap, "a TLS listener needs ssl.keystore.location or ssl.keystore.key");
        return false;
    }
    const char *where = inline_pair ? "ssl.keystore.key" : c->keystore_location;
    BIO *key_bio = open_pem(c->keystore_location, c->keystore_key);
    BIO *chain_bio = open_pem(c->keystore_location, c->keystore_certificate_chain);
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    bool ok = false;
    if (!key_bio || !chain_bio) {
        snprintf(error, cap, "cannot read %s: %s", where, strerror(errno));
        goto out;
    }
    key = PEM_read_bio_PrivateKey(key_bio, NULL, password_cb, (void *)c->key_password);
    if (!key) {
        char why[ST_TLS_ERROR_BYTES_MAX];
        openssl_reason(why, sizeof why, "no private key");
        snprintf(error, cap, "%s: %s (is ssl.key.password right?)", where, why);
        goto out;
    }
    /* The chain: the leaf first, then its issuers (the PEM's order). */
    leaf = PEM_read_bio_X509(chain_bio, NULL, NULL, NULL);
    if (!leaf) {
        openssl_reason(error, cap, "no certificate in the keystore");
        goto out;
    }
    if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
        openssl_reason(error, cap, "keystore certificate refused");
        goto out;
    }
    for (X509 *extra; (extra = PEM_read_bio_X509(chain_bio, NULL, NULL, NULL)) != NULL;) {
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            openssl_reason(error, cap, "keystore chain certificate refused");
            goto out;
        }
    }
    ERR_clear_error(); /* the end of the PEM is an "error" */
    if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        openssl_reason(error, cap, "the keystore's private key does not match its certificate");
        goto out;
    }
    ok = true;
out:
    EVP_PKEY_free(key);
    X509_free(leaf);
    BIO_free(key_bio);
    BIO_free(chain_bio);
    return ok;
}

static bool load_truststore(SSL_CTX *ctx, const st_tls_config_t *c, char *error, size_t cap) {
    if (!c->truststore_location && !c->truststore_certificates) {
        if (c->client_auth == ST_TLS_CLIENT_AUTH_NONE) return true;
        snprintf(error, cap, "ssl.client.auth=%s needs ssl.truststore.location or ssl.truststore.certificates",
                 c->client_auth == ST_TLS_CLIENT_AUTH_REQUIRED ? "required" : "requested");
        return false;
    }
    if (!is_pem(c->truststore_type)) {
        snprintf(error, cap, "ssl.truststore.type=%s is not supported: convert the truststore to PEM (KIP-651)",
                 c->truststore_type);
        return false;
    }
    BIO *bio = open_pem(c->truststore_location, c->truststore_certificates);
    if (!bio) {
        snprintf(error, cap, "cannot read %s: %s", c->truststore_location, strerror(errno));
        return false;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    int count = 0;
    for (X509 *cert; (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL; X509_free(cert)) {
        if (X509_STORE_add_cert(store, cert) != 1) {
            X509_free(cert);
            openssl_reason(error, cap, "truststore certificate refused");
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            BIO_free(bio);
            return false;
        }
        /* The CA names the server lists in its CertificateRequest. */
        X509_NAME *dup = names ? X509_NAME_dup(X509_get_subject_name(cert)) : NULL;
        if (dup && sk_X509_NAME_push(names, dup) <= 0) X509_NAME_free(dup);
        count++;
    }
    ERR_clear_error();
    BIO_free(bio);
    if (count == 0) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        snprintf(error, cap, "the truststore holds no certificate");
        return false;
    }
    if (names) SSL_CTX_set_client_CA_list(ctx, names);
    return true;
}

/* ssl.enabled.protocols: TLSv1.2 and TLSv1.3 (older ones are off in every
 * JDK Kafka runs on, and below OpenSSL 3's default security level). */
static bool set_protocols(SSL_CTX *ctx, const char *list, char *error, size_t cap) {
    bool v12 = false, v13 = false;
    const char *p = list ? list : "TLSv1.2,TLSv1.3";
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ", ");
        if (n == 0) break;
        if (n == 7 && strncmp(p, "TLSv1.2", 7) == 0) v12 = true;
        else if (n == 7 && strncmp(p, "TLSv1.3", 7) == 0) v13 = true;
        else {
            snprintf(error, cap, "ssl.enabled.protocols: %.*s is not supported (TLSv1.2, TLSv1.3)", (int)n, p);
            return false;
        }
        p += n;
    }
    if (!v12 && !v13) {
        snprintf(error, cap, "ssl.enabled.protocols names no protocol");
        return false;
    }
    SSL_CTX_set_min_proto_version(ctx, v12 ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, v13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    return true;
}

/* ssl.cipher.suites: Kafka (Java) names suites by their IANA names
 * (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); OpenSSL's own names are taken
 * too. TLS 1.3 suites and older ones are configured apart in OpenSSL. */
static bool set_cipher_suites(SSL_CTX *ctx, const char *list, char *error, size_t cap) {
    if (!list || !*list) return true;
    SSL *probe = SSL_new(ctx);
    if (!probe) {
        openssl_reason(error, cap, "cannot list cipher suites");
        return false;
    }
    /* Every suite OpenSSL knows, TLS 1.2 and 1.3. */
    SSL_set_cipher_list(probe, "ALL:COMPLEMENTOFALL");
    SSL_set_ciphersuites(probe, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
                                "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256");
    STACK_OF(SSL_CIPHER) *known = SSL_get_ciphers(probe);
    char v12[1024] = "", v13[512] = "";
    bool ok = true;
    const char *p = list;
    while (*p && ok) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ", ");
        if (n == 0) break;
        const SSL_CIPHER *found = NULL;
        for (int i = 0; known && i < sk_SSL_CIPHER_num(known) && !found; i++) {
            const SSL_CIPHER *c = sk_SSL_CIPHER_value(known, i);
            const char *iana = SSL_CIPHER_standard_name(c), *own = SSL_CIPHER_get_name(c);
            if ((iana && strlen(iana) == n && strncmp(iana, p, n) == 0) ||
                (own && strlen(own) == n && strncmp(own, p, n) == 0))
                found = c;
        }
        if (!found) {
            snprintf(error, cap, "ssl.cipher.suites: %.*s is not a cipher suite OpenSSL has", (int)n, p);
            ok = false;
            break;
        }
        bool tls13 = strcmp(SSL_CIPHER_get_version(found), "TLSv1.3") == 0;
        char *dst = tls13 ? v13 : v12;
        size_t dst_cap = tls13 ? sizeof v13 : sizeof v12;
        size_t used = strlen(dst);
        snprintf(dst + used, dst_cap - used, "%s%s", used ? ":" : "",
                 tls13 ? SSL_CIPHER_standard_name(found) : SSL_CIPHER_get_name(found));
        p += n;
    }
    SSL_free(probe);
    if (!ok) return false;
    /* Naming only suites of one version leaves the other version without any. */
    if (SSL_CTX_set_cipher_list(ctx, v12[0] ? v12 : "") != 1 && v12[0]) {
        openssl_reason(error, cap, "ssl.cipher.suites refused");
        return false;
    }
    ERR_clear_error();
    if (SSL_CTX_set_ciphersuites(ctx, v13) != 1) {
        openssl_reason(error, cap, "ssl.cipher.suites refused");
        return false;
    }
    return true;
}

st_tls_context_t *st_tls_context_new(const st_tls_config_t *config, char *error, size_t cap) {
    ERR_clear_error();
    st_tls_context_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(error, cap, "out of memory");
        return NULL;
    }
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx) {
        openssl_reason(error, cap, "cannot create a TLS context");
        goto err_free;
    }
    SSL_CTX *ctx = t->ctx;
    /* Renegotiation lets a client make the server do handshakes on demand. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 (config->ktls ? SSL_OP_ENABLE_KTLS : 0));
    /* Partial writes for the event loop; released buffers keep idle
     * connections small. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (!set_protocols(ctx, config->enabled_protocols, error, cap)) goto err_free;
    if (!set_cipher_suites(ctx, config->cipher_suites, error, cap)) goto err_free;
    if (!load_keystore(ctx, config, error, cap)) goto err_free;
    if (!load_truststore(ctx, config, error, cap)) goto err_free;
    int verify = SSL_VERIFY_NONE;
    if (config->client_auth == ST_TLS_CLIENT_AUTH_REQUESTED) verify = SSL_VERIFY_PEER;
    if (config->client_auth == ST_TLS_CLIENT_AUTH_REQUIRED) verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, verify, NULL);
    SSL_CTX_set_verify_depth(ctx, ST_TLS_VERIFY_DEPTH_MAX);
    /* Session resumption across connections of one listener. */
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"strata", 6);
    return t;
err_free:
    st_tls_context_free(t);
    return NULL;
}

void st_tls_context_free(st_tls_context_t *ctx) {
    if (!ctx) return;
    SSL_CTX_free(ctx->ctx);
    free(ctx);
}

/* --- the subject DN, as Java writes it --- */

typedef struct text {
    char *p;
    size_t cap, len;
    bool overflow;
} text_t;

static void text_put(text_t *t, const char *s, size_t n) {
    if (t->len + n >= t->cap) {
        t->overflow = true;
        return;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static const char *rfc2253_keyword(int nid) {
    switch (nid) {
    case NID_commonName: return "CN";
    case NID_countryName: return "C";
    case NID_localityName: return "L";
    case NID_stateOrProvinceName: return "ST";
    case NID_organizationName: return "O";
    case NID_organizationalUnitName: return "OU";
    case NID_streetAddress: return "STREET";
    case NID_domainComponent: return "DC";
    case NID_userId: return "UID";
    default: return NULL;
    }
}

/* The string types Java's AVA prints as text (isDerString, non-canonical). */
static bool is_text_type(int type) {
    return type == V_ASN1_PRINTABLESTRING || type == V_ASN1_T61STRING || type == V_ASN1_IA5STRING ||
           type == V_ASN1_GENERALSTRING || type == V_ASN1_BMPSTRING || type == V_ASN1_UTF8STRING;
}

static void put_hex_value(text_t *t, const ASN1_STRING *value) {
    ASN1_TYPE *wrapped = ASN1_TYPE_new();
    unsigned char *der = NULL;
    int n = -1;
    if (wrapped && ASN1_TYPE_set1(wrapped, ASN1_STRING_type(value), value) == 1) n = i2d_ASN1_TYPE(wrapped, &der);
    text_put(t, "#", 1);
    for (int i = 0; i < n; i++) {
        char hex[3];
        snprintf(hex, sizeof hex, "%02x", der[i]);
        text_put(t, hex, 2);
    }
    if (n < 0) t->overflow = true;
    OPENSSL_free(der);
    ASN1_TYPE_free(wrapped);
}

/* Java's AVA.toRFC2253String escaping of a text value. */
static void put_text_value(text_t *t, const ASN1_STRING *value) {
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, value);
    if (n < 0) {
        t->overflow = true;
        return;
    }
    int lead = 0, trail = n - 1;
    while (lead < n && (utf8[lead] == ' ' || utf8[lead] == '\r')) lead++;
    while (trail >= 0 && (utf8[trail] == ' ' || utf8[trail] == '\r')) trail--;
    for (int i = 0; i < n; i++) {
        unsigned char c = utf8[i];
        if (c == 0) {
            text_put(t, "\\00", 3);
            continue;
        }
        if (strchr(",=+<>#;\"\\", c) || i < lead || i > trail) text_put(t, "\\", 1);
        text_put(t, (const char *)&c, 1);
    }
    OPENSSL_free(utf8);
}

bool st_tls_dn_rfc2253(const X509_NAME *name, char *out, size_t cap) {
    text_t t = {out, cap, 0, false};
    int count = X509_NAME_entry_count(name);
    /* RDNs from the last to the first; the AVAs of one RDN in their order. */
    int end = count;
    while (end > 0) {
        int set = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, end - 1));
        int start = end - 1;
        while (start > 0 && X509_NAME_ENTRY_set(X509_NAME_get_entry(name, start - 1)) == set) start--;
        if (t.len > 0) text_put(&t, ",", 1);
        for (int i = start; i < end; i++) {
            const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
            const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
            const ASN1_STRING *value = X509_NAME_ENTRY_get_data(e);
            if (i > start) text_put(&t, "+", 1);
            const char *keyword = rfc2253_keyword(OBJ_obj2nid(obj));
            char oid[96];
            if (!keyword) {
                OBJ_obj2txt(oid, sizeof oid, obj, 1);
                keyword = oid;
            }
            text_put(&t, keyword, strlen(keyword));
            text_put(&t, "=", 1);
            if (keyword == oid || !is_text_type(ASN1_STRING_type(value))) put_hex_value(&t, value);
            else put_text_value(&t, value);
        }
        end = start;
    }
    if (t.overflow) return false;
    out[t.len] = '\0';
    return true;
}

/* --- sessions --- */

st_tls_session_t *st_tls_session_new(st_tls_context_t *ctx, int fd) {
    st_tls_session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ssl = SSL_new(ctx->ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, fd) != 1) {
        SSL_free(s->ssl);
        free(s);
        return NULL;
    }
    SSL_set_accept_state(s->ssl);
    s->state = SESSION_HANDSHAKING;
    return s;
}

void st_tls_session_free(st_tls_session_t *s) {
    if (!s) return;
    SSL_free(s->ssl);
    free(s->peer_dn);
    free(s);
}

/* An OpenSSL error is queued: record it, with the certificate
 * verification result during a handshake (invariant 3). */
static st_tls_status_t fail_openssl(st_tls_session_t *s, const char *what) {
    char why[200];
    openssl_reason(why, sizeof why, what);
    long verify = SSL_get_verify_result(s->ssl);
    if (verify != X509_V_OK && s->state == SESSION_HANDSHAKING)
        snprintf(s->error, sizeof s->error, "%s; client certificate: %s", why, X509_verify_cert_error_string(verify));
    else
        snprintf(s->error, sizeof s->error, "%s", why);
    s->state = SESSION_FAILED;
    return ST_TLS_ERROR;
}

/* Maps an OpenSSL result; on failure records why (invariant 3). */
static st_tls_status_t status_of(st_tls_session_t *s, int rc, const char *what) {
    int e = SSL_get_error(s->ssl, rc);
    switch (e) {
    case SSL_ERROR_NONE: return ST_TLS_OK;
    case SSL_ERROR_WANT_READ: return ST_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return ST_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        s->state = SESSION_CLOSED;
        return ST_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() != 0) return fail_openssl(s, what);
        /* EOF without close_notify, or a socket error. */
        if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
            bool handshaking = s->state == SESSION_HANDSHAKING;
            snprintf(s->error, sizeof s->error, "%s: the peer closed the connection%s", what,
                     handshaking ? " during the handshake" : "");
            if (!handshaking) {
                s->state = SESSION_CLOSED;
                return ST_TLS_CLOSED;
            }
        } else {
            snprintf(s->error, sizeof s->error, "%s: %s", what, strerror(errno));
        }
        s->state = SESSION_FAILED;
        return ST_TLS_ERROR;
    default: return fail_openssl(s, what);
    }
}

static st_tls_status_t refuse(st_tls_session_t *s, const char *why) {
    if (s->state != SESSION_FAILED) snprintf(s->error, sizeof s->error, "%s", why);
    return ST_TLS_ERROR;
}

st_tls_status_t st_tls_handshake(st_tls_session_t *s) {
    if (s->state == SESSION_OPEN) return ST_TLS_OK;
    if (s->state != SESSION_HANDSHAKING) return refuse(s, "handshake on a session that is not handshaking");
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(s->ssl);
    if (rc != 1) return status_of(s, rc, "TLS handshake failed");
    X509 *peer = SSL_get1_peer_certificate(s->ssl);
    if (peer) {
        /* Verified, or the handshake would have failed (SSL_VERIFY_PEER). */
        char dn[ST_DN_BYTES_MAX];
        bool fits = SSL_get_verify_result(s->ssl) == X509_V_OK &&
                    st_tls_dn_rfc2253(X509_get_subject_name(peer), dn, sizeof dn);
        X509_free(peer);
        if (!fits) {
            s->state = SESSION_FAILED;
            return refuse(s, "client certificate subject longer than the DN limit");
        }
        s->peer_dn = strdup(dn);
        if (!s->peer_dn) {
            s->state = SESSION_FAILED;
            return refuse(s, "out of memory");
        }
    }
    s->state = SESSION_OPEN;
    return ST_TLS_OK;
}

st_tls_status_t st_tls_read(st_tls_session_t *s, void *buf, size_t cap, size_t *n) {
    *n = 0;
    if (s->state == SESSION_CLOSED) return ST_TLS_CLOSED;
    if (s->state != SESSION_OPEN) return refuse(s, "read on a session that is not open");
    ERR_clear_error();
    errno = 0;
    size_t got = 0;
    int rc = SSL_read_ex(s->ssl, buf, cap, &got);
    if (rc == 1) {
        *n = got;
        return ST_TLS_OK;
    }
    return status_of(s, rc, "TLS read failed");
}

st_tls_status_t st_tls_write(st_tls_session_t *s, const void *buf, size_t len, size_t *n) {
    *n = 0;
    if (s->state != SESSION_OPEN) return refuse(s, "write on a session that is not open");
    if (len == 0) return ST_TLS_OK;
    ERR_clear_error();
    errno = 0;
    size_t put = 0;
    int rc = SSL_write_ex(s->ssl, buf, len, &put);
    if (rc == 1) {
        *n = put;
        return ST_TLS_OK;
    }
    return status_of(s, rc, "TLS write failed");
}

st_tls_status_t st_tls_shutdown(st_tls_session_t *s) {
    if (s->state == SESSION_CLOSED || s->state == SESSION_FAILED) return ST_TLS_OK;
    s->state = SESSION_CLOSING;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_shutdown(s->ssl);
    if (rc >= 0) {
        /* 0: our close_notify is out; the peer's is not awaited. */
        s->state = SESSION_CLOSED;
        return ST_TLS_OK;
    }
    st_tls_status_t st = status_of(s, rc, "TLS shutdown failed");
    if (st == ST_TLS_WANT_READ || st == ST_TLS_WANT_WRITE) s->state = SESSION_CLOSING;
    return st;
}

bool st_tls_pending(const st_tls_session_t *s) { return s->state == SESSION_OPEN && SSL_pending(s->ssl) > 0; }

bool st_tls_ktls_send(const st_tls_session_t *s) { return BIO_get_ktls_send(SSL_get_wbio(s->ssl)) > 0; }

st_tls_status_t st_tls_sendfile(st_tls_session_t *s, int file_fd, off_t offset, size_t len, size_t *n) {
    *n = 0;
    if (s->state != SESSION_OPEN) return refuse(s, "sendfile on a session that is not open");
    if (!st_tls_ktls_send(s)) return refuse(s, "kTLS is not active on this connection");
    ERR_clear_error();
    errno = 0;
    ossl_ssize_t sent = SSL_sendfile(s->ssl, file_fd, offset, len, 0);
    if (sent >= 0) {
        *n = (size_t)sent;
        return ST_TLS_OK;
    }
    return status_of(s, (int)sent, "TLS sendfile failed");
}

const char *st_tls_error(const st_tls_session_t *s) { return s->error; }
const char *st_tls_peer_dn(const st_tls_session_t *s) { return s->peer_dn; }
const char *st_tls_protocol(const st_tls_session_t *s) { return SSL_get_version(s->ssl); }
const char *st_tls_cipher(const st_tls_session_t *s) { return SSL_get_cipher_name(s->ssl); }
