// Bad input is turned away before any KMS call, with a message naming the property and what is allowed: through the
// provider (check, import's read) and through the real engine (preview), counted at the proxy.
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { KmsKey, KmsKeyArgs, KmsKeyProvider } from "../../sdk";
import { INVALID_INPUTS, INVALID_KEY_REFERENCES, InvalidInput } from "../../testing/invalid-inputs";
import { figures, scanForSecrets } from "./figures";
import { capture, commandErrorText } from "../../testing/pulumi/output";
import { mapBounded } from "../../cli/pool";
import { useFakeCredentials } from "../../testing/credentials";
import { startKmsServerWithProxy } from "../../testing/kms/server";
import { PulumiHarness, TestStack } from "../../testing/pulumi/automation";

type Kms = Awaited<ReturnType<typeof startKmsServerWithProxy>>;

/** The diagnostic the engine prints for a resource's check failure, one line. */
function diagnosticFor(output: string, name: string): string | undefined {
  const marker = `resource '${name}'`;
  return output
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line.startsWith("error:") && line.includes(marker));
}

/** The preview's plan in one line ("+ 2 to create"). */
function summaryLine(output: string): string {
  const lines = output.split("\n").map((l) => l.trim());
  const start = lines.indexOf("Resources:");
  return start < 0
    ? "(no summary)"
    : lines
        .slice(start + 1)
        .filter(Boolean)
        .slice(0, 2)
        .join(", ");
}

function shorten(text: string, max = 220): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

describe("faults: bad input is turned away before any KMS call", function () {
  this.timeout(600_000);
  let kms: Kms;

  before(async () => {
    useFakeCredentials();
    kms = await startKmsServerWithProxy();
    figures.badInput = {
      rows: INVALID_INPUTS.length,
      rejectedByProvider: 0,
      rejectedByEngine: 0,
      references: INVALID_KEY_REFERENCES.length,
      referencesRejectedByProvider: 0,
      referencesRejectedByEngine: 0,
      apiCallsProvider: 0,
      apiCallsEngine: 0,
      engineMessages: [],
      importMessages: [],
    };
  });
  after(async () => {
    await kms?.stop();
  });

  describe("provider level", () => {
    const provider = new KmsKeyProvider();

    before(() => kms.proxy.resetCounts());

    it(`check() rejects each of the ${INVALID_INPUTS.length} invalid inputs, naming the property and what is allowed`, async () => {
      expect(INVALID_INPUTS.length).to.be.at.least(50);
      const problems: string[] = [];
      for (const row of INVALID_INPUTS) {
        const result = await provider.check({}, { endpoint: kms.endpoint, ...row.inputs });
        const failures = result.failures ?? [];
        const named = failures.find((f) => f.property === row.property && row.allowed.test(f.reason));
        if (named) figures.badInput!.rejectedByProvider++;
        else problems.push(`${row.name}: ${JSON.stringify(failures)}`);
        scanForSecrets("check() failure messages", JSON.stringify(failures));
      }
      expect(problems).to.deep.equal([]);
    });

    it(`the import option (importKeyId) and read reject each of the ${INVALID_KEY_REFERENCES.length} malformed key IDs and ARNs, naming the value and the forms allowed`, async () => {
      const problems: string[] = [];
      const clear = (message: string | undefined, reference: string) =>
        message !== undefined &&
        message.includes(JSON.stringify(reference)) &&
        /key ID \(a UUID/.test(message) &&
        /key ARN \(arn:PARTITION:SERVICE:\[REGION:\]ACCOUNT:key\/KEY-ID\)/.test(message);
      for (const reference of INVALID_KEY_REFERENCES) {
        // What `new KmsKey(name, args, { import: reference })` hands the provider.
        const result = await provider.check({}, { endpoint: kms.endpoint, importKeyId: reference });
        const failure = (result.failures ?? []).find((f) => f.property === "importKeyId");
        // A key read by a malformed ID (a state edited by hand, `pulumi refresh`).
        let readError: string | undefined;
        await provider.read(reference, { endpoint: kms.endpoint }).then(
          () => undefined,
          (err: Error) => (readError = err.message),
        );
        if (clear(failure?.reason, reference) && clear(readError, reference)) {
          figures.badInput!.referencesRejectedByProvider++;
        } else
          problems.push(
            `${JSON.stringify(reference)}: check ${failure?.reason ?? "passed"}; read ${readError ?? "passed"}`,
          );
      }
      expect(problems).to.deep.equal([]);
    });

    it("made no KMS call for any of them", () => {
      figures.badInput!.apiCallsProvider = kms.proxy.calls();
      expect(kms.proxy.calls()).to.equal(0);
    });
  });

  describe("through the real engine", () => {
    const WORKERS = 4;
    let harness: PulumiHarness;
    const stacks: TestStack[] = [];
    const outputs: string[] = [];

    before(async function () {
      this.timeout(900_000);
      harness = await PulumiHarness.create({ kmsEndpoint: kms.endpoint });
      for (let i = 0; i < WORKERS; i++) stacks.push(await harness.stack(`bad-input-${i}`, async () => undefined));
      kms.proxy.resetCounts();
    });
    after(async () => {
      for (const text of outputs) scanForSecrets("engine stdout/stderr (bad input)", text);
      await harness?.cleanup({ destroy: false });
    });

    /** One preview of `program` on a free worker stack; what the user sees, and whether it failed. */
    async function preview(stack: TestStack, program: pulumi.automation.PulumiFn) {
      const out = capture();
      let failed = false;
      let error = "";
      try {
        await stack.stack.preview({ program, onOutput: out.onOutput, onError: out.onError });
      } catch (err) {
        failed = true;
        error = commandErrorText(err);
      }
      outputs.push(out.stdout, out.stderr);
      return { failed, stdout: out.stdout, error };
    }

    it(`pulumi preview fails for each invalid row, the engine printing the property and what is allowed (one program per row: the engine stops at the first invalid resource)`, async () => {
      const rows = INVALID_INPUTS.map((row, index) => ({ row, index }));
      const problems: string[] = [];
      const seen: { index: number; line: string }[] = [];
      const queue = [...rows];
      await mapBounded(stacks, WORKERS, async (stack) => {
        for (let item = queue.shift(); item; item = queue.shift()) {
          const { row, index } = item;
          const name = `row${index}`;
          const result = await preview(stack, async () => {
            new KmsKey(name, row.inputs as KmsKeyArgs);
          });
          const line = diagnosticFor(result.stdout, name);
          const ok =
            result.failed &&
            line !== undefined &&
            // A failure without a property (nothing to echo) reads "resource 'x' has a problem: ...".
            (row.property === "" || line.includes(`property ${row.property} `)) &&
            row.allowed.test(line.slice(line.indexOf("has a problem:")));
          if (ok) figures.badInput!.rejectedByEngine++;
          else problems.push(`${row.name}: failed=${result.failed}, line=${line ?? "none"}`);
          seen.push({ index, line: line ?? "(no diagnostic)" });
        }
      });
      figures.notes.push(
        'Pulumi 3.248 stops a preview at the first resource whose check fails (step_generator.go: "resource ... is invalid"); ' +
          "it lists all of that resource's failures, so the engine rows run one program each.",
      );
      seen.sort((a, b) => a.index - b.index);
      figures.badInput!.engineMessages = seen.map(
        ({ index, line }) => `${shorten(INVALID_INPUTS[index].name, 40).padEnd(40)} ${shorten(line)}`,
      );
      expect(problems).to.deep.equal([]);
    });

    it("the engine's line for an endpoint carrying user:password@ does not print the credentials", async () => {
      const row = INVALID_INPUTS.find((r) => r.name === "endpoint carrying credentials") as InvalidInput;
      const endpoint = row.inputs.endpoint as string;
      const userinfo = new URL(endpoint).password;
      const result = await preview(stacks[0], async () => {
        new KmsKey("credentials-in-endpoint", row.inputs as KmsKeyArgs);
      });
      expect(result.failed).to.equal(true);
      {
        const line = diagnosticFor(result.stdout, "credentials-in-endpoint") ?? "";
        expect(result.stdout, `the engine printed ${JSON.stringify(shorten(line, 160))}`).to.not.include(
          `:${userinfo}@`,
        );
      }
    });

    it("importing each malformed key reference (the import resource option) fails in preview, naming importKeyId and the forms allowed", async () => {
      const problems: string[] = [];
      const seen: { index: number; line: string }[] = [];
      const queue = INVALID_KEY_REFERENCES.map((reference, index) => ({ reference, index }));
      let empty: { failed: boolean; stdout: string } | undefined;
      await mapBounded(stacks, WORKERS, async (stack) => {
        for (let item = queue.shift(); item; item = queue.shift()) {
          const { reference, index } = item;
          const result = await preview(stack, async () => {
            new KmsKey("imported", {}, { import: reference });
          });
          const line = diagnosticFor(result.stdout, "imported");
          const ok =
            result.failed &&
            line !== undefined &&
            line.includes("property importKeyId ") &&
            line.includes(JSON.stringify(reference)) &&
            /key ARN \(arn:PARTITION/.test(line);
          if (ok) figures.badInput!.referencesRejectedByEngine++;
          else if (reference === "") empty = result;
          else problems.push(`${JSON.stringify(reference)}: failed=${result.failed}, line=${line ?? "none"}`);
          const shown =
            line ?? (result.failed ? "(no diagnostic)" : `preview succeeded: ${summaryLine(result.stdout)}`);
          seen.push({ index, line: `${JSON.stringify(reference).padEnd(72)} ${shorten(shown, 160)}` });
        }
      });
      seen.sort((a, b) => a.index - b.index);
      figures.badInput!.importMessages = seen.map((s) => s.line);
      expect(problems).to.deep.equal([]);
      if (empty) {
        const planned = empty;
        {
          expect(planned.failed, `{ import: "" } previewed without error: ${summaryLine(planned.stdout)}`).to.equal(
            true,
          );
        }
      }
    });

    it("made no KMS call for any of them", () => {
      figures.badInput!.apiCallsEngine = kms.proxy.calls();
      expect(kms.proxy.calls()).to.equal(0);
    });
  });
});
