import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface LineChartProps {
  /** x values (epoch seconds) then one array per series. */
  // A null is a gap (a minute without any value).
  data: [number[], ...(number | null)[][]];
  series: { label: string; color: string }[];
  label: string;
  formatValue: (value: number) => string;
  /** Locale for the time axis. */
  locale: string;
  /** Name of the time column in the legend (uPlot's own default is the English "Time"). */
  timeLabel: string;
  height?: number;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** A small uPlot line chart sized to its container; loaded only with the dashboard. */
export default function LineChart({
  data,
  series,
  label,
  formatValue,
  locale,
  timeLabel,
  height = 180,
}: LineChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const format = useRef(formatValue);
  format.current = formatValue;

  // biome-ignore lint/correctness/useExhaustiveDependencies: the chart is rebuilt when its series or locale change; data updates go through setData
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const axisColor = cssVar('--muted', '#667085');
    const gridColor = cssVar('--border', '#e4e7ec');
    const timeFormat = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        {
          stroke: axisColor,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor },
          values: (_u, values) => values.map((value) => timeFormat.format(new Date(value * 1000))),
        },
        {
          stroke: axisColor,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor },
          size: 56,
          values: (_u, values) => values.map((value) => format.current(value)),
        },
      ],
      series: [
        {
          label: timeLabel,
          value: (_u, value) => (value == null ? '—' : timeFormat.format(new Date(value * 1000))),
        },
        ...series.map((item) => ({
          label: item.label,
          stroke: item.color,
          width: 2,
          fill: `${item.color}22`,
          points: { show: false },
          value: (_u: uPlot, value: number | null) => (value == null ? '—' : format.current(value)),
        })),
      ],
    };
    chart.current = new uPlot(options, data, element);
    const resize = new ResizeObserver(() =>
      chart.current?.setSize({ width: Math.max(200, element.clientWidth), height }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.current?.destroy();
      chart.current = null;
    };
  }, [series.map((item) => item.label + item.color).join(), locale, timeLabel, height]);

  useEffect(() => {
    chart.current?.setData(data);
  }, [data]);

  return <div ref={host} className="chart" role="img" aria-label={label} />;
}
