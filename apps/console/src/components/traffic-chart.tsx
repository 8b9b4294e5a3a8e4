/** One bucket of GET /reports/traffic. */
export interface TrafficRow {
  readonly start: string;
  readonly deliver: number;
  readonly tag: number;
  readonly quarantine: number;
  readonly reject: number;
  readonly total: number;
}

const SERIES = [
  ['deliver', 'accepted'],
  ['tag', 'tagged'],
  ['quarantine', 'quarantined'],
  ['reject', 'rejected'],
] as const;

/** Stacked bars in inline SVG: one bar per bucket, one colour per verdict (styles.css). */
export function TrafficChart({ rows, label }: { rows: readonly TrafficRow[]; label: string }) {
  const width = 720;
  const height = 160;
  const max = Math.max(1, ...rows.map((r) => r.total));
  const slot = width / Math.max(1, rows.length);
  const bar = Math.max(1, slot - 2);
  const sum = (k: (typeof SERIES)[number][0]) => rows.reduce((n, r) => n + r[k], 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height + 16}`} role="img" aria-label={label} preserveAspectRatio="none">
        {rows.map((r, i) => {
          let y = height;
          return (
            <g key={r.start}>
              <title>{`${new Date(r.start).toLocaleString()}: ${r.total} messages`}</title>
              {SERIES.map(([k]) => {
                const h = (r[k] / max) * height;
                y -= h;
                return h > 0 ? <rect class={`bar-${k}`} x={i * slot + 1} y={y} width={bar} height={h} /> : null;
              })}
            </g>
          );
        })}
        <line class="axis" x1="0" y1={height} x2={width} y2={height} />
        <text class="tick" x="0" y={height + 14}>{rows[0] ? new Date(rows[0].start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : ''}</text>
        <text class="tick" x={width} y={height + 14} text-anchor="end">now</text>
        <text class="tick" x="4" y="12">{`max ${max}/bucket`}</text>
      </svg>
      <figcaption>
        {SERIES.map(([k, name]) => (
          <span class="legend"><i class={`swatch bar-${k}`} /> {name} {sum(k)}</span>
        ))}
      </figcaption>
    </figure>
  );
}
