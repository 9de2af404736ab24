/* Unit tests for raft/metadata_log: records of every type survive append,
 * close and reopen (replay applies them again, in order); one change is one
 * batch; each record type round-trips through encode/decode; truncated or
 * garbage values are refused with an error, never a crash.
 *
 * Records are compared by their encoded bytes: encode(decode(encode(x))) ==
 * encode(x) says the decoder kept every field that version carries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/errors.h"
#include "raft/metadata_log.h"
#include "storage/fsutil.h"
#include "storage/log.h"

#define SEEN_MAX 64

/* What the apply callback saw: each record's encoded bytes, in order. */
typedef struct seen {
    int count;
    uint8_t *bytes[SEEN_MAX];
    size_t len[SEEN_MAX];
    int replayed; /* how many came with ST_METADATA_REPLAYED */
} seen_t;

static void seen_clear(seen_t *s) {
    for (int i = 0; i < s->count; i++) free(s->bytes[i]);
    s->count = 0;
    s->replayed = 0;
}

static void encode_copy(const st_metadata_record_t *rec, uint8_t **bytes, size_t *len) {
    st_writer_t w;
    st_writer_init(&w, 64);
    st_metadata_record_encode(rec, &w);
    *bytes = malloc(w.len ? w.len : 1);
    assert_non_null(*bytes);
    memcpy(*bytes, w.data, w.len);
    *len = w.len;
    st_writer_free(&w);
}

static void record_apply(void *ctx, const st_metadata_record_t *rec, st_metadata_apply_phase_t phase) {
    seen_t *s = ctx;
    if (phase == ST_METADATA_REPLAYED) s->replayed++;
    assert_true(s->count < SEEN_MAX);
    encode_copy(rec, &s->bytes[s->count], &s->len[s->count]);
    s->count++;
}

/* One record of each type at each version the log uses, with fields set
 * away from their defaults; messages live in `arena`. */
typedef struct sample {
    int count;
    st_metadata_record_t records[16];
} sample_t;

static int32_t replicas[] = {1, 2, 3};
static int32_t isr[] = {1, 3};
static int32_t elr[] = {2};
static st_uuid_t dirs[] = {{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
                           {{16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}}};

static st_uuid_t uuid_of(int n) {
    st_uuid_t u;
    for (int i = 0; i < 16; i++) u.bytes[i] = (uint8_t)(n * 16 + i + 1);
    return u;
}

static void add(sample_t *s, int16_t type, int16_t version, const void *m) {
    assert_true(s->count < 16);
    s->records[s->count++] = (st_metadata_record_t){type, version, m};
}

static void sample_make(sample_t *s, st_arena_t *arena) {
    s->count = 0;
    st_topic_record_t *t = st_arena_alloc(arena, sizeof *t);
    st_topic_record_init(t);
    t->name = st_str("orders");
    t->topic_id = uuid_of(1);
    add(s, ST_METADATA_TOPIC_RECORD, 0, t);
    for (int16_t v = 0; v <= 2; v++) {
        st_partition_record_t *p = st_arena_alloc(arena, sizeof *p);
        st_partition_record_init(p);
        p->partition_id = v;
        p->topic_id = uuid_of(1);
        p->replicas = replicas;
        p->replicas_count = 3;
        p->isr = isr;
        p->isr_count = 2;
        p->removing_replicas_count = 0;
        p->adding_replicas_count = 0;
        p->leader = 3;
        p->leader_recovery_state = 1;
        p->leader_epoch = 7 + v;
        p->partition_epoch = 11 + v;
        if (v >= 1) {
            p->directories = dirs;
            p->directories_count = 2;
        }
        if (v >= 2) {
            p->eligible_leader_replicas = elr;
            p->eligible_leader_replicas_count = 1;
            p->last_known_elr = elr;
            p->last_known_elr_count = 1;
        }
        add(s, ST_METADATA_PARTITION_RECORD, v, p);
    }
    st_config_record_t *c = st_arena_alloc(arena, sizeof *c);
    st_config_record_init(c);
    c->resource_type = 2;
    c->resource_name = st_str("orders");
    c->name = st_str("retention.ms");
    c->value = st_str("86400000");
    add(s, ST_METADATA_CONFIG_RECORD, 0, c);
    st_config_record_t *c_null = st_arena_alloc(arena, sizeof *c_null);
    st_config_record_init(c_null);
    c_null->resource_type = 2;
    c_null->resource_name = st_str("orders");
    c_null->name = st_str("cleanup.policy");
    c_null->value = st_str_null(); /* a deleted config */
    add(s, ST_METADATA_CONFIG_RECORD, 0, c_null);
    for (int16_t v = 0; v <= 2; v++) {
        st_partition_change_record_t *pc = st_arena_alloc(arena, sizeof *pc);
        st_partition_change_record_init(pc);
        pc->partition_id = 1;
        pc->topic_id = uuid_of(1);
        pc->isr = isr;
        pc->isr_count = 2;
        pc->leader = 1;
        if (v >= 1) {
            pc->directories = dirs;
            pc->directories_count = 1;
        }
        if (v >= 2) {
            pc->eligible_leader_replicas = elr;
            pc->eligible_leader_replicas_count = 1;
        }
        add(s, ST_METADATA_PARTITION_CHANGE_RECORD, v, pc);
    }
    st_remove_topic_record_t *rt = st_arena_alloc(arena, sizeof *rt);
    st_remove_topic_record_init(rt);
    rt->topic_id = uuid_of(1);
    add(s, ST_METADATA_REMOVE_TOPIC_RECORD, 0, rt);
    st_feature_level_record_t *f = st_arena_alloc(arena, sizeof *f);
    st_feature_level_record_init(f);
    f->name = st_str("metadata.version");
    f->feature_level = 21;
    add(s, ST_METADATA_FEATURE_LEVEL_RECORD, 0, f);
    st_producer_ids_record_t *pid = st_arena_alloc(arena, sizeof *pid);
    st_producer_ids_record_init(pid);
    pid->broker_id = 1;
    pid->broker_epoch = 5;
    pid->next_producer_id = 4000;
    add(s, ST_METADATA_PRODUCER_IDS_RECORD, 0, pid);
}

static void assert_seen_matches(const seen_t *s, int first, const sample_t *sample) {
    for (int i = 0; i < sample->count; i++) {
        uint8_t *want;
        size_t want_len;
        encode_copy(&sample->records[i], &want, &want_len);
        assert_int_equal(s->len[first + i], want_len);
        assert_memory_equal(s->bytes[first + i], want, want_len);
        free(want);
    }
}

static void make_dir(char *dir, size_t cap) {
    snprintf(dir, cap, "/tmp/strata-metadata-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void test_append_close_reopen_replays_in_order(void **state) {
    (void)state;
    char root[64], dir[128];
    make_dir(root, sizeof root);
    snprintf(dir, sizeof dir, "%s/__cluster_metadata-0", root);
    st_arena_t arena;
    st_arena_init(&arena);
    sample_t sample;
    sample_make(&sample, &arena);
    seen_t seen = {0};

    st_metadata_log_t *m = NULL;
    assert_int_equal(st_metadata_log_open(dir, 1000, record_apply, &seen, &m), 0);
    assert_int_equal(seen.count, 0);
    assert_int_equal(st_metadata_log_end_offset(m), 0);
    /* One record per change, then one change of the whole sample. */
    for (int i = 0; i < sample.count; i++)
        assert_int_equal(st_metadata_log_append(m, &sample.records[i], 1, 1000 + i), 0);
    assert_int_equal(st_metadata_log_append(m, sample.records, sample.count, 2000), 0);
    /* Append applies each record after it is durable. */
    assert_int_equal(seen.count, 2 * sample.count);
    assert_int_equal(seen.replayed, 0);
    assert_seen_matches(&seen, 0, &sample);
    assert_seen_matches(&seen, sample.count, &sample);
    int64_t end = st_metadata_log_end_offset(m);
    assert_int_equal(end, 2 * sample.count);
    st_metadata_log_close(m);

    seen_clear(&seen);
    m = NULL;
    assert_int_equal(st_metadata_log_open(dir, 3000, record_apply, &seen, &m), 0);
    assert_int_equal(seen.count, 2 * sample.count);
    assert_int_equal(seen.replayed, 2 * sample.count);
    assert_seen_matches(&seen, 0, &sample);
    assert_seen_matches(&seen, sample.count, &sample);
    assert_int_equal(st_metadata_log_end_offset(m), end);
    st_metadata_log_close(m);

    seen_clear(&seen);
    st_arena_free(&arena);
    st_fs_remove_dir(dir);
    rmdir(root);
}

/* The records of one change are one batch: the log's end offset moves by
 * the record count, and a reopened log sees them all. */
typedef struct batch_count {
    int batches;
} batch_count_t;

static int count_batch(void *ctx, const uint8_t *batch, size_t len) {
    (void)batch;
    (void)len;
    ((batch_count_t *)ctx)->batches++;
    return 0;
}

static void test_change_is_one_batch(void **state) {
    (void)state;
    char root[64], dir[128];
    make_dir(root, sizeof root);
    snprintf(dir, sizeof dir, "%s/__cluster_metadata-0", root);
    st_arena_t arena;
    st_arena_init(&arena);
    sample_t sample;
    sample_make(&sample, &arena);
    seen_t seen = {0};

    st_metadata_log_t *m = NULL;
    assert_int_equal(st_metadata_log_open(dir, 1000, record_apply, &seen, &m), 0);
    assert_int_equal(st_metadata_log_append(m, sample.records, sample.count, 1000), 0);
    assert_int_equal(st_metadata_log_append(m, sample.records, 3, 1001), 0);
    st_metadata_log_close(m);

    /* Read the log directly: two changes, two batches. */
    st_log_config_t cfg;
    st_log_config_default(&cfg);
    cfg.retention_ms = -1;
    cfg.retention_bytes = -1;
    cfg.cleanup_delete = false;
    st_log_t *log = NULL;
    assert_int_equal(st_log_open(dir, &cfg, 2000, &log), 0);
    batch_count_t bc = {0};
    assert_int_equal(st_log_for_each_batch(log, st_log_start_offset(log), count_batch, &bc), 0);
    assert_int_equal(bc.batches, 2);
    assert_int_equal(st_log_end_offset(log), sample.count + 3);
    st_log_close(log);

    seen_clear(&seen);
    st_arena_free(&arena);
    st_fs_remove_dir(dir);
    rmdir(root);
}

static void test_record_roundtrip_each_type(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    sample_t sample;
    sample_make(&sample, &arena);
    for (int i = 0; i < sample.count; i++) {
        uint8_t *bytes;
        size_t len;
        encode_copy(&sample.records[i], &bytes, &len);
        st_metadata_record_t out;
        assert_int_equal(st_metadata_record_decode(bytes, (int32_t)len, &arena, &out), 0);
        assert_int_equal(out.type, sample.records[i].type);
        assert_int_equal(out.version, sample.records[i].version);
        assert_non_null(out.message);
        uint8_t *again;
        size_t again_len;
        encode_copy(&out, &again, &again_len);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, bytes, len);
        free(again);
        free(bytes);
    }
    /* A field checked by value, not only by bytes. */
    st_topic_record_t topic;
    st_topic_record_init(&topic);
    topic.name = st_str("orders");
    memset(topic.topic_id.bytes, 0xab, sizeof topic.topic_id.bytes);
    st_metadata_record_t rec = {ST_METADATA_TOPIC_RECORD, 0, &topic};
    uint8_t *bytes;
    size_t len;
    encode_copy(&rec, &bytes, &len);
    st_metadata_record_t out;
    assert_int_equal(st_metadata_record_decode(bytes, (int32_t)len, &arena, &out), 0);
    const st_topic_record_t *got = out.message;
    assert_true(st_str_eq(got->name, "orders"));
    assert_memory_equal(got->topic_id.bytes, topic.topic_id.bytes, 16);
    free(bytes);
    st_arena_free(&arena);
}

static void test_decode_truncated_is_error(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    sample_t sample;
    sample_make(&sample, &arena);
    for (int i = 0; i < sample.count; i++) {
        uint8_t *bytes;
        size_t len;
        encode_copy(&sample.records[i], &bytes, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* Copy so a read past `cut` would be a real overrun. */
            uint8_t *prefix = malloc(cut ? cut : 1);
            assert_non_null(prefix);
            memcpy(prefix, bytes, cut);
            st_metadata_record_t out;
            assert_int_not_equal(st_metadata_record_decode(prefix, (int32_t)cut, &arena, &out), 0);
            free(prefix);
        }
        free(bytes);
    }
    st_arena_free(&arena);
}

static void test_decode_garbage_is_error(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);
    st_metadata_record_t out;
    assert_int_not_equal(st_metadata_record_decode(NULL, 0, &arena, &out), 0);
    const uint8_t one[] = {1, 2, 0};
    assert_int_not_equal(st_metadata_record_decode(one, -1, &arena, &out), 0);
    /* Frame version 2 is not one this log writes. */
    const uint8_t frame2[] = {2, 2, 0, 0, 0};
    assert_int_not_equal(st_metadata_record_decode(frame2, sizeof frame2, &arena, &out), 0);
    /* Unknown record type. */
    const uint8_t unknown[] = {1, 99, 0, 0};
    assert_int_not_equal(st_metadata_record_decode(unknown, sizeof unknown, &arena, &out), 0);
    /* Type beyond int16 (varint 0x10000). */
    const uint8_t wide[] = {1, 0x80, 0x80, 0x04, 0};
    assert_int_not_equal(st_metadata_record_decode(wide, sizeof wide, &arena, &out), 0);
    /* Unterminated varint. */
    const uint8_t endless[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_not_equal(st_metadata_record_decode(endless, sizeof endless, &arena, &out), 0);
    /* A topic record whose name length claims more than remains. */
    const uint8_t long_name[] = {1, ST_METADATA_TOPIC_RECORD, 0, 0x7f, 'a', 'b'};
    assert_int_not_equal(st_metadata_record_decode(long_name, sizeof long_name, &arena, &out), 0);
    /* Pseudo-random bytes behind a valid frame header: any result but a
     * crash; the decoder must stay inside the buffer. */
    uint32_t x = 12345;
    for (int round = 0; round < 2000; round++) {
        uint8_t buf[48];
        size_t n = 3 + (size_t)(round % 45);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        buf[0] = 1;
        buf[1] = (uint8_t)(2 + round % 14);
        buf[2] = (uint8_t)(round % 3);
        uint8_t *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, buf, n);
        (void)st_metadata_record_decode(copy, (int32_t)n, &arena, &out);
        free(copy);
    }
    st_arena_free(&arena);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_close_reopen_replays_in_order),
        cmocka_unit_test(test_change_is_one_batch),
        cmocka_unit_test(test_record_roundtrip_each_type),
        cmocka_unit_test(test_decode_truncated_is_error),
        cmocka_unit_test(test_decode_garbage_is_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
