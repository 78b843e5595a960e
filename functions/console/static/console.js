// Live lint and preview in the template editor: after typing stops, the form is checked on the
// server (the same check as "Check and preview") and the findings and previews are replaced.
// Every form works without this script.
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  if (!form) { return; }
  var source = document.getElementById("source");
  var target = document.getElementById("check");
  var timer = null;
  var sent = 0;
  function check() {
    var mine = ++sent;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.dataset.check, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html !== null && mine === sent) {
        var parsed = new DOMParser().parseFromString(html, "text/html");
        target.replaceChildren.apply(target, Array.prototype.slice.call(parsed.body.childNodes));
      }
    }).catch(function () { /* the buttons still work */ });
  }
  source.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 400);
  });
}());
