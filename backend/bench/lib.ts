/** Shared pieces of the benchmark scripts (`npm run bench`). */

export type BenchRow = { metric: string; ours: string; baseline: string; goal: string };

export interface BenchTable {
  title: string;
  rows: BenchRow[];
}

/** The `p`-th percentile (0–100) of `values`, nearest-rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Milliseconds with a precision that suits them. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`;
}

export function perSecond(value: number): string {
  return Number.isFinite(value) ? `${Math.round(value).toLocaleString('en-US')}/s` : '—';
}

/** Prints a table with the columns `metric | ours | baseline | goal` (Markdown, so it pastes into docs). */
export function printTable(title: string, rows: readonly BenchRow[]): void {
  const header: BenchRow = { metric: 'metric', ours: 'ours', baseline: 'baseline', goal: 'goal' };
  const columns = ['metric', 'ours', 'baseline', 'goal'] as const;
  const widths = columns.map((c) => Math.max(...[header, ...rows].map((r) => r[c].length)));
  const line = (r: BenchRow) => `| ${columns.map((c, i) => r[c].padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const row of rows) console.log(line(row));
}

/** True when the module at `url` is the script node was started with. */
export function isMain(url: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  const path = new URL(url).pathname;
  return path === entry || path.replace(/\.ts$/, '') === entry.replace(/\.ts$/, '');
}

/**
 * Runs a benchmark file started on its own (`npx tsx backend/bench/x.bench.ts`) and prints its
 * table. The keys and databases it made go at the end, as under `npm run bench`, which records
 * for all its runs (and then this one adds no recording of its own).
 */
export async function runAlone(run: () => Promise<BenchTable | undefined>): Promise<never> {
  const { removeRecorded, runRecordVariable, startRecording } = await import(
    '../test/support/run-leftovers.js'
  );
  const own = process.env[runRecordVariable] ? undefined : startRecording();
  try {
    const table = await run();
    if (table) printTable(table.title, table.rows);
  } finally {
    if (own) await removeRecorded(own);
  }
  process.exit(0);
}

export function sleep(msToWait: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, msToWait));
}
