#include "security/base64.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t st_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap) {
    size_t need = st_base64_encoded_len(n);
    if (cap < need + 1) return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = ALPHABET[(v >> 18) & 63];
        out[o++] = ALPHABET[(v >> 12) & 63];
        out[o++] = i + 1 < n ? ALPHABET[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? ALPHABET[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

/* 0-63, or -1 outside the alphabet. */
static int sextet(char c, bool url) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == (url ? '-' : '+')) return 62;
    if (c == (url ? '_' : '/')) return 63;
    return -1;
}

/* Decodes whole groups of `len` chars without padding; a final group of 2
 * or 3 chars is a short group (its unused bits must be zero). */
static long decode_unpadded(const char *in, size_t len, uint8_t *out, size_t cap, bool url) {
    if (len % 4 == 1) return -1;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > cap) return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        size_t group = len - i < 4 ? len - i : 4;
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int s = k < group ? sextet(in[i + k], url) : 0;
            if (s < 0) return -1;
            v = (v << 6) | (uint32_t)s;
        }
        out[o++] = (uint8_t)(v >> 16);
        if (group > 2) out[o++] = (uint8_t)(v >> 8);
        if (group > 3) out[o++] = (uint8_t)v;
        /* Canonical encodings leave the bits past the last byte zero. */
        if (group == 2 && (v & 0xffff) != 0) return -1;
        if (group == 3 && (v & 0xff) != 0) return -1;
    }
    return (long)o;
}

long st_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap) {
    if (len % 4 != 0) return -1;
    size_t pad = 0;
    if (len >= 1 && in[len - 1] == '=') pad++;
    if (len >= 2 && in[len - 2] == '=') pad++;
    return decode_unpadded(in, len - pad, out, cap, false);
}

size_t st_base64url_encode(const uint8_t *in, size_t n, char *out, size_t cap) {
    size_t len = st_base64_encode(in, n, out, cap);
    while (len > 0 && out[len - 1] == '=') out[--len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (out[i] == '+') out[i] = '-';
        else if (out[i] == '/') out[i] = '_';
    }
    return len;
}

long st_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap) {
    return decode_unpadded(in, len, out, cap, true);
}
