// Draws a process version with bpmn-js (NavigatedViewer, from the vendor route) into #diagram,
// then marks the steps the case has done and the steps open now (classes styled in rutin.css).
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (!box) { return; }
  var status = box.parentNode.querySelector(".diagram-status");

  function say(text, state) {
    if (status) { status.textContent = text; }
    box.setAttribute("data-state", state);
  }

  if (typeof window.BpmnJS !== "function") {
    say("Diagramvisaren saknas (bpmn-js är inte installerat; kör npm ci).", "error");
    return;
  }
  var done = JSON.parse(box.getAttribute("data-done") || "[]");
  var open = JSON.parse(box.getAttribute("data-open") || "[]");
  var incident = box.getAttribute("data-incident") || "";
  var viewer = new window.BpmnJS({ container: box });

  // Zoom and move without a mouse: the toolbar's buttons, and keys while the diagram has focus
  // (+ and - zoom, 0 fits the whole, the arrows move). The zoom level is said in the status line.
  var STEP = 1.25;
  var tools = box.parentNode.querySelectorAll("[data-zoom]");

  function zoom(canvas, how) {
    if (how === "fit") {
      canvas.zoom("fit-viewport", "auto");
    } else {
      var level = canvas.zoom();
      var next = how === "in" ? level * STEP : level / STEP;
      canvas.zoom(Math.min(4, Math.max(0.2, next)));
    }
    box.setAttribute("data-zoom-level", String(Math.round(canvas.zoom() * 100)));
    if (status) { status.textContent = "Zoom " + Math.round(canvas.zoom() * 100) + " %."; }
  }

  function controls(canvas) {
    Array.prototype.forEach.call(tools, function (button) {
      button.disabled = false;
      button.addEventListener("click", function () { zoom(canvas, button.getAttribute("data-zoom")); });
    });
    box.setAttribute("data-zoom-level", String(Math.round(canvas.zoom() * 100)));
    box.addEventListener("keydown", function (event) {
      var moves = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] };
      if (event.key === "+" || event.key === "=") { zoom(canvas, "in"); }
      else if (event.key === "-") { zoom(canvas, "out"); }
      else if (event.key === "0") { zoom(canvas, "fit"); }
      else if (moves[event.key]) { canvas.scroll({ dx: moves[event.key][0], dy: moves[event.key][1] }); }
      else { return; }
      event.preventDefault();
    });
  }

  fetch(box.getAttribute("data-xml-url"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("Diagrammet kunde inte hämtas (" + response.status + ")."); }
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport", "auto");
      done.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "rutin-done"); } });
      open.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "rutin-open"); } });
      if (incident && registry.get(incident)) { canvas.addMarker(incident, "rutin-incident"); }
      controls(canvas);
      say("Dra för att flytta, skrolla eller använd knapparna för att zooma; med tangentbordet: "
          + "piltangenterna flyttar, plus och minus zoomar, noll visar hela.", "ready");
    })
    .catch(function (err) {
      var message = String((err && err.message) || err);
      if (/no diagram to display|no process or collaboration/i.test(message)) {
        say("Diagrammet saknar ritinformation (BPMN DI) och kan inte visas; stegen finns ändå i listan.", "error");
      } else if (/^Diagrammet/.test(message)) {
        say(message, "error");
      } else {
        say("Diagrammet kunde inte visas: " + message, "error");
      }
    });
}());
