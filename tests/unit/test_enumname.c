/*
 * Unit tests for detector/util/enumname.c and the typed wrappers built on it (zone kinds in
 * config.c, detector roles in model.c): every value's name and back, out-of-range values, NULL
 * and unknown names, and that a failed parse leaves *out alone.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "enumname.h"
#include "model.h"
#include "testlib.h"

static const char *const colours[] = {"red", "green", "blue"};

static void test_table(void)
{
    static const struct {
        const char *name;   /* NULL: not a name */
        int value;          /* the value, or for a non-name what *out must still hold */
        bool known;
    } rows[] = {
        {"red", 0, true},   {"green", 1, true},  {"blue", 2, true},
        {"Red", 7, false},  {"", 7, false},      {"blue ", 7, false},
        {NULL, 7, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int out = 7;
        bool ok = so_enum_parse(colours, 3, rows[i].name, &out);
        so_test_check(ok == rows[i].known && out == rows[i].value, __FILE__, __LINE__,
                      "parse \"%s\": %d, %d", rows[i].name ? rows[i].name : "(null)", ok, out);
        if (rows[i].known) {
            CHECK_STR(so_enum_name(colours, 3, rows[i].value), rows[i].name);
            CHECK(so_enum_parse(colours, 3, rows[i].name, NULL));
        }
    }
    CHECK(so_enum_name(colours, 3, -1) == NULL);
    CHECK(so_enum_name(colours, 3, 3) == NULL);
    CHECK(so_enum_name(colours, 0, 0) == NULL);
}

/* The enums named through it: each name parses back to its value. */
static void test_wrappers(void)
{
    for (int k = 0; k < SO_ZONE_KIND_COUNT; k++) {
        enum so_zone_kind out = SO_ZONE_KIND_COUNT;
        const char *name = so_zone_kind_name((enum so_zone_kind)k);
        CHECK(name && so_zone_kind_parse(name, &out) && (int)out == k);
    }
    CHECK(so_zone_kind_name(SO_ZONE_KIND_COUNT) == NULL);
    CHECK(so_zone_kind_name((enum so_zone_kind)-1) == NULL);
    for (int r = 0; r < SO_ROLE_COUNT; r++) {
        enum so_role out = SO_ROLE_COUNT;
        const char *name = so_role_name((enum so_role)r);
        CHECK(name && so_role_parse(name, &out) && (int)out == r);
    }
    enum so_role keep = SO_ROLE_PERSON;
    CHECK(!so_role_parse("vehicles", &keep));
    CHECK_INT(keep, SO_ROLE_PERSON);
}

int main(void)
{
    test_table();
    test_wrappers();
    return so_test_done();
}
