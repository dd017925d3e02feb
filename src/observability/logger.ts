import { pino, type Logger, type LoggerOptions } from 'pino';

/** Paths whose values never reach a log line, whatever object they sit in. */
export const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
  'accessToken',
  '*.accessToken',
  'credentials',
  '*.credentials',
  'webhookSecret',
  '*.webhookSecret',
  'secret',
  '*.secret',
  'key',
  '*.key',
  'connectionString',
  '*.connectionString',
];

/**
 * Errors are logged by type, message, code and stack only: a driver error also carries the
 * query parameters, which can hold PII or credentials.
 */
export function errorSerializer(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err).slice(0, 500) };
  const e = err as Error & { code?: unknown; driverError?: { code?: unknown } };
  return {
    type: e.constructor?.name ?? 'Error',
    message: e.message.slice(0, 1000),
    code: e.code ?? e.driverError?.code,
    stack: e.stack?.split('\n').slice(0, 12).join('\n'),
  };
}

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', destination?: { write(line: string): void }): Logger {
  const options: LoggerOptions = {
    level,
    serializers: { err: errorSerializer, error: errorSerializer },
    base: { service: 'switchboard' },
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

export const logger: Logger = createLogger();

/** Removes credentials from a connection string before it is printed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
