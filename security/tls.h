/*
 * The TLS engine net/'s transport table calls for SSL and SASL_SSL
 * listeners: a server context built once per listener from Kafka's ssl.*
 * settings, and a non-blocking session per connection.
 *
 * The session drives OpenSSL over the connection's socket itself
 * (SSL_set_fd), not over memory BIOs: only a socket BIO lets OpenSSL 3
 * hand the record layer to the kernel (kTLS, SSL_OP_ENABLE_KTLS) and send
 * log segments with SSL_sendfile, which the fetch path wants; memory BIOs
 * would add a copy each way and rule kTLS out. The event loop still owns
 * the fd (epoll registration, close); the session only reads and writes.
 * OpenSSL writes with plain send(): the process must ignore SIGPIPE (the
 * server does), or a peer that leaves mid-write kills it.
 *
 * Session states:
 *
 *   st_tls_session_new --> HANDSHAKING --st_tls_handshake: OK----------> OPEN
 *                            |   ^                                        |  st_tls_read / st_tls_write
 *                            |   +-- WANT_READ / WANT_WRITE (wait on fd)  |  (WANT_* : wait; CLOSED: peer's
 *                            |                                            |   close_notify or EOF)
 *                            +--ERROR (bad ClientHello, untrusted or      |
 *                                expired certificate, no certificate      | st_tls_shutdown
 *                                when required, protocol/cipher mismatch)  v
 *                                          |                           CLOSING --OK--> CLOSED
 *                                          v
 *                                        FAILED (sticky: every call answers ERROR)
 *
 * Invariants:
 *  1. No application byte is read or written before the handshake is OK,
 *     and none after FAILED.
 *  2. peer_dn is set exactly when a client certificate was presented and
 *     verified (ssl.client.auth=requested or required).
 *  3. Every ERROR leaves a reason (st_tls_error) naming OpenSSL's error
 *     and, for a certificate, the verification result.
 *  4. When st_tls_read returns with bytes still decrypted inside OpenSSL
 *     (st_tls_pending), epoll will not signal them: the caller reads again.
 *  5. Secrets (private key password) are used while building the context
 *     and not kept.
 */
#ifndef ST_SECURITY_TLS_H
#define ST_SECURITY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "security/security_limits.h"

typedef enum st_tls_client_auth {
    ST_TLS_CLIENT_AUTH_NONE,
    ST_TLS_CLIENT_AUTH_REQUESTED,
    ST_TLS_CLIENT_AUTH_REQUIRED,
} st_tls_client_auth_t;

/* "none", "requested", "required" (Kafka's ssl.client.auth). */
bool st_tls_client_auth_parse(const char *text, st_tls_client_auth_t *out);

/* A listener's ssl.* settings, as the config resolved them (NULL: unset).
 * Only ssl.keystore.type=PEM and ssl.truststore.type=PEM (KIP-651) are
 * served; JKS and PKCS12 need a JVM keystore reader and are refused with
 * a message saying to convert them. */
typedef struct st_tls_config {
    const char *keystore_type;              /* ssl.keystore.type; NULL means PEM */
    const char *keystore_location;          /* ssl.keystore.location: key and chain in one PEM file */
    const char *keystore_certificate_chain; /* ssl.keystore.certificate.chain: inline PEM */
    const char *keystore_key;               /* ssl.keystore.key: inline PEM (PKCS#8, maybe encrypted) */
    const char *key_password;               /* ssl.key.password */
    const char *truststore_type;            /* ssl.truststore.type; NULL means PEM */
    const char *truststore_location;        /* ssl.truststore.location: CA certificates */
    const char *truststore_certificates;    /* ssl.truststore.certificates: inline PEM */
    st_tls_client_auth_t client_auth;       /* ssl.client.auth */
    const char *enabled_protocols;          /* ssl.enabled.protocols; NULL: "TLSv1.2,TLSv1.3" */
    const char *cipher_suites;              /* ssl.cipher.suites; NULL: OpenSSL's defaults */
    bool ktls;                              /* hand records to the kernel where it can (SSL_OP_ENABLE_KTLS) */
} st_tls_config_t;

typedef struct st_tls_context st_tls_context_t;
typedef struct st_tls_session st_tls_session_t;

/* Builds a server context. NULL with a reason in `error` (cap bytes): a
 * file that cannot be read, a key that does not decrypt or does not match
 * the certificate, no truststore when client auth is asked for, an
 * unknown protocol or cipher suite. Caller frees with st_tls_context_free
 * (after every session made from it). */
st_tls_context_t *st_tls_context_new(const st_tls_config_t *config, char *error, size_t cap);
void st_tls_context_free(st_tls_context_t *ctx);

/* A session on an accepted, non-blocking socket. NULL when out of memory. */
st_tls_session_t *st_tls_session_new(st_tls_context_t *ctx, int fd);
void st_tls_session_free(st_tls_session_t *s);

typedef enum st_tls_status {
    ST_TLS_OK,
    ST_TLS_WANT_READ,  /* wait until the fd is readable, then call again */
    ST_TLS_WANT_WRITE, /* wait until the fd is writable, then call again */
    ST_TLS_CLOSED,     /* the peer closed (close_notify or EOF) */
    ST_TLS_ERROR,      /* see st_tls_error; close the connection */
} st_tls_status_t;

/* One step of the server handshake. */
st_tls_status_t st_tls_handshake(st_tls_session_t *s);
/* Up to cap bytes into buf; *n gets the count (OK only when *n > 0). */
st_tls_status_t st_tls_read(st_tls_session_t *s, void *buf, size_t cap, size_t *n);
/* Writes up to len bytes; *n gets what was taken (partial writes happen:
 * send the rest later, from the same or a moved buffer). */
st_tls_status_t st_tls_write(st_tls_session_t *s, const void *buf, size_t len, size_t *n);
/* Sends close_notify; OK once sent (the peer's reply is not awaited). */
st_tls_status_t st_tls_shutdown(st_tls_session_t *s);
/* Decrypted bytes waiting inside OpenSSL (invariant 4). */
bool st_tls_pending(const st_tls_session_t *s);
/* Sends len bytes of file fd from offset through kTLS (SSL_sendfile);
 * ST_TLS_ERROR with a reason when kTLS is not active on this session (the
 * caller copies through st_tls_write instead). */
st_tls_status_t st_tls_sendfile(st_tls_session_t *s, int file_fd, off_t offset, size_t len, size_t *n);
/* Whether the kernel took the send side of the record layer. */
bool st_tls_ktls_send(const st_tls_session_t *s);

/* Why the last call failed. */
const char *st_tls_error(const st_tls_session_t *s);
/* The verified client certificate's subject as Java's
 * X500Principal.getName() spells it (RFC 2253), for
 * security/principal.h; NULL without one (invariant 2). */
const char *st_tls_peer_dn(const st_tls_session_t *s);
/* "TLSv1.3", "TLS_AES_256_GCM_SHA384" after the handshake. */
const char *st_tls_protocol(const st_tls_session_t *s);
const char *st_tls_cipher(const st_tls_session_t *s);

/* Writes a certificate subject (an X509_NAME) in Java's RFC 2253 form:
 * RDNs last to first; CN C L ST O OU STREET DC UID by keyword, any other
 * attribute as its dotted OID and "#" with the hex of its DER value;
 * ",+=<>#;\"\\" escaped with a backslash, and leading or trailing spaces.
 * False when it does not fit cap bytes. */
struct X509_name_st;
bool st_tls_dn_rfc2253(const struct X509_name_st *name, char *out, size_t cap);

#endif
