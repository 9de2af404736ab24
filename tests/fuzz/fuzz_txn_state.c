/*
 * The transaction coordinator's state machine on arbitrary input: the
 * first part of the input is a __transaction_state partition that loading
 * replays, whatever it holds: raw records (u8 key length | key | u8 value
 * length, 255 for a tombstone | value), or, when bit 1 of the first byte is
 * set, well-formed records built from 4-byte descriptors (id, status,
 * epoch, partitions) up to a 0xff; the rest drives requests, timer ticks
 * and append/marker results (successes and failures) from the bytes. After
 * every step the state's invariants must hold (st_txn_state_check), and no
 * step may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/txn/txn_state.h"
#include "common/errors.h"

#define QUEUED_MAX 64

typedef struct queued {
    char id[8];
    uint64_t append_id;
    int64_t producer_id;
    char topic[8];
    int32_t partition;
    bool marker;
} queued_t;

typedef struct driver {
    st_txn_state_t *s;
    st_txn_output_t out;
    queued_t q[QUEUED_MAX];
    int n;
    int64_t next_pid;
} driver_t;

static int allocate(void *ctx, int64_t *pid) {
    driver_t *d = ctx;
    if (d->next_pid % 17 == 16) {
        d->next_pid++;
        return ST_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    *pid = d->next_pid++;
    return 0;
}

static void copy_id(char *dst, size_t cap, st_str_t s) {
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    if (n >= cap) n = cap - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

/* Queues what the state asked for, and checks it. */
static void take(driver_t *d) {
    for (int32_t i = 0; i < d->out.count; i++) {
        const st_txn_action_t *a = &d->out.actions[i];
        if (a->kind == ST_TXN_APPEND && d->n < QUEUED_MAX) {
            queued_t *q = &d->q[d->n++];
            memset(q, 0, sizeof *q);
            copy_id(q->id, sizeof q->id, a->transactional_id);
            q->append_id = a->append.append_id;
        } else if (a->kind == ST_TXN_WRITE_MARKERS) {
            for (int32_t j = 0; j < a->markers.partition_count && d->n < QUEUED_MAX; j++) {
                queued_t *q = &d->q[d->n++];
                memset(q, 0, sizeof *q);
                copy_id(q->id, sizeof q->id, a->transactional_id);
                q->marker = true;
                q->producer_id = a->markers.producer_id;
                copy_id(q->topic, sizeof q->topic, a->markers.partitions[j].topic);
                q->partition = a->markers.partitions[j].partition;
            }
        }
    }
    st_txn_output_reset(&d->out);
    if (!st_txn_state_check(d->s, NULL, 0)) abort();
}

static const int errors[] = {0, 0, 0, ST_ERR_NOT_LEADER_OR_FOLLOWER, ST_ERR_REQUEST_TIMED_OUT,
                             ST_ERR_INVALID_PRODUCER_EPOCH, ST_ERR_CORRUPT_MESSAGE, ST_ERR_IO};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    driver_t d;
    memset(&d, 0, sizeof d);
    d.next_pid = 1;
    st_txn_config_t cfg;
    st_txn_config_default(&cfg);
    cfg.allocate_producer_id = allocate;
    cfg.allocate_ctx = &d;
    cfg.ids_max = 8;
    cfg.partitions_max = 4;
    cfg.transaction_version = size > 0 && (data[0] & 1) ? 2 : 0;
    if (st_txn_state_new(&cfg, 0, 3, &d.s) != 0) return 0;
    st_txn_output_init(&d.out);

    static const char *ids[] = {"a", "b", "c"};
    static const char *topics[] = {"x", "y"};
    size_t at = size > 0 ? 1 : 0;
    /* Well-formed records, any state (Dead and PrepareEpochFence must be
     * refused), until 0xff. */
    while (size > 0 && (data[0] & 2) && at + 4 <= size && data[at] != 0xff) {
        const uint8_t *x = data + at;
        at += 4;
        st_writer_t k, v;
        st_writer_init(&k, 32);
        st_writer_init(&v, 64);
        st_txn_record_encode_key(&k, st_str(ids[x[0] % 3]));
        st_txn_partition_t parts[4];
        int32_t n = 0;
        for (int b = 0; b < 4; b++)
            if (x[3] & (1 << b)) parts[n++] = (st_txn_partition_t){st_str(topics[b % 2]), b / 2};
        st_txn_record_t r = {
            .producer_id = 1 + x[1] % 4,
            .previous_producer_id = -1,
            .next_producer_id = (x[3] & 16) ? 9 : -1,
            .producer_epoch = (int16_t)(x[2] == 0xfe ? INT16_MAX - 1 : x[2] % 4),
            .transaction_timeout_ms = 1000,
            .status = (int8_t)((x[1] >> 2) % 8),
            .partitions = parts,
            .partition_count = n,
            .last_update_ms = 1000000 - x[2],
            .start_ms = (x[3] & 32) ? -1 : 999000,
            .client_transaction_version = (int16_t)((x[3] & 64) ? 2 : 0),
        };
        st_txn_record_encode_value(&v, &r, (x[3] & 128) ? 1 : 0);
        bool tombstone = x[0] >= 0xf0;
        (void)st_txn_state_replay(d.s, k.data, (int32_t)k.len, tombstone ? NULL : v.data, tombstone ? -1 : (int32_t)v.len);
        st_writer_free(&k);
        st_writer_free(&v);
    }
    if (at < size && size > 0 && (data[0] & 2)) at++;
    /* Raw records until a zero key length. */
    while (at + 2 <= size) {
        uint8_t key_len = data[at++];
        if (key_len == 0 || at + key_len + 1 > size) break;
        const uint8_t *key = data + at;
        at += key_len;
        uint8_t value_len = data[at++];
        const uint8_t *value = NULL;
        int32_t vlen = -1;
        if (value_len != 255) {
            if (at + value_len > size) break;
            value = data + at;
            vlen = value_len;
            at += value_len;
        }
        (void)st_txn_state_replay(d.s, key, key_len, value, vlen);
    }
    int64_t now = 1000000;
    st_txn_state_load_complete(d.s, now, &d.out);
    take(&d);

    while (at + 4 <= size) {
        uint8_t op = data[at], arg = data[at + 1], epoch = data[at + 2], extra = data[at + 3];
        at += 4;
        now += extra * 37;
        st_str_t id = st_str(ids[arg % 3]);
        int64_t pid = 1 + (arg >> 2) % 8;
        int16_t ep = (int16_t)(epoch % 4 == 3 ? -1 : epoch % 4);
        int16_t tv = cfg.transaction_version >= 2 && (extra & 1) ? 2 : 0;
        st_txn_partition_t p = {st_str(topics[extra % 2]), (extra >> 1) % 3};
        switch (op % 10) {
        case 0:
            st_txn_state_init_producer_id(d.s, 1, id, 1 + extra * 100, (extra & 2) ? pid : -1, (extra & 2) ? ep : -1,
                                          now, &d.out);
            break;
        case 1:
            st_txn_state_add_partitions(d.s, 2, id, pid, ep, &p, 1, tv, now, &d.out);
            break;
        case 2:
            st_txn_state_add_offsets(d.s, 3, id, pid, ep, extra % 50, tv, now, &d.out);
            break;
        case 3:
            st_txn_state_end_txn(d.s, 4, id, pid, ep, extra & 2, tv, now, &d.out);
            break;
        case 4: {
            int16_t errs[1];
            st_txn_state_verify_partitions(d.s, id, pid, ep, &p, 1, errs);
            break;
        }
        case 5:
            st_txn_state_abort_timed_out(d.s, now, &d.out);
            break;
        case 6:
            st_txn_state_expire_ids(d.s, now + (extra & 1) * ST_TXN_ID_EXPIRATION_MS_DEFAULT, &d.out);
            break;
        case 7: {
            st_txn_description_t desc;
            (void)st_txn_state_describe(d.s, id, &desc);
            break;
        }
        default:
            if (d.n > 0) {
                int i = arg % d.n;
                queued_t q = d.q[i];
                d.q[i] = d.q[--d.n];
                int err = errors[extra % (sizeof errors / sizeof errors[0])];
                if (q.marker) {
                    st_txn_partition_t mp = {st_str(q.topic), q.partition};
                    st_txn_state_marker_written(d.s, st_str(q.id), q.producer_id, &mp, err, now, &d.out);
                } else {
                    st_txn_state_appended(d.s, st_str(q.id), q.append_id, err, now, &d.out);
                }
            }
        }
        take(&d);
    }
    st_txn_output_free(&d.out);
    st_txn_state_free(d.s);
    return 0;
}
