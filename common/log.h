/*
 * One line per event, to stderr: "[2026-12-04T01:32:34.123Z] WARN text".
 * Every layer logs through this (storage's recovery, the broker, tools
 * that embed the server code); it holds no state and knows no layer.
 */
#ifndef ST_COMMON_LOG_H
#define ST_COMMON_LOG_H

void st_log_line(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ST_INFO(...) st_log_line("INFO", __VA_ARGS__)
#define ST_WARN(...) st_log_line("WARN", __VA_ARGS__)
#define ST_ERROR(...) st_log_line("ERROR", __VA_ARGS__)

#endif
