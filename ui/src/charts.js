// The charts island: draws each `<table data-chart>` with uPlot above the
// table, which stays for readers and keyboards. `line` plots data-value over
// data-at; `band` adds the expected value and the lower/upper band that
// DetectAnomalies computed, marks anomalies, and draws values excluded from
// training hollow. Clicking a point of a band chart submits that row's
// "mark expected" (or "undo") form when the page offers one.
import uPlot from "uplot";

const COLORS = { value: "#1f5fbf", expected: "#5b6470", band: "rgba(31, 95, 191, 0.14)", anomaly: "#b3261e", excluded: "#8a929c" };

const number = (v) => (v === undefined || v === "" ? null : Number(v));

function read(table) {
  const rows = [...table.querySelectorAll("tbody tr")].filter((r) => r.dataset.at);
  return rows.map((r) => ({
    row: r,
    x: Date.parse(r.dataset.at) / 1000,
    value: number(r.dataset.value),
    expected: number(r.dataset.expected),
    lower: number(r.dataset.lower),
    upper: number(r.dataset.upper),
    anomalous: r.dataset.anomalous === "true",
    excluded: r.dataset.excluded === "true",
  })).sort((a, b) => a.x - b.x);
}

const pointsOnly = (stroke, fill, size) => ({
  stroke,
  fill,
  paths: () => null,
  points: { show: true, size, stroke, fill, width: 2 },
});

function options(kind, label, width, points, range) {
  const series = [{}];
  const bands = [];
  if (kind === "band") {
    series.push(
      { label: "lower", stroke: COLORS.band, width: 1 },
      { label: "upper", stroke: COLORS.band, width: 1 },
      { label, stroke: COLORS.value, width: 2, points: { show: true, size: 5 } },
      { label: "expected", stroke: COLORS.expected, width: 1, dash: [6, 4], points: { show: false } },
      { label: "anomaly", ...pointsOnly(COLORS.anomaly, COLORS.anomaly, 10) },
      { label: "excluded", ...pointsOnly(COLORS.excluded, "#ffffff", 10) },
    );
    bands.push({ series: [2, 1], fill: COLORS.band });
  } else {
    series.push({ label, stroke: COLORS.value, width: 2, points: { show: points.length < 80, size: 5 } });
  }
  return {
    width,
    height: 240,
    series,
    bands,
    scales: { x: { time: true }, y: range ? { range } : {} },
    legend: { live: true },
    cursor: { points: { size: 8 } },
  };
}

function data(kind, points) {
  const xs = points.map((p) => p.x);
  if (kind !== "band") return [xs, points.map((p) => p.value)];
  return [
    xs,
    points.map((p) => p.lower),
    points.map((p) => p.upper),
    points.map((p) => p.value),
    points.map((p) => p.expected),
    points.map((p) => (p.anomalous ? p.value : null)),
    points.map((p) => (p.excluded ? p.value : null)),
  ];
}

// Clicking a point submits its row's form (mark expected, or undo).
function clickable(chart, points) {
  chart.over.addEventListener("click", () => {
    const i = chart.cursor.idx;
    if (i === null || i === undefined) return;
    const form = points[i].row.querySelector("form[data-point-action]");
    if (!form) return;
    const question = form.dataset.pointAction === "undo"
      ? "Let this value train the anomaly band again?"
      : "Mark this value as expected, so it no longer trains the anomaly band?";
    if (window.confirm(question)) form.requestSubmit();
  });
  chart.over.classList.add("clickable");
}

function draw(table) {
  const kind = table.dataset.chart;
  const points = read(table);
  if (!points.length) return;
  const holder = document.createElement("figure");
  holder.className = "chart";
  const caption = table.querySelector("caption")?.textContent ?? "";
  holder.setAttribute("aria-label", caption);
  const anchor = table.closest(".scroll") ?? table;
  anchor.before(holder);
  const width = () => Math.max(320, holder.clientWidth || anchor.clientWidth || 640);
  // data-range="0,1" fixes the y axis (scores).
  const range = table.dataset.range ? table.dataset.range.split(",").map(Number) : null;
  const chart = new uPlot(options(kind, table.dataset.label || "value", width(), points, range), data(kind, points), holder);
  if (kind === "band") clickable(chart, points);
  window.addEventListener("resize", () => chart.setSize({ width: width(), height: 240 }));
  holder.dataset.points = String(points.length);
  table.dqChart = chart;
}

function start() {
  document.querySelectorAll("table[data-chart]").forEach(draw);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
