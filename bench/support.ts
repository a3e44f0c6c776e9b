// Small pieces every part of the benchmark shares: timing, the local KMS, per-operation counts.
import { KMSClient } from "@aws-sdk/client-kms";
import Table from "cli-table3";
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

/** Plain columns, two spaces apart, a rule under the header: the tables `npm run bench` prints. */
const PLAIN: Table.TableConstructorOptions = {
  chars: {
    top: "",
    "top-mid": "",
    "top-left": "",
    "top-right": "",
    bottom: "",
    "bottom-mid": "",
    "bottom-left": "",
    "bottom-right": "",
    left: "",
    "left-mid": "",
    mid: "-",
    "mid-mid": "  ",
    right: "",
    "right-mid": "",
    middle: "  ",
  },
  style: { head: [], border: [], compact: true, "padding-left": 0, "padding-right": 0 },
};

/** Rows as a table, after a blank line; a missing figure shows as "-". */
export function table(header: string[], rows: (string | number | undefined)[][]): string {
  const printed = new Table({ ...PLAIN, head: header });
  printed.push(...rows.map((row) => row.map((cell) => (cell === undefined ? "-" : String(cell)))));
  return `\n${printed.toString()}`;
}
