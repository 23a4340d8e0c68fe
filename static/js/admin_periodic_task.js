// Admin, periodic task form: under the crontab field, say the chosen schedule in words
// ("At 04:00"), from the readable-crontabs JSON the page carries. Needs django.jQuery
// (loaded by the admin form's media before this script).
(function () {
  "use strict";
  const script = document.currentScript;
  const data = document.getElementById("readable-crontabs");
  const $ = window.django && window.django.jQuery;
  if (!script || !data || !$) return;
  const readable = JSON.parse(data.textContent);
  const originalHelp = script.dataset.crontabHelp || "";

  function showTranslation(text) {
    const help = document.querySelector(".field-crontab .help");
    if (!help) return;
    help.replaceChildren(document.createTextNode(originalHelp), document.createElement("br"),
      document.createTextNode("Translation: " + (text === undefined ? "" : text)));
  }

  $(".field-crontab_translation").hide();
  $(".field-crontab").on("change", function () {
    showTranslation(readable[$("#id_crontab").val()]);
  });
})();
