import { useTranslation } from 'react-i18next';
import { Button } from './Button';

/** The "Load more" button under a paged list; nothing once the last page is in. */
export function LoadMore({
  pages,
}: {
  pages: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => Promise<unknown> };
}) {
  const { t } = useTranslation();
  if (!pages.hasNextPage) return null;
  return (
    <Button
      size="sm"
      variant="ghost"
      busy={pages.isFetchingNextPage}
      onClick={() => void pages.fetchNextPage()}
    >
      {t('common.loadMore')}
    </Button>
  );
}
