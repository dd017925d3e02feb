import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTimeScalar, JSONScalar } from '../scalars.js';
import { ConnectionType } from './connection.js';
import { CircuitState, IntegrationStatus, Provider, Role } from './enums.js';
import { NodeInterface } from './node.js';

export enum AutoSyncEntity {
  Customer = 'Customer',
  Contract = 'Contract',
}
registerEnumType(AutoSyncEntity, { name: 'AutoSyncEntity' });

@ObjectType('Integration', {
  implements: NodeInterface,
  description: 'A connection to one provider account. Credentials and secrets are write-only: no field returns them.',
})
export class IntegrationType extends NodeInterface {
  @Field(() => Provider)
  provider: Provider;

  @Field()
  name: string;

  @Field(() => IntegrationStatus)
  status: IntegrationStatus;

  @Field()
  baseUrl: string;

  @Field(() => CircuitState)
  circuit: CircuitState;

  @Field(() => JSONScalar, { nullable: true, description: 'GENERIC: how each operation calls the integration API (no secrets: headers are credentials).' })
  mappings: Record<string, unknown> | null;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar)
  updatedAt: Date;
}

@ObjectType('ApiKey', { implements: NodeInterface })
export class ApiKeyType extends NodeInterface {
  @Field()
  name: string;

  @Field(() => Role)
  role: Role;

  @Field({ description: 'The public start of the key, to tell keys apart.' })
  prefix: string;

  @Field(() => [String])
  scopes: string[];

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  revokedAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'After this instant the key is refused.' })
  expiresAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'The last request made with the key, recorded within a minute.' })
  lastUsedAt: Date | null;

  @Field(() => Int, { nullable: true, description: 'Requests per minute across every API process; null: no limit.' })
  requestsPerMinute: number | null;
}

@ObjectType('CreateApiKeyPayload')
export class CreateApiKeyPayload {
  @Field({ description: 'The key itself. Shown once: only its hash is stored.' })
  key: string;

  @Field(() => ApiKeyType)
  apiKey: object;
}

@ObjectType('IntegrationPayload')
export class IntegrationPayload {
  @Field(() => IntegrationType)
  integration: object;
}

export const IntegrationConnection = ConnectionType('Integration', IntegrationType);
