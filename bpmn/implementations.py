"""What a diagram asks to run beside its flow: listeners, input/output mappings, pre- and post-scripts.

Camunda 7 (and Flowable, Activiti) attach execution and task listeners and ``inputOutput``
mappings to elements, Camunda 8 ``ioMapping``, SpiffArena ``preScript``/``postScript``. Rutin runs
none of them: a case's data is one set of variables every step reads and writes directly. So that
no designer believes otherwise, each is checked at upload and reported on its element:

- a script in a language that cannot run here (Groovy, JavaScript...), in a file Rutin does not
  have, or one the sandbox refuses, is an error, wherever it is;
- a mapping whose expression is outside the subset Rutin evaluates is a warning naming the
  expression: it is not run, so it cannot fail, but the designer learns it would not translate
  (Camunda 8 models write FEEL functions there, ``string(now())``, that Camunda runs);
- everything else is a warning saying what is not run: a Java class or delegate expression
  (``körs inte``), the mappings (by variable), the Python scripts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from . import sandbox
from .expressions import ExpressionError, shown, to_python
from .xml import BPMN_NS

if TYPE_CHECKING:
    from .normalize import Normalizer, Rewrite

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
LISTENER_NAMESPACES = (CAMUNDA_NS, "http://flowable.org/bpmn", "http://activiti.org/bpmn")
_EXTENSIONS = f"{{{BPMN_NS}}}extensionElements"


def _is_python(fmt: str | None) -> bool:
    return (fmt or "python").strip().lower() in {"python", "python3", "py"}


def _own(el: etree._Element, ns: str, local: str) -> list[etree._Element]:
    """Extension elements of `el` itself, not of the elements nested in it (a subprocess's tasks)."""
    ext = el.find(_EXTENSIONS)
    return [] if ext is None else list(ext.iter(f"{{{ns}}}{local}"))


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
            self.camunda_mappings(el)
            self.zeebe_mappings(el)
            self.spiff_scripts(el)

    def _script(self, script: etree._Element, what: str, el: etree._Element) -> bool:
        """Check a ``camunda:script``; False when it is in a language that cannot run (an error)."""
        fmt = script.get("scriptFormat")
        if not _is_python(fmt):
            self.diag("error", "unsupported-script-language",
                       f"{what} är ett skript i {fmt!r}, som inte kan köras här; skriv om det i Python eller ta bort "
                       "det.", el)
            return False
        if script.get("resource"):
            self.diag("error", "script-resource",
                       f"{what} ligger i filen {script.get('resource')!r}, som Rutin inte har; skriv skriptet i "
                       "diagrammet.", el)
            return False
        return True

    def listeners(self, el: etree._Element) -> None:
        """Execution and task listeners: never run; scripts in other languages refused."""
        for ns in LISTENER_NAMESPACES:
            for kind in ("executionListener", "taskListener"):
                for listener in _own(el, ns, kind):
                    event = listener.get("event") or "?"
                    what = f"Lyssnaren på händelsen {event!r}"
                    script = listener.find(f"{{{ns}}}script")
                    if script is not None:
                        if self._script(script, f"{what}s skript", el):
                            self.diag("warning", "listener-not-run",
                                       f"{what} (ett Python-skript) körs inte; Rutin kör inga lyssnare.", el)
                        continue
                    impl = (listener.get("class") and f"Java-klassen {listener.get('class')!r}") or (
                        listener.get("delegateExpression") and
                        f"delegatuttrycket {shown(listener.get('delegateExpression') or '')}") or (
                        listener.get("expression") and f"uttrycket {shown(listener.get('expression') or '')}")
                    self.diag("warning", "listener-not-run",
                               f"{what} ({impl or 'utan implementation'}) körs inte; Rutin kör inga lyssnare.", el)
        for listener in _own(el, ZEEBE_NS, "executionListener"):
            self.diag("warning", "listener-not-run",
                       f"Lyssnaren av typen {listener.get('type')!r} ({listener.get('eventType') or '?'}) körs inte; "
                       "Rutin har inga jobbarbetare.", el)

    def _expression(self, source: str, what: str, el: etree._Element) -> None:
        try:
            to_python(source)
        except ExpressionError as exc:
            self.diag("warning", "mapping-unreadable",
                       f"{what}: {shown(source)} kan inte utvärderas här ({exc}); mappningen körs inte.", el)

    def camunda_mappings(self, el: etree._Element) -> None:
        """``camunda:inputOutput`` (and call activities' ``camunda:in``/``out``): checked, not applied."""
        names: list[str] = []
        for local, direction in (("inputParameter", "Inmappningen"), ("outputParameter", "Utmappningen")):
            for param in _own(el, CAMUNDA_NS, local):
                name = param.get("name") or "?"
                names.append(name)
                what = f"{direction} {name!r}"
                script = param.find(f"{{{CAMUNDA_NS}}}script")
                if script is not None:
                    if self._script(script, f"{what}s skript", el):
                        try:
                            sandbox.check_script(script.text or "")
                        except sandbox.PolicyViolation as exc:
                            self.diag("error", "script-refused", f"{what}s skript tillåts inte: {exc}", el)
                    continue
                text = (param.text or "").strip()
                if param.find(f"{{{CAMUNDA_NS}}}list") is None and param.find(f"{{{CAMUNDA_NS}}}map") is None \
                        and text[:2] in {"${", "#{"}:
                    self._expression(text, what, el)
        for local in ("in", "out"):
            for mapping in _own(el, CAMUNDA_NS, local):
                if mapping.get("variables") == "all":
                    continue
                names.append(mapping.get("target") or mapping.get("source") or mapping.get("sourceExpression") or "?")
                if mapping.get("sourceExpression"):
                    self._expression(mapping.get("sourceExpression") or "", f"Mappningen till "
                                     f"{mapping.get('target')!r}", el)
        self._not_applied(names, el)

    def zeebe_mappings(self, el: etree._Element) -> None:
        """``zeebe:ioMapping`` inputs and outputs: checked, not applied."""
        names: list[str] = []
        for local, direction in (("input", "Inmappningen"), ("output", "Utmappningen")):
            for m in _own(el, ZEEBE_NS, local):
                target, source = m.get("target") or "?", (m.get("source") or "").strip()
                names.append(target)
                if source.startswith("="):
                    self._expression(source, f"{direction} till {target!r}", el)
        self._not_applied(names, el)

    def _not_applied(self, names: list[str], el: etree._Element) -> None:
        if names:
            listed = ", ".join(dict.fromkeys(names))
            self.diag("warning", "mapping-not-applied",
                       f"In- och utmappningarna ({listed}) körs inte; steget läser och skriver ärendets data direkt, "
                       "med variablernas egna namn.", el)

    def spiff_scripts(self, el: etree._Element) -> None:
        """SpiffArena's ``preScript``/``postScript``: checked by the sandbox, not run."""
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
                self.diag("warning", "script-not-run",
                           f"Skriptet som ska köras {when} steget ({local}) körs inte; lägg det i en skriptuppgift "
                           f"{when} steget.", el)
