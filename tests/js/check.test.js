// "Check this Excel" (addin/tierbook/server/static/js/check.js) run against the strict Excel
// stand-in: what it reports, that it leaves the workbook as it was, that a failing check is
// reported and not thrown, and how many round trips it makes. `node --test tests/js/`.

"use strict";

const test = require("node:test");
const assert = require("node:assert");
const path = require("node:path");
const { createExcel } = require("./excel_standin");
const apiSets = require("./office_api_sets");

const TierbookCheck = require(path.join(__dirname, "..", "..", "addin", "tierbook", "server", "static", "js", "check.js"));
const { checkExcel, describe } = TierbookCheck;

// A clock that moves 5 ms each time it is read.
function clock() {
  let t = 0;
  return () => (t += 5);
}

function salesRows(n, columns = 6) {
  const rows = [["customer", "date", "amount", "manager", "region", "product"].slice(0, columns)];
  for (let i = 1; i <= n; i += 1) {
    rows.push([`customer ${i}`, "2026-10-01", i * 10.5, `manager ${i % 7}`, `region ${i % 3}`, `product ${i % 11}`].slice(0, columns));
  }
  return rows;
}

const smallBook = () => ({
  sheets: [
    { name: "Sales", values: salesRows(20) },
    { name: "Notes", values: [["kept"]] },
  ],
  names: [{ name: "Mine", formula: "=Sales!$A$1" }],
});

// 20 timed syncs, the LAMBDA check's (3 when Excel takes the name: add, look up, delete;
// 2 when it refuses it: add, look up), 1 for the used range, 1 per block read.
function expectedSyncs(lambda, blocks) {
  return TierbookCheck.ROUNDS + (lambda ? TierbookCheck.LAMBDA_SYNCS_ACCEPTED : TierbookCheck.LAMBDA_SYNCS_REFUSED) + 1 + blocks;
}

test("ExcelApi 1.8 without LAMBDA: reports 1.8 and no LAMBDA, leaves no name and the workbook as it was", async () => {
  const host = createExcel({ excelApi: "1.8", lambda: false, platform: "PC", book: smallBook() });
  const before = JSON.stringify(host.snapshot());
  const result = await checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  assert.deepStrictEqual(result.failures, {});
  assert.strictEqual(result.excelApi, "1.8");
  assert.strictEqual(result.meetsManifest, true);
  assert.strictEqual(result.lambda, false);
  assert.strictEqual(result.lambdaRefusal, "InvalidArgument");
  assert.strictEqual(result.nameLeft, false);
  assert.strictEqual(result.platform, "PC");
  assert.strictEqual(JSON.stringify(host.snapshot()), before, "the workbook is unchanged");
  assert.deepStrictEqual(host.snapshot().names.map((n) => n.name), ["Mine"]);
  // round trips: the 21 rows of Sales fit in the first block
  assert.strictEqual(result.largestRead.blocks, 1);
  assert.strictEqual(host.stats.syncs, expectedSyncs(false, 1));
  assert.strictEqual(host.stats.syncs, 24);
  // nothing but the test name was written
  const writes = Object.keys(host.stats.calls).filter((k) => !/\.(load|get\w*|names|worksheets|workbook)$/.test(k) && !/^Workbook\./.test(k));
  assert.deepStrictEqual(writes.sort(), ["NamedItemCollection.add"]);
  const lines = describe(result);
  assert.match(lines.join("\n"), /ExcelApi 1\.8: yes, at least the 1\.8/);
  assert.match(lines.join("\n"), /LAMBDA: no — tierbook skips the function names \(=SEGMENT\(A2\)/);
  assert.match(lines.join("\n"), /Excel on Windows \(PC\)/);
});

test("the newest ExcelApi with LAMBDA: reports LAMBDA yes, and the test name is deleted again", async () => {
  const host = createExcel({ book: smallBook() });
  const before = JSON.stringify(host.snapshot());
  const result = await checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  assert.deepStrictEqual(result.failures, {});
  assert.strictEqual(result.excelApi, apiSets.maxVersion("ExcelApi"));
  assert.strictEqual(result.lambda, true);
  assert.strictEqual(result.lambdaRefusal, null);
  assert.strictEqual(result.nameLeft, false);
  assert.strictEqual(JSON.stringify(host.snapshot()), before, "the workbook is unchanged");
  assert.strictEqual(host.stats.calls["NamedItemCollection.add"], 1);
  assert.strictEqual(host.stats.calls["NamedItem.delete"], 1);
  assert.strictEqual(host.stats.syncs, expectedSyncs(true, 1));
  assert.strictEqual(host.stats.syncs, 25);
  assert.match(describe(result).join("\n"), /LAMBDA: yes/);
});

test("ExcelApi: the highest 1.N isSetSupported answers true for; below 1.8 the ribbon cannot run", async () => {
  const host = createExcel({ excelApi: "1.7", lambda: false, book: smallBook() });
  const result = await checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  assert.strictEqual(result.excelApi, "1.7");
  assert.strictEqual(result.meetsManifest, false);
  assert.match(describe(result).join("\n"), /ExcelApi 1\.7: below the 1\.8 tierbook's manifest needs — tierbook's ribbon cannot run/);
  // probes up to 1.30, not only up to the first "no"
  const asked = [];
  const office = { context: { requirements: { isSetSupported: (name, v) => (asked.push(v), ["1.1", "1.2", "1.30"].includes(v)) } } };
  assert.strictEqual(TierbookCheck.highestExcelApi(office), "1.30");
  assert.strictEqual(asked.length, 30);
});

test("a large active sheet and a small payload limit: the read stops at the limit and reports the largest read under it", async () => {
  const limit = 64 * 1024;
  const host = createExcel({ payloadLimit: limit, book: { sheets: [{ name: "Other", values: [["x"]] }, { name: "Sales", values: salesRows(20000) }], activeSheet: 1 } });
  const before = JSON.stringify(host.snapshot());
  const result = await checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  assert.deepStrictEqual(result.failures, {});
  const read = result.largestRead;
  assert.strictEqual(read.sheet, "Sales");
  assert.strictEqual(read.usedRows, 20001);
  assert.strictEqual(read.complete, false);
  assert.strictEqual(read.stoppedBy, "ResponsePayloadSizeLimitExceeded");
  assert.ok(read.bytes > 0 && read.bytes < limit, `${read.bytes} under ${limit}`);
  assert.ok(read.bytes > limit / 4, `${read.bytes}: doubling blocks come within a factor of about 2 of the limit`);
  assert.strictEqual(read.stoppedAtRows, read.rows * 2, "the failing block is the next doubling");
  assert.ok(read.rowsRead < read.usedRows);
  assert.strictEqual(host.stats.syncs, expectedSyncs(true, read.blocks + 1), "the failed read is a sync too");
  assert.strictEqual(JSON.stringify(host.snapshot()), before);
  assert.match(describe(result).join("\n"), /Largest read: \d+ kB \([\d,]+ rows × 6 columns of Sales\); stopped by ResponsePayloadSizeLimitExceeded/);
});

test("without a limit in the way the whole used range is read in doubling blocks", async () => {
  const host = createExcel({ book: { sheets: [{ name: "Sales", values: salesRows(5000) }] } });
  const result = await checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  const read = result.largestRead;
  assert.strictEqual(read.complete, true);
  assert.strictEqual(read.stoppedBy, null);
  assert.strictEqual(read.rowsRead, 5001);
  // 100 + 200 + 400 + 800 + 1600 + 1901 rows
  assert.strictEqual(read.blocks, 6);
  assert.strictEqual(read.rows, 1901);
  assert.strictEqual(read.address, "Sales!A3101:F5001");
  const cells = host.snapshot(); // the bytes are JSON of values + numberFormat of that block
  assert.ok(cells);
  assert.ok(read.bytes <= host.stats.largestResponse, "the stand-in's response also carries the address");
  assert.ok(read.bytes > host.stats.largestResponse - 200);
  assert.strictEqual(host.stats.syncs, expectedSyncs(true, 6));
  assert.match(describe(result).join("\n"), /the whole used range \(Sales!A1:F5001, 5,001 rows\) was read in 6 reads/);
});

test("a check that fails is reported with its code, not thrown, and the others run", async () => {
  const host = createExcel({ excelApi: "1.9", book: smallBook() });
  const boom = Object.assign(new Error("Excel is busy"), { code: "GeneralException" });
  const Excel = { ...host.Excel, run: () => Promise.reject(boom) };
  const result = await checkExcel({ Excel, Office: host.Office, now: clock() });
  assert.strictEqual(result.excelApi, "1.9");
  assert.strictEqual(result.lambda, null);
  assert.strictEqual(result.syncMs, null);
  assert.strictEqual(result.largestRead, null);
  for (const key of ["lambda", "syncMs", "largestRead"]) {
    assert.deepStrictEqual(result.failures[key], { code: "GeneralException", message: "Excel is busy" }, key);
  }
  const text = describe(result).join("\n");
  assert.match(text, /LAMBDA: the check failed \(GeneralException: Excel is busy\)/);
  assert.match(text, /Round trips: the check failed/);
  assert.match(text, /Largest read: the check failed/);

  // only one check fails: the LAMBDA check on ExcelApi 1.3 (names.add is ExcelApi 1.4)
  const old = createExcel({ excelApi: "1.3", book: smallBook() });
  const before = JSON.stringify(old.snapshot());
  const partial = await checkExcel({ Excel: old.Excel, Office: old.Office, now: clock() });
  assert.deepStrictEqual(Object.keys(partial.failures), ["lambda"]);
  assert.strictEqual(partial.failures.lambda.code, "ApiNotFound");
  assert.strictEqual(partial.excelApi, "1.3");
  assert.strictEqual(partial.syncMs.rounds, 20);
  assert.strictEqual(partial.largestRead.complete, true);
  assert.strictEqual(JSON.stringify(old.snapshot()), before);

  // no Office.js at all: the ExcelApi check fails, the rest is reported
  const none = await checkExcel({ Excel: host.Excel, Office: /** @type {any} */ ({}), now: clock() });
  assert.strictEqual(none.failures.excelApi.code, "NoRequirements");
  assert.strictEqual(none.lambda, true);
});

test("round trips: 20 timed syncs, each carrying a load of the active sheet's name; the total and per sync", async () => {
  const host = createExcel({ book: smallBook() });
  const result = await checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  // the clock moves 5 ms a reading, two readings a sync
  assert.deepStrictEqual(result.syncMs, { rounds: 20, total: 100, perSync: 5, fastest: 5, slowest: 5 });
  assert.strictEqual(host.stats.calls["Worksheet.load"], 20 + 1, "20 timed, 1 with the used range");
  const line = describe(result).find((l) => l.startsWith("Round trips"));
  assert.strictEqual(
    line,
    "Round trips: 20 syncs in 100 ms (5.0 ms each): a click of tierbook (about 6 syncs for the demo, " +
      "up to 20 at 50,000 rows) spends about 0.03 to 0.1 s in round trips",
  );
});

test("the lines are text for the task pane: render sets textContent only", () => {
  const made = [];
  const doc = {
    createElement(tag) {
      const el = { tag, children: [], className: "", attrs: {}, appendChild: (c) => el.children.push(c), setAttribute: (k, v) => (el.attrs[k] = v) };
      Object.defineProperty(el, "innerHTML", { set: () => assert.fail("innerHTML is never set") });
      made.push(el);
      return el;
    },
  };
  const container = { children: [], replaceChildren() { this.children = []; }, appendChild(c) { this.children.push(c); }, classList: { remove() {} } };
  Object.defineProperty(container, "innerHTML", { set: () => assert.fail("innerHTML is never set") });
  TierbookCheck.render(["<b>ExcelApi</b> 1.8", "LAMBDA: no"], container, doc);
  const ul = container.children[0];
  assert.deepStrictEqual(ul.children.map((li) => li.textContent), ["<b>ExcelApi</b> 1.8", "LAMBDA: no"]);
});

// ---------------------------------------------------------------- the Script Lab snippet of docs/check-excel.md

// The snippet's YAML (the ```yaml block of the doc) and its script and template, dedented.
function snippet() {
  const fs = require("node:fs");
  const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "check-excel.md"), "utf8");
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)[1];
  const block = (key, language) => {
    const m = new RegExp(`^${key}:\\n    content: \\|-?\\n([\\s\\S]*?)\\n    language: ${language}$`, "m").exec(yaml);
    assert.ok(m, `${key} with language ${language}`);
    return m[1].split("\n").map((line) => line.replace(/^ {8}/, "")).join("\n");
  };
  return { yaml, script: block("script", "typescript"), template: block("template", "html") };
}

test("the Script Lab snippet has Script Lab's fields, type-checks against @types/office-js, and runs on the stand-in", async () => {
  const ts = require("typescript");
  const { yaml, script, template } = snippet();
  for (const field of [/^name: \S/m, /^description: \S/m, /^host: EXCEL$/m, /^api_set:\n {4}ExcelApi: '1\.\d+'$/m,
                       /^style:\n {4}content: /m, /^libraries: \|\n {4}https:\/\/appsforoffice\.microsoft\.com\/lib\/1\/hosted\/office\.js\n {4}@types\/office-js$/m]) {
    assert.match(yaml, field);
  }
  for (const line of yaml.split("\n")) assert.ok(!line.includes("\t"), "YAML is indented with spaces");
  assert.match(template, /<button id="run">Check this Excel<\/button>/);
  assert.match(template, /<pre id="out"><\/pre>/);

  // type check, as Script Lab's editor does (a script, not a module)
  const file = path.join(require("node:os").tmpdir(), `tierbook-snippet-${process.pid}.ts`);
  require("node:fs").writeFileSync(file, script);
  const program = ts.createProgram([file], {
    noEmit: true, strict: false, target: ts.ScriptTarget.ES2022, lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: ["office-js"], typeRoots: [path.join(__dirname, "..", "..", "node_modules", "@types")], skipLibCheck: true,
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  require("node:fs").unlinkSync(file);
  assert.deepStrictEqual(problems, []);

  const js = ts.transpileModule(script, { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText;
  async function run(host) {
    let click = null;
    const out = { textContent: "" };
    const document = {
      getElementById: (id) => (id === "run" ? { addEventListener: (type, fn) => (click = fn) } : id === "out" ? out : null),
    };
    new Function("document", "Office", "Excel", js)(document, host.Office, host.Excel);
    await click();
    return out.textContent.trim().split("\n");
  }

  const old = createExcel({ excelApi: "1.8", lambda: false, platform: "PC", book: smallBook() });
  const before = JSON.stringify(old.snapshot());
  let lines = await run(old);
  assert.strictEqual(lines[0], "Excel: PC");
  assert.strictEqual(lines[1], "ExcelApi 1.8: yes, at least the 1.8 tierbook needs");
  assert.match(lines[2], /^LAMBDA: no \(Excel refused the test name: InvalidArgument: /);
  assert.match(lines[3], /^Round trips: 20 syncs in \d+ ms/);
  assert.match(lines[4], /^Largest read: 0\.00 MB \(21 rows × 6 columns of Sales\); the whole used range \(Sales!A1:F21, 21 rows\) was read$/);
  assert.match(lines[5], /^The check took /);
  assert.strictEqual(JSON.stringify(old.snapshot()), before, "the snippet leaves the workbook as it was");
  assert.strictEqual(old.stats.syncs, expectedSyncs(false, 1));

  const limit = 64 * 1024;
  const big = createExcel({ excelApi: "1.7", payloadLimit: limit, book: { sheets: [{ name: "Sales", values: salesRows(20000) }] } });
  lines = await run(big);
  assert.strictEqual(lines[1], "ExcelApi 1.7: below the 1.8 tierbook needs, its ribbon cannot run here");
  assert.strictEqual(lines[2], "LAMBDA: yes");
  assert.deepStrictEqual(big.snapshot().names, []);
  assert.match(lines[4], /; stopped by ResponsePayloadSizeLimitExceeded: .* reading \d+ rows, after \d+ of 20001 rows$/);
});
