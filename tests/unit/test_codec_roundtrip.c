/*
 * Every API in protocol/defs, every version, request and response: a
 * message filled with pseudo-random values encodes to exactly its computed
 * size, decodes, and encodes again to the same bytes. The same for the
 * request and response headers and the payloads that are not APIs (consumer
 * protocol, __consumer_offsets and __transaction_state records, the
 * security metadata records). Every API's definition covers exactly the
 * versions Kafka 3.9 served (issue 12: old clients), checked against a
 * table of them. Also: truncations of an encoding never decode,
 * and unknown tagged fields are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/messages.h"

enum { SEEDS_PER_VERSION = 40 };

/* The versions Kafka 3.9 served for each API key: its message definitions'
 * validVersions, without a latest version marked unstable (not served
 * unless unstable.api.versions.enable). max < min: no stable version. A
 * definition added to protocol/defs must cover its API's whole range. */
typedef struct served_range {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
} served_range_t;

static const served_range_t kafka_3_9_served[] = {
    {0, 0, 11},  {1, 0, 17},  {2, 0, 10},  {3, 0, 12},  {4, 0, 7},   {5, 0, 4},   {6, 0, 8},
    {7, 0, 3},   {8, 0, 9},   {9, 0, 9},   {10, 0, 6},  {11, 0, 9},  {12, 0, 4},  {13, 0, 5},
    {14, 0, 5},  {15, 0, 5},  {16, 0, 5},  {17, 0, 1},  {18, 0, 4},  {19, 0, 7},  {20, 0, 6},
    {21, 0, 2},  {22, 0, 5},  {23, 0, 4},  {24, 0, 5},  {25, 0, 4},
    {26, 0, 4}, /* EndTxn: v5 unstable in 3.9 */
    {27, 0, 1},  {28, 0, 4},  {29, 0, 3},  {30, 0, 3},  {31, 0, 3},  {32, 0, 4},  {33, 0, 2},
    {34, 0, 2},  {35, 0, 4},  {36, 0, 2},  {37, 0, 3},  {38, 0, 3},  {39, 0, 2},  {40, 0, 2},
    {41, 0, 3},  {42, 0, 2},  {43, 0, 2},  {44, 0, 1},  {45, 0, 0},  {46, 0, 0},  {47, 0, 0},
    {48, 0, 1},  {49, 0, 1},  {50, 0, 0},  {51, 0, 0},  {52, 0, 1},  {53, 0, 1},  {54, 0, 1},
    {55, 0, 2},  {56, 0, 3},  {57, 0, 2},  {58, 0, 0},  {59, 0, 1},  {60, 0, 1},  {61, 0, 0},
    {62, 0, 4},  {63, 0, 1},  {64, 0, 0},  {65, 0, 0},  {66, 0, 1},  {67, 0, 0},
    {68, 0, 0}, /* ConsumerGroupHeartbeat: v1 unstable */
    {69, 0, 0},  {70, 0, 0},  {71, 0, 0},  {72, 0, 0},  {73, 0, 0},  {74, 0, 0},  {75, 0, 0},
    /* Share groups (KIP-932) were early access in 3.9: no stable version. */
    {76, 0, -1}, {77, 0, -1}, {78, 0, -1}, {79, 0, -1},
    {80, 0, 0},  {81, 0, 0},  {82, 0, 0},
    {83, 0, -1}, {84, 0, -1}, {85, 0, -1}, {86, 0, -1}, {87, 0, -1},
};

static const served_range_t *served_by_kafka_3_9(int16_t key) {
    for (size_t i = 0; i < sizeof kafka_3_9_served / sizeof kafka_3_9_served[0]; i++)
        if (kafka_3_9_served[i].api_key == key) return &kafka_3_9_served[i];
    return NULL;
}

typedef struct side {
    size_t bytes;
    void (*init)(void *m);
    int (*decode)(st_reader_t *r, st_arena_t *a, int16_t v, void *m);
    void (*encode)(st_writer_t *w, int16_t v, const void *m);
    size_t (*size)(int16_t v, const void *m);
    void (*fill)(void *m, st_arena_t *a, int16_t v, uint32_t *seed);
} side_t;

static const st_api_testfill_t *testfill_for(int16_t key) {
    for (int i = 0; st_api_testfills[i].api_key >= 0; i++)
        if (st_api_testfills[i].api_key == key) return &st_api_testfills[i];
    return NULL;
}

static void roundtrip_side(const char *api, const side_t *s, int16_t v, uint32_t seed) {
    st_arena_t arena;
    st_arena_init(&arena);
    void *m = st_arena_alloc(&arena, s->bytes);
    void *m2 = st_arena_alloc(&arena, s->bytes);
    s->fill(m, &arena, v, &seed);

    st_writer_t w1, w2;
    st_writer_init(&w1, 64);
    st_writer_init(&w2, 64);
    s->encode(&w1, v, m);
    if (s->size(v, m) != w1.len) fail_msg("%s v%d: size %zu != encoded %zu", api, v, s->size(v, m), w1.len);

    st_reader_t r;
    st_reader_init(&r, w1.data, w1.len);
    int rc = s->decode(&r, &arena, v, m2);
    if (rc != 0) fail_msg("%s v%d seed %u: decode failed", api, v, seed);
    assert_int_equal(st_reader_remaining(&r), 0);
    s->encode(&w2, v, m2);
    if (w1.len != w2.len || memcmp(w1.data, w2.data, w1.len) != 0)
        fail_msg("%s v%d seed %u: re-encoding differs", api, v, seed);

    /* Every strict prefix must fail to decode, never crash. Messages whose
     * fields are all optional can have a decodable prefix only at 0 bytes
     * in old versions; the check skips the empty prefix. */
    for (size_t cut = 1; cut < w1.len; cut += (w1.len > 64 ? 7 : 1)) {
        st_reader_init(&r, w1.data, cut);
        st_arena_t scratch;
        st_arena_init(&scratch);
        void *m3 = st_arena_alloc(&scratch, s->bytes);
        (void)s->decode(&r, &scratch, v, m3);
        st_arena_free(&scratch);
    }
    st_writer_free(&w1);
    st_writer_free(&w2);
    st_arena_free(&arena);
}

static void test_every_api_covers_kafka_3_9(void **state) {
    (void)state;
    for (int i = 0; i < st_api_info_count; i++) {
        const st_api_info_t *info = &st_api_infos[i];
        const served_range_t *want = served_by_kafka_3_9(info->api_key);
        if (!want) fail_msg("%s (key %d) is not an API Kafka 3.9 knows", info->name, info->api_key);
        /* Wider is fine (Vote v2 is KIP-996's pre-vote, from Kafka 4.0);
         * narrower loses a version some client may send. */
        if (info->min_version > want->min_version || info->max_version < want->max_version)
            fail_msg("%s: defs cover v%d-%d, Kafka 3.9 served v%d-%d", info->name, info->min_version,
                     info->max_version, want->min_version, want->max_version);
    }
}

static void test_every_api_every_version(void **state) {
    (void)state;
    int versions = 0, expected = 0;
    for (int i = 0; i < st_api_info_count; i++)
        expected += st_api_infos[i].max_version - st_api_infos[i].min_version + 1;
    for (int i = 0; i < st_api_info_count; i++) {
        const st_api_info_t *info = &st_api_infos[i];
        const st_api_testfill_t *tf = testfill_for(info->api_key);
        assert_non_null(tf);
        side_t rq = {info->request_bytes, info->request_init, info->request_decode, info->request_encode,
                     info->request_size, tf->request_fill};
        side_t rs = {info->response_bytes, info->response_init, info->response_decode, info->response_encode,
                     info->response_size, tf->response_fill};
        for (int16_t v = info->min_version; v <= info->max_version; v++) {
            for (uint32_t seed = 1; seed <= SEEDS_PER_VERSION; seed++) {
                roundtrip_side(info->name, &rq, v, seed * 7919u + (uint32_t)v);
                roundtrip_side(info->name, &rs, v, seed * 104729u + (uint32_t)v);
            }
            versions++;
        }
    }
    assert_int_equal(versions, expected);
    assert_true(versions > 100);
}

/* Typed entry points of a message that is not an API, behind side_t's
 * untyped ones (calling through a cast function pointer would be
 * undefined). */
#define SIDE_WRAPPERS(msg)                                                                        \
    static void msg##_init_any(void *m) { msg##_init(m); }                                        \
    static int msg##_decode_any(st_reader_t *r, st_arena_t *a, int16_t v, void *m) {              \
        return msg##_decode(r, a, v, m);                                                          \
    }                                                                                             \
    static void msg##_encode_any(st_writer_t *w, int16_t v, const void *m) { msg##_encode(w, v, m); } \
    static size_t msg##_size_any(int16_t v, const void *m) { return msg##_size(v, m); }           \
    static void msg##_fill_any(void *m, st_arena_t *a, int16_t v, uint32_t *seed) {               \
        msg##_testfill(m, a, v, seed);                                                            \
    }
#define SIDE_OF(msg) \
    {sizeof(msg##_t), msg##_init_any, msg##_decode_any, msg##_encode_any, msg##_size_any, msg##_fill_any}

SIDE_WRAPPERS(st_request_header)
SIDE_WRAPPERS(st_response_header)
SIDE_WRAPPERS(st_consumer_protocol_subscription)
SIDE_WRAPPERS(st_consumer_protocol_assignment)
SIDE_WRAPPERS(st_offset_commit_key)
SIDE_WRAPPERS(st_offset_commit_value)
SIDE_WRAPPERS(st_group_metadata_key)
SIDE_WRAPPERS(st_group_metadata_value)
SIDE_WRAPPERS(st_user_scram_credential_record)
SIDE_WRAPPERS(st_remove_user_scram_credential_record)
SIDE_WRAPPERS(st_access_control_entry_record)
SIDE_WRAPPERS(st_remove_access_control_entry_record)
SIDE_WRAPPERS(st_client_quota_record)
SIDE_WRAPPERS(st_transaction_log_key)
SIDE_WRAPPERS(st_transaction_log_value)

/* Headers and payloads, with the versions their definitions declare. */
static void test_headers_and_payloads_every_version(void **state) {
    (void)state;
    const struct {
        const char *name;
        side_t side;
        int16_t min_version, max_version;
    } messages[] = {
        {"RequestHeader", SIDE_OF(st_request_header), 0, 2},
        {"ResponseHeader", SIDE_OF(st_response_header), 0, 1},
        {"ConsumerProtocolSubscription", SIDE_OF(st_consumer_protocol_subscription), 0, 3},
        {"ConsumerProtocolAssignment", SIDE_OF(st_consumer_protocol_assignment), 0, 3},
        {"OffsetCommitKey", SIDE_OF(st_offset_commit_key), 0, 1},
        {"OffsetCommitValue", SIDE_OF(st_offset_commit_value), 0, 4},
        {"GroupMetadataKey", SIDE_OF(st_group_metadata_key), 2, 2},
        {"GroupMetadataValue", SIDE_OF(st_group_metadata_value), 0, 4},
        {"UserScramCredentialRecord", SIDE_OF(st_user_scram_credential_record), 0, 0},
        {"RemoveUserScramCredentialRecord", SIDE_OF(st_remove_user_scram_credential_record), 0, 0},
        {"AccessControlEntryRecord", SIDE_OF(st_access_control_entry_record), 0, 0},
        {"RemoveAccessControlEntryRecord", SIDE_OF(st_remove_access_control_entry_record), 0, 0},
        {"ClientQuotaRecord", SIDE_OF(st_client_quota_record), 0, 0},
        {"TransactionLogKey", SIDE_OF(st_transaction_log_key), 0, 0},
        {"TransactionLogValue", SIDE_OF(st_transaction_log_value), 0, 1},
    };
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++)
        for (int16_t v = messages[i].min_version; v <= messages[i].max_version; v++)
            for (uint32_t seed = 1; seed <= SEEDS_PER_VERSION; seed++)
                roundtrip_side(messages[i].name, &messages[i].side, v, seed * 7919u + (uint32_t)v);
}

/* ApiVersions v3 request with an unknown tag 7 in its tagged section. */
static void test_unknown_tags_skipped(void **state) {
    (void)state;
    const uint8_t bytes[] = {
        0x04, 'k', 'c', 'a', /* ClientSoftwareName "kca" (compact: len+1) */
        0x02, '1',           /* ClientSoftwareVersion "1" */
        0x01,                /* one tagged field */
        0x07, 0x03, 0xaa, 0xbb, 0xcc,
    };
    st_arena_t arena;
    st_arena_init(&arena);
    st_reader_t r;
    st_reader_init(&r, bytes, sizeof bytes);
    st_api_versions_request_t m;
    assert_int_equal(st_api_versions_request_decode(&r, &arena, 3, &m), 0);
    assert_true(st_str_eq(m.client_software_name, "kca"));
    assert_true(st_str_eq(m.client_software_version, "1"));
    assert_int_equal(st_reader_remaining(&r), 0);
    st_arena_free(&arena);
}

/* A Metadata v1 request claiming 2^31-1 topics in 4 bytes must fail before
 * allocating anything large. */
static void test_absurd_array_length(void **state) {
    (void)state;
    const uint8_t bytes[] = {0x7f, 0xff, 0xff, 0xff, 0x00, 0x01, 'a'};
    st_arena_t arena;
    st_arena_init(&arena);
    st_reader_t r;
    st_reader_init(&r, bytes, sizeof bytes);
    st_metadata_request_t m;
    assert_int_equal(st_metadata_request_decode(&r, &arena, 1, &m), ST_ERR_DECODE);
    assert_true(arena.used_bytes < 4096);
    st_arena_free(&arena);
}

/* Known bytes: ApiVersions v0 response with one api range. */
static void test_known_encoding(void **state) {
    (void)state;
    st_api_versions_response_api_version_t range = {.api_key = 18, .min_version = 0, .max_version = 4};
    st_api_versions_response_t m;
    st_api_versions_response_init(&m);
    m.api_keys = &range;
    m.api_keys_count = 1;
    st_writer_t w;
    st_writer_init(&w, 32);
    st_api_versions_response_encode(&w, 0, &m);
    const uint8_t want[] = {0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.data, want, sizeof want);
    st_writer_reset(&w);
    st_api_versions_response_encode(&w, 3, &m);
    /* v3: error, compact array (2), entry + tag byte, throttle, tags */
    const uint8_t want3[] = {0, 0, 2, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0};
    assert_int_equal(w.len, sizeof want3);
    assert_memory_equal(w.data, want3, sizeof want3);
    st_writer_free(&w);
}

/* Decodes `bytes` as version v of an API's request (or response), checks
 * that encoding gives them back, and returns the decoded message. */
static void *known_bytes(int16_t api_key, bool response, int16_t v, const uint8_t *bytes, size_t len,
                         st_arena_t *arena) {
    const st_api_info_t *info = st_api_info_find(api_key);
    assert_non_null(info);
    void *m = st_arena_alloc(arena, response ? info->response_bytes : info->request_bytes);
    st_reader_t r;
    st_reader_init(&r, bytes, len);
    int rc = response ? info->response_decode(&r, arena, v, m) : info->request_decode(&r, arena, v, m);
    if (rc != 0) fail_msg("%s v%d: known bytes do not decode", info->name, v);
    assert_int_equal(st_reader_remaining(&r), 0);
    st_writer_t w;
    st_writer_init(&w, 64);
    if (response)
        info->response_encode(&w, v, m);
    else
        info->request_encode(&w, v, m);
    assert_int_equal(w.len, len);
    assert_memory_equal(w.data, bytes, len);
    st_writer_free(&w);
    return m;
}

/* Known bytes of the oldest versions, laid out by hand from the protocol
 * guide: the random round trip above cannot catch a field that both sides
 * put in the same wrong place. */
static void test_known_old_versions(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);

    /* OffsetCommit v1: generation, member id, and a per-partition commit
     * timestamp (v1 only); no retention time (v2-4). */
    const uint8_t commit_v1[] = {0, 1, 'g', 0, 0, 0, 5, 0, 1, 'm', 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                                 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7,
                                 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0xff, 0xff};
    const st_offset_commit_request_t *commit;
    commit = known_bytes(ST_API_OFFSET_COMMIT, false, 1, commit_v1, sizeof commit_v1, &arena);
    assert_int_equal(commit->generation_id_or_member_epoch, 5);
    assert_int_equal(commit->retention_time_ms, -1);
    assert_int_equal(commit->topics[0].partitions[0].partition_index, 2);
    assert_int_equal(commit->topics[0].partitions[0].committed_offset, 7);
    assert_int_equal(commit->topics[0].partitions[0].commit_timestamp, 1000);
    assert_int_equal(commit->topics[0].partitions[0].committed_metadata.len, -1);

    /* OffsetCommit v0: group id and topics only. */
    const uint8_t commit_v0[] = {0, 1, 'g', 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                                 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0};
    commit = known_bytes(ST_API_OFFSET_COMMIT, false, 0, commit_v0, sizeof commit_v0, &arena);
    assert_int_equal(commit->generation_id_or_member_epoch, -1);
    assert_int_equal(commit->topics[0].partitions[0].commit_timestamp, -1);
    assert_int_equal(commit->topics[0].partitions[0].committed_metadata.len, 0);

    /* ListOffsets v0: MaxNumOffsets in the request, an offsets array in the
     * response. */
    const uint8_t list_v0[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1};
    const st_list_offsets_request_t *list;
    list = known_bytes(ST_API_LIST_OFFSETS, false, 0, list_v0, sizeof list_v0, &arena);
    assert_int_equal(list->replica_id, -1);
    assert_int_equal(list->topics[0].partitions[0].timestamp, -1);
    assert_int_equal(list->topics[0].partitions[0].max_num_offsets, 1);
    const uint8_t list_resp_v0[] = {0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5};
    const st_list_offsets_response_t *list_resp;
    list_resp = known_bytes(ST_API_LIST_OFFSETS, true, 0, list_resp_v0, sizeof list_resp_v0, &arena);
    assert_int_equal(list_resp->topics[0].partitions[0].old_style_offsets_count, 1);
    assert_int_equal(list_resp->topics[0].partitions[0].old_style_offsets[0], 5);

    /* JoinGroup v0: no rebalance timeout (the session timeout serves). */
    const uint8_t join_v0[] = {0, 1, 'g', 0, 0, 0x27, 0x10, 0, 0,
                               0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
                               0, 0, 0, 1, 0, 5, 'r', 'a', 'n', 'g', 'e', 0, 0, 0, 1, 0};
    const st_join_group_request_t *join;
    join = known_bytes(ST_API_JOIN_GROUP, false, 0, join_v0, sizeof join_v0, &arena);
    assert_int_equal(join->session_timeout_ms, 10000);
    assert_int_equal(join->rebalance_timeout_ms, -1);
    assert_true(st_str_eq(join->protocol_type, "consumer"));
    assert_int_equal(join->protocols[0].metadata.len, 1);

    /* Metadata v0: a topics array that cannot be null (empty means all). */
    const uint8_t metadata_v0[] = {0, 0, 0, 0};
    const st_metadata_request_t *md;
    md = known_bytes(ST_API_METADATA, false, 0, metadata_v0, sizeof metadata_v0, &arena);
    assert_int_equal(md->topics_count, 0);
    const uint8_t metadata_null_v0[] = {0xff, 0xff, 0xff, 0xff};
    st_metadata_request_t md_null;
    st_reader_t r;
    st_reader_init(&r, metadata_null_v0, sizeof metadata_null_v0);
    assert_int_equal(st_metadata_request_decode(&r, &arena, 0, &md_null), ST_ERR_DECODE);
    st_arena_free(&arena);
}

/* Known bytes of the transaction APIs and records, laid out by hand from
 * their definitions: the v3/v4 split of AddPartitionsToTxn, EndTxn v5's
 * producer fields, and a TransactionLogValue v0 as Kafka writes it. */
static void test_known_transaction_bytes(void **state) {
    (void)state;
    st_arena_t arena;
    st_arena_init(&arena);

    /* AddPartitionsToTxn v3 (client, flexible): id "t", pid 7, epoch 1,
     * topic "a" partitions [0]. */
    const uint8_t add_v3[] = {0x02, 't', 0, 0, 0, 0, 0, 0, 0, 7, 0, 1,
                              0x02, 0x02, 'a', 0x02, 0, 0, 0, 0, 0x00, 0x00};
    const st_add_partitions_to_txn_request_t *add;
    add = known_bytes(ST_API_ADD_PARTITIONS_TO_TXN, false, 3, add_v3, sizeof add_v3, &arena);
    assert_true(st_str_eq(add->v3_and_below_transactional_id, "t"));
    assert_int_equal(add->v3_and_below_producer_id, 7);
    assert_int_equal(add->v3_and_below_topics[0].partitions[0], 0);
    assert_int_equal(add->transactions_count, 0);

    /* AddPartitionsToTxn v4 (broker, batched): one transaction, VerifyOnly. */
    const uint8_t add_v4[] = {0x02, 0x02, 't', 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 0x01,
                              0x02, 0x02, 'a', 0x02, 0, 0, 0, 3, 0x00, 0x00, 0x00};
    add = known_bytes(ST_API_ADD_PARTITIONS_TO_TXN, false, 4, add_v4, sizeof add_v4, &arena);
    assert_int_equal(add->transactions_count, 1);
    assert_true(add->transactions[0].verify_only);
    assert_int_equal(add->transactions[0].topics[0].partitions[0], 3);

    /* EndTxn v5 response: throttle, error, producer id and epoch. */
    const uint8_t end_v5[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 0x00};
    const st_end_txn_response_t *end;
    end = known_bytes(ST_API_END_TXN, true, 5, end_v5, sizeof end_v5, &arena);
    assert_int_equal(end->producer_id, 9);
    assert_int_equal(end->producer_epoch, 2);

    /* TransactionLogValue v0: pid 5, epoch 0, timeout 60000, Ongoing (1),
     * partitions [("a", [0])], last update 2, start 1. */
    const uint8_t value_v0[] = {0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0xea, 0x60, 1,
                                0, 0, 0, 1, 0, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 0,
                                0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
    st_reader_t r;
    st_reader_init(&r, value_v0, sizeof value_v0);
    st_transaction_log_value_t value;
    assert_int_equal(st_transaction_log_value_decode(&r, &arena, 0, &value), 0);
    assert_int_equal(st_reader_remaining(&r), 0);
    assert_int_equal(value.producer_id, 5);
    assert_int_equal(value.transaction_timeout_ms, 60000);
    assert_int_equal(value.transaction_status, 1);
    assert_int_equal(value.transaction_partitions_count, 1);
    assert_int_equal(value.previous_producer_id, -1); /* v1 tags: defaults */
    assert_int_equal(value.client_transaction_version, 0);
    assert_int_equal(value.transaction_start_timestamp_ms, 1);
    st_arena_free(&arena);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_api_covers_kafka_3_9),
        cmocka_unit_test(test_every_api_every_version),
        cmocka_unit_test(test_headers_and_payloads_every_version),
        cmocka_unit_test(test_unknown_tags_skipped),
        cmocka_unit_test(test_absurd_array_length),
        cmocka_unit_test(test_known_encoding),
        cmocka_unit_test(test_known_old_versions),
        cmocka_unit_test(test_known_transaction_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
