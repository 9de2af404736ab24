/* ssl.principal.mapping.rules as Kafka's SslPrincipalMapper (its own test
 * cases: valid and invalid rule strings, the DN examples of its docs),
 * Java's replaceAll and back-reference quirks, the regex engine against
 * java.util.regex semantics (leftmost-first, lazy quantifiers, groups in
 * loops, $ before a final newline), its refusals, and its step budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "security/principal.h"
#include "security/regex.h"
#include "security/sasl.h"

static void expect_map(const char *rules, const char *dn, const char *want) {
    char error[256], out[256];
    st_principal_mapper_t *m = st_principal_mapper_new(rules, error, sizeof error);
    if (!m) fail_msg("rules refused: %s: %s", rules, error);
    int rc = st_principal_mapper_map(m, dn, out, sizeof out);
    if (rc != 0) fail_msg("%s: no name for %s (%d)", rules, dn, rc);
    if (strcmp(out, want) != 0) fail_msg("%s: %s -> '%s', want '%s'", rules, dn, out, want);
    st_principal_mapper_free(m);
}

static void test_kafka_examples(void **state) {
    (void)state;
    const char *rules = "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, "
                        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, "
                        "RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U, "
                        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, "
                        "DEFAULT";
    expect_map(rules, "CN=Duke,OU=ServiceUsers,O=Org,C=US", "duke");
    expect_map(rules, "CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US", "duke@sme");
    expect_map(rules, "cn=duke,ou=sme,dc=mycp,dc=com", "DUKE@SME");
    expect_map(rules, "cN=duke,OU=JavaSoft,O=Sun Microsystems", "DUKE");
    expect_map(rules, "OU=JavaSoft,O=Sun Microsystems,C=US", "OU=JavaSoft,O=Sun Microsystems,C=US");
    /* The default rules give the DN as it is. */
    expect_map(NULL, "CN=kafka1,O=Strata", "CN=kafka1,O=Strata");
    expect_map("DEFAULT", "CN=kafka1,O=Strata", "CN=kafka1,O=Strata");
    /* Lazy groups: the first OU, not the last. */
    expect_map("RULE:^CN=(.*?),OU=(.*?),.*$/$2/", "CN=a,OU=first,OU=second,O=x", "first");
    expect_map("RULE:^CN=(.*),OU=(.*),.*$/$2/", "CN=a,OU=first,OU=second,O=x", "second");
    /* Escaped commas inside a value (Kafka's testCommaWithWhitespace). */
    expect_map("RULE:^CN=((\\\\, *|\\w)+)(,.*|$)/$1/,DEFAULT", "CN=Tkac\\, Adam,OU=ITZ,DC=geodis,DC=cz",
               "Tkac\\, Adam");
    /* A replacement with an escaped slash and a literal dollar. */
    expect_map("RULE:^CN=([a-z]+),.*$/$1\\/svc/", "CN=app,O=x", "app/svc");
    expect_map("RULE:^CN=([a-z]+),.*$/\\$$1/", "CN=app,O=x", "$app");
    /* The first rule that matches wins; one that does not match is skipped. */
    expect_map("RULE:^OU=(.*)$/$1/,RULE:^CN=([^,]*).*$/$1/", "CN=b,OU=c", "b");
}

static void test_java_replace_all_quirks(void **state) {
    (void)state;
    /* String.replaceAll(".*", "x") on "abc" is "xx" in Java: the empty
     * match at the end is replaced too. Kafka inherits that. */
    expect_map("RULE:.*/x/", "abc", "xx");
    expect_map("RULE:^.*$/x/", "abc", "x");
    /* A $n naming no group is literal when the pattern has groups
     * (Kafka's escapeLiteralBackReferences)... */
    expect_map("RULE:^CN=(.*)$/$1@$4/", "CN=duke", "duke@$4");
    /* ...and $12 with one group is group 1 followed by "2", as Java reads it. */
    expect_map("RULE:^CN=(.*)$/$12/", "CN=duke", "duke2");
    expect_map("RULE:^CN=(.*)$/<$0>/", "CN=duke", "<CN=duke>");
    /* The pattern must match the whole DN before anything is replaced. */
    char error[128], out[128];
    st_principal_mapper_t *m = st_principal_mapper_new("RULE:CN=([a-z]+)/$1/", error, sizeof error);
    assert_non_null(m);
    assert_int_equal(st_principal_mapper_map(m, "CN=duke,O=x", out, sizeof out), ST_ERR_NOT_FOUND);
    assert_int_equal(st_principal_mapper_map(m, "CN=duke", out, sizeof out), 0);
    assert_string_equal(out, "duke");
    st_principal_mapper_free(m);
    /* With no groups at all, $1 is Java's "No group 1": no name. */
    m = st_principal_mapper_new("RULE:^CN=duke$/$1/", error, sizeof error);
    assert_non_null(m);
    assert_int_equal(st_principal_mapper_map(m, "CN=duke", out, sizeof out), ST_ERR_INVALID_REQUEST);
    st_principal_mapper_free(m);
}

static void test_valid_and_invalid_rules(void **state) {
    (void)state;
    const char *valid[] = {
        "DEFAULT",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
        "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
        "RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
        "RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
        "  DEFAULT  ",
        "DEFAULT,,DEFAULT",
        "",
    };
    char error[256];
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        st_principal_mapper_t *m = st_principal_mapper_new(valid[i], error, sizeof error);
        if (!m) fail_msg("refused valid rules '%s': %s", valid[i], error);
        st_principal_mapper_free(m);
    }
    const char *invalid[] = {
        "default",
        "DEFAUL",
        "DEFAULT/L",
        "DEFAULT/U",
        "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
        "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
        /* Valid for Kafka, but beyond the engine: refused loudly. */
        "RULE:^CN=(?<name>.*)$/$1/",
        "RULE:^CN=(.*)(?=,O)$/$1/",
        "RULE:^CN=(.*)\\b$/$1/",
        "RULE:^CN=(a++)$/$1/",
        "RULE:^CN=([a-z&&[^x]]+)$/$1/",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        error[0] = '\0';
        st_principal_mapper_t *m = st_principal_mapper_new(invalid[i], error, sizeof error);
        if (m) fail_msg("accepted invalid rules '%s'", invalid[i]);
        assert_true(strncmp(error, "Invalid rule", 12) == 0);
    }
    /* How many rules a string holds. */
    st_principal_mapper_t *m = st_principal_mapper_new("RULE:^a$/b/, RULE:^c,d$/e/U ,DEFAULT", error, sizeof error);
    assert_non_null(m);
    assert_int_equal(st_principal_mapper_rule_count(m), 3);
    st_principal_mapper_free(m);
}

static void test_principals(void **state) {
    (void)state;
    char error[128], out[128];
    st_principal_mapper_t *m = st_principal_mapper_new("RULE:^CN=([^,]+).*$/$1/L", error, sizeof error);
    assert_int_equal(st_principal_for_ssl(m, "CN=Alice,O=Org", out, sizeof out), 0);
    assert_string_equal(out, "User:alice");
    assert_int_equal(st_principal_for_ssl(m, NULL, out, sizeof out), 0);
    assert_string_equal(out, ST_PRINCIPAL_ANONYMOUS);
    /* No rule applies: no principal (Kafka fails the authentication). */
    assert_int_equal(st_principal_for_ssl(m, "O=Org", out, sizeof out), ST_ERR_NOT_FOUND);
    /* A name that does not fit the buffer. */
    assert_int_equal(st_principal_for_ssl(m, "CN=averyveryverylongname", out, 12), ST_ERR_LIMIT);
    st_principal_mapper_free(m);
    assert_true(st_sasl_principal("alice", out, sizeof out));
    assert_string_equal(out, "User:alice");
}

/* --- the engine --- */

typedef struct case_ {
    const char *pattern, *input;
    st_regex_mode_t mode;
    int result;
    const char *groups; /* "0:0-3 1:1-2", or NULL */
} case_t;

static void check_case(const case_t *c) {
    char error[128];
    st_regex_t *re = st_regex_compile(c->pattern, strlen(c->pattern), error, sizeof error);
    if (!re) fail_msg("/%s/ does not compile: %s", c->pattern, error);
    st_regex_match_t m;
    int r = st_regex_exec(re, c->input, strlen(c->input), 0, c->mode, &m);
    if (r != c->result) fail_msg("/%s/ on '%s' (mode %d): %d, want %d", c->pattern, c->input, c->mode, r, c->result);
    if (r == ST_REGEX_MATCH && c->groups) {
        char got[256] = "";
        size_t n = 0;
        for (int g = 0; g <= st_regex_group_count(re); g++)
            n += (size_t)snprintf(got + n, sizeof got - n, "%s%d:%ld-%ld", g ? " " : "", g, m.starts[g], m.ends[g]);
        if (strcmp(got, c->groups) != 0) fail_msg("/%s/ on '%s': groups %s, want %s", c->pattern, c->input, got, c->groups);
    }
    st_regex_free(re);
}

static void test_regex_semantics(void **state) {
    (void)state;
    const st_regex_mode_t M = ST_REGEX_MATCHES, L = ST_REGEX_LOOKING_AT, F = ST_REGEX_FIND;
    const case_t cases[] = {
        {"abc", "abc", M, 1, "0:0-3"},
        {"abc", "abcd", M, 0, NULL},
        {"abc", "abcd", L, 1, "0:0-3"},
        {"bc", "abcd", F, 1, "0:1-3"},
        {"bc", "abcd", L, 0, NULL},
        {"a.c", "a\nc", M, 0, NULL},
        {"a.c", "axc", M, 1, NULL},
        /* Leftmost-first alternation: Java takes the first alternative that works. */
        {"(a|ab)(c|bcd)", "abcd", L, 1, "0:0-4 1:0-1 2:1-4"},
        {"(a|ab)(c|bcd)", "abcd", F, 1, "0:0-4 1:0-1 2:1-4"},
        /* Lazy and greedy. */
        {"(a+?)(a*)", "aaa", M, 1, "0:0-3 1:0-1 2:1-3"},
        {"(a+)(a*)", "aaa", M, 1, "0:0-3 1:0-3 2:3-3"},
        {"(a+?)", "aaa", L, 1, "0:0-1 1:0-1"},
        {"(a{2,3}?)(a*)", "aaaa", M, 1, "0:0-4 1:0-2 2:2-4"},
        {"(a{2,3})(a*)", "aaaa", M, 1, "0:0-4 1:0-3 2:3-4"},
        {"a{3}", "aaa", M, 1, NULL},
        {"a{3}", "aa", M, 0, NULL},
        {"a{2,}", "aaaaa", M, 1, NULL},
        {"a{0}b", "b", M, 1, NULL},
        /* A group in a loop keeps its last iteration. */
        {"(?:(a)|b)+", "ab", M, 1, "0:0-2 1:0-1"},
        {"(ab)*", "ababab", M, 1, "0:0-6 1:4-6"},
        /* A group that took no part. */
        {"(a)|(b)", "b", M, 1, "0:0-1 1:-1--1 2:0-1"},
        /* Loops over what can match nothing end. */
        {"(a*)*", "aaa", M, 1, NULL},
        {"(a*)+b", "aab", M, 1, NULL},
        {"(a|)*c", "aac", M, 1, NULL},
        /* Classes. */
        {"[a-c]+", "abcab", M, 1, NULL},
        {"[^,]+", "ab,c", L, 1, "0:0-2"},
        {"[\\d.]+", "3.14", M, 1, NULL},
        {"\\w+@\\w+", "duke@sme", M, 1, NULL},
        {"\\s*x\\s*", " \tx ", M, 1, NULL},
        {"[-a]+", "a-a", M, 1, NULL},
        {"[a-]+", "a-a", M, 1, NULL},
        {"[\\]]", "]", M, 1, NULL},
        {"[]a]+", "]a", M, 1, NULL},
        {"\\D\\W\\S", "a, ", M, 0, NULL},
        {"\\D\\W\\S", "a,b", M, 1, NULL},
        /* Anchors: Java's $ also before a final line terminator. */
        {"^ab$", "ab", M, 1, NULL},
        {"ab$", "ab\n", F, 1, "0:0-2"},
        {"ab$", "abc", F, 0, NULL},
        {"^b", "ab", F, 0, NULL},
        /* Escapes. */
        {"a\\.b", "a.b", M, 1, NULL},
        {"a\\.b", "axb", M, 0, NULL},
        {"\\/\\,\\=", "/,=", M, 1, NULL},
        {"\\x41", "A", M, 1, NULL},
        {"(?i)cn=([a-z]+)", "CN=Duke", M, 1, "0:0-7 1:3-7"},
        {"(?i)[a-c]", "B", M, 1, NULL},
        /* Empty pattern, empty input. */
        {"", "", M, 1, "0:0-0"},
        {"", "a", F, 1, "0:0-0"},
        {"a*", "", M, 1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
}

static void test_regex_refusals_and_budget(void **state) {
    (void)state;
    const char *bad[] = {"(a",     "a)",     "[a",     "*a",   "a**",    "a{2",   "a{3,2}", "\\1",
                         "\\b",    "\\p{L}", "(?=a)",  "(?<n>a)", "a++", "[a&&b]", "\\Qa\\E", "a\\",
                         "[z-a]",  "{2}",    "(?i",    "\\k<n>"};
    char error[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_regex_t *re = st_regex_compile(bad[i], strlen(bad[i]), error, sizeof error);
        if (re) fail_msg("compiled /%s/", bad[i]);
        assert_true(error[0] != '\0');
    }
    /* Too long, too many groups. */
    char big[ST_REGEX_PATTERN_BYTES_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_null(st_regex_compile(big, strlen(big), error, sizeof error));
    char groups[4 * (ST_REGEX_GROUPS_MAX + 1) + 1] = "";
    for (int i = 0; i <= ST_REGEX_GROUPS_MAX; i++) strcat(groups, "(a)");
    assert_null(st_regex_compile(groups, strlen(groups), error, sizeof error));
    assert_non_null(strstr(error, "too many groups"));
    /* A catastrophic pattern gives up instead of stalling. */
    st_regex_t *re = st_regex_compile("(a|aa)*b", 8, error, sizeof error);
    assert_non_null(re);
    char input[64];
    memset(input, 'a', 60);
    input[60] = '\0';
    st_regex_match_t m;
    assert_int_equal(st_regex_exec(re, input, 60, 0, ST_REGEX_MATCHES, &m), ST_REGEX_BUDGET);
    st_regex_free(re);
    /* ...and so does a mapping rule built on it. */
    st_principal_mapper_t *mapper = st_principal_mapper_new("RULE:^(a|aa)*b$/x/,DEFAULT", error, sizeof error);
    assert_non_null(mapper);
    char out[128];
    assert_int_equal(st_principal_mapper_map(mapper, input, out, sizeof out), ST_ERR_LIMIT);
    st_principal_mapper_free(mapper);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_examples),
        cmocka_unit_test(test_java_replace_all_quirks),
        cmocka_unit_test(test_valid_and_invalid_rules),
        cmocka_unit_test(test_principals),
        cmocka_unit_test(test_regex_semantics),
        cmocka_unit_test(test_regex_refusals_and_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
