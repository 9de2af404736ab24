/*
 * The `quorum-state` file, in Kafka's format (FileQuorumStateStore): one
 * line of JSON holding QuorumStateData plus "data_version".
 *
 *   version 0 (kraft.version 0, static voters, what Strata writes):
 *     {"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,
 *      "appliedOffset":0,"currentVoters":[{"voterId":1},...],"data_version":0}
 *   version 1 (KIP-853, read for when dynamic voters come):
 *     {"leaderId":-1,"leaderEpoch":2,"votedId":1,
 *      "votedDirectoryId":"J8aAPcfLQt2bqs1JT_rMgQ","data_version":1}
 *
 * Pure: encode and decode bytes. The caller writes `quorum-state.tmp`,
 * fsyncs it and renames it over `quorum-state` (then fsyncs the directory),
 * as Kafka does, before acting on a PERSIST_STATE action's successors.
 */
#ifndef ST_RAFT_QUORUM_STATE_H
#define ST_RAFT_QUORUM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "raft/quorum.h"

#define ST_QUORUM_STATE_FILE "quorum-state"
/* Large enough for version 0 with ST_RAFT_VOTERS_MAX voters. */
#define ST_QUORUM_STATE_BYTES_MAX 1024

/* Writes version 0 with the static voters and a trailing newline into
 * buf. Returns the length written, or ST_ERR_LIMIT if cap is too small. */
int st_quorum_state_encode(const st_raft_quorum_state_t *state, const int32_t *voters, int32_t voter_count,
                           char *buf, size_t cap);

typedef struct st_quorum_state_file {
    st_raft_quorum_state_t state;
    int16_t data_version;
    int32_t voters[ST_RAFT_VOTERS_MAX]; /* version 0's currentVoters */
    int32_t voter_count;                /* -1: not in the file (version 1, or null) */
} st_quorum_state_file_t;

/* Parses a file's bytes. Returns 0, or ST_ERR_CORRUPT when it is not
 * Kafka's quorum-state (bad JSON, no data_version, an unknown version,
 * fields of the wrong type or range). */
int st_quorum_state_decode(const char *text, size_t len, st_quorum_state_file_t *out);

#endif
