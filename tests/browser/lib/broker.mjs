// A real consentd for one browser test: a temporary dev data directory
// (consentctl init --dev), a free loopback port, --issuer set to that port
// so that the OIDC redirect URIs match, and a bounded wait for /healthz.
// stop() kills it by pid and removes the directory (CB_KEEP=1 keeps it);
// an exit hook (also on SIGINT/SIGTERM) does the same if the test process
// ends without calling stop().
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Directory of the built binaries: $CB_BUILD (relative to the cwd) or REPO/build. */
export const BUILD = path.resolve(process.env.CB_BUILD || path.join(REPO, 'build'));

/** Where screenshots go: $CB_ARTIFACTS or BUILD/test-artifacts. */
export const ARTIFACTS = path.resolve(process.env.CB_ARTIFACTS || path.join(BUILD, 'test-artifacts'));

const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;
const CMD_TIMEOUT_MS = 10000;
const START_ATTEMPTS = 4;

const running = new Set();
process.on('exit', () => {
  for (const b of running) {
    b.killNow();
    if (!process.env.CB_KEEP) fs.rmSync(b.dir, { recursive: true, force: true });
  }
});
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.once(sig, () => process.exit(code)); // runs the exit hook above
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a program; resolves {code, stdout, stderr} (never rejects on exit status). */
export function run(file, args, { timeout = CMD_TIMEOUT_MS } = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout, killSignal: 'SIGKILL', maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        let code = 0;
        if (err) code = typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
  });
}

export class Broker {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-browser-'));
    this.data = path.join(this.dir, 'data');
    this.logPath = path.join(this.dir, 'consentd.log');
    this.child = null;
    this.port = 0;
    this.base = '';
    running.add(this);
  }

  bin(name) {
    return path.join(BUILD, name);
  }

  get ca() {
    return fs.readFileSync(path.join(this.data, 'pki', 'ca.crt'));
  }

  /** consentctl init --dev, then consentd on a free port; resolves when /healthz answers 200. */
  async start() {
    for (const b of ['consentd', 'consentctl']) {
      if (!fs.existsSync(this.bin(b))) throw new Error(`no ${this.bin(b)}: build it first (make ${path.relative(REPO, this.bin(b))})`);
    }
    const init = await run(this.bin('consentctl'), ['init', '--dev', '--data', this.data,
      '--agreements', path.join(REPO, 'agreements', 'examples')]);
    if (init.code !== 0) throw new Error(`consentctl init failed (${init.code}): ${init.stderr}`);
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      this.port = await freePort();
      this.base = `https://127.0.0.1:${this.port}`;
      this.setConfigIssuer();
      const offset = fs.existsSync(this.logPath) ? fs.statSync(this.logPath).size : 0;
      const log = fs.openSync(this.logPath, 'a');
      this.child = spawn(this.bin('consentd'), ['--data', this.data, '--listen', `127.0.0.1:${this.port}`,
        '--dev', '--issuer', this.base], { stdio: ['ignore', log, log] });
      fs.closeSync(log);
      let exited = null;
      this.child.once('exit', (code, signal) => { exited = { code, signal }; });
      const end = Date.now() + START_TIMEOUT_MS;
      for (;;) {
        if (exited) {
          this.child = null;
          const text = fs.readFileSync(this.logPath, 'utf8').slice(offset);
          if (/Address already in use/.test(text)) break; // someone took the port: retry
          throw new Error(`consentd exited at start (${JSON.stringify(exited)}):\n${text}`);
        }
        if ((await this.healthz()) === 200) return this;
        if (Date.now() >= end) {
          this.killNow();
          throw new Error(`consentd did not answer /healthz within ${START_TIMEOUT_MS} ms:\n${this.logTail()}`);
        }
        await sleep(50);
      }
    }
    throw new Error(`no free port after ${START_ATTEMPTS} attempts`);
  }

  /*
   * init wrote "issuer = https://127.0.0.1:8443" into the config; consentd
   * gets --issuer, and "consentctl dev citizen-token" (which signs citizen
   * tokens for the API) reads the config, so both are set to the real port.
   */
  setConfigIssuer() {
    const conf = path.join(this.data, 'consentd.conf');
    const text = fs.readFileSync(conf, 'utf8').replace(/^issuer\s*=.*$/m, `issuer = ${this.base}`);
    fs.writeFileSync(conf, text, { mode: 0o600 });
  }

  /** GET path of the API with opts.bearer; resolves { status, json }. */
  api(p, { bearer } = {}) {
    return new Promise((resolve, reject) => {
      const headers = bearer ? { authorization: `Bearer ${bearer}` } : {};
      const req = https.get(`${this.base}${p}`, { ca: this.ca, headers, timeout: CMD_TIMEOUT_MS }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { body += d; });
        res.on('end', () => {
          let json = null;
          try { json = JSON.parse(body); } catch { /* not JSON */ }
          resolve({ status: res.statusCode, json, body });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${p} timed out`)));
      req.on('error', reject);
    });
  }

  /** The citizen's consents as the API shows them (citizen token from consentctl dev citizen-token). */
  async consentsOf(subject) {
    const t = await run(this.bin('consentctl'), ['dev', 'citizen-token', '--data', this.data, '--subject', subject]);
    if (t.code !== 0) throw new Error(`consentctl dev citizen-token: ${t.stderr}`);
    const r = await this.api('/v1/consents', { bearer: t.stdout.trim() });
    if (r.status !== 200) throw new Error(`GET /v1/consents: ${r.status} ${r.body}`);
    return r.json.consents;
  }

  healthz() {
    return new Promise((resolve) => {
      const req = https.get(`${this.base}/healthz`, { ca: this.ca, timeout: 1000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
    });
  }

  /** The last lines of consentd's log (for failure messages). */
  logTail(lines = 30) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /**
   * consentctl request as party (the library's token request).
   * Resolves {code, stdout, stderr}: 0 and the token, or 1 and the refusal.
   */
  request({ party, agreement, subject, purpose, fields }) {
    return run(this.bin('consentctl'), ['request', '--data', this.data, '--broker', this.base,
      '--party', party, '--agreement', agreement, '--subject', subject, '--purpose', purpose,
      '--fields', fields.join(',')]);
  }

  /** SIGKILL without waiting; for the exit hook. */
  killNow() {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      try { process.kill(this.child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    this.child = null;
  }

  /**
   * SIGTERM, bounded wait, SIGKILL; then removes the temporary directory
   * (kept, and its path printed, when CB_KEEP is set in the environment).
   */
  async stop() {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((resolve) => c.once('exit', resolve));
      process.kill(c.pid, 'SIGTERM');
      const t = setTimeout(() => { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }, STOP_TIMEOUT_MS);
      await gone;
      clearTimeout(t);
    }
    this.child = null;
    running.delete(this);
    if (process.env.CB_KEEP) {
      process.stderr.write(`browser test: kept ${this.dir} (consentd log ${this.logPath})\n`);
    } else {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
