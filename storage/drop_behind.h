/*
 * Drop-behind for a file written front to back (a segment's .log): bytes
 * more than `keep_bytes` behind the end are written back and dropped from
 * the page cache, so that new writes reuse those pages instead of taking
 * fresh ones.
 *
 * Why: what a producer streams into a partition is read again only by
 * consumers that lag; left to the kernel, every new page of it is a page
 * taken from free memory. On a VM whose host takes free guest memory back
 * (free page reporting, as on the machines here), the first touch of such a
 * page costs a host fault: writing 1.2 GB into a new file took 1.65-1.87 s
 * of CPU, and 0.21-0.24 s with drop-behind (docs/performance.md).
 *
 * The newest keep_bytes are left to the kernel, as Kafka leaves all of
 * them: a burst shorter than that costs nothing extra. Beyond, the file is
 * handled in steps (a quarter of keep_bytes, at most 8 MiB): a step's
 * writeback is started (sync_file_range, not waited for) once it lies
 * keep_bytes behind the end, and the step is dropped (POSIX_FADV_DONTNEED)
 * four steps later, when its writeback has normally finished; pages still
 * dirty then are left to the kernel. Neither call changes what is durable:
 * data is in the page cache or on disk, and either survives a killed
 * process; the flush policy (fsync) is unchanged.
 */
#ifndef ST_STORAGE_DROP_BEHIND_H
#define ST_STORAGE_DROP_BEHIND_H

#include <stdint.h>

typedef struct st_drop_behind {
    int64_t writeback_from; /* bytes before this had their writeback started */
    int64_t drop_from;      /* bytes before this were dropped from the cache */
} st_drop_behind_t;

/* Starts with `file_bytes` already in the file, left as they are. */
void st_drop_behind_init(st_drop_behind_t *d, int64_t file_bytes);
/* Call after each write that grew the file to `file_bytes`; keep_bytes < 0
 * turns drop-behind off. Best effort: errors change nothing stored. */
void st_drop_behind_after_write(st_drop_behind_t *d, int fd, int64_t file_bytes, int64_t keep_bytes);

#endif
