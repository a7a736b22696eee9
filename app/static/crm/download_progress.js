/* A progress note for downloads that take a while (the service report, large list
   exports). The form or link gets a random ticket; the server answers the file with
   the cookie crm_download=<ticket> (app/reports/xlsx.py, send_workbook), and the
   note goes away when that cookie arrives. A refused form comes back as a page. */
(function () {
  function newTicket() { return Math.random().toString(36).slice(2, 14); }

  function showUntilDone(noteId, ticket, button) {
    var note = document.getElementById(noteId);
    if (note) { note.classList.remove("hidden"); }
    if (button) { button.disabled = true; }
    var timer = setInterval(function () {
      if (document.cookie.split("; ").indexOf("crm_download=" + ticket) === -1) { return; }
      clearInterval(timer);
      if (note) { note.classList.add("hidden"); }
      if (button) { button.disabled = false; }
    }, 400);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-download-progress]")) { return; }
    var ticket = newTicket();
    form.querySelector("input[name=ticket]").value = ticket;
    showUntilDone(form.getAttribute("data-download-progress"), ticket,
                  form.querySelector("button[type=submit]"));
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-download-progress]");
    if (!link) { return; }
    var ticket = newTicket();
    var url = new URL(link.href, window.location.href);
    url.searchParams.set("ticket", ticket);
    link.href = url.toString();
    showUntilDone(link.getAttribute("data-download-progress"), ticket, null);
  });
})();
