import { request as httpRequest } from 'undici';
import { destinationRefusal, refusedHost } from '../http/outbound-policy.js';
import { ProviderError, type CallContext, type HttpExchange } from './connector.js';

/** Response headers by name, case-insensitive (the subset of `Headers` connectors read). */
export interface ResponseHeaders {
  get(name: string): string | null;
}

export interface HttpResponse {
  status: number;
  headers: ResponseHeaders;
  body: unknown;
  exchange: HttpExchange;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * One HTTP call with the integration's time limit. Transport failures become ProviderErrors
 * (timeout, network); HTTP statuses are returned for the connector to classify.
 */
export async function send(
  ctx: CallContext,
  request: { method: string; path: string; headers: Record<string, string>; body?: string; maskedRequest?: unknown },
): Promise<HttpResponse> {
  const url = new URL(`${ctx.baseUrl}${request.path}`);
  const exchange: HttpExchange = { method: request.method, path: request.path, status: null, durationMs: 0, request: request.maskedRequest ?? null, response: null };
  // The base URL was checked when saved; the policy may have changed since (a literal address
  // never reaches the connect-time check).
  const refused = refusedHost(url, ctx.outbound.policy);
  if (refused) throw new ProviderError('client', `destination refused: the base URL ${refused}`, false, null, null, [exchange]);
  await ctx.pace?.();
  const started = performance.now();
  // One controller per call; the worker's stop signal gets a listener only while the call runs
  // (AbortSignal.any would leave one behind on the long-lived signal for every call).
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, ctx.timeoutMs);
  const onStop = () => controller.abort();
  ctx.signal?.addEventListener('abort', onStop, { once: true });
  const signal = controller.signal;
  const limit = ctx.outbound.policy.maxResponseBytes;
  let tooLarge = false;
  try {
    // undici's request(), not fetch(): the same client without the WHATWG streams, about a fifth
    // of fetch's CPU per call here (bench:jobs). Redirects are not followed, as a provider API
    // call should not be.
    const res = await httpRequest(url, { method: request.method, headers: request.headers, body: request.body, signal, dispatcher: ctx.outbound.dispatcher });
    // Read up to the policy's cap and no further: a hostile or broken provider cannot fill memory.
    const declared = Number(res.headers['content-length'] ?? 0);
    const chunks: Buffer[] = [];
    let size = 0;
    if (declared > limit) tooLarge = true;
    else {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) {
          tooLarge = true;
          break;
        }
        chunks.push(chunk);
      }
    }
    if (tooLarge) {
      controller.abort();
      res.body.destroy();
      exchange.status = res.statusCode;
      exchange.durationMs = Math.round(performance.now() - started);
      throw new ProviderError('client', `the response is over the ${limit}-byte limit (OUTBOUND_MAX_RESPONSE_BYTES); it was not read (${request.method} ${request.path})`, false, res.statusCode, null, [exchange]);
    }
    const text = Buffer.concat(chunks, size).toString('utf8');
    exchange.status = res.statusCode;
    exchange.durationMs = Math.round(performance.now() - started);
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { raw: text.slice(0, 500) };
      }
    }
    const headers = res.headers;
    return {
      status: res.statusCode,
      headers: {
        get: (name) => {
          const value = headers[name.toLowerCase()];
          return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
        },
      },
      body,
      exchange,
    };
  } catch (err) {
    if (tooLarge && err instanceof ProviderError) throw err;
    exchange.durationMs = Math.round(performance.now() - started);
    const refusal = destinationRefusal(err);
    if (refusal) throw new ProviderError('client', refusal.message, false, null, null, [exchange]);
    if (timedOut) {
      throw new ProviderError('timeout', `no answer within ${ctx.timeoutMs} ms (${request.method} ${request.path})`, true, null, null, [exchange]);
    }
    if (ctx.signal?.aborted) throw new ProviderError('network', 'the call was aborted (worker stopping)', true, null, null, [exchange]);
    const failure = err as { code?: string; cause?: { code?: string }; message: string };
    const cause = failure.cause?.code ?? failure.code ?? failure.message;
    throw new ProviderError('network', `network error: ${cause} (${request.method} ${request.path})`, true, null, null, [exchange]);
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener('abort', onStop);
  }
}

/** Generic status classification; connectors refine it with the provider's own signals. */
export function classifyStatus(status: number, message: string, retryAfterMs: number | null, exchanges: HttpExchange[]): ProviderError {
  if (status === 429) return new ProviderError('rate_limited', message, true, status, retryAfterMs, exchanges);
  if (status >= 500) return new ProviderError('server', message, true, status, retryAfterMs, exchanges);
  if (status === 401 || status === 403) return new ProviderError('auth', message, false, status, null, exchanges);
  return new ProviderError('client', message, false, status, null, exchanges);
}
