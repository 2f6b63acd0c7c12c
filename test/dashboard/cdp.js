#!/usr/bin/env node
/*
 * cdp.js: drives a headless Chromium over the DevTools protocol for the
 * dashboard's tests, one JSON command a line on stdin, one JSON answer a
 * line on stdout ({"id", "ok", "value"} or {"id", "ok": false, "error"}),
 * so a Perl TAP test can ask, check and decide.
 *
 * It starts Debian's chromium itself (--headless=new, --no-sandbox: tests
 * run as root or as postgres in a container; a profile of its own in a
 * temporary directory), opens one page and records from the start every
 * problem a user would not see but a developer must: uncaught exceptions,
 * console.error, errors the browser logs, failed requests and HTTP
 * statuses of 400 and over.
 *
 * Commands ({"op": ..., "id": ...}):
 *   navigate {url}            load a page and wait for its load event
 *   eval {expr}               the value of a JavaScript expression (promises awaited)
 *   wait {expr, timeout_ms}   poll until the expression is truthy; its value
 *   key {key}                 press a key (Enter, Tab, Space, ArrowDown) in the page
 *   screenshot {path}         the whole page as PNG
 *   problems {clear}          what went wrong so far (and forget it)
 *   quit
 *
 * Usage: cdp.js [--chromium PATH] [--width 1440] [--height 900] [--dark]
 * The WebSocket client is the npm package ws, a devDependency of
 * dashboard/package.json (installed by npm ci with the chart library).
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { spawn } = require('child_process');
const { createRequire } = require('module');

const ROOT = path.resolve(__dirname, '..', '..');
const WebSocket = createRequire(path.join(ROOT, 'dashboard', 'package.json'))('ws');

const args = process.argv.slice(2);
function opt(name, dflt) {
	const i = args.indexOf('--' + name);
	return i >= 0 ? args[i + 1] : dflt;
}
const CHROMIUM = opt('chromium', process.env.CHROMIUM || '/usr/bin/chromium');
const WIDTH = Number(opt('width', 1440));
const HEIGHT = Number(opt('height', 900));
const DARK = args.includes('--dark');

const KEYS = {
	Enter: { code: 'Enter', keyCode: 13, text: '\r' },
	Tab: { code: 'Tab', keyCode: 9 },
	Space: { code: 'Space', keyCode: 32, text: ' ', key: ' ' },
	ArrowDown: { code: 'ArrowDown', keyCode: 40 },
	ArrowUp: { code: 'ArrowUp', keyCode: 38 },
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function reply(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sync-chromium-'));
	const browser = spawn(CHROMIUM, [
		'--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
		'--remote-debugging-port=0', '--user-data-dir=' + profile,
		'--no-first-run', '--no-default-browser-check', '--disable-extensions',
		'--disable-background-networking', '--disable-component-update', '--disable-sync',
		'--disable-default-apps', '--mute-audio', '--hide-scrollbars', '--force-device-scale-factor=1',
		'--window-size=' + WIDTH + ',' + HEIGHT, 'about:blank',
	], { stdio: ['ignore', 'ignore', 'pipe'] });
	let browserLog = '';
	browser.stderr.on('data', (d) => { browserLog = (browserLog + d).slice(-4000); });
	let exited = null;
	browser.on('exit', (code, sig) => { exited = code === null ? sig : code; });

	const cleanup = () => {
		try { browser.kill('SIGKILL'); } catch (e) { /* gone */ }
		try { fs.rmSync(profile, { recursive: true, force: true }); } catch (e) { /* kept */ }
	};
	process.on('exit', cleanup);
	for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => process.exit(1));

	/* Chromium writes its port and browser target in the profile */
	const portFile = path.join(profile, 'DevToolsActivePort');
	let endpoint = null;
	for (let i = 0; i < 300 && !endpoint; i++) {
		if (exited !== null) throw new Error('chromium exited (' + exited + '): ' + browserLog);
		try {
			const [port, target] = fs.readFileSync(portFile, 'utf8').split('\n');
			if (port && target) endpoint = 'ws://127.0.0.1:' + port.trim() + target.trim();
		} catch (e) { /* not yet */ }
		if (!endpoint) await sleep(100);
	}
	if (!endpoint) throw new Error('chromium did not open its DevTools port: ' + browserLog);

	const ws = new WebSocket(endpoint, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
	await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
	let nextId = 1;
	const calls = new Map();
	const handlers = [];
	ws.on('message', (data) => {
		const m = JSON.parse(data);
		if (m.id && calls.has(m.id)) {
			const { resolve, reject, method } = calls.get(m.id);
			calls.delete(m.id);
			if (m.error) reject(new Error(method + ': ' + m.error.message));
			else resolve(m.result);
		} else if (m.method) {
			for (const h of handlers) h(m);
		}
	});
	ws.on('close', () => {
		for (const { reject } of calls.values()) reject(new Error('DevTools connection closed'));
		calls.clear();
	});
	function send(method, params, sessionId) {
		const id = nextId++;
		const msg = { id, method, params: params || {} };
		if (sessionId) msg.sessionId = sessionId;
		return new Promise((resolve, reject) => {
			calls.set(id, { resolve, reject, method });
			ws.send(JSON.stringify(msg));
		});
	}

	const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
	const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
	const page = (method, params) => send(method, params, sessionId);

	const problems = [];
	const urls = new Map();
	let loaded = null;
	handlers.push((m) => {
		if (m.sessionId !== sessionId) return;
		const p = m.params;
		switch (m.method) {
		case 'Runtime.exceptionThrown': {
			const d = p.exceptionDetails;
			problems.push('exception: ' + ((d.exception && d.exception.description) || d.text) +
				(d.url ? ' at ' + d.url + ':' + d.lineNumber : ''));
			break;
		}
		case 'Runtime.consoleAPICalled':
			if (p.type === 'error' || p.type === 'assert')
				problems.push('console.' + p.type + ': ' + p.args.map((a) => a.value !== undefined ? a.value : a.description).join(' '));
			break;
		case 'Log.entryAdded':
			if (p.entry.level === 'error')
				problems.push('log (' + p.entry.source + '): ' + p.entry.text + (p.entry.url ? ' ' + p.entry.url : ''));
			break;
		case 'Network.requestWillBeSent':
			urls.set(p.requestId, p.request.url);
			break;
		case 'Network.responseReceived':
			if (p.response.status >= 400) problems.push('HTTP ' + p.response.status + ': ' + p.response.url);
			break;
		case 'Network.loadingFailed':
			if (!p.canceled) problems.push('request failed (' + p.errorText + '): ' + (urls.get(p.requestId) || '?'));
			break;
		case 'Page.loadEventFired':
			if (loaded) loaded();
			break;
		default:
		}
	});
	await page('Runtime.enable');
	await page('Log.enable');
	await page('Network.enable');
	await page('Page.enable');
	await page('Network.setCacheDisabled', { cacheDisabled: true });
	if (DARK) await page('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'dark' }] });

	async function evaluate(expr) {
		const r = await page('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true });
		if (r.exceptionDetails)
			throw new Error('evaluation failed: ' + ((r.exceptionDetails.exception && r.exceptionDetails.exception.description) || r.exceptionDetails.text));
		return r.result.value;
	}

	const ops = {
		async navigate(c) {
			const done = new Promise((resolve) => { loaded = resolve; });
			const r = await page('Page.navigate', { url: c.url });
			if (r.errorText) throw new Error('navigation failed: ' + r.errorText);
			await Promise.race([done, sleep(c.timeout_ms || 20000).then(() => { throw new Error('no load event'); })]);
			return true;
		},
		eval: (c) => evaluate(c.expr),
		async wait(c) {
			const until = Date.now() + (c.timeout_ms || 20000);
			let last;
			for (;;) {
				try {
					last = await evaluate(c.expr);
					if (last) return last;
				} catch (e) {
					last = e.message;
				}
				if (Date.now() > until) throw new Error('timed out waiting for ' + c.expr + ' (last: ' + JSON.stringify(last) + ')');
				await sleep(100);
			}
		},
		async key(c) {
			const k = KEYS[c.key];
			if (!k) throw new Error('unknown key ' + c.key);
			const base = { key: k.key || c.key, code: k.code, windowsVirtualKeyCode: k.keyCode, nativeVirtualKeyCode: k.keyCode };
			await page('Input.dispatchKeyEvent', Object.assign({ type: k.text ? 'keyDown' : 'rawKeyDown', text: k.text }, base));
			await page('Input.dispatchKeyEvent', Object.assign({ type: 'keyUp' }, base));
			return true;
		},
		async screenshot(c) {
			const m = await page('Page.getLayoutMetrics');
			const size = m.cssContentSize || m.contentSize;
			const r = await page('Page.captureScreenshot', {
				format: 'png', captureBeyondViewport: true,
				clip: { x: 0, y: 0, width: Math.ceil(size.width), height: Math.ceil(size.height), scale: 1 },
			});
			fs.writeFileSync(c.path, Buffer.from(r.data, 'base64'));
			return { width: Math.ceil(size.width), height: Math.ceil(size.height) };
		},
		problems(c) {
			const list = problems.slice();
			if (c.clear) problems.length = 0;
			return list;
		},
		quit() {
			setImmediate(() => process.exit(0));
			return true;
		},
	};

	reply({ ready: true, version: (await send('Browser.getVersion')).product });
	const rl = readline.createInterface({ input: process.stdin });
	/* one command at a time, in order */
	let chain = Promise.resolve();
	rl.on('line', (line) => {
		chain = chain.then(async () => {
			let c;
			try {
				c = JSON.parse(line);
			} catch (e) {
				return reply({ ok: false, error: 'not JSON: ' + line });
			}
			try {
				if (!ops[c.op]) throw new Error('unknown op ' + c.op);
				reply({ id: c.id, ok: true, value: await ops[c.op](c) });
			} catch (e) {
				reply({ id: c.id, ok: false, error: e.message });
			}
		});
	});
	rl.on('close', () => chain.then(() => process.exit(0)));
}

main().catch((e) => {
	reply({ ready: false, error: e.message });
	process.exit(1);
});
