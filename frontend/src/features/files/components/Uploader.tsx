import { type DragEvent, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, Dialog, InlineError, ProgressBar } from '../../../components/ui';
import { useFormat } from '../../../lib';
import { type FileListing, useUploadFiles } from '../api/files';

/** `name (1).ext`, `name (2).ext`, …: the first name not taken in `taken`. */
export function freeName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 1; ; n++) {
    const candidate = `${stem} (${n})${ext}`;
    if (!taken.has(candidate)) return candidate;
  }
}

interface Pending {
  files: File[];
  clashes: string[];
}

/**
 * Upload with what the server will say checked first: the size limit and the quota (nothing is
 * sent that would be refused), and a same-name file (replace it, or keep both under a new name).
 */
export function Uploader({ listing }: { listing: FileListing | undefined }) {
  const { t } = useTranslation();
  const format = useFormat();
  const upload = useUploadFiles();
  const [dir, setDir] = useState('uploads');
  const [progress, setProgress] = useState<{ loaded: number; total: number } | null>(null);
  const [dragging, setDragging] = useState(false);
  const [lastCount, setLastCount] = useState(0);
  const [refused, setRefused] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const picker = useRef<HTMLInputElement>(null);
  const dirId = useId();
  const pickerId = useId();
  const maxUpload = listing?.maxUploadBytes;

  const start = (files: File[]) => {
    setProgress({ loaded: 0, total: files.reduce((sum, file) => sum + file.size, 0) });
    upload.mutate(
      { files, dir, onProgress: (loaded, total) => setProgress({ loaded, total }) },
      {
        onSuccess: (items) => setLastCount(items.length),
        onSettled: () => {
          setProgress(null);
          if (picker.current) picker.current.value = '';
        },
      },
    );
  };

  const send = (list: FileList | null) => {
    const files = list ? Array.from(list) : [];
    if (files.length === 0) return;
    upload.reset();
    setRefused(null);
    const total = files.reduce((sum, file) => sum + file.size, 0);
    const tooBig = maxUpload === undefined ? undefined : files.find((file) => file.size > maxUpload);
    if (tooBig && maxUpload !== undefined) {
      setRefused(t('files.tooLarge', { name: tooBig.name, limit: format.bytes(maxUpload) }));
      return;
    }
    if (maxUpload !== undefined && total > maxUpload) {
      setRefused(t('files.tooLargeTogether', { limit: format.bytes(maxUpload) }));
      return;
    }
    if (listing && listing.usedBytes + total > listing.limitBytes) {
      setRefused(
        t('files.overQuota', {
          free: format.bytes(Math.max(0, listing.limitBytes - listing.usedBytes)),
          size: format.bytes(total),
        }),
      );
      return;
    }
    const existing = new Set((listing?.items ?? []).map((file) => file.path));
    const clashes = files.map((file) => file.name).filter((name) => existing.has(`${dir}/${name}`));
    if (clashes.length > 0) setPending({ files, clashes });
    else start(files);
  };

  const keepBoth = (files: File[]) => {
    const taken = new Set(
      (listing?.items ?? [])
        .filter((file) => file.path.startsWith(`${dir}/`))
        .map((file) => file.path.slice(dir.length + 1)),
    );
    return files.map((file) => {
      const name = freeName(file.name, taken);
      taken.add(name);
      return name === file.name ? file : new File([file], name, { type: file.type });
    });
  };

  const sent = progress !== null && progress.total > 0 && progress.loaded >= progress.total;
  return (
    <section className="card" aria-labelledby="upload-heading">
      <div className="panel-head wrap">
        <h2 id="upload-heading" className="panel-title">
          {t('files.upload')}
        </h2>
        <div className="row">
          <label htmlFor={dirId} className="field-label inline">
            {t('files.folder')}
          </label>
          <select
            id={dirId}
            className="select select-sm"
            value={dir}
            onChange={(event) => setDir(event.target.value)}
          >
            <option value="uploads">uploads/</option>
            <option value="workspace">workspace/</option>
          </select>
        </div>
      </div>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: the drop zone is a pointer shortcut; the file picker inside is the accessible way */}
      <div
        className={dragging ? 'dropzone dragging' : 'dropzone'}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(event: DragEvent) => {
          event.preventDefault();
          setDragging(false);
          send(event.dataTransfer.files);
        }}
        data-testid="dropzone"
      >
        <p>{t('files.dropHere')}</p>
        {maxUpload !== undefined ? (
          <p className="muted">{t('files.limitHint', { limit: format.bytes(maxUpload) })}</p>
        ) : null}
        <input
          ref={picker}
          id={pickerId}
          type="file"
          multiple
          className="sr-only"
          onChange={(event) => send(event.target.files)}
          disabled={upload.isPending}
        />
        <label htmlFor={pickerId} className="btn btn-secondary">
          {t('files.choose')}
        </label>
      </div>
      {progress ? (
        <ProgressBar
          value={progress.loaded}
          max={Math.max(progress.total, 1)}
          label={sent ? t('files.processing') : t('files.uploading')}
          valueText={
            sent
              ? t('files.processingHint')
              : `${format.bytes(progress.loaded)} / ${format.bytes(progress.total)}`
          }
          tone="normal"
        />
      ) : null}
      {upload.isSuccess && !progress ? (
        <p className="muted" role="status">
          {t('files.uploaded', { count: lastCount })}
        </p>
      ) : null}
      {refused ? (
        <p className="inline-error" role="alert">
          {refused}
        </p>
      ) : null}
      <InlineError error={upload.error} />
      <Dialog
        open={pending !== null}
        title={t('files.clashTitle', { count: pending?.clashes.length ?? 0 })}
        onClose={() => setPending(null)}
        footer={
          <>
            <Button onClick={() => setPending(null)}>{t('common.cancel')}</Button>
            <Button
              onClick={() => {
                if (pending) start(keepBoth(pending.files));
                setPending(null);
              }}
            >
              {t('files.keepBoth')}
            </Button>
            <Button
              variant="danger"
              onClick={() => {
                if (pending) start(pending.files);
                setPending(null);
              }}
            >
              {t('files.replace')}
            </Button>
          </>
        }
      >
        <p>{t('files.clashBody', { names: pending?.clashes.join(', ') ?? '', dir })}</p>
      </Dialog>
    </section>
  );
}
