/* Kafka's quorum-state JSON (raft/quorum_state.h). */
#include "raft/quorum_state.h"

#include <jansson.h>
#include <string.h>

#include "common/errors.h"

int st_quorum_state_encode(const st_raft_quorum_state_t *s, const int32_t *voters, int32_t voter_count, char *buf,
                           size_t cap) {
    /* Field order as Kafka's QuorumStateDataJsonConverter writes them. */
    json_t *root = json_object();
    json_t *list = json_array();
    if (!root || !list) {
        json_decref(root);
        json_decref(list);
        return ST_ERR_NO_MEMORY;
    }
    for (int32_t i = 0; i < voter_count; i++) json_array_append_new(list, json_pack("{s:i}", "voterId", voters[i]));
    json_object_set_new(root, "clusterId", json_string(""));
    json_object_set_new(root, "leaderId", json_integer(s->leader_id));
    json_object_set_new(root, "leaderEpoch", json_integer(s->leader_epoch));
    json_object_set_new(root, "votedId", json_integer(s->voted_id));
    json_object_set_new(root, "appliedOffset", json_integer(0));
    json_object_set_new(root, "currentVoters", list);
    json_object_set_new(root, "data_version", json_integer(0));
    size_t n = json_dumpb(root, buf, cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (n == 0 || n + 1 >= cap) return ST_ERR_LIMIT;
    buf[n] = '\n';
    buf[n + 1] = '\0';
    return (int)(n + 1);
}

static int int32_field(json_t *root, const char *name, int32_t dflt, int32_t min, int32_t *out) {
    json_t *v = json_object_get(root, name);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v)) return ST_ERR_CORRUPT;
    json_int_t x = json_integer_value(v);
    if (x < min || x > INT32_MAX) return ST_ERR_CORRUPT;
    *out = (int32_t)x;
    return 0;
}

int st_quorum_state_decode(const char *text, size_t len, st_quorum_state_file_t *out) {
    memset(out, 0, sizeof *out);
    out->voter_count = -1;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return ST_ERR_CORRUPT;
    int rc = ST_ERR_CORRUPT;
    json_t *version = json_object_get(root, "data_version");
    if (!json_is_object(root) || !json_is_integer(version)) goto done_free_root;
    json_int_t v = json_integer_value(version);
    if (v < 0 || v > 1) goto done_free_root;
    out->data_version = (int16_t)v;
    if (!json_object_get(root, "leaderEpoch")) goto done_free_root;
    if (int32_field(root, "leaderEpoch", 0, 0, &out->state.leader_epoch) ||
        int32_field(root, "leaderId", -1, -1, &out->state.leader_id) ||
        int32_field(root, "votedId", -1, -1, &out->state.voted_id))
        goto done_free_root;
    json_t *voters = json_object_get(root, "currentVoters");
    if (v == 0 && voters && !json_is_null(voters)) {
        if (!json_is_array(voters) || json_array_size(voters) > ST_RAFT_VOTERS_MAX) goto done_free_root;
        out->voter_count = 0;
        size_t i;
        json_t *entry;
        json_array_foreach(voters, i, entry) {
            int32_t id;
            if (!json_is_object(entry) || !json_object_get(entry, "voterId") || int32_field(entry, "voterId", 0, 0, &id))
                goto done_free_root;
            out->voters[out->voter_count++] = id;
        }
    }
    json_t *dir = json_object_get(root, "votedDirectoryId");
    if (dir && !json_is_string(dir)) goto done_free_root;
    rc = 0;
done_free_root:
    json_decref(root);
    return rc;
}
