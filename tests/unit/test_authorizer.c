/* The authorizer against Kafka's StandardAuthorizer rules: a matrix of
 * bindings and requests (LITERAL vs PREFIXED, the "*" literal, DENY over
 * ALLOW, wildcard principal and host, super users, the no-ACL rule,
 * implied operations), KIP-679's by-resource-type check, KIP-430's
 * operation bits, Kafka's filters for describe and delete, removal by id,
 * validation; and the sorted index checked against a brute-force reading
 * of the rules on thousands of random ACL sets and requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "security/authorizer.h"

static st_uuid_t uuid_of(uint32_t n) {
    st_uuid_t u = {{0}};
    memcpy(u.bytes, &n, sizeof n);
    u.bytes[15] = 0x5a;
    return u;
}

static uint32_t next_id = 1;

static void add(st_authorizer_t *a, int8_t type, const char *name, int8_t pattern, const char *principal,
                const char *host, int8_t op, int8_t permission) {
    st_acl_binding_t b = {type, st_str(name), pattern, st_str(principal), st_str(host), op, permission};
    st_uuid_t id = uuid_of(next_id++);
    assert_int_equal(st_authorizer_add(a, &id, &b), 0);
}

#define TOPIC ST_ACL_RESOURCE_TOPIC
#define GROUP ST_ACL_RESOURCE_GROUP
#define CLUSTER ST_ACL_RESOURCE_CLUSTER
#define TXN ST_ACL_RESOURCE_TRANSACTIONAL_ID
#define LIT ST_ACL_PATTERN_LITERAL
#define PRE ST_ACL_PATTERN_PREFIXED
#define ALLOW ST_ACL_PERMISSION_ALLOW
#define DENY ST_ACL_PERMISSION_DENY

static st_authz_result_t ask(st_authorizer_t *a, const char *principal, const char *host, int8_t op, int8_t type,
                             const char *name) {
    return st_authorizer_authorize(a, principal, host, op, type, st_str(name));
}

#define ALLOWED(...) assert_int_equal(ask(__VA_ARGS__), ST_AUTHZ_ALLOWED)
#define DENIED(...) assert_int_equal(ask(__VA_ARGS__), ST_AUTHZ_DENIED)

static void test_literal_prefixed_and_wildcard(void **state) {
    (void)state;
    st_authorizer_t *a = st_authorizer_new();
    add(a, TOPIC, "orders", LIT, "User:alice", "*", ST_ACL_OP_READ, ALLOW);
    add(a, TOPIC, "pay", PRE, "User:bob", "*", ST_ACL_OP_WRITE, ALLOW);
    add(a, TOPIC, "*", LIT, "User:carol", "*", ST_ACL_OP_DESCRIBE, ALLOW);
    /* LITERAL: only that name. */
    ALLOWED(a, "User:alice", "10.0.0.1", ST_ACL_OP_READ, TOPIC, "orders");
    DENIED(a, "User:alice", "10.0.0.1", ST_ACL_OP_READ, TOPIC, "orders2");
    DENIED(a, "User:alice", "10.0.0.1", ST_ACL_OP_READ, TOPIC, "order");
    DENIED(a, "User:alice", "10.0.0.1", ST_ACL_OP_WRITE, TOPIC, "orders");
    /* PREFIXED: every name that starts so, and the prefix itself. */
    ALLOWED(a, "User:bob", "h", ST_ACL_OP_WRITE, TOPIC, "pay");
    ALLOWED(a, "User:bob", "h", ST_ACL_OP_WRITE, TOPIC, "payments");
    ALLOWED(a, "User:bob", "h", ST_ACL_OP_WRITE, TOPIC, "pay.eu.2024");
    DENIED(a, "User:bob", "h", ST_ACL_OP_WRITE, TOPIC, "pa");
    DENIED(a, "User:bob", "h", ST_ACL_OP_WRITE, TOPIC, "xpayments");
    /* The "*" literal applies to every name of the type. */
    ALLOWED(a, "User:carol", "h", ST_ACL_OP_DESCRIBE, TOPIC, "orders");
    ALLOWED(a, "User:carol", "h", ST_ACL_OP_DESCRIBE, TOPIC, "anything");
    DENIED(a, "User:carol", "h", ST_ACL_OP_DESCRIBE, GROUP, "anything");
    /* Types are apart: a TOPIC ACL says nothing about a GROUP of that name. */
    DENIED(a, "User:alice", "h", ST_ACL_OP_READ, GROUP, "orders");
    /* A literal "pay*" is not a wildcard. */
    add(a, TOPIC, "pay*", LIT, "User:dan", "*", ST_ACL_OP_READ, ALLOW);
    DENIED(a, "User:dan", "h", ST_ACL_OP_READ, TOPIC, "payments");
    ALLOWED(a, "User:dan", "h", ST_ACL_OP_READ, TOPIC, "pay*");
    st_authorizer_free(a);
}

static void test_deny_wins(void **state) {
    (void)state;
    st_authorizer_t *a = st_authorizer_new();
    add(a, TOPIC, "orders", PRE, "User:alice", "*", ST_ACL_OP_ALL, ALLOW);
    add(a, TOPIC, "orders.secret", LIT, "User:alice", "*", ST_ACL_OP_READ, DENY);
    add(a, TOPIC, "orders.internal", PRE, "User:*", "*", ST_ACL_OP_WRITE, DENY);
    add(a, TOPIC, "*", LIT, "User:alice", "192.168.1.9", ST_ACL_OP_ALL, DENY);
    ALLOWED(a, "User:alice", "10.0.0.1", ST_ACL_OP_READ, TOPIC, "orders.public");
    DENIED(a, "User:alice", "10.0.0.1", ST_ACL_OP_READ, TOPIC, "orders.secret");
    /* The DENY is for READ only: WRITE is still allowed there. */
    ALLOWED(a, "User:alice", "10.0.0.1", ST_ACL_OP_WRITE, TOPIC, "orders.secret");
    /* A DENY for READ does not deny DESCRIBE (implication is for ALLOW only). */
    ALLOWED(a, "User:alice", "10.0.0.1", ST_ACL_OP_DESCRIBE, TOPIC, "orders.secret");
    DENIED(a, "User:alice", "10.0.0.1", ST_ACL_OP_WRITE, TOPIC, "orders.internal.x");
    ALLOWED(a, "User:alice", "10.0.0.1", ST_ACL_OP_READ, TOPIC, "orders.internal.x");
    /* A host-specific DENY of everything, through the wildcard resource. */
    DENIED(a, "User:alice", "192.168.1.9", ST_ACL_OP_READ, TOPIC, "orders.public");
    ALLOWED(a, "User:alice", "192.168.1.10", ST_ACL_OP_READ, TOPIC, "orders.public");
    st_authorizer_free(a);
}

static void test_principals_hosts_super_users(void **state) {
    (void)state;
    st_authorizer_t *a = st_authorizer_new();
    add(a, GROUP, "app", LIT, "User:*", "*", ST_ACL_OP_READ, ALLOW);
    add(a, GROUP, "ops", LIT, "User:eve", "10.1.1.1", ST_ACL_OP_READ, ALLOW);
    ALLOWED(a, "User:anyone", "1.2.3.4", ST_ACL_OP_READ, GROUP, "app");
    ALLOWED(a, "User:ANONYMOUS", "1.2.3.4", ST_ACL_OP_READ, GROUP, "app");
    /* Kafka's wildcard principal matches a principal of any type (its
     * matchingPrincipals always holds User:*). */
    ALLOWED(a, "Group:admins", "1.2.3.4", ST_ACL_OP_READ, GROUP, "app");
    ALLOWED(a, "User:eve", "10.1.1.1", ST_ACL_OP_READ, GROUP, "ops");
    DENIED(a, "User:eve", "10.1.1.2", ST_ACL_OP_READ, GROUP, "ops");
    DENIED(a, "User:mallory", "10.1.1.1", ST_ACL_OP_READ, GROUP, "ops");
    /* Principals compare exactly. */
    DENIED(a, "User:Eve", "10.1.1.1", ST_ACL_OP_READ, GROUP, "ops");

    add(a, TOPIC, "t", LIT, "User:root", "*", ST_ACL_OP_ALL, DENY);
    DENIED(a, "User:root", "h", ST_ACL_OP_READ, TOPIC, "t");
    assert_int_equal(st_authorizer_configure(a, " User:root ;User:admin;;", false), 0);
    /* Super users pass even a DENY, and where no ACL exists. */
    ALLOWED(a, "User:root", "h", ST_ACL_OP_READ, TOPIC, "t");
    ALLOWED(a, "User:admin", "h", ST_ACL_OP_ALTER, CLUSTER, ST_ACL_CLUSTER_NAME);
    DENIED(a, "User:nobody", "h", ST_ACL_OP_ALTER, CLUSTER, ST_ACL_CLUSTER_NAME);
    assert_int_equal(st_authorizer_configure(a, "root", false), ST_ERR_INVALID_REQUEST);
    /* A failed configure keeps the previous one. */
    ALLOWED(a, "User:root", "h", ST_ACL_OP_READ, TOPIC, "t");
    st_authorizer_free(a);
}

static void test_no_acl_found_rule(void **state) {
    (void)state;
    st_authorizer_t *a = st_authorizer_new();
    add(a, TOPIC, "guarded", LIT, "User:alice", "*", ST_ACL_OP_READ, ALLOW);
    add(a, TOPIC, "fenced", PRE, "User:alice", "*", ST_ACL_OP_READ, ALLOW);
    /* Default: nothing is allowed without an ACL. */
    DENIED(a, "User:bob", "h", ST_ACL_OP_READ, TOPIC, "open");
    assert_int_equal(st_authorizer_configure(a, "", true), 0);
    /* allow.everyone.if.no.acl.found: a resource without ACLs is open... */
    ALLOWED(a, "User:bob", "h", ST_ACL_OP_READ, TOPIC, "open");
    ALLOWED(a, "User:bob", "h", ST_ACL_OP_ALTER, CLUSTER, ST_ACL_CLUSTER_NAME);
    /* ...but one with any ACL, for anyone, is not. */
    DENIED(a, "User:bob", "h", ST_ACL_OP_READ, TOPIC, "guarded");
    DENIED(a, "User:bob", "h", ST_ACL_OP_READ, TOPIC, "fenced.x");
    /* Even for an operation no ACL names. */
    DENIED(a, "User:alice", "h", ST_ACL_OP_WRITE, TOPIC, "guarded");
    /* A prefix that is a LITERAL ACL's name does not count for a longer name. */
    ALLOWED(a, "User:bob", "h", ST_ACL_OP_READ, TOPIC, "guarded2");
    st_authorizer_free(a);
}

static void test_implied_operations(void **state) {
    (void)state;
    const int8_t implies_describe[] = {ST_ACL_OP_READ, ST_ACL_OP_WRITE, ST_ACL_OP_DELETE, ST_ACL_OP_ALTER,
                                       ST_ACL_OP_DESCRIBE};
    for (size_t i = 0; i < sizeof implies_describe; i++) {
        st_authorizer_t *a = st_authorizer_new();
        add(a, TOPIC, "t", LIT, "User:u", "*", implies_describe[i], ALLOW);
        ALLOWED(a, "User:u", "h", ST_ACL_OP_DESCRIBE, TOPIC, "t");
        DENIED(a, "User:u", "h", ST_ACL_OP_DESCRIBE_CONFIGS, TOPIC, "t");
        st_authorizer_free(a);
    }
    const int8_t no_describe[] = {ST_ACL_OP_CREATE, ST_ACL_OP_DESCRIBE_CONFIGS, ST_ACL_OP_ALTER_CONFIGS,
                                  ST_ACL_OP_CLUSTER_ACTION, ST_ACL_OP_IDEMPOTENT_WRITE};
    for (size_t i = 0; i < sizeof no_describe; i++) {
        st_authorizer_t *a = st_authorizer_new();
        add(a, TOPIC, "t", LIT, "User:u", "*", no_describe[i], ALLOW);
        DENIED(a, "User:u", "h", ST_ACL_OP_DESCRIBE, TOPIC, "t");
        st_authorizer_free(a);
    }
    st_authorizer_t *a = st_authorizer_new();
    add(a, TOPIC, "t", LIT, "User:u", "*", ST_ACL_OP_ALTER_CONFIGS, ALLOW);
    ALLOWED(a, "User:u", "h", ST_ACL_OP_DESCRIBE_CONFIGS, TOPIC, "t");
    ALLOWED(a, "User:u", "h", ST_ACL_OP_ALTER_CONFIGS, TOPIC, "t");
    DENIED(a, "User:u", "h", ST_ACL_OP_ALTER, TOPIC, "t");
    /* ALL allows every operation, and READ does not imply WRITE. */
    add(a, TOPIC, "all", LIT, "User:u", "*", ST_ACL_OP_ALL, ALLOW);
    ALLOWED(a, "User:u", "h", ST_ACL_OP_DELETE, TOPIC, "all");
    add(a, TOPIC, "r", LIT, "User:u", "*", ST_ACL_OP_READ, ALLOW);
    DENIED(a, "User:u", "h", ST_ACL_OP_WRITE, TOPIC, "r");
    /* A DENY of DESCRIBE beats an ALLOW of READ that implies it. */
    add(a, TOPIC, "r", LIT, "User:u", "*", ST_ACL_OP_DESCRIBE, DENY);
    DENIED(a, "User:u", "h", ST_ACL_OP_DESCRIBE, TOPIC, "r");
    ALLOWED(a, "User:u", "h", ST_ACL_OP_READ, TOPIC, "r");
    st_authorizer_free(a);
}

static void test_by_resource_type(void **state) {
    (void)state;
    st_authorizer_t *a = st_authorizer_new();
    const int8_t W = ST_ACL_OP_WRITE;
    /* KIP-679: WRITE on any topic lets an idempotent producer in. */
    assert_int_equal(st_authorizer_authorize_by_resource_type(a, "User:p", "h", W, TOPIC), ST_AUTHZ_DENIED);
    add(a, TOPIC, "events", LIT, "User:p", "*", W, ALLOW);
    assert_int_equal(st_authorizer_authorize_by_resource_type(a, "User:p", "h", W, TOPIC), ST_AUTHZ_ALLOWED);
    assert_int_equal(st_authorizer_authorize_by_resource_type(a, "User:q", "h", W, TOPIC), ST_AUTHZ_DENIED);
    /* ...unless a DENY dominates every ALLOW: same literal, or a prefix. */
    add(a, TOPIC, "events", LIT, "User:p", "*", W, DENY);
    assert_int_equal(st_authorizer_authorize_by_resource_type(a, "User:p", "h", W, TOPIC), ST_AUTHZ_DENIED);
    add(a, TOPIC, "logs.app", PRE, "User:p", "*", W, ALLOW);
    assert_int_equal(st_authorizer_authorize_by_resource_type(a, "User:p", "h", W, TOPIC), ST_AUTHZ_ALLOWED);
    add(a, TOPIC, "logs", PRE, "User:*", "*", W, DENY);
    assert_int_equal(st_authorizer_authorize_by_resource_type(a, "User:p", "h", W, TOPIC), ST_AUTHZ_DENIED);
    add(a, TOPIC, "*", LIT, "User:p", "*", ST_ACL_OP_ALL, ALLOW);
    assert_int_equal(st_authorizer_authorize_by_resource_type(a, "User:p", "h", W, TOPIC), ST_AUTHZ_ALLOWED);
    add(a, TOPIC, "*", LIT, "User:p", "*", W, DENY);
    assert_int_equal(st_authorizer_authorize_by_resource_type(a, "User:p", "h", W, TOPIC), ST_AUTHZ_DENIED);
    /* Super users regardless. */
    assert_int_equal(st_authorizer_configure(a, "User:p", false), 0);
    assert_int_equal(st_authorizer_authorize_by_resource_type(a, "User:p", "h", W, TOPIC), ST_AUTHZ_ALLOWED);
    st_authorizer_free(a);
}

static void test_authorized_operations(void **state) {
    (void)state;
    st_authorizer_t *a = st_authorizer_new();
    add(a, TOPIC, "t", LIT, "User:u", "*", ST_ACL_OP_READ, ALLOW);
    add(a, TOPIC, "t", LIT, "User:u", "*", ST_ACL_OP_ALTER_CONFIGS, ALLOW);
    int32_t bits = st_authorizer_authorized_operations(a, "User:u", "h", TOPIC, st_str("t"));
    int32_t want = (1 << ST_ACL_OP_READ) | (1 << ST_ACL_OP_DESCRIBE) | (1 << ST_ACL_OP_ALTER_CONFIGS) |
                   (1 << ST_ACL_OP_DESCRIBE_CONFIGS);
    assert_int_equal(bits, want);
    add(a, GROUP, "g", LIT, "User:u", "*", ST_ACL_OP_ALL, ALLOW);
    assert_int_equal(st_authorizer_authorized_operations(a, "User:u", "h", GROUP, st_str("g")),
                     (1 << ST_ACL_OP_READ) | (1 << ST_ACL_OP_DESCRIBE) | (1 << ST_ACL_OP_DELETE));
    assert_int_equal(st_authorizer_authorized_operations(a, "User:x", "h", GROUP, st_str("g")), 0);
    st_authorizer_free(a);
}

typedef struct collected {
    int count;
    st_uuid_t ids[64];
    char names[64][32];
} collected_t;

static void collect(void *ctx, const st_uuid_t *id, const st_acl_binding_t *b) {
    collected_t *c = ctx;
    c->ids[c->count] = *id;
    snprintf(c->names[c->count], sizeof c->names[0], "%.*s/%s/%s", (int)b->resource_name.len, b->resource_name.ptr,
             st_acl_pattern_type_name(b->pattern_type), st_acl_operation_name(b->operation));
    c->count++;
}

static int found(st_authorizer_t *a, st_acl_filter_t f) { return (int)st_authorizer_find(a, &f, NULL, NULL); }

static void test_filters_describe_and_delete(void **state) {
    (void)state;
    st_authorizer_t *a = st_authorizer_new();
    next_id = 100;
    add(a, TOPIC, "foo", LIT, "User:a", "*", ST_ACL_OP_READ, ALLOW);      /* 100 */
    add(a, TOPIC, "foo", PRE, "User:a", "*", ST_ACL_OP_WRITE, ALLOW);     /* 101 */
    add(a, TOPIC, "foobar", LIT, "User:b", "1.1.1.1", ST_ACL_OP_READ, DENY); /* 102 */
    add(a, TOPIC, "*", LIT, "User:c", "*", ST_ACL_OP_DESCRIBE, ALLOW);    /* 103 */
    add(a, TOPIC, "fo", PRE, "User:c", "*", ST_ACL_OP_READ, ALLOW);       /* 104 */
    add(a, GROUP, "foo", LIT, "User:a", "*", ST_ACL_OP_READ, ALLOW);      /* 105 */
    st_acl_filter_t f = st_acl_filter_any();
    assert_int_equal(found(a, f), 6);
    f.resource_type = TOPIC;
    assert_int_equal(found(a, f), 5);
    /* ANY pattern with a name: exactly that name, any pattern type. */
    f.resource_name = st_str("foo");
    assert_int_equal(found(a, f), 2);
    /* LITERAL with a name: that name, LITERAL only. */
    f.pattern_type = LIT;
    assert_int_equal(found(a, f), 1);
    /* MATCH: every ACL that would apply to a topic named foobar. */
    f.pattern_type = ST_ACL_PATTERN_MATCH;
    f.resource_name = st_str("foobar");
    collected_t c = {0};
    assert_int_equal(st_authorizer_find(a, &f, collect, &c), 4); /* foobar, foo/PRE, fo/PRE, * */
    f.resource_name = st_str("foo");
    assert_int_equal(found(a, f), 4); /* foo, foo/PRE, fo/PRE, * */
    /* MATCH without a name matches every pattern. */
    f.resource_name = st_str_null();
    assert_int_equal(found(a, f), 5);
    /* The entry side: principal, host, operation, permission. */
    f = st_acl_filter_any();
    f.principal = st_str("User:a");
    assert_int_equal(found(a, f), 3);
    f.operation = ST_ACL_OP_READ;
    assert_int_equal(found(a, f), 2);
    f = st_acl_filter_any();
    f.host = st_str("1.1.1.1");
    assert_int_equal(found(a, f), 1);
    f = st_acl_filter_any();
    f.permission = DENY;
    assert_int_equal(found(a, f), 1);
    /* Delete by filter: find the ids, remove each (what the controller's
     * RemoveAccessControlEntryRecords do when applied). */
    f = st_acl_filter_any();
    f.resource_type = TOPIC;
    f.pattern_type = PRE;
    memset(&c, 0, sizeof c);
    assert_int_equal(st_authorizer_find(a, &f, collect, &c), 2);
    for (int i = 0; i < c.count; i++) assert_int_equal(st_authorizer_remove(a, &c.ids[i]), 0);
    assert_int_equal(st_authorizer_count(a), 4);
    assert_int_equal(found(a, f), 0);
    assert_int_equal(st_authorizer_remove(a, &c.ids[0]), ST_ERR_RESOURCE_NOT_FOUND);
    /* After removal the prefixed grants are gone. */
    DENIED(a, "User:a", "h", ST_ACL_OP_WRITE, TOPIC, "foox");
    ALLOWED(a, "User:a", "h", ST_ACL_OP_READ, TOPIC, "foo");
    /* Filter validation. */
    const char *message;
    f = st_acl_filter_any();
    assert_int_equal(st_acl_filter_validate(&f, &message), 0);
    f.operation = ST_ACL_OP_UNKNOWN;
    assert_int_equal(st_acl_filter_validate(&f, &message), ST_ERR_INVALID_REQUEST);
    f = st_acl_filter_any();
    f.pattern_type = 9;
    assert_int_equal(st_acl_filter_validate(&f, &message), ST_ERR_INVALID_REQUEST);
    st_authorizer_free(a);
}

static void test_validation_and_ids(void **state) {
    (void)state;
    const char *message;
    st_acl_binding_t ok = {TOPIC, st_str("t"), LIT, st_str("User:a"), st_str("*"), ST_ACL_OP_READ, ALLOW};
    assert_int_equal(st_acl_binding_validate(&ok, &message), 0);
    struct {
        st_acl_binding_t b;
        const char *message;
    } bad[] = {
        {{ST_ACL_RESOURCE_ANY, st_str("t"), LIT, st_str("User:a"), st_str("*"), ST_ACL_OP_READ, ALLOW},
         "Invalid resourceType"},
        {{TOPIC, st_str("t"), ST_ACL_PATTERN_MATCH, st_str("User:a"), st_str("*"), ST_ACL_OP_READ, ALLOW},
         "Invalid patternType"},
        {{TOPIC, st_str("t"), LIT, st_str("User:a"), st_str("*"), ST_ACL_OP_ANY, ALLOW}, "Invalid operation"},
        {{TOPIC, st_str("t"), LIT, st_str("User:a"), st_str("*"), ST_ACL_OP_READ, ST_ACL_PERMISSION_ANY},
         "Invalid permissionType"},
        {{TOPIC, st_str(""), LIT, st_str("User:a"), st_str("*"), ST_ACL_OP_READ, ALLOW},
         "Resource name should not be empty"},
        {{CLUSTER, st_str("my-cluster"), LIT, st_str("User:a"), st_str("*"), ST_ACL_OP_ALTER, ALLOW},
         "The only valid name for the CLUSTER resource is kafka-cluster"},
        {{TOPIC, st_str("t"), LIT, st_str("alice"), st_str("*"), ST_ACL_OP_READ, ALLOW}, NULL},
    };
    st_authorizer_t *a = st_authorizer_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(st_acl_binding_validate(&bad[i].b, &message), ST_ERR_INVALID_REQUEST);
        if (bad[i].message) assert_string_equal(message, bad[i].message);
        st_uuid_t id = uuid_of(9000 + (uint32_t)i);
        assert_int_equal(st_authorizer_add(a, &id, &bad[i].b), ST_ERR_INVALID_REQUEST);
    }
    assert_int_equal(st_authorizer_count(a), 0);
    st_uuid_t id = uuid_of(1);
    assert_int_equal(st_authorizer_add(a, &id, &ok), 0);
    assert_int_equal(st_authorizer_add(a, &id, &ok), ST_ERR_DUPLICATE_RESOURCE);
    /* The authorizer keeps its own copies of the strings. */
    char name[] = "copied";
    st_acl_binding_t b = ok;
    b.resource_name = st_str(name);
    st_uuid_t id2 = uuid_of(2);
    assert_int_equal(st_authorizer_add(a, &id2, &b), 0);
    memset(name, 'x', 6);
    ALLOWED(a, "User:a", "h", ST_ACL_OP_READ, TOPIC, "copied");
    assert_string_equal(st_acl_operation_name(ST_ACL_OP_IDEMPOTENT_WRITE), "IdempotentWrite");
    assert_string_equal(st_acl_resource_type_name(TXN), "TRANSACTIONAL_ID");
    st_authorizer_free(a);
}

static void test_format_host(void **state) {
    (void)state;
    char buf[ST_ACL_HOST_BYTES];
    const uint8_t v4[] = {127, 0, 0, 1};
    st_acl_format_host(4, v4, buf);
    assert_string_equal(buf, "127.0.0.1");
    const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    st_acl_format_host(6, v6, buf);
    assert_string_equal(buf, "0:0:0:0:0:0:0:1");
    const uint8_t v6b[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x1a, 0x2b, 0xff, 0xfe, 0x3c, 0x4d, 0x5e};
    st_acl_format_host(6, v6b, buf);
    assert_string_equal(buf, "fe80:0:0:0:21a:2bff:fe3c:4d5e");
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    st_acl_format_host(6, mapped, buf);
    assert_string_equal(buf, "10.1.2.3");
}

/* --- the index against a brute-force reading of the rules --- */

typedef struct ref_acl {
    st_acl_binding_t b;
    bool live;
} ref_acl_t;

static bool ref_applies(const st_acl_binding_t *b, int8_t type, const char *name) {
    if (b->resource_type != type) return false;
    st_str_t n = st_str(name);
    if (b->pattern_type == LIT)
        return (b->resource_name.len == n.len && memcmp(b->resource_name.ptr, name, (size_t)n.len) == 0) ||
               (b->resource_name.len == 1 && b->resource_name.ptr[0] == '*');
    return b->resource_name.len <= n.len && memcmp(b->resource_name.ptr, name, (size_t)b->resource_name.len) == 0;
}

static bool ref_op_matches(const st_acl_binding_t *b, int8_t op) {
    if (b->operation == ST_ACL_OP_ALL || b->operation == op) return true;
    if (b->permission != ALLOW) return false;
    if (op == ST_ACL_OP_DESCRIBE)
        return b->operation == ST_ACL_OP_READ || b->operation == ST_ACL_OP_WRITE || b->operation == ST_ACL_OP_DELETE ||
               b->operation == ST_ACL_OP_ALTER;
    if (op == ST_ACL_OP_DESCRIBE_CONFIGS) return b->operation == ST_ACL_OP_ALTER_CONFIGS;
    return false;
}

static st_authz_result_t ref_authorize(const ref_acl_t *acls, size_t n, bool allow_if_none, const char *principal,
                                       const char *host, int8_t op, int8_t type, const char *name) {
    bool any = false, allow = false, deny = false;
    for (size_t i = 0; i < n; i++) {
        const st_acl_binding_t *b = &acls[i].b;
        if (!acls[i].live || !ref_applies(b, type, name)) continue;
        any = true;
        bool who = st_str_eq(b->principal, principal) || st_str_eq(b->principal, "User:*");
        bool where = st_str_eq(b->host, "*") || st_str_eq(b->host, host);
        if (!who || !where || !ref_op_matches(b, op)) continue;
        if (b->permission == ALLOW) allow = true;
        else deny = true;
    }
    if (deny) return ST_AUTHZ_DENIED;
    if (allow) return ST_AUTHZ_ALLOWED;
    return !any && allow_if_none ? ST_AUTHZ_ALLOWED : ST_AUTHZ_DENIED;
}

static uint32_t rnd(uint32_t *seed) {
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xffffff;
}

static void test_index_matches_brute_force(void **state) {
    (void)state;
    static const char *const names[] = {"*", "a", "ab", "abc", "abd", "b", "ba", "", "a*", "abcd", "z", "!", "ab!"};
    static const char *const principals[] = {"User:u1", "User:u2", "User:*"};
    static const char *const hosts[] = {"*", "10.0.0.1", "10.0.0.2"};
    static const int8_t ops[] = {ST_ACL_OP_ALL,      ST_ACL_OP_READ,  ST_ACL_OP_WRITE,
                                 ST_ACL_OP_DESCRIBE, ST_ACL_OP_ALTER, ST_ACL_OP_ALTER_CONFIGS,
                                 ST_ACL_OP_DESCRIBE_CONFIGS, ST_ACL_OP_DELETE};
    const size_t n_names = sizeof names / sizeof names[0];
    int checks = 0;
    for (uint32_t round = 1; round <= 300; round++) {
        uint32_t seed = round * 2654435761u;
        st_authorizer_t *a = st_authorizer_new();
        bool allow_if_none = rnd(&seed) % 2;
        assert_int_equal(st_authorizer_configure(a, "", allow_if_none), 0);
        ref_acl_t acls[40];
        size_t n = 1 + rnd(&seed) % 40;
        for (size_t i = 0; i < n; i++) {
            const char *name = names[rnd(&seed) % n_names];
            if (name[0] == '\0') name = "*"; /* ACL names are never empty */
            acls[i].b = (st_acl_binding_t){(int8_t)(rnd(&seed) % 2 ? TOPIC : GROUP),
                                           st_str(name),
                                           (int8_t)(rnd(&seed) % 2 ? LIT : PRE),
                                           st_str(principals[rnd(&seed) % 3]),
                                           st_str(hosts[rnd(&seed) % 3]),
                                           ops[rnd(&seed) % (sizeof ops)],
                                           (int8_t)(rnd(&seed) % 3 ? ALLOW : DENY)};
            acls[i].live = true;
            st_uuid_t id = uuid_of(round * 1000 + (uint32_t)i);
            assert_int_equal(st_authorizer_add(a, &id, &acls[i].b), 0);
            /* Interleave lookups with adds and removes, so merges happen with
             * pending entries of both kinds. */
            if (rnd(&seed) % 5 == 0 && i > 0) {
                size_t victim = rnd(&seed) % i;
                if (acls[victim].live) {
                    st_uuid_t vid = uuid_of(round * 1000 + (uint32_t)victim);
                    assert_int_equal(st_authorizer_remove(a, &vid), 0);
                    acls[victim].live = false;
                }
            }
            if (rnd(&seed) % 4 == 0) (void)ask(a, "User:u1", "10.0.0.1", ST_ACL_OP_READ, TOPIC, "abc");
        }
        for (int q = 0; q < 60; q++) {
            const char *who = principals[rnd(&seed) % 2];
            const char *host = hosts[1 + rnd(&seed) % 2];
            int8_t op = ops[1 + rnd(&seed) % (sizeof ops - 1)];
            int8_t type = rnd(&seed) % 2 ? TOPIC : GROUP;
            const char *name = names[rnd(&seed) % n_names];
            st_authz_result_t want = ref_authorize(acls, n, allow_if_none, who, host, op, type, name);
            st_authz_result_t got = ask(a, who, host, op, type, name);
            if (want != got)
                fail_msg("round %u: %s from %s op %d on %d:%s: index says %d, the rules say %d", round, who, host, op,
                         type, name, got, want);
            checks++;
        }
        st_authorizer_free(a);
    }
    assert_true(checks == 300 * 60);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_prefixed_and_wildcard),
        cmocka_unit_test(test_deny_wins),
        cmocka_unit_test(test_principals_hosts_super_users),
        cmocka_unit_test(test_no_acl_found_rule),
        cmocka_unit_test(test_implied_operations),
        cmocka_unit_test(test_by_resource_type),
        cmocka_unit_test(test_authorized_operations),
        cmocka_unit_test(test_filters_describe_and_delete),
        cmocka_unit_test(test_validation_and_ids),
        cmocka_unit_test(test_format_host),
        cmocka_unit_test(test_index_matches_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
