// `npm run bench` entry: prints the web app's bundle and paint figures (see bundle.ts).
import { formatTable, run } from './bundle';

console.log(formatTable(await run()));
