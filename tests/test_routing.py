"""Who a step goes to, decided in one place (`engine.authority.routing`): a table of steps and
cases against the example organisation, on the real database, and the turns a task takes when
its holder is away, when it is escalated and when its case is handed over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import FIXTURES

from bpmn.model import HumanStep
from engine.authority import org, routing
from engine.base.clock import ManualClock
from engine.core import Engine
from engine.service import org_data

NORR = "bygglov-norr"  # a unit under Bygglovsenheten where no one holds a role of its own
HANDLER = "bygglovshandläggare"


@pytest.fixture
def router(engine: Engine, clock: ManualClock) -> Iterator[routing.Router]:
    """A router over the example organisation, with Bo away and Sam as a substitute in the förvaltning."""
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    now = clock.now()
    org_data.import_data(engine, {
        "people": [{"name": "sam", "roles": [{"role": "Ersättare bygglov", "unit": "sbf"}]},
                   {"name": "siv", "roles": [{"role": "Ersättare bygglov", "unit": "sbf"}]}],
        "absences": [{"name": "bo", "from": (now - timedelta(days=1)).isoformat(),
                      "to": (now + timedelta(days=5)).isoformat()}],
    })
    with engine.db.read() as s:
        yield routing.Router(s.connection(), org.tree(engine), now)


def _step(**kw: Any) -> HumanStep:
    return HumanStep(element_id="t", name="Granska", **kw)


OFFERS = [
    # (what, step, data, case unit) -> (candidates, unit, role, assignee)
    ("lane only, walked up from a unit without holders to its parent",
     routing.lane_step("t", "Granska", "Bygglovshandläggare"), {}, NORR,
     ((("role", f"{HANDLER}@bygglov"), ("role", HANDLER)), "bygglov", "Bygglovshandläggare", None)),
    ("candidate group in the case's own unit", _step(candidate_groups=["Bygglovshandläggare"]), {}, "miljo",
     ((("role", f"{HANDLER}@miljo"), ("role", HANDLER)), "miljo", None, None)),
    ("an alias is the role it stands for", _step(role="Handläggare bygglov", candidate_groups=["Handläggare bygglov"]),
     {}, "bygglov", ((("role", f"{HANDLER}@bygglov"), ("role", HANDLER)), "bygglov", "Handläggare bygglov", None)),
    ("a group naming a case variable", _step(candidate_groups=["${agare}"]), {"agare": "Bygglovschef"}, NORR,
     ((("role", "bygglovschef@bygglov"), ("role", "bygglovschef")), "bygglov", None, None)),
    ("a group whose variable is empty names no one", _step(candidate_groups=["${agare}"]), {}, NORR,
     ((), None, None, None)),
    ("a role no one holds up the tree: group-wide only", _step(candidate_groups=["Miljöinspektör"]), {}, "bygglov",
     ((("role", "miljöinspektör"),), None, None, None)),
    ("a case without a unit: group-wide only", _step(candidate_groups=["Bygglovshandläggare"]), {}, None,
     ((("role", HANDLER),), None, None, None)),
    ("an assignee expression", _step(candidate_groups=["Bygglovshandläggare"], assignee="${handlaggare}"),
     {"handlaggare": "bea"}, "bygglov",
     ((("role", f"{HANDLER}@bygglov"), ("role", HANDLER), ("user", "bea")), "bygglov", None, "bea")),
    ("an assignee path into the data", _step(assignee="=sokande.handlaggare"), {"sokande": {"handlaggare": "bo"}},
     "bygglov", ((("user", "bo"),), None, None, "bo")),
    ("an assignee expression that is more than a path names nobody", _step(assignee="=a + b"), {"a": 1, "b": 2},
     "bygglov", ((), None, None, None)),
    ("candidate users, once each", _step(candidate_users=["bea", "${x}", "bea"], assignee="bea"), {"x": "mia"}, None,
     ((("user", "bea"), ("user", "mia")), None, None, "bea")),
]


@pytest.mark.parametrize(("what", "step", "data", "unit", "expected"), OFFERS, ids=[o[0] for o in OFFERS])
def test_a_step_is_offered_as_the_diagram_and_the_organisation_say(
        router: routing.Router, what: str, step: HumanStep, data: dict[str, Any], unit: str | None,
        expected: tuple[Any, ...]) -> None:
    route = router.offer(step, data, unit)
    assert (route.candidates, route.unit, route.role, route.assignee) == expected
    assert route.reason == routing.DIAGRAM and route.absent is None
    assert route.keys == [f"{k}:{v}" for k, v in expected[0]]


def test_an_absent_assignee_is_covered_by_the_substitute_else_the_pool(router: routing.Router) -> None:
    route = router.offer(_step(candidate_groups=["Bygglovshandläggare"], assignee="bo"), {}, "bygglov")
    assert router.away("bo") and not router.away("bea") and not router.away(None)
    # A decision goes to the first present holder of the ordinance's substitute role (ersättare),
    # found up the tree from the case's unit.
    covered = router.cover(route, "bo", "Ersättare bygglov", "bygglov")
    assert (covered.assignee, covered.reason, covered.absent) == ("sam", routing.SUBSTITUTE, "bo")
    assert covered.candidates == route.candidates and covered.unit == "bygglov"
    # Those who stepped aside (jäv) are passed over.
    assert router.cover(route, "bo", "Ersättare bygglov", "bygglov", {"sam"}).assignee == "siv"
    # Other work, or a decision whose substitutes are all out, goes back to the candidates.
    for role, exclude in ((None, set()), ("Ersättare bygglov", {"sam", "siv"}), ("Miljöinspektör", set())):
        pooled = router.cover(route, "bo", role, "bygglov", exclude)
        assert (pooled.assignee, pooled.reason, pooled.absent) == (None, routing.POOL, "bo")
    assert router.present("Bygglovshandläggare", NORR) == ["bea"]  # bo is away
    assert router.present("Handläggare bygglov", NORR, {"bea"}) == []


def test_escalation_goes_up_the_manager_chain_to_the_chef(router: routing.Router) -> None:
    assert router.managers(NORR) == ("bygglov", "Bygglovschef", ["bert"])
    assert router.managers(NORR, level=2) == ("sbf", "Förvaltningschef", ["fia"])
    assert router.managers(NORR, exclude={"bert"}) == ("sbf", "Förvaltningschef", ["fia"])
    route = router.to_manager("bygglov", "Bygglovschef")
    assert (route.candidates, route.unit, route.role, route.assignee, route.reason) == (
        (("role", "bygglovschef@bygglov"),), "bygglov", "Bygglovschef", None, routing.MANAGER)


def test_a_handed_over_case_is_routed_as_if_created_in_the_new_unit(router: routing.Router) -> None:
    lane = routing.lane_step("t", "Granska", "Bygglovshandläggare")
    moved = router.transfer(lane, {}, "miljo", "bea")
    assert (moved.candidates, moved.unit, moved.assignee, moved.reason) == (
        (("role", f"{HANDLER}@miljo"), ("role", HANDLER)), "miljo", None, routing.TRANSFER)
    # A unit where no one holds the role: the task lands in the unit itself, offered group-wide.
    assert router.transfer(lane, {}, "kansli", None).unit == "kansli"
    # A holder the step names stays the holder.
    named = _step(candidate_groups=["Bygglovshandläggare"], assignee="${h}")
    assert router.transfer(named, {"h": "bea"}, "miljo", "bea").assignee == "bea"


def test_a_task_row_holds_its_route(router: routing.Router) -> None:
    row = SimpleNamespace(candidates=["role:bygglovschef@bygglov", "user:bea"], org_unit_id="bygglov",
                          role="Bygglovschef", assignee="bea")
    held = routing.held(row)
    assert (held.candidates, held.unit, held.role, held.assignee) == (
        (("role", "bygglovschef@bygglov"), ("user", "bea")), "bygglov", "Bygglovschef", "bea")
    assert routing.step_role_keys(router.tree, _step(candidate_groups=["Handläggare bygglov", "${x}"]), "bygglov") == {
        f"{HANDLER}@bygglov"}
    assert routing.step_role_keys(router.tree, None, "bygglov") == set()


def test_the_pool_of_a_task_no_one_holds_is_its_candidates_present(router: routing.Router) -> None:
    keys = [f"role:{HANDLER}@bygglov", "user:mia", "user:bea", "role:bygglovschef"]
    assert sorted(router.pool(keys)) == ["bea", "mia"]  # bo is away; no one holds the chef role group-wide
    assert router.pool([]) == []
