#include "common/errors.h"

const char *st_err_name(int code) {
    switch (code) {
#define ST_ERROR_CODE(c, name, retriable) case c: return #name;
#include "common/errors.def"
#undef ST_ERROR_CODE
    case ST_ERR_IO: return "IO_ERROR";
    case ST_ERR_NO_MEMORY: return "NO_MEMORY";
    case ST_ERR_DECODE: return "DECODE_ERROR";
    case ST_ERR_LIMIT: return "LIMIT_EXCEEDED";
    case ST_ERR_NOT_FOUND: return "NOT_FOUND";
    case ST_ERR_CORRUPT: return "CORRUPT_DATA";
    default: return "UNKNOWN_CODE";
    }
}

bool st_err_retriable(int code) {
    switch (code) {
#define ST_ERROR_CODE(c, name, retriable) case c: return retriable;
#include "common/errors.def"
#undef ST_ERROR_CODE
    default: return false;
    }
}
