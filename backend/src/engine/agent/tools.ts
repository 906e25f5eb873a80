import { type ToolSet, tool } from 'ai';
import { z } from 'zod';
import type { EgressContext } from '../../egress/proxy.js';
import type { OutboundAnswer, OutboundRequest } from '../../egress/request.js';
import type { SandboxLease, ScriptLanguage } from '../../sandbox/types.js';

/**
 * The agent's tools. Each one is a call into the user's sandbox over its lease: the model's
 * choices run there, never in the worker, and the worker's secrets never go there.
 */

export interface ToolEnvironment {
  /** The user's sandbox, taken (and brought up to date) on the first tool call of the turn. */
  lease: () => Promise<SandboxLease>;
  languages: readonly ScriptLanguage[];
  /** Wall-clock limit of one `run_code` call. */
  runTimeoutMs: number;
  /** Largest text handed back to the model from one tool call. */
  maxResultChars: number;
  /** Streams the output of `run_code` as `output` events. */
  onOutput: (stream: 'stdout' | 'stderr', data: string) => void;
  /** The turn's egress (policy, secrets) for `run_code` and `http_request`; absent: no network. */
  egress?: {
    context: EgressContext;
    request: (request: OutboundRequest, signal: AbortSignal | undefined) => Promise<OutboundAnswer>;
  };
}

const pathField = z
  .string()
  .min(1)
  .describe('Path relative to your root, starting with uploads/, workspace/ or outputs/');

function clip(text: string, max: number): { text: string; truncated: boolean } {
  return text.length > max ? { text: text.slice(0, max), truncated: true } : { text, truncated: false };
}

export function createTools(env: ToolEnvironment): ToolSet {
  const tools: ToolSet = {
    list_files: tool({
      description:
        'List the files and folders under a folder (recursively). Without a path, lists everything: uploads/, workspace/ and outputs/.',
      inputSchema: z.object({ path: pathField.optional() }).strict(),
      execute: async ({ path }, { abortSignal }) => ({
        entries: await (await env.lease()).list(path ?? '', { signal: abortSignal }),
      }),
    }),
    read_file: tool({
      description: 'Read a text file. Binary files come back base64-encoded.',
      inputSchema: z.object({ path: pathField }).strict(),
      execute: async ({ path }, { abortSignal }) => {
        const file = await (await env.lease()).read(path, { signal: abortSignal });
        const clipped = clip(file.content, env.maxResultChars);
        return {
          path,
          size: file.size,
          encoding: file.encoding,
          content: clipped.text,
          truncated: clipped.truncated,
        };
      },
    }),
    write_file: tool({
      description: 'Create or overwrite a file with the given text content. Folders are created as needed.',
      inputSchema: z.object({ path: pathField, content: z.string() }).strict(),
      execute: async ({ path, content }, { abortSignal }) => {
        const written = await (await env.lease()).write(path, content, { signal: abortSignal });
        return { path, size: written.size };
      },
    }),
    edit_file: tool({
      description: 'Replace an exact piece of text in a file with new text. old_text must occur in the file.',
      inputSchema: z.object({ path: pathField, old_text: z.string().min(1), new_text: z.string() }).strict(),
      execute: async ({ path, old_text, new_text }, { abortSignal }) => {
        const { replacements } = await (await env.lease()).edit(path, old_text, new_text, {
          signal: abortSignal,
        });
        if (replacements === 0) throw new Error(`old_text was not found in ${path}; nothing was changed`);
        return { path, replacements };
      },
    }),
  };
  const [first, ...rest] = env.languages;
  if (first) {
    tools.run_code = tool({
      description: `Run a program in your sandbox (cwd: workspace/) and get its exit code and output. Languages: ${env.languages.join(', ')}.`,
      inputSchema: z
        .object({
          language: z.enum([first, ...rest]),
          code: z.string().min(1),
          input: z.unknown().optional().describe('JSON value handed to the program'),
        })
        .strict(),
      execute: async ({ language, code, input }, { abortSignal }) => {
        let stdout = '';
        let stderr = '';
        const lease = await env.lease();
        const result = await lease.run(
          { language, code, input, timeoutMs: env.runTimeoutMs, egress: env.egress?.context },
          {
            signal: abortSignal,
            onEvent: (event) => {
              if (event.kind !== 'output') return;
              if (event.stream === 'stdout') stdout += event.data;
              else stderr += event.data;
              env.onOutput(event.stream, event.data);
            },
          },
        );
        const half = Math.floor(env.maxResultChars / 2);
        const out = clip(stdout, half);
        const err = clip(stderr, half);
        return {
          exitCode: result.exitCode,
          timedOut: result.timedOut,
          durationMs: result.durationMs,
          result: result.result,
          stdout: out.text,
          stderr: err.text,
          outputTruncated: result.outputTruncated || out.truncated || err.truncated,
        };
      },
    });
  }
  const egress = env.egress;
  if (egress) {
    tools.http_request = tool({
      description:
        "Make an HTTP request to an allowed host (the installation's, user's and automation's egress allowlists apply). To authenticate, name a stored secret in `secrets`: its value is added by the platform only on requests to the hosts it is bound to, and you never see it.",
      inputSchema: z
        .object({
          method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
          url: z.string().url(),
          headers: z.record(z.string(), z.string()).optional(),
          body: z.string().optional(),
          secrets: z.array(z.string().min(1).max(64)).max(10).optional(),
        })
        .strict(),
      execute: async (request, { abortSignal }) => {
        const answer = await egress.request(request, abortSignal);
        const clipped = clip(answer.body, env.maxResultChars);
        return { ...answer, body: clipped.text, truncated: answer.truncated || clipped.truncated };
      },
    });
  }
  return tools;
}
