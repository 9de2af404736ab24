/*
 * `strata produce` and `strata consume`: kafka-console-producer.sh and
 * kafka-console-consumer.sh (assign mode: no consumer group).
 *
 * produce reads stdin as Java's BufferedReader.readLine does ("\n", "\r\n"
 * and a lone "\r" end a line; a last line without a terminator counts),
 * parses it as LineMessageReader does (parse.key, key.separator,
 * parse.headers, headers.delimiter, headers.separator,
 * headers.key.separator, null.marker, ignore.error), and sends it through
 * st_producer (murmur2 of the key, sticky partition without one). Lines
 * already read are sent at once when stdin has nothing more to give, so
 * interactive use does not wait for a batch to fill. It exits once stdin
 * ends and every record is acknowledged; any failed record makes the exit
 * status 1.
 *
 * consume positions with ListOffsets, reads with Fetch and prints records
 * as DefaultMessageFormatter does (print.timestamp, print.partition,
 * print.offset, print.headers, print.key, print.value, key.separator,
 * line.separator, headers.separator, null.literal), then
 * "Processed a total of N messages" on stderr.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/client.h"

#define CONSOLE_PROPERTIES_MAX 64
#define CONSOLE_HEADERS_MAX 256
#define CONSOLE_READ_BYTES 65536
#define CONSOLE_LINE_BYTES_MAX (64 * 1024 * 1024) /* one stdin line */

typedef struct property {
    const char *key;
    const char *value;
} property_t;

typedef struct properties {
    property_t items[CONSOLE_PROPERTIES_MAX];
    int32_t count;
} properties_t;

/* "k=v" into the table; later settings win. */
static bool property_add(properties_t *props, char *kv) {
    char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        fprintf(stderr, "Invalid property '%s' (expected key=value)\n", kv);
        return false;
    }
    if (props->count >= CONSOLE_PROPERTIES_MAX) {
        fprintf(stderr, "Too many --property options\n");
        return false;
    }
    *eq = '\0';
    props->items[props->count++] = (property_t){kv, eq + 1};
    return true;
}

static const char *property_get(const properties_t *props, const char *key, const char *fallback) {
    for (int32_t i = props->count - 1; i >= 0; i--)
        if (strcmp(props->items[i].key, key) == 0) return props->items[i].value;
    return fallback;
}

/* Kafka reads booleans as trim().equalsIgnoreCase("true"). */
static bool property_bool(const properties_t *props, const char *key, bool fallback) {
    const char *v = property_get(props, key, NULL);
    if (!v) return fallback;
    while (*v == ' ' || *v == '\t') v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    return n == 4 && strncasecmp(v, "true", 4) == 0;
}

/* Java's String escapes are not interpreted by Kafka either, but shells
 * make a literal tab hard to pass: accept "\t", "\n", "\r" and "\\". */
static char *unescape(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) abort();
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[i + 1];
            if (c == 't' || c == 'n' || c == 'r' || c == '\\') {
                out[o++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : '\\';
                i++;
                continue;
            }
        }
        out[o++] = s[i];
    }
    out[o] = '\0';
    return out;
}

static volatile sig_atomic_t console_stop;

static void on_signal(int sig) {
    (void)sig;
    console_stop = 1;
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- produce -------------------------------------------------------------- */

typedef struct line_format {
    bool parse_key;
    bool parse_headers;
    bool ignore_error;
    char *key_separator;
    char *headers_delimiter;
    char *headers_separator;
    char *headers_key_separator;
    char *null_marker; /* NULL: none */
} line_format_t;

typedef struct produce_state {
    const char *topic;
    int64_t acked;
    int64_t failed;
} produce_state_t;

/* tag = (key length + 1) << 32 | value length + 1, for error reports. */
static int64_t size_tag(int32_t key_len, int32_t value_len) {
    return (int64_t)((uint64_t)(uint32_t)(key_len + 1) << 32 | (uint32_t)(value_len + 1));
}

static void produce_done(void *opaque, int32_t partition, int64_t offset, int64_t tag, int error,
                         const char *message) {
    produce_state_t *s = opaque;
    (void)partition;
    (void)offset;
    if (error == 0) {
        s->acked++;
        return;
    }
    s->failed++;
    int32_t key_len = (int32_t)((uint64_t)tag >> 32) - 1;
    int32_t value_len = (int32_t)((uint64_t)tag & 0xffffffffu) - 1;
    char key_text[32];
    if (key_len < 0)
        snprintf(key_text, sizeof key_text, "null");
    else
        snprintf(key_text, sizeof key_text, "%d bytes", (int)key_len);
    fprintf(stderr,
            "ERROR Error when sending message to topic %s with key: %s, value: %d bytes with error: %s: %s\n",
            s->topic, key_text, value_len < 0 ? 0 : (int)value_len, st_err_name(error), message ? message : "");
}

static const char *find_sub(const char *hay, size_t hay_len, const char *needle) {
    size_t n = strlen(needle);
    if (n == 0 || n > hay_len) return n == 0 ? hay : NULL;
    for (size_t i = 0; i + n <= hay_len; i++)
        if (memcmp(hay + i, needle, n) == 0) return hay + i;
    return NULL;
}

static bool is_null_marker(const line_format_t *f, const char *p, size_t len) {
    return f->null_marker && strlen(f->null_marker) == len && memcmp(f->null_marker, p, len) == 0;
}

/* Parses one line and hands it to the producer. Returns 0 or an error; a
 * parse error (already reported) sets *parse_failed. */
static int produce_line(st_producer_t *p, const line_format_t *f, const char *line, size_t len, int64_t line_number,
                        bool *parse_failed) {
    *parse_failed = true;
    st_record_header_t headers[CONSOLE_HEADERS_MAX];
    int32_t header_count = 0;
    size_t pos = 0;
    if (f->parse_headers) {
        const char *end = find_sub(line, len, f->headers_delimiter);
        if (!end) {
            if (!f->ignore_error) {
                fprintf(stderr, "No headers delimiter found on line number %lld: '%.*s'\n", (long long)line_number,
                        (int)len, line);
                return ST_ERR_DECODE;
            }
        } else {
            size_t hlen = (size_t)(end - line);
            pos = hlen + strlen(f->headers_delimiter);
            size_t at = 0;
            while (at < hlen) {
                const char *sep = find_sub(line + at, hlen - at, f->headers_separator);
                size_t item_len = sep ? (size_t)(sep - (line + at)) : hlen - at;
                const char *item = line + at;
                const char *ks = find_sub(item, item_len, f->headers_key_separator);
                if (!ks) {
                    fprintf(stderr, "No header key separator found in pair '%.*s' on line number %lld\n",
                            (int)item_len, item, (long long)line_number);
                    return ST_ERR_DECODE;
                }
                if (header_count >= CONSOLE_HEADERS_MAX) {
                    fprintf(stderr, "More than %d headers on line number %lld\n", CONSOLE_HEADERS_MAX,
                            (long long)line_number);
                    return ST_ERR_DECODE;
                }
                st_record_header_t *h = &headers[header_count++];
                h->key = (const uint8_t *)item;
                h->key_len = (int32_t)(ks - item);
                const char *v = ks + strlen(f->headers_key_separator);
                size_t vlen = item_len - (size_t)(v - item);
                h->value = (const uint8_t *)v;
                h->value_len = is_null_marker(f, v, vlen) ? -1 : (int32_t)vlen;
                at += item_len + (sep ? strlen(f->headers_separator) : 0);
                if (sep && at == hlen) break;
            }
        }
    }
    const char *key = NULL;
    int32_t key_len = -1;
    if (f->parse_key) {
        const char *sep = find_sub(line + pos, len - pos, f->key_separator);
        if (!sep) {
            if (!f->ignore_error) {
                fprintf(stderr, "No key separator found on line number %lld: '%.*s'\n", (long long)line_number,
                        (int)len, line);
                return ST_ERR_DECODE;
            }
        } else {
            key = line + pos;
            key_len = (int32_t)(sep - key);
            pos = (size_t)(sep - line) + strlen(f->key_separator);
            if (is_null_marker(f, key, (size_t)key_len)) {
                key = NULL;
                key_len = -1;
            }
        }
    }
    const char *value = line + pos;
    int32_t value_len = (int32_t)(len - pos);
    if (is_null_marker(f, value, (size_t)value_len)) {
        value = NULL;
        value_len = -1;
    }
    *parse_failed = false;
    return st_producer_send(p, -1, (const uint8_t *)key, key_len, (const uint8_t *)value, value_len, headers,
                            header_count, size_tag(key_len, value_len));
}

static void produce_usage(FILE *out) {
    fprintf(out,
            "Usage: strata produce --bootstrap-server HOST:PORT --topic T [OPTIONS] < lines\n"
            "  --property parse.key=true|key.separator=S|parse.headers=true|headers.delimiter=S|\n"
            "             headers.separator=S|headers.key.separator=S|null.marker=S|ignore.error=true\n"
            "  --compression-codec [none|gzip|snappy|lz4|zstd]   (no value: gzip)\n"
            "  --acks N | --request-required-acks N               (default -1, all)\n"
            "  --batch-size BYTES (16384)  --linger-ms MS | --timeout MS (1000)\n"
            "  --max-in-flight N (5)  --request-timeout-ms MS (1500)\n"
            "  --producer-property acks=|compression.type=|batch.size=|linger.ms=|\n"
            "                      max.in.flight.requests.per.connection=|request.timeout.ms=\n");
}

static bool parse_acks(const char *v, int16_t *acks) {
    int64_t n = 0;
    if (strcmp(v, "all") == 0) {
        *acks = -1;
        return true;
    }
    if (!st_parse_i64(v, -1, 1, &n)) return false;
    *acks = (int16_t)n;
    return true;
}

/* Applies one producer setting given as Kafka config key (--producer-property). */
static bool producer_setting(st_producer_config_t *c, const char *key, const char *value) {
    int64_t n = 0;
    if (strcmp(key, "acks") == 0) return parse_acks(value, &c->acks);
    if (strcmp(key, "compression.type") == 0) {
        int codec = st_codec_from_name(value);
        if (codec < 0) return false;
        c->codec = (st_codec_t)codec;
        return true;
    }
    if (strcmp(key, "batch.size") == 0 && st_parse_i64(value, 0, INT32_MAX, &n)) {
        c->batch_bytes_max = (int32_t)n;
        return true;
    }
    if (strcmp(key, "linger.ms") == 0 && st_parse_i64(value, 0, INT32_MAX, &n)) {
        c->linger_ms = (int32_t)n;
        return true;
    }
    if (strcmp(key, "max.in.flight.requests.per.connection") == 0 && st_parse_i64(value, 1, ST_CLIENT_IN_FLIGHT_MAX, &n)) {
        c->in_flight_max = (int32_t)n;
        return true;
    }
    if (strcmp(key, "request.timeout.ms") == 0 && st_parse_i64(value, 1, INT32_MAX, &n)) {
        c->request_timeout_ms = (int32_t)n;
        return true;
    }
    if (strcmp(key, "max.request.size") == 0 && st_parse_i64(value, 1, INT32_MAX, &n)) {
        c->request_bytes_max = (int32_t)n;
        return true;
    }
    /* Other client settings (client.id, retries, ...) do not apply here. */
    return true;
}

/* Finds the end of the next line in buf[0..len): returns the line length
 * and sets *consumed to include its terminator, or returns -1 when no full
 * line is buffered yet (at_eof: the rest is the last line). */
static ssize_t next_line(const char *buf, size_t len, bool at_eof, size_t *consumed) {
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            *consumed = i + 1;
            return (ssize_t)i;
        }
        if (buf[i] == '\r') {
            if (i + 1 < len) {
                *consumed = i + (buf[i + 1] == '\n' ? 2 : 1);
                return (ssize_t)i;
            }
            if (at_eof) {
                *consumed = i + 1;
                return (ssize_t)i;
            }
            return -1; /* a '\n' may follow */
        }
    }
    if (at_eof && len > 0) {
        *consumed = len;
        return (ssize_t)len;
    }
    return -1;
}

int st_cmd_produce(int argc, char **argv, int timeout_ms) {
    const char *bootstrap = NULL, *topic = NULL;
    properties_t props = {.count = 0};
    st_producer_config_t config;
    st_producer_config_defaults(&config);
    /* kafka-console-producer's own defaults. */
    config.linger_ms = 1000;
    config.request_timeout_ms = 1500;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int64_t n = 0;
        if (st_arg_flag(argv, i, "--help") || st_arg_flag(argv, i, "-h")) {
            produce_usage(stdout);
            return 0;
        } else if ((v = st_arg_value(argc, argv, &i, "--bootstrap-server")) ||
                   (v = st_arg_value(argc, argv, &i, "--broker-list"))) {
            bootstrap = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--topic"))) {
            topic = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--property")) ||
                   (v = st_arg_value(argc, argv, &i, "--reader-property"))) {
            if (!property_add(&props, (char *)v)) return 1;
        } else if (st_arg_flag(argv, i, "--compression-codec")) {
            /* The value is optional; alone it means gzip. */
            const char *name = i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 ? argv[++i] : "gzip";
            int codec = st_codec_from_name(name);
            if (codec < 0) {
                fprintf(stderr, "Unknown compression codec '%s'\n", name);
                return 1;
            }
            config.codec = (st_codec_t)codec;
        } else if ((v = st_arg_value(argc, argv, &i, "--compression-codec"))) {
            int codec = st_codec_from_name(v);
            if (codec < 0) {
                fprintf(stderr, "Unknown compression codec '%s'\n", v);
                return 1;
            }
            config.codec = (st_codec_t)codec;
        } else if ((v = st_arg_value(argc, argv, &i, "--acks")) ||
                   (v = st_arg_value(argc, argv, &i, "--request-required-acks"))) {
            if (!parse_acks(v, &config.acks)) {
                fprintf(stderr, "acks must be -1 (all), 0 or 1\n");
                return 1;
            }
        } else if ((v = st_arg_value(argc, argv, &i, "--batch-size"))) {
            if (!st_parse_i64(v, 1, INT32_MAX, &n)) return fprintf(stderr, "--batch-size takes bytes\n"), 1;
            config.batch_bytes_max = (int32_t)n;
        } else if ((v = st_arg_value(argc, argv, &i, "--linger-ms")) || (v = st_arg_value(argc, argv, &i, "--timeout"))) {
            if (!st_parse_i64(v, 0, INT32_MAX, &n)) return fprintf(stderr, "linger takes milliseconds\n"), 1;
            config.linger_ms = (int32_t)n;
        } else if ((v = st_arg_value(argc, argv, &i, "--max-in-flight"))) {
            if (!st_parse_i64(v, 1, ST_CLIENT_IN_FLIGHT_MAX, &n))
                return fprintf(stderr, "--max-in-flight takes 1..%d\n", ST_CLIENT_IN_FLIGHT_MAX), 1;
            config.in_flight_max = (int32_t)n;
        } else if ((v = st_arg_value(argc, argv, &i, "--request-timeout-ms"))) {
            if (!st_parse_i64(v, 1, INT32_MAX, &n)) return fprintf(stderr, "--request-timeout-ms takes ms\n"), 1;
            config.request_timeout_ms = (int32_t)n;
        } else if ((v = st_arg_value(argc, argv, &i, "--producer-property"))) {
            char *eq = strchr(v, '=');
            if (!eq) return fprintf(stderr, "Invalid producer property '%s'\n", v), 1;
            *eq = '\0';
            if (!producer_setting(&config, v, eq + 1))
                return fprintf(stderr, "Invalid value '%s' for producer property %s\n", eq + 1, v), 1;
        } else if (st_arg_flag(argv, i, "--sync")) {
            config.in_flight_max = 1;
        } else {
            fprintf(stderr, "%s is not a recognized option\n", argv[i]);
            produce_usage(stderr);
            return 1;
        }
    }
    if (!bootstrap) return fprintf(stderr, "Missing required argument \"[bootstrap-server]\"\n"), 1;
    if (!topic) return fprintf(stderr, "Missing required argument \"[topic]\"\n"), 1;

    line_format_t fmt = {
        .parse_key = property_bool(&props, "parse.key", false),
        .parse_headers = property_bool(&props, "parse.headers", false),
        .ignore_error = property_bool(&props, "ignore.error", false),
        .key_separator = unescape(property_get(&props, "key.separator", "\t")),
        .headers_delimiter = unescape(property_get(&props, "headers.delimiter", "\t")),
        .headers_separator = unescape(property_get(&props, "headers.separator", ",")),
        .headers_key_separator = unescape(property_get(&props, "headers.key.separator", ":")),
        .null_marker = property_get(&props, "null.marker", NULL) ? unescape(property_get(&props, "null.marker", "")) : NULL,
    };
    int status = 0;
    produce_state_t state = {.topic = topic};
    config.topic = topic;
    config.done = produce_done;
    config.opaque = &state;
    char *buf = NULL;
    st_cluster_t cl;
    st_producer_t producer;
    bool producer_open = false;
    if (st_producer_open_cli(&cl, &producer, bootstrap, timeout_ms, &config) != 0) {
        status = 1;
        goto out_close_cluster;
    }
    producer_open = true;
    install_signals();

    size_t cap = CONSOLE_READ_BYTES * 2, len = 0;
    buf = malloc(cap);
    if (!buf) abort();
    bool eof = false;
    int64_t line_number = 0;
    while (!console_stop) {
        /* Every full line buffered goes to the producer first. */
        size_t start = 0, consumed = 0;
        ssize_t line_len;
        while ((line_len = next_line(buf + start, len - start, eof, &consumed)) >= 0) {
            line_number++;
            bool parse_failed = false;
            int rc = produce_line(&producer, &fmt, buf + start, (size_t)line_len, line_number, &parse_failed);
            start += consumed;
            if (rc != 0 && parse_failed) {
                status = 1;
                console_stop = 1;
                break;
            }
            if (rc != 0) {
                fprintf(stderr, "ERROR %s\n", producer.error_text);
                status = 1;
                console_stop = 1;
                break;
            }
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (eof || console_stop) break;
        if (len >= CONSOLE_LINE_BYTES_MAX) {
            fprintf(stderr, "ERROR line %lld is longer than %d bytes\n", (long long)line_number + 1,
                    CONSOLE_LINE_BYTES_MAX);
            status = 1;
            break;
        }
        /* Wait for stdin; when it has nothing for a moment, push what we
         * have so interactive lines are not held for a whole linger. */
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int ready = poll(&pfd, 1, 0);
        if (ready == 0) {
            if (st_producer_flush(&producer) != 0 && producer.error != 0) {
                fprintf(stderr, "ERROR %s\n", producer.error_text);
                status = 1;
                break;
            }
            ready = poll(&pfd, 1, -1);
        }
        if (ready < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "ERROR reading stdin: %s\n", strerror(errno));
            status = 1;
            break;
        }
        if (cap - len < CONSOLE_READ_BYTES) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        ssize_t n = read(STDIN_FILENO, buf + len, CONSOLE_READ_BYTES);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "ERROR reading stdin: %s\n", strerror(errno));
            status = 1;
            break;
        }
        if (n == 0) eof = true;
        len += (size_t)n;
        (void)st_producer_poll(&producer, 0);
    }
    if (st_producer_flush(&producer) != 0 && producer.error != 0) {
        fprintf(stderr, "ERROR %s\n", producer.error_text);
        status = 1;
    }
    if (state.failed > 0) status = 1;

out_close_cluster:
    if (producer_open) st_producer_close(&producer);
    st_cluster_close(&cl);
    free(buf);
    free(fmt.key_separator);
    free(fmt.headers_delimiter);
    free(fmt.headers_separator);
    free(fmt.headers_key_separator);
    free(fmt.null_marker);
    return status;
}

/* ---- consume -------------------------------------------------------------- */

typedef struct message_format {
    bool print_timestamp, print_partition, print_offset, print_headers, print_key, print_value;
    char *key_separator;
    char *line_separator;
    char *headers_separator;
    char *null_literal;
} message_format_t;

typedef struct consume_state {
    const message_format_t *fmt;
    int64_t max_messages; /* -1: unlimited */
    int64_t count;
} consume_state_t;

static void put_bytes(const uint8_t *p, int32_t len, const char *null_literal) {
    if (len < 0)
        fputs(null_literal, stdout);
    else if (len > 0)
        fwrite(p, 1, (size_t)len, stdout);
}

/* DefaultMessageFormatter.writeTo: each field is followed by the key
 * separator when a later field will print, the last by the line separator
 * (the value always ends with it). */
static bool consume_record(void *opaque, const st_fetched_record_t *r) {
    consume_state_t *s = opaque;
    const message_format_t *f = s->fmt;
    const st_record_t *rec = r->record;
    if (f->print_timestamp) {
        printf("%s:%lld", r->log_append_time ? "LogAppendTime" : "CreateTime", (long long)r->timestamp);
        fputs(f->print_partition || f->print_offset || f->print_headers || f->print_key || f->print_value
                  ? f->key_separator
                  : f->line_separator,
              stdout);
    }
    if (f->print_partition) {
        printf("Partition:%d", (int)r->partition);
        fputs(f->print_offset || f->print_headers || f->print_key || f->print_value ? f->key_separator
                                                                                     : f->line_separator,
              stdout);
    }
    if (f->print_offset) {
        printf("Offset:%lld", (long long)r->offset);
        fputs(f->print_headers || f->print_key || f->print_value ? f->key_separator : f->line_separator, stdout);
    }
    if (f->print_headers) {
        if (rec->header_count == 0) fputs("NO_HEADERS", stdout);
        for (int32_t i = 0; i < rec->header_count; i++) {
            const st_record_header_t *h = &rec->headers[i];
            if (h->key_len > 0) fwrite(h->key, 1, (size_t)h->key_len, stdout);
            fputc(':', stdout);
            put_bytes(h->value, h->value_len, f->null_literal);
            if (i + 1 < rec->header_count) fputs(f->headers_separator, stdout);
        }
        fputs(f->print_key || f->print_value ? f->key_separator : f->line_separator, stdout);
    }
    if (f->print_key) {
        put_bytes(rec->key, rec->key_len, f->null_literal);
        fputs(f->print_value ? f->key_separator : f->line_separator, stdout);
    }
    if (f->print_value) {
        put_bytes(rec->value, rec->value_len, f->null_literal);
        fputs(f->line_separator, stdout);
    }
    s->count++;
    return s->max_messages < 0 || s->count < s->max_messages;
}

static void consume_usage(FILE *out) {
    fprintf(out,
            "Usage: strata consume --bootstrap-server HOST:PORT --topic T [OPTIONS]\n"
            "  --from-beginning | --offset earliest|latest|N (N needs --partition)\n"
            "  --partition P  --max-messages N  --timeout-ms MS\n"
            "  --property print.key=true|print.offset=true|print.partition=true|\n"
            "             print.timestamp=true|print.headers=true|print.value=false|\n"
            "             key.separator=S|line.separator=S|headers.separator=S|null.literal=S\n");
}

int st_cmd_consume(int argc, char **argv, int timeout_ms) {
    const char *bootstrap = NULL, *topic = NULL, *offset_text = NULL;
    properties_t props = {.count = 0};
    bool from_beginning = false;
    int64_t partition = -1, max_messages = -1, idle_timeout_ms = -1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (st_arg_flag(argv, i, "--help") || st_arg_flag(argv, i, "-h")) {
            consume_usage(stdout);
            return 0;
        } else if ((v = st_arg_value(argc, argv, &i, "--bootstrap-server"))) {
            bootstrap = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--topic"))) {
            topic = v;
        } else if (st_arg_flag(argv, i, "--from-beginning")) {
            from_beginning = true;
        } else if ((v = st_arg_value(argc, argv, &i, "--partition"))) {
            if (!st_parse_i64(v, 0, INT32_MAX, &partition)) return fprintf(stderr, "--partition takes a number\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--offset"))) {
            offset_text = v;
        } else if ((v = st_arg_value(argc, argv, &i, "--max-messages"))) {
            if (!st_parse_i64(v, 1, INT64_MAX, &max_messages))
                return fprintf(stderr, "--max-messages takes a positive number\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--timeout-ms"))) {
            if (!st_parse_i64(v, 0, INT32_MAX, &idle_timeout_ms))
                return fprintf(stderr, "--timeout-ms takes milliseconds\n"), 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--property")) ||
                   (v = st_arg_value(argc, argv, &i, "--formatter-property"))) {
            if (!property_add(&props, (char *)v)) return 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--group"))) {
            fprintf(stderr, "--group is not supported: strata consume reads partitions directly\n");
            return 1;
        } else if ((v = st_arg_value(argc, argv, &i, "--consumer-property")) ||
                   (v = st_arg_value(argc, argv, &i, "--isolation-level"))) {
            /* Accepted for compatibility; reads are read_uncommitted. */
        } else {
            fprintf(stderr, "%s is not a recognized option\n", argv[i]);
            consume_usage(stderr);
            return 1;
        }
    }
    if (!bootstrap) return fprintf(stderr, "Missing required argument \"[bootstrap-server]\"\n"), 1;
    if (!topic) return fprintf(stderr, "Missing required argument \"[topic]\"\n"), 1;
    int64_t start = from_beginning ? ST_OFFSET_EARLIEST : ST_OFFSET_LATEST;
    if (offset_text) {
        if (from_beginning) return fprintf(stderr, "Options from-beginning and offset cannot be specified together.\n"), 1;
        if (strcmp(offset_text, "earliest") == 0) {
            start = ST_OFFSET_EARLIEST;
        } else if (strcmp(offset_text, "latest") == 0) {
            start = ST_OFFSET_LATEST;
        } else if (st_parse_i64(offset_text, 0, INT64_MAX, &start)) {
            if (partition < 0) return fprintf(stderr, "The partition is required when offset is specified.\n"), 1;
        } else {
            fprintf(stderr, "The offset must be 'earliest', 'latest' or a non-negative number\n");
            return 1;
        }
    }
    message_format_t fmt = {
        .print_timestamp = property_bool(&props, "print.timestamp", false),
        .print_partition = property_bool(&props, "print.partition", false),
        .print_offset = property_bool(&props, "print.offset", false),
        .print_headers = property_bool(&props, "print.headers", false),
        .print_key = property_bool(&props, "print.key", false),
        .print_value = property_bool(&props, "print.value", true),
        .key_separator = unescape(property_get(&props, "key.separator", "\t")),
        .line_separator = unescape(property_get(&props, "line.separator", "\n")),
        .headers_separator = unescape(property_get(&props, "headers.separator", ",")),
        .null_literal = unescape(property_get(&props, "null.literal", "null")),
    };
    static char out_buf[1 << 20];
    setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
    consume_state_t state = {.fmt = &fmt, .max_messages = max_messages};
    int status = 0;
    st_cluster_t cl;
    st_fetcher_t fetcher;
    bool fetcher_open = false;
    if (st_cluster_open(&cl, bootstrap, timeout_ms) != 0) {
        fprintf(stderr, "ERROR %s\n", cl.error);
        status = 1;
        goto out_report;
    }
    if (st_fetcher_open(&fetcher, &cl, topic, (int32_t)partition, start) != 0) {
        fprintf(stderr, "ERROR %s\n", fetcher.error);
        status = 1;
        goto out_report;
    }
    fetcher_open = true;
    if (idle_timeout_ms >= 0 && idle_timeout_ms < fetcher.max_wait_ms) fetcher.max_wait_ms = (int32_t)idle_timeout_ms;
    install_signals();
    int64_t last_data_ms = st_now_ms();
    while (!console_stop && (max_messages < 0 || state.count < max_messages)) {
        int64_t delivered = 0;
        int rc = st_fetcher_poll(&fetcher, consume_record, &state, &delivered);
        fflush(stdout);
        if (rc != 0) {
            fprintf(stderr, "ERROR %s\n", fetcher.error);
            status = 1;
            break;
        }
        int64_t now = st_now_ms();
        if (delivered > 0) last_data_ms = now;
        if (idle_timeout_ms >= 0 && now - last_data_ms >= idle_timeout_ms) break;
    }

out_report:
    fflush(stdout);
    fprintf(stderr, "Processed a total of %lld messages\n", (long long)state.count);
    if (fetcher_open) st_fetcher_close(&fetcher);
    st_cluster_close(&cl);
    free(fmt.key_separator);
    free(fmt.line_separator);
    free(fmt.headers_separator);
    free(fmt.null_literal);
    return status;
}
