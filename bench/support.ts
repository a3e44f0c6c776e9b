// Small pieces every part of the benchmark shares: timing, the local KMS, per-operation counts.
import { KMSClient } from "@aws-sdk/client-kms";
import { useFakeCredentials } from "../testing/credentials";
import { outOfBand } from "../testing/kms/out-of-band";
import { CallLogEntry, KmsProxy } from "../testing/kms/proxy";
import { startKmsServerWithProxy } from "../testing/kms/server";

export type LocalKms = Awaited<ReturnType<typeof startKmsServerWithProxy>> & {
  /** Straight to moto: out-of-band changes and checks that spend no quota and are not counted. */
  direct: KMSClient;
};

/** moto behind the counting proxy, with the provider in this process pointed at the proxy. */
export async function startLocalKms(): Promise<LocalKms> {
  useFakeCredentials();
  const kms = await startKmsServerWithProxy();
  process.env.AWS_ENDPOINT_URL_KMS = kms.endpoint;
  const direct = outOfBand(kms.server.endpoint);
  return {
    ...kms,
    direct,
    async stop() {
      direct.destroy();
      await kms.stop();
    },
  };
}

/** Seconds since `started` (performance.now()), to a tenth of a millisecond. */
export function secondsSince(started: number): number {
  return round((performance.now() - started) / 1000, 4);
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Requests per operation in a slice of the proxy's log. */
export function byOperation(log: readonly CallLogEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of log) counts[entry.operation] = (counts[entry.operation] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Requests the proxy refused for a quota since its counts were last reset. */
export function throttled(proxy: KmsProxy): number {
  return proxy.faultsApplied().quota ?? 0;
}

/** Prints rows as an aligned text table. */
export function table(title: string, header: string[], rows: (string | number | undefined)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => (cell === undefined ? "-" : String(cell))))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ");
  return [title, line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}
