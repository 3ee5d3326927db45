// One emulated lamp on 32-bit MicroPython: the webassembly port (the npm package pinned in
// emulator/wasm/__init__.py) run by Node. Its object layout is the ESP32's (4-byte pointers and words, 16-byte GC blocks), which the
// 64-bit unix port is not, so this is the interpreter that measures the firmware's heap as a lamp spends it.
//
//   node lamp.mjs MICROPYTHON_DIR HEAP_BYTES ROMFS_IMAGE MAIN_PY LAMP_DIR
//
// - /rom: the application's ROMFS image, registered outside the GC heap (memory-mapped flash);
// - /flash: the lamp's own files (board.json, config.json, state, queue), copied in at start and written
//   back to LAMP_DIR after every change, before each board-bus request, so they survive kills and resets;
// - board bus: one JSON line per request on stdout, one reply line read from stdin (the Python emulator is
//   the other end, emulator/upy.py); the firmware opens it as the device /dev/lampbus, its bus in
//   board.json (firmware/hal/emulated.py);
// - console: what the firmware prints goes to stderr (the emulator's console.log);
// - cryptolib: the ESP32 port has it in C, this build does not: emulator/wasm/cryptolib.py over /dev/aes,
//   Node's AES.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";

const [mpDir, heapBytes, romfsPath, mainPath, lampDir] = process.argv.slice(2);
const here = path.dirname(new URL(import.meta.url).pathname);
const FLASH = "/flash";
const CONSOLE = "console.log"; // the emulator's log of this lamp, not part of its flash

const say = (line) => fs.writeSync(2, line + "\n");
const { loadMicroPython } = await import(path.join(mpDir, "micropython.mjs"));
const mp = await loadMicroPython({
  heapsize: parseInt(heapBytes, 10),
  romfs: new Uint8Array(fs.readFileSync(romfsPath)),
  stdout: say,
  stderr: say,
});
const FS = mp.FS;

// ---------------------------------------------------------------- flash, mirrored to LAMP_DIR
FS.mkdir(FLASH);
const present = new Set(); // files of /flash as last written back
for (const name of fs.readdirSync(lampDir)) {
  const full = path.join(lampDir, name);
  if (name === CONSOLE || !fs.statSync(full).isFile()) continue;
  FS.writeFile(`${FLASH}/${name}`, fs.readFileSync(full));
  present.add(name);
}
let lastWriteBack = Date.now();

function writeBack() {
  const started = Date.now();
  const names = new Set(FS.readdir(FLASH).filter(
    (n) => n !== CONSOLE && FS.isFile(FS.stat(`${FLASH}/${n}`).mode))); // a flat flash: files only
  for (const name of names) {
    // ">=": a file changed in the millisecond of the last write-back is written again, never missed.
    if (present.has(name) && FS.stat(`${FLASH}/${name}`).mtime.getTime() < lastWriteBack) continue;
    const tmp = path.join(lampDir, `.${name}.tmp`);
    fs.writeFileSync(tmp, FS.readFile(`${FLASH}/${name}`));
    fs.renameSync(tmp, path.join(lampDir, name)); // as the firmware's own writes: old or new, never half
  }
  for (const name of present) {
    if (!names.has(name)) fs.rmSync(path.join(lampDir, name), { force: true });
  }
  present.clear();
  names.forEach((n) => present.add(n));
  lastWriteBack = started;
}

// ---------------------------------------------------------------- character devices
// Calls from Python into JS functions leave a proxy record on the MicroPython heap per call until Node's
// event loop runs finalizers, which it never does while the firmware runs; so the firmware reaches the host
// through device files instead, read and written like a serial port, byte by byte.
let stdinBuf = Buffer.alloc(0);
const chunk = Buffer.alloc(65536);
const nap = new Int32Array(new SharedArrayBuffer(4));

function readLine() {
  for (;;) {
    const nl = stdinBuf.indexOf(10);
    if (nl >= 0) {
      const line = stdinBuf.subarray(0, nl + 1);
      stdinBuf = stdinBuf.subarray(nl + 1);
      return line;
    }
    let n;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
      Atomics.wait(nap, 0, 0, 1); // a non-blocking pipe: wait a millisecond, synchronously
      continue;
    }
    if (n === 0) process.exit(0); // the emulator closed the bus: the run is over
    stdinBuf = Buffer.concat([stdinBuf, chunk.subarray(0, n)]);
  }
}

function device(name, written, nextByte) {
  FS.createDevice("/dev", name, nextByte, written);
}

// /dev/lampbus: the board bus. A request line goes out on stdout once its newline is written; reading
// waits for the reply line on stdin.
let request = [];
let reply = [];
device("lampbus", (byte) => {
  request.push(byte);
  if (byte === 10) {
    writeBack();
    fs.writeSync(1, Buffer.from(request));
    request = [];
  }
}, () => {
  if (reply.length === 0) reply = Array.from(readLine());
  return reply.shift();
});

// /dev/aes: write a 16-byte key then a 16-byte block, read 16 bytes: the block under AES-128-ECB.
let aesIn = [];
let aesOut = [];
device("aes", (byte) => {
  aesIn.push(byte);
  if (aesIn.length === 32) {
    const cipher = crypto.createCipheriv("aes-128-ecb", Buffer.from(aesIn.slice(0, 16)), null);
    cipher.setAutoPadding(false);
    aesOut = Array.from(Buffer.concat([cipher.update(Buffer.from(aesIn.slice(16))), cipher.final()]));
    aesIn = [];
  }
}, () => (aesOut.length ? aesOut.shift() : null));

FS.mkdir("/lib");
FS.writeFile("/lib/cryptolib.py", fs.readFileSync(path.join(here, "cryptolib.py")));
FS.writeFile("/main.py", fs.readFileSync(mainPath));

// ---------------------------------------------------------------- boot, then the loop
// This build collects garbage only when JS calls into MicroPython from the top level (it cannot scan
// wasm's own stack), never inside a call. So main.py boots the lamp and returns (board.json "loop":
// "host", firmware/shell/app.py App.run), and each loop iteration is one call from here, App.tick(): the
// heap is collected between iterations, as the firmware does at the end of each loop, and what one
// iteration allocates is the firmware's own "heap: peak" (live + that iteration's garbage).
function guarded(call) {
  try {
    call();
  } catch (error) {
    if (error.name !== "PythonError") throw error;
    say(`Traceback: ${error.type}: ${error.message}`);
    process.exit(1); // as a crashed lamp: the emulator restarts it, like the watchdog
  }
}

guarded(() => mp.runPython(`
import os
os.chdir("${FLASH}")
_f = open("/main.py")
_code = compile(_f.read(), "main.py", "exec")
_f.close()
del _f, os
exec(_code)
del _code
`));
const app = mp.globals.get("app");
if (app === undefined || app === null) {
  say("lampfleet wasm: main.py returned without an app");
  process.exit(1);
}
const tick = app.tick;
const memAlloc = mp.pyimport("gc").mem_alloc;
let maxLive = 0;
for (;;) {
  guarded(tick);
  const live = memAlloc(); // called from the top level: collected first
  if (live > maxLive) {
    maxLive = live;
    say(`wasm32 heap: live ${live} bytes after a collection (most so far)`);
  }
}
