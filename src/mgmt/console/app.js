// Warren's web console: a page per hash route (#/queues, #/locks, ...),
// each drawn from the management API with the user's basic-auth
// credentials (kept in sessionStorage, as RabbitMQ's UI does). Only the
// visible page polls, every few seconds, one or two small requests.
import { ApiError, KEY, basic, call, session } from "./lib.js";
import { pages } from "./pages.js";

const $ = (id) => document.getElementById(id);

// ----------------------------------------------------------------- session

function showLogin(message) {
  stopPage();
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-user").focus();
}

async function login(ev) {
  ev.preventDefault();
  const user = $("login-user").value;
  const credentials = basic(user, $("login-password").value);
  $("login-error").textContent = "";
  try {
    await call("/whoami", credentials);
  } catch (e) {
    $("login-error").textContent = e.status === 401 ? e.reason : `Cannot reach Warren: ${e.message}`;
    return;
  }
  sessionStorage.setItem(KEY, credentials);
  $("login-password").value = "";
  start();
}

session.refused = showLogin;

async function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  try {
    const me = await call("/whoami", sessionStorage.getItem(KEY));
    $("who").textContent = `${me.name} (${(me.tags || []).join(", ") || "no tags"})`;
  } catch (e) {
    sessionStorage.removeItem(KEY);
    return showLogin(e.reason);
  }
  route();
}

// ------------------------------------------------------------------ routes

let current = null;  // {page, timer, generation}
let generation = 0;

function stopPage() {
  if (current && current.timer) clearTimeout(current.timer);
  current = null;
  generation++;
}

function interval() {
  return Number($("refresh").value) * 1000;
}

// The page's refresh, then the next one after the interval; nothing while
// the tab is hidden, and nothing left over from a page that was left.
async function tick(g) {
  if (!current || g !== generation) return;
  if (document.visibilityState === "visible") {
    try {
      await current.page.refresh();
      if (g !== generation) return;
      const main = $("main");
      main.dataset.updates = String(Number(main.dataset.updates) + 1);  // how many times drawn
      $("status").textContent = `Updated ${new Date().toLocaleTimeString()}`;
      $("status").classList.remove("error");
    } catch (e) {
      if (g !== generation) return;
      $("status").textContent = e instanceof ApiError ? `${e.status}: ${e.reason}` : String(e);
      $("status").classList.add("error");
    }
  }
  if (!current || g !== generation) return;
  const ms = interval();
  if (ms > 0) current.timer = setTimeout(() => tick(g), ms);
}

function route() {
  if (!sessionStorage.getItem(KEY)) return showLogin("");
  stopPage();
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter((p) => p !== "").map(decodeURIComponent);
  let name = parts[0] || "overview";
  // #/queues/{vhost}/{name}: one queue; likewise exchanges.
  if (parts.length === 3 && (name === "queues" || name === "exchanges")) name = name.slice(0, -1);
  const make = pages[name] || pages.notFound;
  for (const a of document.querySelectorAll("#nav a"))
    a.classList.toggle("active", name.startsWith(a.dataset.page.replace(/s$/, "")));
  const main = $("main");
  main.replaceChildren();
  main.dataset.page = name;
  main.dataset.updates = "0";
  const g = generation;
  current = { page: make(main, parts.slice(1)), timer: null };
  tick(g);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    showLogin("");
  });
  $("refresh").addEventListener("change", () => route());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && current) route();
  });
  window.addEventListener("hashchange", route);
  if (sessionStorage.getItem(KEY)) start();
  else showLogin("");
});
