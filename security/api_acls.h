/*
 * What each Kafka API checks before it acts: the operation, on which
 * resource, what a denial gives the client, and when the check applies.
 * Transcribed from Kafka 3.9's KafkaApis, ControllerApis and AuthHelper,
 * for the wiring step (dispatch and handlers) to apply and for
 * docs/security.md to print. One row per API key Kafka 3.9 serves; a test
 * holds it to every API protocol/defs defines, so a new API cannot be
 * served without a decision about its ACLs.
 *
 * Kafka 3.x facts worth knowing when reading it:
 *  - Produce never checks IDEMPOTENT_WRITE (KIP-679 removed it in 3.0);
 *    InitProducerId without a transactional id wants IDEMPOTENT_WRITE on
 *    the cluster OR WRITE on any topic (st_authorizer_authorize_by_resource_type).
 *  - Metadata never discloses a topic the caller may not DESCRIBE: asked
 *    for by name it answers TOPIC_AUTHORIZATION_FAILED, in an all-topics
 *    request it leaves it out; auto-creation wants CREATE on the cluster
 *    or on the topic.
 *  - A group check fails the whole request (GROUP_AUTHORIZATION_FAILED in
 *    every entry), a topic check only the partitions of that topic; the
 *    rest of the request proceeds.
 */
#ifndef ST_SECURITY_API_ACLS_H
#define ST_SECURITY_API_ACLS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum st_acl_check_scope {
    /* Denied: the whole request (or the whole group, for batched groups)
     * answers the error code. */
    ST_ACL_CHECK_REQUEST,
    /* Checked per named resource: denied ones get the error code, the
     * others go on. */
    ST_ACL_CHECK_EACH,
    /* Resources the caller may not see are left out of the answer. */
    ST_ACL_CHECK_FILTER,
    /* Passing it stands in for the check on the next row (Metadata's and
     * CreateTopics' CREATE on the cluster instead of on each topic,
     * ListGroups' DESCRIBE on the cluster instead of each group). */
    ST_ACL_CHECK_INSTEAD_OF_NEXT,
    /* An alternative to the previous row: either one passing is enough
     * (InitProducerId's WRITE on any topic). */
    ST_ACL_CHECK_OR_PREVIOUS,
} st_acl_check_scope_t;

typedef struct st_api_acl_check {
    int8_t operation;     /* st_acl_operation_t */
    int8_t resource_type; /* st_acl_resource_type_t */
    st_acl_check_scope_t scope;
    int16_t error_code; /* what a denial answers; 0 for FILTER */
    const char *when;   /* NULL: always; else the condition in words */
} st_api_acl_check_t;

#define ST_API_ACL_CHECKS_MAX 4

typedef struct st_api_acls {
    int16_t api_key;
    const char *name;
    int check_count; /* 0: no ACL check (ApiVersions, SASL, telemetry) */
    st_api_acl_check_t checks[ST_API_ACL_CHECKS_MAX];
    const char *note; /* what the table cannot say in a row; NULL if nothing */
} st_api_acls_t;

extern const st_api_acls_t st_api_acls[];
extern const int st_api_acls_count;
/* NULL for a key the table does not know. */
const st_api_acls_t *st_api_acls_find(int16_t api_key);

#endif
