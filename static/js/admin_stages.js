// Pipeline admin: drag stage rows to reorder them; the position inputs follow the new order.
document.addEventListener("DOMContentLoaded", () => {
  const tbody = document.querySelector("#stages-group tbody");
  if (!tbody || typeof Sortable === "undefined") return;
  const rows = () => [...tbody.querySelectorAll("tr.form-row.has_original, tr.form-row.dynamic-stages")];
  const renumber = () => rows().forEach((row, i) => {
    const input = row.querySelector("td.field-position input");
    if (input) input.value = i;
  });
  rows().forEach((row) => {
    const cell = row.querySelector("td.field-position");
    if (cell && !cell.querySelector(".stage-handle")) {
      const handle = document.createElement("span");
      handle.className = "stage-handle";
      handle.textContent = "⠿";
      handle.title = "Drag to reorder";
      handle.setAttribute("aria-hidden", "true");
      const input = cell.querySelector("input");
      (input && input.parentNode ? input.parentNode : cell).insertBefore(handle, input);
    }
  });
  Sortable.create(tbody, {
    handle: ".stage-handle",
    draggable: "tr.form-row",
    filter: ".add-row, .empty-form",
    onEnd: renumber,
  });
});
