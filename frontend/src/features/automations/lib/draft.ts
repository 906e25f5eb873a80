import type { ScriptLanguage } from '../../../lib';

/** The unsaved edit of an automation, kept in localStorage so it survives navigation and reloads. */
export interface Draft {
  name: string;
  language: ScriptLanguage;
  code: string;
  inputSchemaText: string;
  /** The version the edit started from. */
  baseVersion: number;
}

const key = (id: string) => `ipa.automation-draft.${id}`;

export function loadDraft(id: string): Draft | null {
  try {
    const raw = localStorage.getItem(key(id));
    return raw ? (JSON.parse(raw) as Draft) : null;
  } catch {
    return null;
  }
}

export function saveDraft(id: string, draft: Draft): void {
  try {
    localStorage.setItem(key(id), JSON.stringify(draft));
  } catch {
    // Storage full or blocked: the draft lives only as long as the page.
  }
}

export function clearDraft(id: string): void {
  try {
    localStorage.removeItem(key(id));
  } catch {
    // Nothing to clear.
  }
}
