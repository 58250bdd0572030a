// Behaviour every page shares, kept out of the markup: the pages' Content-Security-Policy runs
// no inline script and no event-handler attributes (webapp/headers.py).
(function () {
  "use strict";
  // A <select data-submit-on-change> sends its form as soon as a choice is made (the inbox's
  // sort order); without script, the form's own button does.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-submit-on-change") && field.form) {
      field.form.submit();
    }
  });
  // The case record's "Skriv ut" button; the browser's own print command works without it.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof HTMLElement && target.classList.contains("print-button")) {
      window.print();
    }
  });
}());
