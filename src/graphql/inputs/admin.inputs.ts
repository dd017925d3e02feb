import { Field, ID, InputType, Int } from 'type-graphql';
import { DateTimeScalar, JSONScalar } from '../scalars.js';
import { AutoSyncEntity } from '../types/admin.types.js';
import { IntegrationStatus, Provider, Role } from '../types/enums.js';

@InputType()
export class CreateIntegrationInput {
  @Field(() => Provider)
  provider: Provider;

  @Field()
  name: string;

  @Field({
    description:
      'https:// to a public address; http:// and loopback only where OUTBOUND_ALLOW_LOOPBACK allows them. Private, link-local, metadata and reserved addresses are refused.',
  })
  baseUrl: string;

  @Field(() => JSONScalar, {
    nullable: true,
    description: 'STRIPE { apiKey }, HUBSPOT { accessToken }, SENDGRID { apiKey }, GENERIC { headers }, SALESFORCE { clientId, clientSecret }. Write-only.',
  })
  credentials?: unknown;

  @Field(() => String, {
    nullable: true,
    description:
      'STRIPE and GENERIC: the whsec_ secret; HUBSPOT: the app secret; SENDGRID: the public key; SALESFORCE: the organisation id (the webhookUrl then ends in a ?token= the gateway made). Write-only.',
  })
  webhookSecret?: string | null;

  @Field(() => JSONScalar, { nullable: true, description: 'timeoutMs, maxAttempts, retryBaseDelayMs, retryMaxDelayMs, requestsPerSecond, concurrency' })
  settings?: unknown;

  @Field(() => [AutoSyncEntity], { nullable: true, description: 'Canonical entities whose create/update enqueue a sync job for this integration.' })
  autoSync?: AutoSyncEntity[] | null;

  @Field(() => JSONScalar, {
    nullable: true,
    description:
      'GENERIC only: keyed by operation (customer.upsert, contract.upsert), each { method, path, body, id, create? }: path a template ({customerId}, {externalId}, ...), body and id JSONata expressions (the request body from the record; the provider id from the answer). Validated when saved.',
  })
  mappings?: unknown;
}

@InputType()
export class UpdateIntegrationInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'A new host needs credentials in the same call: stored credentials never follow the integration to another host.' })
  baseUrl?: string | null;

  @Field(() => JSONScalar, { nullable: true, description: 'Replaces the credentials (rotation); null drops them. Write-only.' })
  credentials?: unknown;

  @Field(() => JSONScalar, { nullable: true, description: 'Replaces the settings.' })
  settings?: unknown;

  @Field(() => [AutoSyncEntity], { nullable: true })
  autoSync?: AutoSyncEntity[] | null;

  @Field(() => JSONScalar, { nullable: true, description: 'GENERIC only: replaces the mappings (validated as in createIntegration); null drops them.' })
  mappings?: unknown;
}

@InputType()
export class IntegrationFilter {
  @Field(() => Provider, { nullable: true })
  provider?: Provider | null;

  @Field(() => IntegrationStatus, { nullable: true })
  status?: IntegrationStatus | null;
}

@InputType()
export class CreateApiKeyInput {
  @Field()
  name: string;

  @Field(() => Role)
  role: Role;

  @Field(() => [ID], { nullable: true, description: "A PARTNER key's grants: the customers it may read." })
  customerIds?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description: "Narrows the key to these of its role's scopes; for a PARTNER key, grants pii:read (email, phone, tax id).",
  })
  scopes?: string[] | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'After this instant the key is refused (UNAUTHENTICATED). Unset: it does not expire.' })
  expiresAt?: Date | null;

  @Field(() => Int, { nullable: true, description: 'Requests per minute this key may make across every API process (1 to 1,000,000); over it: RATE_LIMITED, HTTP 429. Unset: no limit.' })
  requestsPerMinute?: number | null;
}
