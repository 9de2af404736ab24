/*
 * Private to tools/cmd_groups.c and tools/groups_*.c, the pieces of
 * `strata consumer-groups` (see cmd_groups.c for the command):
 *   groups_common.c  options, errors in Java's words, coordinators, topics,
 *                    group descriptions and committed offsets
 *   groups_view.c    --list and --describe (offsets, members, state)
 *   groups_reset.c   --reset-offsets
 *   cmd_groups.c     --delete, --delete-offsets and the entry point
 */
#ifndef ST_TOOLS_GROUPS_INTERNAL_H
#define ST_TOOLS_GROUPS_INTERNAL_H

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tools/client.h"

#define GROUPS_COLUMN_MIN 15          /* Java's minimum width of name columns */
#define GROUPS_RETRY_SLEEP_US 100000  /* between retries of coordinator errors */
/* Returned once a message is printed (usage or error): nothing to add. */
#define GROUPS_REPORTED (-2000)
_Static_assert(GROUPS_REPORTED < ST_ERR_INTERNAL_BASE, "must not collide with an st_err_t");
#define CONSUMER_PROTOCOL_VERSION_MAX 3 /* ConsumerProtocolAssignment versions we decode */
#define MISSING "-"

typedef enum reset_scenario {
    RESET_NONE,
    RESET_TO_EARLIEST,
    RESET_TO_LATEST,
    RESET_TO_CURRENT,
    RESET_TO_OFFSET,
    RESET_SHIFT_BY,
    RESET_TO_DATETIME,
    RESET_BY_DURATION,
} reset_scenario_t;

typedef struct groups_options {
    const char *bootstrap;
    bool list, describe, delete, reset_offsets, delete_offsets;
    const char **groups; /* --group values, argc-sized */
    int32_t group_count;
    bool all_groups;
    const char **topics; /* --topic values, argc-sized */
    int32_t topic_count;
    bool all_topics;
    bool members, verbose, offsets, state;
    const char *state_value; /* --list --state VALUE; NULL: no filter */
    reset_scenario_t scenario;
    int32_t scenario_count;
    int64_t scenario_value;    /* --to-offset / --shift-by */
    const char *scenario_text; /* --to-datetime / --by-duration */
    bool dry_run, execute;
    bool json;
    int timeout_ms;
} groups_options_t;

typedef struct topic_partition {
    const char *topic;
    int32_t partition;
} topic_partition_t;

typedef struct member {
    const char *member_id;
    const char *instance_id; /* NULL when none */
    const char *client_id;
    const char *host;
    topic_partition_t *assignment; /* sorted by topic, partition */
    int32_t assignment_count;
} member_t;

typedef struct group {
    const char *group_id;
    const char *state;         /* "Stable", "Empty", "Dead", ... */
    const char *protocol_type; /* "consumer", "" */
    const char *protocol;      /* the assignor, e.g. "range" */
    member_t *members;
    int32_t member_count;
} group_t;

typedef struct committed {
    topic_partition_t tp;
    int64_t offset;
} committed_t;

typedef struct coordinator {
    const char *group;
    int32_t node_id;
    char host[256];
    int32_t port;
    bool known;
} coordinator_t;

/* One command run. Everything decoded lives in `arena` until the end: the
 * CLI runs one command and exits, so a command-long arena is the simple
 * owner. */
typedef struct groups_ctx {
    const groups_options_t *o;
    st_cluster_t cluster;
    st_arena_t arena;
    coordinator_t *coordinators;
    int32_t coordinator_count, coordinator_cap;
    json_t *json; /* the output array with --output json */
    bool failed;  /* an error was printed: exit status 1 */
    char error[ST_CLIENT_ERROR_BYTES];
} groups_ctx_t;


typedef struct topic_meta {
    const char *name;
    int16_t error;
    int32_t partition_count;
    int32_t *leaders; /* by partition index; -1: no leader */
} topic_meta_t;

typedef struct topic_table {
    topic_meta_t *topics;
    int32_t count;
} topic_table_t;

/* Kafka's listConsumerGroups: ListGroups to every broker, keeping groups of
 * the consumer protocol (or none: offsets committed without a member).
 * `states` (canonical names) filters at v4+ (KIP-518). */
typedef struct listed_group {
    const char *group_id;
    const char *state; /* NULL before ListGroups v4 */
} listed_group_t;

typedef int (*response_error_fn)(const void *response);

const committed_t *groups_committed_find(const committed_t *c, int32_t count, const topic_partition_t *tp);
int groups_coordinator_call(groups_ctx_t *x, const char *group, int16_t api_key, const void *request,
                            void *response, response_error_fn error_of);
coordinator_t *groups_coordinator_get(groups_ctx_t *x, const char *group);
int groups_ctx_fail(groups_ctx_t *x, int rc, const char *fmt, ...);
int groups_describe_group(groups_ctx_t *x, const char *group_id, group_t *g);
int groups_fetch_committed(groups_ctx_t *x, const char *group_id, committed_t **out, int32_t *out_count);
int groups_find_coordinators(groups_ctx_t *x, const char *const *groups, int32_t count);
int groups_describe(groups_ctx_t *x);
int groups_list(groups_ctx_t *x);
int groups_reset_offsets(groups_ctx_t *x);
void groups_usage(FILE *out);
const char *groups_java_error_message(int code);
void groups_java_exception_text(char *buf, size_t cap, int code);
void groups_json_emit(groups_ctx_t *x);
json_t *groups_json_str_or_null(const char *s);
int groups_list_groups(groups_ctx_t *x, const char *const *states, int32_t state_count, listed_group_t **out,
                       int32_t *out_count);
int groups_list_offsets(groups_ctx_t *x, const topic_partition_t *tps, int32_t count, int64_t timestamp,
                        int64_t *offsets, bool *known);
int groups_load_topics(groups_ctx_t *x, const char *const *names, int32_t name_count, topic_table_t *out);
int32_t groups_partition_leader(const topic_table_t *table, const topic_partition_t *tp);
void groups_print_error(groups_ctx_t *x, const char *fmt, ...);
int groups_selected_groups(groups_ctx_t *x, const char ***out, int32_t *out_count);
bool groups_should_print_member_state(groups_ctx_t *x, const group_t *g, int32_t rows);
const char *groups_str_dup(st_arena_t *a, st_str_t s);
int groups_string_cmp(const void *a, const void *b);
int groups_tp_cmp(const void *a, const void *b);
int groups_usage_error(const char *fmt, ...);
int64_t groups_wall_clock_ms(void);
int groups_width_max(int width, const char *s);

#endif
