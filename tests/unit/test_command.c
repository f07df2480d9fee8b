/*
 * Unit tests for detector/delivery/command.c and cmdjournal.c: command ids; every command
 * parsed from its JSON, and every kind of garbage refused with its message (a table); the
 * answer's JSON; ISO-8601 times; the journal: append, find, read back after a reopen, a torn
 * last line skipped, expired entries compacted away.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdjournal.h"
#include "command.h"
#include "testlib.h"
#include "timeutil.h"

#define EP "0123456789abcdef0123456789abcdef"
#define NOW 1765000000.0    /* 2025-12-06T05:46:40Z */
#define HEAD "{\"schema\":\"streetorder.command.v1\",\"id\":\"c1\","

static void test_ids(void)
{
    static const struct {
        const char *id;
        bool ok;
    } rows[] = {
        {"c1", true}, {"a.b_c-D9", true}, {"", false}, {"a b", false}, {"a/b", false},
        {"é", false},
        {"0123456789012345678901234567890123456789012345678901234567890123", true},
        {"01234567890123456789012345678901234567890123456789012345678901234", false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
        so_test_check(so_command_id_valid(rows[i].id, strlen(rows[i].id)) == rows[i].ok,
                      __FILE__, __LINE__, "id \"%s\" %s", rows[i].id,
                      rows[i].ok ? "valid" : "refused");
    }
}

static void test_parse(void)
{
    static const struct {
        const char *json;
        int kind;               /* 0: refused */
        const char *error;      /* part of the message when refused */
        double from, until;     /* when accepted (0: not checked) */
    } rows[] = {
        {HEAD "\"command\":\"verify\",\"episode_id\":\"" EP "\"}", SO_COMMAND_VERIFY, NULL, NOW,
         NOW},
        {HEAD "\"command\":\"dismiss\",\"episode_id\":\"" EP "\",\"reason\":\"fixture\"}",
         SO_COMMAND_DISMISS, NULL, NOW, NOW + 86400},
        {HEAD "\"command\":\"dismiss\",\"episode_id\":\"" EP "\",\"reason\":\"false_alarm\","
              "\"until\":\"2025-12-07T08:00:00+08:00\"}", SO_COMMAND_DISMISS, NULL, NOW,
         1765065600},
        {HEAD "\"command\":\"permit\",\"camera_id\":\"cam\",\"zone_id\":\"z\",\"from\":"
              "\"2025-12-06T00:00:00Z\",\"until\":\"2025-12-06T12:00:00.5+00:00\"}",
         SO_COMMAND_PERMIT, NULL, 1764979200, 1765022400.5},
        {"not json", 0, "not a JSON object", 0, 0},
        {"[1,2]", 0, "not a JSON object", 0, 0},
        {"{\"schema\":\"x\",\"id\":\"c1\",\"command\":\"verify\"}", 0, "\"schema\"", 0, 0},
        {"{\"schema\":\"streetorder.command.v1\",\"id\":\"c2\",\"command\":\"verify\"}", 0,
         "\"id\" must be", 0, 0},
        {HEAD "\"command\":\"reboot\"}", 0, "\"command\" must be", 0, 0},
        {HEAD "\"command\":7}", 0, "\"command\" must be", 0, 0},
        {HEAD "\"command\":\"verify\"}", 0, "\"episode_id\" must be a string", 0, 0},
        {HEAD "\"command\":\"verify\",\"episode_id\":42}", 0, "\"episode_id\" must be a string",
         0, 0},
        {HEAD "\"command\":\"verify\",\"episode_id\":\"XYZ\"}", 0, "32 lowercase hex", 0, 0},
        {HEAD "\"command\":\"dismiss\",\"episode_id\":\"" EP "\",\"reason\":\"bored\"}", 0,
         "\"reason\" must be", 0, 0},
        {HEAD "\"command\":\"dismiss\",\"episode_id\":\"" EP "\",\"reason\":\"fixture\","
              "\"until\":\"2020-01-01T00:00:00Z\"}", 0, "expired window", 0, 0},
        {HEAD "\"command\":\"dismiss\",\"episode_id\":\"" EP "\",\"reason\":\"fixture\","
              "\"until\":\"tomorrow\"}", 0, "ISO-8601", 0, 0},
        {HEAD "\"command\":\"dismiss\",\"episode_id\":\"" EP "\",\"reason\":\"fixture\","
              "\"until\":\"2026-01-01T00:00:00\"}", 0, "ISO-8601", 0, 0},
        {HEAD "\"command\":\"permit\",\"camera_id\":\"cam\",\"zone_id\":\"z\",\"from\":"
              "\"2026-12-06T12:00:00Z\",\"until\":\"2026-12-06T12:00:00Z\"}", 0,
         "\"from\" must be before", 0, 0},
        {HEAD "\"command\":\"permit\",\"camera_id\":\"cam\",\"zone_id\":\"z\",\"from\":"
              "\"2020-12-06T10:00:00Z\",\"until\":\"2020-12-06T12:00:00Z\"}", 0,
         "expired window", 0, 0},
        {HEAD "\"command\":\"permit\",\"camera_id\":\"\",\"zone_id\":\"z\"}", 0,
         "\"camera_id\" must have", 0, 0},
        {HEAD "\"command\":\"verify\",\"command\":\"verify\",\"episode_id\":\"" EP "\"}", 0,
         "not a JSON object", 0, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
        struct so_command c;
        char err[256] = "";
        int rc = so_command_parse("c1", rows[i].json, strlen(rows[i].json), NOW, &c, err,
                                  sizeof(err));
        so_test_check(rows[i].kind ? rc == 0 && (int)c.kind == rows[i].kind : rc == -EINVAL,
                      __FILE__, __LINE__, "row %zu: %s (%s)", i, rows[i].json, err);
        if (!rows[i].kind) {
            CHECK_CONTAINS(err, rows[i].error);
        } else if (rows[i].until) {
            CHECK_DBL(c.from_wall, rows[i].from, 1e-3);
            CHECK_DBL(c.until_wall, rows[i].until, 1e-3);
        }
    }
    char big[SO_COMMAND_JSON_MAX + 2];
    memset(big, ' ', sizeof(big));
    struct so_command c;
    char err[256];
    CHECK_INT(so_command_parse("c1", big, sizeof(big), NOW, &c, err, sizeof(err)), -EINVAL);
    CHECK_CONTAINS(err, "at most");
}

static void test_result_and_json(void)
{
    char *r = so_command_result("c9", false, true, "episode x is not open");
    CHECK_STR(r, "{\"schema\":\"streetorder.command_result.v1\",\"id\":\"c9\",\"ok\":false,"
                 "\"duplicate\":true,\"error\":\"episode x is not open\"}");
    free(r);
    struct so_command c = {.kind = SO_COMMAND_PERMIT, .id = "p1", .camera_id = "cam",
                           .zone_id = "z", .from_wall = 10, .until_wall = 20}, back;
    json_t *j = so_command_to_json(&c);
    CHECK_INT(so_command_from_json(j, &back), 0);
    CHECK_INT(back.kind, SO_COMMAND_PERMIT);
    CHECK_STR(back.zone_id, "z");
    CHECK_DBL(back.until_wall, 20, 1e-9);
    json_object_set_new(j, "command", json_string("reboot"));
    CHECK_INT(so_command_from_json(j, &back), -EINVAL);
    json_decref(j);
}

static json_t *entry(const char *id, double until)
{
    return json_pack("{s:s, s:f, s:{s:b}}", "id", id, "until", until, "result", "ok", 1);
}

static void test_journal(void)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    so_test_temp_dir(dir);
    snprintf(path, sizeof(path), "%s/state/" SO_CMDJOURNAL_FILE, dir);
    struct so_cmdjournal *j = so_cmdjournal_open(path, NOW);
    CHECK(j != NULL);
    json_t *a = entry("a", NOW + 10), *b = entry("b", NOW - SO_CMDJOURNAL_KEEP_S - 1);
    CHECK_INT(so_cmdjournal_append(j, a), 0);
    CHECK_INT(so_cmdjournal_append(j, b), 0);
    json_t *f = so_cmdjournal_find(j, "a");
    CHECK(f && json_equal(f, a));
    json_decref(f);
    CHECK(so_cmdjournal_find(j, "zz") == NULL);
    so_cmdjournal_close(j);
    FILE *out = fopen(path, "a");   /* a crash mid-line */
    fputs("{\"id\":\"c\",\"unt", out);
    fclose(out);
    j = so_cmdjournal_open(path, NOW);  /* b expired, c torn: both dropped, a kept */
    json_t *all = so_cmdjournal_entries(j);
    CHECK_INT(json_array_size(all), 1);
    CHECK(json_equal(json_array_get(all, 0), a));
    json_decref(all);
    so_cmdjournal_close(j);
    char *text = so_test_read_file(path);
    CHECK(text && !strstr(text, "\"b\"") && !strstr(text, "unt\n") && strstr(text, "\"a\""));
    free(text);
    json_decref(a);
    json_decref(b);
    so_test_rm_rf(dir);
}

int main(void)
{
    test_ids();
    test_parse();
    test_result_and_json();
    test_journal();
    return so_test_done();
}
