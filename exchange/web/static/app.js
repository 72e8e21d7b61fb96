// gpux market page (算力超市): read-only, hand-written, no framework, no CDN.
// Money arrives as integer fen and stays integer until formatted here; times arrive as
// epoch seconds and are shown in market time (the catalog's UTC offset).
"use strict";

const T = {
  zh: {
    title: "算力超市", nav_overview: "行情总览", nav_compare: "比价选购", nav_dayahead: "日前市场",
    live_on: "实时", live_off: "未连接", lang: "English", tz: "市场时间 UTC+", footer:
      "gpux 开放算力交易所 · 只读页面：价格为每卡时（人民币元），下单请用 gpux 命令行或 gRPC 接口。",
    day: "日期", gpu_class: "卡型", region: "区域", all: "全部", hour: "时段", ask: "卖", bid: "买", vol: "成交",
    per_pf: "/PF·时", cheap: "便宜", dear: "贵", scale: "颜色：卖价 ¥/PFLOP·时",
    OPEN: "交易中", HALTED: "暂停", CLOSED: "已闭市", CALL: "集合竞价", UNLISTED: "未上市",
    slot: "交割时段", gate: "闭市时间", memory: "显存", tflops: "FP16 算力", last: "最新价", volume: "成交量(卡时)",
    book: "买卖盘", price: "价格", qty: "数量", orders: "订单数", trades: "最近成交", time: "时间", side: "方向",
    chart: "成交价走势", no_trades: "暂无成交", back: "返回总览",
    gpus: "卡数", spec: "规格", min_memory: "显存 ≥ (GB)", min_tflops: "FP16 算力 ≥ (TFLOPS)", hours: "连续小时",
    from: "最早开始", to: "最晚开始", voucher: "算力券补贴 (%)", any_region: "任意区域", find: "查找最便宜方案",
    rank: "#", start: "开始", value: "合约金额", fees: "手续费(估)", subsidy: "补贴", payable: "应付",
    pflop: "¥/PFLOP·时", buy_with: "下单命令", options: "个可行方案，按应付金额排序", none: "当前卖盘无法满足该需求",
    da_days: "已出清的交割日", da_none: "尚无日前市场结果", welfare: "社会福利", status: "状态",
    booked: "已记账", failed: "失败", cleared: "已出清", products: "各区域小时价格", blocks: "整块订单（匿名）",
    alternatives: "备选", outcome: "结果", filled: "成交卡数", reason: "原因", accepted: "接受于",
    rejected: "未成交", hourly: "小时订单", BUY: "买", SELL: "卖", run: "交割时段", within: "小时，时段内任选：",
    starts_at: "可开始于",
    OUT_OF_THE_MONEY: "价格不匹配", MIN_RATIO: "低于最小成交比例", PARADOXICALLY_REJECTED: "悖论拒绝",
    REMOVED_PARADOXICAL: "悖论剔除", NO_COUNTERPARTY: "无对手方", ALL_OR_NONE: "全部成交或不成交", error: "出错了",
  },
  en: {
    title: "Compute Supermarket", nav_overview: "Overview", nav_compare: "Compare & buy", nav_dayahead: "Day-ahead",
    live_on: "live", live_off: "offline", lang: "中文", tz: "market time UTC+", footer:
      "gpux open compute exchange · read-only page: prices per GPU-hour in CNY; trade with the gpux CLI or gRPC.",
    day: "Day", gpu_class: "GPU class", region: "Region", all: "all", hour: "Hour", ask: "ask", bid: "bid",
    vol: "vol", per_pf: "/PF·h", cheap: "cheap", dear: "dear", scale: "colour: ask ¥/PFLOP-hour",
    OPEN: "open", HALTED: "halted", CLOSED: "gate closed", CALL: "call auction", UNLISTED: "unlisted",
    slot: "Delivery hour", gate: "Gate closes", memory: "Memory", tflops: "FP16", last: "Last", volume: "Volume (GPU-h)",
    book: "Order book", price: "Price", qty: "Qty", orders: "Orders", trades: "Recent trades", time: "Time",
    side: "Side", chart: "Price over the listing's life", no_trades: "no trades yet", back: "back to overview",
    gpus: "GPUs", spec: "Spec", min_memory: "memory ≥ (GB)", min_tflops: "FP16 ≥ (TFLOPS)", hours: "consecutive hours",
    from: "earliest start", to: "latest start", voucher: "voucher subsidy (%)", any_region: "any region",
    find: "find the cheapest", rank: "#", start: "Start", value: "Value", fees: "Fees (est.)", subsidy: "Subsidy",
    payable: "Payable", pflop: "¥/PFLOP-h", buy_with: "Buy it with", options: "ways possible, cheapest first",
    none: "the current asks cannot fill this", da_days: "Cleared delivery days", da_none: "no day-ahead result yet",
    welfare: "Welfare", status: "Status", booked: "booked", failed: "failed", cleared: "cleared",
    products: "Prices by hour and region", blocks: "Block orders (anonymised)", alternatives: "Alternatives",
    outcome: "Outcome", filled: "Filled", reason: "Reason", accepted: "accepted in", rejected: "not filled",
    hourly: "hourly orders", BUY: "buy", SELL: "sell", OUT_OF_THE_MONEY: "out of the money", run: "Delivery",
    within: "h any time in", starts_at: "from",
    MIN_RATIO: "below its minimum ratio", PARADOXICALLY_REJECTED: "paradoxically rejected",
    REMOVED_PARADOXICAL: "removed (paradoxical)", NO_COUNTERPARTY: "no counterparty",
    ALL_OR_NONE: "all or none, only part available", error: "error",
  },
};
let lang = localStorage.getItem("gpux.lang") || "zh";
const t = (key) => (T[lang][key] !== undefined ? T[lang][key] : key);

// ---------------------------------------------------------------- formatting

function money(fen) {
  if (fen === null || fen === undefined) return "";
  const sign = fen < 0 ? "-" : "";
  const v = Math.abs(fen);
  return sign + "¥" + Math.floor(v / 100).toLocaleString("en-US") + "." + String(v % 100).padStart(2, "0");
}
let offsetHours = 8;
function marketTime(seconds, withDate = true) {
  const d = new Date((seconds + offsetHours * 3600) * 1000);  // read back in UTC = market time
  const p = (n) => String(n).padStart(2, "0");
  const hm = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
  return withDate ? `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${hm}` : hm;
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const $ = (sel) => document.querySelector(sel);
const pad2 = (n) => String(n).padStart(2, "0");

async function getJSON(url) {
  const reply = await fetch(url);
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error || reply.statusText);
  return body;
}

// ---------------------------------------------------------------- state and routing

let catalog = null;
let view = null;  // the page shown: {name, seq, onCells(cells), ...}

function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = (path || "/").split("/").filter(Boolean);
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("on", a.getAttribute("href") === "#/" + (parts[0] || "")));
  if (parts[0] === "i" && parts[1]) return showInstrument(decodeURIComponent(parts[1]));
  if (parts[0] === "compare") return showCompare(params);
  if (parts[0] === "dayahead") return showDayAhead(parts[1]);
  return showOverview(params);
}

function fail(error) {
  $("#main").innerHTML = `<p class="error">${esc(t("error"))}: ${esc(error.message || error)}</p>`;
}

function translate() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  $("#lang").textContent = t("lang");
  $("#tz").textContent = t("tz") + offsetHours;
  $("#live").textContent = t(live.open ? "live_on" : "live_off");
}

// ---------------------------------------------------------------- live updates (SSE)

const live = { source: null, open: false };
function connectLive() {
  live.source = new EventSource("/api/live");
  live.source.addEventListener("hello", async () => {  // (re)connected: take a fresh picture
    live.open = true;
    if (view && view.refresh) await view.refresh().catch(fail);
    $("#live").classList.add("on");  // shown once the page is live (and the tests wait for it)
    translate();
  });
  live.source.addEventListener("cells", (event) => {
    const message = JSON.parse(event.data);
    if (view && view.onCells) view.onCells(message);
  });
  live.source.onerror = () => { live.open = false; $("#live").classList.remove("on"); translate(); };
}

// ---------------------------------------------------------------- overview grid

const STATE = { 0: "UNLISTED", 1: "OPEN", 2: "HALTED", 3: "CLOSED", 4: "CALL" };
// cell fields: id, state, bid, bid_qty, ask, ask_qty, last, volume, bid_pflop, ask_pflop

function cellHTML(c) {
  const state = STATE[c[1]];
  const lines = [];
  if (state !== "OPEN") lines.push(`<span class="badge">${esc(t(state))}</span>`);
  if (c[4]) lines.push(`<span class="a">${t("ask")} ${money(c[4])}</span> <span class="pf">${money(c[9])}${t("per_pf")}</span>`);
  if (c[2]) lines.push(`<span class="b">${t("bid")} ${money(c[2])}</span> <span class="pf">${money(c[8])}${t("per_pf")}</span>`);
  if (c[7]) lines.push(`<span class="v">${t("vol")} ${c[7]}</span>`);
  return lines.join("<br>");
}

function paintCell(td, c, lo, hi) {
  const state = STATE[c[1]];
  td.className = "cell" + (state === "HALTED" ? " halted" : state === "CLOSED" ? " closed" : "");
  td.dataset.state = state;
  td.innerHTML = cellHTML(c);
  td.title = `${td.dataset.symbol} · ${t(state)}`;
  if (c[4] && hi >= lo) {
    const x = hi > lo ? (c[9] - lo) / (hi - lo) : 0;
    td.style.background = `hsl(${Math.round(130 - 130 * x)} 65% 85%)`;
  } else {
    td.style.background = "";
  }
}

async function showOverview(params) {
  const data = await getJSON("/api/overview" + (params.get("day") ? `?day=${encodeURIComponent(params.get("day"))}` : ""));
  const cls = params.get("class") || "", region = params.get("region") || "";
  const cells = new Map(data.cells.map((c) => [c[0], c]));
  const slots = data.slots.filter((s) => (!cls || catalog.classes[s[1]].name === cls)
    && (!region || catalog.regions[s[2]].name === region));
  const rows = new Map();
  for (const s of slots) {
    const key = s[1] * 1000 + s[2];
    if (!rows.has(key)) rows.set(key, { c: s[1], r: s[2], hours: new Map() });
    rows.get(key).hours.set(s[3], s);
  }
  const hours = [...new Set(slots.map((s) => s[3]))].sort((a, b) => a - b);
  const select = (name, values, chosen, label) => `<label>${esc(t(name))} <select id="f-${name}">` +
    values.map(([v, text]) => `<option value="${esc(v)}"${v === chosen ? " selected" : ""}>${esc(text)}</option>`).join("") +
    `</select></label>`;
  let html = `<div class="filters">` +
    select("day", catalog.days.map((d) => [d, d]), data.day) +
    select("gpu_class", [["", t("all")], ...catalog.classes.map((c) => [c.name, `${c.name} (${c.memory_gb}GB, ${c.tflops}T)`])], cls) +
    select("region", [["", t("all")], ...catalog.regions.map((r) => [r.name, lang === "zh" ? r.display : r.name])], region) +
    `<span class="legend">${esc(t("cheap"))} <i></i> ${esc(t("dear"))} · ${esc(t("scale"))}</span></div>`;
  html += `<div class="scroll"><table class="grid" id="grid"><thead><tr><th class="row">${esc(t("gpu_class"))} · ${esc(t("region"))}</th>` +
    hours.map((h) => `<th>${pad2(h)}:00</th>`).join("") + `</tr></thead><tbody>`;
  for (const row of [...rows.values()].sort((a, b) => a.c - b.c || a.r - b.r)) {
    const k = catalog.classes[row.c], r = catalog.regions[row.r];
    html += `<tr><td class="row">${esc(k.name)} · ${esc(lang === "zh" ? r.display : r.name)}</td>`;
    for (const h of hours) {
      const s = row.hours.get(h);
      html += s ? `<td class="cell" id="c${s[0]}" data-symbol="${esc(s[4])}"></td>` : `<td></td>`;
    }
    html += `</tr>`;
  }
  $("#main").innerHTML = html + `</tbody></table></div>`;
  const ids = slots.map((s) => s[0]);
  const repaint = () => {
    const prices = ids.map((i) => cells.get(i)).filter((c) => c && c[4]).map((c) => c[9]);
    const lo = Math.min(...prices), hi = Math.max(...prices);
    for (const i of ids) {
      const td = document.getElementById("c" + i);
      if (td && cells.has(i)) paintCell(td, cells.get(i), lo, hi);
    }
  };
  repaint();
  document.querySelectorAll("#grid td.cell").forEach((td) => {
    td.addEventListener("click", () => { location.hash = "#/i/" + encodeURIComponent(td.dataset.symbol); });
  });
  ["day", "gpu_class", "region"].forEach((name) => $(`#f-${name}`).addEventListener("change", () => {
    const q = new URLSearchParams({ day: $("#f-day").value, class: $("#f-gpu_class").value, region: $("#f-region").value });
    location.hash = "#/?" + q.toString();
  }));
  const shown = new Set(ids);
  view = {
    name: "overview", seq: data.seq,
    refresh: () => route(),
    onCells: (message) => {
      if (message.seq <= view.seq) return;  // the picture is newer
      view.seq = message.seq;
      let touched = false;
      for (const c of message.cells) {
        if (!shown.has(c[0])) continue;
        cells.set(c[0], c);
        touched = true;
        const td = document.getElementById("c" + c[0]);
        if (td) { td.classList.remove("flash"); void td.offsetWidth; td.classList.add("flash"); }
      }
      if (touched) repaint();
    },
  };
}

// ---------------------------------------------------------------- instrument page

function chart(points, width = 560, height = 180) {
  // points: [[seconds, price_fen], ...] oldest first; a step line of trade prices
  if (!points.length) return `<p class="muted">${esc(t("no_trades"))}</p>`;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const m = { l: 64, r: 10, t: 10, b: 22 };
  const X = (x) => m.l + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (width - m.l - m.r);
  const Y = (y) => height - m.b - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (height - m.t - m.b);
  let d = `M${X(xs[0]).toFixed(1)},${Y(ys[0]).toFixed(1)}`;
  for (let i = 1; i < points.length; i++) d += `H${X(xs[i]).toFixed(1)}V${Y(ys[i]).toFixed(1)}`;
  return `<svg class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<line class="axis" x1="${m.l}" y1="${height - m.b}" x2="${width - m.r}" y2="${height - m.b}"/>` +
    `<text x="2" y="${Y(y1) + 4}">${money(y1)}</text><text x="2" y="${Y(y0) + 4}">${money(y0)}</text>` +
    `<text x="${m.l}" y="${height - 6}">${marketTime(x0)}</text>` +
    `<text x="${width - m.r}" y="${height - 6}" text-anchor="end">${marketTime(x1)}</text>` +
    `<path d="${d}" fill="none" stroke="#c8102e" stroke-width="2"/>` +
    points.map((p) => `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="2.5" fill="#c8102e"/>`).join("") +
    `</svg>`;
}

async function showInstrument(symbol) {
  const d = await getJSON("/api/instrument/" + encodeURIComponent(symbol));
  const asks = d.asks.slice().reverse().map((l) => `<tr><td></td><td></td><td class="num ask">${money(l[0])}</td><td class="num">${l[1]}</td><td class="num">${l[2]}</td></tr>`);
  const bids = d.bids.map((l) => `<tr><td class="num">${l[2]}</td><td class="num">${l[1]}</td><td class="num bid">${money(l[0])}</td><td></td><td></td></tr>`);
  const recent = d.trades.slice(-30).reverse().map((tr) =>
    `<tr><td>${marketTime(tr[1])}</td><td class="num">${money(tr[2])}</td><td class="num">${tr[3]}</td><td>${esc(t(tr[4]) || tr[4])}</td></tr>`);
  $("#main").innerHTML = `<p><a href="#/">← ${esc(t("back"))}</a></p>
    <h2 id="symbol">${esc(d.symbol)} <span class="state ${d.state}" id="state">${esc(t(d.state))}</span></h2>
    <div class="cards">
      <div class="card"><dl class="facts">
        <dt>${esc(t("gpu_class"))}</dt><dd>${esc(d.gpu_class)}</dd>
        <dt>${esc(t("memory"))}</dt><dd>${d.memory_gb} GB</dd><dt>${esc(t("tflops"))}</dt><dd>${esc(d.tflops)} TFLOPS</dd>
        <dt>${esc(t("region"))}</dt><dd>${esc(lang === "zh" ? d.region_display : d.region)}</dd>
        <dt>${esc(t("slot"))}</dt><dd>${marketTime(d.slot)}</dd><dt>${esc(t("gate"))}</dt><dd>${marketTime(d.gate)}</dd>
        <dt>${esc(t("last"))}</dt><dd>${d.last ? money(d.last) : "–"}</dd><dt>${esc(t("volume"))}</dt><dd>${d.volume}</dd>
      </dl></div>
      <div class="card"><h3>${esc(t("book"))}</h3><table class="book" id="book"><thead><tr><th>${esc(t("orders"))}</th>
        <th>${esc(t("qty"))}</th><th>${esc(t("price"))}</th><th>${esc(t("qty"))}</th><th>${esc(t("orders"))}</th></tr></thead>
        <tbody>${asks.join("")}${bids.join("")}</tbody></table></div>
      <div class="card"><h3>${esc(t("chart"))}</h3>${chart(d.trades.map((tr) => [tr[1], tr[2]]))}</div>
      <div class="card"><h3>${esc(t("trades"))}</h3><table><thead><tr><th>${esc(t("time"))}</th><th>${esc(t("price"))}</th>
        <th>${esc(t("qty"))}</th><th>${esc(t("side"))}</th></tr></thead><tbody>${recent.join("")}</tbody></table></div>
    </div>`;
  let pending = null;
  view = {
    name: "instrument", seq: d.seq, refresh: () => route(),
    onCells: (message) => {  // this instrument changed: take a new picture (at most one at a time)
      if (message.seq <= view.seq || !message.cells.some((c) => c[0] === d.id) || pending) return;
      pending = setTimeout(() => { pending = null; route(); }, 200);
    },
  };
}

// ---------------------------------------------------------------- compare (the supermarket)

function hourOptions(chosen) {
  return [...Array(24).keys()].map((h) => `<option value="${pad2(h)}"${pad2(h) === chosen ? " selected" : ""}>${pad2(h)}:00</option>`).join("");
}

async function showCompare(params) {
  const today = catalog.today, days = catalog.days;
  const v = (name, fallback) => params.get(name) || fallback;
  const [fromDay, fromHour] = v("from", `${days[0] || today}T10`).split("T");
  const [toDay, toHour] = v("to", `${days[0] || today}T18`).split("T");
  const dayOptions = (chosen) => days.map((d) => `<option value="${d}"${d === chosen ? " selected" : ""}>${d}</option>`).join("");
  const spec = params.get("tflops") ? "tflops" : "memory";
  $("#main").innerHTML = `<h2>${esc(t("nav_compare"))}</h2>
    <form class="compare" id="compare">
      <label class="field"><span>${esc(t("gpus"))}</span><input id="gpus" name="gpus" type="number" min="1" value="${esc(v("gpus", "8"))}"></label>
      <label class="field"><span>${esc(t("hours"))}</span><input id="hours" name="hours" type="number" min="1" max="168" value="${esc(v("hours", "4"))}"></label>
      <label class="field"><span>${esc(t("spec"))}</span><select id="spec"><option value="memory"${spec === "memory" ? " selected" : ""}>${esc(t("min_memory"))}</option>
        <option value="tflops"${spec === "tflops" ? " selected" : ""}>${esc(t("min_tflops"))}</option></select>
        <input id="spec-value" type="number" min="0" value="${esc(params.get(spec) || (spec === "memory" ? "80" : "0"))}"></label>
      <label class="field"><span>${esc(t("region"))}</span><select id="region"><option value="any">${esc(t("any_region"))}</option>
        ${catalog.regions.map((r) => `<option value="${esc(r.name)}"${r.name === params.get("region") ? " selected" : ""}>${esc(lang === "zh" ? r.display : r.name)}</option>`).join("")}</select></label>
      <label class="field"><span>${esc(t("from"))}</span><select id="from-day">${dayOptions(fromDay)}</select><select id="from-hour">${hourOptions(fromHour)}</select></label>
      <label class="field"><span>${esc(t("to"))}</span><select id="to-day">${dayOptions(toDay)}</select><select id="to-hour">${hourOptions(toHour)}</select></label>
      <label class="field"><span>${esc(t("voucher"))}</span><input id="voucher" type="number" min="0" max="100" value="${esc(v("voucher", "30"))}"></label>
      <span class="field"><button class="primary" id="find" type="submit">${esc(t("find"))}</button></span>
    </form><div id="results"></div>`;
  $("#compare").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams({
      gpus: $("#gpus").value, hours: $("#hours").value, [$("#spec").value]: $("#spec-value").value,
      from: `${$("#from-day").value}T${$("#from-hour").value}`, to: `${$("#to-day").value}T${$("#to-hour").value}`,
      region: $("#region").value, voucher: $("#voucher").value,
    });
    location.hash = "#/compare?" + q.toString();  // the route runs the search
  });
  view = { name: "compare" };
  if (params.get("gpus")) await compareResults(params);
}

async function compareResults(params) {
  const box = $("#results");
  try {
    const r = await getJSON("/api/compare?" + params.toString());
    if (!r.options.length) { box.innerHTML = `<p class="muted" id="none">${esc(t("none"))}</p>`; return; }
    box.innerHTML = `<h3><span id="possible">${r.possible}</span> ${esc(t("options"))}</h3>
      <table class="results" id="options"><thead><tr><th>${esc(t("rank"))}</th><th>${esc(t("gpu_class"))}</th><th>${esc(t("region"))}</th>
      <th>${esc(t("start"))}</th><th class="num">${esc(t("value"))}</th><th class="num">${esc(t("fees"))}</th><th class="num">${esc(t("subsidy"))}</th>
      <th class="num">${esc(t("payable"))}</th><th class="num">${esc(t("pflop"))}</th><th>${esc(t("buy_with"))}</th></tr></thead><tbody>` +
      r.options.map((o, i) => `<tr class="${i ? "" : "best"}"><td>${i + 1}</td><td>${esc(o.gpu_class)}</td>
        <td>${esc(lang === "zh" ? catalog.regions.find((x) => x.name === o.region).display : o.region)}</td><td>${marketTime(o.start)}</td>
        <td class="num value">${money(o.value)}</td><td class="num">${money(o.fees)}</td><td class="num">${money(o.subsidy)}</td>
        <td class="num payable">${money(o.payable)}</td><td class="num">${money(o.per_pflop_hour)}</td>
        <td><pre>${o.commands.map(esc).join("\n")}</pre></td></tr>`).join("") + `</tbody></table>`;
  } catch (error) {
    box.innerHTML = `<p class="error">${esc(error.message)}</p>`;
  }
}

// ---------------------------------------------------------------- day-ahead

const COLORS = ["#c8102e", "#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4b5563"];

function lineChart(products, hours, width = 640, height = 220) {
  const all = products.flatMap((p) => p.prices.filter((x, h) => x !== null && p.volumes[h]));
  if (!all.length) return "";
  const y0 = Math.min(...all), y1 = Math.max(...all);
  const m = { l: 64, r: 150, t: 10, b: 22 };
  const X = (h) => m.l + (hours > 1 ? h / (hours - 1) : 0.5) * (width - m.l - m.r);
  const Y = (y) => height - m.b - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (height - m.t - m.b);
  let svg = `<svg class="chart" id="da-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<line class="axis" x1="${m.l}" y1="${height - m.b}" x2="${width - m.r}" y2="${height - m.b}"/>` +
    `<text x="2" y="${Y(y1) + 4}">${money(y1)}</text><text x="2" y="${Y(y0) + 4}">${money(y0)}</text>`;
  for (let h = 0; h < hours; h += 6) svg += `<text x="${X(h)}" y="${height - 6}">${pad2(h)}:00</text>`;
  products.forEach((p, i) => {
    const pts = p.prices.map((y, h) => (y === null || !p.volumes[h] ? null : `${X(h).toFixed(1)},${Y(y).toFixed(1)}`)).filter(Boolean);
    if (!pts.length) return;
    const color = COLORS[i % COLORS.length];
    svg += `<polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>` +
      pts.map((q) => `<circle cx="${q.split(",")[0]}" cy="${q.split(",")[1]}" r="2.5" fill="${color}"/>`).join("") +
      `<text x="${width - m.r + 8}" y="${m.t + 12 + 14 * i}" style="fill:${color}">${esc(p.product)}</text>`;
  });
  return svg + `</svg>`;
}

const hourSpan = (from, to) => `${pad2(from)}:00–${pad2(to)}:00`;

// A block's delivery: the accepted run (from the accepted alternative's start, not the
// order's own); for a block not filled, its run or, if it may shift, its hours and window.
function blockRun(b) {
  if (b.accepted) return hourSpan(b.accepted.start, b.accepted.end);
  if (b.starts.length === 1) return hourSpan(b.starts[0], b.starts[0] + b.hours);
  const spans = [];  // consecutive starts make one span of the window
  for (const s of b.starts) {
    const last = spans[spans.length - 1];
    if (last && s === last[1] + 1) last[1] = s; else spans.push([s, s]);
  }
  return `${b.hours} ${esc(t("within"))} ${spans.map(([s, e]) => hourSpan(s, e + b.hours)).join(", ")}`;
}

async function showDayAhead(day) {
  const list = (await getJSON("/api/dayahead")).days;
  const links = list.map((d) => `<a href="#/dayahead/${d.day}">${d.day}</a> <span class="muted">${esc(t(d.status))}</span>`).join(" · ");
  let html = `<h2>${esc(t("nav_dayahead"))}</h2><p>${esc(t("da_days"))}: ${links || esc(t("da_none"))}</p>`;
  const chosen = day || (list.length ? list[list.length - 1].day : null);
  view = { name: "dayahead" };
  if (!chosen) { $("#main").innerHTML = html; return; }
  const r = await getJSON("/api/dayahead/" + chosen);
  const traded = r.products.filter((p) => p.volumes.some((x) => x));
  html += `<h3 id="da-day">${esc(r.day)} · ${esc(t(r.status))}${r.reason ? ": " + esc(r.reason) : ""} · ${esc(t("welfare"))} ${money(r.welfare)}
    · ${esc(t("hourly"))} ${r.hourly.filled}/${r.hourly.orders}</h3>
    <div class="cards"><div class="card"><h3>${esc(t("products"))}</h3>${lineChart(traded, r.hours)}
    <table><thead><tr><th>${esc(t("gpu_class"))}.${esc(t("region"))}</th>${[...Array(r.hours).keys()].filter((h) => traded.some((p) => p.volumes[h])).map((h) => `<th>${pad2(h)}:00</th>`).join("")}</tr></thead><tbody>` +
    traded.map((p) => `<tr><td>${esc(p.product)}</td>` + p.prices.map((y, h) => (traded.some((q) => q.volumes[h]) ?
      `<td class="num">${p.volumes[h] ? `${money(y)}<br><span class="muted">${p.volumes[h]}</span>` : ""}</td>` : "")).join("") + `</tr>`).join("") +
    `</tbody></table></div>
    <div class="card"><h3>${esc(t("blocks"))}</h3><table id="da-blocks"><thead><tr><th>#</th><th>${esc(t("side"))}</th><th>${esc(t("gpus"))}</th>
      <th>${esc(t("run"))}</th><th>${esc(t("alternatives"))}</th><th>${esc(t("outcome"))}</th><th>${esc(t("filled"))}</th><th>${esc(t("reason"))}</th></tr></thead><tbody>` +
    r.blocks.map((b) => `<tr><td>${b.n}</td><td>${esc(t(b.side))}</td><td class="num">${b.qty}</td><td>${blockRun(b)}</td>
      <td>${b.alternatives.map((a) => esc(a.product + "@" + money(a.limit)) + (b.starts.length > 1 ?
        ` <span class="muted">${esc(t("starts_at"))} ${a.starts.map((h) => pad2(h) + ":00").join(", ")}</span>` : "")).join("<br>")}</td>
      <td>${b.accepted ? esc(t("accepted")) + " " + esc(b.accepted.product) + " " + hourSpan(b.accepted.start, b.accepted.end)
        : esc(t("rejected"))}</td><td class="num">${b.filled}</td>
      <td>${b.reason ? esc(t(b.reason)) : ""}</td></tr>`).join("") + `</tbody></table></div></div>`;
  $("#main").innerHTML = html;
}

// ---------------------------------------------------------------- start

async function start() {
  try {
    catalog = await getJSON("/api/catalog");
    offsetHours = catalog.utc_offset_hours;
  } catch (error) {
    return fail(error);
  }
  $("#lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("gpux.lang", lang);
    translate();
    route();
  });
  translate();
  window.addEventListener("hashchange", () => route().catch(fail));
  await route().catch(fail);
  connectLive();
}
start();
