/*
 * authcore: second factors: TOTP, recovery codes, QR codes.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_SECOND_FACTOR_H
#define AUTHCORE_SECOND_FACTOR_H

#include "store.h"

/* --------------------------------------------------------- HOTP / TOTP */

#define AC_TOTP_SECRET_LEN 20         /* bytes, SHA-1 block friendly */
#define AC_TOTP_STEP       30
#define AC_TOTP_DIGITS     6
#define AC_TOTP_WINDOW     1          /* steps accepted either side */
#define AC_OTP_MAX         8          /* digits */
#define AC_BASE32_LEN(n)   ((((n) + 4) / 5) * 8)

int ac_totp_secret_new(unsigned char secret[AC_TOTP_SECRET_LEN]);

/* RFC 4648 base32 with padding, as authenticator apps read it. */
int ac_base32_encode(const void *in, size_t len, char *out, size_t outsize);

/* 1 when "code" has the shape of a TOTP code (AC_TOTP_DIGITS digits),
 * so that a second-factor field is read as one; else it is taken for a
 * recovery code. */
int ac_totp_code_shape(const char *code, size_t len);

/* Checks a 6-digit SHA-1 TOTP code at now +/- window steps. On success
 * *step is the accepted time step (now / AC_TOTP_STEP + offset). Steps
 * at or below last_step are refused with AC_ERR_REPLAY, so a caller that
 * stores the accepted step refuses every replay. Wrong code:
 * AC_ERR_MISMATCH; malformed code: AC_ERR_INVALID. */
int ac_totp_verify(const void *secret, size_t len, const char *code,
    size_t codelen, time_t now, unsigned window, int64_t last_step,
    int64_t *step);

/* otpauth://totp/ISSUER:EMAIL?secret=...&issuer=...&algorithm=SHA1&
 * digits=6&period=30, percent-encoded; malloc'd, free() it. */
int ac_otpauth_uri(const char *issuer, const char *email,
    const char *secret_b32, char **uri);

/* ------------------------------------------------------ recovery codes */

#define AC_RECOVERY_COUNT    10
#define AC_RECOVERY_CODE_LEN 11       /* "abcde-fghij", base32 lower */

/* Ten fresh codes (50 random bits each) and their keyed digests. */
int ac_recovery_generate(const ac_keys_t *keys,
    char codes[AC_RECOVERY_COUNT][AC_RECOVERY_CODE_LEN + 1],
    char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1]);

/* Digest of a code as a user types it: case, spaces and dashes ignored;
 * AC_ERR_INVALID when it cannot be a recovery code. */
int ac_recovery_digest(const ac_keys_t *keys, const char *code, size_t len,
    char digest[AC_DIGEST_LEN + 1]);

/* Recovery codes in Redis */

/* EVAL that replaces the account's codes with the given digests. */
int ac_cmd_recovery_replace(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1]);

/* SREM of one digest: replies 1 exactly once per code. */
int ac_cmd_recovery_use(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *digest);

/* SCARD: how many codes remain. */
int ac_cmd_recovery_count(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);

/* ------------------------------------------------------------ QR codes */
/* (qr.c: libqrencode, for the TOTP enrolment page) */

/*
 * Appends to "out" a standalone SVG document of the QR code of "text"
 * (byte mode, error correction level M, smallest version that fits),
 * with a 4-module quiet zone: one <rect> for the light background and
 * one <path> of the dark modules, in module units (viewBox "0 0 N N").
 * No script, style element, link or copy of the text, so it is safe to
 * serve as image/svg+xml under "default-src 'self'". AC_ERR_INVALID for
 * an empty text, AC_ERR_TOO_LONG when it exceeds AC_QR_TEXT_MAX bytes
 * or a QR code's capacity, AC_ERR_NOMEM.
 */
#define AC_QR_TEXT_MAX     1024
#define AC_QR_QUIET        4

int ac_qr_svg(const char *text, ac_buf_t *out);

#endif /* AUTHCORE_SECOND_FACTOR_H */
