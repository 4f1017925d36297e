/*
 * authcore: private helpers shared by the library's source files.
 * Not installed, not part of the public API.
 */

#ifndef AUTHCORE_INTERNAL_H
#define AUTHCORE_INTERNAL_H

#include <stdarg.h>

#include "authcore.h"

/* Sets err->code and a printf-style err->msg (truncated to fit); does
 * nothing when err is NULL. */
void ac_error_set(ac_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lower-case RFC 4648 base32 alphabet, used for account ids and
 * recovery codes. */
extern const char ac_base32_lower[33];

#endif /* AUTHCORE_INTERNAL_H */
