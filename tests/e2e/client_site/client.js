// The sample client site's own script: a sign-up form that reports a lead with
// prm('lead', ...) and shows what the platform answered.
(function () {
  "use strict";
  var form = document.getElementById("signup");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var out = document.getElementById("result");
    out.textContent = "sending";
    window.prm("lead", { email: form.email.value, name: form.name.value }, function (err, body) {
      out.textContent = err ? "error " + (err.status || 0) : (body && body.credited ? "credited" : "not credited");
      out.setAttribute("data-ref", form.prm_ref.value);
      out.setAttribute("data-visitor", form.prm_visitor.value);
    });
  });
})();
