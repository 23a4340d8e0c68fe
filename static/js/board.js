// Board drag and drop: SortableJS moves cards between stage columns; each drop posts to the
// deal's move URL with the card's version. The server answers with the fresh card and the
// column totals; on a conflict or a refusal the card goes back where it was (refreshed) and
// the message is announced. A card's "Move…" link opens the deal's move form inside the card
// (keyboard users move deals without dragging). Without this script the link leads to the
// move page.
(function () {
  "use strict";

  const board = document.getElementById("board");
  if (!board || typeof Sortable === "undefined") return;

  const status = document.getElementById("board-status");
  const dropTargets = document.getElementById("drop-targets");
  const dialog = document.getElementById("lost-dialog");
  const query = board.dataset.query || "";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function announce(text, kind) {
    if (!status) return;
    status.textContent = text;
    status.className = "board-status" + (kind ? " is-" + kind : "");
  }

  function refreshEmptyStates() {
    board.querySelectorAll(".column").forEach(function (col) {
      const empty = col.querySelector(".column-empty");
      if (empty) empty.hidden = !!col.querySelector(".cards > .card");
    });
  }

  function columnList(stageId) {
    return board.querySelector('.cards[data-stage="' + stageId + '"]');
  }

  function fragment(html) {
    const tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    return tpl.content.firstElementChild;
  }

  function putBack(card, from, oldIndex) {
    const ref = from.children[oldIndex] || null;
    from.insertBefore(card, ref);
  }

  // Replace ``card`` by the server's fresh copy, in the column the deal is really in.
  function applyFresh(card, payload) {
    if (!payload || !payload.open || !payload.card) {
      card.remove();
      return;
    }
    const fresh = fragment(payload.card);
    const list = columnList(payload.stage);
    if (!list) {
      card.remove();
      return;
    }
    if (card.parentElement === list) {
      card.replaceWith(fresh);
    } else {
      card.remove();
      const more = list.querySelector(".more-item");
      list.insertBefore(fresh, more);
    }
    if (window.htmx) window.htmx.process(fresh);
  }

  function applyHeaders(headers) {
    Object.keys(headers || {}).forEach(function (sid) {
      const el = document.getElementById("totals-" + sid);
      if (el) el.innerHTML = headers[sid];
    });
  }

  async function move(card, stageId, extra, from, oldIndex) {
    const body = new FormData();
    body.append("stage", stageId);
    body.append("version", card.dataset.version);
    body.append("board", query);
    body.append("next", window.location.pathname + window.location.search);
    Object.keys(extra || {}).forEach(function (k) {
      body.append(k, extra[k]);
    });
    card.classList.add("is-saving");
    card.setAttribute("aria-busy", "true");
    let payload = null;
    let response = null;
    try {
      response = await fetch(card.dataset.moveUrl, {
        method: "POST",
        body: body,
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        credentials: "same-origin",
      });
      payload = await response.json();
    } catch (e) {
      payload = null;
    }
    card.classList.remove("is-saving");
    card.removeAttribute("aria-busy");
    if (response && response.ok && payload && payload.ok) {
      applyFresh(card, payload);
      applyHeaders(payload.headers);
      announce(payload.message, "ok");
    } else {
      putBack(card, from, oldIndex);
      if (payload) applyFresh(card, payload);
      let text = "The deal could not be moved; reload the page and try again.";
      if (payload && payload.message) text = payload.message;
      if (response && response.status === 404) text = "This deal is no longer available to you.";
      if (response && response.status === 409) {
        text += " The card now shows the current version.";
      }
      announce(text, "error");
    }
    refreshEmptyStates();
  }

  function askLostReason(card) {
    return new Promise(function (resolve) {
      if (!dialog) return resolve(null);
      const form = dialog.querySelector("form");
      form.reset();
      dialog.querySelector("[data-deal-name]").textContent = card.dataset.name || "";
      dialog.addEventListener(
        "close",
        function () {
          if (dialog.returnValue === "confirm") {
            resolve({
              lost_reason: form.elements.lost_reason.value,
              lost_note: form.elements.lost_note.value,
            });
          } else {
            resolve(null);
          }
        },
        { once: true }
      );
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  function onEnd(evt) {
    board.classList.remove("is-dragging");
    if (dropTargets) dropTargets.hidden = true;
    const card = evt.item;
    const from = evt.from;
    const to = evt.to;
    if (to === from) return;
    const stageId = to.dataset.stage;
    if (to.dataset.kind === "lost") {
      askLostReason(card).then(function (answer) {
        if (!answer) {
          putBack(card, from, evt.oldIndex);
          refreshEmptyStates();
          announce("Not moved: closing as lost needs a reason.", "");
          return;
        }
        move(card, stageId, answer, from, evt.oldIndex);
      });
      return;
    }
    move(card, stageId, {}, from, evt.oldIndex);
  }

  const common = {
    group: "board",
    draggable: ".card",
    filter: "form, select, button, input, label, .card-move",
    preventOnFilter: false,
    animation: 120,
    ghostClass: "card-ghost",
    chosenClass: "card-chosen",
  };

  board.querySelectorAll(".cards").forEach(function (list) {
    Sortable.create(
      list,
      Object.assign({}, common, {
        sort: false,
        onStart: function () {
          board.classList.add("is-dragging");
          if (dropTargets) dropTargets.hidden = false;
        },
        onEnd: onEnd,
      })
    );
  });

  if (dropTargets) {
    dropTargets.querySelectorAll(".drop").forEach(function (list) {
      Sortable.create(list, {
        group: { name: "board", pull: false, put: true },
        sort: false,
        draggable: ".card",
      });
    });
  }

  // "Move…" opens the small move form inside the card; it posts like a drop does.
  board.addEventListener("click", async function (evt) {
    const link = evt.target.closest("a.card-move");
    if (link && board.contains(link)) {
      evt.preventDefault();
      let html = null;
      try {
        const response = await fetch(link.href, {
          headers: { "HX-Request": "true" },
          credentials: "same-origin",
        });
        if (response.ok) html = await response.text();
      } catch (e) {
        html = null;
      }
      if (!html) {
        window.location.href = link.href;
        return;
      }
      const form = fragment(html);
      link.hidden = true;
      link.after(form);
      form.querySelector("select").focus();
      return;
    }
    const cancel = evt.target.closest("[data-move-cancel]");
    if (cancel && board.contains(cancel)) {
      const form = cancel.closest("form");
      const opener = form.previousElementSibling;
      form.remove();
      if (opener && opener.matches("a.card-move")) {
        opener.hidden = false;
        opener.focus();
      }
    }
  });

  board.addEventListener("submit", function (evt) {
    const form = evt.target.closest(".card-move-form");
    if (!form) return;
    const card = form.closest(".card");
    if (!card) return;
    evt.preventDefault();
    const stageId = form.elements.stage.value;
    const list = card.parentElement;
    const index = Array.prototype.indexOf.call(list.children, card);
    if (stageId === card.dataset.stage) {
      form.querySelector("[data-move-cancel]").click();
      return;
    }
    const dealId = card.dataset.id;
    move(card, stageId, {}, list, index).then(function () {
      const fresh = document.getElementById("card-" + dealId);
      const opener = fresh && fresh.querySelector("a.card-move");
      if (opener) opener.focus();
    });
  });

  if (dialog) {
    const lostForm = dialog.querySelector("form");
    lostForm.addEventListener("submit", function (evt) {
      const submitter = evt.submitter;
      if (submitter && submitter.value === "confirm" && !lostForm.elements.lost_reason.value) {
        evt.preventDefault();
        document.getElementById("lost-reason-error").hidden = false;
        lostForm.elements.lost_reason.focus();
      }
    });
    dialog.addEventListener("close", function () {
      document.getElementById("lost-reason-error").hidden = true;
    });
  }
})();
