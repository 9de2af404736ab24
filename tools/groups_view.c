/* `strata consumer-groups --list` and `--describe`: see groups_internal.h. */
#include "tools/groups_internal.h"

/* ---- --list ---------------------------------------------------------------- */

/* GroupState.parse: case-insensitive; the canonical names go on the wire. */
static const char *const GROUP_STATES[] = {"PreparingRebalance", "CompletingRebalance", "Stable", "Dead",
                                           "Empty", "Assigning", "Reconciling"};
#define GROUP_STATE_COUNT ((int32_t)(sizeof GROUP_STATES / sizeof GROUP_STATES[0]))

int groups_list(groups_ctx_t *x) {
    const groups_options_t *o = x->o;
    const char *states[GROUP_STATE_COUNT];
    int32_t state_count = 0;
    if (o->state_value && o->state_value[0]) {
        char *copy = st_arena_strdup(&x->arena, o->state_value);
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ' || *tok == '\t') tok++;
            size_t len = strlen(tok);
            while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t')) tok[--len] = '\0';
            const char *canonical = NULL;
            for (int32_t i = 0; i < GROUP_STATE_COUNT && !canonical; i++)
                if (strcasecmp(tok, GROUP_STATES[i]) == 0) canonical = GROUP_STATES[i];
            if (!canonical)
                return groups_usage_error("Invalid state list '%s'. Valid states are: PreparingRebalance, "
                                   "CompletingRebalance, Stable, Dead, Empty, Assigning, Reconciling",
                                   o->state_value);
            bool dup = false;
            for (int32_t i = 0; i < state_count && !dup; i++) dup = states[i] == canonical;
            if (!dup) states[state_count++] = canonical;
        }
    }
    listed_group_t *groups = NULL;
    int32_t count = 0;
    int rc = groups_list_groups(x, states, state_count, &groups, &count);
    if (rc != 0) return rc;
    bool with_state = o->state;
    if (o->json) {
        for (int32_t i = 0; i < count; i++) {
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(groups[i].group_id));
            json_object_set_new(row, "state", groups[i].state ? json_string(groups[i].state) : json_null());
            json_array_append_new(x->json, row);
        }
        return 0;
    }
    if (!with_state) {
        for (int32_t i = 0; i < count; i++) printf("%s\n", groups[i].group_id);
        return 0;
    }
    /* printGroupInfo (4.x): "%-{max(15, longest) + 10}s %-20s". */
    int width = GROUPS_COLUMN_MIN;
    for (int32_t i = 0; i < count; i++) width = groups_width_max(width, groups[i].group_id);
    width += 10;
    printf("%-*s %-20s\n", width, "GROUP", "STATE");
    for (int32_t i = 0; i < count; i++)
        printf("%-*s %-20s\n", width, groups[i].group_id, groups[i].state ? groups[i].state : "Unknown");
    return 0;
}

/* ---- --describe (offsets) --------------------------------------------------- */

typedef struct offset_row {
    const char *group;
    topic_partition_t tp;
    bool has_offset;
    int64_t offset;
    bool has_leo;
    int64_t leo;
    const char *consumer_id, *host, *client_id;
} offset_row_t;

static int member_size_cmp(const void *a, const void *b) {
    const member_t *const *x = a, *const *y = b;
    if ((*x)->assignment_count != (*y)->assignment_count)
        return (*x)->assignment_count > (*y)->assignment_count ? -1 : 1;
    return 0;
}

static void format_i64(char *buf, size_t cap, bool present, int64_t v) {
    if (present)
        snprintf(buf, cap, "%lld", (long long)v);
    else
        snprintf(buf, cap, MISSING);
}

/* collectGroupsOffsets + printOffsets for one group. */
static int describe_offsets_one(groups_ctx_t *x, const group_t *g) {
    committed_t *committed = NULL;
    int32_t committed_count = 0;
    int rc = groups_fetch_committed(x, g->group_id, &committed, &committed_count);
    if (rc != 0) return rc;
    int32_t total = committed_count;
    for (int32_t i = 0; i < g->member_count; i++) total += g->members[i].assignment_count;
    offset_row_t *rows = st_arena_alloc(&x->arena, sizeof *rows * (size_t)(total ? total : 1));
    int32_t n = 0;
    /* Members with partitions, most partitions first (a stable sort, as
     * Java's), each member's partitions by topic and partition. */
    const member_t **members = st_arena_alloc(&x->arena, sizeof *members * (size_t)(g->member_count + 1));
    int32_t member_count = 0;
    for (int32_t i = 0; i < g->member_count; i++)
        if (g->members[i].assignment_count > 0) members[member_count++] = &g->members[i];
    for (int32_t i = 1; i < member_count; i++) { /* insertion sort: stable */
        const member_t *m = members[i];
        int32_t j = i;
        while (j > 0 && member_size_cmp(&members[j - 1], &m) > 0) {
            members[j] = members[j - 1];
            j--;
        }
        members[j] = m;
    }
    for (int32_t i = 0; i < member_count; i++) {
        const member_t *m = members[i];
        for (int32_t k = 0; k < m->assignment_count; k++) {
            offset_row_t *r = &rows[n++];
            memset(r, 0, sizeof *r);
            r->group = g->group_id;
            r->tp = m->assignment[k];
            const committed_t *c = groups_committed_find(committed, committed_count, &r->tp);
            r->has_offset = c != NULL;
            r->offset = c ? c->offset : -1;
            r->consumer_id = m->member_id;
            r->host = m->host;
            r->client_id = m->client_id;
        }
    }
    int32_t assigned_rows = n;
    /* Partitions with committed offsets that no member owns. */
    for (int32_t i = 0; i < committed_count; i++) {
        bool owned = false;
        for (int32_t k = 0; k < assigned_rows && !owned; k++) owned = groups_tp_cmp(&rows[k].tp, &committed[i].tp) == 0;
        if (owned) continue;
        offset_row_t *r = &rows[n++];
        memset(r, 0, sizeof *r);
        r->group = g->group_id;
        r->tp = committed[i].tp;
        r->has_offset = true;
        r->offset = committed[i].offset;
        r->consumer_id = r->host = r->client_id = MISSING;
    }
    /* Log end offsets of every row's partition. */
    topic_partition_t *tps = st_arena_alloc(&x->arena, sizeof *tps * (size_t)(n ? n : 1));
    int64_t *leos = st_arena_alloc(&x->arena, sizeof *leos * (size_t)(n ? n : 1));
    bool *known = st_arena_alloc(&x->arena, sizeof *known * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++) tps[i] = rows[i].tp;
    rc = groups_list_offsets(x, tps, n, ST_OFFSET_LATEST, leos, known);
    if (rc != 0) return rc;
    for (int32_t i = 0; i < n; i++) {
        rows[i].has_leo = known[i];
        rows[i].leo = leos[i];
        /* OffsetFetch answers -1 for "no offset": the admin client's null. */
        if (rows[i].has_offset && rows[i].offset < 0) rows[i].has_offset = false;
    }
    if (!groups_should_print_member_state(x, g, n)) return 0;
    if (x->json) {
        for (int32_t i = 0; i < n; i++) {
            const offset_row_t *r = &rows[i];
            bool has_lag = r->has_offset && r->has_leo;
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(r->group));
            json_object_set_new(row, "topic", json_string(r->tp.topic));
            json_object_set_new(row, "partition", json_integer(r->tp.partition));
            json_object_set_new(row, "current_offset", r->has_offset ? json_integer(r->offset) : json_null());
            json_object_set_new(row, "log_end_offset", r->has_leo ? json_integer(r->leo) : json_null());
            json_object_set_new(row, "lag", has_lag ? json_integer(r->leo - r->offset) : json_null());
            json_object_set_new(row, "consumer_id", groups_json_str_or_null(r->consumer_id));
            json_object_set_new(row, "host", groups_json_str_or_null(r->host));
            json_object_set_new(row, "client_id", groups_json_str_or_null(r->client_id));
            json_array_append_new(x->json, row);
        }
        return 0;
    }
    /* printOffsetFormat: "\n%-G s %-T s %-10s %-15s %-15s %-15s %-C s %-H s %s". */
    int gw = GROUPS_COLUMN_MIN, tw = GROUPS_COLUMN_MIN, cw = GROUPS_COLUMN_MIN, hw = GROUPS_COLUMN_MIN;
    for (int32_t i = 0; i < n; i++) {
        gw = groups_width_max(gw, rows[i].group);
        tw = groups_width_max(tw, rows[i].tp.topic);
        cw = groups_width_max(cw, rows[i].consumer_id);
        hw = groups_width_max(hw, rows[i].host);
    }
    printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s", gw, "GROUP", tw, "TOPIC", "PARTITION",
           "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", cw, "CONSUMER-ID", hw, "HOST", "CLIENT-ID");
    for (int32_t i = 0; i < n; i++) {
        const offset_row_t *r = &rows[i];
        char partition[16], offset[24], leo[24], lag[24];
        snprintf(partition, sizeof partition, "%d", (int)r->tp.partition);
        format_i64(offset, sizeof offset, r->has_offset, r->offset);
        format_i64(leo, sizeof leo, r->has_leo, r->leo);
        format_i64(lag, sizeof lag, r->has_offset && r->has_leo, r->leo - r->offset);
        printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s", gw, r->group, tw, r->tp.topic, partition, offset,
               leo, lag, cw, r->consumer_id, hw, r->host, r->client_id);
    }
    printf("\n");
    return 0;
}

/* ---- --describe --members ----------------------------------------------------- */

/* Kafka 3.x's ASSIGNMENT: "topic(0,1,2), other(0)", topics sorted. */
static const char *assignment_text(groups_ctx_t *x, const member_t *m) {
    if (m->assignment_count == 0) return MISSING;
    const char **parts = st_arena_alloc(&x->arena, sizeof *parts * (size_t)m->assignment_count);
    int32_t part_count = 0;
    size_t total = 0;
    for (int32_t i = 0; i < m->assignment_count;) {
        int32_t j = i;
        size_t len = strlen(m->assignment[i].topic) + 3;
        while (j < m->assignment_count && strcmp(m->assignment[j].topic, m->assignment[i].topic) == 0) {
            len += 12;
            j++;
        }
        char *s = st_arena_alloc(&x->arena, len);
        size_t o = (size_t)snprintf(s, len, "%s(", m->assignment[i].topic);
        for (int32_t k = i; k < j; k++)
            o += (size_t)snprintf(s + o, len - o, "%s%d", k > i ? "," : "", (int)m->assignment[k].partition);
        snprintf(s + o, len - o, ")");
        parts[part_count++] = s;
        total += strlen(s) + 2;
        i = j;
    }
    qsort(parts, (size_t)part_count, sizeof *parts, groups_string_cmp);
    char *out = st_arena_alloc(&x->arena, total + 1);
    out[0] = '\0';
    for (int32_t i = 0; i < part_count; i++) {
        if (i) strcat(out, ", ");
        strcat(out, parts[i]);
    }
    return out;
}

static int describe_members_one(groups_ctx_t *x, const group_t *g) {
    bool verbose = x->o->verbose;
    bool rows = groups_should_print_member_state(x, g, g->member_count);
    if (x->json) {
        for (int32_t i = 0; rows && i < g->member_count; i++) {
            const member_t *m = &g->members[i];
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(g->group_id));
            json_object_set_new(row, "consumer_id", json_string(m->member_id));
            json_object_set_new(row, "group_instance_id",
                                m->instance_id && m->instance_id[0] ? json_string(m->instance_id) : json_null());
            json_object_set_new(row, "host", json_string(m->host));
            json_object_set_new(row, "client_id", json_string(m->client_id));
            json_object_set_new(row, "partitions", json_integer(m->assignment_count));
            json_t *assignment = json_array();
            for (int32_t k = 0; k < m->assignment_count; k++) {
                json_t *tp = json_object();
                json_object_set_new(tp, "topic", json_string(m->assignment[k].topic));
                json_object_set_new(tp, "partition", json_integer(m->assignment[k].partition));
                json_array_append_new(assignment, tp);
            }
            json_object_set_new(row, "assignment", assignment);
            json_array_append_new(x->json, row);
        }
        return 0;
    }
    int gw = GROUPS_COLUMN_MIN, cw = GROUPS_COLUMN_MIN, iw = 17, hw = GROUPS_COLUMN_MIN, lw = GROUPS_COLUMN_MIN;
    bool with_instance = false;
    for (int32_t i = 0; rows && i < g->member_count; i++) {
        const member_t *m = &g->members[i];
        gw = groups_width_max(gw, g->group_id);
        cw = groups_width_max(cw, m->member_id);
        iw = groups_width_max(iw, m->instance_id ? m->instance_id : "");
        hw = groups_width_max(hw, m->host);
        lw = groups_width_max(lw, m->client_id);
        with_instance = with_instance || (m->instance_id && m->instance_id[0]);
    }
    /* The header is printed even without rows, as Kafka does. */
    if (with_instance)
        printf("\n%-*s %-*s %-*s %-*s %-*s %-15s ", gw, "GROUP", cw, "CONSUMER-ID", iw, "GROUP-INSTANCE-ID", hw,
               "HOST", lw, "CLIENT-ID", "#PARTITIONS");
    else
        printf("\n%-*s %-*s %-*s %-*s %-15s ", gw, "GROUP", cw, "CONSUMER-ID", hw, "HOST", lw, "CLIENT-ID",
               "#PARTITIONS");
    if (verbose) printf("ASSIGNMENT");
    printf("\n");
    for (int32_t i = 0; rows && i < g->member_count; i++) {
        const member_t *m = &g->members[i];
        char count[16];
        snprintf(count, sizeof count, "%d", (int)m->assignment_count);
        if (with_instance)
            printf("%-*s %-*s %-*s %-*s %-*s %-15s ", gw, g->group_id, cw, m->member_id, iw,
                   m->instance_id ? m->instance_id : "", hw, m->host, lw, m->client_id, count);
        else
            printf("%-*s %-*s %-*s %-*s %-15s ", gw, g->group_id, cw, m->member_id, hw, m->host, lw, m->client_id,
                   count);
        if (verbose) printf("%s", assignment_text(x, m));
        printf("\n");
    }
    return 0;
}

/* ---- --describe --state --------------------------------------------------------- */

static int describe_state_one(groups_ctx_t *x, const group_t *g) {
    if (!groups_should_print_member_state(x, g, 1)) return 0;
    const coordinator_t *co = groups_coordinator_get(x, g->group_id);
    const char *strategy = g->protocol[0] ? g->protocol : MISSING;
    if (x->json) {
        json_t *row = json_object();
        json_object_set_new(row, "group", json_string(g->group_id));
        json_t *coordinator = json_object();
        json_object_set_new(coordinator, "id", json_integer(co->node_id));
        json_object_set_new(coordinator, "host", json_string(co->host));
        json_object_set_new(coordinator, "port", json_integer(co->port));
        json_object_set_new(row, "coordinator", coordinator);
        json_object_set_new(row, "assignment_strategy", groups_json_str_or_null(strategy));
        json_object_set_new(row, "state", json_string(g->state));
        json_object_set_new(row, "members", json_integer(g->member_count));
        json_array_append_new(x->json, row);
        return 0;
    }
    char coordinator[300];
    snprintf(coordinator, sizeof coordinator, "%s:%d  (%d)", co->host, (int)co->port, (int)co->node_id);
    int cw = groups_width_max(25, coordinator);
    int gw = groups_width_max(GROUPS_COLUMN_MIN, g->group_id);
    printf("\n%-*s %-*s %-20s %-20s %s", gw, "GROUP", cw, "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE",
           "#MEMBERS");
    printf("\n%-*s %-*s %-20s %-20s %d", gw, g->group_id, cw, coordinator, strategy, g->state, (int)g->member_count);
    printf("\n");
    return 0;
}

int groups_describe(groups_ctx_t *x) {
    const groups_options_t *o = x->o;
    const char **ids = NULL;
    int32_t count = 0;
    int rc = groups_selected_groups(x, &ids, &count);
    if (rc != 0) return rc;
    /* Kafka keeps the results in a TreeMap: by group id. */
    qsort(ids, (size_t)count, sizeof *ids, groups_string_cmp);
    rc = groups_find_coordinators(x, ids, count);
    if (rc != 0) return rc;
    group_t *groups = st_arena_alloc(&x->arena, sizeof *groups * (size_t)(count ? count : 1));
    for (int32_t i = 0; i < count; i++) {
        rc = groups_describe_group(x, ids[i], &groups[i]);
        if (rc != 0) return rc;
    }
    for (int32_t i = 0; i < count; i++) {
        if (o->members)
            rc = describe_members_one(x, &groups[i]);
        else if (o->state)
            rc = describe_state_one(x, &groups[i]);
        else
            rc = describe_offsets_one(x, &groups[i]);
        if (rc != 0) return rc;
    }
    return 0;
}

