/*
 * One error type (STYLE 4): Kafka's wire codes keep their protocol values
 * (0 is success, -1 UNKNOWN_SERVER_ERROR); conditions internal to Strata are
 * below ST_ERR_INTERNAL_BASE and never go on the wire.
 */
#ifndef ST_PROTOCOL_ERRORS_H
#define ST_PROTOCOL_ERRORS_H

#include <stdbool.h>

typedef enum st_err {
#define ST_ERROR_CODE(code, name, retriable) ST_ERR_##name = (code),
#include "common/errors.def"
#undef ST_ERROR_CODE
    ST_ERR_INTERNAL_BASE = -1000,
    ST_ERR_IO = -1001,          /* a read, write or fsync failed */
    ST_ERR_NO_MEMORY = -1002,
    ST_ERR_DECODE = -1003,      /* bytes did not parse */
    ST_ERR_LIMIT = -1004,       /* a configured limit was hit */
    ST_ERR_NOT_FOUND = -1005,
    ST_ERR_CORRUPT = -1006,     /* on-disk data failed a check */
} st_err_t;

/* "OFFSET_OUT_OF_RANGE" etc.; "UNKNOWN(<n>)"-style text is never returned:
 * unknown values give "UNKNOWN_CODE". */
const char *st_err_name(int code);
bool st_err_retriable(int code);

#endif
