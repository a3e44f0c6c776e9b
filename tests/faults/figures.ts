// The faults suite's record: the figures each test measured, the secret scan, and the summary table that
// summary.test.ts prints after the whole run.
import { FAKE_CREDENTIALS } from "../../testing/credentials";

// ---------------------------------------------------------------------------------------------------------------
// Figures: each test records what it measured; summary.test.ts prints them after the whole run.

/**
 * completed; refused: the key state allows no change and the provider says so in plain words (as designed);
 * clear error: failed naming the KMS operation, the key and the cause; unclear error: failed, but the message does
 * not say plainly what happened; unexplained: a wrong result (a lost, duplicated or misreported key).
 */
export type Outcome = "completed" | "refused" | "clear error" | "unclear error" | "unexplained";

export interface MatrixCell {
  operation: string;
  kind: string;
  /** Outcome under a burst of faults (every KMS call fails twice, then answers). */
  burst?: Outcome;
  /** Outcome under a fault on the operation's main KMS call that never stops. */
  persistent?: Outcome;
  /** Seconds the cell took (both modes), for the record only. */
  seconds: number;
}

export const figures = {
  matrix: [] as MatrixCell[],
  matrixSeconds: undefined as number | undefined,
  /** One error message per fault kind, as the provider words it. */
  sampleErrors: new Map<string, string>(),
  orphans: {} as { provider?: number; engine?: number },
  recreated: {} as { provider?: number; engine?: number },
  sigkill: undefined as
    | {
        keys: number;
        cancelledBeforeKill: number;
        pendingAtKill: number;
        killed: string;
        survivors: number;
        pendingOperations: string;
        lockMessage: string;
        recovery: string;
        converged: boolean;
        duplicates: number;
        leftPendingDeletion: number;
        createKeyCalls: number;
        seconds: number;
      }
    | undefined,
  throttling: undefined as
    | {
        keys: number;
        quota: number;
        parallel: number;
        seconds: number;
        throttled: number;
        requests: number;
        byOperation: Record<string, { calls: number; throttled: number }>;
        recovered: number;
        errorsShown: number;
        retrySettings: string;
      }
    | undefined,
  badInput: undefined as
    | {
        rows: number;
        rejectedByProvider: number;
        rejectedByEngine: number;
        references: number;
        referencesRejectedByProvider: number;
        referencesRejectedByEngine: number;
        apiCallsProvider: number;
        apiCallsEngine: number;
        engineMessages: string[];
        importMessages: string[];
      }
    | undefined,
  insecureEndpoint: undefined as { refused: number; accepted: number; apiCallsWhileRefused: number } | undefined,
  /** Targeted CreateKey cases: keys KMS holds that nothing tracks, per case. */
  createCases: [] as { name: string; keys: number; orphans: number; outcome: string }[],
  notes: [] as string[],
};

// ---------------------------------------------------------------------------------------------------------------
// Secret scan: every text the suite collects (engine output, exported state, error messages) is searched for the
// distinctive fake credentials of testing/credentials.ts.

export const SECRET_VALUES: readonly string[] = Object.values(FAKE_CREDENTIALS);

const secretScan = {
  texts: 0,
  bytes: 0,
  sources: new Set<string>(),
  hits: [] as string[],
};

/** Searches `text` for the fake credentials; records the search and returns the ones found (the test asserts none). */
export function scanForSecrets(source: string, text: string): string[] {
  secretScan.texts += 1;
  secretScan.bytes += Buffer.byteLength(text, "utf8");
  secretScan.sources.add(source);
  const found = SECRET_VALUES.filter((secret) => text.includes(secret));
  for (const secret of found) secretScan.hits.push(`${source}: ${secret.slice(0, 6)}...`);
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// The summary table

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

const SHORT: Record<Outcome, string> = {
  completed: "ok",
  refused: "refused",
  "clear error": "err",
  "unclear error": "ERR?",
  unexplained: "UNEXPLAINED",
};

export function summaryLines(): string[] {
  const lines: string[] = [];
  const rule = "=".repeat(100);
  lines.push(rule, "FAULTS, THROTTLING AND BAD INPUT: SUMMARY", rule);

  if (figures.matrix.length > 0) {
    const kinds = [...new Set(figures.matrix.map((c) => c.kind))];
    const operations = [...new Set(figures.matrix.map((c) => c.operation))];
    lines.push(
      "",
      "Fault matrix (provider level, KmsKeyProvider against moto behind the key-state/fault proxy).",
      "Each cell: burst / persistent. burst = the first two requests to every KMS API the operation uses fail, then it answers;",
      "persistent = the operation's main call fails every time (accessDenied: one run, the main call denied).",
      "ok = completed; refused = the key state allows no change, said in plain words (as designed);",
      "err = failed with a clear error naming the operation, the key and the cause;",
      "ERR? = failed, but the message does not say plainly what happened.",
      "",
    );
    const opWidth = Math.max(...operations.map((o) => o.length)) + 2;
    const colWidth = Math.max(...kinds.map((k) => k.length), "refused/refused".length) + 2;
    lines.push(pad("operation", opWidth) + kinds.map((k) => pad(k, colWidth)).join(""));
    lines.push("-".repeat(opWidth + colWidth * kinds.length));
    for (const operation of operations) {
      let line = pad(operation, opWidth);
      for (const kind of kinds) {
        const cell = figures.matrix.find((c) => c.operation === operation && c.kind === kind);
        const text = !cell
          ? "-"
          : [cell.burst, cell.persistent]
              .filter((o): o is Outcome => o !== undefined)
              .map((o) => SHORT[o])
              .join("/");
        line += pad(text, colWidth);
      }
      lines.push(line.trimEnd());
    }
    const all = figures.matrix.flatMap((c) => [c.burst, c.persistent]).filter((o) => o !== undefined);
    const count = (o: Outcome) => all.filter((x) => x === o).length;
    lines.push(
      "",
      `Runs: ${all.length}; completed ${count("completed")}, refused as designed ${count("refused")}, ` +
        `clear error ${count("clear error")}, unclear error ${count("unclear error")}, unexplained ${count("unexplained")}` +
        (figures.matrixSeconds !== undefined ? `; ${figures.matrixSeconds.toFixed(1)} s in all` : ""),
    );
    if (figures.sampleErrors.size > 0) {
      lines.push("", "What a persistent fault looks like to the user (one message per fault kind):");
      for (const [kind, message] of figures.sampleErrors) lines.push(`  ${pad(kind, 18)} ${message}`);
    }
  }

  lines.push("", "Keys");
  const show = (n: number | undefined) => (n === undefined ? "not measured" : String(n));
  lines.push(
    `  orphaned keys (in KMS, tracked nowhere): fault matrix ${show(figures.orphans.provider)}; engine runs (SIGKILL and throttling stacks) ${show(figures.orphans.engine)}`,
    `  keys recreated while their deletion could be cancelled (CreateKey for a key that exists): fault matrix ${show(figures.recreated.provider)}; engine runs ${show(figures.recreated.engine)}`,
  );
  if (figures.createCases.length > 0)
    lines.push("  CreateKey whose outcome is unknown (one create each, its own region):");
  for (const c of figures.createCases) {
    lines.push(`    ${c.name}: keys in KMS ${c.keys}, untracked ${c.orphans}; ${c.outcome}`);
  }

  const k = figures.sigkill;
  lines.push("", "SIGKILL in the middle of recovering keys (pulumi up --refresh, real engine, file backend)");
  if (!k) lines.push("  not run");
  else {
    lines.push(
      `  keys pending deletion: ${k.keys}; CancelKeyDeletion answered before the kill: ${k.cancelledBeforeKill}; still pending at the kill: ${k.pendingAtKill}`,
      `  killed with SIGKILL: ${k.killed}; survivors: ${k.survivors}`,
      `  left behind: ${k.pendingOperations}`,
      `  next pulumi up --refresh: ${k.lockMessage}`,
      `  recovery: ${k.recovery}`,
      `  converged: ${k.converged ? "yes" : "NO"}; duplicate keys: ${k.duplicates}; keys left pending deletion: ${k.leftPendingDeletion}; CreateKey calls: ${k.createKeyCalls}; ${k.seconds.toFixed(1)} s`,
    );
  }

  const t = figures.throttling;
  lines.push("", "Throttling");
  if (!t) lines.push("  not run");
  else {
    lines.push(
      `  ${t.keys} keys pending deletion, one pulumi up --refresh --parallel ${t.parallel}, proxy quota ${t.quota} requests/s per operation (${t.retrySettings})`,
      `  recovered: ${t.recovered}/${t.keys}; errors shown to the user: ${t.errorsShown}; took ${t.seconds.toFixed(1)} s`,
      `  requests: ${t.requests}, throttled (proxy.faultsApplied().quota): ${t.throttled}`,
      "  per operation (calls / throttled): " +
        Object.entries(t.byOperation)
          .map(([op, n]) => `${op} ${n.calls}/${n.throttled}`)
          .join(", "),
    );
  }

  const b = figures.badInput;
  lines.push("", "Bad input");
  if (!b) lines.push("  not run");
  else {
    lines.push(
      `  invalid inputs: ${b.rows} rows; rejected by check() with the property named: ${b.rejectedByProvider}; through the engine (preview): ${b.rejectedByEngine}`,
      `  malformed key references: ${b.references}; rejected by the provider (check of the import option, and read): ${b.referencesRejectedByProvider}; import through the engine refused in preview: ${b.referencesRejectedByEngine}`,
      `  KMS API calls made for them: provider level ${b.apiCallsProvider}, engine ${b.apiCallsEngine}`,
      "  What the user sees (pulumi preview, one program per row; the engine stops at the first invalid resource):",
      ...b.engineMessages.map((m) => `    ${m}`),
      "  Import through the engine (new KmsKey(name, {}, { import: ref }), pulumi preview):",
      ...b.importMessages.map((m) => `    ${m}`),
    );
  }

  lines.push("", "Security");
  lines.push(
    `  credentials searched in ${secretScan.texts} texts (${(secretScan.bytes / 1024).toFixed(0)} KiB: ${[...secretScan.sources].sort().join(", ")}): found ${secretScan.hits.length}`,
  );
  for (const hit of secretScan.hits) lines.push(`    FOUND ${hit}`);
  const ie = figures.insecureEndpoint;
  lines.push(
    ie
      ? `  plain-http endpoint from the environment: refused ${ie.refused} times with the way out named (API calls meanwhile: ${ie.apiCallsWhileRefused}); accepted ${ie.accepted} times when explicitly allowed`
      : "  plain-http endpoint from the environment: not run",
  );

  if (figures.notes.length > 0) {
    lines.push("", "Notes");
    for (const note of figures.notes) lines.push(`  - ${note}`);
  }
  lines.push(rule);
  return lines;
}
