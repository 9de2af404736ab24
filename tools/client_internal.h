/*
 * Private to tools/client*.c, the CLI's Kafka client (tools/client.h is
 * its contract):
 *   client.c           utilities, connection and request framing, cluster
 *                      metadata, the partitioner
 *   client_producer.c  the batching producer
 *   client_fetcher.c   the fetcher
 */
#ifndef ST_TOOLS_CLIENT_INTERNAL_H
#define ST_TOOLS_CLIENT_INTERNAL_H

#include "tools/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"



int64_t client_wall_ms(void);
void *client_xrealloc(void *p, size_t n);

#endif
