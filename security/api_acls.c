#include "security/api_acls.h"

#include <stddef.h>

#include "common/errors.h"
#include "security/authorizer.h"

#define OP(x) ST_ACL_OP_##x
#define TOPIC ST_ACL_RESOURCE_TOPIC
#define GROUP ST_ACL_RESOURCE_GROUP
#define CLUSTER ST_ACL_RESOURCE_CLUSTER
#define TXN ST_ACL_RESOURCE_TRANSACTIONAL_ID
#define USER ST_ACL_RESOURCE_USER
#define TOKEN ST_ACL_RESOURCE_DELEGATION_TOKEN
#define REQUEST ST_ACL_CHECK_REQUEST
#define EACH ST_ACL_CHECK_EACH
#define FILTER ST_ACL_CHECK_FILTER
#define INSTEAD ST_ACL_CHECK_INSTEAD_OF_NEXT
#define OR_PREV ST_ACL_CHECK_OR_PREVIOUS
#define E_TOPIC ST_ERR_TOPIC_AUTHORIZATION_FAILED
#define E_GROUP ST_ERR_GROUP_AUTHORIZATION_FAILED
#define E_CLUSTER ST_ERR_CLUSTER_AUTHORIZATION_FAILED
#define E_TXN ST_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED
#define E_TOKEN ST_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED

/* An API that only brokers and controllers call: CLUSTER_ACTION on the cluster. */
#define INTER_BROKER(key, name_)                                                                                 \
    {key, name_, 1, {{OP(CLUSTER_ACTION), CLUSTER, REQUEST, E_CLUSTER, NULL}}, "broker-to-broker or controller API"}
#define CLUSTER_OP(key, name_, op)                                                                                \
    { key, name_, 1, {{OP(op), CLUSTER, REQUEST, E_CLUSTER, NULL}}, NULL }

const st_api_acls_t st_api_acls[] = {
    {0, "Produce", 2,
     {{OP(WRITE), TXN, REQUEST, E_TXN, "the records are transactional"},
      {OP(WRITE), TOPIC, EACH, E_TOPIC, NULL}},
     "no IDEMPOTENT_WRITE check since Kafka 3.0 (KIP-679); acks=0 closes the connection on an error instead"},
    {1, "Fetch", 2,
     {{OP(CLUSTER_ACTION), CLUSTER, REQUEST, E_TOPIC, "from a follower (replica id >= 0): every partition answers the error"},
      {OP(READ), TOPIC, EACH, E_TOPIC, "from a consumer"}},
     NULL},
    {2, "ListOffsets", 1, {{OP(DESCRIBE), TOPIC, EACH, E_TOPIC, NULL}}, NULL},
    {3, "Metadata", 4,
     {{OP(DESCRIBE), TOPIC, FILTER, E_TOPIC,
       "topics asked for by name answer the error; an all-topics request leaves them out"},
      {OP(CREATE), CLUSTER, INSTEAD, 0, "auto-creating topics that do not exist"},
      {OP(CREATE), TOPIC, EACH, E_TOPIC, "auto-creating topics that do not exist"},
      {OP(DESCRIBE), CLUSTER, EACH, 0, "v8-10 include_cluster_authorized_operations: 0 when denied (KIP-430)"}},
     "include_topic_authorized_operations fills each topic's bits with st_authorizer_authorized_operations"},
    INTER_BROKER(4, "LeaderAndIsr"),
    INTER_BROKER(5, "StopReplica"),
    INTER_BROKER(6, "UpdateMetadata"),
    INTER_BROKER(7, "ControlledShutdown"),
    {8, "OffsetCommit", 2,
     {{OP(READ), GROUP, REQUEST, E_GROUP, NULL}, {OP(READ), TOPIC, EACH, E_TOPIC, NULL}},
     "nothing is committed for a denied topic"},
    {9, "OffsetFetch", 2,
     {{OP(DESCRIBE), GROUP, REQUEST, E_GROUP, "per group from v8"},
      {OP(DESCRIBE), TOPIC, EACH, E_TOPIC, "partitions asked for answer the error; fetching all partitions leaves them out"}},
     NULL},
    {10, "FindCoordinator", 2,
     {{OP(DESCRIBE), GROUP, EACH, E_GROUP, "key type 0 (group); per key from v4"},
      {OP(DESCRIBE), TXN, EACH, E_TXN, "key type 1 (transaction); per key from v4"}},
     NULL},
    {11, "JoinGroup", 1, {{OP(READ), GROUP, REQUEST, E_GROUP, NULL}}, NULL},
    {12, "Heartbeat", 1, {{OP(READ), GROUP, REQUEST, E_GROUP, NULL}}, NULL},
    {13, "LeaveGroup", 1, {{OP(READ), GROUP, REQUEST, E_GROUP, NULL}}, NULL},
    {14, "SyncGroup", 1, {{OP(READ), GROUP, REQUEST, E_GROUP, NULL}}, NULL},
    {15, "DescribeGroups", 1, {{OP(DESCRIBE), GROUP, EACH, E_GROUP, NULL}},
     "v3+ include_authorized_operations fills each group's bits (KIP-430)"},
    {16, "ListGroups", 2,
     {{OP(DESCRIBE), CLUSTER, INSTEAD, 0, "allowed: every group is listed"},
      {OP(DESCRIBE), GROUP, FILTER, 0, NULL}},
     NULL},
    {17, "SaslHandshake", 0, {{0}}, "served before authentication"},
    {18, "ApiVersions", 0, {{0}}, "served before authentication"},
    {19, "CreateTopics", 3,
     {{OP(CREATE), CLUSTER, INSTEAD, 0, NULL},
      {OP(CREATE), TOPIC, EACH, E_TOPIC, NULL},
      {OP(DESCRIBE_CONFIGS), TOPIC, EACH, E_TOPIC,
       "returning the created topic's configs (v5+, KIP-525): the error goes in topic_config_error_code"}},
     "nothing is created for a denied topic"},
    {20, "DeleteTopics", 2,
     {{OP(DESCRIBE), TOPIC, EACH, E_TOPIC, "topics named by id (v6+): an id not described answers UNKNOWN_TOPIC_ID"},
      {OP(DELETE), TOPIC, EACH, E_TOPIC, NULL}},
     NULL},
    {21, "DeleteRecords", 1, {{OP(DELETE), TOPIC, EACH, E_TOPIC, NULL}}, NULL},
    {22, "InitProducerId", 3,
     {{OP(WRITE), TXN, REQUEST, E_TXN, "with a transactional id"},
      {OP(IDEMPOTENT_WRITE), CLUSTER, REQUEST, E_CLUSTER, "without a transactional id"},
      {OP(WRITE), TOPIC, OR_PREV, E_CLUSTER, "without a transactional id: WRITE on any topic (KIP-679)"}},
     NULL},
    {23, "OffsetForLeaderEpoch", 2,
     {{OP(CLUSTER_ACTION), CLUSTER, REQUEST, E_CLUSTER, "from a follower (replica id >= 0)"},
      {OP(DESCRIBE), TOPIC, EACH, E_TOPIC, "from a consumer"}},
     NULL},
    {24, "AddPartitionsToTxn", 3,
     {{OP(WRITE), TXN, REQUEST, E_TXN, "v0-3 (from producers)"},
      {OP(WRITE), TOPIC, EACH, E_TOPIC, "v0-3: the other partitions answer OPERATION_NOT_ATTEMPTED"},
      {OP(CLUSTER_ACTION), CLUSTER, REQUEST, E_CLUSTER, "v4+ verify-only batches (from brokers)"}},
     NULL},
    {25, "AddOffsetsToTxn", 2,
     {{OP(WRITE), TXN, REQUEST, E_TXN, NULL}, {OP(READ), GROUP, REQUEST, E_GROUP, NULL}}, NULL},
    {26, "EndTxn", 1, {{OP(WRITE), TXN, REQUEST, E_TXN, NULL}}, NULL},
    INTER_BROKER(27, "WriteTxnMarkers"),
    {28, "TxnOffsetCommit", 3,
     {{OP(WRITE), TXN, REQUEST, E_TXN, NULL},
      {OP(READ), GROUP, REQUEST, E_GROUP, NULL},
      {OP(READ), TOPIC, EACH, E_TOPIC, NULL}},
     NULL},
    {29, "DescribeAcls", 1, {{OP(DESCRIBE), CLUSTER, REQUEST, E_CLUSTER, NULL}},
     "SECURITY_DISABLED when no authorizer is configured"},
    {30, "CreateAcls", 1, {{OP(ALTER), CLUSTER, REQUEST, E_CLUSTER, NULL}},
     "SECURITY_DISABLED when no authorizer is configured"},
    {31, "DeleteAcls", 1, {{OP(ALTER), CLUSTER, REQUEST, E_CLUSTER, NULL}},
     "SECURITY_DISABLED when no authorizer is configured"},
    {32, "DescribeConfigs", 2,
     {{OP(DESCRIBE_CONFIGS), CLUSTER, EACH, E_CLUSTER, "BROKER and BROKER_LOGGER resources"},
      {OP(DESCRIBE_CONFIGS), TOPIC, EACH, E_TOPIC, "TOPIC resources"}},
     NULL},
    {33, "AlterConfigs", 2,
     {{OP(ALTER_CONFIGS), CLUSTER, EACH, E_CLUSTER, "BROKER and BROKER_LOGGER resources"},
      {OP(ALTER_CONFIGS), TOPIC, EACH, E_TOPIC, "TOPIC resources"}},
     NULL},
    {34, "AlterReplicaLogDirs", 1, {{OP(ALTER), CLUSTER, EACH, E_CLUSTER, "every partition answers the error"}}, NULL},
    {35, "DescribeLogDirs", 1, {{OP(DESCRIBE), CLUSTER, REQUEST, E_CLUSTER, "v3+ top-level error, no results"}}, NULL},
    {36, "SaslAuthenticate", 0, {{0}}, "served before authentication"},
    {37, "CreatePartitions", 1, {{OP(ALTER), TOPIC, EACH, E_TOPIC, NULL}}, NULL},
    {38, "CreateDelegationToken", 1,
     {{OP(CREATE_TOKENS), USER, REQUEST, E_TOKEN, "creating a token for another owner (KIP-373)"}},
     "refused on SASL/token-authenticated and unauthenticated connections; Strata has no delegation tokens yet"},
    {39, "RenewDelegationToken", 1, {{OP(DESCRIBE), TOKEN, REQUEST, E_TOKEN, "unless the caller owns or renews it"}}, NULL},
    {40, "ExpireDelegationToken", 1, {{OP(DESCRIBE), TOKEN, REQUEST, E_TOKEN, "unless the caller owns or renews it"}}, NULL},
    {41, "DescribeDelegationToken", 2,
     {{OP(DESCRIBE), TOKEN, FILTER, 0, NULL}, {OP(DESCRIBE_TOKENS), USER, FILTER, 0, "tokens of other owners"}},
     NULL},
    {42, "DeleteGroups", 1, {{OP(DELETE), GROUP, EACH, E_GROUP, NULL}}, NULL},
    CLUSTER_OP(43, "ElectLeaders", ALTER),
    {44, "IncrementalAlterConfigs", 2,
     {{OP(ALTER_CONFIGS), CLUSTER, EACH, E_CLUSTER, "BROKER and BROKER_LOGGER resources"},
      {OP(ALTER_CONFIGS), TOPIC, EACH, E_TOPIC, "TOPIC resources"}},
     NULL},
    CLUSTER_OP(45, "AlterPartitionReassignments", ALTER),
    CLUSTER_OP(46, "ListPartitionReassignments", DESCRIBE),
    {47, "OffsetDelete", 2,
     {{OP(DELETE), GROUP, REQUEST, E_GROUP, NULL}, {OP(READ), TOPIC, EACH, E_TOPIC, NULL}}, NULL},
    CLUSTER_OP(48, "DescribeClientQuotas", DESCRIBE_CONFIGS),
    CLUSTER_OP(49, "AlterClientQuotas", ALTER_CONFIGS),
    CLUSTER_OP(50, "DescribeUserScramCredentials", DESCRIBE),
    CLUSTER_OP(51, "AlterUserScramCredentials", ALTER),
    INTER_BROKER(52, "Vote"),
    INTER_BROKER(53, "BeginQuorumEpoch"),
    INTER_BROKER(54, "EndQuorumEpoch"),
    CLUSTER_OP(55, "DescribeQuorum", DESCRIBE),
    INTER_BROKER(56, "AlterPartition"),
    CLUSTER_OP(57, "UpdateFeatures", ALTER),
    INTER_BROKER(58, "Envelope"),
    INTER_BROKER(59, "FetchSnapshot"),
    {60, "DescribeCluster", 1,
     {{OP(DESCRIBE), CLUSTER, EACH, 0, "include_cluster_authorized_operations: 0 when denied (KIP-430)"}},
     "the request itself is not checked"},
    {61, "DescribeProducers", 1, {{OP(READ), TOPIC, EACH, E_TOPIC, NULL}}, NULL},
    INTER_BROKER(62, "BrokerRegistration"),
    INTER_BROKER(63, "BrokerHeartbeat"),
    CLUSTER_OP(64, "UnregisterBroker", ALTER),
    {65, "DescribeTransactions", 2,
     {{OP(DESCRIBE), TXN, EACH, E_TXN, NULL},
      {OP(DESCRIBE), TOPIC, FILTER, 0, "partitions of the transaction"}},
     NULL},
    {66, "ListTransactions", 1, {{OP(DESCRIBE), TXN, FILTER, 0, NULL}}, NULL},
    INTER_BROKER(67, "AllocateProducerIds"),
    {68, "ConsumerGroupHeartbeat", 1, {{OP(READ), GROUP, REQUEST, E_GROUP, NULL}}, NULL},
    {69, "ConsumerGroupDescribe", 1, {{OP(DESCRIBE), GROUP, EACH, E_GROUP, NULL}},
     "include_authorized_operations fills each group's bits"},
    INTER_BROKER(70, "ControllerRegistration"),
    {71, "GetTelemetrySubscriptions", 0, {{0}}, NULL},
    {72, "PushTelemetry", 0, {{0}}, NULL},
    INTER_BROKER(73, "AssignReplicasToDirs"),
    CLUSTER_OP(74, "ListClientMetricsResources", DESCRIBE_CONFIGS),
    {75, "DescribeTopicPartitions", 1, {{OP(DESCRIBE), TOPIC, FILTER, E_TOPIC, "as Metadata: named topics answer the error"}},
     NULL},
    CLUSTER_OP(80, "AddRaftVoter", ALTER),
    CLUSTER_OP(81, "RemoveRaftVoter", ALTER),
    INTER_BROKER(82, "UpdateRaftVoter"),
};

const int st_api_acls_count = (int)(sizeof st_api_acls / sizeof st_api_acls[0]);

const st_api_acls_t *st_api_acls_find(int16_t api_key) {
    int lo = 0, hi = st_api_acls_count;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (st_api_acls[mid].api_key < api_key) lo = mid + 1;
        else hi = mid;
    }
    return lo < st_api_acls_count && st_api_acls[lo].api_key == api_key ? &st_api_acls[lo] : NULL;
}
