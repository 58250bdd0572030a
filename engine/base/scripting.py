"""SpiffWorkflow's script engine, pointed at the restricted evaluator instead of eval/exec.

Every script, gateway condition, timer expression and correlation expression SpiffWorkflow
evaluates goes through `PythonScriptEngine.environment`; replacing the environment is the one
place that covers all four.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from bpmn import evaluator, sandbox, script_builtins

from . import data_limits, script_world
from .settings import Settings


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates and executes through `bpmn.sandbox`."""

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        scope = {**(external_context or {}), **context}
        env = script_world.env_for(expression)
        if env is not None:
            scope[script_builtins.ENV_KEY] = env
        return sandbox.evaluate(expression, scope)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        settings = data_limits.current()
        env = script_world.env_for(script)
        if settings is None and env is None:
            sandbox.execute(script, context)
            return True
        # On a copy, kept only within the case's limits: a script that grows the case too far
        # fails its step (an incident, retried once fixed) and leaves the data as it was. The
        # world's answers travel beside the data and never become part of it.
        scratch = copy.deepcopy(context) if settings is not None else dict(context)
        if env is not None:
            scratch[script_builtins.ENV_KEY] = env
        sandbox.execute(script, scratch)
        scratch.pop(script_builtins.ENV_KEY, None)
        problem = data_limits.script_problem(settings, scratch) if settings is not None else None
        if problem is not None:
            raise sandbox.ResourceLimit(problem)
        context.clear()
        context.update(scratch)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise sandbox.SandboxError("tjänsteanrop stöds inte; uppgiften utförs av en handläggare")


SCRIPT_ENGINE = PythonScriptEngine(environment=SandboxEnvironment())


def configure(settings: Settings) -> None:
    """Give every script and expression this process evaluates the settings' time and memory budget."""
    sandbox.configure(timeout_s=settings.script_timeout_s, memory_mb=settings.script_memory_mb)


def on_long_wait(callback: Callable[[], None]) -> None:
    """Have a thread call `callback` once its evaluation has waited a moment for its evaluator
    process (the web process's admission gate steps aside then; `webapp.admission`)."""
    evaluator.shared().on_long_wait = callback


def prestart() -> None:
    """Start this process's evaluator processes now rather than at the first evaluation."""
    evaluator.shared().start()
