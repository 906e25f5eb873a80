import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

const compressible = /\.(js|mjs|css|html|svg|json|txt|map)$/;

/**
 * Writes `.br` and `.gz` beside every text file of the build (over 1 KiB, and only when smaller),
 * so the standalone server sends them as they are instead of compressing on each request.
 */
export function precompress(outDir: string): Plugin {
  return {
    name: 'ipa-precompress',
    apply: 'build',
    closeBundle() {
      const walk = (dir: string) => {
        for (const entry of readdirSync(dir)) {
          const path = join(dir, entry);
          if (statSync(path).isDirectory()) walk(path);
          else if (compressible.test(entry)) {
            const data = readFileSync(path);
            if (data.length < 1024) continue;
            const br = brotliCompressSync(data, {
              params: {
                [constants.BROTLI_PARAM_QUALITY]: 11,
                [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
              },
            });
            if (br.length < data.length) writeFileSync(`${path}.br`, br);
            const gz = gzipSync(data, { level: 9 });
            if (gz.length < data.length) writeFileSync(`${path}.gz`, gz);
          }
        }
      };
      walk(outDir);
    },
  };
}
