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
    if (!button) return;
    // A material's copy button counts the copy (partners/materials): a small POST.
    var beacon = button.getAttribute("data-beacon");
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (beacon && token && window.fetch) {
      var body = new FormData();
      body.append("csrfmiddlewaretoken", token.value);
      fetch(beacon, { method: "POST", body: body, credentials: "same-origin" }).catch(function () {});
    }
    if (!navigator.clipboard) return;
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
// Search-as-you-type fields (partners/search.py renders them): a search box
// (.js-autocomplete, data-url = the JSON endpoint), its hidden value input and a listbox.
(function () {
  "use strict";
  var timer = null;
  var seq = 0;
  function parts(input) {
    var box = input.closest(".autocomplete");
    return {
      value: box.querySelector(".js-autocomplete-value"),
      list: box.querySelector(".autocomplete-list"),
    };
  }
  function close(input) {
    var p = parts(input);
    p.list.hidden = true;
    p.list.textContent = "";
    input.setAttribute("aria-expanded", "false");
  }
  function choose(input, option) {
    var p = parts(input);
    p.value.value = option.getAttribute("data-id");
    input.value = option.textContent;
    close(input);
  }
  function show(input, results) {
    var p = parts(input);
    p.list.textContent = "";
    results.forEach(function (row, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.setAttribute("data-id", row.id);
      li.id = input.id + "-opt-" + i;
      li.textContent = row.label;
      p.list.appendChild(li);
    });
    p.list.hidden = results.length === 0;
    input.setAttribute("aria-expanded", results.length ? "true" : "false");
  }
  function search(input) {
    var url = input.getAttribute("data-url");
    var mine = ++seq;
    url += (url.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(input.value);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { results: [] }; })
      .then(function (data) { if (mine === seq) show(input, data.results || []); })
      .catch(function () {});
  }
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("js-autocomplete")) return;
    parts(input).value.value = "";  // typed text is not a choice until one is picked
    clearTimeout(timer);
    timer = setTimeout(function () { search(input); }, 200);
  });
  document.addEventListener("focusin", function (event) {
    var input = event.target;
    if (input.classList && input.classList.contains("js-autocomplete") && !input.value) {
      search(input);
    }
  });
  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest(".autocomplete-list [role=option]");
    if (!option) return;
    event.preventDefault();  // keep the focus in the box
    choose(option.closest(".autocomplete").querySelector(".js-autocomplete"), option);
  });
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("js-autocomplete")) return;
    var list = parts(input).list;
    var options = list.querySelectorAll("[role=option]");
    if (list.hidden || !options.length) return;
    var current = list.querySelector("[aria-selected=true]");
    var index = Array.prototype.indexOf.call(options, current);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (current) current.removeAttribute("aria-selected");
      index = event.key === "ArrowDown" ? Math.min(index + 1, options.length - 1)
        : Math.max(index - 1, 0);
      options[index].setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", options[index].id);
    } else if (event.key === "Enter" && current) {
      event.preventDefault();
      choose(input, current);
    } else if (event.key === "Escape") {
      close(input);
    }
  });
  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (input.classList && input.classList.contains("js-autocomplete")) {
      setTimeout(function () { close(input); }, 150);
    }
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
