// Behaviour every page shares, kept out of the markup: the pages' Content-Security-Policy runs
// no inline script and no event-handler attributes (webapp/headers.py).
(function () {
  "use strict";
  // A <select data-submit-on-change> sends its form as soon as a choice is made with the mouse or
  // a finger (the inbox's sort order). From the keyboard the arrow keys only move through the
  // choices, as they do in any list (navigating on each arrow would leave the page under the
  // reader, WCAG 3.2.2); Enter, or the form's own button, sends the choice.
  var keyed = null;
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLSelectElement) || !field.hasAttribute("data-submit-on-change") || !field.form) { return; }
    if (event.key === "Enter") {
      event.preventDefault();
      field.form.submit();
    } else if (event.key !== "Tab") {
      keyed = field;
    }
  });
  document.addEventListener("pointerdown", function () { keyed = null; });
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-submit-on-change") && field.form
        && keyed !== field) {
      field.form.submit();
    }
  });

  // On a phone a list table shows one card per row (rutin.css); each cell is labelled there with
  // its column's heading, copied from the table's <thead> into the cell's data-label.
  function labelCells(root) {
    var tables = root.querySelectorAll("table.list");
    for (var i = 0; i < tables.length; i++) {
      var heads = tables[i].querySelectorAll("thead th");
      if (!heads.length) { continue; }
      var rows = tables[i].querySelectorAll("tbody tr");
      for (var r = 0; r < rows.length; r++) {
        var cells = rows[r].children;
        for (var c = 0; c < cells.length && c < heads.length; c++) {
          var label = heads[c].textContent.trim();
          if (label && !cells[c].hasAttribute("data-label")) { cells[c].setAttribute("data-label", label); }
        }
      }
    }
  }
  labelCells(document);

  // The error summary (GOV.UK pattern) takes focus when the page comes back with errors, so that a
  // screen reader reads it first; each of its links moves focus to its field, showing the field's
  // label (or a group's legend) above it rather than the bare input at the window's top edge.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target instanceof Element ? event.target.closest("a[href^='#']") : null;
      var field = link ? document.getElementById(link.getAttribute("href").slice(1)) : null;
      if (!field) { return; }
      event.preventDefault();
      var group = field.closest("fieldset");
      var caption = group ? group.querySelector("legend") : document.querySelector("label[for='" + field.id + "']");
      (caption || field).scrollIntoView();
      field.focus({preventScroll: true});
    });
  }
  document.addEventListener("htmx:afterSwap", function (event) { labelCells(event.target); });
  // The case record's "Skriv ut" button; the browser's own print command works without it.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof HTMLElement && target.classList.contains("print-button")) {
      window.print();
    }
  });
}());
