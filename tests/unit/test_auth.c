/*
 * The HTTP users file and credentials (detector/http/auth.c): parse errors with their line and
 * column, Basic credentials good, bad and missing, roles and verdicts, the constant-time compare.
 * Hashes are real: one sha512-crypt made by `openssl passwd -6`, one yescrypt made here.
 */
#include <crypt.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "testlib.h"

/* openssl passwd -6 -salt QbN3x7Yp2Lw9Kd1s 'view pass' */
#define VIEW_HASH "$6$QbN3x7Yp2Lw9Kd1s$IFKiLwximtdKEZms9DtAhm8HojoG18mhcIGZZuDpxZSZXQNoGSrmLC6." \
                  "xKw9/jibujKi3gU51Vnx4hU4UJDoO."

static void test_parse_errors(void)
{
    static const struct {
        const char *text;
        int line, column;
        const char *message;
    } cases[] = {
        {"", 0, 0, "expected at least one user line"},
        {"# only a comment\n\n   \n", 0, 0, "expected at least one user line"},
        {"al:ice viewer " VIEW_HASH "\n", 1, 1, "expected a user name"},
        {"# users\n  bob\n", 2, 6, "expected a role (viewer or operator)"},
        {"bob admin " VIEW_HASH "\n", 1, 5, "expected a role, viewer or operator, got \"admin\""},
        {"bob viewer\n", 1, 11, "expected the password's crypt(3) hash"},
        {"bob viewer secret\n", 1, 12, "expected a salted crypt(3) hash"},
        {"bob viewer $1$abc$OGyl6dDvZCDiGmIVbeuCq/\n", 1, 12, "expected a salted crypt(3) hash"},
        {"bob viewer $6$\n", 1, 12, "expected a salted crypt(3) hash"},
        /* sha256-crypt, which libxcrypt calls legacy (openssl passwd -5 -salt fElQ0dHUQoLj8WF/) */
        {"bob viewer $5$fElQ0dHUQoLj8WF/$rLvaMmVILURAg1585GoTFP3yCbnVv5/QVL2YjH37j21\n", 1, 12,
         "expected a salted crypt(3) hash"},
        {"bob\tviewer\t" VIEW_HASH " extra\n", 1, 119, "expected the end of the line"},
        {"bob viewer " VIEW_HASH "\n#\nbob operator " VIEW_HASH "\n", 3, 1,
         "expected each user once, \"bob\" is on line 1 too"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct so_config_errors errors = {0};
        struct so_auth *a = so_auth_parse("users", cases[i].text, strlen(cases[i].text), &errors);
        CHECK(a == NULL);
        CHECK_INT(errors.n, 1);
        if (errors.n >= 1) {
            CHECK_STR(errors.items[0].file, "users");
            CHECK_INT(errors.items[0].line, cases[i].line);
            CHECK_INT(errors.items[0].column, cases[i].column);
            CHECK_CONTAINS(errors.items[0].message, cases[i].message);
            /* A hash or a password never appears in a message. */
            CHECK(strstr(errors.items[0].message, "secret") == NULL);
            CHECK(strstr(errors.items[0].message, "$1$abc") == NULL);
        }
        so_config_errors_finish(&errors);
    }
    /* Every bad line is reported, not only the first. */
    const char *two = "a viewer x\nb boss " VIEW_HASH "\n";
    struct so_config_errors errors = {0};
    CHECK(so_auth_parse("users", two, strlen(two), &errors) == NULL);
    CHECK_INT(errors.n, 2);
    so_config_errors_finish(&errors);
    /* An unreadable file is one error without a place. */
    CHECK(so_auth_load("/nonexistent/users", &errors) == NULL);
    CHECK_INT(errors.n, 1);
    CHECK_INT(errors.items[0].line, 0);
    CHECK_CONTAINS(errors.items[0].message, "expected a readable users file");
    so_config_errors_finish(&errors);
}

static char *basic(const char *user_pass)
{
    char *out = calloc(1, 8 + 4 * (strlen(user_pass) + 2) / 3 + 1);
    strcpy(out, "Basic ");
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)user_pass,
                    (int)strlen(user_pass));
    return out;
}

static void test_check(void)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    CHECK(crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) != NULL);
    struct crypt_data cd = {0};
    const char *yes = crypt_r("pass:w/ colon", setting, &cd);
    CHECK(yes && strncmp(yes, "$y$", 3) == 0);
    char *text = NULL;
    if (asprintf(&text, "# streetorder users\n\nviewer1 viewer " VIEW_HASH "\n"
                        "\t op.1  operator  %s  \r\n", yes) < 0) {
        abort();
    }
    struct so_config_errors errors = {0};
    struct so_auth *a = so_auth_parse("users", text, strlen(text), &errors);
    so_test_dump_errors(&errors);
    CHECK(a != NULL);
    CHECK_INT(so_auth_count(a), 2);
    static const struct {
        const char *user_pass;      /* NULL: the raw header below */
        const char *raw;
        enum so_auth_role role;
    } cases[] = {
        {"viewer1:view pass", NULL, SO_AUTH_VIEWER},
        {"viewer1:view pass", NULL, SO_AUTH_VIEWER},     /* again: from the cache */
        {"op.1:pass:w/ colon", NULL, SO_AUTH_OPERATOR},
        {"op.1:pass:w/ colon", NULL, SO_AUTH_OPERATOR},
        {"viewer1:view pas", NULL, SO_AUTH_NONE},        /* wrong password */
        {"viewer1:view pass ", NULL, SO_AUTH_NONE},
        {"viewer1:", NULL, SO_AUTH_NONE},
        {"op.1:view pass", NULL, SO_AUTH_NONE},          /* another user's password */
        {"nobody:view pass", NULL, SO_AUTH_NONE},        /* unknown user */
        {":view pass", NULL, SO_AUTH_NONE},
        {"viewer1view pass", NULL, SO_AUTH_NONE},        /* no colon */
        {NULL, NULL, SO_AUTH_NONE},                      /* no header */
        {NULL, "", SO_AUTH_NONE},
        {NULL, "Bearer dmlld2VyMTp2aWV3IHBhc3M=", SO_AUTH_NONE},
        {NULL, "Basic dmlld2VyMTp2aWV3IHBhc3M", SO_AUTH_NONE},    /* length not a multiple of 4 */
        {NULL, "Basic dmlld2VyMTp2aWV3IHBhc3M=x", SO_AUTH_NONE},
        {NULL, "Basic dmlld2VyMTp2aWV3IHBhc3M= ", SO_AUTH_NONE},
        {NULL, "Basic dml!d2VyMTp2aWV3IHBhc3M=", SO_AUTH_NONE},
        {NULL, "basic dmlld2VyMTp2aWV3IHBhc3M=", SO_AUTH_VIEWER}, /* the scheme is any case */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *h = cases[i].user_pass ? basic(cases[i].user_pass) : NULL;
        enum so_auth_role got = so_auth_check(a, h ? h : cases[i].raw);
        so_test_check(got == cases[i].role, __FILE__, __LINE__, "case %zu: %s -> %s (want %s)", i,
                      cases[i].user_pass ? cases[i].user_pass : cases[i].raw ? cases[i].raw
                                                                             : "(none)",
                      so_auth_role_name(got), so_auth_role_name(cases[i].role));
        free(h);
    }
    /* After the cache holds the right password, a wrong one is still refused. */
    char *wrong = basic("viewer1:view pasS");
    CHECK_INT(so_auth_check(a, wrong), SO_AUTH_NONE);
    free(wrong);
    CHECK_INT(so_auth_check(NULL, "Basic dmlld2VyMTp2aWV3IHBhc3M="), SO_AUTH_NONE);
    so_auth_destroy(a);
    so_auth_destroy(NULL);
    free(text);
}

static void test_decide(void)
{
    static const struct {
        enum so_auth_role need, have;
        enum so_auth_verdict verdict;
    } cases[] = {
        {SO_AUTH_NONE, SO_AUTH_NONE, SO_AUTH_ALLOW},
        {SO_AUTH_NONE, SO_AUTH_VIEWER, SO_AUTH_ALLOW},
        {SO_AUTH_VIEWER, SO_AUTH_NONE, SO_AUTH_UNAUTHORIZED},
        {SO_AUTH_VIEWER, SO_AUTH_VIEWER, SO_AUTH_ALLOW},
        {SO_AUTH_VIEWER, SO_AUTH_OPERATOR, SO_AUTH_ALLOW},
        {SO_AUTH_OPERATOR, SO_AUTH_NONE, SO_AUTH_UNAUTHORIZED},
        {SO_AUTH_OPERATOR, SO_AUTH_VIEWER, SO_AUTH_FORBIDDEN},
        {SO_AUTH_OPERATOR, SO_AUTH_OPERATOR, SO_AUTH_ALLOW},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_INT(so_auth_decide(cases[i].need, cases[i].have), cases[i].verdict);
    }
    CHECK_STR(so_auth_role_name(SO_AUTH_VIEWER), "viewer");
    CHECK_STR(so_auth_role_name(SO_AUTH_OPERATOR), "operator");
    CHECK_STR(so_auth_role_name(SO_AUTH_NONE), "none");
}

static void test_equal(void)
{
    CHECK(so_auth_equal("abcdef", "abcdef", 6));
    CHECK(!so_auth_equal("abcdef", "abcdeg", 6));
    CHECK(!so_auth_equal("xbcdef", "abcdef", 6));
    CHECK(so_auth_equal("abc", "abd", 2));
    CHECK(so_auth_equal("", "", 0));
}

int main(void)
{
    test_parse_errors();
    test_check();
    test_decide();
    test_equal();
    return so_test_done();
}
