/* Debug Mode queue: Enter on the focused "Review next case" button claims it (a plain form). This script only
 * tells the operator about signed decisions still kept on this tablet after a lost connection. */
(function () {
  "use strict";
  var box = document.getElementById("dm-pending");
  if (!box) return;
  var pending = [];
  try {
    for (var i = 0; i < localStorage.length; i++) {
      var k = localStorage.key(i);
      if (k && k.indexOf("twinweb.debug.pending.") === 0) pending.push(k.slice("twinweb.debug.pending.".length));
    }
  } catch (e) { return; }
  if (!pending.length) return;
  box.hidden = false;
  box.textContent = pending.length + " signed decision(s) on this tablet were not confirmed by the server. Open the case again to resend (nothing is applied twice): ";
  pending.forEach(function (id) {
    var row = document.querySelector('tr[data-result-id="' + id + '"]');
    var a = document.createElement("a");
    a.href = "/debug/cases/" + id + "/";
    a.textContent = row ? row.querySelector("strong").textContent : id.slice(0, 8);
    a.className = "button";
    box.appendChild(a);
  });
})();
