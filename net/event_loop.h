/*
 * A small epoll event loop that knows nothing of Kafka (Redis ae.c style):
 * file descriptors with read/write callbacks, one-shot timers kept in a
 * min-heap of caller-owned st_timer_t, and a before-sleep hook where
 * batched work (group commit, flushing responses) runs once per iteration.
 */
#ifndef ST_SERVER_EVENT_LOOP_H
#define ST_SERVER_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define ST_EVENT_READABLE 1u
#define ST_EVENT_WRITABLE 2u

typedef struct st_loop st_loop_t;
typedef void (*st_io_fn)(st_loop_t *loop, int fd, uint32_t events, void *ctx);
typedef void (*st_timer_fn)(st_loop_t *loop, void *ctx);
typedef void (*st_hook_fn)(st_loop_t *loop, void *ctx);

/* A timer lives inside the object it belongs to; zero-initialised it is
 * inactive. */
typedef struct st_timer {
    int64_t due_ms;
    int32_t heap_index; /* -1 or 0 when inactive (see st_timer_active) */
    bool active;
    st_timer_fn fn;
    void *ctx;
} st_timer_t;

st_loop_t *st_loop_new(void);
void st_loop_free(st_loop_t *loop);
/* Sets the events watched on fd (0 removes it). Returns 0 or -errno. */
int st_loop_watch(st_loop_t *loop, int fd, uint32_t events, st_io_fn fn, void *ctx);
void st_loop_unwatch(st_loop_t *loop, int fd);
void st_timer_start(st_loop_t *loop, st_timer_t *t, int64_t delay_ms, st_timer_fn fn, void *ctx);
void st_timer_stop(st_loop_t *loop, st_timer_t *t);
static inline bool st_timer_active(const st_timer_t *t) { return t->active; }
void st_loop_set_before_sleep(st_loop_t *loop, st_hook_fn fn, void *ctx);
/* Monotonic milliseconds, refreshed once per loop iteration. */
int64_t st_loop_now_ms(const st_loop_t *loop);
/* Monotonic microseconds at which this iteration's events began to be
 * handled: work spread over iterations measures its share from here. */
int64_t st_loop_turn_started_us(const st_loop_t *loop);
/* The next wait for events returns at once: work is pending that should go
 * on after the events already due have had their turn. */
void st_loop_skip_sleep(st_loop_t *loop);
/* Wall-clock milliseconds since the epoch (timestamps, retention). */
int64_t st_wall_ms(void);
int64_t st_monotonic_ms(void);
int64_t st_monotonic_us(void);
/* Runs until st_loop_stop. */
void st_loop_run(st_loop_t *loop);
void st_loop_stop(st_loop_t *loop);

#endif
