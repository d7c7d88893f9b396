// aarlab dashboard: live updates by polling JSON endpoints of the same server. No inline script, no eval;
// inserted HTML is rendered and escaped by the server's templates.
(function () {
  "use strict";
  var body = document.body;
  var every = parseInt(body.getAttribute("data-poll-ms") || "3000", 10);

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(url + ": " + r.status); } return r.json(); });
  }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  function fmt(x) { return x === null || x === undefined ? "–" : Number(x).toFixed(2); }

  function replaceCharts(charts) {
    Object.keys(charts).forEach(function (name) {
      document.querySelectorAll("figure.chart").forEach(function (fig) {
        if (fig.getAttribute("data-dataset") !== name) { return; }
        var old = fig.querySelector("svg");
        var parsed = new DOMParser().parseFromString(charts[name], "image/svg+xml").documentElement;
        if (parsed && parsed.nodeName === "svg") {
          var svg = document.importNode(parsed, true);
          if (old) { fig.replaceChild(svg, old); } else { fig.appendChild(svg); }
        }
      });
    });
  }

  function pollOverview(url) {
    getJSON(url).then(function (d) {
      setText("best-pgr", fmt(d.best_public_pgr));
      setText("evaluation-count", String(d.evaluations));
      setText("total-cost", "$" + fmt(d.total_cost_usd));
      setText("updated", new Date(d.generated_at * 1000).toISOString().slice(0, 19).replace("T", " "));
      if (d.campaign && d.campaign.status) { setText("campaign-status", d.campaign.status); }
      var rows = document.getElementById("agents-body");
      if (rows) { rows.innerHTML = d.agents_html; }
      replaceCharts(d.charts);
    }).catch(function () { /* the next poll tries again */ });
  }

  function pollTranscript(url) {
    var offset = parseInt(body.getAttribute("data-offset") || "0", 10);
    getJSON(url + "?after=" + offset).then(function (d) {
      body.setAttribute("data-offset", String(d.next));
      if (d.count > 0) {
        var box = document.getElementById("transcript");
        var atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
        box.insertAdjacentHTML("beforeend", d.html);
        if (atBottom) { box.scrollTop = box.scrollHeight; }
      }
    }).catch(function () { /* the next poll tries again */ });
  }

  var live = body.getAttribute("data-live");
  if (live) { setInterval(function () { pollOverview(live); }, every); }
  var transcript = body.getAttribute("data-transcript");
  if (transcript) {
    var box = document.getElementById("transcript");
    if (box) { box.scrollTop = box.scrollHeight; }
    setInterval(function () { pollTranscript(transcript); }, every);
  }
})();
