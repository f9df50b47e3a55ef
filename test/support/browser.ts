// A real headless browser for screen tests: Debian's Chromium driven by playwright-core
// (never a downloaded browser). Screenshots go to test-artifacts/screens/.
import { mkdirSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ARTIFACTS_DIR } from './env.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Saves a full-page screenshot named after the screen, for people reviewing the run. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = `${ARTIFACTS_DIR}screens/`;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: `${dir}${name}.png`, fullPage: true });
}
