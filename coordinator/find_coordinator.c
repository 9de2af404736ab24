#include "coordinator/find_coordinator.h"

#include "coordinator/group/group.h"

typedef struct coordinator_kind {
    int8_t key_type;
    /* Makes what the coordinator needs exist (its internal topic); NULL: nothing. */
    int (*prepare)(st_broker_t *b);
} coordinator_kind_t;

static int prepare_group(st_broker_t *b) { return st_groups_prepare(b->groups); }

/* The transaction coordinator's topic (__transaction_state) arrives with
 * issue 13; until then key type 1 is answered as before, by this node. */
static const coordinator_kind_t coordinator_kinds[] = {
    {0, prepare_group},
    {1, NULL},
};

static const coordinator_kind_t *kind_for(int8_t key_type) {
    for (size_t i = 0; i < sizeof coordinator_kinds / sizeof coordinator_kinds[0]; i++)
        if (coordinator_kinds[i].key_type == key_type) return &coordinator_kinds[i];
    return NULL;
}

/* Where the coordinator for one key is: this node, or INVALID_REQUEST for a
 * key type no coordinator answers (Kafka's answer). */
static void locate(const st_broker_t *b, const coordinator_kind_t *kind, int16_t *error_code, int32_t *node_id,
                   st_str_t *host, int32_t *port) {
    *error_code = 0;
    *node_id = b->node_id;
    *host = st_str(b->host);
    *port = b->port;
    if (!kind) {
        *error_code = ST_ERR_INVALID_REQUEST;
        *node_id = -1;
        *host = st_str("");
        *port = -1;
    }
}

int st_handle_find_coordinator(st_broker_t *b, st_request_t *req) {
    st_find_coordinator_request_t rq;
    if (st_request_decode(req, &rq) != 0) return ST_ERR_DECODE;
    st_find_coordinator_response_t *resp = st_request_alloc_response(req);
    const coordinator_kind_t *kind = kind_for(rq.key_type);
    /* The topic exists from the first use; a failure to create it shows on
     * the first commit, as before. */
    if (kind && kind->prepare) (void)kind->prepare(b);
    if (req->api_version < 4) {
        resp->error_message = st_str_null();
        locate(b, kind, &resp->error_code, &resp->node_id, &resp->host, &resp->port);
    } else {
        int32_t n = rq.coordinator_keys_count > 0 ? rq.coordinator_keys_count : 0;
        resp->coordinators = st_arena_alloc(&req->arena, (size_t)(n ? n : 1) * sizeof *resp->coordinators);
        resp->coordinators_count = n;
        for (int32_t i = 0; i < n; i++) {
            st_find_coordinator_response_coordinator_t *c = &resp->coordinators[i];
            c->key = rq.coordinator_keys[i];
            c->error_message = st_str_null();
            locate(b, kind, &c->error_code, &c->node_id, &c->host, &c->port);
        }
    }
    st_request_respond(req, resp);
    return 0;
}
