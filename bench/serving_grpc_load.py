"""gRPC load for bench/serving.py: a closed loop of ModelInfer calls, like wrk for REST.

A small Go program on google.golang.org/grpc (fetched through the Go module proxy on its first build, then
cached under .cache/bench-go). It sends one prebuilt, serialized ModelInferRequest with a pass-through codec,
so the client spends nothing on protobuf and the measured cost is the server's.
"""

import json
import shutil
import subprocess
from pathlib import Path

from serving_load import Peak, pinned

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench-go"

GRPC_LOAD_GO = r'''
// Closed-loop gRPC load: `concurrency` calls in flight over `connections` HTTP/2 connections, for `seconds`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
)

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *(v.(*[]byte)) = append([]byte(nil), data...); return nil }
func (rawCodec) Name() string                       { return "raw" }

func main() {
	target := flag.String("target", "127.0.0.1:8104", "")
	bodyFile := flag.String("body", "", "a serialized ModelInferRequest")
	seconds := flag.Float64("seconds", 10, "")
	conns := flag.Int("connections", 2, "HTTP/2 connections")
	concurrency := flag.Int("concurrency", 16, "calls in flight")
	flag.Parse()
	encoding.RegisterCodec(rawCodec{})
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		panic(err)
	}
	channels := make([]*grpc.ClientConn, *conns)
	for i := range channels {
		channels[i], err = grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(1<<30),
				grpc.MaxCallSendMsgSize(1<<30)))
		if err != nil {
			panic(err)
		}
	}
	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	var ok, failed atomic.Int64
	var mu sync.Mutex
	latencies := []float64{}
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < *concurrency; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			conn := channels[s%len(channels)]
			local := []float64{}
			for time.Now().Before(deadline) {
				var reply []byte
				t := time.Now()
				if err := conn.Invoke(context.Background(), "/inference.GRPCInferenceService/ModelInfer", &body,
					&reply); err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				local = append(local, float64(time.Since(t).Microseconds())/1000.0)
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sort.Float64s(latencies)
	q := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(p*float64(len(latencies)-1))]
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"rps": float64(ok.Load()) / elapsed, "errors": failed.Load(),
		"p50_ms": q(0.5), "p99_ms": q(0.99)})
}
'''
GO_MOD = "module grpcload\n\ngo 1.22\n\nrequire google.golang.org/grpc v1.70.0\n"


def build_grpc_load() -> Path:
    """Compile once into .cache/bench-go (the module download happens on the first build only)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    binary = CACHE / "grpcload"
    source = CACHE / "main.go"
    if binary.exists() and source.exists() and source.read_text() == GRPC_LOAD_GO:
        return binary
    source.write_text(GRPC_LOAD_GO)
    (CACHE / "go.mod").write_text(GO_MOD)
    go = shutil.which("go") or "/usr/local/go/bin/go"
    env = {"GOCACHE": str(CACHE / "gocache"), "GOPATH": str(CACHE / "gopath"), "PATH": "/usr/bin:/bin",
           "HOME": str(CACHE)}
    subprocess.run([go, "mod", "tidy"], check=True, cwd=CACHE, env=env, capture_output=True)
    subprocess.run([go, "build", "-o", str(binary), "."], check=True, cwd=CACHE, env=env)
    return binary


def grpc_peak(binary: Path, target: str, body_file: Path, seconds: int, connections: int = 2,
              concurrency: int = 16, cpus: str | None = None) -> Peak:
    command = [str(binary), "-target", target, "-body", str(body_file), "-seconds", str(seconds),
               "-connections", str(connections), "-concurrency", str(concurrency)]
    out = json.loads(subprocess.run(pinned(command, cpus), capture_output=True, text=True, check=True).stdout)
    return Peak(out["rps"], int(out["errors"]))
