/* Internal: setting the thread's last-error message. */
#ifndef NITI_ERROR_H
#define NITI_ERROR_H
#include "niti.h"

#if defined(__GNUC__)
#define NITI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NITI_PRINTF(a, b)
#endif

/* Sets the message and returns s, so that `return niti_fail(NITI_ERR_IO, "...")` works. */
niti_status niti_fail(niti_status s, const char *fmt, ...) NITI_PRINTF(2, 3);
/* Prepends context to the current message: "ctx: previous message". Returns s. */
niti_status niti_fail_ctx(niti_status s, const char *fmt, ...) NITI_PRINTF(2, 3);
void niti_clear_error(void);

#define NITI_TRY(expr)                                                                             \
    do {                                                                                           \
        niti_status niti_try_s_ = (expr);                                                          \
        if (niti_try_s_ != NITI_OK) return niti_try_s_;                                            \
    } while (0)

#endif
