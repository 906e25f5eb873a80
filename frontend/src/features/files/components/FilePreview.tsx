import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { ErrorState, LoadingState } from '../../../components/ui';
import { fileUrl, readFileText } from '../api/files';
import { parseCsv } from './csv';

export type PreviewKind = 'image' | 'csv' | 'json' | 'text' | null;

const textExtensions = new Set([
  'txt',
  'md',
  'log',
  'js',
  'mjs',
  'cjs',
  'ts',
  'py',
  'sh',
  'html',
  'css',
  'xml',
  'yaml',
  'yml',
  'toml',
  'ini',
  'tsv',
]);
const imageExtensions = new Set(['png', 'jpg', 'jpeg', 'gif', 'webp', 'svg', 'avif']);

export function previewKind(path: string): PreviewKind {
  const extension = path.split('.').pop()?.toLowerCase() ?? '';
  if (imageExtensions.has(extension)) return 'image';
  if (extension === 'csv') return 'csv';
  if (extension === 'json') return 'json';
  if (textExtensions.has(extension)) return 'text';
  return null;
}

export function FilePreview({ path }: { path: string }) {
  const { t } = useTranslation();
  const kind = previewKind(path);
  const content = useQuery({
    queryKey: ['files', 'preview', path],
    queryFn: () => readFileText(path),
    enabled: kind !== null && kind !== 'image',
    staleTime: 0,
  });
  if (kind === null) return <p className="muted">{t('files.noPreview')}</p>;
  if (kind === 'image') return <img className="preview-image" src={fileUrl(path)} alt={path} />;
  if (content.isPending) return <LoadingState />;
  if (content.isError) return <ErrorState error={content.error} onRetry={() => void content.refetch()} />;
  const { text, truncated } = content.data;
  let body = <pre className="code-block preview-text">{text}</pre>;
  if (kind === 'json' && !truncated) {
    try {
      body = <pre className="code-block preview-text">{JSON.stringify(JSON.parse(text), null, 2)}</pre>;
    } catch {
      // Not valid JSON: show it as it is.
    }
  }
  if (kind === 'csv') {
    const rows = parseCsv(text);
    const [head, ...rest] = rows;
    body = (
      <div className="table-wrap preview-table">
        <table className="table">
          {head ? (
            <thead>
              <tr>
                {head.map((cell, index) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: columns are positional
                  <th key={index} scope="col">
                    {cell}
                  </th>
                ))}
              </tr>
            </thead>
          ) : null}
          <tbody>
            {rest.map((row, rowIndex) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional
              <tr key={rowIndex}>
                {row.map((cell, index) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: columns are positional
                  <td key={index}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  }
  return (
    <>
      {body}
      {truncated ? <p className="muted">{t('files.truncated')}</p> : null}
    </>
  );
}
