// "Check this Excel" (issue 20, item 7): what the user's Excel supports, measured in that
// Excel by the task pane button of templates/taskpane.html, for whoever deploys tierbook
// (docs/check-excel.md, which also has the same checks as Script Lab snippets).
//
// checkExcel({Excel, Office, now}) runs four checks, each on its own, so that one failing
// is reported (with its error code) and the others still run:
// 1. excelApi: the highest "1.N" (1.1 … 1.30) Office.context.requirements.isSetSupported
//    answers true for; tierbook's manifest asks for ExcelApi 1.8;
// 2. lambda: whether Excel takes a workbook-level LAMBDA name: a uniquely named test name
//    =LAMBDA(x,x) is added, synced, looked up and deleted again in the same Excel.run (a
//    refusal at sync, or the name evaluating to #NAME?, means no LAMBDA); nothing else of
//    the workbook is changed;
// 3. syncMs: ROUNDS round trips, each carrying a tiny load (the active sheet's name, as
//    workbook.load("name") but ExcelApi 1.1) so no host can skip it: the total and per sync;
// 4. largestRead: the active sheet's used range read in row blocks of doubling size
//    (values and numberFormat, as tierbook's ribbon reads), until the whole used range is
//    read or a read fails: the bytes of the largest successful read (JSON of values +
//    numberFormat) and what stopped it.
//
// Round trips (context.sync() calls that send something): ROUNDS timed, plus
// LAMBDA_SYNCS_ACCEPTED (add; look up; delete) or LAMBDA_SYNCS_REFUSED (add refused; look
// up), plus 1 for the used range and 1 per block read (tests/js/check.test.js counts them).
//
// Exported for node: tests/js/check.test.js runs checkExcel against the strict Excel
// stand-in (tests/js/excel_standin.js).

const TierbookCheck = (function () {
  const ROUNDS = 20;
  const HIGHEST_MINOR = 30; // probes ExcelApi 1.1 … 1.30
  const MANIFEST_API = "1.8"; // templates/manifest.xml: <Set Name="ExcelApi" MinVersion="1.8" />
  const FIRST_BLOCK_ROWS = 100;
  const LAMBDA_SYNCS_ACCEPTED = 3;
  const LAMBDA_SYNCS_REFUSED = 2;
  // tierbook's ribbon: about 6 syncs a click for the demo, up to 20 at 50,000 rows
  const CLICK_SYNCS_DEMO = 6;
  const CLICK_SYNCS_LARGE = 20;

  const PLATFORMS = {
    PC: "Excel on Windows",
    Mac: "Excel on Mac",
    OfficeOnline: "Excel on the web",
    iOS: "Excel on iPad",
    Android: "Excel on Android",
    Universal: "Excel (Universal)",
  };

  function defaultNow() {
    return typeof performance !== "undefined" ? performance.now() : Date.now();
  }

  /** The code of an error as Office.js gives it (OfficeExtension.Error.code), else its name. */
  function failure(error) {
    const e = /** @type {any} */ (error) || {};
    return { code: String(e.code || e.name || "Error"), message: String(e.message || error) };
  }

  function utf8Bytes(text) {
    if (typeof TextEncoder !== "undefined") return new TextEncoder().encode(text).length;
    return unescape(encodeURIComponent(text)).length;
  }

  function versionAtLeast(version, needed) {
    if (!version) return false;
    const [a1, a2] = version.split(".").map(Number);
    const [b1, b2] = needed.split(".").map(Number);
    return a1 > b1 || (a1 === b1 && a2 >= b2);
  }

  // 1. ----------------------------------------------------------------- ExcelApi
  /** @param {typeof Office} office */
  function highestExcelApi(office) {
    const requirements = office && office.context && office.context.requirements;
    if (!requirements || typeof requirements.isSetSupported !== "function") {
      throw Object.assign(new Error("Office.context.requirements.isSetSupported is not there (Office.js not loaded?)"),
                          { code: "NoRequirements" });
    }
    let highest = null;
    for (let minor = 1; minor <= HIGHEST_MINOR; minor += 1) {
      if (requirements.isSetSupported("ExcelApi", `1.${minor}`)) highest = `1.${minor}`;
    }
    return highest;
  }

  // 2. ----------------------------------------------------------------- LAMBDA
  function testName() {
    const random = Math.floor(Math.random() * 36 ** 6).toString(36);
    return `tierbook_check_${Date.now().toString(36)}_${random}`;
  }

  /**
   * @param {typeof Excel} excel
   * @param {string} name
   */
  async function lambdaName(excel, name) {
    return excel.run(async (context) => {
      const names = context.workbook.names;
      names.add(name, "=LAMBDA(x,x)");
      let refusal = null;
      try {
        await context.sync();
      } catch (error) {
        refusal = failure(error);
      }
      // Whatever the add answered, look the name up and delete it if it is there: the
      // check never leaves a name behind.
      const added = names.getItemOrNullObject(name);
      added.load("value");
      await context.sync();
      let value = null;
      let left = false;
      if (!added.isNullObject) {
        value = added.value;
        added.delete();
        const again = names.getItemOrNullObject(name);
        again.load("name");
        await context.sync();
        left = !again.isNullObject;
      }
      // An Excel without LAMBDA may keep the name as a call of an unknown function: it then
      // evaluates to #NAME? (Microsoft 365 gives #CALC! for a LAMBDA that is not called).
      const unknown = typeof value === "string" && value.trim().toUpperCase() === "#NAME?";
      return {
        lambda: refusal === null && !unknown,
        refusal: refusal ? refusal.code : unknown ? "#NAME?" : null,
        refusalMessage: refusal ? refusal.message : unknown ? "the test name evaluates to #NAME?" : null,
        nameLeft: left,
      };
    });
  }

  // 3. ----------------------------------------------------------------- round trips
  /**
   * @param {typeof Excel} excel
   * @param {() => number} now
   */
  async function roundTrips(excel, now) {
    return excel.run(async (context) => {
      const times = [];
      for (let i = 0; i < ROUNDS; i += 1) {
        const start = now();
        // a tiny load (the active sheet's name: ExcelApi 1.1, where workbook.name is 1.7)
        context.workbook.worksheets.getActiveWorksheet().load("name");
        await context.sync();
        times.push(now() - start);
      }
      const total = times.reduce((a, b) => a + b, 0);
      return {
        rounds: ROUNDS,
        total,
        perSync: total / ROUNDS,
        fastest: Math.min(...times),
        slowest: Math.max(...times),
      };
    });
  }

  // 4. ----------------------------------------------------------------- largest read
  /** @param {typeof Excel} excel */
  async function largestRead(excel) {
    return excel.run(async (context) => {
      const sheet = context.workbook.worksheets.getActiveWorksheet();
      sheet.load("name");
      const used = sheet.getUsedRange(true);
      used.load("address,rowCount,columnCount");
      await context.sync();
      const out = {
        sheet: sheet.name,
        usedRange: used.address,
        usedRows: used.rowCount,
        columns: used.columnCount,
        bytes: 0,
        rows: 0,
        address: null,
        blocks: 0,
        rowsRead: 0,
        complete: false,
        stoppedBy: null,
        stoppedMessage: null,
        stoppedAtRows: null,
      };
      let size = FIRST_BLOCK_ROWS;
      while (out.rowsRead < used.rowCount) {
        const rows = Math.min(size, used.rowCount - out.rowsRead);
        // rows out.rowsRead … of the used range, every column (getCell, getBoundingRect: ExcelApi 1.1)
        const block = used.getCell(out.rowsRead, 0).getBoundingRect(
          used.getCell(out.rowsRead + rows - 1, used.columnCount - 1));
        block.load("address,values,numberFormat");
        try {
          await context.sync();
        } catch (error) {
          const why = failure(error);
          out.stoppedBy = why.code;
          out.stoppedMessage = why.message;
          out.stoppedAtRows = rows;
          return out;
        }
        out.blocks += 1;
        const bytes = utf8Bytes(JSON.stringify({ values: block.values, numberFormat: block.numberFormat }));
        if (bytes > out.bytes) {
          out.bytes = bytes;
          out.rows = rows;
          out.address = block.address;
        }
        out.rowsRead += rows;
        size *= 2;
      }
      out.complete = true;
      return out;
    });
  }

  // ------------------------------------------------------------------- all of them
  /**
   * Run every check in the user's Excel; never throws for a check that fails.
   * @param {{Excel?: typeof Excel, Office?: typeof Office, now?: () => number}} [env]
   */
  async function checkExcel(env = {}) {
    const excel = env.Excel || globalThis.Excel;
    const office = env.Office || globalThis.Office;
    const now = env.now || defaultNow;
    const started = now();
    const result = {
      excelApi: null,
      manifestApi: MANIFEST_API,
      meetsManifest: null,
      lambda: null,
      lambdaRefusal: null,
      lambdaRefusalMessage: null,
      testName: null,
      nameLeft: false,
      syncMs: null,
      largestRead: null,
      platform: null,
      totalMs: 0,
      checkMs: {},
      failures: {},
    };
    async function attempt(key, fn) {
      const start = now();
      try {
        return await fn();
      } catch (error) {
        result.failures[key] = failure(error);
        return undefined;
      } finally {
        result.checkMs[key] = now() - start;
      }
    }
    await attempt("platform", () => {
      result.platform = (office && office.context && office.context.platform) || null;
    });
    await attempt("excelApi", () => {
      result.excelApi = highestExcelApi(office);
      result.meetsManifest = versionAtLeast(result.excelApi, MANIFEST_API);
    });
    result.testName = testName();
    await attempt("lambda", async () => {
      const answer = await lambdaName(excel, result.testName);
      result.lambda = answer.lambda;
      result.lambdaRefusal = answer.refusal;
      result.lambdaRefusalMessage = answer.refusalMessage;
      result.nameLeft = answer.nameLeft;
      if (answer.nameLeft) throw Object.assign(new Error(`the test name ${result.testName} is still there`), { code: "NameLeft" });
    });
    await attempt("syncMs", async () => {
      result.syncMs = await roundTrips(excel, now);
    });
    await attempt("largestRead", async () => {
      result.largestRead = await largestRead(excel);
    });
    result.totalMs = now() - started;
    return result;
  }

  // ------------------------------------------------------------------- the words
  function seconds(ms) {
    const s = ms / 1000;
    return s < 0.1 ? s.toFixed(2) : s < 10 ? s.toFixed(1) : Math.round(s).toString();
  }

  function megabytes(bytes) {
    if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
    return `${Math.max(bytes ? 1 : 0, Math.round(bytes / 1e3))} kB`;
  }

  function failed(result, key, what) {
    const f = result.failures[key];
    return `${what}: the check failed (${f.code}: ${f.message})`;
  }

  /** The result as short lines a person reads (and copies) in the task pane. */
  function describe(result) {
    const lines = [];
    const where = result.platform ? PLATFORMS[result.platform] || result.platform : "unknown Excel";
    lines.push(`Excel: ${where}${result.platform ? ` (${result.platform})` : ""}`);

    if (result.failures.excelApi) lines.push(failed(result, "excelApi", "ExcelApi"));
    else if (!result.excelApi) lines.push(`ExcelApi: none — tierbook's ribbon cannot run in this Excel (it needs ${MANIFEST_API})`);
    else if (result.meetsManifest) lines.push(`ExcelApi ${result.excelApi}: yes, at least the ${MANIFEST_API} tierbook's manifest needs`);
    else lines.push(`ExcelApi ${result.excelApi}: below the ${MANIFEST_API} tierbook's manifest needs — tierbook's ribbon cannot run in this Excel`);

    if (result.failures.lambda && result.lambda === null) lines.push(failed(result, "lambda", "LAMBDA"));
    else if (result.lambda) lines.push("LAMBDA: yes — =SEGMENT(A2) and the other function names work in the workbook after Segment customers");
    else {
      lines.push("LAMBDA: no — tierbook skips the function names (=SEGMENT(A2) and the others) and says which " +
                 `plain formula to type instead${result.lambdaRefusal ? ` (Excel answered ${result.lambdaRefusal})` : ""}`);
    }
    if (result.nameLeft) lines.push(`Warning: the test name ${result.testName} could not be removed: delete it in Formulas → Name Manager`);

    if (result.failures.syncMs) lines.push(failed(result, "syncMs", "Round trips"));
    else if (result.syncMs) {
      const per = result.syncMs.perSync;
      lines.push(`Round trips: ${result.syncMs.rounds} syncs in ${Math.round(result.syncMs.total)} ms (${per.toFixed(1)} ms each): ` +
                 `a click of tierbook (about ${CLICK_SYNCS_DEMO} syncs for the demo, up to ${CLICK_SYNCS_LARGE} at 50,000 rows) ` +
                 `spends about ${seconds(per * CLICK_SYNCS_DEMO)} to ${seconds(per * CLICK_SYNCS_LARGE)} s in round trips`);
    }

    if (result.failures.largestRead) lines.push(failed(result, "largestRead", "Largest read"));
    else if (result.largestRead) {
      const r = result.largestRead;
      const size = r.bytes
        ? `${megabytes(r.bytes)} (${r.rows.toLocaleString("en-US")} rows × ${r.columns} columns of ${r.sheet})`
        : `nothing (the first block of ${r.sheet} failed)`;
      const end = r.complete
        ? `the whole used range (${r.usedRange}, ${r.usedRows.toLocaleString("en-US")} rows) was read in ${r.blocks} reads`
        : `stopped by ${r.stoppedBy} reading ${r.stoppedAtRows.toLocaleString("en-US")} rows, after ` +
          `${r.rowsRead.toLocaleString("en-US")} of ${r.usedRows.toLocaleString("en-US")} rows`;
      lines.push(`Largest read: ${size}; ${end}`);
    }
    lines.push(`The check took ${seconds(result.totalMs)} s`);
    return lines;
  }

  // ------------------------------------------------------------------- the task pane
  /** Show LINES in CONTAINER as a list (text only). */
  function render(lines, container, doc = container.ownerDocument) {
    container.replaceChildren();
    const ul = doc.createElement("ul");
    ul.className = "small mb-1 ps-3";
    ul.setAttribute("data-tierbook-check-lines", "true");
    for (const line of lines) {
      const li = doc.createElement("li");
      li.textContent = line;
      ul.appendChild(li);
    }
    container.appendChild(ul);
    container.classList.remove("d-none");
  }

  async function copy(lines, container) {
    const text = lines.join("\n");
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (error) {
      // the web view may refuse the clipboard: select the list for Ctrl+C / Cmd+C instead
      const selection = container.ownerDocument.getSelection();
      if (selection) selection.selectAllChildren(container);
      return false;
    }
  }

  function bind(doc) {
    const button = doc.getElementById("tierbook-check");
    const output = doc.getElementById("tierbook-check-result");
    const copyButton = doc.getElementById("tierbook-check-copy");
    if (!button || !output) return;
    let lines = [];
    button.addEventListener("click", async () => {
      button.setAttribute("disabled", "true");
      render(["Checking this Excel… (about 30 round trips)"], output);
      try {
        if (globalThis.Office && Office.onReady) await Office.onReady();
        lines = describe(await checkExcel({}));
      } catch (error) {
        const f = failure(error);
        lines = [`The check could not run: ${f.code}: ${f.message}`];
      } finally {
        button.removeAttribute("disabled");
      }
      render(lines, output);
      if (copyButton) copyButton.classList.remove("d-none");
    });
    if (copyButton) {
      copyButton.addEventListener("click", async () => {
        const done = await copy(lines, output);
        copyButton.textContent = done ? "Copied" : "Selected: press Ctrl+C (Cmd+C on Mac)";
      });
    }
  }

  return {
    ROUNDS, HIGHEST_MINOR, MANIFEST_API, FIRST_BLOCK_ROWS, LAMBDA_SYNCS_ACCEPTED, LAMBDA_SYNCS_REFUSED,
    checkExcel, highestExcelApi, describe, render, bind, versionAtLeast,
  };
})();

globalThis.TierbookCheck = TierbookCheck;

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => TierbookCheck.bind(document));
  else TierbookCheck.bind(document);
}

if (typeof module !== "undefined" && module.exports) {
  module.exports = TierbookCheck;
}
