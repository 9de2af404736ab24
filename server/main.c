/*
 * strata-server <server.properties> [--override key=value ...]
 * strata-server --version
 *
 * Starts one node: locks and (on first start) formats the data dir, replays
 * the metadata log, opens the partitions (recovering their tails) and serves
 * the Kafka protocol until SIGTERM or SIGINT, then flushes and closes every
 * segment and exits 0. Like kafka-server-start.sh it needs a config file:
 * without one it prints its usage and exits 2; a start that fails exits 1
 * (2 for a config file that does not load) after one line saying why.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "server/node.h"
#include "strata_version.h"

static void usage(FILE *out) {
    fprintf(out, "usage: strata-server <server.properties> [--override key=value ...]\n"
                 "       strata-server --version\n");
}

static void on_signal(st_loop_t *loop, int fd, uint32_t events, void *ctx) {
    (void)events;
    st_broker_t *b = ctx;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        ST_INFO("received signal %u: shutting down", si.ssi_signo);
        b->stopping = true;
        st_loop_stop(loop);
    }
}

int main(int argc, char **argv) {
    const char *path = NULL;
    char **overrides = calloc((size_t)argc, sizeof *overrides);
    int override_count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--override") == 0 && i + 1 < argc) {
            overrides[override_count++] = argv[++i];
        } else if (strncmp(argv[i], "--override=", 11) == 0) {
            overrides[override_count++] = argv[i] + 11;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            free(overrides);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("strata-server %s\n", STRATA_VERSION);
            free(overrides);
            return 0;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            usage(stderr);
            free(overrides);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        free(overrides);
        return 2;
    }
    int64_t started_ms = st_monotonic_ms();
    /* Request arenas of a megabyte come and go with every produce: keep
     * freed memory in the heap for the next request instead of returning
     * it to the kernel and faulting it in again each time. */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    char err[512] = "";
    st_config_t *config = NULL;
    if (st_config_load(&config, path, override_count, overrides, err, sizeof err) != 0) {
        ST_ERROR("configuration: %s", err);
        free(overrides);
        return 2;
    }
    for (int32_t i = 0; i < st_config_unused_count(config); i++) {
        const char *name, *value;
        st_config_unused(config, i, &name, &value);
        ST_WARN("the configuration %s = %s was supplied but isn't a known config", name, value);
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    static st_broker_t broker;
    /* The reason for a failure is logged where it is found: one line. */
    int rc = st_broker_start(&broker, config);
    if (rc != 0) {
        close(sfd);
        st_config_free(config);
        free(overrides);
        return 1;
    }
    ST_INFO("started in %lld ms", (long long)(st_monotonic_ms() - started_ms));
    st_loop_watch(broker.loop, sfd, ST_EVENT_READABLE, on_signal, &broker);
    st_loop_run(broker.loop);
    st_loop_unwatch(broker.loop, sfd);
    close(sfd);
    st_broker_stop(&broker);
    st_config_free(config);
    free(overrides);
    ST_INFO("shut down cleanly");
    return 0;
}
