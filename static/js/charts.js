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
 * The data island is a Chart.js config without functions (built in forecasting/charts.py):
 *
 *   {"type": "bar" | "line" | ...,
 *    "labels": ["Jan 2026", ...],   // full labels: tooltips and the text alternative
 *    "datasets": [{"label": "Closed won", "data": [1200.5, ...], "type"?: "line",
 *                  "color"?: "#1f8a4c", "dashed"?: true, "stack"?: "s", "stepped"?: true, ...}],
 *    "title": "...", "caption": "...", "summary": "...",  // rendered by the template
 *    "axes"?: {"category": "Month", "value": "Amount (USD)"},  // axis titles
 *    "ticks"?: ["Jan", ...],    // shorter category-axis labels (one per label)
 *    "money"?: true,            // value axis compact ($1.2M), tooltips whole ($1,234,567)
 *    "currency"?: "$",          // symbol of the reporting currency (default "$")
 *    "percent"?: true,          // value axis and tooltips as percentages
 *    "decimals"?: 1,            // tooltip decimals of percentages and plain numbers
 *    "unit"?: "days",           // appended to plain numbers in tooltips
 *    "stacked"?: true,          // stack bars
 *    "horizontal"?: true,       // horizontal bars
 *    "links"?: ["/url", ...],   // clicking bar i opens links[i] (also reachable from the
 *                               // table beside the chart, which is the keyboard path)
 *    "floating"?: true,         // data items are [from, to] pairs (waterfalls)
 *    "options"?: {...}}         // merged into the Chart.js options
 *
 * Lines are straight segments (tension 0) or steps, never smoothed curves: the figures are
 * discrete (a month, a snapshot). Category labels are never tilted; Chart.js skips some when
 * they do not fit.
 *
 * Every chart must have its table beside or under it (UI.md): the canvas is a picture of
 * the table, not the only place the figures live.
 */
(function () {
  "use strict";

  var PALETTE = ["#3457d5", "#1f8a4c", "#d68a00", "#8a4fd1", "#c0392b", "#6b7280", "#0e8fa3"];
  var LOCALE = document.documentElement.lang || "en";

  // A percentage as the tables write it (pipeline's `pct` filter): "52%", "60.4%", never
  // "-0%" for a figure that rounds to zero.
  function percent(n, places) {
    var s = n.toLocaleString(LOCALE, {
      minimumFractionDigits: places, maximumFractionDigits: places,
    });
    if (/^-[0.,]*$/.test(s)) s = s.slice(1);
    return s + "%";
  }

  function compact(cfg) {
    var symbol = cfg.currency || "$";
    if (cfg.money) {
      return function (v) {
        var n = Number(v);
        var a = Math.abs(n);
        var s;
        if (a >= 1e9) s = (a / 1e9).toFixed(2) + "B";
        else if (a >= 1e6) s = (a / 1e6).toFixed(2) + "M";
        else if (a >= 1e4) s = Math.round(a / 1e3) + "k";
        // Below 10k keep one decimal, or ticks 3,500 and 4,000 would both read "4k".
        else if (a >= 1e3) s = String(Math.round(a / 100) / 10) + "k";
        else s = String(Math.round(a));
        return (n < 0 ? "-" : "") + symbol + s;
      };
    }
    if (cfg.percent) {
      return function (v) { return percent(Number(v), 0); };
    }
    return function (v) { return Number(v).toLocaleString(LOCALE); };
  }

  // Tooltips give the figure in full, formatted as the tables beside the chart format it.
  function exact(cfg) {
    var symbol = cfg.currency || "$";
    var places = cfg.decimals === undefined ? (cfg.percent ? 1 : 0) : cfg.decimals;
    var unit = cfg.unit ? " " + cfg.unit : "";
    function digits(n, p) {
      return n.toLocaleString(LOCALE, { minimumFractionDigits: p, maximumFractionDigits: p });
    }
    if (cfg.money) {
      return function (v) {
        var n = Math.round(Number(v));
        return (n < 0 ? "-" : "") + symbol + digits(Math.abs(n), 0);
      };
    }
    if (cfg.percent) {
      return function (v) { return percent(Number(v), places); };
    }
    return function (v) { return digits(Number(v), places) + unit; };
  }

  // A long category label ("Open at start") on a horizontal axis wraps onto lines of about
  // `width` characters instead of tilting or being skipped.
  function wrap(label, width) {
    if (typeof label !== "string" || label.length <= width) return label;
    var lines = [];
    var line = "";
    label.split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? line + " " + word : word;
      }
    });
    if (line) lines.push(line);
    return lines;
  }

  function axisTitle(text) {
    return text ? { display: true, text: text, color: "#4b5563", font: { size: 12 } } : { display: false };
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
    var fmt = compact(cfg);
    var full = exact(cfg);
    var axes = cfg.axes || {};
    var datasets = (cfg.datasets || []).map(function (ds, i) {
      var color = ds.color || PALETTE[i % PALETTE.length];
      var out = merge({}, ds);
      delete out.color;
      delete out.dashed;
      out.borderColor = out.borderColor || color;
      out.backgroundColor = out.backgroundColor || color + ((ds.type || cfg.type) === "line" ? "22" : "cc");
      if (ds.dashed) out.borderDash = [6, 4];
      if ((ds.type || cfg.type) === "line") {
        out.tension = 0;
        out.pointRadius = out.pointRadius === undefined ? 2 : out.pointRadius;
        out.fill = out.fill === undefined ? false : out.fill;
      }
      return out;
    });
    var valueAxis = cfg.horizontal ? "x" : "y";
    var categoryAxis = cfg.horizontal ? "y" : "x";
    var scales = {};
    scales[valueAxis] = {
      beginAtZero: true,
      stacked: !!cfg.stacked,
      ticks: { callback: fmt },
      title: axisTitle(axes.value),
    };
    // A dozen categories or fewer all get their label on a laptop; more (weekly snapshots),
    // or a phone's narrow chart, skip some rather than run them together.
    var categoryTicks = {
      autoSkip: (cfg.labels || []).length > 12 || window.innerWidth < 600,
      maxRotation: 0,
      minRotation: 0,
      callback: function (value, index) {
        var label = cfg.ticks && cfg.ticks[index] !== undefined ? cfg.ticks[index] : this.getLabelForValue(value);
        return cfg.horizontal ? label : wrap(label, 12);
      },
    };
    scales[categoryAxis] = {
      stacked: !!cfg.stacked,
      grid: { display: false },
      ticks: categoryTicks,
      title: axisTitle(axes.category),
    };
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
          // A gap (a finished month's forecast, a month without deals) has no tooltip line.
          filter: function (item) {
            var raw = item.raw;
            return raw !== null && raw !== undefined && !(Array.isArray(raw) && raw.indexOf(null) !== -1);
          },
          callbacks: {
            label: function (ctx) {
              var raw = ctx.raw;
              var v = Array.isArray(raw) ? raw[1] - raw[0] : ctx.parsed[valueAxis];
              return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + full(v);
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
    // A phone's chart has room for about five category labels (a laptop's limit would run
    // "Sep 15Sep 29" together).
    if (window.innerWidth < 600 && !cfg.horizontal) {
      var ticks = options.scales[categoryAxis].ticks;
      ticks.autoSkip = true;
      ticks.maxTicksLimit = Math.min(ticks.maxTicksLimit || 5, 5);
    }
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
