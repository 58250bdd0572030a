"""What a script may ask about the world it runs in (the clock, who acts, the organisation),
answered for the unit of work running it.

The unit of work (`engine.execution.case_world`) installs its answers with `use`; the scripting
environment (`engine.base.scripting`) turns them into the data `bpmn.script_builtins` reads,
looking up only the roles and tasks the script names. Outside a case (an expression checked at
upload) there is no world: the date and user built-ins then refuse instead of guessing.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any, Protocol

from bpmn import script_builtins

# A script naming more roles or tasks than this gets the first ones looked up; the rest refuse.
MAX_LOOKUPS = 50


class World(Protocol):
    """The answers a unit of work gives its scripts."""

    user: str | None
    initiator: str | None

    def now(self) -> datetime:
        """The engine's clock."""
        ...

    def members(self, role: str) -> list[str]:
        """Logins holding `role` for the case."""
        ...

    def last_completer(self, task: str) -> str | None:
        """The login of whoever last completed the task with element id `task` in the case."""
        ...


_current: ContextVar[World | None] = ContextVar("rutin_script_world", default=None)


def use(world: World | None) -> None:
    """Let the scripts evaluated on this thread (one unit of work) ask `world`."""
    _current.set(world)


def env_for(source: str) -> dict[str, Any] | None:
    """What `source` may ask, answered now; None outside a unit of work."""
    world = _current.get()
    if world is None:
        return None
    wanted = script_builtins.requests(source)
    roles = sorted(wanted[script_builtins.GROUP_CALL])[:MAX_LOOKUPS]
    tasks = sorted(wanted[script_builtins.LAST_USER_CALL])[:MAX_LOOKUPS]
    return {"now": world.now(), "user": world.user, "initiator": world.initiator,
            "groups": {r: world.members(r) for r in roles},
            "last": {t: world.last_completer(t) for t in tasks}}
