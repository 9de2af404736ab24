/*
 * The broker: data dir formatting, the topic table and the metadata
 * records that change it.
 *
 * Invariants:
 *  1. Topics and partitions change only in apply_record(), which runs for
 *     records read back at start and for records just made durable by
 *     st_metadata_log_append: memory never runs ahead of the log.
 *  2. During replay partitions are only noted; their logs are opened once
 *     the whole metadata log has been read, so a topic deleted and created
 *     again under the same name never sees the old one's files.
 *  3. A partition directory carries `partition.metadata` with its topic id;
 *     directories that belong to no live topic are removed at start.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "raft/metadata_log.h"
#include "storage/dir_lock.h"
#include "storage/fsutil.h"
#include "strata_version.h"

#define PRODUCER_ID_BLOCK_SIZE 1000
#define TOPIC_NAME_MAX_CHARS 249

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

st_topic_t *st_broker_topic(st_broker_t *b, const char *name) {
    for (st_topic_t *t = b->topic_buckets[name_hash(name) % ST_TOPIC_BUCKETS]; t; t = t->next_in_bucket)
        if (strcmp(t->name, name) == 0) return t;
    return NULL;
}

st_topic_t *st_broker_topic_by_id(st_broker_t *b, const st_uuid_t *id) {
    for (int i = 0; i < ST_TOPIC_BUCKETS; i++)
        for (st_topic_t *t = b->topic_buckets[i]; t; t = t->next_in_bucket)
            if (memcmp(t->id.bytes, id->bytes, 16) == 0) return t;
    return NULL;
}

st_partition_t *st_broker_partition(st_broker_t *b, const char *topic, int32_t partition) {
    st_topic_t *t = st_broker_topic(b, topic);
    if (!t || partition < 0 || partition >= t->partition_count) return NULL;
    return t->partitions[partition];
}

void st_broker_each_topic(st_broker_t *b, int (*fn)(void *ctx, st_topic_t *t), void *ctx) {
    for (int i = 0; i < ST_TOPIC_BUCKETS; i++)
        for (st_topic_t *t = b->topic_buckets[i]; t; t = t->next_in_bucket)
            if (fn(ctx, t)) return;
}

int st_topic_name_validate(const char *name, char *msg, size_t msg_len) {
    size_t len = strlen(name);
    if (len == 0) {
        snprintf(msg, msg_len, "Topic name is illegal, it can't be empty");
        return ST_ERR_INVALID_TOPIC_EXCEPTION;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        snprintf(msg, msg_len, "Topic name cannot be \".\" or \"..\"");
        return ST_ERR_INVALID_TOPIC_EXCEPTION;
    }
    if (len > TOPIC_NAME_MAX_CHARS) {
        snprintf(msg, msg_len, "Topic name is illegal, it can't be longer than %d characters, topic name: %s",
                 TOPIC_NAME_MAX_CHARS, name);
        return ST_ERR_INVALID_TOPIC_EXCEPTION;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '_' || ch == '-';
        if (!ok) {
            snprintf(msg, msg_len,
                     "Topic name \"%s\" is illegal, it contains a character other than ASCII alphanumerics, '.', "
                     "'_' and '-'",
                     name);
            return ST_ERR_INVALID_TOPIC_EXCEPTION;
        }
    }
    return 0;
}

/* ---- applying metadata records ------------------------------------------ */

static void topic_resolve_settings(st_broker_t *b, st_topic_t *t) {
    st_topic_settings_resolve(b->config, t->config_count, (const char *const *)t->config_names,
                              (const char *const *)t->config_values, &t->settings);
}

static void apply_topic(st_broker_t *b, const st_topic_record_t *r) {
    st_topic_t *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->name = strndup(r->name.ptr, (size_t)r->name.len);
    if (!t->name) abort();
    t->id = r->topic_id;
    t->internal = t->name[0] == '_' && t->name[1] == '_';
    topic_resolve_settings(b, t);
    uint32_t bucket = name_hash(t->name) % ST_TOPIC_BUCKETS;
    t->next_in_bucket = b->topic_buckets[bucket];
    b->topic_buckets[bucket] = t;
    b->topic_count++;
}

static void apply_partition(st_broker_t *b, const st_partition_record_t *r, bool replaying) {
    st_topic_t *t = st_broker_topic_by_id(b, &r->topic_id);
    if (!t || r->partition_id != t->partition_count) {
        ST_ERROR("metadata: partition record %d for unknown topic or out of order; ignored", r->partition_id);
        return;
    }
    st_partition_t **parts = realloc(t->partitions, (size_t)(t->partition_count + 1) * sizeof *parts);
    if (!parts) abort();
    t->partitions = parts;
    t->partitions[t->partition_count] = NULL;
    t->partition_count++;
    if (!replaying) {
        st_partition_t *p = NULL;
        int err = st_partition_open(b, t, r->partition_id, &p);
        if (err != 0) ST_ERROR("cannot open partition %s-%d: %s", t->name, r->partition_id, st_err_name(err));
        t->partitions[r->partition_id] = p;
    }
}

static void topic_set_config(st_topic_t *t, const char *name, const char *value) {
    for (int32_t i = 0; i < t->config_count; i++) {
        if (strcmp(t->config_names[i], name) != 0) continue;
        free(t->config_values[i]);
        if (value) {
            t->config_values[i] = strdup(value);
            if (!t->config_values[i]) abort();
            return;
        }
        free(t->config_names[i]);
        t->config_count--;
        t->config_names[i] = t->config_names[t->config_count];
        t->config_values[i] = t->config_values[t->config_count];
        return;
    }
    if (!value) return;
    char **names = realloc(t->config_names, (size_t)(t->config_count + 1) * sizeof *names);
    if (!names) abort();
    t->config_names = names;
    char **values = realloc(t->config_values, (size_t)(t->config_count + 1) * sizeof *values);
    if (!values) abort();
    t->config_values = values;
    t->config_names[t->config_count] = strdup(name);
    t->config_values[t->config_count] = strdup(value);
    if (!t->config_names[t->config_count] || !t->config_values[t->config_count]) abort();
    t->config_count++;
}

static void apply_config(st_broker_t *b, const st_config_record_t *r, bool replaying) {
    enum { RESOURCE_TOPIC = 2 };
    if (r->resource_type != RESOURCE_TOPIC) return;
    st_topic_t *t = st_broker_topic(b, r->resource_name.ptr);
    if (!t) return;
    topic_set_config(t, r->name.ptr, r->value.len >= 0 ? r->value.ptr : NULL);
    topic_resolve_settings(b, t);
    if (!replaying)
        for (int32_t i = 0; i < t->partition_count; i++)
            if (t->partitions[i]) st_partition_apply_settings(t->partitions[i]);
}

static void topic_free(st_topic_t *t) {
    for (int32_t i = 0; i < t->config_count; i++) {
        free(t->config_names[i]);
        free(t->config_values[i]);
    }
    free(t->config_names);
    free(t->config_values);
    free(t->partitions);
    free(t->name);
    free(t);
}

static void apply_remove_topic(st_broker_t *b, const st_remove_topic_record_t *r, bool replaying) {
    st_topic_t *t = st_broker_topic_by_id(b, &r->topic_id);
    if (!t) return;
    uint32_t bucket = name_hash(t->name) % ST_TOPIC_BUCKETS;
    for (st_topic_t **pp = &b->topic_buckets[bucket]; *pp; pp = &(*pp)->next_in_bucket) {
        if (*pp == t) {
            *pp = t->next_in_bucket;
            break;
        }
    }
    b->topic_count--;
    for (int32_t i = 0; i < t->partition_count; i++) {
        st_partition_t *p = t->partitions[i];
        if (!p) continue;
        if (b->hooks.partition_removed) b->hooks.partition_removed(b, p);
        if (!replaying) st_partition_delete_files(p);
        st_partition_close(p);
    }
    topic_free(t);
}

static void apply_producer_ids(st_broker_t *b, const st_producer_ids_record_t *r) {
    /* At replay the ids of the last block may have been handed out before
     * a crash: skip to the block's end. The allocator rewinds to the
     * block's start after it appended a record itself. */
    b->producer_id_block_end = r->next_producer_id;
    b->next_producer_id = r->next_producer_id;
}

/* Replayed records only note partitions (invariant 2): their logs open
 * after the whole replay, and a replayed removal deletes no files. */
static void apply_record(void *ctx, const st_metadata_record_t *rec, st_metadata_apply_phase_t phase) {
    st_broker_t *b = ctx;
    bool replaying = phase == ST_METADATA_REPLAYED;
    switch (rec->type) {
    case ST_METADATA_TOPIC_RECORD: apply_topic(b, rec->message); break;
    case ST_METADATA_PARTITION_RECORD: apply_partition(b, rec->message, replaying); break;
    case ST_METADATA_CONFIG_RECORD: apply_config(b, rec->message, replaying); break;
    case ST_METADATA_REMOVE_TOPIC_RECORD: apply_remove_topic(b, rec->message, replaying); break;
    case ST_METADATA_PRODUCER_IDS_RECORD: apply_producer_ids(b, rec->message); break;
    default: break;
    }
}

/* ---- changes ------------------------------------------------------------- */

static void random_bytes(uint8_t *out, size_t n) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t have = 0;
    if (fd >= 0) {
        while (have < n) {
            ssize_t r = read(fd, out + have, n - have);
            if (r <= 0) break;
            have += (size_t)r;
        }
        close(fd);
    }
    for (; have < n; have++) out[have] = (uint8_t)(rand() ^ (int)st_monotonic_ms());
}

static st_uuid_t new_topic_id(st_broker_t *b) {
    st_uuid_t id;
    do {
        random_bytes(id.bytes, 16);
        id.bytes[6] = (uint8_t)((id.bytes[6] & 0x0f) | 0x40); /* version 4 */
        id.bytes[8] = (uint8_t)((id.bytes[8] & 0x3f) | 0x80);
    } while (st_uuid_is_zero(&id) || st_broker_topic_by_id(b, &id));
    return id;
}

static st_partition_record_t partition_record(st_broker_t *b, const st_uuid_t *topic_id, int32_t index) {
    st_partition_record_t pr;
    st_partition_record_init(&pr);
    static int32_t replica_storage[1];
    replica_storage[0] = b->node_id;
    pr.partition_id = index;
    pr.topic_id = *topic_id;
    pr.replicas = replica_storage;
    pr.replicas_count = 1;
    pr.isr = replica_storage;
    pr.isr_count = 1;
    pr.leader = b->node_id;
    pr.leader_epoch = 0;
    pr.partition_epoch = 0;
    return pr;
}

int st_broker_create_topic(st_broker_t *b, const char *name, int32_t partitions, int32_t config_count,
                           const char *const *config_names, const char *const *config_values, st_uuid_t *id_out) {
    int32_t n = 1 + partitions + config_count;
    st_metadata_record_t *recs = calloc((size_t)n, sizeof *recs);
    st_partition_record_t *prs = calloc((size_t)(partitions ? partitions : 1), sizeof *prs);
    st_config_record_t *crs = calloc((size_t)(config_count ? config_count : 1), sizeof *crs);
    if (!recs || !prs || !crs) abort();
    st_topic_record_t tr;
    st_topic_record_init(&tr);
    tr.name = st_str(name);
    tr.topic_id = new_topic_id(b);
    recs[0] = (st_metadata_record_t){ST_METADATA_TOPIC_RECORD, 0, &tr};
    for (int32_t i = 0; i < partitions; i++) {
        prs[i] = partition_record(b, &tr.topic_id, i);
        recs[1 + i] = (st_metadata_record_t){ST_METADATA_PARTITION_RECORD, 0, &prs[i]};
    }
    for (int32_t i = 0; i < config_count; i++) {
        st_config_record_init(&crs[i]);
        crs[i].resource_type = 2;
        crs[i].resource_name = st_str(name);
        crs[i].name = st_str(config_names[i]);
        crs[i].value = st_str(config_values[i]);
        recs[1 + partitions + i] = (st_metadata_record_t){ST_METADATA_CONFIG_RECORD, 0, &crs[i]};
    }
    /* Configs are applied after the partitions were opened: re-apply them so
     * the logs get the topic's settings. */
    int err = st_metadata_log_append(b->metadata, recs, n, st_wall_ms());
    if (err == 0) {
        st_topic_t *t = st_broker_topic(b, name);
        if (t)
            for (int32_t i = 0; i < t->partition_count; i++)
                if (t->partitions[i]) st_partition_apply_settings(t->partitions[i]);
        if (id_out) *id_out = tr.topic_id;
        ST_INFO("created topic %s with %d partitions and %d config overrides", name, partitions, config_count);
    } else {
        ST_ERROR("could not create topic %s: metadata log append failed: %s", name, st_err_name(err));
    }
    free(recs);
    free(prs);
    free(crs);
    return err == 0 ? 0 : ST_ERR_KAFKA_STORAGE_ERROR;
}

int st_broker_delete_topic(st_broker_t *b, st_topic_t *t) {
    st_remove_topic_record_t rr;
    st_remove_topic_record_init(&rr);
    rr.topic_id = t->id;
    st_metadata_record_t rec = {ST_METADATA_REMOVE_TOPIC_RECORD, 0, &rr};
    char *name = strdup(t->name);
    int err = st_metadata_log_append(b->metadata, &rec, 1, st_wall_ms());
    if (err == 0) ST_INFO("deleted topic %s", name);
    free(name);
    return err == 0 ? 0 : ST_ERR_KAFKA_STORAGE_ERROR;
}

int st_broker_add_partitions(st_broker_t *b, st_topic_t *t, int32_t new_total) {
    int32_t add = new_total - t->partition_count;
    if (add <= 0) return 0;
    st_metadata_record_t *recs = calloc((size_t)add, sizeof *recs);
    st_partition_record_t *prs = calloc((size_t)add, sizeof *prs);
    if (!recs || !prs) abort();
    for (int32_t i = 0; i < add; i++) {
        prs[i] = partition_record(b, &t->id, t->partition_count + i);
        recs[i] = (st_metadata_record_t){ST_METADATA_PARTITION_RECORD, 0, &prs[i]};
    }
    int err = st_metadata_log_append(b->metadata, recs, add, st_wall_ms());
    free(recs);
    free(prs);
    return err == 0 ? 0 : ST_ERR_KAFKA_STORAGE_ERROR;
}

int st_broker_alter_topic_config(st_broker_t *b, st_topic_t *t, int32_t n, const char *const *names,
                                 const char *const *values, bool incremental) {
    /* A full AlterConfigs replaces the set: keys not named are deleted. */
    int32_t removals = 0;
    if (!incremental) {
        for (int32_t i = 0; i < t->config_count; i++) {
            bool kept = false;
            for (int32_t j = 0; j < n; j++)
                if (strcmp(t->config_names[i], names[j]) == 0) kept = true;
            if (!kept) removals++;
        }
    }
    int32_t total = n + removals;
    if (total == 0) return 0;
    st_metadata_record_t *recs = calloc((size_t)total, sizeof *recs);
    st_config_record_t *crs = calloc((size_t)total, sizeof *crs);
    if (!recs || !crs) abort();
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++, k++) {
        st_config_record_init(&crs[k]);
        crs[k].resource_type = 2;
        crs[k].resource_name = st_str(t->name);
        crs[k].name = st_str(names[i]);
        crs[k].value = st_str(values[i]);
        recs[k] = (st_metadata_record_t){ST_METADATA_CONFIG_RECORD, 0, &crs[k]};
    }
    if (!incremental) {
        for (int32_t i = 0; i < t->config_count; i++) {
            bool kept = false;
            for (int32_t j = 0; j < n; j++)
                if (strcmp(t->config_names[i], names[j]) == 0) kept = true;
            if (kept) continue;
            st_config_record_init(&crs[k]);
            crs[k].resource_type = 2;
            crs[k].resource_name = st_str(t->name);
            crs[k].name = st_str(t->config_names[i]);
            crs[k].value = st_str_null();
            recs[k] = (st_metadata_record_t){ST_METADATA_CONFIG_RECORD, 0, &crs[k]};
            k++;
        }
    }
    /* Record names point into t's arrays, which applying edits: copy the
     * strings first. */
    char **copies = calloc((size_t)total * 2, sizeof *copies);
    if (!copies) abort();
    for (int32_t i = 0; i < total; i++) {
        copies[2 * i] = strdup(crs[i].name.ptr);
        copies[2 * i + 1] = crs[i].value.len >= 0 ? strdup(crs[i].value.ptr) : NULL;
        crs[i].name = st_str(copies[2 * i]);
        crs[i].value = st_str(copies[2 * i + 1]);
    }
    int err = st_metadata_log_append(b->metadata, recs, total, st_wall_ms());
    for (int32_t i = 0; i < total * 2; i++) free(copies[i]);
    free(copies);
    free(recs);
    free(crs);
    return err == 0 ? 0 : ST_ERR_KAFKA_STORAGE_ERROR;
}

int64_t st_broker_allocate_producer_id(st_broker_t *b) {
    if (b->next_producer_id >= b->producer_id_block_end) {
        st_producer_ids_record_t r;
        st_producer_ids_record_init(&r);
        r.broker_id = b->node_id;
        r.broker_epoch = 0;
        r.next_producer_id = b->producer_id_block_end + PRODUCER_ID_BLOCK_SIZE;
        int64_t block_start = b->producer_id_block_end;
        st_metadata_record_t rec = {ST_METADATA_PRODUCER_IDS_RECORD, 0, &r};
        if (st_metadata_log_append(b->metadata, &rec, 1, st_wall_ms()) != 0) return -1;
        b->next_producer_id = block_start;
    }
    return b->next_producer_id++;
}

/* ---- the data dir, the logs, their upkeep -------------------------------- */

int st_broker_format_data_dir(st_broker_t *b) {
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.properties", b->data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (strncmp(line, "cluster.id=", 11) == 0) snprintf(b->cluster_id, sizeof b->cluster_id, "%.31s", line + 11);
            if (strncmp(line, "node.id=", 8) == 0 && atoi(line + 8) != b->node_id) {
                ST_ERROR("%s has node.id=%s but the config says %d", path, line + 8, b->node_id);
                fclose(f);
                return ST_ERR_INVALID_CONFIG;
            }
        }
        fclose(f);
        if (b->cluster_id[0]) return 0;
    }
    /* First start: format the data dir (what kafka-storage.sh format does). */
    const char *configured = st_config_get_string(b->config, "cluster.id");
    if (configured && *configured) {
        snprintf(b->cluster_id, sizeof b->cluster_id, "%s", configured);
    } else {
        /* Kafka's cluster ids are a random UUID in URL-safe base64 without
         * padding: 22 characters. */
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        uint8_t raw[18] = {0};
        random_bytes(raw, 16);
        int out = 0;
        for (int i = 0; i < 18 && out < 22; i += 3) {
            uint32_t v = ((uint32_t)raw[i] << 16) | ((uint32_t)raw[i + 1] << 8) | raw[i + 2];
            for (int k = 3; k >= 0 && out < 22; k--) b->cluster_id[out++] = alphabet[(v >> (6 * k)) & 63];
        }
        b->cluster_id[22] = '\0';
    }
    char body[512];
    int len = snprintf(body, sizeof body, "#Written by strata-server on first start\nversion=1\ncluster.id=%s\nnode.id=%d\n",
                       b->cluster_id, b->node_id);
    int err = st_fs_write_atomic(b->data_dir, "meta.properties", body, (size_t)len);
    if (err != 0) {
        ST_ERROR("cannot write %s: %s", path, st_err_name(err));
        return err;
    }
    ST_INFO("formatted %s with cluster.id %s", b->data_dir, b->cluster_id);
    return 0;
}

typedef struct open_ctx {
    st_broker_t *b;
    int error;
} open_ctx_t;

static int open_topic_partitions(void *ctx, st_topic_t *t) {
    open_ctx_t *oc = ctx;
    for (int32_t i = 0; i < t->partition_count; i++) {
        if (t->partitions[i]) continue;
        int err = st_partition_open(oc->b, t, i, &t->partitions[i]);
        if (err != 0) {
            ST_ERROR("cannot open partition %s-%d: %s", t->name, i, st_err_name(err));
            oc->error = err;
            return 1;
        }
    }
    return 0;
}

/* Removes partition directories that no live topic owns (a delete that a
 * crash interrupted, or a topic deleted before the last restart). */
static void remove_orphan_dirs(st_broker_t *b) {
    DIR *d = opendir(b->data_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "__cluster_metadata-0") == 0) continue;
        char *dash = strrchr(e->d_name, '-');
        if (!dash || dash == e->d_name) continue;
        char *end = NULL;
        long idx = strtol(dash + 1, &end, 10);
        if (!end || *end != '\0') continue;
        char topic[512];
        snprintf(topic, sizeof topic, "%.*s", (int)(dash - e->d_name), e->d_name);
        if (st_broker_partition(b, topic, (int32_t)idx)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", b->data_dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        ST_INFO("removing %s: no live topic owns it", path);
        st_fs_remove_dir(path);
    }
    closedir(d);
}

int st_broker_open_metadata(st_broker_t *b) {
    char meta_dir[4096];
    snprintf(meta_dir, sizeof meta_dir, "%s/__cluster_metadata-0", b->data_dir);
    b->next_producer_id = 0;
    b->producer_id_block_end = 0;
    int err = st_metadata_log_open(meta_dir, st_wall_ms(), apply_record, b, &b->metadata);
    if (err != 0) ST_ERROR("cannot open the metadata log %s: %s", meta_dir, st_err_name(err));
    return err;
}

int st_broker_open_logs(st_broker_t *b) {
    open_ctx_t oc = {b, 0};
    st_broker_each_topic(b, open_topic_partitions, &oc);
    if (oc.error != 0) return oc.error;
    remove_orphan_dirs(b);
    return 0;
}

typedef struct housekeeping_ctx {
    st_broker_t *b;
    int64_t now;
} housekeeping_ctx_t;

static int housekeeping_partition(void *ctx, st_topic_t *t) {
    housekeeping_ctx_t *hc = ctx;
    int64_t now = hc->now;
    int64_t producer_expiration_ms = st_config_get_long(hc->b->config, "producer.id.expiration.ms");
    for (int32_t i = 0; i < t->partition_count; i++) {
        st_partition_t *p = t->partitions[i];
        if (p && p->log) st_partition_housekeeping(p, now, producer_expiration_ms);
    }
    return 0;
}

void st_broker_housekeeping(st_broker_t *b, int64_t now_ms) {
    housekeeping_ctx_t hc = {b, now_ms};
    st_broker_each_topic(b, housekeeping_partition, &hc);
}

static int compact_topic(void *ctx, st_topic_t *t) {
    const int64_t *now = ctx;
    if (!t->settings.cleanup_compact) return 0;
    for (int32_t i = 0; i < t->partition_count; i++) {
        st_partition_t *p = t->partitions[i];
        if (p && p->log) st_partition_compact(p, *now);
    }
    return 0;
}

void st_broker_compact(st_broker_t *b, int64_t now_ms) { st_broker_each_topic(b, compact_topic, &now_ms); }

static int close_topic(void *ctx, st_topic_t *t) {
    (void)ctx;
    for (int32_t i = 0; i < t->partition_count; i++)
        if (t->partitions[i]) st_partition_close(t->partitions[i]);
    return 0;
}

void st_broker_close_topics(st_broker_t *b) {
    st_broker_each_topic(b, close_topic, NULL);
    for (int i = 0; i < ST_TOPIC_BUCKETS; i++) {
        st_topic_t *t = b->topic_buckets[i];
        while (t) {
            st_topic_t *next = t->next_in_bucket;
            topic_free(t);
            t = next;
        }
        b->topic_buckets[i] = NULL;
    }
    st_metadata_log_close(b->metadata);
    b->metadata = NULL;
}
