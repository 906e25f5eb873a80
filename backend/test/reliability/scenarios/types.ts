export interface ScenarioContext {
  /** The shortened version run by CI (a few minutes for all scenarios). */
  short: boolean;
  /** Base URL of the fake model server (Anthropic Messages API). */
  modelUrl: string;
}

export interface ScenarioResult {
  name: string;
  passed: boolean;
  figures: Record<string, number | string>;
  /** The first problems found, for the report. */
  problems: string[];
}
