import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/** Debian's Chromium (.ci/run installs it); a browser download by playwright fails here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return chromium.launch({ executablePath: CHROMIUM, args: root ? ['--no-sandbox'] : [] });
}

export interface BrowserWorld {
  t: TestGateway;
  sandbox: Sandbox;
  browser: Browser;
  /** A fresh browser session (its own sessionStorage) whose requests and console are watched. */
  session(): Promise<WatchedPage>;
  stop(): Promise<void>;
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Every request (and WebSocket) the page made to an origin other than the gateway's. */
  foreign: string[];
  /** Console errors and uncaught page errors. */
  errors: string[];
  signIn(key: string): Promise<void>;
}

/** The real gateway (API and workers) on its own database, the sandbox's fakes, and Chromium. */
export async function startBrowserWorld(extraEnv: Record<string, string> = {}): Promise<BrowserWorld> {
  const sandbox = await startSandbox();
  const t = await startTestGateway(extraEnv);
  const browser = await launchChromium();
  const origin = new URL(t.url).origin;
  const wsOrigin = origin.replace(/^http/, 'ws');
  const contexts: BrowserContext[] = [];
  return {
    t,
    sandbox,
    browser,
    async session() {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      contexts.push(context);
      const page = await context.newPage();
      const foreign: string[] = [];
      const errors: string[] = [];
      page.on('request', (req) => {
        const url = req.url();
        if (!url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
      });
      page.on('websocket', (ws) => {
        if (!ws.url().startsWith(`${wsOrigin}/`)) foreign.push(ws.url());
      });
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', (err) => errors.push(String(err)));
      const signIn = async (key: string) => {
        await page.goto(`${t.url}/console/`);
        await page.getByLabel('API key').fill(key);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('navigation', { name: 'Console' }).waitFor();
      };
      return { page, context, foreign, errors, signIn };
    },
    async stop() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
      await t.stop();
      await sandbox.stop();
    },
  };
}
