#!/usr/bin/python3
"""Access control and TLS on the operators' HTTP server (issue 16 item 4), on the real daemon
over loopback, the demo scene paced in real time:

- `streetorder check` reports a bad users file with its file:line:column;
- with http.auth and a self-signed certificate (made here by openssl): the TLS handshake
  succeeds against the certificate, plain HTTP to the same port gets no answer;
- every kind of URL (pages, images, JSON, metrics, evidence, unknown paths, POST) is 401 with a
  Basic challenge without credentials, with a wrong password and with an unknown user, while
  /healthz stays open;
- a viewer gets the pages, images, JSON and /metrics (200), and 403 on the zone editor and its
  check/preview actions; an operator gets those (200);
- streetorder_http_unauthorized_total on /metrics counts the 401s, and rises;
- no log line shows a password or a hash;
- without http.auth, binding a non-loopback address logs a warning at start.

Usage: test_http_auth.py BIN SCENES_DIR     (TAP output)
"""
import base64
import os
import ssl
import subprocess
import sys
import tempfile
import warnings

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from sotest import (Daemon, check, diag, failures, finish, free_port,  # noqa: E402
                    http_get, load_config, scene, wait_for)

VIEW_PW = "viewer pw 7f3a"
OP_PW = "op:pw 91c2"        # a colon in a password is allowed (Basic splits at the first)


def sha512_crypt(password):
    """A sha512-crypt hash by `openssl passwd -6`, with a fresh salt."""
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, text=True,
                          capture_output=True, check=True).stdout.strip()


def bcrypt(password):
    """A bcrypt ($2b$) hash by libcrypt itself, through Python's crypt module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


def self_signed(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], capture_output=True, check=True)
    return cert, key


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def counter(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def check_bad_file(binary, tmp, cfg):
    users = os.path.join(tmp, "bad-users")
    with open(users, "w") as f:
        f.write("# users\nann viewer\n")
    path = os.path.join(tmp, "bad.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(dict(cfg, http={"listen": "127.0.0.1:1", "auth": users}), f)
    r = subprocess.run([binary, "check", "-c", path], capture_output=True, text=True)
    check(r.returncode == 1 and f"{users}:2:11: expected the password's crypt(3) hash" in
          r.stdout + r.stderr,
          f"check reports the users file's error at file:2:11 (rc {r.returncode}: "
          f"{(r.stdout + r.stderr).strip()[-200:]!r})")


def main():
    binary, scenes = sys.argv[1], sys.argv[2]
    d = scene(scenes, "demo")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(os.path.join(d, "demo.yaml"))
        cfg["detector"] = {"id": "auth-test", "state_dir": os.path.join(tmp, "state")}
        check_bad_file(binary, tmp, cfg)

        view_hash, op_hash = sha512_crypt(VIEW_PW), bcrypt(OP_PW)
        users = os.path.join(tmp, "users")
        with open(users, "w") as f:
            f.write(f"# streetorder users\nwatcher viewer {view_hash}\n\n"
                    f"chief\toperator\t{op_hash}\n")
        cert, key = self_signed(tmp)
        port = free_port()
        cfg["http"] = {"listen": f"127.0.0.1:{port}", "auth": users, "tls_cert": cert,
                       "tls_key": key}
        base = f"https://127.0.0.1:{port}"
        ctx = ssl.create_default_context(cafile=cert)

        def get(path, who=None, method="GET"):
            return http_get(base + path, method=method, headers=who, context=ctx)

        viewer, operator = basic("watcher", VIEW_PW), basic("chief", OP_PW)
        daemon = Daemon(binary, cfg, tmp, config_name="auth.yaml", events=None)
        try:
            st = wait_for(lambda: get("/healthz")[0], 15)
            check(st == 200, f"TLS handshake with the self-signed certificate; /healthz is open "
                  f"(got {st})")
            plain = http_get(f"http://127.0.0.1:{port}/healthz")[0]
            check(plain is None, f"plain HTTP to the TLS port gets no answer (got {plain})")
            untrusted = http_get(base + "/healthz", context=ssl.create_default_context())[0]
            check(untrusted is None, "a client that does not trust the certificate fails")
            wait_for(lambda: get("/cameras/demo/snapshot.jpg", viewer)[0] == 200, 15)

            urls = ["/", "/metrics", "/cameras.json", "/i18n.json", "/fields.json",
                    "/evidence/none.jpg", "/cameras/demo/", "/cameras/demo/snapshot.jpg",
                    "/cameras/demo/frame.jpg", "/cameras/demo/rest.jpg",
                    "/cameras/demo/zones.json", "/cameras/demo/status.json",
                    "/cameras/demo/editor", "/cameras/demo/check?zones=[]",
                    "/cameras/demo/preview?polygon=0,0,1,0,1,1", "/nothing-here",
                    "/cameras/nope/snapshot.jpg"]
            m0 = counter(get("/metrics", viewer)[1].decode(), "streetorder_http_unauthorized_total")
            refused = 0
            for who, label in ((None, "no credentials"), (basic("watcher", "Wr0ng-pw-5e1"),
                                                          "a wrong password"),
                               (basic("mallory", VIEW_PW), "an unknown user"),
                               ({"Authorization": "Bearer abc"}, "another scheme")):
                bad = []
                for u in urls:
                    status, _, headers = get(u, who)
                    challenge = headers.get("WWW-Authenticate", "") if headers else ""
                    if status != 401 or not challenge.startswith('Basic realm="streetorder"'):
                        bad.append((u, status, challenge))
                    refused += 1
                status = get("/metrics", who, method="POST")[0]
                refused += 1
                if status != 401:
                    bad.append(("POST /metrics", status))
                check(not bad, f"every kind of URL is 401 with a Basic challenge with {label} "
                      f"({bad})")
            m1 = counter(get("/metrics", viewer)[1].decode(), "streetorder_http_unauthorized_total")
            check(m0 is not None and m1 is not None and m1 - m0 == refused,
                  f"streetorder_http_unauthorized_total rises by the 401s answered "
                  f"({m0} -> {m1}, {refused} refused)")

            viewer_pages = ["/", "/metrics", "/cameras.json", "/i18n.json", "/cameras/demo/",
                            "/cameras/demo/snapshot.jpg", "/cameras/demo/frame.jpg",
                            "/cameras/demo/zones.json", "/cameras/demo/status.json"]
            got = {u: get(u, viewer)[0] for u in viewer_pages}
            check(all(s == 200 for s in got.values()), f"a viewer gets the pages ({got})")
            actions = ["/fields.json", "/cameras/demo/editor", "/cameras/demo/check?zones=[]",
                       "/cameras/demo/preview?polygon=0,0,1,0,1,1"]
            got = {u: get(u, viewer)[0] for u in actions}
            check(all(s == 403 for s in got.values()),
                  f"a viewer gets 403 on the editor and its actions ({got})")
            got = {u: get(u, operator)[0] for u in actions + viewer_pages}
            check(all(s == 200 for s in got.values()),
                  f"an operator gets the actions and the pages ({got})")
            status, body, _ = get("/cameras/demo/check?zones=[]", operator)
            check(status == 200 and b'"ok"' in body, f"the check answers as before ({body[:80]!r})")
            text = get("/metrics", operator)[1].decode()
            fb = counter(text, "streetorder_http_forbidden_total")
            check(fb == len(actions), f"streetorder_http_forbidden_total counts the 403s ({fb})")

            daemon.stop()
            log = daemon.text()
            leaked = [s for s in (VIEW_PW, OP_PW, "Wr0ng-pw-5e1", view_hash, op_hash,
                                  viewer["Authorization"][6:]) if s in log]
            check(not leaked, f"no log line shows a password, a hash or a header ({leaked})")
            check("https://127.0.0.1" in log and "users file" in log,
                  "the start line says https and that a users file is used")
        finally:
            daemon.kill()
            if failures():
                diag(daemon.text())

        # Without http.auth on every address: served as before, with a warning at start.
        port = free_port()
        cfg["http"] = {"listen": f"0.0.0.0:{port}"}
        daemon = Daemon(binary, cfg, tmp, config_name="open.yaml", events=None, log="open.log")
        try:
            st = wait_for(lambda: http_get(f"http://127.0.0.1:{port}/cameras.json")[0], 15)
            check(st == 200, f"without http.auth the pages answer without credentials ({st})")
            daemon.stop()
            check("is not a loopback address and no users file is set" in daemon.text(),
                  "binding 0.0.0.0 without http.auth logs a warning")
        finally:
            daemon.kill()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
