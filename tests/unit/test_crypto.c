/*
 * Keys, digests, sealing, the secret file, base64url, tokens, error
 * strings.
 */

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"

static char  tmpdir[64];
static char  path[128];

static unsigned char  secret64[64];


static ac_keys_t *
keys_for(unsigned char first)
{
    unsigned char  s[AC_SECRET_MIN];
    ac_keys_t     *k;

    memset(s, first, sizeof(s));
    k = NULL;
    if (ac_keys_from_secret(s, sizeof(s), &k) != AC_OK) {
        return NULL;
    }

    return k;
}


static int
write_file(const char *name, const void *data, size_t len, mode_t mode)
{
    int  fd;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    unlink(path);

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd == -1) {
        return -1;
    }

    if (write(fd, data, len) != (ssize_t) len || fchmod(fd, mode) == -1) {
        close(fd);
        return -1;
    }

    return close(fd);
}


static int
same_keys(const ac_keys_t *a, const ac_keys_t *b)
{
    unsigned char  ma[AC_MAC_LEN], mb[AC_MAC_LEN];
    int            p;

    for (p = 0; p < AC_PURPOSE_COUNT; p++) {
        if (ac_mac(a, p, "x", 1, ma) != AC_OK
            || ac_mac(b, p, "x", 1, mb) != AC_OK
            || memcmp(ma, mb, AC_MAC_LEN) != 0)
        {
            return 0;
        }
    }

    return 1;
}


TEST(test_keys_per_purpose_differ)
{
    int            i, j;
    ac_keys_t     *k;
    unsigned char  mac[AC_PURPOSE_COUNT][AC_MAC_LEN];

    k = keys_for(7);
    CHECK(k != NULL);
    if (k == NULL) {
        return;
    }

    for (i = 0; i < AC_PURPOSE_COUNT; i++) {
        CHECK_INT(ac_mac(k, i, "same data", 9, mac[i]), AC_OK);
    }

    for (i = 0; i < AC_PURPOSE_COUNT; i++) {
        for (j = i + 1; j < AC_PURPOSE_COUNT; j++) {
            CHECK(memcmp(mac[i], mac[j], AC_MAC_LEN) != 0);
        }
    }

    CHECK_INT(ac_mac(k, AC_PURPOSE_COUNT, "x", 1, mac[0]), AC_ERR_INVALID);
    CHECK_INT(ac_mac(k, (ac_purpose_t) -1, "x", 1, mac[0]), AC_ERR_INVALID);
    CHECK_INT(ac_mac(NULL, AC_PURPOSE_LOG, "x", 1, mac[0]), AC_ERR_INVALID);

    ac_keys_free(k);
}


TEST(test_keys_deterministic)
{
    ac_keys_t  *a, *b, *c;

    a = keys_for(1);
    b = keys_for(1);
    c = keys_for(2);
    CHECK(a != NULL && b != NULL && c != NULL);
    if (a && b && c) {
        CHECK(same_keys(a, b));
        CHECK(!same_keys(a, c));
    }

    ac_keys_free(a);
    ac_keys_free(b);
    ac_keys_free(c);
    ac_keys_free(NULL);
}


/* Expected values computed independently with Python's cryptography:
 * HKDF-SHA256(secret = 00..3f, salt "guichet authcore", info
 * "guichet v1 <purpose>"), then HMAC-SHA256("abc"). Stored digests
 * depend on these staying the same. */
TEST(test_keys_known_answer)
{
    char           digest[AC_DIGEST_LEN + 1];
    ac_keys_t     *k;
    unsigned char  mac[AC_MAC_LEN];
    static const unsigned char  want[AC_MAC_LEN] = {
        0x47, 0xb3, 0x7e, 0xc6, 0xeb, 0x90, 0x73, 0xf3,
        0x8e, 0x28, 0xdd, 0x2e, 0xab, 0xf8, 0x4f, 0x82,
        0x6d, 0x10, 0x00, 0xbe, 0x8b, 0xe8, 0x7b, 0xd5,
        0xfd, 0x2b, 0xc3, 0xfa, 0x6e, 0xe8, 0x4e, 0xfa
    };

    k = NULL;
    CHECK_INT(ac_keys_from_secret(secret64, sizeof(secret64), &k), AC_OK);
    if (k == NULL) {
        return;
    }

    CHECK_INT(ac_mac(k, AC_PURPOSE_SESSION, "abc", 3, mac), AC_OK);
    CHECK(memcmp(mac, want, AC_MAC_LEN) == 0);

    CHECK_INT(ac_digest(k, AC_PURPOSE_SESSION, "abc", 3, digest), AC_OK);
    CHECK_STR(digest, "R7N-xuuQc_OOKN0uq_hPgg");
    CHECK_INT(ac_digest(k, AC_PURPOSE_RECOVERY, "abc", 3, digest), AC_OK);
    CHECK_STR(digest, "zvS-7ZG76VviVaVekX5RIw");

    ac_keys_free(k);
}


TEST(test_keys_from_secret_bounds)
{
    ac_keys_t      *k;
    unsigned char  *big;

    k = (ac_keys_t *) 1;
    CHECK_INT(ac_keys_from_secret(secret64, AC_SECRET_MIN - 1, &k),
              AC_ERR_KEY);
    CHECK(k == NULL);
    CHECK_INT(ac_keys_from_secret(NULL, 64, &k), AC_ERR_KEY);
    CHECK_INT(ac_keys_from_secret(secret64, 64, NULL), AC_ERR_INVALID);

    big = calloc(1, AC_SECRET_MAX + 1);
    CHECK(big != NULL);
    if (big) {
        CHECK_INT(ac_keys_from_secret(big, AC_SECRET_MAX + 1, &k),
                  AC_ERR_KEY);
        CHECK_INT(ac_keys_from_secret(big, AC_SECRET_MAX, &k), AC_OK);
        ac_keys_free(k);
        free(big);
    }
}


TEST(test_seal_round_trip)
{
    char           s1[AC_SEALED_LEN(20) + 1], s2[AC_SEALED_LEN(20) + 1];
    char           e[AC_SEALED_LEN(0) + 1];
    size_t         n;
    ac_keys_t     *k;
    unsigned char  plain[20], out[64];

    k = keys_for(3);
    CHECK(k != NULL);
    if (k == NULL) {
        return;
    }

    memcpy(plain, "12345678901234567890", 20);

    CHECK_INT(ac_seal(k, plain, 20, "acct1", s1, sizeof(s1)), AC_OK);
    CHECK_INT(strlen(s1), AC_SEALED_LEN(20));
    CHECK(strncmp(s1, "v1.", 3) == 0);
    CHECK(memmem(s1, strlen(s1), "MTIzNDU2Nzg5", 12) == NULL);

    CHECK_INT(ac_unseal(k, s1, "acct1", out, sizeof(out), &n), AC_OK);
    CHECK_INT(n, 20);
    CHECK(memcmp(out, plain, 20) == 0);

    /* A fresh nonce each time. */
    CHECK_INT(ac_seal(k, plain, 20, "acct1", s2, sizeof(s2)), AC_OK);
    CHECK(strcmp(s1, s2) != 0);

    /* Exactly as large as needed, not smaller. */
    CHECK_INT(ac_unseal(k, s1, "acct1", out, 20, &n), AC_OK);
    CHECK_INT(ac_unseal(k, s1, "acct1", out, 19, &n), AC_ERR_TOO_LONG);
    CHECK_INT(ac_seal(k, plain, 20, "acct1", s2, sizeof(s2) - 1),
              AC_ERR_TOO_LONG);

    /* Empty plaintext, and a NULL aad meaning "". */
    CHECK_INT(ac_seal(k, "", 0, NULL, e, sizeof(e)), AC_OK);
    CHECK_INT(ac_unseal(k, e, "", out, 0, &n), AC_OK);
    CHECK_INT(n, 0);

    ac_keys_free(k);
}


/* Sealed independently with Python's AESGCM under the HKDF sealing key
 * of secret 00..3f: nonce 01 * 12, AAD "v1." + aad. */
TEST(test_unseal_known_answer)
{
    size_t         n;
    ac_keys_t     *k;
    unsigned char  out[32];
    static const char  sealed[] =
        "v1.AQEBAQEBAQEBAQEBE9TdJTcdE9aXVFtQFcybYPsuyEpMw_ESrYpaMEz8J1ofNC1L";

    k = NULL;
    CHECK_INT(ac_keys_from_secret(secret64, sizeof(secret64), &k), AC_OK);
    if (k == NULL) {
        return;
    }

    CHECK_INT(ac_unseal(k, sealed, "abcdefghijklmnop", out, sizeof(out), &n),
              AC_OK);
    CHECK_INT(n, 20);
    CHECK(memcmp(out, "12345678901234567890", 20) == 0);

    ac_keys_free(k);
}


/*
 * The cipher of the log's sealed fields: a known answer computed with
 * the AAD "guichet-log:" + account in one piece opens with it given in
 * two; anything else is refused and leaves no plaintext.
 */
TEST(test_gcm_known_answer)
{
    size_t         i;
    unsigned char  key[32], raw[50], plain[32], sealed[50];
    static const unsigned char  vector[50] =
        "\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f\x3b\x7e\xbf\x0a"
        "\x1c\x8d\x76\xee\x5b\x10\x2c\x87\xb4\x04\x06\xdd\x24\xab\x63\x66"
        "\xef\x1f\xe8\x37\x54\xf4\xf6\x5a\x3c\xfb\xfe\x65\x58\xd1\xbb\x6f"
        "\x5d\x46";

    for (i = 0; i < sizeof(key); i++) {
        key[i] = (unsigned char) i;
    }

    memset(plain, 0, sizeof(plain));
    CHECK_INT(ac_gcm_open(key, "guichet-log:", 12, "abcdefghijklmnop", 16,
                          vector, sizeof(vector), plain), AC_OK);
    CHECK(memcmp(plain, "sealed personal fields", 22) == 0);

    memset(plain, 0, sizeof(plain));
    CHECK_INT(ac_gcm_open(key, "guichet-log:abcdefghijklmnop", 28, "", 0,
                          vector, sizeof(vector), plain), AC_OK);
    CHECK(memcmp(plain, "sealed personal fields", 22) == 0);

    /* another account, a flipped tag bit, a short blob */
    memset(plain, 0, sizeof(plain));
    CHECK_INT(ac_gcm_open(key, "guichet-log:", 12, "abcdefghijklmnoq", 16,
                          vector, sizeof(vector), plain), AC_ERR_MISMATCH);
    CHECK(memcmp(plain, "sealed", 6) != 0);
    memcpy(raw, vector, sizeof(raw));
    raw[49] ^= 1;
    CHECK_INT(ac_gcm_open(key, "guichet-log:", 12, "abcdefghijklmnop", 16,
                          raw, sizeof(raw), plain), AC_ERR_MISMATCH);
    CHECK_INT(ac_gcm_open(key, "", 0, "", 0, vector, 27, plain),
              AC_ERR_MISMATCH);

    /* sealing draws a fresh nonce; what it seals opens */
    CHECK_INT(ac_gcm_seal(key, "guichet-log:", 12, "abcdefghijklmnop", 16,
                          (const unsigned char *) "sealed personal fields",
                          22, sealed), AC_OK);
    CHECK(memcmp(sealed, vector, 12) != 0);
    memset(plain, 0, sizeof(plain));
    CHECK_INT(ac_gcm_open(key, "guichet-log:abcdefghijklmnop", 28, "", 0,
                          sealed, sizeof(sealed), plain), AC_OK);
    CHECK(memcmp(plain, "sealed personal fields", 22) == 0);
}


TEST(test_seal_tampered)
{
    char           s[AC_SEALED_LEN(20) + 1], t[AC_SEALED_LEN(20) + 8];
    size_t         i, len, n, fails;
    ac_keys_t     *k, *other;
    unsigned char  out[64];

    k = keys_for(4);
    other = keys_for(5);
    CHECK(k != NULL && other != NULL);
    if (k == NULL || other == NULL) {
        ac_keys_free(k);
        ac_keys_free(other);
        return;
    }

    CHECK_INT(ac_seal(k, "12345678901234567890", 20, "acct1", s, sizeof(s)),
              AC_OK);
    len = strlen(s);

    /* Every character after the version: nonce, ciphertext and tag. */
    fails = 0;
    for (i = 3; i < len; i++) {
        memcpy(t, s, len + 1);
        t[i] = (t[i] == 'A') ? 'B' : 'A';
        if (ac_unseal(k, t, "acct1", out, sizeof(out), &n)
            != AC_ERR_MISMATCH)
        {
            fails++;
            printf("    position %zu accepted\n", i);
        }
    }
    CHECK_INT(fails, 0);

    /* The version, truncation, extension, garbage. */
    memcpy(t, s, len + 1);
    t[1] = '2';
    CHECK_INT(ac_unseal(k, t, "acct1", out, sizeof(out), &n),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_unseal(k, s + 3, "acct1", out, sizeof(out), &n),
              AC_ERR_MISMATCH);

    memcpy(t, s, len + 1);
    t[len - 1] = '\0';
    CHECK_INT(ac_unseal(k, t, "acct1", out, sizeof(out), &n),
              AC_ERR_MISMATCH);
    t[len - 4] = '\0';
    CHECK_INT(ac_unseal(k, t, "acct1", out, sizeof(out), &n),
              AC_ERR_MISMATCH);

    memcpy(t, s, len + 1);
    strcat(t, "AAAA");
    CHECK_INT(ac_unseal(k, t, "acct1", out, sizeof(out), &n),
              AC_ERR_MISMATCH);

    memcpy(t, s, len + 1);
    t[10] = '+';
    CHECK_INT(ac_unseal(k, t, "acct1", out, sizeof(out), &n),
              AC_ERR_MISMATCH);

    CHECK_INT(ac_unseal(k, "", "acct1", out, sizeof(out), &n),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_unseal(k, "v1.", "acct1", out, sizeof(out), &n),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_unseal(k, "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        "acct1", out, sizeof(out), &n), AC_ERR_MISMATCH);

    /* Another owner, another key. */
    CHECK_INT(ac_unseal(k, s, "acct2", out, sizeof(out), &n),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_unseal(k, s, "acct1x", out, sizeof(out), &n),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_unseal(k, s, "", out, sizeof(out), &n), AC_ERR_MISMATCH);
    CHECK_INT(ac_unseal(other, s, "acct1", out, sizeof(out), &n),
              AC_ERR_MISMATCH);

    /* And the original still opens. */
    CHECK_INT(ac_unseal(k, s, "acct1", out, sizeof(out), &n), AC_OK);

    ac_keys_free(k);
    ac_keys_free(other);
}


TEST(test_secret_file)
{
    int            fd;
    char           p[160];
    struct stat    st;
    ac_keys_t     *k, *k2;
    ac_error_t     err;
    unsigned char  buf[AC_SECRET_NEW + 1];

    snprintf(p, sizeof(p), "%s/secret", tmpdir);
    unlink(p);

    memset(&err, 0, sizeof(err));
    CHECK_INT(ac_secret_create(p, &err), AC_OK);
    CHECK_INT(stat(p, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0600);
    CHECK_INT(st.st_size, AC_SECRET_NEW);

    /* Never overwritten. */
    CHECK_INT(ac_secret_create(p, &err), AC_ERR_EXISTS);
    CHECK_INT(err.code, AC_ERR_EXISTS);
    CHECK(strstr(err.msg, p) != NULL);

    k = NULL;
    CHECK_INT(ac_keys_load(p, &k, &err), AC_OK);
    CHECK(k != NULL);

    /* The keys are those of the file's bytes. */
    fd = open(p, O_RDONLY);
    CHECK(fd != -1);
    CHECK_INT(read(fd, buf, sizeof(buf)), AC_SECRET_NEW);
    close(fd);
    k2 = NULL;
    CHECK_INT(ac_keys_from_secret(buf, AC_SECRET_NEW, &k2), AC_OK);
    if (k && k2) {
        CHECK(same_keys(k, k2));
    }
    ac_keys_free(k);
    ac_keys_free(k2);

    /* A second secret is a different one. */
    snprintf(p, sizeof(p), "%s/secret2", tmpdir);
    unlink(p);
    CHECK_INT(ac_secret_create(p, NULL), AC_OK);
    fd = open(p, O_RDONLY);
    CHECK(fd != -1);
    {
        unsigned char  b2[AC_SECRET_NEW];

        CHECK_INT(read(fd, b2, sizeof(b2)), AC_SECRET_NEW);
        CHECK(memcmp(b2, buf, AC_SECRET_NEW) != 0);
    }
    close(fd);

    CHECK_INT(ac_secret_create("", NULL), AC_ERR_INVALID);
    snprintf(p, sizeof(p), "%s/no/such/dir", tmpdir);
    CHECK_INT(ac_secret_create(p, NULL), AC_ERR_IO);
}


TEST(test_secret_file_refused)
{
    char           p[160];
    ac_keys_t     *k;
    ac_error_t     err;
    unsigned char  big[AC_SECRET_MAX + 1];

    memset(big, 0xa5, sizeof(big));

    k = NULL;
    memset(&err, 0, sizeof(err));

    /* Short. */
    CHECK_INT(write_file("short", big, AC_SECRET_MIN - 1, 0600), 0);
    CHECK_INT(ac_keys_load(path, &k, &err), AC_ERR_KEY);
    CHECK(k == NULL);
    CHECK_INT(err.code, AC_ERR_KEY);
    CHECK(strstr(err.msg, "short") != NULL);

    CHECK_INT(write_file("empty", big, 0, 0600), 0);
    CHECK_INT(ac_keys_load(path, &k, NULL), AC_ERR_KEY);

    /* Exactly the minimum and the maximum are fine. */
    CHECK_INT(write_file("min", big, AC_SECRET_MIN, 0600), 0);
    CHECK_INT(ac_keys_load(path, &k, NULL), AC_OK);
    ac_keys_free(k);
    k = NULL;
    CHECK_INT(write_file("max", big, AC_SECRET_MAX, 0400), 0);
    CHECK_INT(ac_keys_load(path, &k, NULL), AC_OK);
    ac_keys_free(k);
    k = NULL;

    CHECK_INT(write_file("long", big, AC_SECRET_MAX + 1, 0600), 0);
    CHECK_INT(ac_keys_load(path, &k, NULL), AC_ERR_KEY);

    /* Group- or world-readable (or writable). */
    CHECK_INT(write_file("group", big, 64, 0640), 0);
    CHECK_INT(ac_keys_load(path, &k, &err), AC_ERR_KEY);
    CHECK(strstr(err.msg, "0640") != NULL);
    CHECK_INT(write_file("world", big, 64, 0604), 0);
    CHECK_INT(ac_keys_load(path, &k, NULL), AC_ERR_KEY);
    CHECK_INT(write_file("gwrite", big, 64, 0620), 0);
    CHECK_INT(ac_keys_load(path, &k, NULL), AC_ERR_KEY);
    CHECK(k == NULL);

    /* Missing, a directory, a symbolic link. */
    snprintf(p, sizeof(p), "%s/missing", tmpdir);
    CHECK_INT(ac_keys_load(p, &k, &err), AC_ERR_IO);
    CHECK(strstr(err.msg, "missing") != NULL);
    CHECK(ac_keys_load(tmpdir, &k, NULL) < 0);
    CHECK(k == NULL);

    CHECK_INT(write_file("target", big, 64, 0600), 0);
    snprintf(p, sizeof(p), "%s/link", tmpdir);
    unlink(p);
    CHECK_INT(symlink(path, p), 0);
    CHECK_INT(ac_keys_load(p, &k, NULL), AC_ERR_IO);
    CHECK(k == NULL);

    CHECK_INT(ac_keys_load(NULL, &k, NULL), AC_ERR_INVALID);
}


TEST(test_b64url_rfc4648)
{
    size_t         i, n;
    char           enc[16];
    unsigned char  dec[16];
    static const char  *vec[][2] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
        { "foobar", "Zm9vYmFy" }
    };

    for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        n = ac_b64url_encode(vec[i][0], strlen(vec[i][0]), enc);
        CHECK_STR(enc, vec[i][1]);
        CHECK_INT(n, strlen(vec[i][1]));
        CHECK_INT(n, AC_B64URL_LEN(strlen(vec[i][0])));

        CHECK_INT(ac_b64url_decode(vec[i][1], strlen(vec[i][1]), dec,
                                   sizeof(dec), &n), AC_OK);
        CHECK_INT(n, strlen(vec[i][0]));
        CHECK(memcmp(dec, vec[i][0], n) == 0);
    }

    /* The URL alphabet: 0xfb 0xff is "+/8" in standard base64. */
    n = ac_b64url_encode("\xfb\xff", 2, enc);
    CHECK_STR(enc, "-_8");
    CHECK_INT(ac_b64url_decode("-_8", 3, dec, sizeof(dec), &n), AC_OK);
    CHECK_INT(n, 2);
    CHECK(dec[0] == 0xfb && dec[1] == 0xff);
}


TEST(test_b64url_invalid)
{
    size_t         n;
    unsigned char  dec[16];

    CHECK_INT(ac_b64url_decode("+_8", 3, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("-/8", 3, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Zg==", 4, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Zg=", 3, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Z", 1, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Zm9vY", 5, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Zm 9v", 5, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Zm9v\n", 5, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Zm\0v", 4, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Zm9\xc3\xa9", 5, dec, sizeof(dec), &n),
              AC_ERR_INVALID);

    /* Non-canonical: unused bits set. */
    CHECK_INT(ac_b64url_decode("Zh", 2, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Zm8", 3, dec, sizeof(dec), &n), AC_OK);
    CHECK_INT(ac_b64url_decode("Zm9", 3, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_b64url_decode("Zm-", 3, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(n, 0);

    /* The output must fit. */
    CHECK_INT(ac_b64url_decode("Zm9vYmFy", 8, dec, 5, &n), AC_ERR_TOO_LONG);
    CHECK_INT(ac_b64url_decode("Zm9vYmFy", 8, dec, 6, &n), AC_OK);
    CHECK_INT(ac_b64url_decode("", 0, dec, 0, &n), AC_OK);
    CHECK_INT(n, 0);
}


static int
b64url_only(const char *s)
{
    for ( /* void */ ; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')
              || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
        {
            return 0;
        }
    }

    return 1;
}


TEST(test_tokens_and_ids)
{
    int            i;
    char           t1[AC_TOKEN_LEN + 1], t2[AC_TOKEN_LEN + 1];
    char           id1[AC_ID_LEN + 1], id2[AC_ID_LEN + 1];
    size_t         n;
    unsigned char  raw[40];

    CHECK_INT(ac_token_new(t1), AC_OK);
    CHECK_INT(ac_token_new(t2), AC_OK);
    CHECK_INT(strlen(t1), AC_TOKEN_LEN);
    CHECK(b64url_only(t1));
    CHECK(strcmp(t1, t2) != 0);
    CHECK_INT(ac_b64url_decode(t1, AC_TOKEN_LEN, raw, sizeof(raw), &n),
              AC_OK);
    CHECK_INT(n, 32);

    CHECK_INT(ac_account_id_new(id1), AC_OK);
    CHECK_INT(ac_account_id_new(id2), AC_OK);
    CHECK_INT(strlen(id1), AC_ID_LEN);
    CHECK(strcmp(id1, id2) != 0);
    CHECK_INT(strspn(id1, "abcdefghijklmnopqrstuvwxyz234567"), AC_ID_LEN);

    /* Over many ids every one of the 32 characters shows up, at the
     * last position too (which takes its bits from the last byte). */
    {
        int   seen[2][32];
        int   all;
        char  *q;

        memset(seen, 0, sizeof(seen));
        for (i = 0; i < 2000; i++) {
            CHECK_INT(ac_account_id_new(id1), AC_OK);
            q = strchr(ac_base32_lower, id1[0]);
            if (q) {
                seen[0][q - ac_base32_lower] = 1;
            }
            q = strchr(ac_base32_lower, id1[AC_ID_LEN - 1]);
            if (q) {
                seen[1][q - ac_base32_lower] = 1;
            }
        }
        all = 1;
        for (i = 0; i < 32; i++) {
            all &= seen[0][i] & seen[1][i];
        }
        CHECK(all);
    }
}


TEST(test_digest)
{
    char        d1[AC_DIGEST_LEN + 1], d2[AC_DIGEST_LEN + 1];
    ac_keys_t  *k, *other;

    k = keys_for(9);
    other = keys_for(10);
    CHECK(k != NULL && other != NULL);
    if (k == NULL || other == NULL) {
        ac_keys_free(k);
        ac_keys_free(other);
        return;
    }

    CHECK_INT(ac_digest(k, AC_PURPOSE_EMAIL, "a@b.c", 5, d1), AC_OK);
    CHECK_INT(strlen(d1), AC_DIGEST_LEN);
    CHECK(b64url_only(d1));
    CHECK_INT(ac_digest(k, AC_PURPOSE_EMAIL, "a@b.c", 5, d2), AC_OK);
    CHECK_STR(d1, d2);
    CHECK_INT(ac_digest(k, AC_PURPOSE_EMAIL, "a@b.d", 5, d2), AC_OK);
    CHECK(strcmp(d1, d2) != 0);
    CHECK_INT(ac_digest(k, AC_PURPOSE_SESSION, "a@b.c", 5, d2), AC_OK);
    CHECK(strcmp(d1, d2) != 0);
    CHECK_INT(ac_digest(other, AC_PURPOSE_EMAIL, "a@b.c", 5, d2), AC_OK);
    CHECK(strcmp(d1, d2) != 0);
    CHECK_INT(ac_digest(k, AC_PURPOSE_EMAIL, NULL, 0, d2), AC_OK);
    CHECK_INT(ac_digest(k, AC_PURPOSE_EMAIL, NULL, 3, d2), AC_ERR_INVALID);

    ac_keys_free(k);
    ac_keys_free(other);
}


TEST(test_helpers)
{
    int            i, j;
    unsigned char  a[32], b[32];

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    CHECK_INT(ac_random(a, sizeof(a)), AC_OK);
    CHECK_INT(ac_random(b, sizeof(b)), AC_OK);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK_INT(ac_random(NULL, 0), AC_OK);

    CHECK_INT(ac_ct_equal(a, a, sizeof(a)), 1);
    CHECK_INT(ac_ct_equal(a, b, sizeof(a)), 0);
    memcpy(b, a, sizeof(a));
    b[31] ^= 1;
    CHECK_INT(ac_ct_equal(a, b, sizeof(a)), 0);
    CHECK_INT(ac_ct_equal(a, b, 31), 1);

    ac_cleanse(a, sizeof(a));
    memset(b, 0, sizeof(b));
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    ac_cleanse(NULL, 10);

    /* Every code has its own text. */
    for (i = AC_ERR_LAST; i <= AC_REHASH; i++) {
        CHECK(ac_strerror(i) != NULL && ac_strerror(i)[0] != '\0');
        for (j = i + 1; j <= AC_REHASH; j++) {
            CHECK(strcmp(ac_strerror(i), ac_strerror(j)) != 0);
        }
    }
    CHECK_STR(ac_strerror(AC_ERR_LAST - 1), "unknown error");
    CHECK_STR(ac_strerror(42), "unknown error");
}


TEST(test_error_set)
{
    char        longs[600];
    ac_error_t  err;

    ac_error_set(&err, AC_ERR_CONFIG, "%s:%u: %s", "g.conf", 12u, "bad");
    CHECK_INT(err.code, AC_ERR_CONFIG);
    CHECK_STR(err.msg, "g.conf:12: bad");

    memset(longs, 'x', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    ac_error_set(&err, AC_ERR_IO, "%s", longs);
    CHECK_INT(strlen(err.msg), AC_ERRMSG_MAX - 1);

    ac_error_set(NULL, AC_ERR_IO, "%s", "ignored");
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < sizeof(secret64); i++) {
        secret64[i] = (unsigned char) i;
    }

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/guichet-test-crypto.XXXXXX");
    if (mkdtemp(tmpdir) == NULL || ac_init() != AC_OK) {
        perror("setup");
        return 1;
    }

    RUN(test_keys_per_purpose_differ);
    RUN(test_keys_deterministic);
    RUN(test_keys_known_answer);
    RUN(test_keys_from_secret_bounds);
    RUN(test_seal_round_trip);
    RUN(test_unseal_known_answer);
    RUN(test_gcm_known_answer);
    RUN(test_seal_tampered);
    RUN(test_secret_file);
    RUN(test_secret_file_refused);
    RUN(test_b64url_rfc4648);
    RUN(test_b64url_invalid);
    RUN(test_tokens_and_ids);
    RUN(test_digest);
    RUN(test_helpers);
    RUN(test_error_set);

    ac_done();

    {
        char  cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            printf("could not remove %s\n", tmpdir);
        }
    }

    return CHECK_DONE();
}
