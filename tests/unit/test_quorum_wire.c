/*
 * The converters between the Raft core's messages and the wire structs
 * (raft/quorum_wire.h): every message, at every version of its API, goes
 * core -> wire -> bytes -> wire -> core unchanged; inbound requests from
 * the wrong cluster, topic or voter get Kafka's errors; Fetch records are
 * cut into whole, CRC-checked batches; Vote v2's bytes are as Kafka's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/errors.h"
#include "protocol/record_batch.h"
#include "raft/quorum_wire.h"

static const st_quorum_wire_context_t ctx = {"cluster-a", 2};

/* Encodes `w` at version v with the API's encoder and decodes it again. */
static void *through_bytes(int16_t api, bool request, int16_t v, const void *w, st_arena_t *a) {
    const st_api_info_t *info = st_api_info_find(api);
    assert_non_null(info);
    st_writer_t out;
    st_writer_init(&out, 64);
    (request ? info->request_encode : info->response_encode)(&out, v, w);
    assert_int_equal(out.len, (request ? info->request_size : info->response_size)(v, w));
    void *back = st_arena_alloc(a, request ? info->request_bytes : info->response_bytes);
    /* Decoded records point into the bytes: keep them as long as the arena. */
    const uint8_t *bytes = st_arena_memdup(a, out.data, out.len);
    st_reader_t r;
    st_reader_init(&r, bytes, out.len);
    assert_int_equal((request ? info->request_decode : info->response_decode)(&r, a, v, back), 0);
    assert_int_equal(st_reader_remaining(&r), 0);
    st_writer_free(&out);
    return back;
}

static void test_vote_every_version(void **state) {
    (void)state;
    for (int16_t v = 0; v <= 2; v++) {
        st_arena_t a;
        st_arena_init(&a);
        st_raft_message_t m = {.kind = ST_RAFT_MSG_VOTE_REQUEST, .correlation_id = 9};
        m.vote_request = (st_raft_vote_request_t){5, 1, 4, 10, v >= 2};
        st_vote_request_t w;
        assert_int_equal(st_quorum_wire_vote_request_out(&m, 2, &ctx, v, &a, &w), 0);
        st_raft_message_t back;
        assert_int_equal(st_quorum_wire_vote_request_in(through_bytes(ST_API_VOTE, true, v, &w, &a), v, 9, &ctx, &back),
                         0);
        assert_int_equal(back.kind, m.kind);
        assert_int_equal(back.correlation_id, 9);
        assert_memory_equal(&back.vote_request, &m.vote_request, sizeof m.vote_request);

        m.kind = ST_RAFT_MSG_VOTE_RESPONSE;
        m.vote_response = (st_raft_vote_response_t){ST_ERR_FENCED_LEADER_EPOCH, 3, 6, false};
        st_vote_response_t wr;
        assert_int_equal(st_quorum_wire_vote_response_out(&m, v, &a, &wr), 0);
        assert_int_equal(st_quorum_wire_vote_response_in(through_bytes(ST_API_VOTE, false, v, &wr, &a), 9, &back), 0);
        assert_memory_equal(&back.vote_response, &m.vote_response, sizeof m.vote_response);
        st_arena_free(&a);
    }
    /* A pre-vote needs v2. */
    st_arena_t a;
    st_arena_init(&a);
    st_raft_message_t m = {.kind = ST_RAFT_MSG_VOTE_REQUEST};
    m.vote_request.pre_vote = true;
    st_vote_request_t w;
    assert_int_equal(st_quorum_wire_vote_request_out(&m, 2, &ctx, 1, &a, &w), ST_ERR_UNSUPPORTED_VERSION);
    st_arena_free(&a);
}

static void test_begin_and_end_epoch_every_version(void **state) {
    (void)state;
    for (int16_t v = 0; v <= 1; v++) {
        st_arena_t a;
        st_arena_init(&a);
        st_raft_message_t m = {.kind = ST_RAFT_MSG_BEGIN_EPOCH_REQUEST, .correlation_id = 4};
        m.begin_epoch_request = (st_raft_begin_epoch_request_t){3, 8};
        st_begin_quorum_epoch_request_t b;
        assert_int_equal(st_quorum_wire_begin_epoch_request_out(&m, 2, &ctx, v, &a, &b), 0);
        st_raft_message_t back;
        assert_int_equal(st_quorum_wire_begin_epoch_request_in(
                             through_bytes(ST_API_BEGIN_QUORUM_EPOCH, true, v, &b, &a), v, 4, &ctx, &back),
                         0);
        assert_memory_equal(&back.begin_epoch_request, &m.begin_epoch_request, sizeof m.begin_epoch_request);

        m.kind = ST_RAFT_MSG_BEGIN_EPOCH_RESPONSE;
        m.epoch_response = (st_raft_epoch_response_t){ST_ERR_NONE, 3, 8};
        st_begin_quorum_epoch_response_t br;
        st_quorum_wire_begin_epoch_response_out(&m, v, &a, &br);
        assert_int_equal(st_quorum_wire_begin_epoch_response_in(
                             through_bytes(ST_API_BEGIN_QUORUM_EPOCH, false, v, &br, &a), 4, &back),
                         0);
        assert_memory_equal(&back.epoch_response, &m.epoch_response, sizeof m.epoch_response);

        m.kind = ST_RAFT_MSG_END_EPOCH_REQUEST;
        m.end_epoch_request = (st_raft_end_epoch_request_t){.leader_id = 3, .leader_epoch = 8,
                                                            .preferred_successors = {2, 1}, .preferred_count = 2};
        st_end_quorum_epoch_request_t e;
        st_quorum_wire_end_epoch_request_out(&m, &ctx, v, &a, &e);
        assert_int_equal(st_quorum_wire_end_epoch_request_in(
                             through_bytes(ST_API_END_QUORUM_EPOCH, true, v, &e, &a), v, 4, &ctx, &back),
                         0);
        assert_int_equal(back.end_epoch_request.leader_id, 3);
        assert_int_equal(back.end_epoch_request.leader_epoch, 8);
        assert_int_equal(back.end_epoch_request.preferred_count, 2);
        assert_int_equal(back.end_epoch_request.preferred_successors[0], 2);
        assert_int_equal(back.end_epoch_request.preferred_successors[1], 1);

        m.kind = ST_RAFT_MSG_END_EPOCH_RESPONSE;
        m.epoch_response = (st_raft_epoch_response_t){ST_ERR_NOT_LEADER_OR_FOLLOWER, -1, 9};
        st_end_quorum_epoch_response_t er;
        st_quorum_wire_end_epoch_response_out(&m, v, &a, &er);
        assert_int_equal(st_quorum_wire_end_epoch_response_in(
                             through_bytes(ST_API_END_QUORUM_EPOCH, false, v, &er, &a), 4, &back),
                         0);
        assert_memory_equal(&back.epoch_response, &m.epoch_response, sizeof m.epoch_response);
        st_arena_free(&a);
    }
}

static void build_batches(st_writer_t *out, int64_t base, int32_t batches, int32_t records, int32_t epoch) {
    for (int32_t b = 0; b < batches; b++) {
        st_batch_builder_t bb;
        st_batch_builder_init(&bb, ST_CODEC_NONE, base);
        bb.partition_leader_epoch = epoch;
        for (int32_t i = 0; i < records; i++) st_batch_builder_add(&bb, i, 1000, NULL, -1, (const uint8_t *)"v", 1, NULL, 0);
        assert_int_equal(st_batch_builder_finish(&bb, out), 0);
        st_batch_builder_free(&bb);
        base += records;
    }
}

static void test_fetch_every_kraft_version(void **state) {
    (void)state;
    st_writer_t records;
    st_writer_init(&records, 256);
    build_batches(&records, 40, 3, 2, 7);
    for (int16_t v = 12; v <= 17; v++) {
        st_arena_t a;
        st_arena_init(&a);
        st_raft_message_t m = {.kind = ST_RAFT_MSG_FETCH_REQUEST, .correlation_id = 5};
        m.fetch_request = (st_raft_fetch_request_t){3, 7, 40, 6, 500, 8 << 20};
        st_fetch_request_t w;
        assert_int_equal(st_quorum_wire_fetch_request_out(&m, &ctx, v, &a, &w), 0);
        st_raft_message_t back;
        assert_int_equal(st_quorum_wire_fetch_request_in(through_bytes(ST_API_FETCH, true, v, &w, &a), v, 5, &ctx,
                                                         &back),
                         0);
        assert_memory_equal(&back.fetch_request, &m.fetch_request, sizeof m.fetch_request);

        m.kind = ST_RAFT_MSG_FETCH_RESPONSE;
        m.fetch_response = (st_raft_fetch_response_t){.error = ST_ERR_NONE, .leader_id = 1, .leader_epoch = 7,
                                                      .high_watermark = 39, .log_start_offset = 10,
                                                      .diverging_epoch = {-1, -1}, .snapshot_id = {-1, -1}};
        st_records_t rec = {.ptr = records.data, .len = (int32_t)records.len, .fd = -1};
        st_fetch_response_t wr;
        assert_int_equal(st_quorum_wire_fetch_response_out(&m, &rec, v, &a, &wr), 0);
        st_quorum_wire_batches_t batches;
        assert_int_equal(st_quorum_wire_fetch_response_in(through_bytes(ST_API_FETCH, false, v, &wr, &a), v, 5,
                                                          &batches, &back),
                         0);
        const st_raft_fetch_response_t *r = &back.fetch_response;
        assert_int_equal(r->leader_id, 1);
        assert_int_equal(r->leader_epoch, 7);
        assert_int_equal(r->high_watermark, 39);
        assert_int_equal(r->diverging_epoch.epoch, -1);
        assert_int_equal(r->snapshot_id.epoch, -1);
        assert_int_equal(r->batch_count, 3);
        assert_ptr_equal(r->batches, batches.batches);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(r->batches[i].base_offset, 40 + 2 * i);
            assert_int_equal(r->batches[i].record_count, 2);
            assert_int_equal(r->batches[i].epoch, 7);
        }
        assert_false(batches.corrupt);
        assert_int_equal(batches.byte_offset[2] + batches.byte_length[2], (int32_t)records.len);

        /* Diverging epoch and snapshot id travel in their tagged fields. */
        m.fetch_response.diverging_epoch = (st_raft_offset_epoch_t){30, 5};
        m.fetch_response.snapshot_id = (st_raft_offset_epoch_t){20, 4};
        st_quorum_wire_fetch_response_out(&m, NULL, v, &a, &wr);
        st_quorum_wire_fetch_response_in(through_bytes(ST_API_FETCH, false, v, &wr, &a), v, 5, &batches, &back);
        assert_int_equal(back.fetch_response.diverging_epoch.offset, 30);
        assert_int_equal(back.fetch_response.diverging_epoch.epoch, 5);
        assert_int_equal(back.fetch_response.snapshot_id.offset, 20);
        assert_int_equal(back.fetch_response.snapshot_id.epoch, 4);
        assert_int_equal(back.fetch_response.batch_count, 0);
        st_arena_free(&a);
    }
    st_arena_t a;
    st_arena_init(&a);
    st_raft_message_t m = {.kind = ST_RAFT_MSG_FETCH_REQUEST};
    st_fetch_request_t w;
    assert_int_equal(st_quorum_wire_fetch_request_out(&m, &ctx, 11, &a, &w), ST_ERR_UNSUPPORTED_VERSION);
    st_arena_free(&a);
    st_writer_free(&records);
}

static void test_batches_are_whole_and_checked(void **state) {
    (void)state;
    st_writer_t records;
    st_writer_init(&records, 256);
    build_batches(&records, 0, 4, 3, 2);
    st_quorum_wire_batches_t b;
    st_quorum_wire_parse_batches(records.data, (int32_t)records.len - 5, &b); /* the last one cut short */
    assert_int_equal(b.count, 3);
    assert_false(b.corrupt);
    uint8_t *copy = malloc(records.len);
    memcpy(copy, records.data, records.len);
    copy[b.byte_offset[1] + ST_BATCH_HEADER_BYTES + 2] ^= 1; /* a flipped bit in the second batch's records */
    st_quorum_wire_parse_batches(copy, (int32_t)records.len, &b);
    assert_int_equal(b.count, 1);
    assert_true(b.corrupt);
    st_quorum_wire_parse_batches(NULL, 0, &b);
    assert_int_equal(b.count, 0);
    free(copy);
    st_writer_free(&records);
}

static void test_fetch_snapshot_every_version(void **state) {
    (void)state;
    const uint8_t chunk[] = "snapshot bytes";
    for (int16_t v = 0; v <= 1; v++) {
        st_arena_t a;
        st_arena_init(&a);
        st_raft_message_t m = {.kind = ST_RAFT_MSG_FETCH_SNAPSHOT_REQUEST, .correlation_id = 6};
        m.fetch_snapshot_request = (st_raft_fetch_snapshot_request_t){3, 7, {100, 6}, 4096, 65536};
        st_fetch_snapshot_request_t w;
        st_quorum_wire_fetch_snapshot_request_out(&m, &ctx, v, &a, &w);
        st_raft_message_t back;
        assert_int_equal(st_quorum_wire_fetch_snapshot_request_in(
                             through_bytes(ST_API_FETCH_SNAPSHOT, true, v, &w, &a), 6, &ctx, &back),
                         0);
        assert_memory_equal(&back.fetch_snapshot_request, &m.fetch_snapshot_request, sizeof m.fetch_snapshot_request);

        m.kind = ST_RAFT_MSG_FETCH_SNAPSHOT_RESPONSE;
        m.fetch_snapshot_response = (st_raft_fetch_snapshot_response_t){ST_ERR_NONE, 1, 7, {100, 6}, 9000, 4096,
                                                                        (int32_t)sizeof chunk};
        st_records_t rec = {.ptr = chunk, .len = (int32_t)sizeof chunk, .fd = -1};
        st_fetch_snapshot_response_t wr;
        st_quorum_wire_fetch_snapshot_response_out(&m, &rec, v, &a, &wr);
        st_records_t got;
        assert_int_equal(st_quorum_wire_fetch_snapshot_response_in(
                             through_bytes(ST_API_FETCH_SNAPSHOT, false, v, &wr, &a), 6, &got, &back),
                         0);
        assert_memory_equal(&back.fetch_snapshot_response, &m.fetch_snapshot_response,
                            sizeof m.fetch_snapshot_response);
        assert_int_equal(got.len, (int32_t)sizeof chunk);
        assert_memory_equal(got.ptr, chunk, sizeof chunk);
        st_arena_free(&a);
    }
}

static void test_describe_quorum_every_version(void **state) {
    (void)state;
    st_raft_description_t d = {.leader_id = 1, .leader_epoch = 4, .high_watermark = 77, .voter_count = 2,
                               .observer_count = 1};
    d.voters[0] = (st_raft_replica_description_t){1, 80, 500, 500};
    d.voters[1] = (st_raft_replica_description_t){2, 77, 450, 440};
    d.observers[0] = (st_raft_replica_description_t){101, 70, 400, -1};
    for (int16_t v = 0; v <= 2; v++) {
        st_arena_t a;
        st_arena_init(&a);
        st_describe_quorum_response_t w;
        st_quorum_wire_describe_response_out(&d, v, &a, &w);
        st_describe_quorum_response_t *back = through_bytes(ST_API_DESCRIBE_QUORUM, false, v, &w, &a);
        const st_describe_quorum_response_partition_data_t *p = &back->topics[0].partitions[0];
        assert_true(st_str_eq(back->topics[0].topic_name, ST_QUORUM_TOPIC_NAME));
        assert_int_equal(p->leader_id, 1);
        assert_int_equal(p->leader_epoch, 4);
        assert_int_equal(p->high_watermark, 77);
        assert_int_equal(p->current_voters_count, 2);
        assert_int_equal(p->current_voters[1].log_end_offset, 77);
        assert_int_equal(p->observers_count, 1);
        assert_int_equal(p->observers[0].replica_id, 101);
        /* v0 has no timestamps: they read back as the default -1. */
        assert_int_equal(p->current_voters[1].last_fetch_timestamp, v >= 1 ? 450 : -1);
        st_arena_free(&a);
    }
}

static void test_requests_from_elsewhere_get_kafkas_errors(void **state) {
    (void)state;
    st_arena_t a;
    st_arena_init(&a);
    st_raft_message_t m = {.kind = ST_RAFT_MSG_VOTE_REQUEST};
    m.vote_request = (st_raft_vote_request_t){5, 1, 4, 10, false};
    st_vote_request_t w;
    st_raft_message_t back;
    st_quorum_wire_vote_request_out(&m, 2, &ctx, 1, &a, &w);
    st_quorum_wire_context_t other = {"cluster-b", 2};
    assert_int_equal(st_quorum_wire_vote_request_in(&w, 1, 1, &other, &back), ST_ERR_INCONSISTENT_CLUSTER_ID);
    st_quorum_wire_context_t me3 = {"cluster-a", 3};
    assert_int_equal(st_quorum_wire_vote_request_in(&w, 1, 1, &me3, &back), ST_ERR_INVALID_VOTER_KEY);
    w.cluster_id = st_str_null(); /* no cluster id: accepted, as Kafka does */
    assert_int_equal(st_quorum_wire_vote_request_in(&w, 1, 1, &ctx, &back), 0);
    w.topics[0].topic_name = st_str("orders");
    assert_int_equal(st_quorum_wire_vote_request_in(&w, 1, 1, &ctx, &back), ST_ERR_INVALID_REQUEST);

    st_raft_message_t f = {.kind = ST_RAFT_MSG_FETCH_REQUEST};
    f.fetch_request = (st_raft_fetch_request_t){3, 7, 40, 6, 500, 1 << 20};
    st_fetch_request_t fw;
    st_quorum_wire_fetch_request_out(&f, &ctx, 13, &a, &fw);
    fw.topics[0].topic_id.bytes[3] = 9; /* some other topic's id */
    assert_int_equal(st_quorum_wire_fetch_request_in(&fw, 13, 1, &ctx, &back), ST_ERR_INVALID_REQUEST);
    fw.topics[0].topic_id = st_quorum_topic_id;
    fw.topics[0].partitions[0].partition = 1;
    assert_int_equal(st_quorum_wire_fetch_request_in(&fw, 13, 1, &ctx, &back), ST_ERR_INVALID_REQUEST);

    st_describe_quorum_request_partition_data_t part = {0};
    st_describe_quorum_request_topic_data_t topic = {st_str(ST_QUORUM_TOPIC_NAME), &part, 1};
    st_describe_quorum_request_t dq = {&topic, 1};
    assert_int_equal(st_quorum_wire_describe_request_check(&dq), 0);
    part.partition_index = 3;
    assert_int_equal(st_quorum_wire_describe_request_check(&dq), ST_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    st_arena_free(&a);
}

/* Vote v2, byte for byte (field order of Kafka's VoteRequest.json). */
static void test_vote_v2_bytes(void **state) {
    (void)state;
    st_arena_t a;
    st_arena_init(&a);
    st_raft_message_t m = {.kind = ST_RAFT_MSG_VOTE_REQUEST};
    m.vote_request = (st_raft_vote_request_t){5, 1, 4, 10, true};
    st_quorum_wire_context_t c = {"c1", 2};
    st_vote_request_t w;
    st_quorum_wire_vote_request_out(&m, 2, &c, 2, &a, &w);
    st_writer_t out;
    st_writer_init(&out, 64);
    st_vote_request_encode(&out, 2, &w);
    uint8_t want[128];
    size_t n = 0;
    want[n++] = 3, want[n++] = 'c', want[n++] = '1';               /* ClusterId */
    want[n++] = 0, want[n++] = 0, want[n++] = 0, want[n++] = 2;    /* VoterId */
    want[n++] = 2;                                                 /* one topic */
    want[n++] = 19;
    memcpy(want + n, "__cluster_metadata", 18);
    n += 18;
    want[n++] = 2;                                                 /* one partition */
    int32_t ints[] = {0, 5, 1};                                    /* index, epoch, candidate */
    for (int i = 0; i < 3; i++)
        for (int k = 3; k >= 0; k--) want[n++] = (uint8_t)(ints[i] >> (8 * k));
    memset(want + n, 0, 32);                                       /* two directory ids */
    n += 32;
    want[n++] = 0, want[n++] = 0, want[n++] = 0, want[n++] = 4;    /* LastOffsetEpoch */
    for (int k = 7; k >= 0; k--) want[n++] = (uint8_t)((uint64_t)10 >> (8 * k)); /* LastOffset */
    want[n++] = 1;                                                 /* PreVote */
    want[n++] = 0, want[n++] = 0, want[n++] = 0;                   /* tagged fields */
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, want, n);
    st_writer_free(&out);
    st_arena_free(&a);
}

static void test_leader_change_record(void **state) {
    (void)state;
    st_raft_config_t k;
    st_raft_config_default(&k);
    k.voter_count = 3;
    k.voters[0] = 4, k.voters[1] = 5, k.voters[2] = 6;
    st_raft_append_t ap = {.source = ST_RAFT_APPEND_LEADER_CHANGE, .leader_change = {5, 0x7, 0x6}};
    st_arena_t a;
    st_arena_init(&a);
    st_leader_change_message_t lc;
    st_quorum_wire_leader_change(&ap, &k, &a, &lc);
    assert_int_equal(lc.leader_id, 5);
    assert_int_equal(lc.voters_count, 3);
    assert_int_equal(lc.granting_voters_count, 2);
    assert_int_equal(lc.granting_voters[0].voter_id, 5);
    assert_int_equal(lc.granting_voters[1].voter_id, 6);
    st_writer_t out;
    st_writer_init(&out, 32);
    st_leader_change_message_encode(&out, 0, &lc);
    st_leader_change_message_t back;
    st_reader_t r;
    st_reader_init(&r, out.data, out.len);
    assert_int_equal(st_leader_change_message_decode(&r, &a, 0, &back), 0);
    assert_int_equal(back.granting_voters_count, 2);
    st_writer_free(&out);
    st_arena_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vote_every_version),
        cmocka_unit_test(test_begin_and_end_epoch_every_version),
        cmocka_unit_test(test_fetch_every_kraft_version),
        cmocka_unit_test(test_batches_are_whole_and_checked),
        cmocka_unit_test(test_fetch_snapshot_every_version),
        cmocka_unit_test(test_describe_quorum_every_version),
        cmocka_unit_test(test_requests_from_elsewhere_get_kafkas_errors),
        cmocka_unit_test(test_vote_v2_bytes),
        cmocka_unit_test(test_leader_change_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
