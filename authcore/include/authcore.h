/*
 * authcore: Guichet's security primitives, shared by the nginx module and
 * guichetctl.
 *
 * Conventions:
 *   - every function returns AC_OK (0) on success, a negative AC_ERR_*
 *     code on failure, or a positive informational code (AC_REHASH);
 *   - functions that can explain a failure take a caller-owned
 *     ac_error_t, which may be NULL;
 *   - the library never prints, logs, exits or blocks on the network;
 *     the only files it reads are the configuration, the secret file and
 *     the files those name;
 *   - fixed-size buffers are declared with their *_MAX / *_LEN macros;
 *     secrets are wiped with ac_cleanse() before memory is released.
 *
 * Thread safety: after ac_init(), every function is safe to call from
 * several threads on distinct objects; ac_keys_t and ac_config_t are
 * read-only after loading and may be shared.
 *
 * This header is the library's whole public API; it includes one header
 * per concept, in authcore/ next to it, which are not included alone:
 *   base.h           return codes, ac_error_t, ac_buf_t, small helpers
 *   config.h         guichet.conf
 *   crypto.h         the secret file, derived keys, digests, sealing
 *   store.h          the Redis key schema, ac_cmd_t, small replies
 *   password.h       argon2id password hashes
 *   second_factor.h  TOTP, recovery codes, QR codes
 *   account.h        emails, roles, the account record
 *   web.h            origins, return_to, forms, CSRF, templates, cookies
 *   partner.h        partner keys, assertions, partner trust (links)
 *   session.h        sessions and pending second-factor states
 *   throttle.h       failure counters and delays
 *   invitation.h     partner invitations, registration tokens
 *   privacy.h        erasure, retention, restriction, rename, export
 *   log.h            the connection log, log keys, filters, anomalies
 *   mail.h           mail settings, messages, the queue, reset tokens
 *   webauthn.h       passkeys: registration and sign-in checks, storage
 * What only the library itself uses is in authcore/src/internal.h.
 */

#ifndef AUTHCORE_H
#define AUTHCORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "authcore/base.h"
#include "authcore/config.h"
#include "authcore/crypto.h"
#include "authcore/store.h"
#include "authcore/password.h"
#include "authcore/second_factor.h"
#include "authcore/account.h"
#include "authcore/web.h"
#include "authcore/partner.h"
#include "authcore/session.h"
#include "authcore/throttle.h"
#include "authcore/invitation.h"
#include "authcore/privacy.h"
#include "authcore/log.h"
#include "authcore/mail.h"
#include "authcore/webauthn.h"

#ifdef __cplusplus
}
#endif

#endif /* AUTHCORE_H */
