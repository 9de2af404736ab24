/*
 * Every limit of the metadata quorum's Raft core (raft/quorum.h), in one
 * place. The core allocates once, at st_raft_create, from these maxima and
 * the configured epoch cache size; a step never allocates.
 */
#ifndef ST_RAFT_QUORUM_LIMITS_H
#define ST_RAFT_QUORUM_LIMITS_H

/* Voters in controller.quorum.voters. Kafka runs 3 or 5; 9 leaves room and
 * keeps the per-voter bit masks in one 32-bit word. */
#define ST_RAFT_VOTERS_MAX 9

/* Observers (brokers fetching the metadata log) the leader remembers for
 * DescribeQuorum. At the limit the one that fetched least recently is
 * forgotten (its parked fetch is answered first). */
#define ST_RAFT_OBSERVERS_MAX 64

/* (epoch, start offset) entries of the epoch cache: the default and the
 * largest configurable value. One entry per leader epoch that still has
 * records in the log; a snapshot that moves the log start frees the
 * entries below it. */
#define ST_RAFT_EPOCH_CACHE_DEFAULT 4096
#define ST_RAFT_EPOCH_CACHE_MIN 4
#define ST_RAFT_EPOCH_CACHE_MAX 65536

/* Record batches of one Fetch response the core takes; the caller passes
 * at most this many descriptors and the rest are fetched again. */
#define ST_RAFT_FETCH_BATCHES_MAX 256

/* Records in one proposed batch (Kafka's own per-batch bound is the batch
 * size; this only keeps offsets far from overflow). */
#define ST_RAFT_PROPOSE_RECORDS_MAX (1 << 20)

/* Replicas the leader tracks: every voter and the remembered observers. */
#define ST_RAFT_REPLICAS_MAX (ST_RAFT_VOTERS_MAX + ST_RAFT_OBSERVERS_MAX)

/* Actions one step can emit. The worst steps: a leader's tick that answers
 * every parked fetch and re-sends BeginQuorumEpoch to every voter, or an
 * append that wakes every parked fetch and commits. Each of those is at most
 * one action per replica and one per voter, plus a fixed few (persist,
 * state change, append, truncate, committed). */
#define ST_RAFT_ACTIONS_FIXED 16
#define ST_RAFT_ACTIONS_MAX (ST_RAFT_ACTIONS_FIXED + 2 * ST_RAFT_REPLICAS_MAX + 2 * ST_RAFT_VOTERS_MAX)

/* The largest epoch a node accepts: one below INT32_MAX, so that a
 * candidate can always take epoch + 1. A peer naming a larger one is
 * answered INVALID_REQUEST (it would otherwise end elections for good). */
#define ST_RAFT_EPOCH_MAX 2147483646

/* Milliseconds: the timeouts must leave the randomised election timeout
 * (election_timeout_ms .. 2 * election_timeout_ms) room below INT32_MAX. */
#define ST_RAFT_TIMEOUT_MS_MAX (1 << 28)

_Static_assert(ST_RAFT_VOTERS_MAX >= 1 && ST_RAFT_VOTERS_MAX <= 32, "voter sets are 32-bit masks");
_Static_assert(ST_RAFT_OBSERVERS_MAX >= 1, "the leader must remember at least one observer");
_Static_assert(ST_RAFT_EPOCH_CACHE_MIN <= ST_RAFT_EPOCH_CACHE_DEFAULT &&
               ST_RAFT_EPOCH_CACHE_DEFAULT <= ST_RAFT_EPOCH_CACHE_MAX, "epoch cache bounds");
_Static_assert(ST_RAFT_ACTIONS_MAX >= ST_RAFT_ACTIONS_FIXED + 2 * ST_RAFT_REPLICAS_MAX + 2 * ST_RAFT_VOTERS_MAX,
               "a step must be able to answer every replica and every voter");
_Static_assert((long long)ST_RAFT_TIMEOUT_MS_MAX * 2 < 2147483647LL, "randomised timeouts fit int32");

#endif
