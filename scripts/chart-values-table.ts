/**
 * Regenerates the values table of helm/ipa-platform/README.md from the `# --` comments of
 * values.yaml (no network): `npx tsx scripts/chart-values-table.ts`. The chart tests fail when the
 * README's table differs from what this writes.
 */
import { writeReadmeTable } from '../helm/test/support/values-doc.js';

writeReadmeTable();
console.log('updated helm/ipa-platform/README.md');
