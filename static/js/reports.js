// Report pages work without this file. With it, changing a filter dropdown applies the
// filters at once (the Apply button stays for dates and keyboard users).
(function () {
  "use strict";
  document.querySelectorAll("form.filters select").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit();
    });
  });
})();
