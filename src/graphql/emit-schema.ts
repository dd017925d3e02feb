import { readFile, writeFile } from 'node:fs/promises';
import { printPublishedSchema } from './schema.js';

/**
 * `npm run schema:emit` writes schema/schema.graphql from the code;
 * `npm run schema:check` fails when the committed file differs from it.
 */
const target = new URL('../../../schema/schema.graphql', import.meta.url);
const generated = await printPublishedSchema();
if (process.argv.includes('--check')) {
  const committed = await readFile(target, 'utf8').catch(() => '');
  if (committed !== generated) {
    console.error('schema/schema.graphql is out of date: run `npm run schema:emit` and commit it');
    process.exit(1);
  }
  console.log('schema/schema.graphql is up to date');
} else {
  await writeFile(target, generated);
  console.log(`wrote ${target.pathname}`);
}
