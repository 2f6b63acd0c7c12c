/*
 * app.js: the sync dashboard's logic (no build step, no framework).
 *
 * What it shows comes from `pg_sync serve`'s read-only JSON API:
 *   /api/status   every series (sync_status() plus its gap count): the table
 *                 and the totals;
 *   /api/health   sync_health(): the badge and the components not ok;
 *   /api/sources  the sources, for the table's filter;
 *   /api/bars     the candles and volumes of the chosen series and interval;
 *   /api/events   Server-Sent Events: "bars" (a series stored rows from
 *                 `from` to `ts`: that range is fetched again and merged into
 *                 the chart with series.update(), no reload), "status" (one
 *                 series' new phase), "trades".
 * The table and health are also polled every few seconds (rows, lag and
 * progress change without a phase change).  When the event stream breaks
 * (the server restarted) the page reconnects with a growing delay and, once
 * connected again, fetches everything anew: events sent while it was away
 * are lost, the data is not.
 *
 * The chart is TradingView's lightweight-charts, v5 API (the standalone
 * build's window.LightweightCharts: chart.addSeries(CandlestickSeries, ..)).
 * Times are shown in UTC.  What the API sends is read by format.js
 * (window.SyncFormat, loaded first): numbers as PostgreSQL's exact digits
 * with Number(), and a bar whose prices are not numbers is left out rather
 * than breaking the chart.
 *
 * window.syncDashboard is a read-only hook for tests and the curious: what
 * the chart asked for and how many candles it draws.
 */
'use strict';

(function () {
	const POLL_MS = 10000;	/* the table and health when no event comes */
	const DAY = 86400;
	/* each choice: the API's interval, its length in seconds, the time
	 * window the chart asks for (ending at the series' newest data) */
	const INTERVALS = {
		'1m': { api: '1m', secs: 60, window: DAY, label: '1 minute' },
		'5m': { api: '5m', secs: 300, window: 5 * DAY, label: '5 minutes' },
		'15m': { api: '15m', secs: 900, window: 15 * DAY, label: '15 minutes' },
		'1h': { api: '1h', secs: 3600, window: 60 * DAY, label: '1 hour' },
		'1d': { api: '1d', secs: DAY, window: 730 * DAY, label: '1 day (UTC)' },
		/* a session's day opens on the UTC day of its trading date (XNYS:
		 * 13:30 or 14:30 UTC), so UTC days bound its buckets too */
		'1d-XNYS': { api: '1d', session: 'XNYS', secs: DAY, window: 730 * DAY, label: 'session days (XNYS)' },
	};
	const MAX_VISIBLE = 300;	/* candles shown at first; scroll for the rest */

	const $ = (id) => document.getElementById(id);
	const LC = window.LightweightCharts;
	const { parseTs, isoSeconds, fmtTime, fmtInt, intervalSeconds, intervalLabel, fmtLag, convertBars } = window.SyncFormat;

	const state = {
		series: [],			/* /api/status rows */
		statusLoaded: false,
		health: null,
		sources: [],
		sourceFilter: '',
		selected: '',		/* chart series key: source + SEP + symbol */
		interval: '1m',
		range: null,		/* what the chart shows: {source, symbol, interval, from, to} (ms) */
		bars: [],			/* the candles drawn, ascending */
		index: new Map(),	/* time -> position in bars */
		loadSeq: 0,
		loading: false,
		lastLoad: null,
		pend: null,			/* live range waiting to be fetched */
		liveBusy: false,
		precision: -1,
		es: null,
		esRetryMs: 1000,
		esTimer: null,
		esBroken: false,
		events: { bars: 0, trades: 0, status: 0, reconnects: 0 },
		rowEls: new Map(),
		newest: new Map(),	/* series key -> where its data ends, when found older than synced_through */
		pollTimer: null,
		statusSoon: null,
		healthSoon: null,
		renderSoon: null,
	};
	const SEP = '\u0001';

	let chart = null;
	let candles = null;
	let volumes = null;

	/* ---------- small helpers ---------- */

	function seriesKey(source, symbol) { return source + SEP + symbol; }
	function rowKey(s) { return [s.source, s.symbol, s.dataset, s.bar_interval].join(SEP); }

	/* GET a JSON route; rejects with the server's {"error"} text when not 2xx */
	async function api(path) {
		const r = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
		let body = null;
		try {
			body = await r.json();
		} catch (e) {
			body = null;
		}
		if (!r.ok) {
			const why = body && typeof body.error === 'string' ? body.error : r.status + ' ' + r.statusText;
			throw new Error(why);
		}
		if (!body || typeof body !== 'object') throw new Error('not JSON: ' + path);
		return body;
	}

	function css(name) {
		return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
	}

	function setText(el, text) {
		if (el.textContent !== text) el.textContent = text;
	}

	function debounce(slot, fn, ms) {
		if (state[slot]) return;
		state[slot] = setTimeout(() => {
			state[slot] = null;
			fn();
		}, ms);
	}

	/* ---------- connection indicator ---------- */

	function setConn(kind, text) {
		const el = $('conn');
		el.dataset.state = kind;
		setText(el, text);
	}

	/* ---------- status table and totals ---------- */

	async function refreshStatus() {
		try {
			const body = await api('/api/status');
			state.series = Array.isArray(body.series) ? body.series : [];
			state.statusLoaded = true;
			renderStatus();
			setText($('updated'), 'updated ' + new Date().toISOString().slice(11, 19) + ' UTC');
			if (!state.es || state.es.readyState !== EventSource.OPEN) {
				if (state.esBroken) setConn('down', 'live updates reconnecting…');
			}
		} catch (e) {
			setConn('down', 'server unreachable: ' + e.message);
		}
	}

	function renderStatus() {
		renderTotals();
		renderTable();
		renderSeriesSelect();
	}

	function renderTotals() {
		let rows = 0, rejects = 0, gaps = 0, errors = 0;
		for (const s of state.series) {
			rows += Number(s.rows_stored) || 0;
			rejects += Number(s.rows_rejected) || 0;
			gaps += Number(s.gaps) || 0;
			if (s.phase === 'error' || s.phase === 'retrying') errors++;
		}
		setText($('total-series'), fmtInt(state.series.length));
		setText($('total-rows'), fmtInt(rows));
		setText($('total-rejects'), fmtInt(rejects));
		setText($('total-gaps'), fmtInt(gaps));
		setText($('total-errors'), fmtInt(errors));
		$('total-rejects').dataset.alert = rejects > 0 ? 'yes' : 'no';
		$('total-gaps').dataset.alert = gaps > 0 ? 'yes' : 'no';
		$('total-errors').dataset.alert = errors > 0 ? 'yes' : 'no';
	}

	function compareSeries(a, b) {
		return String(a.source).localeCompare(String(b.source)) ||
			String(a.symbol).localeCompare(String(b.symbol)) ||
			String(a.dataset).localeCompare(String(b.dataset)) ||
			(intervalSeconds(a.bar_interval) || 0) - (intervalSeconds(b.bar_interval) || 0);
	}

	function makeRow(s) {
		const tr = document.createElement('tr');
		const names = ['source', 'symbol', 'dataset', 'interval', 'phase', 'progress', 'synced', 'lag', 'rows', 'rejects', 'gaps', 'error'];
		for (const n of names) {
			const td = document.createElement('td');
			td.dataset.col = n;
			if (['lag', 'rows', 'rejects', 'gaps'].includes(n)) td.className = 'num';
			tr.appendChild(td);
		}
		const button = document.createElement('button');
		button.type = 'button';
		button.className = 'symbol';
		tr.cells[1].appendChild(button);
		const pill = document.createElement('span');
		pill.className = 'pill';
		tr.cells[4].appendChild(pill);
		/* a click anywhere on the row charts it; the button is the keyboard's way */
		tr.addEventListener('click', () => selectSeries(tr.dataset.key, true));
		button.addEventListener('click', (ev) => {
			ev.stopPropagation();
			selectSeries(tr.dataset.key, true);
		});
		return tr;
	}

	function fillProgress(td, s) {
		const p = s.backfill_progress === null || s.backfill_progress === undefined ? NaN : Number(s.backfill_progress);
		if (!Number.isFinite(p)) {
			if (td.firstChild) td.replaceChildren();
			setText(td, '–');
			return;
		}
		let wrap = td.querySelector('.progress');
		if (!wrap) {
			td.textContent = '';
			wrap = document.createElement('div');
			wrap.className = 'progress';
			wrap.setAttribute('role', 'progressbar');
			wrap.setAttribute('aria-valuemin', '0');
			wrap.setAttribute('aria-valuemax', '100');
			const track = document.createElement('div');
			track.className = 'track';
			const fill = document.createElement('div');
			fill.className = 'fill';
			track.appendChild(fill);
			const pct = document.createElement('span');
			pct.className = 'pct';
			wrap.append(track, pct);
			td.appendChild(wrap);
		}
		const pct = Math.max(0, Math.min(1, p)) * 100;
		wrap.querySelector('.fill').style.width = pct.toFixed(1) + '%';
		setText(wrap.querySelector('.pct'), pct.toFixed(pct < 10 ? 1 : 0) + '%');
		wrap.setAttribute('aria-valuenow', pct.toFixed(1));
		wrap.setAttribute('aria-label', 'backfill of ' + s.symbol + ' ' + pct.toFixed(1) + '% done');
		wrap.dataset.done = pct >= 100 ? 'yes' : 'no';
	}

	function fillRow(tr, s) {
		const key = seriesKey(s.source, s.symbol);
		tr.dataset.key = key;
		if (key === state.selected) tr.setAttribute('aria-current', 'true');
		else tr.removeAttribute('aria-current');
		const c = tr.cells;
		setText(c[0], String(s.source));
		const button = c[1].firstChild;
		setText(button, String(s.symbol));
		button.setAttribute('aria-label', 'chart ' + s.source + ' ' + s.symbol);
		setText(c[2], String(s.dataset || '–'));
		setText(c[3], intervalLabel(s.bar_interval));
		const pill = c[4].firstChild;
		pill.dataset.phase = String(s.phase || 'unknown');
		setText(pill, String(s.phase || '–'));
		fillProgress(c[5], s);
		setText(c[6], fmtTime(s.synced_through));
		setText(c[7], s.lag === null || s.lag === undefined ? '–' : fmtLag(s.lag));
		setText(c[8], fmtInt(s.rows_stored));
		setText(c[9], fmtInt(s.rows_rejected));
		c[9].classList.toggle('alert', Number(s.rows_rejected) > 0);
		setText(c[10], fmtInt(s.gaps));
		c[10].classList.toggle('alert', Number(s.gaps) > 0);
		let err = s.last_error ? String(s.last_error) : '';
		if (err && s.retry_at) err += ' (retry at ' + fmtTime(s.retry_at) + ')';
		setText(c[11], err || '–');
		/* an error of a series that has since recovered is history: not in red */
		c[11].className = err && (s.phase === 'error' || s.phase === 'retrying') ? 'err' : 'muted';
		c[11].title = s.last_error_at ? 'at ' + fmtTime(s.last_error_at) + ' UTC' : '';
	}

	function renderTable() {
		const body = $('series-body');
		const rows = state.series
			.filter((s) => !state.sourceFilter || s.source === state.sourceFilter)
			.sort(compareSeries);
		const seen = new Set();
		rows.forEach((s, i) => {
			const k = rowKey(s);
			let tr = state.rowEls.get(k);
			if (!tr) {
				tr = makeRow(s);
				state.rowEls.set(k, tr);
			}
			fillRow(tr, s);
			if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
			seen.add(k);
		});
		for (const [k, tr] of state.rowEls) {
			if (!seen.has(k)) {
				tr.remove();
				state.rowEls.delete(k);
			}
		}
		$('series-empty').hidden = !(state.statusLoaded && rows.length === 0);
	}

	/* ---------- health ---------- */

	async function refreshHealth() {
		try {
			state.health = await api('/api/health');
		} catch (e) {
			state.health = { status: 'unknown', components: [], error: e.message };
		}
		renderHealth();
	}

	function renderHealth() {
		const h = state.health || { status: 'unknown', components: [] };
		const status = ['ok', 'degraded', 'down'].includes(h.status) ? h.status : 'unknown';
		const badge = $('health-badge');
		badge.dataset.status = status;
		setText(badge, 'health: ' + (h.status || 'unknown'));
		const comps = Array.isArray(h.components) ? h.components : [];
		const bad = comps.filter((c) => c.status !== 'ok');
		const list = $('health-list');
		list.replaceChildren();
		for (const c of bad) {
			const li = document.createElement('li');
			const pill = document.createElement('span');
			pill.className = 'pill';
			pill.dataset.status = String(c.status);
			pill.textContent = String(c.status);
			const name = document.createElement('span');
			name.className = 'component';
			name.textContent = String(c.component);
			const detail = document.createElement('span');
			detail.className = 'detail';
			detail.textContent = c.detail ? String(c.detail) : '';
			li.append(pill, name, detail);
			list.appendChild(li);
		}
		let summary;
		if (h.error) summary = 'health unavailable: ' + h.error;
		else if (comps.length === 0) summary = 'no components reported';
		else if (bad.length === 0) summary = 'all ' + comps.length + ' components ok';
		else summary = bad.length + ' of ' + comps.length + ' components not ok:';
		setText($('health-summary'), summary);
	}

	/* ---------- sources (the table's filter) ---------- */

	async function refreshSources() {
		try {
			const body = await api('/api/sources');
			state.sources = Array.isArray(body.sources) ? body.sources : [];
		} catch (e) {
			return;	/* the filter keeps its choices; status shows the failure */
		}
		const sel = $('source-filter');
		const names = state.sources.map((s) => String(s.name)).sort();
		const keep = sel.value;
		sel.replaceChildren(new Option('all sources', ''));
		for (const n of names) {
			const src = state.sources.find((s) => s.name === n);
			sel.appendChild(new Option(src && src.provider ? n + ' (' + src.provider + ')' : n, n));
		}
		sel.value = names.includes(keep) ? keep : '';
		state.sourceFilter = sel.value;
	}

	/* ---------- choosing what to chart ---------- */

	function chartableKeys() {
		const keys = [];
		const seen = new Set();
		for (const s of state.series.slice().sort(compareSeries)) {
			const k = seriesKey(s.source, s.symbol);
			if (!seen.has(k)) {
				seen.add(k);
				keys.push(k);
			}
		}
		return keys;
	}

	function renderSeriesSelect() {
		const sel = $('series-select');
		const keys = chartableKeys();
		const have = Array.from(sel.options).map((o) => o.value);
		if (keys.length && (have.length !== keys.length || have.some((v, i) => v !== keys[i]))) {
			sel.replaceChildren();
			for (const k of keys) {
				const [source, symbol] = k.split(SEP);
				sel.appendChild(new Option(source + ' · ' + symbol, k));
			}
		}
		if (!state.selected && keys.length) {
			/* first choice: the first series with bars stored */
			const withBars = state.series.slice().sort(compareSeries)
				.find((s) => s.dataset === 'bars' && Number(s.rows_stored) > 0);
			const s = withBars || state.series.slice().sort(compareSeries)[0];
			selectSeries(seriesKey(s.source, s.symbol), false);
		} else if (state.selected && keys.includes(state.selected)) {
			sel.value = state.selected;
		}
	}

	function selectSeries(key, fromTable) {
		if (!key) return;
		const changed = key !== state.selected;
		state.selected = key;
		$('series-select').value = key;
		for (const tr of state.rowEls.values()) {
			if (tr.dataset.key === key) tr.setAttribute('aria-current', 'true');
			else tr.removeAttribute('aria-current');
		}
		saveHash();
		if (changed || !state.range) loadChart();
		if (fromTable) $('chart-section').scrollIntoView({ block: 'nearest' });
	}

	function selectInterval(name) {
		if (!INTERVALS[name]) return;
		state.interval = name;
		$('interval-select').value = name;
		saveHash();
		loadChart();
	}

	function saveHash() {
		if (!state.selected) return;
		const [source, symbol] = state.selected.split(SEP);
		const p = new URLSearchParams({ source, symbol, interval: state.interval });
		history.replaceState(null, '', '#' + p.toString());
	}

	function readHash() {
		const p = new URLSearchParams(location.hash.slice(1));
		if (INTERVALS[p.get('interval')]) state.interval = p.get('interval');
		if (p.get('source') && p.get('symbol')) state.selected = seriesKey(p.get('source'), p.get('symbol'));
		$('interval-select').value = state.interval;
	}

	/* ---------- the chart ---------- */

	function chartColors() {
		return {
			panel: css('--panel'), text: css('--muted'), grid: css('--grid'), border: css('--border'),
			up: css('--up'), down: css('--down'),
		};
	}

	function applyTheme() {
		if (!chart) return;
		const c = chartColors();
		chart.applyOptions({
			layout: { background: { type: LC.ColorType.Solid, color: c.panel }, textColor: c.text },
			grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
			rightPriceScale: { borderColor: c.border },
			timeScale: { borderColor: c.border },
		});
		candles.applyOptions({ upColor: c.up, downColor: c.down, wickUpColor: c.up, wickDownColor: c.down });
		volUp = c.up + '80';
		volDown = c.down + '80';
		if (state.bars.length) volumes.setData(state.bars.map(volumeOf));
	}

	function makeChart() {
		const el = $('chart');
		if (!LC || typeof LC.createChart !== 'function') {
			el.textContent = 'The chart library (lightweight-charts.standalone.production.js) is not installed: see docs/dashboard.md.';
			return;
		}
		chart = LC.createChart(el, {
			autoSize: true,
			layout: { attributionLogo: false, fontFamily: getComputedStyle(document.body).fontFamily },
			timeScale: { timeVisible: true, secondsVisible: false },
			crosshair: { mode: LC.CrosshairMode.Normal },
			localization: { locale: 'en-US' },
		});
		candles = chart.addSeries(LC.CandlestickSeries, { borderVisible: false });
		candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.26 } });
		/* volume on an overlay scale of its own, in the bottom fifth */
		volumes = chart.addSeries(LC.HistogramSeries, {
			priceFormat: { type: 'volume' },
			priceScaleId: '',
			lastValueVisible: false,
			priceLineVisible: false,
		});
		volumes.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
		applyTheme();
		chart.subscribeCrosshairMove((param) => {
			const bar = param && param.time !== undefined ? param.seriesData.get(candles) : null;
			renderLegend(bar ? state.bars[state.index.get(bar.time)] || bar : null);
		});
		if (window.matchMedia) window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);
	}

	function candleOf(b) { return { time: b.time, open: b.open, high: b.high, low: b.low, close: b.close }; }
	/* volume bars in the candle's colour, half transparent */
	let volUp = '#08998180', volDown = '#f2364580';
	function volumeOf(b) {
		return { time: b.time, value: b.volume, color: b.close >= b.open ? volUp : volDown };
	}

	function setPrecision(p) {
		if (p === state.precision) return;
		state.precision = p;
		candles.applyOptions({ priceFormat: { type: 'price', precision: p, minMove: Math.pow(10, -p) } });
	}

	function renderLegend(bar) {
		const el = $('chart-legend');
		el.replaceChildren();
		if (!state.range) return;
		const iv = INTERVALS[state.range.interval];
		const title = document.createElement('b');
		title.textContent = state.range.symbol + ' · ' + iv.label;
		el.appendChild(title);
		const b = bar || state.bars[state.bars.length - 1];
		if (!b) return;
		const p = Math.max(0, state.precision);
		const dir = b.close >= b.open ? 'up' : 'down';
		const parts = [
			['', new Date(b.time * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC'],
			['O ', b.open.toFixed(p)], ['H ', b.high.toFixed(p)], ['L ', b.low.toFixed(p)], ['C ', b.close.toFixed(p)],
			['V ', b.volume.toLocaleString('en-US', { maximumFractionDigits: 4 })],
		];
		parts.forEach(([k, v], i) => {
			const span = document.createElement('span');
			span.textContent = k + v;
			if (i >= 1 && i <= 4) span.className = dir;
			el.appendChild(span);
		});
	}

	function barsUrl(r, fromMs, toMs) {
		const iv = INTERVALS[r.interval];
		const p = new URLSearchParams({
			source: r.source, symbol: r.symbol, interval: iv.api, from: isoSeconds(fromMs), to: isoSeconds(toMs),
		});
		if (iv.session) p.set('session', iv.session);
		return '/api/bars?' + p.toString();
	}

	/*
	 * The window for a series: ending after its newest data, which is its
	 * synced_through (now if it has none) unless a look found older data
	 * (a series whose data ends in the past and that is synced through now).
	 */
	function computeRange(key, name) {
		const [source, symbol] = key.split(SEP);
		const iv = INTERVALS[name];
		let end = state.newest.has(key) ? state.newest.get(key) : NaN;
		if (!Number.isFinite(end)) {
			for (const s of state.series) {
				if (s.source !== source || s.symbol !== symbol) continue;
				const t = parseTs(s.synced_through);
				if (Number.isFinite(t) && !(end >= t)) end = t;
			}
		}
		if (!Number.isFinite(end)) end = Date.now();
		const step = iv.secs * 1000;
		return {
			source, symbol, interval: name,
			from: Math.floor((end - iv.window * 1000) / step) * step,
			to: Math.floor(end / step) * step + step,
		};
	}

	/*
	 * The end of the newest UTC day with bars before r.to (ms), NaN if none
	 * in fifty years: daily bars, ascending, asked again from where a
	 * truncated answer stopped.
	 */
	async function newestData(r) {
		const q = { source: r.source, symbol: r.symbol, interval: '1d' };
		let from = r.to - 50 * 366 * DAY * 1000;
		let last = NaN;
		for (let i = 0; i < 20; i++) {
			let body;
			try {
				body = await api(barsUrl(q, from, r.to));
			} catch (e) {
				break;
			}
			const bars = convertBars(body.bars).bars;
			if (bars.length) last = bars[bars.length - 1].time * 1000;
			if (body.truncated !== true || !bars.length) break;
			from = last + DAY * 1000;
		}
		return Number.isFinite(last) ? last + DAY * 1000 : NaN;
	}

	/* a series of trades only has no 1-minute bars of its own: its bars are the rollups' */
	function tradesHint(r) {
		if (r.interval !== '1m') return '';
		const rows = state.series.filter((s) => s.source === r.source && s.symbol === r.symbol);
		return rows.length && rows.every((s) => s.dataset === 'trades') ?
			' (a series of trades: its bars start at 5 minutes, rolled up from its trades)' : '';
	}

	async function loadChart() {
		if (!chart || !state.selected) return;
		const seq = ++state.loadSeq;
		const r = computeRange(state.selected, state.interval);
		state.range = r;
		state.loading = true;
		state.pend = null;	/* the full load covers whatever was waiting */
		$('chart').setAttribute('aria-busy', 'true');
		setText($('chart-note'), 'loading ' + r.symbol + '…');
		let note;
		let result = { bars: [], precision: 2 };
		let truncated = false;
		try {
			let body = await api(barsUrl(r, r.from, r.to));
			if (seq !== state.loadSeq) return;
			if (body.bars && body.bars.length === 0 && !state.newest.has(state.selected)) {
				/* nothing where synced_through points: look for where the data ends */
				const key = state.selected;
				const newest = await newestData(r);
				if (seq !== state.loadSeq) return;
				if (Number.isFinite(newest) && newest < r.to) {
					state.newest.set(key, newest);
					Object.assign(r, computeRange(key, r.interval));
					body = await api(barsUrl(r, r.from, r.to));
					if (seq !== state.loadSeq) return;
				}
			}
			result = convertBars(body.bars);
			truncated = body.truncated === true;
			note = result.bars.length + ' bars from ' + fmtTime(isoSeconds(r.from)) + ' to ' + fmtTime(isoSeconds(r.to)) + ' UTC' +
				(truncated ? ' — truncated by the server\'s row limit: the newest bars are not shown' : '') +
				(result.bars.length === 0 ? ' — nothing stored in this range' + tradesHint(r) : '');
		} catch (e) {
			if (seq !== state.loadSeq) return;
			note = 'could not load bars: ' + e.message;
		}
		state.bars = result.bars;
		state.index = new Map(result.bars.map((b, i) => [b.time, i]));
		state.precision = -1;
		setPrecision(result.bars.length ? result.precision : 2);
		candles.setData(result.bars.map(candleOf));
		volumes.setData(result.bars.map(volumeOf));
		const n = result.bars.length;
		if (n > MAX_VISIBLE) chart.timeScale().setVisibleLogicalRange({ from: n - MAX_VISIBLE, to: n + 2 });
		else chart.timeScale().fitContent();
		state.lastLoad = { count: n, truncated };
		state.loading = false;
		$('chart').removeAttribute('aria-busy');
		$('chart').setAttribute('aria-label', 'Candlestick chart of ' + r.symbol + ' (' + r.source + '), ' +
			INTERVALS[r.interval].label + ', ' + n + ' bars');
		setText($('chart-note'), note);
		renderLegend(null);
		if (state.pend) runLive();
	}

	/* ---------- live bars ---------- */

	function queueLive(fromText, toText) {
		const f = parseTs(fromText), t = parseTs(toText);
		if (!Number.isFinite(f) || !Number.isFinite(t)) return;
		const p = state.pend;
		state.pend = p ? { from: Math.min(p.from, f), to: Math.max(p.to, t) } : { from: Math.min(f, t), to: Math.max(f, t) };
		if (!state.liveBusy && !state.loading) runLive();
	}

	/* Fetch the waiting range again (one request at a time) and merge it */
	async function runLive() {
		if (state.liveBusy) return;
		state.liveBusy = true;
		try {
			while (state.pend && !state.loading) {
				const p = state.pend;
				state.pend = null;
				const r = state.range;
				if (!r) break;
				const seq = state.loadSeq;
				const step = INTERVALS[r.interval].secs * 1000;
				const from = Math.max(Math.floor(p.from / step) * step, r.from);
				const to = Math.floor(p.to / step) * step + step;
				if (to <= from) continue;
				let body;
				try {
					body = await api(barsUrl(r, from, to));
				} catch (e) {
					setText($('chart-note'), 'live update failed: ' + e.message);
					continue;
				}
				if (seq !== state.loadSeq || state.loading) break;	/* a reload covers it */
				if (to > r.to) r.to = to;	/* the window grows with what arrives */
				mergeBars(convertBars(body.bars));
			}
		} finally {
			state.liveBusy = false;
		}
		/* what came while a reload made this pass stop */
		if (state.pend && !state.loading) runLive();
	}

	function sameBar(a, b) {
		return a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close && a.volume === b.volume;
	}

	function mergeBars(fresh) {
		if (!fresh.bars.length) return;
		if (fresh.precision > state.precision) setPrecision(fresh.precision);
		const data = state.bars;
		let last = data.length ? data[data.length - 1].time : -Infinity;
		if (fresh.bars.some((b) => b.time < last && !state.index.has(b.time))) {
			/* bars inside what is drawn (a hole filled): draw it all again */
			const byTime = new Map(data.map((b) => [b.time, b]));
			for (const b of fresh.bars) byTime.set(b.time, b);
			state.bars = Array.from(byTime.values()).sort((a, b) => a.time - b.time);
			state.index = new Map(state.bars.map((b, i) => [b.time, i]));
			const range = chart.timeScale().getVisibleLogicalRange();
			candles.setData(state.bars.map(candleOf));
			volumes.setData(state.bars.map(volumeOf));
			if (range) chart.timeScale().setVisibleLogicalRange(range);
		} else {
			for (const b of fresh.bars) {
				if (b.time <= last) {
					const i = state.index.get(b.time);
					if (sameBar(data[i], b)) continue;
					data[i] = b;
					candles.update(candleOf(b), b.time < last);
					volumes.update(volumeOf(b), b.time < last);
				} else {
					state.index.set(b.time, data.length);
					data.push(b);
					candles.update(candleOf(b));
					volumes.update(volumeOf(b));
					last = b.time;
				}
			}
		}
		const r = state.range;
		setText($('chart-note'), state.bars.length + ' bars from ' + fmtTime(isoSeconds(r.from)) + ' to ' +
			fmtTime(isoSeconds(r.to)) + ' UTC · live: last update ' + new Date().toISOString().slice(11, 19) + ' UTC');
		renderLegend(null);
	}

	/* ---------- Server-Sent Events ---------- */

	function parseEvent(e) {
		try {
			const v = JSON.parse(e.data);
			return v && typeof v === 'object' ? v : null;
		} catch (err) {
			console.warn('sync dashboard: an event that is not JSON was ignored', e.type);
			return null;
		}
	}

	function onBars(ev) {
		state.events.bars++;
		state.newest.delete(seriesKey(ev.source, ev.symbol));	/* it has newer data now */
		if (state.selected === seriesKey(ev.source, ev.symbol)) queueLive(ev.from, ev.ts);
		/* the table's row counts grow too: ask again, at most every 3 seconds
		 * (the route counts gaps: the slowest one on a large database) */
		debounce('statusSoon', refreshStatus, 3000);
	}

	/*
	 * A series' new row (without gaps: the row keeps the last count).  A
	 * stream begins with every series' row, so rows are merged at once and
	 * drawn together a moment later.  phase null: the series is gone.
	 */
	function onStatus(row) {
		state.events.status++;
		const k = rowKey(row);
		const i = state.series.findIndex((s) => rowKey(s) === k);
		if (row.phase === null) {
			if (i >= 0) state.series.splice(i, 1);
		} else if (i < 0) {
			state.series.push(Object.assign({ gaps: 0 }, row));
		} else {
			state.series[i] = Object.assign({}, state.series[i], row);
		}
		debounce('renderSoon', renderStatus, 100);
		debounce('healthSoon', refreshHealth, 500);
	}

	function connectEvents() {
		clearTimeout(state.esTimer);
		state.esTimer = null;
		if (state.es) state.es.close();
		const es = new EventSource('/api/events');
		state.es = es;
		es.addEventListener('open', () => {
			if (es !== state.es) return;
			setConn('live', 'live');
			state.esRetryMs = 1000;
			if (state.esBroken) {
				/* back after a break: what changed meanwhile is fetched, not replayed */
				state.esBroken = false;
				state.events.reconnects++;
				refreshAll();
				loadChart();
			}
		});
		es.addEventListener('error', () => {
			if (es !== state.es) return;
			state.esBroken = true;
			if (es.readyState === EventSource.CLOSED) {
				/* the browser gave up (an error status): try again ourselves, later and later */
				setConn('down', 'live updates lost: retrying in ' + Math.round(state.esRetryMs / 1000) + ' s');
				es.close();
				state.esTimer = setTimeout(connectEvents, state.esRetryMs);
				state.esRetryMs = Math.min(state.esRetryMs * 2, 30000);
			} else {
				setConn('connecting', 'reconnecting…');
			}
		});
		es.addEventListener('bars', (e) => {
			const ev = parseEvent(e);
			if (ev) onBars(ev);
		});
		es.addEventListener('trades', (e) => {
			if (parseEvent(e)) {
				state.events.trades++;
				debounce('statusSoon', refreshStatus, 3000);
			}
		});
		es.addEventListener('status', (e) => {
			const ev = parseEvent(e);
			if (ev) onStatus(ev);
		});
	}

	/* ---------- polling ---------- */

	function refreshAll() {
		return Promise.all([refreshSources().then(renderTable), refreshStatus(), refreshHealth()]);
	}

	function poll() {
		clearTimeout(state.pollTimer);
		const next = () => { state.pollTimer = setTimeout(poll, POLL_MS); };
		if (document.hidden) return next();
		Promise.all([refreshStatus(), refreshHealth()]).then(next, next);
	}

	/* ---------- the read-only hook ---------- */

	window.syncDashboard = Object.freeze({
		/* candles drawn, read from the chart library itself */
		candleCount: () => (candles ? candles.data().length : 0),
		volumeCount: () => (volumes ? volumes.data().length : 0),
		/* what the chart shows: the /api/bars parameters of the whole window */
		range: () => {
			const r = state.range;
			if (!r) return null;
			const iv = INTERVALS[r.interval];
			return { source: r.source, symbol: r.symbol, interval: iv.api, session: iv.session || null,
				choice: r.interval, from: isoSeconds(r.from), to: isoSeconds(r.to) };
		},
		/* no chart load or live fetch under way or waiting */
		idle: () => !!state.range && !state.loading && !state.liveBusy && !state.pend,
		statusLoaded: () => state.statusLoaded,
		connected: () => !!state.es && state.es.readyState === EventSource.OPEN,
		events: () => Object.assign({}, state.events),
		lastLoad: () => state.lastLoad && Object.assign({}, state.lastLoad),
		tableRows: () => $('series-body').rows.length,
	});

	/* ---------- start ---------- */

	function start() {
		readHash();
		makeChart();
		$('series-select').addEventListener('change', (e) => selectSeries(e.target.value, false));
		$('interval-select').addEventListener('change', (e) => selectInterval(e.target.value));
		$('source-filter').addEventListener('change', (e) => {
			state.sourceFilter = e.target.value;
			renderTable();
		});
		for (const f of [$('chart-controls'), $('table-controls')]) f.addEventListener('submit', (e) => e.preventDefault());
		connectEvents();
		refreshAll().then(() => {
			if (state.selected && !state.range) loadChart();
			state.pollTimer = setTimeout(poll, POLL_MS);
		});
		document.addEventListener('visibilitychange', () => {
			if (!document.hidden) poll();
		});
	}

	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
	else start();
})();
