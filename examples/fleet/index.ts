// A platform team's keys, declared as data: one KmsKey per entry, named, tagged and rotated by team.
import * as pulumi from "@pulumi/pulumi";
import { KmsKey } from "pulumi-kms-key";

interface FleetKey {
  /** Unique in the fleet; becomes the resource name. */
  name: string;
  team: string;
  /** Yearly automatic rotation. */
  rotation: boolean;
}

const fleet: FleetKey[] = [
  { name: "payments-ledger", team: "payments", rotation: true },
  { name: "payments-card-tokens", team: "payments", rotation: true },
  { name: "identity-sessions", team: "identity", rotation: true },
  { name: "analytics-exports", team: "data", rotation: false },
  { name: "platform-backups", team: "platform", rotation: true },
];

const config = new pulumi.Config();
const environment = config.get("environment") ?? "dev";
// How many of the fleet's keys to manage (all by default); a smaller number makes a quick trial stack.
const size = config.getNumber("fleetSize") ?? fleet.length;

const keys = fleet.slice(0, size).map(
  (entry) =>
    [
      entry.name,
      new KmsKey(entry.name, {
        description: `${entry.team}: ${entry.name} (${environment})`,
        tags: { team: entry.team, environment, "managed-by": "platform" },
        enableKeyRotation: entry.rotation,
        deletionWindowInDays: environment === "prod" ? 30 : 7,
      }),
    ] as const,
);

/** Key ID by fleet name. */
export const keyIds = Object.fromEntries(keys.map(([name, key]) => [name, key.keyId]));
/** Key state by fleet name: every one should read Enabled. */
export const keyStates = Object.fromEntries(keys.map(([name, key]) => [name, key.keyState]));
export const keyCount = keys.length;
