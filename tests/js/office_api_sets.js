// The requirement set of every member of every class of the Excel JavaScript API, and its
// enums, read from Microsoft's own type declarations (@types/office-js, index.d.ts, the
// npm package pinned in package.json) when this module is first loaded.
//
// Each class and member there carries a doc comment with "@remarks [Api set: ExcelApi 1.x]"
// (or ExcelApiOnline / ExcelApiDesktop / ... ); that line is the source of rule 6 of
// tests/js/excel_standin.js. A member without its own line takes its class's set. Where a
// method is declared more than once (overloads), the lowest set of its declarations counts.
//
//   const { memberSet, enums, maxVersion } = require("./office_api_sets");
//   memberSet("Range", "getRangeByIndexes") // → { set: "ExcelApi", version: "1.1" }

const fs = require("fs");
const path = require("path");

function findTypes() {
  const candidates = [
    process.env.OFFICE_JS_TYPES,
    path.join(__dirname, "../../node_modules/@types/office-js/index.d.ts"),
  ].filter(Boolean);
  for (const file of candidates) if (fs.existsSync(file)) return file;
  throw new Error(
    "@types/office-js is not installed: run `npm ci` at the repository root (scripts/test.sh does)",
  );
}

function compareVersions(a, b) {
  const pa = String(a).split(".").map(Number);
  const pb = String(b).split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d !== 0) return d;
  }
  return 0;
}

const API_SET = /\[Api set: (\w+) (\d+(?:\.\d+)*)/;

function parse(text) {
  const start = text.indexOf("\ndeclare namespace Excel {");
  if (start < 0) throw new Error("no `declare namespace Excel` in the office-js types");
  const end = text.indexOf("\ndeclare namespace ", start + 10);
  const lines = text.slice(start, end < 0 ? undefined : end).split("\n");
  const classes = {}; // class → { set, members: { name → {set, version} } }
  const enums = {};
  let comment = null; // the last doc comment, as text
  let inComment = false;
  let commentLines = [];
  let current = null; // the class being read
  let currentEnum = null;
  for (const line of lines) {
    if (!inComment && /^\s*\/\*\*/.test(line)) {
      inComment = true;
      commentLines = [];
    }
    if (inComment) {
      commentLines.push(line);
      if (/\*\//.test(line)) {
        inComment = false;
        comment = commentLines.join("\n");
      }
      continue;
    }
    let m;
    if ((m = /^    (?:class|interface) (\w+)/.exec(line))) {
      const s = comment && API_SET.exec(comment);
      current = { set: s ? { set: s[1], version: s[2] } : null, members: {} };
      classes[m[1]] = current;
      currentEnum = null;
      comment = null;
      continue;
    }
    if ((m = /^    enum (\w+)/.exec(line))) {
      currentEnum = {};
      enums[m[1]] = currentEnum;
      current = null;
      comment = null;
      continue;
    }
    if (/^    \}/.test(line)) {
      current = null;
      currentEnum = null;
      continue;
    }
    if (currentEnum && (m = /^        (\w+) = "([^"]*)"/.exec(line))) {
      currentEnum[m[1]] = m[2];
      continue;
    }
    if (current && (m = /^        (?:readonly )?(\w+)\??(\(|:|<)/.exec(line))) {
      const s = comment && API_SET.exec(comment);
      const found = s ? { set: s[1], version: s[2] } : current.set;
      const before = current.members[m[1]];
      if (!before || (found && before.set === found.set && compareVersions(found.version, before.version) < 0)) {
        current.members[m[1]] = found;
      }
      comment = null;
    }
  }
  return { classes, enums };
}

const typesFile = findTypes();
const { classes, enums } = parse(fs.readFileSync(typesFile, "utf8"));

/** {set, version} of CLASS.MEMBER (the class's own set when the member has none); null when unknown. */
function memberSet(className, member) {
  const cls = classes[className];
  if (!cls) return null;
  return cls.members[member] || cls.set;
}

/** The highest version of SET ("ExcelApi") that any member names. */
function maxVersion(set = "ExcelApi") {
  let max = "1.1";
  for (const cls of Object.values(classes)) {
    for (const s of [cls.set, ...Object.values(cls.members)]) {
      if (s && s.set === set && compareVersions(s.version, max) > 0) max = s.version;
    }
  }
  return max;
}

module.exports = { typesFile, classes, enums, memberSet, maxVersion, compareVersions };
