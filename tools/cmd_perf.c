/*
 * `strata perf produce` and `strata perf consume`: the measurements and
 * output lines of kafka-producer-perf-test.sh (ProducerPerformance) and
 * kafka-consumer-perf-test.sh (ConsumerPerformance).
 *
 * produce: records of --record-size random uppercase letters, pipelined
 * through st_producer (up to max.in.flight requests per broker). A
 * record's latency is its ack time minus the time it was handed to the
 * producer. Every 5 s a window line, at the end the total line, with
 * percentiles taken from at most 500,000 sampled latencies as Kafka does.
 *
 * consume: assign-mode reads (no group) from the earliest offset (or the
 * latest with --from-latest) until --messages records arrived or --timeout
 * ms passed without one. "rebalance.time.ms" reports the time to position
 * the partitions (Metadata + ListOffsets), the analogue of the group join.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/client.h"

#define PERF_REPORT_INTERVAL_MS 5000
#define PERF_LATENCY_SAMPLES_MAX 500000
#define PERF_PRODUCER_PROPS_MAX 64
#define PERF_ERRORS_PRINTED_MAX 10

/* ---- produce -------------------------------------------------------------- */

typedef struct perf_stats {
    int64_t start_ms;
    int64_t window_start_ms;
    int32_t *latencies;
    int64_t latency_cap;
    int64_t sampling;
    int64_t iteration;
    int64_t index;
    int64_t count;
    int64_t bytes;
    int32_t max_latency;
    int64_t total_latency;
    int64_t window_count;
    int32_t window_max_latency;
    int64_t window_total_latency;
    int64_t window_bytes;
    int32_t record_bytes;
    int64_t errors;
} perf_stats_t;

static void stats_init(perf_stats_t *s, int64_t records, int32_t record_bytes) {
    memset(s, 0, sizeof *s);
    s->start_ms = st_now_ms();
    s->window_start_ms = s->start_ms;
    s->sampling = records / (records < PERF_LATENCY_SAMPLES_MAX ? records : PERF_LATENCY_SAMPLES_MAX);
    s->latency_cap = records / s->sampling + 1;
    s->latencies = calloc((size_t)s->latency_cap, sizeof *s->latencies);
    if (!s->latencies) abort();
    s->record_bytes = record_bytes;
}

static void stats_print_window(perf_stats_t *s) {
    int64_t elapsed = st_now_ms() - s->window_start_ms;
    double records_per_sec = 1000.0 * (double)s->window_count / (double)elapsed;
    double mb_per_sec = 1000.0 * (double)s->window_bytes / (double)elapsed / (1024.0 * 1024.0);
    printf("%lld records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
           (long long)s->window_count, records_per_sec, mb_per_sec,
           (double)s->window_total_latency / (double)s->window_count, (double)s->window_max_latency);
    fflush(stdout);
}

static void stats_record(perf_stats_t *s, int32_t latency, int32_t bytes, int64_t now) {
    s->count++;
    s->bytes += bytes;
    s->total_latency += latency;
    if (latency > s->max_latency) s->max_latency = latency;
    s->window_count++;
    s->window_bytes += bytes;
    s->window_total_latency += latency;
    if (latency > s->window_max_latency) s->window_max_latency = latency;
    if (s->iteration % s->sampling == 0 && s->index < s->latency_cap) s->latencies[s->index++] = latency;
    if (now - s->window_start_ms >= PERF_REPORT_INTERVAL_MS) {
        stats_print_window(s);
        s->window_start_ms = st_now_ms();
        s->window_count = 0;
        s->window_max_latency = 0;
        s->window_total_latency = 0;
        s->window_bytes = 0;
    }
    s->iteration++;
}

static int int_cmp(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static void stats_print_total(perf_stats_t *s) {
    int64_t elapsed = st_now_ms() - s->start_ms;
    double records_per_sec = 1000.0 * (double)s->count / (double)elapsed;
    double mb_per_sec = 1000.0 * (double)s->bytes / (double)elapsed / (1024.0 * 1024.0);
    int64_t size = s->index < s->latency_cap ? s->index : s->latency_cap;
    qsort(s->latencies, (size_t)size, sizeof *s->latencies, int_cmp);
    static const double percentiles[4] = {0.5, 0.95, 0.99, 0.999};
    int32_t values[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        int64_t at = (int64_t)(percentiles[i] * (double)size);
        values[i] = size > 0 && at < size ? s->latencies[at] : 0;
    }
    printf("%lld records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, "
           "%d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.\n",
           (long long)s->count, records_per_sec, mb_per_sec,
           s->count ? (double)s->total_latency / (double)s->count : 0.0, (double)s->max_latency, (int)values[0],
           (int)values[1], (int)values[2], (int)values[3]);
    fflush(stdout);
}

static void perf_done(void *opaque, int32_t partition, int64_t offset, int64_t tag, int error,
                      const char *message) {
    perf_stats_t *s = opaque;
    (void)partition;
    (void)offset;
    int64_t now = st_now_ms();
    if (error != 0) {
        /* Kafka prints each failure's stack trace; a few lines suffice. */
        if (s->errors++ < PERF_ERRORS_PRINTED_MAX)
            fprintf(stderr, "ERROR record failed: %s: %s\n", st_err_name(error), message ? message : "");
        return;
    }
    stats_record(s, (int32_t)(now - tag), s->record_bytes, now);
}

static void perf_produce_usage(FILE *out) {
    fprintf(out,
            "Usage: strata perf produce --bootstrap-server HOST:PORT --topic T --num-records N\n"
            "         (--record-size S | --payload-monotonic) [--throughput R (-1: unthrottled)]\n"
            "         [--acks 1|-1|0] [--compression none|gzip|snappy|lz4|zstd]\n"
            "         [--batch-size B] [--linger-ms L] [--max-in-flight N]\n"
            "         [--producer-props bootstrap.servers=H:P acks=.. compression.type=.. batch.size=..\n"
            "                           linger.ms=.. max.in.flight.requests.per.connection=..]\n");
}

static bool perf_setting(st_producer_config_t *c, const char **bootstrap, const char *key, const char *value) {
    int64_t n = 0;
    if (strcmp(key, "bootstrap.servers") == 0) {
        *bootstrap = value;
        return true;
    }
    if (strcmp(key, "acks") == 0) {
        if (strcmp(value, "all") == 0) {
            c->acks = -1;
            return true;
        }
        if (!st_parse_i64(value, -1, 1, &n)) return false;
        c->acks = (int16_t)n;
        return true;
    }
    if (strcmp(key, "compression.type") == 0) {
        int codec = st_codec_from_name(value);
        if (codec < 0) return false;
        c->codec = (st_codec_t)codec;
        return true;
    }
    if (strcmp(key, "batch.size") == 0) {
        if (!st_parse_i64(value, 1, INT32_MAX, &n)) return false;
        c->batch_bytes_max = (int32_t)n;
        return true;
    }
    if (strcmp(key, "linger.ms") == 0) {
        if (!st_parse_i64(value, 0, INT32_MAX, &n)) return false;
        c->linger_ms = (int32_t)n;
        return true;
    }
    if (strcmp(key, "max.in.flight.requests.per.connection") == 0) {
        if (!st_parse_i64(value, 1, ST_CLIENT_IN_FLIGHT_MAX, &n)) return false;
        c->in_flight_max = (int32_t)n;
        return true;
    }
    if (strcmp(key, "request.timeout.ms") == 0) {
        if (!st_parse_i64(value, 1, INT32_MAX, &n)) return false;
        c->request_timeout_ms = (int32_t)n;
        return true;
    }
    if (strcmp(key, "max.request.size") == 0) {
        if (!st_parse_i64(value, 1, INT32_MAX, &n)) return false;
        c->request_bytes_max = (int32_t)n;
        return true;
    }
    return true; /* other producer configs have no meaning here */
}

static int perf_produce(int argc, char **argv, int timeout_ms) {
    const char *bootstrap = NULL, *topic = NULL;
    int64_t records = -1, record_size = -1;
    double throughput = -1;
    bool monotonic = false;
    st_producer_config_t config;
    st_producer_config_defaults(&config);
    for (int i = 2; i < argc; i++) {
        const char *v;
        int64_t n = 0;
        if (st_arg_flag(argv, i, "--help") || st_arg_flag(argv, i, "-h")) {
            perf_produce_usage(stdout);
            return 0;
        } else if ((v = st_arg_value(argc, argv, &i, "--bootstrap-server"))) {
            bootstrap = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--topic"))) {
            topic = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--num-records"))) {
            if (!st_parse_i64(v, 1, INT64_MAX / 2, &records))
                return fprintf(stderr, "--num-records should be greater than zero\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--record-size"))) {
            if (!st_parse_i64(v, 1, 64 * 1024 * 1024, &record_size))
                return fprintf(stderr, "--record-size should be greater than zero\n"), 1;
        } else if (st_arg_flag(argv, i, "--payload-monotonic")) {
            monotonic = true;
        } else if ((v = st_arg_value(argc, argv, &i, "--throughput"))) {
            char *end = NULL;
            throughput = strtod(v, &end);
            if (!end || *end) return fprintf(stderr, "--throughput takes a number\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--acks"))) {
            if (!perf_setting(&config, &bootstrap, "acks", v)) return fprintf(stderr, "--acks takes 1, -1 or 0\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--compression")) ||
                   (v = st_arg_value(argc, argv, &i, "--compression-codec"))) {
            if (!perf_setting(&config, &bootstrap, "compression.type", v))
                return fprintf(stderr, "Unknown compression codec '%s'\n", v), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--batch-size"))) {
            if (!perf_setting(&config, &bootstrap, "batch.size", v)) return fprintf(stderr, "--batch-size takes bytes\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--linger-ms"))) {
            if (!perf_setting(&config, &bootstrap, "linger.ms", v)) return fprintf(stderr, "--linger-ms takes ms\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--max-in-flight"))) {
            if (!st_parse_i64(v, 1, ST_CLIENT_IN_FLIGHT_MAX, &n))
                return fprintf(stderr, "--max-in-flight takes 1..%d\n", ST_CLIENT_IN_FLIGHT_MAX), 1;
            config.in_flight_max = (int32_t)n;
        } else if (st_arg_flag(argv, i, "--producer-props")) {
            /* nargs("+"): every following argument up to the next option. */
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                char *kv = argv[++i];
                char *eq = strchr(kv, '=');
                if (!eq || strchr(eq + 1, '=')) return fprintf(stderr, "Invalid property: %s\n", kv), 1;
                *eq = '\0';
                if (!perf_setting(&config, &bootstrap, kv, eq + 1))
                    return fprintf(stderr, "Invalid value '%s' for %s\n", eq + 1, kv), 1;
            }
        } else {
            fprintf(stderr, "unrecognized arguments: '%s'\n", argv[i]);
            perf_produce_usage(stderr);
            return 1;
        }
    }
    if (!topic) return fprintf(stderr, "argument --topic is required\n"), 1;
    if (records < 0) return fprintf(stderr, "argument --num-records is required\n"), 1;
    if ((record_size > 0) == monotonic)
        return fprintf(stderr, "exactly one of --record-size or --payload-monotonic must be specified\n"), 1;
    if (!bootstrap) return fprintf(stderr, "Either --producer-props or --bootstrap-server must be specified.\n"), 1;

    perf_stats_t stats;
    stats_init(&stats, records, (int32_t)record_size);
    config.topic = topic;
    config.done = perf_done;
    config.opaque = &stats;
    int status = 0;
    uint8_t *payload = NULL;
    st_cluster_t cl;
    st_producer_t producer;
    bool producer_open = false;
    if (st_producer_open_cli(&cl, &producer, bootstrap, timeout_ms, &config) != 0) {
        status = 1;
        goto out_close;
    }
    producer_open = true;
    payload = malloc(record_size > 0 ? (size_t)record_size : 32);
    if (!payload) abort();
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    /* The clock restarts here: Kafka starts its Stats after setup too. */
    stats.start_ms = stats.window_start_ms = st_now_ms();
    int64_t start_ms = stats.start_ms;
    for (int64_t i = 0; i < records; i++) {
        int32_t len;
        if (monotonic) {
            len = snprintf((char *)payload, 32, "%lld", (long long)i);
            stats.record_bytes = len;
        } else {
            len = (int32_t)record_size;
            for (int32_t j = 0; j < len; j++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                payload[j] = (uint8_t)('A' + (rng >> 32) % 26);
            }
        }
        int64_t send_ms = st_now_ms();
        int rc = st_producer_send(&producer, -1, NULL, -1, payload, len, NULL, 0, send_ms);
        if (rc == 0 && (i & 7) == 0) rc = st_producer_poll(&producer, 0);
        if (rc != 0) {
            fprintf(stderr, "ERROR %s\n", producer.error_text);
            status = 1;
            break;
        }
        if (throughput > 0) {
            /* ThroughputThrottler: hold the average rate at the target,
             * handling acks while waiting. */
            int64_t due = start_ms + (int64_t)((double)(i + 1) * 1000.0 / throughput);
            for (int64_t now = st_now_ms(); now < due && rc == 0; now = st_now_ms())
                rc = st_producer_poll(&producer, (int)(due - now));
        }
    }
    if (st_producer_flush(&producer) != 0 && status == 0) {
        fprintf(stderr, "ERROR %s\n", producer.error_text);
        status = 1;
    }
    stats_print_total(&stats);
    if (stats.errors > 0) status = 1;

out_close:
    if (producer_open) st_producer_close(&producer);
    st_cluster_close(&cl);
    free(payload);
    free(stats.latencies);
    return status;
}

/* ---- consume -------------------------------------------------------------- */

typedef struct perf_consume_state {
    int64_t wanted;
    int64_t messages;
    int64_t bytes;
} perf_consume_state_t;

static bool perf_consume_record(void *opaque, const st_fetched_record_t *r) {
    perf_consume_state_t *s = opaque;
    s->messages++;
    if (r->record->key_len > 0) s->bytes += r->record->key_len;
    if (r->record->value_len > 0) s->bytes += r->record->value_len;
    return s->messages < s->wanted;
}

/* SimpleDateFormat "yyyy-MM-dd HH:mm:ss:SSS" in local time. */
static void format_date(char *out, size_t cap, int64_t wall_ms) {
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    localtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, cap, "%s:%03d", base, (int)(wall_ms % 1000));
}

static int64_t wall_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void perf_consume_usage(FILE *out) {
    fprintf(out,
            "Usage: strata perf consume --bootstrap-server HOST:PORT --topic T --messages N\n"
            "         [--timeout MS (10000, max time between records)] [--fetch-size BYTES]\n"
            "         [--from-latest] [--hide-header]\n");
}

static int perf_consume(int argc, char **argv, int timeout_ms) {
    const char *bootstrap = NULL, *topic = NULL;
    int64_t messages = -1, record_timeout_ms = 10000, fetch_size = 1048576;
    bool from_latest = false, hide_header = false;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (st_arg_flag(argv, i, "--help") || st_arg_flag(argv, i, "-h")) {
            perf_consume_usage(stdout);
            return 0;
        } else if ((v = st_arg_value(argc, argv, &i, "--bootstrap-server")) ||
                   (v = st_arg_value(argc, argv, &i, "--broker-list"))) {
            bootstrap = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--topic"))) {
            topic = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--messages"))) {
            if (!st_parse_i64(v, 1, INT64_MAX, &messages)) return fprintf(stderr, "--messages takes a count\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--timeout"))) {
            if (!st_parse_i64(v, 0, INT32_MAX, &record_timeout_ms)) return fprintf(stderr, "--timeout takes ms\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--fetch-size"))) {
            if (!st_parse_i64(v, 1, INT32_MAX, &fetch_size)) return fprintf(stderr, "--fetch-size takes bytes\n"), 1;
        } else if (st_arg_flag(argv, i, "--from-latest")) {
            from_latest = true;
        } else if (st_arg_flag(argv, i, "--hide-header")) {
            hide_header = true;
        } else if ((v = st_arg_value(argc, argv, &i, "--group")) ||
                   (v = st_arg_value(argc, argv, &i, "--reporting-interval")) ||
                   (v = st_arg_value(argc, argv, &i, "--consumer.config"))) {
            /* Accepted for compatibility; reads are assign-mode. */
        } else if (st_arg_flag(argv, i, "--print-metrics")) {
            /* no client metrics to print */
        } else {
            fprintf(stderr, "%s is not a recognized option\n", argv[i]);
            perf_consume_usage(stderr);
            return 1;
        }
    }
    if (!bootstrap) return fprintf(stderr, "Missing required argument \"[bootstrap-server]\"\n"), 1;
    if (!topic) return fprintf(stderr, "Missing required argument \"[topic]\"\n"), 1;
    if (messages < 0) return fprintf(stderr, "Missing required argument \"[messages]\"\n"), 1;

    if (!hide_header)
        printf("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
               "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n");
    fflush(stdout);
    int status = 0;
    perf_consume_state_t state = {.wanted = messages};
    int64_t start_wall = wall_now_ms();
    int64_t start_ms = st_now_ms();
    int64_t join_ms = 0;
    st_cluster_t cl;
    st_fetcher_t fetcher;
    bool fetcher_open = false;
    if (st_cluster_open(&cl, bootstrap, timeout_ms) != 0) {
        fprintf(stderr, "%s\n", cl.error);
        status = 1;
        goto out_close;
    }
    if (st_fetcher_open(&fetcher, &cl, topic, -1, from_latest ? ST_OFFSET_LATEST : ST_OFFSET_EARLIEST) != 0) {
        fprintf(stderr, "%s\n", fetcher.error);
        status = 1;
        goto out_close;
    }
    fetcher_open = true;
    fetcher.partition_bytes_max = (int32_t)fetch_size;
    fetcher.max_wait_ms = record_timeout_ms < 100 ? (int32_t)record_timeout_ms : 100;
    join_ms = st_now_ms() - start_ms;
    int64_t last_consumed_ms = st_now_ms();
    while (state.messages < messages) {
        int64_t delivered = 0;
        int rc = st_fetcher_poll(&fetcher, perf_consume_record, &state, &delivered);
        if (rc != 0) {
            fprintf(stderr, "%s\n", fetcher.error);
            status = 1;
            break;
        }
        int64_t now = st_now_ms();
        if (delivered > 0) last_consumed_ms = now;
        if (now - last_consumed_ms > record_timeout_ms) break;
    }
    if (status == 0 && state.messages < messages)
        printf("WARNING: Exiting before consuming the expected number of messages: timeout (%lld ms) exceeded. "
               "You can use the --timeout option to increase the timeout.\n",
               (long long)record_timeout_ms);

out_close:
    if (fetcher_open) st_fetcher_close(&fetcher);
    st_cluster_close(&cl);
    if (status == 0) {
        int64_t end_ms = st_now_ms();
        int64_t end_wall = start_wall + (end_ms - start_ms);
        double elapsed_sec = (double)(end_ms - start_ms) / 1000.0;
        int64_t fetch_ms = (end_ms - start_ms) - join_ms;
        double mb = (double)state.bytes / (1024.0 * 1024.0);
        char start_text[64], end_text[64];
        format_date(start_text, sizeof start_text, start_wall);
        format_date(end_text, sizeof end_text, end_wall);
        printf("%s, %s, %.4f, %.4f, %lld, %.4f, %lld, %lld, %.4f, %.4f\n", start_text, end_text, mb, mb / elapsed_sec,
               (long long)state.messages, (double)state.messages / elapsed_sec, (long long)join_ms,
               (long long)fetch_ms, mb / ((double)fetch_ms / 1000.0),
               (double)state.messages / ((double)fetch_ms / 1000.0));
    }
    fflush(stdout);
    return status;
}

int st_cmd_perf(int argc, char **argv, int timeout_ms) {
    if (argc >= 2 && strcmp(argv[1], "produce") == 0) return perf_produce(argc, argv, timeout_ms);
    if (argc >= 2 && strcmp(argv[1], "consume") == 0) return perf_consume(argc, argv, timeout_ms);
    fprintf(stderr, "Usage: strata perf produce|consume [OPTIONS] (--help for each)\n");
    return argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ? 0 : 1;
}
