"""End-to-end latency of the door and building actions (issue 19): from a decision handed to the actions to
- the MQTT message received by a subscriber (a real mosquitto broker on this machine),
- the relay command's own recorded timestamp (a real command: /bin/sh appending `date +%s.%N` to a file),
- the webhook receiver processing it (a real local HTTP server, signature checked),
and what handing the decision over costs the video path (ActionsListener.on_decision).

    PYTHONPATH=. .venv/bin/python benchmarks/actions.py [--decisions 200] [--every 0.05] [--json]

Needs mosquitto (scripts/install.sh --test). Decisions are real policy Decisions on a small frame; the
recognition itself is measured by benchmarks/pipeline.py.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: facegate_dev, facegate

from facegate_dev.bench import Report, bench_parser  # noqa: E402

SECRET = "benchmark key"
TOPIC = "facegate/bench"
RELAY = """#!/bin/sh
# a relay command: records when it ran (epoch seconds) and for whom
echo "$(date +%s.%N) $FACEGATE_PERSON" >> "$1"
"""


@dataclass
class Latencies:
    """Milliseconds from each decision to where it arrived (one list per way), and its hand-over's cost."""

    handover: list[float]
    mqtt: list[float]
    relay: list[float]
    webhook: list[float]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report_line(report: Report, label: str, values: list[float], expected: int) -> None:
    if not values:
        report.row("latencies", f"{label:<44} none received of {expected}", path=label, received=0,
                   expected=expected)
        return
    median, p99, most = statistics.median(values), percentile(values, 99), max(values)
    report.row("latencies", f"{label:<44} median {median:7.2f} ms   p99 {p99:7.2f} ms   max {most:7.2f} ms   "
               f"({len(values)}/{expected})", path=label, median_ms=median, p99_ms=p99, max_ms=most,
               received=len(values), expected=expected)


def send_decisions(decisions: int, every: float) -> Latencies:
    """`decisions` grants, one every `every` seconds, through the real actions to a real broker, relay command and
    webhook receiver; waits (up to 30 s each) until every one has arrived."""
    from dataclasses import replace

    import numpy as np

    from facegate.actions.listener import build_actions
    from facegate.capture import Frame
    from facegate.config import Settings
    from facegate.pipeline import FrameResult, TrackView
    from facegate.policy import Decision, Verdict
    from facegate_dev.counterparts import Broker, Receiver, Subscriber, wait_until

    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        relay, records = folder / "relay.sh", folder / "relay.log"
        relay.write_text(RELAY)
        relay.chmod(0o700)
        records.touch()
        broker = Broker(folder / "broker").start()
        subscriber = Subscriber(broker.port, f"{TOPIC}/decision")
        receiver = Receiver(SECRET)
        settings = replace(Settings(), door_command=f"{relay} {records}", door_open_s=0.1, mqtt_url=broker.url,
                           mqtt_topic=TOPIC, mqtt_discovery_prefix="", webhook_url=receiver.url,
                           webhook_secret=SECRET, log_dir=str(folder / "log"))
        listener = build_actions(settings)
        assert listener is not None
        try:
            mqtt = next(a for a in listener.actions if a.name == "mqtt")
            if not wait_until(mqtt.connected.is_set, 10):
                raise SystemExit("the MQTT action did not connect to the broker")
            sent: dict[str, tuple[float, float]] = {}  # name -> (perf_counter, epoch) at the decision
            handover = []
            frame = Frame(np.zeros((8, 8, 3), np.uint8), 0, time.monotonic())
            for i in range(decisions):
                name = f"bench-{i}"
                decision = Decision(i, Verdict.GRANTED, name, 0.3, 0.2, time.monotonic(), True)
                result = FrameResult(frame, [TrackView(i, (0.0, 0.0, 8.0, 8.0), Verdict.GRANTED, name, 0.3, 0.2)],
                                     [decision])
                sent[name] = (time.perf_counter(), time.time())
                listener.on_decision(decision, result)
                handover.append(1000 * (time.perf_counter() - sent[name][0]))
                time.sleep(every)
            wait_until(lambda: len(subscriber.on(f"{TOPIC}/decision")) >= decisions, 30)
            wait_until(lambda: len(records.read_text().splitlines()) >= decisions, 30)
            wait_until(lambda: len(receiver.processed) >= decisions, 30)
        finally:
            listener.stop(5)
            subscriber.close()
            receiver.stop()
            broker.stop()
        mqtt_ms = [1000 * (at - sent[json.loads(payload)["name"]][0])
                   for at, payload, _ in subscriber.on(f"{TOPIC}/decision")]
        relay_ms = []
        for row in records.read_text().splitlines():
            stamp, name = row.split(" ", 1)
            relay_ms.append(1000 * (float(stamp) - sent[name][1]))
    arrived = {key: at for at, key, status in receiver.attempts if status == 200}
    hook_ms = [1000 * (arrived[key] - sent[payload["name"]][0]) for key, payload in receiver.processed.items()]
    return Latencies(handover, mqtt_ms, relay_ms, hook_ms)


def main(argv=None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--every", type=float, default=0.05, help="seconds between decisions")
    args = parser.parse_args(argv)
    report = Report("actions", args.json)
    from facegate_dev.counterparts import mosquitto_binary

    if mosquitto_binary() is None:
        print("mosquitto is not installed: scripts/install.sh --test", file=sys.stderr)
        return 2
    latencies = send_decisions(args.decisions, args.every)
    report.say(f"{args.decisions} grants, one every {args.every * 1000:.0f} ms; door, MQTT and webhook all on",
               decisions=args.decisions, every_ms=args.every * 1000)
    for label, values in (("hand-over on the video path (on_decision)", latencies.handover),
                          ("decision -> MQTT message at a subscriber", latencies.mqtt),
                          ("decision -> relay command's own timestamp", latencies.relay),
                          ("decision -> webhook receiver (signed POST)", latencies.webhook)):
        report_line(report, label, values, args.decisions)
    report.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
