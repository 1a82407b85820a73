#!/usr/bin/env python3
"""Checks a qlog JSON-SEQ file (draft-ietf-quic-qlog-main-schema-14 §5,
QUIC events of -quic-events-13) as runtime/qlog_writer.h writes it.

  qlog_check.py FILE [--vantage client|server] [--require NAME]... [--closed]
                [--peer FILE --min-lost-unreceived N]

Exit status 0 when every check passes; otherwise the failures on stderr.
Prints one JSON line of event counts on stdout.
"""
import argparse
import json
import sys

RS = b"\x1e"
SPACE_OF = {"initial": "initial", "handshake": "handshake", "0RTT": "application_data",
            "1RTT": "application_data"}


class Failures:
    def __init__(self, path):
        self.path = path
        self.items = []

    def add(self, msg):
        if len(self.items) < 50:
            self.items.append(msg)


def records(path, fail):
    data = open(path, "rb").read()
    if not data.startswith(RS):
        fail.add("file does not start with a record separator (0x1E)")
        return []
    out = []
    for i, chunk in enumerate(data.split(RS)[1:]):
        if not chunk.endswith(b"\n"):
            fail.add(f"record {i} does not end with a newline")
        try:
            out.append(json.loads(chunk))
        except ValueError as e:
            fail.add(f"record {i} is not JSON: {e}")
    return out


def check(path, args):
    fail = Failures(path)
    recs = records(path, fail)
    if not recs:
        fail.add("no records")
        return fail, {}, {}
    header, events = recs[0], recs[1:]
    # main-schema-14 §3, §5, §5.1.
    if header.get("file_schema") != "urn:ietf:params:qlog:file:sequential":
        fail.add(f"file_schema: {header.get('file_schema')!r}")
    if header.get("serialization_format") != "application/qlog+json-seq":
        fail.add(f"serialization_format: {header.get('serialization_format')!r}")
    trace = header.get("trace")
    if not isinstance(trace, dict):
        fail.add("header has no trace object")
        trace = {}
    schemas = trace.get("event_schemas")
    if not (isinstance(schemas, list) and schemas and all(isinstance(s, str) for s in schemas)):
        fail.add(f"trace.event_schemas: {schemas!r}")
    ref = trace.get("common_fields", {}).get("reference_time", {})
    if ref.get("clock_type") not in ("system", "monotonic") or "epoch" not in ref:
        fail.add(f"reference_time: {ref!r}")
    if ref.get("clock_type") == "monotonic" and ref.get("epoch") != "unknown":
        fail.add("monotonic reference_time with an epoch other than 'unknown'")  # §7.1
    vp = trace.get("vantage_point", {})
    if vp.get("type") not in ("client", "server", "network", "unknown"):
        fail.add(f"vantage_point.type: {vp.get('type')!r}")
    if args.vantage and vp.get("type") != args.vantage:
        fail.add(f"vantage_point.type {vp.get('type')!r}, expected {args.vantage!r}")

    counts = {}
    sent = {}      # space -> set of packet numbers
    last_sent = {}  # space -> largest
    acked = {}
    received = {}
    lost = {}
    last_time = None
    for i, e in enumerate(events):
        where = f"event {i}"
        if not isinstance(e, dict):
            fail.add(f"{where}: not an object")
            continue
        t, name, data = e.get("time"), e.get("name"), e.get("data")
        if not isinstance(t, (int, float)) or isinstance(t, bool):
            fail.add(f"{where}: time {t!r}")
            continue
        if not isinstance(name, str) or ":" not in name:
            fail.add(f"{where}: name {name!r}")
            continue
        if not isinstance(data, dict):
            fail.add(f"{where} ({name}): data {data!r}")
            continue
        where = f"event {i} ({name} at {t})"
        if last_time is not None and t < last_time:
            fail.add(f"{where}: time goes back from {last_time}")
        last_time = t
        counts[name] = counts.get(name, 0) + 1
        if i == 0 and name != "quic:connection_started":
            fail.add(f"first event is {name}, not quic:connection_started")
        if name in ("quic:packet_sent", "quic:packet_received", "quic:packet_lost"):
            h = data.get("header", {})
            ptype, pn = h.get("packet_type"), h.get("packet_number")
            if ptype not in SPACE_OF or not isinstance(pn, int):
                fail.add(f"{where}: header {h!r}")
                continue
            space = SPACE_OF[ptype]
            for f in data.get("frames", []):
                if not isinstance(f, dict) or not isinstance(f.get("frame_type"), str):
                    fail.add(f"{where}: frame {f!r}")
            if name == "quic:packet_sent":
                if space in last_sent and pn <= last_sent[space]:
                    fail.add(f"{where}: packet number {pn} after {last_sent[space]} in {space}")
                last_sent[space] = pn
                sent.setdefault(space, set()).add(pn)
            elif name == "quic:packet_received":
                received.setdefault(space, set()).add(pn)
            else:
                if pn not in sent.get(space, ()):
                    fail.add(f"{where}: lost packet {pn} was not sent in {space}")
                lost.setdefault(space, set()).add(pn)
        elif name == "quic:packets_acked":
            space = data.get("packet_number_space", "application_data")
            for pn in data.get("packet_numbers", []):
                if pn not in sent.get(space, ()):
                    fail.add(f"{where}: acked packet {pn} was not sent in {space}")
                if pn in acked.setdefault(space, set()):
                    fail.add(f"{where}: packet {pn} acknowledged twice")
                acked[space].add(pn)
        elif name == "quic:recovery_metrics_updated":
            if not isinstance(data.get("congestion_window"), int):
                fail.add(f"{where}: congestion_window {data.get('congestion_window')!r}")
        elif name == "quic:connection_state_updated":
            if not isinstance(data.get("new"), str):
                fail.add(f"{where}: new {data.get('new')!r}")
        elif name in ("http3:frame_created", "http3:frame_parsed"):
            if not isinstance(data.get("stream_id"), int) or \
                    not isinstance(data.get("frame", {}).get("frame_type"), str):
                fail.add(f"{where}: {data!r}")
    for req in args.require:
        if req not in counts:
            fail.add(f"no {req} event")
    if args.closed:
        if not events or events[-1].get("name") != "quic:connection_state_updated" or \
                events[-1].get("data", {}).get("new") != "closed":
            fail.add("the last event is not connection_state_updated to closed")
    return fail, counts, {"received": received, "lost": lost}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--vantage")
    p.add_argument("--require", action="append", default=[])
    p.add_argument("--closed", action="store_true")
    p.add_argument("--peer")
    p.add_argument("--min-lost-unreceived", type=int, default=0)
    args = p.parse_args()
    fail, counts, sets = check(args.file, args)
    report = {"file": args.file, "counts": counts}
    if args.peer:
        peer_args = argparse.Namespace(vantage=None, require=[], closed=False)
        pfail, _, psets = check(args.peer, peer_args)
        fail.items += [f"peer: {m}" for m in pfail.items]
        # Lost here and never received there: really dropped on the way.
        unreceived = sum(len(pns - psets["received"].get(space, set()))
                         for space, pns in sets.get("lost", {}).items())
        report["lost_unreceived"] = unreceived
        if unreceived < args.min_lost_unreceived:
            fail.add(f"{unreceived} lost packets the peer never received, "
                     f"expected at least {args.min_lost_unreceived}")
    print(json.dumps(report, sort_keys=True))
    for m in fail.items:
        print(f"{args.file}: {m}", file=sys.stderr)
    return 1 if fail.items else 0


if __name__ == "__main__":
    sys.exit(main())
