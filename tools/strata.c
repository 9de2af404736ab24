/*
 * `strata`: a command-line client for Strata (or any Kafka broker) with
 * the flags and output of Kafka's scripts:
 *
 *   strata [--timeout SECONDS] topics  ...   kafka-topics.sh
 *   strata [--timeout SECONDS] produce ...   kafka-console-producer.sh
 *   strata [--timeout SECONDS] consume ...   kafka-console-consumer.sh
 *   strata [--timeout SECONDS] perf produce|consume ...
 *                                            kafka-producer-perf-test.sh,
 *                                            kafka-consumer-perf-test.sh
 *   strata [--timeout SECONDS] consumer-groups ...
 *                                            kafka-consumer-groups.sh
 *
 * --timeout bounds connecting and each wait for a response (default 30 s).
 * `topics` also accepts it after the subcommand; the others do not, since
 * Kafka's console producer and consumer perf test give --timeout other
 * meanings.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/client.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: strata [--timeout SECONDS] COMMAND [OPTIONS]\n"
            "\n"
            "Commands:\n"
            "  topics    create, list, describe, alter and delete topics (kafka-topics.sh)\n"
            "  produce   write lines from stdin to a topic (kafka-console-producer.sh)\n"
            "  consume   print records of a topic (kafka-console-consumer.sh)\n"
            "  perf      'perf produce' / 'perf consume' benchmarks\n"
            "            (kafka-producer-perf-test.sh / kafka-consumer-perf-test.sh)\n"
            "  consumer-groups  list, describe, reset and delete consumer groups\n"
            "            (kafka-consumer-groups.sh)\n"
            "\n"
            "Run 'strata COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    /* A closed pipe on stdout must not kill us mid-report. */
    signal(SIGPIPE, SIG_IGN);
    int timeout_ms = ST_CLIENT_TIMEOUT_MS_DEFAULT;
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end = NULL;
            double seconds = strtod(argv[i + 1], &end);
            if (!end || *end != '\0' || seconds <= 0 || seconds > 86400) {
                fprintf(stderr, "--timeout takes a number of seconds in (0, 86400]\n");
                return 1;
            }
            timeout_ms = (int)(seconds * 1000.0);
            if (timeout_ms < 1) timeout_ms = 1;
            i += 2;
            continue;
        }
        fprintf(stderr, "Unknown option %s\n", argv[i]);
        usage(stderr);
        return 1;
    }
    if (i >= argc) {
        usage(stderr);
        return 1;
    }
    const char *command = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (strcmp(command, "topics") == 0) return st_cmd_topics(sub_argc, sub_argv, timeout_ms);
    if (strcmp(command, "produce") == 0) return st_cmd_produce(sub_argc, sub_argv, timeout_ms);
    if (strcmp(command, "consume") == 0) return st_cmd_consume(sub_argc, sub_argv, timeout_ms);
    if (strcmp(command, "perf") == 0) return st_cmd_perf(sub_argc, sub_argv, timeout_ms);
    if (strcmp(command, "consumer-groups") == 0) return st_cmd_consumer_groups(sub_argc, sub_argv, timeout_ms);
    fprintf(stderr, "Unknown command '%s'\n", command);
    usage(stderr);
    return 1;
}
