import type { DataSource } from 'typeorm';
import { CredentialCipher } from './credential-cipher.js';

/** The encrypted columns of an integration and the associated data each value is sealed with. */
const SEALED = [
  { column: 'credentials_encrypted', field: 'credentials' },
  { column: 'webhook_secret_encrypted', field: 'webhookSecret' },
  { column: 'previous_webhook_secret_encrypted', field: 'webhookSecret' },
] as const;

const BATCH = 100;

export interface RotationResult {
  /** Integrations whose values were sealed again under the current key. */
  resealed: number;
  /** Integrations already under it. */
  current: number;
}

/**
 * Seals every stored secret again under the cipher's current key, while the gateway runs: a
 * short transaction per batch, each row locked (FOR UPDATE) so a concurrent updateIntegration
 * waits for it or it for the update; values already under the current key are left alone, so
 * the command can be run again after an interruption. The plaintexts never leave this process.
 */
export async function resealIntegrations(db: DataSource, cipher: CredentialCipher): Promise<RotationResult> {
  const result: RotationResult = { resealed: 0, current: 0 };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const done = await db.transaction(async (tx) => {
      const rows = (await tx.query(
        `SELECT id, ${SEALED.map((s) => s.column).join(', ')} FROM integration WHERE id > $1 ORDER BY id LIMIT ${BATCH} FOR UPDATE`,
        [after],
      )) as Array<Record<string, string | null> & { id: string }>;
      for (const row of rows) {
        after = row.id;
        const updates: Record<string, string> = {};
        for (const { column, field } of SEALED) {
          const value = row[column];
          if (value && !cipher.isCurrent(value)) updates[column] = cipher.encrypt(cipher.decrypt(value, `${row.id}:${field}`), `${row.id}:${field}`);
        }
        const columns = Object.keys(updates);
        if (columns.length === 0) {
          result.current++;
          continue;
        }
        await tx.query(`UPDATE integration SET ${columns.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE id = $1`, [row.id, ...columns.map((c) => updates[c])]);
        result.resealed++;
      }
      return rows.length < BATCH;
    });
    if (done) return result;
  }
}

/** Stored values not sealed under the current key (zero once a rotation is complete). */
export async function valuesNotUnder(db: DataSource, cipher: CredentialCipher): Promise<number> {
  const prefix = `v2.${cipher.currentKeyId}.%`;
  const [{ n }] = (await db.query(
    `SELECT count(*)::int AS n FROM integration, LATERAL (VALUES ${SEALED.map((s) => `(${s.column})`).join(', ')}) AS v(value)
      WHERE v.value IS NOT NULL AND v.value NOT LIKE $1`,
    [prefix],
  )) as Array<{ n: number }>;
  return n;
}
