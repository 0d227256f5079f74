/**
 * Sign-ins over time as a uPlot area chart (loaded with the dashboard only). The canvas is
 * described by the totals beside it and by the data table under it for screen readers.
 */
import { useEffect, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartPoint {
  readonly at: number;
  readonly approved: number;
  readonly denied: number;
  readonly expired: number;
}

const SERIES = [
  { key: 'approved', label: 'Approved', stroke: '#1a7f37', fill: 'rgba(26, 127, 55, 0.14)' },
  { key: 'denied', label: 'Denied', stroke: '#cf222e', fill: 'rgba(207, 34, 46, 0.12)' },
  { key: 'expired', label: 'Expired', stroke: '#6e7781', fill: 'rgba(110, 119, 129, 0.10)' },
] as const;

export default function SignInChart({ points, bucket, label }: { points: readonly ChartPoint[]; bucket: 'hour' | 'day'; label: string }): ReactNode {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const data: uPlot.AlignedData = [points.map((p) => p.at / 1000), ...SERIES.map((s) => points.map((p) => p[s.key]))];
    const width = Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 260,
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
        axes: [
          { stroke: '#424a53', grid: { stroke: '#eaeef2' }, ticks: { stroke: '#d0d7de' }, values: bucket === 'day' ? '{MMM} {D}' : '{HH}:{mm}' },
          { stroke: '#424a53', grid: { stroke: '#eaeef2' }, ticks: { stroke: '#d0d7de' }, size: 50 },
        ],
        series: [
          { label: bucket === 'day' ? 'Day' : 'Hour', value: bucket === 'day' ? '{YYYY}-{MM}-{DD}' : '{YYYY}-{MM}-{DD} {HH}:{mm}' },
          ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, fill: s.fill, width: 2, points: { show: points.length < 40 } })),
        ],
      },
      data,
      el,
    );
    const resize = new ResizeObserver(() => {
      const w = Math.max(280, el.clientWidth);
      if (w !== plot.width) plot.setSize({ width: w, height: 260 });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [points, bucket]);

  return <div className="chart" ref={box} role="img" aria-label={label} />;
}
