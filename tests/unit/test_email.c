/*
 * Email addresses (SPEC 6) and roles.
 */

#include "authcore.h"
#include "check.h"


static int
norm(const char *in, char out[AC_EMAIL_MAX + 1])
{
    return ac_email_normalize(in, strlen(in), out);
}


TEST(test_valid)
{
    char  out[AC_EMAIL_MAX + 1];

    CHECK_INT(norm("alice@example.org", out), AC_OK);
    CHECK_STR(out, "alice@example.org");
    CHECK_INT(norm("Alice.Martin+tag@Example.ORG", out), AC_OK);
    CHECK_STR(out, "alice.martin+tag@example.org");
    CHECK_INT(norm("o'hara@sub.example.co.uk", out), AC_OK);
    CHECK_STR(out, "o'hara@sub.example.co.uk");
    CHECK_INT(norm("a@b", out), AC_OK);
    CHECK_STR(out, "a@b");

    /* Only ASCII letters are folded; UTF-8 passes through unchanged. */
    CHECK_INT(norm("\xc3\x89lodie@exemple.fr", out), AC_OK);
    CHECK_STR(out, "\xc3\x89lodie@exemple.fr");

    /* len bounds the input: what follows is not read. */
    CHECK_INT(ac_email_normalize("bob@x.org trailing", 9, out), AC_OK);
    CHECK_STR(out, "bob@x.org");
}


TEST(test_length)
{
    char  in[300], out[AC_EMAIL_MAX + 1];

    /* 254 bytes is the limit: 64 + '@' + 189. */
    memset(in, 'a', sizeof(in));
    in[64] = '@';
    in[65] = 'B';
    memcpy(in + 250, ".org", 4);
    in[254] = '\0';
    CHECK_INT(norm(in, out), AC_OK);
    CHECK_INT(strlen(out), 254);
    CHECK(out[65] == 'b');

    in[254] = 'g';
    in[255] = '\0';
    CHECK_INT(norm(in, out), AC_ERR_BAD_EMAIL);
    CHECK_STR(out, "");
    CHECK_INT(ac_email_normalize(in, 290, out), AC_ERR_BAD_EMAIL);
}


TEST(test_invalid)
{
    size_t  i;
    char    out[AC_EMAIL_MAX + 1];
    static const char  *bad[] = {
        "", "@", "alice", "alice@", "@example.org", "a@b@example.org",
        "alice@@example.org", "alice@example.org\r\nBcc: x@evil.org",
        "alice@example.org\n", "alice\r@example.org", "al ice@example.org",
        " alice@example.org", "alice@example.org ", "alice\t@example.org",
        "alice\x01@example.org", "alice\x7f@example.org",
        "alice@exa\x1bmple.org", "alice\xc2\x85@example.org",
        "<alice@example.org>", "Alice <alice@example.org>",
        "\"al ice\"@example.org", "alice@[127.0.0.1]", "a,b@example.org",
        "a;b@example.org", "a:b@example.org", "a\\b@example.org",
        "alice@.example.org", "alice@example.org.", "alice@example..org",
        "alice@."
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (norm(bad[i], out) != AC_ERR_BAD_EMAIL) {
            printf("    accepted: \"%s\"\n", bad[i]);
            check_current_failed = 1;
        }
    }

    /* A NUL inside the given length. */
    CHECK_INT(ac_email_normalize("alice\0@example.org", 18, out),
              AC_ERR_BAD_EMAIL);
    CHECK_INT(ac_email_normalize("alice@example.org\0", 18, out),
              AC_ERR_BAD_EMAIL);
    CHECK_INT(ac_email_normalize(NULL, 5, out), AC_ERR_BAD_EMAIL);
}


TEST(test_roles)
{
    char      out[AC_ROLES_MAX];
    unsigned  r;

    CHECK_INT(ac_role_parse("user", 4, &r), AC_OK);
    CHECK_INT(r, AC_ROLE_USER);
    CHECK_INT(ac_role_parse("security", 8, &r), AC_OK);
    CHECK_INT(r, AC_ROLE_SECURITY);
    CHECK_INT(ac_role_parse("admin", 5, &r), AC_OK);
    CHECK_INT(r, AC_ROLE_ADMIN);
    CHECK_INT(ac_role_parse("adminx", 5, &r), AC_OK);

    CHECK_INT(ac_role_parse("Admin", 5, &r), AC_ERR_INVALID);
    CHECK_INT(ac_role_parse("root", 4, &r), AC_ERR_INVALID);
    CHECK_INT(ac_role_parse("admi", 4, &r), AC_ERR_INVALID);
    CHECK_INT(ac_role_parse("", 0, &r), AC_ERR_INVALID);
    CHECK_INT(ac_role_parse("admin\0", 6, &r), AC_ERR_INVALID);

    CHECK_INT(ac_roles_parse("user,security", 13, &r), AC_OK);
    CHECK_INT(r, AC_ROLE_USER | AC_ROLE_SECURITY);
    CHECK_INT(ac_roles_parse("admin, user", 11, &r), AC_OK);
    CHECK_INT(r, AC_ROLE_USER | AC_ROLE_ADMIN);
    CHECK_INT(ac_roles_parse("user,user", 9, &r), AC_OK);
    CHECK_INT(r, AC_ROLE_USER);
    CHECK_INT(ac_roles_parse("", 0, &r), AC_OK);
    CHECK_INT(r, 0);

    r = 99;
    CHECK_INT(ac_roles_parse("user,", 5, &r), AC_ERR_INVALID);
    CHECK_INT(ac_roles_parse(",user", 5, &r), AC_ERR_INVALID);
    CHECK_INT(ac_roles_parse("user,,admin", 11, &r), AC_ERR_INVALID);
    CHECK_INT(ac_roles_parse("user,root", 9, &r), AC_ERR_INVALID);
    CHECK_INT(ac_roles_parse("user;admin", 10, &r), AC_ERR_INVALID);
    CHECK_INT(r, 99);

    ac_roles_format(AC_ROLE_USER | AC_ROLE_SECURITY | AC_ROLE_ADMIN, out);
    CHECK_STR(out, "user,security,admin");
    CHECK(strlen(out) < AC_ROLES_MAX);
    ac_roles_format(AC_ROLE_ADMIN | AC_ROLE_USER, out);
    CHECK_STR(out, "user,admin");
    ac_roles_format(0, out);
    CHECK_STR(out, "");
    ac_roles_format(0x80 | AC_ROLE_SECURITY, out);
    CHECK_STR(out, "security");

    /* Round trip. */
    for (r = 0; r < 8; r++) {
        unsigned  back;

        ac_roles_format(r, out);
        CHECK_INT(ac_roles_parse(out, strlen(out), &back), AC_OK);
        CHECK_INT(back, r);
    }
}


int
main(void)
{
    RUN(test_valid);
    RUN(test_length);
    RUN(test_invalid);
    RUN(test_roles);

    return CHECK_DONE();
}
