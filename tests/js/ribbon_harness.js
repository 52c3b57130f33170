// Runs tierbook's ribbon client (addin/tierbook/server/static/js/ribbon.js) in node
// against a real tierbook server, with the strict Excel stand-in (excel_standin.js) in
// place of Excel, holding the workbook:
//
//   node tests/js/ribbon_harness.js BASE SCRIPTS BOOK.json OUT.json [READ_BYTES [PROBE_ROWS]]
//
// BOOK.json is a workbook as xlwings' Office.js client would send it whole
// (tests/test_excel.py book_payload: every sheet's values from A1, dates as ISO text,
// book-level names); the stand-in is loaded with it (dates become serial numbers with a
// date format, as Excel stores a typed date). SCRIPTS: one script, or several separated
// by commas, clicked one after another on the same workbook (a second click sees what
// the first wrote). The action types ribbon.js leaves to xlwings go to xlwings Server's
// own client, loaded over the same stand-in (xlwings_client.js). Every HTTP request and
// response goes through node's fetch to the server and is measured.
//
// Environment: TIERBOOK_HARNESS_EXCEL_API (the ExcelApi version the stand-in plays,
// default the manifest's declared one, else the newest), TIERBOOK_HARNESS_LAMBDA=0 (an
// Excel without LAMBDA), TIERBOOK_HARNESS_SERVER_PID (the server's CPU seconds per click
// are recorded), TIERBOOK_HARNESS_WHOLE_CELLS (ribbon.js's WHOLE_CELLS: sheets of
// at most so many cells are read whole).
//
// OUT.json: {clicks: [per click: the actions received in order, the Office.js syncs and
// the largest request/response of a sync (the stand-in's count), the reads, the HTTP
// requests and responses, the task pane's statuses and alerts, the names skipped, the
// download links the run handed to env.downloads (null: none)],
// snapshot: the workbook after the last click (excel_standin.js snapshot()), and the
// first click's figures at the top level as well}.

"use strict";

const fs = require("fs");
const path = require("path");
const ribbon = require(path.join(__dirname, "../../addin/tierbook/server/static/js/ribbon.js"));
const { createExcel } = require("./excel_standin");
const { loadXlwings } = require("./xlwings_client");
const { pathToFileURL } = require("url");

const [base, scripts, bookFile, outFile, budgetText, probeText] = process.argv.slice(2);
const payload = JSON.parse(fs.readFileSync(bookFile, "utf8"));
const budget = budgetText ? parseInt(budgetText, 10) : undefined;
const probeRows = probeText ? parseInt(probeText, 10) : undefined;
const size = (text) => Buffer.byteLength(text, "utf8");

// The ExcelApi version the add-in's manifest declares (its Requirements), if any.
function declaredExcelApi() {
  const manifest = fs.readFileSync(path.join(__dirname, "../../addin/tierbook/server/templates/manifest.xml"), "utf8");
  const found = /<Set\s+Name="ExcelApi"\s+MinVersion="([\d.]+)"/.exec(manifest);
  return found ? found[1] : undefined;
}

// A cell as xlwings' client sends it → as typed into the stand-in: a date
// (2026-01-05T00:00:00.000Z) as the date typed (2026-01-05, with the time of day if it has
// one), which Excel keeps as a serial with a date format; any other text with a leading
// apostrophe, so it stays the text it was (a text "1234" or "2026-01-05" in an export is
// text, not a number or a date); numbers and booleans as they are.
function typed(value) {
  if (typeof value !== "string" || value === "") return value;
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?Z$/.exec(value);
  if (!m) return `'${value}`;
  return m[2] === "00:00:00" ? m[1] : `${m[1]} ${m[2]}`;
}

function book(data) {
  return {
    name: data.book.name,
    sheets: data.sheets.map((sheet) => ({ name: sheet.name, values: sheet.values.map((row) => row.map(typed)) })),
    names: (data.names || []).map((name) => ({ name: name.name, formula: name.refers_to })),
    activeSheet: data.book.active_sheet_index || 0,
  };
}

// CPU seconds so far of the server process (TIERBOOK_HARNESS_SERVER_PID; Linux /proc),
// or null: the benchmark's share of each click.
function serverCpu() {
  const pid = process.env.TIERBOOK_HARNESS_SERVER_PID;
  if (!pid) return null;
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(")").pop().trim().split(/\s+/);
  return (parseInt(fields[11], 10) + parseInt(fields[12], 10)) / 100; // clock ticks (USER_HZ = 100)
}

async function click(host, xlwings, convertDateValues, script) {
  host.resetStats();
  const cpuBefore = serverCpu();
  const started = process.cpuUsage();
  const record = {
    script, reads: 0, read_bytes: 0, largest_read: 0, read_bytes_by_sheet: {}, requests: [], responses: [],
    actions: [], page_bytes: [], statuses: [], alerts: [],
  };
  async function measuredFetch(url, options = {}) {
    if (options.body) record.requests.push(size(options.body));
    const response = await fetch(url, options);
    const text = await response.text();
    record.responses.push(size(text));
    if (response.ok && /\/tierbook\/(run|result)\//.test(url)) {
      const actions = JSON.parse(text).actions;
      record.page_bytes.push(size(JSON.stringify(actions)));
      record.actions.push(...actions);
    }
    return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
  }
  const onRead = (requests) => {
    record.reads += 1;
    let bytes = 0;
    for (const request of requests) {
      const read = size(JSON.stringify({ values: request.values, numberFormat: request.numberFormat }));
      bytes += read;
      record.read_bytes_by_sheet[request.target.name] = (record.read_bytes_by_sheet[request.target.name] || 0) + read;
    }
    record.read_bytes += bytes;
    record.largest_read = Math.max(record.largest_read, bytes);
  };
  const result = await ribbon.run(script, {
    Excel: host.Excel,
    Office: host.Office,
    xlwings,
    convertDateValues,
    base,
    fetch: measuredFetch,
    status: (text) => record.statuses.push(text),
    alert: (text, title) => record.alerts.push({ text, title }),
    downloads: (list) => {
      record.downloads = list; // what the task pane would list (static/js/downloads.js)
    },
    onRead,
    budget,
    probeRows,
    wholeCells: process.env.TIERBOOK_HARNESS_WHOLE_CELLS ? parseInt(process.env.TIERBOOK_HARNESS_WHOLE_CELLS, 10) : undefined,
  });
  const largest = (list) => (list.length ? Math.max(...list) : 0);
  const stats = host.stats;
  const used = process.cpuUsage(started);
  return {
    script,
    server_cpu: cpuBefore === null ? null : serverCpu() - cpuBefore,
    client_cpu: (used.user + used.system) / 1e6, // node: the task pane's JavaScript and the stand-in
    pages: result.pages,
    page_syncs: result.syncs,
    skipped: result.skipped,
    alerts: record.alerts,
    syncs: stats.syncs,
    empty_syncs: stats.emptySyncs,
    largest_sync_request: stats.largestRequest,
    largest_sync_response: stats.largestResponse,
    sync_request_bytes: stats.requestBytes,
    sync_response_bytes: stats.responseBytes,
    max_excel_api: stats.maxExcelApi,
    api_needs: stats.apiNeeds,
    undefined_names: stats.undefinedNames,
    reads: record.reads,
    read_bytes: record.read_bytes,
    read_bytes_by_sheet: record.read_bytes_by_sheet,
    largest_read: record.largest_read,
    requests: record.requests.length,
    largest_request: largest(record.requests),
    largest_response: largest(record.responses),
    largest_page: largest(record.page_bytes),
    largest_action: largest(record.actions.map((action) => size(JSON.stringify(action)))),
    statuses: record.statuses,
    actions: record.actions,
    downloads: record.downloads || null,
  };
}

async function main() {
  const host = createExcel({
    excelApi: process.env.TIERBOOK_HARNESS_EXCEL_API || declaredExcelApi(),
    lambda: process.env.TIERBOOK_HARNESS_LAMBDA !== "0",
    book: book(payload),
  });
  const xlwings = await loadXlwings(host);
  // xlwings' client's own date rule, as the task pane imports it (ribbon.js browserEnv)
  const metadata = path.join(xlwings.dir, "custom-scripts", "workbook-metadata.js");
  const { convertDateValues } = await import(pathToFileURL(metadata).href);
  const clicks = [];
  for (const script of scripts.split(",")) clicks.push(await click(host, xlwings, convertDateValues, script));
  fs.writeFileSync(outFile, JSON.stringify({ ...clicks[0], clicks, snapshot: host.snapshot() }));
}

main().catch((error) => {
  console.error(`tierbook harness: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
