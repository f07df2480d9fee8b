/*
 * The command journal: every command the detector accepted or refused, with its answer, in an
 * append-only file (<state_dir>/commands.jsonl, one JSON object per line), fsynced before the
 * answer goes out, read back at start. It makes commands idempotent (an id seen before gets
 * the same answer and changes nothing) and makes dismissals and permits survive a restart.
 *
 * An entry is a JSON object with at least "id" (the command id) and "until" (Unix seconds:
 * after it, plus SO_CMDJOURNAL_KEEP_S, the entry is dropped when the journal is opened).
 *
 * Thread-safety: every function may be called from any thread (one mutex; an append holds it
 * through its write and fsync). Errors: negative errno codes.
 */
#ifndef SO_DELIVERY_CMDJOURNAL_H
#define SO_DELIVERY_CMDJOURNAL_H

#include <jansson.h>
#include <stddef.h>

#define SO_CMDJOURNAL_FILE "commands.jsonl"
#define SO_CMDJOURNAL_KEEP_S (7 * 86400.0)  /* ids are remembered this long past their window */
#define SO_CMDJOURNAL_LINE_MAX (256 * 1024) /* a longer line is not read back */

struct so_cmdjournal;

/*
 * Open (create) the journal at `path` and read it: lines that do not parse (a torn last line
 * after a crash) are skipped with a warning; entries past their keep time are dropped and the
 * file rewritten without them (atomically: temporary file, fsync, rename). NULL after logging.
 */
struct so_cmdjournal *so_cmdjournal_open(const char *path, double now_wall);

/* Append `entry` (borrowed) as one line in one write, then fsync. 0 or a negative errno (the
 * entry is then not remembered either). */
int so_cmdjournal_append(struct so_cmdjournal *j, json_t *entry);

/* The entry of command `id` (a new reference, the caller decrefs), or NULL. */
json_t *so_cmdjournal_find(struct so_cmdjournal *j, const char *id);

/* Every entry, oldest first (a new reference to a copy of the list). */
json_t *so_cmdjournal_entries(struct so_cmdjournal *j);

/* Close; accepts NULL. */
void so_cmdjournal_close(struct so_cmdjournal *j);

#endif
