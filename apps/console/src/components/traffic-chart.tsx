import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { nodeStack, stack, verdictStack, type Stack, type TrafficRow } from '../lib/chart-series.ts';

export type { TrafficRow } from '../lib/chart-series.ts';

interface Props {
  /** One row per bucket (the cluster's, or the node the page filters on). */
  readonly rows: readonly TrafficRow[];
  /** The same range with byNode=true: offers the per-node split. */
  readonly nodeRows?: readonly TrafficRow[] | undefined;
  readonly nameOf?: (nodeId: string) => string;
  readonly bucket: 'hour' | 'day';
  readonly label: string;
  /** Dragging across the chart picks a time range: given this, the page reloads with it; without, the chart zooms in place (double-click zooms out). */
  readonly onRange?: (fromMs: number, toMs: number) => void;
}

const HEIGHT = 220;
const MUTED = '#5f6b7a';

/** A bucket's start, in UTC like the API's buckets. */
function bucketLabel(sec: number, bucket: 'hour' | 'day'): string {
  const iso = new Date(sec * 1000).toISOString();
  return bucket === 'day' ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/**
 * Traffic as stacked bars (uPlot, on a canvas): a time axis with dates (UTC, as the buckets are),
 * a value axis, a tooltip per bucket, one series per verdict or per node, and a legend that
 * hides and shows series. Each series is drawn as a bar up to its stack top, biggest first, so
 * the smaller ones paint over the bottom of it.
 */
export function TrafficChart({ rows, nodeRows, nameOf = (id) => id, bucket, label, onRange }: Props) {
  const [split, setSplit] = useState<'verdict' | 'node'>('verdict');
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  // Keyed by content: a dashboard refresh that brings the same numbers keeps the chart (and its zoom) as it is.
  const dataKey = JSON.stringify([rows, split === 'node' ? nodeRows : null]);
  const full: Stack = useMemo(() => (split === 'node' && nodeRows ? nodeStack(nodeRows, nameOf) : verdictStack(rows)), [split, dataKey, nameOf]);
  const shown = useMemo(() => stack(full.x, full.series.filter((s) => !hidden.has(s.key))), [full, hidden]);
  const box = useRef<HTMLDivElement>(null);
  const range = useRef(onRange);
  range.current = onRange;

  useEffect(() => {
    const el = box.current!;
    const step = bucket === 'day' ? 86_400 : 3_600;
    const drawn = [...shown.series].reverse();
    const bars = uPlot.paths.bars!({ size: [0.85, 48, 1], align: 0 });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      scales: { x: { time: true, range: (_u, min, max) => [min - step / 2, max + step / 2] }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      axes: [
        { stroke: MUTED, grid: { stroke: '#eef2f6' }, ticks: { stroke: '#d8dee6' } },
        { stroke: MUTED, label: `messages per ${bucket}`, labelSize: 20, size: 48, grid: { stroke: '#eef2f6' }, ticks: { stroke: '#d8dee6' }, values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')) },
      ],
      series: [{}, ...drawn.map((s) => ({ label: s.label, fill: s.colour, stroke: s.colour, width: 0, paths: bars, points: { show: false } }))],
      cursor: { drag: { x: true, y: false, setScale: range.current === undefined }, points: { show: false } },
      hooks: {
        setSelect: [
          (u) => {
            if (!range.current || u.select.width < 2) return;
            const from = u.posToVal(u.select.left, 'x');
            const to = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            range.current(from * 1000, to * 1000);
          },
        ],
      },
      plugins: [tooltip(shown, bucket)],
    };
    const u = new uPlot(opts, [shown.x, ...drawn.map((s) => s.top)], el);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
    };
  }, [shown, bucket]);

  const toggle = (key: string) => setHidden((h) => {
    const next = new Set(h);
    if (!next.delete(key)) next.add(key);
    return next;
  });
  return (
    <figure class="chart" aria-label={label} data-split={split}>
      {nodeRows && (
        <div class="chart-split" role="group" aria-label="Split the bars">
          <button type="button" class="toggle" aria-pressed={split === 'verdict'} onClick={() => (setSplit('verdict'), setHidden(new Set()))}>By verdict</button>
          <button type="button" class="toggle" aria-pressed={split === 'node'} onClick={() => (setSplit('node'), setHidden(new Set()))}>By node</button>
        </div>
      )}
      <div class="chart-plot" ref={box} role="img" aria-label={label} />
      <figcaption>
        {full.series.map((s) => (
          <button type="button" class="legend" data-series={s.label} aria-pressed={!hidden.has(s.key)} title={hidden.has(s.key) ? 'Show' : 'Hide'} onClick={() => toggle(s.key)}>
            <i class="swatch" style={{ background: s.colour }} /> {s.label} {s.total}
          </button>
        ))}
        <span class="hint">Times in UTC. {onRange ? 'Drag across the chart to report on that time range.' : 'Drag to zoom in, double-click to zoom out.'}</span>
      </figcaption>
    </figure>
  );
}

/** A box beside the cursor: the bucket, each series' count and the total. Built with DOM text, never HTML. */
function tooltip(data: Stack, bucket: 'hour' | 'day'): uPlot.Plugin {
  let tip: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'chart-tip';
        tip.hidden = true;
        u.over.appendChild(tip);
      },
      setCursor: (u) => {
        const i = u.cursor.idx;
        if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
          tip.hidden = true;
          return;
        }
        const lines = [bucketLabel(data.x[i]!, bucket), ...data.series.map((s) => `${s.label}: ${s.counts[i]}`), `total: ${data.series.at(-1)?.top[i] ?? 0}`];
        tip.replaceChildren(...lines.map((t, n) => {
          const line = document.createElement(n === 0 ? 'strong' : 'div');
          line.textContent = t;
          return line;
        }));
        tip.hidden = false;
        const left = u.cursor.left;
        const flip = left > u.over.clientWidth / 2;
        tip.style.left = flip ? '' : `${left + 12}px`;
        tip.style.right = flip ? `${u.over.clientWidth - left + 12}px` : '';
        tip.style.top = '8px';
      },
    },
  };
}
