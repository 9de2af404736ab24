/*
 * Private to controller/handle_*.c, the admin API handlers split by concern:
 *   handle_topics.c    CreateTopics, DeleteTopics, CreatePartitions
 *   handle_configs.c   DescribeConfigs, AlterConfigs, IncrementalAlterConfigs
 *   handle_describe.c  DescribeCluster, DescribeLogDirs, DescribeProducers
 *   admin_internal.c   the helpers below
 * controller/admin.h is the contract. Nothing outside controller/ includes
 * this header.
 *
 * Ownership: every string and array these helpers return lives in the
 * request arena (req->arena) and is freed with it when the response is sent.
 */
#ifndef ST_CONTROLLER_ADMIN_INTERNAL_H
#define ST_CONTROLLER_ADMIN_INTERNAL_H

#include <stdint.h>

#include "broker/broker.h"

/* Longest error message an admin answer builds (longer ones are cut). */
#define ADMIN_MSG_MAX 512

/* A formatted message copied into the request arena. */
st_str_t admin_arena_printf(st_request_t *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `s` copied into the request arena; the null string for NULL. */
st_str_t admin_arena_str(st_request_t *req, const char *s);

/* A decoded string as a C string; NULL for null. */
static inline const char *admin_cstr(st_str_t s) { return s.len < 0 ? NULL : s.ptr; }

/* dup[i] = 1 for every entry whose name occurs more than once, 2 for every
 * such entry but the first (which carries the one answer Kafka gives per
 * duplicated name). NULL names never count. The array is in the arena. */
uint8_t *admin_find_duplicate_names(st_request_t *req, const char *const *names, int32_t n);

#endif
