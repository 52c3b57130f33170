// A strict stand-in for Excel's JavaScript API (Office.js) in node, for tests: it refuses
// what Excel refuses and counts what Excel makes an add-in pay (round trips and bytes).
// docs/excel-standin.md describes it; every rule it enforces names its source beside it.
//
//   const { createExcel } = require("./excel_standin");
//   const host = createExcel({ excelApi: "1.9", lambda: false, payloadLimit: 5 * 1024 * 1024,
//                              book: { sheets: [{ name: "Sales", values: [["a", 1]] }] } });
//   await host.Excel.run(async (context) => { ... });   // host.Office as Office
//   host.stats   // { syncs, emptySyncs, requestBytes, responseBytes, largestRequest,
//                //   largestResponse, calls: {"Range.values": n}, apiNeeds: {"Range.merge": "ExcelApi 1.2"},
//                //   maxExcelApi }
//   host.snapshot() // the workbook as JSON (see snapshot() below for its fields)
//
// Proxy semantics as Office.js (https://learn.microsoft.com/office/dev/add-ins/develop/application-specific-api-model):
// calls queue on proxy objects and run in order at context.sync(); loaded properties can be
// read only after a sync (else PropertyNotLoaded); when an operation of a batch fails, the
// ones before it stay applied, the rest is dropped, and sync rejects with an error that has
// code, message and debugInfo (OfficeExtension.Error:
// https://learn.microsoft.com/javascript/api/office/officeextension.error).

"use strict";

const apiSets = require("./office_api_sets");

const MAX_ROWS = 1048576; // Excel specifications and limits: 1,048,576 rows by 16,384 columns
const MAX_COLS = 16384;
const DEFAULT_COLUMN_WIDTH = 48; // points: 8.43 characters of Calibri 11 (64 px)
const DEFAULT_ROW_HEIGHT = 15; // points (20 px)

// ---------------------------------------------------------------- errors

class OfficeError extends Error {
  constructor(code, message, debugInfo = {}) {
    super(message);
    this.name = "RichApi.Error";
    this.code = code;
    this.debugInfo = { code, message, ...debugInfo };
  }
}

// ---------------------------------------------------------------- addresses

function columnNumber(letters) {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

function columnLetters(n) {
  let s = "";
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

function cellName(r, c) {
  return `${columnLetters(c + 1)}${r + 1}`;
}

function areaAddress(a) {
  const first = cellName(a.r0, a.c0);
  return a.r0 === a.r1 && a.c0 === a.c1 ? first : `${first}:${cellName(a.r1, a.c1)}`;
}

function quoteSheet(name) {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(name) && !/^[A-Za-z]{1,3}\d+$/.test(name) ? name : `'${name.replace(/'/g, "''")}'`;
}

function absoluteAddress(sheetName, a) {
  const abs = (r, c) => `$${columnLetters(c + 1)}$${r + 1}`;
  const body = a.r0 === a.r1 && a.c0 === a.c1 ? abs(a.r0, a.c0) : `${abs(a.r0, a.c0)}:${abs(a.r1, a.c1)}`;
  return `${quoteSheet(sheetName)}!${body}`;
}

// "A1", "$B$2:C3", "A:C", "2:5", "Sheet1!A1", "'My sheet'!A1:B2" → {sheet, r0, c0, r1, c1} (0-based)
function parseAddress(text) {
  const bad = () => new OfficeError("InvalidArgument", `The argument is invalid or missing or has an incorrect format: address ${JSON.stringify(text)}`);
  if (typeof text !== "string" || !text.trim()) throw bad();
  let sheet = null;
  let rest = text.trim();
  const bang = rest.lastIndexOf("!");
  if (bang >= 0) {
    sheet = rest.slice(0, bang);
    rest = rest.slice(bang + 1);
    if (/^'.*'$/.test(sheet)) sheet = sheet.slice(1, -1).replace(/''/g, "'");
  }
  const parts = rest.replace(/\$/g, "").toUpperCase().split(":");
  if (parts.length > 2) throw bad();
  let area;
  if (parts.every((p) => /^[A-Z]{1,3}\d+$/.test(p))) {
    const cells = parts.map((p) => /^([A-Z]+)(\d+)$/.exec(p)).map((x) => [parseInt(x[2], 10) - 1, columnNumber(x[1]) - 1]);
    const [a, b] = [cells[0], cells[cells.length - 1]];
    area = { r0: Math.min(a[0], b[0]), c0: Math.min(a[1], b[1]), r1: Math.max(a[0], b[0]), c1: Math.max(a[1], b[1]) };
  } else if (parts.length === 2 && parts.every((p) => /^[A-Z]{1,3}$/.test(p))) {
    const [a, b] = parts.map((p) => columnNumber(p) - 1);
    area = { r0: 0, r1: MAX_ROWS - 1, c0: Math.min(a, b), c1: Math.max(a, b) };
  } else if (parts.length === 2 && parts.every((p) => /^\d+$/.test(p))) {
    const [a, b] = parts.map((p) => parseInt(p, 10) - 1);
    area = { r0: Math.min(a, b), r1: Math.max(a, b), c0: 0, c1: MAX_COLS - 1 };
  } else {
    throw bad();
  }
  if (area.r0 < 0 || area.c0 < 0 || area.r1 >= MAX_ROWS || area.c1 >= MAX_COLS) throw bad();
  return { sheet, ...area };
}

function intersects(a, b) {
  return a.r0 <= b.r1 && b.r0 <= a.r1 && a.c0 <= b.c1 && b.c0 <= a.c1;
}

function contains(outer, inner) {
  return outer.r0 <= inner.r0 && inner.r1 <= outer.r1 && outer.c0 <= inner.c0 && inner.c1 <= outer.c1;
}

// ---------------------------------------------------------------- names and formulas

const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();

// Rule 4, sheet names. Microsoft Support, "Rename a worksheet"
// (https://support.microsoft.com/office/rename-a-worksheet-3f1f7148-ee83-404d-8ef0-9ff99fbad1f9):
// a name cannot be blank, contain more than 31 characters, contain / \ ? * : [ ], begin or
// end with an apostrophe, or be "History" (reserved). @types/office-js, Worksheet.name:
// "The name must be fewer than 32 characters." Duplicates: names of sheets are unique,
// compared case-insensitively.
function sheetNameProblem(name) {
  if (typeof name !== "string" || name.length === 0) return "a sheet name cannot be blank";
  if (name.length > 31) return `the sheet name ${JSON.stringify(name)} has more than 31 characters`;
  if (/[:\\/?*[\]]/.test(name)) return `the sheet name ${JSON.stringify(name)} contains one of : \\ / ? * [ ]`;
  if (name.startsWith("'") || name.endsWith("'")) return `the sheet name ${JSON.stringify(name)} begins or ends with an apostrophe`;
  if (same(name, "History")) return '"History" is a name Excel reserves';
  return null;
}

// Rule 3, names of tables (and of defined names, the same rules). Microsoft Support,
// "Rename an Excel table" (https://support.microsoft.com/office/rename-an-excel-table-fbf49a4f-82a3-43eb-8ba2-44d21233b114)
// and "Define and use names in formulas", Syntax rules for names
// (https://support.microsoft.com/office/define-and-use-names-in-formulas-4d0f13ac-53b7-422e-afd2-abd7ff379c64):
// the first character a letter, an underscore or a backslash, the rest letters, numbers,
// periods and underscores; no spaces; not a cell reference (A1, R1C1) and not "C", "c",
// "R" or "r"; at most 255 characters; unique in the workbook, case-insensitively (tables
// and defined names share that namespace).
function definedNameProblem(name) {
  if (typeof name !== "string" || name.length === 0) return "a name cannot be blank";
  if (name.length > 255) return "a name has at most 255 characters";
  if (!/^[\p{L}_\\][\p{L}\p{N}_.\\]*$/u.test(name)) return `${JSON.stringify(name)} is not a valid name (first character a letter, _ or \\; then letters, numbers, periods, underscores)`;
  if (/^[rc]$/i.test(name)) return `${JSON.stringify(name)} is reserved`;
  if (isCellReference(name) || /^R\d*C\d*$/i.test(name)) return `${JSON.stringify(name)} is a cell reference`;
  return null;
}

function isCellReference(token) {
  const m = /^\$?([A-Za-z]{1,3})\$?(\d+)$/.exec(token);
  if (!m) return false;
  const row = parseInt(m[2], 10);
  return columnNumber(m[1]) <= MAX_COLS && row >= 1 && row <= MAX_ROWS;
}

const FORMULA_WORDS = new Set(["TRUE", "FALSE"]);

// Rule 1: what a formula refers to must exist when the formula is written. @types/office-js
// Range.formulas / NamedItemCollection.add / ConditionalFormatRule.formula take formulas "in
// A1-style notation"; Excel refuses a formula that names a table or a sheet the workbook
// does not have ("There's a problem with this formula"; Office.js: InvalidArgument). A
// bare name that is not defined is NOT refused: Excel writes the formula and the cell shows
// #NAME? (Microsoft Support, "How to correct a #NAME? error":
// https://support.microsoft.com/office/how-to-correct-a-name-error-b6d54e31-a743-4d7d-9b61-40002a7b4286 —
// "the formula refers to a name that does not exist"), so such names are only reported
// (host.stats.undefinedNames), not refused.
// The parser is deliberately simple: string literals are dropped, then 'Sheet'!/Sheet!
// prefixes, Table[...] structured references (with their column names), error literals,
// column and row ranges (A:A, 1:1), numbers and cell references; what is left and is an
// identifier not followed by "(" (a function) is a name. LAMBDA and LET parameters (an
// argument that is a lone identifier) are not names.
function formulaProblems(formula, wb, { cellTable = null } = {}) {
  const problems = [];
  const undefinedNames = [];
  let text = String(formula);
  if (text.startsWith("=")) text = text.slice(1);
  text = text.replace(/"(?:[^"]|"")*"/g, '""');
  // sheet references
  text = text.replace(/(?:'((?:[^']|'')+)'|([\p{L}_\\][\p{L}\p{N}_.\\]*))!/gu, (all, quoted, bare) => {
    const name = quoted !== undefined ? quoted.replace(/''/g, "'") : bare;
    if (/^\[.*\]/.test(name)) return " "; // external workbook
    if (!wb.sheets.some((s) => same(s.name, name))) problems.push(`the sheet ${JSON.stringify(name)} does not exist`);
    return " ";
  });
  // structured references: Name[...] and [..] inside a table
  let out = "";
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (ch !== "[") {
      out += ch;
      continue;
    }
    let depth = 0;
    let j = i;
    for (; j < text.length; j += 1) {
      if (text[j] === "[") depth += 1;
      else if (text[j] === "]") {
        depth -= 1;
        if (depth === 0) break;
      }
    }
    const inner = text.slice(i + 1, j);
    const m = /([\p{L}_\\][\p{L}\p{N}_.\\]*)$/u.exec(out);
    const tableName = m ? m[1] : null;
    if (m) out = out.slice(0, out.length - m[1].length);
    const table = tableName ? findTable(wb, tableName) : cellTable;
    if (tableName && !table) problems.push(`the table ${JSON.stringify(tableName)} does not exist`);
    else if (!table) problems.push(`the structured reference [${inner}] is outside a table`);
    else {
      const parts = inner.includes("[") ? [...inner.matchAll(/\[([^\]]*)\]/g)].map((x) => x[1]) : [inner];
      const columns = tableColumns(table);
      for (let part of parts) {
        part = part.trim().replace(/^@/, "");
        if (!part || part.startsWith("#")) continue;
        for (const col of part.split(/\]?:\[?/)) {
          const name = col.replace(/'(.)/g, "$1");
          if (!columns.some((c) => same(c, name))) problems.push(`the table ${table.name} has no column ${JSON.stringify(name)}`);
        }
      }
    }
    out += " ";
    i = j;
  }
  text = out
    .replace(/#(?:NULL!|DIV\/0!|VALUE!|REF!|NAME\?|NUM!|N\/A|GETTING_DATA|SPILL!|CALC!)/gi, " ")
    .replace(/\$?[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}(?![\p{L}\p{N}_(])/gu, " ")
    .replace(/\$?\d+:\$?\d+/g, " ")
    .replace(/(?<![\p{L}\p{N}_.$])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?/gu, " ");
  const params = localNames(text);
  for (const m of text.matchAll(/(?<![\p{L}\p{N}_.$\\])\$?[\p{L}_\\][\p{L}\p{N}_.\\$]*/gu)) {
    const token = m[0];
    const end = m.index + token.length;
    if (text[end] === "(" || /^\s*\(/.test(text.slice(end))) continue;
    if (isCellReference(token) || FORMULA_WORDS.has(token.toUpperCase())) continue;
    if (params.has(token.toLowerCase())) continue;
    if (/^_xl/i.test(token)) continue;
    if (findTable(wb, token)) continue; // a table's name alone is its data body
    if (!wb.names.some((n) => same(n.name, token)) && !wb.sheets.some((s) => s.names.some((n) => same(n.name, token)))) {
      undefinedNames.push(token);
    }
  }
  return { problems, undefinedNames };
}

// The names a formula declares for itself: LAMBDA's parameters (every argument but the
// last) and LET's names (the arguments at even places, but the last), lone identifiers.
function localNames(text) {
  const names = new Set();
  for (const m of text.matchAll(/\b(LAMBDA|LET)\s*\(/gi)) {
    const args = [];
    let depth = 0;
    let current = "";
    for (let i = m.index + m[0].length; i < text.length; i += 1) {
      const ch = text[i];
      if (ch === "(") depth += 1;
      if (ch === ")" && depth === 0) break;
      if (ch === ")") depth -= 1;
      if (ch === "," && depth === 0) {
        args.push(current);
        current = "";
        continue;
      }
      current += ch;
    }
    args.push(current);
    const declared = m[1].toUpperCase() === "LAMBDA" ? args.slice(0, -1) : args.slice(0, -1).filter((_, i) => i % 2 === 0);
    for (const arg of declared) if (/^\s*[\p{L}_][\p{L}\p{N}_.]*\s*$/u.test(arg)) names.add(arg.trim().toLowerCase());
  }
  return names;
}

function checkFormula(formula, wb, host, what, options) {
  const { problems, undefinedNames } = formulaProblems(formula, wb, options);
  for (const n of undefinedNames) host.stats.undefinedNames.push({ formula, name: n });
  if (problems.length) {
    throw new OfficeError("InvalidArgument", `There's a problem with this formula (${what} ${formula}): ${problems.join("; ")}`, {
      formula,
      problems,
    });
  }
}

// ---------------------------------------------------------------- the workbook model

let nextId = 1;

function newSheet(name) {
  return {
    id: `{sheet-${nextId++}}`,
    name,
    visibility: "Visible",
    showGridlines: true,
    cells: new Map(), // "r,c" → cell
    columnWidths: new Map(),
    rowHeights: new Map(),
    merges: [],
    tables: [],
    conditionalFormats: [],
    dataValidations: [],
    freeze: null,
    charts: [],
    printArea: null,
    names: [],
  };
}

function findSheet(wb, name) {
  return wb.sheets.find((s) => same(s.name, name)) || null;
}

function findTable(wb, name) {
  for (const s of wb.sheets) for (const t of s.tables) if (same(t.name, name)) return t;
  return null;
}

function tableColumns(table) {
  const out = [];
  for (let c = table.area.c0; c <= table.area.c1; c += 1) out.push(String(cellValue(table.sheet, table.area.r0, c)));
  return out;
}

function getCell(sheet, r, c, create = false) {
  const key = `${r},${c}`;
  let cell = sheet.cells.get(key);
  if (!cell && create) {
    cell = {};
    sheet.cells.set(key, cell);
  }
  return cell || null;
}

function cellValue(sheet, r, c) {
  const cell = getCell(sheet, r, c);
  if (!cell) return "";
  if (cell.formula !== undefined) return cell.value === undefined ? "" : cell.value;
  return cell.value === undefined ? "" : cell.value;
}

// Excel's date serial of an ISO date (1900 date system).
function dateSerial(y, mo, d, h = 0, mi = 0, s = 0) {
  const days = (Date.UTC(y, mo - 1, d) - Date.UTC(1899, 11, 30)) / 86400000;
  return days + (h * 3600 + mi * 60 + s) / 86400;
}

// What Excel stores for a value written through Range.values (@types/office-js, Range.values:
// text starting with "=" is a formula; ISO dates YYYY-MM-DD are stored as dates — a serial
// number with a date format; text that is a number is stored as a number; TRUE/FALSE as
// booleans — as if typed). Returns {value} or {formula}.
function storedValue(v, cell) {
  if (typeof v === "string") {
    // a leading apostrophe keeps what follows as text, as typed in Excel (the apostrophe is
    // not part of the value); Range.values takes a value as if typed
    if (v.startsWith("'")) return { value: v.slice(1) };
    if (v.length > 1 && v.startsWith("=")) return { formula: v };
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim())) return { value: Number(v) };
    if (/^(true|false)$/i.test(v)) return { value: v.toUpperCase() === "TRUE" };
    const m = /^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?)?$/.exec(v);
    if (m) {
      const serial = dateSerial(+m[1], +m[2], +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
      const format = m[4] ? "yyyy-mm-dd hh:mm:ss" : "yyyy-mm-dd";
      return { value: serial, numberFormat: !cell || !cell.numberFormat || cell.numberFormat === "General" ? format : undefined };
    }
    return { value: v };
  }
  return { value: v };
}

function usedArea(sheet, valuesOnly) {
  let area = null;
  for (const [key, cell] of sheet.cells) {
    const has = cell.formula !== undefined || (cell.value !== undefined && cell.value !== "");
    if (valuesOnly ? !has : Object.keys(cell).length === 0) continue;
    const [r, c] = key.split(",").map(Number);
    if (!area) area = { r0: r, c0: c, r1: r, c1: c };
    else {
      area.r0 = Math.min(area.r0, r);
      area.c0 = Math.min(area.c0, c);
      area.r1 = Math.max(area.r1, r);
      area.c1 = Math.max(area.c1, c);
    }
  }
  return area;
}

function forCells(area, fn) {
  for (let r = area.r0; r <= area.r1; r += 1) for (let c = area.c0; c <= area.c1; c += 1) fn(r, c);
}

function matrix(area, fn) {
  const rows = [];
  for (let r = area.r0; r <= area.r1; r += 1) {
    const row = [];
    for (let c = area.c0; c <= area.c1; c += 1) row.push(fn(r, c));
    rows.push(row);
  }
  return rows;
}

function uniform(area, fn) {
  let first;
  let seen = false;
  for (let r = area.r0; r <= area.r1; r += 1) {
    for (let c = area.c0; c <= area.c1; c += 1) {
      const v = fn(r, c);
      if (!seen) {
        first = v;
        seen = true;
      } else if (v !== first) return null;
    }
  }
  return first;
}

// A 2-D input for a range of AREA: its rows and columns must match the range's, or be one
// cell (applied to every cell), or a single value (@types/office-js, Range.values/formulas/
// numberFormat: "If the specified value is a single value, it will be applied to all cells").
function cellInput(area, input, what) {
  const rows = area.r1 - area.r0 + 1;
  const cols = area.c1 - area.c0 + 1;
  if (!Array.isArray(input)) return () => input;
  if (input.length === 1 && Array.isArray(input[0]) && input[0].length === 1) return () => input[0][0];
  if (input.length !== rows || input.some((row) => !Array.isArray(row) || row.length !== cols)) {
    throw new OfficeError(
      "InvalidArgument",
      `The number of rows or columns in the input array doesn't match the size or dimensions of the range (${what}: ${rows}x${cols} range, ${input.length}x${Array.isArray(input[0]) ? input[0].length : "?"} input).`,
    );
  }
  return (r, c) => input[r - area.r0][c - area.c0];
}

function tableAt(sheet, r, c) {
  return sheet.tables.find((t) => contains(t.area, { r0: r, c0: c, r1: r, c1: c })) || null;
}

function writeValues(host, range, input, asFormulas) {
  const { sheet } = range;
  const at = cellInput(range, input, asFormulas ? "formulas" : "values");
  forCells(range, (r, c) => {
    const v = at(r, c);
    if (v === null || v === undefined) return; // null leaves the cell as it is
    const cell = getCell(sheet, r, c, true);
    const stored = storedValue(v, cell);
    if (stored.formula !== undefined) {
      checkFormula(stored.formula, host.wb, host, `${sheet.name}!${cellName(r, c)}`, { cellTable: tableAt(sheet, r, c) });
      cell.formula = stored.formula;
      cell.value = "";
    } else {
      delete cell.formula;
      cell.value = stored.value;
      if (stored.numberFormat) cell.numberFormat = stored.numberFormat;
    }
  });
}

// ---------------------------------------------------------------- proxies

// Each proxy class: props (scalar properties: get(model, proxy) and, unless read-only,
// set(model, value, proxy)), nav (child objects reached by a property), methods.
const CLASSES = {};

class ClientObject {
  constructor(ctx, className, path, resolve, needs = []) {
    this._ctx = ctx;
    this._class = className;
    this._path = path;
    this._resolve = resolve;
    this._needs = needs;
    this._bound = undefined;
    this._loaded = Object.create(null);
    this._children = Object.create(null);
    this.context = ctx;
  }

  _model() {
    if (this._bound === undefined) this._bound = this._resolve();
    return this._bound;
  }

  _live() {
    const m = this._model();
    if (m === null) throw new OfficeError("ItemNotFound", `The requested resource doesn't exist (${this._path} is a null object).`);
    return m;
  }

  get isNullObject() {
    if (!("isNullObject" in this._loaded)) {
      throw new OfficeError("PropertyNotLoaded", `The property 'isNullObject' is not available (${this._path}). Call context.sync() first.`);
    }
    return this._loaded.isNullObject;
  }

  load(spec) {
    this._ctx._queue({ proxy: this, kind: "load", key: `${this._class}.load`, desc: { load: spec === undefined ? null : spec } , spec });
    return this;
  }

  set(properties) {
    for (const [k, v] of Object.entries(properties || {})) {
      if (CLASSES[this._class].props[k]) this[k] = v;
      else if (CLASSES[this._class].nav[k] && v && typeof v === "object") this[k].set(v);
    }
  }

  toJSON() {
    return { ...this._loaded };
  }

  get __wb() {
    return this._ctx._host.wb;
  }
}

function child(parent, className, name, resolveFrom) {
  const p = new (proxyClass(className))(
    parent._ctx,
    className,
    `${parent._path}/${name}`,
    () => {
      const m = parent._model();
      return m === null ? null : resolveFrom(m);
    },
    [...parent._needs],
  );
  // reaching a navigation property is an object path of the request (and needs its API set)
  if (!parent._ctx._syncing) parent._ctx._queue({ proxy: p, kind: "path", key: `${parent._class}.${name}`, desc: { path: p._path } });
  return p;
}

const constructors = {};

function proxyClass(className) {
  if (constructors[className]) return constructors[className];
  const spec = CLASSES[className];
  if (!spec) throw new Error(`excel_standin: no class ${className}`);
  const C = { [className]: class extends ClientObject {} }[className];
  for (const [name, prop] of Object.entries(spec.props)) {
    Object.defineProperty(C.prototype, name, {
      get() {
        if (!(name in this._loaded)) {
          throw new OfficeError(
            "PropertyNotLoaded",
            `The property '${name}' is not available. Before reading the property's value, call the load method on the containing object and call "context.sync()" on the associated request context. (${this._path})`,
          );
        }
        return this._loaded[name];
      },
      set(value) {
        if (!prop.set) throw new TypeError(`${className}.${name} is read-only`);
        this._ctx._queue({
          proxy: this,
          kind: "set",
          key: `${className}.${name}`,
          desc: { path: this._path, set: name, value: describe(value) },
          run: (m) => prop.set(m, value, this),
        });
      },
    });
  }
  if (spec.items) {
    Object.defineProperty(C.prototype, "items", {
      get() {
        if (!("items" in this._loaded)) {
          throw new OfficeError("PropertyNotLoaded", `The property 'items' is not available: load the collection and call context.sync() first. (${this._path})`);
        }
        return this._loaded.items;
      },
    });
  }
  for (const [name, make] of Object.entries(spec.nav)) {
    Object.defineProperty(C.prototype, name, {
      get() {
        if (!this._children[name]) this._children[name] = make(this);
        return this._children[name];
      },
    });
  }
  for (const [name, method] of Object.entries(spec.methods)) {
    C.prototype[name] = function (...args) {
      return method.call(this, ...args);
    };
  }
  constructors[className] = C;
  return C;
}

function describe(value) {
  if (value instanceof ClientObject) return { proxy: value._path };
  if (Array.isArray(value)) return value.map(describe);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v)]));
  return value;
}

// A method that queues an operation; RUN(model, ...args) gives its result (for a proxy the
// method returns, BIND(result) binds it).
function op(className, name, run, { returns = null } = {}) {
  return function (...args) {
    const result = returns ? returns(this, ...args) : null;
    this._ctx._queue({
      proxy: this,
      kind: "call",
      args,
      key: `${className}.${name}`,
      desc: { path: this._path, call: name, args: describe(args) },
      run: function (m) {
        const out = run.call(this, m, ...args);
        if (result) result._bound = out === undefined ? null : out;
        if (result && result._clientResult) result._value = out;
      },
    });
    return result ? result : undefined;
  };
}

// A method that only makes a proxy (an object path): resolved at sync, when it is used.
function getter(className, name, targetClass, resolve, { orNull = false } = {}) {
  return function (...args) {
    const parent = this;
    const p = new (proxyClass(targetClass))(
      this._ctx,
      targetClass,
      `${this._path}/${name}(${args.map((a) => JSON.stringify(describe(a))).join(",")})`,
      () => {
        const m = parent._model();
        if (m === null) return null;
        try {
          return resolve.call(parent, m, ...args);
        } catch (error) {
          if (orNull && error.code === "ItemNotFound") return null;
          throw error;
        }
      },
    );
    this._ctx._queue({ proxy: p, kind: orNull ? "probe" : "path", key: `${className}.${name}`, desc: { path: p._path } });
    return p;
  };
}

function notFound(what) {
  return new OfficeError("ItemNotFound", `The requested resource doesn't exist: ${what}.`);
}

function rangeModel(sheet, area) {
  return { sheet, r0: area.r0, c0: area.c0, r1: area.r1, c1: area.c1 };
}

function rangeIn(sheet, address) {
  if (address instanceof ClientObject) {
    const m = address._live();
    return rangeModel(m.sheet, m);
  }
  const a = parseAddress(address);
  if (a.sheet !== null && !same(a.sheet, sheet.name)) {
    throw new OfficeError("InvalidArgument", `The address ${address} is not on the sheet ${sheet.name}.`);
  }
  return rangeModel(sheet, a);
}

function rangeInBook(wb, address, defaultSheet) {
  if (address instanceof ClientObject) return address._live();
  const a = parseAddress(address);
  const sheet = a.sheet === null ? defaultSheet : findSheet(wb, a.sheet);
  if (!sheet) throw notFound(`the sheet of ${address}`);
  return rangeModel(sheet, a);
}

// A collection class: items(model) → the model items, ITEM the item class.
function collectionClass(itemClass, items, extra = {}) {
  return {
    items,
    itemClass,
    props: { count: { get: (m) => items(m).length }, ...(extra.props || {}) },
    nav: extra.nav || {},
    methods: extra.methods || {},
  };
}

function host$(proxy) {
  return proxy._ctx._host;
}

// ---- Workbook
CLASSES.Workbook = {
  props: { name: { get: (wb) => wb.name } },
  nav: {
    worksheets: (p) => child(p, "WorksheetCollection", "worksheets", (wb) => wb),
    names: (p) => child(p, "NamedItemCollection", "names", (wb) => ({ wb, scope: wb })),
    tables: (p) => child(p, "TableCollection", "tables", (wb) => ({ wb, sheet: null })),
    application: (p) => child(p, "Application", "application", (wb) => wb),
  },
  methods: {
    getSelectedRange: getter("Workbook", "getSelectedRange", "Range", (wb) => rangeModel(wb.selection.sheet, wb.selection)),
    getActiveCell: getter("Workbook", "getActiveCell", "Range", (wb) =>
      rangeModel(wb.selection.sheet, { r0: wb.selection.r0, c0: wb.selection.c0, r1: wb.selection.r0, c1: wb.selection.c0 }),
    ),
  },
};

CLASSES.Application = {
  props: {
    calculationMode: {
      get: (wb) => wb.calculationMode,
      set: (wb, v) => {
        if (!["Automatic", "AutomaticExceptTables", "Manual"].includes(v)) throw new OfficeError("InvalidArgument", `calculationMode ${v}`);
        wb.calculationMode = v;
      },
    },
  },
  nav: {},
  methods: {
    suspendScreenUpdatingUntilNextSync: op("Application", "suspendScreenUpdatingUntilNextSync", () => {}),
    calculate: op("Application", "calculate", () => {}),
  },
};

// ---- Worksheets
function addSheet(host, wb, name) {
  if (name === undefined || name === null) {
    let n = wb.sheets.length + 1;
    while (findSheet(wb, `Sheet${n}`)) n += 1;
    name = `Sheet${n}`;
  }
  const problem = sheetNameProblem(name);
  if (problem) throw new OfficeError("InvalidArgument", `The argument is invalid: ${problem}.`);
  if (findSheet(wb, name)) throw new OfficeError("ItemAlreadyExists", `A sheet named ${JSON.stringify(name)} already exists (sheet names are compared case-insensitively).`);
  const sheet = newSheet(name);
  wb.sheets.push(sheet); // "The worksheet will be added at the end of existing worksheets." (@types/office-js, WorksheetCollection.add)
  return sheet;
}

CLASSES.WorksheetCollection = collectionClass("Worksheet", (wb) => wb.sheets, {
  methods: {
    add: op("WorksheetCollection", "add", (wb, name) => addSheet(null, wb, name), {
      returns: (p, name) => new (proxyClass("Worksheet"))(p._ctx, "Worksheet", `${p._path}/add(${JSON.stringify(name ?? null)})`, () => null),
    }),
    getItem: getter("WorksheetCollection", "getItem", "Worksheet", (wb, key) => {
      const s = findSheet(wb, key) || wb.sheets.find((x) => x.id === key);
      if (!s) throw notFound(`the worksheet ${JSON.stringify(key)}`);
      return s;
    }),
    getItemOrNullObject: getter(
      "WorksheetCollection",
      "getItemOrNullObject",
      "Worksheet",
      (wb, key) => {
        const s = findSheet(wb, key) || wb.sheets.find((x) => x.id === key);
        if (!s) throw notFound(`the worksheet ${JSON.stringify(key)}`);
        return s;
      },
      { orNull: true },
    ),
    getActiveWorksheet: getter("WorksheetCollection", "getActiveWorksheet", "Worksheet", (wb) => wb.active),
    getFirst: getter("WorksheetCollection", "getFirst", "Worksheet", (wb) => wb.sheets[0]),
  },
});

CLASSES.Worksheet = {
  props: {
    id: { get: (s) => s.id },
    name: {
      get: (s) => s.name,
      set: (s, v, p) => {
        const wb = host$(p).wb;
        const problem = sheetNameProblem(v);
        if (problem) throw new OfficeError("InvalidArgument", `The argument is invalid: ${problem}.`);
        const other = findSheet(wb, v);
        if (other && other !== s) throw new OfficeError("ItemAlreadyExists", `A sheet named ${JSON.stringify(v)} already exists.`);
        s.name = v;
      },
    },
    position: {
      get: (s, p) => host$(p).wb.sheets.indexOf(s),
      set: (s, v, p) => {
        const sheets = host$(p).wb.sheets;
        if (!Number.isInteger(v) || v < 0 || v >= sheets.length) throw new OfficeError("InvalidArgument", `position ${v}`);
        sheets.splice(sheets.indexOf(s), 1);
        sheets.splice(v, 0, s);
      },
    },
    visibility: {
      get: (s) => s.visibility,
      set: (s, v, p) => {
        if (!["Visible", "Hidden", "VeryHidden"].includes(v)) throw new OfficeError("InvalidArgument", `visibility ${v}`);
        const wb = host$(p).wb;
        if (v !== "Visible" && wb.sheets.filter((x) => x !== s && x.visibility === "Visible").length === 0) {
          throw new OfficeError("InvalidOperation", "A workbook must contain at least one visible worksheet.");
        }
        s.visibility = v;
      },
    },
    showGridlines: { get: (s) => s.showGridlines, set: (s, v) => (s.showGridlines = Boolean(v)) },
    tabColor: { get: () => "", set: () => {} },
  },
  nav: {
    tables: (p) => child(p, "TableCollection", "tables", (s) => ({ wb: host$(p).wb, sheet: s })),
    charts: (p) => child(p, "ChartCollection", "charts", (s) => s),
    names: (p) => child(p, "NamedItemCollection", "names", (s) => ({ wb: host$(p).wb, scope: s })),
    freezePanes: (p) => child(p, "WorksheetFreezePanes", "freezePanes", (s) => s),
    pageLayout: (p) => child(p, "PageLayout", "pageLayout", (s) => s),
    shapes: (p) => child(p, "EmptyCollection", "shapes", () => []),
    pivotTables: (p) => child(p, "EmptyCollection", "pivotTables", () => []),
    notes: (p) => child(p, "EmptyCollection", "notes", () => []),
    comments: (p) => child(p, "EmptyCollection", "comments", () => []),
    protection: (p) => child(p, "WorksheetProtection", "protection", (s) => s),
  },
  methods: {
    activate: op("Worksheet", "activate", function (s) {
      this.__wb.active = s;
    }),
    delete: op("Worksheet", "delete", function (s) {
      const wb = this.__wb;
      if (wb.sheets.filter((x) => x !== s && x.visibility === "Visible").length === 0) {
        throw new OfficeError("InvalidOperation", "A workbook must contain at least one visible worksheet.");
      }
      wb.sheets.splice(wb.sheets.indexOf(s), 1);
      if (wb.active === s) wb.active = wb.sheets.find((x) => x.visibility === "Visible");
      if (wb.selection.sheet === s) wb.selection = { sheet: wb.active, r0: 0, c0: 0, r1: 0, c1: 0 };
    }),
    getRange: getter("Worksheet", "getRange", "Range", (s, address) =>
      address === undefined || address === null || address === "" ? rangeModel(s, { r0: 0, c0: 0, r1: MAX_ROWS - 1, c1: MAX_COLS - 1 }) : rangeIn(s, address),
    ),
    getRangeByIndexes: getter("Worksheet", "getRangeByIndexes", "Range", (s, r, c, rows, cols) => {
      if (![r, c, rows, cols].every(Number.isInteger) || r < 0 || c < 0 || rows < 1 || cols < 1 || r + rows > MAX_ROWS || c + cols > MAX_COLS) {
        throw new OfficeError("InvalidArgument", `getRangeByIndexes(${r}, ${c}, ${rows}, ${cols})`);
      }
      return rangeModel(s, { r0: r, c0: c, r1: r + rows - 1, c1: c + cols - 1 });
    }),
    getUsedRange: getter("Worksheet", "getUsedRange", "Range", (s, valuesOnly) =>
      // "If the worksheet is blank, this function will return the top left cell." (@types/office-js)
      rangeModel(s, usedArea(s, valuesOnly) || { r0: 0, c0: 0, r1: 0, c1: 0 }),
    ),
    getUsedRangeOrNullObject: getter(
      "Worksheet",
      "getUsedRangeOrNullObject",
      "Range",
      (s, valuesOnly) => {
        const a = usedArea(s, valuesOnly);
        if (!a) throw notFound("a used range");
        return rangeModel(s, a);
      },
      { orNull: true },
    ),
  },
};

CLASSES.WorksheetProtection = { props: { protected: { get: () => false } }, nav: {}, methods: {} };

CLASSES.EmptyCollection = collectionClass("Worksheet", () => [], {});

// ---- Range
function rangeFormatProp(key, dflt, check) {
  return {
    get: (m) => uniform(m, (r, c) => {
      const cell = getCell(m.sheet, r, c);
      return cell && cell[key] !== undefined ? cell[key] : dflt;
    }),
    set: (m, v) => {
      if (check) check(v);
      forCells(m, (r, c) => (getCell(m.sheet, r, c, true)[key] = v));
    },
  };
}

function oneOf(what, allowed) {
  return (v) => {
    if (!allowed.includes(v)) throw new OfficeError("InvalidArgument", `${what} ${JSON.stringify(v)} is not one of ${allowed.join(", ")}`);
  };
}

function color(v) {
  if (typeof v !== "string" || !(/^#[0-9A-Fa-f]{6}$/.test(v) || /^[A-Za-z]+$/.test(v))) {
    throw new OfficeError("InvalidArgument", `color ${JSON.stringify(v)} (#RRGGBB or an HTML color name)`);
  }
}

function rangeGetter(name, fn) {
  return getter("Range", name, "Range", function (m, ...args) {
    const a = fn.call(this, m, ...args);
    if (a.r0 < 0 || a.c0 < 0 || a.r1 >= MAX_ROWS || a.c1 >= MAX_COLS || a.r1 < a.r0 || a.c1 < a.c0) {
      throw new OfficeError("InvalidArgument", `${name}(${args.join(", ")}) leaves the sheet`);
    }
    return rangeModel(m.sheet, a);
  });
}

CLASSES.Range = {
  props: {
    address: { get: (m) => `${quoteSheet(m.sheet.name)}!${areaAddress(m)}` },
    addressLocal: { get: (m) => `${quoteSheet(m.sheet.name)}!${areaAddress(m)}` },
    rowCount: { get: (m) => m.r1 - m.r0 + 1 },
    columnCount: { get: (m) => m.c1 - m.c0 + 1 },
    cellCount: { get: (m) => (m.r1 - m.r0 + 1) * (m.c1 - m.c0 + 1) },
    rowIndex: { get: (m) => m.r0 },
    columnIndex: { get: (m) => m.c0 },
    values: {
      get: (m) => matrix(m, (r, c) => cellValue(m.sheet, r, c)),
      set: (m, v, p) => writeValues(host$(p), m, v, false),
    },
    formulas: {
      get: (m) => matrix(m, (r, c) => {
        const cell = getCell(m.sheet, r, c);
        return cell && cell.formula !== undefined ? cell.formula : cellValue(m.sheet, r, c);
      }),
      set: (m, v, p) => writeValues(host$(p), m, v, true),
    },
    numberFormat: {
      get: (m) => matrix(m, (r, c) => {
        const cell = getCell(m.sheet, r, c);
        return (cell && cell.numberFormat) || "General";
      }),
      set: (m, v) => {
        const at = cellInput(m, v, "numberFormat");
        forCells(m, (r, c) => {
          const f = at(r, c);
          if (f !== null && f !== undefined) getCell(m.sheet, r, c, true).numberFormat = String(f);
        });
      },
    },
    text: { get: (m) => matrix(m, (r, c) => String(cellValue(m.sheet, r, c))) },
    valueTypes: {
      get: (m) => matrix(m, (r, c) => {
        const v = cellValue(m.sheet, r, c);
        return v === "" ? "Empty" : typeof v === "number" ? "Double" : typeof v === "boolean" ? "Boolean" : "String";
      }),
    },
  },
  nav: {
    format: (p) => child(p, "RangeFormat", "format", (m) => m),
    conditionalFormats: (p) => child(p, "ConditionalFormatCollection", "conditionalFormats", (m) => m),
    dataValidation: (p) => child(p, "DataValidation", "dataValidation", (m) => m),
    worksheet: (p) => child(p, "Worksheet", "worksheet", (m) => m.sheet),
  },
  methods: {
    getCell: rangeGetter("getCell", (m, r, c) => ({ r0: m.r0 + r, c0: m.c0 + c, r1: m.r0 + r, c1: m.c0 + c })),
    getRow: rangeGetter("getRow", (m, r) => ({ r0: m.r0 + r, c0: m.c0, r1: m.r0 + r, c1: m.c1 })),
    getColumn: rangeGetter("getColumn", (m, c) => ({ r0: m.r0, c0: m.c0 + c, r1: m.r1, c1: m.c0 + c })),
    getResizedRange: rangeGetter("getResizedRange", (m, dr, dc) => ({ r0: m.r0, c0: m.c0, r1: m.r1 + dr, c1: m.c1 + dc })),
    getOffsetRange: rangeGetter("getOffsetRange", (m, dr, dc) => ({ r0: m.r0 + dr, c0: m.c0 + dc, r1: m.r1 + dr, c1: m.c1 + dc })),
    getEntireRow: rangeGetter("getEntireRow", (m) => ({ r0: m.r0, c0: 0, r1: m.r1, c1: MAX_COLS - 1 })),
    getEntireColumn: rangeGetter("getEntireColumn", (m) => ({ r0: 0, c0: m.c0, r1: MAX_ROWS - 1, c1: m.c1 })),
    getLastCell: rangeGetter("getLastCell", (m) => ({ r0: m.r1, c0: m.c1, r1: m.r1, c1: m.c1 })),
    getBoundingRect: rangeGetter("getBoundingRect", function (m, other) {
      const o = rangeInBook(this.__wb, other, m.sheet);
      return { r0: Math.min(m.r0, o.r0), c0: Math.min(m.c0, o.c0), r1: Math.max(m.r1, o.r1), c1: Math.max(m.c1, o.c1) };
    }),
    // (not modelled: the region bounded by empty rows and columns; the used range stands in)
    getSurroundingRegion: rangeGetter("getSurroundingRegion", (m) => usedArea(m.sheet, true) || { r0: 0, c0: 0, r1: 0, c1: 0 }),
    getMergedAreasOrNullObject: getter(
      "Range",
      "getMergedAreasOrNullObject",
      "RangeAreas",
      (m) => {
        const areas = m.sheet.merges.filter((a) => intersects(a, m));
        if (!areas.length) throw notFound("merged areas");
        return { sheet: m.sheet, areas };
      },
      { orNull: true },
    ),
    merge: op("Range", "merge", function (m, across = false) {
      // Rule 7: Excel does not merge cells in a table (Microsoft Support, "Merge and unmerge
      // cells": "You can't merge cells in a table" — https://support.microsoft.com/office/merge-and-unmerge-cells-5cbd15d5-9375-4540-907f-c673a93fcedf).
      const table = m.sheet.tables.find((t) => intersects(t.area, m));
      if (table) throw new OfficeError("InvalidOperation", `Cells in the table ${table.name} cannot be merged (${areaAddress(m)}).`);
      const rows = across ? Array.from({ length: m.r1 - m.r0 + 1 }, (_, i) => ({ r0: m.r0 + i, r1: m.r0 + i, c0: m.c0, c1: m.c1 })) : [m];
      for (const a of rows) {
        if (a.r0 === a.r1 && a.c0 === a.c1) continue;
        m.sheet.merges = m.sheet.merges.filter((x) => !intersects(x, a));
        m.sheet.merges.push({ r0: a.r0, c0: a.c0, r1: a.r1, c1: a.c1 });
      }
    }),
    unmerge: op("Range", "unmerge", (m) => {
      m.sheet.merges = m.sheet.merges.filter((x) => !intersects(x, m));
    }),
    clear: op("Range", "clear", (m, applyTo = "All") => {
      forCells(m, (r, c) => {
        const cell = getCell(m.sheet, r, c);
        if (!cell) return;
        if (applyTo === "All" || applyTo === "Contents") {
          delete cell.value;
          delete cell.formula;
        }
        if (applyTo === "All" || applyTo === "Formats") {
          for (const k of Object.keys(cell)) if (k !== "value" && k !== "formula") delete cell[k];
        }
        if (!Object.keys(cell).length) m.sheet.cells.delete(`${r},${c}`);
      });
    }),
    select: op("Range", "select", function (m) {
      this.__wb.selection = { sheet: m.sheet, r0: m.r0, c0: m.c0, r1: m.r1, c1: m.c1 };
      this.__wb.active = m.sheet;
    }),
  },
};

CLASSES.RangeAreas = {
  props: {
    address: { get: (m) => m.areas.map((a) => `${quoteSheet(m.sheet.name)}!${areaAddress(a)}`).join(",") },
    areaCount: { get: (m) => m.areas.length },
  },
  nav: { areas: (p) => child(p, "RangeCollection", "areas", (m) => m) },
  methods: {},
};
CLASSES.RangeCollection = collectionClass("Range", (m) => m.areas.map((a) => rangeModel(m.sheet, a)));

CLASSES.RangeFormat = {
  props: {
    wrapText: rangeFormatProp("wrapText", false, (v) => {
      if (typeof v !== "boolean") throw new OfficeError("InvalidArgument", "wrapText must be a boolean");
    }),
    horizontalAlignment: rangeFormatProp(
      "horizontalAlignment",
      "General",
      oneOf("horizontalAlignment", ["General", "Left", "Center", "Right", "Fill", "Justify", "CenterAcrossSelection", "Distributed"]),
    ),
    verticalAlignment: rangeFormatProp("verticalAlignment", "Bottom", oneOf("verticalAlignment", ["Top", "Center", "Bottom", "Justify", "Distributed"])),
    columnWidth: {
      get: (m) => uniform({ r0: 0, r1: 0, c0: m.c0, c1: m.c1 }, (r, c) => m.sheet.columnWidths.get(c) ?? DEFAULT_COLUMN_WIDTH),
      set: (m, v) => {
        if (typeof v !== "number" || !(v >= 0)) throw new OfficeError("InvalidArgument", `columnWidth ${v}`);
        for (let c = m.c0; c <= m.c1; c += 1) m.sheet.columnWidths.set(c, v);
      },
    },
    rowHeight: {
      get: (m) => uniform({ r0: m.r0, r1: m.r1, c0: 0, c1: 0 }, (r) => m.sheet.rowHeights.get(r) ?? DEFAULT_ROW_HEIGHT),
      set: (m, v) => {
        if (typeof v !== "number" || !(v >= 0) || v > 409) throw new OfficeError("InvalidArgument", `rowHeight ${v} (0 to 409 points)`);
        for (let r = m.r0; r <= m.r1; r += 1) m.sheet.rowHeights.set(r, v);
      },
    },
  },
  nav: {
    font: (p) => child(p, "RangeFont", "font", (m) => m),
    fill: (p) => child(p, "RangeFill", "fill", (m) => m),
  },
  methods: {
    autofitColumns: op("RangeFormat", "autofitColumns", () => {}),
    autofitRows: op("RangeFormat", "autofitRows", () => {}),
  },
};

function fontProp(key, dflt, check) {
  return {
    get: (m) => uniform(m, (r, c) => {
      const cell = getCell(m.sheet, r, c);
      return cell && cell.font && cell.font[key] !== undefined ? cell.font[key] : dflt;
    }),
    set: (m, v) => {
      if (check) check(v);
      forCells(m, (r, c) => {
        const cell = getCell(m.sheet, r, c, true);
        cell.font = { ...(cell.font || {}), [key]: v };
      });
    },
  };
}

const isBool = (what) => (v) => {
  if (typeof v !== "boolean") throw new OfficeError("InvalidArgument", `${what} must be a boolean`);
};

CLASSES.RangeFont = {
  props: {
    bold: fontProp("bold", false, isBool("bold")),
    italic: fontProp("italic", false, isBool("italic")),
    size: fontProp("size", 11, (v) => {
      if (typeof v !== "number" || v < 1 || v > 409) throw new OfficeError("InvalidArgument", `font size ${v}`);
    }),
    color: fontProp("color", "#000000", color),
    name: fontProp("name", "Calibri"),
    underline: fontProp("underline", "None"),
    strikethrough: fontProp("strikethrough", false),
  },
  nav: {},
  methods: {},
};

CLASSES.RangeFill = {
  props: {
    color: {
      // an unfilled cell reads as #FFFFFF, as Office.js answers
      get: (m) => uniform(m, (r, c) => {
        const cell = getCell(m.sheet, r, c);
        return (cell && cell.fill) || "#FFFFFF";
      }),
      set: (m, v) => {
        color(v);
        forCells(m, (r, c) => (getCell(m.sheet, r, c, true).fill = v));
      },
    },
  },
  nav: {},
  methods: {
    clear: op("RangeFill", "clear", (m) => forCells(m, (r, c) => {
      const cell = getCell(m.sheet, r, c);
      if (cell) delete cell.fill;
    })),
  },
};

// ---- conditional formats
CLASSES.ConditionalFormatCollection = collectionClass("ConditionalFormat", (m) =>
  m.sheet.conditionalFormats.filter((cf) => intersects(cf.area, m)).sort((a, b) => a.priority - b.priority),
  {
    methods: {
      add: op(
        "ConditionalFormatCollection",
        "add",
        (m, type) => {
          const types = Object.values(apiSets.enums.ConditionalFormatType);
          if (!types.includes(type)) throw new OfficeError("InvalidArgument", `conditional format type ${type}`);
          // "Adds a new conditional format to the collection at the first/top priority." (@types/office-js)
          for (const cf of m.sheet.conditionalFormats) cf.priority += 1;
          const cf = { sheet: m.sheet, area: { r0: m.r0, c0: m.c0, r1: m.r1, c1: m.c1 }, type, priority: 0, stopIfTrue: false, format: {} };
          m.sheet.conditionalFormats.push(cf);
          return cf;
        },
        { returns: (p, type) => new (proxyClass("ConditionalFormat"))(p._ctx, "ConditionalFormat", `${p._path}/add(${type})`, () => null) },
      ),
      clearAll: op("ConditionalFormatCollection", "clearAll", (m) => {
        m.sheet.conditionalFormats = m.sheet.conditionalFormats.filter((cf) => !intersects(cf.area, m));
      }),
      getItemAt: getter("ConditionalFormatCollection", "getItemAt", "ConditionalFormat", (m, i) => {
        const items = CLASSES.ConditionalFormatCollection.items(m);
        if (!items[i]) throw notFound(`conditional format ${i}`);
        return items[i];
      }),
    },
  },
);

CLASSES.ConditionalFormat = {
  props: {
    type: { get: (cf) => cf.type },
    priority: {
      get: (cf) => cf.priority,
      set: (cf, v) => {
        const list = cf.sheet.conditionalFormats.filter((x) => x !== cf).sort((a, b) => a.priority - b.priority);
        list.splice(Math.max(0, Math.min(v, list.length)), 0, cf);
        list.forEach((x, i) => (x.priority = i));
      },
    },
    stopIfTrue: { get: (cf) => cf.stopIfTrue, set: (cf, v) => (cf.stopIfTrue = Boolean(v)) },
  },
  nav: {
    custom: (p) => child(p, "CustomConditionalFormat", "custom", (cf) => (cf.type === "Custom" ? cf : wrongType(cf, "Custom"))),
    cellValue: (p) => child(p, "CellValueConditionalFormat", "cellValue", (cf) => (cf.type === "CellValue" ? cf : wrongType(cf, "CellValue"))),
  },
  methods: {
    getRange: getter("ConditionalFormat", "getRange", "Range", (cf) => rangeModel(cf.sheet, cf.area)),
    delete: op("ConditionalFormat", "delete", (cf) => {
      cf.sheet.conditionalFormats.splice(cf.sheet.conditionalFormats.indexOf(cf), 1);
    }),
  },
};

function wrongType(cf, wanted) {
  throw new OfficeError("InvalidArgument", `The conditional format is of type ${cf.type}, not ${wanted}.`);
}

CLASSES.CustomConditionalFormat = {
  props: {},
  nav: {
    rule: (p) => child(p, "ConditionalFormatRule", "rule", (cf) => cf),
    format: (p) => child(p, "ConditionalRangeFormat", "format", (cf) => cf),
  },
  methods: {},
};

CLASSES.CellValueConditionalFormat = {
  props: {
    rule: {
      get: (cf) => cf.rule || null,
      set: (cf, v, p) => {
        for (const k of ["formula1", "formula2"]) {
          if (v && typeof v[k] === "string" && v[k].startsWith("=")) checkFormula(v[k], host$(p).wb, host$(p), "conditional format");
        }
        cf.rule = { ...v };
      },
    },
  },
  nav: { format: (p) => child(p, "ConditionalRangeFormat", "format", (cf) => cf) },
  methods: {},
};

CLASSES.ConditionalFormatRule = {
  props: {
    formula: {
      get: (cf) => cf.formula ?? null,
      set: (cf, v, p) => {
        checkFormula(v, host$(p).wb, host$(p), `the conditional format of ${areaAddress(cf.area)}`);
        cf.formula = v;
      },
    },
  },
  nav: {},
  methods: {},
};

CLASSES.ConditionalRangeFormat = {
  props: { numberFormat: { get: (cf) => cf.format.numberFormat ?? null, set: (cf, v) => (cf.format.numberFormat = v) } },
  nav: {
    font: (p) => child(p, "ConditionalRangeFont", "font", (cf) => cf),
    fill: (p) => child(p, "ConditionalRangeFill", "fill", (cf) => cf),
  },
  methods: {},
};

CLASSES.ConditionalRangeFont = {
  props: {
    color: { get: (cf) => cf.format.fontColor ?? null, set: (cf, v) => (color(v), (cf.format.fontColor = v)) },
    bold: { get: (cf) => cf.format.bold ?? null, set: (cf, v) => (isBool("bold")(v), (cf.format.bold = v)) },
    italic: { get: (cf) => cf.format.italic ?? null, set: (cf, v) => (isBool("italic")(v), (cf.format.italic = v)) },
  },
  nav: {},
  methods: {},
};

CLASSES.ConditionalRangeFill = {
  props: { color: { get: (cf) => cf.format.fillColor ?? null, set: (cf, v) => (color(v), (cf.format.fillColor = v)) } },
  nav: {},
  methods: { clear: op("ConditionalRangeFill", "clear", (cf) => delete cf.format.fillColor) },
};

// ---- data validation
function validationsOver(m) {
  return m.sheet.dataValidations.filter((dv) => intersects(dv.area, m));
}

CLASSES.DataValidation = {
  props: {
    type: {
      get: (m) => {
        const over = validationsOver(m);
        if (!over.length) return "None";
        if (over.length === 1 && contains(over[0].area, m)) return over[0].type;
        return "Inconsistent";
      },
    },
    rule: {
      get: (m) => {
        const over = validationsOver(m);
        return over.length === 1 ? over[0].rule : null;
      },
      set: (m, v, p) => {
        if (!v || typeof v !== "object" || Object.keys(v).length !== 1) {
          throw new OfficeError("InvalidArgument", "A data validation rule has exactly one kind (list, custom, wholeNumber, ...).");
        }
        const kind = Object.keys(v)[0];
        const types = { list: "List", custom: "Custom", wholeNumber: "WholeNumber", decimal: "Decimal", date: "Date", time: "Time", textLength: "TextLength" };
        if (!types[kind]) throw new OfficeError("InvalidArgument", `data validation rule ${kind}`);
        const rule = JSON.parse(JSON.stringify(v, (k, x) => (x instanceof ClientObject ? undefined : x)));
        if (kind === "list") {
          let source = v.list.source;
          if (source instanceof ClientObject) {
            const r = source._live();
            source = `=${absoluteAddress(r.sheet.name, r)}`;
          }
          if (typeof source !== "string" || !source) throw new OfficeError("InvalidArgument", "a list validation needs a source");
          if (source.startsWith("=")) checkFormula(source, host$(p).wb, host$(p), "the list source");
          rule.list = { inCellDropDown: v.list.inCellDropDown !== false, source };
        }
        if (kind === "custom") checkFormula(v.custom.formula, host$(p).wb, host$(p), "the validation formula");
        // the new rule replaces the ones it overlaps (not modelled: splitting them)
        m.sheet.dataValidations = m.sheet.dataValidations.filter((dv) => !intersects(dv.area, m));
        m.sheet.dataValidations.push({ area: { r0: m.r0, c0: m.c0, r1: m.r1, c1: m.c1 }, type: types[kind], rule });
      },
    },
    ignoreBlanks: { get: () => true, set: () => {} },
    prompt: { get: () => ({ showPrompt: false, title: "", message: "" }), set: () => {} },
    errorAlert: { get: () => ({ showAlert: true, style: "Stop", title: "", message: "" }), set: () => {} },
    valid: { get: () => true },
  },
  nav: {},
  methods: {
    clear: op("DataValidation", "clear", (m) => {
      m.sheet.dataValidations = m.sheet.dataValidations.filter((dv) => !intersects(dv.area, m));
    }),
  },
};

// ---- freeze panes, page layout
CLASSES.WorksheetFreezePanes = {
  props: {},
  nav: {},
  methods: {
    // "Sets the frozen cells in the active worksheet view. The range provided corresponds to
    // cells that will be frozen in the top- and left-most pane." (@types/office-js)
    freezeAt: op("WorksheetFreezePanes", "freezeAt", (s, at) => {
      const r = rangeIn(s, at);
      // whole rows ("1:17") freeze rows only, whole columns ("A:B") columns only
      const wholeRows = r.c0 === 0 && r.c1 === MAX_COLS - 1;
      const wholeColumns = r.r0 === 0 && r.r1 === MAX_ROWS - 1;
      s.freeze = { rows: wholeColumns ? 0 : r.r1 + 1, columns: wholeRows ? 0 : r.c1 + 1 };
    }),
    freezeRows: op("WorksheetFreezePanes", "freezeRows", (s, n = 1) => (s.freeze = { rows: n, columns: 0 })),
    freezeColumns: op("WorksheetFreezePanes", "freezeColumns", (s, n = 1) => (s.freeze = { rows: 0, columns: n })),
    unfreeze: op("WorksheetFreezePanes", "unfreeze", (s) => (s.freeze = null)),
    getLocationOrNullObject: getter(
      "WorksheetFreezePanes",
      "getLocationOrNullObject",
      "Range",
      (s) => {
        if (!s.freeze) throw notFound("frozen panes");
        return rangeModel(s, { r0: 0, c0: 0, r1: Math.max(0, s.freeze.rows - 1), c1: Math.max(0, s.freeze.columns - 1) });
      },
      { orNull: true },
    ),
  },
};

CLASSES.PageLayout = {
  props: { orientation: { get: () => "Portrait", set: () => {} } },
  nav: {},
  methods: {
    setPrintArea: op("PageLayout", "setPrintArea", (s, area) => {
      if (area === "" || area === null) {
        s.printArea = null;
        return;
      }
      const parts = area instanceof ClientObject ? [area] : String(area).split(",");
      s.printArea = parts.map((a) => areaAddress(rangeIn(s, a))).join(",");
    }),
    getPrintAreaOrNullObject: getter(
      "PageLayout",
      "getPrintAreaOrNullObject",
      "RangeAreas",
      (s) => {
        if (!s.printArea) throw notFound("a print area");
        return { sheet: s, areas: s.printArea.split(",").map(parseAddress) };
      },
      { orNull: true },
    ),
  },
};

// ---- tables
function nextFreeName(wb, stem) {
  let n = 1;
  while (findTable(wb, `${stem}${n}`) || wb.names.some((x) => same(x.name, `${stem}${n}`))) n += 1;
  return `${stem}${n}`;
}

function checkTableName(wb, name, self) {
  const problem = definedNameProblem(name);
  if (problem) throw new OfficeError("InvalidArgument", `The table name is not valid: ${problem}.`);
  const other = findTable(wb, name);
  if ((other && other !== self) || wb.names.some((n) => same(n.name, name))) {
    throw new OfficeError("ItemAlreadyExists", `The name ${JSON.stringify(name)} is already used in this workbook (case-insensitively).`);
  }
}

function addTable(wb, sheet, address, hasHeaders) {
  let r = rangeInBook(wb, address, sheet || wb.active);
  if (sheet && r.sheet !== sheet) throw new OfficeError("InvalidArgument", "The table's range is on another sheet.");
  sheet = r.sheet;
  if (!hasHeaders) {
    // "If the source does not contain headers (i.e., when this property set to false), Excel
    // will automatically generate a header and shift the data down by one row." (@types/office-js)
    const area = { r0: r.r0, c0: r.c0, r1: r.r1 + 1, c1: r.c1 };
    r = rangeModel(sheet, area);
  }
  // Rule 3: "If the table cannot be added (e.g., because the address is invalid, or the
  // table would overlap with another table), an error will be thrown." (@types/office-js,
  // TableCollection.add)
  const overlapped = sheet.tables.find((t) => intersects(t.area, r));
  if (overlapped) {
    throw new OfficeError("InvalidArgument", `A table can't overlap another table: ${areaAddress(r)} overlaps ${overlapped.name} (${areaAddress(overlapped.area)}).`);
  }
  if (r.r1 - r.r0 < 1 && hasHeaders) {
    /* a one-row table is headers only: Excel adds an empty data row */
    r = rangeModel(sheet, { ...r, r1: r.r1 + 1 });
  }
  if (!hasHeaders) {
    for (let row = r.r1; row > r.r0; row -= 1) {
      for (let c = r.c0; c <= r.c1; c += 1) {
        const above = getCell(sheet, row - 1, c);
        if (above) sheet.cells.set(`${row},${c}`, { ...above });
        else sheet.cells.delete(`${row},${c}`);
      }
    }
  }
  // header cells: blank → ColumnN, repeated → a number added (as Excel does)
  const seen = [];
  for (let c = r.c0; c <= r.c1; c += 1) {
    let h = hasHeaders ? String(cellValue(sheet, r.r0, c)) : "";
    if (h === "") h = `Column${c - r.c0 + 1}`;
    let name = h;
    for (let k = 2; seen.some((x) => same(x, name)); k += 1) name = `${h}${k}`;
    seen.push(name);
    const cell = getCell(sheet, r.r0, c, true);
    delete cell.formula;
    cell.value = name;
  }
  const table = {
    id: `${nextId++}`,
    name: nextFreeName(wb, "Table"),
    sheet,
    area: { r0: r.r0, c0: r.c0, r1: r.r1, c1: r.c1 },
    style: "TableStyleMedium2",
    showHeaders: true,
    showTotals: false,
    showFilterButton: true,
    highlightFirstColumn: false,
    highlightLastColumn: false,
    showBandedRows: true,
    showBandedColumns: false,
  };
  sheet.tables.push(table);
  return table;
}

CLASSES.TableCollection = collectionClass("Table", (m) => (m.sheet ? m.sheet.tables : m.wb.sheets.flatMap((s) => s.tables)), {
  methods: {
    add: op("TableCollection", "add", function (m, address, hasHeaders) {
      return addTable(m.wb, m.sheet, address, hasHeaders);
    }, {
      returns: (p, address) => new (proxyClass("Table"))(p._ctx, "Table", `${p._path}/add(${JSON.stringify(describe(address))})`, () => null),
    }),
    getItem: getter("TableCollection", "getItem", "Table", (m, key) => {
      const t = CLASSES.TableCollection.items(m).find((x) => same(x.name, key) || x.id === key);
      if (!t) throw notFound(`the table ${JSON.stringify(key)}`);
      return t;
    }),
    getItemOrNullObject: getter(
      "TableCollection",
      "getItemOrNullObject",
      "Table",
      (m, key) => {
        const t = CLASSES.TableCollection.items(m).find((x) => same(x.name, key) || x.id === key);
        if (!t) throw notFound(`the table ${JSON.stringify(key)}`);
        return t;
      },
      { orNull: true },
    ),
    getItemAt: getter("TableCollection", "getItemAt", "Table", (m, i) => {
      const t = CLASSES.TableCollection.items(m)[i];
      if (!t) throw notFound(`table ${i}`);
      return t;
    }),
  },
});

function tableFlag(key) {
  return { get: (t) => t[key], set: (t, v) => (isBool(key)(v), (t[key] = v)) };
}

CLASSES.Table = {
  props: {
    id: { get: (t) => t.id },
    name: {
      get: (t) => t.name,
      set: (t, v, p) => {
        checkTableName(host$(p).wb, v, t);
        t.name = v;
      },
    },
    style: {
      get: (t) => t.style,
      set: (t, v) => {
        if (typeof v !== "string" || !/^TableStyle(Light|Medium|Dark)\d+$/.test(v)) {
          throw new OfficeError("InvalidArgument", `table style ${JSON.stringify(v)} (TableStyleLight1-21, TableStyleMedium1-28, TableStyleDark1-11 or a custom style the stand-in does not know)`);
        }
        t.style = v;
      },
    },
    showHeaders: tableFlag("showHeaders"),
    showTotals: tableFlag("showTotals"),
    showFilterButton: tableFlag("showFilterButton"),
    highlightFirstColumn: tableFlag("highlightFirstColumn"),
    highlightLastColumn: tableFlag("highlightLastColumn"),
    showBandedRows: tableFlag("showBandedRows"),
    showBandedColumns: tableFlag("showBandedColumns"),
  },
  nav: {
    columns: (p) => child(p, "TableColumnCollection", "columns", (t) => t),
    worksheet: (p) => child(p, "Worksheet", "worksheet", (t) => t.sheet),
  },
  methods: {
    getRange: getter("Table", "getRange", "Range", (t) => rangeModel(t.sheet, t.area)),
    getHeaderRowRange: getter("Table", "getHeaderRowRange", "Range", (t) => rangeModel(t.sheet, { ...t.area, r1: t.area.r0 })),
    getDataBodyRange: getter("Table", "getDataBodyRange", "Range", (t) => rangeModel(t.sheet, { ...t.area, r0: t.area.r0 + 1 })),
    getTotalRowRange: getter("Table", "getTotalRowRange", "Range", (t) => {
      if (!t.showTotals) throw notFound("the total row");
      return rangeModel(t.sheet, { ...t.area, r0: t.area.r1 });
    }),
    delete: op("Table", "delete", (t) => t.sheet.tables.splice(t.sheet.tables.indexOf(t), 1)),
  },
};

CLASSES.TableColumnCollection = collectionClass("TableColumn", (t) => tableColumns(t).map((name, i) => ({ table: t, name, index: i })));
CLASSES.TableColumn = { props: { name: { get: (c) => c.name }, index: { get: (c) => c.index } }, nav: {}, methods: {} };

// ---- charts
const DEFAULT_CHART = { width: 360, height: 216 }; // Excel's default chart: 5 x 3 inches

function chartSeries(chart) {
  const r = chart.source;
  const rows = r.r1 - r.r0 + 1;
  const cols = r.c1 - r.c0 + 1;
  const byRows = chart.seriesBy === "Rows" || (chart.seriesBy === "Auto" && rows < cols);
  // a text (not a formula: formulas are not calculated here) in the first data cell makes
  // the first column (row) the categories
  const text = (row, col) => {
    const cell = getCell(r.sheet, row, col);
    return Boolean(cell) && cell.formula === undefined && typeof cell.value === "string" && cell.value !== "";
  };
  const labels = byRows ? (cols > 1 && text(r.r0 + (rows > 1 ? 1 : 0), r.c0) ? 1 : 0) : cols > 1 && text(r.r0 + 1, r.c0) ? 1 : 0;
  const n = Math.max(1, (byRows ? rows : cols) - labels);
  return Array.from({ length: n }, (_, i) => {
    chart.seriesState[i] = chart.seriesState[i] || { xAxisValues: null };
    return { chart, index: i, state: chart.seriesState[i] };
  });
}

function cellTop(sheet, r) {
  let y = 0;
  for (let i = 0; i < r; i += 1) y += sheet.rowHeights.get(i) ?? DEFAULT_ROW_HEIGHT;
  return y;
}

function cellLeft(sheet, c) {
  let x = 0;
  for (let i = 0; i < c; i += 1) x += sheet.columnWidths.get(i) ?? DEFAULT_COLUMN_WIDTH;
  return x;
}

CLASSES.ChartCollection = collectionClass("Chart", (s) => s.charts, {
  methods: {
    add: op("ChartCollection", "add", function (s, type, sourceData, seriesBy = "Auto") {
      if (!Object.values(apiSets.enums.ChartType).includes(type) || type === "Invalid") {
        throw new OfficeError("InvalidArgument", `chart type ${JSON.stringify(type)} is not an Excel.ChartType`);
      }
      if (!["Auto", "Columns", "Rows"].includes(seriesBy)) throw new OfficeError("InvalidArgument", `seriesBy ${seriesBy}`);
      const source = rangeInBook(this.__wb, sourceData, s);
      let n = 1;
      while (s.charts.some((c) => c.name === `Chart ${n}`)) n += 1;
      const chart = {
        id: `${nextId++}`,
        sheet: s,
        name: `Chart ${n}`,
        chartType: type,
        source,
        seriesBy,
        title: null,
        titleVisible: false,
        left: 0,
        top: 0,
        ...DEFAULT_CHART,
        anchor: null,
        style: null,
        seriesState: [],
      };
      s.charts.push(chart);
      return chart;
    }, { returns: (p, type) => new (proxyClass("Chart"))(p._ctx, "Chart", `${p._path}/add(${JSON.stringify(type)})`, () => null) }),
    getItem: getter("ChartCollection", "getItem", "Chart", (s, name) => {
      const c = s.charts.find((x) => x.name === name);
      if (!c) throw notFound(`the chart ${JSON.stringify(name)}`);
      return c;
    }),
    // "Gets a chart using its name. If there are multiple charts with the same name, the
    // first one will be returned. If the chart doesn't exist, then this method returns an
    // object with its isNullObject property set to true." (@types/office-js, ExcelApi 1.4)
    getItemOrNullObject: getter(
      "ChartCollection",
      "getItemOrNullObject",
      "Chart",
      (s, name) => {
        const c = s.charts.find((x) => x.name === name);
        if (!c) throw notFound(`the chart ${JSON.stringify(name)}`);
        return c;
      },
      { orNull: true },
    ),
    getItemAt: getter("ChartCollection", "getItemAt", "Chart", (s, i) => {
      if (!s.charts[i]) throw notFound(`chart ${i}`);
      return s.charts[i];
    }),
  },
});

function numberProp(key, min = -Infinity) {
  return {
    get: (c) => c[key],
    set: (c, v) => {
      if (typeof v !== "number" || !Number.isFinite(v) || v < min) throw new OfficeError("InvalidArgument", `${key} ${v}`);
      c[key] = v;
    },
  };
}

CLASSES.Chart = {
  props: {
    id: { get: (c) => c.id },
    name: { get: (c) => c.name, set: (c, v) => (c.name = String(v)) },
    chartType: {
      get: (c) => c.chartType,
      set: (c, v) => {
        if (!Object.values(apiSets.enums.ChartType).includes(v)) throw new OfficeError("InvalidArgument", `chart type ${v}`);
        c.chartType = v;
      },
    },
    left: numberProp("left", 0),
    top: numberProp("top", 0),
    width: numberProp("width", 0),
    height: numberProp("height", 0),
    style: numberProp("style", 1),
    plotBy: { get: (c) => (c.seriesBy === "Rows" ? "Rows" : "Columns"), set: (c, v) => (c.seriesBy = v) },
  },
  nav: {
    title: (p) => child(p, "ChartTitle", "title", (c) => c),
    series: (p) => child(p, "ChartSeriesCollection", "series", (c) => c),
    legend: (p) => child(p, "ChartLegend", "legend", (c) => c),
    worksheet: (p) => child(p, "Worksheet", "worksheet", (c) => c.sheet),
  },
  methods: {
    setPosition: op("Chart", "setPosition", (c, start, end) => {
      const a = rangeIn(c.sheet, start);
      c.left = cellLeft(c.sheet, a.c0);
      c.top = cellTop(c.sheet, a.r0);
      if (end !== undefined && end !== null) {
        const b = rangeIn(c.sheet, end);
        c.width = cellLeft(c.sheet, b.c1 + 1) - c.left;
        c.height = cellTop(c.sheet, b.r1 + 1) - c.top;
      }
      c.anchor = { start: areaAddress(a), end: end === undefined || end === null ? null : areaAddress(rangeIn(c.sheet, end)) };
    }),
    setData: op("Chart", "setData", function (c, source, seriesBy = "Auto") {
      c.source = rangeInBook(this.__wb, source, c.sheet);
      c.seriesBy = seriesBy;
      c.seriesState = [];
    }),
    delete: op("Chart", "delete", (c) => c.sheet.charts.splice(c.sheet.charts.indexOf(c), 1)),
  },
};

CLASSES.ChartTitle = {
  props: {
    text: { get: (c) => c.title ?? "", set: (c, v) => ((c.title = String(v)), (c.titleVisible = true)) },
    visible: { get: (c) => c.titleVisible, set: (c, v) => (c.titleVisible = Boolean(v)) },
  },
  nav: {},
  methods: {},
};

CLASSES.ChartLegend = {
  props: {
    visible: { get: (c) => c.legendVisible ?? true, set: (c, v) => (c.legendVisible = Boolean(v)) },
    position: { get: (c) => c.legendPosition ?? "Right", set: (c, v) => (c.legendPosition = v) },
  },
  nav: {},
  methods: {},
};

CLASSES.ChartSeriesCollection = collectionClass("ChartSeries", (c) => chartSeries(c), {
  methods: {
    getItemAt: getter("ChartSeriesCollection", "getItemAt", "ChartSeries", (c, i) => {
      const s = chartSeries(c)[i];
      if (!s) throw notFound(`series ${i}`);
      return s;
    }),
  },
});

CLASSES.ChartSeries = {
  props: { name: { get: (s) => s.state.name ?? `Series${s.index + 1}`, set: (s, v) => (s.state.name = String(v)) } },
  nav: {},
  methods: {
    setXAxisValues: op("ChartSeries", "setXAxisValues", function (s, source) {
      const r = rangeInBook(this.__wb, source, s.chart.sheet);
      s.state.xAxisValues = absoluteAddress(r.sheet.name, r);
    }),
  },
};

// ---- names
function nameType(formula) {
  const body = formula.replace(/^=/, "");
  if (/^(?:'(?:[^']|'')+'|[^!'"]+)!\$?[A-Za-z]{1,3}\$?\d+(?::\$?[A-Za-z]{1,3}\$?\d+)?$/.test(body)) return "Range";
  if (/^"(?:[^"]|"")*"$/.test(body)) return "String";
  if (/^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?$/.test(body)) return "Double";
  if (/^(TRUE|FALSE)$/i.test(body)) return "Boolean";
  if (/^#/.test(body)) return "Error";
  return "Formula";
}

CLASSES.NamedItemCollection = collectionClass("NamedItem", (m) => (m.scope === m.wb ? m.wb.names : m.scope.names), {
  methods: {
    add: op("NamedItemCollection", "add", function (m, name, reference, comment = "") {
      const host = this._ctx._host;
      const wb = m.wb;
      const problem = definedNameProblem(name);
      if (problem) throw new OfficeError("InvalidArgument", `The name is not valid: ${problem}.`);
      const list = m.scope === wb ? wb.names : m.scope.names;
      if (list.some((n) => same(n.name, name)) || findTable(wb, name)) {
        throw new OfficeError("ItemAlreadyExists", `The name ${JSON.stringify(name)} already exists in this scope (names are compared case-insensitively; tables share them).`);
      }
      let formula;
      if (reference instanceof ClientObject) {
        const r = reference._live();
        formula = `=${absoluteAddress(r.sheet.name, r)}`;
      } else {
        formula = String(reference);
        if (!formula.startsWith("=")) formula = `=${formula}`;
        // Rule 2: LAMBDA is in Excel for Microsoft 365 and Excel 2024, not in Excel 2019 or
        // 2021 (Microsoft Support, "LAMBDA function", applies-to list:
        // https://support.microsoft.com/office/lambda-function-bd212d27-1cd1-4321-a34a-ccbf254b8b67).
        // Where it is missing, the formula is not valid: InvalidArgument at sync.
        if (host.options.lambda === false && /\bLAMBDA\s*\(/i.test(formula.replace(/"(?:[^"]|"")*"/g, '""'))) {
          throw new OfficeError("InvalidArgument", `There's a problem with this formula: this Excel has no LAMBDA function (${name} = ${formula}).`, { formula });
        }
        checkFormula(formula, wb, host, `the name ${name}`);
      }
      const item = { name, formula, comment, visible: true, scope: m.scope === wb ? "Workbook" : "Worksheet", sheet: m.scope === wb ? null : m.scope };
      list.push(item);
      return item;
    }, { returns: (p, name) => new (proxyClass("NamedItem"))(p._ctx, "NamedItem", `${p._path}/add(${JSON.stringify(name)})`, () => null) }),
    getItem: getter("NamedItemCollection", "getItem", "NamedItem", (m, name) => {
      const n = CLASSES.NamedItemCollection.items(m).find((x) => same(x.name, name));
      if (!n) throw notFound(`the name ${JSON.stringify(name)}`);
      return n;
    }),
    getItemOrNullObject: getter(
      "NamedItemCollection",
      "getItemOrNullObject",
      "NamedItem",
      (m, name) => {
        const n = CLASSES.NamedItemCollection.items(m).find((x) => same(x.name, name));
        if (!n) throw notFound(`the name ${JSON.stringify(name)}`);
        return n;
      },
      { orNull: true },
    ),
  },
});

CLASSES.NamedItem = {
  props: {
    name: { get: (n) => n.name },
    formula: {
      get: (n) => n.formula,
      set: (n, v, p) => {
        checkFormula(v, host$(p).wb, host$(p), `the name ${n.name}`);
        n.formula = v;
      },
    },
    type: { get: (n) => nameType(n.formula) },
    value: { get: (n) => n.formula.replace(/^=/, "") },
    comment: { get: (n) => n.comment, set: (n, v) => (n.comment = String(v)) },
    visible: { get: (n) => n.visible, set: (n, v) => (n.visible = Boolean(v)) },
    scope: { get: (n) => n.scope },
  },
  nav: { worksheetOrNullObject: (p) => child(p, "Worksheet", "worksheetOrNullObject", (n) => n.sheet) },
  methods: {
    delete: op("NamedItem", "delete", function (n) {
      const list = n.sheet ? n.sheet.names : this.__wb.names;
      list.splice(list.indexOf(n), 1);
    }),
    getRange: getter("NamedItem", "getRange", "Range", function (n) {
      if (nameType(n.formula) !== "Range") throw new OfficeError("InvalidArgument", `The name ${n.name} is not a range.`);
      return rangeInBook(this.__wb, n.formula.replace(/^=/, ""), null);
    }),
    getRangeOrNullObject: getter(
      "NamedItem",
      "getRangeOrNullObject",
      "Range",
      function (n) {
        if (nameType(n.formula) !== "Range") throw notFound(`a range for ${n.name}`);
        return rangeInBook(this.__wb, n.formula.replace(/^=/, ""), null);
      },
      { orNull: true },
    ),
  },
};

// ---------------------------------------------------------------- loading

function parseLoadSpec(spec) {
  if (spec === undefined || spec === null) return null; // everything scalar
  if (typeof spec === "string") return spec.split(",").map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(spec)) return spec.flatMap((s) => parseLoadSpec(s));
  if (typeof spec === "object") {
    const out = [];
    if (spec.select) out.push(...parseLoadSpec(spec.select));
    if (spec.expand) out.push(...parseLoadSpec(spec.expand));
    return out.length ? out : null;
  }
  return null;
}

// Loads PATHS (["name", "format/font/bold", "items/name"]) on PROXY now (at sync); returns
// what the host sends back, for the response size.
function applyLoad(ctx, proxy, paths) {
  const m = proxy._model();
  if (m === null) {
    proxy._loaded.isNullObject = true;
    return { isNullObject: true };
  }
  proxy._loaded.isNullObject = false;
  const spec = CLASSES[proxy._class];
  const response = {};
  if (spec.items) {
    // a collection: "items/x" and plain "x" both load the items' x ("count" is its own)
    const itemPaths = [];
    let wantsItems = paths === null;
    for (const p of paths || []) {
      if (p === "count") {
        ctx._checkApi(`${proxy._class}.count`);
        proxy._loaded.count = spec.items(m).length;
        response.count = proxy._loaded.count;
      } else if (p === "items") wantsItems = true;
      else if (p.startsWith("items/")) {
        itemPaths.push(p.slice(6));
        wantsItems = true;
      } else {
        itemPaths.push(p);
        wantsItems = true;
      }
    }
    if (wantsItems) {
      const ItemClass = proxyClass(spec.itemClass);
      const items = spec.items(m).map((model, i) => {
        const item = new ItemClass(ctx, spec.itemClass, `${proxy._path}/items[${i}]`, () => model);
        item._bound = model;
        return item;
      });
      proxy._loaded.items = items;
      response.items = items.map((item) => applyLoad(ctx, item, itemPaths.length ? itemPaths : null));
    }
    return response;
  }
  // load() without names loads the scalar properties this host has (no ApiNotFound for the others)
  const names = paths === null ? Object.keys(spec.props).filter((k) => ctx._supported(`${proxy._class}.${k}`)) : paths;
  for (const path of names) {
    const [head, ...rest] = path.split("/");
    if (spec.props[head]) {
      if (paths !== null) ctx._checkApi(`${proxy._class}.${head}`);
      let value;
      try {
        value = spec.props[head].get(m, proxy);
      } catch (error) {
        if (paths === null) continue;
        throw error;
      }
      proxy._loaded[head] = value;
      response[head] = value;
    } else if (spec.nav[head] && rest.length) {
      ctx._checkApi(`${proxy._class}.${head}`);
      response[head] = applyLoad(ctx, proxy[head], [rest.join("/")]);
    }
    // (a name that is neither is ignored, as xlwings' table load of "dataBodyRange" needs)
  }
  return response;
}

// ---------------------------------------------------------------- the request context

function findForeign(args, ctx) {
  return (args || []).some((a) => a instanceof ClientObject && a._ctx !== ctx);
}

let contextCount = 0;

class RequestContext {
  constructor(host) {
    this._host = host;
    this._pending = [];
    this._id = (contextCount += 1);
    const wb = new (proxyClass("Workbook"))(this, "Workbook", "workbook", () => host.wb);
    this.workbook = wb;
    this.application = wb.application;
    this.trackedObjects = { add() {}, remove() {} };
  }

  _queue(entry) {
    if (this._closed) {
      throw new OfficeError("InvalidRequestContext", `The request context of ${entry.proxy._path} has ended with its Excel.run; objects cannot be used in another batch.`);
    }
    const foreign = (entry.desc.args || []).length && findForeign(entry.args, this);
    if (entry.proxy._ctx !== this || foreign) {
      throw new OfficeError("InvalidRequestContext", "Cannot use the object across different request contexts.");
    }
    const calls = this._host.stats.calls;
    calls[entry.key] = (calls[entry.key] || 0) + 1;
    this._pending.push(entry);
  }

  _supported(key) {
    const [cls, member] = key.split(".");
    const found = apiSets.memberSet(cls, member);
    return !found || this._host.isSetSupported(found.set, found.version);
  }

  _checkApi(key) {
    const [cls, member] = key.split(".");
    const found = apiSets.memberSet(cls, member);
    if (!found) return;
    const label = `${found.set} ${found.version}`;
    const stats = this._host.stats;
    stats.apiNeeds[key] = label;
    if (found.set === "ExcelApi" && apiSets.compareVersions(found.version, stats.maxExcelApi) > 0) stats.maxExcelApi = found.version;
    if (!this._host.isSetSupported(found.set, found.version)) {
      // Rule 6: a member of a requirement set the host does not support fails with
      // ApiNotFound (Excel.ErrorCodes.apiNotFound; Office's message: "The method or
      // property {0} is part of the {1} requirement set, which is not available in your
      // version of Office."). Each member's set is Microsoft's, from @types/office-js.
      throw new OfficeError(
        "ApiNotFound",
        `The method or property ${key} is part of the ${label} requirement set, which is not available in this Excel (${this._host.declared()}).`,
        { requirement: label },
      );
    }
  }

  async sync() {
    const host = this._host;
    const stats = host.stats;
    const batch = this._pending;
    this._pending = [];
    if (batch.length === 0) {
      stats.emptySyncs += 1;
      return;
    }
    stats.syncs += 1;
    const request = Buffer.byteLength(JSON.stringify(batch.map((e) => ({ ...e.desc, kind: e.kind }))), "utf8");
    stats.requestBytes += request;
    stats.largestRequest = Math.max(stats.largestRequest, request);
    // Rule 5: Excel on the web limits a request and a response to 5 MB (Resource limits and
    // performance optimization for Office Add-ins, "Excel add-ins":
    // https://learn.microsoft.com/office/dev/add-ins/concepts/resource-limits-and-performance-optimization#excel-add-ins).
    // An oversized request is refused whole: nothing of it runs.
    if (request > host.options.payloadLimit) {
      throw new OfficeError("RequestPayloadSizeLimitExceeded", `The request payload size has exceeded the limit (${request} bytes, limit ${host.options.payloadLimit}).`, {
        requestBytes: request,
      });
    }
    const responses = [];
    this._syncing = true;
    try {
    for (let i = 0; i < batch.length; i += 1) {
      const entry = batch[i];
      try {
        this._checkApi(entry.key);
        for (const need of entry.proxy._needs) this._checkApi(need);
        if (entry.kind === "load") {
          responses.push(applyLoad(this, entry.proxy, parseLoadSpec(entry.spec)));
        } else if (entry.kind === "probe") {
          const m = entry.proxy._model();
          entry.proxy._loaded.isNullObject = m === null;
          responses.push({ isNullObject: m === null });
        } else if (entry.kind === "path") {
          // an object path: resolved when an operation uses it
        } else {
          const m = entry.proxy._live();
          entry.run.call(entry.proxy, m);
        }
      } catch (error) {
        // "the operations before it stay applied, the rest of the batch is dropped"
        const e = error instanceof OfficeError ? error : new OfficeError("GeneralException", String(error && error.message ? error.message : error));
        e.debugInfo.errorLocation = entry.key;
        e.debugInfo.statement = JSON.stringify(entry.desc).slice(0, 500);
        e.debugInfo.operationIndex = i;
        e.debugInfo.batchSize = batch.length;
        stats.failures.push({ code: e.code, message: e.message, at: entry.key });
        throw e;
      }
    }
    } finally {
      this._syncing = false;
    }
    const response = Buffer.byteLength(JSON.stringify(responses), "utf8");
    stats.responseBytes += response;
    stats.largestResponse = Math.max(stats.largestResponse, response);
    if (response > host.options.payloadLimit) {
      throw new OfficeError("ResponsePayloadSizeLimitExceeded", `The response payload size has exceeded the limit (${response} bytes, limit ${host.options.payloadLimit}).`, {
        responseBytes: response,
      });
    }
  }
}

// ---------------------------------------------------------------- the host

function loadBook(host, book) {
  const wb = {
    name: (book && book.name) || "Book1.xlsx",
    sheets: [],
    names: [],
    calculationMode: "Automatic",
    active: null,
    selection: null,
  };
  host.wb = wb;
  const sheets = book && book.sheets && book.sheets.length ? book.sheets : [{ name: "Sheet1" }];
  for (const s of sheets) {
    const sheet = addSheet(host, wb, s.name);
    if (s.visibility) sheet.visibility = s.visibility;
    (s.values || []).forEach((row, r) =>
      row.forEach((v, c) => {
        if (v === null || v === undefined || v === "") return;
        const cell = getCell(sheet, r, c, true);
        const stored = storedValue(v, cell);
        if (stored.formula !== undefined) cell.formula = stored.formula;
        else cell.value = stored.value;
        if (stored.numberFormat) cell.numberFormat = stored.numberFormat;
      }),
    );
    for (const t of s.tables || []) {
      const table = addTable(wb, sheet, t.range || t.address, t.showHeaders !== false);
      if (t.name) {
        checkTableName(wb, t.name, table);
        table.name = t.name;
      }
      if (t.style) table.style = t.style;
    }
  }
  for (const n of (book && book.names) || []) wb.names.push({ name: n.name, formula: n.formula, comment: n.comment || "", visible: true, scope: "Workbook", sheet: null });
  const activeIndex = book && Number.isInteger(book.activeSheet) ? book.activeSheet : 0;
  wb.active = wb.sheets[activeIndex] || wb.sheets[0];
  wb.selection = { sheet: wb.active, r0: 0, c0: 0, r1: 0, c1: 0 };
}

function snapshotSheet(sheet) {
  const cells = {};
  const keys = [...sheet.cells.keys()].map((k) => k.split(",").map(Number)).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [r, c] of keys) {
    const cell = sheet.cells.get(`${r},${c}`);
    const out = {};
    if (cell.formula !== undefined) {
      out.formula = cell.formula;
      out.value = null; // formulas are not calculated
    } else if (cell.value !== undefined && cell.value !== "") out.value = cell.value;
    if (cell.numberFormat && cell.numberFormat !== "General") out.numberFormat = cell.numberFormat;
    const f = cell.font || {};
    if (f.bold) out.bold = true;
    if (f.italic) out.italic = true;
    if (f.size !== undefined && f.size !== 11) out.size = f.size;
    if (f.color !== undefined && f.color.toUpperCase() !== "#000000") out.color = f.color;
    if (f.name !== undefined && f.name !== "Calibri") out.fontName = f.name;
    if (cell.fill) out.fill = cell.fill;
    if (cell.wrapText) out.wrapText = true;
    if (cell.horizontalAlignment && cell.horizontalAlignment !== "General") out.horizontalAlignment = cell.horizontalAlignment;
    if (cell.verticalAlignment && cell.verticalAlignment !== "Bottom") out.verticalAlignment = cell.verticalAlignment;
    if (Object.keys(out).length) cells[cellName(r, c)] = out;
  }
  const byKey = (map, name) => Object.fromEntries([...map.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [name(k), v]));
  return {
    name: sheet.name,
    visibility: sheet.visibility,
    showGridlines: sheet.showGridlines,
    cells,
    columnWidths: byKey(sheet.columnWidths, (c) => columnLetters(c + 1)),
    rowHeights: byKey(sheet.rowHeights, (r) => String(r + 1)),
    merged: sheet.merges.map(areaAddress),
    tables: sheet.tables.map((t) => ({
      name: t.name,
      address: areaAddress(t.area),
      style: t.style,
      showHeaders: t.showHeaders,
      showTotals: t.showTotals,
      columns: tableColumns(t),
    })),
    conditionalFormats: [...sheet.conditionalFormats]
      .sort((a, b) => a.priority - b.priority)
      .map((cf) => ({
        range: areaAddress(cf.area),
        type: cf.type,
        formula: cf.formula ?? (cf.rule ? cf.rule.formula1 : null) ?? null,
        rule: cf.rule || null,
        fontColor: cf.format.fontColor ?? null,
        fillColor: cf.format.fillColor ?? null,
        bold: cf.format.bold ?? null,
        italic: cf.format.italic ?? null,
        stopIfTrue: cf.stopIfTrue,
      })),
    dataValidations: sheet.dataValidations.map((dv) => ({
      range: areaAddress(dv.area),
      type: dv.type,
      source: dv.rule.list ? dv.rule.list.source : null,
      inCellDropDown: dv.rule.list ? dv.rule.list.inCellDropDown : null,
      rule: dv.rule,
    })),
    freezePanes: sheet.freeze ? { ...sheet.freeze } : null,
    charts: sheet.charts.map((c) => ({
      name: c.name,
      title: c.titleVisible ? c.title : null,
      type: c.chartType,
      source: absoluteAddress(c.source.sheet.name, c.source),
      seriesBy: c.seriesBy,
      xAxisValues: [...new Set(chartSeries(c).map((s) => s.state.xAxisValues).filter(Boolean))],
      position: { left: c.left, top: c.top, width: c.width, height: c.height },
      anchor: c.anchor,
      style: c.style,
    })),
    printArea: sheet.printArea,
    names: sheet.names.map((n) => ({ name: n.name, formula: n.formula, comment: n.comment })),
  };
}

function enumsFor() {
  const out = {};
  for (const [name, values] of Object.entries(apiSets.enums)) out[name] = Object.freeze({ ...values });
  return out;
}

/**
 * createExcel(options) → host. Options:
 *   excelApi: "1.9"        the highest ExcelApi version the host supports (default: the
 *                          newest in @types/office-js)
 *   sets: {name: version}  other requirement sets (e.g. {ExcelApiOnline: "1.1"}); SharedRuntime
 *                          1.1, DialogApi 1.2 and RibbonApi 1.1 are there unless set to null
 *   lambda: false          an Excel without LAMBDA (2019, 2021)
 *   payloadLimit: bytes    request/response limit (default 5 MB = 5 * 1024 * 1024)
 *   book: {name, sheets: [{name, values (2-D from A1), visibility, tables: [{range, name,
 *          style}]}], names: [{name, formula}], activeSheet: index}
 *   platform: "OfficeOnline" (Office.context.platform)
 */
function createExcel(options = {}) {
  const host = {
    options: {
      excelApi: options.excelApi || apiSets.maxVersion("ExcelApi"),
      sets: { SharedRuntime: "1.1", DialogApi: "1.2", RibbonApi: "1.1", ...(options.sets || {}) },
      lambda: options.lambda !== false,
      payloadLimit: options.payloadLimit || 5 * 1024 * 1024,
      platform: options.platform || "OfficeOnline",
    },
    stats: null,
    dialogs: [],
    actions: {},
  };
  if (options.lambda === false) host.options.lambda = false;
  host.resetStats = () => {
    host.stats = {
      syncs: 0,
      emptySyncs: 0,
      runs: 0,
      requestBytes: 0,
      responseBytes: 0,
      largestRequest: 0,
      largestResponse: 0,
      calls: {},
      apiNeeds: {},
      maxExcelApi: "1.1",
      failures: [],
      undefinedNames: [],
    };
  };
  host.resetStats();
  host.isSetSupported = (name, version) => {
    const key = String(name).toLowerCase();
    let have = null;
    if (key === "excelapi") have = host.options.excelApi;
    else {
      for (const [k, v] of Object.entries(host.options.sets)) if (k.toLowerCase() === key) have = v;
    }
    if (have === null || have === undefined) return false;
    if (version === undefined || version === null) return true;
    return apiSets.compareVersions(String(version), String(have)) <= 0;
  };
  host.declared = () => `ExcelApi ${host.options.excelApi}`;
  host.load = (book) => loadBook(host, book);
  host.load(options.book);

  const Excel = {
    ...enumsFor(),
    RequestContext: function () {
      return new RequestContext(host);
    },
    async run(...args) {
      const batch = args[args.length - 1];
      const context = new RequestContext(host);
      host.stats.runs += 1;
      try {
        const result = await batch(context);
        await context.sync(); // Excel.run sends what the batch left queued
        return result;
      } finally {
        context._closed = true;
      }
    },
    ErrorCodes: Object.freeze({ ...apiSets.enums.ErrorCodes }),
  };
  host.Excel = Excel;

  const readyInfo = { host: "Excel", platform: host.options.platform };
  host.Office = {
    HostType: { Excel: "Excel" },
    PlatformType: { OfficeOnline: "OfficeOnline", PC: "PC", Mac: "Mac" },
    EventType: { DialogMessageReceived: "dialogMessageReceived", DialogEventReceived: "dialogEventReceived" },
    AsyncResultStatus: { Succeeded: "succeeded", Failed: "failed" },
    onReady(callback) {
      if (typeof callback === "function") queueMicrotask(() => callback(readyInfo));
      return Promise.resolve(readyInfo);
    },
    context: {
      platform: host.options.platform,
      host: "Excel",
      requirements: { isSetSupported: (name, version) => host.isSetSupported(name, version) },
      ui: {
        displayDialogAsync(url, opts, callback) {
          host.dialogs.push({ url, options: opts });
          const dialog = { addEventHandler() {}, close() {}, messageChild() {} };
          if (typeof callback === "function") callback({ status: "succeeded", value: dialog });
        },
      },
    },
    actions: {
      associate(name, fn) {
        host.actions[name] = fn;
      },
    },
  };

  host.snapshot = () => ({
    name: host.wb.name,
    activeSheet: host.wb.active ? host.wb.active.name : null,
    selection: host.wb.selection ? `${host.wb.selection.sheet.name}!${areaAddress(host.wb.selection)}` : null,
    calculationMode: host.wb.calculationMode,
    sheets: host.wb.sheets.map(snapshotSheet),
    names: host.wb.names.map((n) => ({ name: n.name, formula: n.formula, comment: n.comment })),
  });
  return host;
}

module.exports = {
  createExcel,
  OfficeError,
  parseAddress,
  formulaProblems,
  sheetNameProblem,
  definedNameProblem,
  dateSerial,
  columnLetters,
};
