"""Benchmark `spiff`: the seq3 workload on SpiffWorkflow alone, in memory and with a JSON round
trip after every step (the ceiling any service built on SpiffWorkflow works under)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import DATA, SEQ3, median_run  # noqa: E402


def spiff_alone(cases: int, roundtrip: bool, warm: int = 20) -> float:
    """Cases/s of seq3 on stock SpiffWorkflow, optionally with a JSON round trip after every step."""
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_file(str(SEQ3))
    spec = parser.get_spec("seq3")
    serializer = BpmnWorkflowSerializer()

    def one() -> None:
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        if roundtrip:
            wf = serializer.deserialize_json(serializer.serialize_json(wf))
        while not wf.completed:
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            task = ready[0]
            task.data.update(DATA)
            task.run()
            wf.do_engine_steps()
            if roundtrip:
                wf = serializer.deserialize_json(serializer.serialize_json(wf))

    for _ in range(warm):
        one()
    start = time.perf_counter()
    for _ in range(cases):
        one()
    return cases / (time.perf_counter() - start)


# The machine's speed drifts by a third within minutes (other tenants); a baseline measured once at
# the start made a later run's ratio wrong by as much. Each run is therefore paired with (b)
# measured just before and just after it, and its ratio is to the mean of the two.
BASELINE_CASES = 150


def paired(run: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run one measurement, ``run(*args)``, between two short runs of (b); attach its ratio to them."""
    before = spiff_alone(BASELINE_CASES, roundtrip=True, warm=5)
    figures = run(*args)
    after = spiff_alone(BASELINE_CASES, roundtrip=True, warm=5)
    baseline = (before + after) / 2
    return {**figures, "baseline_cases_per_s": baseline, "paired_ratio": figures["cases_per_s"] / baseline}


def repeated(label: str, reps: int, run: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`reps` paired runs of one measurement, each printed as it ends; the median run."""
    runs = []
    for _ in range(reps):
        runs.append(paired(run, *args))
        print(f"{label}: {runs[-1]['cases_per_s']:.1f} cases/s", flush=True)
    return median_run(runs)
