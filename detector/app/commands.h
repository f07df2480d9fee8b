/*
 * The command desk: commands from the platform (docs/delivery.md "Commands") between the
 * delivery thread that receives them and the cameras' analysis threads that carry them out.
 *
 *   channel thread  so_commands_handle(): parse, look the episode up, journal (fsync), answer;
 *                   a command that acts goes into the mailbox of the camera that owns it
 *   analysis thread so_commands_report(): episodes opened and cleared (the lookup table);
 *                   so_commands_run() after each frame: carry out its camera's commands;
 *                   so_commands_replay() when its rules are (re)built: journalled dismissals
 *                   and permits still in force
 *   own thread      a verify not carried out within its deadline (no frame: the camera is
 *                   down) is answered `unknown` through the outputs
 *
 * Neither side waits for the other: the mailbox is bounded (SO_COMMANDS_QUEUE_MAX; full: the
 * command is refused, ok:false) and held under one mutex for small copies only.
 *
 * Ownership: create/start/destroy on the main thread; the outputs, config and event context
 * given to start/set_config are borrowed and must outlive the desk (configs stay loaded until
 * exit). Every other function may be called from any thread.
 */
#ifndef SO_APP_COMMANDS_H
#define SO_APP_COMMANDS_H

#include <stddef.h>

#include "config.h"
#include "event.h"
#include "outputs.h"
#include "rules.h"

#define SO_COMMANDS_QUEUE_MAX 64        /* commands waiting for their camera */
#define SO_COMMANDS_EPISODES 256        /* episodes remembered for lookups */
#define SO_COMMANDS_VERIFY_S 10.0       /* a verify not carried out by then answers unknown */

struct so_commands;

/* Open the journal at `journal_path`. NULL after logging. */
struct so_commands *so_commands_create(const char *journal_path);

/* Start the deadline thread; verifications go to `outputs` built with `ectx` (both borrowed).
 * 0 or a negative errno. */
int so_commands_start(struct so_commands *d, struct so_outputs *outputs,
                      const struct so_event_ctx *ectx);

/* The cameras and zones a permit may name (borrowed; after a reload, the new config). */
void so_commands_set_config(struct so_commands *d, const struct so_config *cfg);

/* delivery/channel.h's on_command: the answer's JSON, malloc()ed. */
char *so_commands_handle(void *opaque, const char *id, const char *json, size_t len);

/* A rules report of camera `rep->camera` (opened, update, cleared; others ignored). */
void so_commands_report(struct so_commands *d, const struct so_report *rep);

/* Carry out the commands waiting for camera `camera_id` on `rules` (after a frame was
 * processed). `blind`: the reason the view cannot be judged now (moved, tampered), or NULL. */
void so_commands_run(struct so_commands *d, const char *camera_id, struct so_rules *rules,
                     const char *blind);

/* Give new rules of camera `camera_id` (analysis size width x height) the journalled
 * dismissals and permits still in force. */
void so_commands_replay(struct so_commands *d, const char *camera_id, struct so_rules *rules,
                        int width, int height);

/* Stop the deadline thread (before the outputs go): no verification record goes out after it
 * returns; unanswered verifies are dropped. Accepts NULL; idempotent. */
void so_commands_stop(struct so_commands *d);

/* Stop, then free (after the delivery channel that calls so_commands_handle is gone). Accepts
 * NULL. */
void so_commands_destroy(struct so_commands *d);

#endif
