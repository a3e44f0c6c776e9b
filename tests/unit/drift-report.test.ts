// kms-key-drift's pure parts: drift read from engine events (shaped as a preview with refresh emits them, as
// recorded from CLI 3.248.0), the report's order, days left, and the exit codes.
import * as fs from "node:fs";
import * as path from "node:path";
import type { EngineEvent, OpType } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import {
  daysLeft,
  findDrift,
  nameOf,
  KMS_ALIAS_TYPE,
  KMS_KEY_TYPE,
  KMS_REPLICA_KEY_TYPE,
  observeKeys,
  plannedActions,
  recoversGone,
  reportedSchemas,
  aliasesOfGoneKeys,
} from "../../cli/drift";
import { checkExitCode, recoverExitCode, renderTable, Report, shownId } from "../../cli/report";
import type { StackReport } from "../../cli/stacks";
import { driftProperties } from "../../provider/schema";
import { tableLines } from "../../testing/drift-report";
import { REPO_ROOT } from "../../testing/repo";

const NOW = new Date("2026-11-29T08:00:00.000Z");
const urn = (name: string, type = KMS_KEY_TYPE): string => `urn:pulumi:dev::infra::${type}::${name}`;

type Props = Record<string, unknown>;

const DECLARED: Props = {
  description: "orders",
  enabled: true,
  enableKeyRotation: false,
  tags: { team: "payments" },
  keySpec: "SYMMETRIC_DEFAULT",
};
const LIVE: Props = {
  ...DECLARED,
  keyId: "k-1",
  arn: "arn:aws:kms:us-east-1:111122223333:key/k-1",
  keyState: "Enabled",
};

function stateOf(name: string, props: Props | undefined, inputs?: Props, type = KMS_KEY_TYPE) {
  return {
    type,
    urn: urn(name, type),
    id: "k-1",
    parent: "",
    provider: "",
    inputs: inputs ?? {},
    outputs: props ?? {},
  };
}

/** The events a preview with refresh emits for one key: the refresh's outputs, then the plan step. */
function keyEvents(
  name: string,
  live: Props | null | undefined,
  declared: Props | undefined,
  op: OpType = "update",
  type = KMS_KEY_TYPE,
): EngineEvent[] {
  const urn = (n: string) => `urn:pulumi:dev::infra::${type}::${n}`;
  const state = (n: string, props: Props | undefined, inputs?: Props) => stateOf(n, props, inputs, type);
  const base = { sequence: 0, timestamp: 0 };
  const events: EngineEvent[] = [];
  if (live !== undefined) {
    events.push({
      ...base,
      resourcePreEvent: {
        metadata: { op: "refresh", urn: urn(name), type, provider: "", old: state(name, LIVE) },
      },
    });
    events.push({
      ...base,
      resOutputsEvent: {
        metadata: {
          op: "refresh",
          urn: urn(name),
          type,
          provider: "",
          old: state(name, LIVE),
          new: live === null ? undefined : state(name, live, live),
        },
      },
    });
  }
  if (declared !== undefined) {
    events.push({
      ...base,
      resourcePreEvent: {
        metadata: {
          op,
          urn: urn(name),
          type,
          provider: "",
          old: live ? state(name, live, live) : undefined,
          new: state(name, undefined, declared),
        },
      },
    });
  }
  return events;
}

const PRIMARY_ARN = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
const REPLICA_ARN = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
const REPLICA_DECLARED: Props = {
  primaryKeyArn: PRIMARY_ARN,
  region: "eu-west-1",
  description: "orders, Ireland",
  enabled: true,
  tags: { team: "payments" },
};
const REPLICA_LIVE: Props = {
  ...REPLICA_DECLARED,
  keyId: "mrk-1234abcd12ab34cd56ef1234567890ab",
  arn: REPLICA_ARN,
  keyState: "Enabled",
};

describe("unit: kms-key-drift report", () => {
  it("a key's family: the replica pending deletion first, then its primary waiting for it (no date, no days left)", () => {
    const primaryLive = {
      ...LIVE,
      multiRegion: true,
      keyId: REPLICA_LIVE.keyId,
      arn: PRIMARY_ARN,
      keyState: "PendingReplicaDeletion",
    };
    const events = [
      // By name the primary would come first: the one with a date is the more urgent.
      ...keyEvents("a-primary", primaryLive, { ...DECLARED, multiRegion: true }),
      ...keyEvents(
        "replica",
        { ...REPLICA_LIVE, keyState: "PendingDeletion", deletionDate: "2026-12-06T07:59:59.000Z" },
        REPLICA_DECLARED,
        "update",
        KMS_REPLICA_KEY_TYPE,
      ),
      ...keyEvents("tagged", { ...LIVE, tags: { team: "intruder" } }, DECLARED),
    ];
    const drift = findDrift(events, NOW);
    expect(drift.map((d) => [d.resource, d.name, d.kind, d.keyState, d.daysLeft, d.arn])).to.deep.equal([
      ["KmsReplicaKey", "replica", "pending-deletion", "PendingDeletion", 6, REPLICA_ARN],
      ["KmsKey", "a-primary", "pending-deletion", "PendingReplicaDeletion", undefined, PRIMARY_ARN],
      ["KmsKey", "tagged", "attributes", "Enabled", undefined, LIVE.arn],
    ]);
    // As the report has it: a field without a value is not there.
    expect(JSON.parse(JSON.stringify(drift[1]))).to.not.have.any.keys("deletionDate", "daysLeft");
    expect(drift[1].upWould).to.equal("cancel the deletion, enable");
    expect(drift[0]).to.include({ keyId: REPLICA_LIVE.keyId, upWould: "cancel the deletion, enable" });
  });

  it("a replica's drift is by the replica's schema: its description and tags; a disabled one; a gone one", () => {
    const events = [
      ...keyEvents(
        "described",
        { ...REPLICA_LIVE, description: "changed", tags: { team: "intruder" } },
        REPLICA_DECLARED,
        "update",
        KMS_REPLICA_KEY_TYPE,
      ),
      ...keyEvents(
        "off",
        { ...REPLICA_LIVE, keyState: "Disabled", enabled: false },
        REPLICA_DECLARED,
        "update",
        KMS_REPLICA_KEY_TYPE,
      ),
      ...keyEvents("gone", null, REPLICA_DECLARED, "create", KMS_REPLICA_KEY_TYPE),
      ...keyEvents("same", REPLICA_LIVE, REPLICA_DECLARED, "same", KMS_REPLICA_KEY_TYPE),
    ];
    const drift = findDrift(events, NOW);
    expect(drift.map((d) => [d.name, d.kind, d.attributes, d.upWould])).to.deep.equal([
      ["off", "disabled", [], "enable"],
      ["described", "attributes", ["description", "tags"], "reset description, tags"],
      [
        "gone",
        "gone",
        [],
        "create a new replica: KMS no longer has this one (the primary key still holds the key material)",
      ],
    ]);
    expect(drift.map((d) => d.resource)).to.deep.equal(["KmsReplicaKey", "KmsReplicaKey", "KmsReplicaKey"]);
    expect(plannedActions(drift[2])).to.deep.equal(["create a new replica"]);
  });

  it("an alias's entry has no key ID, key state nor declaredEnabled: it has no key state of its own", () => {
    const declared = { name: "alias/orders", targetKeyId: "1234abcd-12ab-34cd-56ef-1234567890ab" };
    const arn = "arn:aws:kms:us-east-1:111122223333:alias/orders";
    const other = "arn:aws:kms:us-east-1:111122223333:key/0b5e8f5a-0000-4000-8000-00000000beef";
    // An alias's outputs as the provider has them, with a keyState even (were one there): still not the alias's.
    const live = { ...declared, arn, targetKeyId: other.split("/").pop(), targetKeyArn: other, keyState: "Enabled" };
    const [repointed, gone] = findDrift(
      [
        ...keyEvents("repointed", live, declared, "update", KMS_ALIAS_TYPE),
        ...keyEvents("gone", null, declared, "create", KMS_ALIAS_TYPE),
      ],
      NOW,
    );
    expect(repointed).to.include({ resource: "KmsAlias", kind: "attributes", arn });
    for (const entry of [repointed, gone]) {
      const json = JSON.parse(JSON.stringify(entry)) as Props;
      expect(json, entry.name).to.not.have.any.keys("keyId", "keyState", "deletionDate", "daysLeft", "declaredEnabled");
    }
    expect(plannedActions(gone)).to.deep.equal(["create the alias again"]);
  });

  it("recover makes a gone alias again, never a gone key or replica key, nor an alias whose key is gone too", () => {
    expect(["KmsKey", "KmsReplicaKey", "KmsAlias"].map(recoversGone)).to.deep.equal([false, false, true]);
    const declared = { name: "alias/orders", targetKeyId: "k-1" };
    const aliasWas = (target: unknown) => ({
      ...declared,
      arn: "arn:aws:kms:us-east-1:111122223333:alias/orders",
      targetKeyArn: target,
    });
    const base = { sequence: 0, timestamp: 0 };
    // A refresh that finds `name` gone, which was `was` before: its pre-event carries the state before the refresh.
    const wentFrom = (name: string, was: Props, declaredNow: Props, type = KMS_ALIAS_TYPE): EngineEvent[] => {
      const metadata = {
        op: "refresh" as const,
        urn: urn(name, type),
        type,
        provider: "",
        old: stateOf(name, was, undefined, type),
      };
      return [
        { ...base, resourcePreEvent: { metadata } },
        { ...base, resOutputsEvent: { metadata } },
        ...keyEvents(name, undefined, declaredNow, "create", type),
      ];
    };
    const otherKey = "arn:aws:kms:us-east-1:111122223333:key/k-2";
    const observed = observeKeys([
      ...wentFrom("gone-key", LIVE, DECLARED, KMS_KEY_TYPE),
      // KMS deleted it with its key.
      ...wentFrom("with-its-key", aliasWas(LIVE.arn), declared),
      // Deleted on its own: its key is there.
      ...wentFrom("alone", aliasWas(otherKey), declared),
      ...keyEvents("other", LIVE, DECLARED, "same"),
    ]);
    expect(observed.get(urn("gone-key"))).to.include({ live: null });
    expect([...aliasesOfGoneKeys(observed)].map(nameOf)).to.deep.equal(["with-its-key"]);
  });

  it("the documented attributes of each resource are its schema's drift properties", () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "kms-key-drift.md"), "utf8");
    const schemas = reportedSchemas();
    expect(Object.keys(schemas)).to.deep.equal(["KmsKey", "KmsReplicaKey", "KmsAlias"]);
    for (const [resource, schema] of Object.entries(schemas)) {
      const row = doc.split("\n").find((line) => line.trimStart().startsWith(`| \`${resource}\``));
      expect(row, `a row for ${resource}`).to.be.a("string");
      // The second cell's code spans, before any parenthesis (which says why, in words).
      const cell = row!.trimStart().split("|")[2].split("(")[0];
      const documented = [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]);
      expect(documented, resource).to.deep.equal(driftProperties(schema));
    }
  });

  it("the table names each resource by what tells it apart: a key's ID; the ARN of a multi-Region key, a replica, an alias", () => {
    expect(shownId({ resource: "KmsKey", keyId: "k-1", arn: String(LIVE.arn) })).to.equal("k-1");
    expect(shownId({ resource: "KmsKey", keyId: String(REPLICA_LIVE.keyId), arn: PRIMARY_ARN })).to.equal(PRIMARY_ARN);
    expect(shownId({ resource: "KmsReplicaKey", keyId: String(REPLICA_LIVE.keyId), arn: REPLICA_ARN })).to.equal(
      REPLICA_ARN,
    );
    const aliasArn = "arn:aws:kms:us-east-1:111122223333:alias/orders";
    expect(shownId({ resource: "KmsAlias", arn: aliasArn })).to.equal(aliasArn);
    expect(shownId({ resource: "KmsAlias" })).to.equal("");

    const report: Report = {
      schemaVersion: 1,
      command: "check",
      dryRun: false,
      checkedAt: NOW.toISOString(),
      exitCode: 2,
      stacks: [
        {
          stack: "dev",
          result: "drift",
          keys: findDrift(
            [
              ...keyEvents(
                "alias",
                { name: "alias/orders", targetKeyId: "other", arn: aliasArn, targetKeyArn: LIVE.arn },
                { name: "alias/orders", targetKeyId: "k-2" },
                "update",
                KMS_ALIAS_TYPE,
              ),
            ],
            NOW,
          ),
        },
      ],
    };
    const lines = tableLines(renderTable(report));
    expect(lines[0]).to.deep.equal([
      "Stack",
      "Resource",
      "Name",
      "ID/ARN",
      "Drift",
      "Key state",
      "Deletion date",
      "Days left",
      "Drifted attributes",
      "`up` would",
    ]);
    expect(lines[1]).to.deep.equal([
      "dev",
      "KmsAlias",
      "alias",
      aliasArn,
      "attributes",
      "",
      "",
      "",
      "targetKeyId",
      "point it back at its declared key",
    ]);
  });

  it("aliases: one repointed out of band is attribute drift in targetKeyId, by the key it resolves to; one gone is gone", () => {
    const key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const other = "arn:aws:kms:us-east-1:111122223333:key/0b5e8f5a-0000-4000-8000-00000000beef";
    const arn = "arn:aws:kms:us-east-1:111122223333:alias/orders";
    const declared = { name: "alias/orders", targetKeyId: "1234abcd-12ab-34cd-56ef-1234567890ab" };
    const live = (target: string) => ({ ...declared, arn, targetKeyId: target.split("/").pop(), targetKeyArn: target });
    const events = [
      ...keyEvents("repointed", live(other), declared, "update", KMS_ALIAS_TYPE),
      // The same key by ID in the declaration and by ARN in the state: no drift.
      ...keyEvents("same", live(key), { ...declared, targetKeyId: key }, "same", KMS_ALIAS_TYPE),
      ...keyEvents("gone", null, declared, "create", KMS_ALIAS_TYPE),
    ];
    const drift = findDrift(events, NOW);
    expect(drift.map((d) => [d.resource, d.name, d.kind, d.attributes, d.upWould])).to.deep.equal([
      ["KmsAlias", "repointed", "attributes", ["targetKeyId"], "point it back at its declared key"],
      ["KmsAlias", "gone", "gone", [], "create the alias again, pointing at its declared key"],
    ]);
    expect(
      findDrift(keyEvents("same", live(key), { ...declared, targetKeyId: key }, "update", KMS_ALIAS_TYPE), NOW),
    ).to.have.length(0, "an update the engine plans for the same key by ID or ARN names no attribute: no drift");
  });

  it("orders pending deletion (fewest days first), disabled, attributes, gone; computes whole days left", () => {
    const events = [
      ...keyEvents("gone", null, DECLARED, "create"),
      ...keyEvents("tagged", { ...LIVE, tags: { team: "intruder" } }, DECLARED),
      ...keyEvents("disabled", { ...LIVE, keyState: "Disabled", enabled: false }, DECLARED),
      ...keyEvents(
        "later",
        { ...LIVE, keyState: "PendingDeletion", deletionDate: "2026-12-29T07:00:00.000Z" },
        DECLARED,
      ),
      ...keyEvents(
        "soon",
        { ...LIVE, keyState: "PendingDeletion", deletionDate: "2026-12-06T07:59:59.000Z" },
        DECLARED,
      ),
      ...keyEvents("clean", LIVE, DECLARED, "same"),
    ];
    const drift = findDrift(events, NOW);
    expect(drift.map((key) => [key.name, key.kind, key.daysLeft])).to.deep.equal([
      ["soon", "pending-deletion", 6],
      ["later", "pending-deletion", 29],
      ["disabled", "disabled", undefined],
      ["tagged", "attributes", undefined],
      ["gone", "gone", undefined],
    ]);
    expect(drift[0].upWould).to.equal("cancel the deletion, enable");
    expect(drift[2].upWould).to.equal("enable");
    expect(drift[3]).to.include({ upWould: "reset tags", keyId: "k-1" });
    expect(drift[3].attributes).to.deep.equal(["tags"]);
    expect(drift[4].upWould).to.match(/^create a new key/);
    expect(drift[4].keyId).to.equal(undefined);
  });

  it("a pending key declared disabled is cancelled, not enabled; its other drift is listed too", () => {
    const declared = { ...DECLARED, enabled: false, description: "new words" };
    const live = { ...LIVE, keyState: "PendingDeletion", deletionDate: "2026-12-01T08:00:00.000Z" };
    const [key] = findDrift(keyEvents("k", live, declared), NOW);
    expect(key).to.include({
      kind: "pending-deletion",
      daysLeft: 2,
      upWould: "cancel the deletion, reset description",
    });
  });

  it("a key waiting for imported key material is reported as not enabled, with what it needs", () => {
    const [key] = findDrift(keyEvents("k", { ...LIVE, keyState: "PendingImport", enabled: false }, DECLARED), NOW);
    expect(key).to.include({ kind: "disabled", keyState: "PendingImport" });
    expect(key.upWould).to.contain("key material");
  });

  it("no drift: a declared-disabled key that is disabled, a policy with other formatting, an undeclared policy", () => {
    const policy = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "kms:*", Resource: "*" }] };
    const events = [
      ...keyEvents("off", { ...LIVE, keyState: "Disabled", enabled: false }, { ...DECLARED, enabled: false }),
      ...keyEvents(
        "policy",
        { ...LIVE, policy: JSON.stringify(policy) },
        { ...DECLARED, policy: JSON.stringify({ Statement: policy.Statement, Version: policy.Version }, null, 2) },
      ),
      ...keyEvents("unmanaged", { ...LIVE, policy: JSON.stringify(policy) }, DECLARED),
    ];
    expect(findDrift(events, NOW)).to.deep.equal([]);
    const changed = keyEvents("policy", { ...LIVE, policy: JSON.stringify(policy) }, { ...DECLARED, policy: "{}" });
    expect(findDrift(changed, NOW).map((key) => key.attributes)).to.deep.equal([["policy"]]);
  });

  it("policy drift is the provider's: an account ID against its root ARN, one statement against a list, reordering", () => {
    const declared = {
      Version: "2012-10-17",
      Statement: {
        Sid: "root",
        Effect: "Allow",
        Principal: { AWS: ["111122223333", "arn:aws:iam::444455556666:root"] },
        Action: ["kms:Describe*", "kms:*"],
        Resource: "*",
      },
    };
    const asKmsHasIt = {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "root",
          Effect: "Allow",
          Principal: { AWS: ["arn:aws:iam::444455556666:root", "arn:aws:iam::111122223333:root"] },
          Action: ["kms:*", "kms:Describe*"],
          Resource: "*",
        },
      ],
    };
    // Even where the engine plans an update (a state-only input changed), the policy is no drift.
    const events = keyEvents(
      "policy",
      { ...LIVE, policy: JSON.stringify(asKmsHasIt) },
      { ...DECLARED, policy: JSON.stringify(declared), deletionWindowInDays: 7 },
    );
    expect(findDrift(events, NOW)).to.deep.equal([]);
  });

  it("a plan that leaves the key as it is is no drift, whatever the outputs look like", () => {
    const events = keyEvents("same", { ...LIVE, tags: { team: "intruder" } }, DECLARED, "same");
    expect(findDrift(events, NOW)).to.deep.equal([]);
  });

  it("keys read with KmsKey.get are not managed: never drift, whatever their state, description, tags or rotation", () => {
    const read = (name: string, live: Props): EngineEvent[] => [
      ...keyEvents(name, live, undefined),
      ...keyEvents(name, undefined, {}, "read"),
    ];
    const events = [
      ...read("described", {
        ...LIVE,
        description: "someone else's",
        tags: { owner: "them" },
        enableKeyRotation: true,
      }),
      ...read("off", { ...LIVE, keyState: "Disabled", enabled: false }),
      ...read("going", { ...LIVE, keyState: "PendingDeletion", deletionDate: "2026-12-06T07:59:59.000Z" }),
    ];
    expect(findDrift(events, NOW)).to.deep.equal([]);
  });

  it("a refresh (not a preview) reports each read by its outcome: a key it deleted from the state is gone", () => {
    const base = { sequence: 0, timestamp: 0 };
    const refreshed = (name: string, op: OpType, outputs?: Props): EngineEvent[] => [
      { ...base, resourcePreEvent: { metadata: { op: "refresh", urn: urn(name), type: KMS_KEY_TYPE, provider: "" } } },
      {
        ...base,
        resOutputsEvent: {
          metadata: {
            op,
            urn: urn(name),
            type: KMS_KEY_TYPE,
            provider: "",
            old: stateOf(name, LIVE),
            new: outputs ? stateOf(name, outputs, outputs) : undefined,
          },
        },
      },
    ];
    const keys = observeKeys([
      ...refreshed("gone", "delete"),
      ...refreshed("changed", "update", { ...LIVE, keyState: "Disabled" }),
      ...refreshed("same", "same", LIVE),
    ]);
    expect([...keys.values()].map((key) => [key.urn, key.live?.keyState ?? key.live])).to.deep.equal([
      [urn("gone"), null],
      [urn("changed"), "Disabled"],
      [urn("same"), "Enabled"],
    ]);
  });

  it("program changes are not drift: a key not deployed yet, a key removed from the program", () => {
    const events = [
      ...keyEvents("new", undefined, DECLARED, "create"),
      ...keyEvents("removed", { ...LIVE, keyState: "PendingDeletion" }, undefined),
    ];
    expect(findDrift(events, NOW)).to.deep.equal([]);
  });

  it("rotation drift: enableKeyRotation, and rotationPeriodInDays only when rotation is declared", () => {
    const declared = { ...DECLARED, enableKeyRotation: true, rotationPeriodInDays: 90 };
    const live = { ...LIVE, enableKeyRotation: true, rotationPeriodInDays: 365 };
    expect(findDrift(keyEvents("k", live, declared), NOW)[0].attributes).to.deep.equal(["rotationPeriodInDays"]);
    expect(findDrift(keyEvents("k", LIVE, declared), NOW)[0].attributes).to.deep.equal([
      "enableKeyRotation",
      "rotationPeriodInDays",
    ]);
  });

  it("a key declared disabled that is enabled drifted too: up would disable it, after any other change", () => {
    const declared = { ...DECLARED, enabled: false, description: "off" };
    const [key] = findDrift(keyEvents("k", LIVE, declared), NOW);
    expect(key).to.include({ kind: "attributes", upWould: "reset description, disable" });
    expect(key.attributes).to.deep.equal(["description", "enabled"]);
  });

  it("days left round down and never go below 0", () => {
    expect(daysLeft("2026-11-30T07:59:59.000Z", NOW)).to.equal(0);
    expect(daysLeft("2026-11-30T08:00:00.000Z", NOW)).to.equal(1);
    expect(daysLeft("2026-11-28T08:00:00.000Z", NOW)).to.equal(0);
    expect(daysLeft("not a date", NOW)).to.equal(undefined);
  });

  it("exit codes: error beats drift beats clean; recover is 0 only when every drifted key is recovered", () => {
    const stack = (result: StackReport["result"], statuses: string[] = []): StackReport => ({
      stack: result,
      result,
      keys: statuses.map((status) => ({ recovery: { status, actions: [] } }) as unknown as StackReport["keys"][number]),
    });
    expect(checkExitCode([stack("clean")])).to.equal(0);
    expect(checkExitCode([stack("clean"), stack("drift", ["x"])])).to.equal(2);
    expect(checkExitCode([stack("drift", ["x"]), stack("error")])).to.equal(1);
    expect(recoverExitCode([stack("recovered", ["recovered", "recovered"])], false)).to.equal(0);
    expect(recoverExitCode([stack("drift", ["recovered", "failed"])], false)).to.equal(1);
    expect(recoverExitCode([stack("drift", ["skipped"])], false)).to.equal(1);
    expect(recoverExitCode([stack("drift", ["planned"])], true)).to.equal(2);
    expect(recoverExitCode([stack("clean")], true)).to.equal(0);
    // --dry-run exits 1 only when it could not do its job: a key it would leave alone (gone) is drift, 2.
    expect(recoverExitCode([stack("drift", ["skipped"])], true)).to.equal(2);
    expect(recoverExitCode([stack("drift", ["skipped", "planned"]), stack("clean")], true)).to.equal(2);
    expect(recoverExitCode([stack("drift", ["skipped"]), stack("error")], true)).to.equal(1);
    expect(recoverExitCode([stack("clean"), stack("error")], false)).to.equal(1);
  });
});
