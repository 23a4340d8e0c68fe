// @mention autocomplete for note and activity text: typing "@" and a few letters in a
// textarea named "body" lists the people you may mention (from the server, which applies
// the visibility rule); Enter, Tab or a click inserts "@username ".
(function () {
  "use strict";
  var bell = document.querySelector("[data-mention-url]");
  if (!bell) { return; }
  var url = bell.getAttribute("data-mention-url");
  var menu = null, target = null, items = [], active = 0, timer = null, seq = 0;

  function close() {
    if (menu) { menu.remove(); menu = null; }
    items = []; active = 0;
  }

  function query(textarea) {
    var upto = textarea.value.slice(0, textarea.selectionStart);
    var m = /(^|[^\w@.+-])@([\w.+-]{0,30})$/.exec(upto);
    return m ? { prefix: m[2], start: upto.length - m[2].length - 1 } : null;
  }

  function render(textarea, results) {
    close();
    if (!results.length) { return; }
    target = textarea;
    items = results;
    menu = document.createElement("ul");
    menu.className = "mention-menu";
    menu.setAttribute("role", "listbox");
    menu.setAttribute("aria-label", "People you can mention");
    results.forEach(function (r, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      li.textContent = "@" + r.username;
      var name = document.createElement("span");
      name.className = "muted";
      name.textContent = r.name;
      li.appendChild(name);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
      menu.appendChild(li);
    });
    var host = textarea.parentNode;
    host.classList.add("mention-host");
    host.appendChild(menu);
  }

  function highlight() {
    if (!menu) { return; }
    Array.prototype.forEach.call(menu.children, function (li, i) {
      li.setAttribute("aria-selected", i === active ? "true" : "false");
    });
  }

  function choose(i) {
    var q = query(target);
    if (!q || !items[i]) { close(); return; }
    var before = target.value.slice(0, q.start);
    var after = target.value.slice(target.selectionStart);
    var insert = "@" + items[i].username + " ";
    target.value = before + insert + after;
    var caret = before.length + insert.length;
    target.setSelectionRange(caret, caret);
    target.focus();
    close();
  }

  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!(t instanceof HTMLTextAreaElement) || t.name !== "body") { return; }
    var q = query(t);
    if (!q) { close(); return; }
    clearTimeout(timer);
    timer = setTimeout(function () {
      var mine = ++seq;
      fetch(url + "?q=" + encodeURIComponent(q.prefix), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) { if (mine === seq) { active = 0; render(t, data.results || []); } })
        .catch(close);
    }, 150);
  });

  document.addEventListener("keydown", function (e) {
    if (!menu || e.target !== target) { return; }
    if (e.key === "ArrowDown") { active = (active + 1) % items.length; highlight(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = (active - 1 + items.length) % items.length; highlight(); e.preventDefault(); }
    else if (e.key === "Enter" || e.key === "Tab") { choose(active); e.preventDefault(); }
    else if (e.key === "Escape") { close(); }
  });

  document.addEventListener("focusout", function (e) { if (e.target === target) { setTimeout(close, 100); } });
})();
