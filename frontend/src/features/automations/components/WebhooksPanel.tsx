import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, CopyButton, InlineError, QueryStates } from '../../../components/ui';
import { type Automation, useTriggerMutations, useTriggers } from '../api/saved';

/** A curl command that signs a delivery the way the platform checks it (docs/automations.md). */
export function curlExample(url: string, secret = '$SECRET'): string {
  return [
    `body='{"name":"world"}'; t=$(date +%s)`,
    `sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "${secret}" -hex | sed 's/^.* //')`,
    `curl -X POST '${url}?wait=10' -H 'content-type: application/json' -H "x-ipa-signature: t=$t,v1=$sig" -d "$body"`,
  ].join('\n');
}

/** Webhook triggers: URL to copy, a curl example, the secret shown once, rotation, enable/disable. */
export function WebhooksPanel({ automation }: { automation: Automation }) {
  const { t } = useTranslation();
  const triggers = useTriggers(automation.id);
  const { create, rotate, setEnabled } = useTriggerMutations(automation.id);
  const [revealed, setRevealed] = useState<{ triggerId: string; secret: string } | null>(null);
  const items = triggers.data?.items ?? [];
  const urlOf = (path: string) => `${window.location.origin}${path}`;
  return (
    <section className="card" aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading" className="panel-title">
        {t('automations.saved.webhooks')}
      </h2>
      <Button
        variant="primary"
        busy={create.isPending}
        onClick={() =>
          create.mutate('webhook', {
            onSuccess: (made) => setRevealed({ triggerId: made.trigger.id, secret: made.secret }),
          })
        }
      >
        {t('automations.saved.addWebhook')}
      </Button>
      <InlineError error={create.error ?? rotate.error} />
      <QueryStates
        query={triggers}
        isEmpty={items.length === 0}
        empty={<p className="muted">{t('automations.saved.noWebhooks')}</p>}
      >
        <ul className="plain-list">
          {items.map((trigger) => (
            <li key={trigger.id} className="webhook-item">
              <div className="row wrap">
                <code className="mono break-all">{urlOf(trigger.path)}</code>
                <CopyButton text={urlOf(trigger.path)} label={t('automations.saved.copyUrl')} />
              </div>
              {revealed?.triggerId === trigger.id ? (
                <div className="secret-once" role="status">
                  <p>{t('automations.saved.secretOnce')}</p>
                  <code className="mono break-all" data-testid="webhook-secret">
                    {revealed.secret}
                  </code>
                  <CopyButton text={revealed.secret} label={t('automations.saved.copySecret')} />
                </div>
              ) : null}
              <pre className="code-block break-all" data-testid="curl-example">
                {curlExample(urlOf(trigger.path))}
              </pre>
              <div className="row wrap">
                <label className="row">
                  <input
                    type="checkbox"
                    checked={trigger.enabled}
                    onChange={(e) => setEnabled.mutate({ triggerId: trigger.id, enabled: e.target.checked })}
                  />
                  {t('automations.saved.enabled')}
                </label>
                <Button
                  size="sm"
                  busy={rotate.isPending}
                  onClick={() =>
                    rotate.mutate(trigger.id, {
                      onSuccess: (r) => setRevealed({ triggerId: trigger.id, secret: r.secret }),
                    })
                  }
                >
                  {t('automations.saved.rotate')}
                </Button>
              </div>
            </li>
          ))}
        </ul>
      </QueryStates>
    </section>
  );
}
