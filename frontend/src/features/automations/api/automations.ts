import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, type Execution, type ExecutionStatus, type ScriptLanguage, usePagedQuery } from '../../../lib';

export interface RunFilters {
  status?: ExecutionStatus | '';
  kind?: 'script' | 'agent' | '';
}

/** Every list of executions (runs), whatever its filters. */
export const executionsQueryKey = ['executions'] as const;
export const runsQueryKey = (filters: RunFilters) => [...executionsQueryKey, filters] as const;

export function useRuns(filters: RunFilters) {
  return usePagedQuery<Execution>(runsQueryKey(filters), '/executions', 25, {
    status: filters.status,
    kind: filters.kind,
  });
}

export function useRunScript() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { language: ScriptLanguage; code: string; input?: unknown }) =>
      api<Execution>('/executions', { method: 'POST', body }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: executionsQueryKey }),
  });
}

export function useCancelRun() {
  return useMutation({
    mutationFn: (id: string) =>
      api<Execution>(`/executions/${encodeURIComponent(id)}/cancel`, { method: 'POST' }),
  });
}

/** Which languages the platform offers: shell and Python only under bwrap isolation. */
export function availableLanguages(
  platform: { isolation: string; languages?: ScriptLanguage[] } | undefined,
) {
  const base: ScriptLanguage[] = ['javascript', 'typescript'];
  const reported = platform?.languages?.length ? platform.languages : base;
  return reported.filter(
    (language) => language === 'javascript' || language === 'typescript' || platform?.isolation === 'bwrap',
  );
}
