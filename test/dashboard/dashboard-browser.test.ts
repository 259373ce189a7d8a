// The admin dashboard in headless Chromium (Debian `chromium`, driven by playwright-core) after real
// traffic: the per-service row, the recent-denials table and the uPlot charts must show it, and the
// page must make no request beyond the admin port. Saves test-artifacts/dashboard.png.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startInProcess, WAYPOINT_YAML, type InProcess, loopbackEntry } from '../helpers/inprocess.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';
import { REPO_ROOT } from '../helpers/waypoint.ts';
import { sendTraffic } from '../telemetry/traffic.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : 'chromium not installed (Debian package `chromium`; .ci/run installs it)';

describe('dashboard in headless Chromium', { skip }, () => {
  let up: HttpUpstream;
  let wp: InProcess;
  let browser: Browser;
  before(async () => {
    up = await startHttpUpstream();
    wp = await startInProcess(WAYPOINT_YAML
      + loopbackEntry('api', up.port));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  after(async () => {
    await browser?.close();
    await wp?.close();
    await up?.close();
  });

  test('shows the per-service row, recent denials and live charts', async () => {
    await sendTraffic(wp.proxyUrl, 'http://api.test/get', 18);
    await sendTraffic(wp.proxyUrl, 'http://api.test/status/503', 2);
    await sendTraffic(wp.proxyUrl, 'http://denied.test/secret', 1);
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const outside: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith(`${wp.adminUrl}/`)) outside.push(r.url()); });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${wp.adminUrl}/`);
    const row = page.locator('#services tr[data-service="api.test"]');
    await row.waitFor({ timeout: 5000 });
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[0], 'api.test');
    assert.equal(cells[3], '90.00%');
    assert.match(cells[6]!, /^\d+\.\d$/, `P99 cell: ${cells.join(' | ')}`);
    const denial = page.locator('#recent tr', { hasText: 'denied.test' });
    await denial.waitFor({ timeout: 5000 });
    assert.match(await denial.textContent() ?? '', /NR.*route_not_found/);
    // Two polls give the charts two points; uPlot draws into a canvas and lists the series in its legend.
    await page.locator('#chart-qps canvas').waitFor({ timeout: 5000 });
    await page.locator('#chart-p99 canvas').waitFor({ timeout: 5000 });
    await page.locator('#chart-qps .u-legend', { hasText: 'api.test' }).waitFor({ timeout: 5000 });
    await page.waitForTimeout(2100); // one more poll, so the screenshot shows lines, not points
    await mkdir(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, 'test-artifacts/dashboard.png'), fullPage: true });
    assert.deepEqual(outside, [], 'the page must not leave the admin port');
    assert.deepEqual(errors, []);
  });
});
