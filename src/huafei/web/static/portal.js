/* Huafei portal: the little script the pages need beyond htmx. Everything works with the
   keyboard; nothing here is required to read a page. */
(function () {
  "use strict";
  // The sandbox liveness provider: a button fetches a selfie token into a hidden field,
  // as a provider's SDK would on a phone.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-liveness]");
    if (!button) { return; }
    event.preventDefault();
    button.disabled = true;
    fetch(button.getAttribute("data-liveness"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ outcome: "pass" })
    }).then(function (response) { return response.json(); }).then(function (body) {
      document.getElementById(button.getAttribute("data-target")).value = body.selfie_token;
      var status = document.getElementById(button.getAttribute("data-status"));
      status.textContent = status.getAttribute("data-done");
    }).finally(function () { button.disabled = false; });
  });
})();
