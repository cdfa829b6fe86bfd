// The news post editor: a small toolbar over the textarea that wraps the selection in
// the few HTML tags a post may hold (the server cleans the text again with nh3).
(function () {
  "use strict";
  var TOOLS = [
    ["B", "<strong>", "</strong>"],
    ["I", "<em>", "</em>"],
    ["H", "<h2>", "</h2>"],
    ["¶", "<p>", "</p>"],
    ["•", "<ul>\n<li>", "</li>\n</ul>"],
    ["1.", "<ol>\n<li>", "</li>\n</ol>"],
    ["❝", "<blockquote>", "</blockquote>"],
    ["URL", null, "</a>"]
  ];

  function wrap(area, open, close) {
    var start = area.selectionStart, end = area.selectionEnd;
    var text = area.value;
    var chosen = text.slice(start, end);
    area.value = text.slice(0, start) + open + chosen + close + text.slice(end);
    area.focus();
    area.selectionStart = start + open.length;
    area.selectionEnd = start + open.length + chosen.length;
  }

  function attach(area) {
    var bar = document.createElement("div");
    bar.className = "editor-toolbar";
    bar.setAttribute("role", "toolbar");
    var labels = (area.getAttribute("data-labels") || "").split("|");
    var prompt = area.getAttribute("data-link-prompt") || "https://";
    TOOLS.forEach(function (tool, n) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "small secondary";
      button.textContent = tool[0];
      if (labels[n]) {
        button.title = labels[n];
        button.setAttribute("aria-label", labels[n]);
      }
      button.addEventListener("click", function () {
        var open = tool[1];
        if (open === null) {
          var url = window.prompt(prompt, "https://");
          if (!url) { return; }
          open = '<a href="' + url.replace(/"/g, "&quot;") + '">';
        }
        wrap(area, open, tool[2]);
      });
      bar.appendChild(button);
    });
    area.parentNode.insertBefore(bar, area);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea.js-news-editor").forEach(attach);
  });
})();
