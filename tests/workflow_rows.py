"""Whether a case's task rows say what its stored workflow says: how a test sees that a failed step
left nothing half-written (no row for a task the workflow does not have, no ready task without a
row, no instance rows beyond what the workflow made)."""

from __future__ import annotations

import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from engine.base import state
from engine.core import Engine
from engine.store.models import Case, HumanTask


def open_rows(engine: Engine, case_id: str) -> list[HumanTask]:
    """The case's open task rows."""
    with engine.db.read() as s:
        return list(s.execute(sa.select(HumanTask).where(HumanTask.case_id == case_id,
                                                          HumanTask.status == "open")).scalars())


def assert_rows_match_workflow(engine: Engine, case_id: str) -> None:
    """Fail unless the open task rows are exactly the workflow's ready human tasks."""
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None
        spec, subs = engine.spec(case.process_version_id)
        workflow = state.load(case.state_json, spec, subs)
    ready = {str(t.id) for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual}
    rows = {r.id for r in open_rows(engine, case_id)}
    assert rows == ready, f"open rows {sorted(rows)} but ready tasks {sorted(ready)}"
