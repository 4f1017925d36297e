/*
 * guichet.conf (ac_config_load), whose only entry point reads a path:
 * one temporary file is made per process (in TMPDIR, /dev/shm when it
 * exists) and rewritten in place for each input. Also ac_parse_duration
 * on the input as a C string.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz.h"


static char  fuzz_path[256];
static int   fuzz_fd = -1;


static void
fuzz_cleanup(void)
{
    if (fuzz_path[0] != '\0') {
        unlink(fuzz_path);
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char  *dir;

    (void) fuzz_keys();

    dir = getenv("TMPDIR");
    if (dir == NULL || *dir == '\0') {
        dir = (access("/dev/shm", W_OK) == 0) ? "/dev/shm" : "/tmp";
    }

    snprintf(fuzz_path, sizeof(fuzz_path), "%s/guichet-fuzz-XXXXXX", dir);

    fuzz_fd = mkstemp(fuzz_path);
    if (fuzz_fd == -1) {
        perror(fuzz_path);
        abort();
    }

    atexit(fuzz_cleanup);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char         *s;
    int64_t       secs;
    ac_error_t    err;
    ac_config_t  *cfg;

    if (size > 64 * 1024) {
        return 0;
    }

    if (ftruncate(fuzz_fd, 0) != 0
        || (size != 0 && pwrite(fuzz_fd, data, size, 0) != (ssize_t) size))
    {
        abort();
    }

    cfg = NULL;
    memset(&err, 0, sizeof(err));

    if (ac_config_load(fuzz_path, &cfg, &err) == AC_OK) {
        if (cfg == NULL || cfg->secret_file == NULL
            || cfg->key_prefix == NULL)
        {
            abort();
        }

        ac_config_free(cfg);

    } else if (cfg != NULL || memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
        abort();
    }

    s = fuzz_strdup(data, size);
    if (s != NULL) {
        (void) ac_parse_duration(s, &secs);
        free(s);
    }

    return 0;
}
