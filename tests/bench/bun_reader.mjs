// A Bun (BoringSSL built in) reader for the stack part of `make bench`:
// reads the records tests/bench/paced_server.py sends over node:tls and
// prints the process's CPU time (user + system, so uprobe handling counts)
// per record read.
//
// Usage: bun bun_reader.mjs PORT RECORDS
// Output: records=N cpu_us_per_record=X
import tls from "node:tls";

const [port, want] = [Number(process.argv[2]), Number(process.argv[3])];
// discovery locates BoringSSL in a new Bun executable within ~0.5 s
await new Promise((r) => setTimeout(r, 1500));
let got = 0;
let t0 = null;
const sock = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () =>
  sock.write("GET /v1/stream HTTP/1.1\r\nHost: bench\r\n\r\n"),
);
sock.on("data", (chunk) => {
  if (t0 === null) t0 = process.cpuUsage();
  for (let i = chunk.indexOf("\n\n"); i >= 0; i = chunk.indexOf("\n\n", i + 2)) got++;
  if (got >= want) {
    const d = process.cpuUsage(t0);
    console.log(`records=${got} cpu_us_per_record=${((d.user + d.system) / (got - 1)).toFixed(3)}`);
    process.exit(0);
  }
});
sock.on("error", (e) => {
  console.error("bun_reader:", e.message);
  process.exit(1);
});
sock.on("close", () => {
  if (got < want) {
    console.error(`bun_reader: ${got} of ${want} records`);
    process.exit(1);
  }
});
