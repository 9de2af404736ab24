/* The one table of served APIs (dispatch.c); net dispatches through it. */
#ifndef ST_SERVER_DISPATCH_H
#define ST_SERVER_DISPATCH_H

#include "net/net.h"

extern const st_api_entry_t st_api_table[];
extern const int st_api_table_count;

#endif
