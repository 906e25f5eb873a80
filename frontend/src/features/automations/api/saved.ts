import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  Automation,
  AutomationSummary,
  AutomationVersion,
  Schedule,
  WebhookTrigger,
} from '../../../../../backend/src/store/types.js';
import { api, type Execution, type ScriptLanguage, usePagedQuery } from '../../../lib';

/** Saved automations: list, versions, runs, schedules and webhook triggers (docs/automations.md). */

export type { Automation, AutomationSummary, AutomationVersion };
export type ScheduleView = Schedule & { nextFireTimes: string[] };
export type TriggerView = WebhookTrigger & { path: string };

const base = (id: string) => `/automations/${encodeURIComponent(id)}`;
export const automationKey = (id: string) => ['automation', id] as const;

export function useAutomationList(search: string) {
  return usePagedQuery<AutomationSummary>(['automations', search], '/automations', 25, {
    search: search || undefined,
  });
}

export function useAutomation(id: string) {
  return useQuery({ queryKey: automationKey(id), queryFn: () => api<Automation>(base(id)) });
}

export interface AutomationDraft {
  name: string;
  description?: string;
  language: ScriptLanguage;
  code: string;
  inputSchema?: Record<string, unknown> | null;
}

export function useCreateAutomation() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: AutomationDraft) => api<Automation>('/automations', { method: 'POST', body }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['automations'] }),
  });
}

export function useSaveAutomation(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: Partial<AutomationDraft> & { expectedVersion?: number }) =>
      api<Automation>(base(id), { method: 'PATCH', body }),
    onSuccess: (saved) => {
      queryClient.setQueryData(automationKey(id), saved);
      void queryClient.invalidateQueries({ queryKey: ['automations'] });
      void queryClient.invalidateQueries({ queryKey: ['automation-versions', id] });
    },
  });
}

export function useVersions(id: string) {
  return usePagedQuery<AutomationVersion>(['automation-versions', id], `${base(id)}/versions`, 50, {});
}

export function useAutomationRuns(id: string) {
  return usePagedQuery<Execution>(['automation-runs', id], `${base(id)}/runs`, 25, {});
}

export function useStartRun(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { input?: unknown; version?: number }) =>
      api<Execution>(`${base(id)}/runs`, { method: 'POST', body }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['automation-runs', id] }),
  });
}

export function useSchedules(id: string) {
  return useQuery({
    queryKey: ['automation-schedules', id],
    queryFn: () => api<{ items: ScheduleView[] }>(`${base(id)}/schedules`),
  });
}

export interface ScheduleDraft {
  cron: string;
  timeZone: string;
  input?: unknown;
  enabled: boolean;
  overlap: 'skip' | 'allow';
  catchUp: 'skip' | 'once';
}

export function useScheduleMutations(id: string) {
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['automation-schedules', id] });
  return {
    create: useMutation({
      mutationFn: (body: ScheduleDraft) =>
        api<ScheduleView>(`${base(id)}/schedules`, { method: 'POST', body }),
      onSuccess: refresh,
    }),
    remove: useMutation({
      mutationFn: (scheduleId: string) =>
        api<void>(`${base(id)}/schedules/${encodeURIComponent(scheduleId)}`, { method: 'DELETE' }),
      onSuccess: refresh,
    }),
  };
}

export function useTriggers(id: string) {
  return useQuery({
    queryKey: ['automation-webhooks', id],
    queryFn: () => api<{ items: TriggerView[] }>(`${base(id)}/webhooks`),
  });
}

export function useTriggerMutations(id: string) {
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['automation-webhooks', id] });
  const trigger = (triggerId: string) => `${base(id)}/webhooks/${encodeURIComponent(triggerId)}`;
  return {
    create: useMutation({
      mutationFn: (name: string) =>
        api<{ trigger: TriggerView; secret: string }>(`${base(id)}/webhooks`, {
          method: 'POST',
          body: { name },
        }),
      onSuccess: refresh,
    }),
    rotate: useMutation({
      mutationFn: (triggerId: string) =>
        api<{ trigger: TriggerView; secret: string }>(`${trigger(triggerId)}/rotate`, { method: 'POST' }),
      onSuccess: refresh,
    }),
    setEnabled: useMutation({
      mutationFn: ({ triggerId, enabled }: { triggerId: string; enabled: boolean }) =>
        api<TriggerView>(trigger(triggerId), { method: 'PATCH', body: { enabled } }),
      onSuccess: refresh,
    }),
  };
}
