#!/usr/bin/env python3
"""Flower 1.42 deployed runtime on loopback running the task of Tributary's seglearn demo, measured.

Started by ./run (which makes the venv first). Starts a SuperLink and one SuperNode per subject, submits the
app in ./app with `flwr run`, and meanwhile samples every SuperNode's TCP connections to the SuperLink (`ss`)
and the resident memory of every SuperNode's process tree (/proc). Prints a table of the rounds and a
summary; --json writes them. Standard library only (it runs in the venv for the Flower commands).

--tls runs the SuperLink with a certificate made for the run (openssl); --auth also turns on SuperNode
authentication (`--enable-supernode-auth`, one ssh-keygen ECDSA P-384 key per node, registered with
`flwr supernode register`). Every SuperNode's requests to the SuperLink are logged by a sitecustomize hook
(REQUEST_HOOK), to count them and the authentication headers they carry.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
BIN = HERE / ".venv" / "bin"
NODES = 10
FLWR_VERSION = "1.42.0"
MODEL_PARAMETERS = 36 * 7 + 7
AUTH_HEADERS = ("flwr-public-key", "flwr-timestamp", "flwr-signature")  # NodeAuthHttpInterceptor's headers

# Loaded by every Python process of a SuperNode's tree (PYTHONPATH); acts only in the flower-supernode process,
# the one that talks to the SuperLink. For each HTTP request to the SuperLink's port it appends a JSON line:
# time, path, and the bytes of the authentication headers as HTTP/1.1 puts them on the wire (`name: value\r\n`).
# It does not change the requests.
REQUEST_HOOK = """\
import os


def _install():
    log, port = os.environ.get("FLOWER_BENCH_REQUEST_LOG"), os.environ.get("FLOWER_BENCH_LINK_PORT")
    if not log or not port:
        return
    try:
        argv = open("/proc/self/cmdline", "rb").read().split(b"\\0")
    except OSError:
        return
    if not any(a.endswith(b"/flower-supernode") for a in argv[:2]):
        return
    import json
    import threading
    import time

    import httpx

    auth_names = {n.encode() for n in %r}
    lock, out, original, link_port = threading.Lock(), open(log, "a", buffering=1), httpx.Client.send, int(port)

    def send(self, request, *args, **kwargs):
        if request.url.port == link_port:
            auth = sum(len(k) + len(v) + 4 for k, v in request.headers.raw if k.lower() in auth_names)
            line = json.dumps({"t": time.time(), "path": request.url.path, "auth_bytes": auth})
            with lock:
                out.write(line + "\\n")
        return original(self, request, *args, **kwargs)

    httpx.Client.send = send


_install()
""" % (AUTH_HEADERS,)


def say(message: str) -> None:
    print(f"[flower] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Processes:
    """Children, each in its own session so that its whole tree (SuperExec, ClientApp…) can be signalled."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], log: Path, env: dict, cwd: Path) -> subprocess.Popen:
        with open(log, "w") as handle:
            child = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     start_new_session=True)
        self.children.append((name, child))
        return child

    def stop_all(self) -> None:
        """SIGTERM to each child's process group, newest first; after 10 s, SIGKILL to what is left of the
        groups and of the children's descendants (the SuperLink starts its SuperExec in a session of its own)."""
        parents = process_parents()
        descendants = {pid: start_time(pid) for _, child in self.children for pid in tree(child.pid, parents)}
        for _, child in reversed(self.children):
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        for name, child in reversed(self.children):
            try:
                child.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()
        time.sleep(max(0.0, min(2.0, deadline - time.time())))  # detached descendants notice their parent is gone
        for pid, started in descendants.items():
            if start_time(pid) == started and started is not None:  # the same process, still there
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot): tells a process from a later one with its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def process_parents() -> dict[int, int]:
    """pid → parent pid of every process."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
    return parents


def tree(root: int, parents: dict[int, int]) -> set[int]:
    """`root` and all its descendants."""
    members, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in members} - members
        members |= more
        grew = bool(more)
    return members


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_name(pid: int) -> str:
    """The executable's name (from the command line: /proc/PID/comm truncates to 15 characters)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    # A Python console script runs as `python …/bin/NAME`: name it by the script.
    words = [Path(a.decode(errors="replace")).name for a in argv[:2] if a]
    return words[1] if len(words) > 1 and words[0].startswith("python") else (words[0] if words else "")


SS_PID = re.compile(r"pid=(\d+)")
SS_SENT = re.compile(r"\bbytes_sent:(\d+)")
SS_RECEIVED = re.compile(r"\bbytes_received:(\d+)")


class Sampler(threading.Thread):
    """Samples the nodes' SuperLink connections every 0.2 s and their memory every 0.5 s.

    Bytes: the kernel's per-connection payload counters (bytes_sent = uplink, bytes_received = downlink) of
    every TCP connection a node's process tree has to the SuperLink. Each connection is tracked by its address
    pair, so a connection that closes keeps counting with its last sample. `timeline` holds
    (time, total up, total down) after each sample.
    """

    def __init__(self, roots: list[int], link_port: int) -> None:
        super().__init__(daemon=True)
        self.roots, self.link_port = roots, link_port
        self.connections: dict[tuple[str, str], list[int]] = {}  # (local, peer) → [up, down]
        self.closed = [0, 0]  # counters of connections whose address pair was reused by a newer one
        self.opened: list[float] = []  # when each connection was first seen
        self.timeline: list[tuple[float, int, int]] = []
        self.peak_kib = [0] * len(roots)  # per node: peak of the summed RSS of its processes
        self.peak_processes = [0] * len(roots)
        self.peak_by_name: dict[str, int] = {}  # process name → its largest RSS in any node
        self.stopping = threading.Event()

    def run(self) -> None:
        next_memory = 0.0
        while not self.stopping.is_set():
            parents = process_parents()
            members = [tree(root, parents) for root in self.roots]
            self.sample_bytes(set().union(*members))
            if time.time() >= next_memory:
                next_memory = time.time() + 0.5
                for i, pids in enumerate(members):
                    sizes = {pid: rss_kib(pid) for pid in pids}
                    self.peak_kib[i] = max(self.peak_kib[i], sum(sizes.values()))
                    self.peak_processes[i] = max(self.peak_processes[i], len(pids))
                    for pid, kib in sizes.items():
                        name = process_name(pid)
                        if kib and name:  # not one that ended meanwhile
                            self.peak_by_name[name] = max(self.peak_by_name.get(name, 0), kib)
            self.stopping.wait(0.2)

    def sample_bytes(self, pids: set[int]) -> None:
        # No state filter: closing connections (FIN-WAIT, …) still report their counters.
        out = subprocess.run(["ss", "-tinpH", f"( dport = :{self.link_port} )"],
                             capture_output=True, text=True).stdout
        # With -i, a socket's counters are on the indented line(s) after its own line.
        sockets = re.split(r"\n(?=\S)", out.strip())
        for sock in sockets:
            fields = sock.split()
            pid = SS_PID.search(sock)
            if len(fields) < 5 or not pid or int(pid.group(1)) not in pids:
                continue
            key = (fields[3], fields[4])
            sent, received = SS_SENT.search(sock), SS_RECEIVED.search(sock)
            now = [int(sent.group(1)) if sent else 0, int(received.group(1)) if received else 0]
            old = self.connections.get(key)
            if old and (now[0] < old[0] or now[1] < old[1]):  # the same address pair, a new connection
                self.closed = [self.closed[0] + old[0], self.closed[1] + old[1]]
                self.opened.append(time.time())
            elif not old:
                self.opened.append(time.time())
            self.connections[key] = now
        up = self.closed[0] + sum(c[0] for c in self.connections.values())
        down = self.closed[1] + sum(c[1] for c in self.connections.values())
        self.timeline.append((time.time(), up, down))

    def at(self, t: float) -> tuple[int, int]:
        """Totals of the first sample taken at or after `t` (the last one if none)."""
        for when, up, down in self.timeline:
            if when >= t:
                return up, down
        return self.timeline[-1][1:] if self.timeline else (0, 0)


def command(args: list, what: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, **{"text": True, **kwargs})
    if result.returncode != 0:
        output = result.stderr or result.stdout
        output = output if isinstance(output, str) else output.decode(errors="replace")
        raise RuntimeError(f"{what} failed (exit {result.returncode}): {output.strip()}")
    return result


TLS_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def make_tls(directory: Path) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost signed by it, all ECDSA P-256, valid for 2 days."""
    if not shutil.which("openssl"):
        raise RuntimeError("--tls needs the openssl command")
    directory.mkdir()
    d = {name: directory / name for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")}
    (directory / "openssl.cnf").write_text(TLS_CONFIG)
    cnf = directory / "openssl.cnf"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    command(["openssl", "req", "-x509", "-new", *ec, "-keyout", d["ca.key"], "-out", d["ca.crt"], "-days", "2",
             "-subj", "/CN=Tributary bench CA", "-config", cnf, "-extensions", "ca_ext"], "openssl (CA)")
    command(["openssl", "req", "-new", *ec, "-keyout", d["server.key"], "-out", d["server.csr"],
             "-subj", "/CN=127.0.0.1", "-config", cnf], "openssl (server key)")
    command(["openssl", "x509", "-req", "-in", d["server.csr"], "-CA", d["ca.crt"], "-CAkey", d["ca.key"],
             "-set_serial", "0x" + os.urandom(16).hex(), "-days", "2", "-out", d["server.crt"],
             "-extfile", cnf, "-extensions", "server_ext"], "openssl (server certificate)")
    command(["openssl", "verify", "-CAfile", d["ca.crt"], d["server.crt"]], "openssl verify")
    return d


def der_bytes(certificate: Path) -> int:
    return len(command(["openssl", "x509", "-in", certificate, "-outform", "DER"], "openssl x509",
                       text=False).stdout)


def make_node_key(path: Path) -> None:
    """An ECDSA P-384 key pair in OpenSSH format (PATH, PATH.pub), the way Flower's guide makes SuperNode keys:
    flower-supernode reads the private key with load_ssh_private_key, `flwr supernode register` the public key
    with load_ssh_public_key."""
    if not shutil.which("ssh-keygen"):
        raise RuntimeError("--auth needs the ssh-keygen command")
    command(["ssh-keygen", "-q", "-t", "ecdsa", "-b", "384", "-N", "", "-C", path.parent.name, "-f", path],
            "ssh-keygen")


def auth_metadata_bytes_per_request() -> float:
    """The bytes NodeAuthHttpInterceptor (flwr/supernode/node_auth_http_interceptor.py) adds to each Fleet
    request, computed from its code, for a P-384 node key. Each header costs `name: value\\r\\n` in HTTP/1.1.

    - flwr-public-key: base64 of the public key's PEM (SubjectPublicKeyInfo). P-384 SPKI DER is 120 bytes
      (SEQUENCE 2 + AlgorithmIdentifier 2+9+7 + BIT STRING 2+1+97); its PEM is 27 + 160 + 3 + 25 = 215 bytes
      (header line, base64 in lines of 64, the newlines, footer line), so the value is 288 characters.
    - flwr-timestamp: datetime.now(UTC).isoformat(), "YYYY-MM-DDTHH:MM:SS.ffffff+00:00": 32 characters.
    - flwr-signature: base64 of the DER ECDSA-SHA256 signature of the timestamp. DER: SEQUENCE 2 + two INTEGERs
      of 2 + 48 bytes, 49 when the top bit is set (probability 1/2 each): 102, 103 or 104 bytes with
      probability 1/4, 1/2, 1/4, hence 136, 140 or 140 base64 characters, 139 on average.
    """
    def b64(n: int) -> int:
        return 4 * ((n + 2) // 3)
    spki = 120
    pem = len("-----BEGIN PUBLIC KEY-----\n") + b64(spki) + -(-b64(spki) // 64) + len("-----END PUBLIC KEY-----\n")
    values = {"flwr-public-key": b64(pem), "flwr-timestamp": len("2026-01-01T00:00:00.000000+00:00"),
              "flwr-signature": 0.25 * b64(102) + 0.75 * b64(103)}
    return sum(len(name) + 2 + size + 2 for name, size in values.items())


def read_requests(work: Path) -> list[list[dict]]:
    """Per node: the requests its SuperNode sent to the SuperLink (REQUEST_HOOK's lines)."""
    nodes = []
    for i in range(NODES):
        path = work / f"node-{i}.requests.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        nodes.append([json.loads(line) for line in lines if line.endswith("}")])  # the last may be half written
    return nodes


def fetch_data(data: Path) -> None:
    if (data / "index.csv").is_file():
        return
    say(f"fetching the seglearn smartwatch data into {data} (once)")
    subprocess.run([str(BIN / "python"), str(ROOT / "tools/datasets/fetch_seglearn.py"), "--out", str(data),
                    "--cache", str(data.parent / "seglearn-cache")], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(prog="tools/bench/flower/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10, help="FedAvg rounds (default 10)")
    ap.add_argument("--json", type=Path, help="write the results to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, events, Flower state)")
    ap.add_argument("--idle", type=float, default=10,
                    help="seconds to measure the idle nodes' polling traffic before the run (default 10)")
    ap.add_argument("--stall", type=float, default=300,
                    help="give up after this many seconds without a new event from the ServerApp (default 300)")
    ap.add_argument("--data", type=Path, default=ROOT / ".demo" / "seglearn-csv",
                    help="seglearn CSV directory, fetched if missing (default .demo/seglearn-csv)")
    ap.add_argument("--tls", action="store_true",
                    help="TLS between the SuperNodes (and flwr) and the SuperLink, with a CA and server "
                         "certificate made for the run with openssl")
    ap.add_argument("--auth", action="store_true",
                    help="SuperNode authentication (needs --tls): the SuperLink runs with --enable-supernode-auth "
                         "and accepts only the nodes whose keys were registered with `flwr supernode register`")
    args = ap.parse_args()
    if args.auth and not args.tls:
        ap.error("--auth needs --tls: Flower 1.42 refuses --enable-supernode-auth on an insecure SuperLink")

    fetch_data(args.data)
    work = Path(tempfile.mkdtemp(prefix="flower-bench-"))
    processes = Processes()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return run(args, work, processes, stop)
    except RuntimeError as error:
        say(f"failed: {error} (logs in {work})")
        args.keep = True
        return 1
    finally:
        processes.stop_all()
        if args.keep:
            say(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path, processes: Processes, stop: threading.Event) -> int:
    link_port = free_port()
    events = work / "events.jsonl"
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", FLWR_TELEMETRY_ENABLED="0",
               FLWR_DISABLE_UPDATE_CHECK="1", PYTHONUNBUFFERED="1")

    tls = make_tls(work / "tls") if args.tls else None
    if tls:
        say(f"TLS: CA and server certificate (ECDSA P-256, {der_bytes(tls['server.crt'])} B DER) in {work / 'tls'}")

    # The SuperLink: one HTTP port for the Fleet, Control and ServerAppIo APIs in 1.42; its SuperExec runs the
    # ServerApp in a subprocess (over TLS too, verified with the CA file). The app's dependencies are already
    # in the venv: no `uv sync`.
    (work / "superlink").mkdir()
    security = (["--ssl-ca-certfile", str(tls["ca.crt"]), "--ssl-certfile", str(tls["server.crt"]),
                 "--ssl-keyfile", str(tls["server.key"])] if tls else ["--insecure"])
    security += ["--enable-supernode-auth"] if args.auth else []
    processes.start("superlink", [str(BIN / "flower-superlink"), *security, "--host", "127.0.0.1",
                                  "--port", str(link_port), "--disable-runtime-dependency-installation"],
                    work / "superlink.log", dict(env, FLWR_HOME=str(work / "superlink")), work / "superlink")

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", link_port)) == 0

    wait_for(listening, 60, "the SuperLink")
    say(f"SuperLink on 127.0.0.1:{link_port} ({'TLS' if tls else 'insecure'}"
        f"{', SuperNode authentication' if args.auth else ''})")

    # `flwr run` and `flwr supernode register` read the SuperLink connection from $FLWR_HOME/config.toml.
    cli_home = work / "cli"
    cli_home.mkdir()
    connection = f'root-certificates = "{tls["ca.crt"]}"' if tls else "insecure = true"
    (cli_home / "config.toml").write_text(
        f'[superlink]\ndefault = "bench"\n\n[superlink.bench]\naddress = "127.0.0.1:{link_port}"\n{connection}\n')
    cli_env = dict(env, FLWR_HOME=str(cli_home))

    # With --auth: a key pair per node, its public key registered with the SuperLink's Control API.
    if args.auth:
        for i in range(NODES):
            (work / f"node-{i}").mkdir()
            make_node_key(work / f"node-{i}" / "auth.key")
            command([BIN / "flwr", "supernode", "register", work / f"node-{i}" / "auth.key.pub", "bench"],
                    f"flwr supernode register (node {i})", env=cli_env, cwd=cli_home)
        say(f"{NODES} SuperNode keys (ECDSA P-384) registered with `flwr supernode register`")
        args.unregistered_refused = check_unregistered_refused(work, link_port, tls, env, processes)
        say("an extra SuperNode with an unregistered key was refused at ActivateNode")

    # One SuperNode per subject, each with its own Flower home and ClientApp-facing port. The request hook
    # logs what each SuperNode sends to the SuperLink.
    hook = work / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(REQUEST_HOOK)
    pythonpath = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p)
    roots = []
    for i in range(NODES):
        home = work / f"node-{i}"
        home.mkdir(exist_ok=True)
        node_config = f'partition-id={i} num-partitions={NODES} data-dir="{args.data.resolve()}"'
        security = ["--root-certificates", str(tls["ca.crt"])] if tls else ["--insecure"]
        security += ["--auth-supernode-private-key", str(home / "auth.key")] if args.auth else []
        node = processes.start(f"supernode {i}", [
            str(BIN / "flower-supernode"), *security, "--superlink", f"127.0.0.1:{link_port}",
            "--host", "127.0.0.1", "--port", str(free_port()), "--node-config", node_config],
            work / f"node-{i}.log", dict(env, FLWR_HOME=str(home), PYTHONPATH=pythonpath,
                                         FLOWER_BENCH_REQUEST_LOG=str(work / f"node-{i}.requests.jsonl"),
                                         FLOWER_BENCH_LINK_PORT=str(link_port)), home)
        roots.append(node.pid)
    wait_for(lambda: all("SuperNode ID" in (work / f"node-{i}.log").read_text() for i in range(NODES)),
             300, "the SuperNodes to register")
    say(f"{NODES} SuperNodes registered")

    sampler = Sampler(roots, link_port)
    sampler.start()
    # What idle nodes exchange (polls, heartbeats) before any run: the floor under every round's bytes.
    wait_for(lambda: len(sampler.timeline) > 0, 10, "the first byte sample")
    t0, up0, down0 = sampler.timeline[0]
    stop.wait(args.idle)
    t1, up1, down1 = sampler.timeline[-1]
    idle_requests = sum(1 for node in read_requests(work) for r in node if t0 <= r["t"] <= t1)
    idle = ((up1 - up0) / NODES / max(t1 - t0, 1e-9), (down1 - down0) / NODES / max(t1 - t0, 1e-9),
            idle_requests / NODES / max(t1 - t0, 1e-9))
    say(f"idle: {idle[0]:.0f} B/s up, {idle[1]:.0f} B/s down, {idle[2]:.2f} requests/s per node "
        f"over {t1 - t0:.1f} s")

    run_config = f'num-server-rounds={args.rounds} events-file="{events}"'
    flwr = processes.start("flwr run", [str(BIN / "flwr"), "run", str(HERE / "app"), "bench", "--stream",
                                        "--run-config", run_config], work / "flwr-run.log", cli_env, work)
    say(f"flwr run: {args.rounds} rounds of FedAvg over {NODES} SuperNodes (log: {work}/flwr-run.log)")
    print()
    header = (f"{'round':>5}  {'clients':>7}  {'accuracy':>8}  {'up (bytes)':>10}  {'down (bytes)':>12}  "
              f"{'up/node':>8}  {'down/node':>9}  {'train':>7}  {'train+eval':>10}  {'req/node':>8}  "
              f"{'conn/node':>9}")
    print(header, flush=True)

    seen: list[dict] = []
    printed = 0
    last_progress = time.time()
    while not stop.is_set():
        lines = events.read_text().splitlines() if events.exists() else []
        if len(lines) > len(seen):
            last_progress = time.time()
        seen = [json.loads(line) for line in lines]
        rows = rows_from(seen, sampler, read_requests(work))
        for row in rows[printed:]:
            print(format_row(row), flush=True)
        printed = len(rows)
        if any(e["event"] == "done" for e in seen) and printed == args.rounds:
            break
        if flwr.poll() is not None and not any(e["event"] == "done" for e in seen):
            tail = "\n".join((work / "flwr-run.log").read_text().splitlines()[-15:])
            raise RuntimeError(f"flwr run ended (exit {flwr.returncode}) before the last round:\n{tail}")
        if time.time() - last_progress > args.stall:
            failures = sum((work / f"node-{i}.log").read_text().count("task-token authentication failed")
                           for i in range(NODES))
            hint = (f"; the SuperNodes logged {failures} ClientApp task-token failures: a ClientApp that takes "
                    "more than 30 s to start loses its task and is started again, which on a loaded machine "
                    "piles up processes" if failures else "")
            raise RuntimeError(f"no progress for {args.stall:.0f} s{hint}")
        time.sleep(0.2)
    sampler.stopping.set()
    sampler.join()
    if stop.is_set():
        say("interrupted")
        return 130
    launches = sum((work / f"node-{i}.log").read_text().count("Start `flwr-clientapp` process") for i in range(NODES))
    requests = read_requests(work)
    return summarize(args, rows_from(seen, sampler, requests), sampler, idle, launches, requests, tls)


def check_unregistered_refused(work: Path, link_port: int, tls: dict, env: dict, processes: Processes) -> bool:
    """Starts one more SuperNode, with a key that was not registered, and checks that the SuperLink refuses it
    (the SuperNode exits at ActivateNode). Raises if it was accepted."""
    home = work / "node-unregistered"
    home.mkdir()
    make_node_key(home / "auth.key")
    log = work / "node-unregistered.log"
    node = processes.start("unregistered supernode", [
        str(BIN / "flower-supernode"), "--root-certificates", str(tls["ca.crt"]),
        "--auth-supernode-private-key", str(home / "auth.key"), "--superlink", f"127.0.0.1:{link_port}",
        "--host", "127.0.0.1", "--port", str(free_port())], log, dict(env, FLWR_HOME=str(home)), home)
    try:
        node.wait(timeout=120)
    except subprocess.TimeoutExpired:
        pass
    text = log.read_text()
    if node.returncode is None or "SuperNode ID" in text:
        raise RuntimeError(f"a SuperNode with an unregistered key was not refused (see {log})")
    if "Failed to activate SuperNode" not in text:
        raise RuntimeError(f"the SuperNode with an unregistered key failed for another reason (see {log})")
    return True


def rows_from(events: list[dict], sampler: Sampler, requests: list[list[dict]]) -> list[dict]:
    """One row per round that has been evaluated and byte-sampled after its end.

    A round's bytes are what the nodes exchanged with the SuperLink from the end of the previous round (for
    round 1: the ServerApp's start) to the end of this one: train and evaluate messages, and the polls and
    heartbeats in between. Its requests and new connections are counted over the same interval.
    """
    by = {(e["event"], e["round"]): e for e in events}
    if ("start", 0) not in by or not sampler.timeline:
        return []
    rows, previous = [], by[("start", 0)]["t"]
    last_sample = sampler.timeline[-1][0]
    for r in range(1, 1 + sum(1 for e in events if e["event"] == "evaluated")):
        sent, trained, evaluated = by[("train_sent", r)], by[("train_aggregated", r)], by[("evaluated", r)]
        if last_sample < evaluated["t"]:
            break
        (up0, down0), (up1, down1) = sampler.at(previous), sampler.at(evaluated["t"])
        inside = [q for node in requests for q in node if previous < q["t"] <= evaluated["t"]]
        rows.append({"round": r, "devices": evaluated["devices"], "accuracy": evaluated["accuracy"],
                     "up_wire_bytes": up1 - up0, "down_wire_bytes": down1 - down0,
                     "round_s": trained["t"] - sent["t"], "round_with_eval_s": evaluated["t"] - sent["t"],
                     "requests": len(inside), "auth_metadata_bytes": sum(q["auth_bytes"] for q in inside),
                     "requests_by_path": dict(sorted(collections.Counter(
                         q["path"].rsplit("/", 1)[-1] for q in inside).items())),
                     "new_connections": sum(1 for t in sampler.opened if previous < t <= evaluated["t"]),
                     "client_accuracies": evaluated["accuracies"]})
        previous = evaluated["t"]
    return rows


def format_row(row: dict) -> str:
    return (f"{row['round']:>5}  {row['devices']:>7}  {row['accuracy']:>8.4f}  {row['up_wire_bytes']:>10}  "
            f"{row['down_wire_bytes']:>12}  {row['up_wire_bytes'] / NODES:>8.0f}  "
            f"{row['down_wire_bytes'] / NODES:>9.0f}  {row['round_s']:>6.2f}s  {row['round_with_eval_s']:>9.2f}s  "
            f"{row['requests'] / NODES:>8.1f}  {row['new_connections'] / NODES:>9.1f}")


def summarize(args, rows: list[dict], sampler: Sampler, idle: tuple[float, float, float], launches: int,
              requests: list[list[dict]], tls: dict | None) -> int:
    print()
    if not rows:
        say("no round finished")
        return 1
    per_node_up = [r["up_wire_bytes"] / NODES for r in rows]
    per_node_down = [r["down_wire_bytes"] / NODES for r in rows]
    peaks = sorted(kib / 1024 for kib in sampler.peak_kib)
    measured = [q["auth_bytes"] for node in requests for q in node]
    result = {
        "system": "flower", "version": FLWR_VERSION, "devices": NODES, "tls": bool(tls), "auth": args.auth,
        "rounds": rows,
        "final_accuracy": rows[-1]["accuracy"],
        "up_wire_bytes_per_node_round_median": statistics.median(per_node_up),
        "down_wire_bytes_per_node_round_median": statistics.median(per_node_down),
        "round_s_median": statistics.median(r["round_s"] for r in rows),
        "round_with_eval_s_median": statistics.median(r["round_with_eval_s"] for r in rows),
        "client_rss_mib_median": statistics.median(peaks), "client_rss_mib_max": peaks[-1],
        "client_rss_mib_per_node": [round(kib / 1024, 1) for kib in sampler.peak_kib],
        "client_processes_per_node_max": max(sampler.peak_processes),
        "client_rss_mib_by_process": {k: round(v / 1024, 1) for k, v in sorted(sampler.peak_by_name.items())},
        "idle_up_bytes_per_node_s": round(idle[0], 1), "idle_down_bytes_per_node_s": round(idle[1], 1),
        "idle_requests_per_node_s": round(idle[2], 3),
        "node_connections_seen": len(sampler.connections),
        # Requests a SuperNode sent to the SuperLink (REQUEST_HOOK), and TCP connections opened, per round.
        "requests_per_node_round": statistics.median(r["requests"] / NODES for r in rows),
        "connections_per_node_round": statistics.median(r["new_connections"] / NODES for r in rows),
        # NodeAuthHttpInterceptor's three headers: computed from Flower's code for a P-384 key, and as measured
        # on the requests. Flower 1.42 signs every Fleet request, with or without --auth (without it, a
        # SuperNode signs with a P-384 key it makes at start-up), so these bytes are in every mode's figures.
        "auth_metadata_bytes_per_request": auth_metadata_bytes_per_request(),
        "auth_metadata_bytes_per_request_measured": round(statistics.mean(measured), 1) if measured else None,
        "auth_metadata_bytes_per_node_round": statistics.median(r["auth_metadata_bytes"] / NODES for r in rows),
        "tls_server_cert_der_bytes": der_bytes(tls["server.crt"]) if tls else None,
        "auth_unregistered_node_refused": getattr(args, "unregistered_refused", None),
        "clientapp_launches": launches,  # 2 per node per round unless Flower had to restart a ClientApp
        "model_parameters": MODEL_PARAMETERS,
    }
    say(f"final accuracy (mean of the {rows[-1]['devices']} clients' hold-out accuracies): "
        f"{result['final_accuracy']:.4f}")
    say(f"on the wire per node per round (median): {result['up_wire_bytes_per_node_round_median']:.0f} B up, "
        f"{result['down_wire_bytes_per_node_round_median']:.0f} B down (TCP payload of the SuperNode-SuperLink "
        f"connections, polling included; {len(sampler.connections)} connections seen)")
    say(f"requests per node per round (median): {result['requests_per_node_round']:.1f} over "
        f"{result['connections_per_node_round']:.1f} new TCP connections; authentication headers: "
        f"{result['auth_metadata_bytes_per_request']:.0f} B per request computed, "
        f"{result['auth_metadata_bytes_per_request_measured']} B measured, "
        f"{result['auth_metadata_bytes_per_node_round']:.0f} B per node per round")
    say(f"round time (median): {result['round_s_median']:.2f} s train round trip, "
        f"{result['round_with_eval_s_median']:.2f} s with the evaluate round trip")
    say(f"client resident memory (peak of each SuperNode's process tree, up to "
        f"{result['client_processes_per_node_max']} processes): median {result['client_rss_mib_median']:.1f} MiB, "
        f"max {result['client_rss_mib_max']:.1f} MiB; largest single processes: "
        + ", ".join(f"{k} {v:.0f}" for k, v in result["client_rss_mib_by_process"].items()) + " MiB")
    if launches != 2 * NODES * len(rows):
        say(f"note: {launches} ClientApp processes were started for {2 * NODES * len(rows)} messages")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        say(f"wrote {args.json}")
    return 0 if len(rows) == args.rounds else 1


if __name__ == "__main__":
    sys.exit(main())
