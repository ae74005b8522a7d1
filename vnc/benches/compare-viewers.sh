#!/bin/sh
# Compares how much CPU and time porthole-vnc and other VNC viewers need to
# consume the same session, encoding by encoding.
#
# 1. Records one session per encoding from a 1920x1080 Xvnc showing a
#    slideshow of photo-like and text pictures (`porthole-vnc record`, all
#    encodings recorded at once from the same slideshow).
# 2. Decodes each recording with `porthole-vnc replay --bench` (the core
#    alone, no socket).
# 3. Plays each recording with `porthole-vnc serve` to: porthole-vnc's own
#    client (`porthole-vnc capture`, decoding into its framebuffer, no
#    drawing), the `VncDisplay` widget in the `gvnc` example (release, at
#    1:1, GL renderer on Mesa's llvmpipe), TigerVNC's `vncviewer` and
#    gtk-vnc's `gvncviewer`, all three drawing into the same 1920x1080 Xvfb. serve sends ServerInit, waits 2 s so the
#    viewer's start-up is over, then the updates as fast as the viewer reads.
#    A viewer's CPU is counted from the first update byte until it exits
#    (serve closes the connection once the viewer is done; porthole-vnc
#    capture is counted until it closes, before it encodes its PNG), and
#    the X server's CPU over the same span is shown too, since a viewer that
#    draws through X makes the X server work. Each client runs
#    COMPARE_REPEAT times (default 3); the median run by CPU is shown. The
#    wall time is serve's: until the client's first update request after
#    the last byte was sent, or its close. The widget asks for the next
#    update as soon as one starts arriving, so for it the time until its
#    last frame was painted is shown as well ("drawn").
# COMPARE_KEEP=DIR keeps the recordings there. COMPARE_RECORDINGS=DIR plays
# DIR/ENCODING.fbs instead of recording the slideshow, e.g. a steady stream
# of full-screen updates from the latency benchmark's crafted server:
#   target/release/deps/latency-* --crafted-server zrle 5999:10 &
#   porthole-vnc record 127.0.0.1::5999 DIR/zrle.fbs --duration 10
#
# Usage: vnc/benches/compare-viewers.sh [ENCODINGS]   (default: every
# encoding porthole-vnc record accepts among raw,hextile,zrle,tight,tight-jpeg)
# Needs: Xvnc, Xvfb, ImageMagick, tigervnc-viewer, gvncviewer
# (apt-get install tigervnc-standalone-server xvfb imagemagick tigervnc-viewer gvncviewer).
# PORTHOLE_VNC and GVNC may name built binaries; otherwise they are built in
# release mode.
set -eu

here=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${PORTHOLE_VNC:-}" ]; then
    cargo build --quiet --release -p porthole-vnc --bin porthole-vnc --manifest-path "$here/Cargo.toml"
    PORTHOLE_VNC="${CARGO_TARGET_DIR:-$here/target}/release/porthole-vnc"
fi
if [ -z "${GVNC:-}" ]; then
    cargo build --quiet --release -p porthole-vnc --features gtk --example gvnc --manifest-path "$here/Cargo.toml"
    GVNC="${CARGO_TARGET_DIR:-$here/target}/release/examples/gvnc"
fi
export PORTHOLE_VNC GVNC
for tool in Xvnc Xvfb convert display vncviewer gvncviewer; do
    command -v "$tool" >/dev/null || { echo "compare-viewers: $tool is not installed" >&2; exit 1; }
done

exec /usr/bin/python3 - "${1:-raw,hextile,zrle,tight,tight-jpeg}" <<'PYTHON'
import os, re, select, shutil, signal, socket, subprocess, sys, tempfile, time

binary = os.environ["PORTHOLE_VNC"]
gvnc = os.environ["GVNC"]
wanted = sys.argv[1].split(",")
work = tempfile.mkdtemp(prefix="porthole-compare-")
children = []

def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    children.append(p)
    return p

def cleanup():
    for p in children:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)

def free_port(low=6000):
    # gvncviewer takes host:DISPLAY, so ports stay at 5900 + display.
    for port in range(low, 6900):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass
    raise SystemExit("no free port")

def free_display(low):
    n = low
    while os.path.exists(f"/tmp/.X11-unix/X{n}") or os.path.exists(f"/tmp/.X{n}-lock"):
        n += 1
    return n

def cpu_of(pid):
    """User+system CPU seconds of a live process, from /proc (10 ms ticks)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None

def wait_for_socket(display, timeout=20):
    deadline = time.time() + timeout
    while not os.path.exists(f"/tmp/.X11-unix/X{display}"):
        if time.time() > deadline:
            raise SystemExit(f"X display :{display} did not start")
        time.sleep(0.1)

try:
    recordings = os.environ.get("COMPARE_RECORDINGS")
    if recordings:
        # Recordings made elsewhere, e.g. of the latency benchmark's crafted
        # server (see the header).
        encodings = []
        for name in wanted:
            shutil.copy(f"{recordings}/{name}.fbs", f"{work}/{name}.fbs")
            encodings.append((name, None))
        display = free_display(70)
    else:
        # Pictures: photo-like fractals and pages of text, 1920x1080.
        pictures = []
        for seed in range(1, 6):
            path = f"{work}/photo{seed}.png"
            subprocess.run(["convert", "-size", "1920x1080", "-seed", str(seed), "plasma:fractal",
                            "-blur", "0x1", path], check=True)
            pictures.append(path)
        text = "\n".join(f"{i:4}  the quick brown fox jumps over the lazy dog 0123456789 {{}}[]()<>;:,.!?"
                         for i in range(70))
        for n in range(2):
            path = f"{work}/text{n}.png"
            subprocess.run(["convert", "-size", "1920x1080", "xc:white", "-font", "DejaVu-Sans-Mono",
                            "-pointsize", str(13 + n), "-fill", "black", "-annotate", "+10+16", text, path],
                           check=True)
            pictures.insert(2 + n * 2, path)

        # The recorded server.
        display = free_display(70)
        port = free_port(6100)
        xvnc = spawn(["Xvnc", f":{display}", "-geometry", "1920x1080", "-depth", "24",
                      "-SecurityTypes", "None", "-rfbport", str(port), "-localhost",
                      "-nolisten", "tcp", "-AlwaysShared"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_socket(display)
        time.sleep(0.5)
        env = dict(os.environ, DISPLAY=f":{display}")
        subprocess.run(["display", "-window", "root", pictures[-1]], env=env,
                       stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        # Which encodings this build of porthole-vnc accepts.
        encodings = []
        for name in wanted:
            forced = ["--encodings", "tight", "--quality", "6"] if name == "tight-jpeg" \
                else ["--encodings", name, "--quality", "lossless"]
            check = subprocess.run([binary, "record", "x:1", f"{work}/check.fbs"] + forced,
                                   capture_output=True, text=True)
            if "unknown encoding" in check.stderr or "unknown option" in check.stderr:
                print(f"skipping {name}: {check.stderr.strip()}", file=sys.stderr)
            else:
                encodings.append((name, forced))

        slideshow_time = 1.5 * len(pictures) + 2
        recorders = []
        for name, forced in encodings:
            path = f"{work}/{name}.fbs"
            recorders.append((name, path, spawn(
                [binary, "record", f"127.0.0.1::{port}", path] + forced +
                ["--duration", str(slideshow_time)], stderr=subprocess.PIPE, text=True)))
        time.sleep(1)
        for picture in pictures:
            started = time.time()
            subprocess.run(["display", "-window", "root", picture], env=env,
                           stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(max(0.0, 1.5 - (time.time() - started)))
        for name, path, p in recorders:
            _, err = p.communicate()
            if p.returncode != 0:
                raise SystemExit(f"recording {name} failed: {err.strip()}")
            print(f"{name}: {err.strip()}", file=sys.stderr)
        xvnc.kill()
        xvnc.wait()

    # The viewers' display.
    vdisplay = free_display(display + 1)
    xvfb = spawn(["Xvfb", f":{vdisplay}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_socket(vdisplay)
    venv = dict(os.environ, DISPLAY=f":{vdisplay}")

    def play(recording, client_args):
        """Serves `recording` to the client started by client_args(port);
        returns (client CPU s, X server CPU s, consumed s)."""
        port = free_port(6000 + (os.getpid() % 300))
        serve = spawn([binary, "serve", recording, "--listen", f"127.0.0.1:{port}", "--once",
                       "--delay", "1.5", "--linger", "2"], stdout=subprocess.PIPE, text=True)
        assert serve.stdout.readline().startswith("listening")
        log = open(f"{work}/client.log", "w+")
        client = spawn(client_args(port), env=venv, stdout=subprocess.DEVNULL, stderr=log)
        before = xbefore = at_close = started = None
        consumed = None
        deadline = time.time() + 120
        for line in serve.stdout:
            if "streaming updates" in line:
                before, xbefore = cpu_of(client.pid), cpu_of(xvfb.pid)
                started = time.time()
            m = re.search(r"consumed: ([0-9.]+) s", line)
            if m:
                consumed = float(m.group(1))
                # porthole-vnc capture closes once it has every update, then
                # encodes its PNG: count its CPU up to the close.
                at_close = cpu_of(client.pid)
            if time.time() > deadline:
                break
        serve.wait()
        # serve has closed the connection: the viewer exits (or is stopped).
        usage = reap(client, 10)
        xafter = cpu_of(xvfb.pid)
        log.seek(0)
        painted = re.search(r"last frame painted at ([0-9.]+)", log.read())
        log.close()
        drawn = float(painted.group(1)) - started if painted and started else None
        if before is None or usage is None:
            return None, None, consumed, drawn
        cpu = usage.ru_utime + usage.ru_stime - before
        if client_args(port)[0] == binary and at_close is not None:
            cpu = at_close - before
        xcpu = None if xafter is None or xbefore is None else xafter - xbefore
        return cpu, xcpu, consumed, drawn

    def reap(p, timeout):
        """Waits for p (stopping it after timeout s); returns its rusage."""
        deadline = time.time() + timeout
        stopped = False
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                p.returncode = status
                return usage
            if time.time() > deadline:
                p.kill() if stopped else p.terminate()
                stopped, deadline = True, time.time() + 5
            time.sleep(0.02)

    keep = os.environ.get("COMPARE_KEEP")
    repeat = int(os.environ.get("COMPARE_REPEAT", "3"))
    rows = []
    for name, _ in encodings:
        path = f"{work}/{name}.fbs"
        if keep:
            os.makedirs(keep, exist_ok=True)
            shutil.copy(path, keep)
        bench = subprocess.run([binary, "replay", path, "--bench"], capture_output=True,
                               text=True, check=True).stdout
        field = lambda key: re.search(rf"^{key}: ([0-9.]+)", bench, re.M).group(1)
        frames, mp, cpu = int(field("frames")), float(field("megapixels")), float(field("cpu"))
        size = os.path.getsize(path) / 1e6
        clients = {
            "porthole": lambda p: [binary, "capture", f"127.0.0.1::{p}", f"{work}/last.png",
                                   "--updates", str(frames), "--timeout", "100"],
            "widget": lambda p: [gvnc, "--one-to-one", "--sharp", "--exit-on-disconnect",
                                 f"127.0.0.1::{p}"],
            "tigervnc": lambda p: ["vncviewer", "-SecurityTypes", "None", "-AutoSelect=0",
                                   "-FullColor=1", f"127.0.0.1::{p}"],
            "gtk-vnc": lambda p: ["gvncviewer", f"127.0.0.1:{p - 5900}"],
        }
        results = {}
        for client, args in clients.items():
            # The median run by CPU: the machine may be busy with other work.
            runs = [play(path, args) for _ in range(repeat)]
            runs.sort(key=lambda r: float("inf") if r[0] is None else r[0])
            results[client] = runs[len(runs) // 2]
        rows.append((name, size, frames, mp, cpu, results))

    def fmt(r):
        cpu, xcpu, consumed, drawn = r
        c = "?" if cpu is None else f"{cpu:.3f}"
        x = "" if xcpu is None else f" +X {xcpu:.2f}"
        w = "?" if consumed is None else f"{consumed:.3f}"
        d = "" if drawn is None else f" (drawn {drawn:.3f})"
        return f"{c}{x} / {w}{d}"

    print()
    print("CPU seconds / wall seconds to consume each recording (1920x1080 slideshow;"
          " +X = the Xvfb server's CPU while the viewer drew)")
    print()
    print("| encoding | MB | updates | MP | porthole replay CPU s (MP/s) | porthole-vnc capture via serve | porthole VncDisplay (gvnc) | TigerVNC vncviewer 1.12 | gvncviewer (gtk-vnc 1.3) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, size, frames, mp, cpu, results in rows:
        print(f"| {name} | {size:.1f} | {frames} | {mp:.1f} | {cpu:.3f} ({mp / max(cpu, 1e-9):.0f}) | "
              f"{fmt(results['porthole'])} | {fmt(results['widget'])} | {fmt(results['tigervnc'])} | "
              f"{fmt(results['gtk-vnc'])} |")
finally:
    cleanup()
PYTHON
