// The results as Markdown tables: bench/results.md, ready to paste into the README's Performance section.
import { callFloorText, KEY_CALLS_PER_SECOND, PHASES } from "./floors";
import type { BenchResults } from "./index";

/** A quota row's columns and cells: the same in the printed table and in the Markdown one. */
export const QUOTA_HEADER = [
  "N",
  "step",
  "command",
  "run",
  "with quotas s",
  "without s",
  "floor s",
  "ratio",
  "lead s",
  "ratio bound",
  "throttled",
  "errors",
  "same ID + Enabled",
];

export function quotaCells(r: BenchResults["quota"][number]): (string | number)[] {
  return [
    r.keys,
    r.phase,
    `pulumi ${r.command}`,
    r.run,
    r.seconds,
    r.withoutQuotaSeconds,
    r.floorSeconds,
    r.ratio,
    r.leadSeconds,
    r.ratioBound,
    r.throttled,
    r.errors,
    `${r.sameAndEnabled}/${r.keys}`,
  ];
}

/** The summary's columns and cells: the median and the worst ratio of each size's runs. */
export const QUOTA_SUMMARY_HEADER = [
  "N",
  "step",
  "command",
  "runs",
  "median ratio",
  "worst ratio",
  "median ratio bound",
  "errors",
  "fewest same ID + Enabled",
];

export function quotaSummaryCells(r: BenchResults["quotaSummary"][number]): (string | number)[] {
  return [
    r.keys,
    r.phase,
    `pulumi ${r.command}`,
    r.runs,
    r.medianRatio,
    r.worstRatio,
    r.medianRatioBound,
    r.errors,
    `${r.sameAndEnabled}/${r.keys}`,
  ];
}

/** A family row's columns and cells: the same in the printed table and in the Markdown one. */
export const FAMILY_HEADER = [
  "N",
  "step",
  "with quotas s",
  "without s",
  "floor s",
  "ratio",
  "calls per resource",
  "throttled",
  "errors",
  "same ARNs + Enabled",
];

export function familyCells(r: BenchResults["family"][number]): (string | number)[] {
  return [
    r.families,
    r.phase,
    r.seconds,
    r.withoutQuotaSeconds,
    r.floorSeconds,
    r.ratio,
    r.callsPerResource,
    r.throttled,
    r.errors,
    `${r.sameAndEnabled}/${r.families}`,
  ];
}

function markdownTable(header: string[], rows: (string | number | undefined)[][]): string {
  const cell = (value: string | number | undefined) => (value === undefined ? "-" : String(value));
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ].join("\n");
}

export function markdownReport(results: Partial<BenchResults>): string {
  const parts: string[] = [];
  const v = results.versions ?? {};
  parts.push(
    `${results.command ?? "npm run bench"}, ${results.generatedAt ?? ""}: ${results.seconds ?? "?"} s on ` +
      `${results.machine?.cpus ?? "?"} CPUs (load ${results.machine?.loadAverage?.join(", ") ?? "?"}); ` +
      Object.entries(v)
        .map(([name, version]) => `${name} ${version}`)
        .join(", ") +
      ".",
  );
  if (results.calls) {
    const calls = results.calls;
    parts.push(
      `KMS calls per key (${calls.keys} keys; provider methods in the engine's order, counted at the proxy):\n\n` +
        markdownTable(
          ["step", "calls per key", "floor", "by operation"],
          PHASES.map((step) => [
            step,
            calls[step],
            callFloorText(step),
            Object.entries(calls.byOperation[step] ?? {})
              .map(([op, n]) => `${op} ${n}`)
              .join(", "),
          ]),
        ),
    );
  }
  if (results.family?.length) {
    parts.push(
      "Key families: N multi-Region primaries, each with a replica in a second Region and an alias, made by one " +
        "`pulumi up`, every key scheduled for deletion behind the program's back and recovered by one `pulumi up --refresh`, " +
        "then destroyed; under AWS's default quotas (per Region; ReplicateKey counts as two CreateKey in the replica's " +
        "Region) and without; floor = the slowest quota bucket of the phase's calls; ratio = seconds / max(floor, " +
        "seconds without quotas):\n\n" +
        markdownTable(FAMILY_HEADER, results.family.map(familyCells)) +
        "\n\nCalls per family, by operation: " +
        results.family
          .map(
            (r) =>
              `${r.phase}: ${Object.entries(r.byOperation)
                .map(([op, n]) => `${op} ${n}`)
                .join(", ")}`,
          )
          .join("; ") +
        ".",
    );
  }
  if (results.quota?.length) {
    parts.push(
      "Quota time: one `pulumi up` creating N keys, then all scheduled for deletion and recovered by each command in " +
        `turn, under AWS's default quotas and without; ratio = seconds / max(N / ${KEY_CALLS_PER_SECOND}, seconds ` +
        "without quotas); lead = the seconds before the first quota-bound request (`CreateKey`, `CancelKeyDeletion`) in " +
        `the run without quotas; ratio bound = (lead + (N - ${KEY_CALLS_PER_SECOND}) / ${KEY_CALLS_PER_SECOND}) / ` +
        "the same denominator:\n\n" +
        markdownTable(QUOTA_HEADER, results.quota.map(quotaCells)) +
        "\n\nThe median and the worst of each size's runs:\n\n" +
        markdownTable(QUOTA_SUMMARY_HEADER, (results.quotaSummary ?? []).map(quotaSummaryCells)),
    );
  }
  if (results.e2e?.length) {
    parts.push(
      "The real engine in a project folder, no quotas (seconds; per key in brackets):\n\n" +
        markdownTable(
          [
            "N",
            "up",
            "refresh",
            "up --refresh (recover)",
            "no-op up",
            "destroy",
            "up of N no-op resources",
            "host peak MiB",
            "state bytes per key",
          ],
          results.e2e.map((r) => [
            r.keys,
            `${r.upSeconds} (${r.perKey.up})`,
            `${r.refreshSeconds} (${r.perKey.refresh})`,
            `${r.recoverSeconds} (${r.perKey.recover})`,
            `${r.noopUpSeconds} (${r.perKey.noopUp})`,
            `${r.destroySeconds} (${r.perKey.destroy})`,
            `${r.noopResourceUpSeconds} (${r.perKey.noopResourceUp})`,
            r.hostPeakMiB,
            r.stateBytesPerKey,
          ]),
        ),
    );
  }
  if (results.rawSdk) {
    const raw = results.rawSdk;
    parts.push(
      `Provider against a plain @aws-sdk/client-kms script making the floor's calls (${raw.keys} keys each, taking ` +
        `turns): ratio **${raw.ratio}** (${raw.providerSeconds} s against ${raw.rawSdkSeconds} s; ` +
        Object.entries(raw.steps)
          .map(([step, s]) => `${step} ${s.provider} / ${s.rawSdk}`)
          .join(", ") +
        ").",
    );
  }
  if (results.retryModes?.length) {
    parts.push(
      "Retry mode and parallelism, provider host processes calling the provider as the engine does, AWS's quotas:\n\n" +
        markdownTable(
          ["retry mode", "parallel", "N", "create s", "throttled", "recover s", "throttled", "floor s", "errors"],
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
          ]),
        ),
    );
  }
  return `${parts.join("\n\n")}\n`;
}

// `node dist/bench/report.js [bench/results.json]` writes the .md beside a results file again.
if (require.main === module) {
  const fs = require("node:fs") as typeof import("node:fs");
  const file = process.argv[2] ?? "bench/results.json";
  const results = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<BenchResults>;
  fs.writeFileSync(file.replace(/\.json$/, ".md"), markdownReport(results));
}
