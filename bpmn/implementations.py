"""What a diagram asks to run beside its flow: listeners, input/output mappings, pre- and post-scripts.

Camunda 7 (and Flowable, Activiti) attach execution and task listeners and ``inputOutput``
mappings to elements, Camunda 8 ``ioMapping``, SpiffArena ``preScript``/``postScript``. Rutin
runs what it can run as the original engine does (`bpmn.io_mappings` says which, and how); each
is checked at upload and what is not run is reported on its element:

- a script in a language that cannot run here (Groovy, JavaScript...), in a file Rutin does not
  have, or one the sandbox refuses, is an error, wherever it is;
- a mapping whose expression is outside the subset Rutin evaluates is a warning naming the
  expression: it is not run (Camunda 8 models write FEEL functions there, ``string(now())``);
- a listener that calls Java (a class, a delegate expression, a method expression), a listener
  script on an event other than a step's start and end (or whose result variable cannot be set),
  a mapping or script on the process itself or on a flow, and a call activity's ``in``/``out``
  (Camunda's, Flowable's, Activiti's) are warnings saying they are not run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from . import io_mappings, sandbox
from .expressions import ExpressionError, shown, to_python
from .xml import BPMN_NS

if TYPE_CHECKING:
    from .normalize import Normalizer, Rewrite

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
LISTENER_NAMESPACES = (CAMUNDA_NS, "http://flowable.org/bpmn", "http://activiti.org/bpmn")
_EXTENSIONS = f"{{{BPMN_NS}}}extensionElements"


_is_python, _own = io_mappings.is_python, io_mappings.own


def local_name(el: etree._Element) -> str:
    """An element's tag without its namespace."""
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


class Implementations:
    """Checks one process's elements; diagnostics go to the process's rewrite."""

    def __init__(self, n: Normalizer, rw: Rewrite, pid: str):
        self.n, self.rw, self.pid = n, rw, pid

    def diag(self, severity: str, code: str, msg: str, el: etree._Element) -> None:
        self.n.diag(self.rw, severity, code, msg, el, self.pid)

    def run(self, proc: etree._Element) -> None:
        """Check the process element and every element in it."""
        for el in [proc, *(e for e in proc.iter() if isinstance(e.tag, str) and e.tag.startswith(f"{{{BPMN_NS}}}"))]:
            if el.find(_EXTENSIONS) is None:
                continue
            self.listeners(el)
            self.mappings(el)
            self.call_mappings(el)
            self.spiff_scripts(el)

    def _script(self, fmt: str | None, resource: str | None, what: str, el: etree._Element) -> bool:
        """Check a script's language and file; False when it cannot run (an error)."""
        if not _is_python(fmt):
            self.diag("error", "unsupported-script-language",
                       f"{what} är ett skript i {fmt!r}, som inte kan köras här; skriv om det i Python eller ta bort "
                       "det.", el)
            return False
        if resource:
            self.diag("error", "script-resource",
                       f"{what} ligger i filen {resource!r}, som Rutin inte har; skriv skriptet i diagrammet.", el)
            return False
        return True

    def listeners(self, el: etree._Element) -> None:
        """Execution and task listeners: inline Python scripts on a step's start and end run
        (`bpmn.io_mappings`); scripts in other languages are refused; the rest is not run."""
        for ns in LISTENER_NAMESPACES:
            for kind in ("executionListener", "taskListener"):
                for listener in _own(el, ns, kind):
                    event = listener.get("event") or "?"
                    what = f"Lyssnaren på händelsen {event!r}"
                    script = io_mappings.listener_script(listener, ns)
                    if script is not None:
                        self.listener_script(script, kind, event, el)
                        continue
                    impl = (listener.get("class") and f"Java-klassen {listener.get('class')!r}") or (
                        listener.get("delegateExpression") and
                        f"delegatuttrycket {shown(listener.get('delegateExpression') or '')}") or (
                        listener.get("expression") and f"uttrycket {shown(listener.get('expression') or '')}")
                    self.diag("warning", "listener-not-run",
                               f"{what} ({impl or 'utan implementation'}) körs inte; den anropar Java-objekt, som "
                               "Rutin inte har. Skriv det lyssnaren gör som ett Python-skript.", el)
        for listener in _own(el, ZEEBE_NS, "executionListener"):
            self.diag("warning", "listener-not-run",
                       f"Lyssnaren av typen {listener.get('type')!r} ({listener.get('eventType') or '?'}) körs inte; "
                       "Rutin har inga jobbarbetare.", el)

    def listener_script(self, script: io_mappings.ListenerScript, kind: str, event: str, el: etree._Element) -> None:
        """A listener's script: refused in another language or by the sandbox; else warned about
        when it is not run (another event, a result variable Rutin cannot set)."""
        what = f"Lyssnaren på händelsen {event!r}"
        if not script.source.strip() and not script.resource:
            self.diag("warning", "listener-not-run", f"{what} har inget skript (fältet script saknas) och körs inte.",
                      el)
            return
        if not self._script(script.language, script.resource, f"{what}s skript", el):
            return
        try:
            sandbox.check_script(script.source)
        except sandbox.PolicyViolation as exc:
            self.diag("error", "script-refused", f"{what}s skript tillåts inte: {exc}", el)
            return
        if (kind, event) not in io_mappings.LISTENER_EVENTS or not io_mappings.runnable(el, script):
            self.diag("warning", "listener-not-run",
                      f"{what} (ett Python-skript) körs inte; Rutin kör lyssnarskript när ett steg "
                      "startar (start, create) och slutar (end, complete).", el)
        elif script.runs_as() is None:
            self.diag("warning", "listener-not-run",
                      f"{what} körs inte: resultatet ska sättas på variabeln {script.result_variable!r}, men "
                      "skriptet är inte ett enda Python-uttryck att ta värdet av (eller namnet är ingen variabel). "
                      "Skriv tilldelningen i skriptet och ta bort fältet resultVariable.", el)

    def _expression(self, source: str, what: str, el: etree._Element) -> None:
        try:
            to_python(source)
        except ExpressionError as exc:
            self.diag("warning", "mapping-unreadable",
                       f"{what}: {shown(source)} kan inte utvärderas här ({exc}); mappningen körs inte.", el)

    def mappings(self, el: etree._Element) -> None:
        """``camunda:inputOutput`` and ``zeebe:ioMapping`` run (`bpmn.io_mappings`): a warning for
        each mapping that cannot; a script in another language refused."""
        for local in ("inputParameter", "outputParameter"):
            for param in _own(el, CAMUNDA_NS, local):
                script = param.find(f"{{{CAMUNDA_NS}}}script")
                if script is not None and self._script(script.get("scriptFormat"), script.get("resource"),
                                                       f"Mappningen {param.get('name')!r}s skript", el):
                    try:
                        sandbox.check_script(script.text or "")
                    except sandbox.PolicyViolation as exc:
                        self.diag("error", "script-refused",
                                   f"Mappningen {param.get('name')!r}s skript tillåts inte: {exc}", el)
        if local_name(el) in {"process", "sequenceFlow"}:
            names = [p.get("name") or "?" for local in ("inputParameter", "outputParameter")
                     for p in _own(el, CAMUNDA_NS, local)]
            names += [m.get("target") or "?" for local in ("input", "output") for m in _own(el, ZEEBE_NS, local)]
            self._not_applied(names, el)
            return
        for code, message in io_mappings.read(el).refused:
            self.diag("warning", code, message, el)

    def call_mappings(self, el: etree._Element) -> None:
        """A call activity's ``in``/``out`` (Camunda 7, Flowable, Activiti): checked, not applied
        (the called process shares the case's data)."""
        names: list[str] = []
        for ns, local in ((ns, local) for ns in LISTENER_NAMESPACES for local in ("in", "out")):
            for mapping in _own(el, ns, local):
                if mapping.get("variables") == "all":
                    continue
                names.append(mapping.get("target") or mapping.get("source") or mapping.get("sourceExpression") or "?")
                if mapping.get("sourceExpression"):
                    self._expression(mapping.get("sourceExpression") or "", f"Mappningen till "
                                     f"{mapping.get('target')!r}", el)
        self._not_applied(names, el)

    def _not_applied(self, names: list[str], el: etree._Element) -> None:
        if names:
            listed = ", ".join(dict.fromkeys(names))
            who = "anropet" if local_name(el) == "callActivity" else "elementet"
            self.diag("warning", "mapping-not-applied",
                       f"In- och utmappningarna ({listed}) körs inte här; {who} läser och skriver ärendets data "
                       "direkt, med variablernas egna namn.", el)

    def spiff_scripts(self, el: etree._Element) -> None:
        """SpiffArena's ``preScript``/``postScript``: checked by the sandbox; run (`bpmn.io_mappings`)."""
        for local, when in (("preScript", "före"), ("postScript", "efter")):
            for script in _own(el, SPIFF_NS, local):
                text = (script.text or "").strip()
                if not text:
                    continue
                try:
                    sandbox.check_script(text)
                except sandbox.PolicyViolation as exc:
                    self.diag("error", "script-refused", f"Skriptet som ska köras {when} steget tillåts inte: {exc}",
                               el)
                    continue
                if local_name(el) in {"process", "sequenceFlow"}:
                    self.diag("warning", "script-not-run",
                               f"Skriptet som ska köras {when} ({local}) körs inte här; lägg det i en skriptuppgift.",
                               el)
