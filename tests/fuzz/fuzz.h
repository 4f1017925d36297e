/*
 * Shared by the libFuzzer targets of tests/fuzz: fixed keys and a
 * configuration made once per process, so that every input is judged
 * by the same state, and a NUL-terminated copy of the input for the
 * functions that take C strings.
 */

#ifndef GUICHET_FUZZ_H
#define GUICHET_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "internal.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* The secret behind fuzz_keys(); seeds with sealed values use it. */
#define FUZZ_SECRET  "guichet fuzzing secret, 32 bytes or more, fixed"

static const char  *fuzz_allowed[] = {
    "https://app.example.org",
    "https://admin.example.org:8443",
    "http://127.0.0.1:8080",
};


__attribute__((unused)) static ac_keys_t *
fuzz_keys(void)
{
    static ac_keys_t  *keys;

    if (keys == NULL) {
        if (ac_init() != AC_OK
            || ac_keys_from_secret((const unsigned char *) FUZZ_SECRET,
                                   strlen(FUZZ_SECRET), &keys)
               != AC_OK)
        {
            abort();
        }
    }

    return keys;
}


__attribute__((unused)) static const ac_config_t *
fuzz_config(void)
{
    static ac_config_t  cfg;

    if (cfg.key_prefix == NULL) {
        cfg.key_prefix = "guichet:";
        cfg.audience = "https://gw.example.org";
        cfg.allowed_redirect_hosts = (char **) fuzz_allowed;
        cfg.nallowed_redirect_hosts = sizeof(fuzz_allowed)
                                      / sizeof(fuzz_allowed[0]);
        cfg.session_idle = 1800;
        cfg.session_max = 43200;
        cfg.throttle_free = 5;
        cfg.throttle_window = 900;
        cfg.throttle_max_delay = 900;
    }

    return &cfg;
}


/* A malloc'd copy of the input with a NUL after it; NULL on no memory. */
__attribute__((unused)) static char *
fuzz_strdup(const uint8_t *data, size_t size)
{
    char  *s;

    s = malloc(size + 1);
    if (s != NULL) {
        if (size != 0) {
            memcpy(s, data, size);
        }

        s[size] = '\0';
    }

    return s;
}

#endif /* GUICHET_FUZZ_H */
