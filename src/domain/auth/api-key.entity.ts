import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export enum Role {
  ADMIN = 'ADMIN',
  OPERATOR = 'OPERATOR',
  APP = 'APP',
  PARTNER = 'PARTNER',
}

/** An API key is stored as its SHA-256 hash; the plain key is shown once, at creation. */
@Entity({ name: 'api_key' })
export class ApiKey {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text')
  role: Role;

  /** The public part of the key (`sb_<prefix>_...`), used to find the row. */
  @Column('text')
  prefix: string;

  @Column('bytea')
  hash: Buffer;

  @Column('text', { array: true, default: () => "'{}'" })
  scopes: string[];

  /** A PARTNER key's grants: the customers it may read. */
  @Column('uuid', { name: 'customer_ids', array: true, default: () => "'{}'" })
  customerIds: string[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  /** After this instant the key is refused as UNAUTHENTICATED; null: it does not expire. */
  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;

  /** Last request, to the minute: recorded in memory and written once a minute, not per request. */
  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt: Date | null;

  /** Requests this key may make per minute across every API process; null: no limit. */
  @Column('integer', { name: 'requests_per_minute', nullable: true })
  requestsPerMinute: number | null;
}
