"""Parsing and deploying a 2,000-element model (issue 3: "well under a second").

The model is what a large mapped process looks like: one process, two lanes, 2,000 flow elements
(flow nodes and sequence flows) - a chain of manual-less tasks with a decision (an exclusive
gateway without conditions, which Rutin turns into a human decision) every ten steps - and a
diagram shape for every node, as modelers export it. Measured, each after one warm-up:

- `read`: `bpmn.document.read_document` - secure parse, normalization and repairs, every
  dialect's reading of the human steps, SpiffWorkflow's parse and the serialization of the spec;
- `deploy`: `engine.catalogue.processes.deploy` on a fresh SQLite database - the same plus storing the
  version (each run uploads a changed copy, so each makes a new draft version, as a designer's
  upload does);
- `start`: the first case of the deployed version (SpiffWorkflow predicts the whole chain).

Wall-clock and CPU time (all threads of the process) per run, each run after a full garbage
collection; the median of `--runs` (default 7).

Run as `python -m bench.parse [--runs N] [--elements N]`.
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
      'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"')


def model(elements: int, tag: str = "") -> tuple[bytes, int]:
    """A descriptive process with about `elements` flow elements; its XML and the exact count."""
    nodes: list[str] = ['<startEvent id="s" name="Ansökan inkommen"/>']
    flows: list[tuple[str, str, str]] = []
    order: list[str] = ["s"]
    prev, i = "s", 0
    while len(nodes) + len(flows) < elements - 2:
        if i % 10 == 9:
            g, a, b, j = f"g{i}", f"t{i}a", f"t{i}b", f"j{i}"
            nodes += [f'<exclusiveGateway id="{g}" name="Komplett {i}?"/>', f'<task id="{a}" name="Komplettera {i}"/>',
                      f'<task id="{b}" name="Registrera {i}"/>', f'<exclusiveGateway id="{j}"/>']
            flows += [(prev, g, ""), (g, a, "Nej"), (g, b, "Ja"), (a, j, ""), (b, j, "")]
            order += [g, a, b, j]
            prev = j
        else:
            t = f"t{i}"
            nodes.append(f'<task id="{t}" name="Steg {i}{tag}"/>')
            flows.append((prev, t, ""))
            order.append(t)
            prev = t
        i += 1
    nodes.append('<endEvent id="e" name="Beslut fattat"/>')
    flows.append((prev, "e", ""))
    order.append("e")
    flow_xml = "".join(f'<sequenceFlow id="f{k}" sourceRef="{a}" targetRef="{b}"' + (f' name="{n}"' if n else "") + "/>"
                       for k, (a, b, n) in enumerate(flows))
    half = len(order) // 2
    lanes = ('<laneSet id="ls"><lane id="L1" name="Handläggare">'
             + "".join(f"<flowNodeRef>{x}</flowNodeRef>" for x in order[:half])
             + '</lane><lane id="L2" name="Registrator">'
             + "".join(f"<flowNodeRef>{x}</flowNodeRef>" for x in order[half:]) + "</lane></laneSet>")
    shapes = "".join(f'<bpmndi:BPMNShape id="{x}_di" bpmnElement="{x}"><dc:Bounds x="{100 * k}" y="100" width="80" '
                     'height="60"/></bpmndi:BPMNShape>' for k, x in enumerate(order))
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><definitions {NS} id="d" targetNamespace="x">'
           f'<process id="stor" name="Stor process" isExecutable="false">{lanes}{"".join(nodes)}{flow_xml}</process>'
           f'<bpmndi:BPMNDiagram id="di"><bpmndi:BPMNPlane id="pl" bpmnElement="stor">{shapes}</bpmndi:BPMNPlane>'
           '</bpmndi:BPMNDiagram></definitions>')
    return xml.encode(), len(nodes) + len(flows)


def _timed(fn: Any) -> tuple[float, float]:
    # Each run starts from a collected heap: the garbage of earlier runs (SpiffWorkflow's specs
    # are cyclic) would otherwise be collected inside a random later run.
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(elements: int = 2000, runs: int = 7) -> dict[str, Any]:
    """Measure read, deploy and first start; return the figures."""
    from bpmn.document import read_document
    from engine.authority.identity import SYSTEM
    from engine.base.clock import ManualClock
    from engine.base.settings import Settings
    from engine.catalogue import processes
    from engine.core import Engine
    from engine.service import cases

    data, count = model(elements)
    read_document(data)  # warm-up: imports, caches
    reads = [_timed(lambda: read_document(data)) for _ in range(runs)]

    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": tempfile.mkdtemp(prefix="rutin-parse-")}), ManualClock())
    engine.migrate()
    processes.deploy(engine, SYSTEM, model(elements, " (uppvärmning)")[0], approve_as_admin=True)
    deploys = []
    for n in range(runs):
        copy = model(elements, f" ({n})")[0]
        # a designer's upload: a new draft version (publishing is an owner's later step)
        deploys.append(_timed(lambda copy=copy: processes.deploy(engine, SYSTEM, copy, approve_as_admin=False)))
    key = "stor"
    starts = [_timed(lambda: cases.start_case(engine, SYSTEM, key)) for _ in range(3)]
    engine.close()

    def med(xs: list[tuple[float, float]], i: int) -> float:
        return round(statistics.median(x[i] for x in xs) * 1000, 1)

    return {"flow_elements": count, "xml_bytes": len(data), "runs": runs,
            "read_ms": med(reads, 0), "read_cpu_ms": med(reads, 1),
            "deploy_ms": med(deploys, 0), "deploy_cpu_ms": med(deploys, 1),
            "start_ms": med(starts, 0), "start_cpu_ms": med(starts, 1),
            "read_all_ms": [round(w * 1000) for w, _ in reads]}


def main() -> None:
    """Print the figures."""
    args = sys.argv[1:]
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 7
    elements = int(args[args.index("--elements") + 1]) if "--elements" in args else 2000
    r = run(elements, runs)
    print(f"model: {r['flow_elements']} flow elements, {r['xml_bytes']} bytes; median of {r['runs']} runs")
    print(f"  read_document      {r['read_ms']:8.1f} ms wall {r['read_cpu_ms']:8.1f} ms CPU"
          f"   (all runs: {r['read_all_ms']})")
    print(f"  processes.deploy   {r['deploy_ms']:8.1f} ms wall {r['deploy_cpu_ms']:8.1f} ms CPU")
    print(f"  first case start   {r['start_ms']:8.1f} ms wall {r['start_cpu_ms']:8.1f} ms CPU")


if __name__ == "__main__":
    main()
