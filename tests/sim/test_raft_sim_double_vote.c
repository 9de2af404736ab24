/*
 * The simulation around a core built with ST_RAFT_TEST_DOUBLE_VOTE (it
 * votes for every up-to-date candidate, several per epoch): the checker
 * must report two leaders in one epoch, and the replay line must name the
 * seed. Linked only with that test build of raft/quorum_step.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raft_sim.h"

static void test_double_vote_gives_two_leaders_in_an_epoch(void **state) {
    (void)state;
    uint64_t caught_at = 0;
    for (uint64_t seed = 1; seed <= 500 && !caught_at; seed++) {
        sim_options_t o;
        sim_options_default(&o);
        o.seed = seed;
        o.voters = seed % 2 ? 3 : 5;
        o.duration_ms = 120000;
        o.quiet_ms = 20000;
        sim_t *s = sim_create(&o);
        if (!sim_run(s)) {
            if (strstr(sim_failure(s), "two leaders in epoch")) caught_at = seed;
        }
        sim_destroy(s);
    }
    if (!caught_at) fail_msg("500 seeds with a double-voting core and no two leaders in one epoch reported");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_vote_gives_two_leaders_in_an_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
