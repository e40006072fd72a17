/**
 * The Splits page in a real browser (Debian's chromium through playwright-core) against a real local cluster
 * (redis-servers, a dashboard and a proxy on a memory:// coordinator): group 1 owns every slot, group 2 is
 * created empty with its master. The operator previews a split (the guard rails answer), confirms it, and
 * the page follows it to `done`; the slots then belong to group 2. A split refused by a guard rail (a new
 * master that is not empty) is shown in words. Screenshot: test-artifacts/ui/splits.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startUiCluster, type UiCluster } from './ui-cluster.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const SHOTS = path.resolve('test-artifacts/ui');

describe.skipIf(!haveChromium)('Splits page in chromium', () => {
  let cluster: UiCluster;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    cluster = await startUiCluster({ servers: 2, seedGroups: 1, keys: 3000 });
    expect((await cluster.api('POST', '/api/v1/groups', { id: 2 })).status).toBe(201);
    expect((await cluster.api('POST', '/api/v1/groups/2/servers', { addr: cluster.redis[1]!.addr })).status).toBeLessThan(300);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(`${cluster.uiUrl}/`);
    await page.getByLabel('Dashboard token').fill(cluster.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('a refused split is shown in words; a previewed and confirmed split runs to done', async () => {
    await page.evaluate(() => (location.hash = '#/splits'));
    await page.getByRole('heading', { level: 1, name: 'Splits' }).waitFor();
    await expect.poll(() => page.getByLabel('New group (empty, with a master)').locator('option').count(), { timeout: 5000 }).toBe(2);
    await page.getByLabel('Group to split').selectOption('1');
    await page.getByLabel('New group (empty, with a master)').selectOption('2');

    // Guard rail: the new master holds a key.
    const direct = new Redis({ port: cluster.redis[1]!.port, host: '127.0.0.1' });
    await direct.set('stray', '1');
    await page.getByRole('button', { name: 'Preview split' }).click();
    const err = page.locator('form.inline-form p.error[role=alert]');
    await err.waitFor({ timeout: 10_000 });
    expect(await err.textContent()).toContain('must be empty');
    await direct.del('stray');
    direct.disconnect();

    await page.getByRole('button', { name: 'Preview split' }).click();
    const summary = page.locator('.plan-summary');
    await expect.poll(() => summary.textContent(), { timeout: 10_000 }).toContain('512 slot(s) (512-1023) go from group 1');
    await page.locator('#sp-confirm').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Start' }).click();
    const row = page.locator('tr.split-row[data-source="1"]');
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 60_000 }).toBe('done');
    expect(await row.textContent()).toMatch(/slots held \d+ ms at the switch/);
    await page.waitForTimeout(500); // the progress bar's width transition
    await page.screenshot({ path: path.join(SHOTS, 'splits.png'), fullPage: true });
    const slots = (await cluster.api<{ slots: Array<{ id: number; group: number }> }>('GET', '/api/v1/slots')).body.slots;
    expect(slots.filter((s) => s.group === 2).map((s) => s.id)).toEqual(Array.from({ length: 512 }, (_, i) => 512 + i));
    // The refused preview's 409 is the only failed request the browser logs.
    expect(consoleErrors.filter((e) => !/status of 409/.test(e))).toEqual([]);
  }, 90_000);
});
