#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void st_log_line(const char *level, const char *fmt, ...) {
    char when[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%s.%03ldZ] %s %s\n", when, ts.tv_nsec / 1000000, level, line);
}
