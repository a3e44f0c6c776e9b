// `npm run bench [-- --quick]`: what each key costs in KMS calls, quota time, engine time, memory and state, against
// the floors, in one run against moto through the counting proxy. Prints tables; writes bench/results.json.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { measureCalls } from "./calls";
import { CALL_FLOORS, Phase, PHASES } from "./floors";
import {
  EngineBench,
  engineRow,
  EngineRow,
  FamilyRow,
  familyRows,
  QuotaRow,
  quotaRows,
  QuotaSummary,
  summarizeQuotaRows,
} from "./engine";
import { compareWithRawSdk, RawSdkResult } from "./raw-sdk";
import {
  FAMILY_HEADER,
  familyCells,
  markdownReport,
  QUOTA_HEADER,
  quotaCells,
  QUOTA_SUMMARY_HEADER,
  quotaSummaryCells,
} from "./report";
import { RetryStudyRow, studyRetries } from "./retry-study";
import { round, startLocalKms, table } from "./support";
import { REPO_ROOT } from "../testing/repo";

/** The parts of the benchmark, in the order they run; --only picks some. */
const PARTS = ["calls", "raw-sdk", "retry", "engine", "quota", "family"] as const;
type Part = (typeof PARTS)[number];

/** The sizes of each part: --quick keeps every figure with small N (CI runs it). */
interface BenchPlan {
  quick: boolean;
  callsKeys: number;
  rawSdkKeys: number;
  retryStudy: { keys: number; modes: string[]; parallel: (number | "unbounded")[] };
  /** Keys per stack for the engine scaling rows (no quotas). */
  e2eKeys: number[];
  /** Keys per stack for the quota-time rows (with and without AWS's quotas), and how many runs of each. */
  quotaKeys: number[];
  quotaRuns: number;
  /** Key families (primary, replica, alias) per stack for the family rows (with and without AWS's quotas). */
  families: number[];
}

const FULL: BenchPlan = {
  quick: false,
  callsKeys: 20,
  rawSdkKeys: 30,
  retryStudy: { keys: 50, modes: ["adaptive", "standard"], parallel: ["unbounded", 16, 5] },
  e2eKeys: [10, 100, 500],
  quotaKeys: [50, 500],
  quotaRuns: 3,
  families: [50],
};

const QUICK: BenchPlan = {
  quick: true,
  callsKeys: 3,
  rawSdkKeys: 5,
  retryStudy: { keys: 10, modes: ["standard"], parallel: ["unbounded"] },
  e2eKeys: [5],
  quotaKeys: [5],
  quotaRuns: 1,
  families: [2],
};

export interface BenchResults {
  generatedAt: string;
  command: string;
  quick: boolean;
  seconds?: number;
  machine: { cpus: number; loadAverage: number[] };
  versions: Record<string, string>;
  /** KMS requests per key for each phase, and the same by operation. */
  calls: Record<Phase, number> & { keys: number; byOperation: Record<string, Record<string, number>> };
  quota: QuotaRow[];
  /** The median and worst ratio of each size's runs. */
  quotaSummary: QuotaSummary[];
  /** Key families under AWS's quotas: create, recover, destroy. */
  family: FamilyRow[];
  e2e: EngineRow[];
  rawSdkRatio: number;
  rawSdk: RawSdkResult;
  retryModes: RetryStudyRow[];
}

function versions(): Record<string, string> {
  const pkg = (name: string) =>
    (JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), "utf8")) as { version: string }).version;
  let moto = "unknown";
  try {
    moto = execFileSync(path.join(REPO_ROOT, ".venv", "bin", "python"), ["-c", "import moto; print(moto.__version__)"])
      .toString()
      .trim();
  } catch {
    // moto from elsewhere (MOTO_SERVER): its version is not known here
  }
  return {
    "pulumi-kms-key": pkg("pulumi-kms-key"),
    node: process.version,
    "@pulumi/pulumi": pkg("@pulumi/pulumi"),
    "@aws-sdk/client-kms": pkg("@aws-sdk/client-kms"),
    moto,
  };
}

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

function parseOut(value: string): string {
  if (!value.endsWith(".json")) throw new InvalidArgumentError(`--out must name a .json file; got ${value}`);
  return path.resolve(value);
}

async function main(argv: string[]): Promise<void> {
  const options = new Command("npm run bench --")
    .description("what each key costs in KMS calls, quota time, engine time, memory and state, against the floors")
    .option("--quick", "every figure with small N (CI runs it)")
    .addOption(new Option("--only <parts...>", "measure only these parts (default: all)").choices([...PARTS]))
    .option(
      "--out <file.json>",
      "where to write the results, and their Markdown beside them (bench/results.json)",
      parseOut,
    )
    .parse(argv, { from: "user" })
    .opts<{ quick?: true; out?: string; only?: Part[] }>();
  const wanted = (part: Part) => options.only === undefined || options.only.includes(part);
  const plan = options.quick ? QUICK : FULL;
  const started = performance.now();
  // A run of some parts only leaves bench/results.json (the figures of a whole run) as it is, unless --out says where.
  const file = options.out ?? (options.only ? undefined : path.join(REPO_ROOT, "bench", "results.json"));
  // Written after each part, so a run cut short still leaves what it measured.
  const save = () => {
    results.seconds = round((performance.now() - started) / 1000, 1);
    if (!file) return;
    fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    fs.writeFileSync(file.replace(/\.json$/, ".md"), markdownReport(results));
  };
  const kms = await startLocalKms();
  const results: Partial<BenchResults> = {
    generatedAt: new Date().toISOString(),
    command: `npm run bench${plan.quick ? " -- --quick" : ""}`,
    quick: plan.quick,
    machine: { cpus: os.cpus().length, loadAverage: os.loadavg().map((l) => round(l)) },
    versions: versions(),
  };
  try {
    if (wanted("calls")) {
      log(`KMS calls per key (${plan.callsKeys} keys, provider methods in engine order, no quota) ...`);
      const calls = await measureCalls(kms, plan.callsKeys);
      results.calls = {
        ...(Object.fromEntries(PHASES.map((p) => [p, calls[p].perKey])) as Record<Phase, number>),
        keys: calls.keys,
        byOperation: Object.fromEntries(PHASES.map((p) => [p, calls[p].byOperation])),
      };
      log(
        table(
          ["phase", "calls/key", "floor", "by operation"],
          PHASES.map((p) => [
            p,
            calls[p].perKey,
            CALL_FLOORS[p].calls,
            Object.entries(calls[p].byOperation)
              .map(([op, n]) => `${op} ${n}`)
              .join(", "),
          ]),
        ),
      );
    }
    if (wanted("raw-sdk")) {
      log(`\nProvider against the raw SDK (${plan.rawSdkKeys} keys each, taking turns) ...`);
      const raw = await compareWithRawSdk(kms, plan.rawSdkKeys);
      results.rawSdk = raw;
      results.rawSdkRatio = raw.ratio;
      log(
        table(
          ["step", "provider s", "raw SDK s", "ratio"],
          [
            ...Object.entries(raw.steps).map(([step, s]) => [step, s.provider, s.rawSdk, round(s.provider / s.rawSdk)]),
            ["total", raw.providerSeconds, raw.rawSdkSeconds, raw.ratio],
          ],
        ),
      );
    }
    if (wanted("retry")) {
      log(
        `\nRetry mode and parallelism under AWS's quotas (${plan.retryStudy.keys} keys, provider host processes) ...`,
      );
      results.retryModes = [];
      for (const mode of plan.retryStudy.modes) {
        for (const parallel of plan.retryStudy.parallel) {
          const row = await studyRetries(kms, plan.retryStudy.keys, mode, parallel);
          results.retryModes.push(row);
          log(`  ${JSON.stringify(row)}`);
        }
      }
      log(
        table(
          [
            "retry mode",
            "parallel",
            "keys",
            "create s",
            "throttled",
            "recover s",
            "throttled",
            "floor s",
            "errors",
            "ok",
          ],
          results.retryModes.map((r) => [
            r.retryMode,
            r.parallel,
            r.keys,
            r.createSeconds,
            r.createThrottled,
            r.recoverSeconds,
            r.recoverThrottled,
            r.floorSeconds,
            r.errors,
            `${r.recovered}/${r.keys}`,
          ]),
        ),
      );
    }
    save();
    log(
      `\nThe real engine in a project folder (${plan.e2eKeys.join(", ")} keys; quota time at ${plan.quotaKeys.join(", ")}) ...`,
    );
    const bench = await EngineBench.create(kms);
    try {
      results.versions = { ...results.versions, ...bench.versions() };
      results.e2e = [];
      for (const keys of wanted("engine") ? plan.e2eKeys : []) {
        const run = await bench.keysRun(keys, { quotas: false, full: true });
        const row = await engineRow(bench, keys, run);
        results.e2e.push(row);
        log(`  ${JSON.stringify(row)}`);
        save();
      }
      results.quota = [];
      for (const keys of wanted("quota") ? plan.quotaKeys : []) {
        for (let run = 1; run <= plan.quotaRuns; run++) {
          // Each run is a pair, without quotas then with them, so that both see the machine as it is then.
          const without = await bench.keysRun(keys, { quotas: false, full: false });
          const rows = quotaRows(keys, run, await bench.keysRun(keys, { quotas: true, full: false }), without);
          results.quota.push(...rows);
          for (const row of rows) log(`  ${JSON.stringify(row)}`);
          results.quotaSummary = summarizeQuotaRows(results.quota);
          save();
        }
      }
      results.family = [];
      for (const families of wanted("family") ? plan.families : []) {
        const without = await bench.familyRun(families, { quotas: false });
        const rows = familyRows(families, await bench.familyRun(families, { quotas: true }), without);
        results.family.push(...rows);
        for (const row of rows) log(`  ${JSON.stringify(row)}`);
        save();
      }
    } finally {
      await bench.cleanup();
    }
    log(
      table(
        [
          "keys",
          "up s",
          "refresh s",
          "recover s",
          "no-op up s",
          "destroy s",
          "no-op resources up s",
          "host MiB",
          "state B/key",
          "s/key up",
        ],
        results.e2e.map((r) => [
          r.keys,
          r.upSeconds,
          r.refreshSeconds,
          r.recoverSeconds,
          r.noopUpSeconds,
          r.destroySeconds,
          r.noopResourceUpSeconds,
          r.hostPeakMiB,
          r.stateBytesPerKey,
          r.perKey.up,
        ]),
      ),
    );
    log(table(QUOTA_HEADER, results.quota.map(quotaCells)));
    log(table(QUOTA_SUMMARY_HEADER, (results.quotaSummary ?? []).map(quotaSummaryCells)));
    log(table(FAMILY_HEADER, results.family.map(familyCells)));
  } finally {
    await kms.stop();
    save();
    log(`\n${results.seconds} s in all${file ? `; wrote ${file} and its .md (Markdown for bench/README.md)` : ""}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
