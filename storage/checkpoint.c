#include "storage/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "storage/fsutil.h"

/* Longest line: a 20-character int64, a space, another, a newline. */
#define CHECKPOINT_LINE_BYTES 48
#define CHECKPOINT_OFFSET_FILE_BYTES 64

int st_checkpoint_write_offset(const char *dir, const char *name, int64_t offset) {
    char text[CHECKPOINT_OFFSET_FILE_BYTES];
    int n = snprintf(text, sizeof text, "0\n%" PRId64 "\n", offset);
    return st_fs_write_atomic(dir, name, text, (size_t)n);
}

/* Parses a decimal int64 at *p followed by `end_char`; advances past it. */
static int parse_i64(const char **p, char end_char, int64_t *out) {
    const char *s = *p;
    bool neg = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    if (*s < '0' || *s > '9') return ST_ERR_CORRUPT;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return ST_ERR_CORRUPT;
        v = v * 10 + d;
        s++;
    }
    if (*s != end_char) return ST_ERR_CORRUPT;
    if ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1)) return ST_ERR_CORRUPT;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    *p = s + 1;
    return 0;
}

int st_checkpoint_read_offset(const char *dir, const char *name, int64_t *offset) {
    char path[ST_FS_PATH_MAX], text[CHECKPOINT_OFFSET_FILE_BYTES];
    size_t len;
    if (st_fs_path(path, "%s/%s", dir, name)) return ST_ERR_LIMIT;
    int rc = st_fs_read_small(path, text, sizeof text, &len);
    if (rc == ST_ERR_LIMIT) return ST_ERR_CORRUPT;
    if (rc) return rc;
    const char *p = text;
    int64_t version, v;
    if (parse_i64(&p, '\n', &version) || version != 0 || parse_i64(&p, '\n', &v) || *p != '\0')
        return ST_ERR_CORRUPT;
    *offset = v;
    return 0;
}

int st_checkpoint_write_epochs(const char *dir, const st_epoch_entry_t *entries, int32_t count) {
    size_t cap = 32 + (size_t)count * CHECKPOINT_LINE_BYTES;
    char *text = malloc(cap);
    if (!text) return ST_ERR_NO_MEMORY;
    size_t len = (size_t)snprintf(text, cap, "0\n%" PRId32 "\n", count);
    for (int32_t i = 0; i < count; i++)
        len += (size_t)snprintf(text + len, cap - len, "%" PRId32 " %" PRId64 "\n", entries[i].epoch,
                                entries[i].start_offset);
    int rc = st_fs_write_atomic(dir, ST_CHECKPOINT_LEADER_EPOCH, text, len);
    free(text);
    return rc;
}

int st_checkpoint_read_epochs(const char *dir, st_epoch_entry_t **entries, int32_t *count) {
    *entries = NULL;
    *count = 0;
    char path[ST_FS_PATH_MAX];
    if (st_fs_path(path, "%s/%s", dir, ST_CHECKPOINT_LEADER_EPOCH)) return ST_ERR_LIMIT;
    size_t cap = 32 + (size_t)ST_CHECKPOINT_EPOCHS_MAX * CHECKPOINT_LINE_BYTES;
    char *text = malloc(cap);
    if (!text) return ST_ERR_NO_MEMORY;
    size_t len;
    int rc = st_fs_read_small(path, text, cap, &len);
    if (rc == ST_ERR_LIMIT) rc = ST_ERR_CORRUPT;
    if (rc) goto out_free_text;
    const char *p = text;
    int64_t version, n;
    rc = ST_ERR_CORRUPT;
    if (parse_i64(&p, '\n', &version) || version != 0) goto out_free_text;
    if (parse_i64(&p, '\n', &n) || n < 0 || n > ST_CHECKPOINT_EPOCHS_MAX) goto out_free_text;
    st_epoch_entry_t *e = NULL;
    if (n > 0) {
        e = calloc((size_t)n, sizeof *e);
        if (!e) {
            rc = ST_ERR_NO_MEMORY;
            goto out_free_text;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t epoch, off;
        if (parse_i64(&p, ' ', &epoch) || parse_i64(&p, '\n', &off) || epoch < 0 || epoch > INT32_MAX ||
            off < 0 || (i > 0 && (epoch <= e[i - 1].epoch || off < e[i - 1].start_offset))) {
            free(e);
            goto out_free_text;
        }
        e[i].epoch = (int32_t)epoch;
        e[i].start_offset = off;
    }
    if (*p != '\0') {
        free(e);
        goto out_free_text;
    }
    *entries = e;
    *count = (int32_t)n;
    rc = 0;
out_free_text:
    free(text);
    return rc;
}
