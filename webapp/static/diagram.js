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
      say("Dra för att flytta, skrolla för att zooma.", "ready");
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
