import { useId } from 'react';
import { useTranslation } from 'react-i18next';

/**
 * An input form generated from an automation's JSON Schema: one field per top-level property of
 * an object schema (string, number, integer, boolean, enum); anything else is edited as JSON.
 */
interface Property {
  type?: string;
  title?: string;
  description?: string;
  enum?: unknown[];
  default?: unknown;
}

export function formFields(schema: Record<string, unknown> | null): [string, Property][] | null {
  if (schema?.type !== 'object' || typeof schema.properties !== 'object' || !schema.properties) return null;
  const entries = Object.entries(schema.properties as Record<string, Property>);
  const simple = entries.every(
    ([, p]) => Array.isArray(p.enum) || ['string', 'number', 'integer', 'boolean'].includes(String(p.type)),
  );
  return simple ? entries : null;
}

export function SchemaForm({
  schema,
  value,
  onChange,
}: {
  schema: Record<string, unknown> | null;
  value: Record<string, unknown>;
  onChange: (value: Record<string, unknown>) => void;
}) {
  const { t } = useTranslation();
  const baseId = useId();
  const fields = formFields(schema);
  if (!fields) return null;
  const required = new Set(Array.isArray(schema?.required) ? (schema.required as string[]) : []);
  const set = (name: string, next: unknown) => {
    const copy = { ...value };
    if (next === undefined) delete copy[name];
    else copy[name] = next;
    onChange(copy);
  };
  return (
    <fieldset className="schema-form">
      <legend>{t('automations.saved.inputForm')}</legend>
      {fields.map(([name, property]) => {
        const id = `${baseId}-${name}`;
        const label = `${property.title ?? name}${required.has(name) ? ' *' : ''}`;
        const current = value[name];
        let control: React.ReactNode;
        if (Array.isArray(property.enum)) {
          control = (
            <select
              id={id}
              value={current === undefined ? '' : String(current)}
              onChange={(e) => set(name, e.target.value || undefined)}
            >
              <option value="">—</option>
              {property.enum.map((option) => (
                <option key={String(option)} value={String(option)}>
                  {String(option)}
                </option>
              ))}
            </select>
          );
        } else if (property.type === 'boolean') {
          control = (
            <input
              id={id}
              type="checkbox"
              checked={current === true}
              onChange={(e) => set(name, e.target.checked)}
            />
          );
        } else if (property.type === 'number' || property.type === 'integer') {
          control = (
            <input
              id={id}
              type="number"
              step={property.type === 'integer' ? 1 : 'any'}
              placeholder={property.default === undefined ? '' : String(property.default)}
              value={typeof current === 'number' ? current : ''}
              onChange={(e) => set(name, e.target.value === '' ? undefined : Number(e.target.value))}
            />
          );
        } else {
          control = (
            <input
              id={id}
              type="text"
              placeholder={property.default === undefined ? '' : String(property.default)}
              value={typeof current === 'string' ? current : ''}
              onChange={(e) => set(name, e.target.value === '' ? undefined : e.target.value)}
            />
          );
        }
        return (
          <div className="field" key={name}>
            <label htmlFor={id}>{label}</label>
            {control}
            {property.description ? <small className="muted">{property.description}</small> : null}
          </div>
        );
      })}
    </fieldset>
  );
}
