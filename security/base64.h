/*
 * Base64 (RFC 4648, standard alphabet, padded) for SCRAM's salts, proofs
 * and signatures, and base64url (unpadded) for OAUTHBEARER's JWS parts.
 * Decoding is strict, as Kafka's regular expressions and Java's decoder
 * are: a character outside the alphabet, bad padding or non-zero trailing
 * bits fail.
 */
#ifndef ST_SECURITY_BASE64_H
#define ST_SECURITY_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes (padded), without a NUL. */
static inline size_t st_base64_encoded_len(size_t n) { return 4 * ((n + 2) / 3); }

/* Writes the encoding and a NUL into out (cap bytes). Returns the encoded
 * length, or 0 when out is too small (and n > 0). */
size_t st_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap);

/* Decodes len chars into out (cap bytes). Returns the decoded length or -1
 * when the text is not canonical padded base64 or out is too small. */
long st_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* base64url without padding (RFC 7515 section 2), for JWS. The encoder
 * writes a NUL and returns the length (0 when out is too small, n > 0). */
size_t st_base64url_encode(const uint8_t *in, size_t n, char *out, size_t cap);
long st_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
