/*
 * Private to coordinator/group/: the classic group coordinator split by
 * concern (group.h is the contract, with the state diagram and invariants):
 *   group_state.c     the groups, members and offsets in memory and the
 *                     rebalance state machine (join, sync, timers)
 *   group_store.c     persistence in __consumer_offsets: the records Kafka
 *                     writes, appended through the partition's internal
 *                     append path, and loading them at start; expiry
 *   group_handlers.c  the group APIs, decoding requests and answering them
 * Nothing outside coordinator/group/ includes this header.
 *
 * Ownership: st_groups_t owns every group_t; a group owns its members,
 * offsets and pending ids; strings are heap copies freed with their owner.
 */
#ifndef ST_COORDINATOR_GROUP_INTERNAL_H
#define ST_COORDINATOR_GROUP_INTERNAL_H

#include "coordinator/group/group.h"
#include "protocol/record_batch.h"

#define GROUP_BUCKETS 4096
#define OFFSET_COMMIT_KEY_VERSION 1
#define OFFSET_COMMIT_VALUE_VERSION 3
#define GROUP_METADATA_KEY_VERSION 2
#define GROUP_METADATA_VALUE_VERSION 3
#define OFFSET_METADATA_MAX_BYTES 4096

typedef enum group_state {
    GROUP_EMPTY,
    GROUP_PREPARING_REBALANCE,
    GROUP_COMPLETING_REBALANCE,
    GROUP_STABLE,
    GROUP_DEAD,
} group_state_t;

/* Kafka's names for the states, indexed by group_state_t. */
extern const char *const group_state_names[];

typedef struct group group_t;

typedef struct protocol {
    char *name;
    uint8_t *metadata;
    int32_t metadata_len;
} protocol_t;

typedef struct member {
    group_t *group;
    char *member_id;
    char *instance_id; /* NULL: dynamic member */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    protocol_t *protocols;
    int32_t protocol_count;
    uint8_t *assignment;
    int32_t assignment_len;
    st_request_t *join_req;
    st_request_t *sync_req;
    bool joined; /* rejoined in the current rebalance */
    st_timer_t session_timer;
    struct member *next;
} member_t;

typedef struct committed {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata; /* bytes, NUL-terminated for logs only: may hold NULs */
    int32_t metadata_len;
    int64_t commit_ms;
} committed_t;

struct group {
    st_groups_t *owner;
    char *id;
    group_state_t state;
    char *protocol_type;
    char *protocol_name;
    int32_t generation;
    char *leader_id;
    member_t *members;
    int32_t member_count;
    char **pending_ids; /* ids handed out with MEMBER_ID_REQUIRED */
    int32_t pending_count;
    committed_t *offsets;
    int32_t offset_count;
    int32_t offset_cap;
    bool initial_delay;
    int64_t rebalance_deadline_ms;
    st_timer_t rebalance_timer;
    int64_t state_since_ms;
    int64_t empty_since_ms;
    group_t *next;
};

struct st_groups {
    st_broker_t *b;
    group_t *buckets[GROUP_BUCKETS];
    int32_t count;
    /* Writes the group's metadata record (group_store); set at creation. */
    int (*persist_group)(group_t *gr);
};


/* Records of one change to a group, appended to its __consumer_offsets
 * partition as one batch (all or nothing). Keys and values are encoded into
 * the scratch writers, then copied into the batch. */
typedef struct record_set {
    st_batch_builder_t batch;
    st_writer_t key;
    st_writer_t value;
    int32_t count;
    int64_t now_ms;
} group_records_t;

/* ---- group_state.c ------------------------------------------------------ */

char *group_dup_str(st_str_t s);
char *group_dup_c(const char *s);
uint8_t *group_dup_bytes(const uint8_t *p, int32_t len);
bool group_str_eq(const char *a, const char *b);
group_t *group_find(st_groups_t *g, const char *id);
group_t *group_create(st_groups_t *g, const char *id);
member_t *group_member_find(group_t *gr, const char *member_id);
member_t *group_member_by_instance(group_t *gr, const char *instance_id);
const protocol_t *group_member_protocol(const member_t *m, const char *name);
/* Kafka's isStaticMemberFenced: `instance_id` is held by another member
 * id (a newer instance joined with it); the caller is FENCED_INSTANCE_ID. */
bool group_static_member_fenced(group_t *gr, const char *instance_id, const char *member_id);
void group_set_state(group_t *gr, group_state_t s);
committed_t *group_offset_find(group_t *gr, const char *topic, int32_t partition);
/* Records a committed offset; `metadata` is copied with its length (null: empty, as Kafka stores it). */
void group_offset_put(group_t *gr, const char *topic, int32_t partition, int64_t offset, int32_t leader_epoch,
                      st_str_t metadata, int64_t commit_ms);
void group_offset_remove(group_t *gr, const char *topic, int32_t partition);
void group_member_touch(member_t *m);
void group_respond_join_error(st_request_t *req, int16_t error, const char *member_id);
void group_respond_sync(st_request_t *req, int16_t error, const group_t *gr, const member_t *m);
void group_member_remove(group_t *gr, member_t *m);
void group_after_members_left(group_t *gr, const char *reason);
void group_maybe_complete_join(group_t *gr);
void group_on_rebalance_timeout(st_loop_t *loop, void *ctx);
void group_prepare_rebalance(group_t *gr, const char *reason);
bool group_protocols_equal(const member_t *m, const st_join_group_request_t *rq);
void group_member_set_protocols(member_t *m, const st_join_group_request_t *rq);
void group_respond_join_current(st_request_t *req, group_t *gr, member_t *m);
char *group_new_member_id(const char *client_id);
bool group_pending_take(group_t *gr, const char *id);
void group_pending_add(group_t *gr, const char *id);
bool group_accepts_joining_member(const group_t *gr, const member_t *m, int32_t max_size);
void group_refuse_joining_member(st_request_t *req, group_t *gr, member_t *m, const char *member_id, int32_t max_size);
void group_destroy(st_groups_t *g, group_t *gr);

/* ---- group_store.c ------------------------------------------------------ */

st_partition_t *group_offsets_partition(st_groups_t *g, const char *group_id, bool create);
void group_records_init(group_records_t *rs);
void group_records_free(group_records_t *rs);
void group_records_add(group_records_t *rs, bool tombstone);
int group_records_append(st_groups_t *g, const char *group_id, group_records_t *rs);
void group_encode_offset_key(st_writer_t *w, const char *group, const char *topic, int32_t partition);
void group_encode_offset_value(st_writer_t *w, const committed_t *c);
int group_store(group_t *gr);
int group_write_tombstones(st_groups_t *g, group_t *gr);

#endif
