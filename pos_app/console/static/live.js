// The Today page follows the ledger: the console says when the day's payments changed (server-sent
// events from /today/changes), then the figures are fetched again and swapped in — no reload.
// Without JavaScript the page is complete as it is; reloading it shows the same figures.
(function () {
  "use strict";
  var box = document.getElementById("figures");
  if (!box || !window.EventSource || !window.fetch) {
    return;
  }
  var source = new EventSource(box.dataset.changes);
  source.onmessage = function () {
    fetch(box.dataset.part, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html !== null) {
          box.innerHTML = html;
          box.dataset.updated = String(Date.now());
        }
      });
  };
})();
