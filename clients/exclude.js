'use strict';
// Reads an exclusion list (clients/exclude-*.txt) for clients/run.sh.
//
// Format: one pattern per line, `PATTERN  # REASON`. A pattern is a literal
// substring of a test's full title (mocha's fullTitle(): the describe titles
// and the it title joined by spaces). Every pattern must carry a reason.
// Blank lines and lines starting with `#` are ignored.
//
//   node exclude.js regex FILE...   prints one regular expression for
//                                   `mocha --grep RE --invert` matching every
//                                   pattern of every FILE (empty output when
//                                   the lists are empty)

const fs = require('fs');

function parseExcludeFile(file) {
  if (!file) return [];
  const out = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = line.search(/\s#\s/);
    if (at < 0 || line.slice(at).replace(/^\s#\s/, '').trim() === '') {
      throw new Error(`${file}:${i + 1}: pattern without a "# reason" comment: ${line}`);
    }
    out.push({ pattern: line.slice(0, at).trim(), reason: line.slice(at).replace(/^\s#\s/, '').trim() });
  });
  return out;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function toRegex(patterns) {
  return patterns.map((p) => escapeRe(p.pattern)).join('|');
}

module.exports = { parseExcludeFile, toRegex };

if (require.main === module) {
  const [cmd, ...files] = process.argv.slice(2);
  if (cmd !== 'regex' || files.length === 0) {
    console.error('usage: node exclude.js regex FILE...');
    process.exit(2);
  }
  try {
    process.stdout.write(toRegex([].concat(...files.map(parseExcludeFile))));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
}
