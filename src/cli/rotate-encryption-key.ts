import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, parseEnv } from '../config/env.js';
import { checkValueOf, loadEncryptionKey, parsePreviousKeys, recordEncryptionKey, verifyEncryptionKey } from '../config/encryption-key.js';
import { createDataSource } from '../db/data-source.js';
import { resolveDataDir } from '../db/embedded-postgres.js';
import { CredentialCipher } from '../domain/integration/credential-cipher.js';
import { resealIntegrations, valuesNotUnder } from '../domain/integration/key-rotation.js';
import { createLogger } from '../observability/logger.js';

/**
 * `npm run encryption:rotate`: seals every stored provider credential and webhook secret again
 * under ENCRYPTION_KEY, while the gateway runs, reading old values with ENCRYPTION_KEY_PREVIOUS;
 * then records the new key as the deployment's, so a process with only the old key refuses to
 * start. Run it with the same environment as the gateway (DATABASE_URL, or the DATA_DIR of a
 * running embedded PostgreSQL). The order of the whole rotation is in the README.
 */
async function main(): Promise<number> {
  const env = parseEnv();
  const log = createLogger(env.LOG_LEVEL === 'silent' ? 'silent' : 'info');
  if (!env.ENCRYPTION_KEY) {
    console.error('Set ENCRYPTION_KEY to the new key and ENCRYPTION_KEY_PREVIOUS to the old one(s).');
    return 2;
  }
  const previous = parsePreviousKeys(env.ENCRYPTION_KEY_PREVIOUS);
  const key = await loadEncryptionKey(env.ENCRYPTION_KEY, env.DATA_DIR ?? '.data', log);
  const databaseUrl = env.DATABASE_URL ?? (await runningEmbeddedUrl(resolveDataDir(env.DATA_DIR, log)));
  if (!databaseUrl) {
    console.error('Set DATABASE_URL, or run this where the gateway runs with its embedded PostgreSQL (same DATA_DIR) while it is up.');
    return 2;
  }
  const db = createDataSource(databaseUrl, log, 2);
  await db.initialize();
  try {
    // The database must be on one of these keys already (no migration is run from here).
    await verifyEncryptionKey(db, key, previous);
    const cipher = new CredentialCipher(key, previous);
    const result = await resealIntegrations(db, cipher);
    const left = await valuesNotUnder(db, cipher);
    if (left > 0) {
      console.error(`${left} stored values are still under another key (written meanwhile by a process without the new key?); run the command again.`);
      return 1;
    }
    await recordEncryptionKey(db, key);
    console.log(
      `Resealed ${result.resealed} integrations (${result.current} were already under the new key). The database now names key ${checkValueOf(key).slice(0, 8)}…; ENCRYPTION_KEY_PREVIOUS can be removed once every process runs with the new ENCRYPTION_KEY.`,
    );
    return 0;
  } finally {
    await db.destroy();
  }
}

/** The URL of the embedded PostgreSQL a gateway is running in this data folder, if one is. */
async function runningEmbeddedUrl(dataDir: string): Promise<string | null> {
  const root = resolve(dataDir);
  const pidFile = join(root, 'pg', 'postmaster.pid');
  const metaFile = join(root, 'embedded-postgres.json');
  if (!existsSync(pidFile) || !existsSync(metaFile)) return null;
  // postmaster.pid: pid, data folder, start time, port, ...
  const port = Number((await readFile(pidFile, 'utf8')).split('\n')[3]);
  const { password } = JSON.parse(await readFile(metaFile, 'utf8')) as { password: string };
  return Number.isInteger(port) && port > 0 ? `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/switchboard` : null;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(`The rotation stopped: ${err.message}`);
    process.exit(1);
  },
);
