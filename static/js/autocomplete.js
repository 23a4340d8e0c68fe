// Autocomplete for record fields: a <select data-autocomplete="URL"> becomes an ARIA 1.2
// combobox (a text input with a listbox). What the user types is sent to URL?q=… through
// htmx; the server answers with the matching options the user may see (at most ten). The
// select stays in the form, hidden, and holds the chosen value, so the form posts exactly what
// it posts without JavaScript (where the select and its "Find" search are shown instead).
//
// Keys: ↓/↑ move through the options, Enter chooses, Escape closes (a second Escape restores
// the chosen record's name), Tab leaves. Options are named by aria-activedescendant.
//
// data-autocomplete-with="ID": also send that select's value (the contact field sends the
//   chosen company, so only its contacts are offered).
// data-autocomplete-param="name=value": a fixed extra parameter (the products' currency).
// [data-autocomplete-find="ID"]: the no-JavaScript search of that field, hidden once enhanced.
// [data-hide-when-chosen="ID"]: hidden while that select has a value (the convert form's
//   "new company" name beside a chosen company).

(() => {
  let counter = 0;

  function selectedLabel(select) {
    const option = select.selectedOptions[0];
    return option && option.value ? option.textContent.trim() : "";
  }

  function enhance(select) {
    if (select.dataset.autocompleteReady) return;
    select.dataset.autocompleteReady = "1";
    counter += 1;
    const id = `${select.id || "ac"}-combo`;
    const listId = `${id}-list-${counter}`;
    const label = document.querySelector(`label[for="${select.id}"]`);

    const wrap = document.createElement("div");
    wrap.className = "ac";
    const input = document.createElement("input");
    input.type = "text";
    input.id = id;
    input.className = "ac-input";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("hx-sync", "this:replace");
    // The options are the whole answer, whatever the surrounding form selects from its own.
    input.setAttribute("hx-select", "unset");
    input.placeholder = select.dataset.autocompletePlaceholder || "Type to search";
    if (select.required) input.setAttribute("aria-required", "true");
    if (select.disabled) input.disabled = true;
    const described = select.getAttribute("aria-describedby");
    if (described) input.setAttribute("aria-describedby", described);
    if (select.getAttribute("aria-invalid")) input.setAttribute("aria-invalid", select.getAttribute("aria-invalid"));
    input.value = selectedLabel(select);

    const list = document.createElement("ul");
    list.id = listId;
    list.className = "ac-list";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    if (label) {
      label.htmlFor = id;
      if (!label.id) label.id = `${id}-label`;
      list.setAttribute("aria-labelledby", label.id);
    } else {
      list.setAttribute("aria-label", select.getAttribute("aria-label") || "Matches");
    }
    const status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");

    select.hidden = true;
    select.tabIndex = -1;
    select.after(wrap);
    wrap.append(input, list, status);
    for (const find of document.querySelectorAll(`[data-autocomplete-find="${select.id}"]`)) find.hidden = true;

    let active = -1;
    let timer = null;
    let requested = null; // the text of the last search sent
    let shownFor = null; // the text the listed options match
    let enterPending = false; // Enter came before the matches of the text typed
    const options = () => Array.from(list.querySelectorAll('[role="option"]:not([aria-disabled="true"])'));

    function open(isOpen) {
      list.hidden = !isOpen;
      input.setAttribute("aria-expanded", isOpen ? "true" : "false");
      if (!isOpen) setActive(-1);
    }

    function setActive(index) {
      const all = options();
      active = all.length ? Math.max(-1, Math.min(index, all.length - 1)) : -1;
      all.forEach((option, i) => {
        const on = i === active;
        option.classList.toggle("ac-active", on);
        option.setAttribute("aria-selected", on ? "true" : "false");
        if (on) option.scrollIntoView({ block: "nearest" });
      });
      if (active >= 0) input.setAttribute("aria-activedescendant", all[active].id);
      else input.removeAttribute("aria-activedescendant");
    }

    function choose(option) {
      const value = option.dataset.value;
      let chosen = Array.from(select.options).find((o) => o.value === value);
      if (!chosen) {
        chosen = new Option(option.dataset.label, value);
        select.add(chosen);
      }
      select.value = value;
      input.value = option.dataset.label;
      open(false);
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function clearChoice() {
      const empty = Array.from(select.options).find((o) => o.value === "");
      if (!empty) return false;
      select.value = "";
      select.dispatchEvent(new Event("change", { bubbles: true }));
      return true;
    }

    function search() {
      const values = { q: input.value.trim() };
      requested = values.q;
      const other = select.dataset.autocompleteWith && document.getElementById(select.dataset.autocompleteWith);
      if (other && other.value) values[other.name] = other.value;
      const fixed = select.dataset.autocompleteParam;
      if (fixed) {
        const [key, value] = fixed.split("=");
        values[key] = value;
      }
      htmx.ajax("GET", select.dataset.autocomplete, { source: input, target: list, swap: "innerHTML", select: "li", values });
    }

    list.addEventListener("htmx:afterSwap", (event) => {
      // What these options match: the q of the request they answer (a late answer to older
      // text must not pass for the matches of the text typed now).
      const info = event.detail.pathInfo || {};
      const path = info.finalRequestPath || info.requestPath;
      shownFor = path ? new URL(path, window.location.href).searchParams.get("q") : requested;
      options().forEach((option, i) => { option.id = `${listId}-${i}`; });
      list.querySelectorAll('[aria-disabled="true"]').forEach((note, i) => { note.id = `${listId}-note-${i}`; });
      const count = options().length;
      status.textContent = count ? `${count} match${count === 1 ? "" : "es"}; use the arrow keys to choose.` : list.textContent.trim();
      if (document.activeElement === input) {
        open(true);
        setActive(count ? 0 : -1);
        if (enterPending && shownFor === input.value.trim()) {
          enterPending = false;
          if (count) choose(options()[0]);
        }
      }
    });

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    input.addEventListener("focus", () => { if (list.hidden) search(); });
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { search(); return; }
        setActive(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter") {
        const typed = input.value.trim();
        if (!list.hidden && active >= 0 && shownFor === typed) {
          event.preventDefault();
          choose(options()[active]);
        } else if (typed && typed !== selectedLabel(select)) {
          // The matches shown are for older text: choose the first match of what was typed
          // once it arrives (and never submit the form with a half-typed name).
          event.preventDefault();
          enterPending = true;
          clearTimeout(timer);
          search();
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) {
          event.preventDefault();
          open(false);
        } else {
          input.value = selectedLabel(select);
        }
      }
    });
    // mousedown, not click: it comes before the input's blur closes the list.
    list.addEventListener("mousedown", (event) => {
      const option = event.target.closest('[role="option"]:not([aria-disabled="true"])');
      event.preventDefault();
      if (option) choose(option);
    });
    input.addEventListener("blur", () => {
      clearTimeout(timer);
      enterPending = false;
      open(false);
      // Text that names no chosen record is not kept: empty clears an optional field, anything
      // else returns to the chosen record's name.
      if (!input.value.trim() && clearChoice()) return;
      input.value = selectedLabel(select);
    });
    select.addEventListener("change", () => {
      if (document.activeElement !== input) input.value = selectedLabel(select);
    });
  }

  function syncHidden() {
    for (const el of document.querySelectorAll("[data-hide-when-chosen]")) {
      const select = document.getElementById(el.dataset.hideWhenChosen);
      if (select && !el.querySelector(".field-error")) el.hidden = Boolean(select.value);
    }
  }

  function init(root) {
    if (typeof htmx === "undefined") return;
    for (const select of root.querySelectorAll("select[data-autocomplete]")) enhance(select);
    syncHidden();
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches("select")) syncHidden();
  });
  document.addEventListener("htmx:load", (event) => init(event.target));
  init(document);
})();
