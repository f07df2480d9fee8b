/*
 * Which detectors may deliver to the intake: an allow-list of CURVE public keys
 * (`--allow-keys FILE`) and the decision for one ZAP request (ZeroMQ RFC 27), which the intake
 * answers on its inproc://zeromq.zap.01 socket during every CURVE handshake.
 *
 * The file: one Z85 public key (40 characters, as `streetorder keygen` prints it) per line;
 * blank lines and lines starting with '#' are ignored, and anything after the key and a space
 * or tab is a comment (e.g. the detector's name).
 *
 * Pure functions over borrowed frames (no I/O except so_zap_allow_load()): any thread.
 * so_zap_allow_load() returns a list owned by the caller, freed with so_zap_allow_destroy().
 */
#ifndef SO_INTAKE_ZAP_H
#define SO_INTAKE_ZAP_H

#include <stdbool.h>
#include <stddef.h>

#include "message.h"

struct so_zap_allow;

/* Load an allow-list. NULL on error, with "FILE:LINE: what was expected" (or "FILE: ...") in
 * `err`. A file without any key is an error (it would refuse every detector). */
struct so_zap_allow *so_zap_allow_load(const char *path, char *err, size_t err_size);

/* Free a list. Accepts NULL. */
void so_zap_allow_destroy(struct so_zap_allow *list);

/* Number of keys in the list. */
size_t so_zap_allow_count(const struct so_zap_allow *list);

struct so_zap_decision {
    const char *status;         /* "200" allowed, "400" refused, "500" malformed request */
    const char *text;           /* status text for the reply and the log */
    char client_key[41];        /* the client's public key in Z85, "" when not CURVE */
};

/*
 * Decide a ZAP request, given its frames (after the REP envelope): version "1.0", request id,
 * domain, address, routing id, mechanism, credentials. CURVE clients are allowed when their
 * key is in `list`; any other mechanism is refused. Returns false when the request is too
 * malformed to answer at all (fewer than 6 frames).
 */
bool so_zap_decide(const struct so_zap_allow *list, const struct so_intake_frame *frames,
                   size_t n_frames, struct so_zap_decision *out);

#endif
