// Usage: node wait-http.mjs URL TIMEOUT_MS [PID]
// Polls URL until it answers 200, for at most TIMEOUT_MS. Exits 1 on timeout,
// or as soon as process PID (the server) is gone.
const [url, timeoutArg = "15000", pidArg] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg);
const pid = pidArg ? Number(pidArg) : 0;

function alive() {
  if (!pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (let i = 0; Date.now() < deadline && i < 10000; i++) {
  if (!alive()) {
    console.error(`wait-http: server process ${pid} exited before ${url} answered`);
    process.exit(1);
  }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    if (res.status === 200) process.exit(0);
  } catch {
    // not up yet
  }
  await new Promise((r) => setTimeout(r, 100));
}
console.error(`wait-http: ${url} did not answer 200 within ${timeoutArg} ms`);
process.exit(1);
