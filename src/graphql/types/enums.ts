import { registerEnumType } from 'type-graphql';
import { Role } from '../../domain/auth/api-key.entity.js';
import { ContractStatus } from '../../domain/contract/contract.entity.js';
import { CircuitState, IntegrationStatus, Provider } from '../../domain/integration/integration.entity.js';
import { InvoiceStatus } from '../../domain/invoice/invoice.entity.js';

registerEnumType(ContractStatus, { name: 'ContractStatus' });
registerEnumType(InvoiceStatus, { name: 'InvoiceStatus' });
registerEnumType(Provider, { name: 'Provider' });
registerEnumType(IntegrationStatus, { name: 'IntegrationStatus' });
registerEnumType(CircuitState, { name: 'CircuitState' });
registerEnumType(Role, { name: 'Role' });

export { ContractStatus, InvoiceStatus, Provider, IntegrationStatus, CircuitState, Role };
