// Time-series charts on uPlot (served by the bridge from node_modules; no CDN). A chart is
// rebuilt when its series set or the colour scheme changes, otherwise only its data is swapped.
/* global uPlot */

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

const hhmm = (s) => new Date(s * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
const hhmmss = (s) => new Date(s * 1000).toLocaleTimeString([], { hour12: false });

function axis(fmt) {
  const stroke = css('--muted');
  const grid = { stroke: css('--grid'), width: 1 };
  return { stroke, grid, ticks: { stroke: css('--grid'), width: 1 }, font: '11px ' + css('--font-ui'), values: fmt };
}

export class TimeChart {
  /**
   * @param {HTMLElement} el container (its size drives the chart's)
   * @param {{ log?: boolean, bars?: boolean, yFmt?: (v:number)=>string, yRange?: [number, number] }} opts
   */
  constructor(el, opts = {}) {
    this.el = el;
    this.opts = opts;
    this.plot = null;
    this.key = '';
    this.last = null;
    new ResizeObserver(() => this.resize()).observe(el);
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.rebuild());
  }

  /** The container's size less the legend uPlot puts under the canvas. */
  size() {
    const r = this.el.getBoundingClientRect();
    const legend = this.plot ? this.plot.root.querySelector('.u-legend') : null;
    const lh = legend ? legend.offsetHeight + 4 : 28;
    return { width: Math.max(200, Math.floor(r.width)), height: Math.max(100, Math.floor(r.height) - lh) };
  }

  resize() {
    if (this.plot) this.plot.setSize(this.size());
  }

  /** @param {number[]} xs seconds; @param {{label:string,color:string,values:(number|null)[]}[]} series */
  update(xs, series) {
    this.last = { xs, series };
    const key = series.map((s) => s.label + s.color).join('|');
    const data = [xs, ...series.map((s) => s.values)];
    if (this.plot && key === this.key) {
      this.plot.setData(data);
      return;
    }
    this.key = key;
    this.build(data, series);
  }

  rebuild() {
    if (this.last) {
      this.key = '';
      this.update(this.last.xs, this.last.series);
    }
  }

  build(data, series) {
    if (this.plot) this.plot.destroy();
    this.el.textContent = '';
    const o = this.opts;
    const yFmt = o.yFmt || ((v) => String(v));
    const bars = o.bars && uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 24] }) : undefined;
    this.plot = new uPlot(
      {
        ...this.size(),
        padding: [8, 30, 0, 0],
        cursor: { points: { size: 6 }, drag: { x: false, y: false } },
        legend: { show: true, live: true },
        scales: {
          x: { time: true },
          y: o.log ? { distr: 3, log: 10 } : o.yRange ? { range: o.yRange } : { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
        },
        axes: [axis((_u, vals, _i, _space, incr) => vals.map((v) => (incr < 60 ? hhmmss(v) : hhmm(v)))), { ...axis((_u, vals) => vals.map((v) => (v === null ? '' : yFmt(v)))), size: 56 }],
        series: [
          { label: 'time', value: (_u, v) => (v === null ? '—' : hhmmss(v)) },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            fill: o.bars ? s.color + 'cc' : s.color + '14',
            paths: bars,
            points: { show: data[0].length < 3, size: 5 },
            spanGaps: !o.bars,
            value: (_u, v) => (v === null || v === undefined ? '' : yFmt(v)),
          })),
        ],
      },
      data,
      this.el,
    );
    // The legend's height is known only once it is laid out; then give the plot the rest.
    requestAnimationFrame(() => this.resize());
  }
}
