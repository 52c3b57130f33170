// Runs tierbook's ribbon client (addin/tierbook/server/static/js/ribbon.js) in node
// against a real tierbook server, with a recorded workbook in place of Excel:
//
//   node tests/js/ribbon_harness.js BASE SCRIPT BOOK.json OUT.json [READ_BYTES [PROBE_ROWS]]
//
// BOOK.json is the payload xlwings' Office.js client would send for the whole workbook
// (tests/test_excel.py book_payload). The three xlwings client functions ribbon.js
// uses are played from it as Office.js would answer them: getBookData (lazy: the sheets
// without values), getRangeValues (one block: values, dates as ISO text; its size is
// counted with the number formats Office sends along) and runActions (collects the
// actions; in xlwings' dispatch each action is one Office.js sync). Every HTTP request
// and response goes through node's fetch to the server and is measured.
// OUT.json: the actions applied, in order, the largest of each kind of message, and the
// download links the run handed to env.downloads (null: none).

const fs = require("fs");
const path = require("path");
const assert = require("assert");
const ribbon = require(path.join(__dirname, "../../addin/tierbook/server/static/js/ribbon.js"));

const [base, script, bookFile, outFile, budgetText, probeText] = process.argv.slice(2);
const book = JSON.parse(fs.readFileSync(bookFile, "utf8"));
const budget = budgetText ? parseInt(budgetText, 10) : undefined;
const probeRows = probeText ? parseInt(probeText, 10) : undefined;
const size = (text) => Buffer.byteLength(text, "utf8");
const record = { reads: [], bySheet: {}, requests: [], responses: [], actions: [], pages: [], statuses: [], lazy: null };
const applied = [];

function rowsOf(address) {
  const [first, last] = address.split(":");
  const start = ribbon.lastCell(first);
  const end = ribbon.lastCell(last || first);
  return { start, end };
}

const xlwings = {
  async getBookData({ include = "", exclude = "", headers = {}, lazy = false } = {}) {
    record.lazy = lazy;
    headers["Content-Type"] = "application/json";
    const copy = JSON.parse(JSON.stringify(book));
    for (const sheet of copy.sheets) sheet.values = [[]]; // lazy: no cell values
    return copy;
  },
  async getRangeValues(sheetName, address) {
    const sheet = book.sheets.find((s) => s.name === sheetName);
    assert.ok(sheet, `no sheet ${sheetName}`);
    const { start, end } = rowsOf(address);
    const rows = sheet.values.slice(start.row - 1, end.row).map((row) => {
      const cells = row.slice(start.column - 1, end.column);
      while (cells.length < end.column - start.column + 1) cells.push("");
      return cells;
    });
    // What Office sends back for range.load("values, numberFormat"): both matrices.
    const formats = rows.map((row) =>
      row.map((v) => (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) ? "yyyy-mm-dd" : "General")),
    );
    const read = size(JSON.stringify({ values: rows, numberFormat: formats }));
    record.reads.push(read);
    record.bySheet[sheetName] = (record.bySheet[sheetName] || 0) + read;
    return rows;
  },
  async runActions({ actions }) {
    record.pages.push(size(JSON.stringify(actions)));
    for (const action of actions) {
      record.actions.push(size(JSON.stringify(action)));
      applied.push(action);
    }
  },
};

async function measuredFetch(url, options = {}) {
  if (options.body) record.requests.push(size(options.body));
  const response = await fetch(url, options);
  const text = await response.text();
  record.responses.push(size(text));
  return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
}

ribbon
  .run(script, {
    xlwings,
    base,
    fetch: measuredFetch,
    status: (text) => record.statuses.push(text),
    downloads: (list) => {
      record.downloads = list; // what the task pane would list (static/js/downloads.js)
    },
    budget,
    probeRows,
  })
  .then((pages) => {
    const largest = (list) => (list.length ? Math.max(...list) : 0);
    fs.writeFileSync(
      outFile,
      JSON.stringify({
        pages,
        lazy: record.lazy,
        reads: record.reads.length,
        read_bytes: record.reads.reduce((a, b) => a + b, 0),
        read_bytes_by_sheet: record.bySheet,
        largest_read: largest(record.reads),
        requests: record.requests.length,
        largest_request: largest(record.requests),
        largest_response: largest(record.responses),
        largest_page: largest(record.pages),
        largest_action: largest(record.actions),
        statuses: record.statuses,
        actions: applied,
        downloads: record.downloads || null,
      }),
    );
  })
  .catch((error) => {
    console.error(`tierbook harness: ${error && error.stack ? error.stack : error}`);
    process.exit(1);
  });
