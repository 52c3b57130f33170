// "Check this Excel" (the task pane's button): what the Excel the add-in runs in supports,
// measured in that Excel, so whoever deploys tierbook can confirm it in minutes
// (docs/check-excel.md has the same checks as Script Lab snippets):
//
// - excelApi: the highest ExcelApi requirement set it has (the manifest asks for 1.8);
// - lambda: whether it takes a workbook-level LAMBDA name (=SEGMENT(A2) needs one; without
//   LAMBDA tierbook skips the names and says which plain formula to type instead);
// - syncs: the time of 20 round trips (each carrying a tiny load, so no host skips it);
// - largestRead: the largest read of the active sheet it managed, in doubling row blocks
//   of values and number formats, up to the whole used range or the first refusal.
//
// The workbook is never changed: the test name is deleted in the same run. A check that
// fails is reported with its error code; the others still run. Exported for node
// (tests/js/check.test.js runs it against the strict Excel stand-in).

const TierbookCheck = (function () {
  const NEEDED = "1.8"; // the manifest's ExcelApi MinVersion
  const ROUND_TRIPS = 20;
  const FIRST_ROWS = 1000;

  function codeOf(error) {
    return (error && (error.code || error.name)) || "Error";
  }

  // ExcelApi versions are cumulative: the first minor version missing ends the search.
  function highestExcelApi(Office) {
    let best = null;
    for (let minor = 1; minor <= 30; minor += 1) {
      if (!Office.context.requirements.isSetSupported("ExcelApi", `1.${minor}`)) break;
      best = `1.${minor}`;
    }
    return best;
  }

  async function lambdaName(Excel, now) {
    return Excel.run(async (context) => {
      const name = `tierbook_check_${Math.floor(now() * 1000) % 1000000000}`;
      context.workbook.names.add(name, "=LAMBDA(x,x)");
      try {
        await context.sync();
      } catch (error) {
        return { lambda: false, refused: codeOf(error) };
      }
      context.workbook.names.getItem(name).delete();
      await context.sync();
      return { lambda: true };
    });
  }

  async function roundTrips(Excel, now) {
    return Excel.run(async (context) => {
      const started = now();
      for (let i = 0; i < ROUND_TRIPS; i += 1) {
        context.workbook.load("name");
        await context.sync();
      }
      const ms = now() - started;
      return { count: ROUND_TRIPS, ms, perSync: ms / ROUND_TRIPS };
    });
  }

  async function largestRead(Excel) {
    return Excel.run(async (context) => {
      const sheet = context.workbook.worksheets.getActiveWorksheet();
      sheet.load("name");
      const used = sheet.getUsedRangeOrNullObject(true);
      used.load("rowIndex,columnIndex,rowCount,columnCount");
      await context.sync();
      const out = { sheet: sheet.name, bytes: 0, rows: 0, whole: true, stoppedBy: null };
      if (used.isNullObject) return out;
      out.whole = false;
      let rows = Math.min(FIRST_ROWS, used.rowCount);
      for (;;) {
        const range = sheet.getRangeByIndexes(used.rowIndex, used.columnIndex, rows, used.columnCount);
        range.load("values,numberFormat");
        try {
          await context.sync();
        } catch (error) {
          out.stoppedBy = codeOf(error);
          return out;
        }
        out.bytes = JSON.stringify({ values: range.values, numberFormat: range.numberFormat }).length;
        out.rows = rows;
        if (rows >= used.rowCount) {
          out.whole = true;
          return out;
        }
        rows = Math.min(used.rowCount, rows * 2);
      }
    });
  }

  // Every check, in the Excel of EXCEL and OFFICE (the Office.js namespaces); NOW: a clock
  // in milliseconds. Never throws: a failed check is {failed: code}.
  async function checkExcel({ Excel, Office, now = () => performance.now() }) {
    const started = now();
    const attempt = async (check) => {
      try {
        return await check();
      } catch (error) {
        return { failed: codeOf(error), message: (error && error.message) || String(error) };
      }
    };
    const excelApi = highestExcelApi(Office);
    return {
      platform: Office.context.platform || null,
      excelApi,
      enough: excelApi !== null && Number(excelApi.split(".")[1]) >= Number(NEEDED.split(".")[1]),
      lambda: await attempt(() => lambdaName(Excel, now)),
      syncs: await attempt(() => roundTrips(Excel, now)),
      largestRead: await attempt(() => largestRead(Excel)),
      ms: now() - started,
    };
  }

  // RESULT as lines a person reads (and copies).
  function lines(result) {
    const out = [];
    out.push(`Excel: ${result.platform || "unknown platform"}, ExcelApi ${result.excelApi || "none"} ` +
             (result.enough ? `(tierbook needs ${NEEDED}: yes)` : `(tierbook needs ${NEEDED}: NO, the ribbon cannot run here)`));
    const lambda = result.lambda;
    if (lambda.failed) out.push(`LAMBDA names: the check failed (${lambda.failed})`);
    else if (lambda.lambda) out.push("LAMBDA names: yes, =SEGMENT(A2) works in the workbook itself");
    else out.push("LAMBDA names: no: tierbook skips them and says which plain formula to type instead of =SEGMENT(A2)");
    const syncs = result.syncs;
    if (syncs.failed) out.push(`Round trips: the check failed (${syncs.failed})`);
    else {
      out.push(`${syncs.count} round trips: ${Math.round(syncs.ms)} ms (${Math.round(syncs.perSync)} ms each); a click of ` +
               `tierbook (about 6 for the demo, up to 20 at 50,000 rows) spends about ${(syncs.perSync * 6 / 1000).toFixed(1)}–` +
               `${(syncs.perSync * 20 / 1000).toFixed(1)} s in them`);
    }
    const read = result.largestRead;
    if (read.failed) out.push(`Largest read: the check failed (${read.failed})`);
    else if (read.rows === 0 && read.whole) out.push(`Largest read: the active sheet "${read.sheet}" is empty`);
    else {
      out.push(`Largest read: ${(read.bytes / 1e6).toFixed(2)} MB (${read.rows.toLocaleString()} rows of "${read.sheet}")` +
               (read.whole ? ", the whole sheet" : `, then Excel refused a larger one (${read.stoppedBy})`));
    }
    out.push(`The check took ${(result.ms / 1000).toFixed(1)} s.`);
    return out;
  }

  // Run the check in the task pane and show its lines in ELEMENT (text only).
  async function show(element) {
    element.textContent = "Checking this Excel…";
    const result = await checkExcel({ Excel: globalThis.Excel, Office: globalThis.Office });
    element.textContent = "";
    for (const line of lines(result)) {
      const item = document.createElement("li");
      item.textContent = line;
      element.appendChild(item);
    }
    return result;
  }

  return { NEEDED, ROUND_TRIPS, checkExcel, lines, show, highestExcelApi };
})();

if (typeof document !== "undefined") {
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("tierbook-check");
    const output = document.getElementById("tierbook-check-result");
    if (!button || !output) return;
    button.addEventListener("click", async () => {
      button.setAttribute("disabled", "true");
      try {
        await Office.onReady();
        await TierbookCheck.show(output);
      } finally {
        button.removeAttribute("disabled");
      }
    });
  });
}

if (typeof module !== "undefined" && module.exports) {
  module.exports = TierbookCheck;
}
