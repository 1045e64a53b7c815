/* Behaviour shared by every page. The Content-Security-Policy allows no inline script or handler:
   what used to be onsubmit="..." is a data- attribute read here. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    // An autosaved question: Enter in one of its fields must not submit the page.
    if (form.hasAttribute("data-no-submit")) {
      event.preventDefault();
      return;
    }
    // A button whose action is hard to undo asks first.
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
