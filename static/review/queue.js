/* Debug Mode queue (and review pages): Enter on the focused "Review next case" button claims it (a plain form). This script only
 * tells the operator about signed decisions still kept on this tablet after a lost connection. */
(function () {
  "use strict";
  // On a signed review's page: a decision still kept on this tablet for that part is settled (it may have been
  // kept under any of the inspections the review decided).
  var reviewed = document.querySelector("[data-reviewed-result-ids]");
  if (reviewed) {
    reviewed.getAttribute("data-reviewed-result-ids").split(/\s+/).forEach(function (id) {
      if (!id) return;
      try { localStorage.removeItem("twinweb.debug.pending." + id); } catch (e) { /* ignore */ }
    });
    return;
  }
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
  box.textContent = interpolate(ngettext("%s signed decision on this tablet was not confirmed by the server. Reopen to resend (nothing is applied twice):", "%s signed decisions on this tablet were not confirmed by the server. Reopen to resend (nothing is applied twice):", pending.length), [pending.length]) + " ";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  pending.forEach(function (id) {
    // Claim the case again (a plain form POST), which opens it with the kept decision ready to resend.
    var row = document.querySelector('tr[data-result-id="' + id + '"]');
    var form = document.createElement("form");
    form.method = "post";
    form.action = "/review/cases/" + id + "/claim/";
    var token = document.createElement("input");
    token.type = "hidden"; token.name = "csrfmiddlewaretoken"; token.value = csrf ? csrf.content : "";
    var button = document.createElement("button");
    button.type = "submit";
    button.textContent = interpolate(gettext("Resend %s"), [row ? row.querySelector("strong").textContent : id.slice(0, 8)]);
    form.appendChild(token);
    form.appendChild(button);
    box.appendChild(form);
  });
})();
