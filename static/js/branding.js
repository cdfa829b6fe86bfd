// The branding page's live preview: colours, font, title and logo follow the form as
// it is edited (CSSOM changes, allowed by the CSP), with the WCAG contrast against white.
(function () {
  "use strict";
  var HEX = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i;

  function normal(value) {
    var m = HEX.exec((value || "").trim());
    if (!m) return null;
    var d = m[1].toLowerCase();
    if (d.length === 3) d = d[0] + d[0] + d[1] + d[1] + d[2] + d[2];
    return "#" + d;
  }
  function luminance(hex) {
    var c = [1, 3, 5].map(function (i) {
      var s = parseInt(hex.substr(i, 2), 16) / 255;
      return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  function contrastWithWhite(hex) {
    return 1.05 / (luminance(hex) + 0.05);
  }

  function init() {
    var form = document.getElementById("branding-form");
    var preview = document.getElementById("branding-preview");
    if (!form || !preview) return;
    var fonts = {};
    (preview.getAttribute("data-fonts") || "").split("|").forEach(function (pair) {
      var i = pair.indexOf("=");
      if (i > 0) fonts[pair.slice(0, i)] = pair.slice(i + 1);
    });

    function update() {
      ["primary_color", "accent_color"].forEach(function (name) {
        var input = form.elements[name];
        if (!input) return;
        var hex = normal(input.value);
        var picker = form.querySelector('.js-colour-picker[data-for="' + input.id + '"]');
        var warning = form.querySelector('.js-contrast[data-for="' + input.id + '"]');
        if (hex) {
          if (picker) picker.value = hex;
          preview.style.setProperty(name === "primary_color" ? "--p-primary" : "--p-accent", hex);
          if (warning) {
            var ratio = contrastWithWhite(hex);
            warning.hidden = ratio >= parseFloat(warning.getAttribute("data-min"));
            warning.querySelector(".js-ratio").textContent = "(" + ratio.toFixed(1) + ":1)";
          }
        }
      });
      var font = form.elements.font;
      if (font && fonts[font.value]) preview.style.setProperty("font-family", fonts[font.value]);
      var title = form.elements.cabinet_title;
      var shown = document.getElementById("preview-title");
      if (title && shown) shown.textContent = title.value || shown.getAttribute("data-default") || shown.textContent;
    }

    var titleEl = document.getElementById("preview-title");
    if (titleEl && !titleEl.getAttribute("data-default")) titleEl.setAttribute("data-default", titleEl.textContent);

    form.addEventListener("input", function (event) {
      var el = event.target;
      if (el.classList.contains("js-colour-picker")) {
        var target = document.getElementById(el.getAttribute("data-for"));
        if (target) target.value = el.value;
      }
      update();
    });
    form.addEventListener("change", function (event) {
      var el = event.target;
      if (el.name === "logo" && el.files && el.files[0] && window.FileReader) {
        var reader = new FileReader();
        reader.onload = function () {
          var img = document.getElementById("preview-logo");
          if (img && /^data:image\/(png|jpeg|webp|gif)/.test(reader.result)) {
            img.src = reader.result;
            img.hidden = false;
          }
        };
        reader.readAsDataURL(el.files[0]);
      }
      update();
    });
    update();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
