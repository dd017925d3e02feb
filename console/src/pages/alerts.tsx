import { Page } from '../ui';

export default function AlertsPage() {
  return <Page title="Alerts">{null}</Page>;
}
