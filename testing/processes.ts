// Process trees, from /proc: the Automation API runs `pulumi` as a child of this process and the provider plugin runs
// under it, so a test that kills a run kills the whole tree.
import * as fs from "node:fs";

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
}

function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ")".
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pid, state: rest[0], ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

function allProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info) out.push(info);
  }
  return out;
}

function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** The process and all its descendants (the process first). */
function processTree(root: number): number[] {
  const processes = allProcesses();
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const p of processes) if (p.ppid === tree[i]) tree.push(p.pid);
  }
  return tree;
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const info = procInfo(pid);
  return info !== undefined && info.state !== "Z" && info.state !== "X";
}

/**
 * SIGKILL a process and every descendant, by pid. The tree is stopped (SIGSTOP) until it stops growing, so no
 * process can start another between listing and killing. Returns what was killed, with command lines.
 */
export function killTree(root: number): { pid: number; command: string }[] {
  let tree: number[] = [];
  for (;;) {
    const now = processTree(root);
    for (const pid of now) {
      try {
        process.kill(pid, "SIGSTOP");
      } catch {
        // already gone
      }
    }
    if (now.length === tree.length) break;
    tree = now;
  }
  const killed = tree.map((pid) => ({ pid, command: commandLine(pid).join(" ") }));
  for (const { pid } of killed) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return killed;
}
