/*
 * `strata consumer-groups`: kafka-consumer-groups.sh's --list, --describe
 * (offsets, --members [--verbose], --state), --reset-offsets, --delete and
 * --delete-offsets, speaking only the Kafka protocol (ListGroups,
 * FindCoordinator, DescribeGroups, OffsetFetch, ListOffsets, Metadata,
 * OffsetCommit, DeleteGroups, OffsetDelete), so it works against Apache
 * Kafka as well as Strata.
 *
 * Output follows Kafka 4.x ConsumerGroupCommand / GroupOffsetsResetter:
 *   - tables are Java "%-Ns" columns: left-aligned, padded to the widest
 *     value (at least 15 for names), one space between columns, the last
 *     column unpadded; missing values print "-". Tables start with an
 *     empty line, as Java's "\n%..." formats do.
 *   - "Error: ..." lines go to stdout after an empty line (printError);
 *     "Consumer group 'g' has no active members." and the rebalancing
 *     warning go to stderr.
 *   - --members --verbose prints Kafka 3.x's ASSIGNMENT column
 *     ("topic(0,1), other(2)"): the 4.x epoch columns only carry data for
 *     KIP-848 groups, which this tool does not describe.
 * Deviations, each deliberate:
 *   - the exit status is 1 whenever an error was printed (Kafka's script
 *     exits 0 after printing most of them), so scripts can test it;
 *   - rows Kafka prints in Java HashMap order (reset plans, failed
 *     deletions) are sorted by group, topic and partition;
 *   - --output json (a Strata extension) prints the same data as one JSON
 *     array of objects on stdout, with null for "-"; messages then go to
 *     stderr so stdout stays parseable.
 *
 * Reset semantics (GroupOffsetsResetter): offsets are committed with
 * generation -1 and an empty member id, only while the group is Empty or
 * Dead; --to-offset and --shift-by are clamped to [earliest, latest];
 * --to-datetime/--by-duration fall back to the log end offset for a
 * partition with no record at or after the timestamp.
 */
#include "tools/groups_internal.h"

/* ---- --delete ----------------------------------------------------------------------- */

static int delete_groups_error(const void *response) {
    const st_delete_groups_response_t *r = response;
    return r->results_count > 0 ? r->results[0].error_code : 0;
}

static int groups_delete(groups_ctx_t *x) {
    const char **ids = NULL;
    int32_t count = 0;
    int rc = groups_selected_groups(x, &ids, &count);
    if (rc != 0) return rc;
    rc = groups_find_coordinators(x, ids, count);
    if (rc != 0) return rc;
    int16_t *errors = st_arena_alloc(&x->arena, sizeof *errors * (size_t)(count ? count : 1));
    int32_t failed = 0;
    for (int32_t i = 0; i < count; i++) {
        st_delete_groups_request_t req;
        st_delete_groups_request_init(&req);
        st_str_t name = st_str(ids[i]);
        req.groups_names = &name;
        req.groups_names_count = 1;
        st_delete_groups_response_t resp;
        rc = groups_coordinator_call(x, ids[i], ST_API_DELETE_GROUPS, &req, &resp, delete_groups_error);
        if (rc != 0) return rc;
        errors[i] = resp.results_count > 0 ? resp.results[0].error_code : ST_ERR_UNKNOWN_SERVER_ERROR;
        failed += errors[i] != 0;
    }
    if (x->json) {
        for (int32_t i = 0; i < count; i++) {
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(ids[i]));
            if (errors[i] == 0) {
                json_object_set_new(row, "error", json_null());
            } else {
                json_object_set_new(row, "error", json_string(groups_java_error_message(errors[i])));
                x->failed = true;
            }
            json_array_append_new(x->json, row);
        }
        return 0;
    }
    if (failed == 0) {
        printf("Deletion of requested consumer groups (");
        for (int32_t i = 0; i < count; i++) printf("%s'%s'", i ? ", " : "", ids[i]);
        printf(") was successful.\n");
        return 0;
    }
    groups_print_error(x, "Deletion of some consumer groups failed:");
    for (int32_t i = 0; i < count; i++) {
        if (errors[i] == 0) continue;
        char text[ST_CLIENT_ERROR_BYTES];
        groups_java_exception_text(text, sizeof text, errors[i]);
        printf("* Group '%s' could not be deleted due to: %s\n", ids[i], text);
    }
    if (failed < count) {
        printf("\nThese consumer groups were deleted successfully: ");
        bool first = true;
        for (int32_t i = 0; i < count; i++) {
            if (errors[i] != 0) continue;
            printf("%s'%s'", first ? "" : ", ", ids[i]);
            first = false;
        }
        printf("\n");
    }
    return 0;
}

/* ---- --delete-offsets --------------------------------------------------------------- */

typedef struct delete_row {
    topic_partition_t tp; /* partition -1: the whole topic failed */
    int16_t error;
    char key[300];        /* topic + partition, Kafka's sort key */
} delete_row_t;

static int delete_row_cmp(const void *a, const void *b) {
    const delete_row_t *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static int offset_delete_error(const void *response) {
    const st_offset_delete_response_t *r = response;
    return r->error_code;
}

static int groups_delete_offsets(groups_ctx_t *x) {
    const groups_options_t *o = x->o;
    const char *group = o->groups[0];
    /* Explicit partitions as given; whole topics through Metadata, where an
     * unknown topic becomes a row of its own (partition "-"). */
    int32_t cap = 16, n = 0;
    delete_row_t *rows = st_xcalloc((size_t)cap, sizeof *rows);
    const char **whole = st_arena_alloc(&x->arena, sizeof *whole * (size_t)o->topic_count);
    int32_t whole_count = 0;
    int rc = 0;
    for (int32_t i = 0; i < o->topic_count; i++) {
        const char *arg = o->topics[i];
        const char *colon = strchr(arg, ':');
        if (!colon) {
            whole[whole_count++] = arg;
            continue;
        }
        if (strchr(colon + 1, ':') || colon == arg || colon[1] == '\0') {
            free(rows);
            return groups_usage_error("Invalid topic arg '%s', expected topic name and partitions", arg);
        }
        const char *topic = groups_str_dup(&x->arena, (st_str_t){arg, (int32_t)(colon - arg)});
        char *list = st_arena_strdup(&x->arena, colon + 1);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int64_t partition = 0;
            if (!st_parse_i64(tok, INT32_MIN, INT32_MAX, &partition)) {
                free(rows);
                return groups_usage_error("Invalid partition '%s' specified in topic arg '%s''", tok, arg);
            }
            if (n == cap) {
                cap *= 2;
                delete_row_t *grown = realloc(rows, sizeof *grown * (size_t)cap);
                if (!grown) abort();
                rows = grown;
            }
            memset(&rows[n], 0, sizeof rows[n]);
            rows[n++].tp = (topic_partition_t){topic, (int32_t)partition};
        }
    }
    if (whole_count > 0) {
        topic_table_t table;
        rc = groups_load_topics(x, whole, whole_count, &table);
        if (rc != 0) {
            free(rows);
            return rc;
        }
        for (int32_t i = 0; i < table.count; i++) {
            const topic_meta_t *t = &table.topics[i];
            int32_t more = t->error != 0 ? 1 : t->partition_count;
            while (n + more > cap) {
                cap *= 2;
                delete_row_t *grown = realloc(rows, sizeof *grown * (size_t)cap);
                if (!grown) abort();
                rows = grown;
            }
            if (t->error != 0) {
                memset(&rows[n], 0, sizeof rows[n]);
                rows[n].tp = (topic_partition_t){t->name, -1};
                rows[n++].error = t->error;
                continue;
            }
            for (int32_t p = 0; p < t->partition_count; p++) {
                if (t->leaders[p] == -2) continue;
                memset(&rows[n], 0, sizeof rows[n]);
                rows[n++].tp = (topic_partition_t){t->name, p};
            }
        }
    }
    /* A Set: drop repeated partitions. */
    for (int32_t i = 0; i < n; i++) snprintf(rows[i].key, sizeof rows[i].key, "%s%d", rows[i].tp.topic, (int)rows[i].tp.partition);
    qsort(rows, (size_t)n, sizeof *rows, delete_row_cmp);
    int32_t unique = 0;
    for (int32_t i = 0; i < n; i++)
        if (unique == 0 || groups_tp_cmp(&rows[unique - 1].tp, &rows[i].tp) != 0) rows[unique++] = rows[i];
    n = unique;
    int16_t top_level = 0;
    int32_t to_send = 0;
    for (int32_t i = 0; i < n; i++) to_send += rows[i].tp.partition >= 0;
    if (to_send > 0) {
        st_offset_delete_request_t req;
        st_offset_delete_request_init(&req);
        req.group_id = st_str(group);
        req.topics = st_arena_alloc(&x->arena, sizeof *req.topics * (size_t)to_send);
        for (int32_t i = 0; i < n; i++) {
            if (rows[i].tp.partition < 0) continue;
            st_offset_delete_request_offset_delete_request_topic_t *t = NULL;
            for (int32_t q = 0; q < req.topics_count && !t; q++)
                if (st_str_eq(req.topics[q].name, rows[i].tp.topic)) t = &req.topics[q];
            if (!t) {
                t = &req.topics[req.topics_count++];
                memset(t, 0, sizeof *t);
                t->name = st_str(rows[i].tp.topic);
                t->partitions = st_arena_alloc(&x->arena, sizeof *t->partitions * (size_t)to_send);
            }
            t->partitions[t->partitions_count++].partition_index = rows[i].tp.partition;
        }
        st_offset_delete_response_t resp;
        rc = groups_coordinator_call(x, group, ST_API_OFFSET_DELETE, &req, &resp, offset_delete_error);
        if (rc != 0) {
            free(rows);
            return rc;
        }
        top_level = resp.error_code;
        for (int32_t i = 0; i < n; i++) {
            if (rows[i].tp.partition < 0) continue;
            if (top_level != 0) {
                rows[i].error = top_level; /* every partition fails with it */
                continue;
            }
            for (int32_t t = 0; t < resp.topics_count; t++) {
                if (!st_str_eq(resp.topics[t].name, rows[i].tp.topic)) continue;
                for (int32_t p = 0; p < resp.topics[t].partitions_count; p++)
                    if (resp.topics[t].partitions[p].partition_index == rows[i].tp.partition)
                        rows[i].error = resp.topics[t].partitions[p].error_code;
            }
        }
        /* all().get() fails with the first partition error. */
        for (int32_t i = 0; i < n && top_level == 0; i++)
            if (rows[i].tp.partition >= 0 && rows[i].error != 0) top_level = rows[i].error;
    }
    if (top_level != 0) x->failed = true;
    for (int32_t i = 0; i < n; i++)
        if (rows[i].error != 0) x->failed = true;
    if (x->json) {
        for (int32_t i = 0; i < n; i++) {
            json_t *row = json_object();
            json_object_set_new(row, "group", json_string(group));
            json_object_set_new(row, "topic", json_string(rows[i].tp.topic));
            json_object_set_new(row, "partition",
                                rows[i].tp.partition >= 0 ? json_integer(rows[i].tp.partition) : json_null());
            json_object_set_new(row, "error",
                                rows[i].error ? json_string(groups_java_error_message(rows[i].error)) : json_null());
            json_array_append_new(x->json, row);
        }
        free(rows);
        return 0;
    }
    switch (top_level) {
    case 0: printf("Request succeeded for deleting offsets from group %s.\n", group); break;
    case ST_ERR_INVALID_GROUP_ID:
    case ST_ERR_GROUP_ID_NOT_FOUND:
    case ST_ERR_GROUP_AUTHORIZATION_FAILED:
    case ST_ERR_NON_EMPTY_GROUP: groups_print_error(x, "%s", groups_java_error_message(top_level)); break;
    case ST_ERR_GROUP_SUBSCRIBED_TO_TOPIC:
    case ST_ERR_TOPIC_AUTHORIZATION_FAILED:
    case ST_ERR_UNKNOWN_TOPIC_OR_PARTITION:
        groups_print_error(x, "Encountered some partition-level error, see the follow-up details.");
        break;
    default: groups_print_error(x, "Encountered some unknown error: %s", st_err_name(top_level)); break;
    }
    int tw = GROUPS_COLUMN_MIN;
    for (int32_t i = 0; i < n; i++) tw = groups_width_max(tw, rows[i].tp.topic);
    printf("\n%-*s %-10s %-15s", tw, "TOPIC", "PARTITION", "STATUS");
    for (int32_t i = 0; i < n; i++) {
        char partition[16], status[ST_CLIENT_ERROR_BYTES + 16];
        if (rows[i].tp.partition >= 0)
            snprintf(partition, sizeof partition, "%d", (int)rows[i].tp.partition);
        else
            snprintf(partition, sizeof partition, MISSING);
        if (rows[i].error == 0) {
            snprintf(status, sizeof status, "Successful");
        } else {
            char text[ST_CLIENT_ERROR_BYTES];
            groups_java_exception_text(text, sizeof text, rows[i].error);
            snprintf(status, sizeof status, "Error: %s", text);
        }
        printf("\n%-*s %-10s %-15s", tw, rows[i].tp.topic, partition, status);
    }
    printf("\n");
    free(rows);
    return 0;
}

/* ---- entry point ---------------------------------------------------------------- */

static void set_scenario(groups_options_t *o, reset_scenario_t s) {
    if (o->scenario != s) o->scenario_count++;
    o->scenario = s;
}

int st_cmd_consumer_groups(int argc, char **argv, int timeout_ms) {
    groups_options_t o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = timeout_ms;
    o.groups = st_xcalloc((size_t)argc, sizeof *o.groups);
    o.topics = st_xcalloc((size_t)argc, sizeof *o.topics);
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *v;
        if (st_arg_flag(argv, i, "--help") || st_arg_flag(argv, i, "-h")) {
            groups_usage(stdout);
            goto free_options;
        } else if ((v = st_arg_value(argc, argv, &i, "--bootstrap-server"))) {
            o.bootstrap = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--group"))) {
            o.groups[o.group_count++] = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--topic"))) {
            o.topics[o.topic_count++] = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--timeout"))) {
            int64_t ms = 0;
            if (!st_parse_i64(v, 1, 86400000, &ms)) rc = groups_usage_error("--timeout takes milliseconds in [1, 86400000]");
            o.timeout_ms = (int)ms;
        } else if ((v = st_arg_value(argc, argv, &i, "--output"))) {
            if (strcmp(v, "json") != 0) rc = groups_usage_error("--output takes 'json'");
            o.json = true;
        } else if ((v = st_arg_value(argc, argv, &i, "--to-offset"))) {
            if (!st_parse_i64(v, INT64_MIN, INT64_MAX, &o.scenario_value)) rc = groups_usage_error("--to-offset takes an integer");
            set_scenario(&o, RESET_TO_OFFSET);
        } else if ((v = st_arg_value(argc, argv, &i, "--shift-by"))) {
            if (!st_parse_i64(v, INT64_MIN / 2, INT64_MAX / 2, &o.scenario_value))
                rc = groups_usage_error("--shift-by takes an integer");
            set_scenario(&o, RESET_SHIFT_BY);
        } else if ((v = st_arg_value(argc, argv, &i, "--to-datetime"))) {
            o.scenario_text = v;
            set_scenario(&o, RESET_TO_DATETIME);
        } else if ((v = st_arg_value(argc, argv, &i, "--by-duration"))) {
            o.scenario_text = v;
            set_scenario(&o, RESET_BY_DURATION);
        } else if (strncmp(argv[i], "--state=", 8) == 0) {
            o.state = true;
            o.state_value = argv[i] + 8;
        } else if (st_arg_flag(argv, i, "--state")) {
            /* joptsimple's optional argument: the next word unless an option. */
            o.state = true;
            if (i + 1 < argc && argv[i + 1][0] != '-') o.state_value = argv[++i];
        } else if (st_arg_flag(argv, i, "--to-earliest")) {
            set_scenario(&o, RESET_TO_EARLIEST);
        } else if (st_arg_flag(argv, i, "--to-latest")) {
            set_scenario(&o, RESET_TO_LATEST);
        } else if (st_arg_flag(argv, i, "--to-current")) {
            set_scenario(&o, RESET_TO_CURRENT);
        } else if (st_arg_flag(argv, i, "--list")) {
            o.list = true;
        } else if (st_arg_flag(argv, i, "--describe")) {
            o.describe = true;
        } else if (st_arg_flag(argv, i, "--delete")) {
            o.delete = true;
        } else if (st_arg_flag(argv, i, "--reset-offsets")) {
            o.reset_offsets = true;
        } else if (st_arg_flag(argv, i, "--delete-offsets")) {
            o.delete_offsets = true;
        } else if (st_arg_flag(argv, i, "--all-groups")) {
            o.all_groups = true;
        } else if (st_arg_flag(argv, i, "--all-topics")) {
            o.all_topics = true;
        } else if (st_arg_flag(argv, i, "--members")) {
            o.members = true;
        } else if (st_arg_flag(argv, i, "--verbose")) {
            o.verbose = true;
        } else if (st_arg_flag(argv, i, "--offsets")) {
            o.offsets = true;
        } else if (st_arg_flag(argv, i, "--dry-run")) {
            o.dry_run = true;
        } else if (st_arg_flag(argv, i, "--execute")) {
            o.execute = true;
        } else {
            fprintf(stderr, "%s is not a recognized option\n", argv[i]);
            groups_usage(stderr);
            rc = 1;
        }
    }
    if (rc != 0) goto free_options;
    /* ConsumerGroupCommandOptions.checkArgs, in its order. */
    int actions = o.list + o.describe + o.delete + o.reset_offsets + o.delete_offsets;
    if (actions != 1) {
        rc = groups_usage_error("Command must include exactly one action: --list, --describe, --delete, --reset-offsets, "
                         "--delete-offsets");
        goto free_options;
    }
    if (!o.bootstrap) {
        rc = groups_usage_error("Missing required argument \"[bootstrap-server]\"");
        goto free_options;
    }
    bool have_groups = o.group_count > 0 || o.all_groups;
    if (o.group_count > 0 && o.all_groups) {
        rc = groups_usage_error("Option \"[group]\" can't be used with option \"[all-groups]\"");
        goto free_options;
    }
    if (o.describe) {
        if (!have_groups) {
            rc = groups_usage_error("Option [describe] takes one of these options: [all-groups], [group]");
            goto free_options;
        }
        if (o.members + o.offsets + o.state > 1) {
            rc = groups_usage_error("Option [describe] takes at most one of these options: [members], [offsets], [state]");
            goto free_options;
        }
        if (o.state && o.state_value) {
            rc = groups_usage_error("Option [describe] does not take a value for [state]");
            goto free_options;
        }
    } else if (o.members || o.verbose || o.offsets) {
        rc = groups_usage_error("Option [%s] can only be used with [describe]",
                         o.members ? "members" : o.verbose ? "verbose" : "offsets");
        goto free_options;
    }
    if (o.state && !o.describe && !o.list) {
        rc = groups_usage_error("Option [state] can only be used with [describe] or [list]");
        goto free_options;
    }
    if (o.delete) {
        if (!have_groups) {
            rc = groups_usage_error("Option [delete] takes one of these options: [all-groups], [group]");
            goto free_options;
        }
        if (o.topic_count > 0) {
            rc = groups_usage_error("The consumer does not support topic-specific offset deletion from a consumer group.");
            goto free_options;
        }
    }
    if (o.delete_offsets && (o.group_count != 1 || o.topic_count == 0)) {
        rc = groups_usage_error("Option [delete-offsets] takes the following options: [group], [topic]");
        goto free_options;
    }
    if (o.reset_offsets) {
        if (o.dry_run && o.execute) {
            rc = groups_usage_error("Option [reset-offsets] only accepts one of [execute] and [dry-run]");
            goto free_options;
        }
        if (!o.dry_run && !o.execute)
            fprintf(stderr,
                    "WARN: No action will be performed as the --execute option is missing.In a future major release, "
                    "the default behavior of this command will be to prompt the user before executing the reset "
                    "rather than doing a dry run. You should add the --dry-run option explicitly if you are "
                    "scripting this command and want to keep the current default behavior without prompting.\n");
        if (!have_groups) {
            rc = groups_usage_error("Option [reset-offsets] takes one of these options: [all-groups], [group]");
            goto free_options;
        }
        if (o.scenario_count > 1) {
            rc = groups_usage_error("Option [reset-offsets] takes exactly one of: [to-earliest], [to-latest], [to-current], "
                             "[to-offset], [shift-by], [to-datetime], [by-duration]");
            goto free_options;
        }
        if (o.topic_count == 0 && !o.all_topics) {
            rc = groups_usage_error("One of the reset scopes should be defined: --all-topics, --topic.");
            goto free_options;
        }
        if (o.topic_count > 0 && o.all_topics) {
            rc = groups_usage_error("Option \"[topic]\" can't be used with option \"[all-topics]\"");
            goto free_options;
        }
        if (o.scenario == RESET_NONE) {
            rc = groups_usage_error("Option '[reset-offsets]' requires one of the following scenarios: [to-earliest], "
                             "[to-latest], [to-current], [to-offset], [shift-by], [to-datetime], [by-duration]");
            goto free_options;
        }
    } else if (o.scenario != RESET_NONE || o.all_topics || o.dry_run || o.execute) {
        rc = groups_usage_error("Reset options (--to-*, --shift-by, --by-duration, --all-topics, --dry-run, --execute) "
                         "can only be used with [reset-offsets]");
        goto free_options;
    }
    if (o.topic_count > 0 && !o.reset_offsets && !o.delete_offsets) {
        rc = groups_usage_error("Option \"[topic]\" can't be used with option \"[%s]\"", o.list ? "list" : "describe");
        goto free_options;
    }
    if (o.group_count > 0 && o.list) {
        rc = groups_usage_error("Option \"[group]\" can't be used with option \"[list]\"");
        goto free_options;
    }
    groups_ctx_t x;
    memset(&x, 0, sizeof x);
    x.o = &o;
    st_arena_init(&x.arena);
    if (o.json) x.json = json_array();
    if (st_cluster_open(&x.cluster, o.bootstrap, o.timeout_ms) != 0) {
        groups_print_error(&x, "Executing consumer group command failed due to %s", x.cluster.error);
        rc = 1;
        goto close_cluster;
    }
    rc = o.list             ? groups_list(&x)
         : o.describe       ? groups_describe(&x)
         : o.reset_offsets  ? groups_reset_offsets(&x)
         : o.delete         ? groups_delete(&x)
                            : groups_delete_offsets(&x);
    if (rc == GROUPS_REPORTED) {
        /* The message is printed. */
    } else if (rc != 0) {
        groups_print_error(&x, "Executing consumer group command failed due to %s", x.error);
        rc = 1;
    } else {
        groups_json_emit(&x);
    }
    if (x.failed) rc = 1;
close_cluster:
    if (x.json) json_decref(x.json);
    st_cluster_close(&x.cluster);
    st_arena_free(&x.arena);
    free(x.coordinators);
free_options:
    free(o.groups);
    free(o.topics);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}

