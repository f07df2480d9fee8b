"""sotest: what the real-process tests share (tests/*/test_*.py, tests/e2e/run_truth.py).

Why this file exists: every test that starts the real build/streetorder needs the same dozen
things (a free local port, TAP lines, a generated scene, a config written to a temp dir, the
daemon started with its log captured, waiting for /healthz, a log line or a JSONL record,
stopping it with SIGTERM and a deadline, a ZeroMQ SUB peer on the PUB feed, the assets/CI skip
rules). They used to be copied into each test and had started to drift (one skipped blank JSONL
lines, another crashed on a half-written one; two exited 77 from a TAP test, which meson reads
as an error, not a skip). They live here once; what a test asserts stays in the test.

A test imports it through its own location, because meson runs the script by its source path
from the build directory:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    import sotest

Only the standard library is imported at the top: yaml and zmq are imported where they are
used, so a test can report missing modules as a skip (test_editor.py) before it needs them.
tests/lib/test_sotest.py checks the helpers themselves (meson test `sotest`).
"""
import contextlib
import fcntl
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = "/usr/bin/python3"

# ---- TAP ------------------------------------------------------------------------------------
# One test process = one TAP stream: `results` is the module's list of (ok, name), shared by
# every module of the test that imports check() (test_evidence.py reuses test_rtsp's).
results = []


def check(ok, name):
    """Print "ok N - name" or "not ok N - name" (name folded onto one line); returns bool(ok).
    A "# skip" or "# todo" in the name (quoted output) would be read as a TAP directive and
    could turn a failure into an expected one: its "#" is written "(hash)"."""
    name = re.sub(r"#(?=\s*(?:skip|todo))", "(hash)", " ".join(str(name).split()),
                  flags=re.I)
    results.append((bool(ok), name))
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}", flush=True)
    return bool(ok)


def note(text):
    """A TAP comment: every line of text prefixed with "# "."""
    for line in str(text).splitlines() or [""]:
        print(f"# {line}", flush=True)


def diag(text, tail=3000):
    """The last `tail` characters of a log, as TAP comments."""
    print("# " + text[-tail:].replace("\n", "\n# "), flush=True)


def failures():
    return [name for ok, name in results if not ok]


def finish():
    """Print the plan; returns the exit status: 0 when there was at least one check and every
    check passed, else 1 (a test that checked nothing has not passed)."""
    print(f"1..{len(results)}", flush=True)
    return 0 if results and not failures() else 1


def in_ci():
    return bool(os.environ.get("CI"))


def skip(why, tap=True):
    """End the test as skipped because something it needs is missing (a tool, a package, the
    assets) -- unless CI is set, where a missing dependency is a failure. Never returns.

    TAP tests print "1..0 # SKIP why" and exit 0 (meson reads exit 77 from a TAP test as an
    error); plain tests (tap=False) exit 77, meson's skip status."""
    if in_ci():
        if tap:
            check(False, f"{why} (CI is set)")
            sys.exit(finish())
        print(f"{why} (CI is set)", flush=True)
        sys.exit(1)
    if tap:
        print(f"1..0 # SKIP {why}", flush=True)
        sys.exit(0)
    print(f"skip: {why}", flush=True)
    sys.exit(77)


def need_rtsp_server():
    """skip() unless gst-rtsp-server can be used from Python (tests/rtsp/rtsp_server.py)."""
    try:
        import gi
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GstRtspServer  # noqa: F401
    except (ImportError, ValueError) as e:
        skip(f"no gst-rtsp-server ({e}): run scripts/bootstrap")


# ---- assets and scenes ----------------------------------------------------------------------
def assets_dir():
    """$STREETORDER_ASSETS, else ../shared/assets beside the source tree (never copied in)."""
    return os.environ.get("STREETORDER_ASSETS") or os.path.join(ROOT, "..", "shared", "assets")


def asset(rel, tap=True):
    """Path of a file of the shared assets; skip() when it is missing (fail when CI is set)."""
    path = os.path.join(assets_dir(), rel)
    if not os.path.exists(path):
        skip(f"assets missing: {path}", tap=tap)
    return path


def model_home():
    """Where scripts/fetch-models puts models by default and where need_model() fetches them:
    $STREETORDER_MODELS, else ${XDG_DATA_HOME:-~/.local/share}/streetorder/models."""
    env = os.environ.get("STREETORDER_MODELS")
    if env:
        return env
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                           "share")
    return os.path.join(data, "streetorder", "models")


def need_model(name, tap=True):
    """Make the object detector NAME's files (cfg and weights of models/NAME.yaml) findable by
    the daemon, or skip(): they are looked for where the daemon looks ($STREETORDER_MODELS/NAME/,
    then the shared assets' models/NAME/) and in model_home(); when they are nowhere,
    scripts/fetch-models fetches them into model_home() if the network allows (unless
    SOTEST_NO_FETCH is set). When found or fetched outside the assets, $STREETORDER_MODELS is
    set for the daemons this test starts. Missing: skip (exit 77 / TAP SKIP), or fail when CI
    is set, like every other asset (ARCHITECTURE, Assets)."""
    import yaml
    with open(os.path.join(ROOT, "models", name + ".yaml")) as f:
        files = yaml.safe_load(f)["files"]
    wanted = [files[k]["name"] for k in ("cfg", "weights") if k in files]

    def has(base):
        return all(os.path.isfile(os.path.join(base, name, w)) for w in wanted)

    if os.environ.get("STREETORDER_MODELS") and has(os.environ["STREETORDER_MODELS"]):
        return
    if has(os.path.join(assets_dir(), "models")):
        return
    home = model_home()
    if not has(home) and not os.environ.get("SOTEST_NO_FETCH"):
        try:
            subprocess.run([PY, os.path.join(ROOT, "scripts", "fetch-models"), "--dest", home,
                            name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=120)
        except subprocess.TimeoutExpired:
            pass
    if has(home):
        os.environ["STREETORDER_MODELS"] = home
        return
    skip(f"model {name}: {', '.join(wanted)} not in the shared assets "
         f"({os.path.join(assets_dir(), 'models', name)}) nor in {os.path.join(home, name)}, "
         "and scripts/fetch-models could not fetch them", tap=tap)


def needs_met(binary=None, model=None):
    """Called by a test once it has checked what it needs (assets, models, tools) and before it
    does any work: with SOTEST_NEEDS_ONLY set it ends there, so that
    tests/lib/test_selection.py can run every test's selection logic (skip, fail or run) in
    seconds without the assets. When the test will run BINARY with MODEL configured, the daemon
    itself is asked first (`BINARY check` on a one-camera config naming MODEL, with the
    environment the test passes on): a test that decided to run although the daemon cannot find
    the model's files exits 1 here, as its real run would. Otherwise it prints "sotest: needs
    met" and exits 0."""
    if not os.environ.get("SOTEST_NEEDS_ONLY"):
        return
    if binary and model:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            cfg = {"detector": {"model": model, "state_dir": os.path.join(tmp, "state")},
                   "cameras": [{"id": "c", "url": "/dev/null", "zones": [
                       {"id": "z", "kind": "illegal_parking", "dwell_s": 10,
                        "polygon": [[0, 0], [1, 0], [1, 1]]}]}]}
            r = subprocess.run([binary, "check", "-c",
                                write_config(os.path.join(tmp, "c.yaml"), cfg)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"sotest: the daemon cannot run with model {model}:\n{r.stdout}{r.stderr}",
                      flush=True)
                sys.exit(1)
    print("sotest: needs met", flush=True)
    sys.exit(0)


@contextlib.contextmanager
def locked(folder):
    """Hold an exclusive lock on FOLDER/.lock: tests running in parallel that share a build
    folder generate what they share (scenes, clips cut from them) once."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def scene(out, name="demo", quiet=True, seed=1):
    """scripts/gen-scene NAME into OUT once per build folder; returns OUT/NAME, which holds
    NAME.mp4, NAME.yaml and NAME.truth.yaml. Scenes are deterministic; gen-scene writes the
    truth file last, so its presence means the scene is complete. Another `seed` (incidental
    content: traffic, passers-by, timings within the scene's script) goes to OUT/seedN/NAME."""
    if seed != 1:
        out = os.path.join(out, f"seed{seed}")
    d = os.path.join(out, name)
    with locked(out):
        if not os.path.exists(os.path.join(d, name + ".truth.yaml")):
            subprocess.run([PY, os.path.join(ROOT, "scripts", "gen-scene"), name, "--out", out,
                            "--seed", str(seed)],
                           check=True, stdout=subprocess.DEVNULL if quiet else None)
    return d


def load_config(path):
    """A config file as a dict, each camera's relative `url` made absolute against the file's
    folder (what the daemon does), so the dict can be written anywhere."""
    import yaml
    with open(path) as f:
        cfg = yaml.safe_load(f)
    folder = os.path.dirname(os.path.abspath(path))
    for cam in cfg.get("cameras") or []:
        url = cam.get("url")
        if url and "://" not in url and not os.path.isabs(url):
            cam["url"] = os.path.join(folder, url)
    return cfg


def write_config(path, cfg):
    """Write cfg as YAML to path atomically (a daemon re-reading it on SIGHUP never sees half a
    file); returns path."""
    import yaml
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        yaml.safe_dump(cfg, f, allow_unicode=True, sort_keys=False)
    os.replace(tmp, path)
    return path


# ---- ports, waiting, HTTP, JSONL ------------------------------------------------------------
def free_port():
    """A free TCP port on 127.0.0.1, found with a plain socket: a ZeroMQ socket closes
    asynchronously and may still hold the port (and accept our SUB's connection) when the
    detector binds it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, seconds, step=0.1, alive=None):
    """Poll pred() until it returns something true (returned) or `seconds` have passed, or
    alive() (when given) says what is awaited has gone; then pred() is asked once more, so a
    condition met at the deadline still counts."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        if alive is not None and not alive():
            break
        time.sleep(step)
    return pred()


def http_get(url, method="GET", timeout=5, headers=None, context=None):
    """(status, body bytes, headers); status None (body b"", headers {}) when the connection
    failed. HTTP errors are answers: their status and body are returned. `headers` are sent
    with the request (e.g. Authorization); `context` is the ssl.SSLContext for https URLs."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
    except (urllib.error.URLError, ConnectionError, socket.timeout,
            http.client.HTTPException):
        return None, b"", {}


def wait_http(url, seconds, status=200):
    """True once url answers `status` within `seconds`."""
    return bool(wait_for(lambda: http_get(url)[0] == status, seconds))


def wait_file(path, seconds):
    """True once path exists within `seconds`."""
    return bool(wait_for(lambda: os.path.exists(path), seconds))


def read_jsonl(path, partial=True):
    """The records of a JSONL file ([] when it does not exist yet).

    partial=True (the writer may still be running): a last line without its newline is being
    written and is left out. partial=False (the writer has exited): every line must be one
    complete JSON record, or ValueError."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    out = []
    lines = text.split("\n")
    tail = lines.pop()          # "" when the file ends with a newline
    if tail and not partial:
        raise ValueError(f"{path}: last line has no newline (torn record): {tail[:80]!r}")
    for n, line in enumerate(lines, 1):
        if not line.strip() and partial:
            continue
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise ValueError(f"{path}:{n}: not a JSON record: {e}: {line[:80]!r}") from None
    return out


# ---- the daemon -----------------------------------------------------------------------------
class Daemon:
    """`streetorder run -c CONFIG [--events FILE] ARGS...` started at once.

    cfg is a config dict (written to TMP/config_name) or the path of an existing file. The
    events file is TMP/events.jsonl unless `events` names another (relative to tmp) or is None
    (no --events). Output goes to TMP/log, stdout and stderr together, or, with split_logs, to
    TMP/stdout.log and TMP/stderr.log. `start` is the monotonic time of the start."""

    def __init__(self, binary, cfg, tmp, *, config_name="run.yaml", events="events.jsonl",
                 args=("--quiet",), log="daemon.log", split_logs=False, env=None):
        self.tmp = tmp
        if isinstance(cfg, dict):
            self.config = write_config(os.path.join(tmp, config_name), cfg)
        else:
            self.config = cfg
        self.events_path = os.path.join(tmp, events) if events else None
        argv = [binary, "run", "-c", self.config]
        if self.events_path:
            argv += ["--events", self.events_path]
        argv += list(args)
        self.argv = argv
        if split_logs:
            self.out_path = os.path.join(tmp, "stdout.log")
            self.err_path = self.log_path = os.path.join(tmp, "stderr.log")
            with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
                self.start = time.monotonic()
                self.proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        else:
            self.out_path = None
            self.err_path = self.log_path = os.path.join(tmp, log)
            with open(self.log_path, "w") as out:
                self.start = time.monotonic()
                self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    @staticmethod
    def _read(path):
        if not path or not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def text(self):
        """The log: stdout and stderr together, or stderr with split_logs."""
        return self._read(self.log_path)

    def stderr(self):
        return self._read(self.err_path)

    def stdout(self):
        """stdout with split_logs; with one log, everything is in text()."""
        return self._read(self.out_path)

    def records(self, partial=True):
        """The --events records so far (see read_jsonl)."""
        return read_jsonl(self.events_path, partial) if self.events_path else []

    def running(self):
        return self.proc.poll() is None

    def wait_for(self, pred, seconds, step=0.1):
        """wait_for() that gives up early when the daemon has exited (pred() asked once more)."""
        return wait_for(pred, seconds, step, alive=self.running)

    def wait_log(self, text, seconds, count=1, step=0.05):
        """True once `text` stands `count` times in the log within `seconds`."""
        return bool(self.wait_for(lambda: self.text().count(text) >= count, seconds, step))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Send sig; the seconds the daemon took to exit, or None when it had not exited after
        `timeout` seconds (it is then killed). The exit status is in self.proc.returncode."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        return time.monotonic() - t0

    def kill(self):
        """SIGKILL if still running (for finally: blocks), and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def dump_log(self, lines=80):
        """The last lines of the log as TAP comments (after a failure)."""
        note("daemon log:")
        for ln in self.text().splitlines()[-lines:]:
            note(ln)


# ---- peers ----------------------------------------------------------------------------------
class Feed:
    """A real ZeroMQ SUB peer on the daemon's PUB feed, receiving in a thread.

    messages: [(monotonic time, topic, record, raw parts)], record the parsed JSON of part 1
    (None if it is not JSON). Connect before the daemon binds (it reconnects every 20 ms until
    then): PUB drops what is sent before a subscriber has joined. `settle` seconds are slept
    after connecting, for the subscription to be in place when the caller starts the daemon."""

    def __init__(self, endpoint, topic=b"", settle=0.3):
        import zmq
        self._zmq = zmq
        self.endpoint = endpoint
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, topic)
        self.sub.setsockopt(zmq.RCVTIMEO, 100)
        self.sub.setsockopt(zmq.RECONNECT_IVL, 20)
        self.sub.connect(endpoint)
        self.messages = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if settle:
            time.sleep(settle)

    def _run(self):
        while not self._stop.is_set():
            try:
                parts = self.sub.recv_multipart()
            except self._zmq.Again:
                continue
            try:
                rec = json.loads(parts[1]) if len(parts) > 1 else None
            except ValueError:
                rec = None
            with self.lock:
                self.messages.append((time.monotonic(), parts[0].decode(errors="replace"), rec,
                                      parts))

    def close(self, after=0.0):
        """Keep receiving `after` more seconds, then stop the thread and close the socket."""
        if after:
            time.sleep(after)
        if self.thread.is_alive():
            self._stop.set()
            self.thread.join()
            self.sub.close(linger=0)
            self.ctx.term()

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def health(self, camera, since=0.0):
        """The health records of one camera received at or after `since`."""
        return [r for t, topic, r, _ in self.snapshot()
                if topic == f"health.{camera}" and t >= since]

    def health_changes(self, camera):
        """[(t, health, detail)] of one camera, heartbeats folded into the state changes."""
        out = []
        for t, topic, rec, _ in self.snapshot():
            if topic == f"health.{camera}" and (not out or out[-1][1] != rec["health"]):
                out.append((t, rec["health"], rec.get("detail")))
        return out

    def events(self, camera=None):
        """[(t, record)] of the event messages (of one camera)."""
        return [(t, rec) for t, topic, rec, _ in self.snapshot()
                if topic.startswith("event.") and (camera is None or rec["camera_id"] == camera)]

    def raw(self):
        """Every byte received, for "never appears anywhere" checks."""
        return b"".join(b"".join(p) for _, _, _, p in self.snapshot())


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte (a hung NVR)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()
