export interface ProgressBarProps {
  value: number;
  max: number;
  label: string;
  /** Text shown beside the bar, e.g. "3 MB of 100 MB". */
  valueText?: string;
  tone?: 'normal' | 'warning' | 'danger';
}

export function ProgressBar({ value, max, label, valueText, tone }: ProgressBarProps) {
  const ratio = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  const resolvedTone = tone ?? (ratio > 0.9 ? 'danger' : ratio > 0.75 ? 'warning' : 'normal');
  return (
    <div className="progress">
      <div className="progress-head">
        <span>{label}</span>
        {valueText ? <span className="muted">{valueText}</span> : null}
      </div>
      <div
        className={`progress-track tone-${resolvedTone}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={max}
        aria-valuenow={value}
        aria-valuetext={valueText}
      >
        <div className="progress-fill" style={{ width: `${(ratio * 100).toFixed(1)}%` }} />
      </div>
    </div>
  );
}
