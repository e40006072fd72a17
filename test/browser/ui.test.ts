/**
 * The web UI in a real browser (Debian's chromium through playwright-core) against a real local cluster:
 * redis-servers, a dashboard and a proxy on a memory:// coordinator, all on free loopback ports.
 *
 * Proves: a wrong token is refused with a visible message; logging in keeps the token out of the URL; every
 * page renders from the live API; the slot map's 1024 cells match GET /api/v1/slots; a group and its master
 * are added through the UI; API failures during actions (unreachable server, impossible assignment) are
 * shown in words; a rebalance planned, previewed and confirmed in the UI runs to 100 % and the map shows the
 * new owners. Screenshots of every page go to test-artifacts/ui/*.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { freePort } from '../support/free-port.js';
import { startUiCluster, type UiCluster } from './ui-cluster.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[ui.test] skipped: ${CHROMIUM} is missing (apt-get install -y chromium, or deploy/local/install-deps.sh --tests)`);

const SHOTS = path.resolve('test-artifacts/ui');

interface SlotsBody {
  revision: number;
  slots: Array<{ id: number; group: number; action?: { state: string; target: number } }>;
}
interface MigrationStatus {
  paused: boolean;
  throttle: { keysPerSec: number; bytesPerSec: number };
  parallelSlots: number;
}
interface GroupsBody {
  groups: Array<{ id: number; slotCount: number; servers: Array<{ addr: string; role: string }> }>;
}

describe.skipIf(!haveChromium)('web UI in chromium', () => {
  let cluster: UiCluster;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    cluster = await startUiCluster({ servers: 4, seedGroups: 2, keys: 3000 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  const shot = (name: string, full = true) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: full });
  const card = (label: string) => page.locator(`.card:has(.card-label:text-is("${label}"))`);
  const go = async (hash: string, heading: string) => {
    await page.evaluate((h) => (location.hash = h), hash);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  };

  it('refuses a wrong token with a visible message, then logs in without putting the token in a URL', async () => {
    const res = await page.goto(`${cluster.uiUrl}/`);
    expect(res?.ok()).toBe(true);
    expect(page.url()).toBe(`${cluster.uiUrl}/ui/`);
    // The page is served with a same-origin-only CSP: nothing comes from a CDN.
    expect(res?.headers()['content-security-policy'] ?? (await page.request.get(`${cluster.uiUrl}/ui/`)).headers()['content-security-policy']).toContain("default-src 'self'");

    const tokenInput = page.getByLabel('Dashboard token');
    await tokenInput.fill('not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    const alert = page.locator('form.login [role=alert]');
    await expect.poll(() => alert.textContent(), { timeout: 5000 }).toContain('refused this token');
    expect(await alert.textContent()).toContain('REDSLOT_ERR_UNAUTHORIZED');
    await shot('login-wrong-token');
    // Not logged in: no navigation shown, token not stored.
    expect(await page.locator('#top').isHidden()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('redslot.token'))).toBeNull();

    await tokenInput.fill(cluster.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(page.url()).not.toContain(cluster.token);
    expect(await page.evaluate(() => sessionStorage.getItem('redslot.token'))).toBe(cluster.token);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
  });

  it('overview shows live figures, the ops/s chart from server history and the alerts', async () => {
    // Cards and chart come from /api/v1/status and /api/v1/overview.
    await expect.poll(() => page.locator('.card').count(), { timeout: 5000 }).toBe(6);
    await expect.poll(async () => (await card('Groups healthy').textContent()) ?? '', { timeout: 8000 }).toContain('2 / 2');
    const keys = await card('Keys').locator('.card-sub').textContent();
    expect(keys).toContain('3,000');
    await expect.poll(() => page.locator('svg.chart path.series').count(), { timeout: 8000 }).toBe(2);
    if (cluster.proxyAddr) await expect.poll(async () => (await card('Proxies').textContent()) ?? '', { timeout: 8000 }).toContain('1 ready');
    await shot('overview');
  });

  it('slot map shows the same owner for every slot as GET /api/v1/slots, with details on hover', async () => {
    await go('#/slots', 'Slot map');
    const api = (await cluster.api<SlotsBody>('GET', '/api/v1/slots')).body;
    await expect.poll(() => page.locator('.slot[data-group]').count(), { timeout: 5000 }).toBe(1024);
    const cells = await page.locator('.slot').evaluateAll((els) => els.map((e) => [Number((e as HTMLElement).dataset.slot), Number((e as HTMLElement).dataset.group)]));
    expect(cells).toEqual(api.slots.map((s) => [s.id, s.group]));
    expect(new Set(cells.map((c) => c[1]))).toEqual(new Set([1, 2]));
    // Hover a slot of group 2: the inspector names it.
    await page.locator('.slot[data-slot="700"]').hover();
    const insp = page.locator('.inspector dl');
    await expect.poll(() => insp.getAttribute('data-inspected')).toBe('700');
    expect(await insp.textContent()).toContain('group 2');
    // Keyboard: focus the grid, move right, shift+right selects a range shown in the form.
    await page.locator('.slot[tabindex="0"]').focus();
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Shift+ArrowRight');
    expect(await page.getByLabel('To slot').inputValue()).toBe(String(Number(await page.getByLabel('From slot').inputValue()) + 2));
    await shot('slots');
  });

  it('adds a group and its master through the UI; API failures are shown in words', async () => {
    await go('#/groups', 'Groups and servers');
    await page.getByLabel('Group id (1-9999)').fill('3');
    await page.getByRole('button', { name: 'Create group' }).click();
    await expect.poll(() => page.locator('form.inline-form [role=status]').first().textContent(), { timeout: 5000 }).toContain('Group 3 created');
    await page.locator('section[data-group="3"]').waitFor();

    // An unreachable server: the dashboard refuses and the UI says why.
    const deadPort = await freePort();
    await page.getByLabel('Group', { exact: true }).selectOption('3');
    await page.getByLabel('Address (host:port)').fill(`127.0.0.1:${deadPort}`);
    await page.getByRole('button', { name: 'Add server' }).click();
    const addErr = page.locator('form.inline-form p.error[role=alert]');
    await addErr.waitFor({ timeout: 10_000 });
    const addText = (await addErr.textContent()) ?? '';
    expect(addText).toContain(`Adding 127.0.0.1:${deadPort} to group 3 failed`);
    expect(addText).toMatch(/HTTP [45]\d\d/);
    await shot('groups-error');

    // The real third redis-server joins as group 3's master.
    await page.getByLabel('Address (host:port)').fill(cluster.redis[2]!.addr);
    await page.getByRole('button', { name: 'Add server' }).click();
    await expect.poll(async () => ((await cluster.api<GroupsBody>('GET', '/api/v1/groups')).body.groups.find((g) => g.id === 3)?.servers ?? []).map((s) => s.role), { timeout: 10_000 }).toEqual(['master']);
    await expect.poll(() => page.locator(`section[data-group="3"] tr[data-addr="${cluster.redis[2]!.addr}"]`).count(), { timeout: 5000 }).toBe(1);
    await expect.poll(() => page.locator('section[data-group="3"] .badge.good').count(), { timeout: 8000 }).toBeGreaterThan(0);
    await shot('groups');

    // Refreshes update the page in place: a focused button stays the same node, still focused.
    const rm = page.getByRole('button', { name: 'Remove group 3' });
    await rm.focus();
    await rm.evaluate((el) => ((el as HTMLElement & { marker?: number }).marker = 42));
    let refreshes = 0;
    const count = (r: { url(): string }) => void (r.url().endsWith('/api/v1/groups') && refreshes++);
    page.on('requestfinished', count);
    await page.waitForTimeout(4500);
    page.off('requestfinished', count);
    expect(refreshes).toBeGreaterThanOrEqual(2);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement & { marker?: number }).marker)).toBe(42);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Remove group 3');
  });

  it('adds a replica and promotes it through the UI', async () => {
    const [m, r] = [cluster.redis[2]!.addr, cluster.redis[3]!.addr];
    await page.getByLabel('Group', { exact: true }).selectOption('3');
    await page.getByLabel('Address (host:port)').fill(r);
    await page.getByRole('button', { name: 'Add server' }).click();
    const replicaRow = page.locator(`section[data-group="3"] tr[data-addr="${r}"]`);
    await replicaRow.waitFor({ timeout: 10_000 });
    // The dashboard made it a replica with REPLICAOF; the page shows the link once it is up.
    await expect.poll(() => replicaRow.locator('.badge', { hasText: 'link' }).textContent(), { timeout: 15_000 }).toBe('link up');
    await page.getByRole('button', { name: `Promote ${r} to master` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Promote' }).click();
    await expect.poll(() => page.locator('#groups-msg').textContent(), { timeout: 20_000 }).toContain(`Promoted ${r}`);
    const g3 = (await cluster.api<GroupsBody>('GET', '/api/v1/groups')).body.groups.find((g) => g.id === 3)!;
    expect(Object.fromEntries(g3.servers.map((x) => [x.addr, x.role]))).toEqual({ [r]: 'master', [m]: 'replica' });
    await expect.poll(() => replicaRow.locator('.badge').first().textContent(), { timeout: 5000 }).toBe('master');
    await shot('groups-promoted');
  });

  it('shows an assignment the dashboard refuses, in words, and changes nothing', async () => {
    // An impossible move: assigning slots whose group holds keys of them, without moving data.
    await go('#/slots', 'Slot map');
    await page.getByLabel('From slot').fill('0');
    await page.getByLabel('To slot').fill('20');
    await expect.poll(() => page.getByLabel('Target group').locator('option').count()).toBe(4);
    await page.getByLabel('Target group').selectOption('3');
    await page.getByRole('button', { name: 'Assign without moving data' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Assign' }).click();
    const err = page.locator('.move-form p.error[role=alert]');
    await err.waitFor({ timeout: 10_000 });
    expect(await err.textContent()).toContain('Assigning slots 0-20 to group 3 failed');
    const slots = (await cluster.api<SlotsBody>('GET', '/api/v1/slots')).body;
    expect(slots.slots.slice(0, 21).every((s) => s.group === 1)).toBe(true);
    await shot('slots-error');
  });

  it('proxies page lists the proxy with its acknowledged revision and state', async () => {
    await go('#/proxies', 'Proxies');
    if (!cluster.proxyAddr) {
      await page.getByText('No proxy is registered').waitFor();
      console.warn(`[ui.test] no proxy: ${cluster.proxyNote}`);
    } else {
      const row = page.locator(`tr:has(code:text-is("${cluster.proxyAddr}"))`);
      await row.waitFor({ timeout: 5000 });
      await expect.poll(() => row.locator('.badge').textContent(), { timeout: 8000 }).toBe('ready');
    }
    await shot('proxies');
  });

  it('audit log shows the actions done through the UI, including the refused ones', async () => {
    await go('#/audit', 'Audit log');
    await page.locator('table.audit').waitFor();
    const text = (await page.locator('table.audit').textContent()) ?? '';
    expect(text).toContain('group.create');
    expect(text).toContain('server.add');
    expect(await page.locator('table.audit tr[data-result="failed"], table.audit tr[data-result="refused"]').count()).toBeGreaterThan(0);
    await shot('audit');
  });

  it('migrations page renders (slot actions, and jobs when the migration API exists)', async () => {
    await go('#/migrations', 'Migrations');
    await page.locator('.jobs').getByText(/No migration is running|Job /).first().waitFor({ timeout: 5000 });
    await shot('migrations-idle');
  });

  it('rebalance: pause, preview the plan as a picture, confirm, see the slots marked, resume, reach 100 %, see the new map', async (ctx) => {
    const doc = (await cluster.api<{ paths: Record<string, unknown> }>('GET', '/api/v1/openapi.json')).body;
    if (!doc.paths['/api/v1/migrations/preview']) {
      await go('#/rebalance', 'Rebalance');
      expect(await page.getByText('does not serve the migration API').count()).toBeGreaterThan(0);
      console.warn('[ui.test] rebalance flow skipped: the dashboard serves no /api/v1/migrations routes');
      ctx.skip();
      return;
    }
    console.warn(`[ui.test] ${cluster.migrationNote}`);

    // Pause first, so the queued slots can be seen on the map before anything moves; set a throttle.
    await go('#/migrations', 'Migrations');
    await page.getByRole('button', { name: 'Pause every migration' }).click();
    await expect.poll(async () => (await cluster.api<MigrationStatus>('GET', '/api/v1/migrations')).body.paused, { timeout: 5000 }).toBe(true);
    await page.getByRole('button', { name: 'Resume every migration' }).waitFor();
    await page.getByLabel('Keys per second').fill('200000');
    await page.getByLabel('Slots in parallel').fill('64');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('form.inline-form [role=status]').textContent(), { timeout: 5000 }).toContain('200,000 keys/s');
    const settings = (await cluster.api<MigrationStatus>('GET', '/api/v1/migrations')).body;
    expect(settings.throttle.keysPerSec).toBe(200_000);
    expect(settings.parallelSlots).toBe(64);

    await go('#/rebalance', 'Rebalance');
    await page.locator('fieldset.weights tr.weight-row').nth(2).waitFor();
    await page.getByRole('button', { name: 'Preview plan' }).click();
    await page.locator('.plan-summary').waitFor({ timeout: 10_000 });
    expect(await page.locator('.plan-summary').textContent()).toMatch(/^341 slot\(s\) move in 2 range\(s\), about [\d,]+ key\(s\)\./);
    expect(await page.locator('figure.strips svg').count()).toBe(2);
    // The picture: every move goes to group 3, and the per-group table says 341 after for group 3.
    const ranges = await page.locator('table.plan-ranges tbody tr').allTextContents();
    expect(ranges.length).toBe(2);
    for (const r of ranges) expect(r).toMatch(/→\s+group 3/);
    expect(await page.locator('table.plan-groups tr[data-group="3"]').textContent()).toContain('341');
    // Nothing changed yet.
    expect((await cluster.api<SlotsBody>('GET', '/api/v1/slots')).body.slots.filter((s) => s.action).length).toBe(0);
    await shot('rebalance-preview');
    await page.locator('#rb-confirm').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Start' }).click();
    const bar = page.getByRole('progressbar', { name: 'Rebalance progress' });
    await bar.waitFor({ timeout: 10_000 });

    // Paused: the slot map shows the 341 queued slots marked with their target.
    await go('#/slots', 'Slot map');
    await expect.poll(() => page.locator('.slot.migrating[data-target="3"]').count(), { timeout: 5000 }).toBe(341);
    const queued = await page.locator('.slot.migrating').first().getAttribute('data-slot');
    await page.locator(`.slot[data-slot="${queued}"]`).hover();
    await expect.poll(() => page.locator('.inspector dl').textContent()).toMatch(/Target\s*group 3/);
    await shot('slots-migrating');
    await go('#/migrations', 'Migrations');
    await page.locator('article.job').first().waitFor();
    expect(await page.locator('article.job .badge').first().textContent()).toBe('paused');
    await shot('migrations-paused', false);
    await page.getByRole('button', { name: 'Resume every migration' }).click();

    await go('#/rebalance', 'Rebalance');
    await expect.poll(() => bar.getAttribute('aria-valuenow'), { timeout: 45_000, interval: 500 }).toBe('100');
    expect(await page.locator('.run-status').textContent()).toContain('Rebalance finished: 341 slot(s) moved');
    await shot('rebalance-done');
    const groups = (await cluster.api<GroupsBody>('GET', '/api/v1/groups')).body.groups;
    expect(groups.map((g) => g.slotCount).sort()).toEqual([341, 341, 342]);
    await go('#/slots', 'Slot map');
    const api = (await cluster.api<SlotsBody>('GET', '/api/v1/slots')).body;
    expect(api.slots.filter((s) => s.action).length).toBe(0);
    await expect
      .poll(async () => JSON.stringify(await page.locator('.slot').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.group)))), { timeout: 5000 })
      .toBe(JSON.stringify(api.slots.map((s) => s.group)));
    expect(await page.locator('.slot.migrating').count()).toBe(0);
    await shot('slots-after-rebalance');
    await go('#/migrations', 'Migrations');
    await page.locator('article.job[data-state="done"]').waitFor({ timeout: 5000 });
    await shot('migrations');
  }, 60_000);

  it('moves a range from the slot map, then aborts the job from the Migrations page', async () => {
    await go('#/migrations', 'Migrations');
    await page.getByRole('button', { name: 'Pause every migration' }).click();
    await page.getByRole('button', { name: 'Resume every migration' }).waitFor();
    await go('#/slots', 'Slot map');
    // Select slots 0-9 with the mouse: press on 0, drag to 9.
    await page.locator('.slot[data-slot="0"]').hover();
    await page.mouse.down();
    await page.locator('.slot[data-slot="9"]').hover();
    await page.mouse.up();
    expect([await page.getByLabel('From slot').inputValue(), await page.getByLabel('To slot').inputValue()]).toEqual(['0', '9']);
    await page.getByLabel('Target group').selectOption('2');
    await page.getByRole('button', { name: 'Move slots' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Move' }).click();
    const ok = page.locator('.move-form p.ok[role=status]');
    await ok.waitFor({ timeout: 10_000 });
    const job = /as job (\S+)\./.exec((await ok.textContent()) ?? '')?.[1];
    expect(job).toBeTruthy();
    await expect.poll(() => page.locator('.slot.migrating[data-target="2"]').count(), { timeout: 5000 }).toBe(10);

    await go('#/migrations', 'Migrations');
    await page.getByRole('button', { name: `Abort job ${job}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Abort' }).click();
    await expect.poll(() => page.locator('#migrations-msg').textContent(), { timeout: 10_000 }).toMatch(/10 slot\(s\) cancelled|moving back/);
    await page.getByRole('button', { name: 'Resume every migration' }).click();
    await expect
      .poll(async () => (await cluster.api<SlotsBody>('GET', '/api/v1/slots')).body.slots.slice(0, 10).map((s) => `${s.group}${s.action ? '*' : ''}`).join(','), { timeout: 15_000 })
      .toBe('1,1,1,1,1,1,1,1,1,1');
    const aborted = page.locator(`article.job[data-job="${job}"][data-state="aborted"]`);
    await aborted.waitFor({ timeout: 10_000 });
    await expect.poll(() => aborted.locator('.job-stats').textContent(), { timeout: 5000 }).toContain('0 of 10 slot(s) had moved, 10 returned to their source');
    await shot('migrations-aborted', false);
  }, 45_000);

  it('a move the engine refuses is shown in words', async () => {
    // Slots 0-20 moved to a group that does not exist: the dashboard refuses the plan.
    await go('#/slots', 'Slot map');
    await page.getByLabel('From slot').fill('0');
    await page.getByLabel('To slot').fill('20');
    await page.getByLabel('Target group').selectOption('3');
    // The group disappears between choosing and clicking: the answer must be shown, not swallowed.
    await page.evaluate(() => {
      const sel = document.querySelector('.move-form select') as HTMLSelectElement;
      sel.append(new Option('group 77', '77'));
      sel.value = '77';
    });
    await page.getByRole('button', { name: 'Move slots' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Move' }).click();
    const err = page.locator('.move-form p.error[role=alert]');
    await err.waitFor({ timeout: 10_000 });
    expect(await err.textContent()).toMatch(/Moving slots 0-20 to group 77 failed: .*77/);
    await shot('slots-move-refused');
  });

  it('a stopped redis-server shows up as an alert and an unhealthy group', async () => {
    // The replica of group 3 (the old master before the promotion).
    const victim = cluster.redis[2]!;
    await victim.stop();
    await go('#/overview', 'Overview');
    const alert = page.locator('ul.alerts li.alert.error', { hasText: `Server ${victim.addr} (group 3, replica) is down` });
    await alert.waitFor({ timeout: 10_000 });
    await expect.poll(async () => (await card('Groups healthy').getAttribute('class')) ?? '', { timeout: 5000 }).toContain('bad');
    await shot('overview-server-down');
    await go('#/groups', 'Groups and servers');
    await expect.poll(() => page.locator(`tr[data-addr="${victim.addr}"] .badge.bad`).textContent(), { timeout: 5000 }).toBe('down');
  });

  it('every control on every page has an accessible name, and the page is keyboard-reachable', async () => {
    const pages: Array<[string, string]> = [
      ['#/overview', 'Overview'],
      ['#/slots', 'Slot map'],
      ['#/groups', 'Groups and servers'],
      ['#/proxies', 'Proxies'],
      ['#/migrations', 'Migrations'],
      ['#/rebalance', 'Rebalance'],
      ['#/audit', 'Audit log'],
    ];
    for (const [hash, title] of pages) {
      await go(hash, title);
      await page.waitForTimeout(300);
      const unnamed = await page.evaluate(() => {
        const name = (e: Element) =>
          (e.getAttribute('aria-label') ?? '').trim() ||
          [...((e as HTMLInputElement).labels ?? [])].map((l) => l.textContent ?? '').join('').trim() ||
          (e.getAttribute('aria-labelledby') ? document.getElementById(e.getAttribute('aria-labelledby')!)?.textContent?.trim() : '') ||
          (e.tagName === 'BUTTON' || e.tagName === 'A' ? (e.textContent ?? '').trim() : '');
        return [...document.querySelectorAll('main input, main select, main button, main a, main [role=gridcell], main [role=progressbar], main svg[role=img]')]
          .filter((e) => !name(e))
          .map((e) => e.outerHTML.slice(0, 120));
      });
      expect(unnamed, hash).toEqual([]);
    }
    // From the skip link (first stop of the page), Tab reaches the navigation; Enter on a nav link opens it.
    await page.locator('a.skip').focus();
    expect(await page.locator('a.skip').evaluate((e) => e.getBoundingClientRect().left)).toBeGreaterThanOrEqual(0);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.closest('nav')?.getAttribute('aria-label'))).toBe('Pages');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Overview');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Slot map' }).waitFor();
  });

  it('is readable in a narrow window', async () => {
    await page.setViewportSize({ width: 420, height: 860 });
    for (const [hash, title, shotName] of [
      ['#/slots', 'Slot map', 'slots-narrow'],
      ['#/overview', 'Overview', 'overview-narrow'],
      ['#/groups', 'Groups and servers', 'groups-narrow'],
      ['#/migrations', 'Migrations', 'migrations-narrow'],
    ] as const) {
      await go(hash, title);
      await page.waitForTimeout(300);
      // No horizontal scrolling of the page itself (wide tables scroll inside their own box).
      expect(await page.evaluate(() => document.documentElement.scrollWidth), hash).toBeLessThanOrEqual(420);
      await shot(shotName, false);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('logged no uncaught error in the page', () => {
    // 4xx answers we provoked show up as failed resource loads; anything else is a bug in the UI.
    expect(consoleErrors.filter((e) => !/status of (401|4\d\d|5\d\d)/.test(e))).toEqual([]);
  });
});
