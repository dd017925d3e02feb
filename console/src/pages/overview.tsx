import { useQuery } from '../api';
import { ConsoleIntegrationsDocument } from '../generated/graphql';
import { Badge, ErrorLine, Page } from '../ui';

export default function OverviewPage() {
  const list = useQuery(ConsoleIntegrationsDocument, {});
  return (
    <Page title="Overview">
      <ErrorLine error={list.error} />
      <div className="cards">
        {list.data?.integrations.edges.map(({ node: i }) => (
          <article key={i.id} className="card" data-integration-id={i.id}>
            <header className="card-head">
              <h2>{i.name}</h2>
              <span>
                <Badge value={i.status} /> <Badge value={i.circuit} />
              </span>
            </header>
          </article>
        ))}
      </div>
    </Page>
  );
}
