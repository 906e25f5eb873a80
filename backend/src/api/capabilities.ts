import type { WorkerHeartbeat } from '../queue/types.js';
import type { ScriptLanguage } from '../store/types.js';

export type IsolationLevel = 'bwrap' | 'process';

const languagesAt: Record<IsolationLevel, ScriptLanguage[]> = {
  bwrap: ['javascript', 'typescript', 'shell', 'python'],
  // Shell and Python are offered only inside namespaces (DESIGN.md §4).
  process: ['javascript', 'typescript'],
};

/**
 * What an execution can count on, from the live workers' heartbeats: any worker may take a job,
 * so the platform offers the weakest level among them. With no live worker the safe assumption
 * is `process`.
 */
export function platformCapabilities(heartbeats: readonly WorkerHeartbeat[]): {
  isolation: IsolationLevel;
  languages: ScriptLanguage[];
  workersKnown: boolean;
} {
  const live = heartbeats.filter((h) => !h.draining);
  const isolation: IsolationLevel =
    live.length > 0 && live.every((h) => h.isolation === 'bwrap') ? 'bwrap' : 'process';
  return { isolation, languages: [...languagesAt[isolation]], workersKnown: live.length > 0 };
}
