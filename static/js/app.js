// The one small script of every page: behaviour that CSP forbids inline.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.classList && el.classList.contains("js-autosubmit") && el.form) {
      el.form.submit();
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("js-confirm")) {
      if (!window.confirm(form.getAttribute("data-confirm") || "?")) {
        event.preventDefault();
      }
    }
  });
})();
// Copy buttons (<button class="js-copy" data-copy="element-id">) and "select all"
// checkboxes (<input type="checkbox" class="js-check-all" data-name="leads">).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".js-copy");
    if (!button || !navigator.clipboard) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = button.getAttribute("data-copied") || button.textContent;
    });
  });
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.classList || !box.classList.contains("js-check-all") || !box.form) return;
    var name = box.getAttribute("data-name");
    Array.prototype.forEach.call(box.form.elements, function (el) {
      if (el.type === "checkbox" && el.name === name) el.checked = box.checked;
    });
  });
})();
// The phone menu (<button class="js-menu">) opens the top navigation and the console's
// sidebar; without JavaScript they simply stay open (the "js" class hides them).
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".js-menu");
    if (!button) return;
    var open = document.body.classList.toggle("nav-open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
