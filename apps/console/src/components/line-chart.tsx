import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Line } from '../lib/trends.ts';

interface Props {
  readonly lines: readonly Line[];
  /** What the value axis counts ("messages", "MiB"). */
  readonly unit: string;
  readonly label: string;
  readonly testid: string;
  /** How a value reads on the axis and in the legend (default: whole numbers; fractions leave an axis tick blank). */
  readonly format?: (v: number) => string;
  /** The value axis's width in px (wider for longer values such as "2.0 KiB"). */
  readonly axisSize?: number;
}

const HEIGHT = 160;
const MUTED = '#5f6b7a';
const whole = (v: number) => (Number.isInteger(v) ? String(v) : '');

/**
 * A small trend over time (uPlot lines on a canvas): one line per series, a UTC time axis, a
 * value axis from zero, a legend. Series sampled at different times are aligned by uPlot.join
 * (each line spans the gaps the others' times leave in it).
 */
export function LineChart({ lines, unit, label, testid, format = whole, axisSize = 52 }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const key = JSON.stringify(lines);
  useEffect(() => {
    const el = box.current!;
    if (lines.length === 0) return;
    const data = uPlot.join(lines.map((l) => [l.x, l.y] as uPlot.AlignedData));
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.15] } },
      axes: [
        { stroke: MUTED, grid: { stroke: '#eef2f6' }, ticks: { stroke: '#d8dee6' } },
        { stroke: MUTED, label: unit, labelSize: 20, size: axisSize, grid: { stroke: '#eef2f6' }, ticks: { stroke: '#d8dee6' }, values: (_u, splits) => splits.map(format) },
      ],
      series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.colour, width: 2, spanGaps: true, points: { show: false } }))],
      cursor: { drag: { x: true, y: false }, points: { show: false } },
    };
    const u = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
    };
  }, [key, unit, axisSize]);
  return (
    <figure class="trend" aria-label={label} data-testid={testid}>
      <figcaption class="trend-title">{label}</figcaption>
      {lines.length === 0 ? <p class="hint">Nothing reported yet.</p> : <div class="chart-plot" ref={box} role="img" aria-label={label} />}
      <div class="trend-legend">
        {lines.map((l) => <span class="legend-item" data-series={l.label}><i class="swatch" style={{ background: l.colour }} /> {l.label}: {format(l.y.at(-1)!)} now</span>)}
      </div>
    </figure>
  );
}
