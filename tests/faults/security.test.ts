// Security under faults: a plain-http endpoint from the environment is refused unless explicitly allowed, and
// credentials stay out of what failing runs print and keep (engine output with the engine's own verbose logs).
import * as net from "node:net";
import { expect } from "chai";
import { ScheduleKeyDeletionCommand } from "@aws-sdk/client-kms";
import { KmsKey, KmsKeyProvider } from "../../sdk";
import { figures, scanForSecrets, SECRET_VALUES } from "./figures";
import { capture, commandErrorText } from "../../testing/pulumi/output";
import { useFakeCredentials } from "../../testing/credentials";
import { outOfBand } from "../../testing/kms/out-of-band";
import { startKmsServerWithProxy } from "../../testing/kms/server";
import { PulumiHarness } from "../../testing/pulumi/automation";

type Props = Record<string, unknown>;
type Kms = Awaited<ReturnType<typeof startKmsServerWithProxy>>;

/**
 * A TCP forwarder to a loopback port, named by the IPv4-mapped IPv6 form of 127.0.0.1: a URL the provider does not
 * take for loopback (only 127.0.0.0/8, localhost and [::1] count), while every packet stays on loopback.
 */
async function forwarder(toPort: number): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    count++;
    const upstream = net.connect(toPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://[::ffff:127.0.0.1]:${port}`,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const ENV_NAMES = [
  "AWS_ENDPOINT_URL_KMS",
  "AWS_ENDPOINT_URL",
  "PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT",
  "AWS_MAX_ATTEMPTS",
  "AWS_RETRY_MODE",
];

describe("faults: security", function () {
  this.timeout(300_000);
  let kms: Kms;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    for (const name of ENV_NAMES) saved[name] = process.env[name];
    for (const name of ENV_NAMES) delete process.env[name];
    useFakeCredentials();
    kms = await startKmsServerWithProxy();
  });
  after(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await kms?.stop();
  });

  describe("a plain-http endpoint from the environment, through the provider", () => {
    const provider = new KmsKeyProvider();
    let remote: Awaited<ReturnType<typeof forwarder>>;
    let existing: { id: string; outs: Props };
    const refusals: string[] = [];
    let accepted = 0;
    let callsWhileRefused = 0;

    before(async () => {
      remote = await forwarder(new URL(kms.endpoint).port ? Number(new URL(kms.endpoint).port) : 80);
      const inputs = (await provider.check({}, { endpoint: kms.endpoint })).inputs as Props;
      const created = await provider.create(inputs);
      existing = { id: created.id, outs: created.outs as Props };
    });
    after(async () => {
      figures.insecureEndpoint = { refused: refusals.length, accepted, apiCallsWhileRefused: callsWhileRefused };
      figures.notes.push(
        `The plain-http endpoint under test was ${remote.url.replace(/:\d+$/, ":PORT")} (a loopback forwarder to the proxy, named so that it does not look like loopback); ` +
          'PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT allows it only as exactly "true" ("TRUE", "1", "yes" are refused).',
      );
      for (const name of ENV_NAMES) delete process.env[name];
      await remote?.close();
    });
    beforeEach(() => {
      for (const name of ENV_NAMES) delete process.env[name];
      kms.proxy.resetCounts();
    });

    /** Every operation with connection inputs left out, so the endpoint comes from the environment. */
    async function everyOperation(): Promise<string[]> {
      const messages: string[] = [];
      const attempt = async (run: () => Promise<unknown>) =>
        run().then(
          () => messages.push("(accepted)"),
          (err: Error) => messages.push(err.message),
        );
      const inputs = (await provider.check({}, { description: "from the environment" })).inputs as Props;
      await attempt(() => provider.create(inputs));
      await attempt(() => provider.read(existing.id, {}));
      await attempt(() => provider.update(existing.id, { keyState: "Enabled" }, inputs));
      await attempt(() => provider.delete(existing.id, {}));
      await attempt(() => provider.create({ ...inputs, importKeyId: existing.id }));
      return messages;
    }

    for (const variable of ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]) {
      for (const flag of [undefined, "1", "yes", "TRUE"]) {
        const label = flag === undefined ? "unset" : `"${flag}"`;
        it(`${variable} over plain http to a non-loopback host, PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT ${label}: every operation refuses it before any call, saying how to allow it`, async () => {
          process.env[variable] = remote.url;
          if (flag !== undefined) process.env.PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT = flag;
          const messages = await everyOperation();
          for (const message of messages) {
            expect(message).to.include(new URL(remote.url).origin).and.include("plain http");
            expect(message, "names the environment variables").to.include("AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL");
            expect(message, "says how to allow it")
              .to.include("PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT=true")
              .and.include("allowInsecureEndpoint: true")
              .and.include("use https");
            refusals.push(message);
            scanForSecrets("insecure-endpoint refusals", message);
          }
          expect(messages).to.have.length(5);
          callsWhileRefused += kms.proxy.calls();
          expect(kms.proxy.calls(), "no KMS call").to.equal(0);
          expect(remote.connections(), "nothing reached the endpoint").to.equal(0);
        });
      }
    }

    it("PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT=true accepts it: create, read, update and delete go through that endpoint", async () => {
      process.env.AWS_ENDPOINT_URL_KMS = remote.url;
      process.env.PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT = "true";
      const inputs = (await provider.check({}, { description: "allowed by the environment" })).inputs as Props;
      const created = await provider.create(inputs);
      const read = await provider.read(created.id, created.outs as Props);
      await provider.update(created.id, read.props as Props, { ...inputs, description: "updated" });
      await provider.delete(created.id, read.props as Props);
      accepted += 4;
      expect(kms.proxy.calls("CreateKey")).to.equal(1);
      expect(kms.proxy.calls("ScheduleKeyDeletion")).to.equal(1);
      expect(remote.connections(), "the calls went through the non-loopback endpoint").to.be.greaterThan(0);
    });

    it("allowInsecureEndpoint: true on the key accepts it without the environment flag", async () => {
      process.env.AWS_ENDPOINT_URL = remote.url;
      const inputs = (await provider.check({}, { allowInsecureEndpoint: true })).inputs as Props;
      const created = await provider.create(inputs);
      accepted += 1;
      expect(created.id).to.be.a("string");
      expect(kms.proxy.calls("CreateKey")).to.equal(1);
    });

    it("plain http to loopback from the environment needs nothing", async () => {
      process.env.AWS_ENDPOINT_URL_KMS = kms.endpoint;
      const read = await provider.read(existing.id, {});
      accepted += 1;
      expect(read.id).to.equal(existing.id);
    });
  });

  describe("credentials in a failing engine run, with the engine's verbose logs on", () => {
    let harness: PulumiHarness;

    before(async function () {
      this.timeout(600_000);
      harness = await PulumiHarness.create({
        kmsEndpoint: kms.endpoint,
        env: { AWS_MAX_ATTEMPTS: "3" },
      });
    });
    after(async () => {
      await harness?.cleanup({ destroy: false });
    });

    it("appear in no line of pulumi up --refresh -v=9 --logtostderr --logflow, nor the state it leaves, when the provider fails", async () => {
      const stack = await harness.stack("secrets", async () => {
        new KmsKey("denied", { description: "cancel denied", deletionWindowInDays: 7 });
        new KmsKey("throttled", { description: "enable throttled", deletionWindowInDays: 7 });
      });
      const made = capture();
      await stack.stack.up({ onOutput: made.onOutput, onError: made.onError });
      const keys = await stack.keys();
      const ids = Object.fromEntries(keys.map((k) => [k.urn.split("::").pop()!, k.id!]));
      const moto = outOfBand(kms.server.endpoint);
      for (const id of Object.values(ids)) {
        await moto.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
      }
      moto.destroy();
      kms.proxy.addFault({ operation: "CancelKeyDeletion", kind: "accessDenied", keyId: ids.denied });
      kms.proxy.addFault({ operation: "EnableKey", kind: "throttle", keyId: ids.throttled });
      const out = capture();
      let error = "";
      try {
        await stack.stack.up({
          refresh: true,
          logVerbosity: 9,
          logToStdErr: true,
          logFlow: true,
          onOutput: out.onOutput,
          onError: out.onError,
        });
      } catch (err) {
        error = commandErrorText(err);
      } finally {
        kms.proxy.clearFaults();
      }
      const exported = JSON.stringify(await stack.exportState());
      const everything = [made.stdout, made.stderr, out.stdout, out.stderr, error].join("\n");
      // The searches can find what is there: the failures and the keys are in the output and the state.
      expect(error, "the run failed").to.not.equal("");
      expect(everything).to.include("kms:CancelKeyDeletion").and.include(ids.denied).and.include("ThrottlingException");
      expect(out.stderr.length, "verbose logs were written").to.be.greaterThan(100_000);
      expect(exported).to.include(ids.denied);
      const found = [
        ...scanForSecrets("engine stdout/stderr with -v=9 logs (failing run)", everything),
        ...scanForSecrets("exported stack state", exported),
      ];
      expect(found, `found: ${found.map((f) => SECRET_VALUES.indexOf(f)).join(", ")}`).to.deep.equal([]);
    });
  });
});
