/*
 * format.js: the dashboard's readers and writers of what the API sends,
 * pure functions with no DOM: times (ISO 8601 or PostgreSQL's text),
 * PostgreSQL interval text, counts, and /api/bars rows turned into the
 * chart's bars.  What the server sends is checked, never trusted: a value
 * that cannot be read gives NaN or a dash, and a bar that is not a bar is
 * left out, so nothing the API returns can break the page.
 *
 * In the browser it defines window.SyncFormat (loaded before app.js); in
 * Node it is a CommonJS module, for test/dashboard/format.test.js.
 */
'use strict';

(function (root) {
	const DAY = 86400;
	const MAX_DECIMALS = 8;

	/*
	 * A time as ISO 8601 ("2026-12-01T10:00:00+00:00") or PostgreSQL's text
	 * ("2026-12-01 10:00:00+00", what NOTIFY payloads hold) in ms since the
	 * epoch; NaN for anything else (null, "infinity", garbage).
	 */
	function parseTs(text) {
		if (text === null || text === undefined) return NaN;
		let t = String(text).trim();
		if (!/^\d{4}-\d\d-\d\d([ T]\d\d:\d\d(:\d\d(\.\d+)?)?)?(Z|[+-]\d\d(:?\d\d)?)?$/.test(t)) return NaN;
		t = t.replace(' ', 'T');
		/* a time without a zone is UTC, as the server reads one */
		if (t.includes('T') && !/(Z|[+-]\d\d(:?\d\d)?)$/.test(t.slice(11))) t += 'Z';
		/* "+00" and "+0530" as Date.parse wants them: "+00:00", "+05:30" */
		t = t.replace(/(T[\d:.]+[+-]\d\d)$/, '$1:00').replace(/(T[\d:.]+[+-]\d\d)(\d\d)$/, '$1:$2');
		return Date.parse(t);
	}

	/* ms to ISO 8601 in whole seconds, UTC: "2026-12-01T10:00:00Z" */
	function isoSeconds(ms) {
		return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
	}

	/* a time for people: "2026-12-01 10:00:00" (UTC); a dash for none */
	function fmtTime(text) {
		const ms = parseTs(text);
		if (!Number.isFinite(ms)) return text ? String(text) : '–';
		return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
	}

	function fmtInt(v) {
		if (v === null || v === undefined || v === '') return '–';
		const n = Number(v);
		return Number.isFinite(n) ? n.toLocaleString('en-US') : String(v);
	}

	/*
	 * PostgreSQL interval text ("00:01:00", "1 day 02:00:00.5", "2 mons",
	 * "-00:00:03", "1 year 2 mons 3 days") in seconds (a month as 30 days);
	 * NaN when it is none of those.
	 */
	function intervalSeconds(text) {
		if (text === null || text === undefined) return NaN;
		let s = String(text).trim();
		if (!s) return NaN;
		let total = 0;
		const units = {
			year: 365.25 * DAY, years: 365.25 * DAY, mon: 30 * DAY, mons: 30 * DAY,
			day: DAY, days: DAY, hour: 3600, hours: 3600, min: 60, mins: 60, sec: 1, secs: 1,
		};
		s = s.replace(/(^|\s)([+-]?\d+(?:\.\d+)?) (years?|mons?|days?|hours?|mins?|secs?)(?=\s|$)/g, (m, sp, n, u) => {
			total += Number(n) * units[u];
			return ' ';
		}).trim();
		if (s) {
			const m = /^([+-]?)(\d+):(\d\d):(\d\d(?:\.\d+)?)$/.exec(s);
			if (!m) return NaN;
			const v = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
			total += m[1] === '-' ? -v : v;
		}
		return total;
	}

	/* a bar interval as the chart names it: "00:05:00" is "5m", "1 day" "1d" */
	function intervalLabel(text) {
		const secs = intervalSeconds(text);
		if (!Number.isFinite(secs) || secs <= 0) return text ? String(text) : '–';
		if (secs % DAY === 0) return secs / DAY + 'd';
		if (secs % 3600 === 0) return secs / 3600 + 'h';
		if (secs % 60 === 0) return secs / 60 + 'm';
		return secs + 's';
	}

	/* a lag for people: "412 ms", "3.5 s", "2 min 5 s", "1.5 h", "2.0 d" */
	function fmtLag(text) {
		const secs = intervalSeconds(text);
		if (!Number.isFinite(secs)) return text ? String(text) : '–';
		const a = Math.abs(secs);
		if (a < 1) return Math.round(secs * 1000) + ' ms';
		if (a < 60) return secs.toFixed(1) + ' s';
		if (a < 3600) return (secs < 0 ? '-' : '') + Math.floor(a / 60) + ' min ' + Math.floor(a % 60) + ' s';
		if (a < DAY) return (secs / 3600).toFixed(1) + ' h';
		return (secs / DAY).toFixed(1) + ' d';
	}

	/* decimals a price needs ("17200.55000000" and 17200.55 need 2; 2.5e-7 needs 8), at most 8 */
	function decimals(value) {
		const s = String(value).trim().toLowerCase();
		const m = /^[+-]?\d*(?:\.(\d*?))?0*(?:e([+-]?\d+))?$/.exec(s);
		if (!m) return 0;
		const frac = m[1] ? m[1].length : 0;
		const exp = m[2] ? Number(m[2]) : 0;
		return Math.max(0, Math.min(MAX_DECIMALS, frac - exp));
	}

	/* a JSON number, or a number as text; NaN for anything else (null is no 0) */
	function num(v) {
		if (typeof v === 'number') return v;
		if (typeof v === 'string' && v.trim() !== '') return Number(v);
		return NaN;
	}

	/* one /api/bars row as the chart's bar (time in seconds), null if it is not one */
	function toBar(b) {
		if (!b || typeof b !== 'object') return null;
		const ms = parseTs(b.ts);
		const bar = {
			time: Math.floor(ms / 1000),
			open: num(b.open), high: num(b.high), low: num(b.low), close: num(b.close),
			volume: num(b.volume),
		};
		if (!Number.isFinite(ms) || ![bar.open, bar.high, bar.low, bar.close].every(Number.isFinite)) return null;
		if (!Number.isFinite(bar.volume)) bar.volume = 0;	/* no volume: the candle still counts */
		return bar;
	}

	/*
	 * /api/bars rows as the chart's bars: ascending with one bar a time (the
	 * library refuses anything else: a row out of order is left out, a
	 * second row of a time replaces the first), and the decimals the prices
	 * need.
	 */
	function convertBars(list) {
		let precision = 0;
		const bars = [];
		let last = -Infinity;
		for (const row of Array.isArray(list) ? list : []) {
			const bar = toBar(row);
			if (!bar) continue;
			if (bar.time > last) {
				bars.push(bar);
				last = bar.time;
			} else if (bar.time === last) {
				bars[bars.length - 1] = bar;
			} else {
				continue;
			}
			precision = Math.max(precision, decimals(row.open), decimals(row.high), decimals(row.low), decimals(row.close));
		}
		return { bars, precision };
	}

	const api = { DAY, parseTs, isoSeconds, fmtTime, fmtInt, intervalSeconds, intervalLabel, fmtLag, decimals, toBar, convertBars };
	if (typeof module === 'object' && module.exports) module.exports = api;
	else root.SyncFormat = Object.freeze(api);
})(typeof window !== 'undefined' ? window : this);
