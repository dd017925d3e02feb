import { CanonicalModel1763760000000 } from './1763760000000-canonical-model.js';
import { OutboundEngine1763760000001 } from './1763760000001-outbound-engine.js';
import { WebhookIngress1763760000002 } from './1763760000002-webhook-ingress.js';
import { LogServiceName1763760000003 } from './1763760000003-log-service-name.js';
import { ExternalRefByEntity1763760000004 } from './1763760000004-external-ref-by-entity.js';
import { JobOrder1763760000005 } from './1763760000005-job-order.js';
import { ExternalRefEntityFirst1763760000006 } from './1763760000006-external-ref-entity-first.js';
import { SecurityHardening1763760000010 } from './1763760000010-security-hardening.js';
import { SyncRuns1763760000011 } from './1763760000011-sync-runs.js';
import { CrossProviderSync1763760000012 } from './1763760000012-cross-provider-sync.js';
import { Alerts1763760000020 } from './1763760000020-alerts.js';
import { SalesforceAndMappings1763760000030 } from './1763760000030-salesforce-and-mappings.js';

/** Every migration, in order. TypeORM's glob loading fails under vitest and percent-encodes braces. */
export const migrations = [CanonicalModel1763760000000, OutboundEngine1763760000001, WebhookIngress1763760000002, LogServiceName1763760000003, ExternalRefByEntity1763760000004, JobOrder1763760000005, ExternalRefEntityFirst1763760000006, SecurityHardening1763760000010, SyncRuns1763760000011, CrossProviderSync1763760000012, Alerts1763760000020, SalesforceAndMappings1763760000030];
