#include "coordinator/txn/txn_record.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "protocol/messages.h"

static const char *const status_names[ST_TXN_STATUS_COUNT] = {
    "Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead",
    "PrepareEpochFence",
};

const char *st_txn_status_name(int status) {
    return status >= 0 && status < ST_TXN_STATUS_COUNT ? status_names[status] : "Unknown";
}

int st_txn_status_from_name(st_str_t name) {
    for (int i = 0; i < ST_TXN_STATUS_COUNT; i++)
        if (name.len >= 0 && (size_t)name.len == strlen(status_names[i]) &&
            memcmp(name.ptr, status_names[i], (size_t)name.len) == 0)
            return i;
    return -1;
}

int st_txn_partition_compare(const st_txn_partition_t *a, const st_txn_partition_t *b) {
    int32_t n = a->topic.len < b->topic.len ? a->topic.len : b->topic.len;
    int c = n > 0 ? memcmp(a->topic.ptr, b->topic.ptr, (size_t)n) : 0;
    if (c) return c;
    if (a->topic.len != b->topic.len) return a->topic.len < b->topic.len ? -1 : 1;
    return (a->partition > b->partition) - (a->partition < b->partition);
}

static int compare_partitions(const void *a, const void *b) { return st_txn_partition_compare(a, b); }

void st_txn_record_encode_key(st_writer_t *w, st_str_t transactional_id) {
    st_transaction_log_key_t key;
    st_transaction_log_key_init(&key);
    key.transactional_id = transactional_id;
    st_write_i16(w, ST_TXN_RECORD_KEY_VERSION);
    st_transaction_log_key_encode(w, ST_TXN_RECORD_KEY_VERSION, &key);
}

void st_txn_record_encode_value(st_writer_t *w, const st_txn_record_t *r, int16_t value_version) {
    st_arena_t arena;
    st_arena_init(&arena);
    st_transaction_log_value_t v;
    st_transaction_log_value_init(&v);
    v.producer_id = r->producer_id;
    v.previous_producer_id = r->previous_producer_id;
    v.next_producer_id = r->next_producer_id;
    v.producer_epoch = r->producer_epoch;
    v.transaction_timeout_ms = r->transaction_timeout_ms;
    v.transaction_status = r->status;
    v.transaction_last_update_timestamp_ms = r->last_update_ms;
    v.transaction_start_timestamp_ms = r->start_ms;
    v.client_transaction_version = r->client_transaction_version;
    if (r->status == ST_TXN_EMPTY) {
        v.transaction_partitions = NULL;
        v.transaction_partitions_count = -1;
    } else {
        /* Grouped by topic: the partitions are sorted, so each topic's are
         * one run. */
        int32_t topics = 0;
        for (int32_t i = 0; i < r->partition_count; i++)
            if (i == 0 || st_txn_partition_compare(&(st_txn_partition_t){r->partitions[i].topic, 0},
                                                   &(st_txn_partition_t){r->partitions[i - 1].topic, 0}) != 0)
                topics++;
        st_transaction_log_value_partitions_schema_t *groups =
            st_arena_alloc(&arena, (size_t)(topics ? topics : 1) * sizeof *groups);
        int32_t *ids = st_arena_alloc(&arena, (size_t)(r->partition_count ? r->partition_count : 1) * sizeof *ids);
        int32_t g = -1;
        for (int32_t i = 0; i < r->partition_count; i++) {
            const st_txn_partition_t *p = &r->partitions[i];
            if (g < 0 || groups[g].topic.len != p->topic.len ||
                memcmp(groups[g].topic.ptr, p->topic.ptr, (size_t)p->topic.len) != 0) {
                g++;
                groups[g].topic = p->topic;
                groups[g].partition_ids = &ids[i];
                groups[g].partition_ids_count = 0;
            }
            ids[i] = p->partition;
            groups[g].partition_ids_count++;
        }
        v.transaction_partitions = groups;
        v.transaction_partitions_count = topics;
    }
    st_write_i16(w, value_version);
    st_transaction_log_value_encode(w, value_version, &v);
    st_arena_free(&arena);
}

int st_txn_record_decode(const uint8_t *key, int32_t key_len, const uint8_t *value, int32_t value_len,
                         st_arena_t *arena, st_txn_record_t *out) {
    memset(out, 0, sizeof *out);
    if (!key || key_len < 2) return ST_ERR_CORRUPT;
    st_reader_t r;
    st_reader_init(&r, key, (size_t)key_len);
    int16_t key_version = st_read_i16(&r);
    if (key_version != ST_TXN_RECORD_KEY_VERSION) return key_version < 0 ? ST_ERR_CORRUPT : ST_ERR_NOT_FOUND;
    st_transaction_log_key_t k;
    if (st_transaction_log_key_decode(&r, arena, key_version, &k) != 0 || st_reader_remaining(&r) != 0 ||
        k.transactional_id.len <= 0)
        return ST_ERR_CORRUPT;
    out->transactional_id = k.transactional_id;
    if (!value || value_len < 0) {
        out->tombstone = true;
        return 0;
    }
    st_reader_init(&r, value, (size_t)value_len);
    int16_t version = st_read_i16(&r);
    if (r.failed || version < 0) return ST_ERR_CORRUPT;
    if (version > ST_TXN_RECORD_VALUE_VERSION_MAX) return ST_ERR_NOT_FOUND;
    st_transaction_log_value_t v;
    if (st_transaction_log_value_decode(&r, arena, version, &v) != 0 || st_reader_remaining(&r) != 0)
        return ST_ERR_CORRUPT;
    if (v.producer_id < 0 || v.producer_epoch < 0 || v.transaction_timeout_ms <= 0 ||
        v.transaction_status < ST_TXN_EMPTY || v.transaction_status > ST_TXN_COMPLETE_ABORT)
        return ST_ERR_CORRUPT;
    int64_t count = 0;
    for (int32_t i = 0; i < v.transaction_partitions_count; i++) {
        if (v.transaction_partitions[i].topic.len <= 0 || v.transaction_partitions[i].partition_ids_count < 0)
            return ST_ERR_CORRUPT;
        count += v.transaction_partitions[i].partition_ids_count;
    }
    if (count > INT32_MAX) return ST_ERR_CORRUPT;
    st_txn_partition_t *parts = st_arena_alloc(arena, (size_t)(count ? count : 1) * sizeof *parts);
    int32_t n = 0;
    for (int32_t i = 0; i < v.transaction_partitions_count; i++)
        for (int32_t j = 0; j < v.transaction_partitions[i].partition_ids_count; j++) {
            parts[n] = (st_txn_partition_t){v.transaction_partitions[i].topic, v.transaction_partitions[i].partition_ids[j]};
            if (parts[n].partition < 0) return ST_ERR_CORRUPT;
            n++;
        }
    /* Kafka groups by topic in hash order: sorted here, repeats dropped. */
    if (n > 1) qsort(parts, (size_t)n, sizeof *parts, compare_partitions);
    int32_t unique = 0;
    for (int32_t i = 0; i < n; i++)
        if (unique == 0 || st_txn_partition_compare(&parts[unique - 1], &parts[i]) != 0) parts[unique++] = parts[i];
    n = unique;
    /* Kafka writes no partitions for Empty (null) and Complete* (an empty
     * set). */
    bool no_partitions = v.transaction_status == ST_TXN_EMPTY || v.transaction_status == ST_TXN_COMPLETE_COMMIT ||
                         v.transaction_status == ST_TXN_COMPLETE_ABORT;
    if (no_partitions && n > 0) return ST_ERR_CORRUPT;
    out->producer_id = v.producer_id;
    out->previous_producer_id = v.previous_producer_id;
    out->next_producer_id = v.next_producer_id;
    out->producer_epoch = v.producer_epoch;
    out->transaction_timeout_ms = v.transaction_timeout_ms;
    out->status = v.transaction_status;
    out->partitions = parts;
    out->partition_count = n;
    out->last_update_ms = v.transaction_last_update_timestamp_ms;
    out->start_ms = v.transaction_start_timestamp_ms;
    out->client_transaction_version = v.client_transaction_version;
    return 0;
}
