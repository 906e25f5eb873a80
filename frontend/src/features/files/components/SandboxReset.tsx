import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, Dialog, InlineError } from '../../../components/ui';
import { useResetSandbox } from '../api/files';

/**
 * The way out when a user's sandbox folder no longer syncs (a tree too deep, too many files):
 * the local copies on the workers are discarded, the stored files stay.
 */
export function SandboxReset() {
  const { t } = useTranslation();
  const reset = useResetSandbox();
  const [confirming, setConfirming] = useState(false);

  return (
    <section className="card" aria-labelledby="sandbox-reset-heading">
      <div className="panel-head">
        <h2 id="sandbox-reset-heading" className="panel-title">
          {t('files.resetTitle')}
        </h2>
        <Button size="sm" variant="danger" onClick={() => setConfirming(true)}>
          {t('files.resetButton')}
        </Button>
      </div>
      <p className="muted">{t('files.resetHint')}</p>
      {reset.isSuccess ? <p role="status">{t('files.resetDone')}</p> : null}
      <Dialog
        open={confirming}
        title={t('files.resetConfirmTitle')}
        onClose={() => setConfirming(false)}
        footer={
          <>
            <Button onClick={() => setConfirming(false)}>{t('common.cancel')}</Button>
            <Button
              variant="danger"
              busy={reset.isPending}
              onClick={() => reset.mutate(undefined, { onSuccess: () => setConfirming(false) })}
            >
              {t('files.resetConfirm')}
            </Button>
          </>
        }
      >
        <p>{t('files.resetConfirmBody')}</p>
        <InlineError error={reset.error} />
      </Dialog>
    </section>
  );
}
