// Debian's chromium driven by playwright-core (never a browser that a test
// tool downloads), a fresh profile per run, screenshots, axe-core checks and
// a record of what the page's Content-Security-Policy refused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

import { ARTIFACTS } from './broker.mjs';

const require = createRequire(import.meta.url);

export const CHROMIUM = process.env.CB_CHROMIUM || '/usr/bin/chromium';

/* The machine has no network but loopback: no background fetches, no QUIC. */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/* Every WCAG 2.0 and 2.1 A and AA rule. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const ACTION_TIMEOUT_MS = 10000;

/* Profiles not yet removed by close(); removed on exit (chromium is killed
 * by playwright's own exit hook). */
const profiles = new Set();
process.on('exit', () => {
  for (const p of profiles) fs.rmSync(p, { recursive: true, force: true });
});

/**
 * A persistent context on a new empty --user-data-dir (playwright passes the
 * directory as that flag). Resolves { context, page, close, cspViolations }.
 */
export async function openBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM}: run scripts/deps.sh (Debian's chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-chromium-'));
  profiles.add(profile);
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      ignoreHTTPSErrors: true, // the dev CA is self-made
      viewport: { width: 1024, height: 768 },
      locale: 'en-NZ',
      timezoneId: 'Pacific/Auckland',
      timeout: 30000,
    });
  } catch (e) {
    fs.rmSync(profile, { recursive: true, force: true });
    profiles.delete(profile);
    throw e;
  }
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  const page = context.pages()[0] || (await context.newPage());
  const cspViolations = [];
  page.on('console', (msg) => {
    const t = msg.text();
    if (/Content Security Policy/i.test(t)) cspViolations.push(t);
  });
  const close = async () => {
    try {
      await context.close();
    } finally {
      fs.rmSync(profile, { recursive: true, force: true });
      profiles.delete(profile);
    }
  };
  return { context, page, close, cspViolations };
}

/** A full-page PNG under the artifacts directory; returns its path. */
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A PNG of one element (for the documentation); returns its path. */
export async function screenshotOf(locator, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await locator.screenshot({ path: file });
  return file;
}

/**
 * Runs axe-core in the page at WCAG 2.1 A/AA and returns its violations.
 * The source goes in through the DevTools protocol (page.evaluate), not a
 * <script> element, so the page keeps its real CSP: no bypassCSP needed.
 */
export async function axeViolations(page) {
  // A string is evaluated as a DevTools expression, which the page's CSP
  // does not govern; a function would run as page code (no eval allowed).
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`.slice(0, 400)),
    }));
  }, WCAG_TAGS);
}

/** A readable report of axe violations, for an assertion message. */
export function formatViolations(where, violations) {
  return `${violations.length} axe violation(s) on ${where}:\n` + violations.map((v) =>
    `- ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');
}

/**
 * Presses Tab (at most max times) until isTarget(arg), run in the page,
 * is true of document.activeElement. Keyboard only: nothing is clicked or
 * focused by script. Returns the number of presses; throws when the
 * element was never reached.
 */
export async function tabTo(page, description, isTarget, arg, max = 200) {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(isTarget, arg)) return i;
  }
  throw new Error(`Tab never reached ${description} in ${max} presses`);
}

/** How the focused element shows focus (WCAG 2.4.7): outline or box-shadow. */
export async function focusIndicator(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const cs = getComputedStyle(el);
    return {
      tag: el.tagName.toLowerCase(),
      text: (el.textContent || el.value || '').trim().slice(0, 60),
      outline: `${cs.outlineStyle} ${cs.outlineWidth}`,
      boxShadow: cs.boxShadow,
      visible: (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none',
    };
  });
}
