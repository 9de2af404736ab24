/*
 * raft_sim: runs the quorum simulation (tests/sim/raft_sim.h) for many
 * seeds. A failing seed prints the one command that replays it.
 *
 *   raft_sim --seeds 10000 --seconds 300              CI size (both 3 and 5 voters)
 *   raft_sim --seeds 200000 --seconds 1000            a long run
 *   raft_sim --seed 12345 --nodes 5 --seconds 300 -v  replay one seed, every event
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft_sim.h"

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [--seed S | --first-seed S --seeds N] [--nodes 3|5|0 (0: alternate)] [--observers K]\n"
            "          [--seconds D] [--quiet-seconds Q] [--liveness-seconds L] [--disk-fault forget-votes|lose-flushed]\n"
            "          [--expect-failure] [-v]\n",
            argv0);
    exit(2);
}

static const char *disk_fault_name(sim_disk_fault_t f) {
    return f == SIM_DISK_FORGETS_VOTES ? "forget-votes" : f == SIM_DISK_LOSES_FLUSHED ? "lose-flushed" : NULL;
}

int main(int argc, char **argv) {
    uint64_t first = 1, seeds = 100;
    int nodes = 0, observers = -1;
    double seconds = 300, quiet = 30, liveness = 20;
    sim_disk_fault_t fault = SIM_DISK_OK;
    bool verbose = false, expect_failure = false, single = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = true;
        else if (!strcmp(a, "--expect-failure")) expect_failure = true;
        else if (!v) usage(argv[0]);
        else if (!strcmp(a, "--seed")) first = strtoull(v, NULL, 10), seeds = 1, single = true, i++;
        else if (!strcmp(a, "--first-seed")) first = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--seeds")) seeds = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--nodes")) nodes = atoi(v), i++;
        else if (!strcmp(a, "--observers")) observers = atoi(v), i++;
        else if (!strcmp(a, "--seconds")) seconds = atof(v), i++;
        else if (!strcmp(a, "--quiet-seconds")) quiet = atof(v), i++;
        else if (!strcmp(a, "--liveness-seconds")) liveness = atof(v), i++;
        else if (!strcmp(a, "--disk-fault")) {
            fault = !strcmp(v, "forget-votes") ? SIM_DISK_FORGETS_VOTES
                    : !strcmp(v, "lose-flushed") ? SIM_DISK_LOSES_FLUSHED
                                                 : (usage(argv[0]), SIM_DISK_OK);
            i++;
        } else usage(argv[0]);
    }
    if (nodes < 0 || nodes > 9 || seconds <= quiet || quiet < 0) usage(argv[0]);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t failed = 0, first_failed = 0;
    sim_stats_t total;
    memset(&total, 0, sizeof total);
    int64_t recovery_max = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++) {
        sim_options_t o;
        sim_options_default(&o);
        o.seed = seed;
        o.voters = nodes ? nodes : (seed % 2 ? 3 : 5);
        o.observers = observers >= 0 ? observers : (seed % 4 == 0 ? 1 : 0);
        o.duration_ms = (int64_t)(seconds * 1000);
        o.quiet_ms = (int64_t)(quiet * 1000);
        o.liveness_ms = (int64_t)(liveness * 1000);
        o.disk_fault = fault;
        o.verbose = verbose;
        sim_t *s = sim_create(&o);
        bool ok = sim_run(s);
        sim_stats_t st;
        sim_stats(s, &st);
        total.steps += st.steps;
        total.messages += st.messages;
        total.elections += st.elections;
        total.crashes += st.crashes;
        total.partitions += st.partitions;
        total.committed += st.committed;
        total.snapshots += st.snapshots;
        total.snapshot_loads += st.snapshot_loads;
        total.truncations += st.truncations;
        if (st.recovery_ms > recovery_max) recovery_max = st.recovery_ms;
        if (!ok) {
            if (!failed) first_failed = seed;
            failed++;
            if (!expect_failure || single || verbose) {
                printf("FAIL seed %" PRIu64 ": %s\n", seed, sim_failure(s));
                printf("  replay: %s --seed %" PRIu64 " --nodes %d --observers %d --seconds %g --quiet-seconds %g"
                       " --liveness-seconds %g%s%s\n",
                       argv[0], seed, o.voters, o.observers, seconds, quiet, liveness,
                       fault ? " --disk-fault " : "", fault ? disk_fault_name(fault) : "");
            }
        }
        sim_destroy(s);
        if (expect_failure && failed) break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t ran = expect_failure && failed ? first_failed - first + 1 : seeds;
    printf("raft_sim: %" PRIu64 " seeds x %g simulated s (%g s of them quiet), nodes %s: %" PRIu64 " passed, %" PRIu64
           " failed in %.1f s wall\n",
           ran, seconds, quiet, nodes ? (nodes == 3 ? "3" : nodes == 5 ? "5" : "n") : "3/5", ran - failed, failed,
           wall);
    printf("  steps %" PRId64 ", messages %" PRId64 ", leaders elected %" PRId64 ", crashes %" PRId64
           ", partitions %" PRId64 ", entries committed %" PRId64 ", snapshots %" PRId64 " taken / %" PRId64
           " fetched, truncations %" PRId64 ", slowest recovery after faults %" PRId64 " ms\n",
           total.steps, total.messages, total.elections, total.crashes, total.partitions, total.committed,
           total.snapshots, total.snapshot_loads, total.truncations, recovery_max);
    if (expect_failure) {
        if (!failed) {
            printf("raft_sim: expected the checker to fail (disk fault %s), it never did\n",
                   fault ? disk_fault_name(fault) : "none");
            return 1;
        }
        printf("raft_sim: the checker caught the broken disk at seed %" PRIu64 "\n", first_failed);
        return 0;
    }
    return failed ? 1 : 0;
}
