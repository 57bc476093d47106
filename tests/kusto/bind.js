#!/usr/bin/env node
// bind.js -- parse + bind KQL queries with Microsoft's Kusto.Language (Bridge.NET build,
// npm @kusto/language-service-next) against Log Analytics table schemas, and report
// each query's errors and output schema.
//
// Usage:  node bind.js TABLES.txt < queries.json > results.json
//   TABLES.txt   : one table a line, `Name (col:type, col:type, ...)`; `#` starts a comment
//                  (src/kql/log_analytics_tables.txt)
//   stdin        : a JSON array of query strings, or an object {"queries": [ ... ]}
//   stdout       : a JSON array, one entry per query, in input order:
//     {"ok": bool,                    // true iff no diagnostic of Severity "Error"
//      "kind": "table"|"scalar"|"none",   // what the query's result is
//      "open": bool,                  // table result whose columns are not statically known
//      "columns": [{"name": str, "type": str}],  // tabular result only, in order
//      "errors": [{"code": str, "message": str, "start": int, "length": int}]}
// Offsets are UTF-16 code-unit offsets into the query text (JavaScript string indices).
'use strict';
const fs = require('fs');

// bridge.js must be loaded first: it defines the globals Bridge, System (and others) on
// Node's `global`. Kusto.Language.Bridge.js then registers the global `Kusto` namespace.
// Neither module's exports are needed; everything is reached through globals.
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');

const K = global.Kusto.Language;
const Sym = K.Symbols;

// Turn any .NET IEnumerable (ReadOnlyCollection, SafeList, ...) into a JS array.
function toArray(enumerable) {
  const out = [];
  if (enumerable == null) return out;
  const e = global.Bridge.getEnumerator(enumerable);
  while (e.moveNext()) out.push(e.Current);
  return out;
}

// Build a GlobalState whose default database holds one TableSymbol per schema entry.
// TableSymbol.$ctor7 is the C# overload TableSymbol(string name, string schema, string description);
// Bridge.NET gives overloaded constructors numbered names ($ctor1, $ctor2, ... / ctor).
function buildGlobals(schemaPath) {
  const tables = fs.readFileSync(schemaPath, 'utf8').split('\n')
    .filter(line => line.trim() !== '' && !line.startsWith('#'))
    .map(line => {
      const space = line.indexOf(' ');
      return new Sym.TableSymbol.$ctor7(line.slice(0, space), line.slice(space + 1).trim(), null);
    });
  // DatabaseSymbol.ctor is DatabaseSymbol(string name, params Symbol[] members); a JS array is a .NET array.
  const db = new Sym.DatabaseSymbol.ctor('LogAnalytics', tables);
  return K.GlobalState.Default.WithDatabase(db);
}

// Analyze one query and convert the result to plain JSON.
function bindOne(text, globals) {
  let code;
  try {
    code = K.KustoCode.ParseAndAnalyze(text, globals);
  } catch (ex) {
    // Should not happen (the analyzer reports problems as diagnostics), but never crash the batch.
    const msg = ex && ex.Message ? ex.Message : String(ex);
    return { ok: false, kind: 'none', open: false, columns: [],
             errors: [{ code: 'EXCEPTION', message: msg, start: 0, length: 0 }] };
  }
  // GetDiagnostics() = syntax + semantic diagnostics. Severity is a string: "Error", "Warning", ...
  const errors = toArray(code.GetDiagnostics())
    .filter(d => d.Severity === 'Error')
    .map(d => ({ code: d.Code, message: d.Message, start: d.Start, length: d.Length }));

  // ResultType: a TableSymbol for tabular queries, a scalar TypeSymbol for expression-only
  // queries (e.g. `1+1`), or null when there is no result (e.g. only `let` statements).
  const rt = code.ResultType;
  let kind = 'none', open = false, columns = [];
  if (rt != null && global.Bridge.is(rt, Sym.TableSymbol)) {
    kind = 'table';
    open = !!rt.IsOpen; // e.g. after `evaluate bag_unpack(...)`: columns only known at run time
    // Type.Name is the Kusto type name; all dynamic sub-kinds (array/bag/any) report "dynamic".
    columns = toArray(rt.Columns).map(c => ({ name: c.Name, type: c.Type.Name }));
  } else if (rt != null) {
    kind = 'scalar';
  }
  return { ok: errors.length === 0, kind, open, columns, errors };
}

function main() {
  const schemaPath = process.argv[2];
  if (!schemaPath) {
    process.stderr.write('usage: node bind.js TABLES.txt < queries.json\n');
    process.exit(2);
  }
  const globals = buildGlobals(schemaPath);
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const queries = Array.isArray(input) ? input : input.queries;
  if (!Array.isArray(queries)) throw new Error('stdin must be a JSON array or {"queries": [...]}');
  const results = queries.map(q => bindOne(String(q), globals));
  process.stdout.write(JSON.stringify(results) + '\n');
}

main();
