"""Load for bench/serving.py: wrk (closed loop) for peak throughput, a Go open-loop generator for latency.

wrk keeps N connections busy, so it finds the peak but hides queueing: a slow answer delays the next
request. The open-loop generator sends at a fixed rate whatever happens and measures each latency from the
moment the request was due, so queueing shows up in p99 (no coordinated omission).
"""

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPEN_LOOP_GO = r'''
// Open-loop load: requests are released at a fixed rate whatever the server does; each latency is measured
// from the moment its request was released, so a server that falls behind shows it in p99. Raw keep-alive TCP
// connections with a prebuilt request keep the generator's own CPU cost far below the server's.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	target := flag.String("url", "", "")
	bodyFile := flag.String("body", "", "")
	rate := flag.Float64("rate", 1000, "requests per second")
	seconds := flag.Float64("seconds", 10, "")
	conns := flag.Int("connections", 64, "most requests in flight")
	traceFile := flag.String("trace", "", "write 'released_ms latency_ms' per answered request here")
	flag.Parse()
	body, _ := os.ReadFile(*bodyFile)
	u, _ := url.Parse(*target)
	request := []byte(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n%s", u.Path, u.Host, len(body), body))
	total := int(*rate * *seconds)
	start := time.Now()
	due := make(chan time.Time, total)
	latencies := make([]float64, 0, total)
	trace := make([][2]float64, 0, total)
	errors := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conn net.Conn
			var reader *bufio.Reader
			for when := range due {
				ok := false
				for attempt := 0; attempt < 2 && !ok; attempt++ {
					if conn == nil {
						var err error
						if conn, err = net.Dial("tcp", u.Host); err != nil {
							conn = nil
							continue
						}
						reader = bufio.NewReaderSize(conn, 65536)
					}
					ok = roundTrip(conn, reader, request)
					if !ok {
						conn.Close()
						conn = nil
					}
				}
				elapsed := float64(time.Since(when).Microseconds()) / 1000.0
				mu.Lock()
				if ok {
					latencies = append(latencies, elapsed)
					trace = append(trace, [2]float64{float64(when.Sub(start).Microseconds()) / 1000.0, elapsed})
				} else {
					errors++
				}
				mu.Unlock()
			}
			if conn != nil {
				conn.Close()
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / *rate)
	start = time.Now()
	for i := 0; i < total; i++ {
		when := start.Add(time.Duration(i) * interval)
		if d := time.Until(when); d > 0 {
			time.Sleep(d)
		}
		// The clock starts when the request is released, not at its nominal slot: a late wake-up of this
		// loop is the generator's delay, not the server's. Waiting for a free connection still counts.
		due <- time.Now()
	}
	close(due)
	wg.Wait()
	if *traceFile != "" {
		out, _ := os.Create(*traceFile)
		for _, t := range trace {
			fmt.Fprintf(out, "%.3f %.3f\n", t[0], t[1])
		}
		out.Close()
	}
	sort.Float64s(latencies)
	q := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(p*float64(len(latencies)-1))]
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"sent": total, "errors": errors,
		"p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": q(1.0), "seconds": time.Since(start).Seconds()})
}

// roundTrip writes one request and reads one response; true when the status is 200.
func roundTrip(conn net.Conn, reader *bufio.Reader, request []byte) bool {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(request); err != nil {
		return false
	}
	status, err := reader.ReadString('\n')
	if err != nil {
		return false
	}
	length := -1
	for {
		line, err := reader.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			break
		}
		if name, value, found := strings.Cut(line, ":"); found && strings.EqualFold(name, "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
	if length < 0 {
		return false // chunked answers are not expected from these servers
	}
	if _, err := io.CopyN(io.Discard, reader, int64(length)); err != nil {
		return false
	}
	return strings.Contains(status, " 200 ")
}
'''

WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "{content_type}"
wrk.body = io.open("{body}", "rb"):read("*a")
"""


@dataclass
class Peak:
    rps: float
    errors: int


def build_open_loop(workdir: Path) -> Path:
    """Compile the generator once (Go standard library only: no module downloads)."""
    source = workdir / "openloop" / "main.go"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(OPEN_LOOP_GO)
    binary = workdir / "openloop" / "openloop"
    go = shutil.which("go") or "/usr/local/go/bin/go"
    subprocess.run([go, "build", "-o", str(binary), str(source)], check=True, cwd=source.parent,
                   env={"GOCACHE": str(workdir / "gocache"), "GOPATH": str(workdir / "gopath"),
                        "GO111MODULE": "off", "PATH": "/usr/bin:/bin"})
    return binary


def pinned(command: list[str], cpus: str | None) -> list[str]:
    """`command` confined to `cpus` (taskset: children inherit it); unchanged when cpus is None."""
    return ["taskset", "-c", cpus, *command] if cpus else command


def wrk_peak(url: str, body_file: Path, seconds: int, connections: int, threads: int = 2,
             cpus: str | None = None) -> Peak:
    """Peak req/s with wrk. A body file `x.bin` beside `x.header` (its JSON length) is sent with Triton's
    binary extension: Inference-Header-Content-Length."""
    script = body_file.with_name(body_file.name + ".lua")
    lua = WRK_SCRIPT.format(body=body_file, content_type="application/json")
    header = body_file.with_suffix(".header")
    if body_file.suffix == ".bin":
        lua = WRK_SCRIPT.format(body=body_file, content_type="application/octet-stream")
        lua += f'wrk.headers["Inference-Header-Content-Length"] = "{header.read_text().strip()}"\n'
    script.write_text(lua)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(pinned(command, cpus),
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return Peak(rps, errors)


def open_loop(binary: Path, url: str, body_file: Path, rate: float, seconds: float, cpus: str | None = None,
              trace: Path | None = None) -> dict:
    """p50/p99/max of an open-loop run; with `trace`, every answered request's release time and latency too."""
    command = [str(binary), "-url", url, "-body", str(body_file), "-rate", f"{rate:.0f}", "-seconds", str(seconds)]
    if trace is not None:
        command += ["-trace", str(trace)]
    out = subprocess.run(pinned(command, cpus),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def server_cpu_seconds(port: int) -> float:
    """CPU time (user + system) so far of the process listening on `port` and its children."""
    listing = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    pids = set(re.findall(r"pid=(\d+)", listing))
    for pid in list(pids):
        pids |= set(subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split())
    ticks = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")
