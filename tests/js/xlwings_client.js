// xlwings Server's real JavaScript client (static/js/custom-scripts/index.js of the
// installed xlwings_server package) loaded in node over the Excel stand-in
// (tests/js/excel_standin.js):
//
//   const { loadXlwings } = require("./xlwings_client");
//   const xlwings = await loadXlwings(host);   // host = createExcel(...)
//   await xlwings.runActions({ actions: [...] });
//   await xlwings.getBookData({ lazy: true });
//   await xlwings.getRangeValues("Sheet1", "A1:B2");
//
// The client is a set of ES modules that read the globals Excel, Office and (at import
// time) document, window and navigator; they are copied to a temporary folder marked
// "type": "module" and imported once per process. Each call sets globalThis.Excel and
// globalThis.Office to the host it was made for, so calls for two hosts must not overlap.
// The package's folder comes from XLWINGS_SERVER_DIR, or else from the Python of the
// repository's .venv (or python3 on PATH).

"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");
const { pathToFileURL } = require("url");

function xlwingsServerDir() {
  if (process.env.XLWINGS_SERVER_DIR) return process.env.XLWINGS_SERVER_DIR;
  const venv = path.join(__dirname, "../../.venv/bin/python");
  const python = fs.existsSync(venv) ? venv : "python3";
  return execFileSync(python, ["-c", "import xlwings_server, os; print(os.path.dirname(xlwings_server.__file__))"], {
    encoding: "utf8",
  }).trim();
}

let loaded = null;

// Only what the client touches while it is imported (config.js, utils.js, wasm.js,
// entraid.js, index.js's DOMContentLoaded hook) and what the alert action uses.
function installBrowserGlobals() {
  const config = { isOfficialLiteAddin: true, xlwingsVersion: "standin", appPath: "", environment: "test" };
  const element = () => ({ textContent: "", classList: { add() {}, remove() {} }, appendChild() {}, setAttribute() {}, style: {} });
  if (!globalThis.document) {
    globalThis.document = {
      getElementById: (id) => (id === "config" ? { textContent: JSON.stringify(config) } : null),
      querySelector: () => null,
      querySelectorAll: () => [],
      addEventListener() {},
      createElement: element,
      createTextNode: () => ({}),
      head: { appendChild() {} },
      baseURI: "https://127.0.0.1/",
    };
  }
  if (!globalThis.window) globalThis.window = { location: { origin: "https://127.0.0.1" }, atob: (s) => Buffer.from(s, "base64").toString("binary") };
  if (!globalThis.navigator) {
    Object.defineProperty(globalThis, "navigator", { value: { userAgent: "node" }, configurable: true });
  }
}

async function importClient(host) {
  if (loaded) return loaded;
  const source = path.join(xlwingsServerDir(), "static", "js");
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "xlwings-js-"));
  fs.cpSync(source, copy, { recursive: true });
  fs.writeFileSync(path.join(copy, "package.json"), JSON.stringify({ type: "module" }));
  installBrowserGlobals();
  globalThis.Excel = host.Excel;
  globalThis.Office = host.Office;
  const log = console.log;
  console.log = () => {}; // utils.printSupportedApiVersions() prints the API versions at import
  try {
    await import(pathToFileURL(path.join(copy, "custom-scripts", "index.js")).href);
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    console.log = log;
  }
  loaded = { xlwings: globalThis.xlwings, dir: copy };
  return loaded;
}

/** xlwings' own runActions/getBookData/getRangeValues, running against HOST. */
async function loadXlwings(host) {
  const { xlwings, dir } = await importClient(host);
  const on = (fn) => async (...args) => {
    globalThis.Excel = host.Excel;
    globalThis.Office = host.Office;
    return fn(...args);
  };
  return {
    runActions: on((data) => xlwings.runActions(data)),
    getBookData: on((options) => xlwings.getBookData(options)),
    getRangeValues: on((sheet, address) => xlwings.getRangeValues(sheet, address)),
    raw: xlwings,
    dir, // the client's modules, copied (import others from here: they are ES modules)
  };
}

module.exports = { loadXlwings, xlwingsServerDir };
