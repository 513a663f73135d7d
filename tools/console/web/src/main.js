// The console's browser code. Pages are rendered on the server; htmx swaps partials (the event stream, the
// inbox after a decision); this file adds what a server cannot do: charts, and verifying the ledger here, in the
// auditor's browser, trusting only the public key.
import htmx from "htmx.org";
import { drawCharts } from "./charts.js";
import { wireLedgerVerification } from "./verify.js";

window.htmx = htmx;

function enhance(root) {
  drawCharts(root);
  wireLedgerVerification(root);
}

document.addEventListener("DOMContentLoaded", () => enhance(document));
document.body?.addEventListener?.("htmx:load", (event) => enhance(event.target));
htmx.on("htmx:load", (event) => enhance(event.detail.elt));

// An upload's progress, from the browser's own XHR events (htmx forwards them).
htmx.on("htmx:xhr:progress", (event) => {
  const bar = event.target.querySelector?.("progress[data-upload]");
  if (bar && event.detail.lengthComputable) {
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  }
});

// Fragments answer 200 and carry any refusal as their content, so no response is an htmx error.
htmx.config.historyCacheSize = 0;
