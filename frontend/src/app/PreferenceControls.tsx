import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { languages } from '../i18n';
import { type ThemeChoice, useTheme } from '../lib';

/** Language and theme pickers; both choices are remembered in localStorage. */
export function PreferenceControls() {
  const { t, i18n } = useTranslation();
  const [theme, setTheme] = useTheme();
  const languageId = useId();
  const themeId = useId();
  return (
    <div className="prefs">
      <label htmlFor={languageId} className="sr-only">
        {t('prefs.language')}
      </label>
      <select
        id={languageId}
        className="select select-sm"
        value={i18n.resolvedLanguage ?? 'en'}
        onChange={(event) => void i18n.changeLanguage(event.target.value)}
      >
        {languages.map((language) => (
          <option key={language.code} value={language.code} lang={language.code}>
            {language.label}
          </option>
        ))}
      </select>
      <label htmlFor={themeId} className="sr-only">
        {t('prefs.theme')}
      </label>
      <select
        id={themeId}
        className="select select-sm"
        value={theme}
        onChange={(event) => setTheme(event.target.value as ThemeChoice)}
      >
        <option value="system">{t('prefs.themeSystem')}</option>
        <option value="light">{t('prefs.themeLight')}</option>
        <option value="dark">{t('prefs.themeDark')}</option>
      </select>
    </div>
  );
}
