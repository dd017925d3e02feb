import { useQuery } from '../api';
import { ConsoleIntegrationsDocument, type ConsoleIntegrationFragment } from '../generated/graphql';

/** The integrations, for filters and pickers. */
export function useIntegrations(): ConsoleIntegrationFragment[] {
  const { data } = useQuery(ConsoleIntegrationsDocument, {});
  return data?.integrations.edges.map((e) => e.node) ?? [];
}

export function IntegrationSelect({ value, onChange, id, allowAll = true }: { value: string; onChange: (v: string) => void; id: string; allowAll?: boolean }) {
  const integrations = useIntegrations();
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
      {allowAll && <option value="">All integrations</option>}
      {!allowAll && <option value="">Choose…</option>}
      {integrations.map((i) => (
        <option key={i.id} value={i.id}>
          {i.name} ({i.provider})
        </option>
      ))}
    </select>
  );
}

/** datetime-local value to ISO, or undefined when empty. */
export const isoOrUndefined = (local: string) => (local ? new Date(local).toISOString() : undefined);
export const blankToUndefined = (v: string) => (v.trim() ? v.trim() : undefined);
