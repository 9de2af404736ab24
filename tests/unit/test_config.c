/* Unit tests for common/config: properties parsing, defaults, Kafka's
 * derived values, error messages, topic validation, resolution and the
 * DescribeConfigs views. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/errors.h"
#include "common/config.h"

/* ---- helpers -------------------------------------------------------------- */

static char g_path[64];

/* Writes `text` to a fresh temp file; g_path names it. */
static const char *write_file(const char *text) {
    snprintf(g_path, sizeof g_path, "/tmp/st_test_config_XXXXXX");
    int fd = mkstemp(g_path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return g_path;
}

static st_config_t *load_text(const char *text, int n, char **overrides) {
    char err[512];
    st_config_t *c = NULL;
    int rc = st_config_load(&c, text ? write_file(text) : NULL, n, overrides, err, sizeof err);
    if (text)
        unlink(g_path);
    if (rc != 0)
        fail_msg("load failed: %s", err);
    return c;
}

/* Loads and expects failure `want_rc`; err is returned in `err`. */
static void load_fails(const char *text, int n, char **overrides, int want_rc, char *err, size_t len) {
    st_config_t *c = NULL;
    int rc = st_config_load(&c, text ? write_file(text) : NULL, n, overrides, err, len);
    if (text)
        unlink(g_path);
    assert_int_equal(rc, want_rc);
    assert_null(c);
}

static void assert_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle))
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void broker_view(const st_config_t *c, const char *name, st_config_entry_view_t *v) {
    int32_t i = st_config_broker_index(name);
    assert_true(i >= 0);
    st_config_broker_entry(c, i, v);
    assert_string_equal(v->name, name);
}

static void topic_view(const st_config_t *c, int32_t n, const char *const *names,
                       const char *const *values, const char *name, st_config_entry_view_t *v) {
    int32_t i = st_topic_config_index(name);
    assert_true(i >= 0);
    st_topic_config_entry(c, n, names, values, i, v);
    assert_string_equal(v->name, name);
}

/* ---- loading ---------------------------------------------------------------- */

static void test_defaults(void **state) {
    (void)state;
    st_config_t *c = load_text(NULL, 0, NULL);
    assert_int_equal(st_config_get_int(c, "num.partitions"), 1);
    assert_int_equal(st_config_get_int(c, "default.replication.factor"), 1);
    assert_true(st_config_get_bool(c, "auto.create.topics.enable"));
    assert_true(st_config_get_bool(c, "delete.topic.enable"));
    assert_int_equal(st_config_get_long(c, "log.retention.ms"), 168LL * 3600 * 1000);
    assert_int_equal(st_config_get_long(c, "log.roll.ms"), 168LL * 3600 * 1000);
    assert_int_equal(st_config_get_long(c, "log.roll.jitter.ms"), 0);
    assert_int_equal(st_config_get_long(c, "log.retention.bytes"), -1);
    assert_int_equal(st_config_get_int(c, "log.segment.bytes"), 1073741824);
    assert_int_equal(st_config_get_int(c, "log.index.interval.bytes"), 4096);
    assert_int_equal(st_config_get_int(c, "log.index.size.max.bytes"), 10485760);
    assert_int_equal(st_config_get_long(c, "log.flush.interval.messages"), INT64_MAX);
    /* log.flush.interval.ms is null in Kafka and falls back to the scheduler. */
    assert_int_equal(st_config_get_long(c, "log.flush.interval.ms"), INT64_MAX);
    assert_int_equal(st_config_get_long(c, "log.retention.check.interval.ms"), 300000);
    assert_string_equal(st_config_get_string(c, "log.cleanup.policy"), "delete");
    assert_string_equal(st_config_get_string(c, "log.message.timestamp.type"), "CreateTime");
    assert_int_equal(st_config_get_long(c, "log.message.timestamp.after.max.ms"), 3600000);
    assert_int_equal(st_config_get_long(c, "log.message.timestamp.before.max.ms"), INT64_MAX);
    assert_int_equal(st_config_get_int(c, "message.max.bytes"), 1048588);
    assert_int_equal(st_config_get_int(c, "socket.request.max.bytes"), 104857600);
    assert_int_equal(st_config_get_int(c, "max.connections"), 2147483647);
    assert_int_equal(st_config_get_long(c, "connections.max.idle.ms"), 600000);
    assert_int_equal(st_config_get_int(c, "queued.max.requests"), 500);
    assert_int_equal(st_config_get_int(c, "offsets.topic.num.partitions"), 50);
    assert_int_equal(st_config_get_int(c, "offsets.topic.replication.factor"), 3);
    assert_int_equal(st_config_get_int(c, "offsets.retention.minutes"), 10080);
    assert_int_equal(st_config_get_int(c, "group.initial.rebalance.delay.ms"), 3000);
    assert_int_equal(st_config_get_int(c, "group.min.session.timeout.ms"), 6000);
    assert_int_equal(st_config_get_int(c, "group.max.session.timeout.ms"), 1800000);
    assert_int_equal(st_config_get_int(c, "transactional.id.expiration.ms"), 604800000);
    assert_int_equal(st_config_get_int(c, "producer.id.expiration.ms"), 86400000);
    assert_string_equal(st_config_get_string(c, "compression.type"), "producer");
    assert_true(st_config_get_double(c, "log.cleaner.min.cleanable.ratio") == 0.5);
    assert_string_equal(st_config_get_string(c, "http.listeners"), "http://127.0.0.1:9644");
    assert_string_equal(st_config_get_string(c, "listeners"), "PLAINTEXT://:9092");
    assert_null(st_config_get_string(c, "advertised.listeners"));
    assert_null(st_config_get_string(c, "cluster.id"));
    assert_string_equal(st_config_get_string(c, "log.dirs"), "/tmp/kafka-logs");
    assert_int_equal(st_config_get_int(c, "strata.decompressed.batch.max.bytes"), 64 * 1024 * 1024);
    assert_int_equal(st_config_get_int(c, "strata.max.inflight.requests.per.connection"), 100);
    assert_int_equal(st_config_get_int(c, "fetch.max.bytes"), 57671680);
    assert_int_equal(st_config_get_int(c, "max.incremental.fetch.session.cache.slots"), 1000);
    assert_false(st_config_is_set(c, "num.partitions"));
    assert_int_equal(st_config_unused_count(c), 0);
    st_config_free(c);
}

static void test_file_syntax(void **state) {
    (void)state;
    const char *text =
        "# a comment\n"
        "! another comment \\\n"
        "num.partitions=99\n"                       /* a comment line is never continued */
        "\n"
        "   \t\n"
        "  node.id = 3   \n"                        /* blanks around key, '=' and value */
        "log.dirs: /data/a,\\\n"                    /* colon separator, continuation */
        "          /data/b\n"
        "listeners PLAINTEXT://0.0.0.0:9092\n"      /* whitespace separator */
        "auto.create.topics.enable=FALSE\r\n"       /* CRLF, case-insensitive boolean */
        "log.cleanup.policy = compact , delete\r"   /* CR only, list elements trimmed */
        "cluster.id=a\\=b\\:c\\\\d\n"               /* escapes in the value */
        "advertised.listeners=PLAINTEXT://h\\u00e9:9092\n"
        "num.io.threads=16";                        /* no final newline */
    st_config_t *c = load_text(text, 0, NULL);
    assert_int_equal(st_config_get_int(c, "num.partitions"), 99);
    assert_int_equal(st_config_get_int(c, "node.id"), 3);
    assert_string_equal(st_config_get_string(c, "log.dirs"), "/data/a,/data/b");
    assert_string_equal(st_config_get_string(c, "listeners"), "PLAINTEXT://0.0.0.0:9092");
    assert_false(st_config_get_bool(c, "auto.create.topics.enable"));
    assert_string_equal(st_config_get_string(c, "log.cleanup.policy"), "compact,delete");
    assert_string_equal(st_config_get_string(c, "cluster.id"), "a=b:c\\d");
    assert_string_equal(st_config_get_string(c, "advertised.listeners"), "PLAINTEXT://h\xc3\xa9:9092");
    assert_int_equal(st_config_get_int(c, "num.io.threads"), 16);
    assert_true(st_config_is_set(c, "node.id"));
    st_config_free(c);
}

static void test_escaped_key_and_duplicates(void **state) {
    (void)state;
    /* An escaped separator belongs to the key; the last duplicate wins. */
    st_config_t *c = load_text("my\\=odd\\ key=v\nnum.partitions=2\nnum.partitions=5\n", 0, NULL);
    assert_int_equal(st_config_get_int(c, "num.partitions"), 5);
    assert_int_equal(st_config_unused_count(c), 1);
    const char *name, *value;
    st_config_unused(c, 0, &name, &value);
    assert_string_equal(name, "my=odd key");
    assert_string_equal(value, "v");
    st_config_free(c);
}

static void test_overrides_win(void **state) {
    (void)state;
    char *overrides[] = {"num.partitions=7", "log.retention.hours=1", "num.partitions=8"};
    st_config_t *c = load_text("num.partitions=3\nlog.retention.hours=48\nnode.id=1\n", 3, overrides);
    assert_int_equal(st_config_get_int(c, "num.partitions"), 8);
    assert_int_equal(st_config_get_long(c, "log.retention.ms"), 3600000);
    assert_int_equal(st_config_get_int(c, "node.id"), 1);
    st_config_free(c);

    /* Overrides alone, with no file. */
    char *only[] = {"node.id=4"};
    c = load_text(NULL, 1, only);
    assert_int_equal(st_config_get_int(c, "node.id"), 4);
    st_config_free(c);
}

static void test_retention_precedence(void **state) {
    (void)state;
    st_config_t *c = load_text("log.retention.hours=24\n", 0, NULL);
    assert_int_equal(st_config_get_long(c, "log.retention.ms"), 24LL * 3600000);
    st_config_free(c);

    c = load_text("log.retention.hours=24\nlog.retention.minutes=30\n", 0, NULL);
    assert_int_equal(st_config_get_long(c, "log.retention.ms"), 30LL * 60000);
    st_config_free(c);

    c = load_text("log.retention.hours=24\nlog.retention.minutes=30\nlog.retention.ms=1234\n", 0, NULL);
    assert_int_equal(st_config_get_long(c, "log.retention.ms"), 1234);
    st_config_free(c);

    /* Any negative result means unlimited (-1), from whichever key. */
    c = load_text("log.retention.ms=-1\n", 0, NULL);
    assert_int_equal(st_config_get_long(c, "log.retention.ms"), -1);
    st_config_free(c);
    c = load_text("log.retention.hours=-1\n", 0, NULL);
    assert_int_equal(st_config_get_long(c, "log.retention.ms"), -1);
    st_config_free(c);
    c = load_text("log.retention.minutes=-5\nlog.retention.hours=10\n", 0, NULL);
    assert_int_equal(st_config_get_long(c, "log.retention.ms"), -1);
    st_config_free(c);
}

static void test_other_derivations(void **state) {
    (void)state;
    st_config_t *c = load_text("log.roll.hours=2\nlog.roll.jitter.hours=1\n"
                               "log.flush.scheduler.interval.ms=1000\nlog.dir=/var/x\n", 0, NULL);
    assert_int_equal(st_config_get_long(c, "log.roll.ms"), 2 * 3600000LL);
    assert_int_equal(st_config_get_long(c, "log.roll.jitter.ms"), 3600000LL);
    assert_int_equal(st_config_get_long(c, "log.flush.interval.ms"), 1000);
    assert_string_equal(st_config_get_string(c, "log.dirs"), "/var/x");
    st_config_free(c);

    c = load_text("log.roll.hours=2\nlog.roll.ms=500\nlog.flush.interval.ms=7\n"
                  "log.dir=/var/x\nlog.dirs=/var/y\n", 0, NULL);
    assert_int_equal(st_config_get_long(c, "log.roll.ms"), 500);
    assert_int_equal(st_config_get_long(c, "log.flush.interval.ms"), 7);
    assert_string_equal(st_config_get_string(c, "log.dirs"), "/var/y");
    st_config_free(c);
}

static void test_bad_values(void **state) {
    (void)state;
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"\n\nnum.partitions=abc\n", ":3: Invalid value abc for configuration num.partitions: Not a number of type INT"},
        {"num.partitions=12x\n", "Invalid value 12x for configuration num.partitions: Not a number of type INT"},
        {"num.partitions=\n", "Invalid value  for configuration num.partitions: Not a number of type INT"},
        {"num.partitions=2147483648\n", "num.partitions: Not a number of type INT"},
        {"num.partitions=0\n", "Invalid value 0 for configuration num.partitions: Value must be at least 1"},
        {"log.retention.ms=9223372036854775808\n", "log.retention.ms: Not a number of type LONG"},
        {"offsets.topic.replication.factor=40000\n", "offsets.topic.replication.factor: Not a number of type SHORT"},
        {"log.segment.bytes=1048575\n", "log.segment.bytes: Value must be at least 1048576"},
        {"delete.topic.enable=yes\n", "Invalid value yes for configuration delete.topic.enable: Expected value to be either true or false"},
        {"compression.type=brotli\n", "Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"},
        {"compression.type=ZSTD\n", "configuration compression.type: String must be one of"},
        {"log.message.timestamp.type=createtime\n", "String must be one of: CreateTime, LogAppendTime"},
        {"log.cleanup.policy=compact,purge\n", "Invalid value purge for configuration log.cleanup.policy: String must be one of: compact, delete"},
        {"process.roles=broker,leader\n", "Invalid value leader for configuration process.roles"},
        {"log.cleaner.min.cleanable.ratio=1.5\n", "log.cleaner.min.cleanable.ratio: Value must be no more than 1"},
        {"log.cleaner.min.cleanable.ratio=half\n", "log.cleaner.min.cleanable.ratio: Not a number of type DOUBLE"},
        {"strata.max.inflight.requests.per.connection=0\n", "Value must be at least 1"},
        {"cluster.id=\\u00zz\n", ":1: Malformed \\uxxxx encoding"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512];
        load_fails(cases[i].text, 0, NULL, ST_ERR_INVALID_CONFIG, err, sizeof err);
        assert_contains(err, cases[i].want);
        assert_contains(err, "/tmp/st_test_config_"); /* names the file */
    }
}

static void test_bad_override(void **state) {
    (void)state;
    char err[512];
    char *bad_value[] = {"num.io.threads=zero"};
    load_fails("num.io.threads=4\n", 1, bad_value, ST_ERR_INVALID_CONFIG, err, sizeof err);
    assert_string_equal(err, "--override num.io.threads=zero: Invalid value zero for configuration "
                             "num.io.threads: Not a number of type INT");

    char *no_equals[] = {"num.io.threads"};
    load_fails(NULL, 1, no_equals, ST_ERR_INVALID_CONFIG, err, sizeof err);
    assert_contains(err, "Missing value for key num.io.threads");

    char *empty[] = {"num.io.threads="};
    load_fails(NULL, 1, empty, ST_ERR_INVALID_CONFIG, err, sizeof err);
    assert_contains(err, "Missing value for key num.io.threads");
}

static void test_unreadable_file(void **state) {
    (void)state;
    char err[512];
    st_config_t *c = (st_config_t *)1;
    int rc = st_config_load(&c, "/nonexistent/dir/server.properties", 0, NULL, err, sizeof err);
    assert_int_equal(rc, ST_ERR_IO);
    assert_null(c);
    assert_contains(err, "/nonexistent/dir/server.properties");
}

static void test_file_too_large(void **state) {
    (void)state;
    size_t len = ST_CONFIG_FILE_MAX_BYTES + 10;
    char *big = malloc(len + 1);
    assert_non_null(big);
    memset(big, '#', len);
    big[len] = '\0';
    char err[512];
    load_fails(big, 0, NULL, ST_ERR_LIMIT, err, sizeof err);
    free(big);
}

static void test_limit_relation(void **state) {
    (void)state;
    char err[512];
    load_fails("message.max.bytes=2000000\nstrata.decompressed.batch.max.bytes=1000000\n", 0, NULL,
               ST_ERR_INVALID_CONFIG, err, sizeof err);
    assert_contains(err, "strata.decompressed.batch.max.bytes (1000000) must be at least message.max.bytes (2000000)");
}

static void test_unknown_keys_kept(void **state) {
    (void)state;
    char *overrides[] = {"zookeeper.connect=zk:2181", "ssl.keystore.location=/k"};
    st_config_t *c = load_text("zookeeper.connect=old\nnum.partitions=2\nsome.plugin.setting = x y \n", 2,
                               overrides);
    assert_int_equal(st_config_get_int(c, "num.partitions"), 2);
    assert_int_equal(st_config_unused_count(c), 3);
    const char *name, *value;
    st_config_unused(c, 0, &name, &value);
    assert_string_equal(name, "zookeeper.connect");
    assert_string_equal(value, "zk:2181");
    st_config_unused(c, 1, &name, &value);
    assert_string_equal(name, "some.plugin.setting");
    assert_string_equal(value, "x y ");
    st_config_unused(c, 2, &name, &value);
    assert_string_equal(name, "ssl.keystore.location");
    st_config_free(c);
}

/* ---- topic configs ---------------------------------------------------------- */

/* listener.name.<listener>.<key> for Kafka's per-listener connection keys:
 * parsed like the broker key, read through st_config_get_listener_long with
 * the broker's value as fallback, and not reported as unknown. */
static void test_listener_prefixed_keys(void **state) {
    (void)state;
    st_config_t *c = load_text("max.connections=100\n"
                               "listener.name.plaintext.max.connections=7\n"
                               "listener.name.external.max.connection.creation.rate=3\n"
                               "listener.name.plaintext.ssl.keystore.location=/x\n",
                               0, NULL);
    assert_int_equal(st_config_get_listener_long(c, "PLAINTEXT", "max.connections"), 7);
    assert_int_equal(st_config_get_listener_long(c, "plaintext", "max.connections"), 7);
    assert_int_equal(st_config_get_listener_long(c, "EXTERNAL", "max.connections"), 100);
    assert_int_equal(st_config_get_listener_long(c, "EXTERNAL", "max.connection.creation.rate"), 3);
    assert_int_equal(st_config_get_listener_long(c, "PLAINTEXT", "max.connection.creation.rate"), INT32_MAX);
    /* Only keys Kafka takes per listener are; others stay unknown. */
    assert_int_equal(st_config_unused_count(c), 1);
    const char *name, *value;
    st_config_unused(c, 0, &name, &value);
    assert_string_equal(name, "listener.name.plaintext.ssl.keystore.location");
    st_config_free(c);

    char err[512];
    load_fails("listener.name.plaintext.max.connections=-1\n", 0, NULL, ST_ERR_INVALID_CONFIG, err, sizeof err);
    assert_contains(err, "Invalid value -1 for configuration listener.name.plaintext.max.connections");
}

/* KafkaConfig: max.connections.per.ip=0 needs overrides. */
static void test_per_ip_zero_needs_overrides(void **state) {
    (void)state;
    char err[512];
    load_fails("max.connections.per.ip=0\n", 0, NULL, ST_ERR_INVALID_CONFIG, err, sizeof err);
    assert_contains(err, "max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides");
    st_config_t *c = load_text("max.connections.per.ip=0\nmax.connections.per.ip.overrides=10.0.0.1:5\n", 0, NULL);
    assert_string_equal(st_config_get_string(c, "max.connections.per.ip.overrides"), "10.0.0.1:5");
    st_config_free(c);
}

static void test_topic_validate(void **state) {
    (void)state;
    static const struct {
        const char *name, *value;
        int rc;
        const char *want;
    } cases[] = {
        {"retention.ms", "1000", 0, NULL},
        {"retention.ms", "-1", 0, NULL},
        {"retention.ms", " 86400000 ", 0, NULL},
        {"retention.ms", "-2", ST_ERR_INVALID_CONFIG, "Invalid value -2 for configuration retention.ms: Value must be at least -1"},
        {"retention.ms", "abc", ST_ERR_INVALID_CONFIG, "Invalid value abc for configuration retention.ms: Not a number of type LONG"},
        {"retention.ms", "1e3", ST_ERR_INVALID_CONFIG, "Not a number of type LONG"},
        {"retention.bytes", "-5", 0, NULL},
        {"segment.bytes", "1048576", 0, NULL},
        {"segment.bytes", "1000", ST_ERR_INVALID_CONFIG, "Invalid value 1000 for configuration segment.bytes: Value must be at least 1048576"},
        {"segment.bytes", "4294967296", ST_ERR_INVALID_CONFIG, "Not a number of type INT"},
        {"segment.ms", "0", ST_ERR_INVALID_CONFIG, "Value must be at least 1"},
        {"flush.messages", "0", ST_ERR_INVALID_CONFIG, "Value must be at least 1"},
        {"max.message.bytes", "-1", ST_ERR_INVALID_CONFIG, "Value must be at least 0"},
        {"min.insync.replicas", "0", ST_ERR_INVALID_CONFIG, "Value must be at least 1"},
        {"cleanup.policy", "compact,delete", 0, NULL},
        {"cleanup.policy", "delete, compact", 0, NULL},
        {"cleanup.policy", "compact,purge", ST_ERR_INVALID_CONFIG, "Invalid value purge for configuration cleanup.policy: String must be one of: compact, delete"},
        {"compression.type", "zstd", 0, NULL},
        {"compression.type", "uncompressed", 0, NULL},
        {"compression.type", "none", ST_ERR_INVALID_CONFIG, "Invalid value none for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"},
        {"message.timestamp.type", "LogAppendTime", 0, NULL},
        {"message.timestamp.type", "Now", ST_ERR_INVALID_CONFIG, "String must be one of: CreateTime, LogAppendTime"},
        {"unclean.leader.election.enable", "True", 0, NULL},
        {"preallocate", "1", ST_ERR_INVALID_CONFIG, "Invalid value 1 for configuration preallocate: Expected value to be either true or false"},
        {"min.cleanable.dirty.ratio", "0.1", 0, NULL},
        {"min.cleanable.dirty.ratio", "-0.1", ST_ERR_INVALID_CONFIG, "Value must be at least 0"},
        {"message.downconversion.enable", "false", 0, NULL},
        {"message.format.version", "3.0", ST_ERR_INVALID_CONFIG, "Unknown topic config name: message.format.version"},
        {"retention.hours", "1", ST_ERR_INVALID_CONFIG, "Unknown topic config name: retention.hours"},
        {"retention.ms", NULL, ST_ERR_INVALID_CONFIG, "Null value not supported for topic configs: retention.ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[512] = "";
        int rc = st_topic_config_validate(cases[i].name, cases[i].value, msg, sizeof msg);
        if (rc != cases[i].rc)
            fail_msg("%s=%s: rc %d, want %d (%s)", cases[i].name, cases[i].value ? cases[i].value : "(null)",
                     rc, cases[i].rc, msg);
        if (cases[i].want)
            assert_contains(msg, cases[i].want);
    }
}

static void test_topic_validate_set(void **state) {
    (void)state;
    st_config_t *c = load_text(NULL, 0, NULL);
    char msg[512];
    const char *names1[] = {"segment.jitter.ms", "segment.bytes", "segment.ms"};
    const char *values1[] = {"10", NULL, NULL};
    assert_int_equal(st_topic_config_validate_set(c, 3, names1, values1, msg, sizeof msg), ST_ERR_INVALID_CONFIG);
    assert_string_equal(msg, "Null value not supported for topic configs: segment.bytes,segment.ms");

    const char *names2[] = {"min.compaction.lag.ms", "max.compaction.lag.ms"};
    const char *values2[] = {"60000", "1"};
    assert_int_equal(st_topic_config_validate_set(c, 2, names2, values2, msg, sizeof msg), ST_ERR_INVALID_CONFIG);
    assert_string_equal(msg, "conflict topic config setting min.compaction.lag.ms (60000) > max.compaction.lag.ms (1)");

    const char *names3[] = {"retention.ms", "bogus"};
    const char *values3[] = {"1", "2"};
    assert_int_equal(st_topic_config_validate_set(c, 2, names3, values3, msg, sizeof msg), ST_ERR_INVALID_CONFIG);
    assert_string_equal(msg, "Unknown topic config name: bogus");

    const char *names4[] = {"retention.ms", "cleanup.policy", "min.compaction.lag.ms"};
    const char *values4[] = {"1", "compact", "5000"};
    assert_int_equal(st_topic_config_validate_set(c, 3, names4, values4, msg, sizeof msg), 0);
    st_config_free(c);
}

static void test_settings_resolve(void **state) {
    (void)state;
    st_config_t *c = load_text("log.retention.hours=24\ncompression.type=zstd\nlog.segment.bytes=2097152\n"
                               "log.message.timestamp.after.max.ms=5000\n", 0, NULL);
    st_topic_settings_t s;

    /* Broker defaults only. */
    assert_int_equal(st_topic_settings_resolve(c, 0, NULL, NULL, &s), 0);
    assert_int_equal(s.retention_ms, 24LL * 3600000);
    assert_int_equal(s.retention_bytes, -1);
    assert_int_equal(s.segment_bytes, 2097152);
    assert_int_equal(s.segment_ms, 168LL * 3600000);
    assert_int_equal(s.segment_jitter_ms, 0);
    assert_int_equal(s.segment_index_bytes, 10485760);
    assert_int_equal(s.index_interval_bytes, 4096);
    assert_int_equal(s.max_message_bytes, 1048588);
    assert_int_equal(s.delete_retention_ms, 86400000);
    assert_int_equal(s.min_compaction_lag_ms, 0);
    assert_int_equal(s.max_compaction_lag_ms, INT64_MAX);
    assert_int_equal(s.flush_messages, INT64_MAX);
    assert_int_equal(s.flush_ms, INT64_MAX);
    assert_int_equal(s.file_delete_delay_ms, 60000);
    assert_int_equal(s.message_timestamp_after_max_ms, 5000);
    assert_int_equal(s.message_timestamp_before_max_ms, INT64_MAX);
    assert_int_equal(s.min_insync_replicas, 1);
    assert_true(s.min_cleanable_dirty_ratio == 0.5);
    assert_int_equal(s.compression_type, 4);
    assert_true(s.cleanup_delete);
    assert_false(s.cleanup_compact);
    assert_false(s.log_append_time);
    assert_false(s.unclean_leader_election);
    assert_false(s.preallocate);

    /* Overrides on top; the last duplicate wins. */
    const char *names[] = {"retention.ms", "cleanup.policy", "message.timestamp.type", "compression.type",
                           "segment.bytes", "min.cleanable.dirty.ratio", "preallocate", "retention.ms",
                           "flush.messages"};
    const char *values[] = {"1000", "compact, delete", "LogAppendTime", "producer", "1048576", "0.25", "TRUE",
                            "-1", "1"};
    assert_int_equal(st_topic_settings_resolve(c, 9, names, values, &s), 0);
    assert_int_equal(s.retention_ms, -1);
    assert_true(s.cleanup_compact);
    assert_true(s.cleanup_delete);
    assert_true(s.log_append_time);
    assert_int_equal(s.compression_type, -1);
    assert_int_equal(s.segment_bytes, 1048576);
    assert_true(s.min_cleanable_dirty_ratio == 0.25);
    assert_true(s.preallocate);
    assert_int_equal(s.flush_messages, 1);

    /* Each codec name maps to its batch attribute value. */
    static const struct { const char *name; int codec; } codecs[] = {
        {"uncompressed", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}, {"producer", -1}};
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        const char *n1[] = {"compression.type"};
        const char *v1[] = {codecs[i].name};
        assert_int_equal(st_topic_settings_resolve(c, 1, n1, v1, &s), 0);
        assert_int_equal(s.compression_type, codecs[i].codec);
    }

    /* An empty policy keeps everything; compact alone does not delete. */
    const char *n2[] = {"cleanup.policy"};
    const char *v2[] = {""};
    assert_int_equal(st_topic_settings_resolve(c, 1, n2, v2, &s), 0);
    assert_false(s.cleanup_delete);
    assert_false(s.cleanup_compact);
    v2[0] = "compact";
    assert_int_equal(st_topic_settings_resolve(c, 1, n2, v2, &s), 0);
    assert_false(s.cleanup_delete);
    assert_true(s.cleanup_compact);

    /* Bad entries are skipped (broker default kept) and reported. */
    const char *n3[] = {"retention.ms", "nope", "segment.ms"};
    const char *v3[] = {"abc", "1", "60000"};
    assert_int_equal(st_topic_settings_resolve(c, 3, n3, v3, &s), ST_ERR_INVALID_CONFIG);
    assert_int_equal(s.retention_ms, 24LL * 3600000);
    assert_int_equal(s.segment_ms, 60000);
    st_config_free(c);
}

/* ---- DescribeConfigs ---------------------------------------------------------- */

static void test_describe_broker(void **state) {
    (void)state;
    st_config_t *c = load_text("num.partitions=3\nlog.retention.hours=24\nzookeeper.connect=x\n", 0, NULL);
    int32_t count = st_config_broker_entry_count(c);
    assert_true(count >= 60);

    /* Every entry is well formed and names are unique. */
    for (int32_t i = 0; i < count; i++) {
        st_config_entry_view_t v;
        st_config_broker_entry(c, i, &v);
        assert_non_null(v.name);
        assert_non_null(v.doc);
        assert_true(v.type >= ST_CONFIG_TYPE_BOOLEAN && v.type <= ST_CONFIG_TYPE_PASSWORD);
        assert_true(v.source == ST_CONFIG_SOURCE_STATIC_BROKER || v.source == ST_CONFIG_SOURCE_DEFAULT);
        assert_int_equal(st_config_broker_index(v.name), i);
        assert_true(v.synonym_count <= ST_CONFIG_SYNONYMS_MAX);
    }
    assert_int_equal(st_config_broker_index("zookeeper.connect"), -1);

    st_config_entry_view_t v;
    broker_view(c, "num.partitions", &v);
    assert_string_equal(v.value, "3");
    assert_int_equal(v.source, ST_CONFIG_SOURCE_STATIC_BROKER);
    assert_false(v.is_default);
    assert_true(v.read_only);
    assert_int_equal(v.type, ST_CONFIG_TYPE_INT);
    assert_int_equal(v.synonym_count, 2);
    assert_string_equal(v.synonyms[0].value, "3");
    assert_int_equal(v.synonyms[0].source, ST_CONFIG_SOURCE_STATIC_BROKER);
    assert_string_equal(v.synonyms[1].value, "1");
    assert_int_equal(v.synonyms[1].source, ST_CONFIG_SOURCE_DEFAULT);

    broker_view(c, "message.max.bytes", &v);
    assert_string_equal(v.value, "1048588");
    assert_int_equal(v.source, ST_CONFIG_SOURCE_DEFAULT);
    assert_true(v.is_default);
    assert_false(v.read_only);

    /* log.retention.ms is unset (null) but its synonym chain is shown. */
    broker_view(c, "log.retention.ms", &v);
    assert_null(v.value);
    assert_int_equal(v.type, ST_CONFIG_TYPE_LONG);
    assert_int_equal(v.source, ST_CONFIG_SOURCE_STATIC_BROKER);
    assert_int_equal(v.synonym_count, 2);
    assert_string_equal(v.synonyms[0].name, "log.retention.hours");
    assert_string_equal(v.synonyms[0].value, "24");
    assert_string_equal(v.synonyms[1].name, "log.retention.hours");
    assert_string_equal(v.synonyms[1].value, "168");

    broker_view(c, "log.cleanup.policy", &v);
    assert_int_equal(v.type, ST_CONFIG_TYPE_LIST);
    broker_view(c, "log.cleaner.min.cleanable.ratio", &v);
    assert_int_equal(v.type, ST_CONFIG_TYPE_DOUBLE);
    assert_string_equal(v.value, "0.5");
    broker_view(c, "offsets.topic.replication.factor", &v);
    assert_int_equal(v.type, ST_CONFIG_TYPE_SHORT);
    broker_view(c, "auto.create.topics.enable", &v);
    assert_int_equal(v.type, ST_CONFIG_TYPE_BOOLEAN);
    assert_string_equal(v.value, "true");
    st_config_free(c);
}

static void test_describe_topic(void **state) {
    (void)state;
    st_config_t *c = load_text("log.retention.hours=24\nlog.flush.scheduler.interval.ms=9000\n", 0, NULL);
    const char *names[] = {"cleanup.policy", "segment.bytes"};
    const char *values[] = {"compact", "2097152"};
    int32_t count = st_topic_config_entry_count();
    assert_true(count >= 24);

    /* Every topic key has a value and every synonym is a broker key. */
    for (int32_t i = 0; i < count; i++) {
        st_config_entry_view_t v;
        st_topic_config_entry(c, 2, names, values, i, &v);
        assert_non_null(v.value);
        assert_false(v.read_only);
        assert_int_equal(st_topic_config_index(v.name), i);
        assert_true(v.synonym_count >= 1);
        for (int32_t k = 0; k < v.synonym_count; k++) {
            if (v.synonyms[k].source != ST_CONFIG_SOURCE_DYNAMIC_TOPIC)
                assert_true(st_config_broker_index(v.synonyms[k].name) >= 0);
        }
    }

    st_config_entry_view_t v;
    topic_view(c, 2, names, values, "cleanup.policy", &v);
    assert_string_equal(v.value, "compact");
    assert_int_equal(v.source, ST_CONFIG_SOURCE_DYNAMIC_TOPIC);
    assert_false(v.is_default);
    assert_int_equal(v.type, ST_CONFIG_TYPE_LIST);
    assert_int_equal(v.synonym_count, 2);
    assert_string_equal(v.synonyms[0].name, "cleanup.policy");
    assert_int_equal(v.synonyms[0].source, ST_CONFIG_SOURCE_DYNAMIC_TOPIC);
    assert_string_equal(v.synonyms[1].name, "log.cleanup.policy");
    assert_string_equal(v.synonyms[1].value, "delete");
    assert_int_equal(v.synonyms[1].source, ST_CONFIG_SOURCE_DEFAULT);

    /* retention.ms falls back to the broker: the effective value in ms, the
     * configured hours as the first synonym. */
    topic_view(c, 2, names, values, "retention.ms", &v);
    assert_string_equal(v.value, "86400000");
    assert_int_equal(v.source, ST_CONFIG_SOURCE_STATIC_BROKER);
    assert_true(v.is_default);
    assert_int_equal(v.type, ST_CONFIG_TYPE_LONG);
    assert_int_equal(v.synonym_count, 2);
    assert_string_equal(v.synonyms[0].name, "log.retention.hours");
    assert_string_equal(v.synonyms[0].value, "24");
    assert_int_equal(v.synonyms[0].source, ST_CONFIG_SOURCE_STATIC_BROKER);
    assert_int_equal(v.synonyms[1].source, ST_CONFIG_SOURCE_DEFAULT);

    /* flush.ms: log.flush.interval.ms is null, the scheduler interval applies. */
    topic_view(c, 2, names, values, "flush.ms", &v);
    assert_string_equal(v.value, "9000");
    assert_int_equal(v.source, ST_CONFIG_SOURCE_STATIC_BROKER);
    assert_string_equal(v.synonyms[0].name, "log.flush.scheduler.interval.ms");

    topic_view(c, 2, names, values, "segment.bytes", &v);
    assert_string_equal(v.value, "2097152");
    assert_int_equal(v.type, ST_CONFIG_TYPE_INT);

    topic_view(c, 2, names, values, "max.message.bytes", &v);
    assert_string_equal(v.value, "1048588");
    assert_int_equal(v.source, ST_CONFIG_SOURCE_DEFAULT);
    assert_string_equal(v.synonyms[0].name, "message.max.bytes");

    topic_view(c, 2, names, values, "min.cleanable.dirty.ratio", &v);
    assert_string_equal(v.value, "0.5");
    topic_view(c, 2, names, values, "unclean.leader.election.enable", &v);
    assert_string_equal(v.value, "false");
    topic_view(c, 2, names, values, "compression.type", &v);
    assert_string_equal(v.value, "producer");

    assert_int_equal(st_topic_config_index("log.retention.ms"), -1);
    st_config_free(c);
}

/* ---- listeners ------------------------------------------------------------- */

/* Loads the overrides (NULL-terminated) and parses `listeners`. */
static int listeners_of(char **overrides, st_listeners_t *out, char *err, size_t len) {
    int n = 0;
    while (overrides[n])
        n++;
    st_config_t *c = load_text(NULL, n, overrides);
    int rc = st_config_listeners(c, out, err, len);
    st_config_free(c);
    return rc;
}

static void listeners_fail(char **overrides, const char *want) {
    st_listeners_t l;
    char err[1024] = "";
    assert_int_equal(listeners_of(overrides, &l, err, sizeof err), ST_ERR_INVALID_CONFIG);
    assert_int_equal(l.count, 0);
    assert_contains(err, want);
}

static void test_listeners_default(void **state) {
    (void)state;
    char *none[] = {NULL};
    st_listeners_t l;
    char err[512];
    assert_int_equal(listeners_of(none, &l, err, sizeof err), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.items[0].name, "PLAINTEXT");
    assert_int_equal(l.items[0].security_protocol, ST_SECURITY_PROTOCOL_PLAINTEXT);
    assert_string_equal(l.items[0].host, "");
    assert_int_equal(l.items[0].port, 9092);
    assert_false(l.items[0].controller);
    assert_string_equal(st_security_protocol_name(ST_SECURITY_PROTOCOL_SASL_SSL), "SASL_SSL");
}

static void test_listeners_all_entries(void **state) {
    (void)state;
    /* Every entry, names normalised, the four default protocol names, IPv6
     * in brackets, and the controller listener mapped to PLAINTEXT
     * implicitly while nothing else uses SSL or SASL... */
    char *plain[] = {"listeners= plaintext://127.0.0.1:9092 , CONTROLLER://:9093,,", "controller.listener.names=CONTROLLER",
                     NULL};
    st_listeners_t l;
    char err[512];
    if (listeners_of(plain, &l, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[0].name, "PLAINTEXT");
    assert_string_equal(l.items[0].host, "127.0.0.1");
    assert_false(l.items[0].controller);
    assert_string_equal(l.items[1].name, "CONTROLLER");
    assert_int_equal(l.items[1].security_protocol, ST_SECURITY_PROTOCOL_PLAINTEXT);
    assert_int_equal(l.items[1].port, 9093);
    assert_true(l.items[1].controller);

    char *mixed[] = {"listeners=PLAINTEXT://h.example:1,SSL://[::1]:2,SASL_PLAINTEXT://:3,SASL_SSL://10.0.0.1:4", NULL};
    assert_int_equal(listeners_of(mixed, &l, err, sizeof err), 0);
    assert_int_equal(l.count, 4);
    assert_string_equal(l.items[0].host, "h.example");
    assert_int_equal(l.items[1].security_protocol, ST_SECURITY_PROTOCOL_SSL);
    assert_string_equal(l.items[1].host, "::1");
    assert_int_equal(l.items[2].security_protocol, ST_SECURITY_PROTOCOL_SASL_PLAINTEXT);
    assert_int_equal(l.items[3].security_protocol, ST_SECURITY_PROTOCOL_SASL_SSL);
    assert_int_equal(l.items[3].port, 4);

    /* ...but not once SSL is in use: then the map must name it. */
    char *ssl[] = {"listeners=SSL://:9092,CONTROLLER://:9093", "controller.listener.names=CONTROLLER", NULL};
    listeners_fail(ssl, "No security protocol defined for listener CONTROLLER");
}

static void test_listeners_protocol_map(void **state) {
    (void)state;
    /* Names mapped through listener.security.protocol.map, any case. */
    char *mapped[] = {"listeners=INTERNAL://:9092,external://:9093,BROKER://:9094",
                      "listener.security.protocol.map=INTERNAL:PLAINTEXT, External : sasl_ssl,BROKER:SSL,UNUSED:SSL",
                      NULL};
    st_listeners_t l;
    char err[512];
    assert_int_equal(listeners_of(mapped, &l, err, sizeof err), 0);
    assert_int_equal(l.count, 3);
    assert_string_equal(l.items[0].name, "INTERNAL");
    assert_int_equal(l.items[0].security_protocol, ST_SECURITY_PROTOCOL_PLAINTEXT);
    assert_string_equal(l.items[1].name, "EXTERNAL");
    assert_int_equal(l.items[1].security_protocol, ST_SECURITY_PROTOCOL_SASL_SSL);
    assert_int_equal(l.items[2].security_protocol, ST_SECURITY_PROTOCOL_SSL);

    /* An explicit map replaces Kafka's default one entirely, and no
     * controller mapping is implied. */
    char *explicit_map[] = {"listeners=PLAINTEXT://:9092,CONTROLLER://:9093", "controller.listener.names=CONTROLLER",
                            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT", NULL};
    listeners_fail(explicit_map, "No security protocol defined for listener CONTROLLER");
    char *unmapped[] = {"listeners=CLIENT://:9092", NULL};
    listeners_fail(unmapped, "Error creating broker listeners from 'CLIENT://:9092': "
                             "No security protocol defined for listener CLIENT");
    char *bad_protocol[] = {"listener.security.protocol.map=CLIENT:TLS", NULL};
    listeners_fail(bad_protocol, "Invalid security protocol `TLS` defined in listener.security.protocol.map");
    char *bad_entry[] = {"listener.security.protocol.map=CLIENT", NULL};
    listeners_fail(bad_entry, "Error parsing configuration property 'listener.security.protocol.map'");
}

static void test_listeners_invalid(void **state) {
    (void)state;
    char *dup_name[] = {"listeners=PLAINTEXT://:9092,plaintext://:9093", NULL};
    listeners_fail(dup_name, "Error creating broker listeners from 'PLAINTEXT://:9092,plaintext://:9093': "
                             "Each listener must have a different name, listeners: PLAINTEXT://:9092,plaintext://:9093");
    char *dup_port[] = {"listeners=PLAINTEXT://:9092,SSL://localhost:9092", NULL};
    listeners_fail(dup_port, "Each listener must have a different port, listeners: PLAINTEXT://:9092,SSL://localhost:9092");
    char *two_v4[] = {"listeners=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.2:9092", NULL};
    listeners_fail(two_v4, "If you have two listeners on the same port then one needs to be IPv4 and the other IPv6");
    char *one_ip[] = {"listeners=PLAINTEXT://127.0.0.1:9092,SSL://:9092", NULL};
    listeners_fail(one_ip, "Each listener must have a different port unless exactly one listener has an IPv4 address");
    char *no_port[] = {"listeners=PLAINTEXT://localhost", NULL};
    listeners_fail(no_port, "Unable to parse PLAINTEXT://localhost to a broker endpoint");
    char *no_scheme[] = {"listeners=localhost:9092", NULL};
    listeners_fail(no_scheme, "Unable to parse localhost:9092 to a broker endpoint");
    char *bad_host[] = {"listeners=PLAINTEXT://a/b:9092", NULL};
    listeners_fail(bad_host, "Unable to parse PLAINTEXT://a/b:9092 to a broker endpoint");
    char *big_port[] = {"listeners=PLAINTEXT://:70000", NULL};
    listeners_fail(big_port, "port 70000 of PLAINTEXT://:70000 is out of range");
    char *huge_port[] = {"listeners=PLAINTEXT://:99999999999", NULL};
    listeners_fail(huge_port, "Unable to parse");

    /* Port 0 (any free port) may repeat; an IPv4 and an IPv6 host may share. */
    char *zero[] = {"listeners=PLAINTEXT://:0,SSL://:0", NULL};
    st_listeners_t l;
    char err[512];
    assert_int_equal(listeners_of(zero, &l, err, sizeof err), 0);
    char *dual[] = {"listeners=PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092", NULL};
    assert_int_equal(listeners_of(dual, &l, err, sizeof err), 0);
    assert_int_equal(l.count, 2);

    /* The limit on entries is explicit. */
    char many[2048] = "listeners=";
    for (int i = 0; i <= ST_LISTENERS_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sL%d://:%d", i ? "," : "", i, 1000 + i);
    char map[2048] = "listener.security.protocol.map=";
    for (int i = 0; i <= ST_LISTENERS_MAX; i++)
        snprintf(map + strlen(map), sizeof map - strlen(map), "%sL%d:PLAINTEXT", i ? "," : "", i);
    char *too_many[] = {many, map, NULL};
    listeners_fail(too_many, "more than 16 listeners");
}

static void test_advertised_listeners(void **state) {
    (void)state;
    char *unset[] = {NULL};
    st_config_t *c = load_text(NULL, 0, unset);
    st_listeners_t a;
    char err[512];
    assert_int_equal(st_config_advertised_listeners(c, &a, err, sizeof err), 0);
    assert_int_equal(a.count, 0);
    st_config_free(c);

    /* Ports may repeat in advertised.listeners (a load balancer). */
    char *ok[] = {"listeners=PLAINTEXT://:9092,INTERNAL://:9093", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
                  "advertised.listeners=PLAINTEXT://lb:9000,INTERNAL://lb:9000", NULL};
    c = load_text(NULL, 3, ok);
    assert_int_equal(st_config_advertised_listeners(c, &a, err, sizeof err), 0);
    assert_int_equal(a.count, 2);
    assert_string_equal(a.items[1].name, "INTERNAL");
    assert_string_equal(a.items[1].host, "lb");
    st_config_free(c);

    char *unknown[] = {"listeners=PLAINTEXT://:9092", "advertised.listeners=SSL://h:9093", NULL};
    c = load_text(NULL, 2, unknown);
    assert_int_equal(st_config_advertised_listeners(c, &a, err, sizeof err), ST_ERR_INVALID_CONFIG);
    assert_contains(err, "advertised.listeners listener names must be equal to or a subset of the ones defined in "
                         "listeners. Found SSL. The valid options based on the current configuration are PLAINTEXT");
    st_config_free(c);

    char *wildcard[] = {"advertised.listeners=PLAINTEXT://0.0.0.0:9092", NULL};
    c = load_text(NULL, 1, wildcard);
    assert_int_equal(st_config_advertised_listeners(c, &a, err, sizeof err), ST_ERR_INVALID_CONFIG);
    assert_contains(err, "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0");
    st_config_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_syntax),
        cmocka_unit_test(test_escaped_key_and_duplicates),
        cmocka_unit_test(test_overrides_win),
        cmocka_unit_test(test_retention_precedence),
        cmocka_unit_test(test_other_derivations),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_override),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_file_too_large),
        cmocka_unit_test(test_limit_relation),
        cmocka_unit_test(test_unknown_keys_kept),
        cmocka_unit_test(test_listener_prefixed_keys),
        cmocka_unit_test(test_per_ip_zero_needs_overrides),
        cmocka_unit_test(test_topic_validate),
        cmocka_unit_test(test_topic_validate_set),
        cmocka_unit_test(test_settings_resolve),
        cmocka_unit_test(test_describe_broker),
        cmocka_unit_test(test_describe_topic),
        cmocka_unit_test(test_listeners_default),
        cmocka_unit_test(test_listeners_all_entries),
        cmocka_unit_test(test_listeners_protocol_map),
        cmocka_unit_test(test_listeners_invalid),
        cmocka_unit_test(test_advertised_listeners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
