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
      applyFilter(form.closest(".vm-list"));
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
  // --- the VM tables: filter, sort, columns (in the page only; the grid is saved in its list order) ------------
  var STORE = "vmcensus.vm-columns.";
  function cellValue(td) {
    if (!td) return "";
    if (td.dataset.value !== undefined) return td.dataset.value;
    var field = td.querySelector("[data-column]");
    if (!field) return td.textContent.trim();
    if (field.tagName === "SELECT") return field.selectedIndex > 0 ? field.options[field.selectedIndex].text : "";
    return field.value.trim();
  }
  function hiddenColumns(table) {
    var stored = null;
    try { stored = JSON.parse(window.localStorage.getItem(STORE + table.dataset.vmTable)); } catch (error) { stored = null; }
    return Array.isArray(stored) ? stored : (table.dataset.defaultHidden || "").split(" ").filter(Boolean);
  }
  function applyColumns(table) {
    if (!table) return;
    var hidden = hiddenColumns(table);
    table.dataset.hidden = hidden.join(" ");
    var tools = table.closest(".vm-list").querySelector("[data-vm-tools]");
    if (tools) tools.querySelectorAll("[data-vm-column]").forEach(function (box) { box.checked = hidden.indexOf(box.dataset.vmColumn) < 0; });
  }
  function applyFilter(list) {
    var tools = list.querySelector("[data-vm-tools]");
    var table = list.querySelector(".vm-table");
    if (!tools || !table) return;
    var words = tools.querySelector("[data-vm-filter]").value.toLowerCase().split(/\s+/).filter(Boolean);
    var rows = table.querySelectorAll("tbody tr[data-seq]");
    var shown = 0;
    rows.forEach(function (tr) {
      var text = Array.prototype.map.call(tr.cells, cellValue).join(" ").toLowerCase();
      var match = words.every(function (word) { return text.indexOf(word) >= 0; });
      tr.hidden = !match;
      if (match) shown += 1;
    });
    tools.querySelector("[data-vm-shown]").textContent = words.length ? shown + " of " + rows.length + " rows shown" : "";
  }
  function sortBy(button) {
    var table = button.closest("table");
    var heading = button.closest("th");
    var ascending = heading.getAttribute("aria-sort") !== "ascending";
    var index = Array.prototype.indexOf.call(heading.parentNode.children, heading);
    var key = button.dataset.sort;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-seq]"));
    var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
    rows.sort(function (a, b) {
      var order = key === "#" ? parseInt(a.dataset.seq, 10) - parseInt(b.dataset.seq, 10)
        : collator.compare(cellValue(a.cells[index]), cellValue(b.cells[index]));
      if (key !== "#" && order === 0) order = parseInt(a.dataset.seq, 10) - parseInt(b.dataset.seq, 10);
      return ascending ? order : -order;
    });
    var body = table.querySelector("tbody");
    rows.forEach(function (tr) { body.appendChild(tr); });
    table.querySelectorAll("thead th").forEach(function (th) { th.setAttribute("aria-sort", "none"); });
    heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  document.body.addEventListener("input", function (event) {
    if (event.target.matches("[data-vm-filter]")) applyFilter(event.target.closest(".vm-list"));
  });
  document.body.addEventListener("change", function (event) {
    var box = event.target.closest("[data-vm-column]");
    if (!box) return;
    var table = box.closest(".vm-list").querySelector(".vm-table");
    var hidden = [];
    box.closest("[data-vm-tools]").querySelectorAll("[data-vm-column]").forEach(function (other) {
      if (!other.checked) hidden.push(other.dataset.vmColumn);
    });
    try { window.localStorage.setItem(STORE + table.dataset.vmTable, JSON.stringify(hidden)); } catch (error) { /* private mode: this page only */ }
    table.dataset.hidden = hidden.join(" ");
  });
  document.body.addEventListener("click", function (event) {
    var sort = event.target.closest(".vm-sort");
    if (sort) { sortBy(sort); return; }
    var reset = event.target.closest("[data-vm-columns-reset]");
    if (reset) {
      var table = reset.closest(".vm-list").querySelector(".vm-table");
      try { window.localStorage.removeItem(STORE + table.dataset.vmTable); } catch (error) { /* nothing stored */ }
      applyColumns(table);
    }
  });
  function setUpTables(root) {
    (root.querySelectorAll ? root : document).querySelectorAll(".vm-table").forEach(applyColumns);
    if (root.matches && root.matches(".vm-table")) applyColumns(root);
  }
  document.body.addEventListener("htmx:load", function (event) { setUpTables(event.target); });
  setUpTables(document);

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
