import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../../../lib';

export type SecretDelivery = { header: string; template: string } | { query: string };

export interface SecretSummary {
  name: string;
  hosts: string[];
  delivery: SecretDelivery;
  createdAt: string;
  updatedAt: string;
}

export interface SecretInput {
  name: string;
  value: string;
  hosts: string[];
  delivery: SecretDelivery;
}

export interface Allowlist {
  /** null: this level does not narrow the one above it. */
  rules: string[] | null;
  installation: string[];
}

export interface EgressRequest {
  id: string;
  host: string;
  port: number;
  method: string;
  status: number | null;
  bytesSent: number;
  bytesReceived: number;
  durationMs: number;
  outcome: 'allowed' | 'refused' | 'failed';
  reason: string | null;
  at: string;
}

export const secretsQueryKey = ['secrets'] as const;

export function useSecrets() {
  return useQuery({
    queryKey: secretsQueryKey,
    queryFn: ({ signal }) => api<{ enabled: boolean; secrets: SecretSummary[] }>('/secrets', { signal }),
  });
}

export function usePutSecret() {
  const queryClient = useQueryClient();
  return useMutation({
    // The value goes to the server once and is never read back.
    mutationFn: ({ name, ...body }: SecretInput) =>
      api<SecretSummary>(`/secrets/${encodeURIComponent(name)}`, { method: 'PUT', body }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: secretsQueryKey }),
  });
}

export function useDeleteSecret() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => api<void>(`/secrets/${encodeURIComponent(name)}`, { method: 'DELETE' }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: secretsQueryKey }),
  });
}

/** The allowlist of a user (admin) or of an automation (its owner). */
export function allowlistPath(target: { userId: string } | { automationId: string }): string {
  return 'userId' in target
    ? `/admin/users/${encodeURIComponent(target.userId)}/egress`
    : `/automations/${encodeURIComponent(target.automationId)}/egress`;
}

export function useAllowlist(path: string) {
  return useQuery({
    queryKey: ['egress-allowlist', path],
    queryFn: ({ signal }) => api<Allowlist>(path, { signal }),
  });
}

export function useSetAllowlist(path: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (rules: string[] | null) => api<Allowlist>(path, { method: 'PUT', body: { rules } }),
    onSuccess: (data) => queryClient.setQueryData(['egress-allowlist', path], data),
  });
}

export function useExecutionEgress(executionId: string) {
  return useQuery({
    queryKey: ['execution-egress', executionId],
    queryFn: ({ signal }) =>
      api<{ items: EgressRequest[] }>(`/executions/${encodeURIComponent(executionId)}/egress`, { signal }),
  });
}
