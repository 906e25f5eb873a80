import { useTranslation } from 'react-i18next';

/**
 * What sandboxes share on this platform: one uid for all (a non-root worker) lets a script at
 * `process` level signal other users' sandboxes; `bwrap`'s pid namespace stops that.
 */
export function SandboxUidsNote({
  isolation,
  sandboxUids,
}: {
  isolation: string | undefined;
  sandboxUids: 'separate' | 'shared' | undefined;
}) {
  const { t } = useTranslation();
  if (!sandboxUids) return null;
  const key =
    sandboxUids === 'separate'
      ? 'automations.uids.separate'
      : isolation === 'bwrap'
        ? 'automations.uids.sharedBwrap'
        : 'automations.uids.sharedProcess';
  return (
    <p className="muted" data-testid="sandbox-uids">
      {t(key)}
    </p>
  );
}
