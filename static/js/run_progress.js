// Polls the training run's progress and refreshes the bar, loss chart and samples until it ends.
(function () {
  "use strict";
  const panel = document.getElementById("run-progress");
  if (!panel) return;
  const bar = document.getElementById("run-progress-bar");
  const text = document.getElementById("run-progress-text");
  const chart = document.getElementById("run-loss-chart");
  const samples = document.getElementById("run-samples");
  const finished = ["succeeded", "failed", "cancelled"];

  async function refresh() {
    const response = await fetch(panel.dataset.progressUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const run = await response.json();
    bar.value = run.progress;
    let line = `${run.status} · step ${run.step} / ${run.total_steps}`;
    if (run.images_per_second) line += ` · ${run.images_per_second.toFixed(1)} img/s`;
    if (run.eta_seconds && !finished.includes(run.status)) line += ` · ETA ${Math.round(run.eta_seconds)} s`;
    if (run.error) line += ` · ${run.error}`;
    text.textContent = line;
    chart.innerHTML = run.loss_svg;
    if (run.has_samples) {
      samples.hidden = false;
      samples.src = panel.dataset.samplesUrl + "?t=" + Date.now();
    }
    if (!finished.includes(run.status)) setTimeout(refresh, 2000);
  }
  setTimeout(refresh, 2000);
})();
