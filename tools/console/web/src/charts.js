// Drift, fairness and performance over time: one line per model version, from the console's series endpoint
// (which reads the monitor's /models/{name}/series/{kind} with the signed-in user's token).
import {
  Chart, LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Tooltip, Title,
} from "chart.js";

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Tooltip, Title);

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

export async function drawCharts(root) {
  for (const canvas of root.querySelectorAll?.("canvas[data-series]") ?? []) {
    if (canvas.dataset.drawn) continue;
    canvas.dataset.drawn = "pending";
    try {
      const response = await fetch(canvas.dataset.series, { credentials: "same-origin" });
      const body = await response.json();
      if (!response.ok) throw new Error(body.detail || response.statusText);
      if (!body.points.length) throw new Error("no window evaluated yet");
      render(canvas, body);
      canvas.dataset.drawn = "yes";
    } catch (error) {
      canvas.dataset.drawn = "failed";
      const note = document.createElement("p");
      note.className = "muted";
      note.textContent = `no ${canvas.dataset.kind} series yet: ${error.message}`;
      canvas.replaceWith(note);
    }
  }
}

function render(canvas, body) {
  const byVersion = new Map();
  body.points.forEach((point, index) => {
    const version = `v${point.version}`;
    if (!byVersion.has(version)) byVersion.set(version, []);
    byVersion.get(version).push({ x: index + 1, y: point.value, label: point.at });
  });
  const datasets = [...byVersion.entries()].map(([version, points], i) => ({
    label: version, data: points, borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length],
    tension: 0.2, pointRadius: 3,
  }));
  if (body.threshold !== null && body.threshold !== undefined && body.points.length) {
    datasets.push({
      label: `threshold ${body.threshold}`, data: body.points.map((_, i) => ({ x: i + 1, y: body.threshold })),
      borderColor: "#6b7280", borderDash: [6, 4], pointRadius: 0,
    });
  }
  new Chart(canvas, {
    type: "line",
    data: { datasets },
    options: {
      animation: false, parsing: true, responsive: true, maintainAspectRatio: false,
      scales: { x: { type: "linear", title: { display: true, text: "window" }, ticks: { precision: 0 } },
                y: { title: { display: true, text: body.label } } },
      plugins: { title: { display: true, text: body.title }, legend: { position: "bottom" } },
    },
  });
}
