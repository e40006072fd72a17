/**
 * The slot map's load heat view in a real browser (chromium through playwright-core) against a real local
 * cluster (test/browser/ui-cluster.ts): redis-benchmark -r 1 hammers one key through the proxy; with
 * "Colour by: load" the slot of that key is the hottest cell (heat level 10), idle slots are level 0, and
 * the inspector shows the slot's ops/s. Screenshot: test-artifacts/ui/slots-load.png.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { slotOf } from '../../shared/slot.js';
import { startUiCluster, type UiCluster } from './ui-cluster.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const SHOTS = path.resolve('test-artifacts/ui');
const HOT = 'key:000000000000';

describe.skipIf(!haveChromium)('slot map load heat view in chromium', () => {
  let cluster: UiCluster;
  let browser: Browser;
  let page: Page;
  let bench: ChildProcess | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    cluster = await startUiCluster({ servers: 2, seedGroups: 2 });
    if (!cluster.proxyAddr) throw new Error(`no proxy: ${cluster.proxyNote}`);
    const [host, port] = cluster.proxyAddr.split(':') as [string, string];
    bench = spawn('redis-benchmark', ['-h', host, '-p', port, '-t', 'get', '-r', '1', '-n', '100000000', '-c', '2', '-P', '4', '-q'], { stdio: 'ignore' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  }, 60_000);

  afterAll(async () => {
    if (bench && bench.exitCode === null) bench.kill('SIGKILL');
    await browser?.close();
    await cluster?.stop();
  });

  it('colours slots by observed ops/s: the hammered key\'s slot is the hottest, idle slots stay cold', async () => {
    await page.goto(`${cluster.uiUrl}/ui/`);
    await page.getByLabel('Dashboard token').fill(cluster.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.evaluate(() => (location.hash = '#/slots'));
    await page.getByRole('heading', { level: 1, name: 'Slot map' }).waitFor();
    await page.getByLabel('Colour the map by').selectOption('load');
    const hot = slotOf(Buffer.from(HOT));
    const cell = page.locator(`.slot[data-slot="${hot}"]`);
    await expect.poll(() => cell.getAttribute('data-heat'), { timeout: 10_000 }).toBe('10');
    const levels = await page.locator('.slot').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.heat)));
    expect(levels.length).toBe(1024);
    expect(levels.filter((l) => l === 0).length).toBeGreaterThan(1000);
    expect(await page.locator('.heat-note').textContent()).toMatch(/hottest slot [\d,]+ ops\/s/);
    await cell.hover();
    await expect.poll(async () => (await page.locator('.inspector dl').textContent()) ?? '', { timeout: 5000 }).toMatch(/Load[\d,]+ ops\/s/);
    await page.screenshot({ path: path.join(SHOTS, 'slots-load.png'), fullPage: true });
    // Back to groups: the owner colours return (data-heat gone).
    await page.getByLabel('Colour the map by').selectOption('group');
    await expect.poll(() => cell.getAttribute('data-heat'), { timeout: 5000 }).toBeNull();
  });
});
