export { Button, type ButtonProps } from './Button';
export { CopyButton } from './CopyButton';
export { Dialog, type DialogProps } from './Dialog';
export { LoadMore } from './LoadMore';
export { ProgressBar, type ProgressBarProps } from './ProgressBar';
export { EmptyState, ErrorState, InlineError, LoadingState, QueryStates, Spinner } from './States';
export { StatusBadge } from './StatusBadge';
