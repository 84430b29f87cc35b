// The live component: one WebSocket per browser tab to /api/live, shared by every mount
// (the sidebar's indicator + status badge, the Market data quotes board), patching the
// DOM in place. No build step, no CDN: Streamlit inlines this module in the page.
//
// data (from pages/live.py):
//   {mode: "status" | "board", path, token, state, symbols, labels, stale_after, digits}
// state values sent back to Python:
//   live (bool): the stream is up (the page drops its timers) or gone for a while (the
//   page falls back to its fragment refresh); trigger "status": the connection's state
//   changed (the page reruns once to redraw everything that follows the connection).

const PAUSED_AFTER_MS = 3000; // a socket down this long hands the page back to its timers
const MAX_BACKOFF_MS = 5000;

function manager() {
  if (window.__ibkrLive) return window.__ibkrLive;
  const m = {
    ws: null,
    up: false,
    attempt: 0,
    timer: null,
    path: "/api/live",
    token: null,
    listeners: new Set(),
    quotes: {},
    status: null,
    portfolio: { rows: {}, order: [], cards: null, base: null, cash: {}, cashOrder: [], cashTotal: "" },
    orders: { open: {}, openOrder: [], fills: {}, fillOrder: [], finished: {}, finishedOrder: [], events: [] },
    downSince: Date.now(),
    register(l) {
      m.listeners.add(l);
      m.ensure();
      m.subscribe();
    },
    unregister(l) {
      m.listeners.delete(l);
      m.subscribe();
      // A rerun unmounts and remounts the component: keep the socket for that moment.
      setTimeout(() => {
        if (!m.listeners.size) m.close();
      }, 2000);
    },
    symbols() {
      const all = new Set();
      for (const l of m.listeners) for (const s of l.symbols || []) all.add(s);
      return [...all];
    },
    subscribe() {
      if (m.ws && m.ws.readyState === 1) {
        const body = { action: "subscribe", symbols: m.symbols() };
        for (const l of m.listeners) {
          if (l.portfolio) body.portfolio = l.portfolio;
          if (l.orders) body.orders = true;
        }
        m.ws.send(JSON.stringify(body));
      }
    },
    notify(kind, payload) {
      for (const l of m.listeners) {
        try {
          l[kind] && l[kind](payload);
        } catch (e) {
          console.error("live component", e);
        }
      }
    },
    ensure() {
      if (m.ws || m.timer) return;
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      let ws;
      try {
        ws = new WebSocket(scheme + location.host + m.path);
      } catch (e) {
        m.retry();
        return;
      }
      m.ws = ws;
      ws.onopen = () => {
        if (m.token) ws.send(JSON.stringify({ action: "auth", token: m.token }));
        m.subscribe();
      };
      ws.onmessage = (event) => {
        let msg;
        try {
          msg = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        if (msg.type !== "update") return;
        m.attempt = 0;
        if (!m.up) {
          m.up = true;
          m.notify("onState", true);
        }
        if (msg.quotes) Object.assign(m.quotes, msg.quotes);
        if (msg.status) m.status = msg.status;
        if (msg.portfolio) mergePortfolio(m.portfolio, msg.portfolio);
        if (msg.orders) mergeOrders(m.orders, msg.orders);
        m.notify("onUpdate", msg);
      };
      ws.onclose = () => {
        if (m.ws !== ws) return;
        m.ws = null;
        // the next socket's server session starts its topics afresh (reset)
        if (m.up) {
          m.up = false;
          m.downSince = Date.now();
          m.notify("onState", false);
        }
        if (m.listeners.size) m.retry();
      };
    },
    retry() {
      // 250 ms, 500 ms, 1 s, 2 s, then every 5 s (with jitter): back soon after a blip.
      const wait = Math.min(MAX_BACKOFF_MS, 250 * 2 ** m.attempt) * (0.8 + 0.4 * Math.random());
      m.attempt += 1;
      m.notify("onRetry", wait);
      m.timer = setTimeout(() => {
        m.timer = null;
        m.ensure();
      }, wait);
    },
    close() {
      clearTimeout(m.timer);
      m.timer = null;
      const ws = m.ws;
      m.ws = null;
      m.up = false;
      if (ws) ws.close();
    },
  };
  window.__ibkrLive = m;
  return m;
}

// -- pushed parts: kept here so a remount (a rerun) paints at once --------------------------
function mergeRows(rows, changed, removed) {
  for (const [key, cells] of Object.entries(changed || {})) rows[key] = cells;
  for (const key of removed || []) delete rows[key];
}

function mergePortfolio(p, part) {
  if (part.reset) {
    p.rows = {};
    p.order = [];
    p.cash = {};
    p.cashOrder = [];
    p.cashTotal = "";
  }
  if ("base" in part) p.base = part.base;
  if ("account" in part) p.account = part.account;
  p.ready = true;
  if (part.cards) p.cards = part.cards;
  mergeRows(p.rows, part.positions, part.removed);
  if (part.order) p.order = part.order;
  mergeRows(p.cash, part.cash, part.cash_removed);
  if (part.cash_order) p.cashOrder = part.cash_order;
  if ("cash_total" in part) p.cashTotal = part.cash_total;
}

function mergeOrders(o, part) {
  if (part.reset) {
    o.open = {};
    o.fills = {};
    o.finished = {};
  }
  o.ready = true;
  mergeRows(o.open, part.open, part.closed);
  if (part.open_order) o.openOrder = part.open_order;
  mergeRows(o.fills, part.fills, []);
  if (part.fill_order) o.fillOrder = part.fill_order;
  mergeRows(o.finished, part.finished, part.finished_removed);
  if (part.finished_order) o.finishedOrder = part.finished_order;
  if (part.events) o.events = o.events.concat(part.events).slice(-5);
}

function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return Number(value).toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function compact(value) {
  if (value === null || value === undefined) return "—";
  return Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 }).format(
    value
  );
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  seconds = Math.max(0, seconds);
  if (seconds < 60) return `${seconds.toFixed(0)} s ago`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(0)} min ago`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h ago`;
  return `${(seconds / 86400).toFixed(0)} d ago`;
}

function statusListener(root, data, setStateValue, setTriggerValue) {
  const pill = root.querySelector(".live-pill");
  const m = manager();
  const show = (up, text) => {
    pill.dataset.live = up ? "live" : "paused";
    pill.textContent = text || (up ? "● Live" : "❚❚ Paused");
    pill.title = up
      ? "Prices and status are pushed as they change"
      : "Live stream paused: the page refreshes on its timer meanwhile";
  };
  let pauseTimer = null;
  const listener = {
    symbols: [],
    onState(up) {
      clearTimeout(pauseTimer);
      show(up);
      if (up) {
        if (data.live !== true) setStateValue("live", true);
      } else {
        pauseTimer = setTimeout(() => {
          if (!m.up && data.live !== false) setStateValue("live", false);
        }, PAUSED_AFTER_MS);
      }
    },
    onRetry(wait) {
      show(false, `❚❚ Paused — retrying in ${(wait / 1000).toFixed(1)} s`);
    },
    onUpdate(msg) {
      if (msg.status && data.state && msg.status.key !== data.state) {
        data.state = msg.status.key; // once per change
        setTriggerValue("status", msg.status.key);
      }
    },
  };
  show(m.up, m.up ? null : "○ Connecting…");
  if (m.up && data.live !== true) setTimeout(() => setStateValue("live", true), 0);
  if (!m.up && data.live === true) listener.onState(false);
  return listener;
}

function boardListener(root, data) {
  const body = root.querySelector("tbody");
  const caption = root.querySelector(".live-caption");
  const rows = {};
  const last = {};
  body.textContent = "";
  for (const symbol of data.symbols) {
    const tr = document.createElement("tr");
    tr.dataset.symbol = symbol;
    for (const name of [
      "symbol", "last", "bid", "ask", "change", "volume", "high", "low", "source", "age", "status",
    ]) {
      const td = document.createElement("td");
      td.className = `c-${name}`;
      td.textContent = name === "symbol" ? symbol : "—";
      tr.appendChild(td);
    }
    body.appendChild(tr);
    rows[symbol] = tr;
  }
  const cell = (tr, name) => tr.querySelector(`.c-${name}`);
  const paint = (q) => {
    const tr = rows[q.symbol];
    if (!tr) return;
    const ok = !q.error && q.price !== null && q.price !== undefined;
    const price = ok ? (q.last ?? q.price) : null;
    const digits = price !== null && price < 5 ? 4 : data.digits || 2; // FX, penny stocks
    const prev = last[q.symbol];
    const lastCell = cell(tr, "last");
    lastCell.textContent = fmt(price, digits);
    if (prev !== undefined && price !== null && prev !== null && price !== prev) {
      lastCell.classList.remove("up", "down");
      void lastCell.offsetWidth; // restart the flash animation
      lastCell.classList.add(price > prev ? "up" : "down");
    }
    last[q.symbol] = price;
    for (const name of ["bid", "ask", "high", "low"]) cell(tr, name).textContent = fmt(q[name], digits);
    const change = q.change_percent;
    cell(tr, "change").textContent =
      change === null || change === undefined ? "—" : `${change >= 0 ? "+" : ""}${change.toFixed(2)}%`;
    cell(tr, "volume").textContent = compact(q.volume);
    const source = q.source_text || data.labels[q.source] || q.source;
    cell(tr, "source").textContent = ok || q.line_state ? source : "—";
    tr.dataset.providerTime = q.provider_time ? Date.parse(q.provider_time) : "";
    tr.dataset.error = q.error || "";
    tr.dataset.statusText = q.status_text || ""; // ibkr_core's words: market closed, ...
    tick(tr);
  };
  const tick = (tr) => {
    const t = Number(tr.dataset.providerTime);
    const seconds = t ? (Date.now() - t) / 1000 : null;
    const error = tr.dataset.error;
    const stale = seconds !== null && seconds > data.stale_after;
    cell(tr, "age").textContent = error ? "—" : age(seconds);
    tr.classList.toggle("stale", !error && stale);
    tr.classList.toggle("failed", !!error);
    cell(tr, "status").textContent = tr.dataset.statusText
      ? tr.dataset.statusText
      : error
      ? `✖ No data — ${error}`
      : stale
        ? "⚠ Stale"
        : tr.dataset.providerTime === undefined
          ? "—"
          : "✓ OK";
  };
  const m = manager();
  for (const symbol of data.symbols) if (m.quotes[symbol]) paint(m.quotes[symbol]);
  const ages = setInterval(() => {
    for (const tr of Object.values(rows)) if (tr.dataset.providerTime !== undefined) tick(tr);
  }, 1000);
  return {
    symbols: data.symbols,
    onUpdate(msg) {
      if (!msg.quotes) return;
      for (const q of Object.values(msg.quotes)) paint(q);
      caption.textContent = `Pushed as prices change · last update ${new Date().toLocaleTimeString()}`;
    },
    stop() {
      clearInterval(ages);
    },
  };
}

// A table of text cells, patched row by row: rows are keyed, cells keep their element (a
// changed number flashes), a new row flashes in, a row gone is removed. Text only.
function keyedTable(table, columns) {
  const head = table.querySelector("thead") || table.appendChild(document.createElement("thead"));
  const body = table.querySelector("tbody") || table.appendChild(document.createElement("tbody"));
  const rows = {};
  let shown = null;
  let shownTitles = null;
  const setColumns = (cols) => {
    const names = cols.map((c) => c[0]).join(",");
    const titles = cols.map((c) => c[1]).join("\u0000");
    if (names === shown && titles === shownTitles) return;
    if (names === shown) {
      // same columns, new headings (e.g. the base currency became known): keep the rows
      shownTitles = titles;
      head.querySelectorAll("th").forEach((th, i) => (th.textContent = cols[i][1]));
      return;
    }
    shown = names;
    shownTitles = titles;
    head.textContent = "";
    const tr = head.appendChild(document.createElement("tr"));
    for (const [name, title] of cols) {
      const th = tr.appendChild(document.createElement("th"));
      th.className = `t-${name}`;
      th.textContent = title;
    }
    body.textContent = "";
    for (const key of Object.keys(rows)) delete rows[key];
  };
  setColumns(columns);
  return {
    setColumns,
    paint(order, cellsByKey, decorate, fresh) {
      const cols = shown.split(",");
      for (const key of Object.keys(rows)) {
        if (!(key in cellsByKey)) {
          rows[key].remove();
          delete rows[key];
        }
      }
      for (const key of order) {
        const cells = cellsByKey[key];
        if (!cells) continue;
        let tr = rows[key];
        const isNew = !tr;
        if (isNew) {
          tr = document.createElement("tr");
          tr.dataset.key = key;
          for (const name of cols) {
            const td = tr.appendChild(document.createElement("td"));
            td.className = `c-${name}`;
          }
          rows[key] = tr;
          if (fresh) tr.classList.add("new");
        }
        for (const name of cols) {
          const td = tr.querySelector(`.c-${name}`);
          if (td && name in cells && td.textContent !== String(cells[name])) {
            td.textContent = String(cells[name]);
          }
        }
        decorate && decorate(tr, cells, isNew);
        body.appendChild(tr); // in order (moves an existing row)
      }
    },
    rows,
  };
}

function flash(td, up) {
  td.classList.remove("up", "down");
  void td.offsetWidth; // restart the flash animation
  td.classList.add(up ? "up" : "down");
}

// The Portfolio's tables, as the page draws them without the stream: securities, futures
// (their value is exposure: only their P&L counts) and FX positions, each with its columns.
const POSITION_TABLES = {
  held: [
    ["instrument", "Instrument"], ["account", "Account"], ["currency", "Ccy"], ["quantity", "Qty"],
    ["multiplier", "Mult."], ["avg_price", "Avg price"], ["market_price", "Price"],
    ["market_value", "Value"], ["market_value_base", "Value (base)"], ["weight", "Weight"],
    ["unrealized_pnl", "Unrealized P&L"], ["unrealized_pnl_pct", "P&L %"], ["daily_pnl", "Today"],
  ],
  futures: [
    ["instrument", "Instrument"], ["account", "Account"], ["currency", "Ccy"], ["quantity", "Qty"],
    ["multiplier", "Mult."], ["avg_price", "Avg price"], ["market_price", "Price"],
    ["market_value", "Exposure"], ["market_value_base", "Exposure (base)"],
    ["unrealized_pnl", "Unrealized P&L"], ["unrealized_pnl_pct", "P&L %"], ["daily_pnl", "Today"],
  ],
  fx: [
    ["instrument", "Instrument"], ["account", "Account"], ["currency", "Ccy"], ["quantity", "Qty"],
    ["avg_price", "Avg price"], ["market_price", "Price"], ["market_value", "Value"],
    ["market_value_base", "Value (base)"], ["unrealized_pnl", "Unrealized P&L"],
    ["unrealized_pnl_pct", "P&L %"], ["daily_pnl", "Today"],
  ],
};

const CASH_COLUMNS = [
  ["currency", "Currency"], ["balance", "Balance"], ["rate", "IBKR rate"], ["in_base", "In (base)"],
];

function cardsPainter(cards, m) {
  return () => {
    const list = m.portfolio.cards || [];
    if (cards.children.length !== list.length) {
      cards.textContent = "";
      for (const c of list) {
        const div = cards.appendChild(document.createElement("div"));
        div.className = "card";
        for (const part of ["label", "value", "delta"]) {
          div.appendChild(document.createElement("div")).className = `card-${part}`;
        }
      }
    }
    list.forEach((c, i) => {
      const div = cards.children[i];
      div.dataset.label = c.label;
      const value = div.querySelector(".card-value");
      if (value.textContent !== c.value) {
        if (value.textContent) flash(value, !c.value.startsWith("-"));
        value.textContent = c.value;
      }
      div.querySelector(".card-label").textContent = c.label;
      const delta = div.querySelector(".card-delta");
      delta.textContent = c.delta || "";
      delta.dataset.sign =
        c.delta_color === "off" || !c.delta ? "off" : c.delta.startsWith("-") ? "down" : "up";
    });
  };
}

// data.part "cards": the six account cards; "positions": the tables (data.classes: the
// asset classes the page's filter keeps, null: all; data.titles: kind -> [title, note]).
function portfolioListener(root, data) {
  const m = manager();
  const subscription = { symbols: [], portfolio: { account: data.account || null } };
  const current = () => m.portfolio.ready && m.portfolio.account === (data.account || null);
  if (data.part === "cash") {
    const el = build(root, [["table", "table"], ["caption", "div", "live-caption"]]);
    const table = keyedTable(el.table, CASH_COLUMNS);
    let painted = false; // rows of the first paint do not flash in
    const paint = (fresh) => {
      const base = m.portfolio.base;
      table.setColumns(CASH_COLUMNS.map(([n, t]) => [n, t.replace("(base)", base || "base")]));
      table.paint(m.portfolio.cashOrder, m.portfolio.cash, null, fresh && painted);
      painted = painted || m.portfolio.cashOrder.length > 0;
      el.table.hidden = !m.portfolio.cashOrder.length;
      el.caption.textContent = m.portfolio.cashOrder.length
        ? m.portfolio.cashTotal
        : "No cash balances reported yet.";
    };
    if (current()) paint(false);
    return { ...subscription, onUpdate: (msg) => msg.portfolio && paint(true) };
  }
  if (data.part === "cards") {
    const { cards } = build(root, [["cards", "div", "live-cards"]]);
    const paint = cardsPainter(cards, m);
    if (current()) paint();
    return { ...subscription, onUpdate: (msg) => msg.portfolio && paint() };
  }
  const el = build(root, [["sections", "div"], ["caption", "div", "live-caption"]]);
  const { caption } = el;
  const prices = {};
  const keep = data.classes ? new Set(data.classes) : null;
  const tables = {}; // kind -> {div, table}, in the page's order: securities, futures, FX
  for (const kind of Object.keys(POSITION_TABLES)) {
    const div = el.sections.appendChild(document.createElement("div"));
    div.className = "live-section";
    div.dataset.kind = kind;
    div.hidden = true;
    const [title, note] = (data.titles || {})[kind] || ["", ""];
    if (title) {
      const head = div.appendChild(document.createElement("div"));
      head.className = "live-section-title";
      head.appendChild(document.createElement("strong")).textContent = title;
      if (note) head.appendChild(document.createElement("span")).textContent = ` · ${note}`;
    }
    const table = keyedTable(div.appendChild(document.createElement("table")), POSITION_TABLES[kind]);
    tables[kind] = { div, table };
  }
  const columns = (kind, rows) => {
    // several accounts on the page: every table names each row's account
    const accounts = new Set(Object.values(m.portfolio.rows).map((r) => r.account));
    const base = m.portfolio.base;
    return POSITION_TABLES[kind].filter(([name]) => {
      if (name === "account") return accounts.size > 1;
      if (name === "market_value_base") return rows.some((r) => r.currency !== base);
      if (name === "multiplier") return rows.some((r) => r.multiplier);
      return true;
    }).map(([name, title]) => [name, title.replace("(base)", `(${base})`)]);
  };
  const decorate = (tr, cells) => {
    const td = tr.querySelector(".c-market_price");
    const prev = prices[cells.key];
    if (td && prev !== undefined && cells.price !== null && prev !== null && cells.price !== prev) {
      flash(td, cells.price > prev);
    }
    prices[cells.key] = cells.price;
    for (const [name, sign] of [["unrealized_pnl", cells.pnl_sign], ["unrealized_pnl_pct", cells.pnl_sign], ["daily_pnl", cells.daily_sign]]) {
      const cell = tr.querySelector(`.c-${name}`);
      if (cell) cell.dataset.sign = sign > 0 ? "up" : sign < 0 ? "down" : "off";
    }
  };
  let painted = false; // rows of the first paint do not flash in
  const paint = (fresh) => {
    const shown = m.portfolio.order.filter((key) => {
      const row = m.portfolio.rows[key];
      return row && (!keep || keep.has(row.asset_class));
    });
    for (const [kind, { div, table }] of Object.entries(tables)) {
      const order = shown.filter((key) => m.portfolio.rows[key].kind === kind);
      const cells = Object.fromEntries(order.map((key) => [key, m.portfolio.rows[key]]));
      table.setColumns(columns(kind, Object.values(cells)));
      table.paint(order, cells, decorate, fresh && painted);
      div.hidden = !order.length;
    }
    painted = painted || shown.length > 0;
    caption.textContent = !shown.length
      ? m.portfolio.order.length ? "No positions in the chosen asset classes." : "No open positions."
      : `Pushed as IBKR updates the account · last update ${new Date().toLocaleTimeString()}`;
  };
  if (current()) paint(false);
  return { ...subscription, onUpdate: (msg) => msg.portfolio && paint(true) };
}

const ORDER_COLUMNS = [
  ["order", "Order"], ["instrument", "Instrument"], ["side", "Side"], ["filled", "Filled / qty"],
  ["type", "Type"], ["prices", "Prices"], ["status", "Status"], ["cancel", ""],
];
const FINISHED_COLUMNS = [
  ["time", "Updated (UTC)"], ["order", "Order"], ["what", "Instrument"], ["status", "Status"],
  ["filled", "Filled"], ["remaining", "Remaining"], ["avg_price", "Avg fill"], ["message", "Message"],
];
const FILL_COLUMNS = [
  ["time", "Time (UTC)"], ["instrument", "Instrument"], ["side", "Side"], ["quantity", "Quantity"],
  ["price", "Price"], ["commission", "Commission"], ["order", "Order"],
];

function build(root, parts) {
  // the pushed Portfolio / Trade views draw their own elements (text only)
  root.textContent = "";
  const out = {};
  for (const [name, tag, cls] of parts) {
    const el = root.appendChild(document.createElement(tag));
    if (cls) el.className = cls;
    out[name] = el;
  }
  return out;
}

// data.part: "open" (with Cancel), "fills", or "finished" (today's finished orders)
const ORDER_PARTS = {
  open: { columns: () => ORDER_COLUMNS, order: (o) => o.openOrder, rows: (o) => o.open, empty: "No open orders." },
  fills: { columns: () => FILL_COLUMNS, order: (o) => o.fillOrder, rows: (o) => o.fills, empty: "No fills today." },
  finished: { columns: () => FINISHED_COLUMNS, order: (o) => o.finishedOrder, rows: (o) => o.finished, empty: "No finished orders today." },
};

function ordersListener(root, data, setTriggerValue) {
  const part = ORDER_PARTS[data.part] || ORDER_PARTS.open;
  const openPart = part === ORDER_PARTS.open;
  const el = build(root, [["table", "table"], ["empty", "div", "live-empty"], ["caption", "div", "live-caption"]]);
  const table = keyedTable(el.table, part.columns());
  const m = manager();
  const addCancel = (tr, cells, isNew) => {
    if (!isNew || !data.can_cancel) return;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Cancel";
    if (cells.cancel_note) {
      button.disabled = true; // another client's or TWS's order: TWS refuses (10147)
      button.title = cells.cancel_note;
    }
    button.onclick = () => {
      button.disabled = true;
      setTriggerValue("cancel", cells.key);
    };
    tr.querySelector(".c-cancel").appendChild(button);
  };
  const paint = (fresh) => {
    const order = part.order(m.orders);
    table.paint(order, part.rows(m.orders), openPart ? addCancel : null, fresh);
    el.table.hidden = !order.length;
    el.empty.textContent = order.length ? "" : part.empty;
    const last = m.orders.events[m.orders.events.length - 1];
    el.caption.textContent = !openPart
      ? ""
      : last
        ? `Latest: ${last.message}`
        : "Orders and fills are pushed as TWS reports them.";
  };
  if (m.orders.ready) paint(false);
  return {
    symbols: [],
    orders: true,
    onUpdate(msg) {
      if (msg.orders) paint(true);
    },
  };
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  const root = parentElement.querySelector(".ibkr-live");
  const m = manager();
  m.path = data.path || m.path;
  m.token = data.token || null;
  if (root.__listener) {
    root.__listener.stop && root.__listener.stop();
    m.unregister(root.__listener);
  }
  root.dataset.mode = data.part ? `${data.mode}-${data.part}` : data.mode;
  const listener =
    data.mode === "board"
      ? boardListener(root, data)
      : data.mode === "portfolio"
        ? portfolioListener(root, data)
        : data.mode === "orders"
          ? ordersListener(root, data, setTriggerValue)
          : statusListener(root, data, setStateValue, setTriggerValue);
  root.__listener = listener;
  m.register(listener);
  return () => {
    listener.stop && listener.stop();
    m.unregister(listener);
    if (root.__listener === listener) root.__listener = null;
  };
}
