// "Check this Excel" (addin/tierbook/server/static/js/check.js) against the strict Excel
// stand-in: what it reports for an Excel 2019-like host and a current one, that it leaves
// no name behind, that a read over the payload limit stops the read check and reports the
// largest read under it, that a failing check is reported (not thrown), and its syncs.

"use strict";

const test = require("node:test");
const assert = require("node:assert");
const path = require("path");
const check = require(path.join(__dirname, "../../addin/tierbook/server/static/js/check.js"));
const { createExcel } = require("./excel_standin");
const apiSets = require("./office_api_sets");

function clock() {
  let t = 0;
  return () => (t += 5); // 5 ms a reading
}

function sheet(rows, columns) {
  return Array.from({ length: rows }, (_, r) => Array.from({ length: columns }, (_, c) => `'cell ${r}:${c} of the export`));
}

test("on ExcelApi 1.8 without LAMBDA: 1.8, enough, no LAMBDA, and no name left behind", async () => {
  const host = createExcel({ excelApi: "1.8", lambda: false, book: { sheets: [{ name: "Sales", values: sheet(30, 3) }] } });
  const result = await check.checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  assert.strictEqual(result.excelApi, "1.8");
  assert.strictEqual(result.enough, true);
  assert.strictEqual(result.lambda.lambda, false);
  assert.strictEqual(result.lambda.refused, "InvalidArgument");
  assert.deepStrictEqual(host.snapshot().names, []);
  assert.deepStrictEqual(
    { rows: result.largestRead.rows, whole: result.largestRead.whole, sheet: result.largestRead.sheet },
    { rows: 30, whole: true, sheet: "Sales" });
  assert.match(check.lines(result).join("\n"), /LAMBDA names: no/);
});

test("on the newest ExcelApi with LAMBDA: the newest version, LAMBDA yes, the name deleted again", async () => {
  const host = createExcel({ book: { sheets: [{ name: "Sales", values: [["a"]] }] } });
  const result = await check.checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  assert.strictEqual(result.excelApi, apiSets.maxVersion("ExcelApi"));
  assert.strictEqual(result.lambda.lambda, true);
  assert.deepStrictEqual(host.snapshot().names, []);
});

test("below the manifest's 1.8 it says the ribbon cannot run", async () => {
  const host = createExcel({ excelApi: "1.7", book: { sheets: [{ name: "Sales", values: [["a"]] }] } });
  const result = await check.checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  assert.strictEqual(result.enough, false);
  assert.match(check.lines(result)[0], /NO, the ribbon cannot run here/);
});

test("a read over the payload limit stops the read check at the largest read under it", async () => {
  const limit = 400000;
  const host = createExcel({ payloadLimit: limit, book: { sheets: [{ name: "Big", values: sheet(20000, 4) }] } });
  const result = await check.checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  const read = result.largestRead;
  assert.strictEqual(read.whole, false);
  assert.strictEqual(read.stoppedBy, "ResponsePayloadSizeLimitExceeded");
  assert.ok(read.bytes > limit / 4 && read.bytes <= limit, read.bytes);
  assert.ok(read.rows >= 1000 && read.rows < 20000, read.rows);
});

test("20 timed round trips, and a stated few others", async () => {
  const host = createExcel({ book: { sheets: [{ name: "Sales", values: sheet(1500, 2) }] } });
  const result = await check.checkExcel({ Excel: host.Excel, Office: host.Office, now: clock() });
  assert.strictEqual(result.syncs.count, check.ROUND_TRIPS);
  assert.strictEqual(result.syncs.ms, 5); // the test clock moves 5 ms a reading: read at each end
  // LAMBDA: add + delete (2); the timed 20; the read: the used range (1) + 1,000 rows + all 1,500 (2)
  assert.strictEqual(host.stats.syncs, 2 + check.ROUND_TRIPS + 3);
});

test("a failing check is reported, not thrown, and the others still run", async () => {
  const host = createExcel({ book: { sheets: [{ name: "Sales", values: [["a"]] }] } });
  let runs = 0;
  const Excel = {
    ...host.Excel,
    run: (batch) => {
      runs += 1;
      if (runs === 1) return Promise.reject(Object.assign(new Error("busy"), { code: "GeneralException" }));
      return host.Excel.run(batch);
    },
  };
  const result = await check.checkExcel({ Excel, Office: host.Office, now: clock() });
  assert.strictEqual(result.lambda.failed, "GeneralException");
  assert.strictEqual(result.syncs.count, check.ROUND_TRIPS);
  assert.strictEqual(result.largestRead.whole, true);
  assert.match(check.lines(result).join("\n"), /LAMBDA names: the check failed \(GeneralException\)/);
});
