// Starts moto's standalone server (`moto_server`) as a realistic stand-in for AWS KMS in tests.
//
// Binary: $MOTO_SERVER if set, else <repo root>/.venv/bin/moto_server if it exists, else `moto_server` on PATH.
// The server listens on 127.0.0.1 on a free port; startKmsServer() resolves once it answers a KMS ListKeys.
// Every server started here is killed when the Node process exits (normally or by SIGINT/SIGTERM/SIGHUP).
// Its Python loads moto/sitecustomize.py beside this file: a correction to moto that the proxy cannot make (a replica's
// own aliases).
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { KmsProxy, ProxyOptions } from "./proxy";
import { REPO_ROOT } from "../repo";

export interface KmsServer {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  /** Kills the server (and its children) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
/** The folder of moto's sitecustomize.py (source, not dist: it is Python). */
const MOTO_PATCHES = path.join(REPO_ROOT, "testing", "kms", "moto");
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_BYTES = 64 * 1024;

/** Finds a free TCP port on 127.0.0.1 by listening on port 0 and closing again. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** The moto_server binary to run (see the file comment). */
function motoServerBinary(): string {
  const fromEnv = process.env.MOTO_SERVER;
  if (fromEnv) return fromEnv;
  const venv = path.join(REPO_ROOT, ".venv", "bin", "moto_server");
  if (fs.existsSync(venv)) return venv;
  return "moto_server";
}

// ---- process bookkeeping: kill every live server when this process goes away ----

const live = new Set<ChildProcess>();
let exitHooksInstalled = false;

function killHard(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL"); // the whole process group (detached => child is the group leader)
  } catch {
    // group already gone
  }
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", () => {
    for (const child of live) killHard(child);
    live.clear();
  });
  // The server runs in its own process group, so a terminal's Ctrl+C does not reach it. Kill it on these signals,
  // then let the signal do what it would have done had we not listened (unless somebody else handles it).
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      for (const child of live) killHard(child);
      live.clear();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

// ---- starting ----

function tail(buf: string): string {
  return buf.length > OUTPUT_TAIL_BYTES ? buf.slice(buf.length - OUTPUT_TAIL_BYTES) : buf;
}

/** One KMS ListKeys against the server; resolves true iff it answered HTTP 200. */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const body = "{}";
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/",
        agent: false,
        timeout: 2_000,
        headers: {
          "X-Amz-Target": "TrentService.ListKeys",
          "Content-Type": "application/x-amz-json-1.1",
          "Content-Length": Buffer.byteLength(body),
          Authorization:
            "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
        res.on("error", () => resolve(false));
      },
    );
    req.on("timeout", () => req.destroy(new Error("probe timeout")));
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class StartError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

async function startOnce(bin: string, port: number): Promise<KmsServer> {
  installExitHooks();
  const child = spawn(bin, ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group, so stop() can kill moto and anything it spawned
    env: { ...process.env, PYTHONPATH: [MOTO_PATCHES, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) },
  });
  live.add(child);

  let output = "";
  const onData = (chunk: Buffer) => {
    output = tail(output + chunk.toString("utf8"));
  };
  // Always drain both pipes: werkzeug logs every request, and a full pipe would block the server.
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);

  let exited = false;
  let exitInfo = "";
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.on("exit", (code, signal) => {
      exited = true;
      exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
      live.delete(child);
      resolve();
    });
    child.on("error", (err) => {
      spawnError = err;
      if (child.pid === undefined) {
        exited = true;
        live.delete(child);
        resolve();
      }
    });
  });

  const stop = async (): Promise<void> => {
    if (exited) return;
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
    } catch {
      child.kill("SIGTERM");
    }
    const timer = setTimeout(() => killHard(child), STOP_GRACE_MS);
    await exitPromise;
    clearTimeout(timer);
    // make sure nothing else in the group survived the leader
    killHard(child);
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError && (spawnError as NodeJS.ErrnoException).code === "ENOENT") {
      await stop();
      throw new StartError(
        `moto_server not found (tried "${bin}"). Install it (pip install "moto[server]"), ` +
          `create .venv with it, or set MOTO_SERVER to the binary.`,
        false,
      );
    }
    if (exited) {
      const inUse = /address already in use|errno 98/i.test(output);
      throw new StartError(
        `moto_server ("${bin}" on port ${port}) exited before answering (${exitInfo}${spawnError ? `, ${spawnError.message}` : ""}). Output:\n${output}`,
        inUse,
      );
    }
    if (await probe(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new StartError(
        `moto_server ("${bin}" on port ${port}) did not answer a KMS ListKeys within ${START_TIMEOUT_MS / 1000}s. Output:\n${output}`,
        false,
      );
    }
    await sleep(100);
  }

  // A forgotten server must not keep the test process alive; the exit hooks kill it.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  return { endpoint: `http://127.0.0.1:${port}`, port, stop };
}

/** Starts moto_server on 127.0.0.1 on a free port and waits (up to 60 s) until it answers KMS requests. */
export async function startKmsServer(): Promise<KmsServer> {
  const bin = motoServerBinary();
  let lastError: unknown;
  // The free port can be taken between finding and binding it; retry a few times in that case only.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await findFreePort();
    try {
      return await startOnce(bin, port);
    } catch (err) {
      lastError = err;
      if (!(err instanceof StartError) || !err.retryable) throw err;
    }
  }
  throw lastError;
}

/** moto plus a KmsProxy in front of it; `endpoint` is the proxy's. stop() stops both. */
export async function startKmsServerWithProxy(
  opts?: ProxyOptions,
): Promise<{ server: KmsServer; proxy: KmsProxy; endpoint: string; stop(): Promise<void> }> {
  const server = await startKmsServer();
  let proxy: KmsProxy;
  try {
    proxy = await KmsProxy.start({ ...opts, target: server.endpoint });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    server,
    proxy,
    endpoint: proxy.endpoint,
    async stop() {
      try {
        await proxy.stop();
      } finally {
        await server.stop();
      }
    },
  };
}
