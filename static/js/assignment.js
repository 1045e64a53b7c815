/* The assignment page: autosave errors shown, and the VM grid's rows added and removed. */
(function () {
  // A refused autosave (403, 500) is shown, never silently lost.
  document.body.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("htmx-error");
    var text = event.detail.xhr.responseText || "";
    box.textContent = "Not saved: " + (text.length < 300 ? text : "the server refused the change (" + event.detail.xhr.status + ").");
    box.hidden = false;
  });
  document.body.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("htmx-error");
    box.textContent = "Not saved: the portal cannot be reached. Your last changes will be sent when you change a field again.";
    box.hidden = false;
  });
  // The VM grid: add and remove rows; bad cells named by the server are marked.
  document.body.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var form = add.closest("form");
      var index = parseInt(form.dataset.nextIndex, 10);
      form.dataset.nextIndex = index + 1;
      var html = form.querySelector("template").innerHTML.replace(/__N__/g, index);
      var body = form.querySelector("tbody");
      body.insertAdjacentHTML("beforeend", html);
      body.lastElementChild.querySelector("input, select").focus();
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var grid = remove.closest("form");
      remove.closest("tr").remove();
      grid.dispatchEvent(new Event("change", {bubbles: true}));
    }
  });
  document.body.addEventListener("vmProblems", function (event) {
    var form = document.querySelector('.vm-grid-form[data-question="' + event.detail.question + '"]');
    if (!form) return;
    form.querySelectorAll(".is-invalid").forEach(function (cell) { cell.classList.remove("is-invalid"); cell.removeAttribute("title"); });
    var rows = form.querySelectorAll("tbody tr");
    event.detail.cells.forEach(function (problem) {
      var row = rows[problem.row - 1];
      var cell = row && row.querySelector('[name$="-' + problem.column + '"]');
      if (cell) { cell.classList.add("is-invalid"); cell.title = problem.message; }
    });
  });
})();
