/*
 * The one table of served APIs (STYLE 2): key, supported version range and
 * handler. ApiVersions is computed from it. Two lowest versions: Kafka 4's
 * (KIP-896), and Kafka 3.9's, served while strata.legacy.api.versions.enable
 * (default true) so that the clients of the last years work unchanged
 * (sarama and kafka-go send Produce v2, Fetch v2-3, OffsetCommit v1,
 * DescribeConfigs v0). Produce below v3 and Fetch below v4 carry message
 * format v0/v1, converted to and from record batch v2, the only format
 * Strata stores (protocol/legacy_records.h). ListOffsets keeps v0 either
 * way, which Kafka 4 dropped, because Burrow 1.2 still sends it.
 * With old versions off, ApiVersions lists Produce from v0 all the same, as
 * Kafka 4 does (KAFKA-18659): librdkafka before 2.10 decides whether the
 * broker takes gzip, snappy and lz4 by finding Produce v0-v2 in the ranges,
 * and without them sends those batches uncompressed. A version below the
 * lowest served is refused (connection closed, as for any unsupported
 * version).
 */
#include "server/dispatch.h"

#include "broker/broker.h"
#include "controller/admin.h"
#include "coordinator/find_coordinator.h"
#include "coordinator/group/group.h"

static int st_handle_api_versions(st_broker_t *b, st_request_t *req);

/* key, lowest version (Kafka 4), lowest with strata.legacy.api.versions.enable
 * (Kafka 3.9), highest, handler, listed from v0 in ApiVersions */
const st_api_entry_t st_api_table[] = {
    {ST_API_PRODUCE, 3, 0, 11, st_handle_produce, true},
    {ST_API_FETCH, 4, 0, 17, st_handle_fetch, false},
    {ST_API_LIST_OFFSETS, 0, 0, 10, st_handle_list_offsets, false},
    {ST_API_METADATA, 0, 0, 12, st_handle_metadata, false},
    {ST_API_OFFSET_COMMIT, 2, 0, 9, st_handle_offset_commit, false},
    {ST_API_OFFSET_FETCH, 1, 0, 9, st_handle_offset_fetch, false},
    {ST_API_FIND_COORDINATOR, 0, 0, 6, st_handle_find_coordinator, false},
    {ST_API_JOIN_GROUP, 0, 0, 9, st_handle_join_group, false},
    {ST_API_HEARTBEAT, 0, 0, 4, st_handle_heartbeat, false},
    {ST_API_LEAVE_GROUP, 0, 0, 5, st_handle_leave_group, false},
    {ST_API_SYNC_GROUP, 0, 0, 5, st_handle_sync_group, false},
    {ST_API_DESCRIBE_GROUPS, 0, 0, 5, st_handle_describe_groups, false},
    {ST_API_LIST_GROUPS, 0, 0, 5, st_handle_list_groups, false},
    {ST_API_API_VERSIONS, 0, 0, 4, st_handle_api_versions, false},
    {ST_API_CREATE_TOPICS, 2, 0, 7, st_handle_create_topics, false},
    {ST_API_DELETE_TOPICS, 1, 0, 6, st_handle_delete_topics, false},
    {ST_API_DELETE_RECORDS, 0, 0, 2, st_handle_delete_records, false},
    {ST_API_INIT_PRODUCER_ID, 0, 0, 5, st_handle_init_producer_id, false},
    {ST_API_OFFSET_FOR_LEADER_EPOCH, 2, 0, 4, st_handle_offset_for_leader_epoch, false},
    {ST_API_DESCRIBE_CONFIGS, 1, 0, 4, st_handle_describe_configs, false},
    {ST_API_ALTER_CONFIGS, 0, 0, 2, st_handle_alter_configs, false},
    {ST_API_DESCRIBE_LOG_DIRS, 1, 0, 4, st_handle_describe_log_dirs, false},
    {ST_API_CREATE_PARTITIONS, 0, 0, 3, st_handle_create_partitions, false},
    {ST_API_INCREMENTAL_ALTER_CONFIGS, 0, 0, 1, st_handle_incremental_alter_configs, false},
    {ST_API_DELETE_GROUPS, 0, 0, 2, st_handle_delete_groups, false},
    {ST_API_OFFSET_DELETE, 0, 0, 0, st_handle_offset_delete, false},
    {ST_API_DESCRIBE_CLUSTER, 0, 0, 1, st_handle_describe_cluster, false},
    {ST_API_DESCRIBE_PRODUCERS, 0, 0, 0, st_handle_describe_producers, false},
};
const int st_api_table_count = (int)(sizeof st_api_table / sizeof st_api_table[0]);

static int st_handle_api_versions(st_broker_t *b, st_request_t *req) {
    st_api_versions_request_t rq;
    if (st_request_decode(req, &rq) != 0) {
        /* KIP-511: a v3+ request whose body does not parse still gets an
         * answer, INVALID_REQUEST, rather than a closed connection. */
        if (req->api_version < 3) return ST_ERR_DECODE;
    }
    st_api_versions_response_t *resp = st_request_alloc_response(req);
    st_net_api_versions_fill(&b->net, resp, &req->arena);
    st_request_respond(req, resp);
    return 0;
}
