/*
 * authcore: throttling.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_THROTTLE_H
#define AUTHCORE_THROTTLE_H

#include "store.h"

/* --------------------------------------------------------- throttling */
/* (throttle.c: failure counters and growing delays) */

/*
 * Failure counters, hashes in Redis, one per thing an attempt names:
 *   P thr:id:DIGEST  the normalised email (the bytes as typed when they
 *                    are not an email): the same whether or not an
 *                    account exists (password, re-authentication);
 *   P thr:2f:DIGEST  the account id: second-factor codes, whatever the
 *                    sign-in or address they come with;
 *   P thr:tk:DIGEST  a registration token;
 *   P thr:ip:DIGEST  the client address, which is never stored.
 * DIGEST = ac_digest(AC_PURPOSE_THROTTLE). Fields: n attempts counted,
 * u unix second before which attempts are refused. A key lives
 * throttle_window after its last attempt (a day at least for thr:2f).
 *
 * An attempt is counted before it is checked: ac_cmd_throttle_reserve()
 * refuses it while a delay runs on any of its counters, else counts it
 * on all of them at once, in one script, so that parallel attempts get
 * no more checks than sequential ones. Past throttle_free attempts (per
 * IP: AC_THROTTLE_IP_FACTOR times as many, since one address may serve
 * many people) each one sets a delay of 1, 2, 4... seconds, at most
 * throttle_max_delay; times being whole seconds, u is now + delay + 1.
 * A success calls ac_cmd_throttle_release(): the counters of what was
 * proved are deleted, the address gets its attempt back. So a correct
 * password resets thr:id, never thr:2f: only a correct code does.
 */
#define AC_THROTTLE_IP_FACTOR      4
#define AC_THROTTLE_SECOND_WINDOW  86400
#define AC_THROTTLE_MAX            3

typedef enum {
    AC_THR_EMAIL = 0,
    AC_THR_SECOND,
    AC_THR_TOKEN,
    AC_THR_IP
} ac_throttle_kind_t;

typedef struct {
    char                key[AC_THROTTLE_MAX][AC_KEY_MAX];
    ac_throttle_kind_t  kind[AC_THROTTLE_MAX];
    size_t              n;
} ac_throttle_t;

/* Adds one counter to "t" (zeroed by the caller first): the key of
 * "ident" of that kind. AC_ERR_TOO_LONG past AC_THROTTLE_MAX. */
int ac_throttle_add(const ac_config_t *cfg, const ac_keys_t *keys,
    ac_throttle_t *t, ac_throttle_kind_t kind, const char *ident,
    size_t identlen);

/* A fresh "t" with the counters of a password attempt: the email as
 * typed ("ident") and the address "ip" as text. */
int ac_throttle_keys(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *ident, size_t identlen, const char *ip, ac_throttle_t *t);

/* EVAL that replies the seconds left before an attempt is allowed (the
 * attempt is not counted), or 0: the attempt is counted on every
 * counter of "t" and may be checked. */
int ac_cmd_throttle_reserve(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_throttle_t *t, int64_t now);

/* EVAL after a success: deletes every counter of "t" but the address's,
 * which gets the attempt back. Replies 0. */
int ac_cmd_throttle_release(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_throttle_t *t);

/* The seconds replied by the scripts (>= 0). */
int ac_throttle_parse(const struct redisReply *r, int64_t *seconds);

#endif /* AUTHCORE_THROTTLE_H */
