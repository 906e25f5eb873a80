/**
 * Runs a system tool (bwrap, prlimit, chown, rm, …) to completion: no stdin, the environment it is
 * given — never the worker's own, whose secrets a tool has no business with — an optional time
 * limit after which it is killed, and every line it prints handed over as it comes (a kept tail
 * could hide the one that matters).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ToolOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
}

/** Resolves with the exit code, or null when the tool was killed; rejects when it cannot start. */
export function runTool(argv: readonly string[], options: ToolOptions): Promise<number | null> {
  const [command, ...args] = argv as [string, ...string[]];
  const { onStdoutLine, onStderrLine } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', onStdoutLine ? 'pipe' : 'ignore', onStderrLine ? 'pipe' : 'ignore'],
      env: options.env,
      timeout: options.timeoutMs,
      killSignal: 'SIGKILL',
    });
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
    // No pipes when the spawn itself failed (no descriptors left): 'error' rejects.
    const lines = (input: NodeJS.ReadableStream | null, onLine?: (line: string) => void) => {
      if (input && onLine) createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY }).on('line', onLine);
    };
    lines(child.stdout, onStdoutLine);
    lines(child.stderr, onStderrLine);
  });
}
