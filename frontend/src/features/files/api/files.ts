import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { userFolders } from '../../../../../backend/src/lib/vocabulary.js';
import { API_BASE, ApiError, api, apiFetch, type StoredFile } from '../../../lib';
import { meQueryKey } from '../../auth';

export const filesQueryKey = ['files'] as const;
/** The backend's three user folders (a type-only check keeps this copy equal to its list). */
export const fileRoots: typeof userFolders = ['uploads', 'workspace', 'outputs'];

export interface FileListing {
  items: StoredFile[];
  usedBytes: number;
  limitBytes: number;
  /** Largest single upload the server accepts. */
  maxUploadBytes?: number;
}

/** URL of a stored file; each path segment is escaped, the slashes are kept. */
export function fileUrl(path: string): string {
  return `${API_BASE}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export function useFiles() {
  // Scripts and agent turns change files behind the page's back: always re-read on opening the view.
  return useQuery({
    queryKey: filesQueryKey,
    queryFn: ({ signal }) => api<FileListing>('/files', { signal }),
    staleTime: 0,
    refetchOnMount: 'always',
  });
}

export function useDeleteFile() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (path: string) =>
      apiFetch(`/files/${path.split('/').map(encodeURIComponent).join('/')}`, { method: 'DELETE' }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: meQueryKey });
      return queryClient.invalidateQueries({ queryKey: filesQueryKey });
    },
  });
}

/**
 * Resets the user's sandbox directory on every worker (each discards its copy and stops the
 * user's sandbox process before the next run); the stored files are kept.
 */
export function useResetSandbox() {
  return useMutation({
    mutationFn: () => api<{ generation: number }>('/me/sandbox/reset', { method: 'POST', body: {} }),
  });
}

/**
 * Multipart upload with progress. `fetch` cannot report upload progress, so this one request
 * goes through XMLHttpRequest; its errors keep the API's error shape.
 */
export function uploadFiles(
  files: File[],
  dir: string,
  onProgress: (loaded: number, total: number) => void,
  signal?: AbortSignal,
): Promise<StoredFile[]> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('dir', dir);
    for (const file of files) form.append('file', file, file.name);
    const request = new XMLHttpRequest();
    request.open('POST', `${API_BASE}/files`);
    request.responseType = 'text';
    request.setRequestHeader('accept', 'application/json');
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    request.onload = () => {
      let body: { items?: StoredFile[]; error?: { code?: string; message?: string; details?: unknown } } = {};
      try {
        body = JSON.parse(request.responseText || '{}');
      } catch {
        body = {};
      }
      if (request.status >= 200 && request.status < 300) resolve(body.items ?? []);
      else
        reject(
          new ApiError(
            request.status,
            body.error?.code ?? `http_${request.status}`,
            body.error?.message ?? request.statusText,
            body.error?.details,
          ),
        );
    };
    request.onerror = () => reject(new ApiError(0, 'network_error', 'The server could not be reached.'));
    request.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'));
    signal?.addEventListener('abort', () => request.abort(), { once: true });
    request.send(form);
  });
}

export function useUploadFiles() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({
      files,
      dir,
      onProgress,
    }: {
      files: File[];
      dir: string;
      onProgress: (loaded: number, total: number) => void;
    }) => uploadFiles(files, dir, onProgress),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: meQueryKey });
      return queryClient.invalidateQueries({ queryKey: filesQueryKey });
    },
  });
}

/** The first `limit` bytes of a file as text, for the preview. */
export async function readFileText(
  path: string,
  limit = 256 * 1024,
): Promise<{ text: string; truncated: boolean }> {
  const response = await apiFetch(`/files/${path.split('/').map(encodeURIComponent).join('/')}`);
  const buffer = await response.arrayBuffer();
  const truncated = buffer.byteLength > limit;
  const text = new TextDecoder().decode(truncated ? buffer.slice(0, limit) : buffer);
  return { text, truncated };
}
