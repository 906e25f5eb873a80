import { type FormEvent, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { PreferenceControls } from '../../../app/PreferenceControls';
import { Button } from '../../../components/ui';
import { ApiError } from '../../../lib';
import { useSignIn } from '../api/auth';

// User tokens are `ipa_` and 43 characters, but an operator's IPA_ADMIN_TOKEN may be any string of
// at least 24 characters: the form only refuses what no token can be.
const TOKEN_PATTERN = /^\S{24,}$/;

export function SignInPage() {
  const { t } = useTranslation();
  const signIn = useSignIn();
  const [token, setToken] = useState('');
  const [formatError, setFormatError] = useState(false);
  const tokenId = useId();
  const hintId = useId();
  const errorId = useId();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = token.trim();
    if (!TOKEN_PATTERN.test(value)) {
      setFormatError(true);
      return;
    }
    setFormatError(false);
    signIn.mutate(value);
  };

  let error: string | null = null;
  if (formatError) error = t('auth.tokenFormat');
  else if (signIn.error instanceof ApiError && signIn.error.status === 401) error = t('auth.tokenRejected');
  else if (signIn.error instanceof ApiError && signIn.error.status === 429) error = t('auth.rateLimited');
  else if (signIn.error) error = t('auth.signInFailed');

  return (
    <main className="signin">
      <div className="signin-prefs">
        <PreferenceControls />
      </div>
      <form className="card signin-card" onSubmit={submit} noValidate>
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          <span>{t('app.name')}</span>
        </div>
        <h1 className="signin-title">{t('auth.title')}</h1>
        <p className="muted">{t('auth.intro')}</p>
        <label htmlFor={tokenId} className="field-label">
          {t('auth.tokenLabel')}
        </label>
        <input
          id={tokenId}
          className="input mono"
          type="password"
          autoComplete="current-password"
          spellCheck={false}
          value={token}
          onChange={(event) => setToken(event.target.value)}
          placeholder="ipa_…"
          aria-describedby={error ? `${hintId} ${errorId}` : hintId}
          aria-invalid={error ? true : undefined}
          required
        />
        <p id={hintId} className="field-hint">
          {t('auth.tokenHint')}
        </p>
        {error ? (
          <p id={errorId} className="inline-error" role="alert">
            {error}
          </p>
        ) : null}
        <Button type="submit" variant="primary" busy={signIn.isPending} className="btn-block">
          {t('auth.signIn')}
        </Button>
      </form>
    </main>
  );
}
