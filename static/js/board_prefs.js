// The board's view forms (card density, collapse or expand a column) post in place: the page
// changes at once and the choice is saved for the person. Without this script the forms post
// and come back to the board. If the post fails, the form is submitted the plain way.
(function () {
  "use strict";

  const board = document.getElementById("board");
  if (!board) return;

  function setCollapsed(form, collapsed) {
    const section = form.closest(".column");
    const body = section && section.querySelector(".column-body");
    const button = form.querySelector(".col-toggle");
    if (!section || !body || !button) return;
    section.classList.toggle("is-collapsed", collapsed);
    body.hidden = collapsed;
    button.setAttribute("aria-expanded", collapsed ? "false" : "true");
    form.elements.collapsed.value = collapsed ? "0" : "1";
  }

  function setDensity(form, density) {
    board.classList.toggle("is-compact", density === "compact");
    form.querySelectorAll("button[name=density]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.value === density ? "true" : "false");
    });
  }

  document.addEventListener("submit", async function (evt) {
    const form = evt.target.closest("form.board-pref-form");
    if (!form) return;
    evt.preventDefault();
    const body = new FormData(form);
    if (evt.submitter && evt.submitter.name) body.set(evt.submitter.name, evt.submitter.value);
    // Show the change at once; undo it if the server refuses.
    const isColumn = form.classList.contains("collapse-form");
    const collapse = isColumn && form.elements.collapsed.value === "1";
    const before = board.classList.contains("is-compact") ? "compact" : "comfortable";
    if (isColumn) setCollapsed(form, collapse);
    else setDensity(form, body.get("density"));
    let ok = false;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      ok = response.ok;
    } catch (e) {
      ok = false;
    }
    if (ok) return;
    if (isColumn) setCollapsed(form, !collapse);
    else setDensity(form, before);
    if (!isColumn) {
      const chosen = document.createElement("input");
      chosen.type = "hidden";
      chosen.name = "density";
      chosen.value = body.get("density");
      form.appendChild(chosen);
    }
    HTMLFormElement.prototype.submit.call(form);
  });
})();
