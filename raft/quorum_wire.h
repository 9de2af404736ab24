/*
 * Converters between the Raft core's messages (raft/quorum.h) and the
 * generated wire structs (protocol/messages.h) of Vote, BeginQuorumEpoch,
 * EndQuorumEpoch, Fetch, FetchSnapshot and DescribeQuorum. Pure: no I/O;
 * arrays of outbound structs come from the caller's arena.
 *
 * The wire has what the core leaves out: the cluster id, the topic
 * `__cluster_metadata` (by name, or by its fixed topic id in Fetch v13+),
 * partition 0, voter keys and endpoints. Inbound requests are checked
 * against those as KafkaRaftClient checks them; a failed check returns the
 * Kafka error to answer with, and the core never sees the request.
 *
 * The server's part (not here): decode the frame with the generated
 * decoder, convert it in, step the core, convert each SEND / READ_LOG /
 * READ_SNAPSHOT action out at the version the peer speaks, attach record
 * or snapshot bytes for READ_*, encode. Responses go back on the
 * connection the request came on; pending inbound requests are keyed by
 * (requester id, correlation id), which is what a response action carries.
 */
#ifndef ST_RAFT_QUORUM_WIRE_H
#define ST_RAFT_QUORUM_WIRE_H

#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/messages.h"
#include "raft/quorum.h"

#define ST_QUORUM_TOPIC_NAME "__cluster_metadata"
/* Kafka's Uuid.METADATA_TOPIC_ID (0, 1), Fetch v13+ names the log by it. */
extern const st_uuid_t st_quorum_topic_id;

typedef struct st_quorum_wire_context {
    const char *cluster_id; /* sent, and checked when a request carries one; NULL: neither */
    int32_t local_id;       /* VoterId in Vote/BeginQuorumEpoch v1+ must be this (or -1) */
} st_quorum_wire_context_t;

/* The batches of one Fetch response's records, parsed for the core, with
 * where each one's bytes are in the records (for APPEND). */
typedef struct st_quorum_wire_batches {
    st_raft_batch_t batches[ST_RAFT_FETCH_BATCHES_MAX];
    int32_t byte_offset[ST_RAFT_FETCH_BATCHES_MAX];
    int32_t byte_length[ST_RAFT_FETCH_BATCHES_MAX];
    int32_t count;
    bool corrupt; /* a batch failed its CRC or header check: it and what follows were left out */
} st_quorum_wire_batches_t;

/* Splits record bytes into whole batches (a partial batch at the end, as
 * Fetch may return, is left out). */
void st_quorum_wire_parse_batches(const uint8_t *records, int32_t len, st_quorum_wire_batches_t *out);

/* ---- outbound: core message -> wire struct at `version` ----
 * Each returns 0, or ST_ERR_UNSUPPORTED_VERSION when the version cannot
 * say what the message says (a pre-vote below Vote v2, Fetch below v12
 * which has no LastFetchedEpoch). `to` is the destination (VoterId). */
int st_quorum_wire_vote_request_out(const st_raft_message_t *m, int32_t to, const st_quorum_wire_context_t *ctx,
                                    int16_t version, st_arena_t *arena, st_vote_request_t *out);
int st_quorum_wire_vote_response_out(const st_raft_message_t *m, int16_t version, st_arena_t *arena,
                                     st_vote_response_t *out);
int st_quorum_wire_begin_epoch_request_out(const st_raft_message_t *m, int32_t to, const st_quorum_wire_context_t *ctx,
                                           int16_t version, st_arena_t *arena, st_begin_quorum_epoch_request_t *out);
int st_quorum_wire_begin_epoch_response_out(const st_raft_message_t *m, int16_t version, st_arena_t *arena,
                                            st_begin_quorum_epoch_response_t *out);
int st_quorum_wire_end_epoch_request_out(const st_raft_message_t *m, const st_quorum_wire_context_t *ctx,
                                         int16_t version, st_arena_t *arena, st_end_quorum_epoch_request_t *out);
int st_quorum_wire_end_epoch_response_out(const st_raft_message_t *m, int16_t version, st_arena_t *arena,
                                          st_end_quorum_epoch_response_t *out);
int st_quorum_wire_fetch_request_out(const st_raft_message_t *m, const st_quorum_wire_context_t *ctx, int16_t version,
                                     st_arena_t *arena, st_fetch_request_t *out);
/* `records`: the bytes READ_LOG read (NULL: none). */
int st_quorum_wire_fetch_response_out(const st_raft_message_t *m, const st_records_t *records, int16_t version,
                                      st_arena_t *arena, st_fetch_response_t *out);
int st_quorum_wire_fetch_snapshot_request_out(const st_raft_message_t *m, const st_quorum_wire_context_t *ctx,
                                              int16_t version, st_arena_t *arena, st_fetch_snapshot_request_t *out);
/* `chunk`: the bytes READ_SNAPSHOT read (NULL: none). */
int st_quorum_wire_fetch_snapshot_response_out(const st_raft_message_t *m, const st_records_t *chunk, int16_t version,
                                               st_arena_t *arena, st_fetch_snapshot_response_t *out);
int st_quorum_wire_describe_response_out(const st_raft_description_t *d, int16_t version, st_arena_t *arena,
                                         st_describe_quorum_response_t *out);

/* ---- inbound: wire struct -> core message ----
 * Requests return 0, or the Kafka error for the whole response
 * (INCONSISTENT_CLUSTER_ID; INVALID_REQUEST for anything but one
 * partition 0 of __cluster_metadata; INVALID_VOTER_KEY when VoterId names
 * another node). Responses return 0, or INVALID_REQUEST when their shape
 * is wrong, or their top-level error (the core then gets nothing: step
 * ST_RAFT_EVENT_SEND_FAILED). `correlation_id` is the request's. */
int st_quorum_wire_vote_request_in(const st_vote_request_t *w, int16_t version, int32_t correlation_id,
                                   const st_quorum_wire_context_t *ctx, st_raft_message_t *out);
int st_quorum_wire_vote_response_in(const st_vote_response_t *w, int32_t correlation_id, st_raft_message_t *out);
int st_quorum_wire_begin_epoch_request_in(const st_begin_quorum_epoch_request_t *w, int16_t version,
                                          int32_t correlation_id, const st_quorum_wire_context_t *ctx,
                                          st_raft_message_t *out);
int st_quorum_wire_begin_epoch_response_in(const st_begin_quorum_epoch_response_t *w, int32_t correlation_id,
                                           st_raft_message_t *out);
int st_quorum_wire_end_epoch_request_in(const st_end_quorum_epoch_request_t *w, int16_t version,
                                        int32_t correlation_id, const st_quorum_wire_context_t *ctx,
                                        st_raft_message_t *out);
int st_quorum_wire_end_epoch_response_in(const st_end_quorum_epoch_response_t *w, int32_t correlation_id,
                                         st_raft_message_t *out);
int st_quorum_wire_fetch_request_in(const st_fetch_request_t *w, int16_t version, int32_t correlation_id,
                                    const st_quorum_wire_context_t *ctx, st_raft_message_t *out);
/* Fills `batches` from the records; out->fetch_response.batches points
 * into it (keep it alive for the step). */
int st_quorum_wire_fetch_response_in(const st_fetch_response_t *w, int16_t version, int32_t correlation_id,
                                     st_quorum_wire_batches_t *batches, st_raft_message_t *out);
int st_quorum_wire_fetch_snapshot_request_in(const st_fetch_snapshot_request_t *w, int32_t correlation_id,
                                             const st_quorum_wire_context_t *ctx, st_raft_message_t *out);
/* `chunk` gets the response's bytes (for WRITE_SNAPSHOT). */
int st_quorum_wire_fetch_snapshot_response_in(const st_fetch_snapshot_response_t *w, int32_t correlation_id,
                                              st_records_t *chunk, st_raft_message_t *out);
/* DescribeQuorum names the partition it asks about: 0 when it is
 * __cluster_metadata-0, else UNKNOWN_TOPIC_OR_PARTITION (Kafka answers
 * that in the partition). */
int st_quorum_wire_describe_request_check(const st_describe_quorum_request_t *w);

/* The value of the LEADER_CHANGE control record an APPEND of source
 * ST_RAFT_APPEND_LEADER_CHANGE asks for (version 0: static voters). */
void st_quorum_wire_leader_change(const st_raft_append_t *append, const st_raft_config_t *config, st_arena_t *arena,
                                  st_leader_change_message_t *out);

#endif
