/* `strata consumer-groups --reset-offsets`: see groups_internal.h. */
#include "tools/groups_internal.h"

/* ---- --reset-offsets ------------------------------------------------------------- */

/* Utils.getDateTime: "yyyy-MM-dd'T'HH:mm:ss.SSS" with an optional zone
 * ("Z", "+hh:mm", "+hhmm", "+hh"); no zone means UTC. Milliseconds may be
 * left out. */
static bool parse_datetime(const char *s, int64_t *out_ms) {
    int year, month, day, hour, minute, second, used = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second, &used) != 6 ||
        used != 19)
        return false;
    const char *p = s + used;
    int millis = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            millis = millis * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0) return false;
        while (digits++ < 3) millis *= 10;
    }
    int64_t zone_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int hh = 0, mm = 0;
        if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9')) return false;
        hh = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') p++;
        if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') {
            mm = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
        zone_s = sign * (int64_t)(hh * 3600 + mm * 60);
    }
    if (*p != '\0') return false;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t t = timegm(&tm);
    *out_ms = ((int64_t)t - zone_s) * 1000 + millis;
    return true;
}

/* java.time.Duration.parse: [-+]P[nD][T[nH][nM][n[.f]S]], case-insensitive,
 * each number optionally signed. */
static bool parse_duration(const char *s, int64_t *out_ms) {
    const char *p = s;
    int sign = 1;
    if (*p == '-' || *p == '+') sign = *p++ == '-' ? -1 : 1;
    if (*p != 'P' && *p != 'p') return false;
    p++;
    int64_t ms = 0;
    bool any = false, in_time = false;
    while (*p) {
        if (*p == 'T' || *p == 't') {
            if (in_time) return false;
            in_time = true;
            p++;
            if (!*p) return false;
            continue;
        }
        errno = 0;
        char *end = NULL;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno != 0) return false;
        int64_t fraction_ms = 0;
        if (*end == '.' || *end == ',') {
            end++;
            int digits = 0;
            while (*end >= '0' && *end <= '9') {
                if (digits < 3) fraction_ms = fraction_ms * 10 + (*end - '0');
                digits++;
                end++;
            }
            if (digits == 0) return false;
            for (int d = digits; d < 3; d++) fraction_ms *= 10;
            if (v < 0 || p[0] == '-') fraction_ms = -fraction_ms;
            if (*end != 'S' && *end != 's') return false;
        }
        char unit = *end;
        if (unit >= 'a' && unit <= 'z') unit = (char)(unit - 'a' + 'A');
        if (!in_time && unit == 'D')
            ms += v * 86400000LL;
        else if (in_time && unit == 'H')
            ms += v * 3600000LL;
        else if (in_time && unit == 'M')
            ms += v * 60000LL;
        else if (in_time && unit == 'S')
            ms += v * 1000LL + fraction_ms;
        else
            return false;
        any = true;
        p = end + 1;
    }
    if (!any) return false;
    *out_ms = sign * ms;
    return true;
}

typedef struct reset_entry {
    const char *group;
    topic_partition_t tp;
    int64_t offset;
} reset_entry_t;

typedef struct reset_plan {
    reset_entry_t *entries;
    int32_t count, cap;
    const char **groups; /* groups in the result map, even without entries */
    int32_t group_count;
} reset_plan_t;

static void plan_add(reset_plan_t *plan, const char *group, topic_partition_t tp, int64_t offset) {
    if (plan->count == plan->cap) {
        plan->cap = plan->cap ? plan->cap * 2 : 64;
        reset_entry_t *grown = realloc(plan->entries, sizeof *grown * (size_t)plan->cap);
        if (!grown) abort();
        plan->entries = grown;
    }
    plan->entries[plan->count++] = (reset_entry_t){group, tp, offset};
}

static int reset_entry_cmp(const void *a, const void *b) {
    const reset_entry_t *x = a, *y = b;
    int c = strcmp(x->group, y->group);
    return c != 0 ? c : groups_tp_cmp(&x->tp, &y->tp);
}

/* parseTopicPartitionsToReset: "t:0,1" names partitions; "t" means all of
 * the topic's partitions (an unknown topic fails the command). */
static int parse_topic_args(groups_ctx_t *x, const char *const *args, int32_t arg_count, topic_partition_t **out,
                            int32_t *out_count) {
    int32_t cap = 16, n = 0;
    topic_partition_t *tps = st_xcalloc((size_t)cap, sizeof *tps);
    const char **whole = st_arena_alloc(&x->arena, sizeof *whole * (size_t)(arg_count ? arg_count : 1));
    int32_t whole_count = 0;
    for (int32_t i = 0; i < arg_count; i++) {
        const char *colon = strchr(args[i], ':');
        if (!colon) {
            whole[whole_count++] = args[i];
            continue;
        }
        if (strchr(colon + 1, ':') || colon == args[i] || colon[1] == '\0') {
            free(tps);
            return groups_usage_error("Invalid topic arg '%s', expected topic name and partitions", args[i]);
        }
        const char *topic = groups_str_dup(&x->arena, (st_str_t){args[i], (int32_t)(colon - args[i])});
        char *list = st_arena_strdup(&x->arena, colon + 1);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int64_t partition = 0;
            if (!st_parse_i64(tok, INT32_MIN, INT32_MAX, &partition)) {
                free(tps);
                    return groups_usage_error("Invalid partition '%s' specified in topic arg '%s''", tok, args[i]);
            }
            if (n == cap) {
                cap *= 2;
                topic_partition_t *grown = realloc(tps, sizeof *grown * (size_t)cap);
                if (!grown) abort();
                tps = grown;
            }
            tps[n++] = (topic_partition_t){topic, (int32_t)partition};
        }
    }
    if (whole_count > 0) {
        topic_table_t table;
        int rc = groups_load_topics(x, whole, whole_count, &table);
        if (rc != 0) {
            free(tps);
            return rc;
        }
        for (int32_t i = 0; i < table.count; i++) {
            const topic_meta_t *t = &table.topics[i];
            if (t->error != 0) {
                free(tps);
                return groups_ctx_fail(x, t->error, "%s", groups_java_error_message(t->error));
            }
            for (int32_t p = 0; p < t->partition_count; p++) {
                if (t->leaders[p] == -2) continue;
                if (n == cap) {
                    cap *= 2;
                    topic_partition_t *grown = realloc(tps, sizeof *grown * (size_t)cap);
                    if (!grown) abort();
                    tps = grown;
                }
                tps[n++] = (topic_partition_t){t->name, p};
            }
        }
    }
    /* A Set in Kafka: drop repeats. */
    qsort(tps, (size_t)n, sizeof *tps, groups_tp_cmp);
    int32_t unique = 0;
    for (int32_t i = 0; i < n; i++)
        if (unique == 0 || groups_tp_cmp(&tps[unique - 1], &tps[i]) != 0) tps[unique++] = tps[i];
    topic_partition_t *copy = st_arena_alloc(&x->arena, sizeof *copy * (size_t)(unique ? unique : 1));
    memcpy(copy, tps, sizeof *copy * (size_t)unique);
    free(tps);
    *out = copy;
    *out_count = unique;
    return 0;
}

/* checkAllTopicPartitionsValid: every partition exists and has a leader. */
static int check_partitions_valid(groups_ctx_t *x, const topic_partition_t *tps, int32_t count) {
    const char **names = st_arena_alloc(&x->arena, sizeof *names * (size_t)(count ? count : 1));
    for (int32_t i = 0; i < count; i++) names[i] = tps[i].topic;
    topic_table_t table;
    int rc = groups_load_topics(x, names, count, &table);
    if (rc != 0) return rc;
    for (int pass = 0; pass < 2; pass++) {
        char list[ST_CLIENT_ERROR_BYTES] = "";
        size_t used = 0;
        for (int32_t i = 0; i < count; i++) {
            int32_t leader = groups_partition_leader(&table, &tps[i]);
            if (pass == 0 ? leader != -2 : leader != -1) continue;
            used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s-%d",
                                     used ? "," : "", tps[i].topic, (int)tps[i].partition);
            if (used >= sizeof list) used = sizeof list - 1;
        }
        if (used > 0)
            return groups_ctx_fail(x, pass == 0 ? ST_ERR_UNKNOWN_TOPIC_OR_PARTITION : ST_ERR_LEADER_NOT_AVAILABLE,
                            "The partitions \"%s\" %s", list, pass == 0 ? "do not exist" : "have no leader");
    }
    return 0;
}

/* prepareOffsetsToReset for one inactive group; adds to `plan`. */
static int prepare_reset(groups_ctx_t *x, const char *group, reset_plan_t *plan) {
    const groups_options_t *o = x->o;
    committed_t *committed = NULL;
    int32_t committed_count = 0;
    int rc = groups_fetch_committed(x, group, &committed, &committed_count);
    if (rc != 0) return rc;
    topic_partition_t *tps = NULL;
    int32_t count = 0;
    if (o->all_topics) {
        tps = st_arena_alloc(&x->arena, sizeof *tps * (size_t)(committed_count ? committed_count : 1));
        for (int32_t i = 0; i < committed_count; i++) tps[count++] = committed[i].tp;
    } else {
        rc = parse_topic_args(x, o->topics, o->topic_count, &tps, &count);
        if (rc != 0) return rc;
    }
    rc = check_partitions_valid(x, tps, count);
    if (rc != 0) return rc;
    int64_t *earliest = st_arena_alloc(&x->arena, sizeof(int64_t) * (size_t)(count ? count : 1));
    int64_t *latest = st_arena_alloc(&x->arena, sizeof(int64_t) * (size_t)(count ? count : 1));
    int64_t *at_time = st_arena_alloc(&x->arena, sizeof(int64_t) * (size_t)(count ? count : 1));
    bool *earliest_known = st_arena_alloc(&x->arena, sizeof(bool) * (size_t)(count ? count : 1));
    bool *latest_known = st_arena_alloc(&x->arena, sizeof(bool) * (size_t)(count ? count : 1));
    bool *at_time_known = st_arena_alloc(&x->arena, sizeof(bool) * (size_t)(count ? count : 1));
    rc = groups_list_offsets(x, tps, count, ST_OFFSET_LATEST, latest, latest_known);
    if (rc == 0) rc = groups_list_offsets(x, tps, count, ST_OFFSET_EARLIEST, earliest, earliest_known);
    if (rc != 0) return rc;
    int64_t timestamp = 0;
    if (o->scenario == RESET_TO_DATETIME || o->scenario == RESET_BY_DURATION) {
        if (o->scenario == RESET_TO_DATETIME) {
            if (!parse_datetime(o->scenario_text, &timestamp))
                return groups_ctx_fail(x, ST_ERR_INVALID_REQUEST, "Unparseable date: \"%s\"", o->scenario_text);
        } else {
            int64_t duration_ms = 0;
            if (!parse_duration(o->scenario_text, &duration_ms))
                return groups_ctx_fail(x, ST_ERR_INVALID_REQUEST, "Text cannot be parsed to a Duration");
            timestamp = groups_wall_clock_ms() - duration_ms;
        }
        rc = groups_list_offsets(x, tps, count, timestamp, at_time, at_time_known);
        if (rc != 0) return rc;
    }
    for (int32_t i = 0; i < count; i++) {
        const committed_t *c = groups_committed_find(committed, committed_count, &tps[i]);
        bool has_committed = c && c->offset >= 0;
        int64_t offset = 0;
        bool clamp = false;
        switch (o->scenario) {
        case RESET_TO_EARLIEST:
            if (!earliest_known[i]) {
                    return groups_usage_error("Error getting starting offset of topic partition: %s-%d", tps[i].topic,
                                   (int)tps[i].partition);
            }
            offset = earliest[i];
            break;
        case RESET_TO_LATEST:
            if (!latest_known[i]) {
                    return groups_usage_error("Error getting ending offset of topic partition: %s-%d", tps[i].topic,
                                   (int)tps[i].partition);
            }
            offset = latest[i];
            break;
        case RESET_TO_CURRENT:
            if (has_committed) {
                offset = c->offset;
            } else if (latest_known[i]) {
                offset = latest[i];
            } else {
                return groups_ctx_fail(x, ST_ERR_UNKNOWN_SERVER_ERROR, "Error getting ending offset of topic partition: %s-%d",
                                tps[i].topic, (int)tps[i].partition);
            }
            break;
        case RESET_TO_OFFSET:
            offset = o->scenario_value;
            clamp = true;
            break;
        case RESET_SHIFT_BY:
            if (!has_committed) {
                    return groups_usage_error("Cannot shift offset for partition %s-%d since there is no current committed offset",
                                   tps[i].topic, (int)tps[i].partition);
            }
            offset = c->offset + o->scenario_value;
            clamp = true;
            break;
        case RESET_TO_DATETIME:
        case RESET_BY_DURATION:
            if (at_time_known[i] && at_time[i] >= 0) {
                offset = at_time[i];
            } else {
                /* No record at or after the time: Kafka warns on stdout. */
                if (!o->json)
                    printf("\nWarn: Partition %d from topic %s is empty. Falling back to latest known offset.\n",
                           (int)tps[i].partition, tps[i].topic);
                else
                    fprintf(stderr, "Warn: Partition %d from topic %s is empty. Falling back to latest known offset.\n",
                            (int)tps[i].partition, tps[i].topic);
                if (!latest_known[i]) {
                            return groups_usage_error("Error getting offset by timestamp of topic partition: %s-%d", tps[i].topic,
                                       (int)tps[i].partition);
                }
                offset = latest[i];
            }
            break;
        case RESET_NONE: break;
        }
        /* checkOffsetsRange: above the log end goes to the end, below the
         * log start goes to the start. */
        if (clamp) {
            /* Kafka's tool logs these at WARN (log4j, on stderr). */
            if (latest_known[i] && offset > latest[i]) {
                fprintf(stderr,
                        "WARN New offset (%lld) is higher than latest offset for topic partition %s-%d. "
                        "Value will be set to %lld\n",
                        (long long)offset, tps[i].topic, (int)tps[i].partition, (long long)latest[i]);
                offset = latest[i];
            } else if (earliest_known[i] && offset < earliest[i]) {
                fprintf(stderr,
                        "WARN New offset (%lld) is lower than earliest offset for topic partition %s-%d. "
                        "Value will be set to %lld\n",
                        (long long)offset, tps[i].topic, (int)tps[i].partition, (long long)earliest[i]);
                offset = earliest[i];
            }
        }
        plan_add(plan, group, tps[i], offset);
    }
    return 0;
}

static int offset_commit_error(const void *response) {
    const st_offset_commit_response_t *r = response;
    for (int32_t t = 0; t < r->topics_count; t++)
        for (int32_t p = 0; p < r->topics[t].partitions_count; p++)
            if (r->topics[t].partitions[p].error_code != 0) return r->topics[t].partitions[p].error_code;
    return 0;
}

/* alterConsumerGroupOffsets: an OffsetCommit as no member (generation -1,
 * empty member id), which the coordinator accepts only for an empty group. */
static int commit_offsets(groups_ctx_t *x, const char *group, const reset_entry_t *entries, int32_t count) {
    if (count == 0) return 0;
    st_offset_commit_request_t req;
    st_offset_commit_request_init(&req);
    req.group_id = st_str(group);
    req.generation_id_or_member_epoch = -1;
    req.member_id = st_str("");
    req.group_instance_id = st_str_null();
    req.retention_time_ms = -1;
    req.topics = st_arena_alloc(&x->arena, sizeof *req.topics * (size_t)count);
    for (int32_t i = 0; i < count; i++) {
        st_offset_commit_request_offset_commit_request_topic_t *t = NULL;
        for (int32_t q = 0; q < req.topics_count && !t; q++)
            if (st_str_eq(req.topics[q].name, entries[i].tp.topic)) t = &req.topics[q];
        if (!t) {
            t = &req.topics[req.topics_count++];
            memset(t, 0, sizeof *t);
            t->name = st_str(entries[i].tp.topic);
            t->partitions = st_arena_alloc(&x->arena, sizeof *t->partitions * (size_t)count);
        }
        st_offset_commit_request_offset_commit_request_partition_t *p = &t->partitions[t->partitions_count++];
        memset(p, 0, sizeof *p);
        p->partition_index = entries[i].tp.partition;
        p->committed_offset = entries[i].offset;
        p->committed_leader_epoch = -1;
        p->commit_timestamp = -1;
        p->committed_metadata = st_str(""); /* new OffsetAndMetadata(offset) */
    }
    st_offset_commit_response_t resp;
    int rc = groups_coordinator_call(x, group, ST_API_OFFSET_COMMIT, &req, &resp, offset_commit_error);
    if (rc != 0) return rc;
    int code = offset_commit_error(&resp);
    if (code != 0) return groups_ctx_fail(x, code, "%s", groups_java_error_message(code));
    return 0;
}

int groups_reset_offsets(groups_ctx_t *x) {
    const groups_options_t *o = x->o;
    const char **ids = NULL;
    int32_t count = 0;
    int rc = groups_selected_groups(x, &ids, &count);
    if (rc != 0) return rc;
    rc = groups_find_coordinators(x, ids, count);
    if (rc != 0) return rc;
    reset_plan_t plan;
    memset(&plan, 0, sizeof plan);
    plan.groups = st_arena_alloc(&x->arena, sizeof *plan.groups * (size_t)(count ? count : 1));
    for (int32_t i = 0; i < count && rc == 0; i++) {
        group_t g;
        rc = groups_describe_group(x, ids[i], &g);
        if (rc != 0) break;
        plan.groups[plan.group_count++] = ids[i];
        if (strcmp(g.state, "Empty") != 0 && strcmp(g.state, "Dead") != 0) {
            groups_print_error(x, "Assignments can only be reset if the group '%s' is inactive, but the current state is %s.",
                        ids[i], g.state);
            continue;
        }
        int32_t first = plan.count;
        rc = prepare_reset(x, ids[i], &plan);
        if (rc == 0 && o->execute) rc = commit_offsets(x, ids[i], plan.entries + first, plan.count - first);
    }
    if (rc != 0) {
        free(plan.entries);
        return rc;
    }
    if (plan.count > 1) qsort(plan.entries, (size_t)plan.count, sizeof *plan.entries, reset_entry_cmp);
    if (x->json) {
        for (int32_t i = 0; i < plan.count; i++) {
            const reset_entry_t *e = &plan.entries[i];
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(e->group));
            json_object_set_new(row, "topic", json_string(e->tp.topic));
            json_object_set_new(row, "partition", json_integer(e->tp.partition));
            json_object_set_new(row, "new_offset", json_integer(e->offset));
            json_array_append_new(x->json, row);
        }
        free(plan.entries);
        return 0;
    }
    /* printOffsetsToReset: "%n%-Gs %-Ts %-10s %s"; the header whenever a
     * group was considered. */
    int gw = GROUPS_COLUMN_MIN, tw = GROUPS_COLUMN_MIN;
    for (int32_t i = 0; i < plan.group_count; i++) gw = groups_width_max(gw, plan.groups[i]);
    for (int32_t i = 0; i < plan.count; i++) tw = groups_width_max(tw, plan.entries[i].tp.topic);
    if (plan.group_count > 0) printf("\n%-*s %-*s %-10s %s", gw, "GROUP", tw, "TOPIC", "PARTITION", "NEW-OFFSET");
    for (int32_t i = 0; i < plan.count; i++) {
        const reset_entry_t *e = &plan.entries[i];
        char partition[16];
        snprintf(partition, sizeof partition, "%d", (int)e->tp.partition);
        printf("\n%-*s %-*s %-10s %lld", gw, e->group, tw, e->tp.topic, partition, (long long)e->offset);
    }
    printf("\n");
    free(plan.entries);
    return 0;
}

