import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, type Dispatcher } from 'undici';

/**
 * Where the gateway may send requests of its own (provider APIs today, partner event endpoints
 * later), and how much it reads back. One policy for every caller: a base URL is checked when it
 * is saved, and the address actually connected to is checked again at connect time, after DNS,
 * so a name that resolves (or is rebound) to an internal address is refused too.
 */
export interface OutboundPolicy {
  /** Loopback addresses (and plain http to them) are allowed: sandboxes, tests, a provider on this host. */
  allowLoopback: boolean;
  /** A response body over this many bytes is abandoned (a failure of kind `client`). */
  maxResponseBytes: number;
}

export const DEFAULT_OUTBOUND_POLICY: OutboundPolicy = { allowLoopback: false, maxResponseBytes: 8 * 1024 * 1024 };

/** Names that only ever mean a cloud's instance metadata service. */
const METADATA_HOSTS = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.com']);

/** The refusal every caller reports the same way; it names no address, so it maps nothing for an attacker. */
export class DestinationRefusedError extends Error {
  constructor(readonly host: string) {
    super(`destination refused: ${host} is not a public address (private, loopback, link-local, metadata and reserved ranges are not called)`);
    this.name = 'DestinationRefusedError';
  }
}

/**
 * Public unicast only, in any spelling (IPv4-mapped IPv6 is judged as its IPv4 address);
 * loopback when the policy allows it. Everything else ipaddr.js names (private, link-local,
 * unique-local, carrier-grade NAT, 6to4, NAT64, multicast, reserved...) is refused.
 */
export function addressAllowed(address: string, policy: Pick<OutboundPolicy, 'allowLoopback'>): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
  } catch {
    return false;
  }
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const range = parsed.range();
  if (range === 'unicast') return true;
  return range === 'loopback' && policy.allowLoopback;
}

function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

/**
 * Why a URL's host is refused before any connection (a literal address outside the policy, a
 * loopback or metadata name), or null. Hostnames are otherwise judged at connect time.
 */
export function refusedHost(url: URL, policy: Pick<OutboundPolicy, 'allowLoopback'>): string | null {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (isIP(host)) {
    return addressAllowed(host, policy)
      ? null
      : `points at a ${parsedRange(host)} address; provider APIs must be public${policy.allowLoopback ? '' : ' (loopback is allowed only with OUTBOUND_ALLOW_LOOPBACK=true)'}`;
  }
  if (isLoopbackName(host)) return policy.allowLoopback ? null : 'points at this host (localhost); loopback is allowed only with OUTBOUND_ALLOW_LOOPBACK=true';
  if (METADATA_HOSTS.has(host)) return 'points at a cloud metadata service';
  return null;
}

function parsedRange(host: string): string {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(host);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const range = parsed.range();
  return range === 'unicast' ? 'reserved' : range.replace(/([A-Z])/g, ' $1').toLowerCase();
}

/** True when plain http is acceptable for this URL: loopback only, and only when allowed. */
export function plainHttpAllowed(url: URL, policy: Pick<OutboundPolicy, 'allowLoopback'>): boolean {
  if (!policy.allowLoopback) return false;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (isLoopbackName(host)) return true;
  if (!isIP(host)) return false;
  return ipaddr.parse(host).range() === 'loopback';
}

/** dns.lookup that fails when any address of the name is outside the policy (a mixed answer is refused whole). */
function guardedLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 4);
      if (addresses.length === 0 || addresses.some((a) => !addressAllowed(a.address, policy))) {
        return callback(new DestinationRefusedError(hostname) as NodeJS.ErrnoException, '', 4);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/** The connection pool every outbound call goes through: connect-time address checks under the policy. */
export function createOutboundDispatcher(policy: OutboundPolicy): Dispatcher {
  return new Agent({ connect: { lookup: guardedLookup(policy) } });
}

/** The refusal inside an error undici raised, if that is what it was. */
export function destinationRefusal(err: unknown): DestinationRefusedError | null {
  for (let e = err as { cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as { cause?: unknown } | undefined, depth++) {
    if (e instanceof DestinationRefusedError) return e;
  }
  return null;
}

/** A policy with its connection pool: what a caller of outbound HTTP holds. */
export interface OutboundHttp {
  policy: OutboundPolicy;
  dispatcher: Dispatcher;
}

export function createOutboundHttp(policy: OutboundPolicy): OutboundHttp {
  return { policy, dispatcher: createOutboundDispatcher(policy) };
}
