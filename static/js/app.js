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

// The move page asks why a deal was lost only while a lost stage is chosen.
for (const group of document.querySelectorAll("fieldset.lost-only[data-lost-stages]")) {
  const select = document.getElementById(group.dataset.stageSelect);
  if (!select) continue;
  const lost = new Set(group.dataset.lostStages.split(","));
  const sync = () => { group.hidden = !lost.has(select.value); };
  select.addEventListener("change", sync);
  sync();
}
