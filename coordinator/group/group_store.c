/*
 * The group coordinator's persistence: each change to a group is one batch
 * in the group's __consumer_offsets partition (Kafka's OffsetCommit and
 * GroupMetadata key/value schemas), appended through the partition's
 * internal append path and acknowledged only once it is in the log; at
 * start the log is read back to rebuild groups and offsets.
 */
#include "coordinator/group/group_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- persistence in __consumer_offsets ---------------------------------- */

st_partition_t *group_offsets_partition(st_groups_t *g, const char *group_id, bool create) {
    st_broker_t *b = g->b;
    st_topic_t *t = st_broker_topic(b, ST_OFFSETS_TOPIC);
    if (!t && create) {
        int32_t n = st_config_get_int(b->config, "offsets.topic.num.partitions");
        const char *names[] = {"cleanup.policy", "segment.bytes", "compression.type"};
        const char *values[] = {"compact", "104857600", "producer"};
        if (st_broker_create_topic(b, ST_OFFSETS_TOPIC, n, 3, names, values, NULL) != 0) return NULL;
        t = st_broker_topic(b, ST_OFFSETS_TOPIC);
    }
    if (!t || t->partition_count <= 0) return NULL;
    return t->partitions[st_group_partition_for(group_id, t->partition_count)];
}


void group_records_init(group_records_t *rs) {
    st_batch_builder_init(&rs->batch, ST_CODEC_NONE, 0);
    st_writer_init(&rs->key, 128);
    st_writer_init(&rs->value, 256);
    rs->count = 0;
    rs->now_ms = st_wall_ms();
}

void group_records_free(group_records_t *rs) {
    st_batch_builder_free(&rs->batch);
    st_writer_free(&rs->key);
    st_writer_free(&rs->value);
}

/* Adds the record whose key and value are in the scratch writers (no value:
 * a tombstone), then clears them. */
void group_records_add(group_records_t *rs, bool tombstone) {
    st_batch_builder_add(&rs->batch, rs->count++, rs->now_ms, rs->key.data, (int32_t)rs->key.len,
                         tombstone ? NULL : rs->value.data, tombstone ? -1 : (int32_t)rs->value.len, NULL, 0);
    st_writer_reset(&rs->key);
    st_writer_reset(&rs->value);
}

int group_records_append(st_groups_t *g, const char *group_id, group_records_t *rs) {
    if (rs->count == 0) return 0;
    st_partition_t *p = group_offsets_partition(g, group_id, true);
    if (!p || !p->log) return ST_ERR_COORDINATOR_NOT_AVAILABLE;
    st_writer_t batch;
    st_writer_init(&batch, 256);
    int err = st_batch_builder_finish(&rs->batch, &batch);
    if (err == 0) err = st_partition_append_internal(p, batch.data, batch.len, rs->now_ms);
    st_writer_free(&batch);
    if (err == ST_ERR_KAFKA_STORAGE_ERROR) {
        /* The log said why when it failed (with the errno), once; a full disk
         * heals in place (storage/log.h). Kafka answers a failed
         * __consumer_offsets append so (GroupMetadataManager): clients find
         * the coordinator again and retry. */
        return ST_ERR_NOT_COORDINATOR;
    }
    if (err != 0) {
        ST_ERROR("could not write to %s for group %s: %s", ST_OFFSETS_TOPIC, group_id, st_err_name(err));
        return ST_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    return 0;
}

void group_encode_offset_key(st_writer_t *w, const char *group, const char *topic, int32_t partition) {
    st_offset_commit_key_t k;
    st_offset_commit_key_init(&k);
    k.group = st_str(group);
    k.topic = st_str(topic);
    k.partition = partition;
    st_write_i16(w, OFFSET_COMMIT_KEY_VERSION);
    st_offset_commit_key_encode(w, OFFSET_COMMIT_KEY_VERSION, &k);
}

void group_encode_offset_value(st_writer_t *w, const committed_t *c) {
    st_offset_commit_value_t v;
    st_offset_commit_value_init(&v);
    v.offset = c->offset;
    v.leader_epoch = c->leader_epoch;
    v.metadata = c->metadata_len > 0 ? (st_str_t){c->metadata, c->metadata_len} : st_str("");
    v.commit_timestamp = c->commit_ms;
    st_write_i16(w, OFFSET_COMMIT_VALUE_VERSION);
    st_offset_commit_value_encode(w, OFFSET_COMMIT_VALUE_VERSION, &v);
}

static void encode_group_key(st_writer_t *w, const char *group) {
    st_group_metadata_key_t k;
    st_group_metadata_key_init(&k);
    k.group = st_str(group);
    st_write_i16(w, GROUP_METADATA_KEY_VERSION);
    st_group_metadata_key_encode(w, GROUP_METADATA_KEY_VERSION, &k);
}

static void encode_group_value(st_writer_t *w, const group_t *gr) {
    st_group_metadata_value_t v;
    st_group_metadata_value_init(&v);
    v.protocol_type = st_str(gr->protocol_type ? gr->protocol_type : "");
    v.generation = gr->generation;
    v.protocol = st_str(gr->protocol_name);
    v.leader = st_str(gr->leader_id);
    v.current_state_timestamp = gr->state_since_ms;
    st_group_metadata_value_member_metadata_t *mm =
        calloc((size_t)(gr->member_count ? gr->member_count : 1), sizeof *mm);
    if (!mm) abort();
    int32_t i = 0;
    for (const member_t *m = gr->members; m; m = m->next, i++) {
        const protocol_t *p = group_member_protocol(m, gr->protocol_name);
        mm[i].member_id = st_str(m->member_id);
        mm[i].group_instance_id = st_str(m->instance_id);
        mm[i].client_id = st_str(m->client_id ? m->client_id : "");
        mm[i].client_host = st_str(m->client_host ? m->client_host : "");
        mm[i].rebalance_timeout = m->rebalance_timeout_ms;
        mm[i].session_timeout = m->session_timeout_ms;
        mm[i].subscription = (st_bytes_t){p ? p->metadata : NULL, p ? p->metadata_len : 0};
        mm[i].assignment = (st_bytes_t){m->assignment, m->assignment_len};
    }
    v.members = mm;
    v.members_count = gr->member_count;
    st_write_i16(w, GROUP_METADATA_VALUE_VERSION);
    st_group_metadata_value_encode(w, GROUP_METADATA_VALUE_VERSION, &v);
    free(mm);
}

int group_store(group_t *gr) {
    group_records_t rs;
    group_records_init(&rs);
    encode_group_key(&rs.key, gr->id);
    encode_group_value(&rs.value, gr);
    group_records_add(&rs, false);
    int err = group_records_append(gr->owner, gr->id, &rs);
    group_records_free(&rs);
    return err;
}

/* Tombstones for the group's metadata and every offset it committed. */
int group_write_tombstones(st_groups_t *g, group_t *gr) {
    group_records_t rs;
    group_records_init(&rs);
    for (int32_t i = 0; i < gr->offset_count; i++) {
        group_encode_offset_key(&rs.key, gr->id, gr->offsets[i].topic, gr->offsets[i].partition);
        group_records_add(&rs, true);
    }
    encode_group_key(&rs.key, gr->id);
    group_records_add(&rs, true);
    int err = group_records_append(g, gr->id, &rs);
    group_records_free(&rs);
    return err;
}


int st_groups_prepare(st_groups_t *g) {
    return group_offsets_partition(g, "", true) ? 0 : ST_ERR_COORDINATOR_NOT_AVAILABLE;
}

/* The state machine records a group's change through persist_group (the
 * store sits above it, so it is handed down, not called up). */
st_groups_t *st_groups_new(st_broker_t *b) {
    st_groups_t *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->b = b;
    g->persist_group = group_store;
    return g;
}

/* ---- load at start and expiry ------------------------------------------- */

typedef struct load_ctx {
    st_groups_t *g;
    int records;
} load_ctx_t;

static void load_group_value(st_groups_t *g, const char *group_id, const uint8_t *value, int32_t len) {
    group_t *gr = group_find(g, group_id);
    if (!value) {
        /* Tombstone: the group is gone (its offsets have their own). */
        if (gr && gr->offset_count == 0) group_destroy(g, gr);
        return;
    }
    st_reader_t r;
    st_reader_init(&r, value, (size_t)len);
    int16_t version = st_read_i16(&r);
    if (version < 0 || version > 4) return;
    st_arena_t arena;
    st_arena_init(&arena);
    st_group_metadata_value_t v;
    if (st_group_metadata_value_decode(&r, &arena, version, &v) != 0) {
        st_arena_free(&arena);
        return;
    }
    if (!gr) gr = group_create(g, group_id);
    while (gr->members) group_member_remove(gr, gr->members);
    free(gr->protocol_type);
    gr->protocol_type = group_dup_str(v.protocol_type);
    gr->generation = v.generation;
    free(gr->protocol_name);
    gr->protocol_name = group_dup_str(v.protocol);
    free(gr->leader_id);
    gr->leader_id = group_dup_str(v.leader);
    for (int32_t i = 0; i < v.members_count; i++) {
        const st_group_metadata_value_member_metadata_t *mm = &v.members[i];
        member_t *m = calloc(1, sizeof *m);
        if (!m) abort();
        m->group = gr;
        m->member_id = group_dup_str(mm->member_id);
        m->instance_id = group_dup_str(mm->group_instance_id);
        m->client_id = group_dup_str(mm->client_id);
        m->client_host = group_dup_str(mm->client_host);
        m->session_timeout_ms = mm->session_timeout;
        m->rebalance_timeout_ms = mm->rebalance_timeout > 0 ? mm->rebalance_timeout : mm->session_timeout;
        m->protocol_count = 1;
        m->protocols = calloc(1, sizeof *m->protocols);
        if (!m->protocols) abort();
        m->protocols[0].name = group_dup_c(gr->protocol_name);
        m->protocols[0].metadata_len = mm->subscription.len > 0 ? mm->subscription.len : 0;
        m->protocols[0].metadata = group_dup_bytes(mm->subscription.ptr, m->protocols[0].metadata_len);
        m->assignment_len = mm->assignment.len > 0 ? mm->assignment.len : 0;
        m->assignment = group_dup_bytes(mm->assignment.ptr, m->assignment_len);
        member_t **tail = &gr->members;
        while (*tail) tail = &(*tail)->next;
        *tail = m;
        gr->member_count++;
    }
    group_set_state(gr, gr->member_count > 0 ? GROUP_STABLE : GROUP_EMPTY);
    st_arena_free(&arena);
}

static int load_batch(void *ctx, const uint8_t *batch, size_t len) {
    load_ctx_t *lc = ctx;
    st_batch_header_t h;
    if (st_batch_header_parse(batch, len, &h) != 0 || (h.attributes & ST_BATCH_ATTR_CONTROL)) return 0;
    st_arena_t arena;
    st_arena_init(&arena);
    st_record_iter_t it;
    if (st_record_iter_init(&it, batch, len, 64 << 20, &arena) != 0) {
        st_arena_free(&arena);
        return 0;
    }
    st_record_t rec;
    while (st_record_iter_next(&it, &rec) == 1) {
        if (rec.key_len < 2) continue;
        st_reader_t r;
        st_reader_init(&r, rec.key, (size_t)rec.key_len);
        int16_t kv = st_read_i16(&r);
        if (kv == 0 || kv == 1) {
            st_offset_commit_key_t k;
            if (st_offset_commit_key_decode(&r, &arena, kv, &k) != 0 || k.group.len < 0 || k.topic.len < 0) continue;
            group_t *gr = group_find(lc->g, k.group.ptr);
            if (rec.value_len < 0) {
                if (gr) group_offset_remove(gr, k.topic.ptr, k.partition);
                continue;
            }
            st_reader_t vr;
            st_reader_init(&vr, rec.value, (size_t)rec.value_len);
            int16_t vv = st_read_i16(&vr);
            if (vv < 0 || vv > 4) continue;
            st_offset_commit_value_t v;
            if (st_offset_commit_value_decode(&vr, &arena, vv, &v) != 0) continue;
            if (!gr) gr = group_create(lc->g, k.group.ptr);
            group_offset_put(gr, k.topic.ptr, k.partition, v.offset, v.leader_epoch, v.metadata,
                       v.commit_timestamp);
            lc->records++;
        } else if (kv == 2) {
            st_group_metadata_key_t k;
            if (st_group_metadata_key_decode(&r, &arena, kv, &k) != 0 || k.group.len < 0) continue;
            load_group_value(lc->g, k.group.ptr, rec.value_len >= 0 ? rec.value : NULL, rec.value_len);
            lc->records++;
        }
    }
    st_arena_free(&arena);
    return 0;
}

int st_groups_load(st_groups_t *g) {
    st_topic_t *t = st_broker_topic(g->b, ST_OFFSETS_TOPIC);
    if (!t) return 0;
    load_ctx_t lc = {g, 0};
    for (int32_t i = 0; i < t->partition_count; i++) {
        st_partition_t *p = t->partitions[i];
        if (!p || !p->log) continue;
        st_partition_for_each_batch(p, st_partition_log_start_offset(p), load_batch, &lc);
    }
    /* Restored members get a full session to come back. */
    for (int i = 0; i < GROUP_BUCKETS; i++)
        for (group_t *gr = g->buckets[i]; gr; gr = gr->next)
            for (member_t *m = gr->members; m; m = m->next) group_member_touch(m);
    ST_INFO("loaded %d group(s) from %d record(s) of %s", g->count, lc.records, ST_OFFSETS_TOPIC);
    return 0;
}

void st_groups_housekeeping(st_groups_t *g, int64_t now_ms) {
    int64_t retention_ms = st_config_get_long(g->b->config, "offsets.retention.minutes") * 60000;
    for (int i = 0; i < GROUP_BUCKETS; i++) {
        group_t *gr = g->buckets[i];
        while (gr) {
            group_t *next = gr->next;
            if (gr->state == GROUP_EMPTY && gr->offset_count > 0 && now_ms - gr->empty_since_ms > retention_ms) {
                bool all_old = true;
                for (int32_t k = 0; k < gr->offset_count && all_old; k++)
                    if (now_ms - gr->offsets[k].commit_ms <= retention_ms) all_old = false;
                if (all_old && group_write_tombstones(g, gr) == 0) {
                    ST_INFO("group %s: offsets expired (offsets.retention.minutes)", gr->id);
                    group_destroy(g, gr);
                }
            }
            gr = next;
        }
    }
}
