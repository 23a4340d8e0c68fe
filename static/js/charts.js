/*
 * charts.js — render a Chart.js chart from a JSON data island next to a <canvas>.
 *
 * Usage (any page; Chart.js comes from npm into static/vendor/):
 *
 *   {{ chart|json_script:"trend-data" }}
 *   <canvas data-chart="trend-data" role="img" aria-label="Forecast trend; the table below
 *           holds the same figures"></canvas>
 *   <script src="{% static 'vendor/chart.umd.js' %}" defer></script>
 *   <script src="{% static 'js/charts.js' %}" defer></script>
 *
 * The data island is a Chart.js config without functions:
 *
 *   {"type": "bar" | "line" | ...,
 *    "labels": ["Jan 2026", ...],
 *    "datasets": [{"label": "Closed won", "data": [1200.5, ...], "type"?: "line",
 *                  "color"?: "#1f8a4c", "dashed"?: true, "stack"?: "s", ...}],
 *    "money"?: true,            // format the value axis and tooltips as currency
 *    "currency"?: "$",          // symbol used when money is true (default "$")
 *    "percent"?: true,          // format the value axis and tooltips as percentages
 *    "stacked"?: true,          // stack bars
 *    "horizontal"?: true,       // horizontal bars
 *    "links"?: ["/url", ...],   // clicking bar i opens links[i] (also reachable from the
 *                               // table beside the chart, which is the keyboard path)
 *    "floating"?: true,         // data items are [from, to] pairs (waterfalls)
 *    "options"?: {...}}         // merged into the Chart.js options
 *
 * Every chart must have its table beside or under it (UI.md): the canvas is a picture of
 * the table, not the only place the figures live.
 */
(function () {
  "use strict";

  var PALETTE = ["#3457d5", "#1f8a4c", "#d68a00", "#8a4fd1", "#c0392b", "#6b7280", "#0e8fa3"];

  function formatter(cfg) {
    var symbol = cfg.currency || "$";
    if (cfg.money) {
      return function (v) {
        var n = Number(v);
        var a = Math.abs(n);
        var s;
        if (a >= 1e9) s = (a / 1e9).toFixed(2) + "B";
        else if (a >= 1e6) s = (a / 1e6).toFixed(2) + "M";
        else if (a >= 1e3) s = Math.round(a / 1e3) + "k";
        else s = String(Math.round(a));
        return (n < 0 ? "-" : "") + symbol + s;
      };
    }
    if (cfg.percent) {
      return function (v) { return Number(v).toFixed(0) + " %"; };
    }
    return function (v) { return String(v); };
  }

  function merge(target, source) {
    Object.keys(source || {}).forEach(function (key) {
      var value = source[key];
      if (value && typeof value === "object" && !Array.isArray(value)) {
        target[key] = merge(target[key] || {}, value);
      } else {
        target[key] = value;
      }
    });
    return target;
  }

  function build(cfg) {
    var fmt = formatter(cfg);
    var datasets = (cfg.datasets || []).map(function (ds, i) {
      var color = ds.color || PALETTE[i % PALETTE.length];
      var out = merge({}, ds);
      delete out.color;
      delete out.dashed;
      out.borderColor = out.borderColor || color;
      out.backgroundColor = out.backgroundColor || color + ((ds.type || cfg.type) === "line" ? "22" : "cc");
      if (ds.dashed) out.borderDash = [6, 4];
      if ((ds.type || cfg.type) === "line") {
        out.tension = out.tension === undefined ? 0.2 : out.tension;
        out.pointRadius = out.pointRadius === undefined ? 2 : out.pointRadius;
        out.fill = out.fill === undefined ? false : out.fill;
      }
      return out;
    });
    var valueAxis = cfg.horizontal ? "x" : "y";
    var scales = {};
    scales[valueAxis] = { beginAtZero: true, stacked: !!cfg.stacked, ticks: { callback: fmt } };
    scales[cfg.horizontal ? "y" : "x"] = { stacked: !!cfg.stacked, grid: { display: false } };
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      indexAxis: cfg.horizontal ? "y" : "x",
      interaction: { mode: "index", intersect: false },
      scales: scales,
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var raw = ctx.raw;
              var v = Array.isArray(raw) ? raw[1] - raw[0] : ctx.parsed[valueAxis];
              return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + fmt(v);
            },
          },
        },
      },
    };
    if (cfg.links) {
      options.onClick = function (event, elements) {
        if (elements.length && cfg.links[elements[0].index]) {
          window.location.href = cfg.links[elements[0].index];
        }
      };
      options.onHover = function (event, elements) {
        event.native.target.style.cursor = elements.length ? "pointer" : "default";
      };
    }
    merge(options, cfg.options || {});
    return { type: cfg.type || "bar", data: { labels: cfg.labels || [], datasets: datasets }, options: options };
  }

  function render(canvas) {
    if (canvas.dataset.chartReady || typeof window.Chart === "undefined") return;
    var island = document.getElementById(canvas.dataset.chart);
    if (!island) return;
    var cfg;
    try {
      cfg = JSON.parse(island.textContent);
    } catch (e) {
      return;
    }
    canvas.dataset.chartReady = "1";
    canvas._chart = new window.Chart(canvas.getContext("2d"), build(cfg));
  }

  function renderAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(render);
  }

  window.OpportuneCharts = { render: render, renderAll: renderAll, build: build };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { renderAll(document); });
  } else {
    renderAll(document);
  }
  // Charts inside fragments swapped in by htmx render too.
  document.addEventListener("htmx:afterSettle", function (e) { renderAll(e.target); });
})();
