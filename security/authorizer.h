/*
 * ACLs with the semantics of Kafka's StandardAuthorizer (KIP-801), pure:
 * no I/O, no clock, no locks (one event loop owns it). The controller's
 * apply step feeds it AccessControlEntryRecord / RemoveAccessControlEntryRecord
 * (st_authorizer_add / st_authorizer_remove, by the record's id); the
 * broker's handlers ask st_authorizer_authorize with the operation
 * security/api_acls.h names for their API.
 *
 * Rules (Kafka's StandardAuthorizerData.authorize):
 *  1. A principal in super.users is allowed everything.
 *  2. The ACLs that apply to a resource are those of its resource type
 *     whose pattern is LITERAL with the resource's name, LITERAL "*", or
 *     PREFIXED with a prefix of the name.
 *  3. Of those, the ones whose principal is the caller's or "User:*", whose
 *     host is the caller's address or "*", and whose operation is the one
 *     asked, or ALL, or (ALLOW only) one that implies it: READ, WRITE,
 *     DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies
 *     DESCRIBE_CONFIGS. A DENY for READ does not deny DESCRIBE.
 *  4. Any matching DENY: denied. Else any matching ALLOW: allowed. Else, if
 *     no ACL applies to the resource at all (rule 2, any principal):
 *     allow.everyone.if.no.acl.found decides. Else denied.
 *
 * Index: every ACL sits in one array sorted by (resource type, resource
 * name DESCENDING, pattern type, operation, principal, host, permission),
 * Kafka's StandardAcl order. Starting at the resource's own name and
 * walking forward visits its exact name, then ever shorter names; a name
 * that is not a prefix sends the walk by binary search straight to the
 * longest common prefix. A lookup costs O(log n) per prefix length jumped
 * plus the ACLs it matches, never a scan of unrelated ACLs. Adds and
 * removes are batched: they take O(1) each and the next lookup merges them
 * into the array in O(n + k log k) (replaying a metadata log of n ACLs
 * costs O(n log n) once, not O(n^2)).
 *
 * Invariants:
 *  1. Every stored ACL is valid (st_acl_binding_validate) and has a unique
 *     id; the id map and the sorted array hold the same ACLs once merged.
 *  2. Before any lookup returns, the array is sorted and holds no removed
 *     entry (merge_pending runs first).
 *  3. The authorizer owns copies of every string it stores; callers' buffers
 *     may be freed after st_authorizer_add returns.
 */
#ifndef ST_SECURITY_AUTHORIZER_H
#define ST_SECURITY_AUTHORIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/codec.h"

/* Kafka's wire codes (org.apache.kafka.common.resource.ResourceType,
 * PatternType, org.apache.kafka.common.acl.AclOperation, AclPermissionType). */
typedef enum st_acl_resource_type {
    ST_ACL_RESOURCE_UNKNOWN = 0,
    ST_ACL_RESOURCE_ANY = 1,
    ST_ACL_RESOURCE_TOPIC = 2,
    ST_ACL_RESOURCE_GROUP = 3,
    ST_ACL_RESOURCE_CLUSTER = 4,
    ST_ACL_RESOURCE_TRANSACTIONAL_ID = 5,
    ST_ACL_RESOURCE_DELEGATION_TOKEN = 6,
    ST_ACL_RESOURCE_USER = 7,
} st_acl_resource_type_t;

typedef enum st_acl_pattern_type {
    ST_ACL_PATTERN_UNKNOWN = 0,
    ST_ACL_PATTERN_ANY = 1,   /* filters only */
    ST_ACL_PATTERN_MATCH = 2, /* filters only: whatever would apply to the name */
    ST_ACL_PATTERN_LITERAL = 3,
    ST_ACL_PATTERN_PREFIXED = 4,
} st_acl_pattern_type_t;

typedef enum st_acl_operation {
    ST_ACL_OP_UNKNOWN = 0,
    ST_ACL_OP_ANY = 1, /* filters only */
    ST_ACL_OP_ALL = 2,
    ST_ACL_OP_READ = 3,
    ST_ACL_OP_WRITE = 4,
    ST_ACL_OP_CREATE = 5,
    ST_ACL_OP_DELETE = 6,
    ST_ACL_OP_ALTER = 7,
    ST_ACL_OP_DESCRIBE = 8,
    ST_ACL_OP_CLUSTER_ACTION = 9,
    ST_ACL_OP_DESCRIBE_CONFIGS = 10,
    ST_ACL_OP_ALTER_CONFIGS = 11,
    ST_ACL_OP_IDEMPOTENT_WRITE = 12,
    ST_ACL_OP_CREATE_TOKENS = 13,
    ST_ACL_OP_DESCRIBE_TOKENS = 14,
} st_acl_operation_t;

typedef enum st_acl_permission {
    ST_ACL_PERMISSION_UNKNOWN = 0,
    ST_ACL_PERMISSION_ANY = 1, /* filters only */
    ST_ACL_PERMISSION_DENY = 2,
    ST_ACL_PERMISSION_ALLOW = 3,
} st_acl_permission_t;

/* Kafka's cluster resource name (the only valid CLUSTER ACL name). */
#define ST_ACL_CLUSTER_NAME "kafka-cluster"
#define ST_ACL_WILDCARD "*"
#define ST_ACL_WILDCARD_PRINCIPAL "User:*"

/* "TOPIC", "Read", ...: Kafka's names, for logs and tools (the CLI prints
 * operations and permissions the way kafka-acls.sh does). */
const char *st_acl_resource_type_name(int8_t type);
const char *st_acl_pattern_type_name(int8_t type);
const char *st_acl_operation_name(int8_t operation);
const char *st_acl_permission_name(int8_t permission);

/* One ACL: a resource pattern and an access control entry. Strings are
 * borrowed from the caller. */
typedef struct st_acl_binding {
    int8_t resource_type;
    st_str_t resource_name;
    int8_t pattern_type;
    st_str_t principal; /* "User:alice", "User:*" */
    st_str_t host;      /* an address or "*" */
    int8_t operation;
    int8_t permission;
} st_acl_binding_t;

/* Kafka's validation of a new ACL (AclControlManager.validateNewAcl, and
 * AclApis' CLUSTER name check): 0, or INVALID_REQUEST with Kafka's message
 * in *message. */
int st_acl_binding_validate(const st_acl_binding_t *b, const char **message);

/* Kafka's AclBindingFilter. A null string matches any value; ANY matches
 * any type, operation or permission; pattern MATCH with a name matches
 * the ACLs that would apply to a resource of that name (LITERAL equal or
 * "*", PREFIXED a prefix of it). */
typedef struct st_acl_filter {
    int8_t resource_type;
    st_str_t resource_name;
    int8_t pattern_type;
    st_str_t principal;
    st_str_t host;
    int8_t operation;
    int8_t permission;
} st_acl_filter_t;

/* A filter that matches every ACL. */
st_acl_filter_t st_acl_filter_any(void);
bool st_acl_filter_matches(const st_acl_filter_t *f, const st_acl_binding_t *b);
/* Kafka's checks on DescribeAcls/DeleteAcls filters: 0, or INVALID_REQUEST
 * with a message for UNKNOWN codes. */
int st_acl_filter_validate(const st_acl_filter_t *f, const char **message);

typedef enum st_authz_result {
    ST_AUTHZ_DENIED = 0,
    ST_AUTHZ_ALLOWED = 1,
} st_authz_result_t;

typedef struct st_authorizer st_authorizer_t;

/* An empty authorizer: no super users, allow.everyone.if.no.acl.found
 * false. Caller frees with st_authorizer_free. NULL when out of memory. */
st_authorizer_t *st_authorizer_new(void);
void st_authorizer_free(st_authorizer_t *a);
/* super.users ("User:alice;User:bob", spaces around entries ignored) and
 * allow.everyone.if.no.acl.found; replaces the previous configuration. 0
 * or ST_ERR_NO_MEMORY / INVALID_REQUEST (an entry without a colon). */
int st_authorizer_configure(st_authorizer_t *a, const char *super_users, bool allow_if_no_acl);

/* Adds an ACL with the record's id (copied). 0, INVALID_REQUEST for an
 * invalid binding, DUPLICATE_RESOURCE for an id in use, ST_ERR_NO_MEMORY. */
int st_authorizer_add(st_authorizer_t *a, const st_uuid_t *id, const st_acl_binding_t *b);
/* Removes the ACL with this id: 0 or RESOURCE_NOT_FOUND. */
int st_authorizer_remove(st_authorizer_t *a, const st_uuid_t *id);
size_t st_authorizer_count(const st_authorizer_t *a);

/* The decision for `principal` ("User:alice") from `host` (the client's
 * address as st_acl_format_host writes it) doing `operation` on a
 * resource. `operation` is a concrete one (not ANY or ALL). */
st_authz_result_t st_authorizer_authorize(st_authorizer_t *a, const char *principal, const char *host,
                                          int8_t operation, int8_t resource_type, st_str_t resource_name);
/* Allowed `operation` on at least one resource of `resource_type` (KIP-679:
 * an idempotent producer may InitProducerId with WRITE on any topic);
 * Kafka's Authorizer.authorizeByResourceType. */
st_authz_result_t st_authorizer_authorize_by_resource_type(st_authorizer_t *a, const char *principal,
                                                           const char *host, int8_t operation, int8_t resource_type);
/* KIP-430: the operations allowed on a resource as Kafka's 32-bit field
 * (bit 1 << code), over the operations Kafka supports for its type. */
int32_t st_authorizer_authorized_operations(st_authorizer_t *a, const char *principal, const char *host,
                                            int8_t resource_type, st_str_t resource_name);

/* Calls visit for every ACL the filter matches, in index order; returns
 * how many. DescribeAcls lists them; DeleteAcls turns each id into a
 * RemoveAccessControlEntryRecord. visit must not change the authorizer. */
typedef void (*st_acl_visit_fn)(void *ctx, const st_uuid_t *id, const st_acl_binding_t *b);
size_t st_authorizer_find(st_authorizer_t *a, const st_acl_filter_t *f, st_acl_visit_fn visit, void *ctx);

/* The client address as Kafka's ACL hosts spell it (Java's
 * InetAddress.getHostAddress: dotted quad, or eight uncompressed
 * lower-case hex groups for IPv6; an IPv4-mapped IPv6 address as its
 * IPv4 address, as Java does): family 4 with 4 bytes or 6 with 16.
 * buf needs ST_ACL_HOST_BYTES. */
#define ST_ACL_HOST_BYTES 40
void st_acl_format_host(int family, const uint8_t *addr, char buf[ST_ACL_HOST_BYTES]);

#endif
