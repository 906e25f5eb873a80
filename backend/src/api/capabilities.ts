import {
  baseLanguages,
  type IsolationLevel,
  type ScriptLanguage,
  scriptLanguages,
} from '../lib/vocabulary.js';
import type { WorkerHeartbeat } from '../queue/types.js';

/**
 * What an execution can count on, from the live workers' heartbeats: any worker may take a job,
 * so the platform offers the weakest level among them and only the languages every one of them
 * runs. With no live worker the safe assumption is `process`.
 */
export function platformCapabilities(heartbeats: readonly WorkerHeartbeat[]): {
  isolation: IsolationLevel;
  languages: ScriptLanguage[];
  /**
   * `separate`: every live sandbox runs under a uid of its own (root workers). `shared`: all
   * sandboxes of a worker share its uid (a non-root worker, e.g. in a pod): at `process` level a
   * script can signal other users' sandboxes; at `bwrap` level the pid namespace stops it.
   */
  sandboxUids: 'separate' | 'shared';
  /** A live worker has a model provider; undefined while no live worker says (or none is up). */
  modelConfigured: boolean | undefined;
  workersKnown: boolean;
} {
  const live = heartbeats.filter((h) => !h.draining);
  const isolation: IsolationLevel =
    live.length > 0 && live.every((h) => h.isolation === 'bwrap') ? 'bwrap' : 'process';
  const languages =
    isolation === 'bwrap'
      ? scriptLanguages.filter((language) =>
          live.every((h) => (h.languages ?? baseLanguages).includes(language)),
        )
      : baseLanguages;
  const sandboxUids = live.length > 0 && live.every((h) => h.separateUids === true) ? 'separate' : 'shared';
  const reported = live.filter((h) => h.modelConfigured !== undefined);
  const modelConfigured = reported.length > 0 ? reported.some((h) => h.modelConfigured === true) : undefined;
  return {
    isolation,
    languages: [...languages],
    sandboxUids,
    modelConfigured,
    workersKnown: live.length > 0,
  };
}
