import { createHmac, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';

/**
 * ENCRYPTION_KEY when set; otherwise a key generated once and kept in the data folder (0600).
 * Every process of one deployment must share the key, so production sets ENCRYPTION_KEY.
 */
export async function loadEncryptionKey(configured: string | undefined, dataDir: string, log: Logger): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'base64');
  const file = join(resolve(dataDir), 'encryption.key');
  if (existsSync(file)) {
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a base64 32-byte key`);
    log.warn({ file }, 'ENCRYPTION_KEY is not set; using the key kept in the data folder');
    return key;
  }
  await mkdir(resolve(dataDir), { recursive: true });
  const key = randomBytes(32);
  await writeFile(file, key.toString('base64'), { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  log.warn({ file }, 'ENCRYPTION_KEY is not set; generated one and kept it in the data folder (set ENCRYPTION_KEY in production)');
  return Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
}

/** The check value a key leaves in the database: proves which key the deployment uses, reveals nothing of it. */
export function checkValueOf(key: Buffer): string {
  return createHmac('sha256', key).update('switchboard:encryption-key-check').digest('base64url');
}

/** ENCRYPTION_KEY_PREVIOUS: comma-separated base64 keys that may still open stored values. */
export function parsePreviousKeys(value: string | undefined): Buffer[] {
  return (value ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map((k) => Buffer.from(k, 'base64'));
}

/**
 * Every process of a deployment must read what the others write. The first process records a
 * check value derived from its key; a process whose keys (ENCRYPTION_KEY, or one of
 * ENCRYPTION_KEY_PREVIOUS during a rotation) do not include that key refuses to start instead of
 * writing credentials the others cannot read. `npm run encryption:rotate` moves the check value
 * to the new key once every value is sealed under it.
 */
export async function verifyEncryptionKey(db: DataSource, key: Buffer, previous: readonly Buffer[] = []): Promise<void> {
  await db.query(`INSERT INTO gateway_setting (key, value) VALUES ('encryption_key_check', $1) ON CONFLICT (key) DO NOTHING`, [checkValueOf(key)]);
  const [row] = (await db.query(`SELECT value FROM gateway_setting WHERE key = 'encryption_key_check'`)) as { value: string }[];
  if (![key, ...previous].some((k) => checkValueOf(k) === row.value)) {
    throw new Error(
      'ENCRYPTION_KEY differs from the key this database was set up with: every process of a deployment must share one ENCRYPTION_KEY (during a rotation, the old key goes in ENCRYPTION_KEY_PREVIOUS)',
    );
  }
}

/** After a completed rotation: the database now names the current key. */
export async function recordEncryptionKey(db: DataSource, key: Buffer): Promise<void> {
  await db.query(`UPDATE gateway_setting SET value = $1 WHERE key = 'encryption_key_check'`, [checkValueOf(key)]);
}
