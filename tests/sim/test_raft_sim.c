/*
 * The simulation's checker (tests/sim/raft_sim.h): seeds of a correct core
 * pass and replay exactly; broken disks and a hand-corrupted committed
 * entry are reported. A checker that cannot fail proves nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raft_sim.h"

static sim_options_t options(uint64_t seed, int32_t voters) {
    sim_options_t o;
    sim_options_default(&o);
    o.seed = seed;
    o.voters = voters;
    o.observers = seed % 3 == 0 ? 1 : 0;
    o.duration_ms = 120000;
    o.quiet_ms = 20000;
    return o;
}

static void test_seeds_hold_and_make_progress(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        sim_options_t o = options(seed, seed % 2 ? 3 : 5);
        sim_t *s = sim_create(&o);
        bool ok = sim_run(s);
        if (!ok) fail_msg("seed %llu: %s", (unsigned long long)seed, sim_failure(s));
        sim_stats_t st;
        sim_stats(s, &st);
        assert_true(st.elections > 0);
        assert_true(st.committed > 0);
        assert_true(st.recovery_ms >= 0 && st.recovery_ms <= o.liveness_ms);
        sim_destroy(s);
    }
}

static void test_a_seed_replays_exactly(void **state) {
    (void)state;
    sim_stats_t a, b;
    for (int run = 0; run < 2; run++) {
        sim_options_t o = options(4242, 5);
        sim_t *s = sim_create(&o);
        assert_true(sim_run(s));
        sim_stats(s, run ? &b : &a);
        sim_destroy(s);
    }
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.steps > 1000);
}

static void test_corrupted_committed_entry_is_reported(void **state) {
    (void)state;
    sim_options_t o = options(7, 3);
    sim_t *s = sim_create(&o);
    while (sim_now_ms(s) < 60000) assert_true(sim_step(s));
    assert_true(sim_check_all(s));
    assert_null(sim_failure(s));
    assert_true(sim_corrupt_committed_entry(s));
    assert_false(sim_check_all(s));
    assert_non_null(sim_failure(s));
    assert_non_null(strstr(sim_failure(s), "differs from the committed log"));
    sim_destroy(s);
}

/* A disk that acknowledges fsyncs it did not do loses committed entries;
 * the checker must say so within a few seeds. */
static void test_lying_disk_is_reported(void **state) {
    (void)state;
    int caught = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        sim_options_t o = options(seed, 3);
        o.disk_fault = SIM_DISK_LOSES_FLUSHED;
        sim_t *s = sim_create(&o);
        if (!sim_run(s)) caught++;
        sim_destroy(s);
    }
    assert_true(caught >= 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_hold_and_make_progress),
        cmocka_unit_test(test_a_seed_replays_exactly),
        cmocka_unit_test(test_corrupted_committed_entry_is_reported),
        cmocka_unit_test(test_lying_disk_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
