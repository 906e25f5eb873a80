/**
 * Web app benchmarks:
 * 1. gzip size of what the initial route (the chat view) loads from `frontend/dist`, against a
 *    bare React + ReactDOM "hello world" built with the same Vite in the same run;
 * 2. time from navigation to the first meaningful paint of the chat view (a stored conversation
 *    on screen) in headless Chromium against the standalone backend — measured when the built
 *    backend and Chromium are there, otherwise the row says why not.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface BenchRow {
  metric: string;
  ours: string;
  baseline: string;
  goal: string;
}

const frontendDir = resolve(import.meta.dirname, '..');
const distDir = join(frontendDir, 'dist');
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const gzipBytes = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length;

/** Assets the HTML page loads before anything else: entry script, its preloads, stylesheets. */
export function initialAssets(dir: string): { js: string[]; css: string[] } {
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const js = new Set<string>();
  const css = new Set<string>();
  for (const match of html.matchAll(/<script[^>]+src="([^"]+)"/g)) js.add(match[1] ?? '');
  for (const match of html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g))
    js.add(match[1] ?? '');
  for (const match of html.matchAll(/<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"/g))
    css.add(match[1] ?? '');
  const local = (paths: Set<string>) => [...paths].filter((p) => p.startsWith('/')).map((p) => join(dir, p));
  return { js: local(js), css: local(css) };
}

/** Chunks that are fetched on demand, by the name Vite gave them. */
function lazyChunk(dir: string, name: string): string | undefined {
  const manifest = JSON.parse(readFileSync(join(dir, '.vite/manifest.json'), 'utf8')) as Record<
    string,
    { file: string; name?: string; isDynamicEntry?: boolean }
  >;
  const entry = Object.values(manifest).find((chunk) => chunk.isDynamicEntry && chunk.name === name);
  return entry ? join(dir, entry.file) : undefined;
}

async function buildApp(): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: join(frontendDir, 'vite.config.ts'),
    logLevel: 'warn',
    build: { manifest: true },
  });
}

/** A bare React 19 + ReactDOM page rendering one heading, built the same way. */
async function buildBaseline(): Promise<number> {
  const { build } = await import('vite');
  const react = (await import('@vitejs/plugin-react')).default;
  // Inside frontend/node_modules so that `react` resolves exactly as it does for the app.
  const root = join(frontendDir, 'node_modules/.cache/ipa-bench-baseline');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, 'index.html'),
    '<!doctype html><div id="root"></div><script type="module" src="/main.jsx"></script>',
  );
  writeFileSync(
    join(root, 'main.jsx'),
    "import { createRoot } from 'react-dom/client';\ncreateRoot(document.getElementById('root')).render(<h1>Hello</h1>);\n",
  );
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    plugins: [react()],
    build: { outDir: join(root, 'dist') },
  });
  const assets = initialAssets(join(root, 'dist'));
  const total = assets.js.reduce((sum, file) => sum + gzipBytes(file), 0);
  rmSync(root, { recursive: true, force: true });
  return total;
}

async function paintRows(): Promise<BenchRow[]> {
  const { e2eSkipReason, startPlatform, apiAs } = await import('../e2e/support/platform');
  const reason = e2eSkipReason();
  const metric = 'chat view: navigation → first meaningful paint (median of 5, cold cache)';
  if (reason) return [{ metric, ours: `not measured: ${reason}`, baseline: '—', goal: '—' }];
  const { launchBrowser } = await import('../e2e/support/browser');
  const platform = await startPlatform();
  const browser = await launchBrowser();
  try {
    // A conversation with one finished turn, so the view has real content to paint.
    const session = await apiAs<{ id: string }>(platform, platform.adminToken, 'POST', '/sessions', {
      title: 'Benchmark',
    });
    const sent = await apiAs<{ execution: { id: string } }>(
      platform,
      platform.adminToken,
      'POST',
      `/sessions/${session.id}/messages`,
      {
        text: 'hello there',
      },
    );
    for (let i = 0; i < 300; i++) {
      const execution = await apiAs<{ status: string }>(
        platform,
        platform.adminToken,
        'GET',
        `/executions/${sent.execution.id}`,
      );
      if (!['queued', 'running'].includes(execution.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const fmp: number[] = [];
    const fcp: number[] = [];
    for (let run = 0; run < 5; run++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const login = await context.request.post(`${platform.url}/api/v1/auth/login`, {
        data: { token: platform.adminToken },
      });
      if (!login.ok()) throw new Error(`sign-in failed: ${login.status()}`);
      const page = await context.newPage();
      // Records when the stored reply is first in the DOM (painted in the next frame).
      await page.addInitScript(() => {
        const w = window as unknown as { __fmp?: number };
        new MutationObserver((_records, observer) => {
          if (document.querySelector('.turn .markdown')) {
            requestAnimationFrame(() => {
              w.__fmp = performance.now();
            });
            observer.disconnect();
          }
        }).observe(document, { childList: true, subtree: true });
      });
      await page.goto(`${platform.url}/chat/${session.id}`);
      await page.waitForFunction(() => (window as unknown as { __fmp?: number }).__fmp !== undefined, null, {
        timeout: 30_000,
      });
      const times = await page.evaluate(() => ({
        fmp: (window as unknown as { __fmp: number }).__fmp,
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
      }));
      fmp.push(times.fmp);
      fcp.push(times.fcp);
      await context.close();
    }
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
    return [
      { metric, ours: `${median(fmp).toFixed(0)} ms`, baseline: '—', goal: '— (tracked, no target set)' },
      {
        metric: 'chat view: first contentful paint (median of 5)',
        ours: `${median(fcp).toFixed(0)} ms`,
        baseline: '—',
        goal: '—',
      },
    ];
  } finally {
    await browser.close();
    await platform.close();
  }
}

export async function run(options: { measurePaint?: boolean } = {}): Promise<BenchRow[]> {
  if (!existsSync(join(distDir, '.vite/manifest.json'))) await buildApp();
  const baselineJs = await buildBaseline();
  const assets = initialAssets(distDir);
  const js = assets.js.reduce((sum, file) => sum + gzipBytes(file), 0);
  const css = assets.css.reduce((sum, file) => sum + gzipBytes(file), 0);
  const markdown = lazyChunk(distDir, 'Markdown');
  const editor = lazyChunk(distDir, 'CodeEditor');
  const chart = lazyChunk(distDir, 'LineChart');
  const rows: BenchRow[] = [
    {
      metric: 'initial route JS, gzip (entry + preloaded chunks)',
      ours: kb(js),
      baseline: `${kb(baselineJs)} (bare React + ReactDOM hello world, same Vite build)`,
      goal: '< 250 KB',
    },
    { metric: 'initial route CSS, gzip', ours: kb(css), baseline: '—', goal: '—' },
  ];
  if (markdown)
    rows.push({
      metric: 'chat view JS incl. the markdown renderer it loads next, gzip',
      ours: kb(js + gzipBytes(markdown)),
      baseline: kb(baselineJs),
      goal: '< 250 KB',
    });
  if (editor)
    rows.push({
      metric: 'code editor chunk (lazy), gzip',
      ours: kb(gzipBytes(editor)),
      baseline: '—',
      goal: 'not in initial route',
    });
  if (chart)
    rows.push({
      metric: 'charts chunk (lazy), gzip',
      ours: kb(gzipBytes(chart)),
      baseline: '—',
      goal: 'not in initial route',
    });
  if (options.measurePaint !== false) rows.push(...(await paintRows()));
  return rows;
}

export function formatTable(rows: BenchRow[]): string {
  const lines = ['| metric | ours | baseline | goal |', '| --- | --- | --- | --- |'];
  for (const row of rows) lines.push(`| ${row.metric} | ${row.ours} | ${row.baseline} | ${row.goal} |`);
  return lines.join('\n');
}
