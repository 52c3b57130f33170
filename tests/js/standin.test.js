// The Excel stand-in's rules, each refusing what Excel refuses and letting the good case
// through, and xlwings Server's own client run over it. `node --test tests/js/`
// (tests/test_office_standin.py runs this under pytest).

"use strict";

const test = require("node:test");
const assert = require("node:assert");
const { createExcel } = require("./excel_standin");
const { loadXlwings } = require("./xlwings_client");

const book = () => ({
  sheets: [
    { name: "Sales", values: [["customer", "amount"], ["a", 10], ["b", 20]] },
    { name: "Summary", values: [] },
  ],
});

async function refused(promise, code) {
  await assert.rejects(promise, (error) => {
    assert.strictEqual(error.code, code, `${error.code}: ${error.message}`);
    assert.ok(error.debugInfo, "the error carries debugInfo");
    return true;
  });
}

// ---------------------------------------------------------------- proxy semantics

test("loaded properties are readable only after a sync (PropertyNotLoaded)", async () => {
  const { Excel } = createExcel({ book: book() });
  await Excel.run(async (context) => {
    const range = context.workbook.worksheets.getItem("Sales").getRange("A1:B2").load("values,address");
    assert.throws(() => range.values, (e) => e.code === "PropertyNotLoaded");
    await context.sync();
    assert.deepStrictEqual(range.values, [["customer", "amount"], ["a", 10]]);
    assert.strictEqual(range.address, "Sales!A1:B2");
    assert.throws(() => range.numberFormat, (e) => e.code === "PropertyNotLoaded");
  });
});

test("operations queue and apply in order at sync; a failing one keeps those before and drops the rest", async () => {
  const host = createExcel({ book: book() });
  await refused(
    host.Excel.run(async (context) => {
      const sheet = context.workbook.worksheets.getItem("Summary");
      sheet.getRange("A1").values = [["before"]];
      sheet.getRange("A2").formulas = [["=SUM(tbMissing[amount])"]]; // fails
      sheet.getRange("A3").values = [["after"]];
      assert.deepStrictEqual(host.snapshot().sheets[1].cells, {}, "nothing runs before sync");
      await context.sync();
    }),
    "InvalidArgument",
  );
  assert.deepStrictEqual(host.snapshot().sheets[1].cells, { A1: { value: "before" } });
  assert.strictEqual(host.stats.syncs, 1);
});

test("getItemOrNullObject / isNullObject, collections loaded with items/name, a fresh context per run", async () => {
  const host = createExcel({ book: book() });
  await host.Excel.run(async (context) => {
    const missing = context.workbook.worksheets.getItemOrNullObject("Nope");
    const present = context.workbook.worksheets.getItemOrNullObject("sales");
    const sheets = context.workbook.worksheets.load("items/name");
    await context.sync();
    assert.strictEqual(missing.isNullObject, true);
    assert.strictEqual(present.isNullObject, false);
    assert.deepStrictEqual(sheets.items.map((s) => s.name), ["Sales", "Summary"]);
  });
  let kept;
  await host.Excel.run(async (context) => {
    kept = context.workbook.worksheets.getItem("Sales");
  });
  // an object of an ended run cannot be used in another (it throws when queued)
  await refused(
    host.Excel.run(async () => {
      kept.getRange("A1").values = [[1]];
    }),
    "InvalidRequestContext",
  );
  await refused(
    host.Excel.run(async (context) => {
      context.workbook.worksheets.getItem("Nope").getRange("A1").values = [[1]];
    }),
    "ItemNotFound",
  );
});

test("values are stored as Excel stores typed input: numbers, booleans, ISO dates as serials, = as formulas", async () => {
  const host = createExcel({ book: book() });
  await host.Excel.run(async (context) => {
    context.workbook.worksheets.getItem("Summary").getRange("A1:E1").values = [["12.5", "TRUE", "2024-01-05", "2024-01-05 12:00:00", "text"]];
  });
  assert.deepStrictEqual(host.snapshot().sheets[1].cells, {
    A1: { value: 12.5 },
    B1: { value: true },
    C1: { value: 45296, numberFormat: "yyyy-mm-dd" },
    D1: { value: 45296.5, numberFormat: "yyyy-mm-dd hh:mm:ss" },
    E1: { value: "text" },
  });
  await refused(
    host.Excel.run(async (context) => {
      context.workbook.worksheets.getItem("Summary").getRange("A1:B2").values = [[1, 2, 3]];
    }),
    "InvalidArgument",
  );
});

// ---------------------------------------------------------------- rule 1

test("rule 1: a formula naming a table that does not exist yet is refused; after tables.add it passes", async () => {
  const host = createExcel({ book: book() });
  const formula = [['=COUNTIFS(tbCustomers[[amount]],">5")']];
  await refused(
    host.Excel.run(async (context) => {
      context.workbook.worksheets.getItem("Summary").getRange("A1").formulas = formula;
    }),
    "InvalidArgument",
  );
  await host.Excel.run(async (context) => {
    const table = context.workbook.worksheets.getItem("Sales").tables.add("A1:B3", true);
    table.name = "tbCustomers";
    context.workbook.worksheets.getItem("Summary").getRange("A1").formulas = formula;
  });
  assert.strictEqual(host.snapshot().sheets[1].cells.A1.formula, formula[0][0]);
  // a column the table does not have is refused too
  await refused(
    host.Excel.run(async (context) => {
      context.workbook.worksheets.getItem("Summary").getRange("A2").formulas = [["=SUM(tbCustomers[tier])"]];
    }),
    "InvalidArgument",
  );
});

test("rule 1: a sheet that does not exist is refused in a cell formula, a conditional format and a name", async () => {
  const host = createExcel({ book: book() });
  for (const queue of [
    (c) => (c.workbook.worksheets.getItem("Summary").getRange("A1").formulas = [["='No Such'!A1+1"]]),
    (c) => (c.workbook.worksheets.getItem("Summary").getRange("A1").values = [["=Missing!B2"]]),
    (c) => {
      const cf = c.workbook.worksheets.getItem("Sales").getRange("A2:A3").conditionalFormats.add("Custom");
      cf.custom.rule.formula = "=Missing!A1>0";
    },
    (c) => c.workbook.names.add("total", "=Missing!$B$2:$B$3"),
  ]) {
    await refused(host.Excel.run(async (context) => queue(context)), "InvalidArgument");
  }
  await host.Excel.run(async (context) => {
    const summary = context.workbook.worksheets.getItem("Summary");
    summary.getRange("A1").formulas = [["=SUM(Sales!B2:B3)+'Sales'!$B$2"]];
    const cf = context.workbook.worksheets.getItem("Sales").getRange("B2:B3").conditionalFormats.add("Custom");
    cf.custom.rule.formula = "=$B2>Summary!$A$1";
    cf.custom.format.font.color = "#9C0006";
    cf.custom.format.fill.color = "#FFC7CE";
    cf.custom.format.font.bold = true;
    context.workbook.names.add("total", "=Sales!$B$2:$B$3");
  });
  const snap = host.snapshot();
  assert.deepStrictEqual(snap.sheets[0].conditionalFormats[0], {
    range: "B2:B3", type: "Custom", formula: "=$B2>Summary!$A$1", rule: null,
    fontColor: "#9C0006", fillColor: "#FFC7CE", bold: true, italic: null, stopIfTrue: false,
  });
  assert.deepStrictEqual(snap.names, [{ name: "total", formula: "=Sales!$B$2:$B$3", comment: "" }]);
});

test("rule 1: an undefined bare name is accepted (the cell shows #NAME?) and reported; functions, cells, TRUE are not names", async () => {
  const host = createExcel({ book: book() });
  await host.Excel.run(async (context) => {
    context.workbook.worksheets.getItem("Summary").getRange("A1:A2").formulas = [
      ['=IF(TRUE,SUM($A$3:B4,A:A,1:1),"x")+vipLimit'],
      ["=LAMBDA(x,y,x+y)(1,2)+LET(n,2,n*1E+3)"],
    ];
  });
  assert.deepStrictEqual(host.stats.undefinedNames.map((u) => u.name), ["vipLimit"]);
});

// ---------------------------------------------------------------- rule 2

test("rule 2: without LAMBDA (Excel 2019/2021) names.add of a LAMBDA fails at the next sync", async () => {
  const old = createExcel({ book: book(), lambda: false });
  await old.Excel.run(async (context) => {
    context.workbook.names.add("double", "=LAMBDA(x, x*2)"); // queued: nothing fails yet
    await refused(context.sync(), "InvalidArgument");
  });
  assert.deepStrictEqual(old.snapshot().names, []);
  const current = createExcel({ book: book() });
  await current.Excel.run(async (context) => context.workbook.names.add("double", "=LAMBDA(x, x*2)"));
  assert.deepStrictEqual(current.snapshot().names.map((n) => n.name), ["double"]);
});

// ---------------------------------------------------------------- rule 3

test("rule 3: overlapping tables, a table name in use (any case) or not a valid name are refused", async () => {
  const host = createExcel({ book: book() });
  await host.Excel.run(async (context) => {
    const t = context.workbook.worksheets.getItem("Sales").tables.add("A1:B3", true);
    t.name = "tbSales";
  });
  await refused(host.Excel.run(async (c) => c.workbook.worksheets.getItem("Sales").tables.add("B2:C4", true)), "InvalidArgument");
  for (const name of ["A1", "R1C1", "c", "has space", "1st", ""]) {
    await refused(
      host.Excel.run(async (c) => {
        c.workbook.worksheets.getItem("Summary").tables.add("A1:A2", true).name = name;
      }),
      "InvalidArgument",
    );
  }
  // (the failed renames above left their tables, as Excel would: tables.add ran first)
  await refused(
    host.Excel.run(async (c) => {
      c.workbook.worksheets.getItem("Summary").tables.add("D1:D2", true).name = "TBSALES";
    }),
    "ItemAlreadyExists",
  );
  await host.Excel.run(async (c) => {
    const t = c.workbook.worksheets.getItem("Summary").tables.add("F1:G3", true);
    t.name = "tb.Summary_2";
    t.style = "TableStyleLight9";
  });
  const tables = host.snapshot().sheets[1].tables;
  assert.deepStrictEqual(tables.at(-1), {
    name: "tb.Summary_2", address: "F1:G3", style: "TableStyleLight9", showHeaders: true, showTotals: false, columns: ["Column1", "Column2"],
  });
});

// ---------------------------------------------------------------- rule 4

test("rule 4: invalid sheet names are refused, valid ones pass", async () => {
  const host = createExcel({ book: book() });
  const bad = ["x".repeat(32), "a:b", "a\\b", "a/b", "a?b", "a*b", "a[b", "a]b", "'quoted", "quoted'", "", "History", "history"];
  for (const name of bad) {
    await refused(host.Excel.run(async (c) => c.workbook.worksheets.add(name)), "InvalidArgument");
  }
  await refused(host.Excel.run(async (c) => c.workbook.worksheets.add("SALES")), "ItemAlreadyExists");
  await refused(
    host.Excel.run(async (c) => {
      c.workbook.worksheets.getItem("Summary").name = "sales";
    }),
    "ItemAlreadyExists",
  );
  await host.Excel.run(async (c) => {
    c.workbook.worksheets.add("x".repeat(31));
    c.workbook.worksheets.add("It's – a (ok) sheet #1");
  });
  assert.deepStrictEqual(host.snapshot().sheets.map((s) => s.name), ["Sales", "Summary", "x".repeat(31), "It's – a (ok) sheet #1"]);
});

// ---------------------------------------------------------------- rule 5

test("rule 5: a request over the payload limit is refused whole (RequestPayloadSizeLimitExceeded); under it passes", async () => {
  const host = createExcel({ book: book() });
  const rows = Array.from({ length: 100000 }, (_, i) => [`customer-${i}`, i * 1.5, "some longer text to make the row heavy", i]);
  await refused(
    host.Excel.run(async (c) => {
      c.workbook.worksheets.getItem("Summary").getRange(`A1:D${rows.length}`).values = rows;
    }),
    "RequestPayloadSizeLimitExceeded",
  );
  assert.deepStrictEqual(host.snapshot().sheets[1].cells, {}, "nothing of the request ran");
  assert.ok(host.stats.largestRequest > 5 * 1024 * 1024);
  await host.Excel.run(async (c) => {
    c.workbook.worksheets.getItem("Summary").getRange("A1:D30000").values = rows.slice(0, 30000);
  });
  assert.strictEqual(host.snapshot().sheets[1].cells.A30000.value, "customer-29999");
});

test("rule 5: a response over the limit is refused (ResponsePayloadSizeLimitExceeded); the limit is an option", async () => {
  const host = createExcel({ book: book(), payloadLimit: 2000 });
  await host.Excel.run(async (c) => {
    c.workbook.worksheets.getItem("Summary").getRange("A1:A200").values = Array.from({ length: 200 }, (_, i) => [i]);
  });
  await refused(
    host.Excel.run(async (c) => {
      c.workbook.worksheets.getItem("Summary").getRange("A1:A200").load("values, numberFormat");
    }),
    "ResponsePayloadSizeLimitExceeded",
  );
  await host.Excel.run(async (c) => {
    c.workbook.worksheets.getItem("Summary").getRange("A1:A20").load("values");
  });
});

// ---------------------------------------------------------------- rule 6

test("rule 6: a call above the declared ExcelApi fails with ApiNotFound; isSetSupported answers the same", async () => {
  const host = createExcel({ book: book(), excelApi: "1.9" });
  assert.strictEqual(host.Office.context.requirements.isSetSupported("ExcelApi", "1.9"), true);
  assert.strictEqual(host.Office.context.requirements.isSetSupported("ExcelApi", "1.10"), false);
  assert.strictEqual(host.Office.context.requirements.isSetSupported("ExcelApi", 1.4), true);
  await refused(
    host.Excel.run(async (c) => {
      // Range.getMergedAreasOrNullObject: [Api set: ExcelApi 1.13]
      c.workbook.worksheets.getItem("Sales").getRange("A1:B2").getMergedAreasOrNullObject().load("address");
    }),
    "ApiNotFound",
  );
  const older = createExcel({ book: book(), excelApi: "1.7" });
  await refused(
    older.Excel.run(async (c) => {
      c.workbook.worksheets.getItem("Sales").showGridlines = false; // Worksheet.showGridlines: ExcelApi 1.8
    }),
    "ApiNotFound",
  );
  await refused(
    older.Excel.run(async (c) => {
      c.workbook.worksheets.getItem("Sales").pageLayout.setPrintArea("A1:B3"); // PageLayout: ExcelApi 1.9
    }),
    "ApiNotFound",
  );
  // the good case: the same calls on 1.9
  await host.Excel.run(async (c) => {
    const sheet = c.workbook.worksheets.getItem("Sales");
    sheet.showGridlines = false;
    sheet.pageLayout.setPrintArea("A1:B3");
    sheet.freezePanes.freezeRows(1);
  });
  const sales = host.snapshot().sheets[0];
  assert.deepStrictEqual([sales.showGridlines, sales.printArea, sales.freezePanes], [false, "A1:B3", { rows: 1, columns: 0 }]);
  assert.strictEqual(host.stats.apiNeeds["PageLayout.setPrintArea"], "ExcelApi 1.9");
});

// ---------------------------------------------------------------- rule 7

test("rule 7: merging cells of a table is refused; merging elsewhere passes", async () => {
  const host = createExcel({ book: book() });
  await host.Excel.run(async (c) => {
    c.workbook.worksheets.getItem("Sales").tables.add("A1:B3", true);
  });
  await refused(host.Excel.run(async (c) => c.workbook.worksheets.getItem("Sales").getRange("B3:C3").merge(false)), "InvalidOperation");
  await host.Excel.run(async (c) => c.workbook.worksheets.getItem("Sales").getRange("D1:E2").merge(true));
  assert.deepStrictEqual(host.snapshot().sheets[0].merged, ["D1:E1", "D2:E2"]);
});

// ---------------------------------------------------------------- the whole snapshot

test("snapshot: formats, widths, validation, freeze panes, chart, print area, names", async () => {
  const host = createExcel({ book: book() });
  await host.Excel.run(async (c) => {
    const s = c.workbook.worksheets.getItem("Sales");
    const head = s.getRange("A1:B1");
    head.format.font.bold = true;
    head.format.font.italic = true;
    head.format.font.size = 12;
    head.format.font.color = "#FFFFFF";
    head.format.fill.color = "#1F4E78";
    head.format.wrapText = true;
    head.format.horizontalAlignment = "Center";
    head.format.verticalAlignment = "Top";
    s.getRange("A:A").format.columnWidth = 120;
    s.getRange("1:1").format.rowHeight = 30;
    s.getRange("B2:B3").numberFormat = [["#,##0"], ["#,##0"]];
    s.getRange("C2:C3").dataValidation.rule = { list: { source: "VIP,Other", inCellDropDown: true } };
    s.freezePanes.freezeAt(s.getRange("A1"));
    const chart = s.charts.add("Pie", s.getRange("A1:B3"), "Columns");
    chart.name = "amounts";
    chart.title.text = "Amounts";
    chart.top = 10;
    chart.left = 300;
    c.workbook.worksheets.getItem("Summary").activate();
  });
  const snap = host.snapshot();
  const sales = snap.sheets[0];
  assert.deepStrictEqual(sales.cells.A1, {
    value: "customer", bold: true, italic: true, size: 12, color: "#FFFFFF", fill: "#1F4E78",
    wrapText: true, horizontalAlignment: "Center", verticalAlignment: "Top",
  });
  assert.deepStrictEqual(sales.cells.B2, { value: 10, numberFormat: "#,##0" });
  assert.deepStrictEqual(sales.columnWidths, { A: 120 });
  assert.deepStrictEqual(sales.rowHeights, { 1: 30 });
  assert.deepStrictEqual(sales.dataValidations.map(({ rule, ...dv }) => dv), [{ range: "C2:C3", type: "List", source: "VIP,Other", inCellDropDown: true }]);
  assert.deepStrictEqual(sales.freezePanes, { rows: 1, columns: 1 });
  assert.deepStrictEqual(sales.charts[0], {
    name: "amounts", title: "Amounts", type: "Pie", source: "Sales!$A$1:$B$3", seriesBy: "Columns", xAxisValues: [],
    position: { left: 300, top: 10, width: 360, height: 216 }, anchor: null, style: null,
  });
  assert.strictEqual(snap.activeSheet, "Summary");
  await refused(host.Excel.run(async (c) => c.workbook.worksheets.getItem("Sales").charts.add("NoSuchChart", "A1:B3")), "InvalidArgument");
});

// ---------------------------------------------------------------- xlwings Server's own client

const action = (func, args, extra = {}) => ({
  func, args, values: null, sheet_position: 1, start_row: 0, start_column: 0, row_count: 1, column_count: 1, ...extra,
});

const ACTIONS = [
  action("addSheet", [1, "Tiers"], { sheet_position: 0 }),
  action("setValues", [], { values: [["customer", "tier"], ["a", "VIP"], ["b", "Other"]], row_count: 3, column_count: 2 }),
  action("addTable", ["A1:B3", true, "TableStyleMedium9", "tbCustomers"]),
  action("setFormula", [], { values: [['=COUNTIFS(tbCustomers[[tier]],"VIP")']], start_column: 3 }),
  action("setNumberFormat", ["0"], { start_column: 3 }),
  action("addChart", ["tierChart", "ColumnClustered", "Tiers", "A1:B3", null, null, null, null, null, "F2", null]),
];

test("xlwings runActions under the stand-in gives the expected workbook, and counts its round trips", async (t) => {
  const host = createExcel({ book: { sheets: [{ name: "Sales", values: [["customer", "amount"], ["a", 1]] }] } });
  const xlwings = await loadXlwings(host);
  await xlwings.runActions({ actions: ACTIONS });
  const tiers = host.snapshot().sheets[1];
  assert.strictEqual(tiers.name, "Tiers");
  assert.deepStrictEqual(tiers.cells.D1, { formula: '=COUNTIFS(tbCustomers[[tier]],"VIP")', value: null, numberFormat: "0" });
  assert.deepStrictEqual(tiers.tables.map((x) => [x.name, x.address, x.style]), [["tbCustomers", "A1:B3", "TableStyleMedium9"]]);
  assert.deepStrictEqual(tiers.charts.map((x) => [x.name, x.type, x.source, x.anchor.start]), [["tierChart", "ColumnClustered", "Tiers!$A$1:$B$3", "F2"]]);
  const { syncs, requestBytes, responseBytes, maxExcelApi } = host.stats;
  t.diagnostic(`runActions: ${ACTIONS.length} actions, ${syncs} syncs (${(syncs / ACTIONS.length).toFixed(1)} per action), ${requestBytes} request bytes, ${responseBytes} response bytes, needs ExcelApi ${maxExcelApi}`);
  assert.ok(syncs >= ACTIONS.length, `about two syncs an action: ${syncs}`);
  assert.ok(syncs <= 3 * ACTIONS.length, `about two syncs an action: ${syncs}`);
});

test("xlwings runActions with the formula before its table is refused, as Excel refuses it", async () => {
  const host = createExcel({ book: { sheets: [{ name: "Sales", values: [["customer", "amount"]] }] } });
  const xlwings = await loadXlwings(host);
  const reversed = [ACTIONS[0], ACTIONS[1], ACTIONS[3], ACTIONS[2]];
  await assert.rejects(xlwings.runActions({ actions: reversed }), (error) => {
    assert.strictEqual(error.code, "action_failed");
    assert.strictEqual(error.actionFunc, "setFormula");
    assert.strictEqual(error.cause.code, "InvalidArgument");
    return true;
  });
  const tiers = host.snapshot().sheets[1];
  assert.deepStrictEqual(tiers.tables, [], "the actions after the refused one did not run");
});

test("xlwings getBookData and getRangeValues run under the stand-in on ExcelApi 1.9", async (t) => {
  const host = createExcel({ excelApi: "1.9", book: { sheets: [{ name: "Sales", values: [["customer", "date"], ["a", "2024-01-05"]] }] } });
  const xlwings = await loadXlwings(host);
  const payload = await xlwings.getBookData({ lazy: true });
  assert.deepStrictEqual(payload.sheets.map((s) => [s.name, s.used_range_address]), [["Sales", "A1:B2"]]);
  assert.deepStrictEqual(await xlwings.getRangeValues("Sales", "A1:B2"), [["customer", "date"], ["a", "2024-01-05T00:00:00.000Z"]]);
  t.diagnostic(`getBookData + getRangeValues: ${host.stats.syncs} syncs, need ExcelApi ${host.stats.maxExcelApi}`);
  assert.ok(host.stats.maxExcelApi === "1.9" || host.stats.maxExcelApi < "1.9");
});

test("the ExcelApi version the calls of tierbook's ribbon path need (reported)", async (t) => {
  const host = createExcel({ book: book() });
  const xlwings = await loadXlwings(host);
  await xlwings.getBookData({ lazy: true });
  await xlwings.getRangeValues("Sales", "A1:B3");
  const reading = host.stats.apiNeeds;
  t.diagnostic(`getBookData + getRangeValues on the newest Excel: ExcelApi ${host.stats.maxExcelApi} (notes, 1.18, only where isSetSupported says so; 1.9 otherwise)`);
  host.resetStats();
  const all = [
    ...ACTIONS,
    action("setFontProperty", ["bold", true]),
    action("setRangeColor", ["#FFC7CE"]),
    action("setWrapText", [true]),
    action("setHorizontalAlignment", ["Center"]),
    action("setVerticalAlignment", ["Top"]),
    action("setColumnWidth", [80]),
    action("setRowHeight", [20]),
    action("rangeMerge", [false], { start_column: 8, column_count: 2 }),
    action("addConditionalFormat", [{ type: "Custom", formula: "=$B2=\"VIP\"", font_color: "#9C0006", fill_color: "#FFC7CE", font_bold: true }], { start_row: 1, row_count: 2, column_count: 2 }),
    action("setDataValidationList", [{ type: "literal", values: ["VIP", "Other"] }, true], { start_row: 1, start_column: 1, row_count: 2 }),
    action("freezePaneAtRange", ["A1"]),
    action("setPrintArea", ["A1:D3"]),
    action("setShowGridlines", [false]),
    action("namesAdd", ["vipCount", "=Tiers!$D$1"], { sheet_position: null }),
    action("setChartXAxisValues", [0, "Tiers", "A2:A3"]),
    action("activateSheet", [1]),
    action("nameDelete", [null, null, "vipCount", null, true, 0]),
    action("sheetDelete", [], { sheet_position: 0 }),
  ];
  await xlwings.runActions({ actions: all });
  const needs = Object.entries(host.stats.apiNeeds).filter(([, v]) => v !== "ExcelApi 1.1");
  void reading;
  t.diagnostic(`runActions of ${all.length} actions: highest ExcelApi needed ${host.stats.maxExcelApi}; members above 1.1: ${needs.map(([k, v]) => `${k} ${v.replace("ExcelApi ", "")}`).join(", ")}`);
  const snap = host.snapshot();
  assert.deepStrictEqual(snap.sheets.map((s) => s.name), ["Tiers", "Summary"]);
  assert.deepStrictEqual(snap.sheets[0].conditionalFormats.map((c) => [c.range, c.formula, c.bold]), [["A2:B3", '=$B2="VIP"', true]]);
  assert.deepStrictEqual(snap.sheets[0].dataValidations.map((d) => [d.range, d.source]), [["B2:B3", "VIP,Other"]]);
  assert.deepStrictEqual(snap.sheets[0].charts[0].xAxisValues, ["Tiers!$A$2:$A$3"]);
  assert.deepStrictEqual(snap.names, []);
  // and all of it runs on the ExcelApi the calls need, and not on the one below
  assert.strictEqual(host.stats.maxExcelApi, "1.9");
  const exact = createExcel({ book: book(), excelApi: "1.9" });
  const onExact = await loadXlwings(exact);
  await onExact.getBookData({ lazy: true });
  await onExact.runActions({ actions: all });
  const below = createExcel({ book: book(), excelApi: "1.8" });
  await assert.rejects((await loadXlwings(below)).runActions({ actions: all }), (e) => e.cause && e.cause.code === "ApiNotFound");
});
