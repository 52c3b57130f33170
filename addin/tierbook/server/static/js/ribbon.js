// tierbook's ribbon buttons (manifest.xml, tierbook.excel.BUTTONS): each runs one
// script of tierbook.excel on the server, in pieces small enough for Excel on the web,
// which refuses an Office.js request or response over 5 MB (tierbook/server/transport.py):
//
// 1. xlwings' own client reads the workbook without cell values (getBookData, lazy);
// 2. the sheets the script reads (its include/exclude) are read in row blocks of about
//    READ_BYTES each (xlwings.getRangeValues: one Office.js sync per block, dates as
//    xlwings sends them) and each block is posted to /tierbook/upload;
// 3. /tierbook/run/<script> runs the script on the book put together again and answers
//    the first page of its actions; the others come from /tierbook/result/<id>/<n>;
//    each page is applied by xlwings' own action functions (xlwings.runActions).
// The task pane shows where the run is (xlwings.showGlobalStatus).
//
// The pure helpers are exported for node (tests/test_ribbon_transport.py runs run() in
// node against the real server, with a recorded workbook in place of Excel).

const TierbookRibbon = (function () {
  // Target size of one block read from Excel: its values as JSON, plus the number
  // formats Office sends with them (about NUMBER_FORMAT_BYTES a cell).
  const READ_BYTES = 2000000;
  const NUMBER_FORMAT_BYTES = 12;
  const PROBE_ROWS = 200; // the first block, to measure a row
  const SCRIPT_URL =
    typeof document !== "undefined" && document.currentScript
      ? document.currentScript.src
      : "";

  function columnNumber(letters) {
    let n = 0;
    for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
    return n;
  }

  function columnLetters(n) {
    let letters = "";
    while (n > 0) {
      const r = (n - 1) % 26;
      letters = String.fromCharCode(65 + r) + letters;
      n = Math.floor((n - 1) / 26);
    }
    return letters;
  }

  // The last cell of a used-range address ("A1:L50001", "C5", "$B$2:$D$9"), as
  // {row, column} (1-based); null for a sheet without used range.
  function lastCell(address) {
    if (!address) return null;
    const last = address.split(":").pop().replace(/\$/g, "");
    const match = /^([A-Za-z]{1,3})(\d+)$/.exec(last);
    if (!match) throw new Error(`tierbook: cannot read the range address ${address}`);
    return { row: parseInt(match[2], 10), column: columnNumber(match[1]) };
  }

  // Rows per block so that a block is about BUDGET bytes, from SAMPLE (rows already read).
  function rowsPerBlock(sample, columns, budget = READ_BYTES) {
    const rows = Math.max(1, sample.length);
    const perRow =
      JSON.stringify(sample).length / rows + columns * NUMBER_FORMAT_BYTES + 1;
    return Math.max(1, Math.floor(budget / perRow));
  }

  // The sheets of PAYLOAD the script reads: the same rule as xlwings' getBookData.
  function readSheets(payload, include = "", exclude = "") {
    const split = (text) =>
      text ? text.split(",").map((item) => item.trim()).filter(Boolean) : [];
    const included = split(include);
    const excluded = split(exclude);
    return payload.sheets
      .map((sheet, index) => ({ sheet, index }))
      .filter(({ sheet }) =>
        included.length > 0
          ? included.includes(sheet.name)
          : !excluded.includes(sheet.name),
      );
  }

  // Read sheet NAME from A1 to LAST ({row, column}) in blocks; ONBLOCK(start, rows)
  // gets each block (start: 0-based row). READ(name, address) → the block's values.
  // FROM, SAMPLE: start at row FROM (0-based), the blocks sized by SAMPLE (rows read);
  // PROBE: the rows of the first block without a sample.
  async function readBlocks(read, name, last, onBlock, budget = READ_BYTES, from = 0, sample = null,
                            probe = PROBE_ROWS) {
    const letters = columnLetters(last.column);
    let start = from;
    let size = sample ? rowsPerBlock(sample, last.column, budget) : Math.min(probe, last.row);
    while (start < last.row) {
      size = Math.min(size, last.row - start);
      const address = `A${start + 1}:${letters}${start + size}`;
      const rows = await read(name, address); // the sheet's name, an unqualified address
      if (!Array.isArray(rows) || rows.length !== size) {
        throw new Error(
          `tierbook: Excel gave ${rows ? rows.length : "no"} rows for ${name}!${address}`,
        );
      }
      await onBlock(start, rows);
      start += size;
      size = rowsPerBlock(rows, last.column, budget);
    }
  }

  // The header row and the columns to read of a sheet whose SPEC (GET
  // /tierbook/columns.json: worklist.read_columns) says which columns the script needs,
  // found in ROWS (the first block): {row (0-based), columns (0-based, increasing)};
  // null when no row of ROWS is that header row (then every column is read).
  function neededColumns(rows, spec) {
    const text = (v) => String(v === null || v === undefined ? "" : v).trim().toLowerCase();
    for (let r = 0; r < rows.length; r += 1) {
      const cells = rows[r].map(text);
      if (cells.some((c) => spec.customer.includes(c)) && cells.some((c) => spec.done.includes(c))) {
        const columns = cells.map((c, i) => (spec.read.includes(c) ? i : -1)).filter((i) => i >= 0);
        return { row: r, columns };
      }
    }
    return null;
  }

  // The ranges of columns to read for COLUMNS (0-based, increasing): [[first, last], ...],
  // one range over columns at most GAP apart (a column between is read too: one Office.js
  // sync less for a few cells more).
  function columnRuns(columns, gap = 1) {
    const runs = [];
    for (const c of columns) {
      if (runs.length && c - runs[runs.length - 1][1] <= gap + 1) runs[runs.length - 1][1] = c;
      else runs.push([c, c]);
    }
    return runs;
  }

  // Read sheet NAME as readBlocks does, but after the first block only the COLUMNS that
  // neededColumns found in it (each run of adjacent ones as one range); ONBLOCK(start,
  // rows, columns) gets the first block whole (columns null) and the others as the
  // values of those columns.
  async function readNeeded(read, name, last, spec, onBlock, budget = READ_BYTES, probe = PROBE_ROWS) {
    const size = Math.min(probe, last.row);
    const first = await read(name, `A1:${columnLetters(last.column)}${size}`);
    if (!Array.isArray(first) || first.length !== size) {
      throw new Error(`tierbook: Excel gave ${first ? first.length : "no"} rows for ${name}!A1`);
    }
    await onBlock(0, first, null);
    const found = neededColumns(first, spec);
    if (size === last.row) return;
    if (found === null || found.columns.length === 0) {
      await readBlocks(read, name, last, async (start, rows) => onBlock(start, rows, null), budget, size, first);
      return;
    }
    const runs = columnRuns(found.columns);
    const readColumns = runs.flatMap(([c0, c1]) => Array.from({ length: c1 - c0 + 1 }, (_, i) => c0 + i));
    const rowsAtOnce = rowsPerBlock(first.map((row) => readColumns.map((c) => row[c])), readColumns.length, budget);
    // where each needed column is in the ranges read: [range, column within it]
    const at = found.columns.map((c) => {
      const r = runs.findIndex(([c0, c1]) => c0 <= c && c <= c1);
      return [r, c - runs[r][0]];
    });
    for (let start = size; start < last.row; start += rowsAtOnce) {
      const end = Math.min(last.row, start + rowsAtOnce);
      const parts = [];
      for (const [c0, c1] of runs) {
        const address = `${columnLetters(c0 + 1)}${start + 1}:${columnLetters(c1 + 1)}${end}`;
        const values = await read(name, address);
        if (!Array.isArray(values) || values.length !== end - start) {
          throw new Error(`tierbook: Excel gave ${values ? values.length : "no"} rows for ${name}!${address}`);
        }
        parts.push(values);
      }
      const rows = parts[0].map((_, i) => at.map(([r, j]) => parts[r][i][j]));
      await onBlock(start, rows, found.columns);
    }
  }

  async function answer(response) {
    const text = await response.text();
    if (response.ok) return JSON.parse(text);
    let message = text;
    try {
      const data = JSON.parse(text);
      message = data.detail || data.error || text;
    } catch (error) {
      // a plain-text error (xlwings Server's XlwingsError handler)
    }
    throw new Error(message || response.statusText || "tierbook: the server did not answer");
  }

  // Run SCRIPT: read, upload, run, apply. ENV: {xlwings (getBookData, getRangeValues,
  // runActions), fetch, base (the server's URL), headers, status(text), budget}.
  async function run(script, env) {
    const { xlwings, base } = env;
    const fetcher = env.fetch || globalThis.fetch.bind(globalThis);
    const status = env.status || (() => {});
    const budget = env.budget || READ_BYTES;
    const probe = env.probeRows || PROBE_ROWS;
    const meta = await answer(await fetcher(`${base}/xlwings/custom-scripts-meta.json`));
    const info = meta.find((m) => m.function_name === script) || {};
    const needed = await answer(await fetcher(`${base}/tierbook/columns.json`, { headers: env.headers || {} }));
    const headers = { ...(env.headers || {}) };
    status("tierbook: reading the workbook…");
    const payload = await xlwings.getBookData({
      include: info.include || "",
      exclude: info.exclude || "",
      headers: headers, // getBookData adds Content-Type and Authorization
      lazy: true,
    });
    headers["Content-Type"] = "application/json";
    const post = async (path, body) =>
      answer(
        await fetcher(base + path, {
          method: "POST",
          headers: headers,
          body: JSON.stringify(body),
        }),
      );
    let upload = null;
    for (const { sheet, index } of readSheets(payload, info.include, info.exclude)) {
      const last = lastCell(sheet.used_range_address);
      if (last === null) {
        sheet.values = [[""]]; // what xlwings reads from an empty sheet (A1)
        continue;
      }
      const onBlock = async (start, rows, columns = null) => {
        const block = { upload, sheet: index, start, values: rows };
        if (columns) Object.assign(block, { columns, width: last.column });
        const sent = await post("/tierbook/upload", block);
        upload = sent.upload;
        status(`tierbook: read ${sheet.name}, ${(start + rows.length).toLocaleString()} of ${last.row.toLocaleString()} rows`);
      };
      const spec = Object.prototype.hasOwnProperty.call(needed, sheet.name) ? needed[sheet.name] : null;
      if (spec) await readNeeded(xlwings.getRangeValues, sheet.name, last, spec, onBlock, budget, probe);
      else await readBlocks(xlwings.getRangeValues, sheet.name, last, onBlock, budget, 0, null, probe);
      sheet.values = [[]];
    }
    status("tierbook: classifying on the server…");
    const first = await post(`/tierbook/run/${encodeURIComponent(script)}`, { ...payload, upload });
    const getHeaders = { ...headers };
    delete getHeaders["Content-Type"];
    for (let page = 0; page < first.pages; page += 1) {
      status(`tierbook: writing into Excel, part ${page + 1} of ${first.pages}…`);
      const part =
        page === 0
          ? first
          : await answer(
              await fetcher(`${base}/tierbook/result/${first.result}/${page}`, { headers: getHeaders }),
            );
      await xlwings.runActions({ actions: part.actions });
    }
    status("");
    // files the script made for the browser (Segment workbooks): env.downloads lists them
    if (first.downloads && first.downloads.length && env.downloads) await env.downloads(first.downloads);
    return first.pages;
  }

  async function showError(error) {
    const text = (error && error.message) || String(error);
    console.error(error);
    try {
      const { xlAlert } = await import(new URL("./alerts/parent.js", SCRIPT_URL).href);
      await xlAlert(text, "tierbook", "ok", "critical", "");
    } catch (alertError) {
      globalThis.xlwings.showGlobalError(text);
    }
  }

  // The browser: the status line of the task pane, and the server this script came from.
  function browserEnv(auth) {
    const status = (text) => {
      try {
        if (text) globalThis.xlwings.showGlobalStatus(text);
        else globalThis.xlwings.hideGlobalStatus();
      } catch (error) {
        console.log(text); // no task pane loaded
      }
    };
    const headers = { "Auth-Provider": auth.provider };
    if (auth.token) headers.Authorization = auth.token;
    return {
      xlwings: globalThis.xlwings,
      base: SCRIPT_URL.replace(/\/static\/js\/ribbon\.js.*$/, ""),
      headers,
      status,
      downloads: (list) => globalThis.TierbookDownloads.show(list), // static/js/downloads.js
    };
  }

  async function runInExcel(scriptName) {
    const auth =
      typeof globalThis.getAuth === "function"
        ? await globalThis.getAuth()
        : { token: "", provider: "" };
    const env = browserEnv(auth);
    try {
      await Office.onReady();
      await run(scriptName, env);
    } catch (error) {
      env.status("");
      await showError(error);
    }
  }

  return {
    READ_BYTES, columnLetters, columnNumber, lastCell, rowsPerBlock, readSheets, readBlocks, neededColumns,
    columnRuns, readNeeded, run, runInExcel,
  };
})();

function tierbookButton(scriptName) {
  return async function (event) {
    try {
      await TierbookRibbon.runInExcel(scriptName);
    } finally {
      event.completed();
    }
  };
}

if (typeof Office !== "undefined" && Office.actions) {
  Office.actions.associate("tbSegment", tierbookButton("segment_customers"));
  Office.actions.associate("tbSplit", tierbookButton("segment_workbooks"));
  Office.actions.associate("tbPlanReactivation", tierbookButton("plan_reactivation"));
  Office.actions.associate("tbReactivationResults", tierbookButton("reactivation_results"));
}

// Task pane buttons with data-tierbook-script run the same way (xw-click would send the
// whole workbook in one request).
if (typeof document !== "undefined") {
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-tierbook-script]").forEach((element) => {
      element.addEventListener("click", async () => {
        element.setAttribute("disabled", "true");
        try {
          await TierbookRibbon.runInExcel(element.getAttribute("data-tierbook-script"));
        } finally {
          element.removeAttribute("disabled");
        }
      });
    });
  });
}

if (typeof module !== "undefined" && module.exports) {
  module.exports = TierbookRibbon;
}
