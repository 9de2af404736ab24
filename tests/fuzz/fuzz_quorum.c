/*
 * What the metadata quorum reads from the disk and the network:
 *  - first byte 0: the rest is a quorum-state file (raft/quorum_state.h);
 *  - otherwise: the next bytes pick a KRaft API, request or response, and
 *    a version; the rest is its body. A decoded message is converted for
 *    the core (raft/quorum_wire.h) and stepped into a leader and into a
 *    follower of a three-voter quorum. Nothing a peer sends may trip the
 *    core's invariants (they abort).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/errors.h"
#include "raft/quorum.h"
#include "raft/quorum_state.h"
#include "raft/quorum_wire.h"

static st_raft_update_t up;

static const st_raft_action_t *sent_vote(void) {
    for (int i = 0; i < up.count; i++)
        if (up.actions[i].kind == ST_RAFT_ACTION_SEND && up.actions[i].send.message.kind == ST_RAFT_MSG_VOTE_REQUEST)
            return &up.actions[i];
    return NULL;
}

/* Node 1 leads epoch 4 over a log of epochs 1 and 3, or node 2 follows it. */
static st_raft_t *make_core(bool leader) {
    static const st_raft_epoch_entry_t epochs[] = {{1, 0}, {3, 5}};
    st_raft_config_t k;
    st_raft_config_default(&k);
    k.local_id = leader ? 1 : 2;
    k.voter_count = 3;
    for (int i = 0; i < 3; i++) k.voters[i] = i + 1;
    k.epoch_cache_max = 8;
    st_raft_log_state_t log = {.log_end_offset = 10, .epochs = epochs, .epoch_count = 2,
                               .latest_snapshot = {-1, -1}, .high_watermark = 5};
    st_raft_quorum_state_t qs = leader ? (st_raft_quorum_state_t){4, -1, 1} : (st_raft_quorum_state_t){4, 1, 1};
    st_raft_t *c;
    if (st_raft_create(&k, &qs, &log, 0, &c) != 0) __builtin_trap();
    st_raft_event_t tick = {.kind = ST_RAFT_EVENT_TICK, .now_ms = 1};
    st_raft_step(c, &tick, &up);
    if (leader) {
        const st_raft_action_t *v = sent_vote();
        if (!v) __builtin_trap();
        st_raft_message_t grant = {.kind = ST_RAFT_MSG_VOTE_RESPONSE, .correlation_id = v->send.message.correlation_id};
        grant.vote_response = (st_raft_vote_response_t){ST_ERR_NONE, -1, 4, true};
        st_raft_event_t e = {.kind = ST_RAFT_EVENT_RECEIVE, .now_ms = 2};
        e.receive.from = v->send.node;
        e.receive.message = &grant;
        st_raft_step(c, &e, &up);
        if (st_raft_role(c) != ST_RAFT_LEADER) __builtin_trap();
    }
    return c;
}

static int convert(int16_t api, bool request, int16_t v, const void *w, int32_t correlation,
                   st_quorum_wire_batches_t *batches, st_raft_message_t *out) {
    static const st_quorum_wire_context_t ctx = {"fuzz-cluster", 1};
    st_records_t chunk;
    switch (api) {
    case ST_API_VOTE:
        return request ? st_quorum_wire_vote_request_in(w, v, correlation, &ctx, out)
                       : st_quorum_wire_vote_response_in(w, correlation, out);
    case ST_API_BEGIN_QUORUM_EPOCH:
        return request ? st_quorum_wire_begin_epoch_request_in(w, v, correlation, &ctx, out)
                       : st_quorum_wire_begin_epoch_response_in(w, correlation, out);
    case ST_API_END_QUORUM_EPOCH:
        return request ? st_quorum_wire_end_epoch_request_in(w, v, correlation, &ctx, out)
                       : st_quorum_wire_end_epoch_response_in(w, correlation, out);
    case ST_API_FETCH:
        return request ? st_quorum_wire_fetch_request_in(w, v, correlation, &ctx, out)
                       : st_quorum_wire_fetch_response_in(w, v, correlation, batches, out);
    case ST_API_FETCH_SNAPSHOT:
        return request ? st_quorum_wire_fetch_snapshot_request_in(w, correlation, &ctx, out)
                       : st_quorum_wire_fetch_snapshot_response_in(w, correlation, &chunk, out);
    default: return ST_ERR_INVALID_REQUEST;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] == 0) {
        st_quorum_state_file_t f;
        (void)st_quorum_state_decode((const char *)data + 1, size - 1, &f);
        return 0;
    }
    if (size < 5) return 0;
    static const int16_t apis[] = {ST_API_VOTE, ST_API_BEGIN_QUORUM_EPOCH, ST_API_END_QUORUM_EPOCH, ST_API_FETCH,
                                   ST_API_FETCH_SNAPSHOT};
    int16_t api = apis[data[1] % 5];
    bool request = data[2] & 1;
    const st_api_info_t *info = st_api_info_find(api);
    int span = info->max_version - info->min_version + 1;
    int16_t v = (int16_t)(info->min_version + data[3] % span);
    int32_t correlation = data[4] % 4; /* small, so responses sometimes match a request in flight */
    st_arena_t arena;
    st_arena_init(&arena);
    void *w = st_arena_alloc(&arena, request ? info->request_bytes : info->response_bytes);
    st_reader_t r;
    st_reader_init(&r, data + 5, size - 5);
    int rc = (request ? info->request_decode : info->response_decode)(&r, &arena, v, w);
    st_quorum_wire_batches_t batches;
    st_raft_message_t m;
    if (rc == 0 && convert(api, request, v, w, correlation, &batches, &m) == 0) {
        for (int leader = 0; leader < 2; leader++) {
            st_raft_t *c = make_core(leader);
            st_raft_event_t e = {.kind = ST_RAFT_EVENT_RECEIVE, .now_ms = 10};
            e.receive.from = 1 + data[2] % 3;
            e.receive.message = &m;
            st_raft_step(c, &e, &up);
            st_raft_event_t later = {.kind = ST_RAFT_EVENT_TICK, .now_ms = 100000};
            st_raft_step(c, &later, &up);
            st_raft_destroy(c);
        }
    }
    st_arena_free(&arena);
    return 0;
}
