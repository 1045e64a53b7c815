// Reconciliation pages: a checkbox in a list's header ticks or unticks every item of the page that belongs to the
// form it names (data-check-all="<form id>"). Loaded as a file: the Content-Security-Policy allows no inline script.
document.addEventListener("change", (event) => {
  const master = event.target.closest("[data-check-all]");
  if (!master) {
    return;
  }
  const form = master.dataset.checkAll;
  document.querySelectorAll(`input[type=checkbox][name=item][form="${form}"]`).forEach((box) => {
    box.checked = master.checked;
  });
});
