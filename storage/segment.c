#include "storage/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/crc32c.h"
#include "common/errors.h"
#include "storage/fsutil.h"

/* Read granularity for header scans and CRC checks in recovery. */
#define SEGMENT_SCAN_BUFFER_BYTES 4096
#define SEGMENT_CRC_CHUNK_BYTES 65536

int st_segment_path(char *out, const char *dir, int64_t base_offset, const char *suffix) {
    return st_fs_path(out, "%s/%020" PRId64 "%s", dir, base_offset, suffix);
}

static st_segment_t *segment_alloc(const char *dir, int64_t base_offset, int64_t now_ms) {
    st_segment_t *seg = calloc(1, sizeof *seg);
    if (!seg) return NULL;
    seg->dir = dir;
    seg->base_offset = base_offset;
    seg->fd = -1;
    seg->next_offset = base_offset;
    seg->max_timestamp = -1;
    seg->offset_of_max_timestamp = -1;
    seg->first_batch_timestamp = -1;
    seg->created_ms = now_ms;
    seg->offset_index.file.fd = -1;
    seg->time_index.file.fd = -1;
    st_txn_index_init(&seg->txn_index, dir, base_offset);
    return seg;
}

static int open_indexes(st_segment_t *seg, bool *offset_index_created, bool *time_index_created) {
    char path[ST_FS_PATH_MAX];
    *offset_index_created = *time_index_created = false;
    if (st_segment_path(path, seg->dir, seg->base_offset, ".index") ||
        st_offset_index_open(&seg->offset_index, path, seg->base_offset, offset_index_created))
        return ST_ERR_IO;
    if (st_segment_path(path, seg->dir, seg->base_offset, ".timeindex") ||
        st_time_index_open(&seg->time_index, path, seg->base_offset, time_index_created))
        return ST_ERR_IO;
    return 0;
}

/* Closes a half-opened segment without losing the errno that failed it. */
static void preserving_errno_close(st_segment_t *seg) {
    int saved = errno;
    st_segment_close(seg);
    errno = saved;
}

static bool timespec_after(const struct timespec *a, const struct timespec *b) {
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

int st_segment_create(const char *dir, int64_t base_offset, int32_t index_bytes_max, int64_t now_ms,
                      st_segment_t **out) {
    st_segment_t *seg = segment_alloc(dir, base_offset, now_ms);
    if (!seg) return ST_ERR_NO_MEMORY;
    char path[ST_FS_PATH_MAX];
    bool created, time_created;
    if (st_segment_path(path, dir, base_offset, ".log")) goto err_free;
    seg->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (seg->fd < 0) goto err_free;
    if (open_indexes(seg, &created, &time_created)) goto err_close;
    st_index_file_truncate_entries(&seg->offset_index.file, 0);
    st_index_file_truncate_entries(&seg->time_index.file, 0);
    if (st_txn_index_reset(&seg->txn_index)) goto err_close; /* a stale one of that name */
    if (st_segment_make_active(seg, index_bytes_max)) goto err_close;
    *out = seg;
    return 0;
err_close:
    preserving_errno_close(seg);
    return ST_ERR_IO;
err_free:
    free(seg);
    return ST_ERR_IO;
}

int st_segment_open(const char *dir, int64_t base_offset, int64_t next_offset_bound, int64_t now_ms,
                    st_segment_t **out) {
    st_segment_t *seg = segment_alloc(dir, base_offset, now_ms);
    if (!seg) return ST_ERR_NO_MEMORY;
    char path[ST_FS_PATH_MAX];
    if (st_segment_path(path, dir, base_offset, ".log")) {
        free(seg);
        return ST_ERR_LIMIT;
    }
    seg->fd = open(path, O_RDWR | O_CLOEXEC);
    if (seg->fd < 0) {
        free(seg);
        return ST_ERR_IO;
    }
    struct stat st;
    bool offset_created = false, time_created = false;
    if (fstat(seg->fd, &st) != 0 || open_indexes(seg, &offset_created, &time_created)) {
        preserving_errno_close(seg);
        return ST_ERR_IO;
    }
    seg->size_bytes = st.st_size;
    st_drop_behind_init(&seg->drop_behind, seg->size_bytes);
    seg->next_offset = next_offset_bound;
    if (offset_created && time_created)
        seg->index_problem = "the index files are missing";
    else if (offset_created)
        seg->index_problem = "the offset index file is missing";
    else if (time_created)
        seg->index_problem = "the time index file is missing";
    else if (!seg->offset_index.file.size_valid || !seg->time_index.file.size_valid)
        seg->index_problem = "an index file does not hold whole entries";
    else if (!st_offset_index_sane(&seg->offset_index, next_offset_bound, seg->size_bytes))
        seg->index_problem = "the offset index does not fit the .log (entries out of order or past its end)";
    else if (!st_time_index_sane(&seg->time_index, next_offset_bound))
        seg->index_problem = "the time index is out of order or past the segment's offsets";
    const char *txn_problem = NULL;
    int txn_rc = st_txn_index_load(&seg->txn_index, next_offset_bound, seg->size_bytes, &txn_problem);
    if (txn_rc == ST_ERR_CORRUPT) {
        if (!seg->index_problem) seg->index_problem = txn_problem;
    } else if (txn_rc) {
        preserving_errno_close(seg);
        return txn_rc;
    }
    seg->indexes_loaded_sane = seg->index_problem == NULL;
    seg->modified_after_indexes = timespec_after(&st.st_mtim, &seg->offset_index.file.modified) ||
                                  timespec_after(&st.st_mtim, &seg->time_index.file.modified);
    /* The final time-index entry holds the largest timestamp. */
    int64_t ts, off;
    if (seg->indexes_loaded_sane && st_time_index_last(&seg->time_index, &ts, &off)) {
        seg->max_timestamp = ts;
        seg->offset_of_max_timestamp = off;
    }
    *out = seg;
    return 0;
}

/* Header checks for a batch found at `position` of a segment of `size` bytes. */
static int check_header(const uint8_t *p, size_t avail, int64_t position, int64_t size, st_batch_header_t *h) {
    if (st_batch_header_parse(p, avail, h) != 0) return ST_ERR_CORRUPT;
    int64_t total = st_batch_total_bytes(h);
    if (total > INT32_MAX || total > size - position) return ST_ERR_CORRUPT;
    if (h->last_offset_delta < 0 || h->record_count < 0 || h->base_offset < 0) return ST_ERR_CORRUPT;
    if (h->base_offset > INT64_MAX - h->last_offset_delta - 1) return ST_ERR_CORRUPT;
    return 0;
}

int st_segment_read_header(const st_segment_t *seg, int64_t position, st_batch_header_t *h) {
    uint8_t buf[ST_BATCH_HEADER_BYTES];
    if (position < 0 || position + ST_BATCH_HEADER_BYTES > seg->size_bytes) return ST_ERR_CORRUPT;
    size_t got;
    if (st_fs_pread_full(seg->fd, buf, sizeof buf, position, &got)) return ST_ERR_IO;
    if (got < sizeof buf) return ST_ERR_CORRUPT;
    return check_header(buf, got, position, seg->size_bytes, h);
}

/* Buffered header scan: most batches are small, so one pread serves many. */
typedef struct header_scanner {
    const st_segment_t *seg;
    int64_t position;
    int64_t buf_position;
    size_t buf_len;
    uint8_t buf[SEGMENT_SCAN_BUFFER_BYTES];
} header_scanner_t;

/* 1 with the header at sc->position, 0 at the end of the segment, or an error. */
static int scanner_peek(header_scanner_t *sc, st_batch_header_t *h) {
    const st_segment_t *seg = sc->seg;
    if (sc->position >= seg->size_bytes) return 0;
    if (sc->position + ST_BATCH_HEADER_BYTES > seg->size_bytes) return ST_ERR_CORRUPT;
    if (sc->position < sc->buf_position ||
        sc->position + ST_BATCH_HEADER_BYTES > sc->buf_position + (int64_t)sc->buf_len) {
        if (st_fs_pread_full(seg->fd, sc->buf, sizeof sc->buf, sc->position, &sc->buf_len)) return ST_ERR_IO;
        sc->buf_position = sc->position;
        if (sc->buf_len < ST_BATCH_HEADER_BYTES) return ST_ERR_CORRUPT;
    }
    const uint8_t *p = sc->buf + (sc->position - sc->buf_position);
    int rc = check_header(p, ST_BATCH_HEADER_BYTES, sc->position, seg->size_bytes, h);
    return rc ? rc : 1;
}

static void scanner_init(header_scanner_t *sc, const st_segment_t *seg, int64_t position) {
    sc->seg = seg;
    sc->position = position;
    sc->buf_position = 0;
    sc->buf_len = 0;
}

static int scan_from(const st_segment_t *seg, int64_t position, int64_t target, int64_t *found,
                     st_batch_header_t *h) {
    header_scanner_t sc;
    scanner_init(&sc, seg, position);
    for (;;) {
        int rc = scanner_peek(&sc, h);
        if (rc <= 0) return rc == 0 ? ST_ERR_NOT_FOUND : rc;
        if (st_batch_last_offset(h) >= target) {
            *found = sc.position;
            return 0;
        }
        sc.position += st_batch_total_bytes(h);
    }
}

int st_segment_find_batch(const st_segment_t *seg, int64_t target, int64_t *position, st_batch_header_t *h) {
    int64_t index_offset, index_position;
    st_offset_index_lookup(&seg->offset_index, target, &index_offset, &index_position);
    (void)index_offset;
    if (index_position > 0) {
        /* The index is a hint: if the batch it names does not start at or
         * before target, scan from the start instead. */
        st_batch_header_t first;
        if (st_segment_read_header(seg, index_position, &first) == 0 && first.base_offset <= target) {
            int rc = scan_from(seg, index_position, target, position, h);
            if (rc != ST_ERR_CORRUPT) return rc;
        }
    }
    return scan_from(seg, 0, target, position, h);
}

static void note_batch(st_segment_t *seg, const st_batch_header_t *h, int64_t position,
                       int32_t index_interval_bytes) {
    int64_t last = st_batch_last_offset(h);
    if (seg->first_batch_timestamp < 0 && position == 0) seg->first_batch_timestamp = h->max_timestamp;
    if (h->max_timestamp > seg->max_timestamp) {
        seg->max_timestamp = h->max_timestamp;
        seg->offset_of_max_timestamp = last;
    }
    if (seg->bytes_since_index_entry > index_interval_bytes) {
        /* A full index only makes lookups land earlier: the log rolls
         * before this matters. */
        (void)st_offset_index_append(&seg->offset_index, last, position);
        (void)st_time_index_maybe_append(&seg->time_index, seg->max_timestamp, seg->offset_of_max_timestamp,
                                         false);
        seg->bytes_since_index_entry = 0;
    }
    seg->bytes_since_index_entry += st_batch_total_bytes(h);
    seg->next_offset = last + 1;
}

int st_segment_append(st_segment_t *seg, const uint8_t *batches, size_t len, int32_t index_interval_bytes,
                      int64_t drop_behind_bytes) {
    if (st_fs_pwrite_full(seg->fd, batches, len, seg->size_bytes)) {
        /* A short write (a full disk) leaves part of a batch past the end:
         * cut it now, so it neither holds the space nor waits for the next
         * open to cut it. */
        int saved = errno;
        int cut = ftruncate(seg->fd, (off_t)seg->size_bytes);
        (void)cut; /* should it fail, the tail re-check before the next write cuts it */
        errno = saved;
        return ST_ERR_IO;
    }
    int64_t position = seg->size_bytes;
    size_t at = 0;
    while (at < len) {
        st_batch_header_t h;
        /* The log validated the framing before assigning offsets. */
        if (st_batch_header_parse(batches + at, len - at, &h) != 0) return ST_ERR_CORRUPT;
        note_batch(seg, &h, position + (int64_t)at, index_interval_bytes);
        at += (size_t)st_batch_total_bytes(&h);
    }
    seg->size_bytes += (int64_t)len;
    st_drop_behind_after_write(&seg->drop_behind, seg->fd, seg->size_bytes, drop_behind_bytes);
    return 0;
}

/* CRC of bytes [position + ST_BATCH_ATTRIBUTES_OFFSET, position + total). */
static int batch_crc_matches(const st_segment_t *seg, int64_t position, const st_batch_header_t *h, uint8_t *chunk,
                             bool *ok) {
    int64_t at = position + ST_BATCH_ATTRIBUTES_OFFSET;
    int64_t end = position + st_batch_total_bytes(h);
    uint32_t crc = 0;
    while (at < end) {
        size_t want = (size_t)(end - at < SEGMENT_CRC_CHUNK_BYTES ? end - at : SEGMENT_CRC_CHUNK_BYTES);
        size_t got;
        if (st_fs_pread_full(seg->fd, chunk, want, at, &got)) return ST_ERR_IO;
        if (got < want) {
            *ok = false;
            return 0;
        }
        crc = st_crc32c(crc, chunk, got);
        at += (int64_t)got;
    }
    *ok = crc == h->crc;
    return 0;
}

/* Why the header at sc->position failed scanner_peek (ST_ERR_CORRUPT). */
static const char *bad_header_reason(const header_scanner_t *sc) {
    int64_t left = sc->seg->size_bytes - sc->position;
    if (left < ST_BATCH_HEADER_BYTES) return "the file ends inside a batch header (a torn write or a truncated file)";
    if (sc->position < sc->buf_position ||
        sc->position + ST_BATCH_HEADER_BYTES > sc->buf_position + (int64_t)sc->buf_len)
        return "a batch header could not be read whole";
    st_batch_header_t h;
    const uint8_t *p = sc->buf + (sc->position - sc->buf_position);
    if (st_batch_header_parse(p, ST_BATCH_HEADER_BYTES, &h) != 0) return "an invalid batch header (length or magic)";
    if (st_batch_total_bytes(&h) > left)
        return "a batch that runs past the end of the file (a torn write or a truncated file)";
    return "an invalid batch header (offsets or counts)";
}

int st_segment_recover(st_segment_t *seg, int32_t index_interval_bytes, int32_t index_bytes_max,
                       int64_t offset_limit, st_segment_batch_fn on_batch, void *ctx, st_segment_recovery_t *out) {
    out->valid_bytes = 0;
    out->truncated_bytes = 0;
    out->reason = NULL;
    struct stat st;
    if (fstat(seg->fd, &st) != 0) return ST_ERR_IO;
    seg->size_bytes = st.st_size;
    st_index_file_truncate_entries(&seg->offset_index.file, 0);
    st_index_file_truncate_entries(&seg->time_index.file, 0);
    if (st_segment_make_active(seg, index_bytes_max)) return ST_ERR_IO;
    seg->next_offset = seg->base_offset;
    seg->max_timestamp = -1;
    seg->offset_of_max_timestamp = -1;
    seg->first_batch_timestamp = -1;
    seg->bytes_since_index_entry = 0;

    uint8_t *chunk = malloc(SEGMENT_CRC_CHUNK_BYTES);
    if (!chunk) return ST_ERR_NO_MEMORY;
    header_scanner_t *sc = malloc(sizeof *sc);
    if (!sc) {
        free(chunk);
        return ST_ERR_NO_MEMORY;
    }
    scanner_init(sc, seg, 0);
    int rc = 0;
    const char *reason = NULL;
    for (;;) {
        st_batch_header_t h;
        int got = scanner_peek(sc, &h);
        if (got == ST_ERR_IO) {
            rc = ST_ERR_IO;
            break;
        }
        if (got == 0) break;
        if (got < 0) {
            reason = bad_header_reason(sc);
            break;
        }
        if (h.base_offset < seg->next_offset) {
            reason = "a batch whose offsets do not follow the previous one's";
            break;
        }
        if (st_batch_last_offset(&h) >= offset_limit) {
            reason = "a batch with offsets at or past the next segment's base offset";
            break;
        }
        if (st_batch_last_offset(&h) - seg->base_offset > INT32_MAX) {
            reason = "a batch with offsets too far above the segment's base offset";
            break;
        }
        bool ok;
        rc = batch_crc_matches(seg, sc->position, &h, chunk, &ok);
        if (rc) break;
        if (!ok) {
            reason = "a batch whose CRC-32C does not match its bytes";
            break;
        }
        note_batch(seg, &h, sc->position, index_interval_bytes);
        if (on_batch && (rc = on_batch(ctx, &h)) != 0) break;
        sc->position += st_batch_total_bytes(&h);
    }
    int64_t valid = sc->position;
    free(sc);
    free(chunk);
    if (rc) return rc;
    out->valid_bytes = valid;
    if (valid < seg->size_bytes) {
        if (ftruncate(seg->fd, (off_t)valid) != 0) return ST_ERR_IO;
        out->truncated_bytes = seg->size_bytes - valid;
        out->reason = reason ? reason : "bytes after the last batch";
        seg->size_bytes = valid;
    }
    st_drop_behind_init(&seg->drop_behind, seg->size_bytes);
    return 0;
}

int st_segment_verify(st_segment_t *seg, int64_t offset_limit, bool *verified) {
    *verified = false;
    struct stat st;
    if (fstat(seg->fd, &st) != 0) return ST_ERR_IO;
    uint8_t *chunk = malloc(SEGMENT_CRC_CHUNK_BYTES);
    header_scanner_t *sc = malloc(sizeof *sc);
    if (!chunk || !sc) {
        free(chunk);
        free(sc);
        return ST_ERR_NO_MEMORY;
    }
    seg->size_bytes = st.st_size;
    st_drop_behind_init(&seg->drop_behind, seg->size_bytes);
    scanner_init(sc, seg, 0);
    int32_t offset_entries = st_offset_index_entries(&seg->offset_index);
    int32_t time_entries = seg->time_index.file.entries;
    int32_t next_offset_entry = 0, next_time_entry = 0;
    int64_t next_offset = seg->base_offset, max_timestamp = -1, offset_of_max_timestamp = -1;
    int64_t first_batch_timestamp = -1, last_indexed_position = -1;
    int rc = 0;
    bool agree = true;
    for (;;) {
        st_batch_header_t h;
        int got = scanner_peek(sc, &h);
        if (got <= 0) {
            /* The end, or a torn or garbled header: recover decides. */
            if (got == ST_ERR_IO) rc = ST_ERR_IO;
            agree = got == 0;
            break;
        }
        int64_t last = st_batch_last_offset(&h);
        bool ok;
        if (h.base_offset < next_offset || last >= offset_limit || last - seg->base_offset > INT32_MAX ||
            (rc = batch_crc_matches(seg, sc->position, &h, chunk, &ok)) != 0 || !ok) {
            agree = false;
            break;
        }
        if (first_batch_timestamp < 0 && sc->position == 0) first_batch_timestamp = h.max_timestamp;
        if (h.max_timestamp > max_timestamp) {
            max_timestamp = h.max_timestamp;
            offset_of_max_timestamp = last;
        }
        /* Offset-index entries name batch starts, in order. */
        if (next_offset_entry < offset_entries) {
            int64_t off, pos;
            st_offset_index_entry(&seg->offset_index, next_offset_entry, &off, &pos);
            if (pos < sc->position) agree = false;
            if (pos == sc->position) {
                if (off != last) agree = false;
                last_indexed_position = pos;
                next_offset_entry++;
            }
        }
        /* Time-index entries hold the largest timestamp so far and the
         * batch carrying it. */
        while (agree && next_time_entry < time_entries) {
            int64_t ts, off;
            st_time_index_entry(&seg->time_index, next_time_entry, &ts, &off);
            if (off > last) break;
            if (off < last || ts != max_timestamp || offset_of_max_timestamp != last) agree = false;
            next_time_entry++;
        }
        if (!agree) break;
        next_offset = last + 1;
        sc->position += st_batch_total_bytes(&h);
    }
    bool whole = agree && sc->position == seg->size_bytes && next_offset_entry == offset_entries &&
                 next_time_entry == time_entries;
    int64_t end_position = sc->position;
    free(sc);
    free(chunk);
    if (rc) return rc;
    if (!whole) return 0;
    seg->next_offset = next_offset;
    seg->max_timestamp = max_timestamp;
    seg->offset_of_max_timestamp = offset_of_max_timestamp;
    seg->first_batch_timestamp = first_batch_timestamp;
    /* As note_batch counts: the bytes from the last indexed batch on. */
    seg->bytes_since_index_entry = last_indexed_position >= 0 ? end_position - last_indexed_position : end_position;
    *verified = true;
    return 0;
}

int st_segment_make_active(st_segment_t *seg, int32_t index_bytes_max) {
    if (!seg->offset_index.file.writable &&
        st_index_file_make_writable(&seg->offset_index.file, index_bytes_max))
        return ST_ERR_IO;
    if (!seg->time_index.file.writable && st_index_file_make_writable(&seg->time_index.file, index_bytes_max))
        return ST_ERR_IO;
    return 0;
}

int st_segment_make_inactive(st_segment_t *seg) {
    /* Kafka's onBecomeInactiveSegment: the last entry carries the
     * segment's largest timestamp, read back at load. */
    if (seg->time_index.file.writable && seg->max_timestamp >= 0)
        (void)st_time_index_maybe_append(&seg->time_index, seg->max_timestamp, seg->offset_of_max_timestamp, true);
    if (st_index_file_trim(&seg->offset_index.file) || st_index_file_trim(&seg->time_index.file))
        return ST_ERR_IO;
    return 0;
}

int st_segment_touch_indexes(st_segment_t *seg) {
    if (st_index_file_touch(&seg->offset_index.file) || st_index_file_touch(&seg->time_index.file)) return ST_ERR_IO;
    return 0;
}

typedef struct tail_walk {
    int64_t last_position; /* of the last batch seen, -1 before the first */
    st_batch_header_t last;
} tail_walk_t;

static int remember_batch(void *ctx, const st_batch_header_t *h, int64_t position) {
    tail_walk_t *walk = ctx;
    walk->last_position = position;
    walk->last = *h;
    return 0;
}

int st_segment_recheck_tail(st_segment_t *seg) {
    struct stat st;
    if (fstat(seg->fd, &st) != 0) return ST_ERR_IO;
    if (st.st_size < seg->size_bytes) return ST_ERR_CORRUPT;
    if (st.st_size > seg->size_bytes && ftruncate(seg->fd, (off_t)seg->size_bytes) != 0) return ST_ERR_IO;
    if (seg->size_bytes == 0) return seg->next_offset == seg->base_offset ? 0 : ST_ERR_CORRUPT;
    /* The walk starts at the last indexed batch: at most an index interval
     * (and one batch) of headers to read. */
    int64_t start = 0;
    int32_t entries = st_offset_index_entries(&seg->offset_index);
    if (entries > 0) {
        int64_t offset;
        st_offset_index_entry(&seg->offset_index, entries - 1, &offset, &start);
    }
    tail_walk_t walk = {.last_position = -1};
    int rc = st_segment_scan_headers(seg, start, remember_batch, &walk);
    if (rc < 0) return rc;
    if (walk.last_position < 0 || walk.last_position + st_batch_total_bytes(&walk.last) != seg->size_bytes ||
        st_batch_last_offset(&walk.last) != seg->next_offset - 1)
        return ST_ERR_CORRUPT;
    uint8_t *chunk = malloc(SEGMENT_CRC_CHUNK_BYTES);
    if (!chunk) return ST_ERR_NO_MEMORY;
    bool ok = false;
    rc = batch_crc_matches(seg, walk.last_position, &walk.last, chunk, &ok);
    free(chunk);
    if (rc) return rc;
    return ok ? 0 : ST_ERR_CORRUPT;
}

static int64_t record_timestamp(const st_batch_header_t *h, const st_record_t *r) {
    if (h->attributes & ST_BATCH_ATTR_LOG_APPEND_TIME) return h->max_timestamp;
    return h->base_timestamp + r->timestamp_delta;
}

/* Reads the batch at `position` into a malloc()ed buffer. */
static int read_batch(const st_segment_t *seg, int64_t position, const st_batch_header_t *h, uint8_t **out) {
    size_t total = (size_t)st_batch_total_bytes(h);
    uint8_t *buf = malloc(total);
    if (!buf) return ST_ERR_NO_MEMORY;
    size_t got;
    if (st_fs_pread_full(seg->fd, buf, total, position, &got) || got < total) {
        free(buf);
        return ST_ERR_IO;
    }
    *out = buf;
    return 0;
}

/* First record of the batch at `position` with timestamp >= target (or ==
 * target when exact) and offset >= min_offset. */
static int search_batch(const st_segment_t *seg, int64_t position, const st_batch_header_t *h, int64_t target,
                        bool exact, int64_t min_offset, size_t decompressed_bytes_max, int64_t *offset,
                        int64_t *timestamp) {
    uint8_t *batch;
    int rc = read_batch(seg, position, h, &batch);
    if (rc) return rc;
    st_arena_t arena;
    st_arena_init(&arena);
    st_record_iter_t it;
    rc = st_record_iter_init(&it, batch, (size_t)st_batch_total_bytes(h), decompressed_bytes_max, &arena);
    if (rc == 0) {
        rc = ST_ERR_NOT_FOUND;
        st_record_t r;
        int more;
        while ((more = st_record_iter_next(&it, &r)) == 1) {
            int64_t ts = record_timestamp(h, &r);
            int64_t off = h->base_offset + r.offset_delta;
            if (off >= min_offset && (exact ? ts == target : ts >= target)) {
                *offset = off;
                *timestamp = ts;
                rc = 0;
                break;
            }
        }
        if (more < 0) rc = ST_ERR_CORRUPT;
    } else {
        rc = ST_ERR_CORRUPT;
    }
    st_arena_free(&arena);
    free(batch);
    return rc;
}

int st_segment_find_timestamp(const st_segment_t *seg, int64_t target, int64_t min_offset,
                              size_t decompressed_bytes_max, int64_t *offset, int64_t *timestamp) {
    int64_t from_offset = st_time_index_lookup(&seg->time_index, target);
    if (from_offset < min_offset) from_offset = min_offset;
    int64_t position = 0;
    st_batch_header_t h;
    int rc = st_segment_find_batch(seg, from_offset, &position, &h);
    header_scanner_t *sc = malloc(sizeof *sc);
    if (!sc) return ST_ERR_NO_MEMORY;
    scanner_init(sc, seg, position);
    while (rc == 0) {
        int got = scanner_peek(sc, &h);
        if (got <= 0) {
            rc = got == 0 ? ST_ERR_NOT_FOUND : got;
            break;
        }
        if (h.max_timestamp >= target && st_batch_last_offset(&h) >= min_offset) {
            rc = search_batch(seg, sc->position, &h, target, false, min_offset, decompressed_bytes_max, offset,
                              timestamp);
            if (rc != ST_ERR_NOT_FOUND) break;
            rc = 0;
        }
        sc->position += st_batch_total_bytes(&h);
    }
    free(sc);
    return rc;
}

int st_segment_max_timestamp_record(const st_segment_t *seg, size_t decompressed_bytes_max, int64_t *offset,
                                    int64_t *timestamp) {
    if (seg->max_timestamp < 0) return ST_ERR_NOT_FOUND;
    int64_t position;
    st_batch_header_t h;
    int rc = st_segment_find_batch(seg, seg->offset_of_max_timestamp, &position, &h);
    if (rc) return rc;
    rc = search_batch(seg, position, &h, seg->max_timestamp, true, 0, decompressed_bytes_max, offset, timestamp);
    if (rc == ST_ERR_NOT_FOUND) {
        /* The header's maxTimestamp is all we have (e.g. records disagree). */
        *offset = st_batch_last_offset(&h);
        *timestamp = seg->max_timestamp;
        rc = 0;
    }
    return rc;
}

int st_segment_truncate_to(st_segment_t *seg, int64_t offset, int32_t index_interval_bytes,
                           int32_t index_bytes_max) {
    int64_t position;
    st_batch_header_t h;
    int rc = st_segment_find_batch(seg, offset, &position, &h);
    if (rc == ST_ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    if (ftruncate(seg->fd, (off_t)position) != 0) return ST_ERR_IO;
    if (st_txn_index_truncate_to(&seg->txn_index, offset)) return ST_ERR_IO;
    st_segment_recovery_t rec;
    return st_segment_recover(seg, index_interval_bytes, index_bytes_max, INT64_MAX, NULL, NULL, &rec);
}

int64_t st_segment_largest_timestamp(const st_segment_t *seg) {
    if (seg->max_timestamp >= 0) return seg->max_timestamp;
    struct stat st;
    if (fstat(seg->fd, &st) != 0) return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

int st_segment_flush(st_segment_t *seg) {
    if (fsync(seg->fd) != 0) return ST_ERR_IO;
    if (st_index_file_flush(&seg->offset_index.file) || st_index_file_flush(&seg->time_index.file) ||
        st_txn_index_flush(&seg->txn_index))
        return ST_ERR_IO;
    return 0;
}

st_file_ref_t *st_segment_share_fd(st_segment_t *seg) {
    if (!seg->fd_ref) seg->fd_ref = st_file_ref_adopt(seg->fd);
    return seg->fd_ref ? st_file_ref_acquire(seg->fd_ref) : NULL;
}

void st_segment_close(st_segment_t *seg) {
    if (!seg) return;
    st_offset_index_close(&seg->offset_index);
    st_time_index_close(&seg->time_index);
    st_txn_index_free(&seg->txn_index);
    if (seg->fd_ref)
        st_file_ref_release(seg->fd_ref);
    else if (seg->fd >= 0)
        close(seg->fd);
    free(seg);
}

int st_segment_delete(st_segment_t *seg) {
    int rc = 0;
    char path[ST_FS_PATH_MAX];
    /* The .log goes first: index files left by a crash are orphans that
     * the next open removes. */
    static const char *const suffixes[] = {".log", ".index", ".timeindex", ST_TXN_INDEX_SUFFIX};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (st_segment_path(path, seg->dir, seg->base_offset, suffixes[i]) || st_fs_unlink(path)) rc = ST_ERR_IO;
    }
    st_segment_close(seg);
    return rc;
}

void st_segment_reader_init(st_segment_reader_t *r, const st_segment_t *seg, int64_t position) {
    r->seg = seg;
    r->position = position;
    r->buf = NULL;
    r->cap = 0;
}

int st_segment_reader_next(st_segment_reader_t *r, const uint8_t **batch, size_t *len, st_batch_header_t *h) {
    if (r->position >= r->seg->size_bytes) return 0;
    int rc = st_segment_read_header(r->seg, r->position, h);
    if (rc) return rc;
    size_t total = (size_t)st_batch_total_bytes(h);
    if (total > r->cap) {
        uint8_t *nb = realloc(r->buf, total);
        if (!nb) return ST_ERR_NO_MEMORY;
        r->buf = nb;
        r->cap = total;
    }
    size_t got;
    if (st_fs_pread_full(r->seg->fd, r->buf, total, r->position, &got)) return ST_ERR_IO;
    if (got < total) return ST_ERR_CORRUPT;
    r->position += (int64_t)total;
    *batch = r->buf;
    *len = total;
    return 1;
}

void st_segment_reader_free(st_segment_reader_t *r) {
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

int st_segment_scan_headers(const st_segment_t *seg, int64_t position,
                            int (*fn)(void *ctx, const st_batch_header_t *h, int64_t position), void *ctx) {
    header_scanner_t *sc = malloc(sizeof *sc);
    if (!sc) return ST_ERR_NO_MEMORY;
    scanner_init(sc, seg, position);
    int rc;
    for (;;) {
        st_batch_header_t h;
        rc = scanner_peek(sc, &h);
        if (rc <= 0) break;
        rc = fn(ctx, &h, sc->position);
        if (rc) break;
        sc->position += st_batch_total_bytes(&h);
    }
    free(sc);
    return rc;
}
