/**
 * Container health check without curl: asks this process's own `/health/live` on PORT.
 * Exit 0 when it answers 2xx within the timeout, 1 otherwise.
 */
import { processEnvironment } from './config/index.js';

const port = Number(processEnvironment().PORT ?? 8000);
const timeoutMs = 2500;

try {
  const response = await fetch(`http://127.0.0.1:${port}/health/live`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
