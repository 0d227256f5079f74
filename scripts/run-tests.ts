/**
 * Runs vitest and ends with the summary line `N passed, N failed, N skipped`.
 * Exit status: 0 only when nothing failed and at least one test ran.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface JsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
  testResults: { name: string; status: string; message: string }[];
}

const dir = mkdtempSync(join(tmpdir(), 'countersign-tests-'));
const out = join(dir, 'report.json');
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)];
const run = spawnSync('npx', args, { stdio: 'inherit', env: process.env });

let report: JsonReport | undefined;
try {
  report = JSON.parse(readFileSync(out, 'utf8')) as JsonReport;
} catch {
  report = undefined;
}
rmSync(dir, { recursive: true, force: true });

if (!report) {
  console.log(`0 passed, 1 failed`);
  console.error('test: vitest produced no report (exit status ' + String(run.status) + ')');
  process.exit(1);
}
// A file that fails to load has no tests in it; count it as a failure.
const brokenFiles = report.testResults.filter((r) => r.status === 'failed' && r.message).length;
const failed = report.numFailedTests + (report.numFailedTests === 0 ? brokenFiles : 0);
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`${report.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 && report.numPassedTests > 0 && run.status === 0 ? 0 : 1);
