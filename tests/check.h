/* A tiny test harness: CHECK records a failure with file:line and goes on; the test program
 * returns check_report(), which prints "N passed, M failed" and fails if anything failed. */
#ifndef NITI_TEST_CHECK_H
#define NITI_TEST_CHECK_H
#include <stdio.h>

static int check_passed_, check_failed_;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) check_passed_++;                                                                 \
        else {                                                                                     \
            check_failed_++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ == check_b_) check_passed_++;                                                 \
        else {                                                                                     \
            check_failed_++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = %lld, %s = %lld\n", __FILE__, __LINE__,  \
                    #a, check_a_, #b, check_b_);                                                   \
        }                                                                                          \
    } while (0)

static inline int check_report(const char *name)
{
    printf("%s: %d checks passed, %d failed\n", name, check_passed_, check_failed_);
    return check_failed_ ? 1 : (check_passed_ ? 0 : 1); /* a test with no checks fails */
}
#endif
