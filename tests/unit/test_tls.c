/* The TLS engine in-process: a throwaway CA and certificates made here
 * with OpenSSL, a client SSL (OpenSSL) against the server engine over a
 * non-blocking socketpair, stepping both sides by turns. Handshakes with
 * TLS 1.3 and 1.2, mTLS required and requested, an untrusted and an
 * expired client certificate, protocol and cipher mismatches, garbage and
 * a plaintext Kafka request instead of a ClientHello, a peer that leaves
 * mid-handshake; a megabyte each way with partial writes; close_notify both
 * ways; the keystore forms (file, inline KIP-651, encrypted keys) and the
 * configurations refused; and subject DNs as Java writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "security/principal.h"
#include "security/tls.h"

/* --- a throwaway PKI --- */

typedef struct pki_cert {
    EVP_PKEY *key;
    X509 *cert;
    char *cert_pem;
    char *key_pem;
} pki_cert_t;

static char *pem_of(int (*write)(BIO *, void *), void *obj) {
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(write(b, obj), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = malloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
    return out;
}

static int write_cert(BIO *b, void *x) { return PEM_write_bio_X509(b, x); }
static int write_key(BIO *b, void *k) { return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL); }

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/* subject: "CN=x/O=y" pairs separated by '/'; issued by `ca` (NULL: self). */
static pki_cert_t make_cert(const char *subject, const pki_cert_t *ca, long from_s, long to_s, bool is_ca) {
    static long serial = 1;
    pki_cert_t c = {0};
    c.key = EVP_EC_gen("P-256");
    assert_non_null(c.key);
    c.cert = X509_new();
    X509_set_version(c.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c.cert), serial++);
    X509_gmtime_adj(X509_getm_notBefore(c.cert), from_s);
    X509_gmtime_adj(X509_getm_notAfter(c.cert), to_s);
    X509_set_pubkey(c.cert, c.key);
    X509_NAME *name = X509_get_subject_name(c.cert);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", subject);
    for (char *part = strtok(buf, "/"); part; part = strtok(NULL, "/")) {
        char *eq = strchr(part, '=');
        *eq = '\0';
        assert_int_equal(X509_NAME_add_entry_by_txt(name, part, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1, 0), 1);
    }
    X509_set_issuer_name(c.cert, ca ? X509_get_subject_name(ca->cert) : name);
    add_ext(c.cert, ca ? ca->cert : c.cert, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (is_ca) add_ext(c.cert, c.cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    assert_true(X509_sign(c.cert, ca ? ca->key : c.key, EVP_sha256()) > 0);
    c.cert_pem = pem_of(write_cert, c.cert);
    c.key_pem = pem_of(write_key, c.key);
    return c;
}

static void free_cert(pki_cert_t *c) {
    EVP_PKEY_free(c->key);
    X509_free(c->cert);
    free(c->cert_pem);
    free(c->key_pem);
}

typedef struct pki {
    pki_cert_t ca, other_ca, server, alice, expired, stranger;
    char dir[64];
    char keystore_path[128], truststore_path[128];
} pki_t;

static pki_t pki;

static void write_file(const char *path, const char *a, const char *b) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(a, f);
    if (b) fputs(b, f);
    fclose(f);
}

static int setup_pki(void **state) {
    (void)state;
    pki.ca = make_cert("CN=Strata Test CA/O=Strata", NULL, -3600, 86400, true);
    pki.other_ca = make_cert("CN=Another CA", NULL, -3600, 86400, true);
    pki.server = make_cert("CN=localhost/O=Strata", &pki.ca, -3600, 86400, false);
    pki.alice = make_cert("C=US/O=Strata/OU=clients/CN=alice", &pki.ca, -3600, 86400, false);
    pki.expired = make_cert("CN=old", &pki.ca, -7200, -3600, false);
    pki.stranger = make_cert("CN=stranger", &pki.other_ca, -3600, 86400, false);
    strcpy(pki.dir, "/tmp/strata-test-tls.XXXXXX");
    assert_non_null(mkdtemp(pki.dir));
    snprintf(pki.keystore_path, sizeof pki.keystore_path, "%s/server.pem", pki.dir);
    snprintf(pki.truststore_path, sizeof pki.truststore_path, "%s/ca.pem", pki.dir);
    /* Kafka's PEM keystore file: the key, then the chain. */
    write_file(pki.keystore_path, pki.server.key_pem, pki.server.cert_pem);
    write_file(pki.truststore_path, pki.ca.cert_pem, NULL);
    return 0;
}

static int teardown_pki(void **state) {
    (void)state;
    unlink(pki.keystore_path);
    unlink(pki.truststore_path);
    rmdir(pki.dir);
    pki_cert_t *all[] = {&pki.ca, &pki.other_ca, &pki.server, &pki.alice, &pki.expired, &pki.stranger};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free_cert(all[i]);
    return 0;
}

static st_tls_config_t server_config(st_tls_client_auth_t auth) {
    st_tls_config_t c = {0};
    c.keystore_location = pki.keystore_path;
    c.truststore_location = pki.truststore_path;
    c.client_auth = auth;
    return c;
}

static st_tls_context_t *server_context(const st_tls_config_t *c) {
    char error[256];
    st_tls_context_t *ctx = st_tls_context_new(c, error, sizeof error);
    if (!ctx) fail_msg("server context: %s", error);
    return ctx;
}

/* --- a client and the pump --- */

typedef struct pair {
    int server_fd, client_fd;
    st_tls_session_t *server;
    SSL_CTX *client_ctx;
    SSL *client;
} pair_t;

static void nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void use_cert(SSL_CTX *ctx, const pki_cert_t *c) {
    assert_int_equal(SSL_CTX_use_certificate(ctx, c->cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, c->key), 1);
}

static pair_t make_pair(st_tls_context_t *server_ctx, const pki_cert_t *client_cert, int client_max_version) {
    pair_t p = {0};
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    p.server_fd = fds[0];
    p.client_fd = fds[1];
    nonblocking(p.server_fd);
    nonblocking(p.client_fd);
    p.server = st_tls_session_new(server_ctx, p.server_fd);
    assert_non_null(p.server);
    p.client_ctx = SSL_CTX_new(TLS_client_method());
    X509_STORE_add_cert(SSL_CTX_get_cert_store(p.client_ctx), pki.ca.cert);
    SSL_CTX_set_verify(p.client_ctx, SSL_VERIFY_PEER, NULL);
    if (client_max_version) SSL_CTX_set_max_proto_version(p.client_ctx, client_max_version);
    if (client_cert) use_cert(p.client_ctx, client_cert);
    p.client = SSL_new(p.client_ctx);
    SSL_set_fd(p.client, p.client_fd);
    SSL_set_connect_state(p.client);
    return p;
}

static void free_pair(pair_t *p) {
    st_tls_session_free(p->server);
    SSL_free(p->client);
    SSL_CTX_free(p->client_ctx);
    if (p->server_fd >= 0) close(p->server_fd);
    if (p->client_fd >= 0) close(p->client_fd);
}

/* Steps both handshakes by turns; returns the server's final status. */
static st_tls_status_t handshake(pair_t *p) {
    bool client_done = false;
    st_tls_status_t server = ST_TLS_WANT_READ;
    for (int round = 0; round < 200; round++) {
        if (!client_done) {
            ERR_clear_error();
            int rc = SSL_do_handshake(p->client);
            if (rc == 1) client_done = true;
            else {
                int e = SSL_get_error(p->client, rc);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) client_done = true; /* the client failed */
            }
        }
        if (server == ST_TLS_WANT_READ || server == ST_TLS_WANT_WRITE) server = st_tls_handshake(p->server);
        if (client_done && server != ST_TLS_WANT_READ && server != ST_TLS_WANT_WRITE) return server;
        if (server == ST_TLS_ERROR) return server;
    }
    fail_msg("handshake did not finish");
    return ST_TLS_ERROR;
}

static void test_tls13_and_tls12(void **state) {
    (void)state;
    st_tls_config_t cfg = server_config(ST_TLS_CLIENT_AUTH_NONE);
    st_tls_context_t *ctx = server_context(&cfg);
    pair_t p = make_pair(ctx, NULL, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    assert_string_equal(st_tls_protocol(p.server), "TLSv1.3");
    assert_null(st_tls_peer_dn(p.server));
    assert_false(st_tls_ktls_send(p.server));
    free_pair(&p);
    p = make_pair(ctx, NULL, TLS1_2_VERSION);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    assert_string_equal(st_tls_protocol(p.server), "TLSv1.2");
    free_pair(&p);
    st_tls_context_free(ctx);

    /* A server that allows TLS 1.3 only refuses a TLS 1.2 client. */
    cfg.enabled_protocols = "TLSv1.3";
    ctx = server_context(&cfg);
    p = make_pair(ctx, NULL, TLS1_2_VERSION);
    assert_int_equal(handshake(&p), ST_TLS_ERROR);
    assert_non_null(strstr(st_tls_error(p.server), "TLS handshake failed"));
    assert_non_null(strstr(st_tls_error(p.server), "protocol"));
    /* FAILED is sticky. */
    size_t n;
    char buf[4];
    assert_int_equal(st_tls_read(p.server, buf, sizeof buf, &n), ST_TLS_ERROR);
    assert_int_equal(st_tls_handshake(p.server), ST_TLS_ERROR);
    free_pair(&p);
    st_tls_context_free(ctx);
}

static void test_mtls(void **state) {
    (void)state;
    st_tls_config_t cfg = server_config(ST_TLS_CLIENT_AUTH_REQUIRED);
    st_tls_context_t *ctx = server_context(&cfg);
    pair_t p = make_pair(ctx, &pki.alice, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    /* Java's X500Principal.getName(): the last RDN first. */
    assert_string_equal(st_tls_peer_dn(p.server), "CN=alice,OU=clients,O=Strata,C=US");
    char error[128], principal[128];
    st_principal_mapper_t *m = st_principal_mapper_new("RULE:^CN=([^,]+),OU=clients.*$/$1/,DEFAULT", error,
                                                       sizeof error);
    assert_int_equal(st_principal_for_ssl(m, st_tls_peer_dn(p.server), principal, sizeof principal), 0);
    assert_string_equal(principal, "User:alice");
    st_principal_mapper_free(m);
    free_pair(&p);

    /* Required: no certificate, no connection. */
    p = make_pair(ctx, NULL, 0);
    assert_int_equal(handshake(&p), ST_TLS_ERROR);
    assert_non_null(strstr(st_tls_error(p.server), "certificate"));
    free_pair(&p);
    /* Over TLS 1.2 too. */
    p = make_pair(ctx, NULL, TLS1_2_VERSION);
    assert_int_equal(handshake(&p), ST_TLS_ERROR);
    free_pair(&p);

    /* A certificate from a CA the server does not trust. */
    p = make_pair(ctx, &pki.stranger, 0);
    assert_int_equal(handshake(&p), ST_TLS_ERROR);
    assert_non_null(strstr(st_tls_error(p.server), "unable to get local issuer certificate"));
    assert_null(st_tls_peer_dn(p.server));
    free_pair(&p);

    /* An expired one. */
    p = make_pair(ctx, &pki.expired, 0);
    assert_int_equal(handshake(&p), ST_TLS_ERROR);
    assert_non_null(strstr(st_tls_error(p.server), "certificate has expired"));
    free_pair(&p);
    st_tls_context_free(ctx);

    /* Requested: a certificate is taken when given, and checked... */
    cfg.client_auth = ST_TLS_CLIENT_AUTH_REQUESTED;
    ctx = server_context(&cfg);
    p = make_pair(ctx, &pki.alice, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    assert_non_null(st_tls_peer_dn(p.server));
    free_pair(&p);
    p = make_pair(ctx, &pki.expired, 0);
    assert_int_equal(handshake(&p), ST_TLS_ERROR);
    free_pair(&p);
    /* ...and its absence is fine (the principal is ANONYMOUS). */
    p = make_pair(ctx, NULL, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    assert_null(st_tls_peer_dn(p.server));
    free_pair(&p);
    st_tls_context_free(ctx);
}

static void test_garbage_instead_of_client_hello(void **state) {
    (void)state;
    st_tls_config_t cfg = server_config(ST_TLS_CLIENT_AUTH_NONE);
    st_tls_context_t *ctx = server_context(&cfg);
    /* An HTTP request, a plaintext Kafka ApiVersions request, random bytes. */
    static const uint8_t api_versions[] = {0, 0, 0, 0x16, 0, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 'r', 'd', 'k', 'a',
                                           'f', 'k', 'a', 0, 2, 'x', 2, '1', 0};
    uint8_t random_bytes[300];
    for (size_t i = 0; i < sizeof random_bytes; i++) random_bytes[i] = (uint8_t)(i * 37 + 11);
    random_bytes[0] = 0x16; /* looks like a handshake record at first */
    const struct {
        const void *bytes;
        size_t len;
    } inputs[] = {{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27}, {api_versions, sizeof api_versions},
                  {random_bytes, sizeof random_bytes}};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        pair_t p = make_pair(ctx, NULL, 0);
        assert_int_equal(write(p.client_fd, inputs[i].bytes, inputs[i].len), (ssize_t)inputs[i].len);
        st_tls_status_t st = ST_TLS_WANT_READ;
        for (int round = 0; round < 10 && st == ST_TLS_WANT_READ; round++) st = st_tls_handshake(p.server);
        if (i == 2 && st == ST_TLS_WANT_READ) {
            /* A plausible record header waits for more; the peer then leaves. */
            close(p.client_fd);
            p.client_fd = -1;
            st = st_tls_handshake(p.server);
        }
        assert_int_equal(st, ST_TLS_ERROR);
        assert_true(strlen(st_tls_error(p.server)) > 0);
        free_pair(&p);
    }
    /* A client that leaves in the middle of its handshake. */
    pair_t p = make_pair(ctx, NULL, 0);
    ERR_clear_error();
    assert_int_equal(SSL_do_handshake(p.client), -1); /* ClientHello sent, waiting */
    close(p.client_fd);
    p.client_fd = -1;
    st_tls_status_t st = ST_TLS_WANT_READ;
    for (int round = 0; round < 10 && (st == ST_TLS_WANT_READ || st == ST_TLS_WANT_WRITE); round++)
        st = st_tls_handshake(p.server);
    assert_int_equal(st, ST_TLS_ERROR);
    free_pair(&p);
    st_tls_context_free(ctx);
}

/* A megabyte each way, both sides non-blocking: every write may take
 * part of its buffer. */
static void test_data_both_ways_with_partial_writes(void **state) {
    (void)state;
    st_tls_config_t cfg = server_config(ST_TLS_CLIENT_AUTH_NONE);
    st_tls_context_t *ctx = server_context(&cfg);
    pair_t p = make_pair(ctx, NULL, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    enum { TOTAL = 1 << 20 };
    uint8_t *up = malloc(TOTAL), *down = malloc(TOTAL), *got_up = malloc(TOTAL), *got_down = malloc(TOTAL);
    for (size_t i = 0; i < TOTAL; i++) {
        up[i] = (uint8_t)(i * 7 + 1);
        down[i] = (uint8_t)(i * 13 + 5);
    }
    size_t up_sent = 0, up_got = 0, down_sent = 0, down_got = 0;
    int partial_writes = 0;
    for (int round = 0; round < 100000 && (up_got < TOTAL || down_got < TOTAL); round++) {
        if (up_sent < TOTAL) {
            size_t chunk = TOTAL - up_sent < 100000 ? TOTAL - up_sent : 100000;
            size_t n = 0;
            int rc = SSL_write_ex(p.client, up + up_sent, chunk, &n);
            if (rc == 1) up_sent += n;
        }
        if (down_sent < TOTAL) {
            size_t chunk = TOTAL - down_sent < 100000 ? TOTAL - down_sent : 100000;
            size_t n = 0;
            st_tls_status_t st = st_tls_write(p.server, down + down_sent, chunk, &n);
            assert_true(st == ST_TLS_OK || st == ST_TLS_WANT_WRITE || st == ST_TLS_WANT_READ);
            if (st == ST_TLS_OK && n < chunk) partial_writes++;
            down_sent += n;
        }
        for (;;) {
            size_t n = 0;
            st_tls_status_t st = st_tls_read(p.server, got_up + up_got, TOTAL - up_got, &n);
            if (st != ST_TLS_OK) {
                assert_true(st == ST_TLS_WANT_READ || st == ST_TLS_WANT_WRITE);
                break;
            }
            up_got += n;
            if (!st_tls_pending(p.server) || up_got == TOTAL) break;
        }
        size_t n = 0;
        if (down_got < TOTAL && SSL_read_ex(p.client, got_down + down_got, TOTAL - down_got, &n) == 1) down_got += n;
    }
    assert_int_equal(up_got, TOTAL);
    assert_int_equal(down_got, TOTAL);
    assert_memory_equal(got_up, up, TOTAL);
    assert_memory_equal(got_down, down, TOTAL);
    assert_true(partial_writes > 0);
    /* No kTLS on a socketpair: sendfile is refused with a reason. */
    size_t sent;
    assert_int_equal(st_tls_sendfile(p.server, 0, 0, 10, &sent), ST_TLS_ERROR);
    assert_non_null(strstr(st_tls_error(p.server), "kTLS is not active"));

    /* The server's close_notify reaches the client... */
    assert_int_equal(st_tls_shutdown(p.server), ST_TLS_OK);
    char buf[16];
    size_t n = 0;
    assert_int_equal(SSL_read_ex(p.client, buf, sizeof buf, &n), 0);
    assert_int_equal(SSL_get_error(p.client, 0), SSL_ERROR_ZERO_RETURN);
    free_pair(&p);

    /* ...and the client's reaches the server as CLOSED. */
    p = make_pair(ctx, NULL, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    SSL_shutdown(p.client);
    assert_int_equal(st_tls_read(p.server, buf, sizeof buf, &n), ST_TLS_CLOSED);
    free_pair(&p);
    /* A peer gone without close_notify after the handshake: CLOSED too. */
    p = make_pair(ctx, NULL, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    close(p.client_fd);
    p.client_fd = -1;
    assert_int_equal(st_tls_read(p.server, buf, sizeof buf, &n), ST_TLS_CLOSED);
    free_pair(&p);
    free(up);
    free(down);
    free(got_up);
    free(got_down);
    st_tls_context_free(ctx);
}

static void expect_refused(const st_tls_config_t *cfg, const char *reason) {
    char error[256] = "";
    st_tls_context_t *ctx = st_tls_context_new(cfg, error, sizeof error);
    if (ctx) fail_msg("context built, wanted: %s", reason);
    if (!strstr(error, reason)) fail_msg("error '%s' does not say '%s'", error, reason);
}

static void test_keystore_forms(void **state) {
    (void)state;
    /* KIP-651 inline PEM: key, chain and truststore in the config. */
    st_tls_config_t cfg = {0};
    cfg.keystore_type = "PEM";
    cfg.keystore_key = pki.server.key_pem;
    cfg.keystore_certificate_chain = pki.server.cert_pem;
    cfg.truststore_certificates = pki.ca.cert_pem;
    cfg.client_auth = ST_TLS_CLIENT_AUTH_REQUIRED;
    st_tls_context_t *ctx = server_context(&cfg);
    pair_t p = make_pair(ctx, &pki.alice, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    free_pair(&p);
    st_tls_context_free(ctx);

    /* An encrypted PKCS#8 key and ssl.key.password. */
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(b, pki.server.key, EVP_aes_256_cbc(), NULL, 0, NULL,
                                                   (void *)"s3cret"),
                     1);
    char *data;
    long len = BIO_get_mem_data(b, &data);
    char *encrypted = strndup(data, (size_t)len);
    BIO_free(b);
    assert_non_null(strstr(encrypted, "ENCRYPTED PRIVATE KEY"));
    st_tls_config_t enc = {0};
    enc.keystore_key = encrypted;
    enc.keystore_certificate_chain = pki.server.cert_pem;
    enc.key_password = "s3cret";
    ctx = server_context(&enc);
    p = make_pair(ctx, NULL, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    free_pair(&p);
    st_tls_context_free(ctx);
    enc.key_password = "wrong";
    expect_refused(&enc, "ssl.key.password");
    enc.key_password = NULL;
    expect_refused(&enc, "no private key");
    free(encrypted);

    /* What is refused, and how it is said. */
    st_tls_config_t bad = server_config(ST_TLS_CLIENT_AUTH_NONE);
    bad.keystore_type = "JKS";
    expect_refused(&bad, "convert the keystore to PEM");
    bad = server_config(ST_TLS_CLIENT_AUTH_NONE);
    bad.keystore_location = "/nonexistent/keystore.pem";
    expect_refused(&bad, "cannot read /nonexistent/keystore.pem");
    bad = server_config(ST_TLS_CLIENT_AUTH_NONE);
    bad.keystore_location = NULL;
    expect_refused(&bad, "needs ssl.keystore.location or ssl.keystore.key");
    bad = (st_tls_config_t){0};
    bad.keystore_key = pki.alice.key_pem; /* not the server certificate's key */
    bad.keystore_certificate_chain = pki.server.cert_pem;
    expect_refused(&bad, "does not match its certificate");
    bad = (st_tls_config_t){0};
    bad.keystore_key = pki.server.key_pem;
    expect_refused(&bad, "go together");
    bad = server_config(ST_TLS_CLIENT_AUTH_REQUIRED);
    bad.truststore_location = NULL;
    expect_refused(&bad, "ssl.client.auth=required needs ssl.truststore");
    bad = server_config(ST_TLS_CLIENT_AUTH_NONE);
    bad.truststore_type = "PKCS12";
    expect_refused(&bad, "convert the truststore to PEM");
    bad = server_config(ST_TLS_CLIENT_AUTH_NONE);
    bad.enabled_protocols = "TLSv1.1";
    expect_refused(&bad, "TLSv1.1 is not supported");
    bad = server_config(ST_TLS_CLIENT_AUTH_NONE);
    bad.cipher_suites = "TLS_NOT_A_SUITE";
    expect_refused(&bad, "TLS_NOT_A_SUITE is not a cipher suite");

    st_tls_client_auth_t auth;
    assert_true(st_tls_client_auth_parse("required", &auth));
    assert_int_equal(auth, ST_TLS_CLIENT_AUTH_REQUIRED);
    assert_true(st_tls_client_auth_parse("requested", &auth));
    assert_true(st_tls_client_auth_parse("none", &auth));
    assert_false(st_tls_client_auth_parse("optional", &auth));
}

static void test_cipher_suites(void **state) {
    (void)state;
    /* Kafka names suites as Java does (IANA names); OpenSSL's own names work too. */
    st_tls_config_t cfg = server_config(ST_TLS_CLIENT_AUTH_NONE);
    cfg.cipher_suites = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256";
    st_tls_context_t *ctx = server_context(&cfg);
    pair_t p = make_pair(ctx, NULL, TLS1_2_VERSION);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    assert_string_equal(st_tls_cipher(p.server), "ECDHE-ECDSA-AES256-GCM-SHA384");
    free_pair(&p);
    p = make_pair(ctx, NULL, 0);
    assert_int_equal(handshake(&p), ST_TLS_OK);
    assert_string_equal(st_tls_cipher(p.server), "TLS_CHACHA20_POLY1305_SHA256");
    free_pair(&p);
    st_tls_context_free(ctx);
    /* A client that offers none of the server's suites. */
    cfg.cipher_suites = "ECDHE-ECDSA-AES128-GCM-SHA256";
    cfg.enabled_protocols = "TLSv1.2";
    ctx = server_context(&cfg);
    p = make_pair(ctx, NULL, 0);
    SSL_set_cipher_list(p.client, "ECDHE-ECDSA-AES256-GCM-SHA384");
    assert_int_equal(handshake(&p), ST_TLS_ERROR);
    assert_non_null(strstr(st_tls_error(p.server), "no shared cipher"));
    free_pair(&p);
    st_tls_context_free(ctx);
}

/* Subjects as Java's X500Principal.getName() prints them (each expected
 * string below was printed by OpenJDK 17 from the same certificate). */
static void test_dn_as_java_writes_it(void **state) {
    (void)state;
    const struct {
        const char *subject;
        const char *java;
    } cases[] = {
        {"C=US/O=Sun Microsystems/OU=JavaSoft/CN=Duke", "CN=Duke,OU=JavaSoft,O=Sun Microsystems,C=US"},
        {"CN=a,b;c+d", "CN=a\\,b\\;c\\+d"},
        {"CN= padded ", "CN=\\ padded\\ "},
        {"CN=#hash=eq", "CN=\\#hash\\=eq"},
        {"CN=q\"uote\\back<lt>gt", "CN=q\\\"uote\\\\back\\<lt\\>gt"},
        {"emailAddress=a@b.c/CN=x", "CN=x,1.2.840.113549.1.9.1=#16056140622e63"},
        {"DC=com/DC=example/UID=jdoe/street=Main 1/L=Town/ST=State", "ST=State,L=Town,STREET=Main 1,UID=jdoe,DC=example,DC=com"},
        {"serialNumber=42/CN=caf\xc3\xa9", "CN=caf\xc3\xa9,2.5.4.5=#13023432"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pki_cert_t c = make_cert(cases[i].subject, NULL, 0, 60, false);
        char dn[512];
        assert_true(st_tls_dn_rfc2253(X509_get_subject_name(c.cert), dn, sizeof dn));
        if (strcmp(dn, cases[i].java) != 0) fail_msg("%s: '%s', Java prints '%s'", cases[i].subject, dn, cases[i].java);
        /* Too small a buffer says so instead of cutting. */
        assert_false(st_tls_dn_rfc2253(X509_get_subject_name(c.cert), dn, 4));
        free_cert(&c);
    }
    /* A multi-valued RDN: its values joined with '+'. */
    pki_cert_t c = make_cert("O=Strata", NULL, 0, 60, false);
    X509_NAME *name = X509_get_subject_name(c.cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"svc", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "UID", MBSTRING_ASC, (const unsigned char *)"7", -1, -1, -1);
    char dn[256];
    assert_true(st_tls_dn_rfc2253(name, dn, sizeof dn));
    assert_string_equal(dn, "CN=svc+UID=7,O=Strata");
    free_cert(&c);
}

int main(void) {
    /* As the server does: a write to a peer that left is an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls13_and_tls12),
        cmocka_unit_test(test_mtls),
        cmocka_unit_test(test_garbage_instead_of_client_hello),
        cmocka_unit_test(test_data_both_ways_with_partial_writes),
        cmocka_unit_test(test_keystore_forms),
        cmocka_unit_test(test_cipher_suites),
        cmocka_unit_test(test_dn_as_java_writes_it),
    };
    return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
