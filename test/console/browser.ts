import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = new URL('../../test-artifacts/console/', import.meta.url).pathname;

/** playwright-core and Debian's chromium, or why a browser test cannot run. */
async function browserKit(): Promise<{ chromium: typeof import('playwright-core').chromium } | string> {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium)`;
  try {
    return { chromium: (await import('playwright-core')).chromium };
  } catch (e) {
    return `playwright-core is missing: ${(e as Error).message}`;
  }
}

const kit = await browserKit();

/** For node:test's `skip`. Under CI a missing browser is a failure, not a quiet skip. */
export const browserSkip: string | false = typeof kit === 'string' && !process.env.CI ? `skipped: ${kit}` : false;

export interface BrowserSession {
  page: Page;
  /** Script errors and blocked loads (the content security policy) seen so far. */
  problems: string[];
  /** A full-page screenshot to test-artifacts/console/NAME.png. */
  shot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Headless Chromium on a profile of its own, with one page open. */
export async function openBrowser(): Promise<BrowserSession> {
  if (typeof kit === 'string') throw new Error(kit);
  mkdirSync(SCREENSHOTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
  const context = await kit.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const close = async (): Promise<void> => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    const shot = async (name: string): Promise<void> => {
      // From the top, or the sticky header lands mid-page in a full-page capture.
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    };
    return { page, problems, shot, close };
  } catch (e) {
    await close();
    throw e;
  }
}
