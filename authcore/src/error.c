/*
 * authcore: return codes, error details and process-wide initialisation.
 */

#include <stdarg.h>
#include <stdio.h>

#include <liboath/oath.h>

#include "internal.h"

static const char *ac_errors[] = {
    "success",                                  /* AC_OK */
    "out of memory",                            /* AC_ERR_NOMEM */
    "invalid argument or input",                /* AC_ERR_INVALID */
    "bad configuration",                        /* AC_ERR_CONFIG */
    "file input/output error",                  /* AC_ERR_IO */
    "cryptographic library failure",            /* AC_ERR_CRYPTO */
    "mismatch",                                 /* AC_ERR_MISMATCH */
    "not found",                                /* AC_ERR_NOT_FOUND */
    "already exists",                           /* AC_ERR_EXISTS */
    "too long",                                 /* AC_ERR_TOO_LONG */
    "invalid email address",                    /* AC_ERR_BAD_EMAIL */
    "one-time value used again",                /* AC_ERR_REPLAY */
    "unexpected Redis reply",                   /* AC_ERR_REDIS */
    "unusable key material"                     /* AC_ERR_KEY */
};


const char *
ac_strerror(int rc)
{
    if (rc == AC_REHASH) {
        return "success, password needs rehashing";
    }

    if (rc > 0 || rc < AC_ERR_LAST) {
        return "unknown error";
    }

    return ac_errors[-rc];
}


void
ac_error_set(ac_error_t *err, int code, const char *fmt, ...)
{
    va_list  args;

    if (err == NULL) {
        return;
    }

    err->code = code;

    va_start(args, fmt);
    (void) vsnprintf(err->msg, sizeof(err->msg), fmt, args);
    va_end(args);
}


int
ac_init(void)
{
    if (oath_init() != OATH_OK) {
        return AC_ERR_CRYPTO;
    }

    return AC_OK;
}


void
ac_done(void)
{
    (void) oath_done();
}
