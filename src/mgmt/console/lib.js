// What every page of the console uses: API calls as the logged-in user,
// and elements built from text (never HTML: names and payloads come from
// clients).
export const KEY = "warren.credentials";
// What the app does when the login is refused: set by app.js.
export const session = { refused: (reason) => {} };

export class ApiError extends Error {
  constructor(status, reason) {
    super(`${status}: ${reason}`);
    this.status = status;
    this.reason = reason;
  }
}

// user:password as basic auth's base64 of its UTF-8 bytes.
export function basic(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return "Basic " + btoa(s);
}

export async function call(path, credentials, opts = {}) {
  const init = { method: opts.method || "GET", headers: { Authorization: credentials }, cache: "no-store" };
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  const r = await fetch("/api" + path, init);
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) throw new ApiError(r.status, (data && data.reason) || r.statusText);
  return data;
}

// An API call as the logged-in user. A refused login (the password
// changed, the user deleted) goes back to the login form; other refusals
// (a tag the page needs) are the caller's to show.
export async function api(path, opts) {
  const credentials = sessionStorage.getItem(KEY);
  if (!credentials) {
    session.refused("");
    throw new ApiError(401, "Not logged in");
  }
  try {
    return await call(path, credentials, opts);
  } catch (e) {
    if (e.status === 401 && (e.reason === "Login failed" || e.reason === "Not_Authorized")) {
      sessionStorage.removeItem(KEY);
      session.refused(e.reason);
    }
    throw e;
  }
}

// A path segment: a vhost "/" is %2F, as in the API's own paths.
export const enc = encodeURIComponent;

// An element with attributes and children; strings become text nodes.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}


// A table, one row per item. columns: [{key, label, value(row) -> text or
// Node, num}]; attrs(row) gives each row's attributes (data-name...), and
// each cell carries data-col, so people and tests find what they look for.
export function table(columns, rows, attrs, empty = "None.") {
  const head = el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : null }, c.label)));
  const body = rows.map((r) =>
    el("tr", attrs(r), columns.map((c) => el("td", { "data-col": c.key, class: c.num ? "num" : null }, c.value(r)))));
  if (!rows.length) body.push(el("tr", { class: "empty" }, el("td", { colspan: columns.length }, empty)));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}

// {"rate": r} as the API writes rates.
export const rate = (d) => `${d && typeof d.rate === "number" ? d.rate.toFixed(1) : "0.0"}/s`;

export function bytes(n) {
  if (typeof n !== "number") return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

// A form's labelled field.
export const field = (label, input) => el("label", {}, label, " ", input);
