// tierbook's ribbon buttons (manifest.xml, tierbook.excel.BUTTONS): each runs one
// script of tierbook.excel on the server, in a handful of Office.js round trips and in
// pieces small enough for Excel on the web, which refuses an Office.js request or
// response over 5 MB (Microsoft: "Resource limits and performance optimization for
// Office Add-ins"; tierbook/server/transport.py keeps the server's side).
//
// One click is one Excel.run:
// 1. readBook: the workbook's structure in two syncs (sheets, names, used ranges), the
//    payload xlwings' client would send without cell values (what the script reads);
// 2. readCells: the cells of the sheets the script reads (its include/exclude), small
//    sheets whole and large ones in row blocks, several ranges per sync up to
//    READ_BYTES; each block goes to /tierbook/upload;
// 3. /tierbook/run/<script> runs the script on the book put together again and answers
//    the first page of its actions; the others come from /tierbook/result/<id>/<n>;
// 4. applyPage queues each page's actions on Office.js proxy objects and commits them
//    with one context.sync() (the server writes structure before content: sheets and
//    values, tables, formulas, looks, then the defined names, which get a sync of their
//    own so that an Excel without LAMBDA skips them and says so, instead of failing the
//    run). An action type this file does not know goes to xlwings' own client
//    (xlwings.runActions); a page that Excel refuses is replayed action by action, so
//    the error names the action and its sheet.
// The task pane shows where the run is (xlwings.showGlobalStatus).
//
// The functions are exported for node: tests/js run run() against the real server with
// the strict Excel stand-in (tests/js/excel_standin.js) in place of Excel.

const TierbookRibbon = (function () {
  // Target size of one sync's read: values as JSON plus the number formats Office sends
  // with them (about NUMBER_FORMAT_BYTES a cell). Under the 5 MB response limit with a
  // quarter to spare, for a block whose rows are longer than its sample's.
  const READ_BYTES = 4000000;
  const NUMBER_FORMAT_BYTES = 12;
  // A sheet of at most WHOLE_CELLS cells is read whole, unsampled (several in one sync,
  // counted at UNSAMPLED_CELL_BYTES a cell: values and number formats of a typical export).
  const WHOLE_CELLS = 20000;
  const UNSAMPLED_CELL_BYTES = 60;
  const PROBE_ROWS = 200; // the first block of a large sheet, to measure a row
  const SCRIPT_URL =
    typeof document !== "undefined" && document.currentScript
      ? /** @type {HTMLScriptElement} */ (document.currentScript).src
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

  // The last cell of a used-range address ("A1:L50001", "C5", "$B$2:$D$9",
  // "Sales!A1:L9"), as {row, column} (1-based); null for a sheet without used range.
  function lastCell(address) {
    if (!address) return null;
    const last = address.split("!").pop().split(":").pop().replace(/\$/g, "");
    const match = /^([A-Za-z]{1,3})(\d+)$/.exec(last);
    if (!match) throw new Error(`tierbook: cannot read the range address ${address}`);
    return { row: parseInt(match[2], 10), column: columnNumber(match[1]) };
  }

  // The address without its sheet ("'My sheet'!A1:B2" → "A1:B2").
  function unqualified(address) {
    return address ? address.split("!").pop() : address;
  }

  // The bytes a row of a read costs, from SAMPLE (rows already read, COLUMNS wide): its
  // values as UTF-8 JSON (a Cyrillic text is two bytes a letter), the number formats Office
  // sends with them, and one for the separator.
  function bytesPerRow(sample, columns) {
    const rows = Math.max(1, sample.length);
    return new TextEncoder().encode(JSON.stringify(sample)).length / rows + columns * NUMBER_FORMAT_BYTES + 1;
  }

  // Rows per block so that a block is about BUDGET bytes, from SAMPLE (rows already read).
  // (Python copy: tierbook/lite.py rows_per_block, for xlwings Lite's reads;
  // tests/test_lite.py checks both agree.)
  function rowsPerBlock(sample, columns, budget = READ_BYTES) {
    return Math.max(1, Math.floor(budget / bytesPerRow(sample, columns)));
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
  // one range over columns at most GAP apart (a column between is read too: fewer
  // ranges for a few cells more).
  function columnRuns(columns, gap = 1) {
    const runs = [];
    for (const c of columns) {
      if (runs.length && c - runs[runs.length - 1][1] <= gap + 1) runs[runs.length - 1][1] = c;
      else runs.push([c, c]);
    }
    return runs;
  }

  // Requests of ESTIMATE bytes each, in order, as batches of at most BUDGET bytes (a
  // request larger than the budget alone in its batch).
  function batches(requests, estimate, budget = READ_BYTES) {
    const out = [];
    let size = 0;
    for (const request of requests) {
      const bytes = estimate(request);
      if (out.length === 0 || size + bytes > budget) {
        out.push([]);
        size = 0;
      }
      out[out.length - 1].push(request);
      size += bytes;
    }
    return out;
  }

  // --------------------------------------------------------------------- reading

  // The workbook's structure in two syncs, as the payload of xlwings' client without
  // cell values ({client, version, book, sheets, names}, what Book(json=...) takes), and
  // each read sheet's used range. What tierbook's scripts use of it: the sheet names and
  // order, the used ranges, the book-level names (tierbook_segment, the LAMBDA names);
  // tables, charts, pictures and notes of the user's sheets are left out (the scripts
  // neither read nor change them).
  async function readBook(context, include = "", exclude = "") {
    const workbook = context.workbook;
    workbook.load("name");
    const worksheets = workbook.worksheets;
    worksheets.load("items/name,items/visibility,items/showGridlines");
    const active = worksheets.getActiveWorksheet();
    active.load("position");
    const application = workbook.application;
    application.load("calculationMode");
    const names = workbook.names;
    names.load("items/name,items/formula,items/type,items/visible");
    await context.sync();
    const all = worksheets.items.map((ws) => ({ name: ws.name }));
    const readNames = new Set(readSheets({ sheets: all }, include, exclude).map(({ sheet }) => sheet.name));
    const used = worksheets.items.map((ws) => {
      if (!readNames.has(ws.name)) return null;
      const range = ws.getUsedRangeOrNullObject(true);
      range.load("address,rowCount,columnCount");
      return range;
    });
    await context.sync();
    const position = new Map(worksheets.items.map((ws, i) => [ws.name, i]));
    const sheets = worksheets.items.map((ws, i) => {
      const range = used[i];
      const empty = !range || range.isNullObject;
      return {
        name: ws.name,
        visibility: ws.visibility,
        show_gridlines: ws.showGridlines,
        print_area: null,
        notes: [],
        notes_supported: false,
        used_range_address: empty ? null : unqualified(range.address),
        used_range_row_count: empty ? 0 : range.rowCount,
        used_range_column_count: empty ? 0 : range.columnCount,
        values: [[]],
        pictures: [],
        shapes: [],
        charts: [],
        tables: [],
        pivot_tables: [],
      };
    });
    const bookNames = names.items
      .filter((item) => item.visible !== false)
      .map((item) => {
        const formula = String(item.formula || "");
        const match = /^=?(?:'((?:[^']|'')+)'|([^'!]+))!(\$?[A-Za-z]{1,3}\$?\d+(?::\$?[A-Za-z]{1,3}\$?\d+)?)$/.exec(formula);
        const title = match ? (match[1] !== undefined ? match[1].replace(/''/g, "'") : match[2]) : null;
        return {
          name: item.name,
          refers_to: formula.startsWith("=") ? formula : `=${formula}`,
          sheet_index: title !== null && position.has(title) ? position.get(title) : null,
          address: match ? match[3].replace(/\$/g, "") : null,
          book_scope: true,
          scope_sheet_index: null,
          scope_sheet_name: null,
        };
      });
    const payload = {
      client: "Office.js",
      version: "",
      book: {
        name: workbook.name,
        active_sheet_index: active.position,
        selection: "A1",
        calculation: application.calculationMode,
      },
      sheets,
      names: bookNames,
    };
    return payload;
  }

  // Read the cells of the sheets TARGETS ([{index, name, last, spec}]) with as few syncs
  // as the budget allows, through CONTEXT: a sheet of few cells whole (several in one
  // sync), a large one first its PROBE rows (every large sheet's in one sync) to size
  // its row blocks and, where SPEC says which columns the script needs, to find them;
  // then the blocks, packed into syncs of about BUDGET bytes. Dates come as xlwings'
  // client sends them (CONVERT: its convertDateValues, from the number formats).
  // ONBLOCK(target, start, rows, columns) gets each block in row order per sheet
  // (columns: null for whole rows, else the 0-based columns the rows hold); ONREAD(requests)
  // sees each sync's ranges read ({target, address, values, numberFormat}).
  async function readCells(context, targets, onBlock, convert, budget = READ_BYTES, probe = PROBE_ROWS,
                           onRead = null, wholeCells = WHOLE_CELLS) {
    const load = async (requests) => {
      const ranges = requests.map((request) => {
        const range = context.workbook.worksheets.getItem(request.target.name).getRange(request.address);
        range.load("values,numberFormat");
        return range;
      });
      await context.sync();
      for (let i = 0; i < requests.length; i += 1) {
        const values = ranges[i].values;
        if (!Array.isArray(values) || values.length !== requests[i].rows) {
          throw new Error(`tierbook: Excel gave ${values ? values.length : "no"} rows for ` +
                          `${requests[i].target.name}!${requests[i].address}`);
        }
        requests[i].numberFormat = ranges[i].numberFormat;
        if (convert) convert(values, ranges[i].numberFormat);
        requests[i].values = values;
      }
      if (onRead) onRead(requests);
    };
    const cells = (r) => r.rows * r.width;
    const small = [];
    const large = [];
    for (const target of targets) {
      const { row, column } = target.last;
      (row * column <= wholeCells ? small : large).push(target);
    }
    // 1. the small sheets whole and the large ones' first rows
    const first = [
      ...small.map((target) => ({ target, start: 0, rows: target.last.row, width: target.last.column })),
      ...large.map((target) => ({ target, start: 0, rows: Math.min(probe, target.last.row), width: target.last.column })),
    ].map((r) => ({ ...r, address: `A1:${columnLetters(r.width)}${r.rows}`, values: null, numberFormat: null }));
    for (const batch of batches(first, (r) => cells(r) * UNSAMPLED_CELL_BYTES, budget)) await load(batch);
    for (const r of first) await onBlock(r.target, 0, r.values, null);
    // 2. the rest of the large sheets, in blocks sized by their first rows
    const rest = [];
    for (const r of first.slice(small.length)) {
      const { target } = r;
      const found = target.spec ? neededColumns(r.values, target.spec) : null;
      const wanted = found && found.columns.length ? found.columns : null;
      const runs = wanted ? columnRuns(wanted) : [[0, target.last.column - 1]];
      const readColumns = runs.flatMap(([c0, c1]) => Array.from({ length: c1 - c0 + 1 }, (_, i) => c0 + i));
      const sample = wanted ? r.values.map((row) => readColumns.map((c) => row[c])) : r.values;
      const step = rowsPerBlock(sample, readColumns.length, budget);
      const perRow = bytesPerRow(sample, readColumns.length);
      for (let start = r.rows; start < target.last.row; start += step) {
        const end = Math.min(target.last.row, start + step);
        const parts = runs.map(([c0, c1]) => ({
          target, start, rows: end - start, width: c1 - c0 + 1, c0,
          address: `${columnLetters(c0 + 1)}${start + 1}:${columnLetters(c1 + 1)}${end}`, values: null, numberFormat: null,
          bytes: (perRow * (c1 - c0 + 1)) / readColumns.length * (end - start),
        }));
        rest.push({ target, start, rows: end - start, parts, wanted, runs, bytes: parts.reduce((a, p) => a + p.bytes, 0) });
      }
    }
    for (const batch of batches(rest, (block) => block.bytes, budget)) {
      await load(batch.flatMap((block) => block.parts));
      for (const block of batch) {
        if (!block.wanted) {
          await onBlock(block.target, block.start, block.parts[0].values, null);
          continue;
        }
        // where each needed column is in the ranges read: [range, column within it]
        const at = block.wanted.map((c) => {
          const i = block.runs.findIndex(([c0, c1]) => c0 <= c && c <= c1);
          return [i, c - block.runs[i][0]];
        });
        const rows = block.parts[0].values.map((_, k) => at.map(([i, j]) => block.parts[i].values[k][j]));
        await onBlock(block.target, block.start, rows, block.wanted);
      }
    }
  }

  // --------------------------------------------------------------------- writing

  // The Office.js operations of the action types tierbook's scripts send, as xlwings'
  // own callbacks make them (xlwings Server's static/js/custom-scripts), but queued
  // without a sync of their own. BOOK: {sheets: the sheet names in order, as the
  // actions' sheet_position counts them; charts: the charts added in this run; skipped
  // (each name's `instead`), refused (the message before them, the actions' `refused`),
  // alerts: what the task pane says at the end; supports(version): this Excel has ExcelApi
  // VERSION}.
  function sheetOf(context, book, position) {
    const name = book.sheets[position];
    if (name === undefined) throw new Error(`no sheet at position ${position}`);
    return context.workbook.worksheets.getItem(name);
  }

  // Keep CHART, which ACTION (addChart) added, for the setChartXAxisValues that may follow:
  // one series per column of its source (it is plotted by columns).
  function noteChart(book, action, chart) {
    const source = String(action.args[3]);
    const key = book.sheets[action.sheet_position];
    const series = lastCell(source).column - lastCell(source.split(":")[0]).column + 1;
    (book.charts[key] = book.charts[key] || []).push({ chart, series });
  }

  function rangeOf(context, book, action) {
    return sheetOf(context, book, action.sheet_position).getRangeByIndexes(
      action.start_row, action.start_column, action.row_count, action.column_count);
  }

  const OPERATIONS = {
    addSheet(context, action, book) {
      const name = String(action.args[1]);
      const sheet = context.workbook.worksheets.add(name);
      const position = parseInt(String(action.args[0]), 10);
      sheet.position = position;
      book.sheets.splice(position, 0, name);
    },
    sheetDelete(context, action, book) {
      sheetOf(context, book, action.sheet_position).delete();
      book.sheets.splice(action.sheet_position, 1);
    },
    activateSheet(context, action, book) {
      sheetOf(context, book, parseInt(String(action.args[0]), 10)).activate();
    },
    setValues(context, action, book) {
      rangeOf(context, book, action).values = action.values;
    },
    setFormula(context, action, book) {
      rangeOf(context, book, action).formulas = action.values;
    },
    setNumberFormat(context, action, book) {
      rangeOf(context, book, action).numberFormat = [[String(action.args[0])]];
    },
    setFontProperty(context, action, book) {
      const [property, value] = action.args;
      rangeOf(context, book, action).format.font[property] =
        property === "bold" || property === "italic" ? Boolean(value) : value;
    },
    setRangeColor(context, action, book) {
      const range = rangeOf(context, book, action);
      if (action.args[0] == null) range.format.fill.clear();
      else range.format.fill.color = String(action.args[0]);
    },
    setWrapText(context, action, book) {
      rangeOf(context, book, action).format.wrapText = Boolean(action.args[0]);
    },
    setHorizontalAlignment(context, action, book) {
      rangeOf(context, book, action).format.horizontalAlignment = action.args[0];
    },
    setVerticalAlignment(context, action, book) {
      rangeOf(context, book, action).format.verticalAlignment = action.args[0];
    },
    setColumnWidth(context, action, book) {
      rangeOf(context, book, action).format.columnWidth = Number(action.args[0]);
    },
    setRowHeight(context, action, book) {
      rangeOf(context, book, action).format.rowHeight = parseFloat(String(action.args[0]));
    },
    rangeMerge(context, action, book) {
      rangeOf(context, book, action).merge(Boolean(action.args[0]));
    },
    addTable(context, action, book) {
      const table = sheetOf(context, book, action.sheet_position).tables.add(
        String(action.args[0]), Boolean(action.args[1]));
      if (action.args[2] != null) table.style = String(action.args[2]);
      if (action.args[3] != null) table.name = String(action.args[3]);
    },
    addConditionalFormat(context, action, book) {
      const [spec] = action.args;
      if (!spec || spec.type !== "Custom") return false; // xlwings' client does the others
      const format = rangeOf(context, book, action).conditionalFormats.add("Custom");
      format.custom.rule.formula = spec.formula;
      if (spec.fill_color != null) format.custom.format.fill.color = spec.fill_color;
      if (spec.font_color != null) format.custom.format.font.color = spec.font_color;
      if (spec.font_bold != null) format.custom.format.font.bold = spec.font_bold;
      if (spec.font_italic != null) format.custom.format.font.italic = spec.font_italic;
      if (spec.stop_if_true != null) format.stopIfTrue = spec.stop_if_true;
      format.priority = 0;
    },
    setDataValidationList(context, action, book) {
      const [source, dropdown] = action.args;
      if (!source || source.type !== "literal") return false;
      rangeOf(context, book, action).dataValidation.rule = {
        list: { source: source.values.join(","), inCellDropDown: Boolean(dropdown) },
      };
    },
    freezePaneAtRange(context, action, book) {
      const sheet = sheetOf(context, book, action.sheet_position);
      sheet.freezePanes.freezeAt(sheet.getRange(String(action.args[0])));
    },
    setPrintArea(context, action, book) {
      // ExcelApi 1.9; the manifest asks for 1.8 (Excel 2019), where the print area is left as it is
      if (!book.supports("1.9")) return;
      sheetOf(context, book, action.sheet_position).pageLayout.setPrintArea(
        action.args[0] == null ? "" : String(action.args[0]));
    },
    setShowGridlines(context, action, book) {
      sheetOf(context, book, action.sheet_position).showGridlines = Boolean(action.args[0]);
    },
    addChart(context, action, book) {
      const [name, type, sourceSheet, source, left, top, width, height, seriesBy, anchor, style] = action.args;
      const sheet = sheetOf(context, book, action.sheet_position);
      const data = context.workbook.worksheets.getItem(String(sourceSheet)).getRange(String(source));
      const chart = seriesBy == null
        ? sheet.charts.add(String(type), data)
        : sheet.charts.add(String(type), data, String(seriesBy));
      if (anchor != null) chart.setPosition(sheet.getRange(String(anchor)));
      if (left != null) chart.left = Number(left);
      if (top != null) chart.top = Number(top);
      if (width != null) chart.width = Number(width);
      if (height != null) chart.height = Number(height);
      if (style != null) chart.style = Number(style);
      chart.name = String(name);
      noteChart(book, action, chart);
    },
    setChartXAxisValues(context, action, book) {
      const [index, sheetName, address] = action.args;
      const added = (book.charts[book.sheets[action.sheet_position]] || [])[index];
      if (!added) return false; // a chart of an earlier run: xlwings' client finds it
      const range = context.workbook.worksheets.getItem(String(sheetName)).getRange(String(address));
      for (let i = 0; i < added.series; i += 1) added.chart.series.getItemAt(i).setXAxisValues(range);
    },
    nameDelete(context, action) {
      if (!action.args[4]) return false; // a sheet-scoped name: xlwings' client
      context.workbook.names.getItem(String(action.args[2])).delete();
    },
    alert(context, action, book) {
      book.alerts.push({ text: String(action.args[0]), title: String(action.args[1] || "tierbook") });
    },
  };

  // The name of the sheet ACTION works on, for a message.
  function sheetNamed(book, action) {
    if (action.func === "addSheet") return String(action.args[1]);
    const name = action.sheet_position == null ? null : book.sheets[action.sheet_position];
    return name === undefined ? null : name;
  }

  function refusal(error, index, page, action, sheet) {
    const where = sheet ? ` on sheet "${sheet}"` : "";
    const text = (error && error.message) || String(error);
    const wrapped = new Error(
      `tierbook: Excel refused action ${index + 1} of part ${page + 1} (${action.func}${where}): ${text}`);
    wrapped.cause = error;
    return wrapped;
  }

  // Queue ACTIONS on CONTEXT's proxies and commit them with one sync; an action type
  // OPERATIONS does not know goes through xlwings' client (XLWINGS.runActions) after a
  // sync of what came before it. namesAdd actions (tierbook sends them last) get a sync
  // of their own; a name Excel refuses is skipped: its `instead` (what to type in its
  // place) goes to BOOK.skipped. When Excel refuses a batch, the page is replayed from
  // its start, one action per sync (what was already applied is found and passed), and
  // the error names the action and its sheet. Returns the number of syncs.
  async function applyPage(context, actions, book, xlwings, page = 0) {
    const copyCharts = (charts) => Object.fromEntries(Object.entries(charts).map(([k, v]) => [k, [...v]]));
    const start = { sheets: [...book.sheets], charts: copyCharts(book.charts) };
    let queued = 0;
    let syncs = 0;
    const commit = async () => {
      if (queued === 0) return;
      queued = 0;
      syncs += 1;
      await context.sync();
    };
    try {
      for (let i = 0; i < actions.length; i += 1) {
        const action = actions[i];
        if (action.func === "namesAdd") {
          await commit();
          let j = i;
          while (j < actions.length && actions[j].func === "namesAdd") j += 1;
          syncs += await addNames(context, actions.slice(i, j), book);
          i = j - 1;
          continue;
        }
        const operation = OPERATIONS[action.func];
        if (operation && operation(context, action, book) !== false) {
          queued += 1;
          continue;
        }
        await commit();
        await xlwings.runActions({ actions: [action] });
      }
      await commit();
    } catch (error) {
      book.sheets = start.sheets;
      book.charts = start.charts;
      await replay(context, actions, book, xlwings, page, error); // throws, naming the action
    }
    return syncs;
  }

  // Add the namesAdd ACTIONS in one sync; where Excel refuses one, see which names it
  // took and add the others one by one, skipping those it refuses.
  async function addNames(context, actions, book) {
    const names = context.workbook.names;
    for (const action of actions) names.add(String(action.args[0]), String(action.args[1]));
    try {
      await context.sync();
      return 1;
    } catch (error) {
      names.load("items/name");
      await context.sync();
      const taken = new Set(names.items.map((item) => item.name.toLowerCase()));
      let syncs = 2;
      for (const action of actions) {
        if (taken.has(String(action.args[0]).toLowerCase())) continue;
        names.add(String(action.args[0]), String(action.args[1]));
        try {
          syncs += 1;
          await context.sync();
        } catch (refused) {
          book.skipped.push(action.instead || String(action.args[0]));
          book.refused = action.refused || "Excel did not take these names:";
        }
      }
      return syncs;
    }
  }

  // Does the workbook already hold what ACTION adds (a sheet, table or chart), or has it
  // already lost the sheet ACTION deletes? (A batch Excel refused keeps the operations
  // before the refused one.) null for the other actions, which may be applied again. A
  // chart found is registered in BOOK as addChart would (its x-axis values may follow).
  async function alreadyDone(context, action, book) {
    let item;
    const sheets = context.workbook.worksheets;
    if (action.func === "addSheet") item = sheets.getItemOrNullObject(String(action.args[1]));
    else if (action.func === "sheetDelete") item = sheets.getItemOrNullObject(book.sheets[action.sheet_position]);
    else if (action.func === "addTable" && action.args[3] != null) item = context.workbook.tables.getItemOrNullObject(String(action.args[3]));
    else if (action.func === "addChart") {
      item = sheetOf(context, book, action.sheet_position).charts.getItemOrNullObject(String(action.args[0]));
    } else return null;
    item.load("name");
    await context.sync();
    if (action.func === "sheetDelete") return item.isNullObject;
    if (action.func === "addChart" && !item.isNullObject) noteChart(book, action, item);
    return !item.isNullObject;
  }

  async function replay(context, actions, book, xlwings, page, cause) {
    for (let i = 0; i < actions.length; i += 1) {
      const action = actions[i];
      const sheet = sheetNamed(book, action);
      try {
        if (action.func === "namesAdd") {
          await addNames(context, [action], book);
          continue;
        }
        const done = await alreadyDone(context, action, book);
        if (done) {
          if (action.func === "addSheet") book.sheets.splice(parseInt(String(action.args[0]), 10), 0, String(action.args[1]));
          if (action.func === "sheetDelete") book.sheets.splice(action.sheet_position, 1);
          continue;
        }
        const operation = OPERATIONS[action.func];
        if (operation && operation(context, action, book) !== false) {
          await context.sync();
        } else {
          await xlwings.runActions({ actions: [action] });
        }
      } catch (error) {
        throw refusal(error, i, page, action, sheet);
      }
    }
    // Every action passed one by one: what Excel refused in the batch was its size.
    throw refusal(cause, actions.length - 1, page, actions[actions.length - 1], null);
  }

  // --------------------------------------------------------------------- the run

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

  // Run SCRIPT: read, upload, run, apply, in one Excel.run. ENV: {Excel, Office (the
  // Office.js namespaces), xlwings (runActions, for the action types applyPage leaves to it),
  // convertDateValues (xlwings' client's date rule), fetch, base (the server's URL),
  // headers, status(text), alert(text, title), downloads(list), onRead (readCells'), budget,
  // probeRows, wholeCells}. Returns {pages, syncs (of the pages), skipped (names Excel refused, with what
  // to type instead), alerts, downloads (the files the script offers the browser)}.
  async function run(script, env) {
    const { base } = env;
    const fetcher = env.fetch || globalThis.fetch.bind(globalThis);
    const status = env.status || (() => {});
    const budget = env.budget || READ_BYTES;
    const probe = env.probeRows || PROBE_ROWS;
    const headers = { ...(env.headers || {}) };
    const meta = await answer(await fetcher(`${base}/xlwings/custom-scripts-meta.json`, { headers }));
    const info = meta.find((m) => m.function_name === script) || {};
    const needed = await answer(await fetcher(`${base}/tierbook/columns.json`, { headers }));
    const post = async (path, body) =>
      answer(
        await fetcher(base + path, {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        }),
      );
    return env.Excel.run(async (context) => {
      status("tierbook: reading the workbook…");
      const payload = await readBook(context, info.include || "", info.exclude || "");
      const targets = [];
      for (const { sheet, index } of readSheets(payload, info.include, info.exclude)) {
        const last = lastCell(sheet.used_range_address);
        if (last === null) {
          sheet.values = [[""]]; // what xlwings reads from an empty sheet (A1)
          continue;
        }
        const spec = Object.prototype.hasOwnProperty.call(needed, sheet.name) ? needed[sheet.name] : null;
        targets.push({ index, name: sheet.name, last: { row: last.row, column: last.column }, spec });
      }
      let upload = null;
      const onBlock = async (target, start, rows, columns) => {
        const block = { upload, sheet: target.index, start, values: rows };
        if (columns) Object.assign(block, { columns, width: target.last.column });
        upload = (await post("/tierbook/upload", block)).upload;
        status(`tierbook: read ${target.name}, ${(start + rows.length).toLocaleString()} of ` +
               `${target.last.row.toLocaleString()} rows`);
      };
      await readCells(context, targets, onBlock, env.convertDateValues, budget, probe, env.onRead,
                      env.wholeCells || WHOLE_CELLS);
      status("tierbook: classifying on the server…");
      const first = await post(`/tierbook/run/${encodeURIComponent(script)}`, { ...payload, upload });
      const requirements = env.Office ? env.Office.context.requirements : null;
      const book = {
        sheets: payload.sheets.map((s) => s.name), charts: {}, skipped: [], refused: "", alerts: [],
        supports: (version) => !requirements || requirements.isSetSupported("ExcelApi", version),
      };
      let syncs = 0;
      for (let page = 0; page < first.pages; page += 1) {
        status(`tierbook: writing into Excel, part ${page + 1} of ${first.pages}…`);
        const part =
          page === 0
            ? first
            : await answer(await fetcher(`${base}/tierbook/result/${first.result}/${page}`, { headers }));
        syncs += await applyPage(context, part.actions, book, env.xlwings, page);
      }
      status("");
      const alerts = [...book.alerts];
      if (book.skipped.length) alerts.push({ title: "tierbook", text: [book.refused, ...book.skipped].join("\n") });
      for (const alert of alerts) if (env.alert) await env.alert(alert.text, alert.title);
      // files the script made for the browser (Segment workbooks): env.downloads lists them
      const downloads = first.downloads || [];
      if (downloads.length && env.downloads) await env.downloads(downloads);
      return { pages: first.pages, syncs, skipped: book.skipped, alerts, downloads };
    });
  }

  async function showAlert(text, title = "tierbook", mode = "info") {
    try {
      const { xlAlert } = await import(new URL("./alerts/parent.js", SCRIPT_URL).href);
      await xlAlert(text, title, "ok", mode, "");
    } catch (alertError) {
      globalThis.xlwings.showGlobalError(text);
    }
  }

  async function showError(error) {
    console.error(error);
    await showAlert((error && error.message) || String(error), "tierbook", "critical");
  }

  // The browser: the status line of the task pane, Excel, xlwings' client, and the
  // server this script came from.
  async function browserEnv(auth) {
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
    const { convertDateValues } = await import(
      new URL("./custom-scripts/workbook-metadata.js", SCRIPT_URL).href);
    return {
      Excel: globalThis.Excel,
      Office: globalThis.Office,
      xlwings: globalThis.xlwings,
      convertDateValues,
      base: SCRIPT_URL.replace(/\/static\/js\/ribbon\.js.*$/, ""),
      headers,
      status,
      alert: (text, title) => showAlert(text, title),
      downloads: (list) => globalThis.TierbookDownloads.show(list), // static/js/downloads.js
    };
  }

  async function runInExcel(scriptName) {
    const auth =
      typeof globalThis.getAuth === "function"
        ? await globalThis.getAuth()
        : { token: "", provider: "" };
    let status = (/** @type {string} */ text) => console.log(text);
    try {
      await Office.onReady();
      const env = await browserEnv(auth);
      status = env.status;
      await run(scriptName, env);
    } catch (error) {
      status("");
      await showError(error);
    }
  }

  return {
    READ_BYTES, PROBE_ROWS, OPERATIONS, columnLetters, columnNumber, lastCell, rowsPerBlock, readSheets,
    neededColumns, columnRuns, batches, readBook, readCells, applyPage, run, runInExcel,
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

// The ribbon buttons that run a script: tierbook.excel.BUTTONS, which the server renders
// into the task pane (the manifest's FunctionFile) as #tierbook-buttons.
function tierbookButtons() {
  const element = typeof document !== "undefined" ? document.getElementById("tierbook-buttons") : null;
  return element ? JSON.parse(element.textContent || "[]") : [];
}

if (typeof Office !== "undefined" && Office.actions) {
  for (const { id, script } of tierbookButtons()) Office.actions.associate(id, tierbookButton(script));
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
