"""Loops and multi-instance steps: every expression and data name they carry, checked at upload.

A multi-instance step says how many instances it makes (``loopCardinality``), when it is done
(``completionCondition``), what it runs once per element of (``loopDataInputRef``, or a dialect's
collection: ``camunda:collection``, ``flowable:collection``, ``activiti:collection``, Camunda 8's
``zeebe:loopCharacteristics inputCollection``), the name each instance sees its element under
(``inputDataItem``, ``elementVariable``, ``inputElement``) and what it collects
(``loopDataOutputRef``/``outputDataItem``, ``outputCollection``/``outputElement``). A standard loop
says when to go round again (``loopCondition``). SpiffWorkflow writes its own variants with the
same elements, in Python.

Each expression goes through the translation and sandbox check a gateway's condition goes
through (`Normalizer.expression`) and gets the same located error; in a descriptive process the
loop part is dropped with a warning instead, as a condition that cannot be evaluated becomes a
handler's decision there. A number of instances (or a collection) written as a constant is held
to the upload's limit (`bpmn.limits`). Each data name must be a name of the case's data, never
one of the engine's own (``_``-prefixed, or Rutin's reserved names).

Imports inside functions: `bpmn.repairs` imports this module at the top (Zeebe's output
gathering) and this module uses the repairs' `plain_variable` and the normalizer's types; those
are imported where they are used, so the three modules load without importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from . import limits
from .expressions import VARIABLE_HELPER, shown
from .xml import q

if TYPE_CHECKING:
    from .normalize import Normalizer, Rewrite

ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
DIALECT_NAMESPACES = {"camunda": "http://camunda.org/schema/1.0/bpmn", "flowable": "http://flowable.org/bpmn",
                      "activiti": "http://activiti.org/bpmn"}
# The variables Rutin itself keeps in a case's data: a loop must not overwrite them.
RESERVED_NAMES = frozenset({"rutin_beslut", VARIABLE_HELPER})
_FIX_NAME = "Använd ett vanligt variabelnamn ur ärendets data (som inte börjar med _)."


def data_name_problem(name: str) -> str | None:
    """Why `name` cannot name a variable a loop reads or writes (Swedish), or None when it can."""
    if not name.strip():
        return "namnet är tomt"
    if name.startswith("_"):
        return "namn som börjar med _ hör till motorn, inte till ärendets data"
    if name in RESERVED_NAMES:
        return "namnet används av Rutin självt"
    if len(name) > 200:
        return "namnet är längre än 200 tecken"
    return None


def zeebe_output(mi: etree._Element) -> tuple[str, str] | None:
    """Camunda 8's output collection and the variable each instance adds to it, when both are
    plain names (``outputCollection="results" outputElement="=result"``), else None."""
    from .repairs import plain_variable

    for z in mi.iter(f"{{{ZEEBE_NS}}}loopCharacteristics"):
        collection = (z.get("outputCollection") or "").strip().lstrip("=").strip()
        element = plain_variable(z.get("outputElement") or "")
        if collection.isidentifier() and element and element.isidentifier():
            return collection, element
    return None


def gather_zeebe_output(mi: etree._Element) -> None:
    """Gather the instances' results as Camunda 8 does: each instance's output element, in the
    order of the input collection, into the output collection (SpiffWorkflow's
    ``loopDataOutputRef``/``outputDataItem`` do exactly that)."""
    found = zeebe_output(mi)
    if found is None or mi.find(q("loopDataOutputRef")) is not None:
        return
    collection, element = found
    etree.SubElement(mi, q("loopDataOutputRef")).text = collection
    etree.SubElement(mi, q("outputDataItem"), id=element, name=element)


class LoopChecks:
    """Checks (and translates, in the executable copy) the loops of one process."""

    def __init__(self, n: Normalizer, rw: Rewrite, pid: str, descriptive: bool):
        self.n, self.rw, self.pid, self.descriptive = n, rw, pid, descriptive
        self.cap = n.limits.max_multi_instance
        # Instances each multi-instance element makes, where the diagram writes them as a constant.
        self.counts: dict[etree._Element, int] = {}

    def _error(self, code: str, message: str, el: etree._Element) -> None:
        self.n.diag(self.rw, "error", code, message, el, self.pid)

    def _warn(self, code: str, message: str, el: etree._Element) -> None:
        self.n.diag(self.rw, "warning", code, message, el, self.pid)

    def run(self, proc: etree._Element) -> None:
        """Check every loop in the process and in its subprocesses."""
        for el in list(proc.iter()):
            if not isinstance(el.tag, str):
                continue
            mi = el.find(q("multiInstanceLoopCharacteristics"))
            if mi is not None:
                self.multi_instance(el, mi)
            std = el.find(q("standardLoopCharacteristics"))
            if std is not None:
                self.standard(el, std)
        self._nested()

    def _nested(self) -> None:
        """A multi-instance step inside a multi-instance subprocess makes its instances in each of
        the subprocess's: the product is held to the limit too."""
        for el, count in self.counts.items():
            total, outer = count, el.getparent()
            while outer is not None:
                total *= self.counts.get(outer, 1)
                outer = outer.getparent()
            if total > self.cap:
                self._error("too-many-instances", f"Flerinstansen ligger i en delprocess som också är en flerinstans: "
                                                  f"tillsammans blir det {total} instanser, men högst {self.cap} "
                                                  "tillåts. Minska antalet i steget eller i delprocessen.", el)

    def _expression(self, part: etree._Element, what: str, el: etree._Element) -> str | None:
        """The Python of a loop's expression element, or None when it cannot run (a located error
        in an executable process)."""
        return self.n.expression(self.rw, (part.text or "").strip(), part.get("language"), what, el, self.pid,
                                 report=not self.descriptive)

    def multi_instance(self, el: etree._Element, mi: etree._Element) -> None:
        """A multi-instance step's number, condition, collections and names."""
        cardinality = mi.find(q("loopCardinality"))
        if cardinality is not None and (cardinality.text or "").strip():
            written = (cardinality.text or "").strip()
            python = self._expression(cardinality, "Antalet instanser", el)
            if python is None:
                if self.descriptive:
                    el.remove(mi)
                    self._warn("loop-ignored", f"Antalet instanser {shown(written)} kan inte utvärderas; steget görs "
                                               "en gång.", el)
                return
            cardinality.text = python
            self._constant_count(python, written, el)
        condition = mi.find(q("completionCondition"))
        if condition is not None and (condition.text or "").strip():
            written = (condition.text or "").strip()
            python = self._expression(condition, "Villkoret för att avsluta flerinstansen", el)
            if python is None:
                if self.descriptive:
                    mi.remove(condition)
                    self._warn("completion-ignored", f"Villkoret för att avsluta flerinstansen {shown(written)} kan "
                                                     "inte utvärderas; alla instanser görs.", el)
            else:
                condition.text = python
        for tag, what in (("loopDataInputRef", "Samlingen"), ("loopDataOutputRef", "Utsamlingen")):
            ref = mi.find(q(tag))
            if ref is not None and (ref.text or "").strip():
                # A reference to a data object (by its id) is the variable the object is named.
                name = self.n.data_names.get((ref.text or "").strip(), (ref.text or "").strip())
                ref.text = name
                self._name(name, f"{what} ({tag})", el)
        for tag, what in (("inputDataItem", "Elementvariabeln"), ("outputDataItem", "Utvariabeln")):
            item = mi.find(q(tag))
            if item is not None and item.get("id"):  # SpiffWorkflow keeps the item under its id
                self._name(item.get("id") or "", f"{what} ({tag})", el)
        for prefix, ns in DIALECT_NAMESPACES.items():
            if mi.get(f"{{{ns}}}collection"):
                self._collection(mi.get(f"{{{ns}}}collection") or "", f"Samlingen ({prefix}:collection)", el)
            if mi.get(f"{{{ns}}}elementVariable"):
                self._name(mi.get(f"{{{ns}}}elementVariable") or "", f"Elementvariabeln ({prefix}:elementVariable)",
                           el)
        for z in mi.iter(f"{{{ZEEBE_NS}}}loopCharacteristics"):
            self.zeebe(z, el, mi)

    def zeebe(self, z: etree._Element, el: etree._Element, mi: etree._Element) -> None:
        """Camunda 8's ``zeebe:loopCharacteristics``: input and output collections and elements."""
        if (z.get("inputCollection") or "").strip():
            self._collection(z.get("inputCollection") or "", "Samlingen (inputCollection)", el)
        if (z.get("inputElement") or "").strip():
            self._name((z.get("inputElement") or "").strip(), "Elementvariabeln (inputElement)", el)
        output = (z.get("outputCollection") or "").strip()
        if output:
            self._name(output.lstrip("=").strip(), "Utsamlingen (outputCollection)", el)
        element = (z.get("outputElement") or "").strip()
        if element:
            self.n.expression(self.rw, element, None, "Utelementet (outputElement)", el, self.pid,
                              report=not self.descriptive)
        if (output or element) and zeebe_output(mi) is None:
            # (a plain name in both is gathered: `gather_zeebe_output`)
            self._warn("loop-output-not-collected",
                       "Flerinstansens utsamling (outputCollection/outputElement) samlas inte in när utelementet är "
                       "ett uttryck; varje instans skriver sina variabler direkt i ärendets data. Skriv "
                       "outputElement som en variabel (=resultat) så samlas värdena i utsamlingen.", el)

    def _collection(self, text: str, what: str, el: etree._Element) -> None:
        """A dialect's collection: a variable (its name checked), or an expression (checked as
        any other; one written as a constant list is held to the limit)."""
        from .repairs import plain_variable

        name = plain_variable(text)
        if name is not None:
            self._name(name, what, el)
            return
        python = self.n.expression(self.rw, text.strip(), None, what, el, self.pid, report=not self.descriptive)
        if python is None:
            return
        try:
            value = limits.constant(python)
        except limits.NotConstant:
            return  # not a variable Rutin can run once per element of: the repairs make it one pass
        except limits.ConstantError as exc:
            self._error("unsupported-expression", f"{what} {shown(text)} kan inte räknas ut: {exc}.", el)
            return
        problem = limits.collection_problem(value, self.cap)
        if problem is not None:  # within the limit, the repairs make such a step one pass
            self._error("too-many-instances", f"{what} {shown(text)} kan inte användas: {problem}. Låt en variabel "
                                              f"i ärendets data vara samlingen, med högst {self.cap} element.", el)

    def _constant_count(self, python: str, written: str, el: etree._Element) -> None:
        try:
            value = limits.constant(python)
        except limits.NotConstant:
            return  # computed from the case's data: checked when a case computes it
        except limits.ConstantError as exc:
            self._error("unsupported-expression", f"Antalet instanser {shown(written)} kan inte räknas ut: {exc}.", el)
            return
        problem = limits.cardinality_problem(value, self.cap)
        if problem is None:
            self.counts[el] = value
        else:
            code = "too-many-instances" if isinstance(value, int) and value > self.cap else "invalid-cardinality"
            self._error(code, f"Antalet instanser {shown(written)} kan inte användas: {problem}. Skriv ett heltal "
                              f"från 0 till {self.cap}, eller dela upp arbetet på flera steg.", el)

    def _name(self, name: str, what: str, el: etree._Element) -> None:
        problem = data_name_problem(name)
        if problem is not None:
            self._error("invalid-data-name", f"{what} {shown(name)} kan inte användas: {problem}. {_FIX_NAME}", el)

    def standard(self, el: etree._Element, std: etree._Element) -> None:
        """A standard loop's condition (and maximum, which SpiffWorkflow reads as a whole number)."""
        condition = std.find(q("loopCondition"))
        if condition is not None and (condition.text or "").strip():
            written = (condition.text or "").strip()
            python = self._expression(condition, "Villkoret för att upprepa steget", el)
            if python is None:
                if self.descriptive:
                    # Without its condition the repairs make the loop one pass (or keep its maximum).
                    std.remove(condition)
                    self._warn("loop-condition-ignored", f"Villkoret för att upprepa steget {shown(written)} kan "
                                                         "inte utvärderas och används inte.", el)
            else:
                condition.text = python
        maximum = std.get("loopMaximum")
        if maximum is not None and not maximum.strip().isdigit():
            self._error("invalid-cardinality", f"Slingans största antal varv (loopMaximum) {maximum!r} är inget "
                                               "heltal; skriv ett heltal, t.ex. 3.", el)
