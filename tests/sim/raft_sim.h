/*
 * A deterministic simulation of a KRaft quorum (raft/quorum.h), in the
 * manner of Kafka's RaftEventSimulationTest: one seeded PRNG drives N
 * voters (and maybe an observer) over a simulated network that drops,
 * delays, reorders and duplicates messages and partitions the nodes (both
 * ways, or one way only), and a simulated disk, fast or slow to sync, that
 * loses what was not yet synced when a node crashes.
 * After every step it checks:
 *   - at most one leader per epoch;
 *   - a node's epoch never goes back, its high watermark never goes back
 *     (across restarts: it starts again from what it persisted);
 *   - every committed entry is durable on a majority of voters (log or
 *     snapshot);
 *   - no committed entry ever changes: a global oracle of the committed log
 *     that every node's committed entries, snapshots and truncations are
 *     compared with;
 *   - once the faults stop, a leader is elected and an entry proposed after
 *     that commits within liveness_ms.
 * The same options give the same run, event for event.
 */
#ifndef ST_TESTS_RAFT_SIM_H
#define ST_TESTS_RAFT_SIM_H

#include <stdbool.h>
#include <stdint.h>

/* Deliberately broken disks, to show the checker catches what they cause. */
typedef enum sim_disk_fault {
    SIM_DISK_OK = 0,
    SIM_DISK_FORGETS_VOTES,  /* quorum-state keeps the epoch, loses the vote */
    SIM_DISK_LOSES_FLUSHED,  /* a crash also loses log entries reported as flushed */
} sim_disk_fault_t;

typedef struct sim_options {
    uint64_t seed;
    int32_t voters;       /* 1..ST_RAFT_VOTERS_MAX */
    int32_t observers;    /* 0..2 */
    int64_t duration_ms;  /* simulated */
    int64_t quiet_ms;     /* the last part of the run has no faults */
    int64_t liveness_ms;  /* after the faults stop: a leader and a new commit within this */
    sim_disk_fault_t disk_fault;
    bool verbose;         /* print every event */
} sim_options_t;

void sim_options_default(sim_options_t *o);

typedef struct sim_stats {
    int64_t steps;
    int64_t messages;
    int64_t dropped;
    int64_t elections;     /* BECAME_LEADER */
    int64_t crashes;
    int64_t partitions;
    int64_t committed;     /* entries in the committed oracle */
    int64_t snapshots;     /* taken */
    int64_t snapshot_loads;
    int64_t truncations;
    int32_t max_epoch;
    int64_t recovery_ms;   /* faults stopped -> new entry committed (-1: not yet) */
} sim_stats_t;

typedef struct sim sim_t;

sim_t *sim_create(const sim_options_t *o);
void sim_destroy(sim_t *s);
/* Runs one event and the checks. False when the run is over: the end was
 * reached, or a check failed (sim_failure says which). */
bool sim_step(sim_t *s);
/* Runs to the end, then the final checks. True when every check held. */
bool sim_run(sim_t *s);
const char *sim_failure(const sim_t *s); /* NULL while every check holds */
void sim_stats(const sim_t *s, sim_stats_t *out);
int64_t sim_now_ms(const sim_t *s);

/* The checks that scan everything (sim_step runs them now and then, and
 * sim_run at the end). */
bool sim_check_all(sim_t *s);

/* For the checker's own tests: changes one committed entry of a node's
 * log in place (a bit flip on disk that recovery did not catch). Returns
 * false when no node has a committed entry in its log yet. */
bool sim_corrupt_committed_entry(sim_t *s);

#endif
