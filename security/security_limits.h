/*
 * Every limit of the security room in one place (STYLE 6). They move into
 * common/limits.h when issue 11 lands it; until then this header is theirs.
 * Bytes from an unauthenticated peer are bounded by these before anything
 * is parsed, copied or hashed.
 */
#ifndef ST_SECURITY_LIMITS_H
#define ST_SECURITY_LIMITS_H

/* One SASL token from the client: Kafka's sasl.server.max.receive.size
 * (default 524288) bounds the frame the wiring step reads; the mechanisms
 * themselves refuse anything longer than this. */
#define ST_SASL_AUTH_BYTES_MAX 524288

/* RFC 4616 asks a server to accept at least 255 octets for each PLAIN
 * field; Kafka sets no limit of its own, so these are generous. */
#define ST_SASL_USERNAME_BYTES_MAX 1024
#define ST_SASL_PASSWORD_BYTES_MAX 1024

/* SCRAM (RFC 5802). The client nonce has no RFC limit; every real client
 * sends 24-48 printable bytes. Kafka's server nonce is 130 random bits in
 * base 36 (26 chars); ours is 24 random bytes in base64 (32 chars). */
#define ST_SCRAM_CLIENT_NONCE_BYTES_MAX 256
#define ST_SCRAM_SERVER_NONCE_RANDOM_BYTES 24
#define ST_SCRAM_SERVER_NONCE_CHARS 32
#define ST_SCRAM_SALT_BYTES_MAX 128
#define ST_SCRAM_EXTENSIONS_MAX 16
#define ST_SCRAM_EXTENSION_BYTES_MAX 256
/* Kafka's ScramMechanism.minIterations (4096 for both SHA-256 and SHA-512)
 * and ScramControlManager.MAX_ITERATIONS. */
#define ST_SCRAM_ITERATIONS_MIN 4096
#define ST_SCRAM_ITERATIONS_MAX 16384
/* SHA-512's digest: the largest key any SCRAM mechanism here uses. */
#define ST_SCRAM_KEY_BYTES_MAX 64

/* A server challenge: SCRAM's server-first is the biggest
 * ("r=" nonce ",s=" base64(salt) ",i=" iterations). */
#define ST_SASL_CHALLENGE_BYTES_MAX 1024
_Static_assert(2 + ST_SCRAM_CLIENT_NONCE_BYTES_MAX + ST_SCRAM_SERVER_NONCE_CHARS + 3 +
                       4 * ((ST_SCRAM_SALT_BYTES_MAX + 2) / 3) + 3 + 10 <
                   ST_SASL_CHALLENGE_BYTES_MAX,
               "a SCRAM server-first message must fit a challenge");
_Static_assert(ST_SCRAM_SERVER_NONCE_CHARS == 4 * ((ST_SCRAM_SERVER_NONCE_RANDOM_BYTES + 2) / 3),
               "the server nonce is the base64 of its random bytes");

/* OAUTHBEARER (RFC 7628, KIP-255): the whole client response and the
 * unsecured JWS inside it. */
#define ST_OAUTH_TOKEN_BYTES_MAX 16384
#define ST_OAUTH_CLAIM_BYTES_MAX 1024

/* A principal string "User:<name>" and an X.509 subject DN. */
#define ST_PRINCIPAL_BYTES_MAX (5 + ST_SASL_USERNAME_BYTES_MAX)
#define ST_DN_BYTES_MAX 4096
/* ssl.principal.mapping.rules: rules per list, and the work one regular
 * expression may do on one DN before it counts as no match (a bound on
 * backtracking, so a bad rule cannot stall the event loop). */
#define ST_PRINCIPAL_RULES_MAX 64
#define ST_REGEX_PATTERN_BYTES_MAX 1024
#define ST_REGEX_GROUPS_MAX 20
#define ST_REGEX_STEPS_MAX 200000

/* ACLs: each string field of a binding (resource name, principal, host).
 * Topic names are at most 249 bytes; group and transactional ids have no
 * Kafka limit, so this is generous. */
#define ST_ACL_STRING_BYTES_MAX 32767

/* TLS: the peer's certificate chain depth (OpenSSL's default is 100). */
#define ST_TLS_VERIFY_DEPTH_MAX 10
#define ST_TLS_ERROR_BYTES_MAX 256

#endif
