/*
 * The classic group coordinator: consumer groups (any protocol type),
 * their members, rebalances and committed offsets, persisted in the
 * compacted internal topic __consumer_offsets in Kafka's own record format
 * (OffsetCommitKey v1 / OffsetCommitValue v3, GroupMetadataKey v2 /
 * GroupMetadataValue v3), so tools that read that topic decode it.
 *
 * Group states (Kafka's classic state machine):
 *
 *            join (first member)                      all members joined /
 *   EMPTY ---------------------> PREPARING_REBALANCE --- rebalance timeout ---+
 *     ^                              ^      ^                                 |
 *     | last member leaves /         |      | join, leave, session expiry     v
 *     | expires                      |      +------------------------ COMPLETING_REBALANCE
 *     |                              |                                        |
 *     +------------------------------+---- join/leave/expiry ---- STABLE <----+
 *                                                                 leader's SyncGroup
 *   DEAD: deleted (DeleteGroups, or offsets expired while empty).
 *
 * Invariants:
 *  1. Only members of the current generation are in `members`; a join or
 *     sync request that waits is parked on its member until the state moves.
 *  2. An offset commit is acknowledged only after its records are in the
 *     __consumer_offsets log; loading that log at start restores offsets and
 *     group metadata exactly.
 */
#ifndef ST_COORDINATOR_GROUP_H
#define ST_COORDINATOR_GROUP_H

#include "broker/broker.h"

typedef struct st_groups st_groups_t;

st_groups_t *st_groups_new(st_broker_t *b);
void st_groups_free(st_groups_t *g);
/* Reads __consumer_offsets (if it exists) and rebuilds groups and offsets. */
int st_groups_load(st_groups_t *g);
/* Expires offsets of empty groups past offsets.retention.minutes. */
void st_groups_housekeeping(st_groups_t *g, int64_t now_ms);

/* Creates __consumer_offsets if it does not exist yet (Kafka creates it on
 * the first FindCoordinator for a group). 0, or COORDINATOR_NOT_AVAILABLE. */
int st_groups_prepare(st_groups_t *g);

/* Kafka's partition for a group: abs(String.hashCode) % partitions. */
int32_t st_group_partition_for(const char *group_id, int32_t partitions);

/* Read-only views for metrics and the HTTP lag endpoint. */
typedef struct st_group_view {
    const char *group_id;
    const char *state;         /* "Empty", "Stable", ... */
    const char *protocol_type;
    int32_t member_count;
    int32_t generation;
} st_group_view_t;
typedef struct st_group_offset_view {
    const char *topic;
    int32_t partition;
    int64_t offset;
} st_group_offset_view_t;
int32_t st_groups_count(const st_groups_t *g);
/* Calls fn for every group; fn returns non-zero to stop. */
void st_groups_each(const st_groups_t *g, int (*fn)(void *ctx, const st_group_view_t *group), void *ctx);
/* Calls fn for every committed offset of `group_id`; 0, or ST_ERR_NOT_FOUND
 * when the group is unknown. */
int st_groups_each_offset(const st_groups_t *g, const char *group_id,
                          int (*fn)(void *ctx, const st_group_offset_view_t *offset), void *ctx);
bool st_groups_view(const st_groups_t *g, const char *group_id, st_group_view_t *out);

int st_handle_join_group(st_broker_t *b, st_request_t *req);
int st_handle_sync_group(st_broker_t *b, st_request_t *req);
int st_handle_heartbeat(st_broker_t *b, st_request_t *req);
int st_handle_leave_group(st_broker_t *b, st_request_t *req);
int st_handle_offset_commit(st_broker_t *b, st_request_t *req);
int st_handle_offset_fetch(st_broker_t *b, st_request_t *req);
int st_handle_describe_groups(st_broker_t *b, st_request_t *req);
int st_handle_list_groups(st_broker_t *b, st_request_t *req);
int st_handle_delete_groups(st_broker_t *b, st_request_t *req);
int st_handle_offset_delete(st_broker_t *b, st_request_t *req);

#endif
