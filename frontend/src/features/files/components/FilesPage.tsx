import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  Button,
  Dialog,
  EmptyState,
  ErrorState,
  InlineError,
  LoadingState,
  ProgressBar,
} from '../../../components/ui';
import { type StoredFile, useFormat } from '../../../lib';
import { fileRoots, fileUrl, useDeleteFile, useFiles } from '../api/files';
import { FilePreview } from './FilePreview';
import { SandboxReset } from './SandboxReset';
import { Uploader } from './Uploader';

interface TreeNode {
  name: string;
  path: string;
  file?: StoredFile;
  children: Map<string, TreeNode>;
}

function buildTree(files: StoredFile[]): TreeNode {
  const root: TreeNode = { name: '', path: '', children: new Map() };
  for (const file of files) {
    let node = root;
    const parts = file.path.split('/');
    parts.forEach((part, index) => {
      const path = parts.slice(0, index + 1).join('/');
      let child = node.children.get(part);
      if (!child) {
        child = { name: part, path, children: new Map() };
        node.children.set(part, child);
      }
      if (index === parts.length - 1) child.file = file;
      node = child;
    });
  }
  return root;
}

function FileRow({
  file,
  name,
  onPreview,
  onDelete,
}: {
  file: StoredFile;
  name: string;
  onPreview: () => void;
  onDelete: () => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  return (
    <li className="file-row">
      <button
        type="button"
        className="link-btn file-name"
        onClick={onPreview}
        aria-label={t('files.previewNamed', { name: file.path })}
      >
        {name}
      </button>
      <span className="muted file-size">{format.bytes(file.size)}</span>
      <span className="muted file-time">{format.dateTime(file.updatedAt)}</span>
      <span className="file-actions">
        <a
          className="btn btn-ghost btn-sm"
          href={fileUrl(file.path)}
          download={name}
          aria-label={t('files.downloadNamed', { name: file.path })}
        >
          {t('files.download')}
        </a>
        <Button
          size="sm"
          variant="ghost"
          onClick={onDelete}
          aria-label={t('files.deleteNamed', { name: file.path })}
        >
          {t('common.delete')}
        </Button>
      </span>
    </li>
  );
}

function TreeLevel({
  node,
  onPreview,
  onDelete,
}: {
  node: TreeNode;
  onPreview: (file: StoredFile) => void;
  onDelete: (file: StoredFile) => void;
}) {
  const entries = [...node.children.values()].sort((a, b) =>
    a.file && !b.file ? 1 : !a.file && b.file ? -1 : a.name.localeCompare(b.name),
  );
  return (
    <ul className="tree">
      {entries.map((child) =>
        child.file ? (
          <FileRow
            key={child.path}
            file={child.file}
            name={child.name}
            onPreview={() => onPreview(child.file as StoredFile)}
            onDelete={() => onDelete(child.file as StoredFile)}
          />
        ) : (
          <li key={child.path} className="tree-dir">
            <details open>
              <summary className="mono">{child.name}/</summary>
              <TreeLevel node={child} onPreview={onPreview} onDelete={onDelete} />
            </details>
          </li>
        ),
      )}
    </ul>
  );
}

export function FilesPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const files = useFiles();
  const remove = useDeleteFile();
  const [preview, setPreview] = useState<StoredFile | null>(null);
  const [deleting, setDeleting] = useState<StoredFile | null>(null);
  const tree = buildTree(files.data?.items ?? []);

  return (
    <div className="page">
      <div className="page-head">
        <h1 className="page-title">{t('files.title')}</h1>
      </div>
      {files.data ? (
        <div className="card">
          <ProgressBar
            value={files.data.usedBytes}
            max={files.data.limitBytes}
            label={t('files.quota')}
            valueText={t('files.quotaText', {
              used: format.bytes(files.data.usedBytes),
              limit: format.bytes(files.data.limitBytes),
            })}
          />
        </div>
      ) : null}
      <Uploader listing={files.data} />
      <section className="card" aria-labelledby="tree-heading">
        <div className="panel-head">
          <h2 id="tree-heading" className="panel-title">
            {t('files.tree')}
          </h2>
          <Button size="sm" variant="ghost" onClick={() => void files.refetch()}>
            {t('common.refresh')}
          </Button>
        </div>
        {files.isPending ? (
          <LoadingState />
        ) : files.isError ? (
          <ErrorState error={files.error} onRetry={() => void files.refetch()} />
        ) : (
          <div className="roots">
            {fileRoots.map((root) => {
              const node = tree.children.get(root);
              return (
                <div key={root} className="root">
                  <h3 className="root-title mono">{root}/</h3>
                  {node && node.children.size > 0 ? (
                    <TreeLevel node={node} onPreview={setPreview} onDelete={setDeleting} />
                  ) : (
                    <p className="muted root-empty">{t('files.emptyFolder')}</p>
                  )}
                </div>
              );
            })}
            {files.data.items.length === 0 ? (
              <EmptyState title={t('files.emptyTitle')}>{t('files.emptyBody')}</EmptyState>
            ) : null}
          </div>
        )}
      </section>
      <SandboxReset />
      <Dialog
        open={preview !== null}
        title={preview?.path ?? ''}
        onClose={() => setPreview(null)}
        footer={
          <>
            {preview ? (
              <a
                className="btn btn-secondary"
                href={fileUrl(preview.path)}
                download={preview.path.split('/').pop()}
              >
                {t('files.download')}
              </a>
            ) : null}
            <Button variant="primary" onClick={() => setPreview(null)}>
              {t('common.close')}
            </Button>
          </>
        }
      >
        {preview ? <FilePreview key={`${preview.path}:${preview.sha256}`} path={preview.path} /> : null}
      </Dialog>
      <Dialog
        open={deleting !== null}
        title={t('files.deleteTitle')}
        onClose={() => setDeleting(null)}
        footer={
          <>
            <Button onClick={() => setDeleting(null)}>{t('common.cancel')}</Button>
            <Button
              variant="danger"
              busy={remove.isPending}
              onClick={() => deleting && remove.mutate(deleting.path, { onSuccess: () => setDeleting(null) })}
            >
              {t('common.delete')}
            </Button>
          </>
        }
      >
        <p>{t('files.deleteBody', { name: deleting?.path ?? '' })}</p>
        <InlineError error={remove.error} />
      </Dialog>
    </div>
  );
}
