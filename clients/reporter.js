'use strict';
// Mocha reporter for clients/run.sh: prints mocha's own "spec" output (the
// human-readable log) and writes a machine-readable summary to the file named
// by RIAKGO_SUMMARY, so run.sh does not have to parse text.
//
// The summary counts, for one suite run:
//   all       tests defined by the loaded files (before the exclusion list)
//   planned   tests selected to run (all minus excluded)
//   excluded  tests matched by the exclusion list (RIAKGO_EXCLUDE_FILE:
//             features riakgo does not have)
//   broken    tests matched by the optional list RIAKGO_BROKEN_FILE (tests
//             that fail on this Node version whatever the server) and not
//             by the exclusion list
//   passed    tests whose final state is "passed"
//   failed    tests that failed, plus failed hooks, plus tests that never ran
//             because a hook of their suite failed (mocha skips them silently)
// It also checks both lists: every pattern must match at least one test
// title, so a list cannot hold stale entries, and excluded + broken must be
// exactly the tests mocha skipped (all - planned).
//
// Mocha is resolved from the working directory, where run.sh starts it.

const fs = require('fs');
const Mocha = require(require.resolve('mocha', { paths: [process.cwd()] }));
const Spec = Mocha.reporters.Spec;
const { parseExcludeFile } = require('./exclude.js');

class SummaryReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    const out = process.env.RIAKGO_SUMMARY;
    const state = new Map(); // test object -> 'passed' | 'failed' | 'pending' (titles may repeat)
    const hookFailures = [];
    const failures = []; // {title, kind, message}
    const allTitles = [];
    (function walk(suite) {
      suite.tests.forEach((t) => allTitles.push(t.fullTitle()));
      suite.suites.forEach(walk);
    })(runner.suite);

    runner.on('pass', (test) => {
      if (state.get(test) !== 'failed') state.set(test, 'passed');
    });
    runner.on('pending', (test) => state.set(test, 'pending'));
    runner.on('fail', (runnable, err) => {
      const message = err && (err.message || String(err));
      if (runnable.type === 'hook') {
        hookFailures.push(runnable.fullTitle());
        failures.push({ title: runnable.fullTitle(), kind: 'hook', message });
      } else {
        state.set(runnable, 'failed');
        failures.push({ title: runnable.fullTitle(), kind: 'test', message });
      }
    });
    runner.once('end', () => {
      let passed = 0;
      let failedTests = 0;
      let pending = 0;
      for (const s of state.values()) {
        if (s === 'passed') passed++;
        else if (s === 'failed') failedTests++;
        else pending++;
      }
      const planned = runner.total;
      const notRun = Math.max(0, planned - passed - failedTests - pending);
      const excludes = parseExcludeFile(process.env.RIAKGO_EXCLUDE_FILE || '');
      const brokens = parseExcludeFile(process.env.RIAKGO_BROKEN_FILE || '');
      const matches = (t, list) => list.some((p) => t.includes(p.pattern));
      const unmatched = excludes.concat(brokens)
        .filter((p) => !allTitles.some((t) => t.includes(p.pattern)))
        .map((p) => p.pattern);
      const excludedTitles = allTitles.filter((t) => matches(t, excludes));
      const brokenTitles = allTitles.filter((t) => !matches(t, excludes) && matches(t, brokens));
      const summary = {
        all: allTitles.length,
        planned,
        skipped: allTitles.length - planned,
        excluded: excludedTitles.length,
        excludedTitles,
        broken: brokenTitles.length,
        brokenTitles,
        passed,
        failedTests,
        failedHooks: hookFailures.length,
        notRun,
        pending,
        failed: failedTests + hookFailures.length + notRun,
        unmatchedExclusions: unmatched,
        failures,
      };
      if (out) fs.writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
    });
  }
}

module.exports = SummaryReporter;
