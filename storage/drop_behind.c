#include "storage/drop_behind.h"

#include <fcntl.h>

/* Below the minimum a step costs more in system calls than it saves; the
 * maximum bounds how long one sync_file_range holds up the event loop while
 * it queues the step's writeback (16 MiB steps took 0.6 ms each under
 * strace here). */
#define DROP_BEHIND_STEP_MIN (64 * 1024)
#define DROP_BEHIND_STEP_MAX (8 * 1024 * 1024)
/* Steps written between starting a step's writeback and dropping it: time
 * for the writeback to finish (the disk writes one step while the producer
 * writes this many; pages still dirty then would stay cached). */
#define DROP_BEHIND_LAG_STEPS 4
#define PAGE_ALIGN_DOWN(x) ((x) & ~(int64_t)4095)

void st_drop_behind_init(st_drop_behind_t *d, int64_t file_bytes) {
    d->writeback_from = PAGE_ALIGN_DOWN(file_bytes);
    d->drop_from = d->writeback_from;
}

void st_drop_behind_after_write(st_drop_behind_t *d, int fd, int64_t file_bytes, int64_t keep_bytes) {
    if (keep_bytes < 0) return;
    int64_t step = PAGE_ALIGN_DOWN(keep_bytes / 4);
    if (step < DROP_BEHIND_STEP_MIN) step = DROP_BEHIND_STEP_MIN;
    if (step > DROP_BEHIND_STEP_MAX) step = DROP_BEHIND_STEP_MAX;
    while (file_bytes - (d->writeback_from + step) >= keep_bytes) {
        (void)sync_file_range(fd, d->writeback_from, step, SYNC_FILE_RANGE_WRITE);
        d->writeback_from += step;
    }
    /* Dropped DROP_BEHIND_LAG_STEPS steps after its writeback was started. */
    while (d->writeback_from - d->drop_from >= (DROP_BEHIND_LAG_STEPS + 1) * step) {
        (void)posix_fadvise(fd, d->drop_from, step, POSIX_FADV_DONTNEED);
        d->drop_from += step;
    }
}
