/* The table of ACL checks per API: every API that protocol/defs defines
 * has a row (so none is served without a decision), rows are sorted,
 * unique and named as the codec names them, every check names a real
 * operation and resource with an authorization error, and the checks the
 * issue lists are there as Kafka makes them. With --markdown it prints the
 * table docs/security.md carries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "protocol/messages.h"
#include "security/api_acls.h"
#include "security/authorizer.h"

static void test_every_defined_api_has_a_row(void **state) {
    (void)state;
    for (int i = 0; i < st_api_info_count; i++) {
        const st_api_acls_t *row = st_api_acls_find(st_api_infos[i].api_key);
        if (!row) fail_msg("%s (key %d) has no ACL row", st_api_infos[i].name, st_api_infos[i].api_key);
        assert_string_equal(row->name, st_api_infos[i].name);
    }
    assert_null(st_api_acls_find(1000));
    assert_null(st_api_acls_find(-1));
}

static void test_rows_are_well_formed(void **state) {
    (void)state;
    for (int i = 0; i < st_api_acls_count; i++) {
        const st_api_acls_t *row = &st_api_acls[i];
        if (i > 0 && st_api_acls[i - 1].api_key >= row->api_key) fail_msg("row %s out of order", row->name);
        assert_ptr_equal(st_api_acls_find(row->api_key), row);
        assert_true(row->check_count >= 0 && row->check_count <= ST_API_ACL_CHECKS_MAX);
        for (int c = 0; c < row->check_count; c++) {
            const st_api_acl_check_t *k = &row->checks[c];
            assert_true(k->operation > ST_ACL_OP_ALL && k->operation <= ST_ACL_OP_DESCRIBE_TOKENS);
            assert_true(k->resource_type >= ST_ACL_RESOURCE_TOPIC && k->resource_type <= ST_ACL_RESOURCE_USER);
            int16_t e = k->error_code;
            assert_true(e == 0 || e == ST_ERR_TOPIC_AUTHORIZATION_FAILED || e == ST_ERR_GROUP_AUTHORIZATION_FAILED ||
                        e == ST_ERR_CLUSTER_AUTHORIZATION_FAILED ||
                        e == ST_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
                        e == ST_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED);
            if (k->scope == ST_ACL_CHECK_INSTEAD_OF_NEXT) assert_true(c + 1 < row->check_count);
            if (k->scope == ST_ACL_CHECK_OR_PREVIOUS) assert_true(c > 0);
            /* A denial that answers something must say what. */
            if (k->scope == ST_ACL_CHECK_REQUEST) assert_true(e != 0);
        }
    }
}

static bool has(int16_t key, int8_t op, int8_t type, st_acl_check_scope_t scope, int16_t error) {
    const st_api_acls_t *row = st_api_acls_find(key);
    for (int c = 0; row && c < row->check_count; c++) {
        const st_api_acl_check_t *k = &row->checks[c];
        if (k->operation == op && k->resource_type == type && k->scope == scope && k->error_code == error) return true;
    }
    return false;
}

static void test_the_checks_kafka_makes(void **state) {
    (void)state;
    const int16_t T = ST_ERR_TOPIC_AUTHORIZATION_FAILED, G = ST_ERR_GROUP_AUTHORIZATION_FAILED,
                  C = ST_ERR_CLUSTER_AUTHORIZATION_FAILED, X = ST_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    assert_true(has(ST_API_PRODUCE, ST_ACL_OP_WRITE, ST_ACL_RESOURCE_TOPIC, ST_ACL_CHECK_EACH, T));
    assert_true(has(ST_API_PRODUCE, ST_ACL_OP_WRITE, ST_ACL_RESOURCE_TRANSACTIONAL_ID, ST_ACL_CHECK_REQUEST, X));
    assert_false(has(ST_API_PRODUCE, ST_ACL_OP_IDEMPOTENT_WRITE, ST_ACL_RESOURCE_CLUSTER, ST_ACL_CHECK_REQUEST, C));
    assert_true(has(ST_API_FETCH, ST_ACL_OP_READ, ST_ACL_RESOURCE_TOPIC, ST_ACL_CHECK_EACH, T));
    assert_true(has(ST_API_METADATA, ST_ACL_OP_DESCRIBE, ST_ACL_RESOURCE_TOPIC, ST_ACL_CHECK_FILTER, T));
    assert_true(has(ST_API_METADATA, ST_ACL_OP_CREATE, ST_ACL_RESOURCE_TOPIC, ST_ACL_CHECK_EACH, T));
    assert_true(has(ST_API_OFFSET_COMMIT, ST_ACL_OP_READ, ST_ACL_RESOURCE_GROUP, ST_ACL_CHECK_REQUEST, G));
    assert_true(has(ST_API_OFFSET_COMMIT, ST_ACL_OP_READ, ST_ACL_RESOURCE_TOPIC, ST_ACL_CHECK_EACH, T));
    assert_true(has(ST_API_OFFSET_FETCH, ST_ACL_OP_DESCRIBE, ST_ACL_RESOURCE_GROUP, ST_ACL_CHECK_REQUEST, G));
    assert_true(has(ST_API_JOIN_GROUP, ST_ACL_OP_READ, ST_ACL_RESOURCE_GROUP, ST_ACL_CHECK_REQUEST, G));
    assert_true(has(ST_API_CREATE_TOPICS, ST_ACL_OP_CREATE, ST_ACL_RESOURCE_CLUSTER, ST_ACL_CHECK_INSTEAD_OF_NEXT, 0));
    assert_true(has(ST_API_CREATE_TOPICS, ST_ACL_OP_CREATE, ST_ACL_RESOURCE_TOPIC, ST_ACL_CHECK_EACH, T));
    assert_true(has(ST_API_DELETE_TOPICS, ST_ACL_OP_DELETE, ST_ACL_RESOURCE_TOPIC, ST_ACL_CHECK_EACH, T));
    assert_true(has(ST_API_DESCRIBE_CONFIGS, ST_ACL_OP_DESCRIBE_CONFIGS, ST_ACL_RESOURCE_TOPIC, ST_ACL_CHECK_EACH, T));
    assert_true(has(ST_API_ALTER_CONFIGS, ST_ACL_OP_ALTER_CONFIGS, ST_ACL_RESOURCE_CLUSTER, ST_ACL_CHECK_EACH, C));
    assert_true(has(ST_API_CREATE_ACLS, ST_ACL_OP_ALTER, ST_ACL_RESOURCE_CLUSTER, ST_ACL_CHECK_REQUEST, C));
    assert_true(has(ST_API_DELETE_ACLS, ST_ACL_OP_ALTER, ST_ACL_RESOURCE_CLUSTER, ST_ACL_CHECK_REQUEST, C));
    assert_true(has(ST_API_DESCRIBE_ACLS, ST_ACL_OP_DESCRIBE, ST_ACL_RESOURCE_CLUSTER, ST_ACL_CHECK_REQUEST, C));
    assert_true(has(ST_API_INIT_PRODUCER_ID, ST_ACL_OP_IDEMPOTENT_WRITE, ST_ACL_RESOURCE_CLUSTER,
                    ST_ACL_CHECK_REQUEST, C));
    assert_true(has(ST_API_INIT_PRODUCER_ID, ST_ACL_OP_WRITE, ST_ACL_RESOURCE_TOPIC, ST_ACL_CHECK_OR_PREVIOUS, C));
    assert_true(has(ST_API_INIT_PRODUCER_ID, ST_ACL_OP_WRITE, ST_ACL_RESOURCE_TRANSACTIONAL_ID, ST_ACL_CHECK_REQUEST, X));
    assert_true(has(26 /* EndTxn */, ST_ACL_OP_WRITE, ST_ACL_RESOURCE_TRANSACTIONAL_ID, ST_ACL_CHECK_REQUEST, X));
    assert_true(has(ST_API_VOTE, ST_ACL_OP_CLUSTER_ACTION, ST_ACL_RESOURCE_CLUSTER, ST_ACL_CHECK_REQUEST, C));
    assert_int_equal(st_api_acls_find(ST_API_API_VERSIONS)->check_count, 0);
    assert_int_equal(st_api_acls_find(ST_API_SASL_AUTHENTICATE)->check_count, 0);
}

static const char *scope_text(st_acl_check_scope_t s) {
    switch (s) {
    case ST_ACL_CHECK_REQUEST: return "request";
    case ST_ACL_CHECK_EACH: return "each";
    case ST_ACL_CHECK_FILTER: return "filter";
    case ST_ACL_CHECK_INSTEAD_OF_NEXT: return "instead of next";
    case ST_ACL_CHECK_OR_PREVIOUS: return "or previous";
    }
    return "?";
}

static void print_markdown(void) {
    printf("| API | operation | resource | scope | denied | when |\n|---|---|---|---|---|---|\n");
    for (int i = 0; i < st_api_acls_count; i++) {
        const st_api_acls_t *row = &st_api_acls[i];
        if (row->check_count == 0) printf("| %s (%d) | none | | | | %s |\n", row->name, row->api_key,
                                          row->note ? row->note : "");
        for (int c = 0; c < row->check_count; c++) {
            const st_api_acl_check_t *k = &row->checks[c];
            char api[64] = "";
            if (c == 0) snprintf(api, sizeof api, "%s (%d)", row->name, row->api_key);
            printf("| %s | %s | %s | %s | %s | %s%s%s |\n", api,
                   st_acl_operation_name(k->operation), st_acl_resource_type_name(k->resource_type),
                   scope_text(k->scope), k->error_code ? st_err_name(k->error_code) : "-", k->when ? k->when : "",
                   c == row->check_count - 1 && row->note ? (k->when ? "; " : "") : "",
                   c == row->check_count - 1 && row->note ? row->note : "");
        }
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--markdown") == 0) {
        print_markdown();
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_defined_api_has_a_row),
        cmocka_unit_test(test_rows_are_well_formed),
        cmocka_unit_test(test_the_checks_kafka_makes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
