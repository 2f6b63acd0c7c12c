/*
 * format.test.js: unit tests of dashboard/format.js (node --test), the
 * dashboard's readers of what the API sends: every form of time and
 * interval text PostgreSQL writes, and rows that are not bars.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const f = require(path.join(__dirname, '..', '..', 'dashboard', 'format.js'));

const T = Date.UTC(2026, 11, 1, 10, 0, 0);	/* 2026-12-01 10:00:00 UTC */

test('parseTs reads ISO 8601 and PostgreSQL time text', () => {
	assert.equal(f.parseTs('2026-12-01T10:00:00+00:00'), T);
	assert.equal(f.parseTs('2026-12-01T10:00:00Z'), T);
	assert.equal(f.parseTs('2026-12-01 10:00:00+00'), T);	/* NOTIFY payloads */
	assert.equal(f.parseTs('2026-12-01 15:30:00+05:30'), T);
	assert.equal(f.parseTs('2026-12-01 15:30:00+0530'), T);
	assert.equal(f.parseTs('2026-12-01 07:00:00-03'), T);
	assert.equal(f.parseTs('2026-12-01 10:00:00.123456+00'), T + 123);
	assert.equal(f.parseTs('2026-12-01 10:00:00'), T, 'no zone: UTC, not the browser\'s');
	assert.equal(f.parseTs('2026-12-01'), Date.UTC(2026, 11, 1));
	assert.equal(f.parseTs(' 2026-12-01T10:00:00Z '), T);
});

test('parseTs gives NaN for what is not a time', () => {
	for (const bad of [null, undefined, '', 'infinity', '-infinity', 'garbage', '2026-13-45', '10:00', 42, {}, '2026-12-01T10:00:00+00:00 extra'])
		assert.ok(Number.isNaN(f.parseTs(bad)), JSON.stringify(bad));
});

test('isoSeconds and fmtTime', () => {
	assert.equal(f.isoSeconds(T + 999), '2026-12-01T10:00:00Z');
	assert.equal(f.parseTs(f.isoSeconds(T)), T);
	assert.equal(f.fmtTime('2026-12-01 10:00:00+00'), '2026-12-01 10:00:00');
	assert.equal(f.fmtTime(null), '–');
	assert.equal(f.fmtTime('soon'), 'soon');
});

test('intervalSeconds reads PostgreSQL interval text', () => {
	const cases = {
		'00:01:00': 60, '01:00:00': 3600, '24:00:00': 86400, '00:00:00.412': 0.412,
		'1 day': 86400, '2 days': 172800, '1 day 02:00:00.5': 93600.5, '-00:00:03': -3,
		'2 mons': 5184000, '1 year 2 mons 3 days 04:05:06': 365.25 * 86400 + 60 * 86400 + 3 * 86400 + 14706,
		'-1 days +02:00:00': -86400 + 7200, '3 days -01:00:00': 3 * 86400 - 3600,
	};
	for (const [text, secs] of Object.entries(cases))
		assert.ok(Math.abs(f.intervalSeconds(text) - secs) < 1e-9, text + ' = ' + f.intervalSeconds(text));
});

test('intervalSeconds gives NaN for what is not an interval', () => {
	for (const bad of [null, undefined, '', 'abc', '1 fortnight', '1 day garbage', '1:2:3', '00:61', 'days', '1days'])
		assert.ok(Number.isNaN(f.intervalSeconds(bad)), JSON.stringify(bad));
});

test('intervalLabel and fmtLag', () => {
	assert.equal(f.intervalLabel('00:01:00'), '1m');
	assert.equal(f.intervalLabel('00:05:00'), '5m');
	assert.equal(f.intervalLabel('01:00:00'), '1h');
	assert.equal(f.intervalLabel('1 day'), '1d');
	assert.equal(f.intervalLabel('00:00:30'), '30s');
	assert.equal(f.intervalLabel(null), '–');
	assert.equal(f.intervalLabel('weird'), 'weird');
	assert.equal(f.fmtLag('00:00:00.412'), '412 ms');
	assert.equal(f.fmtLag('00:00:03.5'), '3.5 s');
	assert.equal(f.fmtLag('00:02:05'), '2 min 5 s');
	assert.equal(f.fmtLag('-00:02:05'), '-2 min 5 s');
	assert.equal(f.fmtLag('01:30:00'), '1.5 h');
	assert.equal(f.fmtLag('2 days'), '2.0 d');
	assert.equal(f.fmtLag(null), '–');
});

test('decimals: what a price needs, at most 8', () => {
	const cases = [['17200.55000000', 2], [17200.55, 2], ['17205', 0], [17205, 0], ['0.00002853', 8],
		[0.00002853, 8], [2.5e-7, 8], ['1e3', 0], ['1.25E-3', 5], ['-0.5', 1], ['0.123456789012', 8], ['abc', 0], [null, 0]];
	for (const [v, n] of cases) assert.equal(f.decimals(v), n, String(v));
});

test('convertBars: ascending, one bar a time, only bars', () => {
	const row = (ts, o, extra) => Object.assign({ ts, open: o, high: o + 2, low: o - 1, close: o + 1, volume: 3 }, extra);
	const { bars, precision } = f.convertBars([
		row('2026-12-01T10:00:00+00:00', 10.5),
		row('2026-12-01T10:01:00+00:00', 11),
		row('2026-12-01T10:01:00+00:00', 12),			/* same time: replaces */
		row('2026-12-01T09:59:00+00:00', 9),			/* out of order: left out */
		row('garbage', 13),
		row('2026-12-01T10:02:00+00:00', 'NaN'),
		row('2026-12-01T10:03:00+00:00', 14, { high: null }),
		null, 7, 'x',
		row('2026-12-01T10:04:00+00:00', 15, { volume: null }),
		row('2026-12-01T10:05:00+00:00', 16, { volume: 'lots', open: '16.125' }),
	]);
	assert.deepEqual(bars.map((b) => b.time), [0, 60, 240, 300].map((s) => T / 1000 + s));
	assert.equal(bars[1].open, 12);
	assert.equal(bars[2].volume, 0, 'a null volume is 0');
	assert.equal(bars[3].volume, 0, 'a volume that is no number is 0');
	assert.equal(bars[3].open, 16.125, 'numbers as text are read');
	assert.equal(precision, 3);
	assert.deepEqual(f.convertBars(undefined), { bars: [], precision: 0 });
	assert.deepEqual(f.convertBars({ length: 2 }), { bars: [], precision: 0 });
});
