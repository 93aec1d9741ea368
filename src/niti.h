/* niti: integer-only neural network training (NITI, arXiv 2009.13108) on OpenCL devices.
 *
 * This is the only header a user includes. Every function returns a niti_status; on failure
 * niti_last_error() holds a message with context (for OpenCL, the device and the build log). */
#ifndef NITI_H
#define NITI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NITI_VERSION_MAJOR 0
#define NITI_VERSION_MINOR 1
#define NITI_VERSION_PATCH 0
#define NITI_VERSION_STRING "0.1.0"

typedef enum niti_status {
    NITI_OK = 0,
    NITI_ERR_INVALID = 1,     /* bad argument or configuration */
    NITI_ERR_IO = 2,          /* a file could not be opened, read or written */
    NITI_ERR_FORMAT = 3,      /* a file or string is malformed */
    NITI_ERR_NOMEM = 4,       /* host or device allocation failed */
    NITI_ERR_DEVICE = 5,      /* an OpenCL call or kernel build failed */
    NITI_ERR_UNSUPPORTED = 6, /* not available on this build/device */
    NITI_ERR_RANGE = 7,       /* a value left the range the contract allows */
    NITI_ERR_INTERRUPTED = 8  /* stopped on request */
} niti_status;

/* Element types of tensors (safetensors names in brackets). */
typedef enum niti_dtype {
    NITI_I8 = 0,  /* I8 */
    NITI_U8 = 1,  /* U8 */
    NITI_I16 = 2, /* I16 */
    NITI_I32 = 3, /* I32 */
    NITI_I64 = 4, /* I64 */
    NITI_F32 = 5  /* F32 */
} niti_dtype;

size_t niti_dtype_size(niti_dtype t);
const char *niti_dtype_name(niti_dtype t);

/* Requantisation rule sets (contract section 4). */
typedef enum niti_rule { NITI_RULE_NITI21 = 0, NITI_RULE_NITI20 = 1 } niti_rule;
/* Rounding of a right shift (contract section 3). */
typedef enum niti_rounding { NITI_ROUND = 0, NITI_PSR = 1 } niti_rounding;

/* The message of the last failure on this thread ("" if none). */
const char *niti_last_error(void);
const char *niti_status_name(niti_status s);
const char *niti_version(void);

#ifdef __cplusplus
}
#endif
#endif
