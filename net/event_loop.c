#include "net/event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_EVENTS_PER_WAIT 256

typedef struct watch {
    st_io_fn fn;
    void *ctx;
    uint32_t events;
} watch_t;

struct st_loop {
    int epoll_fd;
    bool stopping;
    bool skip_sleep;
    int64_t now_ms;
    int64_t turn_started_us;
    watch_t *watches; /* indexed by fd */
    int watch_cap;
    st_timer_t **heap;
    int32_t heap_len;
    int32_t heap_cap;
    st_hook_fn before_sleep;
    void *before_sleep_ctx;
};

int64_t st_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t st_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

st_loop_t *st_loop_new(void) {
    st_loop_t *loop = calloc(1, sizeof *loop);
    if (!loop) return NULL;
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epoll_fd < 0) {
        free(loop);
        return NULL;
    }
    loop->now_ms = st_monotonic_ms();
    return loop;
}

void st_loop_free(st_loop_t *loop) {
    if (!loop) return;
    close(loop->epoll_fd);
    free(loop->watches);
    free(loop->heap);
    free(loop);
}

int st_loop_watch(st_loop_t *loop, int fd, uint32_t events, st_io_fn fn, void *ctx) {
    if (fd >= loop->watch_cap) {
        int cap = loop->watch_cap ? loop->watch_cap : 64;
        while (cap <= fd) cap *= 2;
        watch_t *w = realloc(loop->watches, (size_t)cap * sizeof *w);
        if (!w) return -ENOMEM;
        memset(w + loop->watch_cap, 0, (size_t)(cap - loop->watch_cap) * sizeof *w);
        loop->watches = w;
        loop->watch_cap = cap;
    }
    watch_t *w = &loop->watches[fd];
    if (events == 0) {
        st_loop_unwatch(loop, fd);
        return 0;
    }
    struct epoll_event ev = {0};
    ev.events = ((events & ST_EVENT_READABLE) ? EPOLLIN : 0) | ((events & ST_EVENT_WRITABLE) ? EPOLLOUT : 0);
    ev.data.fd = fd;
    int op = w->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (w->events != events && epoll_ctl(loop->epoll_fd, op, fd, &ev) < 0) return -errno;
    w->events = events;
    w->fn = fn;
    w->ctx = ctx;
    return 0;
}

void st_loop_unwatch(st_loop_t *loop, int fd) {
    if (fd < 0 || fd >= loop->watch_cap || !loop->watches[fd].events) return;
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    memset(&loop->watches[fd], 0, sizeof loop->watches[fd]);
}

static bool timer_before(const st_timer_t *a, const st_timer_t *b) { return a->due_ms < b->due_ms; }

static void heap_set(st_loop_t *loop, int32_t i, st_timer_t *t) {
    loop->heap[i] = t;
    t->heap_index = i;
}

static void heap_up(st_loop_t *loop, int32_t i) {
    st_timer_t *t = loop->heap[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!timer_before(t, loop->heap[parent])) break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(st_loop_t *loop, int32_t i) {
    st_timer_t *t = loop->heap[i];
    for (;;) {
        int32_t child = 2 * i + 1;
        if (child >= loop->heap_len) break;
        if (child + 1 < loop->heap_len && timer_before(loop->heap[child + 1], loop->heap[child])) child++;
        if (!timer_before(loop->heap[child], t)) break;
        heap_set(loop, i, loop->heap[child]);
        i = child;
    }
    heap_set(loop, i, t);
}

void st_timer_stop(st_loop_t *loop, st_timer_t *t) {
    if (!t->active) return;
    int32_t i = t->heap_index;
    t->active = false;
    loop->heap_len--;
    if (i != loop->heap_len) {
        st_timer_t *moved = loop->heap[loop->heap_len];
        heap_set(loop, i, moved);
        heap_up(loop, i);
        heap_down(loop, moved->heap_index);
    }
}

void st_timer_start(st_loop_t *loop, st_timer_t *t, int64_t delay_ms, st_timer_fn fn, void *ctx) {
    st_timer_stop(loop, t);
    if (loop->heap_len == loop->heap_cap) {
        int32_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        st_timer_t **h = realloc(loop->heap, (size_t)cap * sizeof *h);
        if (!h) abort();
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->due_ms = st_monotonic_ms() + (delay_ms > 0 ? delay_ms : 0);
    t->fn = fn;
    t->ctx = ctx;
    t->active = true;
    heap_set(loop, loop->heap_len, t);
    loop->heap_len++;
    heap_up(loop, loop->heap_len - 1);
}

void st_loop_set_before_sleep(st_loop_t *loop, st_hook_fn fn, void *ctx) {
    loop->before_sleep = fn;
    loop->before_sleep_ctx = ctx;
}

int64_t st_loop_now_ms(const st_loop_t *loop) { return loop->now_ms; }

int64_t st_loop_turn_started_us(const st_loop_t *loop) { return loop->turn_started_us; }

void st_loop_skip_sleep(st_loop_t *loop) { loop->skip_sleep = true; }

int64_t st_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void st_loop_stop(st_loop_t *loop) { loop->stopping = true; }

static void run_due_timers(st_loop_t *loop) {
    loop->now_ms = st_monotonic_ms();
    while (loop->heap_len > 0 && loop->heap[0]->due_ms <= loop->now_ms) {
        st_timer_t *t = loop->heap[0];
        st_timer_stop(loop, t);
        t->fn(loop, t->ctx);
    }
}

void st_loop_run(st_loop_t *loop) {
    struct epoll_event events[LOOP_EVENTS_PER_WAIT];
    while (!loop->stopping) {
        if (loop->before_sleep) loop->before_sleep(loop, loop->before_sleep_ctx);
        int timeout = -1;
        if (loop->heap_len > 0) {
            int64_t wait = loop->heap[0]->due_ms - st_monotonic_ms();
            timeout = wait < 0 ? 0 : (wait > 60000 ? 60000 : (int)wait);
        }
        if (loop->skip_sleep) timeout = 0;
        loop->skip_sleep = false;
        int n = epoll_wait(loop->epoll_fd, events, LOOP_EVENTS_PER_WAIT, timeout);
        loop->turn_started_us = st_monotonic_us();
        loop->now_ms = loop->turn_started_us / 1000;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd >= loop->watch_cap) continue;
            watch_t w = loop->watches[fd];
            if (!w.events) continue; /* unwatched by an earlier callback */
            uint32_t ev = 0;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ev |= ST_EVENT_READABLE;
            if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ev |= ST_EVENT_WRITABLE;
            ev &= w.events | ((events[i].events & (EPOLLHUP | EPOLLERR)) ? ST_EVENT_READABLE : 0);
            if (ev) w.fn(loop, fd, ev, w.ctx);
        }
        run_due_timers(loop);
    }
}
