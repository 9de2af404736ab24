/* HTTP: /metrics and /v1/groups/<group>/lag (http.c), reading views only. */
#ifndef ST_HTTP_HTTP_H
#define ST_HTTP_HTTP_H

#include "broker/broker.h"

int st_http_start(st_broker_t *b, const char *listeners);
void st_http_stop(st_broker_t *b);

#endif
