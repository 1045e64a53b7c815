/* The assignment page: autosave errors shown, changes flushed before the page is left, and the VM tables (the
   grid sent as one JSON body, rows added, removed and restored, bad cells marked; filter, sort and columns). */
(function () {
  "use strict";
  var AUTOSAVED = "form[hx-trigger*='flush']";

  // A refused autosave (403, 500) is shown, never silently lost. The grid's own refusals (400) are shown by it.
  document.body.addEventListener("htmx:responseError", function (event) {
    if (event.detail.elt.closest && event.detail.elt.closest(".vm-grid-form")) return;
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

  // --- unsaved changes: flushed when the page is left, and the person warned while they are on their way -------
  // A form is dirty from a keystroke until its save is sent, and again when that save failed.
  function markDirty(event) {
    var form = event.target.closest && event.target.closest(AUTOSAVED);
    if (form) form.dataset.dirty = "1";
  }
  document.body.addEventListener("input", markDirty);
  document.body.addEventListener("change", markDirty);
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches(AUTOSAVED)) return;
    delete form.dataset.dirty;
    form.dataset.inflight = String((parseInt(form.dataset.inflight || "0", 10)) + 1);
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches(AUTOSAVED)) return;
    form.dataset.inflight = String(Math.max(0, parseInt(form.dataset.inflight || "1", 10) - 1));
    if (!event.detail.successful) form.dataset.dirty = "1";
  });
  function flushDirty() {
    var pending = false;
    document.querySelectorAll(AUTOSAVED).forEach(function (form) {
      if (form.dataset.dirty) { htmx.trigger(form, "flush"); pending = true; }
      if (form.dataset.inflight && form.dataset.inflight !== "0") pending = true;
    });
    return pending;
  }
  window.addEventListener("beforeunload", function (event) {
    if (flushDirty()) {  // sent now, not after the autosave's delay; the browser asks whether to leave meanwhile
      event.preventDefault();
      event.returnValue = "";
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flushDirty();
  });

  // --- the VM grid: sent as one JSON document --------------------------------------------------------------------
  function rowsInListOrder(container) {
    return Array.prototype.slice.call(container.querySelectorAll("tbody tr[data-seq]")).sort(function (a, b) {
      return parseInt(a.dataset.seq, 10) - parseInt(b.dataset.seq, 10);
    });
  }
  function gridDocument(form) {
    return {rows: rowsInListOrder(form).map(function (tr) {
      var row = {id: tr.dataset.rowId || null};
      tr.querySelectorAll("[data-column]").forEach(function (cell) { row[cell.dataset.column] = cell.value; });
      return row;
    })};
  }
  function renumber(form) {
    rowsInListOrder(form).forEach(function (tr, index) { tr.querySelector(".row-number").textContent = index + 1; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    htmx.defineExtension("vm-grid-json", {
      onEvent: function (name, event) {
        if (name === "htmx:configRequest") event.detail.headers["Content-Type"] = "application/json";
        // A refused grid (400) names its problems in the state line: show them there.
        if (name === "htmx:beforeSwap" && event.detail.xhr.status === 400) {
          event.detail.shouldSwap = true;
          event.detail.isError = false;
        }
      },
      encodeParameters: function (xhr, parameters, elt) {
        xhr.overrideMimeType("text/html");
        return JSON.stringify(gridDocument(elt.closest("form")));
      }
    });
  });

  // Rows added, removed (with undo) and restored.
  document.body.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var form = add.closest("form");
      var index = parseInt(form.dataset.nextIndex, 10);
      form.dataset.nextIndex = index + 1;
      var html = form.querySelector("template").innerHTML.replace(/__N__/g, index);
      var body = form.querySelector("tbody");
      body.insertAdjacentHTML("beforeend", html);
      renumber(form);
      body.lastElementChild.querySelector("input, select").focus();
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var grid = remove.closest("form");
      var row = remove.closest("tr");
      var name = (row.querySelector('[data-column="name"]') || {}).value || "";
      grid._removed = grid._removed || [];
      grid._removed.push({row: row, next: row.nextElementSibling, name: name});
      row.remove();
      renumber(grid);
      showUndo(grid);
      htmx.trigger(grid, "flush");
      return;
    }
    var undo = event.target.closest("[data-undo-row]");
    if (undo) {
      var list = undo.closest("form");
      var last = (list._removed || []).pop();
      if (!last) return;
      var tbody = list.querySelector("tbody");
      if (last.next && last.next.parentNode === tbody) tbody.insertBefore(last.row, last.next);
      else tbody.appendChild(last.row);
      renumber(list);
      showUndo(list);
      htmx.trigger(list, "flush");
    }
  });
  function showUndo(form) {
    var box = form.querySelector("[data-undo]");
    var removed = form._removed || [];
    box.hidden = !removed.length;
    if (removed.length) {
      var last = removed[removed.length - 1];
      box.querySelector("[data-undo-text]").textContent = "Row “" + (last.name || "without a name") + "” removed.";
    }
  }
  document.body.addEventListener("vmProblems", function (event) {
    var form = document.querySelector('.vm-grid-form[data-question="' + event.detail.question + '"]');
    if (!form) return;
    form.querySelectorAll(".is-invalid").forEach(function (cell) { cell.classList.remove("is-invalid"); cell.removeAttribute("title"); });
    var rows = rowsInListOrder(form);
    event.detail.cells.forEach(function (problem) {
      var row = rows[problem.row - 1];
      var cell = row && row.querySelector('[data-column="' + problem.column + '"]');
      if (cell) { cell.classList.add("is-invalid"); cell.title = problem.message; }
    });
  });
})();
