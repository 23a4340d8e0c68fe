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
