/* The conformance runner: golden test vectors (shared/golden, one safetensors file per case)
 * fed through a backend's ops and compared with exact integer equality (golden/README.md).
 *
 * Kinds: round, requant, gradquant, loss, conv, linear, pool, relu, net. A case passes when
 * every output of its kind is present and equal. An unknown kind, a missing tensor or metadata
 * entry, a malformed file or an op that returns an error is a failure of that case, never a
 * skip. Output: one line per case, "PASS <name>" or "FAIL <name>: <what differs>" (a failing
 * case may print several FAIL lines, one per differing tensor or scalar); <name> is the file
 * name without ".safetensors". */
#ifndef NITI_CONFORMANCE_H
#define NITI_CONFORMANCE_H

#include <stdio.h>

#include "core/backend.h"
#include "niti.h"
#include "io/safetensors.h"

enum {
    NITI_CONF_QUIET = 1 /* print FAIL lines only */
};

/* Runs one case file, or every *.safetensors file of a folder (not recursive, sorted by name).
 * Adds to *passed / *failed (which the caller initialises). Returns NITI_OK when the cases ran,
 * whatever their outcome; NITI_ERR_IO if path does not exist, cannot be read, or is a folder
 * without any case file (nothing was checked). */
niti_status niti_conformance_run(niti_backend *be, const char *path, FILE *out, int *passed,
                                 int *failed);
niti_status niti_conformance_run_ex(niti_backend *be, const char *path, FILE *out, int flags,
                                    int *passed, int *failed);

/* Runs one already-loaded case (name is used in the output). Returns 1 if it passed. */
int niti_conformance_case(niti_backend *be, const niti_st *st, const char *name, FILE *out,
                          int flags);

#endif
