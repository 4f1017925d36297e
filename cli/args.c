/*
 * guichetctl: what every command shares and nothing else depends on:
 * failure messages, options once parsed, email arguments and passwords
 * read from the terminal or stdin.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "guichetctl.h"


int
ctl_fail(int status, const char *fmt, ...)
{
    va_list  ap;

    fputs("guichetctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);

    return status;
}


const ctl_opt_t *
ctl_opt(const ctl_t *ctl, const char *name)
{
    size_t  i;

    for (i = 0; i < ctl->args.nopts; i++) {
        if (strcmp(ctl->args.opts[i].name, name) == 0) {
            return &ctl->args.opts[i];
        }
    }

    return NULL;
}


int
ctl_has_opt(const ctl_t *ctl, const char *name)
{
    return ctl_opt(ctl, name) != NULL;
}


int
ctl_email_arg(const char *arg, char email[AC_EMAIL_MAX + 1])
{
    if (ac_email_normalize(arg, strlen(arg), email) != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "invalid email address");
    }

    return CTL_EXIT_OK;
}


/*
 * The first line of stdin, without its line end. stdin is unbuffered so
 * that no copy of the password is left in a stdio buffer; on a terminal
 * echo is turned off.
 */
int
ctl_read_password(char *buf, size_t size, size_t *len)
{
    int             c, tty, status;
    size_t          n;
    struct termios  old, raw;

    setvbuf(stdin, NULL, _IONBF, 0);

    tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        raw = old;
        raw.c_lflag &= ~(tcflag_t) ECHO;
        fputs("Password: ", stderr);
        fflush(stderr);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
    }

    n = 0;
    status = CTL_EXIT_OK;

    for ( ;; ) {
        c = fgetc(stdin);
        if (c == EOF || c == '\n') {
            break;
        }

        if (n + 1 == size) {
            status = CTL_EXIT_FAIL;
            continue;
        }

        buf[n++] = (char) c;
    }

    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }

    if (n > 0 && buf[n - 1] == '\r') {
        n--;
    }

    buf[n] = '\0';
    *len = n;

    if (status != CTL_EXIT_OK) {
        ac_cleanse(buf, size);
        return ctl_fail(CTL_EXIT_FAIL, "password too long (at most %d"
                        " bytes)", AC_PASSWORD_MAX);
    }

    if (n == 0) {
        return ctl_fail(CTL_EXIT_FAIL, "no password on standard input");
    }

    return CTL_EXIT_OK;
}
