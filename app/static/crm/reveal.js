/* The show page's 显示 buttons (app/services/masking.py): POST with the CSRF
   token, put the clear value the server answers in place of the mask. Each
   reveal is written to the security log by the server. Loaded by every
   button; runs once. */
(function () {
  "use strict";
  if (window.crmRevealReady) { return; }
  window.crmRevealReady = true;
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-reveal-url]") : null;
    if (!button) { return; }
    event.preventDefault();
    button.disabled = true;
    fetch(button.getAttribute("data-reveal-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRFToken": button.getAttribute("data-csrf"), "Accept": "application/json"}
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (data) {
      var target = document.getElementById(button.getAttribute("aria-controls"));
      if (target) { target.textContent = data.value; }
      button.hidden = true;
    }).catch(function () {
      button.disabled = false;
    });
  });
})();
