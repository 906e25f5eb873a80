import i18next from 'i18next';
import LanguageDetector from 'i18next-browser-languagedetector';
import { initReactI18next } from 'react-i18next';
import en from './en.json';
import zhTW from './zh-TW.json';

export const languages = [
  { code: 'en', label: 'English' },
  { code: 'zh-TW', label: '繁體中文' },
] as const;
export type LanguageCode = (typeof languages)[number]['code'];

/** Where the chosen language is remembered between visits. */
export const LANGUAGE_STORAGE_KEY = 'ipa.language';

export const catalogues = { en, 'zh-TW': zhTW } as const;

export function createI18n() {
  const instance = i18next.createInstance();
  void instance
    .use(LanguageDetector)
    .use(initReactI18next)
    .init({
      resources: { en: { translation: en }, 'zh-TW': { translation: zhTW } },
      supportedLngs: ['en', 'zh-TW'],
      // Any Chinese browser locale (zh, zh-Hant, zh-HK) reads Traditional Chinese best.
      fallbackLng: (code) => (code?.toLowerCase().startsWith('zh') ? ['zh-TW', 'en'] : ['en']),
      nonExplicitSupportedLngs: false,
      load: 'currentOnly',
      interpolation: { escapeValue: false },
      returnNull: false,
      showSupportNotice: false,
      detection: {
        order: ['localStorage', 'navigator'],
        lookupLocalStorage: LANGUAGE_STORAGE_KEY,
        caches: ['localStorage'],
        convertDetectedLanguage: (code: string) => (code.toLowerCase().startsWith('zh') ? 'zh-TW' : 'en'),
      },
    });
  instance.on('languageChanged', (code) => {
    document.documentElement.lang = code;
  });
  document.documentElement.lang = instance.resolvedLanguage ?? 'en';
  return instance;
}
