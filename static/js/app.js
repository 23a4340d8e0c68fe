// Opportune's own behaviour; every page works without it.

// The account menu is a <details>: close it on a click elsewhere or on Escape, as menus do.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.usermenu[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.usermenu[open]")) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});

// Filter bars (<details class="filters-panel" open>, app.css): on a phone they start folded
// unless a filter is on, so the records show first; a window that grows past a phone's width
// opens them again, since the toggle is hidden there.
{
  const phone = window.matchMedia("(max-width: 640px)");
  const panels = () => document.querySelectorAll("details.filters-panel");
  if (phone.matches) {
    for (const panel of panels()) if (!panel.hasAttribute("data-active")) panel.open = false;
  }
  phone.addEventListener("change", () => {
    if (!phone.matches) for (const panel of panels()) panel.open = true;
  });
}

// The move page asks why a deal was lost only while a lost stage is chosen.
for (const group of document.querySelectorAll("fieldset.lost-only[data-lost-stages]")) {
  const select = document.getElementById(group.dataset.stageSelect);
  if (!select) continue;
  const lost = new Set(group.dataset.lostStages.split(","));
  const sync = () => { group.hidden = !lost.has(select.value); };
  select.addEventListener("change", sync);
  sync();
}

// After an inline edit saves (htmx swaps the fresh deal page in), focus returns to the value
// that was edited, so the keyboard user carries on where they were.
document.addEventListener("htmx:afterSettle", () => {
  const saved = document.querySelector("[data-focus-after-swap]");
  if (!saved) return;
  saved.removeAttribute("data-focus-after-swap");
  saved.focus();
});
// Escape closes an open inline edit form without saving.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const form = event.target.closest && event.target.closest(".inline-form");
  const cancel = form && form.querySelector("a.btn[hx-get]");
  if (cancel) cancel.click();
});
