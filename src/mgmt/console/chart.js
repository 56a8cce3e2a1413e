// A line chart of message rates on a <canvas>, drawn by hand: the last
// `max` samples of each series, newest on the right. The canvas's
// data-samples attribute says how many samples it shows.
export class RateChart {
  constructor(canvas, series, max = 60) {
    this.canvas = canvas;
    this.series = series;  // [{key, label, color}]
    this.max = max;
    this.samples = [];     // [{t, values: {key: rate}}]
  }

  push(t, values) {
    this.samples.push({ t, values });
    if (this.samples.length > this.max) this.samples.shift();
  }

  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth || 600, h = c.clientHeight || 180;
    c.width = Math.round(w * ratio);
    c.height = Math.round(h * ratio);
    const g = c.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 56, right = 8, top = 8, bottom = 20;
    const pw = w - left - right, ph = h - top - bottom;
    let peak = 0;
    for (const s of this.samples) for (const k of this.series) peak = Math.max(peak, s.values[k.key] || 0);
    const ymax = niceCeiling(peak);
    // Grid and scale.
    g.font = "11px sans-serif";
    g.fillStyle = "#666";
    g.strokeStyle = "#e3e3e3";
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      g.beginPath();
      g.moveTo(left, y);
      g.lineTo(left + pw, y);
      g.stroke();
      g.textAlign = "right";
      g.textBaseline = "middle";
      g.fillText(`${formatRate((ymax * i) / 4)}/s`, left - 6, y);
    }
    g.textAlign = "left";
    g.textBaseline = "top";
    g.fillText(this.samples.length ? `last ${this.samples.length} samples` : "no samples yet", left, top + ph + 4);
    // One line per series; one sample is a dot.
    const n = this.samples.length;
    const x = (i) => left + pw - ((n - 1 - i) * pw) / Math.max(1, this.max - 1);
    const y = (v) => top + ph - (ph * v) / ymax;
    for (const k of this.series) {
      g.strokeStyle = g.fillStyle = k.color;
      g.lineWidth = 2;
      g.beginPath();
      this.samples.forEach((s, i) => {
        const px = x(i), py = y(s.values[k.key] || 0);
        if (i === 0) g.moveTo(px, py);
        else g.lineTo(px, py);
      });
      if (n === 1) g.arc(x(0), y(this.samples[0].values[k.key] || 0), 3, 0, 2 * Math.PI);
      if (n === 1) g.fill();
      else g.stroke();
    }
    c.dataset.samples = String(n);
  }
}

// 1, 2 or 5 times a power of ten, at least `v` (and at least 1).
function niceCeiling(v) {
  if (v <= 1) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function formatRate(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
