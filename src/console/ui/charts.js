import { h, svg } from './dom.js';

function cssColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** A round number at or above `max`, so the axis reads 0, ½ and 1 of something tidy. */
function niceCeiling(max) {
  if (max <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= max) return step * magnitude;
  return 10 * magnitude;
}

/**
 * A live line chart on a canvas: series of { label, color (a CSS variable), values }, drawn
 * over the last `windowMs`. The legend below it carries the latest values as text, which is
 * also what assistive technology reads.
 */
export class LineChart {
  constructor({ label, series, format, windowMs }) {
    this.series = series;
    this.format = format;
    this.windowMs = windowMs;
    this.canvas = h('canvas', { class: 'chart', role: 'img', 'aria-label': label });
    this.values = series.map(() => h('strong', null, '—'));
    this.element = h(
      'figure',
      { class: 'chart-figure' },
      this.canvas,
      h(
        'ul',
        { class: 'legend' },
        series.map((s, i) => {
          const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
          swatch.style.background = cssColor(s.color);
          return h('li', null, swatch, `${s.label}: `, this.values[i]);
        }),
      ),
    );
  }

  /** points: [{ time, ...values }], oldest first. */
  update(points) {
    const latest = points.at(-1);
    this.series.forEach((s, i) => (this.values[i].textContent = latest ? this.format(latest[s.key]) : '—'));
    this.draw(points);
  }

  draw(points) {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext('2d');
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, width, height);

    const pad = { left: 64, right: 12, top: 10, bottom: 22 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const now = points.at(-1)?.time ?? Date.now();
    const start = now - this.windowMs;
    const max = niceCeiling(Math.max(0, ...points.flatMap((p) => this.series.map((s) => p[s.key]))));
    const x = (t) => pad.left + ((t - start) / this.windowMs) * plotW;
    const y = (v) => pad.top + plotH - (v / max) * plotH;

    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = cssColor('--muted');
    ctx.strokeStyle = cssColor('--border');
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const fraction of [0, 0.5, 1]) {
      const yy = Math.round(y(max * fraction)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, yy);
      ctx.lineTo(width - pad.right, yy);
      ctx.stroke();
      ctx.fillText(this.format(max * fraction), pad.left - 8, yy);
    }
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText(`-${Math.round(this.windowMs / 60000)} min`, pad.left, height - 6);
    ctx.textAlign = 'right';
    ctx.fillText('now', width - pad.right, height - 6);

    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    for (const s of this.series) {
      ctx.strokeStyle = cssColor(s.color);
      ctx.beginPath();
      let started = false;
      for (const p of points) {
        if (p.time < start) continue;
        if (started) ctx.lineTo(x(p.time), y(p[s.key]));
        else ctx.moveTo(x(p.time), y(p[s.key]));
        started = true;
      }
      ctx.stroke();
    }
  }
}

function shorten(text, max) {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Horizontal bars in SVG, one per item { label, value }, scaled to the largest; the numbers
 * are printed beside the bars, so the chart reads without colour.
 */
export function barChart(items, { label, format }) {
  const rowHeight = 26;
  const labelWidth = 220;
  const valueWidth = 90;
  const width = 760;
  const barWidth = width - labelWidth - valueWidth;
  const max = Math.max(1, ...items.map((i) => i.value));
  return svg(
    'svg',
    { class: 'bars', viewBox: `0 0 ${width} ${items.length * rowHeight}`, width: '100%', role: 'img', 'aria-label': label },
    svg('title', null, label),
    items.map((item, i) => {
      const top = i * rowHeight;
      const w = Math.max(item.value > 0 ? 2 : 0, (item.value / max) * barWidth);
      return svg(
        'g',
        null,
        svg('text', { x: 0, y: top + 17 }, svg('title', null, item.label), shorten(item.label, 30)),
        svg('rect', { class: 'track', x: labelWidth, y: top + 5, width: barWidth, height: 16, rx: 3 }),
        svg('rect', { class: 'bar', x: labelWidth, y: top + 5, width: w, height: 16, rx: 3 }),
        svg('text', { x: labelWidth + barWidth + 8, y: top + 17 }, format(item.value)),
      );
    }),
  );
}
