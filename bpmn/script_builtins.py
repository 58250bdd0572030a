"""What scripts written for the original engines expect to find: date and time, and SpiffArena's
built-ins for who is working, mapped onto Rutin's organisation.

- ``datetime``, ``date`` and ``timedelta`` behave as Python's classes for what scripts do with
  them (construct, ``fromisoformat``, ``strptime``, ``combine``, arithmetic on the values), and
  ``datetime.datetime``/``datetime.date``/``datetime.timedelta`` work as after ``import datetime``.
  ``datetime.now()``, ``datetime.today()`` and ``date.today()`` read the engine's clock (Swedish
  local time, naive, as Python's ``now()`` gives local time), ``datetime.utcnow()`` the same
  instant in UTC: never the wall clock, so a test's clock and a replay agree.
- ``get_current_user()``: the login of the person whose action runs the script (the one
  completing a task, starting the case); ``get_process_initiator_user()``: the case's starter,
  as ``{"username": login}``; ``get_group_members(role)``: the logins holding the role in the
  case's unit, else group-wide; ``get_last_user_completing_task(process, task)``: the login of
  whoever last completed that task (by element id) in this case.

The evaluator process holds no database: the engine sends the answers the script can ask for with
its data, in ``ENV_KEY`` (its name starts with ``_``, so the script cannot read it by name):
the clock's instant, the two users, and the members and completers of exactly the roles and
tasks the script names as text constants (`requests`). A script that names them otherwise gets
a clear refusal naming the call.
"""

from __future__ import annotations

import ast
import datetime as _dt
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

ENV_KEY = "_rutin_env"
LOCAL = ZoneInfo("Europe/Stockholm")
GROUP_CALL = "get_group_members"
LAST_USER_CALL = "get_last_user_completing_task"


class BuiltinError(Exception):
    """A built-in asked for what the engine did not send: raised as the sandbox's refusal."""


class Namespace:
    """A fixed set of members a script reaches by attribute (``datetime.now``), callable as the
    class it stands for; nothing else of it is reachable (`bpmn.sandbox` lets attributes of it
    through `member` only)."""

    def __init__(self, name: str, call: Callable[..., Any], members: dict[str, Any]):
        self.name, self.call, self.members = name, call, members

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def member(self, name: str) -> Any:
        """The member `name`; `BuiltinError` for any other."""
        if name not in self.members:
            raise BuiltinError(f"{self.name}.{name} finns inte i skriptmiljön")
        return self.members[name]


def requests(source: str) -> dict[str, set[Any]]:
    """The roles (``get_group_members('x')``) and tasks (``get_last_user_completing_task(p, 't')``)
    a script names as text constants: what the engine looks up before running it."""
    wanted: dict[str, set[Any]] = {GROUP_CALL: set(), LAST_USER_CALL: set()}
    if GROUP_CALL not in source and LAST_USER_CALL not in source:
        return wanted
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return wanted
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in wanted and node.args:
            last = node.args[-1]
            if isinstance(last, ast.Constant) and isinstance(last.value, str):
                wanted[node.func.id].add(last.value)
    return wanted


def _strptime(text: str, fmt: str) -> _dt.datetime:
    # A Python frame of ours: the C method imports its parser through the calling frame's
    # builtins, and the script's have no __import__.
    return _dt.datetime.strptime(text, fmt)


def _now(env: Mapping[str, Any], error: type[Exception]) -> _dt.datetime:
    instant = env.get("now")
    if not isinstance(instant, _dt.datetime):
        raise error("klockan är inte tillgänglig här (bara i ett ärendes skript)")
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=_dt.UTC)


def helpers(env: Mapping[str, Any] | None, error: type[Exception] = BuiltinError) -> dict[str, Any]:
    """The names scripts find beside their data, answering from `env` (what the engine sent);
    what they cannot answer raises `error` (the sandbox's refusal)."""
    env = env or {}

    def local_now(tz: Any = None) -> _dt.datetime:
        if tz is not None:
            raise error("datetime.now tar ingen tidszon här; tiden är svensk lokal tid")
        return _now(env, error).astimezone(LOCAL).replace(tzinfo=None)

    def utcnow() -> _dt.datetime:
        return _now(env, error).astimezone(_dt.UTC).replace(tzinfo=None)

    def today() -> _dt.date:
        return local_now().date()

    timedelta = Namespace("timedelta", _dt.timedelta, {"max": _dt.timedelta.max, "min": _dt.timedelta.min})
    date = Namespace("date", _dt.date, {"today": today, "fromisoformat": _dt.date.fromisoformat,
                                        "min": _dt.date.min, "max": _dt.date.max})
    members: dict[str, Any] = {
        "now": local_now, "today": local_now, "utcnow": utcnow,
        "fromisoformat": _dt.datetime.fromisoformat, "strptime": _strptime,
        "combine": _dt.datetime.combine, "min": _dt.datetime.min, "max": _dt.datetime.max,
        "timedelta": timedelta, "date": date,
    }
    datetime = Namespace("datetime", _dt.datetime, members)
    members["datetime"] = datetime

    def get_current_user() -> str | None:
        return env.get("user")

    def get_process_initiator_user() -> dict[str, Any]:
        return {"username": env.get("initiator")}

    def get_group_members(role: str) -> list[str]:
        groups = env.get("groups") or {}
        if role not in groups:
            raise error(f"{GROUP_CALL}: rollen ska anges som text i skriptet, t.ex. {GROUP_CALL}('handlaggare')")
        return list(groups[role])

    def get_last_user_completing_task(*args: Any) -> str | None:
        last = env.get("last") or {}
        task = args[-1] if args else None
        if task not in last:
            raise error(f"{LAST_USER_CALL}: uppgiftens id ska anges som text i skriptet")
        return last[task]

    return {"datetime": datetime, "date": date, "timedelta": timedelta,
            "get_current_user": get_current_user, "get_process_initiator_user": get_process_initiator_user,
            GROUP_CALL: get_group_members, LAST_USER_CALL: get_last_user_completing_task}
