// The citizen web page end to end in Debian's headless chromium: Alice signs
// in through the dev issuer, gives consent to the SmartStart agreement and
// revokes it again with the keyboard only; Inland Revenue's token request
// (consentctl request, the library) shows up under "Who used my data" and
// is refused after the revocation. Every page state passes axe-core at
// WCAG 2.1 A/AA and breaks no rule of its Content-Security-Policy; each
// step leaves a screenshot in build/test-artifacts/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { ARTIFACTS, Broker } from './lib/broker.mjs';
import {
  axeViolations, focusIndicator, formatViolations, openBrowser, screenshot, screenshotOf, tabTo,
} from './lib/browser.mjs';

const AGREEMENT = 'smartstart-ird-number';
const ARTICLE = `#agreement-${AGREEMENT}`;
const IRD_REQUEST = {
  party: 'ird',
  agreement: AGREEMENT,
  subject: 'alice-test',
  purpose: 'issue-ird-number',
  fields: ['child.given_names', 'child.birth_date'],
};
const SUITE_TIMEOUT_MS = 60000;
const PROOF_WAIT_MS = 5000;   // a transfer is in the log by the next checkpoint (1 s)
/*
 * An optional-field checkbox. The contract says name="field" (value: the
 * field); the page names them name="field:FIELD" value="1". Both are
 * accepted: to a citizen they are the same checkbox.
 */
const optionalField = (scope) =>
  `${scope} input[type="checkbox"][name="field"], ${scope} input[type="checkbox"][name^="field:"]`;

/** The payload of a compact JWS, parsed. */
function jwtPayload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

describe('citizen web page', { timeout: SUITE_TIMEOUT_MS }, () => {
  let broker;
  let browser;
  let page;
  let broken = null;          // the step that failed; later steps are skipped
  let cspSeen = 0;            // CSP reports already attributed to a page state
  let consentId = null;

  /* A step of the one flow: skipped once an earlier step failed. */
  function step(name, fn) {
    it(name, async (t) => {
      if (broken !== null) {
        t.skip(`skipped: the step "${broken}" failed`);
        return;
      }
      try {
        await fn(t);
      } catch (e) {
        broken = name;
        if (page) await screenshot(page, `citizen-FAILED-${name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => {});
        if (broker) e.message += `\n--- consentd log tail ---\n${broker.logTail(15)}`;
        throw e;
      }
    });
  }

  /* One page state: a screenshot, zero axe violations, no CSP refusals, English by default. */
  async function checkPageState(label, shot) {
    await screenshot(page, shot);
    const v = await axeViolations(page);
    assert.equal(v.length, 0, formatViolations(label, v));
    const csp = browser.cspViolations.slice(cspSeen);
    cspSeen = browser.cspViolations.length;
    assert.deepEqual(csp, [], `the page's CSP refused something on ${label}`);
    assert.equal(await page.getAttribute('html', 'lang'), 'en', `<html lang="en"> on ${label}`);
  }

  /* Presses key on the focused element and waits for the page it loads. */
  async function pressAndWait(key) {
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press(key)]);
  }

  /* The focused element shows focus (WCAG 2.4.7); returns what it is. */
  async function assertFocusVisible(what) {
    const f = await focusIndicator(page);
    assert.ok(f.visible, `no visible focus indicator on ${what}: ${JSON.stringify(f)}`);
    return f;
  }

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    for (const f of fs.readdirSync(ARTIFACTS)) {
      if (/^citizen-.*\.png$/.test(f)) fs.rmSync(path.join(ARTIFACTS, f));
    }
    broker = new Broker();
    await broker.start();
    browser = await openBrowser();
    page = browser.page;
  });

  after(async () => {
    if (browser) await browser.close();
    if (broker) await broker.stop();
  });

  step('without a session the home page redirects to /login and on to the dev sign-in page', async () => {
    const api = page.context().request;
    const home = await api.get(`${broker.base}/`, { maxRedirects: 0 });
    assert.equal(home.status(), 303, 'GET / without a session');
    assert.match(home.headers().location ?? '', /^(https:\/\/127\.0\.0\.1:\d+)?\/login$/);
    const login = await api.get(`${broker.base}/login`, { maxRedirects: 0 });
    assert.equal(login.status(), 303, 'GET /login');
    const to = new URL(login.headers().location ?? '', broker.base);
    assert.equal(to.pathname, '/dev/authorize');
    assert.equal(to.searchParams.get('response_type'), 'code');
    assert.equal(to.searchParams.get('code_challenge_method'), 'S256');

    await page.goto(`${broker.base}/`);
    assert.equal(new URL(page.url()).pathname, '/dev/authorize');
    for (const [subject, name] of [['alice-test', 'Alice Test'], ['bob-test', 'Bob Test'], ['carol-test', 'Carol Test']]) {
      const b = page.getByRole('button', { name, exact: true });
      assert.equal(await b.count(), 1, `a "${name}" button`);
      assert.equal(await b.getAttribute('name'), 'subject');
      assert.equal(await b.getAttribute('value'), subject);
    }
    const faults = await page.locator('select[name="fault"] option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual([...faults].sort(), ['bad_signature', 'expired', 'none', 'wrong_audience', 'wrong_nonce']);
    await checkPageState('the dev sign-in page', 'citizen-01-sign-in');
  });

  step('Alice signs in and sees the SmartStart agreement with no consent given', async () => {
    const callback = page.waitForResponse((r) => new URL(r.url()).pathname === '/callback');
    await page.getByRole('button', { name: 'Alice Test', exact: true }).click();
    // The callback page ("You are signed in", checked by tests/integration/
    // test_web.c) moves on by a meta refresh; its Continue link does the same.
    assert.equal((await callback).status(), 200, 'the callback answers 200');
    try {
      await page.waitForURL(`${broker.base}/`, { timeout: 5000 });
    } catch {
      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Continue' }).click()]);
    }
    assert.equal(page.url(), `${broker.base}/`);
    const res = await page.reload();
    assert.equal(res.status(), 200);

    const csp = res.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/, `CSP: ${csp}`);
    assert.match(csp, /frame-ancestors 'none'/, `CSP: ${csp}`);
    assert.match(csp, /form-action 'self'/, `CSP: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `CSP: ${csp}`);
    assert.equal(await page.locator('script').count(), 0, 'the page has no script');
    const sheets = await page.evaluate(() => [...document.styleSheets].map((s) => s.href));
    assert.ok(sheets.some((h) => h && new URL(h).pathname === '/static/site.css'), `stylesheets: ${sheets}`);

    assert.equal(await page.locator('main#main').count(), 1, '<main id="main">');
    assert.equal(await page.locator('h1').count(), 1, 'one <h1>');
    assert.ok(await page.locator('[lang="mi"]').count() > 0, 'te reo Māori text marked lang="mi"');
    const art = page.locator(`section#agreements article${ARTICLE}`);
    assert.equal(await art.count(), 1, `${ARTICLE} in #agreements`);
    assert.match(await art.locator('h3').innerText(), /SmartStart/);
    const dl = await art.locator('dl').innerText();
    for (const w of ['dia', 'ird', 'child.given_names', 'issue-ird-number', 'Privacy Act 2020']) {
      assert.ok(dl.toLowerCase().includes(w.toLowerCase()), `the description list names ${w}:\n${dl}`);
    }
    assert.match(await art.locator('p.consent-state').innerText(), /No consent given/);
    const form = art.locator('form[method="post"][action="/ui/consents"]');
    assert.equal(await form.count(), 1, 'a consent form');
    assert.equal(await form.locator('input[type="hidden"][name="agreement"]').getAttribute('value'), AGREEMENT);
    assert.ok(((await form.locator('input[type="hidden"][name="csrf"]').getAttribute('value')) ?? '').length >= 16, 'a csrf token');
    assert.ok(await form.locator(optionalField('')).count() >= 2, 'checkboxes for the optional fields');
    const date = form.locator('input[type="date"][name="expires_on"]');
    assert.equal(await date.count(), 1, 'an expiry date input');
    assert.ok(await date.evaluate((el) => el.labels.length > 0 && el.labels[0].innerText.trim() !== ''), 'the date input has a label');
    assert.equal(await form.getByRole('button', { name: 'Give consent' }).count(), 1);
    assert.match(await page.locator('section#usage').innerText(), /No one has used your data yet\./);
    assert.equal(await page.locator('form[method="post"][action="/logout"] input[name="csrf"]').count(), 1, 'a sign-out form with csrf');
    await checkPageState('the home page before consent', 'citizen-02-home');
    await screenshotOf(art, 'citizen-02-smartstart-agreement');
  });

  step('Alice gives consent using only the keyboard', async () => {
    await page.goto(`${broker.base}/`); // focus starts at the top of the page
    // Space toggles the first optional field.
    await tabTo(page, 'an optional-field checkbox', (sel) => document.activeElement?.matches(sel),
      optionalField(ARTICLE));
    await assertFocusVisible('an optional-field checkbox');
    const box = await page.evaluate(() => {
      const el = document.activeElement;
      return { name: el.name, value: el.value, checked: el.checked };
    });
    // name="field" value="FIELD" (the contract) or name="field:FIELD" (the page)
    const toggled = box.name.startsWith('field:') ? box.name.slice(6) : box.value;
    await page.keyboard.press('Space');
    assert.equal(await page.evaluate(() => document.activeElement.checked), !box.checked, 'Space toggles the checkbox');
    await tabTo(page, 'the Give consent button', (sel) => {
      const el = document.activeElement;
      return el?.matches(sel) && el.textContent.trim() === 'Give consent';
    }, `${ARTICLE} button[type="submit"]`);
    await assertFocusVisible('the Give consent button');
    await pressAndWait('Enter');

    assert.equal(new URL(page.url()).pathname, '/');
    // The broker holds exactly what the form said: the toggled field follows its box.
    const active = (await broker.consentsOf('alice-test')).filter((c) => c.agreement === AGREEMENT && c.state === 'active');
    assert.equal(active.length, 1, 'one active SmartStart consent');
    assert.equal(active[0].fields.includes(toggled), !box.checked,
      `${toggled} ${box.checked ? 'unticked' : 'ticked'} by Space: consent fields ${active[0].fields}`);
    for (const f of IRD_REQUEST.fields) assert.ok(active[0].fields.includes(f), `required field ${f} is in the consent`);
    const flash = page.locator('p#flash[role="status"]');
    assert.equal(await flash.count(), 1, 'a status message');
    assert.match(await flash.innerText(), /Consent given\./);
    const art = page.locator(ARTICLE);
    assert.match(await art.locator('p.consent-state').innerText(), /Consent given/);
    assert.equal(await art.locator('form[action="/ui/consents"]').count(), 0, 'no consent form while consent is active');
    const revoke = art.getByRole('link', { name: 'Revoke consent' });
    const href = await revoke.getAttribute('href');
    const m = /^\/ui\/revoke\/([A-Za-z0-9_-]+)$/.exec(href ?? '');
    assert.ok(m, `revoke link: ${href}`);
    consentId = m[1];
    assert.equal(consentId, active[0].id, 'the revoke link names the consent');
    assert.equal(await art.getByRole('link', { name: 'Download receipt' }).getAttribute('href'), `/ui/receipt/${consentId}`);
    const receipt = await page.context().request.get(`${broker.base}/ui/receipt/${consentId}`);
    assert.equal(receipt.status(), 200, 'the receipt downloads');
    assert.ok((await receipt.body()).length > 0, 'the receipt is not empty');
    await checkPageState('the home page after the grant', 'citizen-03-consent-given');
    await screenshotOf(art, 'citizen-03-smartstart-consent-given');
  });

  step('ird gets a token through the library and Alice sees it under "Who used my data"', async () => {
    const r = await broker.request(IRD_REQUEST);
    assert.equal(r.code, 0, `consentctl request: ${r.stderr}`);
    const token = r.stdout.trim();
    assert.equal(token.split('.').length, 3, `a token: ${token}`);
    const { jti } = jwtPayload(token);
    assert.ok(jti, 'the token has a jti');

    await page.goto(`${broker.base}/`);
    const usage = page.locator('section#usage');
    assert.doesNotMatch(await usage.innerText(), /No one has used your data yet/);
    const rows = usage.locator('table tbody tr');
    assert.equal(await rows.count(), 1, 'one transfer row');
    const row = await rows.first().innerText();
    for (const w of ['ird', 'dia', 'child.given_names', 'child.birth_date', 'issue-ird-number', AGREEMENT]) {
      assert.ok(row.includes(w), `the row shows ${w}: ${row}`);
    }
    const proof = rows.first().getByRole('link', { name: 'Check proof' });
    assert.equal(await proof.getAttribute('href'), `/ui/proof/${jti}`);
    // Until the log's next checkpoint the proof answers 409 "Not yet".
    let pr;
    for (const end = Date.now() + PROOF_WAIT_MS; ;) {
      pr = await page.context().request.get(`${broker.base}/ui/proof/${jti}`);
      if (pr.status() !== 409 || Date.now() >= end) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(pr.status(), 200, `proof: ${await pr.text()}`);
    assert.match(pr.headers()['content-type'] ?? '', /^application\/json/);
    const p = await pr.json();
    for (const k of ['index', 'size', 'hashes', 'entry']) assert.ok(k in p, `the proof has "${k}": ${Object.keys(p)}`);
    assert.ok(Object.keys(p).some((k) => /checkpoint/.test(k)), `the proof has a checkpoint note: ${Object.keys(p)}`);
    assert.ok(Array.isArray(p.hashes), 'hashes is an array');
    assert.ok(p.index < p.size, `index ${p.index} < size ${p.size}`);
    await checkPageState('the home page with a transfer', 'citizen-04-who-used-my-data');
    await screenshotOf(usage, 'citizen-04-usage-section');
  });

  step('Alice revokes her consent, after confirming, using only the keyboard', async () => {
    await page.goto(`${broker.base}/`);
    await tabTo(page, 'the Revoke consent link', (sel) => {
      const el = document.activeElement;
      return el?.matches(sel) && el.textContent.trim() === 'Revoke consent';
    }, `${ARTICLE} a[href^="/ui/revoke/"]`);
    await assertFocusVisible('the Revoke consent link');
    await pressAndWait('Enter');

    assert.equal(new URL(page.url()).pathname, `/ui/revoke/${consentId}`);
    const form = page.locator(`form[method="post"][action="/ui/revoke/${consentId}"]`);
    assert.equal(await form.count(), 1, 'a confirmation form');
    assert.equal(await form.locator('input[type="hidden"][name="csrf"]').count(), 1);
    assert.equal(await page.locator('main#main').count(), 1, '<main id="main">');
    await checkPageState('the revoke confirmation page', 'citizen-05-revoke-confirm');

    await tabTo(page, 'the confirm button', () => document.activeElement?.textContent.trim() === 'Yes, revoke my consent');
    await assertFocusVisible('the confirm button');
    await pressAndWait('Space');

    assert.equal(new URL(page.url()).pathname, '/');
    assert.match(await page.locator('p#flash[role="status"]').innerText(), /Consent revoked\./);
    const mine = (await broker.consentsOf('alice-test')).find((c) => c.id === consentId);
    assert.equal(mine?.state, 'revoked', 'the API shows the consent revoked');
    const art = page.locator(ARTICLE);
    assert.match(await art.locator('p.consent-state').innerText(), /Consent revoked/);
    assert.equal(await art.getByRole('button', { name: 'Give consent' }).count(), 1, 'consent can be given again');
    const rev = await page.locator('section#revocations').innerText();
    assert.match(rev, /dia\W+(seen|not yet)/i, `the revocations section says whether dia has seen it:\n${rev}`);
    await checkPageState('the home page after the revocation', 'citizen-06-consent-revoked');
    await screenshotOf(page.locator('section#revocations'), 'citizen-06-revocations-section');
  });

  step('after the revocation ird\'s next token request is refused', async () => {
    const r = await broker.request(IRD_REQUEST);
    assert.equal(r.code, 1, `consentctl request should fail: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /access_denied/);
  });

  step('signing out ends the session', async () => {
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
    const home = await page.context().request.get(`${broker.base}/`, { maxRedirects: 0 });
    assert.equal(home.status(), 303, 'GET / after signing out');
    await page.goto(`${broker.base}/`);
    assert.equal(new URL(page.url()).pathname, '/dev/authorize');
  });

  step('a refused sign-in (expired ID token) says why', async () => {
    await page.selectOption('select[name="fault"]', 'expired');
    const callback = page.waitForResponse((r) => new URL(r.url()).pathname === '/callback');
    await page.getByRole('button', { name: 'Bob Test', exact: true }).click();
    const cb = await callback;
    assert.equal(cb.status(), 401);
    await page.waitForLoadState('load');
    assert.match(await page.locator('body').innerText(), /expired/i);
    await checkPageState('the refused sign-in page', 'citizen-07-sign-in-refused');
    const home = await page.context().request.get(`${broker.base}/`, { maxRedirects: 0 });
    assert.equal(home.status(), 303, 'still no session');
  });
});
