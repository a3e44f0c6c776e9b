// The planner as a table: every KMS key state against every declared enabled/rotation combination.
import { expect } from "chai";
import { desiredKey, KeyInputs } from "../../provider/inputs";
import {
  KEY_STATES,
  KeyAction,
  KeyPart,
  KeyState,
  ObservedKey,
  nextStep,
  planDelete,
  planSteps,
  planUpdate,
  transition,
  tagActions,
} from "../../provider/plan";

function observed(keyState: string, overrides: Partial<ObservedKey> = {}): ObservedKey {
  return {
    keyId: "1234abcd-12ab-34cd-56ef-1234567890ab",
    arn: "arn:aws:verenc:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    keyState,
    deletionDate:
      keyState.startsWith("Pending") && keyState !== "PendingImport" ? "2026-12-05T00:00:00.000Z" : undefined,
    description: "",
    keyUsage: "ENCRYPT_DECRYPT",
    keySpec: "SYMMETRIC_DEFAULT",
    multiRegion: false,
    origin: keyState === "PendingImport" ? "EXTERNAL" : "AWS_KMS",
    keyManager: "CUSTOMER",
    policy: undefined,
    enableKeyRotation: false,
    tags: {},
    unreadable: [],
    ...overrides,
  };
}

const kinds = (actions: KeyAction[]) => actions.map((a) => a.kind);

type Row = [KeyState, KeyInputs, string[], boolean];
// [observed state, declared inputs, expected calls in order, refused?]
const table: Row[] = [
  ["Enabled", { enabled: true }, [], false],
  ["Enabled", { enabled: false }, ["disable"], false],
  ["Enabled", { enabled: true, enableKeyRotation: true }, ["enableRotation"], false],
  ["Enabled", { enabled: false, enableKeyRotation: true }, ["enableRotation", "disable"], false],
  ["Disabled", { enabled: true }, ["enable"], false],
  ["Disabled", { enabled: false }, [], false],
  ["Disabled", { enabled: true, enableKeyRotation: true }, ["enable", "enableRotation"], false],
  ["Disabled", { enabled: false, enableKeyRotation: true }, [], true],
  ["PendingDeletion", { enabled: true }, ["cancelDeletion", "enable"], false],
  ["PendingDeletion", { enabled: false }, ["cancelDeletion"], false],
  [
    "PendingDeletion",
    { enabled: true, enableKeyRotation: true },
    ["cancelDeletion", "enable", "enableRotation"],
    false,
  ],
  ["PendingDeletion", { enabled: false, enableKeyRotation: true }, ["cancelDeletion"], true],
  ["PendingReplicaDeletion", { enabled: true }, ["cancelDeletion", "enable"], false],
  ["PendingReplicaDeletion", { enabled: false }, ["cancelDeletion"], false],
  [
    "PendingReplicaDeletion",
    { enabled: true, enableKeyRotation: true },
    ["cancelDeletion", "enable", "enableRotation"],
    false,
  ],
  ["PendingReplicaDeletion", { enabled: false, enableKeyRotation: true }, ["cancelDeletion"], true],
  ["PendingImport", { enabled: true }, [], true],
  ["PendingImport", { enabled: false }, [], false],
  ["PendingImport", { enabled: true, enableKeyRotation: true }, [], true],
  ["PendingImport", { enabled: false, enableKeyRotation: true }, [], false],
  ["Unavailable", { enabled: true }, [], true],
  ["Unavailable", { enabled: false }, [], false],
  ["Unavailable", { enabled: true, enableKeyRotation: true }, [], true],
  ["Unavailable", { enabled: false, enableKeyRotation: true }, [], true],
  ["Creating", { enabled: true }, [], true],
  ["Creating", { enabled: false }, [], true],
  ["Creating", { enabled: true, enableKeyRotation: true }, [], true],
  ["Creating", { enabled: false, enableKeyRotation: true }, [], true],
  ["Updating", { enabled: true }, [], true],
  ["Updating", { enabled: false }, [], true],
  ["Updating", { enabled: true, enableKeyRotation: true }, [], true],
  ["Updating", { enabled: false, enableKeyRotation: true }, [], true],
];

describe("planner: every key state against every declared combination", () => {
  it("covers every KMS key state", () => {
    expect(new Set(table.map(([state]) => state))).to.deep.equal(new Set(KEY_STATES));
  });

  for (const [state, inputs, expected, refused] of table) {
    it(`${state} + ${JSON.stringify(inputs)} -> [${expected.join(", ")}]${refused ? " and a plain refusal" : ""}`, () => {
      // The whole plan, and the provider's way: one step at a time, each call's usual answer moving the key on.
      for (const plan of [
        planUpdate(desiredKey(inputs), observed(state)),
        planSteps(desiredKey(inputs), observed(state)),
      ]) {
        expect(kinds(plan.actions)).to.deep.equal(expected);
        if (refused) {
          expect(plan.refusal, "refusal").to.be.a("string").and.include("1234abcd-12ab-34cd-56ef-1234567890ab");
        } else {
          expect(plan.refusal, "refusal").to.equal(undefined);
        }
      }
    });
  }
});

describe("planner: order of an update", () => {
  const everything: KeyInputs = {
    enabled: true,
    description: "new",
    policy: '{"Statement":[]}',
    tags: { team: "payments" },
    enableKeyRotation: true,
    rotationPeriodInDays: 180,
  };

  it("cancels first, enables before modifying, modifies, and never disables when declared enabled", () => {
    const plan = planUpdate(desiredKey(everything), observed("PendingDeletion", { tags: { old: "x" } }));
    expect(kinds(plan.actions)).to.deep.equal([
      "cancelDeletion",
      "enable",
      "updateDescription",
      "putPolicy",
      "untag",
      "tag",
      "enableRotation",
    ]);
  });

  it("disables last when declared disabled", () => {
    const plan = planUpdate(desiredKey({ ...everything, enabled: false }), observed("Enabled"));
    expect(kinds(plan.actions)).to.deep.equal(["updateDescription", "putPolicy", "tag", "enableRotation", "disable"]);
  });

  it("modifies a pending-import key's description, policy and tags but refuses to enable it, in plain words", () => {
    const plan = planUpdate(desiredKey(everything), observed("PendingImport"));
    expect(kinds(plan.actions)).to.deep.equal(["updateDescription", "putPolicy", "tag"]);
    expect(plan.refusal)
      .to.match(/PendingImport/)
      .and.match(/ImportKeyMaterial/)
      .and.match(/enabled: false/);
  });

  it("compares policies as JSON values, not text", () => {
    const declared = desiredKey({ policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}' });
    const same = observed("Enabled", {
      policy: '{\n  "Statement": [ { "Effect": "Allow" } ],\n  "Version": "2012-10-17"\n}',
    });
    expect(kinds(planUpdate(declared, same).actions)).to.deep.equal([]);
    const other = observed("Enabled", { policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Deny"}]}' });
    expect(kinds(planUpdate(declared, other).actions)).to.deep.equal(["putPolicy"]);
  });

  it("leaves an undeclared policy alone", () => {
    expect(kinds(planUpdate(desiredKey({}), observed("Enabled", { policy: '{"a":1}' })).actions)).to.deep.equal([]);
  });

  it("changes the rotation period of a rotating key", () => {
    const plan = planUpdate(
      desiredKey({ enableKeyRotation: true, rotationPeriodInDays: 90 }),
      observed("Enabled", { enableKeyRotation: true, rotationPeriodInDays: 365 }),
    );
    expect(plan.actions).to.deep.equal([{ kind: "enableRotation", rotationPeriodInDays: 90 }]);
  });

  it("turns rotation off when no longer declared", () => {
    const plan = planUpdate(
      desiredKey({}),
      observed("Enabled", { enableKeyRotation: true, rotationPeriodInDays: 365 }),
    );
    expect(kinds(plan.actions)).to.deep.equal(["disableRotation"]);
  });

  it("refuses rotation on an asymmetric key instead of calling KMS", () => {
    const plan = planUpdate(
      desiredKey({ enableKeyRotation: true, keySpec: "RSA_2048", keyUsage: "SIGN_VERIFY" }),
      observed("Enabled", { keySpec: "RSA_2048", keyUsage: "SIGN_VERIFY" }),
    );
    expect(kinds(plan.actions)).to.deep.equal([]);
    expect(plan.refusal).to.match(/SYMMETRIC_DEFAULT/);
  });

  it("applies what is declared when parts could not be read", () => {
    const plan = planUpdate(
      desiredKey({ policy: '{"Statement":[]}', tags: { a: "1" }, enableKeyRotation: true }),
      observed("Enabled", {
        policy: undefined,
        tags: undefined,
        enableKeyRotation: undefined,
        unreadable: ["policy", "rotation", "tags"],
      }),
    );
    expect(kinds(plan.actions)).to.deep.equal(["putPolicy", "tag", "enableRotation"]);
  });
});

describe("planner: tags", () => {
  it("sets changed and new tags, removes undeclared ones, keeps the provider's own", () => {
    const actions = tagActions(
      { team: "b", env: "prod" },
      { team: "a", stale: "x", "pulumi-kms-key:creation-token": "t" },
    );
    expect(actions).to.deep.equal([
      { kind: "untag", tagKeys: ["stale"] },
      { kind: "tag", tags: { team: "b", env: "prod" } },
    ]);
  });
  it("does nothing when tags match", () => {
    expect(tagActions({ a: "1" }, { a: "1" })).to.deep.equal([]);
  });
});

describe("planner: create and delete", () => {
  it("after CreateKey (which carries description, policy and tags): rotation, then disable when declared disabled", () => {
    const created = (inputs: KeyInputs) => {
      const desired = desiredKey(inputs);
      return planSteps(desired, observed("Enabled", { description: desired.description, tags: desired.tags }));
    };
    expect(kinds(created({}).actions)).to.deep.equal([]);
    expect(kinds(created({ enableKeyRotation: true, enabled: false, description: "d" }).actions)).to.deep.equal([
      "enableRotation",
      "disable",
    ]);
    expect(created({ enableKeyRotation: true }).actions).to.deep.equal([
      { kind: "enableRotation", rotationPeriodInDays: 365 },
    ]);
  });

  it("after a cancel, a rotation KMS hid while the key was pending deletion is read before it is changed", () => {
    const desired = desiredKey({ enableKeyRotation: true });
    const pending = observed("PendingDeletion", { enableKeyRotation: undefined });
    const first = nextStep(desired, pending);
    expect(first.step).to.deep.equal({ kind: "cancelDeletion" });
    let state = transition(pending, { changed: new Set<KeyPart>(["rotation"]), keyStateManaged: true }, first.step!, {
      keyState: "Disabled",
    });
    expect(state.scope.changed.has("enabled"), "the key's state is in scope after a cancel").to.equal(true);
    // Read right after the cancel, as the key is then: the rest is planned from what KMS restored.
    expect(nextStep(desired, state.observed, state.scope).step).to.deep.equal({ kind: "readRotation" });
    state = transition(
      state.observed,
      state.scope,
      { kind: "readRotation" },
      { rotation: { enabled: true, periodInDays: 365 } },
    );
    expect(nextStep(desired, state.observed, state.scope).step).to.deep.equal({ kind: "enable" });
    const enabled = transition(state.observed, state.scope, { kind: "enable" }, { keyState: "Enabled" });
    expect(nextStep(desired, enabled.observed, enabled.scope)).to.deep.equal({ refusal: undefined });
    // Access to the rotation status denied: what is declared is applied, and the status is reported unreadable.
    const denied = transition(pending, state.scope, { kind: "readRotation" }, {});
    expect(denied.observed.unreadable).to.include("rotation");
  });

  for (const state of KEY_STATES) {
    const pending = state === "PendingDeletion" || state === "PendingReplicaDeletion";
    it(`delete of a ${state} key ${pending ? "needs nothing" : "schedules deletion with the declared window"}`, () => {
      expect(planDelete(observed(state), 7)).to.deep.equal(
        pending ? [] : [{ kind: "scheduleDeletion", pendingWindowInDays: 7 }],
      );
    });
  }
  it("delete of a key that is gone needs nothing", () => {
    expect(planDelete(undefined, 30)).to.deep.equal([]);
  });
});

describe("planner: an update changes only what the diff says changed", () => {
  type ScopeRow = [string, KeyState, Partial<ObservedKey>, KeyInputs, KeyPart[], boolean, string[], boolean];
  // [case, observed state, observed parts, declared, changed parts, key state managed, expected calls, refused?]
  const rows: ScopeRow[] = [
    [
      "a description change leaves a disabled key disabled",
      "Disabled",
      {},
      { description: "new" },
      ["description"],
      true,
      ["updateDescription"],
      false,
    ],
    [
      "ignored tags (owned by another tool) are not removed",
      "Enabled",
      { tags: { abac: "blue" } },
      { description: "new" },
      ["description"],
      true,
      ["updateDescription"],
      false,
    ],
    [
      "changed tags: set and remove",
      "Enabled",
      { tags: { abac: "blue" } },
      { tags: { team: "a" } },
      ["tags"],
      true,
      ["untag", "tag"],
      false,
    ],
    ["a changed enabled enables", "Disabled", {}, { enabled: true }, ["enabled"], true, ["enable"], false],
    [
      "a changed enabled disables last",
      "Enabled",
      {},
      { enabled: false, description: "new" },
      ["enabled", "description"],
      true,
      ["updateDescription", "disable"],
      false,
    ],
    [
      "pending deletion: cancel and enable whatever changed",
      "PendingDeletion",
      {},
      { description: "new" },
      ["description"],
      true,
      ["cancelDeletion", "enable", "updateDescription"],
      false,
    ],
    [
      "pending deletion, declared disabled: cancel only",
      "PendingDeletion",
      {},
      { enabled: false },
      [],
      true,
      ["cancelDeletion"],
      false,
    ],
    [
      "pending deletion, rotating and declared disabled: cancel; KMS restores the rotation",
      "PendingDeletion",
      { enableKeyRotation: true, rotationPeriodInDays: 365 },
      { enabled: false, enableKeyRotation: true },
      [],
      true,
      ["cancelDeletion"],
      false,
    ],
    [
      "pending deletion, rotating and declared enabled: no extra rotation call",
      "PendingDeletion",
      { enableKeyRotation: true, rotationPeriodInDays: 365 },
      { enableKeyRotation: true },
      [],
      true,
      ["cancelDeletion", "enable"],
      false,
    ],
    [
      "keyState ignored: a disabled key is not enabled",
      "Disabled",
      {},
      { enabled: true, description: "new" },
      ["enabled", "description"],
      false,
      ["updateDescription"],
      false,
    ],
    [
      "keyState ignored: an enabled key is not disabled",
      "Enabled",
      {},
      { enabled: false },
      ["enabled"],
      false,
      [],
      false,
    ],
    [
      "keyState ignored: a deletion is not cancelled, said in plain words",
      "PendingDeletion",
      {},
      { description: "new" },
      ["description"],
      false,
      [],
      true,
    ],
    [
      "a rotation change on a disabled key whose state is not in the diff is refused",
      "Disabled",
      {},
      { enableKeyRotation: true },
      ["rotation"],
      true,
      [],
      true,
    ],
    [
      "PendingImport declared disabled: metadata only",
      "PendingImport",
      {},
      { enabled: false, description: "new" },
      ["description"],
      true,
      ["updateDescription"],
      false,
    ],
    [
      "Unavailable: a change waits for the key store, said in plain words",
      "Unavailable",
      {},
      { description: "new" },
      ["description"],
      true,
      [],
      true,
    ],
    [
      "Unavailable with nothing to change: no calls, no refusal",
      "Unavailable",
      {},
      { enabled: false },
      [],
      true,
      [],
      false,
    ],
    [
      "Unavailable: enabling it is refused in plain words",
      "Unavailable",
      {},
      { enabled: true },
      ["enabled"],
      true,
      [],
      true,
    ],
    [
      "an unchanged policy is not put again",
      "Enabled",
      { policy: '{"Statement":[]}' },
      { policy: '{"Statement":[]}' },
      ["policy"],
      true,
      [],
      false,
    ],
  ];
  for (const [name, state, parts, declared, changed, keyStateManaged, expected, refused] of rows) {
    it(`${name}: [${expected.join(", ")}]${refused ? " and a refusal" : ""}`, () => {
      const scope = { changed: new Set(changed), keyStateManaged };
      const whole = planUpdate(desiredKey(declared), observed(state, parts), scope);
      const stepped = planSteps(desiredKey(declared), observed(state, parts), scope);
      for (const plan of [whole, stepped]) {
        expect(kinds(plan.actions)).to.deep.equal(expected);
        if (refused)
          expect(plan.refusal, "refusal").to.be.a("string").and.include("1234abcd-12ab-34cd-56ef-1234567890ab");
        else expect(plan.refusal, "refusal").to.equal(undefined);
      }
    });
  }

  it("keyState ignored: the refusal for a key pending deletion says what to do", () => {
    const plan = planUpdate(desiredKey({ description: "new" }), observed("PendingDeletion"), {
      changed: new Set<KeyPart>(["description"]),
      keyStateManaged: false,
    });
    expect(plan.refusal)
      .to.match(/ignoreChanges/)
      .and.match(/cancel the deletion yourself/);
  });
});

describe("planner: tags AWS reserves", () => {
  it("never removes aws: tags, even when undeclared", () => {
    expect(tagActions({}, { "aws:cloudformation:stack-name": "orders" })).to.deep.equal([]);
    expect(tagActions({ team: "a" }, { "aws:cloudformation:stack-name": "orders", old: "x" })).to.deep.equal([
      { kind: "untag", tagKeys: ["old"] },
      { kind: "tag", tags: { team: "a" } },
    ]);
  });
});
