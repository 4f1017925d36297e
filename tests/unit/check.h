/*
 * A minimal unit-test harness: each test binary is a list of TEST()
 * functions run by RUN(); CHECK* record failures with file and line and
 * carry on; SKIP(reason) ends a test that cannot run here (say, no
 * redis-server), which is then reported as skipped, not passed. The
 * binary prints one line per test and ends with "N passed, N failed,
 * N skipped"; its exit status is 1 when anything failed.
 */

#ifndef GUICHET_CHECK_H
#define GUICHET_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int  check_passed, check_failed, check_skipped;
static int  check_current_failed, check_current_skipped;

#define SKIP(reason)                                                         \
    do {                                                                     \
        printf("    skipped: %s\n", reason);                                 \
        check_current_skipped = 1;                                           \
        return;                                                              \
    } while (0)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("    %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,      \
                #cond);                                                      \
            check_current_failed = 1;                                        \
        }                                                                    \
    } while (0)

#define CHECK_INT(got, want)                                                 \
    do {                                                                     \
        long long g_ = (long long) (got), w_ = (long long) (want);           \
        if (g_ != w_) {                                                      \
            printf("    %s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__, \
                #got, g_, w_);                                               \
            check_current_failed = 1;                                        \
        }                                                                    \
    } while (0)

#define CHECK_STR(got, want)                                                 \
    do {                                                                     \
        const char *g_ = (got), *w_ = (want);                                \
        if (g_ == NULL || strcmp(g_, w_) != 0) {                             \
            printf("    %s:%d: %s is \"%s\", want \"%s\"\n", __FILE__,       \
                __LINE__, #got, g_ ? g_ : "(null)", w_);                     \
            check_current_failed = 1;                                        \
        }                                                                    \
    } while (0)

#define TEST(name) static void name(void)

#define RUN(name)                                                            \
    do {                                                                     \
        check_current_failed = 0;                                            \
        check_current_skipped = 0;                                           \
        name();                                                              \
        if (check_current_failed) {                                          \
            check_failed++;                                                  \
            printf("FAIL %s\n", #name);                                      \
        } else if (check_current_skipped) {                                  \
            check_skipped++;                                                 \
            printf("skip %s\n", #name);                                      \
        } else {                                                             \
            check_passed++;                                                  \
            printf("ok   %s\n", #name);                                      \
        }                                                                    \
    } while (0)

#define CHECK_DONE()                                                         \
    (printf("%d passed, %d failed, %d skipped\n", check_passed,             \
            check_failed, check_skipped),                                    \
     check_failed ? 1 : 0)

#endif /* GUICHET_CHECK_H */
