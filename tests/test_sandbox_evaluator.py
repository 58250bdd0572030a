"""The evaluator processes behind `bpmn.sandbox`: what crosses between them and the web process,
how concurrent callers are served, and what a script's budget comes from."""

from __future__ import annotations

import datetime as dt
import decimal
import threading
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bpmn import evaluator, sandbox, wire
from engine.base.settings import Settings
from engine.core import Engine

SHARED = "[list(range(10 ** 5))] * 10 ** 5"
CPU_BOMB = f"x = sum(map(sum, {SHARED}))"


def test_data_of_every_kind_a_script_may_hold_crosses_unchanged() -> None:
    value = {
        "datum": dt.date(2026, 3, 2),
        "tid": dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Stockholm")),
        "utc": dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC),
        "lokal": dt.datetime(2026, 3, 2, 9, 0),
        "klockslag": dt.time(9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        "frist": dt.timedelta(days=3, seconds=5, microseconds=7),
        "belopp": decimal.Decimal("1200.50"),
        "par": (1, "a", (2.5, None)),
        "mängd": {1, 2},
        "fryst": frozenset({"x"}),
        "bytes": "åäö".encode(),
        "nycklar": {1: "ett", (2, 3): "par"},
        "\x00lurig": {"\x00": "nul-nyckel", "v": 1},
        "stort": 10 ** 300,
        "text": "ensam surrogat \udc80",
        "lista": [True, False, None, 1.5, float("inf")],
    }
    back = wire.loads(wire.dumps(value))
    assert back == value
    assert back["tid"].fold == 1 and back["tid"].tzinfo == ZoneInfo("Europe/Stockholm")
    assert type(back["par"]) is tuple and type(back["fryst"]) is frozenset and type(back["belopp"]) is decimal.Decimal


@pytest.mark.parametrize("payload", [
    b'{"\\u0000":"pickle","v":"gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg=="}',
    b'{"\\u0000":"object","v":["os","system"]}',
    b'{"\\u0000":"datetime","v":"inte ett datum","tz":null,"fold":0}',
    b'[' * 100_000 + b']' * 100_000,
])
def test_what_comes_back_is_read_as_data_only(payload: bytes) -> None:
    # Bytes from a process that ran hostile code: only the known data types are ever built.
    with pytest.raises(wire.WireError):
        wire.loads(payload)


def test_a_value_that_is_not_data_is_named_instead_of_sent() -> None:
    ctx: dict[str, Any] = {"ok": 1, "funktion": len}
    sandbox.execute("y = ok + 1", ctx)  # a variable the script does not read is not sent at all
    assert ctx["y"] == 2
    with pytest.raises(sandbox.SandboxError, match="funktion"):
        sandbox.execute("y = funktion", ctx)
    # Code that may read any variable (by a name that is not an identifier) gets the data ones.
    assert sandbox.evaluate("rutin_variable('ok') + 1", ctx) == 2


def test_a_script_changes_the_case_data_as_it_did_in_process() -> None:
    ctx: dict[str, Any] = {"rader": [1, 2], "oförändrad": {"a": 1}, "datum": dt.date(2026, 3, 2)}
    sandbox.execute("rader.append(3)\nnästa = datum + frist\nfrist2 = frist * 2", {**ctx, "frist": dt.timedelta(1)})
    sandbox.execute("rader.append(3)\nsumma = sum(rader)\ndag = datum.isoformat()", ctx)
    assert ctx == {"rader": [1, 2, 3], "oförändrad": {"a": 1}, "datum": dt.date(2026, 3, 2), "summa": 6,
                   "dag": "2026-03-02"}


@pytest.mark.parametrize(("source", "error"), [
    ("saknas + 1", NameError),
    ("{'a': 1}['b']", KeyError),
    ("1 / 0", ZeroDivisionError),
    ("'a' + 1", TypeError),
    ("int('x')", ValueError),
    ("[1][5]", IndexError),
])
def test_errors_come_back_as_the_same_kind(source: str, error: type[Exception]) -> None:
    # The engine words its incidents by kind ("Variabel saknas" for a NameError).
    with pytest.raises(error):
        sandbox.evaluate(source, {})
    with pytest.raises(error):
        sandbox.execute(f"x = {source}", {})


def test_plain_conditions_run_in_process_and_everything_else_in_an_evaluator() -> None:
    inline = ["belopp > 1000 and namn == 'Anna'", "not godkand", "rutin_beslut.get('g') == 'f1'",
              "rutin_variable('Vacation Approval') in ['Ja', 'ja']", "data['summa'] >= 10", "'PT1H'"]
    for source in inline:
        assert sandbox.plan(source, "eval").inline, source
    for source in ["belopp * 2 > 1000", "len(rader) > 2", "sum(r for r in rader) > 1", "x.upper() == 'A'",
                   "data[nyckel:]", " or ".join(["a == 1"] * 20)]:
        assert not sandbox.plan(source, "eval").inline, source


def test_an_idle_worker_killed_from_outside_is_replaced_without_blaming_the_code() -> None:
    pool = evaluator.Evaluator()
    try:
        assert pool.evaluate("1 + 1", {}, timeout=1.0, memory=64 << 20) == 2
        for pid in pool.worker_pids():
            import os
            import signal

            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)  # the kernel has ended it; nothing in Rutin waits for it
        assert pool.evaluate("2 + 2", {}, timeout=1.0, memory=64 << 20) == 4
    finally:
        pool.close()


def test_callers_on_other_threads_are_served_while_a_bomb_runs() -> None:
    pool = evaluator.Evaluator()
    try:
        pool.start()
        outcome: dict[str, Any] = {}

        def bomb() -> None:
            try:
                pool.execute(CPU_BOMB, {}, timeout=1.0, memory=64 << 20)
            except sandbox.ScriptTimeout as exc:
                outcome["bomb"] = str(exc)

        thread = threading.Thread(target=bomb)
        thread.start()
        time.sleep(0.3)  # the bomb is inside its C call now
        t0 = time.monotonic()
        answers = [pool.evaluate("n * 2", {"n": n}, timeout=1.0, memory=64 << 20) for n in range(20)]
        served_while_busy = time.monotonic() - t0
        bomb_still_running = thread.is_alive()
        thread.join()
        assert answers == [n * 2 for n in range(20)]
        assert bomb_still_running, "the calls did not overlap the bomb; the test proves nothing"
        assert served_while_busy < 0.7, served_while_busy
        assert "gränsen 1 s" in outcome["bomb"]
        assert pool.stats["killed"] == 1
    finally:
        pool.close()


def test_the_budget_comes_from_the_settings(tmp_path: Path) -> None:
    env = {"RUTIN_DATA_DIR": str(tmp_path), "RUTIN_SCRIPT_TIMEOUT_S": "0.4", "RUTIN_SCRIPT_MEMORY_MB": "64"}
    engine = Engine(Settings.from_env(env))
    try:
        with pytest.raises(sandbox.ScriptTimeout, match=r"gränsen 0\.4 s"):
            sandbox.execute(CPU_BOMB, {})
        # 100 MB is within the default budget, not within 64 MB
        with pytest.raises(sandbox.ResourceLimit, match="minne"):
            sandbox.execute("b = 'x'.encode()\nx = b * (100 * 10 ** 6)", {})
    finally:
        engine.close()
        Engine(Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path)})).close()  # the defaults again
    ctx: dict[str, Any] = {}
    sandbox.execute("b = 'x'.encode()\nx = len(b * (100 * 10 ** 6))", ctx)
    assert ctx["x"] == 100 * 10 ** 6


def test_the_evaluator_process_does_not_inherit_the_web_process_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUTIN_SECRET_KEY", "hemlig-nyckel")
    monkeypatch.setenv("RUTIN_SMTP_PASSWORD", "hemligt-lösenord")
    pool = evaluator.Evaluator()
    try:
        pool.start()
        pids = [pool.zygote_pid(), *pool.worker_pids()]
        for pid in pids:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert b"hemlig" not in environ and b"RUTIN_" not in environ
    finally:
        pool.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_web_process_serves_the_next_request_while_one_waits_for_a_slow_script(
        engine: Engine, people: dict[str, Any]) -> None:
    # The app as `rutin serve` runs it on SQLite: one request at a time inside, but one waiting
    # for its script's evaluator steps aside for the others.
    import requests
    from conftest import publish
    from werkzeug.serving import make_server

    from webapp.admission import create_served_app

    app = create_served_app(engine)
    publish(app.test_client(), people, f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="https://rutin.example/t">
  <bpmn:process id="slow" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="x"/>
    <bpmn:scriptTask id="x" name="Beräkna"><bpmn:script>{CPU_BOMB}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="x" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{server.server_port}"
    admin = people["admin"].headers
    try:
        slow: dict[str, Any] = {}
        starting = threading.Thread(target=lambda: slow.update(
            requests.post(f"{base}/api/processes/slow/cases", json={}, headers=admin, timeout=30).json()))
        starting.start()
        time.sleep(0.4)  # the script is running in its evaluator now
        t0 = time.monotonic()
        assert requests.get(f"{base}/api/tasks", headers=admin, timeout=30).status_code == 200
        read_s = time.monotonic() - t0
        slow_still_running = starting.is_alive()
        starting.join()
        assert slow_still_running, f"the read waited for the slow request ({read_s:.2f} s)"
        assert slow["status"] == "incident" and slow["incident"]["element_id"] == "x"
    finally:
        server.shutdown()
        server.server_close()


def test_a_long_evaluation_yields_the_cpu_and_a_short_one_keeps_its_worker() -> None:
    import os

    pool = evaluator.Evaluator()
    try:
        pool.start()
        [pid] = pool.worker_pids()
        assert pool.evaluate("n + 1", {"n": 1}, timeout=1.0, memory=64 << 20) == 2
        assert pool.worker_pids() == [pid] and os.getpriority(os.PRIO_PROCESS, pid) == 0
        stopped: list[Exception] = []

        def run_bomb() -> None:
            try:
                pool.execute(CPU_BOMB, {}, timeout=1.0, memory=64 << 20)
            except sandbox.ScriptTimeout as exc:
                stopped.append(exc)

        bomb = threading.Thread(target=run_bomb)
        bomb.start()
        time.sleep(0.4)
        assert os.getpriority(os.PRIO_PROCESS, pid) == evaluator.WORKER_NICE
        bomb.join()
        assert stopped and pid not in pool.worker_pids()
    finally:
        pool.close()
