/*
 * The quorum-state file (raft/quorum_state.h): Strata writes what Kafka
 * writes (version 0), reads Kafka's version 0 and 1 files, and refuses
 * anything else with ST_ERR_CORRUPT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "raft/quorum_state.h"

static void test_writes_kafkas_version_0(void **state) {
    (void)state;
    st_raft_quorum_state_t s = {7, 2, 3};
    int32_t voters[] = {1, 2, 3};
    char buf[ST_QUORUM_STATE_BYTES_MAX];
    int n = st_quorum_state_encode(&s, voters, 3, buf, sizeof buf);
    const char *want = "{\"clusterId\":\"\",\"leaderId\":2,\"leaderEpoch\":7,\"votedId\":3,\"appliedOffset\":0,"
                       "\"currentVoters\":[{\"voterId\":1},{\"voterId\":2},{\"voterId\":3}],\"data_version\":0}\n";
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);

    st_quorum_state_file_t f;
    assert_int_equal(st_quorum_state_decode(buf, (size_t)n, &f), 0);
    assert_int_equal(f.data_version, 0);
    assert_int_equal(f.state.leader_epoch, 7);
    assert_int_equal(f.state.leader_id, 2);
    assert_int_equal(f.state.voted_id, 3);
    assert_int_equal(f.voter_count, 3);
    assert_int_equal(f.voters[2], 3);

    assert_int_equal(st_quorum_state_encode(&s, voters, 3, buf, 40), ST_ERR_LIMIT);
}

static void test_reads_kafkas_files(void **state) {
    (void)state;
    /* FileQuorumStateStore's documented examples. */
    const char *v0 = "{\"clusterId\":\"\",\"leaderId\":1,\"leaderEpoch\":2,\"votedId\":-1,\"appliedOffset\":0,"
                     "\"currentVoters\":[],\"data_version\":0}";
    const char *v1 = "{\"leaderId\":-1,\"leaderEpoch\":2,\"votedId\":1,\"votedDirectoryId\":\"J8aAPcfLQt2bqs1JT_rMgQ\","
                     "\"data_version\":1}";
    st_quorum_state_file_t f;
    assert_int_equal(st_quorum_state_decode(v0, strlen(v0), &f), 0);
    assert_int_equal(f.state.leader_id, 1);
    assert_int_equal(f.state.leader_epoch, 2);
    assert_int_equal(f.state.voted_id, -1);
    assert_int_equal(f.voter_count, 0);
    assert_int_equal(st_quorum_state_decode(v1, strlen(v1), &f), 0);
    assert_int_equal(f.data_version, 1);
    assert_int_equal(f.state.leader_id, -1);
    assert_int_equal(f.state.voted_id, 1);
    assert_int_equal(f.voter_count, -1);
}

static void test_refuses_what_is_not_a_quorum_state(void **state) {
    (void)state;
    const char *bad[] = {
        "",
        "{",
        "[]",
        "{\"leaderEpoch\":1}",                                            /* no data_version */
        "{\"leaderEpoch\":1,\"data_version\":2}",                         /* unknown version */
        "{\"leaderId\":1,\"data_version\":0}",                            /* no epoch */
        "{\"leaderEpoch\":-1,\"data_version\":0}",                        /* negative epoch */
        "{\"leaderEpoch\":\"1\",\"data_version\":0}",                     /* wrong type */
        "{\"leaderEpoch\":4294967296,\"data_version\":0}",                /* beyond int32 */
        "{\"leaderEpoch\":1,\"votedId\":-2,\"data_version\":0}",
        "{\"leaderEpoch\":1,\"currentVoters\":[{\"id\":1}],\"data_version\":0}",
        "{\"leaderEpoch\":1,\"leaderEpoch\":2,\"data_version\":0}",       /* duplicate key */
        "{\"leaderEpoch\":1,\"votedDirectoryId\":5,\"data_version\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st_quorum_state_file_t f;
        if (st_quorum_state_decode(bad[i], strlen(bad[i]), &f) != ST_ERR_CORRUPT) fail_msg("accepted: %s", bad[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_kafkas_version_0),
        cmocka_unit_test(test_reads_kafkas_files),
        cmocka_unit_test(test_refuses_what_is_not_a_quorum_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
