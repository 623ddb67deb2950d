#!/usr/bin/env python3
"""The Tributary demo: a broker, an aggregator and one agent per device, running federated rounds on real
sensor data, with a table of the rounds. Started by tools/demo (which installs and builds first).

  tools/demo [--data seglearn|sim] [--devices N] [--rounds R] [--samples S] [--secure] [--keep] [--json FILE]

seglearn: the seglearn smartwatch recordings (10 subjects doing 7 shoulder exercises), one device per subject,
each agent reading its subject's recordings as fast as it can. sim: the firmware simulator's IMU devices at
50 Hz over MQTT, labelled with their activity. Everything listens on loopback only and stops at the end
(or on Ctrl-C). Standard library only.

--secure runs the same rounds in production mode: `tributary provision` makes a fleet in the work directory (CA,
broker certificate and configuration, one identity and signing key per device, the aggregator's keys, a
publisher for the simulator, observers for the demo's own watchers), Mosquitto runs the fleet's configuration
(mutual TLS only, certificate name = username = client id, the fleet's ACL), and every update, status and
publication is signed and checked.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".build" / "release"
# The share of the model's parameters in each downlink delta (the rest waits on the aggregator for later rounds).
DOWNLINK_K = 0.3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agent_wire_bytes(port: int) -> tuple[int, int]:
    """TCP payload bytes (sent, received) of every agent's connection to the broker, from the kernel (ss)."""
    out = subprocess.run(["ss", "-tinpH", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True).stdout
    sent = received = 0
    owner = ""
    for line in out.splitlines():
        if not line.startswith(("\t", " ")):
            owner = line
            continue
        if '"tributary-agen' not in owner:
            continue
        for field in line.split():
            if field.startswith("bytes_sent:"):
                sent += int(field.split(":")[1])
            elif field.startswith("bytes_received:"):
                received += int(field.split(":")[1])
    return sent, received


def footprint(children: list[subprocess.Popen]) -> tuple[list[float], list[float]]:
    """Resident memory (MiB, sorted) and CPU seconds of the running children."""
    rss, _, cpu = footprint_with_peaks(children)
    return rss, cpu


def footprint_with_peaks(children: list[subprocess.Popen]) -> tuple[list[float], list[float], list[float]]:
    """Resident memory now and at its peak since start (VmRSS, VmHWM; MiB, sorted) and CPU seconds."""
    rss, peaks, cpu = [], [], []
    tick = os.sysconf("SC_CLK_TCK")
    for child in children:
        try:
            status = Path(f"/proc/{child.pid}/status").read_text()
            stat = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        rss += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")]
        peaks += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
        cpu.append((int(stat[11]) + int(stat[12])) / tick)
    return sorted(rss), sorted(peaks), cpu


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


class Processes:
    """Children started by the demo, stopped (SIGTERM, then SIGKILL) in reverse order."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], log: Path, **kw) -> subprocess.Popen:
        handle = open(log, "w")
        child = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, **kw)
        self.children.append((name, child))
        return child

    def stop_all(self) -> None:
        # Newest first, each group waited for: agents before the aggregator, both before the broker.
        for name, child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    say(f"{name} did not stop in time; killing it")
                    child.kill()


def seglearn_recordings(work: Path) -> dict[str, list[str]]:
    """Recordings per subject (converted once, cached under .demo/)."""
    cache = ROOT / ".demo" / "seglearn"
    if not (cache / "s01_left_e0_r0.trec").exists():
        python = ROOT / "tools" / ".venv-tools" / "bin" / "python"
        say("fetching the seglearn smartwatch data and converting it to recordings (once)")
        subprocess.run([str(python), str(ROOT / "tools/datasets/fetch_seglearn.py"), "--recordings", str(cache),
                        "--replay", str(BIN / "tributary-replay")], check=True, stdout=subprocess.DEVNULL)
    subjects: dict[str, list[str]] = {}
    for path in sorted(cache.glob("s*.trec")):
        subjects.setdefault(path.name[:3], []).append(str(path))
    return subjects


def provision(work: Path, port: int, devices: list[str], sim: bool) -> Path:
    """A fleet for the demo, made by `tributary provision`: the broker on loopback at `port`, run as this user."""
    fleet = work / "fleet"
    tool = [str(BIN / "tributary"), "provision"]
    user = pwd.getpwuid(os.geteuid()).pw_name

    def step(*arguments: str) -> None:
        subprocess.run(tool + list(arguments) + ["--dir", str(fleet)], check=True, stdout=subprocess.DEVNULL)

    step("init", "--port", str(port), "--listen", "127.0.0.1", "--broker-user", user, "--name", "Tributary demo")
    step("add-device", *devices)
    step("add-observer", "demo-watch")
    step("add-observer", "demo-models")
    # One publisher per simulator process (a certificate is one MQTT identity, so one connection each).
    if sim:
        for first in range(0, len(devices), 250):
            step("add-publisher", f"sim-{first + 1}", "--devices", ",".join(devices[first:first + 250]))
    say(f"provisioned {len(devices)} devices, the aggregator and the broker in {fleet} (tributary provision)")
    return fleet


def publisher_options(fleet: Path | None, first: int) -> list[str]:
    """tributary-sim's TLS identity in production: the publisher provisioned for its devices."""
    if fleet is None:
        return []
    base = fleet / "clients" / f"sim-{first + 1}"
    return ["--tls-ca", str(base / "ca.crt"), "--tls-cert", str(base / "tls.crt"), "--tls-key", str(base / "tls.key")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=["seglearn", "sim"], default="seglearn")
    ap.add_argument("--devices", type=int, default=None, help="devices (seglearn: 1-10 subjects; default all)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--samples", type=int, default=200, help="windows each device trains on per round")
    ap.add_argument("--strategy", default="fedavg", help="fedavg, fedadam, fedyogi, fedavgm, median, …")
    ap.add_argument("--values", default="int8", help="update values: float32, float16, int8, ternary")
    ap.add_argument("--k", type=float, default=0.1, help="share of parameters per update")
    ap.add_argument("--downlink-k", type=float, default=DOWNLINK_K,
                    help="share of parameters per model delta to the devices (1: the dense model every round)")
    ap.add_argument("--secure", action="store_true",
                    help="production mode: a provisioned fleet, mutual TLS, signed updates and publications")
    ap.add_argument("--tls-only", action="store_true",
                    help="the provisioned fleet and mutual TLS, but nothing signed (insecure: true): for measuring "
                         "what signatures cost (tributary-bench trust)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, state)")
    ap.add_argument("--json", metavar="FILE", help="also write the rounds and the summary as JSON")
    ap.add_argument("--fleet", action="store_true",
                    help="run every agent in one process (tributary-agent fleet), each with its own connection: "
                         "for hundreds or thousands of devices")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tributary-demo-"))
    processes = Processes()
    stop = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        return run(args, work, processes, stop)
    finally:
        processes.stop_all()
        if args.keep:
            say(f"logs and state kept in {work}")
        else:
            subprocess.run(["rm", "-rf", str(work)])


def run(args, work: Path, processes: Processes, stop: dict) -> int:
    broker_port, http_port = free_port(), free_port()
    if args.data == "seglearn":
        subjects = seglearn_recordings(work)
        devices = sorted(subjects)[: args.devices or len(subjects)]
        if args.fleet:
            width = max(4, len(str(args.devices or 10)))
            devices = [f"dev-{i + 1:0{width}d}" for i in range(args.devices or 10)]
        stream, classes, channels = "watch", 7, 7
    else:
        width = max(4, len(str(args.devices or 5)))
        devices = [f"sim-{i + 1:0{width}d}" for i in range(args.devices or 5)]
        stream, classes, channels = "imu", 4, 7
    # Many devices: their connections, and the broker's, need more open files than the usual 1024.
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)

    if args.secure or args.tls_only:
        fleet = provision(work, broker_port, devices, sim=args.data == "sim")
        conf_path = fleet / "broker" / "mosquitto.conf"
    else:
        fleet = None
        # The broker: the development configuration (loopback only) on a free port.
        conf = (ROOT / "Configs/mosquitto/dev.conf").read_text()
        conf = conf.replace("listener 1883 127.0.0.1", f"listener {broker_port} 127.0.0.1")
        conf = conf.replace("persistence_location /tmp/tributary-mosquitto/", f"persistence_location {work}/mosquitto/")
        (work / "mosquitto").mkdir()
        # Started as root, mosquitto drops to its own user: let it reach and write its persistence folder.
        if os.geteuid() == 0:
            os.chmod(work, 0o755)
            try:
                shutil.chown(work / "mosquitto", user="mosquitto")
            except (LookupError, OSError):
                os.chmod(work / "mosquitto", 0o777)
        conf_path = work / "mosquitto.conf"
        conf_path.write_text(conf)
    broker = processes.start("mosquitto", ["mosquitto", "-c", str(conf_path)], work / "mosquitto.log")
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", broker_port)) == 0:
                break
        time.sleep(0.05)
    say(f"mosquitto on 127.0.0.1:{broker_port}" + (" (mutual TLS, the fleet's ACL)" if fleet else ""))

    def connection(folder: str | None) -> dict:
        """The broker (and trust) settings of a program: insecure, or a provisioned identity's."""
        if fleet is None:
            return {"insecure": True, "broker": {"host": "127.0.0.1", "port": broker_port}}
        base = f"{fleet}/{folder}"
        settings = {"broker": {"host": "127.0.0.1", "port": broker_port,
                               "tls": {"ca_file": f"{base}/ca.crt", "cert_file": f"{base}/tls.crt",
                                       "key_file": f"{base}/tls.key"}}}
        if args.tls_only:
            settings["insecure"] = True
        elif folder == "clients/aggregator":
            settings["trust"] = {"signing_key": f"{base}/signing.key", "registry": f"{fleet}/registry.json"}
        else:
            settings["trust"] = {"signing_key": f"{base}/signing.key",
                                 "aggregator_key": f"{fleet}/clients/aggregator/signing.pub"}
        return settings

    def subscriber(observer: str) -> list[str]:
        """mosquitto_sub's connection options, as a provisioned observer in production."""
        options = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker_port)]
        if fleet is not None:
            base = f"{fleet}/clients/{observer}"
            options += ["--cafile", f"{base}/ca.crt", "--cert", f"{base}/tls.crt", "--key", f"{base}/tls.key"]
        return options

    # The aggregator: a softmax over 6 channels × 6 window features.
    (work / "aggregator.yaml").write_text("\n".join(f"{key}: {json.dumps(value)}" for key, value in
                                                     connection("clients/aggregator").items()) + f"""
state_dir: {work}/aggregator
http: {{host: 127.0.0.1, port: {http_port}}}
task:
  task: har
  model: {{head: softmax, inputs: 36, outputs: {classes}}}
  data: {{stream: {stream}, channels: [0, 1, 2, 3, 4, 5], label_channel: 6, window_frames: 100, hop_frames: 50,
          features: [mean, std, min, max, rms, zcr]}}
  training: {{optimizer: adam, learning_rate: 0.01}}
  codec: {{k_fraction: {args.k}, values: {args.values}, downlink_k_fraction: {args.downlink_k}}}
rounds: {{duration_s: 60, min_participants: {len(devices)}, max_rounds: {args.rounds},
          local: {{samples: {args.samples}}}}}
strategy: {{kind: {args.strategy}}}
""")
    aggregator = processes.start(
        "aggregator", [str(BIN / "tributary-aggregator"), "--config", str(work / "aggregator.yaml")],
        work / "aggregator.log")
    say(f"aggregator: task har, {args.strategy}, {args.rounds} rounds (status on http://127.0.0.1:{http_port}/status)")

    # Watch the metrics and statuses (JSON on one line each).
    watcher = subprocess.Popen(
        subscriber("demo-watch") + ["-F", "%t\t%p",
         "-t", "tributary/v1/fl/har/metrics", "-t", "tributary/v1/dev/+/status"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.set_blocking(watcher.stdout.fileno(), False)
    processes.children.append(("watcher", watcher))
    # The binary model and its deltas: only their lengths are wanted.
    model_watcher = subprocess.Popen(
        subscriber("demo-models") + ["-F", "%t\t%l",
         "-t", "tributary/v1/fl/har/model", "-t", "tributary/v1/fl/har/model/delta"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.set_blocking(model_watcher.stdout.fileno(), False)
    processes.children.append(("model watcher", model_watcher))

    # One agent per device.
    agents: list[subprocess.Popen] = []
    agents_started = time.time()
    if args.fleet:
        # One process, one agent (and one MQTT connection) per device; each reads one recording in turn, looped at
        # 5× real time, or its simulator topic.
        if args.data == "seglearn":
            files = [f for subject in sorted(subjects) for f in subjects[subject]]
            source = {"kind": "recording", "stream": stream, "channels": channels, "speed": 5, "loop": True,
                      "recordings": files}
        else:
            source = {"kind": "mqtt", "stream": stream, "channels": channels}
        # Production: {id} in the credential paths gives every device its own identity and key.
        config = {"device_id": "fleet", **connection("devices/{id}"), "task": "har",
                  "state_dir": f"{work}/agents", "source": source, "ring_frames": 1024, "buffer_windows": 400}
        (work / "fleet.yaml").write_text(json.dumps(config))
        # libmosquitto's select() loop limits a process to about 300 connections: 250 devices per process.
        for first in range(0, len(devices), 250):
            count = min(250, len(devices) - first)
            agents.append(processes.start(
                f"fleet {first + 1}", [str(BIN / "tributary-agent"), "fleet", "--config", str(work / "fleet.yaml"),
                                       "--devices", str(count), "--first-device", str(first + 1),
                                       "--id-prefix", devices[0].split("-")[0] + "-",
                                       # seglearn: device i plays subject (i mod 10)'s 14 recordings
                                       "--recordings-per-device", "14" if args.data == "seglearn" else "1"],
                work / f"fleet-{first + 1}.log"))
    for device in ([] if args.fleet else devices):
        if args.data == "seglearn":
            source = {"kind": "recording", "stream": stream, "channels": channels, "speed": 0,
                      "recordings": subjects[device]}
        else:
            source = {"kind": "mqtt", "stream": stream, "channels": channels}
        config = {"device_id": device, **connection(f"devices/{device}"), "task": "har",
                  "state_dir": f"{work}/agent-{device}", "source": source}
        (work / f"agent-{device}.yaml").write_text(json.dumps(config))
        agents.append(processes.start(
            f"agent {device}", [str(BIN / "tributary-agent"), "--config", str(work / f"agent-{device}.yaml")],
            work / f"agent-{device}.log"))
    if args.data == "sim":
        for first in range(0, len(devices), 250):
            processes.start(f"simulator {first + 1}",
                            [str(BIN / "tributary-sim"), "--broker", f"127.0.0.1:{broker_port}", "--devices",
                             str(min(250, len(devices) - first)), "--first-device", str(first + 1), "--rate", "50",
                             "--labels", "--sensor", "imu"] + publisher_options(fleet, first),
                            work / f"simulator-{first + 1}.log")
    shown = devices if len(devices) <= 12 else devices[:3] + ["…"] + devices[-2:]
    say(f"{len(devices)} agents ({args.data}{', one process' if args.fleet else ''}): {', '.join(shown)}")
    print()
    print(f"{'round':>5}  {'devices':>7}  {'hold-out acc':>12}  {'up (bytes)':>10}  {'down (bytes)':>12}  "
          f"{'dense f32':>9}  {'round time':>10}  {'wire up/dev':>11}  {'wire down/dev':>13}", flush=True)
    rows: list[dict] = []
    wire = agent_wire_bytes(broker_port)
    wire_start = (0, 0)  # the agents' connections are new: everything they exchanged counts
    dimension = 36 * classes + classes
    n = max(1, len(devices))

    statuses: dict[str, dict] = {}
    finished: list[dict] = []  # aggregated rounds in order, each with its wire bytes, waiting for its accuracy
    # Hold-out accuracy of the model after round r: the mean the devices report in round r + 1's updates (the
    # aggregator's metrics), and for the last model the devices' final statuses.
    accuracy: dict[int, float] = {}
    sizes = {"model": 0, "delta": 0}
    buffer = b""
    started = time.time()
    stopped_at = 0.0

    def print_ready(final: bool = False) -> None:
        while finished and (finished[0]["round"] in accuracy or final):
            row = finished.pop(0)
            row["accuracy"] = accuracy.get(row["round"])
            shown = f"{row['accuracy']:.4f}" if row["accuracy"] is not None else "-"
            print(f"{row['round']:>5}  {row['devices']:>7}  {shown:>12}  {row['up_payload_bytes']:>10}  "
                  f"{row['down_payload_bytes']:>12}  {4 * dimension * row['devices']:>9}  "
                  f"{row['round_s']:>9.2f}s  {row['up_wire_bytes'] / n:>11.0f}  {row['down_wire_bytes'] / n:>13.0f}",
                  flush=True)
            rows.append(row)

    def read_messages() -> None:
        nonlocal buffer
        buffer += (watcher.stdout.read() or b"") + (model_watcher.stdout.read() or b"")
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            topic, _, payload = line.partition(b"\t")
            topic = topic.decode(errors="replace")
            if topic.endswith("/model") or topic.endswith("/model/delta"):
                sizes["delta" if topic.endswith("/delta") else "model"] = int(payload or 0)
                continue
            try:
                message = json.loads(payload)
            except ValueError:
                continue
            if topic.endswith("/status"):
                statuses[message.get("device", "")] = message
            elif topic.endswith("/metrics") and message.get("status") == "aggregated":
                on_metrics(message)

    def on_metrics(m: dict) -> None:
        nonlocal wire, started
        if any(r["round"] == m["round"] for r in finished + rows):
            return  # the retained copy again
        if m.get("holdout_accuracy") is not None:
            accuracy[m["round"] - 1] = m["holdout_accuracy"]
        now_wire = agent_wire_bytes(broker_port)
        up, down = now_wire[0] - wire[0], now_wire[1] - wire[1]
        wire = now_wire
        each = sizes["delta"] if args.downlink_k < 1 and sizes["delta"] else sizes["model"]
        finished.append({"round": m["round"], "devices": len(m["accepted"]), "up_payload_bytes": m["bytes_in"],
                         "down_payload_bytes": each * len(m["accepted"]), "up_wire_bytes": up,
                         "down_wire_bytes": down, "round_s": m["duration_ms"] / 1000, "model_hash": m["model_hash"]})
        started = time.time()

    while not stop["now"] and len(finished) + len(rows) < args.rounds:
        if aggregator.poll() is not None:
            # It stops by itself after the last round: give its last messages a moment to arrive.
            stopped_at = stopped_at or time.time()
            if time.time() - stopped_at > 5:
                say(f"the aggregator stopped (exit {aggregator.returncode}); see {work}/aggregator.log")
                return 1
        if time.time() - started > 600:
            say("no progress for 10 minutes; stopping")
            return 1
        read_messages()
        print_ready()
        time.sleep(0.05)
    if stop["now"]:
        return 1
    total_up, total_down = wire[0] - wire_start[0], wire[1] - wire_start[1]
    per_round = max(1, len(finished) + len(rows))
    # Footprint, read from /proc once the agents are past start-up (they trim their code pages 5 s in).
    time.sleep(max(0.0, agents_started + 8 - time.time()))
    rss, peaks, cpu = footprint_with_peaks(agents)
    elapsed = time.time() - agents_started
    # The last model's hold-out accuracy: from the statuses the agents publish as they stop (SIGTERM).
    final = finished[-1] if finished else None
    for agent in agents:
        agent.send_signal(signal.SIGTERM)
    deadline = time.time() + 20
    while final and time.time() < deadline:
        read_messages()
        if all(statuses.get(d, {}).get("state") == "offline" for d in devices):
            break
        time.sleep(0.05)
    if final:
        reported = [s["metrics"]["holdout_accuracy"] for d, s in statuses.items()
                    if d in devices and s.get("model_hash") == final["model_hash"]
                    and "holdout_accuracy" in s.get("metrics", {})]
        if reported:
            accuracy[final["round"]] = sum(reported) / len(reported)
    print_ready(final=True)
    print()
    say(f"on the wire (TCP payload of the agents' broker connections, everything included): "
        f"{total_up / n / per_round:.0f} B up and {total_down / n / per_round:.0f} B down per device per round")
    if rss and args.fleet:
        say(f"{len(rss)} fleet process(es): {sum(rss):.0f} MiB resident for {len(devices)} agents "
            f"({sum(rss) / len(devices):.2f} MiB each), CPU {sum(cpu):.1f} s in {elapsed:.0f} s")
    elif rss:
        say(f"agent resident memory: now {min(rss):.1f}–{max(rss):.1f} MiB (VmRSS), peak since start "
            f"{min(peaks):.1f}–{max(peaks):.1f} MiB (VmHWM); CPU {sum(cpu) / len(cpu):.2f} s per agent in "
            f"{elapsed:.0f} s")
    broker_cpu = footprint([broker])[1]
    if broker_cpu and rows:
        durations = sorted(r["round_s"] for r in rows)
        say(f"rounds: median {durations[len(durations) // 2]:.2f} s, max {durations[-1]:.2f} s; broker CPU "
            f"{broker_cpu[0]:.1f} s in {elapsed:.0f} s ({100 * broker_cpu[0] / elapsed:.0f}% of a core)")
    say("up: update bytes the aggregator received; down: the model message to each device; "
        "dense f32: what shipping the model's parameters as float32 each way costs (Flower's representation); "
        "wire: TCP payload bytes of each agent's broker connection in the round (status and summaries included)")
    if args.json:
        rss.sort()
        Path(args.json).write_text(json.dumps({
            "system": "tributary", "data": args.data, "rounds": rows,
            "final_accuracy": rows[-1]["accuracy"] if rows else None,
            "up_wire_bytes_per_device_round": total_up / n / per_round,
            "down_wire_bytes_per_device_round": total_down / n / per_round,
            "agent_rss_mib_median": rss[len(rss) // 2] if rss else None,
            "agent_cpu_s_mean": sum(cpu) / len(cpu) if cpu else None, "agent_seconds": elapsed,
            "devices": len(devices), "fleet": args.fleet, "broker_cpu_s": broker_cpu[0] if broker_cpu else None,
            "agent_rss_mib_max": rss[-1] if rss else None,
            "agent_peak_rss_mib_median": peaks[len(peaks) // 2] if peaks else None,
            "agent_peak_rss_mib_max": peaks[-1] if peaks else None,
            "model_parameters": 36 * classes + classes,
        }, indent=1) + "\n")
        say(f"wrote {args.json}")
    return 0 if len(rows) >= args.rounds else 1


if __name__ == "__main__":
    sys.exit(main())
