// http_browser.mjs: the Logs page of logbus-http in a real browser, for
// test_http_browser.sh.  Playwright (playwright-core) drives Debian's
// chromium against a real logbus-http that this script starts, stops and
// starts again, and a real logbusd the shell script started:
//
//   node http_browser.mjs PLAYWRIGHT_DIR BIN_DIR RUN_DIR WORK_DIR SCREENSHOT
//
// It prints "ok - NAME" or "not ok - NAME" per check (why on stderr) and
// "screenshot: PATH"; exit 0 when every check passed, 1 when one failed.
// Every wait is on a condition in the page, bounded by TIMEOUT_MS.
import { spawn, execFileSync } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

const [pwDir, bin, runDir, work, shot] = process.argv.slice(2);
const { chromium } = createRequire(pwDir + "/")("playwright-core");
const TIMEOUT_MS = 30000;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

let failed = 0, http = null, port = 0;

function ok(name) {
  console.log("ok - " + name);
}
function notOk(name, why) {
  failed++;
  console.log("not ok - " + name);
  console.error("    " + String(why).split("\n").join("\n    "));
}

// ---- logbusd and logbus-http -----------------------------------------------

// Each line of text a record of service at level, through logbusctl.
function publish(service, level, lines) {
  execFileSync(bin + "/logbusctl",
    ["--run-dir", runDir, "publish", "-s", service, "-p", level, "-"],
    { input: lines.join("\n") + "\n", stdio: ["pipe", "ignore", "inherit"] });
}

// logbus-http on 127.0.0.1 (the port of the last start, or a free one),
// resolved once it says where it listens.
function startHttp() {
  const errFile = work + "/http.err";
  return new Promise((resolve, reject) => {
    const p = spawn(bin + "/logbus-http",
      ["--run-dir", runDir, "--config", work + "/http.conf",
       "--listen", "127.0.0.1:" + port],
      { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    const timer = setTimeout(() => reject(new Error(
      "logbus-http did not listen within 10 s: " + err)), 10000);
    p.stderr.on("data", (d) => {
      appendFileSync(errFile, d);
      err += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
      if (m && http !== p) {
        clearTimeout(timer);
        port = Number(m[1]);
        http = p;
        resolve();
      }
    });
    p.on("exit", (code) => {
      if (http !== p) {
        clearTimeout(timer);
        reject(new Error("logbus-http exited (" + code + "): " + err));
      }
    });
  });
}

function stopHttp() {
  const p = http;
  http = null;
  if (p === null || p.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.on("exit", () => resolve());
    p.kill("SIGTERM");
  });
}

// ---- the page ----------------------------------------------------------------

// What the page shows: its lines' sequence numbers and texts, the status.
function pageState() {
  const ls = [...document.querySelectorAll("#lines .line")];
  return {
    seqs: ls.map((l) => Number(l.dataset.seq)),
    texts: ls.map((l) => l.textContent),
    classes: ls.map((l) => l.className),
    status: document.getElementById("status").textContent,
    count: document.getElementById("count").textContent,
  };
}

// Wait until cond(state) holds; a failed check (with the page's state)
// when it does not within TIMEOUT_MS.  Returns the state.
async function waitPage(page, name, cond, ms = TIMEOUT_MS) {
  const end = Date.now() + ms;
  let st;
  for (;;) {
    st = await page.evaluate(pageState);
    if (cond(st)) {
      ok(name);
      return st;
    }
    if (Date.now() > end) break;
    // Not a sleep that decides anything: the next look at the page.
    await page.waitForTimeout(50);
  }
  notOk(name, "after " + ms / 1000 + " s the page has " + st.seqs.length +
    " lines, status '" + st.status + "', last lines (seq text):\n" +
    st.texts.map((t, i) => st.seqs[i] + " " + t).slice(-100).join("\n"));
  return st;
}

function countOf(texts, re) {
  return texts.filter((t) => re.test(t)).length;
}
function ascending(seqs) {
  return seqs.every((s, i) => i === 0 || s > seqs[i - 1]);
}

async function setInput(page, id, value) {
  await page.fill("#" + id, value);
  await page.dispatchEvent("#" + id, "change");
}

// ---- the test ----------------------------------------------------------------

async function main() {
  const seed = [];
  for (let i = 1; i <= 30; i++) seed.push("GET /item/" + i + " 200");
  publish("web", "info", seed);
  publish("db", "error",
    [1, 2, 3, 4, 5, 6].map((i) => "query " + i + " failed: connection refused"));
  publish("web", "warning", [1, 2, 3, 4].map((i) => "slow request " + i));
  await startHttp();
  // logbusd's own records (it logs its start) are on the page too.
  const journal = await (await fetch("http://127.0.0.1:" + port +
    "/v1/logs.json?tail=all")).json();
  let total = journal.records.length;
  if (total >= 40) ok("the journal holds the 40 records and " + (total - 40) + " of logbusd");
  else notOk("the journal holds the 40 records", JSON.stringify(journal.logs));

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox"], // root in CI; the page is our own
  });
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto("http://127.0.0.1:" + port + "/");

  // Loads and shows what is there, coloured by level.
  let st = await waitPage(page, "the page loads and shows every record",
    (s) => s.seqs.length === total && s.status === "live");
  if (st.classes.filter((c) => c.includes("lvl-error")).length === 6 &&
      st.classes.filter((c) => c.includes("lvl-warning")).length === 4)
    ok("lines are coloured by level (6 error, 4 warning)");
  else notOk("lines are coloured by level", st.classes.join("\n"));
  if (st.texts.some((t) => t.includes("[ERROR] db db: query 6 failed")))
    ok("a line shows level, logger, service and message");
  else notOk("a line shows level, logger, service and message",
    st.texts.join("\n"));

  // Follows what is published while it is open.
  publish("web", "info",
    Array.from({ length: 25 }, (_, i) => "followed " + (i + 1)));
  total += 25;
  st = await waitPage(page, "follows 25 records published while open",
    (s) => s.seqs.length === total);
  if (st.texts[total - 1].endsWith("followed 25") && ascending(st.seqs))
    ok("followed records come in order, the last at the bottom");
  else notOk("followed records in order",
    st.texts.map((t, i) => st.seqs[i] + " " + t).join("\n"));

  // Level filter.
  await page.selectOption("#level", "error");
  await waitPage(page, "level=error: only the 6 error lines",
    (s) => s.seqs.length === 6 &&
      s.classes.every((c) => c.includes("lvl-error")));
  publish("web", "info", ["info while filtered"]);
  publish("db", "error", ["query 7 failed: connection refused"]);
  total += 2;
  st = await waitPage(page, "level=error follows new errors, not infos",
    (s) => s.seqs.length === 7 && s.texts[6].endsWith("query 7 failed: connection refused"));

  // Regex filter (the level back to all).
  await page.selectOption("#level", "");
  await setInput(page, "q", "(?i)REFUSED|^slow");
  await waitPage(page, "q=(?i)REFUSED|^slow: the 7 refused and 4 slow lines",
    (s) => s.seqs.length === 11 &&
      countOf(s.texts, /connection refused$/) === 7 &&
      countOf(s.texts, /slow request \d$/) === 4);
  await setInput(page, "q", "");
  await setInput(page, "service", "db");
  await waitPage(page, "service=db: its 7 lines",
    (s) => s.seqs.length === 7 && s.texts.every((t) => t.includes(" db db: ")));
  await setInput(page, "service", "");
  await waitPage(page, "no filter: every record again",
    (s) => s.seqs.length === total);

  // Timestamps toggle.
  await page.uncheck("#timestamps");
  const hidden = await page.evaluate(() =>
    getComputedStyle(document.querySelector("#lines .line .t")).display);
  if (hidden === "none") ok("timestamps can be hidden");
  else notOk("timestamps can be hidden", "display: " + hidden);
  await page.check("#timestamps");

  // Pause, publish, follow again: nothing lost.
  await page.click("#pause");
  await waitPage(page, "pause: the status says paused",
    (s) => s.status === "paused");
  publish("web", "info", ["published while paused"]);
  total += 1;
  await page.click("#pause");
  st = await waitPage(page, "follow again: the record published while paused, once",
    (s) => s.seqs.length === total && s.status === "live");
  if (countOf(st.texts, /published while paused$/) === 1)
    ok("... exactly once");
  else notOk("... exactly once", st.texts.slice(-3).join("\n"));

  // logbus-http restarted: no line lost or doubled.
  const before = st.seqs.length;
  await stopHttp();
  await waitPage(page, "logbus-http stopped: the page says it is down",
    (s) => s.status !== "live");
  publish("web", "info",
    Array.from({ length: 10 }, (_, i) => "while down " + (i + 1)));
  await startHttp();
  publish("web", "info",
    Array.from({ length: 10 }, (_, i) => "after restart " + (i + 1)));
  total += 20;
  st = await waitPage(page, "logbus-http restarted: the page is live again with every line",
    (s) => s.seqs.length >= total && s.status === "live" &&
      s.texts[s.texts.length - 1].endsWith("after restart 10"));
  const unique = new Set(st.seqs).size;
  if (st.seqs.length === before + 20 && unique === st.seqs.length)
    ok("after the restart: " + st.seqs.length + " lines, none lost, none doubled");
  else notOk("after the restart: none lost, none doubled",
    "lines " + st.seqs.length + ", distinct " + unique + ", wanted " + (before + 20));
  let each = true;
  for (let i = 1; i <= 10; i++)
    each = each && countOf(st.texts, new RegExp("while down " + i + "$")) === 1 &&
      countOf(st.texts, new RegExp("after restart " + i + "$")) === 1;
  if (each && ascending(st.seqs)) ok("... each record once, in order");
  else notOk("... each record once, in order", st.texts.slice(-22).join("\n"));
  if (await page.evaluate(() => document.querySelector("#lines .note") === null))
    ok("... and no error note on the page");
  else notOk("... and no error note on the page",
    await page.evaluate(() => document.querySelector("#lines .note").textContent));

  // More lines than the window holds, scrolled to the bottom: the header
  // stays on top of the lines that pass under it, readable.
  const covered = await page.evaluate(() => {
    const h = document.querySelector("header"), r = h.getBoundingClientRect();
    const out = [];
    for (let x = 5; x < r.width; x += 40) {
      const e = document.elementFromPoint(x, r.height / 2);
      if (e && !h.contains(e)) out.push(x + ": " + e.outerHTML.slice(0, 80));
    }
    return { scrolled: window.scrollY > 0, out };
  });
  if (covered.scrolled && covered.out.length === 0)
    ok("scrolled down, the header is drawn over the lines");
  else notOk("scrolled down, the header is drawn over the lines",
    "scrolled: " + covered.scrolled + "\n" + covered.out.join("\n"));
  const copied = await page.evaluate(() =>
    document.querySelector("#lines .line:last-child").innerText);
  if (/^\S+Z \[INFO\] web web: after restart 10$/.test(copied))
    ok("a line reads (and copies) as TIME [LEVEL] LOGGER SERVICE: MESSAGE");
  else notOk("a line reads as TIME [LEVEL] LOGGER SERVICE: MESSAGE",
    JSON.stringify(copied));

  await page.screenshot({ path: shot, fullPage: false });
  console.log("screenshot: " + shot);

  // 10,000 lines on screen at most: the oldest go first.
  const bulk = Array.from({ length: 10500 }, (_, i) => "bulk " + (i + 1));
  publish("web", "debug", bulk);
  st = await waitPage(page, "10,500 more records: the page keeps the last 10,000",
    (s) => s.seqs.length === 10000 &&
      s.texts[9999].endsWith("bulk 10500"), 120000);
  if (st.texts[0].endsWith("bulk 501") && st.count.includes("oldest dropped"))
    ok("... the first on screen is bulk 501, and the count says so");
  else notOk("... the first on screen is bulk 501",
    st.texts[0] + " / " + st.count);

  if (pageErrors.length === 0) ok("no error in the page's script");
  else notOk("no error in the page's script", pageErrors.join("\n"));
  await browser.close();
}

const guard = (sig) => process.on(sig, () => {
  if (http) http.kill("SIGTERM");
  process.exit(1);
});
guard("SIGTERM");
guard("SIGINT");
main().then(
  async () => {
    await stopHttp();
    process.exit(failed ? 1 : 0);
  },
  async (e) => {
    notOk("the browser test ran to its end", e && e.stack ? e.stack : e);
    try {
      console.error("logbus-http's stderr:\n" + readFileSync(work + "/http.err", "utf8"));
    } catch (_) { /* none */ }
    await stopHttp();
    process.exit(1);
  });
