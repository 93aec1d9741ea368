#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NITI_ERRMSG_MAX 16384

static _Thread_local char last_error[NITI_ERRMSG_MAX];

const char *niti_last_error(void) { return last_error; }

void niti_clear_error(void) { last_error[0] = 0; }

niti_status niti_fail(niti_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

niti_status niti_fail_ctx(niti_status s, const char *fmt, ...)
{
    char prev[NITI_ERRMSG_MAX];
    memcpy(prev, last_error, sizeof prev);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    size_t used = (size_t)n, cap = sizeof last_error;
    if (used + 2 < cap && prev[0]) {
        size_t room = cap - used - 3, len = strlen(prev);
        if (len > room) len = room;
        memcpy(last_error + used, ": ", 2);
        memcpy(last_error + used + 2, prev, len);
        last_error[used + 2 + len] = 0;
    }
    return s;
}

const char *niti_status_name(niti_status s)
{
    switch (s) {
    case NITI_OK: return "ok";
    case NITI_ERR_INVALID: return "invalid argument";
    case NITI_ERR_IO: return "i/o error";
    case NITI_ERR_FORMAT: return "format error";
    case NITI_ERR_NOMEM: return "out of memory";
    case NITI_ERR_DEVICE: return "device error";
    case NITI_ERR_UNSUPPORTED: return "unsupported";
    case NITI_ERR_RANGE: return "out of range";
    case NITI_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

const char *niti_version(void) { return NITI_VERSION_STRING; }

size_t niti_dtype_size(niti_dtype t)
{
    switch (t) {
    case NITI_I8: case NITI_U8: return 1;
    case NITI_I16: return 2;
    case NITI_I32: case NITI_F32: return 4;
    case NITI_I64: return 8;
    }
    return 0;
}

const char *niti_dtype_name(niti_dtype t)
{
    switch (t) {
    case NITI_I8: return "I8";
    case NITI_U8: return "U8";
    case NITI_I16: return "I16";
    case NITI_I32: return "I32";
    case NITI_I64: return "I64";
    case NITI_F32: return "F32";
    }
    return "?";
}
